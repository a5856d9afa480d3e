/* sysmon: the runtime's monitor thread (Go's sysmon).
 *
 * A real thread with no P. It sleeps 20 us, doubling up to 10 ms while
 * nothing happens, and on each wake:
 *  - retakes a P whose G has been in a shim-made blocking system call
 *    (P_SYSCALL) for more than 20 us while other work waits (or for 10 ms
 *    in any case), and hands it to another M;
 *  - retakes a P whose G has not entered the runtime for GR_RETAKE_USER_NS
 *    while its kernel thread is not running (state S or D in
 *    /proc/self/task/TID/stat): the G is blocked in foreign code, e.g. a
 *    glibc-internal lock held by another G, or an unshimmed system call.
 *    The P goes to another M; the G finds out at its next runtime entry.
 *    Every such retake is counted by the kernel-reported blocking PC.
 *  - asks a G that has run program code for 10 ms to yield (asynchronous
 *    preemption), after 2 ms when a timer of its P is a millisecond late;
 *    if the G cannot be preempted (not at a safe point) and work waits,
 *    hands its P on as for a blocked thread;
 *  - starts an M for overdue timers if nobody is looking at them;
 *  - gives back the pages of idle cached stacks once a second, and lets
 *    the heap's scavenger return free pages (every 100 ms);
 *  - prints GRUN_DEBUG=schedtrace lines.
 */
#include "core/gc.h"
#include "core/proc.h"
#include "core/sig.h"
#include "core/config.h"
#include "core/deadlock.h"
#include "core/heap.h"
#include "core/netpoll.h"
#include "core/realc.h"
#include "core/stack.h"
#include "core/sys.h"
#include "arch/x86_64/arch.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define RETAKE_SYSCALL_NS 20000
#define RETAKE_USER_NS 1000000
#define FORCE_SYSCALL_NS 10000000
#define PREEMPT_NS 10000000
#define PREEMPT_TIMER_NS 2000000

GR_HIDDEN extern struct gr_stackcache *gr_stackcache_global;

static struct gr_m sysmon_m;
GR_HIDDEN extern _Atomic long gr_preempt_count;
GR_HIDDEN void gr_identity_register(struct gr_m *m);
GR_HIDDEN void gr_identity_wait_registered(struct gr_m *m);
_Atomic long gr_sysmon_retakes_syscall, gr_sysmon_retakes_blocked;

/* Retake sites: the user-space PC the blocked thread will return to. */
#define NSITES 64
static struct { uintptr_t pc; long n; } sites[NSITES];

static void record_site(uintptr_t pc)
{
	for (int i = 0; i < NSITES; i++) {
		if (sites[i].pc == pc || sites[i].pc == 0) {
			sites[i].pc = pc;
			sites[i].n++;
			return;
		}
	}
}

/* Kernel state of an M's thread ('R', 'S', 'D', ...), and the user PC a
 * blocked thread returns to (last field of /proc/self/task/TID/syscall).
 * Opened per look (only Ps stuck for a millisecond), so libgrun keeps no
 * fd a daemon's close-everything loop could take away; through
 * gr_open_runtime, so never while the program has a standard descriptor
 * closed (this one would take its number, and the program's dup2 onto it
 * would then be undone by our close): '?' then. */
static char thread_state(struct gr_m *m)
{
	char path[64], buf[512];
	gr_fmt(path, sizeof path, "/proc/self/task/%d/stat", m->tid);
	long n = gr_read_small(path, buf, sizeof buf);
	if (n <= 0)
		return '?';
	char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' ? rp[2] : '?';
}

static uintptr_t blocked_pc(struct gr_m *m)
{
	char path[64], buf[256];
	gr_fmt(path, sizeof path, "/proc/self/task/%d/syscall", m->tid);
	if (gr_read_small(path, buf, sizeof buf) <= 0)
		return 0;
	char *last = strrchr(buf, ' ');
	if (!last)
		return 0;
	uintptr_t pc = 0;
	for (char *c = last + 1; *c && *c != '\n'; c++) {
		if (*c == 'x' || *c == 'X') { pc = 0; continue; }
		int v = (*c >= '0' && *c <= '9') ? *c - '0' : (*c | 32) - 'a' + 10;
		pc = pc * 16 + (uintptr_t)v;
	}
	return pc;
}

static bool work_waiting(void)
{
	if (atomic_load(&gr_sched.runqsize) > 0)
		return true;
	int64_t now = gr_nanotime();
	for (int i = 0; i < gr_sched.nprocs; i++)
		if (!gr_runq_empty(&gr_sched.allp[i].runq) || gr_timers_next(&gr_sched.allp[i].timers) <= now)
			return true;	/* a runnable G, or a due timer nobody runs */
	return false;
}

