/*
 * HSPT accelerator <-> patched QEMU: the C ABI.
 *
 * This header is the single source of truth. The QEMU patch series carries
 * an identical copy as include/exec/hspt-abi.h (tests/check-abi-copy.sh
 * fails if they differ); the plugin's Rust side is generated from it by
 * bindgen (shim/build.rs).
 *
 * All hooks are called on the thread of the vCPU they name, synchronously,
 * with the BQL not necessarily held. They must not call back into QEMU
 * other than through the public plugin API.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HSPT_ABI_H
#define HSPT_ABI_H

#include <stdint.h>

/* Bumped on any incompatible change to this file. */
#define HSPT_ABI_VERSION 12

/* Guest TLB-maintenance operations (AArch32 CP15 c8), as executed. */
enum hspt_tlbi_kind {
    HSPT_TLBI_ALL = 0,     /* TLBIALL, ITLBIALL, DTLBIALL: whole TLB */
    HSPT_TLBI_ASID = 1,    /* TLBIASID (and I/D forms): operand = ASID */
    HSPT_TLBI_MVA = 2,     /* TLBIMVA (and I/D forms): operand = MVA | ASID */
    HSPT_TLBI_MVAA = 3,    /* TLBIMVAA: operand = MVA, all ASIDs */
    HSPT_TLBI_ALL_IS = 4,  /* TLBIALLIS */
    HSPT_TLBI_ASID_IS = 5, /* TLBIASIDIS */
    HSPT_TLBI_MVA_IS = 6,  /* TLBIMVAIS */
    HSPT_TLBI_MVAA_IS = 7, /* TLBIMVAAIS */
    HSPT_TLBI_OTHER = 8,   /* hypervisor / stage 2 forms: operand = raw */
    HSPT_TLBI_KINDS = 9
};

/* TLB flushes QEMU makes on its own when a system register changes. */
enum hspt_flush_reason {
    HSPT_FLUSH_DACR = 0,       /* domain access control: not in QEMU's TLB */
    HSPT_FLUSH_CONTEXTIDR = 1, /* ASID change, short descriptors */
    HSPT_FLUSH_TTBR = 2,       /* ASID change in a 64-bit TTBR write (LPAE) */
    HSPT_FLUSH_TTBCR = 3,      /* TTBCR write, LPAE (A1 may move the ASID) */
    HSPT_FLUSH_SCTLR = 4,      /* MMU on/off, ... */
    HSPT_FLUSH_FCSEIDR = 5,    /* fast context switch extension PID */
    HSPT_FLUSH_MEMORY_MAP = 6, /* the guest physical memory map changed */
    HSPT_FLUSH_REASONS = 7
};

/* What changed in the guest's translation context. */
enum hspt_context_event {
    HSPT_CTX_CONTEXTIDR = 0, /* CONTEXTIDR written (ASID for short descs) */
    HSPT_CTX_TTBR0 = 1,
    HSPT_CTX_TTBR1 = 2,
    HSPT_CTX_TTBCR = 3,
    HSPT_CTX_DACR = 4,
    HSPT_CTX_SCTLR = 5,
    HSPT_CTX_MODE = 6,       /* entered or left user mode (PL0) */
    HSPT_CTX_EVENTS = 7
};

/* The current (banked, as the guest sees it) translation state. */
struct hspt_arm_context {
    uint64_t ttbr0;
    uint64_t ttbr1;
    uint32_t contextidr;
    uint32_t ttbcr;
    uint32_t dacr;
    uint32_t sctlr;
    uint32_t mode;       /* CPSR.M after the event */
    uint32_t prev_mode;  /* CPSR.M before the event (HSPT_CTX_MODE only) */
    uint32_t regs_sp;    /* r13 of the mode after the event */
    uint32_t long_desc;  /* 1 if the LPAE long-descriptor format is in use */
};

#define HSPT_ARM_MODE_USR 0x10

