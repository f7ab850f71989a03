//! Per-backend model state: which models this backend holds, under its memory limit.
//!
//! A backend is single-threaded, so a `thread_local!` cache holds the loaded models without
//! locks. Models load on first use, after the fork, never in _PG_init. What a model costs is
//! measured (resident memory growth while it loads, plus growth while it runs, which is ONNX
//! Runtime's arena), and the least recently used models are evicted, with a NOTICE, to keep
//! the total under `pg_embed.memory_limit`. The fallback model is never evicted to make room.

pub mod cache;
mod memo;
mod models;
pub mod projections;
pub mod routing;
pub mod stats;
pub mod tables;

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Instant;

use pg_embed_engine::cache::LruCache;
use pg_embed_engine::memory::{release_free_memory, resident_bytes};
use pg_embed_engine::model::Embedded;
use pg_embed_engine::stats::{Call, Event};
use pg_embed_engine::vcache::{self, Key};
use pg_embed_engine::batch::RunLimits;
use pg_embed_engine::model::{InputPolicy, LongText};
use pg_embed_engine::session::SessionOptions;
use pg_embed_engine::{Embedder, EngineError, LoadOptions, ModelSpec, Precision};

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

use crate::gucs::{self, PersistentCache};
pub use models::{all_specs, definition, register, resolve};

thread_local! {
    static CACHE: RefCell<LruCache<Embedder>> = RefCell::new(LruCache::new());
}

/// Everything besides the model and the text that decides a vector or how it is computed.
#[derive(Debug, Clone)]
pub struct Settings {
    pub precision: Precision,
    pub policy: InputPolicy,
    pub session: SessionOptions,
    pub limits: RunLimits,
    /// Whether the shared cache table may be read (pg_embed.persistent_cache).
    pub shared_cache: bool,
    /// Whether this backend's vector cache may be used (pg_embed.cache_size).
    pub memory_cache: bool,
}

impl Settings {
    /// What the session's settings say for `spec` (the STABLE functions).
    pub fn current(spec: &ModelSpec) -> Settings {
        Settings {
            precision: gucs::precision_for(spec),
            policy: gucs::input_policy(),
            session: gucs::session_options(),
            limits: gucs::run_limits(),
            shared_cache: true,
            memory_cache: true,
        }
    }

    /// Settings that depend on the arguments alone (the IMMUTABLE entry point): the given
    /// precision and long-text mode, one text per model run, one thread and full graph
    /// optimisation, whatever the session has set, and no cache at all (a cached vector may
    /// have been made under other run settings). Only the size
    /// bound (pg_embed.max_text_size) still comes from the session: it refuses, it never
    /// changes a vector.
    pub fn fixed(precision: Precision, long_text: LongText) -> Settings {
        Settings {
            precision,
            policy: InputPolicy { long_text, ..gucs::input_policy() },
            session: SessionOptions { arena: gucs::session_options().arena, ..SessionOptions::default() },
            limits: RunLimits { max_texts: 1, ..RunLimits::default() },
            shared_cache: false,
            memory_cache: false,
        }
    }
}

fn load_options(settings: &Settings) -> LoadOptions {
    LoadOptions {
        model_dir: gucs::model_dir(),
        runtime_library: gucs::onnxruntime_library(),
        precision: settings.precision,
        session: settings.session.clone(),
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
        use crate::error::for_server;
        let mut r = ErrorReport::new(PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION, for_server(message), "pg_embed")
            .set_detail(for_server(detail));
        if let Some(h) = hint {
            r = r.set_hint(for_server(h));
        }
        r.report(PgLogLevel::NOTICE);
    }
}

/// The precision of every model held, to name it in the statistics once it is evicted.
fn precisions(cache: &LruCache<Embedder>) -> Vec<(String, &'static str)> {
    cache.names_by_age().into_iter().filter_map(|n| Some((n.clone(), cache.peek(&n)?.precision().as_str()))).collect()
}

