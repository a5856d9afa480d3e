/* stw: stop the world (see stw.h). */
#include "core/stw.h"
#include "core/proc.h"
#include "core/sig.h"
#include "core/sys.h"
#include "core/config.h"
#include "arch/x86_64/arch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define MAXREC 512
#define FPMAX 4096
#define STOP_TIMEOUT_NS 500000000

struct rec {
	_Atomic int tid;	/* requested: > 0; answered: < 0 */
	struct gr_g *g;
	uintptr_t regs[NGREG];
	unsigned char fp[FPMAX] __attribute__((aligned(64)));
	size_t fpsize;
	uintptr_t sp;
};

_Atomic int gr_stw_active;
struct gr_stw_times gr_stw_last;
static _Atomic uint32_t epoch;
static _Atomic uint32_t acks;
static int nreq;
static struct rec recs[MAXREC];
static struct gr_g *stopper;
static struct gr_lock stw_lock;

/* In the runtime signal handler: a stop request for this thread? Copy the
 * context, answer, wait for the restart. */
bool gr_stw_on_signal(void *ucv)
{
	if (!atomic_load(&gr_stw_active))
		return false;
	int tid = gr_gettid();
	struct rec *r = NULL;
	for (int i = 0; i < nreq; i++) {
		int want = tid;
		if (atomic_load(&recs[i].tid) == tid &&
		    atomic_compare_exchange_strong(&recs[i].tid, &want, -tid)) {
			r = &recs[i];
			break;
		}
	}
	if (!r)
		return false;
	uint32_t e = atomic_load(&epoch);
	ucontext_t *uc = ucv;
	r->g = gr_curg;
	for (int i = 0; i < NGREG; i++)
		r->regs[i] = (uintptr_t)uc->uc_mcontext.gregs[i];
	r->sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
	r->fpsize = 0;
	if (uc->uc_mcontext.fpregs) {
		size_t n = gr_arch_have_xsave ? gr_arch_xsave_size : 512;
		if (n > FPMAX)
			n = FPMAX;
		const unsigned char *src = (const unsigned char *)uc->uc_mcontext.fpregs;
		for (size_t i = 0; i < n; i++)
			r->fp[i] = src[i];
		r->fpsize = n;
	}
	atomic_fetch_add(&acks, 1);
	gr_futex_wake(&acks, 1);
	while (atomic_load(&gr_stw_active) && atomic_load(&epoch) == e)
		gr_futex_wait(&epoch, e, NULL);
	return true;
}

void gr_stw_wait(void)
{
	struct gr_g *g = gr_curg;
	if (g && g == stopper)
		return;
	for (;;) {
		uint32_t e = atomic_load(&epoch);
		if (!atomic_load(&gr_stw_active))
			return;
		gr_futex_wait(&epoch, e, NULL);
	}
}

/* The stopper publishes gr_stw_active, then reads each G's insyscall; a
 * G leaving its system call clears insyscall, then reads gr_stw_active
 * (a fence on each side). Either the stopper sees the G still in its call
 * (and the G then sees the stop and waits, insyscall set again so its
 * saved registers stay the ones scanned), or it sees the G out and sends
 * the signal, which stops it wherever it is. */
void gr_stw_syscall_exit(struct gr_g *g)
{
	__atomic_store_n(&g->insyscall, false, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_seq_cst);
	if (__builtin_expect(atomic_load_explicit(&gr_stw_active, memory_order_relaxed), 0)) {
		__atomic_store_n(&g->insyscall, true, __ATOMIC_RELAXED);
		gr_stw_wait();
		__atomic_store_n(&g->insyscall, false, __ATOMIC_RELAXED);
	}
}

static _Atomic int exempt_tid;

void gr_stw_exempt(int tid)
{
	atomic_store(&exempt_tid, tid);
}

static bool is_m(int tid)
{
	for (struct gr_m *m = gr_allm; m; m = m->allnext)
		if (m->tid == tid)
			return true;
	return false;
}

static void request(int tid)
{
	if (nreq < MAXREC)
		atomic_store(&recs[nreq++].tid, tid);
}

/* The stopper shares the CPUs with the threads it has not stopped yet,
 * and CFS charges a thread that has run a lot (the collector's, after
 * marking): preempted while it stops the world or holds it stopped, it may
 * wait milliseconds for its turn (measured: a 6 ms pause, all of it in
 * signalling). From the stop to the restart it runs SCHED_FIFO when
 * allowed (CAP_SYS_NICE or RLIMIT_RTPRIO; denied once, never asked
 * again); a thread already real-time or SCHED_IDLE is left as it is. */
static _Atomic bool boost_denied;
static int boosted = -1;	/* stw_lock: the policy to restore, or -1 */

