/* sig: pending signals, pokes, forwarding and the catcher (see sig.h). */
#include "core/sig.h"
#include "core/sys.h"
#include "core/config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

_Atomic uint64_t gr_sig_procpend;
siginfo_t gr_sig_procinfo[65];
_Atomic int gr_sig_sweep;
_Atomic uint32_t gr_sig_maskgen;
_Atomic uint64_t gr_sig_poked;


/* Signals the runtime keeps for itself on every thread: synchronous
 * faults (they must reach the thread that faulted) and the runtime signal. */
#define RUNTIME_SIGS (GR_SIGBIT(SIGSEGV) | GR_SIGBIT(SIGBUS) | GR_SIGBIT(SIGFPE) | GR_SIGBIT(SIGILL) | \
		      GR_SIGBIT(SIGTRAP) | GR_SIGBIT(GR_RTSIG))

long gr_sig_send_tagged(int tid, int sig)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = (pid_t)gr_sys(SYS_getpid, 0, 0, 0);
	si.si_uid = (uid_t)gr_sys(SYS_getuid, 0, 0, 0);
	si.si_value.sival_ptr = GR_SIG_MAGIC;
	if (sig != GR_RTSIG)
		atomic_fetch_or_explicit(&gr_sig_poked, GR_SIGBIT(sig), memory_order_relaxed);
	return gr_sys6(SYS_rt_tgsigqueueinfo, si.si_pid, tid, sig, (long)&si, 0, 0);
}

void gr_sig_forward(int sig, const siginfo_t *si)
{
	if (si)
		gr_sig_procinfo[sig] = *si;
	atomic_fetch_or(&gr_sig_procpend, GR_SIGBIT(sig));
	gr_sysmon_kick();
}

static void poke(struct gr_g *g, int sig)
{
	atomic_store(&gr_sig_sweep, 1);
	int st = atomic_load(&g->status);
	if (st == G_WAITING) {
		gr_sig_interrupt(g);
		return;
	}
	struct gr_m *m = g->m;
	if (st != G_RUNNING || !m || g == gr_curg)
		return;	/* runnable: its next checkpoint delivers; self: the caller does */
	if (sig == GR_RTSIG)
		gr_preempt_request(m);	/* delivered where preemption parks it */
	else
		gr_sig_send_tagged(m->tid, sig);
}

void gr_sig_post(struct gr_g *g, int sig, bool proc)
{
	uint64_t bit = GR_SIGBIT(sig);
	atomic_fetch_or(proc ? &g->sigpend_proc : &g->sigpend, bit);
	if (g->sigmask & bit) {
		/* Blocked: pending until it unblocks, or taken by sigwait. */
		if (g->sigwaitset & bit) {
			struct gr_m *m = g->m;
			if (m && atomic_load(&g->status) == G_RUNNING)
				gr_sig_send_tagged(m->tid, sig);
		}
		return;
	}
	poke(g, sig);
}

int gr_sig_take(struct gr_g *g, uint64_t set, bool process, siginfo_t *si)
{
	for (;;) {
		uint64_t p = (atomic_load(&g->sigpend) | atomic_load(&g->sigpend_proc) |
			      (process ? atomic_load(&gr_sig_procpend) : 0)) & set;
		if (!p)
			return 0;
		int sig = __builtin_ctzll(p) + 1;
		uint64_t bit = GR_SIGBIT(sig);
		if (atomic_fetch_and(&g->sigpend, ~bit) & bit) {
			memset(si, 0, sizeof *si);
			si->si_code = SI_TKILL;	/* what pthread_kill's would say */
			si->si_pid = (pid_t)gr_sys(SYS_getpid, 0, 0, 0);
			si->si_uid = (uid_t)gr_sys(SYS_getuid, 0, 0, 0);
		} else if ((atomic_fetch_and(&g->sigpend_proc, ~bit) & bit) ||
			   (process && (atomic_fetch_and(&gr_sig_procpend, ~bit) & bit))) {
			*si = gr_sig_procinfo[sig];
		} else {
			continue;	/* taken meanwhile: look again */
		}
		si->si_signo = sig;
		return sig;
	}
}

int gr_sig_deliver(struct gr_g *g)
{
	bool any = false, restart = true;
	siginfo_t si;
	int sig;
	while ((sig = gr_sig_take(g, ~g->sigmask, false, &si)) != 0) {
		int r = gr_sig_invoke(g, sig, &si, NULL);
		if (r) {
			any = true;
			if (r != GR_ERESTART)
				restart = false;
		}
	}
	return !any ? 0 : restart ? GR_ERESTART : EINTR;
}

static bool g_live(struct gr_g *g)
{
	int st = atomic_load(&g->status);
	return st != G_DEAD && st != G_IDLE && atomic_load(&g->exited) == 0;
}

/* Can g run a handler now: running (a poke interrupts it) or parked (its
 * wait is interrupted)? A runnable G waits for a P first, up to a
 * preemption slice, while natively the handler would run at once. */
static bool takes_now(struct gr_g *g)
{
	int st = atomic_load(&g->status);
	return st == G_RUNNING || st == G_WAITING;
}

/* A G to take process-directed sig, among those that do not block it: the
 * main G first, as the kernel prefers the main thread, if it can run the
 * handler now; else one that can; else the main G or any. */
