/* heap: the program's malloc heap (Go's malloc.go / mheap.go / mcentral.go
 * / mcache.go design, in C, with explicit free). See heap.c for the design
 * essay, the invariants and the lock order; this header holds what the
 * malloc shims inline: the span map lookup and the cache fast paths.
 *
 * Calling contexts: every context that may call malloc (HACKING.md): a G,
 * g0, sysmon, a foreign thread, the main thread before the runtime is up.
 * Never from a signal handler (neither is glibc's). The heap itself never
 * calls malloc or any interposed name: its metadata comes from mmap.
 */
#ifndef GR_HEAP_H
#define GR_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/heap_sizeclass.h"
#include "core/lock.h"
#include "core/proc.h"

#define GR_ARENASHIFT 26			/* 64 MiB arenas */
#define GR_ARENASIZE ((size_t)1 << GR_ARENASHIFT)
#define GR_ARENAPAGES (1u << (GR_ARENASHIFT - GR_PAGESHIFT))
#define GR_ADDRBITS 47				/* x86_64 user space */
#define GR_NARENAS ((size_t)1 << (GR_ADDRBITS - GR_ARENASHIFT))
#define GR_MAXMCACHE 4096			/* M ids with a cache of their own */

enum gr_spanstate {
	SPAN_DEAD,	/* struct on a free list of span structs */
	SPAN_FREE,	/* free pages in the page allocator; heap lock */
	SPAN_BUSY,	/* free pages being released by the scavenger (no lock held) */
	SPAN_SMALL,	/* objects of one size class; owned by mcentral */
	SPAN_LARGE,	/* one large object */
};

/* A run of pages. The page map (arena->spans) points at an in-use span
 * from each of its pages, at a free span from its first and last page
 * only; every other entry is NULL. So any address finds its span, and its
 * object base, in O(1) (gr_heap_spanof, gr_heap_base): what the GC needs.
 *
 * Small spans: allocount == number of set allocbits == objects handed out
 * to caches (and from there to the program); free objects are the clear
 * bits. markbits are the collector's: set by its mark, read and cleared by
 * its sweep (gr_heap_sweep_span); zero in a span created since. */
struct gr_span {
	size_t npages;			/* fixed while in use; heap lock for free spans */
	struct gr_span *next, *prev;	/* heap free list (heap lock) or a central list (central lock) */
	bool needzero;			/* large: some page may be nonzero */
	bool listed;			/* small: on one of its central's lists; central lock */
	uint32_t allocount;		/* central lock */
	uint32_t freeword;		/* no clear allocbit below this word; central lock */
	uint32_t nzero;			/* free span: pages known to be zero (released); heap lock */
	int64_t freedat;		/* free span: coarse ns it was last freed; heap lock */
	/* What the collector's mark reads, from here on: with the bits of a
	 * span of up to 128 objects, one cache line (the second). */
	_Alignas(64) uintptr_t base;	/* first byte; fixed while in use */
	uint32_t elemsize;		/* fixed while in use */
	uint32_t nelems;
	uint32_t divmul;
	uint8_t state;			/* enum gr_spanstate */
	uint8_t nbitw;			/* words of allocbits (and of markbits): 1, 2, 4, 8 or 16 */
	uint8_t sizeclass;		/* 0 for large and free spans; fixed while in use */
	_Atomic uint8_t sweepgen;	/* == gr_heap_sweepgen: swept since the last mark (gc.c) */
	uint64_t bits[];		/* allocbits[nbitw], markbits[nbitw] */
};
#define GR_MAXBITWORDS 16		/* 1024 objects: the 8-byte class */
/* The bit words a span of nelems objects has. */
static inline unsigned gr_span_words_for(uint32_t nelems)
{
	unsigned w = 1;
	while (w * 64 < nelems)
		w *= 2;
	return w;
}
static inline unsigned gr_span_bitwords(const struct gr_span *s) { return s->nbitw; }
static inline uint64_t *gr_span_allocbits(struct gr_span *s) { return s->bits; }
static inline uint64_t *gr_span_markbits(struct gr_span *s) { return s->bits + s->nbitw; }
/* Set the mark bit of the small object p (an object base in span s).
 * Atomic: a concurrent mark and frees into transfer caches share words. */
static inline void gr_span_mark_object(struct gr_span *s, const void *p)
{
	uint32_t idx = (uint32_t)(((uint64_t)((uintptr_t)p - s->base) * s->divmul) >> 32);
	if (idx < s->nelems)
		__atomic_fetch_or(&gr_span_markbits(s)[idx >> 6], 1ull << (idx & 63), __ATOMIC_RELAXED);
}

