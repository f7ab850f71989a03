# Shared settings for the project's scripts. Sourced, never run.
# Everything the set-up installs that is not a system package lives under $PGE_HOME.
PGE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PGE_ROOT
export PGE_HOME=${PGE_HOME:-/var/lib/pg_embed-dev}
export PG_MAJOR=${PG_MAJOR:-15}
# PG_BIN and PG_CONFIG may be given (scripts/pg18.sh points them at PostgreSQL 18 for tests/upgrade).
export PG_BIN=${PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
export PG_CONFIG=${PG_CONFIG:-$PG_BIN/pg_config}
export PGRX_HOME=${PGRX_HOME:-$HOME/.pgrx}
export PGRX_VERSION=0.18.1
export ORT_VERSION=1.31.1
export ORT_LIB=$PGE_HOME/onnxruntime/libonnxruntime.so.$ORT_VERSION
export MODEL_DIR=$PGE_HOME/models
export VENV=$PGE_HOME/venv
# The dev/demo cluster: owned by the unprivileged user postgres, loopback only.
export PGE_CLUSTER=$PGE_HOME/cluster
export PGE_PORT=${PGE_PORT:-25432}
export PATH=$HOME/.cargo/bin:$PATH
step() { printf '\n==> %s\n' "$*"; }
