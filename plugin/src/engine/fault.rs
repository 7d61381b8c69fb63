//! The fault path: a SIGSEGV in a window, from generated code on the vCPU
//! thread, becomes
//! (a) a mapping of the guest RAM page with the permissions the softmmu
//!     would give, after which the instruction runs again;
//! (b) the guest's own page fault, raised by QEMU with precise state
//!     (QEMU leaves this handler by longjmp);
//! (c) a re-execution of the instruction through the softmmu, for stores
//!     to pages holding translated code, MMIO, ROM, watchpoints, accesses
//!     across the top of the 4 GiB space, remembered for special memory so
//!     that the same block does not trap again and again.
//! Any other SIGSEGV is a real crash and goes to the previous handler (or
//! the default action, which dumps core).
//!
//! The handler allocates nothing and takes no lock. It is installed with
//! SA_NODEFER because QEMU may leave it with longjmp (cases b and c).

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use hspt_shim as abi;

use super::pool::{PAGE, WINDOW_SIZE};
use super::{engine, ON_VCPU_THREAD};

struct PreviousAction(libc::sigaction);
// SAFETY: written once before the handler is installed, then only read.
unsafe impl Sync for PreviousAction {}
// SAFETY: as above.
unsafe impl Send for PreviousAction {}

static PREVIOUS: OnceLock<PreviousAction> = OnceLock::new();
static NO_FD_REPORTED: AtomicBool = AtomicBool::new(false);

