/* allocsite: sampled allocation sites, object records, and the leak report
 * by site (DESIGN.md 9: "Reports name allocation sites").
 *
 * Sampling (Go's MemProfileRate and mcache.nextSample). Each thread -- each
 * G, since Gs have their own TLS -- counts down gr_allocsite_left by the
 * bytes it asks for; the malloc hook is that subtraction and one branch.
 * When the count goes negative the allocation is sampled and the count is
 * reset to an exponentially distributed number of bytes of mean `rate`, so
 * sampling is a Poisson process over allocated bytes: an object of s
 * bytes is sampled with probability 1 - exp(-s/rate), whatever the
 * allocation pattern, which is what the report's estimate inverts
 * (pprof's scaleHeapSample). rate 1 samples every allocation (the
 * countdown stays at -1), rate 0 none (INT64_MAX). A thread's first
 * allocation only draws its first countdown (at rate 1 it is sampled).
 * Before gr_allocsite_init the slow path runs once per PRESTART bytes
 * and records nothing. The countdown is in requested bytes, the
 * collector's sizes are usable bytes: the estimate is a little high for
 * sizes far from their class.
 *
 * Stacks. libunwind's unw_backtrace (its per-thread trace cache makes a
 * stack ~100 ns, against ~9 us for unw_step with the cache off that
 * gr_traceback uses) through the handle core/traceback.c dlopened
 * RTLD_LOCAL (DESIGN.md 14: never linked, never in global scope); without
 * it (libunwind missing, GRUN_DEBUG forcing frame pointers) gr_traceback.
 * The stack starts at the shim's return address (the program's call):
 * frames before it, and any frame inside libgrun (a shim calling a shim:
 * realloc -> malloc), are dropped, as are libgrun's frames at the bottom of
 * a G's stack; at most GR_ALLOCSITE_DEPTH are kept.
 * libunwind may allocate (its trace cache registers a pthread key; glibc
 * allocates dynamic TLS with malloc): a per-thread busy flag keeps those
 * allocations from being sampled, so sampling never recurses.
 *
 * Sites. Stacks are deduplicated into ids 1..GR_ALLOCSITE_MAX by hash: an
 * open-addressing index of ids under sitelock; sites live in mmap'd chunks
 * of SITES_PER_CHUNK that never move or change once published (release
 * store of nsites), so reports read them without a lock.
 *
 * Object records. One open-addressing table (linear probing, backward-shift
 * deletion, no tombstones) of 64-bit words: object address (8-aligned,
 * < 2^47) << 17 | site id, stored complemented. Complemented, a record is
 * never a heap address: the collector scans this memory conservatively
 * like any other mapping and must not see the sampled objects as
 * referenced. Writers hold objlock; gr_allocsite_of reads without it: a
 * slot changes with one atomic store, deletion copies the next entry into
 * the hole before clearing the last one (a reader may see an entry twice,
 * never miss a present one), and growth publishes a complete new table,
 * then zeroes the old one with MADV_DONTNEED but keeps it mapped (a late
 * reader finds empty slots: "not sampled"). The table never shrinks.
 * A counting filter over the same hash (gr_allocsite_filter: 64Ki bits,
 * 8 KiB, one bit per bucket with a live record; counts beside it) lets
 * free() skip the table with one load and one branch; at the default
 * rate nearly every bit is clear.
 *
 * Rejected: a per-span "has sampled objects" bit (the span struct belongs to
 * the heap, and free would need the span lookup before its own); a lock-free
 * table for writers (contention matters only at rate 1, a debug mode); the
 * heap's own metadata for site ids (it has no per-object word).
 *
 * Locks. sitelock (site index and chunks) and objlock (object table and
 * filter) are leaves: nothing is called under them but raw system calls
 * (mmap, madvise), never libc (a G preempted inside libc while holding one
 * would stall every M spinning on it), and they are never nested: a sample
 * captures the stack with no lock held, interns it under sitelock, then
 * records the object under objlock. Both are taken only outside heap
 * locks. Leak aggregation takes none: the collector is its only user.
 */
#include "core/allocsite.h"
#include "core/config.h"
#include "core/lock.h"
#include "core/sys.h"
#include "core/traceback.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/mman.h>

