/* gc: a conservative, mostly-concurrent mark-sweep collector (issue 7).
 *
 * What. A cycle marks every heap object reachable from the roots; objects
 * allocated, not on a free list and unmarked are leaks: counted by size
 * class and allocation site (core/allocsite.h) in every mode, freed in
 * collect mode. In quarantine mode free() hands objects here (they stay
 * allocated, cleared) and a cycle releases those nothing reached. Go's
 * mgc.go in shape; Boehm's mostly-parallel marking for want of a compiler
 * write barrier.
 *
 * A cycle (collect(); one at a time, gc_lock):
 *  1. concurrent mark (when core/dirty.h works): every heap arena is
 *     write-protected (arenas mapped later are protected at creation, by a
 *     heap hook), then the roots are read while the program runs, each big
 *     root range (>= REG_MIN) protected just before it is read; marked
 *     objects are traced from an mmap'd mark stack. A short first pause
 *     reads registers, stacks and TLS (queued, traced after it). Free
 *     objects in transfer caches are marked from the start (and batches
 *     entering one meanwhile). From then until the termination the
 *     worker keeps a few chunks of its gray objects in a shared pool:
 *     mark helpers (GRUN_DEBUG=gcworkers) and assists (allocating threads
 *     the pacer finds behind schedule, behind()) trace from it in
 *     parallel, marking with atomic bit sets. Then rounds read what was
 *     written meanwhile (marked objects on written heap pages, written
 *     root pages), re-protecting as they go, until one finds few pages
 *     (at most MAXROUNDS); from the third, allocating threads assist
 *     (marking if the pool has work, else waiting) at every refill, then
 *     at every allocation once rounds are short (collect()), and the
 *     pause helper (below) reads written heap pages with the worker (in
 *     earlier rounds too, from when allocating threads wait: the heap at
 *     its goal);
 *  2. termination, the second pause: every lock the cycle needs, then the
 *     world (core/stw.h); registers and live stacks of every thread, G TLS,
 *     kernel-held roots, written heap pages (no re-protect: with 2+ Ps the
 *     pause helper reads most of them meanwhile, ph_post), and the
 *     mappings of /proc/self/maps: protected ranges by their written
 *     pages, everything else whole (small ones in one batched read, rq_*);
 *     free objects in allocation caches kept from the sweep: the caches
 *     of Ms known to be between cache operations (note_quiet, or asleep:
 *     gr_heap_cache_idle) taken whole, the others walked and their
 *     objects marked; quarantine batches marked (not leaks); the sweep
 *     generation bumped; the world restarted, the taken lists given back
 *     to mcentral (before anything sweeps), and the heap and root ranges
 *     unprotected (a write between cycles costs no fault).
 *     GRUN_DEBUG=gctrace=2 prints this pause by phase;
 *  3. concurrent sweep: the quarantine's entries older than the
 *     termination are judged (marked: a possible dangling pointer, kept;
 *     unmarked: released), then every span is swept page by page
 *     (gr_heap_sweep_all): its dead objects reported (and in collect mode
 *     freed by clearing allocation bits), its marks cleared. In collect
 *     mode allocating threads sweep too, lazily (gr_heap_lazy_sweep): a
 *     class's spans are swept before objects are carved from them, its
 *     full ones until one has room, so garbage is reused at once instead
 *     of the heap growing while the background sweep runs. Allocation
 *     from a span not swept yet is black (heap.c), so nothing allocated
 *     after the termination is taken for dead. A span left unswept would
 *     hide objects from the next mark: the sweep cannot skip one.
 * Without dirty tracking (or GRUN_DEBUG=gcconcurrent=0) step 1 is skipped
 * and step 2 marks everything with the world stopped.
 *
 * Pacing (pace()): the goal is the heap kept after the sweep plus
 * GRUN_GCPERCENT% of the live heap (at least GOAL_MIN), capped under
 * GRUN_MEMLIMIT; the next cycle starts when the bytes out of mcentral reach
 * the trigger, a fraction of the way from the kept heap to the goal that
 * follows how far past the goal the last cycles ran (note_peak), so that a
 * cycle ends near its goal; quarantine also starts one at a quarter of the
 * live heap held; sysmon forces one every 2 minutes. A worker thread (not
 * a G: it must run while every G is stopped) runs the cycles. While it
 * marks, a thread refilling its cache checks the pacer's schedule
 * (behind(): the share of the runway to the goal allocated since the mark
 * began against the share of the expected mark work done) and assists by
 * marking up to ASSIST_BYTES when behind; past the goal it marks or waits
 * for the cycle's end (assist()).
 *
 * Conservative. No type information: any aligned 8-byte word in a root or
 * in a reached object that points into an allocated heap object marks it,
 * interior pointers included; a reached object is scanned over its whole
 * usable size (large objects: all their pages). One past the end: a word
 * equal to base + usable size is NOT a reference to that object; in a small
 * span it is the next object's base, and marks that one instead (if it is
 * allocated). The heap never returns a zero-size object (malloc(0) gets the
 * 8- or 16-byte class), so the "size 0" exception cannot arise.
 *
 * Roots: the threads of the stop (registers, xsave image, stack from sp,
 * red zone included; threads that are not Gs to the end of the mapping
 * holding sp, the rest of it left out); the caller's stack from its frame
 * (not at exit: the program never returns above exit()); every live G's
 * TCB and static TLS; every readable-writable mapping of the process
 * (module data and bss included) minus the heap arenas, the heap's
 * metadata and static cache heads, G stacks, the Ms' g0 and signal stacks
 * (dead frames only), the idle worker's stack, the stop's register
 * records and the collector's own buffers (object addresses that are not
 * references); kernel-held pointers (epoll_ctl data, timer_create values:
 * gr_gc_kroot_set). Other mappings are read with process_vm_readv on our
 * own pid, so a shared mapping past the end of its file, or a VM_IO/PFN
 * page, is an error (skipped and counted), never SIGBUS; [vvar],
 * [vsyscall] and device mappings are skipped; in a big private anonymous
 * mapping only the pages mincore reports resident are read.
 *
 * What the mark cannot see. A thread that did not stop (it blocks the
 * runtime signal or did not answer in time), a mapping list that could not
 * be read whole, a full kernel-root table: st.unsafe, and that cycle frees
 * nothing (collect) and releases nothing (quarantine). Pointers kept only
 * outside the process or hidden (XOR-ed) are not seen at all.
 *
 * Locks. gc_lock (a cycle, its results), then qlock and kr_lock, then
 * every heap lock (gr_heap_gc_lock_all), then the world. The collector
 * never allocates from the heap: its work area, mark stack and buffers
 * are mmap'd.
 */
#include "core/gc.h"
#include "shims/grun_debug.h"
#include "core/config.h"
#include "core/heap.h"
#include "core/dirty.h"
#include "core/allocsite.h"
#include "core/proc.h"
#include "core/realc.h"
#include "core/sig.h"
#include "core/stw.h"
#include "core/sys.h"
#include "core/tls.h"
#include "arch/x86_64/arch.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MSTACK_BYTES ((size_t)16 << 30)	/* reserved, NORESERVE */
#define MAPS_BYTES ((size_t)64 << 20)	/* /proc/self/smaps text */
#define RBUF_BYTES ((size_t)1 << 20)	/* process_vm_readv bounce buffer */
#define MAXRANGES 65536			/* excluded ranges */
#define MAXMODSEG 4096			/* writable module segments */
#define MAXPROT 8192			/* root ranges with dirty tracking */
#define MAXMAPS 65536			/* mappings (vm.max_map_count is 65530) */
#define REG_MIN ((uintptr_t)32 << 10)		/* smaller root ranges are rescanned whole */
#define RESIDENT_MIN ((uintptr_t)8 << 20)	/* the termination reads bigger anonymous ranges by mincore */
#define GOAL_MIN ((uint64_t)32 << 20)		/* the pacer's smallest goal */
#define LOCK_TRIES 2000			/* x 500 us */

struct range { uintptr_t lo, hi; };

/* Mark work shared between the worker and the assists: (base, size) pairs
 * in chunks (see the pool below). */
#define CHUNKW 1024			/* words: 512 objects */
#define NCHUNKS 16384			/* 128 MiB, reserved NORESERVE */
struct chunk {
	struct chunk *next;
	size_t n;			/* words used */
	uintptr_t e[CHUNKW];
};

/* The work area: one mapping, excluded from the roots. Sizes fixed. */
struct work {
	char rbuf[RBUF_BYTES];
	struct range excl[MAXRANGES];
	struct range mods[MAXMODSEG];
	struct range prot[MAXPROT];	/* root ranges write-protected this cycle */
	struct chunk chunks[NCHUNKS];
	char maps[MAPS_BYTES];
	struct range mr[MAXMAPS];	/* the mappings read_maps saw, in order (maps_find) */
	/* the mark stack follows, MSTACK_BYTES */
};

static struct gr_lock gc_lock;
static struct work *W;			/* gc_lock; mapped once */
static size_t worklen;			/* its length, mark stack included */
static int nexcl, nmods;
/* Quick rejection: [heap_lo1 + 1, heap_lo1 + 1 + heap_size). Kept off by
 * one: libgrun's data is a root, and the lowest arena's base there would
 * keep the object at that address alive. */
static uintptr_t heap_lo1, heap_size;
static bool on;				/* GRUN_GC asked for a collector */
static int mode = GR_GC_OFF;		/* GRUN_GC when on */

/* Objects to free once the world runs again: collect mode's garbage and
 * the quarantine's released objects. Reserved NORESERVE; gc_lock. */
#define SWEEP_CAP ((size_t)1 << 28)
static uintptr_t *sweepbuf;
static size_t nsweep;
static int64_t init_ns;
static _Atomic int64_t gc_ns_total;

/* Per-cycle statistics (gc_lock). */
static struct {
	uint64_t root_bytes, unread_bytes;
	uint64_t live_objects, live_bytes;	/* scanned from mark stacks: the worker's, then the assists' */
	uint64_t assist_bytes;			/* of those, by assists */
	uint64_t assist_wait_ns;		/* allocations waited for the cycle, in all */
	int unsure;
	int unsafe;		/* of those, misses that make freeing unsafe */
	int unstopped;
	uint64_t garbage_objects, garbage_bytes;	/* collect: queued to free */
	uint64_t qreleased_objects, qreleased_bytes;	/* quarantine: released */
	uint64_t quarantine_bytes;			/* quarantine: still held */
	bool sweep;		/* collect mode and nothing unsafe: queue the garbage */
} st;

#define MAXROUNDS 12	/* concurrent rescans of written pages */
#define ROUND_DONE 256		/* written pages a round may leave to the pause */
#define STRICT_PAGES 8192	/* a round after one that found fewer: every allocation waits */
static long rounds[MAXROUNDS];	/* written pages each round found (gctrace) */
static int nrounds;

/* The termination's phases (gctrace=2): when each ended, ns. */
enum { TP_STOP, TP_EXCL, TP_THREADS, TP_ROOTS, TP_HEAP, TP_DRAIN, TP_FREE, TP_SWEEP, NTP };
static const char *const tp_names[NTP] = { "stop", "exclusions", "threads", "roots", "heap", "drain", "free",
					   "sweep" };
static int64_t tp[NTP];
static struct gr_stw_times term_stw;	/* the termination's stop (stw.c) */
static struct gr_stw_times first_stw;	/* the first pause's */
static int64_t first_read_ns;		/* its reading of stacks and TLS */
#define TP(k) (tp[k] = gr_cfg.gctrace > 1 ? gr_nanotime() : 0)

/* Result of the last cycle, by size class (class 0: large objects). */
static struct gr_gc_result last;
static uint64_t last_cls_objects[GR_NCLASSES], last_cls_bytes[GR_NCLASSES];

/* --- marking ------------------------------------------------------------- */

/* A marker: one thread's share of the mark. The worker's (wk) has the big
 * mark stack; an assist's is a chunk on its own stack frame. Candidate
 * pointers go through two small FIFOs, each stage prefetching what the
 * next reads: first the page map's entry for the word (a 1 MiB table per
 * GiB of heap: a miss of its own on a large heap), then the span's header
 * and bits. Misses of many words overlap instead of following each
 * other. */
#define PQ 16
#define WQ 32
struct marker {
	uintptr_t *stk;			/* (base, size) pairs */
	size_t len, cap;		/* words */
	struct chunk *own;		/* an assist's: the chunk stk lives in */
	unsigned pq_head, pq_n;
	uintptr_t pq_w[PQ];
	struct gr_span *const *pq_p[PQ];
	unsigned wq_head, wq_n;
	uintptr_t wq_w[WQ];
	struct gr_span *wq_s[WQ];
	uint64_t bytes, objects;	/* scanned */
};
static struct marker wk;		/* the worker's; gc_lock */
static size_t mshigh;			/* its stack's high-water mark, words */
static _Atomic bool overflowed;		/* a marked object was not queued */

/* The pool: chunks of gray objects any marker may take. During the
 * concurrent mark (assists_on) the worker keeps a few chunks there, cut
 * from its stack; an assist (an allocating thread the pacer asks to help)
 * takes one, scans a bounded amount, and gives back what is left; the
 * worker's drain is over when its stack and the pool are empty and no
 * assist holds work (pool_busy). pool_lock is a leaf. */
static struct gr_lock pool_lock;
static struct chunk *pool_full, *pool_free;
static uint32_t pool_fresh;		/* chunks never used (W->chunks) */
static _Atomic uint32_t pool_n;		/* chunks on pool_full */
static _Atomic uint32_t pool_busy;	/* assists holding work */
static _Atomic bool assists_on;
static _Atomic uint64_t assist_bytes, assist_objects;
static _Atomic uint64_t assist_wait_ns;	/* assist(): time allocations spent in it */
static _Atomic uint32_t assist_waiting;	/* threads in assist()'s wait now */
static _Atomic uint64_t wk_progress;	/* the worker's scanned bytes, published by drain_m */
#define POOL_KEEP 4			/* chunks the worker keeps in the pool */

static struct chunk *chunk_new_locked(void)
{
	struct chunk *c = pool_free;
	if (c)
		pool_free = c->next;
	else if (pool_fresh < NCHUNKS)
		c = &W->chunks[pool_fresh++];
	return c;
}

static void chunk_free_locked(struct chunk *c)
{
	c->next = pool_free;
	pool_free = c;
}

static void pool_put_locked(struct chunk *c)
{
	c->next = pool_full;
	pool_full = c;
	atomic_fetch_add_explicit(&pool_n, 1, memory_order_relaxed);
}

static struct chunk *pool_take_locked(void)
{
	struct chunk *c = pool_full;
	if (c) {
		pool_full = c->next;
		atomic_fetch_sub_explicit(&pool_n, 1, memory_order_relaxed);
	}
	return c;
}

static void push(struct marker *m, uintptr_t base, uintptr_t size)
{
	if (unlikely(m->len + 2 > m->cap)) {
		struct chunk *c = NULL;
		if (m->own) {	/* an assist's chunk is full: to the pool, take another */
			gr_lock(&pool_lock);
			if ((c = chunk_new_locked()) != NULL) {
				m->own->n = m->len;
				pool_put_locked(m->own);
				m->own = c;
				m->stk = c->e;
				m->len = 0;
			}
			gr_unlock(&pool_lock);
		}
		if (!c) {
			atomic_store_explicit(&overflowed, true, memory_order_relaxed);
			return;	/* marked, not scanned: see rescan_marked */
		}
	}
	m->stk[m->len++] = base;
	m->stk[m->len++] = size;
	if (m == &wk && m->len > mshigh)
		mshigh = m->len;
}

/* Mark the object w points into (its span is s), if any; queue it for
 * scanning. Atomic: markers run in parallel, and a concurrent mark shares
 * the words with frees into transfer caches (gr_heap_gc_mark_tc_begin). */