/*
 * hspt_accel_ops.flags: the accelerator maps guest RAM into windows, so
 * QEMU refuses at start-up guest RAM that is not a shared file.
 */
#define HSPT_ACCEL_MAPS_RAM 1
/*
 * hspt_accel_ops.flags: a DACR write flushes only the softmmu TLB entries
 * whose domain changed (PL0 entries lazily, before they are used).
 */
#define HSPT_ACCEL_PRECISE_FLUSH 2
/* hspt_accel_ops.flags: a softmmu TLB that fills up grows at once. */
#define HSPT_ACCEL_GROW_TLB 4
/*
 * hspt_accel_ops.flags: count guest memory accesses: each block adds the
 * number of loads and stores it was translated with to a per-vCPU counter
 * (hspt_qemu_api.mem_accesses) when it starts, one add per block instead
 * of code after every access. A block left early (an exception) or with
 * condition-failed accesses counts them all the same.
 */
#define HSPT_ACCEL_COUNT_ACCESSES 8
/*
 * hspt_accel_ops.flags: with HSPT_ACCEL_PRECISE_FLUSH, an ASID change and
 * TLBIASID flush only the softmmu TLB entries of non-global translations,
 * and the jump cache keeps the kernel's blocks.
 */
#define HSPT_ACCEL_KEEP_GLOBAL 16
/*
 * hspt_accel_ops.flags: with HSPT_ACCEL_PRECISE_FLUSH, after TLBIALL the
 * jump cache keeps each kernel block whose page the current translation
 * tables still map to the same RAM page (checked at once).
 */
#define HSPT_ACCEL_REVALIDATE 32
/*
 * hspt_accel_ops.flags: with HSPT_ACCEL_PRECISE_FLUSH, PL1 (kernel) code
 * may address guest memory through a window too. context_event's return
 * value then also counts for every event after which the guest is at PL1:
 * 1 if GS now points at a window that blocks of the PL1 MMU index may use,
 * 0 if they may not. Softmmu flushes of that MMU index are reported
 * through kernel_softmmu_flush, apart from user mode's.
 */
#define HSPT_ACCEL_KERNEL_WINDOW 64
/*
 * hspt_accel_ops.flags: a flush of whole MMU indexes marks their jump
 * cache entries for checking at next use instead of dropping them: a
 * block stays if its address still translates to the same RAM.
 */
#define HSPT_ACCEL_LAZY_JMP_CACHE 128
/*
 * hspt_accel_ops.flags: each indirect branch of translated code that a
 * target allows keeps its last target inline, so that branching there
 * again skips helper_lookup_tb_ptr() (see tb-jmp-cache.h).
 */
#define HSPT_ACCEL_BRANCH_CACHE 256
/*
 * hspt_accel_ops.flags: with HSPT_ACCEL_REVALIDATE and
 * HSPT_ACCEL_LAZY_JMP_CACHE, the walks that made the kernel's executable
 * global TLB entries are kept; if at a TLBIALL each still reads the same
 * descriptors, the kernel's jump cache entries stay current instead of
 * being checked again at their next use.
 */
#define HSPT_ACCEL_KERNEL_CODE_WALKS 512

#define HSPT_PROT_READ  1
#define HSPT_PROT_WRITE 2

/* What hspt_qemu_api.fill found for a faulting window access. */
enum hspt_fill_result {
    HSPT_FILL_RAM = 0,      /* map @fd at @fd_offset with @prot */
    /* A write to a page holding translated code (at @ram_addr). */
    HSPT_FILL_CODE = 1,
    /*
     * Never mappable: MMIO, ROM, flash, a watchpoint, anything but plain
     * RAM in a shared file. The softmmu performs the access.
     */
    HSPT_FILL_SPECIAL = 2
};

