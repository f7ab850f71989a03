//! Resolving a model name to its catalog entry: the built-in catalog first, then the models
//! users registered in the extension's table `pg_embed_user_models`.
//!
//! A user model's entry is read once per backend and kept: the files of a name are assumed
//! never to change in place (which is also what lets `embed(text, model)` be IMMUTABLE).

use std::cell::RefCell;
use std::collections::HashMap;

use pgrx::prelude::*;

use pg_embed_engine::catalog::{validate_name, ModelFiles, Pooling, PoolingKind};
use pg_embed_engine::{Catalog, EngineError, ModelSpec};

thread_local! {
    static BUILTIN: Catalog = Catalog::builtin();
    static USER: RefCell<HashMap<String, ModelSpec>> = RefCell::new(HashMap::new());
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    Builtin,
    User,
}

impl ModelSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelSource::Builtin => "builtin",
            ModelSource::User => "user",
        }
    }
}

const USER_COLUMNS: &str = "name, dims, pooling, pooled_output, max_tokens, role, fp32_file, int8_file, \
     tokenizer_file, int8_safe, query_prefix, document_prefix, repo, revision, license";

fn spec_from_row(row: &pgrx::spi::SpiHeapTupleData) -> Result<ModelSpec, pgrx::spi::Error> {
    let text = |i: usize| -> Result<String, pgrx::spi::Error> { Ok(row.get::<String>(i)?.unwrap_or_default()) };
    let kind = match text(3)?.as_str() {
        "cls" => PoolingKind::Cls,
        "pooled" => PoolingKind::Pooled,
        _ => PoolingKind::Mean,
    };
    let output = text(4)?;
    Ok(ModelSpec {
        name: text(1)?,
        dims: row.get::<i32>(2)?.unwrap_or(0).max(0) as usize,
        pooling: Pooling { kind, output: if output.is_empty() { "last_hidden_state".into() } else { output } },
        max_tokens: row.get::<i32>(5)?.unwrap_or(0).max(0) as usize,
        role: text(6)?,
        files: ModelFiles { fp32: text(7)?, int8: text(8)?, tokenizer: text(9)? },
        int8_safe: row.get::<bool>(10)?.unwrap_or(false),
        int8_note: "registered by a user".into(),
        query_prefix: text(11)?,
        document_prefix: text(12)?,
        repo: text(13)?,
        revision: text(14)?,
        license: text(15)?,
        approx_mb: 1,
        hub_files: Default::default(),
        sha256: Default::default(),
    })
}

fn user_spec(name: &str) -> Option<ModelSpec> {
    if let Some(s) = USER.with(|u| u.borrow().get(name).cloned()) {
        return Some(s);
    }
    let query = format!("SELECT {USER_COLUMNS} FROM @extschema@.pg_embed_user_models WHERE name = $1")
        .replace("@extschema@", &extension_schema());
    let spec = Spi::connect(|client| -> Result<Option<ModelSpec>, pgrx::spi::Error> {
        let table = client.select(&query, Some(1), &[name.into()])?;
        match table.into_iter().next() {
            Some(row) => Ok(Some(spec_from_row(&row)?)),
            None => Ok(None),
        }
    })
    .ok()
    .flatten()?;
    USER.with(|u| u.borrow_mut().insert(name.to_string(), spec.clone()));
    Some(spec)
}

/// The schema pg_embed is installed in, quoted for SQL.
pub fn extension_schema() -> String {
    Spi::get_one::<String>(
        "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_embed'",
    )
    .ok()
    .flatten()
    .unwrap_or_else(|| "public".into())
}

/// The entry for `name`, built-in first, then user-registered.
pub fn resolve(name: &str) -> Result<ModelSpec, EngineError> {
    validate_name(name)?;
    if let Ok(spec) = BUILTIN.with(|c| c.get(name).cloned()) {
        return Ok(spec);
    }
    user_spec(name).ok_or_else(|| EngineError::UnknownModel(name.to_string()))
}

/// Whether `name` is a model of the built-in catalog (else a user's, or unknown).
pub fn is_builtin(name: &str) -> bool {
    BUILTIN.with(|c| c.get(name).is_ok())
}

/// Every known model, built-in then user-registered, with its source.
pub fn all_specs() -> Vec<(ModelSpec, ModelSource)> {
    let mut out: Vec<_> = BUILTIN.with(|c| c.models.iter().cloned().map(|m| (m, ModelSource::Builtin)).collect());
    let query = format!("SELECT {USER_COLUMNS} FROM @extschema@.pg_embed_user_models ORDER BY name")
        .replace("@extschema@", &extension_schema());
    let users = Spi::connect(|client| -> Result<Vec<ModelSpec>, pgrx::spi::Error> {
        client.select(&query, None, &[])?.into_iter().map(|row| spec_from_row(&row)).collect()
    })
    .unwrap_or_default();
    out.extend(users.into_iter().map(|m| (m, ModelSource::User)));
    out
}

/// Checks a user model's entry and forgets any cached copy, so this backend rereads it.
pub fn register(spec: &ModelSpec) -> Result<(), EngineError> {
    validate_name(&spec.name)?;
    let invalid = |what: String| Err(EngineError::InvalidRegistration(what));
    if !(1..=16000).contains(&spec.dims) {
        return invalid(format!("dims is {}, not between 1 and 16000 (pgvector's limit)", spec.dims));
    }
    if !(8..=8192).contains(&spec.max_tokens) {
        return invalid(format!("max_tokens is {}, not between 8 and 8192", spec.max_tokens));
    }
    if !matches!(spec.role.as_str(), "code" | "doc" | "general") {
        return invalid(format!("role is \"{}\", not code, doc or general", spec.role));
    }
    if BUILTIN.with(|c| c.get(&spec.name).is_ok()) {
        return Err(EngineError::InvalidModelName(format!("{} (a built-in model has this name)", spec.name)));
    }
    for file in [&spec.files.fp32, &spec.files.int8, &spec.files.tokenizer] {
        if !file.is_empty() {
            validate_name(file)?;
        }
    }
    USER.with(|u| u.borrow_mut().remove(&spec.name));
    Ok(())
}
