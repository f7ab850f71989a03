//! Usage statistics per (model, precision): counters and a latency histogram in one
//! fixed-size, pointer-free table, so the same bytes can live in a backend's memory or in
//! PostgreSQL shared memory.
//!
//! Latencies go into logarithmic buckets four to an octave, starting at 1 µs: bucket `i`
//! holds `[2^(i/4), 2^((i+1)/4))` µs, the first also everything below 1 µs and the last
//! everything from 2^(95/4) µs (about 14 s) up. A percentile is reported as the geometric
//! middle of its bucket, so it is within ±9.1% (2^(1/8)) of a latency that really occurred
//! in that bucket.

/// Buckets of the latency histogram.
pub const BUCKETS: usize = 96;
/// (model, precision) pairs the table holds; calls for further pairs are counted in
/// [`StatsTable::dropped`] only.
pub const SLOTS: usize = 64;
/// Longest model name kept (names are at most 100 bytes, see `catalog::validate_name`).
pub const NAME_BYTES: usize = 104;

/// What one call did, to be added to its slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Call {
    pub texts: u64,
    pub tokens: u64,
    pub micros: u64,
    pub truncated: u64,
    pub cache_hits: u64,
    pub table_hits: u64,
    pub cache_misses: u64,
    pub error: bool,
}

/// An event outside calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Load,
    Eviction,
}

#[derive(Clone, Copy)]
#[repr(C)]
pub struct Slot {
    used: bool,
    name_len: u8,
    precision: u8,
    name: [u8; NAME_BYTES],
    pub calls: u64,
    pub texts: u64,
    pub tokens: u64,
    pub total_micros: u64,
    pub loads: u64,
    pub evictions: u64,
    pub errors: u64,
    pub truncations: u64,
    pub cache_hits: u64,
    pub table_hits: u64,
    pub cache_misses: u64,
    pub histogram: [u64; BUCKETS],
}

const EMPTY: Slot = Slot {
    used: false,
    name_len: 0,
    precision: 0,
    name: [0; NAME_BYTES],
    calls: 0,
    texts: 0,
    tokens: 0,
    total_micros: 0,
    loads: 0,
    evictions: 0,
    errors: 0,
    truncations: 0,
    cache_hits: 0,
    table_hits: 0,
    cache_misses: 0,
    histogram: [0; BUCKETS],
};

impl Slot {
    pub fn model(&self) -> &str {
        std::str::from_utf8(&self.name[..self.name_len as usize]).unwrap_or("?")
    }

    pub fn precision(&self) -> &'static str {
        if self.precision == 1 {
            "int8"
        } else {
            "fp32"
        }
    }

    /// The `q` quantile (0 < q <= 1) of call latency in microseconds, `None` with no calls.
    pub fn percentile_micros(&self, q: f64) -> Option<f64> {
        let total: u64 = self.histogram.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, &n) in self.histogram.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(bucket_middle(i));
            }
        }
        None
    }
}

/// The bucket a latency of `micros` falls in.
pub fn bucket_of(micros: u64) -> usize {
    if micros <= 1 {
        return 0;
    }
    ((micros as f64).log2() * 4.0).floor().clamp(0.0, (BUCKETS - 1) as f64) as usize
}

/// The geometric middle of bucket `i`, in microseconds.
pub fn bucket_middle(i: usize) -> f64 {
    2f64.powf((i as f64 + 0.5) / 4.0)
}

#[derive(Clone, Copy)]
#[repr(C)]
pub struct StatsTable {
    pub slots: [Slot; SLOTS],
    /// Calls not recorded because every slot was taken by other (model, precision) pairs.
    pub dropped: u64,
}

impl Default for StatsTable {
    fn default() -> Self {
        StatsTable { slots: [EMPTY; SLOTS], dropped: 0 }
    }
}

fn precision_code(precision: &str) -> u8 {
    u8::from(precision == "int8")
}

