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

use std::sync::OnceLock;

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

// ----------------------------------------------------------------------------------------
// Keywords
// ----------------------------------------------------------------------------------------

/// English function word that is never a keyword.
const STOP: u8 = 2;
/// English function word that is also a keyword somewhere (`if`, `for`, `in`, `and`...).
const WEAK_STOP: u8 = 1;

#[derive(Clone, Copy)]
struct Word {
    stop: u8,
    /// Starts statements (`return`, `fi`, `SELECT`).
    start: bool,
    lang: [u8; NLANG],
}

/// `tag: words`. Tags: `stop`, `weak` (see above), `start`, or a language and a weight.
const KEYWORDS: &str = "
stop: the of to that it be are by at which can will you your we have has was were but when there
stop: their they these those its also should would may must such only into than more other some
stop: been being does how what about after before because between both could either every here
stop: however many most much need now often same so still through under until very whether who
stop: whose why within without us he she his her them me one two yes see used allows given
weak: using
weak: a is and or not in for if with as on this from do use then done else new case set type our
weak: all any each no
start: return break continue goto fi esac done then else elif do def fn let const var my our sub raise
start: if for while with try except case switch unless foreach yield del assert
start: import use from package class struct enum impl pub static typedef extern template namespace
start: local export echo unset function func SELECT INSERT UPDATE DELETE CREATE ALTER DROP GRANT
start: REVOKE COMMENT BEGIN END DECLARE RETURN RETURNS LANGUAGE AS FROM WHERE AND OR JOIN OUT IN INOUT
python3: def elif None lambda except raise isinstance __init__ kwargs nonlocal __name__ self
python2: True False yield pass len dict str cls print elif range
python1: import from class try finally with assert list not and or is in async await args
rust4: fn mut impl pub crate usize isize Vec dyn trait derive macro_rules u8 u16 u32 u64 u128 i8 i16
rust4: i32 i64 i128 f32 f64
rust3: Some Ok Err Self Option Result Box unsafe unwrap match mod let where loop
rust2: use self String ref enum struct str async await as move
c3: typedef NULL __THROW __attribute__ size_t uint8_t uint16_t uint32_t uint64_t int32_t int64_t
c3: __BEGIN_DECLS __END_DECLS __extension__ __restrict __nonnull __wur __inline
c2: extern unsigned sizeof void int char struct static goto register volatile union
c1: long short double float const enum switch case break inline bool printf assert
cpp4: template typename namespace std nullptr noexcept constexpr _GLIBCXX_NOEXCEPT
cpp3: virtual operator explicit friend using decltype _Tp _Alloc __gnu_cxx static_cast dynamic_cast
cpp3: reinterpret_cast const_cast size_type iterator
cpp2: public private protected delete
cpp1: class this new bool inline const auto typedef void
java3: implements throws synchronized Override
java2: public private protected final extends boolean System String package interface instanceof
java1: class void int new null static import
javascript4: function var undefined typeof prototype console exports require
javascript3: module Promise async await
javascript2: this null instanceof export
javascript1: const let new class
go4: func chan defer fmt nil Println
go2: package interface go range struct
shell4: fi esac
shell3: echo unset trap getopts IFS dirname basename elif then
shell2: export local exit shift done sed awk grep eval test
perl4: my sub elsif unless bless undef qw croak wantarray __PACKAGE__ foreach
perl3: our SUPER confess carp scalar defined
perl2: use local die push shift keys ref strict warnings qq exists
sql4: SELECT CREATE RETURNS ALTER GRANT REVOKE IMMUTABLE INSERT PERFORM plpgsql STRICT INOUT
sql3: FROM WHERE TABLE FUNCTION VALUES UPDATE DELETE DROP JOIN SCHEMA EXTENSION COMMENT
sql3: CONSTRAINT VOLATILE STABLE OPERATOR
sql2: LANGUAGE INTO VIEW INDEX ORDER GROUP INTEGER SET TYPE DECLARE CAST TRIGGER EXECUTE
sql2: PROCEDURE SEQUENCE PRIMARY REFERENCES UNION DISTINCT EXISTS PARALLEL SAFE COMMIT
sql1: AS AND OR NOT NULL ON BY IS TEXT CASE WHEN THEN ELSE END BEGIN RETURN REPLACE LIMIT
sql1: DEFAULT KEY LEFT IF
sql2: OUT IN
";

struct Table {
    words: Vec<(&'static str, Word)>,
    slots: Vec<u16>,
}

const SLOTS: usize = 2048;

fn hash(b: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &x in b {
        h = (h ^ x as u32).wrapping_mul(0x0100_0193);
    }
    (h as usize) & (SLOTS - 1)
}

impl Table {
    fn get() -> &'static Table {
        static TABLE: OnceLock<Table> = OnceLock::new();
        TABLE.get_or_init(Table::build)
    }

    fn build() -> Table {
        let mut t = Table { words: Vec::new(), slots: vec![u16::MAX; SLOTS] };
        for line in KEYWORDS.lines() {
            let Some((tag, words)) = line.split_once(':') else { continue };
            for w in words.split_whitespace() {
                let i = t.index_of(w);
                let e = &mut t.words[i].1;
                match tag {
                    "stop" => e.stop = STOP,
                    "weak" => e.stop = e.stop.max(WEAK_STOP),
                    "start" => e.start = true,
                    _ => {
                        let split = tag.find(|c: char| c.is_ascii_digit()).unwrap_or(tag.len());
                        let (name, weight) = tag.split_at(split);
                        let lang = LANGUAGES.iter().position(|l| *l == name);
                        debug_assert!(lang.is_some(), "unknown tag {tag} in KEYWORDS");
                        if let Some(lang) = lang {
                            e.lang[lang] = e.lang[lang].max(weight.parse().unwrap_or(1));
                        }
                    }
                }
            }
        }
        t
    }

    fn index_of(&mut self, w: &'static str) -> usize {
        let mut h = hash(w.as_bytes());
        loop {
            let slot = self.slots[h];
            if slot == u16::MAX {
                self.words.push((w, Word { stop: 0, start: false, lang: [0; NLANG] }));
                self.slots[h] = (self.words.len() - 1) as u16;
                return self.words.len() - 1;
            }
            if self.words[slot as usize].0 == w {
                return slot as usize;
            }
            h = (h + 1) & (SLOTS - 1);
        }
    }

    #[inline]
    fn lookup(&self, w: &[u8]) -> Option<&Word> {
        let mut h = hash(w);
        loop {
            let slot = self.slots[h];
            if slot == u16::MAX {
                return None;
            }
            let (k, e) = &self.words[slot as usize];
            if k.as_bytes() == w {
                return Some(e);
            }
            h = (h + 1) & (SLOTS - 1);
        }
    }
}

// ----------------------------------------------------------------------------------------
// Counting
// ----------------------------------------------------------------------------------------

