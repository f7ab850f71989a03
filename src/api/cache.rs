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

extension_sql_file!(
    "../sql/cache_table.sql",
    name = "cache_table",
    requires = ["user_models_table"],
);

extension_sql_file!(
    "../sql/cache_functions.sql",
    name = "cache_sql",
    requires = [pg_embed_cache_clear, pg_embed_cache_usage, pg_embed_cache_store, "cache_table"],
);
