-- Ensembles: the projection table, its grants, and comments.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

CREATE SEQUENCE pg_embed_projection_version;
CREATE TABLE pg_embed_projections (
    model text NOT NULL,
    reference text NOT NULL,
    method text NOT NULL CHECK (method IN ('procrustes', 'least_squares')),
    dims_in int NOT NULL CHECK (dims_in > 0),
    dims_out int NOT NULL CHECK (dims_out > 0),
    matrix real[] NOT NULL
        CHECK (array_ndims(matrix) = 1 AND cardinality(matrix) = dims_in * dims_out AND array_position(matrix, NULL) IS NULL),
    sample text NOT NULL,
    sample_rows int NOT NULL,
    precision text NOT NULL,
    mean_cosine_before float8,
    mean_cosine_after float8 NOT NULL,
    mean_cosine_held_out float8,
    version bigint NOT NULL DEFAULT nextval('pg_embed_projection_version'),
    learned_at timestamptz NOT NULL DEFAULT now(),
    learned_by name NOT NULL DEFAULT current_user,
    PRIMARY KEY (model, reference),
    CHECK (model <> reference)
);
COMMENT ON TABLE pg_embed_projections IS 'Projections of one model''s vectors into another''s space, learned by pg_embed_learn_projection() and used by embed_ensemble(); matrix is dims_in rows of dims_out values (y = x W).';
SELECT pg_catalog.pg_extension_config_dump('pg_embed_projections', '');
SELECT pg_catalog.pg_extension_config_dump('pg_embed_projection_version', '');
GRANT SELECT ON pg_embed_projections TO PUBLIC;
GRANT INSERT, UPDATE, DELETE ON pg_embed_projections TO embed_admin;
GRANT USAGE ON SEQUENCE pg_embed_projection_version TO embed_admin;
-- Learning writes the table; refuse other roles before they spend minutes embedding a sample.
REVOKE ALL ON FUNCTION pg_embed_learn_projection(text, text, text, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_embed_learn_projection(text, text, text, integer, text) TO embed_admin;

COMMENT ON FUNCTION embed_ensemble(text, text[], real[]) IS
  'Embeds a text with every listed model, maps each vector into the first model''s space with its projection from pg_embed_projections, and returns the weighted sum (weights NULL: equal), L2-normalised, with the first model''s dimensions. NULL text or models in, NULL out.';
COMMENT ON FUNCTION pg_embed_learn_projection(text, text, text, integer, text) IS
  'Learns how to map model''s vectors into reference''s space (method procrustes or least_squares) from the texts in the first column of the sample query (at most sample_size), and stores it in pg_embed_projections. Returns the mean cosine to the reference before, after (in-sample) and on a held-out fifth of the sample. Needs INSERT and UPDATE on that table (superusers, embed_admin).';