static void markspan(struct marker *m, uintptr_t w, struct gr_span *s)
{
	if (s->state == SPAN_SMALL) {
		uint32_t idx = (uint32_t)(((uint64_t)(w - s->base) * s->divmul) >> 32);
		/* During a concurrent mark the span may change under us: stay
		 * inside its bit words whatever its fields say. */
		if (idx >= s->nelems || (idx >> 6) >= gr_span_bitwords(s))
			return;
		uint64_t bit = 1ull << (idx & 63);
		if (!(gr_span_allocbits(s)[idx >> 6] & bit))
			return;
		uint64_t *mb = &gr_span_markbits(s)[idx >> 6];
		if (__atomic_load_n(mb, __ATOMIC_RELAXED) & bit ||
		    __atomic_fetch_or(mb, bit, __ATOMIC_RELAXED) & bit)
			return;
		push(m, s->base + (uintptr_t)idx * s->elemsize, s->elemsize);
	} else if (s->state == SPAN_LARGE) {
		uint64_t *mb = gr_span_markbits(s);
		if (__atomic_load_n(mb, __ATOMIC_RELAXED) & 1 || __atomic_fetch_or(mb, 1, __ATOMIC_RELAXED) & 1)
			return;
		push(m, s->base, s->npages << GR_PAGESHIFT);
	}
}

/* The candidate FIFOs' indices: the oldest entry out, the next slot in. */
static inline unsigned ring_take(unsigned *head, unsigned *n, unsigned cap)
{
	unsigned i = *head;
	*head = (i + 1) % cap;
	(*n)--;
	return i;
}

static inline unsigned ring_put(unsigned head, unsigned *n, unsigned cap)
{
	return (head + (*n)++) % cap;
}

static inline void markword_s(struct marker *m, uintptr_t w, struct gr_span *s)
{
	if (!s)
		return;
	/* What markspan reads: one line up to 128 objects a span, two up
	 * to 256 (heap.h). */
	__builtin_prefetch(&s->base);
	__builtin_prefetch((const char *)&s->base + 64);
	if (m->wq_n == WQ) {
		unsigned i = ring_take(&m->wq_head, &m->wq_n, WQ);
		markspan(m, m->wq_w[i], m->wq_s[i]);
	}
	unsigned t = ring_put(m->wq_head, &m->wq_n, WQ);
	m->wq_w[t] = w;
	m->wq_s[t] = s;
}

static inline void markword_m(struct marker *m, uintptr_t w)
{
	if (w - 1 - heap_lo1 >= heap_size)
		return;
	struct gr_span *const *p = gr_heap_spanslot((void *)w);
	if (!p)
		return;
	__builtin_prefetch(p);
	if (m->pq_n == PQ) {
		unsigned i = ring_take(&m->pq_head, &m->pq_n, PQ);
		markword_s(m, m->pq_w[i], *m->pq_p[i]);
	}
	unsigned t = ring_put(m->pq_head, &m->pq_n, PQ);
	m->pq_w[t] = w;
	m->pq_p[t] = p;
}

static void wq_flush(struct marker *m)
{
	while (m->pq_n) {
		unsigned i = ring_take(&m->pq_head, &m->pq_n, PQ);
		markword_s(m, m->pq_w[i], *m->pq_p[i]);
	}
	while (m->wq_n) {
		unsigned i = ring_take(&m->wq_head, &m->wq_n, WQ);
		markspan(m, m->wq_w[i], m->wq_s[i]);
	}
}

/* Memory known to be mapped and readable: G stacks, heap objects. */
static void scan_direct_m(struct marker *m, uintptr_t lo, uintptr_t hi)
{
	lo = (lo + 7) & ~(uintptr_t)7;
	for (uintptr_t a = lo; a + 8 <= hi; a += 8)
		markword_m(m, *(const uintptr_t *)a);
}

/* The worker's: roots, rescans. */
static inline void markword(uintptr_t w) { markword_m(&wk, w); }
static void scan_direct(uintptr_t lo, uintptr_t hi) { scan_direct_m(&wk, lo, hi); }

static void scan_buf(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uintptr_t w;
		memcpy(&w, b + i, 8);
		markword(w);
	}
}

/* The worker keeps POOL_KEEP chunks in the pool: half its stack (up to a
 * chunk) when it has some to spare (a tree's depth-first stack stays
 * short). */
#define DONATE_MIN 64			/* words */
static void donate(struct marker *m)
{
	if (atomic_load_explicit(&pool_n, memory_order_relaxed) >= POOL_KEEP || m->len < DONATE_MIN)
		return;
	gr_lock(&pool_lock);
	struct chunk *c = chunk_new_locked();
	if (c) {
		size_t n = (m->len / 2) & ~(size_t)1;
		if (n > CHUNKW)
			n = CHUNKW;
		m->len -= n;
		memcpy(c->e, m->stk + m->len, n * sizeof(uintptr_t));
		c->n = n;
		pool_put_locked(c);
	}
	gr_unlock(&pool_lock);
}

/* Scan gray objects until m's stack is empty or budget bytes are scanned;
 * returns the bytes. Objects pass through a small FIFO on their way from
 * the stack to the scanner and are prefetched when they enter it (Boehm's
 * prefetch-on-gray): on a pointer-dense heap the mark is bound by cache
 * misses on the objects themselves. Candidates still in m's FIFO when the
 * budget runs out are pushed (wq_flush), not lost. */
#define PFRING 32

static uint64_t drain_m(struct marker *m, uint64_t budget)
{
	uintptr_t rb[PFRING], rs[PFRING];
	unsigned head = 0, cnt = 0, k = 0;
	uint64_t done = 0;
	bool share = m == &wk && atomic_load_explicit(&assists_on, memory_order_relaxed);
	for (;;) {
		if (!m->len && !cnt) {
			wq_flush(m);
			if (!m->len)
				break;
		}
		while (m->len && cnt < PFRING && done < budget) {
			uintptr_t size = m->stk[--m->len];
			uintptr_t base = m->stk[--m->len];
			__builtin_prefetch((const void *)base);
			unsigned t = (head + cnt) % PFRING;
			rb[t] = base;
			rs[t] = size;
			cnt++;
		}
		if (!cnt) {
			wq_flush(m);
			break;	/* the budget is spent */
		}
		uintptr_t base = rb[head], size = rs[head];
		head = (head + 1) % PFRING;
		cnt--;
		done += size;
		m->objects++;
		scan_direct_m(m, base, base + size);
		if (share && !(++k & 63)) {
			donate(m);
			atomic_store_explicit(&wk_progress, m->bytes + done, memory_order_relaxed);
		}
	}
	m->bytes += done;
	if (m == &wk)
		atomic_store_explicit(&wk_progress, m->bytes, memory_order_relaxed);
	return done;
}

/* The worker's drain: its stack, then the pool, until both are empty and
 * no assist holds work. */
static bool nodrain;		/* the first pause only queues what it finds */

static void drain(void)
{
	if (nodrain)
		return;
	for (;;) {
		drain_m(&wk, UINT64_MAX);
		if (!atomic_load_explicit(&pool_n, memory_order_acquire) &&
		    !atomic_load_explicit(&pool_busy, memory_order_acquire))
			return;
		gr_lock(&pool_lock);
		struct chunk *c = pool_take_locked();
		if (c) {
			if (wk.len + c->n <= wk.cap) {
				memcpy(wk.stk + wk.len, c->e, c->n * sizeof(uintptr_t));
				wk.len += c->n;
			} else {
				atomic_store(&overflowed, true);
			}
			chunk_free_locked(c);
		}
		bool busy = atomic_load(&pool_busy);
		gr_unlock(&pool_lock);
		if (!c && busy)
			gr_sys(SYS_sched_yield, 0, 0, 0);	/* an assist gives back what it has soon */
	}
}

/* A mark assist: an allocating thread scans up to ASSIST_BYTES of the
 * pool's gray objects and gives back what is left. False if there was
 * nothing to take. Never nested (a signal handler's malloc inside an
 * assist only waits). */
#define ASSIST_BYTES ((uint64_t)256 << 10)
static __thread bool in_assist;

static bool assist_mark(uint64_t budget)
{
	if (in_assist || !atomic_load_explicit(&assists_on, memory_order_acquire) ||
	    !atomic_load_explicit(&pool_n, memory_order_relaxed))
		return false;
	in_assist = true;
	gr_lock(&pool_lock);
	struct chunk *c = atomic_load(&assists_on) ? pool_take_locked() : NULL;
	if (c)
		atomic_fetch_add(&pool_busy, 1);
	gr_unlock(&pool_lock);
	if (!c) {
		in_assist = false;
		return false;
	}
	struct marker m = { .stk = c->e, .len = c->n, .cap = CHUNKW, .own = c };
	drain_m(&m, budget);
	gr_lock(&pool_lock);
	if (m.len) {
		m.own->n = m.len;
		pool_put_locked(m.own);
	} else {
		chunk_free_locked(m.own);
	}
	atomic_fetch_sub(&pool_busy, 1);
	gr_unlock(&pool_lock);
	atomic_fetch_add_explicit(&assist_bytes, m.bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&assist_objects, m.objects, memory_order_relaxed);
	in_assist = false;
	return true;
}

/* Before the termination stops the world: no assist may hold work. */
static void set_hard(uint64_t v);
static _Atomic uint64_t wait_at;
static void assists_stop(void)
{
	atomic_store(&assists_on, false);
	set_hard(atomic_load(&wait_at));
	gr_lock(&pool_lock);	/* an assist that saw it on has its chunk now */
	gr_unlock(&pool_lock);
	drain();
}

/* Memory that may fault (other mappings, module segments): copied in by
 * the kernel. Unreadable pages are skipped and counted. */
static int selfpid;	/* read at each cycle: a forked child has its own */

static long vmread(uintptr_t a, size_t n)
{
	int pid = selfpid;
	struct iovec li = { W->rbuf, n }, ri = { (void *)a, n };
	return gr_sys6(SYS_process_vm_readv, pid, (long)&li, 1, (long)&ri, 1, 0);
}

static void scan_copy_all(uintptr_t lo, uintptr_t hi);
static bool resident_only;	/* skip pages mincore says are absent (scan_mapping) */

/* With resident_only: only the runs of pages mincore reports resident. */
static void scan_copy(uintptr_t lo, uintptr_t hi)
{
	if (!resident_only) {
		scan_copy_all(lo, hi);
		return;
	}
	unsigned char vec[256];
	while (lo < hi) {
		uintptr_t plo = lo & ~(uintptr_t)4095;
		uintptr_t end = plo + sizeof vec * 4096;
		if (end > hi)
			end = hi;
		if (gr_sys(SYS_mincore, plo, end - plo, (long)vec) != 0) {
			scan_copy_all(lo, end);	/* unknown: read it */
			lo = end;
			continue;
		}
		size_t np = (end - plo + 4095) >> 12;
		for (size_t i = 0; i < np;) {
			if (!(vec[i] & 1)) {
				i++;
				continue;
			}
			size_t j = i;
			while (j < np && (vec[j] & 1))
				j++;
			uintptr_t a = plo + (i << 12), b = plo + (j << 12);
			if (a < lo)
				a = lo;
			if (b > end)
				b = end;
			scan_copy_all(a, b);
			i = j;
		}
		lo = end;
	}
}

/* Read [lo, hi) (at most RBUF_BYTES) and scan it; page by page where a
 * read fails or falls short (a page past a shared file's end, one unmapped
 * meanwhile). */
static void read_one(uintptr_t lo, uintptr_t hi)
{
	size_t n = hi - lo;
	long r = vmread(lo, n);
	if (r == (long)n) {
		scan_buf(W->rbuf, n);
		st.root_bytes += n;
		return;
	}
	while (lo < hi) {
		uintptr_t pe = (lo | 4095) + 1;
		if (pe > hi)
			pe = hi;
		r = vmread(lo, pe - lo);
		if (r > 0) {
			scan_buf(W->rbuf, (size_t)r & ~(size_t)7);
			st.root_bytes += (uint64_t)r;
		}
		if (r < (long)(pe - lo))
			st.unread_bytes += pe - lo - (r > 0 ? (uint64_t)r : 0);
		lo = pe;
	}
}

/* Reads of many small root ranges (a process's mappings are mostly a few
 * pages each) are batched between rq_begin and rq_end: one
 * process_vm_readv reads up to RQ_MAX ranges into the bounce buffer, a
 * system call instead of one each. The reads land after the call that
 * queued them, before rq_end returns: in a pause, before the restart. */
#define RQ_MAX 512
static struct iovec rq[RQ_MAX];
static size_t rq_n, rq_bytes;
static bool rq_on;

static void rq_flush(void)
{
	if (!rq_n)
		return;
	struct iovec li = { W->rbuf, rq_bytes };
	long r = gr_sys6(SYS_process_vm_readv, selfpid, (long)&li, 1, (long)rq, (long)rq_n, 0);
	size_t off = 0, i = 0;
	for (; i < rq_n && r >= (long)(off + rq[i].iov_len); i++) {
		scan_buf(W->rbuf + off, rq[i].iov_len);
		st.root_bytes += rq[i].iov_len;
		off += rq[i].iov_len;
	}
	/* The kernel stops at the first range it cannot read: that one and
	 * the rest one by one (the buffer's scanned part is free again). */
	for (; i < rq_n; i++)
		read_one((uintptr_t)rq[i].iov_base, (uintptr_t)rq[i].iov_base + rq[i].iov_len);
	rq_n = rq_bytes = 0;
	drain();
}

static void rq_begin(void)
{
	rq_on = true;
}

static void rq_end(void)
{
	rq_flush();
	rq_on = false;
}

static void scan_copy_all(uintptr_t lo, uintptr_t hi)
{
	lo = (lo + 7) & ~(uintptr_t)7;
	hi &= ~(uintptr_t)7;
	while (lo < hi) {
		size_t n = hi - lo < RBUF_BYTES ? hi - lo : RBUF_BYTES;
		if (rq_on) {
			if (rq_n == RQ_MAX || rq_bytes + n > RBUF_BYTES)
				rq_flush();
			rq[rq_n++] = (struct iovec){ (void *)lo, n };
			rq_bytes += n;
		} else {
			read_one(lo, lo + n);
			drain();
		}
		lo += n;
	}
}

static void mark_free(void *obj, void *arg)
{
	(void)arg;
	gr_span_mark_object(gr_heap_spanof(obj), obj);
}

/* After a mark stack overflow: scan every marked object again (Boehm's
 * recovery). Objects marked free are scanned too, which only keeps more
 * alive. Repeats until a round overflows no more. */
static void rescan_span(struct gr_span *s, void *arg)
{
	(void)arg;
	uint64_t *mb = gr_span_markbits(s);
	if (s->state == SPAN_LARGE) {
		if (mb[0] & 1)
			scan_direct(s->base, s->base + (s->npages << GR_PAGESHIFT));
	} else {
		for (uint32_t i = 0; i < s->nelems; i++)
			if (mb[i >> 6] & (1ull << (i & 63)))
				scan_direct(s->base + (uintptr_t)i * s->elemsize,
					    s->base + (uintptr_t)(i + 1) * s->elemsize);
	}
	drain();
}

static void rescan_marked(void)
{
	while (atomic_exchange(&overflowed, false)) {
		gr_heap_gc_foreach_span(rescan_span, NULL);
	}
}


/* --- roots ------------------------------------------------------------------ */

static struct range maps_find(uintptr_t a);
static void exclude(uintptr_t lo, uintptr_t hi);

/* Mark helpers: GRUN_DEBUG=gcworkers=N threads mark, the worker and N-1
 * helpers (default: a quarter of the Ps, at least 1, as Go's dedicated
 * workers). A helper takes the pool's chunks while assists_on, as an
 * assist with no budget; its stack is scrubbed before it sleeps, and its
 * registers and stack hold no program pointer: skipped by visit_thread. */
#define MAXHELPERS 63
static _Atomic int helper_tids[MAXHELPERS];
static _Atomic int nhelpers;
static _Atomic uint32_t helper_word;	/* futex: bumped as assists start */

static bool is_helper(int tid)
{
	int n = atomic_load(&nhelpers);
	for (int i = 0; i < n; i++)
		if (atomic_load(&helper_tids[i]) == tid)
			return true;
	return false;
}

static int worker_tid;			/* the collector's thread, once started */
static uintptr_t worker_sp_hint;	/* an address in its stack */
static uintptr_t worker_tp;		/* its thread pointer */
static _Atomic int ph_tid;		/* the pause helper's (below); 0: none (yet) */
static uintptr_t ph_sp_hint, ph_tp;	/* as the worker's */

/* Ms whose cache the termination may take whole (gr_heap_gc_take_free),
 * being sure they are not in the middle of a cache operation: stopped by
 * the signal while their G ran code outside libgrun (the heap never calls
 * out of libgrun half way through one, and a G does not leave its M
 * there) or waited in assist() (after its allocation), or their G is in a
 * system call (entered from a shim, never from the heap). Ms asleep are
 * the heap's business (gr_heap_cache_idle). */
