//! Plugin arguments: `-plugin libhspt.so,key=value,...`.
//!
//! Every argument is checked: an unknown key, a missing `=`, or a bad value
//! stops QEMU at start-up with a message that names the argument.

use std::fmt;
use std::path::PathBuf;

/// The exit table (`table=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableStyle {
    Off,
    /// At most 120 columns, busiest processes first, the others folded.
    Compact,
    /// Every context and every counter.
    Full,
}

/// Default interval of the live statistics, in ms.
pub const DEFAULT_LIVE_MS: u64 = 500;

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

impl Default for Config {
    fn default() -> Self {
        Config {
            stats_file: None,
            table: TableStyle::Compact,
            live_file: None,
            live_ms: DEFAULT_LIVE_MS,
            labels: true,
            hspt: true,
            accesses: AccessCounting::Blocks,
            slots: DEFAULT_SLOTS,
            warmup_us: DEFAULT_WARMUP_US,
            around: DEFAULT_AROUND,
            fail_every: 0,
            precise: true,
            keep_global: true,
            revalidate: true,
            tlb_grow: true,
            premap: true,
            restore: true,
            kernel: true,
            recheck_blocks: true,
            kernel_code_walks: true,
            branch_cache: true,
        }
    }
}

pub const DEFAULT_SLOTS: usize = 16;
pub const DEFAULT_WARMUP_US: u64 = 20_000;
pub const DEFAULT_AROUND: usize = 16;

/// Keys the plugin understands, with a one-line description each (shown in
/// error messages, so a typo tells the user what would have been valid).
pub const KNOWN_KEYS: &[(&str, &str)] = &[
    (
        "stats",
        "FILE: write per-process statistics as JSON to FILE at exit",
    ),
    (
        "table",
        "on|full|off: print the per-process table at exit: on = at most 120 columns, busiest processes first, \
         short-lived ones folded (default); full = every context and counter",
    ),
    (
        "live",
        "FILE: append a JSON line with each process's counters since the previous line to FILE while the guest runs \
         (see live_ms; scripts/hspt-top FILE shows it)",
    ),
    (
        "live_ms",
        "MS: interval of the live lines, 50 to 60000 ms (default 500)",
    ),
    (
        "labels",
        "on|off: name processes after the program they exec (default on)",
    ),
    (
        "hspt",
        "on|off: accelerate with hosted shadow page tables (default on); off keeps the statistics",
    ),
    (
        "slots",
        "N: windows shared by guest address spaces, 1..256 (default 16): 1 = Shared SPT, 256 = Private SPT",
    ),
    (
        "warmup",
        "MICROSECONDS: user-mode time a process runs through the softmmu before it gets a window (default 20000; 0 = at once)",
    ),
    (
        "around",
        "PAGES: fault-around block, a power of two from 1 (off) to 256 (default 16): one fault maps its run of neighbours in RAM",
    ),
    (
        "accesses",
        "on|exact|off: count guest memory accesses per process: on = per block, one add per block executed (default); exact = inline code after every access (slower); off = access and hit counts read 0",
    ),
    (
        "precise",
        "on|off: a DACR write flushes only the softmmu TLB entries whose domain changed (default on; off = stock QEMU's full flushes)",
    ),
    (
        "keep_global",
        "on|off: with precise=on, an ASID change or TLBIASID flushes only non-global softmmu TLB entries and user blocks, keeping the kernel's (default on; off = stock QEMU's full flushes)",
    ),
    (
        "revalidate",
        "on|off: after a TLBIALL(IS) (every fork and exit of a Linux guest) or TLBIASID(IS), windows keep each page the guest's tables still map as before, checked when the process next enters user mode, instead of faulting every page in again; with precise=on, QEMU keeps each kernel block whose page still maps to the same RAM page (default on)",
    ),
    (
        "tlb_grow",
        "on|off: a softmmu TLB that is more than 70% full grows at once instead of at its next flush (default on)",
    ),
    (
        "premap",
        "on|off: after a window fault became the guest's page fault, map the page on the way back to user mode if the guest kernel made it valid, instead of faulting again (default on)",
    ),
    (
        "restore",
        "on|off: when a window is evicted (more processes than windows), keep the list of pages it mapped, and when the process gets a window again map those its tables still translate as before, in runs, instead of faulting each in again (default on)",
    ),
    (
        "kernel",
        "on|off: with precise=on, the kernel's (PL1) loads and stores of global translations go through a window of their own, shared by all processes, besides the slots (default on)",
    ),
    (
        "recheck_blocks",
        "on|off: after a softmmu flush of whole MMU indexes (an ASID change, TLBIALL, a DACR change for user mode), QEMU keeps its jump cache and checks each block at its next use, keeping it if its address still translates to the same RAM, instead of looking every block up again in its hash table (default on)",
    ),
    (
        "kernel_code_walks",
        "on|off: with revalidate=on and recheck_blocks=on, QEMU keeps the page-table walks behind the kernel's executable global TLB entries (a few sections for a Linux kernel's text) and, at a TLBIALL that finds each still reading the same descriptors, keeps the kernel's blocks in its jump cache without checking each again at its next use (default on)",
    ),
    (
        "branch_cache",
        "on|off: each indirect branch of translated code (a return, a call or jump through a register, a branch to another page) keeps the last two blocks it went to (the latest checked inline), so that going there again skips QEMU's block lookup; any flush of the jump cache, invalidated block or breakpoint inserted ends what all branches keep (default on)",
    ),
    (
        "fail_every",
        "N: for tests: every N-th unmap or write-protect of a window page fails as if the kernel refused it (default 0 = never)",
    ),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError(pub String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)?;
        f.write_str("\nhspt: valid arguments:")?;
        for (key, help) in KNOWN_KEYS {
            write!(f, "\n  {key}={help}")?;
        }
        Ok(())
    }
}

