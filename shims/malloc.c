/* malloc: the malloc family, C++ operator new/delete, jemalloc's extended
 * API and tcmalloc's tc_* names, all served by libgrun's heap (core/heap.c).
 *
 * glibc's promises kept here: 16-byte alignment above 8 bytes; calloc and
 * reallocarray overflow -> ENOMEM; realloc(p, 0) frees and returns NULL;
 * realloc copies the whole old usable size; posix_memalign returns EINVAL
 * for an alignment that is not a power of two multiple of sizeof(void *);
 * memalign and aligned_alloc round other alignments up to a power of two
 * (glibc 2.36); free() preserves errno; malloc_usable_size() bytes are all
 * writable.
 *
 * Every pointer has one owner. The heap's arenas and its bootstrap arena
 * are recognized by address (O(1), heap.h); any other pointer came from
 * glibc's malloc (allocated before the preload took over, or by a library
 * calling glibc directly) and goes back to glibc's free/realloc/
 * malloc_usable_size, resolved once with dlsym(RTLD_NEXT). jemalloc's and
 * tcmalloc's extra entry points are served too, so that a program linked
 * to one of them never hands a pointer of ours to the other allocator.
 *
 * GRUN_HEAP=0 (read from the environment at the first allocation, before
 * any constructor; validated by config.c) forwards everything to glibc:
 * for bisecting. Pointers the heap handed out before are still freed by
 * the heap (by address).
 *
 * Contexts: every one but a signal handler (heap.h). While dlsym runs for
 * us (resolving glibc's functions) its own allocations are served from the
 * bootstrap arena in forwarding mode.
 *
 * Allocation sites (core/allocsite.h): every entry that hands out memory
 * the heap allocated passes it through gr_allocsite_alloc with the size
 * asked and its own return address (the sampled stack starts at the
 * program's call; a shim calling a shim is dropped as libgrun's frame);
 * every entry that gives memory back calls gr_allocsite_free first, while
 * the object is still the caller's (after the heap's free another thread
 * may get the address and record it), except in quarantine mode (release).
 * realloc hands the old block's record to the new block
 * (gr_allocsite_move). Both hooks run outside heap locks.
 */
#include "shims/shim.h"
#include "core/allocsite.h"
#include "core/heap.h"

#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- glibc's allocator, for pointers that are not ours --------------------- */

static struct {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*memalign)(size_t, size_t);
	size_t (*usable)(void *);
	int (*trim)(size_t);
	_Atomic int state;		/* 0 not resolved, 1 resolving, 2 done */
} glibc;
static __thread int resolving;

static void resolve_glibc(void)
{
	if (atomic_load_explicit(&glibc.state, memory_order_acquire) == 2)
		return;
	resolving++;
	int z = 0;
	if (atomic_compare_exchange_strong(&glibc.state, &z, 1)) {
		glibc.malloc = dlsym(RTLD_NEXT, "malloc");
		glibc.free = dlsym(RTLD_NEXT, "free");
		glibc.calloc = dlsym(RTLD_NEXT, "calloc");
		glibc.realloc = dlsym(RTLD_NEXT, "realloc");
		glibc.memalign = dlsym(RTLD_NEXT, "memalign");
		glibc.usable = dlsym(RTLD_NEXT, "malloc_usable_size");
		glibc.trim = dlsym(RTLD_NEXT, "malloc_trim");
		atomic_store_explicit(&glibc.state, 2, memory_order_release);
	} else {
		while (atomic_load_explicit(&glibc.state, memory_order_acquire) != 2)
			gr_cpu_relax();
	}
	resolving--;
}

/* Forwarding mode: true when glibc must serve this call (and it can). */
static inline bool forwarding(void)
{
	if (likely(gr_heap_mode == 1))
		return false;
	gr_heap_init();
	if (gr_heap_mode == 1 || resolving)
		return false;	/* re-entered from dlsym: bootstrap arena (heap.c) */
	resolve_glibc();
	return true;
}

/* Called by the heap's slow path in forwarding mode (weak in heap.c). */
GR_HIDDEN void *gr_malloc_forward(size_t n);
void *gr_malloc_forward(size_t n)
{
	if (resolving)
		return gr_heap_bootstrap_alloc(n, 16);
	resolve_glibc();
	return glibc.malloc(n);
}

