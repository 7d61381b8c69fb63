//! The SIGSEGV handler, alone. Everything in this file but
//! [`install_handler`] (which runs once, at start, before the handler can
//! run) runs inside a signal handler and is async-signal-safe: no
//! allocation, no locks, no logging, no panics that unwind (release builds
//! abort on panic, and the handler's checks are asserts on the engine's
//! own invariants); system calls are only those that are
//! async-signal-safe (mmap, mprotect, madvise, write, _exit, sigaction,
//! raise) and the vDSO clock.
//!
//! A SIGSEGV in a window, from generated code on the vCPU thread, becomes
//! (a) a mapping of the guest RAM page with the permissions the softmmu
//!     would give, after which the instruction runs again;
//! (b) the guest's own page fault, raised by QEMU with precise state
//!     (QEMU leaves this handler by longjmp);
//! (c) a re-execution of the instruction through the softmmu, for stores
//!     to pages holding translated code, MMIO, ROM, flash, watchpoints,
//!     accesses across the top of the 4 GiB space, writes to RAM the
//!     reverse map cannot track, remembered for special memory so that the
//!     same block does not trap again and again.
//!
//! It never returns into a fault it has not resolved: it returns only
//! after mapping the page with the access's permission; everything else
//! leaves through QEMU (b, c). Any other SIGSEGV (another thread, a host
//! PC outside generated code, an address outside the windows, a signal
//! sent by a process) goes to the previous handler before any engine
//! state is touched, or kills the process with the default action
//! (invariant `foreign-faults-chain`).
//!
//! The engine is reached through its guard, which is never held across a
//! QEMU service that may longjmp. The hook-time code that uses the same
//! QEMU services (premap, revalidation, restoration) is in
//! [`super::revalidate`].

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!(
    "the HSPT fault path decodes x86-64 Linux signal frames and addresses \
     windows through %gs: it builds only for x86_64 Linux hosts"
);

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use hspt_shim as abi;

use super::pool::{self, GuestPage, Slot, PAGE, WINDOW_SIZE};
use super::signal_safe::now_ns;
use super::{engine_scope, Engine, ON_VCPU_THREAD};

/// x86 page-fault error code bits, as the kernel passes them in
/// `uc_mcontext.gregs[REG_ERR]` (Intel SDM vol. 3A, "Page-Fault
/// Exception").
const PF_WRITE: u64 = 1 << 1;
const PF_INSTRUCTION_FETCH: u64 = 1 << 4;

type InGeneratedCode = unsafe extern "C" fn(host_pc: usize) -> libc::c_int;
type Fill = unsafe extern "C" fn(u32, libc::c_int, usize, *mut abi::hspt_fill) -> u32;
type Reexecute = unsafe extern "C" fn(host_pc: usize, remember: libc::c_int);
pub(super) type Probe = unsafe extern "C" fn(u32, *mut abi::hspt_fill) -> u32;
type DropCodePage = unsafe extern "C" fn(ram_addr: u64);
type FaultEntered = unsafe extern "C" fn(ucontext: *const libc::c_void);

/// What the handler needs before it may touch the engine, fixed at start.
pub(super) struct Handler {
    windows: Range<usize>,
    in_generated_code: InGeneratedCode,
    fill: Fill,
    reexecute: Reexecute,
    probe: Option<Probe>,
    /// The same for the PL1 MMU index (the kernel window's).
    probe_kernel: Option<Probe>,
    drop_code_page: Option<DropCodePage>,
    /// Publishes what generated code keeps in host registers (the block
    /// access count) before anything may leave the handler by longjmp.
    fault_entered: Option<FaultEntered>,
}
// SAFETY: written once before the handler is installed, then only read;
// the sigaction is plain data and the function pointers are QEMU's.
unsafe impl Sync for Handler {}
// SAFETY: plain data (an address range, QEMU's function pointers, which
// may be called from any thread), never written after installation.
unsafe impl Send for Handler {}

static HANDLER: OnceLock<Handler> = OnceLock::new();

/// The handler's QEMU services, once installed (for the hook-time code
/// in [`super::revalidate`], which uses the same probes).
pub(super) fn handler() -> Option<&'static Handler> {
    HANDLER.get()
}

