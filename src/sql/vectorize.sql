-- Vectorizers: a table registered once is kept embedded by background workers. A trigger only
-- records which rows changed (the queue); the workers (src/workers.rs) embed them in batches
-- as the role that registered the table, retry failures with backoff and set aside rows that
-- keep failing. Part of pg_embed's install script (see the extension_sql_file! that names this file).

CREATE TABLE pg_embed_vectorizers (
    id serial PRIMARY KEY,
    relation regclass NOT NULL,
    key_column name NOT NULL,
    text_column name NOT NULL,
    vector_column name NOT NULL,
    model text NOT NULL,
    model_id_column name,
    batch_size int NOT NULL CHECK (batch_size BETWEEN 1 AND 256),
    max_attempts int NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
    retry_delay interval NOT NULL CHECK (retry_delay >= interval '0'),
    paused boolean NOT NULL DEFAULT false,
    created timestamptz NOT NULL DEFAULT now(),
    UNIQUE (relation, vector_column),
    -- chunking: vector_column (and model_id_column) are columns of chunk_table, one row per
    -- chunk of chunk_tokens tokens (NULL: the model's limit) sharing chunk_overlap tokens
    chunk_table regclass,
    chunk_tokens int CHECK (chunk_tokens BETWEEN 8 AND 8192),
    chunk_overlap int NOT NULL DEFAULT 0 CHECK (chunk_overlap >= 0)
);
COMMENT ON TABLE pg_embed_vectorizers IS 'Tables kept embedded by the background workers, one row per vector column (pg_embed_vectorize()); with chunk_table, the vectors of each row''s chunks are kept there.';

-- Rows whose text changed, oldest first. A row updated again while a worker embeds it gets a
-- second entry, so it is embedded again from its latest text.
CREATE TABLE pg_embed_vectorize_queue (
    seq bigserial PRIMARY KEY,
    vectorizer int NOT NULL REFERENCES pg_embed_vectorizers ON DELETE CASCADE,
    key text NOT NULL,
    enqueued timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts int NOT NULL DEFAULT 0,
    retry_at timestamptz,
    last_error text
);
CREATE INDEX pg_embed_vectorize_queue_vectorizer ON pg_embed_vectorize_queue (vectorizer, seq);
COMMENT ON TABLE pg_embed_vectorize_queue IS 'Rows of registered tables waiting to be embedded (key as text); attempts and last_error after failures.';

-- Dead letters: rows that failed max_attempts times. pg_embed_vectorize_retry() queues them again.
CREATE TABLE pg_embed_vectorize_failed (
    vectorizer int NOT NULL REFERENCES pg_embed_vectorizers ON DELETE CASCADE,
    key text NOT NULL,
    attempts int NOT NULL,
    last_error text,
    enqueued timestamptz NOT NULL,
    failed timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX pg_embed_vectorize_failed_vectorizer ON pg_embed_vectorize_failed (vectorizer);
COMMENT ON TABLE pg_embed_vectorize_failed IS 'Rows set aside after max_attempts failures, with their last error; pg_embed_vectorize_retry() queues them again.';

-- One row per batch a worker committed (kept 10 minutes): rows/s and errors of the status view.
CREATE TABLE pg_embed_vectorize_batches (
    vectorizer int NOT NULL REFERENCES pg_embed_vectorizers ON DELETE CASCADE,
    finished timestamptz NOT NULL DEFAULT clock_timestamp(),
    rows int NOT NULL,
    errors int NOT NULL,
    last_error text
);
CREATE INDEX pg_embed_vectorize_batches_vectorizer ON pg_embed_vectorize_batches (vectorizer, finished);
COMMENT ON TABLE pg_embed_vectorize_batches IS 'Internal: the batches of the last 10 minutes, for pg_embed_vectorize_status.';

-- Registrations and their queues survive pg_dump (the triggers on the tables are dumped with them).
SELECT pg_catalog.pg_extension_config_dump('pg_embed_vectorizers', '');
SELECT pg_catalog.pg_extension_config_dump('pg_embed_vectorizers_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pg_embed_vectorize_queue', '');
SELECT pg_catalog.pg_extension_config_dump('pg_embed_vectorize_queue_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pg_embed_vectorize_failed', '');

-- Whether the current role owns (or is a member of the owner of) a vectorizer's table. Inlined
-- into the policies below, so every name is qualified instead of a fixed search_path.
CREATE FUNCTION pg_embed_vectorize_mine(vectorizer int) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT EXISTS (SELECT FROM @extschema@.pg_embed_vectorizers v
                     JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) v.relation::pg_catalog.oid
                    WHERE v.id OPERATOR(pg_catalog.=) $1 AND pg_catalog.pg_has_role(c.relowner, 'USAGE'))
$$;
COMMENT ON FUNCTION pg_embed_vectorize_mine(int) IS 'Internal: whether the current role owns a vectorizer''s table (or is a member of its owner).';

-- Every role may see which tables are registered (no data); the queue, dead letters and batch
-- log of a table only its owner's members. Nobody but the extension's owner writes any of them
-- (a write privilege would let any role LOCK them and stall every writer of every registered
-- table): pg_embed_vectorize_manage writes them, as the extension's owner, after checking the current role.
ALTER TABLE pg_embed_vectorizers ENABLE ROW LEVEL SECURITY;
CREATE POLICY vectorizers_read ON pg_embed_vectorizers FOR SELECT USING (true);
GRANT SELECT ON pg_embed_vectorizers TO PUBLIC;
ALTER TABLE pg_embed_vectorize_queue ENABLE ROW LEVEL SECURITY;
CREATE POLICY queue_read ON pg_embed_vectorize_queue FOR SELECT USING (@extschema@.pg_embed_vectorize_mine(vectorizer));
GRANT SELECT ON pg_embed_vectorize_queue TO PUBLIC;
ALTER TABLE pg_embed_vectorize_failed ENABLE ROW LEVEL SECURITY;
CREATE POLICY failed_read ON pg_embed_vectorize_failed FOR SELECT USING (@extschema@.pg_embed_vectorize_mine(vectorizer));
GRANT SELECT ON pg_embed_vectorize_failed TO PUBLIC;
ALTER TABLE pg_embed_vectorize_batches ENABLE ROW LEVEL SECURITY;
CREATE POLICY batches_read ON pg_embed_vectorize_batches FOR SELECT USING (@extschema@.pg_embed_vectorize_mine(vectorizer));
GRANT SELECT ON pg_embed_vectorize_batches TO PUBLIC;

-- The key types a queue entry may hold (as text): their text forms and comparisons are
-- PostgreSQL's own, so the SECURITY DEFINER trigger never runs a function a role wrote.
CREATE FUNCTION pg_embed_vectorize_key_types() RETURNS regtype[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT '{smallint,integer,bigint,text,varchar,uuid}'::regtype[]
$$;
COMMENT ON FUNCTION pg_embed_vectorize_key_types() IS 'Internal: the types a vectorizer''s key column may have.';

-- The checks every step repeats, since a table can change after registration: the key and
-- text columns still exist with types of pg_embed_vectorize_key_types() and text/varchar.
-- Returns the key type, or NULL (with a WARNING saying what changed) when they do not fit.
CREATE FUNCTION pg_embed_vectorize_key_type(relation regclass, key_column name, text_column name) RETURNS regtype
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key_type regtype;
    text_type regtype;
BEGIN
    SELECT a.atttypid INTO key_type FROM pg_attribute a
     WHERE a.attrelid = relation AND a.attname = key_column AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT a.atttypid INTO text_type FROM pg_attribute a
     WHERE a.attrelid = relation AND a.attname = text_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF key_type IS NULL OR NOT key_type = ANY (@extschema@.pg_embed_vectorize_key_types())
       OR text_type IS NULL OR NOT text_type = ANY ('{text,varchar}'::regtype[]) THEN
        RAISE WARNING 'the key or text column of % changed since it was registered: its rows are not queued', relation
            USING DETAIL = format('Key column %I is %s, text column %I is %s.', key_column, coalesce(key_type::text, 'missing'),
                                  text_column, coalesce(text_type::text, 'missing')),
            HINT = format('Keys may be %s; the text must be text or varchar. Run pg_embed_unvectorize(%L) and register again.',
                          array_to_string(@extschema@.pg_embed_vectorize_key_types(), ', '), relation::text);
        RETURN NULL;
    END IF;
    RETURN key_type;
END
$$;
COMMENT ON FUNCTION pg_embed_vectorize_key_type(regclass, name, name) IS 'Internal: the key column''s type, or NULL with a WARNING when the key or text column no longer fits.';

-- The trigger of a registered table: records the keys of inserted rows with a text, and of
-- updated rows whose text (compared byte for byte) or key changed, nothing else; no embedding
-- in the writer's transaction. SECURITY DEFINER so that writers need no privilege on the queue.
-- It reads nothing but the statement's transition tables, and only after checking in pg_trigger
-- that it runs as one of the two triggers pg_embed_vectorize made for this table, with those
-- transition tables (a hand-made trigger without them would let pg_embed_new name a temporary
-- view of the caller's); it compares keys of the types above with pg_catalog's operators. A
-- table whose key or text column changed still takes writes (a WARNING says its rows are not
-- queued).
CREATE FUNCTION pg_embed_vectorize_enqueue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v @extschema@.pg_embed_vectorizers;
BEGIN
    IF TG_NARGS = 1 AND TG_ARGV[0] ~ '^[0-9]{1,9}$' THEN
        SELECT * INTO v FROM @extschema@.pg_embed_vectorizers x WHERE x.id = TG_ARGV[0]::int;
    END IF;
    IF v.id IS NULL OR v.relation::oid <> TG_RELID OR TG_LEVEL <> 'STATEMENT' OR TG_WHEN <> 'AFTER'
       OR TG_OP NOT IN ('INSERT', 'UPDATE')
       OR TG_NAME <> format('pg_embed_vectorize_%s_%s', v.id, lower(TG_OP))
       OR NOT EXISTS (SELECT FROM pg_trigger t
                       WHERE t.tgrelid = TG_RELID AND t.tgname = TG_NAME
                         AND t.tgfoid = '@extschema@.pg_embed_vectorize_enqueue()'::regprocedure
                         AND t.tgnewtable = 'pg_embed_new'
                         AND t.tgoldtable IS NOT DISTINCT FROM CASE TG_OP WHEN 'UPDATE' THEN 'pg_embed_old'::name END
                         AND t.tgtype = CASE TG_OP WHEN 'INSERT' THEN 4 ELSE 16 END) THEN
        RAISE EXCEPTION 'pg_embed_vectorize_enqueue() runs only as a trigger made by pg_embed_vectorize()' USING ERRCODE = '39P01',
            HINT = 'Register the table with pg_embed_vectorize(); drop this trigger.';
    END IF;
    IF @extschema@.pg_embed_vectorize_key_type(v.relation, v.key_column, v.text_column) IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        EXECUTE format('INSERT INTO @extschema@.pg_embed_vectorize_queue (vectorizer, key)
                        SELECT $1, n.%1$I::text FROM pg_embed_new n WHERE n.%2$I IS NOT NULL AND n.%1$I IS NOT NULL',
                       v.key_column, v.text_column) USING v.id;
    ELSE
        EXECUTE format('INSERT INTO @extschema@.pg_embed_vectorize_queue (vectorizer, key)
                        SELECT $1, n.%1$I::text FROM pg_embed_new n
                         WHERE n.%1$I IS NOT NULL
                           AND NOT EXISTS (SELECT FROM pg_embed_old o WHERE o.%1$I = n.%1$I
                                             AND o.%2$I::text COLLATE "C" IS NOT DISTINCT FROM n.%2$I::text COLLATE "C")',
                       v.key_column, v.text_column) USING v.id;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION pg_embed_vectorize_enqueue() IS 'Internal: the trigger of a registered table; queues the keys of rows whose text is new or changed.';

-- Embeds the current text of the rows with these keys and writes their vectors (and model id),
-- in one statement through embed_batch. A row whose text changed after it was read is left as
-- it is: its newer entry in the queue embeds it again. Runs as the table's owner.
-- The statement runs with the session's own search_path (the database's default), as an
-- application's UPDATE would, for the table's triggers; every name in it is qualified.
CREATE FUNCTION pg_embed_vectorize_apply(v @extschema@.pg_embed_vectorizers, keys text[]) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key_type regtype := @extschema@.pg_embed_vectorize_key_type(v.relation, v.key_column, v.text_column);
    statement text;
    done bigint;
BEGIN
    IF key_type IS NULL THEN
        RAISE EXCEPTION 'the key or text column of % changed since it was registered', v.relation USING ERRCODE = '42804',
            HINT = format('Run pg_embed_unvectorize(%L) and register again.', v.relation::text);
    END IF;
    IF v.chunk_table IS NOT NULL THEN
        RETURN @extschema@.pg_embed_vectorize_apply_chunks(v, keys, key_type);
    END IF;
    PERFORM @extschema@.pg_embed_vectorize_trusted(v.relation);
    statement := format(
        'WITH src AS (SELECT t.%1$I AS k, t.%2$I::pg_catalog.text AS body FROM ONLY %4$s t
                       WHERE t.%1$I OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.%5$I[])),
              arr AS (SELECT pg_catalog.array_agg(k) AS ks, pg_catalog.array_agg(body) AS bodies FROM src),
              emb AS (SELECT a.ks[e.ord] AS k, a.bodies[e.ord] AS body, e.embedding
                        FROM arr a, LATERAL @extschema@.embed_batch(a.bodies, $2) e)
         UPDATE ONLY %4$s t SET %3$I = emb.embedding %6$s
           FROM emb WHERE t.%1$I OPERATOR(pg_catalog.=) emb.k
                      AND (t.%2$I::pg_catalog.text COLLATE "C" OPERATOR(pg_catalog.=) emb.body COLLATE "C"
                           OR (t.%2$I IS NULL AND emb.body IS NULL))',
        v.key_column, v.text_column, v.vector_column, v.relation,
        (SELECT y.typname FROM pg_type y WHERE y.oid = key_type),
        CASE WHEN v.model_id_column IS NOT NULL
             THEN format(', %I = CASE WHEN emb.embedding IS NULL THEN NULL ELSE @extschema@.pg_embed_model_id($2) END', v.model_id_column)
             ELSE '' END);
    PERFORM pg_catalog.set_config('search_path', s.reset_val, true) FROM pg_catalog.pg_settings s WHERE s.name = 'search_path';
    EXECUTE statement USING keys, v.model;
    GET DIAGNOSTICS done = ROW_COUNT;
    RETURN done;
