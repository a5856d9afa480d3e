/* debug: entry points for tests of the runtime itself (exported, with the
 * grun_debug_ prefix; a program finds them with dlsym and runs without
 * them natively).
 *
 * grun_debug_stw_find(value, unstopped) stops the world (core/stw.h) and
 * reports where the 8-byte value appears in the other threads' state:
 *   1 general registers of a thread stopped by the signal
 *   2 its FP/SIMD (xsave) state        4 its red zone (128 bytes below sp)
 *   8 its stack above sp              16 registers or stack of a G in a system call
 *  32 stack of a parked or runnable G 64 stack of a stopped thread that is not a G
 * 128 registers or FP/SIMD state of a stopped thread that is not a G
 * The calling thread is not searched. *unstopped: threads that did not stop.
 * Returns -1 if a stop was already in progress.
 */
#include "shims/shim.h"
#include "core/stw.h"

#include <stdint.h>
#include <string.h>

struct find { uint64_t v; int found; };

static bool words(uintptr_t lo, uintptr_t hi, uint64_t v)
{
	lo = (lo + 7) & ~(uintptr_t)7;
	for (uintptr_t a = lo; a + 8 <= hi; a += 8)
		if (*(const uint64_t *)a == v)
			return true;
	return false;
}

static bool bytes(const void *p, size_t n, uint64_t v)
{
	const unsigned char *b = p;
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, b + i, 8);
		if (w == v)
			return true;
	}
	return false;
}

static void visit(const struct gr_stw_thread *t, void *arg)
{
	struct find *f = arg;
	bool regs = false;
	for (int i = 0; i < t->nregs; i++)
		regs |= t->regs[i] == f->v;
	switch (t->kind) {
	case STW_SIGNALED:
		if (!t->g) {
			if (words(t->stack_lo, t->stack_hi, f->v))
				f->found |= 64;
			if (regs || (t->fpstate && bytes(t->fpstate, t->fpsize, f->v)))
				f->found |= 128;
			break;
		}
		if (regs)
			f->found |= 1;
		if (t->fpstate && bytes(t->fpstate, t->fpsize, f->v))
			f->found |= 2;
		if (words(t->stack_lo, t->stack_lo + 128, f->v))
			f->found |= 4;
		if (words(t->stack_lo + 128, t->stack_hi, f->v))
			f->found |= 8;
		break;
	case STW_SYSCALL:
		if (regs || words(t->stack_lo, t->stack_hi, f->v))
			f->found |= 16;
		break;
	case STW_PARKED:
		if (words(t->stack_lo, t->stack_hi, f->v))
			f->found |= 32;
		break;
	default:
		break;
	}
}

GR_EXPORT int grun_debug_stw_find(uint64_t value, int *unstopped)
{
	int bad = 0;
	if (gr_native || gr_stw_stop(&bad) != 0)
		return -1;
	struct find f = { value, 0 };
	gr_stw_foreach(visit, &f);
	gr_stw_start();
	if (unstopped)
		*unstopped = bad;
	return f.found;
}
