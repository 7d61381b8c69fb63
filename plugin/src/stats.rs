//! The stats path: per-process counters, and the table and JSON made from
//! them at exit.
//!
//! A guest *process* here is a translation context: the ASID plus the base
//! of the user translation table (TTBR0). Linux gives every address space
//! (every exec, every fork child) its own page-table root and ASID, so a
//! context is one process image; threads of a process share it.

use std::collections::HashMap;
use std::fmt::Write as _;

use hspt_shim as abi;

use crate::args::AccessCounting;
use crate::context::ProcessKey;
use crate::engine::pool::PoolStats;
use crate::engine::SptCounters;

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

/// A row of the default table: one process, or several folded together.
struct Row<'a> {
    name: String,
    asid: String,
    contexts: usize,
    stats: std::borrow::Cow<'a, ProcessStats>,
}

/// Width of the default table, checked by the unit tests.
pub const TABLE_WIDTH: usize = 120;
/// Processes with at least this share of all user-mode accesses get a row
/// of their own (at most [`MAX_OWN_ROWS`]); the others are folded by name.
const OWN_ROW_SHARE: f64 = 0.005;
const MAX_OWN_ROWS: usize = 20;
const MAX_FOLDED_ROWS: usize = 8;

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

    fn totals(&self) -> ProcessStats {
        let mut t = ProcessStats::default();
        for (_, s) in &self.processes {
            t.merge(s);
        }
        t
    }

    /// The rows of the default table: the busiest processes (by user-mode
    /// accesses) one per row, the others folded per program name, contexts
    /// with kernel activity only in one row.
    fn rows(&self) -> Vec<Row<'_>> {
        let total_user = self.totals().user_accesses.max(1);
        let mut users: Vec<&(ProcessKey, ProcessStats)> = self
            .processes
            .iter()
            .filter(|(_, s)| s.user_accesses > 0)
            .collect();
        users.sort_by_key(|(k, s)| (std::cmp::Reverse(s.user_accesses), s.first_seen, *k));
        let mut rows = Vec::new();
        let mut folded: Vec<Row> = Vec::new();
        for (k, s) in users {
            let own = rows.len() < MAX_OWN_ROWS
                && s.user_accesses as f64 >= OWN_ROW_SHARE * total_user as f64;
            if own {
                rows.push(Row {
                    name: display_name(s),
                    asid: k.asid.to_string(),
                    contexts: 1,
                    stats: std::borrow::Cow::Borrowed(s),
                });
                continue;
            }
            let name = display_name(s);
            match folded.iter_mut().find(|r| r.name == name) {
                Some(row) => {
                    row.contexts += 1;
                    row.asid = "-".into();
                    row.stats.to_mut().merge(s);
                }
                None => folded.push(Row {
                    name,
                    asid: k.asid.to_string(),
                    contexts: 1,
                    stats: std::borrow::Cow::Owned(s.clone()),
                }),
            }
        }
        folded.sort_by_key(|r| std::cmp::Reverse(r.stats.user_accesses));
        if folded.len() > MAX_FOLDED_ROWS {
            let rest = folded.split_off(MAX_FOLDED_ROWS - 1);
            let mut other = Row {
                name: "(others)".into(),
                asid: "-".into(),
                contexts: 0,
                stats: std::borrow::Cow::Owned(ProcessStats::default()),
            };
            for r in rest {
                other.contexts += r.contexts;
                other.stats.to_mut().merge(&r.stats);
            }
            folded.push(other);
        }
        rows.extend(folded);
        let mut kernel = Row {
            name: "(kernel only)".into(),
            asid: "-".into(),
            contexts: 0,
            stats: std::borrow::Cow::Owned(ProcessStats::default()),
        };
        for (_, s) in self.processes.iter().filter(|(_, s)| s.user_accesses == 0) {
            kernel.contexts += 1;
            kernel.stats.to_mut().merge(s);
        }
        if kernel.contexts > 0 {
            rows.push(kernel);
        }
        rows
    }

    /// The table printed at exit (`table=on`): at most [`TABLE_WIDTH`]
    /// columns, busiest processes first.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let totals = self.totals();
        let spt = self.pool.is_some();
        let users = self
            .processes
            .iter()
            .filter(|(_, s)| s.user_accesses > 0)
            .count();
        let _ = writeln!(
            out,
            "hspt: per-process statistics: {} processes ran user code, {} contexts in all; busiest first",
            users,
            self.processes.len()
        );
        let _ = writeln!(
            out,
            "{:<22} {:>5} {:>8} {:>8} {:>7} {:>8} {:>9} {:>8} {:>8} {:>6} {:>10}",
            "PROCESS",
            "ASID",
            "USER",
            "KERNEL",
            "WINDOW",
            "FAULTS",
            "FAULT-T",
            "MAPPED",
            "INVAL",
            "EVICT",
            "EST-SAVED"
        );
        let line = |out: &mut String, name: &str, asid: &str, s: &ProcessStats| {
            let window = if s.user_accesses == 0 || !spt {
                "-".to_string()
            } else {
                percent(s.window_accesses, s.user_accesses)
            };
            let c = &s.spt;
            let dash = |v: String| if spt { v } else { "-".to_string() };
            let _ = writeln!(
                out,
                "{:<22} {:>5} {:>8} {:>8} {:>7} {:>8} {:>9} {:>8} {:>8} {:>6} {:>10}",
                truncate(name, 22),
                asid,
                human_count(s.user_accesses),
                human_count(s.kernel_accesses),
                window,
                dash(human_count(c.faults)),
                dash(human_ns(c.fault_ns)),
                dash(human_count(c.pages_mapped)),
                dash(human_count(c.pages_invalidated)),
                dash(human_count(c.evictions)),
                dash(human_signed_ns(s.est_saved_ns()))
            );
        };
        for r in self.rows() {
            let name = if r.contexts > 1 {
                format!("{} ({})", r.name, r.contexts)
            } else {
                r.name.clone()
            };
            line(&mut out, &name, &r.asid, &r.stats);
        }
        line(&mut out, "TOTAL", "", &totals);
        let _ = writeln!(
            out,
            "USER/KERNEL: guest memory accesses{}; WINDOW: share of user accesses through the window;",
            match self.run.accesses {
                Some(AccessCounting::Blocks) => " (counted per block, see README)",
                Some(AccessCounting::Exact) => " (exact)",
                Some(AccessCounting::Off) => " (not counted: accesses=off)",
                None => "",
            }
        );
        let _ = writeln!(
            out,
            "FAULT-T: time in the fault handler; EST-SAVED: hits x {SOFTMMU_EXTRA_NS_PER_ACCESS} ns saved - fault time - \
             faults x {:.0} us signal cost",
            SIGNAL_NS_PER_FAULT / 1000.0
        );
        let _ = writeln!(
            out,
            "(n) = n contexts of that program folded; name* = forked child; table=full: every context and column"
        );
        out.push_str(&self.summary(&totals));
        out
    }

    /// Pool-wide and QEMU-wide lines under the tables.
    fn summary(&self, totals: &ProcessStats) -> String {
        let mut out = String::new();
        match &self.pool {
            Some((slots, p)) => {
                let _ = writeln!(
                    out,
                    "hspt: SPT on, {slots} window{}{}: {} used, {} LRU evictions, {} for the VMA budget; mapped pages peak {}",
                    if *slots == 1 { "" } else { "s" },
                    if p.kernel_window { " and the kernel's" } else { "" },
                    p.windows_used,
                    p.evictions,
                    p.budget_evictions,
                    human_count(p.mapped_peak)
                );
                let _ = writeln!(
                    out,
                    "hspt: window {} of user accesses ({} through the softmmu: {} warm-up/fallback entries, {} fallbacks)",
                    percent(totals.window_accesses, totals.user_accesses.max(1)),
                    human_count(totals.softmmu_user_accesses()),
                    human_count(totals.spt.entries_softmmu),
                    totals.spt.fallbacks
                );
                let _ = writeln!(
                    out,
                    "hspt: {} window faults, {:.1} us each in the handler; {} pages mapped ({} by fault-around, {} premapped)",
                    human_count(totals.spt.faults),
                    totals.spt.fault_ns as f64 / 1000.0 / totals.spt.faults.max(1) as f64,
                    human_count(totals.spt.pages_mapped),
                    human_count(totals.spt.pages_around),
                    human_count(totals.spt.pages_premapped)
                );
                if p.kernel_window {
                    let k = &totals.spt;
                    let _ = writeln!(
                        out,
                        "hspt: kernel window: {} faults, {:.1} us each in the handler; {} pages mapped; {} resets",
                        human_count(k.kernel_faults),
                        k.kernel_fault_ns as f64 / 1000.0 / k.kernel_faults.max(1) as f64,
                        human_count(k.kernel_pages_mapped),
                        human_count(k.kernel_resets)
                    );
                    let _ = writeln!(
                        out,
                        "hspt: kernel window after TLBIALL: {} revalidations kept {} sections and {} pages ({})",
                        human_count(k.kernel_revalidations),
                        human_count(k.kernel_sections_kept),
                        human_count(k.kernel_pages_kept),
                        human_ns(k.kernel_revalidation_ns)
                    );
                    let _ = writeln!(
                        out,
                        "hspt: kernel faults sent to the softmmu: {} user memory, {} special, {} code-page stores, {} remapped",
                        human_count(k.kernel_softmmu_user),
                        human_count(k.kernel_softmmu_special),
                        human_count(k.kernel_softmmu_code),
                        human_count(k.kernel_softmmu_remapped)
                    );
                }
                if totals.spt.revalidations > 0 {
                    let _ = writeln!(
                        out,
                        "hspt: {} windows revalidated after TLBIALL/TLBIASID: {} pages kept, {} in all",
                        human_count(totals.spt.revalidations),
                        human_count(totals.spt.pages_kept),
                        human_ns(totals.spt.revalidation_ns)
                    );
                }
                if totals.spt.restorations > 0 {
                    let _ = writeln!(
                        out,
                        "hspt: {} evicted windows restored: {} pages mapped again, {} in all",
                        human_count(totals.spt.restorations),
                        human_count(totals.spt.pages_restored),
                        human_ns(totals.spt.restoration_ns)
                    );
                }
                let _ = writeln!(
                    out,
                    "hspt: faults by cause: {} not mapped, {} write to read-only, {} code page, {} special, {} guest page faults",
                    human_count(totals.spt.miss_unmapped),
                    human_count(totals.spt.miss_permission),
                    human_count(totals.spt.miss_code),
                    human_count(totals.spt.miss_special),
                    human_count(totals.spt.guest_faults)
                );
            }
            None => {
                let _ = writeln!(out, "hspt: SPT off (hspt=off): no windows, statistics only");
            }
        }
        let [full, part, elided] = self.run.tlb_flushes;
        let dacr = self.run.ctx_events[abi::HSPT_CTX_DACR as usize];
        let dacr_full = totals.qemu_flushes[abi::HSPT_FLUSH_DACR as usize];
        let _ = writeln!(
            out,
            "softmmu: TLB flushes {} full, {} partial, {} elided (as info jit counts); {} DACR writes flushed {} times",
            human_count(full),
            human_count(part),
            human_count(elided),
            human_count(dacr),
            human_count(dacr_full)
        );
        out
    }
    /// Every context and every column (`table=full`).
    pub fn table_full(&self) -> String {
        let mut out = String::new();
        let shown: Vec<_> = self
            .processes
            .iter()
            .filter(|(_, s)| s.user_accesses > 0)
            .collect();
        let hidden = self.processes.len() - shown.len();
        // Only TLB kinds and flush reasons that occurred get a column.
        let totals = self.totals();
        let tlbi_cols: Vec<usize> = (0..TLBI_NAMES.len())
            .filter(|&i| totals.tlbi[i] > 0)
            .collect();
        let flush_cols: Vec<usize> = (0..FLUSH_NAMES.len())
            .filter(|&i| totals.qemu_flushes[i] > 0)
            .collect();

        let _ = writeln!(
            out,
            "hspt: per-process statistics ({} processes with user-mode accesses, {} vCPU{})",
            shown.len(),
            self.vcpus,
            if self.vcpus == 1 { "" } else { "s" }
        );
        let mut header = format!(
            "{:>4} {:>4} {:>10} {:<16} {:>14} {:>14} {:>8}",
            "#", "ASID", "TTBR0", "PROCESS", "USER-ACCESSES", "KERNEL-ACCESS", "ENTRIES"
        );
        for &i in &tlbi_cols {
            let _ = write!(header, " {:>9}", format!("tlbi.{}", TLBI_NAMES[i]));
        }
        for &i in &flush_cols {
            let _ = write!(header, " {:>11}", format!("flush.{}", FLUSH_NAMES[i]));
        }
        let spt = self.pool.is_some();
        if spt {
            for h in SPT_COLUMNS {
                let _ = write!(header, " {h:>11}");
            }
        }
        let _ = writeln!(out, "{header}");
        let row = |out: &mut String,
                   n: String,
                   asid: String,
                   ttbr: String,
                   name: &str,
                   s: &ProcessStats| {
            let mut line = format!(
                "{:>4} {:>4} {:>10} {:<16} {:>14} {:>14} {:>8}",
                n, asid, ttbr, name, s.user_accesses, s.kernel_accesses, s.user_entries
            );
            for &i in &tlbi_cols {
                let _ = write!(line, " {:>9}", s.tlbi[i]);
            }
            for &i in &flush_cols {
                let _ = write!(line, " {:>11}", s.qemu_flushes[i]);
            }
            if spt {
                let hit = if s.window_accesses == 0 {
                    "-".to_string()
                } else {
                    format!(
                        "{:.3}%",
                        100.0 * s.spt_hits() as f64 / s.window_accesses as f64
                    )
                };
                let c = &s.spt;
                for v in [
                    hit,
                    c.miss_unmapped.to_string(),
                    c.miss_permission.to_string(),
                    c.miss_code.to_string(),
                    c.miss_special.to_string(),
                    c.guest_faults.to_string(),
                    c.pages_mapped.to_string(),
                    c.pages_invalidated.to_string(),
                    c.windows_reset.to_string(),
                ] {
                    let _ = write!(line, " {v:>11}");
                }
            }
            let _ = writeln!(out, "{line}");
        };
        for (n, (k, s)) in shown.iter().enumerate() {
            let name = match &s.label {
                Some((l, LabelSource::Exec)) => truncate(l, 16),
                Some((l, LabelSource::Fork)) => truncate(&format!("{l}*"), 16),
                None => "?".to_string(),
            };
            row(
                &mut out,
                (n + 1).to_string(),
                k.asid.to_string(),
                format!("{:#x}", k.ttbr0),
                &name,
                s,
            );
        }
        row(
            &mut out,
            String::new(),
            String::new(),
            String::new(),
            "TOTAL",
            &totals,
        );
        if hidden > 0 {
            let _ = writeln!(
                out,
                "({hidden} more contexts had kernel activity only; TOTAL includes them. See the JSON.)"
            );
        }
        let _ = writeln!(
            out,
            "(PROCESS: program name from exec; * = forked child that did not exec; ? = unknown)"
        );
        out.push_str(&self.summary(&totals));
        out
    }

    /// The machine-readable report (`stats=FILE`), documented in the
    /// README (schema_version [`SCHEMA_VERSION`]).
    pub fn json(&self) -> String {
        let totals = self.totals();
        let mut out = String::new();
        let _ = write!(
            out,
            "{{\n  \"tool\": \"hspt\",\n  \"schema_version\": {SCHEMA_VERSION},\n  \"version\": \"{}\",\n  \"vcpus\": {},\n  \"accesses_counted\": \"{}\",\n  \"tlbi_kinds\": {},\n  \"flush_reasons\": {},\n  \"processes\": [",
            env!("CARGO_PKG_VERSION"),
            self.vcpus,
            match self.run.accesses {
                Some(AccessCounting::Blocks) | None => "per_block",
                Some(AccessCounting::Exact) => "exact",
                Some(AccessCounting::Off) => "off",
            },
            json_names(&TLBI_NAMES),
            json_names(&FLUSH_NAMES)
        );
        for (n, (k, s)) in self.processes.iter().enumerate() {
            let _ = write!(
                out,
                "{}\n    {}",
                if n == 0 { "" } else { "," },
                process_json(Some(k), s)
            );
        }
        let pool = match &self.pool {
            Some((slots, p)) => format!(
                "{{\"enabled\": true, \"slots\": {slots}, \"windows_used\": {}, \"evictions\": {}, \"budget_evictions\": {}, \"window_resets\": {}, \"mapped_pages_peak\": {}, \"mapped_pages_at_exit\": {}, \"vma_budget\": {}, \"max_map_count\": {}, \"rmap_downgrades\": {}, \"invalidation_failures\": {}, \"faults\": {}, \"fault_handler_ns\": {}, \"kernel_window\": {}}}",
                p.windows_used,
                p.evictions,
                p.budget_evictions,
                p.resets,
                p.mapped_peak,
                p.mapped_now,
                p.vma_budget,
                p.max_map_count,
                p.rmap_downgrades,
                p.invalidation_failures,
                totals.spt.faults,
                totals.spt.fault_ns,
                p.kernel_window
            ),
            None => "{\"enabled\": false}".to_string(),
        };
        let [full, part, elided] = self.run.tlb_flushes;
        let softmmu = format!(
            "{{\"tlb_full_flushes\": {full}, \"tlb_partial_flushes\": {part}, \"tlb_elided_flushes\": {elided}, \"context_events\": {}}}",
            json_counts(&CTX_EVENT_NAMES, &self.run.ctx_events)
        );
        let _ = write!(
            out,
            "\n  ],\n  \"totals\": {},\n  \"hspt\": {},\n  \"softmmu\": {},\n  \"model\": {{\"softmmu_extra_ns_per_access\": {}, \"signal_ns_per_fault\": {}}}\n}}\n",
            process_json(None, &totals),
            pool,
            softmmu,
            SOFTMMU_EXTRA_NS_PER_ACCESS,
            SIGNAL_NS_PER_FAULT
        );
        out
    }
}

