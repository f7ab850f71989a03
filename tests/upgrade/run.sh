#!/usr/bin/env bash
# Upgrade and schema checks, on a throwaway cluster owned by the unprivileged user postgres:
#  1. the install script the build generates equals the newest sql/pg_embed--<version>.sql
#     (a changed function needs its upgrade step written, and that file updated);
#  2. a database at each released version (0.1.0 to 0.5.0: the frozen sql/ scripts), used the way a
#     user would (tests/upgrade/use.sql), is updated with ALTER EXTENSION pg_embed UPDATE: the user's rows,
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

# 2. Each released version, used, then updated: 0.1.0 (the frozen sql/pg_embed--0.1.0.sql) in
#    database "old", 0.2.0 in "mid", 0.3.0 in "recent", 0.4.0 in "last", 0.5.0 in "latest". The generated column and the expression
#    index use the version's IMMUTABLE embedding function.
q postgres -c "CREATE DATABASE old" -c "CREATE DATABASE mid" -c "CREATE DATABASE recent" -c "CREATE DATABASE last" -c "CREATE DATABASE latest" -c "CREATE DATABASE fresh" >/dev/null
q fresh -v ON_ERROR_STOP=1 -c "CREATE EXTENSION vector" -c "CREATE EXTENSION pg_embed" >/dev/null
fresh_listing=$(q fresh -f "$dir/catalog.sql")
upgrade_from() {  # database, version, the IMMUTABLE call, the warning the update must give (or ""), SQL to run before the update
  local db=$1 from=$2 imm=$3 warning=$4 extra=${5:-} out before update after listing d
  q "$db" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION vector" -c "CREATE EXTENSION pg_embed VERSION '$from'" >/dev/null \
    || bad "CREATE EXTENSION pg_embed VERSION '$from'"
  out=$(q "$db" -v imm="$imm" -f "$dir/use.sql")
  if printf '%s' "$out" | grep -q "ERROR" && ! printf '%s' "$out" | grep -q "text has more than 256 tokens"; then
    bad "using $from" "$out"
  else
    ok "$from in use: triggers, provenance, a user model, a projection, pins, cache rows, backfills, an expression index and a generated column"
  fi
  if [ -n "$extra" ]; then
    out=$(q "$db" -v ON_ERROR_STOP=1 -c "$extra" 2>&1) || bad "using $from: $extra" "$out"
  fi
  before=$(q "$db" -f "$dir/user_objects.sql")
  update=$(q "$db" -c "ALTER EXTENSION pg_embed UPDATE")
  if [ "$(q "$db" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_embed'")" = "$version" ]; then
    ok "ALTER EXTENSION pg_embed UPDATE from $from reached $version"
  else
    bad "ALTER EXTENSION pg_embed UPDATE from $from" "$update"
  fi
  if [ -n "$warning" ]; then
    if printf '%s' "$update" | grep -q "$warning"; then
      ok "the update from $from names the index and the generated column still using embed(text, text)"
    else
      bad "the update's warning about objects using embed(text, text)" "$update"
    fi
  fi
  after=$(q "$db" -f "$dir/user_objects.sql")
  if [ "$before" = "$after" ]; then ok "$from: the user's rows, vectors, triggers, indexes and pg_embed's data are unchanged"
  else bad "$from: the user's objects changed in the update" "$(diff <(echo "$before") <(echo "$after"))"; fi
  listing=$(q "$db" -f "$dir/catalog.sql")
  if printf '%s\n%s' "$listing" "$fresh_listing" | grep -q "ERROR"; then
    bad "the catalog listing runs" "$listing"
  elif d=$(diff <(echo "$listing") <(echo "$fresh_listing")); then
    ok "$from updated: the extension's objects equal a fresh $version install ($(echo "$fresh_listing" | wc -l) lines compared)"
  else
    bad "$from updated differs from a fresh install (< upgraded, > fresh)" "$d"
  fi
}
upgrade_from old 0.1.0 "embed(body, 'all-MiniLM-L6-v2')" \
  "WARNING:  pg_embed 0.2.0: embed(text, text) is now STABLE; these objects still use it: generated column docs.emb_gen; index docs_expr"
