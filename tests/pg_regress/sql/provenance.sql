-- Provenance: every stored vector carries the id of the model file that made it.
-- The id: name@revision/precision/first 12 hex digits of the ONNX file's SHA-256.
SELECT pg_embed_model_id('all-MiniLM-L6-v2') ~ '^all-MiniLM-L6-v2@main/fp32/[0-9a-f]{12}$' AS fp32_id_format,
       split_part(pg_embed_model_id('all-MiniLM-L6-v2'), '/', 3)
         = left(encode(sha256(pg_read_binary_file('@models@/all-MiniLM-L6-v2/model.onnx')), 'hex'), 12) AS digest_of_the_file;
SET pg_embed.precision = 'int8';
SELECT split_part(pg_embed_model_id('all-MiniLM-L6-v2'), '/', 2) AS precision,
       split_part(pg_embed_model_id('all-MiniLM-L6-v2'), '/', 3)
         = left(encode(sha256(pg_read_binary_file('@models@/all-MiniLM-L6-v2/model_int8.onnx')), 'hex'), 12) AS digest_of_the_int8_file;
RESET pg_embed.precision;
SELECT pg_embed_model_id('paraphrase-MiniLM-L3-v2') LIKE 'paraphrase-MiniLM-L3-v2@main/fp32/%' AS other_model;
SELECT pg_embed_role_model('doc') AS doc_model;
SELECT pg_embed_model_id('no-such-model');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_role_model('poetry');
\echo :LAST_ERROR_SQLSTATE

-- The trigger writes the vector and the model id on every insert, and on updates that change
-- the text (or when the model file is no longer the current one).
CREATE TABLE prov_kb (id int PRIMARY KEY, body text, topic text, embedding vector(384), model_id text);
CREATE TRIGGER kb_embed BEFORE INSERT OR UPDATE ON prov_kb FOR EACH ROW
  EXECUTE FUNCTION pg_embed_provenance_trigger('body', 'embedding', 'model_id');
INSERT INTO prov_kb (id, body, topic) VALUES
  (1, 'VACUUM reclaims storage occupied by dead tuples.', 'maintenance'),
  (2, 'A replication slot keeps WAL until the standby has received it.', 'replication'),
  (3, NULL, 'empty');
SELECT id, model_id = pg_embed_model_id('all-MiniLM-L6-v2') AS current_id,
       round((embedding <=> embed_doc(body))::numeric, 4) AS distance_to_embed_doc
  FROM prov_kb ORDER BY id;
-- Another column changes: the vector is kept (same text, same model file).
UPDATE prov_kb SET topic = 'vacuum', embedding = embedding WHERE id = 1;
UPDATE prov_kb SET body = 'ANALYZE collects statistics about the contents of tables.' WHERE id = 1;
SELECT round((embedding <=> embed_doc('ANALYZE collects statistics about the contents of tables.'))::numeric, 4) AS re_embedded
  FROM prov_kb WHERE id = 1;
UPDATE prov_kb SET body = NULL WHERE id = 2;
SELECT id, embedding IS NULL AS no_vector, model_id IS NULL AS no_model_id FROM prov_kb WHERE id = 2;