/* Called by the heap for a pointer outside its arenas (weak in heap.c). */
GR_HIDDEN void gr_malloc_foreign_free(void *p);
void gr_malloc_foreign_free(void *p)
{
	int e = errno;
	resolve_glibc();
	if (glibc.free)
		glibc.free(p);
	errno = e;
}

static size_t usable(void *p)
{
	if (!p)
		return 0;
	if (gr_heap_owns(p))
		return gr_heap_usable(p);
	resolve_glibc();
	return glibc.usable ? glibc.usable(p) : 0;
}

/* --- the malloc family ------------------------------------------------------- */

static inline void *enomem(void)
{
	errno = ENOMEM;
	return NULL;
}

/* The hooks: see the file comment. sampled() returns p. */
#define sampled(p, n) gr_allocsite_alloc((p), (n), __builtin_return_address(0))

/* p may have an allocation record (allocsite's filter says so): forget it,
 * then free. Out of line so that release stays a tail call. In quarantine
 * mode free() only quarantines: the object stays allocated and keeps its
 * record (the collector's dangling-pointer report names its allocation
 * site); whoever finally releases it (gc.c) forgets the record. */
static __attribute__((noinline)) void release_sampled(void *p)
{
	if (!gr_heap_quarantine)
		gr_allocsite_free_slow(p);
	gr_heap_free(p);
}

static inline void release(void *p)
{
	if (unlikely(gr_allocsite_maybe(p)))
		release_sampled(p);
	else
		gr_heap_free(p);
}

GR_EXPORT void *malloc(size_t n)
{
	void *p = gr_heap_alloc(n);
	return likely(p) ? sampled(p, n) : enomem();
}

GR_EXPORT void free(void *p)
{
	release(p);
}

GR_EXPORT void *calloc(size_t n, size_t size)
{
	size_t total;
	if (unlikely(__builtin_mul_overflow(n, size, &total)))
		return enomem();
	if (unlikely(forwarding()))
		return glibc.calloc(n, size);
	void *p = gr_heap_calloc(total);
	return likely(p) ? sampled(p, total) : enomem();
}

/* ret: the exported entry's return address (for the sampled stack). */
static inline void *aligned(size_t align, size_t n, void *ret)
{
	if (unlikely(forwarding()))
		return glibc.memalign(align, n);
	void *p = gr_heap_alloc_aligned(n, align);
	return p ? gr_allocsite_alloc(p, n, ret) : enomem();
}

#define GROW_SLACK_MIN (4u << 10)

GR_EXPORT void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	bool ours = gr_heap_owns(p);
	if (!ours) {
		resolve_glibc();
		if (gr_heap_mode != 1 && !resolving)
			return glibc.realloc(p, n);
	}
	size_t old = usable(p);
	if (ours && !gr_heap_is_bootstrap(p)) {
		if (n <= old && (n * 2 >= old || old <= 64))
			return p;
		if (n > old && old > GR_MAXSMALL && gr_heap_resize_inplace(p, n))
			return p;
	}
	/* A block of 4 KiB or more that grows and had to move: give it room
	 * to grow in place next time (pages it never touches cost no memory;
	 * glibc moves such blocks with mremap, which heap arenas never do). */
	void *q = NULL;
	if (ours && n > old && n >= GROW_SLACK_MIN && n < SIZE_MAX / 4)
		q = malloc(n * 2);
	if (!q)
		q = malloc(n);
	if (!q)
		return NULL;	/* errno is ENOMEM; p is untouched */
	size_t nu = usable(q);
	memcpy(q, p, old < nu ? old : nu);
	gr_allocsite_move(p, q, gr_heap_quarantine != NULL);
	free(p);
	return q;
}

GR_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total))
		return enomem();
	return realloc(p, total);
}

GR_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	int e = errno;
	void *p = aligned(align, n, __builtin_return_address(0));
	errno = e;
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

/* glibc 2.36: an alignment that is not a power of two is rounded up. */
GR_EXPORT void *memalign(size_t align, size_t n)
{
	if (align <= 16)
		return malloc(n);
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (align & (align - 1))
		align = (size_t)1 << (64 - __builtin_clzll(align));
	return aligned(align, n, __builtin_return_address(0));
}

