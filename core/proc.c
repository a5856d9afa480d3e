/* proc: the G/M/P scheduler (see proc.h for the model and lock order).
 *
 * Control flow. Each M runs schedule() on its g0 stack: find a runnable G
 * (local runq, global runq every 61 ticks or when local is empty, timers,
 * stealing from other Ps), switch to it, and when the G comes back through
 * mcall, run the callback it left (park, yield, exit) on g0. An M with
 * nothing to do gives its P back and sleeps on a futex note; one idle M
 * sleeps only until the earliest timer of any P.
 *
 * Spinning. An M looking for work without finding any is "spinning"; at
 * most half of the busy Ps' worth of Ms spin (nmspinning), and gr_wakep
 * starts a spinning M only when none is spinning and a P is idle, so a
 * burst of ready Gs wakes Ms one at a time (Go's scheme).
 *
 * Shared state: sched.lock protects the global run queue, the idle P and M
 * lists and nextp hand-over; counters read without it are atomics. A P's
 * runq is lock-free (runq.c); its timer heap has its own lock (timer.c).
 * G fields: status is atomic; the rest belong to whoever runs the G or, for
 * a parked G, to the waker that dequeued it.
 */
#include "core/proc.h"
#include "core/sig.h"
#include "core/stw.h"
#include "core/config.h"
#include "core/heap.h"
#include "core/netpoll.h"
#include "core/realc.h"
#include "core/sema.h"
#include "core/stack.h"
#include "core/sys.h"
#include "core/tls.h"
#include "arch/x86_64/arch.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct gr_sched gr_sched;
__thread struct gr_g *gr_curg __attribute__((tls_model("initial-exec")));
__thread struct gr_m *gr_curm __attribute__((tls_model("initial-exec")));
struct gr_lock gr_allm_lock;
struct gr_m *gr_allm;
struct gr_lock gr_allg_lock;
struct gr_g *gr_allg;
void (*gr_exit_hook)(struct gr_g *g);

const char *const gr_waitreason_names[WAIT_NREASONS] = {
	"", "mutex", "cond", "join", "sleep", "once", "semacquire", "rwlock", "barrier",
	"global runq", "futex", "IO wait",
};

#define MAX_MS 10000
#define G0_STACK (256 << 10)
#define VTID_BASE 4194304	/* PID_MAX_LIMIT: no kernel tid is this large */

static struct gr_stackcache stackcache;
struct gr_stackcache *gr_stackcache_global = &stackcache;
static struct gr_lock gfree_lock;
static struct gr_g *gfree_plain;	/* G structs without a stack; gfree_lock */
static size_t default_stack;
static _Atomic int mid_gen;

/* --- fixed-size runtime objects: never freed, never from the program's heap --- */

static struct gr_lock fix_lock;
static char *fix_cur, *fix_end;

static void *fixalloc(size_t size)
{
	size = (size + 63) & ~(size_t)63;
	gr_lock(&fix_lock);
	if ((size_t)(fix_end - fix_cur) < size) {
		size_t chunk = size > (256 << 10) ? size : (256 << 10);
		char *p = gr_mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == (void *)-1)
			gr_throw("proc: out of memory for runtime structures");
		fix_cur = p;
		fix_end = p + chunk;
	}
	void *r = fix_cur;
	fix_cur += size;
	gr_unlock(&fix_lock);
	return r;
}

/* --- P and M lists (sched.lock held) --- */

static void pidleput_locked(struct gr_p *p)
{
	p->m = NULL;
	atomic_store(&p->status, P_IDLE);
	p->link = gr_sched.pidle;
	gr_sched.pidle = p;
	atomic_fetch_add(&gr_sched.npidle, 1);
}

static struct gr_p *pidleget_locked(void)
{
	struct gr_p *p = gr_sched.pidle;
	if (p) {
		gr_sched.pidle = p->link;
		atomic_fetch_sub(&gr_sched.npidle, 1);
	}
	return p;
}

static void acquirep(struct gr_m *m, struct gr_p *p)
{
	m->p = p;
	p->m = m;
	atomic_store(&p->status, GR_PWORD(m, P_RUNNING));
	atomic_fetch_add_explicit(&p->tick, 1, memory_order_relaxed);
}

static void globrunqput_locked(struct gr_g *g)
{
	g->schedlink = NULL;
	if (gr_sched.runqtail)
		gr_sched.runqtail->schedlink = g;
	else
		gr_sched.runqhead = g;
	gr_sched.runqtail = g;
	atomic_fetch_add(&gr_sched.runqsize, 1);
}

/* Take a batch from the global queue into p's runq; return one G. */
static struct gr_g *globrunqget_locked(struct gr_p *p, int max)
{
	int size = atomic_load(&gr_sched.runqsize);
	if (size == 0)
		return NULL;
	int n = size / gr_sched.nprocs + 1;
	if (n > size)
		n = size;
	if (max > 0 && n > max)
		n = max;
	if (n > GR_RUNQ_SIZE / 2)
		n = GR_RUNQ_SIZE / 2;
	atomic_fetch_sub(&gr_sched.runqsize, n);
	struct gr_g *g = gr_sched.runqhead;
	gr_sched.runqhead = g->schedlink;
	for (int i = 1; i < n; i++) {
		struct gr_g *x = gr_sched.runqhead, *ov;
		gr_sched.runqhead = x->schedlink;
		if (!gr_runq_put(&p->runq, x, false, &ov))
			gr_throw("proc: local runq overflow taking from the global queue");
	}
	if (!gr_sched.runqhead)
		gr_sched.runqtail = NULL;
	return g;
}

static void runqput(struct gr_p *p, struct gr_g *g, bool next)
{
	struct gr_g *ov, *batch[GR_RUNQ_SIZE / 2 + 1];
	while (!gr_runq_put(&p->runq, g, next, &ov)) {
		uint32_t n = gr_runq_put_slow(&p->runq, ov, batch);
		if (n) {
			gr_lock(&gr_sched.lock);
			for (uint32_t i = 0; i < n; i++)
				globrunqput_locked(batch[i]);
			gr_unlock(&gr_sched.lock);
			return;
		}
		g = ov;
		next = false;
	}
}

/* --- M sleep / wake --- */

static void notewakeup(struct gr_m *m)
{
	atomic_store(&m->note, 1);
	gr_futex_wake(&m->note, 1);
}

void gr_m_block_signals(struct gr_m *m)
{
	/* Everything catchable except the synchronous faults. */
	uint64_t all = ~0ull & ~((1ull << (SIGSEGV - 1)) | (1ull << (SIGBUS - 1)) |
				 (1ull << (SIGFPE - 1)) | (1ull << (SIGILL - 1)) |
				 (1ull << (SIGTRAP - 1)) | (1ull << (GR_RTSIG - 1)));
	if (m->cursigmask != all) {
		gr_sys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, 8, 0, 0);
		m->cursigmask = all;
	}
}

