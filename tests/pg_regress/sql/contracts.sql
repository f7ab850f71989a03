-- Contracts: what each function promises the planner and other sessions.
\set VERBOSITY terse

-- Every function and procedure of the extension with its volatility (i/s/v), strictness,
-- parallel safety (s/r/u), whether it is SECURITY DEFINER, and the settings it fixes.
SELECT p.oid::regprocedure AS function, p.prokind AS kind, p.provolatile AS vol, p.proisstrict AS strict,
       p.proparallel AS par, p.prosecdef AS definer, p.proconfig AS config
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_embed'
 ORDER BY p.oid::regprocedure::text;

-- The IMMUTABLE functions depend on their arguments alone: with every pg_embed setting a
-- session may change set otherwise, embed_fixed gives bit-identical vectors (or refuses).
CREATE TEMP TABLE fixed_ref AS
SELECT t, embed_fixed(t, 'all-MiniLM-L6-v2', 'fp32') AS fp32,
          embed_fixed(t, 'all-MiniLM-L6-v2', 'int8') AS int8,
          embed_fixed(t, 'paraphrase-MiniLM-L3-v2', 'fp32', 'window') AS window_l3,
          embed_fixed(t, 'all-MiniLM-L6-v2', 'fp32', 'truncate') AS truncated
  FROM (VALUES ('def add(a, b):\n    return a + b'),
               ('Vacuum reclaims storage occupied by dead tuples.'),
               (repeat('A long text about indexes, vacuum and replication. ', 120))) v(t);
SET pg_embed.precision = 'int8';
SET pg_embed.long_text = 'error';
SET pg_embed.threads = 2;
SET pg_embed.batch_size = 1;
SET pg_embed.max_tokens_per_run = 64;
SET pg_embed.graph_optimization = 'basic';
SET pg_embed.intra_op_spinning = on;  -- superuser only; this test runs as one
SET pg_embed.memory_arena = off;
SET pg_embed.cache_size = '16MB';
SET pg_embed.persistent_cache = 'read';
SET pg_embed.code_models = 'paraphrase-MiniLM-L3-v2';
SET pg_embed.doc_models = 'paraphrase-MiniLM-L3-v2';
SET pg_embed.fallback_model = '';
SET pg_embed.memory_limit = '2GB';
SELECT count(*) AS texts,
       bool_and(embed_fixed(t, 'all-MiniLM-L6-v2', 'fp32') = fp32) AS fp32_same,
       bool_and(embed_fixed(t, 'all-MiniLM-L6-v2', 'int8') = int8) AS int8_same,
       bool_and(embed_fixed(t, 'paraphrase-MiniLM-L3-v2', 'fp32', 'window') = window_l3) AS window_same,
       bool_and(embed_fixed(t, 'all-MiniLM-L6-v2', 'fp32', 'truncate') = truncated) AS truncate_same,
       -- twice in a row (the memory cache now holds them): still the same bits
       bool_and(embed_fixed(t, 'all-MiniLM-L6-v2', 'fp32') = fp32) AS cached_same,
       -- the STABLE embed() follows pg_embed.precision, which is why it is not IMMUTABLE
       bool_or(embed(t, 'all-MiniLM-L6-v2') <> fp32) FILTER (WHERE length(t) < 100) AS stable_embed_differs
  FROM fixed_ref;
-- The memory cache filled by a batch run under other settings serves embed_fixed nothing.
RESET ALL;
SET pg_embed.cache_size = '16MB';
SET pg_embed.graph_optimization = 'disable';
SELECT count(*) AS batch FROM embed_batch(ARRAY(SELECT t FROM fixed_ref), 'all-MiniLM-L6-v2');
RESET pg_embed.graph_optimization;
SELECT bool_and(embed_fixed(t, 'all-MiniLM-L6-v2', 'fp32') = fp32) AS fixed_after_other_settings FROM fixed_ref;
-- A session cycling through preference lists does not grow the backend's memory.
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmRSS:\s+(\d+) kB'))[1]::bigint AS rss_kb \gset
DELETE FROM pg_embed_selection;  -- no pin: the same output whatever ran before
SET client_min_messages = warning;
DO $$BEGIN FOR i IN 1..2000 LOOP
  PERFORM set_config('pg_embed.code_models', 'all-MiniLM-L6-v2,' || repeat('x,', 25000) || i, true);
  PERFORM embed_auto_model(E'def f(x):\n    return x + 1\n');
