/* allocsite: where heap objects were allocated (and freed), for the
 * collector's reports. Go's MemProfileRate, in C: sampled stack traces,
 * deduplicated into site ids, a record per sampled live object, and the
 * leak report by site. See allocsite.c for the design.
 *
 * Contexts. The two hooks (gr_allocsite_alloc, gr_allocsite_free) run in
 * the malloc shims, in every context malloc may run in (heap.h), after the
 * heap returned the object / before the heap takes it back: never under a
 * heap lock. gr_allocsite_of and gr_leakagg_add take no lock and never
 * allocate: usable with the world stopped. gr_leakagg_report and
 * gr_allocsite_print take no lock and never allocate from the heap: usable
 * from the goroutine-dump signal. Their names come from traceback.c's
 * symbolizer, signal-safe as the dump is: raw system calls and mmap, no
 * malloc, no runtime lock; but dladdr1 takes ld.so's recursive
 * dl_load_write_lock, so a signal that lands in a thread in the middle of
 * dlopen/dlclose may see a half-updated module list (or wait for another
 * thread's dl_iterate_phdr). Everything else takes allocsite's own locks,
 * which are leaves.
 */
#ifndef GR_ALLOCSITE_H
#define GR_ALLOCSITE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/throw.h"

#define GR_ALLOCSITE_DEPTH 32		/* frames kept per site */
#define GR_ALLOCSITE_MAX ((1u << 20) - 1)	/* site ids are 1..MAX; 0 = none */

/* --- the hooks (shims/malloc.c) ------------------------------------------ */

/* Bytes this thread (this G: Gs have their own TLS) may still allocate
 * before the next sample. Below zero: take the slow path. Only the slow
 * path sets it; the hook only subtracts. */
GR_HIDDEN extern __thread int64_t gr_allocsite_left;	/* -1 in a new thread */

/* A bit per 64Ki hash bucket of object addresses: set while some sampled
 * live object hashes there (a counting filter; the counts are private).
 * Read without a lock; written under allocsite's object lock. */
#define GR_ALLOCSITE_FILTERBITS 16
GR_HIDDEN extern _Atomic uint64_t gr_allocsite_filter[(1u << GR_ALLOCSITE_FILTERBITS) / 64];

GR_HIDDEN void *gr_allocsite_sample_slow(void *p, size_t size, void *ret);
/* This thread is capturing a stack (libunwind runs: its sigprocmask calls
 * guard nothing libgrun needs, and cost two system calls a frame). */
GR_HIDDEN bool gr_allocsite_capturing(void);
GR_HIDDEN void gr_allocsite_free_slow(void *p);

static inline uint64_t gr_allocsite_hash(uintptr_t a)
{
	return (uint64_t)a * 0x9e3779b97f4a7c15ull;
}

static inline bool gr_allocsite_maybe(const void *p)
{
	uint64_t h = gr_allocsite_hash((uintptr_t)p) >> (64 - GR_ALLOCSITE_FILTERBITS);
	uint64_t w = atomic_load_explicit(&gr_allocsite_filter[h >> 6], memory_order_relaxed);
	return (w >> (h & 63)) & 1;
}

/* After the heap returned p for a request of size bytes made by a call
 * whose return address is ret (__builtin_return_address(0) of the shim:
 * the recorded stack starts there). p may be NULL. Returns p. */
static inline void *gr_allocsite_alloc(void *p, size_t size, void *ret)
{
	if (unlikely((gr_allocsite_left -= (int64_t)size) < 0))
		return gr_allocsite_sample_slow(p, size, ret);
	return p;
}

/* Before the heap takes p back (free, delete): forget its record. p may be
 * NULL or a pointer that was never sampled (the common case: one load
 * and one branch). */
static inline void gr_allocsite_free(void *p)
{
	if (unlikely(gr_allocsite_maybe(p)))
		gr_allocsite_free_slow(p);
}

/* realloc moved old to new (before old is freed): new takes old's record,
 * if old had one (replacing any record new got from its own sample). keep:
 * old keeps its record too (quarantine: old stays allocated for now). */
