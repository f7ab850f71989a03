//! Per-backend model state: which models this backend holds, under its memory limit.
//!
//! A backend is single-threaded, so a `thread_local!` cache holds the loaded models without
//! locks. Models load on first use, after the fork, never in _PG_init. What a model costs is
//! measured (resident memory growth while it loads, plus growth while it runs, which is ONNX
//! Runtime's arena), and the least recently used models are evicted, with a NOTICE, to keep
//! the total under `pg_embed.memory_limit`. The fallback model is never evicted to make room.

mod models;
pub mod projections;
pub mod routing;

use std::cell::RefCell;

use pg_embed_engine::cache::LruCache;
use pg_embed_engine::memory::{release_free_memory, resident_bytes};
use pg_embed_engine::model::Embedded;
use pg_embed_engine::{Embedder, EngineError, LoadOptions, ModelSpec, Precision};

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

use crate::gucs;
pub use models::{all_specs, extension_schema, register, resolve};

/// The model `embed_doc` uses.
pub const DOC_MODEL: &str = "all-MiniLM-L6-v2";

thread_local! {
    static CACHE: RefCell<LruCache<Embedder>> = RefCell::new(LruCache::new());
}

fn load_options(spec: &ModelSpec) -> LoadOptions {
    LoadOptions {
        model_dir: gucs::model_dir(),
        runtime_library: gucs::onnxruntime_library(),
        precision: gucs::precision_for(spec),
        session: gucs::session_options(),
    }
}

pub const MB: u64 = 1 << 20;

thread_local! {
    /// NOTICEs raised while the cache is borrowed, sent once the borrow is released: sending a
    /// NOTICE can process a pending cancel, which would jump past the borrow's release.
    static PENDING: RefCell<Vec<(String, String, Option<String>)>> = const { RefCell::new(Vec::new()) };
}

fn defer_notice(message: String, detail: String, hint: Option<String>) {
    PENDING.with(|p| p.borrow_mut().push((message, detail, hint)));
}

/// Sends the deferred NOTICEs. Call only with no RefCell of this module borrowed.
fn flush_notices() {
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    for (message, detail, hint) in pending {
        let mut r = ErrorReport::new(PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION, message, "pg_embed").set_detail(detail);
        if let Some(h) = hint {
            r = r.set_hint(h);
        }
        r.report(PgLogLevel::NOTICE);
    }
}

/// Reports evictions (their values are already dropped) and returns the memory to the OS.
fn notice_evicted(evicted: &[pg_embed_engine::cache::Evicted], why: &str) {
    if !evicted.is_empty() {
        release_free_memory();
    }
    for e in evicted {
        defer_notice(
            format!("pg_embed: unloaded model \"{}\" {why}", e.name),
            format!("It held {} MB of this backend's memory.", e.bytes.div_ceil(MB)),
            None,
        );
    }
}

/// Loads `spec` into the cache, evicting least recently used models first if needed.
fn load(cache: &mut LruCache<Embedder>, spec: &ModelSpec, opts: &LoadOptions) -> Result<(), EngineError> {
    let limit = gucs::memory_limit_bytes();
    // Load ONNX Runtime first so the library itself is not charged to a model.
    pg_embed_engine::ortlib::ensure_loaded(&opts.runtime_library)?;
    // Before loading, the file size is the best estimate of what the model will take.
    let estimate = pg_embed_engine::files::find(spec, &opts.model_dir, spec.onnx_file(opts.precision))
        .and_then(|f| std::fs::metadata(f).ok())
        .map_or(0, |m| m.len());
    let too_big = |held: u64, need: u64| EngineError::MemoryLimit {
        model: spec.name.clone(),
        need_mb: need.div_ceil(MB),
        limit_mb: limit / MB,
        held_mb: held / MB,
    };
    // The fallback setting decides what is pinned now (a model pinned under an earlier value is not).
    cache.pin_only(gucs::fallback_model().as_deref());
    let evicted = cache.make_room(estimate, limit, None).map_err(|held| too_big(held, estimate))?;
    notice_evicted(&evicted, "to stay under pg_embed.memory_limit");
    let before = resident_bytes();
    let embedder = Embedder::load(spec, opts)?;
    let bytes = resident_bytes().saturating_sub(before).max(estimate / 4);
    if bytes > limit {
        drop(embedder);
        return Err(too_big(0, bytes));
    }
    cache.insert(&spec.name, embedder, bytes);
    cache.pin_only(gucs::fallback_model().as_deref());
    // The measured size may exceed the estimate: evict more if the total is now over.
    enforce_limit(cache, &spec.name);
    Ok(())
}

