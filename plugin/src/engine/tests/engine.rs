//! The flush dispatch: what each TLB maintenance kind, QEMU flush and
//! softmmu flush report unmaps, and the window switch at user-mode and
//! PL1 entry, on real mappings of a memfd.

use super::pool::tests::{fill, guest_ram, key, serial};
use super::pool::{GuestPage, Pool, Slot};
use super::*;

/// An engine with two windows: ASID 5 maps guest pages 1 and 2, ASID 6
/// maps page 1, all from RAM page 3.
fn engine_with_two_windows() -> (Engine, Slot, Slot, std::os::fd::OwnedFd) {
    let ram = guest_ram();
    let mut e = Engine::new(Pool::new(2).unwrap(), 0, 1, false);
    let (a, _) = e.pool.slot_for(key(5));
    let (b, _) = e.pool.slot_for(key(6));
    let f = fill(&ram, 3, false, 12);
    e.pool.map_run(a, GuestPage::from_index(1), 1, &f).unwrap();
    e.pool.map_run(a, GuestPage::from_index(2), 1, &f).unwrap();
    e.pool.map_run(b, GuestPage::from_index(1), 1, &f).unwrap();
    (e, a, b, ram)
}

/// `e`, with the bookkeeping `with_engine` does before each event.
fn ev(e: &mut Engine) -> &mut Engine {
    e.begin_event();
    e
}

fn mapped(e: &Engine, slot: Slot, page: usize) -> bool {
    e.pool.is_mapped(slot, GuestPage::from_index(page))
}

#[test]
fn tlbimva_unmaps_the_page_in_every_window() {
    let _serial = serial();
    for kind in [
        abi::HSPT_TLBI_MVA,
        abi::HSPT_TLBI_MVA_IS,
        abi::HSPT_TLBI_MVAA,
        abi::HSPT_TLBI_MVAA_IS,
    ] {
        let (mut e, a, b, _ram) = engine_with_two_windows();
        // TLBIMVA names ASID 5, but global entries of any ASID go too.
        ev(&mut e).tlb_maintenance(kind, 0x1000 | 5);
        assert!(!mapped(&e, a, 1) && !mapped(&e, b, 1), "kind {kind}");
        assert!(mapped(&e, a, 2), "kind {kind}: another page stays");
    }
}

#[test]
fn tlbiasid_resets_only_that_asids_window() {
    let _serial = serial();
    let (mut e, a, b, _ram) = engine_with_two_windows();
    ev(&mut e).tlb_maintenance(abi::HSPT_TLBI_ASID, 5);
    assert!(!mapped(&e, a, 1) && !mapped(&e, a, 2));
    assert!(mapped(&e, b, 1));
}

#[test]
fn tlbiall_and_other_forms_reset_everything() {
    let _serial = serial();
    for kind in [
        abi::HSPT_TLBI_ALL,
        abi::HSPT_TLBI_ALL_IS,
        abi::HSPT_TLBI_OTHER,
    ] {
        let (mut e, a, b, _ram) = engine_with_two_windows();
        ev(&mut e).tlb_maintenance(kind, 0);
        assert!(!mapped(&e, a, 1) && !mapped(&e, b, 1), "kind {kind}");
    }
}

#[test]
fn with_revalidation_global_flushes_mark_windows_stale() {
    let _serial = serial();
    for (kind, operand, both) in [
        (abi::HSPT_TLBI_ALL, 0, true),
        (abi::HSPT_TLBI_ALL_IS, 0, true),
        (abi::HSPT_TLBI_ASID, 5, false),
        (abi::HSPT_TLBI_ASID_IS, 5, false),
    ] {
        let (mut e, a, b, _ram) = engine_with_two_windows();
        e.revalidate = true;
        ev(&mut e).tlb_maintenance(kind, operand);
        assert!(mapped(&e, a, 1) && mapped(&e, b, 1), "kind {kind}");
        assert!(e.pool.is_stale(a), "kind {kind}");
        assert_eq!(e.pool.is_stale(b), both, "kind {kind}");
        // The rest still resets: those may change any translation.
        ev(&mut e).tlb_maintenance(abi::HSPT_TLBI_OTHER, 0);
        assert!(!mapped(&e, a, 1) && !mapped(&e, b, 1), "kind {kind}");
    }
}

/// A user-mode context of ASID `asid` (short descriptors).
fn user_context(asid: u8) -> abi::hspt_arm_context {
    abi::hspt_arm_context {
        contextidr: asid.into(),
        mode: abi::HSPT_ARM_MODE_USR,
        ..Default::default()
    }
}