GR_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}

GR_EXPORT void *valloc(size_t n)
{
	return memalign(4096, n);
}

GR_EXPORT void *pvalloc(size_t n)
{
	size_t r;
	if (__builtin_add_overflow(n, 4095, &r))
		return enomem();
	r &= ~(size_t)4095;
	return memalign(4096, r ? r : 4096);
}

GR_EXPORT size_t malloc_usable_size(void *p)
{
	return usable(p);
}

GR_EXPORT int malloc_trim(size_t pad)
{
	if (gr_heap_mode == 2) {
		resolve_glibc();
		return glibc.trim ? glibc.trim(pad) : 0;
	}
	return gr_heap_trim() ? 1 : 0;
}

static void fill_mallinfo2(struct mallinfo2 *mi)
{
	struct gr_heap_stats st;
	gr_heap_read_stats(&st);
	memset(mi, 0, sizeof *mi);
	mi->arena = st.objects_bytes + st.unused_bytes + st.free_bytes;
	mi->ordblks = 1;
	mi->uordblks = st.objects_bytes;
	mi->fordblks = st.unused_bytes + st.free_bytes;
	mi->keepcost = st.free_bytes;
}

GR_EXPORT struct mallinfo2 mallinfo2(void)
{
	struct mallinfo2 mi;
	fill_mallinfo2(&mi);
	return mi;
}

GR_EXPORT struct mallinfo mallinfo(void)
{
	struct mallinfo2 m2;
	struct mallinfo mi;
	fill_mallinfo2(&m2);
	mi.arena = (int)m2.arena;
	mi.ordblks = (int)m2.ordblks;
	mi.smblks = (int)m2.smblks;
	mi.hblks = (int)m2.hblks;
	mi.hblkhd = (int)m2.hblkhd;
	mi.usmblks = (int)m2.usmblks;
	mi.fsmblks = (int)m2.fsmblks;
	mi.uordblks = (int)m2.uordblks;
	mi.fordblks = (int)m2.fordblks;
	mi.keepcost = (int)m2.keepcost;
	return mi;
}

/* Every glibc tunable is accepted and has no effect on this heap. */
GR_EXPORT int mallopt(int param, int value)
{
	return 1;
}

GR_EXPORT void malloc_stats(void)
{
	gr_heap_print_stats(2);
}

/* obsolete glibc name (a compatibility symbol there) */
GR_EXPORT void cfree(void *p)
{
	release(p);
}

/* Names some programs and libraries call directly. (The aliases lack
 * glibc's declaration attributes: harmless, they are the same functions.) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-attributes"
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
GR_EXPORT void *__libc_malloc(size_t n) __attribute__((alias("malloc")));
GR_EXPORT void __libc_free(void *p) __attribute__((alias("free")));
GR_EXPORT void *__libc_calloc(size_t n, size_t s) __attribute__((alias("calloc")));
GR_EXPORT void *__libc_realloc(void *p, size_t n) __attribute__((alias("realloc")));
GR_EXPORT void *__libc_memalign(size_t a, size_t n) __attribute__((alias("memalign")));
GR_EXPORT void *__libc_valloc(size_t n) __attribute__((alias("valloc")));
GR_EXPORT void *__libc_pvalloc(size_t n) __attribute__((alias("pvalloc")));
GR_EXPORT int __libc_mallopt(int p, int v) __attribute__((alias("mallopt")));
GR_EXPORT struct mallinfo __libc_mallinfo(void) __attribute__((alias("mallinfo")));
#pragma GCC diagnostic pop

/* --- C++ operator new and delete ------------------------------------------------- */

/* On failure, the next operator new (libstdc++'s) runs the new_handler
 * loop over our malloc and throws std::bad_alloc. */
static __attribute__((noinline)) void *new_failed(const char *name, size_t n, size_t align, bool nothrow)
{
	void *next = dlsym(RTLD_NEXT, name);
	if (next && align)
		return ((void *(*)(size_t, size_t))next)(n, align);
	if (next)
		return ((void *(*)(size_t))next)(n);
	if (nothrow)
		return NULL;
	gr_printf("libgrun: operator new: out of memory (%zu bytes) and no C++ runtime to throw\n", n);
	abort();
}

