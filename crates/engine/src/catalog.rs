//! The model catalog: which models pg_embed knows and how each one is run, as data.
//!
//! The entries live in `models.json` (compiled in, so a build always has a complete catalog).
//! Code reads a [`ModelSpec`]; nothing about a particular model is written in code.

use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// A short digest of everything an entry says about how its model runs (files, dimensions,
/// pooling, token limit, prefixes...): a user model registered again with other values gets
/// another digest, so vectors and model ids of the two definitions are never confused.
pub fn definition_digest(spec: &ModelSpec) -> String {
    use sha2::{Digest, Sha256};
    let json = serde_json::to_vec(spec).unwrap_or_default();
    Sha256::digest(&json).iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// The catalog compiled into this build.
pub const BUILTIN_JSON: &str = include_str!("../models.json");

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Catalog {
    pub models: Vec<ModelSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelSpec {
    /// The name SQL uses, also the model's folder name under the model directory.
    pub name: String,
    /// Hugging Face repository id and revision the files come from.
    pub repo: String,
    pub revision: String,
    pub files: ModelFiles,
    /// Length of the vectors the model produces.
    pub dims: usize,
    pub pooling: Pooling,
    /// Texts are truncated to this many tokens (special tokens included).
    pub max_tokens: usize,
    /// What the model is for (routing lists it under this role's preferences).
    pub role: crate::role::Role,
    pub query_prefix: String,
    pub document_prefix: String,
    /// Whether the int8 file keeps retrieval quality (and may serve `precision = auto`).
    pub int8_safe: bool,
    /// Why int8 is or is not marked safe.
    pub int8_note: String,
    pub license: String,
    /// Approximate memory the model needs in fp32, in megabytes, which routing compares with
    /// the memory limit and the machine's free memory: the memory a backend held after loading
    /// and running it where that was measured for routing (the 12-layer models and CodeBERTa,
    /// `benches/code_models.py`), otherwise the size of its fp32 files. The MiniLM models keep
    /// their file sizes on purpose: all-MiniLM-L6-v2 holds 159 MB, which would make it a
    /// medium model, and it is the one a fully loaded machine falls back to.
    pub approx_mb: u32,
    /// Where each local file is in the Hugging Face repository (for downloads and for reading
    /// a hub cache). Files without an entry are looked up under their local name.
    #[serde(default)]
    pub hub_files: std::collections::BTreeMap<String, String>,
    /// Expected SHA-256 of files, by local name, where known.
    #[serde(default)]
    pub sha256: std::collections::BTreeMap<String, String>,
    /// For a model its repository publishes as a training checkpoint (weights, config.json,
    /// slow-tokenizer files) rather than ONNX: the files `scripts/prepare_models.py fetch`
    /// downloads and converts, by path in the repository at `revision`, each with its SHA-256
    /// (empty where no public listing gives it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
    /// The special tokens the model's authors put around a text, with `$A` for the text, when
    /// they differ from the tokenizer's own (UniXcoder's `<s> <encoder-only> </s> $A </s>`).
    /// The converter writes it into `tokenizer.json`; loading checks that the file follows it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub input_template: String,
    /// Published retrieval quality, with its source, that ranks the model among its role's
    /// preferences.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub published_quality: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Checkpoint {
    pub files: std::collections::BTreeMap<String, String>,
    /// Values the repository's config.json must hold (from public copies of it): the
    /// converter refuses a config.json that differs, since no public listing pins its checksum.
    #[serde(default)]
    pub config: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelFiles {
    pub fp32: String,
    pub int8: String,
    pub tokenizer: String,
}

/// How token states become one vector.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pooling {
    /// "mean" (over the attention mask), "cls" (first token) or "pooled" (the graph already
    /// returns one vector per text).
    pub kind: PoolingKind,
    /// The output to read; the first output if it is not found.
    pub output: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PoolingKind {
    Mean,
    Cls,
    Pooled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Precision {
    Fp32,
    Int8,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Int8 => "int8",
        }
    }
}

impl Catalog {
    pub fn parse(json: &str) -> Result<Catalog> {
        serde_json::from_str(json).map_err(|e| EngineError::Catalog(e.to_string()))
    }

    pub fn builtin() -> Catalog {
        Catalog::parse(BUILTIN_JSON).expect("the built-in catalog is checked by tests")
    }

    pub fn get(&self, name: &str) -> Result<&ModelSpec> {
        self.models.iter().find(|m| m.name == name).ok_or_else(|| EngineError::UnknownModel(name.to_string()))
    }
}

impl ModelSpec {
    /// What is missing or wrong in this entry; empty when the entry is complete.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        for (field, value) in [
            ("name", &self.name),
            ("repo", &self.repo),
            ("revision", &self.revision),
            ("files.fp32", &self.files.fp32),
            ("files.int8", &self.files.int8),
            ("files.tokenizer", &self.files.tokenizer),
            ("pooling.output", &self.pooling.output),
            ("int8_note", &self.int8_note),
            ("license", &self.license),
        ] {
            if value.trim().is_empty() {
                p.push(format!("{field} is empty"));
            }
        }
        if validate_name(&self.name).is_err() {
            p.push("name is not a valid model name".into());
        }
        if self.dims == 0 {
            p.push("dims is 0".into());
        }
        if self.max_tokens < 8 {
            p.push("max_tokens is below 8".into());
        }
        if self.approx_mb == 0 {
            p.push("approx_mb is 0".into());
        }
        if let Some(c) = &self.checkpoint {
            if !c.files.contains_key("config.json") {
                p.push("checkpoint.files lacks config.json".into());
            }
            if !c.config.contains_key("model_type") || !c.config.contains_key("vocab_size") {
                p.push("checkpoint.config must give at least model_type and vocab_size".into());
            }
            if !(self.revision.len() == 40 && self.revision.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))) {
                p.push("a checkpoint's revision must be a commit (40 lower-case hex digits)".into());
            }
            for (path, sha) in &c.files {
                if path.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
                    p.push(format!("checkpoint file {path:?} is not a plain relative path"));
                }
                if !(sha.is_empty() || (sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()))) {
                    p.push(format!("checkpoint file {path}: sha256 is not 64 hex digits"));
                }
            }
        }
        if !self.input_template.is_empty() && self.input_template.split_whitespace().filter(|w| *w == "$A").count() != 1 {
            p.push("input_template must hold $A exactly once".into());
        }
        p
    }

    /// The local name of the ONNX file for a precision.
    pub fn onnx_file(&self, precision: Precision) -> &str {
        match precision {
            Precision::Fp32 => &self.files.fp32,
            Precision::Int8 => &self.files.int8,
        }
    }

    /// The file's path in the Hugging Face repository.
    pub fn hub_path<'a>(&'a self, local: &'a str) -> &'a str {
        self.hub_files.get(local).map_or(local, String::as_str)
    }
}