#define SITES_PER_CHUNK 1024u
#define NCHUNKS ((GR_ALLOCSITE_MAX + 1) / SITES_PER_CHUNK)
#define CAPTURE_SLACK 8			/* frames before the shim's return address */
#define PRESTART_BYTES (1 << 20)	/* countdown before gr_allocsite_init */
#define RATE_UNSET UINT64_MAX
#define OBJ_MINLOG 12			/* first object table: 4096 slots */
#define NRETIRED 40			/* object tables replaced by growth */
#define REPORT_MAXSITES 256		/* blocks printed; the rest on one line */
#define PAGE 4096

/* --- per-thread state -------------------------------------------------- */

__thread int64_t gr_allocsite_left = -1;	/* see allocsite.h: a new thread's first
						 * allocation takes the slow path */
static __thread bool t_armed;		/* this thread drew its first countdown */
static __thread bool t_busy;		/* inside a sample: do not sample again */
static __thread uint64_t t_rng;		/* wyrand state */

static _Atomic uint64_t rate = RATE_UNSET;
static _Atomic uint64_t nsamples;	/* statistics */
static _Atomic uint64_t seedseq;	/* distinct seeds for threads */
static uintptr_t self_lo, self_hi;	/* libgrun's text (0, 0 in a static link); set once */
static int (*unw_backtrace_fn)(void **, int);	/* set once by init */

/* --- sites ------------------------------------------------------------- */

struct site {
	uint64_t hash;			/* of pc[0..npc) */
	uint32_t npc;
	uint32_t pad;
	uintptr_t pc[GR_ALLOCSITE_DEPTH];	/* return addresses, innermost first */
};

static struct gr_lock sitelock;
static struct site *_Atomic chunks[NCHUNKS];	/* published with release; never freed */
static _Atomic uint32_t nsites;		/* ids 1..nsites are complete (release) */
static uint32_t *sidx;			/* dedupe index of ids by hash; sitelock */
static uint32_t sidx_cap;		/* power of two; nsites * 2 <= sidx_cap */
static _Atomic uint64_t sites_lost;	/* stacks not recorded: table full or no memory */

/* --- object records ---------------------------------------------------- */

struct otab {
	uint32_t logcap;		/* capacity 1 << logcap; 0 in a retired table */
	uint32_t pad;
	uint64_t pad2;
	_Atomic uint64_t slot[];	/* 0 empty, else ~(addr << 17 | site) */
};

static struct gr_lock objlock;
static struct otab *_Atomic otab;	/* current table (release) */
static size_t otab_len;			/* its mapping's length; objlock */
static uint64_t nrec;			/* records in it; objlock */
static struct { void *p; size_t len; } retired[NRETIRED];	/* objlock; zeroed, kept mapped */
static int nretired;
static _Atomic uint64_t recs_lost;	/* samples not recorded: no memory */
_Atomic uint64_t gr_allocsite_filter[(1u << GR_ALLOCSITE_FILTERBITS) / 64];
static uint32_t fcount[1u << GR_ALLOCSITE_FILTERBITS];	/* records per bucket; objlock */

/* --- leak aggregation (the collector's; no lock) ----------------------- */

struct aggent {
	uint64_t objects, bytes;
};

static struct aggent *agg;		/* GR_ALLOCSITE_MAX + 1 entries, NORESERVE */
static uint32_t agg_hi;			/* highest site added since the reset */
static uint64_t agg_unsampled_objects, agg_unsampled_bytes;

static void *map(size_t len, bool noreserve)
{
	void *p = gr_mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0), -1, 0);
	return p == (void *)-1 ? NULL : p;
}

static size_t page_round(size_t n)
{
	return (n + PAGE - 1) & ~(size_t)(PAGE - 1);
}

/* --- numbers ----------------------------------------------------------- */

#define LN2 0.6931471805599453

static uint64_t rng_next(void)
{
	t_rng += 0xa0761d6478bd642full;
	__uint128_t m = (__uint128_t)t_rng * (t_rng ^ 0xe7037ed1a0b428dbull);
	return (uint64_t)(m >> 64) ^ (uint64_t)m;
}

/* -ln(u) for u in (0, 1] (no libm in the runtime): u = m 2^e with m in
 * [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m-1)/(m+1)), |s| < 0.172. */
