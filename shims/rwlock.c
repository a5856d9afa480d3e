/* rwlock, barrier, spin: the other pthread sync objects on the wait queue.
 *
 * rwlock, inside glibc's 56-byte pthread_rwlock_t (glibc's init, destroy
 * and attr functions stay in use; they write __flags at byte 48 — the kind
 * — and __shared at byte 28):
 *   state   (byte 0):  readers holding it, WRITER bit when a writer does
 *   wwait   (byte 4):  writers waiting (readers defer to them when the kind
 *                      prefers writers)
 *   rseq    (byte 8):  bumped when readers may proceed; readers wait on it
 *   wseq    (byte 12): bumped when a writer may proceed; writers wait on it
 *   writer  (byte 24): tid of the writer holding it (EDEADLK)
 * Process-shared rwlocks wait on the kernel futex.
 *
 * barrier, inside glibc's 32-byte pthread_barrier_t (init and destroy are
 * libgrun's): one 64-bit word, round number (high half) and arrivals (low
 * half), so arriving is one CAS; the last arrival starts the next round
 * and wakes the rest, which wait on the round number.
 *
 * spin locks spin a bounded number of times, then yield the P so that a
 * holder on the same P can run; the lock word keeps glibc's x86 values.
 */
#include "shims/shim.h"
#include "core/sys.h"

#include <limits.h>
#include <pthread.h>

#define WRITER 0x40000000u
#define MAX_READERS (WRITER - 1)

struct rwl {
	_Atomic uint32_t state;
	_Atomic uint32_t wwait;
	_Atomic uint32_t rseq;
	_Atomic uint32_t wseq;
	uint32_t pad[2];
	_Atomic int writer;
	int shared;
	char pad2[16];
	unsigned int flags;
};
_Static_assert(sizeof(struct rwl) <= sizeof(pthread_rwlock_t), "rwlock layout");

static int rw_wait(struct rwl *l, _Atomic uint32_t *w, uint32_t seq, int64_t deadline)
{
	int r = l->shared ? gr_sema_wait_shared(w, seq, deadline)
			  : gr_sema_wait(w, seq, deadline, WAIT_RWLOCK);
	return r == -ETIMEDOUT ? ETIMEDOUT : 0;
}

static void rw_wake(struct rwl *l, _Atomic uint32_t *w, int n)
{
	atomic_fetch_add(w, 1);
	if (l->shared)
		gr_sema_wake_shared(w, n);
	else
		gr_sema_wake(w, n);
}

static bool prefer_writer(struct rwl *l)
{
	/* glibc gives writers preference only for this kind. */
	return l->flags == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP;
}

static int rdlock(struct rwl *l, int64_t deadline, bool try)
{
	for (;;) {
		uint32_t s = atomic_load(&l->state);
		bool blocked = (s & WRITER) || (prefer_writer(l) && atomic_load(&l->wwait) > 0);
		if (!blocked) {
			if (s == MAX_READERS)
				return EAGAIN;
			if (atomic_compare_exchange_weak(&l->state, &s, s + 1))
				return 0;
			continue;
		}
		if (try)
			return EBUSY;
		if ((s & WRITER) && atomic_load(&l->writer) == gr_self_tid())
			return EDEADLK;
		uint32_t seq = atomic_load(&l->rseq);
		s = atomic_load(&l->state);
		if (!((s & WRITER) || (prefer_writer(l) && atomic_load(&l->wwait) > 0)))
			continue;
		if (rw_wait(l, &l->rseq, seq, deadline))
			return ETIMEDOUT;
	}
}

static int wrlock(struct rwl *l, int64_t deadline, bool try)
{
	int self = gr_self_tid();
	uint32_t z = 0;
	if (atomic_compare_exchange_strong(&l->state, &z, WRITER))
		goto got;
	if (try)
		return EBUSY;
	if ((z & WRITER) && atomic_load(&l->writer) == self)
		return EDEADLK;
	atomic_fetch_add(&l->wwait, 1);
	for (;;) {
		uint32_t seq = atomic_load(&l->wseq);
		z = 0;
		if (atomic_compare_exchange_strong(&l->state, &z, WRITER))
			break;
		if (rw_wait(l, &l->wseq, seq, deadline)) {
			/* Readers held back for us may go now. */
			if (atomic_fetch_sub(&l->wwait, 1) == 1)
				rw_wake(l, &l->rseq, INT_MAX);
			return ETIMEDOUT;
		}
	}
	atomic_fetch_sub(&l->wwait, 1);
got:
	atomic_store(&l->writer, self);
	return 0;
}

