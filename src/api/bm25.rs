//! BM25 over a `text[]` column of terms: the tokenizer and the score, in Rust; the corpus
//! statistics, the triggers that keep them and the search, in `sql/bm25.sql`.
//!
//! A document's terms are stored whole (`pg_embed_bm25_terms(body)` in a generated column, repeats
//! included), so a GIN index on the column finds the documents sharing a term with the query,
//! and a document's term counts and length are read from its row, exactly.

use pgrx::prelude::*;

use pg_embed_engine::bm25::{self, Corpus, Tokenizer};
use pg_embed_engine::EngineError;

use crate::error::{raise, report};
use crate::gucs;
use crate::text::Text;

fn tokenizer(name: &str) -> Tokenizer {
    Tokenizer::parse(name).unwrap_or_else(|| {
        report(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("unknown BM25 tokenizer \"{name}\""),
            Some(format!("The tokenizers are {}.", Tokenizer::NAMES)),
            Some("tokenizer => 'code' splits identifiers (parse_json, parseJson: parse, json); 'words' keeps them whole.".into()),
        )
    })
}

/// The terms of `body` for BM25, in order, repeats included: ASCII letters and digits,
/// lower-cased, identifiers split at `_` and case changes ('code'), or kept whole ('words').
/// IMMUTABLE: the terms depend on the text and the tokenizer's name only, so it can feed a
/// generated column and its GIN index.
#[pg_extern(immutable, strict, parallel_safe, cost = 50)]
fn pg_embed_bm25_terms(body: Text, tokenizer: default!(&str, "'code'")) -> Vec<&'static str> {
    let tokenizer = self::tokenizer(tokenizer);
    let lower = lowered(&body);
    tokenizer.spans(&body).into_iter().map(|(a, b)| &lower[a as usize..b as usize]).collect()
}

/// The text lower-cased (ASCII), for the terms to be slices of, after the size bound: a text
/// over pg_embed.max_text_size is refused before any memory is taken for its terms. The copy
/// lives in the call's memory context, as long as the result is being built.
fn lowered(body: &str) -> &'static str {
    check_size(body);
    let copy = pgrx::PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(body.to_ascii_lowercase());
    // SAFETY: the context outlives the result this call returns (pgrx copies it into a datum first).
    unsafe { &*copy }
}

fn check_size(body: &str) {
    let limit = gucs::input_policy().max_bytes;
    if body.len() > limit {
        raise(EngineError::TextTooLarge { bytes: body.len(), limit });
    }
}

/// The distinct terms of a query, in first-seen order (a term repeated in the query counts once,
/// as in the reference BM25).
#[pg_extern(immutable, strict, parallel_safe, cost = 50)]
fn pg_embed_bm25_query_terms(query: Text, tokenizer: default!(&str, "'code'")) -> Vec<String> {
    let tokenizer = self::tokenizer(tokenizer);
    check_size(&query);
    bm25::distinct(tokenizer.terms(&query))
}

/// Internal: the BM25 score of a document of `terms` for the distinct `query` terms, each
/// held by `df` documents of a corpus of `documents` documents of `average_length` terms.
#[pg_extern(immutable, strict, parallel_safe, cost = 20)]
fn pg_embed_bm25_score(
    terms: Array<'_, Text>,
    query: Array<'_, Text>,
    df: Vec<i64>,
    documents: f64,
    average_length: f64,
    k1: f64,
    b: f64,
) -> f64 {
    let (query, query_nulls) = elements(query);
    if query_nulls {
        report(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "query terms must not be NULL",
            None,
            Some("pg_embed_bm25_query_terms(query) gives the terms of a query.".into()),
        );
    }
    if !(documents >= 0.0 && documents.is_finite() && average_length.is_finite() && average_length >= 0.0)
        || !(k1 >= 0.0 && k1.is_finite() && (0.0..=1.0).contains(&b))
        || df.iter().any(|&d| d < 0)
    {
        report(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("invalid BM25 statistics: documents {documents}, average_length {average_length}, k1 {k1}, b {b}, or a negative df"),
            None,
            Some("pg_embed_bm25_search passes the statistics of a registered column.".into()),
        );
    }
    if query.len() != df.len() {
        report(
            PgSqlErrorCode::ERRCODE_ARRAY_ELEMENT_ERROR,
            format!("{} query terms but {} document frequencies", query.len(), df.len()),
            Some("df holds the number of documents holding each query term, in the query's order.".into()),
            None,
        );
    }
    let counts = bm25::term_counts(elements(terms).0, &query);
    Corpus { documents, average_length, k1, b }.score(&counts, &df)
}

/// The bytes of a text array's non-NULL elements, in place, and whether it held a NULL. Terms are
/// ASCII, the same bytes in every server encoding, so they are compared as bytes.
fn elements<'a>(array: Array<'a, Text>) -> (Vec<&'a [u8]>, bool) {
    let (mut values, mut nulls, mut n) = (std::ptr::null_mut(), std::ptr::null_mut(), 0);
    // SAFETY: pgrx handed over a detoasted text[] that lives for the call; deconstruct_array
    // points the datums into it without copying.
    unsafe {
        let raw = array.into_array_type() as *mut pg_sys::ArrayType;
        pg_sys::deconstruct_array(raw, pg_sys::TEXTOID, -1, false, pg_sys::TYPALIGN_INT as _, &mut values, &mut nulls, &mut n);
        let values = std::slice::from_raw_parts(values, n as usize);
        let nulls = std::slice::from_raw_parts(nulls, n as usize);
        let found = values
            .iter()
            .zip(nulls)
            .filter(|(_, &null)| !null)
            .map(|(v, _)| pgrx::varlena::varlena_to_byte_slice(v.cast_mut_ptr::<pg_sys::varlena>()))
            .collect();
        (found, nulls.contains(&true))
    }
}

extension_sql_file!(
    "../sql/bm25.sql",
    name = "bm25_sql",
    requires = [
        pg_embed_bm25_terms,
        pg_embed_bm25_query_terms,
        pg_embed_bm25_score,
        "provenance_sql",
        "citus_sql"
    ],
);

extension_sql_file!("../sql/bm25_search.sql", name = "bm25_search_sql", requires = ["bm25_sql"]);
