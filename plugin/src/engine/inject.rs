//! Failure injection, for tests (`fail_every=N`): makes the
//! invalidation-side system calls fail on purpose so that the recovery
//! paths (reset the window; stop if even that fails) run. Async-signal-
//! safe: two relaxed atomics.

use std::sync::atomic::{AtomicU32, Ordering};

/// Every N-th invalidation-side call fails (0: never); see
/// [`set_fail_injection`].
static FAIL_EVERY: AtomicU32 = AtomicU32::new(0);
static FAIL_CALLS: AtomicU32 = AtomicU32::new(0);

/// Testing only: from now on every `every`-th invalidation-side call (a
/// page unmap, an `mprotect` of code protection or of a reverse-map
/// downgrade, the `madvise` that clears a window's forward rows) fails as
/// if with ENOMEM, without reaching the kernel, so that the recovery paths
/// run. 0 turns it off. Window resets themselves never fail this way.
pub(super) fn set_fail_injection(every: u32) {
    FAIL_CALLS.store(0, Ordering::Relaxed);
    FAIL_EVERY.store(every, Ordering::Relaxed);
}

/// Whether the invalidation-side call about to be made is to fail.
pub(super) fn injected_failure() -> bool {
    let every = FAIL_EVERY.load(Ordering::Relaxed);
    if every == 0 {
        return false;
    }
    // Calls since the last injected failure (only the vCPU thread calls).
    let since = FAIL_CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    if since < every {
        return false;
    }
    FAIL_CALLS.store(0, Ordering::Relaxed);
    true
}