GR_EXPORT void *_Znwm(size_t n)
{
	void *p = gr_heap_alloc(n);
	return likely(p) ? sampled(p, n) : new_failed("_Znwm", n, 0, false);
}
GR_EXPORT void *_Znam(size_t n)
{
	void *p = gr_heap_alloc(n);
	return likely(p) ? sampled(p, n) : new_failed("_Znam", n, 0, false);
}
GR_EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const void *nt)
{
	return sampled(gr_heap_alloc(n), n);
}
GR_EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const void *nt)
{
	return sampled(gr_heap_alloc(n), n);
}
static inline void *new_aligned(size_t n, size_t align, void *ret)
{
	if (align & (align - 1))
		return NULL;
	return aligned(align, n, ret);
}
GR_EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t align)
{
	void *p = new_aligned(n, align, __builtin_return_address(0));
	return likely(p) ? p : new_failed("_ZnwmSt11align_val_t", n, align, false);
}
GR_EXPORT void *_ZnamSt11align_val_t(size_t n, size_t align)
{
	void *p = new_aligned(n, align, __builtin_return_address(0));
	return likely(p) ? p : new_failed("_ZnamSt11align_val_t", n, align, false);
}
GR_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t align, const void *nt)
{
	return new_aligned(n, align, __builtin_return_address(0));
}
GR_EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t align, const void *nt)
{
	return new_aligned(n, align, __builtin_return_address(0));
}
GR_EXPORT void _ZdlPv(void *p) { release(p); }
GR_EXPORT void _ZdaPv(void *p) { release(p); }
GR_EXPORT void _ZdlPvm(void *p, size_t n) { release(p); }
GR_EXPORT void _ZdaPvm(void *p, size_t n) { release(p); }
GR_EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) { release(p); }
GR_EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) { release(p); }
GR_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t a) { release(p); }
GR_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t a) { release(p); }
GR_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t a) { release(p); }
GR_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t a) { release(p); }
GR_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t a, const void *nt) { release(p); }
GR_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t a, const void *nt) { release(p); }

/* --- jemalloc's extended API (Debian's libjemalloc2: no prefix) ---------------------- */

#define MALLOCX_LG_ALIGN_MASK 0x3f
#define MALLOCX_ZERO 0x40

static size_t x_align(int flags)
{
	int la = flags & MALLOCX_LG_ALIGN_MASK;
	return la ? (size_t)1 << la : 0;
}

GR_EXPORT void *mallocx(size_t n, int flags)
{
	size_t align = x_align(flags);
	void *p;
	if (align > 16)
		p = aligned(align, n, __builtin_return_address(0));
	else if (flags & MALLOCX_ZERO)
		return calloc(1, n);
	else
		p = malloc(n);
	if (p && (flags & MALLOCX_ZERO))
		memset(p, 0, usable(p));
	return p;
}

GR_EXPORT void *rallocx(void *p, size_t n, int flags)
{
	size_t align = x_align(flags), old = usable(p);
	void *q;
	if (align <= 16) {
		q = realloc(p, n ? n : 1);
	} else if (((uintptr_t)p & (align - 1)) == 0 && n <= old && n * 2 >= old) {
		q = p;
	} else {
		q = aligned(align, n, __builtin_return_address(0));
		if (!q)
			return NULL;
		size_t nu = usable(q);
		memcpy(q, p, old < nu ? old : nu);
		gr_allocsite_move(p, q, gr_heap_quarantine != NULL);
		free(p);
	}
	if (q && (flags & MALLOCX_ZERO)) {
		size_t nu = usable(q);
		if (nu > old)
			memset((char *)q + old, 0, nu - old);
	}
	return q;
}

GR_EXPORT size_t xallocx(void *p, size_t n, size_t extra, int flags)
{
	size_t old = usable(p), want = n + extra < n ? n : n + extra;
	if (want > old && gr_heap_owns(p) && !gr_heap_is_bootstrap(p) && old > GR_MAXSMALL &&
	    (gr_heap_resize_inplace(p, want) || gr_heap_resize_inplace(p, n))) {
		size_t nu = usable(p);
		if (flags & MALLOCX_ZERO)
			memset((char *)p + old, 0, nu - old);
		return nu;
	}
	return old;
}

