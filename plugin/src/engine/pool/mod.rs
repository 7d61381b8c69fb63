//! The window pool: `slots` windows of 4 GiB of host address space, each
//! the shadow of one guest translation context (GDVAS), with LRU
//! replacement; the forward map (window page -> RAM page) and reverse map
//! (RAM page -> writable window pages) that keep invariants
//! `softmmu-agrees`, `flush-covers` and `code-pages-read-only`; and the VMA
//! budget.
//!
//! Two rules keep the windows honest:
//! - the forward map is exact: an entry says a page is mapped (and with
//!   which RAM page and protection) if and only if it is. Every call that
//!   changes a window is checked; one that fails makes the pool reset the
//!   whole window (one `mmap` over it), and if even that fails the process
//!   stops (see `die`) rather than run on with a stale mapping;
//! - a window page is writable only while the reverse map records it, so
//!   [`Pool::protect_code`] finds every writable mapping of a RAM page. A
//!   RAM page whose reverse-map ways are all taken by live writable
//!   mappings gets one of them downgraded to read-only before a new one is
//!   made; RAM pages beyond the reverse map's range are never writable.
//!
//! Everything here runs on the vCPU thread, in hooks or in the SIGSEGV
//! handler: no allocation after [`Pool::new`], no locks. Memory is only
//! changed with `mmap`/`mprotect`/`madvise`, which are async-signal-safe.
//!
//! - this file: the slots and their LRU, mapping runs, the page lists, the
//!   VMA budget;
//! - `invalidate`: taking mappings away (unmap, read-only) and the
//!   reverse map;
//! - `revalidate`: the pool's half of revalidation and restoration
//!   (walks of page lists against translations the caller supplies);
//! - `entries`: the encodings of the maps' entries.

mod entries;
mod invalidate;
mod revalidate;
#[cfg(test)]
#[path = "../tests/pool.rs"]
pub(super) mod tests;

use std::ffi::c_int;

use hspt_shim as abi;

use super::kernel_window::{
    KernelSection, LargeMibs, MAX_SECTION_LG, PAGES_PER_SECTION, SECTIONS, SECTION_SHIFT,
};
pub use super::keys::{
    GuestPage, RamPage, Slot, WindowKey, MAX_SLOTS, PAGE, WINDOW_SIZE, WINDOW_SPAN,
};
use super::keys::{PAGES_PER_WINDOW, PAGE_SHIFT, RMAP_PAGES};
use super::mapping::Windows;
use super::signal_safe::die;
use super::table::{Table, ZeroIsEmpty};
use entries::{clamp_lg_page_size, FwdEntry, LargeRegion, RevEntry};
use revalidate::{Ghost, GHOSTS};
pub use revalidate::{Restoration, Revalidation, Translation};

/// Writable window mappings a RAM page may have at once; a new one beyond
/// that makes an old one read-only (more is rare: shared memory, JITs).
const RMAP_WAYS: usize = 4;
/// VMAs left to QEMU itself under `vm.max_map_count`.
const VMA_RESERVE: usize = 4096;
/// Pages each window lists for revalidation after a global flush (a
/// window that mapped more since its last reset is reset instead).
const LISTED_PAGES: usize = 4096;
/// The same for the kernel window's pages outside sections (its sections
/// are tracked whole): also the most it maps at once, since a TLBIALL,
/// which a Linux guest makes at every fork and exit, checks each (module
/// memory, vmalloc'd stacks). A new one beyond that unmaps the lower half
/// of the listed ones, lowest addresses first, which are the modules'.
/// 256: with 64, a guest of 90 processes (the Android-shaped one) evicted
/// its binder module's pages at every call, 20 kernel-window faults per
/// binder round trip (0.50x stock; 3.77x with 256), while churn, zygote
/// and parallel were the same within 2-4% (docs/DESIGN.md, "The kernel
/// window").
const KERNEL_LISTED_PAGES: usize = 256;

/// Per window (row), per guest page (column): a [`FwdEntry`].
type ForwardMap = Table<FwdEntry>;
/// Per window (row), the pages it mapped since its last reset, in the
/// order they were mapped, up to [`LISTED_PAGES`] (columns): what a
/// revalidation walks. A page unmapped since stays listed until the next
/// revalidation compacts the list (the forward map says whether it is
/// still mapped).
type PageLists = Table<GuestPage>;
/// Per RAM page within [`RMAP_PAGES`] (row): [`RMAP_WAYS`] [`RevEntry`]s.
type ReverseMap = Table<Ways>;
type Ways = [RevEntry; RMAP_WAYS];