static void stopm_wait(struct gr_m *m, int64_t deadline);

/* Sleep until woken with a P in m->nextp or until deadline (ns, INT64_MAX =
 * none). Returns with m->p set, or NULL p after a timeout with no P.
 * Asleep, m's heap cache may be taken by a collector's pause. */
static void stopm(struct gr_m *m, int64_t deadline)
{
	gr_heap_cache_idle(m->id);
	stopm_wait(m, deadline);
	gr_heap_cache_busy(m->id);
}

static void stopm_wait(struct gr_m *m, int64_t deadline)
{
	/* An idle M blocks every program signal: process-directed signals go
	 * to a running G that takes them or to sysmon, the catcher (sig.h). */
	gr_m_block_signals(m);
	gr_lock(&gr_sched.lock);
	m->schedlink = gr_sched.midle;
	gr_sched.midle = m;
	gr_sched.nmidle++;
	gr_unlock(&gr_sched.lock);
	for (;;) {
		struct timespec ts, *tsp = NULL;
		if (deadline != INT64_MAX)
			tsp = gr_ts_until(deadline, &ts);
		if (atomic_load(&m->note) == 0 && (!tsp || ts.tv_sec || ts.tv_nsec))
			gr_futex_wait(&m->note, 0, tsp);
		if (atomic_exchange(&m->note, 0))
			break;
		if (deadline != INT64_MAX && gr_nanotime() >= deadline) {
			/* Timed out: leave the idle list unless a waker got us. */
			gr_lock(&gr_sched.lock);
			if (atomic_exchange(&m->note, 0)) {
				gr_unlock(&gr_sched.lock);
				break;
			}
			bool listed = false;
			for (struct gr_m **pp = &gr_sched.midle; *pp; pp = &(*pp)->schedlink) {
				if (*pp == m) {
					*pp = m->schedlink;
					gr_sched.nmidle--;
					listed = true;
					break;
				}
			}
			if (!listed) {
				/* A waker (startm) took us off the list and gave us
				 * its P (nextp) and its spinning count; its note
				 * follows its unlock. Wait for it: returning here
				 * lost that P and that count, and left the note to
				 * end the next stopm at once with no nextp (seen:
				 * every M asleep beside a queued G, idle P count
				 * one short, nmspinning stuck at 1). */
				gr_unlock(&gr_sched.lock);
				deadline = INT64_MAX;
				continue;
			}
			struct gr_p *p = pidleget_locked();
			gr_unlock(&gr_sched.lock);
			if (p)
				acquirep(m, p);
			return;
		}
	}
	struct gr_p *p = m->nextp;
	m->nextp = NULL;
	acquirep(m, p);
}

static void mstart_thread_common(struct gr_m *m);
static void *mstart(void *arg);
GR_HIDDEN void gr_identity_register(struct gr_m *m);
GR_HIDDEN void gr_identity_wait_registered(struct gr_m *m);

int gr_m_newid(void)
{
	return atomic_fetch_add(&mid_gen, 1) + 1;
}

/* Held around creating an OS thread: pthread_create allocates (the new
 * thread's TLS and dtv) from the caller's heap cache, and the caller may
 * be sysmon or an idle M, which a stop of the world does not stop. The
 * collector holds it across its pauses (gc.c). */
struct gr_lock gr_newm_lock;
__thread int gr_newm_held;

static void newm(struct gr_p *p, bool spinning)
{
	if (atomic_load(&gr_sched.mcount) >= MAX_MS)
		gr_throw("thread limit: the program keeps more than 10000 OS threads blocked");
	struct gr_m *m = fixalloc(sizeof *m);
	m->id = atomic_fetch_add(&mid_gen, 1) + 1;
	m->nextp = p;
	m->spinning = spinning;
	atomic_fetch_add(&gr_sched.mcount, 1);

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, G0_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigset_t all, old;
	sigfillset(&all);
	gr_newm_lock_take();
	gr_real.pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = gr_real.pthread_create(&m->pthread, &attr, mstart, m);
	gr_real.pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		gr_newm_lock_drop();
		gr_throwf("newm: cannot create an OS thread", "pthread_create: error %d", r);
	}
	gr_identity_wait_registered(m);
	gr_newm_lock_drop();
}

static void startm(struct gr_p *p, bool spinning)
{
	gr_lock(&gr_sched.lock);
	if (!p) {
		p = pidleget_locked();
		if (!p) {
			gr_unlock(&gr_sched.lock);
			if (spinning)
				atomic_fetch_sub(&gr_sched.nmspinning, 1);
			return;
		}
	}
	struct gr_m *m = gr_sched.midle;
	if (m) {
		gr_sched.midle = m->schedlink;
		gr_sched.nmidle--;
		m->nextp = p;
		m->spinning = spinning;
	}
	gr_unlock(&gr_sched.lock);
	if (m)
		notewakeup(m);
	else
		newm(p, spinning);
}

void gr_wakep(void)
{
	if (atomic_load(&gr_sched.npidle) == 0 || atomic_load(&gr_sched.nmspinning) != 0)
		return;
	int z = 0;
	if (!atomic_compare_exchange_strong(&gr_sched.nmspinning, &z, 1))
		return;
	startm(NULL, true);
}

void gr_handoffp(struct gr_p *p)
{
	if (!gr_runq_empty(&p->runq) || atomic_load(&gr_sched.runqsize) > 0 ||
	    gr_timers_next(&p->timers) != INT64_MAX) {
		startm(p, false);
		return;
	}
	int z = 0;
	if (atomic_load(&gr_sched.npidle) == 0 &&
	    atomic_compare_exchange_strong(&gr_sched.nmspinning, &z, 1)) {
		startm(p, true);
		return;
	}
	gr_lock(&gr_sched.lock);
	if (atomic_load(&gr_sched.runqsize) > 0) {
		gr_unlock(&gr_sched.lock);
		startm(p, false);
		return;
	}
	pidleput_locked(p);
	gr_unlock(&gr_sched.lock);
}

/* A timer at when was armed: make sure some M will wake for it. */
static void timer_armed(int64_t when)
{
	if (when < atomic_load(&gr_sched.sleep_until) && atomic_load(&gr_sched.netpolling))
		gr_netpoll_break();
	if (when < atomic_load(&gr_sched.sleep_until) && atomic_load(&gr_sched.npidle) > 0 &&
	    atomic_load(&gr_sched.nmspinning) == 0) {
		int z = 0;
		if (atomic_compare_exchange_strong(&gr_sched.nmspinning, &z, 1))
			startm(NULL, true);
	}
}

/* --- finding work --- */

