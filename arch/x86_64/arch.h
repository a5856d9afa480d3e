/* arch: the small per-architecture interface (x86_64 implementation).
 *
 * gr_arch_switch saves the callee-saved state of the running context on its
 * stack, stores the stack pointer in *save_sp, loads *load_sp, sets the FS
 * base to fsbase (unless 0) and returns into the loaded context.
 */
#ifndef GR_ARCH_H
#define GR_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/throw.h"

GR_HIDDEN void gr_arch_switch(void **save_sp, void *const *load_sp, void *fsbase);
GR_HIDDEN void gr_arch_gstart(void);

/* Prepare a fresh context on a stack whose highest usable address is top:
 * the first switch to it calls fn(arg) on that stack. Returns the saved sp. */
GR_HIDDEN void *gr_arch_ctx_init(void *top, void (*fn)(void *), void *arg);

GR_HIDDEN extern bool gr_arch_have_fsgsbase;
GR_HIDDEN extern bool gr_arch_have_xsave;
GR_HIDDEN extern unsigned gr_arch_xsave_size;	/* bytes of extended state */
GR_HIDDEN void gr_arch_preempt_tramp(void);

/* Redirect an interrupted context (a ucontext_t from a signal handler) to
 * the preemption trampoline, which parks the G and later resumes it
 * exactly where it was. */
GR_HIDDEN void gr_arch_preempt_redirect(void *ucontext);
GR_HIDDEN uintptr_t gr_arch_uc_pc(void *ucontext);
GR_HIDDEN uintptr_t gr_arch_uc_sp(void *ucontext);
GR_HIDDEN void gr_arch_init(void);
/* Call fn(arg) on another stack whose highest address is top. */
GR_HIDDEN void gr_arch_call_on_stack(void *top, void (*fn)(void *), void *arg);
/* Store rbx, rbp, r12-r15 and the caller's rsp in out[0..6]. */
GR_HIDDEN void gr_arch_save_callee(uintptr_t *out);
GR_HIDDEN void gr_arch_set_fs(void *base);
static inline void *gr_arch_get_tp(void)
{
	void *tp;
	__asm__ volatile("movq %%fs:0, %0" : "=r"(tp));
	return tp;
}
/* The thread pointer as a pure value (cheap, may be CSE'd within a call). */
static inline void *gr_arch_tp_inline(void)
{
	void *tp;
	__asm__("movq %%fs:0, %0" : "=r"(tp));
	return tp;
}
static inline void *gr_arch_get_sp(void)
{
	return __builtin_frame_address(0);
}

#endif
