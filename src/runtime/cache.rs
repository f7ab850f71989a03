//! The embedding cache: this backend's memory (`pg_embed.cache_size`) first, then the shared
//! table `pg_embed_cache` (`pg_embed.persistent_cache`).
//!
//! Embedding calls only read the table (wherever a SELECT works: parallel workers, read-only
//! transactions, standbys); they never write it. Rows are added by `pg_embed_cache_store()`
//! (and by `pg_embed_backfill` with `pg_embed.persistent_cache = write`), which computes every
//! vector itself from the text and runs as the extension's owner: no role can insert a vector
//! of its choosing under a text's key, so no session can be served a poisoned vector.

use std::cell::RefCell;
use std::collections::HashMap;

use pgrx::pg_sys;

use pg_embed_engine::vcache::{Key, VectorCache};
use pg_embed_engine::Precision;

use super::tables::{self, CacheAccess};
use crate::gucs::{self, PersistentCache};

thread_local! {
    static MEMORY: RefCell<VectorCache> = RefCell::new(VectorCache::new());
    /// Per statement (and user): the table's qualified name and what this role may do with it.
    static ACCESS: RefCell<Option<(i64, pg_sys::Oid, Option<CacheAccess>)>> = const { RefCell::new(None) };
}

/// Drops the oldest entries while the cache holds more than `pg_embed.cache_size` (all of
/// them once it is 0), so a lowered setting frees memory on the next call. Nothing to do, and
/// no cost to speak of, while the cache is within the setting.
pub fn enforce_budget() {
    let budget = gucs::cache_bytes();
    MEMORY.with(|m| m.borrow_mut().shrink_to(budget));
}

/// Looks `keys` up in memory; fills `out` where found and returns how many were.
pub fn lookup_memory(keys: &[Key], out: &mut [Option<Vec<f32>>]) -> u64 {
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        let mut hits = 0;
        for (k, slot) in keys.iter().zip(out.iter_mut()) {
            if slot.is_none() {
                if let Some(v) = m.get(k) {
                    *slot = Some(v.to_vec());
                    hits += 1;
                }
            }
        }
        hits
    })
}

/// Keeps vectors in this backend's memory cache (within `pg_embed.cache_size`).
pub fn remember(entries: &[(Key, &[f32])]) {
    let budget = gucs::cache_bytes();
    if budget == 0 {
        return;
    }
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        for (k, v) in entries {
            m.insert(*k, v.to_vec(), budget);
        }
    });
}

/// Empties this backend's memory cache; returns how many vectors it held.
pub fn clear_memory() -> usize {
    MEMORY.with(|m| m.borrow_mut().clear())
}

/// (entries, bytes) of this backend's memory cache, under the current setting.
pub fn memory_usage() -> (usize, usize) {
    enforce_budget();
    MEMORY.with(|m| {
        let m = m.borrow();
        (m.len(), m.bytes())
    })
}

fn access() -> Option<CacheAccess> {
    // SAFETY: both read the current statement's start time and the current user; no preconditions.
    let (statement, user) = unsafe { (pg_sys::GetCurrentStatementStartTimestamp(), pg_sys::GetUserId()) };
    if let Some((s, u, a)) = ACCESS.with(|c| c.borrow().clone()) {
        if s == statement && u == user {
            return a;
        }
    }
    let found = tables::cache_access();
    ACCESS.with(|c| *c.borrow_mut() = Some((statement, user, found.clone())));
    found
}

/// Looks the keys still missing in `out` up in the table; returns how many were found.
pub fn lookup_table(keys: &[Key], out: &mut [Option<Vec<f32>>]) -> u64 {
    if gucs::persistent_cache() == PersistentCache::Off {
        return 0;
    }
    lookup_table_always(keys, out)
}

/// [`lookup_table`] whatever `pg_embed.persistent_cache` says.
pub fn lookup_table_always(keys: &[Key], out: &mut [Option<Vec<f32>>]) -> u64 {
    let missing: Vec<Vec<u8>> = keys.iter().zip(out.iter()).filter(|(_, v)| v.is_none()).map(|(k, _)| k.to_vec()).collect();
    if missing.is_empty() {
        return 0;
    }
    let Some(access) = access().filter(|a| a.read) else { return 0 };
    let found: HashMap<Vec<u8>, Vec<f32>> = tables::cache_lookup(&access, missing).into_iter().collect();
    let mut hits = 0;
    for (k, slot) in keys.iter().zip(out.iter_mut()) {
        if slot.is_none() {
            if let Some(v) = found.get(&k[..]) {
                *slot = Some(v.clone());
                hits += 1;
            }
        }
    }
    hits
}

/// Stores `(key, vector)` rows computed by [`super::store_in_table`]; returns how many were
/// new (a key stored meanwhile by another session is kept as it is).
pub fn store_rows(model: &str, precision: Precision, identity: &str, rows: &[(Vec<u8>, Vec<f32>)]) -> u64 {
    match access().filter(|a| a.write) {
        Some(access) if !rows.is_empty() => tables::cache_store(&access, model, precision.as_str(), identity, rows),
        _ => 0,
    }
}
