/* cancel: deferred cancellation of green threads.
 *
 * libgrun keeps glibc's own machinery: pthread_cancel sets CANCELING and
 * CANCELED in the target's TCB (cancelhandling), exactly the bits glibc's
 * pthread_testcancel, pthread_setcancelstate/type and its own cancellable
 * system call wrappers look at, and the unwinding is glibc's
 * __pthread_unwind through libgcc (C++ destructors run, abi::__forced_unwind
 * can be caught and rethrown, cleanup handlers registered through
 * __pthread_register_cancel run), ending in the G's first frame, which
 * libgrun registered as the TCB's cleanup_jmp_buf (proc.c, gmain). A G
 * parked in a libgrun cancellation point (condition variable, join, sleep,
 * semaphore) is woken to act on it. Asynchronous cancellation of a G that
 * is running without reaching a cancellation point needs a signal into
 * its M: not done yet (it acts at its next cancellation point).
 */
#include "shims/shim.h"
#include "core/realc.h"

void gr_testcancel_slow(void)
{
	gr_real.pthread_testcancel();
}
