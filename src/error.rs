//! Engine errors -> PostgreSQL errors: a SQLSTATE, a message, a detail and a hint that names
//! the setting or action that fixes it.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

use pg_embed_engine::EngineError;

/// Raises `e` as an ERROR. Never returns.
pub fn raise(e: EngineError) -> ! {
    use PgSqlErrorCode::*;
    let message = e.to_string();
    let (code, detail, hint): (PgSqlErrorCode, Option<String>, Option<String>) = match &e {
        EngineError::RuntimeLibrary { path, missing, .. } => (
            if *missing { ERRCODE_UNDEFINED_FILE } else { ERRCODE_SYSTEM_ERROR },
            Some(format!("pg_embed loads ONNX Runtime 1.31 or later from \"{}\".", path.display())),
            Some("Point pg_embed.onnxruntime_library at libonnxruntime.so, e.g. ALTER SYSTEM SET pg_embed.onnxruntime_library = '/path/to/libonnxruntime.so.1.31.1'; then SELECT pg_reload_conf(); and reconnect.".into()),
        ),
        EngineError::ModelFileMissing { model, path } => (
            ERRCODE_UNDEFINED_FILE,
            Some(format!("Model \"{model}\" is read from \"{}\".", path.parent().map(|p| p.display().to_string()).unwrap_or_default())),
            Some("Install the model's files there, or point pg_embed.model_dir at the directory that holds them (ALTER SYSTEM SET pg_embed.model_dir = '...').".into()),
        ),
        EngineError::ModelFileUnreadable { model, source, .. } => (
            if source.kind() == std::io::ErrorKind::PermissionDenied { ERRCODE_INSUFFICIENT_PRIVILEGE } else { ERRCODE_IO_ERROR },
            Some(format!("Model \"{model}\" could not be opened by the PostgreSQL server process.")),
            Some("Make the model files readable by the operating-system user that runs PostgreSQL.".into()),
        ),
        EngineError::ModelFileInvalid { model, .. } => (
            ERRCODE_DATA_CORRUPTED,
            Some(format!("The file exists but is not a usable model or tokenizer for \"{model}\".")),
            Some("Reinstall the model's files (a partial copy or a file of another model is the usual cause).".into()),
        ),
        EngineError::ModelMismatch { .. } => (
            ERRCODE_DATA_CORRUPTED,
            None,
            Some("The files in the model's folder belong to different models (tokenizer.json and the ONNX file must come from the same model); reinstall the right ones.".into()),
        ),
        EngineError::UnknownModel(_) => (
            ERRCODE_UNDEFINED_OBJECT,
            None,
            Some("Use one of the names the model catalog lists.".into()),
        ),
        EngineError::NoModelForRole(role) => (
            ERRCODE_UNDEFINED_FILE,
            Some(format!("None of the models in the preferences for {role}, nor pg_embed.fallback_model, has its files in pg_embed.model_dir.")),
            Some("Install a model's files, or list an installed model in pg_embed.code_models / pg_embed.doc_models.".into()),
        ),
        EngineError::InvalidModelName(_) => (
            ERRCODE_INVALID_PARAMETER_VALUE,
            Some("Model names are one path component of letters, digits, '-', '_' and '.', not starting with '.'.".into()),
            None,
        ),
        EngineError::MemoryLimit { need_mb, held_mb, .. } => (
            ERRCODE_OUT_OF_MEMORY,
            Some(format!("It needs about {need_mb} MB; models that cannot be evicted (the fallback model) hold {held_mb} MB.")),
            Some(format!("Raise the limit, e.g. SET pg_embed.memory_limit = '{}MB';, or unload models with SELECT pg_embed_unload();", (need_mb + held_mb).next_power_of_two().max(64))),
        ),
        EngineError::InvalidRegistration(_) => (
            ERRCODE_INVALID_PARAMETER_VALUE,
            None,
            Some("Call pg_embed_register_model again with a value in range (README, Reference, lists every argument).".into()),
        ),
        EngineError::MaxTokensTooLarge { model, max_tokens, reason } => (
            ERRCODE_INVALID_PARAMETER_VALUE,
            Some(format!("Model \"{model}\" is registered with max_tokens {max_tokens}; a model fails like this when that is more than its position embeddings (often 512). ONNX Runtime said: {}", reason.trim())),
            Some(format!("Register it again with the model's real limit, e.g. SELECT pg_embed_register_model('{model}', <dims>, max_tokens => 512, ...);")),
        ),
        EngineError::TextTooLarge { .. } => (
            ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            Some("Texts over the bound are refused before tokenizing, so memory and time stay bounded.".into()),
            Some("Embed a shorter part of the text, or raise the bound, e.g. SET pg_embed.max_text_size = '64MB';".into()),
        ),
        EngineError::TooManyTokens { .. } => (
            ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            Some("pg_embed.long_text is 'error'.".into()),
            Some("SET pg_embed.long_text = 'truncate' embeds the first tokens; 'window' embeds the whole text in windows.".into()),
        ),
        EngineError::OutOfMemory { what, bytes } => (
            ERRCODE_OUT_OF_MEMORY,
            Some(format!("The server could not allocate {} MB for {what}; the statement was stopped before the allocation, and the backend keeps running.", bytes.div_ceil(1 << 20))),
            Some("Embed a shorter text or fewer texts at a time, or lower the bound on text size, e.g. SET pg_embed.max_text_size = '8MB';".into()),
        ),
        EngineError::Tokenize(_) => (ERRCODE_DATA_EXCEPTION, None, None),
        EngineError::Inference { .. } => (ERRCODE_INTERNAL_ERROR, None, None),
        EngineError::Catalog(_) => (ERRCODE_CONFIG_FILE_ERROR, None, None),
        EngineError::ProjectionMissing { model, reference } => (
            ERRCODE_UNDEFINED_OBJECT,
            Some(format!("An ensemble maps every model into the space of its first model (\"{reference}\"); table pg_embed_projections has no row for \"{model}\" onto it.")),
            Some(format!("Learn one over texts like those you embed, e.g. SELECT * FROM pg_embed_learn_projection('{model}', '{reference}', 'SELECT body FROM docs');")),
        ),
        EngineError::ProjectionShape { .. } => (
            ERRCODE_DATA_EXCEPTION,
            Some("A projection is learned for a model's dimensions; the model or the stored row has changed since.".into()),
            Some("Learn the projection again with pg_embed_learn_projection(model, reference, sample).".into()),
        ),
        EngineError::EnsembleArgument(_) => (
            ERRCODE_INVALID_PARAMETER_VALUE,
            Some("embed_ensemble(text, models, weights) takes distinct model names, the first being the reference, and one finite weight >= 0 per model (not all 0), or NULL for equal weights.".into()),
            Some("Pass as many weights as models, e.g. embed_ensemble(body, ARRAY['all-MiniLM-L6-v2', 'paraphrase-MiniLM-L3-v2'], ARRAY[0.6, 0.4]).".into()),
        ),
        EngineError::ChunkArgument(_) => (
            ERRCODE_INVALID_PARAMETER_VALUE,
            Some("A chunk holds at most max_tokens of the model's tokens, its special tokens included; consecutive chunks share overlap tokens.".into()),
            Some("Leave max_tokens NULL for the model's own limit, and keep overlap at most half of it, e.g. pg_embed_chunks(body, 256, 32).".into()),
        ),
        EngineError::SampleTooSmall { .. } => (
            ERRCODE_INVALID_PARAMETER_VALUE,
            Some("The sample is the non-NULL texts of the first column of the sample query, up to sample_size rows.".into()),
            Some("Point the sample query at a table with more texts; a few thousand texts like those you embed work best.".into()),
        ),
        EngineError::NeedsConversion(model) => (
            ERRCODE_FEATURE_NOT_SUPPORTED,
            Some("Its repository holds PyTorch weights and slow-tokenizer files; pg_embed loads ONNX graphs and tokenizer.json, and converting takes minutes and Python, which a database backend should not run.".into()),
            Some(format!("As the owner of pg_embed.model_dir, from pg_embed's source tree and with its Python tools (numpy, onnx, onnxruntime, tokenizers), run: scripts/prepare_models.py fetch {model} <model_dir> (README, Models); it downloads, verifies, converts and installs the model.")),
        ),
        EngineError::Download { .. } => (
            ERRCODE_SYSTEM_ERROR,
            Some("Nothing was installed.".into()),
            Some("Check pg_embed.hub_endpoint and the server's network access, or copy the files into pg_embed.model_dir by hand.".into()),
        ),
        EngineError::Cancelled(_) => (ERRCODE_QUERY_CANCELED, None, None),
        EngineError::ChecksumMismatch { .. } => (
            ERRCODE_DATA_CORRUPTED,
            Some("The file was discarded and nothing was installed.".into()),
            Some("Retry the download; if it persists, the mirror serves a different file than the catalog expects.".into()),
        ),
    };
    report(code, message, detail, hint)
}

