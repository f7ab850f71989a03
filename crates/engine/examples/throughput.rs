//! Raw embedding throughput of the engine, outside PostgreSQL: the ceiling for what SQL can do.
//!
//! ```sh
//! # from the repository root, with PG_EMBED_MODEL_DIR and PG_EMBED_ORT_LIB set (scripts/env.sh
//! # names both paths) and a corpus made by benches/bulk/corpus.py
//! cargo run --release -p pg_embed_engine --example throughput -- benches/bulk/corpus.jsonl \
//!     --offset 0 --count 1000 --batch 8 --precision fp32 --repeat 3
//! ```
//!
//! Reads `count` texts from `offset` of a JSON-lines corpus (field `text`), loads
//! all-MiniLM-L6-v2 with one ONNX Runtime thread (the defaults pg_embed uses), and times
//! embedding them, `repeat` times. Model loading is not timed (it is reported apart).
//!
//! * `--batch 8` (the default) is one `embed_with` call over all the texts with the default
//!   [`RunLimits`]: texts sorted by token count, runs of at most 8 texts and 2,048 padded tokens.
//! * `--batch 1` is one `embed_with` call per text, as `embed_doc` makes per row.
//! * any other `--batch N` is one call over all texts with runs of at most N texts.
//! * `--chunk N` makes it one call per N consecutive texts instead (sorting then happens
//!   within each chunk only, as in `embed_doc_batch`, which embeds 64 texts per step).
//! * `--padding P` sets the padding a run may carry, in percent of its real tokens (default 5).
//!
//! Each repetition prints one JSON object: texts, seconds, texts_per_s, cpu_s (user + system
//! time of this process, all threads), plus load_s and tokenize_s (time to tokenize every text
//! alone, the part of the work that is not the model).

use std::path::{Path, PathBuf};
use std::time::Instant;

use pg_embed_engine::batch::RunLimits;
use pg_embed_engine::model::{InputPolicy, BYTES_PER_TOKEN_BOUND};
use pg_embed_engine::session::SessionOptions;
use pg_embed_engine::tokenize::{prefix, TextTokenizer};
use pg_embed_engine::{Catalog, Embedder, LoadOptions, Precision};

struct Args {
    corpus: PathBuf,
    offset: usize,
    count: usize,
    batch: usize,
    precision: Precision,
    repeat: usize,
    threads: usize,
    chunk: usize,
    padding: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: throughput CORPUS.jsonl [--offset N] [--count N] [--batch N] [--precision fp32|int8] [--repeat N] [--threads N] [--chunk N] [--padding P]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        corpus: PathBuf::new(),
        offset: 0,
        count: usize::MAX,
        batch: 8,
        precision: Precision::Fp32,
        repeat: 1,
        threads: 1,
        chunk: 0,
        padding: RunLimits::default().max_padding_percent,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        let number = |s: String| s.parse::<usize>().unwrap_or_else(|_| usage());
        match a.as_str() {
            "--offset" => args.offset = number(value()),
            "--count" => args.count = number(value()),
            "--batch" => args.batch = number(value()).max(1),
            "--repeat" => args.repeat = number(value()).max(1),
            "--threads" => args.threads = number(value()).max(1),
            "--chunk" => args.chunk = number(value()),
            "--padding" => args.padding = number(value()),
            "--precision" => {
                args.precision = match value().as_str() {
                    "fp32" => Precision::Fp32,
                    "int8" => Precision::Int8,
                    _ => usage(),
                }
            }
            s if s.starts_with("--") => usage(),
            s => args.corpus = PathBuf::from(s),
        }
    }
    if args.corpus.as_os_str().is_empty() {
        usage();
    }
    if !args.corpus.exists() && args.corpus.is_relative() {
        args.corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(&args.corpus);
    }
    args
}

fn read_texts(path: &Path, offset: usize, count: usize) -> Vec<String> {
    let raw = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    raw.lines()
        .filter(|l| !l.trim().is_empty())
        .skip(offset)
        .take(count)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one JSON object per line");
            v["text"].as_str().expect("a text field").to_string()
        })
        .collect()
}

/// User + system CPU seconds of this process (every thread).
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass; no other preconditions.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn env_path(name: &str) -> PathBuf {
    PathBuf::from(std::env::var(name).unwrap_or_else(|_| {
        eprintln!("{name} is not set (source scripts/env.sh: PG_EMBED_MODEL_DIR=$MODEL_DIR PG_EMBED_ORT_LIB=$ORT_LIB)");
        std::process::exit(2)
    }))
}

fn main() {
    let args = parse_args();
    let texts = read_texts(&args.corpus, args.offset, args.count);
    assert!(!texts.is_empty(), "no texts at offset {} of {}", args.offset, args.corpus.display());
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();

    let spec = Catalog::builtin().get("all-MiniLM-L6-v2").expect("in the catalog").clone();
    let options = LoadOptions {
        model_dir: env_path("PG_EMBED_MODEL_DIR"),
        runtime_library: env_path("PG_EMBED_ORT_LIB"),
        precision: args.precision,
        session: SessionOptions { intra_threads: args.threads, ..SessionOptions::default() },
    };
    let started = Instant::now();
    let mut model = Embedder::load(&spec, &options).expect("all-MiniLM-L6-v2 loads");
    let load_s = started.elapsed().as_secs_f64();

    // The tokenizer alone, as the engine calls it (same truncation, same byte prefix).
    let tokenizer = TextTokenizer::from_file(&spec.name, &options.model_dir.join(&spec.name).join(&spec.files.tokenizer), spec.max_tokens)
        .expect("tokenizer loads");
    let started = Instant::now();
    let mut tokens = 0usize;
    for t in &refs {
        tokens += tokenizer.encode(prefix(t, spec.max_tokens * BYTES_PER_TOKEN_BOUND)).expect("tokenizes").ids.len();
    }
    let tokenize_s = started.elapsed().as_secs_f64();

    let limits = RunLimits { max_texts: args.batch, max_padding_percent: args.padding, ..RunLimits::default() };
    let precision = match args.precision {
        Precision::Fp32 => "fp32",
        Precision::Int8 => "int8",
    };
    for run in 0..args.repeat {
        let cpu0 = cpu_seconds();
        let started = Instant::now();
        let mut vectors = 0usize;
        if args.batch == 1 {
            for t in &refs {
                vectors += model.embed_with(&[t], limits, InputPolicy::default(), &mut || {}).expect("embeds").vectors.len();
            }
        } else {
            let chunk = if args.chunk == 0 { refs.len() } else { args.chunk };
            for part in refs.chunks(chunk) {
                vectors += model.embed_with(part, limits, InputPolicy::default(), &mut || {}).expect("embeds").vectors.len();
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let cpu_s = cpu_seconds() - cpu0;
        assert_eq!(vectors, refs.len());
        println!(
            "{}",
            serde_json::json!({
                "run": run,
                "precision": precision,
                "batch": args.batch,
                "threads": args.threads,
                "chunk": args.chunk,
                "padding": args.padding,
                "offset": args.offset,
                "texts": refs.len(),
                "tokens": tokens,
                "seconds": seconds,
                "texts_per_s": refs.len() as f64 / seconds,
                "cpu_s": cpu_s,
                "load_s": load_s,
                "tokenize_s": tokenize_s,
            })
        );
    }
}
