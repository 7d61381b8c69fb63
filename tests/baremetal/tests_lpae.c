/*
 * Cases with long-descriptor (LPAE) translation tables: what Debian's
 * armmp-lpae kernel runs on (ASIDs in the 64-bit TTBRs, TTBCR.A1, the
 * TTBR0 PAN of CONFIG_CPU_TTBR0_PAN) and what it never does (TTBCR splits
 * changing under a VA, blocks of every level, table attributes, output
 * addresses above 4 GiB). Each prints what user mode and PL1 observe; the
 * architecturally fixed answers are checked (see tests.c).
 *
 * Fault status values are the long-descriptor ones (LFS_*). Every case has
 * its own ASIDs (0x80 and up; the short-descriptor cases use fewer) and
 * its own trees. Layout: 4 KiB pages flushed by address lie outside
 * 0x40000000-0x7fffffff, where the harness's and the cases' 2 MiB blocks
 * are, as QEMU flushes a whole MMU index for a page inside the region its
 * large pages span; a 1 GiB block comes last in its case or phase.
 */
#include "harness.h"

/* ------------------------------------------------------------- helpers */
/* A tree for TTBR0 (or TTBR1 covering the harness) with the harness map. */
static void ltree(struct lpt *t, u32 tsz)
{
	lpt_new(t, tsz);
	lmap_kernel(t);
}

#define SPLIT(t0, t1) (TTBCR_T0SZ(t0) | TTBCR_T1SZ(t1))

static u32 code_page(u32 v)
{
	u32 pa = pa_alloc(SZ_4K, SZ_4K);
	put_return(pa, v);
	return pa;
}

static void report(const char *what, u32 va, u32 got, u32 want)
{
	pr("[%s] %s 0x%08x returned ", cur_case, what, va);
	if (got == PABT_MARK)
		pr("prefetch abort");
	else
		pr("%u", got);
	if (got != want) {
		unexpected_total++;
		if (want == PABT_MARK)
			pr("  UNEXPECTED, architecture: prefetch abort");
		else
			pr("  UNEXPECTED, architecture: %u", want);
	}
	pr("\n");
}

/* Calls va in user mode, or at PL1; want: the value, or PABT_MARK. */
static void ucall(u32 va, u32 want)
{
	report("user call", va, run_user((u32(*)(void *))va, 0), want);
}

static void kcall(u32 va, u32 want)
{
	report("PL1 call", va, call_pl1_catch((u32(*)(void *))va, 0), want);
}

/* ------------------------------------------------------------- basic */
/*
 * Translation with long descriptors: 4 KiB pages, 2 MiB and 1 GiB blocks
 * on stamped RAM; AP[2:1] (user none, user read-only, PL1 read-only), the
 * access flag, XN and PXN on pages, APTable/XNTable/PXNTable in level 1
 * and level 2 table descriptors; translation faults at each level; an
 * unaligned access to Device memory. User mode, PL1 on non-global pages
 * (op_*) and PL1 on global pages (the kernel window's path, OP_KLD32).
 */
