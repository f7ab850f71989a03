//! pgvector's `vector` type, built here so SQL functions return it directly (no cast).
//!
//! The on-disk layout is pgvector's `Vector` struct: a 4-byte varlena header, `int16 dim`,
//! `int16 unused` (0), then `dim` float4 values.

use pgrx::pg_sys;
use pgrx::prelude::*;

/// A vector to hand to PostgreSQL as pgvector's `vector`.
pub struct Vector(pub Vec<f32>);

/// pgvector's limit on dimensions.
const VECTOR_MAX_DIM: usize = 16000;

impl_sql_translatable!(Vector, "vector");

impl IntoDatum for Vector {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        assert!(self.0.len() <= VECTOR_MAX_DIM, "vector of {} dimensions exceeds pgvector's limit", self.0.len());
        let header = 4 + 2 + 2;
        let size = header + 4 * self.0.len();
        // SAFETY: palloc0 returns `size` zeroed bytes (or raises an ERROR); we write the
        // varlena header, the dimension count and exactly `len` floats inside that block.
        unsafe {
            let ptr = pg_sys::palloc0(size).cast::<u8>();
            pgrx::set_varsize_4b(ptr.cast(), size as i32);
            ptr.add(4).cast::<i16>().write_unaligned(self.0.len() as i16);
            std::ptr::copy_nonoverlapping(self.0.as_ptr().cast::<u8>(), ptr.add(header), 4 * self.0.len());
            Some(pg_sys::Datum::from(ptr))
        }
    }

    fn type_oid() -> pg_sys::Oid {
        // Only needed when a vector is nested in an array or record; look it up by name then.
        // SAFETY: TypenameGetTypid reads the catalog for a NUL-terminated name.
        unsafe { pg_sys::TypenameGetTypid(c"vector".as_ptr()) }
    }
}

// SAFETY: the datum is a freshly palloc'd pgvector value, returned as the function's result.
unsafe impl pgrx::callconv::BoxRet for Vector {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut pgrx::callconv::FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        match self.into_datum() {
            // SAFETY: a valid by-reference datum for this call's result.
            Some(datum) => unsafe { fcinfo.return_raw_datum(datum) },
            None => fcinfo.return_null(),
        }
    }
}
