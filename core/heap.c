/* heap: the program's malloc heap — page allocator, spans, mcentral,
 * caches, scavenger (Go's mheap.go / mcentral.go / mcache.go, in C, for
 * explicit free).
 *
 * Design. Memory comes in 64 MiB arenas reserved with mmap (NORESERVE,
 * MADV_NOHUGEPAGE), never unmapped or mremap'd. The page allocator (mheap)
 * hands out runs of 8 KiB pages, spans. A small span holds objects of one
 * size class (heap_sizeclass.h); a large object (> 32 KiB) has a span of
 * its own. Every arena has a page map (arena->spans) so any address finds
 * its span in two loads, and from it the object base by a multiply
 * (divmul): the GC's interior-pointer lookup. Free spans sit in per-size
 * free lists (exact lists under 128 pages, one best-fit list above) and
 * coalesce with free neighbours; a bitmap per arena says which pages are
 * known to be zero (fresh or released), so calloc writes only memory that
 * may be dirty.
 *
 * Small objects. Each M has a cache (gr_mcache): per class a LIFO list of
 * free objects linked through their first word. malloc pops, free pushes
 * onto the *freeing* context's list (tcmalloc's scheme: a cross-thread free
 * costs the same as a local one). A list that runs dry takes a batch
 * (about 16 KiB) from the class's mcentral; one that grows past two
 * batches gives one back. mcentral keeps partial spans and a small
 * transfer cache of whole batches, so producer/consumer pairs move a
 * batch in O(1) under the lock. Spans track objects in allocation bits
 * (set = handed out to a cache or the program; room for mark bits next to
 * them): at a stop-the-world point, after the caches are flushed, the
 * bits are exact — what the GC will read.
 *
 * Which cache. A G uses its M's cache: gr_mcaches[g->m->id]. No atomics
 * are needed: a G leaves its M only by parking (the heap never parks) and
 * is never preempted asynchronously while its PC is in libgrun; a cache
 * pointer is never kept across a call into libc. g0 and sysmon use their
 * M's. The initial thread before the scheduler starts uses a static main
 * cache through a __thread pointer (single-threaded programs pay no lock).
 * Foreign threads (glibc's helper threads) and Ms with an id past
 * GR_MAXMCACHE share one cache under a lock: they are few, and a shared
 * cache needs no exit hook (a __thread cache would leak at thread exit).
 * Rejected: per-P caches (entering the P costs a CAS per call); per-G
 * caches (thousands of Gs, flush at exit). Cost of the choice: an M that
 * blocks in a system call keeps its cached objects (bounded: two batches
 * per class); an M that exits (pinned G) leaks its cache's objects.
 *
 * Large objects go straight to the page allocator under the heap lock.
 *
 * Scavenger (gr_heap_scavenge_tick): keeps free dirty pages at about 10%
 * of the heap in use (at least 8 MiB), releasing with MADV_DONTNEED the
 * spans free for more than a second, at most 64 MiB per tick; over the
 * soft limit (GRUN_MEMLIMIT, else cgroup memory.max) it releases at once,
 * also from the allocation path before the heap grows.
 *
 * Invariants.
 *   page map: entry = the in-use span covering the page, or the free span
 *     whose first or last page it is, else NULL.
 *   small span: allocount == popcount(allocbits); on exactly one of its
 *     central's lists: partial iff allocount < nelems, else unswept (not
 *     swept since the last mark; the termination moves the full list
 *     there) or full; freed to the heap when allocount == 0 (unless it is
 *     the class's last partial span).
 *   central: allocated == sum of allocount over its spans; tc holds ntc
 *     lists of exactly batch objects, counted as allocated.
 *   heap: free_pages / zero_pages == sums of npages / nzero over listed
 *     free spans.
 *
 * Locks, in order (lowest first): shared-cache lock, central[k] (one at a
 * time; fork takes them in class order), heap lock, meta lock. All are
 * leaves toward the rest of the runtime: nothing else is taken under them
 * but the sweep callback's leaf locks (gc.c's sweep_lock, the allocation
 * sites' table), and no heap lock is held while allocating from the heap (allocating a
 * span drops the central lock; madvise runs with no lock held).
 */
#include "core/heap.h"
#include "core/config.h"
#include "core/gc.h"
#include "core/sys.h"

#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>

/* shims/malloc.c: glibc's malloc in GRUN_HEAP=0 mode, glibc's free for a
 * pointer outside the heap. Weak: the unit tests link the core alone. */
GR_HIDDEN void *gr_malloc_forward(size_t n) __attribute__((weak));
GR_HIDDEN void gr_malloc_foreign_free(void *p) __attribute__((weak));

#define FREELISTS 128			/* exact lists 1..127; [0]: >= 128 pages */
#define TCSLOTS 16			/* transfer cache batches per class */
#define SCAV_AGE_NS 1000000000LL	/* free this long before release */
#define SCAV_TICK_NS 50000000LL		/* lazy ticks from the allocator */
#define SCAV_MAX_BYTES (64u << 20)	/* per tick */
#define SCAV_FLOOR (8u << 20)		/* free dirty bytes always allowed */

int gr_heap_mode;
void (*gr_heap_quarantine)(void *p, struct gr_span *s);
/* The collector's pacer (gc.h), here so the heap links without it. */
_Atomic uint64_t gr_gc_trigger = UINT64_MAX;
void (*gr_gc_wake_fn)(int why);
_Atomic uint64_t gr_gc_hard = UINT64_MAX;
void (*gr_gc_assist_fn)(void);
void (*gr_heap_metrics_hook)(int fd);
_Atomic uint8_t gr_heap_sweepgen;
void (*gr_heap_arena_hook)(uintptr_t base, size_t len);
/* Bytes out of mcentral and the page heap: in caches or with the program
 * (the pacer's measure, Go's heapLive). */
static _Atomic uint64_t live_est;
struct gr_arena **gr_arena_index;
struct gr_mcache *gr_mcaches[GR_MAXMCACHE];
__thread struct gr_mcache *gr_tcache;
static __thread int tkind;		/* 0 unknown, 1 initial thread, 2 foreign */

static struct gr_lock init_lock;
static struct gr_mcache main_cache;
static struct gr_lock shared_lock;
static struct gr_mcache shared_cache;	/* shared_lock */

/* --- metadata: bump allocation from mmap'd chunks, never freed ---------- */

static struct gr_lock meta_lock;
static char *meta_cur, *meta_end;	/* meta_lock */
static _Atomic uint64_t meta_bytes;

static void gc_note_meta(uintptr_t p, size_t len);	/* GC support block */

static void *meta_alloc(size_t size)
{
	size = (size + 63) & ~(size_t)63;
	if (size >= (64u << 10)) {
		void *p = gr_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == (void *)-1)
			gr_throw("heap: out of memory for heap metadata");
		gc_note_meta((uintptr_t)p, size);	/* GC support block */
		atomic_fetch_add_explicit(&meta_bytes, size, memory_order_relaxed);
		return p;
	}
	gr_lock(&meta_lock);
	if ((size_t)(meta_end - meta_cur) < size) {
		size_t chunk = 256u << 10;
		char *p = gr_mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == (void *)-1)
			gr_throw("heap: out of memory for heap metadata");
		gc_note_meta((uintptr_t)p, chunk);	/* GC support block */
		atomic_fetch_add_explicit(&meta_bytes, chunk, memory_order_relaxed);
		meta_cur = p;
		meta_end = p + chunk;
	}
	void *r = meta_cur;
	meta_cur += size;
	gr_unlock(&meta_lock);
	return r;
}

/* --- bootstrap arena ------------------------------------------------------ */

/* For allocations that cannot wait for the heap (re-entry while it
 * initializes, dlsym's calloc while glibc's functions are resolved in
 * GRUN_HEAP=0 mode). Each block has a 16-byte header holding its size;
 * free() of a block is a no-op. */
static char boot_arena[256 << 10] __attribute__((aligned(4096)));
static _Atomic size_t boot_used;

void *gr_heap_bootstrap_alloc(size_t size, size_t align)
{
	if (align < 16)
		align = 16;
	if (size > sizeof boot_arena)
		return NULL;
	size_t old = atomic_load_explicit(&boot_used, memory_order_relaxed), start, end;
	do {
		start = (old + 16 + align - 1) & ~(align - 1);
		end = start + ((size + 15) & ~(size_t)15);
		if (end > sizeof boot_arena)
			return NULL;
	} while (!atomic_compare_exchange_weak_explicit(&boot_used, &old, end, memory_order_relaxed,
							memory_order_relaxed));
	*(size_t *)(boot_arena + start - 16) = size;
	return boot_arena + start;
}

bool gr_heap_is_bootstrap(const void *p)
{
	return (const char *)p >= boot_arena && (const char *)p < boot_arena + sizeof boot_arena;
}

bool gr_heap_owns(const void *p)
{
	if (gr_heap_is_bootstrap(p))
		return true;
	uintptr_t a = (uintptr_t)p;
	return gr_arena_index && !(a >> GR_ADDRBITS) && gr_arena_index[a >> GR_ARENASHIFT];
}

/* --- the page allocator (mheap) --------------------------------------------- */

static struct {
	struct gr_lock lock;
	struct gr_span *free[FREELISTS];	/* by npages; [0] = large */
	uint64_t nonempty[FREELISTS / 64];	/* bit n: free[n] non-empty */
	struct gr_span *deadspans[5];		/* recycled structs by log2 of nbitw */
	uintptr_t hint;				/* page number of the end of the last arena reserved */
	_Atomic uint64_t free_pages, zero_pages;	/* over listed free spans */
	_Atomic uint64_t inuse_pages;		/* in small and large spans */
	_Atomic uint64_t mapped;		/* bytes of arenas */
	_Atomic uint64_t large_allocs, large_alloc_bytes, large_frees, large_free_bytes;
	_Atomic uint64_t small_span_bytes;	/* pages in small spans, bytes */
} mheap;

