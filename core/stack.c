/* stack: mappings and cache (see stack.h). */
#include "core/stack.h"
#include "core/sys.h"

#include <errno.h>
#include <sys/mman.h>

size_t gr_pagesize = 4096;
_Atomic long gr_stack_nguarded;
static _Atomic int warned_unguarded;

static size_t round_page(size_t n)
{
	return (n + gr_pagesize - 1) & ~(gr_pagesize - 1);
}

int gr_stack_map(struct gr_stack *s, size_t size, size_t guard)
{
	size = round_page(size);
	guard = round_page(guard);
	if (guard && atomic_load(&gr_stack_nguarded) >= GR_STACK_GUARDED_MAX) {
		if (!atomic_exchange(&warned_unguarded, 1))
			gr_printf("libgrun: %d guarded thread stacks in use (vm.max_map_count budget): "
				  "new stacks have no guard page\n", GR_STACK_GUARDED_MAX);
		guard = 0;
	}
	size_t total = size + guard;
	void *p = gr_mmap(NULL, total, guard ? PROT_NONE : PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == (void *)-1)
		return -EAGAIN;
	if (guard && gr_mprotect((char *)p + guard, size, PROT_READ | PROT_WRITE) < 0) {
		gr_munmap(p, total);
		return -EAGAIN;
	}
	if (guard)
		atomic_fetch_add(&gr_stack_nguarded, 1);
	s->base = p;
	s->size = total;
	s->guard = guard;
	s->scavenged = false;
	s->next = NULL;
	return 0;
}

void gr_stack_unmap(struct gr_stack *s)
{
	if (s->guard)
		atomic_fetch_sub(&gr_stack_nguarded, 1);
	gr_munmap(s->base, s->size);
	s->base = NULL;
}

struct gr_stack *gr_stackcache_get(struct gr_stackcache *c, size_t size, size_t guard)
{
	size = round_page(size);
	guard = round_page(guard);
	gr_lock(&c->lock);
	struct gr_stack **pp = &c->head;
	bool exhausted = atomic_load(&gr_stack_nguarded) >= GR_STACK_GUARDED_MAX;
	for (struct gr_stack *s = c->head; s; pp = &s->next, s = s->next) {
		/* An unguarded stack stands in for a guarded one only when the
		 * guard budget is exhausted (gr_stack_map would drop it too). */
		if (s->size - s->guard == size && (s->guard == guard || exhausted)) {
			*pp = s->next;
			c->n--;
			gr_unlock(&c->lock);
			s->next = NULL;
			return s;
		}
	}
	gr_unlock(&c->lock);
	return NULL;
}

bool gr_stackcache_put(struct gr_stackcache *c, struct gr_stack *s)
{
	gr_lock(&c->lock);
	int max = c->max ? c->max : GR_STACK_CACHE_MAX;
	if (c->n >= max) {
		gr_unlock(&c->lock);
		return false;
	}
	s->next = c->head;
	c->head = s;
	c->n++;
	gr_unlock(&c->lock);
	return true;
}

int gr_stack_scavenge(struct gr_stackcache *c, size_t keep)
{
	int n = 0;
	keep = round_page(keep);
	gr_lock(&c->lock);
	for (struct gr_stack *s = c->head; s; s = s->next) {
		if (s->scavenged || s->size <= s->guard + keep)
			continue;
		gr_sys(SYS_madvise, (char *)s->base + s->guard, s->size - s->guard - keep, MADV_DONTNEED);
		s->scavenged = true;
		n++;
	}
	gr_unlock(&c->lock);
	return n;
}