impl Handler {
    /// QEMU's non-faulting translation for user mode, if it offers one.
    pub(super) fn user_probe(&self) -> Option<Probe> {
        self.probe
    }

    /// The same for the PL1 MMU index (the kernel window's).
    pub(super) fn kernel_probe(&self) -> Option<Probe> {
        self.probe_kernel
    }
}

/// The SIGSEGV action before ours, written by the `sigaction` call that
/// installs ours; read by [`chain`] once PREVIOUS_SAVED says it is there
/// (a fault in the few instructions before that is treated as if the
/// previous action were the default one).
struct PreviousAction(UnsafeCell<MaybeUninit<libc::sigaction>>);
// SAFETY: written once, by the kernel during the installing sigaction(),
// before PREVIOUS_SAVED is set; only read after PREVIOUS_SAVED is seen.
unsafe impl Sync for PreviousAction {}

static PREVIOUS: PreviousAction = PreviousAction(UnsafeCell::new(MaybeUninit::zeroed()));
static PREVIOUS_SAVED: AtomicBool = AtomicBool::new(false);

/// Installs the SIGSEGV handler for faults in `windows`, saving the
/// previous action in the same `sigaction` call.
///
/// Flags: `SA_SIGINFO` for the fault address and the interrupted context
/// (host PC, page-fault error code). `SA_NODEFER` because QEMU leaves the
/// handler by `siglongjmp` to its execution loop (guest faults and
/// re-execution), whose `sigsetjmp` does not save the signal mask: with
/// SIGSEGV not blocked during the handler and an empty `sa_mask`, the mask
/// in the handler is the interrupted one, so leaving by longjmp restores
/// exactly that mask (what QEMU's user mode does by hand in
/// `linux-user/signal.c`). No `SA_ONSTACK`: faults come from generated code
/// on the vCPU thread's own, ample stack, not from a stack overflow. No
/// `SA_RESTART`: a SIGSEGV never interrupts a system call.
pub fn install_handler(api: &abi::hspt_qemu_api, windows: Range<usize>) -> Result<(), String> {
    let (Some(in_generated_code), Some(fill), Some(reexecute)) =
        (api.in_generated_code, api.fill, api.reexecute)
    else {
        return Err(
            "hspt: this QEMU lacks the HSPT fault services: rebuild it with `make qemu`".into(),
        );
    };
    if HANDLER.get().is_some() {
        return Err("hspt: the fault handler is installed already".into());
    }
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value
    // that we complete below; sigemptyset writes only into it.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_sigsegv as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
    // SAFETY: `action.sa_mask` is ours and valid for writes.
    if unsafe { libc::sigemptyset(&mut action.sa_mask) } != 0 {
        return Err(format!(
            "hspt: cannot install the SIGSEGV handler: {}",
            std::io::Error::last_os_error()
        ));
    }
    // The handler reads HANDLER, so it is set before the handler can run.
    HANDLER.get_or_init(|| Handler {
        windows,
        in_generated_code,
        fill,
        reexecute,
        probe: api.probe,
        probe_kernel: api.probe_kernel,
        drop_code_page: api.drop_code_page,
        fault_entered: api.fault_entered,
    });
    // One call installs ours and saves the previous action, so no fault
    // can fall between reading the old action and installing the new one.
    // SAFETY: `action` is initialised; PREVIOUS is written only here (the
    // HANDLER check above makes this run once) and not read before
    // PREVIOUS_SAVED is set.
    if unsafe { libc::sigaction(libc::SIGSEGV, &action, (*PREVIOUS.0.get()).as_mut_ptr()) } != 0 {
        return Err(format!(
            "hspt: cannot install the SIGSEGV handler: {}",
            std::io::Error::last_os_error()
        ));
    }
    PREVIOUS_SAVED.store(true, Ordering::Release);
    Ok(())
}

