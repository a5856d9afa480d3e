/* timer: per-P 4-ary timer heaps (Go's time.go, simplified).
 *
 * Every sleep, timed wait and (later) poll timeout is a gr_timer in the heap
 * of the P that armed it. A heap has its own lock because timers are
 * deleted from other Ps (a condvar signalled before its timeout) and run by
 * whichever M finds them expired, including Ms stealing work.
 *
 * Invariants: t->heap != NULL iff t is in that heap at index t->idx;
 * heap->next_when == the earliest when in the heap, or INT64_MAX.
 * fn runs with no timer lock held; it must not block.
 */
#ifndef GR_TIMER_H
#define GR_TIMER_H

#include <stdbool.h>
#include <stdint.h>
#include "core/lock.h"

struct gr_timer;
typedef void (*gr_timer_fn)(struct gr_timer *t);

struct gr_timerheap {
	struct gr_lock lock;
	struct gr_timer **items;	/* protected by lock */
	uint32_t len, cap;		/* protected by lock */
	_Atomic int64_t next_when;	/* written under lock, read racily */
};

struct gr_timer {
	int64_t when;			/* monotonic ns; set before add */
	gr_timer_fn fn;
	void *arg;
	uint32_t idx;			/* protected by heap->lock */
	struct gr_timerheap *_Atomic heap; /* non-NULL while queued */
	_Atomic int firing;		/* 1 while fn runs after removal */
};

GR_HIDDEN void gr_timerheap_init(struct gr_timerheap *h);
/* Queue t (not queued) to fire at t->when. Returns true if t became the
 * earliest timer of h (the caller may need to wake a sleeping M). */
GR_HIDDEN bool gr_timer_add(struct gr_timerheap *h, struct gr_timer *t);
/* Remove t if queued. Returns true if it was removed before it fired. */
GR_HIDDEN bool gr_timer_del(struct gr_timer *t);
/* Remove t and wait until a concurrent fn(t) has returned, so that the
 * caller may reuse or free t. Returns true if t was removed unfired. */
GR_HIDDEN bool gr_timer_stop(struct gr_timer *t);
/* Run every timer of h due at now. Returns the number run. */
GR_HIDDEN int gr_timers_run(struct gr_timerheap *h, int64_t now);
static inline int64_t gr_timers_next(struct gr_timerheap *h)
{
	return atomic_load_explicit(&h->next_when, memory_order_acquire);
}

#endif
