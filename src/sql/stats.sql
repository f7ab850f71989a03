-- Usage statistics: the view, grants and comments.
-- Part of pg_embed's install script (see the extension_sql_file! that names this file).

CREATE VIEW pg_embed_stats AS SELECT * FROM pg_embed_stats_rows();
GRANT SELECT ON pg_embed_stats TO PUBLIC;
COMMENT ON VIEW pg_embed_stats IS
  'Embedding calls per model and precision since the last pg_embed_stats_reset(): counts, time, latency percentiles (log buckets, within 9%), loads, evictions, errors, truncations, cache hits. scope is cluster when pg_embed is in shared_preload_libraries, backend (this session only) otherwise.';
COMMENT ON FUNCTION pg_embed_stats_rows() IS 'The rows of the pg_embed_stats view.';
REVOKE ALL ON FUNCTION pg_embed_stats_reset() FROM PUBLIC;
COMMENT ON FUNCTION pg_embed_stats_reset() IS
  'Forgets all pg_embed statistics (the whole cluster''s when shared, else this backend''s). Superusers only unless granted.';