void t_lpae_basic(void)
{
	const u32 asid = 0x80, P = 0x20000000, K = 0x21000000, B = 0x60000000;
	const u32 Q0 = 0x20200000, Q1 = 0x20400000, Q2 = 0x20600000, Q3 = 0x20800000;
	const u32 H = 0xc0000000, f = L_RW | L_NG;
	struct lpt t;
	u32 a[6], k[3], q[2], h[1];
	u32 A2M = pa_alloc(SZ_2M, SZ_2M), R2M = pa_alloc(SZ_2M, SZ_2M),
	    H2M = pa_alloc(SZ_2M, SZ_2M), dv = pa_alloc(SZ_4K, SZ_4K), c6 = code_page(6);

	for (int i = 0; i < 6; i++)
		a[i] = pa_alloc(SZ_4K, SZ_4K);
	for (int i = 0; i < 3; i++)
		k[i] = pa_alloc(SZ_4K, SZ_4K);
	for (int i = 0; i < 2; i++)
		q[i] = pa_alloc(SZ_4K, SZ_4K);
	h[0] = pa_alloc(SZ_4K, SZ_4K);

	ltree(&t, 0);
	lmap_page(&t, P + 0x0000, a[0], f);
	lmap_page(&t, P + 0x1000, a[1], L_RO | L_NG);
	lmap_page(&t, P + 0x2000, a[2], L_PL1 | L_NG);
	lmap_page(&t, P + 0x3000, a[3], L_PL1_RO | L_NG);
	/* P + 0x4000: invalid */
	lmap_page(&t, P + 0x5000, a[5], f | L_NOAF);
	lmap_page(&t, P + 0x6000, c6, f | L_XN);
	lmap_page(&t, P + 0x7000, code_page(7), L_PL1 | L_PXN);
	lmap_page(&t, P + 0x8000, code_page(8), L_PL1);
	lmap_page(&t, P + 0x9000, code_page(9), f);
	lmap_page(&t, P + 0xa000, dv, f | L_DEVICE | L_XN);
	lmap_page(&t, P + 0xb000, code_page(11), f | L_PXN);
	lmap_page(&t, K + 0x0000, k[0], L_PL1);
	lmap_page(&t, K + 0x1000, k[1], L_PL1_RO);
	lmap_page(&t, K + 0x2000, k[2], L_PL1 | L_NOAF);
	/* Table attributes at level 2 (each on the table of one 2 MiB). */
	lpt_table_attrs(&t, Q0, 2, LT_NO_PL0);
	lmap_page(&t, Q0, q[0], f);
	lmap_page(&t, Q0 + 0x1000, code_page(12), f);
	lpt_table_attrs(&t, Q1, 2, LT_NO_WRITE);
	lmap_page(&t, Q1, q[1], f);
	lpt_table_attrs(&t, Q2, 2, LT_XN);
	lmap_page(&t, Q2, code_page(13), f);
	lpt_table_attrs(&t, Q3, 2, LT_PXN);
	lmap_page(&t, Q3, code_page(14), f);
	/* At level 1: the table for 0xc0000000-0xffffffff. */
	lpt_table_attrs(&t, H, 1, LT_NO_PL0 | LT_NO_WRITE);
	lmap_page(&t, H, h[0], f);
	lmap_block(&t, H + SZ_2M, H2M, f);
	/* 2 MiB blocks */
	lmap_block(&t, B, A2M, f);
	lmap_block(&t, B + 1 * SZ_2M, R2M, L_RO | L_NG);
	lmap_block(&t, B + 2 * SZ_2M, A2M, f | L_NOAF);
	/* B + 3 * SZ_2M: invalid */
	lmap_block(&t, B + 4 * SZ_2M, A2M, L_PL1);
	dsb();
	lpae_enter(SPLIT(0, 0), lttbr(&t, asid), 0);
	note("LPAE, TTBR0 only (T0SZ 0, T1SZ 0), ASID 0x%x; pages at 0x%08x: RW, RO, PL1, "
	     "PL1 RO, invalid, RW AF clear, RW XN code, PL1 PXN code, PL1 code, RW code, "
	     "RW Device, RW PXN code", asid, P);
	struct op u1[] = {
		LD(P, a[0]), ST(P + 8, 0x11110008), LD(P + 8, 0x11110008),
		LD(P + 0x1000, a[1]), STF(P + 0x1000, 0x1, LFS_PERM(3)),
		LDF(P + 0x2000, LFS_PERM(3)), STF(P + 0x2000, 0x2, LFS_PERM(3)),
		LDF(P + 0x3000, LFS_PERM(3)), STF(P + 0x3000, 0x3, LFS_PERM(3)),
		LDF(P + 0x4000, LFS_TRANS(3)), STF(P + 0x4000, 0x4, LFS_TRANS(3)),
		LDF(P + 0x5000, LFS_AF(3)), STF(P + 0x5000, 0x5, LFS_AF(3)),
		LD(P + 0x6008, c6 + 8), /* XN: data accesses allowed */
		/* Unaligned on Device memory: an alignment fault, but QEMU 10.0
		 * does not take it (stock is the reference). */
		LD(P + 0xa004, dv + 4), LDX(P + 0xa001), OPX(OP_LD16, P + 0xa003, 0),
		ST(P + 0xa008, 0x1111a008), LD(P + 0xa008, 0x1111a008),
		OPX(OP_ST32, P + 0xa00e, 0x1), LD(P + 0xa008, 0x1111a008),
		LDF(P + 0x200000 + 0xa00000, LFS_TRANS(2)), LDF(0x80000000, LFS_TRANS(1)),
		LDF(K, LFS_PERM(3)),
	};
	run_ops(IN_USER, u1, N_OPS(u1));
	struct op p1[] = {
		LD(P + 8, 0x11110008), ST(P + 12, 0x2222000c),
		LD(P + 0x1000, a[1]), STF(P + 0x1000, 0x1, LFS_PERM(3)),
		LD(P + 0x2000, a[2]), ST(P + 0x2008, 0x22222008), LD(P + 0x2008, 0x22222008),
		LD(P + 0x3000, a[3]), STF(P + 0x3000, 0x3, LFS_PERM(3)),
		LDF(P + 0x4000, LFS_TRANS(3)), LDF(P + 0x5000, LFS_AF(3)),
		LDX(P + 0xa001), LD(P + 0xa008, 0x1111a008),
		LDF(0x80000000, LFS_TRANS(1)),
	};
	run_ops(IN_PL1, p1, N_OPS(p1));
	struct op k1[] = {
		OPV(OP_KLD32, K, 0, k[0]), OPOK(OP_KST32, K + 8, 0x33330008),
		OPV(OP_KLD32, K + 8, 0, 0x33330008), OPV(OP_KLD32, K + 0x1000, 0, k[1]),
		OPF(OP_KST32, K + 0x1000, 0x1, LFS_PERM(3)), OPV(OP_KLD32, K + 0x1000, 0, k[1]),
		OPF(OP_KLD32, K + 0x2000, 0, LFS_AF(3)), OPF(OP_KST32, K + 0x2000, 0x2, LFS_AF(3)),
	};
	note("PL1 on global pages K 0x%08x: PL1 RW, PL1 RO, PL1 RW AF clear", K);
	run_ops(IN_PL1, k1, N_OPS(k1));
	struct op u2[] = { LD(P + 12, 0x2222000c), LDF(P + 0x2008, LFS_PERM(3)) };
	run_ops(IN_USER, u2, N_OPS(u2));

	note("code: XN page, RW page, PXN page (user, PL1)");
	ucall(P + 0x6000, PABT_MARK);
	ucall(P + 0x9000, 9);
	ucall(P + 0xb000, 11);
	kcall(P + 0x7000, PABT_MARK);
	kcall(P + 0x8000, 8);
	kcall(P + 0x9000, 9);
	kcall(P + 0xb000, PABT_MARK);
	kcall(P + 0x7000, PABT_MARK);

	note("table attributes: 0x%08x APTable no PL0, 0x%08x APTable no write, "
	     "0x%08x XNTable, 0x%08x PXNTable (level 2); 0x%08x APTable no PL0, "
	     "no write (level 1): a page and a 2 MiB block", Q0, Q1, Q2, Q3, H);
	struct op u3[] = {
		LDF(Q0, LFS_PERM(3)), STF(Q0, 0x1, LFS_PERM(3)),
		LD(Q1, q[1]), STF(Q1 + 8, 0x1, LFS_PERM(3)), LD(Q1 + 8, q[1] + 8),
		LDF(H, LFS_PERM(3)), STF(H, 0x1, LFS_PERM(3)),
		LDF(H + SZ_2M + 0x3000, LFS_PERM(2)),
	};
	run_ops(IN_USER, u3, N_OPS(u3));
	struct op p3[] = {
		LD(Q0, q[0]), ST(Q0 + 8, 0x44440008), LD(Q0 + 8, 0x44440008),
		LD(Q1, q[1]), STF(Q1 + 8, 0x1, LFS_PERM(3)),
		LD(H, h[0]), STF(H + 8, 0x1, LFS_PERM(3)), LD(H + 8, h[0] + 8),
		LD(H + SZ_2M + 0x3000, H2M + 0x3000),
		STF(H + SZ_2M + 0x3000, 0x1, LFS_PERM(2)),
	};
	run_ops(IN_PL1, p3, N_OPS(p3));
	ucall(Q0 + 0x1000, PABT_MARK);
	kcall(Q0 + 0x1000, 12);
	ucall(Q2, PABT_MARK);
	kcall(Q2, PABT_MARK);
	ucall(Q3, 14);
	kcall(Q3, PABT_MARK);

	note("2 MiB blocks at 0x%08x: RW, RO, RW AF clear, invalid, PL1 (global)", B);
	struct op u4[] = {
		LD(B, A2M), LD(B + 0x5000, A2M + 0x5000), LD(B + 0x1ff008, A2M + 0x1ff008),
		ST(B + 0x100010, 0x55550010), LD(B + 0x100010, 0x55550010),
		LD(B + SZ_2M + 0x7000, R2M + 0x7000),
		STF(B + SZ_2M + 0x7000, 0x1, LFS_PERM(2)),
		LDF(B + 2 * SZ_2M + 0x5000, LFS_AF(2)),
		STF(B + 2 * SZ_2M, 0x1, LFS_AF(2)),
		LDF(B + 3 * SZ_2M, LFS_TRANS(2)),
		LDF(B + 4 * SZ_2M + 0x5000, LFS_PERM(2)),
	};
	run_ops(IN_USER, u4, N_OPS(u4));
	struct op p4[] = {
		LD(B + 0x100010, 0x55550010), STF(B + SZ_2M, 0x1, LFS_PERM(2)),
		LDF(B + 2 * SZ_2M, LFS_AF(2)), LDF(B + 3 * SZ_2M, LFS_TRANS(2)),
	};
	run_ops(IN_PL1, p4, N_OPS(p4));
	struct op k4[] = {
		OPV(OP_KLD32, B + 4 * SZ_2M + 0x5000, 0, A2M + 0x5000),
		OPV(OP_KLD32, B + 4 * SZ_2M + 0x100010, 0, 0x55550010),
		OPOK(OP_KST32, B + 4 * SZ_2M + 0x1ff00c, 0x6666000c),
	};
	run_ops(IN_PL1, k4, N_OPS(k4));
	struct op u5[] = { LD(B + 0x1ff00c, 0x6666000c) };
	run_ops(IN_USER, u5, N_OPS(u5));

	/* Last: a 1 GiB block (QEMU's large-page region then spans all). */
	lmap_gblock(&t, 0x80000000, RAM_BASE, f);
	dsb();
	note("1 GiB block 0x80000000 -> 0x%08x (RAM), user RW, nG (was invalid: "
	     "no maintenance needed)", RAM_BASE);
#define G(pa) (0x80000000 + ((pa) - RAM_BASE))
	struct op u6[] = {
		LD(G(a[0]), a[0]), LD(G(a[0] + 8), 0x11110008), LD(G(A2M + 0x5000), A2M + 0x5000),
		LD(G(a[2]), a[2]), ST(G(a[3] + 8), 0x77770008), LDF(P + 0x3008, LFS_PERM(3)),
	};
	run_ops(IN_USER, u6, N_OPS(u6));
	struct op p6[] = { LD(P + 0x3008, 0x77770008), LD(G(k[0]), k[0]),
			   LD(G(R2M + 0x1ff000), R2M + 0x1ff000) };
	run_ops(IN_PL1, p6, N_OPS(p6));
#undef G
}

/* ------------------------------------------------------------- ASIDs */
/*
 * ASIDs in TTBR0[55:48]: two processes (trees, ASIDs) with non-global
 * pages at the same VAs and a global page, switched by 64-bit TTBR0 writes
 * with no maintenance, again and again, each writing its own pages; one
 * tree under two ASIDs (only the unused ASID is fixed); TLBIASID of one
 * ASID, TLBIMVA with the VA's ASID and another, TLBIMVAA, TLBIALL; a 2 MiB
 * block remapped and flushed by TLBIMVA or TLBIMVAA of one address in it.
 */
