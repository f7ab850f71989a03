//! Routing: which model serves a role (code, doc, general), and keeping that choice stable.
//!
//! Vectors of different models cannot be compared, so a column must not silently mix them.
//! The first selection for a role is pinned per database in `pg_embed_selection`, together
//! with the preference list it was made from, and every session uses the pin. Only
//! `pg_embed_reselect()` moves it. A session whose preference setting differs from the pin's
//! decides for itself (the setting change moves it for that session) and says so once with a
//! NOTICE; it does not move the pin for others. Within one transaction the answer never changes
//! (it is cached per transaction).
//!
//! Where the first pin cannot be written (a parallel worker, a read-only transaction, a
//! standby), the backend decides for itself with the same policy and writes nothing.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use pgrx::prelude::*;

use pg_embed_engine::resources::{snapshot, Resources};
use pg_embed_engine::select::{decide, Candidate, Decision, Inputs};

use pg_embed_engine::EngineError;

use crate::gucs;
use crate::runtime::{resolve, MB};

/// A role's model and how it was arrived at.
#[derive(Debug, Clone)]
pub struct Choice {
    pub model: String,
    /// True when the model is the database's pinned choice.
    pub pinned: bool,
}

thread_local! {
    static CACHE: RefCell<HashMap<(String, String), (i64, Choice)>> = RefCell::new(HashMap::new());
    static NOTICED_MISSING: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

fn transaction_start() -> i64 {
    // SAFETY: reads the current transaction's start time; no preconditions.
    unsafe { pg_sys::GetCurrentTransactionStartTimestamp() }
}

/// The candidate for `name`: its size from the catalog, and whether its files are present for
/// the precision the settings would load.
fn candidate(name: &str) -> Option<Candidate> {
    let spec = resolve(name).ok()?;
    let model_dir = gucs::model_dir();
    let dir = model_dir.join(&spec.name);
    let precision = gucs::precision_for(&spec);
    let present = pg_embed_engine::files::locate(&spec, &model_dir, precision).is_ok();
    if !present && NOTICED_MISSING.with(|n| n.borrow_mut().insert(name.to_string())) {
        pgrx::notice!("pg_embed: model \"{name}\" skipped: its files are not in \"{}\"", dir.display());
    }
    Some(Candidate { name: spec.name, approx_bytes: u64::from(spec.approx_mb) * MB, present })
}

/// Runs the selection policy for `role` with the current preferences and resources.
pub fn decide_now(role: &str) -> (Decision, Resources, String) {
    let prefs = gucs::preferences(role);
    let preferences = prefs.split(',').map(str::trim).filter(|s| !s.is_empty()).filter_map(candidate).collect();
    let fallback = gucs::fallback_model().and_then(|f| candidate(&f));
    let resources = snapshot();
    let inputs = Inputs {
        role: role.to_string(),
        preferences,
        fallback,
        memory_limit: gucs::memory_limit_bytes(),
        held_bytes: super::held_bytes(),
        resources,
    };
    (decide(&inputs), resources, prefs)
}

fn read_pin(role: &str) -> Option<(String, String)> {
    Spi::connect(|c| -> Result<Option<(String, String)>, pgrx::spi::Error> {
        let mut t = c.select(
            "SELECT model, preferences FROM pg_embed_selection WHERE role = $1",
            Some(1),
            &[role.into()],
        )?;
        match t.next() {
            Some(row) => Ok(Some((row.get::<String>(1)?.unwrap_or_default(), row.get::<String>(2)?.unwrap_or_default()))),
            None => Ok(None),
        }
    })
    .ok()
    .flatten()
}

fn can_write() -> bool {
    // SAFETY: plain reads of backend state.
    unsafe { !pg_sys::IsInParallelMode() && !pg_sys::XactReadOnly && !pg_sys::RecoveryInProgress() }
}

fn write_pin(role: &str, model: &str, prefs: &str, reason: &str, replace: bool) {
    let sql = if replace {
        "INSERT INTO pg_embed_selection (role, model, preferences, reason) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (role) DO UPDATE SET model = EXCLUDED.model, preferences = EXCLUDED.preferences, \
         reason = EXCLUDED.reason, chosen_at = now()"
    } else {
        "SELECT pg_embed_pin_first($1, $2, $3, $4)"
    };
    let _ = Spi::run_with_args(sql, &[role.into(), model.into(), prefs.into(), reason.into()]);
}

/// The model serving `role` now.
pub fn choose(role: &str) -> Result<Choice, EngineError> {
    let prefs = gucs::preferences(role);
    let key = (role.to_string(), prefs.clone());
    let now = transaction_start();
    if let Some(c) = CACHE.with(|c| c.borrow().get(&key).filter(|(t, _)| *t == now).map(|(_, c)| c.clone())) {
        return Ok(c);
    }
    let choice = match read_pin(role) {
        Some((model, pinned_prefs)) if pinned_prefs == prefs => Choice { model, pinned: true },
        pin => {
            let (decision, _, prefs) = decide_now(role);
            let model = decision.model.clone().ok_or_else(|| EngineError::NoModelForRole(role.to_string()))?;
            let mut pinned = false;
            if pin.is_none() && can_write() {
                write_pin(role, &model, &prefs, &decision.reason, false);
                pinned = read_pin(role).is_some_and(|(m, p)| m == model && p == prefs);
            }
            if !pinned && pin.is_some() && NOTICED_MISSING.with(|n| n.borrow_mut().insert(format!("prefs:{role}:{prefs}"))) {
                pgrx::notice!(
                    "pg_embed: this session's preferences for {role} differ from the pinned ones; using \"{model}\" in this session only"
                );
            }
            Choice { model, pinned }
        }
    };
    CACHE.with(|c| c.borrow_mut().insert(key, (now, choice.clone())));
    Ok(choice)
}

/// Decides every role afresh and pins the results. Returns `(role, model, reason)`.
pub fn reselect() -> Vec<(String, Option<String>, String)> {
    CACHE.with(|c| c.borrow_mut().clear());
    NOTICED_MISSING.with(|n| n.borrow_mut().clear());
    ["code", "doc", "general"]
        .into_iter()
        .map(|role| {
            let (d, _, prefs) = decide_now(role);
            match &d.model {
                Some(m) => write_pin(role, m, &prefs, &d.reason, true),
                None => {
                    let _ = Spi::run_with_args("DELETE FROM pg_embed_selection WHERE role = $1", &[role.into()]);
                }
            }
            (role.to_string(), d.model, d.reason)
        })
        .collect()
}
