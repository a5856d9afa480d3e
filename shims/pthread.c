/* pthread: thread creation, joining and identity on green threads.
 *
 * pthread_t is the G's TCB address, as in glibc, so pthread_self() and
 * THREAD_SELF (glibc's own view) need no shim and agree with the program.
 * Attributes are read with glibc's own pthread_attr_get* functions.
 */
#include "shims/shim.h"
#include "core/config.h"
#include "core/realc.h"
#include "core/sys.h"
#include "core/tls.h"
#include "arch/x86_64/arch.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

GR_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attr,
			     void *(*fn)(void *), void *arg)
{
	gr_init_check();
	if (unlikely(gr_native))
		return gr_real.pthread_create(thread, attr, fn, arg);
	struct gr_gattr ga = { .guard = 4096 };
	if (attr) {
		int ds = PTHREAD_CREATE_JOINABLE;
		pthread_attr_getdetachstate(attr, &ds);
		ga.detached = ds == PTHREAD_CREATE_DETACHED;
		/* glibc's pthread_attr_getstack returns stackaddr - stacksize
		 * even when no stack was set (stackaddr NULL): the sum tells. */
		void *addr = NULL, *top;
		size_t size = 0;
		pthread_attr_getstack(attr, &addr, &size);
		top = (char *)addr + size;
		if (top) {
			ga.stack_addr = addr;
			ga.stack_size = size;
		} else {
			pthread_attr_getstacksize(attr, &ga.stack_size);
			pthread_attr_getguardsize(attr, &ga.guard);
		}
		/* glibc reports its default size for an attr with none set; an
		 * explicit GRUN_STACK then still wins for default attrs. */
		pthread_attr_t def;
		size_t defsize = 0;
		if (!addr && gr_cfg.stack && pthread_getattr_default_np(&def) == 0) {
			pthread_attr_getstacksize(&def, &defsize);
			pthread_attr_destroy(&def);
			if (defsize == ga.stack_size)
				ga.stack_size = 0;
		}
	}
	if (gr_sched_ensure_started() < 0)
		return EAGAIN;
	struct gr_g *g;
	int r = gr_gcreate(&ga, fn, arg, &g);
	if (r < 0)
		return -r;
	g->createpc = __builtin_return_address(0);
	*thread = (pthread_t)g->tp;
	return 0;
}

static struct gr_g *g_of(pthread_t t)
{
	return gr_g_of_tp((void *)t);
}

static int join(pthread_t t, void **res, int64_t deadline)
{
	struct gr_g *g = g_of(t);
	if (!g)
		return ESRCH;
	if (g == gr_getg())
		return EDEADLK;
	if (atomic_load(&g->detach) == GD_DETACHED)
		return EINVAL;
	gr_testcancel();
	int r = -gr_gjoin(g, res, deadline);
	if (r == ECANCELED) {
		gr_testcancel();
		r = EINTR;	/* not reached: the cancellation unwinds */
	}
	return r;
}

GR_EXPORT int pthread_join(pthread_t t, void **res)
{
	if (unlikely(gr_native))
		return REAL(pthread_join)(t, res);
	if (!g_of(t))
		return REAL(pthread_join)(t, res);
	return join(t, res, -1);
}

GR_EXPORT int pthread_tryjoin_np(pthread_t t, void **res)
{
	if (unlikely(gr_native) || !g_of(t))
		return REAL(pthread_tryjoin_np)(t, res);
	return join(t, res, 0);
}

GR_EXPORT int pthread_clockjoin_np(pthread_t t, void **res, clockid_t clock, const struct timespec *abs)
{
	if (unlikely(gr_native) || !g_of(t))
		return REAL(pthread_clockjoin_np)(t, res, clock, abs);
	int64_t deadline = -1;
	if (abs) {
		int err;
		deadline = gr_abs_deadline(clock, abs, &err);
		if (err)
			return err;
		if (deadline == 0)
			deadline = 1;	/* already past: time out, do not "try" */
	}
	int r = join(t, res, deadline);
	return r == EBUSY ? ETIMEDOUT : r;
}

