//! BM25: the terms of a text, and the score of a document for a query from its term counts.
//!
//! Two tokenizers, chosen per indexed column:
//! - `code`: runs of ASCII letters and digits, each split at identifier boundaries
//!   (`parse_json` -> parse, json; `HTTPServerError` -> http, server, error; `utf8Decode` ->
//!   utf, 8, decode), lower-cased. Everything else (punctuation, `_`, non-ASCII) separates.
//! - `words`: runs of ASCII letters, digits and `_`, lower-cased, identifiers kept whole.
//!
//! The score is Okapi BM25 with idf = ln(1 + (N - df + 0.5) / (df + 0.5)):
//! sum over the query's distinct terms of idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl)).

use std::collections::HashMap;

/// How a text is cut into terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tokenizer {
    Code,
    Words,
}

impl Tokenizer {
    pub const NAMES: &'static str = "code, words";

    pub fn parse(name: &str) -> Option<Tokenizer> {
        match name {
            "code" => Some(Tokenizer::Code),
            "words" => Some(Tokenizer::Words),
            _ => None,
        }
    }

    /// The text's terms in order, repeats included (their number is the document's length).
    pub fn terms(self, text: &str) -> Vec<String> {
        let lower = text.to_ascii_lowercase();
        self.spans(text).into_iter().map(|(a, b)| lower[a as usize..b as usize].to_owned()).collect()
    }

    /// Where the text's terms are, as byte ranges: a term is the range of
    /// `text.to_ascii_lowercase()` (which keeps every byte where it is), so a caller can hand
    /// out slices of one lower-cased copy instead of a string per term. Ranges fit in `u32`
    /// because texts are refused above pg_embed.max_text_size (at most 64 MB).
    pub fn spans(self, text: &str) -> Vec<(u32, u32)> {
        let bytes = text.as_bytes();
        let keep: fn(u8) -> bool = match self {
            Tokenizer::Code => |c| c.is_ascii_alphanumeric(),
            Tokenizer::Words => |c| c.is_ascii_alphanumeric() || c == b'_',
        };
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if !keep(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && keep(bytes[i]) {
                i += 1;
            }
            match self {
                Tokenizer::Code => split_identifier(&bytes[start..i], start, &mut out),
                Tokenizer::Words => out.push((start as u32, i as u32)),
            }
        }
        out
    }
}

/// Splits one run of ASCII letters and digits (at `offset` in the text) into its parts: a run
/// of capitals before a capitalised word (`HTTP` in `HTTPServer`), an optionally capitalised
/// lower-case run, a run of capitals, a run of digits.
fn split_identifier(w: &[u8], offset: usize, out: &mut Vec<(u32, u32)>) {
    let run = |from: usize, pred: fn(&u8) -> bool| from + w[from..].iter().take_while(|c| pred(c)).count();
    let mut i = 0;
    while i < w.len() {
        let end = if w[i].is_ascii_digit() {
            run(i, u8::is_ascii_digit)
        } else if w[i].is_ascii_lowercase() {
            run(i, u8::is_ascii_lowercase)
        } else {
            let caps = run(i, u8::is_ascii_uppercase);
            let lower_next = caps < w.len() && w[caps].is_ascii_lowercase();
            if caps - i >= 2 && lower_next {
                caps - 1 // the last capital starts the next word
            } else if lower_next {
                run(caps, u8::is_ascii_lowercase)
            } else {
                caps
            }
        };
        out.push(((offset + i) as u32, (offset + end) as u32));
        i = end;
    }
}

/// The query's distinct terms, in first-seen order.
pub fn distinct(terms: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    terms.into_iter().filter(|t| seen.insert(t.clone())).collect()
}

/// How often each query term occurs in a document, then the document's length: `query.len() + 1`
/// counts.
pub fn term_counts<'a>(document: impl IntoIterator<Item = &'a [u8]>, query: &[&[u8]]) -> Vec<i64> {
    let mut counts = vec![0i64; query.len() + 1];
    // A few query terms are found faster by comparing than by hashing.
    if query.len() <= 16 {
        for term in document {
            if let Some(i) = query.iter().position(|q| *q == term) {
                counts[i] += 1;
            }
            counts[query.len()] += 1;
        }
    } else {
        let at: HashMap<&[u8], usize> = query.iter().enumerate().map(|(i, t)| (*t, i)).collect();
        for term in document {
            if let Some(&i) = at.get(term) {
                counts[i] += 1;
            }
            counts[query.len()] += 1;
        }
    }
    counts
}

