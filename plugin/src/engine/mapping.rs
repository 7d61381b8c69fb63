//! The owning mappings, in the style of rust-vmm `vm-memory`: a value owns
//! its address range and unmaps it when dropped.
//!
//! `memmap2` is not used: the windows are a PROT_NONE, MAP_NORESERVE
//! reservation into which guest RAM pages are mapped (MAP_FIXED) and
//! unmapped from the SIGSEGV handler, so a `memmap2::MmapMut`, which
//! derefs to `&mut [u8]` over its whole range, would hand out a reference
//! to memory that is inaccessible or replaced underneath it (unsound); and
//! the tables ([`super::table::Table`]) need the same one `mmap` with
//! MAP_NORESERVE plus `madvise(MADV_DONTNEED)` and typed raw access from
//! the signal handler, which a second owning type would only wrap.
//!
//! No Rust reference ever points into a window: guest code reaches it
//! through GS, and the engine only names its addresses.

use std::ffi::c_int;

use super::keys::{GuestPage, Slot, PAGE, PAGES_PER_WINDOW, WINDOW_SPAN};

/// A private anonymous mapping owned by this value and unmapped when it is
/// dropped (as rust-vmm vm-memory's `MmapRegion`): the windows'
/// reservation and the maps' tables.
pub(super) struct AnonRegion {
    addr: *mut u8,
    len: usize,
}

impl AnonRegion {
    /// `len` bytes with protection `prot`, with no commit charge
    /// (NORESERVE): PROT_NONE reserves address space only, readable and
    /// writable memory reads as zeros until written.
    pub(super) fn new(len: usize, prot: c_int) -> std::io::Result<AnonRegion> {
        // SAFETY: a fresh mapping at an address the kernel picks: no memory
        // that exists is touched. On success we own [addr, addr + len).
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(AnonRegion {
            addr: addr.cast(),
            len,
        })
    }

    pub(super) fn addr(&self) -> usize {
        self.addr as usize
    }

    pub(super) fn as_ptr(&self) -> *mut u8 {
        self.addr
    }

    /// Start of the `len` bytes at `offset`, which must lie inside.
    fn range(&self, offset: usize, len: usize) -> *mut libc::c_void {
        assert!(
            offset <= self.len && len <= self.len - offset,
            "hspt: range outside its mapping"
        );
        self.addr.wrapping_add(offset).cast()
    }
}

impl Drop for AnonRegion {
    fn drop(&mut self) {
        // SAFETY: [addr, addr + len) was mapped by `new` and belongs to this
        // value alone; nothing that borrows it outlives the value (the maps
        // hand out copies, windows are reached through raw addresses only
        // while the pool lives). munmap can only fail on arguments `new`
        // already validated; Drop cannot report an error, so debug builds
        // assert there was none.
        let unmapped = unsafe { libc::munmap(self.addr.cast(), self.len) };
        debug_assert_eq!(unmapped, 0, "hspt: munmap of an owned mapping failed");
    }
}

/// The errno of the system call that just failed.
pub(super) fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// The windows' address space: `nslots` spans of [`WINDOW_SPAN`] bytes,
/// PROT_NONE wherever nothing is mapped. Every change is a `MAP_FIXED` or
/// `mprotect` over pages of one window, inside the reservation.
pub(super) struct Windows {
    region: AnonRegion,
    nslots: usize,
}

impl Windows {
    pub(super) fn reserve(nslots: usize) -> Result<Windows, String> {
        let region = AnonRegion::new(nslots * WINDOW_SPAN, libc::PROT_NONE).map_err(|e| {
            format!(
                "hspt: cannot reserve {} GiB of host address space: {e}",
                (nslots * WINDOW_SPAN) >> 30
            )
        })?;
        Ok(Windows { region, nslots })
    }

    pub(super) fn nslots(&self) -> usize {
        self.nslots
    }

    /// The host address range of all windows and their guards.
    pub(super) fn address_range(&self) -> std::ops::Range<usize> {
        let start = self.region.addr();
        start..start + self.nslots * WINDOW_SPAN
    }

    /// The window `addr` lies in and its offset there (in the guard past
    /// the window if `>= WINDOW_SIZE`), if any.
    pub(super) fn locate(&self, addr: usize) -> Option<(Slot, usize)> {
        let off = addr.checked_sub(self.region.addr())?;
        let slot = off / WINDOW_SPAN;
        (slot < self.nslots).then(|| (Slot::new(slot), off % WINDOW_SPAN))
    }

    pub(super) fn base(&self, slot: Slot) -> usize {
        assert!(slot.index() < self.nslots);
        self.region.addr() + slot.index() * WINDOW_SPAN
    }

    fn pages(&self, slot: Slot, first: GuestPage, pages: usize) -> *mut libc::c_void {
        assert!(slot.index() < self.nslots && first.index() + pages <= PAGES_PER_WINDOW);
        self.region
            .range(slot.index() * WINDOW_SPAN + first.offset(), pages * PAGE)
    }

    /// Maps `pages` pages of file `fd` from `fd_offset` at `first`.
    pub(super) fn map_file(
        &self,
        slot: Slot,
        first: GuestPage,
        pages: usize,
        prot: c_int,
        fd: c_int,
        fd_offset: u64,
    ) -> Result<(), i32> {
        let addr = self.pages(slot, first, pages);
        // SAFETY: MAP_FIXED replaces only pages of this window, inside our
        // own reservation (checked by `pages`). No Rust reference points
        // into a window: guest code reaches it through GS, the pool never
        // dereferences it. A bad fd or offset only makes the call fail.
        let p = unsafe {
            libc::mmap(
                addr,
                pages * PAGE,
                prot,
                libc::MAP_SHARED | libc::MAP_FIXED,
                fd,
                fd_offset as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(last_errno());
        }
        Ok(())
    }

    /// Turns pages back into PROT_NONE reservation (which merges with its
    /// PROT_NONE neighbours).
    pub(super) fn unmap(&self, slot: Slot, first: GuestPage, pages: usize) -> Result<(), i32> {
        let addr = self.pages(slot, first, pages);
        // SAFETY: MAP_FIXED replaces only pages of this window, inside our
        // own reservation (checked by `pages`), by inaccessible anonymous
        // memory; no Rust reference points into a window.
        let p = unsafe {
            libc::mmap(
                addr,
                pages * PAGE,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(last_errno());
        }
        Ok(())
    }

    /// Makes one page read-only. Only for a page that is mapped: on a
    /// PROT_NONE page it would expose reservation as readable zeros.
    pub(super) fn make_read_only(
        &self,
        slot: Slot,
        first: GuestPage,
        pages: usize,
    ) -> Result<(), i32> {
        let addr = self.pages(slot, first, pages);
        // SAFETY: changes the protection of pages of our own window,
        // inside the reservation (checked by `pages`); no Rust reference
        // points into a window, so none is invalidated.
        if unsafe { libc::mprotect(addr, pages * PAGE, libc::PROT_READ) } != 0 {
            return Err(last_errno());
        }
        Ok(())
    }
}
