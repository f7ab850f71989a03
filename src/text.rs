//! `text` arguments as UTF-8, whatever the database encoding.
//!
//! The tokenizers read UTF-8. In a UTF-8 database a `text` value is used in place. In a
//! database with another server encoding (LATIN1, WIN1252, EUC_JP, ...) every value is
//! converted to UTF-8 with PostgreSQL's own conversion, so `'café'` embeds the same in a LATIN1
//! database as in a UTF-8 one. SQL_ASCII declares no encoding: its bytes are read as UTF-8 and a
//! value that is not valid UTF-8 is refused with SQLSTATE 22021 and a hint, never guessed at.
//!
//! `Text` is the argument type of every function that takes user text, scalar or array
//! element; in SQL it is plain `text`.

use std::borrow::Cow;
use std::ops::Deref;

use pgrx::callconv::{Arg, ArgAbi};
use pgrx::datum::{Datum, FromDatum, UnboxDatum};
use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

use crate::error::OrRaise;

/// A `text` value as UTF-8: borrowed in a UTF-8 database, converted otherwise.
pub struct Text<'a>(Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// Reads a (possibly short-header, not toasted) text varlena as UTF-8.
///
/// # Safety
/// `varlena` points at a detoasted text value that lives for `'a`.
unsafe fn utf8_of<'a>(varlena: *const pg_sys::varlena) -> Cow<'a, str> {
    let bytes: &'a [u8] = unsafe { pgrx::varlena::varlena_to_byte_slice(varlena) };
    let encoding = unsafe { pg_sys::GetDatabaseEncoding() } as u32;
    if encoding == pg_sys::pg_enc::PG_UTF8 {
        // PostgreSQL verified the bytes on input.
        return Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    if bytes.is_ascii() {
        // ASCII is the same in every server encoding.
        return Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    if encoding == pg_sys::pg_enc::PG_SQL_ASCII {
        return match std::str::from_utf8(bytes) {
            Ok(s) => Cow::Borrowed(s),
            Err(e) => not_utf8(e.valid_up_to()),
        };
    }
    // The UTF-8 form is never shorter, so a value over the size bound is refused before it is
    // converted, as it would be after.
    crate::gucs::input_policy().check_size(bytes.len()).or_raise();
    // Server encoding -> UTF-8; every server encoding maps into UTF-8, so this cannot fail
    // on characters (PostgreSQL raises its own error on bytes invalid in the server encoding).
    let converted = unsafe {
        pg_sys::pg_server_to_any(bytes.as_ptr().cast(), bytes.len() as i32, pg_sys::pg_enc::PG_UTF8 as i32)
    };
    let utf8 = unsafe { std::ffi::CStr::from_ptr(converted) }.to_bytes();
    match std::str::from_utf8(utf8) {
        Ok(s) => Cow::Owned(s.to_owned()),
        Err(e) => not_utf8(e.valid_up_to()),
    }
}

fn not_utf8(valid_up_to: usize) -> ! {
    ErrorReport::new(
        PgSqlErrorCode::ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
        format!("text is not valid UTF-8 (invalid byte at offset {valid_up_to})"),
        "pg_embed",
    )
    .set_detail("The database encoding is SQL_ASCII, which does not say how bytes above 127 are encoded; pg_embed reads them as UTF-8.")
    .set_hint("Store UTF-8 text, or convert it when embedding, e.g. for LATIN1 bytes: embed_doc(convert_from(convert(convert_to(body, 'SQL_ASCII'), 'LATIN1', 'UTF8'), 'UTF8')).")
    .report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

impl<'a> FromDatum for Text<'a> {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        if is_null || datum.is_null() {
            return None;
        }
        // Detoasts (decompresses, fetches out-of-line values) into the current memory context,
        // which lives for the function call; short headers are kept.
        let varlena = unsafe { pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr()) };
        Some(Text(unsafe { utf8_of(varlena) }))
    }
}

unsafe impl<'fcx> ArgAbi<'fcx> for Text<'fcx> {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        unsafe { arg.unbox_arg_using_from_datum() }.unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

unsafe impl<'a> UnboxDatum for Text<'a> {
    type As<'src>
        = Text<'src>
    where
        Self: 'src;

    unsafe fn unbox<'src>(datum: Datum<'src>) -> Self::As<'src>
    where
        Self: 'src,
    {
        // Array elements are never toasted on their own.
        Text(unsafe { utf8_of(datum.sans_lifetime().cast_mut_ptr()) })
    }
}

pgrx::impl_sql_translatable!(Text<'_>, arg_only = "text");