#[test]
fn a_flushed_window_whose_work_outweighs_its_stay_falls_back() {
    let _serial = serial();
    let ram = guest_ram();
    let ctx = user_context(5);
    let k = WindowKey::from_context(&ctx);
    let stay = |e: &mut Engine, window_ns: u64| {
        let used = e.enter_user(&ctx);
        e.stay_fault_ns += window_ns;
        std::thread::sleep(std::time::Duration::from_millis(11));
        e.leave_user();
        used
    };
    for flushed in [false, true] {
        let mut e = Engine::new(Pool::new(2).unwrap(), 0, 1, false);
        e.revalidate = true;
        let (a, _) = e.pool.slot_for(k);
        for p in 0..32 {
            let f = fill(&ram, 3 + p, false, 12);
            e.pool.map_run(a, GuestPage::from_index(p), 1, &f).unwrap();
        }
        assert!(stay(&mut e, 0), "no warm-up: the window is used");
        if flushed {
            // Revalidated at the next entry (reset here: no probe).
            ev(&mut e).tlb_maintenance(abi::HSPT_TLBI_ALL, 0);
        }
        // Window work (faults, the revalidation) of 50 ms in a stay of
        // 11 ms or a little more: far over a quarter of it, however
        // late the sleep returns.
        stay(&mut e, 50_000_000);
        let fallbacks = e.take_counters().fallbacks;
        assert_eq!(fallbacks, flushed as u64, "flushed: {flushed}");
    }
}

#[test]
fn key_register_writes_keep_windows_others_reset_them() {
    let _serial = serial();
    for reason in [
        abi::HSPT_FLUSH_DACR,
        abi::HSPT_FLUSH_CONTEXTIDR,
        abi::HSPT_FLUSH_TTBR,
        abi::HSPT_FLUSH_TTBCR,
    ] {
        let (mut e, a, _b, _ram) = engine_with_two_windows();
        ev(&mut e).qemu_flush(reason);
        ev(&mut e).softmmu_flush(0, 0);
        assert!(mapped(&e, a, 1), "reason {reason}: part of the window key");
    }
    for reason in [
        abi::HSPT_FLUSH_SCTLR,
        abi::HSPT_FLUSH_FCSEIDR,
        abi::HSPT_FLUSH_MEMORY_MAP,
    ] {
        let (mut e, a, b, _ram) = engine_with_two_windows();
        ev(&mut e).qemu_flush(reason);
        assert!(!mapped(&e, a, 1) && !mapped(&e, b, 1), "reason {reason}");
    }
}

#[test]
fn unexplained_softmmu_flushes_unmap() {
    let _serial = serial();
    // A full flush nobody announced (a CPU reset, the debugger).
    let (mut e, a, b, _ram) = engine_with_two_windows();
    ev(&mut e).softmmu_flush(0, 0);
    assert!(!mapped(&e, a, 1) && !mapped(&e, b, 1));
    // A page flush (a watchpoint inserted or removed): that page only.
    let (mut e, a, b, _ram) = engine_with_two_windows();
    ev(&mut e).softmmu_flush(0x1004, 4);
    assert!(!mapped(&e, a, 1) && !mapped(&e, b, 1));
    assert!(mapped(&e, a, 2));
    // A range across two pages.
    let (mut e, a, _b, _ram) = engine_with_two_windows();
    ev(&mut e).softmmu_flush(0x1ffc, 8);
    assert!(!mapped(&e, a, 1) && !mapped(&e, a, 2));
}

/// An engine with one user window (ASID 5, page 1) and the kernel
/// window (pages 1 and 0xc0000), all from RAM page 3.
fn engine_with_kernel_window() -> (Engine, Slot, Slot, std::os::fd::OwnedFd) {
    let ram = guest_ram();
    let mut e = Engine::new(Pool::with_kernel_window(1).unwrap(), 0, 1, false);
    let (a, _) = e.pool.slot_for(key(5));
    let k = e.pool.kernel_slot().unwrap();
    assert_ne!(a, k);
    let f = fill(&ram, 3, false, 12);
    e.pool.map_run(a, GuestPage::from_index(1), 1, &f).unwrap();
    e.pool.map_run(k, GuestPage::from_index(1), 1, &f).unwrap();
    e.pool
        .map_run(k, GuestPage::from_index(0xc0000), 1, &f)
        .unwrap();
    (e, a, k, ram)
}

