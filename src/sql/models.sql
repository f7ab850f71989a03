-- Named models: the pg_embed_models view, the grants of registration, and comments.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

CREATE VIEW pg_embed_models AS SELECT * FROM pg_embed_model_info();
GRANT SELECT ON pg_embed_models TO PUBLIC;
COMMENT ON VIEW pg_embed_models IS 'Every model pg_embed knows: role, dimensions, precisions whose files are present, and what this backend holds (bytes measured, lru_rank 1 = next to evict).';

REVOKE ALL ON FUNCTION pg_embed_register_model(text, integer, text, integer, text, text, text, text, text, boolean, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_embed_register_model(text, integer, text, integer, text, text, text, text, text, boolean, text, text) TO embed_admin;

COMMENT ON FUNCTION embed(text, text) IS
  'Embeds a text with the named model (see pg_embed_models) at the precision pg_embed.precision picks; long texts as pg_embed.long_text says. STABLE: for generated columns and expression indexes use embed_fixed.';
COMMENT ON FUNCTION embed_fixed(text, text, text, text) IS
  'Embeds a text with the named model at the given precision (fp32 or int8) and long-text mode (truncate, error or window), whatever the session settings: IMMUTABLE, for generated columns, expression indexes and statements pushed to other nodes. The model''s files must not change in place.';
COMMENT ON FUNCTION pg_embed_register_model(text, integer, text, integer, text, text, text, text, text, boolean, text, text) IS
  'Registers or replaces a user model whose files are in pg_embed.model_dir/<name>/. Superusers and members of embed_admin only.';
COMMENT ON FUNCTION pg_embed_model_definition(text) IS
  'A model''s definition as JSON: what pg_embed stores as <model_dir>/<name>/pg_embed_model.json next to a user model''s files when it registers one (and the server may write there), so the folder describes its model during a restore or on another node.';
COMMENT ON FUNCTION pg_embed_model_info() IS 'The rows of the pg_embed_models view.';
COMMENT ON FUNCTION pg_embed_unload(text) IS 'Unloads one model from this backend now; returns 1 if it was loaded.';
COMMENT ON FUNCTION pg_embed_unload() IS 'Unloads every model from this backend now; returns how many were loaded.';
