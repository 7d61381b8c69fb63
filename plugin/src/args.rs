//! Plugin arguments: `-plugin libhspt.so,key=value,...`.
//!
//! [`ARGS`] is the one description of every argument: its name, the shape
//! and default of its value, what it does, and how its value is checked and
//! stored into [`Config`]. The parser, the `help` text, the messages for a
//! bad argument, the README's table and `Config::default()` are all made
//! from it, so adding an argument is one entry there plus the `Config`
//! field it sets (and that field's unset value in `Config::UNSET`).
//!
//! Every argument is checked: an unknown key, a missing `=`, or a bad value
//! stops QEMU at start-up with a message that names the argument.

use std::fmt::{self, Write as _};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;

/// The exit table (`table=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableStyle {
    Off,
    /// At most 120 columns, busiest processes first, the others folded.
    Compact,
    /// Every context and every counter.
    Full,
}

/// How guest memory accesses are counted (`accesses=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessCounting {
    /// Not at all: access and hit counts read 0.
    Off,
    /// Each block adds the number of loads and stores it was translated
    /// with when it starts (QEMU's HSPT_ACCEL_COUNT_ACCESSES): one add per
    /// block. A block left early by an exception, or with condition-failed
    /// loads or stores, counts them all the same.
    Blocks,
    /// Inline TCG code after every access (plugin memory callbacks): exact,
    /// and about 15% slower.
    Exact,
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Write the per-process statistics as JSON to this file at exit.
    pub stats_file: Option<PathBuf>,
    /// The per-process table printed at exit.
    pub table: TableStyle,
    /// Append a JSON line of per-process deltas to this file every
    /// `live_ms` while the guest runs.
    pub live_file: Option<PathBuf>,
    pub live_ms: u64,
    /// Label processes with their program name read from guest memory.
    pub labels: bool,
    /// Accelerate (hosted shadow page tables); off keeps the statistics.
    pub hspt: bool,
    /// How guest memory accesses are counted per process.
    pub accesses: AccessCounting,
    /// Number of windows: 1 = Shared SPT, 256 = Private SPT, between =
    /// Group-shared SPT.
    pub slots: usize,
    /// User-mode time (µs) a context runs through the softmmu before it
    /// gets a window.
    pub warmup_us: u64,
    /// Fault-around: a window fault maps the faulting page's run of
    /// neighbours in RAM within its aligned block of this many pages.
    pub around: usize,
    /// Test only: every N-th unmap or write-protect of a window page fails
    /// as if the kernel had refused it (0 = never), so the recovery path
    /// (reset the whole window) runs under a real guest.
    pub fail_every: u32,
    /// Ask QEMU for precise softmmu flushes: a DACR write flushes only the
    /// entries whose domain changed.
    pub precise: bool,
    /// With `precise`, ask QEMU to keep global entries (and the kernel's
    /// blocks) across ASID changes and TLBIASID.
    pub keep_global: bool,
    /// After TLBIALL/TLBIASID, keep window mappings whose translation is
    /// unchanged (checked when their context next enters user mode) and,
    /// with `precise`, ask QEMU to keep such kernel blocks.
    pub revalidate: bool,
    /// Ask QEMU to grow a filling softmmu TLB at once, not at a flush.
    pub tlb_grow: bool,
    /// Map the page of a guest page fault raised from a window when the
    /// guest returns to user mode, if the guest kernel made it valid.
    pub premap: bool,
    /// Keep an evicted window's page list; when its context gets a window
    /// again, map the pages that still translate at once.
    pub restore: bool,
    /// With `precise`, a window for the kernel's (PL1) accesses to global
    /// translations, shared by all address spaces, besides the `slots`.
    pub kernel: bool,
    /// Ask QEMU to check jump cache blocks again at their next use after a
    /// flush of whole MMU indexes, instead of dropping them.
    pub recheck_blocks: bool,
    /// With `revalidate` and `recheck_blocks`, ask QEMU to keep the walks
    /// behind the kernel's executable global TLB entries, so that a TLBIALL
    /// that finds them unchanged leaves the kernel's jump cache current.
    pub kernel_code_walks: bool,
    /// Ask QEMU to keep each indirect branch's last two targets (the latest
    /// checked inline), so that branching there again skips the block lookup.
    pub branch_cache: bool,
}

