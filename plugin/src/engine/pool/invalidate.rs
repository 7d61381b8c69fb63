//! Taking mappings away: by-address invalidation (small pages, large
//! pages and sections), window resets by key, making pages read-only, and
//! the reverse map that finds every writable mapping of a RAM page
//! (invariants `flush-covers` and `code-pages-read-only`). Every change
//! is checked; a failed one resets the whole window.

use super::super::inject::injected_failure;
use super::super::kernel_window::{KernelSection, PAGES_PER_SECTION, SECTION_SHIFT};
use super::super::keys::{GuestPage, RamPage, Slot, WindowKey, PAGE_SHIFT};
use super::entries::{FwdEntry, RevEntry};
use super::{Pool, RMAP_WAYS};

/// Guest mappings larger than this (2^24, a supersection) are unmapped
/// by resetting their window: their block would be too long to scan.
const MAX_SCANNED_LG_PAGE_SIZE: u32 = 24;

impl Pool {
    /// Windows whose key satisfies `pred` lose all mappings; `lost` hears
    /// of each (key, pages it had). Returns how many were reset.
    pub fn reset_where(
        &mut self,
        pred: impl Fn(&WindowKey) -> bool,
        mut lost: impl FnMut(WindowKey, u32),
    ) -> u64 {
        let mut n = 0;
        for slot in self.user_slots() {
            let window = self.slots[slot.index()];
            if let Some(key) = window.key.filter(|k| window.mapped > 0 && pred(k)) {
                self.reset(slot);
                lost(key, window.mapped);
                n += 1;
            }
        }
        n
    }

    /// Every user window loses its mappings (the kernel window stays).
    pub fn reset_user_windows(&mut self, lost: impl FnMut(WindowKey, u32)) -> u64 {
        self.reset_where(|_| true, lost)
    }

    /// A guest TLB invalidation of `vaddr` (by MVA): in every window, the
    /// guest mapping that covers it goes. For a large page or section that
    /// is all of it (the architecture removes the whole TLB entry), so a
    /// window whose large-page region holds `vaddr` loses the region.
    /// Returns the number of pages unmapped.
    pub fn unmap_page_everywhere(&mut self, vaddr: u32) -> u64 {
        self.unmap_page_where(vaddr, |_| true)
    }

    /// [`Pool::unmap_page_everywhere`], in the user windows only.
    pub fn unmap_user_page(&mut self, vaddr: u32) -> u64 {
        let kernel = self.kernel;
        self.unmap_page_where(vaddr, |s| Some(s) != kernel)
    }

    /// [`Pool::unmap_page_everywhere`], in the kernel window only.
    pub fn unmap_kernel_page(&mut self, vaddr: u32) -> u64 {
        let kernel = self.kernel;
        self.unmap_page_where(vaddr, |s| Some(s) == kernel)
    }

    fn unmap_page_where(&mut self, vaddr: u32, which: impl Fn(Slot) -> bool) -> u64 {
        let page = GuestPage::containing(vaddr);
        let mut n = 0;
        for slot in self.all_slots().filter(|&s| which(s)) {
            let window = self.slots[slot.index()];
            if window.mapped == 0 {
                continue;
            }
            let entry = self.fwd.get(slot.index(), page.index());
            if entry.is_mapped() && entry.lg_page_size() == PAGE_SHIFT {
                n += self.unmap_range(slot, page, 1);
            }
            if !window.large.is_some_and(|r| r.contains(vaddr)) {
                continue;
            }
            // The guest mapping that covers `vaddr`, if it is large, lies in
            // its size's aligned block around it, and its window pages are
            // those of the block mapped with that size (another mapping of
            // that size cannot share the block). Each size the window
            // holds, from the smallest: where none covers `vaddr`, nothing
            // of theirs goes, unlike the softmmu, which drops its whole
            // large-page region (a kernel's fixmap flushes would else
            // empty a kernel window's lowmem sections again and again).
            for lg in (PAGE_SHIFT + 1..=32).filter(|lg| window.large_sizes & (1 << lg) != 0) {
                if lg > MAX_SCANNED_LG_PAGE_SIZE {
                    n += window.mapped as u64;
                    self.reset_window(slot);
                    break;
                }
                n += self.unmap_block_of_size(slot, page, lg);
            }
        }
        n
    }

    /// Unmaps the pages of the 2^`lg` aligned block around `page` that
    /// were mapped from guest mappings of that size, in runs.
    pub(super) fn unmap_block_of_size(&mut self, slot: Slot, page: GuestPage, lg: u32) -> u64 {
        let pages = 1usize << (lg - PAGE_SHIFT);
        let first = GuestPage::from_index(page.index() & !(pages - 1));
        if !self.large_mib[slot.index()].any(first.vaddr(), first.plus(pages - 1).vaddr()) {
            return 0;
        }
        if self.is_kernel_section(slot, lg) {
            // Every section (MiB) of the block.
            let index = (first.vaddr() >> SECTION_SHIFT) as usize;
            let sections = (pages / PAGES_PER_SECTION).max(1);
            self.kernel_sections[index..index + sections].fill(KernelSection::default());
        }
        let mut n = 0;
        let mut run: Option<(GuestPage, usize)> = None;
        for i in 0..pages {
            let p = first.plus(i);
            let entry = self.fwd.get(slot.index(), p.index());
            if entry.is_mapped() && entry.lg_page_size() == lg {
                match &mut run {
                    Some((_, len)) => *len += 1,
                    None => run = Some((p, 1)),
                }
            } else if let Some((start, len)) = run.take() {
                n += self.unmap_range(slot, start, len);
            }
        }
        if let Some((start, len)) = run {
            n += self.unmap_range(slot, start, len);
        }
        n
    }