static double neg_log(double u)
{
	union { double d; uint64_t b; } x = { .d = u };
	int e = (int)((x.b >> 52) & 0x7ff) - 1023;
	x.b = (x.b & ((1ull << 52) - 1)) | (1023ull << 52);
	double m = x.d;
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	double s = (m - 1) / (m + 1), s2 = s * s, t = 0;
	for (int k = 19; k >= 1; k -= 2)
		t = t * s2 + 1.0 / k;
	return -(e * LN2 + 2 * s * t);
}

/* 1 - exp(-x) for x >= 0, accurate for small x too. */
static double one_minus_exp_neg(double x)
{
	if (x < 0.25) {		/* x - x^2/2! + x^3/3! - ...: no cancellation */
		double term = x, sum = x;
		for (int n = 2; n <= 14; n++) {
			term *= -x / n;
			sum += term;
		}
		return sum;
	}
	if (x > 700)
		return 1;
	int k = (int)(x / LN2 + 0.5);
	double r = x - k * LN2, term = 1, sum = 1;	/* e^-r, |r| <= ln2/2 */
	for (int n = 1; n <= 16; n++) {
		term *= -r / n;
		sum += term;
	}
	union { double d; uint64_t b; } p = { .b = (uint64_t)(1023 - k) << 52 };	/* 2^-k */
	return 1 - sum * p.d;
}

