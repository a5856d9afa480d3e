/* gc: the garbage collector over the heap of core/heap.c (DESIGN.md §9,
 * issue 7): conservative roots, a concurrent mark with dirty-page tracking
 * (core/dirty.h), one short pause, a concurrent sweep; modes leak, collect
 * and quarantine (GRUN_GC). See gc.c for the design, the roots and their
 * limits.
 *
 * Calling contexts: a G, or a thread that is not a G (the initial thread
 * before the scheduler starts, a foreign thread, an atexit handler). Not g0,
 * sysmon or a signal handler: a cycle stops the world and takes every heap
 * lock. Never called with a heap or runtime lock held.
 */
#ifndef GR_GC_H
#define GR_GC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/throw.h"

/* After the configuration is parsed (preload/init.c): picks the mode from
 * GRUN_GC and registers the exit-time cycle and report. */
GR_HIDDEN void gr_gc_init(void);
/* The exit-time cycle (and report with GRUN_DEBUG=leakreport=1);
 * preload/init.c registers it with atexit when the collector is on. */
GR_HIDDEN void gr_gc_atexit(void);
/* Is the collector on (GRUN_GC=leak, or collect/quarantine run as leak)? */
GR_HIDDEN bool gr_gc_enabled(void);

/* Run one cycle: stop the world, mark, count leaks, restart. why names the
 * trigger in the gctrace line. Returns 0, or -EBUSY when the world or the
 * heap could not be had, -ENOSYS when the heap is off (GRUN_HEAP=0).
 * Runs whatever the mode: callers check gr_gc_enabled() when they should. */
GR_HIDDEN int gr_gc_collect(const char *why);

/* In the child of fork (core/fork.c): reset the collector's lock. */
GR_HIDDEN void gr_gc_fork_child(void);

/* Result of the last cycle. */
struct gr_gc_result {
	uint64_t cycle;			/* 0: none yet */
	uint64_t leaked_objects;	/* allocated, not freed, unreachable */
	uint64_t leaked_bytes;		/* their usable sizes */
	uint64_t live_objects, live_bytes;	/* reached */
	int unsure;			/* places the mark could not see: threads not
					 * stopped, lists or tables that overflowed */
};
GR_HIDDEN void gr_gc_last(struct gr_gc_result *r);

/* Leaked objects and bytes of the last cycle, by size class, largest
 * first (allocation sites: later phase). */
GR_HIDDEN void gr_gc_leak_report(int fd);
/* The same from the goroutine dump (maybe a signal handler): the last
 * cycle's report, unless a cycle holds the collector's lock (false). */
GR_HIDDEN bool gr_gc_leak_report_try(int fd);

/* The pacer: heap bytes in use (gr_heap_inuse_bytes) that start the next
 * cycle; UINT64_MAX when the collector is off. The heap calls gr_gc_pace
 * on its slow paths (no lock but possibly the shared cache's held). */
GR_HIDDEN extern _Atomic uint64_t gr_gc_trigger;
GR_HIDDEN extern void (*gr_gc_wake_fn)(int why);	/* set before the trigger */
GR_HIDDEN void gr_gc_wake(int why);
enum { GC_WHY_NONE, GC_WHY_HEAP, GC_WHY_QUARANTINE, GC_WHY_LIMIT, GC_WHY_FORCED, GC_WHY_DEBUG, GC_WHY_EXIT };
static inline void gr_gc_pace(uint64_t inuse)
{
	if (__builtin_expect(inuse >= atomic_load_explicit(&gr_gc_trigger, memory_order_relaxed), 0))
		gr_gc_wake_fn(GC_WHY_HEAP);
}

/* Assists: while a cycle marks, an allocating thread (no heap lock held)
 * past gr_gc_hard marks gray objects from the collector's pool when the
 * pacer is behind, and past the goal waits for the cycle if there is
 * nothing to mark (gc.c, assist()). */
GR_HIDDEN extern _Atomic uint64_t gr_gc_hard;
GR_HIDDEN extern void (*gr_gc_assist_fn)(void);
static inline void gr_gc_assist_check(uint64_t live)
{
	if (__builtin_expect(live >= atomic_load_explicit(&gr_gc_hard, memory_order_relaxed), 0))
		gr_gc_assist_fn();
}

/* sysmon's tick (every 10 ms or so): starts the collector's worker
 * thread, forces a cycle every 2 minutes. */
GR_HIDDEN void gr_gc_sysmon(int64_t now);

/* Kernel-held pointers libgrun sees go by (epoll_ctl data, timer_create
 * sigevent values): roots until deleted. key: a kind in the top byte. */
#define GR_KROOT_EPOLL(epfd, fd) ((1ull << 56) | ((uint64_t)(uint32_t)(epfd) << 24) | (uint32_t)(fd))
#define GR_KROOT_TIMER(id) ((2ull << 56) | ((uint64_t)(uintptr_t)(id) & ((1ull << 56) - 1)))
GR_HIDDEN void gr_gc_kroot_set(uint64_t key, uintptr_t val);
GR_HIDDEN void gr_gc_kroot_del(uint64_t key);

/* The collector's counters for grun_debug_gc_stats (shims/grun_debug.h). */
struct grun_gc_stats;
GR_HIDDEN void gr_gc_stats(struct grun_gc_stats *st);

#endif