static void boost(void)
{
	boosted = -1;
	if (atomic_load_explicit(&boost_denied, memory_order_relaxed))
		return;
	long pol = gr_sys(SYS_sched_getscheduler, 0, 0, 0);
	if (pol != SCHED_OTHER && pol != SCHED_BATCH)
		return;
	struct sched_param sp = { .sched_priority = 1 };
	if (gr_sys(SYS_sched_setscheduler, 0, SCHED_FIFO | SCHED_RESET_ON_FORK, (long)&sp) != 0)
		atomic_store(&boost_denied, true);
	else
		boosted = (int)pol;
}

static void unboost(void)
{
	struct sched_param sp = { .sched_priority = 0 };
	if (boosted >= 0)
		gr_sys(SYS_sched_setscheduler, 0, boosted, (long)&sp);
	boosted = -1;
}

static void send_range(int lo, int hi)
{
	for (int i = lo; i < hi; i++)
		if (gr_sig_send_tagged(atomic_load(&recs[i].tid), GR_RTSIG) < 0)
			atomic_store(&recs[i].tid, 0);	/* gone */
}

int gr_stw_stop(int *unstopped)
{
	if (!gr_trylock(&stw_lock))
		return -EBUSY;
	boost();
	int64_t t0 = gr_nanotime();
	stopper = gr_curg;
	int self = gr_gettid();
	nreq = 0;
	atomic_store(&acks, 0);
	atomic_store(&gr_stw_active, 1);
	/* Ms running a G outside a shim system call. */
	gr_lock(&gr_allm_lock);
	for (struct gr_m *m = gr_allm; m; m = m->allnext) {
		struct gr_g *g = m->curg;
		if (!m->tid || m->tid == self || m->is_sysmon || !g || g == stopper)
			continue;
		if (__atomic_load_n(&g->insyscall, __ATOMIC_RELAXED))
			continue;	/* registers saved at entry; waits at exit */
		request(m->tid);
	}
	/* Stop them first: until they are, the stopper shares the CPUs with
	 * them and may lose its own for a time slice while it lists the
	 * others (measured: a listing of 0.86 ms instead of 0.05). Each
	 * record is written before its thread's signal. */
	int nms = nreq;
	send_range(0, nms);
	int64_t t2 = gr_nanotime();
	/* Threads libgrun did not create. */
	int fd = (int)gr_open_runtime("/proc/self/task", O_DIRECTORY);
	bool unlisted = fd < 0;	/* foreign threads unknown: counted as unstopped */
	if (fd >= 0) {
		char buf[4096];
		long n;
		while ((n = gr_sys(SYS_getdents64, fd, (long)buf, sizeof buf)) > 0) {
			for (long off = 0; off < n;) {
				struct dirent64 *d = (struct dirent64 *)(buf + off);
				off += d->d_reclen;
				int tid = 0;
				for (const char *c = d->d_name; *c >= '0' && *c <= '9'; c++)
					tid = tid * 10 + (*c - '0');
				if (tid > 0 && tid != self && tid != atomic_load(&exempt_tid) && !is_m(tid) &&
				    !(gr_sched.sysmon && gr_sched.sysmon->tid == tid))
					request(tid);
			}
		}
		gr_sys(SYS_close, fd, 0, 0);
	}
	gr_unlock(&gr_allm_lock);
	int64_t t3 = gr_nanotime();
	send_range(nms, nreq);
	int64_t t4 = gr_nanotime();
	int64_t deadline = t4 + STOP_TIMEOUT_NS;
	for (;;) {
		int want = 0;
		for (int i = 0; i < nreq; i++)
			want += atomic_load(&recs[i].tid) > 0;
		if (!want)
			break;
		int64_t left = deadline - gr_nanotime();
		if (left <= 0)
			break;
		uint32_t a = atomic_load(&acks);
		struct timespec ts = { 0, left > 1000000 ? 1000000 : left };
		gr_futex_wait(&acks, a, &ts);
	}
	int bad = 0;
	for (int i = 0; i < nreq; i++)
		bad += atomic_load(&recs[i].tid) > 0;
	gr_stw_last = (struct gr_stw_times){ t3 - t2, (t2 - t0) + (t4 - t3), gr_nanotime() - t4, nreq };
	if (unstopped)
		*unstopped = bad + unlisted;
	return 0;
}

void gr_stw_records(uintptr_t *lo, uintptr_t *hi)
{
	*lo = (uintptr_t)recs;
	*hi = (uintptr_t)(recs + MAXREC);
}