/* Bytes until the next sample: exponential with mean r (r > 1). */
static int64_t next_sample(uint64_t r)
{
	if (r == 1)
		return -1;
	double u = (double)((rng_next() >> 11) + 1) * 0x1p-53;	/* (0, 1] */
	double v = neg_log(u) * (double)r;
	return v >= 0x1p62 ? (int64_t)1 << 62 : (int64_t)v;
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void gr_allocsite_scale(uint64_t count, uint64_t bytes, uint64_t r, uint64_t *est_count,
			uint64_t *est_bytes)
{
	if (count == 0 || bytes == 0 || r <= 1) {
		*est_count = count;
		*est_bytes = bytes;
		return;
	}
	double avg = (double)bytes / (double)count;
	double scale = 1 / one_minus_exp_neg(avg / (double)r);
	*est_count = (uint64_t)((double)count * scale);
	*est_bytes = (uint64_t)((double)bytes * scale);
}

/* --- site table ---------------------------------------------------------- */

static uint64_t stack_hash(const uintptr_t *pc, int n)
{
	uint64_t h = 0x243f6a8885a308d3ull ^ (uint64_t)n;
	for (int i = 0; i < n; i++) {
		h = (h ^ pc[i]) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return h;
}

static struct site *site_get(uint32_t id)
{
	if (id == 0 || id > atomic_load_explicit(&nsites, memory_order_acquire))
		return NULL;
	struct site *c = atomic_load_explicit(&chunks[id / SITES_PER_CHUNK], memory_order_acquire);
	return c ? &c[id % SITES_PER_CHUNK] : NULL;
}

static bool site_is(const struct site *s, uint64_t h, const uintptr_t *pc, int n)
{
	if (s->hash != h || s->npc != (uint32_t)n)
		return false;
	for (int i = 0; i < n; i++)
		if (s->pc[i] != pc[i])
			return false;
	return true;
}

/* Double the dedupe index (sitelock held). False: no memory. */
static bool sidx_grow_locked(void)
{
	uint32_t cap = sidx_cap ? sidx_cap * 2 : 1024;
	uint32_t *n = map((size_t)cap * sizeof *n, false);
	if (!n)
		return false;
	uint32_t ns = atomic_load_explicit(&nsites, memory_order_relaxed);
	for (uint32_t id = 1; id <= ns; id++) {
		uint32_t i = (uint32_t)site_get(id)->hash & (cap - 1);
		while (n[i])
			i = (i + 1) & (cap - 1);
		n[i] = id;
	}
	if (sidx)
		gr_munmap(sidx, (size_t)sidx_cap * sizeof *sidx);	/* only read under sitelock */
	sidx = n;
	sidx_cap = cap;
	return true;
}

/* The id of the stack pc[0..n), a new one if it was never seen; 0 when
 * the table is full or out of memory. */
static uint32_t site_intern(const uintptr_t *pc, int n)
{
	uint64_t h = stack_hash(pc, n);
	uint32_t id = 0;
	gr_lock(&sitelock);
	uint32_t ns = atomic_load_explicit(&nsites, memory_order_relaxed);
	if ((ns + 1) * 2 > sidx_cap && !sidx_grow_locked() && (ns + 1) * 4 > sidx_cap * 3)
		goto out_unlock;
	uint32_t i = (uint32_t)h & (sidx_cap - 1);
	for (; sidx[i]; i = (i + 1) & (sidx_cap - 1)) {
		if (site_is(site_get(sidx[i]), h, pc, n)) {
			id = sidx[i];
			goto out_unlock;
		}
	}
	if (ns + 1 > GR_ALLOCSITE_MAX)
		goto out_unlock;
	uint32_t c = (ns + 1) / SITES_PER_CHUNK;
	struct site *chunk = atomic_load_explicit(&chunks[c], memory_order_relaxed);
	if (!chunk) {
		chunk = map(SITES_PER_CHUNK * sizeof(struct site), false);
		if (!chunk)
			goto out_unlock;
		atomic_store_explicit(&chunks[c], chunk, memory_order_release);
	}
	struct site *s = &chunk[(ns + 1) % SITES_PER_CHUNK];
	s->hash = h;
	s->npc = (uint32_t)n;
	for (int k = 0; k < n; k++)
		s->pc[k] = pc[k];
	id = ns + 1;
	sidx[i] = id;
	atomic_store_explicit(&nsites, id, memory_order_release);	/* the site is complete */
out_unlock:
	gr_unlock(&sitelock);
	if (!id)
		atomic_fetch_add_explicit(&sites_lost, 1, memory_order_relaxed);
	return id;
}

bool gr_allocsite_capturing(void)
{
	return t_busy;
}

static bool in_self(uintptr_t pc)
{
	return pc - self_lo < self_hi - self_lo;
}

/* The current stack from ret (see the file comment), interned. Called with
 * t_busy set and no lock held. */
static __attribute__((noinline)) uint32_t capture(const void *ret, int skip)
{
	enum { MAXPC = GR_ALLOCSITE_DEPTH + CAPTURE_SLACK };
	uintptr_t pcs[MAXPC];
	int n;
	/* libunwind's fast path builds a trace cache per thread (a mapping,
	 * freed with a TLB shootdown when the thread ends): worth it from a
	 * thread's ninth sample on. Until then the uncached unwinder (~9 us):
	 * programs that make many short threads stay fast. */
	static __thread unsigned t_captures;
	if (unw_backtrace_fn && !gr_traceback_fponly && ++t_captures > 8)
		n = unw_backtrace_fn((void **)pcs, MAXPC);
	else
		n = gr_traceback_skip(NULL, pcs, NULL, MAXPC, (uintptr_t)__builtin_frame_address(0));
	int i = 0;
	for (int j = 0; ret && j < n; j++) {
		if (pcs[j] == (uintptr_t)ret) {
			i = j;
			break;
		}
	}
	while (i < n && in_self(pcs[i]))
		i++;
	/* A whole stack: its bottom in libgrun (a G's gmain and
	 * gr_arch_gstart) says nothing about the program either. */
	while (n < MAXPC && n > i && in_self(pcs[n - 1]))
		n--;
	i = skip < n - i ? i + skip : n;
	int k = n - i < GR_ALLOCSITE_DEPTH ? n - i : GR_ALLOCSITE_DEPTH;
	return site_intern(pcs + i, k);
}

uint32_t gr_allocsite_capture(int skip)
{
	uint64_t r = atomic_load_explicit(&rate, memory_order_acquire);
	if (r == 0 || r == RATE_UNSET)
		return 0;	/* sites are off: never load libunwind from here */
	bool busy = t_busy;
	t_busy = true;
	uint32_t id = capture(__builtin_return_address(0), skip > 0 ? skip : 0);
	t_busy = busy;
	return id;
}

int gr_allocsite_frames(uint32_t id, const uintptr_t **pcs)
{
	const struct site *s = site_get(id);
	if (!s)
		return 0;
	*pcs = s->pc;
	return (int)s->npc;
}

uint32_t gr_allocsite_nsites(void)
{
	return atomic_load_explicit(&nsites, memory_order_relaxed);
}

uint64_t gr_allocsite_nsamples(void)
{
	return atomic_load_explicit(&nsamples, memory_order_relaxed);
}

/* --- object records -------------------------------------------------------- */

static bool packable(uintptr_t a)
{
	return a && !(a & 7) && a < ((uintptr_t)1 << 47);
}

static uint64_t pack(uintptr_t a, uint32_t site)
{
	return ~(((uint64_t)a << 17) | site);
}

static uintptr_t rec_addr(uint64_t w)
{
	return (uintptr_t)((~w >> 20) << 3);
}

static uint32_t rec_site(uint64_t w)
{
	return (uint32_t)(~w & GR_ALLOCSITE_MAX);
}

static uint64_t home(uintptr_t a, uint32_t logcap)
{
	return gr_allocsite_hash(a) >> (64 - logcap);
}

static void filter_inc_locked(uintptr_t a)
{
	uint32_t b = (uint32_t)(gr_allocsite_hash(a) >> (64 - GR_ALLOCSITE_FILTERBITS));
	if (fcount[b]++ == 0)
		atomic_fetch_or_explicit(&gr_allocsite_filter[b / 64], 1ull << (b % 64), memory_order_relaxed);
}

static void filter_dec_locked(uintptr_t a)
{
	uint32_t b = (uint32_t)(gr_allocsite_hash(a) >> (64 - GR_ALLOCSITE_FILTERBITS));
	if (--fcount[b] == 0)
		atomic_fetch_and_explicit(&gr_allocsite_filter[b / 64], ~(1ull << (b % 64)),
					  memory_order_relaxed);
}

static void slot_put(struct otab *t, uint64_t w)
{
	uint64_t mask = ((uint64_t)1 << t->logcap) - 1;
	uint64_t i = home(rec_addr(w), t->logcap);
	while (atomic_load_explicit(&t->slot[i], memory_order_relaxed))
		i = (i + 1) & mask;
	atomic_store_explicit(&t->slot[i], w, memory_order_relaxed);
}

/* Replace the table by one twice as large (objlock held). */
static struct otab *otab_grow_locked(struct otab *old)
{
	uint32_t logcap = old ? old->logcap + 1 : OBJ_MINLOG;
	size_t len = page_round(sizeof(struct otab) + (sizeof(uint64_t) << logcap));
	struct otab *t = map(len, false);
	if (!t)
		return NULL;
	t->logcap = logcap;
	if (old) {
		for (uint64_t i = 0; i < ((uint64_t)1 << old->logcap); i++) {
			uint64_t w = atomic_load_explicit(&old->slot[i], memory_order_relaxed);
			if (w)
				slot_put(t, w);
		}
	}
	atomic_store_explicit(&otab, t, memory_order_release);
	if (old) {
		/* A reader still in it finds logcap 0 or empty slots: "not
		 * sampled". Kept mapped (and listed for the collector). */
		gr_sys(SYS_madvise, old, otab_len, MADV_DONTNEED);
		if (nretired < NRETIRED) {
			retired[nretired].p = old;
			retired[nretired].len = otab_len;
			nretired++;
		}
	}
	otab_len = len;
	return t;
}

/* Record a -> site (objlock held); replaces a's record if it has one. */
static void obj_put_locked(uintptr_t a, uint32_t site)
{
	struct otab *t = atomic_load_explicit(&otab, memory_order_relaxed);
	if (!t || (nrec + 1) * 4 > ((uint64_t)3 << t->logcap)) {
		struct otab *n = otab_grow_locked(t);
		if (!n && (!t || (nrec + 1) * 8 > ((uint64_t)7 << t->logcap))) {
			atomic_fetch_add_explicit(&recs_lost, 1, memory_order_relaxed);
			return;
		}
		if (n)
			t = n;
	}
	uint64_t mask = ((uint64_t)1 << t->logcap) - 1, w = pack(a, site);
	for (uint64_t i = home(a, t->logcap);; i = (i + 1) & mask) {
		uint64_t cur = atomic_load_explicit(&t->slot[i], memory_order_relaxed);
		if (cur && rec_addr(cur) == a) {
			atomic_store_explicit(&t->slot[i], w, memory_order_release);
			return;
		}
		if (!cur) {
			filter_inc_locked(a);	/* before the record: readers test the filter first */
			atomic_store_explicit(&t->slot[i], w, memory_order_release);
			nrec++;
			return;
		}
	}
}

/* Remove a's record (objlock held); its site, 0 if it had none. */
static uint32_t obj_del_locked(uintptr_t a)
{
	struct otab *t = atomic_load_explicit(&otab, memory_order_relaxed);
	if (!t)
		return 0;
	uint64_t mask = ((uint64_t)1 << t->logcap) - 1, i = home(a, t->logcap), w;
	for (;; i = (i + 1) & mask) {
		w = atomic_load_explicit(&t->slot[i], memory_order_relaxed);
		if (!w)
			return 0;
		if (rec_addr(w) == a)
			break;
	}
	/* Backward shift: move each later entry of the run whose home is not
	 * cyclically in (hole, j] into the hole. The first store removes a;
	 * each later one copies before the source becomes the hole, so a
	 * lock-free reader never misses an entry that is present. */
	for (uint64_t j = i;;) {
		j = (j + 1) & mask;
		uint64_t v = atomic_load_explicit(&t->slot[j], memory_order_relaxed);
		if (!v)
			break;
		uint64_t h = home(rec_addr(v), t->logcap);
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		atomic_store_explicit(&t->slot[i], v, memory_order_release);
		i = j;
	}
	atomic_store_explicit(&t->slot[i], 0, memory_order_release);
	nrec--;
	filter_dec_locked(a);
	return rec_site(w);
}

uint32_t gr_allocsite_of(uintptr_t obj)
{
	if (!packable(obj) || !gr_allocsite_maybe((const void *)obj))
		return 0;
	struct otab *t = atomic_load_explicit(&otab, memory_order_acquire);
	if (!t)
		return 0;
	uint32_t logcap = t->logcap;
	if (logcap == 0)
		return 0;	/* retired under us */
	uint64_t mask = ((uint64_t)1 << logcap) - 1, i = home(obj, logcap);
	for (uint64_t n = 0; n <= mask; n++, i = (i + 1) & mask) {
		uint64_t w = atomic_load_explicit(&t->slot[i], memory_order_acquire);
		if (!w)
			return 0;
		if (rec_addr(w) == obj)
			return rec_site(w);
	}
	return 0;
}

void gr_allocsite_free_slow(void *p)
{
	uintptr_t a = (uintptr_t)p;
	if (!packable(a))
		return;
	gr_lock(&objlock);
	(void)obj_del_locked(a);	/* a bucket neighbour's bit: no record */
	gr_unlock(&objlock);
}

void gr_allocsite_move(void *old, void *new, bool keep)
{
	uintptr_t a = (uintptr_t)old, b = (uintptr_t)new;
	if (a == b || !packable(a) || !gr_allocsite_maybe(old))
		return;
	gr_lock(&objlock);
	uint32_t site = keep ? gr_allocsite_of(a) : obj_del_locked(a);
	if (site && packable(b))
		obj_put_locked(b, site);
	gr_unlock(&objlock);
}

/* --- the sampling slow path ------------------------------------------------ */

static void arm(uint64_t r, size_t size)
{
	t_armed = true;
	uint64_t seq = atomic_fetch_add_explicit(&seedseq, 1, memory_order_relaxed);
	uint64_t base = gr_cfg.seed_set ? gr_cfg.seed : (uint64_t)gr_nanotime() ^ (uintptr_t)&t_rng;
	t_rng = splitmix(base ^ splitmix(seq));
	gr_allocsite_left = next_sample(r) - (int64_t)size;
}

void *gr_allocsite_sample_slow(void *p, size_t size, void *ret)
{
	if (t_busy)
		return p;	/* the sampler's own allocation (libunwind) */
	uint64_t r = atomic_load_explicit(&rate, memory_order_acquire);
	if (r == RATE_UNSET) {
		gr_allocsite_left = PRESTART_BYTES;
		return p;
	}
	if (r == 0) {
		gr_allocsite_left = INT64_MAX;
		return p;
	}
	if (!t_armed) {
		arm(r, size);
		if (gr_allocsite_left >= 0)
			return p;
	}
	/* At this point this allocation is sampled. */
	gr_allocsite_left = next_sample(r);
	if (!p)
		return p;
	t_busy = true;
	uint32_t site = capture(ret, 0);
	t_busy = false;
	atomic_fetch_add_explicit(&nsamples, 1, memory_order_relaxed);
	if (site && packable((uintptr_t)p)) {
		gr_lock(&objlock);
		obj_put_locked((uintptr_t)p, site);
		gr_unlock(&objlock);
	}
	return p;
}

uint64_t gr_allocsite_rate(void)
{
	uint64_t r = atomic_load_explicit(&rate, memory_order_relaxed);
	return r == RATE_UNSET ? 0 : r;
}

/* libgrun's own text, when libgrun is a shared object (the preload); in a
 * static link (unit tests) every frame is the program's. */
static void find_self(void)
{
	Dl_info info;
	struct link_map *lm = NULL;
	if (!dladdr1((void *)find_self, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm ||
	    lm->l_name[0] == 0 || !info.dli_fbase)
		return;
	const ElfW(Ehdr) *eh = info.dli_fbase;
	const ElfW(Phdr) *ph = (const void *)((const char *)eh + eh->e_phoff);
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X))
			continue;
		uintptr_t a = lm->l_addr + ph[i].p_vaddr;
		lo = a < lo ? a : lo;
		hi = a + ph[i].p_memsz > hi ? a + ph[i].p_memsz : hi;
	}
	if (lo < hi) {
		self_lo = lo;
		self_hi = hi;
	}
}

