-- pg_embed_stats with pg_embed in shared_preload_libraries: one table for the whole cluster.
\set VERBOSITY terse
SHOW shared_preload_libraries;
SELECT pg_embed_stats_reset();
SELECT vector_dims(embed_doc('first backend'));
SELECT vector_dims(embed_doc('first backend, second call'));
\c
-- A second backend sees the first one's calls, and adds its own.
SELECT model, scope, calls, texts, loads FROM pg_embed_stats;
SELECT vector_dims(embed_doc('second backend'));
SELECT model, scope, calls, texts, loads FROM pg_embed_stats;

-- Calls made in parallel workers are counted too.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
-- force_parallel_mode was renamed debug_parallel_query in PostgreSQL 16.
SELECT CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'debug_parallel_query'
            ELSE 'force_parallel_mode' END AS parallel_guc \gset
SET :parallel_guc = on;
SELECT vector_dims(embed_doc('in a parallel worker'));
RESET :parallel_guc;
\c
SELECT model, scope, calls, texts, errors, p50_ms > 0 AS has_latency FROM pg_embed_stats;

-- The cache's hits are shared too.
SET pg_embed.cache_size = '8MB';
SELECT vector_dims(embed_doc('cached once'));
SELECT vector_dims(embed_doc('cached once'));
SELECT model, calls, cache_hits, cache_misses, cache_hit_rate FROM pg_embed_stats;

-- Reset clears the cluster's numbers, for every backend; only superusers may.
CREATE ROLE shared_stats_user LOGIN;
\c - shared_stats_user
SELECT pg_embed_stats_reset();
\echo :LAST_ERROR_SQLSTATE
\c - postgres
DROP ROLE shared_stats_user;
SELECT pg_embed_stats_reset();
\c
SELECT count(*) AS rows_after_reset FROM pg_embed_stats;
