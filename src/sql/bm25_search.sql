-- BM25: the checks, the view and the search over the statistics bm25.sql keeps.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

CREATE FUNCTION pg_embed_bm25_check(relation regclass, terms_column name DEFAULT NULL)
RETURNS TABLE (kept_documents bigint, kept_terms bigint, counted_documents bigint, counted_terms bigint,
               wrong_frequencies bigint, consistent boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    reg @extschema@.pg_embed_bm25_columns := @extschema@.pg_embed_bm25_column(relation, terms_column);
    counted record;
BEGIN
    SELECT sum(t.documents)::bigint, sum(t.terms)::bigint INTO kept_documents, kept_terms
      FROM @extschema@.pg_embed_bm25_totals t WHERE t.relation = $1 AND t.terms_column = reg.terms_column;
    EXECUTE @extschema@.pg_embed_bm25_delta_sql(format('SELECT 1 AS sign, %I AS terms FROM ONLY %s', reg.terms_column, relation))
        INTO counted;
    counted_documents := counted.documents;
    counted_terms := counted.terms;
    -- Terms whose kept frequency differs from the count (a term no document holds any more may be
    -- kept with frequency 0).
    WITH every AS (
        SELECT array_agg(DISTINCT a.term) AS terms FROM (
            SELECT unnest(counted.term_names) AS term
            UNION ALL SELECT f.term FROM @extschema@.pg_embed_bm25_df f WHERE f.relation = $1 AND f.terms_column = reg.terms_column
            UNION ALL SELECT unnest(t.term_names) FROM @extschema@.pg_embed_bm25_totals t
                       WHERE t.relation = $1 AND t.terms_column = reg.terms_column) a),
    kept AS (
        SELECT u.term, u.df FROM every, unnest(every.terms, @extschema@.pg_embed_bm25_term_df(relation, reg.terms_column, every.terms)) u(term, df))
    SELECT count(*) INTO wrong_frequencies
      FROM kept k LEFT JOIN unnest(counted.term_names, counted.term_dfs) c(term, df) ON c.term = k.term
     WHERE k.df <> coalesce(c.df, 0);
    consistent := kept_documents IS NOT DISTINCT FROM counted_documents AND kept_terms IS NOT DISTINCT FROM counted_terms
                  AND wrong_frequencies = 0;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION pg_embed_bm25_check(regclass, name) IS
  'Compares the BM25 statistics kept for a column (documents, terms, each term''s document frequency) with a count of the table (reads the whole table); consistent = they agree.';

CREATE VIEW pg_embed_bm25_indexes WITH (security_barrier) AS
SELECT c.relation, c.terms_column, c.tokenizer, c.k1, c.b,
       sum(t.documents)::bigint AS documents, sum(t.terms)::bigint AS terms,
       sum(t.terms)::float8 / nullif(sum(t.documents), 0) AS average_length,
       (SELECT count(*) FROM pg_embed_bm25_df f WHERE f.relation = c.relation AND f.terms_column = c.terms_column AND f.df > 0) AS distinct_terms,
       count(t.*) AS change_rows
  FROM pg_embed_bm25_columns c
  LEFT JOIN pg_embed_bm25_totals t ON t.relation = c.relation AND t.terms_column = c.terms_column
 WHERE EXISTS (SELECT FROM pg_class r WHERE r.oid = c.relation)
   AND pg_embed_bm25_may_read(c.relation, c.terms_column)  -- the view reads as its owner
 GROUP BY c.relation, c.terms_column, c.tokenizer, c.k1, c.b;
GRANT SELECT ON pg_embed_bm25_indexes TO PUBLIC;
COMMENT ON VIEW pg_embed_bm25_indexes IS
  'Columns registered for BM25: tokenizer, k1, b, and the corpus as this snapshot sees it (documents, terms, average length; distinct_terms as of the last fold); change_rows = rows of changes not yet folded.';

-- The document frequency of each of a column's terms as this snapshot sees it: the last fold
-- plus the changes since.
CREATE FUNCTION pg_embed_bm25_term_df(relation regclass, terms_column name, terms text[]) RETURNS bigint[]
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT array_agg(coalesce(f.df, 0) + coalesce(p.df, 0) ORDER BY q.i)
      FROM unnest($3) WITH ORDINALITY q(term, i)
      LEFT JOIN @extschema@.pg_embed_bm25_df f ON f.relation = $1 AND f.terms_column = $2 AND f.term = q.term
      LEFT JOIN LATERAL (SELECT sum(t.term_dfs[array_position(t.term_names, q.term)]) AS df
                           FROM @extschema@.pg_embed_bm25_totals t
                          WHERE t.relation = $1 AND t.terms_column = $2 AND cardinality(t.term_names) > 0) p ON true
$$;
COMMENT ON FUNCTION pg_embed_bm25_term_df(regclass, name, text[]) IS 'Internal: the document frequencies of terms in a registered column.';

-- The BM25 search of one column, as SQL: $1 the query's distinct terms, $2 their document
-- frequencies, $3 the number of documents, $4 their average length, $5 k1, $6 b, $7 the terms a
-- candidate must hold one of (GIN index), $8 the number of results. Ties go to the smaller id.
CREATE FUNCTION pg_embed_bm25_sql(relation regclass, terms_column name, id_column name) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM @extschema@.pg_embed_check_column(relation, id_column, '{smallint,integer,bigint}'::regtype[], 'id'::text);
    RETURN format(
        'SELECT %1$I::bigint AS id, @extschema@.pg_embed_bm25_score(%2$I, $1, $2, $3, $4, $5, $6) AS score '
        '  FROM ONLY %3$s WHERE %2$I OPERATOR(pg_catalog.&&) $7 ORDER BY score DESC, %1$I LIMIT $8',
        id_column, terms_column, relation);
END
$$;
COMMENT ON FUNCTION pg_embed_bm25_sql(regclass, name, name) IS 'Internal: the query pg_embed_bm25_search runs.';

-- Exact top-k by MaxScore: a term's contribution to a score is below idf * (k1 + 1). The
-- documents holding the rarest terms are scored first; their k-th score S says which common
-- terms cannot lift a document to S together (the most frequent ones whose bounds add up to less
-- than S). A document holding only those cannot be in the top k, so the final candidates are the
-- documents holding one of the other terms: every document that can be in the top k is scored.
CREATE FUNCTION pg_embed_bm25_search(
    relation regclass,
    query text,
    terms_column name DEFAULT NULL,
    id_column name DEFAULT 'id',
    max_results int DEFAULT 10
) RETURNS TABLE (id bigint, score float8)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    reg @extschema@.pg_embed_bm25_columns := @extschema@.pg_embed_bm25_column(relation, terms_column);
    sql text;
    terms text[];
    dfs bigint[];
    n bigint;
    total bigint;
    seeds int := 0;
    seed_docs bigint := 0;
    needed int;
    bound float8 := 0;
    ids bigint[];
    scores float8[];
BEGIN
    IF max_results IS NULL OR max_results < 0 THEN
        RAISE EXCEPTION 'max_results must be 0 or more, not %', coalesce(max_results::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'max_results => 10 returns the ten best documents.';
    END IF;
    SELECT sum(t.documents), sum(t.terms) INTO n, total
      FROM @extschema@.pg_embed_bm25_totals t WHERE t.relation = $1 AND t.terms_column = reg.terms_column;
    IF n IS NULL THEN
        RAISE EXCEPTION 'the BM25 statistics of %.% are missing', relation, quote_ident(reg.terms_column) USING ERRCODE = '55000',
            HINT = format('SELECT pg_embed_bm25_recount(%L, %L);', relation::text, reg.terms_column);
    END IF;
    sql := @extschema@.pg_embed_bm25_sql(relation, reg.terms_column, id_column);
    terms := @extschema@.pg_embed_bm25_query_terms(query, reg.tokenizer);
    IF max_results = 0 OR terms IS NULL OR cardinality(terms) = 0 OR n <= 0 OR total <= 0 THEN
        RETURN;
    END IF;
    -- The query's terms that some document holds, rarest first.
    SELECT array_agg(q.term ORDER BY q.df, q.term), array_agg(q.df ORDER BY q.df, q.term) INTO terms, dfs
      FROM unnest(terms, @extschema@.pg_embed_bm25_term_df(relation, reg.terms_column, terms)) q(term, df)
     WHERE q.df > 0;
    IF terms IS NULL THEN
        RETURN;
    END IF;
    -- First pass: the rarest terms, up to 2,000 documents (at least one term).
    LOOP
        seeds := seeds + 1;
        seed_docs := seed_docs + dfs[seeds];
        EXIT WHEN seeds = cardinality(terms) OR seed_docs + dfs[seeds + 1] > 2000;
    END LOOP;
    EXECUTE format('SELECT array_agg(r.id ORDER BY r.score DESC, r.id), array_agg(r.score ORDER BY r.score DESC, r.id) FROM (%s) r', sql)
        INTO ids, scores USING terms, dfs, n::float8, total::float8 / n, reg.k1, reg.b, terms[1:seeds], max_results;
    IF seeds = cardinality(terms) THEN
        needed := seeds;
    ELSIF coalesce(cardinality(ids), 0) = max_results THEN
        -- The most frequent terms whose bounds add up to less than the k-th score cannot make a
        -- document's score alone; the others are needed.
        needed := cardinality(terms);
        LOOP
            bound := bound + ln(1 + (n - dfs[needed] + 0.5) / (dfs[needed] + 0.5)) * (reg.k1 + 1);
            EXIT WHEN needed = 1 OR bound >= scores[max_results] * (1 - 1e-9);
            needed := needed - 1;
        END LOOP;
    ELSE
        needed := cardinality(terms);  -- fewer than max_results documents hold the rarest terms
    END IF;
    IF needed > seeds THEN
        RETURN QUERY EXECUTE sql USING terms, dfs, n::float8, total::float8 / n, reg.k1, reg.b, terms[1:needed], max_results;
    ELSE
        RETURN QUERY SELECT r.id, r.score FROM unnest(ids, scores) WITH ORDINALITY r(id, score, i) ORDER BY r.i;
    END IF;
END
$$;
COMMENT ON FUNCTION pg_embed_bm25_search(regclass, text, name, name, int) IS
  'BM25 search of a registered terms column (NULL: the table''s only one): the max_results documents with the highest Okapi BM25 score for query (idf = ln(1 + (N - df + 0.5) / (df + 0.5)), the column''s k1 and b), best first, ties by id. Exact: every document that can be among them is scored, with the statistics of the rows this snapshot sees.';
