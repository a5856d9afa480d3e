/* sem: POSIX semaphores on the core wait queue.
 *
 * glibc's own layout and protocol are kept (struct new_sem, 64-bit
 * atomics: the value in the low 32 bits of `data`, the number of waiters
 * in the high 32, `private` = 0 for a process-private semaphore and
 * FUTEX_PRIVATE_FLAG for a shared one: glibc XORs it into the futex op), so sem_init, sem_destroy, sem_getvalue,
 * sem_open and friends stay glibc's, and a process-shared semaphore keeps
 * working with a peer process that runs without libgrun: shared ones wait
 * and wake with the kernel futex exactly as glibc does. Private ones park
 * the G. sem_post is async-signal-safe natively; under libgrun it is safe
 * from a handler as long as the handler did not interrupt the runtime
 * itself (see the README).
 */
#include "shims/shim.h"
#include "core/sig.h"
#include "core/sys.h"

#include <limits.h>
#include <semaphore.h>

#define VALUE_MASK 0xffffffffull
#define NWAITERS_ONE (1ull << 32)

struct nsem {
	_Atomic uint64_t data;
	int private;
	int pad;
};

static inline _Atomic uint32_t *value_word(struct nsem *s)
{
	return (_Atomic uint32_t *)&s->data;	/* little-endian: the low half */
}

static inline bool try_take(struct nsem *s)
{
	uint64_t d = atomic_load_explicit(&s->data, memory_order_relaxed);
	while (d & VALUE_MASK) {
		if (atomic_compare_exchange_weak_explicit(&s->data, &d, d - 1, memory_order_acquire,
							  memory_order_relaxed))
			return true;
	}
	return false;
}

static int wait_slow(struct nsem *s, int64_t deadline)
{
	bool shared = s->private != 0;
	int r = 0;
	atomic_fetch_add(&s->data, NWAITERS_ONE);
	for (;;) {
		uint64_t d = atomic_load(&s->data);
		if (d & VALUE_MASK) {
			if (atomic_compare_exchange_weak(&s->data, &d, d - 1 - NWAITERS_ONE))
				return 0;
			continue;
		}
		int w = shared ? gr_sema_wait_shared(value_word(s), 0, deadline)
			       : gr_sema_wait(value_word(s), 0, deadline, WAIT_SEMA);
		if (w == -ETIMEDOUT) {
			r = ETIMEDOUT;
			break;
		}
		if (w == -EINTR || w == -GR_ERESTART) {
			r = EINTR;	/* sem_wait is never restarted */
			break;
		}
		if (w == -ECANCELED) {
			atomic_fetch_sub(&s->data, NWAITERS_ONE);
			gr_testcancel();
			atomic_fetch_add(&s->data, NWAITERS_ONE);
		}
	}
	atomic_fetch_sub(&s->data, NWAITERS_ONE);
	return r;
}

static int do_wait(sem_t *sem, int64_t deadline)
{
	struct nsem *s = (struct nsem *)sem;
	gr_testcancel();
	if (try_take(s))
		return 0;
	int r = wait_slow(s, deadline);
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

GR_EXPORT int sem_wait(sem_t *sem)
{
	if (unlikely(gr_native))
		return REAL(sem_wait)(sem);
	return do_wait(sem, -1);
}

GR_EXPORT int sem_trywait(sem_t *sem)
{
	if (unlikely(gr_native))
		return REAL(sem_trywait)(sem);
	gr_maybe_yield();
	if (try_take((struct nsem *)sem))
		return 0;
	errno = EAGAIN;
	return -1;
}

GR_EXPORT int sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *abs)
{
	if (unlikely(gr_native))
		return REAL(sem_clockwait)(sem, clock, abs);
	/* glibc validates the clock and the timespec before anything else. */
	int err;
	int64_t deadline = gr_abs_deadline(clock, abs, &err);
	if (err) {
		errno = err;
		return -1;
	}
	return do_wait(sem, deadline);
}

GR_EXPORT int sem_timedwait(sem_t *sem, const struct timespec *abs)
{
	if (unlikely(gr_native))
		return REAL(sem_timedwait)(sem, abs);
	return sem_clockwait(sem, CLOCK_REALTIME, abs);
}

GR_EXPORT int sem_post(sem_t *sem)
{
	if (unlikely(gr_native))
		return REAL(sem_post)(sem);
	struct nsem *s = (struct nsem *)sem;
	uint64_t d = atomic_load_explicit(&s->data, memory_order_relaxed);
	do {
		if ((d & VALUE_MASK) == SEM_VALUE_MAX) {
			errno = EOVERFLOW;
			return -1;
		}
	} while (!atomic_compare_exchange_weak_explicit(&s->data, &d, d + 1, memory_order_release,
							memory_order_relaxed));
	if (d >> 32) {
		if (s->private != 0)
			gr_sema_wake_shared(value_word(s), 1);
		else
			gr_sema_wake(value_word(s), 1);
	}
	return 0;
}
