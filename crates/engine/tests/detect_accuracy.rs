//! `detect` against the committed labelled set (benches/detect/dataset.jsonl, built by
//! benches/detect/build_dataset.py from material on a Debian machine).
//!
//! Code vs documentation only; `unknown` counts as wrong; `config` items are not scored.
//! The bar is 97%. If this fails, improve the detector, not the bar or the data.

use pg_embed_engine::detect::{detect, ContentKind};

const DATASET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../benches/detect/dataset.jsonl");
const MIN_ACCURACY: f64 = 0.97;

#[test]
fn code_vs_doc_accuracy_is_at_least_97_percent() {
    let raw = std::fs::read_to_string(DATASET).unwrap_or_else(|e| panic!("cannot read {DATASET}: {e}"));
    let (mut right, mut total, mut code, mut doc) = (0usize, 0usize, 0usize, 0usize);
    let mut wrong = Vec::new();
    for (n, line) in raw.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let item: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: not JSON: {e}", n + 1));
        let text = item["text"].as_str().unwrap_or_else(|| panic!("line {}: no text", n + 1));
        let want = match item["label"].as_str() {
            Some("code") => {
                code += 1;
                ContentKind::Code
            }
            Some("doc") => {
                doc += 1;
                ContentKind::Doc
            }
            _ => continue,
        };
        let got = detect(text).kind;
        total += 1;
        if got == want {
            right += 1;
        } else {
            wrong.push(format!("line {}: {} -> {}", n + 1, want.as_str(), got.as_str()));
        }
    }
    // A truncated or one-sided file would make the figure meaningless.
    assert!(total >= 2000, "only {total} code and doc items in {DATASET}");
    assert!(code >= total / 3 && doc >= total / 3, "unbalanced: {code} code, {doc} doc");

    let accuracy = right as f64 / total as f64;
    println!("accuracy {accuracy:.4} ({right}/{total})");
    assert!(
        accuracy >= MIN_ACCURACY,
        "accuracy {accuracy:.4} ({right}/{total}) is below {MIN_ACCURACY}; first errors: {:?}",
        &wrong[..wrong.len().min(20)]
    );
}