GR_EXPORT size_t sallocx(const void *p, int flags)
{
	return usable((void *)p);
}

GR_EXPORT void dallocx(void *p, int flags)
{
	free(p);
}

GR_EXPORT void sdallocx(void *p, size_t n, int flags)
{
	free(p);
}

GR_EXPORT size_t nallocx(size_t n, int flags)
{
	size_t align = x_align(flags);
	if (n > ((size_t)1 << 46))
		return 0;
	if (gr_heap_mode == 0)
		gr_heap_init();
	if (align > 16 && align <= GR_PAGESIZE && n <= GR_MAXSMALL) {
		size_t want = n < align ? align : n;
		for (unsigned k = gr_size_to_class(want); k < GR_NCLASSES; k++)
			if (gr_class[k].size % align == 0)
				return gr_class[k].size;
	}
	if (n <= GR_MAXSMALL && align <= 16)
		return gr_class[gr_size_to_class(n)].size;
	return (n + GR_PAGESIZE - 1) & ~(GR_PAGESIZE - 1);
}

/* mallctl: the common statistics and controls; ENOENT for the rest. */
static int ctl_out(void *oldp, size_t *oldlenp, const void *val, size_t len)
{
	if (!oldp || !oldlenp)
		return 0;
	if (*oldlenp != len) {
		size_t k = *oldlenp < len ? *oldlenp : len;
		memcpy(oldp, val, k);
		*oldlenp = k;
		return EINVAL;
	}
	memcpy(oldp, val, len);
	return 0;
}

GR_EXPORT int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
	struct gr_heap_stats st;
	gr_heap_read_stats(&st);
	size_t v;
	if (strcmp(name, "epoch") == 0) {
		uint64_t e = 1;
		return ctl_out(oldp, oldlenp, &e, sizeof e);
	}
	if (strcmp(name, "version") == 0) {
		static const char *ver = "5.3.0-0-libgrun";
		return ctl_out(oldp, oldlenp, &ver, sizeof ver);
	}
	if (strcmp(name, "stats.allocated") == 0)
		v = st.objects_bytes;
	else if (strcmp(name, "stats.active") == 0)
		v = st.objects_bytes + st.unused_bytes;
	else if (strcmp(name, "stats.resident") == 0 || strcmp(name, "stats.mapped") == 0)
		v = st.objects_bytes + st.unused_bytes + st.free_bytes + st.metadata_bytes;
	else if (strcmp(name, "stats.retained") == 0)
		v = st.released_bytes;
	else if (strcmp(name, "stats.metadata") == 0)
		v = st.metadata_bytes;
	else if (strcmp(name, "arenas.narenas") == 0 || strcmp(name, "opt.narenas") == 0) {
		unsigned one = 1;
		return ctl_out(oldp, oldlenp, &one, sizeof one);
	} else if (strcmp(name, "opt.tcache") == 0 || strcmp(name, "config.stats") == 0) {
		bool t = true;
		return ctl_out(oldp, oldlenp, &t, sizeof t);
	} else if (strcmp(name, "thread.tcache.flush") == 0 ||
		   (strncmp(name, "arena.", 6) == 0 && strstr(name, ".purge"))) {
		gr_heap_trim();
		return 0;
	} else
		return ENOENT;
	return ctl_out(oldp, oldlenp, &v, sizeof v);
}

GR_EXPORT int mallctlnametomib(const char *name, size_t *mibp, size_t *miblenp)
{
	return ENOENT;
}

GR_EXPORT int mallctlbymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp, void *newp,
			   size_t newlen)
{
	return ENOENT;
}

GR_EXPORT void malloc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque, const char *opts)
{
	struct gr_heap_stats st;
	char buf[256];
	gr_heap_read_stats(&st);
	gr_fmt(buf, sizeof buf, "___ Begin jemalloc statistics (libgrun heap) ___\nAllocated: %llu, free: %llu, released: %llu\n--- End jemalloc statistics ---\n",
	       (unsigned long long)st.objects_bytes, (unsigned long long)st.free_bytes,
	       (unsigned long long)st.released_bytes);
	if (write_cb)
		write_cb(cbopaque, buf);
	else
		gr_write_all(2, buf, strlen(buf));
}