static int unlock(struct rwl *l)
{
	uint32_t s = atomic_load(&l->state);
	if (s & WRITER) {
		atomic_store(&l->writer, 0);
		atomic_store(&l->state, 0);
		if (atomic_load(&l->wwait) > 0)
			rw_wake(l, &l->wseq, 1);
		rw_wake(l, &l->rseq, INT_MAX);
		return 0;
	}
	if (s == 0)
		return EPERM;
	if (atomic_fetch_sub(&l->state, 1) == 1 && atomic_load(&l->wwait) > 0)
		rw_wake(l, &l->wseq, 1);
	return 0;
}

#define RW(name, ...) \
	if (unlikely(gr_native)) \
		return REAL(name)(__VA_ARGS__)

/* Process-shared objects keep glibc's implementation, which a peer process
 * without libgrun also runs, as a blocking system call. */
#define SHARED(cond, name, ...) \
	if (unlikely(cond)) { \
		struct gr_g *g_ = gr_getg(); \
		bool e_ = gr_syscall_enter(g_); \
		int r_ = REAL(name)(__VA_ARGS__); \
		gr_syscall_exit(g_, e_); \
		return r_; \
	}
#define RWSHARED(l) (((struct rwl *)(l))->shared != 0)

GR_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	RW(pthread_rwlock_rdlock, l);
	SHARED(RWSHARED(l), pthread_rwlock_rdlock, l);
	return rdlock((struct rwl *)l, -1, false);
}
GR_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *l)
{
	RW(pthread_rwlock_tryrdlock, l);
	SHARED(RWSHARED(l), pthread_rwlock_tryrdlock, l);
	gr_maybe_yield();
	return rdlock((struct rwl *)l, -1, true);
}
GR_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	RW(pthread_rwlock_wrlock, l);
	SHARED(RWSHARED(l), pthread_rwlock_wrlock, l);
	return wrlock((struct rwl *)l, -1, false);
}
GR_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *l)
{
	RW(pthread_rwlock_trywrlock, l);
	SHARED(RWSHARED(l), pthread_rwlock_trywrlock, l);
	gr_maybe_yield();
	return wrlock((struct rwl *)l, -1, true);
}
GR_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *l)
{
	RW(pthread_rwlock_unlock, l);
	SHARED(RWSHARED(l), pthread_rwlock_unlock, l);
	return unlock((struct rwl *)l);
}

/* Timed: glibc checks the clock and the timespec first, even when the
 * lock is free. */
static int timed(pthread_rwlock_t *l, clockid_t clock, const struct timespec *abs, bool write)
{
	struct rwl *rw = (struct rwl *)l;
	int err;
	int64_t deadline = gr_abs_deadline(clock, abs, &err);
	if (err)
		return err;
	return write ? wrlock(rw, deadline, false) : rdlock(rw, deadline, false);
}
GR_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t c, const struct timespec *t)
{
	RW(pthread_rwlock_clockrdlock, l, c, t);
	SHARED(RWSHARED(l), pthread_rwlock_clockrdlock, l, c, t);
	return timed(l, c, t, false);
}
GR_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t c, const struct timespec *t)
{
	RW(pthread_rwlock_clockwrlock, l, c, t);
	SHARED(RWSHARED(l), pthread_rwlock_clockwrlock, l, c, t);
	return timed(l, c, t, true);
}
GR_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *t)
{
	RW(pthread_rwlock_timedrdlock, l, t);
	SHARED(RWSHARED(l), pthread_rwlock_timedrdlock, l, t);
	return timed(l, CLOCK_REALTIME, t, false);
}
GR_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *t)
{
	RW(pthread_rwlock_timedwrlock, l, t);
	SHARED(RWSHARED(l), pthread_rwlock_timedwrlock, l, t);
	return timed(l, CLOCK_REALTIME, t, true);
}

