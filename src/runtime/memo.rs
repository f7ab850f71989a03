//! The statement memo. A search such as
//! `ORDER BY embedding <=> embed_doc('how do I parse json') LIMIT 10` calls `embed_doc` with
//! the same argument again and again: a STABLE function may be called once per row (11 times
//! through an HNSW index for a top 10, once per row without one). Within one statement, a text
//! embedded with the same model and the same settings gives the same vector, so the memo keeps
//! the results of the current statement's single-text calls and answers repeats without
//! running the model. It is emptied when the next statement starts (each execution of a
//! prepared statement is one), keeps at most [`MAX_ENTRIES`] results of texts up to
//! [`MAX_TEXT`] bytes, and costs a statement that embeds a different text per row one hash and
//! one lookup per row. It is not the embedding cache (`pg_embed.cache_size`), which is opt-in
//! and outlives statements.

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};

use pg_embed_engine::ModelSpec;

use super::Settings;

/// Results kept per statement (the oldest goes first).
const MAX_ENTRIES: usize = 16;
/// Longer texts are not memoised (a query text is short; a long one is rarely repeated).
const MAX_TEXT: usize = 64 << 10;

struct Entry {
    hash: u64,
    key: String,
    vector: Vec<f32>,
}

thread_local! {
    static MEMO: RefCell<(i64, VecDeque<Entry>)> = const { RefCell::new((i64::MIN, VecDeque::new())) };
}

fn statement() -> i64 {
    // SAFETY: reads the current statement's start time (the leader's in a parallel worker).
    unsafe { pgrx::pg_sys::GetCurrentStatementStartTimestamp() }
}

/// Everything that decides the vector of `text`: the model, its definition and the settings.
fn key(spec: &ModelSpec, settings: &Settings, text: &str) -> Option<(u64, String)> {
    if text.len() > MAX_TEXT {
        return None;
    }
    let key = format!(
        "{}\0{}\0{:?}\0{:?}\0{:?}\0{}",
        spec.name,
        settings.precision.as_str(),
        settings.policy.long_text,
        settings.session,
        settings.limits,
        text
    );
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    Some((h.finish(), key))
}

/// The vector this statement already computed for `text` with these settings, if any.
pub fn get(spec: &ModelSpec, settings: &Settings, text: &str) -> Option<Vec<f32>> {
    let (hash, key) = key(spec, settings, text)?;
    let now = statement();
    MEMO.with(|m| {
        let m = m.borrow();
        if m.0 != now {
            return None;
        }
        m.1.iter().find(|e| e.hash == hash && e.key == key).map(|e| e.vector.clone())
    })
}

/// Remembers `vector` as this statement's result for `text` with these settings.
pub fn put(spec: &ModelSpec, settings: &Settings, text: &str, vector: &[f32]) {
    let Some((hash, key)) = key(spec, settings, text) else { return };
    let now = statement();
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        if m.0 != now {
            *m = (now, VecDeque::new());
        }
        if m.1.len() >= MAX_ENTRIES {
            m.1.pop_front();
        }
        m.1.push_back(Entry { hash, key, vector: vector.to_vec() });
    });
}
