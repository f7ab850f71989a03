-- The user's objects, as text: rows (with their vectors), triggers and indexes.
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
SELECT 'docs ' || md5(string_agg(t::text, '|' ORDER BY id)) FROM docs t;
SELECT 'kb ' || md5(string_agg(t::text, '|' ORDER BY id)) FROM kb t;
SELECT 'bf ' || md5(string_agg(t::text, '|' ORDER BY id)) FROM bf t;
SELECT 'bf_broken ' || md5(string_agg(t::text, '|' ORDER BY id)) FROM bf_broken t;
SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN ('docs'::regclass, 'kb'::regclass) ORDER BY 1;
SELECT 'index ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid IN ('docs'::regclass, 'kb'::regclass, 'bf'::regclass) ORDER BY 1;
SELECT 'column ' || attrelid::regclass || '.' || attname || ' ' || format_type(atttypid, atttypmod) || ' ' || coalesce(pg_get_expr(adbin, adrelid), '')
  FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
 WHERE attrelid IN ('docs'::regclass, 'kb'::regclass) AND attnum > 0 AND NOT attisdropped ORDER BY 1;
SELECT 'user-models ' || string_agg(name || ':' || dims || ':' || role, ',' ORDER BY name) FROM pg_embed_user_models;
SELECT 'projections ' || string_agg(model || '>' || reference || ':' || md5(matrix::text), ',') FROM pg_embed_projections;
SELECT 'pins ' || string_agg(role || '=' || model, ',' ORDER BY role) FROM pg_embed_selection;
SELECT 'cache ' || count(*) || ' ' || md5(string_agg(key::text || embedding::text, '|' ORDER BY key)) FROM pg_embed_cache;
SELECT 'backfills ' || string_agg(relation::text || ':' || rows_done || ':' || finished, ',' ORDER BY relation::text) FROM pg_embed_backfill_progress;
