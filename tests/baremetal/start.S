/*
 * Start-up, vector table, user-mode entry/exit and the memory-access
 * helpers of the bare-metal harness (ARM state, PL1).
 *
 * QEMU starts the ELF at _start in SVC mode with the MMU off.
 */
	.syntax unified
	.arm

	.equ MODE_USR, 0x10
	.equ MODE_FIQ, 0x11
	.equ MODE_IRQ, 0x12
	.equ MODE_SVC, 0x13
	.equ MODE_ABT, 0x17
	.equ MODE_UND, 0x1b
	.equ MODE_SYS, 0x1f
	.equ PSR_I, 0x80
	.equ PSR_F, 0x40
	.equ PSR_A, 0x100
	.equ PSR_T, 0x20

	/* Marker left in a load's destination when the access aborted. */
	.equ FAULT_MARK_LO, 0xfa17
	.equ FAULT_MARK_HI, 0xfa17

/* ---------------------------------------------------------------- vectors */
	.section .vectors, "ax"
	.balign 32
	.global vectors
vectors:
	b	reset_again
	b	und_entry
	b	svc_entry
	b	pabt_entry
	b	dabt_entry
	b	unused_entry
	b	irq_entry
	b	fiq_entry

/* ---------------------------------------------------------------- start */
	.section .text.start, "ax"
	.global _start
_start:
	cpsid	aif
	cps	#MODE_ABT
	ldr	sp, =abt_stack_top
	cps	#MODE_UND
	ldr	sp, =und_stack_top
	cps	#MODE_IRQ
	ldr	sp, =exc_stack_top
	cps	#MODE_FIQ
	ldr	sp, =exc_stack_top
	cps	#MODE_SVC
	ldr	sp, =svc_stack_top
	ldr	r0, =vectors
	mcr	p15, 0, r0, c12, c0, 0		@ VBAR
	isb
	/* Clear .bss (RAM starts zeroed, but be explicit). */
	ldr	r0, =__bss_start
	ldr	r1, =__bss_end
	mov	r2, #0
1:	cmp	r0, r1
	strlo	r2, [r0], #4
	blo	1b
	bl	main
	b	system_off

/*
 * Power off: PSCI SYSTEM_OFF through HVC (the conduit of -M virt without
 * EL2/EL3); QEMU exits with status 0.
 */
	.global system_off
system_off:
	cpsid	aif
	movw	r0, #0x0008
	movt	r0, #0x8400			@ PSCI_0_2_FN_SYSTEM_OFF
	hvc	#0
2:	wfi
	b	2b

reset_again:
	ldr	r0, =msg_reset
	b	fatal_msg
unused_entry:
	ldr	r0, =msg_unused
	b	fatal_msg
irq_entry:
	ldr	r0, =msg_irq
	b	fatal_msg
fiq_entry:
	ldr	r0, =msg_fiq
	b	fatal_msg
fatal_msg:
	cps	#MODE_SVC
	ldr	sp, =svc_stack_top
	bl	fatal
	b	system_off

und_entry:
	sub	lr, lr, #4
	mrs	r0, spsr
	mov	r1, lr
	bl	und_report			@ does not return
	b	system_off

/*
 * u32 run_user(u32 (*fn)(void *), void *arg): run fn(arg) in user mode
 * (IRQ/FIQ/async aborts masked) on the user stack; fn returns to
 * user_return, whose SVC comes back here with fn's result in r0.
 * SP_svc is banked, so the SVC handler pops this frame directly.
 */
	.text
	.global run_user
run_user:
	push	{r3-r11, lr}
	cps	#MODE_SYS			@ shares SP/LR with user mode
	ldr	sp, =user_stack_top
	ldr	lr, =user_return
	cps	#MODE_SVC
	mov	r2, r0
	mov	r0, r1
	mov	r1, #(MODE_USR | PSR_I | PSR_F | PSR_A)
	tst	r2, #1				@ a Thumb function: enter in Thumb state
	orrne	r1, r1, #PSR_T
	bicne	r2, r2, #1
	msr	spsr_cxsf, r1
	movs	pc, r2				@ exception return to user mode

	.global user_return
user_return:
	svc	#0
	b	user_return

/*
 * u32 user_it_svc_skip(void *), u32 user_it_svc_take(void *): Thumb, for
 * user mode. An SVC inside an IT block returns (svc_entry) to the next
 * instruction, which must keep its place in the block: QEMU looks the
 * next block up with the IT state (CONDEXEC) from CPSR. Architecture:
 * skip returns 1 (the rest of the block is "else": not run), take 33.
 */
	.thumb
	.thumb_func
	.global user_it_svc_skip