void gr_allocsite_init(uint64_t r)
{
	if (r != 0) {
		gr_traceback_init();
		if (!unw_backtrace_fn) {
			/* The instance traceback.c loaded (RTLD_NOLOAD: never a second). */
			void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
			if (h)
				unw_backtrace_fn = (int (*)(void **, int))dlsym(h, "unw_backtrace");
		}
		if (!self_hi)
			find_self();
		if (!agg)
			agg = map((size_t)(GR_ALLOCSITE_MAX + 1) * sizeof *agg, true);
	}
	atomic_store_explicit(&rate, r, memory_order_release);	/* after the unwinder and the range */
	t_armed = false;
	gr_allocsite_left = -1;
}

/* --- fork -------------------------------------------------------------------- */

void gr_allocsite_fork_prepare(void)
{
	gr_lock(&sitelock);
	gr_lock(&objlock);
}

void gr_allocsite_fork_parent(void)
{
	gr_unlock(&objlock);
	gr_unlock(&sitelock);
}

void gr_allocsite_fork_child(void)
{
	atomic_store_explicit(&objlock.state, 0, memory_order_relaxed);
	atomic_store_explicit(&sitelock.state, 0, memory_order_relaxed);
}

/* --- the collector's view ----------------------------------------------------- */

void gr_allocsite_gc_foreach_meta(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg)
{
	struct otab *t = atomic_load_explicit(&otab, memory_order_acquire);
	if (t)
		fn((uintptr_t)t, (uintptr_t)t + otab_len, arg);
	for (int i = 0; i < nretired; i++)
		fn((uintptr_t)retired[i].p, (uintptr_t)retired[i].p + retired[i].len, arg);
	for (uint32_t c = 0; c < NCHUNKS; c++) {
		struct site *s = atomic_load_explicit(&chunks[c], memory_order_acquire);
		if (s)
			fn((uintptr_t)s, (uintptr_t)s + SITES_PER_CHUNK * sizeof *s, arg);
	}
	if (sidx)
		fn((uintptr_t)sidx, (uintptr_t)sidx + (size_t)sidx_cap * sizeof *sidx, arg);
	if (agg)
		fn((uintptr_t)agg, (uintptr_t)agg + (size_t)(GR_ALLOCSITE_MAX + 1) * sizeof *agg, arg);
}

