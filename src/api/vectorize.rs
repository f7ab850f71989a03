//! Vectorizers: register a table once and the background workers (src/workers.rs) keep its
//! vectors current. The registration, the queue trigger, the status view and the steps of a
//! batch are SQL (src/sql/vectorize.sql); here are the two role switches SQL cannot make safely:
//! the management gate, which checks the current role and writes as the extension's owner, and
//! the batch, which embeds as the table's owner.

use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::error::report;
use crate::runtime::tables;

/// How long a batch's statements wait for a lock before the batch counts as failed (its rows
/// are retried later): a table whose rows stay locked cannot hold a worker.
const BATCH_LOCK_TIMEOUT: &str = "10s";

/// The gate of the vectorizer management functions (pg_embed_vectorize, _unvectorize, _pause,
/// _retry): checks that the current role owns `relation` (or is a member of its owner) and that
/// this is not a security-restricted operation (a batch of the workers, VACUUM, ANALYZE or
/// REFRESH MATERIALIZED VIEW running some owner's code: the current role there is that owner,
/// whatever role started it), then runs `pg_embed_vectorize_manage_sql(op, relation, args)` as
/// the extension's owner, which nobody else may run. No role writes pg_embed's tables any other
/// way. The role checked is the current one, never an outer one: code of a role, run in a
/// superuser's session, can do through this gate only what that role may.
#[pg_extern(volatile, parallel_unsafe)]
fn pg_embed_vectorize_manage(op: &str, relation: pg_sys::Oid, args: pgrx::JsonB) -> Option<pgrx::JsonB> {
    // SAFETY: reads this backend's security context.
    if unsafe { pg_sys::InSecurityRestrictedOperation() } {
        report(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "cannot manage vectorizers within a security-restricted operation",
            None,
            Some("Call it from a session of the table's owner, not from a trigger or an index expression.".into()),
        );
    }
    // A registration with a chunk table writes that table too: the role must own both.
    let chunk_table = match args.0.get("chunk_table") {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => Some(v.as_u64().and_then(|o| u32::try_from(o).ok()).unwrap_or_else(|| {
            report(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, "chunk_table must be a table's oid", None, None)
        })),
    };
    let mut extowner = None;
    for rel in std::iter::once(relation).chain(chunk_table.map(pg_sys::Oid::from)) {
        let (owner, ext) = tables::with_fixed_path(|| {
            Spi::get_two_with_args::<pg_sys::Oid, pg_sys::Oid>(
                "SELECT (SELECT relowner FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) $1),
                        (SELECT extowner FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'pg_embed')",
                &[rel.into()],
            )
        })
        .unwrap_or_else(|e| report(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("pg_embed: reading pg_class failed: {e}"), None, None));
        // SAFETY: reads the current user id and role memberships.
        let allowed = owner.is_some_and(|owner| unsafe { pg_sys::has_privs_of_role(pg_sys::GetUserId(), owner) });
        if !allowed {
            report(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                "must be owner of the table to manage its vectorizers",
                None,
                Some("Only the table's owner (or a member of the owning role) manages its vectorizers; a chunk table must be the role's too.".into()),
            );
        }
        extowner = ext;
    }
    let Some(extowner) = extowner else { return None };
    let schema = tables::schema();
    as_definer(extowner, || {
        tables::with_fixed_path(|| {
            Spi::get_one_with_args::<pgrx::JsonB>(
                &format!("SELECT {schema}.pg_embed_vectorize_manage_sql($1, $2, $3)"),
                &[op.into(), relation.into(), args.into()],
            )
        })
    })
    .unwrap_or_else(|e| report(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("pg_embed: {op} failed: {e}"), None, None))
}

/// Runs `f` as `role` in a security-restricted operation (no SET ROLE, no temporary objects),
/// with settings changed inside it undone afterwards, as PostgreSQL's VACUUM and REFRESH
/// MATERIALIZED VIEW run a table owner's code.
fn as_role<R>(role: pg_sys::Oid, f: impl FnOnce() -> R) -> R {
    switch_user(role, pg_sys::SECURITY_RESTRICTED_OPERATION as i32, f)
}

/// Runs `f` as `role`, as a SECURITY DEFINER function runs its body.
fn as_definer<R>(role: pg_sys::Oid, f: impl FnOnce() -> R) -> R {
    switch_user(role, 0, f)
}

