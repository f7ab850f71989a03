//! Stage 1: text -> token ids, with the model's own `tokenizer.json`.
//!
//! Truncation and padding are set here explicitly rather than taken from the file: shipped
//! files often pad and truncate at 128 while the model was trained (and sentence-transformers
//! runs it) at another length. We truncate at the catalog's `max_tokens` and do not pad;
//! [`crate::tensors`] pads each batch to its own longest text.

use std::path::Path;

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{EngineError, Result};

/// One tokenized text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub ids: Vec<i64>,
    pub type_ids: Vec<i64>,
    /// True when the text had more tokens than the limit and was cut.
    pub truncated: bool,
}

pub struct TextTokenizer {
    inner: Tokenizer,
    /// The same tokenizer without truncation, for splitting whole texts into windows.
    whole: Tokenizer,
    /// The model's special tokens around a text ([CLS] and [SEP], <s> and </s>, or none).
    specials: Vec<u32>,
    max_tokens: usize,
}

impl TextTokenizer {
    pub fn from_file(model: &str, path: &Path, max_tokens: usize) -> Result<TextTokenizer> {
        crate::files::check_readable(model, path)?;
        // Never let the tokenizer start its own thread pool inside a host process that forks.
        tokenizers::utils::parallelism::set_parallelism(false);
        let mut inner = Tokenizer::from_file(path).map_err(|e| EngineError::ModelFileInvalid {
            model: model.to_string(),
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        inner.with_padding(None);
        let mut whole = inner.clone();
        whole.with_truncation(None).map_err(|e| EngineError::ModelFileInvalid {
            model: model.to_string(),
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let specials = inner.encode("", true).map(|e| e.get_ids().to_vec()).unwrap_or_default();
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                direction: TruncationDirection::Right,
                stride: 0,
            }))
            .map_err(|e| EngineError::ModelFileInvalid {
                model: model.to_string(),
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        Ok(TextTokenizer { inner, whole, specials, max_tokens })
    }

    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// The text's first `max_tokens` tokens (special tokens included).
    pub fn encode(&self, text: &str) -> Result<Tokens> {
        let enc = self.inner.encode(text, true).map_err(|e| EngineError::Tokenize(e.to_string()))?;
        Ok(tokens_of(&enc, !enc.get_overflowing().is_empty()))
    }

    /// The whole text as consecutive windows of at most `max_tokens` tokens, each wrapped in
    /// the model's special tokens; a text that fits is one window. (Split here rather than with
    /// the tokenizer's own overflow, whose windows after the first are not usable.)
    pub fn encode_windows(&self, text: &str) -> Result<Vec<Tokens>> {
        let body = self.whole.encode(text, false).map_err(|e| EngineError::Tokenize(e.to_string()))?;
        let (head, tail) = match self.specials.len() {
            0 => (&[][..], &[][..]),
            1 => (&self.specials[..1], &[][..]),
            _ => (&self.specials[..1], &self.specials[1..]),
        };
        let room = self.max_tokens.saturating_sub(head.len() + tail.len()).max(1);
        let ids = body.get_ids();
        let mut windows = Vec::new();
        for chunk in ids.chunks(room).chain(if ids.is_empty() { Some(&[][..]) } else { None }) {
            let all: Vec<i64> = head.iter().chain(chunk).chain(tail).map(|&i| i64::from(i)).collect();
            windows.push(Tokens { type_ids: vec![0; all.len()], ids: all, truncated: false });
        }
        Ok(windows)
    }
}

fn tokens_of(enc: &tokenizers::Encoding, truncated: bool) -> Tokens {
    Tokens {
        ids: enc.get_ids().iter().map(|&i| i64::from(i)).collect(),
        type_ids: enc.get_type_ids().iter().map(|&i| i64::from(i)).collect(),
        truncated,
    }
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character boundary.
pub fn prefix(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::prefix;

    #[test]
    fn prefix_cuts_on_character_boundaries() {
        assert_eq!(prefix("héllo", 2), "h");
        assert_eq!(prefix("héllo", 3), "hé");
        assert_eq!(prefix("abc", 10), "abc");
        assert_eq!(prefix("🎉🎉", 5), "🎉");
    }
}
