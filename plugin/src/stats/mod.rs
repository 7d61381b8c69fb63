//! The stats path: per-process counters, merged into the report made at
//! exit; [`table`] prints it for people, [`json`] writes it for scripts.
//!
//! A guest *process* here is a translation context: the ASID plus the base
//! of the user translation table (TTBR0). Linux gives every address space
//! (every exec, every fork child) its own page-table root and ASID, so a
//! context is one process image; threads of a process share it.

mod json;
mod table;

use std::collections::HashMap;

use hspt_shim as abi;

use crate::args::AccessCounting;
use crate::context::ProcessKey;
use crate::engine::pool::PoolStats;
use crate::engine::SptCounters;

pub use json::{json_string, live_line};
pub use table::{human_count, human_ns, TABLE_WIDTH};

/// Guest TLB-maintenance kinds, in `enum hspt_tlbi_kind` order.
pub const TLBI_NAMES: [&str; abi::HSPT_TLBI_KINDS as usize] = [
    "all", "asid", "mva", "mvaa", "all_is", "asid_is", "mva_is", "mvaa_is", "other",
];

/// QEMU's own flush reasons, in `enum hspt_flush_reason` order.
pub const FLUSH_NAMES: [&str; abi::HSPT_FLUSH_REASONS as usize] = [
    "dacr",
    "contextidr",
    "ttbr",
    "ttbcr",
    "sctlr",
    "fcseidr",
    "memory_map",
];

/// Version of the JSON formats (the `stats=` file and the `live=` lines):
/// raised when a field changes meaning or goes away, not when one is added.
pub const SCHEMA_VERSION: u32 = 2;

/// Guest context events, in `enum hspt_ctx_event` order.
pub const CTX_EVENT_NAMES: [&str; abi::HSPT_CTX_EVENTS as usize] = [
    "contextidr",
    "ttbr0",
    "ttbr1",
    "ttbcr",
    "dacr",
    "sctlr",
    "mode",
];

/// Where a process label came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelSource {
    /// argv\[0\] on the initial user stack, at the first user-mode entry after exec.
    Exec,
    /// The string at a forked-from process's argv\[0\] address, found intact
    /// in this address space (a fork child that did not exec).
    Fork,
}

/// Counters of one process.
#[derive(Debug, Clone, Default)]
pub struct ProcessStats {
    /// Order in which contexts were first seen (stable table order).
    pub first_seen: u64,
    pub label: Option<(String, LabelSource)>,
    /// Guest memory accesses made in user mode (PL0) and in the kernel
    /// while this context was current.
    pub user_accesses: u64,
    pub kernel_accesses: u64,
    /// Of the user-mode accesses, those made while the context's window
    /// was in use (the others went through the softmmu: warm-up, fallback,
    /// hspt=off).
    pub window_accesses: u64,
    /// Times user mode was entered in this context.
    pub user_entries: u64,
    pub tlbi: [u64; abi::HSPT_TLBI_KINDS as usize],
    pub qemu_flushes: [u64; abi::HSPT_FLUSH_REASONS as usize],
    /// The shadow page tables' work for this process (hspt=on).
    pub spt: SptCounters,
}

impl ProcessStats {
    pub fn merge(&mut self, other: &ProcessStats) {
        self.first_seen = self.first_seen.min(other.first_seen);
        if self.label.is_none() {
            self.label.clone_from(&other.label);
        }
        self.user_accesses += other.user_accesses;
        self.kernel_accesses += other.kernel_accesses;
        self.window_accesses += other.window_accesses;
        self.user_entries += other.user_entries;
        for (a, b) in self.tlbi.iter_mut().zip(other.tlbi) {
            *a += b;
        }
        for (a, b) in self.qemu_flushes.iter_mut().zip(other.qemu_flushes) {
            *a += b;
        }
        self.spt.add(&other.spt);
    }

