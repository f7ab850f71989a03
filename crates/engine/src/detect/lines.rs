//! Rules that look at a whole line: preprocessor lines and `#!`, psql commands, block and
//! lone keywords, list items, assignments.

use super::words::{is_ident, is_ident_start};
use super::{C, JS, PERL, PY, RS, SH};

/// `#include`, `#define`... (C), `#[...]` (Rust), `#!` (a script).
pub(super) fn preprocessor(b: &[u8]) -> Option<usize> {
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

pub(super) fn first_word(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&x| !is_ident(x)).unwrap_or(b.len());
    &b[..end]
}

pub(super) fn is_psql_command(w: &[u8]) -> bool {
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

pub(super) fn is_block_keyword(w: &[u8]) -> bool {
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
pub(super) fn is_lone_keyword(b: &[u8]) -> bool {
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

pub(super) fn is_list_item(b: &[u8]) -> bool {
    if b.len() > 2 && matches!(b[0], b'-' | b'*' | b'+') && b[1] == b' ' {
        return true;
    }
    let digits = b.iter().take_while(|x| x.is_ascii_digit()).count();
    digits > 0 && digits < 3 && b.len() > digits + 1 && matches!(b[digits], b'.' | b')') && b[digits + 1] == b' '
}

/// `x = `, `self.x += `, `my $x = `, `let mut x: T = `, `FOO=bar`, `a[i] = `.
pub(super) fn is_assignment(b: &[u8]) -> bool {
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
