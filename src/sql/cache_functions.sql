-- The cache functions: who may store, and comments.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

ALTER FUNCTION pg_embed_cache_store(text, text[]) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION pg_embed_cache_store(text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_embed_cache_store(text, text[]) TO embed_admin;
COMMENT ON FUNCTION pg_embed_cache_store(text, text[]) IS 'Embeds the texts the shared cache table pg_embed_cache lacks (model at the session''s pg_embed.precision and pg_embed.long_text) and stores them; returns the rows added. Superusers and embed_admin; the only way rows get into the table.';
COMMENT ON FUNCTION pg_embed_cache_clear() IS 'Empties this backend''s embedding cache (pg_embed.cache_size); returns how many vectors it held.';
COMMENT ON FUNCTION pg_embed_cache_usage() IS 'Entries and bytes this backend''s embedding cache holds.';
