//! Helpers that are async-signal-safe, for the SIGSEGV handler
//! ([`super::signal`]) and the pool code it runs: no allocation, no lock,
//! no formatting machinery, only write(2), _exit(2) and the vDSO clock.

use std::ffi::c_int;

/// Exit status when a window could keep a stale mapping (EX_SOFTWARE).
const EXIT_STALE_MAPPING: c_int = 70;

/// Writes `bytes` to stderr, all of them unless write(2) fails; a failed
/// write is dropped, since there is nowhere left to report it.
fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: write(2) is async-signal-safe and reads only the slice.
        let written = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        match usize::try_from(written) {
            Ok(n) if n > 0 => bytes = &bytes[n.min(bytes.len())..],
            _ if written < 0 && super::mapping::last_errno() == libc::EINTR => {}
            _ => return,
        }
    }
}

/// `n` in decimal, in `buf`.
pub(super) fn decimal(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::ENOMEM => "ENOMEM (out of memory, or vm.max_map_count reached)",
        libc::EINVAL => "EINVAL",
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::EAGAIN => "EAGAIN",
        _ => "error",
    }
}

/// A window could not be reset after an invalidation failed: it may still
/// serve a page the guest must no longer see. Running on would give the
/// guest wrong memory, so the process stops, saying why. Called from the
/// fault handler too: only write(2) and _exit, nothing allocated.
pub(super) fn die(what: &str, errno: i32) -> ! {
    let mut digits = [0u8; 10];
    for part in [
        b"hspt: ".as_slice(),
        what.as_bytes(),
        b" failed: ",
        errno_name(errno).as_bytes(),
        b" (errno ",
        decimal(errno.unsigned_abs(), &mut digits),
        b")\nhspt: a window could keep a stale mapping of guest memory, so QEMU stops \
          here (if ENOMEM: raise vm.max_map_count or run with fewer slots)\n",
    ] {
        write_stderr(part);
    }
    // SAFETY: _exit is async-signal-safe and ends the process at once;
    // nothing of ours has to run at exit.
    unsafe { libc::_exit(EXIT_STALE_MAPPING) }
}

/// CLOCK_MONOTONIC in ns (vDSO; async-signal-safe).
pub(super) fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we own.
    let got = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    // With a valid clock id and pointer it cannot fail.
    debug_assert_eq!(got, 0, "clock_gettime(CLOCK_MONOTONIC) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
#[path = "tests/signal_safe.rs"]
mod tests;
