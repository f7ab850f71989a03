-- Provenance and A/B: pgvector type helpers, the column check, the provenance trigger, pg_embed_ab_compare.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

COMMENT ON FUNCTION pg_embed_model_id(text) IS
  'Identifies the model file a model name loads now: name@revision/precision/first 12 hex digits of the ONNX file''s SHA-256 (hashed once per backend while the file is unchanged). Store it next to each vector.';
COMMENT ON FUNCTION pg_embed_role_model(text) IS
  'The model a role uses now: doc (embed_doc), code (embed_code, routed) or general (the fallback).';

-- Checks that a column exists in a relation and has one of the wanted types; raises 42703 or
-- 42804 with the columns that would do in the hint. Returns the column's type.
CREATE FUNCTION pg_embed_check_column(relation regclass, col name, wanted regtype[], what text)
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
COMMENT ON FUNCTION pg_embed_check_column(regclass, name, regtype[], text) IS
  'Internal: raises 42703 / 42804 with a hint when a column is missing or of the wrong type.';

-- The type of pgvector's vector (it may live in another schema than pg_embed), and that schema
-- quoted, for the functions below, which run with search_path = pg_catalog, pg_temp.
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

-- The trigger: TG_ARGV = text column, vector column, model id column [, model or role].
CREATE FUNCTION pg_embed_provenance_trigger() RETURNS trigger LANGUAGE plpgsql
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
COMMENT ON FUNCTION pg_embed_provenance_trigger() IS
  'Trigger: embeds the text column into the vector column and writes pg_embed_model_id() of the model into the model id column. Arguments: text column, vector column, model id column, and a model name or doc (default), code or auto.';

-- A/B: the candidate model's vectors go into a side column; both models then rank the same
-- documents for a sample of the user's queries, exactly (no index), and the metrics are
-- compared. Relevance is binary: a document is relevant when its id is in the query's array.
CREATE FUNCTION pg_embed_ab_compare(
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
COMMENT ON FUNCTION pg_embed_ab_compare(regclass, name, name, name, name, text, regclass, name, name, text, int) IS
  'A/B before switching models: embeds missing documents with candidate_model into candidate_column, then ranks the documents for a sample of queries (the relevant_column array holds the ids of the right answers) with the current and the candidate model, exactly, and reports MRR@10, Recall@10, P@1 and nDCG@10 for each.';
