//! Every pg_embed setting, in one place. Each is a private static with a typed getter.

use std::ffi::{CStr, CString};
use std::path::PathBuf;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};

use pg_embed_engine::Precision;

/// The set-up script builds the extension with the paths it installed, so a fresh install
/// works without configuration; both settings can still be changed by a superuser.
/// (build.rs sets both variables, with generic fallbacks.)
const DEFAULT_ORT_LIB: &CStr = to_cstr(concat!(env!("PG_EMBED_DEFAULT_ORT_LIB"), "\0"));
const DEFAULT_MODEL_DIR: &CStr = to_cstr(concat!(env!("PG_EMBED_DEFAULT_MODEL_DIR"), "\0"));

const fn to_cstr(s: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(s.as_bytes()) {
        Ok(c) => c,
        Err(_) => panic!("default path contains a NUL byte"),
    }
}

/// Path of the ONNX Runtime shared library. Superuser-only: it names code to load.
static ORT_LIBRARY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(DEFAULT_ORT_LIB));

/// Folder with one sub-folder of files per model. Superuser-only: it names files to read.
static MODEL_DIR: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(DEFAULT_MODEL_DIR));

#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum PrecisionSetting {
    #[name = c"auto"]
    Auto,
    #[name = c"int8"]
    Int8,
    #[name = c"fp32"]
    Fp32,
}

/// Which ONNX file of a model to load: `auto` takes int8 only where the catalog marks it as
/// keeping retrieval quality, otherwise fp32.
static PRECISION: GucSetting<PrecisionSetting> = GucSetting::<PrecisionSetting>::new(PrecisionSetting::Auto);

/// ONNX Runtime intra-op threads per backend. 1 by default: parallelism comes from backends
/// and parallel workers, and spinning threads of several backends fight on few cores. At most
/// [`MAX_THREADS`]: more threads than that only oversubscribe the CPUs of a database server.
static THREADS: GucSetting<i32> = GucSetting::<i32>::new(1);

/// The bounds of the settings any role may change: each keeps one session from taking the
/// machine (the README gives the reasons). Superusers can raise nothing beyond them either;
/// they are far above what helps.
pub const MAX_THREADS: i32 = 8;
/// Model memory per backend: the largest catalog model in fp32 (about 730 MB) several times over.
pub const MAX_MEMORY_LIMIT_MB: i32 = 4096;
/// The vector cache per backend: about 600,000 vectors of 384 dimensions.
pub const MAX_CACHE_SIZE_MB: i32 = 1024;
/// Texts per model run: beyond 256, batches only grow the arena (padding is paid in full).
pub const MAX_BATCH_SIZE: i32 = 256;
/// Padded tokens per run: 16,384 keeps one run's activations of a base-size model under about
/// 1 GB and a run short enough to check for cancellation often.
pub const MAX_RUN_TOKENS: i32 = 16_384;
/// One text: 64 MB (about 16 million tokens, whose ids take 64 MB in window mode).
pub const MAX_TEXT_KB: i32 = 64 * 1024;

/// Background workers per database that keep registered tables embedded (pg_embed_vectorize);
/// 0 stops them. Needs pg_embed in shared_preload_libraries; reloading the configuration starts
/// or stops workers to match. At most [`MAX_VECTORIZE_WORKERS`].
static VECTORIZE_WORKERS: GucSetting<i32> = GucSetting::<i32>::new(1);
pub const MAX_VECTORIZE_WORKERS: i32 = 16;

/// How long an idle vectorize worker sleeps before it looks at the queue again, in ms.
static VECTORIZE_NAPTIME_MS: GucSetting<i32> = GucSetting::<i32>::new(1000);

/// The database the launcher of the vectorize workers connects to, to list the others.
static VECTORIZE_DATABASE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"postgres"));

/// Memory the models of one backend may hold, in MB. Loading a model evicts the least recently
/// used ones to stay under it. 1 GB holds the default model in fp32 several times over.
static MEMORY_LIMIT_MB: GucSetting<i32> = GucSetting::<i32>::new(1024);

/// A model that is never evicted to make room ("always have a fallback"). Empty: none.
static FALLBACK_MODEL: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"all-MiniLM-L6-v2"));