/// A model name must be one plain path component: letters, digits, `-`, `_`, `.`, not
/// starting with a dot, at most 100 bytes. So no name can reach outside the model directory.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && matches!(Path::new(name).components().collect::<Vec<_>>().as_slice(), [Component::Normal(_)]);
    if ok {
        Ok(())
    } else {
        Err(EngineError::InvalidModelName(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_entry_is_complete() {
        let cat = Catalog::builtin();
        for m in &cat.models {
            assert!(m.problems().is_empty(), "{}: {:?}", m.name, m.problems());
        }
        let names: Vec<_> = cat.models.iter().map(|m| m.name.as_str()).collect();
        for wanted in [
            "unixcoder-base", "codet5p-110m-embedding", "codebert-base", "all-MiniLM-L6-v2",
            "all-MiniLM-L12-v2", "all-mpnet-base-v2", "distilbert-base-uncased", "paraphrase-MiniLM-L3-v2",
            "codeberta-small-v1", "jina-embeddings-v2-base-code",
        ] {
            assert!(names.contains(&wanted), "catalog lacks {wanted}");
        }
        // A checkpoint's weights are pinned by checksum; ONNX downloads by their hub paths.
        for m in &cat.models {
            match &m.checkpoint {
                Some(c) => {
                    let weights: Vec<_> = c.files.iter().filter(|(p, _)| p.ends_with(".bin") || p.ends_with(".safetensors")).collect();
                    assert!(!weights.is_empty() && weights.iter().all(|(_, sha)| sha.len() == 64), "{}: {weights:?}", m.name);
                    assert!(m.hub_files.is_empty(), "{}: a checkpoint model has no ONNX files on the hub", m.name);
                }
                None => assert!(m.hub_files.contains_key(&m.files.fp32), "{}", m.name),
            }
        }
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "duplicate names");
    }

    #[test]
    fn an_incomplete_entry_is_reported() {
        let mut m = Catalog::builtin().get("all-MiniLM-L6-v2").unwrap().clone();
        m.license.clear();
        m.dims = 0;
        assert_eq!(m.problems(), vec!["license is empty".to_string(), "dims is 0".to_string()]);
    }

    #[test]
    fn names_cannot_leave_the_model_directory() {
        for bad in ["", "..", ".", "../../etc/passwd", "a/b", "/etc", ".hidden", "a\0b", "a b", &"x".repeat(101)] {
            assert!(validate_name(bad).is_err(), "{bad:?} must be refused");
        }
        for good in ["all-MiniLM-L6-v2", "my_model.v2"] {
            assert!(validate_name(good).is_ok(), "{good:?} must be accepted");
        }
    }

    #[test]
    fn unknown_model_is_an_error() {
        assert!(matches!(Catalog::builtin().get("nope"), Err(EngineError::UnknownModel(_))));
    }
}
