//! Citus: pg_embed on a coordinator and its workers.
//!
//! Everything here is SQL (`src/sql/citus.sql`), reaching Citus only through dynamic SQL, so the
//! extension installs and works the same without Citus. Two things need it:
//! - `pg_embed_backfill` walks a distributed table by its distribution column and lets the
//!   workers embed through the IMMUTABLE `embed_fixed()` (see `backfill.sql`);
//! - the rows that decide a vector (user models, projections, pins) are sent from the
//!   coordinator to every worker when a transaction that changed them commits (a deferred
//!   constraint trigger), and on demand with `pg_embed_citus_sync()`.

use pgrx::prelude::*;

extension_sql_file!(
    "../sql/citus.sql",
    name = "citus_sql",
    requires = ["user_models_table", "selection_table", "ensemble_sql"],
);
