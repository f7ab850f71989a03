//! The scan of one line, word by word and symbol by symbol, into per-line totals: function
//! words, keyword points, operators, calls, identifiers, strings, links and trailing comments.

use super::language::{Table, STOP, WEAK_STOP};
use super::{C, CPP, GO, JS, NLANG, PERL, RS, SH};

/// Per-line totals.
#[derive(Default)]
pub(super) struct Line {
    pub(super) words: u32,
    pub(super) strong_stop: u32,
    pub(super) stop: f32,
    pub(super) letters: u32,
    pub(super) syms: u32,
    pub(super) ops: u32,
    pub(super) calls: u32,
    pub(super) idents: u32,
    pub(super) strings: u32,
    pub(super) commas: u32,
    /// Where a trailing comment starts.
    pub(super) code_end: Option<usize>,
    pub(super) sentence_end: bool,
    pub(super) lang: [f32; NLANG],
    pub(super) links: u32,
}

pub(super) fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

pub(super) fn is_ident(b: u8) -> bool {
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
/// `name(3)`, `name(3perl)`, `name(1ssl)`: a manual page named in prose.
fn is_man_ref(b: &[u8]) -> bool {
    b.len() >= 3
        && b[0] == b'('
        && b[1].is_ascii_digit()
        && b[2..].iter().take_while(|x| x.is_ascii_alphanumeric()).count() <= 5
        && b[2..].iter().find(|x| !x.is_ascii_alphanumeric()) == Some(&b')')
}

pub(super) fn scan_words(table: &Table, b: &[u8], l: &mut Line) {
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