-- A named model, and 'auto' (embed_auto's choice for each row).
CREATE TABLE prov_kb_l3 (id int, body text, embedding vector(384), model_id text);
CREATE TRIGGER kb_l3_embed BEFORE INSERT OR UPDATE ON prov_kb_l3 FOR EACH ROW
  EXECUTE FUNCTION pg_embed_provenance_trigger('body', 'embedding', 'model_id', 'paraphrase-MiniLM-L3-v2');
INSERT INTO prov_kb_l3 VALUES (1, 'streaming replication', NULL, NULL);
SELECT split_part(model_id, '@', 1) AS model,
       round((embedding <=> embed('streaming replication', 'paraphrase-MiniLM-L3-v2'))::numeric, 4) AS distance
  FROM prov_kb_l3;
CREATE TABLE prov_snippets (id int, body text, embedding vector, model_id text);
CREATE TRIGGER snippets_embed BEFORE INSERT OR UPDATE ON prov_snippets FOR EACH ROW
  EXECUTE FUNCTION pg_embed_provenance_trigger('body', 'embedding', 'model_id', 'auto');
INSERT INTO prov_snippets VALUES (1, 'How do I configure autovacuum for a large table?', NULL, NULL);
SELECT model_id = pg_embed_model_id(embed_auto_model(body)) AS id_of_the_routed_model FROM prov_snippets;

-- Wrong use is an error with a hint.
CREATE TABLE prov_wrong (id int, body text, embedding vector(384), model_id text);
CREATE TRIGGER wrong_after AFTER INSERT ON prov_wrong FOR EACH ROW
  EXECUTE FUNCTION pg_embed_provenance_trigger('body', 'embedding', 'model_id');
INSERT INTO prov_wrong VALUES (1, 'x', NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER wrong_after ON prov_wrong;
CREATE TRIGGER wrong_column BEFORE INSERT ON prov_wrong FOR EACH ROW
  EXECUTE FUNCTION pg_embed_provenance_trigger('text', 'embedding', 'model_id');
INSERT INTO prov_wrong VALUES (1, 'x', NULL, NULL);
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER wrong_column ON prov_wrong;
CREATE TRIGGER wrong_type BEFORE INSERT ON prov_wrong FOR EACH ROW
  EXECUTE FUNCTION pg_embed_provenance_trigger('body', 'model_id', 'model_id');
INSERT INTO prov_wrong VALUES (1, 'x', NULL, NULL);
\echo :LAST_ERROR_SQLSTATE

-- Re-embedding only the rows another model file made is one call: pg_embed_backfill with
-- model_id_column. Here the stored vectors are fp32; switching to int8 makes them stale.
INSERT INTO prov_kb (id, body) SELECT i, 'Article ' || i || ' about ' || (ARRAY['indexes', 'vacuum', 'wal'])[1 + i % 3]
  FROM generate_series(10, 129) AS i;
SET pg_embed.precision = 'int8';
SELECT count(*) AS stale_rows FROM prov_kb WHERE body IS NOT NULL AND model_id <> pg_embed_model_id('all-MiniLM-L6-v2');
SET client_min_messages = warning;
CALL pg_embed_backfill('prov_kb', 'body', 'embedding', chunk_size => 50, model_id_column => 'model_id');
RESET client_min_messages;
SELECT rows_done, rows_total, finished FROM pg_embed_backfills WHERE relation = 'prov_kb'::regclass;
SELECT count(*) FILTER (WHERE model_id = pg_embed_model_id('all-MiniLM-L6-v2')) AS current_rows,
       count(*) FILTER (WHERE body IS NOT NULL AND model_id IS DISTINCT FROM pg_embed_model_id('all-MiniLM-L6-v2')) AS stale_rows,
       max(embedding <=> embed_doc(body)) < 1e-6 AS vectors_are_int8
  FROM prov_kb;
-- Nothing stale: nothing to do.
SET client_min_messages = warning;
CALL pg_embed_backfill('prov_kb', 'body', 'embedding', model_id_column => 'model_id');
RESET client_min_messages;
SELECT rows_done, rows_total FROM pg_embed_backfills WHERE relation = 'prov_kb'::regclass;
RESET pg_embed.precision;
-- With model => 'auto', each row's id is that of the model embed_auto routes it to.
SET client_min_messages = warning;
CALL pg_embed_backfill('prov_kb', 'body', 'embedding', model => 'auto', model_id_column => 'model_id');
RESET client_min_messages;
SELECT count(*) FILTER (WHERE model_id = pg_embed_model_id(embed_auto_model(body))) = count(body) AS all_current FROM prov_kb;

-- A/B before switching: the Python FAQ (real questions with their answers), the first 120
-- answers and the questions they answer. Current model all-MiniLM-L6-v2, candidate
-- paraphrase-MiniLM-L3-v2 in a side column.
-- n numbers the lines in the order COPY reads them (a heap's physical order is not the file's).
CREATE TEMP TABLE raw (n serial, line text);
COPY raw (line) FROM '@data@/faq/corpus.jsonl' WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02');
CREATE TABLE prov_faq (id int PRIMARY KEY, doc text UNIQUE, body text, embedding vector(384), embedding_l3 vector(384));
INSERT INTO prov_faq (id, doc, body)
  SELECT n, line::jsonb ->> '_id', btrim((line::jsonb ->> 'title') || E'\n' || (line::jsonb ->> 'text'), E'\n')
  FROM raw WHERE n <= 120;
TRUNCATE raw;
COPY raw (line) FROM '@data@/faq/queries.jsonl' WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02');
CREATE TEMP TABLE qrels (qid text, doc text, score int);
COPY qrels FROM '@data@/faq/qrels.tsv' WITH (FORMAT csv, DELIMITER e'\t', HEADER);
CREATE TABLE prov_faq_questions (question text, answers int[]);
INSERT INTO prov_faq_questions
  SELECT line::jsonb ->> 'text', array_agg(f.id ORDER BY f.id)
  FROM raw JOIN qrels ON qrels.qid = line::jsonb ->> '_id' JOIN prov_faq f ON f.doc = qrels.doc
  GROUP BY 1;
SELECT count(*) AS answers, (SELECT count(*) FROM prov_faq_questions) AS questions FROM prov_faq;
SET client_min_messages = warning;
CALL pg_embed_backfill('prov_faq', 'body', 'embedding');
RESET client_min_messages;
SELECT side, model, split_part(model_id, '/', 2) AS precision, n_queries, n_documents,
       round(mrr_at_10::numeric, 3) AS mrr_at_10, round(recall_at_10::numeric, 3) AS recall_at_10,
       round(p_at_1::numeric, 3) AS p_at_1, round(ndcg_at_10::numeric, 3) AS ndcg_at_10
  FROM pg_embed_ab_compare('prov_faq', 'id', 'body', 'embedding', 'embedding_l3', 'paraphrase-MiniLM-L3-v2',
                           'prov_faq_questions', 'question', 'answers', sample => 100);
SELECT count(embedding_l3) AS candidate_vectors FROM prov_faq;
-- The current model's MRR@10, computed independently over the same 100 questions.
WITH q AS MATERIALIZED (
       SELECT question, answers, embed_doc(question) AS v FROM prov_faq_questions ORDER BY md5(question), answers LIMIT 100),
     first_hit AS (
       SELECT q.question, min(t.rank) FILTER (WHERE t.id = ANY (q.answers)) AS r FROM q CROSS JOIN LATERAL (
         SELECT id, row_number() OVER (ORDER BY embedding <=> q.v, id) AS rank
         FROM prov_faq ORDER BY embedding <=> q.v, id LIMIT 10) t GROUP BY q.question)
SELECT round(avg(coalesce(1.0 / r, 0)), 3) AS independent_mrr_at_10 FROM first_hit;
-- Wrong arguments.
SELECT * FROM pg_embed_ab_compare('prov_faq', 'id', 'body', 'embedding', 'embedding', 'paraphrase-MiniLM-L3-v2',
                                  'prov_faq_questions', 'question', 'answers');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_ab_compare('prov_faq', 'doc', 'body', 'embedding', 'embedding_l3', 'paraphrase-MiniLM-L3-v2',
                                  'prov_faq_questions', 'question', 'answers');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_ab_compare('prov_faq', 'id', 'body', 'embedding', 'embedding_l3', 'paraphrase-MiniLM-L3-v2',
                                  'prov_faq_questions', 'question', 'answer_ids');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_ab_compare('prov_faq', 'id', 'body', 'embedding', 'embedding_l3', 'paraphrase-MiniLM-L3-v2',
                                  'prov_faq_questions', 'question', 'answers', sample => 0);
\echo :LAST_ERROR_SQLSTATE
DROP TABLE prov_kb, prov_kb_l3, prov_snippets, prov_wrong, prov_faq, prov_faq_questions;

-- Provenance never lies: a model file replaced under a backend that has it loaded is noticed
-- (size, modification time, inode) at the next call, which embeds with the new file, and the
-- model id names the file really in use; no unload needed.
SET pg_embed.model_dir = '@faults@/replace';
SET pg_embed.precision = 'fp32';
CREATE TEMP TABLE before_replace AS
  SELECT embed('provenance follows the file', 'all-MiniLM-L6-v2') AS v, pg_embed_model_id('all-MiniLM-L6-v2') AS id;
COPY (SELECT 1) TO PROGRAM 'cp @models@/all-MiniLM-L6-v2/model_int8.onnx @faults@/replace/all-MiniLM-L6-v2/new.onnx && mv @faults@/replace/all-MiniLM-L6-v2/new.onnx @faults@/replace/all-MiniLM-L6-v2/model.onnx';
CREATE TEMP TABLE after_replace AS
  SELECT embed('provenance follows the file', 'all-MiniLM-L6-v2') AS v, pg_embed_model_id('all-MiniLM-L6-v2') AS id;
SELECT a.id <> b.id AS new_id, a.v <> b.v AS new_vector,
       split_part(a.id, '/', 3) = left(encode(sha256(pg_read_binary_file('@faults@/replace/all-MiniLM-L6-v2/model.onnx')), 'hex'), 12) AS id_names_the_file_in_use
  FROM after_replace a, before_replace b;
RESET pg_embed.model_dir;
SET pg_embed.precision = 'int8';
SELECT embed('provenance follows the file', 'all-MiniLM-L6-v2') = v AS vector_is_the_new_files FROM after_replace;
RESET pg_embed.precision;
