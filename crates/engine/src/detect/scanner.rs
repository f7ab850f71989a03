//! The one pass over a text: each line is counted as code, prose, or set aside, into the
//! bucket outside or inside Markdown fences, and the counts become the verdict.

use super::language::{guess_language, Table};
use super::lines::{
    first_word, is_assignment, is_block_keyword, is_list_item, is_lone_keyword, is_psql_command, preprocessor,
};
use super::score::Features;
use super::set_aside::{
    c_comment_mark, count_double_quotes, count_triple_quotes, find, is_markup, opens_text, starts_in_docstring, Open,
};
use super::words::{scan_words, Line};
use super::{ContentKind, Detection, C, CPP, JS, MIN_CHARS, NLANG, PY, SH, SQL, UNSURE};

/// What was seen in one part of the text (outside or inside Markdown fences).
#[derive(Clone, Copy, Default)]
pub(super) struct Counts {
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
    pub(super) lang: [f32; NLANG],
}

pub(super) struct Scanner<'a> {
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
impl<'a> Scanner<'a> {
    pub(super) fn new(text: &'a str) -> Self {
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

    pub(super) fn line(&mut self, raw: &'a str) {
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
    pub(super) fn sides(&self) -> (Counts, Counts) {
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

    pub(super) fn features(&self) -> Features {
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

    pub(super) fn finish(self) -> Detection {
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
