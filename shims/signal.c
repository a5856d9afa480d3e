/* signal: the signals libgrun owns, and the program's view of them.
 *
 * libgrun keeps its handlers for SIGSEGV and SIGBUS (to tell a G's stack
 * overflow from other faults, then chain to the program's handler or the
 * default action) and for SIGURG, the runtime signal (set*id broadcast;
 * preemption later), passing a SIGURG it did not send to the program's
 * handler. sigaction() on these records the program's handler instead.
 *
 * Masks: a G's signal mask is applied to the kernel while it runs (proc.c,
 * execute); pthread_sigmask and sigprocmask record it in the G and never
 * let SIGURG into a kernel mask, so the runtime can always reach every M.
 *
 * The handlers run on a per-M alternate stack and take no locks.
 */
#include "shims/shim.h"
#include "core/realc.h"
#include "core/config.h"
#include "core/dump.h"
#include "core/traceback.h"
#include "core/sys.h"
#include "core/tls.h"
#include "arch/x86_64/arch.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#define URG_BIT (1ull << (SIGURG - 1))

static struct sigaction prog[65];	/* the program's view for owned signals */
static bool owned[65];

GR_HIDDEN void gr_identity_on_signal(struct gr_m *m);

static void chain(int sig, siginfo_t *si, void *uc)
{
	struct sigaction *pa = &prog[sig];
	if (pa->sa_flags & SA_SIGINFO) {
		if (pa->sa_sigaction)
			pa->sa_sigaction(sig, si, uc);
		return;
	}
	if (pa->sa_handler == SIG_IGN)
		return;
	if (pa->sa_handler == SIG_DFL) {
		if (sig == SIGURG)
			return;		/* default action: ignore */
		/* Re-raise with the default action: returning re-executes the
		 * faulting instruction, which now kills the process. */
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		gr_real.sigaction(sig, &dfl, NULL);
		return;
	}
	pa->sa_handler(sig);
}

static void fault_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	struct gr_g *g = gr_curg;
	char *a = si->si_addr;
	if (g && g->stack_lo && a < (char *)g->stack_lo && a >= (char *)g->stack_lo - g->guard - (256 << 10)) {
		gr_printf("fatal error: stack overflow in thread G%lu (tid %d%s%s): fault at %p, "
			  "stack [%p, %p)\n", (unsigned long)g->goid, g->vtid, g->name[0] ? ", " : "",
			  g->name, (void *)a, g->stack_lo, g->stack_hi);
		gr_throw("stack overflow");
	}
	chain(sig, si, uc);
	errno = saved;
}

static void urg_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	struct gr_g *g = gr_curg;
	struct gr_m *m = g ? g->m : gr_curm;
	bool ours = si->si_code == SI_TKILL && si->si_pid == getpid();
	bool handled = false;
	if (m && ours && atomic_load(&m->xid_pending)) {
		gr_identity_on_signal(m);
		handled = true;
	}
	if (m && ours && gr_preempt_on_signal(m, uc))
		handled = true;
	if (!handled)
		chain(sig, si, uc);
	errno = saved;
}


/* SIGQUIT with no handler of the program's: Go's goroutine dump, then the
 * default action (the process dies of SIGQUIT, as natively). */
static void quit_handler(int sig, siginfo_t *si, void *uc)
{
	struct sigaction *pa = &prog[sig];
	if (pa->sa_handler != SIG_DFL || (pa->sa_flags & SA_SIGINFO)) {
		int saved = errno;
		chain(sig, si, uc);
		errno = saved;
		return;
	}
	gr_printf("SIGQUIT: quit\n");
	gr_dump_all(2, NULL);
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	gr_real.sigaction(SIGQUIT, &dfl, NULL);
	uint64_t unblock = 1ull << (SIGQUIT - 1);
	gr_sys6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&unblock, 0, 8, 0, 0);
	gr_sys(SYS_tgkill, getpid(), gr_gettid(), SIGQUIT);
}

/* GRUN_DEBUG=dumpsig=N: signal N prints the dump and the program goes on. */
static void dumpsig_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	gr_dump_all(2, NULL);
	errno = saved;
}

static void install(int sig, void (*h)(int, siginfo_t *, void *))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = h;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	sigdelset(&sa.sa_mask, SIGSEGV);
	sigdelset(&sa.sa_mask, SIGBUS);
	gr_real.sigaction(sig, &sa, &prog[sig]);
	owned[sig] = true;
}

