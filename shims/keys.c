/* keys: pthread_key_* and pthread_once, owned by libgrun.
 *
 * glibc 2.36 has no hook to run its TSD destructors for a thread it did
 * not start, so libgrun keeps the key table (1024 keys, as glibc) and runs
 * the destructors at G exit, PTHREAD_DESTRUCTOR_ITERATIONS rounds. Values
 * live where glibc keeps them, in the calling thread's struct pthread
 * (specific[] of 32-entry blocks of {seq, data}), so the same code serves
 * Gs, foreign threads and the program before the scheduler starts. A key's
 * sequence number is odd while the key exists; a value whose seq differs
 * from its key's belongs to a deleted key and reads as NULL.
 */
#include "shims/shim.h"
#include "core/sema.h"
#include "core/tls.h"
#include "core/realc.h"
#include "arch/x86_64/arch.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

#define NKEYS 1024
#define L2 32

struct keydata { uintptr_t seq; void *data; };

static struct { _Atomic uintptr_t seq; void (*_Atomic destr)(void *); } keys[NKEYS];

static struct keydata **specific(void *tp)
{
	gr_init_check();
	return (struct keydata **)((char *)tp + gr_tls.off_specific);
}

GR_EXPORT int pthread_key_create(pthread_key_t *key, void (*destr)(void *))
{
	if (unlikely(gr_native))
		return REAL(pthread_key_create)(key, destr);
	for (unsigned i = 0; i < NKEYS; i++) {
		uintptr_t s = atomic_load(&keys[i].seq);
		if ((s & 1) == 0 && s + 1 > s &&
		    atomic_compare_exchange_strong(&keys[i].seq, &s, s + 1)) {
			atomic_store(&keys[i].destr, destr);
			*key = i;
			return 0;
		}
	}
	return EAGAIN;
}

GR_EXPORT int pthread_key_delete(pthread_key_t key)
{
	if (unlikely(gr_native))
		return REAL(pthread_key_delete)(key);
	if (key >= NKEYS)
		return EINVAL;
	uintptr_t s = atomic_load(&keys[key].seq);
	if ((s & 1) == 0 || !atomic_compare_exchange_strong(&keys[key].seq, &s, s + 1))
		return EINVAL;
	return 0;
}

GR_EXPORT void *pthread_getspecific(pthread_key_t key)
{
	if (unlikely(gr_native))
		return REAL(pthread_getspecific)(key);
	if (key >= NKEYS)
		return NULL;
	struct keydata *blk = specific(gr_arch_tp_inline())[key / L2];
	if (!blk)
		return NULL;
	struct keydata *d = &blk[key % L2];
	if (d->seq != atomic_load_explicit(&keys[key].seq, memory_order_relaxed))
		return NULL;
	return d->data;
}

GR_EXPORT int pthread_setspecific(pthread_key_t key, const void *value)
{
	if (unlikely(gr_native))
		return REAL(pthread_setspecific)(key, value);
	if (key >= NKEYS)
		return EINVAL;
	uintptr_t seq = atomic_load(&keys[key].seq);
	if ((seq & 1) == 0)
		return EINVAL;
	void *tp = gr_arch_tp_inline();
	struct keydata **sp = specific(tp);
	struct keydata *blk = sp[key / L2];
	if (!blk) {
		if (!value)
			return 0;
		blk = calloc(L2, sizeof *blk);
		if (!blk)
			return ENOMEM;
		sp[key / L2] = blk;
	}
	*(bool *)((char *)tp + gr_tls.off_specific + L2 * sizeof(void *)) = true;	/* specific_used */
	blk[key % L2].seq = seq;
	blk[key % L2].data = (void *)value;
	return 0;
}

/* At G exit: C++ thread_local destructors first, then key destructors (the
 * order glibc's start_thread uses), then the key blocks are freed. */
GR_HIDDEN void gr_mutex_exit(struct gr_g *g);

static void run_key_destructors(struct gr_g *g);

/* G exit, in glibc's order: C++ thread_local destructors, pthread key
 * destructors, then the robust mutexes still held are released as dead. */
static void run_exit_destructors(struct gr_g *g)
{
	gr_real.call_tls_dtors();
	run_key_destructors(g);
	gr_mutex_exit(g);
}

static void run_key_destructors(struct gr_g *g)
{
	void *tp = g->tp;
	bool *used = (bool *)((char *)tp + gr_tls.off_specific + L2 * sizeof(void *));
	if (!*used)
		return;		/* never called pthread_setspecific */
	*used = false;
	struct keydata **sp = specific(tp);
	for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
		bool again = false;
		for (unsigned i = 0; i < NKEYS; i++) {
			struct keydata *blk = sp[i / L2];
			if (!blk) {
				i += L2 - 1;
				continue;
			}
			struct keydata *d = &blk[i % L2];
			void *data = d->data;
			if (!data)
				continue;
			d->data = NULL;
			void (*destr)(void *) = atomic_load(&keys[i].destr);
			if (d->seq == atomic_load(&keys[i].seq) && destr) {
				destr(data);
				again = true;
			}
		}
		if (!again)
			break;
	}
	for (int i = 0; i < NKEYS / L2; i++) {
		if (i > 0 && sp[i])
			free(sp[i]);
		sp[i] = NULL;
	}
	sp[0] = (struct keydata *)((char *)tp + gr_tls.off_specific_1st);
}

GR_HIDDEN void gr_keys_init(void)
{
	gr_exit_hook = run_exit_destructors;
}

/* pthread_once: 0 not run, 1 running, 2 done (glibc's done value). */
GR_EXPORT int pthread_once(pthread_once_t *once, void (*init)(void))
{
	if (unlikely(gr_native))
		return REAL(pthread_once)(once, init);
	_Atomic uint32_t *w = (_Atomic uint32_t *)once;
	uint32_t v = atomic_load_explicit(w, memory_order_acquire);
	if (likely(v == 2))
		return 0;
	for (;;) {
		v = 0;
		if (atomic_compare_exchange_strong(w, &v, 1)) {
			init();
			atomic_store_explicit(w, 2, memory_order_release);
			gr_sema_wake(w, INT_MAX);
			return 0;
		}
		if (v == 2)
			return 0;
		gr_sema_wait(w, v, -1, WAIT_ONCE);
	}
}
