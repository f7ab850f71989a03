-- embed_doc: its comment.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

COMMENT ON FUNCTION embed_doc(text) IS
  'Embeds a text with the model routing picks for prose (pg_embed.doc_models or its pin; all-MiniLM-L6-v2, 384 dimensions, by default), L2-normalised; long texts as pg_embed.long_text says. Returns pgvector''s vector; NULL in, NULL out.';