// SAFETY: a transparent u32; all zeros is guest page 0, a valid page.
unsafe impl ZeroIsEmpty for GuestPage {}

#[derive(Debug, Clone, Copy, Default)]
struct Window {
    key: Option<WindowKey>,
    last_used: u64,
    /// Pages mapped (forward-map entries set).
    mapped: u32,
    /// Covers every large-page mapping in the window, if there is any.
    large: Option<LargeRegion>,
    /// The sizes of those mappings: bit n set for 2^n bytes.
    large_sizes: u64,
    /// Entries of the window's page list in use, and whether pages went
    /// unlisted because it was full.
    listed: u32,
    list_overflowed: bool,
    /// A global flush came since the mappings were checked: they must be
    /// revalidated against the guest's tables before user code uses them.
    stale: bool,
    /// The page list kept when this key's previous window was evicted,
    /// until [`Pool::restore`] maps its pages again.
    ghost: Option<u8>,
}

/// Where the pages of a run come from: guest RAM file, RAM page and guest
/// mapping size of its first page.
#[derive(Debug, Clone, Copy)]
struct RunSource {
    fd: c_int,
    fd_offset: u64,
    ram: RamPage,
    lg_page_size: u32,
}

impl RunSource {
    /// The source of the run that starts `n` pages further on.
    fn skip(self, n: usize) -> RunSource {
        RunSource {
            fd_offset: self.fd_offset + (n * PAGE) as u64,
            ram: self.ram.plus(n),
            ..self
        }
    }
}

/// Whether `next`, the fill of the page `pages` pages after the one of
/// `base` (negative: before), continues `base`'s run of guest RAM: the
/// same file, protection and attributes, the same guest mapping size, the RAM
/// offset `pages` pages on, so that one mmap can map both.
pub fn continues_run(base: &abi::hspt_fill, pages: i64, next: &abi::hspt_fill) -> bool {
    let step = pages * PAGE as i64;
    next.fd == base.fd
        && next.prot == base.prot
        && next.attrs == base.attrs
        && next.lg_page_size == base.lg_page_size
        && next.fd_offset as i64 == base.fd_offset as i64 + step
        && next.ram_addr as i64 == base.ram_addr as i64 + step
}

/// Pool-wide counters for the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolStats {
    pub windows_used: u64,
    pub evictions: u64,
    pub budget_evictions: u64,
    pub resets: u64,
    pub mapped_now: u64,
    pub mapped_peak: u64,
    pub vma_budget: u64,
    pub max_map_count: u64,
    /// Writable mappings made read-only because their RAM page had as
    /// many writable mappings as the reverse map records, and another
    /// was made.
    pub rmap_downgrades: u64,
    /// Unmaps and write-protects the kernel refused (or the test hook
    /// failed), each recovered from by resetting the whole window.
    pub invalidation_failures: u64,
    /// The pool has a kernel window besides the user windows.
    pub kernel_window: bool,
}

pub struct Pool {
    windows: Windows,
    /// The kernel window ([`Pool::with_kernel_window`]): the last slot,
    /// outside the LRU and keyless; only the engine resets it.
    kernel: Option<Slot>,
    /// The kernel window's page list (longer than the user windows').
    kernel_list: Option<PageLists>,
    /// The kernel window's sections (1 MiB guest mappings, as a Linux
    /// kernel maps its lowmem), per MiB of guest addresses: their pages
    /// are not listed, and a revalidation checks each section once.
    kernel_sections: Box<[KernelSection]>,
    /// Per window, where it made large mappings ([`LargeMibs`]).
    large_mib: Box<[LargeMibs]>,
    fwd: ForwardMap,
    rmap: ReverseMap,
    lists: PageLists,
    slots: [Window; MAX_SLOTS],
    /// Evicted windows' lists, when `keep_evicted` ([`Pool::restore`]).
    ghosts: [Ghost; GHOSTS],
    ghost_lists: PageLists,
    keep_evicted: bool,
    clock: u64,
    /// Slots that ever held a window (bit per slot), for the report.
    ever_used: [u64; MAX_SLOTS.div_ceil(64)],
    /// Pages mapped in all windows; each costs at most 2 VMAs.
    mapped_total: usize,
    max_mapped: usize,
    stats: PoolStats,
}

