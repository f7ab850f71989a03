//! Named models: embedding with a model by name, registering user models, the model view,
//! and unloading.

use pgrx::prelude::*;

use pg_embed_engine::catalog::{ModelFiles, Pooling, PoolingKind};
use pg_embed_engine::{EngineError, ModelSpec, Precision, Role};

use pg_embed_engine::model::LongText;
use pgrx::PgSqlErrorCode;

use crate::error::{raise, report, OrRaise};
use crate::runtime;
use crate::text::Text;
use crate::vector::Vector;

/// Embeds a text with the named model. STABLE: which file of the model runs depends on
/// pg_embed.precision, and long texts on pg_embed.long_text.
#[pg_extern(stable, strict, parallel_safe, cost = 10000)]
fn embed(body: Text, model: Text) -> Vector {
    let mut out = runtime::embed(&model, &[&body]).or_raise();
    Vector(out.vectors.pop().expect("one text in, one vector out"))
}

/// Embeds a text with the named model at the given precision and long-text mode, whatever the
/// session's settings: the IMMUTABLE entry point for generated columns, expression indexes
/// and statements pushed to other nodes. Its arguments name everything that decides the
/// vector; the model's files are assumed never to change in place (as a text search
/// dictionary's files are): a replaced file is noticed and the new one used, so anything
/// stored from the old one must be embedded again (see README).
#[pg_extern(immutable, strict, parallel_safe, cost = 10000)]
fn embed_fixed(body: Text, model: Text, precision: Text, long_text: default!(Text, "'truncate'")) -> Vector {
    let spec = runtime::resolve(&model).or_raise();
    let precision = match &*precision {
        "fp32" => Precision::Fp32,
        "int8" if !spec.files.int8.is_empty() => Precision::Int8,
        "int8" => report(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("model \"{}\" has no int8 file", spec.name),
            None,
            Some(format!("Use embed_fixed(body, '{}', 'fp32').", spec.name)),
        ),
        other => report(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("precision must be fp32 or int8, not \"{other}\""),
            Some("embed_fixed names the model file it runs, so it cannot follow pg_embed.precision (auto).".into()),
            Some("Pass 'fp32' or 'int8'; pg_embed_models lists the precisions whose files are present.".into()),
        ),
    };
    let long_text = match &*long_text {
        "truncate" => LongText::Truncate,
        "error" => LongText::Error,
        "window" => LongText::Window,
        other => report(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("long_text must be truncate, error or window, not \"{other}\""),
            None,
            Some("Pass 'truncate' (the default), 'error' or 'window', as for pg_embed.long_text.".into()),
        ),
    };
    let settings = runtime::Settings::fixed(precision, long_text);
    let mut out = runtime::embed_as(&spec, &[&body], &settings).or_raise();
    Vector(out.vectors.pop().expect("one text in, one vector out"))
}

/// Registers (or replaces) a user model whose files are in `<pg_embed.model_dir>/<name>/`.
#[allow(clippy::too_many_arguments)]
#[pg_extern(volatile, parallel_unsafe)]
fn pg_embed_register_model(
    name: &str,
    dims: i32,
    pooling: default!(&str, "'mean'"),
    max_tokens: default!(i32, 256),
    role: default!(&str, "'general'"),
    fp32_file: default!(&str, "'model.onnx'"),
    int8_file: default!(&str, "''"),
    tokenizer_file: default!(&str, "'tokenizer.json'"),
    pooled_output: default!(&str, "'last_hidden_state'"),
    int8_safe: default!(bool, false),
    query_prefix: default!(&str, "''"),
    document_prefix: default!(&str, "''"),
) {
    let kind = match pooling {
        "mean" => PoolingKind::Mean,
        "cls" => PoolingKind::Cls,
        "pooled" => PoolingKind::Pooled,
        other => raise(EngineError::InvalidRegistration(format!("pooling is \"{other}\", not mean, cls or pooled"))),
    };
    let Some(role) = Role::parse(role) else {
        raise(EngineError::InvalidRegistration(format!("role is \"{role}\", not code, doc or general")))
    };
    let spec = ModelSpec {
        name: name.to_string(),
        repo: String::new(),
        revision: String::new(),
        files: ModelFiles { fp32: fp32_file.into(), int8: int8_file.into(), tokenizer: tokenizer_file.into() },
        dims: usize::try_from(dims).unwrap_or(0),
        pooling: Pooling { kind, output: pooled_output.into() },
        max_tokens: usize::try_from(max_tokens).unwrap_or(0),
        role,
        query_prefix: query_prefix.into(),
        document_prefix: document_prefix.into(),
        int8_safe,
        int8_note: "registered by a user".into(),
        license: String::new(),
        approx_mb: 1,
        hub_files: Default::default(),
        sha256: Default::default(),
        checkpoint: None,
        input_template: String::new(),
        published_quality: String::new(),
    };
    runtime::register(&spec).or_raise();
    runtime::tables::upsert_user_model(&spec, pooling);
    // The definition also goes next to the files, so the folder describes its model wherever
    // it is (a restore that computes generated columns before the registrations are back, a
    // node that has the files). Model folders are often read-only for the server: then the
    // registration still counts, and pg_embed_model_definition() gives the file's content.
    let dir = crate::gucs::model_dir();
    if dir.join(name).is_dir() {
        if let Err(e) = pg_embed_engine::definition::write(&dir, &spec) {
            pgrx::debug1!("pg_embed: the definition of model \"{name}\" was not stored next to its files: {e}");
        }
    }
    runtime::unload(Some(name));
}

