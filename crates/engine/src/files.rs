//! Finding a model's files. Two layouts are understood under the model directory:
//!
//! * a folder per model: `<model_dir>/<name>/<file>` (what the set-up and downloads write);
//! * a Hugging Face hub cache: `<model_dir>/models--<org>--<repo>/snapshots/<commit>/<path>`,
//!   with `refs/<revision>` naming the commit (what `huggingface-cli download` leaves).
//!
//! The folder wins when it has the file.

use std::path::{Path, PathBuf};

use hf_hub::{Cache, Repo, RepoType};

use crate::catalog::{ModelSpec, Precision};
use crate::error::{EngineError, Result};

/// The tokenizer and ONNX file of a model at a precision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPaths {
    pub tokenizer: PathBuf,
    pub onnx: PathBuf,
}

fn in_hub_cache(spec: &ModelSpec, model_dir: &Path, local: &str) -> Option<PathBuf> {
    if spec.repo.is_empty() {
        return None;
    }
    let revision = if spec.revision.is_empty() { "main" } else { &spec.revision };
    let repo = Repo::with_revision(spec.repo.clone(), RepoType::Model, revision.to_string());
    let path = Cache::new(model_dir.to_path_buf()).repo(repo).get(spec.hub_path(local))?;
    // A snapshot path must stay inside the model directory, whatever the links say.
    let real = std::fs::canonicalize(&path).ok()?;
    let root = std::fs::canonicalize(model_dir).ok()?;
    real.starts_with(&root).then_some(path)
}

/// Where `local` (a file name of `spec`) is, if anywhere.
pub fn find(spec: &ModelSpec, model_dir: &Path, local: &str) -> Option<PathBuf> {
    if local.is_empty() {
        return None;
    }
    let folder = model_dir.join(&spec.name).join(local);
    if folder.is_file() {
        return Some(folder);
    }
    in_hub_cache(spec, model_dir, local)
}

/// The files to load `spec` at `precision`, or the error naming the folder path tried.
pub fn locate(spec: &ModelSpec, model_dir: &Path, precision: Precision) -> Result<ModelPaths> {
    let get = |local: &str| {
        find(spec, model_dir, local).ok_or_else(|| {
            let path = model_dir.join(&spec.name).join(local);
            match std::fs::metadata(&path) {
                // There, but not readable (or not reachable) by this process.
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    EngineError::ModelFileUnreadable { model: spec.name.clone(), path, source: e }
                }
                _ => EngineError::ModelFileMissing { model: spec.name.clone(), path },
            }
        })
    };
    Ok(ModelPaths { tokenizer: get(&spec.files.tokenizer)?, onnx: get(spec.onnx_file(precision))? })
}