static _Atomic int64_t scav_last;
static _Atomic bool scav_running;
static _Atomic uint64_t released_total;

static inline struct gr_arena *arena_of(uintptr_t a)
{
	return gr_arena_index[a >> GR_ARENASHIFT];
}
static inline unsigned page_in_arena(uintptr_t a)
{
	return (unsigned)((a >> GR_PAGESHIFT) & (GR_ARENAPAGES - 1));
}

/* Span entry of the page at a (which may be outside the heap: NULL). */
static struct gr_span *page_span(uintptr_t a)
{
	if (a >> GR_ADDRBITS)
		return NULL;
	struct gr_arena *ar = arena_of(a);
	return ar ? ar->spans[page_in_arena(a)] : NULL;
}

static void set_entry(uintptr_t a, struct gr_span *s)
{
	arena_of(a)->spans[page_in_arena(a)] = s;
}

static void set_range(uintptr_t base, size_t n, struct gr_span *s)
{
	for (size_t i = 0; i < n; i++)
		set_entry(base + (i << GR_PAGESHIFT), s);
}

/* Zero-page bits over [base, base + n pages): op 0 count, 1 set, 2 clear. */
/* Bits set in x, without libgcc's out-of-line __popcountdi2 (the x86-64
 * baseline has no popcnt instruction). */
static inline size_t pop64(uint64_t x)
{
	if (x == 0 || x == ~0ull)
		return x ? 64 : 0;
	x = x - ((x >> 1) & 0x5555555555555555ull);
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (size_t)((x * 0x0101010101010101ull) >> 56);
}

static size_t zero_bits(uintptr_t base, size_t n, int op)
{
	size_t count = 0;
	while (n) {
		struct gr_arena *ar = arena_of(base);
		unsigned pg = page_in_arena(base);
		size_t k = GR_ARENAPAGES - pg < n ? GR_ARENAPAGES - pg : n;
		for (size_t i = pg; i < pg + k;) {
			unsigned w = (unsigned)(i >> 6), b = (unsigned)(i & 63);
			size_t m = 64 - b < pg + k - i ? 64 - b : pg + k - i;
			uint64_t mask = (m == 64 ? ~0ull : ((1ull << m) - 1)) << b;
			if (op == 0)
				count += pop64(ar->zero[w] & mask);
			else if (op == 1)
				ar->zero[w] |= mask;
			else
				ar->zero[w] &= ~mask;
			i += m;
		}
		base += k << GR_PAGESHIFT;
		n -= k;
	}
	return count;
}

static struct gr_span *span_new_locked(unsigned nw)
{
	gr_assert(nw && nw <= GR_MAXBITWORDS && !(nw & (nw - 1)), "heap: bad span bit words");
	unsigned k = (unsigned)__builtin_ctz(nw);
	struct gr_span *s = mheap.deadspans[k];
	if (s)
		mheap.deadspans[k] = s->next;
	else
		s = meta_alloc(sizeof *s + 2 * nw * sizeof(uint64_t));
	memset(s, 0, sizeof *s + 2 * nw * sizeof(uint64_t));
	s->nbitw = (uint8_t)nw;
	return s;
}

static void span_dead_locked(struct gr_span *s)
{
	s->state = SPAN_DEAD;
	unsigned k = (unsigned)__builtin_ctz(s->nbitw);
	s->next = mheap.deadspans[k];
	mheap.deadspans[k] = s;
}

static unsigned list_of(size_t npages)
{
	return npages < FREELISTS ? (unsigned)npages : 0;
}

static void free_insert_locked(struct gr_span *s)
{
	unsigned k = list_of(s->npages);
	s->state = SPAN_FREE;
	s->sizeclass = 0;
	s->prev = NULL;
	s->next = mheap.free[k];
	if (s->next)
		s->next->prev = s;
	mheap.free[k] = s;
	mheap.nonempty[k >> 6] |= 1ull << (k & 63);
	set_entry(s->base, s);
	set_entry(s->base + ((s->npages - 1) << GR_PAGESHIFT), s);
	atomic_fetch_add_explicit(&mheap.free_pages, s->npages, memory_order_relaxed);
	atomic_fetch_add_explicit(&mheap.zero_pages, s->nzero, memory_order_relaxed);
}

static void free_remove_locked(struct gr_span *s)
{
	unsigned k = list_of(s->npages);
	if (s->prev)
		s->prev->next = s->next;
	else
		mheap.free[k] = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (!mheap.free[k])
		mheap.nonempty[k >> 6] &= ~(1ull << (k & 63));
	s->next = s->prev = NULL;
	atomic_fetch_sub_explicit(&mheap.free_pages, s->npages, memory_order_relaxed);
	atomic_fetch_sub_explicit(&mheap.zero_pages, s->nzero, memory_order_relaxed);
}

/* Insert free span s (no page map entries set), merging free neighbours. */
static void free_coalesce_locked(struct gr_span *s)
{
	struct gr_span *p = page_span(s->base - GR_PAGESIZE);
	if (p && p->state == SPAN_FREE) {
		free_remove_locked(p);
		set_entry(s->base - GR_PAGESIZE, NULL);
		set_entry(p->base, NULL);
		s->base = p->base;
		s->npages += p->npages;
		s->nzero += p->nzero;
		if (p->freedat > s->freedat)
			s->freedat = p->freedat;
		span_dead_locked(p);
	}
	uintptr_t end = s->base + (s->npages << GR_PAGESHIFT);
	struct gr_span *n = page_span(end);
	if (n && n->state == SPAN_FREE) {
		free_remove_locked(n);
		set_entry(end, NULL);
		set_entry(n->base + ((n->npages - 1) << GR_PAGESHIFT), NULL);
		s->npages += n->npages;
		s->nzero += n->nzero;
		if (n->freedat > s->freedat)
			s->freedat = n->freedat;
		span_dead_locked(n);
	}
	free_insert_locked(s);
}

/* Reserve len bytes (a multiple of GR_ARENASIZE), arena-aligned. */
static uintptr_t reserve(size_t len)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	if (mheap.hint) {
		uintptr_t hint = mheap.hint << GR_PAGESHIFT;
		void *p = gr_mmap((void *)hint, len, PROT_READ | PROT_WRITE, flags, -1, 0);
		if (p != (void *)-1) {
			if ((uintptr_t)p == hint)
				return (uintptr_t)p;
			gr_munmap(p, len);
		}
	}
	char *p = gr_mmap(NULL, len + GR_ARENASIZE, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == (void *)-1)
		return 0;
	uintptr_t a = ((uintptr_t)p + GR_ARENASIZE - 1) & ~(GR_ARENASIZE - 1);
	if (a > (uintptr_t)p)
		gr_munmap(p, a - (uintptr_t)p);
	uintptr_t tail = (uintptr_t)p + len + GR_ARENASIZE - (a + len);
	if (tail)
		gr_munmap((void *)(a + len), tail);
	return a;
}

static void gc_note_arena(uintptr_t a);	/* GC support block */

/* Map arenas for at least npages; the new pages join the free lists. */
static bool grow_locked(size_t npages)
{
	size_t len = ((npages << GR_PAGESHIFT) + GR_ARENASIZE - 1) & ~(GR_ARENASIZE - 1);
	uintptr_t base = reserve(len);
	if (!base || ((base + len - 1) >> GR_ADDRBITS)) {
		if (base)
			gr_munmap((void *)base, len);
		return false;
	}
	gr_sys(SYS_madvise, base, len, MADV_NOHUGEPAGE);	/* ignored error: THP may be unsupported */
	if (gr_heap_arena_hook)
		gr_heap_arena_hook(base, len);	/* the collector tracks writes from the start */
	for (uintptr_t a = base; a < base + len; a += GR_ARENASIZE) {
		struct gr_arena *ar = meta_alloc(sizeof *ar);
		memset(ar->zero, 0xff, sizeof ar->zero);
		__atomic_store_n(&gr_arena_index[a >> GR_ARENASHIFT], ar, __ATOMIC_RELEASE);
		gc_note_arena(a);	/* GC support block */
	}
	mheap.hint = (base + len) >> GR_PAGESHIFT;	/* a page number: not a heap address (gc roots) */
	atomic_fetch_add_explicit(&mheap.mapped, len, memory_order_relaxed);
	struct gr_span *s = span_new_locked(1);
	s->base = base;
	s->npages = len >> GR_PAGESHIFT;
	s->nzero = (uint32_t)s->npages;
	s->freedat = gr_nanotime_coarse();
	free_coalesce_locked(s);
	return true;
}

/* A listed free span of at least npages, or NULL. */
static struct gr_span *find_free_locked(size_t npages)
{
	if (npages < FREELISTS) {
		for (unsigned w = (unsigned)(npages >> 6); w < FREELISTS / 64; w++) {
			uint64_t bits = mheap.nonempty[w];
			if (w == npages >> 6)
				bits &= ~0ull << (npages & 63);
			if (bits)
				return mheap.free[w * 64 + (unsigned)__builtin_ctzll(bits)];
		}
	}
	struct gr_span *best = NULL;
	for (struct gr_span *s = mheap.free[0]; s; s = s->next)
		if (s->npages >= npages && (!best || s->npages < best->npages ||
					    (s->npages == best->npages && s->base < best->base)))
			best = s;
	return best;
}

/* Cut [start, start + n pages) out of free span f (already unlisted);
 * the rest goes back on the free lists. Returns the new in-use span. */