/// What was seen in one part of the text (outside or inside Markdown fences).
#[derive(Clone, Copy, Default)]
struct Counts {
    lines: u32,
    code: u32,
    prose: u32,
    /// `//` and `/* */` comments.
    comment: u32,
    /// Documentation or data inside code: Python docstrings, POD blocks, here-documents.
    embedded: u32,
    /// Documentation markup lines (see [`is_markup`]) and lines with links or POD codes.
    markup: u32,
    ends_code: u32,
    words: u32,
    stop: f32,
    letters: u32,
    syms: u32,
    ops: u32,
    lang: [f32; NLANG],
}

struct Scanner<'a> {
    table: &'static Table,
    /// Text contains `/*` or `*/`: lines starting with `*` are comment, not list items.
    c_comments: bool,
    in_block_comment: bool,
    /// Text looks like Markdown: `#` lines are headings, not comments.
    markdown: bool,
    in_docstring: bool,
    /// Text has Perl code with POD blocks (`=cut` is seen).
    pod_blocks: bool,
    in_pod: bool,
    /// The here-document or multi-line string we are in, if any.
    open: Option<Open<'a>>,
    /// Number of Markdown fences seen so far; its parity picks the bucket.
    fences: u32,
    buckets: [Counts; 2],
    chars: usize,
}

/// Per-line totals.
#[derive(Default)]
struct Line {
    words: u32,
    strong_stop: u32,
    stop: f32,
    letters: u32,
    syms: u32,
    ops: u32,
    calls: u32,
    idents: u32,
    strings: u32,
    commas: u32,
    /// Where a trailing comment starts.
    code_end: Option<usize>,
    sentence_end: bool,
    lang: [f32; NLANG],
    links: u32,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Symbols that prose rarely uses. Parentheses, `*`, `-`, `#` and quotes are left out: prose
/// uses them too (asides, emphasis, list items, issue numbers).
fn is_code_sym(b: u8) -> bool {
    matches!(
        b,
        b'{' | b'}'
            | b'['
            | b']'
            | b'<'
            | b'>'
            | b'='
            | b';'
            | b'&'
            | b'|'
            | b'+'
            | b'/'
            | b'\\'
            | b'$'
            | b'@'
            | b'%'
            | b'^'
            | b'~'
    )
}

fn find(hay: &str, needle: &str) -> usize {
    hay.find(needle).unwrap_or(usize::MAX)
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        let open = c_comment_mark(text, "/*");
        let close = c_comment_mark(text, "*/");
        let in_docstring = starts_in_docstring(text);
        let cut = find(text, "\n=cut");
        let pod_blocks = cut != usize::MAX;
        let in_pod = pod_blocks && {
            let head = &text[..cut];
            !(head.starts_with('=') || head.contains("\n="))
        };
        Scanner {
            table: Table::get(),
            c_comments: open != usize::MAX || close != usize::MAX,
            open: None,
            in_block_comment: close < open,
            markdown: text.contains("](") || text.contains("```") || text.contains("]: ") || text.contains("\n## "),
            in_docstring,
            pod_blocks,
            in_pod,
            fences: 0,
            buckets: [Counts::default(); 2],
            chars: 0,
        }
    }

    fn line(&mut self, raw: &'a str) {
        let t = raw.trim();
        if t.is_empty() {
            return;
        }
        let b = t.as_bytes();
        self.chars += b.len();
        if b.starts_with(b"```") || b.starts_with(b"~~~") {
            self.buckets[(self.fences & 1) as usize].markup += 1;
            self.fences += 1;
            return;
        }
        let bucket = (self.fences & 1) as usize;
        let c = &mut self.buckets[bucket];
        c.lines += 1;

        // Comments, docstrings and markup: neither code nor prose.
        if self.in_block_comment {
            c.comment += 1;
            if t.contains("*/") {
                self.in_block_comment = t.rfind("/*") > t.rfind("*/");
            }
            return;
        }
        if let Some(open) = self.open {
            c.embedded += 1;
            let done = match open {
                Open::Heredoc(end) => b == end,
                Open::Quote => count_double_quotes(b) % 2 == 1,
                Open::Until(close) => b[0] == close,
            };
            if done {
                self.open = None;
            }
            return;
        }
        if self.pod_blocks && b[0] == b'=' && b.len() > 1 && b[1].is_ascii_lowercase() {
            c.embedded += 1;
            self.in_pod = !b.starts_with(b"=cut");
            return;
        }
        if self.in_pod {
            c.embedded += 1;
            return;
        }
        let quotes = count_triple_quotes(b);
        if self.in_docstring || quotes > 0 {
            let was = self.in_docstring;
            if quotes % 2 == 1 {
                self.in_docstring = !self.in_docstring;
            }
            if was || quotes > 1 || b.starts_with(b"\"\"\"") || b.starts_with(b"'''") {
                c.embedded += 1;
                if !was && quotes > 0 {
                    c.lang[PY] += 1.0;
                }
                return;
            }
            // `x = """...`: code that opens a string; fall through.
        }
        if b.starts_with(b"/*") {
            c.comment += 1;
            self.in_block_comment = t.rfind("/*") > t.rfind("*/");
            return;
        }
        if b.starts_with(b"//")
            || (b[0] == b'*' && self.c_comments && (b.len() == 1 || matches!(b[1], b' ' | b'/' | b'*')))
        {
            c.comment += 1;
            return;
        }
        if b[0] == b'#' {
            if let Some(lang) = preprocessor(b) {
                c.code += 1;
                c.lang[lang] += 2.0;
                if lang == C {
                    c.lang[CPP] += 1.0;
                }
                return;
            }
            // A heading in Markdown; elsewhere a comment in a script, or in a configuration
            // file, or in a change log: it says little either way.
            if self.markdown || b.starts_with(b"## ") {
                c.markup += 1;
            }
            return;
        }
        if b.starts_with(b"--") && (b.len() == 2 || b[2] == b' ' || b[2] == b'-') {
            // An SQL comment, or the signature line of a Debian change log entry.
            return;
        }
        if b[0] == b'\\' && is_psql_command(first_word(&b[1..])) {
            // A psql meta-command: `\echo`, `\set`, `\i file`...
            c.code += 1;
            c.lang[SQL] += 1.0;
            return;
        }
        if is_markup(b) {
            c.markup += 1;
            return;
        }

        let mut l = Line::default();
        let table = self.table;
        scan_words(table, b, &mut l);
        let first = first_word(b);
        let first_entry = table.lookup(first);
        // The last character before any trailing comment.
        let last = match l.code_end {
            Some(e) => b[..e].trim_ascii_end().last().copied().unwrap_or(b' '),
            None => b[b.len() - 1],
        };

        // Points for code.
        let mut code = 0u32;
        let ends_code = matches!(last, b';' | b'{' | b'}');
        if ends_code {
            code += if last == b';' && l.strong_stop > 0 { 1 } else { 3 };
            c.ends_code += 1;
        } else if matches!(last, b'(' | b'[' | b'\\') || b.ends_with(b"=>") || b.ends_with(b"&&") || b.ends_with(b"||")
        {
            code += 2;
        } else if last == b',' && l.strong_stop == 0 && l.words + l.strings + l.idents <= 3 && l.links == 0 {
            // One item per line: arguments, fields, list elements.
            code += 2;
        } else if l.strong_stop == 0
            && ((last == b',' && (l.syms > 0 || l.strings > 0 || l.calls > 0 || l.idents > 0))
                || (last == b')' && l.calls > 0))
        {
            code += 1;
        } else if last == b':' && l.strong_stop == 0 && is_block_keyword(first) {
            code += 3;
            l.lang[PY] += 2.0;
        }
        if is_assignment(b) {
            code += 3;
            if b.starts_with(b"const ") {
                // `const name = ` (C's `const` is followed by a type, then the name).
                l.lang[JS] += 2.0;
            }
            if !matches!(last, b';' | b'{' | b',') && b[0] != b'$' {
                // No semicolon: Python (`x = 1`) or a shell variable (`X=1`).
                let eq = b.iter().position(|&y| y == b'=').unwrap_or(0);
                if eq > 0 && b[eq - 1] == b' ' {
                    l.lang[PY] += 1.0;
                } else {
                    l.lang[SH] += 1.5;
                }
            }
        }
        if l.strong_stop == 0 {
            if first_entry.is_some_and(|e| e.start) {
                code += 2;
            }
            if is_lone_keyword(b) {
                code += 3;
            }
            if matches!(b[0], b'"' | b'\'') && l.words == 0 && matches!(last, b',' | b'+' | b')' | b';' | b'.' | b'\\')
            {
                code += 2;
            }
        }
        if l.code_end.is_some() {
            // Code followed by a comment.
            code += 2;
        }
        code += l.ops.min(3);
        code += l.calls.min(2);
        code += l.idents.min(2);
        let density = l.syms as f32 / (l.letters + l.syms).max(1) as f32;
        if density >= 0.3 {
            code += 2;
        } else if density >= 0.15 {
            code += 1;
        }

        // Points for prose.
        let mut prose = 0u32;
        if l.words >= 6 && l.stop >= 0.2 * l.words as f32 {
            prose += 3;
        } else if l.words >= 3 && l.stop >= 2.0 {
            prose += 2;
        } else if l.words >= 3 && l.stop >= 1.0 {
            prose += 1;
        }
        if l.sentence_end && l.words >= 3 {
            prose += 1;
        }
        if density < 0.05 && l.words >= 5 {
            prose += 1;
        }
        if is_list_item(b) && l.words >= 2 {
            prose += 1;
        }
        if l.commas >= 3 && l.words >= l.commas && l.syms == 0 && l.ops == 0 && l.calls == 0 && l.strings == 0 {
            // A list of names in running text.
            prose += 2;
        }
        if l.links > 0 {
            c.markup += 1;
        }

        c.words += l.words;
        c.stop += l.stop;
        c.letters += l.letters;
        c.syms += l.syms;
        c.ops += l.ops;
        if code >= 2 && code > prose {
            c.code += 1;
            self.open = opens_text(b);
            for (a, x) in c.lang.iter_mut().zip(l.lang.iter()) {
                *a += *x;
            }
        } else if prose >= 2 && prose > code {
            c.prose += 1;
        } else {
            // Undecided lines still tell the language, at half weight.
            for (a, x) in c.lang.iter_mut().zip(l.lang.iter()) {
                *a += 0.5 * *x;
            }
        }
    }

