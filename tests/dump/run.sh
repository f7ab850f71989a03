#!/usr/bin/env bash
# Dump and restore, on a throwaway cluster owned by the unprivileged user postgres, with a model
# folder the server may write (so registering a user model keeps its definition next to its
# files). A database using every feature (tests/dump/use.sql) is dumped with pg_dump -Fc and
# restored (a) into a new database and (b) with --data-only into a database restored with
# --schema-only: no error, the same rows and vectors bit for bit, user models, projections and
# pins present, routing resolving to the same models (tests/dump/state.sql), BM25 statistics
# (tests/dump/bm25_state.sql): kept by the whole restore and by a data-only one with
# --disable-triggers; counted twice when a data-only restore with the triggers on loads the rows
# after pg_embed's tables, which pg_embed_bm25_check shows and pg_embed_bm25_recount repairs. Also: DROP EXTENSION without CASCADE names what depends on it.
# Prints "N passed, M failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/cluster.sh"
dir=$(test_dir dump)
port=$(free_port)
trap 'remove_clusters "$dir"' EXIT
# The model folder: the set-up's models, and a folder of the user model the server may write.
mkdir -p "$dir/models/minilm-l6-w8"
for m in all-MiniLM-L6-v2 paraphrase-MiniLM-L3-v2; do ln -s "$MODEL_DIR/$m" "$dir/models/$m"; done
for f in "$MODEL_DIR"/minilm-l6-w8/*; do ln -s "$f" "$dir/models/minilm-l6-w8/"; done
chown -R postgres: "$dir/models"
start_cluster "$dir/data" "$port" "pg_embed.model_dir = '$dir/models'" || exit 1
cp "$here"/*.sql "$dir"/ && chown postgres: "$dir"/*.sql
q() { local db=$1; shift; psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@" 2>&1; }

q postgres -c "CREATE DATABASE src" -c "CREATE DATABASE dst" -c "CREATE DATABASE dst2" -c "CREATE DATABASE dst4" >/dev/null
out=$(q src -f "$dir/use.sql")
if printf '%s' "$out" | grep -q ERROR; then bad "the database to dump" "$out"; else ok "a database using every feature, pg_embed off the search_path"; fi
[ -f "$dir/models/minilm-l6-w8/pg_embed_model.json" ] && ok "registering the user model stored its definition next to its files" \
  || bad "registering the user model stored its definition next to its files"
before=$(q src -f "$dir/state.sql")
bm25_before=$(q src -f "$dir/bm25_state.sql")
as_pg "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$port" -U postgres -Fc -f "$dir/src.dump" src || bad "pg_dump"

# (a) A whole restore into a new database.
err=$(as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$port" -U postgres -d dst "$dir/src.dump" 2>&1); rc=$?
if [ $rc = 0 ] && [ -z "$err" ]; then ok "pg_restore into a new database: no error"; else bad "pg_restore into a new database (exit $rc)" "$err"; fi
after=$(q dst -f "$dir/state.sql")
if [ "$before" = "$after" ]; then ok "same rows, vectors bit for bit, indexes, trigger, user models, projections, pins and routing"
else bad "the restored database differs" "$(diff <(echo "$before") <(echo "$after"))"; fi
bm25_after=$(q dst -f "$dir/bm25_state.sql")
if [ "$bm25_before" = "$bm25_after" ] && printf '%s' "$bm25_after" | grep -q "bm25-consistent true"; then
  ok "BM25: the same statistics, consistent with the table, and the same scores"
else bad "BM25 after the restore" "$(diff <(echo "$bm25_before") <(echo "$bm25_after"))"; fi

# (b) Schema first, then --data-only (triggers fire: the provenance trigger embeds again).
err=$(as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$port" -U postgres -d dst2 --schema-only "$dir/src.dump" 2>&1 \
      && as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$port" -U postgres -d dst2 --data-only "$dir/src.dump" 2>&1); rc=$?
if [ $rc = 0 ] && [ -z "$err" ]; then ok "pg_restore --schema-only, then --data-only: no error"; else bad "pg_restore --data-only (exit $rc)" "$err"; fi
after2=$(q dst2 -f "$dir/state.sql")
if [ "$before" = "$after2" ]; then ok "the data-only restore has the same rows and vectors too"
else bad "the data-only restore differs" "$(diff <(echo "$before") <(echo "$after2"))"; fi
# Here the table's rows come back before pg_embed's tables (whose rows then replace nothing the
# triggers counted: they were not registered yet).
bm25_after2=$(q dst2 -f "$dir/bm25_state.sql")
if [ "$bm25_before" = "$bm25_after2" ]; then ok "BM25 after the data-only restore: the same statistics and scores"
else bad "BM25 after the data-only restore" "$(diff <(echo "$bm25_before") <(echo "$bm25_after2"))"; fi
# When pg_embed's tables come back first, the triggers count the rows again on top of the
# restored statistics: pg_embed_bm25_check says so, pg_embed_bm25_recount repairs it.
q postgres -c "CREATE DATABASE dst5" >/dev/null
err=$(as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$port" -U postgres -d dst5 --schema-only "$dir/src.dump" 2>&1 \
      && as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$port" -U postgres -d dst5 --data-only -n emb "$dir/src.dump" 2>&1 \
      && as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$port" -U postgres -d dst5 --data-only -n app "$dir/src.dump" 2>&1)
check "BM25 restored statistics first, then the rows with the triggers on: pg_embed_bm25_check reports the double count" \
  "bm25-consistent false" "$err$(q dst5 -f "$dir/bm25_state.sql")"
bm25_after5=$(q dst5 -c "SELECT emb.pg_embed_bm25_recount('app.notes')" -f "$dir/bm25_state.sql" | grep "^bm25")
if [ "$bm25_before" = "$bm25_after5" ]; then ok "BM25: pg_embed_bm25_recount repairs it (the same statistics and scores)"
else bad "BM25 after pg_embed_bm25_recount" "$(diff <(echo "$bm25_before") <(echo "$bm25_after5"))"; fi
# With --disable-triggers (as pg_restore advises for data-only restores) nothing is counted twice.
err=$(as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$port" -U postgres -d dst4 --schema-only "$dir/src.dump" 2>&1 \
      && as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$port" -U postgres -d dst4 --data-only --disable-triggers "$dir/src.dump" 2>&1); rc=$?
bm25_after4=$(q dst4 -f "$dir/bm25_state.sql")
if [ $rc = 0 ] && [ -z "$err" ] && [ "$bm25_before" = "$bm25_after4" ]; then
  ok "BM25 after a data-only restore with --disable-triggers: the same statistics and scores"
else bad "BM25 after a data-only restore with --disable-triggers (exit $rc)" "$err$(diff <(echo "$bm25_before") <(echo "$bm25_after4"))"; fi

# Without the definition next to the files, the same restore loses the table's rows (its
# data comes back before the registration): what the definition file is for.
q postgres -c "CREATE DATABASE dst3" >/dev/null
mv "$dir/models/minilm-l6-w8/pg_embed_model.json" "$dir/definition.json"
err=$(as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$port" -U postgres -d dst3 "$dir/src.dump" 2>&1)
mv "$dir/definition.json" "$dir/models/minilm-l6-w8/pg_embed_model.json"
if printf '%s' "$err" | grep -q 'COPY failed for table "docs"' && [ "$(q dst3 -At -c "SELECT count(*) FROM app.docs")" = 0 ]; then
  ok "without the definition file the restore would lose the rows (control)"
else
  bad "control: a restore without the definition file" "$err"
fi

# DROP EXTENSION without CASCADE refuses and names the dependents.
out=$(q src -v VERBOSITY=verbose -c "DROP EXTENSION pg_embed")
if printf '%s' "$out" | grep -q "2BP01" && printf '%s' "$out" | grep -q "column gen of table app.docs" \
   && printf '%s' "$out" | grep -q "index app.docs_expr" && printf '%s' "$out" | grep -q "trigger docs_prov on table app.docs"; then
  ok "DROP EXTENSION pg_embed without CASCADE refuses (2BP01) and names the generated column, index and trigger"
else
  bad "DROP EXTENSION pg_embed without CASCADE" "$out"
fi
check_logs "$dir"
finish
