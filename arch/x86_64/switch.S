/* Context switch and green-thread entry for x86_64 (System V ABI).
 *
 * A context is just the saved stack pointer: the callee-saved registers
 * (rbp rbx r12-r15), MXCSR and the x87 control word are pushed on the stack
 * being left. Caller-saved registers need no saving: gr_arch_switch is an
 * ordinary call as far as the compiler is concerned.
 *
 * The FS base (the thread pointer: glibc TCB and all static TLS) is switched
 * in the same routine, after the stack has changed, so that no C code runs
 * with one G's stack and another's TLS.
 */
	.text

/* void gr_arch_switch(void **save_sp, void *const *load_sp, void *fsbase)
 * fsbase == 0 leaves the FS base as it is. */
	.globl gr_arch_switch
	.hidden gr_arch_switch
	.type gr_arch_switch, @function
gr_arch_switch:
	.cfi_startproc
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	subq $8, %rsp
	stmxcsr (%rsp)
	fnstcw 4(%rsp)
	movq %rsp, (%rdi)
	movq (%rsi), %rsp
	testq %rdx, %rdx
	jz 1f
	cmpb $0, gr_arch_have_fsgsbase(%rip)
	je 2f
	wrfsbase %rdx
	jmp 1f
2:	/* arch_prctl(ARCH_SET_FS, fsbase): about 180 ns instead of 14. */
	movq %rdx, %rsi
	movl $0x1002, %edi
	movl $158, %eax
	syscall
1:	ldmxcsr (%rsp)
	fldcw 4(%rsp)
	addq $8, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
	.cfi_endproc
	.size gr_arch_switch, .-gr_arch_switch

/* First frame of every green thread. gr_arch_switch "returns" here with
 * r12 = argument and r13 = entry function (see gr_arch_ctx_init). The CFI
 * marks the return address undefined so gdb and libunwind stop here. */
	.globl gr_arch_gstart
	.hidden gr_arch_gstart
	.type gr_arch_gstart, @function
gr_arch_gstart:
	.cfi_startproc
	.cfi_undefined rip
	movq %r12, %rdi
	xorl %ebp, %ebp
	call *%r13
	ud2
	.cfi_endproc
	.size gr_arch_gstart, .-gr_arch_gstart

	.section .note.GNU-stack,"",@progbits
