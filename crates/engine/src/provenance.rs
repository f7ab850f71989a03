//! Provenance: a short, exact name for the model file that made a vector.
//!
//! A model id is `<name>@<revision>/<precision>/<first 12 hex digits of the ONNX file's
//! SHA-256>`. The name and revision come from the catalog; the revision alone is not enough
//! (the catalog follows `main`, and a user can replace files in place), so the digest of the
//! file actually loaded is part of the id. Hashing a 90 MB file takes a few hundred
//! milliseconds, so digests are kept per process, keyed by path, size and modification time:
//! a file replaced in place gets a new digest, an unchanged one is hashed once.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::catalog::{ModelSpec, Precision};
use crate::download::sha256_of;
use crate::error::{EngineError, Result};
use crate::files;

/// Hex digits of the digest kept in a model id: 48 bits, ample to tell files apart.
pub const DIGEST_CHARS: usize = 12;

#[derive(Clone, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
}

thread_local! {
    static DIGESTS: RefCell<HashMap<PathBuf, (FileStamp, String)>> = RefCell::new(HashMap::new());
}

/// The SHA-256 (hex) of `path`, from the per-process cache when the file's size and
/// modification time are unchanged since it was last hashed.
pub fn file_digest(path: &Path) -> std::io::Result<String> {
    let meta = std::fs::metadata(path)?;
    let stamp = FileStamp { len: meta.len(), modified: meta.modified().ok() };
    if let Some(hit) = DIGESTS.with(|d| d.borrow().get(path).filter(|(s, _)| *s == stamp).map(|(_, h)| h.clone())) {
        return Ok(hit);
    }
    let digest = sha256_of(path)?;
    DIGESTS.with(|d| d.borrow_mut().insert(path.to_path_buf(), (stamp, digest.clone())));
    Ok(digest)
}

/// The model id of `spec` at `precision`, from the files under `model_dir`.
pub fn model_id(spec: &ModelSpec, model_dir: &Path, precision: Precision, definition: Option<&str>) -> Result<String> {
    let paths = files::locate(spec, model_dir, precision)?;
    let digest = file_digest(&paths.onnx)
        .map_err(|source| EngineError::ModelFileUnreadable { model: spec.name.clone(), path: paths.onnx.clone(), source })?;
    let revision = if spec.revision.is_empty() { "local" } else { &spec.revision };
    // A user model's definition is part of what made a vector: `name@revision+definition/...`.
    let definition = definition.map(|d| format!("+{d}")).unwrap_or_default();
    Ok(format!("{}@{}{definition}/{}/{}", spec.name, revision, precision.as_str(), &digest[..DIGEST_CHARS]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_follows_the_file_content() {
        let dir = std::env::temp_dir().join(format!("pg_embed-provenance-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("model.onnx");
        std::fs::write(&p, b"abc").unwrap();
        // SHA-256 of "abc" (FIPS 180-2 test vector).
        assert_eq!(file_digest(&p).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        // Replaced in place with another size: hashed again, not served from the cache.
        std::fs::write(&p, b"abcd").unwrap();
        assert_eq!(file_digest(&p).unwrap(), "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
