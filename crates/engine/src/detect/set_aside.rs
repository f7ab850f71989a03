//! Lines that are neither code nor prose: documentation markup, and text embedded in code
//! (docstrings, here-documents, strings over several lines). Also whether a snippet starts in
//! the middle of a comment or a docstring.

use super::words::is_ident;

pub(super) fn find(hay: &str, needle: &str) -> usize {
    hay.find(needle).unwrap_or(usize::MAX)
}

/// Where `mark` (`/*` or `*/`) first appears as a C comment marker rather than in a path
/// such as `java/*`.
pub(super) fn c_comment_mark(text: &str, mark: &str) -> usize {
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
pub(super) fn starts_in_docstring(text: &str) -> bool {
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

/// Text that code opens and a later line closes.
#[derive(Clone, Copy)]
pub(super) enum Open<'a> {
    /// A here-document and the word that ends it.
    Heredoc(&'a [u8]),
    /// A double-quoted string that runs over several lines.
    Quote,
    /// Perl's `qq{`, ended by a line that starts with `}`.
    Until(u8),
}

pub(super) fn opens_text(b: &[u8]) -> Option<Open<'_>> {
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
pub(super) fn count_double_quotes(b: &[u8]) -> usize {
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

pub(super) fn count_triple_quotes(b: &[u8]) -> usize {
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

/// Documentation markup that is neither code nor prose.
pub(super) fn is_markup(b: &[u8]) -> bool {
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