impl StatsTable {
    fn slot(&mut self, model: &str, precision: &str) -> Option<&mut Slot> {
        let name = &model.as_bytes()[..model.len().min(NAME_BYTES)];
        let code = precision_code(precision);
        let found = self.slots.iter().position(|s| s.used && s.precision == code && &s.name[..s.name_len as usize] == name);
        let i = match found {
            Some(i) => i,
            None => {
                let i = self.slots.iter().position(|s| !s.used)?;
                let s = &mut self.slots[i];
                *s = EMPTY;
                s.used = true;
                s.precision = code;
                s.name_len = name.len() as u8;
                s.name[..name.len()].copy_from_slice(name);
                i
            }
        };
        Some(&mut self.slots[i])
    }

    /// Adds one call to the slot of (model, precision).
    pub fn record(&mut self, model: &str, precision: &str, call: &Call) {
        let Some(s) = self.slot(model, precision) else {
            self.dropped += 1;
            return;
        };
        s.calls += 1;
        s.texts += call.texts;
        s.tokens += call.tokens;
        s.total_micros += call.micros;
        s.truncations += call.truncated;
        s.cache_hits += call.cache_hits;
        s.table_hits += call.table_hits;
        s.cache_misses += call.cache_misses;
        s.errors += u64::from(call.error);
        s.histogram[bucket_of(call.micros)] += 1;
    }

    /// Counts a model load or eviction.
    pub fn event(&mut self, model: &str, precision: &str, event: Event) {
        let Some(s) = self.slot(model, precision) else {
            self.dropped += 1;
            return;
        };
        match event {
            Event::Load => s.loads += 1,
            Event::Eviction => s.evictions += 1,
        }
    }

    pub fn used(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter(|s| s.used)
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_four_to_an_octave_and_bounded() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1), 0);
        assert_eq!(bucket_of(2), 4);
        assert_eq!(bucket_of(1024), 40);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        for micros in [3u64, 17, 250, 4_000, 31_000, 1_000_000] {
            let mid = bucket_middle(bucket_of(micros));
            let err = (mid / micros as f64 - 1.0).abs();
            assert!(err <= 2f64.powf(0.125) - 1.0 + 1e-9, "{micros} µs reported as {mid}");
        }
    }

    #[test]
    fn percentiles_follow_the_distribution() {
        let mut t = StatsTable::default();
        // 90 calls of 1 ms, 9 of 10 ms, 1 of 100 ms.
        for (n, micros) in [(90, 1_000), (9, 10_000), (1, 100_000)] {
            for _ in 0..n {
                t.record("m", "fp32", &Call { texts: 1, tokens: 5, micros, ..Default::default() });
            }
        }
        let s = t.used().next().unwrap();
        assert_eq!((s.calls, s.texts, s.tokens, s.total_micros), (100, 100, 500, 90_000 + 90_000 + 100_000));
        let near = |got: f64, want: f64| (got / want - 1.0).abs() < 0.1;
        assert!(near(s.percentile_micros(0.5).unwrap(), 1_000.0));
        assert!(near(s.percentile_micros(0.95).unwrap(), 10_000.0));
        assert!(near(s.percentile_micros(0.99).unwrap(), 10_000.0));
        assert!(near(s.percentile_micros(1.0).unwrap(), 100_000.0));
        assert_eq!(StatsTable::default().slots[0].percentile_micros(0.5), None);
    }

    #[test]
    fn slots_are_per_model_and_precision_and_overflow_is_counted() {
        let mut t = StatsTable::default();
        let call = Call { texts: 2, cache_hits: 1, cache_misses: 1, error: true, ..Default::default() };
        t.record("a", "fp32", &call);
        t.record("a", "int8", &call);
        t.record("a", "fp32", &call);
        t.event("a", "int8", Event::Load);
        t.event("a", "int8", Event::Eviction);
        let rows: Vec<_> = t.used().map(|s| (s.model().to_string(), s.precision(), s.calls, s.errors, s.loads, s.evictions, s.cache_hits)).collect();
        assert_eq!(rows, vec![("a".into(), "fp32", 2, 2, 0, 0, 2), ("a".into(), "int8", 1, 1, 1, 1, 1)]);
        for i in 0..SLOTS {
            t.record(&format!("m{i}"), "fp32", &call);
        }
        assert_eq!(t.used().count(), SLOTS);
        assert_eq!(t.dropped, 2, "two pairs found no free slot");
        t.reset();
        assert_eq!((t.used().count(), t.dropped), (0, 0));
    }
}
