-- Backfill: progress table (row-level security), the run lock, the chunk functions and the procedure.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

CREATE TABLE pg_embed_backfill_progress (
    pid int NOT NULL,
    relation regclass NOT NULL,
    text_column name NOT NULL,
    vector_column name NOT NULL,
    model text NOT NULL,
    started timestamptz NOT NULL,
    updated timestamptz NOT NULL,
    rows_done bigint NOT NULL,
    rows_total bigint NOT NULL,
    finished boolean NOT NULL DEFAULT false,
    rows_skipped bigint NOT NULL DEFAULT 0,
    -- The role that runs it: a backend's pid outlives nothing, a new session may reuse it.
    owner name NOT NULL DEFAULT current_user,
    PRIMARY KEY (pid, relation, vector_column)
);
COMMENT ON TABLE pg_embed_backfill_progress IS 'Progress of pg_embed_backfill() runs, one row per run, updated at every chunk commit.';

-- The advisory lock key of a backfill of (relation, vector column), and whether backend pid
-- holds it now (pg_locks shows every role's advisory locks).
CREATE FUNCTION pg_embed_backfill_key(relation regclass, vector_column name) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT hashtextextended('pg_embed_backfill ' || relation::oid::text || ' ' || vector_column, 0)
$$;
COMMENT ON FUNCTION pg_embed_backfill_key(regclass, name) IS 'Internal: the advisory lock key a backfill of this vector column holds while it runs.';
CREATE FUNCTION pg_embed_backfill_running(pid int, relation regclass, vector_column name) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (
        SELECT FROM pg_locks l
         WHERE l.locktype = 'advisory' AND l.granted AND l.pid = $1 AND l.objsubid = 1
           AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
           AND ((l.classid::bigint << 32) | l.objid::bigint) = @extschema@.pg_embed_backfill_key($2, $3))
$$;
COMMENT ON FUNCTION pg_embed_backfill_running(int, regclass, name) IS 'Internal: whether backend pid is running a backfill of this vector column now.';

-- Every role may watch every run; a role writes only its own rows of its own backend, for
-- relations it may update and columns they have, and may remove the rows of runs no longer
-- running on relations it may update.
ALTER TABLE pg_embed_backfill_progress ENABLE ROW LEVEL SECURITY;
CREATE POLICY progress_read ON pg_embed_backfill_progress FOR SELECT USING (true);
CREATE POLICY progress_insert ON pg_embed_backfill_progress FOR INSERT
    WITH CHECK (pid = pg_backend_pid() AND owner = current_user AND has_table_privilege(relation, 'UPDATE')
                AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = relation AND a.attname = vector_column
                                                         AND a.attnum > 0 AND NOT a.attisdropped));
CREATE POLICY progress_update ON pg_embed_backfill_progress FOR UPDATE
    USING (pid = pg_backend_pid() AND owner = current_user)
    WITH CHECK (pid = pg_backend_pid() AND owner = current_user AND has_table_privilege(relation, 'UPDATE')
                AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = relation AND a.attname = vector_column
                                                         AND a.attnum > 0 AND NOT a.attisdropped));
CREATE POLICY progress_delete ON pg_embed_backfill_progress FOR DELETE
    USING ((pid = pg_backend_pid() AND owner = current_user)
           OR (has_table_privilege(relation, 'UPDATE') AND NOT @extschema@.pg_embed_backfill_running(pid, relation, vector_column)));
GRANT SELECT, INSERT, UPDATE, DELETE ON pg_embed_backfill_progress TO PUBLIC;

CREATE VIEW pg_embed_backfills AS
SELECT pid, relation, text_column, vector_column, model, started, updated, rows_done, rows_total,
       round(100.0 * rows_done / nullif(rows_total, 0), 1) AS percent,
       round(rows_done / nullif(extract(epoch FROM updated - started), 0)::numeric, 1) AS rows_per_second,
       CASE WHEN finished THEN interval '0'
            WHEN rows_done > 0 THEN (updated - started) * ((rows_total - rows_done)::float8 / rows_done)
       END AS eta,
       finished,
       rows_skipped,
       -- a run ends either finished or with rows skipped; anything else that is not running
       -- now was cancelled, failed, or lost its session
       NOT finished AND rows_skipped = 0 AND NOT @extschema@.pg_embed_backfill_running(pid, relation, vector_column) AS interrupted
