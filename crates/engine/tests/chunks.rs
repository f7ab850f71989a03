//! Chunks of real texts with the real models' tokenizers: each chunk fits the model exactly as
//! counted, the chunks cover the text in order, overlap as asked, do not depend on the size of
//! the pieces the text is tokenized in, and code is cut before definitions. Needs the model
//! files, like tests/reference.rs (PG_EMBED_MODEL_DIR, PG_EMBED_ORT_LIB).

use std::path::PathBuf;

use pg_embed_engine::chunk::{chunks, Boundaries, Chunk};
use pg_embed_engine::tokenize::{TextTokenizer, PIECE_BYTES};
use pg_embed_engine::{Catalog, Embedder, LoadOptions, Precision};

fn load(name: &str) -> Embedder {
    let var = |name: &str| PathBuf::from(std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set")));
    let opts = LoadOptions {
        model_dir: var("PG_EMBED_MODEL_DIR"),
        runtime_library: var("PG_EMBED_ORT_LIB"),
        precision: Precision::Fp32,
        session: Default::default(),
    };
    let spec = Catalog::builtin().get(name).unwrap().clone();
    Embedder::load(&spec, &opts).unwrap_or_else(|e| panic!("{name} loads: {e}"))
}

fn texts() -> Vec<String> {
    let prose = "The planner chooses an index scan when the table is large and the predicate is selective. \
        Autovacuum, however, cannot keep up if the workload updates the same rows thousands of times per second.\n\n\
        Naïve readers of the café's menu couldn't tell crème brûlée from a soufflé! 数据库索引。查询优化器，选择最佳计划。 ";
    let code = "/// Adds two numbers.\n#[inline]\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\n\
        def parse(line):\n    \"\"\"Splits a line.\"\"\"\n    return line.split(',')\n\n\
        class Reader:\n    def __init__(self, path):\n        self.path = path\n\n";
    vec![
        prose.repeat(12),
        code.repeat(15),
        format!("{} {} end", "w".repeat(400), "x".repeat(250)),
        (0..400).map(|i| format!("{:x}tionalization", i * 7919)).collect::<Vec<_>>().join("-"),
        // A word longer than a piece, cut in two, with a symbol BERT keeps inside words.
        format!("{}©{} and after\n\nw1 w2 w3 w4 w5 w6 w7", "a".repeat(70_000), "b".repeat(50)),
        "short text".into(),
        String::new(),
        "   \n\n  ".into(),
    ]
}

/// The tokens the model sees for `text` (special tokens included), however long it is.
fn count(tok: &TextTokenizer, text: &str) -> usize {
    let windows = tok.encode_windows(text).unwrap();
    windows.iter().map(|w| w.ids.len() - tok.special_count()).sum::<usize>() + tok.special_count()
}

fn check_cover(tok: &TextTokenizer, text: &str, got: &[Chunk], max_tokens: usize) {
    let specials = tok.special_count();
    if count(tok, text) == specials {
        assert!(got.is_empty(), "no tokens, no chunks: {got:?}");
        return;
    }
    assert!(!got.is_empty());
    assert!(text[..got[0].start].trim().is_empty(), "the first chunk starts at the first token");
    assert!(text[got.last().unwrap().end..].trim().is_empty(), "the last chunk ends at the last token");
    for pair in got.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert!(a.start < b.start && a.end < b.end, "in order: {a:?} {b:?} {:?}", &text[a.start.min(b.start)..b.end]);
        assert!(b.start <= a.end || text[a.end..b.start].trim().is_empty(), "nothing between {a:?} and {b:?} is left out");
    }
    for c in got {
        assert!(c.tokens <= max_tokens, "{c:?} over {max_tokens}");
        // Tokenized on its own, a chunk is exactly as long as counted.
        assert_eq!(count(tok, &text[c.start..c.end]), c.tokens, "{c:?}");
    }
}

