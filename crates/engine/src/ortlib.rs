//! Loading the ONNX Runtime shared library and creating its environment, once per process.
//!
//! The library is opened at run time (`ort`'s `load-dynamic`), from a path the host chooses.
//! A failed attempt leaves nothing behind, so a later call with a corrected path can succeed.
//! Once a library is loaded it stays for the life of the process: a different path afterwards
//! is reported, not silently ignored.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{EngineError, Result};
use crate::signals::with_signals_blocked;

struct Loaded {
    path: PathBuf,
    env: ort::environment::Environment,
}

static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);

/// Makes sure ONNX Runtime is loaded from `path` and returns the process's environment.
pub fn ensure_loaded(path: &Path) -> Result<ort::environment::Environment> {
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(l) = loaded.as_ref() {
        if l.path == path {
            return Ok(l.env.clone());
        }
        return Err(EngineError::RuntimeLibrary {
            path: path.to_path_buf(),
            reason: format!("this process already loaded ONNX Runtime from \"{}\"; a new path takes effect in a new session", l.path.display()),
            missing: false,
        });
    }
    let fail = |reason: String, missing: bool| EngineError::RuntimeLibrary { path: path.to_path_buf(), reason, missing };
    if !path.is_absolute() {
        return Err(fail("the path must be absolute".into(), false));
    }
    if !path.exists() {
        return Err(fail("no such file".into(), true));
    }
    let env = with_signals_blocked(|| -> Result<_> {
        let builder = ort::init_from(path).map_err(|e| fail(e.to_string(), false))?;
        builder.with_name("pg_embed").with_telemetry(false).build().map_err(|e| fail(e.to_string(), false))
    })?;
    *loaded = Some(Loaded { path: path.to_path_buf(), env: env.clone() });
    Ok(env)
}

/// The path ONNX Runtime was loaded from in this process, if any.
pub fn loaded_path() -> Option<PathBuf> {
    LOADED.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|l| l.path.clone())
}