/* Per-arena metadata (mmap'd beside the arena, never freed). */
struct gr_arena {
	struct gr_span *spans[GR_ARENAPAGES];	/* page map; heap lock for writes */
	uint64_t zero[GR_ARENAPAGES / 64];	/* page is zero (fresh or released); heap lock */
};

/* Arena index: GR_NARENAS entries (a sparse, lazily touched mapping).
 * NULL until the heap is initialized. */
GR_HIDDEN extern struct gr_arena **gr_arena_index;

/* One size class's list in a cache: objects linked through their first
 * word. Owned by one M (or the main thread, or under the shared lock). */
struct gr_cachelist {
	void *head;
	uint32_t n;			/* objects on the list */
	uint32_t max;			/* more: release a batch to mcentral */
	uint64_t nmalloc;		/* objects handed to the program (stats) */
};

struct gr_mcache {
	struct gr_cachelist l[GR_NCLASSES];
	_Atomic uint32_t owner;		/* GR_CACHE_*: its M's, for a termination */
};
enum { GR_CACHE_ACTIVE, GR_CACHE_IDLE, GR_CACHE_TAKEN };

/* An M going to sleep (idle) and waking (busy): while it sleeps a mark
 * termination may take its cache's lists (gr_heap_gc_take_free); busy
 * waits for such a take to end. */
GR_HIDDEN void gr_heap_cache_idle(int mid);
GR_HIDDEN void gr_heap_cache_busy(int mid);

/* gr_mcaches[m->id]: the cache of M id; written once by that M. */
GR_HIDDEN extern struct gr_mcache *gr_mcaches[GR_MAXMCACHE];
/* The cache of a kernel thread that is not an M: &main cache for the
 * initial thread before the scheduler starts; NULL otherwise (foreign
 * threads take the locked shared cache in the slow path). */
GR_HIDDEN extern __thread struct gr_mcache *gr_tcache;

/* Heap mode: 0 not initialized, 1 on, 2 off (GRUN_HEAP=0: forward to glibc). */
GR_HIDDEN extern int gr_heap_mode;

/* Where gr_heap_spanof(p) reads its answer (NULL: no arena there), for a
 * caller that prefetches it before it looks. */
static inline struct gr_span *const *gr_heap_spanslot(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	struct gr_arena **idx = gr_arena_index;
	if (unlikely(!idx || (a >> GR_ADDRBITS)))
		return NULL;
	struct gr_arena *ar = idx[a >> GR_ARENASHIFT];
	if (!ar)
		return NULL;
	return &ar->spans[(a >> GR_PAGESHIFT) & (GR_ARENAPAGES - 1)];
}

static inline struct gr_span *gr_heap_spanof(const void *p)
{
	struct gr_span *const *slot = gr_heap_spanslot(p);
	return slot ? *slot : NULL;
}

/* The calling context's cache, or NULL (slow path decides). No atomics:
 * a G cannot leave its M while its PC is in libgrun (no async preemption
 * there, and the heap never parks). Callers must not keep the result
 * across a call into libc (memcpy may be preempted: the G may then run on
 * another M). */
static inline struct gr_mcache *gr_heap_cache(void)
{
	struct gr_g *g = gr_curg;
	struct gr_m *m = g ? g->m : gr_curm;
	if (likely(m)) {
		uint32_t id = (uint32_t)m->id;
		return likely(id < GR_MAXMCACHE) ? gr_mcaches[id] : NULL;
	}
	return gr_tcache;
}

GR_HIDDEN void *gr_heap_alloc_slow(size_t size);
GR_HIDDEN void gr_heap_free_slow(void *p, struct gr_span *s);
GR_HIDDEN void gr_heap_cache_overflow(struct gr_mcache *c, unsigned cls);

/* The collector's assist threshold (gc.h): 1 while assists may mark
 * (every refill asks), 0 while a cycle's last rounds want every
 * allocation to wait for it. */
GR_HIDDEN extern _Atomic uint64_t gr_gc_hard;

/* Allocate size bytes (16-byte aligned when size > 8); NULL when out of
 * memory (errno not set here). */
static inline void *gr_heap_alloc(size_t size)
{
	if (likely(size <= GR_MAXSMALL)) {
		struct gr_mcache *c = gr_heap_cache();
		if (likely(c)) {
			struct gr_cachelist *l = &c->l[gr_size_to_class(size)];
			void *p = l->head;
			if (likely(p) && likely(__atomic_load_n(&gr_gc_hard, __ATOMIC_RELAXED))) {
				l->head = *(void **)p;
				*(void **)p = NULL;	/* see gr_heap_alloc_slow */
				l->n--;
				l->nmalloc++;
				return p;
			}
		}
	}
	return gr_heap_alloc_slow(size);
}