GR_HIDDEN void gr_signal_start(struct gr_m *m0)
{
	stack_t old;
	if (gr_real.sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
		static char m0alt[64 << 10];
		stack_t ss = { .ss_sp = m0alt, .ss_size = sizeof m0alt };
		gr_real.sigaltstack(&ss, NULL);
	}
	install(SIGSEGV, fault_handler);
	install(SIGBUS, fault_handler);
	install(SIGURG, urg_handler);
	struct sigaction cur;
	if (gr_real.sigaction(SIGQUIT, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL &&
	    !(cur.sa_flags & SA_SIGINFO))
		install(SIGQUIT, quit_handler);
	if (gr_cfg.dumpsig > 0 && gr_cfg.dumpsig < 65) {
		gr_traceback_init();	/* no dlopen inside that handler later */
		install(gr_cfg.dumpsig, dumpsig_handler);
	}
}

GR_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (gr_native || sig <= 0 || sig > 64 || !owned[sig] || gr_in_vfork_child())
		return gr_real.sigaction(sig, act, old);
	if (old)
		*old = prog[sig];
	if (act)
		prog[sig] = *act;
	return 0;
}

/* Record the G's mask; keep SIGURG out of the kernel's. */
static int setmask(int how, const sigset_t *set, sigset_t *old)
{
	struct gr_g *g = gr_native || gr_in_vfork_child() ? NULL : gr_getg();
	uint64_t cur, want;
	if (gr_sys6(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&cur, 8, 0, 0) < 0)
		return EINVAL;
	if (g)
		cur = (cur & ~URG_BIT) | (g->sigmask & URG_BIT);
	if (old) {
		sigemptyset(old);
		memcpy(old, &cur, 8);
	}
	if (!set)
		return 0;
	uint64_t s;
	memcpy(&s, set, 8);
	switch (how) {
	case SIG_BLOCK: want = cur | s; break;
	case SIG_UNBLOCK: want = cur & ~s; break;
	case SIG_SETMASK: want = s; break;
	default: return EINVAL;
	}
	want &= ~((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)));
	uint64_t kernel = g ? want & ~URG_BIT : want;
	gr_sys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&kernel, 0, 8, 0, 0);
	if (g) {
		g->sigmask = want;
		g->m->cursigmask = kernel;
	}
	return 0;
}

GR_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	return setmask(how, set, old);
}

GR_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	int r = setmask(how, set, old);
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

/* --- signals aimed at a G --- */

/* Deliver sig to g: to its M's kernel thread while it runs there. A G
 * that is not running cannot receive a thread-directed signal yet (the
 * signals issue): it goes to the process instead (see the README). */
static int kill_g(struct gr_g *g, int sig)
{
	if (sig == 0)
		return 0;
	int pid = getpid();
	struct gr_m *m = g->m;
	if (atomic_load(&g->status) == G_RUNNING && m)
		return (int)-gr_sys(SYS_tgkill, pid, m->tid, sig);
	return (int)-gr_sys(SYS_kill, pid, sig, 0);
}

GR_EXPORT int pthread_kill(pthread_t t, int sig)
{
	struct gr_g *g = gr_native ? NULL : gr_g_of_tp((void *)t);
	if (!g)
		return REAL(pthread_kill)(t, sig);
	if (sig < 0 || sig > 64)
		return EINVAL;
	if (atomic_load(&g->exited))
		return sig == 0 ? 0 : 0;	/* glibc: a thread that is exiting swallows it */
	if (g == gr_getg() && sig) {
		struct gr_m *m = g->m;
		return (int)-gr_sys(SYS_tgkill, getpid(), m->tid, sig);
	}
	return kill_g(g, sig);
}

GR_EXPORT int tgkill(pid_t pid, pid_t tid, int sig)
{
	struct gr_g *g = (gr_native || pid != getpid()) ? NULL : gr_g_by_vtid(tid);
	if (!g)
		return (int)gr_errno_ret(gr_sys(SYS_tgkill, pid, tid, sig));
	int r = kill_g(g, sig);
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

/* For the deadlock detector: does the program itself handle sig? (For the
 * signals libgrun owns, the program's recorded handler counts.) */
bool gr_signal_program_handles(int sig)
{
	struct sigaction sa;
	if (sig > 0 && sig < 65 && owned[sig])
		sa = prog[sig];
	else if (gr_real.sigaction(sig, NULL, &sa) != 0)
		return false;
	return (sa.sa_flags & SA_SIGINFO) ? sa.sa_sigaction != NULL
					  : sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN;
}
