//! Per-backend model state. A backend is single-threaded, so a `thread_local!` holds the
//! loaded models without locks. Models load on first use, after the fork, never in _PG_init.
//! (For now every loaded model is kept for the backend's life.)

use std::cell::RefCell;
use std::collections::HashMap;

use pg_embed_engine::model::Embedded;
use pg_embed_engine::session::SessionOptions;
use pg_embed_engine::{Catalog, Embedder, EngineError, LoadOptions, ModelSpec};

use crate::gucs;

/// The model `embed_doc` uses.
pub const DOC_MODEL: &str = "all-MiniLM-L6-v2";

thread_local! {
    static CATALOG: Catalog = Catalog::builtin();
    static MODELS: RefCell<HashMap<String, Embedder>> = RefCell::new(HashMap::new());
}

fn spec(name: &str) -> Result<ModelSpec, EngineError> {
    CATALOG.with(|c| c.get(name).cloned())
}

fn load_options(spec: &ModelSpec) -> LoadOptions {
    LoadOptions {
        model_dir: gucs::model_dir(),
        runtime_library: gucs::onnxruntime_library(),
        precision: gucs::precision_for(spec),
        session: SessionOptions { intra_threads: gucs::threads(), ..SessionOptions::default() },
    }
}

/// Embeds `texts` with model `name`, loading it first if this backend does not hold it (or
/// holds it at another precision than the settings now ask for).
pub fn embed(name: &str, texts: &[&str]) -> Result<Embedded, EngineError> {
    let spec = spec(name)?;
    let opts = load_options(&spec);
    MODELS.with(|models| {
        let mut models = models.borrow_mut();
        let stale = models.get(name).is_some_and(|m| m.precision() != opts.precision);
        if stale {
            models.remove(name);
        }
        if !models.contains_key(name) {
            models.insert(name.to_string(), Embedder::load(&spec, &opts)?);
        }
        let model = models.get_mut(name).expect("inserted above");
        model.embed(texts)
    })
}