    /// The counts outside Markdown fences, and those inside.
    fn sides(&self) -> (Counts, Counts) {
        let [even, odd] = self.buckets;
        if self.fences == 0 {
            return (even, Counts::default());
        }
        // Which side of the fences is the document? The side that reads more like prose.
        let lean = |c: &Counts| c.prose as f32 - c.code as f32;
        if odd.lines > 0 && (even.lines == 0 || lean(&odd) > lean(&even)) {
            (odd, even)
        } else {
            (even, odd)
        }
    }

    fn features(&self) -> Features {
        let (out, _) = self.sides();
        let lines = out.lines.max(1) as f32;
        let words = out.words.max(1) as f32;
        Features {
            code: out.code as f32 / lines,
            prose: out.prose as f32 / lines,
            ends_code: out.ends_code as f32 / lines,
            stop: if out.words > 0 { out.stop / words } else { 0.0 } * (out.words as f32 / 30.0).min(1.0),
            density: out.syms as f32 / (out.letters + out.syms).max(1) as f32,
            markup: ((out.markup + if self.fences > 0 { self.fences + 1 } else { 0 }) as f32 / lines).min(1.0),
            comment: out.comment as f32 / lines,
            embedded: out.embedded as f32 / lines,
            ops: (out.ops as f32 / lines).min(2.0),
        }
    }

    fn finish(self) -> Detection {
        let mut evidence = Vec::new();
        if self.chars < MIN_CHARS {
            evidence.push(format!("too short: {} non-blank characters", self.chars));
            return Detection { kind: ContentKind::Unknown, language: None, code_score: 0.5, evidence };
        }
        let f = self.features();
        let code_score = 1.0 / (1.0 + (-f.z()).exp());
        let (out, inside) = self.sides();

        if out.lines > 0 {
            evidence.push(format!("{} of {} lines look like code", out.code, out.lines));
            evidence.push(format!("{} of {} lines read as prose", out.prose, out.lines));
            if out.ends_code > 0 {
                evidence.push(format!("{} of {} lines end with ; {{ or }}", out.ends_code, out.lines));
            }
        }
        if out.words > 0 {
            evidence.push(format!(
                "{:.0}% of {} words are English function words",
                100.0 * out.stop / out.words as f32,
                out.words
            ));
        }
        evidence.push(format!("{:.0}% of letters and symbols are code symbols", 100.0 * f.density));
        if out.comment > 0 {
            evidence.push(format!("{} comment lines", out.comment));
        }
        if out.embedded > 0 {
            evidence.push(format!("{} lines of docstrings, POD or here-documents", out.embedded));
        }
        if out.markup > 0 {
            evidence.push(format!("{} documentation markup lines", out.markup));
        }
        if self.fences > 0 {
            evidence
                .push(format!("{} Markdown fences, {} lines of code inside them set aside", self.fences, inside.lines));
        }

        let kind = if (code_score - 0.5).abs() < UNSURE {
            evidence.push("too close to call".to_string());
            ContentKind::Unknown
        } else if code_score >= 0.5 {
            ContentKind::Code
        } else {
            ContentKind::Doc
        };
        let language = if kind == ContentKind::Code { guess_language(&out.lang, &mut evidence) } else { None };
        Detection { kind, language, code_score, evidence }
    }
}

/// The text-level features that the score weighs, each a share of the lines outside Markdown
/// fences unless said otherwise.
#[derive(Debug, Clone, Copy)]
struct Features {
    /// Lines classified as code.
    code: f32,
    /// Lines classified as prose.
    prose: f32,
    /// Lines ending with `;`, `{` or `}`.
    ends_code: f32,
    /// Share of words that are English function words, scaled down below 30 words.
    stop: f32,
    /// Code symbols per letter-or-symbol.
    density: f32,
    /// Documentation markup lines and fences (capped at 1).
    markup: f32,
    /// `//` and `/* */` comment lines.
    comment: f32,
    /// Docstring, POD and here-document lines.
    embedded: f32,
    /// Operators per line (capped at 2).
    ops: f32,
}

