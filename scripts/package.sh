#!/usr/bin/env bash
# Builds a Debian package of pg_embed for the PostgreSQL major the set-up uses (PG_MAJOR):
# postgresql-<major>-pg-embed_<version>-1_amd64.deb in $PGE_HOME/dist, laid out as Debian's own
# PostgreSQL extension packages are (library in /usr/lib/postgresql/<major>/lib, control file
# and every install and upgrade script in /usr/share/postgresql/<major>/extension).
#
# The library's defaults for pg_embed.onnxruntime_library and pg_embed.model_dir are the paths
# given at build time (PG_EMBED_DEFAULT_ORT_LIB, PG_EMBED_DEFAULT_MODEL_DIR; the set-up's own
# by default); on another machine set them in postgresql.conf. ONNX Runtime and the models are
# not in the package.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PGE_ROOT"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
name=postgresql-$PG_MAJOR-pg-embed
stage=$PGE_HOME/dist/$name
rm -rf "$stage" && mkdir -p "$stage"
PG_EMBED_DEFAULT_ORT_LIB=${PG_EMBED_DEFAULT_ORT_LIB:-$ORT_LIB} PG_EMBED_DEFAULT_MODEL_DIR=${PG_EMBED_DEFAULT_MODEL_DIR:-$MODEL_DIR} \
  cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$stage" >"$PGE_HOME/dist/package.log" 2>&1 \
  || { tail -n 30 "$PGE_HOME/dist/package.log" >&2; exit 1; }
extdir=$stage$($PG_CONFIG --sharedir)/extension
for f in sql/pg_embed--*.sql; do
  [ "$(basename "$f")" = "pg_embed--$version.sql" ] || install -m 644 "$f" "$extdir/"
done
mkdir -p "$stage/DEBIAN" "$stage/usr/share/doc/$name"
install -m 644 README.md "$stage/usr/share/doc/$name/README.md"
size=$(du -sk "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: $name
Version: $version-1
Architecture: $(dpkg --print-architecture)
Maintainer: pg_embed developers <pg-embed@localhost>
Section: database
Priority: optional
Installed-Size: $size
Depends: postgresql-$PG_MAJOR, libc6
Description: embeddings inside PostgreSQL with local ONNX models
 pg_embed embeds text and source code with local ONNX models (all-MiniLM-L6-v2 and others)
 inside the database and returns pgvector vectors. It needs pgvector, the ONNX Runtime
 shared library (1.31 or later) and model files, which are not part of this package.
CONTROL
find "$stage" -type d -exec chmod 755 {} +
out=$PGE_HOME/dist/${name}_${version}-1_$(dpkg --print-architecture).deb
dpkg-deb --root-owner-group --build "$stage" "$out" >/dev/null
echo "$out"
