/*
 * A small bare-metal harness for ARMv7-A (cortex-a15 on -M virt), PL1 with
 * its own short-descriptor page tables, output on the PL011 UART.
 *
 * - output: pr() (printf subset: %s %c %d %u %x, width and 0 flag),
 *   note() prints one line prefixed with the current case's name;
 * - CP15: TTBR0/1, TTBCR, DACR, CONTEXTIDR (ASID), SCTLR, TLB maintenance;
 * - page tables: sections, supersections, 64 KiB large and 4 KiB small
 *   pages with AP bits, domain, nG, XN, memory type (map flags below);
 * - physical memory: pa_alloc() hands out RAM whose every 4 KiB page holds
 *   its own physical address in its first 16 words ("stamped"), so a load
 *   through any mapping shows which physical page it reached;
 * - user mode: run_user() runs a function (ARM or Thumb) in USR and comes
 *   back by SVC;
 *   run_ops() runs a list of single-instruction accesses in USR or PL1 and
 *   prints each result (value, or the fault it raised, with a check
 *   against the architecturally required answer when one is given).
 *
 * Aborts: the data abort handler prints DFSR/DFAR and skips the faulting
 * instruction (faults are part of the output); a prefetch abort in user
 * mode ends that user run.
 */
#ifndef HARNESS_H
#define HARNESS_H

typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef unsigned long long u64;

#define SZ_4K 0x1000u
#define SZ_64K 0x10000u
#define SZ_1M 0x100000u
#define SZ_16M 0x1000000u

#define RAM_BASE 0x40000000u
/* The RAM the harness uses; QEMU runs with -m 4096 (tests/test_baremetal.sh),
 * so that RAM goes on to RAM_END, past 4 GiB (the LPAE case lpae_highmem). */
#define RAM_SIZE 0x08000000u
#define RAM_END 0x140000000ull
#define UART_BASE 0x09000000u

/* ------------------------------------------------------------- output */
void pr(const char *fmt, ...);
void note(const char *fmt, ...);
void fatal(const char *msg) __attribute__((noreturn));
void system_off(void) __attribute__((noreturn));
extern const char *cur_case;

/* ------------------------------------------------------------- CP15 */
static inline void dsb(void) { __asm__ volatile("dsb sy" ::: "memory"); }
static inline void isb(void) { __asm__ volatile("isb" ::: "memory"); }

#define CP15_WRITE(name, op1, crn, crm, op2)                                   \
	static inline void name(u32 v)                                         \
	{                                                                      \
		__asm__ volatile("mcr p15, " #op1 ", %0, " #crn ", " #crm     \
				 ", " #op2 ::"r"(v)                            \
				 : "memory");                                  \
	}
#define CP15_READ(name, op1, crn, crm, op2)                                    \
	static inline u32 name(void)                                           \
	{                                                                      \
		u32 v;                                                         \
		__asm__ volatile("mrc p15, " #op1 ", %0, " #crn ", " #crm     \
				 ", " #op2                                     \
				 : "=r"(v)::"memory");                         \
		return v;                                                      \
	}
CP15_WRITE(write_sctlr, 0, c1, c0, 0)
CP15_READ(read_sctlr, 0, c1, c0, 0)
CP15_WRITE(write_ttbr0, 0, c2, c0, 0)
CP15_WRITE(write_ttbr1, 0, c2, c0, 1)
CP15_WRITE(write_ttbcr, 0, c2, c0, 2)
CP15_READ(read_ttbcr, 0, c2, c0, 2)
CP15_WRITE(write_dacr, 0, c3, c0, 0)
CP15_READ(read_dacr, 0, c3, c0, 0)
CP15_READ(read_dfsr, 0, c5, c0, 0)
CP15_READ(read_ifsr, 0, c5, c0, 1)
CP15_READ(read_dfar, 0, c6, c0, 0)
CP15_READ(read_ifar, 0, c6, c0, 2)
CP15_WRITE(write_contextidr, 0, c13, c0, 1)
CP15_WRITE(iciallu, 0, c7, c5, 0)
CP15_WRITE(bpiall, 0, c7, c5, 6)
/* TLB maintenance (local forms), with DSB before and DSB+ISB after. */
CP15_WRITE(raw_tlbiall, 0, c8, c7, 0)
CP15_WRITE(raw_tlbimva, 0, c8, c7, 1)
CP15_WRITE(raw_tlbiasid, 0, c8, c7, 2)
CP15_WRITE(raw_tlbimvaa, 0, c8, c7, 3)
CP15_WRITE(raw_tlbiallis, 0, c8, c3, 0)
CP15_WRITE(raw_tlbimvais, 0, c8, c3, 1)
CP15_WRITE(raw_tlbiasidis, 0, c8, c3, 2)
CP15_WRITE(raw_tlbimvaais, 0, c8, c3, 3)
void tlbiall(void);
void tlbimva(u32 va, u32 asid);	/* one VA, one ASID (and global entries) */
void tlbiasid(u32 asid);	/* non-global entries of that ASID */
void tlbimvaa(u32 va);		/* one VA, all ASIDs */
/* The Inner Shareable forms (what an SMP Linux kernel uses). */
void tlbiall_is(void);
void tlbimva_is(u32 va, u32 asid);
void tlbiasid_is(u32 asid);
void tlbimvaa_is(u32 va);

