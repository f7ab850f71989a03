//! The SQL surface. Every `#[pg_extern]` of pg_embed lives in this module tree.

mod backfill;
mod batch;
mod embed;
mod ensemble;
mod models;
mod routing;
