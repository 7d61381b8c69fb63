//! The HSPT engine: guest user-mode loads and stores go straight through a
//! 4 GiB host window per guest address space.
//!
//! - [`pool`]: the windows, their mappings, the reverse map, the VMA budget;
//! - [`fault`]: the fault path (SIGSEGV in a window -> map, guest fault,
//!   or re-execution through the softmmu);
//! - [`policy`]: which contexts use a window (warm-up, thrash fallback);
//! - this file: the flush path (what each TLB maintenance kind and each of
//!   QEMU's own flushes unmaps) and the window switch on user-mode entry.
//!
//! Single vCPU only (refused otherwise): all engine state is touched by the
//! vCPU thread alone, in hooks or in the SIGSEGV handler, which never run
//! at the same time (the handler only runs for faults in generated code).

pub mod fault;
pub mod policy;
pub mod pool;

use std::cell::UnsafeCell;
use std::sync::OnceLock;

use hspt_shim as abi;

use policy::Policy;
use pool::{Pool, WindowKey};

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
        self.pages_invalidated += o.pages_invalidated;
        self.windows_reset += o.windows_reset;
        self.code_protects += o.code_protects;
    }

    /// Faults that ended in a completed access (each one access).
    pub fn misses(&self) -> u64 {
        self.miss_unmapped + self.miss_permission + self.miss_code + self.miss_special
    }
}

pub struct Engine {
    pub pool: Pool,
    api: &'static abi::hspt_qemu_api,
    /// The window GS points at while the guest is in user mode.
    current: Option<usize>,
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
    /// All faults and handler time, for the report.
    faults_total: u64,
    fault_ns_total: u64,
    pub policy: Policy,
    /// Fault-around block, in pages (1 = off); a power of two.
    around: usize,
}

struct EngineCell(UnsafeCell<Engine>);
// SAFETY: only the (single) vCPU thread touches the engine while the guest
// runs, from hooks and from its SIGSEGV handler, never both at once; the
// exit report reads it after the vCPUs stopped. See the module comment.
unsafe impl Sync for EngineCell {}
// SAFETY: the raw pointers inside point at process-wide mappings, valid on
// any thread; access is serialised as said above.
unsafe impl Send for EngineCell {}

static ENGINE: OnceLock<EngineCell> = OnceLock::new();

thread_local! {
    /// Set on the thread that runs the vCPU; the fault handler ignores
    /// faults on any other thread (they are real crashes).
    pub static ON_VCPU_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The engine, if acceleration is on.
///
/// # Safety
/// Only from the vCPU thread (hooks, fault handler) or after the vCPUs
/// stopped, and never while another reference from this function is live.
#[allow(clippy::mut_from_ref)]
pub unsafe fn engine() -> Option<&'static mut Engine> {
    // SAFETY: exclusive access as the caller guarantees.
    ENGINE.get().map(|c| unsafe { &mut *c.0.get() })
}

fn has_fsgsbase() -> bool {
    const HWCAP2_FSGSBASE: libc::c_ulong = 1 << 1;
    // SAFETY: getauxval only reads the auxiliary vector.
    unsafe { libc::getauxval(libc::AT_HWCAP2) & HWCAP2_FSGSBASE != 0 }
}

/// Reserves the pool and installs the fault handler.
pub fn start(
    api: &'static abi::hspt_qemu_api,
    slots: usize,
    warmup_us: u64,
    around: usize,
) -> Result<(), String> {
    if api.fill.is_none() || api.reexecute.is_none() || api.in_generated_code.is_none() {
        return Err(
            "hspt: this QEMU lacks the HSPT fault services: rebuild it with `make qemu`".into(),
        );
    }
    let pool = Pool::new(slots)?;
    let engine = Engine {
        pool,
        api,
        current: None,
        gs_base: 0,
        use_wrgsbase: has_fsgsbase(),
        pending: SptCounters::default(),
        fills_started: 0,
        fills_returned: 0,
        stay_faults: 0,
        stay_fault_ns: 0,
        faults_total: 0,
        fault_ns_total: 0,
        policy: Policy::new(warmup_us * 1000),
        around,
    };
    if ENGINE.set(EngineCell(UnsafeCell::new(engine))).is_err() {
        return Err("hspt: engine started twice".into());
    }
    fault::install_handler()
}