/* --- barrier --- */

struct bar {
	_Atomic uint64_t word;		/* round << 32 | arrived */
	unsigned count;
	int shared;
	unsigned magic;			/* BAR_MAGIC: initialized by libgrun */
};
#define BAR_MAGIC 0x67727562u		/* a process-shared barrier is glibc's */
_Static_assert(sizeof(struct bar) <= sizeof(pthread_barrier_t), "barrier layout");

GR_EXPORT int pthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *a, unsigned count)
{
	RW(pthread_barrier_init, b, a, count);
	struct bar *bar = (struct bar *)b;
	int pshared = PTHREAD_PROCESS_PRIVATE;
	if (count == 0 || count > INT_MAX)
		return EINVAL;
	if (a)
		pthread_barrierattr_getpshared(a, &pshared);
	if (pshared == PTHREAD_PROCESS_SHARED)
		return REAL(pthread_barrier_init)(b, a, count);	/* glibc's layout */
	atomic_store(&bar->word, 0);
	bar->count = count;
	bar->shared = 0;
	bar->magic = BAR_MAGIC;
	return 0;
}

GR_EXPORT int pthread_barrier_destroy(pthread_barrier_t *b)
{
	RW(pthread_barrier_destroy, b);
	struct bar *bar = (struct bar *)b;
	if (bar->magic != BAR_MAGIC)
		return REAL(pthread_barrier_destroy)(b);
	return (uint32_t)atomic_load(&bar->word) != 0 ? EBUSY : 0;
}

GR_EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
	RW(pthread_barrier_wait, b);
	struct bar *bar = (struct bar *)b;
	SHARED(bar->magic != BAR_MAGIC, pthread_barrier_wait, b);
	uint64_t w = atomic_load(&bar->word), n;
	for (;;) {
		uint32_t arrived = (uint32_t)w + 1;
		n = arrived == bar->count ? ((w >> 32) + 1) << 32 : w + 1;
		if (atomic_compare_exchange_weak(&bar->word, &w, n))
			break;
	}
	_Atomic uint32_t *round = (_Atomic uint32_t *)&bar->word + 1;	/* the high half */
	uint32_t mine = (uint32_t)(w >> 32);
	if ((uint32_t)n == 0) {
		if (bar->shared)
			gr_sema_wake_shared(round, INT_MAX);
		else
			gr_sema_wake(round, INT_MAX);
		return PTHREAD_BARRIER_SERIAL_THREAD;
	}
	while (atomic_load(round) == mine) {
		if (bar->shared)
			gr_sema_wait_shared(round, mine, -1);
		else
			gr_sema_wait(round, mine, -1, WAIT_BARRIER);
	}
	return 0;
}

/* --- spin locks --- */

/* glibc's x86 convention (pthread_spin_init stores it, and a peer process
 * without libgrun may share the lock): 1 is unlocked, <= 0 locked. */
GR_EXPORT int pthread_spin_lock(pthread_spinlock_t *l)
{
	RW(pthread_spin_lock, l);
	_Atomic int *w = (_Atomic int *)l;
	for (int i = 0;; i++) {
		int one = 1;
		if (atomic_load_explicit(w, memory_order_relaxed) == 1 &&
		    atomic_compare_exchange_weak_explicit(w, &one, 0, memory_order_acquire, memory_order_relaxed))
			return 0;
		if (i < 1000)
			gr_cpu_relax();
		else
			gr_gosched();	/* the holder may be waiting for this P */
	}
}

GR_EXPORT int pthread_spin_trylock(pthread_spinlock_t *l)
{
	RW(pthread_spin_trylock, l);
	gr_maybe_yield();
	int one = 1;
	return atomic_compare_exchange_strong((_Atomic int *)l, &one, 0) ? 0 : EBUSY;
}

GR_EXPORT int pthread_spin_unlock(pthread_spinlock_t *l)
{
	RW(pthread_spin_unlock, l);
	atomic_store_explicit((_Atomic int *)l, 1, memory_order_release);
	return 0;
}
