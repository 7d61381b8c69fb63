/*
 * The bare-metal harness: output, page tables, MMU set-up, user mode, the
 * access runner and the abort reports. See harness.h.
 */
#include <stdarg.h>
#include "harness.h"

/* ------------------------------------------------------------- output */
#define UART_DR (*(volatile u32 *)(UART_BASE + 0x000))
#define UART_FR (*(volatile u32 *)(UART_BASE + 0x018))
#define UART_FR_TXFF (1u << 5)

const char *cur_case = "-";

static void putc_uart(char c)
{
	while (UART_FR & UART_FR_TXFF)
		;
	UART_DR = (u32)(unsigned char)c;
}

static void puts_uart(const char *s)
{
	while (*s)
		putc_uart(*s++);
}

static void put_num(u32 v, unsigned base, int width, char pad)
{
	char buf[12];
	int n = 0;
	do {
		u32 d = v % base;
		buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	while (n < width--)
		putc_uart(pad);
	while (n)
		putc_uart(buf[--n]);
}

static void vpr(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			putc_uart(*fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			int len = 0;
			while (s[len])
				len++;
			puts_uart(s);
			while (len++ < width)
				putc_uart(' ');
			break;
		}
		case 'c':
			putc_uart((char)va_arg(ap, int));
			break;
		case 'u':
			put_num(va_arg(ap, u32), 10, width, pad);
			break;
		case 'd': {
			int v = va_arg(ap, int);
			if (v < 0) {
				putc_uart('-');
				v = -v;
			}
			put_num((u32)v, 10, width, pad);
			break;
		}
		case 'x':
			put_num(va_arg(ap, u32), 16, width, pad);
			break;
		case '%':
			putc_uart('%');
			break;
		default:
			putc_uart('?');
			break;
		}
	}
}

void pr(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vpr(fmt, ap);
	va_end(ap);
}

void note(const char *fmt, ...)
{
	va_list ap;
	pr("[%s] ", cur_case);
	va_start(ap, fmt);
	vpr(fmt, ap);
	va_end(ap);
	putc_uart('\n');
}

void fatal(const char *msg)
{
	pr("[%s] FATAL: %s\n", cur_case, msg);
	system_off();
}

/* ------------------------------------------------------------- CP15 */
void tlbiall(void)
{
	dsb();
	raw_tlbiall(0);
	dsb();
	isb();
}

void tlbimva(u32 va, u32 asid)
{
	dsb();
	raw_tlbimva((va & ~0xfffu) | (asid & 0xffu));
	dsb();
	isb();
}

void tlbiasid(u32 asid)
{
	dsb();
	raw_tlbiasid(asid & 0xffu);
	dsb();
	isb();
}

void tlbimvaa(u32 va)
{
	dsb();
	raw_tlbimvaa(va & ~0xfffu);
	dsb();
	isb();
}

void tlbiall_is(void)
{
	dsb();
	raw_tlbiallis(0);
	dsb();
	isb();
}

void tlbimva_is(u32 va, u32 asid)
{
	dsb();
	raw_tlbimvais((va & ~0xfffu) | (asid & 0xffu));
	dsb();
	isb();
}

void tlbiasid_is(u32 asid)
{
	dsb();
	raw_tlbiasidis(asid & 0xffu);
	dsb();
	isb();
}

void tlbimvaa_is(u32 va)
{
	dsb();
	raw_tlbimvaais(va & ~0xfffu);
	dsb();
	isb();
}

void set_asid(u32 asid)
{
	dsb();
	write_contextidr(asid & 0xffu);
	isb();
}

void set_dacr(u32 dacr)
{
	write_dacr(dacr);
	isb();
}

void set_sctlr(u32 v)
{
	dsb();
	write_sctlr(v);
	isb();
}

static u32 sctlr_base;

u32 sctlr_default(void)
{
	return sctlr_base;
}

/* ------------------------------------------------------------- memory */
extern char __image_start[], __image_end[], __ops_start[], __ops_end[];

#define PT_POOL 0x40400000u
#define PT_POOL_END 0x41000000u
#define PA_POOL 0x41000000u
static u32 pt_next = PT_POOL;
static u32 pa_next = PA_POOL;

static void zero(u32 addr, u32 size)
{
	for (u32 i = 0; i < size; i += 4)
		*(volatile u32 *)(addr + i) = 0;
}

