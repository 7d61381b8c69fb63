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

	.section .rodata
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