void t_lpae_asid(void)
{
	const u32 AA = 0x90, AB = 0x91, AC = 0x92, AD = 0x93;
	const u32 N = 0x22000000, G = N + 0x1000, KN = N + 0x2000, KG = N + 0x3000;
	const u32 BL = 0x62000000, f = L_RW | L_NG;
	static const u32 boffs[] = { 0x0000, 0x5000, 0x100004, 0x1ff008 };
	struct lpt ta, tb, tc;
	u32 na[5], nb[3], nc[2], g[2], ka[2], kb, kg[2];
	u32 A2M = pa_alloc(SZ_2M, SZ_2M), B2M = pa_alloc(SZ_2M, SZ_2M);

	for (int i = 0; i < 5; i++)
		na[i] = pa_alloc(SZ_4K, SZ_4K);
	for (int i = 0; i < 3; i++)
		nb[i] = pa_alloc(SZ_4K, SZ_4K);
	for (int i = 0; i < 2; i++) {
		nc[i] = pa_alloc(SZ_4K, SZ_4K);
		g[i] = pa_alloc(SZ_4K, SZ_4K);
		ka[i] = pa_alloc(SZ_4K, SZ_4K);
		kg[i] = pa_alloc(SZ_4K, SZ_4K);
	}
	kb = pa_alloc(SZ_4K, SZ_4K);
	ltree(&ta, 0);
	ltree(&tb, 0);
	ltree(&tc, 0);
	lmap_page(&ta, N, na[0], f);
	lmap_page(&tb, N, nb[0], f);
	lmap_page(&tc, N, nc[0], f);
	lmap_page(&ta, G, g[0], L_RW);
	lmap_page(&tb, G, g[0], L_RW);
	lmap_page(&ta, KN, ka[0], L_PL1 | L_NG);
	lmap_page(&tb, KN, kb, L_PL1 | L_NG);
	lmap_page(&ta, KG, kg[0], L_PL1);
	lmap_page(&tb, KG, kg[0], L_PL1);
	dsb();

	lpae_enter(SPLIT(0, 0), lttbr(&ta, AA), 0);
	note("process A: ASID 0x%x, N 0x%08x -> 0x%08x (nG), G 0x%08x global, KN 0x%08x "
	     "PL1 nG, KG 0x%08x PL1 global; process B: ASID 0x%x, N -> 0x%08x, KN -> 0x%08x",
	     AA, N, na[0], G, KN, KG, AB, nb[0], kb);
	struct op ua[] = { LD(N, na[0]), LD(G, g[0]), ST(N + 8, 0xa0000008),
			   LD(N + 8, 0xa0000008) };
	run_ops(IN_USER, ua, N_OPS(ua));
	struct op pa[] = { LD(KN, ka[0]), LD(N + 8, 0xa0000008), OPV(OP_KLD32, KG, 0, kg[0]) };
	run_ops(IN_PL1, pa, N_OPS(pa));

	/* Switches with no maintenance: each process sees its own pages. */
	u32 wa = 0xa0000008, wb = nb[0] + 8;
	for (int i = 0; i < 8; i++) {
		int b = !(i & 1);
		lset_ttbr0(b ? lttbr(&tb, AB) : lttbr(&ta, AA));
		note("TTBR0 -> process %c (ASID 0x%x), no maintenance", b ? 'B' : 'A', b ? AB : AA);
		u32 w = 0xb0000000 | (b ? 0x10000 : 0) | i;
		struct op u[] = {
			LD(N, b ? nb[0] : na[0]), LD(N + 8, b ? wb : wa), ST(N + 8, w),
			LD(N + 8, w), LD(G, g[0]),
		};
		run_ops(IN_USER, u, N_OPS(u));
		if (b)
			wb = w;
		else
			wa = w;
		struct op p[] = { LD(KN, b ? kb : ka[0]), LD(N + 8, w), OPV(OP_KLD32, KG, 0, kg[0]) };
		run_ops(IN_PL1, p, N_OPS(p));
	}

	/* One tree, two ASIDs: only the ASID never used is fixed. */
	lset_ttbr0(lttbr(&tc, AC));
	note("tree C, ASID 0x%x: N -> 0x%08x", AC, nc[0]);
	struct op c1[] = { LD(N, nc[0]) };
	run_ops(IN_USER, c1, N_OPS(c1));
	lmap_page(&tc, N, nc[1], f);
	dsb();
	lset_ttbr0(lttbr(&tc, AD));
	note("N -> 0x%08x in tree C, no maintenance; ASID 0x%x (never used)", nc[1], AD);
	struct op c2[] = { LD(N, nc[1]) };
	run_ops(IN_USER, c2, N_OPS(c2));
	/* Back to AC, its entry may still give nc[0] (a window kept for the
	 * context may): not printed. After TLBIASID it may not. */
	tlbiasid(AC);
	lset_ttbr0(lttbr(&tc, AC));
	note("TLBIASID 0x%x; back to ASID 0x%x", AC, AC);
	run_ops(IN_USER, c2, N_OPS(c2));
	run_ops(IN_PL1, c2, N_OPS(c2));

	/* TLBIASID of A while B runs. */
	lset_ttbr0(lttbr(&tb, AB));
	lmap_page(&ta, N, na[1], f);
	lmap_page(&tb, N, nb[1], f);
	tlbiasid(AA);
	note("process B runs; N -> 0x%08x in A, -> 0x%08x in B; TLBIASID 0x%x (A) only "
	     "(B's entry may stay: not loaded)", na[1], nb[1], AA);
	lset_ttbr0(lttbr(&ta, AA));
	note("TTBR0 -> process A");
	struct op a1[] = { LD(N, na[1]), LD(G, g[0]) };
	run_ops(IN_USER, a1, N_OPS(a1));
	run_ops(IN_PL1, a1, N_OPS(a1));
	tlbiasid(AB);
	lset_ttbr0(lttbr(&tb, AB));
	note("TLBIASID 0x%x (B); TTBR0 -> process B", AB);
	struct op b2[] = { LD(N, nb[1]), LD(G, g[0]) };
	run_ops(IN_USER, b2, N_OPS(b2));

	/* TLBIMVA with another ASID first (A's entries may stay: not loaded),
	 * then with A's. */
	lset_ttbr0(lttbr(&ta, AA));
	lmap_page(&ta, N, na[2], f);
	lmap_page(&ta, KN, ka[1], L_PL1 | L_NG);
	tlbimva(N, AB);
	tlbimva(KN, AB);
	tlbimva(N, AA);
	tlbimva(KN, AA);
	note("process A; N -> 0x%08x, KN -> 0x%08x; TLBIMVA of both with B's ASID 0x%x, "
	     "then with A's 0x%x", na[2], ka[1], AB, AA);
	struct op a3[] = { LD(N, na[2]), LD(KN, ka[1]) };
	run_ops(IN_PL1, a3, N_OPS(a3));
	struct op a3u[] = { LD(N, na[2]), ST(N + 8, 0xa3000008), LD(N + 8, 0xa3000008) };
	run_ops(IN_USER, a3u, N_OPS(a3u));

	/* TLBIMVAA of global pages, seen by both. */
	lmap_page(&ta, G, g[1], L_RW);
	lmap_page(&tb, G, g[1], L_RW);
	lmap_page(&ta, KG, kg[1], L_PL1);
	lmap_page(&tb, KG, kg[1], L_PL1);
	tlbimvaa(G);
	tlbimvaa(KG);
	note("G -> 0x%08x, KG -> 0x%08x in both; TLBIMVAA of both", g[1], kg[1]);
	struct op a4[] = { LD(G, g[1]) };
	struct op a4k[] = { OPV(OP_KLD32, KG, 0, kg[1]) };
	run_ops(IN_USER, a4, N_OPS(a4));
	run_ops(IN_PL1, a4k, N_OPS(a4k));
	lset_ttbr0(lttbr(&tb, AB));
	note("TTBR0 -> process B");
	run_ops(IN_USER, a4, N_OPS(a4));
	run_ops(IN_PL1, a4k, N_OPS(a4k));

	/* TLBIALL */
	lmap_page(&ta, N, na[3], f);
	lmap_page(&tb, N, nb[2], f);
	tlbiall();
	note("N -> 0x%08x in A, -> 0x%08x in B; TLBIALL (B runs)", na[3], nb[2]);
	struct op b3[] = { LD(N, nb[2]), LD(G, g[1]) };
	run_ops(IN_USER, b3, N_OPS(b3));
	lset_ttbr0(lttbr(&ta, AA));
	note("TTBR0 -> process A");
	struct op a5[] = { LD(N, na[3]), LD(G, g[1]) };
	run_ops(IN_USER, a5, N_OPS(a5));

	/* A 2 MiB block is one entry: flushed whole by one of its addresses. */
	struct op r[4], rf[4];
	lmap_block(&ta, BL, A2M, f);
	dsb();
	note("2 MiB block BL 0x%08x -> 0x%08x in A (user RW, nG)", BL, A2M);
	for (int i = 0; i < 4; i++)
		r[i] = (struct op)LD(BL + boffs[i], A2M + boffs[i]);
	run_ops(IN_USER, r, 4);
	run_ops(IN_PL1, r, 4);
	lmap_block(&ta, BL, B2M, f);
	tlbimva(BL + 0x123000, AA);
	note("BL -> 0x%08x; TLBIMVA 0x%08x only", B2M, (BL + 0x123000) | AA);
	for (int i = 0; i < 4; i++)
		r[i] = (struct op)LD(BL + boffs[i], B2M + boffs[i]);
	run_ops(IN_USER, r, 4);
	run_ops(IN_PL1, r, 4);
	lmap_block(&ta, BL, A2M, L_RO | L_NG);
	tlbimvaa(BL + 0x1ff000);
	note("BL -> 0x%08x read-only; TLBIMVAA 0x%08x only", A2M, BL + 0x1ff000);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct op)LD(BL + boffs[i], A2M + boffs[i]);
		rf[i] = (struct op)STF(BL + boffs[i], 0x1, LFS_PERM(2));
	}
	run_ops(IN_USER, r, 4);
	run_ops(IN_USER, rf, 4);
	lunmap(&ta, BL, 2);
	tlbimva(BL + 0x5000, AA);
	note("BL invalid; TLBIMVA 0x%08x only", (BL + 0x5000) | AA);
	for (int i = 0; i < 4; i++)
		r[i] = (struct op)LDF(BL + boffs[i], LFS_TRANS(2));
	run_ops(IN_USER, r, 4);
	run_ops(IN_PL1, r, 4);
}

/* ------------------------------------------------------------- TTBCR.A1 */
/*
 * TTBCR.A1: the ASID is TTBR1's when set. One tree (all through TTBR0,
 * T0SZ 0, T1SZ 0; TTBR1 holds only an ASID), a non-global page N (user)
 * and KN (PL1) remapped with no maintenance before each change: a change
 * to an ASID never used is fixed (an A1 flip, a TTBR1 ASID write under
 * A1=1, a TTBR0 ASID write under A1=0); a TTBR write of the ASID that is
 * not in use leaves the current one, whose old entries may stay (fixed
 * after TLBIASID of it only, so nothing is loaded before that).
 */
