//! The per-process table printed at exit (`table=on`, `table=full`) and the
//! summary lines under it.

use std::borrow::Cow;
use std::fmt::Write as _;

use hspt_shim as abi;

use super::{
    LabelSource, ProcessStats, Report, FLUSH_NAMES, SIGNAL_NS_PER_FAULT,
    SOFTMMU_EXTRA_NS_PER_ACCESS, TLBI_NAMES,
};
use crate::args::AccessCounting;
use crate::context::ProcessKey;

/// A row of the default table: one process, or several folded together.
struct Row<'a> {
    name: String,
    asid: String,
    contexts: usize,
    stats: Cow<'a, ProcessStats>,
}

/// Width of the default table, checked by the unit tests.
pub const TABLE_WIDTH: usize = 120;
/// Processes with at least this share of all user-mode accesses get a row
/// of their own (at most [`MAX_OWN_ROWS`]); the others are folded by name.
const OWN_ROW_SHARE: f64 = 0.005;
const MAX_OWN_ROWS: usize = 20;
pub(super) const MAX_FOLDED_ROWS: usize = 8;

impl Report {
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
                    stats: Cow::Borrowed(s),
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
                    stats: Cow::Owned(s.clone()),
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
                stats: Cow::Owned(ProcessStats::default()),
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
            stats: Cow::Owned(ProcessStats::default()),
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

fn display_name(s: &ProcessStats) -> String {
    match &s.label {
        Some((l, LabelSource::Exec)) => l.clone(),
        Some((l, LabelSource::Fork)) => format!("{l}*"),
        None => "?".to_string(),
    }
}

/// 0.0% .. 100% (never rounded up to 100% while something is missing).
pub(super) fn percent(part: u64, whole: u64) -> String {
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

pub(super) fn human_signed_ns(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "+" };
    format!("{sign}{}", human_ns(ns.unsigned_abs()))
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(std::iter::once('~')).collect()
    }
}