upgrade_from mid 0.2.0 "embed_fixed(body, 'all-MiniLM-L6-v2', 'fp32')" ""
upgrade_from recent 0.3.0 "embed_fixed(body, 'all-MiniLM-L6-v2', 'fp32')" ""
upgrade_from last 0.4.0 "embed_fixed(body, 'all-MiniLM-L6-v2', 'fp32')" ""
# 0.5.0 with a registered table and a queued row: the update adds the chunking columns under them.
upgrade_from latest 0.5.0 "embed_fixed(body, 'all-MiniLM-L6-v2', 'fp32')" "" \
  "CREATE TABLE vz5 (id int PRIMARY KEY, body text, embedding vector(384));
   INSERT INTO vz5 VALUES (1, 'how do I copy a list'), (2, 'reading a file');
   SELECT pg_embed_vectorize('vz5', 'body', 'embedding')"

# 3. What the updates bring works on the database updated from 0.1.0.
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
# BM25 on a database updated from 0.3.0: a hybrid search of a table with a tsvector column keeps
# ts_rank_cd; once its terms are registered, BM25 is the text side.
check_sql_in() {  # database, name, expected pattern, SQL
  check "$2" "$3" "$(q "$1" -At -c "$4")"
}
check_sql_in recent "the hybrid search of 0.3.0's table still ranks with ts_rank_cd" '^[1-9]' \
  "SELECT count(*) FROM pg_embed_hybrid_search('hyb', 'copy a list', tsvector_column => 'tsv', id_column => 'id')"
check_sql_in recent "pg_embed_bm25_register counts the table, and the hybrid search uses BM25" '^t$' \
  "ALTER TABLE hyb ADD COLUMN terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED;
   CREATE TEMP TABLE registered AS SELECT * FROM pg_embed_bm25_register('hyb');
   SELECT (SELECT documents FROM registered) = (SELECT count(*) FROM hyb)
      AND (SELECT array_agg(id ORDER BY text_rank) FROM pg_embed_hybrid_search('hyb', 'copy a list', vector_weight => 0, max_results => 40))
        = (SELECT array_agg(id) FROM pg_embed_bm25_search('hyb', 'copy a list', max_results => 40))"
# Vectorizers on a database updated from 0.4.0: registering queues the rows without a vector
# (no workers run on this server; the batch function is what they call).
check_sql_in last "pg_embed_vectorize works on a database updated from 0.4.0" '^t$' \
  "CREATE TABLE vz (id int PRIMARY KEY, body text, embedding vector(384));
   INSERT INTO vz VALUES (1, 'how do I copy a list'), (2, 'reading a file');
   SELECT pg_embed_vectorize('vz', 'body', 'embedding') IS NOT NULL;
   SELECT pg_embed_vectorize_batch(v.id) FROM pg_embed_vectorizers v WHERE v.relation = 'vz'::regclass;
   SELECT bool_and(1 - (embedding <=> embed_doc(body)) > 0.9999) AND count(*) = 2 FROM vz"
# On a database updated from 0.5.0: the registration made before the update embeds its queued
# rows, and a table registered with a chunk table gets one vector per chunk.
check_sql_in latest "a vectorizer registered in 0.5.0 embeds its queue after the update" '^t$' \
  "SELECT pg_embed_vectorize_batch(v.id) FROM pg_embed_vectorizers v WHERE v.relation = 'vz5'::regclass;
   SELECT bool_and(1 - (embedding <=> embed_doc(body)) > 0.9999) AND count(*) = 2 FROM vz5"
check_sql_in latest "chunking works on a database updated from 0.5.0" '^t$' \
  "CREATE TABLE vzc (id int PRIMARY KEY, body text);
   INSERT INTO vzc VALUES (1, repeat('Vacuum reclaims the space of dead rows. ', 30)), (2, 'reading a file');
   SELECT pg_embed_vectorize('vzc', 'body', 'embedding', chunk_table => 'vzc_chunks', chunk_tokens => 64) IS NOT NULL;
   SELECT pg_embed_vectorize_batch(v.id) FROM pg_embed_vectorizers v WHERE v.relation = 'vzc'::regclass;
   SELECT count(*) = (SELECT count(*) FROM vzc, pg_embed_chunks(body, 64)) AND count(DISTINCT id) = 2 FROM vzc_chunks"
check_logs "$dir"
finish
