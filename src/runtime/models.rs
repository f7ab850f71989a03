//! Resolving a model name to its catalog entry: the built-in catalog first, then the models
//! users registered in the extension's table `pg_embed_user_models`.
//!
//! A user model's entry is read again at the first use in each transaction, so a registration
//! changed in another session is seen at the next transaction; a model loaded under the old
//! entry is then unloaded. Its definition (see `definition_digest`) is part of its model id
//! and of its cache keys, so vectors of two definitions of one name are never confused.

use std::cell::RefCell;
use std::collections::HashMap;

use pg_embed_engine::catalog::validate_name;
use pg_embed_engine::{Catalog, EngineError, ModelSpec};

thread_local! {
    static BUILTIN: Catalog = Catalog::builtin();
    /// User entries, with the start of the transaction that read them.
    static USER: RefCell<HashMap<String, (i64, ModelSpec)>> = RefCell::new(HashMap::new());
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

fn user_spec(name: &str) -> Option<ModelSpec> {
    // SAFETY: reads the current transaction's start time (the leader's in a parallel worker).
    let now = unsafe { pgrx::pg_sys::GetCurrentTransactionStartTimestamp() };
    let cached = USER.with(|u| u.borrow().get(name).cloned());
    if let Some((read_at, spec)) = &cached {
        if *read_at == now {
            return Some(spec.clone());
        }
    }
    // The database's registration; failing that, the definition kept in the model's folder
    // (a restore brings a table's rows back before the registrations it was computed with).
    let fresh = super::tables::user_model(name)
        .or_else(|| pg_embed_engine::definition::read(&crate::gucs::model_dir(), name).filter(|s| !is_builtin(&s.name)));
    if cached.as_ref().map(|(_, s)| s) != fresh.as_ref() {
        // Registered again (or removed) since this backend loaded it: load it anew.
        super::unload(Some(name));
    }
    USER.with(|u| match &fresh {
        Some(spec) => u.borrow_mut().insert(name.to_string(), (now, spec.clone())),
        None => u.borrow_mut().remove(name),
    });
    fresh
}

/// The definition digest that names a user model's entry in model ids and cache keys; None
/// for a built-in model (its entry changes only with the library, and its ids stay as they are).
pub fn definition(spec: &ModelSpec) -> Option<String> {
    (!is_builtin(&spec.name)).then(|| pg_embed_engine::catalog::definition_digest(spec))
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
    let users = super::tables::user_models();
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
