//! pg_embed: embeddings inside PostgreSQL with local ONNX models.
//!
//! Layout: `api/` holds every SQL function; `gucs` every setting; `error` turns engine errors
//! into PostgreSQL errors; `runtime` keeps the per-backend model state; `text` reads `text`
//! arguments as UTF-8 in any database encoding; `vector` builds pgvector values; `workers` are the background workers of the vectorizers. Tokenizing, ONNX Runtime, pooling and the catalog live in the pgrx-free
//! crate `pg_embed_engine` (crates/engine).

::pgrx::pg_module_magic!();

mod api;
mod error;
mod gucs;
mod runtime;
mod text;
mod vector;
mod workers;

/// Registers the settings and, when loaded through shared_preload_libraries, the shared
/// statistics table and the launcher of the vectorize workers; nothing else: models and ONNX Runtime are loaded lazily in each backend,
/// after the fork, on first use.
#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // Errors reach users as SQLSTATE, message, detail and hint, never with a Rust backtrace in
    // the detail (which the error machinery adds when one was captured): capturing is off for
    // this process whatever RUST_BACKTRACE says. Set here, before any thread of ours exists.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    gucs::init();
    runtime::stats::init();
    workers::init();
}

#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