#define SCTLR_M (1u << 0)
#define SCTLR_A (1u << 1)
#define SCTLR_C (1u << 2)
#define SCTLR_SW (1u << 10)
#define SCTLR_Z (1u << 11)
#define SCTLR_I (1u << 12)
#define SCTLR_V (1u << 13)
#define SCTLR_TRE (1u << 28)
#define SCTLR_AFE (1u << 29)

#define DACR_NOACCESS 0u
#define DACR_CLIENT 1u
#define DACR_MANAGER 3u
/* DACR value with domain d set to v (0, CLIENT, MANAGER). */
static inline u32 dacr_with(u32 dacr, u32 d, u32 v)
{
	return (dacr & ~(3u << (2 * d))) | (v << (2 * d));
}
/* Set CONTEXTIDR (the ASID, PROCID 0) and synchronise. */
void set_asid(u32 asid);
void set_dacr(u32 dacr);
void set_sctlr(u32 v);
u32 sctlr_default(void);
#define DACR_DEFAULT 0x55555555u /* every domain client */

/* ------------------------------------------------------------- page tables */
/* Map flags: AP[2:0] (AP[2] << 2 | AP[1:0]), domain, nG, XN, memory type. */
#define AP_NONE 0u	/* no access */
#define AP_PL1 1u	/* PL1 RW, user none */
#define AP_USER_RO 2u	/* PL1 RW, user RO */
#define AP_RW 3u	/* PL1 RW, user RW */
#define AP_PL1_RO 5u	/* PL1 RO, user none */
#define AP_RO 7u	/* PL1 RO, user RO */
#define MAP_AP(f) ((f) & 7u)
#define DOM(d) (((u32)(d) & 15u) << 4)
#define MAP_DOM(f) (((f) >> 4) & 15u)
#define NG (1u << 8)
#define XN (1u << 9)
#define DEVICE (1u << 10) /* shared device memory; default normal WB-WA */

extern u32 *kernel_l1; /* the table set up by mmu_init(), TTBR0 */

/* A zeroed 16 KiB first-level table with the kernel's identity map. */
u32 *l1_new(void);
/* A zeroed 16 KiB first-level table without the kernel map (TTBR1). */
u32 *l1_new_empty(void);
void map_section(u32 *l1, u32 va, u32 pa, u32 flags);
void map_supersection(u32 *l1, u32 va, u32 pa, u32 flags); /* domain 0 */
/* Small and large pages; the 1 MiB region's second-level table is made
 * on first use with the domain of flags (the domain is per 1 MiB). */
void map_small(u32 *l1, u32 va, u32 pa, u32 flags);
void map_large(u32 *l1, u32 va, u32 pa, u32 flags);
void unmap_section(u32 *l1, u32 va);	/* section: 1 entry, supersection: 16 */
void unmap_supersection(u32 *l1, u32 va);
void unmap_small(u32 *l1, u32 va);
void unmap_large(u32 *l1, u32 va);
/* Raw descriptor access, for cases that build unusual entries. */
volatile u32 *l1_entry(u32 *l1, u32 va);
volatile u32 *l2_entry(u32 *l1, u32 va); /* the L1 entry must be a table */
/* TTBR value for a table: walks normal WB-WA, shareable. */
u32 ttbr_of(u32 *l1);

/* Builds the kernel map (identity: RAM sections PL1 RW, global, domain 0,
 * the image's section also user RW for user code, data and stack; the
 * UART device PL1 only), sets TTBR0/TTBCR/DACR/CONTEXTIDR and turns on
 * the MMU, caches and branch prediction. */
void mmu_init(void);

/* Page-table memory: size bytes aligned to align, zeroed. */
u32 pt_alloc(u32 size, u32 align);

/* Physical RAM for tests: size bytes aligned to align, each 4 KiB page
 * stamped (words 0..15 of page P hold P + 4 * i). */
u32 pa_alloc(u32 size, u32 align);
void stamp(u32 pa, u32 size);

/* ------------------------------------------------------------- user mode */
u32 run_user(u32 (*fn)(void *), void *arg);
/* Calls fn(arg) at PL1; a prefetch abort at PL1 while it runs (reported
 * like a user one) ends the call, which then returns PABT_MARK. */
