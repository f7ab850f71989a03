//! Typed errors of the engine. The SQL layer maps each variant to a SQLSTATE, a detail and
//! a hint; the engine only says what went wrong and with which path or value.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The ONNX Runtime shared library could not be loaded (missing, not ONNX Runtime, or too old).
    #[error("could not load the ONNX Runtime library \"{}\": {reason}", path.display())]
    RuntimeLibrary { path: PathBuf, reason: String, missing: bool },

    /// A file a model needs is not there.
    #[error("model file \"{}\" does not exist", path.display())]
    ModelFileMissing { model: String, path: PathBuf },

    /// A file a model needs is there but cannot be read (permissions, I/O).
    #[error("could not read model file \"{}\": {source}", path.display())]
    ModelFileUnreadable { model: String, path: PathBuf, #[source] source: std::io::Error },

    /// A file was read but is not a usable model or tokenizer.
    #[error("model file \"{}\" is not valid: {reason}", path.display())]
    ModelFileInvalid { model: String, path: PathBuf, reason: String },

    /// The model's inputs or outputs are not what its catalog entry says.
    #[error("model \"{model}\" does not match its catalog entry: {reason}")]
    ModelMismatch { model: String, reason: String },

    /// A (user-registered) model fails on inputs of its declared token limit, usually because
    /// the limit exceeds the model's position embeddings.
    #[error("model \"{model}\" fails on an input of {max_tokens} tokens, its declared max_tokens")]
    MaxTokensTooLarge { model: String, max_tokens: usize, reason: String },

    /// No catalog entry has this name.
    #[error("model \"{0}\" is not in the catalog")]
    UnknownModel(String),

    /// Routing found no model with its files for a role (nor a fallback).
    #[error("no model is available for {0}")]
    NoModelForRole(String),

    /// A model name that could escape the model directory or is otherwise malformed.
    #[error("invalid model name \"{0}\"")]
    InvalidModelName(String),

    /// An argument of a model registration out of its range.
    #[error("invalid model registration: {0}")]
    InvalidRegistration(String),

    /// A text over the hard size bound, refused before tokenizing.
    #[error("text of {bytes} bytes exceeds pg_embed.max_text_size ({limit} bytes)")]
    TextTooLarge { bytes: usize, limit: usize },

    /// A text over the model's token limit while the policy is to refuse such texts.
    #[error("text has more than {max_tokens} tokens, the limit of model \"{model}\"")]
    TooManyTokens { model: String, max_tokens: usize },

    /// A buffer sized by the input (token ids, a batch's tensors, window sums) could not be
    /// allocated. Raised instead of letting the allocation abort the host process.
    #[error("out of memory while allocating {bytes} bytes for {what}")]
    OutOfMemory { what: String, bytes: usize },

    /// The tokenizer refused a text.
    #[error("could not tokenize text: {0}")]
    Tokenize(String),

    /// ONNX Runtime failed while running a model.
    #[error("ONNX Runtime failed while running model \"{model}\": {reason}")]
    Inference { model: String, reason: String },

    /// Loading the model would exceed the backend's memory limit even after evicting every
    /// model that may be evicted.
    #[error("model \"{model}\" does not fit in pg_embed.memory_limit ({limit_mb} MB)")]
    MemoryLimit { model: String, need_mb: u64, limit_mb: u64, held_mb: u64 },

    /// The model's repository has no ONNX files: its checkpoint is converted by a command.
    #[error("model \"{0}\" is published as a checkpoint that must be converted, not as ONNX files")]
    NeedsConversion(String),

    /// Fetching a model's files failed (network, server, disk).
    #[error("could not download model \"{model}\": {reason}")]
    Download { model: String, reason: String },

    /// A downloaded file is not the file the catalog or the hub promised.
    #[error("checksum mismatch for {file} of model \"{model}\": expected sha256 {expected}, got {actual}")]
    ChecksumMismatch { model: String, file: String, expected: String, actual: String },

    /// An ensemble member has no projection onto the ensemble's reference model.
    #[error("no projection of model \"{model}\" onto model \"{reference}\"")]
    ProjectionMissing { model: String, reference: String },

    /// A stored projection does not fit the vectors it is applied to.
    #[error("projection does not fit: {reason}")]
    ProjectionShape { reason: String },

    /// Models, weights or a method of an ensemble or a projection that cannot be used.
    #[error("{0}")]
    EnsembleArgument(String),

    #[error("{0}")]
    ChunkArgument(String),

    /// Too few sample texts to learn a projection from.
    #[error("the sample has {rows} texts; learning a projection needs at least {min}")]
    SampleTooSmall { rows: usize, min: usize },

    /// The host asked a long operation to stop (a cancel); it stopped and cleaned up.
    #[error("{0} cancelled")]
    Cancelled(String),

    /// The catalog file itself is malformed.
    #[error("invalid model catalog: {0}")]
    Catalog(String),
}

pub type Result<T> = std::result::Result<T, EngineError>;