/// Not ours: hand the signal to whoever had it before, or let it kill us.
///
/// # Safety
/// Called from the signal handler with its own arguments.
unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, uc: *mut libc::c_void, sent: bool) {
    // SAFETY: PREVIOUS was fully written by sigaction() before
    // PREVIOUS_SAVED was set (Release/Acquire), and is never written again.
    let previous = PREVIOUS_SAVED
        .load(Ordering::Acquire)
        .then(|| unsafe { (*PREVIOUS.0.get()).assume_init() });
    match previous {
        Some(p) if p.sa_sigaction != libc::SIG_DFL && p.sa_sigaction != libc::SIG_IGN => {
            if p.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: a SA_SIGINFO handler has this signature.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(p.sa_sigaction) };
                f(sig, info, uc);
            } else {
                // SAFETY: a plain handler has this signature.
                let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(p.sa_sigaction) };
                f(sig);
            }
        }
        // SIG_IGN cannot apply to a real fault (returning would fault
        // again forever); the default action ends the process with a core.
        Some(p) if sent && p.sa_sigaction == libc::SIG_IGN => {}
        _ => {
            // SAFETY: resetting a disposition and raising a signal are
            // async-signal-safe. A fault then re-runs the instruction and
            // dies with the real state; a sent signal is raised again.
            // Should the reset fail, returning would fault again forever:
            // abort (async-signal-safe) still ends the process with a core.
            unsafe {
                if libc::signal(sig, libc::SIG_DFL) == libc::SIG_ERR {
                    libc::abort();
                }
                // A failed raise is ignored: nothing else is left to do.
                if sent {
                    let _ = libc::raise(sig);
                }
            }
        }
    }
}

/// What the handler does once the engine is released again.
enum Then {
    /// The page is mapped with the access's permission: run it again.
    Retry,
    /// Run the instruction through the softmmu (`remember`: its block
    /// addresses special memory). Does not return.
    Reexecute { remember: bool },
}

extern "C" fn on_sigsegv(sig: libc::c_int, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let code = unsafe { (*info).si_code };
    // si_code <= 0: sent by kill/sigqueue/tgkill, not raised by a fault.
    let sent = code <= 0;
    let Some(handler) = HANDLER.get().filter(|_| !sent) else {
        // SAFETY: our own arguments.
        return unsafe { chain(sig, info, uc, sent) };
    };
    // SAFETY: for a fault the kernel passes the faulting address and the
    // interrupted context (SA_SIGINFO).
    let (addr, pc, err) = unsafe {
        let uc = &*(uc as *const libc::ucontext_t);
        (
            (*info).si_addr() as usize,
            uc.uc_mcontext.gregs[libc::REG_RIP as usize] as usize,
            uc.uc_mcontext.gregs[libc::REG_ERR as usize] as u64,
        )
    };
    // SAFETY: QEMU's function: compares the PC with its code buffer.
    let ours = ON_VCPU_THREAD.with(|t| t.get())
        && handler.windows.contains(&addr)
        && err & PF_INSTRUCTION_FETCH == 0
        && unsafe { (handler.in_generated_code)(pc) } != 0;
    if !ours {
        // SAFETY: our own arguments.
        return unsafe { chain(sig, info, uc, false) };
    }
    if let Some(fault_entered) = handler.fault_entered {
        // SAFETY: QEMU's service, given the kernel's context for this very
        // fault in generated code on this vCPU thread; it only reads it.
        unsafe { fault_entered(uc) };
    }
    let is_write = err & PF_WRITE != 0;

    // Before the fill: which page, and the engine's event count.
    let Some(Some((slot, offset, events, started))) = engine_scope(|e| {
        let (slot, offset) = e.pool.locate(addr)?;
        if !e.is_active(slot) {
            // A block still running with a window that is no longer
            // current (the guest's mode or context changed inside it):
            // the softmmu performs its accesses.
            return Some((slot, usize::MAX, e.events, 0));
        }
        if e.is_kernel(slot) {
            e.pending.kernel_faults += 1;
        } else {
            e.stay_faults += 1;
            e.pending.faults += 1;
        }
        if offset >= WINDOW_SIZE {
            // Crossing the top of the 4 GiB space: the softmmu wraps it.
            e.pending.miss_special += 1;
        } else {
            e.fills_started += 1;
            if !e.is_kernel(slot) {
                e.fill_in_progress = Some((slot, GuestPage::containing(offset as u32)));
            }
        }
        Some((slot, offset, e.events, now_ns()))
    }) else {
        // SAFETY: our own arguments.
        return unsafe { chain(sig, info, uc, false) };
    };
    if offset >= WINDOW_SIZE {
        // The top of the space, or a window no longer current.
        // SAFETY: QEMU's service for this very fault; does not return.
        return unsafe { (handler.reexecute)(pc, 0) };
    }
    let page = GuestPage::containing(offset as u32);
    let mut out = abi::hspt_fill::default();
    // SAFETY: QEMU's service for this very fault, with no engine borrow
    // held; `out` is ours. It does not return if the guest takes a fault.
    let kind = unsafe { (handler.fill)(offset as u32, is_write as libc::c_int, pc, &mut out) };

    let then = engine_scope(|e| {
        e.fills_returned += 1;
        e.fill_in_progress = None;
        let then = resolve(e, handler, slot, page, is_write, kind, &out, events);
        let spent = now_ns().saturating_sub(started);
        if e.is_kernel(slot) {
            e.pending.kernel_fault_ns += spent;
        } else {
            e.stay_fault_ns += spent;
            e.pending.fault_ns += spent;
        }
        then
    })
    // The engine is in use (cannot happen: no hook runs inside a fill):
    // the softmmu performs the access, which is always right.
    .unwrap_or(Then::Reexecute { remember: false });
    match then {
        Then::Retry => {}
        Then::Reexecute { remember } => {
            // SAFETY: QEMU's service for this very fault; does not return.
            unsafe { (handler.reexecute)(pc, remember as libc::c_int) }
        }
    }
}

