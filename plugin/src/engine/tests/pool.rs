//! The pool on real mappings of a memfd: what each call maps, unmaps and
//! protects, read back from the windows and /proc/self/maps.

use super::revalidate::GHOST_MIN_PAGES;
use super::*;
use crate::engine::inject::set_fail_injection;
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
fn tables(entries: &[(usize, usize, bool, u32)]) -> impl Fn(GuestPage) -> Option<Translation> + '_ {
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
fn kernel_window_2mib_blocks_are_sections_of_their_size() {
    let _serial = serial();
    let ram = guest_ram();
    // An LPAE kernel's 2 MiB block at 0x0020_0000: a page in each of its
    // MiBs, pages 1 and 3 of them, from RAM pages 1 and 3 (each MiB's
    // run starts at RAM page 0 then: tests need no more RAM).
    let mapped_kernel = || {
        let mut pool = Pool::with_kernel_window(1).unwrap();
        let k = pool.kernel_slot().unwrap();
        pool.map_run(k, page(0x201), 1, &fill(&ram, 1, true, 21))
            .unwrap();
        pool.map_run(k, page(0x303), 1, &fill(&ram, 3, true, 21))
            .unwrap();
        (pool, k)
    };
    let block = |lg_page_size: u32| {
        move |p: GuestPage| {
            (p == page(0x200) || p == page(0x300)).then_some(Translation {
                ram: RamPage(0),
                writable: true,
                lg_page_size,
            })
        }
    };
    // Tracked as two sections, not listed page by page; unchanged: kept.
    let (mut pool, k) = mapped_kernel();
    assert_eq!(pool.revalidate_kernel_sections(block(21)), 2);
    assert!(pool.is_mapped(k, page(0x201)) && pool.is_mapped(k, page(0x303)));
    // The same RAM from mappings of another size: the block's pages go.
    let (mut pool, k) = mapped_kernel();
    assert_eq!(pool.revalidate_kernel_sections(block(12)), 0);
    assert!(!pool.is_mapped(k, page(0x201)) && !pool.is_mapped(k, page(0x303)));
    // A by-address flush of one page of the block: all of it goes.
    let (mut pool, k) = mapped_kernel();
    pool.unmap_page_everywhere(0x0030_3000);
    assert!(!pool.is_mapped(k, page(0x201)) && !pool.is_mapped(k, page(0x303)));
    assert_eq!(
        pool.revalidate_kernel_sections(block(21)),
        0,
        "no section left"
    );
}

#[test]
fn an_lpae_window_key_names_the_asid_in_use_and_its_process() {
    let ctx = abi::hspt_arm_context {
        long_desc: 1,
        ttbcr: 1 << 22,
        ttbr0: (9u64 << 48) | 0x8000_1000,
        ttbr1: 5u64 << 48,
        ..Default::default()
    };
    let key = WindowKey::from_context(&ctx);
    assert_eq!(key.asid, 5, "TTBCR.A1: TTBR1's ASID");
    assert_eq!(
        key.process(),
        crate::context::ProcessKey::from_context(&ctx)
    );
}