struct hspt_fill {
    int32_t fd;
    uint32_t prot;          /* HSPT_PROT_* */
    uint64_t fd_offset;     /* of the page, in @fd */
    uint64_t ram_addr;      /* of the page, QEMU's ram_addr_t */
    /*
     * log2 of the size of the guest mapping the page belongs to (12 for a
     * small page, 16 large page, 20 section, 24 supersection): an
     * invalidation of any page in it invalidates all of it.
     */
    uint32_t lg_page_size;
    uint32_t attrs;         /* HSPT_FILL_ATTR_* */
};

/* hspt_fill.attrs: the translation is not global (ARM: nG, tagged by ASID). */
#define HSPT_FILL_ATTR_NOT_GLOBAL 1

/*
 * Services of the patched QEMU, handed to the accelerator at registration.
 * The first three may only be called from a SIGSEGV handler running on a
 * vCPU thread, for a fault whose host PC is in generated code (checked
 * with in_generated_code): no QEMU lock is held then.
 */
struct hspt_qemu_api {
    uint32_t abi_version;
    uint32_t size;
    /* 1 if @host_pc lies in TCG generated code. */
    int (*in_generated_code)(uintptr_t host_pc);
    /*
     * Translate the faulting guest access through the softmmu, for the
     * current MMU index, as the faulting instruction would. If the guest
     * must take an exception, raise it: this does not return then. For a
     * write to a code page, the translated code on it has been dealt with
     * as a softmmu store would (and may not return either).
     */
    uint32_t (*fill)(uint32_t vaddr, int is_write, uintptr_t host_pc,
                     struct hspt_fill *out);
    /*
     * Re-execute the faulting instruction through the softmmu, in a block
     * of its own. With @remember, blocks starting at this block's code
     * address are translated without the window from now on. Does not
     * return.
     */
    void (*reexecute)(uintptr_t host_pc, int remember);
    /* Set-up checks, for the accelerator's refusal messages. */
    int (*vcpu_count)(void);
    int (*icount_or_replay)(void);
    /*
     * What @fill would give for a load from @vaddr, for the MMU index of
     * user mode, without ever raising anything: HSPT_FILL_RAM with @out
     * filled in, or HSPT_FILL_SPECIAL when the page is not mappable now (no
     * valid translation, MMIO, watchpoint, ...). Called from the SIGSEGV
     * handler like @fill (to map a faulting page's neighbours in the same
     * mmap()), or from a context_event hook entering user mode (to map a
     * page the guest kernel just made valid before user code touches it).
     */
    uint32_t (*probe)(uint32_t vaddr, struct hspt_fill *out);
    /*
     * The per-vCPU counter of HSPT_ACCEL_COUNT_ACCESSES, for the vCPU with
     * @vcpu_index: read it on that vCPU's thread or after the vCPUs stopped.
     * Generated code may keep it in a host register: it is up to date in
     * hooks and services called from generated code, after the vCPU left
     * generated code, and in the SIGSEGV handler after @fault_entered.
     */
    uint64_t (*mem_accesses)(unsigned int vcpu_index);
    /*
     * The softmmu TLB flush counters of the vCPU with @vcpu_index, as
     * "info jit" sums them: @counts[0] full flushes, [1] partial flushes
     * (MMU indexes flushed), [2] elided flushes (of indexes that were
     * already empty).
     */
    void (*tlb_flush_counts)(unsigned int vcpu_index, uint64_t counts[3]);
    /*
     * As @probe, for the MMU index of PL1 (the kernel window's,
     * HSPT_ACCEL_KERNEL_WINDOW): from the SIGSEGV handler as @probe, or
     * from a kernel_softmmu_flush hook.
     */
    uint32_t (*probe_kernel)(uint32_t vaddr, struct hspt_fill *out);
    /*
     * Invalidate all translated code of the RAM page at @ram_addr. QEMU
     * tracks code per page: while any block is left on it, each store to
     * the page goes the softmmu's slow path, which for a window means one
     * HSPT_FILL_CODE fault per store (a page that held code and is reused
     * as data gets written whole). From the SIGSEGV handler, after @fill
     * gave HSPT_FILL_CODE; the faulting store must then be re-executed
     * (its own block may be gone).
     */
    void (*drop_code_page)(uint64_t ram_addr);
    /*
     * First thing in the SIGSEGV handler, for a fault in generated code:
     * @ucontext is the handler's third argument. Stores what generated code
     * keeps in host registers (the counter of HSPT_ACCEL_COUNT_ACCESSES)
     * to the vCPU, so that @fill and @reexecute, which may leave the
     * handler through cpu_loop_exit(), do not lose it.
     */
    void (*fault_entered)(const void *ucontext);
};

