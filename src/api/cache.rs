//! The embedding cache's SQL surface: the shared table and a function to empty this backend's
//! memory cache. The lookups themselves happen in every embedding call (runtime::cache).

use pgrx::prelude::*;

use crate::error::OrRaise;
use crate::runtime::{self, cache};
use crate::text::Text;

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

/// Embeds those of `texts` that the shared cache table lacks, with `model` at the session's
/// precision and long-text mode, and stores them; returns how many rows were added. SECURITY
/// DEFINER (the table is written by no one else) and checks that its caller is a superuser or
/// a member of embed_admin. It computes every vector itself, so a row always holds its text's
/// vector.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn pg_embed_cache_store(model: Text, texts: Array<'_, Text>) -> i64 {
    crate::api::require_embed_admin("pg_embed_cache_store");
    let owned: Vec<String> = texts.iter().flatten().map(|t| t.to_string()).collect();
    let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
    runtime::store_in_table(&model, &refs).or_raise() as i64
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
-- Written only by pg_embed_cache_store(), never by an embedding call, so a unique key costs
-- no waits inside embedding functions.
CREATE UNIQUE INDEX pg_embed_cache_key ON pg_embed_cache (key);
COMMENT ON TABLE pg_embed_cache IS
  'Embeddings shared by all backends when pg_embed.persistent_cache is read or write. key is SHA-256 of model, precision, model_files (identity of the files the vector came from), pg_embed.long_text and the text.';
REVOKE ALL ON pg_embed_cache FROM PUBLIC;
-- embed_admin may read and empty the table, not write rows of its own choosing.
GRANT SELECT, DELETE, TRUNCATE ON pg_embed_cache TO embed_admin;
"#,
    name = "cache_table",
    requires = ["user_models_table"],
);

extension_sql!(
    r#"
ALTER FUNCTION pg_embed_cache_store(text, text[]) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION pg_embed_cache_store(text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_embed_cache_store(text, text[]) TO embed_admin;
COMMENT ON FUNCTION pg_embed_cache_store(text, text[]) IS 'Embeds the texts the shared cache table pg_embed_cache lacks (model at the session''s pg_embed.precision and pg_embed.long_text) and stores them; returns the rows added. Superusers and embed_admin; the only way rows get into the table.';
COMMENT ON FUNCTION pg_embed_cache_clear() IS 'Empties this backend''s embedding cache (pg_embed.cache_size); returns how many vectors it held.';
COMMENT ON FUNCTION pg_embed_cache_usage() IS 'Entries and bytes this backend''s embedding cache holds.';
"#,
    name = "cache_sql",
    requires = [pg_embed_cache_clear, pg_embed_cache_usage, pg_embed_cache_store, "cache_table"],
);
