//! The SQL surface. Every `#[pg_extern]` of pg_embed lives in this module tree.

mod backfill;
mod batch;
mod cache;
mod embed;
mod hybrid;
mod ensemble;
mod models;
mod provenance;
mod routing;
mod stats;