static struct gr_span *carve_locked(struct gr_span *f, uintptr_t start, size_t n, unsigned nw)
{
	uintptr_t fend = f->base + (f->npages << GR_PAGESHIFT), end = start + (n << GR_PAGESHIFT);
	set_entry(f->base, NULL);
	set_entry(fend - GR_PAGESIZE, NULL);
	struct gr_span *s = span_new_locked(nw);
	s->base = start;
	s->npages = n;
	atomic_store_explicit(&s->sweepgen, atomic_load(&gr_heap_sweepgen), memory_order_relaxed);
	/* Zero-page counts: count the small pieces, derive the big one
	 * (the remainder of a large free span is often most of an arena). */
	size_t zcut = zero_bits(start, n, 0);
	size_t zbefore = start > f->base ? zero_bits(f->base, (start - f->base) >> GR_PAGESHIFT, 0) : 0;
	size_t ztotal = f->nzero;
	if (end < fend) {
		struct gr_span *t = span_new_locked(1);
		t->base = end;
		t->npages = (fend - end) >> GR_PAGESHIFT;
		t->nzero = (uint32_t)(ztotal >= zcut + zbefore ? ztotal - zcut - zbefore : 0);
		t->freedat = f->freedat;
		free_insert_locked(t);
	}
	if (start > f->base) {
		f->npages = (start - f->base) >> GR_PAGESHIFT;
		f->nzero = (uint32_t)zbefore;
		free_insert_locked(f);
	} else {
		span_dead_locked(f);
	}
	s->needzero = zcut != n;
	zero_bits(start, n, 2);
	set_range(start, n, s);
	atomic_fetch_add_explicit(&mheap.inuse_pages, n, memory_order_relaxed);
	return s;
}

/* An in-use span of npages whose base is aligned to alignpages pages. */
static struct gr_span *alloc_pages_locked(size_t npages, size_t alignpages, unsigned nw)
{
	size_t need = npages + alignpages - 1;
	struct gr_span *f = find_free_locked(need);
	if (!f) {
		if (!grow_locked(need))
			return NULL;
		f = find_free_locked(need);
		if (!f)
			gr_throw("heap: no free span after growing");
	}
	free_remove_locked(f);
	size_t align = alignpages << GR_PAGESHIFT;
	uintptr_t start = (f->base + align - 1) & ~(align - 1);
	return carve_locked(f, start, npages, nw);
}

/* Return in-use span s to the free lists. */
static void free_pages_locked(struct gr_span *s)
{
	atomic_fetch_sub_explicit(&mheap.inuse_pages, s->npages, memory_order_relaxed);
	set_range(s->base, s->npages, NULL);
	s->nzero = 0;
	s->allocount = 0;
	s->freedat = gr_nanotime_coarse();
	free_coalesce_locked(s);
}

/* --- soft limit --------------------------------------------------------------- */

static uint64_t cgroup_limit;
static _Atomic int cgroup_read;		/* 0 not yet, 1 reading, 2 done */

static uint64_t read_cgroup_limit(void)
{
	char buf[512], path[700];
	long f = gr_sys(SYS_open, "/proc/self/cgroup", O_RDONLY | O_CLOEXEC, 0);
	if (f < 0)
		return 0;
	long k = gr_sys(SYS_read, f, buf, sizeof buf - 1);
	gr_sys(SYS_close, f, 0, 0);
	if (k <= 0)
		return 0;
	buf[k] = 0;
	char *line = strstr(buf, "0::");	/* cgroup v2 */
	if (!line)
		return 0;
	char *nl = strchr(line, '\n');
	if (nl)
		*nl = 0;
	gr_fmt(path, sizeof path, "/sys/fs/cgroup%s/memory.max", line + 3);
	f = gr_sys(SYS_open, path, O_RDONLY | O_CLOEXEC, 0);
	if (f < 0)
		return 0;
	k = gr_sys(SYS_read, f, buf, sizeof buf - 1);
	gr_sys(SYS_close, f, 0, 0);
	if (k <= 0)
		return 0;
	buf[k] = 0;
	uint64_t v = 0;
	for (char *c = buf; *c >= '0' && *c <= '9'; c++)
		v = v * 10 + (uint64_t)(*c - '0');
	return v;	/* "max" reads as 0: none */
}

/* GRUN_MEMLIMIT once the configuration is parsed (zero before), else
 * the cgroup's memory.max. */
static uint64_t memlimit(void)
{
	if (gr_cfg.memlimit)
		return gr_cfg.memlimit;
	int st = atomic_load_explicit(&cgroup_read, memory_order_acquire);
	if (st == 0 && atomic_compare_exchange_strong(&cgroup_read, &st, 1)) {
		cgroup_limit = read_cgroup_limit();
		atomic_store_explicit(&cgroup_read, 2, memory_order_release);
	}
	return st == 2 || atomic_load_explicit(&cgroup_read, memory_order_acquire) == 2 ? cgroup_limit : 0;
}

/* --- scavenger ---------------------------------------------------------------- */

/* Release up to bytes of free dirty pages freed before older_than.
 * Called with no heap lock held. Returns the bytes released. */
static uint64_t release(uint64_t bytes, int64_t older_than)
{
	uint64_t done = 0;
	int visits = 0;
	while (done < bytes && visits < 4096) {
		gr_lock(&mheap.lock);
		struct gr_span *pick = NULL;
		for (int k = 0; k < FREELISTS && !pick; k = k == 0 ? FREELISTS - 1 : k - 1) {
			for (struct gr_span *s = mheap.free[k]; s && visits < 4096; s = s->next, visits++) {
				if (s->nzero < s->npages && s->freedat <= older_than) {
					pick = s;
					break;
				}
			}
			if (k == 1)
				break;
		}
		if (!pick) {
			gr_unlock(&mheap.lock);
			break;
		}
		free_remove_locked(pick);
		pick->state = SPAN_BUSY;
		uint64_t dirty = (pick->npages - pick->nzero) << GR_PAGESHIFT;
		gr_unlock(&mheap.lock);
		/* Committed: the span is ours alone until it is listed again. */
		gr_sys(SYS_madvise, pick->base, pick->npages << GR_PAGESHIFT, MADV_DONTNEED);
		gr_lock(&mheap.lock);
		zero_bits(pick->base, pick->npages, 1);
		pick->nzero = (uint32_t)pick->npages;
		set_entry(pick->base, NULL);
		set_entry(pick->base + ((pick->npages - 1) << GR_PAGESHIFT), NULL);
		free_coalesce_locked(pick);
		gr_unlock(&mheap.lock);
		done += dirty;
	}
	atomic_fetch_add_explicit(&released_total, done, memory_order_relaxed);
	return done;
}

uint64_t gr_heap_inuse_bytes(void)
{
	return atomic_load_explicit(&live_est, memory_order_relaxed);
}

void gr_heap_scavenge_tick(int64_t now)
{
	if (gr_heap_mode != 1)
		return;
	bool f = false;
	if (!atomic_compare_exchange_strong(&scav_running, &f, true))
		return;
	atomic_store_explicit(&scav_last, now, memory_order_relaxed);
	uint64_t inuse = atomic_load_explicit(&mheap.inuse_pages, memory_order_relaxed) << GR_PAGESHIFT;
	uint64_t freep = atomic_load_explicit(&mheap.free_pages, memory_order_relaxed);
	uint64_t zerop = atomic_load_explicit(&mheap.zero_pages, memory_order_relaxed);
	uint64_t dirty = (freep > zerop ? freep - zerop : 0) << GR_PAGESHIFT;
	uint64_t target = inuse / 10 > SCAV_FLOOR ? inuse / 10 : SCAV_FLOOR;
	uint64_t limit = memlimit();
	int64_t age = now - SCAV_AGE_NS;
	if (limit && inuse + dirty > limit) {
		target = limit > inuse ? limit - inuse : 0;
		age = INT64_MAX;
	}
	if (dirty > target) {
		uint64_t want = dirty - target;
		release(want < SCAV_MAX_BYTES || age == INT64_MAX ? want : SCAV_MAX_BYTES, age);
	}
	atomic_store(&scav_running, false);
}

/* The allocator's own pacing until sysmon calls the tick. No lock held. */
static void maybe_tick(void)
{
	int64_t now = gr_nanotime_coarse();
	if (now - atomic_load_explicit(&scav_last, memory_order_relaxed) >= SCAV_TICK_NS)
		gr_heap_scavenge_tick(now);
}

/* Before the heap grows by bytes: stay under the soft limit if free
 * pages can be released. No lock held. */
static void limit_check(size_t bytes)
{
	uint64_t limit = memlimit();
	if (!limit)
		return;
	uint64_t inuse = atomic_load_explicit(&mheap.inuse_pages, memory_order_relaxed) << GR_PAGESHIFT;
	uint64_t freep = atomic_load_explicit(&mheap.free_pages, memory_order_relaxed);
	uint64_t zerop = atomic_load_explicit(&mheap.zero_pages, memory_order_relaxed);
	uint64_t dirty = (freep > zerop ? freep - zerop : 0) << GR_PAGESHIFT;
	if (inuse + dirty + bytes > limit && dirty > 0)
		release(inuse + dirty + bytes - limit, INT64_MAX);
}

/* --- mcentral ------------------------------------------------------------------- */

struct gr_central {
	struct gr_lock lock;
	uint32_t ntc;			/* batches in tc; lock */
	struct gr_span *partial;	/* spans with a clear allocbit; lock */
	struct gr_span *full;		/* spans without one, swept; lock */
	struct gr_span *unswept;	/* spans without one, not swept since the last mark; lock */
	void *tc[TCSLOTS];		/* lists of exactly batch objects; lock */
	_Atomic uint64_t allocated;	/* objects with their allocbit set; lock for writes */
} __attribute__((aligned(64)));

