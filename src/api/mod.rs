//! The SQL surface. Every `#[pg_extern]` of pg_embed lives in this module tree.

mod backfill;
mod batch;
mod bm25;
mod cache;
mod chunks;
mod citus;
mod embed;
mod hybrid;
mod ensemble;
mod models;
mod provenance;
mod routing;
mod stats;
mod vectorize;

/// Raises 42501 unless the role calling (the outer role, even inside a SECURITY DEFINER
/// function) is a superuser or a member of embed_admin.
pub(crate) fn require_embed_admin(what: &str) {
    use pgrx::pg_sys;
    // SAFETY: reads the outer user id and looks roles up in the catalog; no preconditions.
    let allowed = unsafe {
        let caller = pg_sys::GetOuterUserId();
        let admin = pg_sys::get_role_oid(c"embed_admin".as_ptr(), true);
        pg_sys::superuser_arg(caller) || (admin != pg_sys::InvalidOid && pg_sys::is_member_of_role(caller, admin))
    };
    if !allowed {
        crate::error::report(
            pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("permission denied for {what}"),
            Some("Only superusers and members of embed_admin may do this.".into()),
            Some("GRANT embed_admin TO <role>; (as a superuser)".into()),
        );
    }
}
