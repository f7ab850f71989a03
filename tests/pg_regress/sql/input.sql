-- Unusual input: each gets a defined result or a clear error with a SQLSTATE.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT embed_doc(NULL) IS NULL AS null_gives_null;
SELECT vector_dims(embed_doc('')) AS empty, vector_dims(embed_doc('   ')) AS blanks,
       vector_dims(embed_doc(E'\t\n\r')) AS whitespace;
SELECT round((embed_doc('') <=> embed_doc('   '))::numeric, 4) AS empty_equals_blanks;
SELECT vector_dims(embed_doc(E'ctl\x01\x02\x1b[31m\x7f chars')) AS control_chars;
SELECT vector_dims(embed_doc('🎉🚀🔥')) AS emoji, vector_dims(embed_doc('東京は日本の首都です')) AS cjk,
       vector_dims(embed_doc('مرحبا بالعالم')) AS rtl, vector_dims(embed_doc(E'e\u0301 a\u0300')) AS combining;
SELECT vector_dims(embed_doc(repeat('🎉', 100000))) AS many_emoji;
-- Texts are L2-normalised whatever they are.
SELECT bool_and(abs(vector_norm(embed_doc(t)) - 1) < 1e-5) AS unit_norm
  FROM unnest(ARRAY['', 'x', '🎉', E'\x01', repeat('long ', 1000)]) AS t;

-- Long texts: truncate (default) embeds the first 256 tokens and says so once per statement.
SELECT vector_dims(embed_doc(repeat('database ', 300000))) AS one_mb_text;
CREATE TEMP TABLE longs AS SELECT i, repeat('vector search ' || i || ' ', 400) AS body FROM generate_series(1, 3) i;
SELECT count(embed_doc(body)) AS three_long_texts_one_notice FROM longs;
-- The first tokens decide: two texts that share their first 256 tokens embed alike.
SELECT round((embed_doc(repeat('same start ', 200) || repeat('tail one ', 60)) <=> embed_doc(repeat('same start ', 200) || repeat('a different tail ', 60)))::numeric, 4) AS same_prefix;
CREATE TEMP TABLE truncated AS SELECT embed_doc(repeat('Indexes make lookups fast. ', 80) || 'Pasta with tomatoes and basil.') AS v;

-- error refuses them.
SET pg_embed.long_text = 'error';
SELECT embed_doc(repeat('database ', 300));
\echo :LAST_ERROR_SQLSTATE
SELECT vector_dims(embed_doc('short texts are fine')) AS short_ok;

-- window embeds all of it: the part after the first 256 tokens now counts.
SET pg_embed.long_text = 'window';
SELECT (SELECT v FROM truncated) <=> embed_doc(repeat('Indexes make lookups fast. ', 80) || 'Pasta with tomatoes and basil.') > 0 AS tail_counts;
SELECT round((embed_doc('short text') <=> embed('short text', 'all-MiniLM-L6-v2'))::numeric, 4) AS short_unchanged;
RESET pg_embed.long_text;

-- A hard bound refuses huge texts before tokenizing (memory stays bounded).
SELECT embed_doc(repeat('x', 100 * 1024 * 1024));
\echo :LAST_ERROR_SQLSTATE
SET pg_embed.max_text_size = '1kB';
SELECT embed_doc(repeat('y', 2000));
\echo :LAST_ERROR_SQLSTATE
RESET pg_embed.max_text_size;

-- Batches: NULL elements give NULL rows; a 100,000-element array is consumed lazily when the
-- function is called in the select list (in FROM, PostgreSQL itself collects every row first).
SELECT ord, embedding IS NULL AS is_null FROM embed_doc_batch(ARRAY[NULL, 'b', NULL]::text[]) ORDER BY ord;
SELECT count(*) AS first_rows FROM (SELECT embed_doc_batch(array_fill('a'::text, ARRAY[100000])) LIMIT 70) s;

-- A cancel that arrives while pg_embed is about to send a NOTICE must leave the session usable.
SET client_min_messages = warning;  -- whether the NOTICE is sent before the cancel depends on timing
SET statement_timeout = '1ms';
SELECT embed_doc(repeat('The quick brown fox jumps over the lazy dog near the river bank. ', 30)) IS NOT NULL;
RESET statement_timeout;
RESET client_min_messages;
SELECT vector_dims(embed_doc('after the cancel')) AS works_after_cancel;
-- In window mode the vector is the average of all windows, so the later topic dominates here.
SET pg_embed.long_text = 'window';
SELECT 1 - (embed_doc(repeat('database index btree ', 90) || repeat('pasta tomato basil garlic ', 600))
            <=> embed_doc(repeat('pasta tomato basil garlic ', 60))) > 0.9 AS second_topic_dominates;
RESET pg_embed.long_text;
-- Text after a long run of spaces still counts when truncating.
SELECT round((embed_doc(repeat(' ', 20000) || 'hello world') <=> embed_doc('hello world'))::numeric, 3) AS spaces_then_text;
