-- Backfill an existing table in committed chunks; resumable; progress in pg_embed_backfills.
CREATE TABLE articles (id int PRIMARY KEY, body text, embedding vector(384), body_md5 text);
INSERT INTO articles (id, body)
  SELECT i, CASE WHEN i % 50 = 0 THEN NULL ELSE 'Article ' || i || ' about ' || (ARRAY['indexes', 'vacuum', 'replication', 'backups'])[1 + i % 4] END
  FROM generate_series(1, 300) AS i;
SET client_min_messages = warning;  -- progress NOTICEs carry timings
CALL pg_embed_backfill('articles', 'body', 'embedding', chunk_size => 64, notice_every => 100);
RESET client_min_messages;
SELECT count(*) FILTER (WHERE embedding IS NOT NULL) AS embedded,
       count(*) FILTER (WHERE body IS NULL) AS null_texts FROM articles;
SELECT relation, text_column, vector_column, model, rows_done, rows_total, percent, finished, interrupted
  FROM pg_embed_backfills;
SELECT round((embedding <=> embed_doc(body))::numeric, 4) AS same_as_embed_doc FROM articles WHERE id = 7;

-- Resumable: only rows still missing a vector are embedded again.
UPDATE articles SET embedding = NULL WHERE id <= 10;
SET client_min_messages = warning;
CALL pg_embed_backfill('articles', 'body', 'embedding');
RESET client_min_messages;
SELECT rows_done, rows_total, finished FROM pg_embed_backfills;

-- With a hash column, rows whose text changed are embedded again too.
UPDATE articles SET body_md5 = md5(body) WHERE body IS NOT NULL;
UPDATE articles SET body = body || ' (revised)' WHERE id IN (1, 2, 3);
SET client_min_messages = warning;
CALL pg_embed_backfill('articles', 'body', 'embedding', hash_column => 'body_md5');
RESET client_min_messages;
SELECT rows_done, finished FROM pg_embed_backfills;
SELECT count(*) AS stale FROM articles WHERE body_md5 IS DISTINCT FROM md5(body) AND body IS NOT NULL;
SELECT round((embedding <=> embed_doc(body))::numeric, 4) AS revised_row_current FROM articles WHERE id = 2;

-- Another model into another column.
ALTER TABLE articles ADD COLUMN embedding_l3 vector(384);
SET client_min_messages = warning;
CALL pg_embed_backfill('articles', 'body', 'embedding_l3', model => 'paraphrase-MiniLM-L3-v2', chunk_size => 100);
RESET client_min_messages;
SELECT count(embedding_l3) AS l3_embedded FROM articles;

-- Interrupted runs keep what they committed and resume. Here row 101 is too long for
-- long_text = 'error', so the sixth chunk of 20 fails after five chunks have committed.
CREATE TABLE big AS SELECT i AS id,
    CASE WHEN i = 101 THEN repeat('far too long ', 400) ELSE 'backfill interruption test ' || i END AS body,
    NULL::vector(384) AS embedding
  FROM generate_series(1, 300) AS i;
SET pg_embed.long_text = 'error';
SET client_min_messages = warning;
CALL pg_embed_backfill('big', 'body', 'embedding', chunk_size => 20);
\echo :LAST_ERROR_SQLSTATE
RESET pg_embed.long_text;
SELECT count(embedding) AS committed_before_the_failure FROM big;
SELECT rows_done, finished, interrupted FROM pg_embed_backfills WHERE relation = 'big'::regclass;
CALL pg_embed_backfill('big', 'body', 'embedding', chunk_size => 20);
RESET client_min_messages;
SELECT count(*) = count(embedding) AS all_done FROM big;
SELECT rows_done, rows_total, finished, interrupted FROM pg_embed_backfills WHERE relation = 'big'::regclass;

-- Partitioned tables: each partition is walked on its own, and every row gets its own vector.
CREATE TABLE parts (id int, body text, embedding vector(384)) PARTITION BY RANGE (id);
CREATE TABLE parts_low PARTITION OF parts FOR VALUES FROM (1) TO (100);
CREATE TABLE parts_high PARTITION OF parts FOR VALUES FROM (100) TO (1000);
INSERT INTO parts SELECT i, 'partitioned row ' || i FROM generate_series(1, 250) i;
SET client_min_messages = warning;
CALL pg_embed_backfill('parts', 'body', 'embedding', chunk_size => 40);
RESET client_min_messages;
SELECT tableoid::regclass AS partition, count(*) AS rows, count(embedding) AS embedded,
       bool_and(embedding = embed_doc(body)) AS own_text FROM parts GROUP BY 1 ORDER BY 1;