#[test]
fn the_kernel_window_mirrors_pl1_flushes_only() {
    let _serial = serial();
    // A PL1 page flush (a DACR write's, an ASID change's non-global
    // pages): the kernel window's page, not the user window's.
    let (mut e, a, k, _ram) = engine_with_kernel_window();
    ev(&mut e).kernel_softmmu_flush(0x1000, 0x1000);
    assert!(!mapped(&e, k, 1) && mapped(&e, k, 0xc0000));
    assert!(mapped(&e, a, 1), "a PL1 flush spares user windows");
    // A PL1 full flush resets it, explained or not: it has no key.
    let (mut e, a, k, _ram) = engine_with_kernel_window();
    e.revalidate = true;
    ev(&mut e).tlb_maintenance(abi::HSPT_TLBI_ALL, 0);
    ev(&mut e).kernel_softmmu_flush(0, 0);
    assert!(!mapped(&e, k, 1) && !mapped(&e, k, 0xc0000));
    assert_eq!(e.take_counters().kernel_resets, 1);
    assert!(mapped(&e, a, 1), "the user window is only marked stale");
    // PL0 flushes, full or by page, leave the kernel window alone.
    let (mut e, a, k, _ram) = engine_with_kernel_window();
    ev(&mut e).softmmu_flush(0x1000, 0x1000);
    assert!(!mapped(&e, a, 1) && mapped(&e, k, 1));
    ev(&mut e).softmmu_flush(0, 0);
    assert!(mapped(&e, k, 1));
    // A large range: reset, not page by page.
    let (mut e, _a, k, _ram) = engine_with_kernel_window();
    ev(&mut e).kernel_softmmu_flush(0, 1 << 30);
    assert!(!mapped(&e, k, 0xc0000));
}

#[test]
fn kernel_window_events_keep_a_flush_announcement() {
    let _serial = serial();
    // An ASID change: announced, then QEMU drops the kernel's
    // non-global pages (PL1 page flushes), then flushes PL0 whole.
    let (mut e, a, _k, _ram) = engine_with_kernel_window();
    ev(&mut e).qemu_flush(abi::HSPT_FLUSH_CONTEXTIDR);
    // As with_engine_for_kernel: no begin_event.
    e.kernel_softmmu_flush(0x7000, 0x1000);
    ev(&mut e).softmmu_flush(0, 0);
    assert!(mapped(&e, a, 1), "the announced flush, after kernel events");
    ev(&mut e).softmmu_flush(0, 0);
    assert!(!mapped(&e, a, 1), "a second one is not announced");
}

#[test]
fn guest_tlb_maintenance_leaves_the_kernel_window_to_qemus_flushes() {
    let _serial = serial();
    for (kind, operand) in [
        (abi::HSPT_TLBI_ASID, 5),
        (abi::HSPT_TLBI_ASID_IS, 5),
        (abi::HSPT_TLBI_ALL, 0),
    ] {
        let (mut e, a, k, _ram) = engine_with_kernel_window();
        ev(&mut e).tlb_maintenance(kind, operand);
        assert!(!mapped(&e, a, 1), "kind {kind}");
        assert!(mapped(&e, k, 1), "kind {kind}: QEMU's PL1 flush decides");
    }
    let (mut e, a, k, _ram) = engine_with_kernel_window();
    ev(&mut e).tlb_maintenance(abi::HSPT_TLBI_MVAA, 0x1000);
    assert!(!mapped(&e, a, 1) && mapped(&e, k, 1));
    ev(&mut e).kernel_softmmu_flush(0x1000, 0x1000);
    assert!(!mapped(&e, k, 1), "QEMU's flush of the page");
    // Register writes that may change any translation reset both.
    let (mut e, a, k, _ram) = engine_with_kernel_window();
    ev(&mut e).qemu_flush(abi::HSPT_FLUSH_SCTLR);
    assert!(!mapped(&e, a, 1) && !mapped(&e, k, 1) && !mapped(&e, k, 0xc0000));
}

