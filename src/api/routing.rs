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

extension_sql!(
    r#"
CREATE TABLE pg_embed_selection (
    role text PRIMARY KEY CHECK (role IN ('code', 'doc', 'general')),
    model text NOT NULL,
    preferences text NOT NULL,
    reason text NOT NULL DEFAULT '',
    chosen_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pg_embed_selection IS 'The model pinned for each role by pg_embed_reselect(); a role without a pin (or a session whose preferences differ from the pin''s) uses the first preferred model whose files are present and that fits pg_embed.memory_limit.';
SELECT pg_catalog.pg_extension_config_dump('pg_embed_selection', '');
GRANT SELECT ON pg_embed_selection TO PUBLIC;
GRANT INSERT, UPDATE, DELETE ON pg_embed_selection TO embed_admin;
"#,
    name = "selection_table",
    requires = ["user_models_table"],
);

extension_sql!(
    r#"
REVOKE ALL ON FUNCTION pg_embed_reselect() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_embed_reselect() TO embed_admin;
COMMENT ON FUNCTION embed_code(text) IS 'Embeds source code with the model routing picks for code (the pin in pg_embed_selection, else the first model of pg_embed.code_models whose files are present).';
COMMENT ON FUNCTION embed_auto(text) IS 'Detects whether a text is code or prose and embeds it with that role''s model; store embed_auto_model(text) next to the vector.';
COMMENT ON FUNCTION embed_auto_model(text) IS 'The model embed_auto uses for this text.';
COMMENT ON FUNCTION embed_explain(text) IS 'What embed_auto decides for a text and why: detected content and evidence, preferences, pinned model, what the policy would choose now and the resources it saw.';
COMMENT ON FUNCTION pg_embed_reselect() IS 'Runs model selection again for every role with the current settings and resources, and pins the results for all sessions.';
COMMENT ON FUNCTION embed_code_batch(text[]) IS 'Batched embed_code: rows (ord, embedding) in array order, NULL for NULL elements.';
COMMENT ON FUNCTION embed_auto_batch(text[]) IS 'Batched embed_auto: each element goes to its own role''s model, so rows may differ in dimensions.';
"#,
    name = "routing_sql",
    requires = [embed_code, embed_auto, embed_auto_model, embed_explain, pg_embed_reselect, embed_code_batch, embed_auto_batch, "models_sql", "selection_table"],
);
