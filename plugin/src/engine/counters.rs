//! Per-process SPT counters: what the engine did for the current
//! process since the last hook (the signal handler cannot lock, so it
//! counts into the engine and the stats path takes them at each hook).

/// Per-process SPT counters, charged to the current process at each hook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SptCounters {
    /// Faults on a page not mapped in the window.
    pub miss_unmapped: u64,
    /// Faults writing a page mapped read-only.
    pub miss_permission: u64,
    /// Writes to a page holding translated code (run through the softmmu).
    pub miss_code: u64,
    /// MMIO, ROM, watchpoints, the top of the address space (softmmu).
    pub miss_special: u64,
    /// Faults that were the guest's own page faults.
    pub guest_faults: u64,
    pub pages_mapped: u64,
    /// Of those, pages mapped by fault-around with a faulting neighbour.
    pub pages_around: u64,
    /// Pages mapped on the way back to user mode after a window fault
    /// became the guest's page fault (saving the retry's second fault).
    pub pages_premapped: u64,
    /// User-mode entries that ran through the softmmu (warm-up, fallback).
    pub entries_softmmu: u64,
    /// Times the context was moved to the softmmu because its window
    /// thrashed (evicted again and again, refaulting).
    pub fallbacks: u64,
    /// Pages unmapped and windows reset by TLB maintenance and flushes.
    pub pages_invalidated: u64,
    pub windows_reset: u64,
    /// Mappings made read-only because code was translated from the page.
    pub code_protects: u64,
    /// Window faults taken, and the fault handler's time on them (signal
    /// delivery not included; a fault that became the guest's own page
    /// fault leaves the handler without its time being taken).
    pub faults: u64,
    pub fault_ns: u64,
    /// Times the context's window was taken by another (LRU eviction).
    pub evictions: u64,
    /// Stale windows revalidated on entry to user mode after a global
    /// flush, and the mappings they kept (read-only ones included).
    pub revalidations: u64,
    pub pages_kept: u64,
    /// Time those revalidations took (the probes and the unmaps).
    pub revalidation_ns: u64,
    /// New windows of contexts whose evicted window's pages were mapped
    /// again at once ([`super::pool::Pool::restore`]), those pages, and the time.
    pub restorations: u64,
    pub pages_restored: u64,
    pub restoration_ns: u64,
    /// The kernel window (`kernel=on`): faults on it, the handler's time on
    /// them, the pages they mapped, the faulting accesses run through the
    /// softmmu instead (to user memory: non-global translations; special
    /// memory; stores to code pages), and its resets (full softmmu flushes
    /// of the PL1 index).
    pub kernel_faults: u64,
    pub kernel_fault_ns: u64,
    pub kernel_pages_mapped: u64,
    pub kernel_softmmu_user: u64,
    pub kernel_softmmu_special: u64,
    pub kernel_softmmu_code: u64,
    /// ... and accesses to pages remapped too often (the kernel
    /// window's `RemapCounts`).
    pub kernel_softmmu_remapped: u64,
    pub kernel_resets: u64,
    /// Revalidations of the kernel window after TLBIALL (instead of a
    /// reset), the pages they kept, and their time.
    pub kernel_revalidations: u64,
    /// (pages checked one by one; sections checked whole)
    pub kernel_pages_kept: u64,
    pub kernel_sections_kept: u64,
    pub kernel_revalidation_ns: u64,
}

impl SptCounters {
    pub fn add(&mut self, o: &SptCounters) {
        self.miss_unmapped += o.miss_unmapped;
        self.miss_permission += o.miss_permission;
        self.miss_code += o.miss_code;
        self.miss_special += o.miss_special;
        self.guest_faults += o.guest_faults;
        self.entries_softmmu += o.entries_softmmu;
        self.fallbacks += o.fallbacks;
        self.pages_mapped += o.pages_mapped;
        self.pages_around += o.pages_around;
        self.pages_premapped += o.pages_premapped;
        self.pages_invalidated += o.pages_invalidated;
        self.windows_reset += o.windows_reset;
        self.code_protects += o.code_protects;
        self.faults += o.faults;
        self.fault_ns += o.fault_ns;
        self.evictions += o.evictions;
        self.revalidations += o.revalidations;
        self.pages_kept += o.pages_kept;
        self.revalidation_ns += o.revalidation_ns;
        self.restorations += o.restorations;
        self.pages_restored += o.pages_restored;
        self.restoration_ns += o.restoration_ns;
        self.kernel_faults += o.kernel_faults;
        self.kernel_fault_ns += o.kernel_fault_ns;
        self.kernel_pages_mapped += o.kernel_pages_mapped;
        self.kernel_softmmu_user += o.kernel_softmmu_user;
        self.kernel_softmmu_special += o.kernel_softmmu_special;
        self.kernel_softmmu_code += o.kernel_softmmu_code;
        self.kernel_softmmu_remapped += o.kernel_softmmu_remapped;
        self.kernel_resets += o.kernel_resets;
        self.kernel_revalidations += o.kernel_revalidations;
        self.kernel_pages_kept += o.kernel_pages_kept;
        self.kernel_sections_kept += o.kernel_sections_kept;
        self.kernel_revalidation_ns += o.kernel_revalidation_ns;
    }

    /// Faults that ended in a completed access (each one access).
    pub fn misses(&self) -> u64 {
        self.miss_unmapped + self.miss_permission + self.miss_code + self.miss_special
    }
}