#[test]
fn asid_changes_let_the_kernel_window_revalidate_at_the_next_full_flush() {
    let _serial = serial();
    // Without keep_global, QEMU follows an ASID change and a TLBIASID
    // with full flushes of PL0, then PL1: the PL1 one may revalidate.
    let (mut e, _a, _k, _ram) = engine_with_kernel_window();
    ev(&mut e).qemu_flush(abi::HSPT_FLUSH_CONTEXTIDR);
    ev(&mut e).softmmu_flush(0, 0);
    assert!(e.take_kernel_flush_may_revalidate());
    assert!(!e.take_kernel_flush_may_revalidate(), "once");
    let (mut e, _a, _k, _ram) = engine_with_kernel_window();
    ev(&mut e).tlb_maintenance(abi::HSPT_TLBI_ASID_IS, 5);
    ev(&mut e).softmmu_flush(0, 0);
    assert!(e.take_kernel_flush_may_revalidate());
    // Long descriptors: the ASID is in a TTBR.
    let (mut e, _a, _k, _ram) = engine_with_kernel_window();
    ev(&mut e).qemu_flush(abi::HSPT_FLUSH_TTBR);
    ev(&mut e).softmmu_flush(0, 0);
    assert!(e.take_kernel_flush_may_revalidate());
    // Not after any other register write, nor past the next event.
    for reason in [
        abi::HSPT_FLUSH_DACR,
        abi::HSPT_FLUSH_TTBCR,
        abi::HSPT_FLUSH_SCTLR,
    ] {
        let (mut e, _a, _k, _ram) = engine_with_kernel_window();
        ev(&mut e).qemu_flush(reason);
        ev(&mut e).softmmu_flush(0, 0);
        assert!(!e.take_kernel_flush_may_revalidate(), "reason {reason}");
    }
    let (mut e, _a, _k, _ram) = engine_with_kernel_window();
    ev(&mut e).qemu_flush(abi::HSPT_FLUSH_CONTEXTIDR);
    ev(&mut e).softmmu_flush(0, 0);
    ev(&mut e).tlb_maintenance(abi::HSPT_TLBI_MVA, 0x1000);
    assert!(!e.take_kernel_flush_may_revalidate(), "past another event");
    // Without the probe QEMU gives, a full flush still resets.
    let (mut e, _a, k, _ram) = engine_with_kernel_window();
    e.revalidate = true;
    ev(&mut e).qemu_flush(abi::HSPT_FLUSH_CONTEXTIDR);
    ev(&mut e).softmmu_flush(0, 0);
    e.kernel_softmmu_flush(0, 0);
    assert!(!mapped(&e, k, 1));
}

#[test]
fn the_kernel_window_is_outside_the_lru() {
    let _serial = serial();
    let (mut e, _a, k, _ram) = engine_with_kernel_window();
    // More contexts than user windows: they take each other's window.
    for asid in 6..10 {
        let (slot, _) = e.pool.slot_for(key(asid));
        assert_ne!(slot, k);
    }
    assert!(mapped(&e, k, 1));
}

#[test]
fn pl1_code_gets_the_kernel_window_until_user_mode() {
    let _serial = serial();
    let (mut e, _a, k, _ram) = engine_with_kernel_window();
    assert!(e.enter_kernel());
    assert!(e.is_active(k));
    e.enter_user(&user_context(5));
    assert!(!e.is_active(k), "user code never uses the kernel window");
    // Not without a kernel window.
    let mut plain = Engine::new(Pool::new(1).unwrap(), 0, 1, false);
    assert!(!plain.enter_kernel());
}

#[test]
fn an_explanation_covers_one_full_flush_only() {
    let _serial = serial();
    let (mut e, a, _b, _ram) = engine_with_two_windows();
    ev(&mut e).qemu_flush(abi::HSPT_FLUSH_DACR);
    ev(&mut e).softmmu_flush(0, 0);
    assert!(mapped(&e, a, 1), "the DACR write's own flush");
    ev(&mut e).softmmu_flush(0, 0);
    assert!(!mapped(&e, a, 1), "a second full flush is not explained");
    // Any other event in between cancels the explanation.
    let (mut e, a, _b, _ram) = engine_with_two_windows();
    ev(&mut e).qemu_flush(abi::HSPT_FLUSH_DACR);
    ev(&mut e).protect_code(0x7000);
    ev(&mut e).softmmu_flush(0, 0);
    assert!(!mapped(&e, a, 1));
    // A page flush in between cancels the explanation.
    let (mut e, a, _b, _ram) = engine_with_two_windows();
    ev(&mut e).qemu_flush(abi::HSPT_FLUSH_DACR);
    ev(&mut e).softmmu_flush(0x2000, 0x1000);
    ev(&mut e).softmmu_flush(0, 0);
    assert!(!mapped(&e, a, 1));
}
