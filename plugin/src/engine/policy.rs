//! Which guest contexts use a window (the dynamic switching of the
//! selective hardware/software paging paper, seed 002).
//!
//! A window fault costs 10-15 µs (SIGSEGV, a softmmu translation, an
//! `mmap`), a thousand times a hit, so windows pay off for contexts that
//! run long enough to reuse their mappings, and lose for:
//! - short-lived processes (fork/exec storms): a context runs through the
//!   softmmu until it has spent the warm-up time (plugin argument
//!   `warmup=`, 20 ms by default) in user mode;
//! - contexts whose windows thrash: more working sets than windows (LRU
//!   evictions) or than the VMA budget allows, or a process that runs a
//!   little between global flushes (a shell forking children). A context
//!   that lost a populated window, or had it revalidated after a global
//!   flush, and then spent more than a quarter of its user time on window
//!   work (faults: the handler's measured time plus the kernel's signal
//!   cost; revalidations: their measured time) goes back to the softmmu
//!   for a while (doubling each time, from [`BACKOFF_NS`] of its own user
//!   time), then tries again.
//!
//! All times are the context's own user-mode time (host clock between its
//! entry to and exit from user mode), so a context's fate does not depend
//! on how much other contexts run. State lives in a fixed table, hashed by
//! window key; a context evicted from the table starts afresh.

use super::pool::WindowKey;

const PERIOD_NS: u64 = 10_000_000;
/// The kernel's part of a window fault (signal delivery and return), not
/// seen by the handler's own clock.
pub const SIGNAL_COST_NS: u64 = 5_000;
pub const BACKOFF_NS: u64 = 20_000_000;
const MAX_LEVEL: u32 = 7;
/// A lost window counts if it held at least this many pages.
const LOSS_PAGES: u32 = 16;
const TABLE: usize = 1024;
const PROBE: usize = 4;

#[derive(Debug, Clone, Copy, Default)]
struct Context {
    key: Option<WindowKey>,
    last_seen: u64,
    user_ns: u64,
    period_ns: u64,
    period_faults: u64,
    period_fault_ns: u64,
    losses: u32,
    level: u32,
    softmmu_until_ns: u64,
}

pub struct Policy {
    warmup_ns: u64,
    table: Box<[Context]>,
    clock: u64,
    /// Slot of the context in user mode now, and when it entered.
    current: Option<(usize, u64)>,
    epoch: std::time::Instant,
}

