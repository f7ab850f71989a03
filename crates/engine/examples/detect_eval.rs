//! Accuracy and speed of `pg_embed_engine::detect` on the labelled set.
//!
//! ```sh
//! # from the repository root
//! cargo run --release -p pg_embed_engine --example detect_eval -- benches/detect/dataset.jsonl
//! # from crates/engine (a relative path that is not found here is looked up from the root)
//! cargo run --release --example detect_eval -- benches/detect/dataset.jsonl
//! # also show the first errors, language errors, or write the features behind the score
//! cargo run --release --example detect_eval -- benches/detect/dataset.jsonl --errors 20
//! cargo run --release --example detect_eval -- benches/detect/dataset.jsonl --lang-errors 20
//! cargo run --release --example detect_eval -- benches/detect/dataset.jsonl --features f.csv
//! ```
//!
//! Accuracy counts `code` and `doc` items only; `unknown` is wrong. Items labelled `config`
//! are reported apart. Timing runs `detect` on every code and doc item trimmed to its first
//! 1 KB (on a line boundary), 50 times each, and reports the mean and median per text. Errors
//! are shown for the `dev` files only, the ones the detector was tuned on.

use std::collections::BTreeMap;
use std::time::Instant;

use pg_embed_engine::detect::{detect, ContentKind};

struct Item {
    text: String,
    label: String,
    source: String,
    language: Option<String>,
    split: String,
}

fn load(path: &str) -> Vec<Item> {
    let mut file = std::path::PathBuf::from(path);
    if !file.exists() && file.is_relative() {
        file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path);
    }
    let raw = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    raw.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one JSON object per line");
            let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
            Item {
                text: s("text"),
                label: s("label"),
                source: s("source"),
                language: v["language"].as_str().map(str::to_string),
                split: s("split"),
            }
        })
        .collect()
}

