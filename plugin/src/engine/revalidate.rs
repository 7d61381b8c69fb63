//! Hook-time code that maps or checks window pages through QEMU's probe
//! (a non-faulting translation), outside the signal handler: premapping
//! the page of a fault that became the guest's page fault, revalidating a
//! stale window (user windows at user-mode entry, the kernel window at a
//! full PL1 flush), and restoring an evicted window's pages. The pool's
//! walks are in [`super::pool`]; this is where the engine's counters and
//! the policy's cost are charged. Every page mapped or kept is one QEMU's
//! probe translates now as a fault would (invariant `softmmu-agrees`).

use hspt_shim as abi;

use super::pool::{self, GuestPage, Slot};
use super::signal::{handler, map_with_neighbours, Probe};
use super::signal_safe::now_ns;
use super::Engine;

/// A window fault on `page` became the guest's page fault, and the guest
/// now returns to user mode in the same window: map the page if the guest
/// kernel made it valid (for a write fault, writable), so that the retried
/// instruction does not fault a second time. Called from the user-mode
/// entry hook (QEMU's probe translates for user mode then); a page that is
/// still not valid (the kernel sent a signal instead) is left alone.
pub(super) fn premap(e: &mut Engine, slot: Slot, page: GuestPage) {
    let Some(handler) = handler() else {
        return;
    };
    let Some(probe) = handler.user_probe() else {
        return;
    };
    if e.pool.is_writable(slot, page) {
        return;
    }
    let mut out = abi::hspt_fill::default();
    // SAFETY: QEMU's non-faulting service (never longjmps), on the vCPU
    // thread in a hook; `out` is ours.
    let kind = unsafe { probe(page.vaddr(), &mut out) };
    let gains = !e.pool.is_mapped(slot, page) || out.prot & abi::HSPT_PROT_WRITE != 0;
    if kind == abi::HSPT_FILL_RAM && gains {
        if let Ok(done) = map_with_neighbours(e, handler, slot, page, &out) {
            e.pending.pages_premapped += done as u64;
        }
    }
}

/// What QEMU's probe gives for a load from `page` in a hook (the user
/// probe from a user-mode entry, the kernel one from a flush report):
/// the fill of a readable RAM page, or None (not RAM, not accessible).
fn probe_in_hook(probe: Probe, page: GuestPage) -> Option<abi::hspt_fill> {
    let mut out = abi::hspt_fill::default();
    // SAFETY: QEMU's non-faulting service (never longjmps), called on the
    // vCPU thread from a hook, with no QEMU lock held; `out` is ours.
    let kind = unsafe { probe(page.vaddr(), &mut out) };
    (kind == abi::HSPT_FILL_RAM && out.prot & abi::HSPT_PROT_READ != 0).then_some(out)
}

/// A stale window (a global flush came since its pages were mapped) is
/// about to be used: keep the mappings whose translation for user mode is
/// unchanged, drop the others ([`pool::Pool::revalidate`]). Called from
/// the user-mode entry hook, where QEMU's probe translates for user mode.
/// Without the probe service, the window is reset. Returns how many
/// pages the window mapped (checked, or lost to the reset).
pub(super) fn revalidate(e: &mut Engine, slot: Slot) -> u32 {
    let pages = e.pool.mapped_pages(slot);
    let Some(probe) = handler().and_then(|h| h.user_probe()) else {
        e.pool.reset(slot);
        return pages;
    };
    let started = now_ns();
    let done = e.pool.revalidate(slot, |page| {
        probe_in_hook(probe, page).map(|out| pool::Translation {
            ram: pool::RamPage::containing(out.ram_addr),
            writable: out.prot & abi::HSPT_PROT_WRITE != 0,
            lg_page_size: out.lg_page_size,
        })
    });
    e.pending.revalidations += 1;
    e.pending.pages_kept += done.kept + done.downgraded;
    e.pending.pages_invalidated += done.unmapped;
    let spent = now_ns().saturating_sub(started);
    e.pending.revalidation_ns += spent;
    // The window's cost for this stay, as a fault's time is (the policy).
    e.stay_fault_ns += spent;
    pages
}

/// The kernel window after a guest TLBIALL, from QEMU's report of the
/// flush (the entries are gone, so probes walk the tables): keep the
/// mappings whose translation for PL1 is unchanged, global and still RAM.
/// Sections first, one probe each ([`pool::Pool::revalidate_kernel_sections`]),
/// then the listed other pages ([`pool::Pool::revalidate`]). Each probe makes a softmmu
/// TLB entry, which QEMU notes under its domain, so that a later DACR
/// write or flush of that mapping reaches the window as it reaches the
/// softmmu. Returns false if it could not revalidate (no probe service):
/// the caller resets the window.
pub(super) fn revalidate_kernel(e: &mut Engine, slot: Slot) -> bool {
    let Some(probe) = handler().and_then(|h| h.kernel_probe()) else {
        return false;
    };
    let started = now_ns();
    let translation = |out: abi::hspt_fill| {
        (out.attrs & abi::HSPT_FILL_ATTR_NOT_GLOBAL == 0).then(|| pool::Translation {
            ram: pool::RamPage::containing(out.ram_addr),
            writable: out.prot & abi::HSPT_PROT_WRITE != 0,
            lg_page_size: out.lg_page_size,
        })
    };
    let sections = e
        .pool
        .revalidate_kernel_sections(|page| probe_in_hook(probe, page).and_then(translation));
    // The other pages, at most KERNEL_LISTED_PAGES: one probe each.
    let done = e.pool.revalidate(slot, |page| {
        probe_in_hook(probe, page).and_then(translation)
    });
    e.pending.kernel_revalidations += 1;
    e.pending.kernel_sections_kept += sections;
    e.pending.kernel_pages_kept += done.kept + done.downgraded;
    e.pending.pages_invalidated += done.unmapped;
    e.pending.kernel_revalidation_ns += now_ns().saturating_sub(started);
    true
}

/// A new window for a context whose evicted window's page list was kept:
/// map those pages that still translate for user mode, in runs
/// ([`pool::Pool::restore`]). Called from the user-mode entry hook, like
/// [`revalidate`]; its time is the window's cost for the policy.
pub(super) fn restore(e: &mut Engine, slot: Slot) {
    let Some(probe) = handler().and_then(|h| h.user_probe()) else {
        return;
    };
    let started = now_ns();
    let done = e.pool.restore(slot, |page| probe_in_hook(probe, page));
    let spent = now_ns().saturating_sub(started);
    e.pending.restorations += 1;
    e.pending.pages_restored += done.pages;
    e.pending.pages_mapped += done.pages;
    e.pending.restoration_ns += spent;
    e.stay_fault_ns += spent;
}
