//! The HSPT engine: guest user-mode loads and stores go straight through a
//! 4 GiB host window per guest address space, and the kernel's loads and
//! stores of global translations through one more, shared by all of them
//! (`kernel=on`), which mirrors QEMU's flushes of the PL1 MMU index.
//!
//! The rooms:
//! - this file: the engine's state, the one way into it ([`with_engine`],
//!   [`with_engine_for_kernel`]), [`start`], and the window switch on
//!   user-mode and PL1 entry;
//! - `flush`: the flush dispatch (what each TLB maintenance kind and
//!   each of QEMU's own flushes unmaps);
//! - `signal`: the SIGSEGV handler alone (map, guest fault, or
//!   re-execution through the softmmu); everything in it is
//!   async-signal-safe, as is `signal_safe`, the helpers it shares;
//! - `revalidate`: hook-time mapping and checking through QEMU's probe
//!   (premap, revalidation, restoration);
//! - [`pool`]: the windows' slots, LRU, mapping and unmapping, the reverse
//!   map, the VMA budget;
//! - `kernel_window`: the kernel window's sections, large-MiB bits and
//!   remap counts;
//! - [`policy`]: which contexts use a window (warm-up, thrash fallback);
//! - `keys`, `mapping`, `table`: window keys and page newtypes, the
//!   owning mappings (reservation, windows), the one raw table type;
//! - `counters`: the per-process counters; `inject`: failure
//!   injection for tests.
//!
//! The engine's invariants are cited by name (docs/DESIGN.md defines
//! them); they all serve `same-behaviour`: the guest behaves identically
//! with and without the accelerator.
//!
//! Single vCPU only (refused otherwise): all engine state is touched by the
//! vCPU thread, in hooks or in the SIGSEGV handler, and by the exit report
//! after the vCPUs stopped. [`with_engine`] is the only access, and its
//! guard makes a second live `&mut Engine` impossible: a nested call (a hook
//! while the fault handler holds the engine) gets `None`, and the engine
//! then treats every window as invalidated before it is used again.

mod counters;
mod flush;
mod inject;
mod kernel_window;
mod keys;
mod mapping;
pub mod policy;
pub mod pool;
mod revalidate;
mod signal;
mod signal_safe;
mod table;

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use hspt_shim as abi;

pub use counters::SptCounters;
use kernel_window::RemapCounts;
use policy::Policy;
use pool::{Pool, Slot, WindowKey};

pub struct Engine {
    pool: Pool,
    /// The window GS points at while the guest is in user mode.
    current: Option<Slot>,
    /// GS points at the kernel window and QEMU lets PL1 blocks use it
    /// (set at PL1 events, cleared on entry to user mode).
    kernel_active: bool,
    gs_base: usize,
    use_wrgsbase: bool,
    /// Counters since the last hook (the fault path cannot lock).
    pending: SptCounters,
    /// Fills started; those that did not return were guest faults.
    fills_started: u64,
    fills_returned: u64,
    /// Faults taken in the window during the current user-mode stay, and
    /// the time the fault handler spent on them.
    stay_faults: u64,
    stay_fault_ns: u64,
    policy: Policy,
    /// Fault-around block, in pages (1 = off); a power of two.
    around: usize,
    /// The page of a fill in progress: still set when the user-mode entry
    /// after it comes, the fill raised the guest's page fault.
    fill_in_progress: Option<(Slot, pool::GuestPage)>,
    /// Map that page on the way back to user mode if it is valid then.
    premap: bool,
    /// The guest's TLBIALL/TLBIASID or a register write was reported and
    /// handled; the softmmu's full flush that follows it needs nothing more.
    full_flush_explained: bool,
    /// The event before the current one set `full_flush_explained`.
    previous_event_explains_full_flush: bool,
    /// A guest TLBIALL or TLBIASID, or an ASID change (CONTEXTIDR write),
    /// was reported: the full flush of the PL1 index that follows it
    /// (after the user index's, if any; for the last two, QEMU's without
    /// `keep_global`) may revalidate the kernel window instead of
    /// resetting it. And the same for the event before the current one
    /// (kernel events do not move it).
    kernel_flush_may_revalidate: bool,
    previous_event_kernel_flush_may_revalidate: bool,
    /// Kernel-window pages that by-address flushes unmapped, and how often.
    kernel_remaps: RemapCounts,
    /// A guest TLBIALL/TLBIASID marks windows stale instead of resetting
    /// them; each is revalidated when its context next enters user mode.
    revalidate: bool,
    /// The context whose window the last user-mode entry took (LRU), for
    /// the stats path to charge the eviction to it.
    evicted: Option<crate::context::ProcessKey>,
    /// Counts the events from QEMU's hooks: a fill that sees it change
    /// while it translated (invariant `no-stale-fill`) does not map what
    /// it found.
    events: u64,
}

struct EngineCell(UnsafeCell<Engine>);
// SAFETY: the engine is only reached through `with_engine`, whose guard
// (ENGINE_IN_USE) lets one caller at a time have it; see the module comment.
unsafe impl Sync for EngineCell {}
// SAFETY: the raw pointers inside point at process-wide mappings, valid on
// any thread; access is serialised as said above.
unsafe impl Send for EngineCell {}

