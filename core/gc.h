/* gc: the garbage collector over the heap of core/heap.c (DESIGN.md §9,
 * issue 7). Phase 1: a conservative, stop-the-world mark in leak mode; it
 * counts what the program allocated, never freed, and can no longer reach,
 * and frees nothing. See gc.c for the design, the roots and their limits.
 *
 * Calling contexts: a G, or a thread that is not a G (the initial thread
 * before the scheduler starts, a foreign thread, an atexit handler). Not g0,
 * sysmon or a signal handler: a cycle stops the world and takes every heap
 * lock. Never called with a heap or runtime lock held.
 */
#ifndef GR_GC_H
#define GR_GC_H

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

/* The collector's counters for grun_debug_gc_stats (shims/grun_debug.h). */
struct grun_gc_stats;
GR_HIDDEN void gr_gc_stats(struct grun_gc_stats *st);

#endif
