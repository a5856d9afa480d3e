/* FS base and context set-up for x86_64.
 *
 * The kernel enables user-mode wrfsbase when it advertises FSGSBASE in
 * AT_HWCAP2 (bit 1); otherwise every set costs an arch_prctl system call.
 */
#include "arch/x86_64/arch.h"
#include "core/sys.h"

#include <stdint.h>
#include <sys/auxv.h>
#include <ucontext.h>
#include <asm/prctl.h>

bool gr_arch_have_fsgsbase;
bool gr_arch_have_xsave;
unsigned gr_arch_xsave_size = 512 + 64;

void gr_arch_init(void)
{
	gr_arch_have_fsgsbase = (getauxval(AT_HWCAP2) & 2) != 0;
	unsigned a, b, c, d;
	__asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (c & (1u << 27)) {	/* OSXSAVE: the kernel enabled XSAVE */
		__asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0xd), "c"(0));
		gr_arch_have_xsave = true;
		gr_arch_xsave_size = b + 64;	/* EBX: size for the features enabled in XCR0 */
	}
}

void gr_arch_preempt_redirect(void *ucontext)
{
	ucontext_t *uc = ucontext;
	greg_t *r = uc->uc_mcontext.gregs;
	uint64_t sp = (uint64_t)r[REG_RSP] - 128 - 8;
	*(uint64_t *)sp = (uint64_t)r[REG_RIP];
	r[REG_RSP] = (greg_t)sp;
	r[REG_RIP] = (greg_t)(uintptr_t)gr_arch_preempt_tramp;
}

uintptr_t gr_arch_uc_pc(void *ucontext)
{
	return (uintptr_t)((ucontext_t *)ucontext)->uc_mcontext.gregs[REG_RIP];
}

uintptr_t gr_arch_uc_sp(void *ucontext)
{
	return (uintptr_t)((ucontext_t *)ucontext)->uc_mcontext.gregs[REG_RSP];
}

void gr_arch_set_fs(void *base)
{
	if (gr_arch_have_fsgsbase)
		__asm__ volatile("wrfsbase %0" ::"r"(base) : "memory");
	else
		gr_sys(SYS_arch_prctl, ARCH_SET_FS, base, 0);
}

void *gr_arch_ctx_init(void *top, void (*fn)(void *), void *arg)
{
	uint64_t *sp = (uint64_t *)((uintptr_t)top & ~(uintptr_t)15);
	*--sp = (uint64_t)gr_arch_gstart;	/* popped by the switch's ret: sp = top, 16-aligned at gstart's call */
	*--sp = 0;				/* rbp */
	*--sp = 0;				/* rbx */
	*--sp = (uint64_t)arg;			/* r12 */
	*--sp = (uint64_t)fn;			/* r13 */
	*--sp = 0;				/* r14 */
	*--sp = 0;				/* r15 */
	*--sp = 0x037f00001f80ull;		/* MXCSR default, x87 CW default */
	return sp;
}
