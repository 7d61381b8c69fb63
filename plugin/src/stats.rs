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
        self.user_entries += other.user_entries;
        for (a, b) in self.tlbi.iter_mut().zip(other.tlbi) {
            *a += b;
        }
        for (a, b) in self.qemu_flushes.iter_mut().zip(other.qemu_flushes) {
            *a += b;
        }
        self.spt.add(&other.spt);
    }

    /// User-mode accesses that needed no fault (each miss ends in one
    /// completed access, counted in `user_accesses`).
    pub fn spt_hits(&self) -> u64 {
        self.user_accesses.saturating_sub(self.spt.misses())
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

/// All processes, merged over vCPUs, in first-seen order.
pub struct Report {
    pub processes: Vec<(ProcessKey, ProcessStats)>,
    pub vcpus: usize,
    /// (slots, pool counters) when the engine ran (hspt=on).
    pub pool: Option<(usize, PoolStats)>,
}

impl Report {
    pub fn new(
        per_vcpu: Vec<HashMap<ProcessKey, ProcessStats>>,
        pool: Option<(usize, PoolStats)>,
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
        }
    }

    fn totals(&self) -> ProcessStats {
        let mut t = ProcessStats::default();
        for (_, s) in &self.processes {
            t.merge(s);
        }
        t
    }

    /// The human-readable table printed at exit.
    pub fn table(&self) -> String {
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
                let hit = if s.user_accesses == 0 {
                    "-".to_string()
                } else {
                    format!(
                        "{:.3}%",
                        100.0 * s.spt_hits() as f64 / s.user_accesses as f64
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
        match &self.pool {
            Some((slots, p)) => {
                let _ = writeln!(
                    out,
                    "hspt: SPT on, {slots} window{} ({} used, {} LRU evictions, {} for the VMA budget); \
                     mapped pages peak {} (budget {} VMAs of vm.max_map_count {})",
                    if *slots == 1 { "" } else { "s" },
                    p.windows_used,
                    p.evictions,
                    p.budget_evictions,
                    p.mapped_peak,
                    p.vma_budget,
                    p.max_map_count
                );
                let _ = writeln!(
                    out,
                    "hspt: {} user-mode entries ran through the softmmu (warm-up or fallback); \
                     {} fallbacks of thrashing windows",
                    totals.spt.entries_softmmu, totals.spt.fallbacks
                );
                let _ = writeln!(
                    out,
                    "hspt: {} window faults, {:.1} us each in the handler (signal delivery not included); \
                     {} pages mapped, {} of them by fault-around",
                    p.faults,
                    p.fault_ns as f64 / 1000.0 / p.faults.max(1) as f64,
                    totals.spt.pages_mapped,
                    totals.spt.pages_around
                );
            }
            None => {
                let _ = writeln!(out, "hspt: SPT off (hspt=off): statistics only");
            }
        }
        out
    }

    /// The machine-readable report (`stats=FILE`).
    pub fn json(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "{{\n  \"tool\": \"hspt\",\n  \"version\": \"{}\",\n  \"vcpus\": {},\n  \"tlbi_kinds\": {},\n  \"flush_reasons\": {},\n  \"processes\": [",
            env!("CARGO_PKG_VERSION"),
            self.vcpus,
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
                "{{\"enabled\": true, \"slots\": {slots}, \"windows_used\": {}, \"evictions\": {}, \"budget_evictions\": {}, \"window_resets\": {}, \"mapped_pages_peak\": {}, \"mapped_pages_at_exit\": {}, \"vma_budget\": {}, \"max_map_count\": {}, \"rmap_downgrades\": {}, \"invalidation_failures\": {}, \"faults\": {}, \"fault_handler_ns\": {}}}",
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
                p.faults,
                p.fault_ns
            ),
            None => "{\"enabled\": false}".to_string(),
        };
        let _ = write!(
            out,
            "\n  ],\n  \"totals\": {},\n  \"hspt\": {}\n}}\n",
            process_json(None, &self.totals()),
            pool
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
        "\"user_accesses\": {}, \"kernel_accesses\": {}, \"user_entries\": {}, \"tlb_maintenance\": {}, \"qemu_flushes\": {}, \"spt\": {{\"hits\": {}, \"misses\": {{\"not_mapped\": {}, \"permission\": {}, \"code_page\": {}, \"special\": {}}}, \"guest_faults\": {}, \"pages_mapped\": {}, \"pages_around\": {}, \"pages_premapped\": {}, \"pages_invalidated\": {}, \"windows_reset\": {}, \"code_protects\": {}, \"entries_softmmu\": {}, \"fallbacks\": {}}}}}",
        s.user_accesses,
        s.kernel_accesses,
        s.user_entries,
        json_counts(&TLBI_NAMES, &s.tlbi),
        json_counts(&FLUSH_NAMES, &s.qemu_flushes),
        s.spt_hits(),
        c.miss_unmapped,
        c.miss_permission,
        c.miss_code,
        c.miss_special,
        c.guest_faults,
        c.pages_mapped,
        c.pages_around,
        c.pages_premapped,
        c.pages_invalidated,
        c.windows_reset,
        c.code_protects,
        c.entries_softmmu,
        c.fallbacks
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
        let r = Report::new(vec![a, b], None);
        assert_eq!(r.processes.len(), 2, "empty contexts are dropped");
        assert_eq!(r.processes[0].0, k1);
        assert_eq!(r.processes[0].1.user_accesses, 14);
        assert_eq!(r.processes[0].1.tlbi[abi::HSPT_TLBI_MVA_IS as usize], 6);
        let t = r.table();
        assert!(t.contains("tlbi.mva_is"), "{t}");
        assert!(!t.contains("tlbi.all "), "{t}");
        let j = r.json();
        assert!(j.contains("\"user_accesses\": 19"), "{j}");
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