u32 pt_alloc(u32 size, u32 align)
{
	u32 a = (pt_next + align - 1) & ~(align - 1);
	if (a + size > PT_POOL_END)
		fatal("page-table pool exhausted");
	pt_next = a + size;
	zero(a, size);
	return a;
}

void stamp(u32 pa, u32 size)
{
	for (u32 p = pa; p < pa + size; p += SZ_4K)
		for (u32 i = 0; i < 16; i++)
			*(volatile u32 *)(p + 4 * i) = p + 4 * i;
}

u32 pa_alloc(u32 size, u32 align)
{
	u32 a = (pa_next + align - 1) & ~(align - 1);
	if (a + size > RAM_BASE + RAM_SIZE || a + size < a)
		fatal("test RAM exhausted");
	pa_next = a + size;
	stamp(a, size);
	dsb();
	return a;
}

/* ------------------------------------------------------------- page tables */
/* Normal memory: TEX=001 C=1 B=1 (write-back write-allocate), shareable.
 * Device: TEX=000 C=0 B=1 (shareable device). */
static u32 section_bits(u32 f)
{
	u32 ap = MAP_AP(f), d = 2;
	d |= (ap & 3) << 10 | ((ap >> 2) & 1) << 15;
	d |= MAP_DOM(f) << 5;
	if (f & NG)
		d |= 1u << 17;
	if (f & XN)
		d |= 1u << 4;
	if (f & DEVICE)
		d |= 1u << 2;
	else
		d |= 1u << 12 | 1u << 3 | 1u << 2 | 1u << 16;
	return d;
}

static u32 small_bits(u32 f)
{
	u32 ap = MAP_AP(f), d = 2;
	d |= (ap & 3) << 4 | ((ap >> 2) & 1) << 9;
	if (f & NG)
		d |= 1u << 11;
	if (f & XN)
		d |= 1u;
	if (f & DEVICE)
		d |= 1u << 2;
	else
		d |= 1u << 6 | 1u << 3 | 1u << 2 | 1u << 10;
	return d;
}

static u32 large_bits(u32 f)
{
	u32 ap = MAP_AP(f), d = 1;
	d |= (ap & 3) << 4 | ((ap >> 2) & 1) << 9;
	if (f & NG)
		d |= 1u << 11;
	if (f & XN)
		d |= 1u << 15;
	if (f & DEVICE)
		d |= 1u << 2;
	else
		d |= 1u << 12 | 1u << 3 | 1u << 2 | 1u << 10;
	return d;
}

volatile u32 *l1_entry(u32 *l1, u32 va)
{
	return (volatile u32 *)&l1[va >> 20];
}

volatile u32 *l2_entry(u32 *l1, u32 va)
{
	u32 e = *l1_entry(l1, va);
	if ((e & 3) != 1)
		fatal("l2_entry: not a page-table entry");
	return (volatile u32 *)(e & ~0x3ffu) + ((va >> 12) & 0xff);
}

u32 ttbr_of(u32 *l1)
{
	/* IRGN=01 (bit 6), RGN=01 (bits 4:3), S (bit 1) */
	return (u32)l1 | 1u << 6 | 1u << 3 | 1u << 1;
}

void map_section(u32 *l1, u32 va, u32 pa, u32 flags)
{
	*l1_entry(l1, va) = (pa & 0xfff00000u) | section_bits(flags);
}

void map_supersection(u32 *l1, u32 va, u32 pa, u32 flags)
{
	u32 d = (pa & 0xff000000u) | (section_bits(flags) & ~(15u << 5)) |
		1u << 18;
	va &= 0xff000000u;
	for (u32 i = 0; i < 16; i++)
		*l1_entry(l1, va + i * SZ_1M) = d;
}

void unmap_section(u32 *l1, u32 va)
{
	*l1_entry(l1, va) = 0;
}

void unmap_supersection(u32 *l1, u32 va)
{
	va &= 0xff000000u;
	for (u32 i = 0; i < 16; i++)
		*l1_entry(l1, va + i * SZ_1M) = 0;
}

static volatile u32 *l2_for(u32 *l1, u32 va, u32 flags)
{
	volatile u32 *e = l1_entry(l1, va);
	u32 dom = MAP_DOM(flags) << 5;
	if ((*e & 3) != 1)
		*e = pt_alloc(1024, 1024) | dom | 1;
	else if ((*e & (15u << 5)) != dom)
		*e = (*e & ~(15u << 5)) | dom; /* the domain is per 1 MiB */
	return (volatile u32 *)(*e & ~0x3ffu);
}

