-- BM25: terms, registration, statistics kept under writes, exact search, hybrid search with
-- BM25 as its text side, and what a role that owns nothing may do.

-- Terms: identifiers split at _ and case changes ('code'), or kept whole ('words').
SELECT pg_embed_bm25_terms('def parse_json(s): return JSONDecoder().decode(s)');
SELECT pg_embed_bm25_terms('HTTPServerError utf8Decode XMLs naïve', 'code');
SELECT pg_embed_bm25_terms('def parse_json(s): return JSONDecoder()', 'words');
SELECT pg_embed_bm25_query_terms('read the file, then read it again');
SELECT pg_embed_bm25_terms('x', 'stemmed');
\echo :LAST_ERROR_SQLSTATE
-- A text over pg_embed.max_text_size is refused before its terms take any memory.
SET pg_embed.max_text_size = '1kB';
SELECT pg_embed_bm25_terms(repeat('a ', 1000));
\echo :LAST_ERROR_SQLSTATE
RESET pg_embed.max_text_size;
SELECT cardinality(pg_embed_bm25_terms(repeat('a ', 1000)));

-- A corpus whose term frequencies are known: every document holds "alpha" 1 to 4 times, half
-- hold "beta", a third "gamma", a fiftieth each x0 .. x49 and a five-hundredth each r0 .. r499.
CREATE TABLE corpus (
    id int PRIMARY KEY,
    body text,
    terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED
);
INSERT INTO corpus (id, body)
SELECT i, repeat('alpha ', 1 + i % 4) || CASE WHEN i % 2 = 0 THEN 'beta ' ELSE '' END
          || CASE WHEN i % 3 = 0 THEN 'gamma gamma ' ELSE '' END || 'x' || (i % 50) || ' r' || (i % 500)
          || repeat(' filler', i % 7)
  FROM generate_series(1, 5000) i;
CREATE INDEX corpus_terms ON corpus USING gin (terms);
SELECT * FROM pg_embed_bm25_register('corpus');
SELECT relation, terms_column, tokenizer, k1, b, documents, terms, average_length, distinct_terms, change_rows
  FROM pg_embed_bm25_indexes;

-- The reference: BM25 computed from the table by brute force (k1 1.2, b 0.75).
CREATE FUNCTION reference_bm25(q text, k int) RETURNS TABLE (id bigint, score float8) LANGUAGE sql AS $$
    WITH d AS (SELECT c.id, c.terms, cardinality(c.terms) AS len FROM corpus c WHERE c.terms IS NOT NULL),
         st AS (SELECT count(*)::float8 AS n, avg(d.len)::float8 AS avgdl FROM d),
         qt AS (SELECT DISTINCT unnest(pg_embed_bm25_terms(q)) AS t),
         tf AS (SELECT d.id, d.len, u.t, count(*) AS tf FROM d, unnest(d.terms) u(t) WHERE u.t IN (SELECT t FROM qt)
                 GROUP BY d.id, d.len, u.t),
         df AS (SELECT tf.t, count(*) AS df FROM tf GROUP BY tf.t)
    SELECT tf.id::bigint, sum(ln(1 + (st.n - df.df + 0.5) / (df.df + 0.5)) * tf.tf * 2.2
                              / (tf.tf + 1.2 * (1 - 0.75 + 0.75 * tf.len / st.avgdl)))
      FROM tf JOIN df USING (t), st GROUP BY tf.id ORDER BY 2 DESC, 1 LIMIT k
