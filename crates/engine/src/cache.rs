//! Of pg_embed's three caches, this is the model LRU: the models loaded in one backend, within
//! `pg_embed.memory_limit` (not the vector cache of computed embeddings, [`crate::vcache`], nor
//! the table `pg_embed_cache` that the SQL layer shares between backends).
//!
//! A least-recently-used cache of loaded models with byte accounting, for one backend.
//!
//! A backend is single-threaded, so the cache needs no locks; the caller keeps one per
//! backend (a `thread_local!`). Bytes are what the caller measured for each entry (resident
//! memory growth while loading plus growth while running), not guesses. Eviction removes the
//! least recently used unpinned entries, one at a time, until the new entry fits; it never
//! clears everything.

/// One cached value and what it costs.
struct Entry<T> {
    name: String,
    value: T,
    bytes: u64,
    last_used: u64,
    pinned: bool,
}

pub struct LruCache<T> {
    entries: Vec<Entry<T>>,
    clock: u64,
}

/// An entry removed to make room, for the caller to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evicted {
    pub name: String,
    pub bytes: u64,
}

impl<T> Default for LruCache<T> {
    fn default() -> Self {
        LruCache { entries: Vec::new(), clock: 0 }
    }
}

impl<T> LruCache<T> {
    pub fn new() -> Self {
        Self::default()
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|e| e.name == name)
    }

    /// The entry, marked as just used.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        let now = self.tick();
        let e = self.entries.iter_mut().find(|e| e.name == name)?;
        e.last_used = now;
        Some(&mut e.value)
    }

    /// The entry without touching its recency.
    pub fn peek(&self, name: &str) -> Option<&T> {
        self.entries.iter().find(|e| e.name == name).map(|e| &e.value)
    }

    pub fn insert(&mut self, name: &str, value: T, bytes: u64) {
        self.remove(name);
        let now = self.tick();
        self.entries.push(Entry { name: name.to_string(), value, bytes, last_used: now, pinned: false });
    }

    pub fn remove(&mut self, name: &str) -> Option<T> {
        let i = self.entries.iter().position(|e| e.name == name)?;
        Some(self.entries.swap_remove(i).value)
    }

    /// Removes everything, returning what was removed.
    pub fn clear(&mut self) -> Vec<Evicted> {
        self.entries.drain(..).map(|e| Evicted { name: e.name, bytes: e.bytes }).collect()
    }

    /// Adds measured growth (e.g. the arena after a larger batch) to an entry.
    pub fn add_bytes(&mut self, name: &str, bytes: u64) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.name == name) {
            e.bytes += bytes;
        }
    }

    /// Pins `name` (if present) and unpins every other entry. A pinned entry is never evicted
    /// to make room (it can still be removed explicitly).
    pub fn pin_only(&mut self, name: Option<&str>) {
        for e in self.entries.iter_mut() {
            e.pinned = Some(e.name.as_str()) == name;
        }
    }

    pub fn bytes_of(&self, name: &str) -> Option<u64> {
        self.entries.iter().find(|e| e.name == name).map(|e| e.bytes)
    }

    pub fn held(&self) -> u64 {
        self.entries.iter().map(|e| e.bytes).sum()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Names from least to most recently used.
    pub fn names_by_age(&self) -> Vec<String> {
        let mut v: Vec<_> = self.entries.iter().map(|e| (e.last_used, e.name.clone())).collect();
        v.sort();
        v.into_iter().map(|(_, n)| n).collect()
    }

    /// Evicts least-recently-used unpinned entries other than `keep` until `held + need <=
    /// limit`. Returns what it evicted, oldest first. If even evicting every candidate is not
    /// enough, it evicts nothing and returns `Err` with the bytes that would still be held.
    pub fn make_room(&mut self, need: u64, limit: u64, keep: Option<&str>) -> Result<Vec<Evicted>, u64> {
        let plan = self.plan_room(need, limit, keep)?;
        for e in &plan {
            self.remove(&e.name);
        }
        Ok(plan)
    }

    /// What [`LruCache::make_room`] would evict, without evicting anything: lets a caller find
    /// out whether a new entry can fit before paying for it, and evict only once it has it.
    pub fn plan_room(&self, need: u64, limit: u64, keep: Option<&str>) -> Result<Vec<Evicted>, u64> {
        let mut candidates: Vec<(u64, String, u64)> = self
            .entries
            .iter()
            .filter(|e| !e.pinned && Some(e.name.as_str()) != keep)
            .map(|e| (e.last_used, e.name.clone(), e.bytes))
            .collect();
        candidates.sort();
        let mut held = self.held();
        let mut plan = Vec::new();
        for (_, name, bytes) in candidates {
            if held + need <= limit {
                break;
            }
            held -= bytes;
            plan.push(Evicted { name, bytes });
        }
        if held + need > limit {
            return Err(held);
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    #[test]
    fn evicts_least_recently_used_first_and_only_as_much_as_needed() {
        let mut c = LruCache::new();
        c.insert("a", 1, 100 * MB);
        c.insert("b", 2, 100 * MB);
        c.insert("c", 3, 100 * MB);
        c.get_mut("a"); // a is now the most recent; b is the oldest
        let ev = c.make_room(150 * MB, 300 * MB, None).unwrap();
        assert_eq!(ev.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), vec!["b", "c"]);
        assert!(c.contains("a") && !c.contains("b") && !c.contains("c"));
        assert_eq!(c.held(), 100 * MB);
    }

    #[test]
    fn nothing_is_evicted_when_it_fits() {
        let mut c = LruCache::new();
        c.insert("a", (), 100 * MB);
        assert_eq!(c.make_room(100 * MB, 200 * MB, None).unwrap(), vec![]);
        assert!(c.contains("a"));
    }

    #[test]
    fn pinned_and_kept_entries_survive_and_impossible_requests_evict_nothing() {
        let mut c = LruCache::new();
        c.insert("fallback", (), 100 * MB);
        c.insert("x", (), 100 * MB);
        c.pin_only(Some("fallback"));
        assert_eq!(c.make_room(250 * MB, 300 * MB, None), Err(100 * MB));
        assert!(c.contains("x"), "a failed make_room evicts nothing");
        let ev = c.make_room(150 * MB, 300 * MB, Some("nothing")).unwrap();
        assert_eq!(ev, vec![Evicted { name: "x".into(), bytes: 100 * MB }]);
        assert!(c.contains("fallback"));
        c.insert("y", (), 10 * MB);
        assert_eq!(c.make_room(300 * MB, 300 * MB, Some("y")), Err(110 * MB));
        c.pin_only(None);
        assert!(c.make_room(300 * MB, 300 * MB, Some("y")).is_err(), "y is kept, 10 MB left");
        assert_eq!(c.make_room(290 * MB, 300 * MB, Some("y")).unwrap().len(), 1, "unpinned fallback is evictable");
    }

    #[test]
    fn growth_is_accounted_and_order_is_reported() {
        let mut c = LruCache::new();
        c.insert("a", (), MB);
        c.insert("b", (), MB);
        c.add_bytes("a", 5 * MB);
        assert_eq!(c.bytes_of("a"), Some(6 * MB));
        assert_eq!(c.names_by_age(), vec!["a", "b"]);
        c.get_mut("a");
        assert_eq!(c.names_by_age(), vec!["b", "a"]);
        assert_eq!(c.clear().len(), 2);
        assert!(c.is_empty());
    }
}
