/* timer: POSIX timers with SIGEV_THREAD notification run their callback
 * on a green thread.
 *
 * glibc runs such callbacks on a hidden helper thread that libgrun cannot
 * see (it blocks every signal and creates a native thread per expiry).
 * Here a timer is a timerfd watched by one G of its own, parked in the
 * netpoller; each expiry starts a detached G (with the attributes the
 * program gave) that calls the callback, as glibc starts a thread.
 * timer_getoverrun reports the expiries folded into the last one.
 * Timers on clocks timerfd cannot use (CPU-time clocks) and every other
 * notification kind stay glibc's; their timer_t values are small
 * integers (kernel ids) or glibc's own encodings, never ours.
 */
#include "shims/shim.h"
#include "core/gc.h"
#include "core/sys.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAXT 1024
#define TAG ((intptr_t)1 << 40)

struct gtimer {
	int fd;
	void (*fn)(union sigval);
	union sigval val;
	pthread_attr_t attr;
	bool has_attr;
	_Atomic int overrun;
	_Atomic bool used;
	_Atomic uint32_t gen;		/* bumped per timer_create of this slot */
};

static struct gtimer timers[MAXT];

static struct gtimer *of(timer_t t)
{
	intptr_t v = (intptr_t)t;
	if ((v & ~(intptr_t)(MAXT - 1)) != TAG)
		return NULL;
	struct gtimer *gt = &timers[v & (MAXT - 1)];
	return atomic_load(&gt->used) ? gt : NULL;
}

struct call { void (*fn)(union sigval); union sigval val; };

static void *run_callback(void *arg)
{
	struct call c = *(struct call *)arg;
	free(arg);
	c.fn(c.val);
	return NULL;
}

/* The timer's own G: waits for expiries, starts a G for each. */
static void *watch(void *arg)
{
	struct gtimer *gt = arg;
	uint32_t gen = atomic_load(&gt->gen);
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);	/* as glibc's helper thread */
	int fd = gt->fd;
	for (;;) {
		uint64_t n;
		if (read(fd, &n, sizeof n) != (ssize_t)sizeof n) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			break;	/* deleted: the fd was closed */
		}
		if (atomic_load(&gt->gen) != gen)
			break;	/* deleted, and the slot (and fd number) reused */
		atomic_store(&gt->overrun, n > (uint64_t)INT32_MAX ? INT32_MAX : (int)(n - 1));
		struct call *c = malloc(sizeof *c);
		if (!c)
			continue;
		c->fn = gt->fn;
		c->val = gt->val;
		pthread_attr_t a;
		pthread_attr_t *ap = NULL;
		if (gt->has_attr) {
			a = gt->attr;
			ap = &a;
		} else {
			pthread_attr_init(&a);
			ap = &a;
		}
		pthread_attr_setdetachstate(ap, PTHREAD_CREATE_DETACHED);
		pthread_t t;
		if (pthread_create(&t, ap, run_callback, c) != 0)
			free(c);
		if (!gt->has_attr)
			pthread_attr_destroy(&a);
	}
	return NULL;
}

GR_EXPORT int timer_create(clockid_t clock, struct sigevent *sev, timer_t *out)
{
	if (gr_native || !sev || sev->sigev_notify != SIGEV_THREAD ||
	    (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME &&
	     clock != CLOCK_REALTIME_ALARM && clock != CLOCK_BOOTTIME_ALARM))
	{
		int r = REAL(timer_create)(clock, sev, out);
		/* The kernel holds the value a signal will carry: a root. */
		if (r == 0 && sev && sev->sigev_notify != SIGEV_NONE && gr_gc_enabled())
			gr_gc_kroot_set(GR_KROOT_TIMER(*out), (uintptr_t)sev->sigev_value.sival_ptr);
		return r;
	}
	int i;
	for (i = 0; i < MAXT; i++) {
		bool f = false;
		if (atomic_compare_exchange_strong(&timers[i].used, &f, true))
			break;
	}
	if (i == MAXT) {
		errno = EAGAIN;
		return -1;
	}
	struct gtimer *gt = &timers[i];
	int fd = (int)gr_sys(SYS_timerfd_create, clock, TFD_CLOEXEC, 0);
	if (fd < 0) {
		atomic_store(&gt->used, false);
		errno = -fd;
		return -1;
	}
	gt->fd = fd;
	atomic_fetch_add(&gt->gen, 1);
	gt->fn = sev->sigev_notify_function;
	gt->val = sev->sigev_value;
	gt->has_attr = sev->sigev_notify_attributes != NULL;
	if (gt->has_attr)
		gt->attr = *sev->sigev_notify_attributes;
	atomic_store(&gt->overrun, 0);
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 64 << 10);
	pthread_t t;
	int r = pthread_create(&t, &a, watch, gt);
	pthread_attr_destroy(&a);
	if (r != 0) {
		gr_sys(SYS_close, fd, 0, 0);
		atomic_store(&gt->used, false);
		errno = r;
		return -1;
	}
	*out = (timer_t)(TAG | i);
	return 0;
}

GR_EXPORT int timer_settime(timer_t t, int flags, const struct itimerspec *nv, struct itimerspec *old)
{
	struct gtimer *gt = of(t);
	if (!gt)
		return REAL(timer_settime)(t, flags, nv, old);
	int tf = (flags & TIMER_ABSTIME) ? TFD_TIMER_ABSTIME : 0;
	return (int)gr_errno_ret(gr_sys6(SYS_timerfd_settime, gt->fd, tf, (long)nv, (long)old, 0, 0));
}

GR_EXPORT int timer_gettime(timer_t t, struct itimerspec *cur)
{
	struct gtimer *gt = of(t);
	if (!gt)
		return REAL(timer_gettime)(t, cur);
	return (int)gr_errno_ret(gr_sys(SYS_timerfd_gettime, gt->fd, (long)cur, 0));
}

GR_EXPORT int timer_getoverrun(timer_t t)
{
	struct gtimer *gt = of(t);
	if (!gt)
		return REAL(timer_getoverrun)(t);
	return atomic_load(&gt->overrun);
}

GR_EXPORT int timer_delete(timer_t t)
{
	struct gtimer *gt = of(t);
	if (!gt) {
		if (gr_gc_enabled())
			gr_gc_kroot_del(GR_KROOT_TIMER(t));
		return REAL(timer_delete)(t);
	}
	int fd = gt->fd;
	gt->fd = -1;
	close(fd);	/* the watching G's read ends with EBADF */
	atomic_store(&gt->used, false);
	return 0;
}