static uint32_t fastrand(struct gr_p *p)
{
	p->rand ^= p->rand << 13;
	p->rand ^= p->rand >> 7;
	p->rand ^= p->rand << 17;
	return (uint32_t)p->rand;
}

static void resetspinning(struct gr_m *m)
{
	m->spinning = false;
	if (atomic_fetch_sub(&gr_sched.nmspinning, 1) == 1)
		gr_wakep();
}

static struct gr_g *stealwork(struct gr_m *m, int64_t now)
{
	struct gr_p *p = m->p;
	int n = gr_sched.nprocs;
	for (int round = 0; round < 4; round++) {
		uint32_t start = fastrand(p) % (uint32_t)n;
		for (int i = 0; i < n; i++) {
			struct gr_p *v = &gr_sched.allp[(start + (uint32_t)i) % (uint32_t)n];
			if (v == p)
				continue;
			if (gr_timers_next(&v->timers) <= now && gr_timers_run(&v->timers, now) > 0) {
				struct gr_g *g = gr_runq_get(&p->runq);
				if (g)
					return g;
			}
			/* runnext of a P whose M is running is left alone: that G
			 * was just readied by the running G, which will usually
			 * block soon and hand over its time slice to it. */
			uint32_t st = GR_PSTATE(atomic_load(&v->status));
			bool steal_next = round == 3 && st != P_RUNNING && st != P_USER;
			struct gr_g *g = gr_runq_steal(&p->runq, &v->runq, steal_next);
			if (g)
				return g;
		}
	}
	return NULL;
}

/* A spinning M that found nothing keeps looking for a few microseconds
 * before it gives its P up: a program that readies Gs at a high rate
 * (create/join, ping-pong through a condition variable) then finds an M
 * already spinning, and gr_wakep costs no futex wake-up. */
#define SPIN_NS 20000
static bool spin_for_work(struct gr_m *m, struct gr_p *p)
{
	int64_t until = gr_nanotime() + SPIN_NS;
	do {
		for (int k = 0; k < 64; k++)
			gr_cpu_relax();
		if (atomic_load(&gr_sched.runqsize) > 0 || !gr_runq_empty(&p->runq))
			return true;
		for (int i = 0; i < gr_sched.nprocs; i++)
			if (gr_runq_len(&gr_sched.allp[i].runq) > 0)
				return true;
	} while (gr_nanotime() < until);
	return false;
}

/* Run the due timers of every P (an M that was idle, now holding a P:
 * their Gs go to its run queue). */
static void run_due_timers(void)
{
	int64_t now = gr_nanotime();
	for (int i = 0; i < gr_sched.nprocs; i++)
		if (gr_timers_next(&gr_sched.allp[i].timers) <= now)
			gr_timers_run(&gr_sched.allp[i].timers, now);
}

/* An idle M takes an idle P, if any, and runs the timers that are due. */
static bool take_idle_p(struct gr_m *m)
{
	gr_lock(&gr_sched.lock);
	struct gr_p *p = pidleget_locked();
	gr_unlock(&gr_sched.lock);
	if (!p)
		return false;
	acquirep(m, p);
	run_due_timers();
	return true;
}

/* Returns a G to run, with m->p held (P_RUNNING). */
static struct gr_g *findrunnable(struct gr_m *m)
{
	struct gr_g *g;
top:;
	struct gr_p *p = m->p;
	int64_t now = gr_timers_next(&p->timers) == INT64_MAX ? 0 : gr_nanotime();
	if (now)
		gr_timers_run(&p->timers, now);
	if (p->schedtick % 61 == 0 && atomic_load(&gr_sched.runqsize) > 0) {
		gr_lock(&gr_sched.lock);
		g = globrunqget_locked(p, 1);
		gr_unlock(&gr_sched.lock);
		if (g)
			goto found;
	}
	if ((g = gr_runq_get(&p->runq)))
		goto found;
	if (atomic_load(&gr_sched.runqsize) > 0) {
		gr_lock(&gr_sched.lock);
		g = globrunqget_locked(p, 0);
		gr_unlock(&gr_sched.lock);
		if (g)
			goto found;
	}
	if (gr_netpoll_active() && !atomic_load(&gr_sched.netpolling) && gr_netpoll(0) > 0) {
		atomic_store(&gr_sched.lastpoll, gr_nanotime_coarse());
		if ((g = gr_runq_get(&p->runq)))
			goto found;
	}
	int busy = gr_sched.nprocs - atomic_load(&gr_sched.npidle);
	if (!m->spinning && 2 * atomic_load(&gr_sched.nmspinning) < busy) {
		m->spinning = true;
		atomic_fetch_add(&gr_sched.nmspinning, 1);
	}
	if (m->spinning && (g = stealwork(m, now ? now : gr_nanotime())))
		goto found;
	if (m->spinning && spin_for_work(m, p))
		goto top;

	/* Nothing: give up the P. */
	gr_lock(&gr_sched.lock);
	if (atomic_load(&gr_sched.runqsize) > 0) {
		g = globrunqget_locked(p, 0);
		gr_unlock(&gr_sched.lock);
		goto found;
	}
	m->p = NULL;
	pidleput_locked(p);
	gr_unlock(&gr_sched.lock);

	bool was_spinning = m->spinning;
	if (was_spinning) {
		m->spinning = false;
		atomic_fetch_sub(&gr_sched.nmspinning, 1);
		/* Re-check every runq, the global one too: a G readied while
		 * we were giving up the P saw us spinning and woke nobody
		 * (Go's "delicate dance"; sysmon readies Gs interrupted by a
		 * signal onto the global queue). */
		bool work = atomic_load(&gr_sched.runqsize) > 0;
		for (int i = 0; i < gr_sched.nprocs && !work; i++)
			work = !gr_runq_empty(&gr_sched.allp[i].runq);
		if (work) {
			gr_lock(&gr_sched.lock);
			struct gr_p *np = pidleget_locked();
			gr_unlock(&gr_sched.lock);
			if (np) {
				/* No P free means every P is busy: their Ms will
				 * find it. */
				acquirep(m, np);
				m->spinning = true;
				atomic_fetch_add(&gr_sched.nmspinning, 1);
				goto top;
			}
		}
	}
	int64_t next = INT64_MAX;
	for (int i = 0; i < gr_sched.nprocs; i++) {
		int64_t w = gr_timers_next(&gr_sched.allp[i].timers);
		if (w < next)
			next = w;
	}
	if (next <= gr_nanotime() && take_idle_p(m))
		goto top;
	bool f = false;
	if (gr_netpoll_active() && atomic_compare_exchange_strong(&gr_sched.netpolling, &f, true)) {
		/* This M waits for I/O and for the next timer of any P. */
		atomic_store(&gr_sched.sleep_until, next);
		int64_t now2 = gr_nanotime();
		gr_netpoll(next == INT64_MAX ? -1 : (next > now2 ? next - now2 : 0));
		atomic_store(&gr_sched.lastpoll, gr_nanotime_coarse());
		atomic_store(&gr_sched.sleep_until, INT64_MAX);
		atomic_store(&gr_sched.netpolling, false);
		if (take_idle_p(m))
			goto top;
		/* Every P is busy: the Gs it readied are on the global queue. */
		stopm(m, INT64_MAX);
		goto top;
	}
	int64_t until = INT64_MAX;
	if (next != INT64_MAX && next < atomic_load(&gr_sched.sleep_until)) {
		until = next;
		atomic_store(&gr_sched.sleep_until, next);
	}
	stopm(m, until);
	if (until != INT64_MAX) {
		int64_t u = until;
		atomic_compare_exchange_strong(&gr_sched.sleep_until, &u, INT64_MAX);
	}
	if (!m->p) {
		/* Timed out without a P: every P is busy; sleep again. */
		stopm(m, INT64_MAX);
	}
	run_due_timers();	/* they may be why we woke */
	goto top;

found:
	if (m->spinning)
		resetspinning(m);
	return g;
}