GR_HIDDEN void gr_allocsite_move(void *old, void *new, bool keep);

/* --- set-up ------------------------------------------------------------ */

/* Start sampling with mean rate bytes between samples (gr_cfg.allocsample:
 * 1 = every allocation, 0 = none). Before this nothing is sampled. Loads
 * libunwind (gr_traceback_init), whose set-up locks a pthread mutex, that
 * is, enters our mutex shim: call it after gr_ensure_init has returned
 * (not under init_lock: that deadlocks), from a sane context. Resets the
 * calling thread's countdown; other threads pick up a new rate at their
 * next sample. */
GR_HIDDEN void gr_allocsite_init(uint64_t rate);

/* Fork (core/fork.c): prepare takes allocsite's locks, parent releases
 * them, child resets them (the tables are the parent's, consistent). */
GR_HIDDEN void gr_allocsite_fork_prepare(void);
GR_HIDDEN void gr_allocsite_fork_parent(void);
GR_HIDDEN void gr_allocsite_fork_child(void);

/* --- queries for the collector ---------------------------------------- */

/* Site id of a live sampled object (its base address), 0 if not sampled.
 * Lock-free: exact when the world is stopped; racing a free or a table
 * growth in a running world it may answer 0. */
GR_HIDDEN uint32_t gr_allocsite_of(uintptr_t obj);

/* Capture the caller's stack now and return its site id (0 if it cannot
 * be recorded, or sites are off: rate 0 or before gr_allocsite_init).
 * Frame #0 is the caller's own call of this function; skip drops that
 * many more; frames inside libgrun are dropped first. For free sites in
 * quarantine mode. Takes the site lock; not with the world stopped, not
 * from a signal handler. */
GR_HIDDEN uint32_t gr_allocsite_capture(int skip);

/* The effective sampling rate in bytes: 1 = exact, 0 = nothing sampled. */
GR_HIDDEN uint64_t gr_allocsite_rate(void);

/* The frames of a site, innermost first (return addresses). Returns how
 * many; 0 for an unknown site. Lock-free; *pcs stays valid forever. */
GR_HIDDEN int gr_allocsite_frames(uint32_t site, const uintptr_t **pcs);

/* Print a site's frames, one "\t#i 0x... func+0xoff (module)" line each. */
GR_HIDDEN void gr_allocsite_print(int fd, uint32_t site);

/* Every mapping allocsite owns (object records, sites, index, aggregation).
 * They hold no program pointer (records are stored complemented), so the
 * collector may leave them out of its roots to save time; scanning them is
 * harmless. World stopped: no lock. */
GR_HIDDEN void gr_allocsite_gc_foreach_meta(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg);

/* Number of sites recorded, and samples taken (statistics, racy). */
GR_HIDDEN uint32_t gr_allocsite_nsites(void);
GR_HIDDEN uint64_t gr_allocsite_nsamples(void);

/* --- leak aggregation ---------------------------------------------------
 * One collector at a time: reset, then add for every leaked object (with
 * the world stopped: no lock, no allocation, no output), then report once
 * the world runs again. */
GR_HIDDEN void gr_leakagg_reset(void);
/* site: gr_allocsite_of(obj) (0 = unsampled); bytes: its usable size. */
GR_HIDDEN void gr_leakagg_add(uint32_t site, uint64_t bytes);
/* Header with the totals, then one block per site, most bytes first (ties:
 * lower site id first), then the unsampled objects on one line. */
GR_HIDDEN void gr_leakagg_report(int fd, uint64_t total_objects, uint64_t total_bytes);

/* pprof's scaleHeapSample: what count sampled objects of bytes in all
 * stand for at rate (count / (1 - exp(-(bytes/count)/rate))). rate <= 1:
 * unchanged. */
GR_HIDDEN void gr_allocsite_scale(uint64_t count, uint64_t bytes, uint64_t rate,
				  uint64_t *est_count, uint64_t *est_bytes);

#endif