struct hspt_accel_ops {
    uint32_t abi_version;    /* HSPT_ABI_VERSION */
    uint32_t size;           /* sizeof(struct hspt_accel_ops) */
    void *opaque;            /* passed back to every hook */
    uint32_t flags;          /* HSPT_ACCEL_* */

    /*
     * A context register was written, or user mode entered/left. For
     * HSPT_CTX_MODE events entering user mode, return 1 if the GS segment
     * base now points at a window for this context and user-mode code may
     * address guest memory through it, 0 otherwise. Ignored otherwise,
     * except with HSPT_ACCEL_KERNEL_WINDOW (see there).
     */
    int (*context_event)(void *opaque, unsigned int vcpu_index,
                         uint32_t event, const struct hspt_arm_context *ctx);
    /* The guest executed a TLB-maintenance operation (enum hspt_tlbi_kind). */
    void (*tlb_maintenance)(void *opaque, unsigned int vcpu_index,
                            uint32_t kind, uint64_t operand);
    /* QEMU flushed its TLB on its own (enum hspt_flush_reason). */
    void (*qemu_flush)(void *opaque, unsigned int vcpu_index, uint32_t reason);
    /*
     * Translated code is about to be made from the RAM page at @ram_addr:
     * no window may keep a writable mapping of it.
     */
    void (*protect_code)(void *opaque, uint64_t ram_addr);
    /*
     * QEMU's softmmu dropped its TLB entries for guest virtual addresses
     * [@vaddr, @vaddr + @len) (@len 0: every address) of the MMU index that
     * user-mode blocks address through the window, for whatever reason:
     * the guest's TLB maintenance and the register writes reported above
     * (each reported before its flush), and all the others: watchpoints
     * inserted or removed, CPU reset, the debugger, ... Called on the
     * vCPU's thread.
     */
    void (*softmmu_flush)(void *opaque, unsigned int vcpu_index,
                          uint64_t vaddr, uint64_t len);
    /*
     * As @softmmu_flush, for the MMU index that PL1 blocks address through
     * the kernel window (HSPT_ACCEL_KERNEL_WINDOW): every flush of it,
     * whoever asked, the guest's TLB maintenance, a DACR write's flush of
     * the domains that changed and an ASID change's of the non-global
     * pages included. Called right after the entries went (before any
     * guest access), so that @probe_kernel sees the guest's tables.
     */
    void (*kernel_softmmu_flush)(void *opaque, unsigned int vcpu_index,
                                 uint64_t vaddr, uint64_t len);
};

/*
 * Exported by the patched QEMU to plugins (plugin_id is the
 * qemu_plugin_id_t given to qemu_plugin_install). Returns 0 and QEMU's
 * services in *@api, or -1 if the ABI version or size does not match or an
 * accelerator is already registered. @ops must stay valid until QEMU
 * exits. Inside QEMU the declaration comes from qemu-plugin.h instead.
 */
#ifndef HSPT_ABI_INSIDE_QEMU
int qemu_plugin_hspt_register(uint64_t plugin_id,
                              const struct hspt_accel_ops *ops,
                              const struct hspt_qemu_api **api);
#endif

#endif /* HSPT_ABI_H */