static struct gr_central central[GR_NCLASSES];

/* A concurrent mark is running: batches entering a transfer cache are
 * marked (gr_heap_gc_mark_tc_begin). */
static _Atomic bool tc_marking;

/* Set the mark bit of each object of a free list (transfer caches). */
static void mark_free_list(void *p)
{
	for (; p; p = *(void **)p)
		gr_span_mark_object(gr_heap_spanof(p), p);
}

static inline bool span_stale(const struct gr_span *s)
{
	return atomic_load_explicit(&s->sweepgen, memory_order_relaxed) !=
	       atomic_load_explicit(&gr_heap_sweepgen, memory_order_relaxed);
}

static void span_push(struct gr_span **head, struct gr_span *s)
{
	s->prev = NULL;
	s->next = *head;
	if (s->next)
		s->next->prev = s;
	*head = s;
	s->listed = true;
}

/* A listed span without a predecessor heads one of the three lists. */
static void span_unlink(struct gr_central *c, struct gr_span *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else if (c->partial == s)
		c->partial = s->next;
	else if (c->full == s)
		c->full = s->next;
	else
		c->unswept = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	s->listed = false;
}

/* (Re)file s on the list its count and sweep generation call for. */
static void span_file(struct gr_central *c, struct gr_span *s)
{
	if (s->listed)
		span_unlink(c, s);
	span_push(s->allocount < s->nelems ? &c->partial : span_stale(s) ? &c->unswept : &c->full, s);
}

/* The only span on the partial list (kept when it empties). */
static inline bool last_partial(const struct gr_central *c, const struct gr_span *s)
{
	return c->partial == s && !s->next;
}

static bool sweep_small_locked(struct gr_central *c, struct gr_span *s, bool collect,
			       void (*fn)(uintptr_t obj, size_t size, unsigned cls, void *arg), void *arg);

/* Lazy sweep (Go's mcentral.cacheSpan), collect mode while a sweep runs
 * (gr_heap_lazy_sweep): a partial span is swept before objects are carved
 * from it (so they are not black and its garbage is reused at once), and
 * with no partial span left the class's unswept full spans are swept until
 * one has room: at most *budget sweeps, then a fresh span. Central lock
 * held. */
static void (*_Atomic lazy_fn)(uintptr_t obj, size_t size, unsigned cls, void *arg);
#define LAZY_SPANS 64		/* sweeps a central_take may do */

static struct gr_span *lazy_partial(struct gr_central *c, unsigned *budget)
{
	for (;;) {
		struct gr_span *s = c->partial;
		if (s && !span_stale(s))
			return s;
		if (!s)
			s = c->unswept;
		void (*fn)(uintptr_t, size_t, unsigned, void *) =
			atomic_load_explicit(&lazy_fn, memory_order_acquire);
		if (!s || !*budget || !fn)
			return c->partial;
		(*budget)--;
		sweep_small_locked(c, s, true, fn, NULL);	/* files it: partial first if it has room */
	}
}

/* A fresh span for class cls from the page allocator. No lock held. */
static struct gr_span *span_alloc_small(unsigned cls)
{
	const struct gr_sizeclass *sc = &gr_class[cls];
	limit_check((size_t)sc->npages << GR_PAGESHIFT);
	gr_lock(&mheap.lock);
	struct gr_span *s = alloc_pages_locked(sc->npages, 1, gr_span_words_for(sc->nelems));
	if (s) {
		s->state = SPAN_SMALL;
		s->elemsize = sc->size;
		s->nelems = sc->nelems;
		s->divmul = sc->divmul;
		/* Bits past nelems stay set: never handed out. */
		unsigned nw = gr_span_bitwords(s);
		uint64_t *ab = gr_span_allocbits(s);
		for (unsigned i = 0; i < nw; i++) {
			unsigned lo = i * 64;
			if (lo >= sc->nelems)
				ab[i] = ~0ull;
			else if (sc->nelems - lo < 64)
				ab[i] = ~0ull << (sc->nelems - lo);
		}
		atomic_fetch_add_explicit(&mheap.small_span_bytes, (uint64_t)sc->npages << GR_PAGESHIFT,
					  memory_order_relaxed);
		/* Committed: publish the class last; the page map already
		 * points here but nothing refers to these objects yet. */
		s->sizeclass = (uint8_t)cls;
	}
	gr_unlock(&mheap.lock);
	return s;
}

/* Take up to want objects of class cls as a NULL-terminated list. */
static uint32_t central_take(unsigned cls, uint32_t want, void **out)
{
	struct gr_central *c = &central[cls];
	void *head = NULL, **tail = &head;
	uint32_t n = 0;
	gr_lock(&c->lock);
	if (c->ntc && want == gr_class[cls].batch) {
		*out = c->tc[--c->ntc];
		gr_unlock(&c->lock);
		atomic_fetch_add_explicit(&live_est, (uint64_t)want * gr_class[cls].size, memory_order_relaxed);
		return want;
	}
	unsigned budget = atomic_load_explicit(&lazy_fn, memory_order_relaxed) ? LAZY_SPANS : 0;
	while (n < want) {
		struct gr_span *s = budget ? lazy_partial(c, &budget) : c->partial;
		if (!s) {
			gr_unlock(&c->lock);
			s = span_alloc_small(cls);
			gr_lock(&c->lock);
			if (!s)
				break;
			span_push(&c->partial, s);
			continue;
		}
		uint64_t *ab = gr_span_allocbits(s);
		unsigned nw = gr_span_bitwords(s), taken = 0;
		uintptr_t size = s->elemsize;
		/* Not swept since the last mark: what it hands out is black. */
		bool black = span_stale(s);
		for (unsigned i = s->freeword; i < nw && n < want; i++) {
			uint64_t free = ~ab[i];
			while (free && n < want) {
				unsigned b = (unsigned)__builtin_ctzll(free);
				free &= free - 1;
				ab[i] |= 1ull << b;
				if (black)
					atomic_fetch_or_explicit((_Atomic uint64_t *)&gr_span_markbits(s)[i],
								 1ull << b, memory_order_relaxed);
				void *obj = (void *)(s->base + ((uintptr_t)i * 64 + b) * size);
				*tail = obj;
				tail = (void **)obj;
				n++;
				taken++;
			}
			s->freeword = free ? i : i + 1;
		}
		s->allocount += taken;
		if (s->allocount == s->nelems)
			span_file(c, s);
	}
	*tail = NULL;
	atomic_store_explicit(&c->allocated, atomic_load_explicit(&c->allocated, memory_order_relaxed) + n,
			      memory_order_relaxed);
	gr_unlock(&c->lock);
	atomic_fetch_add_explicit(&live_est, (uint64_t)n * gr_class[cls].size, memory_order_relaxed);
	*out = head;
	return n;
}

/* Give back a NULL-terminated list of n objects of class cls. */
/* to_tc: a whole batch may go to the transfer cache as it is. */
static void central_release(unsigned cls, void *list, uint32_t n, bool to_tc)
{
	struct gr_central *c = &central[cls];
	struct gr_span *empty = NULL;
	atomic_fetch_sub_explicit(&live_est, (uint64_t)n * gr_class[cls].size, memory_order_relaxed);
	gr_lock(&c->lock);
	if (to_tc && n == gr_class[cls].batch && c->ntc < TCSLOTS) {
		c->tc[c->ntc++] = list;
		if (atomic_load_explicit(&tc_marking, memory_order_relaxed))
			mark_free_list(list);
		gr_unlock(&c->lock);
		return;
	}
	uint32_t k = 0;
	while (list) {
		void *obj = list;
		list = *(void **)obj;
		struct gr_span *s = gr_heap_spanof(obj);
		gr_assert(s && s->sizeclass == cls, "heap: object of another class on a cache list");
		uint32_t idx = (uint32_t)(((uint64_t)((uintptr_t)obj - s->base) * s->divmul) >> 32);
		uint64_t *ab = gr_span_allocbits(s);
		uint64_t bit = 1ull << (idx & 63);
		gr_assert(ab[idx >> 6] & bit, "heap: free of an object that is not allocated");
		ab[idx >> 6] &= ~bit;
		if (idx >> 6 < s->freeword)
			s->freeword = idx >> 6;
		if (s->allocount == s->nelems) {
			span_unlink(c, s);	/* full or unswept: it has room now */
			span_push(&c->partial, s);
		}
		if (--s->allocount == 0 && !last_partial(c, s)) {
			span_unlink(c, s);
			s->next = empty;
			empty = s;
		}
		k++;
	}
	atomic_store_explicit(&c->allocated, atomic_load_explicit(&c->allocated, memory_order_relaxed) - k,
			      memory_order_relaxed);
	gr_unlock(&c->lock);
	if (empty) {
		gr_lock(&mheap.lock);
		while (empty) {
			struct gr_span *s = empty;
			empty = s->next;
			atomic_fetch_sub_explicit(&mheap.small_span_bytes, s->npages << GR_PAGESHIFT,
						  memory_order_relaxed);
			free_pages_locked(s);
		}
		gr_unlock(&mheap.lock);
		maybe_tick();
	}
}

/* Return the transfer cache's batches to their spans (trim, fork). */
static void central_drain(unsigned cls)
{
	struct gr_central *c = &central[cls];
	for (;;) {
		gr_lock(&c->lock);
		if (!c->ntc) {
			gr_unlock(&c->lock);
			return;
		}
		void *list = c->tc[--c->ntc];
		gr_unlock(&c->lock);
		central_release(cls, list, gr_class[cls].batch, false);
	}
}

