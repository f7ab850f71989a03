//! One loaded model: tokenizer + ONNX session + pooling, turning texts into unit vectors.

use std::path::PathBuf;

use crate::catalog::{ModelSpec, Precision};
use crate::error::{EngineError, Result};
use crate::normalize::l2_normalize;
use crate::pool::pool;
use crate::session::{OnnxSession, SessionOptions};
use crate::tensors;
use crate::batch::{plan, RunLimits};
use crate::reserve;
use crate::tokenize::{TextTokenizer, Tokens, Windows, PIECE_BYTES};

/// Where to find a model's files and how to run it.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The model directory; the model's files are in `model_dir/<name>/`.
    pub model_dir: PathBuf,
    /// The ONNX Runtime shared library (loaded once per process).
    pub runtime_library: PathBuf,
    pub precision: Precision,
    pub session: SessionOptions,
}

/// What to do with a text longer than the model's token limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongText {
    /// Embed its first `max_tokens` tokens (reported in [`Embedded::truncated`]).
    Truncate,
    /// Refuse it with [`EngineError::TooManyTokens`].
    Error,
    /// Embed every window of `max_tokens` tokens and average the window vectors, weighted by
    /// their token counts.
    Window,
}

/// Limits on the texts themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputPolicy {
    pub long_text: LongText,
    /// Texts longer than this many bytes are refused before tokenizing, so memory and time
    /// stay bounded whatever the input.
    pub max_bytes: usize,
}

impl InputPolicy {
    /// Refuses a text of `bytes` bytes over the hard size bound.
    pub fn check_size(&self, bytes: usize) -> Result<()> {
        if bytes > self.max_bytes {
            return Err(EngineError::TextTooLarge { bytes, limit: self.max_bytes });
        }
        Ok(())
    }
}

impl Default for InputPolicy {
    fn default() -> Self {
        InputPolicy { long_text: LongText::Truncate, max_bytes: 8 << 20 }
    }
}

/// In truncate and error mode a text is tokenized in pieces of this many bytes per allowed
/// token, stopping as soon as the token limit is passed: usually the first piece is enough.
/// Text with few tokens per byte (long runs of spaces, control characters, huge words) takes
/// more pieces, each bounded and followed by an interrupt check.
pub const BYTES_PER_TOKEN_BOUND: usize = 64;

/// The vectors of a batch, plus how many of its texts were truncated and how many tokens
/// the model ran (padding excluded).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Embedded {
    pub vectors: Vec<Vec<f32>>,
    pub truncated: usize,
    pub tokens: usize,
}

pub struct Embedder {
    spec: ModelSpec,
    precision: Precision,
    session_options: SessionOptions,
    identity: String,
    /// The model directory the files were found under.
    model_dir: PathBuf,
    tokenizer: TextTokenizer,
    session: OnnxSession,
}

impl Embedder {
    pub fn load(spec: &ModelSpec, opts: &LoadOptions) -> Result<Embedder> {
        crate::catalog::validate_name(&spec.name)?;
        // File names are single path components too: nothing may be read outside the folder.
        for file in [&spec.files.tokenizer, &spec.files.fp32, &spec.files.int8] {
            if !file.is_empty() {
                crate::catalog::validate_name(file)?;
            }
        }
        let env = crate::ortlib::ensure_loaded(&opts.runtime_library)?;
        let paths = crate::files::locate(spec, &opts.model_dir, opts.precision)?;
        let tokenizer = TextTokenizer::from_file(&spec.name, &paths.tokenizer, spec.max_tokens)?;
        // A model its authors run with other special tokens than its tokenizer's own (UniXcoder's
        // mode token) gives other vectors without them: refuse a tokenizer.json that lacks them.
        let template = spec.input_template.split_whitespace().collect::<Vec<_>>().join(" ");
        if !template.is_empty() && tokenizer.layout() != template {
            return Err(EngineError::ModelFileInvalid {
                model: spec.name.clone(),
                path: paths.tokenizer.clone(),
                reason: format!("it puts \"{}\" around a text, the model expects \"{template}\" (build it with scripts/prepare_models.py fetch or scripts/make_tokenizer.py --template)", tokenizer.layout()),
            });
        }
        let session = OnnxSession::load(&env, &spec.name, &paths.onnx, &spec.pooling.output, &opts.session)?;
        let identity = crate::files::identity(&paths);
        let mut embedder = Embedder {
            spec: spec.clone(),
            precision: opts.precision,
            session_options: opts.session.clone(),
            identity,
            model_dir: opts.model_dir.clone(),
            tokenizer,
            session,
        };
        // One tiny run proves the graph, the tokenizer and the catalog agree before the model is used.
        let probe = embedder.embed(&["pg_embed"])?;
        let dims = probe.vectors.first().map_or(0, Vec::len);
        if dims != spec.dims {
            return Err(EngineError::ModelMismatch {
                model: spec.name.clone(),
                reason: format!("it produces {dims}-dimensional vectors, the catalog says {}", spec.dims),
            });
        }
        Ok(embedder)
    }