void map_small(u32 *l1, u32 va, u32 pa, u32 flags)
{
	l2_for(l1, va, flags)[(va >> 12) & 0xff] =
		(pa & ~0xfffu) | small_bits(flags);
}

void map_large(u32 *l1, u32 va, u32 pa, u32 flags)
{
	volatile u32 *l2 = l2_for(l1, va, flags);
	u32 first = (va >> 12) & 0xf0;
	for (u32 i = 0; i < 16; i++)
		l2[first + i] = (pa & 0xffff0000u) | large_bits(flags);
}

void unmap_small(u32 *l1, u32 va)
{
	*l2_entry(l1, va) = 0;
}

void unmap_large(u32 *l1, u32 va)
{
	va &= ~0xffffu;
	for (u32 i = 0; i < 16; i++)
		*l2_entry(l1, va + i * SZ_4K) = 0;
}

u32 *l1_new_empty(void)
{
	return (u32 *)pt_alloc(16384, 16384);
}

u32 *kernel_l1;

u32 *l1_new(void)
{
	u32 *l1 = l1_new_empty();
	u32 image = (u32)__image_start & 0xfff00000u;
	u32 image_end = ((u32)__image_end - 1) & 0xfff00000u;
	for (u32 pa = RAM_BASE; pa < RAM_BASE + RAM_SIZE; pa += SZ_1M)
		map_section(l1, pa, pa,
			    pa >= image && pa <= image_end ? AP_RW : AP_PL1);
	map_section(l1, UART_BASE, UART_BASE, AP_PL1 | DEVICE | XN);
	return l1;
}

void mmu_init(void)
{
	kernel_l1 = l1_new();
	dsb();
	write_ttbcr(0);
	write_ttbr0(ttbr_of(kernel_l1));
	write_ttbr1(0);
	write_dacr(DACR_DEFAULT);
	write_contextidr(0);
	isb();
	raw_tlbiall(0);
	iciallu(0);
	bpiall(0);
	dsb();
	isb();
	lpae_save_short_state();
	sctlr_base = (read_sctlr() & ~(SCTLR_A | SCTLR_TRE | SCTLR_AFE | SCTLR_V)) |
		     SCTLR_M | SCTLR_C | SCTLR_I | SCTLR_Z;
	set_sctlr(sctlr_base);
}

/* ------------------------------------------------------------- aborts */
volatile u32 fault_seq, fault_dfsr, fault_dfar;

static const char *mode_name(u32 spsr)
{
	switch (spsr & 0x1f) {
	case 0x10: return "usr";
	case 0x13: return "svc";
	case 0x17: return "abt";
	case 0x1b: return "und";
	case 0x1f: return "sys";
	default: return "other";
	}
}

const char *fs_name(u32 fs)
{
	switch (fs) {
	case FS_ALIGN: return "alignment";
	case FS_AF_SECTION: return "access flag, section";
	case FS_AF_PAGE: return "access flag, page";
	case FS_TRANS_SECTION: return "translation, section";
	case FS_TRANS_PAGE: return "translation, page";
	case FS_EXT: return "external abort";
	case FS_DOMAIN_SECTION: return "domain, section";
	case FS_DOMAIN_PAGE: return "domain, page";
	case FS_PERM_SECTION: return "permission, section";
	case FS_PERM_PAGE: return "permission, page";
	case LFS_TRANS(1): return "translation, level 1";
	case LFS_TRANS(2): return "translation, level 2";
	case LFS_TRANS(3): return "translation, level 3";
	case LFS_AF(1): return "access flag, level 1";
	case LFS_AF(2): return "access flag, level 2";
	case LFS_AF(3): return "access flag, level 3";
	case LFS_PERM(1): return "permission, level 1";
	case LFS_PERM(2): return "permission, level 2";
	case LFS_PERM(3): return "permission, level 3";
	case LFS_EXT: return "external abort";
	case LFS_ALIGN: return "alignment";
	default: return "other";
	}
}