/// The page list of `slot`: the kernel window's own, or its entry in
/// `lists` (a function of the fields, so callers may borrow others).
fn list_of<'a>(
    lists: &'a mut PageLists,
    kernel_list: &'a mut Option<PageLists>,
    kernel: Option<Slot>,
    slot: Slot,
) -> &'a mut [GuestPage] {
    match kernel_list {
        Some(kernel_list) if kernel == Some(slot) => kernel_list.row_mut(0),
        _ => lists.row_mut(slot.index()),
    }
}

fn read_number(path: &str) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

impl Pool {
    /// Reserves `nslots` windows (1..=256) and the maps. Not signal-safe.
    pub fn new(nslots: usize) -> Result<Self, String> {
        assert!((1..=MAX_SLOTS).contains(&nslots));
        let windows = Windows::reserve(nslots)?;
        let fwd = ForwardMap::new(nslots, PAGES_PER_WINDOW, "forward map")?;
        let rmap = ReverseMap::new(RMAP_PAGES as usize, 1, "reverse map")?;
        let lists = PageLists::new(nslots, LISTED_PAGES, "page lists")?;
        let ghost_lists = PageLists::new(GHOSTS, LISTED_PAGES, "page lists")?;
        let max_map_count = read_number("/proc/sys/vm/max_map_count").unwrap_or(65530);
        let in_use = std::fs::read_to_string("/proc/self/maps")
            .map(|m| m.lines().count())
            .unwrap_or(1000);
        let mut pool = Pool {
            windows,
            kernel: None,
            kernel_list: None,
            large_mib: vec![LargeMibs::EMPTY; nslots].into_boxed_slice(),
            kernel_sections: Box::new([]),
            fwd,
            rmap,
            lists,
            slots: [Window::default(); MAX_SLOTS],
            ghosts: [Ghost::default(); GHOSTS],
            ghost_lists,
            keep_evicted: false,
            clock: 0,
            ever_used: [0; MAX_SLOTS.div_ceil(64)],
            mapped_total: 0,
            max_mapped: 0,
            stats: PoolStats {
                max_map_count: max_map_count as u64,
                ..Default::default()
            },
        };
        pool.set_vma_budget(max_map_count.saturating_sub(in_use + VMA_RESERVE).max(64));
        Ok(pool)
    }

    /// Reserves `nslots` windows for user address spaces (1..=256) and one
    /// more for the kernel, which no user context can take. Not
    /// signal-safe.
    pub fn with_kernel_window(nslots: usize) -> Result<Self, String> {
        assert!((1..MAX_SLOTS).contains(&nslots));
        let mut pool = Pool::new(nslots + 1)?;
        pool.kernel = Some(Slot::new(nslots));
        pool.kernel_list = Some(PageLists::new(1, KERNEL_LISTED_PAGES, "page lists")?);
        pool.kernel_sections = vec![KernelSection::default(); SECTIONS].into();
        Ok(pool)
    }

    /// The kernel window, if the pool has one.
    pub fn kernel_slot(&self) -> Option<Slot> {
        self.kernel
    }

    /// The VMAs the windows may use together (each mapped page counts as
    /// two). [`Pool::new`] derives it from `vm.max_map_count`.
    pub fn set_vma_budget(&mut self, vmas: usize) {
        let vmas = vmas.max(2);
        self.stats.vma_budget = vmas as u64;
        self.max_mapped = vmas / 2;
    }

    /// Whether an evicted window's page list is kept for [`Pool::restore`].
    pub fn set_keep_evicted(&mut self, on: bool) {
        self.keep_evicted = on;
    }