static uint64_t quiet_m[GR_MAXMCACHE / 64];

static _Atomic uint8_t m_gcwait[GR_MAXMCACHE];	/* M id: its G waits in assist() */

static void note_quiet(const struct gr_stw_thread *t)
{
	struct gr_m *m = t->g ? t->g->m : NULL;
	if (!m || m->curg != t->g || m->id < 0 || m->id >= GR_MAXMCACHE)
		return;
	bool quiet = t->kind == STW_SYSCALL;
	if (t->kind == STW_SIGNALED && m->tid == t->tid)
		quiet = atomic_load_explicit(&m_gcwait[m->id], memory_order_relaxed) ||
			(t->nregs > REG_RIP && !gr_sig_pc_in_libgrun(t->regs[REG_RIP]));
	if (quiet)
		quiet_m[m->id >> 6] |= 1ull << (m->id & 63);
}

static bool is_quiet(uint32_t mid, void *arg)
{
	(void)arg;
	return quiet_m[mid >> 6] & (1ull << (mid & 63));
}

static void visit_thread(const struct gr_stw_thread *t, void *arg)
{
	(void)arg;
	/* The worker, stopped by a cycle another thread runs (a forced one,
	 * the exit's), is idle: waiting for work or for gc_lock. It holds no
	 * program pointer; its registers and stack only stale ones. */
	if (!t->g && ((worker_tid && t->tid == worker_tid) || is_helper(t->tid)))
		return;
	for (int i = 0; i < t->nregs; i++)
		markword(t->regs[i]);
	note_quiet(t);
	if (t->fpstate)
		scan_buf(t->fpstate, t->fpsize);
	if (t->kind == STW_UNSTOPPED) {
		st.unsure++;
		st.unsafe++;	/* its registers are unknown: free nothing */
		st.unstopped++;
		if (!t->g)
			return;	/* a foreign thread's stack: scanned in place (root 5) */
	}
	if (t->stack_hi > t->stack_lo && t->g) {
		st.root_bytes += t->stack_hi - t->stack_lo;
		scan_direct(t->stack_lo, t->stack_hi);
	} else if (t->stack_hi > t->stack_lo) {
		scan_copy(t->stack_lo, t->stack_hi);	/* its end from maps_find: maybe stale */
	}
	/* A thread that is not a G was read from sp to the end of the mapping
	 * holding sp (stw.c); below sp that mapping is dead stack, but only the
	 * initial thread's [stack] is sure to be its own: adjacent anonymous
	 * mappings merge into one (a raw clone's stack beside an M's, whose
	 * TCB and glibc dtv sit below the other's sp), so any other is left to
	 * the mapping walk whole (stale words keep objects alive, never free
	 * live ones). */
	if (!t->g && t->kind == STW_SIGNALED && t->tid == selfpid) {
		struct range r = maps_find(t->stack_lo + 128);
		exclude(r.lo, r.hi);
	}
	if (!nodrain)
		drain();
}

static void exclude(uintptr_t lo, uintptr_t hi)
{
	if (hi <= lo)
		return;
	if (nexcl >= MAXRANGES) {
		st.unsure++;	/* scanning more is safe, only slower and less exact */
		return;
	}
	W->excl[nexcl].lo = lo;
	W->excl[nexcl].hi = hi;
	nexcl++;
}

static void exclude_meta(uintptr_t lo, uintptr_t hi, void *arg)
{
	(void)arg;
	exclude(lo, hi);
}

/* Sort by lo and merge overlapping ranges; returns the new count. */
static int sort_ranges(struct range *r, int n)
{
	/* Shell sort by lo: no libc (qsort may allocate). */
	for (int gap = n / 2; gap > 0; gap /= 2)
		for (int i = gap; i < n; i++) {
			struct range x = r[i];
			int j = i;
			for (; j >= gap && r[j - gap].lo > x.lo; j -= gap)
				r[j] = r[j - gap];
			r[j] = x;
		}
	int m = 0;
	for (int i = 0; i < n; i++) {
		if (m && r[i].lo <= r[m - 1].hi) {
			if (r[i].hi > r[m - 1].hi)
				r[m - 1].hi = r[i].hi;
		} else {
			r[m++] = r[i];
		}
	}
	return m;
}

static void protect_root(uintptr_t lo, uintptr_t hi);

/* In r[0..n), sorted and disjoint: the first range ending after a (n if
 * none), by binary search. */
static int first_ending_after(const struct range *r, int n, uintptr_t a)
{
	int lo = 0, hi = n;
	while (lo < hi) {
		int m = (lo + hi) / 2;
		if (r[m].hi <= a)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

/* Scan [lo, hi) minus the excluded ranges (sorted); during a concurrent
 * mark, big pieces are write-protected just before they are read. Without
 * read, only protected. */
static void each_unexcluded(uintptr_t lo, uintptr_t hi, bool read)
{
	for (int i = first_ending_after(W->excl, nexcl, lo); i < nexcl && lo < hi; i++) {
		if (W->excl[i].hi <= lo)
			continue;
		if (W->excl[i].lo >= hi)
			break;
		if (W->excl[i].lo > lo) {
			protect_root(lo, W->excl[i].lo);
			if (read)
				scan_copy(lo, W->excl[i].lo);
		}
		if (W->excl[i].hi > lo)
			lo = W->excl[i].hi;
	}
	if (lo < hi) {
		protect_root(lo, hi);
		if (read)
			scan_copy(lo, hi);
	}
}

static void scan_minus_excluded(uintptr_t lo, uintptr_t hi)
{
	each_unexcluded(lo, hi, true);
}

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || !ph->p_memsz)
			continue;
		if (nmods >= MAXMODSEG)
			return 1;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		W->mods[nmods].lo = lo;
		W->mods[nmods].hi = lo + ph->p_memsz;
		nmods++;
	}
	return 0;
}

static uintptr_t hex(const char **pp)
{
	const char *p = *pp;
	uintptr_t v = 0;
	for (;; p++) {
		int c = *p;
		if (c >= '0' && c <= '9')
			v = v * 16 + (uintptr_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uintptr_t)(c - 'a' + 10);
		else
			break;
	}
	*pp = p;
	return v;
}

/* /proc/self/smaps or /proc/self/maps into W->maps. A list that cannot be
 * read whole misses mappings: unsafe to free. */
static size_t read_proc_maps(const char *path)
{
	int fd = (int)gr_open_runtime(path, 0);
	if (fd < 0) {
		st.unsure++;
		st.unsafe++;	/* no other mapping scanned */
		W->maps[0] = 0;
		return 0;
	}
	size_t n = 0;
	long r;
	while (n < MAPS_BYTES - 1 && (r = gr_sys(SYS_read, fd, (long)(W->maps + n), MAPS_BYTES - 1 - n)) > 0)
		n += (size_t)r;
	if (n >= MAPS_BYTES - 1) {
		st.unsure++;	/* truncated: mappings missed */
		st.unsafe++;
	}
	gr_sys(SYS_close, fd, 0, 0);
	W->maps[n] = 0;
	return n;
}

/* /proc/self/smaps into W->maps, and its mappings into W->mr. */
static bool is_header(const char *p);
static const char *next_line(const char *p);
static int nmr;
static size_t read_maps(void)
{
	size_t n = read_proc_maps("/proc/self/smaps");
	nmr = 0;
	for (const char *p = W->maps; *p && nmr < MAXMAPS; p = next_line(p)) {
		if (!is_header(p))
			continue;
		const char *q = p;
		W->mr[nmr].lo = hex(&q);
		q++;
		W->mr[nmr++].hi = hex(&q);
	}
	return n;
}

/* smaps: a header line per mapping ("lo-hi perms offset dev inode path",
 * lowercase hex first), then "Key: value" lines (uppercase first). */