GR_EXPORT int pthread_timedjoin_np(pthread_t t, void **res, const struct timespec *abs)
{
	return pthread_clockjoin_np(t, res, CLOCK_REALTIME, abs);
}

GR_EXPORT int pthread_detach(pthread_t t)
{
	if (unlikely(gr_native) || !g_of(t))
		return REAL(pthread_detach)(t);
	return -gr_gdetach(g_of(t));
}

GR_EXPORT void pthread_exit(void *result)
{
	struct gr_g *g = gr_native ? NULL : gr_getg();
	if (!g)
		REAL(pthread_exit)(result);
	/* Unwind like glibc (C++ destructors, cleanup handlers) to the G's
	 * first frame. G1's outermost frames are glibc's start code, whose
	 * unwind target would end the kernel thread: main ends without
	 * unwinding (see the README). */
	if (!g->is_main && gr_real.pthread_unwind_next)
		gr_exit_unwind(result);
	gr_gexit(result);
}

GR_EXPORT int pthread_cancel(pthread_t t)
{
	struct gr_g *g = gr_native ? NULL : g_of(t);
	if (!g)
		return REAL(pthread_cancel)(t);
	if (atomic_load(&g->status) == G_DEAD || atomic_load(&g->status) == G_IDLE)
		return 0;	/* ended, not joined yet: as glibc */
	__atomic_or_fetch((int *)((char *)g->tp + gr_tls.off_cancelhandling), GR_CANCELED_BITS,
			  __ATOMIC_SEQ_CST);
	if (g == gr_getg()) {
		int ch = *(int *)((char *)g->tp + gr_tls.off_cancelhandling);
		if (ch & 2)	/* asynchronous type: act now */
			gr_testcancel();
		return 0;
	}
	gr_cancel_wake(g);
	return 0;
}

GR_EXPORT int pthread_getattr_np(pthread_t t, pthread_attr_t *attr)
{
	struct gr_g *g = gr_native ? NULL : g_of(t);
	if (!g || g->is_main)
		return gr_real.pthread_getattr_np(t, attr);
	pthread_attr_init(attr);
	/* As glibc: the whole block below the guard, TCB and TLS included. */
	pthread_attr_setstack(attr, g->stack_lo, (size_t)((char *)g->map_top - (char *)g->stack_lo));
	pthread_attr_setguardsize(attr, g->guard);
	if (atomic_load(&g->detach) == GD_DETACHED)
		pthread_attr_setdetachstate(attr, PTHREAD_CREATE_DETACHED);
	return 0;
}

GR_EXPORT int pthread_setname_np(pthread_t t, const char *name)
{
	struct gr_g *g = gr_native ? NULL : g_of(t);
	if (!g || g->pinned)
		return REAL(pthread_setname_np)(t, name);
	if (strlen(name) >= sizeof g->name)
		return ERANGE;
	strcpy(g->name, name);
	return 0;
}

GR_EXPORT int pthread_getname_np(pthread_t t, char *buf, size_t len)
{
	struct gr_g *g = gr_native ? NULL : g_of(t);
	if (!g || g->pinned || (g->is_main && !g->name[0]))
		return REAL(pthread_getname_np)(t, buf, len);
	if (!g->name[0])	/* unnamed: the name it inherited, the program's */
		return REAL(pthread_getname_np)((pthread_t)gr_sched.g1->tp, buf, len);
	if (strlen(g->name) >= len)
		return ERANGE;
	strcpy(buf, g->name);
	return 0;
}

/* --- scheduling attributes of a green thread ---
 * A G is not a kernel thread: its policy, priority and CPU affinity are
 * recorded and reported back, and do not move the kernel threads (the Ms
 * are shared by all Gs). A pinned G (or a foreign thread) gets the real
 * calls. */

GR_EXPORT int pthread_setschedparam(pthread_t t, int policy, const struct sched_param *sp)
{
	struct gr_g *g = gr_native ? NULL : g_of(t);
	if (!g || g->pinned)
		return REAL(pthread_setschedparam)(t, policy, sp);
	int lo = sched_get_priority_min(policy), hi = sched_get_priority_max(policy);
	if (lo < 0 || sp->sched_priority < lo || sp->sched_priority > hi)
		return EINVAL;
	g->schedpolicy = policy;
	g->schedprio = sp->sched_priority;
	return 0;
}

