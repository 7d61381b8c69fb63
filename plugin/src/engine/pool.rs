//! The window pool: `slots` windows of 4 GiB of host address space, each
//! the shadow of one guest translation context (GDVAS), with LRU
//! replacement; the forward map (window page -> RAM page) and reverse map
//! (RAM page -> writable window pages) that keep invariants 1, 3 and 4 of
//! the design; and the VMA budget.
//!
//! Two rules keep the windows honest:
//! - the forward map is exact: an entry says a page is mapped (and with
//!   which RAM page and protection) if and only if it is. Every call that
//!   changes a window is checked; one that fails makes the pool reset the
//!   whole window (one `mmap` over it), and if even that fails the process
//!   stops (see [`die`]) rather than run on with a stale mapping;
//! - a window page is writable only while the reverse map records it, so
//!   [`Pool::protect_code`] finds every writable mapping of a RAM page. A
//!   RAM page whose reverse-map ways are all taken by live writable
//!   mappings gets one of them downgraded to read-only before a new one is
//!   made; RAM pages beyond the reverse map's range are never writable.
//!
//! Everything here runs on the vCPU thread, in hooks or in the SIGSEGV
//! handler: no allocation after [`Pool::new`], no locks. Memory is only
//! changed with `mmap`/`mprotect`/`madvise`, which are async-signal-safe.

use std::ffi::c_int;
use std::sync::atomic::{AtomicU32, Ordering};

use hspt_shim as abi;

/// Guest virtual address space of a 32-bit guest.
pub const WINDOW_SIZE: usize = 1 << 32;
/// A window plus a PROT_NONE guard, so an access that crosses the top of
/// the 4 GiB space faults in its own window (and goes to the softmmu).
pub const WINDOW_SPAN: usize = WINDOW_SIZE + (2 << 20);
pub const PAGE: usize = 4096;
const PAGE_SHIFT: u32 = 12;
const PAGES_PER_WINDOW: usize = WINDOW_SIZE / PAGE;
/// Windows a pool can have: 256 for user address spaces and the kernel's.
pub const MAX_SLOTS: usize = 257;
/// RAM pages (ram_addr_t >> 12) the reverse map covers: 16 GiB.
const RMAP_PAGES: u64 = 1 << 22;
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
/// of the listed ones. 64 rather than 256: churn and zygote 5% faster,
/// boot and pipeline the same (docs/DESIGN.md, "The kernel window").
const KERNEL_LISTED_PAGES: usize = 64;
/// Page lists of evicted windows kept for [`Pool::restore`] (LRU).
const GHOSTS: usize = 64;
/// An evicted window's list is kept only if it has this many pages: a
/// context that mapped less refaults it cheaply.
const GHOST_MIN_PAGES: u32 = 16;
/// A large-page region of more pages than this (64 MiB) is dropped by
/// resetting its window: cheaper than scanning its forward-map rows.
/// log2 of a section, the guest mapping the kernel window tracks whole.
const SECTION_SHIFT: u32 = 20;
const PAGES_PER_SECTION: usize = 1 << (SECTION_SHIFT - PAGE_SHIFT);

/// A section the kernel window maps pages of: every one of them is mapped
/// from the RAM run that starts at `ram` (a page of another run of the
/// same guest address makes the others go first), and any may be
/// writable if `writable`. Default: none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct KernelSection {
    ram: Option<RamPage>,
    writable: bool,
}

/// A bit per MiB of a 4 GiB window.
const LARGE_MIB_WORDS: usize = (WINDOW_SIZE >> 20) / 64;
type LargeMibs = [u64; LARGE_MIB_WORDS];
/// Guest mappings larger than this (2^24, a supersection) are unmapped
/// by resetting their window: their block would be too long to scan.
const MAX_SCANNED_LG_PAGE_SIZE: u32 = 24;
/// Exit status when a window could keep a stale mapping (EX_SOFTWARE).
const EXIT_STALE_MAPPING: c_int = 70;

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
    /// The process (stats key) this window belongs to.
    pub fn process(&self) -> crate::context::ProcessKey {
        crate::context::ProcessKey {
            asid: self.asid,
            // As ProcessKey::from_context for short descriptors, the only
            // ones that get windows.
            ttbr0: self.ttbr0 & 0xffff_ff80,
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
        }
    }
}

/// A window of the pool; only the pool hands them out, so the index is
/// below its slot count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(u16);

impl Slot {
    fn new(index: usize) -> Slot {
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
pub struct GuestPage(u32);

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
    fn offset(self) -> usize {
        self.index() * PAGE
    }
}

/// A page of QEMU's RAM address space: ram_addr_t >> 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RamPage(u64);

impl RamPage {
    pub fn containing(ram_addr: u64) -> RamPage {
        RamPage(ram_addr >> PAGE_SHIFT)
    }

    /// Within the reverse map's range, so that it may be mapped writable.
    pub fn is_tracked(self) -> bool {
        self.0 < RMAP_PAGES
    }

    fn plus(self, n: usize) -> RamPage {
        RamPage(self.0 + n as u64)
    }
}

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

/// A forward-map entry: what one window page maps. All zeros is "not
/// mapped", so a fresh (or `MADV_DONTNEED`ed) table is empty.
///
/// Bits: 31 mapped, 30 writable, 23..=27 guest mapping size code
/// (lg_page_size - 12), 0..=22 RAM page, or [`RMAP_PAGES`] for a RAM page
/// beyond the reverse map's range (never writable, never looked up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
struct FwdEntry(u32);

impl FwdEntry {
    const EMPTY: FwdEntry = FwdEntry(0);
    const MAPPED: u32 = 1 << 31;
    const WRITABLE: u32 = 1 << 30;
    const SIZE_SHIFT: u32 = 23;
    const SIZE_MASK: u32 = 0x1f;
    const RAM_MASK: u32 = (1 << Self::SIZE_SHIFT) - 1;
    const RAM_UNTRACKED: u32 = RMAP_PAGES as u32;