static struct gr_g *choose(int sig)
{
	uint64_t bit = GR_SIGBIT(sig);
	struct gr_g *g1 = gr_sched.g1, *any = NULL;
	if (g1 && (!g_live(g1) || (g1->sigmask & bit)))
		g1 = NULL;
	if (g1 && takes_now(g1))
		return g1;
	for (struct gr_g *g = atomic_load_explicit((struct gr_g *_Atomic *)&gr_allg, memory_order_acquire); g;
	     g = g->allnext) {
		if (!g_live(g) || (g->sigmask & bit))
			continue;
		if (takes_now(g))
			return g;
		if (!any)
			any = g;
	}
	return g1 ? g1 : any;
}

/* The catcher's mask: the signals every live G blocks (cached per mask
 * generation), and, while the main G runs, the ones it takes too. The
 * kernel gives a process-directed signal to the main thread if it can,
 * else to any thread that does not block it, and keeps choosing the last
 * one: left unblocked here, sysmon would take the signals the running
 * main G should get at once, and pass them on a wake-up later (after the
 * program moved on: a 1 us itimer's SIGALRM was counted by the handler
 * installed next). The main G's park kicks sysmon (gr_sig_catcher_kick)
 * to catch them again while it waits; one sent meanwhile stays pending in
 * the kernel until then. */
static _Atomic bool catcher_defers;

static void catcher_update(void)
{
	static uint32_t seen = ~0u;
	static uint64_t all_block, cur = 0;
	static bool set;
	uint32_t gen = atomic_load(&gr_sig_maskgen);
	if (gen != seen) {
		seen = gen;
		all_block = ~0ull;
		for (struct gr_g *g = atomic_load_explicit((struct gr_g *_Atomic *)&gr_allg, memory_order_acquire);
		     g; g = g->allnext)
			if (g_live(g))
				all_block &= g->sigmask;
	}
	uint64_t mask = all_block;
	struct gr_g *g1 = gr_sched.g1;
	bool defer = g1 && g_live(g1) && atomic_load(&g1->status) == G_RUNNING && !g1->pinned;
	if (defer)
		mask |= ~g1->sigmask;
	mask &= ~RUNTIME_SIGS;
	atomic_store(&catcher_defers, defer);
	if (!set || mask != cur) {
		gr_sys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&mask, 0, 8, 0, 0);
		cur = mask;
		set = true;
	}
}

void gr_sig_catcher_kick(struct gr_g *g)
{
	if (g == gr_sched.g1 && atomic_load_explicit(&catcher_defers, memory_order_relaxed))
		gr_sysmon_kick();
}

static int64_t sweep_gap;	/* ns between sweeps while Gs have not delivered */

void gr_sig_sysmon(void)
{
	catcher_update();
	uint64_t pend = atomic_exchange(&gr_sig_procpend, 0), left = 0;
	while (pend) {
		int sig = __builtin_ctzll(pend) + 1;
		pend &= pend - 1;
		struct gr_g *g = choose(sig);
		if (g)
			gr_sig_post(g, sig, true);
		else
			left |= GR_SIGBIT(sig);	/* every G blocks it: pending for the process */
	}
	if (left)
		atomic_fetch_or(&gr_sig_procpend, left);

	/* Poke again the Gs that have not delivered yet: at once when a
	 * signal was just left pending (the G has likely left runtime code
	 * by now), then backing off to every millisecond for a G that stays
	 * there (a contended lock), so pokes never loop. */
	static int64_t last;
	int64_t now = gr_nanotime();
	if (!atomic_load(&gr_sig_sweep) || now - last < sweep_gap)
		return;
	last = now;
	atomic_store(&gr_sig_sweep, 0);
	bool any = false;
	for (struct gr_g *g = atomic_load_explicit((struct gr_g *_Atomic *)&gr_allg, memory_order_acquire); g;
	     g = g->allnext) {
		uint64_t p;
		if (!g_live(g) || !(p = gr_sig_pending(g)))
			continue;
		any = true;
		atomic_store(&gr_sig_sweep, 1);
		poke(g, __builtin_ctzll(p) + 1);
	}
	sweep_gap = !any ? 0 : sweep_gap ? (sweep_gap * 2 < 1000000 ? sweep_gap * 2 : 1000000) : 10000;
}

int64_t gr_sig_sweep_delay(void)
{
	return atomic_load(&gr_sig_sweep) ? sweep_gap : -1;
}

void gr_sig_setmask(struct gr_g *g, uint64_t mask)
{
	g->sigmask = mask;
	struct gr_m *m = g->m;
	if (g == gr_curg && m) {
		uint64_t kernel = mask & ~GR_SIGBIT(GR_RTSIG);
		gr_sys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&kernel, 0, 8, 0, 0);
		m->cursigmask = kernel;
	}
}

uint64_t gr_sig_mask_push(struct gr_g *g, const sigset_t *mask)
{
	uint64_t old = g->sigmask, m;
	memcpy(&m, mask, 8);
	gr_sig_setmask(g, m & ~(GR_SIGBIT(SIGKILL) | GR_SIGBIT(SIGSTOP)));
	atomic_fetch_add(&gr_sig_maskgen, 1);
	return old;
}

void gr_sig_mask_pop(struct gr_g *g, uint64_t old)
{
	gr_sig_setmask(g, old);
	atomic_fetch_add(&gr_sig_maskgen, 1);
}

void gr_sig_fork_child(struct gr_g *g)
{
	atomic_store(&gr_sig_procpend, 0);
	atomic_store(&gr_sig_sweep, 0);
	if (g) {
		atomic_store(&g->sigpend, 0);
		atomic_store(&g->sigpend_proc, 0);
	}
	atomic_fetch_add(&gr_sig_maskgen, 1);
}