void dabt_report(u32 spsr, u32 pc)
{
	u32 dfsr = read_dfsr(), dfar = read_dfar();
	if (pc < (u32)__ops_start || pc >= (u32)__ops_end) {
		pr("[%s] data abort from %s at pc 0x%08x outside the access helpers: "
		   "DFSR=0x%08x DFAR=0x%08x\n", cur_case, mode_name(spsr), pc, dfsr,
		   dfar);
		fatal("unexpected data abort");
	}
	fault_dfsr = dfsr;
	fault_dfar = dfar;
	fault_seq = fault_seq + 1;
	note("data abort from %s: DFSR=0x%08x (%s%s) DFAR=0x%08x", mode_name(spsr),
	     dfsr, fs_name(fs_of(dfsr)), dfsr & (1u << 11) ? ", write" : "", dfar);
}

/* Non-zero while call_pl1_catch() runs: its stack frame (start.S). */
extern volatile u32 pl1_catch_sp;

void pabt_report(u32 spsr, u32 pc)
{
	u32 ifsr = read_ifsr(), ifar = read_ifar();
	note("prefetch abort from %s: IFSR=0x%08x (%s) IFAR=0x%08x", mode_name(spsr),
	     ifsr, fs_name(fs_of(ifsr)), ifar);
	if ((spsr & 0x1f) != 0x10 && !pl1_catch_sp) {
		pr("[%s] at pc 0x%08x\n", cur_case, pc);
		fatal("prefetch abort at PL1");
	}
}

void und_report(u32 spsr, u32 pc)
{
	pr("[%s] undefined instruction from %s at pc 0x%08x\n", cur_case,
	   mode_name(spsr), pc);
	fatal("undefined instruction");
}

/* ------------------------------------------------------------- accesses */
typedef u64 (*op_fn_t)(u32 addr, u32 val);
extern u64 op_ld32(u32, u32), op_ld16(u32, u32), op_ld8(u32, u32),
	op_ldrd(u32, u32), op_ldm2(u32, u32), op_ldrex(u32, u32),
	op_ldrt(u32, u32), op_st32(u32, u32), op_st8(u32, u32),
	op_strd(u32, u32), op_stm2(u32, u32), op_strt(u32, u32),
	op_swp(u32, u32), op_swpb(u32, u32), op_strex(u32, u32),
	op_strex_nomon(u32, u32), op_ldrexd(u32, u32), lk_op_ld32(u32, u32),
	lk_op_st32(u32, u32);
extern void op_clrex(void);

static const struct {
	op_fn_t fn;
	const char *name;
	int store, words;
} op_info[] = {
	[OP_LD32] = { op_ld32, "ld32", 0, 1 },
	[OP_LD16] = { op_ld16, "ld16", 0, 1 },
	[OP_LD8] = { op_ld8, "ld8", 0, 1 },
	[OP_LDRD] = { op_ldrd, "ldrd", 0, 2 },
	[OP_LDM2] = { op_ldm2, "ldm2", 0, 2 },
	[OP_LDREX] = { op_ldrex, "ldrex", 0, 1 },
	[OP_LDRT] = { op_ldrt, "ldrt", 0, 1 },
	[OP_ST32] = { op_st32, "st32", 1, 1 },
	[OP_ST8] = { op_st8, "st8", 1, 1 },
	[OP_STRD] = { op_strd, "strd", 1, 2 },
	[OP_STM2] = { op_stm2, "stm2", 1, 2 },
	[OP_STRT] = { op_strt, "strt", 1, 1 },
	/* read-modify-write ops print the value they return */
	[OP_SWP] = { op_swp, "swp", 0, 1 },
	[OP_SWPB] = { op_swpb, "swpb", 0, 1 },
	[OP_STREX] = { op_strex, "strex", 0, 1 },
	[OP_STREX_NOMON] = { op_strex_nomon, "strex-nomon", 0, 1 },
	[OP_LDREXD] = { op_ldrexd, "ldrexd", 0, 2 },
	[OP_KLD32] = { lk_op_ld32, "kld32", 0, 1 },
	[OP_KST32] = { lk_op_st32, "kst32", 1, 1 },
};

#define MAX_OPS 32
struct result {
	u32 v0, v1, faulted, dfsr, dfar;
};
/* In .bss: the image's section is user RW, so user mode reads and writes
 * the job and the fault bookkeeping. */
static struct job {
	int n;
	struct op ops[MAX_OPS];
	struct result res[MAX_OPS];
} job;