/// Evicts least recently used models (never `keep`, never pinned ones) while over the limit.
fn enforce_limit(cache: &mut LruCache<Embedder>, keep: &str) {
    let limit = gucs::memory_limit_bytes();
    if cache.held() > limit {
        if let Ok(evicted) = cache.make_room(0, limit, Some(keep)) {
            notice_evicted(&evicted, "to stay under pg_embed.memory_limit");
        }
    }
}

/// Embeds `texts` with model `name`, loading it first if this backend does not hold it (or
/// holds it at another precision or thread count than the settings now ask for).
pub fn embed(name: &str, texts: &[&str]) -> Result<Embedded, EngineError> {
    let spec = resolve(name)?;
    let opts = load_options(&spec);
    let out = embed_in_cache(name, &spec, &opts, texts);
    flush_notices();
    out
}

fn embed_in_cache(name: &str, spec: &ModelSpec, opts: &LoadOptions, texts: &[&str]) -> Result<Embedded, EngineError> {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let stale = cache.peek(name).is_some_and(|m| m.precision() != opts.precision || *m.session_options() != opts.session);
        if stale {
            cache.remove(name);
            release_free_memory();
        }
        if !cache.contains(name) {
            load(&mut cache, spec, opts)?;
        }
        let before = resident_bytes();
        let limits = gucs::run_limits();
        let out = cache.get_mut(name).expect("loaded above").embed_with(texts, limits, gucs::input_policy(), &mut || {
            pgrx::check_for_interrupts!();
        })?;
        if out.truncated > 0 {
            notice_truncated(spec, out.truncated);
        }
        // Growth while running is the arena keeping its largest batch: charge it to the model.
        let grown = resident_bytes().saturating_sub(before);
        if grown > 0 {
            cache.add_bytes(name, grown);
            enforce_limit(&mut cache, name);
        }
        Ok(out)
    })
}

thread_local! {
    /// Start time of the statement that last reported a truncation: one NOTICE per statement.
    static TRUNCATION_REPORTED: std::cell::Cell<i64> = const { std::cell::Cell::new(i64::MIN) };
}

/// Truncation is never silent, but an INSERT ... SELECT of a million rows must not print a
/// million NOTICEs: the first truncation of each statement is reported.
fn notice_truncated(spec: &ModelSpec, count: usize) {
    // SAFETY: reads the current statement's start time; no preconditions.
    let statement = unsafe { pgrx::pg_sys::GetCurrentStatementStartTimestamp() };
    if TRUNCATION_REPORTED.with(|r| r.replace(statement)) == statement {
        return;
    }
    defer_notice(
        format!("pg_embed: text truncated to the first {} tokens of model \"{}\"", spec.max_tokens, spec.name),
        format!("{count} text(s) in this call were longer; further truncations in this statement are not reported."),
        Some("SET pg_embed.long_text = 'window' embeds whole texts; 'error' refuses long ones.".into()),
    );
}

/// What this backend holds of a model: `(precision, bytes)`.
pub fn loaded(name: &str) -> Option<(Precision, u64)> {
    CACHE.with(|c| {
        let c = c.borrow();
        Some((c.peek(name)?.precision(), c.bytes_of(name)?))
    })
}

/// Unloads one model, or all with `None`; returns how many were unloaded.
pub fn unload(name: Option<&str>) -> i64 {
    let n = CACHE.with(|c| {
        let mut c = c.borrow_mut();
        match name {
            Some(n) => i64::from(c.remove(n).is_some()),
            None => c.clear().len() as i64,
        }
    });
    release_free_memory();
    n
}

/// Names of loaded models, least recently used first.
pub fn lru_order() -> Vec<String> {
    CACHE.with(|c| c.borrow().names_by_age())
}

/// Bytes held by all models this backend has loaded.
pub fn held_bytes() -> u64 {
    CACHE.with(|c| c.borrow().held())
}
