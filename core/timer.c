/* timer: 4-ary min-heap keyed by when (see timer.h).
 *
 * A 4-ary heap halves the depth of a binary heap, and siftdown touches four
 * adjacent children in one cache line. Storage comes from mmap (the runtime
 * does not allocate from the program's heap) and only grows.
 */
#include "core/timer.h"

#include <limits.h>
#include <string.h>
#include <sys/mman.h>

void gr_timerheap_init(struct gr_timerheap *h)
{
	memset(h, 0, sizeof *h);
	atomic_store(&h->next_when, INT64_MAX);
}

static void grow_locked(struct gr_timerheap *h)
{
	uint32_t ncap = h->cap ? h->cap * 2 : 512;
	struct gr_timer **n = gr_mmap(NULL, ncap * sizeof *n, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (n == (void *)-1)
		gr_throw("timer: out of memory growing a timer heap");
	if (h->items) {
		memcpy(n, h->items, h->len * sizeof *n);
		gr_munmap(h->items, h->cap * sizeof *n);
	}
	h->items = n;
	h->cap = ncap;
}

static void place(struct gr_timerheap *h, uint32_t i, struct gr_timer *t)
{
	h->items[i] = t;
	t->idx = i;
}

static void siftup(struct gr_timerheap *h, uint32_t i)
{
	struct gr_timer *t = h->items[i];
	while (i > 0) {
		uint32_t p = (i - 1) / 4;
		if (h->items[p]->when <= t->when)
			break;
		place(h, i, h->items[p]);
		i = p;
	}
	place(h, i, t);
}

static void siftdown(struct gr_timerheap *h, uint32_t i)
{
	struct gr_timer *t = h->items[i];
	for (;;) {
		uint32_t c = 4 * i + 1, best = i;
		int64_t bw = t->when;
		for (uint32_t k = c; k < c + 4 && k < h->len; k++) {
			if (h->items[k]->when < bw) {
				bw = h->items[k]->when;
				best = k;
			}
		}
		if (best == i)
			break;
		place(h, i, h->items[best]);
		i = best;
	}
	place(h, i, t);
}

static void update_next_locked(struct gr_timerheap *h)
{
	atomic_store_explicit(&h->next_when, h->len ? h->items[0]->when : INT64_MAX,
			      memory_order_release);
}

static void remove_locked(struct gr_timerheap *h, struct gr_timer *t)
{
	uint32_t i = t->idx;
	struct gr_timer *last = h->items[--h->len];
	if (i != h->len) {
		place(h, i, last);
		siftdown(h, i);
		siftup(h, last->idx);
	}
	atomic_store_explicit(&t->heap, NULL, memory_order_release);
	update_next_locked(h);
}

bool gr_timer_add(struct gr_timerheap *h, struct gr_timer *t)
{
	gr_lock(&h->lock);
	if (h->len == h->cap)
		grow_locked(h);
	atomic_store_explicit(&t->heap, h, memory_order_relaxed);
	place(h, h->len++, t);
	siftup(h, t->idx);
	bool first = h->items[0] == t;
	update_next_locked(h);
	gr_unlock(&h->lock);
	return first;
}

bool gr_timer_del(struct gr_timer *t)
{
	for (;;) {
		struct gr_timerheap *h = atomic_load_explicit(&t->heap, memory_order_acquire);
		if (!h)
			return false;
		gr_lock(&h->lock);
		if (atomic_load_explicit(&t->heap, memory_order_relaxed) == h) {
			remove_locked(h, t);
			gr_unlock(&h->lock);
			return true;
		}
		gr_unlock(&h->lock);
	}
}

int gr_timers_run(struct gr_timerheap *h, int64_t now)
{
	int n = 0;
	if (gr_timers_next(h) > now)
		return 0;
	gr_lock(&h->lock);
	while (h->len > 0 && h->items[0]->when <= now) {
		struct gr_timer *t = h->items[0];
		/* firing before heap = NULL: gr_timer_stop sees one or the other */
		atomic_store_explicit(&t->firing, 1, memory_order_relaxed);
		remove_locked(h, t);
		gr_unlock(&h->lock);
		t->fn(t);
		atomic_store_explicit(&t->firing, 0, memory_order_release);
		n++;
		gr_lock(&h->lock);
	}
	gr_unlock(&h->lock);
	return n;
}

bool gr_timer_stop(struct gr_timer *t)
{
	if (gr_timer_del(t))
		return true;
	while (atomic_load_explicit(&t->firing, memory_order_acquire))
		gr_cpu_relax();
	return false;
}
