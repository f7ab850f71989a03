#!/usr/bin/env bash
# Citus 13.2.2 for the system PostgreSQL 15, built from the vendored source (no package registry
# carries Citus for Debian 12). Idempotent: the build is kept in $PGE_HOME/citus/stage (keyed by
# the source's and the patch's SHA-256) and only copied into PostgreSQL's folders when they lack
# it. Run as root. The source is looked for in $PGE_VENDOR, then ../shared/vendor beside the
# repository. Exits 3 (and says so) when the source is not on this machine.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PGE_ROOT"

CITUS_VERSION=13.2.2
tarball_sha=dd2453caec20a830e5e63f1def5c5a98cb6f57ae510407cdcd800916fcdab430
patch_sha=38993a5d92a7080726ae3d8bfb2ab6cacb001ec0bc6cf36132d1670e53890203
vendor=${PGE_VENDOR:-$PGE_ROOT/../shared/vendor}
tarball=$vendor/citus-$CITUS_VERSION.tar.gz
patchfile=$vendor/citus-$CITUS_VERSION-pg15.20.patch
if [ ! -f "$tarball" ] || [ ! -f "$patchfile" ]; then
  echo "Citus source not found: $tarball (set PGE_VENDOR to the folder that holds it)" >&2
  exit 3
fi
echo "$tarball_sha  $tarball" | sha256sum -c --quiet - || { echo "$tarball: SHA-256 mismatch" >&2; exit 1; }
echo "$patch_sha  $patchfile" | sha256sum -c --quiet - || { echo "$patchfile: SHA-256 mismatch" >&2; exit 1; }

home=$PGE_HOME/citus
stage=$home/stage
key="$CITUS_VERSION ${tarball_sha:0:16} ${patch_sha:0:16} $($PG_CONFIG --version)"

step "Citus $CITUS_VERSION for PostgreSQL $PG_MAJOR"
# PostgreSQL's libpq-be.h includes gssapi/gssapi.h; columnar needs lz4 and zstd. No libcurl: no
# statistics reporting.
if ! dpkg -s libkrb5-dev liblz4-dev libzstd-dev >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libkrb5-dev liblz4-dev libzstd-dev >/dev/null
fi
if [ "$(cat "$home/built" 2>/dev/null)" != "$key" ]; then
  rm -rf "$home" && mkdir -p "$home/src" "$stage"
  tar -xzf "$tarball" -C "$home/src" --strip-components=1
  (cd "$home/src" && patch -p0 -s < "$patchfile" \
     && ./configure -q PG_CONFIG="$PG_CONFIG" --without-libcurl >/dev/null \
     && make -s -j"$(nproc)" >/dev/null 2>"$home/build.log" \
     && make -s install DESTDIR="$stage" >/dev/null)
  rm -rf "$home/src"
  echo "$key" > "$home/built"
fi
# Copy what PostgreSQL lacks (or has in another version), each file replaced by rename.
while IFS= read -r -d '' f; do
  dst=/${f#"$stage"/}
  if ! cmp -s "$f" "$dst"; then mkdir -p "$(dirname "$dst")"; cp "$f" "$dst.new" && mv -f "$dst.new" "$dst"; fi
done < <(find "$stage" -type f -print0)
echo "ok: $(ls "$($PG_CONFIG --pkglibdir)"/citus.so)"
