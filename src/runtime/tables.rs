//! Every statement pg_embed's Rust code runs against the extension's own tables, in one place.
//!
//! Each statement names its table through the schema the extension is installed in, and runs
//! with `search_path = pg_catalog, pg_temp`, so neither a schema missing from the caller's path
//! nor an object another role planted on it (a same-named table, or an exact-type overload of
//! a built-in function or operator, which would beat `pg_catalog`'s polymorphic one) can change
//! what runs. Each table's columns are spelled once, here.
//!
//! Errors of these statements propagate as the SQL errors they are; nothing here swallows one.

use pgrx::prelude::*;
use pgrx::{pg_sys, spi};

use pg_embed_engine::catalog::{ModelFiles, Pooling, PoolingKind};
use pg_embed_engine::{ModelSpec, Role};

use crate::error::report;

/// Runs `f` with `search_path` set to `pg_catalog, pg_temp`, as a function's `SET` clause
/// would; the caller's path is back when `f` returns (and, if `f` raises an ERROR, when the
/// (sub)transaction aborts).
pub fn with_fixed_path<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: NewGUCNestLevel/set_config_option/AtEOXact_GUC are how PostgreSQL itself applies
    // a function's SET clause; the nest level is popped on return, or by the abort of the
    // (sub)transaction if `f` raises an ERROR.
    unsafe {
        let level = pg_sys::NewGUCNestLevel();
        pg_sys::set_config_option(
            c"search_path".as_ptr(),
            c"pg_catalog, pg_temp".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        let out = f();
        pg_sys::AtEOXact_GUC(true, level);
        out
    }
}

/// The schema pg_embed is installed in, quoted for SQL.
pub fn schema() -> String {
    // Read-only SPI: this runs in parallel workers too.
    with_fixed_path(|| {
        Spi::connect(|c| -> spi::Result<Option<String>> {
            match c
                .select(
                    "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
                     WHERE e.extname = 'pg_embed'",
                    Some(1),
                    &[],
                )?
                .into_iter()
                .next()
            {
                Some(row) => row.get::<String>(1),
                None => Ok(None),
            }
        })
    })
    .unwrap_or_else(|e| spi_failed("pg_extension", e))
    .unwrap_or_else(|| {
        report(
            pgrx::PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            "extension \"pg_embed\" is not installed in this database",
            None,
            Some("CREATE EXTENSION pg_embed CASCADE;".into()),
        )
    })
}

fn spi_failed(table: &str, e: spi::Error) -> ! {
    report(pgrx::PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("pg_embed: could not use {table}: {e}"), None, None)
}

fn qualified(table: &str) -> String {
    format!("{}.{table}", schema())
}

// ---------------------------------------------------------------------------------------------
// pg_embed_user_models

/// The user-models table's columns, in the order [`spec_from_row`] reads them.
const USER_COLUMNS: &str = "name, dims, pooling, pooled_output, max_tokens, role, fp32_file, int8_file, \
     tokenizer_file, int8_safe, query_prefix, document_prefix, repo, revision, license";

fn spec_from_row(row: &spi::SpiHeapTupleData) -> spi::Result<ModelSpec> {
    let text = |i: usize| -> spi::Result<String> { Ok(row.get::<String>(i)?.unwrap_or_default()) };
    let kind = match text(3)?.as_str() {
        "cls" => PoolingKind::Cls,
        "pooled" => PoolingKind::Pooled,
        _ => PoolingKind::Mean,
    };
    let output = text(4)?;
    Ok(ModelSpec {
        name: text(1)?,
        dims: row.get::<i32>(2)?.unwrap_or(0).max(0) as usize,
        pooling: Pooling { kind, output: if output.is_empty() { "last_hidden_state".into() } else { output } },
        max_tokens: row.get::<i32>(5)?.unwrap_or(0).max(0) as usize,
        // The table's CHECK admits only these spellings.
        role: Role::parse(&text(6)?).unwrap_or(Role::General),
        files: ModelFiles { fp32: text(7)?, int8: text(8)?, tokenizer: text(9)? },
        int8_safe: row.get::<bool>(10)?.unwrap_or(false),
        int8_note: "registered by a user".into(),
        query_prefix: text(11)?,
        document_prefix: text(12)?,
        repo: text(13)?,
        revision: text(14)?,
        license: text(15)?,
        approx_mb: 1,
        hub_files: Default::default(),
        sha256: Default::default(),
        checkpoint: None,
        input_template: String::new(),
        published_quality: String::new(),
    })
}

