//! pg_embed: embeddings inside PostgreSQL with local ONNX models.
//!
//! Layout: `api/` holds every SQL function; `gucs` every setting; `error` turns engine errors
//! into PostgreSQL errors; `runtime` keeps the per-backend model state; `text` reads `text`
//! arguments as UTF-8 in any database encoding; `vector` builds pgvector values. Tokenizing, ONNX Runtime, pooling and the catalog live in the pgrx-free
//! crate `pg_embed_engine` (crates/engine).

::pgrx::pg_module_magic!();

mod api;
mod error;
mod gucs;
mod runtime;
mod text;
mod vector;

/// Registers the settings and, when loaded through shared_preload_libraries, the shared
/// statistics table; nothing else: models and ONNX Runtime are loaded lazily in each backend,
/// after the fork, on first use.
#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::init();
    runtime::stats::init();
}

#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