    fn mapped(ram: RamPage, writable: bool, lg_page_size: u32) -> FwdEntry {
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

    fn is_mapped(self) -> bool {
        self.0 & Self::MAPPED != 0
    }

    fn is_writable(self) -> bool {
        self.0 & Self::WRITABLE != 0
    }

    /// The RAM page mapped, if any and within the reverse map's range.
    fn ram(self) -> Option<RamPage> {
        let bits = self.0 & Self::RAM_MASK;
        (self.is_mapped() && bits != Self::RAM_UNTRACKED).then_some(RamPage(bits as u64))
    }

    fn lg_page_size(self) -> u32 {
        PAGE_SHIFT + ((self.0 >> Self::SIZE_SHIFT) & Self::SIZE_MASK)
    }

    fn read_only(self) -> FwdEntry {
        FwdEntry(self.0 & !Self::WRITABLE)
    }

    /// This window page is a writable mapping of `ram`.
    fn maps_writable(self, ram: RamPage) -> bool {
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
struct RevEntry(u32);

impl RevEntry {
    const EMPTY: RevEntry = RevEntry(0);
    const USED: u32 = 1 << 31;
    const SLOT_SHIFT: u32 = 20;
    const PAGE_MASK: u32 = (1 << Self::SLOT_SHIFT) - 1;

    fn new(slot: Slot, page: GuestPage) -> RevEntry {
        RevEntry(Self::USED | (slot.0 as u32) << Self::SLOT_SHIFT | page.0)
    }

    fn get(self) -> Option<(Slot, GuestPage)> {
        let slot = Slot(((self.0 & !Self::USED) >> Self::SLOT_SHIFT) as u16);
        let page = GuestPage(self.0 & Self::PAGE_MASK);
        (self.0 & Self::USED != 0).then_some((slot, page))
    }
}

/// log2 of a guest mapping's size, as the forward map can hold it (a
/// fill without the field, 0, counts as a small page).
fn clamp_lg_page_size(lg_page_size: u32) -> u32 {
    lg_page_size.clamp(PAGE_SHIFT, 32)
}

/// The guest virtual addresses a window's large-page mappings may cover:
/// one aligned region per window, grown to cover each new large mapping,
/// as QEMU's softmmu does (`tlb_add_large_page()` in accel/tcg/cputlb.c).
/// An invalidation by address inside it drops the whole region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LargeRegion {
    addr: u32,
    mask: u32,
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
    fn cover(old: Option<LargeRegion>, vaddr: u32, lg_page_size: u32) -> LargeRegion {
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

    fn contains(self, vaddr: u32) -> bool {
        vaddr & self.mask == self.addr
    }
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

/// A private anonymous mapping owned by this value and unmapped when it is
/// dropped (as rust-vmm vm-memory's `MmapRegion`): the windows'
/// reservation and the maps' tables.
struct AnonRegion {
    addr: *mut u8,
    len: usize,
}

impl AnonRegion {
    /// `len` bytes with protection `prot`, with no commit charge
    /// (NORESERVE): PROT_NONE reserves address space only, readable and
    /// writable memory reads as zeros until written.
    fn new(len: usize, prot: c_int) -> std::io::Result<AnonRegion> {
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

    /// A zeroed readable and writable table of `len` bytes for one of the
    /// maps; `what` names it in the error.
    fn table(len: usize, what: &str) -> Result<AnonRegion, String> {
        AnonRegion::new(len, libc::PROT_READ | libc::PROT_WRITE)
            .map_err(|e| format!("hspt: cannot allocate the {what}: {e}"))
    }

    fn addr(&self) -> usize {
        self.addr as usize
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
        // already validated, and an error could only be ignored in Drop.
        unsafe { libc::munmap(self.addr.cast(), self.len) };
    }
}

/// The errno of the system call that just failed.
fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// The windows' address space: `nslots` spans of [`WINDOW_SPAN`] bytes,
/// PROT_NONE wherever nothing is mapped. Every change is a `MAP_FIXED` or
/// `mprotect` over pages of one window, inside the reservation.
struct Windows {
    region: AnonRegion,
    nslots: usize,
}

impl Windows {
    fn reserve(nslots: usize) -> Result<Windows, String> {
        let region = AnonRegion::new(nslots * WINDOW_SPAN, libc::PROT_NONE).map_err(|e| {
            format!(
                "hspt: cannot reserve {} GiB of host address space: {e}",
                (nslots * WINDOW_SPAN) >> 30
            )
        })?;
        Ok(Windows { region, nslots })
    }

    fn base(&self, slot: Slot) -> usize {
        assert!(slot.index() < self.nslots);
        self.region.addr() + slot.index() * WINDOW_SPAN
    }

    fn pages(&self, slot: Slot, first: GuestPage, pages: usize) -> *mut libc::c_void {
        assert!(slot.index() < self.nslots && first.index() + pages <= PAGES_PER_WINDOW);
        self.region
            .range(slot.index() * WINDOW_SPAN + first.offset(), pages * PAGE)
    }

    /// Maps `pages` pages of file `fd` from `fd_offset` at `first`.
    fn map_file(
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
    fn unmap(&self, slot: Slot, first: GuestPage, pages: usize) -> Result<(), i32> {
        let addr = self.pages(slot, first, pages);
        // SAFETY: as in `map_file`: only our own window pages are replaced,
        // by inaccessible anonymous memory.
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
    fn make_read_only(&self, slot: Slot, first: GuestPage, pages: usize) -> Result<(), i32> {
        let addr = self.pages(slot, first, pages);
        // SAFETY: changes the protection of pages of our own window, on
        // which no Rust reference exists (see `map_file`).
        if unsafe { libc::mprotect(addr, pages * PAGE, libc::PROT_READ) } != 0 {
            return Err(last_errno());
        }
        Ok(())
    }
}

/// Per window, per guest page: a [`FwdEntry`].
struct ForwardMap {
    table: AnonRegion,
    nslots: usize,
}

impl ForwardMap {
    fn new(nslots: usize) -> Result<ForwardMap, String> {
        let len = nslots * PAGES_PER_WINDOW * std::mem::size_of::<FwdEntry>();
        let table = AnonRegion::table(len, "forward map")?;
        Ok(ForwardMap { table, nslots })
    }

    fn entry(&self, slot: Slot, page: GuestPage) -> *mut FwdEntry {
        assert!(slot.index() < self.nslots);
        let index = slot.index() * PAGES_PER_WINDOW + page.index();
        // SAFETY: slot < nslots (asserted) and page < PAGES_PER_WINDOW (a
        // GuestPage invariant), so the entry lies inside the table of
        // nslots * PAGES_PER_WINDOW entries.
        unsafe { self.table.addr.cast::<FwdEntry>().add(index) }
    }

    fn get(&self, slot: Slot, page: GuestPage) -> FwdEntry {
        // SAFETY: an in-bounds, aligned entry of our readable table (see
        // `entry`); any u32 is a valid FwdEntry; no reference to it exists.
        unsafe { self.entry(slot, page).read() }
    }

    fn set(&mut self, slot: Slot, page: GuestPage, entry: FwdEntry) {
        // SAFETY: an in-bounds, aligned entry of our writable table (see
        // `entry`); `&mut self` rules out any other access to it.
        unsafe { self.entry(slot, page).write(entry) }
    }

    /// Empties a window's rows: `MADV_DONTNEED` gives the memory back and
    /// reads as zeros afterwards; should it fail, zeros are written.
    fn clear_window(&mut self, slot: Slot) {
        let rows = self.entry(slot, GuestPage(0));
        let len = PAGES_PER_WINDOW * std::mem::size_of::<FwdEntry>();
        let advised = !injected_failure()
            // SAFETY: the window's rows lie inside our private anonymous
            // table (`entry` checked slot) and start on a page boundary
            // (4 MiB per window); dropping them reads back as zeros,
            // i.e. empty entries, and no reference into them exists.
            && unsafe { libc::madvise(rows.cast(), len, libc::MADV_DONTNEED) } == 0;
        if !advised {
            // SAFETY: the same rows, writable and in bounds; all-zero
            // bytes are the empty entry.
            unsafe { std::ptr::write_bytes(rows, 0, PAGES_PER_WINDOW) };
        }
    }
}

/// Per window, the pages it mapped since its last reset, in the order they
/// were mapped, up to [`LISTED_PAGES`]: what a revalidation walks. A page
/// unmapped since stays listed until the next revalidation compacts the
/// list (the forward map says whether it is still mapped).
struct PageLists {
    table: AnonRegion,
    nslots: usize,
    /// Entries per list.
    capacity: usize,
}

impl PageLists {
    fn new(nslots: usize) -> Result<PageLists, String> {
        Self::with_capacity(nslots, LISTED_PAGES)
    }

    fn with_capacity(nslots: usize, capacity: usize) -> Result<PageLists, String> {
        let len = nslots * capacity * std::mem::size_of::<GuestPage>();
        let table = AnonRegion::table(len, "page lists")?;
        Ok(PageLists {
            table,
            nslots,
            capacity,
        })
    }

    /// The list of `slot`, all `capacity` entries (the window knows how
    /// many are used).
    fn list(&mut self, slot: Slot) -> &mut [GuestPage] {
        assert!(slot.index() < self.nslots);
        // SAFETY: slot < nslots (asserted), so the `capacity` entries from
        // slot * capacity lie inside our table of nslots * capacity,
        // which is readable, writable and aligned; any u32 is a valid
        // GuestPage index for reading (entries are only ever written from
        // GuestPages); `&mut self` makes this the only reference into the
        // table.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.table
                    .addr
                    .cast::<GuestPage>()
                    .add(slot.index() * self.capacity),
                self.capacity,
            )
        }
    }
}

/// Per RAM page within [`RMAP_PAGES`]: [`RMAP_WAYS`] [`RevEntry`]s.
struct ReverseMap {
    table: AnonRegion,
}

type Ways = [RevEntry; RMAP_WAYS];

impl ReverseMap {
    fn new() -> Result<ReverseMap, String> {
        let len = RMAP_PAGES as usize * std::mem::size_of::<Ways>();
        let table = AnonRegion::table(len, "reverse map")?;
        Ok(ReverseMap { table })
    }

    fn entry(&self, ram: RamPage) -> *mut Ways {
        assert!(ram.is_tracked());
        // SAFETY: ram < RMAP_PAGES (asserted): inside the table of
        // RMAP_PAGES rows.
        unsafe { self.table.addr.cast::<Ways>().add(ram.0 as usize) }
    }

    fn get(&self, ram: RamPage) -> Ways {
        // SAFETY: an in-bounds, aligned row of our readable table (see
        // `entry`); any u32 is a valid RevEntry; no reference to it exists.
        unsafe { self.entry(ram).read() }
    }

    fn set(&mut self, ram: RamPage, ways: Ways) {
        // SAFETY: an in-bounds, aligned row of our writable table (see
        // `entry`); `&mut self` rules out any other access to it.
        unsafe { self.entry(ram).write(ways) }
    }
}

/// Every N-th invalidation-side call fails (0: never); see
/// [`set_fail_injection`].
static FAIL_EVERY: AtomicU32 = AtomicU32::new(0);
static FAIL_CALLS: AtomicU32 = AtomicU32::new(0);

/// Testing only: from now on every `every`-th invalidation-side call (a
/// page unmap, an `mprotect` of code protection or of a reverse-map
/// downgrade, the `madvise` that clears a window's forward rows) fails as
/// if with ENOMEM, without reaching the kernel, so that the recovery paths
/// run. 0 turns it off. Window resets themselves never fail this way.
pub fn set_fail_injection(every: u32) {
    FAIL_CALLS.store(0, Ordering::Relaxed);
    FAIL_EVERY.store(every, Ordering::Relaxed);
}

/// Whether the invalidation-side call about to be made is to fail.
fn injected_failure() -> bool {
    let every = FAIL_EVERY.load(Ordering::Relaxed);
    if every == 0 {
        return false;
    }
    // Calls since the last injected failure (only the vCPU thread calls).
    let since = FAIL_CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    if since < every {
        return false;
    }
    FAIL_CALLS.store(0, Ordering::Relaxed);
    true
}

fn write_stderr(bytes: &[u8]) {
    // SAFETY: write(2) is async-signal-safe and reads only the slice.
    unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
}

/// `n` in decimal, in `buf`.
fn decimal(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
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
fn die(what: &str, errno: i32) -> ! {
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

/// The page list of an evicted window, kept under its key so that when
/// the context gets a window again the pages that still translate are
/// mapped at once (in runs), not one fault each. Only a hint: every page
/// is translated again before it is mapped.
#[derive(Debug, Clone, Copy, Default)]
struct Ghost {
    key: Option<WindowKey>,
    listed: u32,
    last_used: u64,
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

/// What a [`Pool::restore`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restoration {
    /// Pages mapped again, and the mmaps that took.
    pub pages: u64,
    pub runs: u64,
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
    /// Per window, a bit per MiB of guest addresses where a large mapping
    /// was made since the window's last reset: a by-address invalidation
    /// elsewhere has no large mapping to look for (a Linux kernel flushes
    /// its fixmap pages by the thousand at boot, far from its sections).
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
        Some(kernel_list) if kernel == Some(slot) => kernel_list.list(Slot::new(0)),
        _ => lists.list(slot),
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
        let fwd = ForwardMap::new(nslots)?;
        let rmap = ReverseMap::new()?;
        let lists = PageLists::new(nslots)?;
        let ghost_lists = PageLists::new(GHOSTS)?;
        let max_map_count = read_number("/proc/sys/vm/max_map_count").unwrap_or(65530);
        let in_use = std::fs::read_to_string("/proc/self/maps")
            .map(|m| m.lines().count())
            .unwrap_or(1000);
        let mut pool = Pool {
            windows,
            kernel: None,
            kernel_list: None,
            large_mib: vec![[0; LARGE_MIB_WORDS]; nslots].into_boxed_slice(),
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
        pool.kernel_list = Some(PageLists::with_capacity(1, KERNEL_LISTED_PAGES)?);
        pool.kernel_sections = vec![KernelSection::default(); WINDOW_SIZE >> SECTION_SHIFT].into();
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
        self.windows.nslots
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
        let off = addr.checked_sub(self.windows.region.addr())?;
        let slot = off / WINDOW_SPAN;
        (slot < self.nslots()).then(|| (Slot::new(slot), off % WINDOW_SPAN))
    }

    pub fn is_mapped(&self, slot: Slot, page: GuestPage) -> bool {
        self.fwd.get(slot, page).is_mapped()
    }

    /// Whether a store to `page` would go through without faulting.
    pub fn is_writable(&self, slot: Slot, page: GuestPage) -> bool {
        self.fwd.get(slot, page).is_writable()
    }

    /// The host address range of all windows and their guards: a fault
    /// outside it is none of the engine's business.
    pub fn address_range(&self) -> std::ops::Range<usize> {
        let start = self.windows.region.addr();
        start..start + self.nslots() * WINDOW_SPAN
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
            .unwrap_or(Slot(0));
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
        let ghost = self
            .ghosts
            .iter()
            .position(|g| g.key == Some(key))
            .map(|g| g as u8);
        *self.window(victim) = Window {
            key: Some(key),
            last_used: clock,
            ghost,
            ..Window::default()
        };
        (victim, lost)
    }

    /// Before `slot`, the window of `key`, is evicted: keeps its page list
    /// (the pages still mapped) in the ghost of `key`, an unused one or the
    /// least recently used. Not for a list that overflowed (it does not
    /// name every page) or a short one.
    fn keep_ghost(&mut self, slot: Slot, key: WindowKey) {
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
        let from = &self.lists.list(slot)[..n];
        self.ghost_lists.list(Slot::new(g))[..n].copy_from_slice(from);
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
            let next = (i < listed).then(|| self.ghost_lists.list(Slot::new(g))[i]);
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
        let everything = GuestPage(0);
        if let Err(errno) = self.windows.unmap(slot, everything, PAGES_PER_WINDOW) {
            die("resetting a window (mmap PROT_NONE over 4 GiB)", errno);
        }
        self.fwd.clear_window(slot);
        let window = self.window(slot);
        let lost = std::mem::take(&mut window.mapped) as usize;
        window.large = None;
        window.large_sizes = 0;
        window.listed = 0;
        window.list_overflowed = false;
        window.stale = false;
        window.ghost = None;
        self.large_mib[slot.index()] = [0; LARGE_MIB_WORDS];
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
            if self.fwd.get(slot, page).is_mapped() {
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
            if (kept == 0 || list[kept - 1] != page) && self.fwd.get(slot, page).is_mapped() {
                list[kept] = page;
                kept += 1;
            }
        }
        self.window(slot).listed = kept as u32;
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

    /// Pages the window maps now.
    pub fn mapped_pages(&self, slot: Slot) -> u32 {
        self.slots[slot.index()].mapped
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
            let entry = self.fwd.get(slot, page);
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
            let entry = self.fwd.get(slot, page);
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
    fn unmap_block_of_size(&mut self, slot: Slot, page: GuestPage, lg: u32) -> u64 {
        let pages = 1usize << (lg - PAGE_SHIFT);
        let first = GuestPage::from_index(page.index() & !(pages - 1));
        let mibs = &self.large_mib[slot.index()];
        let first_mib = first.vaddr() >> 20;
        let last_mib = first.plus(pages - 1).vaddr() >> 20;
        if !(first_mib..=last_mib).any(|mib| mibs[mib as usize / 64] & (1 << (mib % 64)) != 0) {
            return 0;
        }
        if self.is_kernel_section(slot, lg) {
            self.kernel_sections[(first.vaddr() >> SECTION_SHIFT) as usize] =
                KernelSection::default();
        }
        let mut n = 0;
        let mut run: Option<(GuestPage, usize)> = None;
        for i in 0..pages {
            let p = first.plus(i);
            let entry = self.fwd.get(slot, p);
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
    fn unmap_range(&mut self, slot: Slot, first: GuestPage, pages: usize) -> u64 {
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
            if self.fwd.get(slot, page).is_mapped() {
                self.fwd.set(slot, page, FwdEntry::EMPTY);
                n += 1;
            }
        }
        self.window(slot).mapped -= n as u32;
        self.mapped_total -= n;
        n as u64
    }

    /// Makes a mapped page read-only, or failing that drops its window.
    fn downgrade(&mut self, slot: Slot, page: GuestPage) {
        debug_assert!(self.fwd.get(slot, page).is_writable());
        self.downgrade_range(slot, page, 1);
    }

    /// Makes `pages` mapped pages from `first` read-only with one call, or
    /// failing that drops the window.
    fn downgrade_range(&mut self, slot: Slot, first: GuestPage, pages: usize) {
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
            let entry = self.fwd.get(slot, page);
            self.fwd.set(slot, page, entry.read_only());
        }
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
            self.note_kernel_section(first, first_ram, writable_pages > 0);
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
            if !self.fwd.get(slot, page).is_mapped() {
                self.window(slot).mapped += 1;
                self.mapped_total += 1;
                if !self.is_kernel_section(slot, source.lg_page_size) {
                    self.list_page(slot, page);
                }
            }
            let entry = FwdEntry::mapped(source.ram.plus(i), writable, source.lg_page_size);
            self.fwd.set(slot, page, entry);
        }
        if clamp_lg_page_size(source.lg_page_size) > PAGE_SHIFT {
            // The run lies in one aligned block of large mappings, so
            // covering its ends covers it all.
            let window = self.window(slot);
            let region = LargeRegion::cover(window.large, first.vaddr(), source.lg_page_size);
            let last = first.plus(pages - 1).vaddr();
            window.large = Some(LargeRegion::cover(Some(region), last, source.lg_page_size));
            window.large_sizes |= 1 << clamp_lg_page_size(source.lg_page_size);
            let mibs = &mut self.large_mib[slot.index()];
            for mib in (first.vaddr() >> 20)..=(last >> 20) {
                mibs[mib as usize / 64] |= 1 << (mib % 64);
            }
        }
        Ok(())
    }

    /// Pages of sections in the kernel window are tracked by section.
    fn is_kernel_section(&self, slot: Slot, lg_page_size: u32) -> bool {
        self.kernel == Some(slot) && clamp_lg_page_size(lg_page_size) == SECTION_SHIFT
    }

    /// Pages from `first` of a section are about to be mapped in the
    /// kernel window from RAM at `first_ram`: if its other pages came from
    /// another run (an older descriptor, still legal to use until the
    /// guest's TLB maintenance), they go, so that one RAM run describes
    /// the section.
    fn note_kernel_section(&mut self, first: GuestPage, first_ram: RamPage, writable: bool) {
        let Some(kernel) = self.kernel else {
            return;
        };
        let index = first.vaddr() >> SECTION_SHIFT;
        let offset = (first.index() % PAGES_PER_SECTION) as u64;
        let ram = first_ram.0.checked_sub(offset).map(RamPage);
        let known = self.kernel_sections[index as usize];
        if known.ram.is_some() && known.ram != ram {
            self.unmap_block_of_size(kernel, first, SECTION_SHIFT);
        }
        let section = &mut self.kernel_sections[index as usize];
        section.writable = (section.ram == ram && section.writable) || writable;
        section.ram = ram;
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
            let now = current(first)
                .filter(|t| clamp_lg_page_size(t.lg_page_size) == SECTION_SHIFT && t.ram == ram);
            match now {
                Some(t) => {
                    kept += 1;
                    if section.writable && !t.writable {
                        self.downgrade_block(kernel, first, PAGES_PER_SECTION);
                        self.kernel_sections[index].writable = false;
                    }
                }
                None => {
                    self.unmap_block_of_size(kernel, first, SECTION_SHIFT);
                }
            }
        }
        kept
    }

    /// Makes every writable page of `pages` from `first` read-only.
    fn downgrade_block(&mut self, slot: Slot, first: GuestPage, pages: usize) {
        for i in 0..pages {
            let page = first.plus(i);
            if self.fwd.get(slot, page).is_writable() {
                self.downgrade(slot, page);
            }
        }
    }

    /// Whether reverse-map way `way` of `ram` names a live writable mapping.
    fn is_live(&self, way: RevEntry, ram: RamPage) -> bool {
        way.get().is_some_and(|(slot, page)| {
            slot.index() < self.nslots() && self.fwd.get(slot, page).maps_writable(ram)
        })
    }

    /// Records that window page (`slot`, `page`) is to be a writable
    /// mapping of `ram`, in a free way, a dead one, or, when every way
    /// holds a live writable mapping, the way of one made read-only first:
    /// no writable mapping can be forgotten.
    fn rmap_record(&mut self, ram: RamPage, slot: Slot, page: GuestPage) {
        let new = RevEntry::new(slot, page);
        let mut ways = self.rmap.get(ram);
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
        self.rmap.set(ram, ways);
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
        for way in self.rmap.get(ram) {
            // Checked one by one: a failed downgrade resets a window,
            // which kills the other ways into it.
            if let Some((slot, page)) = way.get().filter(|_| self.is_live(way, ram)) {
                self.downgrade(slot, page);
                n += 1;
            }
        }
        self.rmap.set(ram, [RevEntry::EMPTY; RMAP_WAYS]);
        n
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::sync::{Mutex, MutexGuard};

    /// Tests share the failure injection, a process-wide setting: one at a
    /// time.
    static SERIAL: Mutex<()> = Mutex::new(());

    pub(in crate::engine) fn serial() -> MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Failure injection for the life of the value (off again even when
    /// an assertion fails).
    struct FailEvery;

    impl FailEvery {
        fn new(every: u32) -> FailEvery {
            set_fail_injection(every);
            FailEvery
        }
    }

    impl Drop for FailEvery {
        fn drop(&mut self) {
            set_fail_injection(0);
        }
    }

    const RAM_PAGES: usize = 64;

    /// What every word of RAM page `page` holds in [`guest_ram`].
    fn pattern(page: usize) -> u32 {
        0xc0de_0000 | page as u32
    }

    /// A real memfd of RAM_PAGES pages, page i filled with pattern(i).
    pub(in crate::engine) fn guest_ram() -> OwnedFd {
        // SAFETY: a NUL-terminated name and no flags; the result is checked.
        let fd = unsafe { libc::memfd_create(c"hspt-pool-test".as_ptr(), 0) };
        assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
        // SAFETY: a fresh descriptor that nothing else owns.
        let mut file =
            std::fs::File::from(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
        for page in 0..RAM_PAGES {
            let words: Vec<u8> = (0..PAGE / 4)
                .flat_map(|_| pattern(page).to_ne_bytes())
                .collect();
            file.write_all(&words).unwrap();
        }
        file.into()
    }

    /// A fill for RAM page `ram_page` (file offset and ram_addr alike).
    pub(in crate::engine) fn fill(
        ram: &OwnedFd,
        ram_page: usize,
        writable: bool,
        lg_page_size: u32,
    ) -> abi::hspt_fill {
        abi::hspt_fill {
            fd: ram.as_raw_fd(),
            prot: abi::HSPT_PROT_READ | if writable { abi::HSPT_PROT_WRITE } else { 0 },
            fd_offset: (ram_page * PAGE) as u64,
            ram_addr: (ram_page * PAGE) as u64,
            lg_page_size,
            ..Default::default()
        }
    }

    pub(in crate::engine) fn key(asid: u16) -> WindowKey {
        WindowKey {
            asid,
            ..Default::default()
        }
    }

    fn page(index: usize) -> GuestPage {
        GuestPage::from_index(index)
    }

    fn addr(pool: &Pool, slot: Slot, index: usize) -> usize {
        pool.window_base(slot) + index * PAGE
    }

    /// The VMA holding `addr` in /proc/self/maps: start, end, permissions
    /// ("rw-s", "r--s", "---p", ...). Touching a PROT_NONE page would kill
    /// the test, so protections are checked here.
    fn vma(addr: usize) -> (usize, usize, String) {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        for line in maps.lines() {
            let mut fields = line.split_whitespace();
            let (range, perms) = (fields.next().unwrap(), fields.next().unwrap());
            let (start, end) = range.split_once('-').unwrap();
            let start = usize::from_str_radix(start, 16).unwrap();
            let end = usize::from_str_radix(end, 16).unwrap();
            if (start..end).contains(&addr) {
                return (start, end, perms.to_string());
            }
        }
        panic!("{addr:#x} is not mapped at all: a hole in the reservation");
    }

    fn perms(addr: usize) -> String {
        vma(addr).2
    }

    fn read_word(addr: usize) -> u32 {
        assert!(perms(addr).starts_with('r'), "{addr:#x} is not readable");
        // SAFETY: readable per /proc/self/maps just above; a memfd page that
        // only this test (holding SERIAL) maps or unmaps.
        unsafe { (addr as *const u32).read_volatile() }
    }

    fn write_word(addr: usize, value: u32) {
        assert!(perms(addr).starts_with("rw"), "{addr:#x} is not writable");
        // SAFETY: writable per /proc/self/maps just above; as in read_word.
        unsafe { (addr as *mut u32).write_volatile(value) }
    }

    #[test]
    fn entries_encode_and_decode() {
        let e = FwdEntry::mapped(RamPage((1 << 22) - 1), true, 20);
        assert!(e.is_mapped() && e.is_writable());
        assert_eq!(e.ram(), Some(RamPage((1 << 22) - 1)));
        assert_eq!(e.lg_page_size(), 20);
        assert!(e.maps_writable(RamPage((1 << 22) - 1)));
        assert!(!e.read_only().is_writable() && e.read_only().is_mapped());
        let far = FwdEntry::mapped(RamPage(1 << 30), false, 12);
        assert!(far.is_mapped() && far.ram().is_none() && far.lg_page_size() == 12);
        assert_eq!(FwdEntry::mapped(RamPage(0), false, 0).lg_page_size(), 12);
        assert!(!FwdEntry::EMPTY.is_mapped() && FwdEntry::EMPTY.ram().is_none());

        let r = RevEntry::new(Slot(256), GuestPage::from_index(PAGES_PER_WINDOW - 1));
        assert_eq!(r.get(), Some((Slot(256), GuestPage(0xf_ffff))));
        assert_eq!(
            RevEntry::new(Slot(0), GuestPage(0)).get(),
            Some((Slot(0), GuestPage(0)))
        );
        assert_eq!(RevEntry::EMPTY.get(), None);
    }

    #[test]
    fn large_region_grows_like_qemus() {
        let r = LargeRegion::cover(None, 0x0012_3000, 20);
        assert_eq!((r.addr, r.mask), (0x0010_0000, 0xfff0_0000));
        assert!(r.contains(0x001f_ffff) && !r.contains(0x0020_0000));
        let r = LargeRegion::cover(Some(r), 0x0030_0000, 16);
        assert_eq!((r.addr, r.mask), (0, 0xffc0_0000));
        assert!(r.contains(0x0030_0000) && r.contains(0x0010_0000));
        let r = LargeRegion::cover(Some(r), 0xffff_0000, 16);
        assert_eq!((r.addr, r.mask), (0, 0));
        assert!(r.contains(0x8000_0000));
    }

    #[test]
    fn maps_a_page_and_reads_it_through_the_window() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(2).unwrap();
        let (slot, lost) = pool.slot_for(key(1));
        assert!(lost.is_none());
        pool.map_run(slot, page(0x400), 1, &fill(&ram, 7, false, 12))
            .unwrap();
        assert!(pool.is_mapped(slot, page(0x400)));
        assert!(!pool.is_mapped(slot, page(0x401)));
        assert_eq!(perms(addr(&pool, slot, 0x400)), "r--s");
        assert_eq!(read_word(addr(&pool, slot, 0x400) + 8), pattern(7));
        assert_eq!(perms(addr(&pool, slot, 0x401)), "---p");
        assert_eq!(
            pool.locate(addr(&pool, slot, 0x400) + 4),
            Some((slot, 0x400 * PAGE + 4))
        );
        assert_eq!(pool.stats().mapped_now, 1);

        // Writable: a store lands in the guest RAM file.
        let (other, _) = pool.slot_for(key(2));
        pool.map_run(other, page(0x10), 1, &fill(&ram, 8, true, 12))
            .unwrap();
        write_word(addr(&pool, other, 0x10), 0x1234_5678);
        let mut word = [0u8; 4];
        // SAFETY: reads 4 bytes into our buffer from our own memfd.
        let n = unsafe {
            libc::pread(
                ram.as_raw_fd(),
                word.as_mut_ptr().cast(),
                4,
                8 * PAGE as i64,
            )
        };
        assert_eq!((n, u32::from_ne_bytes(word)), (4, 0x1234_5678));
    }

    #[test]
    fn maps_a_run_with_one_call() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(1).unwrap();
        let (slot, _) = pool.slot_for(key(1));
        pool.map_run(slot, page(0x100), 5, &fill(&ram, 10, true, 12))
            .unwrap();
        for i in 0..5 {
            assert!(pool.is_mapped(slot, page(0x100 + i)));
            assert_eq!(read_word(addr(&pool, slot, 0x100 + i)), pattern(10 + i));
        }
        // One mmap: one VMA for the whole run.
        let (start, end, prot) = vma(addr(&pool, slot, 0x100));
        assert_eq!(
            (start, end, prot.as_str()),
            (addr(&pool, slot, 0x100), addr(&pool, slot, 0x105), "rw-s")
        );
        assert!(!pool.is_mapped(slot, page(0x105)) && !pool.is_mapped(slot, page(0xff)));
        assert_eq!(pool.stats().mapped_now, 5);
        assert_eq!(pool.stats().mapped_peak, 5);
    }

    #[test]
    fn unmap_clears_the_page_and_its_forward_entry() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(2).unwrap();
        let (a, _) = pool.slot_for(key(1));
        let (b, _) = pool.slot_for(key(2));
        pool.map_run(a, page(0x200), 3, &fill(&ram, 1, true, 12))
            .unwrap();
        pool.map_run(b, page(0x201), 1, &fill(&ram, 5, false, 12))
            .unwrap();
        assert_eq!(pool.unmap_page_everywhere(0x0020_1abc), 2);
        for (slot, index) in [(a, 0x201), (b, 0x201)] {
            assert!(!pool.is_mapped(slot, page(index)));
            assert_eq!(perms(addr(&pool, slot, index)), "---p");
        }
        assert_eq!(read_word(addr(&pool, a, 0x200)), pattern(1));
        assert_eq!(read_word(addr(&pool, a, 0x202)), pattern(3));
        assert_eq!(pool.stats().mapped_now, 2);
        // Nothing left to unmap there.
        assert_eq!(pool.unmap_page_everywhere(0x0020_1000), 0);
    }

    /// What a revalidation's guest tables say: page index -> (RAM page,
    /// writable, lg_page_size).
    fn tables(
        entries: &[(usize, usize, bool, u32)],
    ) -> impl Fn(GuestPage) -> Option<Translation> + '_ {
        move |p| {
            entries
                .iter()
                .find(|e| e.0 == p.index())
                .map(|&(_, ram, writable, lg_page_size)| Translation {
                    ram: RamPage(ram as u64),
                    writable,
                    lg_page_size,
                })
        }
    }

    #[test]
    fn an_evicted_windows_pages_that_still_translate_come_back_in_runs() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(1).unwrap();
        pool.set_keep_evicted(true);
        let (a, _) = pool.slot_for(key(1));
        // 0x10..0x20 writable RAM 0..16, 0x40..0x44 read-only RAM 20..24.
        pool.map_run(a, page(0x10), 16, &fill(&ram, 0, true, 12))
            .unwrap();
        pool.map_run(a, page(0x40), 4, &fill(&ram, 20, false, 12))
            .unwrap();
        let (b, lost) = pool.slot_for(key(2));
        assert_eq!(lost, Some((key(1), 20)), "one window: evicted");
        assert!(!pool.has_ghost(b) && !pool.is_mapped(b, page(0x10)));
        let (a, _) = pool.slot_for(key(1));
        assert!(pool.has_ghost(a) && !pool.is_mapped(a, page(0x10)));
        let now = |p: GuestPage| -> Option<abi::hspt_fill> {
            match p.index() {
                0x18 => Some(fill(&ram, 30, true, 12)),  // another RAM page
                0x1a => Some(fill(&ram, 10, false, 12)), // now read-only
                v @ 0x10..0x20 => Some(fill(&ram, v - 0x10, true, 12)),
                0x42 => None, // no translation any more
                v @ 0x40..0x44 => Some(fill(&ram, v - 0x40 + 20, false, 12)),
                _ => panic!("page {p:?} was never mapped"),
            }
        };
        let done = pool.restore(a, now);
        // Runs: 0x10-0x17, 0x18, 0x19, 0x1a, 0x1b-0x1f, 0x40-0x41, 0x43.
        assert_eq!(done, Restoration { pages: 19, runs: 7 });
        assert!(!pool.has_ghost(a));
        for v in (0x10..0x20).chain([0x40, 0x41, 0x43]) {
            assert!(pool.is_mapped(a, page(v)), "page {v:#x}");
        }
        assert_eq!(read_word(addr(&pool, a, 0x17)), pattern(7));
        assert_eq!(read_word(addr(&pool, a, 0x18)), pattern(30));
        assert_eq!(read_word(addr(&pool, a, 0x19)), pattern(9));
        assert_eq!(perms(addr(&pool, a, 0x19)), "rw-s");
        assert_eq!(perms(addr(&pool, a, 0x1a)), "r--s");
        assert_eq!(read_word(addr(&pool, a, 0x43)), pattern(23));
        assert_eq!(perms(addr(&pool, a, 0x42)), "---p");
        // The list was used up: the next new window starts empty.
        pool.slot_for(key(2));
        let (a, _) = pool.slot_for(key(1));
        assert!(pool.has_ghost(a), "evicted again with 19 pages: kept again");
        assert_eq!(pool.restore(a, |_| None), Restoration::default());
        assert!(!pool.is_mapped(a, page(0x10)));
    }

    #[test]
    fn short_overflowed_or_unwanted_lists_are_not_kept() {
        let _serial = serial();
        let ram = guest_ram();
        for (keep, pages) in [(false, 64), (true, GHOST_MIN_PAGES as usize - 1)] {
            let mut pool = Pool::new(1).unwrap();
            pool.set_keep_evicted(keep);
            let (a, _) = pool.slot_for(key(1));
            pool.map_run(a, page(0x10), pages, &fill(&ram, 0, false, 12))
                .unwrap();
            pool.slot_for(key(2));
            let (a, _) = pool.slot_for(key(1));
            assert!(!pool.has_ghost(a), "keep {keep}, {pages} pages");
        }
        let mut pool = Pool::new(1).unwrap();
        pool.set_keep_evicted(true);
        let (a, _) = pool.slot_for(key(1));
        for i in 0..=LISTED_PAGES {
            pool.map_run(a, page(0x100 + i), 1, &fill(&ram, i % 64, false, 12))
                .unwrap();
        }
        pool.slot_for(key(2));
        let (a, _) = pool.slot_for(key(1));
        assert!(
            !pool.has_ghost(a),
            "a list that overflowed names too little"
        );
    }

    #[test]
    fn revalidation_keeps_only_unchanged_translations() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(2).unwrap();
        let (a, _) = pool.slot_for(key(1));
        let (b, _) = pool.slot_for(key(2));
        // 0x10..0x14 writable RAM 0..4, 0x20 read-only RAM 7, 0x30 RAM 9.
        pool.map_run(a, page(0x10), 4, &fill(&ram, 0, true, 12))
            .unwrap();
        pool.map_run(a, page(0x20), 1, &fill(&ram, 7, false, 12))
            .unwrap();
        pool.map_run(a, page(0x30), 1, &fill(&ram, 9, true, 12))
            .unwrap();
        pool.map_run(b, page(0x10), 1, &fill(&ram, 0, true, 12))
            .unwrap();
        assert_eq!(pool.mark_stale_where(|k| k.asid == 1, |_, _| ()), (1, 0));
        assert!(pool.is_stale(a) && !pool.is_stale(b));
        // Still mapped while stale: only user code, after revalidation,
        // may use the window.
        assert!(pool.is_mapped(a, page(0x10)));
        let now = tables(&[
            (0x10, 0, true, 12),  // unchanged
            (0x11, 1, false, 12), // lost write access (copy-on-write)
            (0x12, 5, true, 12),  // another RAM page now
            // 0x13: no translation any more
            (0x20, 7, true, 12), // gained write access: stays read-only
            (0x30, 9, true, 20), // now part of a section
        ]);
        let done = pool.revalidate(a, now);
        assert_eq!(
            done,
            Revalidation {
                kept: 2,
                downgraded: 1,
                unmapped: 3
            }
        );
        assert!(!pool.is_stale(a));
        assert_eq!(perms(addr(&pool, a, 0x10)), "rw-s");
        assert_eq!(read_word(addr(&pool, a, 0x11)), pattern(1));
        assert_eq!(perms(addr(&pool, a, 0x11)), "r--s");
        for gone in [0x12, 0x13, 0x30] {
            assert!(!pool.is_mapped(a, page(gone)));
            assert_eq!(perms(addr(&pool, a, gone)), "---p");
        }
        assert_eq!(perms(addr(&pool, a, 0x20)), "r--s");
        assert_eq!(read_word(addr(&pool, b, 0x10)), pattern(0));
        // The list holds what is still mapped: a second flush and an
        // unchanged walk keep exactly those.
        pool.mark_stale_where(|_| true, |_, _| ());
        let same = tables(&[
            (0x10, 0, true, 12),
            (0x11, 1, false, 12),
            (0x20, 7, false, 12),
        ]);
        let again = pool.revalidate(a, same);
        assert_eq!((again.kept, again.unmapped), (3, 0));
    }

    #[test]
    fn a_window_whose_list_overflowed_is_reset_not_marked() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(1).unwrap();
        let (a, _) = pool.slot_for(key(1));
        for i in 0..=LISTED_PAGES {
            pool.map_run(
                a,
                page(0x1000 + i),
                1,
                &fill(&ram, i % RAM_PAGES, false, 12),
            )
            .unwrap();
        }
        let mut lost = 0;
        assert_eq!(pool.mark_stale_where(|_| true, |_, n| lost += n), (0, 1));
        assert_eq!(lost as usize, LISTED_PAGES + 1);
        assert!(!pool.is_stale(a) && !pool.is_mapped(a, page(0x1000)));
        // Reset, the window lists again from empty.
        pool.map_run(a, page(0x10), 1, &fill(&ram, 0, false, 12))
            .unwrap();
        assert_eq!(pool.mark_stale_where(|_| true, |_, _| ()), (1, 0));
    }

    #[test]
    fn a_full_list_drops_unmapped_pages_and_repeats_first() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(1).unwrap();
        let (a, _) = pool.slot_for(key(1));
        // Map and unmap one page over and over (a TLBIMVA per fault), then
        // map it for good: the list fills with entries of one page.
        for _ in 0..LISTED_PAGES + 10 {
            pool.map_run(a, page(0x10), 1, &fill(&ram, 0, false, 12))
                .unwrap();
            pool.unmap_page_everywhere(page(0x10).vaddr());
        }
        pool.map_run(a, page(0x10), 1, &fill(&ram, 0, false, 12))
            .unwrap();
        pool.map_run(a, page(0x11), 1, &fill(&ram, 1, false, 12))
            .unwrap();
        assert_eq!(pool.mark_stale_where(|_| true, |_, _| ()), (1, 0));
        let same = tables(&[(0x10, 0, false, 12), (0x11, 1, false, 12)]);
        let done = pool.revalidate(a, same);
        assert_eq!((done.kept, done.unmapped), (2, 0));
        assert!(pool.slots[a.index()].listed <= 3);
    }

    #[test]
    fn a_failed_unmap_during_revalidation_resets_the_window() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(1).unwrap();
        let (a, _) = pool.slot_for(key(1));
        pool.map_run(a, page(0x10), 2, &fill(&ram, 0, true, 12))
            .unwrap();
        pool.mark_stale_where(|_| true, |_, _| ());
        let _fail = FailEvery::new(1);
        pool.revalidate(a, tables(&[]));
        assert!(!pool.is_stale(a));
        assert!(!pool.is_mapped(a, page(0x10)) && !pool.is_mapped(a, page(0x11)));
        assert_eq!(pool.stats().invalidation_failures, 1);
        assert_eq!(pool.stats().mapped_now, 0);
    }

    #[test]
    fn reset_drops_every_mapping_of_a_window() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(2).unwrap();
        let (a, _) = pool.slot_for(key(1));
        let (b, _) = pool.slot_for(key(2));
        pool.map_run(a, page(0x10), 4, &fill(&ram, 0, true, 12))
            .unwrap();
        pool.map_run(a, page(0x8_0000), 1, &fill(&ram, 9, false, 12))
            .unwrap();
        pool.map_run(a, page(0xf_ffff), 1, &fill(&ram, 9, true, 12))
            .unwrap();
        pool.map_run(b, page(0x10), 1, &fill(&ram, 0, true, 12))
            .unwrap();
        pool.reset(a);
        for index in [0x10, 0x13, 0x8_0000, 0xf_ffff] {
            assert!(!pool.is_mapped(a, page(index)));
        }
        // The whole window is one PROT_NONE VMA again.
        let (start, end, prot) = vma(pool.window_base(a));
        assert!(start <= pool.window_base(a) && end >= pool.window_base(a) + WINDOW_SIZE);
        assert_eq!(prot, "---p");
        assert_eq!(read_word(addr(&pool, b, 0x10)), pattern(0));
        assert_eq!(pool.stats().mapped_now, 1);
        assert_eq!(pool.stats().resets, 1);
        // The window works again afterwards.
        pool.map_run(a, page(0x10), 1, &fill(&ram, 3, false, 12))
            .unwrap();
        assert_eq!(read_word(addr(&pool, a, 0x10)), pattern(3));
    }