void t_lpae_a1(void)
{
	const u32 N = 0x25000000, KN = N + 0x1000, G = N + 0x2000, f = L_RW | L_NG;
	struct lpt t, e;
	u32 n[8], k[8], g = pa_alloc(SZ_4K, SZ_4K);
	int step = 0;

	for (int i = 0; i < 8; i++) {
		n[i] = pa_alloc(SZ_4K, SZ_4K);
		k[i] = pa_alloc(SZ_4K, SZ_4K);
	}
	ltree(&t, 0);
	lpt_new(&e, 0); /* TTBR1: never walked with T1SZ 0 and T0SZ 0 */
	lmap_page(&t, N, n[0], f);
	lmap_page(&t, KN, k[0], L_PL1 | L_NG);
	lmap_page(&t, G, g, L_RW);
	dsb();
	lpae_enter(SPLIT(0, 0), lttbr(&t, 0xa0), lttbr(&e, 0xa1));
	note("TTBR0 ASID 0xa0, TTBR1 ASID 0xa1, A1=0; N 0x%08x, KN 0x%08x nG, G global", N, KN);
	struct op u0[] = { LD(N, n[0]), LD(G, g) };
	struct op p0[] = { LD(KN, k[0]) };
	run_ops(IN_USER, u0, N_OPS(u0));
	run_ops(IN_PL1, p0, N_OPS(p0));

/* Remap N and KN to the next pages, no maintenance. */
#define NEXT()                                                                 \
	do {                                                                   \
		step++;                                                        \
		lmap_page(&t, N, n[step], f);                                  \
		lmap_page(&t, KN, k[step], L_PL1 | L_NG);                      \
		dsb();                                                         \
	} while (0)
/* N and KN must give the current pages (fixed), or may give either. */
#define FIXED()                                                                \
	do {                                                                   \
		struct op u[] = { LD(N, n[step]), LD(G, g) };                  \
		struct op p[] = { LD(KN, k[step]), LD(N, n[step]) };           \
		run_ops(IN_USER, u, N_OPS(u));                                 \
		run_ops(IN_PL1, p, N_OPS(p));                                  \
	} while (0)

	NEXT();
	lset_ttbcr(SPLIT(0, 0) | TTBCR_A1);
	note("N, KN remapped, no maintenance; A1=1: ASID 0xa1 (TTBR1's, never used)");
	FIXED();

	/* Back to an ASID whose entries may stay (not loaded), then TLBIASID. */
	NEXT();
	lset_ttbcr(SPLIT(0, 0));
	tlbiasid(0xa0);
	note("N, KN remapped, no maintenance; A1=0: ASID 0xa0 again; TLBIASID 0xa0");
	FIXED();

	NEXT();
	lset_ttbr1(lttbr(&e, 0xa2));
	note("N, KN remapped, no maintenance; TTBR1 ASID -> 0xa2 under A1=0 (not in use: "
	     "0xa0's entries may stay, not loaded)");
	tlbiasid(0xa0);
	note("TLBIASID 0xa0");
	FIXED();

	NEXT();
	lset_ttbcr(SPLIT(0, 0) | TTBCR_A1);
	note("N, KN remapped, no maintenance; A1=1: ASID 0xa2 (never used)");
	FIXED();

	NEXT();
	lset_ttbr0(lttbr(&t, 0xa3));
	note("N, KN remapped, no maintenance; TTBR0 ASID -> 0xa3 under A1=1 (not in use: "
	     "0xa2's entries may stay, not loaded)");
	tlbiasid(0xa2);
	note("TLBIASID 0xa2");
	FIXED();

	NEXT();
	lset_ttbr1(lttbr(&e, 0xa4));
	note("N, KN remapped, no maintenance; TTBR1 ASID -> 0xa4 under A1=1 (never used; "
	     "TTBR0's 0xa3 unchanged)");
	FIXED();

	NEXT();
	lset_ttbcr(SPLIT(0, 0));
	lset_ttbr0(lttbr(&t, 0xa5));
	note("N, KN remapped, no maintenance; A1=0 and TTBR0 ASID -> 0xa5 (never used; "
	     "TTBR1's 0xa4 unchanged)");
	FIXED();
	struct op u9[] = { ST(N + 8, 0xa5000008), LD(N + 8, 0xa5000008) };
	run_ops(IN_USER, u9, N_OPS(u9));
	lset_ttbcr(SPLIT(0, 0) | TTBCR_A1);
	lset_ttbcr(SPLIT(0, 0));
	note("A1=1, A1=0: ASID 0xa4, then 0xa5 again; nothing remapped");
	struct op u10[] = { LD(N + 8, 0xa5000008), LD(N, n[step]), LD(G, g) };
	run_ops(IN_USER, u10, N_OPS(u10));
#undef NEXT
#undef FIXED
}

/* ------------------------------------------------------------- TTBR0 PAN */
/*
 * The PAN kernel (start.S, pan_run): ops run from an alias of pan_page in
 * TTBR1's range on a job in an aliased page. Kinds as in start.S.
 */
enum pan_kind { PAN_LD, PAN_ST, PAN_LDRT, PAN_STRT, PAN_DISABLE, PAN_ENABLE, PAN_TTBR0 };
struct pan_op {
	u32 kind, addr, val, res, faulted, fsr, far, pad;
};
#define PAN_MAX 120
struct pan_job {
	u32 n, seq, fsr, far, vbar, ttbcr, pad[2];
	struct pan_op ops[PAN_MAX];
};
_Static_assert(sizeof(struct pan_job) <= SZ_4K, "the PAN job is one page");
extern char pan_page[], pan_vectors[], pan_run[], pan_end[];

struct pan {
	struct pan_job *job; /* its identity address */
	u32 job_va, code_va;  /* the aliases */
	struct { u32 check, want; } want[PAN_MAX];
};

static void pj_start(struct pan *p)
{
	p->job->n = 0;
}

static void pj(struct pan *p, u32 kind, u32 addr, u32 val, u32 check, u32 want)
{
	u32 i = p->job->n;
	if (i >= PAN_MAX)
		fatal("PAN job too long");
	p->job->ops[i] = (struct pan_op){ kind, addr, val, 0, 0, 0, 0, 0 };
	p->want[i].check = check;
	p->want[i].want = want;
	p->job->n = i + 1;
}
#define PJ_LD(p, a, w) pj(p, PAN_LD, a, 0, CHK_VAL, w)
#define PJ_LDF(p, a, fs) pj(p, PAN_LD, a, 0, CHK_FAULT, fs)
#define PJ_ST(p, a, v) pj(p, PAN_ST, a, v, CHK_OK, 0)
#define PJ_STF(p, a, v, fs) pj(p, PAN_ST, a, v, CHK_FAULT, fs)
#define PJ_OFF(p) pj(p, PAN_DISABLE, 0, 0, CHK_NONE, 0)
#define PJ_ON(p) pj(p, PAN_ENABLE, 0, 0, CHK_NONE, 0)

/* Runs the job; prints every op (all), or only those not as required.
 * Returns the number of results not as required. */
static int pj_run(struct pan *p, int all)
{
	static const char *const names[] = { "ld32", "st32", "ldrt", "strt",
					     "uaccess_disable", "uaccess_enable",
					     "ttbr0 write" };
	void (*run)(u32, u32) = (void (*)(u32, u32))(p->code_va + (pan_run - pan_page));
	int bad = 0;

	dsb();
	run(p->job_va, p->code_va + (pan_vectors - pan_page));
	for (u32 i = 0; i < p->job->n; i++) {
		const struct pan_op *o = &p->job->ops[i];
		u32 check = p->want[i].check, want = p->want[i].want, fs = fs_of(o->fsr);
		int ok = 1;

		if (o->faulted)
			ok = check == CHK_FAULT && fs == want;
		else if (check == CHK_FAULT || (check == CHK_VAL && o->res != want))
			ok = 0;
		if (ok && !all)
			continue;
		pr("[%s] pl1 %s", cur_case, names[o->kind]);
		if (o->kind == PAN_DISABLE || o->kind == PAN_ENABLE)
			pr(": TTBCR 0x%08x", o->res);
		else if (o->kind == PAN_TTBR0)
			pr(" 0x%08x%08x", o->val, o->addr);
		else {
			pr(" 0x%08x", o->addr);
			if (o->kind == PAN_ST || o->kind == PAN_STRT)
				pr(" <- 0x%08x", o->val);
			if (o->faulted)
				pr(": fault 0x%02x (%s), DFSR 0x%08x DFAR 0x%08x", fs, fs_name(fs),
				   o->fsr, o->far);
			else if (o->kind == PAN_ST || o->kind == PAN_STRT)
				pr(": ok");
			else
				pr(" = 0x%08x", o->res);
		}
		if (!ok) {
			bad++;
			if (check == CHK_FAULT)
				pr("  UNEXPECTED, architecture: fault 0x%02x (%s)", want, fs_name(want));
			else if (check == CHK_VAL)
				pr("  UNEXPECTED, architecture: 0x%08x", want);
			else
				pr("  UNEXPECTED, architecture: no fault");
		}
		pr("\n");
	}
	unexpected_total += bad;
	return bad;
}

