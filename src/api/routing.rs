//! Routed embedding: code and documentation go to different models, chosen by a documented
//! policy from the user's preferences and the machine's resources (see README, Routing).

use pgrx::prelude::*;
use serde_json::json;

use pg_embed_engine::detect::detect;
use pg_embed_engine::Role;

use super::batch::{rows, Route};
use crate::error::OrRaise;
use crate::runtime::{self, routing};
use crate::text::Text;
use crate::vector::Vector;

fn embed_role(text: &str, role: Role) -> Vector {
    let model = routing::choose(role).or_raise().model;
    let mut out = runtime::embed(&model, &[text]).or_raise();
    Vector(out.vectors.pop().expect("one text in, one vector out"))
}

/// Embeds source code with the code model routing picks (pg_embed.code_models).
#[pg_extern(stable, strict, parallel_safe, cost = 10000)]
fn embed_code(body: Text) -> Vector {
    embed_role(&body, Role::Code)
}

/// Detects whether a text is code or prose and embeds it with that role's model.
#[pg_extern(stable, strict, parallel_safe, cost = 10000)]
fn embed_auto(body: Text) -> Vector {
    embed_role(&body, routing::role_of(&body))
}

/// The model embed_auto would use for this text (store it next to the vector).
#[pg_extern(stable, strict, parallel_safe, cost = 100)]
fn embed_auto_model(body: Text) -> String {
    routing::choose(routing::role_of(&body)).or_raise().model
}

/// What embed_auto decides for a text, and why.
#[pg_extern(volatile, strict, parallel_restricted, cost = 100)]
fn embed_explain(body: Text) -> pgrx::JsonB {
    let d = detect(&body);
    let role = routing::role_of(&body);
    let choice = routing::choose(role).or_raise();
    let (now, resources, prefs) = routing::decide_now(role);
    let mb = |b: u64| b >> 20;
    pgrx::JsonB(json!({
        "content": {
            "kind": d.kind.as_str(),
            "language": d.language,
            "code_score": (d.code_score * 1000.0).round() / 1000.0,
            "evidence": d.evidence,
        },
        "role": role.as_str(),
        "preferences": prefs,
        "chosen_model": choice.model,
        "pinned": choice.pinned,
        "policy_now": {
            "model": now.model,
            "reason": now.reason,
            "considered": now.considered.iter().map(|(m, v)| json!({"model": m, "verdict": v})).collect::<Vec<_>>(),
        },
        "resources": {
            "available_mb": mb(resources.available_bytes),
            "load_per_cpu": (resources.load_per_cpu * 100.0).round() / 100.0,
            "cpus": resources.cpus,
            "memory_limit_mb": mb(crate::gucs::memory_limit_bytes()),
            "held_mb": mb(runtime::held_bytes()),
        },
    }))
}

/// Decides every role afresh from the current settings and resources, and pins the choices
/// for every session (embed_admin only; refused on a standby).
#[pg_extern(volatile, parallel_unsafe)]
fn pg_embed_reselect() -> TableIterator<'static, (name!(role, String), name!(model, Option<String>), name!(reason, String))> {
    TableIterator::new(routing::reselect())
}

/// Embeds each element with the code model; rows (ord, embedding) in array order.
#[pg_extern(stable, strict, parallel_safe, cost = 10000)]
fn embed_code_batch(
    texts: Array<'_, Text>,
) -> TableIterator<'static, (name!(ord, i32), name!(embedding, Option<Vector>))> {
    rows(texts, Route::Role(Role::Code))
}

/// Embeds each element with the model its detected content routes it to.
#[pg_extern(stable, strict, parallel_safe, cost = 10000)]
fn embed_auto_batch(
    texts: Array<'_, Text>,
) -> TableIterator<'static, (name!(ord, i32), name!(embedding, Option<Vector>))> {
    rows(texts, Route::Auto)
}

extension_sql_file!(
    "../sql/selection.sql",
    name = "selection_table",
    requires = ["user_models_table"],
);

extension_sql_file!(
    "../sql/routing.sql",
    name = "routing_sql",
    requires = [embed_code, embed_auto, embed_auto_model, embed_explain, pg_embed_reselect, embed_code_batch, embed_auto_batch, "models_sql", "selection_table"],
);