/// SPT columns of the table (hspt=on).
const SPT_COLUMNS: [&str; 9] = [
    "spt.hit%",
    "miss.unmap",
    "miss.perm",
    "miss.code",
    "miss.special",
    "guest.fault",
    "pages.mapped",
    "inval.pages",
    "inval.windows",
];

/// The model behind EST-SAVED. A user-mode access through the softmmu
/// costs this much more than one through a window: measured on memwalk
/// (README, "What the output means"): (time with hspt=off - time with
/// windows + the faults' cost) / window accesses = 4.7 ns, rounded down
/// because memwalk misses the softmmu TLB more than most programs.
pub const SOFTMMU_EXTRA_NS_PER_ACCESS: f64 = 4.0;
/// The kernel's part of a window fault (signal delivery and return),
/// which the handler's clock does not see; as the policy assumes.
pub const SIGNAL_NS_PER_FAULT: f64 = crate::engine::policy::SIGNAL_COST_NS as f64;

fn display_name(s: &ProcessStats) -> String {
    match &s.label {
        Some((l, LabelSource::Exec)) => l.clone(),
        Some((l, LabelSource::Fork)) => format!("{l}*"),
        None => "?".to_string(),
    }
}

/// 0.0% .. 100% (never rounded up to 100% while something is missing).
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    let p = 100.0 * part as f64 / whole as f64;
    if part == whole {
        "100%".into()
    } else if p >= 99.9 {
        "99.9%".into()
    } else {
        format!("{p:.1}%")
    }
}

