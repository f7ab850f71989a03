//! Learned projections (table `pg_embed_projections`), cached per backend.
//!
//! A projection is a few hundred kilobytes of floats, so a backend keeps the ones it has used.
//! Every `embed_ensemble` call still asks the table for the current version of each row it
//! needs (one small indexed query), so a projection learned again, changed or deleted is seen
//! by the next call in every session; only the matrix itself is reused while the row is the
//! same. The row's identity is its `version` (new at each learning) plus its `xmin` and
//! `ctid`, which change with any UPDATE, even one made by hand.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pg_embed_engine::ensemble::Projection;
use pg_embed_engine::EngineError;
use pgrx::prelude::*;

type Key = (String, String);

thread_local! {
    static CACHE: RefCell<HashMap<Key, (String, Rc<Projection>)>> = RefCell::new(HashMap::new());
}

fn spi_error(e: pgrx::spi::Error) -> EngineError {
    EngineError::ProjectionShape { reason: format!("could not read pg_embed_projections: {e}") }
}

/// The projections of `models` onto `reference`, in the order of `models`.
pub fn fetch(models: &[&str], reference: &str) -> Result<Vec<Rc<Projection>>, EngineError> {
    if models.is_empty() {
        return Ok(Vec::new());
    }
    let table = format!("{}.pg_embed_projections", super::extension_schema());
    let names: Vec<String> = models.iter().map(|m| m.to_string()).collect();
    let versions: HashMap<String, String> = Spi::connect(|c| -> Result<_, pgrx::spi::Error> {
        let rows = c.select(
            &format!("SELECT model, format('%s/%s/%s', version, xmin, ctid) FROM {table} WHERE reference = $1 AND model = ANY($2)"),
            None,
            &[reference.into(), names.clone().into()],
        )?;
        let mut out = HashMap::new();
        for row in rows {
            out.insert(row.get::<String>(1)?.unwrap_or_default(), row.get::<String>(2)?.unwrap_or_default());
        }
        Ok(out)
    })
    .map_err(spi_error)?;
    let mut out = Vec::with_capacity(models.len());
    for m in models {
        let Some(version) = versions.get(*m) else {
            return Err(EngineError::ProjectionMissing { model: m.to_string(), reference: reference.to_string() });
        };
        let key = (m.to_string(), reference.to_string());
        let cached = CACHE.with(|c| c.borrow().get(&key).filter(|(v, _)| v == version).map(|(_, p)| p.clone()));
        let p = match cached {
            Some(p) => p,
            None => {
                let p = Rc::new(read(&table, m, reference)?);
                CACHE.with(|c| c.borrow_mut().insert(key, (version.clone(), p.clone())));
                p
            }
        };
        out.push(p);
    }
    Ok(out)
}

fn read(table: &str, model: &str, reference: &str) -> Result<Projection, EngineError> {
    let (dims_in, dims_out, matrix) = Spi::connect(|c| -> Result<_, pgrx::spi::Error> {
        let row = c
            .select(
                &format!("SELECT dims_in, dims_out, matrix FROM {table} WHERE model = $1 AND reference = $2"),
                Some(1),
                &[model.into(), reference.into()],
            )?
            .first();
        Ok((row.get::<i32>(1)?.unwrap_or(0), row.get::<i32>(2)?.unwrap_or(0), row.get::<Vec<f32>>(3)?.unwrap_or_default()))
    })
    .map_err(spi_error)?;
    Projection::new(dims_in.max(0) as usize, dims_out.max(0) as usize, matrix)
}
