//! Naming a guest process after the program it runs.
//!
//! The guest kernel (Debian's armmp, without CONFIG_PID_IN_CONTEXTIDR)
//! exposes neither PID nor name in architectural state, so we read the
//! process's own memory, at its entries into user mode:
//!
//! - right after `execve`, the user stack pointer points at `argc`, followed
//!   by the `argv` pointers and a NULL; `argv[0]` names the program. A stack
//!   that passes all of these checks labels the process (source "exec");
//! - a fork child that did not exec has a copy of its parent's memory, so
//!   the parent's `argv[0]` string is still at the same address: if one of
//!   the recently exec'd programs' strings is found intact there, the child
//!   gets that name (source "fork").
//!
//! PIDs cannot be known this way and are not reported. Reads go through
//! QEMU's debug memory access and have no effect on the guest.

use std::collections::VecDeque;

use crate::stats::LabelSource;

/// Highest user address of a 3G/1G split ARM Linux.
const USER_TOP: u32 = 0xc000_0000;
const MAX_ARGC: u32 = 4096;
const MAX_NAME: usize = 256;
const RECENT: usize = 64;

/// Guest virtual memory as the current vCPU sees it.
pub trait Memory {
    fn read(&self, addr: u32, buf: &mut [u8]) -> bool;
}

/// The running guest, through the plugin API (debug reads, no side effects).
pub struct GuestMemory;

// GLib, linked into QEMU. The plugin API resizes the array it is given, so
// it must be a real GByteArray (the `qemu-plugin` crate's own wrapper of
// this call hands it a fake one, which corrupts memory: not used).
extern "C" {
    fn g_byte_array_sized_new(reserved: u32) -> *mut qemu_plugin::sys::GByteArray;
    fn g_byte_array_free(array: *mut qemu_plugin::sys::GByteArray, free_segment: i32) -> *mut u8;
}

impl Memory for GuestMemory {
    fn read(&self, addr: u32, buf: &mut [u8]) -> bool {
        if buf.is_empty() {
            return true;
        }
        // SAFETY: a fresh GByteArray from GLib, filled by QEMU with exactly
        // buf.len() bytes on success (it sets the size itself), copied out
        // only then, and freed with its data on every path.
        unsafe {
            let array = g_byte_array_sized_new(buf.len() as u32);
            let ok = qemu_plugin::sys::qemu_plugin_read_memory_vaddr(addr as u64, array, buf.len());
            if ok && (*array).len as usize == buf.len() {
                std::ptr::copy_nonoverlapping((*array).data, buf.as_mut_ptr(), buf.len());
            }
            let ok = ok && (*array).len as usize == buf.len();
            g_byte_array_free(array, 1);
            ok
        }
    }
}

/// argv\[0\] strings of recently exec'd programs and where they lie.
#[derive(Default)]
pub struct RecentExecs {
    entries: VecDeque<(u32, String)>,
}

fn read_u32<M: Memory>(mem: &M, addr: u32) -> Option<u32> {
    let mut b = [0u8; 4];
    mem.read(addr, &mut b).then(|| u32::from_le_bytes(b))
}

/// A NUL-terminated printable string, read in small pieces so that a
/// string ending just before an unmapped page is still found.
fn read_cstr<M: Memory>(mem: &M, addr: u32) -> Option<String> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 32];
    while out.len() < MAX_NAME {
        let at = addr.checked_add(out.len() as u32)?;
        let len = (chunk.len() as u32).min(0x1000 - (at & 0xfff)) as usize;
        if !mem.read(at, &mut chunk[..len]) {
            return None;
        }
        if let Some(nul) = chunk[..len].iter().position(|&c| c == 0) {
            out.extend_from_slice(&chunk[..nul]);
            let ok = !out.is_empty() && out.iter().all(|&c| (0x20..0x7f).contains(&c));
            return ok.then(|| String::from_utf8(out).ok()).flatten();
        }
        out.extend_from_slice(&chunk[..len]);
    }
    None
}

fn basename(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

/// The initial stack of a freshly exec'd process, if `sp` points at one.
fn exec_stack<M: Memory>(mem: &M, sp: u32) -> Option<(u32, String)> {
    let argc = read_u32(mem, sp)?;
    if argc == 0 || argc > MAX_ARGC {
        return None;
    }
    let argv0 = read_u32(mem, sp.checked_add(4)?)?;
    let terminator = read_u32(mem, sp.checked_add(4 + 4 * argc)?)?;
    if terminator != 0 || argv0 <= sp || argv0 >= USER_TOP {
        return None;
    }
    let name = read_cstr(mem, argv0)?;
    Some((argv0, name))
}

/// What [`identify`] found out.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Found((String, LabelSource)),
    /// Some memory that could decide it is not readable yet.
    NotYet,
    Unknown,
}

