-- pg_embed 0.2.0 -> 0.3.0: Citus.
--  * pg_embed_backfill walks a Citus table by its primary key (or distribution column) and lets
--    the workers embed through embed_fixed() with the coordinator's precision and long-text
--    mode, after checking that every worker has the coordinator's model file
--    (pg_embed_backfill_begin, pg_embed_backfill_step replaced).
--  * User models, projections and pins are sent from a Citus coordinator to its workers when a
--    transaction that changed them commits; pg_embed_citus_sync() and pg_embed_citus_check().
-- Without Citus nothing changes: the new functions find no Citus catalog and do nothing.
\echo Use "ALTER EXTENSION pg_embed UPDATE TO '0.3.0'" to load this file. \quit

-- Citus's catalogs and functions are reached by name through dynamic SQL, so none of this needs
-- Citus to be installed; without it each function does nothing (or says it needs Citus).

-- The columns a backfill of a Citus table picks its chunks by: the primary key when it includes
-- the distribution column (so each chunk is exactly chunk_size rows), else the distribution
-- column alone (a chunk then holds every row of its key values); a table without a distribution
-- column (a reference table) needs a primary key. NULL for a table Citus does not manage, or
-- when Citus is not installed in this database.
CREATE FUNCTION pg_embed_citus_keys(relation regclass) RETURNS name[]
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    managed boolean;
    dist name;
    pk name[];
BEGIN
    IF relation IS NULL OR to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE 'SELECT true, CASE WHEN p.partkey IS NOT NULL THEN pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) END
               FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1'
       INTO managed, dist USING relation;
    IF managed IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(a.attname ORDER BY k.n) INTO pk
      FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY k(attnum, n)
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = relation AND i.indisprimary;
    IF pk IS NOT NULL AND (dist IS NULL OR dist = ANY (pk)) THEN
        RETURN pk;
    ELSIF dist IS NOT NULL THEN
        RETURN ARRAY[dist];
    END IF;
    RAISE EXCEPTION 'the Citus table % has no distribution column and no primary key', relation
        USING ERRCODE = '0A000',
              HINT = 'pg_embed_backfill walks a Citus table by its primary key: add one, or embed with UPDATE ... SET col = embed_fixed(...).';
END
$$;
COMMENT ON FUNCTION pg_embed_citus_keys(regclass) IS
  'Internal: the columns pg_embed_backfill walks a Citus table by (its primary key when it includes the distribution column, else the distribution column); NULL for other tables.';

-- The Citus workers whose file for a model, at a precision, is not the one this node resolves
-- (or that cannot load it): "host:port (their model id or error)", comma-separated; NULL when
-- every worker agrees.
CREATE FUNCTION pg_embed_citus_model_mismatch(model text, model_precision text) RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    answer text;
BEGIN
    EXECUTE 'SELECT string_agg(w.nodename || '':'' || w.nodeport || '' ('' || w.result || '')'', '', '' ORDER BY w.nodeport)
               FROM pg_catalog.run_command_on_workers($1) w WHERE NOT w.success OR w.result <> $2'
       INTO answer
      USING format('SELECT %I.pg_embed_model_id(%L) FROM (SELECT pg_catalog.set_config(''pg_embed.precision'', %L, true)) s',
                   '@extschema@', model, model_precision),
            @extschema@.pg_embed_model_id(model);
    RETURN answer;
END
$$;
COMMENT ON FUNCTION pg_embed_citus_model_mismatch(text, text) IS
  'Internal: the Citus workers whose model file for a model at a precision differs from this node''s, or that cannot load it.';

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

-- A checksum of the rows of the tables that decide a vector (user models, projections, pins),
-- the same on every node that holds the same rows. Timestamps are written in UTC, whatever the
-- session's time zone.
CREATE FUNCTION pg_embed_citus_checksum() RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $$
BEGIN
    RETURN md5(concat_ws('|',
        (SELECT json_agg(r ORDER BY r.name)::text FROM @extschema@.pg_embed_user_models r),
        (SELECT json_agg(r ORDER BY r.model, r.reference)::text FROM @extschema@.pg_embed_projections r),
        (SELECT json_agg(r ORDER BY r.role)::text FROM @extschema@.pg_embed_selection r)));
END
$$;
COMMENT ON FUNCTION pg_embed_citus_checksum() IS
  'Internal: md5 of the rows of pg_embed_user_models, pg_embed_projections and pg_embed_selection, to compare Citus nodes.';