/*
 * TTBR0 PAN as Linux's CONFIG_CPU_TTBR0_PAN does it, with kernel in TTBR1's
 * range (T1SZ t1sz), user in TTBR0's (T0SZ 0), a reserved ASID 0 in TTBR1:
 * uaccess_disable (TTBCR |= EPD0 | T0SZ 7 | A1) at kernel entry and around
 * user accesses, uaccess_enable to reach user memory. With uaccess disabled
 * a PL1 access (LDR, LDRT, STR, STRT) to a user VA takes a translation
 * fault: the user's entries are non-global, of another ASID, and there is
 * no walk (EPD0 below 32 MiB, the gap between the ranges above). User VAs
 * u[0] below 32 MiB, u[1] and u[2] in the gap. Rounds of user and kernel
 * accesses (writes each way), with a context switch (TTBR0 and ASID written
 * while uaccess is disabled) every 25 rounds.
 */
static void pan_case(u32 t1sz, const u32 *u, u32 asid0, int rounds)
{
	const u32 KH = 0xe0000000, KJ = KH + 0x1000, KD = KH + 0x2000;
	const u32 UR = u[1] + 0x1000, UK = u[1] + 0x2000, f = L_RW | L_NG;
	const u32 asid[2] = { asid0, asid0 + 1 };
	const u32 FS = LFS_TRANS(1);
	struct lpt proc[2], kt;
	static struct pan p;
	u32 up[2][3], ur[2], uk[2], kd = pa_alloc(SZ_4K, SZ_4K);
	u32 uval[2], kval[2];

	if (pan_end - pan_page > (int)SZ_4K)
		fatal("the PAN code is more than a page");
	p.job = (struct pan_job *)pa_alloc(SZ_4K, SZ_4K);
	p.job_va = KJ;
	p.code_va = KH;
	lpt_new(&kt, t1sz);
	lmap_page(&kt, KH, (u32)pan_page, L_PL1_RO);
	lmap_page(&kt, KJ, (u32)p.job, L_PL1 | L_XN | L_PXN);
	lmap_page(&kt, KD, kd, L_PL1 | L_XN | L_PXN);
	for (int i = 0; i < 2; i++) {
		ltree(&proc[i], 0);
		for (int j = 0; j < 3; j++) {
			up[i][j] = pa_alloc(SZ_4K, SZ_4K);
			lmap_page(&proc[i], u[j], up[i][j], f);
		}
		ur[i] = pa_alloc(SZ_4K, SZ_4K);
		uk[i] = pa_alloc(SZ_4K, SZ_4K);
		lmap_page(&proc[i], UR, ur[i], L_RO | L_NG);
		lmap_page(&proc[i], UK, uk[i], L_PL1 | L_NG);
		uval[i] = up[i][1] + 16;
		kval[i] = up[i][1] + 20;
	}
	dsb();
	lpae_enter(SPLIT(0, t1sz), lttbr(&proc[0], asid[0]), lttbr(&kt, 0));
	note("T0SZ 0, T1SZ %u; TTBR1: kernel (ASID 0): the PAN code 0x%08x, its job 0x%08x, "
	     "data KD 0x%08x; processes A (ASID 0x%x), B (ASID 0x%x): user pages at 0x%08x, "
	     "0x%08x, 0x%08x, user RO 0x%08x, PL1 0x%08x (nG)", t1sz, KH, KJ, KD, asid[0],
	     asid[1], u[0], u[1], u[2], UR, UK);
	struct op u1[] = {
		LD(u[0], up[0][0]), LD(u[1], up[0][1]), LD(u[2], up[0][2]),
		ST(u[1] + 8, 0x5a000008), LD(u[1] + 8, 0x5a000008), LD(UR, ur[0]),
	};
	run_ops(IN_USER, u1, N_OPS(u1));
	struct op k1[] = { OPV(OP_KLD32, KD, 0, kd), OPOK(OP_KST32, KD + 8, 0x6b000008) };
	run_ops(IN_PL1, k1, N_OPS(k1));

	note("kernel entry: uaccess disabled, then enabled, then disabled again");
	pj_start(&p);
	PJ_OFF(&p);
	PJ_LDF(&p, u[0], FS);
	PJ_LDF(&p, u[1], FS);
	PJ_LDF(&p, u[2], FS);
	PJ_LDF(&p, u[1] + 8, FS);
	pj(&p, PAN_LDRT, u[1], 0, CHK_FAULT, FS);
	pj(&p, PAN_STRT, u[1] + 12, 0x1, CHK_FAULT, FS);
	PJ_STF(&p, u[2] + 8, 0x1, FS);
	PJ_LD(&p, KD, kd);
	PJ_LD(&p, KD + 8, 0x6b000008);
	PJ_ST(&p, KD + 12, 0x6b00000c);
	PJ_ON(&p);
	PJ_LD(&p, u[0], up[0][0]);
	PJ_LD(&p, u[1] + 8, 0x5a000008);
	PJ_ST(&p, u[2] + 8, 0x5b000008);
	pj(&p, PAN_LDRT, u[1], 0, CHK_VAL, up[0][1]);
	pj(&p, PAN_STRT, u[1] + 12, 0x5c00000c, CHK_OK, 0);
	pj(&p, PAN_LDRT, UR, 0, CHK_VAL, ur[0]);
	pj(&p, PAN_STRT, UR + 8, 0x1, CHK_FAULT, LFS_PERM(3));
	pj(&p, PAN_LDRT, UK, 0, CHK_FAULT, LFS_PERM(3));
	PJ_LD(&p, UK, uk[0]);
	PJ_ST(&p, UK + 8, 0x5d000008);
	PJ_LD(&p, KD + 12, 0x6b00000c);
	PJ_OFF(&p);
	PJ_LDF(&p, u[2] + 8, FS);
	pj(&p, PAN_LDRT, UR, 0, CHK_FAULT, FS);
	PJ_LDF(&p, UK + 8, FS);
	PJ_LD(&p, KD + 12, 0x6b00000c);
	PJ_ON(&p);
	PJ_LD(&p, UK + 8, 0x5d000008);
	pj_run(&p, 1);
	note("back in user mode");
	struct op u2[] = {
		LD(u[2] + 8, 0x5b000008), LD(u[1] + 12, 0x5c00000c), LDF(UK, LFS_PERM(3)),
		LD(u[0], up[0][0]), LD(u[1] + 8, 0x5a000008),
	};
	run_ops(IN_USER, u2, N_OPS(u2));

	/* Rounds: user writes, the kernel reads them through uaccess and
	 * writes back; every 25th a context switch under disabled uaccess. */
	int cur = 0, bad = 0, results = 0;
	for (int r = 0; r < rounds; r++) {
		int all = r < 2, sw = r % 25 == 24;
		int next = sw ? !cur : cur;
		u32 kv = 0xc0de0000 | (u32)r << 4 | (u32)cur;

		pj_start(&p);
		PJ_OFF(&p);
		PJ_LDF(&p, u[1] + 16, FS);
		PJ_LD(&p, KD, kd);
		PJ_ON(&p);
		PJ_LD(&p, u[1] + 16, uval[cur]);
		PJ_ST(&p, u[1] + 20, kv);
		PJ_LD(&p, u[0], up[cur][0]);
		PJ_OFF(&p);
		pj(&p, PAN_LDRT, u[0], 0, CHK_FAULT, FS);
		pj(&p, PAN_STRT, u[2] + 4, 0x1, CHK_FAULT, FS);
		PJ_LDF(&p, u[2], FS);
		PJ_ON(&p);
		pj(&p, PAN_LDRT, u[2], 0, CHK_VAL, up[cur][2]);
		PJ_OFF(&p);
		if (sw) {
			u64 v = lttbr(&proc[next], asid[next]);
			pj(&p, PAN_TTBR0, (u32)v, (u32)(v >> 32), CHK_NONE, 0);
			PJ_LDF(&p, u[0], FS);
			PJ_LDF(&p, u[1] + 16, FS);
		}
		PJ_ON(&p);
		PJ_LD(&p, u[1] + 16, uval[next]);
		PJ_LD(&p, u[2], up[next][2]);
		kval[cur] = kv;
		cur = next;
		results += p.job->n;
		bad += pj_run(&p, all);

		u32 uv = 0x05e70000 | (u32)r << 4 | (u32)cur;
		struct op uo[] = {
			LD(u[1] + 20, kval[cur]), LD(u[1] + 16, uval[cur]), ST(u[1] + 16, uv),
			LD(u[1] + 16, uv), LD(u[0], up[cur][0]), LD(u[2], up[cur][2]),
		};
		uval[cur] = uv;
		if (all)
			bad += run_ops(IN_USER, uo, N_OPS(uo));
		else
			bad += run_ops_quiet(IN_USER, uo, N_OPS(uo));
		results += N_OPS(uo);
		if (sw || r == rounds - 1)
			note("round %d%s: %d results so far, %d not as required", r,
			     sw ? "; context switch" : "", results, bad);
	}
}

void t_lpae_pan(void)
{
	static const u32 u[3] = { 0x00400000, 0x26000000, 0x90000000 };
	pan_case(2, u, 0xb0, 200);
}

void t_lpae_pan_t1sz1(void)
{
	static const u32 u[3] = { 0x00500000, 0x27000000, 0x70000000 };
	pan_case(1, u, 0xb4, 60);
}

