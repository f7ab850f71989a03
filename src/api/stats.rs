//! Usage statistics: the `pg_embed_stats` view and its reset function.

use pgrx::prelude::*;

use crate::runtime::stats;

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The rows of `pg_embed_stats`: one per (model, precision) used since the last reset.
/// Parallel restricted: without shared memory the numbers are the leader backend's own.
#[pg_extern(volatile, parallel_restricted)]
// pgrx reads the column names from the signature, so the row type cannot be an alias.
#[allow(clippy::type_complexity)]
fn pg_embed_stats_rows() -> TableIterator<
    'static,
    (
        name!(model, String),
        name!(precision, String),
        name!(scope, String),
        name!(calls, i64),
        name!(texts, i64),
        name!(tokens, i64),
        name!(total_ms, f64),
        name!(mean_ms, Option<f64>),
        name!(p50_ms, Option<f64>),
        name!(p95_ms, Option<f64>),
        name!(p99_ms, Option<f64>),
        name!(loads, i64),
        name!(evictions, i64),
        name!(errors, i64),
        name!(truncations, i64),
        name!(cache_hits, i64),
        name!(cache_table_hits, i64),
        name!(cache_misses, i64),
        name!(cache_hit_rate, Option<f64>),
    ),
> {
    let table = stats::snapshot();
    let scope = if stats::shared() { "cluster" } else { "backend" };
    let ms = |micros: f64| micros / 1000.0;
    let rows: Vec<_> = table
        .used()
        .map(|s| {
            let looked_up = s.cache_hits + s.table_hits + s.cache_misses;
            (
                s.model().to_string(),
                s.precision().to_string(),
                scope.to_string(),
                count(s.calls),
                count(s.texts),
                count(s.tokens),
                ms(s.total_micros as f64),
                (s.calls > 0).then(|| ms(s.total_micros as f64 / s.calls as f64)),
                s.percentile_micros(0.50).map(ms),
                s.percentile_micros(0.95).map(ms),
                s.percentile_micros(0.99).map(ms),
                count(s.loads),
                count(s.evictions),
                count(s.errors),
                count(s.truncations),
                count(s.cache_hits),
                count(s.table_hits),
                count(s.cache_misses),
                (looked_up > 0).then(|| (s.cache_hits + s.table_hits) as f64 / looked_up as f64),
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// Forgets every statistic (the cluster's when shared, else this backend's). Superuser only
/// unless granted.
#[pg_extern(volatile, parallel_unsafe)]
fn pg_embed_stats_reset() {
    stats::reset();
}

extension_sql_file!(
    "../sql/stats.sql",
    name = "stats_sql",
    requires = [pg_embed_stats_rows, pg_embed_stats_reset],
);
