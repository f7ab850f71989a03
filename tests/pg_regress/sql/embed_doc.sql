-- embed_doc: shape, NULL handling, determinism, and the three ways users write it.
SELECT vector_dims(embed_doc('hello world'));
SELECT embed_doc(NULL) IS NULL AS null_in_null_out;
SELECT round(vector_norm(embed_doc('hello world'))::numeric, 4) AS norm;
-- The first values of all-MiniLM-L6-v2's "hello world" (sentence-transformers gives -0.0345, 0.0310, 0.0067).
SELECT array_agg(round(x::numeric, 4)) FROM unnest((embed_doc('hello world')::real[])[1:3]) AS x;
SELECT embed_doc('same text') = embed_doc('same text') AS deterministic;
SELECT vector_dims(embed_doc('')) AS empty_string_dims;
SELECT pg_typeof(embed_doc('x'));

-- INSERT ... SELECT into a vector(384) column, no cast.
CREATE TABLE src (id int PRIMARY KEY, body text);
INSERT INTO src VALUES
  (1, 'To read a file in Python, open it with open() and iterate over its lines.'),
  (2, 'PostgreSQL stores tables in 8 kB pages.'),
  (3, 'Bake the bread at 220 degrees for thirty minutes.'),
  (4, 'A B-tree index keeps keys sorted so range scans are fast.'),
  (5, NULL);
CREATE TABLE docs (id int PRIMARY KEY, body text, embedding vector(384));
INSERT INTO docs (id, body, embedding) SELECT id, body, embed_doc(body) FROM src;
SELECT id, embedding IS NULL AS no_vector FROM docs ORDER BY id;

-- A trigger that embeds on every write.
CREATE FUNCTION docs_embed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.embedding := embed_doc(NEW.body);
  RETURN NEW;
END $$;
CREATE TRIGGER docs_embed BEFORE INSERT OR UPDATE OF body ON docs
  FOR EACH ROW EXECUTE FUNCTION docs_embed();
INSERT INTO docs (id, body) VALUES (6, 'Vacuum reclaims space held by dead rows.');
UPDATE docs SET body = 'Proof the dough overnight in the fridge.' WHERE id = 5;
SELECT id, vector_dims(embedding) FROM docs WHERE id IN (5, 6) ORDER BY id;
SELECT round((embedding <=> embed_doc(body))::numeric, 4) AS trigger_matches_direct FROM docs WHERE id = 6;

-- Similarity search with an HNSW index, no cast on the query side.
CREATE INDEX ON docs USING hnsw (embedding vector_cosine_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM docs ORDER BY embedding <=> embed_doc('how do I read a file') LIMIT 5;
SELECT id FROM docs ORDER BY embedding <=> embed_doc('how do I read a file') LIMIT 1;
SELECT id FROM docs ORDER BY embedding <=> embed_doc('baking bread') LIMIT 2;
RESET enable_seqscan;

-- Texts longer than the model's 256 tokens are truncated, not refused.
SELECT vector_dims(embed_doc(repeat('database index vector ', 500)));