impl Config {
    /// Before any default: no file, every switch off, every number 0.
    /// [`Config::default`] applies each argument's default from [`ARGS`]
    /// to it, so that a default is written in one place, the table.
    const UNSET: Config = Config {
        stats_file: None,
        table: TableStyle::Off,
        live_file: None,
        live_ms: 0,
        labels: false,
        hspt: false,
        accesses: AccessCounting::Off,
        slots: 0,
        warmup_us: 0,
        around: 0,
        fail_every: 0,
        precise: false,
        keep_global: false,
        revalidate: false,
        tlb_grow: false,
        premap: false,
        restore: false,
        kernel: false,
        recheck_blocks: false,
        kernel_code_walks: false,
        branch_cache: false,
    };
}

/// What [`ARGS`] says each argument is when it is not given.
impl Default for Config {
    fn default() -> Self {
        let mut config = Config::UNSET;
        for spec in ARGS {
            if let Some(value) = spec.default {
                // Unit tests build the defaults: a refusal is a bug in ARGS.
                if (spec.set)(&mut config, value).is_err() {
                    panic!("hspt: ARGS refuses its own default {}={value}", spec.name);
                }
            }
        }
        config
    }
}

/// Why a value was refused; [`ArgError`] adds the argument and its help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// What the value should have been, e.g. "expected on or off".
    Expected(String),
    /// A file argument with an empty value.
    NeedsFileName,
}

/// Checks a value and stores it into the configuration.
pub type Setter = fn(&mut Config, &str) -> Result<(), Rejection>;

/// One plugin argument, as the user sees it and as the parser applies it.
pub struct ArgSpec {
    pub name: &'static str,
    /// The shape of the value, for the help: `on|off`, `N`, `FILE`...
    pub value: &'static str,
    /// The value in effect when the argument is not given (`None`: the
    /// feature is off, e.g. no statistics file).
    pub default: Option<&'static str>,
    /// What the argument does (Markdown: `code` spans, no links).
    pub help: &'static str,
    pub set: Setter,
}

/// The argument that prints [`help_text`] instead of running.
pub const HELP_ARG: &str = "help";