/* --- tcmalloc's names ------------------------------------------------------------------ */

GR_EXPORT void *tc_malloc(size_t n) { return malloc(n); }
GR_EXPORT void *tc_malloc_skip_new_handler(size_t n) { return malloc(n); }
GR_EXPORT void tc_free(void *p) { free(p); }
GR_EXPORT void tc_free_sized(void *p, size_t n) { free(p); }
GR_EXPORT void tc_cfree(void *p) { free(p); }
GR_EXPORT void *tc_realloc(void *p, size_t n) { return realloc(p, n); }
GR_EXPORT void *tc_calloc(size_t n, size_t s) { return calloc(n, s); }
GR_EXPORT void *tc_memalign(size_t a, size_t n) { return memalign(a, n); }
GR_EXPORT int tc_posix_memalign(void **out, size_t a, size_t n) { return posix_memalign(out, a, n); }
GR_EXPORT void *tc_valloc(size_t n) { return valloc(n); }
GR_EXPORT void *tc_pvalloc(size_t n) { return pvalloc(n); }
GR_EXPORT void tc_malloc_stats(void) { malloc_stats(); }
GR_EXPORT int tc_mallopt(int p, int v) { return mallopt(p, v); }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
GR_EXPORT struct mallinfo tc_mallinfo(void) { return mallinfo(); }
#pragma GCC diagnostic pop
GR_EXPORT size_t tc_malloc_size(void *p) { return usable(p); }
GR_EXPORT int tc_set_new_mode(int mode) { return 0; }
GR_EXPORT const char *tc_version(int *major, int *minor, const char **patch)
{
	if (major)
		*major = 2;
	if (minor)
		*minor = 10;
	if (patch)
		*patch = "";
	return "gperftools 2.10 (libgrun heap)";
}
GR_EXPORT void *tc_new(size_t n) { return _Znwm(n); }
GR_EXPORT void *tc_newarray(size_t n) { return _Znam(n); }
GR_EXPORT void *tc_new_nothrow(size_t n, const void *nt) { return sampled(gr_heap_alloc(n), n); }
GR_EXPORT void *tc_newarray_nothrow(size_t n, const void *nt) { return sampled(gr_heap_alloc(n), n); }
GR_EXPORT void tc_delete(void *p) { free(p); }
GR_EXPORT void tc_deletearray(void *p) { free(p); }
GR_EXPORT void tc_delete_sized(void *p, size_t n) { free(p); }
GR_EXPORT void tc_deletearray_sized(void *p, size_t n) { free(p); }
GR_EXPORT void tc_delete_nothrow(void *p, const void *nt) { free(p); }
GR_EXPORT void tc_deletearray_nothrow(void *p, const void *nt) { free(p); }
GR_EXPORT void *tc_new_aligned(size_t n, size_t a) { return _ZnwmSt11align_val_t(n, a); }
GR_EXPORT void *tc_newarray_aligned(size_t n, size_t a) { return _ZnamSt11align_val_t(n, a); }
GR_EXPORT void *tc_new_aligned_nothrow(size_t n, size_t a, const void *nt)
{
	return new_aligned(n, a, __builtin_return_address(0));
}
GR_EXPORT void *tc_newarray_aligned_nothrow(size_t n, size_t a, const void *nt)
{
	return new_aligned(n, a, __builtin_return_address(0));
}
GR_EXPORT void tc_delete_aligned(void *p, size_t a) { free(p); }
GR_EXPORT void tc_deletearray_aligned(void *p, size_t a) { free(p); }
GR_EXPORT void tc_delete_sized_aligned(void *p, size_t n, size_t a) { free(p); }
GR_EXPORT void tc_deletearray_sized_aligned(void *p, size_t n, size_t a) { free(p); }
GR_EXPORT void tc_delete_aligned_nothrow(void *p, size_t a, const void *nt) { free(p); }
GR_EXPORT void tc_deletearray_aligned_nothrow(void *p, size_t a, const void *nt) { free(p); }