#[test]
fn chunks_fit_cover_and_do_not_depend_on_pieces() {
    for name in ["all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2"] {
        let model = load(name);
        let tok = model.tokenizer();
        for text in texts() {
            for (max_tokens, overlap) in [(32, 0), (32, 8), (64, 16), (128, 0), (128, 32)] {
                for kind in [Boundaries::Prose, Boundaries::Code] {
                    let got = chunks(tok, &text, max_tokens, overlap, kind, PIECE_BYTES, &mut || {}).unwrap();
                    check_cover(tok, &text, &got, max_tokens);
                    let small = chunks(tok, &text, max_tokens, overlap, kind, 7, &mut || {}).unwrap();
                    assert_eq!(got, small, "{name}: pieces of 7 bytes give the same chunks");
                    if overlap == 0 {
                        for pair in got.windows(2) {
                            assert!(pair[0].end <= pair[1].start, "no overlap asked: {pair:?}");
                        }
                    } else if got.len() > 1 {
                        let shared: usize = got.windows(2).filter(|p| p[1].start < p[0].end).count();
                        assert!(shared > 0, "{name}: overlap {overlap} shares tokens");
                        for p in got.windows(2) {
                            let common = count(tok, &text[p[1].start..p[0].end.max(p[1].start)]) - tok.special_count();
                            assert!(common <= overlap, "{name}: {common} tokens shared, asked {overlap}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn code_chunks_start_at_definitions() {
    let model = load("all-MiniLM-L6-v2");
    // Definitions of varied length, some with comments or decorators above them, blank lines
    // inside the longer bodies.
    let program = |body_lines: usize| {
    let mut text = String::new();
    for i in 0..40 {
        if i % 3 == 0 {
            text.push_str(&format!("# Step {i} of the pipeline.\n@trace\n"));
        }
        text.push_str(&format!("def step_{i}(rows, limit={i}):\n"));
        for j in 0..(i % body_lines + 1) {
            text.push_str(&format!("    rows = [r for r in rows if r.score > {j}]  # keep the good ones\n"));
            if j == 1 {
                text.push('\n');
            }
        }
        text.push_str("    return rows[:limit]\n\n");
    }
    text
    };
    // Every definition fits in a chunk of 128 tokens: each chunk starts with one.
    let text = &program(3);
    let got = chunks(model.tokenizer(), text, 128, 0, Boundaries::Code, PIECE_BYTES, &mut || {}).unwrap();
    assert!(got.len() > 5);
    let starts: Vec<&str> = got.iter().map(|c| text[c.start..].lines().next().unwrap()).collect();
    let at_definition = starts
        .iter()
        .filter(|l| l.starts_with("# Step") || l.starts_with("def "))
        .count();
    assert_eq!(at_definition, starts.len(), "every chunk starts with a definition or its comment: {starts:?}");
    // Prose boundaries on the same text cut elsewhere at least once.
    let prose = chunks(model.tokenizer(), text, 128, 0, Boundaries::Prose, PIECE_BYTES, &mut || {}).unwrap();
    assert_ne!(prose, got);
    // Definitions longer than a chunk are cut between lines, never inside one.
    let text = &program(7);
    let got = chunks(model.tokenizer(), text, 64, 0, Boundaries::Code, PIECE_BYTES, &mut || {}).unwrap();
    for c in &got {
        let line_start = text[..c.start].rfind('\n').map_or(0, |i| i + 1);
        assert!(text[line_start..c.start].trim().is_empty(), "{c:?} starts inside a line: {:?}", &text[line_start..c.start + 20]);
    }
}

#[test]
fn every_window_in_a_megabyte() {
    let model = load("all-MiniLM-L6-v2");
    let text = texts()[0].repeat(300);
    let mut calls = 0;
    let got = chunks(model.tokenizer(), &text, 128, 32, Boundaries::Prose, PIECE_BYTES, &mut || calls += 1).unwrap();
    assert!(text.len() > 900_000 && got.len() > 1000, "{} bytes, {} chunks", text.len(), got.len());
    assert!(calls >= text.len() / PIECE_BYTES, "interrupt checked after every piece: {calls}");
    check_cover(model.tokenizer(), &text, &got, 128);
}

#[test]
fn token_ranges_cover_every_character_but_whitespace() {
    for name in ["all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2"] {
        let model = load(name);
        for text in texts() {
            for piece_bytes in [7, 1000, PIECE_BYTES] {
                let mut spans = model.tokenizer().spans(&text, piece_bytes);
                let mut covered = 0;
                while let Some(piece) = spans.next(&mut || {}).unwrap() {
                    for (start, end) in piece {
                        assert!(text[covered..start].trim().is_empty(), "{name}, pieces of {piece_bytes}: {:?} has no token",
                                &text[covered..start.min(covered + 40)]);
                        covered = covered.max(end);
                    }
                }
                assert!(text[covered..].trim().is_empty(), "{name}, pieces of {piece_bytes}: the end has no token");
            }
        }
    }
}
