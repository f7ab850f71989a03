-- Tables and roles every other part needs first: the user-model table and the embed_admin role.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

CREATE TABLE pg_embed_user_models (
    name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$'),
    dims int NOT NULL CHECK (dims BETWEEN 1 AND 16000),
    pooling text NOT NULL DEFAULT 'mean' CHECK (pooling IN ('mean', 'cls', 'pooled')),
    pooled_output text NOT NULL DEFAULT 'last_hidden_state',
    max_tokens int NOT NULL DEFAULT 256 CHECK (max_tokens BETWEEN 8 AND 8192),
    role text NOT NULL DEFAULT 'general' CHECK (role IN ('code', 'doc', 'general')),
    -- File names are one path component inside the model's folder, however the row is
    -- written (pg_embed_register_model checks the same): nothing outside can be read or hashed.
    fp32_file text NOT NULL DEFAULT 'model.onnx' CHECK (fp32_file ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$'),
    int8_file text NOT NULL DEFAULT '' CHECK (int8_file ~ '^([A-Za-z0-9_-][A-Za-z0-9._-]{0,99})?$'),
    tokenizer_file text NOT NULL DEFAULT 'tokenizer.json' CHECK (tokenizer_file ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$'),
    int8_safe boolean NOT NULL DEFAULT false,
    query_prefix text NOT NULL DEFAULT '',
    document_prefix text NOT NULL DEFAULT '',
    repo text NOT NULL DEFAULT '' CHECK (repo ~ '^([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)?$' AND repo !~ '(^|/)\.\.?(/|$)'),
    revision text NOT NULL DEFAULT '' CHECK (revision ~ '^[A-Za-z0-9_.%-]*$' AND revision !~ '^\.\.?$'),
    license text NOT NULL DEFAULT '',
    registered_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pg_embed_user_models IS 'Models registered with pg_embed_register_model(); their files are in pg_embed.model_dir/<name>/.';
SELECT pg_catalog.pg_extension_config_dump('pg_embed_user_models', '');
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'embed_admin') THEN
        CREATE ROLE embed_admin NOLOGIN;
    END IF;
END $$;
GRANT SELECT ON pg_embed_user_models TO PUBLIC;
GRANT INSERT, UPDATE, DELETE ON pg_embed_user_models TO embed_admin;
