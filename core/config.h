/* config: the GRUN_* environment, parsed once at start-up.
 *
 * Parsing is a pure function of a lookup callback so unit tests can feed it
 * any environment. A bad value is an error naming the variable and the
 * accepted values (the preload prints it and exits with status 2); an
 * unknown GRUN_DEBUG key is only a warning, as GODEBUG treats unknown keys.
 */
#ifndef GR_CONFIG_H
#define GR_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "core/throw.h"

enum gr_gcmode { GR_GC_LEAK, GR_GC_COLLECT, GR_GC_QUARANTINE, GR_GC_OFF };
enum gr_schedmode { GR_SCHED_FIFO, GR_SCHED_RANDOM, GR_SCHED_PCT };

struct gr_config {
	int maxprocs;		/* GRUN_MAXPROCS; 0 = not set (use the CPUs we may run on) */
	enum gr_gcmode gc;	/* GRUN_GC; not set = off for now (core/gc.c) */
	int gcpercent;		/* GRUN_GCPERCENT; -1 = off */
	uint64_t memlimit;	/* GRUN_MEMLIMIT in bytes; 0 = none given */
	size_t stack;		/* GRUN_STACK in bytes; 0 = pthread default */
	enum gr_schedmode sched;/* GRUN_SCHED */
	uint64_t seed;		/* GRUN_SEED */
	bool seed_set;
	bool inherit;		/* GRUN_INHERIT */
	bool heap;		/* GRUN_HEAP: 0 = glibc's malloc (heap.c reads it itself, earlier) */
	/* GRUN_DEBUG keys */
	int schedtrace_ms;	/* schedtrace=MS: print a SCHED line every MS ms; 0 = off */
	bool scheddetail;	/* scheddetail=1: per-P/M/G lines with schedtrace */
	int gctrace;		/* gctrace=1; 2 adds the termination's phases */
	bool asyncpreempt;	/* asyncpreempt=0 turns asynchronous preemption off */
	int rtsig;		/* preemptsignal=N: the runtime's signal (default SIGURG) */
	bool retaketrace;	/* retaketrace=1: print each P retake with the blocked PC */
	bool native;		/* native=1: run on native threads, as for an unknown glibc */
	bool deadlock_wait;	/* deadlock=wait: report a global deadlock, do not exit */
	int dumpsig;		/* dumpsig=N: signal N prints the goroutine dump */
	int blockprofile;	/* blockprofile=1: print per-site retake counts at exit */
	bool memstats;		/* memstats=1: print the heap metrics at exit (heap.c) */
	bool leakreport;	/* leakreport=1: GC leak report at exit (gc.c) */
	bool gcconcurrent;	/* gcconcurrent=0: mark with the world stopped (gc.c) */
	int gcworkers;		/* gcworkers=N: mark threads (0: a quarter of the Ps, at least 1) */
	uint64_t allocsample;	/* allocsample=N: mean bytes between sampled allocation
				 * sites (Go's MemProfileRate); 1 = every allocation,
				 * 0 = none (core/allocsite.c); default 512 KiB */
};

#define GR_CONFIG_ERRLEN 256

typedef const char *(*gr_getenv_fn)(const char *name);

/* Fill cfg from the environment. Returns 0, or -1 with a one-line message
 * (no newline) in err. Warnings (unknown GRUN_DEBUG keys), one line each
 * terminated by '\n', are appended to warn. */
GR_HIDDEN int gr_config_parse(struct gr_config *cfg, gr_getenv_fn getenv_fn,
			      char *err, size_t errlen, char *warn, size_t warnlen);

/* "64", "64K", "64KiB", "8M", "1GiB" ... -> bytes. Returns 0 or -1. */
GR_HIDDEN int gr_parse_size(const char *s, uint64_t *out);

GR_HIDDEN extern struct gr_config gr_cfg;

/* The runtime's own signal: preemption, set*id, stop-the-world. */
#define GR_RTSIG (gr_cfg.rtsig)

#endif
