-- The batch functions: comments.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

COMMENT ON FUNCTION embed_doc_batch(text[]) IS
  'Embeds each element with the model embed_doc uses; rows (ord, embedding) in array order, NULL for NULL elements. Lazy: works chunk by chunk and can be cancelled between chunks.';
COMMENT ON FUNCTION embed_batch(text[], text) IS
  'Embeds each element with the named model; rows (ord, embedding) in array order, NULL for NULL elements. STABLE: the precision comes from pg_embed.precision.';
