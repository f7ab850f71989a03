-- Batched, set-returning embedding: input order, NULLs, equality with single calls.
SELECT ord, vector_dims(embedding) AS dims FROM embed_doc_batch(ARRAY['first', NULL, 'third']) ORDER BY ord;
SELECT count(*) FROM embed_doc_batch(ARRAY[]::text[]);
SELECT embed_doc_batch(NULL) IS NULL AS strict;

-- 150 texts of mixed lengths (sorted by length inside, returned in input order).
CREATE TEMP TABLE many AS
  SELECT i AS ord, CASE WHEN i % 10 = 0 THEN NULL ELSE repeat('word' || i || ' ', 1 + (i * 37) % 90) END AS body
  FROM generate_series(1, 150) AS i;
CREATE TEMP TABLE batched AS
  SELECT * FROM embed_doc_batch((SELECT array_agg(body ORDER BY ord) FROM many));
SELECT count(*) AS rows, count(embedding) AS vectors, min(ord), max(ord) FROM batched;
SELECT bool_and(b.ord = row_number) AS in_order
  FROM (SELECT ord, row_number() OVER () FROM batched) b;
SELECT min(1 - (b.embedding <=> embed_doc(m.body))) >= 0.9999 AS equals_single_fp32
  FROM batched b JOIN many m USING (ord) WHERE m.body IS NOT NULL;

-- int8: activations are quantized per tensor, so batching would change vectors; int8 models
-- run one text at a time and batches still equal single calls.
SET pg_embed.precision = 'int8';
SELECT min(1 - (b.embedding <=> embed_doc(m.body))) >= 0.9999 AS equals_single_int8
  FROM embed_doc_batch((SELECT array_agg(body ORDER BY ord) FROM many)) b JOIN many m USING (ord)
  WHERE m.body IS NOT NULL;
RESET pg_embed.precision;

-- A named model.
SELECT ord, vector_dims(embedding) FROM embed_batch(ARRAY['a', 'b'], 'paraphrase-MiniLM-L3-v2') ORDER BY ord;
SELECT round((embedding <=> embed('b', 'paraphrase-MiniLM-L3-v2'))::numeric, 4) AS same
  FROM embed_batch(ARRAY['a', 'b'], 'paraphrase-MiniLM-L3-v2') WHERE ord = 2;
SELECT * FROM embed_batch(ARRAY['a'], 'no-such-model');
\echo :LAST_ERROR_SQLSTATE

-- Feeding a table.
CREATE TEMP TABLE docs (id int, embedding vector(384));
INSERT INTO docs SELECT ord, embedding FROM embed_doc_batch(ARRAY['x', 'y', 'z']);
SELECT count(*) FROM docs WHERE embedding IS NOT NULL;

-- A long batch can be cancelled: statement_timeout stops it between chunks and runs.
SET statement_timeout = '300ms';
SELECT count(*) FROM embed_doc_batch(array_fill(repeat('long text ', 120), ARRAY[5000]));
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
SELECT vector_dims(embed_doc('still works after cancel')) AS works;
