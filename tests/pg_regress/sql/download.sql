-- Downloads: superuser only, only while allowed, verified, installed atomically; the hub is
-- a loopback server with the hub's layout serving the real model files.
\set VERBOSITY terse
SELECT * FROM pg_embed_download('all-MiniLM-L6-v2');
\echo :LAST_ERROR_SQLSTATE
SET pg_embed.allow_download = on;
SET pg_embed.hub_endpoint = '@hub@';
SET pg_embed.model_dir = '@faults@/download';
SELECT name, files_present FROM pg_embed_models WHERE name = 'all-MiniLM-L6-v2';
SELECT file, bytes > 0 AS has_bytes, length(sha256) AS sha_len FROM pg_embed_download('all-MiniLM-L6-v2') ORDER BY file;
SELECT name, precisions, files_present FROM pg_embed_models WHERE name = 'all-MiniLM-L6-v2';
CREATE TEMP TABLE downloaded AS SELECT embed('hello world', 'all-MiniLM-L6-v2') AS v;
RESET pg_embed.model_dir;
SELECT pg_embed_unload();
SELECT round((v <=> embed('hello world', 'all-MiniLM-L6-v2'))::numeric, 6) AS same_as_installed FROM downloaded;

-- A file that does not match its checksum is refused and nothing is installed.
SET pg_embed.model_dir = '@faults@/download';
SET pg_embed.hub_endpoint = '@hub@/corrupt';
SELECT * FROM pg_embed_download('paraphrase-MiniLM-L3-v2');
\echo :LAST_ERROR_SQLSTATE
SELECT name, files_present FROM pg_embed_models WHERE name = 'paraphrase-MiniLM-L3-v2';
SELECT count(*) AS leftovers FROM pg_ls_dir('@faults@/download') AS f WHERE f <> 'all-MiniLM-L6-v2';

-- A model the server does not have, a model published as a checkpoint (converted by a
-- command, not here), and names that try to leave the model directory.
SET pg_embed.hub_endpoint = '@hub@';
SELECT * FROM pg_embed_download('jina-embeddings-v2-base-code');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_download('unixcoder-base');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_download('../../etc/passwd');
\echo :LAST_ERROR_SQLSTATE

-- A download that takes too long stops within a moment of a cancel (statement_timeout here)
-- or of pg_embed.download_timeout, and leaves nothing behind.
SET pg_embed.model_dir = '@faults@/download';
SET pg_embed.hub_endpoint = '@hub@/slow';
SET statement_timeout = '1s';
SELECT clock_timestamp() AS t0 \gset
SELECT * FROM pg_embed_download('paraphrase-MiniLM-L3-v2');
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '10 s' AS stopped_long_before_the_transfer_ends;
SET pg_embed.download_timeout = '1s';
SELECT * FROM pg_embed_download('paraphrase-MiniLM-L3-v2');
\echo :LAST_ERROR_SQLSTATE
RESET pg_embed.download_timeout;
SELECT count(*) AS leftovers FROM pg_ls_dir('@faults@/download') AS f WHERE f <> 'all-MiniLM-L6-v2';
RESET pg_embed.hub_endpoint;
RESET pg_embed.model_dir;

-- Not for ordinary users.
CREATE ROLE download_user LOGIN;
\c - download_user
SELECT * FROM pg_embed_download('all-MiniLM-L6-v2');
\echo :LAST_ERROR_SQLSTATE
SELECT vector_dims(embed_doc('loads pg_embed in this session')) AS dims;
SET pg_embed.allow_download = on;
SET pg_embed.hub_endpoint = 'http://127.0.0.1:1';
\c - postgres
DROP ROLE download_user;

-- A hub cache layout (models--org--repo/snapshots/<commit>/...) is read as it is.
SET pg_embed.model_dir = '@faults@/hubcache';
SELECT name, precisions, files_present FROM pg_embed_models WHERE name = 'paraphrase-MiniLM-L3-v2';
SELECT vector_dims(embed('read from a hub cache', 'paraphrase-MiniLM-L3-v2')) AS dims;
RESET pg_embed.model_dir;
