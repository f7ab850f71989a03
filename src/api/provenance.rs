//! Provenance and A/B: which model file made each stored vector, re-embedding only the rows
//! another model made, and comparing a candidate model with the current one on the user's own
//! queries before switching.
//!
//! The model id (`name@revision/precision/sha256-prefix`) comes from the engine; the trigger,
//! the column checks and the comparison are PL/pgSQL over it.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{PgLogLevel, PgSqlErrorCode};

use pg_embed_engine::provenance;

use crate::error::OrRaise;
use crate::runtime::{resolve, routing};
use crate::text::Text;

/// The id of the model file `model` loads now: `name@revision/precision/sha256-prefix`.
/// STABLE: the precision comes from pg_embed.precision, the file from pg_embed.model_dir.
#[pg_extern(stable, strict, parallel_safe, cost = 100)]
fn pg_embed_model_id(model: Text) -> String {
    let spec = resolve(&model).or_raise();
    let precision = crate::gucs::precision_for(&spec);
    let definition = crate::runtime::definition(&spec);
    provenance::model_id(&spec, &crate::gucs::model_dir(), precision, definition.as_deref()).or_raise()
}

/// The model a role uses now: `doc` (embed_doc), `code` (embed_code), `general` (fallback).
#[pg_extern(stable, strict, parallel_safe, cost = 100)]
fn pg_embed_role_model(role: Text) -> String {
    match pg_embed_engine::Role::parse(&role) {
        Some(role) => routing::choose(role).or_raise().model,
        None => {
            let other = &*role;
            ErrorReport::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, crate::error::for_server(format!("unknown role \"{other}\"")), "pg_embed")
                .set_detail("Roles are doc (embed_doc), code (embed_code) and general (the fallback model).")
                .set_hint("Pass 'doc', 'code' or 'general'.")
                .report(PgLogLevel::ERROR);
            unreachable!("an ERROR does not return")
        }
    }
}

extension_sql_file!(
    "../sql/provenance.sql",
    name = "provenance_sql",
    requires = [pg_embed_model_id, pg_embed_role_model, "models_sql", "routing_sql"],
);