static bool is_header(const char *p)
{
	return (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f');
}

static const char *next_line(const char *p)
{
	while (*p && *p != '\n')
		p++;
	return *p ? p + 1 : p;
}

/* For stw.c (gr_stw_mapping_end_fn) during a cycle. */
static uintptr_t stw_mapping_end(uintptr_t a)
{
	return maps_find(a).hi;
}

/* The mapping holding a, as the last read_maps saw it ({0, 0}: none). */
static struct range maps_find(uintptr_t a)
{
	int lo = first_ending_after(W->mr, nmr, a);
	if (lo < nmr && W->mr[lo].lo <= a)
		return W->mr[lo];
	return (struct range){ 0, 0 };
}

static bool skip_path(const char *path, size_t len)
{
	if (len >= 6 && path[0] == '[' &&
	    (strncmp(path, "[vvar", 5) == 0 || strncmp(path, "[vsyscall]", 10) == 0))
		return true;
	if (len >= 5 && strncmp(path, "/dev/", 5) == 0)
		return !(strncmp(path, "/dev/zero", 9) == 0 || strncmp(path, "/dev/shm/", 9) == 0);
	return false;
}

static bool is_anon_path(const char *path, size_t len)
{
	return len == 0 || strncmp(path, "[heap]", 6) == 0 || strncmp(path, "[stack", 6) == 0 ||
	       strncmp(path, "[anon:", 6) == 0;
}

static bool conc_phase;		/* marking concurrently (see the concurrent mark) */

struct mapping {
	uintptr_t lo, hi;
	bool rw, skip, anon;
	bool special;		/* VmFlags io (VM_IO) or pf (VM_PFNMAP) */
	uint64_t rss_kb, swap_kb;
};

static uint64_t kb_value(const char *p)
{
	while (*p && *p != ':')
		p++;
	if (*p)
		p++;
	while (*p == ' ')
		p++;
	uint64_t v = 0;
	for (; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	return v;
}

static bool has_flag(const char *p, const char *f)
{
	/* "VmFlags: rd wr mr mw me ac sd " */
	for (p += 8; *p && *p != '\n'; p++)
		if (p[0] == ' ' && p[1] == f[0] && p[2] == f[1] && (p[3] == ' ' || p[3] == '\n'))
			return true;
	return false;
}

static void scan_mapping(const struct mapping *m)
{
	if (!m->rw || m->skip || m->special)
		return;
	if (m->rss_kb + m->swap_kb == 0) {
		/* Nothing populated: nothing to read. The termination reads
		 * what is there by then; anonymous memory up to the size it
		 * would read whole, by its written pages. */
		if (m->anon && m->hi - m->lo <= RESIDENT_MIN)
			each_unexcluded(m->lo, m->hi, false);
		return;
	}
	/* Private anonymous memory with nothing swapped out: a page that is
	 * not resident was never written, so it holds no pointer. Big
	 * NORESERVE reservations cost only their resident pages then. */
	resident_only = m->anon && m->swap_kb == 0 && ((m->hi - m->lo) >> 10) > 2 * m->rss_kb;
	scan_minus_excluded(m->lo, m->hi);
	resident_only = false;
}

static void scan_maps(const char *text)
{
	struct mapping m = { 0 };
	bool have = false;
	rq_begin();
	for (const char *p = text; *p; p = next_line(p)) {
		if (!is_header(p)) {
			if (!have)
				continue;
			if (strncmp(p, "Rss:", 4) == 0)
				m.rss_kb = kb_value(p);
			else if (strncmp(p, "Swap:", 5) == 0)
				m.swap_kb = kb_value(p);
			else if (strncmp(p, "VmFlags:", 8) == 0)
				m.special = has_flag(p, "io") || has_flag(p, "pf");
			continue;
		}
		if (have)
			scan_mapping(&m);
		memset(&m, 0, sizeof m);
		have = true;
		const char *q = p;
		m.lo = hex(&q);
		q++;
		m.hi = hex(&q);
		q++;
		m.rw = q[0] == 'r' && q[1] == 'w';
		/* perms offset dev inode path */
		for (int field = 0; *q && *q != '\n' && field < 4; field++) {
			while (*q && *q != ' ' && *q != '\n')
				q++;
			while (*q == ' ')
				q++;
		}
		const char *path = q;
		while (*q && *q != '\n')
			q++;
		size_t plen = (size_t)(q - path);
		m.skip = skip_path(path, plen);
		m.anon = is_anon_path(path, plen);
		/* The initial thread's stack while it is no G: below its sp it
		 * is dead, and only a stop tells where sp is. The termination
		 * reads it from there (visit_thread). */
		if (conc_phase && plen >= 7 && strncmp(path, "[stack]", 7) == 0 &&
		    !atomic_load(&gr_sched.started))
			m.skip = true;
	}
	if (have)
		scan_mapping(&m);
	rq_end();
}

/* The collector's frame spills the caller's callee-saved registers at
 * regs (gr_gc_collect): scan from there to the top of the caller's stack. */
static bool exiting;	/* the exit-time cycle (gr_gc_atexit) */

static void scan_self(uintptr_t sp)
{
	struct gr_g *g = gr_curg;
	uintptr_t top;
	if (g && g->stack_hi && sp >= (uintptr_t)g->stack_lo && sp < (uintptr_t)g->stack_hi) {
		top = (uintptr_t)g->stack_hi;
	} else {
		struct range r = maps_find(sp);
		top = r.hi;
		exclude(r.lo, r.hi);	/* not scanned whole in root 5 */
	}
	/* At exit the caller's frames are exit()'s and the handlers': the
	 * program never returns to what lies above (and main's dead frames
	 * under them leave stale copies in their slots). Not a root then:
	 * leak mode reports what the program lost, exactly. */
	if (top > sp && !exiting) {
		st.root_bytes += top - sp;
		scan_direct(sp, top);
	}
	drain();
}

static void scan_g_tls(void)
{
	rq_begin();	/* dead Gs' words: one read for all */
	for (struct gr_g *g = gr_allg; g; g = g->allnext) {
		int s = atomic_load(&g->status);
		if (s == G_DEAD || s == G_IDLE) {
			/* A dead G's TCB waits in the stack cache with its DTV
			 * (malloc'd by ld.so, tcbhead_t.dtv at tp + 8) for reuse:
			 * runtime data, a root. Only that word: the dead
			 * thread's __thread values are garbage. The mapping
			 * may be gone: read it safely. */
			if (g->tp && !g->is_main)
				scan_copy_all((uintptr_t)g->tp + 8, (uintptr_t)g->tp + 16);
			continue;
		}
		if (g->is_main) {
			if (g->tp)
				scan_copy((uintptr_t)g->tp - gr_tls.static_size, (uintptr_t)g->tp + gr_tls.sizeof_pthread);
			continue;
		}
		if (g->map_top && (uintptr_t)g->map_top > (uintptr_t)g->stack_hi) {
			st.root_bytes += (uintptr_t)g->map_top - (uintptr_t)g->stack_hi;
			scan_direct((uintptr_t)g->stack_hi, (uintptr_t)g->map_top);
			if (!nodrain)
				drain();
		}
	}
	rq_end();
}

/* The initial thread before the scheduler starts has no G: its TLS. */
static void scan_initial_tls(void)
{
	if (gr_sched.g1 || !gr_tls.sizeof_pthread)
		return;
	uintptr_t tp = (uintptr_t)gr_arch_get_tp();
	scan_copy(tp - gr_tls.static_size, tp + gr_tls.sizeof_pthread);
}

/* A collector thread's stack (see visit_thread), not its TCB and TLS above
 * it: glibc's dtv there is a heap object. */
static void exclude_own_stack(uintptr_t sp_hint, uintptr_t tp)
{
	if (!sp_hint)
		return;
	uintptr_t tls_lo = tp - gr_tls.static_size;
	struct range r = maps_find(sp_hint);
	if (r.lo < tls_lo && tls_lo < r.hi)
		exclude(r.lo, tls_lo & ~(uintptr_t)63);
}

/* The Ms' g0 stacks hold dead frames only (the scheduler keeps no heap
 * pointer: a G's state is on its own stack; an M on g0 is not stopped but
 * blocks on the heap locks a cycle holds). Each lies below its M's TCB and
 * static TLS, in the mapping the TCB is in; the TLS above it stays a root
 * (glibc's dtv there may point into the heap). Needs read_maps's index. */
static void exclude_g0_stacks(void)
{
	exclude_own_stack(worker_sp_hint, worker_tp);
	if (atomic_load(&ph_tid))
		exclude_own_stack(ph_sp_hint, ph_tp);
	for (struct gr_m *m = gr_allm; m; m = m->allnext) {
		if (!m->tcb || m->is_sysmon)
			continue;
		uintptr_t tp = (uintptr_t)m->tcb, tls_lo = tp - gr_tls.static_size;
		struct range r = maps_find(tp - 1);
		if (r.lo && r.lo < tls_lo && tls_lo < r.hi)
			exclude(r.lo, tls_lo & ~(uintptr_t)63);
	}
}

static void exclude_gstacks(void)
{
	for (struct gr_g *g = gr_allg; g; g = g->allnext) {
		if (g->user_stack)
			continue;	/* program memory: scanned as it lies */
		int st_ = atomic_load(&g->status);
		if ((st_ == G_DEAD || st_ == G_IDLE) && !g->tp)
			continue;	/* its stack was unmapped: the range may be anyone's now */
		if (g->map_base)
			exclude((uintptr_t)g->map_base, (uintptr_t)g->map_base + g->map_size);
		else if (g->is_main && g->stack_lo)
			exclude((uintptr_t)g->stack_lo, (uintptr_t)g->stack_hi);
	}
}

/* --- modes: the sweep buffer, the quarantine, kernel-held roots ------------ */


static void *reserve(size_t bytes)
{
	void *p = gr_mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == (void *)-1 ? NULL : p;
}

/* The bits and size of the object at a (an object base), in span s. */
static bool objbits(struct gr_span *s, uintptr_t a, uint64_t **mb, uint64_t *bit, size_t *size)
{
	if (s->state == SPAN_LARGE) {
		if (a != s->base)
			return false;
		*mb = gr_span_markbits(s);
		*bit = 1;
		*size = s->npages << GR_PAGESHIFT;
		return true;
	}
	if (s->state != SPAN_SMALL)
		return false;
	uint32_t idx = (uint32_t)(((uint64_t)(a - s->base) * s->divmul) >> 32);
	if (idx >= s->nelems || s->base + (uintptr_t)idx * s->elemsize != a)
		return false;
	*mb = &gr_span_markbits(s)[idx >> 6];
	*bit = 1ull << (idx & 63);
	*size = s->elemsize;
	return true;
}

/* Quarantine (GRUN_GC=quarantine). free() appends the object here instead
 * of freeing it; the object stays allocated for the heap. A cycle marks
 * from the roots as usual (a quarantined object is not a root); then a
 * quarantined object nothing reached goes to the sweep buffer and is
 * freed for real, and one that was reached stays, reported once as a
 * possible dangling pointer (conservative: an integer can look like a
 * pointer). The object's first word is overwritten with a tag (its
 * address ^ QMAGIC), so a second free() of it is recognized as a double
 * free and ignored. */
#define QCAP ((size_t)1 << 27)
#define QMAGIC 0x9e3779b97f4a7c15ull
#define Q_REPORTED 1u	/* in p's low bits: objects are 8-byte aligned */
#define Q_LATE 2u	/* freed while a cycle marked: if marked, judged by the next one */
static _Atomic bool marking;		/* a cycle is marking (until its restart) */
struct qent {
	uintptr_t p;
	uint32_t size;		/* usable bytes, saturated */
	uint32_t freesite;	/* where free() was called, if the object was sampled */
};
static struct qent *qbuf;
static size_t qlen;			/* qlock */
static size_t qterm;			/* entries older than the last termination */
static struct gr_lock qlock;
static _Atomic uint64_t qbytes, qobjects, q_overflow, q_doublefree, dangling_total;
#define QLIMIT_MIN ((uint64_t)16 << 20)
static _Atomic uint64_t qlimit = QLIMIT_MIN;	/* bytes that start a cycle */

/* Per-M batches of quarantined objects: free() appends to its M's own
 * (no lock, no shared counter), a full one goes to qbuf at once. One
 * reservation for every M id, excluded from the roots as qbuf is. The
 * owner appends (a G does not leave its M inside libgrun); the collector
 * takes them into qbuf with the world stopped, unless the owner was
 * stopped while busy with its batch. */
#define QLOCAL 254
struct qlocal {
	_Atomic uint32_t n;
	_Atomic uint32_t busy;	/* the owner is appending or flushing */
	uint64_t bytes;
	struct qent e[QLOCAL];
};
static struct qlocal *_Atomic qloc;	/* [GR_MAXMCACHE], reserved on first use */

static struct qlocal *local_q(void)
{
	struct gr_g *g = gr_curg;
	struct gr_m *m = g ? g->m : gr_curm;
	if (!m || (uint64_t)m->id >= GR_MAXMCACHE)
		return NULL;
	struct qlocal *all = atomic_load_explicit(&qloc, memory_order_acquire);
	if (!all) {
		struct qlocal *fresh = reserve(GR_MAXMCACHE * sizeof *fresh);
		if (!fresh)
			return NULL;
		if (!atomic_compare_exchange_strong(&qloc, &all, fresh))
			gr_sys(SYS_munmap, (long)fresh, (long)(GR_MAXMCACHE * sizeof *fresh), 0);
		else
			all = fresh;
	}
	return &all[m->id];
}

/* What an entry holds, for the quarantine's limit: a large object gives
 * its pages back when it enters (quarantine()) and keeps one. */
static uint64_t qcost(uint64_t size)
{
	return size > GR_MAXSMALL ? 4096 : size;
}

/* Append n entries (bytes in all) to qbuf; what does not fit is freed. */
/* qlock held: append the first of n entries that fit to qbuf and count
 * them (bytes: the size of all n). Returns how many fit; the count of
 * bytes held afterwards in *held. */
static uint32_t qappend_locked(const struct qent *e, uint32_t n, uint64_t bytes, uint64_t *held)
{
	if (!qbuf)
		qbuf = reserve(QCAP * sizeof *qbuf);
	uint32_t k = !qbuf ? 0 : qlen + n <= QCAP ? n : (uint32_t)(QCAP - qlen);
	for (uint32_t i = k; i < n; i++)
		bytes -= qcost(e[i].size);
	if (!k) {
		*held = atomic_load_explicit(&qbytes, memory_order_relaxed);
		return 0;
	}
	memcpy(qbuf + qlen, e, k * sizeof *e);
	qlen += k;
	atomic_fetch_add_explicit(&qobjects, k, memory_order_relaxed);
	*held = atomic_fetch_add_explicit(&qbytes, bytes, memory_order_relaxed) + bytes;
	return k;
}

static void qappend(const struct qent *e, uint32_t n, uint64_t bytes)
{
	uint64_t held;
	gr_lock(&qlock);
	uint32_t k = qappend_locked(e, n, bytes, &held);
	gr_unlock(&qlock);
	for (uint32_t i = k; i < n; i++) {
		atomic_fetch_add(&q_overflow, 1);
		gr_allocsite_free((void *)(e[i].p & ~(uintptr_t)Q_LATE));
		gr_heap_free_now((void *)(e[i].p & ~(uintptr_t)Q_LATE));
	}
	if (k && held >= atomic_load_explicit(&qlimit, memory_order_relaxed))
		gr_gc_wake(GC_WHY_QUARANTINE);
}

static void quarantine(void *p, struct gr_span *s)
{
	uintptr_t a = (uintptr_t)p;
	uint64_t *mb, bit;
	size_t size;
	if (!objbits(s, a, &mb, &bit, &size)) {
		gr_allocsite_free(p);
		gr_heap_free_now(p);	/* the heap reports the invalid pointer */
		return;
	}
	uint64_t *w = p;
	if (w[0] == (a ^ QMAGIC)) {
		if (atomic_fetch_add(&q_doublefree, 1) < 16)
			gr_printf("libgrun: double free of %p (%llu bytes), ignored (GRUN_GC=quarantine)\n", p,
				  (unsigned long long)size);
		return;
	}
	/* The free site, for a dangling-pointer report: only for a sampled
	 * object (an unwind per free would be the cost of allocsample=1). */
	uint32_t freesite = gr_allocsite_of(a) ? gr_allocsite_capture(0) : 0;
	w[0] = a ^ QMAGIC;
	/* Cleared, as MarkUs does: a freed object that is still referenced
	 * must not keep what it pointed to alive (chains of stale pointers
	 * would hold everything freed). A large one gives its pages back. */
	if (s->state != SPAN_LARGE) {
		memset(w + 1, 0, size - 8);
	} else {
		memset(w + 1, 0, 4096 - 8);
		gr_sys(SYS_madvise, (long)(a + 4096), (long)(size - 4096), MADV_DONTNEED);
	}
	/* Freed while a cycle marks: the mark may have reached it before the
	 * free, and then says nothing of what refers to it now. */
	uintptr_t late = atomic_load_explicit(&marking, memory_order_relaxed) ? Q_LATE : 0;
	struct qent e = { a | late, size > UINT32_MAX ? UINT32_MAX : (uint32_t)size, freesite };
	struct qlocal *q = local_q();
	if (!q) {
		qappend(&e, 1, qcost(e.size));
		return;
	}
	/* Only the collector reads the batch, with this thread stopped (the
	 * stop handler's acknowledgement publishes these stores): program
	 * order is enough, no fence on free()'s path. */
	atomic_store_explicit(&q->busy, 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	uint32_t n = atomic_load_explicit(&q->n, memory_order_relaxed);
	q->e[n] = e;
	q->bytes += qcost(e.size);
	if (n + 1 == QLOCAL) {
		qappend(q->e, QLOCAL, q->bytes);
		q->bytes = 0;
		n = -1u;
	}
	atomic_signal_fence(memory_order_seq_cst);
	atomic_store_explicit(&q->n, n + 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	atomic_store_explicit(&q->busy, 0, memory_order_relaxed);
}

/* The world is stopped, qlock held: the per-M batches go to qbuf, to be
 * judged by this mark. A batch whose owner was stopped in the middle of
 * it stays; its objects are marked (freed by the program, not leaked) and
 * judged by a later cycle. So does every batch when a thread did not stop
 * (st.unsafe): its owner may be appending to it now. */
static void qlocal_take(void)
{
	struct qlocal *all = atomic_load(&qloc);
	for (struct gr_m *m = gr_allm; all && m; m = m->allnext) {
		if ((uint64_t)m->id >= GR_MAXMCACHE)
			continue;
		struct qlocal *q = &all[m->id];
		uint32_t n = atomic_load(&q->n);
		if (n > QLOCAL)
			continue;
		if (atomic_load(&q->busy) || st.unsafe || !qbuf || qlen + n > QCAP) {
			for (uint32_t k = 0; k < n; k++)
				mark_free((void *)(q->e[k].p & ~(uintptr_t)Q_LATE), NULL);
			continue;
		}
		uint64_t held;
		qappend_locked(q->e, n, q->bytes, &held);
		q->bytes = 0;
		atomic_store(&q->n, 0);
	}
}

/* Dangling pointers found by a cycle, printed after the world restarts. */
#define NDANGLE 32
static struct { uintptr_t p; uint32_t size, allocsite, freesite; } dangle[NDANGLE];
static int ndangle;

/* World stopped, mark done: release what nothing reached. */
static void quarantine_sweep(void)
{
	size_t k = 0;
	uint64_t bytes = 0;
	for (size_t i = 0; i < qlen; i++) {
		struct qent e = qbuf[i];
		uintptr_t obj = e.p & ~(uintptr_t)(Q_REPORTED | Q_LATE);
		if (i >= qterm) {
			/* Freed since the termination: live then, judged next time. */
			bytes += qcost(e.size);
			qbuf[k++] = e;
			continue;
		}
		struct gr_span *s = gr_heap_spanof((void *)obj);
		uint64_t *mb, bit;
		size_t size;
		if (!s || !objbits(s, obj, &mb, &bit, &size))
			continue;	/* cannot happen: it stayed allocated */
		if ((*mb & bit) && (e.p & Q_LATE)) {
			/* Freed while this cycle marked: the mark may have reached
			 * it before the free. Judged by the next cycle. (Unmarked,
			 * it is released below: nothing read before the free
			 * pointed to it, and a copy made after would have been
			 * written somewhere read again.) */
			e.p &= ~(uintptr_t)Q_LATE;
		} else if (*mb & bit) {
			if (!(e.p & Q_REPORTED)) {
				e.p |= Q_REPORTED;
				atomic_fetch_add(&dangling_total, 1);
				if (ndangle < NDANGLE) {
					dangle[ndangle].p = ~obj;	/* not a root */
					dangle[ndangle].size = e.size;
					dangle[ndangle].allocsite = gr_allocsite_of(obj);
					dangle[ndangle].freesite = e.freesite;
					ndangle++;
				}
			}
		} else {
			/* Not a leak: the program freed it. (Atomic: an allocation
			 * from an unswept span sets bits of the same word.) */
			atomic_fetch_or_explicit((_Atomic uint64_t *)mb, bit, memory_order_relaxed);
			if (!st.unsafe && nsweep < SWEEP_CAP) {
				sweepbuf[nsweep++] = obj;
				st.qreleased_objects++;
				st.qreleased_bytes += size;
				continue;
			}
		}
		bytes += qcost(size);
		qbuf[k++] = e;
	}
	st.quarantine_bytes = bytes;
	qlen = k;
	atomic_store(&qobjects, k);
	atomic_store(&qbytes, bytes);
}

/* Kernel-held roots: an open-addressing table (linear probing, deletion
 * by backward shift) in its own mapping; kr_lock. */
#define KR_CAP 65536
struct kroot {
	uint64_t key;		/* 0: empty */
	uintptr_t val;
};
static struct kroot *kr;
static uint32_t kr_n;
static bool kr_lost;		/* full once: some kernel-held pointer unknown */
static struct gr_lock kr_lock;

static uint32_t kr_hash(uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (uint32_t)key & (KR_CAP - 1);
}

void gr_gc_kroot_set(uint64_t key, uintptr_t val)
{
	if (!on)
		return;
	gr_lock(&kr_lock);
	if (!kr)
		kr = reserve(KR_CAP * sizeof *kr);
	if (!kr) {
		kr_lost = true;
		gr_unlock(&kr_lock);
		return;
	}
	uint32_t i = kr_hash(key);
	while (kr[i].key && kr[i].key != key)
		i = (i + 1) & (KR_CAP - 1);
	if (!kr[i].key) {
		if (kr_n >= KR_CAP * 3 / 4) {
			kr_lost = true;
			gr_unlock(&kr_lock);
			return;
		}
		kr_n++;
		kr[i].key = key;
	}
	kr[i].val = val;
	gr_unlock(&kr_lock);
}

void gr_gc_kroot_del(uint64_t key)
{
	if (!on)
		return;
	gr_lock(&kr_lock);
	if (!kr) {
		gr_unlock(&kr_lock);
		return;
	}
	uint32_t i = kr_hash(key);
	while (kr[i].key && kr[i].key != key)
		i = (i + 1) & (KR_CAP - 1);
	if (kr[i].key) {
		kr_n--;
		/* Backward shift: pull later entries of the run into the hole. */
		uint32_t j = i;
		for (;;) {
			kr[i].key = 0;
			for (;;) {
				j = (j + 1) & (KR_CAP - 1);
				if (!kr[j].key)
					goto out;
				uint32_t h = kr_hash(kr[j].key);
				/* Stays if its home lies cyclically in (i, j]. */
				if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
					continue;
				break;
			}
			kr[i] = kr[j];
			i = j;
		}
	}
out:
	gr_unlock(&kr_lock);
}

static void scan_kroots(void)
{
	if (kr_lost)
		st.unsafe++;
	if (!kr)
		return;
	for (uint32_t i = 0; i < KR_CAP; i++)
		if (kr[i].key)
			markword(kr[i].val);
	drain();
}

/* The quarantine's and the kernel roots' locks, after a cycle. */
static void extra_unlock(void)
{
	gr_unlock(&kr_lock);
	gr_unlock(&qlock);
	gr_unlock(&gr_newm_lock);
}

/* --- pauses, pacing, the worker ------------------------------------------------ */

#define NPAUSEB 24		/* histogram: bucket b holds pauses < 2^b us */
static struct {
	uint64_t n, total_ns, max_ns;
	uint64_t buckets[NPAUSEB];
	uint64_t freed_objects, freed_bytes;	/* collect, all cycles */
	uint64_t goal;
} pz;

static void note_pause(int64_t ns)
{
	pz.n++;
	pz.total_ns += (uint64_t)ns;
	if ((uint64_t)ns > pz.max_ns)
		pz.max_ns = (uint64_t)ns;
	int b = 0;
	while (b < NPAUSEB - 1 && (uint64_t)ns >= (1000ull << b))
		b++;
	pz.buckets[b]++;
}

/* After a cycle: the heap size that starts the next one. Go's goal is the
 * live heap times 1 + GOGC/100; here the measure is pages in use, which
 * also holds fragmentation (and, in leak mode, the leaks), so the goal
 * grows from what is in use after the sweep by GOGC% of the live heap. */
static double trig_ratio = 0.7;	/* see pace() and note_peak() */

static void pace(uint64_t live, uint64_t inuse_after)
{
	uint64_t goal;
	if (gr_cfg.gcpercent < 0) {
		goal = UINT64_MAX;
	} else {
		uint64_t base = inuse_after > live ? inuse_after : live;
		goal = base + live / 100 * (uint64_t)gr_cfg.gcpercent;
		/* Go's floor is 4 MiB; a cycle here has a fixed cost of a few
		 * milliseconds (the mapping list, protecting the heap), so the
		 * floor is higher: small heaps cycle less often. */
		if (goal < GOAL_MIN)
			goal = GOAL_MIN;
	}
	uint64_t limit = gr_cfg.memlimit;
	if (limit) {
		/* The soft limit: start before it is reached, but not in a
		 * loop when the live heap alone is that big. */
		uint64_t cap = limit - limit / 16;
		uint64_t floor = inuse_after + limit / 32;
		if (cap < goal)
			goal = cap > floor ? cap : floor;
	}
	/* Quarantine: a cycle when it holds a quarter of the live heap, and
	 * at least 16 MiB (each cycle costs milliseconds; MarkUs's 25%). What
	 * it holds is in use for the heap too: the heap's goal makes room for
	 * it, or the heap trigger would fire first, at half the quarantine. */
	uint64_t ql = live / 4;
	if (ql < QLIMIT_MIN)
		ql = QLIMIT_MIN;
	atomic_store(&qlimit, ql);
	if (mode == GR_GC_QUARANTINE && goal != UINT64_MAX)
		goal += ql;
	pz.goal = goal;
	/* The trigger: a fraction of the way from what the sweep kept to the
	 * goal, so that the cycle ends near the goal with what the program
	 * allocates meanwhile (Go's trigger ratio, adjusted by note_peak). */
	uint64_t trigger = goal;
	if (goal != UINT64_MAX) {
		uint64_t from = inuse_after < goal ? inuse_after : goal;
		trigger = from + (uint64_t)((double)(goal - from) * trig_ratio);
	}
	atomic_store(&gr_gc_trigger, trigger);
}

/* After a cycle: how far past its goal the heap got meanwhile steers the
 * next trigger (earlier when it overshot, later when it ended well short). */
static void note_peak(uint64_t peak)
{
	uint64_t goal = pz.goal;
	if (goal == UINT64_MAX || !goal)
		return;
	if (peak > goal)
		trig_ratio = trig_ratio * 0.85 > 0.3 ? trig_ratio * 0.85 : 0.3;
	else if (peak < goal - goal / 16)
		trig_ratio = trig_ratio + 0.05 < 0.95 ? trig_ratio + 0.05 : 0.95;
}

static _Atomic uint32_t wake_word;
static _Atomic int want_why;
static _Atomic bool worker_on;
static int64_t last_end;		/* coarse ns; the last cycle's end */
static const char *const why_names[] = { "none", "heap", "quarantine", "limit", "forced", "debug", "exit" };

/* Allocating threads and the cycle (assist()). gr_gc_hard (heap.h) sends
 * allocations to assist(): every cache refill while assists mark (1),
 * every allocation in a cycle's last rounds (0); wait_at is where they
 * wait for the cycle's end. The pacer's question (Go's assist ratio, in
 * its simplest form): has the heap used more of its runway to the goal
 * since the mark began than the mark has done of its expected work (the
 * last cycle's live heap)? Then the thread marks (assist_mark). */
static _Atomic uint64_t wait_at = UINT64_MAX;
static uint64_t mark_heap0, mark_expect;	/* set as assists begin */

static void set_hard(uint64_t v)
{
	atomic_store(&wait_at, v);
	atomic_store(&gr_gc_hard, v > 1 && atomic_load(&assists_on) ? 1 : v);
}

static bool behind(void)
{
	uint64_t goal = pz.goal, h0 = mark_heap0, inuse = gr_heap_inuse_bytes();
	if (inuse <= h0)
		return false;
	if (goal <= h0 + ((uint64_t)1 << 20))
		return true;
	double heap = (double)(inuse - h0) / (double)(goal - h0);
	double mark = (double)(atomic_load_explicit(&wk_progress, memory_order_relaxed) +
			       atomic_load_explicit(&assist_bytes, memory_order_relaxed)) / (double)mark_expect;
	return heap > mark;
}

static void assists_start(void)
{
	mark_heap0 = gr_heap_inuse_bytes();
	mark_expect = last.live_bytes ? last.live_bytes : mark_heap0 / 2 + 1;
	atomic_store(&assists_on, true);
	set_hard(atomic_load(&wait_at));
	if (atomic_load(&nhelpers)) {
		atomic_fetch_add(&helper_word, 1);
		gr_futex_wake(&helper_word, INT32_MAX);
	}
}

static struct gr_m worker_m;		/* the worker's identity (worker()) */
static void start_worker(void);
static _Atomic uint32_t cycle_end;	/* bumped at each cycle's end (futex) */

/* gr_gc_assist_check sent an allocation here (gr_gc_hard): mark if the
 * pacer is behind; past wait_at, mark or wait for the cycle's end, a
 * millisecond at a time, at most 20 ms. Not the collector's own thread;
 * in a signal handler's malloc inside an assist only wait (in_assist). */


static void assist(void)
{
	/* Not while creating a thread: the cycle's pauses need that lock. */
	if (gr_curm == &worker_m || gr_in_vfork_child() || gr_newm_held)
		return;
	if (!atomic_load(&worker_on) && atomic_load(&want_why)) {
		start_worker();
		uint64_t goal = pz.goal;
		set_hard(goal);
		return;
	}
	if (!atomic_load(&marking) && !atomic_load(&want_why))
		return;
	if (behind())
		assist_mark(ASSIST_BYTES);
	/* Past wait_at: mark while there is gray work to take, wait while
	 * there is none (the worker is reading roots or written pages). */
	uint32_t seen = atomic_load(&cycle_end);
	int64_t t0 = gr_nanotime(), until = t0 + 20 * 1000000;
	/* Its M's cache is between operations here: a termination may take
	 * its lists (note_quiet). */
	struct gr_m *m = gr_curg ? gr_curg->m : gr_curm;
	int id = m && m->id >= 0 && m->id < GR_MAXMCACHE ? m->id : -1;
	if (id >= 0)
		atomic_store_explicit(&m_gcwait[id], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&assist_waiting, 1, memory_order_relaxed);
	while (atomic_load(&cycle_end) == seen && gr_heap_inuse_bytes() >= atomic_load(&wait_at) &&
	       gr_nanotime() < until) {
		if (assist_mark(ASSIST_BYTES))
			continue;
		struct timespec ts = { 0, 1000000 };
		gr_futex_wait(&cycle_end, seen, &ts);
	}
	atomic_fetch_sub_explicit(&assist_waiting, 1, memory_order_relaxed);
	if (id >= 0)
		atomic_store_explicit(&m_gcwait[id], 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&assist_wait_ns, (uint64_t)(gr_nanotime() - t0), memory_order_relaxed);
}

/* The world runs again after a termination: assists end (the sweep is
 * concurrent and allocation into unswept spans is black). */
static void marking_done(void)
{
	atomic_store(&marking, false);
	uint64_t goal = pz.goal;
	set_hard(atomic_load(&want_why) ? goal : UINT64_MAX);
	atomic_fetch_add(&cycle_end, 1);
	gr_futex_wake(&cycle_end, INT32_MAX);
}

void gr_gc_wake(int why)
{
	int z = 0;
	if (!on || !atomic_compare_exchange_strong(&want_why, &z, why))
		return;
	/* Until the next cycle's end the trigger would fire on every slow
	 * path: park it; from half over the goal allocators assist. */
	atomic_store(&gr_gc_trigger, UINT64_MAX);
	uint64_t goal = pz.goal;
	if (!atomic_load(&worker_on))
		set_hard(0);	/* the next allocation starts the worker */
	else if (goal != UINT64_MAX)
		set_hard(goal);
	atomic_store(&wake_word, 1);
	gr_futex_wake(&wake_word, 1);
	if (!atomic_load(&worker_on))
		gr_sysmon_kick();	/* it starts the worker */
}

/* The worker's stack below its frame holds stale object addresses after a
 * cycle (the sweep passes every dead object through its frames); a cycle
 * run by another thread reads this thread's stack whole while marking
 * concurrently: clear it, or leaks would look referenced. */
static __attribute__((noinline)) void scrub_stack(void)
{
	char buf[128 << 10];
	memset(buf, 0, sizeof buf);
	__asm__ volatile("" : : "r"(buf) : "memory");
}

/* The collector's threads take no program signal: only the runtime's
 * (stops) and the faults a read of a mapping can raise. */
static void block_program_signals(void)
{
	uint64_t mask = ~0ull & ~(1ull << (GR_RTSIG - 1)) & ~(1ull << (SIGSEGV - 1)) & ~(1ull << (SIGBUS - 1));
	gr_sys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&mask, 0, 8, 0, 0);
}

static void *worker(void *arg)
{
	(void)arg;
	/* An M of its own for the heap: the sweep frees through a cache no
	 * other thread uses, without the shared cache's lock. */
	worker_m.id = gr_m_newid();
	worker_m.tid = gr_gettid();
	worker_m.tcb = gr_arch_get_tp();
	worker_m.is_sysmon = true;	/* no P, ever: readies go to the global queue */
	gr_curm = &worker_m;
	worker_tid = worker_m.tid;
	worker_tp = (uintptr_t)gr_arch_get_tp();
	worker_sp_hint = (uintptr_t)__builtin_frame_address(0);
	block_program_signals();
	for (;;) {
		while (!atomic_exchange(&wake_word, 0))
			gr_futex_wait(&wake_word, 0, NULL);
		int why = atomic_load(&want_why);
		int r = why ? gr_gc_collect(why_names[why]) : 0;
		scrub_stack();
		if (r != 0) {
			/* Could not run (the world could not be had): retry later. */
			atomic_store(&want_why, 0);
			set_hard(UINT64_MAX);
			pace(last.live_bytes, gr_heap_inuse_bytes());
		}
	}
	return NULL;
}

static void sleep_us(long us);

static void *helper(void *arg)
{
	int i = (int)(intptr_t)arg;
	atomic_store(&helper_tids[i], gr_gettid());
	block_program_signals();
	for (;;) {
		uint32_t w = atomic_load(&helper_word);
		while (atomic_load(&assists_on))
			if (!assist_mark(UINT64_MAX))
				sleep_us(50);	/* the pool is empty: the worker reads roots */
		scrub_stack();
		gr_futex_wait(&helper_word, w, NULL);
	}
	return NULL;
}

/* The pause helper: with two Ps or more, a second thread shares the
 * termination's pause (the program's CPUs are idle then): it reads the
 * heap's written pages (a page-table walk of every arena, the longest
 * step at a large heap) while the worker reads stacks and root mappings.
 * It marks into its own chunks and gives what it has not scanned to the
 * pool, which the worker drains once it is done. It is never stopped
 * (gr_stw_exempt) and holds no program pointer a stop would need to see;
 * its stack is left out of the roots like the worker's. It sleeps until
 * the world is stopped and the job posted (ph_post): spinning while the
 * worker stops the world would take the CPU a thread to be stopped needs
 * to answer (measured: stops of 1.5-2 ms instead of 0.1). */
enum { PH_IDLE, PH_JOB, PH_DONE };
static _Atomic uint32_t ph_state;	/* futex */
static const uint32_t *ph_arenas;	/* the job: written before PH_JOB */
static uint32_t ph_na;
static bool ph_reprotect;		/* a concurrent round's, not the pause's */
static long ph_pages;			/* the result: written pages, -1 not done */
static int64_t ph_ns;			/* and how long it took */
static cpu_set_t ph_cpus;		/* where it may run (ph_place) */
static int ph_off = -1;			/* the CPU it is kept off */

static long dirty_arenas(const uint32_t *arenas, uint32_t na, bool reprotect, struct marker *m,
			 _Atomic uint32_t *next, bool *joined);
static _Atomic uint32_t ph_next;	/* the next arena to read, for it and the worker */

static void ph_job(void)
{
	int64_t t0 = gr_nanotime();
	gr_lock(&pool_lock);
	struct chunk *c = chunk_new_locked();
	gr_unlock(&pool_lock);
	ph_pages = -1;
	if (!c)
		return;	/* no chunk to mark into: the worker does it */
	struct marker m = { .stk = c->e, .cap = CHUNKW, .own = c };
	ph_pages = dirty_arenas(ph_arenas, ph_na, ph_reprotect, &m, &ph_next, NULL);
	drain_m(&m, UINT64_MAX);
	gr_lock(&pool_lock);
	chunk_free_locked(m.own);	/* drained: empty */
	gr_unlock(&pool_lock);
	atomic_fetch_add_explicit(&assist_bytes, m.bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&assist_objects, m.objects, memory_order_relaxed);
	ph_ns = gr_nanotime() - t0;
}

static void *pause_helper(void *arg)
{
	(void)arg;
	ph_tp = (uintptr_t)gr_arch_get_tp();
	ph_sp_hint = (uintptr_t)__builtin_frame_address(0);
	block_program_signals();
	if (gr_sys(SYS_sched_getaffinity, 0, sizeof ph_cpus, (long)&ph_cpus) <= 0)
		CPU_ZERO(&ph_cpus);	/* unknown: left where the kernel puts it */
	ph_off = -1;
	gr_stw_exempt(gr_gettid());
	atomic_store(&ph_tid, gr_gettid());
	for (;;) {
		uint32_t s = atomic_load(&ph_state);
		if (s != PH_JOB) {
			gr_futex_wait(&ph_state, s, NULL);
		} else {
			ph_job();
			atomic_store(&ph_state, PH_DONE);
			gr_futex_wake(&ph_state, 1);
			scrub_stack();
		}
	}
	return NULL;
}

/* The CPUs the helper may use, and the one it is kept off: the worker's.
 * Woken on the worker's own CPU (the kernel's wake-affine choice) it would
 * preempt the worker instead of running beside it (measured: a phase of
 * the worker's stalled for the helper's 0.8 ms, or the helper started
 * only after the worker had read every arena itself). */
static void ph_place(void)
{
	unsigned cpu;
	int tid = atomic_load(&ph_tid);
	if (gr_sys(SYS_getcpu, (long)&cpu, 0, 0) != 0 || (int)cpu == ph_off || cpu >= CPU_SETSIZE ||
	    !CPU_ISSET(cpu, &ph_cpus) || CPU_COUNT(&ph_cpus) < 2)
		return;
	cpu_set_t m = ph_cpus;
	CPU_CLR(cpu, &m);
	if (gr_sys(SYS_sched_setaffinity, tid, sizeof m, (long)&m) == 0)
		ph_off = (int)cpu;
}

/* The helper's job: these arenas, from the first, reprotected or not. */
static void ph_set(const uint32_t *arenas, uint32_t na, bool reprotect)
{
	ph_arenas = arenas;
	ph_na = na;
	ph_reprotect = reprotect;
	atomic_store(&ph_next, 0);
}

/* Wake the helper for the job ph_set described, from the arena the shared
 * cursor is at: a concurrent round may call it late (dirty_arenas). */
static bool ph_start(void)
{
	if (!atomic_load(&ph_tid))
		return false;
	ph_place();
	atomic_store(&ph_state, PH_JOB);
	gr_futex_wake(&ph_state, 1);
	return true;
}

/* The worker's side: post the job (in a pause, once the exclusions are
 * built: markers read heap_lo1); dirty_round waits for it. */
static bool ph_post(const uint32_t *arenas, uint32_t na, bool reprotect)
{
	ph_set(arenas, na, reprotect);
	return ph_start();
}

static long ph_wait(void)
{
	uint32_t s;
	for (int spin = 0; (s = atomic_load(&ph_state)) != PH_DONE; spin++) {
		if (spin < 1000) {
			__asm__ volatile("pause");
			continue;
		}
		struct timespec ts = { 0, 1000000 };
		gr_futex_wait(&ph_state, s, &ts);
	}
	atomic_store(&ph_state, PH_IDLE);
	return ph_pages;
}

/* Start the worker thread once: from sysmon, or from an allocation that
 * wants a cycle (no heap lock held) when sysmon is not running (a program
 * that never made a thread). Born with every signal blocked but the
 * runtime's. */
GR_HIDDEN void gr_signal_runtime_early(void);

static void start_worker(void)
{
	bool f = false;
	if (!atomic_compare_exchange_strong(&worker_on, &f, true))
		return;
	if (!atomic_load(&gr_sched.started))
		gr_signal_runtime_early();	/* the initial thread must be stoppable */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 512 << 10);	/* scrub_stack clears 128 KiB */
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	uint64_t all = ~0ull & ~(1ull << (GR_RTSIG - 1)), old;
	gr_sys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, (long)&old, 8, 0, 0);
	pthread_t t;
	gr_newm_lock_take();
	int r = gr_real.pthread_create(&t, &attr, worker, NULL);
	int want = gr_cfg.gcworkers ? gr_cfg.gcworkers : gr_sched.nprocs / 4;
	for (int i = 0; r == 0 && i < want - 1 && i < MAXHELPERS; i++) {
		if (gr_real.pthread_create(&t, &attr, helper, (void *)(intptr_t)i) != 0)
			break;
		atomic_store(&nhelpers, i + 1);
	}
	if (r == 0 && gr_sched.nprocs >= 2)
		gr_real.pthread_create(&t, &attr, pause_helper, NULL);	/* none: the worker does it all */
	gr_newm_lock_drop();
	gr_sys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8, 0, 0);
	pthread_attr_destroy(&attr);
	if (r != 0)
		gr_printf("libgrun: GRUN_GC: cannot create the collector's thread (error %d): cycles run only "
			  "when forced\n", r);
	if (!last_end)
		last_end = gr_nanotime_coarse();
}

