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

/* Asynchronous preemption trampoline.
 *
 * The runtime signal handler, finding the G at a safe point, moved the
 * interrupted stack pointer down past the 128-byte red zone and one slot,
 * stored the interrupted PC in that slot, and pointed RIP here. So this is
 * entered as if called from the interrupted instruction, with the red zone
 * intact above the return address. Save every general register, the flags
 * and the full extended state (xsave, size from CPUID, or fxsave), clear
 * DF, let the scheduler run something else (gr_preempt_park), restore
 * everything and return to the interrupted PC, dropping the red-zone gap.
 * (The handler ran on the M's alternate stack, so nothing of the kernel's
 * signal frame lives on this stack.)
 */
	.text
	.globl gr_arch_preempt_tramp
	.hidden gr_arch_preempt_tramp
	.type gr_arch_preempt_tramp, @function
gr_arch_preempt_tramp:
	.cfi_startproc
	/* Unwind info: entered as if called from the interrupted instruction,
	 * with the interrupted rsp 128 bytes (the red zone) above the return
	 * slot, so CFA = the interrupted rsp and the pc is at CFA - 136. A
	 * signal frame: unwinders name the interrupted pc itself, not pc - 1. */
	.cfi_signal_frame
	.cfi_def_cfa %rsp, 136
	.cfi_offset %rip, -136
	pushfq
	.cfi_adjust_cfa_offset 8
	pushq %rax
	.cfi_adjust_cfa_offset 8
	pushq %rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbx, 0
	pushq %rcx
	.cfi_adjust_cfa_offset 8
	pushq %rdx
	.cfi_adjust_cfa_offset 8
	pushq %rsi
	.cfi_adjust_cfa_offset 8
	pushq %rdi
	.cfi_adjust_cfa_offset 8
	pushq %rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	pushq %r8
	.cfi_adjust_cfa_offset 8
	pushq %r9
	.cfi_adjust_cfa_offset 8
	pushq %r10
	.cfi_adjust_cfa_offset 8
	pushq %r11
	.cfi_adjust_cfa_offset 8
	pushq %r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r12, 0
	pushq %r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r13, 0
	pushq %r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r14, 0
	pushq %r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %r15, 0
	movq %rsp, %rbp			/* frame: restore rsp from here */
	.cfi_def_cfa_register %rbp
	movl gr_arch_xsave_size(%rip), %ecx
	subq %rcx, %rsp
	andq $-64, %rsp
	cld
	cmpb $0, gr_arch_have_xsave(%rip)
	je 1f
	/* zero the 64-byte XSAVE header (bytes 512..575) before saving */
	xorl %eax, %eax
	movq %rax, 512(%rsp)
	movq %rax, 520(%rsp)
	movq %rax, 528(%rsp)
	movq %rax, 536(%rsp)
	movq %rax, 544(%rsp)
	movq %rax, 552(%rsp)
	movq %rax, 560(%rsp)
	movq %rax, 568(%rsp)
	movl $-1, %eax
	movl $-1, %edx
	xsave64 (%rsp)
	jmp 2f
1:	fxsave64 (%rsp)
2:	call gr_preempt_park
	.globl gr_arch_preempt_ret
	.hidden gr_arch_preempt_ret
gr_arch_preempt_ret:			/* traceback.c: the frame below is an exact pc */
	cmpb $0, gr_arch_have_xsave(%rip)
	je 3f
	movl $-1, %eax
	movl $-1, %edx
	xrstor64 (%rsp)
	jmp 4f
3:	fxrstor64 (%rsp)
4:	movq %rbp, %rsp
	.cfi_def_cfa %rsp, 264
	popq %r15
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r15
	popq %r14
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r14
	popq %r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r13
	popq %r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r12
	popq %r11
	.cfi_adjust_cfa_offset -8
	popq %r10
	.cfi_adjust_cfa_offset -8
	popq %r9
	.cfi_adjust_cfa_offset -8
	popq %r8
	.cfi_adjust_cfa_offset -8
	popq %rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	popq %rdi
	.cfi_adjust_cfa_offset -8
	popq %rsi
	.cfi_adjust_cfa_offset -8
	popq %rdx
	.cfi_adjust_cfa_offset -8
	popq %rcx
	.cfi_adjust_cfa_offset -8
	popq %rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	popq %rax
	.cfi_adjust_cfa_offset -8
	popfq
	.cfi_adjust_cfa_offset -8
	ret $128
	.cfi_endproc
	.size gr_arch_preempt_tramp, .-gr_arch_preempt_tramp

/* pid_t vfork(void): the child borrows the caller's stack, so the return
 * address is kept in a register across the system call (a C function's
 * frame would be clobbered by the child). The child records itself
 * (gr_vfork_child) so that shims it calls leave the parent's runtime state
 * alone; the parent, resumed once the child has exec'd or exited, drops
 * the record (gr_vfork_parent). */
	.globl vfork
	.type vfork, @function
vfork:
	.cfi_startproc
	popq %rdi
	.cfi_adjust_cfa_offset -8
	.cfi_register %rip, %rdi
	movl $58, %eax		/* SYS_vfork */
	syscall
	pushq %rdi
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rip, 0
	cmpq $-4095, %rax
	jae 2f
	testq %rax, %rax
	jz 1f
	movq %rax, %rdi
	jmp gr_vfork_parent	/* returns the child's pid */
1:	jmp gr_vfork_child	/* returns 0 */
2:	movq %rax, %rdi
	jmp gr_vfork_error	/* sets errno, returns -1 */
	.cfi_endproc
	.size vfork, .-vfork

/* void gr_arch_save_callee(uintptr_t out[7]) */
	.globl gr_arch_save_callee
	.hidden gr_arch_save_callee
	.type gr_arch_save_callee, @function
gr_arch_save_callee:
	.cfi_startproc
	movq %rbx, 0(%rdi)
	movq %rbp, 8(%rdi)
	movq %r12, 16(%rdi)
	movq %r13, 24(%rdi)
	movq %r14, 32(%rdi)
	movq %r15, 40(%rdi)
	leaq 8(%rsp), %rax
	movq %rax, 48(%rdi)
	ret
	.cfi_endproc
	.size gr_arch_save_callee, .-gr_arch_save_callee

/* void gr_arch_call_on_stack(void *top, void (*fn)(void *), void *arg):
 * call fn(arg) with the stack pointer at top (aligned down to 16), then
 * return on the caller's stack. For signal handlers on a G's sigaltstack. */
	.globl gr_arch_call_on_stack
	.hidden gr_arch_call_on_stack
	.type gr_arch_call_on_stack, @function
gr_arch_call_on_stack:
	.cfi_startproc
	pushq %rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset %rbp, 0
	movq %rsp, %rbp
	.cfi_def_cfa_register %rbp
	andq $-16, %rdi
	movq %rdi, %rsp
	movq %rdx, %rdi
	call *%rsi
	movq %rbp, %rsp
	.cfi_def_cfa_register %rsp
	popq %rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	ret
	.cfi_endproc
	.size gr_arch_call_on_stack, .-gr_arch_call_on_stack
	.section .note.GNU-stack,"",@progbits
