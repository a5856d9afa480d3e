/* runq: a P's local run queue (Go's runq + runnext).
 *
 * A 256-slot ring. Only the owning P pushes (tail); any P may pop or steal
 * (head, by CAS). runnext holds a G that was just readied by the running G
 * and should run next (it inherits the time slice: ping-pong pairs stay on
 * one P), and is also taken by CAS.
 *
 * Invariants: tail - head <= GR_RUNQ_SIZE; slots in [head, tail) are valid;
 * only the owner writes tail and slots.
 */
#ifndef GR_RUNQ_H
#define GR_RUNQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/throw.h"

#define GR_RUNQ_SIZE 256

struct gr_g;

struct gr_runq {
	_Atomic uint32_t head;			/* next slot to take; CAS by any P */
	_Atomic uint32_t tail;			/* next slot to fill; owner only */
	struct gr_g *_Atomic next;		/* runnext; swapped by owner, CAS by thieves */
	struct gr_g *_Atomic slots[GR_RUNQ_SIZE];
};

GR_HIDDEN void gr_runq_init(struct gr_runq *q);
/* Owner: queue g. With next, g becomes runnext and the old runnext (if any)
 * moves to the tail. Returns true, or false when the ring was full: then
 * *overflow receives the G that did not fit, and the caller must pass it to
 * gr_runq_put_slow. */
GR_HIDDEN bool gr_runq_put(struct gr_runq *q, struct gr_g *g, bool next, struct gr_g **overflow);
/* Owner, ring full: take half of the ring plus g into batch (size at least
 * GR_RUNQ_SIZE/2 + 1) for the global queue. Returns the number taken, or 0
 * if the ring is no longer full (the caller retries gr_runq_put). */
GR_HIDDEN uint32_t gr_runq_put_slow(struct gr_runq *q, struct gr_g *g, struct gr_g **batch);
/* Any P: take one G (runnext first). NULL when empty. */
GR_HIDDEN struct gr_g *gr_runq_get(struct gr_runq *q);
/* Thief: move about half of src into dst (dst owned by the caller, must be
 * empty) and return one of them to run; NULL if nothing was stolen. */
GR_HIDDEN struct gr_g *gr_runq_steal(struct gr_runq *dst, struct gr_runq *src, bool steal_next);
GR_HIDDEN uint32_t gr_runq_len(struct gr_runq *q);
static inline bool gr_runq_empty(struct gr_runq *q)
{
	return gr_runq_len(q) == 0 && atomic_load_explicit(&q->next, memory_order_acquire) == 0;
}

#endif
