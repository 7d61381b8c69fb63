//! The JSON formats, byte for byte, on a report where every counter has a
//! value of its own (so that two fields swapped or renamed show): scripts
//! and users parse these files.

use std::collections::HashMap;

use super::*;
use crate::args::AccessCounting;
use crate::engine::pool::PoolStats;

fn numbered_spt(base: u64) -> SptCounters {
    let n = |i: u64| base + i;
    SptCounters {
        miss_unmapped: n(1),
        miss_permission: n(2),
        miss_code: n(3),
        miss_special: n(4),
        guest_faults: n(5),
        pages_mapped: n(6),
        pages_around: n(7),
        pages_premapped: n(8),
        entries_softmmu: n(9),
        fallbacks: n(10),
        pages_invalidated: n(11),
        windows_reset: n(12),
        code_protects: n(13),
        faults: n(14),
        fault_ns: n(15),
        evictions: n(16),
        revalidations: n(17),
        pages_kept: n(18),
        revalidation_ns: n(19),
        restorations: n(20),
        pages_restored: n(21),
        restoration_ns: n(22),
        kernel_faults: n(23),
        kernel_fault_ns: n(24),
        kernel_pages_mapped: n(25),
        kernel_softmmu_user: n(26),
        kernel_softmmu_special: n(27),
        kernel_softmmu_code: n(28),
        kernel_softmmu_remapped: n(29),
        kernel_resets: n(30),
        kernel_revalidations: n(31),
        kernel_pages_kept: n(32),
        kernel_sections_kept: n(33),
        kernel_revalidation_ns: n(34),
    }
}

fn numbered_process(base: u64, label: Option<(&str, LabelSource)>) -> ProcessStats {
    let mut s = ProcessStats {
        first_seen: base,
        label: label.map(|(l, source)| (l.to_string(), source)),
        user_accesses: base * 1000 + 900,
        kernel_accesses: base * 1000 + 800,
        window_accesses: base * 1000 + 700,
        user_entries: base + 40,
        spt: numbered_spt(base * 100),
        ..Default::default()
    };
    for (i, n) in s.tlbi.iter_mut().enumerate() {
        *n = base * 10 + i as u64;
    }
    for (i, n) in s.qemu_flushes.iter_mut().enumerate() {
        *n = base * 20 + i as u64;
    }
    s
}

fn processes() -> HashMap<ProcessKey, ProcessStats> {
    let mut map = HashMap::new();
    map.insert(
        ProcessKey {
            asid: 7,
            ttbr0: 0x4a8c_4000,
        },
        numbered_process(1, Some(("sh", LabelSource::Exec))),
    );
    map.insert(
        ProcessKey {
            asid: 9,
            ttbr0: 0x4b00_0000,
        },
        numbered_process(2, Some(("we\"ird\\\n", LabelSource::Fork))),
    );
    map.insert(
        ProcessKey {
            asid: 3,
            ttbr0: 0x4c00_0000,
        },
        numbered_process(3, None),
    );
    map
}

fn run() -> RunCounters {
    RunCounters {
        accesses: Some(AccessCounting::Exact),
        tlb_flushes: [11, 12, 13],
        ctx_events: [21, 22, 23, 24, 25, 26, 27],
    }
}

fn pool() -> PoolStats {
    PoolStats {
        windows_used: 31,
        evictions: 32,
        budget_evictions: 33,
        resets: 34,
        mapped_now: 35,
        mapped_peak: 36,
        vma_budget: 37,
        max_map_count: 38,
        rmap_downgrades: 39,
        invalidation_failures: 40,
        kernel_window: true,
    }
}

/// Compares with `testdata/NAME`; `HSPT_WRITE_GOLDEN=1 cargo test -p hspt
/// stats` rewrites the files, for a deliberate change of format (raise
/// SCHEMA_VERSION if a field changes meaning or goes away).
fn check(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/stats/testdata")
        .join(name);
    // The version changes on its own: compare the rest.
    let version = format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION"));
    let actual = actual.replace(&version, "\"version\": \"VERSION\"");
    if std::env::var_os("HSPT_WRITE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).expect("write golden file");
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(actual, expected, "differs from {}", path.display());
}

#[test]
fn stats_file_is_unchanged() {
    let with_pool = Report::new(vec![processes()], Some((8, pool())), run());
    check("report-spt.json", &with_pool.json());
    let without = Report::new(vec![processes()], None, RunCounters::default());
    check("report-off.json", &without.json());
    let empty = Report::new(vec![], None, RunCounters::default());
    check("report-empty.json", &empty.json());
}

#[test]
fn live_lines_are_unchanged() {
    let now = processes();
    let mut previous = processes();
    // One process unchanged (left out of the line), one grown.
    previous.remove(&ProcessKey {
        asid: 3,
        ttbr0: 0x4c00_0000,
    });
    let sh = ProcessKey {
        asid: 7,
        ttbr0: 0x4a8c_4000,
    };
    if let Some(s) = previous.get_mut(&sh) {
        s.user_accesses = 5;
    }
    let mut line = live_line("interval", 1500, 500, &now, &previous);
    line.push_str(&live_line("final", 2000, 500, &now, &HashMap::new()));
    check("live.jsonl", &line);
}
