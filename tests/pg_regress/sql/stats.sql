-- pg_embed_stats without shared_preload_libraries: this backend's own numbers (scope 'backend').
\set VERBOSITY terse
\c
SELECT pg_embed_stats_reset();
SELECT count(*) AS rows_after_reset FROM pg_embed_stats;

SELECT vector_dims(embed_doc('statistics count this call'));
SELECT vector_dims(embed_doc('and this one'));
SELECT count(*) FROM embed_doc_batch(ARRAY['one', 'two', NULL, 'three']);
SELECT vector_dims(embed('a second model', 'paraphrase-MiniLM-L3-v2'));
-- A truncated text, and an error (long_text = error refuses it).
SELECT vector_dims(embed_doc(repeat('many words make a long text ', 100)));
SET pg_embed.long_text = 'error';
SELECT embed_doc(repeat('many words make a long text ', 100));
\echo :LAST_ERROR_SQLSTATE
RESET pg_embed.long_text;

-- calls count engine calls (a batch's chunk is one call, NULL elements are not texts);
-- tokens count what the model ran; loads count this backend's model loads.
SELECT model, precision, scope, calls, texts, tokens, loads, evictions, errors, truncations,
       cache_hits, cache_misses, cache_hit_rate
  FROM pg_embed_stats ORDER BY model;
-- Latency: percentiles in order, mean = total / calls.
SELECT model, p50_ms > 0 AS p50_positive, p50_ms <= p95_ms AND p95_ms <= p99_ms AS ordered,
       abs(mean_ms * calls - total_ms) < 0.001 AS mean_is_total_over_calls
  FROM pg_embed_stats ORDER BY model;

-- Evictions: a third model (the 8-bit-weight export models.sql registers; registering again
-- replaces it) under a limit it fits in alone but not beside all-MiniLM-L6-v2 (each holds
-- about 140-160 MB after the texts above): the least recently used paraphrase-MiniLM-L3-v2
-- goes first, then all-MiniLM-L6-v2.
SELECT pg_embed_register_model('minilm-l6-w8', 384, role => 'doc');
SET pg_embed.fallback_model = '';
SET pg_embed.memory_limit = '250MB';
SELECT vector_dims(embed('a', 'minilm-l6-w8'));
SELECT model, loads, evictions FROM pg_embed_stats ORDER BY model;
RESET pg_embed.memory_limit;
RESET pg_embed.fallback_model;

-- Counting can be turned off (superuser only); nothing is recorded then.
SET pg_embed.track_stats = off;
SELECT vector_dims(embed_doc('not counted'));
RESET pg_embed.track_stats;
SELECT sum(calls) AS calls FROM pg_embed_stats;

-- Another backend has its own numbers without preloading.
\c
SELECT count(*) AS rows_in_a_new_backend FROM pg_embed_stats;

-- Reset is for superusers (and roles granted it); the view is for everyone.
CREATE ROLE stats_user LOGIN;
\c - stats_user
SELECT pg_embed_stats_reset();
\echo :LAST_ERROR_SQLSTATE
SELECT vector_dims(embed_doc('an ordinary user'));
SET pg_embed.track_stats = off;
\echo :LAST_ERROR_SQLSTATE
SELECT model, scope, calls FROM pg_embed_stats;
\c - postgres
DROP ROLE stats_user;
DELETE FROM pg_embed_user_models WHERE name = 'minilm-l6-w8';
SELECT proname, provolatile, proparallel FROM pg_proc
 WHERE proname IN ('pg_embed_stats_rows', 'pg_embed_stats_reset') ORDER BY proname;
