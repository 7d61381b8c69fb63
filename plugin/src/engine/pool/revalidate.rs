//! The pool's half of revalidation and restoration: walks of a window's
//! page list against the guest's translations now, which the caller
//! supplies (from QEMU's probe, in a hook: [`super::super::revalidate`]).
//! - revalidation: after a global flush a window is marked stale, and
//!   before it is used again each mapping is kept, made read-only or
//!   unmapped as the guest's tables say now (invariant `softmmu-agrees`);
//! - restoration: an evicted window's page list is kept as a ghost, and
//!   the context's next window maps those pages that still translate.

use hspt_shim as abi;

use super::super::kernel_window::PAGES_PER_SECTION;
use super::super::keys::{GuestPage, RamPage, Slot, WindowKey};
use super::entries::clamp_lg_page_size;
use super::{continues_run, Pool};

/// Page lists of evicted windows kept for [`Pool::restore`] (LRU).
pub(super) const GHOSTS: usize = 64;
/// An evicted window's list is kept only if it has this many pages: a
/// context that mapped less refaults it cheaply.
pub(super) const GHOST_MIN_PAGES: u32 = 16;

/// What the guest's tables give for a page now, for [`Pool::revalidate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    pub ram: RamPage,
    pub writable: bool,
    /// log2 of the guest mapping's size (12 for a small page).
    pub lg_page_size: u32,
}

/// What a revalidation does to a mapping that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Unmap,
    ReadOnly,
}

/// What a revalidation did to a window's mappings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Revalidation {
    pub kept: u64,
    /// Kept read-only: the page is no longer writable for user mode.
    pub downgraded: u64,
    pub unmapped: u64,
}

/// The page list of an evicted window, kept under its key so that when
/// the context gets a window again the pages that still translate are
/// mapped at once (in runs), not one fault each. Only a hint: every page
/// is translated again before it is mapped.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ghost {
    key: Option<WindowKey>,
    listed: u32,
    last_used: u64,
}

/// What a [`Pool::restore`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restoration {
    /// Pages mapped again, and the mmaps that took.
    pub pages: u64,
    pub runs: u64,
}

impl Pool {
    /// The ghost kept for `key`, if any.
    pub(super) fn ghost_of(&self, key: &WindowKey) -> Option<u8> {
        self.ghosts
            .iter()
            .position(|g| g.key == Some(*key))
            .map(|g| g as u8)
    }

    /// Before `slot`, the window of `key`, is evicted: keeps its page list
    /// (the pages still mapped) in the ghost of `key`, an unused one or the
    /// least recently used. Not for a list that overflowed (it does not
    /// name every page) or a short one.
    pub(super) fn keep_ghost(&mut self, slot: Slot, key: WindowKey) {
        if !self.keep_evicted || self.slots[slot.index()].list_overflowed {
            return;
        }
        self.compact_list(slot);
        let listed = self.slots[slot.index()].listed;
        if listed < GHOST_MIN_PAGES {
            return;
        }
        let g = self
            .ghosts
            .iter()
            .position(|g| g.key == Some(key))
            .unwrap_or_else(|| {
                (0..GHOSTS)
                    .min_by_key(|&g| (self.ghosts[g].key.is_some(), self.ghosts[g].last_used))
                    .unwrap_or(0)
            });
        let n = listed as usize;
        let from = &self.lists.row_mut(slot.index())[..n];
        self.ghost_lists.row_mut(g)[..n].copy_from_slice(from);
        self.ghosts[g] = Ghost {
            key: Some(key),
            listed,
            last_used: self.clock,
        };
    }

    /// Whether `slot` is a new window for a context whose evicted window's
    /// pages were kept: [`Pool::restore`] maps those that still translate.
    pub fn has_ghost(&self, slot: Slot) -> bool {
        self.slots[slot.index()].ghost.is_some()
    }

    /// Maps again, into the new window `slot`, the pages its context's
    /// evicted window had mapped, as far as `current` (the guest's
    /// translation of a page for user mode now, as a fill; None: not RAM,
    /// not accessible) still gives them. Neighbouring pages that continue
    /// each other's run of RAM with one protection and mapping size take
    /// one mmap. Stops at the VMA budget (restoring evicts nobody) or at a
    /// failed mmap. Every mapping made is one a fault now would make, so,
    /// like fault-around, it is what a real TLB may hold (a speculative
    /// walk of the current tables).
    pub fn restore(
        &mut self,
        slot: Slot,
        mut current: impl FnMut(GuestPage) -> Option<abi::hspt_fill>,
    ) -> Restoration {
        let mut done = Restoration::default();
        let key = self.slots[slot.index()].key;
        let Some(g) = self.window(slot).ghost.take().map(usize::from) else {
            return done;
        };
        if self.ghosts[g].key != key {
            return done;
        }
        // Taken when the window is made, before anything can map into it.
        debug_assert_eq!(self.slots[slot.index()].mapped, 0);
        let listed = std::mem::take(&mut self.ghosts[g]).listed as usize;
        let mut run: Option<(GuestPage, usize, abi::hspt_fill)> = None;
        // The list is sorted (compacted when kept): neighbours are adjacent.
        for i in 0..=listed {
            let next = (i < listed).then(|| self.ghost_lists.row_mut(g)[i]);
            let now = next.and_then(|page| current(page).map(|f| (page, f)));
            if let (Some((first, n, f)), Some((page, pf))) = (&mut run, &now) {
                if first.plus(*n) == *page && continues_run(f, *n as i64, pf) {
                    *n += 1;
                    continue;
                }
            }
            if let Some((first, n, f)) = run.take() {
                if self.mapped_total + n > self.max_mapped
                    || self.map_run(slot, first, n, &f).is_err()
                {
                    return done;
                }
                done.pages += n as u64;
                done.runs += 1;
            }
            run = now.map(|(page, f)| (page, 1, f));
        }
        done
    }

