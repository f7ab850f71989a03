-- pg_embed 0.5.0 -> 0.6.0: chunking.
--  * pg_embed_chunks(text, max_tokens, overlap, model, kind): a text cut into chunks of the
--    model's tokens, at paragraphs and sentences (prose) or before definitions (code).
--  * pg_embed_vectorize(..., chunk_table, chunk_tokens, chunk_overlap): the workers keep one
--    vector per chunk in a chunk table; pg_embed_vectorize_search searches a registered table
--    with its model (best chunk per document).
\echo Use "ALTER EXTENSION pg_embed UPDATE TO '0.6.0'" to load this file. \quit

CREATE  FUNCTION "pg_embed_chunk_spans"(
	"body" text, /* Option < Text > */
	"max_tokens" INT, /* Option < i32 > */
	"overlap" INT, /* Option < i32 > */
	"model" text, /* Option < Text > */
	"kind" text /* Option < Text > */
) RETURNS TABLE (
	"chunk" INT,  /* i32 */
	"start_pos" INT,  /* i32 */
	"length" INT,  /* i32 */
	"tokens" INT  /* i32 */
)
STABLE PARALLEL SAFE COST 1000
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'pg_embed_chunk_spans_wrapper';

COMMENT ON FUNCTION pg_embed_chunk_spans(text, int, int, text, text) IS
  'Internal: where the chunks of a text lie (chunk, start_pos, length in characters, tokens); pg_embed_chunks adds their text.';

-- Every name is qualified instead of a fixed search_path, so that the planner can inline it.
CREATE FUNCTION pg_embed_chunks(body text, max_tokens int DEFAULT NULL, overlap int DEFAULT 0,
                                model text DEFAULT NULL, kind text DEFAULT 'auto')
RETURNS TABLE (chunk int, start_pos int, length int, tokens int, content text)
LANGUAGE sql STABLE PARALLEL SAFE ROWS 10 AS $$
    SELECT s.chunk, s.start_pos, s.length, s.tokens, pg_catalog.substr($1, s.start_pos, s.length)
      FROM @extschema@.pg_embed_chunk_spans($1, $2, $3, $4, $5) s
$$;
COMMENT ON FUNCTION pg_embed_chunks(text, int, int, text, text) IS
  'Cuts a text into chunks of at most max_tokens of the model''s tokens (special tokens included; NULL: the model''s limit), consecutive chunks sharing about overlap tokens. Chunks end at paragraphs, sentences and words (kind prose) or before definitions and at lines (code); auto asks the detector. model NULL: the model embed_auto would use. Returns chunk (from 1), start_pos and length (characters, as substr counts), tokens and the chunk''s text. STABLE.';

ALTER TABLE pg_embed_vectorizers
    ADD COLUMN chunk_table regclass,
    ADD COLUMN chunk_tokens int CHECK (chunk_tokens BETWEEN 8 AND 8192),
    ADD COLUMN chunk_overlap int NOT NULL DEFAULT 0 CHECK (chunk_overlap >= 0);
COMMENT ON TABLE pg_embed_vectorizers IS 'Tables kept embedded by the background workers, one row per vector column (pg_embed_vectorize()); with chunk_table, the vectors of each row''s chunks are kept there.';

DROP FUNCTION pg_embed_vectorize(regclass, name, name, text, name, name, int, int, interval, boolean);
DROP FUNCTION pg_embed_vectorize_adopt(regclass, name, name, text, name, name, int, int, interval);
DROP FUNCTION pg_embed_vectorize_check(regclass, name, name, text, name, name);

CREATE OR REPLACE FUNCTION pg_embed_vectorize_apply(v @extschema@.pg_embed_vectorizers, keys text[]) RETURNS bigint
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

CREATE OR REPLACE FUNCTION pg_embed_vectorize_manage_sql(op text, relation regclass, args jsonb) RETURNS jsonb
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

CREATE OR REPLACE VIEW pg_embed_vectorize_status WITH (security_barrier) AS
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

CREATE OR REPLACE FUNCTION pg_embed_vectorize_dropped() RETURNS event_trigger
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
