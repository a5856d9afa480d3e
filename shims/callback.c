/* callback: libc functions that call back into program code.
 *
 * A G preempted inside a callback that libc calls with one of its locks
 * held (dl_iterate_phdr holds the loader's lock) would keep that lock
 * while parked. These wrappers raise the G's no-preempt count around the
 * libc call, so the callbacks run to completion (DESIGN section 6).
 */
#undef _FILE_OFFSET_BITS	/* define the plain names, not the 64 redirects */
#include "shims/shim.h"

#include <ftw.h>
#include <dirent.h>
#include <link.h>
#include <search.h>
#include <stdlib.h>

#define NOPREEMPT(call) ({					\
	struct gr_g *g_ = gr_getg();				\
	if (g_) g_->nopreempt++;				\
	__typeof__(call) r_ = (call);				\
	if (g_) g_->nopreempt--;				\
	r_; })
#define NOPREEMPT_VOID(call) do {				\
	struct gr_g *g_ = gr_getg();				\
	if (g_) g_->nopreempt++;				\
	call;							\
	if (g_) g_->nopreempt--;				\
} while (0)

typedef int (*cmp_fn)(const void *, const void *);

GR_EXPORT void qsort(void *b, size_t n, size_t sz, cmp_fn cmp)
{
	NOPREEMPT_VOID(REAL(qsort)(b, n, sz, cmp));
}
GR_EXPORT void qsort_r(void *b, size_t n, size_t sz, int (*cmp)(const void *, const void *, void *), void *arg)
{
	NOPREEMPT_VOID(REAL(qsort_r)(b, n, sz, cmp, arg));
}
GR_EXPORT void *bsearch(const void *k, const void *b, size_t n, size_t sz, cmp_fn cmp)
{
	return NOPREEMPT(REAL(bsearch)(k, b, n, sz, cmp));
}
GR_EXPORT void *lfind(const void *k, const void *b, size_t *n, size_t sz, cmp_fn cmp)
{
	return NOPREEMPT(REAL(lfind)(k, b, n, sz, cmp));
}
GR_EXPORT void *lsearch(const void *k, void *b, size_t *n, size_t sz, cmp_fn cmp)
{
	return NOPREEMPT(REAL(lsearch)(k, b, n, sz, cmp));
}
GR_EXPORT void *tsearch(const void *k, void **root, cmp_fn cmp)
{
	return NOPREEMPT(REAL(tsearch)(k, root, cmp));
}
GR_EXPORT void *tfind(const void *k, void *const *root, cmp_fn cmp)
{
	return NOPREEMPT(REAL(tfind)(k, root, cmp));
}
GR_EXPORT void *tdelete(const void *restrict k, void **restrict root, cmp_fn cmp)
{
	return NOPREEMPT(REAL(tdelete)(k, root, cmp));
}
GR_EXPORT void twalk(const void *root, void (*fn)(const void *, VISIT, int))
{
	NOPREEMPT_VOID(REAL(twalk)(root, fn));
}
GR_EXPORT int dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
	return NOPREEMPT(REAL(dl_iterate_phdr)(cb, arg));
}
GR_EXPORT int nftw(const char *dir, int (*fn)(const char *, const struct stat *, int, struct FTW *),
		   int fds, int flags)
{
	return NOPREEMPT(REAL(nftw)(dir, fn, fds, flags));
}
GR_EXPORT int ftw(const char *dir, int (*fn)(const char *, const struct stat *, int), int fds)
{
	return NOPREEMPT(REAL(ftw)(dir, fn, fds));
}
GR_EXPORT int scandir(const char *dir, struct dirent ***list, int (*sel)(const struct dirent *),
		      int (*cmp)(const struct dirent **, const struct dirent **))
{
	return NOPREEMPT(REAL(scandir)(dir, list, sel, cmp));
}
