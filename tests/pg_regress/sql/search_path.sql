-- search_path safety. pg_embed is installed in a schema that is not on the search_path, with
-- pgvector in public; an unprivileged role that may create objects in public (as every role
-- could before PostgreSQL 15, and still can in upgraded databases) plants same-named tables,
-- exact-type overloads of built-in functions and operators, and temporary tables. A superuser
-- then calls every entry point schema-qualified: everything works and nothing planted runs.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE DATABASE pg_embed_sp;
\c pg_embed_sp
SET client_min_messages = warning;
CREATE EXTENSION vector;
CREATE SCHEMA ext;
CREATE EXTENSION pg_embed SCHEMA ext;
RESET client_min_messages;
CREATE ROLE sp_planter LOGIN;
GRANT CREATE ON SCHEMA public TO sp_planter;
-- Whatever planted code runs, as whichever role, leaves a line here.
CREATE TABLE public.planted_log (what text, by_role name DEFAULT current_user);
GRANT INSERT ON public.planted_log TO PUBLIC;
CREATE TABLE public.sp_docs (id int PRIMARY KEY, body text,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', coalesce(body, ''))) STORED,
    embedding vector(384), model_id text);
CREATE TABLE public.sp_vdocs (id int PRIMARY KEY, body varchar, embedding vector(384), model_id text);
INSERT INTO public.sp_vdocs (id, body) VALUES (1, 'a varchar column'), (2, 'another row');
CREATE TABLE public.sp_queries (q text, relevant int[]);
INSERT INTO public.sp_queries VALUES ('How do I clean up dead rows?', '{1}'), ('How are changes sent to a replica?', '{2}');
GRANT SELECT ON public.sp_docs TO sp_planter;

