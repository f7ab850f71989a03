//! Vectorizers: register a table once and the background workers (src/workers.rs) keep its
//! vectors current. All of it is SQL (src/sql/vectorize.sql): the registration functions, the
//! queue trigger, the batch the workers run, the status view.

use pgrx::prelude::*;

extension_sql_file!(
    "../sql/vectorize.sql",
    name = "vectorize_sql",
    requires = ["batch_comments", "provenance_sql", "bm25_sql"],
);