    /// Runs one input of the model's full token limit. A model registered with a limit beyond
    /// its position embeddings fails here, when it is loaded, with an error that names the
    /// setting, rather than on the first long text with ONNX Runtime's message alone.
    pub fn check_max_tokens(&mut self) -> Result<()> {
        let text = "pg_embed ".repeat(self.spec.max_tokens);
        let limits = RunLimits { max_texts: 1, max_tokens: usize::MAX, ..RunLimits::default() };
        match self.embed_with(&[&text], limits, InputPolicy::default(), &mut || {}) {
            Ok(_) => Ok(()),
            Err(EngineError::Inference { model, reason }) => {
                Err(EngineError::MaxTokensTooLarge { model, max_tokens: self.spec.max_tokens, reason })
            }
            Err(e) => Err(e),
        }
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The model directory this model's files were found under.
    pub fn model_dir(&self) -> &std::path::Path {
        &self.model_dir
    }

    /// Identity of the files this model was loaded from (see [`crate::files::identity`]).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The ONNX Runtime options this model's session was built with.
    pub fn session_options(&self) -> &SessionOptions {
        &self.session_options
    }

    /// The model's tokenizer.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Embeds texts in one run per group of similar length (see [`crate::batch`]), returning
    /// vectors in input order, L2-normalised. `interrupt` is called after every piece of text
    /// tokenized and before every run after the first; the host checks for cancellation
    /// there, so a cancel lands within one piece or one run whatever the size of the texts.
    ///
    /// In window mode a text of more than one window is embedded as it is tokenized, a group of
    /// windows at a time, keeping only the running token-weighted sum of its window vectors.
    ///
    /// int8 models run one text at a time: their activations are quantized with one scale per
    /// tensor, so in a batch a text's vector would depend on the other texts.
    pub fn embed_with(
        &mut self,
        texts: &[&str],
        limits: RunLimits,
        input: InputPolicy,
        interrupt: &mut dyn FnMut(),
    ) -> Result<Embedded> {
        let limits = self.run_limits(limits);
        // Texts that are one token sequence each ("items") are batched together at the end;
        // owner[k] is item k's text.
        let mut items: Vec<Tokens> = reserve::with_capacity(texts.len(), "token sequences")?;
        let mut owner: Vec<usize> = reserve::with_capacity(texts.len(), "token sequences")?;
        let mut vectors: Vec<Vec<f32>> = reserve::filled(texts.len(), Vec::new(), "vectors")?;
        let mut tokens = 0usize;
        let piece_bytes = self.spec.max_tokens.saturating_mul(BYTES_PER_TOKEN_BOUND);
        for (i, text) in texts.iter().enumerate() {
            input.check_size(text.len())?;
            match input.long_text {
                LongText::Truncate | LongText::Error => {
                    let t = self.tokenizer.encode_truncated(text, piece_bytes, interrupt)?;
                    if t.truncated && input.long_text == LongText::Error {
                        return Err(EngineError::TooManyTokens {
                            model: self.spec.name.clone(),
                            max_tokens: self.spec.max_tokens,
                        });
                    }
                    items.push(t);
                    owner.push(i);
                }
                LongText::Window => {
                    let mut windows = self.tokenizer.windows(text, PIECE_BYTES);
                    let Some(first) = windows.next(interrupt)? else { continue };
                    match windows.next(interrupt)? {
                        None => {
                            items.push(first);
                            owner.push(i);
                        }
                        Some(second) => {
                            let run = Runner { session: &mut self.session, spec: &self.spec, limits };
                            let (sum, n) = run.windows(&mut windows, vec![first, second], interrupt)?;
                            vectors[i] = sum;
                            tokens += n;
                        }
                    }
                }
            }
        }
        let truncated = items.iter().filter(|t| t.truncated).count();
        let lengths: Vec<usize> = items.iter().map(|t| t.ids.len()).collect();
        tokens += lengths.iter().sum::<usize>();
        let mut run = Runner { session: &mut self.session, spec: &self.spec, limits };
        let pooled = run.all(&items, &lengths, interrupt)?;
        // Windows of one text: average weighted by token count, then normalise again (a text of
        // one window or one truncated sequence goes through the same arithmetic).
        for ((v, &i), &len) in pooled.iter().zip(&owner).zip(&lengths) {
            add_weighted(&mut vectors[i], v, len)?;
        }
        vectors.iter_mut().for_each(|v| l2_normalize(v));
        Ok(Embedded { vectors, truncated, tokens })
    }

    /// Unit vectors of sequences already tokenized, run in the groups [`plan`] makes (no
    /// window averaging): a way to check the tokenizing stage apart from the model.
    pub fn embed_tokens(&mut self, items: &[Tokens], limits: RunLimits) -> Result<Vec<Vec<f32>>> {
        let lengths: Vec<usize> = items.iter().map(|t| t.ids.len()).collect();
        let limits = self.run_limits(limits);
        Runner { session: &mut self.session, spec: &self.spec, limits }.all(items, &lengths, &mut || {})
    }

    /// int8 models run one sequence at a time (see [`Embedder::embed_with`]).
    fn run_limits(&self, limits: RunLimits) -> RunLimits {
        match self.precision {
            Precision::Int8 => RunLimits { max_texts: 1, ..limits },
            Precision::Fp32 => limits,
        }
    }

    /// [`Embedder::embed_with`] with default run limits and nothing between runs.
    pub fn embed(&mut self, texts: &[&str]) -> Result<Embedded> {
        self.embed_with(texts, RunLimits::default(), InputPolicy::default(), &mut || {})
    }
}

/// Runs token sequences through the model: the tensors, session, pooling and normalisation
/// stages for one batch at a time. Borrows only the session, so a text's windows can be run
/// while the tokenizer still holds the text.
struct Runner<'a> {
    session: &'a mut OnnxSession,
    spec: &'a ModelSpec,
    limits: RunLimits,
}

