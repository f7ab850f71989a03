#!/usr/bin/env bash
# Vectorizers and their background workers, on a throwaway cluster with pg_embed in
# shared_preload_libraries (owned by the unprivileged user postgres, on a loopback port):
# registration, queueing without embedding in the writer's transaction, the workers acting as
# the registering role (and unable to leave it), never-stale vectors under concurrent updates,
# retries and dead letters, pause and resume, two databases, a configuration reload, SIGTERM,
# kill -9 mid-batch, chunk tables, hostile roles, unregistering and dropping. Prints "N passed, M failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/cluster.sh"
cd "$PGE_ROOT"
dir=$(test_dir vectorize)
port=$(free_port)
trap 'remove_clusters "$dir"' EXIT
q() { local db=$1; shift; psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@" 2>&1; }
one() { q "$1" -At -c "$2"; }
# wait_for DB SQL SECONDS: polls until the query returns t; returns 1 after SECONDS.
wait_for() {
  local end=$((SECONDS + $3))
  while [ $SECONDS -lt $end ]; do
    [ "$(one "$1" "$2")" = t ] && return 0
    sleep 0.2
  done
  return 1
}
check_wait() {  # name, db, SQL, seconds
  if wait_for "$2" "$3" "$4"; then ok "$1"; else bad "$1" "still not true after $4 s: $3"; fi
}
# Every vector of a table equals embed_doc of its row's current text (cosine >= 0.9999), none missing.
all_current() {
  echo "SELECT count(*) > 0 AND bool_and(embedding IS NOT NULL AND 1 - (embedding <=> embed_doc(body)) >= 0.9999) FROM $1 WHERE body IS NOT NULL"
}
no_pending="(SELECT coalesce(sum(pending), 0) = 0 FROM pg_embed_vectorize_status)"

start_cluster "$dir/data" "$port" "shared_preload_libraries = 'pg_embed'" "pg_embed.vectorize_naptime = 100" \
  "max_worker_processes = 16" "pg_embed.vectorize_workers = 1" || exit 1

q postgres -c "CREATE ROLE alice LOGIN" -c "CREATE ROLE mallory LOGIN" \
  -c "CREATE DATABASE app1 OWNER alice" -c "CREATE DATABASE app2 OWNER alice" -c "CREATE DATABASE plain" >/dev/null
for db in app1 app2; do
  q "$db" -v ON_ERROR_STOP=1 -c "CREATE EXTENSION vector" -c "CREATE EXTENSION pg_embed" \
    -c "GRANT CREATE ON SCHEMA public TO mallory" >/dev/null || bad "CREATE EXTENSION in $db"
done
qa() { local db=$1; shift; psql -X -q -h 127.0.0.1 -p "$port" -U alice -d "$db" "$@" 2>&1; }
qm() { local db=$1; shift; psql -X -q -h 127.0.0.1 -p "$port" -U mallory -d "$db" "$@" 2>&1; }

# --- registration and queueing ------------------------------------------------------------
qa app1 -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || bad "alice's table"
CREATE TABLE docs (id bigint PRIMARY KEY, body text, embedding vector(384), model_id text);
INSERT INTO docs (id, body) SELECT g, 'how do I copy list number ' || g || ' in python' FROM generate_series(1, 120) g;
-- who runs alice's code when a worker writes a vector, and whether it can become someone else
CREATE TABLE who (role name, escaped text);
CREATE FUNCTION note_role() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE escaped text := 'refused';
BEGIN
    BEGIN
        SET LOCAL ROLE postgres;
        escaped := 'became ' || current_user;
    EXCEPTION WHEN OTHERS THEN
        escaped := 'refused: ' || SQLERRM;
    END;
    INSERT INTO who VALUES (current_user, escaped);
    RETURN NEW;
END $$;
CREATE TRIGGER note_role BEFORE UPDATE ON docs FOR EACH ROW WHEN (NEW.id = 7) EXECUTE FUNCTION note_role();
SQL
got=$(qa app1 -At -c "SELECT pg_embed_vectorize('docs', 'body', 'embedding', model_id_column => 'model_id', batch_size => 16)")
check "pg_embed_vectorize returns the vectorizer's id" '^[0-9]+$' "$got"
check_wait "the rows present at registration are embedded by the worker" app1 "SELECT $no_pending AND ($(all_current docs))" 60
got=$(qa app1 -At -c "BEGIN" -c "INSERT INTO docs (id, body) VALUES (500, 'a row written by the application')" \
  -c "SELECT (SELECT embedding IS NULL FROM docs WHERE id = 500), (SELECT count(*) FROM pg_embed_vectorize_queue q WHERE q.key = '500')" -c "COMMIT")
check "an INSERT only queues its row (no vector in the writer's transaction)" '^t\|1$' "$got"
check_wait "the worker embeds the new row" app1 "SELECT embedding IS NOT NULL FROM docs WHERE id = 500" 30
check "the model id column is written" '^t$' \
  "$(one app1 "SELECT bool_and(model_id = pg_embed_model_id('all-MiniLM-L6-v2')) FROM docs")"
got=$(one app1 "SELECT role || ' / ' || escaped FROM who LIMIT 1")
check "the worker runs the table's triggers as the registering role, which cannot SET ROLE" \
  '^alice / refused: cannot set parameter "role" within security-' "$got"
qa app1 -c "UPDATE docs SET model_id = 'x' WHERE id = 3" >/dev/null
check "an UPDATE that leaves the text alone queues nothing" '^0$' "$(one app1 "SELECT count(*) FROM pg_embed_vectorize_queue")"

# --- never stale: the same rows updated many times while the worker runs ------------------
for round in $(seq 1 15); do
  qa app1 -c "UPDATE docs SET body = 'round $round: how do I merge dictionary ' || id WHERE id % 4 = 0" >/dev/null &
  qa app1 -c "UPDATE docs SET body = 'round $round: reading a csv file line ' || id WHERE id % 4 = 1" >/dev/null
  wait
done
check_wait "after 30 concurrent rounds of updates every vector is the embedding of its row's final text" app1 \
  "SELECT $no_pending AND ($(all_current docs))" 90

# --- writes with triggers in replica mode (as a logical replication subscriber applies them) ---
q app1 -c "SET session_replication_role = replica" -c "UPDATE docs SET body = 'written in replica mode' WHERE id = 5" >/dev/null
check_wait "a write made with session_replication_role = replica is queued and embedded too (triggers enabled ALWAYS)" app1 \
  "SELECT 1 - (embedding <=> embed_doc('written in replica mode')) >= 0.9999 FROM docs WHERE id = 5" 30

# --- retries and dead letters ---------------------------------------------------------------
qa app1 -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || bad "the failing table"
CREATE TABLE flaky (id int PRIMARY KEY, body text, embedding vector(384));
CREATE FUNCTION refuse_13() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = 13 AND NEW.embedding IS NOT NULL THEN RAISE EXCEPTION 'row 13 is not welcome'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_13 BEFORE UPDATE ON flaky FOR EACH ROW EXECUTE FUNCTION refuse_13();
SELECT pg_embed_vectorize('flaky', 'body', 'embedding', max_attempts => 3, retry_delay => '50 milliseconds');
INSERT INTO flaky SELECT g, 'text ' || g FROM generate_series(1, 20) g;
SQL
check_wait "one failing row does not hold back the others" app1 \
  "SELECT count(embedding) = 19 FROM flaky" 30
check_wait "after max_attempts the failing row is set aside with its error" app1 \
  "SELECT count(*) = 1 AND bool_and(key = '13' AND attempts = 3 AND last_error LIKE 'P0001: row 13 is not welcome') FROM pg_embed_vectorize_failed" 30
check "the status view shows the failure" '^0\|1\|P0001: row 13 is not welcome$' \
  "$(one app1 "SELECT pending, failed, last_error FROM pg_embed_vectorize_status WHERE relation = 'flaky'::regclass")"
qa app1 -c "DROP TRIGGER refuse_13 ON flaky" >/dev/null
check "pg_embed_vectorize_retry queues the dead letters again" '^1$' "$(qa app1 -At -c "SELECT pg_embed_vectorize_retry('flaky')")"
check_wait "and the worker embeds them" app1 "SELECT count(embedding) = 20 FROM flaky" 30

# --- pause and resume -------------------------------------------------------------------------
qa app1 -c "SELECT pg_embed_vectorize_pause('docs')" -c "INSERT INTO docs (id, body) SELECT g, 'paused ' || g FROM generate_series(600, 609) g" >/dev/null
sleep 2
check "paused, the rows wait in the queue" '^10\|0\|t$' \
  "$(one app1 "SELECT pending, (SELECT count(embedding) FROM docs WHERE id >= 600), paused FROM pg_embed_vectorize_status WHERE relation = 'docs'::regclass")"
qa app1 -c "SELECT pg_embed_vectorize_resume('docs')" >/dev/null
check_wait "resumed, the worker embeds them" app1 "SELECT count(embedding) = 10 FROM docs WHERE id >= 600" 30

# --- a second database ------------------------------------------------------------------------
qa app2 -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || bad "the second database's table"
CREATE TABLE notes (key uuid PRIMARY KEY DEFAULT gen_random_uuid(), note varchar, vec vector);
INSERT INTO notes (note) SELECT 'note ' || g FROM generate_series(1, 30) g;
SELECT pg_embed_vectorize('notes', 'note', 'vec');
SQL
check_wait "a second database gets its own worker, which embeds its table (uuid keys, varchar text)" app2 \
  "SELECT count(vec) = 30 AND bool_and(1 - (vec <=> embed_doc(note)) >= 0.9999) FROM notes" 40
workers() { one postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_embed vectorize worker' AND datname = '$1'"; }
check "no worker stays in a database without pg_embed" '^0$' "$(workers plain)"

# --- a configuration reload changes the number of workers ------------------------------------
echo "pg_embed.vectorize_workers = 2" >> "$dir/data/postgresql.conf"
one postgres "SELECT pg_reload_conf()" >/dev/null
check_wait "after a reload with vectorize_workers = 2, two workers serve each database" postgres \
  "SELECT count(*) = 4 FROM pg_stat_activity WHERE backend_type = 'pg_embed vectorize worker'" 30
echo "pg_embed.vectorize_workers = 1" >> "$dir/data/postgresql.conf"
one postgres "SELECT pg_reload_conf()" >/dev/null
check_wait "and back to one" postgres \
  "SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'pg_embed vectorize worker'" 30

# --- SIGTERM, then kill -9 in the middle of a batch ------------------------------------------
pid=$(one postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_embed vectorize worker' AND datname = 'app1'")
one postgres "SELECT pg_terminate_backend($pid)" >/dev/null
qa app1 -c "INSERT INTO docs (id, body) SELECT g, 'after sigterm ' || g FROM generate_series(700, 719) g" >/dev/null
check_wait "a worker stopped by SIGTERM is started again and carries on" app1 \
  "SELECT count(embedding) = 20 FROM docs WHERE id BETWEEN 700 AND 719" 40
qa app1 -c "INSERT INTO docs (id, body) SELECT g, repeat('a long text to keep the worker busy ', 20) || g FROM generate_series(1000, 1799) g" >/dev/null
if wait_for postgres "SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_embed vectorize worker' AND datname = 'app1' AND state = 'active'" 20; then
  pid=$(one postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_embed vectorize worker' AND datname = 'app1' AND state = 'active' LIMIT 1")
  kill -9 "$pid"
  ok "a worker was killed with SIGKILL in the middle of a batch"
else
  bad "a worker was killed with SIGKILL in the middle of a batch" "no active worker"
fi
sleep 3
check_wait "after the crash restart nothing is lost and nothing is left pending" app1 \
  "SELECT $no_pending AND (SELECT count(embedding) = 800 FROM docs WHERE id BETWEEN 1000 AND 1799) AND ($(all_current docs))" 120
if grep -q "terminated by signal 9" "$dir/data.log"; then ok "the server log shows the kill and the restart"; else bad "the server log shows the kill"; fi
# (the kill is deliberate: do not count it as a crash below)
sed -i 's/terminated by signal 9/killed on purpose (9)/' "$dir/data.log"

# --- a model change without a window of mixed models: a second column, then a switch ---------
qa app1 -c "ALTER TABLE docs ADD COLUMN embedding_l3 vector(384), ADD COLUMN model_id_l3 text" \
  -c "SELECT pg_embed_vectorize('docs', 'body', 'embedding_l3', model => 'paraphrase-MiniLM-L3-v2', model_id_column => 'model_id_l3')" >/dev/null
check_wait "a second vector column with another model is filled by the workers, the first untouched" app1 \
  "SET client_min_messages = warning; SELECT count(*) = count(embedding_l3)
      AND bool_and(1 - (embedding_l3 <=> embed(body, 'paraphrase-MiniLM-L3-v2')) >= 0.9999)
      AND bool_and(model_id_l3 = pg_embed_model_id('paraphrase-MiniLM-L3-v2'))
      AND bool_and(model_id = pg_embed_model_id('all-MiniLM-L6-v2') OR id = 3)
     FROM docs WHERE body IS NOT NULL" 90
check "the status view shows each column's model id" '^2$' \
  "$(one app1 "SELECT count(DISTINCT model_id) FROM pg_embed_vectorize_status WHERE relation = 'docs'::regclass")"
got=$(qa app1 -At -c "SELECT pg_embed_unvectorize('docs', 'embedding_l3')" -c "ALTER TABLE docs DROP COLUMN embedding_l3, DROP COLUMN model_id_l3" \
  -c "SELECT count(*) FROM pg_embed_vectorizers WHERE relation = 'docs'::regclass")
check "and the other one is removed by naming its column" '^t.?1$' "$(printf '%s' "$got" | tr '\n' ' ' | tr -s ' ')"

# --- chunking: one vector per chunk in a chunk table -------------------------------------------
# Every row's chunks are pg_embed_chunks' of its current text, each vector its chunk's embedding.
chunks_current="SELECT $no_pending
   AND (SELECT count(*) FROM longdocs_chunks) = (SELECT count(*) FROM longdocs, pg_embed_chunks(body, 64, 8))
   AND (SELECT bool_and(1 - (c.embedding <=> embed_doc(substr(d.body, c.start_pos, c.length))) >= 0.9999)
          FROM longdocs_chunks c JOIN longdocs d USING (id))
   AND NOT EXISTS (SELECT FROM longdocs d, pg_embed_chunks(d.body, 64, 8) p
                    WHERE NOT EXISTS (SELECT FROM longdocs_chunks c WHERE c.id = d.id AND c.chunk = p.chunk
                                        AND c.start_pos = p.start_pos AND c.length = p.length))"
qa app1 -c "CREATE TABLE longdocs (id int PRIMARY KEY, body text)" \
  -c "INSERT INTO longdocs SELECT g, repeat(format('Section %s: how vacuum reclaims dead rows and why. ', g), 20 + g) FROM generate_series(1, 12) g" \
  -c "SELECT pg_embed_vectorize('longdocs', 'body', 'embedding', chunk_table => 'longdocs_chunks', chunk_tokens => 64, chunk_overlap => 8)" >/dev/null
check_wait "a table registered with a chunk table gets one vector per chunk of each row" app1 "$chunks_current" 60
for round in $(seq 1 8); do
  qa app1 -c "UPDATE longdocs SET body = repeat('round $round: merging dictionaries in python. ', 10 + id % 7 + $round) WHERE id % 3 = 0" >/dev/null &
  qa app1 -c "UPDATE longdocs SET body = repeat('round $round: reading csv files line by line. ', 5 + id) WHERE id % 3 = 1" >/dev/null
  wait
done
check_wait "after 16 concurrent updates every row's chunks are its final text's, each vector its chunk's embedding" app1 "$chunks_current" 90
check "a deleted row takes its chunks along" '^0$' "$(qa app1 -At -c "DELETE FROM longdocs WHERE id = 1" -c "SELECT count(*) FROM longdocs_chunks WHERE id = 1")"
check "pg_embed_vectorize_search returns documents by their best chunk" '^t$' \
  "$(qa app1 -At -c "SELECT bool_and(key::int % 3 = 1) AND count(*) = 3 AND count(DISTINCT key) = 3 FROM pg_embed_vectorize_search('longdocs', 'reading csv files', 3)")"

# --- pg_dump and restore: registrations, queue and triggers come back together --------------
qa app1 -c "SELECT pg_embed_vectorize_pause('docs')" -c "INSERT INTO docs (id, body) VALUES (900, 'queued when the dump was taken')" >/dev/null
"$PG_BIN/pg_dump" -h 127.0.0.1 -p "$port" -U postgres -d app1 -f "$dir/app1.sql" 2>"$dir/dump.err" || bad "pg_dump" "$(cat "$dir/dump.err")"
q postgres -c "CREATE DATABASE restored OWNER alice" >/dev/null
got=$(q restored -v ON_ERROR_STOP=1 -f "$dir/app1.sql" 2>&1 | grep -E "ERROR|FATAL")
if [ -z "$got" ]; then ok "the dump restores without errors"; else bad "the dump restores without errors" "$got"; fi
check "the registrations, the queued row and the triggers are restored" '^3\|1\|6$' \
  "$(one restored "SELECT (SELECT count(*) FROM pg_embed_vectorizers), (SELECT count(*) FROM pg_embed_vectorize_queue), (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'pg_embed_vectorize_%')")"
qa restored -c "SELECT pg_embed_vectorize_resume('docs')" -c "INSERT INTO docs (id, body) VALUES (901, 'written after the restore')" >/dev/null
check_wait "in the restored database the worker embeds the queued row and new writes" restored \
  "SELECT count(embedding) = 2 AND bool_and(1 - (embedding <=> embed_doc(body)) >= 0.9999) FROM docs WHERE id IN (900, 901)" 40
qa restored -c "UPDATE longdocs SET body = 'changed after the restore' WHERE id = 2" >/dev/null
check_wait "and keeps the restored chunk table" restored \
  "SELECT count(*) = 1 AND bool_and(1 - (embedding <=> embed_doc('changed after the restore')) >= 0.9999) FROM longdocs_chunks WHERE id = 2" 40
qa app1 -c "SELECT pg_embed_vectorize_resume('docs')" >/dev/null
q postgres -c "DROP DATABASE restored WITH (FORCE)" >/dev/null

# --- hostile roles -----------------------------------------------------------------------------
got=$(qm app1 -c "SELECT pg_embed_vectorize('docs', 'body', 'embedding')")
check "another role cannot register alice's table" 'must be owner of table (public\.)?docs' "$got"
got=$(qm app1 -c "SELECT pg_embed_unvectorize('docs')" -c "SELECT pg_embed_vectorize_pause('docs')")
check "nor unregister or pause it" 'must be owner of table (public\.)?docs.*must be owner of table (public\.)?docs' "$(printf '%s' "$got" | tr '\n' ' ')"
got=$(qm app1 -c "INSERT INTO pg_embed_vectorize_queue (vectorizer, key) SELECT id, '1' FROM pg_embed_vectorizers LIMIT 1" \
  -c "UPDATE pg_embed_vectorizers SET paused = true" -c "BEGIN" -c "LOCK TABLE pg_embed_vectorize_queue IN ACCESS EXCLUSIVE MODE")
check "nor write the queue or the registrations, nor lock them against every writer" \
  'permission denied for table pg_embed_vectorize_queue.*permission denied for table pg_embed_vectorizers.*permission denied for table pg_embed_vectorize_queue' \
  "$(printf '%s' "$got" | tr '\n' ' ')"
got=$(qm app1 -c "CREATE TABLE mine (id int PRIMARY KEY, body text, e vector(384))" \
  -c "CREATE TRIGGER t AFTER INSERT ON mine REFERENCING NEW TABLE AS pg_embed_new FOR EACH STATEMENT EXECUTE FUNCTION pg_embed_vectorize_enqueue('1')" \
  -c "INSERT INTO mine VALUES (1, 'x')")
check "nor use the queue trigger on a table of its own" 'runs only as a trigger made by pg_embed_vectorize' "$got"
# its own registration, then the insert trigger replaced by one without transition tables, so
# that pg_embed_new would name a temporary view of its own that runs code
got=$(qm app1 -At -c "SELECT pg_embed_vectorize('mine', 'body', 'e')" 2>&1)
qm app1 >/dev/null 2>&1 <<SQL
CREATE FUNCTION grab() RETURNS int LANGUAGE plpgsql AS \$\$ BEGIN EXECUTE 'ALTER ROLE mallory SUPERUSER'; RETURN 1; END \$\$;
DROP TRIGGER pg_embed_vectorize_${got}_insert ON mine;
CREATE TRIGGER pg_embed_vectorize_${got}_insert AFTER INSERT ON mine FOR EACH STATEMENT EXECUTE FUNCTION pg_embed_vectorize_enqueue('$got');
SQL
got=$(qm app1 -c "CREATE TEMP VIEW pg_embed_new AS SELECT grab() AS id, 'x'::text AS body" -c "INSERT INTO mine VALUES (2, 'y')")
check "nor a hand-made trigger without transition tables (a temporary view would run as the extension's owner)" \
  'runs only as a trigger made by pg_embed_vectorize' "$got"
check "so mallory is no superuser" '^f$' "$(one postgres "SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'")"
# a table a superuser registered for its owner: the worker runs the owner's code as the owner
qm app1 -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || bad "mallory's trap table"
CREATE TABLE trap (id int PRIMARY KEY, body text, e vector(384));
CREATE TABLE trap_log (who name, became text);
CREATE FUNCTION trap() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r text := 'no';
BEGIN
    BEGIN EXECUTE 'ALTER ROLE mallory SUPERUSER'; r := 'yes'; EXCEPTION WHEN OTHERS THEN r := SQLERRM; END;
    INSERT INTO trap_log VALUES (current_user, r);
    -- inside the worker's batch the session is a superuser's: try to manage alice's table
    BEGIN PERFORM pg_embed_vectorize_pause('docs'); r := 'paused docs'; EXCEPTION WHEN OTHERS THEN r := SQLERRM; END;
    INSERT INTO trap_log VALUES ('pause', r);
    BEGIN PERFORM pg_embed_vectorize_manage('pause', 'docs'::regclass, '{"vectorizer": 1, "paused": true}'); r := 'paused docs';
    EXCEPTION WHEN OTHERS THEN r := SQLERRM; END;
    INSERT INTO trap_log VALUES ('manage', r);
    RETURN NEW;
END $$;
CREATE TRIGGER trap BEFORE UPDATE ON trap FOR EACH ROW EXECUTE FUNCTION trap();
SQL
q app1 -c "SELECT pg_embed_vectorize('public.trap', 'body', 'e')" -c "INSERT INTO public.trap VALUES (1, 'bait')" >/dev/null
check_wait "a table a superuser registered is embedded as its owner" app1 "SELECT count(e) = 1 FROM public.trap" 30
check "whose code runs as the owner and cannot take the superuser's rights" '^mallory\|(permission denied|must be superuser)' \
  "$(one app1 "SELECT who || '|' || became FROM public.trap_log LIMIT 1")"
check "so mallory is still no superuser" '^f$' "$(one postgres "SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'")"
check "nor manage alice's vectorizer from inside the worker's batch" \
  '^manage\|cannot manage vectorizers within a security-restricted operation pause\|must be owner of table (public\.)?docs f$' \
  "$(one app1 "SELECT string_agg(who || '|' || became, ' ' ORDER BY who) FROM public.trap_log WHERE who IN ('pause', 'manage')") $(one app1 "SELECT paused FROM pg_embed_vectorizers WHERE relation = 'docs'::regclass")"
# an owner's trigger that sleeps and swallows cancellation: SIGTERM still ends the worker
qm app1 -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || bad "mallory's sleepy table"
CREATE TABLE sleepy (id int PRIMARY KEY, body text, e vector(384));
CREATE FUNCTION sleepy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN LOOP BEGIN PERFORM pg_sleep(3600); EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $$;
CREATE TRIGGER sleepy BEFORE UPDATE ON sleepy FOR EACH ROW EXECUTE FUNCTION sleepy();
SELECT pg_embed_vectorize('sleepy', 'body', 'e');
INSERT INTO sleepy VALUES (1, 'zzz');
SQL
if wait_for postgres "SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_embed vectorize worker' AND datname = 'app1' AND wait_event = 'PgSleep'" 30; then
  pid=$(one postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_embed vectorize worker' AND datname = 'app1' AND wait_event = 'PgSleep'")
  one postgres "SELECT pg_cancel_backend($pid), pg_terminate_backend($pid)" >/dev/null
  check_wait "a worker held by an owner's trigger that swallows cancellation ends on SIGTERM" postgres \
    "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid" 10
else
  bad "a worker held by an owner's trigger that swallows cancellation ends on SIGTERM" "the worker never reached the trigger"
fi
# The launcher starts a worker again, which takes the row again and sleeps in the trigger again:
# mallory replaces the trigger's function first, the sleeping worker is ended once more, then
# unregistering (which waits for the table's lock) goes through.
qm app1 -c 'CREATE OR REPLACE FUNCTION sleepy() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$' >/dev/null
one postgres "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
               WHERE backend_type = 'pg_embed vectorize worker' AND datname = 'app1' AND wait_event = 'PgSleep'" >/dev/null
check "mallory unregisters her table once its trigger no longer sleeps" '^t$' \
  "$(qm app1 -At -c "SET lock_timeout = '60s'" -c "SELECT pg_embed_unvectorize('sleepy')")"
check "the status view shows mallory no table it may not read" '^0$' \
  "$(qm app1 -At -c "SELECT count(*) FROM pg_embed_vectorize_status WHERE relation IN ('docs'::regclass, 'flaky'::regclass)")"
qa app1 -c "SELECT pg_embed_vectorize_pause('docs')" -c "INSERT INTO docs (id, body) VALUES (950, 'waiting while paused')" >/dev/null
check "nor alice's queue (which alice sees)" '^0\|1$' \
  "$(qm app1 -At -c "SELECT count(*) FROM pg_embed_vectorize_queue WHERE key = '950'")|$(qa app1 -At -c "SELECT count(*) FROM pg_embed_vectorize_queue WHERE key = '950'")"
qa app1 -c "SELECT pg_embed_vectorize_resume('docs')" >/dev/null
got=$(qm app1 -c "SELECT pg_embed_vectorize_batch(1)")
check "only superusers (the workers) run a batch" 'permission denied for function pg_embed_vectorize_batch' "$got"
got=$(qa app1 -c "CREATE TEMP TABLE tmp (id int PRIMARY KEY, body text, e vector)" -c "SELECT pg_embed_vectorize('tmp', 'body', 'e')")
check "a temporary table is refused (the workers cannot see it)" 'not a plain permanent table' "$got"
got=$(qa app1 -c "CREATE TABLE nokey (body text, e vector)" -c "SELECT pg_embed_vectorize('nokey', 'body', 'e')")
check "a table without a usable key is refused with a hint" 'no single-column primary key' "$got"
got=$(qa app1 -c "SELECT pg_embed_vectorize('docs', 'body', 'embedding')")
check "registering the same column twice says so" 'already kept embedded' "$got"

# --- unregistering and dropping ----------------------------------------------------------------
check "pg_embed_unvectorize removes the triggers and the queue" '^t\|0\|0$' \
  "$(qa app1 -At -c "SELECT pg_embed_unvectorize('flaky')" -c "SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'flaky'::regclass), (SELECT count(*) FROM pg_embed_vectorizers WHERE relation = 'flaky'::regclass)" | tr '\n' '|' | sed 's/|$//')"
qa app2 -c "DROP TABLE notes" >/dev/null
check "a dropped table takes its registration along" '^0$' "$(one app2 "SELECT count(*) FROM pg_embed_vectorizers")"
check_wait "a database with nothing registered keeps no worker" postgres \
  "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_embed vectorize worker' AND datname = 'app2'" 20
got=$(q postgres -c "DROP DATABASE app2" -c "SELECT 'dropped'" -At 2>&1)
check "so DROP DATABASE works there" '^dropped$' "$got"
check_logs "$dir"
finish