FROM pg_embed_backfill_progress p;
GRANT SELECT ON pg_embed_backfills TO PUBLIC;
COMMENT ON VIEW pg_embed_backfills IS 'Backfills running or ended: rows done of the total, rate, ETA; rows_skipped = rows left without a vector because other sessions held them locked; interrupted = it stopped before finishing (cancelled, failed or its session ended): CALL it again to resume.';

-- Checks the arguments, takes the run's lock, forgets ended runs of the same column, counts
-- the rows to do and records the run. Returns the run's state for pg_embed_backfill_step.
CREATE FUNCTION pg_embed_backfill_begin(
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
COMMENT ON FUNCTION pg_embed_backfill_begin(regclass, name, name, text, int, name, name, bigint) IS
  'Internal: starts a pg_embed_backfill run (checks, lock, count, progress row) and returns its state.';

-- One chunk of a run: embeds up to chunk rows of the current leaf after the last row done,
-- commits nothing (the procedure does), and returns the next state. At the end of a pass it
-- counts the rows still to do: none ends the run as finished; some are retried in up to two
-- more passes, then reported as skipped.
CREATE FUNCTION pg_embed_backfill_step(state jsonb) RETURNS jsonb
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
COMMENT ON FUNCTION pg_embed_backfill_step(jsonb) IS 'Internal: one chunk of a pg_embed_backfill run.';

-- Releases the run's lock (when it ends, or fails).
CREATE FUNCTION pg_embed_backfill_end(state jsonb) RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT FROM pg_advisory_unlock(@extschema@.pg_embed_backfill_key(($1 ->> 'relation')::oid::regclass, ($1 ->> 'vector_column')::name))
     WHERE @extschema@.pg_embed_backfill_running(pg_backend_pid(), ($1 ->> 'relation')::oid::regclass, ($1 ->> 'vector_column')::name)
$$;
COMMENT ON FUNCTION pg_embed_backfill_end(jsonb) IS 'Internal: releases a pg_embed_backfill run''s lock.';
CREATE FUNCTION pg_embed_backfill_ended(state jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ($1 ->> 'ended')::boolean
$$;
COMMENT ON FUNCTION pg_embed_backfill_ended(jsonb) IS 'Internal: whether a pg_embed_backfill run has ended.';

-- The procedure names nothing but pg_embed's own functions, schema-qualified, and plpgsql's
-- own statements: it cannot fix its search_path (it commits), so it must not depend on it.
CREATE PROCEDURE pg_embed_backfill(
    relation regclass,
    text_column name,
    vector_column name,
    model text DEFAULT NULL,
    chunk_size int DEFAULT 200,
    hash_column name DEFAULT NULL,
    notice_every bigint DEFAULT 1000,
    model_id_column name DEFAULT NULL
) LANGUAGE plpgsql AS $$
DECLARE
    state jsonb;
BEGIN
    BEGIN
        state := @extschema@.pg_embed_backfill_begin(relation, text_column, vector_column, model, chunk_size,
                                                      hash_column, model_id_column, notice_every);
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        -- The run's lock is a session lock: release it whatever failed after it was taken.
        PERFORM @extschema@.pg_embed_backfill_end(
            pg_catalog.jsonb_build_object('relation', relation::pg_catalog.oid, 'vector_column', vector_column));
        RAISE;
    END;
    COMMIT;
    LOOP
        BEGIN
            state := @extschema@.pg_embed_backfill_step(state);
        EXCEPTION WHEN OTHERS OR query_canceled THEN
            PERFORM @extschema@.pg_embed_backfill_end(state);
            RAISE;
        END;
        COMMIT;
        EXIT WHEN @extschema@.pg_embed_backfill_ended(state);
    END LOOP;
END
$$;
COMMENT ON PROCEDURE pg_embed_backfill(regclass, name, name, text, int, name, bigint, name) IS
  'Embeds text_column into vector_column for rows missing a vector (or whose text changed, with hash_column holding md5 of the embedded text; or made by another model file, with model_id_column holding pg_embed_model_id()), committing every chunk_size rows; CALL again to resume. Rows other sessions keep locked are retried, then reported (rows_skipped). Progress: pg_embed_backfills.';