END LOOP; END $$;
RESET client_min_messages;
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmRSS:\s+(\d+) kB'))[1]::bigint - :rss_kb < 50 * 1024 AS rss_grew_under_50mb;
RESET ALL;
-- Settings that refuse instead of changing a vector.
SET pg_embed.max_text_size = '1kB';
SELECT embed_fixed(t, 'all-MiniLM-L6-v2', 'fp32') FROM fixed_ref WHERE length(t) > 1024;
\echo :LAST_ERROR_SQLSTATE
RESET ALL;
SET pg_embed.model_dir = '@faults@/empty';
SELECT embed_fixed('x', 'all-MiniLM-L6-v2', 'fp32');
\echo :LAST_ERROR_SQLSTATE
RESET ALL;
-- Its arguments are checked.
SELECT embed_fixed('x', 'all-MiniLM-L6-v2', 'auto');
\echo :LAST_ERROR_SQLSTATE
SELECT embed_fixed('x', 'all-MiniLM-L6-v2', 'fp32', 'summarize');
\echo :LAST_ERROR_SQLSTATE
-- It serves generated columns and expression indexes.
CREATE TABLE fixed_docs (id int, body text,
  emb vector(384) GENERATED ALWAYS AS (embed_fixed(body, 'all-MiniLM-L6-v2', 'fp32')) STORED);
INSERT INTO fixed_docs (id, body) SELECT 1, t FROM fixed_ref LIMIT 1;
SET pg_embed.precision = 'int8';
INSERT INTO fixed_docs (id, body) SELECT 2, t FROM fixed_ref LIMIT 1;
RESET pg_embed.precision;
SELECT count(DISTINCT emb::text) AS distinct_vectors FROM fixed_docs;
CREATE INDEX fixed_docs_expr ON fixed_docs USING hnsw ((embed_fixed(body, 'all-MiniLM-L6-v2', 'fp32')::vector(384)) vector_cosine_ops);
DROP TABLE fixed_docs;

-- Embedding calls never write: no pin appears, however many roles are used first here.
DELETE FROM pg_embed_selection;
SELECT vector_dims(embed_code('x = 1')) AS code, vector_dims(embed_auto('Indexes speed up lookups on large tables.')) AS auto,
       vector_dims(embed_doc('hello')) AS doc;
SELECT count(*) AS pins_written FROM pg_embed_selection;

-- A parallel query with two workers: every row carries the same model id, whatever each
-- worker sees of the machine's load and memory.
CREATE TABLE par_src AS
  SELECT i, CASE WHEN i % 2 = 0 THEN format('def f%s(x):\n    return x + %s', i, i)
                 ELSE format('Sentence number %s about databases and their indexes.', i) END AS body
    FROM generate_series(1, 400) i;
ANALYZE par_src;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SET client_min_messages = warning;  -- each worker reports the models it skips once
EXPLAIN (COSTS OFF) SELECT pg_embed_model_id(embed_auto_model(body)) FROM par_src;
CREATE TABLE par_dst AS SELECT i, embed_auto_model(body) AS model, pg_embed_model_id(embed_auto_model(body)) AS model_id,
                               vector_dims(embed_code(body)) AS dims
                          FROM par_src;
RESET ALL;
SELECT model, count(*) AS rows, count(DISTINCT model_id) AS model_ids, min(dims) AS dims FROM par_dst GROUP BY model ORDER BY model;
DROP TABLE par_src, par_dst;

-- Bounded resources: every setting an ordinary role may change has a maximum, and the server
-- stays up with all of them at their maxima.
SELECT name, min_val, max_val, unit, context FROM pg_settings
 WHERE name LIKE 'pg_embed.%' AND vartype IN ('integer', 'real') ORDER BY name;
SELECT name, context FROM pg_settings WHERE name LIKE 'pg_embed.%' AND context = 'user' ORDER BY name;
CREATE ROLE bounded_user LOGIN;
\c - bounded_user
SELECT vector_dims(embed_doc('the library is loaded, so its settings are checked')) AS loaded;
SET pg_embed.threads = 9;
\echo :LAST_ERROR_SQLSTATE
SET pg_embed.memory_limit = '5GB';
\echo :LAST_ERROR_SQLSTATE
SET pg_embed.intra_op_spinning = on;
\echo :LAST_ERROR_SQLSTATE
SET pg_embed.threads = 8;
SET pg_embed.memory_limit = '4GB';
SET pg_embed.cache_size = '1GB';
SET pg_embed.batch_size = 256;
SET pg_embed.max_tokens_per_run = 16384;
SET pg_embed.max_text_size = '64MB';
SET pg_embed.long_text = 'window';
SET pg_embed.graph_optimization = 'all';
SELECT count(*) AS rows, min(vector_dims(embedding)) AS dims
  FROM embed_doc_batch(ARRAY(SELECT repeat('bounded settings, window mode, text ' || i || '. ', 40 * (1 + i % 4)) FROM generate_series(1, 16) i));
SELECT vector_dims(embed_doc(repeat('one long text in windows. ', 4000))) AS long_text;
\c - postgres
DROP ROLE bounded_user;
SELECT 1 AS server_still_up;
