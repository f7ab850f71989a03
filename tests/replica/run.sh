#!/usr/bin/env bash
# A primary and a streaming standby (pg_basebackup -R) on loopback, each a throwaway cluster
# owned by the unprivileged user postgres. Checks what a DBA with a replica relies on: pins
# decided on the primary reach the standby and route its embedding calls the same way; the
# calls that must write refuse plainly on the standby (SQLSTATE 25006 with a hint to run them
# on the primary), and embedding works there. Prints "N passed, M failed".
set -uo pipefail
source "$(dirname "$0")/../lib/cluster.sh"
dir=$(test_dir replica)
p1=$(free_port); p2=$(free_port)
trap 'remove_clusters "$dir"' EXIT
start_cluster "$dir/primary" "$p1" || exit 1
q1() { psql -X -A -t -q -h 127.0.0.1 -p "$p1" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$1" 2>&1; }
q2() { psql -X -A -t -q -h 127.0.0.1 -p "$p2" -U postgres -d postgres -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "$1" 2>&1; }
q1 "SET client_min_messages = warning; CREATE EXTENSION pg_embed CASCADE; SELECT count(*) FROM pg_embed_reselect();" >/dev/null
primary_code=$(q1 "SELECT pg_embed_role_model('code')")
as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$p1" -U postgres -D "$dir/standby" -R -X stream >/dev/null || exit 1
start_cluster "$dir/standby" "$p2" || exit 1

check "the standby is in recovery" '^t$' "$(q2 "SELECT pg_is_in_recovery()")"
check "pins reached the standby" '^3$' "$(q2 "SELECT count(*) FROM pg_embed_selection")"
check "the standby routes code as the primary does" "^${primary_code}\$" "$(q2 "SELECT pg_embed_role_model('code')")"
check "embedding works on the standby" '^384$' "$(q2 "SELECT vector_dims(embed_code('def f(x):\n    return x'))")"
check "embed_fixed works on the standby" '^384$' "$(q2 "SELECT vector_dims(embed_fixed('hello', 'all-MiniLM-L6-v2', 'fp32'))")"
out=$(q2 "SELECT pg_embed_reselect()")
check "pg_embed_reselect refuses with 25006" 'ERROR:  25006: pg_embed_reselect\(\) cannot run on a standby' "$out"
check "and says to run it on the primary" 'HINT:  Run SELECT pg_embed_reselect\(\); on the primary' "$out"
check "the cache cannot be filled on a standby" 'ERROR:  25006' "$(q2 "SELECT pg_embed_cache_store('all-MiniLM-L6-v2', ARRAY['x'])")"
# A new pin on the primary reaches the standby.
q1 "SET pg_embed.code_models = 'paraphrase-MiniLM-L3-v2'; SELECT count(*) FROM pg_embed_reselect();" >/dev/null
for _ in $(seq 50); do
  [ "$(q2 "SELECT model FROM pg_embed_selection WHERE role = 'code'")" = paraphrase-MiniLM-L3-v2 ] && break; sleep 0.1
done
check "a re-selection on the primary reaches the standby" '^paraphrase-MiniLM-L3-v2$' \
  "$(q2 "SET pg_embed.code_models = 'paraphrase-MiniLM-L3-v2'; SELECT pg_embed_role_model('code')")"
# BM25: the statistics kept on the primary replicate with the rows; the standby searches them
# (a read-only search) and gives the primary's scores.
q1 "CREATE TABLE notes (id int PRIMARY KEY, body text, terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED);
    INSERT INTO notes SELECT i, 'note ' || i || ' on ' || (ARRAY['vacuum', 'replication', 'indexes'])[1 + i % 3] FROM generate_series(1, 30) i;
    SELECT pg_embed_bm25_register('notes');
    DELETE FROM notes WHERE id > 25; UPDATE notes SET body = body || ' and replication' WHERE id < 4;" >/dev/null
primary_bm25=$(q1 "SELECT string_agg(id || ':' || round(score::numeric, 9), ',') FROM pg_embed_bm25_search('notes', 'replication notes')")
for _ in $(seq 50); do
  [ "$(q2 "SELECT documents FROM pg_embed_bm25_indexes")" = 25 ] && break; sleep 0.1
done
check "BM25 on the standby: the primary's statistics, consistent with its rows" '^25\|t$' \
  "$(q2 "SELECT documents, consistent FROM pg_embed_bm25_indexes, pg_embed_bm25_check('notes')")"
check "BM25 on the standby: the primary's ranking and scores" "^${primary_bm25}\$" \
  "$(q2 "SELECT string_agg(id || ':' || round(score::numeric, 9), ',') FROM pg_embed_bm25_search('notes', 'replication notes')")"
check "pg_embed_bm25_recount refuses on the standby (25006)" 'ERROR:  25006' "$(q2 "SELECT pg_embed_bm25_recount('notes')")"
check_logs "$dir"
finish