/// After the fill: map the page (and its run) or choose the softmmu.
#[allow(clippy::too_many_arguments)]
fn resolve(
    e: &mut Engine,
    handler: &Handler,
    slot: Slot,
    page: GuestPage,
    is_write: bool,
    kind: u32,
    out: &abi::hspt_fill,
    events_before: u64,
) -> Then {
    if e.is_kernel(slot) {
        // The kernel window is shared by every address space: it maps
        // global translations only. A block that reaches user memory (the
        // kernel's uaccess routines) or special memory is translated
        // without the window from then on; one that writes a code page
        // runs that store through the softmmu.
        let counter = match kind {
            abi::HSPT_FILL_RAM if out.attrs & abi::HSPT_FILL_ATTR_NOT_GLOBAL != 0 => {
                Some(&mut e.pending.kernel_softmmu_user)
            }
            // A page the kernel maps again and again (a fixmap slot: the
            // text-patching one at boot, highmem kmaps): each mapping would
            // cost a fault. The blocks that use it run through the
            // softmmu, whose refill is cheaper.
            abi::HSPT_FILL_RAM if e.kernel_remaps.is_volatile(page) => {
                Some(&mut e.pending.kernel_softmmu_remapped)
            }
            abi::HSPT_FILL_RAM => None,
            abi::HSPT_FILL_CODE => {
                // Most often a page that held code (of an exited process,
                // of boot code) being reused as data: drop its blocks, so
                // that the store after this one maps the page instead of
                // faulting again, once per store, until no block is left.
                if let Some(drop_code_page) = handler.drop_code_page {
                    // SAFETY: QEMU's service for this fault, after fill
                    // gave HSPT_FILL_CODE; no engine borrow reaches QEMU.
                    unsafe { drop_code_page(out.ram_addr) };
                }
                Some(&mut e.pending.kernel_softmmu_code)
            }
            _ => Some(&mut e.pending.kernel_softmmu_special),
        };
        if let Some(n) = counter {
            *n += 1;
            return Then::Reexecute {
                remember: kind != abi::HSPT_FILL_CODE,
            };
        }
    }
    match kind {
        abi::HSPT_FILL_RAM => {}
        abi::HSPT_FILL_CODE => {
            e.pending.miss_code += 1;
            return Then::Reexecute { remember: false };
        }
        _ => {
            e.pending.miss_special += 1;
            return Then::Reexecute { remember: true };
        }
    }
    if e.is_kernel(slot) {
        // Counted apart: these are the user windows' miss causes.
    } else if e.pool.is_mapped(slot, page) {
        e.pending.miss_permission += 1;
    } else {
        e.pending.miss_unmapped += 1;
    }
    // A hook ran while QEMU translated (invariant `no-stale-fill`): what
    // it found may be stale already. The softmmu does this access; the
    // next one refaults.
    if e.events != events_before || !e.is_active(slot) {
        return Then::Reexecute { remember: false };
    }
    let mapped = map_with_neighbours(e, handler, slot, page, out);
    // The mapping is the softmmu's own translation, just made (invariant
    // `softmmu-agrees`). Returning is only right if the access will now
    // go through: a write to RAM the reverse map cannot track stays
    // read-only in the window.
    let resolved = mapped.is_ok()
        && e.pool.is_mapped(slot, page)
        && (!is_write || e.pool.is_writable(slot, page));
    if resolved {
        Then::Retry
    } else {
        Then::Reexecute { remember: false }
    }
}

