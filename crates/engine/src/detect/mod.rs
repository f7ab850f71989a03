//! Is a text source code or documentation prose? And if code, in which language?
//!
//! Meant to pick how a text is embedded (a code model or a prose model, a prefix, a chunker),
//! so it must be cheap: one pass over the lines, no allocation per line or word, no regular
//! expressions; about 9 µs for a kilobyte on the machine in `benches/README.md`.
//!
//! # Method
//!
//! **Lines.** Every non-blank line gets two small point totals, one for "looks like code" and
//! one for "reads like prose", from features that are cheap to see:
//!
//! * code: the line ends with `;`, `{` or `}` (or `(`, `[`, `\`, `=>`, or `:` after `def`,
//!   `if`, `for`...), or with `,` after a single item; it starts with an assignment (`x = `,
//!   `my $x =`, `let x =`, `FOO=bar`); it holds operators that prose does not use (`==`, `->`,
//!   `::`, `&&`, `$(`...), calls (`name(x` with no space), `snake_case`, `camelCase` or `a.b`
//!   names, or many code symbols; it ends in a trailing comment; its first word is a statement
//!   keyword (`return`, `import`, `SELECT`...) and it has no English function words; it is a
//!   lone `fi`, `done`, `else`...
//! * prose: it has several words of which some are English function words ("the", "of",
//!   "which", "you"...), few code symbols, ends a sentence with `.`, `?` or `!`, is a list
//!   item with words, or is a comma-separated list of names.
//!
//! A line with at least two points on one side and more than on the other is a code line or a
//! prose line; the rest are undecided. What prose uses too is left out of the counts: text in
//! quotes and backticks, URLs, `name(3)` references to manual pages, `name()` mentions,
//! `a/b` paths, parentheses, `*`, `-` and `#`.
//!
//! **Set aside.** Some lines are neither code nor prose: comments (`//`, `/* */`, `#`, `--`);
//! documentation markup (Markdown headings, tables, link definitions and HTML, reST
//! directives and underlines, POD commands, `>>>` sessions, box-drawn tables); text embedded
//! in code (Python docstrings, POD blocks that end in `=cut`, here-documents, strings that run
//! over several lines); and code between Markdown fences. A snippet may start in the middle of
//! any of these, so the starting state is inferred: a `*/` before any `/*` means the text
//! starts in a comment; triple quotes that end a line of text, or stand alone before code,
//! close a docstring; and for fences, whichever side reads more like prose is "outside".
//!
//! **Score.** The text's score is a weighted sum of nine features, each counted outside fences:
//! code lines, prose lines, lines ending with `;` `{` `}`, English function words among words
//! (damped below 30 words), code-symbol density, markup lines, comment lines, embedded lines,
//! and operators per line. A logistic function turns it into `code_score` in `0..=1`: 0.5 or
//! more is code, less is documentation. Texts with fewer than 16 non-blank characters, and
//! scores within 0.02 of 0.5, are `Unknown`. The line rules were written by looking at errors
//! on the development files of the labelled set in `benches/detect/`; the weights come from a
//! logistic regression on the same files (`detect_eval --features` writes the table), rounded.
//! `benches/README.md` has the accuracy, on held-out files as well.
//!
//! **Language.** For code, the language is the one with the most keyword points: each known
//! keyword (`def` and `elif` for Python, `fn`, `impl` and `usize` for Rust, `my` and `elsif`
//! for Perl, upper-case `SELECT` and `RETURNS` for SQL...) and some syntax (`#include`, `$(`,
//! `:=`, `->{`, `===`, `char *p`...) adds points to one or more languages, at full weight on
//! code lines and half weight on undecided ones. With fewer than 3 points, or a second
//! language within 25% of the first, the language is `None`. Java and Go have keywords but
//! were not in the labelled set, so their guesses are untested.
//!
//! # Where things are
//!
//! * this file: the public API ([`detect`], [`ContentKind`], [`Detection`]) and the limits;
//! * `scanner.rs`: the one pass over the lines, sorting each into code, prose or set aside,
//!   and the verdict at the end;
//! * `words.rs`: the scan of one line's words and symbols into per-line totals;
//! * `lines.rs`: the rules for a whole line (assignments, list items, `#include`, lone
//!   keywords...);
//! * `set_aside.rs`: markup, docstrings, here-documents and strings over several lines, and
//!   whether a snippet starts inside a comment or a docstring;
//! * `score.rs`: the text-level features and their weights;
//! * `language.rs`: the keyword table and the language guess; `keywords.rs`: the keywords
//!   themselves, as data.

