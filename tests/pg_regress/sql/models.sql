-- Named models, user registration, the model view, and the per-backend memory limit.
\set VERBOSITY terse
SELECT name, source, role, dims, precisions, files_present FROM pg_embed_models ORDER BY source, name;

-- embed(text, model) with each model present; it is STABLE (pg_embed.precision picks the file),
-- embed_fixed(text, model, precision) is the IMMUTABLE way.
SELECT vector_dims(embed('hello', 'all-MiniLM-L6-v2')) AS l6, vector_dims(embed('hello', 'paraphrase-MiniLM-L3-v2')) AS l3;
SELECT proname, provolatile FROM pg_proc WHERE proname IN ('embed', 'embed_fixed') ORDER BY proname;
SELECT embed_fixed('hello', 'all-MiniLM-L6-v2', 'fp32') = embed('hello', 'all-MiniLM-L6-v2') AS fixed_fp32_is_embed;
SELECT round((embed('hello world', 'all-MiniLM-L6-v2') <=> embed_doc('hello world'))::numeric, 6) AS same_as_embed_doc;

-- Names are validated: nothing outside the model directory can be reached.
SELECT embed('x', '../../etc/passwd');
\echo :LAST_ERROR_SQLSTATE
SELECT embed('x', 'no-such-model');
\echo :LAST_ERROR_SQLSTATE
SELECT embed('x', 'all-MiniLM-L12-v2');
\echo :LAST_ERROR_SQLSTATE

-- A user model: the 8-bit-weight export of all-MiniLM-L6-v2 the set-up put in minilm-l6-w8/.
SELECT pg_embed_register_model('minilm-l6-w8', 384, role => 'doc');
SELECT pg_embed_register_model('../escape', 384);
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_register_model('w8-bad-file', 384, fp32_file => '../all-MiniLM-L6-v2/model.onnx');
\echo :LAST_ERROR_SQLSTATE
-- Writing the table directly (as embed_admin may) is held to the same file names, so no route
-- makes the server read, hash or probe a file outside the model folder.
INSERT INTO pg_embed_user_models (name, dims, fp32_file) VALUES ('sneaky', 384, '../../../../etc/passwd');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO pg_embed_user_models (name, dims, tokenizer_file) VALUES ('sneaky', 384, '/etc/passwd');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO pg_embed_user_models (name, dims, repo, revision) VALUES ('sneaky', 384, 'a/b', '../../x');
\echo :LAST_ERROR_SQLSTATE
SELECT name, source, role, precisions, files_present FROM pg_embed_models WHERE source = 'user';
SELECT round((1 - (embed('a user model', 'minilm-l6-w8') <=> embed('a user model', 'all-MiniLM-L6-v2')))::numeric, 2) AS cosine_to_fp32;

-- Registering needs superuser or membership in embed_admin; embedding needs nothing.
CREATE ROLE model_user LOGIN;
CREATE ROLE model_admin LOGIN IN ROLE embed_admin;
\c - model_user
SELECT pg_embed_register_model('x', 384);
\echo :LAST_ERROR_SQLSTATE
SELECT vector_dims(embed('ordinary users embed with user models', 'minilm-l6-w8'));
\c - model_admin
SELECT pg_embed_register_model('minilm-l6-w8-copy', 384);
SELECT count(*) FROM pg_embed_models WHERE name = 'minilm-l6-w8-copy';
\c - postgres
DELETE FROM pg_embed_user_models WHERE name = 'minilm-l6-w8-copy';
DROP ROLE model_user;
DROP ROLE model_admin;

