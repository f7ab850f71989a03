-- pg_embed 0.1.0 -> 0.2.0: contracts users can build on (see README, Upgrading).
-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_embed UPDATE TO '0.2.0'" to load this file. \quit

-- Volatility that tells the truth. embed(text, text) and embed_batch(text[], text) depend on
-- pg_embed.precision and pg_embed.long_text: STABLE. Indexes and generated columns built on
-- them keep working; the upgrade names them so they can be moved to embed_fixed (a later
-- pg_dump could not restore them, as PostgreSQL requires IMMUTABLE there).
DO $upgrade$
DECLARE
    dependents text;
BEGIN
    SELECT string_agg(DISTINCT what, '; ') INTO dependents FROM (
        SELECT format('index %s', d.objid::regclass) AS what
          FROM pg_catalog.pg_depend d
         WHERE d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND d.refobjid IN ('@extschema@.embed(text, text)'::pg_catalog.regprocedure,
                              '@extschema@.embed_batch(text[], text)'::pg_catalog.regprocedure)
           AND d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        UNION ALL
        SELECT format('generated column %s.%s', a.attrelid::regclass, a.attname)
          FROM pg_catalog.pg_depend d
          JOIN pg_catalog.pg_attrdef ad ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid = ad.oid
          JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
         WHERE d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND d.refobjid = '@extschema@.embed(text, text)'::pg_catalog.regprocedure) s;
    IF dependents IS NOT NULL THEN
        RAISE WARNING 'pg_embed 0.2.0: embed(text, text) is now STABLE; these objects still use it: %', dependents
            USING DETAIL = 'They keep working, but PostgreSQL requires IMMUTABLE functions in indexes and generated columns, so a pg_dump of this database would not restore them.',
                  HINT = 'Recreate each with embed_fixed(body, model, ''fp32'') (the same vectors as embed() at precision fp32), e.g. CREATE INDEX ... ((embed_fixed(body, ''all-MiniLM-L6-v2'', ''fp32'')::vector(384)) ...); then drop the old one.';
    END IF;
END
$upgrade$;
ALTER FUNCTION @extschema@.embed(text, text) STABLE;
ALTER FUNCTION @extschema@.embed_batch(text[], text) STABLE;

-- The IMMUTABLE entry point.
CREATE FUNCTION @extschema@."embed_fixed"(
	"body" text,
	"model" text,
	"precision" text,
	"long_text" text DEFAULT 'truncate'
) RETURNS vector
IMMUTABLE STRICT PARALLEL SAFE COST 10000
LANGUAGE c
AS 'MODULE_PATHNAME', 'embed_fixed_wrapper';

-- A user model's definition, as kept next to its files (for restores and other nodes).
CREATE FUNCTION @extschema@."pg_embed_model_definition"(
	"model" text
) RETURNS jsonb
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'pg_embed_model_definition_wrapper';
COMMENT ON FUNCTION pg_embed_model_definition(text) IS
  'A model''s definition as JSON: what pg_embed stores as <model_dir>/<name>/pg_embed_model.json next to a user model''s files when it registers one (and the server may write there), so the folder describes its model during a restore or on another node.';

-- Routing pins are written only by pg_embed_reselect(): no embedding call writes or waits.
DROP FUNCTION @extschema@.pg_embed_pin_first(text, text, text, text);