impl Features {
    fn z(&self) -> f32 {
        BIAS + WEIGHTS.code * self.code
            + WEIGHTS.prose * self.prose
            + WEIGHTS.ends_code * self.ends_code
            + WEIGHTS.stop * self.stop
            + WEIGHTS.density * self.density
            + WEIGHTS.markup * self.markup
            + WEIGHTS.comment * self.comment
            + WEIGHTS.embedded * self.embedded
            + WEIGHTS.ops * self.ops
    }

    fn to_vec(self) -> Vec<(&'static str, f32)> {
        vec![
            ("code", self.code),
            ("prose", self.prose),
            ("ends_code", self.ends_code),
            ("stop", self.stop),
            ("density", self.density),
            ("markup", self.markup),
            ("comment", self.comment),
            ("embedded", self.embedded),
            ("ops", self.ops),
        ]
    }
}

const BIAS: f32 = -1.3;
const WEIGHTS: Features = Features {
    code: 5.7,
    prose: -4.0,
    ends_code: 1.6,
    stop: -1.3,
    density: 0.7,
    markup: -2.5,
    comment: 1.5,
    embedded: 1.2,
    ops: 0.4,
};

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

/// Where `mark` (`/*` or `*/`) first appears as a C comment marker rather than in a path
/// such as `java/*`.
fn c_comment_mark(text: &str, mark: &str) -> usize {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find(mark) {
        let at = from + i;
        let ok = if mark == "/*" {
            at == 0 || !b[at - 1].is_ascii_alphanumeric()
        } else {
            at + 2 >= b.len() || !b[at + 2].is_ascii_alphanumeric()
        };
        if ok {
            return at;
        }
        from = at + 2;
    }
    usize::MAX
}

/// Does the text start inside a Python docstring? Yes when its first line with triple quotes
/// closes one: the quotes end a line of text, or stand alone after a line that does not open
/// a block (`def f():`) or an expression (`x = (`).
fn starts_in_docstring(text: &str) -> bool {
    let tq = find(text, "\"\"\"").min(find(text, "'''"));
    if tq == usize::MAX {
        return false;
    }
    let quote = &text[tq..tq + 3];
    let start = text[..tq].rfind('\n').map_or(0, |i| i + 1);
    let end = text[tq..].find('\n').map_or(text.len(), |i| tq + i);
    let line = text[start..end].trim();
    if line.len() > 3 {
        return line.ends_with(quote) && !line.starts_with(quote) && !line.contains('=') && !line.contains('(');
    }
    if line != quote {
        return false;
    }
    match text[..start].lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        Some(prev) => !(prev.ends_with(':') || prev.ends_with('=') || prev.ends_with('(') || prev.ends_with(',')),
        // The text starts with the quotes: they close a docstring if code follows them.
        None => text[end..].lines().map(str::trim).find(|l| !l.is_empty()).is_some_and(looks_like_python),
    }
}

/// A cheap guess that a line is Python code rather than docstring text.
fn looks_like_python(line: &str) -> bool {
    const STARTS: [&str; 14] = [
        "def ", "class ", "if ", "for ", "while ", "return", "import ", "from ", "with ", "global ", "try:", "raise ",
        "@", "yield",
    ];
    STARTS.iter().any(|s| line.starts_with(s)) || line.contains(" = ") || line.ends_with(':') || line.ends_with(')')
}

/// `name(3)`, `name(3perl)`, `name(1ssl)`: a manual page named in prose.
fn is_man_ref(b: &[u8]) -> bool {
    b.len() >= 3
        && b[0] == b'('
        && b[1].is_ascii_digit()
        && b[2..].iter().take_while(|x| x.is_ascii_alphanumeric()).count() <= 5
        && b[2..].iter().find(|x| !x.is_ascii_alphanumeric()) == Some(&b')')
}

/// Text that code opens and a later line closes.
#[derive(Clone, Copy)]
enum Open<'a> {
    /// A here-document and the word that ends it.
    Heredoc(&'a [u8]),
    /// A double-quoted string that runs over several lines.
    Quote,
    /// Perl's `qq{`, ended by a line that starts with `}`.
    Until(u8),
}

fn opens_text(b: &[u8]) -> Option<Open<'_>> {
    if let Some(end) = heredoc_end(b) {
        return Some(Open::Heredoc(end));
    }
    if b.ends_with(b"qq{") || b.ends_with(b"q{") {
        return Some(Open::Until(b'}'));
    }
    if count_triple_quotes(b) == 0 && count_double_quotes(b) % 2 == 1 {
        return Some(Open::Quote);
    }
    None
}

/// Double quotes that open or close a string: not escaped, not the character `'"'`.
fn count_double_quotes(b: &[u8]) -> usize {
    let mut n = 0;
    for i in 0..b.len() {
        if b[i] == b'"'
            && (i == 0 || b[i - 1] != b'\\')
            && !(i > 0 && b[i - 1] == b'\'' && b.get(i + 1) == Some(&b'\''))
        {
            n += 1;
        }
    }
    n
}

/// `cat <<EOF`, `<<'END'`, `<<-EOT`, `print <<"EOS";`: the word that ends the here-document.
fn heredoc_end(b: &[u8]) -> Option<&[u8]> {
    let at = b.windows(3).position(|w| w[0] == b' ' && w[1] == b'<' && w[2] == b'<')? + 3;
    let mut i = at;
    if matches!(b.get(i), Some(b'-' | b'~')) {
        i += 1;
    }
    let quoted = matches!(b.get(i), Some(b'\'' | b'"'));
    if quoted {
        i += 1;
    }
    let s = i;
    while i < b.len() && (b[i].is_ascii_uppercase() || b[i] == b'_' || b[i].is_ascii_digit()) {
        i += 1;
    }
    let word = &b[s..i];
    let ends_word = i == b.len() || !is_ident(b[i]);
    (word.len() >= 2 && word[0].is_ascii_uppercase() && ends_word).then_some(word)
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

fn count_triple_quotes(b: &[u8]) -> usize {
    if b.len() < 3 {
        return 0;
    }
    let mut n = 0;
    let mut i = 0;
    while i + 2 < b.len() {
        if (b[i] == b'"' || b[i] == b'\'') && b[i + 1] == b[i] && b[i + 2] == b[i] {
            n += 1;
            i += 3;
        } else {
            i += 1;
        }
    }
    n
}

fn guess_language(points: &[f32; NLANG], evidence: &mut Vec<String>) -> Option<&'static str> {
    let mut best = 0;
    let mut second = 0.0f32;
    for i in 1..NLANG {
        if points[i] > points[best] {
            second = points[best];
            best = i;
        } else if points[i] > second {
            second = points[i];
        }
    }
    let top = points[best];
    if top >= 3.0 && top >= 1.25 * second {
        evidence.push(format!("{:.0} keyword points for {} (next best {:.0})", top, LANGUAGES[best], second));
        Some(LANGUAGES[best])
    } else {
        None
    }
}

