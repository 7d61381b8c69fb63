//! The encodings of the pool's per-page records: forward-map entries
//! (window page -> RAM page), reverse-map ways (RAM page -> writable
//! window page), and the large-page region a window's by-address
//! invalidations look in.

use super::super::keys::{GuestPage, RamPage, Slot, PAGE_SHIFT, RMAP_PAGES};
use super::super::table::ZeroIsEmpty;

/// A forward-map entry: what one window page maps. All zeros is "not
/// mapped", so a fresh (or `MADV_DONTNEED`ed) table is empty.
///
/// Bits: 31 mapped, 30 writable, 23..=27 guest mapping size code
/// (lg_page_size - 12), 0..=22 RAM page, or [`RMAP_PAGES`] for a RAM page
/// beyond the reverse map's range (never writable, never looked up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub(super) struct FwdEntry(u32);

// SAFETY: a transparent u32, and all zeros is the "not mapped" entry.
unsafe impl ZeroIsEmpty for FwdEntry {}

impl FwdEntry {
    pub(super) const EMPTY: FwdEntry = FwdEntry(0);
    const MAPPED: u32 = 1 << 31;
    const WRITABLE: u32 = 1 << 30;
    const SIZE_SHIFT: u32 = 23;
    const SIZE_MASK: u32 = 0x1f;
    const RAM_MASK: u32 = (1 << Self::SIZE_SHIFT) - 1;
    const RAM_UNTRACKED: u32 = RMAP_PAGES as u32;

    pub(super) fn mapped(ram: RamPage, writable: bool, lg_page_size: u32) -> FwdEntry {
        debug_assert!(!writable || ram.is_tracked());
        let ram_bits = if ram.is_tracked() {
            ram.0 as u32
        } else {
            Self::RAM_UNTRACKED
        };
        let size_code = clamp_lg_page_size(lg_page_size) - PAGE_SHIFT;
        FwdEntry(
            Self::MAPPED
                | if writable { Self::WRITABLE } else { 0 }
                | size_code << Self::SIZE_SHIFT
                | ram_bits,
        )
    }

    pub(super) fn is_mapped(self) -> bool {
        self.0 & Self::MAPPED != 0
    }

    pub(super) fn is_writable(self) -> bool {
        self.0 & Self::WRITABLE != 0
    }

    /// The RAM page mapped, if any and within the reverse map's range.
    pub(super) fn ram(self) -> Option<RamPage> {
        let bits = self.0 & Self::RAM_MASK;
        (self.is_mapped() && bits != Self::RAM_UNTRACKED).then_some(RamPage(bits as u64))
    }

    pub(super) fn lg_page_size(self) -> u32 {
        PAGE_SHIFT + ((self.0 >> Self::SIZE_SHIFT) & Self::SIZE_MASK)
    }

    pub(super) fn read_only(self) -> FwdEntry {
        FwdEntry(self.0 & !Self::WRITABLE)
    }

    /// This window page is a writable mapping of `ram`.
    pub(super) fn maps_writable(self, ram: RamPage) -> bool {
        self.is_writable() && self.ram() == Some(ram)
    }
}

/// A reverse-map way: one window page that was made a writable mapping of
/// the way's RAM page. The mapping may have died since (the forward map
/// says); all zeros is an empty way.
///
/// Bits: 31 used, 20..=28 slot, 0..=19 guest page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub(super) struct RevEntry(u32);

// SAFETY: a transparent u32, and all zeros is the empty way.
unsafe impl ZeroIsEmpty for RevEntry {}

// SAFETY: an array of zero-valid entries is valid all zeros.
unsafe impl<T: ZeroIsEmpty, const N: usize> ZeroIsEmpty for [T; N] {}

impl RevEntry {
    pub(super) const EMPTY: RevEntry = RevEntry(0);
    const USED: u32 = 1 << 31;
    const SLOT_SHIFT: u32 = 20;
    const PAGE_MASK: u32 = (1 << Self::SLOT_SHIFT) - 1;

    pub(super) fn new(slot: Slot, page: GuestPage) -> RevEntry {
        RevEntry(Self::USED | (slot.0 as u32) << Self::SLOT_SHIFT | page.0)
    }

    pub(super) fn get(self) -> Option<(Slot, GuestPage)> {
        let slot = Slot(((self.0 & !Self::USED) >> Self::SLOT_SHIFT) as u16);
        let page = GuestPage(self.0 & Self::PAGE_MASK);
        (self.0 & Self::USED != 0).then_some((slot, page))
    }
}

/// log2 of a guest mapping's size, as the forward map can hold it (a
/// fill without the field, 0, counts as a small page).
pub(super) fn clamp_lg_page_size(lg_page_size: u32) -> u32 {
    lg_page_size.clamp(PAGE_SHIFT, 32)
}

/// The guest virtual addresses a window's large-page mappings may cover:
/// one aligned region per window, grown to cover each new large mapping,
/// as QEMU's softmmu does (`tlb_add_large_page()` in accel/tcg/cputlb.c).
/// An invalidation by address inside it drops the whole region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LargeRegion {
    pub(super) addr: u32,
    pub(super) mask: u32,
}

impl LargeRegion {
    fn size_mask(lg_page_size: u32) -> u32 {
        let lg = clamp_lg_page_size(lg_page_size);
        if lg >= 32 {
            0
        } else {
            !((1u32 << lg) - 1)
        }
    }

    /// The region of `old` (if any) grown to cover the guest mapping of
    /// 2^`lg_page_size` bytes that holds `vaddr`.
    pub(super) fn cover(old: Option<LargeRegion>, vaddr: u32, lg_page_size: u32) -> LargeRegion {
        let mut mask = Self::size_mask(lg_page_size);
        let addr = match old {
            None => vaddr,
            Some(old) => {
                mask &= old.mask;
                // Ends at mask 0 (everything) at worst.
                while (old.addr ^ vaddr) & mask != 0 {
                    mask <<= 1;
                }
                old.addr
            }
        };
        LargeRegion {
            addr: addr & mask,
            mask,
        }
    }

    pub(super) fn contains(self, vaddr: u32) -> bool {
        vaddr & self.mask == self.addr
    }
}
