//! Finding a model's files. Two layouts are understood under the model directory:
//!
//! * a folder per model: `<model_dir>/<name>/<file>` (what the set-up and downloads write);
//! * a Hugging Face hub cache: `<model_dir>/models--<org>--<repo>/snapshots/<commit>/<path>`,
//!   with `refs/<revision>` naming the commit (what `huggingface-cli download` leaves).
//!
//! The folder wins when it has the file.

use std::path::{Component, Path, PathBuf};

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
    // A file of a model is a relative path below its folder: no root, no "..", whatever a
    // catalog row says.
    if local.is_empty() || !Path::new(local).components().all(|c| matches!(c, Component::Normal(_))) {
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

/// Fails with a typed error if `path` is missing or unreadable, naming the path.
pub(crate) fn check_readable(model: &str, path: &Path) -> Result<()> {
    match std::fs::File::open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(EngineError::ModelFileMissing { model: model.to_string(), path: path.to_path_buf() })
        }
        Err(e) => Err(EngineError::ModelFileUnreadable { model: model.to_string(), path: path.to_path_buf(), source: e }),
    }
}

/// A short fingerprint of the files a model was loaded from: their resolved paths, sizes,
/// modification times and inode numbers. Replacing or rewriting either file changes it, so
/// cached vectors keyed by it are never served for other files. Cheap: two `stat` calls, no
/// reading of the (large) files; a file copied elsewhere unchanged gets a new fingerprint,
/// which only costs cache misses.
pub fn identity(paths: &ModelPaths) -> String {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::MetadataExt;
    let mut h = Sha256::new();
    for path in [&paths.tokenizer, &paths.onnx] {
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        h.update(real.as_os_str().as_encoded_bytes());
        h.update([0]);
        if let Ok(m) = std::fs::metadata(&real) {
            for n in [m.len(), m.ino(), m.dev(), m.mtime() as u64, m.mtime_nsec() as u64] {
                h.update(n.to_le_bytes());
            }
        }
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_outside_the_model_folder_are_never_found() {
        let dir = std::env::temp_dir().join(format!("pg_embed_find_{}", std::process::id()));
        std::fs::create_dir_all(dir.join("m")).unwrap();
        std::fs::write(dir.join("secret"), "x").unwrap();
        std::fs::write(dir.join("m").join("model.onnx"), "x").unwrap();
        let mut spec = crate::catalog::Catalog::builtin().models[0].clone();
        spec.name = "m".into();
        spec.repo = String::new();
        assert!(find(&spec, &dir, "model.onnx").is_some());
        for bad in ["../secret", "/etc/passwd", "./../secret", "a/../../secret"] {
            assert!(find(&spec, &dir, bad).is_none(), "{bad}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn identity_changes_when_a_file_is_rewritten() {
        let dir = std::env::temp_dir().join(format!("pg_embed_identity_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let paths = ModelPaths { tokenizer: dir.join("tokenizer.json"), onnx: dir.join("model.onnx") };
        std::fs::write(&paths.tokenizer, "{}").unwrap();
        std::fs::write(&paths.onnx, "first").unwrap();
        let a = identity(&paths);
        assert_eq!(a, identity(&paths), "stable while nothing changes");
        assert_eq!(a.len(), 16);
        std::fs::write(&paths.onnx, "second file").unwrap();
        assert_ne!(a, identity(&paths), "a rewritten model file has a new identity");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