/* ------------------------------------------------------------- TTBCR */
/*
 * TTBCR changes that change translations (one ASID throughout): a T1SZ
 * change moving V1 0xa0000000 from TTBR0's range to TTBR1's, a T0SZ change
 * with T1SZ 0 doing the same, T0SZ and T1SZ leaving V1 in the gap between
 * the ranges, EPD1, and T0SZ 2 with T1SZ 0 (the harness itself then runs
 * through TTBR1). Right after the TTBCR write, the old translation may
 * still be in the TLB (unchecked: stock QEMU flushes at every TTBCR write);
 * after TLBIALL the answer is fixed.
 */
void t_lpae_ttbcr(void)
{
	const u32 asid = 0xc0, V1 = 0xa0000000, V2 = 0x28000000, V4 = 0xd0000000;
	const u32 f = L_RW | L_NG;
	struct lpt a, a2, b, b1, c2;
	u32 a1 = pa_alloc(SZ_4K, SZ_4K), a2p = pa_alloc(SZ_4K, SZ_4K),
	    a2q = pa_alloc(SZ_4K, SZ_4K), b1p = pa_alloc(SZ_4K, SZ_4K),
	    c1 = pa_alloc(SZ_4K, SZ_4K), d4 = pa_alloc(SZ_4K, SZ_4K),
	    e4 = pa_alloc(SZ_4K, SZ_4K);

	ltree(&a, 0);	/* TTBR0, T0SZ 0 or 1 */
	lmap_page(&a, V1, a1, f);
	lmap_page(&a, V2, a2p, f);
	lmap_page(&a, V4, e4, f);
	lpt_new(&a2, 2); /* TTBR0, T0SZ 2: 0-0x3fffffff, the UART */
	lmap_block(&a2, UART_BASE, UART_BASE, L_PL1 | L_DEVICE | L_XN | L_PXN);
	lmap_page(&a2, V2, a2q, f);
	ltree(&b, 0);	/* TTBR1, T1SZ 0 (from where TTBR0's range ends) */
	lmap_page(&b, V1, b1p, f);
	lpt_new(&b1, 1); /* TTBR1, T1SZ 1: 0x80000000- */
	lmap_page(&b1, V1, c1, f);
	lpt_new(&c2, 2); /* TTBR1, T1SZ 2: 0xc0000000- */
	lmap_page(&c2, V4, d4, f);
	dsb();

	lpae_enter(SPLIT(0, 0), lttbr(&a, asid), lttbr(&b1, 0));
	note("T0SZ 0, T1SZ 0 (all TTBR0): V1 0x%08x -> 0x%08x, V2 0x%08x -> 0x%08x, V4 "
	     "0x%08x -> 0x%08x; TTBR1 (T1SZ 1 tree): V1 -> 0x%08x", V1, a1, V2, a2p, V4, e4,
	     c1);
	struct op r1[] = { LD(V1, a1), LD(V2, a2p), LD(V4, e4) };
	run_ops(IN_USER, r1, N_OPS(r1));
	run_ops(IN_PL1, r1, N_OPS(r1));

	lset_ttbcr(SPLIT(0, 1));
	note("T1SZ 1: V1 is TTBR1's (V4 too, unmapped there)");
	struct op x2[] = { LDX(V1), LD(V2, a2p), LDX(V4) };
	run_ops(IN_USER, x2, N_OPS(x2));
	run_ops(IN_PL1, x2, N_OPS(x2));
	tlbiall();
	note("TLBIALL");
	struct op r2[] = { LD(V1, c1), LD(V2, a2p), LDF(V4, LFS_TRANS(1)) };
	run_ops(IN_USER, r2, N_OPS(r2));
	run_ops(IN_PL1, r2, N_OPS(r2));

	lset_ttbcr(SPLIT(0, 0));
	note("T1SZ 0 again: all TTBR0");
	struct op x3[] = { LDX(V1), LDX(V4) };
	run_ops(IN_USER, x3, N_OPS(x3));
	tlbiall();
	note("TLBIALL");
	struct op r3[] = { LD(V1, a1), LD(V4, e4) };
	run_ops(IN_USER, r3, N_OPS(r3));

	lset_ttbr1(lttbr(&b, 0));
	lset_ttbcr(SPLIT(1, 0));
	note("TTBR1 -> tree B (T1SZ 0); T0SZ 1: 0x80000000- is TTBR1's");
	struct op x4[] = { LDX(V1), LD(V2, a2p) };
	run_ops(IN_USER, x4, N_OPS(x4));
	tlbiall();
	note("TLBIALL");
	struct op r4[] = { LD(V1, b1p), LD(V2, a2p), LDF(V4, LFS_TRANS(1)) };
	run_ops(IN_USER, r4, N_OPS(r4));
	run_ops(IN_PL1, r4, N_OPS(r4));

	lset_ttbr1(lttbr(&c2, 0));
	lset_ttbcr(SPLIT(1, 2));
	note("TTBR1 -> tree C (T1SZ 2); T0SZ 1, T1SZ 2: V1 in the gap between the ranges");
	struct op x5[] = { LDX(V1), LDX(V4) };
	run_ops(IN_USER, x5, N_OPS(x5));
	tlbiall();
	note("TLBIALL");
	struct op r5[] = { LDF(V1, LFS_TRANS(1)), LD(V4, d4), LD(V2, a2p) };
	run_ops(IN_USER, r5, N_OPS(r5));
	run_ops(IN_PL1, r5, N_OPS(r5));

	lset_ttbcr(SPLIT(1, 2) | TTBCR_EPD1);
	note("EPD1: no walks from TTBR1");
	struct op x6[] = { LDX(V4) };
	run_ops(IN_USER, x6, N_OPS(x6));
	tlbiall();
	note("TLBIALL");
	struct op r6[] = { LDF(V4, LFS_TRANS(1)), LD(V2, a2p) };
	run_ops(IN_USER, r6, N_OPS(r6));
	run_ops(IN_PL1, r6, N_OPS(r6));
	lset_ttbcr(SPLIT(1, 2));
	note("EPD1 clear (nothing of V4 was cached: no maintenance needed)");
	struct op r7[] = { LD(V4, d4) };
	run_ops(IN_USER, r7, N_OPS(r7));

	lset_ttbcr(SPLIT(0, 2));
	note("T0SZ 0: V1 is TTBR0's again");
	struct op x8[] = { LDX(V1) };
	run_ops(IN_USER, x8, N_OPS(x8));
	tlbiall();
	note("TLBIALL");
	struct op r8[] = { LD(V1, a1), LD(V4, d4) };
	run_ops(IN_USER, r8, N_OPS(r8));

	/* T0SZ 2: TTBR0 covers 0-0x3fffffff only; the harness is TTBR1's. */
	lpae_enter(SPLIT(2, 0), lttbr(&a2, asid), lttbr(&b, 0));
	note("T0SZ 2, T1SZ 0 (TTBR0: tree A2, level 2 root; TTBR1: tree B, with the "
	     "harness); MMU off and on, TLBIALL");
	struct op r9[] = { LD(V2, a2q), LD(V1, b1p), ST(V1 + 8, 0xb1000008),
			   LD(V1 + 8, 0xb1000008), LDF(V4, LFS_TRANS(1)) };
	run_ops(IN_USER, r9, N_OPS(r9));
	run_ops(IN_PL1, r9, N_OPS(r9));
}

/* ------------------------------------------------------------- PA > 4 GiB */
/*
 * 40-bit output addresses: RAM above 4 GiB (-m 4096: 0x1_0000_0000 to
 * 0x1_3fff_ffff) through a 4 KiB page, a 2 MiB block and a 1 GiB block
 * (global, PL1, which stamps the pages: word i of page P holds
 * 0x10000000 | (P + 4 i)); one of them at 0x1_0900_0000, whose low 32 bits
 * are the UART's; past the end of RAM (unchecked).
 */
#define HI_STAMP(pa) (0x10000000u | (u32)(pa))