/* --- switching --- */

static void execute(struct gr_m *m, struct gr_g *g)
{
	struct gr_p *p = m->p;
	m->curg = g;
	g->m = m;
	/* A stopper (stw.c) sets gr_stw_active, then looks at m->curg: it
	 * sees this M's G, or this M sees it and waits (the G still counts
	 * as runnable, its context on its stack). */
	atomic_thread_fence(memory_order_seq_cst);
	gr_stw_gate();
	atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
	p->schedtick++;
	uint64_t mask = g->sigmask & ~(1ull << (GR_RTSIG - 1));	/* the runtime's signal */
	if (mask != m->cursigmask) {
		gr_sys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&mask, 0, 8, 0, 0);
		m->cursigmask = mask;
	}
	atomic_store_explicit(&p->status, GR_PWORD(m, P_USER), memory_order_release);
	gr_arch_switch(&m->g0sp, &g->sp, g->tp);
}

/* Run the callback a G left through mcall; returns the G to run next. */
static struct gr_g *run_mcall(struct gr_m *m)
{
	struct gr_g *gp = m->curg;
	struct gr_g *(*fn)(struct gr_g *, void *) = m->mcall_fn;
	m->curg = NULL;
	m->mcall_fn = NULL;
	return fn(gp, m->mcall_arg);
}

static void schedule(struct gr_m *m)
{
	/* M0's g0 is first entered by G1's first mcall, not by execute. */
	struct gr_g *g = m->mcall_fn ? run_mcall(m) : NULL;
	for (;;) {
		if (!g)
			g = findrunnable(m);
		execute(m, g);
		g = run_mcall(m);
	}
}

/* Switch from the running G to g0 and run fn(g, arg) there; fn returns a
 * G to run at once (the same one to cancel a park) or NULL to schedule. */
static void mcall(struct gr_g *(*fn)(struct gr_g *, void *), void *arg)
{
	struct gr_g *g = gr_curg;
	struct gr_m *m = g->m;
	m->mcall_fn = fn;
	m->mcall_arg = arg;
	gr_arch_switch(&g->sp, &m->g0sp, m->tcb);
}

struct parkargs {
	bool (*unlockf)(struct gr_g *, void *);
	void *arg;
};

static struct gr_g *park_m(struct gr_g *g, void *a)
{
	struct parkargs *pa = a;
	atomic_store(&g->status, G_WAITING);
	if (pa->unlockf && !pa->unlockf(g, pa->arg)) {
		atomic_store(&g->status, G_RUNNABLE);
		return g;
	}
	/* A signal that arrived while g ran runtime code on its way here was
	 * left pending on g for its next checkpoint, and nobody pokes a G
	 * for it: the end of this park is that checkpoint. Without this the
	 * signal waited for sysmon's sweep (up to 10 ms when idle), and a
	 * handler ran late, after the program had moved on (CPython's
	 * test_signal: a late SIGALRM counted by the next test's handler). */
	if (gr_sig_pending(g))
		gr_sig_interrupt(g);
	gr_sig_catcher_kick(g);
	return NULL;
}

void gr_park(bool (*unlockf)(struct gr_g *, void *), void *arg, int reason)
{
	struct gr_g *g = gr_curg;
	struct parkargs pa = { unlockf, arg };
	g->waitreason = reason;
	g->waitsince = gr_nanotime_coarse();
	mcall(park_m, &pa);
	g->waitreason = WAIT_NONE;
	gr_enter(g);
}

void gr_ready(struct gr_g *g)
{
	int st = G_WAITING;
	if (!atomic_compare_exchange_strong(&g->status, &st, G_RUNNABLE))
		gr_throw("ready: G is not waiting");
	struct gr_g *cur = gr_curg;
	struct gr_m *m = cur ? cur->m : gr_curm;
	struct gr_p *p = NULL;
	bool entered = false;
	if (cur && !cur->pinned) {
		p = m->p;
		if (!p || atomic_load(&p->status) != GR_PWORD(m, P_RUNNING)) {
			p = gr_enter(cur);
			entered = true;
		}
	} else if (m && !cur && !m->is_sysmon) {
		p = m->p;
	}
	if (p) {
		runqput(p, g, true);
	} else {
		gr_lock(&gr_sched.lock);
		globrunqput_locked(g);
		gr_unlock(&gr_sched.lock);
	}
	gr_wakep();
	if (entered)
		gr_leave(cur);
}

static struct gr_g *gosched_m(struct gr_g *g, void *arg)
{
	atomic_store(&g->status, G_RUNNABLE);
	runqput(g->m->p, g, false);
	return NULL;
}

void gr_gosched(void)
{
	struct gr_g *g = gr_curg;
	if (!gr_can_park(g)) {
		gr_sys(SYS_sched_yield, 0, 0, 0);
		return;
	}
	gr_enter(g);
	mcall(gosched_m, NULL);
	gr_enter(g);
	gr_leave(g);
	gr_sig_check(g);
}

/* --- runtime entry when the P was retaken, blocking system calls --- */

static struct gr_g *exitsyscall0(struct gr_g *g, void *arg)
{
	struct gr_m *m = g->m;
	atomic_store(&g->status, G_RUNNABLE);
	gr_lock(&gr_sched.lock);
	struct gr_p *p = pidleget_locked();
	if (!p)
		globrunqput_locked(g);
	gr_unlock(&gr_sched.lock);
	if (p) {
		acquirep(m, p);
		return g;
	}
	stopm(m, INT64_MAX);
	return NULL;
}