/// BM25 settings and corpus statistics a score needs.
#[derive(Clone, Copy, Debug)]
pub struct Corpus {
    pub documents: f64,
    pub average_length: f64,
    pub k1: f64,
    pub b: f64,
}

impl Corpus {
    pub fn idf(&self, df: f64) -> f64 {
        (1.0 + (self.documents - df + 0.5) / (df + 0.5)).ln()
    }

    /// The score of a document from [`term_counts`] and each query term's document frequency.
    pub fn score(&self, counts: &[i64], df: &[i64]) -> f64 {
        let (tf, len) = counts.split_at(counts.len().saturating_sub(1));
        let len = len.first().copied().unwrap_or(0) as f64;
        let norm = self.k1 * (1.0 - self.b + self.b * len / self.average_length);
        tf.iter()
            .zip(df)
            .filter(|(&t, _)| t > 0)
            .map(|(&t, &d)| {
                let t = t as f64;
                self.idf(d as f64) * t * (self.k1 + 1.0) / (t + norm)
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> Vec<String> {
        Tokenizer::Code.terms(text)
    }

    #[test]
    fn identifiers_split_at_case_and_underscores() {
        assert_eq!(code("parse_json"), ["parse", "json"]);
        assert_eq!(code("HTTPServerError"), ["http", "server", "error"]);
        assert_eq!(code("getHTTPResponse2xx"), ["get", "http", "response", "2", "xx"]);
        assert_eq!(code("utf8Decode"), ["utf", "8", "decode"]);
        assert_eq!(code("ABC"), ["abc"]);
        assert_eq!(code("AbC"), ["ab", "c"]);
        assert_eq!(code("XMLs"), ["xm", "ls"]);
        assert_eq!(code("aB"), ["a", "b"]);
    }

    #[test]
    fn punctuation_and_non_ascii_separate() {
        assert_eq!(code("self.items[0] += café"), ["self", "items", "0", "caf"]);
        assert_eq!(code("  "), Vec::<String>::new());
        assert_eq!(code("naïve"), ["na", "ve"]);
    }

    #[test]
    fn words_keep_identifiers_whole() {
        assert_eq!(Tokenizer::Words.terms("def parse_JSON(s): Return"), ["def", "parse_json", "s", "return"]);
    }

    #[test]
    fn counts_end_with_the_length() {
        let doc = code("read the file, then read it again");
        let counts = term_counts(doc.iter().map(String::as_bytes), &[b"read", b"write"]);
        assert_eq!(counts, [2, 0, 7]);
    }

    #[test]
    fn score_is_okapi_bm25() {
        let c = Corpus { documents: 10.0, average_length: 5.0, k1: 1.2, b: 0.75 };
        // One term, tf 2, df 3, length 7.
        let idf = (1.0f64 + (10.0 - 3.0 + 0.5) / 3.5).ln();
        let norm = 1.2 * (1.0 - 0.75 + 0.75 * 7.0 / 5.0);
        let want = idf * 2.0 * 2.2 / (2.0 + norm);
        assert!((c.score(&[2, 0, 7], &[3, 1]) - want).abs() < 1e-12);
        assert_eq!(c.score(&[0, 0, 7], &[3, 1]), 0.0);
    }

    #[test]
    fn many_query_terms_count_the_same() {
        let doc = Tokenizer::Words.terms("t1 t2 t3 t20 t20 x");
        let query: Vec<String> = (0..30).map(|i| format!("t{i}")).collect();
        let query: Vec<&[u8]> = query.iter().map(String::as_bytes).collect();
        let counts = term_counts(doc.iter().map(String::as_bytes), &query);
        assert_eq!((counts[1], counts[20], counts[0], counts[30]), (1, 2, 0, 6));
        let few = term_counts(doc.iter().map(String::as_bytes), &query[..16]);
        assert_eq!(&few[..16], &counts[..16]);
    }

    #[test]
    fn distinct_keeps_first_order() {
        assert_eq!(distinct(code("a b a c b")), ["a", "b", "c"]);
    }
}