/* --- leak aggregation and the report ------------------------------------------- */

void gr_leakagg_reset(void)
{
	if (!agg)
		agg = map((size_t)(GR_ALLOCSITE_MAX + 1) * sizeof *agg, true);
	else if (agg_hi)
		gr_sys(SYS_madvise, agg, page_round((size_t)(agg_hi + 1) * sizeof *agg), MADV_DONTNEED);
	agg_hi = 0;
	agg_unsampled_objects = agg_unsampled_bytes = 0;
}

void gr_leakagg_add(uint32_t site, uint64_t bytes)
{
	if (site == 0 || site > GR_ALLOCSITE_MAX || !agg) {
		agg_unsampled_objects++;
		agg_unsampled_bytes += bytes;
		return;
	}
	agg[site].objects++;
	agg[site].bytes += bytes;
	if (site > agg_hi)
		agg_hi = site;
}

struct row {
	uint32_t site;
	uint64_t samples, sampled_bytes;	/* as aggregated */
	uint64_t objects, bytes;		/* estimated (= sampled when exact) */
};

/* Sort order: more bytes first, then the lower site id. */
static bool row_before(const struct row *a, const struct row *b)
{
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes;
	return a->site < b->site;
}

static void row_sift(struct row *r, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && row_before(&r[c], &r[c + 1]))
			c++;
		if (!row_before(&r[i], &r[c]))
			return;
		struct row t = r[i];
		r[i] = r[c];
		r[c] = t;
		i = c;
	}
}