struct gr_p *gr_enter_slow(struct gr_g *g)
{
	struct gr_m *m = g->m;
	if (g->pinned)
		gr_throw("enter: a pinned G entered the scheduler");
	for (;;) {
		m->p = NULL;
		gr_lock(&gr_sched.lock);
		struct gr_p *p = pidleget_locked();
		gr_unlock(&gr_sched.lock);
		if (p) {
			acquirep(m, p);
			return p;
		}
		mcall(exitsyscall0, NULL);
		m = g->m;
		p = m->p;
		uint32_t w = GR_PWORD(m, P_USER);
		if (atomic_compare_exchange_strong(&p->status, &w, GR_PWORD(m, P_RUNNING))) {
			atomic_fetch_add_explicit(&p->tick, 1, memory_order_relaxed);
			return p;
		}
	}
}

bool gr_syscall_enter(struct gr_g *g)
{
	gr_sysmon_check();
	if (!g || g->pinned)
		return false;
	struct gr_m *m = g->m;
	struct gr_p *p = m->p;
	uint32_t w = GR_PWORD(m, P_USER);
	/* Fails when the P is already gone (we will find out at the next
	 * entry) or when a signal handler runs on top of runtime code
	 * (P_RUNNING): then the call is made without touching the P. */
	if (!p || !atomic_compare_exchange_strong(&p->status, &w, GR_PWORD(m, P_SYSCALL)))
		return false;
	atomic_fetch_add_explicit(&p->tick, 1, memory_order_relaxed);
	gr_arch_save_callee(g->sysregs);	/* for stop-the-world (stw.h) */
	g->insyscall = true;
	return true;
}

void gr_syscall_exit(struct gr_g *g, bool entered)
{
	if (!entered)
		return;
	gr_stw_syscall_exit(g);	/* the world is stopped: wait, registers as saved */
	struct gr_m *m = g->m;
	uint32_t w = GR_PWORD(m, P_SYSCALL);
	if (unlikely(!atomic_compare_exchange_strong(&m->p->status, &w, GR_PWORD(m, P_USER)))) {
		/* sysmon handed the P to another M while we were in the kernel. */
		gr_enter_slow(g);
		gr_leave(g);
	}
	gr_sig_check(g);
}

static void sleep_fn(struct gr_timer *t)
{
	gr_ready(t->arg);
}

static bool sleep_unlock(struct gr_g *g, void *arg)
{
	struct gr_p *p = g->m->p;
	g->timer.fn = sleep_fn;
	g->timer.arg = g;
	gr_timer_add(&p->timers, &g->timer);
	timer_armed(g->timer.when);
	return true;
}

int gr_sleep_until(int64_t deadline)
{
	struct gr_g *g = gr_curg;
	if (!gr_can_park(g)) {
		struct timespec ts = { deadline / 1000000000, deadline % 1000000000 };
		long r = gr_sys6(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, (long)&ts, 0, 0, 0);
		return r == -EINTR ? -EINTR : 0;
	}
	if (deadline <= gr_nanotime()) {
		gr_gosched();
		return 0;
	}
	gr_sysmon_check();
	for (;;) {
		gr_enter(g);
		g->timer.when = deadline;
		gr_park(sleep_unlock, NULL, WAIT_SLEEP);
		gr_leave(g);
		/* Woken by the timer, or early by a signal (gr_sig_interrupt). */
		int sr = gr_sig_check(g);
		if (sr)
			return -EINTR;
		if (gr_nanotime() >= deadline)
			return 0;
	}
}

/* Timed waits in sema.c add their timer with the bucket lock held before
 * the park; tell the scheduler about it the same way. */
GR_HIDDEN void gr_timer_armed(int64_t when);
void gr_timer_armed(int64_t when)
{
	timer_armed(when);
}

/* --- G life cycle --- */

/* A zeroed G (its allg link kept): from the free list or new. */
static struct gr_g *galloc(void)
{
	gr_lock(&gfree_lock);
	struct gr_g *g = gfree_plain;
	if (g)
		gfree_plain = g->schedlink;
	gr_unlock(&gfree_lock);
	if (g) {
		struct gr_g *next = g->allnext;
		memset(g, 0, sizeof *g);
		g->allnext = next;
		return g;
	}
	g = fixalloc(sizeof *g + sizeof(struct gr_stack));
	gr_lock(&gr_allg_lock);
	g->allnext = gr_allg;
	__atomic_store_n(&gr_allg, g, __ATOMIC_RELEASE);
	gr_unlock(&gr_allg_lock);
	return g;
}

static struct gr_stack *gstack(struct gr_g *g)
{
	return (struct gr_stack *)(g + 1);
}

/* Give an ended G's resources back. Called once the G is off its stack. */
static void gfree(struct gr_g *g)
{
	if (g->is_main)
		return;
	atomic_store(&g->status, G_IDLE);
	if (!g->user_stack && gstack(g)->base) {
		gstack(g)->owner = g;
		if (gr_stackcache_put(&stackcache, gstack(g)))
			return;
		gr_tls_list_del(g->tp);
		gr_tls_free(g->tp);
		gr_stack_unmap(gstack(g));
		g->map_base = NULL;	/* gone: its addresses may be mapped again by anyone */
		g->map_size = 0;
	} else if (g->user_stack) {
		gr_tls_list_del(g->tp);
		gr_tls_free(g->tp);
	}
	g->tp = NULL;
	gr_lock(&gfree_lock);
	g->schedlink = gfree_plain;
	gfree_plain = g;
	gr_unlock(&gfree_lock);
}

/* glibc's struct pthread_unwind_buf: where cancellation and pthread_exit
 * unwinding (glibc's __pthread_unwind, through libgcc) end up. */
struct unwind_buf {
	struct { __jmp_buf jb; int mask_was_saved; } cancel_jmp_buf[1];
	struct { void *prev, *cleanup; int canceltype; } priv;
	void *pad;
};

static void gmain(void *arg)
{
	struct gr_g *volatile g = arg;
	struct unwind_buf ub;
	gr_real.ctype_init();
	/* savemask 0: only the jmp_buf and mask flag are written (glibc's
	 * own start_thread does the same with this smaller buffer). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
	int unwound = __sigsetjmp((struct __jmp_buf_tag *)(void *)ub.cancel_jmp_buf, 0);
#pragma GCC diagnostic pop
	if (!unwound) {
		ub.priv.prev = NULL;
		ub.priv.cleanup = NULL;
		*(void **)((char *)g->tp + gr_tls.off_cleanup_jmp_buf) = &ub;
		gr_sig_check(g);
		gr_gexit(g->fn(g->arg));
	}
	/* Unwound to here: by pthread_exit (result set) or by cancellation. */
	gr_gexit(g->exit_unwind ? g->result : PTHREAD_CANCELED);
}