/// Runs `f` as `role` with these security-context flags added, and settings changed inside it
/// undone afterwards.
fn switch_user<R>(role: pg_sys::Oid, flags: i32, f: impl FnOnce() -> R) -> R {
    let mut saved_user = pg_sys::InvalidOid;
    let mut saved_context = 0;
    // SAFETY: paired with the restore below; an error inside ends the (sub)transaction, whose
    // abort restores the user and security context.
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut saved_user, &mut saved_context);
        pg_sys::SetUserIdAndSecContext(role, saved_context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32 | flags);
    }
    // SAFETY: plain calls into the GUC machinery, paired.
    let nest = unsafe { pg_sys::NewGUCNestLevel() };
    let result = f();
    unsafe {
        pg_sys::AtEOXact_GUC(false, nest);
        pg_sys::SetUserIdAndSecContext(saved_user, saved_context);
    }
    result
}

fn spi_or_raise<T>(what: &str, r: Result<T, pgrx::spi::Error>) -> T {
    r.unwrap_or_else(|e| {
        report(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("pg_embed: {what} failed: {e}"), None, None)
    })
}

/// One batch of a vectorizer, as the background workers run it, in the caller's transaction:
/// takes up to batch_size due queue entries (pg_embed_vectorize_take, as the caller), embeds
/// their rows as the table's owner inside a security-restricted operation with a lock timeout
/// (pg_embed_vectorize_embed), and settles the entries (pg_embed_vectorize_settle, as the
/// caller). Returns the entries taken (0: nothing due). Superusers only: it runs a table's
/// triggers as the table's owner.
#[pg_extern(volatile, strict, parallel_unsafe)]
fn pg_embed_vectorize_batch(vectorizer: i32) -> i32 {
    tables::with_fixed_path(|| batch(vectorizer))
}

fn batch(vectorizer: i32) -> i32 {
    // SAFETY: reads the current user's superuser flag.
    if !unsafe { pg_sys::superuser() } {
        report(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "permission denied for function pg_embed_vectorize_batch",
            Some("A batch runs the table's triggers as the table's owner, which only a superuser may start.".into()),
            Some("The background workers run it: put pg_embed in shared_preload_libraries.".into()),
        );
    }
    let schema = tables::schema();
    let (owner, seqs, keys) = spi_or_raise(
        "pg_embed_vectorize_take",
        Spi::get_three_with_args::<pg_sys::Oid, Vec<i64>, Vec<String>>(
            &format!("SELECT owner, seqs, keys FROM {schema}.pg_embed_vectorize_take($1)"),
            &[vectorizer.into()],
        ),
    );
    let (Some(owner), Some(seqs), Some(keys)) = (owner, seqs, keys) else { return 0 };
    let failed = as_role(owner, || {
        spi_or_raise(
            "setting lock_timeout",
            Spi::run(&format!("SELECT pg_catalog.set_config('lock_timeout', '{BATCH_LOCK_TIMEOUT}', true)")),
        );
        spi_or_raise(
            "pg_embed_vectorize_embed",
            Spi::get_one_with_args::<String>(
                &format!("SELECT {schema}.pg_embed_vectorize_embed($1, $2)::pg_catalog.text"),
                &[vectorizer.into(), keys.into()],
            ),
        )
    })
    .unwrap_or_else(|| "{}".into());
    let taken = spi_or_raise(
        "pg_embed_vectorize_settle",
        Spi::get_one_with_args::<i32>(
            &format!("SELECT {schema}.pg_embed_vectorize_settle($1, $2, $3::pg_catalog.jsonb)"),
            &[vectorizer.into(), seqs.into(), failed.into()],
        ),
    );
    // the owner's code may have taken session-level advisory locks: they go with the batch
    spi_or_raise("pg_advisory_unlock_all", Spi::run("SELECT pg_catalog.pg_advisory_unlock_all()"));
    taken.unwrap_or(0)
}

extension_sql_file!(
    "../sql/vectorize.sql",
    name = "vectorize_sql",
    requires = [
        pg_embed_vectorize_manage,
        pg_embed_vectorize_batch,
        "batch_comments",
        "provenance_sql",
        "bm25_sql"
    ],
);