/// Texts per ONNX Runtime run in the batch functions (texts are sorted by length first).
/// Small sorted batches are best on CPUs: padding is paid in full, and bigger batches only
/// grow the arena. int8 models always run one text at a time (see README).
static BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(8);

/// Padded tokens per run (texts x longest text). Bounds the time between two interrupt checks
/// and the size ONNX Runtime's arena grows to.
static MAX_TOKENS_PER_RUN: GucSetting<i32> = GucSetting::<i32>::new(2048);

#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum LongTextSetting {
    #[name = c"truncate"]
    Truncate,
    #[name = c"error"]
    Error,
    #[name = c"window"]
    Window,
}

/// What to do with a text longer than the model's token limit: embed its first tokens (with a
/// NOTICE once per statement), refuse it, or embed every window and average.
static LONG_TEXT: GucSetting<LongTextSetting> = GucSetting::<LongTextSetting>::new(LongTextSetting::Truncate);

/// Hard bound on one text, in kB: longer texts are refused before tokenizing, so a stray
/// 100 MB value cannot take a backend's memory or minutes of CPU.
static MAX_TEXT_SIZE_KB: GucSetting<i32> = GucSetting::<i32>::new(8 * 1024);

/// Preferred models for code, best first (pg_embed_auto / embed_code). The guide's tiers: a
/// large code model when there is room and the machine is idle, a medium one otherwise, a
/// small general model when resources are tight.
static CODE_MODELS: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"unixcoder-base,codet5p-110m-embedding,all-MiniLM-L6-v2"));

/// Preferred models for documentation prose, best first.
static DOC_MODELS: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"all-MiniLM-L6-v2"));

/// Whether pg_embed_download() may use the network. Off by default: embedding never does,
/// and downloads happen only when a superuser turns this on and asks for one.
static ALLOW_DOWNLOAD: GucSetting<bool> = GucSetting::<bool>::new(false);

/// How long pg_embed_download() may take in all, in seconds; past it the download stops and
/// removes what it fetched. Superuser-only, like downloads.
static DOWNLOAD_TIMEOUT_S: GucSetting<i32> = GucSetting::<i32>::new(600);

/// The hub's address for downloads; empty means the Hugging Face hub itself.
static HUB_ENDPOINT: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c""));

#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum GraphOptimization {
    #[name = c"disable"]
    Disable,
    #[name = c"basic"]
    Basic,
    #[name = c"extended"]
    Extended,
    #[name = c"all"]
    All,
}

/// ONNX Runtime graph optimisation when a model loads. `all` fuses attention and GELU, which is
/// what makes CPU inference fast; lower levels only help to debug (see benches/README.md).
static GRAPH_OPTIMIZATION: GucSetting<GraphOptimization> = GucSetting::<GraphOptimization>::new(GraphOptimization::All);

/// Let idle ONNX Runtime threads spin. Off: with one thread per backend it gains nothing, and
/// with more it burns CPU that other backends need. Superuser-only: spinning threads of one
/// session slow every other backend (and delay that session's own cancel).
static SPINNING: GucSetting<bool> = GucSetting::<bool>::new(false);

/// ONNX Runtime's CPU memory arena. On: large runs are faster with it; its growth is bounded
/// by pg_embed.max_tokens_per_run and counted in the model's bytes_held (see benches/README.md).
static MEMORY_ARENA: GucSetting<bool> = GucSetting::<bool>::new(true);

/// Memory for this backend's embedding cache, in MB: vectors of texts embedded before, by
/// model, precision, model files, long-text mode and text. 0 turns it off (the default, so a
/// repeated text costs the same every time unless asked otherwise).
static CACHE_SIZE_MB: GucSetting<i32> = GucSetting::<i32>::new(0);

#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum PersistentCache {
    #[name = c"off"]
    Off,
    #[name = c"read"]
    Read,
    #[name = c"write"]
    Write,
}

/// The shared cache table pg_embed_cache: `read` looks texts up there; `write` also makes
/// pg_embed_backfill store the vectors it computes there (through pg_embed_cache_store).
/// Embedding calls never write it (see README, Embedding cache). Off by default.
static PERSISTENT_CACHE: GucSetting<PersistentCache> = GucSetting::<PersistentCache>::new(PersistentCache::Off);