impl Engine {
    fn set_gs(&mut self, base: usize) {
        if self.gs_base == base {
            return;
        }
        if self.use_wrgsbase {
            // SAFETY: GS is unused by Rust, glibc (FS holds TLS) and QEMU on
            // x86-64 Linux; the kernel enabled FSGSBASE (HWCAP2).
            unsafe {
                std::arch::asm!("wrgsbase {}", in(reg) base, options(nostack, preserves_flags))
            };
        } else {
            // SAFETY: as above, through the kernel.
            unsafe {
                libc::syscall(libc::SYS_arch_prctl, 0x1001 /* ARCH_SET_GS */, base)
            };
        }
        self.gs_base = base;
    }

    /// The guest enters user mode in context `ctx`: point GS at its window.
    /// Returns whether user code may use the window.
    pub fn enter_user(&mut self, ctx: &abi::hspt_arm_context) -> bool {
        ON_VCPU_THREAD.with(|t| t.set(true));
        self.current = None;
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
        }
        self.set_gs(self.pool.window_base(slot));
        self.current = Some(slot);
        true
    }

    /// Leaving user mode: charge the stay to the context's policy; a
    /// context whose window thrashes goes to the softmmu for a while.
    pub fn leave_user(&mut self) {
        let used_window = self.current.take().is_some();
        self.faults_total += self.stay_faults;
        self.fault_ns_total += self.stay_fault_ns;
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
            // By MVA (with ASID, or all ASIDs): that page, in every window.
            // TLBIMVA also removes global entries of any ASID, so all
            // windows, not only the ASID's, may hold it.
            abi::HSPT_TLBI_MVA
            | abi::HSPT_TLBI_MVA_IS
            | abi::HSPT_TLBI_MVAA
            | abi::HSPT_TLBI_MVAA_IS => {
                self.pending.pages_invalidated += self.pool.unmap_page_everywhere(vaddr);
            }
            abi::HSPT_TLBI_ASID | abi::HSPT_TLBI_ASID_IS => {
                let policy = &mut self.policy;
                self.pending.windows_reset += self
                    .pool
                    .reset_where(|k| k.asid == asid, |k, n| policy.lost_window(&k, n));
            }
            _ => self.reset_all(),
        }
    }

    /// Every window loses its mappings; the contexts that owned populated
    /// ones learn it (a kernel that flushes everything on each fork, as
    /// Debian's does for ARM erratum 720789, makes windows thrash).
    fn reset_all(&mut self) {
        let policy = &mut self.policy;
        self.pending.windows_reset += self.pool.reset_all(|k, n| policy.lost_window(&k, n));
    }

    /// QEMU's own flushes. DACR, CONTEXTIDR and TTBR (ASID) changes are
    /// part of the window key: nothing to drop. The rest may change any
    /// translation: drop everything.
    pub fn qemu_flush(&mut self, reason: u32) {
        match reason {
            abi::HSPT_FLUSH_DACR | abi::HSPT_FLUSH_CONTEXTIDR | abi::HSPT_FLUSH_TTBR => {}
            _ => self.reset_all(),
        }
    }

    /// Translated code is being made from `ram_addr` (invariant 4).
    pub fn protect_code(&mut self, ram_addr: u64) {
        self.pending.code_protects += self.pool.protect_code(ram_addr);
    }

    /// Pool-wide counters for the report, with the fault handler's totals.
    pub fn report_stats(&self) -> pool::PoolStats {
        pool::PoolStats {
            faults: self.faults_total + self.stay_faults,
            fault_ns: self.fault_ns_total + self.stay_fault_ns,
            ..self.pool.stats()
        }
    }

    /// Counters since the last call, for the current process.
    pub fn take_counters(&mut self) -> SptCounters {
        let mut c = std::mem::take(&mut self.pending);
        c.guest_faults += self.fills_started - self.fills_returned;
        self.fills_started = self.fills_returned;
        c
    }
}
