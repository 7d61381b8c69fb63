//! The kernel window's bookkeeping (`kernel=on`): the sections it maps
//! (each MiB of a 1 MiB or 2 MiB guest mapping, tracked whole rather than
//! page by page), the
//! MiBs of each window that hold large mappings, and how often
//! by-address flushes unmapped each kernel page ([`RemapCounts`]).

use super::keys::{GuestPage, RamPage, PAGE_SHIFT, WINDOW_SIZE};

/// log2 of a section, the unit the kernel window tracks whole: a MiB of
/// a guest mapping of 1 MiB (a short-descriptor section) or 2 MiB (a
/// long-descriptor block, as an LPAE kernel maps its lowmem).
pub(super) const SECTION_SHIFT: u32 = 20;
/// log2 of the largest guest mapping tracked by sections.
pub(super) const MAX_SECTION_LG: u32 = 21;
pub(super) const PAGES_PER_SECTION: usize = 1 << (SECTION_SHIFT - PAGE_SHIFT);
/// Sections in a 4 GiB window.
pub(super) const SECTIONS: usize = WINDOW_SIZE >> SECTION_SHIFT;

/// A section the kernel window maps pages of: every one of them is mapped
/// from the RAM run that starts at `ram`, from a guest mapping of
/// 2^`lg` bytes (a page of another run or size at the same guest address
/// makes the others go first), and any may be writable if `writable`.
/// Default: none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct KernelSection {
    pub(super) ram: Option<RamPage>,
    pub(super) lg: u8,
    pub(super) writable: bool,
}

/// A bit per MiB of a 4 GiB window.
const LARGE_MIB_WORDS: usize = (WINDOW_SIZE >> 20) / 64;

/// Per window, a bit per MiB of guest addresses where a large mapping was
/// made since the window's last reset: a by-address invalidation
/// elsewhere has no large mapping to look for (a Linux kernel flushes its
/// fixmap pages by the thousand at boot, far from its sections).
#[derive(Debug, Clone, Copy)]
pub(super) struct LargeMibs([u64; LARGE_MIB_WORDS]);

impl LargeMibs {
    pub(super) const EMPTY: LargeMibs = LargeMibs([0; LARGE_MIB_WORDS]);

    /// Notes a large mapping over the MiBs of `first`..=`last`.
    pub(super) fn mark(&mut self, first: u32, last: u32) {
        for mib in (first >> 20)..=(last >> 20) {
            self.0[mib as usize / 64] |= 1 << (mib % 64);
        }
    }

    /// Whether a MiB of `first`..=`last` may hold a large mapping.
    pub(super) fn any(&self, first: u32, last: u32) -> bool {
        ((first >> 20)..=(last >> 20)).any(|mib| self.0[mib as usize / 64] & (1 << (mib % 64)) != 0)
    }
}

/// Kernel-window pages unmapped by by-address flushes: a small
/// direct-mapped table of (page, times). A page unmapped
/// [`RemapCounts::VOLATILE`] times is volatile: a kernel that maps
/// different memory there again and again (a fixmap slot) would take a
/// window fault for each mapping, where the softmmu only refills its TLB.
/// Collisions only forget counts (a page then needs more unmaps).
#[derive(Debug, Clone, Copy)]
pub(super) struct RemapCounts {
    pages: [(u32, u8); RemapCounts::ENTRIES],
}

impl Default for RemapCounts {
    fn default() -> Self {
        RemapCounts {
            pages: [(u32::MAX, 0); RemapCounts::ENTRIES],
        }
    }
}

impl RemapCounts {
    const ENTRIES: usize = 64;
    pub(super) const VOLATILE: u8 = 4;

    fn entry(&mut self, page: GuestPage) -> &mut (u32, u8) {
        let index = page.index() as u32;
        &mut self.pages[(index.wrapping_mul(0x9E37_79B9) >> 26) as usize]
    }

    pub(super) fn note(&mut self, page: GuestPage) {
        let index = page.index() as u32;
        let e = self.entry(page);
        if e.0 != index {
            *e = (index, 0);
        }
        e.1 = e.1.saturating_add(1);
    }

    pub(super) fn is_volatile(&mut self, page: GuestPage) -> bool {
        let index = page.index() as u32;
        let e = self.entry(page);
        e.0 == index && e.1 >= Self::VOLATILE
    }
}

#[cfg(test)]
#[path = "tests/kernel_window.rs"]
mod tests;