u32 call_pl1_catch(u32 (*fn)(void *), void *arg);
#define PABT_MARK 0xfa17ab00u

enum op_kind {
	OP_LD32, OP_LD16, OP_LD8, OP_LDRD, OP_LDM2, OP_LDREX, OP_LDRT,
	OP_ST32, OP_ST8, OP_STRD, OP_STM2, OP_STRT,
	OP_SWP, OP_SWPB,   /* result: the old value */
	OP_STREX,	   /* LDREX then STREX of val: result is STREX's status */
	OP_STREX_NOMON,	   /* CLREX then STREX: status (1: not stored) */
	OP_LDREXD,	   /* two words */
	/* PL1 loads and stores through helpers of their own (start.S), for
	 * global PL1 pages of the LPAE cases only: the kernel window's path. */
	OP_KLD32, OP_KST32,
};
enum op_check { CHK_NONE, CHK_VAL, CHK_FAULT, CHK_OK };
struct op {
	u32 kind, addr, val; /* val: the value a store writes */
	u32 check, want;     /* CHK_VAL: value; CHK_FAULT: fault status */
};
/* Fault status (DFSR FS[4:0]) of the short-descriptor format. */
#define FS_ALIGN 0x01
#define FS_AF_SECTION 0x03
#define FS_TRANS_SECTION 0x05
#define FS_AF_PAGE 0x06
#define FS_TRANS_PAGE 0x07
#define FS_EXT 0x08
#define FS_DOMAIN_SECTION 0x09
#define FS_DOMAIN_PAGE 0x0b
#define FS_PERM_SECTION 0x0d
#define FS_PERM_PAGE 0x0f

/*
 * Fault status of the long-descriptor format (DFSR/IFSR.LPAE, bit 9, set):
 * 0x100 | STATUS[5:0], with the level of the walk in STATUS[1:0].
 */
#define LFS_TRANS(l) (0x104 + (l))
#define LFS_AF(l) (0x108 + (l))
#define LFS_PERM(l) (0x10c + (l))
#define LFS_EXT 0x110
#define LFS_ALIGN 0x121

#define LD(a, w) { OP_LD32, (a), 0, CHK_VAL, (w) }
#define LDX(a) { OP_LD32, (a), 0, CHK_NONE, 0 }
#define LDF(a, fs) { OP_LD32, (a), 0, CHK_FAULT, (fs) }
#define ST(a, v) { OP_ST32, (a), (v), CHK_OK, 0 }
#define STF(a, v, fs) { OP_ST32, (a), (v), CHK_FAULT, (fs) }
#define OPX(k, a, v) { (k), (a), (v), CHK_NONE, 0 }
#define OPV(k, a, v, w) { (k), (a), (v), CHK_VAL, (w) }
#define OPF(k, a, v, fs) { (k), (a), (v), CHK_FAULT, (fs) }
#define OPOK(k, a, v) { (k), (a), (v), CHK_OK, 0 }
#define N_OPS(a) ((int)(sizeof(a) / sizeof((a)[0])))

#define IN_USER 1
#define IN_PL1 0
/* Runs the ops (in user mode or at PL1), prints one line per op; returns
 * the number of results that differ from the required answer. */
int run_ops(int user, const struct op *ops, int n);
/* The same, printing only the results that differ from the required one
 * (for long loops of fixed results). */
int run_ops_quiet(int user, const struct op *ops, int n);

/* Fault bookkeeping, updated by the abort handlers (user readable). */
extern volatile u32 fault_seq, fault_dfsr, fault_dfar;
static inline u32 fs_of(u32 fsr)
{
	if (fsr & (1u << 9)) /* long-descriptor format */
		return 0x100 | (fsr & 0x3f);
	return (fsr & 0xf) | ((fsr >> 6) & 0x10);
}
const char *fs_name(u32 fs);

/* ------------------------------------------------------------- LPAE */
/*
 * Long-descriptor translation tables (TTBCR.EAE=1, lpae.c): 64-bit
 * descriptors, level 1 (1 GiB blocks or tables), level 2 (2 MiB blocks or
 * tables), level 3 (4 KiB pages); the ASID in TTBR0[55:48], or TTBR1's
 * with TTBCR.A1; MAIR0 attribute 0 normal write-back memory, 1 Device.
 * A tree covers one TTBR's range; its root level follows from its TxSZ
 * (0, 1: level 1; 2..7: level 2). Every case that uses them starts with
 * lpae_enter(); case_reset() goes back to the short-descriptor tables.
 */
#define SZ_2M 0x200000u
#define SZ_1G 0x40000000u

