//! Chunking: a long text cut into chunks that each fit a model, for one vector per chunk
//! (pg_embed_chunks, and vectorizers registered with a chunk table).

use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use pg_embed_engine::chunk::{self, Boundaries};
use pg_embed_engine::Role;
use pg_embed_engine::model::BYTES_PER_TOKEN_BOUND;

use crate::error::OrRaise;
use crate::runtime::{self, routing};
use crate::text::Text;

/// Where the chunks of `body` lie, for the model that embeds them: chunk number (from 1),
/// first character (1-based, as substr counts) and length in characters, and the tokens the
/// model sees (special tokens included, at most `max_tokens`; NULL: the model's limit).
/// `kind` says which boundaries a chunk prefers to end at: 'prose', 'code' or 'auto' (the
/// detector's verdict on the text, prose unless it is code); `model` NULL is the model of that
/// role: embed_doc's, embed_code's, or for 'auto' the one embed_auto would use for the text. STABLE: the model and its tokenizer
/// come from the session's settings. The SQL function pg_embed_chunks adds each chunk's text.
#[pg_extern(stable, parallel_safe, cost = 1000)]
fn pg_embed_chunk_spans(
    body: Option<Text>,
    max_tokens: Option<i32>,
    overlap: Option<i32>,
    model: Option<Text>,
    kind: Option<Text>,
) -> TableIterator<'static, (name!(chunk, i32), name!(start_pos, i32), name!(length, i32), name!(tokens, i32))> {
    let Some(body) = body else { return TableIterator::new(Vec::new()) };
    crate::gucs::input_policy().check_size(body.len()).or_raise();
    let kind = kind.as_deref().unwrap_or("auto");
    let role = match kind {
        "prose" | "doc" => Role::Doc,
        "code" => Role::Code,
        "auto" => routing::role_of(&body),
        other => crate::error::report(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("unknown chunk kind \"{other}\""),
            Some("Chunks of prose end at paragraphs, sentences and words; chunks of code at definitions and lines.".into()),
            Some("Pass kind => 'prose', 'code' or 'auto' (the detector decides, as embed_auto does).".into()),
        ),
    };
    let kind = if role == Role::Code { Boundaries::Code } else { Boundaries::Prose };
    let model = match model {
        Some(m) => m.to_string(),
        None => routing::choose(role).or_raise().model,
    };
    let overlap = overlap.unwrap_or(0);
    let found = runtime::with_tokenizer(&model, |tokenizer, spec| {
        let max_tokens = max_tokens.map_or(Ok(spec.max_tokens), |m| {
            usize::try_from(m).map_err(|_| argument(format!("max_tokens must not be negative, not {m}")))
        })?;
        let overlap = usize::try_from(overlap).map_err(|_| argument(format!("overlap must not be negative, not {overlap}")))?;
        chunk::check(max_tokens, overlap, spec.max_tokens, tokenizer.special_count())?;
        let piece_bytes = spec.max_tokens.saturating_mul(BYTES_PER_TOKEN_BOUND);
        chunk::chunks(tokenizer, &body, max_tokens, overlap, kind, piece_bytes, &mut || {
            pgrx::check_for_interrupts!();
        })
    })
    .or_raise();
    // Byte offsets to character positions, walking the text once.
    let mut offsets: Vec<usize> = found.iter().flat_map(|c| [c.start, c.end]).collect();
    offsets.sort_unstable();
    offsets.dedup();
    let mut chars = Vec::with_capacity(offsets.len());
    let (mut byte, mut count) = (0usize, 0usize);
    for &to in &offsets {
        count += body[byte..to].chars().count();
        byte = to;
        chars.push(count);
    }
    let position = |b: usize| chars[offsets.binary_search(&b).expect("every offset was counted")];
    let rows: Vec<_> = found
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (start, end) = (position(c.start), position(c.end));
            (i as i32 + 1, start as i32 + 1, (end - start) as i32, c.tokens as i32)
        })
        .collect();
    TableIterator::new(rows)
}

fn argument(message: String) -> pg_embed_engine::EngineError {
    pg_embed_engine::EngineError::ChunkArgument(message)
}

extension_sql_file!("../sql/chunks.sql", name = "chunks_sql", requires = [pg_embed_chunk_spans]);