SET ROLE sp_planter;
-- Same-named tables with poisoned rows: a pin for a model that does not exist, a user model.
CREATE TABLE public.pg_embed_selection (role text, model text, preferences text, reason text, chosen_at timestamptz);
INSERT INTO public.pg_embed_selection VALUES ('code', 'planted-model', 'planted', '', now()), ('doc', 'planted-model', 'all-MiniLM-L6-v2', '', now());
CREATE TABLE public.pg_embed_user_models AS SELECT 'planted-model'::text AS name;
CREATE TABLE public.pg_embed_cache (key bytea, embedding real[]);
-- Exact-type overloads, which beat pg_catalog's polymorphic or coerced ones whatever the order.
CREATE FUNCTION public.to_jsonb(public.sp_docs) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('to_jsonb(sp_docs)'); RETURN pg_catalog.to_jsonb($1); END $$;
CREATE FUNCTION public.jsonb_populate_record(public.sp_docs, jsonb) RETURNS public.sp_docs LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('jsonb_populate_record'); RETURN pg_catalog.jsonb_populate_record($1, $2); END $$;
CREATE FUNCTION public.planted_plus(float8, bigint) RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('+(float8, bigint)'); RETURN $1 + $2::float8; END $$;
CREATE OPERATOR public.+ (LEFTARG = float8, RIGHTARG = bigint, FUNCTION = public.planted_plus);
CREATE FUNCTION public.planted_div(float8, bigint) RETURNS float8 LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('/(float8, bigint)'); RETURN $1 / $2::float8; END $$;
CREATE OPERATOR public./ (LEFTARG = float8, RIGHTARG = bigint, FUNCTION = public.planted_div);
CREATE FUNCTION public.format(text, regclass) RETURNS text LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('format(text, regclass)'); RETURN pg_catalog.format($1, $2); END $$;
CREATE FUNCTION public.format(text, name, name) RETURNS text LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('format(text, name, name)'); RETURN pg_catalog.format($1, $2, $3); END $$;
CREATE FUNCTION public.quote_ident(name) RETURNS text LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('quote_ident(name)'); RETURN pg_catalog.quote_ident($1::text); END $$;
CREATE FUNCTION public.md5(varchar) RETURNS text LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('md5(varchar)'); RETURN pg_catalog.md5($1::text); END $$;
CREATE FUNCTION public.hashtextextended(varchar, int) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('hashtextextended'); RETURN 0; END $$;
-- Overloads in pg_embed's own schema (when it is writable by others, as public is in older
-- databases) that fit the argument types better than pg_embed's functions would, if
-- pg_embed's SQL passed arguments of other types than the functions take.
RESET ROLE;
GRANT CREATE ON SCHEMA ext TO sp_planter;
SET ROLE sp_planter;
CREATE FUNCTION ext.pg_embed_check_column(regclass, name, text, text) RETURNS regtype LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('ext.pg_embed_check_column(regclass, name, text, text)'); RETURN NULL; END $$;
CREATE FUNCTION ext.pg_embed_check_column(oid, text, regtype[], text) RETURNS regtype LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('ext.pg_embed_check_column(oid, text, regtype[], text)'); RETURN NULL; END $$;
CREATE FUNCTION ext.embed(varchar, text) RETURNS vector LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('ext.embed(varchar, text)'); RETURN NULL; END $$;
CREATE FUNCTION ext.embed_auto_model(varchar) RETURNS text LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('ext.embed_auto_model(varchar)'); RETURN NULL; END $$;
CREATE FUNCTION ext.pg_embed_role_model(varchar) RETURNS text LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('ext.pg_embed_role_model(varchar)'); RETURN NULL; END $$;
CREATE FUNCTION ext.pg_embed_backfill_key(regclass, text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('ext.pg_embed_backfill_key(regclass, text)'); RETURN 0; END $$;
CREATE FUNCTION ext.pg_embed_backfill_running(integer, regclass, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('ext.pg_embed_backfill_running(integer, regclass, text)'); RETURN false; END $$;
CREATE FUNCTION ext.pg_embed_cache_store(text, varchar[]) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.planted_log (what) VALUES ('ext.pg_embed_cache_store(text, varchar[])'); RETURN 0; END $$;
-- Temporary tables of pg_embed's names: this session's pg_temp comes first for relations.
CREATE TEMP TABLE pg_embed_selection (role text, model text, preferences text, reason text, chosen_at timestamptz);
INSERT INTO pg_temp.pg_embed_selection VALUES ('code', 'planted-model', 'unixcoder-base,codet5p-110m-embedding,all-MiniLM-L6-v2', '', now());
CREATE TEMP TABLE pg_embed_backfill_progress (pid int);
RESET ROLE;

-- The superuser, with the default search_path ("$user", public), calls every entry point.
SELECT vector_dims(ext.embed_doc('Vacuum reclaims storage.')) AS doc,
       vector_dims(ext.embed_code('def f(x):\n    return x')) AS code,
       vector_dims(ext.embed_auto('SELECT 1;')) AS auto,
       ext.embed_auto_model('def f(x):\n    return x') AS auto_model,
       vector_dims(ext.embed('hello', 'all-MiniLM-L6-v2')) AS named,
       vector_dims(ext.embed_fixed('hello', 'all-MiniLM-L6-v2', 'fp32')) AS fixed,
       ext.pg_embed_role_model('code') AS code_model, ext.pg_embed_role_model('doc') AS doc_model,
       ext.pg_embed_model_id('all-MiniLM-L6-v2') LIKE 'all-MiniLM-L6-v2@%' AS model_id;
SELECT count(*) AS batch_rows FROM ext.embed_doc_batch(ARRAY['a', 'b']);
SELECT count(*) AS batch_rows FROM ext.embed_code_batch(ARRAY['x = 1']);
SELECT count(*) AS batch_rows FROM ext.embed_auto_batch(ARRAY['x = 1', 'Some prose here.']);
SELECT count(*) AS batch_rows FROM ext.embed_batch(ARRAY['a'], 'paraphrase-MiniLM-L3-v2');
SELECT ext.embed_explain('x = 1') ->> 'chosen_model' AS explain_model;
SELECT role, model FROM ext.pg_embed_reselect() ORDER BY role;
SELECT role, model FROM ext.pg_embed_selection ORDER BY role;
SELECT ext.pg_embed_register_model('sp-user-model', 384);
SELECT name, source FROM ext.pg_embed_models WHERE source = 'user';
SELECT count(*) > 0 AS stats FROM ext.pg_embed_stats;
SET pg_embed.cache_size = '8MB';
SET pg_embed.persistent_cache = 'write';
SELECT ext.pg_embed_cache_store('all-MiniLM-L6-v2', ARRAY['cached once']) AS stored;
SELECT vector_dims(ext.embed_doc('cached once')) AS cached, vector_dims(ext.embed_doc('cached once')) AS again;
SELECT count(*) AS cache_rows FROM ext.pg_embed_cache;
RESET pg_embed.cache_size;
RESET pg_embed.persistent_cache;
SELECT entries >= 0 AS usage FROM ext.pg_embed_cache_usage();
SELECT ext.pg_embed_cache_clear() >= 0 AS cleared;
SELECT ext.pg_embed_unload('paraphrase-MiniLM-L3-v2') >= 0 AS unloaded;
-- The provenance trigger and the backfill procedure.
CREATE TRIGGER sp_embed BEFORE INSERT OR UPDATE ON public.sp_docs FOR EACH ROW
  EXECUTE FUNCTION ext.pg_embed_provenance_trigger('body', 'embedding', 'model_id');
INSERT INTO public.sp_docs (id, body) VALUES
  (1, 'VACUUM reclaims storage occupied by dead tuples.'),
  (2, 'Streaming replication sends WAL records to a standby server.'),
  (3, 'An index speeds up lookups.');
UPDATE public.sp_docs SET body = body || ' Really.' WHERE id = 3;
SELECT id, model_id = ext.pg_embed_model_id('all-MiniLM-L6-v2') AS stamped FROM public.sp_docs ORDER BY id;
DROP TRIGGER sp_embed ON public.sp_docs;
UPDATE public.sp_docs SET embedding = NULL WHERE id = 2;
SET client_min_messages = warning;
CALL ext.pg_embed_backfill('public.sp_docs', 'body', 'embedding', model_id_column => 'model_id');
RESET client_min_messages;
SELECT count(embedding) AS embedded, bool_and(finished) AS finished FROM public.sp_docs, ext.pg_embed_backfills;
-- A varchar text column, a model id column, and the cache written by the backfill.
SET pg_embed.persistent_cache = 'write';
SET client_min_messages = warning;
CALL ext.pg_embed_backfill('public.sp_vdocs', 'body', 'embedding', model => 'all-MiniLM-L6-v2', model_id_column => 'model_id');
CALL ext.pg_embed_backfill('public.sp_vdocs', 'body', 'embedding', model => 'auto', model_id_column => 'model_id');
RESET client_min_messages;
RESET pg_embed.persistent_cache;
SELECT count(embedding) AS embedded, count(model_id) AS stamped FROM public.sp_vdocs;
CREATE TRIGGER sp_vembed BEFORE INSERT OR UPDATE ON public.sp_vdocs FOR EACH ROW
  EXECUTE FUNCTION ext.pg_embed_provenance_trigger('body', 'embedding', 'model_id', 'doc');
INSERT INTO public.sp_vdocs (id, body) VALUES (3, 'through the trigger');
SELECT count(embedding) AS embedded FROM public.sp_vdocs;
-- Hybrid search and its plans, and the A/B comparison.
SELECT id, text_rank IS NOT NULL AS text_side, vector_rank IS NOT NULL AS vector_side
  FROM ext.pg_embed_hybrid_search('public.sp_docs', 'dead tuples vacuum', max_results => 2) ORDER BY score DESC, id;
SELECT count(*) > 0 AS explained FROM ext.pg_embed_hybrid_explain('public.sp_docs', 'vacuum');
ALTER TABLE public.sp_docs ADD COLUMN embedding_l3 vector(384);
SELECT side, model, n_queries FROM ext.pg_embed_ab_compare('public.sp_docs', 'id', 'body', 'embedding', 'embedding_l3',
    'paraphrase-MiniLM-L3-v2', 'public.sp_queries', 'q', 'relevant');
-- Ensembles.
SELECT sample_rows FROM ext.pg_embed_learn_projection('paraphrase-MiniLM-L3-v2', 'all-MiniLM-L6-v2',
    'SELECT body FROM public.sp_docs', 10);
SELECT vector_dims(ext.embed_ensemble('hello', ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2'])) AS ensemble;

-- A vectorizer: registration, queued writes, the batch the workers run (here by hand), status,
-- pause, resume, retry, removal.
CREATE TABLE public.sp_vz (id int PRIMARY KEY, body text, embedding vector(384), model_id text);
INSERT INTO public.sp_vz VALUES (1, 'Vacuum reclaims storage.'), (2, 'Replication sends changes.');
SELECT ext.pg_embed_vectorize('public.sp_vz', 'body', 'embedding', model_id_column => 'model_id') > 0 AS registered;
INSERT INTO public.sp_vz VALUES (3, 'A third row.');
UPDATE public.sp_vz SET body = 'Changed text.' WHERE id = 1;
SELECT ext.pg_embed_vectorize_batch(v.id) AS taken FROM ext.pg_embed_vectorizers v WHERE v.relation = 'public.sp_vz'::regclass;
SELECT count(embedding) AS embedded, count(model_id) AS stamped,
       bool_and(1 - (embedding OPERATOR(public.<=>) ext.embed_doc(body)) > 0.9999) AS current FROM public.sp_vz;
SELECT relation, pending, failed FROM ext.pg_embed_vectorize_status;
SELECT ext.pg_embed_vectorize_pause('public.sp_vz') AS paused, ext.pg_embed_vectorize_resume('public.sp_vz') AS resumed,
       ext.pg_embed_vectorize_retry('public.sp_vz') AS retried;
SELECT ext.pg_embed_unvectorize('public.sp_vz') AS removed;
-- Nothing planted ran, and the planted rows were never read.
SELECT * FROM public.planted_log;
\c regression
DROP DATABASE pg_embed_sp;
DROP ROLE sp_planter;