void gr_gc_sysmon(int64_t now)
{
	if (!on)
		return;
	if (!atomic_load(&worker_on))
		start_worker();
	if (now - last_end > (int64_t)120 * 1000000000)
		gr_gc_wake(GC_WHY_FORCED);
}

/* --- a cycle ----------------------------------------------------------------- */

static bool work_init(void)
{
	if (W)
		return true;
	/* Strict overcommit ignores NORESERVE: settle for a smaller mark
	 * stack (an overflow costs a rescan, not correctness). */
	for (size_t ms = MSTACK_BYTES; ms >= ((size_t)16 << 20); ms >>= 4) {
		size_t len = sizeof(struct work) + ms;
		void *p = gr_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				  -1, 0);
		if (p == (void *)-1)
			continue;
		W = p;
		worklen = len;
		wk.stk = (uintptr_t *)((char *)p + sizeof(struct work));
		wk.cap = ms / sizeof(uintptr_t);
		return true;
	}
	return false;
}

static void sleep_us(long us)
{
	struct timespec ts = { 0, us * 1000 };
	gr_sys(SYS_nanosleep, (long)&ts, 0, 0);
}

static void print_ms(char *buf, size_t n, int64_t ns)
{
	/* gr_fmt has no %f: milliseconds with three decimals. */
	gr_fmt(buf, n, "%lld.%03lld", (long long)(ns / 1000000), (long long)(ns / 1000 % 1000));
}

