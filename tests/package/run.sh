#!/usr/bin/env bash
# Builds the Debian package (scripts/package.sh), installs it with dpkg on this machine, and
# creates the extension from what the package installed, on a throwaway cluster: a fresh
# CREATE EXTENSION, and 0.1.0 updated with ALTER EXTENSION (the package carries every script).
# Afterwards the package is removed and the build installed again (scripts/install.sh, or
# PGE_REINSTALL), as the other tests expect. The PostgreSQL is the one PG_CONFIG and PG_BIN name.
# Prints "N passed, M failed".
set -uo pipefail
source "$(dirname "$0")/../lib/cluster.sh"
cd "$PGE_ROOT"
deb=$(scripts/package.sh) || { echo "FAILED: scripts/package.sh"; echo "0 passed, 1 failed"; exit 1; }
pkg=$(dpkg-deb -f "$deb" Package)
contents=$(dpkg-deb -c "$deb")
libdir=$($PG_CONFIG --pkglibdir); extdir=$($PG_CONFIG --sharedir)/extension
for f in "$libdir/pg_embed.so" "$extdir/pg_embed.control" \
         $(cd sql && ls pg_embed--*.sql | sed "s|^|$extdir/|"); do
  printf '%s' "$contents" | grep -q " \.$f\$" && ok "the package holds $f" || bad "the package holds $f"
done
dir=$(test_dir package)
port=$(free_port)
cleanup() {
  remove_clusters "$dir"
  dpkg -r "$pkg" >/dev/null 2>&1
  ${PGE_REINSTALL:-scripts/install.sh} >/dev/null
}
trap cleanup EXIT
out=$(dpkg -i "$deb" 2>&1) && ok "dpkg -i $(basename "$deb")" || bad "dpkg -i" "$out"
dpkg -s "$pkg" 2>/dev/null | grep -q "^Status: install ok installed" && ok "dpkg knows $pkg as installed" || bad "dpkg status of $pkg"
start_cluster "$dir/data" "$port"
q() { psql -X -At -q -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@" 2>&1; }
got=$(q -c "SET client_min_messages = warning" -c "CREATE EXTENSION pg_embed CASCADE" -c "SELECT vector_dims(embed_doc('installed from the package'))")
[ "$got" = 384 ] && ok "CREATE EXTENSION from the package embeds" || bad "CREATE EXTENSION from the package" "$got"
got=$(q -c "DROP EXTENSION pg_embed" -c "CREATE EXTENSION pg_embed VERSION '0.1.0'" -c "ALTER EXTENSION pg_embed UPDATE" \
        -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_embed'")
[ "$got" = "$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)" ] && ok "0.1.0 from the package updates to the current version" || bad "ALTER EXTENSION from the package" "$got"
out=$(dpkg -r "$pkg" 2>&1) && [ ! -e "$($PG_CONFIG --pkglibdir)/pg_embed.so" ] && ok "dpkg -r removes the library" || bad "dpkg -r" "$out"
finish
