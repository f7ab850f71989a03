-- The BM25 statistics of app.notes and a search, as text.
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
SELECT 'bm25 ' || relation || ' ' || documents || ' ' || terms || ' ' || tokenizer FROM emb.pg_embed_bm25_indexes;
SELECT 'bm25-consistent ' || consistent FROM emb.pg_embed_bm25_check('app.notes');
SELECT 'bm25-search ' || string_agg(id || ':' || round(score::numeric, 9), ',') FROM emb.pg_embed_bm25_search('app.notes', 'vacuum a table');
