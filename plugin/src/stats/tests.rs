//! The counters merged into a report, and the table made from it.

use std::collections::HashMap;

use hspt_shim as abi;

use super::table::{human_signed_ns, percent, MAX_FOLDED_ROWS};
use super::*;
use crate::engine::pool::PoolStats;

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