    /// Counters for the report, with the pages mapped now.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            mapped_now: self.mapped_total as u64,
            kernel_window: self.kernel.is_some(),
            ..self.stats
        }
    }

    pub fn window_base(&self, slot: Slot) -> usize {
        self.windows.base(slot)
    }

    pub fn nslots(&self) -> usize {
        self.windows.nslots()
    }

    fn all_slots(&self) -> impl Iterator<Item = Slot> {
        (0..self.nslots()).map(Slot::new)
    }

    /// The page list of a window.
    fn list(&mut self, slot: Slot) -> &mut [GuestPage] {
        list_of(&mut self.lists, &mut self.kernel_list, self.kernel, slot)
    }

    /// Whether the window's list names every page it maps (a revalidation
    /// needs it).
    pub fn is_listed(&self, slot: Slot) -> bool {
        !self.slots[slot.index()].list_overflowed
    }

    /// The windows user contexts get: all but the kernel window.
    fn user_slots(&self) -> impl Iterator<Item = Slot> {
        let kernel = self.kernel;
        self.all_slots().filter(move |&s| Some(s) != kernel)
    }

    /// Windows of user address spaces (the report's slot count).
    pub fn user_slot_count(&self) -> usize {
        self.nslots() - self.kernel.is_some() as usize
    }

    /// The window `addr` lies in and its offset there (in the guard past
    /// the window if `>= WINDOW_SIZE`), if any.
    pub fn locate(&self, addr: usize) -> Option<(Slot, usize)> {
        self.windows.locate(addr)
    }

    pub fn is_mapped(&self, slot: Slot, page: GuestPage) -> bool {
        self.fwd.get(slot.index(), page.index()).is_mapped()
    }

    /// Whether a store to `page` would go through without faulting.
    pub fn is_writable(&self, slot: Slot, page: GuestPage) -> bool {
        self.fwd.get(slot.index(), page.index()).is_writable()
    }

    /// The host address range of all windows and their guards: a fault
    /// outside it is none of the engine's business.
    pub fn address_range(&self) -> std::ops::Range<usize> {
        self.windows.address_range()
    }

    /// Whether a page at `ram_addr` may be mapped writable. Writes to one
    /// that may not must go through the softmmu: its window mapping stays
    /// read-only whatever the guest's permissions.
    pub fn can_track(ram_addr: u64) -> bool {
        RamPage::containing(ram_addr).is_tracked()
    }

    fn window(&mut self, slot: Slot) -> &mut Window {
        &mut self.slots[slot.index()]
    }

    /// The window of `key`, made current; a free or the least recently
    /// used window is given to it if it has none. Returns the slot and,
    /// if another context lost its window, that context and how many
    /// pages it had mapped.
    pub fn slot_for(&mut self, key: WindowKey) -> (Slot, Option<(WindowKey, u32)>) {
        self.clock += 1;
        let clock = self.clock;
        if let Some(slot) = self
            .user_slots()
            .find(|s| self.slots[s.index()].key == Some(key))
        {
            self.window(slot).last_used = clock;
            return (slot, None);
        }
        let victim = self
            .user_slots()
            .min_by_key(|s| {
                let w = &self.slots[s.index()];
                (w.key.is_some(), w.last_used)
            })
            .unwrap_or(Slot::new(0));
        let old = self.slots[victim.index()];
        let lost = old.key.map(|k| (k, old.mapped));
        if let Some(old_key) = old.key {
            self.stats.evictions += 1;
            self.keep_ghost(victim, old_key);
            self.reset(victim);
        }
        let (word, bit) = (victim.index() / 64, 1 << (victim.index() % 64));
        if self.ever_used[word] & bit == 0 {
            self.ever_used[word] |= bit;
            self.stats.windows_used += 1;
        }
        let ghost = self.ghost_of(&key);
        *self.window(victim) = Window {
            key: Some(key),
            last_used: clock,
            ghost,
            ..Window::default()
        };
        (victim, lost)
    }

    /// Gives up the window of `key`, if it has one (its mappings go).
    pub fn release(&mut self, key: &WindowKey) {
        if let Some(slot) = self
            .user_slots()
            .find(|s| self.slots[s.index()].key.as_ref() == Some(key))
        {
            self.reset(slot);
            *self.window(slot) = Window::default();
        }
    }

    /// Drops every mapping of a window.
    pub fn reset(&mut self, slot: Slot) {
        if self.slots[slot.index()].mapped > 0 {
            self.reset_window(slot);
        }
    }

    /// Drops every mapping of a window, whatever the forward map says (it
    /// is also the recovery when a smaller change failed): one mmap over
    /// the whole window, which merges its VMAs into the reservation's.
    fn reset_window(&mut self, slot: Slot) {
        let everything = GuestPage::from_index(0);
        if let Err(errno) = self.windows.unmap(slot, everything, PAGES_PER_WINDOW) {
            die("resetting a window (mmap PROT_NONE over 4 GiB)", errno);
        }
        self.fwd.clear_row(slot.index());
        let window = self.window(slot);
        let lost = std::mem::take(&mut window.mapped) as usize;
        window.large = None;
        window.large_sizes = 0;
        window.listed = 0;
        window.list_overflowed = false;
        window.stale = false;
        window.ghost = None;
        self.large_mib[slot.index()] = LargeMibs::EMPTY;
        if self.kernel == Some(slot) {
            self.kernel_sections.fill(KernelSection::default());
        }
        self.mapped_total -= lost;
        self.stats.resets += 1;
    }

    /// Adds a newly mapped page to its window's list, if there is room
    /// (made, if need be, by dropping the entries of pages unmapped since
    /// and the repeats of pages mapped again).
    fn list_page(&mut self, slot: Slot, page: GuestPage) {
        let capacity = self.list(slot).len();
        if self.slots[slot.index()].listed as usize == capacity {
            self.compact_list(slot);
            if self.kernel == Some(slot) && self.slots[slot.index()].listed as usize == capacity {
                self.evict_listed_half(slot);
            }
        }
        let listed = self.slots[slot.index()].listed as usize;
        if listed < capacity {
            self.list(slot)[listed] = page;
            self.window(slot).listed += 1;
        } else {
            self.window(slot).list_overflowed = true;
        }
    }

    /// The kernel window's list is full of mapped pages: the lower half of
    /// them (in address order, after [`Pool::compact_list`]) go.
    fn evict_listed_half(&mut self, slot: Slot) {
        let listed = self.slots[slot.index()].listed as usize;
        let half = listed / 2;
        for i in 0..half {
            let page = self.list(slot)[i];
            if self.fwd.get(slot.index(), page.index()).is_mapped() {
                self.unmap_range(slot, page, 1);
            }
        }
        // A failed unmap reset the window, emptying the list.
        let listed = self.slots[slot.index()].listed as usize;
        if listed > half {
            self.list(slot).copy_within(half..listed, 0);
            self.window(slot).listed = (listed - half) as u32;
        }
    }

    /// Keeps in a window's list each page still mapped, once. In place
    /// and without allocating (the fault path calls it).
    fn compact_list(&mut self, slot: Slot) {
        let listed = self.slots[slot.index()].listed as usize;
        let list =
            &mut list_of(&mut self.lists, &mut self.kernel_list, self.kernel, slot)[..listed];
        list.sort_unstable();
        let mut kept = 0;
        for i in 0..listed {
            let page = list[i];
            if (kept == 0 || list[kept - 1] != page)
                && self.fwd.get(slot.index(), page.index()).is_mapped()
            {
                list[kept] = page;
                kept += 1;
            }
        }
        self.window(slot).listed = kept as u32;
    }

    /// Pages the window maps now.
    pub fn mapped_pages(&self, slot: Slot) -> u32 {
        self.slots[slot.index()].mapped
    }

    /// Whether mapping one more page stays within the VMA budget; if not,
    /// frees room by resetting the least recently used other window, or
    /// `current` itself when it holds (nearly) everything. Returns the
    /// context that lost its mappings, and how many.
    pub fn make_room(&mut self, current: Slot) -> Option<(WindowKey, u32)> {
        if self.mapped_total < self.max_mapped {
            return None;
        }
        let victim = self
            .all_slots()
            .filter(|&s| s != current && self.slots[s.index()].mapped > 0)
            .min_by_key(|s| self.slots[s.index()].last_used)
            .unwrap_or(current);
        self.stats.budget_evictions += 1;
        let old = self.slots[victim.index()];
        self.reset(victim);
        old.key.map(|k| (k, old.mapped))
    }

    /// Maps `pages` guest pages from `first` to the run of RAM that starts
    /// with `fill` (contiguous in the file and in ram_addr_t, one guest
    /// protection, every page in a guest mapping of 2^`fill.lg_page_size`
    /// bytes). Writable if the fill says so, except for pages beyond the
    /// reverse map's range (see [`Pool::can_track`]), which are mapped
    /// read-only. On an error (an errno) the pages of the failed mmap are
    /// unmapped; the forward map is exact either way.
    pub fn map_run(
        &mut self,
        slot: Slot,
        first: GuestPage,
        pages: usize,
        fill: &abi::hspt_fill,
    ) -> Result<(), i32> {
        assert!(pages >= 1 && first.index() + pages <= PAGES_PER_WINDOW);
        let first_ram = RamPage::containing(fill.ram_addr);
        let writable = fill.prot & abi::HSPT_PROT_WRITE != 0;
        // Pages [0, tracked) of the run are within the reverse map's range.
        let tracked = RMAP_PAGES.saturating_sub(first_ram.0).min(pages as u64) as usize;
        let writable_pages = if writable { tracked } else { 0 };
        let source = RunSource {
            fd: fill.fd,
            fd_offset: fill.fd_offset,
            ram: first_ram,
            lg_page_size: fill.lg_page_size,
        };
        if self.is_kernel_section(slot, fill.lg_page_size) {
            self.note_kernel_section(first, first_ram, fill.lg_page_size, writable_pages > 0);
        }
        if writable_pages > 0 {
            self.map_pages(slot, first, writable_pages, source, true)?;
        }
        if writable_pages < pages {
            let skip = writable_pages;
            let rest = source.skip(skip);
            self.map_pages(slot, first.plus(skip), pages - skip, rest, false)?;
        }
        self.stats.mapped_peak = self.stats.mapped_peak.max(self.mapped_total as u64);
        Ok(())
    }

    /// One mmap of `pages` pages from `source`, all writable or all
    /// read-only.
    fn map_pages(
        &mut self,
        slot: Slot,
        first: GuestPage,
        pages: usize,
        source: RunSource,
        writable: bool,
    ) -> Result<(), i32> {
        let prot = if writable {
            // Recorded before they exist: a way that names a page not
            // (yet) mapped writable is simply dead.
            for i in 0..pages {
                self.rmap_record(source.ram.plus(i), slot, first.plus(i));
            }
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        let mapped = self
            .windows
            .map_file(slot, first, pages, prot, source.fd, source.fd_offset);
        if let Err(errno) = mapped {
            // The kernel may have left the old pages, or a hole: make the
            // range reservation again.
            self.unmap_range(slot, first, pages);
            return Err(errno);
        }
        for i in 0..pages {
            let page = first.plus(i);
            if !self.fwd.get(slot.index(), page.index()).is_mapped() {
                self.window(slot).mapped += 1;
                self.mapped_total += 1;
                if !self.is_kernel_section(slot, source.lg_page_size) {
                    self.list_page(slot, page);
                }
            }
            let entry = FwdEntry::mapped(source.ram.plus(i), writable, source.lg_page_size);
            self.fwd.set(slot.index(), page.index(), entry);
        }
        if clamp_lg_page_size(source.lg_page_size) > PAGE_SHIFT {
            // The run lies in one aligned block of large mappings, so
            // covering its ends covers it all.
            let window = self.window(slot);
            let region = LargeRegion::cover(window.large, first.vaddr(), source.lg_page_size);
            let last = first.plus(pages - 1).vaddr();
            window.large = Some(LargeRegion::cover(Some(region), last, source.lg_page_size));
            window.large_sizes |= 1 << clamp_lg_page_size(source.lg_page_size);
            self.large_mib[slot.index()].mark(first.vaddr(), last);
        }
        Ok(())
    }

    /// Pages of 1 MiB and 2 MiB mappings in the kernel window are tracked
    /// by section (MiB).
    fn is_kernel_section(&self, slot: Slot, lg_page_size: u32) -> bool {
        self.kernel == Some(slot)
            && (SECTION_SHIFT..=MAX_SECTION_LG).contains(&clamp_lg_page_size(lg_page_size))
    }

    /// Pages from `first` of a section, from a guest mapping of
    /// 2^`lg` bytes, are about to be mapped in the kernel window from RAM
    /// at `first_ram` (a run within the section): if its other pages came
    /// from another run or mapping size (an older descriptor, still legal
    /// to use until the guest's TLB maintenance), they go, so that one RAM
    /// run describes the section.
    fn note_kernel_section(
        &mut self,
        first: GuestPage,
        first_ram: RamPage,
        lg: u32,
        writable: bool,
    ) {
        let Some(kernel) = self.kernel else {
            return;
        };
        let lg = clamp_lg_page_size(lg) as u8;
        let index = first.vaddr() >> SECTION_SHIFT;
        let offset = (first.index() % PAGES_PER_SECTION) as u64;
        let ram = first_ram.0.checked_sub(offset).map(RamPage);
        let known = self.kernel_sections[index as usize];
        if known.ram.is_some() && (known.ram != ram || known.lg != lg) {
            self.unmap_block_of_size(kernel, first, known.lg.into());
        }
        let section = &mut self.kernel_sections[index as usize];
        section.writable = (section.ram == ram && section.writable) || writable;
        section.ram = ram;
        section.lg = lg;
    }
}
