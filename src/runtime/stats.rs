//! Where usage statistics are kept: in shared memory, for the whole cluster, when pg_embed is
//! in `shared_preload_libraries`; otherwise in this backend only (the view says which in its
//! `scope` column).
//!
//! One LWLock guards the shared table; a call takes it once, exclusively, for a few hundred
//! nanoseconds of counter updates (no PostgreSQL call and nothing that can fail while held).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};

use pgrx::prelude::*;
use pgrx::{pg_shmem_init, pg_sys, PGRXSharedMemory, PgLwLock};

use pg_embed_engine::stats::{Call, Event, StatsTable};

use crate::gucs;

/// The table as it lives in shared memory.
#[derive(Clone, Copy, Default)]
#[repr(transparent)]
pub struct Shared(StatsTable);

// SAFETY: plain counters and bytes, no pointers; every access goes through the LWLock.
unsafe impl PGRXSharedMemory for Shared {}

// SAFETY: no other extension uses this name.
static SHARED: PgLwLock<Shared> = unsafe { PgLwLock::new(c"pg_embed_stats") };

/// Set in the postmaster when the shared table was requested; backends inherit it by fork.
static PRELOADED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static LOCAL: RefCell<Box<StatsTable>> = RefCell::new(Box::default());
}

/// Requests the shared table, only while shared_preload_libraries is being processed (later
/// there is no shared memory to ask for).
pub fn init() {
    // SAFETY: reads a flag PostgreSQL sets around loading shared_preload_libraries.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        pg_shmem_init!(SHARED = Shared(StatsTable::default()));
        PRELOADED.store(true, Ordering::Relaxed);
    }
}

/// Whether the statistics are the cluster's (true) or this backend's (false).
pub fn shared() -> bool {
    PRELOADED.load(Ordering::Relaxed)
}

fn update(f: impl FnOnce(&mut StatsTable)) {
    if !gucs::track_stats() {
        return;
    }
    if shared() {
        f(&mut SHARED.exclusive().0);
    } else {
        LOCAL.with(|t| f(&mut t.borrow_mut()));
    }
}

pub fn record(model: &str, precision: &str, call: &Call) {
    update(|t| t.record(model, precision, call));
}

pub fn event(model: &str, precision: &str, event: Event) {
    update(|t| t.event(model, precision, event));
}

/// A copy of the current table.
pub fn snapshot() -> Box<StatsTable> {
    if shared() {
        Box::new(SHARED.share().0)
    } else {
        LOCAL.with(|t| t.borrow().clone())
    }
}

pub fn reset() {
    if shared() {
        SHARED.exclusive().0.reset();
    }
    LOCAL.with(|t| t.borrow_mut().reset());
}
