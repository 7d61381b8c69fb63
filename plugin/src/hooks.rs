//! The hooks the patched QEMU calls, and per-vCPU attribution.
//!
//! Memory accesses are counted into a per-vCPU counter, never by a
//! callback per access: by default each block adds its number of loads and
//! stores when it starts (a counter in QEMU's CPU state, patch
//! `HSPT_ACCEL_COUNT_ACCESSES`); with `accesses=exact`, inline TCG code
//! after every access adds 1 to a scoreboard slot. Each hook first charges
//! the accesses counted since the previous hook to the process and mode
//! that were current until now ([`VcpuState::charge`]), then applies its
//! event. Blocks never span a context switch or a user/kernel transition
//! (each ends the block), so the split by process and mode is exact.
//!
//! Hooks run on the vCPU's own thread; each vCPU's state sits behind its
//! own mutex, which only that thread takes while the guest runs (the exit
//! report takes them after the vCPUs have stopped), so it never contends.

use std::collections::HashMap;
use std::os::raw::c_void;
use std::sync::{Mutex, OnceLock};

use hspt_shim as abi;
use qemu_plugin::{PluginId, PluginU64, TranslationBlock, VCPUIndex};

use crate::args::{AccessCounting, Config, TableStyle};
use crate::context::ProcessKey;
use crate::engine::{self, SptCounters};
use crate::label::{self, Outcome, RecentExecs};
use crate::live;
use crate::stats::{ProcessStats, Report, RunCounters};

/// How many user-mode entries of a context may try to label it, and how
/// many more may find its memory not yet readable.
const LABEL_TRIES: u8 = 3;
const LABEL_WAITS: u8 = 64;

struct VcpuState {
    /// The context whose accesses are being counted now.
    key: ProcessKey,
    user: bool,
    /// The current user-mode stay addresses memory through a window.
    window: bool,
    /// Scoreboard value already charged.
    charged: u64,
    /// Context events by kind (enum hspt_ctx_event), for the report.
    ctx_events: [u64; abi::HSPT_CTX_EVENTS as usize],
    processes: HashMap<ProcessKey, ProcessStats>,
    label_tries: HashMap<ProcessKey, u8>,
    label_waits: HashMap<ProcessKey, u8>,
}

struct Accel {
    config: Config,
    /// Per-vCPU access counter of `accesses=exact`, incremented by inline
    /// TCG ops.
    accesses: Counter,
    /// QEMU's services, once registered (the per-block access counter).
    api: OnceLock<&'static abi::hspt_qemu_api>,
    vcpus: Vec<Mutex<VcpuState>>,
    /// Global first-seen sequence, for a stable table order.
    next_seq: std::sync::atomic::AtomicU64,
    recent_execs: Mutex<RecentExecs>,
}

/// A scoreboard slot handle. QEMU owns the memory and only ever touches a
/// vCPU's own entry from that vCPU (or after the vCPUs stopped).
#[derive(Clone, Copy)]
struct Counter(PluginU64);
// SAFETY: the handle is an immutable (pointer, offset) pair created once at
// install; QEMU's scoreboard API is safe to call from any vCPU thread.
unsafe impl Send for Counter {}
// SAFETY: as above; the handle itself is never mutated after creation.
unsafe impl Sync for Counter {}

static ACCEL: OnceLock<Accel> = OnceLock::new();

fn accel() -> &'static Accel {
    ACCEL.get().expect("hspt hooks called before install")
}

impl Accel {
    fn vcpu(&self, index: u32) -> std::sync::MutexGuard<'_, VcpuState> {
        let slot = &self.vcpus[index as usize % self.vcpus.len()];
        slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read_counter(&self, index: u32) -> u64 {
        match self.config.accesses {
            AccessCounting::Off => 0,
            AccessCounting::Exact => {
                qemu_plugin::qemu_plugin_u64_get(self.accesses.0, index as VCPUIndex)
            }
            AccessCounting::Blocks => match self.api.get().and_then(|api| api.mem_accesses) {
                // SAFETY: QEMU's function; it reads the counter of the vCPU
                // with this index, which is the calling thread's own vCPU
                // (hooks) or stopped (exit report).
                Some(read) => unsafe { read(index) },
                None => 0,
            },
        }
    }
}