    /// A global flush (TLBIALL, or TLBIASID of their ASID) for the windows
    /// whose key satisfies `pred`: each keeps its mappings but is marked
    /// stale, to be revalidated ([`Pool::revalidate`]) before user code
    /// uses it again; one whose list overflowed is reset (`lost` hears of
    /// it). Returns how many windows were marked and how many reset.
    pub fn mark_stale_where(
        &mut self,
        pred: impl Fn(&WindowKey) -> bool,
        mut lost: impl FnMut(WindowKey, u32),
    ) -> (u64, u64) {
        let (mut marked, mut reset) = (0, 0);
        for slot in self.user_slots() {
            let window = self.slots[slot.index()];
            let Some(key) = window.key.filter(|k| window.mapped > 0 && pred(k)) else {
                continue;
            };
            if window.list_overflowed {
                self.reset(slot);
                lost(key, window.mapped);
                reset += 1;
            } else {
                self.window(slot).stale = true;
                marked += 1;
            }
        }
        (marked, reset)
    }

    pub fn is_stale(&self, slot: Slot) -> bool {
        self.slots[slot.index()].stale
    }

    /// Checks every mapping of a stale window against `current`, the
    /// guest's translation of a page for user mode now (None: not RAM, or
    /// not accessible). A mapping stays if the page still translates to
    /// the same RAM page with the same mapping size and at least the
    /// access it was mapped with; one that lost only write access is made
    /// read-only; any other is unmapped. The list keeps the pages still
    /// mapped. Afterwards every mapping is one a fault now would make (or
    /// a read-only part of one), so the window is no longer stale.
    pub fn revalidate(
        &mut self,
        slot: Slot,
        mut current: impl FnMut(GuestPage) -> Option<Translation>,
    ) -> Revalidation {
        let mut done = Revalidation::default();
        // Each mapped page once (one unmapped and mapped again is listed
        // twice), in address order, so that neighbours that change alike
        // make one run and one system call.
        self.compact_list(slot);
        let listed = self.slots[slot.index()].listed as usize;
        let mut kept = 0;
        let mut run: Option<(Change, GuestPage, usize)> = None;
        for i in 0..listed {
            let page = self.list(slot)[i];
            let entry = self.fwd.get(slot.index(), page.index());
            // RAM beyond the reverse map's range is not recorded: such a
            // mapping cannot be compared, so it goes.
            let now = current(page);
            let same = entry.ram().is_some_and(|ram| {
                now.is_some_and(|t| {
                    t.ram == ram && clamp_lg_page_size(t.lg_page_size) == entry.lg_page_size()
                })
            });
            let change = if !same {
                // A large mapping's page leaves the large region as it is:
                // the region only has to cover what is mapped.
                Some(Change::Unmap)
            } else if entry.is_writable() && !now.is_some_and(|t| t.writable) {
                Some(Change::ReadOnly)
            } else {
                None
            };
            match (change, &mut run) {
                (Some(c), Some((rc, first, n))) if *rc == c && first.plus(*n) == page => *n += 1,
                _ => {
                    if let Some(r) = run.take() {
                        if !self.apply(slot, r, &mut done) {
                            return done;
                        }
                    }
                    run = change.map(|c| (c, page, 1));
                }
            }
            match change {
                None => done.kept += 1,
                Some(Change::Unmap) => continue,
                Some(Change::ReadOnly) => {}
            }
            self.list(slot)[kept] = page;
            kept += 1;
        }
        if let Some(r) = run {
            if !self.apply(slot, r, &mut done) {
                return done;
            }
        }
        let window = self.window(slot);
        window.listed = kept as u32;
        window.stale = false;
        done
    }

    /// Applies one run of a revalidation's changes; false if that failed
    /// and reset the window instead.
    fn apply(
        &mut self,
        slot: Slot,
        (change, first, pages): (Change, GuestPage, usize),
        done: &mut Revalidation,
    ) -> bool {
        match change {
            Change::Unmap => done.unmapped += self.unmap_range(slot, first, pages),
            Change::ReadOnly => {
                self.downgrade_range(slot, first, pages);
                done.downgraded += pages as u64;
            }
        }
        self.slots[slot.index()].stale
    }

    /// After a guest TLBIALL: keeps each section of the kernel window that
    /// `current` (the translation of its first page now) still gives from
    /// the same RAM run; makes its pages read-only if it lost write
    /// access; drops it otherwise. One check per section, not per page
    /// (a Linux kernel's window holds thousands of lowmem pages, and each
    /// fork and exit makes a TLBIALL). Returns the sections kept.
    pub fn revalidate_kernel_sections(
        &mut self,
        mut current: impl FnMut(GuestPage) -> Option<Translation>,
    ) -> u64 {
        let Some(kernel) = self.kernel else {
            return 0;
        };
        let mut kept = 0;
        for index in 0..self.kernel_sections.len() {
            let section = self.kernel_sections[index];
            let Some(ram) = section.ram else {
                continue;
            };
            let first = GuestPage::from_index(index * PAGES_PER_SECTION);
            let now = current(first).filter(|t| {
                clamp_lg_page_size(t.lg_page_size) == section.lg.into() && t.ram == ram
            });
            match now {
                Some(t) => {
                    kept += 1;
                    if section.writable && !t.writable {
                        self.downgrade_block(kernel, first, PAGES_PER_SECTION);
                        self.kernel_sections[index].writable = false;
                    }
                }
                None => {
                    self.unmap_block_of_size(kernel, first, section.lg.into());
                }
            }
        }
        kept
    }
}
