//! Peak memory and interrupt spacing of embedding one very long text, outside PostgreSQL.
//!
//! ```sh
//! PG_EMBED_MODEL_DIR=... PG_EMBED_ORT_LIB=... cargo run --release -p pg_embed_engine \
//!     --example long_text_memory -- --mb 32 --mode window [--text prose|spaces|word] [--cancel-after N]
//! ```
//!
//! Builds a text of `--mb` megabytes of English prose (or of spaces, or one word), loads all-MiniLM-L6-v2 (fp32, one
//! thread) and embeds it with `pg_embed.long_text` = `--mode` (window, truncate, error).
//! Prints one JSON object: the peak resident size (VmHWM from /proc/self/status) after loading
//! the model and at the end, the number of interrupt callbacks, the longest time between two
//! of them (and before the first), and the total time. `--cancel-after N` panics in the N-th
//! callback, as a cancel would end the statement there.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pg_embed_engine::batch::RunLimits;
use pg_embed_engine::model::{InputPolicy, LongText};
use pg_embed_engine::{Catalog, Embedder, LoadOptions, Precision};

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    kb / 1024
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: &str| {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
    };
    let mb: usize = arg("--mb", "32").parse().expect("--mb is a number");
    let cancel_after: usize = arg("--cancel-after", "0").parse().expect("--cancel-after is a number");
    let long_text = match arg("--mode", "window").as_str() {
        "window" => LongText::Window,
        "truncate" => LongText::Truncate,
        "error" => LongText::Error,
        other => panic!("unknown mode {other}"),
    };
    let env_path = |name: &str| PathBuf::from(std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set")));
    let opts = LoadOptions {
        model_dir: env_path("PG_EMBED_MODEL_DIR"),
        runtime_library: env_path("PG_EMBED_ORT_LIB"),
        precision: Precision::Fp32,
        session: Default::default(),
    };
    let spec = Catalog::builtin().get("all-MiniLM-L6-v2").expect("in the catalog").clone();
    let mut model = Embedder::load(&spec, &opts).expect("model loads");
    let sentences = [
        "The planner chooses an index scan when the table is large and the predicate is selective. ",
        "Autovacuum cannot keep up if the workload updates the same rows thousands of times per second. ",
        "Naïve readers of the café's menu couldn't tell crème brûlée from a soufflé. ",
        "Questions? Ask on the mailing list, or read the documentation first. ",
    ];
    let mut text = String::with_capacity(mb << 20);
    match arg("--text", "prose").as_str() {
        // Few tokens per byte: truncate mode must read all of it.
        "spaces" => text.push_str(&" ".repeat(mb << 20)),
        "word" => text.push_str(&"a".repeat(mb << 20)),
        _ => {
            let mut i = 0;
            while text.len() < mb << 20 {
                text.push_str(sentences[i % sentences.len()]);
                i += 1;
            }
        }
    }
    let loaded_mb = peak_rss_mb();
    let start = Instant::now();
    let mut last = start;
    let (mut calls, mut longest) = (0usize, Duration::ZERO);
    let policy = InputPolicy { long_text, max_bytes: usize::MAX };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        model.embed_with(&[&text], RunLimits::default(), policy, &mut || {
            let now = Instant::now();
            longest = longest.max(now - last);
            last = now;
            calls += 1;
            if calls == cancel_after {
                panic!("cancelled");
            }
        })
    }));
    let outcome = match result {
        Ok(Ok(e)) => format!("{} tokens", e.tokens),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "cancelled".to_string(),
    };
    println!(
        "{{\"mb\": {mb}, \"mode\": \"{long_text:?}\", \"text\": \"{}\", \"outcome\": \"{outcome}\", \"rss_peak_after_load_mb\": {loaded_mb}, \
         \"rss_peak_mb\": {}, \"callbacks\": {calls}, \"longest_gap_ms\": {}, \"seconds\": {:.1}}}",
        arg("--text", "prose"),
        peak_rss_mb(),
        longest.as_millis(),
        start.elapsed().as_secs_f64()
    );
}
