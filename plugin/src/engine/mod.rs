//! The HSPT engine: guest user-mode loads and stores go straight through a
//! 4 GiB host window per guest address space, and the kernel's loads and
//! stores of global translations through one more, shared by all of them
//! (`kernel=on`), which mirrors QEMU's flushes of the PL1 MMU index.
//!
//! - [`pool`]: the windows, their mappings, the reverse map, the VMA budget;
//! - [`fault`]: the fault path (SIGSEGV in a window -> map, guest fault,
//!   or re-execution through the softmmu);
//! - [`policy`]: which contexts use a window (warm-up, thrash fallback);
//! - this file: the one way into the engine ([`with_engine`]), the flush
//!   path (what each TLB maintenance kind and each of QEMU's own flushes
//!   unmaps) and the window switch on user-mode entry.
//!
//! Single vCPU only (refused otherwise): all engine state is touched by the
//! vCPU thread, in hooks or in the SIGSEGV handler, and by the exit report
//! after the vCPUs stopped. [`with_engine`] is the only access, and its
//! guard makes a second live `&mut Engine` impossible: a nested call (a hook
//! while the fault handler holds the engine) gets `None`, and the engine
//! then treats every window as invalidated before it is used again.

pub mod fault;
mod inject;
mod kernel_window;
mod keys;
mod mapping;
pub mod policy;
pub mod pool;
mod signal_safe;
mod table;

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use hspt_shim as abi;

use kernel_window::RemapCounts;
use policy::Policy;
use pool::{Pool, Slot, WindowKey};

/// A softmmu range flush of more pages than this resets every window
/// instead of unmapping page by page.
const LARGE_FLUSH_PAGES: u64 = 1024;

/// Per-process SPT counters, charged to the current process at each hook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SptCounters {
    /// Faults on a page not mapped in the window.
    pub miss_unmapped: u64,
    /// Faults writing a page mapped read-only.
    pub miss_permission: u64,
    /// Writes to a page holding translated code (run through the softmmu).
    pub miss_code: u64,
    /// MMIO, ROM, watchpoints, the top of the address space (softmmu).
    pub miss_special: u64,
    /// Faults that were the guest's own page faults.
    pub guest_faults: u64,
    pub pages_mapped: u64,
    /// Of those, pages mapped by fault-around with a faulting neighbour.
    pub pages_around: u64,
    /// Pages mapped on the way back to user mode after a window fault
    /// became the guest's page fault (saving the retry's second fault).
    pub pages_premapped: u64,
    /// User-mode entries that ran through the softmmu (warm-up, fallback).
    pub entries_softmmu: u64,
    /// Times the context was moved to the softmmu because its window
    /// thrashed (evicted again and again, refaulting).
    pub fallbacks: u64,
    /// Pages unmapped and windows reset by TLB maintenance and flushes.
    pub pages_invalidated: u64,
    pub windows_reset: u64,
    /// Mappings made read-only because code was translated from the page.
    pub code_protects: u64,
    /// Window faults taken, and the fault handler's time on them (signal
    /// delivery not included; a fault that became the guest's own page
    /// fault leaves the handler without its time being taken).
    pub faults: u64,
    pub fault_ns: u64,
    /// Times the context's window was taken by another (LRU eviction).
    pub evictions: u64,
    /// Stale windows revalidated on entry to user mode after a global
    /// flush, and the mappings they kept (read-only ones included).
    pub revalidations: u64,
    pub pages_kept: u64,
    /// Time those revalidations took (the probes and the unmaps).
    pub revalidation_ns: u64,
    /// New windows of contexts whose evicted window's pages were mapped
    /// again at once ([`pool::Pool::restore`]), those pages, and the time.
    pub restorations: u64,
    pub pages_restored: u64,
    pub restoration_ns: u64,
    /// The kernel window (`kernel=on`): faults on it, the handler's time on
    /// them, the pages they mapped, the faulting accesses run through the
    /// softmmu instead (to user memory: non-global translations; special
    /// memory; stores to code pages), and its resets (full softmmu flushes
    /// of the PL1 index).
    pub kernel_faults: u64,
    pub kernel_fault_ns: u64,
    pub kernel_pages_mapped: u64,
    pub kernel_softmmu_user: u64,
    pub kernel_softmmu_special: u64,
    pub kernel_softmmu_code: u64,
    /// ... and accesses to pages remapped too often ([`RemapCounts`]).
    pub kernel_softmmu_remapped: u64,
    pub kernel_resets: u64,
    /// Revalidations of the kernel window after TLBIALL (instead of a
    /// reset), the pages they kept, and their time.
    pub kernel_revalidations: u64,
    /// (pages checked one by one; sections checked whole)
    pub kernel_pages_kept: u64,
    pub kernel_sections_kept: u64,
    pub kernel_revalidation_ns: u64,
}