/// Every plugin argument, in the order the help and the README list them.
pub static ARGS: &[ArgSpec] = &[
    ArgSpec {
        name: "stats",
        value: "FILE",
        default: None,
        help: "write the per-process statistics as JSON to FILE at exit",
        set: |c, v| {
            c.stats_file = Some(file(v)?);
            Ok(())
        },
    },
    ArgSpec {
        name: "table",
        value: "on|full|off",
        default: Some("on"),
        help: "print the per-process table at exit: `on` at most 120 columns, busiest processes \
               first, short-lived ones folded per program; `full` every context and every counter",
        set: |c, v| {
            c.table = one_of(
                v,
                TableStyle::Compact,
                ("full", TableStyle::Full),
                TableStyle::Off,
            )?;
            Ok(())
        },
    },
    ArgSpec {
        name: "live",
        value: "FILE",
        default: None,
        help: "while the guest runs, append a JSON line with each process's counters since the \
               previous line to FILE (see \"Watching a run\" in the README; `scripts/hspt-top FILE` \
               shows it)",
        set: |c, v| {
            c.live_file = Some(file(v)?);
            Ok(())
        },
    },
    ArgSpec {
        name: "live_ms",
        value: "MS",
        default: Some("500"),
        help: "interval of the live lines, 50 to 60000 ms",
        set: |c, v| {
            c.live_ms = number(v, 50..=60_000, "milliseconds from 50 to 60000")?;
            Ok(())
        },
    },
    ArgSpec {
        name: "labels",
        value: "on|off",
        default: Some("on"),
        help: "name processes after the program they run",
        set: |c, v| {
            c.labels = on_off(v)?;
            Ok(())
        },
    },
    ArgSpec {
        name: "hspt",
        value: "on|off",
        default: Some("on"),
        help: "accelerate; `off` keeps the statistics, for comparison",
        set: |c, v| {
            c.hspt = on_off(v)?;
            Ok(())
        },
    },
    ArgSpec {
        name: "slots",
        value: "N",
        default: Some("16"),
        help: "number of windows for user address spaces, 1..256: 1 = Shared SPT, 256 = Private \
               SPT (the kernel window, `kernel=`, is one more)",
        set: |c, v| {
            c.slots = number(v, 1..=256, "a number of windows from 1 to 256")?;
            Ok(())
        },
    },
    ArgSpec {
        name: "accesses",
        value: "on|exact|off",
        default: Some("on"),
        help: "count guest memory accesses per process: `on` per block, QEMU adds a block's number \
               of loads and stores once per block executed (one add to a host register on x86-64, \
               patch 15); `exact` inline code after every access (about 10% slower than `off` on \
               the single-process benchmarks, `bench/results/2026-11-28T214142Z.md`); `off` leaves \
               access and hit counts at 0",
        set: |c, v| {
            c.accesses = one_of(
                v,
                AccessCounting::Blocks,
                ("exact", AccessCounting::Exact),
                AccessCounting::Off,
            )?;
            Ok(())
        },
    },
    ArgSpec {
        name: "warmup",
        value: "US",
        default: Some("20000"),
        help: "user-mode time (µs) a process runs through the softmmu before it gets a window \
               (0 = at once)",
        set: |c, v| {
            c.warmup_us = number(v, 0..=10_000_000, "microseconds from 0 to 10000000")?;
            Ok(())
        },
    },
    ArgSpec {
        name: "precise",
        value: "on|off",
        default: Some("on"),
        help: "a DACR write flushes only the softmmu TLB entries whose domain changed (PL0 entries \
               lazily, before they are used) instead of the whole TLB; also with `hspt=off`",
        set: |c, v| {
            c.precise = on_off(v)?;
            Ok(())
        },
    },
    ArgSpec {
        name: "keep_global",
        value: "on|off",
        default: Some("on"),
        help: "with `precise=on`: an ASID change (every context switch) or TLBIASID flushes only \
               the softmmu TLB entries of non-global translations and the blocks translated for \
               user mode, keeping the kernel's global entries and blocks, as an ASID-tagged TLB \
               would (off = stock QEMU's full flush of the softmmu, after which the kernel window \
               is checked against the guest's tables, as after a TLBIALL, rather than emptied)",
        set: |c, v| {
            c.keep_global = on_off(v)?;
            Ok(())
        },
    },
    ArgSpec {
        name: "revalidate",
        value: "on|off",
        default: Some("on"),
        help: "after a TLBIALL(IS) (Debian's kernel issues one at every fork, exec and exit) or \
               TLBIASID(IS): windows keep their mappings, and when the process next enters user \
               mode each page is checked against the guest's tables (unchanged: kept; write access \
               lost: made read-only; else unmapped) instead of faulting every page in again; with \
               `precise=on`, QEMU also keeps in its jump cache each kernel block whose page still \
               maps to the same RAM page (a process that runs little between two flushes, such as \
               a shell forking one child after another, is taken off its window by the policy; \
               one vCPU for TLBIALLIS; off also resets the kernel window at every TLBIALL, which \
               on fork-heavy guests makes it slower than stock: a measurement, not a setting to \
               run)",
        set: |c, v| {
            c.revalidate = on_off(v)?;
            Ok(())
        },
    },
    ArgSpec {
        name: "tlb_grow",
        value: "on|off",
        default: Some("on"),
        help: "a softmmu TLB more than 70% used grows at once (at most every 100 ms) instead of at \
               its next flush, which precise flushes make rare",
        set: |c, v| {
            c.tlb_grow = on_off(v)?;
            Ok(())
        },
    },
    ArgSpec {
        name: "premap",
        value: "on|off",
        default: Some("on"),
        help: "after a window fault became the guest's page fault (copy-on-write, a page not \
               populated yet), map the page on the way back to user mode if the guest kernel made \
               it valid, instead of faulting a second time",
        set: |c, v| {
            c.premap = on_off(v)?;
            Ok(())
        },
    },
    ArgSpec {
        name: "restore",
        value: "on|off",
        default: Some("on"),
        help: "when LRU evicts a window (more processes than windows), keep the list of pages it \
               mapped (up to 4096, for 64 processes); when the process gets a window again, map at \
               its entry to user mode those pages its tables still translate, neighbours in one \
               `mmap`, instead of faulting each in again",
        set: |c, v| {
            c.restore = on_off(v)?;
            Ok(())
        },
    },
    ArgSpec {
        name: "kernel",
        value: "on|off",
        default: Some("on"),
        help: "with `precise=on`: the kernel's (PL1) loads and stores of global translations go \
               through a window of their own, shared by all processes, besides the `slots` (QEMU \
               flushes of the kernel's MMU index unmap what they drop; after a TLBIALL each of its \
               sections is checked once against the guest's tables, and at most 64 other pages one \
               by one); blocks that reach user memory, special memory or a page the kernel remaps \
               again and again (a fixmap slot) run through the softmmu",
        set: |c, v| {
            c.kernel = on_off(v)?;
            Ok(())
        },
    },
    ArgSpec {
        name: "recheck_blocks",
        value: "on|off",
        default: Some("on"),
        help: "after a softmmu flush of whole MMU indexes (an ASID change, TLBIALL, a DACR change \
               for user mode) and after a block is invalidated, QEMU keeps its jump cache and \
               checks each block at its next use (its address still translates to the same RAM: \
               kept), instead of emptying the cache or scanning it and looking every block up again \
               in its hash table; with nothing left to empty the cache, it has 64K entries instead \
               of 4K, 256 per page instead of 64, in huge pages; a page flush clears only the \
               entries of blocks on that page (and the page before), not the 2x64 entries of other \
               pages that hash alike, and reads them only if a filter of the pages entries were \
               made for says one may be there; blocks of one address that differ in `cs_base` (the \
               FPU enabled or not) get separate entries (patch 21; off = the 4K \
               cache emptied or scanned as before)",
        set: |c, v| {
            c.recheck_blocks = on_off(v)?;
            Ok(())
        },
    },
    ArgSpec {
        name: "branch_cache",
        value: "on|off",
        default: Some("on"),
        help: "each indirect branch of translated code (a return, a call or jump through a \
               register, a branch to another page) keeps the last two blocks it went to, checked \
               inline against the pc and Thumb bit, so that going there again skips QEMU's block \
               lookup (`helper_lookup_tb_ptr`); any flush or expiry of the jump cache, any \
               invalidated block and any breakpoint inserted ends what all branches keep; the 12 \
               MB of slots are in huge pages (patches 22-23)",
        set: |c, v| {
            c.branch_cache = on_off(v)?;
            Ok(())
        },
    },
    ArgSpec {
        name: "kernel_code_walks",
        value: "on|off",
        default: Some("on"),
        help: "with `revalidate=on` and `recheck_blocks=on`: QEMU keeps the page-table walks behind \
               the kernel's executable global TLB entries (one per section or small page, 64 at \
               most; a Linux kernel's text is a handful of sections) and, at a TLBIALL where each \
               still reads the same descriptors in the current tables, leaves the kernel's blocks \
               in its jump cache current instead of checking each again at its next use; a walk it \
               cannot keep (a non-global translation, two walks in one slot) makes the next \
               TLBIALL check every block as before (patches 24-25)",
        set: |c, v| {
            c.kernel_code_walks = on_off(v)?;
            Ok(())
        },
    },
    ArgSpec {
        name: "fail_every",
        value: "N",
        default: Some("0"),
        help: "for tests only: every N-th unmap or write-protect of a window page fails as if the \
               kernel refused it, so the recovery (reset the whole window) runs under a real guest \
               (0 = never)",
        set: |c, v| {
            c.fail_every = v
                .parse()
                .map_err(|_| expected("a number (0 = never)"))?;
            Ok(())
        },
    },
    ArgSpec {
        name: "around",
        value: "PAGES",
        default: Some("16"),
        help: "fault-around block, a power of two from 1 (off) to 256: a window fault also maps \
               the neighbours in that aligned block that continue the faulting page's run of guest \
               RAM, in the same `mmap`",
        set: |c, v| {
            c.around = match v.parse::<usize>() {
                Ok(n) if n.is_power_of_two() && n <= 256 => n,
                _ => return Err(expected("a power of two from 1 to 256")),
            };
            Ok(())
        },
    },
];