/// The registered user model `name`, if any.
pub fn user_model(name: &str) -> Option<ModelSpec> {
    let query = format!("SELECT {USER_COLUMNS} FROM {} WHERE name = $1", qualified("pg_embed_user_models"));
    with_fixed_path(|| {
        Spi::connect(|client| -> spi::Result<Option<ModelSpec>> {
            match client.select(&query, Some(1), &[name.into()])?.into_iter().next() {
                Some(row) => Ok(Some(spec_from_row(&row)?)),
                None => Ok(None),
            }
        })
    })
    .unwrap_or_else(|e| spi_failed("pg_embed_user_models", e))
}

/// Every registered user model, by name.
pub fn user_models() -> Vec<ModelSpec> {
    let query = format!("SELECT {USER_COLUMNS} FROM {} ORDER BY name", qualified("pg_embed_user_models"));
    with_fixed_path(|| {
        Spi::connect(|client| -> spi::Result<Vec<ModelSpec>> {
            client.select(&query, None, &[])?.into_iter().map(|row| spec_from_row(&row)).collect()
        })
    })
    .unwrap_or_else(|e| spi_failed("pg_embed_user_models", e))
}

/// Registers `spec` (or replaces the registration of its name). `pooling` as the table spells it.
pub fn upsert_user_model(spec: &ModelSpec, pooling: &str) {
    let columns = USER_COLUMNS;
    let placeholders = (1..=USER_COLUMNS.split(',').count()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let updates = USER_COLUMNS
        .split(',')
        .map(str::trim)
        .filter(|c| *c != "name")
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let query = format!(
        "INSERT INTO {} AS m ({columns}) VALUES ({placeholders}) \
         ON CONFLICT (name) DO UPDATE SET {updates}, registered_at = now()",
        qualified("pg_embed_user_models")
    );
    let int = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    with_fixed_path(|| {
        Spi::run_with_args(
            &query,
            &[
                spec.name.as_str().into(),
                int(spec.dims).into(),
                pooling.into(),
                spec.pooling.output.as_str().into(),
                int(spec.max_tokens).into(),
                spec.role.as_str().into(),
                spec.files.fp32.as_str().into(),
                spec.files.int8.as_str().into(),
                spec.files.tokenizer.as_str().into(),
                spec.int8_safe.into(),
                spec.query_prefix.as_str().into(),
                spec.document_prefix.as_str().into(),
                spec.repo.as_str().into(),
                spec.revision.as_str().into(),
                spec.license.as_str().into(),
            ],
        )
    })
    .unwrap_or_else(|e| spi_failed("pg_embed_user_models", e));
}

// ---------------------------------------------------------------------------------------------
// pg_embed_selection (routing pins)

/// A role's pin: `(model, preferences it was chosen from)`.
pub fn pin(role: Role) -> Option<(String, String)> {
    let query = format!("SELECT model, preferences FROM {} WHERE role = $1", qualified("pg_embed_selection"));
    with_fixed_path(|| {
        Spi::connect(|c| -> spi::Result<Option<(String, String)>> {
            match c.select(&query, Some(1), &[role.as_str().into()])?.into_iter().next() {
                Some(row) => Ok(Some((row.get::<String>(1)?.unwrap_or_default(), row.get::<String>(2)?.unwrap_or_default()))),
                None => Ok(None),
            }
        })
    })
    .unwrap_or_else(|e| spi_failed("pg_embed_selection", e))
}

/// Pins `model` for `role` (replacing any pin), or removes the role's pin with `None`.
pub fn set_pin(role: Role, choice: Option<(&str, &str, &str)>) {
    let role = role.as_str();
    let table = qualified("pg_embed_selection");
    with_fixed_path(|| match choice {
        Some((model, prefs, reason)) => Spi::run_with_args(
            &format!(
                "INSERT INTO {table} AS s (role, model, preferences, reason) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (role) DO UPDATE SET model = EXCLUDED.model, preferences = EXCLUDED.preferences, \
                 reason = EXCLUDED.reason, chosen_at = now()"
            ),
            &[role.into(), model.into(), prefs.into(), reason.into()],
        ),
        None => Spi::run_with_args(&format!("DELETE FROM {table} WHERE role = $1"), &[role.into()]),
    })
    .unwrap_or_else(|e| spi_failed("pg_embed_selection", e));
}

// ---------------------------------------------------------------------------------------------
// pg_embed_projections

/// For each of `models` that has a projection onto `reference`: `(model, version)`, where the
/// version changes with every learning and every UPDATE of the row.
pub fn projection_versions(models: &[String], reference: &str) -> Vec<(String, String)> {
    let query = format!(
        "SELECT model, format('%s/%s/%s', version, xmin, ctid) FROM {} WHERE reference = $1 AND model = ANY($2)",
        qualified("pg_embed_projections")
    );
    with_fixed_path(|| {
        Spi::connect(|c| -> spi::Result<Vec<(String, String)>> {
            c.select(&query, None, &[reference.into(), models.to_vec().into()])?
                .map(|row| Ok((row.get::<String>(1)?.unwrap_or_default(), row.get::<String>(2)?.unwrap_or_default())))
                .collect()
        })
    })
    .unwrap_or_else(|e| spi_failed("pg_embed_projections", e))
}

/// The projection of `model` onto `reference`: `(dims_in, dims_out, matrix)`, if there is one.
pub fn projection(model: &str, reference: &str) -> Option<(i32, i32, Vec<f32>)> {
    let query = format!(
        "SELECT dims_in, dims_out, matrix FROM {} WHERE model = $1 AND reference = $2",
        qualified("pg_embed_projections")
    );
    with_fixed_path(|| {
        Spi::connect(|c| -> spi::Result<Option<(i32, i32, Vec<f32>)>> {
            match c.select(&query, Some(1), &[model.into(), reference.into()])?.into_iter().next() {
                Some(row) => Ok(Some((
                    row.get::<i32>(1)?.unwrap_or(0),
                    row.get::<i32>(2)?.unwrap_or(0),
                    row.get::<Vec<f32>>(3)?.unwrap_or_default(),
                ))),
                None => Ok(None),
            }
        })
    })
    .unwrap_or_else(|e| spi_failed("pg_embed_projections", e))
}

/// What a learned projection is stored with.
pub struct LearnedProjection<'a> {
    pub model: &'a str,
    pub reference: &'a str,
    pub method: &'a str,
    pub dims_in: i32,
    pub dims_out: i32,
    pub matrix: Vec<f32>,
    pub sample: &'a str,
    pub sample_rows: i32,
    pub precision: &'a str,
    pub cosine_before: Option<f64>,
    pub cosine_after: f64,
    pub cosine_held_out: Option<f64>,
}