void gr_stw_start(void)
{
	/* Withdraw requests not answered: a late signal must not stop anyone. */
	for (int i = 0; i < nreq; i++) {
		int t = atomic_load(&recs[i].tid);
		if (t > 0)
			atomic_compare_exchange_strong(&recs[i].tid, &t, 0);
	}
	atomic_store(&gr_stw_active, 0);
	atomic_fetch_add(&epoch, 1);
	gr_futex_wake(&epoch, INT32_MAX);
	stopper = NULL;
	unboost();
	gr_unlock(&stw_lock);
}

uintptr_t (*gr_stw_mapping_end_fn)(uintptr_t addr);

/* End of the mapping that contains addr (gr_stw_mapping_end_fn's answer,
 * or from /proc/self/maps, read with raw system calls: the world is
 * stopped, nothing may allocate), or addr itself if none does. */
static uintptr_t mapping_end(uintptr_t addr)
{
	uintptr_t (*fn)(uintptr_t) = gr_stw_mapping_end_fn;
	uintptr_t e = fn ? fn(addr) : 0;
	if (e > addr)
		return e;
	int fd = (int)gr_open_runtime("/proc/self/maps", 0);
	if (fd < 0)
		return addr;
	static char buf[16384];
	size_t have = 0;
	uintptr_t end = addr;
	bool done = false;
	while (!done) {
		long n = gr_sys(SYS_read, fd, (long)(buf + have), sizeof buf - have - 1);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = 0;
		char *line = buf, *nl;
		while ((nl = memchr(line, '\n', (size_t)(buf + have - line))) != NULL) {
			uintptr_t lo = 0, hi = 0;
			const char *c = line;
			for (; *c != '-' && c < nl; c++)
				lo = lo * 16 + (uintptr_t)(*c <= '9' ? *c - '0' : (*c | 32) - 'a' + 10);
			for (c++; *c != ' ' && c < nl; c++)
				hi = hi * 16 + (uintptr_t)(*c <= '9' ? *c - '0' : (*c | 32) - 'a' + 10);
			if (addr >= lo && addr < hi) {
				end = hi;
				done = true;
				break;
			}
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
	}
	gr_sys(SYS_close, fd, 0, 0);
	return end;
}

static uintptr_t g_top(struct gr_g *g)
{
	return (uintptr_t)g->stack_hi;
}

void gr_stw_foreach(void (*fn)(const struct gr_stw_thread *, void *), void *arg)
{
	/* Threads stopped in the handler. */
	for (int i = 0; i < nreq; i++) {
		struct rec *r = &recs[i];
		int t = atomic_load(&r->tid);
		struct gr_stw_thread th = { .tid = t < 0 ? -t : t, .g = NULL };
		if (t > 0) {
			th.kind = STW_UNSTOPPED;
			fn(&th, arg);
			continue;
		}
		if (t == 0)
			continue;
		th.kind = STW_SIGNALED;
		th.regs = r->regs;
		th.nregs = NGREG;
		th.fpstate = r->fpsize ? r->fp : NULL;
		th.fpsize = r->fpsize;
		struct gr_g *g = r->g;
		if (g && r->sp >= (uintptr_t)g->stack_lo && r->sp <= g_top(g)) {
			th.g = g;
			th.stack_lo = r->sp - 128;
			th.stack_hi = g_top(g);
		} else {
			/* g0, a foreign thread, or a G's alternate stack: from
			 * the red zone to the end of the mapping sp is in. */
			th.stack_lo = r->sp - 128;
			th.stack_hi = mapping_end(r->sp);
		}
		fn(&th, arg);
	}
	/* Gs not stopped by a signal: in a system call, parked, runnable. */
	for (struct gr_g *g = gr_allg; g; g = g->allnext) {
		int st = atomic_load(&g->status);
		if (g == stopper || st == G_DEAD || st == G_IDLE)
			continue;
		bool signaled = false;
		for (int i = 0; i < nreq && !signaled; i++)
			signaled = atomic_load(&recs[i].tid) < 0 && recs[i].g == g &&
				   recs[i].sp >= (uintptr_t)g->stack_lo && recs[i].sp <= g_top(g);
		if (signaled)
			continue;
		struct gr_stw_thread th = { .g = g };
		if (st == G_RUNNING && g->insyscall) {
			th.kind = STW_SYSCALL;
			th.regs = g->sysregs;
			th.nregs = 7;
			th.stack_lo = g->sysregs[6];
		} else if (st != G_RUNNING) {
			th.kind = STW_PARKED;
			th.stack_lo = (uintptr_t)g->sp;
		} else {
			th.kind = STW_UNSTOPPED;	/* running, yet not stopped: it was
							 * entering or leaving a call */
			th.stack_lo = (uintptr_t)g->stack_lo;
		}
		th.stack_hi = g_top(g);
		fn(&th, arg);
	}
}
