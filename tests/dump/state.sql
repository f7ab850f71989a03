-- What must survive a dump and restore, as text.
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on
SELECT 'docs ' || count(*) || ' ' || md5(string_agg(t::text, '|' ORDER BY id)) FROM app.docs t;
SELECT 'indexes ' || string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'app';
SELECT 'triggers ' || string_agg(pg_get_triggerdef(oid), '; ') FROM pg_trigger WHERE tgrelid = 'app.docs'::regclass AND NOT tgisinternal;
SELECT 'user-models ' || string_agg(name || ':' || dims || ':' || role || ':' || pooling, ',' ORDER BY name) FROM emb.pg_embed_user_models;
SELECT 'projections ' || string_agg(model || '>' || reference || ':' || md5(matrix::text), ',') FROM emb.pg_embed_projections;
SELECT 'pins ' || string_agg(role || '=' || model || '/' || preferences, ',' ORDER BY role) FROM emb.pg_embed_selection;
SELECT 'routing ' || emb.pg_embed_role_model('code') || ' ' || emb.pg_embed_role_model('doc') || ' ' || emb.pg_embed_role_model('general');
SELECT 'search ' || string_agg(id::text, ',' ORDER BY d, id) FROM (
  SELECT id, embedding <=> emb.embed_doc('how does replication work') AS d FROM app.docs ORDER BY 2, 1 LIMIT 5) s;