/// Stores a learned projection, replacing an earlier one of the same pair.
pub fn store_projection(p: LearnedProjection<'_>) {
    let query = format!(
        "INSERT INTO {} AS p (model, reference, method, dims_in, dims_out, matrix, sample, sample_rows, \
           precision, mean_cosine_before, mean_cosine_after, mean_cosine_held_out) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (model, reference) DO UPDATE SET method = EXCLUDED.method, dims_in = EXCLUDED.dims_in, \
           dims_out = EXCLUDED.dims_out, matrix = EXCLUDED.matrix, sample = EXCLUDED.sample, \
           sample_rows = EXCLUDED.sample_rows, precision = EXCLUDED.precision, \
           mean_cosine_before = EXCLUDED.mean_cosine_before, mean_cosine_after = EXCLUDED.mean_cosine_after, \
           mean_cosine_held_out = EXCLUDED.mean_cosine_held_out, \
           version = EXCLUDED.version, learned_at = now(), learned_by = current_user",
        qualified("pg_embed_projections")
    );
    with_fixed_path(|| {
        Spi::run_with_args(
            &query,
            &[
                p.model.into(),
                p.reference.into(),
                p.method.into(),
                p.dims_in.into(),
                p.dims_out.into(),
                p.matrix.into(),
                p.sample.into(),
                p.sample_rows.into(),
                p.precision.into(),
                p.cosine_before.into(),
                p.cosine_after.into(),
                p.cosine_held_out.into(),
            ],
        )
    })
    .unwrap_or_else(|e| spi_failed("pg_embed_projections", e));
}