/* Heapsort into row_before order (a max-heap of "comes later"). */
static void row_sort(struct row *r, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		row_sift(r, i, n);
	for (size_t k = n; k-- > 1;) {
		struct row t = r[0];
		r[0] = r[k];
		r[k] = t;
		row_sift(r, 0, k);
	}
}

static void out(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(int fd, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	size_t n = gr_vfmt(line, sizeof line, fmt, ap);
	va_end(ap);
	gr_write_all(fd, line, n);
}

void gr_allocsite_print(int fd, uint32_t id)
{
	const uintptr_t *pcs;
	int n = gr_allocsite_frames(id, &pcs);
	char sym[256];
	for (int i = 0; i < n; i++) {
		gr_symbolize_ret(pcs[i], sym, sizeof sym);
		out(fd, "\t#%d %p %s\n", i, (void *)pcs[i], sym);
	}
	if (n == 0)
		out(fd, "\t(no frames)\n");
}

void gr_leakagg_report(int fd, uint64_t total_objects, uint64_t total_bytes)
{
	uint64_t r = gr_allocsite_rate();
	uint32_t hi = agg ? agg_hi : 0;
	size_t n = 0;
	for (uint32_t s = 1; s <= hi; s++)
		n += agg[s].objects != 0;
	out(fd, "leak report: %llu objects, %llu bytes leaked", (unsigned long long)total_objects,
	    (unsigned long long)total_bytes);
	if (r == 1)
		out(fd, "; %zu allocation sites (every allocation recorded)\n", n);
	else if (r > 1)
		out(fd, "; %zu allocation sites (sampled every %llu bytes on average: sites' figures are estimates)\n",
		    n, (unsigned long long)r);
	else
		out(fd, " (allocation sites not recorded: GRUN_DEBUG=allocsample=0)\n");
	size_t len = page_round((n ? n : 1) * sizeof(struct row));
	struct row *rows = n ? map(len, false) : NULL;
	if (n && !rows) {
		out(fd, "(no memory to sort %zu sites)\n", n);
		n = 0;
	}
	size_t k = 0;
	for (uint32_t s = 1; s <= hi && k < n; s++) {
		if (!agg[s].objects)
			continue;
		struct row *w = &rows[k++];
		w->site = s;
		w->samples = agg[s].objects;
		w->sampled_bytes = agg[s].bytes;
		gr_allocsite_scale(w->samples, w->sampled_bytes, r, &w->objects, &w->bytes);
	}
	n = k;
	row_sort(rows, n);
	uint64_t rest_objects = 0, rest_bytes = 0;
	for (size_t i = 0; i < n; i++) {
		const struct row *w = &rows[i];
		if (i >= REPORT_MAXSITES) {
			rest_objects += w->objects;
			rest_bytes += w->bytes;
			continue;
		}
		out(fd, "\n%llu bytes in %llu objects allocated at:", (unsigned long long)w->bytes,
		    (unsigned long long)w->objects);
		if (r > 1)
			out(fd, " (estimated from %llu samples, rate %llu bytes)", (unsigned long long)w->samples,
			    (unsigned long long)r);
		out(fd, "\n");
		gr_allocsite_print(fd, w->site);
	}
	if (n > REPORT_MAXSITES)
		out(fd, "\n%llu bytes in %llu objects at %zu more sites\n", (unsigned long long)rest_bytes,
		    (unsigned long long)rest_objects, n - REPORT_MAXSITES);
	if (agg_unsampled_objects || !n)
		out(fd, "\n%llu bytes in %llu objects at unsampled sites\n",
		    (unsigned long long)agg_unsampled_bytes, (unsigned long long)agg_unsampled_objects);
	uint64_t lost = atomic_load_explicit(&sites_lost, memory_order_relaxed) +
			atomic_load_explicit(&recs_lost, memory_order_relaxed);
	if (lost)
		out(fd, "(%llu samples were not recorded: site or object table full)\n", (unsigned long long)lost);
	if (rows)
		gr_munmap(rows, len);
}