user_it_svc_skip:
	movs	r2, #0
	cmp	r2, #0				@ EQ holds
	ittee	eq
	moveq	r2, #1
	svceq	#0x5a
	addne	r2, r2, #16
	addne	r2, r2, #32
	mov	r0, r2
	bx	lr

	.thumb_func
	.global user_it_svc_take
user_it_svc_take:
	movs	r2, #0
	cmp	r2, #0
	ittet	eq
	moveq	r2, #1
	svceq	#0x5a
	addne	r2, r2, #16
	addeq	r2, r2, #32
	mov	r0, r2
	bx	lr
	.arm

svc_entry:
	/*
	 * SVC #0x5a from Thumb code (user_it_svc_*): return at once, to the
	 * next instruction, with SPSR's IT state for the rest of its block.
	 */
	mrs	r12, spsr
	tst	r12, #PSR_T
	beq	svc_not_probe
	ldrh	r12, [lr, #-2]			@ the SVC instruction
	sub	r12, r12, #0xdf00
	cmp	r12, #0x5a
	movseq	pc, lr
svc_not_probe:
	mrs	r12, spsr
	and	r12, r12, #0x1f
	cmp	r12, #MODE_USR
	bne	svc_not_from_user
	pop	{r3-r11, pc}			@ back in run_user's caller
svc_not_from_user:
	ldr	r0, =msg_svc
	b	fatal_msg

/*
 * Data abort: report (DFSR, DFAR, mode) and skip the instruction. Only the
 * op_* helpers below may fault; dabt_report stops the program otherwise.
 */
dabt_entry:
	sub	lr, lr, #8			@ the aborted instruction
	push	{r0-r5, r12, lr}
	mrs	r0, spsr
	mov	r1, lr
	bl	dabt_report
	pop	{r0-r5, r12, lr}
	add	lr, lr, #4
	movs	pc, lr

/*
 * Prefetch abort: report (IFSR, IFAR). From user mode, the user run ends
 * (run_user returns PABT_MARK); from PL1 inside call_pl1_catch, that call
 * ends (it returns PABT_MARK); otherwise from PL1, the program stops.
 */
pabt_entry:
	sub	lr, lr, #4
	push	{r0-r5, r12, lr}
	mrs	r0, spsr
	mov	r1, lr
	bl	pabt_report			@ returns for user mode or a caught call
	pop	{r0-r5, r12, lr}
	mrs	r12, spsr
	and	r12, r12, #0x1f
	cmp	r12, #MODE_USR
	bne	pabt_pl1
	cps	#MODE_SVC
	movw	r0, #0xab00
	movt	r0, #0xfa17
	pop	{r3-r11, pc}
pabt_pl1:
	cps	#MODE_SVC
	ldr	r12, =pl1_catch_sp
	ldr	sp, [r12]
	mov	r0, #0
	str	r0, [r12]
	movw	r0, #0xab00
	movt	r0, #0xfa17
	pop	{r3-r11, pc}			@ call_pl1_catch's frame

/*
 * u32 call_pl1_catch(u32 (*fn)(void *), void *arg): fn(arg) at PL1 (ARM
 * or Thumb); a prefetch abort at PL1 while it runs returns PABT_MARK.
 */
	.global call_pl1_catch
call_pl1_catch:
	push	{r3-r11, lr}
	ldr	r12, =pl1_catch_sp
	str	sp, [r12]
	mov	r12, r0
	mov	r0, r1
	blx	r12
	ldr	r12, =pl1_catch_sp
	mov	r1, #0
	str	r1, [r12]
	pop	{r3-r11, pc}

/*
 * Memory-access helpers, one instruction each, run in user mode or PL1:
 * u64 op_X(u32 addr, u32 val). A load returns what it read (r0, and r1 for
 * two-word loads); when the access aborts, the handler skips it and the
 * result is 0xfa17fa17. Kept together in .text.ops so the abort handler
 * knows a fault there is expected.
 */
	.section .text.ops, "ax"
	.macro LOADOP name, insn:vararg
	.global \name
\name:
	mov	r2, r0
	movw	r0, #FAULT_MARK_LO
	movt	r0, #FAULT_MARK_HI
	mov	r1, r0
	\insn
	bx	lr
	.endm
	.macro STOREOP name, insn:vararg
	.global \name
\name:
	mov	r2, r1
	mov	r3, r1
	\insn
	mov	r0, #0
	mov	r1, #0
	bx	lr
	.endm

	LOADOP	op_ld32, ldr r0, [r2]
	/* The LPAE cases' PL1 accesses to global pages (OP_KLD32, OP_KST32):
	 * never used on non-global pages, which send a helper's block
	 * through the softmmu for good. */
	LOADOP	lk_op_ld32, ldr r0, [r2]
	STOREOP	lk_op_st32, str r1, [r0]
	/* The kernel_window case's own (no other case sends them through
	 * the softmmu for good), and the same for its fixmap slot. */
	LOADOP	kw_op_ld32, ldr r0, [r2]
	STOREOP	kw_op_st32, str r1, [r0]
	LOADOP	kw_op_fixmap_ld32, ldr r0, [r2]
	STOREOP	kw_op_fixmap_st32, str r1, [r0]
	LOADOP	op_ld16, ldrh r0, [r2]
	LOADOP	op_ld8, ldrb r0, [r2]
	LOADOP	op_ldrd, ldrd r0, r1, [r2]
	LOADOP	op_ldm2, ldm r2, {r0, r1}
	LOADOP	op_ldrex, ldrex r0, [r2]
	LOADOP	op_ldrt, ldrt r0, [r2]
	STOREOP	op_st32, str r1, [r0]
	STOREOP	op_st8, strb r1, [r0]
	STOREOP	op_strd, strd r2, r3, [r0]
	STOREOP	op_stm2, stm r0, {r2, r3}
	STOREOP	op_strt, strt r1, [r0]
	/* u32 op_swp(addr, val), op_swpb: the old value */
	.macro SWPOP name, insn:vararg
	.global \name
\name:
	mov	r2, r0
	mov	r3, r1
	movw	r0, #FAULT_MARK_LO
	movt	r0, #FAULT_MARK_HI
	mov	r1, #0
	\insn
	bx	lr
	.endm
	/* encoded, as gas warns that SWP is deprecated in ARMv6/v7 */
	SWPOP	op_swp, .inst 0xe1020093	@ swp r0, r3, [r2]
	SWPOP	op_swpb, .inst 0xe1420093	@ swpb r0, r3, [r2]
	/* ldrexd wants an even/odd pair: r0, r1 */
	LOADOP	op_ldrexd, ldrexd r0, r1, [r2]
	/* u32 op_strex(addr, val): LDREX, then STREX val; returns the status */
	.global op_strex
op_strex:
	mov	r2, r0
	movw	r0, #FAULT_MARK_LO
	movt	r0, #FAULT_MARK_HI
	ldrex	r3, [r2]
	strex	r0, r1, [r2]
	mov	r1, #0
	bx	lr
	/* u32 op_strex_nomon(addr, val): CLREX, then STREX val; the status */
	.global op_strex_nomon
op_strex_nomon:
	mov	r2, r0
	movw	r0, #FAULT_MARK_LO
	movt	r0, #FAULT_MARK_HI
	clrex
	strex	r0, r1, [r2]
	mov	r1, #0
	bx	lr
	/* clrex after ldrex so no exclusive monitor state is left open */
	.global op_clrex
op_clrex:
	clrex
	bx	lr

/*
 * TTBR0 PAN, as Linux's CONFIG_CPU_TTBR0_PAN (arch/arm/include/asm/
 * uaccess-asm.h): with uaccess disabled, TTBCR has EPD0 set, T0SZ 7 and A1
 * set (the ASID is TTBR1's, a reserved one), so PL1 reaches no user
 * mapping. The harness runs in TTBR0's range, which then faults: the PAN
 * case's kernel is this page, position independent, run from an alias in
 * TTBR1's range, with its own vectors, on a job in an aliased data page.
 *
 * void pan_run(struct pan_job *job, u32 vbar): job and vbar (pan_vectors)
 * are the aliases. Runs the job's ops in order (enum pan_kind in
 * tests_lpae.c), recording each result, value or fault; the data abort
 * handler records DFSR/DFAR in the job and skips the instruction. Entered
 * and left with uaccess enabled: it restores TTBCR and VBAR at the end.
 * r11 holds the job throughout (the handler uses it and r12).
 */
	.equ PJ_N, 0
	.equ PJ_SEQ, 4
	.equ PJ_FSR, 8
	.equ PJ_FAR, 12
	.equ PJ_VBAR, 16
	.equ PJ_TTBCR, 20
	.equ PJ_OPS, 32
	.equ PO_KIND, 0
	.equ PO_ADDR, 4
	.equ PO_VAL, 8
	.equ PO_RES, 12
	.equ PO_FAULTED, 16
	.equ PO_FSR, 20
	.equ PO_FAR, 24
	.equ PO_SIZE, 32
	.equ TTBCR_PAN_LOW, 0x87		@ EPD0 | T0SZ mask
	.equ TTBCR_A1, 0x400000

	.section .text.pan, "ax"
	.balign 4096
	.global pan_page
pan_page:
	.global pan_vectors
pan_vectors:
	b	pan_bad
	b	pan_bad
	b	pan_bad
	b	pan_bad
	b	pan_dabt
	b	pan_bad
	b	pan_bad
	b	pan_bad

	.global pan_run
pan_run:
	push	{r3-r11, lr}
	mov	r11, r0
	mrc	p15, 0, r4, c12, c0, 0		@ VBAR
	str	r4, [r11, #PJ_VBAR]
	mrc	p15, 0, r4, c2, c0, 2		@ TTBCR
	str	r4, [r11, #PJ_TTBCR]
	mcr	p15, 0, r1, c12, c0, 0
	isb
	ldr	r10, [r11, #PJ_N]
	add	r9, r11, #PJ_OPS
1:	subs	r10, r10, #1
	bmi	9f
	ldr	r8, [r9, #PO_KIND]
	ldr	r2, [r9, #PO_ADDR]
	ldr	r3, [r9, #PO_VAL]
	ldr	r7, [r11, #PJ_SEQ]
	movw	r0, #FAULT_MARK_LO
	movt	r0, #FAULT_MARK_HI
	cmp	r8, #7
	bhs	8f
	add	pc, pc, r8, lsl #2
	nop
	b	10f
	b	11f
	b	12f
	b	13f
	b	14f
	b	15f
	b	16f
10:	ldr	r0, [r2]			@ PAN_LD
	b	8f
11:	str	r3, [r2]			@ PAN_ST
	mov	r0, #0
	b	8f
12:	ldrt	r0, [r2]			@ PAN_LDRT
	b	8f
13:	strt	r3, [r2]			@ PAN_STRT
	mov	r0, #0
	b	8f
14:	mrc	p15, 0, r0, c2, c0, 2		@ PAN_DISABLE: uaccess_disable
	orr	r0, r0, #TTBCR_PAN_LOW
	orr	r0, r0, #TTBCR_A1
	mcr	p15, 0, r0, c2, c0, 2
	isb
	b	8f
15:	mrc	p15, 0, r0, c2, c0, 2		@ PAN_ENABLE: uaccess_enable
	bic	r0, r0, #TTBCR_PAN_LOW
	bic	r0, r0, #TTBCR_A1
	mcr	p15, 0, r0, c2, c0, 2
	isb
	b	8f
16:	mcrr	p15, 0, r2, r3, c2		@ PAN_TTBR0: addr low, val high
	isb
	mov	r0, #0
8:	str	r0, [r9, #PO_RES]
	ldr	r1, [r11, #PJ_SEQ]
	subs	r1, r1, r7
	movne	r1, #1
	str	r1, [r9, #PO_FAULTED]
	ldr	r1, [r11, #PJ_FSR]
	str	r1, [r9, #PO_FSR]
	ldr	r1, [r11, #PJ_FAR]
	str	r1, [r9, #PO_FAR]
	add	r9, r9, #PO_SIZE
	b	1b
9:	ldr	r4, [r11, #PJ_TTBCR]		@ uaccess_restore
	mrc	p15, 0, r5, c2, c0, 2
	cmp	r4, r5
	mcrne	p15, 0, r4, c2, c0, 2
	isb
	ldr	r4, [r11, #PJ_VBAR]
	mcr	p15, 0, r4, c12, c0, 0
	isb
	pop	{r3-r11, pc}

pan_dabt:
	mrc	p15, 0, r12, c5, c0, 0		@ DFSR
	str	r12, [r11, #PJ_FSR]
	mrc	p15, 0, r12, c6, c0, 0		@ DFAR
	str	r12, [r11, #PJ_FAR]
	ldr	r12, [r11, #PJ_SEQ]
	add	r12, r12, #1
	str	r12, [r11, #PJ_SEQ]
	subs	pc, lr, #4			@ skip the access

	/* Any other exception: back to the harness's state, then stop. */
pan_bad:
	ldr	r12, [r11, #PJ_TTBCR]
	mcr	p15, 0, r12, c2, c0, 2
	ldr	r12, [r11, #PJ_VBAR]
	mcr	p15, 0, r12, c12, c0, 0
	isb
	cps	#MODE_SVC
	ldr	sp, =svc_stack_top
	ldr	r0, =msg_pan
	ldr	pc, =fatal
	.ltorg
	.global pan_end
pan_end:				@ pan_case() checks it is one page

	.section .rodata
msg_pan:	.asciz "exception other than a data abort while the PAN job ran"
msg_reset:	.asciz "reset vector taken"
msg_unused:	.asciz "unused vector taken"
msg_irq:	.asciz "unexpected IRQ"
msg_fiq:	.asciz "unexpected FIQ"
msg_svc:	.asciz "SVC not from user mode"

	.bss
	.global pl1_catch_sp
	.balign 4
pl1_catch_sp:
	.space 4
	.balign 8
	.space 8192
svc_stack_top:
	.space 4096
abt_stack_top:
	.space 1024
und_stack_top:
	.space 1024
exc_stack_top:
	.balign 4096
	.space 8192
	.global user_stack_top
user_stack_top:

	.section .note.GNU-stack, "", %progbits
