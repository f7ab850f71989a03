-- A database using pg_embed as a DBA would want to dump and restore it: the extension in a
-- schema off the search_path (pgvector in public), a registered user model feeding a generated
-- column and an expression index, a provenance trigger routing each row, a learned projection,
-- pinned routing and cache rows.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION vector;
CREATE SCHEMA emb;
CREATE EXTENSION pg_embed SCHEMA emb;
SELECT emb.pg_embed_register_model('minilm-l6-w8', 384, role => 'doc');
CREATE SCHEMA app;
CREATE TABLE app.docs (
    id int PRIMARY KEY, body text, embedding vector(384), model_id text,
    gen vector(384) GENERATED ALWAYS AS (emb.embed_fixed(body, 'minilm-l6-w8', 'fp32')) STORED);
CREATE TRIGGER docs_prov BEFORE INSERT OR UPDATE ON app.docs FOR EACH ROW
  EXECUTE FUNCTION emb.pg_embed_provenance_trigger('body', 'embedding', 'model_id', 'auto');
INSERT INTO app.docs (id, body)
  SELECT i, CASE WHEN i % 3 = 0 THEN format(E'def f%s(x):\n    return x * %s\n', i, i)
                 ELSE format('Document %s explains how %s works in PostgreSQL.', i, (ARRAY['vacuum', 'replication', 'indexing'])[1 + i % 3]) END
    FROM generate_series(1, 30) i;
CREATE INDEX docs_hnsw ON app.docs USING hnsw (embedding vector_cosine_ops);
CREATE INDEX docs_expr ON app.docs USING hnsw ((emb.embed_fixed(body, 'minilm-l6-w8', 'fp32')::vector(384)) vector_cosine_ops);
SELECT sample_rows FROM emb.pg_embed_learn_projection('paraphrase-MiniLM-L3-v2', 'all-MiniLM-L6-v2', 'SELECT body FROM app.docs', 30);
SELECT count(*) FROM emb.pg_embed_reselect();
SELECT emb.pg_embed_cache_store('all-MiniLM-L6-v2', ARRAY(SELECT body FROM app.docs));
-- BM25: a registered terms column whose statistics were changed by writes.
CREATE TABLE app.notes (id int PRIMARY KEY, body text,
                        terms text[] GENERATED ALWAYS AS (emb.pg_embed_bm25_terms(body)) STORED);
INSERT INTO app.notes (id, body)
  SELECT i, format('Note %s: how to %s a %s', i, (ARRAY['vacuum', 'index', 'replicate'])[1 + i % 3],
                   (ARRAY['table', 'column', 'database', 'cluster'])[1 + i % 4]) FROM generate_series(1, 40) i;
CREATE INDEX notes_terms ON app.notes USING gin (terms);
SELECT documents FROM emb.pg_embed_bm25_register('app.notes');
UPDATE app.notes SET body = body || ' again' WHERE id <= 5;
DELETE FROM app.notes WHERE id > 35;