/* Map flags (lmap_*): AP[2:1], nG, XN, PXN, memory type, AF. */
#define L_PL1 0u	 /* AP[2:1]=00: PL1 RW, user none */
#define L_RW 1u		 /* 01: PL1 RW, user RW */
#define L_PL1_RO 2u	 /* 10: PL1 RO, user none */
#define L_RO 3u		 /* 11: PL1 RO, user RO */
#define L_NG (1u << 2)	 /* nG, bit 11 */
#define L_XN (1u << 3)	 /* XN, bit 54 */
#define L_PXN (1u << 4)	 /* PXN, bit 53 */
#define L_DEVICE (1u << 5) /* AttrIndx 1 (Device); default 0, normal, inner shareable */
#define L_NOAF (1u << 6) /* AF (bit 10) clear */
/* Table descriptor attributes (lpt_table_attrs). */
#define LT_PXN (1ull << 59)	 /* PXNTable */
#define LT_XN (1ull << 60)	 /* XNTable */
#define LT_NO_PL0 (1ull << 61) /* APTable[0]: no user access below */
#define LT_NO_WRITE (1ull << 62) /* APTable[1]: no write below */

#define TTBCR_EAE (1u << 31)
#define TTBCR_T0SZ(n) ((u32)(n) & 7u)
#define TTBCR_T1SZ(n) (((u32)(n) & 7u) << 16)
#define TTBCR_EPD0 (1u << 7)
#define TTBCR_EPD1 (1u << 23)
#define TTBCR_A1 (1u << 22)
#define LPAE_MAIR0 0x000004ffu /* Attr0 0xff normal WB RW-allocate, Attr1 0x04 Device */

struct lpt {
	u64 *root;
	u32 tsz; /* T0SZ or T1SZ of the TTBR it is for */
};
/* A tree with an empty root table (4 KiB). */
void lpt_new(struct lpt *t, u32 tsz);
/* 4 KiB page, 2 MiB block, 1 GiB block (root level 1 only); pa is 40-bit.
 * The tables on the way are made on first use. */
void lmap_page(struct lpt *t, u32 va, u64 pa, u32 flags);
void lmap_block(struct lpt *t, u32 va, u64 pa, u32 flags);
void lmap_gblock(struct lpt *t, u32 va, u64 pa, u32 flags);
void lunmap(struct lpt *t, u32 va, int level); /* the entry at that level */
/* The descriptor for va at level (1..3); the levels above must be tables. */
volatile u64 *lpt_entry(struct lpt *t, u32 va, int level);
/* ORs table attributes (LT_*) into the table descriptor at level (1, 2)
 * on va's walk (made if missing). */
void lpt_table_attrs(struct lpt *t, u32 va, int level, u64 attrs);
/* The harness's identity map (RAM as 2 MiB blocks, PL1 RW, global, the
 * image's block user RW; the UART, Device, PL1): in a tree covering
 * 0x09000000..RAM_BASE + RAM_SIZE. */
void lmap_kernel(struct lpt *t);
/* TTBR value: the root with asid in bits 55:48. */
u64 lttbr(const struct lpt *t, u32 asid);

static inline void write_ttbr0_64(u64 v)
{
	__asm__ volatile("mcrr p15, 0, %Q0, %R0, c2" ::"r"(v) : "memory");
}
static inline void write_ttbr1_64(u64 v)
{
	__asm__ volatile("mcrr p15, 1, %Q0, %R0, c2" ::"r"(v) : "memory");
}
/* TTBR0/TTBR1 write (64-bit), then ISB: no TLB maintenance. */
void lset_ttbr0(u64 v);
void lset_ttbr1(u64 v);
/* TTBCR write (EAE and the walk attributes added), then ISB. */
void lset_ttbcr(u32 ttbcr);
/* Into the long-descriptor format: MMU off, MAIR0/1, TTBR0/1, TTBCR (EAE
 * added), TLBIALL, MMU on. The trees must map the running harness. */
void lpae_enter(u32 ttbcr, u64 ttbr0, u64 ttbr1);
/* Back to the short-descriptor format with the MMU off (case_reset()). */
void lpae_leave(void);
void lpae_save_short_state(void); /* PRRR/NMRR, at mmu_init() */

/* Code pages (tests.c): make stored code visible to instruction fetch;
 * store "mov r0, #v; bx lr" at pa. */
void sync_code(void);
void put_return(u32 pa, u32 v);

/* The LPAE cases (tests_lpae.c). */
void t_lpae_basic(void);
void t_lpae_asid(void);
void t_lpae_a1(void);
void t_lpae_pan(void);
void t_lpae_pan_t1sz1(void);
void t_lpae_ttbcr(void);
void t_lpae_highmem(void);
void t_lpae_code(void);
void t_lpae_ttbcr_global(void);
void t_lpae_a1_tlbiasid(void);
void t_lpae_kernel_block(void);

/* Cases */
struct test_case {
	const char *name;
	void (*fn)(void);
};
extern int unexpected_total;

#endif
