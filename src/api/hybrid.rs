//! Hybrid search: PostgreSQL full-text search and pgvector similarity over one table, fused by
//! weighted reciprocal rank fusion (RRF): a row's score is the sum over the two rankings of
//! `weight / (k + rank)`, a ranking the row is missing from adding nothing.
//!
//! Each side is one query that an index can answer: `tsv @@ query ORDER BY ts_rank_cd(...)
//! LIMIT n` (GIN bitmap scan, then ranking the matches) and `ORDER BY embedding <=> query
//! LIMIT n` (HNSW index scan). Identifiers are checked against the catalog and quoted with
//! `format('%I')`; values travel as parameters, never as SQL text.

use pgrx::prelude::*;

extension_sql_file!(
    "../sql/hybrid.sql",
    name = "hybrid_sql",
    requires = ["provenance_sql", "bm25_search_sql"],
);
