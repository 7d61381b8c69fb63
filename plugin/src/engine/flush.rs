//! The flush dispatch: what each guest TLB maintenance operation, each
//! of QEMU's own flushes (register writes) and each softmmu flush report
//! unmaps from the windows (invariant `flush-covers`), and which full
//! flushes an announcement already explained (the window key covers
//! DACR, CONTEXTIDR and TTBR: invariant `keyed-by-context`).

use hspt_shim as abi;

use super::pool::{self, WindowKey};
use super::{revalidate, Engine};

/// A softmmu range flush of more pages than this resets every window
/// instead of unmapping page by page.
const LARGE_FLUSH_PAGES: u64 = 1024;

/// The pages of a softmmu range flush, or None if there are too many to
/// unmap one by one (the window is reset instead).
fn flushed_pages(vaddr: u64, len: u64) -> Option<impl Iterator<Item = u32>> {
    let first = vaddr & !(pool::PAGE as u64 - 1);
    let end = vaddr.saturating_add(len).min(pool::WINDOW_SIZE as u64);
    ((end.saturating_sub(first)) / pool::PAGE as u64 <= LARGE_FLUSH_PAGES)
        .then(|| (first..end).step_by(pool::PAGE).map(|p| p as u32))
}

impl Engine {
    /// The flush path: what guest TLB maintenance unmaps (invariant
    /// `flush-covers`).
    pub fn tlb_maintenance(&mut self, kind: u32, operand: u64) {
        let vaddr = (operand as u32) & !0xfff;
        let asid = (operand & 0xff) as u16;
        match kind {
            // By MVA (with ASID, or all ASIDs): that page, in every user
            // window. TLBIMVA also removes global entries of any ASID, so
            // all windows, not only the ASID's, may hold it. The kernel
            // window's goes with QEMU's flush of the page that follows.
            abi::HSPT_TLBI_MVA
            | abi::HSPT_TLBI_MVA_IS
            | abi::HSPT_TLBI_MVAA
            | abi::HSPT_TLBI_MVAA_IS => {
                self.pending.pages_invalidated += self.pool.unmap_user_page(vaddr);
            }
            abi::HSPT_TLBI_ASID | abi::HSPT_TLBI_ASID_IS => self.global_flush(|k| k.asid == asid),
            abi::HSPT_TLBI_ALL | abi::HSPT_TLBI_ALL_IS => self.global_flush(|_| true),
            _ => self.reset_all(),
        }
        self.kernel_flush_may_revalidate = matches!(
            kind,
            abi::HSPT_TLBI_ALL
                | abi::HSPT_TLBI_ALL_IS
                | abi::HSPT_TLBI_ASID
                | abi::HSPT_TLBI_ASID_IS
        );
        // Each of these is followed by a full softmmu flush (the by-MVA and
        // hypervisor forms by page or range flushes, which explain nothing).
        self.full_flush_explained = matches!(
            kind,
            abi::HSPT_TLBI_ALL
                | abi::HSPT_TLBI_ALL_IS
                | abi::HSPT_TLBI_ASID
                | abi::HSPT_TLBI_ASID_IS
        );
    }

    /// A guest TLBIALL, or TLBIASID (`pred` picks the windows of its
    /// ASID): with `revalidate`, the windows keep their mappings until their
    /// context next enters user mode, which checks each against the guest's
    /// tables then (a TLB may reload any valid translation at any time);
    /// else they are reset.
    fn global_flush(&mut self, pred: impl Fn(&WindowKey) -> bool) {
        let policy = &mut self.policy;
        if self.revalidate {
            let (_, reset) = self
                .pool
                .mark_stale_where(pred, |k, n| policy.lost_window(&k, n));
            self.pending.windows_reset += reset;
        } else {
            self.pending.windows_reset += self
                .pool
                .reset_where(pred, |k, n| policy.lost_window(&k, n));
        }
    }

    /// Every window loses its mappings, the kernel window too.
    pub(super) fn reset_all(&mut self) {
        self.reset_user_windows();
        self.reset_kernel_window();
    }

    /// Every user window loses its mappings; the contexts that owned
    /// populated ones learn it (a kernel that flushes everything on each
    /// fork, as Debian's does for ARM erratum 720789, makes windows thrash).
    fn reset_user_windows(&mut self) {
        let policy = &mut self.policy;
        self.pending.windows_reset += self
            .pool
            .reset_user_windows(|k, n| policy.lost_window(&k, n));
    }