-- Makes the workers' user models, projections and pins equal to the coordinator's, each worker
-- in one transaction of its own (one DO statement), then, in a second statement, compares every
-- worker's checksum with the coordinator's (pg_embed_citus_check): success is true only for a
-- worker that now holds exactly these rows. Runs
-- with the caller's rights: whoever may change these tables on the coordinator may change them
-- on the workers.
CREATE FUNCTION pg_embed_citus_sync() RETURNS TABLE (node text, success boolean, result text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    body text := '';
    t text;
    rows json;
    sent jsonb;
BEGIN
    IF to_regprocedure('pg_catalog.citus_is_coordinator()') IS NULL THEN
        RAISE EXCEPTION 'Citus is not installed in this database' USING ERRCODE = '0A000',
            HINT = 'pg_embed_citus_sync() copies pg_embed''s tables from a Citus coordinator to its workers.';
    END IF;
    IF NOT @extschema@.pg_embed_citus_coordinator() THEN
        RAISE EXCEPTION 'this database is not a Citus coordinator with active workers' USING ERRCODE = '0A000',
            HINT = 'Run SELECT * FROM pg_embed_citus_sync(); on the coordinator.';
    END IF;
    -- Changes to these tables and syncs go one at a time (see pg_embed_citus_changed).
    PERFORM pg_advisory_xact_lock(hashtext('pg_embed'), hashtext('citus sync'));
    FOREACH t IN ARRAY ARRAY['pg_embed_user_models', 'pg_embed_projections', 'pg_embed_selection'] LOOP
        EXECUTE format('SELECT coalesce(json_agg(r), ''[]'') FROM %I.%I r', '@extschema@', t) INTO rows;
        body := body || format(' LOCK TABLE %1$I.%2$I IN SHARE ROW EXCLUSIVE MODE; DELETE FROM %1$I.%2$I;'
                               ' INSERT INTO %1$I.%2$I SELECT * FROM pg_catalog.json_populate_recordset(NULL::%1$I.%2$I, %3$L);',
                               '@extschema@', t, rows);
    END LOOP;
    EXECUTE 'SELECT jsonb_object_agg(w.nodename || '':'' || w.nodeport, jsonb_build_array(w.success, w.result))
               FROM pg_catalog.run_command_on_workers($1) w'
       INTO sent USING 'DO ' || quote_literal('BEGIN' || body || ' END');
    -- Only once every worker has answered: their checksums.
    RETURN QUERY
        SELECT c.node, (sent -> c.node ->> 0)::boolean AND c.in_sync,
               CASE WHEN NOT (sent -> c.node ->> 0)::boolean THEN sent -> c.node ->> 1
                    WHEN c.in_sync THEN 'in sync' ELSE 'rows differ after the sync' END
          FROM @extschema@.pg_embed_citus_check() c ORDER BY c.node;
END
$$;
COMMENT ON FUNCTION pg_embed_citus_sync() IS
  'Citus: makes every worker''s pg_embed_user_models, pg_embed_projections and pg_embed_selection equal to the coordinator''s (each worker in one transaction) and checks it; returns one row per worker. Changes made on the coordinator are sent at commit by themselves; run this after adding a worker, after updating the extension, or when pg_embed_citus_check() shows a worker out of sync.';
REVOKE ALL ON FUNCTION pg_embed_citus_sync() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_embed_citus_sync() TO embed_admin;

-- Whether each worker holds the coordinator's user models, projections and pins.
CREATE FUNCTION pg_embed_citus_check() RETURNS TABLE (node text, in_sync boolean)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT @extschema@.pg_embed_citus_coordinator() THEN
        RAISE EXCEPTION 'this database is not a Citus coordinator with active workers' USING ERRCODE = '0A000',
            HINT = 'Run SELECT * FROM pg_embed_citus_check(); on the coordinator.';
    END IF;
    RETURN QUERY EXECUTE
        'SELECT w.nodename || '':'' || w.nodeport, w.success AND w.result = $2
           FROM pg_catalog.run_command_on_workers($1) w ORDER BY 1'
        USING format('SELECT %I.pg_embed_citus_checksum()', '@extschema@'), @extschema@.pg_embed_citus_checksum();
END
$$;
COMMENT ON FUNCTION pg_embed_citus_check() IS
  'Citus: one row per worker, in_sync = the worker holds the coordinator''s user models, projections and pins (compared by checksum).';

-- Before each statement that changes one of those tables on a Citus coordinator: refuses
-- REPEATABLE READ and SERIALIZABLE (the commit-time send must read what other transactions
-- committed, which their snapshot cannot), waits for any other transaction that changed them to
-- end (a transaction-level advisory lock, held to commit, so changes and their sends go one at a
-- time, and each send's snapshot, taken after the lock, holds every committed change), and
-- counts the statement, so the commit-time send knows whether something changed since it last
-- sent.
CREATE FUNCTION pg_embed_citus_changed() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT @extschema@.pg_embed_citus_coordinator() THEN
        RETURN NULL;
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'pg_embed''s user models, projections and pins can change on a Citus coordinator only in a READ COMMITTED transaction'
            USING ERRCODE = '0A000',
                  DETAIL = 'They are sent to the workers at commit, from a snapshot that must see what other transactions committed; this transaction is ' || current_setting('transaction_isolation') || '.',
                  HINT = 'Run the change in a READ COMMITTED transaction.';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('pg_embed'), hashtext('citus sync'));
    PERFORM set_config('pg_embed_citus.changes',
                       (coalesce(nullif(current_setting('pg_embed_citus.changes', true), ''), '0')::bigint + 1)::text, true);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION pg_embed_citus_changed() IS
  'Internal: on a Citus coordinator, before a statement changes pg_embed''s user models, projections or pins: refuses isolation levels above READ COMMITTED, serialises such transactions, and counts the statement.';
REVOKE ALL ON FUNCTION pg_embed_citus_changed() FROM PUBLIC;

-- At commit of a transaction that changed one of those tables on a Citus coordinator (and at
-- SET CONSTRAINTS ... IMMEDIATE): send the tables to the workers, unless nothing changed since
-- the last send. A worker that cannot be reached does not undo the coordinator's change: a
-- WARNING names it and says what to run. The workers commit before the coordinator does (no
-- two-phase commit): if the coordinator's transaction then fails, the workers keep the change
-- until the next change or pg_embed_citus_sync(); pg_embed_citus_check() shows it.
CREATE FUNCTION pg_embed_citus_propagate() RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    changes text := current_setting('pg_embed_citus.changes', true);
    failed text;
BEGIN
    IF coalesce(changes, '') = coalesce(current_setting('pg_embed_citus.sent', true), '')
       OR NOT @extschema@.pg_embed_citus_coordinator() THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('pg_embed_citus.sent', changes, true);
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
CREATE TRIGGER pg_embed_citus_changed BEFORE INSERT OR UPDATE OR DELETE ON pg_embed_user_models
    FOR EACH STATEMENT EXECUTE FUNCTION pg_embed_citus_changed();
CREATE CONSTRAINT TRIGGER pg_embed_citus_propagate AFTER INSERT OR UPDATE OR DELETE ON pg_embed_user_models
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_embed_citus_propagate();
CREATE TRIGGER pg_embed_citus_changed BEFORE INSERT OR UPDATE OR DELETE ON pg_embed_projections
    FOR EACH STATEMENT EXECUTE FUNCTION pg_embed_citus_changed();
CREATE CONSTRAINT TRIGGER pg_embed_citus_propagate AFTER INSERT OR UPDATE OR DELETE ON pg_embed_projections
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pg_embed_citus_propagate();
CREATE TRIGGER pg_embed_citus_changed BEFORE INSERT OR UPDATE OR DELETE ON pg_embed_selection
    FOR EACH STATEMENT EXECUTE FUNCTION pg_embed_citus_changed();
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
    -- On a Citus table, the columns chunks are picked by (else NULL).
    dist_keys name[] := @extschema@.pg_embed_citus_keys(relation);
    model_id text;
    model_precision text;
    mismatch text;
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
    IF model = 'auto' AND dist_keys IS NOT NULL THEN
        RAISE EXCEPTION 'model => ''auto'' cannot backfill the distributed table %', relation USING ERRCODE = '0A000',
            DETAIL = 'Citus runs the embedding on the workers, where only the IMMUTABLE embed_fixed(), whose arguments name the model and precision, may be pushed down.',
            HINT = 'Name one model, e.g. model => ''all-MiniLM-L6-v2''.';
    ELSIF model = 'auto' THEN
        model_name := 'auto';
        embed_expr := format('@extschema@.embed_auto(t.%I::text)', text_column);
    ELSIF dist_keys IS NOT NULL THEN
        -- The workers embed with the precision and long-text mode this session resolves now:
        -- they are spelled out in the pushed-down call, not read from the workers' settings.
        -- The model's file is each worker's own: it must be the one this node resolves (the
        -- model id written next to each vector says so), which every worker is asked first.
        model_id := @extschema@.pg_embed_model_id(model_name);
        id_literal := quote_literal(model_id);
        model_precision := split_part(model_id, '/', -2);
        embed_expr := format('@extschema@.embed_fixed(t.%I::text, %L::text, %L::text, %L::text)', text_column, model_name,
                             model_precision, current_setting('pg_embed.long_text'));
        mismatch := @extschema@.pg_embed_citus_model_mismatch(model_name, model_precision);
        IF mismatch IS NOT NULL THEN
            RAISE EXCEPTION 'not every Citus worker has the model file this node resolves for "%"', model_name
                USING ERRCODE = '55000',
                      DETAIL = format('This node: %s. Differing workers: %s.', model_id, mismatch),
                      HINT = 'Put the same model files in every node''s pg_embed.model_dir, then CALL pg_embed_backfill again.';
        END IF;
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
                                    CASE WHEN has_table_privilege(a.usesysid, pg_embed_backfill_begin.relation, 'UPDATE') THEN ''
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
    IF dist_keys IS NOT NULL THEN
        -- Citus: chunks are ranges of the key columns, walked through the table itself.
        leaves := jsonb_build_array(relation::oid);
    END IF;
    -- Citus: the key columns as SQL, plain and qualified with the UPDATE's alias t, and a
    -- format() template casting a jsonb array of key values (%1$s) back to their types.
    RETURN CASE WHEN dist_keys IS NULL THEN '{}'::jsonb ELSE (
               SELECT jsonb_build_object(
                          'key_cols', string_agg(format('%I', k.name), ', ' ORDER BY k.n),
                          'key_cols_t', string_agg(format('t.%I', k.name), ', ' ORDER BY k.n),
                          'key_cast', string_agg(format('(%%1$s ->> %s)::%s', k.n - 1, format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY k.n))
                 FROM unnest(dist_keys) WITH ORDINALITY k(name, n)
                 JOIN pg_attribute a ON a.attrelid = relation AND a.attname = k.name) END || jsonb_build_object(
        'relation', relation::oid, 'text_column', text_column, 'vector_column', vector_column, 'todo', todo,
        'set', format('%I = %s%s', vector_column, embed_expr, set_extra),
        'chunk', chunk_size, 'leaves', leaves, 'leaf', 0, 'after', '(0,0)', 'pass', 1,
        'done', 0, 'total', total, 'started', started, 'notice_every', notice_every,
        'next_notice', notice_every, 'ended', false,
        -- With pg_embed.persistent_cache = write, each chunk's texts go to the shared cache
        -- table first (through pg_embed_cache_store, for roles that may run it), so a later
        -- run over the same texts reads them back instead of embedding them again.
        'cache_model', CASE WHEN model_name <> 'auto' AND dist_keys IS NULL AND current_setting('pg_embed.persistent_cache') = 'write'
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
    keys jsonb;
BEGIN
    IF state ? 'key_cols' AND (state ->> 'leaf')::int = 0 THEN
        -- A Citus table: the next chunk_size rows in the order of the key columns (the
        -- primary key, which includes the distribution column, else the distribution column
        -- alone) after the last chunk's, then one multi-shard UPDATE that the workers run,
        -- each on its own shards, through the IMMUTABLE embed_fixed(). Keys travel as jsonb
        -- arrays and are cast back to the columns' types. Row locks are taken by that UPDATE
        -- (Citus allows no FOR UPDATE SKIP LOCKED here), so it waits for writers.
        EXECUTE format('SELECT jsonb_agg(jsonb_build_array(%1$s) ORDER BY %1$s), count(*) FROM '
                       '(SELECT %1$s FROM %2$s WHERE %3$s AND %4$s ORDER BY %1$s LIMIT %5$s) s',
                       state ->> 'key_cols', rel,
                       CASE WHEN state ? 'after_key' THEN format('(%s) > (%s)', state ->> 'key_cols', format(state ->> 'key_cast', '$1')) ELSE 'true' END,
                       state ->> 'todo', state ->> 'chunk')
        USING state -> 'after_key' INTO keys, picked;
        IF picked = 0 THEN
            RETURN (state - 'after_key') || jsonb_build_object('leaf', 1);
        END IF;
        EXECUTE format('UPDATE %1$s AS t SET %2$s WHERE (%3$s) IN (SELECT %4$s FROM pg_catalog.jsonb_array_elements($1) e) AND %5$s',
                       rel, state ->> 'set', state ->> 'key_cols_t', format(state ->> 'key_cast', 'e.value'), state ->> 'todo')
        USING keys;
        GET DIAGNOSTICS n = ROW_COUNT;
        state := state || jsonb_build_object('after_key', keys -> -1);
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

-- On a Citus coordinator the rows already there reach the workers only with the next change or
-- a sync, which cannot run inside this update (the workers are being updated by it).
DO $upgrade$
BEGIN
    IF @extschema@.pg_embed_citus_coordinator() THEN
        RAISE NOTICE 'pg_embed 0.3.0 on a Citus coordinator: run SELECT * FROM pg_embed_citus_sync(); once the update is done, so that every worker has this node''s user models, projections and pins';
    END IF;
END
$upgrade$;
