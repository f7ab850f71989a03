-- Hybrid search: full-text and vector rankings fused by reciprocal rank fusion.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

-- The two inner queries for a table, after checking its columns (tsvector_column NULL: no
-- full-text query). Parameters: $1 the tsquery, $2 the query vector, $3 the number of candidates
-- from each side, $4 ts_rank_cd's normalization.
CREATE FUNCTION pg_embed_hybrid_queries(
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
    IF tsvector_column IS NOT NULL THEN
        PERFORM @extschema@.pg_embed_check_column(relation::regclass, tsvector_column::name, '{tsvector}'::regtype[], 'tsvector'::text);
    END IF;
    PERFORM @extschema@.pg_embed_check_column(relation::regclass, vector_column::name, (ARRAY[@extschema@.pg_embed_vector_type()])::regtype[], 'vector'::text);
    IF tsvector_column IS NOT NULL THEN
        text_sql := format(
            'SELECT id, row_number() OVER (ORDER BY rank DESC, id) AS r FROM ('
            'SELECT %1$I::bigint AS id, ts_rank_cd(%2$I, $1, $4) AS rank FROM %3$s WHERE %2$I @@ $1 '
            'ORDER BY rank DESC, %1$I LIMIT $3) s', id_column, tsvector_column, relation);
    END IF;
    -- Ordered by the distance alone, so that an HNSW index can produce the order.
    vector_sql := format(
        'SELECT id, row_number() OVER (ORDER BY dist, id) AS r FROM ('
        'SELECT %1$I::bigint AS id, %2$I OPERATOR(%5$s.%4$s) $2 AS dist FROM %3$s '
        'ORDER BY %2$I OPERATOR(%5$s.%4$s) $2 LIMIT $3) s', id_column, vector_column, relation, op,
        @extschema@.pg_embed_vector_schema());
END
$$;
COMMENT ON FUNCTION pg_embed_hybrid_queries(regclass, name, name, name, text) IS
  'Internal: checks the columns and returns the full-text and vector queries pg_embed_hybrid_search runs.';

-- The text query: 'any' matches documents with any of the query's words (ranked by
-- ts_rank_cd, so more and closer matches rank higher), 'all' needs every word, 'web' takes
-- websearch syntax (quotes, or, -word). NULL when the query has no words but stop words.
CREATE FUNCTION pg_embed_hybrid_tsquery(config regconfig, query text, match text)
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
COMMENT ON FUNCTION pg_embed_hybrid_tsquery(regconfig, text, text) IS
  'Internal: the tsquery of a hybrid search for match = any, all or web.';


-- The text ranker of a hybrid search: the one asked for, else bm25 when the table has a column
-- registered for BM25 (the one named, if terms_column is given), else ts_rank_cd.
CREATE FUNCTION pg_embed_hybrid_ranker(relation regclass, ranker text, terms_column name, match text)
RETURNS text LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    chosen text := coalesce(ranker, CASE WHEN EXISTS (
        SELECT FROM @extschema@.pg_embed_bm25_columns c WHERE c.relation = $1 AND (c.terms_column = $3 OR $3 IS NULL))
        THEN 'bm25' ELSE 'ts_rank_cd' END);
BEGIN
    IF chosen NOT IN ('bm25', 'ts_rank_cd') THEN
        RAISE EXCEPTION 'ranker must be bm25 or ts_rank_cd, not %', quote_literal(chosen) USING ERRCODE = '22023',
            HINT = 'ranker => ''bm25'' (a column registered with pg_embed_bm25_register) or ''ts_rank_cd'' (a tsvector column).';
    END IF;
    IF chosen = 'bm25' AND match IS DISTINCT FROM 'any' THEN
        RAISE EXCEPTION 'match => % applies to the ts_rank_cd ranker only', coalesce(quote_literal(match), 'NULL') USING ERRCODE = '22023',
            DETAIL = 'BM25 scores every document sharing a term with the query.',
            HINT = 'Leave match out, or use ranker => ''ts_rank_cd''.';
    END IF;
    RETURN chosen;
END
$$;
COMMENT ON FUNCTION pg_embed_hybrid_ranker(regclass, text, name, text) IS
  'Internal: the text ranker a hybrid search uses (ranker NULL: bm25 when the table has a registered BM25 column, else ts_rank_cd).';

-- The BM25 side of a hybrid search: $9 the relation, $10 the query, $11 the terms column,
-- $12 the id column, $3 the number of candidates.
CREATE FUNCTION pg_embed_hybrid_bm25_sql() RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'SELECT b.id, row_number() OVER (ORDER BY b.score DESC, b.id) AS r '
           'FROM @extschema@.pg_embed_bm25_search($9, $10, $11, $12, $3) b'
