-- Routing pins: one model per role per database, written only by pg_embed_reselect().
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

CREATE TABLE pg_embed_selection (
    role text PRIMARY KEY CHECK (role IN ('code', 'doc', 'general')),
    model text NOT NULL,
    preferences text NOT NULL,
    reason text NOT NULL DEFAULT '',
    chosen_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pg_embed_selection IS 'The model pinned for each role by pg_embed_reselect(); a role without a pin (or a session whose preferences differ from the pin''s) uses the first preferred model whose files are present and that fits pg_embed.memory_limit.';
SELECT pg_catalog.pg_extension_config_dump('pg_embed_selection', '');
GRANT SELECT ON pg_embed_selection TO PUBLIC;
GRANT INSERT, UPDATE, DELETE ON pg_embed_selection TO embed_admin;
