-- Citus: the distribution key backfills walk, and the propagation of the tables whose rows decide
-- a vector (user models, projections, pins) from the coordinator to the workers.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).
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