GR_EXPORT int pthread_getschedparam(pthread_t t, int *policy, struct sched_param *sp)
{
	struct gr_g *g = gr_native ? NULL : g_of(t);
	if (!g || g->pinned)
		return REAL(pthread_getschedparam)(t, policy, sp);
	*policy = g->schedpolicy;
	sp->sched_priority = g->schedprio;
	return 0;
}

GR_EXPORT int pthread_setschedprio(pthread_t t, int prio)
{
	struct gr_g *g = gr_native ? NULL : g_of(t);
	if (!g || g->pinned)
		return REAL(pthread_setschedprio)(t, prio);
	struct sched_param sp = { .sched_priority = prio };
	return pthread_setschedparam(t, g->schedpolicy, &sp);
}

GR_EXPORT int pthread_setaffinity_np(pthread_t t, size_t size, const cpu_set_t *set)
{
	struct gr_g *g = gr_native ? NULL : g_of(t);
	if (g && g == gr_getg())
		gr_pin();	/* its own affinity: it gets a kernel thread of its own */
	if (!g || g->pinned)
		return REAL(pthread_setaffinity_np)(t, size, set);
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof allowed, &allowed) < 0)
		return errno;
	bool any = false;
	for (size_t i = 0; i < size * 8 && i < CPU_SETSIZE; i++)
		if (CPU_ISSET_S(i, size, set) && CPU_ISSET(i, &allowed))
			any = true;
	if (!any)
		return EINVAL;
	CPU_ZERO(&g->affinity);
	memcpy(&g->affinity, set, size < sizeof g->affinity ? size : sizeof g->affinity);
	g->affinity_set = true;
	return 0;
}

GR_EXPORT int pthread_getaffinity_np(pthread_t t, size_t size, cpu_set_t *set)
{
	struct gr_g *g = gr_native ? NULL : g_of(t);
	if (!g || g->pinned || !g->affinity_set)
		return g && !g->pinned ? (sched_getaffinity(0, size, set) < 0 ? errno : 0)
				       : REAL(pthread_getaffinity_np)(t, size, set);
	memset(set, 0, size);
	memcpy(set, &g->affinity, size < sizeof g->affinity ? size : sizeof g->affinity);
	return 0;
}

/* sched_setaffinity on the calling thread changes its kernel thread: pin
 * first, so the setting stays with this thread and no other G runs there. */
GR_EXPORT int sched_setaffinity(pid_t pid, size_t size, const cpu_set_t *set)
{
	struct gr_g *g = gr_native ? NULL : gr_getg();
	if (g && (pid == 0 || pid == g->vtid || pid == gr_gettid()))
		gr_pin();
	if (g && pid == g->vtid && !g->is_main)
		pid = 0;	/* its virtual tid means itself */
	return REAL(sched_setaffinity)(pid, size, set);
}

/* CPU time is per kernel thread: a G asking for its own clock is pinned
 * (its time is then its M's, exactly its own from then on); for another,
 * unpinned G this is the clock of the OS thread it last ran on, which
 * also counts the other Gs that ran there (see the README). */
GR_EXPORT int pthread_getcpuclockid(pthread_t t, clockid_t *clock)
{
	struct gr_g *g = gr_native ? NULL : g_of(t);
	if (!g)
		return REAL(pthread_getcpuclockid)(t, clock);
	if (g == gr_getg())
		gr_pin();
	if (!g->m)
		return ENOENT;	/* has not run yet */
	/* MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) */
	*clock = (clockid_t)((~(unsigned)g->m->tid << 3) | 6);
	return 0;
}

GR_EXPORT int pthread_setattr_default_np(const pthread_attr_t *attr)
{
	int r = REAL(pthread_setattr_default_np)(attr);
	if (r == 0 && !gr_native)
		gr_sched_default_stack_changed();
	return r;
}
