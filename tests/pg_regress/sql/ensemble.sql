-- Ensembles: learning a projection from a sample, storing it, using it in embed_ensemble,
-- learning it again, and the errors for missing projections, shapes that do not fit and bad
-- arguments. The sample is PostgreSQL's own catalog comments (pg_description), so the test
-- needs no data files; only counts, booleans and rounded values are printed.
\set SHOW_CONTEXT never
SET extra_float_digits = 0;

SELECT count(*) AS projections FROM pg_embed_projections;

-- Learn paraphrase-MiniLM-L3-v2 -> all-MiniLM-L6-v2 over 2000 catalog comments. The two
-- spaces are far apart before and much closer after the rotation, on texts left out of the
-- fit too; in-sample figures flatter.
SELECT model, reference, method, sample_rows,
       mean_cosine_held_out > mean_cosine_before + 0.3 AS closer_after,
       mean_cosine_after > mean_cosine_held_out AS in_sample_flatters
FROM pg_embed_learn_projection('paraphrase-MiniLM-L3-v2', 'all-MiniLM-L6-v2',
       'SELECT DISTINCT description FROM pg_description ORDER BY 1', 2000);

SELECT model, reference, method, dims_in, dims_out, cardinality(matrix) AS values, sample_rows,
       precision, learned_by = current_user AS by_me
FROM pg_embed_projections;

CREATE TABLE ens_docs (id int PRIMARY KEY, body text);
INSERT INTO ens_docs VALUES
  (1, 'Sort a list of numbers in ascending order.'),
  (2, 'Open a file and read its lines one by one.'),
  (3, 'Connect to a database server over the network.'),
  (4, 'The cat sleeps on the warm windowsill all afternoon.'),
  (5, 'Compute the square root of a floating point number.');

