//! The background workers of the vectorizers (src/sql/vectorize.sql).
//!
//! With pg_embed in `shared_preload_libraries`, the postmaster starts one launcher once
//! recovery has finished (never on a standby, which cannot write). The launcher connects to
//! `pg_embed.vectorize_database`, lists the databases that allow connections, and keeps
//! `pg_embed.vectorize_workers` workers running in each, starting or stopping workers when a
//! configuration reload changes the number. A worker connects to its database; if pg_embed
//! is not installed there, or no table is registered (or all are paused), it exits at once and the launcher tries
//! again after [`RESTART_AFTER`], so idle databases hold no connection (DROP DATABASE works).
//!
//! A worker's loop: `pg_embed_vectorize_due()` names the vectorizers with rows due, then
//! `pg_embed_vectorize_batch(id)` runs up to [`ROUND`] batches of each in turn, every batch in its own
//! transaction, until none is due; then it sleeps `pg_embed.vectorize_naptime` on its latch.
//! The embedding step of a batch runs as the table's owner, inside a security-restricted
//! operation as VACUUM runs index functions (src/api/vectorize.rs): the owner's triggers and
//! functions run with the owner's rights and cannot SET ROLE back to the worker's. SIGTERM
//! ends a worker at its next check for interrupts (its batch rolls back); postmaster death ends
//! it at once; an error ends it
//! (its transaction rolls back, the rows stay queued) and the launcher starts it again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, DynamicBackgroundWorker, SignalWakeFlags};
use pgrx::prelude::*;

use crate::gucs;

/// A worker that stopped is started again this long after its last start, no sooner.
const RESTART_AFTER: Duration = Duration::from_secs(10);
/// Batches of one vectorizer in a row before a worker looks at the others again.
const ROUND: usize = 16;
/// The launcher says at most this often that it found no free worker slot.
const WARN_EVERY: Duration = Duration::from_secs(300);
/// How often the launcher looks at the databases and its workers.
const LAUNCHER_NAP: Duration = Duration::from_secs(1);

/// Registers the launcher; only while the postmaster loads shared_preload_libraries.
pub fn init() {
    // SAFETY: a global the postmaster sets while it loads shared_preload_libraries.
    if !unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        return;
    }
    BackgroundWorkerBuilder::new("pg_embed vectorize launcher")
        .set_type("pg_embed vectorize launcher")
        .set_library("pg_embed")
        .set_function("pg_embed_vectorize_launcher")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(RESTART_AFTER))
        .load();
}

fn reload_if_asked() {
    if BackgroundWorker::sighup_received() {
        // SAFETY: the documented way for a background worker to apply a reload, outside any
        // transaction.
        unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
    }
}

struct Slot {
    handle: Option<DynamicBackgroundWorker>,
    started: Instant,
}

fn running(slot: &Slot) -> bool {
    use pgrx::bgworkers::BackgroundWorkerStatus::NotYetStarted;
    match &slot.handle {
        Some(h) => matches!(h.pid(), Ok(_) | Err(NotYetStarted)),
        None => false,
    }
}

/// The launcher's main function (see the module comment).
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_embed_vectorize_launcher(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi(Some(&gucs::vectorize_database()), None);
    let mut slots: HashMap<(u32, usize), Slot> = HashMap::new();
    let mut last_warning: Option<Instant> = None;
    loop {
        reload_if_asked();
        let want = gucs::vectorize_workers();
        let databases: Vec<u32> = if want == 0 {
            Vec::new()
        } else {
            BackgroundWorker::transaction(|| {
                Spi::connect(|c| -> spi::Result<Vec<u32>> {
                    c.select(
                        "SELECT oid FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate ORDER BY oid",
                        None,
                        &[],
                    )?
                    .map(|row| row.get::<pg_sys::Oid>(1).map(|o| o.map_or(0, u32::from)))
                    .collect()
                })
                .unwrap_or_default()
            })
        };
        // Stop the workers no longer wanted (fewer per database, or a database gone).
        let unwanted: Vec<(u32, usize)> =
            slots.keys().filter(|(db, i)| !databases.contains(db) || *i >= want).copied().collect();
        for key in unwanted {
            if let Some(Slot { handle: Some(h), .. }) = slots.remove(&key) {
                let _ = h.terminate();
            }
        }
        for &db in &databases {
            for i in 0..want {
                let due = match slots.get(&(db, i)) {
                    Some(slot) => !running(slot) && slot.started.elapsed() >= RESTART_AFTER,
                    None => true,
                };
                if due {
                    let handle = BackgroundWorkerBuilder::new(&format!("pg_embed vectorize worker {i}"))
                        .set_type("pg_embed vectorize worker")
                        .set_library("pg_embed")
                        .set_function("pg_embed_vectorize_worker")
                        .set_argument(Some(pg_sys::Datum::from(db)))
                        .enable_spi_access()
                        .set_restart_time(None)
                        // SAFETY: reads this process's pid.
                        .set_notify_pid(unsafe { pg_sys::MyProcPid })
                        .load_dynamic()
                        .ok();
                    if handle.is_none() && last_warning.map_or(true, |t: Instant| t.elapsed() >= WARN_EVERY) {
                        pgrx::warning!("pg_embed: no background worker slot free for a vectorize worker; raise max_worker_processes");
                        last_warning = Some(Instant::now());
                    }
                    slots.insert((db, i), Slot { handle, started: Instant::now() });
                }
            }
        }
        if !BackgroundWorker::wait_latch(Some(LAUNCHER_NAP)) {
            break;
        }
    }
    // A launcher that stops (server shutdown, or terminated alone) takes its workers along, so
    // the next one does not start a second set.
    for (_, slot) in slots.drain() {
        if let Some(h) = slot.handle {
            let _ = h.terminate();
        }
    }
}