END
$$;
COMMENT ON FUNCTION pg_embed_vectorize_apply(pg_embed_vectorizers, text[]) IS 'Internal: embeds the rows with these keys and writes their vectors.';

-- The chunked form of pg_embed_vectorize_apply: reads the rows' texts, cuts them into chunks
-- and embeds those (without locking the rows meanwhile); then locks the rows whose text is
-- still the one embedded and replaces their chunks. A row whose text changed meanwhile is left
-- as it is: its newer entry in the queue embeds it again. Runs as the table's owner; the writes
-- run with the database's default search_path (for the chunk table's triggers).
CREATE FUNCTION pg_embed_vectorize_apply_chunks(v @extschema@.pg_embed_vectorizers, keys text[], key_type regtype) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key_typ text := format('pg_catalog.%I', (SELECT y.typname FROM pg_type y WHERE y.oid = key_type));
    key_array text := key_typ || '[]';
    src_keys text[];
    bodies text[];
    chunk_keys text[];
    numbers int[];
    starts int[];
    lengths int[];
    contents text[];
    vectors text[];
    fresh text[];
BEGIN
    PERFORM @extschema@.pg_embed_vectorize_same_owner(v.relation, v.chunk_table);
    PERFORM @extschema@.pg_embed_vectorize_trusted(v.chunk_table);
    EXECUTE format('SELECT pg_catalog.array_agg(t.%1$I::pg_catalog.text), pg_catalog.array_agg(t.%2$I::pg_catalog.text)
                      FROM ONLY %3$s t WHERE t.%1$I OPERATOR(pg_catalog.=) ANY ($1::%4$s)',
                   v.key_column, v.text_column, v.relation, key_array)
       INTO src_keys, bodies USING keys;
    SELECT array_agg(s.k ORDER BY s.i, c.chunk), array_agg(c.chunk ORDER BY s.i, c.chunk), array_agg(c.start_pos ORDER BY s.i, c.chunk),
           array_agg(c.length ORDER BY s.i, c.chunk), array_agg(c.content ORDER BY s.i, c.chunk)
      INTO chunk_keys, numbers, starts, lengths, contents
      FROM unnest(src_keys, bodies) WITH ORDINALITY s(k, body, i),
           LATERAL @extschema@.pg_embed_chunks(s.body, v.chunk_tokens, v.chunk_overlap, v.model, 'auto') c;
    SELECT array_agg(e.embedding::text ORDER BY e.ord) INTO vectors
      FROM @extschema@.embed_batch(coalesce(contents, '{}'), v.model) e;
    EXECUTE format('SELECT pg_catalog.array_agg(x.k) FROM (
                      SELECT g.k FROM ONLY %3$s t JOIN ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) g(k, body) ON t.%1$I::pg_catalog.text OPERATOR(pg_catalog.=) g.k
                       WHERE t.%1$I OPERATOR(pg_catalog.=) ANY ($1::%4$s)
                         AND (t.%2$I::pg_catalog.text COLLATE "C" OPERATOR(pg_catalog.=) g.body COLLATE "C" OR (t.%2$I IS NULL AND g.body IS NULL))
                         FOR NO KEY UPDATE OF t) x',
                   v.key_column, v.text_column, v.relation, key_array)
       INTO fresh USING src_keys, bodies;
    IF fresh IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM pg_catalog.set_config('search_path', s.reset_val, true) FROM pg_catalog.pg_settings s WHERE s.name = 'search_path';
    EXECUTE format('DELETE FROM ONLY %2$s c WHERE c.%1$I OPERATOR(pg_catalog.=) ANY ($1::%3$s)', v.key_column, v.chunk_table, key_array)
      USING fresh;
    EXECUTE format('INSERT INTO %2$s (%1$I, chunk, start_pos, length, %3$I%4$s)
                    SELECT u.k::%5$s, u.n, u.s, u.l, u.v::%6$s%7$s
                      FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5)) u(k, n, s, l, v)
                     WHERE u.k OPERATOR(pg_catalog.=) ANY ($6)',
                   v.key_column, v.chunk_table, v.vector_column,
                   CASE WHEN v.model_id_column IS NOT NULL THEN format(', %I', v.model_id_column) ELSE '' END,
                   key_typ, @extschema@.pg_embed_vector_type()::text,
                   CASE WHEN v.model_id_column IS NOT NULL THEN ', @extschema@.pg_embed_model_id($7)' ELSE '' END)
      USING chunk_keys, numbers, starts, lengths, vectors, fresh, v.model;
    RETURN cardinality(fresh);