impl SptCounters {
    pub fn add(&mut self, o: &SptCounters) {
        self.miss_unmapped += o.miss_unmapped;
        self.miss_permission += o.miss_permission;
        self.miss_code += o.miss_code;
        self.miss_special += o.miss_special;
        self.guest_faults += o.guest_faults;
        self.entries_softmmu += o.entries_softmmu;
        self.fallbacks += o.fallbacks;
        self.pages_mapped += o.pages_mapped;
        self.pages_around += o.pages_around;
        self.pages_premapped += o.pages_premapped;
        self.pages_invalidated += o.pages_invalidated;
        self.windows_reset += o.windows_reset;
        self.code_protects += o.code_protects;
        self.faults += o.faults;
        self.fault_ns += o.fault_ns;
        self.evictions += o.evictions;
        self.revalidations += o.revalidations;
        self.pages_kept += o.pages_kept;
        self.revalidation_ns += o.revalidation_ns;
        self.restorations += o.restorations;
        self.pages_restored += o.pages_restored;
        self.restoration_ns += o.restoration_ns;
        self.kernel_faults += o.kernel_faults;
        self.kernel_fault_ns += o.kernel_fault_ns;
        self.kernel_pages_mapped += o.kernel_pages_mapped;
        self.kernel_softmmu_user += o.kernel_softmmu_user;
        self.kernel_softmmu_special += o.kernel_softmmu_special;
        self.kernel_softmmu_code += o.kernel_softmmu_code;
        self.kernel_softmmu_remapped += o.kernel_softmmu_remapped;
        self.kernel_resets += o.kernel_resets;
        self.kernel_revalidations += o.kernel_revalidations;
        self.kernel_pages_kept += o.kernel_pages_kept;
        self.kernel_sections_kept += o.kernel_sections_kept;
        self.kernel_revalidation_ns += o.kernel_revalidation_ns;
    }

    /// Faults that ended in a completed access (each one access).
    pub fn misses(&self) -> u64 {
        self.miss_unmapped + self.miss_permission + self.miss_code + self.miss_special
    }
}

pub struct Engine {
    pub pool: Pool,
    /// The window GS points at while the guest is in user mode.
    current: Option<Slot>,
    /// GS points at the kernel window and QEMU lets PL1 blocks use it
    /// (set at PL1 events, cleared on entry to user mode).
    kernel_active: bool,
    gs_base: usize,
    use_wrgsbase: bool,
    /// Counters since the last hook (the fault path cannot lock).
    pub pending: SptCounters,
    /// Fills started; those that did not return were guest faults.
    fills_started: u64,
    fills_returned: u64,
    /// Faults taken in the window during the current user-mode stay, and
    /// the time the fault handler spent on them.
    stay_faults: u64,
    stay_fault_ns: u64,
    pub policy: Policy,
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
    /// while it translated (invariant 6) does not map what it found.
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
/// was lost, so every window is reset before the engine is used again.
static EVENT_MISSED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Set on the thread that runs the vCPU; the fault handler ignores
    /// faults on any other thread (they are real crashes).
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
    fault::install_handler(api, pool.address_range())?;
    inject::set_fail_injection(config.fail_every);
    let mut engine = Engine::new(pool, config.warmup_us, config.around, config.premap);
    engine.revalidate = config.revalidate;
    if ENGINE.set(EngineCell(UnsafeCell::new(engine))).is_err() {
        return Err("hspt: engine started twice".into());
    }
    Ok(())
}

