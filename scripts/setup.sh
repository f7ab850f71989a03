#!/usr/bin/env bash
# Idempotent set-up of everything pg_embed needs on a fresh Debian 12 machine (run as root).
# Each step checks whether its result is already there and skips itself if so.
#   setup.sh              everything, ending with the dev cluster running
#   setup.sh --no-cluster everything but the dev cluster (the tests start their own)
set -euo pipefail
source "$(dirname "$0")/env.sh"

need_root() { [ "$(id -u)" = 0 ] || { echo "setup.sh must run as root" >&2; exit 1; }; }
need_root
mkdir -p "$PGE_HOME"
chmod 755 "$PGE_HOME"

step "Debian packages"
pkgs=(postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR libclang-dev clang sudo dpkg-dev unzip python3-venv python3.11-doc)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "ok: ${pkgs[*]}"

step "pgvector (Debian source package, built against PostgreSQL $PG_MAJOR)"
if [ -f "$($PG_CONFIG --sharedir)/extension/vector.control" ]; then
  echo "ok: already installed"
else
  "$PGE_ROOT/scripts/build-pgvector.sh"
fi

step "cargo-pgrx $PGRX_VERSION"
if cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
  echo "ok: $(cargo pgrx --version)"
else
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi
if [ ! -f "$PGRX_HOME/config.toml" ] || ! grep -q "pg$PG_MAJOR" "$PGRX_HOME/config.toml"; then
  cargo pgrx init --pg$PG_MAJOR "$PG_CONFIG"
fi

step "Python tools (model preparation and reference embeddings)"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import onnxruntime, onnx, numpy, tokenizers' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "onnxruntime==$ORT_VERSION" "onnx==1.23.2" "numpy==2.4.6" "tokenizers==0.23.3" "psycopg[binary]==3.3.9"
fi
echo "ok: $VENV"

step "ONNX Runtime $ORT_VERSION shared library"
if [ -f "$ORT_LIB" ]; then
  echo "ok: $ORT_LIB"
else
  tmp=$(mktemp -d)
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.11 --platform manylinux_2_28_x86_64 "onnxruntime==$ORT_VERSION" -d "$tmp"
  mkdir -p "$(dirname "$ORT_LIB")"
  unzip -q -j -o "$tmp"/onnxruntime-*.whl "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION" -d "$(dirname "$ORT_LIB")"
  rm -rf "$tmp"
  echo "ok: $ORT_LIB"
fi

step "model files"
"$PGE_ROOT/scripts/fetch-models.sh"

step "build and install pg_embed"
"$PGE_ROOT/scripts/install.sh"

[ "${1:-}" = --no-cluster ] && { echo "set-up complete (no dev cluster)"; exit 0; }

step "dev cluster"
"$PGE_ROOT/scripts/cluster.sh" start
"$PGE_ROOT/scripts/cluster.sh" psql -q -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS vector; CREATE EXTENSION IF NOT EXISTS pg_embed;"
echo "set-up complete"