static u32 exec_job(void *arg)
{
	struct job *j = arg;
	for (int i = 0; i < j->n; i++) {
		const struct op *o = &j->ops[i];
		u32 seq = fault_seq;
		u64 r = op_info[o->kind].fn(o->addr, o->val);
		if (o->kind == OP_LDREX || o->kind == OP_LDREXD)
			op_clrex();
		j->res[i].v0 = (u32)r;
		j->res[i].v1 = (u32)(r >> 32);
		j->res[i].faulted = fault_seq != seq;
		j->res[i].dfsr = fault_dfsr;
		j->res[i].dfar = fault_dfar;
	}
	return 0;
}

int unexpected_total;

/* Whether result r of op o is what the architecture requires (if fixed). */
static int op_ok(const struct op *o, const struct result *r)
{
	if (r->faulted)
		return o->check == CHK_NONE ||
		       (o->check == CHK_FAULT && fs_of(r->dfsr) == o->want);
	return o->check != CHK_FAULT && (o->check != CHK_VAL || r->v0 == o->want);
}

static void print_op(int user, const struct op *o, const struct result *r)
{
	pr("[%s] %s %s 0x%08x", cur_case, user ? "usr" : "pl1", op_info[o->kind].name,
	   o->addr);
	if (op_info[o->kind].store || o->kind == OP_SWP || o->kind == OP_SWPB ||
	    o->kind == OP_STREX || o->kind == OP_STREX_NOMON)
		pr(" <- 0x%08x", o->val);
	if (r->faulted) {
		u32 fs = fs_of(r->dfsr);
		pr(": fault 0x%02x (%s)", fs, fs_name(fs));
	} else if (op_info[o->kind].store) {
		pr(": ok");
	} else if (op_info[o->kind].words == 2) {
		pr(" = 0x%08x 0x%08x", r->v0, r->v1);
	} else {
		pr(" = 0x%08x", r->v0);
	}
	if (!op_ok(o, r)) {
		if (o->check == CHK_FAULT)
			pr("  UNEXPECTED, architecture: fault 0x%02x (%s)", o->want,
			   fs_name(o->want));
		else if (o->check == CHK_VAL)
			pr("  UNEXPECTED, architecture: 0x%08x", o->want);
		else
			pr("  UNEXPECTED, architecture: no fault");
	}
	pr("\n");
}

static int run_ops_print(int user, const struct op *ops, int n, int all)
{
	if (n > MAX_OPS)
		fatal("run_ops: too many ops");
	job.n = n;
	for (int i = 0; i < n; i++)
		job.ops[i] = ops[i];
	dsb();
	if (user) {
		u32 r = run_user(exec_job, &job);
		if (r != 0)
			note("user run ended early (0x%08x)", r);
	} else {
		exec_job(&job);
	}
	int bad = 0;
	for (int i = 0; i < n; i++) {
		int ok = op_ok(&ops[i], &job.res[i]);
		if (all || !ok)
			print_op(user, &ops[i], &job.res[i]);
		bad += !ok;
	}
	unexpected_total += bad;
	return bad;
}

int run_ops(int user, const struct op *ops, int n)
{
	return run_ops_print(user, ops, n, 1);
}

int run_ops_quiet(int user, const struct op *ops, int n)
{
	return run_ops_print(user, ops, n, 0);
}

/* ------------------------------------------------------------- main */
extern const struct test_case cases[];
extern const int n_cases;

static void case_reset(void)
{
	if (read_ttbcr() & TTBCR_EAE)
		lpae_leave();
	set_sctlr(sctlr_base);
	write_ttbcr(0);
	write_ttbr0(ttbr_of(kernel_l1));
	write_ttbr1(0);
	set_dacr(DACR_DEFAULT);
	set_asid(0);
	tlbiall();
}

int main(void)
{
	pr("baremetal: start\n");
	mmu_init();
	pr("baremetal: MMU on, %d cases\n", n_cases);
	for (int i = 0; i < n_cases; i++) {
		cur_case = cases[i].name;
		case_reset();
		note("begin");
		int before = unexpected_total;
		cases[i].fn();
		case_reset();
		note("end, %d unexpected", unexpected_total - before);
	}
	cur_case = "-";
	pr("baremetal: end, %d unexpected results\n", unexpected_total);
	return 0;
}

/* The compiler may emit calls to these. */
void *memcpy(void *d, const void *s, unsigned n)
{
	char *dp = d;
	const char *sp = s;
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memset(void *d, int c, unsigned n)
{
	char *dp = d;
	while (n--)
		*dp++ = (char)c;
	return d;
}
