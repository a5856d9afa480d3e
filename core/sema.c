/* sema: address-keyed wait queues (see sema.h).
 *
 * 251 buckets, each a lock and a FIFO list of waiters (sudogs, on the
 * waiting G's stack). kwait counts kernel waiters hashed to the bucket;
 * a wake does the FUTEX_WAKE system call only when it is non-zero.
 *
 * Wake vs timeout: a waiter with a deadline arms its G's timer. Whoever
 * first finds the sudog still queued under the bucket lock (the waker or
 * the timer) dequeues it, sets its state and readies the G; the other does
 * nothing. The G stops its timer synchronously before its sudog (on its
 * stack) goes away.
 *
 * Lock order: bucket lock before timer heap lock and sched.lock.
 */
#include "core/sema.h"
#include "core/sig.h"
#include "core/proc.h"
#include "core/sys.h"

#include <errno.h>
#include <string.h>
#include <time.h>

GR_HIDDEN void gr_timer_armed(int64_t when);

#define NBUCKETS 251

struct sudog {
	struct gr_g *g;
	_Atomic uint32_t *addr;
	struct sudog *next, **pprev;	/* bucket list; bucket lock */
	int state;			/* 0 queued, 1 woken, 2 timed out, 3 canceled, 4 signaled; bucket lock */
	struct bucket *b;
};

struct bucket {
	struct gr_lock lock;
	struct sudog *head, **tail;	/* lock */
	_Atomic int kwait;		/* kernel waiters on words hashed here */
} __attribute__((aligned(64)));

static struct bucket buckets[NBUCKETS];

static struct bucket *bucket_of(void *addr)
{
	struct bucket *b = &buckets[((uintptr_t)addr >> 3) % NBUCKETS];
	if (unlikely(!b->tail))
		__atomic_compare_exchange_n(&b->tail, &(struct sudog **){ NULL }, &b->head, 0,
					    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	return b;
}

static void dequeue_locked(struct bucket *b, struct sudog *s)
{
	*s->pprev = s->next;
	if (s->next)
		s->next->pprev = s->pprev;
	else
		b->tail = s->pprev;
}

int64_t gr_deadline_from_abs(int clock, const struct timespec *abs)
{
	struct timespec now;
	clock_gettime(clock, &now);
	int64_t rel = (int64_t)(abs->tv_sec - now.tv_sec) * 1000000000 + (abs->tv_nsec - now.tv_nsec);
	if (rel < 0)
		rel = 0;
	return gr_nanotime() + rel;
}

static int kernel_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline, bool shared)
{
	struct timespec ts, *tsp = NULL;
	if (deadline >= 0) {
		int64_t rel = deadline - gr_nanotime();
		if (rel <= 0)
			return -ETIMEDOUT;
		ts.tv_sec = rel / 1000000000;
		ts.tv_nsec = rel % 1000000000;
		tsp = &ts;
	}
	long r = shared ? gr_futex_wait_shared(addr, val, tsp) : gr_futex_wait(addr, val, tsp);
	if (r == -EAGAIN || r == -ETIMEDOUT)
		return (int)r;
	return 0;	/* woken, EINTR: a spurious wake-up for the caller */
}

static void timeout_fn(struct gr_timer *t)
{
	struct sudog *s = t->arg;
	struct bucket *b = s->b;
	struct gr_g *g = NULL;
	gr_lock(&b->lock);
	if (s->state == 0) {
		dequeue_locked(b, s);
		s->state = 2;
		g = s->g;
	}
	gr_unlock(&b->lock);
	if (g)
		gr_ready(g);
}

static bool unlock_bucket(struct gr_g *g, void *arg)
{
	gr_unlock(&((struct bucket *)arg)->lock);
	return true;
}