/// The statement memo (one model run per distinct query text in a statement; see README,
/// Performance). Superuser-only; off only to measure what it saves.
static STATEMENT_MEMO: GucSetting<bool> = GucSetting::<bool>::new(true);

/// Count calls in pg_embed_stats. Superuser-only, so a session cannot hide its use; off only
/// to measure what counting costs.
static TRACK_STATS: GucSetting<bool> = GucSetting::<bool>::new(true);

pub fn init() {
    GucRegistry::define_string_guc(
        c"pg_embed.onnxruntime_library",
        c"Path of the ONNX Runtime shared library (libonnxruntime.so, version 1.31 or later).",
        c"Loaded once per backend on the first embedding call; a change takes effect in new sessions.",
        &ORT_LIBRARY,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"pg_embed.model_dir",
        c"Directory holding one folder of files per model.",
        c"A model named M is read from <model_dir>/M/.",
        &MODEL_DIR,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"pg_embed.precision",
        c"Which model file to load: auto, int8 or fp32.",
        c"auto uses int8 only for models whose catalog entry marks int8 as keeping retrieval quality.",
        &PRECISION,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_embed.threads",
        c"ONNX Runtime threads per backend for one model run.",
        c"Applies to models loaded after the change.",
        &THREADS,
        1,
        MAX_THREADS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_embed.memory_limit",
        c"Memory the models loaded in one backend may hold.",
        c"Measured as resident memory growth while loading and running each model; the least recently used models are evicted to stay under it.",
        &MEMORY_LIMIT_MB,
        16,
        MAX_MEMORY_LIMIT_MB,
        GucContext::Userset,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_string_guc(
        c"pg_embed.fallback_model",
        c"A model that is never evicted to make room for others.",
        c"Empty for none.",
        &FALLBACK_MODEL,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_embed.batch_size",
        c"Texts per model run in the batch functions.",
        c"Texts are sorted by token count first, so a run pads little.",
        &BATCH_SIZE,
        1,
        MAX_BATCH_SIZE,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_embed.max_tokens_per_run",
        c"Padded tokens per model run (texts times the longest).",
        c"Bounds the time between two checks for cancellation and the memory one run takes.",
        &MAX_TOKENS_PER_RUN,
        64,
        MAX_RUN_TOKENS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"pg_embed.long_text",
        c"Texts over the model's token limit: truncate, error or window.",
        c"truncate embeds the first tokens (NOTICE once per statement); error refuses the text; window averages the embeddings of all token windows.",
        &LONG_TEXT,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_embed.max_text_size",
        c"Largest text pg_embed accepts; longer texts are refused before tokenizing.",
        c"Bounds the memory and time one text can take.",
        &MAX_TEXT_SIZE_KB,
        1,
        MAX_TEXT_KB,
        GucContext::Userset,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_string_guc(
        c"pg_embed.code_models",
        c"Models for code, best first, comma-separated.",
        c"embed_code and embed_auto take the first that is present and fits the machine; see README, Routing.",
        &CODE_MODELS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"pg_embed.doc_models",
        c"Models for documentation prose, best first, comma-separated.",
        c"embed_auto takes the first that is present and fits the machine for prose.",
        &DOC_MODELS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_embed.vectorize_workers",
        c"Background workers per database that embed the rows queued by pg_embed_vectorize(); 0 stops them.",
        c"Needs pg_embed in shared_preload_libraries; a configuration reload starts or stops workers to match. Each takes a slot of max_worker_processes.",
        &VECTORIZE_WORKERS,
        0,
        MAX_VECTORIZE_WORKERS,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_embed.vectorize_naptime",
        c"How long an idle vectorize worker sleeps before looking at the queue again.",
        c"A worker with rows due does not sleep.",
        &VECTORIZE_NAPTIME_MS,
        10,
        600_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    // A postmaster setting can only be defined while the postmaster loads the library.
    // SAFETY: a global the postmaster sets while it loads shared_preload_libraries.
    if unsafe { pgrx::pg_sys::process_shared_preload_libraries_in_progress } {
        define_vectorize_database();
    }
    GucRegistry::define_bool_guc(
        c"pg_embed.allow_download",
        c"Allows pg_embed_download() to fetch model files over the network.",
        c"Embedding functions never use the network.",
        &ALLOW_DOWNLOAD,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_embed.download_timeout",
        c"Longest time pg_embed_download() may take.",
        c"Past it the download stops and removes the files it fetched; a cancel stops it at once too.",
        &DOWNLOAD_TIMEOUT_S,
        1,
        86_400,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_string_guc(
        c"pg_embed.hub_endpoint",
        c"Address of the model hub pg_embed_download() uses; empty for the Hugging Face hub.",
        c"A mirror with the hub's layout (<endpoint>/<repo>/resolve/<revision>/<file>).",
        &HUB_ENDPOINT,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"pg_embed.graph_optimization",
        c"ONNX Runtime graph optimisation level for models loaded from now on.",
        c"disable, basic, extended or all.",
        &GRAPH_OPTIMIZATION,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg_embed.intra_op_spinning",
        c"Let idle ONNX Runtime threads spin waiting for work.",
        c"Only matters with pg_embed.threads above 1.",
        &SPINNING,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg_embed.memory_arena",
        c"Use ONNX Runtime's CPU memory arena (faster large runs; memory is kept until the model is unloaded).",
        c"Applies to models loaded from now on.",
        &MEMORY_ARENA,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pg_embed.cache_size",
        c"Memory for this backend's cache of embeddings; 0 turns it off.",
        c"Keyed by model, precision, the model files' identity, pg_embed.long_text and the text; least recently used entries are dropped to stay under it.",
        &CACHE_SIZE_MB,
        0,
        MAX_CACHE_SIZE_MB,
        GucContext::Userset,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_enum_guc(
        c"pg_embed.persistent_cache",
        c"Use the shared cache table pg_embed_cache: off, read, or write.",
        c"Embedding calls only read it; with write, pg_embed_backfill also stores what it embeds (roles that may run pg_embed_cache_store).",
        &PERSISTENT_CACHE,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg_embed.statement_memo",
        c"Embed each distinct text once per statement in single-text calls.",
        c"Off only to measure what the memo saves.",
        &STATEMENT_MEMO,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pg_embed.track_stats",
        c"Count embedding calls in pg_embed_stats.",
        c"Shared by all backends when pg_embed is in shared_preload_libraries, per backend otherwise.",
        &TRACK_STATS,
        GucContext::Suset,
        GucFlags::default(),
    );
    reserve_prefix();
}

#[cfg(any(feature = "pg15", feature = "pg16", feature = "pg17", feature = "pg18"))]
fn reserve_prefix() {
    // SAFETY: called from _PG_init with a static NUL-terminated string.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"pg_embed".as_ptr()) };
}

#[cfg(not(any(feature = "pg15", feature = "pg16", feature = "pg17", feature = "pg18")))]
fn reserve_prefix() {
    // SAFETY: called from _PG_init with a static NUL-terminated string.
    unsafe { pgrx::pg_sys::EmitWarningsOnPlaceholders(c"pg_embed".as_ptr()) };
}

fn path_of(setting: &GucSetting<Option<CString>>) -> PathBuf {
    PathBuf::from(setting.get().map(|c| c.to_string_lossy().into_owned()).unwrap_or_default())
}

pub fn onnxruntime_library() -> PathBuf {
    path_of(&ORT_LIBRARY)
}

pub fn model_dir() -> PathBuf {
    path_of(&MODEL_DIR)
}

/// The precision to load `spec` at under the current setting.
pub fn precision_for(spec: &pg_embed_engine::ModelSpec) -> Precision {
    if spec.files.int8.is_empty() {
        return Precision::Fp32;
    }
    match PRECISION.get() {
        PrecisionSetting::Fp32 => Precision::Fp32,
        PrecisionSetting::Int8 => Precision::Int8,
        PrecisionSetting::Auto if spec.int8_safe => Precision::Int8,
        PrecisionSetting::Auto => Precision::Fp32,
    }
}

/// pg_embed.precision as it is spelled in SQL (auto, int8 or fp32).
pub fn precision_setting_name() -> &'static str {
    match PRECISION.get() {
        PrecisionSetting::Auto => "auto",
        PrecisionSetting::Int8 => "int8",
        PrecisionSetting::Fp32 => "fp32",
    }
}

pub fn threads() -> usize {
    THREADS.get().max(1) as usize
}

pub fn memory_limit_bytes() -> u64 {
    u64::try_from(MEMORY_LIMIT_MB.get()).unwrap_or(0) << 20
}

pub fn fallback_model() -> Option<String> {
    FALLBACK_MODEL.get().map(|c| c.to_string_lossy().into_owned()).filter(|s| !s.is_empty())
}

pub fn run_limits() -> pg_embed_engine::batch::RunLimits {
    pg_embed_engine::batch::RunLimits {
        max_texts: BATCH_SIZE.get().max(1) as usize,
        max_tokens: MAX_TOKENS_PER_RUN.get().max(1) as usize,
        ..Default::default()
    }
}

pub fn input_policy() -> pg_embed_engine::model::InputPolicy {
    use pg_embed_engine::model::LongText;
    pg_embed_engine::model::InputPolicy {
        long_text: match LONG_TEXT.get() {
            LongTextSetting::Truncate => LongText::Truncate,
            LongTextSetting::Error => LongText::Error,
            LongTextSetting::Window => LongText::Window,
        },
        max_bytes: usize::try_from(MAX_TEXT_SIZE_KB.get()).unwrap_or(1) << 10,
    }
}

/// The preference list for a role, as the setting spells it ("general" is the fallback model).
pub fn preferences(role: pg_embed_engine::Role) -> String {
    use pg_embed_engine::Role;
    let setting = match role {
        Role::Code => &CODE_MODELS,
        Role::Doc => &DOC_MODELS,
        Role::General => return fallback_model().unwrap_or_default(),
    };
    setting.get().map(|c| c.to_string_lossy().into_owned()).unwrap_or_default()
}

pub fn allow_download() -> bool {
    ALLOW_DOWNLOAD.get()
}

pub fn download_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(u64::try_from(DOWNLOAD_TIMEOUT_S.get()).unwrap_or(1))
}

pub fn hub_endpoint() -> Option<String> {
    HUB_ENDPOINT.get().map(|c| c.to_string_lossy().into_owned()).filter(|s| !s.is_empty())
}

pub fn session_options() -> pg_embed_engine::session::SessionOptions {
    pg_embed_engine::session::SessionOptions {
        intra_threads: threads(),
        spinning: SPINNING.get(),
        optimization_level: match GRAPH_OPTIMIZATION.get() {
            GraphOptimization::Disable => 0,
            GraphOptimization::Basic => 1,
            GraphOptimization::Extended => 2,
            GraphOptimization::All => 3,
        },
        arena: MEMORY_ARENA.get(),
    }
}

pub fn cache_bytes() -> usize {
    usize::try_from(CACHE_SIZE_MB.get()).unwrap_or(0) << 20
}

pub fn persistent_cache() -> PersistentCache {
    PERSISTENT_CACHE.get()
}

pub fn statement_memo() -> bool {
    STATEMENT_MEMO.get()
}

pub fn track_stats() -> bool {
    TRACK_STATS.get()
}

fn define_vectorize_database() {
    GucRegistry::define_string_guc(
        c"pg_embed.vectorize_database",
        c"Database the launcher of the vectorize workers connects to, to list the databases.",
        c"Workers start in every database that allows connections; those without pg_embed exit at once.",
        &VECTORIZE_DATABASE,
        GucContext::Postmaster,
        GucFlags::default(),
    );
}

pub fn vectorize_workers() -> usize {
    usize::try_from(VECTORIZE_WORKERS.get()).unwrap_or(0)
}

pub fn vectorize_naptime() -> std::time::Duration {
    std::time::Duration::from_millis(u64::try_from(VECTORIZE_NAPTIME_MS.get()).unwrap_or(1000))
}

pub fn vectorize_database() -> String {
    VECTORIZE_DATABASE.get().map(|c| c.to_string_lossy().into_owned()).unwrap_or_else(|| "postgres".into())
}
