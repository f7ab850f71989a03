-- pg_embed 0.2.0 -> 0.3.0: Citus.
--  * pg_embed_backfill walks a Citus distributed table by its distribution column and lets the
--    workers embed through embed_fixed() with the coordinator's model file, precision and
--    long-text mode (pg_embed_backfill_begin, pg_embed_backfill_step replaced).
--  * User models, projections and pins are sent from a Citus coordinator to its workers when a
--    transaction that changed them commits, and on demand with pg_embed_citus_sync().
-- Without Citus nothing changes: the new functions find no Citus catalog and do nothing.
\echo Use "ALTER EXTENSION pg_embed UPDATE TO '0.3.0'" to load this file. \quit

-- Citus's catalogs and functions are reached by name through dynamic SQL, so none of this needs
-- Citus to be installed; without it each function does nothing (or says it needs Citus).

-- The column a backfill of a Citus table picks its chunks by: the distribution column, or for a
-- table without one (a reference table) its one-column primary key. NULL for a table Citus does
-- not manage, or when Citus is not installed in this database.
CREATE FUNCTION pg_embed_citus_key(relation regclass) RETURNS name
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    managed boolean;
    key name;
BEGIN
    IF relation IS NULL OR to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE 'SELECT true, CASE WHEN p.partkey IS NOT NULL THEN pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) END
               FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1'
       INTO managed, key USING relation;
    IF managed IS NULL OR key IS NOT NULL THEN
        RETURN key;
    END IF;
    SELECT a.attname INTO key
      FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
     WHERE i.indrelid = relation AND i.indisprimary AND i.indnkeyatts = 1;
    IF key IS NULL THEN
        RAISE EXCEPTION 'the Citus table % has no distribution column and no one-column primary key', relation
            USING ERRCODE = '0A000',
                  HINT = 'pg_embed_backfill walks a Citus table by such a column: add a primary key, or embed with UPDATE ... SET col = embed_fixed(...).';
    END IF;
    RETURN key;
END
$$;
COMMENT ON FUNCTION pg_embed_citus_key(regclass) IS
  'Internal: the column pg_embed_backfill walks a Citus table by (its distribution column, else its one-column primary key); NULL for other tables.';

-- Whether this database is a Citus coordinator with at least one active worker.
CREATE FUNCTION pg_embed_citus_coordinator() RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    answer boolean;
BEGIN
    IF to_regprocedure('pg_catalog.citus_is_coordinator()') IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT pg_catalog.citus_is_coordinator() AND EXISTS (SELECT FROM pg_catalog.pg_dist_node
               WHERE isactive AND noderole = ''primary'' AND groupid <> 0)' INTO answer;
    RETURN answer;
END
$$;
COMMENT ON FUNCTION pg_embed_citus_coordinator() IS
  'Internal: whether this database is a Citus coordinator with active workers.';