/// The spellings of on and off every switch accepts.
fn switch(value: &str) -> Option<bool> {
    match value {
        "on" | "yes" | "true" | "1" => Some(true),
        "off" | "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ArgError> {
    switch(value).ok_or_else(|| {
        ArgError(format!(
            "hspt: bad value in plugin argument '{key}={value}': expected on or off"
        ))
    })
}

/// `on`/`off` or one more word (`full`, `exact`), for the arguments with
/// three settings.
fn parse_three<T>(
    arg: &str,
    value: &str,
    word: &str,
    on: T,
    off: T,
    other: T,
) -> Result<T, ArgError> {
    match switch(value) {
        Some(true) => Ok(on),
        Some(false) => Ok(off),
        None if value == word => Ok(other),
        None => Err(ArgError(format!(
            "hspt: bad value in plugin argument '{arg}': expected on, {word} or off"
        ))),
    }
}

fn parse_file(key: &str, value: &str) -> Result<PathBuf, ArgError> {
    if value.is_empty() {
        return Err(ArgError(format!(
            "hspt: plugin argument '{key}=' needs a file name"
        )));
    }
    Ok(PathBuf::from(value))
}

/// Parses the raw `key=value` strings QEMU hands to the plugin.
pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Config, ArgError> {
    let mut config = Config::default();
    let mut seen: Vec<&str> = Vec::new();
    for arg in raw {
        let arg = arg.as_ref();
        let Some((key, value)) = arg.split_once('=') else {
            return Err(ArgError(format!(
                "hspt: plugin argument '{arg}' is not of the form key=value"
            )));
        };
        if seen.contains(&key) {
            return Err(ArgError(format!(
                "hspt: plugin argument '{key}' given twice"
            )));
        }
        match key {
            "stats" => config.stats_file = Some(parse_file(key, value)?),
            "table" => {
                config.table = parse_three(
                    arg,
                    value,
                    "full",
                    TableStyle::Compact,
                    TableStyle::Off,
                    TableStyle::Full,
                )?
            }
            "live" => config.live_file = Some(parse_file(key, value)?),
            "live_ms" => {
                config.live_ms = match value.parse::<u64>() {
                    Ok(n) if (50..=60_000).contains(&n) => n,
                    _ => {
                        return Err(ArgError(format!(
                            "hspt: bad value in plugin argument '{arg}': expected milliseconds from 50 to 60000"
                        )))
                    }
                }
            }
            "labels" => config.labels = parse_bool(key, value)?,
            "hspt" => config.hspt = parse_bool(key, value)?,
            "accesses" => {
                config.accesses = parse_three(
                    arg,
                    value,
                    "exact",
                    AccessCounting::Blocks,
                    AccessCounting::Off,
                    AccessCounting::Exact,
                )?
            }
            "precise" => config.precise = parse_bool(key, value)?,
            "keep_global" => config.keep_global = parse_bool(key, value)?,
            "revalidate" => config.revalidate = parse_bool(key, value)?,
            "tlb_grow" => config.tlb_grow = parse_bool(key, value)?,
            "premap" => config.premap = parse_bool(key, value)?,
            "restore" => config.restore = parse_bool(key, value)?,
            "kernel" => config.kernel = parse_bool(key, value)?,
            "recheck_blocks" => config.recheck_blocks = parse_bool(key, value)?,
            "kernel_code_walks" => config.kernel_code_walks = parse_bool(key, value)?,
            "branch_cache" => config.branch_cache = parse_bool(key, value)?,
            "warmup" => {
                config.warmup_us = match value.parse::<u64>() {
                    Ok(n) if n <= 10_000_000 => n,
                    _ => {
                        return Err(ArgError(format!(
                            "hspt: bad value in plugin argument '{arg}': expected microseconds from 0 to 10000000"
                        )))
                    }
                }
            }
            "slots" => {
                config.slots = match value.parse::<usize>() {
                    Ok(n) if (1..=256).contains(&n) => n,
                    _ => {
                        return Err(ArgError(format!(
                            "hspt: bad value in plugin argument '{arg}': expected a number of windows from 1 to 256"
                        )))
                    }
                }
            }
            "around" => {
                config.around = match value.parse::<usize>() {
                    Ok(n) if n.is_power_of_two() && n <= 256 => n,
                    _ => {
                        return Err(ArgError(format!(
                            "hspt: bad value in plugin argument '{arg}': expected a power of two from 1 to 256"
                        )))
                    }
                }
            }
            "fail_every" => {
                config.fail_every = value.parse::<u32>().map_err(|_| {
                    ArgError(format!(
                        "hspt: bad value in plugin argument '{arg}': expected a number (0 = never)"
                    ))
                })?
            }
            _ => return Err(ArgError(format!("hspt: unknown plugin argument '{arg}'"))),
        }
        seen.push(key);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let empty: [&str; 0] = [];
        assert_eq!(parse(&empty).unwrap(), Config::default());
    }

    #[test]
    fn all_keys() {
        let c = parse(&["stats=/tmp/x.json", "table=off", "labels=no"]).unwrap();
        assert_eq!(
            c.stats_file.as_deref(),
            Some(std::path::Path::new("/tmp/x.json"))
        );
        assert_eq!(c.table, TableStyle::Off);
        assert!(!c.labels);
    }

    #[test]
    fn table_live_and_accesses() {
        let c = parse(&[
            "table=full",
            "live=/tmp/l.jsonl",
            "live_ms=100",
            "accesses=exact",
        ])
        .unwrap();
        assert_eq!(c.table, TableStyle::Full);
        assert_eq!(
            c.live_file.as_deref(),
            Some(std::path::Path::new("/tmp/l.jsonl"))
        );
        assert_eq!(c.live_ms, 100);
        assert_eq!(c.accesses, AccessCounting::Exact);
        assert!(parse(&["live_ms=10"]).unwrap_err().0.contains("live_ms=10"));
        assert!(parse(&["live="]).unwrap_err().0.contains("file name"));
        assert!(parse(&["accesses=some"])
            .unwrap_err()
            .0
            .contains("on, exact or off"));
        assert_eq!(
            parse(&["accesses=off"]).unwrap().accesses,
            AccessCounting::Off
        );
    }

    #[test]
    fn rejects_unknown_key_naming_it() {
        let e = parse(&["slots=8", "bogus=1"]).unwrap_err();
        assert!(e.0.contains("'bogus=1'"), "{e}");
    }

    #[test]
    fn slots_and_hspt() {
        let c = parse(&["slots=256", "hspt=off"]).unwrap();
        assert_eq!((c.slots, c.hspt), (256, false));
        assert_eq!(parse(&["slots=1"]).unwrap().slots, 1);
        for bad in ["slots=0", "slots=257", "slots=x", "slots=-1"] {
            assert!(parse(&[bad]).unwrap_err().0.contains(bad), "{bad}");
        }
    }

    #[test]
    fn around_is_a_power_of_two() {
        assert_eq!(parse(&["around=1"]).unwrap().around, 1);
        assert_eq!(parse(&["around=64"]).unwrap().around, 64);
        for bad in ["around=0", "around=3", "around=512", "around=x"] {
            assert!(parse(&[bad]).unwrap_err().0.contains(bad), "{bad}");
        }
    }

    #[test]
    fn fail_every_is_a_number() {
        assert_eq!(parse(&["fail_every=7"]).unwrap().fail_every, 7);
        assert!(parse(&["fail_every=x"])
            .unwrap_err()
            .0
            .contains("fail_every=x"));
    }

    #[test]
    fn rejects_missing_equals() {
        let e = parse(&["table"]).unwrap_err();
        assert!(e.0.contains("'table'") && e.0.contains("key=value"), "{e}");
    }

    #[test]
    fn rejects_bad_bool_and_empty_file_and_duplicates() {
        assert!(parse(&["table=maybe"])
            .unwrap_err()
            .0
            .contains("table=maybe"));
        assert!(parse(&["stats="]).unwrap_err().0.contains("stats="));
        assert!(parse(&["table=on", "table=off"])
            .unwrap_err()
            .0
            .contains("twice"));
    }

    #[test]
    fn error_lists_valid_keys() {
        let text = parse(&["x=1"]).unwrap_err().to_string();
        for (key, _) in KNOWN_KEYS {
            assert!(text.contains(&format!("{key}=")), "{text}");
        }
    }
}
