#!/usr/bin/env bash
# Builds pg_embed and installs it into the local PostgreSQL, with the ONNX Runtime path and
# model directory the set-up filled in as the settings' defaults.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PGE_ROOT"
PG_EMBED_DEFAULT_ORT_LIB=$ORT_LIB PG_EMBED_DEFAULT_MODEL_DIR=$MODEL_DIR \
  cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null
echo "ok: pg_embed installed into $($PG_CONFIG --pkglibdir)"