void gr_exit_unwind(void *result)
{
	struct gr_g *g = gr_curg;
	g->result = result;
	g->exit_unwind = true;
	__atomic_or_fetch((int *)((char *)g->tp + gr_tls.off_cancelhandling), GR_EXITING_BIT,
			  __ATOMIC_SEQ_CST);
	/* glibc's __pthread_unwind_next(buf) unwinds to buf->prev: hand it a
	 * buffer whose prev is the top of this G's cleanup chain. */
	struct unwind_buf top = { .priv = { .prev = *(void **)((char *)g->tp + gr_tls.off_cleanup_jmp_buf) } };
	gr_real.pthread_unwind_next(&top);
	gr_throw("pthread_exit: unwinding returned");
}

static bool sleep_cancel(struct gr_g *g)
{
	if (!gr_timer_del(&g->timer))
		return false;	/* fired or firing: it readies g itself */
	gr_ready(g);
	return true;
}

GR_HIDDEN bool gr_sema_cancel(struct gr_g *g);
GR_HIDDEN bool gr_sema_interrupt(struct gr_g *g);

/* End g's park early: for a pthread_cancel (only in cancellation points)
 * or for a signal (any wait). Its wait then returns -ECANCELED, or goes
 * through its signal checkpoint. */
static void unpark(struct gr_g *g, bool cancel)
{
	if (atomic_load(&g->status) != G_WAITING || (cancel && !gr_waitreason_cancelable(g->waitreason)))
		return;
	if (g->waitreason == WAIT_SLEEP)
		sleep_cancel(g);
	else if (cancel)
		gr_sema_cancel(g);
	else
		gr_sema_interrupt(g);
}

void gr_cancel_wake(struct gr_g *g)
{
	unpark(g, true);
}

void gr_sig_interrupt(struct gr_g *g)
{
	unpark(g, false);
}

int gr_gcreate(const struct gr_gattr *attr, void *(*fn)(void *), void *arg, struct gr_g **out)
{
	gr_sysmon_check();
	size_t size = attr->stack_size ? attr->stack_size : default_stack;
	size_t guard = attr->guard;
	struct gr_g *g;
	void *tp;
	char *top;

	if (attr->stack_addr) {
		g = galloc();
		g->user_stack = true;
		top = (char *)attr->stack_addr + size;
		if (size < gr_tls_block_size() + 4096)
			return -EINVAL;
		tp = gr_tls_create(top);
		if (!tp)
			return -EAGAIN;
		gr_tls_list_add(tp);
		g->stack_lo = attr->stack_addr;
		g->map_top = top;
		guard = 0;
	} else {
		struct gr_stack *s = gr_stackcache_get(&stackcache, size, guard);
		if (s) {
			g = s->owner;
			tp = g->tp;
			gr_tls_reset(tp);
		} else {
			g = galloc();
			int r = gr_stack_map(gstack(g), size, guard);
			if (r < 0)
				return r;
			s = gstack(g);
			top = (char *)s->base + s->size;
			tp = gr_tls_create(top);
			if (!tp) {
				gr_stack_unmap(s);
				return -EAGAIN;
			}
			gr_tls_list_add(tp);
		}
		g->map_base = s->base;
		g->map_size = s->size;
		guard = s->guard;
		g->stack_lo = (char *)s->base + guard;
		g->map_top = (char *)s->base + s->size;
	}
	g->tp = tp;
	g->stack_hi = (void *)(((uintptr_t)tp + gr_tls.sizeof_pthread - gr_tls_block_size()) & ~(uintptr_t)63);
	g->guard = guard;
	g->goid = atomic_fetch_add(&gr_sched.goidgen, 1) + 1;
	g->vtid = VTID_BASE + (int)(g->goid % (uint64_t)(INT_MAX - VTID_BASE));
	g->fn = fn;
	g->arg = arg;
	g->result = NULL;
	g->pinned = false;
	g->name[0] = 0;
	atomic_store(&g->detach, attr->detached ? GD_DETACHED : GD_JOINABLE);
	atomic_store(&g->exited, 0);
	atomic_store(&g->timer.heap, NULL);
	struct gr_g *self = gr_curg;
	g->sigmask = self ? self->sigmask : 0;
	if (!self) {
		uint64_t cur;
		gr_sys6(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&cur, 8, 0, 0);
		g->sigmask = cur;
	}
	gr_tls_setup(tp, g->vtid, g->stack_lo, (size_t)((char *)g->map_top - (char *)g->stack_lo), guard, g, NULL);
	g->sp = gr_arch_ctx_init(g->stack_hi, gmain, g);
	atomic_store(&g->status, G_WAITING);
	atomic_store(&g->sigpend, 0);
	atomic_store(&g->sigpend_proc, 0);
	g->sigwaitset = 0;
	g->altstack = (stack_t){ .ss_flags = SS_DISABLE };
	atomic_fetch_add(&gr_sched.ngalive, 1);
	atomic_fetch_add(&gr_sig_maskgen, 1);
	*out = g;
	gr_ready(g);
	return 0;
}

static struct gr_g *gexit_m(struct gr_g *g, void *arg)
{
	atomic_store(&g->status, G_DEAD);
	int d = GD_JOINABLE;
	if (!atomic_compare_exchange_strong(&g->detach, &d, GD_EXITING)) {
		gfree(g);	/* detached: nobody will join */
		return NULL;
	}
	atomic_store(&g->exited, 2);
	gr_sema_wake(&g->exited, INT_MAX);
	return NULL;
}

static void pinned_exit(struct gr_g *g);

void gr_gexit(void *result)
{
	struct gr_g *g = gr_curg;
	g->result = result;
	atomic_store(&g->exited, 1);
	if (gr_exit_hook)
		gr_exit_hook(g);
	if (atomic_fetch_sub(&gr_sched.ngalive, 1) == 1)
		exit(0);	/* the last thread ended: glibc calls exit(0) too */
	atomic_fetch_add(&gr_sig_maskgen, 1);
	if (g->pinned)
		pinned_exit(g);
	gr_enter(g);
	mcall(gexit_m, NULL);
	gr_throw("gexit: a dead G was resumed");
}

int gr_gjoin(struct gr_g *g, void **res, int64_t deadline)
{
	for (;;) {
		uint32_t e = atomic_load(&g->exited);
		if (e == 2)
			break;
		if (deadline == 0)
			return -EBUSY;
		int r = gr_sema_wait(&g->exited, e, deadline, WAIT_JOIN);
		if (r == -ETIMEDOUT || r == -ECANCELED)
			return r;
	}
	if (res)
		*res = g->result;
	gfree(g);
	return 0;
}

