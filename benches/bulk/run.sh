#!/usr/bin/env bash
# The bulk-embedding benchmark in one command (dev cluster running; see benches/README.md):
#   benches/bulk/run.sh [--rounds N] [--size N] [--no-int8] [--no-profile] [--keep]
# Builds the engine's throughput example, rebuilds the corpus, runs every path, and writes
# benches/bulk/results.json, results.md and chart.png.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../../scripts/env.sh"
cd "$PGE_ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PGE_ROOT/target}

"$PGE_ROOT/scripts/cluster.sh" status >/dev/null || { echo "the dev cluster is not running: scripts/cluster.sh start" >&2; exit 1; }
"$VENV/bin/python" -c 'import matplotlib' 2>/dev/null || "$VENV/bin/pip" install --quiet matplotlib

step "building crates/engine/examples/throughput.rs"
cargo build --quiet --release -p pg_embed_engine --example throughput

step "building the corpus"
"$VENV/bin/python" "$HERE/corpus.py" --out "$HERE/corpus.jsonl"

step "running"
PG_EMBED_MODEL_DIR=$MODEL_DIR PG_EMBED_ORT_LIB=$ORT_LIB \
  "$VENV/bin/python" "$HERE/run.py" --engine "$CARGO_TARGET_DIR/release/examples/throughput" \
  --corpus "$HERE/corpus.jsonl" "$@"
