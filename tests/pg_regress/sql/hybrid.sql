-- Hybrid search: full-text search (tsvector, GIN, ts_rank_cd) and vector search (HNSW) fused
-- by reciprocal rank fusion. Data: the first 200 answers of the Python FAQ.
-- n numbers the lines in the order COPY reads them (a heap's physical order is not the file's).
CREATE TEMP TABLE raw (n serial, line text);
COPY raw (line) FROM '@data@/faq/corpus.jsonl' WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02');
CREATE TABLE answers (
    id bigint PRIMARY KEY,
    doc text NOT NULL,
    body text NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED,
    embedding vector(384)
);
INSERT INTO answers (id, doc, body)
  SELECT n, line::jsonb ->> '_id', btrim((line::jsonb ->> 'title') || E'\n' || (line::jsonb ->> 'text'), E'\n')
  FROM raw WHERE n <= 200;
SET client_min_messages = warning;
CALL pg_embed_backfill('answers', 'body', 'embedding');
RESET client_min_messages;
CREATE INDEX answers_tsv ON answers USING gin (tsv);
CREATE INDEX answers_embedding ON answers USING hnsw (embedding vector_cosine_ops);
ANALYZE answers;

-- Both sides use their index. (On a table this small the planner would rather read it all;
-- with sequential scans off it shows the plans a large table gets.)
SET enable_seqscan = off;
SELECT * FROM pg_embed_hybrid_explain('answers', 'Why are Python strings immutable?');
RESET enable_seqscan;

-- A question and its fused ranking: rank on each side, score = 1/(60 + text rank) + 1/(60 + vector rank).
SELECT a.doc, h.text_rank, h.vector_rank, round(h.score::numeric, 5) AS score
  FROM pg_embed_hybrid_search('answers', 'Why are Python strings immutable?', max_results => 5) h
  JOIN answers a USING (id) ORDER BY h.score DESC, h.id;

-- The same fusion written out by hand over exact rankings gives the same rows and scores.
WITH q AS MATERIALIZED (
    SELECT embed_doc('How do I copy an object in Python?') AS v,
           to_tsquery('english', 'copy | object | python') AS tsq),
t AS (SELECT id, row_number() OVER (ORDER BY ts_rank_cd(tsv, q.tsq) DESC, id) AS r
      FROM answers, q WHERE tsv @@ q.tsq ORDER BY r LIMIT 40),
v AS (SELECT id, row_number() OVER (ORDER BY embedding <=> q.v, id) AS r
      FROM answers, q ORDER BY r LIMIT 40),
by_hand AS (
    SELECT coalesce(t.id, v.id) AS id, coalesce(2.0 / (10 + t.r), 0) + coalesce(1.0 / (10 + v.r), 0) AS score
    FROM t FULL JOIN v ON t.id = v.id ORDER BY score DESC, id LIMIT 10),
by_function AS (
    SELECT id, score FROM pg_embed_hybrid_search('answers', 'How do I copy an object in Python?',
                                                 k => 10, text_weight => 2, vector_weight => 1))
SELECT (SELECT array_agg(id ORDER BY score DESC, id) FROM by_hand) = (SELECT array_agg(id ORDER BY score DESC, id) FROM by_function) AS same_ids,
       (SELECT max(abs(b.score - f.score)) FROM by_hand b JOIN by_function f USING (id)) < 1e-9 AS same_scores;

-- Weight 0 switches a side off; a query of stop words only has no text side.
SELECT count(*) FILTER (WHERE text_rank IS NOT NULL) AS from_text, count(*) FILTER (WHERE vector_rank IS NOT NULL) AS from_vectors
  FROM pg_embed_hybrid_search('answers', 'Why are Python strings immutable?', text_weight => 0);
SELECT count(*) FILTER (WHERE text_rank IS NOT NULL) AS from_text, count(*) FILTER (WHERE vector_rank IS NOT NULL) AS from_vectors
  FROM pg_embed_hybrid_search('answers', 'Why are Python strings immutable?', vector_weight => 0);
SELECT count(*) FILTER (WHERE text_rank IS NOT NULL) AS from_text, count(*) FILTER (WHERE vector_rank IS NOT NULL) AS from_vectors
  FROM pg_embed_hybrid_search('answers', 'to be or not to be');
-- match => 'all' needs every word; 'web' takes websearch syntax.
SELECT count(*) AS all_words FROM pg_embed_hybrid_search('answers', 'immutable strings tuples', match => 'all', vector_weight => 0);
SELECT count(*) AS any_word FROM pg_embed_hybrid_search('answers', 'immutable strings tuples', vector_weight => 0);
SELECT count(*) AS web FROM pg_embed_hybrid_search('answers', '"immutable" -tuples', match => 'web', vector_weight => 0);
-- A precomputed query vector; NULL query and vector give no rows.
SELECT count(*) AS with_query_embedding FROM pg_embed_hybrid_search('answers', 'immutable strings',
    query_embedding => embed_doc('immutable strings'));
SELECT count(*) AS null_query FROM pg_embed_hybrid_search('answers', NULL);

-- Wrong columns, types and settings: errors with a SQLSTATE and a hint naming what fits.
SELECT * FROM pg_embed_hybrid_search('answers', 'strings', tsvector_column => 'body');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_hybrid_search('answers', 'strings', vector_column => 'vec');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_hybrid_search('answers', 'strings', id_column => 'doc');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_hybrid_search('answers', 'strings', k => -1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_hybrid_search('answers', 'strings', match => 'some');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_hybrid_search('answers', 'strings', distance => 'hamming');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_hybrid_search('no_such_table', 'strings');
\echo :LAST_ERROR_SQLSTATE
-- Names are identifiers, never SQL text.
SELECT * FROM pg_embed_hybrid_search('answers; DROP TABLE answers', 'strings');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_hybrid_search('answers', 'strings', tsvector_column => 'tsv @@ $1 OR true; --');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE "odd ""name""" (id int, "my tsv" tsvector, "my vec" vector(384));
INSERT INTO "odd ""name""" VALUES (1, to_tsvector('english', 'immutable strings'), embed_doc('immutable strings'));
SELECT id, text_rank, vector_rank FROM pg_embed_hybrid_search('"odd ""name"""', 'strings', 'my tsv', 'my vec');
SELECT count(*) AS answers_still_there FROM answers;
DROP TABLE answers, "odd ""name""";
