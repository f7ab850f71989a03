-- Chunking: pg_embed_chunks cuts a text into chunks of the model's tokens, and a vectorizer
-- registered with a chunk table keeps one vector per chunk there. The batches here are run by
-- hand (pg_embed_vectorize_batch, as the workers run them); tests/vectorize runs the workers.
SET client_min_messages = warning;

-- Prose: every chunk fits, its text is substr() of the body at its span, neighbours overlap.
CREATE TABLE ch_prose AS SELECT repeat('The planner chooses an index scan when the table is large. Autovacuum keeps up. ', 30)
    || E'\n\nA second paragraph about café crème and 数据库索引. ' AS body;
SELECT count(*) > 5 AS several, bool_and(tokens <= 64) AS all_fit, max(tokens) > 48 AS nearly_full,
       bool_and(content = substr(b.body, start_pos, length)) AS spans_match,
       bool_and(chunk = rn) AS numbered
  FROM ch_prose b, LATERAL (SELECT c.*, row_number() OVER (ORDER BY c.start_pos) AS rn FROM pg_embed_chunks(b.body, 64, 8) c) c;
-- Overlap: each chunk starts before the previous one ends; without overlap, after it.
SELECT bool_and(start_pos < prev_end) AS overlapping
  FROM (SELECT start_pos, lag(start_pos + length) OVER (ORDER BY chunk) AS prev_end FROM ch_prose, pg_embed_chunks(body, 64, 8)) s
 WHERE prev_end IS NOT NULL;
SELECT bool_and(start_pos >= prev_end) AS disjoint
  FROM (SELECT start_pos, lag(start_pos + length) OVER (ORDER BY chunk) AS prev_end FROM ch_prose, pg_embed_chunks(body, 64, 0)) s
 WHERE prev_end IS NOT NULL;
-- The model's limit is the default size; a chunk embeds whole (no truncation NOTICE).
SELECT max(tokens) <= 256 AS within_limit, count(*) AS chunks FROM ch_prose, pg_embed_chunks(body);
-- Code: chunks start at definitions, with the comments and decorators above them; prose
-- boundaries on the same text (lines without blank ones between) cut elsewhere.
CREATE TABLE ch_code AS SELECT E'import os\n# Reads the file.\n@cache\ndef read(path):\n    with open(path) as f:\n        return f.read()\n'
    || E'def write(path, data):\n    with open(path, "w") as f:\n        f.write(data)\n'
    || E'class Store:\n    def __init__(self, root):\n        self.root = root\n' AS body;
SELECT k.kind, string_agg(split_part(c.content, E'\n', 1), ' | ' ORDER BY c.chunk) AS first_lines, max(c.tokens) AS max_tokens
  FROM ch_code, (VALUES ('auto'), ('code'), ('prose')) k(kind), LATERAL pg_embed_chunks(body, 40, 0, 'all-MiniLM-L6-v2', k.kind) c
 GROUP BY k.kind ORDER BY k.kind;
-- Short, empty and NULL texts; another model's tokens.
SELECT * FROM pg_embed_chunks('short text');
SELECT count(*) AS chunks_of_blank FROM pg_embed_chunks(E'  \n ');
SELECT count(*) AS chunks_of_null FROM pg_embed_chunks(NULL);
SELECT count(*) > 1 AS l3_chunks FROM ch_prose, pg_embed_chunks(body, 64, 0, 'paraphrase-MiniLM-L3-v2');
-- Bad arguments: 22023 with a hint.
\set VERBOSITY default
SELECT * FROM pg_embed_chunks('x', 300);
SELECT * FROM pg_embed_chunks('x', 4);
SELECT * FROM pg_embed_chunks('x', 64, 40);
SELECT * FROM pg_embed_chunks('x', 64, -1);
SELECT * FROM pg_embed_chunks('x', -5);
SELECT * FROM pg_embed_chunks('x', 64, 0, NULL, 'poetry');
SELECT * FROM pg_embed_chunks('x', 64, 0, 'no-such-model');
\set VERBOSITY terse

-- A vectorizer with a chunk table: created with the key, the span, a vector sized for the model
-- and the model id; a batch fills it.
CREATE TABLE ch_docs (id bigint PRIMARY KEY, body text);
INSERT INTO ch_docs SELECT g, repeat(format('Document %s explains how vacuum reclaims dead rows. ', g), g * 8) FROM generate_series(1, 4) g;
INSERT INTO ch_docs VALUES (5, 'How do I copy a list in Python?'), (6, NULL);
SELECT pg_embed_vectorize('ch_docs', 'body', 'embedding', model_id_column => 'model_id',
                          chunk_table => 'ch_docs_chunks', chunk_tokens => 48, chunk_overlap => 8) AS vectorizer \gset
SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
 WHERE a.attrelid = 'ch_docs_chunks'::regclass AND a.attnum > 0 ORDER BY a.attnum;
SELECT pending, chunk_table FROM pg_embed_vectorize_status WHERE vectorizer = :vectorizer;
SELECT pg_embed_vectorize_batch(:vectorizer) AS taken;
-- Every chunk's vector is the embedding of its text; the rows' chunks are pg_embed_chunks' own.
SELECT count(*) AS chunks, count(DISTINCT c.id) AS documents,
       bool_and(1 - (c.embedding <=> embed(substr(d.body, c.start_pos, c.length), 'all-MiniLM-L6-v2')) > 0.9999) AS vectors_match,
       bool_and(c.model_id = pg_embed_model_id('all-MiniLM-L6-v2')) AS model_ids
  FROM ch_docs_chunks c JOIN ch_docs d USING (id);
