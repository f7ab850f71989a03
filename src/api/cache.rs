//! The embedding cache's SQL surface: the shared table and a function to empty this backend's
//! memory cache. The lookups themselves happen in every embedding call (runtime::cache).

use pgrx::prelude::*;

use crate::runtime::cache;

/// Empties this backend's memory cache; returns how many vectors it held.
#[pg_extern(volatile, parallel_unsafe)]
fn pg_embed_cache_clear() -> i64 {
    cache::clear_memory() as i64
}

/// (entries, bytes) this backend's memory cache holds.
#[pg_extern(volatile, parallel_restricted)]
fn pg_embed_cache_usage() -> TableIterator<'static, (name!(entries, i64), name!(bytes, i64))> {
    let (entries, bytes) = cache::memory_usage();
    TableIterator::once((entries as i64, bytes as i64))
}

extension_sql!(
    r#"
CREATE TABLE pg_embed_cache (
    key bytea NOT NULL,
    model text NOT NULL,
    precision text NOT NULL,
    model_files text NOT NULL,
    embedding real[] NOT NULL,
    created timestamptz NOT NULL DEFAULT now()
);
-- Not unique on purpose: inserts never wait for each other (see README, Embedding cache).
CREATE INDEX pg_embed_cache_key ON pg_embed_cache (key);
COMMENT ON TABLE pg_embed_cache IS
  'Embeddings shared by all backends when pg_embed.persistent_cache is read or write. key is SHA-256 of model, precision, model_files (identity of the files the vector came from), pg_embed.long_text and the text.';
REVOKE ALL ON pg_embed_cache FROM PUBLIC;
GRANT SELECT, INSERT, DELETE, TRUNCATE ON pg_embed_cache TO embed_admin;
"#,
    name = "cache_table",
    requires = ["user_models_table"],
);

extension_sql!(
    r#"
COMMENT ON FUNCTION pg_embed_cache_clear() IS 'Empties this backend''s embedding cache (pg_embed.cache_size); returns how many vectors it held.';
COMMENT ON FUNCTION pg_embed_cache_usage() IS 'Entries and bytes this backend''s embedding cache holds.';
"#,
    name = "cache_sql",
    requires = [pg_embed_cache_clear, pg_embed_cache_usage],
);