impl Runner<'_> {
    /// One unit vector per sequence, in order, run in the groups [`plan`] makes;
    /// `interrupt` is called before every run after the first.
    fn all(&mut self, items: &[Tokens], lengths: &[usize], interrupt: &mut dyn FnMut()) -> Result<Vec<Vec<f32>>> {
        let mut out: Vec<Vec<f32>> = reserve::filled(items.len(), Vec::new(), "vectors")?;
        for (n, run) in plan(lengths, self.limits).into_iter().enumerate() {
            if n > 0 {
                interrupt();
            }
            let batch: Vec<&Tokens> = run.iter().map(|&i| &items[i]).collect();
            for (i, v) in run.into_iter().zip(self.batch(&batch)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Runs one batch: unit vectors in the batch's order.
    fn batch(&mut self, batch: &[&Tokens]) -> Result<Vec<Vec<f32>>> {
        let inputs = tensors::build(batch)?;
        let output = self.session.run(&inputs)?;
        let mut pooled = pool(self.spec.pooling.kind, &output.view(), &inputs.mask.view()).ok_or_else(|| {
            EngineError::ModelMismatch {
                model: self.spec.name.clone(),
                reason: format!("output shape {:?} does not fit {:?} pooling", output.shape(), self.spec.pooling.kind),
            }
        })?;
        pooled.iter_mut().for_each(|v| l2_normalize(v));
        Ok(pooled)
    }

    /// The token-weighted sum of a long text's window vectors (not yet normalised) and its
    /// token count, `first` being the windows already taken from `windows`. Windows are run
    /// `max_texts` at a time as they are tokenized, so only one group's tokens, tensors and
    /// vectors exist at once.
    fn windows(mut self, windows: &mut Windows<'_>, first: Vec<Tokens>, interrupt: &mut dyn FnMut()) -> Result<(Vec<f32>, usize)> {
        let group = self.limits.max_texts.max(1);
        let mut sum = Vec::new();
        let mut tokens = 0usize;
        let mut pending = first;
        let mut done = false;
        loop {
            while !done && pending.len() < group {
                match windows.next(interrupt)? {
                    Some(w) => pending.push(w),
                    None => done = true,
                }
            }
            if pending.is_empty() {
                return Ok((sum, tokens));
            }
            let lengths: Vec<usize> = pending.iter().map(|t| t.ids.len()).collect();
            for (v, &len) in self.all(&pending, &lengths, interrupt)?.iter().zip(&lengths) {
                add_weighted(&mut sum, v, len)?;
            }
            tokens += lengths.iter().sum::<usize>();
            pending.clear();
            interrupt();
        }
    }
}

/// `acc += v * weight`, starting from zeros.
fn add_weighted(acc: &mut Vec<f32>, v: &[f32], weight: usize) -> Result<()> {
    if acc.is_empty() {
        *acc = reserve::filled(v.len(), 0.0, "the window sum")?;
    }
    acc.iter_mut().zip(v).for_each(|(a, x)| *a += x * weight as f32);
    Ok(())
}
