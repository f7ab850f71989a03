//! Threads inherit the signal mask of the thread that creates them. ONNX Runtime creates its
//! worker threads when the environment and sessions are built; if those threads could receive
//! the host process's signals (PostgreSQL's SIGINT, SIGTERM, SIGUSR1 ...), the host's handlers
//! would run on threads that must never touch its state. So creation happens with every
//! blockable signal blocked, and the caller's mask is restored afterwards.

/// Runs `f` with all blockable signals blocked in the calling thread, then restores the mask.
pub fn with_signals_blocked<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: sigfillset/pthread_sigmask only write the sigset_t values we own here.
    let old = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        old
    };
    struct Restore(libc::sigset_t);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: restores the mask saved above; the pointer is to our own value.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
        }
    }
    let _restore = Restore(old);
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(sig: libc::c_int) -> bool {
        // SAFETY: queries the current mask into a local value.
        unsafe {
            let mut cur: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut cur);
            libc::sigismember(&cur, sig) == 1
        }
    }

    #[test]
    fn threads_spawned_inside_do_not_take_signals_and_mask_is_restored() {
        assert!(!blocked(libc::SIGUSR1));
        let child = with_signals_blocked(|| std::thread::spawn(|| blocked(libc::SIGUSR1)));
        assert!(child.join().unwrap(), "a thread created inside must have SIGUSR1 blocked");
        assert!(!blocked(libc::SIGUSR1), "the caller's mask must be restored");
    }
}