int gr_gdetach(struct gr_g *g)
{
	int d = GD_JOINABLE;
	if (atomic_compare_exchange_strong(&g->detach, &d, GD_DETACHED))
		return 0;
	if (d == GD_DETACHED)
		return -EINVAL;
	/* Already exiting: wait until it is off its stack, then free it. */
	while (atomic_load(&g->exited) != 2)
		gr_gosched();
	gfree(g);
	return 0;
}

struct gr_g *gr_g_by_vtid(int vtid)
{
	for (struct gr_g *g = __atomic_load_n(&gr_allg, __ATOMIC_ACQUIRE); g; g = g->allnext) {
		int st = atomic_load(&g->status);
		if (g->vtid == vtid && st != G_IDLE && st != G_DEAD)
			return g;
	}
	return NULL;
}

struct gr_g *gr_g_of_tp(void *tp)
{
	if (!tp || !atomic_load(&gr_sched.started))
		return NULL;
	return *(struct gr_g **)gr_tls_slot(tp, gr_tls.curg_off);
}

/* --- pinning (Go's LockOSThread, for good) --- */

void gr_pin(void)
{
	struct gr_g *g = gr_curg;
	if (!g || g->pinned)
		return;
	struct gr_p *p = gr_enter(g);
	struct gr_m *m = g->m;
	g->pinned = true;
	/* PI futexes and glibc's own checks need the real tid in the TCB. */
	*(int *)((char *)g->tp + gr_tls.off_tid) = m->tid;
	/* The G now runs like a native thread on this kernel thread: the P
	 * goes to another M and this M serves only g from now on. */
	m->p = NULL;
	atomic_store(&p->status, P_IDLE);
	p->m = NULL;
	gr_handoffp(p);
}

static void pinned_exit(struct gr_g *g)
{
	struct gr_m *m = g->m;
	/* No P: wake joiners via the global queue, free nothing on this stack
	 * (the M keeps it: it dies with the thread). */
	atomic_store(&g->status, G_DEAD);
	int d = GD_JOINABLE;
	if (atomic_compare_exchange_strong(&g->detach, &d, GD_EXITING)) {
		atomic_store(&g->exited, 2);
		gr_sema_wake(&g->exited, INT_MAX);
	}
	atomic_fetch_sub(&gr_sched.mcount, 1);
	if (m == gr_sched.m0) {
		/* The initial kernel thread cannot end without ending the
		 * process's main thread: it sleeps for good. */
		for (;;)
			gr_futex_wait(&m->note, m->note, NULL);
	}
	gr_sys(SYS_exit, 0, 0, 0);
	__builtin_unreachable();
}

/* --- start-up --- */

static void mstart_thread_common(struct gr_m *m)
{
	m->tid = gr_gettid();
	gr_curm = m;
	m->cursigmask = ~0ull;
	stack_t ss = { .ss_sp = fixalloc(64 << 10), .ss_size = 64 << 10 };
	gr_real.sigaltstack(&ss, NULL);
	m->sigstk = ss.ss_sp;
	m->sigstksz = ss.ss_size;
	gr_identity_register(m);
}

static void *mstart(void *arg)
{
	struct gr_m *m = arg;
	m->tcb = gr_arch_get_tp();
	mstart_thread_common(m);
	gr_m_block_signals(m);
	acquirep(m, m->nextp);
	m->nextp = NULL;
	schedule(m);
	return NULL;
}

static void m0_g0_main(void *arg)
{
	schedule(arg);
}

void gr_sched_default_stack_changed(void)
{
	pthread_attr_t a;
	size_t sz;
	if (gr_cfg.stack || pthread_getattr_default_np(&a) != 0)
		return;
	if (pthread_attr_getstacksize(&a, &sz) == 0)
		default_stack = sz;
	pthread_attr_destroy(&a);
}

void gr_sched_init(int nprocs)
{
	gr_sched.nprocs = nprocs;
	atomic_store(&gr_sched.sleep_until, INT64_MAX);
	gr_pagesize = (size_t)sysconf(_SC_PAGESIZE);
	pthread_attr_t a;
	size_t sz = 8 << 20;
	if (pthread_getattr_default_np(&a) == 0) {
		pthread_attr_getstacksize(&a, &sz);
		pthread_attr_destroy(&a);
	}
	default_stack = gr_cfg.stack ? gr_cfg.stack : sz;
	gr_tls.curg_off = (char *)&gr_curg - (char *)gr_arch_get_tp();
	gr_tls.curm_off = (char *)&gr_curm - (char *)gr_arch_get_tp();
}

static struct gr_lock start_lock;

int gr_sched_ensure_started(void)
{
	if (likely(atomic_load_explicit(&gr_sched.started, memory_order_acquire)))
		return 0;
	gr_lock(&start_lock);
	int r = 0;
	if (!atomic_load(&gr_sched.started))
		r = gr_sched_start();
	gr_unlock(&start_lock);
	return r;
}

GR_HIDDEN void gr_signal_start(struct gr_m *m0);