static ENGINE: OnceLock<EngineCell> = OnceLock::new();
/// Held while a caller of `with_engine` has the engine.
static ENGINE_IN_USE: AtomicBool = AtomicBool::new(false);
/// A caller found the engine in use: its event (possibly an invalidation)
/// was lost, so every window is reset before the engine is used again
/// (invariant `flush-covers`).
static EVENT_MISSED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Set on the thread that runs the vCPU; the fault handler ignores
    /// faults on any other thread (they are real crashes: invariant
    /// `foreign-faults-chain`).
    pub static ON_VCPU_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Releases the engine when the caller's closure is done.
struct InUse;

impl Drop for InUse {
    fn drop(&mut self) {
        ENGINE_IN_USE.store(false, Ordering::Release);
    }
}

/// Runs `f` with the engine, if acceleration is on and nobody else has it.
///
/// Never call a QEMU service that may leave by `longjmp` (the fault path's
/// fill and re-execution) inside `f`: the guard would stay held. Async-
/// signal-safe: one atomic swap, no allocation, no lock.
pub fn with_engine<R>(f: impl FnOnce(&mut Engine) -> R) -> Option<R> {
    engine_scope(|e| {
        e.begin_event();
        f(e)
    })
}

/// [`with_engine`] for the kernel window's own events (its flushes, PL1
/// context events that only select it): they change nothing the user
/// windows' flush announcements are about, so they neither take nor
/// cancel one. A register write's announced flush of PL0 may come after
/// the flushes of PL1 pages the same write made (an ASID change drops the
/// kernel's non-global pages first).
pub fn with_engine_for_kernel<R>(f: impl FnOnce(&mut Engine) -> R) -> Option<R> {
    engine_scope(|e| {
        e.events += 1;
        f(e)
    })
}

/// [`with_engine`] for the fault path, which is not an event.
fn engine_scope<R>(f: impl FnOnce(&mut Engine) -> R) -> Option<R> {
    let cell = ENGINE.get()?;
    if ENGINE_IN_USE.swap(true, Ordering::Acquire) {
        EVENT_MISSED.store(true, Ordering::Relaxed);
        return None;
    }
    let _in_use = InUse;
    // SAFETY: ENGINE_IN_USE was false and is now ours until `_in_use` is
    // dropped, so this is the only reference to the engine.
    let engine = unsafe { &mut *cell.0.get() };
    if EVENT_MISSED.swap(false, Ordering::Relaxed) {
        engine.reset_all();
    }
    Some(f(engine))
}

fn has_fsgsbase() -> bool {
    const HWCAP2_FSGSBASE: libc::c_ulong = 1 << 1;
    // SAFETY: getauxval only reads the auxiliary vector.
    unsafe { libc::getauxval(libc::AT_HWCAP2) & HWCAP2_FSGSBASE != 0 }
}

/// Reserves the pool and installs the fault handler.
pub fn start(api: &'static abi::hspt_qemu_api, config: &crate::args::Config) -> Result<(), String> {
    // QEMU offers the kernel window only with precise flushes (accel_flags).
    let mut pool = if config.kernel && config.precise {
        Pool::with_kernel_window(config.slots)?
    } else {
        Pool::new(config.slots)?
    };
    pool.set_keep_evicted(config.restore);
    signal::install_handler(api, pool.address_range())?;
    inject::set_fail_injection(config.fail_every);
    let mut engine = Engine::new(pool, config.warmup_us, config.around, config.premap);
    engine.revalidate = config.revalidate;
    if ENGINE.set(EngineCell(UnsafeCell::new(engine))).is_err() {
        return Err("hspt: engine started twice".into());
    }
    Ok(())
}

impl Engine {
    fn new(pool: Pool, warmup_us: u64, around: usize, premap: bool) -> Engine {
        Engine {
            pool,
            current: None,
            kernel_active: false,
            gs_base: 0,
            use_wrgsbase: has_fsgsbase(),
            pending: SptCounters::default(),
            fills_started: 0,
            fills_returned: 0,
            stay_faults: 0,
            stay_fault_ns: 0,
            policy: Policy::new(warmup_us * 1000),
            around,
            full_flush_explained: false,
            previous_event_explains_full_flush: false,
            kernel_flush_may_revalidate: false,
            previous_event_kernel_flush_may_revalidate: false,
            kernel_remaps: RemapCounts::default(),
            revalidate: false,
            fill_in_progress: None,
            evicted: None,
            premap,
            events: 0,
        }
    }

    /// Bookkeeping at the start of each event from QEMU's hooks.
    fn begin_event(&mut self) {
        self.events += 1;
        // An announcement covers the very next event only, so one whose
        // flush did not reach us (it spared the window's MMU index) can
        // never excuse a later, unannounced flush.
        self.previous_event_explains_full_flush = std::mem::take(&mut self.full_flush_explained);
        self.previous_event_kernel_flush_may_revalidate =
            std::mem::take(&mut self.kernel_flush_may_revalidate);
    }

