//! Of pg_embed's three caches, this is the vector cache: the embeddings one backend has
//! computed, within `pg_embed.cache_size` (not the model LRU of loaded models,
//! [`crate::cache`], nor the table `pg_embed_cache` that the SQL layer shares between backends
//! and looks in after this one).
//!
//! The embedding cache of one backend: vectors by key, least recently used evicted first to
//! stay within a byte budget.
//!
//! A key is the SHA-256 of everything a vector depends on ([`key`]): model name, precision,
//! the identity of the model's files, the long-text mode, and the text. Two texts share a key
//! only if they are equal (or SHA-256 collides), and a key made under other model files or
//! settings is a different key, so an entry is never served where it would be stale.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};

use crate::catalog::Precision;
use crate::model::LongText;

pub type Key = [u8; 32];

/// What an entry costs besides its floats: the key twice (map and order), the map slot and
/// the Vec header, rounded up.
const ENTRY_OVERHEAD: usize = 128;

/// The cache key of `text` embedded by model `model` at `precision`, from files with
/// `identity`, under long-text mode `mode`.
pub fn key(model: &str, precision: Precision, identity: &str, mode: LongText, text: &str) -> Key {
    let mut h = Sha256::new();
    for part in [model, precision.as_str(), identity, mode_name(mode)] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(text.as_bytes());
    h.finalize().into()
}

fn mode_name(mode: LongText) -> &'static str {
    match mode {
        // Truncate and error give the same vector for every text error accepts, but a text
        // error refuses must not be answered from an entry truncate made.
        LongText::Truncate => "truncate",
        LongText::Error => "error",
        LongText::Window => "window",
    }
}

struct Entry {
    vector: Vec<f32>,
    stamp: u64,
}

#[derive(Default)]
pub struct VectorCache {
    map: HashMap<Key, Entry>,
    /// stamp -> key, oldest first.
    order: BTreeMap<u64, Key>,
    clock: u64,
    bytes: usize,
}

fn cost(v: &[f32]) -> usize {
    v.len() * 4 + ENTRY_OVERHEAD
}

impl VectorCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The vector under `key`, marked as just used.
    pub fn get(&mut self, key: &Key) -> Option<&[f32]> {
        self.clock += 1;
        let e = self.map.get_mut(key)?;
        self.order.remove(&e.stamp);
        e.stamp = self.clock;
        self.order.insert(self.clock, *key);
        Some(&e.vector)
    }

    /// Stores `vector` under `key`, then evicts the oldest entries until the cache holds at
    /// most `budget` bytes (a vector larger than the budget is not kept).
    pub fn insert(&mut self, key: Key, vector: Vec<f32>, budget: usize) {
        self.remove(&key);
        self.clock += 1;
        self.bytes += cost(&vector);
        self.order.insert(self.clock, key);
        self.map.insert(key, Entry { vector, stamp: self.clock });
        self.shrink_to(budget);
    }

    fn remove(&mut self, key: &Key) {
        if let Some(e) = self.map.remove(key) {
            self.order.remove(&e.stamp);
            self.bytes -= cost(&e.vector);
        }
    }

    /// Evicts least recently used entries until at most `budget` bytes are held.
    pub fn shrink_to(&mut self, budget: usize) {
        while self.bytes > budget {
            let Some((_, key)) = self.order.pop_first() else { break };
            if let Some(e) = self.map.remove(&key) {
                self.bytes -= cost(&e.vector);
            }
        }
    }

    /// Empties the cache; returns how many entries it held.
    pub fn clear(&mut self) -> usize {
        let n = self.map.len();
        *self = Self { clock: self.clock, ..Self::default() };
        n
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes the entries are charged (floats plus a fixed overhead each).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(text: &str) -> Key {
        key("m", Precision::Fp32, "id", LongText::Truncate, text)
    }

    #[test]
    fn keys_differ_in_every_part() {
        let base = key("m", Precision::Fp32, "id", LongText::Truncate, "t");
        assert_ne!(base, key("n", Precision::Fp32, "id", LongText::Truncate, "t"));
        assert_ne!(base, key("m", Precision::Int8, "id", LongText::Truncate, "t"));
        assert_ne!(base, key("m", Precision::Fp32, "id2", LongText::Truncate, "t"));
        assert_ne!(base, key("m", Precision::Fp32, "id", LongText::Window, "t"));
        assert_ne!(base, key("m", Precision::Fp32, "id", LongText::Truncate, "u"));
        // The separator keeps the parts apart: "m"+"fp32..." is not "mf"+"p32...".
        assert_ne!(key("ab", Precision::Fp32, "c", LongText::Truncate, ""), key("a", Precision::Fp32, "bc", LongText::Truncate, ""));
    }

    #[test]
    fn least_recently_used_goes_first_within_the_budget() {
        let one = cost(&[0.0; 4]);
        let mut c = VectorCache::new();
        c.insert(k("a"), vec![1.0; 4], 3 * one);
        c.insert(k("b"), vec![2.0; 4], 3 * one);
        c.insert(k("c"), vec![3.0; 4], 3 * one);
        assert_eq!(c.get(&k("a")), Some(&[1.0f32; 4][..]), "a is now the most recent");
        c.insert(k("d"), vec![4.0; 4], 3 * one);
        assert_eq!(c.len(), 3);
        assert!(c.get(&k("b")).is_none(), "b was the least recently used");
        assert!(c.get(&k("a")).is_some() && c.get(&k("c")).is_some() && c.get(&k("d")).is_some());
        assert_eq!(c.bytes(), 3 * one);
        c.shrink_to(one);
        assert_eq!(c.len(), 1);
        assert_eq!(c.clear(), 1);
        assert!(c.is_empty() && c.bytes() == 0);
    }

    #[test]
    fn a_zero_budget_keeps_nothing_and_replacing_keeps_the_count_right() {
        let mut c = VectorCache::new();
        c.insert(k("a"), vec![1.0; 4], 0);
        assert!(c.is_empty() && c.bytes() == 0);
        c.insert(k("a"), vec![1.0; 4], 1 << 20);
        c.insert(k("a"), vec![5.0; 4], 1 << 20);
        assert_eq!(c.len(), 1);
        assert_eq!(c.bytes(), cost(&[0.0; 4]));
        assert_eq!(c.get(&k("a")), Some(&[5.0f32; 4][..]));
    }
}
