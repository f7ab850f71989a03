//! Resident memory of this process, read from /proc (Linux). Used to measure what a model
//! really costs: RSS growth while it loads and while it runs.

/// Resident set size in bytes, or 0 where /proc is not available.
pub fn resident_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else { return 0 };
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    #[test]
    fn grows_when_memory_is_touched() {
        let before = super::resident_bytes();
        assert!(before > 0);
        // Written, not just allocated: untouched (zeroed) pages are not resident.
        let v: Vec<u8> = (0..64usize << 20).map(|i| (i as u8) | 1).collect();
        std::hint::black_box(&v);
        let after = super::resident_bytes();
        assert!(after >= before + (60 << 20), "before {before}, after {after}");
        drop(v);
    }
}

/// Hands memory that was freed (an unloaded model's weights and arena) back to the operating
/// system. Without it glibc keeps freed heap pages for reuse, and the process's resident size
/// would not drop when a model is evicted.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}
