-- What a user of pg_embed 0.1.0 has built before upgrading: run at 0.1.0 (with the new library
-- serving the old SQL, as after installing the new package and restarting).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
-- A table embedded by a trigger, with an expression index and a generated column on the
-- IMMUTABLE embedding function of the version (psql variable imm: embed(text, text) at 0.1.0).
CREATE TABLE docs (id int PRIMARY KEY, body text, embedding vector(384),
                   emb_gen vector(384) GENERATED ALWAYS AS (:imm) STORED);
CREATE FUNCTION docs_embed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.embedding := embed_doc(NEW.body); RETURN NEW; END $$;
CREATE TRIGGER docs_embed BEFORE INSERT OR UPDATE OF body ON docs FOR EACH ROW EXECUTE FUNCTION docs_embed();
INSERT INTO docs (id, body) SELECT i, 'document ' || i || ' about ' || (ARRAY['indexes', 'vacuum', 'replication'])[1 + i % 3]
  FROM generate_series(1, 20) i;
CREATE INDEX docs_hnsw ON docs USING hnsw (embedding vector_cosine_ops);
CREATE INDEX docs_expr ON docs USING hnsw ((:imm::vector(384)) vector_cosine_ops);
-- The provenance trigger.
CREATE TABLE kb (id int PRIMARY KEY, body text, embedding vector(384), model_id text);
CREATE TRIGGER kb_embed BEFORE INSERT OR UPDATE ON kb FOR EACH ROW
  EXECUTE FUNCTION pg_embed_provenance_trigger('body', 'embedding', 'model_id');
INSERT INTO kb (id, body) VALUES (1, 'VACUUM reclaims dead tuples.'), (2, 'WAL goes to the standby.');
-- A registered user model, a learned projection, pinned routing, cache rows.
SELECT pg_embed_register_model('minilm-l6-w8', 384, role => 'doc');
SELECT sample_rows FROM pg_embed_learn_projection('paraphrase-MiniLM-L3-v2', 'all-MiniLM-L6-v2',
    'SELECT body FROM docs ORDER BY id', 20);
SELECT count(*) FROM pg_embed_reselect();
INSERT INTO pg_embed_cache (key, model, precision, model_files, embedding)
  SELECT sha256(convert_to('upgrade ' || id, 'UTF8')), 'all-MiniLM-L6-v2', 'fp32', 'files', embedding::real[] FROM docs WHERE id <= 3;
-- A finished backfill and an interrupted one.
CREATE TABLE bf (id int PRIMARY KEY, body text, embedding vector(384));
INSERT INTO bf SELECT i, 'backfill row ' || i FROM generate_series(1, 30) i;
CALL pg_embed_backfill('bf', 'body', 'embedding', chunk_size => 10);
CREATE TABLE bf_broken (id int PRIMARY KEY, body text, embedding vector(384));
INSERT INTO bf_broken SELECT i, CASE WHEN i = 15 THEN repeat('too long ', 400) ELSE 'row ' || i END FROM generate_series(1, 30) i;
SET pg_embed.long_text = 'error';
\set ON_ERROR_STOP off
CALL pg_embed_backfill('bf_broken', 'body', 'embedding', chunk_size => 10);
\set ON_ERROR_STOP on
-- A table searched by pg_embed_hybrid_search (full text and vectors).
CREATE TABLE hyb (id int PRIMARY KEY, body text, tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED,
                  embedding vector(384));
INSERT INTO hyb (id, body) VALUES (1, 'How do I copy a list?'), (2, 'Copy an object with copy.deepcopy.'),
  (3, 'A list is a mutable sequence.'), (4, 'VACUUM reclaims dead tuples.');
UPDATE hyb SET embedding = embed_doc(body);
SELECT count(*) FROM pg_embed_hybrid_search('hyb', 'copy a list');