END
$$;
COMMENT ON FUNCTION pg_embed_vectorize_apply_chunks(pg_embed_vectorizers, text[], regtype) IS 'Internal: cuts the rows with these keys into chunks, embeds them and replaces the rows'' chunks.';

-- The three steps of one batch (pg_embed_vectorize_batch, in Rust, runs them in one transaction):
-- pg_embed_vectorize_take locks up to batch_size due entries no other worker holds (SKIP LOCKED)
-- and returns them with the table's owner; pg_embed_vectorize_embed, run as that owner, embeds
-- their rows and returns the keys that failed with their errors; pg_embed_vectorize_settle
-- deletes the entries done and reschedules or sets aside the failed ones. take and settle are
-- for superusers only (the workers), embed writes only the user's table.
CREATE FUNCTION pg_embed_vectorize_take(vectorizer int, OUT owner oid, OUT seqs bigint[], OUT keys text[])
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v @extschema@.pg_embed_vectorizers;
BEGIN
    SELECT * INTO v FROM @extschema@.pg_embed_vectorizers x WHERE x.id = vectorizer AND NOT x.paused;
    SELECT c.relowner INTO owner FROM pg_class c WHERE c.oid = v.relation;
    IF owner IS NULL THEN
        RETURN;
    END IF;
    SELECT array_agg(s.seq), array_agg(DISTINCT s.key) INTO seqs, keys
      FROM (SELECT q.seq, q.key FROM @extschema@.pg_embed_vectorize_queue q
             WHERE q.vectorizer = v.id AND (q.retry_at IS NULL OR q.retry_at <= clock_timestamp())
             ORDER BY q.seq LIMIT v.batch_size FOR UPDATE SKIP LOCKED) s;
END
$$;
REVOKE ALL ON FUNCTION pg_embed_vectorize_take(int) FROM PUBLIC;
COMMENT ON FUNCTION pg_embed_vectorize_take(int) IS 'Internal: locks a batch of due queue entries of a vectorizer; returns the table''s owner, the entries and their distinct keys.';

-- Embeds the rows of these keys as pg_embed_vectorize_apply does; if that fails, each key alone,
-- so one bad row does not hold back the others. Returns {key: "SQLSTATE: message"} of the keys
-- that failed. Catches cancellation too (a batch that waited longer than the workers' lock_timeout
-- of 10 s, or was cancelled by hand, is a failure of its rows, not of the worker).
CREATE FUNCTION pg_embed_vectorize_embed(vectorizer int, keys text[]) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v @extschema@.pg_embed_vectorizers;
    k text;
    msg text;
    state text;
    failed jsonb := '{}';
BEGIN
    SELECT * INTO v FROM @extschema@.pg_embed_vectorizers x WHERE x.id = vectorizer;
    BEGIN
        PERFORM @extschema@.pg_embed_vectorize_apply(v, keys);
        RETURN failed;
    EXCEPTION WHEN OTHERS OR query_canceled OR assert_failure THEN
        IF cardinality(keys) = 1 THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
            RETURN jsonb_build_object(keys[1], format('%s: %s', state, msg));
        END IF;
    END;
    FOREACH k IN ARRAY keys LOOP
        BEGIN
            PERFORM @extschema@.pg_embed_vectorize_apply(v, ARRAY[k]);
        EXCEPTION WHEN OTHERS OR query_canceled OR assert_failure THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
            failed := failed || jsonb_build_object(k, format('%s: %s', state, msg));
        END;
    END LOOP;
    RETURN failed;
END
$$;
COMMENT ON FUNCTION pg_embed_vectorize_embed(int, text[]) IS 'Internal: embeds the rows of these keys (as the table''s owner); returns the keys that failed with their errors.';

-- Deletes the entries done, and for the failed keys counts an attempt, schedules the next one
-- after retry_delay * 2^(attempts - 1) (at most an hour) and sets aside entries that reached
-- max_attempts. Returns the entries settled.
CREATE FUNCTION pg_embed_vectorize_settle(vectorizer int, seqs bigint[], failed jsonb) RETURNS int
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v @extschema@.pg_embed_vectorizers;
    errors int := (SELECT count(*) FROM jsonb_object_keys(failed));
    done int;