/// Raises an ERROR of the SQL layer itself (a bad argument, a missing privilege, a wrong
/// context), with a detail and a hint. Never returns.
pub fn report(code: PgSqlErrorCode, message: impl Into<String>, detail: Option<String>, hint: Option<String>) -> ! {
    let mut report = ErrorReport::new(code, for_server(message.into()), "pg_embed");
    if let Some(d) = detail {
        report = report.set_detail(for_server(d));
    }
    if let Some(h) = hint {
        report = report.set_hint(for_server(h));
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// Makes a message (UTF-8, possibly quoting user input) safe to report in the database's
/// encoding: in a database that is neither UTF-8 nor SQL_ASCII, characters beyond ASCII are
/// written as `\u{e8}`, since not every one exists in the server encoding.
pub fn for_server(message: String) -> String {
    use pgrx::pg_sys::pg_enc::{PG_SQL_ASCII, PG_UTF8};
    // SAFETY: reads a backend global.
    let encoding = unsafe { pgrx::pg_sys::GetDatabaseEncoding() } as u32;
    if message.is_ascii() || encoding == PG_UTF8 || encoding == PG_SQL_ASCII {
        return message;
    }
    message.chars().map(|c| if c.is_ascii() { c.to_string() } else { c.escape_unicode().to_string() }).collect()
}

/// Unwraps an engine result or raises its error.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T, EngineError> {
    fn or_raise(self) -> T {
        self.unwrap_or_else(|e| raise(e))
    }
}