impl VcpuState {
    fn stats(&mut self, key: ProcessKey) -> &mut ProcessStats {
        self.processes.entry(key).or_insert_with(|| ProcessStats {
            first_seen: accel()
                .next_seq
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            ..Default::default()
        })
    }

    /// Charges accesses counted since the last hook, and the engine's SPT
    /// counters, to the current context.
    fn charge(&mut self, counter_now: u64) {
        let delta = counter_now.wrapping_sub(self.charged);
        self.charged = counter_now;
        if delta != 0 {
            let (key, user, window) = (self.key, self.user, self.window);
            let s = self.stats(key);
            if user {
                s.user_accesses += delta;
                if window {
                    s.window_accesses += delta;
                }
            } else {
                s.kernel_accesses += delta;
            }
        }
        if let Some(spt) = engine::with_engine(|e| e.take_counters()) {
            if spt != SptCounters::default() {
                let key = self.key;
                self.stats(key).spt.add(&spt);
            }
        }
    }
}

/// The `HSPT_ACCEL_*` flags the configuration asks QEMU for.
fn accel_flags(config: &Config) -> u32 {
    [
        (config.hspt, abi::HSPT_ACCEL_MAPS_RAM),
        (config.precise, abi::HSPT_ACCEL_PRECISE_FLUSH),
        (config.keep_global, abi::HSPT_ACCEL_KEEP_GLOBAL),
        (config.revalidate, abi::HSPT_ACCEL_REVALIDATE),
        (config.tlb_grow, abi::HSPT_ACCEL_GROW_TLB),
        (config.recheck_blocks, abi::HSPT_ACCEL_LAZY_JMP_CACHE),
        (config.branch_cache, abi::HSPT_ACCEL_BRANCH_CACHE),
        (
            config.kernel_code_walks && config.revalidate && config.recheck_blocks,
            abi::HSPT_ACCEL_KERNEL_CODE_WALKS,
        ),
        (
            config.hspt && config.kernel && config.precise,
            abi::HSPT_ACCEL_KERNEL_WINDOW,
        ),
        (
            config.accesses == AccessCounting::Blocks,
            abi::HSPT_ACCEL_COUNT_ACCESSES,
        ),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0, |flags, (_, flag)| flags | flag)
}

