//! Stage 1c: a long text cut into chunks that each fit a model, counted in the model's own
//! tokens, for embedding one vector per chunk instead of one per text.
//!
//! Each chunk holds at most `max_tokens` tokens with the model's special tokens included, so
//! the model sees it whole. Where a chunk ends is chosen among its last half of tokens, at the
//! strongest boundary there ([`Boundaries`]): in prose a paragraph, then a line, a sentence, a
//! word; in code the start of a definition (a function, class, type... with the comments and
//! attributes just above it), then a line at the left margin, a blank line, any line, a word.
//! A paragraph or a definition may end a chunk earlier, after its first quarter.
//! The next chunk starts `overlap` tokens before the previous one ended, moved forward to the
//! next word, so neighbours share some context. Offsets are bytes of the text, on token starts
//! and ends (the whitespace between two chunks belongs to neither).

use crate::error::{EngineError, Result};
use crate::tokenize::TextTokenizer;

/// One chunk: `text[start..end]`, `tokens` long as the model sees it on its own (special tokens
/// included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub start: usize,
    pub end: usize,
    pub tokens: usize,
}

/// Which boundaries a chunk prefers to end at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundaries {
    Prose,
    Code,
}

/// The fewest tokens a chunk may be given room for: below that, special tokens and overlap
/// leave nothing to embed.
pub const MIN_TOKENS: usize = 8;

/// Checks `max_tokens` and `overlap` against the model's limit and its special tokens; the
/// error says what is allowed.
pub fn check(max_tokens: usize, overlap: usize, model_limit: usize, specials: usize) -> Result<()> {
    if max_tokens < MIN_TOKENS.max(specials + 1) || max_tokens > model_limit {
        return Err(EngineError::ChunkArgument(format!(
            "max_tokens must be between {} and {model_limit} (the model's limit), not {max_tokens}",
            MIN_TOKENS.max(specials + 1)
        )));
    }
    let room = max_tokens - specials;
    if overlap > room / 2 {
        return Err(EngineError::ChunkArgument(format!(
            "overlap must be between 0 and {} (half of the {room} tokens a chunk of {max_tokens} holds besides the model's {specials} special tokens), not {overlap}",
            room / 2
        )));
    }
    Ok(())
}

/// The chunks of `text` (none for a text without tokens). `interrupt` is called after every
/// piece of text tokenized. Holds at most about one chunk of token offsets at a time.
pub fn chunks(
    tokenizer: &TextTokenizer,
    text: &str,
    max_tokens: usize,
    overlap: usize,
    kind: Boundaries,
    piece_bytes: usize,
    interrupt: &mut dyn FnMut(),
) -> Result<Vec<Chunk>> {
    let specials = tokenizer.special_count();
    check(max_tokens, overlap, usize::MAX, specials)?;
    let room = max_tokens - specials;
    let mut spans = tokenizer.spans(text, piece_bytes);
    // Token ranges from the current chunk's first token on.
    let mut pending: std::collections::VecDeque<(usize, usize)> = std::collections::VecDeque::new();
    let mut done = false;
    let mut out = Vec::new();
    // Tokens at the start of `pending` that the previous chunk held too (the overlap).
    let mut covered = 0;
    loop {
        // One token more than fits tells whether the chunk must end before the text does.
        while !done && pending.len() <= room {
            match spans.next(interrupt)? {
                Some(more) => pending.extend(more),
                None => done = true,
            }
        }
        if pending.is_empty() {
            return Ok(out);
        }
        let last = pending.len() <= room;
        let tokens = pending.make_contiguous();
        let mut take = if last { tokens.len() } else { best_end(text, tokens, room, covered, kind) };
        // Tokenized on its own a chunk can come out longer than its share of the whole text's
        // tokens (a word cut in two, a byte-level BPE word without its leading space): it is
        // counted again and shortened until the model sees it whole.
        let count = loop {
            let count = tokenizer.count(&text[tokens[0].0..tokens[take - 1].1])?;
            if count <= max_tokens || take == 1 {
                break count;
            }
            take -= (count - max_tokens).min(take - 1);
        };
        out.push(Chunk { start: tokens[0].0, end: tokens[take - 1].1, tokens: count });
        if take == tokens.len() {
            return Ok(out);
        }
        let next = next_start(text, tokens, take, overlap);
        covered = take - next;
        pending.drain(..next);
    }
}