    /// Defect 1: a RAM page mapped writable at more places than the
    /// reverse map has ways, some unmapped again and their ways reused;
    /// after code protection no alias may be writable.
    #[test]
    fn no_alias_stays_writable_after_protect_code() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(3).unwrap();
        let slots = [
            pool.slot_for(key(1)).0,
            pool.slot_for(key(2)).0,
            pool.slot_for(key(3)).0,
        ];
        let jit = 5;
        // Five writable aliases (one more than the ways), on distinct pages.
        let aliases = [(0, 0x10), (1, 0x11), (2, 0x12), (0, 0x13), (1, 0x14)];
        for (s, index) in aliases {
            pool.map_run(slots[s], page(index), 1, &fill(&ram, jit, true, 12))
                .unwrap();
        }
        assert!(pool.stats().rmap_downgrades >= 1);
        // One dies, and a new alias takes its way.
        assert_eq!(pool.unmap_page_everywhere(0x0001_2000), 1);
        pool.map_run(slots[2], page(0x15), 1, &fill(&ram, jit, true, 12))
            .unwrap();
        // An unrelated writable page stays writable.
        pool.map_run(slots[0], page(0x20), 1, &fill(&ram, 6, true, 12))
            .unwrap();

        let made_read_only = pool.protect_code((jit * PAGE) as u64);
        assert!(made_read_only >= 1);
        for (s, index) in [(0, 0x10), (1, 0x11), (0, 0x13), (1, 0x14), (2, 0x15)] {
            let a = addr(&pool, slots[s], index);
            if pool.is_mapped(slots[s], page(index)) {
                assert_eq!(perms(a), "r--s", "alias {index:#x} in slot {s}");
                assert_eq!(read_word(a), pattern(jit));
            } else {
                assert_eq!(perms(a), "---p", "alias {index:#x} in slot {s}");
            }
        }
        assert_eq!(perms(addr(&pool, slots[0], 0x20)), "rw-s");
    }

