/* FS base and context set-up for x86_64.
 *
 * The kernel enables user-mode wrfsbase when it advertises FSGSBASE in
 * AT_HWCAP2 (bit 1); otherwise every set costs an arch_prctl system call.
 */
#include "arch/x86_64/arch.h"
#include "core/sys.h"

#include <stdint.h>
#include <sys/auxv.h>
#include <asm/prctl.h>

bool gr_arch_have_fsgsbase;

void gr_arch_init(void)
{
	gr_arch_have_fsgsbase = (getauxval(AT_HWCAP2) & 2) != 0;
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
