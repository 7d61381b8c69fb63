//! The window pool: `slots` windows of 4 GiB of host address space, each
//! the shadow of one guest translation context (GDVAS), with LRU
//! replacement; the forward map (window page -> RAM page) and reverse map
//! (RAM page -> writable window pages) that keep invariants 1, 3 and 4 of
//! the design; and the VMA budget.
//!
//! Everything here runs on the vCPU thread, in hooks or in the SIGSEGV
//! handler: no allocation after [`Pool::new`], no locks. Memory is only
//! changed with `mmap`/`mprotect`/`madvise`, which are async-signal-safe.

use hspt_shim as abi;

/// Guest virtual address space of a 32-bit guest.
pub const WINDOW_SIZE: usize = 1 << 32;
/// A window plus a PROT_NONE guard, so an access that crosses the top of
/// the 4 GiB space faults in its own window (and goes to the softmmu).
pub const WINDOW_SPAN: usize = WINDOW_SIZE + (2 << 20);
pub const PAGE: usize = 4096;
const PAGES_PER_WINDOW: usize = WINDOW_SIZE / PAGE;
/// RAM pages (ram_addr_t >> 12) the reverse map covers: 16 GiB.
const RMAP_PAGES: usize = 1 << 22;
/// Writable window mappings remembered per RAM page; more than that and
/// protecting the page resets every window instead (rare: shared memory).
const RMAP_WAYS: usize = 4;
/// VMAs left to QEMU itself under `vm.max_map_count`.
const VMA_RESERVE: usize = 4096;

/// What decides a user-mode translation: a window holds mappings for one
/// key only (design invariant 2). The user-mode DACR is part of it, so a
/// SW PAN kernel's DACR writes on every kernel entry cost nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowKey {
    pub asid: u16,
    pub ttbr0: u64,
    pub ttbr1: u64,
    pub ttbcr: u32,
    pub sctlr: u32,
    pub dacr: u32,
}

impl WindowKey {
    pub fn from_context(ctx: &abi::hspt_arm_context) -> Self {
        let process = crate::stats::ProcessKey::from_context(ctx);
        WindowKey {
            asid: process.asid,
            ttbr0: ctx.ttbr0,
            ttbr1: ctx.ttbr1,
            ttbcr: ctx.ttbcr,
            sctlr: ctx.sctlr,
            dacr: ctx.dacr,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: Option<WindowKey>,
    last_used: u64,
    mapped: u32,
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
    pub rmap_overflows: u64,
    /// Window faults handled, and the time spent in the handler on them
    /// (signal delivery and return not included). Filled by the engine.
    pub faults: u64,
    pub fault_ns: u64,
}

pub struct Pool {
    base: usize,
    slots: [Slot; 256],
    nslots: usize,
    /// Per window, per page: 0, or ((ram page + 1) << 1) | writable.
    fwd: *mut u32,
    /// Per RAM page: RMAP_WAYS entries of (slot << 20 | vpage) + 1, or 0.
    rmap: *mut [u32; RMAP_WAYS],
    clock: u64,
    /// Slots that ever held a window (bit per slot), for the report.
    ever_used: [u64; 4],
    /// Pages mapped in all windows; each costs at most 2 VMAs.
    mapped_total: usize,
    max_mapped: usize,
    stats: PoolStats,
}

fn anon_reserve(len: usize) -> Result<usize, String> {
    // SAFETY: a fresh private anonymous reservation; no existing memory is
    // touched. NORESERVE + PROT_NONE costs no memory or commit charge.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(format!(
            "hspt: cannot reserve {} GiB of host address space: {}",
            len >> 30,
            std::io::Error::last_os_error()
        ));
    }
    Ok(p as usize)
}

fn anon_table(len: usize) -> Result<usize, String> {
    // SAFETY: as above, but readable and writable: zero pages on demand.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(format!(
            "hspt: cannot allocate tables: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(p as usize)
}

fn read_number(path: &str) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

