#!/usr/bin/env bash
# Builds pgvector from Debian's source package (trixie has it; bookworm does not) against the
# local PostgreSQL, with a private apt configuration so the system's sources stay untouched.
set -euo pipefail
source "$(dirname "$0")/env.sh"

work=$PGE_HOME/pgvector-src
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
# Reuse the mirror the system already uses; only the suite and type differ.
uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -z "$uri" ]; then
  uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
[ -n "$uri" ] || { echo "cannot find the system's Debian mirror in /etc/apt" >&2; exit 1; }
cat > "$work/trixie-src.sources" <<SRC
Types: deb-src
URIs: $uri
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt_opts=(-o "Dir::Etc::SourceList=$work/trixie-src.sources" -o Dir::Etc::SourceParts=/nonexistent
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update -qq
cd "$work"
rm -rf pgvector-*/
apt-get "${apt_opts[@]}" source -qq pgvector >/dev/null
src=$(ls -d pgvector-*/ | head -n1)
make -s -C "$src" PG_CONFIG="$PG_CONFIG" >/dev/null
make -s -C "$src" PG_CONFIG="$PG_CONFIG" install >/dev/null
echo "ok: pgvector $(basename "$src") installed"
