-- Citus: the distribution key backfills walk, and the propagation of the tables whose rows decide
-- a vector (user models, projections, pins) from the coordinator to the workers.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).
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
