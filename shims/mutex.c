/* mutex: pthread_mutex_* on the core wait queue.
 *
 * The object keeps glibc's layout (struct __pthread_mutex_s): __lock is the
 * state word (0 free, 1 locked, 2 locked with waiters: the classic futex
 * mutex), __owner the owner's tid field (a G's virtual tid), __count the
 * recursion depth, __kind the type and flags as glibc's pthread_mutex_init
 * and static initializers write them, __nusers the holder count (glibc's
 * pthread_mutex_destroy reads it for EBUSY). So glibc's init/destroy and
 * attribute functions stay in use, and static initializers need no call.
 *
 * Process-shared mutexes wait in the kernel on the shared word; robust,
 * priority-inheritance and priority-protect mutexes are served as ordinary
 * ones for now (see README "What does not work yet").
 */
#include "shims/shim.h"
#include "core/sema.h"
#include "core/tls.h"
#include "arch/x86_64/arch.h"

#include <pthread.h>
#include <stdatomic.h>

#define KIND_TYPE(k) ((k) & 3)
#define KIND_PSHARED 128

struct mtx {
	_Atomic uint32_t lock;
	unsigned int count;
	_Atomic int owner;
	unsigned int nusers;
	int kind;
};

int gr_self_tid(void)
{
	gr_init_check();
	return *(int *)((char *)gr_arch_tp_inline() + gr_tls.off_tid);
}

static int lock_slow(struct mtx *m, int64_t deadline, bool shared)
{
	/* Spin a little first when the holder may be running on another M. */
	for (int i = gr_can_spin(gr_getg()) ? 0 : 4; i < 4; i++) {
		uint32_t z = 0;
		if (atomic_load_explicit(&m->lock, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(&m->lock, &z, 1, memory_order_acquire,
							  memory_order_relaxed))
			return 0;
		for (int k = 0; k < 30; k++)
			__asm__ volatile("pause");
	}
	while (atomic_exchange_explicit(&m->lock, 2, memory_order_acquire) != 0) {
		int r = shared ? gr_sema_wait_shared(&m->lock, 2, deadline)
			       : gr_sema_wait(&m->lock, 2, deadline, WAIT_MUTEX);
		if (r == -ETIMEDOUT)
			return ETIMEDOUT;
	}
	return 0;
}

static inline int do_lock(struct mtx *m, int64_t deadline, bool try)
{
	int kind = m->kind;
	int type = KIND_TYPE(kind);
	int self = 0;
	if (type != PTHREAD_MUTEX_NORMAL) {
		self = gr_self_tid();
		if (atomic_load_explicit(&m->owner, memory_order_relaxed) == self) {
			if (type == PTHREAD_MUTEX_RECURSIVE) {
				if (m->count + 1 == 0)
					return EAGAIN;
				m->count++;
				return 0;
			}
			if (type == PTHREAD_MUTEX_ERRORCHECK)
				return try ? EBUSY : EDEADLK;
		}
	}
	uint32_t z = 0;
	if (!atomic_compare_exchange_strong_explicit(&m->lock, &z, 1, memory_order_acquire,
						     memory_order_relaxed)) {
		if (try)
			return EBUSY;
		int r = lock_slow(m, deadline, kind & KIND_PSHARED);
		if (r)
			return r;
	}
	if (!self)
		self = gr_self_tid();
	atomic_store_explicit(&m->owner, self, memory_order_relaxed);
	m->count = 1;
	m->nusers++;
	return 0;
}

static inline int do_unlock(struct mtx *m)
{
	int type = KIND_TYPE(m->kind);
	if (type != PTHREAD_MUTEX_NORMAL) {
		if (atomic_load_explicit(&m->owner, memory_order_relaxed) != gr_self_tid() ||
		    atomic_load_explicit(&m->lock, memory_order_relaxed) == 0)
			return EPERM;
		if (type == PTHREAD_MUTEX_RECURSIVE && --m->count != 0)
			return 0;
	}
	atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
	m->count = 0;
	m->nusers--;
	if (atomic_exchange_explicit(&m->lock, 0, memory_order_release) == 2) {
		if (m->kind & KIND_PSHARED)
			gr_sema_wake_shared(&m->lock, 1);
		else
			gr_sema_wake(&m->lock, 1);
	}
	return 0;
}

GR_EXPORT int pthread_mutex_lock(pthread_mutex_t *mu)
{
	if (unlikely(gr_native))
		return REAL(pthread_mutex_lock)(mu);
	return do_lock((struct mtx *)mu, -1, false);
}

GR_EXPORT int pthread_mutex_trylock(pthread_mutex_t *mu)
{
	if (unlikely(gr_native))
		return REAL(pthread_mutex_trylock)(mu);
	return do_lock((struct mtx *)mu, -1, true);
}

GR_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *mu, clockid_t clock, const struct timespec *abs)
{
	if (unlikely(gr_native))
		return REAL(pthread_mutex_clocklock)(mu, clock, abs);
	struct mtx *m = (struct mtx *)mu;
	int r = do_lock(m, -1, true);
	if (r != EBUSY)
		return r;
	int err;
	int64_t deadline = gr_abs_deadline(clock, abs, &err);
	if (err)
		return err;
	return do_lock(m, deadline, false);
}

GR_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *mu, const struct timespec *abs)
{
	if (unlikely(gr_native))
		return REAL(pthread_mutex_timedlock)(mu, abs);
	return pthread_mutex_clocklock(mu, CLOCK_REALTIME, abs);
}

GR_EXPORT int pthread_mutex_unlock(pthread_mutex_t *mu)
{
	if (unlikely(gr_native))
		return REAL(pthread_mutex_unlock)(mu);
	return do_unlock((struct mtx *)mu);
}

/* Used by the condition variable: release and re-take around a wait. */
GR_HIDDEN int gr_mutex_unlock(pthread_mutex_t *mu) { return do_unlock((struct mtx *)mu); }
GR_HIDDEN int gr_mutex_lock(pthread_mutex_t *mu) { return do_lock((struct mtx *)mu, -1, false); }