int gr_sema_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline, int reason)
{
	struct gr_g *g = gr_getg();
	struct bucket *b = bucket_of(addr);
	if (unlikely(!g && !atomic_load(&gr_sched.started) && gr_sched.nprocs &&
		     gr_gettid() == (int)gr_sys(SYS_getpid, 0, 0, 0))) {
		/* The initial thread blocks before any pthread_create: start
		 * the scheduler so that it parks as G1 (and sysmon can tell a
		 * self-deadlock from a wait a foreign thread will end). */
		if (gr_sched_ensure_started() == 0)
			g = gr_getg();
	}
	if (!gr_can_park(g)) {
		atomic_fetch_add(&b->kwait, 1);
		int r = kernel_wait(addr, val, deadline, false);
		atomic_fetch_sub(&b->kwait, 1);
		return r;
	}
	if (deadline >= 0 && deadline <= gr_nanotime())
		return atomic_load(addr) == val ? -ETIMEDOUT : -EAGAIN;
	gr_sysmon_check();

	struct gr_p *p = gr_enter(g);
	struct sudog s = { .g = g, .addr = addr, .b = b };
	gr_lock(&b->lock);
	if (atomic_load_explicit(addr, memory_order_acquire) != val) {
		gr_unlock(&b->lock);
		gr_leave(g);
		return -EAGAIN;
	}
	s.pprev = b->tail;
	*b->tail = &s;
	b->tail = &s.next;
	if (deadline >= 0) {
		g->timer.when = deadline;
		g->timer.fn = timeout_fn;
		g->timer.arg = &s;
		gr_timer_add(&p->timers, &g->timer);
		gr_timer_armed(deadline);
	}
	g->waitaddr = addr;
	g->sudog = &s;
	gr_park(unlock_bucket, b, reason);
	g->waitaddr = NULL;
	if (deadline >= 0)
		gr_timer_stop(&g->timer);
	int state = s.state;
	gr_leave(g);
	/* Checkpoint: run the handlers of signals that arrived meanwhile
	 * (state 4: a signal interrupted the wait). Waits that can fail with
	 * EINTR report it; the others were woken spuriously. */
	int sr = gr_sig_check(g);
	if (state == 2)
		return -ETIMEDOUT;
	if (state == 3)
		return -ECANCELED;
	if (sr && (reason == WAIT_IO || reason == WAIT_SEMA || reason == WAIT_FUTEX))
		return -sr;
	return 0;
}

bool gr_sema_wake_one(_Atomic uint32_t *addr)
{
	struct bucket *b = bucket_of(addr);
	if (atomic_load(&b->kwait) > 0)
		gr_futex_wake(addr, 1);
	struct gr_g *g = NULL;
	gr_lock(&b->lock);
	for (struct sudog *s = b->head; s; s = s->next) {
		if (s->addr == addr) {
			dequeue_locked(b, s);
			s->state = 1;
			g = s->g;
			break;
		}
	}
	gr_unlock(&b->lock);
	if (!g)
		return false;
	bool starving = gr_nanotime_coarse() - g->waitsince > 1000000;
	gr_ready(g);
	return starving;
}

int gr_sema_wake(_Atomic uint32_t *addr, int n)
{
	struct bucket *b = bucket_of(addr);
	struct gr_g *ready[16];
	int nready = 0, total = 0;

	if (atomic_load(&b->kwait) > 0)
		gr_futex_wake(addr, n);
	while (n > 0) {
		gr_lock(&b->lock);
		for (struct sudog *s = b->head, *next; s && n > 0 && nready < 16; s = next) {
			next = s->next;
			if (s->addr != addr)
				continue;
			dequeue_locked(b, s);
			s->state = 1;
			ready[nready++] = s->g;
			n--;
		}
		gr_unlock(&b->lock);
		if (nready == 0)
			break;
		for (int i = 0; i < nready; i++)
			gr_ready(ready[i]);
		total += nready;
		if (nready < 16)
			break;
		nready = 0;
	}
	return total;
}

int gr_sema_wait_shared(_Atomic uint32_t *addr, uint32_t val, int64_t deadline)
{
	struct gr_g *g = gr_getg();
	bool entered = gr_syscall_enter(g);
	int r = kernel_wait(addr, val, deadline, true);
	gr_syscall_exit(g, entered);
	return r;
}

void gr_sema_wake_shared(_Atomic uint32_t *addr, int n)
{
	gr_futex_wake_shared(addr, n);
}

/* pthread_cancel (state 3) or a signal (state 4) for a G parked here:
 * dequeue it as the timeout does. */
static bool sema_unpark(struct gr_g *g, int state)
{
	_Atomic uint32_t *addr = g->waitaddr;
	if (!addr)
		return false;
	struct bucket *b = bucket_of(addr);
	bool found = false;
	gr_lock(&b->lock);
	for (struct sudog *s = b->head; s; s = s->next) {
		if (s->g == g && s->state == 0) {
			dequeue_locked(b, s);
			s->state = state;
			found = true;
			break;
		}
	}
	gr_unlock(&b->lock);
	if (found)
		gr_ready(g);
	return found;
}

bool gr_sema_cancel(struct gr_g *g)
{
	return sema_unpark(g, 3);
}

bool gr_sema_interrupt(struct gr_g *g)
{
	return sema_unpark(g, 4);
}

/* fork child: every waiter belonged to a G or thread that is gone. A
 * bucket already clean is only read: writing would copy its page (16 KiB
 * of buckets, a page fault each, in every child). */
void gr_sema_fork_child(void)
{
	for (int i = 0; i < NBUCKETS; i++) {
		struct bucket *b = &buckets[i];
		if (!b->head && (!b->tail || b->tail == &b->head) && !atomic_load(&b->kwait) && !atomic_load(&b->lock.state))
			continue;
		memset(&b->lock, 0, sizeof b->lock);
		b->head = NULL;
		b->tail = &b->head;
		atomic_store(&b->kwait, 0);
	}
}
