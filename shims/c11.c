/* c11: C11 <threads.h> by name.
 *
 * glibc implements thrd_*, mtx_*, cnd_*, tss_* and call_once on its
 * internal pthread functions, which do not go through the PLT and so never
 * reach libgrun's shims: thrd_create would make a real thread. Each C11
 * function is therefore interposed and mapped onto the pthread shims, with
 * C11's result codes. Object layouts are glibc's (mtx_t and cnd_t are the
 * pthread objects; mtx_init and cnd_init stay glibc's).
 */
#include "shims/shim.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

static int c11(int pthread_err)
{
	switch (pthread_err) {
	case 0: return thrd_success;
	case EBUSY: return thrd_busy;
	case ETIMEDOUT: return thrd_timedout;
	case ENOMEM: return thrd_nomem;
	default: return thrd_error;
	}
}

struct start { thrd_start_t fn; void *arg; };

static void *trampoline(void *p)
{
	struct start s = *(struct start *)p;
	free(p);
	return (void *)(intptr_t)s.fn(s.arg);
}

GR_EXPORT int thrd_create(thrd_t *thr, thrd_start_t fn, void *arg)
{
	if (unlikely(gr_native))
		return REAL(thrd_create)(thr, fn, arg);
	struct start *s = malloc(sizeof *s);
	if (!s)
		return thrd_nomem;
	s->fn = fn;
	s->arg = arg;
	int r = pthread_create((pthread_t *)thr, NULL, trampoline, s);
	if (r)
		free(s);
	return r == EAGAIN ? thrd_nomem : c11(r);
}

GR_EXPORT int thrd_join(thrd_t thr, int *res)
{
	if (unlikely(gr_native))
		return REAL(thrd_join)(thr, res);
	void *v;
	int r = pthread_join((pthread_t)thr, &v);
	if (r == 0 && res)
		*res = (int)(intptr_t)v;
	return c11(r);
}

GR_EXPORT int thrd_detach(thrd_t thr)
{
	if (unlikely(gr_native))
		return REAL(thrd_detach)(thr);
	return c11(pthread_detach((pthread_t)thr));
}

GR_EXPORT _Noreturn void thrd_exit(int res)
{
	if (unlikely(gr_native))
		REAL(thrd_exit)(res);
	pthread_exit((void *)(intptr_t)res);
	__builtin_unreachable();
}

GR_EXPORT int thrd_sleep(const struct timespec *d, struct timespec *rem)
{
	if (unlikely(gr_native))
		return REAL(thrd_sleep)(d, rem);
	if (nanosleep(d, rem) == 0)
		return 0;
	return errno == EINTR ? -1 : -2;
}

GR_EXPORT void thrd_yield(void)
{
	sched_yield();
}

GR_EXPORT int mtx_lock(mtx_t *m) { return c11(pthread_mutex_lock((pthread_mutex_t *)m)); }
GR_EXPORT int mtx_trylock(mtx_t *m) { return c11(pthread_mutex_trylock((pthread_mutex_t *)m)); }
GR_EXPORT int mtx_unlock(mtx_t *m) { return c11(pthread_mutex_unlock((pthread_mutex_t *)m)); }
GR_EXPORT int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict t)
{
	return c11(pthread_mutex_timedlock((pthread_mutex_t *)m, t));
}

GR_EXPORT int cnd_wait(cnd_t *c, mtx_t *m)
{
	return c11(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}
GR_EXPORT int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict t)
{
	return c11(pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, t));
}
GR_EXPORT int cnd_signal(cnd_t *c) { return c11(pthread_cond_signal((pthread_cond_t *)c)); }
GR_EXPORT int cnd_broadcast(cnd_t *c) { return c11(pthread_cond_broadcast((pthread_cond_t *)c)); }

GR_EXPORT int tss_create(tss_t *key, tss_dtor_t dtor)
{
	return c11(pthread_key_create((pthread_key_t *)key, dtor));
}
GR_EXPORT void tss_delete(tss_t key) { pthread_key_delete((pthread_key_t)key); }
GR_EXPORT void *tss_get(tss_t key) { return pthread_getspecific((pthread_key_t)key); }
GR_EXPORT int tss_set(tss_t key, void *v) { return c11(pthread_setspecific((pthread_key_t)key, v)); }

GR_EXPORT void call_once(once_flag *flag, void (*fn)(void))
{
	pthread_once((pthread_once_t *)flag, fn);
}
