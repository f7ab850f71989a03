//! One loaded model: tokenizer + ONNX session + pooling, turning texts into unit vectors.

use std::path::PathBuf;

use crate::catalog::{ModelSpec, Precision};
use crate::error::{EngineError, Result};
use crate::normalize::l2_normalize;
use crate::pool::pool;
use crate::session::{OnnxSession, SessionOptions};
use crate::tensors;
use crate::batch::{plan, RunLimits};
use crate::tokenize::{prefix, TextTokenizer, Tokens};

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

/// In truncate mode a prefix of this many bytes per allowed token is tokenized first; only if
/// it does not already fill the token limit is the whole text tokenized.
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
        let session = OnnxSession::load(&env, &spec.name, &paths.onnx, &spec.pooling.output, &opts.session)?;
        let identity = crate::files::identity(&paths);
        let mut embedder = Embedder {
            spec: spec.clone(),
            precision: opts.precision,
            session_options: opts.session.clone(),
            identity,
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

    /// Identity of the files this model was loaded from (see [`crate::files::identity`]).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The ONNX Runtime options this model's session was built with.
    pub fn session_options(&self) -> &SessionOptions {
        &self.session_options
    }

    /// Embeds texts in one run per group of similar length (see [`crate::batch`]), returning
    /// vectors in input order, L2-normalised. `between_runs` is called before every run after
    /// the first; the host checks for cancellation there.
    ///
    /// int8 models run one text at a time: their activations are quantized with one scale per
    /// tensor, so in a batch a text's vector would depend on the other texts.
    pub fn embed_with(
        &mut self,
        texts: &[&str],
        limits: RunLimits,
        input: InputPolicy,
        between_runs: &mut dyn FnMut(),
    ) -> Result<Embedded> {
        // Every text becomes one or more token sequences ("items"); owner[k] is item k's text.
        let mut tokens: Vec<Tokens> = Vec::with_capacity(texts.len());
        let mut owner: Vec<usize> = Vec::with_capacity(texts.len());
        for (i, text) in texts.iter().enumerate() {
            input.check_size(text.len())?;
            match input.long_text {
                LongText::Truncate => {
                    // Tokenize a prefix first; if it already fills the token limit, the rest of
                    // the text cannot change the result. Otherwise (text with few tokens per
                    // byte: long runs of spaces, control characters, huge words) take it all.
                    let cut = prefix(text, self.spec.max_tokens.saturating_mul(BYTES_PER_TOKEN_BOUND));
                    let mut t = self.tokenizer.encode(cut)?;
                    if cut.len() < text.len() && !t.truncated {
                        t = self.tokenizer.encode(text)?;
                    }
                    tokens.push(t);
                    owner.push(i);
                }
                LongText::Error => {
                    let t = self.tokenizer.encode(text)?;
                    if t.truncated {
                        return Err(EngineError::TooManyTokens {
                            model: self.spec.name.clone(),
                            max_tokens: self.spec.max_tokens,
                        });
                    }
                    tokens.push(t);
                    owner.push(i);
                }
                LongText::Window => {
                    for w in self.tokenizer.encode_windows(text)? {
                        tokens.push(w);
                        owner.push(i);
                    }
                }
            }
        }
        let truncated = tokens.iter().filter(|t| t.truncated).count();
        let limits = match self.precision {
            Precision::Int8 => RunLimits { max_texts: 1, ..limits },
            Precision::Fp32 => limits,
        };
        let lengths: Vec<usize> = tokens.iter().map(|t| t.ids.len()).collect();
        let mut items: Vec<Vec<f32>> = vec![Vec::new(); tokens.len()];
        for (n, run) in plan(&lengths, limits).into_iter().enumerate() {
            if n > 0 {
                between_runs();
            }
            let batch: Vec<Tokens> = run.iter().map(|&i| tokens[i].clone()).collect();
            let inputs = tensors::build(&batch);
            let output = self.session.run(&inputs)?;
            let pooled = pool(self.spec.pooling.kind, &output.view(), &inputs.mask.view()).ok_or_else(|| {
                EngineError::ModelMismatch {
                    model: self.spec.name.clone(),
                    reason: format!("output shape {:?} does not fit {:?} pooling", output.shape(), self.spec.pooling.kind),
                }
            })?;
            for (i, mut v) in run.into_iter().zip(pooled) {
                l2_normalize(&mut v);
                items[i] = v;
            }
        }
        // Windows of one text: average weighted by token count, then normalise again.
        let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for ((v, &i), len) in items.into_iter().zip(&owner).zip(&lengths) {
            let acc = &mut vectors[i];
            if acc.is_empty() {
                *acc = vec![0.0; v.len()];
            }
            acc.iter_mut().zip(&v).for_each(|(a, x)| *a += x * *len as f32);
        }
        vectors.iter_mut().for_each(|v| l2_normalize(v));
        Ok(Embedded { vectors, truncated, tokens: lengths.iter().sum() })
    }

    /// [`Embedder::embed_with`] with default run limits and nothing between runs.
    pub fn embed(&mut self, texts: &[&str]) -> Result<Embedded> {
        self.embed_with(texts, RunLimits::default(), InputPolicy::default(), &mut || {})
    }
}