/// `#include`, `#define`... (C), `#[...]` (Rust), `#!` (a script).
fn preprocessor(b: &[u8]) -> Option<usize> {
    if b.starts_with(b"#!") {
        if b.starts_with(b"#![") {
            return Some(RS);
        }
        let interp = b.rsplit(|&x| x == b'/' || x == b' ').next().unwrap_or(b"");
        return Some(if interp.starts_with(b"python") {
            PY
        } else if interp.starts_with(b"perl") {
            PERL
        } else if interp.starts_with(b"node") {
            JS
        } else {
            SH
        });
    }
    if b.starts_with(b"#[") {
        return Some(RS);
    }
    let rest = b[1..].trim_ascii_start();
    const DIRECTIVES: [&[u8]; 11] =
        [b"include", b"define", b"ifdef", b"ifndef", b"if ", b"endif", b"else", b"elif", b"undef", b"pragma", b"error"];
    if DIRECTIVES.iter().any(|d| rest.starts_with(d)) {
        return Some(C);
    }
    None
}

/// Documentation markup that is neither code nor prose.
fn is_markup(b: &[u8]) -> bool {
    // reStructuredText directive, comment or target.
    if b.starts_with(b".. ") {
        return true;
    }
    // Interactive session (doctest).
    if b.starts_with(b">>>") {
        return true;
    }
    // POD command paragraph.
    if b[0] == b'=' && b.len() > 1 && b[1].is_ascii_lowercase() {
        return true;
    }
    // Table row, or a table drawn with box characters (U+2500 to U+257F).
    if b[0] == b'|' && b.len() > 1 && *b.last().unwrap_or(&0) == b'|' {
        return true;
    }
    if b.len() >= 3 && b[0] == 0xE2 && (b[1] == 0x94 || b[1] == 0x95) {
        return true;
    }
    // Heading underline, horizontal rule, table border: `=====`, `+----+----+`.
    if b.len() >= 3
        && matches!(b[0], b'=' | b'-' | b'~' | b'^' | b'*' | b'+')
        && b.iter().all(|&x| matches!(x, b'=' | b'-' | b'~' | b'^' | b'*' | b'+' | b'|' | b' ' | b':') || x == b[0])
        && b.iter().filter(|&&x| x == b[0]).count() >= 3
    {
        return true;
    }
    // Markdown link reference definition: `[name]: target`.
    if b[0] == b'[' && b.windows(3).any(|w| w == b"]: ") {
        return true;
    }
    // HTML in a README: `<a href=...>`, `</td>`, `<!-- ... -->`, `<img`.
    if b[0] == b'<' && b.len() > 2 && (b[1].is_ascii_lowercase() || b[1] == b'/' || b[1] == b'!') && !b.contains(&b';')
    {
        return true;
    }
    false
}

fn first_word(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&x| !is_ident(x)).unwrap_or(b.len());
    &b[..end]
}

fn is_psql_command(w: &[u8]) -> bool {
    matches!(
        w,
        b"echo"
            | b"quit"
            | b"q"
            | b"set"
            | b"unset"
            | b"i"
            | b"ir"
            | b"c"
            | b"connect"
            | b"gset"
            | b"if"
            | b"elif"
            | b"else"
            | b"endif"
            | b"pset"
            | b"timing"
            | b"x"
            | b"copy"
            | b"o"
            | b"d"
            | b"dt"
            | b"df"
    )
}

fn is_block_keyword(w: &[u8]) -> bool {
    matches!(
        w,
        b"def"
            | b"class"
            | b"if"
            | b"elif"
            | b"else"
            | b"for"
            | b"while"
            | b"try"
            | b"except"
            | b"finally"
            | b"with"
            | b"async"
    )
}

/// A line that is only a block keyword: `fi`, `done`, `else`, `end`, `esac`, `then`, `do`...
fn is_lone_keyword(b: &[u8]) -> bool {
    matches!(
        b,
        b"fi"
            | b"done"
            | b"esac"
            | b"then"
            | b"do"
            | b"else"
            | b"end"
            | b"END"
            | b"break"
            | b"continue"
            | b"return"
            | b"pass"
            | b"else:"
            | b"try:"
            | b"finally:"
            | b"BEGIN"
            | b"END;"
            | b";;"
    )
}

fn is_list_item(b: &[u8]) -> bool {
    if b.len() > 2 && matches!(b[0], b'-' | b'*' | b'+') && b[1] == b' ' {
        return true;
    }
    let digits = b.iter().take_while(|x| x.is_ascii_digit()).count();
    digits > 0 && digits < 3 && b.len() > digits + 1 && matches!(b[digits], b'.' | b')') && b[digits + 1] == b' '
}

/// `x = `, `self.x += `, `my $x = `, `let mut x: T = `, `FOO=bar`, `a[i] = `.
fn is_assignment(b: &[u8]) -> bool {
    let mut i = 0;
    for kw in
        [&b"my "[..], b"our ", b"local ", b"let mut ", b"let ", b"const ", b"var ", b"export ", b"static ", b"auto "]
    {
        if b.starts_with(kw) {
            i = kw.len();
            break;
        }
    }
    if i < b.len() && matches!(b[i], b'$' | b'@' | b'%') {
        i += 1;
    }
    if i >= b.len() || !is_ident_start(b[i]) {
        return false;
    }
    while i < b.len() {
        let x = b[i];
        if is_ident(x) || x == b'.' {
            i += 1;
        } else if x == b'[' {
            match b[i..].iter().position(|&y| y == b']') {
                Some(j) => i += j + 1,
                None => return false,
            }
        } else if x == b'-' && b.get(i + 1) == Some(&b'>') {
            i += 2;
        } else {
            break;
        }
    }
    // Optional type annotation: `x: int = `, `let x: u32 = `.
    if i < b.len() && b[i] == b':' && b.get(i + 1) == Some(&b' ') {
        let rest = &b[i + 2..];
        let stop = rest.iter().position(|&y| y == b'=' || y == b' ').unwrap_or(rest.len());
        let after = rest[stop..].trim_ascii_start();
        if after.first() != Some(&b'=') {
            return false;
        }
        i = b.len() - after.len();
    }
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    let rest = &b[i..];
    match rest {
        [b'=', b'=', ..] | [b'=', b'>', ..] | [b'=', b'~', ..] => false,
        [b'=', ..] => true,
        [op, b'=', ..] if b"+-*/|&.:^%".contains(op) => true,
        [b'|', b'|', b'=', ..] | [b'/', b'/', b'=', ..] | [b'<', b'<', b'=', ..] | [b'>', b'>', b'=', ..] => true,
        _ => false,
    }
}