$$;
COMMENT ON FUNCTION pg_embed_hybrid_bm25_sql() IS 'Internal: the BM25 side of pg_embed_hybrid_search.';

CREATE FUNCTION pg_embed_hybrid_search(
    relation regclass,
    query text,
    tsvector_column name DEFAULT 'tsv',
    vector_column name DEFAULT 'embedding',
    id_column name DEFAULT 'id',
    max_results int DEFAULT 10,
    k int DEFAULT NULL,
    text_weight float8 DEFAULT NULL,
    vector_weight float8 DEFAULT 1.0,
    candidates int DEFAULT NULL,
    model text DEFAULT NULL,
    config regconfig DEFAULT 'english',
    match text DEFAULT 'any',
    distance text DEFAULT 'cosine',
    query_embedding vector DEFAULT NULL,
    rank_normalization int DEFAULT 0,
    ranker text DEFAULT NULL,
    terms_column name DEFAULT NULL
) RETURNS TABLE (id bigint, score float8, text_rank bigint, vector_rank bigint)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    q record;
    tsq tsquery;
    qv query_embedding%TYPE := query_embedding;
    rk text := @extschema@.pg_embed_hybrid_ranker(relation, ranker, terms_column, match);
    text_sql text;
    ef_search text;
BEGIN
    -- Chosen on the benchmark's code set for all-MiniLM-L6-v2 + BM25 (benches/bm25): k 5, text
    -- weight 0.5, 100 candidates from each side.
    k := coalesce(k, CASE rk WHEN 'bm25' THEN 5 ELSE 60 END);
    text_weight := coalesce(text_weight, CASE rk WHEN 'bm25' THEN 0.5 ELSE 1.0 END);
    candidates := coalesce(candidates, CASE rk WHEN 'bm25' THEN 100 ELSE 40 END);
    IF k < 0 OR rank_normalization IS NULL OR candidates IS NULL OR candidates < 1 OR max_results IS NULL OR max_results < 0
       OR vector_weight IS NULL OR NOT (text_weight >= 0 AND text_weight < 'infinity') OR NOT (vector_weight >= 0 AND vector_weight < 'infinity') THEN
        RAISE EXCEPTION 'invalid hybrid search settings: k %, candidates %, max_results %, text_weight %, vector_weight %',
                k, coalesce(candidates::text, 'NULL'), coalesce(max_results::text, 'NULL'),
                text_weight, coalesce(vector_weight::text, 'NULL')
            USING ERRCODE = '22023', DETAIL = 'k and the weights must be 0 or more (and finite), candidates at least 1, max_results 0 or more.',
                  HINT = 'Leave k, text_weight and candidates out for the ranker''s defaults (bm25: 5, 0.5, 100; ts_rank_cd: 60, 1.0, 40).';
    END IF;
    IF match IS NULL OR match NOT IN ('any', 'all', 'web') THEN
        RAISE EXCEPTION 'match must be any, all or web, not %', coalesce(quote_literal(match), 'NULL')
            USING ERRCODE = '22023', HINT = 'match => ''any'' (any query word), ''all'' (every word) or ''web'' (websearch_to_tsquery syntax).';
    END IF;
    q := @extschema@.pg_embed_hybrid_queries(relation, CASE rk WHEN 'ts_rank_cd' THEN tsvector_column END, vector_column, id_column, distance);
    IF rk = 'bm25' THEN
        PERFORM @extschema@.pg_embed_bm25_column(relation, terms_column);
    END IF;
    IF query IS NULL AND qv IS NULL THEN
        RETURN;
    END IF;
    IF qv IS NULL THEN
        qv := CASE WHEN model IS NULL THEN @extschema@.embed_doc(query) ELSE @extschema@.embed(query, model) END;
    END IF;
    IF rk = 'ts_rank_cd' THEN
        tsq := CASE WHEN query IS NULL THEN NULL ELSE @extschema@.pg_embed_hybrid_tsquery(config, query, match) END;
        IF tsq IS NOT NULL AND numnode(tsq) = 0 THEN
            tsq := NULL;  -- only stop words: the text side has nothing to say
        END IF;
        text_sql := CASE WHEN tsq IS NOT NULL THEN q.text_sql END;
    ELSIF query IS NOT NULL THEN
        text_sql := @extschema@.pg_embed_hybrid_bm25_sql();
    END IF;
    -- An HNSW scan returns at most hnsw.ef_search rows: raised to the candidates asked for while
    -- the search runs, then put back.
    ef_search := coalesce(nullif(current_setting('hnsw.ef_search', true), ''), '40');  -- pgvector's default
    IF candidates > ef_search::int THEN
        PERFORM set_config('hnsw.ef_search', least(candidates, 1000)::text, true);
    ELSE
        ef_search := NULL;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT coalesce(t.id, v.id), coalesce($5 / ($7 + t.r), 0) + coalesce($6 / ($7 + v.r), 0), t.r, v.r '
        'FROM (%s) t FULL JOIN (%s) v ON t.id = v.id '
        'ORDER BY 2 DESC, 1 LIMIT $8',
        CASE WHEN text_sql IS NULL OR text_weight = 0 THEN 'SELECT NULL::bigint AS id, NULL::bigint AS r WHERE false'
             ELSE text_sql END,
        CASE WHEN vector_weight = 0 THEN 'SELECT NULL::bigint AS id, NULL::bigint AS r WHERE false'
             ELSE q.vector_sql END)
    USING tsq, qv, candidates, rank_normalization, text_weight, vector_weight, k::float8, max_results,
          relation, query, terms_column, id_column;
    IF ef_search IS NOT NULL THEN
        PERFORM set_config('hnsw.ef_search', ef_search, true);
    END IF;