fn expected(what: &str) -> Rejection {
    Rejection::Expected(format!("expected {what}"))
}

/// The spellings of on and off every switch accepts.
fn switch(value: &str) -> Option<bool> {
    match value {
        "on" | "yes" | "true" | "1" => Some(true),
        "off" | "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

fn on_off(value: &str) -> Result<bool, Rejection> {
    switch(value).ok_or_else(|| expected("on or off"))
}

/// `on`, `off`, or one more word (`full`, `exact`), for the arguments with
/// three settings.
fn one_of<T>(value: &str, on: T, (word, other): (&str, T), off: T) -> Result<T, Rejection> {
    match switch(value) {
        Some(true) => Ok(on),
        Some(false) => Ok(off),
        None if value == word => Ok(other),
        None => Err(expected(&format!("on, {word} or off"))),
    }
}

/// A number within `range`; `what` names it in the message.
fn number<T: FromStr + PartialOrd>(
    value: &str,
    range: RangeInclusive<T>,
    what: &str,
) -> Result<T, Rejection> {
    match value.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(expected(what)),
    }
}

fn file(value: &str) -> Result<PathBuf, Rejection> {
    if value.is_empty() {
        return Err(Rejection::NeedsFileName);
    }
    Ok(PathBuf::from(value))
}

/// Why the arguments were refused (or `help` was asked for); each message
/// names the argument, and the `Display` text is what the user reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    /// `help` was given: print [`help_text`] and stop.
    Help,
    /// No `=` (QEMU itself turns a bare `key` into `key=on`).
    NotKeyValue {
        arg: String,
    },
    Unknown {
        arg: String,
    },
    Twice {
        key: String,
    },
    BadValue {
        arg: String,
        spec: &'static ArgSpec,
        why: Rejection,
    },
}