static int retake(int64_t now)
{
	int n = 0;
	for (int i = 0; i < gr_sched.nprocs; i++) {
		struct gr_p *p = &gr_sched.allp[i];
		uint32_t w = atomic_load(&p->status);
		uint32_t st = GR_PSTATE(w);
		uint32_t t = atomic_load(&p->tick);
		if (st != P_SYSCALL && st != P_USER) {
			p->sm_tick = t;
			p->sm_since = now;
			p->sm_asked = false;
			continue;
		}
		if (t != p->sm_tick) {
			p->sm_tick = t;
			p->sm_since = now;
			p->sm_asked = false;
			continue;
		}
		int64_t held = now - p->sm_since;
		struct gr_m *m = p->m;
		if (!m)
			continue;
		if (st == P_SYSCALL) {
			if (held < RETAKE_SYSCALL_NS || (held < FORCE_SYSCALL_NS && !work_waiting()))
				continue;
		} else {
			if (held < RETAKE_USER_NS)
				continue;
			char s = thread_state(m);
			/* A sleeper's timer on this P is overdue by a millisecond
			 * behind a G that has run 2 ms: preempt now rather than
			 * at 10 ms (wake-up latency beside CPU-bound Gs). */
			bool late = held >= PREEMPT_TIMER_NS && gr_timers_next(&p->timers) < now - 1000000;
			if (s == 'R' && (held >= PREEMPT_NS || late) && (!p->sm_asked || !work_waiting())) {
				/* Running program code for 10 ms: preempt it. */
				gr_preempt_request(m);
				p->sm_asked = true;
				p->sm_since = now;
				continue;
			}
			/* Asked 10 ms ago and it still runs (it was not at a safe
			 * point: inside qsort's comparator, a long libc call):
			 * hand the P on, as for a thread blocked in the kernel. */
			if ((s == 'R' && !p->sm_asked) || s == '?' || (s == 'R' && held < PREEMPT_NS))
				continue;
		}
		if (!atomic_compare_exchange_strong(&p->status, &w, P_IDLE))
			continue;
		/* Committed: the P is ours; m finds out at its next entry. */
		if (st == P_USER) {
			atomic_fetch_add(&gr_sysmon_retakes_blocked, 1);
			uintptr_t pc = (gr_cfg.retaketrace || gr_cfg.blockprofile) ? blocked_pc(m) : 0;
			if (gr_cfg.retaketrace)
				gr_printf("libgrun: retake P%d from M%d (tid %d) blocked in foreign code at pc %p\n",
					  p->id, m->id, m->tid, (void *)pc);
			if (gr_cfg.blockprofile)
				record_site(pc);
		} else {
			atomic_fetch_add(&gr_sysmon_retakes_syscall, 1);
		}
		m->nretakes++;
		p->m = NULL;
		p->sm_since = now;
		gr_handoffp(p);
		n++;
	}
	return n;
}

static void schedtrace(int64_t now)
{
	char buf[1024];
	size_t len = gr_fmt(buf, sizeof buf,
			    "SCHED %ldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
			    "idlethreads=%d runqueue=%d gs=%d [",
			    (long)((now - gr_sched.start_ns) / 1000000), gr_sched.nprocs,
			    atomic_load(&gr_sched.npidle), atomic_load(&gr_sched.mcount) + 1,
			    atomic_load(&gr_sched.nmspinning), gr_sched.nmidle,
			    atomic_load(&gr_sched.runqsize), atomic_load(&gr_sched.ngalive));
	for (int i = 0; i < gr_sched.nprocs && len < sizeof buf - 16; i++)
		len += gr_fmt(buf + len, sizeof buf - len, i ? " %u" : "%u",
			      gr_runq_len(&gr_sched.allp[i].runq));
	len += gr_fmt(buf + len, sizeof buf - len, "] retakes=%ld/%ld preempts=%ld\n",
		      (long)atomic_load(&gr_sysmon_retakes_syscall),
		      (long)atomic_load(&gr_sysmon_retakes_blocked), (long)atomic_load(&gr_preempt_count));
	gr_write_all(2, buf, len);
	if (!gr_cfg.scheddetail)
		return;
	for (int i = 0; i < gr_sched.nprocs; i++) {
		struct gr_p *p = &gr_sched.allp[i];
		struct gr_m *m = p->m;
		gr_printf("  P%d: status=%u schedtick=%u m=%d runqsize=%u timers=%s\n", p->id,
			  GR_PSTATE(atomic_load(&p->status)), p->schedtick, m ? m->id : -1,
			  gr_runq_len(&p->runq),
			  gr_timers_next(&p->timers) == INT64_MAX ? "none" : "armed");
	}
	for (struct gr_m *m = gr_allm; m; m = m->allnext)
		gr_printf("  M%d: tid=%d p=%d curg=%ld spinning=%d retakes=%ld\n", m->id, m->tid,
			  m->p ? m->p->id : -1, m->curg ? (long)m->curg->goid : -1L, m->spinning,
			  (long)m->nretakes);
}

