//! Downloading a model's files from the Hugging Face hub (or a server with the same layout),
//! verified and installed atomically.
//!
//! Files are fetched with hf-hub into a private staging cache inside the model directory, each
//! checked against the SHA-256 the catalog gives or, failing that, the one the hub gives (a
//! large file's ETag is its SHA-256), copied into a staging folder under their local names, and
//! only then renamed into place as `<model_dir>/<name>/`. A model folder therefore appears
//! whole or not at all: nothing half-written is ever loaded. Embedding never calls this.
//!
//! Each file is fetched on a thread of its own (created with the host's signals blocked), while
//! the calling thread waits in short steps, asking the host whether to stop (a cancel) and
//! watching the time limit; either ends the download at once, with its partial files removed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Repo, RepoType};
use sha2::{Digest, Sha256};

use crate::catalog::{validate_name, ModelSpec};
use crate::error::{EngineError, Result};
use crate::signals::with_signals_blocked;

/// One installed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

pub(crate) fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The hub's checksum for a downloaded file: hf-hub names the blob after the ETag, and a
/// large file's ETag is its SHA-256.
fn hub_sha256(path: &Path) -> Option<String> {
    let target = std::fs::read_link(path).ok()?;
    let name = target.file_name()?.to_str()?.to_string();
    (name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())).then_some(name)
}

/// How long a download may take, and how the host asks it to stop.
pub struct Limits<'a> {
    /// The whole download (every file) must end within this.
    pub timeout: Duration,
    /// Called every [`POLL`] while a file downloads; `true` stops the download (a cancel).
    pub stop: &'a mut dyn FnMut() -> bool,
}

/// How often a waiting download asks the host whether to stop.
pub const POLL: Duration = Duration::from_millis(50);

/// Downloads and installs `spec`'s files into `<model_dir>/<name>/`. `endpoint` overrides the
/// hub's address (None: hf-hub's default).
pub fn download(spec: &ModelSpec, model_dir: &Path, endpoint: Option<&str>, limits: Limits<'_>) -> Result<Vec<Fetched>> {
    let started = Instant::now();
    let Limits { timeout, stop } = limits;
    validate_name(&spec.name)?;
    if spec.checkpoint.is_some() {
        return Err(EngineError::NeedsConversion(spec.name.clone()));
    }
    let fail = |reason: String| EngineError::Download { model: spec.name.clone(), reason };
    let pid = std::process::id();
    let cache = model_dir.join(format!(".download-cache-{}-{pid}", spec.name));
    let staging = model_dir.join(format!(".download-{}-{pid}", spec.name));
    let result = (|| -> Result<Vec<Fetched>> {
        std::fs::create_dir_all(&staging).map_err(|e| fail(format!("cannot create {}: {e}", staging.display())))?;
        let mut builder = ApiBuilder::new().with_cache_dir(cache.clone()).with_progress(false).with_retries(0);
        if let Some(e) = endpoint {
            builder = builder.with_endpoint(e.trim_end_matches('/').to_string());
        }
        let api = builder.build().map_err(|e| fail(e.to_string()))?;
        let revision = if spec.revision.is_empty() { "main" } else { &spec.revision };
        let repo = Repo::with_revision(spec.repo.clone(), RepoType::Model, revision.to_string());
        let mut fetched = Vec::new();
        let wanted = [(&spec.files.tokenizer, true), (&spec.files.fp32, true), (&spec.files.int8, false)];
        for (local, required) in wanted {
            if local.is_empty() {
                continue;
            }
            validate_name(local)?;
            let remote = spec.hub_path(local);
            // The transfer runs on its own thread, which must never take the host's signals;
            // this thread stays responsive to them and stops waiting on a cancel or timeout
            // (the transfer thread then fails on its own once its folder is gone).
            let (tx, rx) = mpsc::channel();
            let (worker_api, worker_repo, worker_remote) = (api.clone(), repo.clone(), remote.to_string());
            with_signals_blocked(|| {
                std::thread::spawn(move || {
                    let _ = tx.send(worker_api.repo(worker_repo).download(&worker_remote));
                })
            });
            let outcome = loop {
                match rx.recv_timeout(POLL) {
                    Ok(outcome) => break outcome,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return Err(fail(format!("{remote}: the transfer ended without a result"))),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if stop() {
                            return Err(EngineError::Cancelled(format!("download of \"{}\"", spec.name)));
                        }
                        if started.elapsed() > timeout {
                            return Err(fail(format!("{remote}: no answer within pg_embed.download_timeout ({} s)", timeout.as_secs())));
                        }
                    }
                }
            };
            let path = match outcome {
                Ok(p) => p,
                Err(_) if !required => continue,
                Err(e) => return Err(fail(format!("{remote}: {e}"))),
            };
            let actual = sha256_of(&path).map_err(|e| fail(format!("{remote}: {e}")))?;
            let expected = spec.sha256.get(local.as_str()).cloned().or_else(|| hub_sha256(&path));
            if let Some(expected) = expected {
                if !expected.eq_ignore_ascii_case(&actual) {
                    return Err(EngineError::ChecksumMismatch { model: spec.name.clone(), file: remote.to_string(), expected, actual });
                }
            }
            let dst = staging.join(local);
            let bytes = std::fs::copy(&path, &dst).map_err(|e| fail(format!("{}: {e}", dst.display())))?;
            std::fs::File::open(&dst).and_then(|f| f.sync_all()).map_err(|e| fail(e.to_string()))?;
            fetched.push(Fetched { file: local.clone(), bytes, sha256: actual });
        }
        install(&staging, &model_dir.join(&spec.name)).map_err(|e| fail(format!("installing: {e}")))?;
        Ok(fetched)
    })();
    let _ = std::fs::remove_dir_all(&cache);
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// Renames the complete `staging` folder to `dst`, replacing what was there.
fn install(staging: &Path, dst: &Path) -> std::io::Result<()> {
    let old: PathBuf = dst.with_file_name(format!(
        ".replaced-{}-{}",
        dst.file_name().and_then(|n| n.to_str()).unwrap_or("model"),
        std::process::id()
    ));
    let had_old = dst.exists();
    if had_old {
        std::fs::rename(dst, &old)?;
    }
    match std::fs::rename(staging, dst) {
        Ok(()) => {
            if had_old {
                let _ = std::fs::remove_dir_all(&old);
            }
            Ok(())
        }
        Err(e) => {
            if had_old {
                let _ = std::fs::rename(&old, dst);
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_replaces_whole_folders() {
        let root = std::env::temp_dir().join(format!("pg_embed-install-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("stage")).unwrap();
        std::fs::write(root.join("stage/a"), b"new").unwrap();
        std::fs::create_dir_all(root.join("model")).unwrap();
        std::fs::write(root.join("model/a"), b"old").unwrap();
        std::fs::write(root.join("model/stale"), b"x").unwrap();
        install(&root.join("stage"), &root.join("model")).unwrap();
        assert_eq!(std::fs::read(root.join("model/a")).unwrap(), b"new");
        assert!(!root.join("model/stale").exists() && !root.join("stage").exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn sha256_is_hex_of_the_content() {
        let p = std::env::temp_dir().join(format!("pg_embed-sha-{}", std::process::id()));
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(sha256_of(&p).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        std::fs::remove_file(&p).unwrap();
    }
}
