//! The engine against the committed reference embeddings (made by scripts/make_reference.py
//! with Python onnxruntime + tokenizers on the same files), with the real model and runtime.
//!
//! Paths come from PG_EMBED_MODEL_DIR and PG_EMBED_ORT_LIB (scripts/env.sh sets both).

use std::path::PathBuf;

use pg_embed_engine::batch::RunLimits;
use pg_embed_engine::model::{InputPolicy, LongText};
use pg_embed_engine::{Catalog, Embedder, EngineError, LoadOptions, Precision};

fn options(precision: Precision) -> LoadOptions {
    let var = |name: &str| {
        PathBuf::from(std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set; run the tests through `make test`")))
    };
    LoadOptions {
        model_dir: var("PG_EMBED_MODEL_DIR"),
        runtime_library: var("PG_EMBED_ORT_LIB"),
        precision,
        session: Default::default(),
    }
}

fn load(precision: Precision) -> Embedder {
    let spec = Catalog::builtin().get("all-MiniLM-L6-v2").unwrap().clone();
    Embedder::load(&spec, &options(precision)).expect("all-MiniLM-L6-v2 loads")
}

fn reference() -> Vec<(String, Vec<f32>)> {
    let raw = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/reference.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&raw).unwrap();
    doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let v = i["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
            (i["text"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn fp32_matches_the_independent_reference() {
    let mut model = load(Precision::Fp32);
    let items = reference();
    assert!(items.len() >= 30, "fixture has {} texts", items.len());
    let mut min = (f64::MAX, String::new());
    for (text, want) in &items {
        let got = model.embed(&[text]).unwrap();
        assert_eq!(got.vectors[0].len(), 384);
        let c = cosine(&got.vectors[0], want);
        if c < min.0 {
            min = (c, text.chars().take(40).collect());
        }
    }
    println!("minimum cosine to the reference over {} texts: {:.6} ({:?})", items.len(), min.0, min.1);
    assert!(min.0 >= 0.999, "minimum cosine {:.6} for {:?}", min.0, min.1);
}

#[test]
fn a_batch_equals_single_texts_and_long_texts_are_reported_truncated() {
    let mut model = load(Precision::Fp32);
    let items = reference();
    let texts: Vec<&str> = items.iter().map(|(t, _)| t.as_str()).collect();
    let batch = model.embed(&texts).unwrap();
    assert_eq!(batch.truncated, 1, "exactly the long text is over 256 tokens");
    for (text, v) in texts.iter().zip(&batch.vectors) {
        let single = model.embed(&[text]).unwrap();
        let c = cosine(v, &single.vectors[0]);
        assert!(c >= 0.9999, "batched vs single cosine {c} for {text:?}");
    }
}

#[test]
fn int8_batches_equal_single_texts() {
    let mut model = load(Precision::Int8);
    let items = reference();
    let texts: Vec<&str> = items.iter().map(|(t, _)| t.as_str()).collect();
    let batch = model.embed(&texts).unwrap();
    for (text, v) in texts.iter().zip(&batch.vectors) {
        let c = cosine(v, &model.embed(&[text]).unwrap().vectors[0]);
        assert!(c >= 0.9999, "int8 batched vs single cosine {c} for {text:?}");
    }
}

#[test]
fn int8_stays_close_to_fp32() {
    let mut fp32 = load(Precision::Fp32);
    let mut int8 = load(Precision::Int8);
    let mut worst = 1.0f64;
    for (text, _) in reference() {
        let a = fp32.embed(&[&text]).unwrap();
        let b = int8.embed(&[&text]).unwrap();
        worst = worst.min(cosine(&a.vectors[0], &b.vectors[0]));
    }
    println!("int8 vs fp32 minimum cosine: {worst:.4}");
    assert!(worst >= 0.95, "per-channel int8 drifted to cosine {worst}");
}

/// The installed int8 files were made with the recipes committed in scripts/int8_recipes.json
/// (prepare_models.py writes the recipe it used beside each file; the set-up rewrites a file
/// whose recipe changed).
#[test]
fn int8_files_follow_the_committed_recipes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/int8_recipes.json");
    let recipes: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let dir = options(Precision::Int8).model_dir;
    let mut checked = Vec::new();
    for (name, recipe) in recipes["models"].as_object().unwrap() {
        // Optional models (all-mpnet-base-v2, `make model-mpnet`) live in another folder.
        if !dir.join(name).is_dir() && !["all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2"].contains(&name.as_str()) {
            continue;
        }
        checked.push(name.clone());
        let stamp = dir.join(name).join("model_int8.recipe.json");
        let used: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stamp).unwrap_or_else(|e| {
            panic!("{}: {e}; run scripts/fetch-models.sh", stamp.display())
        }))
        .unwrap();
        for key in ["keep_fp32", "outlier_channels"] {
            assert_eq!(used[key], recipe[key], "{name}: {key} of the installed int8 file differs; run scripts/fetch-models.sh");
        }
    }
    assert!(checked.len() >= 2, "the set-up's models have recipes: {checked:?}");
}

#[test]
fn missing_files_name_the_path() {
    let mut spec = Catalog::builtin().get("all-MiniLM-L6-v2").unwrap().clone();
    spec.files.fp32 = "no-such-file.onnx".into();
    let err = Embedder::load(&spec, &options(Precision::Fp32)).err().expect("must fail");
    let msg = err.to_string();
    assert!(msg.contains("no-such-file.onnx") && msg.contains("does not exist"), "{msg}");
}

#[test]
fn long_text_policies() {
    let mut model = load(Precision::Fp32);
    let long = "The planner chooses an index scan when the table is large. ".repeat(60); // ~700 tokens
    let short = "a short text";
    let with = |m: &mut Embedder, texts: &[&str], long_text, max_bytes| {
        m.embed_with(texts, RunLimits::default(), InputPolicy { long_text, max_bytes }, &mut || {})
    };
    let truncated = with(&mut model, &[&long, short], LongText::Truncate, 1 << 20).unwrap();
    assert_eq!(truncated.truncated, 1);
    match with(&mut model, &[short, &long], LongText::Error, 1 << 20) {
        Err(EngineError::TooManyTokens { max_tokens: 256, .. }) => {}
        other => panic!("expected TooManyTokens, got {:?}", other.map(|e| e.truncated)),
    }
    assert_eq!(with(&mut model, &[short], LongText::Error, 1 << 20).unwrap().truncated, 0);
    let windowed = with(&mut model, &[&long, short], LongText::Window, 1 << 20).unwrap();
    assert_eq!(windowed.truncated, 0);
    let norm: f64 = windowed.vectors[0].iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
    let c = cosine(&windowed.vectors[0], &truncated.vectors[0]);
    assert!(c < 0.9999 && c > 0.8, "windows average more than the first 256 tokens (cosine {c})");
    // Two topics: the window average must lean to the longer second topic.
    let topics = "database index btree ".repeat(90) + &"pasta tomato basil garlic ".repeat(600);
    let w = with(&mut model, &[&topics], LongText::Window, 1 << 20).unwrap();
    let first = model.embed(&[&"database index btree ".repeat(90)]).unwrap();
    let pasta = model.embed(&[&"pasta tomato basil garlic ".repeat(60)]).unwrap();
    let (c_first, c_pasta) = (cosine(&w.vectors[0], &first.vectors[0]), cosine(&w.vectors[0], &pasta.vectors[0]));
    assert!(c_pasta > c_first && c_pasta > 0.9, "window mean: {c_first} to the first topic, {c_pasta} to the second");
    // Few tokens per byte: what comes after a long run of spaces still counts when truncating.
    let spaced = " ".repeat(20_000) + "hello world";
    let a = with(&mut model, &[&spaced], LongText::Truncate, 1 << 20).unwrap();
    let b = model.embed(&["hello world"]).unwrap();
    assert!(cosine(&a.vectors[0], &b.vectors[0]) > 0.999, "spaces before the text must not hide it");
    assert!(cosine(&windowed.vectors[1], &truncated.vectors[1]) > 0.99999, "a text that fits is one window");
    match with(&mut model, &[short, &long], LongText::Truncate, 1000) {
        Err(EngineError::TextTooLarge { limit: 1000, .. }) => {}
        other => panic!("expected TextTooLarge, got {:?}", other.map(|e| e.truncated)),
    }
}