    #[test]
    fn protect_code_downgrades_writable_mappings() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(2).unwrap();
        let (a, _) = pool.slot_for(key(1));
        let (b, _) = pool.slot_for(key(2));
        pool.map_run(a, page(0x30), 2, &fill(&ram, 20, true, 12))
            .unwrap();
        pool.map_run(b, page(0x40), 1, &fill(&ram, 20, true, 12))
            .unwrap();
        pool.map_run(b, page(0x41), 1, &fill(&ram, 20, false, 12))
            .unwrap();
        assert_eq!(pool.protect_code((20 * PAGE + 0x123) as u64), 2);
        assert_eq!(perms(addr(&pool, a, 0x30)), "r--s");
        assert_eq!(perms(addr(&pool, b, 0x40)), "r--s");
        assert_eq!(perms(addr(&pool, a, 0x31)), "rw-s");
        assert_eq!(read_word(addr(&pool, a, 0x30)), pattern(20));
        // Done once: nothing writable is left to downgrade.
        assert_eq!(pool.protect_code((20 * PAGE) as u64), 0);
        assert_eq!(pool.protect_code((21 * PAGE) as u64), 1);
        assert_eq!(perms(addr(&pool, a, 0x31)), "r--s");
        // A page that was never mapped: nothing to do, and no PROT_NONE
        // page was made readable.
        assert_eq!(pool.protect_code((30 * PAGE) as u64), 0);
        assert_eq!(perms(addr(&pool, a, 0x32)), "---p");
    }

    #[test]
    fn protect_code_ignores_a_dead_way() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(1).unwrap();
        let (a, _) = pool.slot_for(key(1));
        pool.map_run(a, page(0x50), 1, &fill(&ram, 2, true, 12))
            .unwrap();
        pool.unmap_page_everywhere(0x0005_0000);
        // The way still names 0x50; mprotect there would make the
        // reservation readable.
        assert_eq!(pool.protect_code((2 * PAGE) as u64), 0);
        assert_eq!(perms(addr(&pool, a, 0x50)), "---p");
        // Remapped to another RAM page: not this page's mapping either.
        pool.map_run(a, page(0x50), 1, &fill(&ram, 3, true, 12))
            .unwrap();
        assert_eq!(pool.protect_code((2 * PAGE) as u64), 0);
        assert_eq!(perms(addr(&pool, a, 0x50)), "rw-s");
    }

    #[test]
    fn untracked_ram_is_never_writable() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(1).unwrap();
        let (a, _) = pool.slot_for(key(1));
        let last_tracked = (RMAP_PAGES - 1) * PAGE as u64;
        assert!(Pool::can_track(last_tracked));
        assert!(!Pool::can_track(last_tracked + PAGE as u64));
        // A run across the end of the range: writable up to it only.
        let across = abi::hspt_fill {
            ram_addr: last_tracked,
            ..fill(&ram, 0, true, 12)
        };
        pool.map_run(a, page(0x60), 3, &across).unwrap();
        assert_eq!(perms(addr(&pool, a, 0x60)), "rw-s");
        assert_eq!(perms(addr(&pool, a, 0x61)), "r--s");
        assert_eq!(perms(addr(&pool, a, 0x62)), "r--s");
        assert_eq!(read_word(addr(&pool, a, 0x62)), pattern(2));
        assert_eq!(pool.stats().mapped_now, 3);
        assert_eq!(pool.protect_code(last_tracked), 1);
        assert_eq!(pool.protect_code(last_tracked + PAGE as u64), 0);
    }

    #[test]
    fn vma_budget_evicts_the_least_recently_used_window() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(3).unwrap();
        pool.set_vma_budget(8); // 4 pages
        let (a, _) = pool.slot_for(key(1));
        pool.map_run(a, page(1), 2, &fill(&ram, 1, false, 12))
            .unwrap();
        let (b, _) = pool.slot_for(key(2));
        assert_eq!(pool.make_room(b), None);
        pool.map_run(b, page(1), 2, &fill(&ram, 1, false, 12))
            .unwrap();
        let (c, _) = pool.slot_for(key(3));
        // a was used least recently.
        assert_eq!(pool.make_room(c), Some((key(1), 2)));
        assert!(!pool.is_mapped(a, page(1)));
        assert_eq!(perms(addr(&pool, a, 1)), "---p");
        assert_eq!(read_word(addr(&pool, b, 2)), pattern(2));
        pool.map_run(c, page(1), 2, &fill(&ram, 1, false, 12))
            .unwrap();
        // b is older than c now; a has nothing to give.
        assert_eq!(pool.slot_for(key(1)).0, a);
        assert_eq!(pool.make_room(a), Some((key(2), 2)));
        assert_eq!(pool.stats().budget_evictions, 2);
        assert_eq!(pool.stats().mapped_now, 2);
    }

    #[test]
    fn lru_gives_the_oldest_window_away() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(2).unwrap();
        let (a, _) = pool.slot_for(key(1));
        pool.map_run(a, page(1), 3, &fill(&ram, 1, false, 12))
            .unwrap();
        let (b, _) = pool.slot_for(key(2));
        assert_ne!(a, b);
        let (c, lost) = pool.slot_for(key(3));
        assert_eq!((c, lost), (a, Some((key(1), 3))));
        assert!(!pool.is_mapped(a, page(1)));
        assert_eq!(perms(addr(&pool, a, 1)), "---p");
        assert_eq!(pool.stats().evictions, 1);
        assert_eq!(pool.stats().windows_used, 2);
    }

    #[test]
    fn tlbimva_in_a_section_unmaps_the_whole_section() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(2).unwrap();
        let (a, _) = pool.slot_for(key(1));
        let (b, _) = pool.slot_for(key(2));
        // Section 0x0010_0000: three pages of it mapped, two separately.
        pool.map_run(a, page(0x100), 2, &fill(&ram, 0, true, 20))
            .unwrap();
        pool.map_run(a, page(0x1ff), 1, &fill(&ram, 9, false, 20))
            .unwrap();
        // Small pages around it stay.
        pool.map_run(a, page(0xff), 1, &fill(&ram, 3, false, 12))
            .unwrap();
        pool.map_run(a, page(0x200), 1, &fill(&ram, 4, false, 12))
            .unwrap();
        // Another window maps 0x103 and 0x105 as small pages.
        pool.map_run(b, page(0x103), 1, &fill(&ram, 5, false, 12))
            .unwrap();
        pool.map_run(b, page(0x105), 1, &fill(&ram, 6, false, 12))
            .unwrap();

        // Page 0x103 itself is not mapped in a, but its section is.
        assert_eq!(pool.unmap_page_everywhere(0x0010_3000), 4);
        for index in [0x100, 0x101, 0x1ff] {
            assert!(!pool.is_mapped(a, page(index)));
            assert_eq!(perms(addr(&pool, a, index)), "---p");
        }
        assert_eq!(read_word(addr(&pool, a, 0xff)), pattern(3));
        assert_eq!(read_word(addr(&pool, a, 0x200)), pattern(4));
        assert_eq!(perms(addr(&pool, b, 0x103)), "---p");
        assert_eq!(read_word(addr(&pool, b, 0x105)), pattern(6));
        // The region went with it: the next by-MVA is for one page only.
        assert_eq!(pool.unmap_page_everywhere(0x0000_0000), 0);
        assert_eq!(pool.unmap_page_everywhere(0x0020_0000), 1);
        assert_eq!(read_word(addr(&pool, a, 0xff)), pattern(3));
    }

    #[test]
    fn tlbimva_outside_a_large_mapping_leaves_it() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(1).unwrap();
        let (a, _) = pool.slot_for(key(1));
        // Section 0x0010_0000 (two pages) and a small page far above it:
        // the large-page region covers both, QEMU would drop it all.
        pool.map_run(a, page(0x100), 2, &fill(&ram, 0, true, 20))
            .unwrap();
        pool.map_run(a, page(0xffe7e), 1, &fill(&ram, 9, true, 12))
            .unwrap();
        assert_eq!(pool.unmap_page_everywhere(0xffe7_e000), 1);
        assert_eq!(read_word(addr(&pool, a, 0x100)), pattern(0));
        assert_eq!(pool.unmap_page_everywhere(0x0010_8000), 2);
        assert!(!pool.is_mapped(a, page(0x101)));
    }

    #[test]
    fn kernel_sections_are_checked_by_their_first_page() {
        let _serial = serial();
        let ram = guest_ram();
        let section = |ram_page: u64, writable: bool| {
            move |p: GuestPage| {
                (p == page(0x100)).then_some(Translation {
                    ram: RamPage(ram_page),
                    writable,
                    lg_page_size: 20,
                })
            }
        };
        let mapped_kernel = || {
            let mut pool = Pool::with_kernel_window(1).unwrap();
            let k = pool.kernel_slot().unwrap();
            // Pages 0 and 2 of section 0x0010_0000, from RAM pages 0 and 2.
            pool.map_run(k, page(0x100), 1, &fill(&ram, 0, true, 20))
                .unwrap();
            pool.map_run(k, page(0x102), 1, &fill(&ram, 2, true, 20))
                .unwrap();
            (pool, k)
        };
        // Unchanged: kept, one check for the section.
        let (mut pool, k) = mapped_kernel();
        assert_eq!(pool.revalidate_kernel_sections(section(0, true)), 1);
        assert_eq!(read_word(addr(&pool, k, 0x102)), pattern(2));
        // Write access lost: read-only.
        let (mut pool, k) = mapped_kernel();
        assert_eq!(pool.revalidate_kernel_sections(section(0, false)), 1);
        assert_eq!(perms(addr(&pool, k, 0x100)), "r--s");
        assert_eq!(perms(addr(&pool, k, 0x102)), "r--s");
        // Other RAM, or no translation: the section's pages go.
        for now in [Some(5), None] {
            let (mut pool, k) = mapped_kernel();
            let kept = match now {
                Some(r) => pool.revalidate_kernel_sections(section(r, true)),
                None => pool.revalidate_kernel_sections(|_| None),
            };
            assert_eq!(kept, 0);
            assert!(!pool.is_mapped(k, page(0x100)) && !pool.is_mapped(k, page(0x102)));
        }
        // A page of another run (an older descriptor) makes the others go.
        let (mut pool, k) = mapped_kernel();
        pool.map_run(k, page(0x101), 1, &fill(&ram, 9, true, 20))
            .unwrap();
        assert!(!pool.is_mapped(k, page(0x100)) && !pool.is_mapped(k, page(0x102)));
        assert_eq!(read_word(addr(&pool, k, 0x101)), pattern(9));
        assert_eq!(pool.revalidate_kernel_sections(section(8, true)), 1);
        assert!(pool.is_mapped(k, page(0x101)));
    }

    #[test]
    fn the_kernel_window_keeps_at_most_its_list_of_small_pages() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::with_kernel_window(1).unwrap();
        let k = pool.kernel_slot().unwrap();
        for i in 0..KERNEL_LISTED_PAGES + 1 {
            pool.map_run(
                k,
                page(0x1000 + i),
                1,
                &fill(&ram, i % RAM_PAGES, false, 12),
            )
            .unwrap();
        }
        // The lower half went when the list was full.
        assert_eq!(pool.mapped_pages(k) as usize, KERNEL_LISTED_PAGES / 2 + 1);
        assert!(!pool.is_mapped(k, page(0x1000)));
        assert!(pool.is_mapped(k, page(0x1000 + KERNEL_LISTED_PAGES)));
        assert!(pool.is_listed(k));
    }

    #[test]
    fn failed_unmap_resets_the_window_exactly() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(2).unwrap();
        let (a, _) = pool.slot_for(key(1));
        let (b, _) = pool.slot_for(key(2));
        pool.map_run(a, page(1), 3, &fill(&ram, 1, true, 12))
            .unwrap();
        pool.map_run(a, page(0x9000), 1, &fill(&ram, 8, false, 12))
            .unwrap();
        pool.map_run(b, page(2), 1, &fill(&ram, 4, true, 12))
            .unwrap();
        let resets = pool.stats().resets;
        {
            // Every call fails: the page unmap, and the madvise of the
            // reset (the forward rows are then zeroed by hand).
            let _fail = FailEvery::new(1);
            assert_eq!(pool.unmap_page_everywhere(0x0000_2000), 4 + 1);
        }
        assert_eq!(pool.stats().resets, resets + 2);
        for index in [1, 2, 3, 0x9000] {
            assert!(!pool.is_mapped(a, page(index)));
            assert_eq!(perms(addr(&pool, a, index)), "---p");
        }
        assert!(!pool.is_mapped(b, page(2)));
        assert_eq!(perms(addr(&pool, b, 2)), "---p");
        assert_eq!(pool.stats().mapped_now, 0);
        // Both windows work again and serve the right pages.
        pool.map_run(a, page(2), 1, &fill(&ram, 11, false, 12))
            .unwrap();
        assert_eq!(read_word(addr(&pool, a, 2)), pattern(11));
        assert_eq!(perms(addr(&pool, a, 1)), "---p");
    }

    #[test]
    fn failed_unmap_of_one_window_leaves_the_others() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(2).unwrap();
        let (a, _) = pool.slot_for(key(1));
        let (b, _) = pool.slot_for(key(2));
        pool.map_run(a, page(1), 2, &fill(&ram, 1, true, 12))
            .unwrap();
        pool.map_run(b, page(1), 2, &fill(&ram, 4, true, 12))
            .unwrap();
        let _fail = FailEvery::new(2);
        // Calls: a's unmap (1st: works), b's unmap (2nd: fails, b reset;
        // its madvise is the 3rd: works).
        assert_eq!(pool.unmap_page_everywhere(0x0000_1000), 1 + 2);
        assert!(!pool.is_mapped(a, page(1)) && pool.is_mapped(a, page(2)));
        assert_eq!(read_word(addr(&pool, a, 2)), pattern(2));
        assert!(!pool.is_mapped(b, page(2)));
        assert_eq!(perms(addr(&pool, b, 2)), "---p");
        assert_eq!(pool.stats().mapped_now, 1);
    }

    #[test]
    fn failed_downgrade_resets_the_window() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(3).unwrap();
        let (a, _) = pool.slot_for(key(1));
        let (b, _) = pool.slot_for(key(2));
        pool.map_run(a, page(0x70), 1, &fill(&ram, 30, true, 12))
            .unwrap();
        pool.map_run(a, page(0x71), 1, &fill(&ram, 31, true, 12))
            .unwrap();
        pool.map_run(b, page(0x70), 1, &fill(&ram, 30, true, 12))
            .unwrap();
        {
            let _fail = FailEvery::new(1);
            assert_eq!(pool.protect_code((30 * PAGE) as u64), 2);
        }
        // No writable mapping of page 30 is left, whichever way.
        for slot in [a, b] {
            assert!(!pool.is_mapped(slot, page(0x70)));
            assert_eq!(perms(addr(&pool, slot, 0x70)), "---p");
        }
        assert_eq!(perms(addr(&pool, a, 0x71)), "---p");
        assert_eq!(pool.stats().mapped_now, 0);

        // Reverse-map overflow with a failing downgrade: the victim's
        // window goes instead.
        for (slot, index) in [(a, 1), (b, 2), (a, 3), (b, 4)] {
            pool.map_run(slot, page(index), 1, &fill(&ram, 40, true, 12))
                .unwrap();
        }
        let (c, _) = pool.slot_for(key(3));
        {
            let _fail = FailEvery::new(1);
            pool.map_run(c, page(5), 1, &fill(&ram, 40, true, 12))
                .unwrap();
        }
        assert_eq!(pool.stats().rmap_downgrades, 1);
        assert_eq!(perms(addr(&pool, a, 1)), "---p");
        assert_eq!(perms(addr(&pool, a, 3)), "---p");
        assert_eq!(perms(addr(&pool, b, 2)), "rw-s");
        assert_eq!(perms(addr(&pool, c, 5)), "rw-s");
        assert_eq!(pool.protect_code((40 * PAGE) as u64), 3);
        for (slot, index) in [(b, 2), (b, 4), (c, 5)] {
            assert_eq!(perms(addr(&pool, slot, index)), "r--s");
        }
    }

    #[test]
    fn failed_mmap_leaves_the_range_unmapped() {
        let _serial = serial();
        let ram = guest_ram();
        let mut pool = Pool::new(1).unwrap();
        let (a, _) = pool.slot_for(key(1));
        pool.map_run(a, page(0x80), 2, &fill(&ram, 1, true, 12))
            .unwrap();
        let bad = abi::hspt_fill {
            fd: -1,
            ..fill(&ram, 3, true, 12)
        };
        assert_eq!(pool.map_run(a, page(0x81), 2, &bad), Err(libc::EBADF));
        assert!(pool.is_mapped(a, page(0x80)));
        assert!(!pool.is_mapped(a, page(0x81)) && !pool.is_mapped(a, page(0x82)));
        assert_eq!(perms(addr(&pool, a, 0x81)), "---p");
        assert_eq!(pool.stats().mapped_now, 1);
        // The way recorded for the failed page is dead, and harmless.
        assert_eq!(pool.protect_code((3 * PAGE) as u64), 0);
        assert_eq!(perms(addr(&pool, a, 0x81)), "---p");
    }

    #[test]
    fn decimal_formats_errno() {
        let mut buf = [0u8; 10];
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(12, &mut buf), b"12");
        assert_eq!(decimal(u32::MAX, &mut buf), b"4294967295");
    }
}