void gr_sysmon_report(void)
{
	if (!gr_cfg.blockprofile)
		return;
	gr_printf("libgrun: blocked-thread retakes by site (pc: count)\n");
	for (int i = 0; i < NSITES && sites[i].pc; i++)
		gr_printf("  %p: %ld\n", (void *)sites[i].pc, sites[i].n);
}

static _Atomic uint32_t kick;

void gr_sysmon_kick(void)
{
	if (!atomic_exchange(&kick, 1))
		gr_futex_wake(&kick, 1);
}

static void *sysmon(void *arg)
{
	struct gr_m *m = &sysmon_m;
	m->is_sysmon = true;
	m->tcb = gr_arch_get_tp();
	m->tid = gr_gettid();
	gr_curm = m;
	gr_identity_register(m);

	int idle = 0;
	gr_preempt_refresh();
	int64_t delay = 20000, last_trace = gr_nanotime(), last_scavenge = last_trace, last_deadlock = last_trace;
	for (;;) {
		struct timespec ts = { 0, delay };
		if (!atomic_exchange(&kick, 0))
			gr_futex_wait(&kick, 0, &ts);	/* a signal or a kick ends it early */
		atomic_store(&kick, 0);
		gr_sig_sysmon();
		int64_t now = gr_nanotime();
		gr_gc_sysmon(now);	/* the collector's worker; forced cycles */
		int acted = retake(now);
		/* Nobody has looked at the network for a millisecond (every M
		 * busy running Gs): poll it; the Gs go to the global queue. */
		if (gr_netpoll_active() && !atomic_load(&gr_sched.netpolling) &&
		    gr_nanotime_coarse() - atomic_load(&gr_sched.lastpoll) > 1000000) {
			atomic_store(&gr_sched.lastpoll, gr_nanotime_coarse());
			if (gr_netpoll(0) > 0)
				acted++;
		}
		/* Overdue timers with nobody looking: start an M for them. */
		if (atomic_load(&gr_sched.npidle) > 0 && atomic_load(&gr_sched.nmspinning) == 0) {
			for (int i = 0; i < gr_sched.nprocs; i++) {
				if (gr_timers_next(&gr_sched.allp[i].timers) < now - 1000000) {
					gr_wakep();
					acted++;
					break;
				}
			}
		}
		/* Back off as Go's sysmon does: 20 us while it finds work, doubling
		 * after 50 idle rounds, to 1 ms while any P is busy (a blocked
		 * thread is then noticed within about a millisecond), 10 ms when
		 * the program is idle. */
		int64_t cap = atomic_load(&gr_sched.npidle) < gr_sched.nprocs ? 1000000 : 10000000;
		if (acted) {
			delay = 20000;
			idle = 0;
		} else if (++idle > 50 && delay < cap) {
			delay *= 2;
		}
		if (delay > cap)
			delay = cap;
		/* A signal waits for a G to leave runtime code (sig.c's sweep). */
		int64_t sd = gr_sig_sweep_delay();
		if (sd >= 0 && delay > sd)
			delay = sd > 1000 ? sd : 1000;
		if (gr_cfg.schedtrace_ms > 0 && now - last_trace >= (int64_t)gr_cfg.schedtrace_ms * 1000000) {
			last_trace = now;
			schedtrace(now);
		}
		if (now - last_deadlock >= 100000000) {
			last_deadlock = now;
			gr_deadlock_check(now);
			gr_heap_scavenge_tick(gr_nanotime_coarse());	/* paced by the heap */
		}
		if (now - last_scavenge >= 1000000000) {
			last_scavenge = now;
			gr_preempt_refresh();	/* libraries loaded since */
			gr_stack_scavenge(gr_stackcache_global, 64 << 10);
		}
		if (gr_cfg.schedtrace_ms > 0 && delay > (int64_t)gr_cfg.schedtrace_ms * 1000000)
			delay = (int64_t)gr_cfg.schedtrace_ms * 1000000;
	}
	return NULL;
}

_Atomic bool gr_sysmon_deferred;

void gr_sysmon_start_deferred(void)
{
	if (atomic_exchange(&gr_sysmon_deferred, false))
		gr_sysmon_start();
}

void gr_sysmon_start(void)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128 << 10);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, GR_RTSIG);
	gr_real.pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = gr_real.pthread_create(&sysmon_m.pthread, &attr, sysmon, NULL);
	gr_real.pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0)
		gr_throw("sysmon: cannot create the monitor thread");
	gr_identity_wait_registered(&sysmon_m);
	gr_sched.sysmon = &sysmon_m;
}
