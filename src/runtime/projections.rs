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

type Key = (String, String);

thread_local! {
    static CACHE: RefCell<HashMap<Key, (String, Rc<Projection>)>> = RefCell::new(HashMap::new());
}

/// The projections of `models` onto `reference`, in the order of `models`.
pub fn fetch(models: &[&str], reference: &str) -> Result<Vec<Rc<Projection>>, EngineError> {
    if models.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = models.iter().map(|m| m.to_string()).collect();
    let versions: HashMap<String, String> = super::tables::projection_versions(&names, reference).into_iter().collect();
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
                let p = Rc::new(read(m, reference)?);
                CACHE.with(|c| c.borrow_mut().insert(key, (version.clone(), p.clone())));
                p
            }
        };
        out.push(p);
    }
    Ok(out)
}

fn read(model: &str, reference: &str) -> Result<Projection, EngineError> {
    // The row was there a moment ago; if it went since, the projection is missing.
    let (dims_in, dims_out, matrix) = super::tables::projection(model, reference)
        .ok_or_else(|| EngineError::ProjectionMissing { model: model.to_string(), reference: reference.to_string() })?;
    Projection::new(dims_in.max(0) as usize, dims_out.max(0) as usize, matrix)
}