pub fn install_handler() -> Result<(), String> {
    // SAFETY: plain sigaction calls with fully initialised structures.
    unsafe {
        let mut old = MaybeUninit::<libc::sigaction>::zeroed();
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigsegv as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(libc::SIGSEGV, std::ptr::null(), old.as_mut_ptr()) != 0 {
            return Err("hspt: cannot read the SIGSEGV action".into());
        }
        let _ = PREVIOUS.set(PreviousAction(old.assume_init()));
        if libc::sigaction(libc::SIGSEGV, &sa, std::ptr::null_mut()) != 0 {
            return Err(format!(
                "hspt: cannot install the SIGSEGV handler: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Not ours: hand the signal to whoever had it before, or let it kill us.
///
/// # Safety
/// Called from the signal handler with its own arguments.
unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    let prev = PREVIOUS.get().map(|p| p.0);
    match prev {
        Some(p) if p.sa_sigaction != libc::SIG_DFL && p.sa_sigaction != libc::SIG_IGN => {
            if p.sa_flags & libc::SA_SIGINFO != 0 {
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    // SAFETY: a SA_SIGINFO handler has this signature.
                    unsafe { std::mem::transmute(p.sa_sigaction) };
                f(sig, info, uc);
            } else {
                // SAFETY: a plain handler has this signature.
                let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(p.sa_sigaction) };
                f(sig);
            }
        }
        _ => {
            // Default action: returning re-runs the faulting instruction,
            // which faults again and dumps core with the real state.
            // SAFETY: resetting a signal disposition is async-signal-safe.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
}

/// CLOCK_MONOTONIC in ns (vDSO; async-signal-safe).
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn write_stderr(msg: &str) {
    // SAFETY: write(2) is async-signal-safe; the buffer is valid.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
}

extern "C" fn on_sigsegv(sig: libc::c_int, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    // SAFETY: the kernel passes valid siginfo and ucontext for SA_SIGINFO.
    let (addr, pc, err) = unsafe {
        let uc = &*(uc as *const libc::ucontext_t);
        (
            (*info).si_addr() as usize,
            uc.uc_mcontext.gregs[libc::REG_RIP as usize] as usize,
            uc.uc_mcontext.gregs[libc::REG_ERR as usize] as u64,
        )
    };
    if !ON_VCPU_THREAD.with(|t| t.get()) {
        // SAFETY: our own arguments.
        unsafe { chain(sig, info, uc) };
        return;
    }
    // SAFETY: on the vCPU thread, interrupting generated code (checked
    // below before anything is changed): no hook holds the engine.
    let Some(e) = (unsafe { engine() }) else {
        // SAFETY: our own arguments.
        unsafe { chain(sig, info, uc) };
        return;
    };
    let api = e.api;
    let located = e.pool.locate(addr);
    // SAFETY: QEMU's function, given by registration; reads no memory of ours.
    let in_code = unsafe { api.in_generated_code.map(|f| f(pc)).unwrap_or(0) } != 0;
    let Some((slot, offset)) = located.filter(|&(slot, _)| in_code && e.current == Some(slot))
    else {
        // SAFETY: our own arguments.
        unsafe { chain(sig, info, uc) };
        return;
    };
    // From here on QEMU may leave this function by longjmp: nothing below
    // owns anything that needs dropping.
    let (Some(fill), Some(reexecute)) = (api.fill, api.reexecute) else {
        return;
    };
    if offset >= WINDOW_SIZE {
        // Crossing the top of the 4 GiB space: the softmmu wraps it.
        e.pending.miss_special += 1;
        // SAFETY: QEMU's service for this very fault; does not return.
        unsafe { reexecute(pc, 0) };
        return;
    }
    let vpage = offset / PAGE;
    let is_write = err & 2 != 0;
    let started = now_ns();
    e.stay_faults += 1;
    let was_mapped = e.pool.is_mapped(slot, vpage);
    let mut out = abi::hspt_fill::default();
    e.fills_started += 1;
    // SAFETY: QEMU's service for this very fault; `out` is ours. It does not
    // return if the guest takes a fault.
    let kind = unsafe { fill(offset as u32, is_write as i32, pc, &mut out) };
    e.fills_returned += 1;
    // The time this handler took (not the kernel's signal delivery), for
    // the policy; paths that leave by longjmp below are charged up to here.
    let filled = now_ns();
    e.stay_fault_ns += filled.saturating_sub(started);
    match kind {
        abi::HSPT_FILL_RAM => {
            if was_mapped {
                e.pending.miss_permission += 1;
            } else {
                e.pending.miss_unmapped += 1;
            }
            if let Some((k, pages)) = e.pool.make_room(slot) {
                e.policy.lost_window(&k, pages);
            }
            let (first, pages) = run_around(e, slot, vpage, &out);
            // The run is contiguous in the RAM file and in ram_addr_t.
            let back = ((vpage - first) * PAGE) as u64;
            let first_fill = abi::hspt_fill {
                fd_offset: out.fd_offset - back,
                ram_addr: out.ram_addr - back,
                ..out
            };
            let mut mapped = e.pool.map_run(slot, first, pages, &first_fill);
            let mut done = pages;
            if mapped == Err(libc::ENOMEM) {
                // The VMA estimate was short: free this window and retry
                // with the faulting page alone.
                e.pool.reset(slot);
                mapped = e.pool.map_run(slot, vpage, 1, &out);
                done = 1;
            }
            e.stay_fault_ns += now_ns().saturating_sub(filled);
            match mapped {
                Ok(()) => {
                    e.pending.pages_mapped += done as u64;
                    e.pending.pages_around += done as u64 - 1;
                }
                // SAFETY: as above; the softmmu performs the access.
                Err(_) => unsafe { reexecute(pc, 0) },
            }
        }
        abi::HSPT_FILL_CODE => {
            e.pending.miss_code += 1;
            // SAFETY: as above.
            unsafe { reexecute(pc, 0) };
        }
        abi::HSPT_FILL_NO_FD => {
            if !NO_FD_REPORTED.swap(true, Ordering::Relaxed) {
                write_stderr(
                    "hspt: guest RAM is not a shared file, so HSPT cannot map it.\n\
                     hspt: drop -mem-path and -machine memory-backend=, or use\n\
                     hspt:   -object memory-backend-memfd,id=mem,size=SIZE,share=on -machine memory-backend=mem\n\
                     hspt: or run with the plugin argument hspt=off.\n",
                );
            }
            // SAFETY: _exit is async-signal-safe.
            unsafe { libc::_exit(1) };
        }
        _ => {
            e.pending.miss_special += 1;
            // SAFETY: as above; remember the block, it addresses special memory.
            unsafe { reexecute(pc, 1) };
        }
    }
}

/// Fault-around: the faulting page's neighbours in its aligned block of
/// `around` pages join its mapping when they are not mapped yet, a load
/// would find them in RAM now, and they continue the faulting page's run
/// of guest RAM with the same protection. One mmap then maps the whole
/// run, for the price of one page. Pages the guest has not touched are
/// mapped only if their translation is valid already, which a real TLB
/// could have cached just as well (a speculative walk).
///
/// Returns the first page of the run and its length. Called from the
/// fault handler: no allocation, no lock.
fn run_around(
    e: &super::Engine,
    slot: usize,
    vpage: usize,
    out: &abi::hspt_fill,
) -> (usize, usize) {
    let around = e.around;
    let Some(probe) = e.api.probe.filter(|_| around > 1) else {
        return (vpage, 1);
    };
    let block = vpage & !(around - 1);
    // Does guest page `v` continue the faulting page's run?
    let continues = |v: usize| -> bool {
        if e.pool.is_mapped(slot, v) {
            return false;
        }
        let mut f = abi::hspt_fill::default();
        // SAFETY: QEMU's non-faulting service, on the vCPU thread inside
        // the fault handler like fill; `f` is ours.
        let kind = unsafe { probe((v * PAGE) as u32, &mut f) };
        let step = (v as i64 - vpage as i64) * PAGE as i64;
        kind == abi::HSPT_FILL_RAM
            && f.fd == out.fd
            && f.prot == out.prot
            && f.fd_offset as i64 == out.fd_offset as i64 + step
            && f.ram_addr as i64 == out.ram_addr as i64 + step
    };
    let mut first = vpage;
    while first > block && continues(first - 1) {
        first -= 1;
    }
    let mut end = vpage + 1;
    while end < block + around && continues(end) {
        end += 1;
    }
    (first, end - first)
}
