-- The embedding cache: identical texts embedded once, never served where they would be stale.
\set VERBOSITY terse
\c
SELECT pg_embed_stats_reset();
SHOW pg_embed.cache_size;
SHOW pg_embed.persistent_cache;
SET pg_embed.precision = 'fp32';

-- A vector made with no cache at all, to compare with.
CREATE TEMP TABLE fresh AS SELECT embed_doc('the cache keeps this vector') AS v;

-- This backend's cache: the first call misses, the second is a hit; both equal the fresh vector.
SET pg_embed.cache_size = '16MB';
SELECT embed_doc('the cache keeps this vector') = v AS miss_equals_fresh FROM fresh;
SELECT embed_doc('the cache keeps this vector') = v AS hit_equals_fresh FROM fresh;
SELECT model, precision, calls, texts, cache_hits, cache_misses, cache_hit_rate FROM pg_embed_stats;
-- Repeats inside one batch are embedded once.
SELECT count(*) FROM embed_doc_batch(ARRAY['alpha', 'beta', 'alpha', 'alpha', NULL]);
SELECT calls, texts, cache_hits, cache_misses FROM pg_embed_stats;
SELECT entries FROM pg_embed_cache_usage();

-- Another precision is another key: int8 is computed, not the fp32 vector served.
SET pg_embed.precision = 'int8';
SELECT embed_doc('the cache keeps this vector') = v AS int8_served_the_fp32_vector,
       round((1 - (embed_doc('the cache keeps this vector') <=> v))::numeric, 2) AS cosine_to_fp32 FROM fresh;
SELECT model, precision, calls, cache_hits, cache_misses FROM pg_embed_stats ORDER BY precision;
SET pg_embed.precision = 'fp32';

-- Another long-text mode is another key; a refused text stays refused though it was cached.
CREATE TEMP TABLE long AS SELECT repeat('a long text keeps going ', 80) AS t;
CREATE TEMP TABLE truncated AS SELECT embed_doc(t) AS v FROM long;
SET pg_embed.long_text = 'window';
SELECT embed_doc(t) = v AS window_served_the_truncated_vector FROM long, truncated;
SET pg_embed.long_text = 'error';
SELECT embed_doc(t) FROM long;
\echo :LAST_ERROR_SQLSTATE
RESET pg_embed.long_text;
SELECT embed_doc(t) = v AS truncated_again_from_cache FROM long, truncated;
SET pg_embed.max_text_size = '1kB';
SELECT embed_doc(t) FROM long;
\echo :LAST_ERROR_SQLSTATE
RESET pg_embed.max_text_size;

-- The budget holds: 2,000 distinct texts do not fit in 1 MB; the oldest are dropped.
SET pg_embed.cache_size = '1MB';
SELECT count(*) FROM embed_doc_batch(ARRAY(SELECT 'text number ' || i FROM generate_series(1, 2000) i));
SELECT entries BETWEEN 100 AND 1999 AS some_dropped, bytes <= 1048576 AS within_budget FROM pg_embed_cache_usage();
SET pg_embed.cache_size = 0;
SELECT entries, bytes FROM pg_embed_cache_usage();
SET pg_embed.cache_size = '16MB';
SELECT pg_embed_cache_clear() >= 0 AS cleared;
SELECT entries FROM pg_embed_cache_usage();

-- The shared table: filled by pg_embed_cache_store() (which computes every vector itself),
-- never by an embedding call; read everywhere; survives the backend.
SET pg_embed.cache_size = 0;
SET pg_embed.persistent_cache = 'write';
SELECT count(*) AS rows_before FROM pg_embed_cache;
SELECT embed_doc('the cache keeps this vector') = v AS computed FROM fresh;
SELECT count(*) AS rows_after_an_embedding_call FROM pg_embed_cache;
SELECT pg_embed_cache_store('all-MiniLM-L6-v2', ARRAY['the cache keeps this vector', 'the cache keeps this vector', NULL]) AS added;
SELECT pg_embed_cache_store('all-MiniLM-L6-v2', ARRAY['the cache keeps this vector']) AS added_again;
SELECT model, precision, length(key) AS key_bytes, array_length(embedding, 1) AS dims, length(model_files) AS files_id
  FROM pg_embed_cache;
