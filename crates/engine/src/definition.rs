//! A user model's definition kept next to its files (`<model_dir>/<name>/pg_embed_model.json`),
//! so that a model folder describes itself.
//!
//! The database's registration (the SQL layer's table) is the authority; the file is what a
//! backend falls back to when the table has no row for the name. That is the case while a dump
//! is being restored (a table's rows, and the generated columns computed from them, can come
//! back before the registrations do) and on a node that has the model's files but not the
//! registration. The file is written whole or not at all (a temporary file renamed into place).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::catalog::{validate_name, ModelSpec};

/// The definition file's name inside a model's folder.
pub const FILE: &str = "pg_embed_model.json";

/// Larger files are not read (a definition is a few hundred bytes).
const MAX_BYTES: u64 = 64 << 10;

fn path(model_dir: &Path, name: &str) -> PathBuf {
    model_dir.join(name).join(FILE)
}

/// Writes `spec` as the definition of its model folder, which must exist.
pub fn write(model_dir: &Path, spec: &ModelSpec) -> std::io::Result<()> {
    validate_name(&spec.name).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let target = path(model_dir, &spec.name);
    let tmp = target.with_file_name(format!(".{FILE}.{}", std::process::id()));
    let json = serde_json::to_vec_pretty(spec).map_err(std::io::Error::other)?;
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The definition stored in `name`'s folder, if there is a valid one for that name.
pub fn read(model_dir: &Path, name: &str) -> Option<ModelSpec> {
    validate_name(name).ok()?;
    let p = path(model_dir, name);
    if std::fs::metadata(&p).ok()?.len() > MAX_BYTES {
        return None;
    }
    let spec: ModelSpec = serde_json::from_slice(&std::fs::read(&p).ok()?).ok()?;
    // The folder's own name decides; file names stay single components inside it.
    let files_ok = [&spec.files.fp32, &spec.files.tokenizer].iter().all(|f| validate_name(f).is_ok())
        && (spec.files.int8.is_empty() || validate_name(&spec.files.int8).is_ok());
    let in_range = (1..=16000).contains(&spec.dims) && (8..=8192).contains(&spec.max_tokens);
    (spec.name == name && files_ok && in_range).then_some(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_and_read_back_only_for_its_own_folder() {
        let dir = std::env::temp_dir().join(format!("pg_embed_definition_{}", std::process::id()));
        std::fs::create_dir_all(dir.join("m")).unwrap();
        std::fs::create_dir_all(dir.join("other")).unwrap();
        let mut spec = crate::catalog::Catalog::builtin().models[0].clone();
        spec.name = "m".into();
        write(&dir, &spec).unwrap();
        assert_eq!(read(&dir, "m"), Some(spec.clone()));
        // Copied into another folder, it defines nothing there.
        std::fs::copy(path(&dir, "m"), path(&dir, "other")).unwrap();
        assert_eq!(read(&dir, "other"), None);
        // A file name that would leave the folder makes the definition invalid.
        spec.files.fp32 = "../secret".into();
        std::fs::write(path(&dir, "m"), serde_json::to_vec(&spec).unwrap()).unwrap();
        assert_eq!(read(&dir, "m"), None);
        assert_eq!(read(&dir, "../m"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