impl Pool {
    /// Reserves `nslots` windows (1..=256) and the maps. Not signal-safe.
    pub fn new(nslots: usize) -> Result<Self, String> {
        assert!((1..=256).contains(&nslots));
        let base = anon_reserve(nslots * WINDOW_SPAN)?;
        let fwd = anon_table(nslots * PAGES_PER_WINDOW * 4)? as *mut u32;
        let rmap = anon_table(RMAP_PAGES * 4 * RMAP_WAYS)? as *mut [u32; RMAP_WAYS];
        let max_map_count = read_number("/proc/sys/vm/max_map_count").unwrap_or(65530);
        let in_use = std::fs::read_to_string("/proc/self/maps")
            .map(|m| m.lines().count())
            .unwrap_or(1000);
        let budget = max_map_count.saturating_sub(in_use + VMA_RESERVE).max(64);
        Ok(Pool {
            base,
            slots: [Slot::default(); 256],
            nslots,
            fwd,
            rmap,
            clock: 0,
            ever_used: [0; 4],
            mapped_total: 0,
            max_mapped: budget / 2,
            stats: PoolStats {
                vma_budget: budget as u64,
                max_map_count: max_map_count as u64,
                ..Default::default()
            },
        })
    }

    /// Counters for the report, with the pages mapped now.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            mapped_now: self.mapped_total as u64,
            ..self.stats
        }
    }

    pub fn window_base(&self, slot: usize) -> usize {
        self.base + slot * WINDOW_SPAN
    }

    pub fn nslots(&self) -> usize {
        self.nslots
    }

    /// The window `addr` lies in and its offset there, if any.
    pub fn locate(&self, addr: usize) -> Option<(usize, usize)> {
        let off = addr.checked_sub(self.base)?;
        let slot = off / WINDOW_SPAN;
        (slot < self.nslots).then_some((slot, off % WINDOW_SPAN))
    }

    fn fwd_entry(&self, slot: usize, vpage: usize) -> *mut u32 {
        debug_assert!(slot < self.nslots && vpage < PAGES_PER_WINDOW);
        // SAFETY: in bounds of the nslots * PAGES_PER_WINDOW table.
        unsafe { self.fwd.add(slot * PAGES_PER_WINDOW + vpage) }
    }

    pub fn is_mapped(&self, slot: usize, vpage: usize) -> bool {
        // SAFETY: in-bounds entry of our own table (see fwd_entry).
        unsafe { *self.fwd_entry(slot, vpage) != 0 }
    }

    /// The window of `key`, made current; a free or the least recently
    /// used window is given to it if it has none. Returns the slot and,
    /// if another context lost its window, that context and how many
    /// pages it had mapped.
    pub fn slot_for(&mut self, key: WindowKey) -> (usize, Option<(WindowKey, u32)>) {
        self.clock += 1;
        let clock = self.clock;
        if let Some(i) = (0..self.nslots).find(|&i| self.slots[i].key == Some(key)) {
            self.slots[i].last_used = clock;
            return (i, None);
        }
        let victim = (0..self.nslots)
            .min_by_key(|&i| (self.slots[i].key.is_some(), self.slots[i].last_used))
            .unwrap_or(0);
        let lost = self.slots[victim]
            .key
            .map(|k| (k, self.slots[victim].mapped));
        if lost.is_some() {
            self.stats.evictions += 1;
            self.reset(victim);
        }
        if self.ever_used[victim / 64] & (1 << (victim % 64)) == 0 {
            self.ever_used[victim / 64] |= 1 << (victim % 64);
            self.stats.windows_used += 1;
        }
        self.slots[victim] = Slot {
            key: Some(key),
            last_used: clock,
            mapped: 0,
        };
        (victim, lost)
    }

    /// Gives up the window of `key`, if it has one (its mappings go).
    pub fn release(&mut self, key: &WindowKey) {
        if let Some(i) = (0..self.nslots).find(|&i| self.slots[i].key.as_ref() == Some(key)) {
            self.reset(i);
            self.slots[i] = Slot::default();
        }
    }

    /// Turns `len` bytes at `addr`, inside one of our windows, back into
    /// unbacked PROT_NONE reservation (which merges with its neighbours).
    fn protnone(&self, addr: usize, len: usize) {
        debug_assert!(addr >= self.base && addr + len <= self.base + self.nslots * WINDOW_SPAN);
        // SAFETY: the range lies in our own reservation (asserted above in
        // debug builds; callers compute it from a slot and page index).
        unsafe {
            libc::mmap(
                addr as *mut libc::c_void,
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            );
        }
    }

    /// Drops every mapping of a window (one mmap over the whole window).
    pub fn reset(&mut self, slot: usize) {
        if self.slots[slot].mapped == 0 {
            return;
        }
        self.protnone(self.window_base(slot), WINDOW_SIZE);
        // SAFETY: zeroes the forward map rows of this window (our table).
        unsafe {
            libc::madvise(
                self.fwd_entry(slot, 0) as *mut libc::c_void,
                PAGES_PER_WINDOW * 4,
                libc::MADV_DONTNEED,
            );
        }
        self.mapped_total -= self.slots[slot].mapped as usize;
        self.slots[slot].mapped = 0;
        self.stats.resets += 1;
    }

    /// Windows whose key satisfies `pred` lose all mappings; `lost` hears
    /// of each (key, pages it had). Returns how many were reset.
    pub fn reset_where(
        &mut self,
        pred: impl Fn(&WindowKey) -> bool,
        mut lost: impl FnMut(WindowKey, u32),
    ) -> u64 {
        let mut n = 0;
        for i in 0..self.nslots {
            let slot = self.slots[i];
            if let Some(key) = slot.key.filter(|k| slot.mapped > 0 && pred(k)) {
                self.reset(i);
                lost(key, slot.mapped);
                n += 1;
            }
        }
        n
    }

    pub fn reset_all(&mut self, lost: impl FnMut(WindowKey, u32)) -> u64 {
        self.reset_where(|_| true, lost)
    }

    /// Unmaps one guest page in every window that has it; returns how many.
    pub fn unmap_page_everywhere(&mut self, vaddr: u32) -> u64 {
        let vpage = vaddr as usize / PAGE;
        let mut n = 0;
        for i in 0..self.nslots {
            if self.slots[i].mapped > 0 && self.is_mapped(i, vpage) {
                self.unmap(i, vpage);
                n += 1;
            }
        }
        n
    }

    fn unmap(&mut self, slot: usize, vpage: usize) {
        self.protnone(self.window_base(slot) + vpage * PAGE, PAGE);
        // SAFETY: in-bounds entry of our own table.
        unsafe { *self.fwd_entry(slot, vpage) = 0 };
        self.slots[slot].mapped -= 1;
        self.mapped_total -= 1;
    }

    /// Whether mapping one more page stays within the VMA budget; if not,
    /// frees room by resetting the least recently used other window, or
    /// `current` itself when it holds (nearly) everything. Returns the
    /// context that lost its mappings, and how many.
    pub fn make_room(&mut self, current: usize) -> Option<(WindowKey, u32)> {
        if self.mapped_total < self.max_mapped {
            return None;
        }
        let victim = (0..self.nslots)
            .filter(|&i| i != current && self.slots[i].mapped > 0)
            .min_by_key(|&i| self.slots[i].last_used)
            .unwrap_or(current);
        self.stats.budget_evictions += 1;
        let lost = self.slots[victim]
            .key
            .map(|k| (k, self.slots[victim].mapped));
        self.reset(victim);
        lost
    }

    /// Maps `pages` guest pages from `vpage` on, with one mmap, to the run
    /// of RAM that starts with `fill` (contiguous in the file and in
    /// ram_addr_t; one protection for all).
    pub fn map_run(
        &mut self,
        slot: usize,
        vpage: usize,
        pages: usize,
        fill: &abi::hspt_fill,
    ) -> Result<(), i32> {
        debug_assert!(pages >= 1 && vpage + pages <= PAGES_PER_WINDOW);
        let first_ram_page = (fill.ram_addr / PAGE as u64) as usize;
        let mut writable = fill.prot & abi::HSPT_PROT_WRITE != 0;
        if first_ram_page + pages > RMAP_PAGES {
            // Not trackable for code protection: never writable.
            writable = false;
        }
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        let addr = self.window_base(slot) + vpage * PAGE;
        // SAFETY: replaces pages of our own window with the guest RAM pages
        // QEMU named (a shared mapping of its own RAM file).
        let p = unsafe {
            libc::mmap(
                addr as *mut libc::c_void,
                pages * PAGE,
                prot,
                libc::MAP_SHARED | libc::MAP_FIXED,
                fill.fd,
                fill.fd_offset as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            // SAFETY: reading errno right after the failed call.
            return Err(unsafe { *libc::__errno_location() });
        }
        for i in 0..pages {
            let ram_page = first_ram_page + i;
            let entry = self.fwd_entry(slot, vpage + i);
            // SAFETY: in-bounds entry of our own table.
            unsafe {
                if *entry == 0 {
                    self.slots[slot].mapped += 1;
                    self.mapped_total += 1;
                }
                *entry = (((ram_page as u32) + 1) << 1) | writable as u32;
            }
            if writable {
                self.rmap_add(ram_page, slot, vpage + i);
            }
        }
        self.stats.mapped_peak = self.stats.mapped_peak.max(self.mapped_total as u64);
        Ok(())
    }

    fn rmap_add(&mut self, ram_page: usize, slot: usize, vpage: usize) {
        let code = ((slot as u32) << 20 | vpage as u32) + 1;
        // SAFETY: ram_page < RMAP_PAGES, checked by the caller.
        let ways = unsafe { &mut *self.rmap.add(ram_page) };
        if ways.contains(&code) {
            return;
        }
        // Reuse an empty way or one that no longer maps this page writable.
        for w in ways.iter_mut() {
            if *w == 0 || !self.rmap_live(*w, ram_page) {
                *w = code;
                return;
            }
        }
        // Full: forget the oldest; protect_code() falls back to a reset.
        self.stats.rmap_overflows += 1;
        ways.rotate_right(1);
        ways[0] = code;
        ways[RMAP_WAYS - 1] |= 0x8000_0000;
    }

    fn rmap_live(&self, code: u32, ram_page: usize) -> bool {
        let code = (code & 0x7fff_ffff) - 1;
        let (slot, vpage) = ((code >> 20) as usize, (code & 0xf_ffff) as usize);
        // SAFETY: slot/vpage were recorded from valid indices.
        slot < self.nslots
            && unsafe { *self.fwd_entry(slot, vpage) } == ((ram_page as u32 + 1) << 1) | 1
    }

    /// No window may write RAM page `ram_addr` any more (translated code
    /// is being made from it). Returns the number of mappings downgraded.
    pub fn protect_code(&mut self, ram_addr: u64) -> u64 {
        let ram_page = (ram_addr / PAGE as u64) as usize;
        if ram_page >= RMAP_PAGES || self.mapped_total == 0 {
            return 0;
        }
        // SAFETY: ram_page < RMAP_PAGES.
        let ways = unsafe { *self.rmap.add(ram_page) };
        if ways[RMAP_WAYS - 1] & 0x8000_0000 != 0 {
            // Some writable mapping may have been forgotten: drop them all.
            // SAFETY: as above.
            unsafe { *self.rmap.add(ram_page) = [0; RMAP_WAYS] };
            return self.reset_all(|_, _| {});
        }
        let mut n = 0;
        for w in ways {
            if w == 0 || !self.rmap_live(w, ram_page) {
                continue;
            }
            let code = w - 1;
            let (slot, vpage) = ((code >> 20) as usize, (code & 0xf_ffff) as usize);
            let addr = self.window_base(slot) + vpage * PAGE;
            // SAFETY: downgrades one page of our own window to read-only.
            unsafe {
                libc::mprotect(addr as *mut libc::c_void, PAGE, libc::PROT_READ);
                *self.fwd_entry(slot, vpage) &= !1;
            }
            n += 1;
        }
        // SAFETY: as above.
        unsafe { *self.rmap.add(ram_page) = [0; RMAP_WAYS] };
        n
    }
}