BEGIN
    SELECT * INTO v FROM @extschema@.pg_embed_vectorizers x WHERE x.id = vectorizer;
    IF v.id IS NULL THEN
        RETURN 0;  -- unregistered meanwhile: its entries went with it
    END IF;
    DELETE FROM @extschema@.pg_embed_vectorize_queue q WHERE q.seq = ANY (seqs) AND NOT failed ? q.key;
    GET DIAGNOSTICS done = ROW_COUNT;
    IF errors > 0 THEN
        UPDATE @extschema@.pg_embed_vectorize_queue q
           SET attempts = q.attempts + 1, last_error = failed ->> q.key,
               retry_at = clock_timestamp() + least(v.retry_delay * power(2, least(q.attempts, 20)), interval '1 hour')
         WHERE q.seq = ANY (seqs);
        WITH gone AS (
            DELETE FROM @extschema@.pg_embed_vectorize_queue q
             WHERE q.seq = ANY (seqs) AND q.attempts >= v.max_attempts
            RETURNING q.vectorizer, q.key, q.attempts, q.last_error, q.enqueued)
        INSERT INTO @extschema@.pg_embed_vectorize_failed (vectorizer, key, attempts, last_error, enqueued)
        SELECT * FROM gone;
    END IF;
    INSERT INTO @extschema@.pg_embed_vectorize_batches (vectorizer, rows, errors, last_error)
    VALUES (v.id, done, errors,
            (SELECT e.value FROM jsonb_each_text(failed) e LIMIT 1));
    RETURN cardinality(seqs);
END
$$;
REVOKE ALL ON FUNCTION pg_embed_vectorize_settle(int, bigint[], jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pg_embed_vectorize_settle(int, bigint[], jsonb) IS 'Internal: deletes a batch''s entries done; reschedules or sets aside the failed ones.';

-- The vectorizers with entries due now, for the workers; and the pruning of the batch log.
CREATE FUNCTION pg_embed_vectorize_due() RETURNS SETOF int
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    DELETE FROM @extschema@.pg_embed_vectorize_batches b WHERE b.finished < clock_timestamp() - interval '10 minutes';
    SELECT v.id FROM @extschema@.pg_embed_vectorizers v
     WHERE NOT v.paused
       AND EXISTS (SELECT FROM @extschema@.pg_embed_vectorize_queue q
                    WHERE q.vectorizer = v.id AND (q.retry_at IS NULL OR q.retry_at <= clock_timestamp()))
     ORDER BY v.id
$$;
COMMENT ON FUNCTION pg_embed_vectorize_due() IS 'Internal: the vectorizers with rows due (the workers'' loop).';
REVOKE ALL ON FUNCTION pg_embed_vectorize_due() FROM PUBLIC;

-- The vectorizer of (relation, vector column), whose table the current role must own; raises
-- 42704 when there is none or several and no vector column was named.
CREATE FUNCTION pg_embed_vectorize_find(relation regclass, vector_column name) RETURNS int
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found int[];
BEGIN
    IF relation IS NULL THEN
        RAISE EXCEPTION 'relation must not be NULL' USING ERRCODE = '22004', HINT = 'Name a registered table, e.g. ''docs''.';
    END IF;
    IF NOT @extschema@.pg_embed_bm25_owns(relation) THEN
        RAISE EXCEPTION 'must be owner of table %', relation USING ERRCODE = '42501',
            HINT = 'Only the table''s owner (or a member of the owning role) manages its vectorizers.';
    END IF;
    SELECT array_agg(v.id ORDER BY v.id) INTO found FROM @extschema@.pg_embed_vectorizers v
     WHERE v.relation = $1 AND (v.vector_column = $2 OR $2 IS NULL);
    IF found IS NULL OR cardinality(found) > 1 THEN
        RAISE EXCEPTION '%', format('%s vectorizer of %s%s', CASE WHEN found IS NULL THEN 'no' ELSE 'more than one' END, relation,
            CASE WHEN vector_column IS NULL THEN '' ELSE format(' column %I', vector_column) END) USING ERRCODE = '42704',
            HINT = 'pg_embed_vectorize_status lists the registered tables and vector columns.';
    END IF;
    RETURN found[1];
END
$$;
COMMENT ON FUNCTION pg_embed_vectorize_find(regclass, name) IS 'Internal: the vectorizer of a table the current role owns (42501; 42704 when none or ambiguous).';

-- The workers write a registered table (or its chunk table) as its owner, so a trigger on it
-- runs with the owner's rights. A role that holds TRIGGER on it without being a member of the
-- owner could add one and act as the owner (a superuser, say) on the next batch: such a table
-- is refused, at registration and before every batch; 42501 otherwise.
CREATE FUNCTION pg_embed_vectorize_trusted(relation regclass) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    grantee oid;
BEGIN
    SELECT a.grantee INTO grantee FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.oid = relation AND a.privilege_type = 'TRIGGER'
       AND (a.grantee = 0 OR NOT pg_has_role(a.grantee, c.relowner, 'USAGE'))
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% grants TRIGGER to %, which is not a member of its owner', relation,
            CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE grantee::regrole::text END USING ERRCODE = '42501',
            DETAIL = 'The workers write this table as its owner: a trigger that role adds would run with the owner''s rights.',
            HINT = format('REVOKE TRIGGER ON %s FROM %s; (GRANT ALL includes TRIGGER)', relation,
                          CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE grantee::regrole::text END);
    END IF;
END
$$;
COMMENT ON FUNCTION pg_embed_vectorize_trusted(regclass) IS 'Internal: raises 42501 when a role outside the table owner''s members holds TRIGGER on it (the workers write it as the owner).';

-- A chunk table must belong to its table's owner: the workers write it as that owner, so any
-- trigger on it runs with that owner's rights, and a table of another role (one that role could
-- add triggers to, or keep after losing membership in the owner) must never be written so.
-- Checked at registration and before every batch; 42501 otherwise.
CREATE FUNCTION pg_embed_vectorize_same_owner(relation regclass, chunk_table regclass) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    owner oid := (SELECT c.relowner FROM pg_class c WHERE c.oid = relation);
    chunk_owner oid := (SELECT c.relowner FROM pg_class c WHERE c.oid = chunk_table);
BEGIN
    IF chunk_table IS NOT NULL AND chunk_owner IS DISTINCT FROM owner THEN
        RAISE EXCEPTION 'chunk table % does not belong to the owner of %', chunk_table, relation USING ERRCODE = '42501',
            DETAIL = format('%s belongs to %s, %s to %s; the workers write the chunk table as the table''s owner.',
                            chunk_table, coalesce(chunk_owner::regrole::text, 'nobody'), relation, coalesce(owner::regrole::text, 'nobody')),
            HINT = format('ALTER TABLE %s OWNER TO %s; or name another chunk_table.', chunk_table, coalesce(owner::regrole::text, '...'));
    END IF;
END
$$;
COMMENT ON FUNCTION pg_embed_vectorize_same_owner(regclass, regclass) IS 'Internal: raises 42501 unless the chunk table belongs to the table''s owner.';

