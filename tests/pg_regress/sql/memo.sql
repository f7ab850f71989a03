-- A search embeds its query text once per statement: the statement memo answers the repeated
-- calls with the same argument (one per row ranked) without running the model again.
SET client_min_messages = warning;
SELECT pg_embed_stats_reset();
CREATE TABLE memo_docs AS
  SELECT i AS id, format('Document %s: how to %s an object', i, (ARRAY['copy', 'move', 'delete', 'rename'])[1 + i % 4]) AS body
    FROM generate_series(1, 60) i;
ALTER TABLE memo_docs ADD COLUMN embedding vector(384), ADD COLUMN tsv tsvector;
UPDATE memo_docs SET embedding = embed_doc(body), tsv = to_tsvector('english', body);
-- Every row was embedded: distinct texts are not answered by the memo.
SELECT sum(texts) AS texts_for_60_distinct_rows FROM pg_embed_stats;
CREATE INDEX memo_hnsw ON memo_docs USING hnsw (embedding vector_cosine_ops);
ANALYZE memo_docs;
SET max_parallel_workers_per_gather = 0;

-- Through the HNSW index: one embedding for the top 10.
SELECT pg_embed_stats_reset();
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM memo_docs ORDER BY embedding <=> embed_doc('how do I copy an object') LIMIT 10;
SELECT count(*) AS rows FROM (SELECT id FROM memo_docs ORDER BY embedding <=> embed_doc('how do I copy an object') LIMIT 10) s;
SELECT sum(texts) AS texts_indexed FROM pg_embed_stats;
RESET enable_seqscan;

-- A sequential scan ranks all 60 rows: still one embedding.
SELECT pg_embed_stats_reset();
SET enable_indexscan = off;
SELECT count(*) AS rows FROM (SELECT id FROM memo_docs ORDER BY embedding <=> embed_doc('how do I copy an object') LIMIT 10) s;
SELECT sum(texts) AS texts_seqscan FROM pg_embed_stats;
RESET enable_indexscan;

-- The hybrid search.
SELECT pg_embed_stats_reset();
SELECT count(*) AS rows FROM pg_embed_hybrid_search('memo_docs', 'copy an object', max_results => 5);
SELECT sum(texts) AS texts_hybrid FROM pg_embed_stats;

-- A prepared statement executed three times: once per execution.
SELECT pg_embed_stats_reset();
PREPARE search(text) AS SELECT id FROM memo_docs ORDER BY embedding <=> embed_doc($1) LIMIT 10;
EXECUTE search('rename an object');
EXECUTE search('rename an object');
EXECUTE search('rename an object');
SELECT sum(texts) AS texts_three_executions FROM pg_embed_stats;
DEALLOCATE search;

-- Within a statement the memo is keyed on the model and every setting that decides the vector:
-- embed() and embed_doc() of the same text share one run, int8 is another.
SELECT pg_embed_stats_reset();
SELECT embed('the same text', 'all-MiniLM-L6-v2') = embed_doc('the same text') AS shared,
       embed_fixed('the same text', 'all-MiniLM-L6-v2', 'int8') <> embed_doc('the same text') AS int8_differs;
SELECT sum(texts) AS texts FROM pg_embed_stats;
DROP TABLE memo_docs;
