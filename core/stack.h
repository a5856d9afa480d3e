/* stack: G stack mappings and the stack cache.
 *
 * A G's memory is one mapping: [guard | stack ... | TCB + static TLS].
 * Reserved with MAP_NORESERVE (pages are committed on touch), so a default
 * 8 MiB stack costs only the pages a thread uses. Each guarded mapping is
 * two VMAs; vm.max_map_count (65530 here) bounds how many can exist. Past
 * GR_STACK_GUARDED_MAX guarded stacks, new stacks get no guard page (one
 * VMA, which may even merge with its neighbours): libgrun says so once on
 * stderr, and overflow of such a stack is then detected only when it runs
 * into a neighbouring guard or unmapped memory.
 *
 * The cache keeps freed mappings (with their TCBs, owned by proc) for reuse
 * by size; sysmon calls gr_stack_scavenge to give back the pages of cached
 * stacks that have sat idle.
 */
#ifndef GR_STACK_H
#define GR_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/lock.h"
#include "core/throw.h"

#define GR_STACK_GUARDED_MAX 28000
#define GR_STACK_CACHE_MAX 4096

struct gr_stack {
	void *base;			/* mapping start (guard page first) */
	size_t size;			/* whole mapping */
	size_t guard;			/* guard bytes at base (0: unguarded) */
	bool scavenged;			/* pages returned since last use */
	struct gr_stack *next;		/* cache list */
	void *owner;			/* what the cache returns with it (proc's G) */
};

struct gr_stackcache {
	struct gr_lock lock;
	struct gr_stack *head;		/* LIFO: warmest first; lock */
	int n;				/* lock */
	int max;
};

GR_HIDDEN extern size_t gr_pagesize;
/* Map a stack of size bytes (rounded up to pages) with guard bytes below.
 * Returns 0 or -ENOMEM/-EAGAIN. */
GR_HIDDEN int gr_stack_map(struct gr_stack *s, size_t size, size_t guard);
GR_HIDDEN void gr_stack_unmap(struct gr_stack *s);
/* Cache: take a stack of exactly (size, guard) or NULL; put one back
 * (false when the cache is full: the caller unmaps it). */
GR_HIDDEN struct gr_stack *gr_stackcache_get(struct gr_stackcache *c, size_t size, size_t guard);
GR_HIDDEN bool gr_stackcache_put(struct gr_stackcache *c, struct gr_stack *s);
/* Return the pages of cached stacks (all but the top keep bytes). */
GR_HIDDEN int gr_stack_scavenge(struct gr_stackcache *c, size_t keep);
GR_HIDDEN extern _Atomic long gr_stack_nguarded;

#endif