-- Model files stay inside the model's folder however a registration row is written.
ALTER TABLE @extschema@.pg_embed_user_models
    ADD CONSTRAINT pg_embed_user_models_fp32_file_check CHECK (fp32_file ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$'),
    ADD CONSTRAINT pg_embed_user_models_int8_file_check CHECK (int8_file ~ '^([A-Za-z0-9_-][A-Za-z0-9._-]{0,99})?$'),
    ADD CONSTRAINT pg_embed_user_models_tokenizer_file_check CHECK (tokenizer_file ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$'),
    ADD CONSTRAINT pg_embed_user_models_repo_check CHECK (repo ~ '^([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)?$' AND repo !~ '(^|/)\.\.?(/|$)'),
    ADD CONSTRAINT pg_embed_user_models_revision_check CHECK (revision ~ '^[A-Za-z0-9_.%-]*$' AND revision !~ '^\.\.?$');

-- The shared cache: written only by pg_embed_cache_store(), which computes each vector itself.
DELETE FROM @extschema@.pg_embed_cache c USING @extschema@.pg_embed_cache d
 WHERE c.key = d.key AND c.ctid > d.ctid;
DROP INDEX @extschema@.pg_embed_cache_key;
CREATE UNIQUE INDEX pg_embed_cache_key ON pg_embed_cache (key);
REVOKE INSERT ON @extschema@.pg_embed_cache FROM embed_admin;
CREATE FUNCTION @extschema@."pg_embed_cache_store"(
	"model" text,
	"texts" text[]
) RETURNS bigint
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'pg_embed_cache_store_wrapper';
ALTER FUNCTION pg_embed_cache_store(text, text[]) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION pg_embed_cache_store(text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_embed_cache_store(text, text[]) TO embed_admin;
COMMENT ON FUNCTION pg_embed_cache_store(text, text[]) IS 'Embeds the texts the shared cache table pg_embed_cache lacks (model at the session''s pg_embed.precision and pg_embed.long_text) and stores them; returns the rows added. Superusers and embed_admin; the only way rows get into the table.';
COMMENT ON TABLE pg_embed_cache IS
  'Embeddings shared by all backends when pg_embed.persistent_cache is read or write. key is SHA-256 of model, precision, model_files (identity of the files the vector came from), pg_embed.long_text and the text.';

-- pgvector's type and schema, for functions that fix their search_path.
CREATE FUNCTION pg_embed_vector_type() RETURNS regtype LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT p.prorettype::pg_catalog.regtype FROM pg_catalog.pg_proc p
     WHERE p.oid OPERATOR(pg_catalog.=) '@extschema@.embed(text, text)'::pg_catalog.regprocedure
$$;
COMMENT ON FUNCTION pg_embed_vector_type() IS 'Internal: pgvector''s vector type, as pg_embed''s functions return it.';
CREATE FUNCTION pg_embed_vector_schema() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) t.typnamespace
     WHERE t.oid OPERATOR(pg_catalog.=) @extschema@.pg_embed_vector_type()
$$;
COMMENT ON FUNCTION pg_embed_vector_schema() IS 'Internal: the schema of pgvector''s vector type, quoted, to qualify its operators.';

-- Functions that run SQL fix their search_path and qualify pgvector's operators.
CREATE OR REPLACE FUNCTION pg_embed_check_column(relation regclass, col name, wanted regtype[], what text)
RETURNS regtype LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found regtype;
    fitting text;
BEGIN
    IF col IS NULL THEN
        RAISE EXCEPTION '% column must not be NULL', what USING ERRCODE = '22004',
            HINT = format('Name the %s column of %s.', what, relation);
    END IF;
    SELECT a.atttypid::regtype INTO found FROM pg_attribute a
     WHERE a.attrelid = relation AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO fitting FROM pg_attribute a
     WHERE a.attrelid = relation AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = ANY (wanted);
    IF found IS NULL THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', col, relation USING ERRCODE = '42703',
            DETAIL = format('The %s column must be of type %s.', what, array_to_string(wanted, ' or ')),
            HINT = coalesce(CASE WHEN fitting IS NOT NULL THEN format('Columns of %s that fit: %s.', relation, fitting) END,
                            format('%s has no column of type %s; add one.', relation, array_to_string(wanted, ' or ')));
    END IF;
    IF NOT found = ANY (wanted) THEN
        RAISE EXCEPTION 'column "%" of relation % is of type %, not %', col, relation, found, array_to_string(wanted, ' or ')
            USING ERRCODE = '42804', DETAIL = format('It was given as the %s column.', what),
            HINT = coalesce(CASE WHEN fitting IS NOT NULL THEN format('Columns of %s that fit: %s.', relation, fitting) END,
                            format('%s has no column of type %s; add one.', relation, array_to_string(wanted, ' or ')));
    END IF;
    RETURN found;
END
$$;
CREATE OR REPLACE FUNCTION pg_embed_provenance_trigger() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    text_col text := TG_ARGV[0];
    vec_col text := TG_ARGV[1];
    id_col text := TG_ARGV[2];
    source text := coalesce(TG_ARGV[3], 'doc');
    body text;
    model text;
    mid text;
BEGIN
    IF TG_WHEN <> 'BEFORE' OR TG_LEVEL <> 'ROW' OR TG_OP NOT IN ('INSERT', 'UPDATE') OR TG_NARGS NOT BETWEEN 3 AND 4 THEN
        RAISE EXCEPTION 'pg_embed_provenance_trigger must be a BEFORE INSERT OR UPDATE ... FOR EACH ROW trigger with 3 or 4 arguments'
            USING ERRCODE = '39P01', DETAIL = format('Trigger %s on %s is %s %s FOR EACH %s with %s arguments.', TG_NAME, TG_RELID::regclass, TG_WHEN, TG_OP, TG_LEVEL, TG_NARGS),
            HINT = 'CREATE TRIGGER t BEFORE INSERT OR UPDATE ON tbl FOR EACH ROW EXECUTE FUNCTION pg_embed_provenance_trigger(''body'', ''embedding'', ''model_id'', ''doc'');';
    END IF;
    PERFORM @extschema@.pg_embed_check_column(TG_RELID::regclass, text_col::name, '{text,varchar}'::regtype[], 'text'::text);
    PERFORM @extschema@.pg_embed_check_column(TG_RELID::regclass, vec_col::name, (ARRAY[@extschema@.pg_embed_vector_type()])::regtype[], 'vector'::text);
    PERFORM @extschema@.pg_embed_check_column(TG_RELID::regclass, id_col::name, '{text}'::regtype[], 'model id'::text);
    body := to_jsonb(NEW) ->> text_col;
    IF body IS NULL THEN
        NEW := jsonb_populate_record(NEW, jsonb_build_object(vec_col, NULL, id_col, NULL));
        RETURN NEW;
    END IF;
    model := CASE source WHEN 'auto' THEN @extschema@.embed_auto_model(body)
                         WHEN 'doc' THEN @extschema@.pg_embed_role_model('doc'::text)
                         WHEN 'code' THEN @extschema@.pg_embed_role_model('code'::text)
                         ELSE source END;
    mid := @extschema@.pg_embed_model_id(model);
    -- An update that changes neither the text nor the model keeps its vector.
    IF TG_OP = 'UPDATE' AND (to_jsonb(OLD) ->> text_col) = body AND (to_jsonb(NEW) ->> id_col) = mid
       AND (to_jsonb(NEW) ->> vec_col) IS NOT NULL THEN
        RETURN NEW;
    END IF;
    NEW := jsonb_populate_record(NEW, jsonb_build_object(vec_col, @extschema@.embed(body, model)::text, id_col, mid));
    RETURN NEW;
END
$$;
CREATE OR REPLACE FUNCTION pg_embed_ab_compare(
    documents regclass,
    id_column name,
    text_column name,
    current_column name,
    candidate_column name,
    candidate_model text,
    queries regclass,
    query_column name,
    relevant_column name,
    current_model text DEFAULT 'all-MiniLM-L6-v2',
    sample int DEFAULT 200
) RETURNS TABLE (side text, model text, model_id text, n_queries int, n_documents bigint,
                 mrr_at_10 float8, recall_at_10 float8, p_at_1 float8, ndcg_at_10 float8)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET enable_indexscan = off  -- exact ranking for both models, whatever indexes exist
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    vs text := @extschema@.pg_embed_vector_schema();
    embedded bigint;
    n_docs bigint;
    ints regtype[] := '{smallint,integer,bigint}';
BEGIN
    IF documents IS NULL OR queries IS NULL OR candidate_model IS NULL OR current_model IS NULL THEN
        RAISE EXCEPTION 'documents, queries, candidate_model and current_model must not be NULL'
            USING ERRCODE = '22004', HINT = 'See COMMENT ON FUNCTION pg_embed_ab_compare for the arguments.';
    END IF;
    IF sample IS NULL OR sample < 1 THEN
        RAISE EXCEPTION 'sample must be at least 1, not %', sample USING ERRCODE = '22023',
            HINT = 'sample is how many queries are evaluated, e.g. sample => 200.';
    END IF;
    PERFORM @extschema@.pg_embed_check_column(documents::regclass, id_column::name, ints::regtype[], 'document id'::text);
    PERFORM @extschema@.pg_embed_check_column(documents::regclass, text_column::name, '{text,varchar}'::regtype[], 'text'::text);
    PERFORM @extschema@.pg_embed_check_column(documents::regclass, current_column::name, (ARRAY[@extschema@.pg_embed_vector_type()])::regtype[], 'current vector'::text);
    PERFORM @extschema@.pg_embed_check_column(documents::regclass, candidate_column::name, (ARRAY[@extschema@.pg_embed_vector_type()])::regtype[], 'candidate vector'::text);
    PERFORM @extschema@.pg_embed_check_column(queries::regclass, query_column::name, '{text,varchar}'::regtype[], 'query text'::text);
    PERFORM @extschema@.pg_embed_check_column(queries::regclass, relevant_column::name, '{smallint[],integer[],bigint[]}'::regtype[], 'relevant document ids'::text);
    IF current_column = candidate_column THEN
        RAISE EXCEPTION 'the candidate column must not be the current column "%"', current_column USING ERRCODE = '22023',
            HINT = format('Add a side column: ALTER TABLE %s ADD COLUMN %I vector;', documents, current_column || '_candidate');
    END IF;
    -- Vectors the side column still lacks (CALL pg_embed_backfill first on a large table: it
    -- commits in chunks; this is one transaction).
    EXECUTE format('UPDATE %s SET %I = @extschema@.embed(%I::text, %L::text) WHERE %I IS NULL AND %I IS NOT NULL',
                   documents, candidate_column, text_column, candidate_model, candidate_column, text_column);
    GET DIAGNOSTICS embedded = ROW_COUNT;
    IF embedded > 0 THEN
        RAISE NOTICE 'pg_embed_ab_compare: embedded % documents with "%" into %', embedded, candidate_model, candidate_column;
    END IF;
    EXECUTE format('SELECT count(*) FROM %s WHERE %I IS NOT NULL AND %I IS NOT NULL', documents, current_column, candidate_column)
        INTO n_docs;
    RETURN QUERY EXECUTE format($q$
        WITH q AS (
            SELECT row_number() OVER () AS qn, body, rel FROM (
                SELECT %1$I::text AS body, %2$I::bigint[] AS rel FROM %3$s
                WHERE %1$I IS NOT NULL AND cardinality(%2$I) > 0
                ORDER BY md5(%1$I::text), %2$I LIMIT $3) s
        ), sides AS (
            SELECT 'current' AS side, $1 AS model, 1 AS col UNION ALL SELECT 'candidate', $2, 2
        ), qe AS MATERIALIZED (
            SELECT sides.*, q.qn, q.rel, (SELECT array_agg(DISTINCT r) FROM unnest(q.rel) r) AS relset,
                   @extschema@.embed(q.body, sides.model) AS qv
            FROM q CROSS JOIN sides
        ), ranked AS (
            SELECT qe.side, qe.qn, qe.relset, top.rank, top.id
            FROM qe CROSS JOIN LATERAL (
                SELECT id, row_number() OVER (ORDER BY dist, id) AS rank FROM (
                    SELECT %4$I::bigint AS id,
                           CASE qe.col WHEN 1 THEN %5$I OPERATOR(%8$s.<=>) qe.qv ELSE %6$I OPERATOR(%8$s.<=>) qe.qv END AS dist
                    FROM %7$s WHERE %5$I IS NOT NULL AND %6$I IS NOT NULL
                    ORDER BY 2, 1 LIMIT 10) d) top
        ), per_query AS (
            SELECT qe.side, qe.qn, cardinality(qe.relset) AS n_rel,
                   min(r.rank) FILTER (WHERE r.id = ANY (qe.relset)) AS first_hit,
                   count(r.id) FILTER (WHERE r.id = ANY (qe.relset)) AS hits,
                   coalesce(sum(1 / log(2, r.rank + 1.0)) FILTER (WHERE r.id = ANY (qe.relset)), 0) AS dcg
            FROM qe LEFT JOIN ranked r ON r.side = qe.side AND r.qn = qe.qn
            GROUP BY qe.side, qe.qn, qe.relset
        )
        SELECT p.side, s.model, @extschema@.pg_embed_model_id(s.model), count(*)::int, $4,
               avg(coalesce(1.0 / p.first_hit, 0))::float8,
               avg(p.hits::float8 / p.n_rel),
               avg(CASE WHEN p.first_hit = 1 THEN 1.0 ELSE 0 END)::float8,
               avg(p.dcg / (SELECT sum(1 / log(2, i + 1.0)) FROM generate_series(1, least(p.n_rel, 10)) i))::float8
        FROM per_query p JOIN sides s USING (side)
        GROUP BY p.side, s.model, s.col ORDER BY s.col$q$,
        query_column, relevant_column, queries, id_column, current_column, candidate_column, documents, vs)
    USING current_model, candidate_model, sample, n_docs;
END
$$;
CREATE OR REPLACE FUNCTION pg_embed_hybrid_queries(
    relation regclass, tsvector_column name, vector_column name, id_column name, distance text,
    OUT text_sql text, OUT vector_sql text
) LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    op text := CASE distance WHEN 'cosine' THEN '<=>' WHEN 'inner_product' THEN '<#>' WHEN 'l2' THEN '<->' END;
BEGIN
    IF relation IS NULL THEN
        RAISE EXCEPTION 'relation must not be NULL' USING ERRCODE = '22004', HINT = 'Name the table to search, e.g. ''docs''.';
    END IF;
    IF op IS NULL THEN
        RAISE EXCEPTION 'distance must be cosine, inner_product or l2, not %', coalesce(quote_literal(distance), 'NULL')
            USING ERRCODE = '22023', DETAIL = 'Use the distance of the vector column''s HNSW index (vector_cosine_ops: cosine).',
                  HINT = 'distance => ''cosine''';
    END IF;
    PERFORM @extschema@.pg_embed_check_column(relation::regclass, id_column::name, '{smallint,integer,bigint}'::regtype[], 'id'::text);
    PERFORM @extschema@.pg_embed_check_column(relation::regclass, tsvector_column::name, '{tsvector}'::regtype[], 'tsvector'::text);
    PERFORM @extschema@.pg_embed_check_column(relation::regclass, vector_column::name, (ARRAY[@extschema@.pg_embed_vector_type()])::regtype[], 'vector'::text);
    text_sql := format(
        'SELECT id, row_number() OVER (ORDER BY rank DESC, id) AS r FROM ('
        'SELECT %1$I::bigint AS id, ts_rank_cd(%2$I, $1, $4) AS rank FROM %3$s WHERE %2$I @@ $1 '
        'ORDER BY rank DESC, %1$I LIMIT $3) s', id_column, tsvector_column, relation);
    -- Ordered by the distance alone, so that an HNSW index can produce the order.
    vector_sql := format(
        'SELECT id, row_number() OVER (ORDER BY dist, id) AS r FROM ('
        'SELECT %1$I::bigint AS id, %2$I OPERATOR(%5$s.%4$s) $2 AS dist FROM %3$s '
        'ORDER BY %2$I OPERATOR(%5$s.%4$s) $2 LIMIT $3) s', id_column, vector_column, relation, op,
        @extschema@.pg_embed_vector_schema());
END
$$;
CREATE OR REPLACE FUNCTION pg_embed_hybrid_tsquery(config regconfig, query text, match text)
RETURNS tsquery LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    words text := array_to_string(ARRAY(
        SELECT '''' || replace(replace(w, '\', '\\'), '''', '''''') || ''''
        FROM unnest(tsvector_to_array(to_tsvector(config, query))) w),
        CASE match WHEN 'all' THEN ' & ' ELSE ' | ' END);
BEGIN
    IF match = 'web' THEN
        RETURN websearch_to_tsquery(config, query);
    END IF;
    RETURN nullif(words, '')::tsquery;
END
$$;
CREATE OR REPLACE FUNCTION pg_embed_hybrid_search(
    relation regclass,
    query text,
    tsvector_column name DEFAULT 'tsv',
    vector_column name DEFAULT 'embedding',
    id_column name DEFAULT 'id',
    max_results int DEFAULT 10,
    k int DEFAULT 60,
    text_weight float8 DEFAULT 1.0,
    vector_weight float8 DEFAULT 1.0,
    candidates int DEFAULT 40,
    model text DEFAULT NULL,
    config regconfig DEFAULT 'english',
    match text DEFAULT 'any',
    distance text DEFAULT 'cosine',
    query_embedding vector DEFAULT NULL,
    rank_normalization int DEFAULT 0
) RETURNS TABLE (id bigint, score float8, text_rank bigint, vector_rank bigint)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    q record;
    tsq tsquery;
    qv query_embedding%TYPE := query_embedding;
BEGIN
    IF k IS NULL OR k < 0 OR rank_normalization IS NULL OR candidates IS NULL OR candidates < 1 OR max_results IS NULL OR max_results < 0
       OR text_weight IS NULL OR vector_weight IS NULL OR text_weight < 0 OR vector_weight < 0 THEN
        RAISE EXCEPTION 'invalid hybrid search settings: k %, candidates %, max_results %, text_weight %, vector_weight %',
                coalesce(k::text, 'NULL'), coalesce(candidates::text, 'NULL'), coalesce(max_results::text, 'NULL'),
                coalesce(text_weight::text, 'NULL'), coalesce(vector_weight::text, 'NULL')
            USING ERRCODE = '22023', DETAIL = 'k and the weights must be 0 or more, candidates at least 1, max_results 0 or more.',
                  HINT = 'The defaults (k => 60, weights 1.0, candidates => 40) are the usual reciprocal rank fusion.';
    END IF;
    IF match IS NULL OR match NOT IN ('any', 'all', 'web') THEN
        RAISE EXCEPTION 'match must be any, all or web, not %', coalesce(quote_literal(match), 'NULL')
            USING ERRCODE = '22023', HINT = 'match => ''any'' (any query word), ''all'' (every word) or ''web'' (websearch_to_tsquery syntax).';
    END IF;
    q := @extschema@.pg_embed_hybrid_queries(relation, tsvector_column, vector_column, id_column, distance);
    IF query IS NULL AND qv IS NULL THEN
        RETURN;
    END IF;
    IF qv IS NULL THEN
        qv := CASE WHEN model IS NULL THEN @extschema@.embed_doc(query) ELSE @extschema@.embed(query, model) END;
    END IF;
    tsq := CASE WHEN query IS NULL THEN NULL ELSE @extschema@.pg_embed_hybrid_tsquery(config, query, match) END;
    IF tsq IS NOT NULL AND numnode(tsq) = 0 THEN
        tsq := NULL;  -- only stop words: the text side has nothing to say
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT coalesce(t.id, v.id), coalesce($5 / ($7 + t.r), 0) + coalesce($6 / ($7 + v.r), 0), t.r, v.r '
        'FROM (%s) t FULL JOIN (%s) v ON t.id = v.id '
        'ORDER BY 2 DESC, 1 LIMIT $8',
        CASE WHEN tsq IS NULL OR text_weight = 0 THEN 'SELECT NULL::bigint AS id, NULL::bigint AS r WHERE false'
             ELSE q.text_sql END,
        CASE WHEN vector_weight = 0 THEN 'SELECT NULL::bigint AS id, NULL::bigint AS r WHERE false'
             ELSE q.vector_sql END)
    USING tsq, qv, candidates, rank_normalization, text_weight, vector_weight, k::float8, max_results;
END
$$;
CREATE OR REPLACE FUNCTION pg_embed_hybrid_explain(
    relation regclass,
    query text,
    tsvector_column name DEFAULT 'tsv',
    vector_column name DEFAULT 'embedding',
    id_column name DEFAULT 'id',
    candidates int DEFAULT 40,
    model text DEFAULT NULL,
    config regconfig DEFAULT 'english',
    match text DEFAULT 'any',
    distance text DEFAULT 'cosine',
    rank_normalization int DEFAULT 0
) RETURNS SETOF text LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    q record;
    line text;
    tsq tsquery;
BEGIN
    q := @extschema@.pg_embed_hybrid_queries(relation, tsvector_column, vector_column, id_column, distance);
    RETURN NEXT 'full-text side:';
    tsq := @extschema@.pg_embed_hybrid_tsquery(config, query, match);
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q.text_sql
        USING tsq, CASE WHEN model IS NULL THEN @extschema@.embed_doc(query) ELSE @extschema@.embed(query, model) END,
              candidates, rank_normalization LOOP
        RETURN NEXT line;
    END LOOP;
    RETURN NEXT 'vector side:';
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q.vector_sql
        USING tsq, CASE WHEN model IS NULL THEN @extschema@.embed_doc(query) ELSE @extschema@.embed(query, model) END,
              candidates, rank_normalization LOOP
        -- The query vector's 384 numbers say nothing about the plan.
        RETURN NEXT regexp_replace(line, '''\[[^]]*\]''::([^ )]*\.)?vector', '<query vector>', 'g');
    END LOOP;
END
$$;
-- Backfill: done means done, linear, partitions, truthful 'interrupted', rows written under
-- row-level security instead of through a SECURITY DEFINER function granted to PUBLIC.
DROP VIEW @extschema@.pg_embed_backfills;
DROP FUNCTION @extschema@.pg_embed_backfill_report(regclass, name, name, text, timestamptz, bigint, bigint, boolean);
ALTER TABLE @extschema@.pg_embed_backfill_progress ADD COLUMN rows_skipped bigint NOT NULL DEFAULT 0,
    ADD COLUMN owner name NOT NULL DEFAULT current_user;
-- Rows of 0.1.0 runs get the role running this update as owner; once they are not running, any
-- role that may update their relation may remove them.
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
    IF model = 'auto' THEN
        model_name := 'auto';
        embed_expr := format('@extschema@.embed_auto(t.%I::text)', text_column);
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
    RETURN jsonb_build_object(
        'relation', relation::oid, 'text_column', text_column, 'vector_column', vector_column, 'todo', todo,
        'set', format('%I = %s%s', vector_column, embed_expr, set_extra),
        'chunk', chunk_size, 'leaves', leaves, 'leaf', 0, 'after', '(0,0)', 'pass', 1,
        'done', 0, 'total', total, 'started', started, 'notice_every', notice_every,
        'next_notice', notice_every, 'ended', false,
        -- With pg_embed.persistent_cache = write, each chunk's texts go to the shared cache
        -- table first (through pg_embed_cache_store, for roles that may run it), so a later
        -- run over the same texts reads them back instead of embedding them again.
        'cache_model', CASE WHEN model_name <> 'auto' AND current_setting('pg_embed.persistent_cache') = 'write'
                                 AND has_function_privilege('@extschema@.pg_embed_cache_store(text, text[])', 'EXECUTE')
                            THEN model_name END);
END
$$;
COMMENT ON FUNCTION pg_embed_backfill_begin(regclass, name, name, text, int, name, name, bigint) IS
  'Internal: starts a pg_embed_backfill run (checks, lock, count, progress row) and returns its state.';
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
BEGIN
    IF (state ->> 'leaf')::int < jsonb_array_length(state -> 'leaves') THEN
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
        RETURN state || jsonb_build_object('after', last::text, 'done', done);
    END IF;
    -- End of a pass: what is left was locked by other sessions (or written since).
    EXECUTE format('SELECT count(*) FROM %s WHERE %s', rel, state ->> 'todo') INTO remaining;
    IF remaining > 0 AND (state ->> 'pass')::int < 3 THEN
        PERFORM pg_sleep(0.2 * (state ->> 'pass')::int);
        RETURN state || jsonb_build_object('pass', (state ->> 'pass')::int + 1, 'leaf', 0, 'after', '(0,0)');
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
CREATE OR REPLACE PROCEDURE pg_embed_backfill(
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

-- Comments that changed with the contracts.
COMMENT ON FUNCTION embed(text, text) IS
  'Embeds a text with the named model (see pg_embed_models) at the precision pg_embed.precision picks; long texts as pg_embed.long_text says. STABLE: for generated columns and expression indexes use embed_fixed.';
COMMENT ON FUNCTION embed_fixed(text, text, text, text) IS
  'Embeds a text with the named model at the given precision (fp32 or int8) and long-text mode (truncate, error or window), whatever the session settings: IMMUTABLE, for generated columns, expression indexes and statements pushed to other nodes. The model''s files must not change in place.';
COMMENT ON FUNCTION embed_doc_batch(text[]) IS
  'Embeds each element with the model embed_doc uses; rows (ord, embedding) in array order, NULL for NULL elements. Lazy: works chunk by chunk and can be cancelled between chunks.';
COMMENT ON FUNCTION embed_batch(text[], text) IS
  'Embeds each element with the named model; rows (ord, embedding) in array order, NULL for NULL elements. STABLE: the precision comes from pg_embed.precision.';
COMMENT ON FUNCTION embed_doc(text) IS
  'Embeds a text with the model routing picks for prose (pg_embed.doc_models or its pin; all-MiniLM-L6-v2, 384 dimensions, by default), L2-normalised; long texts as pg_embed.long_text says. Returns pgvector''s vector; NULL in, NULL out.';
COMMENT ON TABLE pg_embed_selection IS 'The model pinned for each role by pg_embed_reselect(); a role without a pin (or a session whose preferences differ from the pin''s) uses the first preferred model whose files are present and that fits pg_embed.memory_limit.';
COMMENT ON FUNCTION embed_code(text) IS 'Embeds source code with the model routing picks for code (the pin in pg_embed_selection, else the first model of pg_embed.code_models whose files are present).';
COMMENT ON FUNCTION pg_embed_role_model(text) IS
  'The model a role uses now: doc (embed_doc), code (embed_code, routed) or general (the fallback).';