-- The ensemble has the reference's dimensions and unit length.
SELECT vector_dims(e) AS dims, round(vector_norm(e)::numeric, 4) AS norm
FROM (SELECT embed_ensemble('order a list from smallest to largest',
        ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2']) AS e) s;

-- One member, or the other members weighted 0, is exactly the reference model.
SELECT round((1 - (embed_ensemble(body, ARRAY['all-MiniLM-L6-v2']) <=> embed(body, 'all-MiniLM-L6-v2')))::numeric, 4) AS alone,
       round((1 - (embed_ensemble(body, ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2'], ARRAY[1, 0])
                   <=> embed(body, 'all-MiniLM-L6-v2')))::numeric, 4) AS weight_0
FROM ens_docs WHERE id = 1;

-- Projected, the L3 model's vector of a new text points nearer the reference's vector than
-- the unprojected one does.
SELECT bool_and(1 - (embed_ensemble(body, ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2'], ARRAY[0, 1])
                     <=> embed(body, 'all-MiniLM-L6-v2'))
                > 1 - (embed(body, 'paraphrase-MiniLM-L3-v2') <=> embed(body, 'all-MiniLM-L6-v2'))) AS projected_closer
FROM ens_docs;

-- Search with the ensemble: each question finds its document first.
CREATE TABLE ens_vecs AS
  SELECT id, embed_ensemble(body, ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2'], ARRAY[0.6, 0.4]) AS e
  FROM ens_docs;
SELECT q.question, (SELECT id FROM ens_vecs
                    ORDER BY e <=> embed_ensemble(q.question, ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2'], ARRAY[0.6, 0.4])
                    LIMIT 1) AS best
FROM (VALUES ('how do I sort numbers'), ('read a text file line by line'), ('where does my kitten nap')) q(question);

-- Learned again with least squares: the row is replaced (new version) and the next call uses it.
CREATE TABLE ens_before AS SELECT version,
  embed_ensemble('sort a list', ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2'], ARRAY[0, 1]) AS e
  FROM pg_embed_projections;
SELECT method, sample_rows, mean_cosine_held_out > mean_cosine_before + 0.3 AS closer_after
FROM pg_embed_learn_projection('paraphrase-MiniLM-L3-v2', 'all-MiniLM-L6-v2',
       'SELECT DISTINCT description FROM pg_description ORDER BY 1', 2000, 'least_squares');
SELECT p.method, p.version > b.version AS new_version,
       (embed_ensemble('sort a list', ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2'], ARRAY[0, 1]) <=> b.e) > 0 AS changed
FROM pg_embed_projections p, ens_before b;

-- NULL in, NULL out.
SELECT embed_ensemble(NULL, ARRAY['all-MiniLM-L6-v2']) IS NULL AS null_text,
       embed_ensemble('x', NULL) IS NULL AS null_models;

-- No projection of the reference onto the other model (the direction matters).
SELECT embed_ensemble('x', ARRAY['paraphrase-MiniLM-L3-v2', 'all-MiniLM-L6-v2']);
\echo :LAST_ERROR_SQLSTATE

-- Bad arguments.
SELECT embed_ensemble('x', ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2'], ARRAY[1]);
\echo :LAST_ERROR_SQLSTATE
SELECT embed_ensemble('x', ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2'], ARRAY[1, -0.5]);
\echo :LAST_ERROR_SQLSTATE
SELECT embed_ensemble('x', ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2'], ARRAY[0, 0]);
\echo :LAST_ERROR_SQLSTATE
SELECT embed_ensemble('x', ARRAY['all-MiniLM-L6-v2', 'all-MiniLM-L6-v2']);
\echo :LAST_ERROR_SQLSTATE
SELECT embed_ensemble('x', ARRAY['all-MiniLM-L6-v2', NULL]);
\echo :LAST_ERROR_SQLSTATE
SELECT embed_ensemble('x', ARRAY[]::text[]);
\echo :LAST_ERROR_SQLSTATE
SELECT embed_ensemble('x', ARRAY['all-MiniLM-L6-v2', 'no-such-model']);
\echo :LAST_ERROR_SQLSTATE

-- Learning errors: a model onto itself, an unknown method, too small a sample, a broken query.
SELECT * FROM pg_embed_learn_projection('all-MiniLM-L6-v2', 'all-MiniLM-L6-v2', 'SELECT 1');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_learn_projection('paraphrase-MiniLM-L3-v2', 'all-MiniLM-L6-v2', 'SELECT body FROM ens_docs', 10, 'svd');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_learn_projection('paraphrase-MiniLM-L3-v2', 'all-MiniLM-L6-v2', 'SELECT ''only one text''');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_learn_projection('paraphrase-MiniLM-L3-v2', 'all-MiniLM-L6-v2', 'SELECT body FROM ens_docs', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_learn_projection('paraphrase-MiniLM-L3-v2', 'all-MiniLM-L6-v2', 'SELECT body FROM no_such_table');
\echo :LAST_ERROR_SQLSTATE
-- A failed learning leaves the stored projection as it was.
SELECT method, sample_rows FROM pg_embed_projections;

-- A stored projection whose shape does not fit the models: ERROR, not a crash.
BEGIN;
UPDATE pg_embed_projections SET dims_in = 2, dims_out = 384, matrix = matrix[1:768];
SELECT embed_ensemble('x', ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
UPDATE pg_embed_projections SET dims_in = 384, dims_out = 2, matrix = matrix[1:768];
SELECT embed_ensemble('x', ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2']);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- The table refuses a matrix of the wrong size (terse: the failing row holds learned floats).
\set VERBOSITY terse
UPDATE pg_embed_projections SET dims_in = 3;
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default

-- Anyone may use projections; only superusers and embed_admin may learn them.
CREATE ROLE ens_reader;
GRANT SELECT ON ens_docs TO ens_reader;
SET ROLE ens_reader;
SELECT vector_dims(embed_ensemble('x', ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2'])) AS reader_dims;
SELECT * FROM pg_embed_learn_projection('paraphrase-MiniLM-L3-v2', 'all-MiniLM-L6-v2', 'SELECT body FROM ens_docs');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

DELETE FROM pg_embed_projections;
SELECT embed_ensemble('x', ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2']);
\echo :LAST_ERROR_SQLSTATE
DROP TABLE ens_docs, ens_vecs, ens_before;
DROP OWNED BY ens_reader;
DROP ROLE ens_reader;
