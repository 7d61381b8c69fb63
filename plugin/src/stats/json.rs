//! The machine-readable formats: the report written at exit (`stats=FILE`)
//! and the live lines (`live=FILE`), both documented in the README
//! (schema_version [`SCHEMA_VERSION`]).
//!
//! Written by hand, field by field, rather than through a serializer: the
//! key order and layout are part of what scripts and users have read since
//! schema 1, and `testdata/` holds them byte for byte.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{
    LabelSource, ProcessStats, Report, CTX_EVENT_NAMES, FLUSH_NAMES, SCHEMA_VERSION,
    SIGNAL_NS_PER_FAULT, SOFTMMU_EXTRA_NS_PER_ACCESS, TLBI_NAMES,
};
use crate::args::AccessCounting;
use crate::context::ProcessKey;

/// A value as JSON text.
trait ToJson {
    fn write_json(&self, out: &mut String);
}

macro_rules! json_as_display {
    ($($t:ty),*) => {$(
        impl ToJson for $t {
            fn write_json(&self, out: &mut String) {
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
// f64 as Rust prints it: 4.0 is `4`, which JSON reads as the same number.
json_as_display!(u16, u32, u64, i64, usize, bool, f64);

impl ToJson for str {
    fn write_json(&self, out: &mut String) {
        out.push_str(&json_string(self));
    }
}

impl<T: ToJson + ?Sized> ToJson for &T {
    fn write_json(&self, out: &mut String) {
        (**self).write_json(out);
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(v) => v.write_json(out),
            None => out.push_str("null"),
        }
    }
}

/// Text that is JSON already (a nested object or array).
struct Raw(String);

impl ToJson for Raw {
    fn write_json(&self, out: &mut String) {
        out.push_str(&self.0);
    }
}

/// A JSON object written one `field(name, value)` at a time, in order.
struct Object {
    out: String,
    /// Between two fields, and before the closing brace.
    separator: &'static str,
    close: &'static str,
    empty: bool,
}

impl Object {
    /// On one line: `{"a": 1, "b": 2}`.
    fn inline() -> Self {
        Object {
            out: String::from("{"),
            separator: ", ",
            close: "}",
            empty: true,
        }
    }

    /// One field per line, indented by two spaces (the report's top level).
    fn multiline() -> Self {
        Object {
            out: String::from("{\n  "),
            separator: ",\n  ",
            close: "\n}",
            empty: true,
        }
    }

    fn field(mut self, name: &str, value: impl ToJson) -> Self {
        if !self.empty {
            self.out.push_str(self.separator);
        }
        self.empty = false;
        self.out.push_str(&json_string(name));
        self.out.push_str(": ");
        value.write_json(&mut self.out);
        self
    }

    /// A nested object, from its own fields.
    fn object(self, name: &str, fields: impl FnOnce(Object) -> Object) -> Self {
        let nested = fields(Object::inline()).finish();
        self.field(name, Raw(nested))
    }

    /// `{"name": count, ...}` for a list of names and their counts.
    fn counts(self, name: &str, names: &[&str], counts: &[u64]) -> Self {
        self.object(name, |mut o| {
            for (n, c) in names.iter().zip(counts) {
                o = o.field(n, c);
            }
            o
        })
    }

    fn finish(mut self) -> String {
        self.out.push_str(self.close);
        self.out
    }
}

fn json_names(names: &[&str]) -> Raw {
    let quoted: Vec<String> = names.iter().map(|n| json_string(n)).collect();
    Raw(format!("[{}]", quoted.join(", ")))
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

fn hex(n: u64) -> String {
    format!("{n:#x}")
}

impl Report {
    /// The machine-readable report (`stats=FILE`).
    pub fn json(&self) -> String {
        let totals = self.totals();
        let processes: Vec<String> = self
            .processes
            .iter()
            .map(|(k, s)| format!("\n    {}", process_json(Some(k), s)))
            .collect();
        let accesses_counted = match self.run.accesses {
            Some(AccessCounting::Blocks) | None => "per_block",
            Some(AccessCounting::Exact) => "exact",
            Some(AccessCounting::Off) => "off",
        };
        let hspt = match &self.pool {
            Some((slots, p)) => Object::inline()
                .field("enabled", true)
                .field("slots", slots)
                .field("windows_used", p.windows_used)
                .field("evictions", p.evictions)
                .field("budget_evictions", p.budget_evictions)
                .field("window_resets", p.resets)
                .field("mapped_pages_peak", p.mapped_peak)
                .field("mapped_pages_at_exit", p.mapped_now)
                .field("vma_budget", p.vma_budget)
                .field("max_map_count", p.max_map_count)
                .field("rmap_downgrades", p.rmap_downgrades)
                .field("invalidation_failures", p.invalidation_failures)
                .field("faults", totals.spt.faults)
                .field("fault_handler_ns", totals.spt.fault_ns)
                .field("kernel_window", p.kernel_window),
            None => Object::inline().field("enabled", false),
        };
        let [full, part, elided] = self.run.tlb_flushes;
        let mut out = Object::multiline()
            .field("tool", "hspt")
            .field("schema_version", SCHEMA_VERSION)
            .field("version", env!("CARGO_PKG_VERSION"))
            .field("vcpus", self.vcpus)
            .field("accesses_counted", accesses_counted)
            .field("tlbi_kinds", json_names(&TLBI_NAMES))
            .field("flush_reasons", json_names(&FLUSH_NAMES))
            .field("processes", Raw(format!("[{}\n  ]", processes.join(","))))
            .field("totals", Raw(process_json(None, &totals)))
            .field("hspt", Raw(hspt.finish()))
            .object("softmmu", |o| {
                o.field("tlb_full_flushes", full)
                    .field("tlb_partial_flushes", part)
                    .field("tlb_elided_flushes", elided)
                    .counts("context_events", &CTX_EVENT_NAMES, &self.run.ctx_events)
            })
            .object("model", |o| {
                o.field("softmmu_extra_ns_per_access", SOFTMMU_EXTRA_NS_PER_ACCESS)
                    .field("signal_ns_per_fault", SIGNAL_NS_PER_FAULT)
            })
            .finish();
        out.push('\n');
        out
    }
}

/// One process's object in the report (`key` is `None` for the totals,
/// which have no context key or label).
fn process_json(key: Option<&ProcessKey>, s: &ProcessStats) -> String {
    let mut o = Object::inline();
    if let Some(k) = key {
        let (label, source) = match &s.label {
            Some((l, LabelSource::Exec)) => (Some(l.as_str()), Some("exec")),
            Some((l, LabelSource::Fork)) => (Some(l.as_str()), Some("fork")),
            None => (None, None),
        };
        o = o
            .field("asid", k.asid)
            .field("ttbr0", hex(k.ttbr0).as_str())
            .field("label", label)
            .field("label_source", source);
    }
    let c = &s.spt;
    o.field("user_accesses", s.user_accesses)
        .field("kernel_accesses", s.kernel_accesses)
        .field("window_accesses", s.window_accesses)
        .field("softmmu_user_accesses", s.softmmu_user_accesses())
        .field("user_entries", s.user_entries)
        .counts("tlb_maintenance", &TLBI_NAMES, &s.tlbi)
        .counts("qemu_flushes", &FLUSH_NAMES, &s.qemu_flushes)
        .object("spt", |o| {
            o.field("hits", s.spt_hits())
                .object("misses", |o| {
                    o.field("not_mapped", c.miss_unmapped)
                        .field("permission", c.miss_permission)
                        .field("code_page", c.miss_code)
                        .field("special", c.miss_special)
                })
                .field("guest_faults", c.guest_faults)
                .field("faults", c.faults)
                .field("fault_handler_ns", c.fault_ns)
                .field("evictions", c.evictions)
                .field("est_saved_ns", s.est_saved_ns())
                .field("pages_mapped", c.pages_mapped)
                .field("pages_around", c.pages_around)
                .field("pages_premapped", c.pages_premapped)
                .field("pages_invalidated", c.pages_invalidated)
                .field("windows_reset", c.windows_reset)
                .field("revalidations", c.revalidations)
                .field("pages_kept", c.pages_kept)
                .field("revalidation_ns", c.revalidation_ns)
                .field("restorations", c.restorations)
                .field("pages_restored", c.pages_restored)
                .field("restoration_ns", c.restoration_ns)
                .field("code_protects", c.code_protects)
                .field("entries_softmmu", c.entries_softmmu)
                .field("fallbacks", c.fallbacks)
                .object("kernel_window", |o| {
                    o.field("faults", c.kernel_faults)
                        .field("fault_handler_ns", c.kernel_fault_ns)
                        .field("pages_mapped", c.kernel_pages_mapped)
                        .field("resets", c.kernel_resets)
                        .field("revalidations", c.kernel_revalidations)
                        .field("sections_kept", c.kernel_sections_kept)
                        .field("pages_kept", c.kernel_pages_kept)
                        .field("revalidation_ns", c.kernel_revalidation_ns)
                        .object("softmmu", |o| {
                            o.field("user_memory", c.kernel_softmmu_user)
                                .field("special", c.kernel_softmmu_special)
                                .field("code_page", c.kernel_softmmu_code)
                                .field("remapped", c.kernel_softmmu_remapped)
                        })
                })
        })
        .finish()
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
    let mut totals = ProcessStats::default();
    let mut processes = Vec::new();
    let mut keys: Vec<&ProcessKey> = now.keys().collect();
    keys.sort();
    for k in keys {
        let s = &now[k];
        totals.merge(s);
        let p = previous.get(k).cloned().unwrap_or_default();
        let grown = |now: u64, before: u64| now.saturating_sub(before);
        let deltas = [
            ("user_accesses", grown(s.user_accesses, p.user_accesses)),
            (
                "kernel_accesses",
                grown(s.kernel_accesses, p.kernel_accesses),
            ),
            (
                "window_accesses",
                grown(s.window_accesses, p.window_accesses),
            ),
            ("user_entries", grown(s.user_entries, p.user_entries)),
            ("faults", grown(s.spt.faults, p.spt.faults)),
            ("fault_handler_ns", grown(s.spt.fault_ns, p.spt.fault_ns)),
            (
                "pages_mapped",
                grown(s.spt.pages_mapped, p.spt.pages_mapped),
            ),
            (
                "pages_invalidated",
                grown(s.spt.pages_invalidated, p.spt.pages_invalidated),
            ),
        ];
        if deltas.iter().all(|&(_, d)| d == 0) {
            continue;
        }
        let mut o = Object::inline()
            .field("asid", k.asid)
            .field("ttbr0", hex(k.ttbr0).as_str())
            .field("label", s.label.as_ref().map(|(l, _)| l.as_str()))
            .field("forked", matches!(s.label, Some((_, LabelSource::Fork))));
        for (name, delta) in deltas {
            o = o.field(name, delta);
        }
        processes.push(o.finish());
    }
    let totals = Object::inline()
        .field("user_accesses", totals.user_accesses)
        .field("kernel_accesses", totals.kernel_accesses)
        .field("window_accesses", totals.window_accesses)
        .field("faults", totals.spt.faults)
        .field("fault_handler_ns", totals.spt.fault_ns)
        .field("contexts", now.len());
    let mut line = Object::inline()
        .field("schema_version", SCHEMA_VERSION)
        .field("kind", kind)
        .field("t_ms", t_ms)
        .field("interval_ms", interval_ms)
        .field("processes", Raw(format!("[{}]", processes.join(", "))))
        .field("totals", Raw(totals.finish()))
        .finish();
    line.push('\n');
    line
}