    fn reset_kernel_window(&mut self) {
        if let Some(kernel) = self.pool.kernel_slot() {
            if self.pool.mapped_pages(kernel) > 0 {
                self.pool.reset(kernel);
                self.pending.kernel_resets += 1;
            }
        }
    }

    /// QEMU's own flushes. DACR, CONTEXTIDR, TTBR (ASID) and TTBCR
    /// changes are part of the window key (invariant `keyed-by-context`:
    /// the key has the ASID in use, whichever register holds it, and both
    /// TTBRs and TTBCR whole): nothing to drop. The rest may change any
    /// translation: drop everything.
    pub fn qemu_flush(&mut self, reason: u32) {
        match reason {
            abi::HSPT_FLUSH_DACR
            | abi::HSPT_FLUSH_CONTEXTIDR
            | abi::HSPT_FLUSH_TTBR
            | abi::HSPT_FLUSH_TTBCR => {}
            _ => self.reset_all(),
        }
        // Every reported register write is followed by a flush of QEMU's
        // whole TLB, or of PL0's (a precise flush made at user-mode entry).
        self.full_flush_explained = true;
        // ASID changes (CONTEXTIDR with short descriptors, a TTBR with
        // long ones). Not TTBCR: a TTBR0 PAN kernel writes it at every
        // kernel entry, where revalidating would cost more than it saves.
        self.kernel_flush_may_revalidate =
            matches!(reason, abi::HSPT_FLUSH_CONTEXTIDR | abi::HSPT_FLUSH_TTBR);
    }

    /// QEMU's softmmu dropped its entries for [vaddr, vaddr + len) of the
    /// window's MMU index (len 0: all). Page and range flushes unmap those
    /// pages (again, for the guest's TLBIMVA*: cheap, nothing is mapped
    /// any more). A full flush right after a guest TLBIALL/TLBIASID or a
    /// register write reported before it was dealt with then (the window
    /// key covers DACR, CONTEXTIDR, TTBR); any other drops everything.
    pub fn softmmu_flush(&mut self, vaddr: u64, len: u64) {
        if len == 0 {
            if !self.previous_event_explains_full_flush {
                self.reset_user_windows();
            }
            // The same flush's report for the PL1 index comes next.
            self.kernel_flush_may_revalidate = self.previous_event_kernel_flush_may_revalidate;
            return;
        }
        let Some(pages) = flushed_pages(vaddr, len) else {
            self.reset_user_windows();
            return;
        };
        for page in pages {
            self.pending.pages_invalidated += self.pool.unmap_user_page(page);
        }
    }

    /// The same for the kernel window and the PL1 MMU index. It mirrors
    /// every flush: nothing is explained away, since the kernel window is
    /// not keyed by any register (a DACR write's flush of the domains that
    /// changed and an ASID change's of the non-global pages arrive here
    /// page by page, or as a full flush). The full flush of a guest
    /// TLBIALL, or of an ASID change or TLBIASID without `keep_global`,
    /// with `revalidate`, keeps the mappings whose translation the
    /// guest's tables still give, checked at once (QEMU reports the flush
    /// after the guest's TLB maintenance is done and before the next
    /// kernel access: at this point a TLB may load any valid translation).
    pub fn kernel_softmmu_flush(&mut self, vaddr: u64, len: u64) {
        let Some(kernel) = self.pool.kernel_slot() else {
            return;
        };
        let may_revalidate = self.take_kernel_flush_may_revalidate();
        if len == 0
            && may_revalidate
            && self.revalidate
            && self.pool.mapped_pages(kernel) > 0
            && self.pool.is_listed(kernel)
            && revalidate::revalidate_kernel(self, kernel)
        {
            return;
        }
        match flushed_pages(vaddr, len).filter(|_| len != 0) {
            Some(pages) => {
                for page in pages {
                    let unmapped = self.pool.unmap_kernel_page(page);
                    if unmapped > 0 {
                        self.kernel_remaps.note(pool::GuestPage::containing(page));
                    }
                    self.pending.pages_invalidated += unmapped;
                }
            }
            None => self.reset_kernel_window(),
        }
    }

    /// Whether the next full flush of the PL1 index may revalidate the
    /// kernel window instead of resetting it: it follows a guest TLBIALL,
    /// or an ASID change or TLBIASID that QEMU answered with a full flush
    /// (`keep_global=off`). Revalidation is sound after any flush (a TLB
    /// may load any translation the tables give now), so a stale flag
    /// costs a check, never a wrong mapping. Consumes the flag.
    pub(super) fn take_kernel_flush_may_revalidate(&mut self) -> bool {
        std::mem::take(&mut self.kernel_flush_may_revalidate)
    }
}
