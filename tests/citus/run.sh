#!/usr/bin/env bash
# pg_embed on Citus: a coordinator and two workers (throwaway clusters owned by postgres, on
# loopback), each with shared_preload_libraries = 'citus,pg_embed' and the executor pool the
# README advises. Checks: the extension reaches the workers; UPDATE through the IMMUTABLE
# embed_fixed() is pushed down (the workers embed, the coordinator does not) with vectors equal to
# a single node's; INSERT ... SELECT between co-located tables; a user's trigger and the provenance
# trigger; exact top-10 search equal to a single node's, with the query embedded once;
# pg_embed_backfill on a distributed table, with progress on the coordinator and the
# coordinator's precision; STABLE calls and the workers' settings; user
# models, projections and pins equal on every node after each change; a model missing on one
# worker fails with an error naming it and changes nothing. Needs Citus (scripts/citus.sh).
# Prints "N passed, M failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/cluster.sh"
source "$here/../lib/citus.sh"
cd "$PGE_ROOT"
dir=$(test_dir citus)
# KEEP=1 leaves the clusters running (ports in $dir/ports) to look into a failure.
trap '[ -n "${KEEP:-}" ] || remove_clusters "$dir"' EXIT

# Model folders: every node has the two models and a user model "my-model" (paraphrase-MiniLM-L3-v2's
# files under another name, but all-MiniLM-L6-v2's on worker 2); worker 2 lacks
# paraphrase-MiniLM-L3-v2 itself.
for n in 0 1 2; do
  m=$dir/models$n
  mkdir -p "$m/my-model"
  ln -s "$MODEL_DIR/all-MiniLM-L6-v2" "$m/all-MiniLM-L6-v2"
  [ $n = 2 ] || ln -s "$MODEL_DIR/paraphrase-MiniLM-L3-v2" "$m/paraphrase-MiniLM-L3-v2"
  if [ $n = 2 ]; then  # a different file under the same name: all-MiniLM-L6-v2's
    ln -s "$MODEL_DIR/all-MiniLM-L6-v2/"{model.onnx,model_int8.onnx,tokenizer.json} "$m/my-model/"
  else
    ln -s "$MODEL_DIR/paraphrase-MiniLM-L3-v2/"{model.onnx,model_int8.onnx,tokenizer.json} "$m/my-model/"
  fi
done
chown -R postgres: "$dir"
# The executor pool and connection cache the README advises (Running on Citus).
start_citus "$dir" "pg_embed.model_dir = '$dir/models@n@'" "citus.max_adaptive_executor_pool_size = 2" \
  "citus.max_cached_conns_per_worker = 1" || { echo "FAILED: could not start the Citus cluster"; exit 1; }
q() { citus_q "$@"; }
c() { q "$p0" -c "$1"; }
# One value per worker, "a|b" (run_command_on_workers, ordered by port).
w() { c "SELECT string_agg(result, '|' ORDER BY nodeport) FROM run_command_on_workers(\$cmd\$$1\$cmd\$)"; }
# Texts embedded per node since the last reset, "coordinator;worker1|worker2".
embedded() { echo "$(c "SELECT coalesce(sum(texts), 0) FROM pg_embed_stats");$(w "SELECT coalesce(sum(texts), 0) FROM pg_embed_stats")"; }
reset_stats() { c "SELECT pg_embed_stats_reset()" >/dev/null; w "SELECT pg_embed_stats_reset()" >/dev/null; }

# 1. The extension reaches the workers.
c "SET client_min_messages = warning; CREATE EXTENSION pg_embed CASCADE" >/dev/null
version=$(c "SELECT extversion FROM pg_extension WHERE extname = 'pg_embed'")
check "CREATE EXTENSION pg_embed CASCADE on the coordinator reaches both workers" "^$version\|$version\$" \
  "$(w "SELECT extversion FROM pg_extension WHERE extname = 'pg_embed'")"

# The FAQ corpus: 200 documents, on one node (docs_local) and distributed (docs), and 20 questions.
python3 - "$PGE_ROOT/benches/accuracy/data/faq" "$dir" <<'PY'
import json, sys
src, out = sys.argv[1], sys.argv[2]
def rows(name, n):
    with open(f"{src}/{name}") as f:
        for i, line in enumerate(f):
            if i >= n: break
            d = json.loads(line)
            yield i + 1, (d.get("title", "") + "\n" + d["text"]).strip()
