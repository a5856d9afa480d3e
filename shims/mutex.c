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
 * Process-shared mutexes wait in the kernel on the shared word. glibc
 * marks every robust mutex shared, so robust ones wait in the kernel too;
 * their owner-death tracking covers Gs of this process (a process that
 * dies holding a shared robust mutex is not detected: see the README).
 * Priority-inheritance and priority-protect mutexes are glibc's, on a
 * pinned G.
 */
#include "shims/shim.h"
#include "core/sema.h"
#include "core/tls.h"
#include "core/deadlock.h"
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
	short robust;		/* __spins: robust state, see below */
	short elision;
	struct mtx *prev, *next;/* __list: the holder's list of robust mutexes */
};
_Static_assert(sizeof(struct mtx) == sizeof(pthread_mutex_t), "mutex layout");

/* Robust mutexes (private ones held by Gs): each G keeps the robust mutexes
 * it holds on a list through __list; when it ends holding one, the mutex
 * is released in state OWNER_DIED and the next locker gets EOWNERDEAD.
 * Unlocking without pthread_mutex_consistent makes it NOT_RECOVERABLE. */
enum { ROBUST_OK, ROBUST_INCONSISTENT, ROBUST_NOTRECOVERABLE, ROBUST_OWNER_DIED };
#define KIND_ROBUST 16
#define KIND_PI 32
#define KIND_PP 64

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

static int do_unlock(struct mtx *m);

static int robust_acquired(struct mtx *m)
{
	struct gr_g *g = gr_getg();
	if (m->robust == ROBUST_NOTRECOVERABLE) {
		do_unlock(m);
		return ENOTRECOVERABLE;
	}
	if (g) {
		m->prev = NULL;
		m->next = g->robust;
		if (g->robust)
			((struct mtx *)g->robust)->prev = m;
		g->robust = m;
	}
	if (m->robust == ROBUST_OWNER_DIED) {
		m->robust = ROBUST_INCONSISTENT;
		return EOWNERDEAD;
	}
	return 0;
}

static void robust_released(struct mtx *m)
{
	struct gr_g *g = gr_getg();
	if (g && (m->prev || g->robust == m)) {
		if (m->prev)
			m->prev->next = m->next;
		else
			g->robust = m->next;
		if (m->next)
			m->next->prev = m->prev;
	}
	m->prev = m->next = NULL;
	if (m->robust == ROBUST_INCONSISTENT)
		m->robust = ROBUST_NOTRECOVERABLE;
}

/* At G exit: release every robust mutex it still holds, marked dead. */
static void robust_exit(struct gr_g *g)
{
	while (g->robust) {
		struct mtx *m = g->robust;
		g->robust = m->next;
		m->prev = m->next = NULL;
		m->robust = ROBUST_OWNER_DIED;
		m->count = 1;
		atomic_store(&m->owner, 0);
		m->nusers--;
		if (atomic_exchange_explicit(&m->lock, 0, memory_order_release) == 2)
			gr_sema_wake(&m->lock, 1);
	}
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
	if (unlikely(kind & KIND_ROBUST))
		return robust_acquired(m);
	return 0;
}

static int do_unlock(struct mtx *m)
{
	int type = KIND_TYPE(m->kind);
	if (unlikely(m->kind & KIND_ROBUST)) {
		if (atomic_load_explicit(&m->owner, memory_order_relaxed) != gr_self_tid())
			return EPERM;
		if (type == PTHREAD_MUTEX_RECURSIVE && m->count > 1) {
			m->count--;
			return 0;
		}
		robust_released(m);
		type = PTHREAD_MUTEX_NORMAL;
	}
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
		if (m->kind & KIND_PSHARED) {
			gr_sema_wake_shared(&m->lock, 1);
		} else if (gr_sema_wake_one(&m->lock)) {
			/* The waiter has starved for a millisecond while this G
			 * re-took the lock each time it ran: let it run first
			 * (it is this P's next G). */
			struct gr_g *g = gr_getg();
			if (gr_can_park(g))
				gr_gosched();
		}
	}
	return 0;
}

/* Priority-inheritance and priority-protect mutexes keep glibc's kernel
 * implementation (the futex word holds the real tid): the G is pinned to
 * its OS thread first. */
static inline bool kernel_kind(pthread_mutex_t *mu)
{
	if (likely(!(((struct mtx *)mu)->kind & (KIND_PI | KIND_PP))))
		return false;
	gr_pin();
	return true;
}

GR_EXPORT int pthread_mutex_lock(pthread_mutex_t *mu)
{
	if (unlikely(gr_native) || kernel_kind(mu))
		return REAL(pthread_mutex_lock)(mu);
	return do_lock((struct mtx *)mu, -1, false);
}

GR_EXPORT int pthread_mutex_consistent(pthread_mutex_t *mu)
{
	struct mtx *m = (struct mtx *)mu;
	/* (glibc sets the shared bit on every robust mutex: it cannot tell
	 * a process-shared one apart, so both are served here.) */
	if (unlikely(gr_native) || !(m->kind & KIND_ROBUST))
		return REAL(pthread_mutex_consistent)(mu);
	if (m->robust != ROBUST_INCONSISTENT || atomic_load(&m->owner) != gr_self_tid())
		return EINVAL;
	m->robust = ROBUST_OK;
	return 0;
}

GR_HIDDEN void gr_mutex_exit(struct gr_g *g)
{
	robust_exit(g);
}

/* For the deadlock detector: who owns the mutex g is parked on. */
static int wait_owner(const struct gr_g *g)
{
	const struct mtx *m = g->waitaddr;	/* &m->lock is the mutex itself */
	return m ? atomic_load(&m->owner) : 0;
}

GR_HIDDEN void gr_mutex_init(void)
{
	gr_wait_owner = wait_owner;
}

GR_EXPORT int pthread_mutex_trylock(pthread_mutex_t *mu)
{
	if (unlikely(gr_native) || kernel_kind(mu))
		return REAL(pthread_mutex_trylock)(mu);
	gr_maybe_yield();
	return do_lock((struct mtx *)mu, -1, true);
}

GR_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *mu, clockid_t clock, const struct timespec *abs)
{
	if (unlikely(gr_native) || kernel_kind(mu))
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
	if (unlikely(gr_native) || kernel_kind(mu))
		return REAL(pthread_mutex_timedlock)(mu, abs);
	return pthread_mutex_clocklock(mu, CLOCK_REALTIME, abs);
}

GR_EXPORT int pthread_mutex_unlock(pthread_mutex_t *mu)
{
	if (unlikely(gr_native) || kernel_kind(mu))
		return REAL(pthread_mutex_unlock)(mu);
	return do_unlock((struct mtx *)mu);
}

/* Used by the condition variable: release and re-take around a wait. */
GR_HIDDEN int gr_mutex_unlock(pthread_mutex_t *mu) { return do_unlock((struct mtx *)mu); }
GR_HIDDEN int gr_mutex_lock(pthread_mutex_t *mu) { return do_lock((struct mtx *)mu, -1, false); }
