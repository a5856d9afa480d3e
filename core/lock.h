/* lock: the runtime's internal mutex (Go's lock/unlock on a futex).
 *
 * Three states: 0 unlocked, 1 locked, 2 locked with sleepers. Held only for
 * short critical sections; a contender spins briefly, then sleeps in the
 * kernel (blocking its M: runtime locks are never held across a park).
 * Usable from any context that may block: G, g0, sysmon, foreign threads.
 * Not from signal handlers.
 */
#ifndef GR_LOCK_H
#define GR_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/sys.h"
#include "core/throw.h"

struct gr_lock {
	_Atomic uint32_t state;
};

GR_HIDDEN void gr_lock_slow(struct gr_lock *l);

static inline void gr_lock(struct gr_lock *l)
{
	uint32_t z = 0;
	if (likely(atomic_compare_exchange_strong_explicit(&l->state, &z, 1, memory_order_acquire,
							   memory_order_relaxed)))
		return;
	gr_lock_slow(l);
}

static inline bool gr_trylock(struct gr_lock *l)
{
	uint32_t z = 0;
	return atomic_compare_exchange_strong_explicit(&l->state, &z, 1, memory_order_acquire,
						       memory_order_relaxed);
}

static inline void gr_unlock(struct gr_lock *l)
{
	if (unlikely(atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2))
		gr_futex_wake(&l->state, 1);
}

#endif
