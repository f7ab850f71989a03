-- The shared embedding cache table.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

CREATE TABLE pg_embed_cache (
    key bytea NOT NULL,
    model text NOT NULL,
    precision text NOT NULL,
    model_files text NOT NULL,
    embedding real[] NOT NULL,
    created timestamptz NOT NULL DEFAULT now()
);
-- Written only by pg_embed_cache_store(), never by an embedding call, so a unique key costs
-- no waits inside embedding functions.
CREATE UNIQUE INDEX pg_embed_cache_key ON pg_embed_cache (key);
COMMENT ON TABLE pg_embed_cache IS
  'Embeddings shared by all backends when pg_embed.persistent_cache is read or write. key is SHA-256 of model, precision, model_files (identity of the files the vector came from), pg_embed.long_text and the text.';
REVOKE ALL ON pg_embed_cache FROM PUBLIC;
-- embed_admin may read and empty the table, not write rows of its own choosing.
GRANT SELECT, DELETE, TRUNCATE ON pg_embed_cache TO embed_admin;
