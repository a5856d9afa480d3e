/* runq: lock-free local run queue (see runq.h for the contract).
 *
 * The design is Go's proc.go runq: single producer, multiple consumers.
 * Consumers claim slots by CAS on head after reading them, so a slot read by
 * a thief that loses the CAS is simply discarded. A thief grabs half of the
 * victim's queue at once to amortize the cost of the steal.
 */
#include "core/runq.h"

#include <string.h>

void gr_runq_init(struct gr_runq *q)
{
	memset(q, 0, sizeof *q);
}

uint32_t gr_runq_len(struct gr_runq *q)
{
	for (;;) {
		uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
		if (atomic_load_explicit(&q->head, memory_order_acquire) == h)
			return t - h;
	}
}

bool gr_runq_put(struct gr_runq *q, struct gr_g *g, bool next, struct gr_g **overflow)
{
	if (next) {
		struct gr_g *old = atomic_load_explicit(&q->next, memory_order_relaxed);
		while (!atomic_compare_exchange_weak_explicit(&q->next, &old, g,
							      memory_order_acq_rel, memory_order_relaxed))
			;
		if (!old)
			return true;
		g = old;	/* kick the old runnext to the tail */
	}
	uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	if (t - h < GR_RUNQ_SIZE) {
		atomic_store_explicit(&q->slots[t % GR_RUNQ_SIZE], g, memory_order_relaxed);
		atomic_store_explicit(&q->tail, t + 1, memory_order_release);
		return true;
	}
	*overflow = g;
	return false;
}

uint32_t gr_runq_put_slow(struct gr_runq *q, struct gr_g *g, struct gr_g **batch)
{
	uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint32_t n = (t - h) / 2;
	if (n != GR_RUNQ_SIZE / 2)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		batch[i] = atomic_load_explicit(&q->slots[(h + i) % GR_RUNQ_SIZE], memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&q->head, &h, h + n,
						     memory_order_release, memory_order_relaxed))
		return 0;
	batch[n] = g;
	return n + 1;
}

struct gr_g *gr_runq_get(struct gr_runq *q)
{
	struct gr_g *next = atomic_load_explicit(&q->next, memory_order_acquire);
	if (next && atomic_compare_exchange_strong_explicit(&q->next, &next, NULL,
							    memory_order_acq_rel, memory_order_relaxed))
		return next;
	for (;;) {
		uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
		if (t == h)
			return NULL;
		struct gr_g *g = atomic_load_explicit(&q->slots[h % GR_RUNQ_SIZE], memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1,
							  memory_order_release, memory_order_relaxed))
			return g;
	}
}

/* Grab half of q into batch[bhead...]; returns the count. */
static uint32_t grab(struct gr_runq *q, struct gr_g *_Atomic *batch, uint32_t bhead, bool steal_next)
{
	for (;;) {
		uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
		uint32_t n = t - h;
		n = n - n / 2;
		if (n == 0) {
			if (steal_next) {
				struct gr_g *next = atomic_load_explicit(&q->next, memory_order_acquire);
				if (next && atomic_compare_exchange_strong_explicit(
						    &q->next, &next, NULL, memory_order_acq_rel,
						    memory_order_relaxed)) {
					atomic_store_explicit(&batch[bhead % GR_RUNQ_SIZE], next,
							      memory_order_relaxed);
					return 1;
				}
			}
			return 0;
		}
		if (n > GR_RUNQ_SIZE / 2)	/* read inconsistent h and t */
			continue;
		for (uint32_t i = 0; i < n; i++) {
			struct gr_g *g = atomic_load_explicit(&q->slots[(h + i) % GR_RUNQ_SIZE],
							      memory_order_relaxed);
			atomic_store_explicit(&batch[(bhead + i) % GR_RUNQ_SIZE], g, memory_order_relaxed);
		}
		if (atomic_compare_exchange_strong_explicit(&q->head, &h, h + n,
							    memory_order_release, memory_order_relaxed))
			return n;
	}
}

struct gr_g *gr_runq_steal(struct gr_runq *dst, struct gr_runq *src, bool steal_next)
{
	uint32_t t = atomic_load_explicit(&dst->tail, memory_order_relaxed);
	uint32_t n = grab(src, dst->slots, t, steal_next);
	if (n == 0)
		return NULL;
	n--;
	struct gr_g *g = atomic_load_explicit(&dst->slots[(t + n) % GR_RUNQ_SIZE], memory_order_relaxed);
	if (n == 0)
		return g;
	uint32_t h = atomic_load_explicit(&dst->head, memory_order_acquire);
	if (t - h + n >= GR_RUNQ_SIZE)
		gr_throw("runq: steal overflows the local queue");
	atomic_store_explicit(&dst->tail, t + n, memory_order_release);
	return g;
}
