//! What counting a call and looking a text up in the memory cache cost, without PostgreSQL.
//!
//!     cargo run --release --example stats_overhead -p pg_embed_engine
//!
//! Prints nanoseconds per operation (median of 5 runs of 1,000,000 each).

use std::hint::black_box;
use std::time::Instant;

use pg_embed_engine::model::LongText;
use pg_embed_engine::stats::{Call, StatsTable};
use pg_embed_engine::vcache::{key, VectorCache};
use pg_embed_engine::Precision;

const N: u32 = 1_000_000;

fn median_ns(mut f: impl FnMut()) -> f64 {
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..N {
                f();
            }
            t.elapsed().as_nanos() as f64 / f64::from(N)
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[2]
}

fn main() {
    let mut table = Box::<StatsTable>::default();
    for i in 0..8 {
        table.record(&format!("model-{i}"), "fp32", &Call::default());
    }
    let record = median_ns(|| {
        let t = Instant::now();
        let call = Call { texts: 1, tokens: 12, micros: t.elapsed().as_micros() as u64, cache_hits: 1, ..Call::default() };
        table.record(black_box("all-MiniLM-L6-v2"), "fp32", &call);
    });
    let text = "How do I read a file line by line in Python without loading all of it?";
    let hash = median_ns(|| {
        black_box(key("all-MiniLM-L6-v2", Precision::Fp32, "0123456789abcdef", LongText::Truncate, black_box(text)));
    });
    let mut cache = VectorCache::new();
    let k = key("all-MiniLM-L6-v2", Precision::Fp32, "0123456789abcdef", LongText::Truncate, text);
    cache.insert(k, vec![0.5; 384], 64 << 20);
    let hit = median_ns(|| {
        black_box(cache.get(black_box(&k)).map(<[f32]>::to_vec));
    });
    println!("record one call (two clock reads + counters + histogram, 9 slots in use): {record:.0} ns");
    println!("cache key of a {}-byte text (SHA-256): {hash:.0} ns", text.len());
    println!("memory-cache hit (lookup, recency update, copy of 384 floats): {hit:.0} ns");
}