-- Three models, a limit that fits two: the least recently used one is evicted, with a NOTICE.
\c
SET pg_embed.fallback_model = '';
SET pg_embed.memory_limit = '300MB';
SELECT vector_dims(embed('a', 'all-MiniLM-L6-v2'));
SELECT vector_dims(embed('a', 'paraphrase-MiniLM-L3-v2'));
SELECT name, lru_rank FROM pg_embed_models WHERE loaded ORDER BY lru_rank;
SELECT vector_dims(embed('a', 'minilm-l6-w8'));
SELECT name, lru_rank FROM pg_embed_models WHERE loaded ORDER BY lru_rank;
SELECT vector_dims(embed('a', 'paraphrase-MiniLM-L3-v2'));
SELECT vector_dims(embed('a', 'all-MiniLM-L6-v2'));
SELECT name, lru_rank FROM pg_embed_models WHERE loaded ORDER BY lru_rank;
SELECT sum(bytes_held) <= 300 * 1024 * 1024 AS within_limit FROM pg_embed_models;
-- The backend's resident memory (read by the backend from /proc) stays within the limit plus
-- the stated overhead of 100 MB (the backend itself and the ONNX Runtime library).
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmRSS:\s+(\d+) kB'))[1]::bigint * 1024
       <= (300 + 100) * 1024 * 1024 AS rss_within_limit_plus_overhead;

-- The fallback model is pinned: it is never evicted to make room.
SET pg_embed.fallback_model = 'paraphrase-MiniLM-L3-v2';
SELECT vector_dims(embed('b', 'paraphrase-MiniLM-L3-v2'));
SELECT vector_dims(embed('b', 'minilm-l6-w8'));
SELECT name, lru_rank FROM pg_embed_models WHERE loaded ORDER BY lru_rank;

-- A model that cannot fit at all is an error, and nothing is evicted for it.
SET pg_embed.memory_limit = '100MB';
SELECT embed('c', 'all-MiniLM-L6-v2');
\echo :LAST_ERROR_SQLSTATE
SELECT name FROM pg_embed_models WHERE loaded ORDER BY name;

-- Unloading frees memory now.
SELECT pg_embed_unload('paraphrase-MiniLM-L3-v2');
SELECT pg_embed_unload();
SELECT count(*) AS still_loaded FROM pg_embed_models WHERE loaded;
RESET pg_embed.memory_limit;
SELECT vector_dims(embed('d', 'all-MiniLM-L6-v2')) AS works_again;

-- A model whose load fails costs no other model: nothing is evicted until the new model has
-- loaded. Here the limit leaves no room next to all-MiniLM-L6-v2, and the other model's file
-- is corrupt: all-MiniLM-L6-v2 stays loaded.
SET pg_embed.fallback_model = '';
SELECT vector_dims(embed('e', 'all-MiniLM-L6-v2')) AS l6_loaded;
SELECT ceil(bytes_held / 1048576.0)::int AS held_mb FROM pg_embed_models WHERE name = 'all-MiniLM-L6-v2' \gset
SET pg_embed.memory_limit = :'held_mb';
SELECT pg_embed_register_model('broken-model', 384);
SET pg_embed.model_dir = '@faults@/corrupt';
SELECT embed('e', 'broken-model');
\echo :LAST_ERROR_SQLSTATE
RESET pg_embed.model_dir;
SELECT name FROM pg_embed_models WHERE loaded ORDER BY name;
DELETE FROM pg_embed_user_models WHERE name = 'broken-model';
RESET pg_embed.fallback_model;
RESET pg_embed.memory_limit;

-- Registration arguments are range-checked (22023), and a max_tokens beyond the model's position
-- embeddings (512 for this one) is caught when the model loads, with a hint, not on the first
-- long text.
\c
\set VERBOSITY default
SELECT pg_embed_register_model('minilm-l6-w8', 0);
SELECT pg_embed_register_model('minilm-l6-w8', 384, max_tokens => 100000);
SELECT pg_embed_register_model('minilm-l6-w8', 384, role => 'poetry');
SELECT pg_embed_register_model('minilm-l6-w8', 384, pooling => 'max');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_register_model('minilm-l6-w8', 384, max_tokens => 1024, role => 'doc');
SELECT vector_dims(embed('a short text', 'minilm-l6-w8'));
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_register_model('minilm-l6-w8', 384, max_tokens => 512, role => 'doc');
SELECT vector_dims(embed(repeat('a long text ', 400), 'minilm-l6-w8')) AS full_512_tokens;
\set VERBOSITY terse
DELETE FROM pg_embed_user_models;