impl fmt::Debug for ArgSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArgSpec({})", self.name)
    }
}

impl PartialEq for ArgSpec {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ArgSpec {}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::Help => f.write_str(help_text().trim_end()),
            ArgError::NotKeyValue { arg } => {
                write!(
                    f,
                    "hspt: plugin argument '{arg}' is not of the form key=value"
                )
            }
            ArgError::Unknown { arg } => {
                let names: Vec<&str> = ARGS.iter().map(|a| a.name).collect();
                write!(
                    f,
                    "hspt: unknown plugin argument '{arg}'\n\
                     hspt: known arguments: {}, {HELP_ARG} (-plugin libhspt.so,{HELP_ARG} prints what each does)",
                    names.join(", ")
                )
            }
            ArgError::Twice { key } => write!(f, "hspt: plugin argument '{key}' given twice"),
            ArgError::BadValue { arg, spec, why } => {
                match why {
                    Rejection::Expected(what) => {
                        write!(f, "hspt: bad value in plugin argument '{arg}': {what}")?
                    }
                    Rejection::NeedsFileName => {
                        write!(f, "hspt: plugin argument '{arg}' needs a file name")?
                    }
                }
                write!(f, "\nhspt: {}", plain(&spec.usage()))
            }
        }
    }
}

impl ArgSpec {
    /// `name=VALUE: what it does (default X)`, one line, Markdown.
    fn usage(&self) -> String {
        let mut line = format!("{}={}: {}", self.name, self.value, self.help);
        if let Some(default) = self.default {
            let _ = write!(line, " (default {default})");
        }
        line
    }
}

/// Markdown help as terminal text: without the code-span backticks.
fn plain(markdown: &str) -> String {
    markdown.replace('`', "")
}

/// Parses the raw `key=value` strings QEMU hands to the plugin.
pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Config, ArgError> {
    let mut config = Config::default();
    let mut seen: Vec<&str> = Vec::new();
    for arg in raw {
        let arg = arg.as_ref();
        let Some((key, value)) = arg.split_once('=') else {
            return Err(ArgError::NotKeyValue { arg: arg.into() });
        };
        if key == HELP_ARG {
            return Err(ArgError::Help);
        }
        if seen.contains(&key) {
            return Err(ArgError::Twice { key: key.into() });
        }
        let Some(spec) = ARGS.iter().find(|a| a.name == key) else {
            return Err(ArgError::Unknown { arg: arg.into() });
        };
        (spec.set)(&mut config, value).map_err(|why| ArgError::BadValue {
            arg: arg.into(),
            spec,
            why,
        })?;
        seen.push(key);
    }
    Ok(config)
}

/// Width the help text is wrapped to.
const HELP_WIDTH: usize = 100;

/// Every argument and what it does, for `help`.
pub fn help_text() -> String {
    let mut out = String::from(
        "hspt: plugin arguments, as -plugin libhspt.so,KEY=VALUE,... (a bare KEY means KEY=on):\n",
    );
    for spec in ARGS {
        let default = spec.default.unwrap_or("none");
        let _ = writeln!(out, "  {}={} (default {default})", spec.name, spec.value);
        for line in wrap(&plain(spec.help), HELP_WIDTH - 6) {
            let _ = writeln!(out, "      {line}");
        }
    }
    let _ = writeln!(out, "  {HELP_ARG}\n      print this and stop");
    out
}

/// Splits `text` into lines of at most `width` characters, at spaces (a
/// longer word gets a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The README's table of arguments, in Markdown (see `docs/args-table.md`
/// and the test that keeps the README's copy current).
pub fn markdown_table() -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = String::from("| argument | default | meaning |\n| --- | --- | --- |\n");
    for spec in ARGS {
        let _ = writeln!(
            out,
            "| `{}={}` | {} | {} |",
            spec.name,
            cell(spec.value),
            spec.default
                .map_or("none".to_string(), |d| format!("`{d}`")),
            cell(spec.help)
        );
    }
    let _ = writeln!(
        out,
        "| `{HELP_ARG}` | | print what each argument does, and stop |"
    );
    out
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