/* GRUN_DEBUG=gctrace=1: Go's line, then what this collector adds.
 *   gc N @T s P%: A+B+C ms clock, A+B/0/0+C ms cpu, H0->H1->L MB, G MB goal, N P (...)
 * A: the first pause (registers and stacks read; 0 without the concurrent
 * mark); B: the concurrent mark (0 when the world is stopped for all of it,
 * no dirty tracking); C: the pause at the termination, from taking the
 * heap locks to restarting the world. H0, H1: heap objects at the start and the end; L: the
 * live (reached) heap; G: the heap that starts the next cycle. In
 * parentheses: the trigger, written pages read at the termination, the
 * sweep's time, the mode's results, roots read. */
static void trace(uint64_t cycle, int64_t t0, int64_t t_first, int64_t t_conc, int64_t t_stop,
		  int64_t t_end, int64_t t_sweep, uint64_t heap0, bool conc, long dirty, const char *why)
{
	char a[32], b[32], c[32], d[32];
	print_ms(a, sizeof a, t_first);
	print_ms(b, sizeof b, conc ? t_conc - t0 : 0);
	print_ms(c, sizeof c, t_end - t_stop);
	print_ms(d, sizeof d, t_sweep - t_end);
	int64_t since = t0 - init_ns;
	int64_t total = atomic_load(&gc_ns_total);
	int64_t alive = t_sweep - init_ns;	/* the cycle included, as Go counts */
	int pct = alive > 0 ? (int)(total * 100 / alive) : 0;
	uint64_t live = last.live_bytes;
	struct gr_heap_stats hs;
	gr_heap_read_stats(&hs);
	char rb[16 * MAXROUNDS] = "", *rp = rb;
	for (int i = 0; i < nrounds; i++)
		rp += gr_fmt(rp, (size_t)(rb + sizeof rb - rp), "%s%ld", i ? "," : " after rounds of ", rounds[i]);
	char extra[256];
	if (mode == GR_GC_COLLECT)
		gr_fmt(extra, sizeof extra, "collect: freed %llu objects, %llu B%s",
		       (unsigned long long)st.garbage_objects, (unsigned long long)st.garbage_bytes,
		       st.unsafe ? ", none: roots unseen" : "");
	else if (mode == GR_GC_QUARANTINE)
		gr_fmt(extra, sizeof extra, "quarantine: released %llu objects, %llu B, holds %llu objects, %llu B, "
		       "%llu dangling", (unsigned long long)st.qreleased_objects,
		       (unsigned long long)st.qreleased_bytes, (unsigned long long)qlen,
		       (unsigned long long)st.quarantine_bytes, (unsigned long long)atomic_load(&dangling_total));
	else
		extra[0] = 0;
	char ab[96] = "";
	if (st.assist_bytes || st.assist_wait_ns)
		gr_fmt(ab, sizeof ab, "; assists marked %llu kB, waited %llu.%03llu ms",
		       (unsigned long long)(st.assist_bytes >> 10), (unsigned long long)(st.assist_wait_ns / 1000000),
		       (unsigned long long)(st.assist_wait_ns / 1000 % 1000));
	gr_printf("gc %llu @%lld.%03llds %d%%: %s+%s+%s ms clock, %s+%s/0/0+%s ms cpu, %llu->%llu->%llu MB, "
		  "%llu MB goal, %d P (%s; %s; %ld pages written at termination%s%s; sweep %s ms; leak: %llu objects, "
		  "%llu B;%s%s%s %llu MB roots, %llu kB unreadable%s)\n",
		  (unsigned long long)cycle, (long long)(since / 1000000000), (long long)(since / 1000000 % 1000),
		  pct, a, b, c, a, b, c, (unsigned long long)(heap0 >> 20), (unsigned long long)(hs.objects_bytes >> 20),
		  (unsigned long long)(live >> 20), (unsigned long long)(pz.goal == UINT64_MAX ? 0 : pz.goal >> 20),
		  gr_sched.nprocs ? gr_sched.nprocs : 1, why ? why : "forced", conc ? "concurrent" : "stop-the-world",
		  dirty, rb, ab, d, (unsigned long long)last.leaked_objects, (unsigned long long)last.leaked_bytes,
		  extra[0] ? " " : "", extra, extra[0] ? ";" : "", (unsigned long long)(st.root_bytes >> 20),
		  (unsigned long long)(st.unread_bytes >> 10), st.unsure ? "; unsure" : "");
	if (gr_cfg.gctrace < 2)
		return;
	/* gctrace=2: the termination pause by phase, in microseconds; a
	 * phase that did not run (the heap's, stopped-the-world) shows 0. */
	char tb[384], *p = tb;
	int64_t prev = t_stop;
	for (int k = 0; k < NTP; k++) {
		int64_t d = tp[k] >= prev ? tp[k] - prev : 0;
		if (tp[k] >= prev)
			prev = tp[k];
		p += gr_fmt(p, (size_t)(tb + sizeof tb - p), " %s %lld", tp_names[k], (long long)(d / 1000));
		if (k == TP_STOP)	/* of which the stop itself: */
			p += gr_fmt(p, (size_t)(tb + sizeof tb - p), " (list %lld, signal %lld, wait %lld: %d threads)",
				    (long long)(term_stw.list_ns / 1000), (long long)(term_stw.signal_ns / 1000),
				    (long long)(term_stw.wait_ns / 1000), term_stw.asked);
	}
	if (ph_ns)
		gr_fmt(p, (size_t)(tb + sizeof tb - p), "; the pause helper read written heap pages for %lld",
		       (long long)(ph_ns / 1000));
	gr_printf("gc %llu termination us:%s\n", (unsigned long long)cycle, tb);
	if (t_first)
		gr_printf("gc %llu first pause us: stop (list %lld, signal %lld, wait %lld: %d threads) threads %lld\n",
			  (unsigned long long)cycle, (long long)(first_stw.list_ns / 1000),
			  (long long)(first_stw.signal_ns / 1000), (long long)(first_stw.wait_ns / 1000),
			  first_stw.asked, (long long)(first_read_ns / 1000));
}

/* --- dirty tracking: the concurrent mark ------------------------------------ */

static bool conc_ok;		/* dirty tracking works (decided at the first cycle) */
static bool conc_decided;
static int nprot;
/* Arenas registered for dirty tracking, by arena number: only heap
 * arenas, so a fork child clears just their words (the whole 256 KiB
 * would be 64 page faults a fork). */
static uint64_t arena_reg[GR_NARENAS / 64];

static bool arena_track(uintptr_t a)
{
	size_t n = a >> GR_ARENASHIFT;
	uint64_t bit = 1ull << (n & 63);
	if (__atomic_load_n(&arena_reg[n >> 6], __ATOMIC_RELAXED) & bit)
		return true;
	if (gr_dirty_register(a, GR_ARENASIZE) < 0)
		return false;
	__atomic_fetch_or(&arena_reg[n >> 6], bit, __ATOMIC_RELAXED);
	return true;
}

/* The heap mapped new arenas (heap lock held): tracked from the start, so
 * a mark in progress sees every write to them. */
static void on_arena(uintptr_t base, size_t len)
{
	if (!conc_ok)
		return;
	for (uintptr_t a = base; a < base + len; a += GR_ARENASIZE)
		if (arena_track(a))
			gr_dirty_protect(a, GR_ARENASIZE);
}

static bool concurrent_init(void)
{
	if (!conc_decided) {
		conc_decided = true;
		conc_ok = gr_cfg.gcconcurrent && gr_dirty_init();
		if (conc_ok)
			gr_heap_arena_hook = on_arena;
		if (!conc_ok && gr_cfg.gctrace && gr_cfg.gcconcurrent)
			gr_printf("libgrun: gc: no dirty-page tracking (%s): marking with the world stopped\n",
				  gr_dirty_reason());
	}
	return conc_ok;
}

/* Register (once) and protect every heap arena: from here on, writes to
 * the heap are recorded. False if an arena cannot be tracked. */
static bool protect_heap(const uint32_t *arenas, uint32_t na)
{
	for (uint32_t i = 0; i < na; i++) {
		uintptr_t a = (uintptr_t)arenas[i] << GR_ARENASHIFT;
		if (!arena_track(a) || gr_dirty_protect(a, GR_ARENASIZE) < 0)
			return false;
	}
	return true;
}

/* The cycle is over: until the next, writes run at full speed (a page
 * still protected would fault at its first write, once per cycle). */
static void unprotect_all(const uint32_t *arenas, uint32_t na)
{
	for (uint32_t i = 0; i < na; i++)
		gr_dirty_unprotect((uintptr_t)arenas[i] << GR_ARENASHIFT, GR_ARENASIZE);
	for (int i = 0; i < nprot; i++)
		gr_dirty_unprotect(W->prot[i].lo, W->prot[i].hi - W->prot[i].lo);
}

/* A root range about to be read concurrently: a big one is protected
 * first (registered if need be), so termination reads only its written
 * pages; a small one (or one that cannot be tracked) is read again whole.
 * Whole pages inside the range only: a page shared with a neighbour
 * protected and read before would lose that neighbour's writes since (the
 * partial pages at the ends are read again whole). Each range is protected
 * once per cycle: the pieces given are disjoint. */
static void protect_root(uintptr_t lo, uintptr_t hi)
{
	lo = (lo + 4095) & ~(uintptr_t)4095;
	hi &= ~(uintptr_t)4095;
	if (!conc_phase || hi <= lo || hi - lo < REG_MIN || nprot >= MAXPROT)
		return;
	if (gr_dirty_protect(lo, hi - lo) < 0 &&
	    (gr_dirty_register(lo, hi - lo) < 0 || gr_dirty_protect(lo, hi - lo) < 0))
		return;
	W->prot[nprot].lo = lo;
	W->prot[nprot].hi = hi;
	nprot++;
}

/* Marked objects on written heap pages: scan them again. */
static void rescan_heap_run(uintptr_t lo, uintptr_t hi, void *arg)
{
	struct marker *m = arg ? arg : &wk;
	for (uintptr_t p = lo; p < hi; p += 4096) {
		struct gr_span *s = gr_heap_spanof((void *)p);
		if (!s)
			continue;
		uintptr_t base = s->base, end = base + (s->npages << GR_PAGESHIFT);
		if (p < base || p >= end)
			continue;
		uint64_t *mb = gr_span_markbits(s);
		if (s->state == SPAN_LARGE) {
			if (mb[0] & 1)
				scan_direct_m(m, p, p + 4096 < end ? p + 4096 : end);
			continue;
		}
		if (s->state != SPAN_SMALL || !s->elemsize)
			continue;
		uint32_t first = (uint32_t)(((uint64_t)(p - base) * s->divmul) >> 32);
		uintptr_t last_b = (p + 4096 < end ? p + 4096 : end) - 1;
		uint32_t last = (uint32_t)(((uint64_t)(last_b - base) * s->divmul) >> 32);
		unsigned nw = gr_span_bitwords(s);
		for (uint32_t idx = first; idx <= last && idx < s->nelems && (idx >> 6) < nw; idx++)
			if (mb[idx >> 6] & (1ull << (idx & 63))) {
				uintptr_t o = base + (uintptr_t)idx * s->elemsize;
				scan_direct_m(m, o, o + s->elemsize);
			}
	}
	if (m == &wk)
		drain();
	else
		drain_m(m, UINT64_MAX);
}

/* Written pages of a protected root range. No exclusions: the range was
 * cut from what the exclusions left. */
static void scan_root_run(uintptr_t lo, uintptr_t hi, void *arg)
{
	(void)arg;
	scan_copy(lo, hi);
}

/* Marked objects on the arenas' written pages, scanned again by m (NULL:
 * the worker); with next, only the arenas the pause helper has not
 * claimed (ph_job). Returns the pages found written. */
static long dirty_arenas(const uint32_t *arenas, uint32_t na, bool reprotect, struct marker *m,
			 _Atomic uint32_t *next, bool *joined)
{
	long total = 0;
	for (uint32_t i = 0; i < na; i++) {
		/* A concurrent round the helper is not in yet: it joins once
		 * allocating threads wait for the cycle (the heap at its
		 * goal), on the CPU they leave idle. */
		if (joined && !*joined && atomic_load_explicit(&assist_waiting, memory_order_relaxed))
			*joined = ph_start();
		if (next && (i = atomic_fetch_add(next, 1)) >= na)
			break;	/* shared with the pause helper: arenas one at a time */
		uintptr_t a = (uintptr_t)arenas[i] << GR_ARENASHIFT;
		long r = gr_dirty_scan(a, GR_ARENASIZE, reprotect, rescan_heap_run, m);
		if (r < 0) {
			rescan_heap_run(a, a + GR_ARENASIZE, m);	/* all of it */
			r = GR_ARENASIZE >> 12;
		}
		total += r;
	}
	return total;
}