/// How many of `tokens` (room + 1 of them, the last one beyond the chunk) the chunk takes: the
/// cut with the strongest boundary in the last half, the latest of equals; a definition start
/// (code) or a paragraph (prose) may also end a chunk after its first quarter.
/// The chunk always goes past the `covered` tokens the previous chunk already held.
fn best_end(text: &str, tokens: &[(usize, usize)], room: usize, covered: usize, kind: Boundaries) -> usize {
    let strong = match kind {
        Boundaries::Prose => 4,
        Boundaries::Code => 6,
    };
    let half = (room / 2).max(1);
    let mut best = (0u8, room);
    for take in (room / 4).max(covered + 1).max(1)..=room {
        let score = boundary(text, tokens[take - 1].1, tokens[take].0, kind);
        if score >= best.0 && (take >= half || score >= strong) {
            best = (score, take);
        }
    }
    best.1
}

/// Where the next chunk starts (an index into `tokens`): `overlap` tokens before the cut, moved
/// forward to the first word start, never before the first token after this chunk's first.
fn next_start(text: &str, tokens: &[(usize, usize)], take: usize, overlap: usize) -> usize {
    if overlap == 0 {
        return take;
    }
    let from = take.saturating_sub(overlap).max(1);
    (from..take).find(|&i| tokens[i - 1].1 < tokens[i].0 || is_break(text, tokens[i - 1].1)).unwrap_or(from)
}

fn is_break(text: &str, at: usize) -> bool {
    text[..at].chars().next_back().is_some_and(|c| !c.is_alphanumeric() && c != '_')
}

/// How good a place for a chunk to end is the gap `text[before..after]` between two tokens.
fn boundary(text: &str, before: usize, after: usize, kind: Boundaries) -> u8 {
    let gap = &text[before.min(after)..after];
    let newlines = gap.matches('\n').count();
    match kind {
        Boundaries::Prose => {
            let previous = text[..before].chars().next_back();
            if newlines >= 2 {
                4
            } else if newlines == 1 {
                3
            } else if !gap.is_empty() && matches!(previous, Some('.' | '!' | '?' | '。' | '！' | '？' | ':' | ';')) {
                2
            } else {
                u8::from(word_edge(text, before, after))
            }
        }
        Boundaries::Code => {
            if newlines == 0 {
                return u8::from(word_edge(text, before, after));
            }
            let line_start = before + gap.rfind('\n').map_or(0, |i| i + 1);
            let indent = after - line_start;
            let line = line_at(text, after);
            // Inside a run of comments and attributes, the definition block starts at its top.
            let previous = text[..line_start.saturating_sub(1)].rsplit('\n').next().unwrap_or("").trim_start();
            if starts_definition_block(text, after) && !is_comment_or_attribute(previous) {
                if indent == 0 { 7 } else { 6 }
            } else if indent == 0 && !closes(line) {
                5
            } else if newlines >= 2 {
                4
            } else if !closes(line) {
                3
            } else {
                2
            }
        }
    }
}

/// Is the cut between two tokens at a word's edge: whitespace between them, or punctuation on
/// either side (not inside a word that the tokenizer split into pieces)?
fn word_edge(text: &str, before: usize, after: usize) -> bool {
    before < after || is_break(text, before) || text[after..].chars().next().is_some_and(|c| !c.is_alphanumeric() && c != '_')
}

/// The line of `text` that starts at byte `at`, without its line end.
fn line_at(text: &str, at: usize) -> &str {
    let rest = &text[at..];
    &rest[..rest.find('\n').unwrap_or(rest.len())]
}

/// Does the line at `at` start a definition, or a run of comment and attribute lines that a
/// definition follows?
fn starts_definition_block(text: &str, mut at: usize) -> bool {
    for _ in 0..32 {
        let line = line_at(text, at);
        let trimmed = line.trim_start();
        if is_definition(trimmed) {
            return true;
        }
        if !is_comment_or_attribute(trimmed) || at + line.len() >= text.len() {
            return false;
        }
        at += line.len() + 1;
    }
    false
}

/// Lines that belong to the definition below them: comments, doc comments, decorators and
/// attributes.
fn is_comment_or_attribute(line: &str) -> bool {
    ["//", "#", "/*", "*", "@", "--", "\"\"\"", "'''"].iter().any(|p| line.starts_with(p)) && !line.starts_with("#include")
}

