-- pg_embed_chunks: a text cut into chunks that fit a model, with their text.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

COMMENT ON FUNCTION pg_embed_chunk_spans(text, int, int, text, text) IS
  'Internal: where the chunks of a text lie (chunk, start_pos, length in characters, tokens); pg_embed_chunks adds their text.';

-- Every name is qualified instead of a fixed search_path, so that the planner can inline it.
CREATE FUNCTION pg_embed_chunks(body text, max_tokens int DEFAULT NULL, overlap int DEFAULT 0,
                                model text DEFAULT NULL, kind text DEFAULT 'auto')
RETURNS TABLE (chunk int, start_pos int, length int, tokens int, content text)
LANGUAGE sql STABLE PARALLEL SAFE ROWS 10 AS $$
    SELECT s.chunk, s.start_pos, s.length, s.tokens, pg_catalog.substr($1, s.start_pos, s.length)
      FROM @extschema@.pg_embed_chunk_spans($1, $2, $3, $4, $5) s
$$;
COMMENT ON FUNCTION pg_embed_chunks(text, int, int, text, text) IS
  'Cuts a text into chunks of at most max_tokens of the model''s tokens (special tokens included; NULL: the model''s limit), consecutive chunks sharing about overlap tokens. Chunks end at paragraphs, sentences and words (kind prose) or before definitions and at lines (code); auto asks the detector. model NULL: the model embed_auto would use. Returns chunk (from 1), start_pos and length (characters, as substr counts), tokens and the chunk''s text. STABLE.';