    /// Points GS at `base`; false if the kernel refused.
    fn set_gs(&mut self, base: usize) -> bool {
        if self.gs_base == base {
            return true;
        }
        if self.use_wrgsbase {
            // SAFETY: GS is unused by Rust, glibc (FS holds TLS) and QEMU on
            // x86-64 Linux; the kernel enabled FSGSBASE (HWCAP2), so the
            // instruction cannot fault.
            unsafe {
                std::arch::asm!("wrgsbase {}", in(reg) base, options(nostack, preserves_flags))
            };
        } else {
            const ARCH_SET_GS: libc::c_int = 0x1001;
            // SAFETY: sets this thread's GS base, which Rust, glibc and
            // QEMU leave unused on x86-64 Linux; no memory is passed to the
            // kernel.
            if unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_SET_GS, base) } != 0 {
                return false;
            }
        }
        self.gs_base = base;
        true
    }

    /// The guest enters user mode in context `ctx`: point GS at its window.
    /// Returns whether user code may use the window.
    pub fn enter_user(&mut self, ctx: &abi::hspt_arm_context) -> bool {
        ON_VCPU_THREAD.with(|t| t.set(true));
        self.current = None;
        // QEMU now selects the user window (or none) for blocks.
        self.kernel_active = false;
        self.stay_faults = 0;
        self.stay_fault_ns = 0;
        let key = WindowKey::from_context(ctx);
        let wanted = self.policy.enter(&key);
        if !wanted {
            self.pending.entries_softmmu += 1;
            return false;
        }
        let (slot, lost) = self.pool.slot_for(key);
        if let Some((k, pages)) = lost {
            self.policy.lost_window(&k, pages);
            self.evicted = Some(k.process());
        }
        if !self.set_gs(self.pool.window_base(slot)) {
            self.pending.entries_softmmu += 1;
            return false;
        }
        if self.pool.has_ghost(slot) {
            revalidate::restore(self, slot);
        } else if self.pool.is_stale(slot) {
            // A global flush reached this window: for the thrash rule it is
            // a loss, as the reset it replaces was, and the walk's time is
            // the window's cost like a fault's (policy.rs).
            let pages = revalidate::revalidate(self, slot);
            self.policy.lost_window(&key, pages);
        }
        self.current = Some(slot);
        if let Some((faulted, page)) = self.fill_in_progress.take() {
            if faulted == slot && self.premap {
                revalidate::premap(self, slot, page);
            }
        }
        true
    }

    /// An event after which the guest is at PL1: point GS at the kernel
    /// window, if there is one. Returns whether PL1 code may use it. GS
    /// stays put otherwise, so a block still running with the user window
    /// faults into a window that is not current, which the fault path
    /// resolves through the softmmu.
    pub fn enter_kernel(&mut self) -> bool {
        ON_VCPU_THREAD.with(|t| t.set(true));
        let Some(kernel) = self.pool.kernel_slot() else {
            return false;
        };
        self.kernel_active = self.set_gs(self.pool.window_base(kernel));
        self.kernel_active
    }

    /// The window a fault at `slot` is in may be used now: the user window
    /// of the current stay, or the kernel window at PL1.
    fn is_active(&self, slot: Slot) -> bool {
        self.current == Some(slot) || (self.kernel_active && self.pool.kernel_slot() == Some(slot))
    }

    fn is_kernel(&self, slot: Slot) -> bool {
        self.pool.kernel_slot() == Some(slot)
    }

    /// Leaving user mode: charge the stay to the context's policy; a
    /// context whose window thrashes goes to the softmmu for a while.
    pub fn leave_user(&mut self) {
        let used_window = self.current.take().is_some();
        if let Some(key) = self
            .policy
            .leave(used_window, self.stay_faults, self.stay_fault_ns)
        {
            self.pool.release(&key);
            self.pending.fallbacks += 1;
        }
        self.stay_faults = 0;
        self.stay_fault_ns = 0;
    }

    /// Translated code is being made from `ram_addr` (invariant
    /// `code-pages-read-only`).
    pub fn protect_code(&mut self, ram_addr: u64) {
        self.pending.code_protects += self.pool.protect_code(ram_addr);
    }

    /// Windows of user address spaces (the report's slot count).
    pub fn user_slot_count(&self) -> usize {
        self.pool.user_slot_count()
    }

    /// Pool-wide counters for the report (the faults are counted per
    /// process, in `SptCounters`).
    pub fn report_stats(&self) -> pool::PoolStats {
        self.pool.stats()
    }

    /// The context that lost its window to the last user-mode entry.
    pub fn take_evicted(&mut self) -> Option<crate::context::ProcessKey> {
        self.evicted.take()
    }

    /// Counters since the last call, for the current process.
    pub fn take_counters(&mut self) -> SptCounters {
        let mut c = std::mem::take(&mut self.pending);
        c.guest_faults += self.fills_started - self.fills_returned;
        self.fills_started = self.fills_returned;
        c
    }
}

#[cfg(test)]
#[path = "tests/engine.rs"]
mod tests;
