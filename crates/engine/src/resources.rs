//! What the machine has to spare, for model selection: free memory and CPU load.
//!
//! A guardrail, not a hot path: read only when a selection is made (never per row), and only
//! the two figures selection needs.

/// A snapshot of the machine's resources.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resources {
    /// Memory the OS reports as available (free plus reclaimable cache), in bytes.
    pub available_bytes: u64,
    /// One-minute load average divided by the number of CPUs (1.0 = every CPU busy).
    pub load_per_cpu: f64,
    pub cpus: usize,
}

impl Resources {
    /// A machine with room for anything and nothing else running: with it, selection depends
    /// only on preferences, files present and the memory limit, the same in every process.
    pub fn unconstrained() -> Resources {
        Resources { available_bytes: u64::MAX, load_per_cpu: 0.0, cpus: 1 }
    }
}

/// Reads the current figures.
pub fn snapshot() -> Resources {
    let mut sys = sysinfo::System::new();
    sys.refresh_memory();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let load = sysinfo::System::load_average().one;
    Resources { available_bytes: sys.available_memory(), load_per_cpu: load / cpus as f64, cpus }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_plausible_figures() {
        let r = super::snapshot();
        assert!(r.available_bytes > 16 << 20, "{r:?}");
        assert!(r.cpus >= 1 && r.load_per_cpu >= 0.0, "{r:?}");
    }
}