    /// Unmaps `pages` pages from `first` and empties their forward
    /// entries; if the unmap fails, the whole window is reset instead.
    /// Always calls the kernel (it also repairs a range a failed mmap may
    /// have left in any state). Returns how many mapped pages went.
    pub(super) fn unmap_range(&mut self, slot: Slot, first: GuestPage, pages: usize) -> u64 {
        let unmapped = if injected_failure() {
            Err(libc::ENOMEM)
        } else {
            self.windows.unmap(slot, first, pages)
        };
        if unmapped.is_err() {
            let lost = self.slots[slot.index()].mapped;
            self.stats.invalidation_failures += 1;
            self.reset_window(slot);
            return lost as u64;
        }
        let mut n = 0;
        for i in 0..pages {
            let page = first.plus(i);
            if self.fwd.get(slot.index(), page.index()).is_mapped() {
                self.fwd.set(slot.index(), page.index(), FwdEntry::EMPTY);
                n += 1;
            }
        }
        self.window(slot).mapped -= n as u32;
        self.mapped_total -= n;
        n as u64
    }

    /// Makes a mapped page read-only, or failing that drops its window.
    pub(super) fn downgrade(&mut self, slot: Slot, page: GuestPage) {
        debug_assert!(self.fwd.get(slot.index(), page.index()).is_writable());
        self.downgrade_range(slot, page, 1);
    }

    /// Makes `pages` mapped pages from `first` read-only with one call, or
    /// failing that drops the window.
    pub(super) fn downgrade_range(&mut self, slot: Slot, first: GuestPage, pages: usize) {
        let protected = if injected_failure() {
            Err(libc::ENOMEM)
        } else {
            self.windows.make_read_only(slot, first, pages)
        };
        if protected.is_err() {
            self.stats.invalidation_failures += 1;
            self.reset_window(slot);
            return;
        }
        for i in 0..pages {
            let page = first.plus(i);
            let entry = self.fwd.get(slot.index(), page.index());
            self.fwd.set(slot.index(), page.index(), entry.read_only());
        }
    }

    /// Makes every writable page of `pages` from `first` read-only.
    pub(super) fn downgrade_block(&mut self, slot: Slot, first: GuestPage, pages: usize) {
        for i in 0..pages {
            let page = first.plus(i);
            if self.fwd.get(slot.index(), page.index()).is_writable() {
                self.downgrade(slot, page);
            }
        }
    }

    /// Whether reverse-map way `way` of `ram` names a live writable mapping.
    fn is_live(&self, way: RevEntry, ram: RamPage) -> bool {
        way.get().is_some_and(|(slot, page)| {
            slot.index() < self.nslots()
                && self.fwd.get(slot.index(), page.index()).maps_writable(ram)
        })
    }

    /// Records that window page (`slot`, `page`) is to be a writable
    /// mapping of `ram`, in a free way, a dead one, or, when every way
    /// holds a live writable mapping, the way of one made read-only first:
    /// no writable mapping can be forgotten.
    pub(super) fn rmap_record(&mut self, ram: RamPage, slot: Slot, page: GuestPage) {
        let new = RevEntry::new(slot, page);
        let mut ways = self.rmap.get(ram.index(), 0);
        if ways.contains(&new) {
            return;
        }
        if let Some(i) = ways.iter().position(|&w| !self.is_live(w, ram)) {
            ways[i] = new;
        } else {
            // The oldest way goes; the new one becomes the youngest.
            if let Some((old_slot, old_page)) = ways[0].get() {
                self.downgrade(old_slot, old_page);
            }
            self.stats.rmap_downgrades += 1;
            ways.rotate_left(1);
            ways[RMAP_WAYS - 1] = new;
        }
        self.rmap.set(ram.index(), 0, ways);
    }

    /// No window may write RAM page `ram_addr` any more (translated code
    /// is being made from it). Returns the number of mappings that lost
    /// write access (made read-only, or gone with their window when that
    /// failed).
    pub fn protect_code(&mut self, ram_addr: u64) -> u64 {
        let ram = RamPage::containing(ram_addr);
        if !ram.is_tracked() || self.mapped_total == 0 {
            return 0;
        }
        let mut n = 0;
        for way in self.rmap.get(ram.index(), 0) {
            // Checked one by one: a failed downgrade resets a window,
            // which kills the other ways into it.
            if let Some((slot, page)) = way.get().filter(|_| self.is_live(way, ram)) {
                self.downgrade(slot, page);
                n += 1;
            }
        }
        self.rmap.set(ram.index(), 0, [RevEntry::EMPTY; RMAP_WAYS]);
        n
    }
}
