//! Routing: which model serves a role (code, doc, general), and keeping that choice stable.
//!
//! Vectors of different models cannot be compared, so a column must not silently mix them, and
//! an embedding call must neither write nor wait. So the choice is a pure function of what
//! every backend of a database sees alike:
//!
//! - a role's **pin** in `pg_embed_selection`, written only by `pg_embed_reselect()` (in its own
//!   statement, by embed_admin) after running the resource-aware policy (free memory, load);
//! - without a pin, the **static choice**: the first preferred model whose files are present
//!   and that fits `pg_embed.memory_limit`, else the fallback model. It does not look at load
//!   or free memory, which differ between backends and moments, so every backend and every
//!   parallel worker (which run with the leader's settings) picks the same model.
//!
//! A session whose preference setting differs from the pin's decides for itself by the static
//! rule (the setting change moves it for that session) and says so once with a NOTICE. Within
//! one transaction the answer never changes (it is cached per transaction).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use pgrx::pg_sys;

use pg_embed_engine::resources::{snapshot, Resources};
use pgrx::PgSqlErrorCode;
use pg_embed_engine::select::{decide, Candidate, Decision, Inputs};

use pg_embed_engine::detect::detect;
use pg_embed_engine::{EngineError, Role};

use crate::error::report;
use crate::gucs;
use crate::runtime::{resolve, tables, MB};

/// A role's model and how it was arrived at.
#[derive(Debug, Clone)]
pub struct Choice {
    pub model: String,
    /// True when the model is the database's pinned choice.
    pub pinned: bool,
}

/// Choices kept per transaction (one per role and preference list seen; a transaction that
/// cycles through more lists starts over).
const MAX_CACHED: usize = 64;

/// Preferred models considered per role (the rest of a longer list is ignored).
pub const MAX_PREFERENCES: usize = 16;

/// One-time notices remembered per backend; past this many, further ones are not deduplicated
/// but simply not sent (a session cycling through settings cannot grow the backend's memory).
const MAX_NOTICED: usize = 256;

fn notice_once(key: String) -> bool {
    NOTICED_MISSING.with(|n| {
        let mut n = n.borrow_mut();
        n.len() < MAX_NOTICED && n.insert(key)
    })
}

thread_local! {
    /// This transaction's choices only (entries of earlier transactions are dropped).
    static CACHE: RefCell<HashMap<(Role, u64), (i64, Choice)>> = RefCell::new(HashMap::new());
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
    let precision = gucs::precision_for(&spec);
    let present = pg_embed_engine::files::locate(&spec, &model_dir, precision).is_ok();
    Some(Candidate { name: spec.name, approx_bytes: u64::from(spec.approx_mb) * MB, present })
}

/// Says once per backend which preferred models a decision passed over for lack of files.
fn notice_skipped(decision: &Decision) {
    let Some(chosen) = decision.model.as_deref() else { return };
    let dir = gucs::model_dir();
    for (model, verdict) in decision.considered.iter().take_while(|(m, _)| m != chosen) {
        if verdict == "files not present" && notice_once(model.clone()) {
            pgrx::notice!("pg_embed: model \"{model}\" skipped: its files are not in \"{}\"", dir.join(model).display());
        }
    }
}

/// Runs the selection policy for `role` with the current preferences and the machine's
/// resources now (what `pg_embed_reselect()` pins and `embed_explain` shows).
pub fn decide_now(role: Role) -> (Decision, Resources, String) {
    decide_with(role, snapshot(), super::held_bytes())
}

/// The static choice for `role`: the policy with resources left out (see the module comment).
pub fn decide_static(role: Role) -> (Decision, String) {
    let (d, _, prefs) = decide_with(role, Resources::unconstrained(), 0);
    (d, prefs)
}

fn decide_with(role: Role, resources: Resources, held_bytes: u64) -> (Decision, Resources, String) {
    let prefs = gucs::preferences(role);
    // At most MAX_PREFERENCES names are looked at: a setting any role may write must not make
    // one decision cost thousands of catalog lookups.
    let preferences =
        prefs.split(',').map(str::trim).filter(|s| !s.is_empty()).take(MAX_PREFERENCES).filter_map(candidate).collect();
    let fallback = gucs::fallback_model().and_then(|f| candidate(&f));
    let inputs = Inputs {
        role,
        preferences,
        fallback,
        memory_limit: gucs::memory_limit_bytes(),
        held_bytes,
        resources,
    };
    (decide(&inputs), resources, prefs)
}

/// The role a text is routed to by its detected content (embed_auto).
pub fn role_of(text: &str) -> Role {
    Role::from(detect(text).kind)
}

/// The model serving `role` now.
pub fn choose(role: Role) -> Result<Choice, EngineError> {
    let prefs = gucs::preferences(role);
    let key = (role, {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        prefs.hash(&mut h);
        h.finish()
    });
    let now = transaction_start();
    if let Some(c) = CACHE.with(|c| c.borrow().get(&key).filter(|(t, _)| *t == now).map(|(_, c)| c.clone())) {
        return Ok(c);
    }
    let choice = match tables::pin(role) {
        Some((model, pinned_prefs)) if pinned_prefs == prefs => Choice { model, pinned: true },
        pin => {
            let (decision, prefs) = decide_static(role);
            notice_skipped(&decision);
            // No preferred model has its files: take the first one anyway, so that a copy this
            // backend still holds keeps serving, and otherwise its load names the missing file.
            let first = prefs.split(',').map(str::trim).find(|s| !s.is_empty()).map(str::to_string);
            let model = decision.model.or(first).ok_or_else(|| EngineError::NoModelForRole(role.to_string()))?;
            if pin.is_some() && notice_once(format!("prefs:{role}:{:x}", key.1)) {
                pgrx::notice!(
                    "pg_embed: this session's preferences for {role} differ from the pinned ones; using \"{model}\" in this session only"
                );
            }
            Choice { model, pinned: false }
        }
    };
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        c.retain(|_, (t, _)| *t == now);
        if c.len() >= MAX_CACHED {
            c.clear();
        }
        c.insert(key, (now, choice.clone()));
    });
    Ok(choice)
}

/// Decides every role afresh with the resource-aware policy and pins the results for every
/// session. Returns `(role, model, reason)`. Refused on a standby: pins live in a table, which
/// only the primary can write (the standby follows the primary's pins).
pub fn reselect() -> Vec<(String, Option<String>, String)> {
    // SAFETY: reads backend state.
    if unsafe { pg_sys::RecoveryInProgress() } {
        report(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            "pg_embed_reselect() cannot run on a standby",
            Some("Routing pins are decided on the primary and reach standbys through replication.".into()),
            Some("Run SELECT pg_embed_reselect(); on the primary.".into()),
        );
    }
    CACHE.with(|c| c.borrow_mut().clear());
    NOTICED_MISSING.with(|n| n.borrow_mut().clear());
    Role::ALL
        .into_iter()
        .map(|role| {
            let (d, _, prefs) = decide_now(role);
            notice_skipped(&d);
            tables::set_pin(role, d.model.as_deref().map(|m| (m, prefs.as_str(), d.reason.as_str())));
            (role.to_string(), d.model, d.reason)
        })
        .collect()
}
