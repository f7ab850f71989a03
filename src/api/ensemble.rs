//! Ensembles: `embed_ensemble` combines several models' vectors in the space of the first one,
//! through projections learned by `pg_embed_learn_projection` and kept in
//! `pg_embed_projections`. The math is in `pg_embed_engine::ensemble`.

use pgrx::prelude::*;

use pg_embed_engine::ensemble::{self, Method};
use pg_embed_engine::EngineError;

use crate::error::{raise, OrRaise};
use crate::runtime;
use crate::text::Text;
use crate::vector::Vector;

fn one(model: &str, body: &str) -> Vec<f32> {
    let mut out = runtime::embed(model, &[body]).or_raise();
    out.vectors.pop().expect("one text in, one vector out")
}

/// Embeds `body` with every model in `models` (weights NULL: equal weights), projects each
/// vector into the first model's space, and returns the normalised weighted sum. STABLE: it
/// reads pg_embed_projections, and the models' files depend on pg_embed.precision.
#[pg_extern(stable, parallel_safe, cost = 20000)]
fn embed_ensemble(
    body: Option<Text>,
    models: Option<Vec<Option<String>>>,
    weights: default!(Option<Vec<Option<f32>>>, "NULL"),
) -> Option<Vector> {
    let (body, models) = (body?, models?);
    let names: Vec<&str> = models
        .iter()
        .map(|m| m.as_deref().unwrap_or_else(|| raise(EngineError::EnsembleArgument("a model name is NULL".into()))))
        .collect();
    let weights = ensemble::check_members(&names, weights.as_deref()).or_raise();
    for name in &names {
        runtime::resolve(name).or_raise();
    }
    let reference = names[0];
    // Members of weight 0 are neither embedded nor looked up.
    let used: Vec<usize> = (0..names.len()).filter(|&i| weights[i] > 0.0).collect();
    let others: Vec<&str> = used.iter().filter(|&&i| i > 0).map(|&i| names[i]).collect();
    let projections = runtime::projections::fetch(&others, reference).or_raise();
    let mut projections = projections.iter();
    let mut members = Vec::with_capacity(used.len());
    for &i in &used {
        let v = one(names[i], &body);
        let v = if i == 0 { v } else { projections.next().expect("one per other member").apply(&v).or_raise() };
        members.push((v, weights[i]));
    }
    Some(Vector(ensemble::combine(&members).or_raise()))
}

/// Learns the projection of `model`'s vectors onto `reference`'s from the texts that
/// `sample` (a query; its first column) returns, at most `sample_size` of them, and stores it
/// in pg_embed_projections, replacing an earlier one. Returns the fit, including the mean
/// cosine on a fifth of the sample left out of a second fit: the figure to trust.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, strict, parallel_unsafe)]
fn pg_embed_learn_projection(
    model: &str,
    reference: &str,
    sample: &str,
    sample_size: default!(i32, 5000),
    method: default!(&str, "'procrustes'"),
) -> TableIterator<
    'static,
    (
        name!(model, String),
        name!(reference, String),
        name!(method, String),
        name!(sample_rows, i32),
        name!(mean_cosine_before, Option<f64>),
        name!(mean_cosine_after, f64),
        name!(mean_cosine_held_out, Option<f64>),
    ),
> {
    let method = Method::parse(method).or_raise();
    if model == reference {
        raise(EngineError::EnsembleArgument(format!("model \"{model}\" is its own reference; it needs no projection")));
    }
    runtime::resolve(model).or_raise();
    runtime::resolve(reference).or_raise();
    if sample_size < ensemble::MIN_SAMPLE as i32 {
        raise(EngineError::SampleTooSmall { rows: sample_size.max(0) as usize, min: ensemble::MIN_SAMPLE });
    }
    let texts: Vec<String> = Spi::connect(|c| -> Result<Vec<String>, pgrx::spi::Error> {
        // As UTF-8 bytes whatever the database encoding (a sample only shapes the projection, so
        // bytes of a SQL_ASCII database that are not UTF-8 are replaced rather than refused).
        let query = format!("SELECT convert_to(s.t::text, 'UTF8') FROM ({sample}) AS s(t) WHERE s.t IS NOT NULL LIMIT $1");
        c.select(&query, None, &[i64::from(sample_size).into()])?
            .map(|row| row.get::<Vec<u8>>(1).map(|b| String::from_utf8_lossy(&b.unwrap_or_default()).into_owned()))
            .collect()
    })
    .unwrap_or_else(|e| raise(EngineError::EnsembleArgument(format!("the sample query failed: {e}"))));
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    if texts.len() < ensemble::MIN_SAMPLE {
        raise(EngineError::SampleTooSmall { rows: texts.len(), min: ensemble::MIN_SAMPLE });
    }
    let source = runtime::embed(model, &texts).or_raise().vectors;
    let target = runtime::embed(reference, &texts).or_raise().vectors;
    let (p, fit) = ensemble::learn(method, &source, &target).or_raise();
    let precision = crate::gucs::precision_setting_name();
    runtime::tables::store_projection(runtime::tables::LearnedProjection {
        model,
        reference,
        method: method.as_str(),
        dims_in: p.dims_in as i32,
        dims_out: p.dims_out as i32,
        matrix: p.matrix,
        sample,
        sample_rows: fit.samples as i32,
        precision,
        cosine_before: fit.cosine_before,
        cosine_after: fit.cosine_after,
        cosine_held_out: fit.cosine_held_out,
    });
    TableIterator::once((
        model.to_string(),
        reference.to_string(),
        method.as_str().to_string(),
        fit.samples as i32,
        fit.cosine_before,
        fit.cosine_after,
        fit.cosine_held_out,
    ))
}

extension_sql_file!(
    "../sql/ensemble.sql",
    name = "ensemble_sql",
    requires = ["user_models_table", embed_ensemble, pg_embed_learn_projection],
);