/* Rescan what was written since the last protect: heap objects already
 * marked, and with roots the pages of protected roots. reprotect: a round
 * before the termination (it shrinks what the termination must read); the
 * termination reads the protected roots in its walk of the mappings
 * (term_scan_maps), the ones still there. helped: the pause helper has
 * the same arenas (ph_post): share them, and wait for it; may_join: it
 * does not, but has them (ph_set) and is woken once allocations wait.
 * Returns the pages found written. */
static long dirty_round(const uint32_t *arenas, uint32_t na, bool reprotect, bool roots, bool helped,
			bool may_join)
{
	long total = dirty_arenas(arenas, na, reprotect, NULL, helped || may_join ? &ph_next : NULL,
				  may_join && !helped ? &helped : NULL);
	for (int i = 0; roots && i < nprot; i++) {
		long r = gr_dirty_scan(W->prot[i].lo, W->prot[i].hi - W->prot[i].lo, reprotect, scan_root_run, NULL);
		if (r < 0) {
			scan_copy(W->prot[i].lo, W->prot[i].hi);
			r = (long)((W->prot[i].hi - W->prot[i].lo) >> 12);
		}
		total += r;
	}
	drain();
	if (helped) {
		long r = ph_wait();
		total += r > 0 ? r : 0;
		drain();	/* what it gave the pool */
	}
	return total;
}

/* Termination: [lo, hi) of a mapping (from /proc/self/maps): its protected
 * parts by their written pages only, the rest whole. */
static void term_scan_range(uintptr_t lo, uintptr_t hi)
{
	for (int i = 0; i < nprot && lo < hi; i++) {
		struct range r = W->prot[i];
		if (r.hi <= lo || r.lo >= hi)
			continue;
		if (r.lo > lo)
			scan_minus_excluded(lo, r.lo);
		uintptr_t a = r.lo > lo ? r.lo : lo, b = r.hi < hi ? r.hi : hi;
		if (gr_dirty_scan(a, b - a, false, scan_root_run, NULL) < 0)
			scan_minus_excluded(a, b);
		lo = b;
	}
	if (lo < hi)
		scan_minus_excluded(lo, hi);
}

/* /proc/self/maps (not smaps: no page-table walk) at the termination. */
static void term_scan_maps(void)
{
	read_proc_maps("/proc/self/maps");
	rq_begin();
	for (const char *p = W->maps; *p; p = next_line(p)) {
		const char *q = p;
		uintptr_t lo = hex(&q);
		q++;
		uintptr_t hi = hex(&q);
		q++;
		if (q[0] != 'r' || q[1] != 'w')
			continue;
		bool priv = q[3] == 'p';
		for (int field = 0; *q && *q != '\n' && field < 4; field++) {
			while (*q && *q != ' ' && *q != '\n')
				q++;
			while (*q == ' ')
				q++;
		}
		const char *path = q;
		while (*q && *q != '\n')
			q++;
		size_t plen = (size_t)(q - path);
		if (skip_path(path, plen))
			continue;
		/* A big private anonymous mapping: what mincore says is there. */
		resident_only = priv && is_anon_path(path, plen) && hi - lo > RESIDENT_MIN;
		term_scan_range(lo, hi);
		resident_only = false;
	}
	rq_end();
}

/* The concurrent mark's first pause (Go's sweep termination, in place):
 * the world stopped for as long as it takes to read every thread's
 * registers and stack and every G's TLS; what they point to is only
 * queued, and traced once the world runs again. Without it a running
 * thread's registers (a loop's only pointer to a big structure) would be
 * seen at the termination only, and all of it traced in that pause. Its
 * misses (a thread that did not stop) cost nothing: the termination reads
 * everything again. Returns the pause in ns (0: no stop). */
static int64_t first_pause(void)
{
	int unstopped, unsure = st.unsure, unsafe = st.unsafe, nex = nexcl;
	int64_t t0 = gr_nanotime();
	gr_lock(&gr_newm_lock);	/* no thread is being created (its dtv, TLS) */
	if (gr_stw_stop(&unstopped) < 0) {
		gr_unlock(&gr_newm_lock);
		return 0;	/* another stop is in progress */
	}
	nodrain = true;
	int64_t t1 = gr_nanotime();
	first_stw = gr_stw_last;
	gr_stw_foreach(visit_thread, NULL);
	scan_g_tls();
	wq_flush(&wk);
	nodrain = false;
	first_read_ns = gr_nanotime() - t1;
	/* The pause ends with the restart (the stopper may be descheduled
	 * as soon as the threads it wakes run). */
	int64_t ns = gr_nanotime() - t0;
	gr_stw_start();
	gr_unlock(&gr_newm_lock);
	st.unsure = unsure;
	st.unsafe = unsafe;
	nexcl = nex;	/* its exclusions are the termination's business */
	note_pause(ns);
	drain();
	return ns;
}

/* Concurrent phase: the Gs' stacks and TLS, read while they run, so that
 * the termination (which reads them again, exactly) finds most of what
 * they reach already marked. A parked or runnable G from its saved sp; a
 * running one (sp unknown) over the resident pages of its whole stack:
 * what its dead frames hold stays alive this cycle (floating garbage,
 * freed by the next). Not at exit: nothing floats into the leak report. */
static void prescan_gs(void)
{
	struct gr_g *self = gr_curg;
	for (struct gr_g *g = atomic_load_explicit((struct gr_g *_Atomic *)&gr_allg, memory_order_acquire); g;
	     g = g->allnext) {
		int s = atomic_load(&g->status);
		if (g == self || s == G_DEAD || s == G_IDLE || !g->stack_hi || !g->stack_lo)
			continue;
		uintptr_t lo = (uintptr_t)g->stack_lo, hi = (uintptr_t)g->stack_hi;
		uintptr_t sp = (uintptr_t)g->sp;
		bool parked = (s == G_WAITING || s == G_RUNNABLE) && sp > lo + 128 && sp < hi;
		if (parked)
			lo = sp - 128;
		resident_only = !parked;
		scan_copy(lo, hi);
		resident_only = false;
		if (g->map_top && (uintptr_t)g->map_top > hi)
			scan_copy(hi, (uintptr_t)g->map_top);
	}
	drain();
}

/* --- the sweep -------------------------------------------------------------- */

static bool sweep_collect;	/* collect mode and nothing unseen */
static bool sweep_pending;	/* a sweep did not finish (fork child) */

/* on_dead runs on the worker's background sweep and on allocating threads'
 * lazy sweeps (collect mode): their sums under sweep_lock, a leaf. */
static struct gr_lock sweep_lock;

/* The sweep's sums start empty: before the termination (gc_lock held, so
 * no report reads them until the sweep is over). */
static void sweep_reset(void)
{
	memset(last_cls_objects, 0, sizeof last_cls_objects);
	memset(last_cls_bytes, 0, sizeof last_cls_bytes);
	gr_leakagg_reset();
}

static void on_dead(uintptr_t obj, size_t size, unsigned cls, void *arg)
{
	(void)arg;
	gr_lock(&sweep_lock);
	last_cls_objects[cls]++;
	last_cls_bytes[cls] += size;
	gr_leakagg_add(gr_allocsite_of(obj), size);
	if (sweep_collect) {
		st.garbage_objects++;
		st.garbage_bytes += size;
		gr_allocsite_free((void *)obj);	/* freed: its record goes */
	}
	gr_unlock(&sweep_lock);
}


/* Every span the termination left unswept, page by page (a span changing
 * meanwhile cannot make us skip one); then the quarantine's release. */
static void sweep(void)
{
	gr_heap_sweep_all(sweep_collect, on_dead, NULL);
	gr_heap_lazy_sweep(NULL);	/* nothing is left to sweep */
	sweep_pending = false;
	for (size_t i = 0; i < nsweep; i++) {
		gr_allocsite_free((void *)sweepbuf[i]);
		gr_heap_free_now((void *)sweepbuf[i]);
	}
	if (nsweep > 4096)
		gr_sys(SYS_madvise, (long)sweepbuf, (long)(nsweep * sizeof *sweepbuf), MADV_DONTNEED);
	nsweep = 0;
}

/* --- a cycle ------------------------------------------------------------------ */

/* Exclusions: what the roots must not scan (heap arenas, the heap's
 * metadata, the collector's work area, G stacks, module segments); also
 * sets the heap range for markword. */
static void build_exclusions(const uint32_t *arenas, uint32_t na, bool lost, bool modules)
{
	nexcl = 0;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	for (uint32_t i = 0; i < na; i++) {
		uintptr_t a = (uintptr_t)arenas[i] << GR_ARENASHIFT;
		lo = a < lo ? a : lo;
		hi = a + GR_ARENASIZE > hi ? a + GR_ARENASIZE : hi;
		exclude(a, a + GR_ARENASIZE);
	}
	if (lost) {
		st.unsure++;
		lo = 0;
		hi = (uintptr_t)1 << GR_ADDRBITS;
	}
	heap_lo1 = lo - 1;
	heap_size = hi > lo ? hi - lo : 0;
	bool mlost;
	gr_heap_gc_foreach_meta(exclude_meta, NULL, &mlost);
	if (mlost)
		st.unsure++;	/* metadata scanned as roots: fewer leaks seen */
	exclude((uintptr_t)W, (uintptr_t)W + worklen);
	/* The Ms' alternate signal stacks: the runtime's handlers (preemption,
	 * stop-the-world) leave whole register frames there when they return
	 * (a preempted G's context is saved on its own stack; a stop's in the
	 * records below). No handler that keeps program pointers there can be
	 * interrupted by a stop: they block the runtime signal. */
	for (struct gr_m *m = gr_allm; m; m = m->allnext)
		if (m->sigstk)
			exclude((uintptr_t)m->sigstk, (uintptr_t)m->sigstk + m->sigstksz);
	/* Stale register copies of the last stop (stw.c). */
	uintptr_t rlo, rhi;
	gr_stw_records(&rlo, &rhi);
	exclude(rlo, rhi);
	/* The collector's own lists: object addresses that are not references. */
	if (sweepbuf)
		exclude((uintptr_t)sweepbuf, (uintptr_t)(sweepbuf + SWEEP_CAP));
	if (qbuf)
		exclude((uintptr_t)qbuf, (uintptr_t)(qbuf + QCAP));
	struct qlocal *ql = atomic_load(&qloc);
	if (ql)
		exclude((uintptr_t)ql, (uintptr_t)(ql + GR_MAXMCACHE));
	if (kr)
		exclude((uintptr_t)kr, (uintptr_t)(kr + KR_CAP));
	exclude_gstacks();
	for (int i = 0; modules && i < nmods; i++)
		exclude(W->mods[i].lo, W->mods[i].hi);
}