/// Registers the hooks with the patched QEMU and the exit report.
pub fn install(id: PluginId, config: Config, vcpus: usize) -> Result<(), String> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks
    // the symbol up; a null result is handled below.
    let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, abi::REGISTER_SYMBOL.as_ptr().cast()) };
    if sym.is_null() {
        return Err("hspt: this QEMU has no HSPT support (qemu_plugin_hspt_register not found): \
                    use the qemu-system-arm built by `make qemu` (build/hspt/build/qemu-system-arm)"
            .into());
    }
    // SAFETY: the symbol is the patched QEMU's registration function, whose
    // type is declared by the shared header (shim/include/hspt-abi.h).
    let register: abi::RegisterFn = unsafe { std::mem::transmute(sym) };

    // SAFETY: plain constructor of a QEMU-owned per-vCPU scoreboard of u64.
    let board = unsafe { qemu_plugin::sys::qemu_plugin_scoreboard_new(8) };
    let accesses = Counter(PluginU64 {
        score: board,
        offset: 0,
    });
    let flags = accel_flags(&config);
    let state = Accel {
        config,
        accesses,
        api: OnceLock::new(),
        vcpus: (0..vcpus)
            .map(|_| {
                Mutex::new(VcpuState {
                    key: ProcessKey { asid: 0, ttbr0: 0 },
                    user: false,
                    window: false,
                    charged: 0,
                    ctx_events: [0; abi::HSPT_CTX_EVENTS as usize],
                    processes: HashMap::new(),
                    label_tries: HashMap::new(),
                    label_waits: HashMap::new(),
                })
            })
            .collect(),
        next_seq: Default::default(),
        recent_execs: Mutex::new(RecentExecs::default()),
    };
    if ACCEL.set(state).is_err() {
        return Err("hspt: the plugin was loaded twice".into());
    }

    // QEMU keeps this pointer until exit: leak it on purpose.
    let ops: &'static abi::hspt_accel_ops = Box::leak(Box::new(abi::hspt_accel_ops {
        abi_version: abi::HSPT_ABI_VERSION,
        size: std::mem::size_of::<abi::hspt_accel_ops>() as u32,
        opaque: std::ptr::null_mut(),
        flags,
        context_event: Some(on_context_event),
        tlb_maintenance: Some(on_tlb_maintenance),
        qemu_flush: Some(on_qemu_flush),
        protect_code: Some(on_protect_code),
        softmmu_flush: Some(on_softmmu_flush),
        kernel_softmmu_flush: Some(on_kernel_softmmu_flush),
    }));
    let mut api: *const abi::hspt_qemu_api = std::ptr::null();
    // SAFETY: `register` is QEMU's function (see above); `ops` is 'static.
    if unsafe { register(id, ops, &mut api) } != 0 {
        return Err("hspt: QEMU refused the HSPT registration (see the message above)".into());
    }
    // SAFETY: QEMU hands out a pointer to its static service table.
    let api: &'static abi::hspt_qemu_api =
        unsafe { api.as_ref() }.ok_or("hspt: QEMU gave no HSPT services")?;
    let a = accel();
    // Set once, here: the OnceLock was created empty just above.
    let _ = a.api.set(api);
    if a.config.accesses == AccessCounting::Exact {
        // Only then: while any plugin instruments blocks, QEMU adds code to
        // every guest access (it saves the accessed value for callbacks).
        qemu_plugin::qemu_plugin_register_vcpu_tb_trans_cb(id, Some(on_tb_translate))
            .map_err(|e| format!("hspt: cannot register the translation callback: {e}"))?;
    }
    if a.config.hspt {
        check_supported(api, vcpus)?;
        engine::start(api, &a.config)?;
    }
    if let Some(path) = &a.config.live_file {
        live::start(path, a.config.live_ms, vcpus)?;
    }
    qemu_plugin::qemu_plugin_register_atexit_cb(id, |_| report_at_exit())
        .map_err(|e| format!("hspt: cannot register the exit report: {e}"))?;
    Ok(())
}

/// Translation time (`accesses=exact` only): count every memory access of
/// every instruction, inline.
extern "C" fn on_tb_translate(_id: PluginId, tb: *mut qemu_plugin::sys::qemu_plugin_tb) {
    instrument_tb(&TranslationBlock::from(tb));
}

fn instrument_tb(tb: &TranslationBlock) {
    let counter = accel().accesses.0;
    for insn in tb.instructions() {
        qemu_plugin::qemu_plugin_register_vcpu_mem_inline_per_vcpu(
            insn,
            qemu_plugin::sys::qemu_plugin_mem_rw::QEMU_PLUGIN_MEM_RW,
            qemu_plugin::sys::qemu_plugin_op::QEMU_PLUGIN_INLINE_ADD_U64,
            counter,
            1,
        );
    }
}

/// Unsupported set-ups are refused, not silently slowed down or crashed.
fn check_supported(api: &abi::hspt_qemu_api, vcpus: usize) -> Result<(), String> {
    // SAFETY: QEMU's own query functions, no arguments.
    let (smp, icount) = unsafe {
        (
            api.vcpu_count.map(|f| f()).unwrap_or(1).max(vcpus as i32),
            api.icount_or_replay.map(|f| f()).unwrap_or(0),
        )
    };
    if smp > 1 {
        return Err(format!(
            "hspt: {smp} vCPUs (-smp) are not supported with hspt=on yet: use -smp 1, or hspt=off for statistics only"
        ));
    }
    if icount != 0 {
        return Err(
            "hspt: icount and record/replay are not supported with hspt=on: \
                    drop -icount/-rr, or use hspt=off"
                .into(),
        );
    }
    Ok(())
}

