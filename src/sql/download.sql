-- Downloads from the hub: superuser only.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

REVOKE ALL ON FUNCTION pg_embed_download(text) FROM PUBLIC;
COMMENT ON FUNCTION pg_embed_download(text) IS
  'Downloads a model''s files from the hub (pg_embed.hub_endpoint) into pg_embed.model_dir/<name>/, checking SHA-256 and installing atomically. Superuser only, and only while pg_embed.allow_download is on.';