/* --- caches ----------------------------------------------------------------------- */

static void cache_init(struct gr_mcache *c)
{
	for (unsigned k = 1; k < GR_NCLASSES; k++)
		c->l[k].max = 2u * gr_class[k].batch;
}

static void *cache_refill(struct gr_mcache *c, unsigned cls)
{
	struct gr_cachelist *l = &c->l[cls];
	void *list;
	uint32_t n = central_take(cls, gr_class[cls].batch, &list);
	if (!n)
		return NULL;
	gr_gc_pace(atomic_load_explicit(&live_est, memory_order_relaxed));
	l->head = *(void **)list;
	l->n = n - 1;
	l->nmalloc++;
	return list;
}

void gr_heap_cache_overflow(struct gr_mcache *c, unsigned cls)
{
	struct gr_cachelist *l = &c->l[cls];
	uint32_t batch = gr_class[cls].batch;
	void *list = l->head, *cut = list;
	for (uint32_t i = 1; i < batch; i++)
		cut = *(void **)cut;
	l->head = *(void **)cut;
	*(void **)cut = NULL;
	l->n -= batch;
	central_release(cls, list, batch, true);
}

/* Give every object in c back to mcentral. */
static void cache_flush(struct gr_mcache *c)
{
	for (unsigned k = 1; k < GR_NCLASSES; k++) {
		struct gr_cachelist *l = &c->l[k];
		if (l->head) {
			void *list = l->head;
			uint32_t n = l->n;
			l->head = NULL;
			l->n = 0;
			central_release(k, list, n, false);
		}
	}
}

/* The cache for this context when the inline lookup found none: creates
 * the M's cache, or picks the main or the shared one. *locked is set when
 * the shared lock was taken (release it with unlock_shared). */
static struct gr_mcache *context_cache(bool *locked)
{
	*locked = false;
	struct gr_g *g = gr_curg;
	struct gr_m *m = g ? g->m : gr_curm;
	if (m) {
		uint32_t id = (uint32_t)m->id;
		if (id < GR_MAXMCACHE) {
			if (!gr_mcaches[id]) {
				struct gr_mcache *c = meta_alloc(sizeof *c);
				memset(c, 0, sizeof *c);
				cache_init(c);
				__atomic_store_n(&gr_mcaches[id], c, __ATOMIC_RELEASE);
			}
			if (g && g->is_main && main_cache.l[1].max) {
				/* The initial thread is G1 now: main_cache is
				 * unreachable from here on. */
				cache_flush(&main_cache);
				main_cache.l[1].max = 0;
			}
			return gr_mcaches[id];
		}
	} else if (gr_tcache) {
		return gr_tcache;
	} else if (tkind == 0) {
		bool initial = gr_sys(SYS_gettid, 0, 0, 0) == gr_sys(SYS_getpid, 0, 0, 0) &&
			       !atomic_load(&gr_sched.started);
		tkind = initial ? 1 : 2;
		if (initial) {
			gr_tcache = &main_cache;
			return gr_tcache;
		}
	}
	gr_lock(&shared_lock);
	*locked = true;
	return &shared_cache;
}

static void *alloc_large(size_t size, size_t align, bool zero);

void *gr_heap_alloc_slow(size_t size)
{
	if (unlikely(gr_heap_mode != 1)) {
		gr_heap_init();
		if (gr_heap_mode != 1)
			return gr_malloc_forward ? gr_malloc_forward(size) : gr_heap_bootstrap_alloc(size, 16);
	}
	if (size > GR_MAXSMALL)
		return alloc_large(size, GR_PAGESIZE, false);
	unsigned cls = gr_size_to_class(size);
	bool locked;
	struct gr_mcache *c = context_cache(&locked);
	struct gr_cachelist *l = &c->l[cls];
	void *p = l->head;
	if (p) {
		l->head = *(void **)p;
		l->n--;
		l->nmalloc++;
	} else {
		p = cache_refill(c, cls);
	}
	/* The free list's link is not handed out: a program that writes
	 * only part of its object would leave a pointer to another (free)
	 * object there, which a conservative mark takes for a reference
	 * (measured: a third of quarantine's freed objects held as "possible
	 * dangling" on alloc_mixed). */
	if (p)
		*(void **)p = NULL;
	if (locked)
		gr_unlock(&shared_lock);
	gr_gc_assist_check(atomic_load_explicit(&live_est, memory_order_relaxed));
	return p;
}

static void free_large(struct gr_span *s)
{
	atomic_fetch_sub_explicit(&live_est, s->npages << GR_PAGESHIFT, memory_order_relaxed);
	atomic_fetch_add_explicit(&mheap.large_frees, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&mheap.large_free_bytes, s->npages << GR_PAGESHIFT, memory_order_relaxed);
	gr_lock(&mheap.lock);
	free_pages_locked(s);
	gr_unlock(&mheap.lock);
	maybe_tick();
}


static __attribute__((noreturn)) void invalid_pointer(const char *fn, const void *p)
{
	gr_printf("libgrun: %s(): invalid pointer %p\n", fn, p);
	gr_sys(SYS_kill, gr_sys(SYS_getpid, 0, 0, 0), SIGABRT, 0);
	gr_throw("heap: invalid pointer");
}

void gr_heap_free_slow(void *p, struct gr_span *s)
{
	if (!p)
		return;
	if (!s) {
		if (gr_heap_is_bootstrap(p))
			return;		/* bootstrap blocks are never reused */
		if (gr_heap_owns(p))
			invalid_pointer("free", p);
		if (gr_malloc_foreign_free)
			gr_malloc_foreign_free(p);
		return;
	}
	if (s->sizeclass) {
		bool locked;
		struct gr_mcache *c = context_cache(&locked);
		unsigned cls = s->sizeclass;
		struct gr_cachelist *l = &c->l[cls];
		*(void **)p = l->head;
		l->head = p;
		if (++l->n > l->max)
			gr_heap_cache_overflow(c, cls);
		if (locked)
			gr_unlock(&shared_lock);
		return;
	}
	if (s->state != SPAN_LARGE || (uintptr_t)p != s->base)
		invalid_pointer("free", p);
	free_large(s);
}

static void *alloc_large(size_t size, size_t align, bool zero)
{
	if (size > ((size_t)1 << 46))
		return NULL;
	size_t npages = (size + GR_PAGESIZE - 1) >> GR_PAGESHIFT;
	size_t alignpages = align > GR_PAGESIZE ? align >> GR_PAGESHIFT : 1;
	limit_check(npages << GR_PAGESHIFT);
	/* The object's address is on this stack from before the heap lock
	 * is let go (a termination takes it before it stops the world) to
	 * the return: the pacer may start a cycle and the assist wait out
	 * all of it, and the mark must find the object in this thread's
	 * roots (the span is metadata, which it does not read; allocated
	 * before a cycle, the object is not black). Found missing: sort's
	 * buffer freed under it in collect mode (gc_large). */
	void *volatile root = NULL;
	gr_lock(&mheap.lock);
	struct gr_span *s = alloc_pages_locked(npages, alignpages, 1);
	if (s) {
		root = (void *)s->base;
		s->state = SPAN_LARGE;
		s->elemsize = 0;
		s->nelems = 1;
		/* Allocated while a cycle marks: black, as Go allocates. A new
		 * buffer of megabytes found on a stack would otherwise be
		 * traced whole in the termination's pause (measured: 2.5-6 ms
		 * on alloc_large); the pages written into it are read again
		 * like any marked object's. */
		if (atomic_load_explicit(&tc_marking, memory_order_relaxed))
			atomic_fetch_or_explicit((_Atomic uint64_t *)gr_span_markbits(s), 1, memory_order_relaxed);
	}
	gr_unlock(&mheap.lock);
	if (!s)
		return NULL;
	atomic_fetch_add_explicit(&mheap.large_allocs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&mheap.large_alloc_bytes, npages << GR_PAGESHIFT, memory_order_relaxed);
	if (zero && s->needzero) {
		/* Only the pages that may be dirty: released ones read as zero. */
		memset((void *)s->base, 0, npages << GR_PAGESHIFT);
	}
	maybe_tick();
	uint64_t live = atomic_fetch_add_explicit(&live_est, npages << GR_PAGESHIFT, memory_order_relaxed) +
			(npages << GR_PAGESHIFT);
	gr_gc_pace(live);
	gr_gc_assist_check(live);
	return root;
}

void *gr_heap_alloc_aligned(size_t size, size_t align)
{
	if (align <= 16)
		return gr_heap_alloc(size);
	if (size > ((size_t)1 << 46))
		return NULL;
	if (gr_heap_mode != 1) {
		gr_heap_init();
		if (gr_heap_mode != 1)
			return gr_heap_bootstrap_alloc(size, align);
	}
	if (align <= GR_PAGESIZE && size <= GR_MAXSMALL) {
		size_t want = size < align ? align : size;
		for (unsigned k = gr_size_to_class(want); k < GR_NCLASSES; k++)
			if (gr_class[k].size % align == 0)
				return gr_heap_alloc(gr_class[k].size);
	}
	return alloc_large(size ? size : 1, align, false);
}

void *gr_heap_calloc(size_t size)
{
	if (size > GR_MAXSMALL && gr_heap_mode == 1)
		return alloc_large(size, GR_PAGESIZE, true);
	void *p = gr_heap_alloc(size);
	if (p) {
		if (gr_heap_is_bootstrap(p))
			return p;	/* the bootstrap arena is zero and never reused */
		struct gr_span *s = gr_heap_spanof(p);
		memset(p, 0, s && s->sizeclass ? s->elemsize : size);
	}
	return p;
}

