//! Batched, set-returning embedding: one call for an array of texts, rows in input order.
//!
//! The functions are lazy: they embed a chunk of texts when PostgreSQL asks for the next row
//! and the previous chunk is used up, and check for cancellation between chunks (and between
//! model runs inside a chunk). Inside a chunk, texts are sorted by token count so runs pad
//! little. NULL elements give NULL embeddings.

use std::collections::VecDeque;

use pgrx::prelude::*;

use crate::error::OrRaise;
use crate::runtime;
use crate::vector::Vector;

/// Texts embedded per step of the iterator.
const CHUNK: usize = 64;

struct Chunked {
    model: String,
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
            let present: Vec<(usize, &str)> =
                (self.next..end).filter_map(|i| self.texts[i].as_deref().map(|t| (i, t))).collect();
            let strs: Vec<&str> = present.iter().map(|(_, t)| *t).collect();
            let mut vectors = runtime::embed(&self.model, &strs).or_raise().vectors.into_iter();
            let mut present = present.iter().map(|(i, _)| *i).peekable();
            for i in self.next..end {
                let v = if present.peek() == Some(&i) {
                    present.next();
                    vectors.next().map(Vector)
                } else {
                    None
                };
                self.ready.push_back((i as i32 + 1, v));
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

fn rows(texts: Array<'_, &str>, model: &str) -> TableIterator<'static, (i32, Option<Vector>)> {
    let texts: Vec<Option<String>> = texts.iter().map(|t| t.map(str::to_string)).collect();
    TableIterator::new(Chunked { model: model.to_string(), texts, next: 0, ready: VecDeque::new() })
}

/// Embeds every element with the documentation model; `ord` is the 1-based array position.
#[pg_extern(stable, strict, parallel_safe, cost = 10000)]
fn embed_doc_batch(
    texts: Array<'_, &str>,
) -> TableIterator<'static, (name!(ord, i32), name!(embedding, Option<Vector>))> {
    rows(texts, runtime::DOC_MODEL)
}

/// Embeds every element with the named model; `ord` is the 1-based array position.
#[pg_extern(immutable, strict, parallel_safe, cost = 10000)]
fn embed_batch(
    texts: Array<'_, &str>,
    model: &str,
) -> TableIterator<'static, (name!(ord, i32), name!(embedding, Option<Vector>))> {
    runtime::resolve(model).or_raise();
    rows(texts, model)
}

extension_sql!(
    r#"
COMMENT ON FUNCTION embed_doc_batch(text[]) IS
  'Embeds each element with the documentation model; rows (ord, embedding) in array order, NULL for NULL elements. Lazy: works chunk by chunk and can be cancelled between chunks.';
COMMENT ON FUNCTION embed_batch(text[], text) IS
  'Embeds each element with the named model; rows (ord, embedding) in array order, NULL for NULL elements. IMMUTABLE on the condition that the files of a model name never change in place.';
"#,
    name = "batch_comments",
    requires = [embed_doc_batch, embed_batch],
);
