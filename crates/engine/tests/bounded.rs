//! Tokenizing in pieces and embedding windows as they come gives what tokenizing the whole
//! text at once gives, and the host's interrupt callback runs after every piece.
//!
//! The reference here is the straightforward computation: the whole text tokenized in one call
//! ([`TextTokenizer::encode`], [`TextTokenizer::encode_windows`]), every window embedded, the
//! window vectors averaged by token count. Needs the real model and runtime, like
//! tests/reference.rs (PG_EMBED_MODEL_DIR, PG_EMBED_ORT_LIB).

use std::path::PathBuf;

use pg_embed_engine::batch::RunLimits;
use pg_embed_engine::model::{InputPolicy, LongText, BYTES_PER_TOKEN_BOUND};
use pg_embed_engine::normalize::l2_normalize;
use pg_embed_engine::tokenize::{TextTokenizer, Tokens, PIECE_BYTES};
use pg_embed_engine::{Catalog, Embedder, EngineError, LoadOptions, Precision};

fn load(name: &str, precision: Precision) -> Embedder {
    let var = |name: &str| PathBuf::from(std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set")));
    let opts = LoadOptions {
        model_dir: var("PG_EMBED_MODEL_DIR"),
        runtime_library: var("PG_EMBED_ORT_LIB"),
        precision,
        session: Default::default(),
    };
    let spec = Catalog::builtin().get(name).unwrap().clone();
    Embedder::load(&spec, &opts).unwrap_or_else(|e| panic!("{name} loads: {e}"))
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// Repeats `parts` in a fixed, varied order until the text has at least `bytes` bytes.
fn repeat_mixed(parts: &[&str], bytes: usize) -> String {
    let mut out = String::new();
    let mut i = 0usize;
    while out.len() < bytes {
        out.push_str(parts[(i * 7 + i / 3) % parts.len()]);
        i += 1;
    }
    out
}

const PROSE: &[&str] = &[
    "The planner chooses an index scan when the table is large and the predicate is selective. ",
    "Autovacuum, however, cannot keep up if the workload updates the same rows thousands of times per second; ",
    "she said \"it's fine\" -- but it wasn't.\n\n",
    "In 1998, PostgreSQL 6.4 shipped with (among other things) PL/pgSQL, a procedural language. ",
    "Naïve readers of the café's menu couldn't tell crème brûlée from a soufflé. ",
    "Résumé: worked at Zürich's ETH on Gödel numberings, 2003–2011.\t",
    "Questions? Ask on the mailing list!!! Or don't... ",
    "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. ",
];

const CODE: &[&str] = &[
    "fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * 2).collect();\n    println!(\"{v:?}\");\n}\n",
    "SELECT id, body FROM docs WHERE body ILIKE '%index%' AND created_at >= now() - interval '7 days';\n",
    "def f(x, *args, **kw):\n\treturn {k: v for k, v in kw.items() if v is not None}  # comment\n",
    "if (a[i]->next != NULL && b.c.d[0] <= 0x7fff) { x += y >> 3; } else { goto fail; }\n",
    "const url = `https://example.com/api/v2/items?id=${id}&sort=desc#top`;\n",
];

const CJK: &[&str] = &[
    "数据库索引可以显著提高查询速度。",
    "查询优化器会选择代价最小的执行计划，",
    "但是统计信息过期时，它可能选错！",
    "日本語のテキストも混ぜます。東京都の人口は約千四百万人です、",
    "한국어 문장도 들어갑니다. 데이터베이스는 중요합니다. ",
    "「引用」（括号）；冒号：问号？",
];

/// The texts the piecewise paths are compared on: (name, text).
fn corpus(tok: &TextTokenizer) -> Vec<(String, String)> {
    let mut texts = vec![
        ("long prose".to_string(), repeat_mixed(PROSE, 150_000)),
        ("code".into(), repeat_mixed(CODE, 100_000)),
        ("minified code".into(), "a.b(c);d.e[f]=g;if(h){i++}".repeat(8_000)),
        ("CJK".into(), repeat_mixed(CJK, 90_000)),
        ("CJK without punctuation".into(), "数据库索引查询优化器".repeat(5_000)),
        ("kana without spaces".into(), "ひらがなカタカナ".repeat(6_000)),
        ("emoji".into(), "🎉 party 😀👍🏽 ok 🇫🇷 ".repeat(5_000)),
        ("emoji without spaces".into(), "🎉😀👍🏽🇫🇷".repeat(10_000)),
        (
            "runs of spaces".into(),
            format!("{}hello world{}end   of   text   ", " ".repeat(200_000), "   \t\n  ".repeat(10_000)),
        ),
        ("a single huge word".into(), "a".repeat(300_000)),
        ("a huge word of letters and digits".into(), format!("x{} y", "q1".repeat(150_000))),
        ("a huge accented word".into(), "é".repeat(100_000)),
        ("a huge word with combining marks".into(), "e\u{301}".repeat(60_000)),
        ("huge words between short ones".into(), format!("start {} middle {}.end", "b".repeat(70_000), "c".repeat(70_000))),
        ("added tokens written out".into(), "see [MASK] and [SEP]x[CLS] or <mask> ".repeat(4_000)),
        ("empty".into(), String::new()),
        ("short".into(), "a short text".into()),
    ];
    // Exactly at the token limit, and one token over (in window mode: one window, and two).
    let room = tok.max_tokens() - 2;
    let words = |n: usize| "hello ".repeat(n);
    assert_eq!(tok.encode(&words(room)).unwrap().ids.len(), tok.max_tokens(), "one token per word");
    texts.push(("exactly at the limit".into(), words(room)));
    texts.push(("one token over the limit".into(), words(room + 1)));
    texts.push(("exactly two windows".into(), words(2 * room)));
    texts.push(("two windows and one token".into(), words(2 * room + 1)));
    texts
}

#[test]
fn the_default_tokenizer_allows_every_kind_of_cut() {
    let model = load("all-MiniLM-L6-v2", Precision::Fp32);
    let cuts = model.tokenizer().cuts();
    println!("cuts of all-MiniLM-L6-v2: {cuts:?}");
    assert!(cuts.whitespace && cuts.inside_whitespace && cuts.punctuation && cuts.ideographs, "{cuts:?}");
    assert_eq!(cuts.long_words, 100, "WordPiece's max_input_chars_per_word");
}

#[test]
fn pieces_give_the_token_ids_of_the_whole_text() {
    for name in ["all-MiniLM-L6-v2", "paraphrase-MiniLM-L3-v2"] {
        let model = load(name, Precision::Fp32);
        let tok = model.tokenizer();
        let truncate_piece = tok.max_tokens() * BYTES_PER_TOKEN_BOUND;
        for (what, text) in corpus(tok) {
            let whole = tok.encode(&text).unwrap();
            for piece in [1, 100, truncate_piece] {
                let got = tok.encode_truncated(&text, piece, &mut || {}).unwrap();
                assert_eq!(got, whole, "{name}, {what}: truncated ids, pieces of {piece} bytes");
            }
            let reference = tok.encode_windows(&text).unwrap();
            for piece in [100, PIECE_BYTES] {
                let mut stream = tok.windows(&text, piece);
                let mut got = Vec::new();
                while let Some(w) = stream.next(&mut || {}).unwrap() {
                    got.push(w);
                }
                assert_eq!(got.len(), reference.len(), "{name}, {what}: window count, pieces of {piece} bytes");
                assert!(got == reference, "{name}, {what}: window ids, pieces of {piece} bytes");
            }
        }
    }
}

/// The reference computation for one text: whole-text tokens, every window embedded, the
/// vectors averaged by token count and normalised.
fn reference_vector(model: &mut Embedder, windows: &[Tokens]) -> Vec<f32> {
    let vectors = model.embed_tokens(windows, RunLimits::default()).unwrap();
    let mut sum = vec![0f32; vectors[0].len()];
    for (v, w) in vectors.iter().zip(windows) {
        sum.iter_mut().zip(v).for_each(|(a, x)| *a += x * w.ids.len() as f32);
    }
    l2_normalize(&mut sum);
    sum
}

#[test]
fn vectors_equal_the_whole_text_computation() {
    for precision in [Precision::Fp32, Precision::Int8] {
        let mut model = load("all-MiniLM-L6-v2", precision);
        let policy = |long_text| InputPolicy { long_text, max_bytes: 64 << 20 };
        let mut worst = (f64::MAX, String::new());
        let corpus = corpus(model.tokenizer());
        for (what, text) in &corpus {
            // Keep the test's model time modest: the first 40 kB of the long texts (still
            // hundreds of windows and dozens of pieces).
            let text = pg_embed_engine::tokenize::prefix(text, 40_000);
            let windows = model.tokenizer().encode_windows(text).unwrap();
            let truncated = model.tokenizer().encode(text).unwrap();
            let want_window = reference_vector(&mut model, &windows);
            let want_truncate = reference_vector(&mut model, std::slice::from_ref(&truncated));
            let w = model.embed_with(&[text], RunLimits::default(), policy(LongText::Window), &mut || {}).unwrap();
            let t = model.embed_with(&[text], RunLimits::default(), policy(LongText::Truncate), &mut || {}).unwrap();
            assert_eq!(w.tokens, windows.iter().map(|w| w.ids.len()).sum::<usize>(), "{what}");
            assert_eq!((t.tokens, t.truncated), (truncated.ids.len(), usize::from(truncated.truncated)), "{what}");
            for (mode, got, want) in [("window", &w.vectors[0], &want_window), ("truncate", &t.vectors[0], &want_truncate)] {
                let c = cosine(got, want);
                if c < worst.0 {
                    worst = (c, format!("{what} ({mode})"));
                }
                assert!(c >= 0.999999, "{precision:?} {what}, {mode} mode: cosine {c} to the reference");
            }
        }
        // Several texts in one call, long and short mixed: each as alone.
        let texts: Vec<&str> = corpus.iter().map(|(_, t)| pg_embed_engine::tokenize::prefix(t, 20_000)).collect();
        let together = model.embed_with(&texts, RunLimits::default(), policy(LongText::Window), &mut || {}).unwrap();
        for (text, v) in texts.iter().zip(&together.vectors) {
            let alone = model.embed_with(&[text], RunLimits::default(), policy(LongText::Window), &mut || {}).unwrap();
            let c = cosine(v, &alone.vectors[0]);
            assert!(c >= 0.999999, "{precision:?}: batched vs alone cosine {c}");
        }
        println!("{precision:?}: minimum cosine to the reference {:.8} ({})", worst.0, worst.1);
    }
}

/// Counts the pieces the production piece size gives for `text`, and the longest one.
fn pieces(tok: &TextTokenizer, text: &str, piece_bytes: usize) -> (usize, usize) {
    let (mut start, mut count, mut longest) = (0, 0, 0);
    while start < text.len() {
        let end = tok.cuts().next_piece(text, start, piece_bytes).end;
        longest = longest.max(end - start);
        count += 1;
        start = end;
    }
    (count, longest)
}

#[test]
fn the_interrupt_callback_runs_after_every_piece_of_a_long_text() {
    let mut model = load("all-MiniLM-L6-v2", Precision::Fp32);
    let truncate_piece = model.tokenizer().max_tokens() * BYTES_PER_TOKEN_BOUND;
    let mb = 1 << 20;
    // Texts the tokenizer must read to the end even in truncate mode (few tokens per byte),
    // of several megabytes.
    let spaces = format!("{}hello", " ".repeat(4 * mb));
    let word = "a".repeat(4 * mb);
    let prose = repeat_mixed(PROSE, 4 * mb);
    for (what, text) in [("spaces", &spaces), ("one word", &word), ("prose", &prose)] {
        // Window mode: the tokenizing stage alone (embedding 4 MB of windows would take minutes).
        let (expected, longest) = pieces(model.tokenizer(), text, PIECE_BYTES);
        assert!(expected >= 4 * mb / PIECE_BYTES && longest <= PIECE_BYTES, "{what}: {expected} pieces, longest {longest}");
        let mut calls = 0usize;
        let mut stream = model.tokenizer().windows(text, PIECE_BYTES);
        let mut windows = 0usize;
        while stream.next(&mut || calls += 1).unwrap().is_some() {
            windows += 1;
        }
        assert!(calls >= expected, "{what}, window mode: {calls} calls for {expected} pieces");
        println!("{what}: {expected} pieces of at most {longest} bytes, {windows} windows, {calls} calls");
        if what == "prose" {
            continue; // fills the limit in its first piece in truncate mode
        }
        let (expected, longest) = pieces(model.tokenizer(), text, truncate_piece);
        assert!(longest <= truncate_piece, "{what}: longest piece {longest}");
        for mode in [LongText::Truncate, LongText::Error] {
            let mut calls = 0usize;
            let policy = InputPolicy { long_text: mode, max_bytes: 64 * mb };
            let out = model.embed_with(&[text], RunLimits::default(), policy, &mut || calls += 1);
            assert!(out.is_ok(), "{what}: {:?}", out.err());
            assert!(calls >= expected, "{what}, {mode:?} mode: {calls} calls for {expected} pieces");
        }
    }
    // A cancel raised from the callback (PostgreSQL's longjmp becomes a panic in the tests'
    // stand-in) stops tokenizing at the first piece.
    let mut calls = 0usize;
    let cancelled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let policy = InputPolicy { long_text: LongText::Window, max_bytes: 64 * mb };
        model.embed_with(&[&prose], RunLimits::default(), policy, &mut || {
            calls += 1;
            panic!("canceling statement due to user request");
        })
    }));
    assert!(cancelled.is_err() && calls == 1);
    // And the error mode still refuses a text over the limit.
    let policy = InputPolicy { long_text: LongText::Error, max_bytes: 64 * mb };
    let mut model = load("all-MiniLM-L6-v2", Precision::Fp32);
    assert!(matches!(
        model.embed_with(&[&prose], RunLimits::default(), policy, &mut || {}),
        Err(EngineError::TooManyTokens { .. })
    ));
}