int gr_sched_start(void)
{
	int n = gr_sched.nprocs;
	gr_sched.allp = fixalloc(sizeof(struct gr_p) * (size_t)n);
	for (int i = 0; i < n; i++) {
		struct gr_p *p = &gr_sched.allp[i];
		memset(p, 0, sizeof *p);
		p->id = i;
		gr_runq_init(&p->runq);
		gr_timerheap_init(&p->timers);
		p->rand = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) ^ (uint64_t)gr_nanotime();
	}
	gr_sched.start_ns = gr_nanotime();

	/* M0: this kernel thread; its g0 gets a fresh stack and TCB. */
	struct gr_m *m0 = fixalloc(sizeof *m0);
	m0->id = atomic_fetch_add(&mid_gen, 1) + 1;
	struct gr_stack g0s;
	if (gr_stack_map(&g0s, G0_STACK + gr_tls_block_size(), 4096) < 0)
		return -EAGAIN;
	char *g0top = (char *)g0s.base + g0s.size;
	void *g0tp = gr_tls_create(g0top);
	if (!g0tp)
		return -EAGAIN;
	int tid = gr_gettid();
	gr_tls_setup(g0tp, tid, (char *)g0s.base + g0s.guard, G0_STACK, g0s.guard, NULL, m0);
	gr_tls_list_add(g0tp);
	m0->tcb = g0tp;
	m0->tid = tid;
	m0->cursigmask = ~0ull;
	void *g0hi = (void *)(((uintptr_t)g0tp + gr_tls.sizeof_pthread - gr_tls_block_size()) & ~(uintptr_t)63);
	m0->g0sp = gr_arch_ctx_init(g0hi, m0_g0_main, m0);
	gr_lock(&gr_allm_lock);
	m0->allnext = gr_allm;
	gr_allm = m0;
	gr_unlock(&gr_allm_lock);
	atomic_fetch_add(&gr_sched.mcount, 1);
	gr_sched.m0 = m0;

	/* G1: the running initial thread, with its own TCB. */
	struct gr_g *g1 = galloc();
	g1->is_main = true;
	g1->tp = gr_arch_get_tp();
	g1->goid = atomic_fetch_add(&gr_sched.goidgen, 1) + 1;
	g1->vtid = (int)gr_sys(SYS_getpid, 0, 0, 0);
	pthread_attr_t a;
	if (gr_real.pthread_getattr_np(pthread_self(), &a) == 0) {
		void *lo;
		size_t sz;
		pthread_attr_getstack(&a, &lo, &sz);
		g1->stack_lo = lo;
		g1->stack_hi = (char *)lo + sz;
		g1->guard = 4096;
		pthread_attr_destroy(&a);
	}
	uint64_t mask;
	gr_sys6(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&mask, 8, 0, 0);
	g1->sigmask = mask;
	m0->cursigmask = mask;
	/* The program's sigaltstack so far is G1's; M0 gets its own
	 * (gr_signal_start). */
	stack_t alt;
	if (gr_real.sigaltstack(NULL, &alt) == 0 && !(alt.ss_flags & SS_DISABLE))
		g1->altstack = (stack_t){ .ss_sp = alt.ss_sp, .ss_size = alt.ss_size };
	else
		g1->altstack = (stack_t){ .ss_flags = SS_DISABLE };
	g1->m = m0;
	m0->curg = g1;
	atomic_store(&g1->status, G_RUNNING);
	atomic_store(&g1->detach, GD_JOINABLE);
	gr_sched.g1 = g1;
	atomic_store(&gr_sched.ngalive, 1);

	for (int i = n - 1; i >= 1; i--)
		pidleput_locked(&gr_sched.allp[i]);
	acquirep(m0, &gr_sched.allp[0]);
	atomic_store(&gr_sched.allp[0].status, GR_PWORD(m0, P_USER));

	int r = gr_tls_move_rseq(g1->tp, m0->tcb);
	(void)r;	/* ignored: without rseq, sched_getcpu uses the vDSO */

	gr_signal_start(m0);
	/* sysmon is a real thread: glibc is multi-threaded before any G runs. */
	gr_sysmon_start();
	gr_curg = g1;
	atomic_store(&gr_sched.started, true);
	return 0;
}

/* --- fork (see fork.c) --- */

void gr_proc_fork_prepare(void)
{
	gr_lock(&gr_sched.lock);
	gr_lock(&gr_allm_lock);
	gr_lock(&gr_allg_lock);
	gr_lock(&gfree_lock);
	gr_lock(&fix_lock);
	gr_lock(&stackcache.lock);
}

void gr_proc_fork_parent(void)
{
	gr_unlock(&stackcache.lock);
	gr_unlock(&fix_lock);
	gr_unlock(&gfree_lock);
	gr_unlock(&gr_allg_lock);
	gr_unlock(&gr_allm_lock);
	gr_unlock(&gr_sched.lock);
}

void gr_proc_fork_child(void)
{
	struct gr_g *self = gr_curg;
	memset(&gr_sched.lock, 0, sizeof gr_sched.lock);
	memset(&gr_allm_lock, 0, sizeof gr_allm_lock);
	memset(&gr_allg_lock, 0, sizeof gr_allg_lock);
	memset(&gfree_lock, 0, sizeof gfree_lock);
	memset(&fix_lock, 0, sizeof fix_lock);
	/* Cached stacks' TCBs are off glibc's list now: drop them. */
	for (struct gr_stack *s = stackcache.head; s;) {
		struct gr_stack *next = s->next;
		gr_stack_unmap(s);
		s = next;
	}
	stackcache.head = NULL;
	stackcache.n = 0;
	memset(&stackcache.lock, 0, sizeof stackcache.lock);

	/* A fresh M for this thread (the old one's NPTL stack is reclaimed). */
	struct gr_m *m = fixalloc(sizeof *m);
	m->id = atomic_fetch_add(&mid_gen, 1) + 1;
	struct gr_stack g0s;
	if (gr_stack_map(&g0s, G0_STACK + gr_tls_block_size(), 4096) < 0)
		gr_throw("fork: cannot map a scheduler stack in the child");
	void *g0tp = gr_tls_create((char *)g0s.base + g0s.size);
	if (!g0tp)
		gr_throw("fork: cannot build a scheduler TCB in the child");
	m->tid = gr_gettid();
	gr_tls_setup(g0tp, m->tid, (char *)g0s.base + g0s.guard, G0_STACK, g0s.guard, NULL, m);
	m->tcb = g0tp;
	void *g0hi = (void *)(((uintptr_t)g0tp + gr_tls.sizeof_pthread - gr_tls_block_size()) & ~(uintptr_t)63);
	m->g0sp = gr_arch_ctx_init(g0hi, m0_g0_main, m);
	m->cursigmask = self ? self->sigmask & ~(1ull << (GR_RTSIG - 1)) : 0;
	atomic_store(&m->registered, 1);
	gr_allm = m;
	m->allnext = NULL;
	atomic_store(&gr_sched.mcount, 1);
	gr_sched.m0 = m;
	gr_sched.midle = NULL;
	gr_sched.nmidle = 0;
	gr_sched.timer_sleeper = NULL;
	atomic_store(&gr_sched.sleep_until, INT64_MAX);
	atomic_store(&gr_sched.netpolling, false);
	atomic_store(&gr_sched.nmspinning, 0);

	/* Only the forking G lives on. */
	gr_sched.runqhead = gr_sched.runqtail = NULL;
	atomic_store(&gr_sched.runqsize, 0);
	for (struct gr_g *g = gr_allg; g; g = g->allnext) {
		if (g == self)
			continue;
		int st = atomic_load(&g->status);
		if (st != G_IDLE && st != G_DEAD) {
			atomic_store(&g->status, G_DEAD);
			atomic_store(&g->detach, GD_DETACHED);
			atomic_store(&g->exited, 2);
		}
	}
	atomic_store(&gr_sched.ngalive, 1);
	gr_sig_fork_child(self);
	gr_sched.pidle = NULL;
	atomic_store(&gr_sched.npidle, 0);
	for (int i = 0; i < gr_sched.nprocs; i++) {
		struct gr_p *p = &gr_sched.allp[i];
		gr_runq_init(&p->runq);
		gr_timerheap_init(&p->timers);	/* the heaps' memory leaks: small */
		p->m = NULL;
		if (i > 0)
			pidleput_locked(p);
	}
	struct gr_p *p0 = &gr_sched.allp[0];
	if (self) {
		self->m = m;
		m->curg = self;
		acquirep(m, p0);
		atomic_store(&p0->status, GR_PWORD(m, P_USER));
		atomic_store(&self->timer.heap, NULL);
	} else {
		pidleput_locked(p0);
	}
}
