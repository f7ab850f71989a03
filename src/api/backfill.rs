//! Backfill: embed a text column of an existing table into a vector column, in chunks that
//! each commit, resumable, with progress other sessions can watch.
//!
//! The procedure is PL/pgSQL because it must COMMIT between chunks (only a procedure called
//! with CALL outside a transaction block can). A procedure that commits cannot fix its
//! search_path with a SET clause, so it only calls schema-qualified functions of pg_embed, which
//! fix theirs and do the work: `pg_embed_backfill_begin` checks the arguments, takes the run's
//! advisory lock and counts the rows to do; `pg_embed_backfill_step` embeds one chunk.
//!
//! Each chunk locks only its own rows, skipping rows the application holds locked (FOR UPDATE
//! SKIP LOCKED), so writes are never blocked for longer than one chunk. Chunks walk each leaf
//! partition forward in physical order (a TID range scan from the last row of the previous
//! chunk), so the cost is linear in the table's size. Rows skipped because they were locked
//! are retried in up to two more passes; a run that still leaves rows without a vector says so
//! (`rows_skipped`, `finished` false) instead of claiming to be done.
//!
//! While it runs, a run holds a session-level advisory lock on (relation, vector column): it
//! keeps a second run of the same column out, and lets every role tell a running backfill from
//! an interrupted one through pg_locks (which needs no pg_read_all_stats).

use pgrx::prelude::*;

extension_sql_file!(
    "../sql/backfill.sql",
    name = "backfill",
    requires = ["models_sql", "embed_doc_comment", "provenance_sql", "citus_sql"],
);