void t_lpae_highmem(void)
{
	const u32 asid = 0xd0, P = 0x29000000, BL = 0x64000000, G1 = 0xc0000000;
	const u64 HP = 0x100005000ull, HQ = 0x100006000ull, HU = 0x109000000ull,
		  HB = 0x100400000ull, HEND = RAM_END;
	const u32 f = L_RW | L_NG;
	struct lpt t;
#define GV(pa) (G1 + (u32)((pa) - 0x100000000ull))

	ltree(&t, 0);
	lmap_gblock(&t, G1, 0x100000000ull, L_PL1);
	lmap_page(&t, P, HP, f);
	lmap_page(&t, P + 0x1000, HEND, f);
	lmap_page(&t, P + 0x2000, HU, f);
	lmap_block(&t, BL, HB, f);
	dsb();
	lpae_enter(SPLIT(0, 0), lttbr(&t, asid), 0);
	note("1 GiB block 0x%08x -> PA 0x1_0000_0000 (PL1, global); P 0x%08x -> PA "
	     "0x1_0000_5000, P+0x1000 -> PA 0x1_4000_0000 (past RAM), P+0x2000 -> PA "
	     "0x1_0900_0000; 2 MiB block 0x%08x -> PA 0x1_0040_0000", G1, P, BL);
	u32 seq = fault_seq;
	struct op probe[] = { LDX(GV(HP)) };
	run_ops(IN_PL1, probe, 1);
	if (fault_seq != seq) {
		note("no RAM above 4 GiB (QEMU needs -m 4096): skipped");
		return;
	}
	static const u64 pages[] = { 0x100005000ull, 0x100006000ull, 0x109000000ull,
				     0x100400000ull, 0x100401000ull, 0x1005ff000ull };
	for (int i = 0; i < N_OPS(pages); i++) {
		struct op s[4];
		for (int j = 0; j < 4; j++)
			s[j] = (struct op)OPOK(OP_KST32, GV(pages[i]) + 4 * j,
					       HI_STAMP(pages[i] + 4 * j));
		run_ops(IN_PL1, s, 4);
	}
	struct op k1[] = { OPV(OP_KLD32, GV(HP), 0, HI_STAMP(HP)),
			   OPV(OP_KLD32, GV(HB + 0x1ff00c), 0, HI_STAMP(HB + 0x1ff00c)) };
	run_ops(IN_PL1, k1, N_OPS(k1));
	struct op u1[] = {
		LD(P, HI_STAMP(HP)), LD(P + 12, HI_STAMP(HP + 12)), LD(P + 0x2004, HI_STAMP(HU + 4)),
		LD(BL, HI_STAMP(HB)), LD(BL + 0x1008, HI_STAMP(HB + 0x1008)),
		LD(BL + 0x1ff00c, HI_STAMP(HB + 0x1ff00c)),
		ST(P + 0x20, 0xd0000020), LD(P + 0x20, 0xd0000020),
		ST(BL + 0x100020, 0xd0100020), LDX(P + 0x1000), OPX(OP_ST32, P + 0x1004, 0x1),
	};
	run_ops(IN_USER, u1, N_OPS(u1));
	struct op p1[] = {
		LD(P + 0x20, 0xd0000020), LD(BL + 0x100020, 0xd0100020), LD(P + 0x2008, HI_STAMP(HU + 8)),
		ST(P + 0x24, 0xd1000024), ST(BL + 0x1ff024, 0xd11ff024), LDX(P + 0x1000),
	};
	run_ops(IN_PL1, p1, N_OPS(p1));
	struct op k2[] = { OPV(OP_KLD32, GV(HP + 0x20), 0, 0xd0000020),
			   OPV(OP_KLD32, GV(HP + 0x24), 0, 0xd1000024),
			   OPV(OP_KLD32, GV(HB + 0x100020), 0, 0xd0100020),
			   OPV(OP_KLD32, GV(HB + 0x1ff024), 0, 0xd11ff024) };
	run_ops(IN_PL1, k2, N_OPS(k2));
	struct op u2[] = { LD(P + 0x24, 0xd1000024), LD(BL + 0x1ff024, 0xd11ff024) };
	run_ops(IN_USER, u2, N_OPS(u2));

	lmap_page(&t, P, HQ, f);
	lmap_block(&t, BL, HB - SZ_2M, L_RO | L_NG);
	tlbimva(P, asid);
	tlbimva(BL + 0x80000, asid);
	note("P -> PA 0x1_0000_6000, BL -> PA 0x1_0020_0000 read-only; TLBIMVA each");
	struct op s2[] = { OPOK(OP_KST32, GV(HB - SZ_2M + 0x10), 0xd2000010) };
	run_ops(IN_PL1, s2, N_OPS(s2));
	struct op u3[] = { LD(P, HI_STAMP(HQ)), LD(P + 4, HI_STAMP(HQ + 4)),
			   LD(BL + 0x10, 0xd2000010), STF(BL + 0x10, 0x1, LFS_PERM(2)) };
	run_ops(IN_USER, u3, N_OPS(u3));
	run_ops(IN_PL1, u3, N_OPS(u3));
#undef GV
}

/* ------------------------------------------------------------- code */
/*
 * Code through long descriptors: a user page (nG), a PL1 page (global) and
 * a PL1 page (nG) remapped and flushed by TLBIMVA, TLBIMVAA and TLBIALL;
 * two processes (trees, ASIDs) with different code at the same VAs,
 * switched with no maintenance, each running its own; a remap with no
 * maintenance then an ASID never used; code in a 2 MiB block remapped and
 * flushed by TLBIMVA of one of its pages; XN and PXN set on a code page.
 */
void t_lpae_code(void)
{
	const u32 AA = 0xe0, AB = 0xe1, AC = 0xe2;
	const u32 X = 0x2a000000, Y = 0x2a010000, YN = 0x2a020000, XB = 0x66000000;
	const u32 f = L_RW | L_NG;
	struct lpt ta, tb;
	u32 c[8];
	u32 b1 = pa_alloc(SZ_2M, SZ_2M), b2 = pa_alloc(SZ_2M, SZ_2M);

	for (int i = 0; i < 8; i++)
		c[i] = code_page(i + 1);
	put_return(b1, 21);
	put_return(b1 + 0x101000, 22);
	put_return(b2, 23);
	put_return(b2 + 0x101000, 24);
	ltree(&ta, 0);
	ltree(&tb, 0);
	lmap_page(&ta, X, c[0], f);
	lmap_page(&ta, Y, c[0], L_PL1);
	lmap_page(&ta, YN, c[0], L_PL1 | L_NG);
	dsb();
	lpae_enter(SPLIT(0, 0), lttbr(&ta, AA), 0);
	note("ASID 0x%x: X 0x%08x user nG, Y 0x%08x PL1 global, YN 0x%08x PL1 nG: code "
	     "returning 1", AA, X, Y, YN);
	for (int i = 0; i < 2; i++) {
		ucall(X, 1);
		kcall(Y, 1);
		kcall(YN, 1);
	}

	lmap_page(&ta, X, c[1], f);
	lmap_page(&ta, Y, c[1], L_PL1);
	lmap_page(&ta, YN, c[1], L_PL1 | L_NG);
	tlbimva(X, AA);
	tlbimvaa(Y);
	tlbimva(YN, AA);
	note("X, Y, YN -> code returning 2; TLBIMVA X, TLBIMVAA Y, TLBIMVA YN");
	for (int i = 0; i < 2; i++) {
		ucall(X, 2);
		kcall(Y, 2);
		kcall(YN, 2);
	}

	lmap_page(&ta, X, c[2], f);
	lmap_page(&ta, Y, c[2], L_PL1);
	lmap_page(&ta, YN, c[2], L_PL1 | L_NG);
	tlbiall();
	note("X, Y, YN -> code returning 3; TLBIALL");
	ucall(X, 3);
	kcall(Y, 3);
	kcall(YN, 3);

	/* Two processes: X and YN differ, Y (global) is the same in both. */
	lmap_page(&tb, X, c[3], f);
	lmap_page(&tb, Y, c[2], L_PL1);
	lmap_page(&tb, YN, c[3], L_PL1 | L_NG);
	dsb();
	for (int i = 0; i < 6; i++) {
		int b = !(i & 1);
		lset_ttbr0(b ? lttbr(&tb, AB) : lttbr(&ta, AA));
		note("TTBR0 -> process %c (ASID 0x%x), no maintenance: X and YN return %u",
		     b ? 'B' : 'A', b ? AB : AA, b ? 4 : 3);
		ucall(X, b ? 4 : 3);
		kcall(YN, b ? 4 : 3);
		kcall(Y, 3);
		ucall(X, b ? 4 : 3);
	}

	lmap_page(&ta, X, c[4], f);
	lmap_page(&ta, YN, c[4], L_PL1 | L_NG);
	dsb();
	lset_ttbr0(lttbr(&ta, AC));
	note("in A: X, YN -> code returning 5, no maintenance; TTBR0 -> A with ASID 0x%x "
	     "(never used)", AC);
	ucall(X, 5);
	kcall(YN, 5);
	ucall(X, 5);

	lmap_block(&ta, XB, b1, f);
	dsb();
	note("2 MiB block XB 0x%08x (user RW, nG): code returning 21 at +0, 22 at +0x101000",
	     XB);
	for (int i = 0; i < 2; i++) {
		ucall(XB, 21);
		ucall(XB + 0x101000, 22);
		kcall(XB + 0x101000, 22);
	}
	/*
	 * Only the flushed page's code is called before TLBIALL: stock QEMU
	 * runs the old block of another page in the 2 MiB block (its jump
	 * cache keeps it, found by virtual address), so that is not tested.
	 */
	lmap_block(&ta, XB, b2, f);
	tlbimva(XB + 0x101000, AC);
	note("XB -> code returning 23 and 24; TLBIMVA 0x%08x only", (XB + 0x101000) | AC);
	for (int i = 0; i < 2; i++) {
		ucall(XB + 0x101000, 24);
		kcall(XB + 0x101000, 24);
	}
	tlbiall();
	note("TLBIALL");
	for (int i = 0; i < 2; i++) {
		ucall(XB, 23);
		kcall(XB, 23);
	}

	lmap_page(&ta, X, c[5], f | L_XN);
	lmap_page(&ta, Y, c[5], L_PL1 | L_PXN);
	tlbimva(X, AC);
	tlbimvaa(Y);
	note("X -> code returning 6, XN; Y -> the same, PXN; TLBIMVA, TLBIMVAA");
	ucall(X, PABT_MARK);
	kcall(X, PABT_MARK); /* XN: no execution at any level */
	kcall(Y, PABT_MARK);
	lmap_page(&ta, X, c[6], f);
	lmap_page(&ta, Y, c[6], L_PL1);
	tlbimva(X, AC);
	tlbimvaa(Y);
	note("X, Y -> code returning 7, executable; TLBIMVA, TLBIMVAA");
	ucall(X, 7);
	kcall(Y, 7);
}

