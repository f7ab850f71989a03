#!/usr/bin/env bash
# Builds pg_embed (release) and installs it into the local PostgreSQL, with the ONNX Runtime
# path and model directory the set-up filled in baked in as the settings' defaults.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PGE_ROOT"
log=$PGE_HOME/install.log
# Overwriting a shared library in place crashes backends that have it mapped (SIGBUS). Move the
# old file aside first: running backends keep their copy, new ones load the new file.
so=$($PG_CONFIG --pkglibdir)/pg_embed.so
if [ -f "$so" ]; then mv -f "$so" "$so.old"; fi
if ! PG_EMBED_DEFAULT_ORT_LIB=$ORT_LIB PG_EMBED_DEFAULT_MODEL_DIR=$MODEL_DIR \
     cargo pgrx install --release --pg-config "$PG_CONFIG" >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "install failed; full log: $log" >&2
  exit 1
fi
echo "ok: pg_embed installed into $($PG_CONFIG --pkglibdir)"