/// Maps `page` as `out` describes it, with its run of neighbours
/// (fault-around), within the VMA budget. Returns the pages mapped, or the
/// errno of a failed mmap.
///
/// Also called from a hook ([`super::revalidate::premap`]): it only maps,
/// through the pool, and allocates nothing.
pub(super) fn map_with_neighbours(
    e: &mut Engine,
    handler: &Handler,
    slot: Slot,
    page: GuestPage,
    out: &abi::hspt_fill,
) -> Result<usize, i32> {
    if let Some((key, pages)) = e.pool.make_room(slot) {
        e.policy.lost_window(&key, pages);
    }
    let (first, pages) = run_around(e, handler, slot, page, out);
    let back = (page.index() - first.index()) as u64 * PAGE as u64;
    let first_fill = abi::hspt_fill {
        fd_offset: out.fd_offset - back,
        ram_addr: out.ram_addr - back,
        ..*out
    };
    let mut mapped = e
        .pool
        .map_run(slot, first, pages, &first_fill)
        .map(|()| pages);
    if mapped == Err(libc::ENOMEM) {
        // The VMA estimate was short: free this window and retry with the
        // faulting page alone.
        e.pool.reset(slot);
        mapped = e.pool.map_run(slot, page, 1, out).map(|()| 1);
    }
    match mapped {
        Ok(done) if e.is_kernel(slot) => e.pending.kernel_pages_mapped += done as u64,
        Ok(done) => {
            e.pending.pages_mapped += done as u64;
            e.pending.pages_around += done as u64 - 1;
        }
        Err(_) => {}
    }
    mapped
}

/// Fault-around: the faulting page's neighbours in its aligned block of
/// `around` pages join its mapping when they are not mapped yet, a load
/// would find them in RAM now, and they continue the faulting page's run
/// of guest RAM with the same protection and guest mapping size. One mmap
/// then maps the whole run, for the price of one page. Pages the guest has
/// not touched are mapped only if their translation is valid already,
/// which a real TLB could have cached just as well (a speculative walk).
fn run_around(
    e: &Engine,
    handler: &Handler,
    slot: Slot,
    page: GuestPage,
    out: &abi::hspt_fill,
) -> (GuestPage, usize) {
    let probe = if e.is_kernel(slot) {
        handler.probe_kernel
    } else {
        handler.probe
    };
    let Some(probe) = probe.filter(|_| e.around > 1) else {
        return (page, 1);
    };
    let continues = |v: usize| -> bool {
        let neighbour = GuestPage::from_index(v);
        if e.pool.is_mapped(slot, neighbour) {
            return false;
        }
        let mut f = abi::hspt_fill::default();
        // SAFETY: QEMU's non-faulting service (never longjmps), on the
        // vCPU thread inside the fault handler like fill; `f` is ours.
        let kind = unsafe { probe(neighbour.vaddr(), &mut f) };
        kind == abi::HSPT_FILL_RAM && pool::continues_run(out, v as i64 - page.index() as i64, &f)
    };
    let (first, len) = run_bounds(page.index(), e.around, continues);
    (GuestPage::from_index(first), len)
}

/// The run around page `v` within its aligned block of `around` pages: the
/// longest stretch of pages that `continues`, stopping at the first that
/// does not on each side. Returns its first page and length.
fn run_bounds(v: usize, around: usize, continues: impl Fn(usize) -> bool) -> (usize, usize) {
    debug_assert!(around.is_power_of_two());
    let block = v & !(around - 1);
    let mut first = v;
    while first > block && continues(first - 1) {
        first -= 1;
    }
    let mut end = v + 1;
    while end < block + around && continues(end) {
        end += 1;
    }
    (first, end - first)
}

#[cfg(test)]
#[path = "tests/signal.rs"]
mod tests;