/// 999, 12.3K, 45.6M, 1.23G.
pub fn human_count(n: u64) -> String {
    let f = n as f64;
    if n < 1000 {
        n.to_string()
    } else if f < 999.5e3 {
        format!("{:.1}K", f / 1e3)
    } else if f < 999.5e6 {
        format!("{:.1}M", f / 1e6)
    } else {
        format!("{:.2}G", f / 1e9)
    }
}

/// 850ns, 12us, 3.4ms, 1.23s.
pub fn human_ns(ns: u64) -> String {
    let f = ns as f64;
    if ns == 0 {
        "0".into()
    } else if f < 1e3 {
        format!("{ns}ns")
    } else if f < 1e6 {
        format!("{:.0}us", f / 1e3)
    } else if f < 1e9 {
        format!("{:.1}ms", f / 1e6)
    } else {
        format!("{:.2}s", f / 1e9)
    }
}

fn human_signed_ns(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "+" };
    format!("{sign}{}", human_ns(ns.unsigned_abs()))
}

/// One line of the live file: per process, the counters' growth since
/// `previous` (processes that did not change are left out), and totals.
pub fn live_line(
    kind: &str,
    t_ms: u64,
    interval_ms: u64,
    now: &HashMap<ProcessKey, ProcessStats>,
    previous: &HashMap<ProcessKey, ProcessStats>,
) -> String {
    let mut out = format!(
        "{{\"schema_version\": {SCHEMA_VERSION}, \"kind\": \"{kind}\", \"t_ms\": {t_ms}, \"interval_ms\": {interval_ms}, \"processes\": ["
    );
    let mut totals = ProcessStats::default();
    let mut first = true;
    let mut keys: Vec<&ProcessKey> = now.keys().collect();
    keys.sort();
    for k in keys {
        let s = &now[k];
        totals.merge(s);
        let p = previous.get(k).cloned().unwrap_or_default();
        let d = |a: u64, b: u64| a.saturating_sub(b);
        let delta = [
            d(s.user_accesses, p.user_accesses),
            d(s.kernel_accesses, p.kernel_accesses),
            d(s.window_accesses, p.window_accesses),
            d(s.user_entries, p.user_entries),
            d(s.spt.faults, p.spt.faults),
            d(s.spt.fault_ns, p.spt.fault_ns),
            d(s.spt.pages_mapped, p.spt.pages_mapped),
            d(s.spt.pages_invalidated, p.spt.pages_invalidated),
        ];
        if delta.iter().all(|&v| v == 0) {
            continue;
        }
        let label = match &s.label {
            Some((l, _)) => json_string(l),
            None => "null".into(),
        };
        let _ = write!(
            out,
            "{}{{\"asid\": {}, \"ttbr0\": \"{:#x}\", \"label\": {label}, \"forked\": {}, \"user_accesses\": {}, \"kernel_accesses\": {}, \"window_accesses\": {}, \"user_entries\": {}, \"faults\": {}, \"fault_handler_ns\": {}, \"pages_mapped\": {}, \"pages_invalidated\": {}}}",
            if first { "" } else { ", " },
            k.asid,
            k.ttbr0,
            matches!(s.label, Some((_, LabelSource::Fork))),
            delta[0],
            delta[1],
            delta[2],
            delta[3],
            delta[4],
            delta[5],
            delta[6],
            delta[7]
        );
        first = false;
    }
    let _ = writeln!(
        out,
        "], \"totals\": {{\"user_accesses\": {}, \"kernel_accesses\": {}, \"window_accesses\": {}, \"faults\": {}, \"fault_handler_ns\": {}, \"contexts\": {}}}}}",
        totals.user_accesses,
        totals.kernel_accesses,
        totals.window_accesses,
        totals.spt.faults,
        totals.spt.fault_ns,
        now.len()
    );
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(std::iter::once('~')).collect()
    }
}