mod keywords;
mod language;
mod lines;
mod scanner;
mod score;
mod set_aside;
mod words;

#[cfg(test)]
mod tests;

use scanner::Scanner;

/// What a text mostly is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// Source code in a programming, query or shell language.
    Code,
    /// Documentation prose, possibly with inline or fenced code samples.
    Doc,
    /// Too short or too mixed to call.
    Unknown,
}

impl ContentKind {
    /// `"code"`, `"doc"` or `"unknown"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentKind::Code => "code",
            ContentKind::Doc => "doc",
            ContentKind::Unknown => "unknown",
        }
    }
}

/// The verdict on one text, with the reasons for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub kind: ContentKind,
    /// For code, the language when the keywords make it clear (`"python"`, `"rust"`, `"c"`,
    /// `"cpp"`, `"java"`, `"javascript"`, `"go"`, `"shell"`, `"sql"`, `"perl"`).
    pub language: Option<&'static str>,
    /// 0 (surely prose) to 1 (surely code).
    pub code_score: f32,
    /// Short human-readable reasons, e.g. "12 of 30 lines end with ; { or }".
    pub evidence: Vec<String>,
}

/// Languages that [`detect`] can name, in the order of the keyword weights.
pub const LANGUAGES: [&str; 10] = ["python", "rust", "c", "cpp", "java", "javascript", "go", "shell", "sql", "perl"];
const NLANG: usize = LANGUAGES.len();
const PY: usize = 0;
const RS: usize = 1;
const C: usize = 2;
const CPP: usize = 3;
const JS: usize = 5;
const GO: usize = 6;
const SH: usize = 7;
const SQL: usize = 8;
const PERL: usize = 9;

/// Texts with fewer non-blank characters than this are `Unknown`.
const MIN_CHARS: usize = 16;
/// Scores within this distance of 0.5 are `Unknown`.
const UNSURE: f32 = 0.02;
/// Only the first this-many bytes are looked at (on a line boundary); the verdict on a long
/// text is the verdict on its start.
const MAX_SCAN: usize = 16 * 1024;

/// Classifies `text` as code, documentation or unknown. Deterministic; never panics.
pub fn detect(text: &str) -> Detection {
    let text = clip(text, MAX_SCAN);
    let mut s = Scanner::new(text);
    for line in text.lines() {
        s.line(line);
    }
    s.finish()
}

fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let cut = text.as_bytes()[..max].iter().rposition(|&b| b == b'\n').unwrap_or(max);
    let mut cut = cut;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// The named features behind [`detect`]'s score, for tuning (`detect_eval --features`).
#[doc(hidden)]
pub fn features(text: &str) -> Vec<(&'static str, f32)> {
    let text = clip(text, MAX_SCAN);
    let mut s = Scanner::new(text);
    for line in text.lines() {
        s.line(line);
    }
    s.features().to_vec()
}
/// The keyword points per language behind [`detect`]'s guess, for `detect_eval --lang-errors`.
#[doc(hidden)]
pub fn language_points(text: &str) -> Vec<(&'static str, f32)> {
    let text = clip(text, MAX_SCAN);
    let mut s = Scanner::new(text);
    for line in text.lines() {
        s.line(line);
    }
    let (out, _) = s.sides();
    LANGUAGES.iter().copied().zip(out.lang).filter(|(_, p)| *p > 0.0).collect()
}
