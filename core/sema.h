/* sema: the one blocking primitive under every sync object.
 *
 * A wait queue keyed by address, with futex semantics: gr_sema_wait parks
 * the caller iff *addr still equals val (checked under the queue lock, so
 * no wake-up is lost), gr_sema_wake wakes up to n waiters on addr in FIFO
 * order. Mutexes, condition variables, once, join and the rest are built on
 * it the way glibc builds them on futex(2). (Go's sema.go keeps a counter
 * at the address instead; the futex form lets the object's own memory keep
 * glibc's layout, so static initializers work unchanged.)
 *
 * Callers that cannot park (foreign threads, pinned Gs, the runtime not
 * started yet) wait in the kernel on the same word; a wake reaches both.
 * Shared (process-shared) words always use the kernel.
 */
#ifndef GR_SEMA_H
#define GR_SEMA_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include "core/throw.h"

/* Wait while *addr == val. deadline: monotonic ns, < 0 = none. Returns 0
 * (woken, or spuriously), -EAGAIN (value differed), -ETIMEDOUT. */
GR_HIDDEN int gr_sema_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline, int reason);
/* Wake up to n waiters of addr. Returns the number of green waiters woken. */
GR_HIDDEN int gr_sema_wake(_Atomic uint32_t *addr, int n);
/* Wake one waiter of addr; true if it had waited over a millisecond (the
 * caller may then yield to it: Go's mutex starvation mode, lite). */
GR_HIDDEN bool gr_sema_wake_one(_Atomic uint32_t *addr);
GR_HIDDEN int gr_sema_wait_shared(_Atomic uint32_t *addr, uint32_t val, int64_t deadline);
GR_HIDDEN void gr_sema_wake_shared(_Atomic uint32_t *addr, int n);

/* Convert an absolute time on clock to a monotonic deadline in ns. */
GR_HIDDEN int64_t gr_deadline_from_abs(int clock, const struct timespec *abs);

#endif
