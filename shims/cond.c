/* cond: pthread_cond_* on the core wait queue.
 *
 * Layout inside glibc's 48-byte pthread_cond_t: word 0 is a sequence
 * number bumped by every signal and broadcast, word 1 counts waiters, and
 * the flags glibc's pthread_cond_init stores in __wrefs (byte 36: bit 0
 * process-shared, bit 1 CLOCK_MONOTONIC) are read where glibc put them, so
 * glibc's init, destroy and condattr functions stay in use and
 * PTHREAD_COND_INITIALIZER (all zeros) works.
 *
 * A waiter reads the sequence, counts itself, releases the mutex and waits
 * while the sequence is unchanged; a signal bumps the sequence and wakes
 * one waiter. A signal between the unlock and the wait changes the
 * sequence, so it cannot be lost; spurious wake-ups are allowed by POSIX.
 */
#include "shims/shim.h"
#include "core/sema.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

struct cnd {
	_Atomic uint32_t seq;
	_Atomic uint32_t waiters;
	uint32_t unused[7];
	uint32_t wrefs;		/* glibc's __wrefs: our flag bits */
};

_Static_assert(sizeof(struct cnd) <= sizeof(pthread_cond_t), "cond layout");

GR_HIDDEN int gr_mutex_unlock(pthread_mutex_t *mu);
GR_HIDDEN int gr_mutex_lock(pthread_mutex_t *mu);

static int wait_until(struct cnd *c, pthread_mutex_t *mu, int64_t deadline)
{
	bool shared = false;	/* shared ones take glibc's path above */
	gr_testcancel();
	uint32_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
	atomic_fetch_add(&c->waiters, 1);
	int r = gr_mutex_unlock(mu);
	if (r) {
		atomic_fetch_sub(&c->waiters, 1);
		return r;
	}
	int w = shared ? gr_sema_wait_shared(&c->seq, seq, deadline)
		       : gr_sema_wait(&c->seq, seq, deadline, WAIT_COND);
	atomic_fetch_sub(&c->waiters, 1);
	gr_mutex_lock(mu);
	gr_testcancel();	/* with the mutex held again, as POSIX wants */
	return w == -ETIMEDOUT ? ETIMEDOUT : 0;
}

/* A process-shared condition variable may be used by a peer process that
 * runs glibc's own algorithm: keep glibc's (a blocking system call). */
static inline bool pshared(pthread_cond_t *cv)
{
	return ((struct cnd *)cv)->wrefs & 1;
}
#define SHARED_CALL(expr) ({ struct gr_g *g_ = gr_getg(); bool e_ = gr_syscall_enter(g_); \
	int r_ = (expr); gr_syscall_exit(g_, e_); r_; })

GR_EXPORT int pthread_cond_wait(pthread_cond_t *cv, pthread_mutex_t *mu)
{
	if (unlikely(gr_native))
		return REAL(pthread_cond_wait)(cv, mu);
	if (unlikely(pshared(cv)))
		return SHARED_CALL(REAL(pthread_cond_wait)(cv, mu));
	return wait_until((struct cnd *)cv, mu, -1);
}

GR_EXPORT int pthread_cond_clockwait(pthread_cond_t *cv, pthread_mutex_t *mu, clockid_t clock,
				     const struct timespec *abs)
{
	if (unlikely(gr_native))
		return REAL(pthread_cond_clockwait)(cv, mu, clock, abs);
	if (unlikely(pshared(cv)))
		return SHARED_CALL(REAL(pthread_cond_clockwait)(cv, mu, clock, abs));
	int err;
	int64_t deadline = gr_abs_deadline(clock, abs, &err);
	if (err)
		return err;
	return wait_until((struct cnd *)cv, mu, deadline);
}

GR_EXPORT int pthread_cond_timedwait(pthread_cond_t *cv, pthread_mutex_t *mu, const struct timespec *abs)
{
	if (unlikely(gr_native))
		return REAL(pthread_cond_timedwait)(cv, mu, abs);
	if (unlikely(pshared(cv)))
		return SHARED_CALL(REAL(pthread_cond_timedwait)(cv, mu, abs));
	struct cnd *c = (struct cnd *)cv;
	int err;
	int64_t deadline = gr_abs_deadline(c->wrefs & 2 ? CLOCK_MONOTONIC : CLOCK_REALTIME, abs, &err);
	if (err)
		return err;
	return wait_until(c, mu, deadline);
}

static int wake(struct cnd *c, int n)
{
	if (atomic_load_explicit(&c->waiters, memory_order_acquire) == 0)
		return 0;
	atomic_fetch_add_explicit(&c->seq, 1, memory_order_release);
	if (c->wrefs & 1)
		gr_sema_wake_shared(&c->seq, n);
	else
		gr_sema_wake(&c->seq, n);
	return 0;
}

GR_EXPORT int pthread_cond_signal(pthread_cond_t *cv)
{
	if (unlikely(gr_native) || pshared(cv))
		return REAL(pthread_cond_signal)(cv);
	return wake((struct cnd *)cv, 1);
}

GR_EXPORT int pthread_cond_broadcast(pthread_cond_t *cv)
{
	if (unlikely(gr_native) || pshared(cv))
		return REAL(pthread_cond_broadcast)(cv);
	return wake((struct cnd *)cv, INT_MAX);
}
