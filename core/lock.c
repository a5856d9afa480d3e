/* lock: slow path of the runtime mutex (see lock.h). */
#include "core/lock.h"

void gr_lock_slow(struct gr_lock *l)
{
	for (int spin = 0; spin < 100; spin++) {
		uint32_t z = 0;
		if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(&l->state, &z, 1, memory_order_acquire,
							  memory_order_relaxed))
			return;
		gr_cpu_relax();
	}
	/* Mark the lock contended; whoever holds it will wake us. */
	while (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) != 0)
		gr_futex_wait(&l->state, 2, NULL);
}