fn scan_words(table: &Table, b: &[u8], l: &mut Line) {
    let n = b.len();
    let mut i = 0;
    while i < n {
        let x = b[i];
        if is_ident_start(x) {
            let s = i;
            let mut alpha = true;
            let mut underscore = false;
            let mut camel = false;
            let mut prev_lower = false;
            let w0_lower = x.is_ascii_lowercase();
            while i < n && is_ident(b[i]) {
                let y = b[i];
                if y == b'_' {
                    underscore = true;
                    alpha = false;
                } else if y.is_ascii_digit() {
                    alpha = false;
                } else if y.is_ascii_uppercase() && prev_lower && w0_lower {
                    // `getValue`, not `PostgreSQL` or `GitHub`.
                    camel = true;
                }
                prev_lower = y.is_ascii_lowercase();
                i += 1;
            }
            let w = &b[s..i];
            // A URL is one link, whatever its punctuation.
            if b[i..].starts_with(b"://") {
                while i < n && !matches!(b[i], b' ' | b')' | b'>' | b']' | b'"' | b'\'' | b'`') {
                    i += 1;
                }
                l.links += 1;
                l.words += 1;
                l.letters += 4;
                continue;
            }
            let next = if i < n { b[i] } else { b' ' };
            let prev = if s > 0 { b[s - 1] } else { b' ' };
            l.letters += w.len() as u32;
            if alpha {
                l.words += 1;
            }
            if (underscore && w.len() > 1 && w != b"__") || camel {
                l.idents += 1;
            }
            // `name(x` is a call; `name()` and `name(3)` are how prose names a function.
            if next == b'(' && i + 1 < n && !b[i + 1].is_ascii_digit() && !matches!(b[i + 1], b' ' | b')') {
                l.calls += 1;
            }
            if next == b'(' && is_man_ref(&b[i..]) {
                l.links += 1;
            }
            if prev == b'.' && s >= 2 && is_ident(b[s - 2]) && w.len() > 1 && !(s >= 3 && b[s - 3] == b'.') {
                l.idents += 1;
            }
            if w.len() == 1 && next == b'<' && matches!(w[0], b'C' | b'B' | b'I' | b'L' | b'F' | b'E' | b'S' | b'X') {
                // POD formatting code.
                l.links += 1;
            }
            let (stop, lang) = match table.lookup(w) {
                Some(e) => (e.stop, Some(&e.lang)),
                None => {
                    let mut stop = 0;
                    if w.len() > 1
                        && w.len() <= 16
                        && w[0].is_ascii_uppercase()
                        && (w[1..].iter().all(u8::is_ascii_lowercase) || w[1..].iter().all(u8::is_ascii_uppercase))
                    {
                        // A capitalised function word ("The", "THE") counts; a keyword does not.
                        let mut buf = [0u8; 16];
                        buf[..w.len()].copy_from_slice(w);
                        buf.make_ascii_lowercase();
                        stop = table.lookup(&buf[..w.len()]).map_or(0, |e| e.stop);
                    }
                    if w.starts_with(b"_GLIBCXX") || w.starts_with(b"_M_") {
                        l.lang[CPP] += 3.0;
                    } else if w.starts_with(b"__") {
                        l.lang[C] += 1.0;
                        l.lang[CPP] += 1.0;
                    }
                    (stop, None)
                }
            };
            match stop {
                STOP => {
                    l.stop += 1.0;
                    l.strong_stop += 1;
                }
                WEAK_STOP => l.stop += 0.5,
                _ => {}
            }
            if let Some(lang) = lang {
                for (a, &p) in l.lang.iter_mut().zip(lang.iter()) {
                    *a += p as f32;
                }
            }
            continue;
        }
        if x.is_ascii_digit() {
            while i < n && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            continue;
        }
        if x == b'`' {
            // Inline code in Markdown or reStructuredText: one word, unless a template string.
            if let Some(j) = b[i + 1..].iter().position(|&y| y == b'`') {
                let span = &b[i + 1..i + 1 + j];
                if !span.windows(2).any(|w| w == b"${") {
                    l.words += 1;
                    l.letters += span.len() as u32;
                    i += j + 2;
                    while i < n && b[i] == b'`' {
                        i += 1;
                    }
                    continue;
                }
            }
            i += 1;
            continue;
        }
        if x == b'"' || (x == b'\'' && (i == 0 || !b[i - 1].is_ascii_alphanumeric())) {
            // A string literal or a quotation: its words say little about what holds it.
            let close = b[i + 1..].iter().position(|&y| y == x).map(|j| i + 1 + j);
            if let Some(j) = close {
                if x == b'"' || j + 1 >= n || !b[j + 1].is_ascii_alphanumeric() {
                    l.strings += 1;
                    i = j + 1;
                    continue;
                }
            }
            i += 1;
            continue;
        }
        let next = if i + 1 < n { b[i + 1] } else { b' ' };
        // A trailing comment: the rest of the line says nothing about the code.
        if x == b'/' && matches!(next, b'/' | b'*') && i > 0 && b[i - 1] == b' ' {
            l.code_end = Some(i);
            return;
        }
        if x == b'#'
            && i > 0
            && b[i - 1] == b' '
            && (next == b' ' || next == b'#')
            && (l.syms > 0 || l.strings > 0 || l.words == 0)
        {
            l.code_end = Some(i);
            return;
        }
        if matches!(x, b'.' | b'!' | b'?')
            && (i + 1 == n || (next == b' ' && i + 2 < n && b[i + 2].is_ascii_uppercase()))
            && i > 0
            && (b[i - 1].is_ascii_lowercase() || b[i - 1] == b')')
        {
            l.sentence_end = true;
        }
        if x == b'@' && i > 0 && is_ident(b[i - 1]) {
            // An e-mail address.
            i += 1;
            continue;
        }
        // `/` between letters or digits is a path or "and/or" as often as a division.
        let path = x == b'/' && i > 0 && b[i - 1].is_ascii_alphanumeric() && next.is_ascii_alphanumeric();
        if is_code_sym(x) && !path {
            l.syms += 1;
        }
        if x == b',' && next == b' ' {
            l.commas += 1;
        }
        let pair = [x, next];
        let op = match &pair {
            b"==" | b"!=" | b"->" | b"=>" | b"&&" | b"||" | b"+=" | b"-=" | b"<=" | b">=" | b":=" | b"<<" | b">>"
            | b"${" | b"$(" | b"@{" | b"%{" | b"=~" | b"@_" | b"$_" => true,
            // `i++;` and `++i`, not "C++".
            b"++" => matches!(b.get(i + 2), Some(b';' | b')')) || b.get(i + 2).is_some_and(|&y| is_ident_start(y)),
            // `std::vec`, `Vec::new`, not `Encode::Unicode` (a module named in prose).
            b"::" => !b.get(i + 2).is_some_and(u8::is_ascii_uppercase),
            _ => false,
        };
        if op {
            l.ops += 1;
            l.syms += 1;
            match &pair {
                b"::" => {
                    l.lang[RS] += 0.5;
                    l.lang[CPP] += 0.5;
                    l.lang[PERL] += 0.3;
                }
                b":=" => l.lang[GO] += 1.0,
                b"==" | b"!=" if b.get(i + 2) == Some(&b'=') => l.lang[JS] += 2.0,
                b"=>" => {
                    l.lang[JS] += 1.0;
                    l.lang[RS] += 0.5;
                    l.lang[PERL] += 0.5;
                }
                b"${" | b"$(" => l.lang[SH] += 1.0,
                b"=~" | b"@_" | b"$_" | b"@{" | b"%{" => l.lang[PERL] += 2.0,
                b"->" => {
                    if i + 2 < n && matches!(b[i + 2], b'{' | b'[') {
                        l.lang[PERL] += 2.0;
                    } else {
                        l.lang[C] += 0.3;
                        l.lang[CPP] += 0.3;
                        l.lang[RS] += 0.3;
                    }
                }
                _ => {}
            }
            i += 2;
            continue;
        }
        if x == b'*' && i >= 2 && b[i - 1] == b' ' && is_ident(b[i - 2]) && is_ident_start(next) {
            // `char *name`: a C pointer declaration.
            l.lang[C] += 1.0;
            l.lang[CPP] += 0.7;
        }
        if x == b'$' && i + 1 < n && is_ident_start(next) {
            l.lang[PERL] += 0.7;
            l.lang[SH] += 0.5;
        }
        if x == b']' && next == b'(' {
            l.links += 1;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One line of code and one of prose, weighing about the same (score 0.51). If the weights
    /// change, find another such text.
    const UNSURE_EXAMPLE: &str =
        "total = count + 1;\nThe total is kept for the whole session and is reset on the next call to it.\n";

    fn kind(text: &str) -> ContentKind {
        detect(text).kind
    }

    #[test]
    fn empty_and_short_are_unknown() {
        assert_eq!(kind(""), ContentKind::Unknown);
        assert_eq!(kind("   \n\n  "), ContentKind::Unknown);
        assert_eq!(kind("x = 1"), ContentKind::Unknown);
        assert_eq!(kind("Hello there."), ContentKind::Unknown);
        assert!(detect("ok").evidence[0].starts_with("too short"));
    }

    #[test]
    fn rust_is_code() {
        let d = detect(
            "pub fn pool(values: &[f32]) -> Vec<f32> {\n    let mut out = Vec::with_capacity(values.len());\n    for v in values {\n        out.push(v * 2.0);\n    }\n    out\n}\n",
        );
        assert_eq!(d.kind, ContentKind::Code);
        assert_eq!(d.language, Some("rust"));
        assert!(d.code_score > 0.9, "{d:?}");
        assert!(d.evidence.iter().any(|e| e.contains("end with ; { or }")), "{:?}", d.evidence);
    }

    #[test]
    fn python_is_code() {
        let d = detect(
            "def mean(values):\n    if not values:\n        return None\n    total = sum(values)\n    return total / len(values)\n",
        );
        assert_eq!(d.kind, ContentKind::Code);
        assert_eq!(d.language, Some("python"));
    }

    #[test]
    fn c_is_code() {
        let d = detect(
            "#include <stdio.h>\n\nstatic int count_lines(const char *s)\n{\n    int n = 0;\n    while (*s)\n        if (*s++ == '\\n')\n            n++;\n    return n;\n}\n",
        );
        assert_eq!(d.kind, ContentKind::Code);
        assert_eq!(d.language, Some("c"));
    }

    #[test]
    fn shell_is_code() {
        let d = detect(
            "#!/bin/sh\nset -e\nfor f in \"$@\"; do\n    if [ -f \"$f\" ]; then\n        echo \"$f\"\n    fi\ndone\n",
        );
        assert_eq!(d.kind, ContentKind::Code);
        assert_eq!(d.language, Some("shell"));
    }

    #[test]
    fn sql_is_code() {
        let d = detect(
            "CREATE FUNCTION add_one(integer) RETURNS integer\n    AS 'SELECT $1 + 1'\n    LANGUAGE SQL IMMUTABLE STRICT;\n\nSELECT add_one(41);\n",
        );
        assert_eq!(d.kind, ContentKind::Code);
        assert_eq!(d.language, Some("sql"));
    }

    #[test]
    fn perl_is_code() {
        let d = detect("sub greet {\n    my ($self, $name) = @_;\n    return unless defined $name;\n    print \"hello $name\\n\";\n}\n");
        assert_eq!(d.kind, ContentKind::Code);
        assert_eq!(d.language, Some("perl"));
    }

    #[test]
    fn prose_is_doc() {
        let d = detect(
            "The extension computes embeddings inside the database. Each backend loads the model the\nfirst time it is needed, and keeps it until the memory limit says otherwise. You can\nchange the model with a setting, which takes effect for new sessions only.\n",
        );
        assert_eq!(d.kind, ContentKind::Doc);
        assert_eq!(d.language, None);
        assert!(d.code_score < 0.1, "{d:?}");
    }

    #[test]
    fn markdown_with_a_fenced_block_is_doc() {
        let d = detect(
            "## Getting started\n\nInstall the extension, then create it in the database where you want\nto use it. The function takes a text and returns a vector:\n\n```sql\nCREATE EXTENSION pg_embed;\nSELECT embed_doc('hello world');\nSELECT count(*) FROM items WHERE embedding IS NULL;\n```\n\nThe first call in a session is slower because the model is loaded then.\n",
        );
        assert_eq!(d.kind, ContentKind::Doc, "{d:?}");
        assert!(d.evidence.iter().any(|e| e.contains("fences")));
    }

    #[test]
    fn snippet_starting_inside_a_fence_is_doc() {
        let d = detect(
            "    let x = compute(&input)?;\n    println!(\"{x}\");\n```\n\nThe question mark returns early when the computation fails, which is why the\nfunction itself has to return a result. See the chapter on errors for the details\nof how the conversion between error types works.\n",
        );
        assert_eq!(d.kind, ContentKind::Doc, "{d:?}");
    }

    #[test]
    fn a_lone_fenced_block_is_code() {
        let d = detect("```rust\nfn main() {\n    let v = vec![1, 2, 3];\n    println!(\"{}\", v.len());\n}\n```\n");
        assert_eq!(d.kind, ContentKind::Code, "{d:?}");
        assert_eq!(d.language, Some("rust"));
    }

    #[test]
    fn commented_code_is_code() {
        let d = detect(
            "/*\n * Returns the number of entries in the cache that are older than the\n * given age, so that the caller can decide whether to evict them.\n */\nstatic size_t count_old(const struct cache *c, time_t age)\n{\n    size_t n = 0;\n    for (size_t i = 0; i < c->len; i++)\n        n += c->items[i].stamp < age;\n    return n;\n}\n",
        );
        assert_eq!(d.kind, ContentKind::Code, "{d:?}");
    }

    #[test]
    fn changelog_is_doc() {
        let d = detect(
            "pg-embed (0.2.0-1) unstable; urgency=medium\n\n  * New upstream release.\n  * Build against the newer runtime, which fixes a crash on start-up.\n  * Drop the patch for the test suite; it was merged upstream.\n\n -- Jane Doe <jane@example.org>  Tue, 25 Nov 2025 10:00:00 +0000\n",
        );
        assert_eq!(d.kind, ContentKind::Doc, "{d:?}");
    }

    #[test]
    fn man_page_text_is_doc() {
        let d = detect(
            "OPTIONS\n       -v, --verbose\n              Print the name of each file as it is processed, and a summary of\n              the work done at the end.\n\n       -n, --dry-run\n              Show what would be done, but do not change any file.\n",
        );
        assert_eq!(d.kind, ContentKind::Doc, "{d:?}");
    }

    #[test]
    fn javascript_go_java_and_cpp_are_named() {
        let js = detect(
            "const path = require('path');\n\nfunction resolve(base, name) {\n  if (name === undefined) {\n    return null;\n  }\n  return path.join(base, name);\n}\n",
        );
        assert_eq!((js.kind, js.language), (ContentKind::Code, Some("javascript")), "{js:?}");
        let go = detect(
            "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tnames := []string{\"a\", \"b\"}\n\tfor _, n := range names {\n\t\tfmt.Println(n)\n\t}\n}\n",
        );
        assert_eq!((go.kind, go.language), (ContentKind::Code, Some("go")), "{go:?}");
        let java = detect(
            "public class Greeter implements Runnable {\n    private final String name;\n\n    @Override\n    public void run() {\n        System.out.println(\"hello \" + name);\n    }\n}\n",
        );
        assert_eq!((java.kind, java.language), (ContentKind::Code, Some("java")), "{java:?}");
        let cpp = detect(
            "namespace util {\ntemplate <typename T>\nstd::vector<T> twice(const std::vector<T>& v) {\n    std::vector<T> out(v);\n    out.insert(out.end(), v.begin(), v.end());\n    return out;\n}\n}\n",
        );
        assert_eq!((cpp.kind, cpp.language), (ContentKind::Code, Some("cpp")), "{cpp:?}");
    }

    #[test]
    fn restructured_text_with_examples_is_doc() {
        let d = detect(
            "Reading files\n-------------\n\nThe :func:`open` function returns a file object, which is most commonly\nused with two arguments. For example::\n\n   with open('workfile', encoding='utf-8') as f:\n       data = f.read()\n\n>>> f.closed\nTrue\n\nIt is good practice to use the :keyword:`with` keyword when dealing with\nfile objects.\n",
        );
        assert_eq!(d.kind, ContentKind::Doc, "{d:?}");
        assert!(d.evidence.iter().any(|e| e.contains("markup")), "{:?}", d.evidence);
    }

    #[test]
    fn pod_is_doc_but_perl_with_pod_is_code() {
        let pod = detect(
            "=head1 DESCRIPTION\n\nThis module reads the configuration file and returns a hash of the settings\nthat it finds. See L<perlfunc/open> for the details of how files are opened.\n\n    my %conf = read_config($file);\n\n=cut\n",
        );
        assert_eq!(pod.kind, ContentKind::Doc, "{pod:?}");
        let module = detect(
            "=head2 read_config\n\nReturns the settings as a hash reference.\n\n=cut\n\nsub read_config {\n    my ($file) = @_;\n    open(my $fh, '<', $file) or die \"cannot open $file: $!\";\n    my %conf;\n    while (my $line = <$fh>) {\n        next if $line =~ /^#/;\n        $conf{$1} = $2 if $line =~ /^(\\w+)\\s*=\\s*(.*)$/;\n    }\n    return \\%conf;\n}\n",
        );
        assert_eq!((module.kind, module.language), (ContentKind::Code, Some("perl")), "{module:?}");
    }

    #[test]
    fn python_snippet_that_starts_inside_a_docstring_is_code() {
        let d = detect(
            "    The result is cached, so later calls are cheap and the file is read\n    only once per process.\n    \"\"\"\n    if path in _cache:\n        return _cache[path]\n    with open(path) as f:\n        value = f.read()\n    _cache[path] = value\n    return value\n",
        );
        assert_eq!((d.kind, d.language), (ContentKind::Code, Some("python")), "{d:?}");
        assert!(d.evidence.iter().any(|e| e.contains("docstrings")), "{:?}", d.evidence);
    }

    #[test]
    fn shell_with_a_here_document_is_code() {
        let d = detect(
            "if [ $# -lt 1 ]; then\n    cat >&2 <<EOF\nUsage: $0 FILE\n\nThis script copies the file to the backup directory and keeps the\nlast seven copies, deleting older ones.\nEOF\n    exit 1\nfi\ncp \"$1\" \"$BACKUP_DIR/\"\n",
        );
        assert_eq!((d.kind, d.language), (ContentKind::Code, Some("shell")), "{d:?}");
    }

    #[test]
    fn manual_page_references_and_urls_are_not_code() {
        let d = detect(
            "SEE ALSO\n       malloc(3), free(3), mmap(2), proc(5)\n\n       The project's home page is https://example.org/projects/alloc/index.html and\n       the mailing list archive is at https://lists.example.org/alloc/.\n",
        );
        assert_eq!(d.kind, ContentKind::Doc, "{d:?}");
    }

    #[test]
    fn a_table_of_names_with_no_verbs_is_not_forced_to_code() {
        let d = detect(
            "NAME\n       pg_embed - embeddings inside PostgreSQL\n\nDESCRIPTION\n       Computes vectors for texts.\n",
        );
        assert_eq!(d.kind, ContentKind::Doc, "{d:?}");
    }

    #[test]
    fn a_text_split_down_the_middle_is_unknown() {
        let d = detect(UNSURE_EXAMPLE);
        assert_eq!(d.kind, ContentKind::Unknown, "{d:?}");
        assert!((d.code_score - 0.5).abs() < UNSURE);
        assert!(d.evidence.iter().any(|e| e == "too close to call"));
    }

    #[test]
    fn is_deterministic_and_labels_are_stable() {
        let text = "fn main() { println!(\"hi\"); }\nfn other() { let x = 1; }\n";
        assert_eq!(detect(text), detect(text));
        assert_eq!(ContentKind::Code.as_str(), "code");
        assert_eq!(ContentKind::Doc.as_str(), "doc");
        assert_eq!(ContentKind::Unknown.as_str(), "unknown");
    }

    #[test]
    fn long_text_is_clipped_on_a_line_boundary() {
        let text = "The cache keeps the most recently used models and drops the others.\n".repeat(1000);
        let d = detect(&text);
        assert_eq!(d.kind, ContentKind::Doc);
        assert_eq!(clip("ab\ncd", 4), "ab");
        assert_eq!(clip("é", 1), "");
    }

    #[test]
    fn assignments() {
        assert!(is_assignment(b"x = 1"));
        assert!(is_assignment(b"self.items[i] += 2"));
        assert!(is_assignment(b"my $name = shift;"));
        assert!(is_assignment(b"let mut total: u32 = 0;"));
        assert!(is_assignment(b"PATH=/usr/bin:$PATH"));
        assert!(!is_assignment(b"if x == 1:"));
        assert!(!is_assignment(b"The value = 3 here"));
        assert!(!is_assignment(b"--keyring=KEYRING"));
    }
}