/// Names the process whose user stack pointer is `sp`, if it can be known.
pub fn identify<M: Memory>(sp: u32, recent: &mut RecentExecs, mem: &M) -> Outcome {
    if read_u32(mem, sp).is_none() {
        return Outcome::NotYet;
    }
    if let Some((addr, name)) = exec_stack(mem, sp) {
        if recent.entries.len() == RECENT {
            recent.entries.pop_back();
        }
        recent.entries.push_front((addr, name.clone()));
        return Outcome::Found((basename(&name), LabelSource::Exec));
    }
    let mut unreadable = false;
    let hit = recent.entries.iter().position(|(addr, name)| {
        if read_u32(mem, *addr & !3).is_none() {
            unreadable = true;
            return false;
        }
        read_cstr(mem, *addr).as_deref() == Some(name.as_str())
    });
    let Some(hit) = hit else {
        return if unreadable {
            Outcome::NotYet
        } else {
            Outcome::Unknown
        };
    };
    // Parents that fork often stay near the front.
    let entry = recent.entries.remove(hit).expect("index from position()");
    let label = basename(&entry.1);
    recent.entries.push_front(entry);
    Outcome::Found((label, LabelSource::Fork))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Sparse guest memory: 4 KiB pages, unmapped pages fail to read.
    #[derive(Default)]
    struct FakeMemory {
        pages: HashMap<u32, Vec<u8>>,
    }

    impl FakeMemory {
        fn write(&mut self, addr: u32, data: &[u8]) {
            for (i, &b) in data.iter().enumerate() {
                let a = addr + i as u32;
                self.pages
                    .entry(a & !0xfff)
                    .or_insert_with(|| vec![0; 4096])[(a & 0xfff) as usize] = b;
            }
        }
    }

    impl Memory for FakeMemory {
        fn read(&self, addr: u32, buf: &mut [u8]) -> bool {
            for (i, b) in buf.iter_mut().enumerate() {
                let a = addr + i as u32;
                match self.pages.get(&(a & !0xfff)) {
                    Some(p) => *b = p[(a & 0xfff) as usize],
                    None => return false,
                }
            }
            true
        }
    }

    fn exec_image(sp: u32, args: &[&str]) -> FakeMemory {
        let mut m = FakeMemory::default();
        let mut strings = sp + 0x100;
        m.write(sp, &(args.len() as u32).to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            m.write(sp + 4 + 4 * i as u32, &strings.to_le_bytes());
            m.write(strings, a.as_bytes());
            m.write(strings + a.len() as u32, &[0]);
            strings += a.len() as u32 + 1;
        }
        m.write(sp + 4 + 4 * args.len() as u32, &0u32.to_le_bytes());
        m
    }

    #[test]
    fn labels_a_fresh_exec_by_basename() {
        let m = exec_image(0xbeff_f000, &["/usr/bin/gzip", "-9"]);
        let mut r = RecentExecs::default();
        assert_eq!(
            identify(0xbeff_f000, &mut r, &m),
            Outcome::Found(("gzip".into(), LabelSource::Exec))
        );
    }

    #[test]
    fn labels_a_fork_child_from_its_parents_argv() {
        let parent = exec_image(0xbeff_f000, &["/bin/sh", "-c", "x"]);
        let mut r = RecentExecs::default();
        assert!(matches!(
            identify(0xbeff_f000, &mut r, &parent),
            Outcome::Found(_)
        ));
        // The child runs deeper in the same stack: no argc at its sp.
        let mut child = exec_image(0xbeff_f000, &["/bin/sh", "-c", "x"]);
        child.write(0xbeff_e000, &[0xff; 64]);
        assert_eq!(
            identify(0xbeff_e000, &mut r, &child),
            Outcome::Found(("sh".into(), LabelSource::Fork))
        );
        // Before the child touched its stack, nothing is decided.
        let untouched = FakeMemory::default();
        assert_eq!(identify(0xbeff_e000, &mut r, &untouched), Outcome::NotYet);
    }

    #[test]
    fn refuses_what_is_not_an_exec_stack() {
        let mut r = RecentExecs::default();
        let mut m = FakeMemory::default();
        m.write(0x1000, &[0x05, 0, 0, 0, 0x00, 0x00, 0x00, 0xd0]); // argv0 in the kernel
        assert_eq!(identify(0x1000, &mut r, &m), Outcome::Unknown);
        assert_eq!(identify(0x9000, &mut r, &m), Outcome::NotYet); // unmapped
        let mut bad = exec_image(0x2000, &["ok"]);
        bad.write(0x2100, b"\x01\x02\0"); // not printable
        assert_eq!(identify(0x2000, &mut r, &bad), Outcome::Unknown);
    }
}