unsafe extern "C-unwind" {
    /// PostgreSQL's SIGTERM handler for backends (postgres.c): sets ProcDiePending.
    #[link_name = "die"]
    fn postgres_die(signal: std::ffi::c_int);
}

/// What pg_stat_activity shows for this worker: the batch statement while one runs, idle otherwise.
fn report_activity(statement: Option<&str>) {
    let text = std::ffi::CString::new(statement.unwrap_or("")).unwrap_or_default();
    let state = if statement.is_some() { pg_sys::BackendState::STATE_RUNNING } else { pg_sys::BackendState::STATE_IDLE };
    // SAFETY: copies the text into this backend's status entry.
    unsafe { pg_sys::pgstat_report_activity(state, text.as_ptr()) };
}

/// A worker's main function (see the module comment); its argument is the database's OID.
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pg_embed_vectorize_worker(arg: pg_sys::Datum) {
    let database = pg_sys::Oid::from(arg.value() as u32);
    // SIGTERM (pg_terminate_backend, a server shutdown) ends the worker at its next check for
    // interrupts, also in the middle of a batch, with PostgreSQL's own die(): a table owner's
    // code that waits or loops cannot keep it. (The batch's transaction rolls back.)
    // SAFETY: installs a handler of PostgreSQL's before signals are unblocked below.
    unsafe {
        #[cfg(not(feature = "pg18"))]
        let _ = pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(postgres_die));
        #[cfg(feature = "pg18")]
        let _ = pg_sys::pqsignal_be(pg_sys::SIGTERM as i32, Some(postgres_die));
    }
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP);
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(database), None);
    let schema: Option<String> = BackgroundWorker::transaction(|| {
        Spi::get_one::<String>(
            "SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension e
               JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
              WHERE e.extname = 'pg_embed'
                AND pg_catalog.to_regclass(pg_catalog.quote_ident(n.nspname) || '.pg_embed_vectorizers') IS NOT NULL",
        )
        .ok()
        .flatten()
    });
    let Some(schema) = schema else { return };
    let due_sql = format!("SELECT {schema}.pg_embed_vectorize_due()");
    let batch_sql = format!("SELECT {schema}.pg_embed_vectorize_batch($1)");
    let registered_sql = format!("SELECT EXISTS (SELECT FROM {schema}.pg_embed_vectorizers WHERE NOT paused)");
    loop {
        reload_if_asked();
        let due: Vec<i32> = BackgroundWorker::transaction(|| {
            Spi::connect_mut(|c| -> spi::Result<Vec<i32>> {
                c.update(due_sql.as_str(), None, &[])?.map(|row| Ok(row.get::<i32>(1)?.unwrap_or(0))).collect()
            })
            .unwrap_or_else(|e| pgrx::error!("pg_embed vectorize worker: {e}"))
        });
        let mut worked = false;
        for id in due {
            // at most ROUND batches of one vectorizer before the others' turn
            for _ in 0..ROUND {
                pg_sys::check_for_interrupts!();
                report_activity(Some(&batch_sql));
                let taken = BackgroundWorker::transaction(|| Spi::get_one_with_args::<i32>(&batch_sql, &[id.into()]))
                .unwrap_or_else(|e| pgrx::error!("pg_embed vectorize worker: {e}"))
                .unwrap_or(0);
                if taken == 0 {
                    break;
                }
                worked = true;
            }
        }
        report_activity(None);
        if !worked {
            let registered = BackgroundWorker::transaction(|| Spi::get_one::<bool>(&registered_sql).ok().flatten());
            if registered != Some(true) {
                return;
            }
            if !BackgroundWorker::wait_latch(Some(gucs::vectorize_naptime())) {
                return;
            }
        }
    }
}
