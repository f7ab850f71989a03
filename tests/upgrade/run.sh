#!/usr/bin/env bash
# Upgrade and schema checks, on a throwaway cluster owned by the unprivileged user postgres:
#  1. the install script the build generates equals the newest sql/pg_embed--<version>.sql
#     (a changed function needs its upgrade step written, and that file updated);
#  2. a database at 0.1.0 (the frozen sql/pg_embed--0.1.0.sql), used the way a user would
#     (tests/upgrade/use.sql), is updated with ALTER EXTENSION pg_embed UPDATE: the user's rows,
#     vectors, triggers and indexes are unchanged (tests/upgrade/user_objects.sql), and the
#     extension's objects equal a fresh install's (tests/upgrade/catalog.sql), compared as text;
#  3. what the upgrade brings works on the upgraded database.
# Prints "N passed, M failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/cluster.sh"
cd "$PGE_ROOT"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
dir=$(test_dir upgrade)
port=$(free_port)
trap 'remove_clusters "$dir"' EXIT
q() { local db=$1; shift; psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@" 2>&1; }

# 1. The generated install script is the committed one.
generated=${PGE_PACKAGE:-$PGE_HOME/package}/$($PG_CONFIG --sharedir)/extension/pg_embed--$version.sql
# The statements, block by block, ignoring source positions and the order of independent blocks
# (the generator orders them by their dependencies only).
norm() {
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.split(r"/\* <begin connected objects> \*/", text)
norm = sorted("\n".join(l for l in b.splitlines() if not l.startswith("-- src/")).strip() for b in blocks)
print("\n\n".join(norm))
PY
}
if [ ! -f "sql/pg_embed--$version.sql" ]; then
  bad "sql/pg_embed--$version.sql exists (copy it from $generated)"
elif [ ! -f "$generated" ]; then
  bad "the build's install script is at $generated (run scripts/install.sh first)"
elif d=$(diff <(norm "sql/pg_embed--$version.sql") <(norm "$generated")); then
  ok "the generated install script equals sql/pg_embed--$version.sql"
else
  bad "the generated install script differs from sql/pg_embed--$version.sql: write the upgrade step, then copy it" "$d"
fi

start_cluster "$dir/data" "$port" || exit 1
cp "$here"/*.sql "$dir"/ && chown postgres: "$dir"/*.sql

# 2. 0.1.0, used, then updated.
q postgres -c "CREATE DATABASE old" -c "CREATE DATABASE fresh" >/dev/null
q old -v ON_ERROR_STOP=1 -c "CREATE EXTENSION vector" -c "CREATE EXTENSION pg_embed VERSION '0.1.0'" >/dev/null || bad "CREATE EXTENSION pg_embed VERSION '0.1.0'"
out=$(q old -f "$dir/use.sql")
if printf '%s' "$out" | grep -q "ERROR" && ! printf '%s' "$out" | grep -q "text has more than 256 tokens"; then
  bad "using 0.1.0" "$out"
else
  ok "0.1.0 in use: triggers, provenance, a user model, a projection, pins, cache rows, backfills, an expression index and a generated column"
fi
before=$(q old -f "$dir/user_objects.sql")
update=$(q old -c "ALTER EXTENSION pg_embed UPDATE")
if [ "$(q old -At -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_embed'")" = "$version" ]; then
  ok "ALTER EXTENSION pg_embed UPDATE reached $version"
else
  bad "ALTER EXTENSION pg_embed UPDATE" "$update"
fi
if printf '%s' "$update" | grep -q "WARNING:  pg_embed 0.2.0: embed(text, text) is now STABLE; these objects still use it: generated column docs.emb_gen; index docs_expr"; then
  ok "the update names the index and the generated column still using embed(text, text)"
else
  bad "the update's warning about objects using embed(text, text)" "$update"
fi
after=$(q old -f "$dir/user_objects.sql")
if [ "$before" = "$after" ]; then ok "the user's rows, vectors, triggers, indexes and pg_embed's data are unchanged"
else bad "the user's objects changed in the update" "$(diff <(echo "$before") <(echo "$after"))"; fi
q fresh -v ON_ERROR_STOP=1 -c "CREATE EXTENSION vector" -c "CREATE EXTENSION pg_embed" >/dev/null
upgraded_listing=$(q old -f "$dir/catalog.sql"); fresh_listing=$(q fresh -f "$dir/catalog.sql")
if printf '%s\n%s' "$upgraded_listing" "$fresh_listing" | grep -q "ERROR"; then
  bad "the catalog listing runs" "$upgraded_listing"
elif d=$(diff <(echo "$upgraded_listing") <(echo "$fresh_listing")); then
  ok "the upgraded extension's objects equal a fresh $version install ($(echo "$fresh_listing" | wc -l) lines compared)"
else
  bad "the upgraded extension differs from a fresh install (< upgraded, > fresh)" "$d"
fi

# 3. What 0.2.0 brings works on the upgraded database.
check_sql() {  # name, expected pattern, SQL
  check "$1" "$2" "$(q old -At -c "$3")"
}
check_sql "embed_fixed equals the generated column's vectors" '^t$' \
  "SELECT bool_and(embed_fixed(body, 'all-MiniLM-L6-v2', 'fp32') = emb_gen) FROM docs"
got=$(q old -At -c "SET client_min_messages = warning" -c "CALL pg_embed_backfill('bf_broken', 'body', 'embedding', chunk_size => 10)" \
  -c "SELECT finished, (SELECT count(*) FROM bf_broken WHERE embedding IS NULL) FROM pg_embed_backfills WHERE relation = 'bf_broken'::regclass")
if [ "$got" = "t|0" ]; then ok "the interrupted backfill resumes and finishes"; else bad "the interrupted backfill resumes and finishes" "$got"; fi
check_sql "the old progress rows are kept" '^t$' "SELECT finished FROM pg_embed_backfills WHERE relation = 'bf'::regclass"
check_sql "pg_embed_cache_store writes the deduplicated table" '^1$' \
  "SELECT pg_embed_cache_store('all-MiniLM-L6-v2', ARRAY['a text stored after the upgrade'])"
check_sql "routing keeps the pins" '^all-MiniLM-L6-v2$' "SELECT pg_embed_role_model('code')"
check_sql "embed is STABLE now, embed_fixed IMMUTABLE" '^s,i$' \
  "SELECT string_agg(provolatile::text, ',' ORDER BY proname) FROM pg_proc WHERE proname IN ('embed', 'embed_fixed')"
check_logs "$dir"
finish