size_t gr_heap_usable(const void *p)
{
	struct gr_span *s = gr_heap_spanof(p);
	if (s) {
		if (s->sizeclass)
			return s->elemsize;
		if (s->state == SPAN_LARGE)
			return s->npages << GR_PAGESHIFT;
		return 0;
	}
	if (gr_heap_is_bootstrap(p))
		return *(const size_t *)((const char *)p - 16);
	return 0;
}

void *gr_heap_base(const void *p)
{
	struct gr_span *s = gr_heap_spanof(p);
	if (!s)
		return NULL;
	if (s->state == SPAN_LARGE)
		return (void *)s->base;
	if (s->state != SPAN_SMALL || !s->sizeclass)
		return NULL;
	uintptr_t off = (uintptr_t)p - s->base;
	uint32_t idx = (uint32_t)(((uint64_t)off * s->divmul) >> 32);
	if (idx >= s->nelems || !(gr_span_allocbits(s)[idx >> 6] & (1ull << (idx & 63))))
		return NULL;
	return (void *)(s->base + (uintptr_t)idx * s->elemsize);
}

bool gr_heap_resize_inplace(void *p, size_t n)
{
	struct gr_span *s = gr_heap_spanof(p);
	if (!s || s->state != SPAN_LARGE || (uintptr_t)p != s->base || n > ((size_t)1 << 46))
		return false;
	size_t npages = (n + GR_PAGESIZE - 1) >> GR_PAGESHIFT;
	if (npages <= s->npages)
		return true;
	bool ok = false;
	gr_lock(&mheap.lock);
	uintptr_t end = s->base + (s->npages << GR_PAGESHIFT);
	struct gr_span *f = page_span(end);
	size_t more = npages - s->npages;
	if (f && f->state == SPAN_FREE && f->base == end && f->npages >= more) {
		free_remove_locked(f);
		struct gr_span *t = carve_locked(f, end, more, 1);
		set_range(end, more, s);
		s->npages = npages;
		span_dead_locked(t);
		ok = true;
	}
	gr_unlock(&mheap.lock);
	if (ok) {
		atomic_fetch_add_explicit(&mheap.large_alloc_bytes, more << GR_PAGESHIFT, memory_order_relaxed);
		atomic_fetch_add_explicit(&live_est, more << GR_PAGESHIFT, memory_order_relaxed);
	}
	return ok;
}

/* --- init, trim, fork ------------------------------------------------------------- */

static bool env_heap_off(void)
{
	extern char **environ;
	char **e = environ;
	for (; e && *e; e++)
		if (strncmp(*e, "GRUN_HEAP=", 10) == 0)
			return strcmp(*e + 10, "0") == 0;
	return false;
}