-- Makes the workers' user models, projections and pins equal to the coordinator's, each worker
-- in one transaction of its own. Runs with the caller's rights: whoever may change these tables
-- on the coordinator may change them on the workers.
CREATE FUNCTION pg_embed_citus_sync() RETURNS TABLE (node text, success boolean, result text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cmd text;
    t text;
    rows json;
BEGIN
    IF to_regprocedure('pg_catalog.citus_is_coordinator()') IS NULL THEN
        RAISE EXCEPTION 'Citus is not installed in this database' USING ERRCODE = '0A000',
            HINT = 'pg_embed_citus_sync() copies pg_embed''s tables from a Citus coordinator to its workers.';
    END IF;
    IF NOT @extschema@.pg_embed_citus_coordinator() THEN
        RAISE EXCEPTION 'this database is not a Citus coordinator with active workers' USING ERRCODE = '0A000',
            HINT = 'Run SELECT * FROM pg_embed_citus_sync(); on the coordinator.';
    END IF;
    cmd := 'BEGIN;';
    FOREACH t IN ARRAY ARRAY['pg_embed_user_models', 'pg_embed_projections', 'pg_embed_selection'] LOOP
        EXECUTE format('SELECT coalesce(json_agg(r), ''[]'') FROM %I.%I r', '@extschema@', t) INTO rows;
        cmd := cmd || format(' LOCK TABLE %1$I.%2$I IN EXCLUSIVE MODE; DELETE FROM %1$I.%2$I;'
                             ' INSERT INTO %1$I.%2$I SELECT * FROM pg_catalog.json_populate_recordset(NULL::%1$I.%2$I, %3$L);',
                             '@extschema@', t, rows);
    END LOOP;
    cmd := cmd || ' COMMIT;';
    RETURN QUERY EXECUTE 'SELECT w.nodename || '':'' || w.nodeport, w.success, w.result
                            FROM pg_catalog.run_command_on_workers($1) w ORDER BY 1' USING cmd;
END
$$;
COMMENT ON FUNCTION pg_embed_citus_sync() IS
  'Citus: makes every worker''s pg_embed_user_models, pg_embed_projections and pg_embed_selection equal to the coordinator''s (each worker in one transaction); returns one row per worker. Changes made on the coordinator are sent at commit by themselves; run this after adding a worker, or after a warning that sending failed.';
REVOKE ALL ON FUNCTION pg_embed_citus_sync() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_embed_citus_sync() TO embed_admin;

-- At commit of a transaction that changed one of those tables on a Citus coordinator: send the
-- tables to the workers, once per transaction. The tables are read in the committing
-- transaction, so the workers get what the coordinator is committing. A worker that cannot be
-- reached does not undo the coordinator's change: a WARNING names it and says what to run.
CREATE FUNCTION pg_embed_citus_propagate() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    failed text;
BEGIN
    IF NOT @extschema@.pg_embed_citus_coordinator()
       OR current_setting('pg_embed_citus.sent_in', true) = txid_current()::text THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('pg_embed_citus.sent_in', txid_current()::text, true);
    SELECT string_agg(s.node || ' (' || s.result || ')', ', ') INTO failed
      FROM @extschema@.pg_embed_citus_sync() s WHERE NOT s.success;
    IF failed IS NOT NULL THEN
        RAISE WARNING 'pg_embed: the change to % did not reach every Citus worker', TG_TABLE_NAME
            USING DETAIL = 'Not reached: ' || failed || '. Those workers keep their old rows until the next change or sync.',
                  HINT = 'Once the workers are reachable, run SELECT * FROM pg_embed_citus_sync(); on the coordinator.';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION pg_embed_citus_propagate() IS
  'Internal: the deferred trigger that sends pg_embed''s user models, projections and pins to the Citus workers when a transaction that changed them commits on the coordinator.';
REVOKE ALL ON FUNCTION pg_embed_citus_propagate() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER pg_embed_citus_propagate AFTER INSERT OR UPDATE OR DELETE ON pg_embed_user_models
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_embed_citus_propagate();
CREATE CONSTRAINT TRIGGER pg_embed_citus_propagate AFTER INSERT OR UPDATE OR DELETE ON pg_embed_projections
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_embed_citus_propagate();
CREATE CONSTRAINT TRIGGER pg_embed_citus_propagate AFTER INSERT OR UPDATE OR DELETE ON pg_embed_selection
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_embed_citus_propagate();

CREATE OR REPLACE FUNCTION pg_embed_backfill_begin(
    relation regclass, text_column name, vector_column name, model text, chunk_size int,
    hash_column name, model_id_column name, notice_every bigint
) RETURNS jsonb LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key bigint;
    -- The model each row should be embedded with, as SQL over the text expression %s.
    model_name text := coalesce(model, @extschema@.pg_embed_role_model('doc'::text));
    id_literal text;
    todo text;
    embed_expr text;
    set_extra text := '';
    total bigint;
    leaves jsonb;
    started timestamptz := clock_timestamp();
    -- On a Citus distributed table, the column chunks are picked by (else NULL).
    dist_key name := @extschema@.pg_embed_citus_key(relation);
BEGIN
    IF relation IS NULL THEN
        RAISE EXCEPTION 'relation must not be NULL' USING ERRCODE = '22004', HINT = 'Name the table to backfill, e.g. ''docs''.';
    END IF;
    IF chunk_size IS NULL OR chunk_size < 1 THEN
        RAISE EXCEPTION 'chunk_size must be at least 1, not %', coalesce(chunk_size::text, 'NULL') USING ERRCODE = '22023',
            HINT = 'chunk_size => 200 commits every 200 rows.';
    END IF;
    PERFORM @extschema@.pg_embed_check_column(relation::regclass, text_column::name, '{text,varchar}'::regtype[], 'text'::text);
    PERFORM @extschema@.pg_embed_check_column(relation::regclass, vector_column::name, (ARRAY[@extschema@.pg_embed_vector_type()])::regtype[], 'vector'::text);
    IF hash_column IS NOT NULL THEN
        PERFORM @extschema@.pg_embed_check_column(relation::regclass, hash_column::name, '{text,varchar}'::regtype[], 'hash'::text);
    END IF;
    IF model_id_column IS NOT NULL THEN
        PERFORM @extschema@.pg_embed_check_column(relation::regclass, model_id_column::name, '{text}'::regtype[], 'model id'::text);
    END IF;
    IF NOT has_table_privilege(relation, 'UPDATE') THEN
        RAISE EXCEPTION 'permission denied for table %', relation USING ERRCODE = '42501',
            HINT = 'Backfill a table you may update, or ask its owner to GRANT UPDATE on it.';
    END IF;
    IF model = 'auto' AND dist_key IS NOT NULL THEN
        RAISE EXCEPTION 'model => ''auto'' cannot backfill the distributed table %', relation USING ERRCODE = '0A000',
            DETAIL = 'Citus runs the embedding on the workers, where only the IMMUTABLE embed_fixed(), whose arguments name the model and precision, may be pushed down.',
            HINT = 'Name one model, e.g. model => ''all-MiniLM-L6-v2''.';
    ELSIF model = 'auto' THEN
        model_name := 'auto';
        embed_expr := format('@extschema@.embed_auto(t.%I::text)', text_column);
    ELSIF dist_key IS NOT NULL THEN
        -- The workers embed with the model file, precision and long-text mode this session
        -- resolves now: they are spelled out in the pushed-down call, not read from the
        -- workers' settings.
        id_literal := quote_literal(@extschema@.pg_embed_model_id(model_name));
        embed_expr := format('@extschema@.embed_fixed(t.%I::text, %L::text, %L::text, %L::text)', text_column, model_name,
                             split_part(@extschema@.pg_embed_model_id(model_name), '/', -2), current_setting('pg_embed.long_text'));
    ELSE
        PERFORM @extschema@.pg_embed_model_id(model_name);  -- an unknown model fails here, before any work
        embed_expr := format('@extschema@.embed(t.%I::text, %L::text)', text_column, model_name);
        id_literal := quote_literal(@extschema@.pg_embed_model_id(model_name));
    END IF;
    -- Rows still to do: no vector yet, or (with a hash column) text changed since it was
    -- embedded, or (with a model id column) made by another model or model file.
    todo := format('%I IS NOT NULL AND (%I IS NULL', text_column, vector_column);
    IF hash_column IS NOT NULL THEN
        todo := todo || format(' OR %I IS DISTINCT FROM md5(%I)', hash_column, text_column);
        set_extra := set_extra || format(', %I = md5(t.%I)', hash_column, text_column);
    END IF;
    IF model_id_column IS NOT NULL THEN
        todo := todo || format(' OR %I IS DISTINCT FROM ', model_id_column)
                || coalesce(id_literal, format('@extschema@.pg_embed_model_id(@extschema@.embed_auto_model(%I::text))', text_column));
        set_extra := set_extra || format(', %I = ', model_id_column)
                || coalesce(id_literal, format('@extschema@.pg_embed_model_id(@extschema@.embed_auto_model(t.%I::text))', text_column));
    END IF;
    todo := todo || ')';
    key := @extschema@.pg_embed_backfill_key(relation, vector_column);
    IF NOT @extschema@.pg_embed_backfill_running(pg_backend_pid(), relation, vector_column) AND NOT pg_try_advisory_lock(key) THEN
        RAISE EXCEPTION 'a backfill of %.% is already running', relation, vector_column USING ERRCODE = '55P03',
            DETAIL = (SELECT format('Backend %s (role %s%s) holds its lock.', l.pid, a.usename,
                                    CASE WHEN has_table_privilege(a.usesysid, relation, 'UPDATE') THEN ''
                                         ELSE ', which may not update the table: it is not a backfill' END)
                        FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
                       WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                         AND ((l.classid::bigint << 32) | l.objid::bigint) = key LIMIT 1),
            HINT = 'Wait for it to finish (see pg_embed_backfills), or end that session: SELECT pg_terminate_backend(pid);';
    END IF;
    DELETE FROM @extschema@.pg_embed_backfill_progress p
     WHERE p.relation = pg_embed_backfill_begin.relation AND p.vector_column = pg_embed_backfill_begin.vector_column
       AND (p.pid = pg_backend_pid() OR NOT @extschema@.pg_embed_backfill_running(p.pid, p.relation, p.vector_column));
    EXECUTE format('SELECT count(*) FROM %s WHERE %s', relation, todo) INTO total;
    INSERT INTO @extschema@.pg_embed_backfill_progress
        (pid, relation, text_column, vector_column, model, started, updated, rows_done, rows_total)
    VALUES (pg_backend_pid(), relation, text_column, vector_column, model_name, started, clock_timestamp(), 0, total);
    -- The tables that hold the rows: the relation itself, or a partitioned table's leaves.
    SELECT coalesce(jsonb_agg(t.relid::oid ORDER BY t.level, t.relid::oid), jsonb_build_array(relation::oid)) INTO leaves
      FROM pg_partition_tree(relation) t JOIN pg_class c ON c.oid = t.relid
     WHERE t.isleaf AND c.relkind = 'r';
    IF dist_key IS NOT NULL THEN
        -- Citus: chunks are ranges of the distribution column, walked through the table itself.
        leaves := jsonb_build_array(relation::oid);
    END IF;
    RETURN CASE WHEN dist_key IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('key', dist_key,
               'key_type', (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                             WHERE a.attrelid = relation AND a.attname = dist_key)) END || jsonb_build_object(
        'relation', relation::oid, 'text_column', text_column, 'vector_column', vector_column, 'todo', todo,
        'set', format('%I = %s%s', vector_column, embed_expr, set_extra),
        'chunk', chunk_size, 'leaves', leaves, 'leaf', 0, 'after', '(0,0)', 'pass', 1,
        'done', 0, 'total', total, 'started', started, 'notice_every', notice_every,
        'next_notice', notice_every, 'ended', false,
        -- With pg_embed.persistent_cache = write, each chunk's texts go to the shared cache
        -- table first (through pg_embed_cache_store, for roles that may run it), so a later
        -- run over the same texts reads them back instead of embedding them again.
        'cache_model', CASE WHEN model_name <> 'auto' AND dist_key IS NULL AND current_setting('pg_embed.persistent_cache') = 'write'
                                 AND has_function_privilege('@extschema@.pg_embed_cache_store(text, text[])', 'EXECUTE')
                            THEN model_name END);
END
$$;

CREATE OR REPLACE FUNCTION pg_embed_backfill_step(state jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rel regclass := (state ->> 'relation')::oid::regclass;
    vcol name := state ->> 'vector_column';
    leaf regclass;
    picked bigint;
    n bigint;
    last tid;
    remaining bigint;
    done bigint := (state ->> 'done')::bigint;
    total bigint := (state ->> 'total')::bigint;
    elapsed float8;
    keys text;
    last_key text;
BEGIN
    IF state ? 'key' AND (state ->> 'leaf')::int = 0 THEN
        -- A Citus distributed table: the next chunk_size keys of the distribution column
        -- after the last chunk's, then one multi-shard UPDATE that the workers run, each on
        -- its own shards, through the IMMUTABLE embed_fixed(). Row locks are taken by that
        -- UPDATE (Citus allows no FOR UPDATE SKIP LOCKED here), so it waits for writers.
        EXECUTE format('SELECT array_agg(s.k ORDER BY s.k)::text, count(*), max(s.k)::text FROM '
                       '(SELECT %1$I AS k FROM %2$s WHERE %3$s AND %4$s ORDER BY %1$I LIMIT %5$s) s',
                       state ->> 'key', rel,
                       CASE WHEN state ? 'after_key' THEN format('%I > $1::%s', state ->> 'key', state ->> 'key_type') ELSE 'true' END,
                       state ->> 'todo', state ->> 'chunk')
        USING state ->> 'after_key' INTO keys, picked, last_key;
        IF picked = 0 THEN
            RETURN (state - 'after_key') || jsonb_build_object('leaf', 1);
        END IF;
        EXECUTE format('UPDATE %1$s AS t SET %2$s WHERE t.%3$I = ANY($1::%4$s[]) AND %5$s',
                       rel, state ->> 'set', state ->> 'key', state ->> 'key_type', state ->> 'todo')
        USING keys;
        GET DIAGNOSTICS n = ROW_COUNT;
        state := state || jsonb_build_object('after_key', last_key);
    ELSIF (state ->> 'leaf')::int < jsonb_array_length(state -> 'leaves') THEN
        leaf := (state -> 'leaves' ->> (state ->> 'leaf')::int)::oid::regclass;
        IF state ->> 'cache_model' IS NOT NULL THEN
            EXECUTE format('SELECT @extschema@.pg_embed_cache_store(%L::text, array_agg(s.t::text)) FROM '
                           '(SELECT %I AS t FROM ONLY %s WHERE ctid > $1 AND %s LIMIT %s) s',
                           state ->> 'cache_model', state ->> 'text_column', leaf, state ->> 'todo', state ->> 'chunk')
            USING (state ->> 'after')::tid;
        END IF;
        EXECUTE format(
            'WITH chunk AS MATERIALIZED (SELECT ctid AS c FROM ONLY %1$s WHERE ctid > $1 AND %2$s LIMIT %3$s FOR UPDATE SKIP LOCKED),
                  upd AS (UPDATE ONLY %1$s AS t SET %4$s FROM chunk WHERE t.ctid = chunk.c RETURNING 1)
             SELECT (SELECT count(*) FROM chunk), (SELECT count(*) FROM upd), (SELECT max(c) FROM chunk)',
            leaf, state ->> 'todo', state ->> 'chunk', state ->> 'set')
        USING (state ->> 'after')::tid INTO picked, n, last;
        IF picked = 0 THEN
            RETURN state || jsonb_build_object('leaf', (state ->> 'leaf')::int + 1, 'after', '(0,0)');
        END IF;
        state := state || jsonb_build_object('after', last::text);
    END IF;
    IF (state ->> 'leaf')::int < jsonb_array_length(state -> 'leaves') THEN
        done := done + n;
        UPDATE @extschema@.pg_embed_backfill_progress p
           SET rows_done = done, rows_total = greatest(total, done), updated = clock_timestamp()
         WHERE p.pid = pg_backend_pid() AND p.relation = rel AND p.vector_column = vcol;
        IF done >= (state ->> 'next_notice')::bigint THEN
            elapsed := extract(epoch FROM clock_timestamp() - (state ->> 'started')::timestamptz);
            RAISE NOTICE 'pg_embed_backfill: % of % rows (% rows/s, about % s left)',
                done, total, round((done / nullif(elapsed, 0))::numeric, 1),
                round((greatest(total - done, 0) * elapsed / done)::numeric);
            state := state || jsonb_build_object('next_notice', done + (state ->> 'notice_every')::bigint);
        END IF;
        RETURN state || jsonb_build_object('done', done);
    END IF;
    -- End of a pass: what is left was locked by other sessions (or written since).
    EXECUTE format('SELECT count(*) FROM %s WHERE %s', rel, state ->> 'todo') INTO remaining;
    IF remaining > 0 AND (state ->> 'pass')::int < 3 THEN
        PERFORM pg_sleep(0.2 * (state ->> 'pass')::int);
        RETURN (state - 'after_key') || jsonb_build_object('pass', (state ->> 'pass')::int + 1, 'leaf', 0, 'after', '(0,0)');
    END IF;
    UPDATE @extschema@.pg_embed_backfill_progress p
       SET rows_done = done, rows_total = greatest(total, done + remaining), updated = clock_timestamp(),
           finished = remaining = 0, rows_skipped = remaining
     WHERE p.pid = pg_backend_pid() AND p.relation = rel AND p.vector_column = vcol;
    PERFORM @extschema@.pg_embed_backfill_end(state);
    IF remaining > 0 THEN
        RAISE WARNING 'pg_embed_backfill: % rows of % still have no vector', remaining, rel
            USING DETAIL = 'Other sessions held them locked through three passes, or wrote them while the backfill ran.',
                  HINT = format('CALL pg_embed_backfill(%L, %L, %L, ...) again once those transactions have ended.', rel::text, state ->> 'text_column', vcol);
    ELSE
        RAISE NOTICE 'pg_embed_backfill: done, % rows embedded in % s', done,
            round(extract(epoch FROM clock_timestamp() - (state ->> 'started')::timestamptz)::numeric, 1);
    END IF;
    RETURN state || jsonb_build_object('done', done, 'ended', true);
END
$$;
