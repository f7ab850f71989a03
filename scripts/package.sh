#!/usr/bin/env bash
# Builds a Debian package of pg_embed for the PostgreSQL that PG_CONFIG names (the set-up's
# PostgreSQL 15 by default; scripts/pg18.sh points it at PostgreSQL 18):
# postgresql-<major>-pg-embed_<version>-1_amd64.deb in $PGE_HOME/dist, with the library in
# pg_config's pkglibdir and the control file and every install and upgrade script in its
# sharedir/extension: for Debian's PostgreSQL, /usr/lib/postgresql/<major>/lib and
# /usr/share/postgresql/<major>/extension, as Debian's own extension packages are laid out.
# The package depends on postgresql-<major> only when PG_CONFIG is Debian's (a relocatable
# PostgreSQL, as the PostgreSQL 18 used here, is not a Debian package).
# PGE_CARGO_FEATURES: cargo features for the build (default: pg15's).
#
# The library's defaults for pg_embed.onnxruntime_library and pg_embed.model_dir are the paths
# given at build time (PG_EMBED_DEFAULT_ORT_LIB, PG_EMBED_DEFAULT_MODEL_DIR; the set-up's own
# by default); on another machine set them in postgresql.conf. ONNX Runtime and the models are
# not in the package.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PGE_ROOT"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
major=$("$PG_CONFIG" --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
name=postgresql-$major-pg-embed
stage=$PGE_HOME/dist/$name
rm -rf "$stage" && mkdir -p "$stage"
PG_EMBED_DEFAULT_ORT_LIB=${PG_EMBED_DEFAULT_ORT_LIB:-$ORT_LIB} PG_EMBED_DEFAULT_MODEL_DIR=${PG_EMBED_DEFAULT_MODEL_DIR:-$MODEL_DIR} \
  cargo pgrx package --pg-config "$PG_CONFIG" ${PGE_CARGO_FEATURES:-} --out-dir "$stage" >"$PGE_HOME/dist/package.log" 2>&1 \
  || { tail -n 30 "$PGE_HOME/dist/package.log" >&2; exit 1; }
extdir=$stage$($PG_CONFIG --sharedir)/extension
for f in sql/pg_embed--*.sql; do
  [ "$(basename "$f")" = "pg_embed--$version.sql" ] || install -m 644 "$f" "$extdir/"
done
mkdir -p "$stage/DEBIAN" "$stage/usr/share/doc/$name"
install -m 644 README.md "$stage/usr/share/doc/$name/README.md"
size=$(du -sk "$stage" | cut -f1)
depends=libc6
if [ "$PG_CONFIG" = "/usr/lib/postgresql/$major/bin/pg_config" ]; then depends="postgresql-$major, $depends"; fi
cat > "$stage/DEBIAN/control" <<CONTROL
Package: $name
Version: $version-1
Architecture: $(dpkg --print-architecture)
Maintainer: pg_embed developers <pg-embed@localhost>
Section: database
Priority: optional
Installed-Size: $size
Depends: $depends
Description: embeddings inside PostgreSQL with local ONNX models
 pg_embed embeds text and source code with local ONNX models (all-MiniLM-L6-v2 and others)
 inside the database and returns pgvector vectors. It needs pgvector, the ONNX Runtime
 shared library (1.31 or later) and model files, which are not part of this package.
CONTROL
find "$stage" -type d -exec chmod 755 {} +
out=$PGE_HOME/dist/${name}_${version}-1_$(dpkg --print-architecture).deb
dpkg-deb --root-owner-group --build "$stage" "$out" >/dev/null
echo "$out"