void gr_heap_init(void)
{
	if (__atomic_load_n(&gr_heap_mode, __ATOMIC_ACQUIRE))
		return;
	gr_lock(&init_lock);
	if (!gr_heap_mode) {
		gr_sizeclass_init();
		if (env_heap_off()) {
			__atomic_store_n(&gr_heap_mode, 2, __ATOMIC_RELEASE);
		} else {
			void *idx = gr_mmap(NULL, GR_NARENAS * sizeof(void *), PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (idx == (void *)-1)
				gr_throw("heap: cannot map the arena index");
			cache_init(&shared_cache);
			cache_init(&main_cache);
			gc_note_meta((uintptr_t)idx, GR_NARENAS * sizeof(void *));	/* GC support block */
			gr_arena_index = idx;
			atomic_store(&scav_last, gr_nanotime_coarse());
			__atomic_store_n(&gr_heap_mode, 1, __ATOMIC_RELEASE);
		}
	}
	gr_unlock(&init_lock);
}

bool gr_heap_trim(void)
{
	if (gr_heap_mode != 1)
		return false;
	bool locked;
	struct gr_mcache *c = context_cache(&locked);
	cache_flush(c);
	if (locked)
		gr_unlock(&shared_lock);
	for (unsigned k = 1; k < GR_NCLASSES; k++)
		central_drain(k);
	return release(UINT64_MAX, INT64_MAX) > 0;
}

static struct gr_lock taken_lock;	/* GC support block; before every other heap lock */

/* Cache lists taken by a termination (gr_heap_gc_take_free), until
 * gr_heap_gc_return_taken gives them to mcentral: at most every class of
 * every cache, in a reservation mapped on first use (never a root). */
struct taken {
	void *head;
	uint32_t n, cls;
};
#define TAKEN_CAP ((size_t)(GR_MAXMCACHE + 1) * GR_NCLASSES)
static struct taken *taken;
static size_t ntaken;		/* taken_lock, or the world stopped */

void gr_heap_fork_prepare(void)
{
	if (gr_heap_mode != 1)
		return;
	gr_lock(&taken_lock);
	gr_lock(&shared_lock);
	for (unsigned k = 1; k < GR_NCLASSES; k++)
		gr_lock(&central[k].lock);
	gr_lock(&mheap.lock);
	gr_lock(&meta_lock);
}

void gr_heap_fork_parent(void)
{
	if (gr_heap_mode != 1)
		return;
	gr_unlock(&meta_lock);
	gr_unlock(&mheap.lock);
	for (unsigned k = GR_NCLASSES - 1; k >= 1; k--)
		gr_unlock(&central[k].lock);
	gr_unlock(&shared_lock);
	gr_unlock(&taken_lock);
}

static void gc_fork_child(void);	/* GC support block */

void gr_heap_fork_child(void)
{
	if (gr_heap_mode != 1)
		return;
	/* Locks are plain words: reset them (the child has one thread). */
	meta_lock.state = 0;
	mheap.lock.state = 0;
	for (unsigned k = 1; k < GR_NCLASSES; k++)
		central[k].lock.state = 0;
	shared_lock.state = 0;
	init_lock.state = 0;
	gc_fork_child();	/* GC support block */
	/* Another thread may have been inside main_cache: only the forking
	 * thread's own cache is known to be consistent. */
	if (gr_tcache != &main_cache)
		memset(&main_cache, 0, sizeof main_cache);
}

/* --- metrics ------------------------------------------------------------------------ */

static void cache_counts(const struct gr_mcache *c, uint64_t *cached, uint64_t *nmalloc)
{
	for (unsigned k = 1; k < GR_NCLASSES; k++) {
		cached[k] += c->l[k].n;
		nmalloc[k] += c->l[k].nmalloc;
	}
}

void gr_heap_read_stats(struct gr_heap_stats *st)
{
	memset(st, 0, sizeof *st);
	if (gr_heap_mode != 1)
		return;
	uint64_t cached[GR_NCLASSES] = { 0 }, nmalloc[GR_NCLASSES] = { 0 };
	for (unsigned i = 0; i < GR_MAXMCACHE; i++) {
		struct gr_mcache *c = __atomic_load_n(&gr_mcaches[i], __ATOMIC_ACQUIRE);
		if (c)
			cache_counts(c, cached, nmalloc);
	}
	cache_counts(&main_cache, cached, nmalloc);
	cache_counts(&shared_cache, cached, nmalloc);
	uint64_t live_small = 0, small_objs = 0, small_bytes = 0;
	for (unsigned k = 1; k < GR_NCLASSES; k++) {
		struct gr_central *c = &central[k];
		uint64_t alloc = atomic_load_explicit(&c->allocated, memory_order_relaxed);
		uint64_t intc = (uint64_t)c->ntc * gr_class[k].batch;
		uint64_t live = alloc > intc + cached[k] ? alloc - intc - cached[k] : 0;
		live_small += live * gr_class[k].size;
		small_objs += nmalloc[k];
		small_bytes += nmalloc[k] * gr_class[k].size;
		st->frees_objects += nmalloc[k] > live ? nmalloc[k] - live : 0;
		st->frees_bytes += (nmalloc[k] > live ? nmalloc[k] - live : 0) * gr_class[k].size;
	}
	uint64_t la = atomic_load(&mheap.large_alloc_bytes), lf = atomic_load(&mheap.large_free_bytes);
	st->objects_bytes = live_small + (la > lf ? la - lf : 0);
	st->allocs_bytes = small_bytes + la;
	st->allocs_objects = small_objs + atomic_load(&mheap.large_allocs);
	st->frees_bytes += lf;
	st->frees_objects += atomic_load(&mheap.large_frees);
	uint64_t freep = atomic_load(&mheap.free_pages), zerop = atomic_load(&mheap.zero_pages);
	st->free_bytes = (freep > zerop ? freep - zerop : 0) << GR_PAGESHIFT;
	st->released_bytes = zerop << GR_PAGESHIFT;
	uint64_t inuse = atomic_load(&mheap.inuse_pages) << GR_PAGESHIFT;
	st->unused_bytes = inuse > st->objects_bytes ? inuse - st->objects_bytes : 0;
	st->metadata_bytes = atomic_load(&meta_bytes) + GR_NARENAS * sizeof(void *) / 512;
	st->mapped_bytes = atomic_load(&mheap.mapped);
	st->memlimit = memlimit();
}

void gr_heap_print_metrics(int fd)
{
	struct gr_heap_stats st;
	gr_heap_read_stats(&st);
	char buf[1024];
	size_t n = gr_fmt(buf, sizeof buf,
			  "/memory/classes/heap/objects:bytes %llu\n"
			  "/memory/classes/heap/free:bytes %llu\n"
			  "/memory/classes/heap/released:bytes %llu\n"
			  "/memory/classes/heap/unused:bytes %llu\n"
			  "/memory/classes/metadata/other:bytes %llu\n"
			  "/gc/heap/allocs:bytes %llu\n"
			  "/gc/heap/allocs:objects %llu\n"
			  "/gc/heap/frees:bytes %llu\n"
			  "/gc/heap/frees:objects %llu\n"
			  "/gc/gomemlimit:bytes %llu\n",
			  (unsigned long long)st.objects_bytes, (unsigned long long)st.free_bytes,
			  (unsigned long long)st.released_bytes, (unsigned long long)st.unused_bytes,
			  (unsigned long long)st.metadata_bytes, (unsigned long long)st.allocs_bytes,
			  (unsigned long long)st.allocs_objects, (unsigned long long)st.frees_bytes,
			  (unsigned long long)st.frees_objects, (unsigned long long)st.memlimit);
	gr_write_all(fd, buf, n);
	if (gr_heap_metrics_hook)
		gr_heap_metrics_hook(fd);
}

void gr_heap_report(void)
{
	if (gr_heap_mode != 1)
		return;
	gr_printf("libgrun: heap metrics at exit\n");
	gr_heap_print_metrics(2);
}

void gr_heap_print_stats(int fd)
{
	struct gr_heap_stats st;
	gr_heap_read_stats(&st);
	char buf[512];
	uint64_t system = st.mapped_bytes - st.released_bytes;
	size_t n = gr_fmt(buf, sizeof buf,
			  "Arena 0:\nsystem bytes     = %10llu\nin use bytes     = %10llu\n"
			  "Total (incl. mmap):\nsystem bytes     = %10llu\nin use bytes     = %10llu\n"
			  "max mmap regions = %10d\nmax mmap bytes   = %10llu\n",
			  (unsigned long long)system, (unsigned long long)st.objects_bytes,
			  (unsigned long long)system, (unsigned long long)st.objects_bytes, 0, 0ull);
	gr_write_all(fd, buf, n);
	gr_heap_print_metrics(fd);
}

/* === GC support (issue 7) ==================================================
 * What the collector (core/gc.c) needs from the heap, and nothing else:
 *  - which arenas exist (gc_arenas: appended under the heap lock);
 *  - where the heap's own metadata lives (gc_meta: span structs hold each
 *    span's base, so metadata must never be scanned as a root);
 *  - every heap lock, taken with trylock while the world is stopped (a
 *    stopped thread may hold one: the collector then restarts the world
 *    and tries again, it never waits on a stopped thread);
 *  - walks over spans and over free objects parked in caches and in the
 *    transfer caches (allocbits count those as allocated).
 * Mark bits are the span's markbits (heap.h); only the collector writes
 * them, only while the world is stopped and every heap lock is held.
 */

#define GC_MAXARENAS 16384		/* 1 TiB of arenas */
#define GC_MAXMETA 4096			/* merged metadata ranges */

static uint32_t gc_arenas[GC_MAXARENAS];	/* arena numbers; heap lock */
static _Atomic uint32_t gc_narenas;
static _Atomic bool gc_arenas_lost;		/* more arenas than slots */
static struct gr_lock gc_meta_lock;		/* leaf; taken under meta_lock */
static struct { uintptr_t lo, hi; } gc_meta[GC_MAXMETA];	/* gc_meta_lock */
static uint32_t gc_nmeta;			/* gc_meta_lock */
static bool gc_meta_lost;			/* gc_meta_lock */

static void gc_note_arena(uintptr_t a)
{
	uint32_t n = atomic_load_explicit(&gc_narenas, memory_order_relaxed);
	if (n >= GC_MAXARENAS) {
		atomic_store(&gc_arenas_lost, true);
		return;
	}
	gc_arenas[n] = (uint32_t)(a >> GR_ARENASHIFT);
	atomic_store_explicit(&gc_narenas, n + 1, memory_order_release);
}

static void gc_note_meta(uintptr_t p, size_t len)
{
	gr_lock(&gc_meta_lock);
	for (uint32_t i = 0; i < gc_nmeta; i++) {
		if (gc_meta[i].hi == p) {
			gc_meta[i].hi = p + len;
			goto out_unlock;
		}
		if (gc_meta[i].lo == p + len) {
			gc_meta[i].lo = p;
			goto out_unlock;
		}
	}
	if (gc_nmeta < GC_MAXMETA) {
		gc_meta[gc_nmeta].lo = p;
		gc_meta[gc_nmeta].hi = p + len;
		gc_nmeta++;
	} else {
		gc_meta_lost = true;
	}
out_unlock:
	gr_unlock(&gc_meta_lock);
}

/* The child of fork has one thread: a lock another thread held is free. */
static void gc_fork_child(void)
{
	gc_meta_lock.state = 0;
	taken_lock.state = 0;
	gr_heap_gc_return_taken();	/* taken by a termination the parent had not finished */
}

bool gr_heap_sweep_span(struct gr_span *s, bool collect, void (*fn)(uintptr_t obj, size_t size, unsigned cls,
								    void *arg), void *arg)
{
	if (gr_heap_mode != 1)
		return false;
	uint8_t gen = atomic_load(&gr_heap_sweepgen);
	unsigned cls = s->sizeclass;
	if (s->state == SPAN_LARGE) {
		gr_lock(&mheap.lock);
		if (s->state != SPAN_LARGE || atomic_load_explicit(&s->sweepgen, memory_order_relaxed) == gen) {
			gr_unlock(&mheap.lock);
			return false;
		}
		uint64_t *mb = gr_span_markbits(s);
		bool dead = !(atomic_load_explicit((_Atomic uint64_t *)mb, memory_order_relaxed) & 1);
		*mb = 0;
		atomic_store_explicit(&s->sweepgen, gen, memory_order_relaxed);
		if (dead && fn)
			fn(s->base, s->npages << GR_PAGESHIFT, 0, arg);
		gr_unlock(&mheap.lock);
		if (dead && collect)
			free_large(s);	/* unreachable: nobody else frees it */
		return true;
	}
	if (s->state != SPAN_SMALL || !cls)
		return false;
	struct gr_central *c = &central[cls];
	gr_lock(&c->lock);
	if (s->state != SPAN_SMALL || s->sizeclass != cls || !span_stale(s)) {
		gr_unlock(&c->lock);
		return false;
	}
	bool empty = sweep_small_locked(c, s, collect, fn, arg) && !last_partial(c, s);
	if (empty)
		span_unlink(c, s);
	gr_unlock(&c->lock);
	if (empty) {
		gr_lock(&mheap.lock);
		atomic_fetch_sub_explicit(&mheap.small_span_bytes, s->npages << GR_PAGESHIFT, memory_order_relaxed);
		free_pages_locked(s);
		gr_unlock(&mheap.lock);
		maybe_tick();
	}
	return true;
}

/* Sweep the small span s (unswept, its central's lock held) and file it
 * by what is left; true if it is empty now. */
static bool sweep_small_locked(struct gr_central *c, struct gr_span *s, bool collect,
			       void (*fn)(uintptr_t obj, size_t size, unsigned cls, void *arg), void *arg)
{
	/* Bits past nelems are set in allocbits (never handed out) and never
	 * marked: mask them. Freeing clears allocbits, as central_release
	 * does, without touching the objects (cache misses). */
	unsigned cls = s->sizeclass;
	uint64_t *ab = gr_span_allocbits(s), *mb = gr_span_markbits(s);
	unsigned nw = gr_span_bitwords(s);
	uint32_t n = 0;
	for (unsigned i = 0; i < nw; i++) {
		uint64_t lo = (uint64_t)i * 64, valid = ~0ull;
		if (lo >= s->nelems)
			valid = 0;
		else if (s->nelems - lo < 64)
			valid = ~(~0ull << (s->nelems - lo));
		uint64_t m = atomic_exchange_explicit((_Atomic uint64_t *)&mb[i], 0, memory_order_relaxed);
		uint64_t dead = ab[i] & ~m & valid;
		if (!dead)
			continue;
		for (uint64_t d = dead; fn && d; d &= d - 1)
			fn(s->base + (lo + (uint64_t)__builtin_ctzll(d)) * s->elemsize, s->elemsize, cls, arg);
		if (collect) {
			ab[i] &= ~dead;
			n += (uint32_t)__builtin_popcountll(dead);
			if (i < s->freeword)
				s->freeword = i;
		}
	}
	atomic_store_explicit(&s->sweepgen, atomic_load(&gr_heap_sweepgen), memory_order_relaxed);
	if (n) {
		s->allocount -= n;
		atomic_store_explicit(&c->allocated, atomic_load_explicit(&c->allocated, memory_order_relaxed) - n,
				      memory_order_relaxed);
		atomic_fetch_sub_explicit(&live_est, (uint64_t)n * gr_class[cls].size, memory_order_relaxed);
	}
	span_file(c, s);
	return s->allocount == 0;
}

void gr_heap_lazy_sweep(void (*fn)(uintptr_t obj, size_t size, unsigned cls, void *arg))
{
	atomic_store_explicit(&lazy_fn, fn, memory_order_release);
}

void gr_heap_gc_sweep_begin(void)
{
	for (unsigned k = 1; k < GR_NCLASSES; k++) {
		struct gr_central *c = &central[k];
		/* Empty: the last sweep filed every span (a fork child's
		 * unfinished one runs before the next cycle marks). */
		gr_assert(!c->unswept, "heap: unswept spans at a termination");
		c->unswept = c->full;
		c->full = NULL;
	}
}

void gr_heap_sweep_all(bool collect, void (*fn)(uintptr_t obj, size_t size, unsigned cls, void *arg), void *arg)
{
	if (gr_heap_mode != 1)
		return;
	/* Page by page, a span at its first page: the program runs, spans
	 * come and go, and a span's size read now must not make us skip one
	 * left unswept (its stale marks would hide objects from the next
	 * mark). Spans created meanwhile are born swept. */
	uint32_t n = atomic_load_explicit(&gc_narenas, memory_order_acquire);
	for (uint32_t i = 0; i < n; i++) {
		uintptr_t base = (uintptr_t)gc_arenas[i] << GR_ARENASHIFT;
		struct gr_arena *ar = arena_of(base);
		for (unsigned pg = 0; pg < GR_ARENAPAGES; pg++) {
			struct gr_span *s = __atomic_load_n(&ar->spans[pg], __ATOMIC_ACQUIRE);
			if (s && s->base == base + ((uintptr_t)pg << GR_PAGESHIFT) &&
			    (s->state == SPAN_SMALL || s->state == SPAN_LARGE))
				gr_heap_sweep_span(s, collect, fn, arg);
		}
	}
}

void gr_heap_gc_lock_all(void)
{
	if (gr_heap_mode != 1)
		return;
	gr_heap_fork_prepare();
	gr_lock(&gc_meta_lock);
}

void gr_heap_gc_unlock_all(void)
{
	if (gr_heap_mode != 1)
		return;
	gr_unlock(&gc_meta_lock);
	gr_heap_fork_parent();
}

uint32_t gr_heap_gc_arenas(const uint32_t **list, bool *lost)
{
	*list = gc_arenas;
	*lost = atomic_load(&gc_arenas_lost);
	return atomic_load_explicit(&gc_narenas, memory_order_acquire);
}

void gr_heap_gc_foreach_meta(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg, bool *lost)
{
	for (uint32_t i = 0; i < gc_nmeta; i++)
		fn(gc_meta[i].lo, gc_meta[i].hi, arg);
	/* Static caches in libgrun's data: they point at free objects only,
	 * whose stale words must not be traced. */
	fn((uintptr_t)&main_cache, (uintptr_t)(&main_cache + 1), arg);
	fn((uintptr_t)&shared_cache, (uintptr_t)(&shared_cache + 1), arg);
	fn((uintptr_t)central, (uintptr_t)(central + GR_NCLASSES), arg);
	if (taken)
		fn((uintptr_t)taken, (uintptr_t)(taken + TAKEN_CAP), arg);
	*lost = gc_meta_lost;
}

void gr_heap_gc_foreach_span(void (*fn)(struct gr_span *s, void *arg), void *arg)
{
	uint32_t n = atomic_load_explicit(&gc_narenas, memory_order_acquire);
	for (uint32_t i = 0; i < n; i++) {
		uintptr_t base = (uintptr_t)gc_arenas[i] << GR_ARENASHIFT;
		struct gr_arena *ar = arena_of(base);
		for (unsigned pg = 0; pg < GR_ARENAPAGES;) {
			struct gr_span *s = ar->spans[pg];
			uintptr_t a = base + ((uintptr_t)pg << GR_PAGESHIFT);
			if (!s || s->base != a) {
				pg++;
				continue;
			}
			if (s->state == SPAN_SMALL || s->state == SPAN_LARGE)
				fn(s, arg);
			/* A span never crosses an arena it did not start in? It
			 * may: skip by pages, clamped to this arena. */
			size_t adv = s->npages ? s->npages : 1;
			if (adv > GR_ARENAPAGES - pg)
				break;
			pg += (unsigned)adv;
		}
	}
}

static void gc_walk_list(void *p, void (*fn)(void *obj, void *arg), void *arg)
{
	/* Bounded: a list is at most a few batches long; a corrupt one must
	 * not hang the collector. */
	for (unsigned i = 0; p && i < (1u << 20); i++) {
		struct gr_span *s = gr_heap_spanof(p);
		if (!s || s->state != SPAN_SMALL)
			return;
		fn(p, arg);
		p = *(void **)p;
	}
}

/* A cache's lists, several at a time: each step of one list is a cache
 * miss on the next object, and walking them in turn (the next object of
 * each prefetched) overlaps those misses. Bounded as gc_walk_list. */
#define WALK_WAYS 16
static void gc_walk_cache(struct gr_mcache *c, void (*fn)(void *obj, void *arg), void *arg)
{
	void *cur[WALK_WAYS];
	unsigned steps[WALK_WAYS];
	unsigned k = 1, n = 0;
	for (;;) {
		while (n < WALK_WAYS && k < GR_NCLASSES) {
			void *h = c->l[k++].head;
			if (h) {
				__builtin_prefetch(h);
				cur[n] = h;
				steps[n++] = 0;
			}
		}
		if (!n)
			return;
		for (unsigned i = 0; i < n;) {
			void *p = cur[i];
			struct gr_span *s = gr_heap_spanof(p);
			if (!s || s->state != SPAN_SMALL || steps[i] >= (1u << 20)) {
				cur[i] = cur[--n];
				steps[i] = steps[n];
				continue;
			}
			fn(p, arg);
			void *next = *(void **)p;
			if (!next) {
				cur[i] = cur[--n];
				steps[i] = steps[n];
				continue;
			}
			__builtin_prefetch(next);
			cur[i] = next;
			steps[i++]++;
		}
	}
}

static struct gr_mcache *cache_of(int mid)
{
	return mid >= 0 && mid < GR_MAXMCACHE ? gr_mcaches[mid] : NULL;
}

void gr_heap_cache_idle(int mid)
{
	struct gr_mcache *c = cache_of(mid);
	if (c)
		atomic_store_explicit(&c->owner, GR_CACHE_IDLE, memory_order_release);
}

void gr_heap_cache_busy(int mid)
{
	struct gr_mcache *c = cache_of(mid);
	if (!c)
		return;
	for (;;) {
		uint32_t s = atomic_load_explicit(&c->owner, memory_order_acquire);
		if (s == GR_CACHE_ACTIVE)
			return;
		if (s == GR_CACHE_IDLE &&
		    atomic_compare_exchange_weak_explicit(&c->owner, &s, GR_CACHE_ACTIVE, memory_order_acquire,
							  memory_order_relaxed))
			return;
		if (s == GR_CACHE_TAKEN)
			gr_sys(SYS_sched_yield, 0, 0, 0);	/* a few list heads to move: microseconds */
	}
}

static void take_cache(struct gr_mcache *c)
{
	for (unsigned k = 1; k < GR_NCLASSES; k++) {
		struct gr_cachelist *l = &c->l[k];
		if (l->head) {
			taken[ntaken++] = (struct taken){ l->head, l->n, k };
			l->head = NULL;
			l->n = 0;
		}
	}
}

void gr_heap_gc_take_free(bool (*quiet)(uint32_t mid, void *arg), void *qarg, void (*fn)(void *obj, void *arg),
			  void *arg)
{
	if (gr_heap_mode != 1)
		return;
	if (!taken) {
		void *p = gr_mmap(NULL, TAKEN_CAP * sizeof *taken, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p != MAP_FAILED)
			taken = p;
	}
	for (uint32_t i = 0; i < GR_MAXMCACHE; i++) {
		struct gr_mcache *c = __atomic_load_n(&gr_mcaches[i], __ATOMIC_ACQUIRE);
		if (!c)
			continue;
		uint32_t idle = GR_CACHE_IDLE;
		if (taken && atomic_compare_exchange_strong_explicit(&c->owner, &idle, GR_CACHE_TAKEN,
								     memory_order_acquire, memory_order_relaxed)) {
			take_cache(c);
			atomic_store_explicit(&c->owner, GR_CACHE_IDLE, memory_order_release);
		} else if (taken && quiet(i, qarg)) {
			take_cache(c);
		} else {
			gc_walk_cache(c, fn, arg);
		}
	}
	gc_walk_cache(&main_cache, fn, arg);
	if (taken)
		take_cache(&shared_cache);	/* shared_lock is held */
	else
		gc_walk_cache(&shared_cache, fn, arg);
}

void gr_heap_gc_return_taken(void)
{
	if (gr_heap_mode != 1)
		return;
	gr_lock(&taken_lock);
	for (size_t i = 0; i < ntaken; i++)
		central_release(taken[i].cls, taken[i].head, taken[i].n, false);
	if (ntaken > 4096)
		gr_sys(SYS_madvise, (long)taken, (long)(ntaken * sizeof *taken), MADV_DONTNEED);
	ntaken = 0;
	gr_unlock(&taken_lock);
}

void gr_heap_gc_foreach_free(void (*fn)(void *obj, void *arg), void *arg, bool tc)
{
	if (gr_heap_mode != 1)
		return;
	for (unsigned i = 0; i < GR_MAXMCACHE; i++) {
		struct gr_mcache *c = __atomic_load_n(&gr_mcaches[i], __ATOMIC_ACQUIRE);
		if (c)
			gc_walk_cache(c, fn, arg);
	}
	gc_walk_cache(&main_cache, fn, arg);
	gc_walk_cache(&shared_cache, fn, arg);
	for (unsigned k = 1; tc && k < GR_NCLASSES; k++)
		for (uint32_t t = 0; t < central[k].ntc; t++)
			gc_walk_list(central[k].tc[t], fn, arg);
}

void gr_heap_gc_mark_tc_begin(void)
{
	if (gr_heap_mode != 1)
		return;
	atomic_store(&tc_marking, true);
	/* Under each lock: a batch inserted after it sees the flag. */
	for (unsigned k = 1; k < GR_NCLASSES; k++) {
		gr_lock(&central[k].lock);
		for (uint32_t t = 0; t < central[k].ntc; t++)
			mark_free_list(central[k].tc[t]);
		gr_unlock(&central[k].lock);
	}
}

void gr_heap_gc_mark_tc_end(void)
{
	atomic_store(&tc_marking, false);
}
/* === end of GC support ===================================================== */
