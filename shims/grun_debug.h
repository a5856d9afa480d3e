/* grun_debug.h - the collector's optional entry points for tests and tools.
 *
 * libgrun exports these; a program looks them up with
 * dlsym(RTLD_DEFAULT, "grun_debug_...") and runs without them natively
 * (dlsym returns NULL). Nothing here is needed to use libgrun.
 */
#ifndef GRUN_DEBUG_H
#define GRUN_DEBUG_H

#include <stddef.h>
#include <stdint.h>

/* GRUN_GC modes, as in grun_gc_stats.mode. */
enum { GRUN_GC_LEAK = 0, GRUN_GC_COLLECT = 1, GRUN_GC_QUARANTINE = 2, GRUN_GC_OFF = 3 };

struct grun_gc_stats {
	uint64_t cycles;			/* cycles completed */
	uint64_t leaked_objects, leaked_bytes;	/* last cycle: allocated, never freed,
						 * unreachable (collect: what it freed) */
	uint64_t freed_objects, freed_bytes;	/* collect: freed by the collector, in total */
	uint64_t quarantine_objects, quarantine_bytes;	/* quarantine: freed by the program,
							 * not yet reusable */
	uint64_t dangling;			/* quarantine: freed objects found still
						 * referenced, in total (each reported once) */
	uint64_t live_bytes;			/* last cycle: reached heap bytes */
	uint64_t goal_bytes;			/* heap size that starts the next cycle */
	uint64_t pause_max_ns, pause_total_ns;	/* stop-the-world pauses, all cycles */
	uint64_t pauses;			/* number of stop-the-world pauses */
	int mode;				/* GRUN_GC_* */
	int unsure;				/* last cycle: roots it could not see (collect
						 * then freed nothing) */
};

/* Run one full cycle now in the current GRUN_GC mode (leak: count; collect:
 * also free what is unreachable; quarantine: also release what nothing
 * references) and wait for its sweep. Returns the cycle's number, or -1
 * (GRUN_GC=off, GRUN_HEAP=0, or the world could not be stopped). */
long grun_debug_gc(void);

/* Fill *st (size = sizeof *st, for growth). Returns 0, or -1. */
int grun_debug_gc_stats(struct grun_gc_stats *st, size_t size);

/* One leak-mode cycle whatever GRUN_GC says (except GRUN_HEAP=0): returns
 * the leaked objects and their bytes in *bytes, or -1. */
long grun_debug_gc_leaked(long *bytes);

#endif
