/* sleep: sleep, usleep, nanosleep, clock_nanosleep park the G on its P's
 * timer heap instead of blocking the OS thread. */
#include "shims/shim.h"
#include "core/sys.h"

#include <time.h>
#include <unistd.h>

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

GR_EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem)
{
	/* A thread that cannot park (the program before its first
	 * pthread_create, a foreign or pinned thread) sleeps in the kernel,
	 * with the kernel's EINTR and remaining-time semantics. */
	if (unlikely(gr_native) || !gr_can_park(gr_getg()) || (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC &&
				    clock != CLOCK_BOOTTIME && clock != CLOCK_TAI))
		return REAL(clock_nanosleep)(clock, flags, req, rem);
	if (req->tv_nsec < 0 || req->tv_nsec >= 1000000000 || (!(flags & TIMER_ABSTIME) && req->tv_sec < 0))
		return EINVAL;
	int64_t deadline;
	if (flags & TIMER_ABSTIME) {
		struct timespec now;
		clock_gettime(clock, &now);
		int64_t rel = ts_ns(req) - ts_ns(&now);
		deadline = gr_nanotime() + (rel > 0 ? rel : 0);
	} else {
		int64_t rel = req->tv_sec > INT64_MAX / 1000000000 - 1 ? INT64_MAX / 2 : ts_ns(req);
		deadline = gr_nanotime() + rel;
	}
	gr_testcancel();
	int r = gr_sleep_until(deadline);
	gr_testcancel();
	if (r == -EINTR) {
		if (rem && !(flags & TIMER_ABSTIME))
			gr_ts_until(deadline, rem);
		return EINTR;
	}
	return 0;
}

GR_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (unlikely(gr_native) || !gr_can_park(gr_getg()))
		return REAL(nanosleep)(req, rem);
	int r = clock_nanosleep(CLOCK_MONOTONIC, 0, req, rem);
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

GR_EXPORT int usleep(useconds_t us)
{
	if (unlikely(gr_native) || !gr_can_park(gr_getg()))
		return REAL(usleep)(us);
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };
	return nanosleep(&ts, NULL);
}

GR_EXPORT unsigned int sleep(unsigned int s)
{
	if (unlikely(gr_native) || !gr_can_park(gr_getg()))
		return REAL(sleep)(s);
	struct timespec ts = { s, 0 }, rem;
	if (nanosleep(&ts, &rem) != 0)
		return (unsigned int)rem.tv_sec + (rem.tv_nsec >= 500000000);
	return 0;
}

GR_EXPORT int sched_yield(void)
{
	if (unlikely(gr_native))
		return REAL(sched_yield)();
	gr_gosched();
	return 0;
}

GR_EXPORT int pthread_yield(void)
{
	return sched_yield();
}