/* GRUN_GC=quarantine: free() hands objects to the collector (gc.c),
 * which releases them once a mark proves nothing references them. */
GR_HIDDEN extern void (*gr_heap_quarantine)(void *p, struct gr_span *s);

/* Free p at once (no quarantine), which may be NULL or a pointer the
 * heap does not own. */
static inline void gr_heap_free_now(void *p)
{
	struct gr_span *s = gr_heap_spanof(p);
	if (likely(s && s->sizeclass)) {
		struct gr_mcache *c = gr_heap_cache();
		if (likely(c)) {
			struct gr_cachelist *l = &c->l[s->sizeclass];
			*(void **)p = l->head;
			l->head = p;
			if (likely(++l->n <= l->max))
				return;
			gr_heap_cache_overflow(c, s->sizeclass);
			return;
		}
	}
	gr_heap_free_slow(p, s);
}

/* Free p, which may be NULL or a pointer the heap does not own. */
static inline void gr_heap_free(void *p)
{
	if (unlikely(gr_heap_quarantine)) {
		struct gr_span *s = gr_heap_spanof(p);
		if (s) {
			gr_heap_quarantine(p, s);
			return;
		}
	}
	gr_heap_free_now(p);
}

/* Heap bytes handed out of mcentral and the page heap: objects in caches
 * or with the program (the pacer's measure, core/gc.c). */
GR_HIDDEN uint64_t gr_heap_inuse_bytes(void);

/* Allocate size bytes aligned to align (a power of two). */
GR_HIDDEN void *gr_heap_alloc_aligned(size_t size, size_t align);
/* Zeroed allocation (memory known to be zero is not written). */
GR_HIDDEN void *gr_heap_calloc(size_t size);
/* Usable size of a heap pointer; 0 if the heap does not own it. */
GR_HIDDEN size_t gr_heap_usable(const void *p);
/* True if p lies in a heap arena or the bootstrap arena. */
GR_HIDDEN bool gr_heap_owns(const void *p);
GR_HIDDEN bool gr_heap_is_bootstrap(const void *p);
/* Bump allocation from the static bootstrap arena (never freed). */
GR_HIDDEN void *gr_heap_bootstrap_alloc(size_t size, size_t align);
/* Object base of any address inside a live heap object, else NULL. */
GR_HIDDEN void *gr_heap_base(const void *p);
/* Could p (allocated with usable size old) be resized in place to n? */
GR_HIDDEN bool gr_heap_resize_inplace(void *p, size_t n);
/* First use: decide the mode (GRUN_HEAP) and map the arena index. */
GR_HIDDEN void gr_heap_init(void);

/* Release free memory: flush the caller's cache, then return every free
 * page to the OS. Returns true if anything was released (malloc_trim). */
GR_HIDDEN bool gr_heap_trim(void);
/* Scavenger step: return pages that have been free for a while to the OS
 * (madvise), paced; below the soft limit (GRUN_MEMLIMIT, else cgroup
 * memory.max) it keeps about 10% of the heap as free dirty pages. Called
 * by sysmon with the monotonic time; also lazily from the page
 * allocator. Takes heap locks: not from a signal handler. */
GR_HIDDEN void gr_heap_scavenge_tick(int64_t now);

/* Fork: take every heap lock in a fixed order; release; reset. */
GR_HIDDEN void gr_heap_fork_prepare(void);
GR_HIDDEN void gr_heap_fork_parent(void);
GR_HIDDEN void gr_heap_fork_child(void);

/* Metrics (runtime/metrics names). Racy reads of counters: good enough
 * for reporting; lock-free (usable from the goroutine dump). */
struct gr_heap_stats {
	uint64_t objects_bytes;		/* /memory/classes/heap/objects:bytes */
	uint64_t free_bytes;		/* /memory/classes/heap/free:bytes (free, not released) */
	uint64_t released_bytes;	/* /memory/classes/heap/released:bytes */
	uint64_t unused_bytes;		/* /memory/classes/heap/unused:bytes (in spans, not in objects) */
	uint64_t metadata_bytes;	/* /memory/classes/metadata/other:bytes */
	uint64_t allocs_bytes;		/* /gc/heap/allocs:bytes */
	uint64_t allocs_objects;	/* /gc/heap/allocs:objects */
	uint64_t frees_bytes;		/* /gc/heap/frees:bytes */
	uint64_t frees_objects;		/* /gc/heap/frees:objects */
	uint64_t mapped_bytes;		/* arenas reserved */
	uint64_t memlimit;		/* /gc/gomemlimit:bytes (0 = none) */
};
GR_HIDDEN void gr_heap_read_stats(struct gr_heap_stats *st);
/* Print the metrics to fd 2 (GRUN_DEBUG=memstats=1 at exit). */
GR_HIDDEN void gr_heap_report(void);
/* malloc_stats(3)-style text. */
GR_HIDDEN void gr_heap_print_stats(int fd);
/* The metrics, one "name value" line each (lock-free reads: usable from
 * a signal handler; the goroutine dump prints them in its header). */