/// The first `max` bytes of `text`, cut after the last whole line (or at a char boundary).
fn trim_to(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut cut = text.as_bytes()[..max].iter().rposition(|&b| b == b'\n').unwrap_or(max);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

#[derive(Default)]
struct Tally {
    right: usize,
    total: usize,
}

impl Tally {
    fn add(&mut self, ok: bool) {
        self.total += 1;
        self.right += ok as usize;
    }
    fn show(&self) -> String {
        format!("{:.4} ({}/{})", self.right as f64 / self.total.max(1) as f64, self.right, self.total)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().map(String::as_str).unwrap_or("benches/detect/dataset.jsonl");
    let show_lang_errors: usize = args
        .iter()
        .position(|a| a == "--lang-errors")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let show_errors: usize = args
        .iter()
        .position(|a| a == "--errors")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let items = load(path);

    if let Some(i) = args.iter().position(|a| a == "--features") {
        // One CSV row per item: label, split, then the features behind the score.
        let out = args.get(i + 1).expect("--features FILE");
        let mut csv = String::new();
        for (n, it) in items.iter().enumerate() {
            let f = pg_embed_engine::detect::features(&it.text);
            if n == 0 {
                csv += "label,split,source";
                f.iter().for_each(|(k, _)| csv += &format!(",{k}"));
                csv += "\n";
            }
            csv += &format!("{},{},{}", it.label, it.split, it.source);
            f.iter().for_each(|(_, v)| csv += &format!(",{v}"));
            csv += "\n";
        }
        std::fs::write(out, csv).expect("write the features");
        println!("wrote features of {} items to {out}", items.len());
        return;
    }

    let mut all = Tally::default();
    let mut by_split: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_source: BTreeMap<(String, String), Tally> = BTreeMap::new();
    let mut lang = Tally::default();
    let mut lang_table: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut confusion = [[0usize; 3]; 2];
    let mut config = [0usize; 3];
    let mut errors = Vec::new();
    let mut lang_errors = Vec::new();
    let col = |k: ContentKind| match k {
        ContentKind::Code => 0,
        ContentKind::Doc => 1,
        ContentKind::Unknown => 2,
    };

    for it in &items {
        let d = detect(&it.text);
        let row = match it.label.as_str() {
            "code" => 0,
            "doc" => 1,
            _ => {
                config[col(d.kind)] += 1;
                continue;
            }
        };
        let ok = col(d.kind) == row;
        confusion[row][col(d.kind)] += 1;
        all.add(ok);
        by_split.entry(it.split.clone()).or_default().add(ok);
        by_source.entry((it.label.clone(), it.source.clone())).or_default().add(ok);
        if ok && row == 0 {
            lang.add(d.language == it.language.as_deref());
            if d.language != it.language.as_deref() && it.split != "holdout" {
                lang_errors.push((it, d.clone()));
            }
            *lang_table
                .entry(it.language.clone().unwrap_or_default())
                .or_default()
                .entry(d.language.unwrap_or("none").to_string())
                .or_default() += 1;
        }
        if !ok && it.split != "holdout" {
            errors.push((it, d));
        }
    }

    println!("data set: {path}");
    println!("code vs doc accuracy (unknown counts as wrong): {}", all.show());
    for (split, t) in &by_split {
        println!("  {split:8} files: {}", t.show());
    }
    println!();
    println!("confusion matrix (rows: true label; columns: detected)");
    println!("{:>10} {:>8} {:>8} {:>8}", "", "code", "doc", "unknown");
    for (name, row) in ["code", "doc"].iter().zip(confusion.iter()) {
        println!("{:>10} {:>8} {:>8} {:>8}", name, row[0], row[1], row[2]);
    }
    println!();
    println!("accuracy per source");
    for ((label, source), t) in &by_source {
        println!("  {label:5} {source:30} {}", t.show());
    }
    println!();
    println!("language named right, among code detected as code: {}", lang.show());
    for (truth, guesses) in &lang_table {
        let total: usize = guesses.values().sum();
        let mut g: Vec<_> = guesses.iter().collect();
        g.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let shown: Vec<String> = g.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("  {truth:10} ({total:4}): {}", shown.join(", "));
    }
    let nconfig: usize = config.iter().sum();
    if nconfig > 0 {
        println!(
            "config files (not scored): {} items -> code {}, doc {}, unknown {}",
            nconfig, config[0], config[1], config[2]
        );
    }

    // The same items, trimmed to 1 KB (what the timing below measures).
    let scored: Vec<&Item> = items.iter().filter(|i| i.label == "code" || i.label == "doc").collect();
    let mut trimmed = Tally::default();
    for it in &scored {
        let want = if it.label == "code" { ContentKind::Code } else { ContentKind::Doc };
        trimmed.add(detect(trim_to(&it.text, 1024)).kind == want);
    }
    println!("accuracy on the same texts trimmed to 1 KB: {}", trimmed.show());

    // Timing on texts trimmed to 1 KB.
    let texts: Vec<&str> = scored.iter().map(|i| trim_to(&i.text, 1024)).collect();
    let mean_len = texts.iter().map(|t| t.len()).sum::<usize>() as f64 / texts.len().max(1) as f64;
    let only_1k: Vec<&str> = texts.iter().copied().filter(|t| t.len() >= 900).collect();
    let _ = detect("warm up the keyword table");
    let reps = 50;
    let mut per_text = Vec::with_capacity(texts.len());
    let mut per_text_1k = Vec::new();
    for t in &texts {
        let start = Instant::now();
        for _ in 0..reps {
            std::hint::black_box(detect(std::hint::black_box(t)));
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / reps as f64;
        per_text.push(us);
        if t.len() >= 900 {
            per_text_1k.push(us);
        }
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
        let median = if v.is_empty() { 0.0 } else { v[v.len() / 2] };
        let p99 = if v.is_empty() { 0.0 } else { v[(v.len() * 99 / 100).min(v.len() - 1)] };
        (mean, median, p99)
    };
    let (mean, median, p99) = stats(&mut per_text);
    println!();
    println!("timing, {} texts trimmed to at most 1 KB (mean {:.0} bytes), {} runs each:", texts.len(), mean_len, reps);
    println!("  mean {mean:.2} µs, median {median:.2} µs, p99 {p99:.2} µs per text");
    let (mean, median, p99) = stats(&mut per_text_1k);
    println!(
        "  the {} texts of 900-1024 bytes: mean {mean:.2} µs, median {median:.2} µs, p99 {p99:.2} µs",
        only_1k.len()
    );

    if show_lang_errors > 0 {
        println!();
        println!("first {} language errors on dev files:", show_lang_errors.min(lang_errors.len()));
        for (it, d) in lang_errors.iter().take(show_lang_errors) {
            let points = pg_embed_engine::detect::language_points(&it.text);
            println!("----- {:?} -> {:?} {:?}", it.language, d.language, points);
            println!("{}", trim_to(&it.text, 500));
        }
    }

    if show_errors > 0 {
        println!();
        println!("first {} errors on dev files:", show_errors.min(errors.len()));
        for (it, d) in errors.iter().take(show_errors) {
            println!(
                "----- {} / {} -> {} ({:.2}) {:?}",
                it.label,
                it.source,
                d.kind.as_str(),
                d.code_score,
                d.evidence
            );
            println!("{}", trim_to(&it.text, 700));
        }
    }
}
