-- Faults give an ERROR with a SQLSTATE, a detail naming the path and a hint naming the fix;
-- the backend lives, and the next call in the same session works once the cause is fixed.
-- Each case starts a new session, since a loaded model stays loaded in its backend.
\set SHOW_CONTEXT never

-- Model files missing.
\c
SET pg_embed.model_dir = '@faults@/empty';
SELECT embed_doc('x');
\echo :LAST_ERROR_SQLSTATE
RESET pg_embed.model_dir;
SELECT vector_dims(embed_doc('x')) AS works_after_fix;

-- Model files the server cannot read.
\c
SET pg_embed.model_dir = '@faults@/unreadable';
SELECT embed_doc('x');
\echo :LAST_ERROR_SQLSTATE
RESET pg_embed.model_dir;
SELECT vector_dims(embed_doc('x')) AS works_after_fix;

-- A truncated ONNX file.
\c
SET pg_embed.model_dir = '@faults@/corrupt';
SELECT embed_doc('x');
\echo :LAST_ERROR_SQLSTATE
RESET pg_embed.model_dir;
SELECT vector_dims(embed_doc('x')) AS works_after_fix;

-- A tokenizer that does not match the model (a word maps past the model's vocabulary).
\c
SET pg_embed.model_dir = '@faults@/mismatch';
SELECT vector_dims(embed_doc('words the model knows')) AS known_words;
SELECT embed_doc('a zebra');
\echo :LAST_ERROR_SQLSTATE
SELECT vector_dims(embed_doc('the backend lives on')) AS still_works;
RESET pg_embed.model_dir;

-- The model folder becomes unreadable while the model is in use: the loaded model keeps
-- working; loading it again fails with a clear error until the folder is readable again.
\c
SET pg_embed.model_dir = '@faults@/inuse';
SELECT vector_dims(embed_doc('loaded')) AS loaded;
\! chmod 000 @faults@/inuse/all-MiniLM-L6-v2
SELECT vector_dims(embed_doc('still in memory')) AS in_use;
SELECT pg_embed_unload();
SELECT embed_doc('must reload');
\echo :LAST_ERROR_SQLSTATE
\! chmod 755 @faults@/inuse/all-MiniLM-L6-v2
SELECT vector_dims(embed_doc('readable again')) AS works_after_fix;
RESET pg_embed.model_dir;

-- ONNX Runtime library missing, not ONNX Runtime, or too old.
\c
SET pg_embed.onnxruntime_library = '/nonexistent/libonnxruntime.so';
SELECT embed_doc('x');
\echo :LAST_ERROR_SQLSTATE
SET pg_embed.onnxruntime_library = '@not_ort@';
SELECT embed_doc('x');
\echo :LAST_ERROR_SQLSTATE
SET pg_embed.onnxruntime_library = '@old_ort@';
SELECT embed_doc('x');
\echo :LAST_ERROR_SQLSTATE
SET pg_embed.onnxruntime_library = 'relative/libonnxruntime.so';
SELECT embed_doc('x');
\echo :LAST_ERROR_SQLSTATE
RESET pg_embed.onnxruntime_library;
SELECT vector_dims(embed_doc('x')) AS works_after_fix;

-- A vector that does not fit the target column is refused by pgvector, not truncated.
CREATE TABLE small (v vector(3));
INSERT INTO small SELECT embed_doc('x');
\echo :LAST_ERROR_SQLSTATE

-- Settings naming files or libraries are superuser-only; embedding needs no privilege.
CREATE ROLE embed_user LOGIN;
\c - embed_user
-- Before pg_embed is loaded in a session the names are placeholders: PostgreSQL accepts the
-- SET, then throws the value away with a WARNING when the library loads.
SET pg_embed.model_dir = '/tmp';
SELECT vector_dims(embed_doc('an ordinary user embeds')) AS works_unprivileged;
SELECT current_setting('pg_embed.model_dir') = '@models@' AS unchanged;
-- Once loaded, the SET itself is refused.
SET pg_embed.model_dir = '/tmp';
\echo :LAST_ERROR_SQLSTATE
SET pg_embed.onnxruntime_library = '/tmp/libonnxruntime.so';
\echo :LAST_ERROR_SQLSTATE
SET pg_embed.precision = 'fp32';
SHOW pg_embed.precision;
-- What an ordinary role may and may not run or change, over every object of the extension.
SELECT p.oid::regprocedure AS function, has_function_privilege(p.oid, 'EXECUTE') AS can_execute
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_embed'
 ORDER BY 2, p.oid::regprocedure::text;
SELECT c.oid::regclass AS relation, has_table_privilege(c.oid, 'SELECT') AS can_read,
       has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')
         OR has_table_privilege(c.oid, 'DELETE') AS can_write
  FROM pg_class c JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_embed'
 ORDER BY c.oid::regclass::text;
SELECT name, context FROM pg_settings WHERE name LIKE 'pg_embed.%' AND context = 'superuser' ORDER BY name;
-- The user-model table cannot be written around pg_embed_register_model.
INSERT INTO pg_embed_user_models (name, dims) VALUES ('sneaky', 384);
\echo :LAST_ERROR_SQLSTATE
\c - postgres
DROP TABLE small;
DROP ROLE embed_user;
-- Without Citus: the sync says it needs Citus, and no table is walked by a distribution key.
SELECT * FROM pg_embed_citus_sync();
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_citus_keys('pg_embed_user_models') IS NULL AS no_key, pg_embed_citus_coordinator() AS coordinator;