extern "C" fn on_context_event(
    _opaque: *mut c_void,
    vcpu: u32,
    event: u32,
    ctx: *const abi::hspt_arm_context,
) -> i32 {
    // SAFETY: QEMU passes a pointer to a live snapshot for the call.
    let Some(ctx) = (unsafe { ctx.as_ref() }) else {
        return 0;
    };
    let a = accel();
    let now = a.read_counter(vcpu);
    let mut st = a.vcpu(vcpu);
    st.charge(now);
    live::publish_if_asked(vcpu, &st.processes);
    st.key = ProcessKey::from_context(ctx);
    if let Some(n) = st.ctx_events.get_mut(event as usize) {
        *n += 1;
    }
    if ctx.mode != abi::HSPT_ARM_MODE_USR {
        let entered = event == abi::HSPT_CTX_MODE;
        if entered {
            st.user = false;
            st.window = false;
        }
        // At PL1 after the event: QEMU asks whether PL1 blocks may use the
        // kernel window (with HSPT_ACCEL_KERNEL_WINDOW; ignored otherwise).
        let kernel_window = if entered {
            engine::with_engine(|e| {
                e.leave_user();
                e.enter_kernel()
            })
        } else {
            engine::with_engine_for_kernel(|e| e.enter_kernel())
        };
        return kernel_window.unwrap_or(false) as i32;
    }
    if event != abi::HSPT_CTX_MODE {
        return 0;
    }
    st.user = true;
    st.window = false;
    let key = st.key;
    st.stats(key).user_entries += 1;
    if a.config.labels {
        maybe_label(&mut st, key, ctx.regs_sp);
    }
    let Some((window, evicted)) = engine::with_engine(|e| (e.enter_user(ctx), e.take_evicted()))
    else {
        return 0;
    };
    if let Some(loser) = evicted {
        st.stats(loser).spt.evictions += 1;
    }
    st.window = window;
    window as i32
}

fn maybe_label(st: &mut VcpuState, key: ProcessKey, user_sp: u32) {
    if st.stats(key).label.is_some() {
        return;
    }
    let tries = st.label_tries.entry(key).or_insert(0);
    if *tries >= LABEL_TRIES {
        return;
    }
    *tries += 1;
    let mut recent = accel()
        .recent_execs
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match label::identify(user_sp, &mut recent, &label::GuestMemory) {
        Outcome::Found(found) => st.stats(key).label = Some(found),
        // A fork child's pages stay unreadable until it touches them (ARM
        // Linux emulates the accessed bit): try again, within a bound.
        Outcome::NotYet => {
            if let Some(t) = st.label_tries.get_mut(&key) {
                *t = t.saturating_sub(1);
            }
            let waits = st.label_waits.entry(key).or_insert(0);
            *waits += 1;
            if *waits >= LABEL_WAITS {
                st.label_tries.insert(key, LABEL_TRIES);
            }
        }
        Outcome::Unknown => {}
    }
}

extern "C" fn on_tlb_maintenance(_opaque: *mut c_void, vcpu: u32, kind: u32, operand: u64) {
    engine::with_engine(|e| e.tlb_maintenance(kind, operand));
    let mut st = accel().vcpu(vcpu);
    let key = st.key;
    let kind = (kind as usize).min(abi::HSPT_TLBI_OTHER as usize);
    st.stats(key).tlbi[kind] += 1;
}

extern "C" fn on_qemu_flush(_opaque: *mut c_void, vcpu: u32, reason: u32) {
    engine::with_engine(|e| e.qemu_flush(reason));
    let mut st = accel().vcpu(vcpu);
    let key = st.key;
    if let Some(slot) = st.stats(key).qemu_flushes.get_mut(reason as usize) {
        *slot += 1;
    }
}

extern "C" fn on_protect_code(_opaque: *mut c_void, ram_addr: u64) {
    engine::with_engine(|e| e.protect_code(ram_addr));
}

extern "C" fn on_softmmu_flush(_opaque: *mut c_void, _vcpu: u32, vaddr: u64, len: u64) {
    engine::with_engine(|e| e.softmmu_flush(vaddr, len));
}