// ---------------------------------------------------------------------------------------------
// pg_embed_cache

/// The cache table's qualified name and what the current role may do with it.
#[derive(Clone)]
pub struct CacheAccess {
    pub table: String,
    pub read: bool,
    pub write: bool,
}

/// The cache table and the current role's privileges on it (None if the table is gone).
pub fn cache_access() -> Option<CacheAccess> {
    with_fixed_path(|| {
        Spi::connect(|client| -> spi::Result<Option<CacheAccess>> {
            let row = client
                .select(
                    "SELECT format('%I.%I', n.nspname, c.relname), has_table_privilege(c.oid, 'SELECT'), \
                            has_table_privilege(c.oid, 'INSERT') \
                       FROM pg_extension e JOIN pg_depend d ON d.refobjid = e.oid AND d.classid = 'pg_class'::regclass \
                       JOIN pg_class c ON c.oid = d.objid JOIN pg_namespace n ON n.oid = c.relnamespace \
                      WHERE e.extname = 'pg_embed' AND c.relname = 'pg_embed_cache' AND c.relkind = 'r'",
                    Some(1),
                    &[],
                )?
                .first();
            if row.is_empty() {
                return Ok(None);
            }
            let (table, read, write) = row.get_three::<String, bool, bool>()?;
            Ok(table.map(|table| CacheAccess { table, read: read.unwrap_or(false), write: write.unwrap_or(false) }))
        })
    })
    .unwrap_or_else(|e| spi_failed("pg_embed_cache", e))
}

/// The cached vectors of `keys` in the table: `(key, vector)` for those found.
pub fn cache_lookup(access: &CacheAccess, keys: Vec<Vec<u8>>) -> Vec<(Vec<u8>, Vec<f32>)> {
    let query = format!("SELECT key, embedding FROM {} WHERE key = ANY($1)", access.table);
    with_fixed_path(|| {
        Spi::connect(|client| -> spi::Result<Vec<(Vec<u8>, Vec<f32>)>> {
            let mut found = Vec::new();
            for row in client.select(&query, None, &[keys.into()])? {
                if let (Some(k), Some(v)) = (row.get::<Vec<u8>>(1)?, row.get::<Vec<f32>>(2)?) {
                    found.push((k, v));
                }
            }
            Ok(found)
        })
    })
    .unwrap_or_else(|e| spi_failed("pg_embed_cache", e))
}

/// Stores `(key, vector)` rows in the table, keeping rows already there; returns how many
/// were added.
pub fn cache_store(access: &CacheAccess, model: &str, precision: &str, identity: &str, entries: &[(Vec<u8>, Vec<f32>)]) -> u64 {
    let query = format!(
        "INSERT INTO {} (key, model, precision, model_files, embedding) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (key) DO NOTHING RETURNING 1",
        access.table
    );
    with_fixed_path(|| {
        Spi::connect_mut(|client| -> spi::Result<u64> {
            let mut added = 0;
            for (k, v) in entries {
                let status = client.update(&query, None, &[k.clone().into(), model.into(), precision.into(), identity.into(), v.clone().into()])?;
                added += status.len() as u64;
            }
            Ok(added)
        })
    })
    .unwrap_or_else(|e| spi_failed("pg_embed_cache", e))
}