esc = lambda s: s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
with open(f"{out}/docs.tsv", "w") as f:
    for i, t in rows("corpus.jsonl", 200): f.write(f"{i}\t{esc(t)}\n")
with open(f"{out}/questions.tsv", "w") as f:
    for i, t in rows("queries.jsonl", 20): f.write(f"{i}\t{esc(t)}\n")
PY
chown postgres: "$dir"/*.tsv
c "CREATE TABLE docs_local (id bigint PRIMARY KEY, body text, emb vector(384), model_id text)" >/dev/null
c "COPY docs_local (id, body) FROM '$dir/docs.tsv'" >/dev/null
c "CREATE TABLE questions (id int PRIMARY KEY, q text)" >/dev/null
c "COPY questions FROM '$dir/questions.tsv'" >/dev/null
c "CREATE TABLE docs (id bigint PRIMARY KEY, body text, emb vector(384), model_id text)" >/dev/null
c "SELECT create_distributed_table('docs', 'id')" >/dev/null
c "INSERT INTO docs (id, body) SELECT id, body FROM docs_local" >/dev/null
c "UPDATE docs_local SET emb = embed_fixed(body, 'all-MiniLM-L6-v2', 'fp32')" >/dev/null
# The largest cosine distance between a distributed table's vectors and the single node's.
maxdist() {
  c "WITH d AS MATERIALIZED (SELECT id, $2 AS v FROM $1) SELECT coalesce(max(d.v <=> l.emb), 1) < 1e-6 AND count(*) = 200 AND count(d.v) = 200 FROM d JOIN docs_local l USING (id)"
}

# 2. UPDATE with the IMMUTABLE entry point is pushed down.
plan=$(c "EXPLAIN (COSTS off) UPDATE docs SET emb = embed_fixed(body, 'all-MiniLM-L6-v2', 'fp32')")
check "EXPLAIN shows the UPDATE as shard tasks on the workers" "Task Count: 32" "$plan"
check "and each task updates a shard with embed_fixed()" "Update on docs_[0-9]+ " "$plan"
reset_stats
c "UPDATE docs SET emb = embed_fixed(body, 'all-MiniLM-L6-v2', 'fp32')" >/dev/null
e=$(embedded)
check "the workers embedded all 200 texts, the coordinator none" '^0;[1-9][0-9]*\|[1-9][0-9]*$' "$e"
check "  (200 in all)" '^200$' "$(echo "${e#*;}" | tr '|' '+' | bc)"
check "the pushed-down vectors equal the single node's (cosine distance < 1e-6)" '^t$' "$(maxdist docs emb)"
out=$(c "UPDATE docs SET emb = embed_doc(body)")
check "a STABLE embedding function in a distributed UPDATE is refused by Citus (README: use embed_fixed)" \
  "STABLE functions used in UPDATE queries cannot be called with column references" "$out"

# 3. INSERT ... SELECT between co-located tables embeds on the workers.
c "CREATE TABLE docs_copy (id bigint PRIMARY KEY, body text, emb vector(384))" >/dev/null
c "SELECT create_distributed_table('docs_copy', 'id', colocate_with => 'docs')" >/dev/null
reset_stats
c "INSERT INTO docs_copy SELECT id, body, embed_fixed(body, 'all-MiniLM-L6-v2', 'fp32') FROM docs" >/dev/null
check "INSERT ... SELECT between co-located tables: the workers embed, the coordinator does not" '^0;[1-9][0-9]*\|[1-9][0-9]*$' "$(embedded)"
check "  with the single node's vectors" '^t$' "$(maxdist docs_copy emb)"

# 4. The provenance trigger on a distributed table.
c "CREATE TABLE docs_trig (id bigint PRIMARY KEY, body text, emb vector(384), model_id text)" >/dev/null
c "SELECT create_distributed_table('docs_trig', 'id', colocate_with => 'docs')" >/dev/null
q "$p0" -c "SET citus.enable_unsafe_triggers = on" -c "CREATE TRIGGER embed BEFORE INSERT OR UPDATE ON docs_trig
  FOR EACH ROW EXECUTE FUNCTION pg_embed_provenance_trigger('body', 'emb', 'model_id', 'all-MiniLM-L6-v2')" >/dev/null
reset_stats
c "INSERT INTO docs_trig (id, body) SELECT id, body FROM docs" >/dev/null
check "the provenance trigger embeds on the workers" '^0;[1-9][0-9]*\|[1-9][0-9]*$' "$(embedded)"
check "  with the single node's vectors" '^t$' "$(maxdist docs_trig emb)"
check "  and writes one model id, the coordinator's" "^1\|true\$" \
  "$(c "SELECT count(DISTINCT model_id) || '|' || (min(model_id) = pg_embed_model_id('all-MiniLM-L6-v2')) FROM docs_trig")"

# A trigger of the user's own, as in the README (a PL/pgSQL function calling embed_fixed).
c "CREATE TABLE docs_utrig (id bigint PRIMARY KEY, body text, emb vector(384))" >/dev/null
c "SELECT create_distributed_table('docs_utrig', 'id', colocate_with => 'docs')" >/dev/null
c "CREATE FUNCTION docs_embed() RETURNS trigger LANGUAGE plpgsql AS \$f\$
   BEGIN NEW.emb := embed_fixed(NEW.body, 'all-MiniLM-L6-v2', 'fp32'); RETURN NEW; END \$f\$" >/dev/null
check "a user's trigger function created on the coordinator reaches the workers" '^1\|1$' \
  "$(w "SELECT count(*) FROM pg_proc WHERE proname = 'docs_embed'")"
q "$p0" -c "SET citus.enable_unsafe_triggers = on" -c "CREATE TRIGGER embed BEFORE INSERT OR UPDATE ON docs_utrig
  FOR EACH ROW EXECUTE FUNCTION docs_embed()" >/dev/null
reset_stats
c "INSERT INTO docs_utrig (id, body) SELECT id, body FROM docs" >/dev/null
check "the user's trigger embeds on the workers" '^0;[1-9][0-9]*\|[1-9][0-9]*$' "$(embedded)"
check "  with the single node's vectors" '^t$' "$(maxdist docs_utrig emb)"

# 5. Search: exact top 10 equal to the single node's, with the query embedded once.
# dist_top10 embeds a question once, then runs the exact top-10 query on the distributed table.
c "CREATE FUNCTION dist_top10(question text) RETURNS SETOF bigint LANGUAGE plpgsql AS \$f\$
   DECLARE v vector; BEGIN
     v := embed_fixed(question, 'all-MiniLM-L6-v2', 'fp32');
     RETURN QUERY SELECT id FROM docs ORDER BY emb <=> v, id LIMIT 10; END \$f\$" >/dev/null
same=0
for i in $(seq 20); do
  a=$(c "SELECT string_agg(id::text, ',') FROM (SELECT l.id FROM docs_local l ORDER BY l.emb <=> embed_fixed((SELECT q FROM questions WHERE id = $i), 'all-MiniLM-L6-v2', 'fp32'), l.id LIMIT 10) s")
  b=$(c "SELECT string_agg(x::text, ',') FROM dist_top10((SELECT q FROM questions WHERE id = $i)) x")
  [ "$a" = "$b" ] && [ -n "$a" ] && same=$((same + 1))
done
check "exact top 10 on the distributed table equals the single node's for 20 of 20 questions" '^20$' "$same"
reset_stats
c "WITH q AS MATERIALIZED (SELECT embed_doc('how do I copy an object') AS v)
   SELECT id FROM docs, q ORDER BY emb <=> q.v LIMIT 10" >/dev/null
check "the README's search form embeds the query once, on the coordinator" '^1;0\|0$' "$(embedded)"
reset_stats
c "SELECT id FROM docs ORDER BY emb <=> embed_doc('how do I copy an object') LIMIT 10" >/dev/null
e=$(embedded)
check "the single-node form instead embeds the query on the workers, once per shard (32)" '^32$' "$(echo "${e#*;}" | tr '|' '+' | bc)"

# 6. pg_embed_backfill on a distributed table.
c "UPDATE docs SET emb = NULL, model_id = NULL" >/dev/null
reset_stats
out=$(c "CALL pg_embed_backfill('docs', 'body', 'emb', 'all-MiniLM-L6-v2', chunk_size => 50, model_id_column => 'model_id')" && echo done)
check "CALL pg_embed_backfill on a distributed table succeeds" '^done$' "$out"
check "  every row has the single node's vector" '^t$' "$(maxdist docs emb)"
check "  the workers embedded, the coordinator did not" '^0;[1-9][0-9]*\|[1-9][0-9]*$' "$(embedded)"
check "  progress on the coordinator: finished, 200 of 200 rows" '^true\|200\|200\|false$' \
  "$(c "SELECT finished || '|' || rows_done || '|' || rows_total || '|' || interrupted FROM pg_embed_backfills WHERE relation = 'docs'::regclass")"
check "  the model id column says fp32" '/fp32/' "$(c "SELECT DISTINCT model_id FROM docs")"
out=$(c "CALL pg_embed_backfill('docs', 'body', 'emb', 'auto')" 2>&1)
check "model => 'auto' on a distributed table is refused with 0A000" 'ERROR:  model => .auto. cannot backfill the distributed table (public\.)?docs' "$out"
check "  and leaves no interrupted run behind" '^0$' "$(c "SELECT count(*) FROM pg_embed_backfills WHERE interrupted")"
# The coordinator's precision decides the workers' vectors.
c "UPDATE docs SET emb = NULL" >/dev/null
q "$p0" -c "SET pg_embed.precision = 'int8'" \
  -c "CALL pg_embed_backfill('docs', 'body', 'emb', 'all-MiniLM-L6-v2', chunk_size => 80, model_id_column => 'model_id')" >/dev/null
check "with pg_embed.precision = int8 on the coordinator, the workers embed int8" '^true\|all-MiniLM-L6-v2@[^/]+/int8/' \
  "$(c "WITH d AS MATERIALIZED (SELECT id, emb, model_id FROM docs)
        SELECT (max(d.emb <=> embed_fixed(l.body, 'all-MiniLM-L6-v2', 'int8')) < 1e-6) || '|' || min(d.model_id) FROM d JOIN docs_local l USING (id)")"

# A STABLE call pushed into a distributed SELECT runs with the workers' settings, unless the
# coordinator's SET LOCAL is propagated (citus.propagate_set_commands = local; README).
int8_on_workers() {  # SQL run before the SELECT, in one transaction
  q "$p0" -c "BEGIN" -c "$1" -c "CREATE TEMP TABLE got ON COMMIT DROP AS SELECT id, embed(body, 'all-MiniLM-L6-v2') AS v FROM docs" \
    -c "SELECT max(g.v <=> embed_fixed(l.body, 'all-MiniLM-L6-v2', 'int8')) < 1e-6 FROM got g JOIN docs_local l USING (id)" -c "COMMIT"
}
check "a coordinator's plain SET pg_embed.precision does not reach a pushed-down embed() (the workers' setting applies)" '^f$' \
  "$(int8_on_workers "SET pg_embed.precision = 'int8'")"
check "with citus.propagate_set_commands = local, SET LOCAL pg_embed.precision reaches the workers" '^t$' \
  "$(int8_on_workers "SET citus.propagate_set_commands = 'local'; SET LOCAL pg_embed.precision = 'int8'")"

# Keys of other types and shapes: a uuid distribution column, and a distribution column that is
# not unique (many rows per tenant) with a primary key (tenant, id): chunks of chunk_size rows.
c "CREATE TABLE docs_uuid (id uuid PRIMARY KEY, body text, emb vector(384))" >/dev/null
c "SELECT create_distributed_table('docs_uuid', 'id')" >/dev/null
c "INSERT INTO docs_uuid SELECT md5(id::text)::uuid, body FROM docs_local WHERE id <= 60" >/dev/null
out=$(c "CALL pg_embed_backfill('docs_uuid', 'body', 'emb', 'all-MiniLM-L6-v2', chunk_size => 25)" && echo done)
check "a uuid distribution column is backfilled" '^done$' "$out"
check "  every row" '^60$' "$(c "SELECT count(emb) FROM docs_uuid")"
c "CREATE TABLE docs_tenant (tenant int, id bigint, body text, emb vector(384), PRIMARY KEY (tenant, id))" >/dev/null
c "SELECT create_distributed_table('docs_tenant', 'tenant')" >/dev/null
c "INSERT INTO docs_tenant SELECT CASE WHEN id <= 50 THEN 1 ELSE 2 END, id, body FROM docs_local WHERE id <= 60" >/dev/null
out=$(q "$p0" -c "SET client_min_messages = notice" \
  -c "CALL pg_embed_backfill('docs_tenant', 'body', 'emb', 'all-MiniLM-L6-v2', chunk_size => 10, notice_every => 10)" 2>&1)
check "a tenant of 50 rows is backfilled 10 rows at a time (primary key order), not in one chunk" \
  'pg_embed_backfill: 10 of 60 rows' "$out"
check "  every row" '^60$' "$(c "SELECT count(emb) FROM docs_tenant")"
# 7. User models, projections and pins are the same on every node.
c "SELECT pg_embed_register_model('my-model', 384)" >/dev/null
check "a user model registered on the coordinator is on both workers at commit" '^my-model\|my-model$' \
  "$(w "SELECT string_agg(name, ',') FROM pg_embed_user_models")"
reset_stats
c "UPDATE docs_copy SET emb = embed_fixed(body, 'my-model', 'fp32')" >/dev/null
check "  and embeds on the workers through a pushed-down UPDATE" '^0;[1-9][0-9]*\|[1-9][0-9]*$' "$(embedded)"
out=$(q "$p0" -v VERBOSITY=verbose -c "CALL pg_embed_backfill('docs_copy', 'body', 'emb', 'my-model')")
check "a backfill refuses when a worker's file for the model is not the coordinator's (55000)" \
  "ERROR:  55000: not every Citus worker has the model file this node resolves for \"my-model\"" "$out"
check "  naming that worker" "Differing workers: 127.0.0.1:$p2 \(my-model@" "$out"
c "SET pg_embed.code_models = 'my-model'; SELECT count(*) FROM pg_embed_reselect()" >/dev/null
check "pins chosen on the coordinator are the workers' pins" "^$(c "SELECT string_agg(role || '=' || model, ',' ORDER BY role) FROM pg_embed_selection")\|" \
  "$(w "SELECT string_agg(role || '=' || model, ',' ORDER BY role) FROM pg_embed_selection")"
c "SELECT count(*) FROM pg_embed_learn_projection('my-model', 'all-MiniLM-L6-v2', 'SELECT body FROM docs_local', 150)" >/dev/null
check "a projection learned on the coordinator is on both workers, the same matrix" \
  "^$(c "SELECT md5(matrix::text) FROM pg_embed_projections")\|$(c "SELECT md5(matrix::text) FROM pg_embed_projections")\$" \
  "$(w "SELECT md5(matrix::text) FROM pg_embed_projections")"
c "DELETE FROM pg_embed_user_models WHERE name = 'my-model'" >/dev/null
check "unregistering reaches the workers too" '^0\|0$' "$(w "SELECT count(*) FROM pg_embed_user_models")"
c "INSERT INTO pg_embed_user_models (name, dims) VALUES ('my-model', 384)" >/dev/null
w "DELETE FROM pg_embed_user_models" >/dev/null
check "pg_embed_citus_sync() repairs a worker changed behind the coordinator's back" '^2\|true$' \
  "$(c "SELECT count(*) || '|' || bool_and(success) FROM pg_embed_citus_sync()")"
check "  (both workers have the user model again)" '^1\|1$' "$(w "SELECT count(*) FROM pg_embed_user_models")"
# A worker that refuses the rows: the sync says so, and the check shows it out of sync.
q "$p1" -c "ALTER TABLE pg_embed_user_models ADD CONSTRAINT no_evil CHECK (name <> 'evil')" >/dev/null
out=$(c "INSERT INTO pg_embed_user_models (name, dims) VALUES ('evil', 384)" 2>&1; c "SELECT string_agg(node || '=' || in_sync, ',' ORDER BY node) FROM pg_embed_citus_check()")
check "a worker whose tables refuse the change is reported (WARNING) and out of sync" "127.0.0.1:$p1=false" "$out"
check "  while the other is in sync" "127.0.0.1:$p2=true" "$out"
check "  the sync reports that worker as failed" "^127.0.0.1:$p1\|false\|.*no_evil" \
  "$(c "SELECT node || '|' || success || '|' || result FROM pg_embed_citus_sync() WHERE NOT success")"
q "$p1" -c "ALTER TABLE pg_embed_user_models DROP CONSTRAINT no_evil" >/dev/null
check "  and once fixed, a sync brings it back in sync" '^t$' "$(c "SELECT bool_and(success) FROM pg_embed_citus_sync()")"
# A change made after the send in the same transaction is sent too.
q "$p0" -c "BEGIN" -c "INSERT INTO pg_embed_user_models (name, dims) VALUES ('a1', 384)" -c "SET CONSTRAINTS ALL IMMEDIATE" \
  -c "INSERT INTO pg_embed_user_models (name, dims) VALUES ('b1', 384)" -c "COMMIT" >/dev/null
check "a change after a send in the same transaction reaches the workers too" '^true,true$' \
  "$(c "SELECT string_agg(in_sync::text, ',') FROM pg_embed_citus_check()")"
out=$(q "$p0" -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "DELETE FROM pg_embed_user_models WHERE name IN ('a1', 'b1')" -c "COMMIT")
check "a change under REPEATABLE READ is refused at commit (its snapshot predates the lock)" \
  "only in a READ COMMITTED transaction" "$out"
check "  and nothing changed anywhere" '^2\|2\|2$' \
  "$(echo "$(c "SELECT count(*) FROM pg_embed_user_models WHERE name IN ('a1', 'b1')")|$(w "SELECT count(*) FROM pg_embed_user_models WHERE name IN ('a1', 'b1')")")"
# Concurrent changes from two sessions both arrive (the send locks the tables).
c "DELETE FROM pg_embed_user_models WHERE name IN ('a1', 'b1', 'evil')" >/dev/null
for n in 1 2 3 4 5 6; do c "INSERT INTO pg_embed_user_models (name, dims) VALUES ('conc$n', 384)" >/dev/null & done; wait
check "six concurrent registrations all reach both workers" '^6\|6$' \
  "$(w "SELECT count(*) FROM pg_embed_user_models WHERE name LIKE 'conc%'")"
# Known limit: a transaction that fails after its change was sent leaves the workers ahead;
# pg_embed_citus_check() shows it, and the next change or a sync repairs it.
q "$p0" -c "BEGIN" -c "INSERT INTO pg_embed_user_models (name, dims) VALUES ('ghost', 384)" -c "SET CONSTRAINTS ALL IMMEDIATE" -c "ROLLBACK" >/dev/null
check "a rollback after the send shows up in pg_embed_citus_check()" '^false,false$' \
  "$(c "SELECT string_agg(in_sync::text, ',') FROM pg_embed_citus_check()")"
c "SELECT count(*) FROM pg_embed_citus_sync()" >/dev/null
check "  and a sync repairs it" '^true,true$' "$(c "SELECT string_agg(in_sync::text, ',') FROM pg_embed_citus_check()")"
c "DELETE FROM pg_embed_user_models WHERE name LIKE 'conc%'" >/dev/null
c "CREATE ROLE mallory LOGIN" >/dev/null
out=$(q "$p0" -U mallory -c "SELECT * FROM pg_embed_citus_sync()")
check "a role without embed_admin may not run pg_embed_citus_sync()" 'permission denied for function pg_embed_citus_sync' "$out"
out=$(q "$p1" -c "SELECT * FROM pg_embed_citus_sync()")
check "pg_embed_citus_sync() on a worker says to run it on the coordinator" 'not a Citus coordinator' "$out"

# 8. A model missing on one worker.
before=$(c "SELECT md5(string_agg(emb::text, ',' ORDER BY id)) FROM docs_copy")
out=$(q "$p0" -v VERBOSITY=verbose -c "UPDATE docs_copy SET emb = embed_fixed(body, 'paraphrase-MiniLM-L3-v2', 'fp32')")
check "a model missing on one worker fails with an error naming that worker" "while executing command on 127.0.0.1:$p2" "$out"
check "  with SQLSTATE 58P01" 'ERROR:  58P01' "$out"
check "  and changes no row on any node" "^$before\$" "$(c "SELECT md5(string_agg(emb::text, ',' ORDER BY id)) FROM docs_copy")"

# BM25 statistics are kept by statement triggers on one table: a distributed table is refused
# with 0A000, a local table of the coordinator works.
c "CREATE TABLE bm_dist (id bigint PRIMARY KEY, body text, terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED)" >/dev/null
c "SELECT create_distributed_table('bm_dist', 'id')" >/dev/null
out=$(c "SELECT pg_embed_bm25_register('bm_dist')")
check "pg_embed_bm25_register refuses a distributed table" 'ERROR:  BM25 statistics cannot be kept for public.bm_dist' "$out"
c "CREATE TABLE bm_local (id bigint PRIMARY KEY, body text, terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED)" >/dev/null
c "INSERT INTO bm_local VALUES (1, 'vacuum a table'), (2, 'replicate a table')" >/dev/null
check "  a local table of the coordinator registers and searches" '^1$' \
  "$(c "SELECT pg_embed_bm25_register('bm_local'); SELECT id FROM pg_embed_bm25_search('bm_local', 'vacuum')")"

check_logs "$dir"
finish
