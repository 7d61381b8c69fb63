/*
 * Long-descriptor (LPAE) translation tables for the bare-metal cases: the
 * trees, the 64-bit TTBR writes, and the way into and out of the format.
 * See harness.h.
 */
#include "harness.h"

extern char __image_start[], __image_end[];

CP15_WRITE(write_mair0, 0, c10, c2, 0) /* PRRR with EAE=0 */
CP15_WRITE(write_mair1, 0, c10, c2, 1) /* NMRR */
CP15_READ(read_prrr, 0, c10, c2, 0)
CP15_READ(read_nmrr, 0, c10, c2, 1)

/* Walk attributes (IRGN, ORGN write-back write-allocate, inner shareable),
 * for both TTBRs. */
#define TTBCR_WALK (1u << 8 | 1u << 10 | 3u << 12 | 1u << 24 | 1u << 26 | 3u << 28)

static u32 prrr_saved, nmrr_saved;

void lpae_save_short_state(void)
{
	prrr_saved = read_prrr();
	nmrr_saved = read_nmrr();
}

static int root_level(const struct lpt *t)
{
	return t->tsz <= 1 ? 1 : 2;
}

/* The index of va in a table of the given level of t. */
static u32 lidx(const struct lpt *t, u32 va, int level)
{
	if (level == 1)
		return (va >> 30) & ((1u << (2 - t->tsz)) - 1);
	if (level == 2) {
		u32 i = (va >> 21) & 511;
		if (t->tsz >= 2)
			i &= (1u << (11 - t->tsz)) - 1;
		return i;
	}
	return (va >> 12) & 511;
}

#define DESC_ADDR(d) ((d) & 0x000000fffffff000ull)

void lpt_new(struct lpt *t, u32 tsz)
{
	if (tsz > 7)
		fatal("lpt_new: TxSZ > 7");
	t->root = (u64 *)pt_alloc(SZ_4K, SZ_4K);
	t->tsz = tsz;
}

/* The table at level (made if missing) that holds va's entry. */
static volatile u64 *table_for(struct lpt *t, u32 va, int level, int make)
{
	int l = root_level(t);
	volatile u64 *tab = t->root;

	if (level < l)
		fatal("lpae: no such level in this tree");
	for (; l < level; l++) {
		volatile u64 *e = &tab[lidx(t, va, l)];
		if ((*e & 3) != 3) {
			if (!make)
				fatal("lpae: no table on the walk");
			*e = (u64)pt_alloc(SZ_4K, SZ_4K) | 3;
		}
		tab = (volatile u64 *)(u32)DESC_ADDR(*e);
	}
	return tab;
}

volatile u64 *lpt_entry(struct lpt *t, u32 va, int level)
{
	return &table_for(t, va, level, 0)[lidx(t, va, level)];
}

/* Lower and upper attributes of a block or page. */
static u64 lattr(u32 f)
{
	u64 d = (u64)(f & 3) << 6; /* AP[2:1] */
	if (!(f & L_NOAF))
		d |= 1u << 10;
	if (f & L_NG)
		d |= 1u << 11;
	if (f & L_DEVICE)
		d |= 1u << 2; /* AttrIndx 1 */
	else
		d |= 3u << 8; /* AttrIndx 0, inner shareable */
	if (f & L_PXN)
		d |= 1ull << 53;
	if (f & L_XN)
		d |= 1ull << 54;
	return d;
}

void lmap_page(struct lpt *t, u32 va, u64 pa, u32 flags)
{
	table_for(t, va, 3, 1)[lidx(t, va, 3)] = (pa & 0xfffffff000ull) | lattr(flags) | 3;
}

void lmap_block(struct lpt *t, u32 va, u64 pa, u32 flags)
{
	table_for(t, va, 2, 1)[lidx(t, va, 2)] = (pa & 0xffffe00000ull) | lattr(flags) | 1;
}

void lmap_gblock(struct lpt *t, u32 va, u64 pa, u32 flags)
{
	table_for(t, va, 1, 1)[lidx(t, va, 1)] = (pa & 0xffc0000000ull) | lattr(flags) | 1;
}

void lunmap(struct lpt *t, u32 va, int level)
{
	*lpt_entry(t, va, level) = 0;
}

void lpt_table_attrs(struct lpt *t, u32 va, int level, u64 attrs)
{
	volatile u64 *e = &table_for(t, va, level, 1)[lidx(t, va, level)];
	if ((*e & 3) != 3)
		*e = (u64)pt_alloc(SZ_4K, SZ_4K) | 3;
	*e |= attrs;
}

void lmap_kernel(struct lpt *t)
{
	u32 image = (u32)__image_start & ~(SZ_2M - 1);
	u32 image_end = ((u32)__image_end - 1) & ~(SZ_2M - 1);

	for (u32 pa = RAM_BASE; pa < RAM_BASE + RAM_SIZE; pa += SZ_2M)
		lmap_block(t, pa, pa, pa >= image && pa <= image_end ? L_RW : L_PL1);
	lmap_block(t, UART_BASE, UART_BASE, L_PL1 | L_DEVICE | L_XN | L_PXN);
}

u64 lttbr(const struct lpt *t, u32 asid)
{
	return (u64)(u32)t->root | (u64)(asid & 0xff) << 48;
}

void lset_ttbr0(u64 v)
{
	dsb();
	write_ttbr0_64(v);
	isb();
}

void lset_ttbr1(u64 v)
{
	dsb();
	write_ttbr1_64(v);
	isb();
}

void lset_ttbcr(u32 ttbcr)
{
	dsb();
	write_ttbcr(ttbcr | TTBCR_EAE | TTBCR_WALK);
	isb();
}

/*
 * The format changes with the MMU off: the harness runs identity-mapped in
 * both, and no instruction runs between the TTBR and TTBCR writes with a
 * mix of the two.
 */
void lpae_enter(u32 ttbcr, u64 ttbr0, u64 ttbr1)
{
	u32 sctlr = read_sctlr();

	set_sctlr(sctlr & ~SCTLR_M);
	write_mair0(LPAE_MAIR0);
	write_mair1(0);
	write_ttbr0_64(ttbr0);
	write_ttbr1_64(ttbr1);
	write_ttbcr(ttbcr | TTBCR_EAE | TTBCR_WALK);
	isb();
	tlbiall();
	set_sctlr(sctlr);
}

void lpae_leave(void)
{
	set_sctlr(read_sctlr() & ~SCTLR_M);
	write_ttbcr(0);
	write_ttbr0_64(ttbr_of(kernel_l1));
	write_ttbr1_64(0);
	write_mair0(prrr_saved);
	write_mair1(nmrr_saved);
	isb();
	tlbiall();
}