fn json_names(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

fn json_counts(names: &[&str], counts: &[u64]) -> String {
    let fields: Vec<String> = names
        .iter()
        .zip(counts)
        .map(|(n, c)| format!("\"{n}\": {c}"))
        .collect();
    format!("{{{}}}", fields.join(", "))
}

/// JSON string literal (the label comes from guest memory: escape all).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn process_json(key: Option<&ProcessKey>, s: &ProcessStats) -> String {
    let mut out = String::from("{");
    if let Some(k) = key {
        let (label, source) = match &s.label {
            Some((l, LabelSource::Exec)) => (json_string(l), "\"exec\""),
            Some((l, LabelSource::Fork)) => (json_string(l), "\"fork\""),
            None => ("null".to_string(), "null"),
        };
        let _ = write!(
            out,
            "\"asid\": {}, \"ttbr0\": \"{:#x}\", \"label\": {}, \"label_source\": {}, ",
            k.asid, k.ttbr0, label, source
        );
    }
    let c = &s.spt;
    let _ = write!(
        out,
        "\"user_accesses\": {}, \"kernel_accesses\": {}, \"window_accesses\": {}, \"softmmu_user_accesses\": {}, \"user_entries\": {}, \"tlb_maintenance\": {}, \"qemu_flushes\": {}, \"spt\": {{\"hits\": {}, \"misses\": {{\"not_mapped\": {}, \"permission\": {}, \"code_page\": {}, \"special\": {}}}, \"guest_faults\": {}, \"faults\": {}, \"fault_handler_ns\": {}, \"evictions\": {}, \"est_saved_ns\": {}, \"pages_mapped\": {}, \"pages_around\": {}, \"pages_premapped\": {}, \"pages_invalidated\": {}, \"windows_reset\": {}, \"revalidations\": {}, \"pages_kept\": {}, \"revalidation_ns\": {}, \"restorations\": {}, \"pages_restored\": {}, \"restoration_ns\": {}, \"code_protects\": {}, \"entries_softmmu\": {}, \"fallbacks\": {}, \"kernel_window\": {{\"faults\": {}, \"fault_handler_ns\": {}, \"pages_mapped\": {}, \"resets\": {}, \"revalidations\": {}, \"sections_kept\": {}, \"pages_kept\": {}, \"revalidation_ns\": {}, \"softmmu\": {{\"user_memory\": {}, \"special\": {}, \"code_page\": {}, \"remapped\": {}}}}}}}}}",
        s.user_accesses,
        s.kernel_accesses,
        s.window_accesses,
        s.softmmu_user_accesses(),
        s.user_entries,
        json_counts(&TLBI_NAMES, &s.tlbi),
        json_counts(&FLUSH_NAMES, &s.qemu_flushes),
        s.spt_hits(),
        c.miss_unmapped,
        c.miss_permission,
        c.miss_code,
        c.miss_special,
        c.guest_faults,
        c.faults,
        c.fault_ns,
        c.evictions,
        s.est_saved_ns(),
        c.pages_mapped,
        c.pages_around,
        c.pages_premapped,
        c.pages_invalidated,
        c.windows_reset,
        c.revalidations,
        c.pages_kept,
        c.revalidation_ns,
        c.restorations,
        c.pages_restored,
        c.restoration_ns,
        c.code_protects,
        c.entries_softmmu,
        c.fallbacks,
        c.kernel_faults,
        c.kernel_fault_ns,
        c.kernel_pages_mapped,
        c.kernel_resets,
        c.kernel_revalidations,
        c.kernel_sections_kept,
        c.kernel_pages_kept,
        c.kernel_revalidation_ns,
        c.kernel_softmmu_user,
        c.kernel_softmmu_special,
        c.kernel_softmmu_code,
        c.kernel_softmmu_remapped
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(contextidr: u32, ttbr0: u64) -> abi::hspt_arm_context {
        abi::hspt_arm_context {
            contextidr,
            ttbr0,
            ..Default::default()
        }
    }

    #[test]
    fn short_descriptor_key_drops_walk_attributes_and_pid_bits() {
        let a = ProcessKey::from_context(&ctx(0x1234_5607, 0x4a8c_406a));
        assert_eq!(
            a,
            ProcessKey {
                asid: 7,
                ttbr0: 0x4a8c_4000
            }
        );
    }

    #[test]
    fn lpae_key_takes_asid_from_ttbr0_or_ttbr1() {
        let mut c = ctx(0, (9u64 << 48) | 0x8000_1000);
        c.long_desc = 1;
        assert_eq!(
            ProcessKey::from_context(&c),
            ProcessKey {
                asid: 9,
                ttbr0: 0x8000_1000
            }
        );
        c.ttbcr = 1 << 22;
        c.ttbr1 = 5u64 << 48;
        assert_eq!(ProcessKey::from_context(&c).asid, 5);
    }

    #[test]
    fn report_merges_vcpus_orders_and_totals() {
        let k1 = ProcessKey {
            asid: 1,
            ttbr0: 0x1000,
        };
        let k2 = ProcessKey {
            asid: 2,
            ttbr0: 0x2000,
        };
        let mut a = HashMap::new();
        let mut b = HashMap::new();
        a.insert(
            k2,
            ProcessStats {
                first_seen: 2,
                user_accesses: 5,
                ..Default::default()
            },
        );
        let mut s1 = ProcessStats {
            first_seen: 1,
            user_accesses: 7,
            ..Default::default()
        };
        s1.tlbi[abi::HSPT_TLBI_MVA_IS as usize] = 3;
        a.insert(k1, s1.clone());
        b.insert(k1, s1);
        b.insert(ProcessKey { asid: 3, ttbr0: 0 }, ProcessStats::default());
        let r = Report::new(vec![a, b], None, RunCounters::default());
        assert_eq!(r.processes.len(), 2, "empty contexts are dropped");
        assert_eq!(r.processes[0].0, k1);
        assert_eq!(r.processes[0].1.user_accesses, 14);
        assert_eq!(r.processes[0].1.tlbi[abi::HSPT_TLBI_MVA_IS as usize], 6);
        let t = r.table_full();
        assert!(t.contains("tlbi.mva_is"), "{t}");
        assert!(!t.contains("tlbi.all "), "{t}");
        let j = r.json();
        assert!(j.contains("\"user_accesses\": 19"), "{j}");
        assert!(
            j.contains(&format!("\"schema_version\": {SCHEMA_VERSION}")),
            "{j}"
        );
    }

    /// A run like make run's: a few busy programs, many short-lived shells
    /// and kernel-only contexts, large counts.
    fn busy_report() -> Report {
        let mut map = HashMap::new();
        let mut add = |asid: u16, label: &str, fork: bool, user: u64| {
            let mut s = ProcessStats {
                first_seen: asid as u64,
                user_accesses: user,
                kernel_accesses: user / 3 + 7,
                window_accesses: user - user / 50,
                label: Some((
                    label.to_string(),
                    if fork {
                        LabelSource::Fork
                    } else {
                        LabelSource::Exec
                    },
                )),
                ..Default::default()
            };
            s.spt.faults = user / 10_000;
            s.spt.fault_ns = s.spt.faults * 9_000;
            s.spt.pages_mapped = 123_456_789;
            s.spt.evictions = 12_345;
            map.insert(
                ProcessKey {
                    asid,
                    ttbr0: 0x4000_0000 + asid as u64 * 0x4000,
                },
                s,
            );
        };
        for i in 0..60u16 {
            add(
                1 + i,
                if i % 2 == 0 { "sh" } else { "busybox" },
                i % 3 == 0,
                10_000 + i as u64,
            );
        }
        for i in 0..12u16 {
            add(100 + i, &format!("tool{i}"), false, 20_000);
        }
        add(200, "xz", false, 9_876_543_210);
        add(201, "a-program-with-a-very-long-name", false, 5_000_000_000);
        add(202, "gzip", false, 987_654_321);
        map.insert(
            ProcessKey {
                asid: 250,
                ttbr0: 0,
            },
            ProcessStats {
                kernel_accesses: 5,
                ..Default::default()
            },
        );
        Report::new(
            vec![map],
            Some((8, PoolStats::default())),
            RunCounters::default(),
        )
    }

    #[test]
    fn table_fits_120_columns_busiest_first_short_lived_folded() {
        let t = busy_report().table();
        for line in t.lines() {
            assert!(
                line.chars().count() <= TABLE_WIDTH,
                "{} wide: {line}",
                line.len()
            );
        }
        let rows: Vec<&str> = t.lines().skip(2).collect();
        assert!(rows[0].starts_with("xz "), "{t}");
        assert!(rows[1].starts_with("a-program-with-a-very~"), "{t}");
        assert!(rows[2].starts_with("gzip "), "{t}");
        // 60 shells in two rows (exec'd and forked children), the twelve
        // small tools folded beyond the row limit into "(others)".
        assert!(t.contains("sh (20)") && t.contains("sh* (10)"), "{t}");
        assert!(t.contains("(others)"), "{t}");
        assert!(t.contains("(kernel only)"), "{t}");
        let body = t.lines().take_while(|l| !l.starts_with("TOTAL")).count();
        assert!(body <= 2 + 3 + MAX_FOLDED_ROWS + 1, "{t}");
        assert!(t.contains("9.88G"), "{t}");
    }

    #[test]
    fn units() {
        assert_eq!(human_count(999), "999");
        assert_eq!(human_count(12_345), "12.3K");
        assert_eq!(human_count(999_999), "1.0M");
        assert_eq!(human_count(1_234_567_890), "1.23G");
        assert_eq!(human_ns(850), "850ns");
        assert_eq!(human_ns(3_400_000), "3.4ms");
        assert_eq!(human_ns(1_230_000_000), "1.23s");
        assert_eq!(human_signed_ns(-2_000_000), "-2.0ms");
        assert_eq!(percent(999_999, 1_000_000), "99.9%");
        assert_eq!(percent(5, 5), "100%");
    }

    #[test]
    fn live_line_has_only_changed_processes() {
        let k = ProcessKey {
            asid: 3,
            ttbr0: 0x8000,
        };
        let mut before = HashMap::new();
        before.insert(
            k,
            ProcessStats {
                user_accesses: 10,
                ..Default::default()
            },
        );
        let mut now = before.clone();
        now.get_mut(&k).unwrap().user_accesses = 25;
        now.insert(ProcessKey { asid: 4, ttbr0: 0 }, ProcessStats::default());
        let line = live_line("interval", 1500, 500, &now, &before);
        assert!(
            line.ends_with("}\n") && line.matches('\n').count() == 1,
            "{line}"
        );
        assert!(line.contains("\"user_accesses\": 15"), "{line}");
        assert!(!line.contains("\"asid\": 4"), "{line}");
        assert!(
            line.contains(&format!("\"schema_version\": {SCHEMA_VERSION}")),
            "{line}"
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