SELECT (SELECT array_agg(ARRAY[c.chunk, c.start_pos, c.length] ORDER BY c.id, c.chunk) FROM ch_docs_chunks c)
     = (SELECT array_agg(ARRAY[p.chunk, p.start_pos, p.length] ORDER BY d.id, p.chunk)
          FROM ch_docs d, pg_embed_chunks(d.body, 48, 8, 'all-MiniLM-L6-v2') p) AS same_chunks;
-- A changed text replaces the row's chunks; a deleted row takes its chunks along; NULL has none.
UPDATE ch_docs SET body = 'Now a short text about copying lists.' WHERE id = 3;
DELETE FROM ch_docs WHERE id = 4;
SELECT pg_embed_vectorize_batch(:vectorizer) AS taken;
SELECT id, count(*) AS chunks FROM ch_docs_chunks GROUP BY id ORDER BY id;
-- Search: documents by their best chunk, with the chunk.
SELECT key, chunk FROM pg_embed_vectorize_search('ch_docs', 'copy a list', 3);
SELECT key, chunk FROM pg_embed_vectorize_search('ch_docs', 'vacuum dead rows', 2);
-- Registration errors.
SELECT pg_embed_vectorize('ch_docs', 'body', 'e2', chunk_table => 'ch_docs');
SELECT pg_embed_vectorize('ch_docs', 'body', 'e2', chunk_tokens => 64);
SELECT pg_embed_vectorize('ch_docs', 'body', 'e2', chunk_table => 'ch_docs_chunks');
SELECT pg_embed_vectorize('ch_docs', 'body', 'e3', chunk_table => 'ch_other', chunk_tokens => 1000);
SELECT to_regclass('ch_other') AS not_created;
-- A role may not use another role's table as its chunk table.
CREATE ROLE ch_owner;
CREATE TABLE ch_theirs (id bigint PRIMARY KEY, chunk int, start_pos int, length int, embedding vector(384));
CREATE TABLE ch_mine (id bigint PRIMARY KEY, body text);
ALTER TABLE ch_mine OWNER TO ch_owner;
GRANT USAGE, CREATE ON SCHEMA public TO ch_owner;
SET ROLE ch_owner;
SELECT pg_embed_vectorize('ch_mine', 'body', 'embedding', chunk_table => 'ch_theirs');
SELECT pg_embed_vectorize_manage('adopt', 'ch_mine'::regclass, jsonb_build_object('chunk_table', 'ch_theirs'::regclass::oid::bigint));
SELECT pg_embed_vectorize_manage('adopt', 'ch_mine'::regclass, jsonb_build_object('chunk_table', -1));
-- A table of another role under the chunk table's name is refused, even to a superuser (the
-- workers would run its triggers as the table's owner).
CREATE TABLE ch_trap (id bigint, chunk int, start_pos int, length int, embedding vector(384));
RESET ROLE;
SELECT pg_embed_vectorize('ch_docs', 'body', 'e5', chunk_table => 'ch_trap');
-- A chunk table given to another role after registration: the batch refuses to write it.
ALTER TABLE ch_docs_chunks OWNER TO ch_owner;
UPDATE ch_docs SET body = 'changed while the chunk table belongs to another role' WHERE id = 5;
SELECT pg_embed_vectorize_batch(:vectorizer) AS taken;
SELECT key, attempts, last_error FROM pg_embed_vectorize_queue WHERE vectorizer = :vectorizer;
ALTER TABLE ch_docs_chunks OWNER TO CURRENT_USER;
UPDATE pg_embed_vectorize_queue SET retry_at = NULL WHERE vectorizer = :vectorizer;  -- due again now
-- A role outside the owner's members with TRIGGER on the chunk table could act as the owner
-- through a trigger: the batch refuses to write it until the grant goes.
GRANT TRIGGER ON ch_docs_chunks TO ch_owner;
SELECT pg_embed_vectorize_batch(:vectorizer) AS taken;
SELECT key, attempts, last_error FROM pg_embed_vectorize_queue WHERE vectorizer = :vectorizer;
REVOKE TRIGGER ON ch_docs_chunks FROM ch_owner;
UPDATE pg_embed_vectorize_queue SET retry_at = NULL WHERE vectorizer = :vectorizer;
SELECT pg_embed_vectorize_batch(:vectorizer) AS taken;
SELECT count(*) AS pending FROM pg_embed_vectorize_queue WHERE vectorizer = :vectorizer;
-- Searching reads the table itself as the caller: its privileges and row-level security apply.
GRANT SELECT ON ch_docs_chunks TO ch_owner;
SET ROLE ch_owner;
SELECT key FROM pg_embed_vectorize_search('ch_docs', 'copy a list', 3);
RESET ROLE;
GRANT SELECT (id) ON ch_docs TO ch_owner;
SET ROLE ch_owner;
SELECT key FROM pg_embed_vectorize_search('ch_docs', 'copy a list', 3);
RESET ROLE;
GRANT SELECT ON ch_docs TO ch_owner;
ALTER TABLE ch_docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY ch_only_5 ON ch_docs FOR SELECT TO ch_owner USING (id = 5);
SET ROLE ch_owner;
SELECT key FROM pg_embed_vectorize_search('ch_docs', 'vacuum dead rows', 3);
RESET ROLE;
-- Dropping the chunk table drops the registration and its triggers: writes go on.
DROP TABLE ch_docs_chunks;
SELECT count(*) AS registrations FROM pg_embed_vectorizers WHERE relation = 'ch_docs'::regclass;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'ch_docs'::regclass AND tgname LIKE 'pg_embed_vectorize%';
INSERT INTO ch_docs VALUES (7, 'written after the chunk table was dropped');
DROP TABLE ch_docs, ch_mine, ch_theirs, ch_prose, ch_code, ch_trap;
REVOKE ALL ON SCHEMA public FROM ch_owner;
DROP ROLE ch_owner;