GR_HIDDEN void gr_heap_print_metrics(int fd);
/* The collector's metrics, printed after the heap's (set by gc.c). */
GR_HIDDEN extern void (*gr_heap_metrics_hook)(int fd);

/* === GC support (issue 7; heap.c's block of the same name) =============
 * For core/gc.c only. lock_all takes every heap lock, waiting for each,
 * before the collector stops the world (unlock_all releases them). */
GR_HIDDEN void gr_heap_gc_lock_all(void);

/* The sweep (gc.c). The mark's termination bumps gr_heap_sweepgen with the
 * world stopped: every span then existing is unswept until
 * gr_heap_sweep_span; objects carved from an unswept span are marked
 * (allocation is black until its span is swept), spans created later are
 * born swept. Sweeping a span reports each allocated, unmarked object
 * (dead) to fn, frees them too when collect is set, and clears the marks.
 * fn runs with the span's central lock (small) or the heap lock (large)
 * held: it must not allocate, and may take only leaf locks. Returns false if s is no
 * longer an in-use span or was swept already. */
GR_HIDDEN extern _Atomic uint8_t gr_heap_sweepgen;
/* Called with the heap lock held when arenas [base, base+len) are mapped. */
GR_HIDDEN extern void (*gr_heap_arena_hook)(uintptr_t base, size_t len);
/* Sweep every span (the program running). */
GR_HIDDEN void gr_heap_sweep_all(bool collect, void (*fn)(uintptr_t obj, size_t size, unsigned cls, void *arg),
				 void *arg);
GR_HIDDEN bool gr_heap_sweep_span(struct gr_span *s, bool collect, void (*fn)(uintptr_t obj, size_t size,
									 unsigned cls, void *arg), void *arg);
/* At the termination, after the bump (every heap lock held): the full
 * spans become unswept (lazy sweep finds them there). */
GR_HIDDEN void gr_heap_gc_sweep_begin(void);
/* Lazy sweep on (fn) or off (NULL): collect mode only, between the
 * termination and the end of gr_heap_sweep_all. An allocator that needs
 * objects of a class sweeps that class's spans first (see heap.c), with fn
 * called as by the sweep, from any thread: it must be thread-safe. */
GR_HIDDEN void gr_heap_lazy_sweep(void (*fn)(uintptr_t obj, size_t size, unsigned cls, void *arg));
GR_HIDDEN void gr_heap_gc_unlock_all(void);
/* Arena numbers (address >> GR_ARENASHIFT); *lost: some were not listed. */
GR_HIDDEN uint32_t gr_heap_gc_arenas(const uint32_t **list, bool *lost);
/* Ranges of the heap's mmap'd metadata (never roots); *lost: incomplete. */
GR_HIDDEN void gr_heap_gc_foreach_meta(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg,
				       bool *lost);
/* Every small and large span in use. */
GR_HIDDEN void gr_heap_gc_foreach_span(void (*fn)(struct gr_span *s, void *arg), void *arg);
/* Every free object whose allocbit is set: on cache lists, and in the
 * transfer caches too when tc. */
GR_HIDDEN void gr_heap_gc_foreach_free(void (*fn)(void *obj, void *arg), void *arg, bool tc);
/* The termination's share of a concurrent mark's free objects: the lists
 * of each cache whose owner is quiet (quiet(M id): stopped outside any
 * cache operation) or asleep (gr_heap_cache_idle) are taken whole, and given back to mcentral by
 * gr_heap_gc_return_taken once the world runs again (before any sweep);
 * fn is called on each free object of the other caches, as by
 * gr_heap_gc_foreach_free without tc. Every heap lock held. */
GR_HIDDEN void gr_heap_gc_take_free(bool (*quiet)(uint32_t mid, void *arg), void *qarg,
				    void (*fn)(void *obj, void *arg), void *arg);
GR_HIDDEN void gr_heap_gc_return_taken(void);
/* A concurrent mark's free objects in transfer caches. Begin: set the mark
 * bit of every object in them now, and of every batch that enters one
 * from now on (atomically: the collector marks the same words), so that
 * the termination's pause walks only the caches' short lists. End: stop
 * (the world is stopped). */
GR_HIDDEN void gr_heap_gc_mark_tc_begin(void);
GR_HIDDEN void gr_heap_gc_mark_tc_end(void);
/* === end of GC support === */

#endif