END
$$;
COMMENT ON FUNCTION pg_embed_hybrid_search(regclass, text, name, name, name, int, int, float8, float8, int, text, regconfig, text, text, vector, int, text, name) IS
  'Hybrid search: a text ranking and vector similarity (the query embedded with model, default embed_doc) fused by reciprocal rank fusion, score = text_weight / (k + text rank) + vector_weight / (k + vector rank). The text ranker is bm25 (a column registered with pg_embed_bm25_register; the default when there is one) or ts_rank_cd over tsvector_column. Returns id, score and both ranks, best first.';

CREATE FUNCTION pg_embed_hybrid_explain(
    relation regclass,
    query text,
    tsvector_column name DEFAULT 'tsv',
    vector_column name DEFAULT 'embedding',
    id_column name DEFAULT 'id',
    candidates int DEFAULT NULL,
    model text DEFAULT NULL,
    config regconfig DEFAULT 'english',
    match text DEFAULT 'any',
    distance text DEFAULT 'cosine',
    rank_normalization int DEFAULT 0,
    ranker text DEFAULT NULL,
    terms_column name DEFAULT NULL
) RETURNS SETOF text LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    q record;
    line text;
    tsq tsquery;
    rk text := @extschema@.pg_embed_hybrid_ranker(relation, ranker, terms_column, match);
    reg record;
    terms text[];
BEGIN
    candidates := coalesce(candidates, CASE rk WHEN 'bm25' THEN 100 ELSE 40 END);
    q := @extschema@.pg_embed_hybrid_queries(relation, CASE rk WHEN 'ts_rank_cd' THEN tsvector_column END, vector_column, id_column, distance);
    IF rk = 'bm25' THEN
        reg := @extschema@.pg_embed_bm25_column(relation, terms_column);
        RETURN NEXT 'BM25 side:';
        terms := @extschema@.pg_embed_bm25_query_terms(query, reg.tokenizer);
        FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || @extschema@.pg_embed_bm25_sql(relation, reg.terms_column, id_column)
            USING terms, @extschema@.pg_embed_bm25_term_df(relation, reg.terms_column, terms), 1::float8, 1::float8,
                  reg.k1, reg.b, terms, candidates LOOP
            RETURN NEXT line;
        END LOOP;
    ELSE
        RETURN NEXT 'full-text side:';
        tsq := @extschema@.pg_embed_hybrid_tsquery(config, query, match);
        FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q.text_sql
            USING tsq, CASE WHEN model IS NULL THEN @extschema@.embed_doc(query) ELSE @extschema@.embed(query, model) END,
                  candidates, rank_normalization LOOP
            RETURN NEXT line;
        END LOOP;
    END IF;
    RETURN NEXT 'vector side:';
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q.vector_sql
        USING tsq, CASE WHEN model IS NULL THEN @extschema@.embed_doc(query) ELSE @extschema@.embed(query, model) END,
              candidates, rank_normalization LOOP
        -- The query vector's 384 numbers say nothing about the plan.
        RETURN NEXT regexp_replace(line, '''\[[^]]*\]''::([^ )]*\.)?vector', '<query vector>', 'g');
    END LOOP;
END
$$;
COMMENT ON FUNCTION pg_embed_hybrid_explain(regclass, text, name, name, name, int, text, regconfig, text, text, int, text, name) IS
  'The plans of the two queries pg_embed_hybrid_search runs (EXPLAIN, no costs): shows whether the GIN and HNSW indexes are used.';