-- The key of a registration: key_column, which must have a unique index of its own and be NOT
-- NULL, or the single-column primary key; of a type of pg_embed_vectorize_key_types(). 42P10
-- (with what to do) otherwise.
CREATE FUNCTION pg_embed_vectorize_key_column(relation regclass, key_column name) RETURNS name
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key name := key_column;
BEGIN
    IF key IS NULL THEN
        SELECT a.attname INTO key FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
         WHERE i.indrelid = relation AND i.indisprimary AND i.indnatts = 1;
        IF key IS NULL THEN
            RAISE EXCEPTION '% has no single-column primary key', relation USING ERRCODE = '42P10',
                HINT = 'Name a unique NOT NULL column as key_column, or add a primary key.';
        END IF;
    ELSIF NOT EXISTS (SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                       WHERE i.indrelid = relation AND i.indisunique AND i.indnatts = 1 AND i.indpred IS NULL
                         AND i.indexprs IS NULL AND i.indimmediate AND a.attname = key AND a.attnotnull) THEN
        RAISE EXCEPTION 'column "%" of % is not a unique NOT NULL key', key, relation USING ERRCODE = '42P10',
            HINT = 'The key column needs a unique index of that column alone (no predicate, not deferrable) and NOT NULL.';
    END IF;
    PERFORM @extschema@.pg_embed_check_column(relation, key, @extschema@.pg_embed_vectorize_key_types(), 'key'::text);
    RETURN key;
END
$$;
COMMENT ON FUNCTION pg_embed_vectorize_key_column(regclass, name) IS 'Internal: the key column of a registration (key_column checked, or the single-column primary key).';

-- The checks of a registration: the current role owns a plain permanent table, the columns
-- fit, the model exists. With a chunk table, the vector and model id columns are the chunk
-- table's, which the role must own too, with the key column (same type), chunk, start_pos and
-- length. Returns the key column.
CREATE FUNCTION pg_embed_vectorize_check(relation regclass, text_column name, vector_column name, model text,
                                         model_id_column name, key_column name, chunk_table regclass) RETURNS name
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key name;
    vectors regclass := coalesce(chunk_table, relation);
    c text;
BEGIN
    IF relation IS NULL THEN
        RAISE EXCEPTION 'relation must not be NULL' USING ERRCODE = '22004', HINT = 'Name the table to keep embedded, e.g. ''docs''.';
    END IF;
    FOREACH c IN ARRAY ARRAY[relation::text, chunk_table::text] LOOP
        CONTINUE WHEN c IS NULL;
        IF NOT @extschema@.pg_embed_bm25_owns(c::regclass) THEN
            RAISE EXCEPTION 'must be owner of table %', c USING ERRCODE = '42501',
                HINT = 'Only the table''s owner (or a member of the owning role) may register it; the workers act as its owner.';
        END IF;
        IF NOT @extschema@.pg_embed_bm25_plain(c::regclass) THEN
            RAISE EXCEPTION '% is not a plain permanent table', c USING ERRCODE = '0A000',
                DETAIL = 'Vectorizers keep plain tables outside inheritance, partitioning and extensions; temporary tables are invisible to the workers.',
                HINT = 'Use embed_doc() in a trigger or pg_embed_backfill() for this table.';
        END IF;
    END LOOP;
    IF chunk_table = relation THEN
        RAISE EXCEPTION 'the chunk table must not be the table itself' USING ERRCODE = '22023',
            HINT = 'chunk_table => ''docs_chunks'' names a table of its own (created if it does not exist).';
    END IF;
    PERFORM @extschema@.pg_embed_vectorize_same_owner(relation, chunk_table);
    PERFORM @extschema@.pg_embed_vectorize_trusted(coalesce(chunk_table, relation));
    PERFORM @extschema@.pg_embed_check_column(relation, text_column, '{text,varchar}'::regtype[], 'text'::text);
    PERFORM @extschema@.pg_embed_check_column(vectors, vector_column, (ARRAY[@extschema@.pg_embed_vector_type()])::regtype[], 'vector'::text);
    IF model_id_column IS NOT NULL THEN
        PERFORM @extschema@.pg_embed_check_column(vectors, model_id_column, '{text}'::regtype[], 'model id'::text);
    END IF;
    key := @extschema@.pg_embed_vectorize_key_column(relation, key_column);
    IF chunk_table IS NOT NULL THEN
        PERFORM @extschema@.pg_embed_check_column(chunk_table, key,
            ARRAY[(SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = relation AND a.attname = key)]::regtype[], 'key'::text);
        PERFORM @extschema@.pg_embed_check_column(chunk_table, x, '{integer}'::regtype[], 'chunk'::text)
           FROM unnest('{chunk,start_pos,length}'::name[]) x;
    END IF;
    -- the model must exist now (58P01 / 42704 with its own hint otherwise)
    PERFORM @extschema@.pg_embed_model_id(model);
    RETURN key;
END
$$;
COMMENT ON FUNCTION pg_embed_vectorize_check(regclass, name, name, text, name, name, regclass) IS 'Internal: the checks of a registration; returns the key column.';

-- Records a registration and creates its two triggers, enabled ALWAYS (so writes made with
-- session_replication_role = replica, as by a logical replication subscriber, are queued too).
-- Runs as the extension's owner through pg_embed_vectorize_manage; checks the columns again.
CREATE FUNCTION pg_embed_vectorize_adopt(relation regclass, text_column name, vector_column name, model text,
                                         model_id_column name, key_column name, batch_size int, max_attempts int,
                                         retry_delay interval, chunk_table regclass, chunk_tokens int,
                                         chunk_overlap int) RETURNS int
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key name := @extschema@.pg_embed_vectorize_check(relation, text_column, vector_column, model, model_id_column, key_column,
                                                      chunk_table);
    id int;
BEGIN
    IF chunk_table IS NOT NULL THEN
        -- the chunk sizes must suit the model (22023 with its own hint otherwise)
        PERFORM @extschema@.pg_embed_chunk_spans('x', chunk_tokens, chunk_overlap, model, 'prose');
    ELSIF chunk_tokens IS NOT NULL OR chunk_overlap IS DISTINCT FROM 0 THEN
        RAISE EXCEPTION 'chunk_tokens and chunk_overlap need a chunk_table' USING ERRCODE = '22023',
            HINT = 'chunk_table => ''docs_chunks'' keeps one vector per chunk there.';
    END IF;
    IF batch_size IS NULL OR batch_size NOT BETWEEN 1 AND 256 THEN
        RAISE EXCEPTION 'batch_size must be between 1 and 256, not %', coalesce(batch_size::text, 'NULL') USING ERRCODE = '22023',
            HINT = 'batch_size => 32 embeds 32 rows per transaction.';
    END IF;
    IF max_attempts IS NULL OR max_attempts NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'max_attempts must be between 1 and 100, not %', coalesce(max_attempts::text, 'NULL') USING ERRCODE = '22023',
            HINT = 'A row that fails max_attempts times is set aside in pg_embed_vectorize_failed.';
    END IF;
    IF retry_delay IS NULL OR retry_delay < interval '0' THEN
        RAISE EXCEPTION 'retry_delay must not be negative or NULL' USING ERRCODE = '22023', HINT = 'retry_delay => ''10 seconds''';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.pg_embed_vectorizers v WHERE v.relation = $1 AND v.vector_column = $3) THEN
        RAISE EXCEPTION 'column % of % is already kept embedded', quote_ident(vector_column), relation USING ERRCODE = '42710',
            HINT = 'pg_embed_unvectorize() it first to change its settings.';
    END IF;
    IF EXISTS (SELECT FROM @extschema@.pg_embed_vectorizers v WHERE v.chunk_table = $10 OR v.relation = $10 OR v.chunk_table = $1) THEN
        RAISE EXCEPTION 'table % already takes part in a vectorizer', coalesce(chunk_table, relation) USING ERRCODE = '42710',
            HINT = 'A chunk table serves one vectorizer and is not registered itself; name another chunk_table.';
    END IF;
    INSERT INTO @extschema@.pg_embed_vectorizers (relation, key_column, text_column, vector_column, model, model_id_column,
                                                  batch_size, max_attempts, retry_delay, chunk_table, chunk_tokens, chunk_overlap)
    VALUES (relation, key, text_column, vector_column, model, model_id_column, batch_size, max_attempts, retry_delay,
            chunk_table, chunk_tokens, coalesce(chunk_overlap, 0))
    RETURNING pg_embed_vectorizers.id INTO id;
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS pg_embed_new
                    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.pg_embed_vectorize_enqueue(%s)',
                   format('pg_embed_vectorize_%s_insert', id), relation, id);
    EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING OLD TABLE AS pg_embed_old NEW TABLE AS pg_embed_new
                    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.pg_embed_vectorize_enqueue(%s)',
                   format('pg_embed_vectorize_%s_update', id), relation, id);
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I, ENABLE ALWAYS TRIGGER %I', relation,
                   format('pg_embed_vectorize_%s_insert', id), format('pg_embed_vectorize_%s_update', id));
    RETURN id;