    /// Window accesses that needed no fault (each miss ends in one
    /// completed access, counted in `window_accesses`).
    pub fn spt_hits(&self) -> u64 {
        self.window_accesses.saturating_sub(self.spt.misses())
    }

    /// User-mode accesses made through the softmmu.
    pub fn softmmu_user_accesses(&self) -> u64 {
        self.user_accesses.saturating_sub(self.window_accesses)
    }

    /// The windows' estimated net saving for this process, in ns: what
    /// the hits saved over the softmmu minus what the faults cost (the
    /// handler's measured time plus the kernel's signal delivery). Negative
    /// when the window cost more than it saved.
    pub fn est_saved_ns(&self) -> i64 {
        let saved = self.spt_hits() as f64 * SOFTMMU_EXTRA_NS_PER_ACCESS;
        let cost = self.spt.fault_ns as f64 + self.spt.faults as f64 * SIGNAL_NS_PER_FAULT;
        (saved - cost) as i64
    }

    fn is_empty(&self) -> bool {
        self.user_accesses == 0
            && self.kernel_accesses == 0
            && self.user_entries == 0
            && self.tlbi.iter().all(|&n| n == 0)
            && self.qemu_flushes.iter().all(|&n| n == 0)
            && self.spt == SptCounters::default()
    }
}

/// Counters of the whole run, beyond the processes'.
#[derive(Debug, Clone, Default)]
pub struct RunCounters {
    /// How accesses were counted (`accesses=`).
    pub accesses: Option<AccessCounting>,
    /// QEMU's softmmu TLB flushes, summed over vCPUs: full, partial (MMU
    /// indexes), elided (indexes already empty), as `info jit` counts them.
    pub tlb_flushes: [u64; 3],
    /// Guest context events (enum hspt_ctx_event), summed over vCPUs.
    pub ctx_events: [u64; abi::HSPT_CTX_EVENTS as usize],
}

/// All processes, merged over vCPUs, in first-seen order.
pub struct Report {
    pub processes: Vec<(ProcessKey, ProcessStats)>,
    pub vcpus: usize,
    /// (slots, pool counters) when the engine ran (hspt=on).
    pub pool: Option<(usize, PoolStats)>,
    pub run: RunCounters,
}

impl Report {
    pub fn new(
        per_vcpu: Vec<HashMap<ProcessKey, ProcessStats>>,
        pool: Option<(usize, PoolStats)>,
        run: RunCounters,
    ) -> Self {
        let vcpus = per_vcpu.len();
        let mut all: HashMap<ProcessKey, ProcessStats> = HashMap::new();
        for map in per_vcpu {
            for (key, stats) in map {
                match all.get_mut(&key) {
                    Some(s) => s.merge(&stats),
                    None => {
                        all.insert(key, stats);
                    }
                }
            }
        }
        let mut processes: Vec<_> = all.into_iter().filter(|(_, s)| !s.is_empty()).collect();
        processes.sort_by_key(|(k, s)| (s.first_seen, *k));
        Report {
            processes,
            vcpus,
            pool,
            run,
        }
    }

    pub(crate) fn totals(&self) -> ProcessStats {
        let mut t = ProcessStats::default();
        for (_, s) in &self.processes {
            t.merge(s);
        }
        t
    }
}

/// The model behind EST-SAVED. A user-mode access through the softmmu
/// costs this much more than one through a window: measured on memwalk
/// (README, "What the output means"): (time with hspt=off - time with
/// windows + the faults' cost) / window accesses = 4.7 ns, rounded down
/// because memwalk misses the softmmu TLB more than most programs.
pub const SOFTMMU_EXTRA_NS_PER_ACCESS: f64 = 4.0;
/// The kernel's part of a window fault (signal delivery and return),
/// which the handler's clock does not see; as the policy assumes.
pub const SIGNAL_NS_PER_FAULT: f64 = crate::engine::policy::SIGNAL_COST_NS as f64;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod json_tests;
