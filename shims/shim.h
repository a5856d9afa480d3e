/* shim: what every interposed POSIX function needs.
 *
 * A shim translates POSIX semantics (errno or returned error numbers,
 * EINTR, timeouts, flags) onto core calls and holds no scheduler logic of
 * its own. When libgrun runs in native fallback (unknown glibc), every shim
 * forwards to the next definition of its own name (REAL).
 */
#ifndef GR_SHIM_H
#define GR_SHIM_H

#include <errno.h>
#include <stdbool.h>
#include <time.h>
#include "core/proc.h"
#include "core/sema.h"
#include "core/tls.h"
#include "core/throw.h"

#define GR_EXPORT __attribute__((visibility("default")))

/* Set when libgrun cannot run this program on green threads. */
GR_HIDDEN extern bool gr_native;
GR_HIDDEN void gr_ensure_init(void);
GR_HIDDEN void *gr_dlnext(const char *name);

/* The next definition of fn (libc's), resolved on first use. */
#define REAL(fn) ({							\
	static __typeof__(&fn) real_;					\
	if (unlikely(!real_))						\
		real_ = (__typeof__(&fn))gr_dlnext(#fn);		\
	real_;								\
})

/* Set errno from a core result (>= 0 ok, -errno failure) the libc way. */
static inline long gr_errno_ret(long r)
{
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* Monotonic deadline from an absolute timespec on clock; -EINVAL for a bad
 * timespec or clock. */
static inline int64_t gr_abs_deadline(clockid_t clock, const struct timespec *ts, int *err)
{
	if (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000) {
		*err = EINVAL;
		return 0;
	}
	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC) {
		*err = EINVAL;
		return 0;
	}
	*err = 0;
	if (ts->tv_sec < 0)
		return 0;
	return gr_deadline_from_abs(clock, ts);
}

/* The calling thread's glibc tid field (a G's virtual tid). */
GR_HIDDEN int gr_self_tid(void);

#endif

GR_HIDDEN extern bool gr_inited;
static inline void gr_init_check(void)
{
	if (unlikely(!gr_inited))
		gr_ensure_init();
}

/* Deferred cancellation: act on a pending pthread_cancel at a
 * cancellation point (glibc's own pthread_testcancel does the unwinding,
 * from the bits in the TCB; see shims/cancel.c). */
GR_HIDDEN void gr_testcancel_slow(void);
static inline void gr_testcancel(void)
{
	extern struct gr_tls_layout gr_tls;
	struct gr_g *g = gr_getg();
	if (likely(!g))
		return;
	int ch = *(volatile int *)((char *)g->tp + gr_tls.off_cancelhandling);
	if (unlikely((ch & 0x39) == 0x08))	/* canceled, enabled, not exiting */
		gr_testcancel_slow();
}

/* Cooperative preemption point for shims that a program calls in a loop
 * (trylock): yield if sysmon wanted this G off its P but found it inside
 * libgrun or libc, where it cannot be preempted asynchronously. */
static inline void gr_maybe_yield(void)
{
	struct gr_g *g = gr_getg();
	if (unlikely(g && g->preempt_coop)) {
		g->preempt_coop = false;
		gr_gosched();
	}
}
