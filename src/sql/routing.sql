-- Routing functions: grants and comments.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

REVOKE ALL ON FUNCTION pg_embed_reselect() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_embed_reselect() TO embed_admin;
COMMENT ON FUNCTION embed_code(text) IS 'Embeds source code with the model routing picks for code (the pin in pg_embed_selection, else the first model of pg_embed.code_models whose files are present).';
COMMENT ON FUNCTION embed_auto(text) IS 'Detects whether a text is code or prose and embeds it with that role''s model; store embed_auto_model(text) next to the vector.';
COMMENT ON FUNCTION embed_auto_model(text) IS 'The model embed_auto uses for this text.';
COMMENT ON FUNCTION embed_explain(text) IS 'What embed_auto decides for a text and why: detected content and evidence, preferences, pinned model, what the policy would choose now and the resources it saw.';
COMMENT ON FUNCTION pg_embed_reselect() IS 'Runs model selection again for every role with the current settings and resources, and pins the results for all sessions.';
COMMENT ON FUNCTION embed_code_batch(text[]) IS 'Batched embed_code: rows (ord, embedding) in array order, NULL for NULL elements.';
COMMENT ON FUNCTION embed_auto_batch(text[]) IS 'Batched embed_auto: each element goes to its own role''s model, so rows may differ in dimensions.';