/// Modifiers that may come before a definition keyword.
const MODIFIERS: &[&str] = &[
    "pub", "pub(crate)", "pub(super)", "export", "default", "async", "static", "public", "private", "protected",
    "internal", "abstract", "final", "override", "unsafe", "extern", "inline", "virtual", "sealed", "open", "data",
    "const", "local", "my", "our", "or", "replace",
];

/// Keywords that start a function, class, type or module in the languages the detector knows
/// (Python, Rust, C, C++, Java, JavaScript/TypeScript, Go, shell, SQL, Perl).
const DEFINITIONS: &[&str] = &[
    "def", "class", "fn", "func", "function", "impl", "struct", "enum", "trait", "interface", "mod", "module",
    "type", "fun", "namespace", "template", "typedef", "union", "sub", "package", "create", "record",
];

fn is_definition(line: &str) -> bool {
    let mut words = line.split(|c: char| c.is_whitespace() || c == '<' || c == '{');
    for word in words.by_ref().take(6) {
        let word = word.trim_end_matches(':');
        if word.is_empty() {
            continue;
        }
        let lower = word.to_ascii_lowercase();
        if DEFINITIONS.contains(&lower.as_str()) {
            return true;
        }
        if !MODIFIERS.contains(&lower.as_str()) {
            // A shell function: `name() {`.
            return word.ends_with("()") && line.trim_end().ends_with('{');
        }
    }
    false
}

/// Lines that end a block rather than start something: a chunk should not begin with them.
fn closes(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with(['}', ')', ']']) || t == "end" || t.starts_with("end ") || t == "fi" || t == "done" || t == "esac"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Token ranges of a text split on whitespace, each word one token.
    fn words(text: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
            match (c.is_whitespace(), start) {
                (true, Some(s)) => {
                    out.push((s, i));
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
        out
    }

    #[test]
    fn arguments_are_checked_against_the_model() {
        assert!(check(256, 0, 256, 2).is_ok());
        assert!(check(257, 0, 256, 2).is_err());
        assert!(check(7, 0, 256, 2).is_err());
        assert!(check(100, 49, 256, 2).is_ok());
        assert!(check(100, 50, 256, 2).is_err(), "overlap beyond half of the room");
    }

    #[test]
    fn prose_ends_at_paragraphs_then_sentences_then_words() {
        let text = "one two three. four five\n\nsix seven eight nine ten";
        let t = words(text);
        // room 6: the cut may fall after 3..=6 words; the paragraph after "five" wins.
        assert_eq!(best_end(text, &t[..7], 6, 0, Boundaries::Prose), 5);
        // room 4: cuts after 2..=4 words; the sentence end after "three." wins over words.
        assert_eq!(best_end(text, &t[..5], 4, 0, Boundaries::Prose), 3);
        let glued = "aaa.bbb ccc";
        assert_eq!(boundary(glued, 2, 2, Boundaries::Prose), 0, "inside a word");
        assert_eq!(boundary(glued, 3, 3, Boundaries::Prose), 1, "before punctuation: a word's edge");
        assert_eq!(boundary(glued, 4, 4, Boundaries::Prose), 1, "after punctuation too");
    }

    #[test]
    fn code_ends_before_definitions_with_their_comments() {
        let text = "x = 1\ny = 2\n\n# helper\n@cache\ndef f(a):\n    return a\n";
        let t = words(text);
        let hash = t.iter().position(|&(s, _)| &text[s..s + 1] == "#").unwrap();
        let all = t.len() - 1;
        let take = best_end(text, &t[..=all], all, 0, Boundaries::Code);
        assert_eq!(take, hash, "the comment above def starts the next chunk");
        assert!(is_definition("pub(crate) async fn run() {"));
        assert!(is_definition("export default class Foo {"));
        assert!(is_definition("CREATE OR REPLACE FUNCTION f()"));
        assert!(is_definition("usage() {"));
        assert!(!is_definition("return definition"));
        assert!(!is_definition("x = def"));
        assert!(closes("  }") && closes("fi") && !closes("final"));
    }

    #[test]
    fn overlap_starts_at_a_word() {
        let text = "alpha beta gamma delta";
        let t = words(text);
        assert_eq!(next_start(text, &t, 4, 0), 4);
        assert_eq!(next_start(text, &t, 4, 2), 2);
        assert_eq!(next_start(text, &t, 1, 3), 1, "at least one token on");
    }
}