/// A model's definition as pg_embed keeps it next to a user model's files
/// (`<model_dir>/<name>/pg_embed_model.json`): write it there where the server cannot, so that
/// the folder describes its model (see README, Dump and restore).
#[pg_extern(stable, strict, parallel_safe)]
fn pg_embed_model_definition(model: Text) -> pgrx::JsonB {
    let spec = runtime::resolve(&model).or_raise();
    pgrx::JsonB(serde_json::to_value(&spec).unwrap_or_default())
}

/// One row per known model: what it is, which files are present, what this backend holds.
#[pg_extern(volatile, parallel_restricted)]
#[allow(clippy::type_complexity)]
fn pg_embed_model_info() -> TableIterator<
    'static,
    (
        name!(name, String),
        name!(source, String),
        name!(role, String),
        name!(dims, i32),
        name!(precisions, Vec<String>),
        name!(files_present, bool),
        name!(loaded, bool),
        name!(loaded_precision, Option<String>),
        name!(bytes_held, i64),
        name!(lru_rank, Option<i32>),
    ),
> {
    let dir = crate::gucs::model_dir();
    let order = runtime::lru_order();
    let rows: Vec<_> = runtime::all_specs()
        .into_iter()
        .map(|(spec, source)| {
            let has = |f: &str| pg_embed_engine::files::find(&spec, &dir, f).is_some();
            let precisions: Vec<String> = [(Precision::Fp32, &spec.files.fp32), (Precision::Int8, &spec.files.int8)]
                .into_iter()
                .filter(|(_, f)| has(f))
                .map(|(p, _)| p.as_str().to_string())
                .collect();
            let present = has(&spec.files.tokenizer) && !precisions.is_empty();
            let loaded = runtime::loaded(&spec.name);
            let rank = order.iter().position(|n| *n == spec.name).map(|i| i as i32 + 1);
            (
                spec.name.clone(),
                source.as_str().to_string(),
                spec.role.as_str().to_string(),
                spec.dims as i32,
                precisions,
                present,
                loaded.is_some(),
                loaded.map(|(p, _)| p.as_str().to_string()),
                loaded.map_or(0, |(_, b)| b as i64),
                rank,
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// Unloads one model from this backend now. Returns 1 if it was loaded, else 0.
#[pg_extern(volatile, strict, parallel_unsafe, name = "pg_embed_unload")]
fn pg_embed_unload_one(model: Text) -> i64 {
    runtime::unload(Some(&model))
}

/// Unloads every model from this backend now. Returns how many were loaded.
#[pg_extern(volatile, parallel_unsafe, name = "pg_embed_unload")]
fn pg_embed_unload_all() -> i64 {
    runtime::unload(None)
}

extension_sql_file!(
    "../sql/user_models.sql",
    name = "user_models_table",
    bootstrap,
);

extension_sql_file!(
    "../sql/models.sql",
    name = "models_sql",
    requires = [embed, embed_fixed, pg_embed_model_definition, pg_embed_register_model, pg_embed_model_info, pg_embed_unload_one, pg_embed_unload_all],
);

/// Downloads a model's files from the hub into pg_embed.model_dir, verified and installed
/// atomically. Superuser only, and only while pg_embed.allow_download is on.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn pg_embed_download(
    model: &str,
) -> TableIterator<'static, (name!(file, String), name!(bytes, i64), name!(sha256, String))> {
    // SAFETY: reads the current user's superuser flag.
    if !unsafe { pgrx::pg_sys::superuser() } {
        pgrx::pg_sys::panic::ErrorReport::new(
            pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "only superusers may download models",
            "pg_embed",
        )
        .report(pgrx::PgLogLevel::ERROR);
    }
    if !crate::gucs::allow_download() {
        pgrx::pg_sys::panic::ErrorReport::new(
            pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "downloads are disabled",
            "pg_embed",
        )
        .set_hint("SET pg_embed.allow_download = on; (superuser) allows pg_embed_download() to use the network.")
        .report(pgrx::PgLogLevel::ERROR);
    }
    let spec = runtime::resolve(model).or_raise();
    let endpoint = crate::gucs::hub_endpoint();
    // A cancel (or statement_timeout) is noticed within one poll step; the download stops,
    // removes its partial files, and the cancel is then raised as usual.
    let mut stop = || {
        // SAFETY: reads flags PostgreSQL's signal handlers set; no preconditions.
        unsafe { pgrx::pg_sys::QueryCancelPending != 0 || pgrx::pg_sys::ProcDiePending != 0 }
    };
    let limits = pg_embed_engine::download::Limits { timeout: crate::gucs::download_timeout(), stop: &mut stop };
    let fetched = pg_embed_engine::download::download(&spec, &crate::gucs::model_dir(), endpoint.as_deref(), limits);
    if matches!(fetched, Err(EngineError::Cancelled(_))) {
        pgrx::check_for_interrupts!();
    }
    let fetched = fetched.or_raise();
    runtime::unload(Some(model));
    TableIterator::new(fetched.into_iter().map(|f| (f.file, f.bytes as i64, f.sha256)))
}

extension_sql_file!(
    "../sql/download.sql",
    name = "download_sql",
    requires = [pg_embed_download],
);