fn hash(key: &WindowKey) -> usize {
    let mut h = (key.asid as u64) ^ key.ttbr0.rotate_left(17) ^ key.ttbr1.rotate_left(31);
    h ^= (key.dacr as u64) << 7 ^ (key.ttbcr as u64) << 3 ^ (key.sctlr as u64) << 11;
    (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize % TABLE
}

impl Policy {
    pub fn new(warmup_ns: u64) -> Self {
        Policy {
            warmup_ns,
            table: vec![Context::default(); TABLE].into_boxed_slice(),
            clock: 0,
            current: None,
            epoch: std::time::Instant::now(),
        }
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn find(&self, key: &WindowKey) -> Option<usize> {
        let h = hash(key);
        (0..PROBE)
            .map(|i| (h + i) % TABLE)
            .find(|&i| self.table[i].key.as_ref() == Some(key))
    }

    fn find_or_insert(&mut self, key: &WindowKey) -> usize {
        if let Some(i) = self.find(key) {
            return i;
        }
        let h = hash(key);
        let i = (0..PROBE)
            .map(|i| (h + i) % TABLE)
            .min_by_key(|&i| (self.table[i].key.is_some(), self.table[i].last_seen))
            .unwrap_or(h);
        self.table[i] = Context {
            key: Some(*key),
            ..Default::default()
        };
        i
    }

    /// Entering user mode in `key`: whether to use a window now.
    pub fn enter(&mut self, key: &WindowKey) -> bool {
        self.clock += 1;
        let i = self.find_or_insert(key);
        let now = self.now_ns();
        self.current = Some((i, now));
        let warmup_ns = self.warmup_ns;
        let c = &mut self.table[i];
        c.last_seen = self.clock;
        c.user_ns >= warmup_ns && c.user_ns >= c.softmmu_until_ns
    }

    /// Leaving user mode after `faults` window faults that took `fault_ns`
    /// in the handler. Returns the key of a context that must give up its
    /// window and use the softmmu.
    pub fn leave(&mut self, used_window: bool, faults: u64, fault_ns: u64) -> Option<WindowKey> {
        let (i, since) = self.current.take()?;
        let dt = self.now_ns().saturating_sub(since);
        let c = &mut self.table[i];
        c.user_ns += dt;
        if !used_window {
            return None;
        }
        c.period_ns += dt;
        c.period_faults += faults;
        c.period_fault_ns += fault_ns;
        if c.period_ns < PERIOD_NS {
            return None;
        }
        let period_faults = c.period_faults;
        let fault_time = c.period_fault_ns + period_faults * SIGNAL_COST_NS;
        let thrashing = c.losses >= 1 && fault_time * 4 > c.period_ns;
        c.period_ns = 0;
        c.period_faults = 0;
        c.period_fault_ns = 0;
        if thrashing {
            c.softmmu_until_ns = c.user_ns + (BACKOFF_NS << c.level);
            c.level = (c.level + 1).min(MAX_LEVEL);
            c.losses = 0;
            return c.key;
        }
        if period_faults == 0 {
            // A quiet period: past losses no longer tell anything.
            c.losses = 0;
            c.level = c.level.saturating_sub(1);
        }
        None
    }

    /// `key` lost a window holding `pages` pages (LRU, VMA budget, a
    /// reset), or had one of `pages` pages revalidated after a global flush.
    pub fn lost_window(&mut self, key: &WindowKey, pages: u32) {
        if pages >= LOSS_PAGES {
            if let Some(i) = self.find(key) {
                self.table[i].losses += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WARMUP_NS: u64 = 2_000_000;

    fn key(asid: u16) -> WindowKey {
        WindowKey {
            asid,
            ttbr0: 0x4000_0000 + asid as u64 * 0x4000,
            ..Default::default()
        }
    }

    /// Runs `key` in user mode for `ns` (simulated by moving the epoch).
    /// Each fault is taken to cost 10 µs in the handler.
    fn stay(p: &mut Policy, k: &WindowKey, ns: u64, faults: u64) -> (bool, Option<WindowKey>) {
        let used = p.enter(k);
        p.epoch -= std::time::Duration::from_nanos(ns);
        (used, p.leave(used, faults, faults * 10_000))
    }

    #[test]
    fn short_lived_contexts_stay_on_the_softmmu() {
        let mut p = Policy::new(WARMUP_NS);
        let k = key(1);
        assert!(!stay(&mut p, &k, WARMUP_NS / 2, 0).0);
        assert!(!stay(&mut p, &k, WARMUP_NS / 4, 0).0);
        assert!(
            !stay(&mut p, &k, WARMUP_NS / 2, 0).0,
            "warm-up ends after this stay"
        );
        assert!(stay(&mut p, &k, 1000, 0).0);
    }

    #[test]
    fn a_thrashing_context_falls_back_then_retries() {
        let mut p = Policy::new(WARMUP_NS);
        let k = key(2);
        stay(&mut p, &k, WARMUP_NS, 0);
        // Lots of faults but its window was never lost: first touches.
        let (used, out) = stay(&mut p, &k, PERIOD_NS, 2000);
        assert!(used && out.is_none());
        p.lost_window(&k, 500);
        let (used, out) = stay(&mut p, &k, PERIOD_NS, 2000);
        assert!(used);
        assert_eq!(out, Some(k), "lost twice and refaulting: fall back");
        assert!(!stay(&mut p, &k, BACKOFF_NS / 2, 0).0, "backing off");
        assert!(!stay(&mut p, &k, BACKOFF_NS / 2, 0).0, "backing off");
        assert!(stay(&mut p, &k, 1000, 0).0, "tries the window again");
    }

    #[test]
    fn small_losses_and_light_faulting_do_not_count() {
        let mut p = Policy::new(WARMUP_NS);
        let k = key(3);
        stay(&mut p, &k, WARMUP_NS, 0);
        p.lost_window(&k, 8);
        assert_eq!(stay(&mut p, &k, PERIOD_NS, 2000).1, None);
        p.lost_window(&k, 500);
        assert_eq!(stay(&mut p, &k, PERIOD_NS, 10).1, None);
    }

    #[test]
    fn backoff_doubles_unless_a_quiet_period_came_between() {
        let mut p = Policy::new(WARMUP_NS);
        let k = key(4);
        stay(&mut p, &k, WARMUP_NS, 0);
        p.lost_window(&k, 500);
        assert_eq!(stay(&mut p, &k, PERIOD_NS, 2000).1, Some(k));
        assert!(!stay(&mut p, &k, BACKOFF_NS, 0).0, "first backoff");
        // Back on the window: a busy period that does not thrash (no loss)
        // must not forgive the past.
        assert_eq!(stay(&mut p, &k, PERIOD_NS, 500).1, None);
        p.lost_window(&k, 500);
        assert_eq!(stay(&mut p, &k, PERIOD_NS, 2000).1, Some(k));
        // Entries at +0 and +20 ms of user time still back off (40 ms).
        assert!(!stay(&mut p, &k, BACKOFF_NS, 0).0);
        assert!(
            !stay(&mut p, &k, BACKOFF_NS, 0).0,
            "second backoff is twice as long"
        );
        assert!(stay(&mut p, &k, 1000, 0).0);
        // A quiet period forgives one level: the next backoff is 40 ms again.
        assert_eq!(stay(&mut p, &k, PERIOD_NS, 0).1, None);
        p.lost_window(&k, 500);
        assert_eq!(stay(&mut p, &k, PERIOD_NS, 2000).1, Some(k));
        assert!(!stay(&mut p, &k, BACKOFF_NS, 0).0);
        assert!(!stay(&mut p, &k, BACKOFF_NS, 0).0);
        assert!(stay(&mut p, &k, 1000, 0).0, "back to the second level");
    }
}