/*
 * Global PL1 pages across TTBCR writes with no TLB maintenance, as a
 * TTBR0 PAN kernel makes them at every entry and exit: an address whose
 * walk moves to another table with another level 1 descriptor there
 * translates anew (stock QEMU flushes its whole TLB at each TTBCR write;
 * the architecture leaves the old entry usable, so it is printed
 * unchecked and stock is the reference); one whose level 1 descriptor is
 * the same in both tables, as a Linux kernel's own addresses are, keeps
 * its translation whichever table it is walked from. Through the shared
 * access helpers and through the kernel window's path (OP_KLD32).
 */
void t_lpae_ttbcr_global(void)
{
	const u32 V1 = 0xa0100000, V3 = 0xc8100000;
	struct lpt a, b;
	u32 pa1 = pa_alloc(SZ_4K, SZ_4K), pb1 = pa_alloc(SZ_4K, SZ_4K),
	    p3 = pa_alloc(SZ_4K, SZ_4K);
	int i;

	ltree(&a, 0);
	lmap_page(&a, V1, pa1, L_PL1);
	lmap_page(&a, V3, p3, L_PL1);
	ltree(&b, 0);
	lmap_page(&b, V1, pb1, L_PL1);
	/* The same level 1 descriptor for V3's GiB in both trees. */
	*lpt_entry(&b, V3, 1) = *lpt_entry(&a, V3, 1);
	dsb();
	lpae_enter(SPLIT(0, 0), lttbr(&a, 0xc4), lttbr(&b, 0));
	note("V1 0x%08x -> 0x%08x in TTBR0's tree, 0x%08x in TTBR1's; V3 0x%08x -> 0x%08x "
	     "through one level 1 descriptor in both", V1, pa1, pb1, V3, p3);
	for (i = 0; i < 3; i++) {
		struct op t0[] = { LD(V1, pa1), LD(V3, p3), OPV(OP_KLD32, V1 + 4, 0, pa1 + 4),
				   OPV(OP_KLD32, V3 + 4, 0, p3 + 4) };
		struct op t1[] = { LDX(V1), LD(V3, p3), OPX(OP_KLD32, V1 + 4, 0),
				   OPV(OP_KLD32, V3 + 4, 0, p3 + 4) };

		note("round %d: T0SZ 0, T1SZ 0: all TTBR0", i);
		run_ops(IN_PL1, t0, N_OPS(t0));
		lset_ttbcr(SPLIT(7, 0) | TTBCR_EPD0 | TTBCR_A1);
		note("T0SZ 7, EPD0, A1 (TTBR0 PAN's uaccess_disable): V1, V3 are TTBR1's");
		run_ops(IN_PL1, t1, N_OPS(t1));
		lset_ttbcr(SPLIT(0, 0));
		note("TTBCR back: all TTBR0");
		struct op t2[] = { LDX(V1), LD(V3, p3), OPX(OP_KLD32, V1 + 4, 0),
				   OPV(OP_KLD32, V3 + 4, 0, p3 + 4) };
		run_ops(IN_PL1, t2, N_OPS(t2));
	}

	/*
	 * A TTBR1 range that shrinks inside a GiB whose start stays in the
	 * gap: T0SZ 1 (TTBR0 below 2 GiB), T1SZ 3 (TTBR1 from 0xe0000000),
	 * then 4 (from 0xf0000000): V4 0xe8000000 falls into the gap.
	 */
	const u32 V4 = 0xe8000000;
	struct lpt a1, c3;
	u32 p4 = pa_alloc(SZ_4K, SZ_4K);

	ltree(&a1, 1);
	lpt_new(&c3, 3);
	lmap_page(&c3, V4, p4, L_PL1);
	dsb();
	lpae_enter(SPLIT(1, 3), lttbr(&a1, 0xc5), lttbr(&c3, 0));
	note("T0SZ 1, T1SZ 3: V4 0x%08x -> 0x%08x through TTBR1", V4, p4);
	for (i = 0; i < 2; i++) {
		struct op g0[] = { LD(V4, p4), OPV(OP_KLD32, V4 + 4, 0, p4 + 4) };
		struct op g1[] = { LDX(V4), OPX(OP_KLD32, V4 + 4, 0) };

		run_ops(IN_PL1, g0, N_OPS(g0));
		lset_ttbcr(SPLIT(1, 4));
		note("T1SZ 4: V4 is in the gap");
		run_ops(IN_PL1, g1, N_OPS(g1));
		lset_ttbcr(SPLIT(1, 3));
		tlbiall();
		note("T1SZ 3 again, TLBIALL");
	}
}

/*
 * User mode with TTBCR.A1 set: the ASID in use is TTBR1's, and TLBIASID
 * of that ASID (not TTBR0's) must remove user mode's non-global entries,
 * in the softmmu and in a window keyed by the context; TLBIASID of
 * TTBR0's ASID need not (the entries may stay: printed unchecked).
 */
void t_lpae_a1_tlbiasid(void)
{
	const u32 N = 0x26000000, f = L_RW | L_NG;
	const u32 A0 = 0xb0, A1 = 0xb1;
	struct lpt t, e;
	u32 p[4];
	int i;

	for (i = 0; i < 4; i++)
		p[i] = pa_alloc(SZ_4K, SZ_4K);
	ltree(&t, 0);
	lpt_new(&e, 0); /* TTBR1: never walked with T1SZ 0 and T0SZ 0 */
	lmap_page(&t, N, p[0], f);
	dsb();
	lpae_enter(SPLIT(0, 0) | TTBCR_A1, lttbr(&t, A0), lttbr(&e, A1));
	note("A1=1: the ASID in use is TTBR1's 0x%x (TTBR0's is 0x%x); N 0x%08x nG", A1, A0, N);
	for (i = 1; i < 4; i++) {
		struct op u[] = { LD(N, p[i - 1]), LD(N + 4, p[i - 1] + 4) };
		struct op x[] = { LDX(N) };
		struct op v[] = { LD(N, p[i]) };

		run_ops(IN_USER, u, N_OPS(u));
		lmap_page(&t, N, p[i], f);
		dsb();
		tlbiasid(A0);
		note("N remapped to 0x%08x; TLBIASID of TTBR0's ASID", p[i]);
		run_ops(IN_USER, x, N_OPS(x));
		tlbiasid(A1);
		note("TLBIASID of the ASID in use");
		run_ops(IN_USER, v, N_OPS(v));
	}
}

/*
 * The kernel window's 2 MiB sections: a global PL1 block used through
 * the kernel window (OP_KLD32), then replaced with a table of small
 * pages whose first page keeps the block's RAM and whose second page
 * maps other RAM, and TLBIALL: the second page must read the new RAM
 * (the window checks a section by its first page, and must also check
 * that it still comes from a mapping of the same size).
 */
void t_lpae_kernel_block(void)
{
	const u32 B = 0xd0000000;
	struct lpt t;
	u32 blk = pa_alloc(SZ_2M, SZ_2M), other = pa_alloc(SZ_4K, SZ_4K);
	int i;

	ltree(&t, 0);
	lmap_block(&t, B, blk, L_PL1);
	dsb();
	lpae_enter(SPLIT(0, 0), lttbr(&t, 0xc8), 0);
	note("B 0x%08x: a 2 MiB block of RAM 0x%08x; other page 0x%08x", B, blk, other);
	for (i = 0; i < 2; i++) {
		struct op k0[] = { OPV(OP_KLD32, B + 8, 0, blk + 8),
				   OPV(OP_KLD32, B + 0x1008, 0, blk + 0x1008),
				   OPV(OP_KLD32, B + 0x100008, 0, blk + 0x100008) };
		run_ops(IN_PL1, k0, N_OPS(k0));
		tlbiall();
		note("TLBIALL, block unchanged");
		run_ops(IN_PL1, k0, N_OPS(k0));
	}
	lmap_page(&t, B, blk, L_PL1);
	lmap_page(&t, B + 0x1000, other, L_PL1);
	lmap_page(&t, B + 0x100000, blk + 0x100000, L_PL1);
	dsb();
	tlbiall();
	note("block replaced by small pages: B -> 0x%08x, B+4K -> 0x%08x; TLBIALL", blk, other);
	struct op k1[] = { OPV(OP_KLD32, B + 8, 0, blk + 8),
			   OPV(OP_KLD32, B + 0x1008, 0, other + 8),
			   OPV(OP_KLD32, B + 0x100008, 0, blk + 0x100008),
			   OPF(OP_KLD32, B + 0x2008, 0, LFS_TRANS(3)) };
	run_ops(IN_PL1, k1, N_OPS(k1));
}