static int collect(const char *why, uintptr_t sp)
{
	if (!__atomic_load_n(&gr_heap_mode, __ATOMIC_ACQUIRE))
		gr_heap_init();
	if (gr_heap_mode != 1)
		return -ENOSYS;
	gr_lock(&gc_lock);
	if (!work_init() || (!sweepbuf && !(sweepbuf = reserve(SWEEP_CAP * sizeof *sweepbuf)))) {
		gr_unlock(&gc_lock);
		return -ENOMEM;
	}
	if (sweep_pending)
		sweep();	/* a fork child's parent was sweeping (its sums are lost) */
	int64_t t0 = gr_nanotime();
	struct gr_heap_stats hs;
	gr_heap_read_stats(&hs);
	memset(&st, 0, sizeof st);
	memset(tp, 0, sizeof tp);
	ph_ns = 0;
	atomic_store(&overflowed, false);
	wk.bytes = wk.objects = 0;
	atomic_store(&wk_progress, 0);
	atomic_store(&assist_bytes, 0);
	atomic_store(&assist_wait_ns, 0);
	atomic_store(&assist_objects, 0);
	selfpid = (int)gr_sys(SYS_getpid, 0, 0, 0);
	nmods = 0;
	nexcl = 0;
	nprot = 0;
	nrounds = 0;
	const uint32_t *arenas;
	bool lost;
	uint32_t na = gr_heap_gc_arenas(&arenas, &lost);
	bool conc = concurrent_init() && !lost;
	long dirty_pages = 0;
	int64_t t_first = 0;	/* the first pause, ns */
	atomic_store(&marking, true);
	if (conc) {
		/* Concurrent mark. Heap writes are recorded from here on; a big
		 * root range from just before it is read. What changes behind
		 * the scan is read again at the termination: written pages of
		 * the heap (marked objects on them) and of protected roots,
		 * small roots whole, every stack and register. */
		build_exclusions(arenas, na, lost, false);
		/* Arenas mapped during the mark may lie outside today's range:
		 * no quick rejection until the termination (spanof decides). */
		heap_lo1 = UINTPTR_MAX;
		heap_size = (uintptr_t)1 << GR_ADDRBITS;
		conc = protect_heap(arenas, na);
		if (conc) {
			gr_heap_gc_mark_tc_begin();
			read_maps();
			gr_stw_mapping_end_fn = stw_mapping_end;
			t_first = first_pause();
			assists_start();
			/* Our own stack: the termination reads its live part; the
			 * rest holds stale copies of object addresses. The
			 * worker's is left out by exclude_g0_stacks, up to its TLS
			 * only: its mapping may have merged with neighbours, which
			 * would otherwise all be read again whole in the pause. */
			if (gr_curm != &worker_m) {
				struct range own = maps_find((uintptr_t)__builtin_frame_address(0));
				exclude(own.lo, own.hi);
			}
			exclude_g0_stacks();
			nexcl = sort_ranges(W->excl, nexcl);
			/* Module segments too are read in the maps walk, minus
			 * the exclusions (libgrun's static cache heads). */
			conc_phase = true;
			scan_maps(W->maps);
			conc_phase = false;
			if (!exiting)
				prescan_gs();
			gr_lock(&kr_lock);
			scan_kroots();
			gr_unlock(&kr_lock);
			drain();
			/* Rounds of rescanning what was written meanwhile, so
			 * that the termination finds little: until a round finds
			 * few written pages (at most MAXROUNDS). From the third
			 * on, allocating threads assist: a refill from the heap
			 * waits for the end of the cycle (assist()); once a round
			 * is short (it found few pages) or the set stops
			 * shrinking, every allocation waits, even from a cache,
			 * or a program that frees as much as it allocates would
			 * keep writing pages. What the pause must trace stays
			 * small; the program sees those waits, not a pause
			 * (gc_pause's mutation_max_ms). */
			nrounds = 0;
			bool stalled = false;
			for (long prev = LONG_MAX; nrounds < MAXROUNDS;) {
				if (nrounds >= 2)
					set_hard(prev < STRICT_PAGES || stalled ? 0 : 1);
				/* Arenas mapped meanwhile too (protected at birth). */
				na = gr_heap_gc_arenas(&arenas, &lost);
				/* From the third, the program mostly waits:
				 * the pause helper's CPU reads written pages
				 * too; before, from when it waits (measured
				 * with the helper in every round: collect at
				 * 1 GiB allocates 12-16% more, leak 5% less,
				 * the helper taking a CPU the program used). */
				ph_set(arenas, na, true);
				bool helped = nrounds >= 2 && ph_start();
				long d = dirty_round(arenas, na, true, true, helped, true);
				rounds[nrounds++] = d;
				if (d < ROUND_DONE)
					break;
				stalled = nrounds >= 4 && d > prev - prev / 4;
				prev = d;
			}
			set_hard(0);
		}
	}
	int64_t t_conc = gr_nanotime();
	/* Module segments, for the stop-the-world mark (the concurrent one
	 * reads them in its mapping walks). Before the stop: ld.so's lock
	 * may be held by a thread we stop. A module loaded after this is
	 * still scanned as an other mapping. */
	if (!conc)
		gr_real.dl_iterate_phdr(phdr_cb, NULL);

	assists_stop();
	sweep_reset();

	/* Every lock the termination needs, then the world: a thread stopped
	 * while holding one would make the stop useless. A stopper that loses
	 * the race for the world (another stop in progress) lets go, retries. */
	int unstopped = 0, tries = 0;
	int64_t t_stop;		/* the pause starts with the heap locks */
	for (;; tries++) {
		if (tries >= LOCK_TRIES) {
			gr_stw_mapping_end_fn = NULL;
			gr_heap_gc_mark_tc_end();
			marking_done();
			gr_unlock(&gc_lock);
			return -EBUSY;
		}
		t_stop = gr_nanotime();
		gr_lock(&gr_newm_lock);
		gr_lock(&qlock);
		gr_lock(&kr_lock);
		gr_heap_gc_lock_all();
		/* No stopped assist or helper holds the pool (drain needs it). */
		gr_lock(&pool_lock);
		int r = gr_stw_stop(&unstopped);
		gr_unlock(&pool_lock);
		if (r == 0) {
			if (unstopped) {
				st.unsure++;	/* a thread's registers or stack unseen: */
				st.unsafe++;	/* free nothing this cycle */
			}
			break;
		}
		gr_heap_gc_unlock_all();
		extra_unlock();
		sleep_us(500);
	}
	TP(TP_STOP);
	term_stw = gr_stw_last;

	/* Concurrent: module segments are read in the maps walk, by their
	 * written pages where they were protected. */
	na = gr_heap_gc_arenas(&arenas, &lost);
	build_exclusions(arenas, na, lost, !conc);
	if (!conc) {
		/* Free objects first: marked, so never traced (stale words). */
		gr_heap_gc_foreach_free(mark_free, NULL, true);
		qlocal_take();
		read_maps();
		gr_stw_mapping_end_fn = stw_mapping_end;
	}
	exclude_g0_stacks();	/* W->maps: this stop's smaps, or the concurrent phase's */
	memset(quiet_m, 0, sizeof quiet_m);
	TP(TP_EXCL);
	/* The heap's written pages: the pause helper's, while this thread
	 * reads the roots. */
	bool helped = conc && ph_post(arenas, na, false);
	scan_self(sp);		/* may add the caller's stack mapping */
	gr_stw_foreach(visit_thread, NULL);
	scan_g_tls();
	scan_initial_tls();
	scan_kroots();
	TP(TP_THREADS);
	if (!conc) {
		for (int i = 0; i < nmods; i++)
			scan_copy(W->mods[i].lo, W->mods[i].hi);
		nexcl = sort_ranges(W->excl, nexcl);
		scan_maps(W->maps);
		TP(TP_ROOTS);
	} else {
		nexcl = sort_ranges(W->excl, nexcl);
		nprot = sort_ranges(W->prot, nprot);	/* term_scan_range walks them in order */
		term_scan_maps();
		TP(TP_ROOTS);
		dirty_pages = dirty_round(arenas, na, false, false, helped, false);	/* what the helper left */
		TP(TP_HEAP);
	}
	drain();
	rescan_marked();
	TP(TP_DRAIN);
	st.assist_bytes = atomic_load(&assist_bytes);
	st.assist_wait_ns = atomic_load(&assist_wait_ns);
	st.live_bytes = wk.bytes + st.assist_bytes;
	st.live_objects = wk.objects + atomic_load(&assist_objects);
	if (conc) {
		/* Freed meanwhile: not leaks (the transfer caches' objects
		 * are marked already, gr_heap_gc_mark_tc_begin). The lists
		 * of quiet caches are taken instead of walked: a walk is a
		 * cache miss an object, in the pause; they go back to
		 * mcentral after it, before anything sweeps. */
		gr_heap_gc_take_free(is_quiet, NULL, mark_free, NULL);
		qlocal_take();
		gr_heap_gc_mark_tc_end();
	}
	TP(TP_FREE);

	/* Mark done: the sweep starts. Spans existing now are unswept;
	 * the quarantine's entries so far are judged by this mark. */
	atomic_fetch_add(&gr_heap_sweepgen, 1);
	gr_heap_gc_sweep_begin();
	sweep_pending = true;
	qterm = qlen;
	sweep_collect = mode == GR_GC_COLLECT && !st.unsafe;
	uint64_t inuse_stop = gr_heap_inuse_bytes();

	extra_unlock();
	gr_heap_gc_unlock_all();
	int64_t t_end = gr_nanotime();	/* as the first pause's */
	tp[TP_SWEEP] = t_end;
	gr_stw_start();
	gr_stw_mapping_end_fn = NULL;
	marking_done();
	note_pause(t_end - t_stop);
	/* The caches' taken lists, before the sweep (lazy or not) can see
	 * their objects as allocated and unmarked. Meanwhile allocation
	 * from unswept spans is black (heap.c). */
	gr_heap_gc_return_taken();
	if (sweep_collect)
		gr_heap_lazy_sweep(on_dead);
	if (conc)
		unprotect_all(arenas, na);

	/* The sweep, concurrent with the program. */
	nsweep = 0;
	ndangle = 0;
	gr_lock(&qlock);
	if (qterm)
		quarantine_sweep();
	gr_unlock(&qlock);
	sweep();
	last.cycle++;
	last.leaked_objects = last.leaked_bytes = 0;
	for (unsigned k = 0; k < GR_NCLASSES; k++) {
		last.leaked_objects += last_cls_objects[k];
		last.leaked_bytes += last_cls_bytes[k];
	}
	last.live_objects = st.live_objects;
	last.live_bytes = st.live_bytes;
	last.unsure = st.unsure;
	uint64_t freeing = st.garbage_bytes + st.qreleased_bytes;
	uint64_t kept = inuse_stop > freeing ? inuse_stop - freeing : 0;
	pz.freed_objects += st.garbage_objects;
	pz.freed_bytes += st.garbage_bytes;
	/* Stale copies of freed pointers are common in C (a local, a field
	 * not cleared): a few lines per cycle, a bounded number in all. */
	static int printed;
	for (int i = 0; i < ndangle && i < 8 && printed < 64; i++, printed++) {
		gr_printf("libgrun: possible dangling pointer: %p (%u bytes) was freed but is still referenced "
			  "(GRUN_GC=quarantine keeps it; a conservative scan can take an integer for a pointer)\n",
			  (void *)~dangle[i].p, dangle[i].size);
		if (dangle[i].allocsite) {
			gr_printf("  allocated at:\n");
			gr_allocsite_print(2, dangle[i].allocsite);
		} else {
			gr_printf("  allocated at: not sampled (GRUN_DEBUG=allocsample=1 records every site)\n");
		}
		if (dangle[i].freesite) {
			gr_printf("  freed at:\n");
			gr_allocsite_print(2, dangle[i].freesite);
		}
	}
	int64_t t_sweep = gr_nanotime();

	/* The candidate FIFO is in libgrun's data, a root of the next cycle. */
	memset(wk.wq_w, 0, sizeof wk.wq_w);
	memset(wk.pq_w, 0, sizeof wk.pq_w);
	/* The mark stack's pages: give back what the cycle committed. */
	if (mshigh > 4096)
		gr_sys(SYS_madvise, (long)wk.stk, (long)(mshigh * sizeof(uintptr_t)), MADV_DONTNEED);
	mshigh = 0;
	atomic_fetch_add(&gc_ns_total, t_sweep - t0);
	if (why && !strcmp(why, "heap"))
		note_peak(inuse_stop);
	pace(last.live_bytes, kept);
	last_end = gr_nanotime_coarse();
	atomic_store(&want_why, 0);
	set_hard(UINT64_MAX);
	atomic_fetch_add(&cycle_end, 1);
	gr_futex_wake(&cycle_end, INT32_MAX);
	if (gr_cfg.gctrace)
		trace(last.cycle, t0, t_first, t_conc, t_stop, t_end, t_sweep, hs.objects_bytes, conc,
		      dirty_pages, why);
	gr_unlock(&gc_lock);
	return 0;
}

/* Spill the callee-saved registers into this frame, then collect with
 * the stack scanned from the spill area up: the caller's frames and every
 * register it may still hold a pointer in (caller-saved ones are dead
 * across this call). */
__attribute__((noinline)) int gr_gc_collect(const char *why)
{
	uintptr_t regs[6];
	__asm__ volatile("movq %%rbx, 0(%0)\n\t"
			 "movq %%rbp, 8(%0)\n\t"
			 "movq %%r12, 16(%0)\n\t"
			 "movq %%r13, 24(%0)\n\t"
			 "movq %%r14, 32(%0)\n\t"
			 "movq %%r15, 40(%0)\n\t"
			 :
			 : "r"(regs)
			 : "memory");
	int r = collect(why, (uintptr_t)regs);
	__asm__ volatile("" : : "r"(regs) : "memory");	/* keep regs live across the call */
	return r;
}

void gr_gc_last(struct gr_gc_result *r)
{
	gr_lock(&gc_lock);
	*r = last;
	gr_unlock(&gc_lock);
}

static void leak_report_locked(int fd);

void gr_gc_leak_report(int fd)
{
	gr_lock(&gc_lock);
	leak_report_locked(fd);
	gr_unlock(&gc_lock);
}

bool gr_gc_leak_report_try(int fd)
{
	if (!gr_trylock(&gc_lock))
		return false;
	leak_report_locked(fd);
	gr_unlock(&gc_lock);
	return true;
}

static void leak_report_locked(int fd)
{
	char line[256];
	/* By allocation site (core/allocsite.c), largest first, then the same
	 * objects by size class. */
	gr_leakagg_report(fd, last.leaked_objects, last.leaked_bytes);
	size_t n = gr_fmt(line, sizeof line, "\nby size class (gc %llu)%s:\n", (unsigned long long)last.cycle,
			  last.unsure ? " (unsure: some roots could not be seen)" : "");
	gr_write_all(fd, line, n);
	bool done[GR_NCLASSES] = { false };
	for (;;) {
		int best = -1;
		for (int k = 0; k < GR_NCLASSES; k++)
			if (!done[k] && last_cls_objects[k] &&
			    (best < 0 || last_cls_bytes[k] > last_cls_bytes[best]))
				best = k;
		if (best < 0)
			break;
		done[best] = true;
		if (best == 0)
			n = gr_fmt(line, sizeof line, "  %llu bytes in %llu large objects\n",
				   (unsigned long long)last_cls_bytes[0], (unsigned long long)last_cls_objects[0]);
		else
			n = gr_fmt(line, sizeof line, "  %llu bytes in %llu objects of %u bytes (class %d)\n",
				   (unsigned long long)last_cls_bytes[best], (unsigned long long)last_cls_objects[best],
				   gr_class[best].size, best);
		gr_write_all(fd, line, n);
	}
}

void gr_gc_fork_child(void)
{
	/* First: the inherited userfaultfd still acts on the parent (dirty.h). */
	gr_dirty_fork_child();
	conc_decided = false;
	conc_ok = false;
	gr_heap_arena_hook = NULL;
	const uint32_t *arenas;
	bool lost;
	uint32_t na = gr_heap_gc_arenas(&arenas, &lost);
	if (lost)
		memset(arena_reg, 0, sizeof arena_reg);
	else
		for (uint32_t i = 0; i < na; i++)
			if (arena_reg[arenas[i] >> 6])
				arena_reg[arenas[i] >> 6] = 0;
	/* One thread now: a cycle in progress elsewhere died with the fork
	 * (its world-stop and heap locks are reset by their own handlers). */
	gc_lock.state = 0;
	qlock.state = 0;
	gr_newm_lock.state = 0;
	kr_lock.state = 0;
	sweep_lock.state = 0;
	gr_heap_lazy_sweep(NULL);	/* the pending sweep runs at the next cycle */
	wk.wq_n = 0;
	wk.pq_n = 0;
	wk.len = 0;
	pool_lock.state = 0;
	pool_full = pool_free = NULL;
	pool_fresh = 0;
	atomic_store(&pool_n, 0);
	atomic_store(&pool_busy, 0);
	atomic_store(&assists_on, false);
	nsweep = 0;
	gr_heap_gc_mark_tc_end();
	atomic_store(&marking, false);
	/* The worker thread and helpers did not survive: sysmon starts others. */
	atomic_store(&worker_on, false);
	atomic_store(&nhelpers, 0);
	atomic_store(&ph_tid, 0);
	atomic_store(&ph_state, PH_IDLE);
	gr_stw_exempt(0);
	gr_stw_mapping_end_fn = NULL;
	atomic_store(&want_why, 0);
	atomic_store(&wake_word, 0);
	last_end = 0;
	if (on)
		pace(last.live_bytes, gr_heap_inuse_bytes());
}

void gr_gc_stats(struct grun_gc_stats *s)
{
	memset(s, 0, sizeof *s);
	gr_lock(&gc_lock);
	s->cycles = last.cycle;
	s->leaked_objects = last.leaked_objects;
	s->leaked_bytes = last.leaked_bytes;
	s->live_bytes = last.live_bytes;
	s->unsure = last.unsure;
	s->freed_objects = pz.freed_objects;
	s->freed_bytes = pz.freed_bytes;
	s->goal_bytes = pz.goal == UINT64_MAX ? 0 : pz.goal;
	s->pause_max_ns = pz.max_ns;
	s->pause_total_ns = pz.total_ns;
	s->pauses = pz.n;
	gr_unlock(&gc_lock);
	s->quarantine_objects = atomic_load(&qobjects);
	s->quarantine_bytes = atomic_load(&qbytes);
	s->dangling = atomic_load(&dangling_total);
	s->mode = on ? mode : GRUN_GC_OFF;
}

bool gr_gc_enabled(void)
{
	return on;
}

/* The exit-time cycle, for whoever reads it: the leak report, gctrace,
 * memstats, and quarantine's last dangling pointers. Nobody else would
 * see it: a process that exits would pay milliseconds for nothing. */
void gr_gc_atexit(void)
{
	if (mode != GR_GC_QUARANTINE && !gr_cfg.leakreport && !gr_cfg.gctrace && !gr_cfg.memstats)
		return;
	exiting = true;
	if (gr_gc_collect("exit") == 0 && gr_cfg.leakreport)
		gr_gc_leak_report(2);
}

/* Go's runtime/metrics names where they exist. Pauses: a histogram of
 * power-of-two buckets, "le" = upper bound in seconds. */
static void print_metrics(int fd)
{
	struct grun_gc_stats g;
	gr_gc_stats(&g);
	char buf[2048];
	size_t n = gr_fmt(buf, sizeof buf,
			  "/gc/cycles/total:gc-cycles %llu\n"
			  "/gc/heap/live:bytes %llu\n"
			  "/gc/heap/goal:bytes %llu\n"
			  "/cpu/classes/gc/total:cpu-seconds %lld.%09lld\n"
			  "/gc/leaked/objects:objects %llu\n"
			  "/gc/leaked/bytes:bytes %llu\n"
			  "/gc/collected/objects:objects %llu\n"
			  "/gc/collected/bytes:bytes %llu\n"
			  "/gc/quarantine/objects:objects %llu\n"
			  "/gc/quarantine/bytes:bytes %llu\n"
			  "/gc/quarantine/dangling:objects %llu\n"
			  "/gc/pauses:seconds count=%llu total=%lld.%09lld max=%lld.%09lld",
			  (unsigned long long)g.cycles, (unsigned long long)g.live_bytes,
			  (unsigned long long)g.goal_bytes, (long long)(atomic_load(&gc_ns_total) / 1000000000),
			  (long long)(atomic_load(&gc_ns_total) % 1000000000), (unsigned long long)g.leaked_objects,
			  (unsigned long long)g.leaked_bytes, (unsigned long long)g.freed_objects,
			  (unsigned long long)g.freed_bytes, (unsigned long long)g.quarantine_objects,
			  (unsigned long long)g.quarantine_bytes, (unsigned long long)g.dangling,
			  (unsigned long long)g.pauses, (long long)(g.pause_total_ns / 1000000000),
			  (long long)(g.pause_total_ns % 1000000000), (long long)(g.pause_max_ns / 1000000000),
			  (long long)(g.pause_max_ns % 1000000000));
	for (int b = 0; b < NPAUSEB; b++)
		if (pz.buckets[b] && n < sizeof buf - 64)
			n += gr_fmt(buf + n, sizeof buf - n, " le%lluus=%llu", 1ull << b,
				    (unsigned long long)pz.buckets[b]);
	n += gr_fmt(buf + n, sizeof buf - n, "\n");
	gr_write_all(fd, buf, n);
}

void gr_gc_init(void)
{
	init_ns = gr_nanotime();
	if (gr_cfg.gc == GR_GC_OFF)
		return;
	mode = gr_cfg.gc;
	on = true;
	if (mode == GR_GC_QUARANTINE)
		gr_heap_quarantine = quarantine;
	gr_gc_wake_fn = gr_gc_wake;
	gr_gc_assist_fn = assist;
	gr_heap_metrics_hook = print_metrics;
	pace(0, 0);
}
