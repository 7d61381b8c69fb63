//! Live statistics (`live=FILE`): a JSON line per interval with each
//! process's counters since the previous line.
//!
//! The guest must not wait for it. A writer thread (not a vCPU) asks each
//! vCPU for a copy of its counters by raising a flag; the vCPU answers at
//! its next hook ([`publish_if_asked`]) by cloning its map into a slot it
//! only ever `try_lock`s, so it never blocks and never does I/O. The
//! writer merges the copies, subtracts the previous ones and appends the
//! line. A line therefore describes the counters as the vCPUs last
//! published them, up to one interval old; the exit report writes the
//! final line from the final counters.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::context::ProcessKey;
use crate::stats::{self, ProcessStats};

/// Version of the live lines' format (and of the stats JSON).
pub const SCHEMA_VERSION: u32 = stats::SCHEMA_VERSION;

/// A vCPU's counters as it published them, and when (ms since start).
type Published = Option<(u64, HashMap<ProcessKey, ProcessStats>)>;

struct Live {
    /// Per vCPU: the writer wants a copy.
    asked: Vec<AtomicBool>,
    /// Per vCPU: the last copy published, and when.
    published: Vec<Mutex<Published>>,
    writer: Mutex<Writer>,
    started: Instant,
    interval: Duration,
}

struct Writer {
    file: File,
    previous: HashMap<ProcessKey, ProcessStats>,
    done: bool,
    failed: bool,
}

static LIVE: OnceLock<Live> = OnceLock::new();

/// Opens FILE (truncated) and starts the writer thread.
pub fn start(path: &Path, interval_ms: u64, vcpus: usize) -> Result<(), String> {
    let file = File::create(path)
        .map_err(|e| format!("hspt: cannot create the live file {}: {e}", path.display()))?;
    let live = Live {
        asked: (0..vcpus).map(|_| AtomicBool::new(false)).collect(),
        published: (0..vcpus).map(|_| Mutex::new(None)).collect(),
        writer: Mutex::new(Writer {
            file,
            previous: HashMap::new(),
            done: false,
            failed: false,
        }),
        started: Instant::now(),
        interval: Duration::from_millis(interval_ms),
    };
    if LIVE.set(live).is_err() {
        return Err("hspt: live statistics started twice".into());
    }
    std::thread::Builder::new()
        .name("hspt-live".into())
        .spawn(writer_loop)
        .map_err(|e| format!("hspt: cannot start the live statistics thread: {e}"))?;
    Ok(())
}

/// On a vCPU's hook: if the writer asked, leave it a copy of the counters
/// (never waiting: if the writer holds the slot, the next hook answers).
pub fn publish_if_asked(vcpu: u32, processes: &HashMap<ProcessKey, ProcessStats>) {
    let Some(live) = LIVE.get() else { return };
    let i = vcpu as usize % live.asked.len();
    if !live.asked[i].load(Ordering::Relaxed) {
        return;
    }
    if let Ok(mut slot) = live.published[i].try_lock() {
        let at = live.started.elapsed().as_millis() as u64;
        *slot = Some((at, processes.clone()));
        live.asked[i].store(false, Ordering::Relaxed);
    }
}

fn writer_loop() {
    let Some(live) = LIVE.get() else { return };
    loop {
        for a in &live.asked {
            a.store(true, Ordering::Relaxed);
        }
        std::thread::sleep(live.interval);
        let (at, merged) = collect(live);
        let mut w = live.writer.lock().unwrap_or_else(|p| p.into_inner());
        if w.done || w.failed {
            return;
        }
        if let Some(at) = at {
            write_line(live, &mut w, "interval", at, merged);
        }
    }
}

/// The vCPUs' latest copies, merged; the time is the oldest copy's.
fn collect(live: &Live) -> (Option<u64>, HashMap<ProcessKey, ProcessStats>) {
    let mut merged: HashMap<ProcessKey, ProcessStats> = HashMap::new();
    let mut at: Option<u64> = None;
    for slot in &live.published {
        let guard = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((t, map)) = guard.as_ref() {
            at = Some(at.map_or(*t, |a| a.min(*t)));
            for (k, s) in map {
                merged.entry(*k).or_default().merge(s);
            }
        }
    }
    (at, merged)
}

fn write_line(
    live: &Live,
    w: &mut Writer,
    kind: &str,
    at_ms: u64,
    now: HashMap<ProcessKey, ProcessStats>,
) {
    let line = stats::live_line(
        kind,
        at_ms,
        live.interval.as_millis() as u64,
        &now,
        &w.previous,
    );
    w.previous = now;
    if let Err(e) = w
        .file
        .write_all(line.as_bytes())
        .and_then(|_| w.file.flush())
    {
        // Reported once; the guest runs on without live statistics.
        log::warn!("hspt: live statistics stopped: cannot write the live file: {e}");
        w.failed = true;
    }
}

/// At exit (vCPUs stopped): the last line, from the final counters.
pub fn finish(per_vcpu: &[HashMap<ProcessKey, ProcessStats>]) {
    let Some(live) = LIVE.get() else { return };
    let mut merged: HashMap<ProcessKey, ProcessStats> = HashMap::new();
    for map in per_vcpu {
        for (k, s) in map {
            merged.entry(*k).or_default().merge(s);
        }
    }
    let mut w = live.writer.lock().unwrap_or_else(|p| p.into_inner());
    if w.done || w.failed {
        return;
    }
    let at = live.started.elapsed().as_millis() as u64;
    write_line(live, &mut w, "final", at, merged);
    w.done = true;
}