/// The pages of a softmmu range flush, or None if there are too many to
/// unmap one by one (the window is reset instead).
fn flushed_pages(vaddr: u64, len: u64) -> Option<impl Iterator<Item = u32>> {
    let first = vaddr & !(pool::PAGE as u64 - 1);
    let end = vaddr.saturating_add(len).min(pool::WINDOW_SIZE as u64);
    ((end.saturating_sub(first)) / pool::PAGE as u64 <= LARGE_FLUSH_PAGES)
        .then(|| (first..end).step_by(pool::PAGE).map(|p| p as u32))
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
            // SAFETY: sets this thread's GS base, which nothing else uses
            // (see above); no memory is passed to the kernel.
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
        // LPAE guests are not covered by the window key yet.
        let wanted = ctx.long_desc == 0 && self.policy.enter(&key);
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
            fault::restore(self, slot);
        } else if self.pool.is_stale(slot) {
            // A global flush reached this window: for the thrash rule it is
            // a loss, as the reset it replaces was, and the walk's time is
            // the window's cost like a fault's (policy.rs).
            let pages = fault::revalidate(self, slot);
            self.policy.lost_window(&key, pages);
        }
        self.current = Some(slot);
        if let Some((faulted, page)) = self.fill_in_progress.take() {
            if faulted == slot && self.premap {
                fault::premap(self, slot, page);
            }
        }
        true
    }

    /// An event after which the guest is at PL1: point GS at the kernel
    /// window, if there is one. Returns whether PL1 code may use it. GS
    /// stays put otherwise, so a block still running with the user window
    /// faults into a window that is not current, which the fault path
    /// resolves through the softmmu.
    pub fn enter_kernel(&mut self, ctx: &abi::hspt_arm_context) -> bool {
        ON_VCPU_THREAD.with(|t| t.set(true));
        let Some(kernel) = self.pool.kernel_slot() else {
            return false;
        };
        // LPAE guests are not covered yet (as for user windows).
        self.kernel_active = ctx.long_desc == 0 && self.set_gs(self.pool.window_base(kernel));
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

    /// The flush path: what guest TLB maintenance unmaps (invariant 3).
    pub fn tlb_maintenance(&mut self, kind: u32, operand: u64) {
        let vaddr = (operand as u32) & !0xfff;
        let asid = (operand & 0xff) as u16;
        match kind {
            // By MVA (with ASID, or all ASIDs): that page, in every user
            // window. TLBIMVA also removes global entries of any ASID, so
            // all windows, not only the ASID's, may hold it. The kernel
            // window's goes with QEMU's flush of the page that follows.
            abi::HSPT_TLBI_MVA
            | abi::HSPT_TLBI_MVA_IS
            | abi::HSPT_TLBI_MVAA
            | abi::HSPT_TLBI_MVAA_IS => {
                self.pending.pages_invalidated += self.pool.unmap_user_page(vaddr);
            }
            abi::HSPT_TLBI_ASID | abi::HSPT_TLBI_ASID_IS => self.global_flush(|k| k.asid == asid),
            abi::HSPT_TLBI_ALL | abi::HSPT_TLBI_ALL_IS => self.global_flush(|_| true),
            _ => self.reset_all(),
        }
        self.kernel_flush_may_revalidate = matches!(
            kind,
            abi::HSPT_TLBI_ALL
                | abi::HSPT_TLBI_ALL_IS
                | abi::HSPT_TLBI_ASID
                | abi::HSPT_TLBI_ASID_IS
        );
        // Each of these is followed by a full softmmu flush (the by-MVA and
        // hypervisor forms by page or range flushes, which explain nothing).
        self.full_flush_explained = matches!(
            kind,
            abi::HSPT_TLBI_ALL
                | abi::HSPT_TLBI_ALL_IS
                | abi::HSPT_TLBI_ASID
                | abi::HSPT_TLBI_ASID_IS
        );
    }

    /// A guest TLBIALL, or TLBIASID (`pred` picks the windows of its
    /// ASID): with `revalidate`, the windows keep their mappings until their
    /// context next enters user mode, which checks each against the guest's
    /// tables then (a TLB may reload any valid translation at any time);
    /// else they are reset.
    fn global_flush(&mut self, pred: impl Fn(&WindowKey) -> bool) {
        let policy = &mut self.policy;
        if self.revalidate {
            let (_, reset) = self
                .pool
                .mark_stale_where(pred, |k, n| policy.lost_window(&k, n));
            self.pending.windows_reset += reset;
        } else {
            self.pending.windows_reset += self
                .pool
                .reset_where(pred, |k, n| policy.lost_window(&k, n));
        }
    }

    /// Every window loses its mappings, the kernel window too.
    fn reset_all(&mut self) {
        self.reset_user_windows();
        self.reset_kernel_window();
    }

    /// Every user window loses its mappings; the contexts that owned
    /// populated ones learn it (a kernel that flushes everything on each
    /// fork, as Debian's does for ARM erratum 720789, makes windows thrash).
    fn reset_user_windows(&mut self) {
        let policy = &mut self.policy;
        self.pending.windows_reset += self
            .pool
            .reset_user_windows(|k, n| policy.lost_window(&k, n));
    }

    fn reset_kernel_window(&mut self) {
        if let Some(kernel) = self.pool.kernel_slot() {
            if self.pool.mapped_pages(kernel) > 0 {
                self.pool.reset(kernel);
                self.pending.kernel_resets += 1;
            }
        }
    }

    /// QEMU's own flushes. DACR, CONTEXTIDR and TTBR (ASID) changes are
    /// part of the window key: nothing to drop. The rest may change any
    /// translation: drop everything.
    pub fn qemu_flush(&mut self, reason: u32) {
        match reason {
            abi::HSPT_FLUSH_DACR | abi::HSPT_FLUSH_CONTEXTIDR | abi::HSPT_FLUSH_TTBR => {}
            _ => self.reset_all(),
        }
        // Every reported register write is followed by tlb_flush().
        self.full_flush_explained = true;
        // Short-descriptor ASID changes only; LPAE's (TTBR, TTBCR) are
        // left as they were.
        self.kernel_flush_may_revalidate = reason == abi::HSPT_FLUSH_CONTEXTIDR;
    }

    /// QEMU's softmmu dropped its entries for [vaddr, vaddr + len) of the
    /// window's MMU index (len 0: all). Page and range flushes unmap those
    /// pages (again, for the guest's TLBIMVA*: cheap, nothing is mapped
    /// any more). A full flush right after a guest TLBIALL/TLBIASID or a
    /// register write reported before it was dealt with then (the window
    /// key covers DACR, CONTEXTIDR, TTBR); any other drops everything.
    pub fn softmmu_flush(&mut self, vaddr: u64, len: u64) {
        if len == 0 {
            if !self.previous_event_explains_full_flush {
                self.reset_user_windows();
            }
            // The same flush's report for the PL1 index comes next.
            self.kernel_flush_may_revalidate = self.previous_event_kernel_flush_may_revalidate;
            return;
        }
        let Some(pages) = flushed_pages(vaddr, len) else {
            self.reset_user_windows();
            return;
        };
        for page in pages {
            self.pending.pages_invalidated += self.pool.unmap_user_page(page);
        }
    }

    /// The same for the kernel window and the PL1 MMU index. It mirrors
    /// every flush: nothing is explained away, since the kernel window is
    /// not keyed by any register (a DACR write's flush of the domains that
    /// changed and an ASID change's of the non-global pages arrive here
    /// page by page, or as a full flush). The full flush of a guest
    /// TLBIALL, or of an ASID change or TLBIASID without `keep_global`,
    /// with `revalidate`, keeps the mappings whose translation the
    /// guest's tables still give, checked at once (QEMU reports the flush
    /// after the guest's TLB maintenance is done and before the next
    /// kernel access: at this point a TLB may load any valid translation).
    pub fn kernel_softmmu_flush(&mut self, vaddr: u64, len: u64) {
        let Some(kernel) = self.pool.kernel_slot() else {
            return;
        };
        let may_revalidate = self.take_kernel_flush_may_revalidate();
        if len == 0
            && may_revalidate
            && self.revalidate
            && self.pool.mapped_pages(kernel) > 0
            && self.pool.is_listed(kernel)
            && fault::revalidate_kernel(self, kernel)
        {
            return;
        }
        match flushed_pages(vaddr, len).filter(|_| len != 0) {
            Some(pages) => {
                for page in pages {
                    let unmapped = self.pool.unmap_kernel_page(page);
                    if unmapped > 0 {
                        self.kernel_remaps.note(pool::GuestPage::containing(page));
                    }
                    self.pending.pages_invalidated += unmapped;
                }
            }
            None => self.reset_kernel_window(),
        }
    }

    /// Whether the next full flush of the PL1 index may revalidate the
    /// kernel window instead of resetting it: it follows a guest TLBIALL,
    /// or an ASID change or TLBIASID that QEMU answered with a full flush
    /// (`keep_global=off`). Revalidation is sound after any flush (a TLB
    /// may load any translation the tables give now), so a stale flag
    /// costs a check, never a wrong mapping. Consumes the flag.
    fn take_kernel_flush_may_revalidate(&mut self) -> bool {
        std::mem::take(&mut self.kernel_flush_may_revalidate)
    }

    /// Translated code is being made from `ram_addr` (invariant 4).
    pub fn protect_code(&mut self, ram_addr: u64) {
        self.pending.code_protects += self.pool.protect_code(ram_addr);
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
mod tests {
    //! The flush dispatch: what each TLB maintenance kind, QEMU flush and
    //! softmmu flush report unmaps, on real mappings of a memfd.
    use super::pool::tests::{fill, guest_ram, key, serial};
    use super::pool::{GuestPage, Pool, Slot};
    use super::*;

    /// An engine with two windows: ASID 5 maps guest pages 1 and 2, ASID 6
    /// maps page 1, all from RAM page 3.
    fn engine_with_two_windows() -> (Engine, Slot, Slot, std::os::fd::OwnedFd) {
        let ram = guest_ram();
        let mut e = Engine::new(Pool::new(2).unwrap(), 0, 1, false);
        let (a, _) = e.pool.slot_for(key(5));
        let (b, _) = e.pool.slot_for(key(6));
        let f = fill(&ram, 3, false, 12);
        e.pool.map_run(a, GuestPage::from_index(1), 1, &f).unwrap();
        e.pool.map_run(a, GuestPage::from_index(2), 1, &f).unwrap();
        e.pool.map_run(b, GuestPage::from_index(1), 1, &f).unwrap();
        (e, a, b, ram)
    }

    /// `e`, with the bookkeeping `with_engine` does before each event.
    fn ev(e: &mut Engine) -> &mut Engine {
        e.begin_event();
        e
    }

    fn mapped(e: &Engine, slot: Slot, page: usize) -> bool {
        e.pool.is_mapped(slot, GuestPage::from_index(page))
    }

    #[test]
    fn tlbimva_unmaps_the_page_in_every_window() {
        let _serial = serial();
        for kind in [
            abi::HSPT_TLBI_MVA,
            abi::HSPT_TLBI_MVA_IS,
            abi::HSPT_TLBI_MVAA,
            abi::HSPT_TLBI_MVAA_IS,
        ] {
            let (mut e, a, b, _ram) = engine_with_two_windows();
            // TLBIMVA names ASID 5, but global entries of any ASID go too.
            ev(&mut e).tlb_maintenance(kind, 0x1000 | 5);
            assert!(!mapped(&e, a, 1) && !mapped(&e, b, 1), "kind {kind}");
            assert!(mapped(&e, a, 2), "kind {kind}: another page stays");
        }
    }

    #[test]
    fn tlbiasid_resets_only_that_asids_window() {
        let _serial = serial();
        let (mut e, a, b, _ram) = engine_with_two_windows();
        ev(&mut e).tlb_maintenance(abi::HSPT_TLBI_ASID, 5);
        assert!(!mapped(&e, a, 1) && !mapped(&e, a, 2));
        assert!(mapped(&e, b, 1));
    }

    #[test]
    fn tlbiall_and_other_forms_reset_everything() {
        let _serial = serial();
        for kind in [
            abi::HSPT_TLBI_ALL,
            abi::HSPT_TLBI_ALL_IS,
            abi::HSPT_TLBI_OTHER,
        ] {
            let (mut e, a, b, _ram) = engine_with_two_windows();
            ev(&mut e).tlb_maintenance(kind, 0);
            assert!(!mapped(&e, a, 1) && !mapped(&e, b, 1), "kind {kind}");
        }
    }

    #[test]
    fn with_revalidation_global_flushes_mark_windows_stale() {
        let _serial = serial();
        for (kind, operand, both) in [
            (abi::HSPT_TLBI_ALL, 0, true),
            (abi::HSPT_TLBI_ALL_IS, 0, true),
            (abi::HSPT_TLBI_ASID, 5, false),
            (abi::HSPT_TLBI_ASID_IS, 5, false),
        ] {
            let (mut e, a, b, _ram) = engine_with_two_windows();
            e.revalidate = true;
            ev(&mut e).tlb_maintenance(kind, operand);
            assert!(mapped(&e, a, 1) && mapped(&e, b, 1), "kind {kind}");
            assert!(e.pool.is_stale(a), "kind {kind}");
            assert_eq!(e.pool.is_stale(b), both, "kind {kind}");
            // The rest still resets: those may change any translation.
            ev(&mut e).tlb_maintenance(abi::HSPT_TLBI_OTHER, 0);
            assert!(!mapped(&e, a, 1) && !mapped(&e, b, 1), "kind {kind}");
        }
    }

    /// A user-mode context of ASID `asid` (short descriptors).
    fn user_context(asid: u8) -> abi::hspt_arm_context {
        abi::hspt_arm_context {
            contextidr: asid.into(),
            mode: abi::HSPT_ARM_MODE_USR,
            ..Default::default()
        }
    }

    #[test]
    fn a_flushed_window_whose_work_outweighs_its_stay_falls_back() {
        let _serial = serial();
        let ram = guest_ram();
        let ctx = user_context(5);
        let k = WindowKey::from_context(&ctx);
        let stay = |e: &mut Engine, window_ns: u64| {
            let used = e.enter_user(&ctx);
            e.stay_fault_ns += window_ns;
            std::thread::sleep(std::time::Duration::from_millis(11));
            e.leave_user();
            used
        };
        for flushed in [false, true] {
            let mut e = Engine::new(Pool::new(2).unwrap(), 0, 1, false);
            e.revalidate = true;
            let (a, _) = e.pool.slot_for(k);
            for p in 0..32 {
                let f = fill(&ram, 3 + p, false, 12);
                e.pool.map_run(a, GuestPage::from_index(p), 1, &f).unwrap();
            }
            assert!(stay(&mut e, 0), "no warm-up: the window is used");
            if flushed {
                // Revalidated at the next entry (reset here: no probe).
                ev(&mut e).tlb_maintenance(abi::HSPT_TLBI_ALL, 0);
            }
            // Window work (faults, the revalidation) of 50 ms in a stay of
            // 11 ms or a little more: far over a quarter of it, however
            // late the sleep returns.
            stay(&mut e, 50_000_000);
            let fallbacks = e.take_counters().fallbacks;
            assert_eq!(fallbacks, flushed as u64, "flushed: {flushed}");
        }
    }

    #[test]
    fn key_register_writes_keep_windows_others_reset_them() {
        let _serial = serial();
        for reason in [
            abi::HSPT_FLUSH_DACR,
            abi::HSPT_FLUSH_CONTEXTIDR,
            abi::HSPT_FLUSH_TTBR,
        ] {
            let (mut e, a, _b, _ram) = engine_with_two_windows();
            ev(&mut e).qemu_flush(reason);
            ev(&mut e).softmmu_flush(0, 0);
            assert!(mapped(&e, a, 1), "reason {reason}: part of the window key");
        }
        for reason in [
            abi::HSPT_FLUSH_TTBCR,
            abi::HSPT_FLUSH_SCTLR,
            abi::HSPT_FLUSH_FCSEIDR,
            abi::HSPT_FLUSH_MEMORY_MAP,
        ] {
            let (mut e, a, b, _ram) = engine_with_two_windows();
            ev(&mut e).qemu_flush(reason);
            assert!(!mapped(&e, a, 1) && !mapped(&e, b, 1), "reason {reason}");
        }
    }

    #[test]
    fn unexplained_softmmu_flushes_unmap() {
        let _serial = serial();
        // A full flush nobody announced (a CPU reset, the debugger).
        let (mut e, a, b, _ram) = engine_with_two_windows();
        ev(&mut e).softmmu_flush(0, 0);
        assert!(!mapped(&e, a, 1) && !mapped(&e, b, 1));
        // A page flush (a watchpoint inserted or removed): that page only.
        let (mut e, a, b, _ram) = engine_with_two_windows();
        ev(&mut e).softmmu_flush(0x1004, 4);
        assert!(!mapped(&e, a, 1) && !mapped(&e, b, 1));
        assert!(mapped(&e, a, 2));
        // A range across two pages.
        let (mut e, a, _b, _ram) = engine_with_two_windows();
        ev(&mut e).softmmu_flush(0x1ffc, 8);
        assert!(!mapped(&e, a, 1) && !mapped(&e, a, 2));
    }

    /// An engine with one user window (ASID 5, page 1) and the kernel
    /// window (pages 1 and 0xc0000), all from RAM page 3.
    fn engine_with_kernel_window() -> (Engine, Slot, Slot, std::os::fd::OwnedFd) {
        let ram = guest_ram();
        let mut e = Engine::new(Pool::with_kernel_window(1).unwrap(), 0, 1, false);
        let (a, _) = e.pool.slot_for(key(5));
        let k = e.pool.kernel_slot().unwrap();
        assert_ne!(a, k);
        let f = fill(&ram, 3, false, 12);
        e.pool.map_run(a, GuestPage::from_index(1), 1, &f).unwrap();
        e.pool.map_run(k, GuestPage::from_index(1), 1, &f).unwrap();
        e.pool
            .map_run(k, GuestPage::from_index(0xc0000), 1, &f)
            .unwrap();
        (e, a, k, ram)
    }

    #[test]
    fn the_kernel_window_mirrors_pl1_flushes_only() {
        let _serial = serial();
        // A PL1 page flush (a DACR write's, an ASID change's non-global
        // pages): the kernel window's page, not the user window's.
        let (mut e, a, k, _ram) = engine_with_kernel_window();
        ev(&mut e).kernel_softmmu_flush(0x1000, 0x1000);
        assert!(!mapped(&e, k, 1) && mapped(&e, k, 0xc0000));
        assert!(mapped(&e, a, 1), "a PL1 flush spares user windows");
        // A PL1 full flush resets it, explained or not: it has no key.
        let (mut e, a, k, _ram) = engine_with_kernel_window();
        e.revalidate = true;
        ev(&mut e).tlb_maintenance(abi::HSPT_TLBI_ALL, 0);
        ev(&mut e).kernel_softmmu_flush(0, 0);
        assert!(!mapped(&e, k, 1) && !mapped(&e, k, 0xc0000));
        assert_eq!(e.take_counters().kernel_resets, 1);
        assert!(mapped(&e, a, 1), "the user window is only marked stale");
        // PL0 flushes, full or by page, leave the kernel window alone.
        let (mut e, a, k, _ram) = engine_with_kernel_window();
        ev(&mut e).softmmu_flush(0x1000, 0x1000);
        assert!(!mapped(&e, a, 1) && mapped(&e, k, 1));
        ev(&mut e).softmmu_flush(0, 0);
        assert!(mapped(&e, k, 1));
        // A large range: reset, not page by page.
        let (mut e, _a, k, _ram) = engine_with_kernel_window();
        ev(&mut e).kernel_softmmu_flush(0, 1 << 30);
        assert!(!mapped(&e, k, 0xc0000));
    }

    #[test]
    fn a_page_unmapped_again_and_again_becomes_volatile() {
        let mut counts = RemapCounts::default();
        let slot = GuestPage::containing(0xffe7_e000);
        for _ in 0..RemapCounts::VOLATILE - 1 {
            counts.note(slot);
        }
        assert!(!counts.is_volatile(slot));
        counts.note(slot);
        assert!(counts.is_volatile(slot));
        assert!(!counts.is_volatile(GuestPage::containing(0xffe7_f000)));
    }

    #[test]
    fn kernel_window_events_keep_a_flush_announcement() {
        let _serial = serial();
        // An ASID change: announced, then QEMU drops the kernel's
        // non-global pages (PL1 page flushes), then flushes PL0 whole.
        let (mut e, a, _k, _ram) = engine_with_kernel_window();
        ev(&mut e).qemu_flush(abi::HSPT_FLUSH_CONTEXTIDR);
        // As with_engine_for_kernel: no begin_event.
        e.kernel_softmmu_flush(0x7000, 0x1000);
        ev(&mut e).softmmu_flush(0, 0);
        assert!(mapped(&e, a, 1), "the announced flush, after kernel events");
        ev(&mut e).softmmu_flush(0, 0);
        assert!(!mapped(&e, a, 1), "a second one is not announced");
    }

    #[test]
    fn guest_tlb_maintenance_leaves_the_kernel_window_to_qemus_flushes() {
        let _serial = serial();
        for (kind, operand) in [
            (abi::HSPT_TLBI_ASID, 5),
            (abi::HSPT_TLBI_ASID_IS, 5),
            (abi::HSPT_TLBI_ALL, 0),
        ] {
            let (mut e, a, k, _ram) = engine_with_kernel_window();
            ev(&mut e).tlb_maintenance(kind, operand);
            assert!(!mapped(&e, a, 1), "kind {kind}");
            assert!(mapped(&e, k, 1), "kind {kind}: QEMU's PL1 flush decides");
        }
        let (mut e, a, k, _ram) = engine_with_kernel_window();
        ev(&mut e).tlb_maintenance(abi::HSPT_TLBI_MVAA, 0x1000);
        assert!(!mapped(&e, a, 1) && mapped(&e, k, 1));
        ev(&mut e).kernel_softmmu_flush(0x1000, 0x1000);
        assert!(!mapped(&e, k, 1), "QEMU's flush of the page");
        // Register writes that may change any translation reset both.
        let (mut e, a, k, _ram) = engine_with_kernel_window();
        ev(&mut e).qemu_flush(abi::HSPT_FLUSH_SCTLR);
        assert!(!mapped(&e, a, 1) && !mapped(&e, k, 1) && !mapped(&e, k, 0xc0000));
    }

    #[test]
    fn asid_changes_let_the_kernel_window_revalidate_at_the_next_full_flush() {
        let _serial = serial();
        // Without keep_global, QEMU follows an ASID change and a TLBIASID
        // with full flushes of PL0, then PL1: the PL1 one may revalidate.
        let (mut e, _a, _k, _ram) = engine_with_kernel_window();
        ev(&mut e).qemu_flush(abi::HSPT_FLUSH_CONTEXTIDR);
        ev(&mut e).softmmu_flush(0, 0);
        assert!(e.take_kernel_flush_may_revalidate());
        assert!(!e.take_kernel_flush_may_revalidate(), "once");
        let (mut e, _a, _k, _ram) = engine_with_kernel_window();
        ev(&mut e).tlb_maintenance(abi::HSPT_TLBI_ASID_IS, 5);
        ev(&mut e).softmmu_flush(0, 0);
        assert!(e.take_kernel_flush_may_revalidate());
        // Not after any other register write, nor past the next event.
        for reason in [
            abi::HSPT_FLUSH_DACR,
            abi::HSPT_FLUSH_TTBR,
            abi::HSPT_FLUSH_TTBCR,
            abi::HSPT_FLUSH_SCTLR,
        ] {
            let (mut e, _a, _k, _ram) = engine_with_kernel_window();
            ev(&mut e).qemu_flush(reason);
            ev(&mut e).softmmu_flush(0, 0);
            assert!(!e.take_kernel_flush_may_revalidate(), "reason {reason}");
        }
        let (mut e, _a, _k, _ram) = engine_with_kernel_window();
        ev(&mut e).qemu_flush(abi::HSPT_FLUSH_CONTEXTIDR);
        ev(&mut e).softmmu_flush(0, 0);
        ev(&mut e).tlb_maintenance(abi::HSPT_TLBI_MVA, 0x1000);
        assert!(!e.take_kernel_flush_may_revalidate(), "past another event");
        // Without the probe QEMU gives, a full flush still resets.
        let (mut e, _a, k, _ram) = engine_with_kernel_window();
        e.revalidate = true;
        ev(&mut e).qemu_flush(abi::HSPT_FLUSH_CONTEXTIDR);
        ev(&mut e).softmmu_flush(0, 0);
        e.kernel_softmmu_flush(0, 0);
        assert!(!mapped(&e, k, 1));
    }

    #[test]
    fn the_kernel_window_is_outside_the_lru() {
        let _serial = serial();
        let (mut e, _a, k, _ram) = engine_with_kernel_window();
        // More contexts than user windows: they take each other's window.
        for asid in 6..10 {
            let (slot, _) = e.pool.slot_for(key(asid));
            assert_ne!(slot, k);
        }
        assert!(mapped(&e, k, 1));
    }

    #[test]
    fn pl1_code_gets_the_kernel_window_until_user_mode() {
        let _serial = serial();
        let (mut e, _a, k, _ram) = engine_with_kernel_window();
        let kernel_ctx = abi::hspt_arm_context {
            mode: 0x13,
            ..Default::default()
        };
        assert!(e.enter_kernel(&kernel_ctx));
        assert!(e.is_active(k));
        e.enter_user(&user_context(5));
        assert!(!e.is_active(k), "user code never uses the kernel window");
        // Not for LPAE, and not without a kernel window.
        let lpae = abi::hspt_arm_context {
            long_desc: 1,
            ..kernel_ctx
        };
        assert!(!e.enter_kernel(&lpae) && !e.is_active(k));
        let mut plain = Engine::new(Pool::new(1).unwrap(), 0, 1, false);
        assert!(!plain.enter_kernel(&kernel_ctx));
    }

    #[test]
    fn an_explanation_covers_one_full_flush_only() {
        let _serial = serial();
        let (mut e, a, _b, _ram) = engine_with_two_windows();
        ev(&mut e).qemu_flush(abi::HSPT_FLUSH_DACR);
        ev(&mut e).softmmu_flush(0, 0);
        assert!(mapped(&e, a, 1), "the DACR write's own flush");
        ev(&mut e).softmmu_flush(0, 0);
        assert!(!mapped(&e, a, 1), "a second full flush is not explained");
        // Any other event in between cancels the explanation.
        let (mut e, a, _b, _ram) = engine_with_two_windows();
        ev(&mut e).qemu_flush(abi::HSPT_FLUSH_DACR);
        ev(&mut e).protect_code(0x7000);
        ev(&mut e).softmmu_flush(0, 0);
        assert!(!mapped(&e, a, 1));
        // A page flush in between cancels the explanation.
        let (mut e, a, _b, _ram) = engine_with_two_windows();
        ev(&mut e).qemu_flush(abi::HSPT_FLUSH_DACR);
        ev(&mut e).softmmu_flush(0x2000, 0x1000);
        ev(&mut e).softmmu_flush(0, 0);
        assert!(!mapped(&e, a, 1));
    }
}
