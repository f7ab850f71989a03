//! Allocations whose size follows from user input, made fallibly.
//!
//! The engine runs inside a PostgreSQL backend: its heap is outside PostgreSQL's memory
//! accounting, and a Rust allocation that fails aborts the process, which makes the postmaster
//! restart every backend of the cluster. Buffers sized by a text or a batch (token ids, tensors,
//! window sums) are therefore reserved here first; a failure becomes
//! [`EngineError::OutOfMemory`], an ordinary error that ends the statement.

use crate::error::{EngineError, Result};

fn out_of_memory<T>(what: &str, n: usize) -> EngineError {
    EngineError::OutOfMemory { what: what.to_string(), bytes: n.saturating_mul(std::mem::size_of::<T>()) }
}

/// An empty vector with room for `n` elements of `what`.
pub fn with_capacity<T>(n: usize, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| out_of_memory::<T>(what, n))?;
    Ok(v)
}

/// Makes room for `n` more elements in `v`.
pub fn reserve<T>(v: &mut Vec<T>, n: usize, what: &str) -> Result<()> {
    v.try_reserve(n).map_err(|_| out_of_memory::<T>(what, v.len().saturating_add(n)))
}

/// Appends `items` to `v`, reserving first.
pub fn extend<T: Copy>(v: &mut Vec<T>, items: &[T], what: &str) -> Result<()> {
    reserve(v, items.len(), what)?;
    v.extend_from_slice(items);
    Ok(())
}

/// `n` copies of `value`.
pub fn filled<T: Clone>(n: usize, value: T, what: &str) -> Result<Vec<T>> {
    let mut v = with_capacity(n, what)?;
    v.resize(n, value);
    Ok(v)
}

/// `a * b`, or an error naming `what` if the product does not fit in memory at all.
pub fn product<T>(a: usize, b: usize, what: &str) -> Result<usize> {
    a.checked_mul(b)
        .filter(|n| n.checked_mul(std::mem::size_of::<T>()).is_some_and(|bytes| bytes <= isize::MAX as usize))
        .ok_or_else(|| out_of_memory::<T>(what, a.saturating_mul(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_reservation_is_an_error_not_an_abort() {
        // 4 EiB: a valid layout that no allocator can satisfy. black_box keeps the optimiser
        // from eliding an allocation that is never used (it may assume those succeed).
        match std::hint::black_box(with_capacity::<u8>(std::hint::black_box(1 << 62), "test buffer")) {
            Err(EngineError::OutOfMemory { what, bytes }) => {
                assert_eq!((what.as_str(), bytes), ("test buffer", 1 << 62));
            }
            other => panic!("expected OutOfMemory, got {:?}", other.map(|v| v.capacity())),
        }
        // Past isize::MAX bytes: refused before asking the allocator.
        assert!(matches!(with_capacity::<u64>(usize::MAX / 4, "ids"), Err(EngineError::OutOfMemory { .. })));
        let mut v = vec![1u32];
        assert!(matches!(reserve(&mut v, 1 << 61, "ids"), Err(EngineError::OutOfMemory { .. })));
        assert_eq!(v, vec![1], "a failed reservation leaves the vector as it was");
        assert!(matches!(product::<i64>(1 << 40, 1 << 30, "tensor"), Err(EngineError::OutOfMemory { .. })));
        assert_eq!(filled(3, 0.5f32, "sum").unwrap(), vec![0.5; 3]);
    }
}
