#!/usr/bin/env bash
# Builds pg_embed (release) and installs it into the local PostgreSQL, with the ONNX Runtime
# path and model directory the set-up filled in baked in as the settings' defaults.
#
# Only files that changed are replaced, each by an atomic rename rather than an overwrite:
# overwriting a shared library that running backends have mapped crashes them (SIGBUS).
# Restart PostgreSQL after installing a changed library.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PGE_ROOT"
log=$PGE_HOME/install.log
pkg=$PGE_HOME/package
rm -rf "$pkg"
if ! PG_EMBED_DEFAULT_ORT_LIB=$ORT_LIB PG_EMBED_DEFAULT_MODEL_DIR=$MODEL_DIR \
     cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$pkg" >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "install failed; full log: $log" >&2
  exit 1
fi
changed=0
while IFS= read -r -d '' f; do
  dst=/${f#"$pkg"/}
  if ! cmp -s "$f" "$dst"; then
    mkdir -p "$(dirname "$dst")"
    cp "$f" "$dst.new" && mv -f "$dst.new" "$dst"
    changed=$((changed + 1))
  fi
done < <(find "$pkg" -type f -print0)
# The released install scripts and the upgrade scripts (sql/), which the build does not make:
# PostgreSQL needs them to create an older version or to ALTER EXTENSION ... UPDATE.
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
extdir=$($PG_CONFIG --sharedir)/extension
for f in sql/pg_embed--*.sql; do
  [ "$(basename "$f")" = "pg_embed--$version.sql" ] && continue   # the build's own, checked by tests/upgrade
  if ! cmp -s "$f" "$extdir/$(basename "$f")"; then
    cp "$f" "$extdir/$(basename "$f").new" && mv -f "$extdir/$(basename "$f").new" "$extdir/$(basename "$f")"
    changed=$((changed + 1))
  fi
done
echo "ok: pg_embed $version installed into $($PG_CONFIG --pkglibdir) ($changed files changed)"