END
$$;
REVOKE ALL ON FUNCTION pg_embed_vectorize_adopt(regclass, name, name, text, name, name, int, int, interval, regclass, int, int) FROM PUBLIC;
COMMENT ON FUNCTION pg_embed_vectorize_adopt(regclass, name, name, text, name, name, int, int, interval, regclass, int, int) IS
  'Internal: records a registration and creates its triggers (run through pg_embed_vectorize_manage).';

-- The writes of the management functions, run as the extension's owner by the Rust gate
-- pg_embed_vectorize_manage once it has checked the role that calls (nobody else may run this;
-- no role may write pg_embed's tables directly). Each operation acts only on a vectorizer of
-- the relation the gate checked. Returns the operation's result as jsonb.
CREATE FUNCTION pg_embed_vectorize_manage_sql(op text, relation regclass, args jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    vid int;
    n bigint;
BEGIN
    IF op = 'adopt' THEN
        RETURN to_jsonb(@extschema@.pg_embed_vectorize_adopt(relation, (args ->> 'text_column')::name, (args ->> 'vector_column')::name,
                        args ->> 'model', (args ->> 'model_id_column')::name, (args ->> 'key_column')::name,
                        (args ->> 'batch_size')::int, (args ->> 'max_attempts')::int, (args ->> 'retry_delay')::interval,
                        (args ->> 'chunk_table')::oid::regclass, (args ->> 'chunk_tokens')::int, (args ->> 'chunk_overlap')::int));
    END IF;
    SELECT v.id INTO vid FROM @extschema@.pg_embed_vectorizers v WHERE v.id = (args ->> 'vectorizer')::int AND v.relation = $2;
    IF vid IS NULL THEN
        RAISE EXCEPTION 'no vectorizer % of %', args ->> 'vectorizer', relation USING ERRCODE = '42704';
    END IF;
    IF op = 'requeue' THEN
        INSERT INTO @extschema@.pg_embed_vectorize_queue (vectorizer, key)
        SELECT vid, k FROM jsonb_array_elements_text(coalesce(args -> 'keys', '[]')) k WHERE k IS NOT NULL;
        GET DIAGNOSTICS n = ROW_COUNT;
        RETURN to_jsonb(n);
    ELSIF op = 'pause' THEN
        UPDATE @extschema@.pg_embed_vectorizers v SET paused = (args ->> 'paused')::boolean WHERE v.id = vid;
        RETURN args -> 'paused';
    ELSIF op = 'retry' THEN
        WITH gone AS (DELETE FROM @extschema@.pg_embed_vectorize_failed f WHERE f.vectorizer = vid RETURNING f.key)
        INSERT INTO @extschema@.pg_embed_vectorize_queue (vectorizer, key) SELECT DISTINCT vid, g.key FROM gone g;
        GET DIAGNOSTICS n = ROW_COUNT;
        RETURN to_jsonb(n);
    ELSIF op = 'forget' THEN
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', format('pg_embed_vectorize_%s_insert', vid), relation);
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', format('pg_embed_vectorize_%s_update', vid), relation);
        DELETE FROM @extschema@.pg_embed_vectorizers v WHERE v.id = vid;
        RETURN 'true';
    END IF;
    RAISE EXCEPTION 'unknown vectorizer operation %', op USING ERRCODE = '22023';
END
$$;
REVOKE ALL ON FUNCTION pg_embed_vectorize_manage_sql(text, regclass, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION pg_embed_vectorize_manage_sql(text, regclass, jsonb) IS 'Internal: the writes of the vectorizer management functions, run as the extension''s owner by pg_embed_vectorize_manage.';

-- Registers a table: its rows are embedded from text_column into vector_column by the
-- background workers, after every INSERT and every UPDATE that changes the text. With
-- chunk_table, each row's text is cut into chunks (pg_embed_chunks) and the chunks' vectors
-- kept in that table, created (as the caller, in the table's schema) if it does not exist.
CREATE FUNCTION pg_embed_vectorize(
    relation regclass,
    text_column name,
    vector_column name,
    model text DEFAULT NULL,
    model_id_column name DEFAULT NULL,
    key_column name DEFAULT NULL,
    batch_size int DEFAULT 32,
    max_attempts int DEFAULT 5,
    retry_delay interval DEFAULT '10 seconds',
    backfill boolean DEFAULT true,
    chunk_table name DEFAULT NULL,
    chunk_tokens int DEFAULT NULL,
    chunk_overlap int DEFAULT 0
) RETURNS int LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    model_name text := coalesce(model, @extschema@.pg_embed_role_model('doc'::text));
    key name;
    chunks regclass;
    id int;
    keys text[];
BEGIN
    IF chunk_table IS NULL AND (chunk_tokens IS NOT NULL OR chunk_overlap IS DISTINCT FROM 0) THEN
        RAISE EXCEPTION 'chunk_tokens and chunk_overlap need a chunk_table' USING ERRCODE = '22023',
            HINT = 'chunk_table => ''docs_chunks'' keeps one vector per chunk there.';
    END IF;
    IF chunk_table IS NOT NULL THEN
        chunks := @extschema@.pg_embed_vectorize_chunk_table(relation, chunk_table, vector_column, model_name, model_id_column, key_column);
    END IF;
    key := @extschema@.pg_embed_vectorize_check(relation, text_column, vector_column, model_name, model_id_column, key_column, chunks);
    id := @extschema@.pg_embed_vectorize_manage('adopt', relation, jsonb_build_object(
              'text_column', text_column, 'vector_column', vector_column, 'model', model_name,
              'model_id_column', model_id_column, 'key_column', key, 'batch_size', batch_size,
              'max_attempts', max_attempts, 'retry_delay', retry_delay,
              'chunk_table', chunks::oid::bigint, 'chunk_tokens', chunk_tokens, 'chunk_overlap', chunk_overlap))::int;
    -- the rows without a vector (or without chunks) now, read as the caller (the table's owner)
    IF backfill THEN
        IF chunks IS NULL THEN
            EXECUTE format('SELECT array_agg(t.%1$I::text) FROM ONLY %3$s t WHERE t.%2$I IS NOT NULL AND t.%4$I IS NULL',
                           key, text_column, relation, vector_column) INTO keys;
        ELSE
            EXECUTE format('SELECT array_agg(t.%1$I::text) FROM ONLY %3$s t
                             WHERE t.%2$I IS NOT NULL AND NOT EXISTS (SELECT FROM ONLY %4$s c WHERE c.%1$I = t.%1$I)',
                           key, text_column, relation, chunks) INTO keys;
        END IF;
        PERFORM @extschema@.pg_embed_vectorize_manage('requeue', relation,
                                                       jsonb_build_object('vectorizer', id, 'keys', to_jsonb(coalesce(keys, '{}'))));
    END IF;
    RETURN id;
END
$$;
COMMENT ON FUNCTION pg_embed_vectorize(regclass, name, name, text, name, name, int, int, interval, boolean, name, int, int) IS
  'Keeps vector_column of a table embedded from text_column by the background workers (needs pg_embed in shared_preload_libraries): a trigger queues changed rows, no embedding in the writer''s transaction. backfill queues the rows without a vector now. With chunk_table, one vector per chunk of chunk_tokens tokens (NULL: the model''s limit) sharing chunk_overlap tokens, kept in that table (created if missing). Returns the vectorizer id. Owner only.';

-- The chunk table of a registration, in the table's schema: created as the caller if it does
-- not exist (key, chunk, start_pos, length, the vector column sized for the model and the model
-- id column; the key references the table, so deleting a row deletes its chunks), owned by the
-- table's owner.
CREATE FUNCTION pg_embed_vectorize_chunk_table(relation regclass, chunk_table name, vector_column name, model text,
                                               model_id_column name, key_column name) RETURNS regclass
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    schema name;
    owner regrole;
    key name;
    found regclass;
BEGIN
    IF relation IS NULL THEN
        RAISE EXCEPTION 'relation must not be NULL' USING ERRCODE = '22004', HINT = 'Name the table to keep embedded, e.g. ''docs''.';
    END IF;
    IF chunk_table = '' THEN
        RAISE EXCEPTION 'chunk_table must not be empty' USING ERRCODE = '22023', HINT = 'chunk_table => ''docs_chunks''';
    END IF;
    -- the model must exist now (58P01 / 42704 with its own hint otherwise): its dimension sizes the vector column
    PERFORM @extschema@.pg_embed_model_id(model);
    SELECT n.nspname, c.relowner::regrole INTO schema, owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = relation;
    found := to_regclass(format('%I.%I', schema, chunk_table));
    IF found IS NOT NULL THEN
        RETURN found;
    END IF;
    IF NOT @extschema@.pg_embed_bm25_owns(relation) THEN
        RAISE EXCEPTION 'must be owner of table %', relation USING ERRCODE = '42501',
            HINT = 'Only the table''s owner (or a member of the owning role) may register it; the workers act as its owner.';
    END IF;
    key := @extschema@.pg_embed_vectorize_key_column(relation, key_column);
    IF vector_column IS NULL OR vector_column IN (key, 'chunk', 'start_pos', 'length') OR model_id_column IN (key, vector_column, 'chunk', 'start_pos', 'length') THEN
        RAISE EXCEPTION 'cannot create chunk table %: its key, vector and model id columns need distinct names other than chunk, start_pos and length', chunk_table
            USING ERRCODE = '42P10', HINT = 'Name the vector and model id columns apart from the key and from chunk, start_pos and length.';
    END IF;
    EXECUTE format('CREATE TABLE %1$I.%2$I (%3$I %4$s NOT NULL REFERENCES %5$s (%3$I) ON DELETE CASCADE ON UPDATE CASCADE,
                    chunk int NOT NULL, start_pos int NOT NULL, length int NOT NULL, %6$I %7$s%8$s%9$s,
                    PRIMARY KEY (%3$I, chunk))',
                   schema, chunk_table, key,
                   (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = relation AND a.attname = key),
                   relation, vector_column, @extschema@.pg_embed_vector_type()::text,
                   (SELECT format('(%s)', m.dims) FROM @extschema@.pg_embed_model_info() m WHERE m.name = model AND m.dims > 0),
                   CASE WHEN model_id_column IS NULL THEN '' ELSE format(', %I text', model_id_column) END);
    found := format('%I.%I', schema, chunk_table)::regclass;
    EXECUTE format('COMMENT ON TABLE %s IS %L', found, format('Chunks of %s.%I and their vectors, kept by pg_embed_vectorize.', relation, vector_column));
    IF (SELECT c.relowner FROM pg_class c WHERE c.oid = found) <> owner THEN
        EXECUTE format('ALTER TABLE %s OWNER TO %s', found, owner);
    END IF;
    RETURN found;
END
$$;
COMMENT ON FUNCTION pg_embed_vectorize_chunk_table(regclass, name, name, text, name, name) IS 'Internal: the chunk table of a registration, created (as the caller) if it does not exist.';

-- Removes a registration: its triggers, its queue and its dead letters; vectors stay.
CREATE FUNCTION pg_embed_unvectorize(relation regclass, vector_column name DEFAULT NULL) RETURNS boolean
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT @extschema@.pg_embed_vectorize_manage('forget', $1,
               jsonb_build_object('vectorizer', @extschema@.pg_embed_vectorize_find($1, $2)))::boolean
$$;
COMMENT ON FUNCTION pg_embed_unvectorize(regclass, name) IS 'Stops keeping a table embedded: drops its triggers, queue and dead letters (vectors stay). vector_column may be omitted when the table has one vectorizer. Owner only.';

-- Pauses or resumes a vectorizer: paused, its rows stay queued and no worker takes them.
CREATE FUNCTION pg_embed_vectorize_pause(relation regclass, vector_column name DEFAULT NULL, paused boolean DEFAULT true) RETURNS boolean
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT @extschema@.pg_embed_vectorize_manage('pause', $1,
               jsonb_build_object('vectorizer', @extschema@.pg_embed_vectorize_find($1, $2), 'paused', coalesce($3, true)))::boolean
$$;
COMMENT ON FUNCTION pg_embed_vectorize_pause(regclass, name, boolean) IS 'Pauses (paused => true) or resumes (false) a vectorizer; queued rows wait. Returns the new state. Owner only.';
CREATE FUNCTION pg_embed_vectorize_resume(relation regclass, vector_column name DEFAULT NULL) RETURNS boolean
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT NOT @extschema@.pg_embed_vectorize_pause($1, $2, false)
$$;
COMMENT ON FUNCTION pg_embed_vectorize_resume(regclass, name) IS 'Resumes a paused vectorizer. Owner only.';

-- Queues the dead letters of a vectorizer again (after fixing what made them fail).
CREATE FUNCTION pg_embed_vectorize_retry(relation regclass, vector_column name DEFAULT NULL) RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT @extschema@.pg_embed_vectorize_manage('retry', $1,
               jsonb_build_object('vectorizer', @extschema@.pg_embed_vectorize_find($1, $2)))::bigint
$$;
COMMENT ON FUNCTION pg_embed_vectorize_retry(regclass, name) IS 'Queues the rows set aside in pg_embed_vectorize_failed again; returns how many. Owner only.';

-- The model id for the status view, or NULL when the model cannot be loaded now (its files
-- removed, say): the view must not fail for every role because of one registration.
CREATE FUNCTION pg_embed_vectorize_model_id(model text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN @extschema@.pg_embed_model_id(model);
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION pg_embed_vectorize_model_id(text) IS 'Internal: pg_embed_model_id, or NULL when the model cannot be loaded now.';

-- One row per vectorizer whose table the current role owns or may read, in the manner of the
-- pg_stat_* views.
CREATE VIEW pg_embed_vectorize_status WITH (security_barrier) AS
SELECT v.id AS vectorizer, v.relation, v.text_column, v.vector_column, v.model,
       @extschema@.pg_embed_vectorize_model_id(v.model) AS model_id, v.paused,
       q.pending, q.oldest_pending, clock_timestamp() - q.oldest_pending AS pending_age, q.retrying,
       coalesce(b.rows_last_minute, 0) / 60.0 AS rows_per_second,
       coalesce(b.errors_last_10min, 0) AS errors_last_10min,
       f.failed, coalesce(f.last_failure, b.last_error) AS last_error, b.last_batch, v.chunk_table
  FROM @extschema@.pg_embed_vectorizers v
  LEFT JOIN LATERAL (SELECT count(*) AS pending, min(x.enqueued) AS oldest_pending, count(*) FILTER (WHERE x.attempts > 0) AS retrying
                       FROM @extschema@.pg_embed_vectorize_queue x WHERE x.vectorizer = v.id) q ON true
  LEFT JOIN LATERAL (SELECT sum(x.rows) FILTER (WHERE x.finished > clock_timestamp() - interval '1 minute') AS rows_last_minute,
                            sum(x.errors) AS errors_last_10min, max(x.finished) AS last_batch,
                            (array_agg(x.last_error ORDER BY x.finished DESC) FILTER (WHERE x.last_error IS NOT NULL))[1] AS last_error
                       FROM @extschema@.pg_embed_vectorize_batches x WHERE x.vectorizer = v.id) b ON true
  LEFT JOIN LATERAL (SELECT count(*) AS failed, (array_agg(x.last_error ORDER BY x.failed DESC))[1] AS last_failure
                       FROM @extschema@.pg_embed_vectorize_failed x WHERE x.vectorizer = v.id) f ON true
 WHERE EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) v.relation::pg_catalog.oid
                 AND (pg_catalog.pg_has_role(c.relowner, 'USAGE') OR pg_catalog.has_table_privilege(c.oid, 'SELECT')));
GRANT SELECT ON pg_embed_vectorize_status TO PUBLIC;
COMMENT ON VIEW pg_embed_vectorize_status IS 'One row per vectorizer whose table the role may read: rows pending, oldest pending and its age, rows retrying, rows/s over the last minute, errors over the last 10 minutes, rows set aside (failed), the last error, the model and its id, the chunk table.';

-- Searches a registered table with its own model: the k rows nearest to the query text, or for
-- a chunked registration the k documents whose best chunk is nearest, with that chunk. Runs as
-- the caller, who needs SELECT on the table (and on its chunk table): only rows the caller may
-- read there (row-level security included) come out.
CREATE FUNCTION pg_embed_vectorize_search(relation regclass, query text, k int DEFAULT 10, vector_column name DEFAULT NULL)
RETURNS TABLE (key text, chunk int, start_pos int, length int, distance float8)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v @extschema@.pg_embed_vectorizers;
    found int;
    op text := format('OPERATOR(%s.<=>)', @extschema@.pg_embed_vector_schema());
    candidates int;
    got int;
    nearest text;
    best text;
    statement text;
    q text;
BEGIN
    IF relation IS NULL OR query IS NULL THEN
        RETURN;
    END IF;
    IF k IS NULL OR k NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'k must be between 1 and 10000, not %', coalesce(k::text, 'NULL') USING ERRCODE = '22023', HINT = 'k => 10';
    END IF;
    SELECT count(*) INTO found FROM @extschema@.pg_embed_vectorizers x WHERE x.relation = $1 AND (x.vector_column = $4 OR $4 IS NULL);
    IF found <> 1 THEN
        RAISE EXCEPTION '%', format('%s vectorizer of %s%s', CASE WHEN found = 0 THEN 'no' ELSE 'more than one' END, relation,
            CASE WHEN vector_column IS NULL THEN '' ELSE format(' column %I', vector_column) END) USING ERRCODE = '42704',
            HINT = 'pg_embed_vectorize_status lists the registered tables and vector columns.';
    END IF;
    SELECT * INTO v FROM @extschema@.pg_embed_vectorizers x WHERE x.relation = $1 AND (x.vector_column = $4 OR $4 IS NULL);
    q := @extschema@.embed(query, v.model)::text;
    IF v.chunk_table IS NULL THEN
        RETURN QUERY EXECUTE format(
            'SELECT t.%1$I::pg_catalog.text, NULL::int, NULL::int, NULL::int, (t.%2$I %4$s $1::%5$s)::float8
               FROM ONLY %3$s t WHERE t.%2$I IS NOT NULL ORDER BY t.%2$I %4$s $1::%5$s LIMIT $2',
            v.key_column, v.vector_column, v.relation, op, @extschema@.pg_embed_vector_type()) USING q, k;
        RETURN;
    END IF;
    -- The nearest chunks whose row the caller may read in the table itself (its privileges and
    -- row-level security apply), best per document; more candidates while too few documents
    -- come out and the index gave all that was asked (an HNSW scan gives at most hnsw.ef_search rows).
    nearest := format(
        'SELECT x.%1$I AS k, x.chunk, x.start_pos, x.length, (x.%2$I %4$s $1::%5$s)::float8 AS distance
           FROM ONLY %3$s x WHERE x.%2$I IS NOT NULL ORDER BY x.%2$I %4$s $1::%5$s LIMIT $2',
        v.key_column, v.vector_column, v.chunk_table, op, @extschema@.pg_embed_vector_type());
    best := format(
        'SELECT DISTINCT ON (c.k) c.k, c.chunk, c.start_pos, c.length, c.distance FROM (%1$s) c
          WHERE EXISTS (SELECT t.%4$I FROM ONLY %2$s t WHERE t.%3$I OPERATOR(pg_catalog.=) c.k)
          ORDER BY c.k, c.distance',
        nearest, v.relation, v.key_column, v.text_column);
    statement := format('SELECT b.k::pg_catalog.text, b.chunk, b.start_pos, b.length, b.distance FROM (%s) b ORDER BY b.distance LIMIT $3', best);
    candidates := k * 4;
    LOOP
        EXECUTE format('SELECT count(*) FROM (%s) s', best) INTO got USING q, candidates;
        EXIT WHEN got >= k OR candidates >= k * 64;
        EXECUTE format('SELECT count(*) FROM (%s) s', nearest) INTO found USING q, candidates;
        EXIT WHEN found < candidates;
        candidates := candidates * 4;
    END LOOP;
    RETURN QUERY EXECUTE statement USING q, candidates, k;
END
$$;
COMMENT ON FUNCTION pg_embed_vectorize_search(regclass, text, int, name) IS
  'Searches a registered table with its own model: the k rows nearest to the query (cosine distance), or with a chunk table the k documents whose best chunk is nearest, with that chunk''s number and span. key is the row''s key as text. Uses the vector column''s HNSW index when there is one. STABLE.';

-- A dropped table (or chunk table) takes its registration, queue and dead letters with it.
CREATE FUNCTION pg_embed_vectorize_dropped() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
BEGIN
    -- a dropped chunk table: the triggers of its table go too, so that writes keep working
    FOR r IN SELECT v.id, v.relation FROM @extschema@.pg_embed_vectorizers v
               JOIN pg_event_trigger_dropped_objects() d ON v.chunk_table::oid = d.objid
              WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND d.object_type = 'table'
                AND EXISTS (SELECT FROM pg_class c WHERE c.oid = v.relation::oid) LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', format('pg_embed_vectorize_%s_insert', r.id), r.relation);
        EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', format('pg_embed_vectorize_%s_update', r.id), r.relation);
    END LOOP;
    DELETE FROM @extschema@.pg_embed_vectorizers v
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0 AND d.object_type = 'table'
       AND (v.relation::oid = d.objid OR v.chunk_table::oid = d.objid);
END
$$;
REVOKE ALL ON FUNCTION pg_embed_vectorize_dropped() FROM PUBLIC;
COMMENT ON FUNCTION pg_embed_vectorize_dropped() IS 'Internal: forgets the vectorizers of dropped tables (event trigger pg_embed_vectorize_dropped).';
CREATE EVENT TRIGGER pg_embed_vectorize_dropped ON sql_drop EXECUTE FUNCTION pg_embed_vectorize_dropped();
COMMENT ON FUNCTION pg_embed_vectorize_manage(text, oid, jsonb) IS 'Internal: the gate of the vectorizer management functions: checks that the current role owns the relation (not inside a security-restricted operation), then runs the operation as the extension''s owner.';
COMMENT ON FUNCTION pg_embed_vectorize_batch(int) IS 'One batch of a vectorizer, as the background workers run it: embeds up to batch_size queued rows as the table''s owner and settles their queue entries; returns the entries taken (0: none due). Superusers only.';
