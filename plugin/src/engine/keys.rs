//! The engine's names for things: the geometry of a window, the key a
//! window belongs to, and newtypes for the numbers that index windows and
//! maps (a window slot, a guest page, a RAM page), so that one cannot be
//! passed for another.

use hspt_shim as abi;

/// Guest virtual address space of a 32-bit guest.
pub const WINDOW_SIZE: usize = 1 << 32;
/// A window plus a PROT_NONE guard, so an access that crosses the top of
/// the 4 GiB space faults in its own window (and goes to the softmmu).
pub const WINDOW_SPAN: usize = WINDOW_SIZE + (2 << 20);
pub const PAGE: usize = 4096;
/// Windows a pool can have: 256 for user address spaces and the kernel's.
pub const MAX_SLOTS: usize = 257;
pub(super) const PAGE_SHIFT: u32 = 12;
pub(super) const PAGES_PER_WINDOW: usize = WINDOW_SIZE / PAGE;
/// RAM pages (ram_addr_t >> 12) the reverse map covers: 16 GiB.
pub(super) const RMAP_PAGES: u64 = 1 << 22;

/// What decides a user-mode translation: a window holds mappings for one
/// key only (invariant `keyed-by-context`). The user-mode DACR is part of
/// it, so a SW PAN kernel's DACR writes on every kernel entry cost
/// nothing; so are TTBCR and both TTBRs whole, so a TTBR0 PAN kernel's
/// TTBCR writes (long descriptors) cost nothing either. The ASID is the
/// one in use: CONTEXTIDR's, or with long descriptors the TTBR's that
/// TTBCR.A1 names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowKey {
    pub asid: u16,
    pub ttbr0: u64,
    pub ttbr1: u64,
    pub ttbcr: u32,
    pub sctlr: u32,
    pub dacr: u32,
    /// The long-descriptor (LPAE) format is in use.
    pub long_desc: bool,
}

impl WindowKey {
    /// The process (stats key) this window belongs to.
    pub fn process(&self) -> crate::context::ProcessKey {
        crate::context::ProcessKey {
            asid: self.asid,
            ttbr0: crate::context::ProcessKey::table_base(self.ttbr0, self.long_desc),
        }
    }

    pub fn from_context(ctx: &abi::hspt_arm_context) -> Self {
        let process = crate::context::ProcessKey::from_context(ctx);
        WindowKey {
            asid: process.asid,
            ttbr0: ctx.ttbr0,
            ttbr1: ctx.ttbr1,
            ttbcr: ctx.ttbcr,
            sctlr: ctx.sctlr,
            dacr: ctx.dacr,
            long_desc: ctx.long_desc != 0,
        }
    }
}

/// A window of the pool; only the pool hands them out, so the index is
/// below its slot count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(pub(super) u16);

impl Slot {
    pub(super) fn new(index: usize) -> Slot {
        assert!(index < MAX_SLOTS, "hspt: window slot {index} out of range");
        Slot(index as u16)
    }

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A 4 KiB page of the 32-bit guest virtual address space (number < 2^20).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(transparent)]
pub struct GuestPage(pub(super) u32);

impl GuestPage {
    pub fn containing(vaddr: u32) -> GuestPage {
        GuestPage(vaddr >> PAGE_SHIFT)
    }

    /// Page number `index` of the 4 GiB space; anything else is a caller's
    /// bug, and mapping the wrong page would be worse than stopping.
    pub fn from_index(index: usize) -> GuestPage {
        assert!(
            index < PAGES_PER_WINDOW,
            "hspt: guest page {index:#x} out of range"
        );
        GuestPage(index as u32)
    }

    pub fn index(self) -> usize {
        self.0 as usize
    }

    pub fn vaddr(self) -> u32 {
        self.0 << PAGE_SHIFT
    }

    /// The page `n` pages further on (which must exist).
    pub fn plus(self, n: usize) -> GuestPage {
        GuestPage::from_index(self.index() + n)
    }

    /// Offset of the page in its window.
    pub(super) fn offset(self) -> usize {
        self.index() * PAGE
    }
}

/// A page of QEMU's RAM address space: ram_addr_t >> 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RamPage(pub(super) u64);

impl RamPage {
    pub fn containing(ram_addr: u64) -> RamPage {
        RamPage(ram_addr >> PAGE_SHIFT)
    }

    /// Within the reverse map's range, so that it may be mapped writable.
    pub fn is_tracked(self) -> bool {
        self.0 < RMAP_PAGES
    }

    /// The page's row in the reverse map (only for a tracked page: the
    /// table checks the bound).
    pub(super) fn index(self) -> usize {
        self.0 as usize
    }

    pub(super) fn plus(self, n: usize) -> RamPage {
        RamPage(self.0 + n as u64)
    }
}