$$;
-- Equal to it, rank by rank, for queries of rare terms, common terms and both (the search scores
-- the rarest terms' documents first, then only the documents that can still be in the top k).
-- Documents whose scores tie within 1e-9 (the two add in different orders) may trade places.
CREATE FUNCTION agrees(q text, k int DEFAULT 10) RETURNS TABLE (query text, results int, same_ranking boolean, max_difference_below_1e9 boolean)
LANGUAGE sql AS $$
    WITH a AS (SELECT row_number() OVER () AS r, s.* FROM pg_embed_bm25_search('corpus', q, max_results => k) s),
         b AS (SELECT row_number() OVER () AS r, s.* FROM reference_bm25(q, k) s)
    SELECT q, (SELECT count(*)::int FROM a),
           (SELECT count(*) = (SELECT count(*) FROM b) FROM a)
           AND NOT EXISTS (SELECT FROM a FULL JOIN b USING (id)
                            WHERE (a.id IS NULL OR b.id IS NULL)
                              AND abs(coalesce(a.score, b.score) - (SELECT min(score) FROM b)) >= 1e-9),
           (SELECT max(abs(a.score - b.score)) FROM a JOIN b USING (r)) < 1e-9
$$;
SELECT a.* FROM unnest(ARRAY['r7', 'r7 x7', 'alpha beta', 'alpha beta gamma r123 x23', 'gamma x1 x2 x3 filler',
                             'alpha', 'nothing here', 'r7 r8 r9 r10 alpha beta gamma filler']) q, agrees(q) a;
SELECT * FROM agrees('alpha beta gamma x5 r5', 200);
SELECT * FROM pg_embed_bm25_search('corpus', 'r7 x7', max_results => 3);
SELECT count(*) FROM pg_embed_bm25_search('corpus', 'alpha', max_results => 0);
SELECT count(*) FROM pg_embed_bm25_search('corpus', NULL);

-- Writes keep the statistics: INSERT, UPDATE (of the text, and of nothing else), DELETE.
INSERT INTO corpus (id, body) VALUES (5001, 'r7 r7 r7 a brand new document'), (5002, NULL);
UPDATE corpus SET body = body || ' gamma' WHERE id BETWEEN 1 AND 100;
UPDATE corpus SET id = id WHERE id BETWEEN 1 AND 10;
DELETE FROM corpus WHERE id % 10 = 0;
-- MERGE (delete, update and insert in one statement) and INSERT ... ON CONFLICT DO UPDATE.
CREATE TEMP TABLE incoming (id int, body text);
INSERT INTO incoming VALUES (1, NULL), (2, 'merged r7 text'), (9001, 'merged new row');
MERGE INTO corpus c USING incoming i ON c.id = i.id
  WHEN MATCHED AND i.body IS NULL THEN DELETE
  WHEN MATCHED THEN UPDATE SET body = i.body
  WHEN NOT MATCHED THEN INSERT (id, body) VALUES (i.id, i.body);
INSERT INTO corpus (id, body) VALUES (3, 'upserted'), (9002, 'inserted') ON CONFLICT (id) DO UPDATE SET body = excluded.body;
SELECT documents, terms, change_rows FROM pg_embed_bm25_indexes;
SELECT * FROM pg_embed_bm25_check('corpus');
SELECT a.* FROM unnest(ARRAY['r7', 'gamma brand', 'alpha beta gamma r123 x23']) q, agrees(q) a;

-- Many small statements: their rows of changes are folded now and then.
DO $$ BEGIN FOR i IN 1..100 LOOP INSERT INTO corpus (id, body) VALUES (6000 + i, 'r7 single ' || i); END LOOP; END $$;
SELECT documents, change_rows <= 65 AS folded FROM pg_embed_bm25_indexes;
SELECT consistent FROM pg_embed_bm25_check('corpus');
SELECT * FROM agrees('r7 single');
-- A statement that names more than 1,000 terms (a bulk load) is folded at once.
SELECT change_rows AS before_bulk FROM pg_embed_bm25_indexes;
INSERT INTO corpus (id, body) SELECT 20000 + i, 'bulk w' || i FROM generate_series(1, 1200) i;
SELECT change_rows AS after_bulk, distinct_terms FROM pg_embed_bm25_indexes;
SELECT consistent FROM pg_embed_bm25_check('corpus');
DELETE FROM corpus WHERE id > 20000;

-- Transactional: a search sees the statistics of the rows it sees.
BEGIN;
INSERT INTO corpus (id, body) SELECT 7000 + i, 'zeta zeta ' || i FROM generate_series(1, 50) i;
SELECT documents FROM pg_embed_bm25_indexes;
SELECT * FROM agrees('zeta r7');
ROLLBACK;
SELECT documents, consistent FROM pg_embed_bm25_indexes, pg_embed_bm25_check('corpus');
SELECT count(*) FROM pg_embed_bm25_search('corpus', 'zeta');

-- Under REPEATABLE READ the writer does not fold (that could fail its later statements).
BEGIN ISOLATION LEVEL REPEATABLE READ;
DO $$ BEGIN FOR i IN 1..80 LOOP DELETE FROM corpus WHERE id = 6000 + i; END LOOP; END $$;
SELECT change_rows > 65 AS not_folded FROM pg_embed_bm25_indexes;
COMMIT;
SELECT consistent FROM pg_embed_bm25_check('corpus');

-- TRUNCATE empties them.
CREATE TABLE corpus_copy AS SELECT id, body FROM corpus;
TRUNCATE corpus;
SELECT documents, terms, distinct_terms FROM pg_embed_bm25_indexes;
SELECT count(*) FROM pg_embed_bm25_search('corpus', 'alpha');
INSERT INTO corpus (id, body) SELECT id, body FROM corpus_copy;
SELECT consistent FROM pg_embed_bm25_check('corpus');

-- Statistics lost (e.g. a data-only restore with triggers disabled): the search says so, and
-- pg_embed_bm25_recount counts them again.
ALTER TABLE corpus DISABLE TRIGGER pg_embed_bm25_insert_terms;
SELECT count(*) FROM pg_embed_bm25_search('corpus', 'alpha');
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE corpus ENABLE ALWAYS TRIGGER pg_embed_bm25_insert_terms;
DELETE FROM pg_embed_bm25_totals;
SELECT count(*) FROM pg_embed_bm25_search('corpus', 'alpha');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_bm25_recount('corpus');
SELECT consistent FROM pg_embed_bm25_check('corpus');

-- Mistakes, each with its SQLSTATE and a hint.
SELECT pg_embed_bm25_register('corpus');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_bm25_register('corpus', 'body');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_bm25_register('corpus', 'no_such');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE parted (id int, terms text[]) PARTITION BY RANGE (id);
SELECT pg_embed_bm25_register('parted');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE other (id int PRIMARY KEY, body text, terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body, 'words')) STORED);
SELECT pg_embed_bm25_register('other', tokenizer => 'stemmed');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_bm25_register('other', k1 => -1);
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_bm25_register('other', b => 2);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_bm25_search('other', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_bm25_search('corpus', 'x', max_results => -1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pg_embed_bm25_register('other', tokenizer => 'words', k1 => 2.0, b => 0.5);
INSERT INTO other VALUES (1, 'parse_json parse json');
SELECT * FROM pg_embed_bm25_search('other', 'parse_json');
SELECT * FROM pg_embed_bm25_search('corpus', 'x', terms_column => 'body');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_bm25_unregister('other');
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid = 'other'::regclass;
SELECT count(*) AS rows_left FROM pg_embed_bm25_totals WHERE relation = 'other'::regclass;
-- Its terms are generated with the 'words' tokenizer: registering it as 'code' is refused.
SELECT pg_embed_bm25_register('other');
\echo :LAST_ERROR_SQLSTATE
-- A registration whose triggers are gone is not used, and registering again replaces it.
SELECT pg_embed_bm25_register('other', tokenizer => 'words');
DROP TRIGGER pg_embed_bm25_insert_terms ON other;
SELECT * FROM pg_embed_bm25_search('other', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT documents FROM pg_embed_bm25_register('other', tokenizer => 'words');
SELECT pg_embed_bm25_triggers('other', 'terms');
-- A fifth trigger calling pg_embed_bm25_count, even with the transition table: writes through
-- it are refused (they would count twice), and so is the search.
CREATE TRIGGER zz AFTER INSERT ON other REFERENCING NEW TABLE AS pg_embed_bm25_new
    FOR EACH STATEMENT EXECUTE FUNCTION pg_embed_bm25_count('terms');
INSERT INTO other VALUES (3, 'counted twice?');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM pg_embed_bm25_search('other', 'x');
\echo :LAST_ERROR_SQLSTATE
DROP TRIGGER zz ON other;
SELECT consistent FROM pg_embed_bm25_check('other');
-- One of them replaced in place so that it never fires (what the TRIGGER privilege allows):
-- the search refuses until the owner registers the column again.
CREATE OR REPLACE TRIGGER pg_embed_bm25_insert_terms AFTER INSERT ON other REFERENCING NEW TABLE AS pg_embed_bm25_new
    FOR EACH STATEMENT WHEN (false) EXECUTE FUNCTION pg_embed_bm25_count('terms');
SELECT count(*) FROM pg_embed_bm25_search('other', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT documents FROM pg_embed_bm25_register('other', tokenizer => 'words');
SELECT pg_embed_bm25_triggers('other', 'terms');
-- A registration lost (the table restored without pg_embed's tables): writes go on, with a warning.
DELETE FROM pg_embed_bm25_columns WHERE relation = 'other'::regclass;
INSERT INTO other VALUES (2, 'still written');
SELECT count(*) FROM other;

-- Renaming the terms column: writes go on, the registration goes, with a warning.
CREATE TABLE renamed (id int PRIMARY KEY, body text, terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED);
INSERT INTO renamed (id, body) VALUES (1, 'before the rename');
SELECT documents FROM pg_embed_bm25_register('renamed');
ALTER TABLE renamed RENAME COLUMN terms TO toks;
INSERT INTO renamed (id, body) VALUES (2, 'after the rename');
SELECT count(*) AS registrations FROM pg_embed_bm25_columns WHERE relation = 'renamed'::regclass;
SELECT pg_embed_bm25_unregister('renamed', 'terms');
SELECT documents FROM pg_embed_bm25_register('renamed', 'toks');
-- Dropping the column, or the table, drops its registration, statistics and triggers.
ALTER TABLE renamed DROP COLUMN toks;
SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'renamed'::regclass) AS triggers,
       (SELECT count(*) FROM pg_embed_bm25_columns WHERE relation = 'renamed'::regclass)
       + (SELECT count(*) FROM pg_embed_bm25_totals WHERE relation = 'renamed'::regclass)
       + (SELECT count(*) FROM pg_embed_bm25_df WHERE relation = 'renamed'::regclass) AS rows_left;
ALTER TABLE renamed ADD COLUMN terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED;
SELECT documents FROM pg_embed_bm25_register('renamed');
-- TRUNCATE under REPEATABLE READ would keep rows of changes committed since its snapshot.
BEGIN ISOLATION LEVEL REPEATABLE READ;
TRUNCATE renamed;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
DROP TABLE renamed;
SELECT (SELECT count(*) FROM pg_embed_bm25_columns c WHERE NOT EXISTS (SELECT FROM pg_class r WHERE r.oid = c.relation))
       + (SELECT count(*) FROM pg_embed_bm25_totals t WHERE NOT EXISTS (SELECT FROM pg_class r WHERE r.oid = t.relation))
       + (SELECT count(*) FROM pg_embed_bm25_df f WHERE NOT EXISTS (SELECT FROM pg_class r WHERE r.oid = f.relation)) AS rows_of_dropped_tables;
-- Not pg_embed's own tables; not a column whose name leaves no room for the triggers' names.
SELECT pg_embed_bm25_register('pg_embed_bm25_totals', 'term_names');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE long_names (id int, a_terms_column_whose_name_is_longer_than_forty text[]);
SELECT pg_embed_bm25_register('long_names', 'a_terms_column_whose_name_is_longer_than_forty');
\echo :LAST_ERROR_SQLSTATE
DROP TABLE long_names;
-- Registering inside a subtransaction (a savepoint, psql's ON_ERROR_ROLLBACK) works.
CREATE TABLE in_savepoint (id int PRIMARY KEY, terms text[]);
BEGIN;
SAVEPOINT s;
SELECT documents FROM pg_embed_bm25_register('in_savepoint');
RELEASE SAVEPOINT s;
COMMIT;
SELECT pg_embed_bm25_triggers('in_savepoint', 'terms');
DROP TABLE in_savepoint;
-- The owner's stamp on the insert trigger is spent once the count is stored: later in the same
-- transaction (a trigger someone else wrote, say) no count can be stored with it.
BEGIN;
SELECT documents FROM pg_embed_bm25_recount('corpus');
SELECT pg_embed_bm25_store('corpus', 'terms', 1, 1, '{}', '{}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT obj_description(oid, 'pg_trigger') FROM pg_trigger WHERE tgrelid = 'corpus'::regclass AND tgname = 'pg_embed_bm25_insert_terms';
-- Not a temporary table, a partition or an inheritance child; a table that becomes part of an
-- inheritance tree after it was registered is not searched (writes through the parent would
-- not fire its triggers).
CREATE TEMP TABLE temp_terms (id int, terms text[]);
SELECT pg_embed_bm25_register('temp_terms');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE parted2 (id int, terms text[]) PARTITION BY RANGE (id);
CREATE TABLE parted2_1 PARTITION OF parted2 FOR VALUES FROM (0) TO (100);
SELECT pg_embed_bm25_register('parted2_1');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE base (id int PRIMARY KEY, terms text[]);
SELECT documents FROM pg_embed_bm25_register('base');
CREATE TABLE kid () INHERITS (base);
SELECT count(*) FROM pg_embed_bm25_search('base', 'pear');
\echo :LAST_ERROR_SQLSTATE
DROP TABLE kid, base, parted2, temp_terms;
-- Row-level security on the table: the statistics count every row, so a role the policies
-- restrict sees none of them, and its search says why.
CREATE ROLE bm25_tenant LOGIN;
CREATE TABLE tenant_docs (id int PRIMARY KEY, body text, terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED);
INSERT INTO tenant_docs (id, body) VALUES (1, 'public words'), (2, 'hidden acquisition target');
SELECT documents FROM pg_embed_bm25_register('tenant_docs');
ALTER TABLE tenant_docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_first ON tenant_docs FOR SELECT TO bm25_tenant USING (id = 1);
GRANT SELECT ON tenant_docs TO bm25_tenant;
SET ROLE bm25_tenant;
SELECT count(*) AS rows_seen, (SELECT count(*) FROM pg_embed_bm25_df WHERE relation = 'tenant_docs'::regclass) AS df_rows,
       (SELECT count(*) FROM pg_embed_bm25_indexes WHERE relation = 'tenant_docs'::regclass) AS indexes_rows
  FROM tenant_docs;
SELECT count(*) FROM pg_embed_bm25_search('tenant_docs', 'acquisition');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) FROM pg_embed_bm25_search('tenant_docs', 'acquisition');
DROP TABLE tenant_docs;
DROP ROLE bm25_tenant;
-- The internal scorer refuses statistics no registered column has.
SELECT pg_embed_bm25_score('{a}', '{a,NULL}', '{1}', 10, 1, 1.2, 0.75);
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_bm25_score('{a}', '{a}', '{1}', 'NaN', 1, 1.2, 0.75);
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_bm25_score('{a}', '{a}', '{-1}', 10, 1, 1.2, 0.75);
\echo :LAST_ERROR_SQLSTATE

-- Hybrid search: BM25 is the text side of a table with a registered column (ranker => NULL).
-- Data: the first 200 answers of the Python FAQ.
CREATE TEMP TABLE raw (n serial, line text);
COPY raw (line) FROM '@data@/faq/corpus.jsonl' WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02');
CREATE TABLE faq (
    id bigint PRIMARY KEY,
    doc text NOT NULL,
    body text NOT NULL,
    terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED,
    embedding vector(384)
);
INSERT INTO faq (id, doc, body)
  SELECT n, line::jsonb ->> '_id', btrim((line::jsonb ->> 'title') || E'\n' || (line::jsonb ->> 'text'), E'\n')
  FROM raw WHERE n <= 200;
SET client_min_messages = warning;
CALL pg_embed_backfill('faq', 'body', 'embedding');
RESET client_min_messages;
CREATE INDEX faq_terms ON faq USING gin (terms);
CREATE INDEX faq_embedding ON faq USING hnsw (embedding vector_cosine_ops);
SELECT documents FROM pg_embed_bm25_register('faq');
ANALYZE faq;
SET enable_seqscan = off;
-- (PostgreSQL 18 adds a line naming the window of each side's ranking.)
SELECT line FROM pg_embed_hybrid_explain('faq', 'Why are Python strings immutable?') line WHERE line NOT LIKE '%Window: %';
RESET enable_seqscan;
-- score = 0.5 / (5 + BM25 rank) + 1 / (5 + vector rank) over the top 100 of each side: k, the
-- text weight and the candidates chosen on the benchmark's code set.
SELECT f.doc, h.text_rank, h.vector_rank, round(h.score::numeric, 5) AS score
  FROM pg_embed_hybrid_search('faq', 'Why are Python strings immutable?', tsvector_column => NULL, max_results => 5) h
  JOIN faq f USING (id) ORDER BY h.score DESC, h.id;
-- The BM25 side is pg_embed_bm25_search's ranking.
SELECT array_agg(id ORDER BY text_rank) = (SELECT array_agg(id) FROM pg_embed_bm25_search('faq', 'Why are Python strings immutable?', max_results => 100))
       AS text_side_is_bm25
  FROM pg_embed_hybrid_search('faq', 'Why are Python strings immutable?', tsvector_column => NULL, max_results => 100, vector_weight => 0);
-- The vector side returns the candidates asked for through HNSW: hnsw.ef_search (40) is raised
-- while the search runs, then put back.
SET enable_seqscan = off;
SELECT count(*) FROM pg_embed_hybrid_search('faq', 'strings', text_weight => 0, candidates => 150, max_results => 1000);
SHOW hnsw.ef_search;
RESET enable_seqscan;
SELECT count(*) FROM pg_embed_hybrid_search('faq', 'strings', ranker => 'ts_rank_cd');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM pg_embed_hybrid_search('faq', 'strings', ranker => 'okapi');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM pg_embed_hybrid_search('faq', 'strings', match => 'all');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM pg_embed_hybrid_search('faq', 'strings', text_weight => 'NaN');
\echo :LAST_ERROR_SQLSTATE

-- A role that owns none of these tables may search them, and change nothing.
CREATE ROLE bm25_intruder LOGIN;
CREATE SCHEMA intruder AUTHORIZATION bm25_intruder;
GRANT SELECT, INSERT, UPDATE ON corpus TO bm25_intruder;
GRANT CREATE ON SCHEMA public TO bm25_intruder;
CREATE TABLE renamed2 (id int PRIMARY KEY, body text, terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED);
SELECT documents FROM pg_embed_bm25_register('renamed2');
ALTER TABLE renamed2 RENAME COLUMN terms TO old_terms;
SET client_min_messages = error;
INSERT INTO renamed2 (id, body) VALUES (1, 'drops the registration');
RESET client_min_messages;
ALTER TABLE renamed2 ADD COLUMN terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED;
GRANT UPDATE ON renamed2 TO bm25_intruder;
SET ROLE bm25_intruder;
SELECT count(*) FROM pg_embed_bm25_search('corpus', 'r7');
-- The terms of a table it may not read (faq) are not shown to it.
SELECT (SELECT count(*) FROM pg_embed_bm25_df WHERE relation = 'faq'::regclass) AS df_rows,
       (SELECT count(*) FROM pg_embed_bm25_totals WHERE relation = 'faq'::regclass) AS totals_rows,
       (SELECT count(*) FROM pg_embed_bm25_indexes WHERE relation = 'faq'::regclass) AS indexes_rows,
       (SELECT count(*) FROM pg_embed_bm25_df WHERE relation = 'corpus'::regclass) > 0 AS sees_corpus;
SELECT pg_embed_bm25_register('corpus', 'terms');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_bm25_recount('corpus');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_bm25_unregister('corpus');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO pg_embed_bm25_totals VALUES ('corpus', 'terms', 1000000, 1);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO pg_embed_bm25_df VALUES ('corpus', 'terms', 'r7', 1000000);
\echo :LAST_ERROR_SQLSTATE
DELETE FROM pg_embed_bm25_df;
DELETE FROM pg_embed_bm25_totals;
UPDATE pg_embed_bm25_columns SET k1 = 100;
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_bm25_fold('corpus', 'terms');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_embed_bm25_count();
\echo :LAST_ERROR_SQLSTATE
-- The steps that write the statistics as the extension's owner check the table's state: a
-- session that has not locked the table against writers, or whose table still has the
-- triggers, gets nothing done.
SELECT pg_embed_bm25_census('corpus', 'terms');
\echo :LAST_ERROR_SQLSTATE
BEGIN;
LOCK TABLE corpus IN SHARE ROW EXCLUSIVE MODE;
SELECT pg_embed_bm25_store('corpus', 'terms', 1, 1, '{r7}', '{1000}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- (It may UPDATE corpus, so it may lock it: still, a working registration is not replaced.)
BEGIN;
LOCK TABLE corpus IN SHARE ROW EXCLUSIVE MODE;
SELECT pg_embed_bm25_adopt('corpus', 'terms', 'words', 1.2, 0.75);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT pg_embed_bm25_forget('corpus', 'terms');
\echo :LAST_ERROR_SQLSTATE
-- No write privilege on the statistics, so no lock that would stall the table's writers.
BEGIN;
LOCK TABLE pg_embed_bm25_totals IN ACCESS EXCLUSIVE MODE;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- Writing to the table through its grant keeps the statistics (the trigger writes them).
INSERT INTO corpus (id, body) VALUES (9101, 'written by the intruder');
-- A registration dropped by a rename leaves the table's triggers; a role that may lock the table
-- still cannot register the new column in the owner's place (the triggers were not enabled by
-- its transaction).
BEGIN;
LOCK TABLE renamed2 IN SHARE ROW EXCLUSIVE MODE;
SELECT pg_embed_bm25_adopt('renamed2', 'terms', 'code', 1e300, 0);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- A trigger made by hand without the transition tables, over a temporary view of their name
-- whose function would run with the extension owner's rights: refused before it is read.
CREATE TEMP TABLE mine (id int, terms text[]);
INSERT INTO pg_embed_bm25_columns VALUES ('pg_temp.mine'::regclass, 'terms', 'code', 1.2, 0.75);
CREATE FUNCTION pg_temp.escalate() RETURNS text[] LANGUAGE plpgsql AS $$ BEGIN ALTER ROLE bm25_intruder SUPERUSER; RETURN '{a}'; END $$;
CREATE TEMP VIEW pg_embed_bm25_new AS SELECT pg_temp.escalate() AS terms;
CREATE TRIGGER forged AFTER INSERT ON mine FOR EACH STATEMENT EXECUTE FUNCTION pg_embed_bm25_count('terms');
INSERT INTO mine VALUES (1, '{a}');
\echo :LAST_ERROR_SQLSTATE
DROP TABLE mine;
-- An overload of the fold in the extension's schema, closer to the type the trigger has at hand
-- (oid): the trigger calls its own (a bulk write folds at once).
CREATE FUNCTION public.pg_embed_bm25_fold(relation oid, terms_column name) RETURNS void LANGUAGE plpgsql
    AS $$ BEGIN ALTER ROLE bm25_intruder SUPERUSER; END $$;
INSERT INTO corpus (id, body) SELECT 30000 + i, 'overload w' || i FROM generate_series(1, 1100) i;
-- Its own table with an index whose predicate calls its function: PostgreSQL may run that
-- function while planning a query on the table, so the table is only ever counted as the caller.
CREATE FUNCTION intruder.escalate() RETURNS void LANGUAGE plpgsql AS
  $$ BEGIN IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN ALTER ROLE bm25_intruder SUPERUSER; END IF; END $$;
CREATE FUNCTION intruder.always() RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM intruder.escalate(); RETURN true; END $$;
CREATE TABLE intruder.planned (id int, body text, terms text[] GENERATED ALWAYS AS (pg_embed_bm25_terms(body)) STORED);
CREATE INDEX ON intruder.planned (id) WHERE intruder.always();
CREATE STATISTICS intruder.planned_stats ON (id + 1), id FROM intruder.planned;
INSERT INTO intruder.planned (id, body) VALUES (1, 'planned');
SELECT documents FROM pg_embed_bm25_register('intruder.planned');
SELECT documents FROM pg_embed_bm25_recount('intruder.planned');
-- Its own table, registered, then its terms column changed to a type whose functions it could
-- write: the trigger, which runs as the extension's owner, refuses to read it.
CREATE TABLE intruder.own (id int, terms text[]);
SELECT documents FROM pg_embed_bm25_register('intruder.own');
INSERT INTO intruder.own VALUES (1, '{a,b}');
ALTER TABLE intruder.own ALTER COLUMN terms TYPE varchar[];
INSERT INTO intruder.own VALUES (2, '{a}');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT rolsuper FROM pg_roles WHERE rolname = 'bm25_intruder';
DELETE FROM corpus WHERE id > 30000;
SELECT count(*) AS registrations FROM pg_embed_bm25_columns WHERE relation = 'renamed2'::regclass;
DROP TABLE renamed2;
SELECT consistent FROM pg_embed_bm25_check('corpus');
SELECT k1 FROM pg_embed_bm25_columns WHERE relation = 'corpus'::regclass;
SELECT documents, terms FROM pg_embed_bm25_indexes WHERE relation = 'intruder.own'::regclass;
DROP SCHEMA intruder CASCADE;
DROP OWNED BY bm25_intruder;
DROP ROLE bm25_intruder;