\c
SELECT pg_embed_stats_reset();
SET pg_embed.precision = 'fp32';
SET pg_embed.persistent_cache = 'read';
SELECT embed_doc('the cache keeps this vector')::real[] = embedding AS from_the_table FROM pg_embed_cache;
SELECT calls, cache_hits, cache_table_hits, cache_misses FROM pg_embed_stats;
-- Embedding calls read the table everywhere and write it nowhere: a read-only transaction, a
-- parallel worker, and write mode alike.
SET pg_embed.persistent_cache = 'write';
BEGIN READ ONLY;
SELECT embed_doc('the cache keeps this vector')::real[] = embedding AS read_in_read_only FROM pg_embed_cache;
COMMIT;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
-- force_parallel_mode was renamed debug_parallel_query in PostgreSQL 16.
SELECT CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'debug_parallel_query'
            ELSE 'force_parallel_mode' END AS parallel_guc \gset
SET :parallel_guc = on;
EXPLAIN (COSTS OFF) SELECT embed_doc('in a parallel worker');
SELECT vector_dims(embed_doc('in a parallel worker'));
SELECT embed_doc('the cache keeps this vector')::real[] = embedding AS read_in_a_worker FROM pg_embed_cache;
RESET :parallel_guc;
SELECT vector_dims(embed_doc('not stored by an embedding call'));
SELECT count(*) AS rows FROM pg_embed_cache;

-- Nobody writes rows of their own choosing: not a role without rights, not embed_admin.
CREATE ROLE cache_user LOGIN;
\c - cache_user
SET pg_embed.persistent_cache = 'read';
SELECT vector_dims(embed_doc('an unprivileged role'));
SELECT count(*) FROM pg_embed_cache;
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_cache_store('all-MiniLM-L6-v2', ARRAY['poison']);
\echo :LAST_ERROR_SQLSTATE
\c - postgres
GRANT embed_admin TO cache_user;
\c - cache_user
INSERT INTO pg_embed_cache (key, model, precision, model_files, embedding)
  SELECT key, model, precision, model_files, array_fill(0.5::real, ARRAY[384]) FROM pg_embed_cache LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
UPDATE pg_embed_cache SET embedding = array_fill(0.5::real, ARRAY[384]);
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_cache_store('all-MiniLM-L6-v2', ARRAY['stored by embed_admin']) AS added_by_admin;
\c - postgres
DROP ROLE cache_user;
SELECT count(*) AS rows FROM pg_embed_cache;
-- Every row holds the vector of a text that was stored (computed afresh here, cache off).
SET pg_embed.persistent_cache = 'off';
SELECT count(*) AS rows, count(*) FILTER (WHERE embedding IN (
         SELECT embed_doc(t)::real[] FROM (VALUES ('the cache keeps this vector'), ('stored by embed_admin')) v(t)))
       AS rows_holding_their_texts_vector
  FROM pg_embed_cache;

-- A model file replaced in place: its identity changes, so neither cache serves the old vector.
SET pg_embed.precision = 'fp32';
SET pg_embed.cache_size = '16MB';
SET pg_embed.persistent_cache = 'write';
SET pg_embed.model_dir = '@faults@/swap';
SELECT pg_embed_unload() >= 0 AS unloaded;
CREATE TEMP TABLE before_swap AS SELECT embed_doc('a model file replaced in place') AS v;
SELECT pg_embed_cache_store('all-MiniLM-L6-v2', ARRAY['a model file replaced in place']) AS stored_before;
SELECT embed_doc('a model file replaced in place') = v AS cached FROM before_swap;
COPY (SELECT 1) TO PROGRAM 'cp @models@/all-MiniLM-L6-v2/model_int8.onnx @faults@/swap/all-MiniLM-L6-v2/model.onnx';
SELECT pg_embed_unload();
CREATE TEMP TABLE after_swap AS SELECT embed_doc('a model file replaced in place') AS v;
SELECT pg_embed_cache_store('all-MiniLM-L6-v2', ARRAY['a model file replaced in place']) AS stored_after;
SELECT a.v = b.v AS stale_vector_served FROM after_swap a, before_swap b;
SELECT count(DISTINCT model_files) AS file_versions FROM pg_embed_cache
 WHERE embedding IN (SELECT v::real[] FROM before_swap UNION ALL SELECT v::real[] FROM after_swap);
-- The new vector is the int8 model's.
RESET pg_embed.model_dir;
SELECT pg_embed_unload();
SET pg_embed.precision = 'int8';
SELECT round((1 - (embed_doc('a model file replaced in place') <=> v))::numeric, 4) AS cosine_to_int8 FROM after_swap;
RESET pg_embed.precision;
TRUNCATE pg_embed_cache;