extern "C" fn on_kernel_softmmu_flush(_opaque: *mut c_void, _vcpu: u32, vaddr: u64, len: u64) {
    engine::with_engine_for_kernel(|e| e.kernel_softmmu_flush(vaddr, len));
}

fn report_at_exit() {
    let a = accel();
    let mut run = RunCounters {
        accesses: Some(a.config.accesses),
        ..Default::default()
    };
    let per_vcpu: Vec<_> = (0..a.vcpus.len())
        .map(|i| {
            let now = a.read_counter(i as u32);
            let mut st = a.vcpu(i as u32);
            st.charge(now);
            for (total, n) in run.ctx_events.iter_mut().zip(st.ctx_events) {
                *total += n;
            }
            std::mem::take(&mut st.processes)
        })
        .collect();
    if let Some(read) = a.api.get().and_then(|api| api.tlb_flush_counts) {
        for i in 0..a.vcpus.len() {
            let mut counts = [0u64; 3];
            // SAFETY: QEMU's function; it reads the counters of the vCPU
            // with this index into our 3-element array.
            unsafe { read(i as u32, counts.as_mut_ptr()) };
            for (total, n) in run.tlb_flushes.iter_mut().zip(counts) {
                *total += n;
            }
        }
    }
    live::finish(&per_vcpu);
    let pool = engine::with_engine(|e| (e.user_slot_count(), e.report_stats()));
    let report = Report::new(per_vcpu, pool, run);
    // Output, not a diagnostic: straight to stderr (qemu_plugin_outs()
    // only prints under `-d plugin`).
    match a.config.table {
        TableStyle::Compact => eprint!("{}", report.table()),
        TableStyle::Full => eprint!("{}", report.table_full()),
        TableStyle::Off => {}
    }
    if let Some(path) = &a.config.stats_file {
        if let Err(e) = std::fs::write(path, report.json()) {
            log::error!("hspt: cannot write statistics to {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_ask_for_lazy_jump_cache_checks_and_the_switch_turns_them_off() {
        let defaults = accel_flags(&Config::default());
        assert_ne!(defaults & abi::HSPT_ACCEL_LAZY_JMP_CACHE, 0);
        let off = crate::args::parse(&["recheck_blocks=off"]).expect("valid arguments");
        let flags = accel_flags(&off);
        assert_eq!(flags & abi::HSPT_ACCEL_LAZY_JMP_CACHE, 0);
        // Nothing else changes, but the kernel's code walks, which need it.
        assert_eq!(
            flags | abi::HSPT_ACCEL_LAZY_JMP_CACHE | abi::HSPT_ACCEL_KERNEL_CODE_WALKS,
            defaults
        );
    }

    #[test]
    fn kernel_code_walks_are_on_by_default_and_need_revalidate_and_rechecks() {
        let defaults = accel_flags(&Config::default());
        assert_ne!(defaults & abi::HSPT_ACCEL_KERNEL_CODE_WALKS, 0);
        let off = crate::args::parse(&["kernel_code_walks=off"]).expect("valid arguments");
        assert_eq!(
            accel_flags(&off) | abi::HSPT_ACCEL_KERNEL_CODE_WALKS,
            defaults
        );
        assert_eq!(accel_flags(&off) & abi::HSPT_ACCEL_KERNEL_CODE_WALKS, 0);
        for args in [["revalidate=off"], ["recheck_blocks=off"]] {
            let config = crate::args::parse(&args).expect("valid arguments");
            assert_eq!(accel_flags(&config) & abi::HSPT_ACCEL_KERNEL_CODE_WALKS, 0);
        }
    }

    #[test]
    fn defaults_ask_for_the_branch_cache_and_the_switch_turns_it_off() {
        let defaults = accel_flags(&Config::default());
        assert_ne!(defaults & abi::HSPT_ACCEL_BRANCH_CACHE, 0);
        let off = crate::args::parse(&["branch_cache=off"]).expect("valid arguments");
        let flags = accel_flags(&off);
        assert_eq!(flags | abi::HSPT_ACCEL_BRANCH_CACHE, defaults);
        assert_eq!(flags & abi::HSPT_ACCEL_BRANCH_CACHE, 0);
    }
}