SELECT rows_done, rows_total, rows_skipped, finished FROM pg_embed_backfills WHERE relation = 'parts'::regclass;

-- A model whose id holds format() directives ('%s' in a user model's revision) is data, not
-- a template: the model id column is filled once and the run ends.
SELECT pg_embed_register_model('minilm-l6-w8', 384, role => 'doc');
UPDATE pg_embed_user_models SET revision = 'v%s%I%%' WHERE name = 'minilm-l6-w8';
CREATE TABLE pct (id int, body text, embedding vector(384), model_id text);
INSERT INTO pct SELECT i, 'percent signs ' || i FROM generate_series(1, 30) i;
SET client_min_messages = warning;
CALL pg_embed_backfill('pct', 'body', 'embedding', model => 'minilm-l6-w8', model_id_column => 'model_id', chunk_size => 7);
RESET client_min_messages;
SELECT count(*) AS rows, count(DISTINCT model_id) AS ids, min(split_part(model_id, '/', 1)) AS id_head FROM pct;
SELECT rows_done, finished FROM pg_embed_backfills WHERE relation = 'pct'::regclass;
DROP TABLE parts, pct;
DELETE FROM pg_embed_user_models WHERE name = 'minilm-l6-w8';

-- A run that fails after taking its lock (here: a read-only transaction) releases it.
SET default_transaction_read_only = on;
CALL pg_embed_backfill('articles', 'body', 'embedding');
\echo :LAST_ERROR_SQLSTATE
RESET default_transaction_read_only;
SELECT count(*) AS advisory_locks_held FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();

-- Bad arguments.
CALL pg_embed_backfill('articles', 'body', 'embedding', chunk_size => 0);
\echo :LAST_ERROR_SQLSTATE
CALL pg_embed_backfill('articles', 'no_such_column', 'embedding');
\echo :LAST_ERROR_SQLSTATE

-- An ordinary role backfills its own table, and only tables it may update.
CREATE ROLE backfill_user LOGIN;
GRANT CREATE ON SCHEMA public TO backfill_user;
\c - backfill_user
CREATE TABLE mine (id int PRIMARY KEY, body text, embedding vector(384));
INSERT INTO mine SELECT i, 'row ' || i FROM generate_series(1, 5) i;
SET client_min_messages = warning;
CALL pg_embed_backfill('mine', 'body', 'embedding');
RESET client_min_messages;
SELECT count(embedding) AS embedded FROM mine;
SELECT relation, rows_done, finished FROM pg_embed_backfills WHERE relation = 'mine'::regclass;
CALL pg_embed_backfill('articles', 'body', 'embedding');
\echo :LAST_ERROR_SQLSTATE
-- Progress rows: every role reads them, writes only its own backend's, for tables it may update.
SELECT count(*) > 0 AS sees_others FROM pg_embed_backfills WHERE relation <> 'mine'::regclass;
UPDATE pg_embed_backfill_progress SET rows_done = 0 WHERE relation <> 'mine'::regclass;
DELETE FROM pg_embed_backfill_progress WHERE relation = 'articles'::regclass;
SELECT count(*) AS articles_rows_kept, bool_and(rows_done > 0) AS progress_kept
  FROM pg_embed_backfills WHERE relation = 'articles'::regclass;
INSERT INTO pg_embed_backfill_progress (pid, relation, text_column, vector_column, model, started, updated, rows_done, rows_total)
  VALUES (pg_backend_pid(), 'articles', 'body', 'embedding', 'x', now(), now(), 0, 0);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO pg_embed_backfill_progress (pid, relation, text_column, vector_column, model, started, updated, rows_done, rows_total)
  VALUES (1, 'mine', 'body', 'embedding', 'x', now(), now(), 0, 0);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO pg_embed_backfill_progress (pid, relation, text_column, vector_column, model, started, updated, rows_done, rows_total)
  SELECT pg_backend_pid(), 'mine', 'body', 'col' || i, 'x', now(), now(), 0, 0 FROM generate_series(1, 3) i;
\echo :LAST_ERROR_SQLSTATE
-- Its own row cannot be re-pointed at a table it may not update.
UPDATE pg_embed_backfill_progress SET relation = 'articles' WHERE relation = 'mine'::regclass;
\echo :LAST_ERROR_SQLSTATE
DROP TABLE mine;
\c - postgres
REVOKE CREATE ON SCHEMA public FROM backfill_user;
DROP ROLE backfill_user;
DROP TABLE articles, big;
DELETE FROM pg_embed_backfill_progress;
