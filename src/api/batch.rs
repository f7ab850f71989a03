//! Batched, set-returning embedding: one call for an array of texts, rows in input order.
//!
//! The functions are lazy: they embed a chunk of texts when PostgreSQL asks for the next row
//! and the previous chunk is used up, and check for cancellation between chunks (and between
//! model runs inside a chunk). Inside a chunk, texts are sorted by token count so runs pad
//! little. NULL elements give NULL embeddings.

use std::collections::VecDeque;

use pgrx::prelude::*;

use pg_embed_engine::Role;

use crate::error::OrRaise;
use crate::runtime;
use crate::text::Text;
use crate::vector::Vector;

/// Texts embedded per step of the iterator.
const CHUNK: usize = 64;

/// How the elements of a batch find their model.
pub(crate) enum Route {
    /// One named model for all.
    Model(String),
    /// The model routing picks for a role.
    Role(Role),
    /// Each text by its detected content (embed_auto).
    Auto,
}

impl Route {
    fn model_for(&self, text: &str) -> String {
        match self {
            Route::Model(m) => m.clone(),
            Route::Role(role) => runtime::routing::choose(*role).or_raise().model,
            Route::Auto => runtime::routing::choose(runtime::routing::role_of(text)).or_raise().model,
        }
    }
}

struct Chunked {
    route: Route,
    texts: Vec<Option<String>>,
    next: usize,
    ready: VecDeque<(i32, Option<Vector>)>,
}

impl Iterator for Chunked {
    type Item = (i32, Option<Vector>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() && self.next < self.texts.len() {
            pgrx::check_for_interrupts!();
            let end = (self.next + CHUNK).min(self.texts.len());
            // Group the chunk's texts by model (one group unless routed per text).
            let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
            for i in self.next..end {
                if let Some(t) = self.texts[i].as_deref() {
                    let model = self.route.model_for(t);
                    match groups.iter_mut().find(|(m, _)| *m == model) {
                        Some((_, idx)) => idx.push(i),
                        None => groups.push((model, vec![i])),
                    }
                }
            }
            let mut out: Vec<Option<Vector>> = (self.next..end).map(|_| None).collect();
            for (model, idx) in groups {
                let strs: Vec<&str> = idx.iter().filter_map(|&i| self.texts[i].as_deref()).collect();
                let vectors = runtime::embed(&model, &strs).or_raise().vectors;
                for (i, v) in idx.into_iter().zip(vectors) {
                    out[i - self.next] = Some(Vector(v));
                }
            }
            for (k, v) in out.into_iter().enumerate() {
                self.ready.push_back(((self.next + k) as i32 + 1, v));
            }
            // Free the texts already embedded.
            for t in &mut self.texts[self.next..end] {
                *t = None;
            }
            self.next = end;
        }
        self.ready.pop_front()
    }
}

pub(crate) fn rows(texts: Array<'_, Text>, route: Route) -> TableIterator<'static, (i32, Option<Vector>)> {
    let texts: Vec<Option<String>> = texts.iter().map(|t| t.map(|t| t.to_string())).collect();
    TableIterator::new(Chunked { route, texts, next: 0, ready: VecDeque::new() })
}

/// Embeds every element with the model embed_doc uses; `ord` is the 1-based array position.
#[pg_extern(stable, strict, parallel_safe, cost = 10000)]
fn embed_doc_batch(
    texts: Array<'_, Text>,
) -> TableIterator<'static, (name!(ord, i32), name!(embedding, Option<Vector>))> {
    rows(texts, Route::Role(Role::Doc))
}

/// Embeds every element with the named model; `ord` is the 1-based array position. STABLE,
/// like embed(text, text).
#[pg_extern(stable, strict, parallel_safe, cost = 10000)]
fn embed_batch(
    texts: Array<'_, Text>,
    model: Text,
) -> TableIterator<'static, (name!(ord, i32), name!(embedding, Option<Vector>))> {
    runtime::resolve(&model).or_raise();
    rows(texts, Route::Model(model.to_string()))
}

extension_sql_file!(
    "../sql/batch.sql",
    name = "batch_comments",
    requires = [embed_doc_batch, embed_batch],
);