/// Reports evictions (their values are already dropped) and returns the memory to the OS.
fn notice_evicted(evicted: &[pg_embed_engine::cache::Evicted], held: &[(String, &'static str)], why: &str) {
    if !evicted.is_empty() {
        release_free_memory();
    }
    for e in evicted {
        if let Some((_, precision)) = held.iter().find(|(n, _)| *n == e.name) {
            stats::event(&e.name, precision, Event::Eviction);
        }
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
    // Whether room can be made at all is known before loading; nothing is evicted until the
    // new model has loaded, so a load that fails (missing or corrupt file) costs no other model.
    cache.plan_room(estimate, limit, None).map_err(|held| too_big(held, estimate))?;
    let before = resident_bytes();
    let mut embedder = Embedder::load(spec, opts)?;
    // A built-in entry's token limit is known to fit its model; a user's is proven here.
    if !models::is_builtin(&spec.name) {
        embedder.check_max_tokens()?;
    }
    let bytes = resident_bytes().saturating_sub(before).max(estimate / 4);
    if bytes > limit {
        drop(embedder);
        return Err(too_big(0, bytes));
    }
    let held = precisions(cache);
    if let Ok(evicted) = cache.make_room(bytes, limit, None) {
        notice_evicted(&evicted, &held, "to stay under pg_embed.memory_limit");
    }
    cache.insert(&spec.name, embedder, bytes);
    stats::event(&spec.name, opts.precision.as_str(), Event::Load);
    cache.pin_only(gucs::fallback_model().as_deref());
    // The measured size may exceed the estimate: evict more if the total is now over.
    enforce_limit(cache, &spec.name);
    Ok(())
}

/// Evicts least recently used models (never `keep`, never pinned ones) while over the limit.
fn enforce_limit(cache: &mut LruCache<Embedder>, keep: &str) {
    let limit = gucs::memory_limit_bytes();
    if cache.held() > limit {
        let held = precisions(cache);
        if let Ok(evicted) = cache.make_room(0, limit, Some(keep)) {
            notice_evicted(&evicted, &held, "to stay under pg_embed.memory_limit");
        }
    }
}

/// Embeds `texts` with model `name`, loading it first if this backend does not hold it (or
/// holds it at another precision or thread count than the settings now ask for). With an
/// embedding cache on, texts embedded before are taken from it; every call is counted in the
/// statistics.
pub fn embed(name: &str, texts: &[&str]) -> Result<Embedded, EngineError> {
    let spec = resolve(name)?;
    let settings = Settings::current(&spec);
    embed_as(&spec, texts, &settings)
}

/// [`embed`] with explicit settings instead of the session's.
pub fn embed_as(spec: &ModelSpec, texts: &[&str], settings: &Settings) -> Result<Embedded, EngineError> {
    // A text this statement already embedded the same way (see memo): no model run, no count.
    if let (true, [text]) = (gucs::statement_memo(), texts) {
        if let Some(v) = memo::get(spec, settings, text) {
            return Ok(Embedded { vectors: vec![v], truncated: 0, tokens: 0 });
        }
        let out = embed_counted(spec, texts, settings)?;
        memo::put(spec, settings, text, &out.vectors[0]);
        return Ok(out);
    }
    embed_counted(spec, texts, settings)
}

/// [`embed_as`] without the statement memo: every call is counted in the statistics.
fn embed_counted(spec: &ModelSpec, texts: &[&str], settings: &Settings) -> Result<Embedded, EngineError> {
    let started = Instant::now();
    let name = spec.name.as_str();
    let opts = load_options(settings);
    let mut call = Call { texts: texts.len() as u64, ..Call::default() };
    cache::enforce_budget();
    let table = settings.shared_cache && gucs::persistent_cache() != PersistentCache::Off;
    let out = if (gucs::cache_bytes() == 0 || !settings.memory_cache) && !table {
        embed_in_cache(name, spec, &opts, settings, texts)
    } else {
        embed_cached(name, spec, &opts, settings, table, texts, &mut call)
    };
    match &out {
        Ok(e) => {
            call.tokens = e.tokens as u64;
            call.truncated = e.truncated as u64;
        }
        Err(_) => call.error = true,
    }
    call.micros = started.elapsed().as_micros() as u64;
    stats::record(name, opts.precision.as_str(), &call);
    flush_notices();
    out
}

/// [`embed_in_cache`] for the texts no cache holds; each distinct text is embedded once.
/// `tokens` and `truncated` of the result count only what the model ran.
#[allow(clippy::too_many_arguments)]
fn embed_cached(
    name: &str,
    spec: &ModelSpec,
    opts: &LoadOptions,
    settings: &Settings,
    table: bool,
    texts: &[&str],
    call: &mut Call,
) -> Result<Embedded, EngineError> {
    let policy = settings.policy;
    // The size bound holds for cached texts too.
    for t in texts {
        policy.check_size(t.len())?;
    }
    // The key names the files of the model as loaded, so the model must be loaded first.
    let identity = CACHE.with(|cache| -> Result<String, EngineError> {
        let mut cache = cache.borrow_mut();
        ready(&mut cache, name, spec, opts)?;
        Ok(cache.peek(name).expect("loaded above").identity().to_string())
    })?;
    let identity = cache_identity(spec, &identity);
    let keys: Vec<Key> = texts.iter().map(|t| vcache::key(name, opts.precision, &identity, policy.long_text, t)).collect();
    let mut found: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
    if settings.memory_cache {
        call.cache_hits = cache::lookup_memory(&keys, &mut found);
    }
    if table {
        call.table_hits = cache::lookup_table(&keys, &mut found);
    }
    let mut position: HashMap<Key, usize> = HashMap::new();
    let mut missing: Vec<&str> = Vec::new();
    let mut missing_keys: Vec<Key> = Vec::new();
    for ((k, v), t) in keys.iter().zip(&found).zip(texts) {
        if v.is_none() && !position.contains_key(k) {
            position.insert(*k, missing.len());
            missing.push(t);
            missing_keys.push(*k);
        }
    }
    let repeats = found.iter().filter(|v| v.is_none()).count() - missing.len();
    call.cache_hits += repeats as u64;
    call.cache_misses = missing.len() as u64;
    let fresh = if missing.is_empty() { Embedded::default() } else { embed_in_cache(name, spec, opts, settings, &missing)? };
    let entries: Vec<(Key, &[f32])> = missing_keys.iter().copied().zip(fresh.vectors.iter().map(Vec::as_slice)).collect();
    if settings.memory_cache {
        cache::remember(&entries);
    }
    let vectors = found
        .into_iter()
        .zip(&keys)
        .map(|(v, k)| v.unwrap_or_else(|| fresh.vectors[position[k]].clone()))
        .collect();
    Ok(Embedded { vectors, truncated: fresh.truncated, tokens: fresh.tokens })
}

/// Embeds those of `texts` that the shared cache table lacks, with the session's precision
/// and long-text mode, and stores them there; returns how many rows were added. Only this
/// writes the table (for `pg_embed_cache_store`, which runs as the extension's owner): the
/// vectors are always computed here, from the text, so no row can hold a vector under
/// another text's key.
pub fn store_in_table(name: &str, texts: &[&str]) -> Result<u64, EngineError> {
    // SAFETY: reads backend state.
    let (recovery, read_only) = unsafe { (pgrx::pg_sys::RecoveryInProgress(), pgrx::pg_sys::XactReadOnly) };
    if recovery || read_only {
        crate::error::report(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            if recovery { "pg_embed_cache_store() cannot run on a standby" } else { "pg_embed_cache_store() cannot run in a read-only transaction" },
            Some("It writes the shared cache table; a standby reads the rows the primary stores.".into()),
            Some(if recovery { "Run it on the primary." } else { "Run it in a read-write transaction." }.into()),
        );
    }
    let spec = resolve(name)?;
    let settings = Settings { shared_cache: false, ..Settings::current(&spec) };
    let opts = load_options(&settings);
    for t in texts {
        settings.policy.check_size(t.len())?;
    }
    let identity = CACHE.with(|cache| -> Result<String, EngineError> {
        let mut cache = cache.borrow_mut();
        ready(&mut cache, name, &spec, &opts)?;
        Ok(cache.peek(name).expect("loaded above").identity().to_string())
    })?;
    let identity = cache_identity(&spec, &identity);
    let keys: Vec<Key> =
        texts.iter().map(|t| vcache::key(name, opts.precision, &identity, settings.policy.long_text, t)).collect();
    let mut found: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
    cache::lookup_table_always(&keys, &mut found);
    let mut seen: HashMap<Key, ()> = HashMap::new();
    let (missing, missing_keys): (Vec<&str>, Vec<Key>) = keys
        .iter()
        .zip(&found)
        .zip(texts)
        .filter(|((k, v), _)| v.is_none() && seen.insert(**k, ()).is_none())
        .map(|((k, _), t)| (*t, *k))
        .unzip();
    if missing.is_empty() {
        return Ok(0);
    }
    let fresh = embed_in_cache(name, &spec, &opts, &settings, &missing)?;
    let rows: Vec<(Vec<u8>, Vec<f32>)> = missing_keys.iter().map(|k| k.to_vec()).zip(fresh.vectors).collect();
    Ok(cache::store_rows(name, opts.precision, &identity, &rows))
}

/// The identity a cache key names: the files as loaded, and a user model's definition.
fn cache_identity(spec: &ModelSpec, files: &str) -> String {
    match definition(spec) {
        Some(d) => format!("{files}+{d}"),
        None => files.to_string(),
    }
}

/// Makes sure `name` is loaded as the settings now ask (reloading it if its precision or
/// ONNX Runtime options changed).
fn ready(cache: &mut LruCache<Embedder>, name: &str, spec: &ModelSpec, opts: &LoadOptions) -> Result<(), EngineError> {
    // Also stale: loaded from another pg_embed.model_dir than the one set now, or from files
    // replaced on disk since, so the model ids reported always name the files that embed.
    // Two stat calls; a folder that became unreadable keeps the loaded copy serving.
    let stale = cache.peek(name).is_some_and(|m| {
        m.precision() != opts.precision
            || *m.session_options() != opts.session
            || m.model_dir() != opts.model_dir.as_path()
            || pg_embed_engine::files::locate(spec, &opts.model_dir, opts.precision)
                .is_ok_and(|paths| pg_embed_engine::files::identity(&paths) != m.identity())
    });
    if stale {
        cache.remove(name);
        release_free_memory();
    }
    if !cache.contains(name) {
        load(cache, spec, opts)?;
    }
    Ok(())
}

fn embed_in_cache(
    name: &str,
    spec: &ModelSpec,
    opts: &LoadOptions,
    settings: &Settings,
    texts: &[&str],
) -> Result<Embedded, EngineError> {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        ready(&mut cache, name, spec, opts)?;
        let before = resident_bytes();
        let out = cache.get_mut(name).expect("loaded above").embed_with(texts, settings.limits, settings.policy, &mut || {
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

/// Runs `f` with the tokenizer of model `name`, loading the model as embedding with it under
/// the session's settings would (so chunking for a model and then embedding loads it once).
pub fn with_tokenizer<R>(
    name: &str,
    f: impl FnOnce(&pg_embed_engine::tokenize::TextTokenizer, &ModelSpec) -> Result<R, EngineError>,
) -> Result<R, EngineError> {
    let spec = resolve(name)?;
    let opts = load_options(&Settings::current(&spec));
    cache::enforce_budget();
    let out = CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        ready(&mut cache, &spec.name, &spec, &opts)?;
        f(cache.get_mut(&spec.name).expect("loaded above").tokenizer(), &spec)
    });
    flush_notices();
    out
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
