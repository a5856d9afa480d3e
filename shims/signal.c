/* signal: the program's signals on green threads (see core/sig.h for the
 * delivery rules), and the signals libgrun owns.
 *
 * libgrun keeps its own handlers for SIGSEGV and SIGBUS (to tell a G's
 * stack overflow from other faults, then chain to the program's handler or
 * the default action), SIGURG (the runtime signal: preemption, set*id;
 * a SIGURG the runtime did not send goes to the program), SIGQUIT while the
 * program leaves it at SIG_DFL (goroutine dump) and the dumpsig signal.
 * sigaction() on these records the program's handler instead. Those run
 * on the M's alternate stack and take no locks.
 *
 * Every other signal the program handles gets the dispatcher as its kernel
 * handler, installed with the program's SA_RESTART/SA_NODEFER/SA_NOCLD*
 * flags and mask but without SA_ONSTACK (so the frame lands on the stack
 * that was running: a G's own) and without SA_RESETHAND (emulated). The
 * dispatcher runs the program's handler on the interrupted G when that G
 * was in program code or in a shim's blocking system call, and otherwise
 * leaves the signal pending for a G (core/sig.c). SIG_DFL and SIG_IGN go to
 * the kernel unchanged.
 *
 * Masks, sigaltstack, sigpending, sigsuspend, pause and the sigwait family
 * are per G; the sigwait family and sigsuspend block in the kernel with the
 * G's mask (their M is handed off like any blocking system call).
 */
#include "shims/shim.h"
#include "core/realc.h"
#include "core/config.h"
#include "core/allocsite.h"
#include "core/dump.h"
#include "core/sig.h"
#include "core/stw.h"
#include "core/traceback.h"
#include "core/sys.h"
#include "core/tls.h"
#include "arch/x86_64/arch.h"

#include <link.h>
#include <signal.h>
#include <string.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define URG_BIT GR_SIGBIT(GR_RTSIG)	/* the runtime's signal (SIGURG unless preemptsignal=N) */
#define UNBLOCKABLE (GR_SIGBIT(SIGKILL) | GR_SIGBIT(SIGSTOP))

static struct sigaction prog[65];	/* the program's view, where known[] */
static bool known[65];
static bool owned[65];			/* libgrun's handler is the kernel's */
static uintptr_t self_lo, self_hi;	/* libgrun's code */

GR_HIDDEN void gr_identity_on_signal(struct gr_m *m);

static inline uint64_t set64(const sigset_t *s)
{
	uint64_t v;
	memcpy(&v, s, 8);
	return v;
}

static inline void set_from64(sigset_t *s, uint64_t v)
{
	sigemptyset(s);
	memcpy(s, &v, 8);
}

static bool is_handler(const struct sigaction *sa)
{
	return (sa->sa_flags & SA_SIGINFO) ? sa->sa_sigaction != NULL
					   : sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN;
}

/* Default action ignore? (SIGCHLD, SIGCONT, SIGURG, SIGWINCH) */
static bool default_ignores(int sig)
{
	return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH;
}

static int install_dispatch(int sig, const struct sigaction *act);

/* The kernel's disposition for a program's SIG_DFL (act). A poke of sig
 * (a tagged signal of the same number, core/sig.c) sent to an M that then
 * went idle stays pending there until the M unblocks sig again, which may
 * be long after the program set SIG_DFL: the kernel would then kill the
 * process for a signal the program never got (CPython's test_signal died
 * so, of a SIGALRM, after a burst of 1 us timers). So once sig has been
 * used for pokes and its default is not to ignore it, the dispatcher stays
 * the kernel's handler and takes the default action itself for any signal
 * that is not a poke. */
static int set_default(int sig, const struct sigaction *act)
{
	if (default_ignores(sig) || !(atomic_load(&gr_sig_poked) & GR_SIGBIT(sig)))
		return gr_real.sigaction(sig, act, NULL);
	return install_dispatch(sig, act);
}

/* Take sig's default action now, on this thread: re-raise it with the
 * kernel's SIG_DFL, unblocked. Back (a stop signal, continued): the
 * dispatcher returns if set_default wants it. */
static void default_action(int sig)
{
	if (default_ignores(sig))
		return;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	gr_real.sigaction(sig, &dfl, NULL);
	uint64_t bit = GR_SIGBIT(sig);
	gr_sys6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&bit, 0, 8, 0, 0);
	gr_sys(SYS_tgkill, gr_sys(SYS_getpid, 0, 0, 0), gr_gettid(), sig);
	if (prog[sig].sa_handler == SIG_DFL)
		set_default(sig, &prog[sig]);
}

/* --- running a handler --- */

struct hcall {
	const struct sigaction *sa;
	int sig;
	siginfo_t *si;
	void *uc;
};

static void hcall_run(void *arg)
{
	struct hcall *h = arg;
	if (h->sa->sa_flags & SA_SIGINFO)
		h->sa->sa_sigaction(h->sig, h->si, h->uc);
	else
		h->sa->sa_handler(h->sig);
}

static bool on_stack(const stack_t *ss, const void *p)
{
	return ss->ss_sp && (const char *)p >= (const char *)ss->ss_sp &&
	       (const char *)p < (const char *)ss->ss_sp + ss->ss_size;
}

/* Call the handler, on alt when it asks for SA_ONSTACK and alt is set up. */
static void call_handler(const struct sigaction *sa, int sig, siginfo_t *si, void *uc, const stack_t *alt)
{
	struct hcall h = { sa, sig, si, uc };
	char here;
	if ((sa->sa_flags & SA_ONSTACK) && alt && alt->ss_sp && !(alt->ss_flags & SS_DISABLE) &&
	    !on_stack(alt, &here))
		gr_arch_call_on_stack((char *)alt->ss_sp + alt->ss_size, hcall_run, &h);
	else
		hcall_run(&h);
}

/* The disposition each signal arrived under, for one that could not run
 * its handler at once (the G was in runtime code, the thread was g0 or
 * sysmon, the G was runnable): natively the handler would have run then,
 * so a program that meanwhile set SIG_DFL or another handler still sees
 * the old handler run, not the new disposition. The latest arrival wins
 * (signals coalesce). */
static struct sigaction arrived[65];
static _Atomic uint64_t arrived_set;

static void note_arrival(int sig)
{
	arrived[sig] = prog[sig];
	atomic_fetch_or(&arrived_set, GR_SIGBIT(sig));
}

/* A pending sig is gone without a handler (sigwait took it). */
static void drop_arrival(int sig)
{
	atomic_fetch_and(&arrived_set, ~GR_SIGBIT(sig));
}

/* The program's handler is about to run: SA_RESETHAND. Returns a copy:
 * for a pending signal, the disposition it arrived under when recorded. */
static struct sigaction take_handler(int sig, bool pending)
{
	struct sigaction sa = prog[sig];
	if (pending && (atomic_fetch_and(&arrived_set, ~GR_SIGBIT(sig)) & GR_SIGBIT(sig))) {
		sa = arrived[sig];
		if (sa.sa_sigaction != prog[sig].sa_sigaction)
			return sa;	/* replaced meanwhile: nothing to reset */
	}
	if ((sa.sa_flags & SA_RESETHAND) && sig != SIGILL && sig != SIGTRAP) {
		prog[sig].sa_handler = SIG_DFL;
		prog[sig].sa_flags &= ~(SA_SIGINFO | SA_RESETHAND);
		set_default(sig, &prog[sig]);
	}
	return sa;
}

/* A thread that is not a G (foreign, or the program before its first
 * pthread_create): as natively, on the kernel's alternate stack. */
static void plain(int sig, siginfo_t *si, void *uc)
{
	struct sigaction sa = take_handler(sig, false);
	if (!is_handler(&sa)) {
		if (sa.sa_handler == SIG_DFL)
			default_action(sig);
		return;
	}
	stack_t alt;
	if (gr_sys(SYS_sigaltstack, 0, (long)&alt, 0) != 0)
		alt.ss_sp = NULL;
	call_handler(&sa, sig, si, uc, &alt);
}

int gr_sig_invoke(struct gr_g *g, int sig, siginfo_t *si, void *uc)
{
	struct sigaction sa = take_handler(sig, uc == NULL);
	if (!is_handler(&sa)) {
		if (sa.sa_handler == SIG_DFL)
			default_action(sig);
		return 0;
	}
	/* The handler's mask goes to the kernel only: g->sigmask keeps the
	 * mask to return to, because a handler may leave by siglongjmp, whose
	 * mask restore (glibc-internal) never reaches pthread_sigmask. */
	uint64_t old = g->sigmask;
	uint64_t during = (old | set64(&sa.sa_mask) | ((sa.sa_flags & SA_NODEFER) ? 0 : GR_SIGBIT(sig))) &
			  ~UNBLOCKABLE & ~URG_BIT;
	gr_sys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&during, 0, 8, 0, 0);
	if (g->m)
		g->m->cursigmask = during;
	/* Interrupting a shim's blocking call: leave the system-call state
	 * around the handler, which may use the runtime. */
	bool insys = g->insyscall;
	if (insys)
		gr_syscall_exit(g, true);
	ucontext_t fake;
	if (!uc) {
		memset(&fake, 0, sizeof fake);
		set_from64(&fake.uc_sigmask, old);
		uc = &fake;
	}
	call_handler(&sa, sig, si, uc, &g->altstack);
	if (insys && !gr_syscall_enter(g))
		gr_throw("signal: cannot return to a system call");
	gr_sig_setmask(g, old);
	return (sa.sa_flags & SA_RESTART) ? GR_ERESTART : EINTR;
}

/* --- the dispatcher --- */

static bool sp_on_g(struct gr_g *g, uintptr_t sp)
{
	uintptr_t hi = (uintptr_t)(g->map_top ? g->map_top : g->stack_hi);
	if (sp > (uintptr_t)g->stack_lo && sp <= hi)
		return true;
	return on_stack(&g->altstack, (void *)sp);
}

/* Can the program's handler run on g right here (the thread was running
 * g's program code, or g's shim was in a blocking call)? */
static bool deliverable_here(struct gr_g *g, void *uc)
{
	struct gr_m *m = g->m;
	if (!m || m->curg != g || g->pinned)
		return g->pinned;
	if (!sp_on_g(g, gr_arch_uc_sp(uc)))
		return false;
	if (g->insyscall)
		return true;
	if (gr_sig_pc_in_libgrun(gr_arch_uc_pc(uc)))
		return false;	/* runtime code: at its next checkpoint */
	struct gr_p *p = m->p;
	return !p || atomic_load(&p->status) != GR_PWORD(m, P_RUNNING);
}

/* After running handlers in a kernel frame: the frame's sigreturn restores
 * the mask and alternate stack it recorded, on whatever M the G is now. */
static void fix_frame(struct gr_g *g, void *ucv)
{
	ucontext_t *uc = ucv;
	uint64_t kernel = g->sigmask & ~URG_BIT;
	set_from64(&uc->uc_sigmask, kernel);
	if (g->m)
		g->m->cursigmask = kernel;
	stack_t cur;
	if (gr_sys(SYS_sigaltstack, 0, (long)&cur, 0) == 0)
		uc->uc_stack = cur;
}

/* A fault raised by the kernel for the instruction this thread ran. */
static bool synchronous(int sig, const siginfo_t *si)
{
	return si && si->si_code > 0 && (sig == SIGFPE || sig == SIGILL || sig == SIGTRAP || sig == SIGSYS);
}

/* A signal for the G running here found it in runtime code: it stays
 * pending on the G, delivered at its next checkpoint (a park, a shim's
 * return). Code such as malloc returns to the program without one: sysmon
 * is woken to poke the G again shortly (gr_sig_sysmon), as natively the
 * handler runs at once. */
static void defer_sig(void)
{
	atomic_store(&gr_sig_sweep, 1);
	gr_sysmon_kick();
}

static void dispatch(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	struct gr_g *g = gr_curg;
	bool tagged = gr_sig_is_tagged(si);
	if (!tagged && prog[sig].sa_handler == SIG_DFL) {
		default_action(sig);	/* set_default kept the dispatcher */
		errno = saved;
		return;
	}
	if (!g || gr_in_vfork_child()) {
		if (!tagged) {
			if (g || !gr_curm)
				plain(sig, si, uc);	/* foreign thread, vfork child, not started */
			else {
				note_arrival(sig);
				gr_sig_forward(sig, si);	/* g0 or sysmon */
			}
		}
		errno = saved;
		return;
	}
	if (tagged) {
		/* A poke: deliver what is pending for this G, if it is here. */
		if (gr_sig_pending(g)) {
			if (deliverable_here(g, uc)) {
				gr_sig_deliver(g);
				fix_frame(g, uc);
			} else {
				defer_sig();
			}
		}
		errno = saved;
		return;
	}
	uint64_t bit = GR_SIGBIT(sig);
	if (synchronous(sig, si)) {
		/* A fault of this very thread (SIGFPE, SIGILL, SIGTRAP, SIGSYS):
		 * returning without handling it would re-execute the faulting
		 * instruction. As natively, the handler runs here and now. */
		gr_sig_invoke(g, sig, si, uc);
		fix_frame(g, uc);
	} else if (g->sigmask & bit) {
		note_arrival(sig);
		gr_sig_forward(sig, si);	/* raced with a mask change */
	} else if (!deliverable_here(g, uc)) {
		note_arrival(sig);
		gr_sig_procinfo[sig] = *si;
		atomic_fetch_or(&g->sigpend_proc, bit);
		defer_sig();
	} else {
		gr_sig_invoke(g, sig, si, uc);
		gr_sig_check(g);
		fix_frame(g, uc);
	}
	errno = saved;
}

/* --- the signals libgrun owns --- */

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
		if (sig == GR_RTSIG) {
			default_action(sig);	/* the program's: as natively */
			return;
		}
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
	if (gr_sig_is_tagged(si)) {
		if (gr_stw_on_signal(uc)) {	/* stop the world: stopped until restarted */
			errno = saved;
			return;
		}
		if (m && atomic_load(&m->xid_pending))
			gr_identity_on_signal(m);
		if (m)
			gr_preempt_on_signal(m, uc);
	} else if (!g && gr_curm) {
		note_arrival(sig);
		gr_sig_forward(sig, si);	/* the program's SIGURG, on g0 or sysmon */
	} else {
		chain(sig, si, uc);
	}
	errno = saved;
}

/* SIGQUIT with no handler of the program's: Go's goroutine dump, then the
 * default action (the process dies of SIGQUIT, as natively). */
static void quit_handler(int sig, siginfo_t *si, void *uc)
{
	gr_printf("SIGQUIT: quit\n");
	gr_dump_all(2, NULL);
	default_action(SIGQUIT);
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
	struct sigaction old;
	gr_real.sigaction(sig, &sa, &old);
	if (!known[sig]) {
		prog[sig] = old;
		known[sig] = true;
	}
	owned[sig] = true;
}

/* The kernel's handler for a program-handled signal: the dispatcher. */
static int install_dispatch(int sig, const struct sigaction *act)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = dispatch;
	sa.sa_flags = SA_SIGINFO | (act->sa_flags & (SA_RESTART | SA_NODEFER | SA_NOCLDSTOP | SA_NOCLDWAIT));
	sa.sa_mask = act->sa_mask;
	return gr_real.sigaction(sig, &sa, NULL);
}

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t here = (uintptr_t)&find_self;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && here >= lo && here < lo + ph->p_memsz) {
			self_lo = lo;
			self_hi = lo + ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

bool gr_sig_pc_in_libgrun(uintptr_t pc)
{
	return !self_hi || (pc >= self_lo && pc < self_hi);	/* not known yet: say yes */
}

/* The collector's worker may run before the scheduler starts (a program
 * that has made no thread yet): the initial thread must then answer a
 * stop-the-world request as a foreign thread does, so the runtime signal's
 * handler goes in now. gr_signal_start installs it again (idempotent). */
GR_HIDDEN void gr_signal_runtime_early(void)
{
	if (gr_native)
		return;
	install(GR_RTSIG, urg_handler);
}

GR_HIDDEN void gr_signal_start(struct gr_m *m0)
{
	gr_real.dl_iterate_phdr(find_self, NULL);
	/* M0's own alternate stack; the program's (if any) is G1's now. */
	static char m0alt[64 << 10];
	stack_t ss = { .ss_sp = m0alt, .ss_size = sizeof m0alt };
	gr_real.sigaltstack(&ss, NULL);
	m0->sigstk = m0alt;
	m0->sigstksz = sizeof m0alt;
	install(SIGSEGV, fault_handler);
	install(SIGBUS, fault_handler);
	install(GR_RTSIG, urg_handler);
	struct sigaction cur;
	if (gr_real.sigaction(SIGQUIT, NULL, &cur) == 0 && !is_handler(&cur) && cur.sa_handler == SIG_DFL)
		install(SIGQUIT, quit_handler);
	if (gr_cfg.dumpsig > 0 && gr_cfg.dumpsig < 65) {
		gr_traceback_init();	/* no dlopen inside that handler later */
		install(gr_cfg.dumpsig, dumpsig_handler);
	}
}

/* --- sigaction and friends --- */

GR_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (gr_native || sig <= 0 || sig > 64 || sig == SIGKILL || sig == SIGSTOP || gr_in_vfork_child())
		return gr_real.sigaction(sig, act, old);
	if (!known[sig]) {
		if (gr_real.sigaction(sig, NULL, &prog[sig]) != 0)
			return -1;
		known[sig] = true;
	}
	struct sigaction prev = prog[sig];
	if (act) {
		if (owned[sig] && sig == SIGQUIT && is_handler(act)) {
			owned[sig] = false;	/* the program handles SIGQUIT itself now */
		} else if (sig == SIGQUIT && !owned[sig] && !is_handler(act) && act->sa_handler == SIG_DFL &&
			   atomic_load(&gr_sched.started)) {
			prog[sig] = *act;
			install(SIGQUIT, quit_handler);
			goto done;
		}
		if (!owned[sig]) {
			int r = is_handler(act)			 ? install_dispatch(sig, act)
				: act->sa_handler == SIG_DFL ? set_default(sig, act)
							     : gr_real.sigaction(sig, act, NULL);
			if (r != 0)
				return r;
		}
		prog[sig] = *act;
	}
done:
	if (old)
		*old = prev;
	return 0;
}

static sigset_t interrupting;	/* siginterrupt(sig, 1) */

/* signal() and its variants: sigaction with the given flags. */
static sighandler_t set_handler(int sig, sighandler_t h, int flags, bool block_self)
{
	if (sig <= 0 || sig > 64 || h == SIG_ERR) {
		errno = EINVAL;
		return SIG_ERR;
	}
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	if (block_self)
		sigaddset(&sa.sa_mask, sig);
	sa.sa_flags = flags;
	if (sigaction(sig, &sa, &old) != 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* BSD semantics (glibc's signal): restart unless siginterrupt asked. */
GR_EXPORT sighandler_t signal(int sig, sighandler_t h)
{
	bool intr = sig > 0 && sig <= 64 && sigismember(&interrupting, sig);
	return set_handler(sig, h, intr ? 0 : SA_RESTART, true);
}

GR_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h)
{
	return signal(sig, h);
}

GR_EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
	return set_handler(sig, h, SA_RESETHAND | SA_NODEFER, false);
}

GR_EXPORT int siginterrupt(int sig, int flag)
{
	struct sigaction sa;
	if (sig <= 0 || sig > 64 || sigaction(sig, NULL, &sa) != 0) {
		errno = EINVAL;
		return -1;
	}
	if (flag) {
		sigaddset(&interrupting, sig);
		sa.sa_flags &= ~SA_RESTART;
	} else {
		sigdelset(&interrupting, sig);
		sa.sa_flags |= SA_RESTART;
	}
	return sigaction(sig, &sa, NULL);
}

/* --- masks --- */

/* Record the G's mask; keep SIGURG out of the kernel's. libunwind's calls
 * while libgrun samples an allocation site change nothing: a handler that
 * interrupts the unwinder finds the sampler busy and never re-enters it. */
static int setmask(int how, const sigset_t *set, sigset_t *old)
{
	if (gr_allocsite_capturing()) {
		if (old) {
			struct gr_g *g = gr_curg;
			uint64_t cur = 0;
			if (g && g->m && !g->pinned)
				cur = g->sigmask;
			else
				gr_sys6(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&cur, 8, 0, 0);
			set_from64(old, cur);
		}
		return 0;
	}
	struct gr_g *g = gr_native || gr_in_vfork_child() ? NULL : gr_getg();
	uint64_t cur, want;
	if (g)
		cur = g->sigmask;
	else if (gr_sys6(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&cur, 8, 0, 0) < 0)
		return EINVAL;
	if (set) {
		uint64_t s = set64(set);
		switch (how) {
		case SIG_BLOCK: want = cur | s; break;
		case SIG_UNBLOCK: want = cur & ~s; break;
		case SIG_SETMASK: want = s; break;
		default: return EINVAL;
		}
	}
	if (old)
		set_from64(old, cur);
	if (!set)
		return 0;
	want &= ~UNBLOCKABLE;
	if (!g) {
		gr_sys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&want, 0, 8, 0, 0);
		return 0;
	}
	gr_sig_setmask(g, want);
	atomic_fetch_add(&gr_sig_maskgen, 1);
	if (cur & ~want) {
		/* Unblocked something: a pending one is delivered before we
		 * return, and the process's pending ones may now have a G. */
		if (atomic_load(&gr_sig_procpend) & cur & ~want)
			gr_sysmon_kick();
		gr_sig_check(g);
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

GR_EXPORT int sigpending(sigset_t *set)
{
	uint64_t k = 0;
	if (gr_sys(SYS_rt_sigpending, (long)&k, 8, 0) < 0)
		return -1;
	struct gr_g *g = gr_native ? NULL : gr_getg();
	if (g)
		k = (k & g->sigmask) | ((atomic_load(&g->sigpend) | atomic_load(&g->sigpend_proc) |
					 atomic_load(&gr_sig_procpend)) & g->sigmask);
	set_from64(set, k);
	return 0;
}

GR_EXPORT int sigsuspend(const sigset_t *mask)
{
	struct gr_g *g = gr_native ? NULL : gr_getg();
	if (!g || gr_in_vfork_child())
		return REAL(sigsuspend)(mask);
	gr_testcancel();
	uint64_t old = g->sigmask, during = set64(mask) & ~UNBLOCKABLE;
	g->sigmask = during;
	atomic_fetch_add(&gr_sig_maskgen, 1);
	if (!gr_sig_pending(g)) {
		uint64_t kernel = during & ~URG_BIT;
		bool entered = gr_syscall_enter(g);
		gr_sys(SYS_rt_sigsuspend, (long)&kernel, 8, 0);
		gr_syscall_exit(g, entered);	/* delivers what the poke left */
	}
	gr_sig_check(g);
	gr_sig_setmask(g, old);
	atomic_fetch_add(&gr_sig_maskgen, 1);
	errno = EINTR;
	return -1;
}

GR_EXPORT int pause(void)
{
	sigset_t cur;
	setmask(SIG_BLOCK, NULL, &cur);
	return sigsuspend(&cur);
}

GR_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout)
{
	struct gr_g *g = gr_native ? NULL : gr_getg();
	if (!g || gr_in_vfork_child())
		return REAL(sigtimedwait)(set, info, timeout);
	gr_testcancel();
	uint64_t want = set64(set) & ~UNBLOCKABLE;
	int64_t deadline = timeout ? gr_nanotime() + (int64_t)timeout->tv_sec * 1000000000 + timeout->tv_nsec : -1;
	for (;;) {
		siginfo_t si;
		int sig = gr_sig_take(g, want, true, &si);
		if (sig) {
			drop_arrival(sig);
			if (info)
				*info = si;
			return sig;
		}
		struct timespec rel, *relp = NULL;
		if (deadline >= 0)
			relp = gr_ts_until(deadline, &rel);
		g->sigwaitset = want;
		bool entered = gr_syscall_enter(g);
		long r = gr_sys6(SYS_rt_sigtimedwait, (long)&want, (long)&si, (long)relp, 8, 0, 0);
		gr_syscall_exit(g, entered);
		g->sigwaitset = 0;
		if (r > 0 && gr_sig_is_tagged(&si))
			continue;	/* a poke: the signal was posted on g */
		if (r < 0) {
			errno = (int)-r;
			return -1;
		}
		if (info)
			*info = si;
		return (int)r;
	}
}

GR_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	return sigtimedwait(set, info, NULL);
}

GR_EXPORT int sigwait(const sigset_t *set, int *sig)
{
	int r;
	do
		r = sigtimedwait(set, NULL, NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno;
	*sig = r;
	return 0;
}

GR_EXPORT int sigaltstack(const stack_t *ss, stack_t *old)
{
	struct gr_g *g = gr_native ? NULL : gr_getg();
	if (!g || gr_in_vfork_child())
		return gr_real.sigaltstack(ss, old);
	char here;
	bool on = on_stack(&g->altstack, &here);
	if (old) {
		*old = g->altstack;
		if (!old->ss_sp)
			old->ss_flags = SS_DISABLE;
		else if (on)
			old->ss_flags = SS_ONSTACK;
	}
	if (ss) {
		if (on) {
			errno = EPERM;
			return -1;
		}
		if (ss->ss_flags & ~(SS_DISABLE | (1 << 31))) {
			errno = EINVAL;
			return -1;
		}
		if (ss->ss_flags & SS_DISABLE) {
			g->altstack = (stack_t){ .ss_flags = SS_DISABLE };
		} else {
			if (ss->ss_size < (size_t)MINSIGSTKSZ) {
				errno = ENOMEM;
				return -1;
			}
			g->altstack = (stack_t){ .ss_sp = ss->ss_sp, .ss_size = ss->ss_size };
		}
	}
	return 0;
}

/* --- signals aimed at a G --- */

/* Send sig to g. Handled signals are posted on g (sig.c); a signal left
 * to the kernel's default or ignore action is raised where the kernel
 * will act on it as it would on that thread. */
static int kill_g(struct gr_g *g, int sig)
{
	if (sig == 0)
		return 0;
	if (atomic_load(&g->exited))
		return 0;	/* glibc: a thread that is exiting swallows it */
	struct gr_g *self = gr_getg();
	if (gr_signal_program_handles(sig) || (g->sigmask & GR_SIGBIT(sig))) {
		if (!(g->sigmask & GR_SIGBIT(sig)))
			note_arrival(sig);
		gr_sig_post(g, sig, false);
		if (g == self)
			gr_sig_check(g);
		return 0;
	}
	struct sigaction cur;
	if (gr_real.sigaction(sig, NULL, &cur) == 0 && cur.sa_handler == SIG_IGN)
		return 0;
	if (default_ignores(sig) && sig != SIGCONT)
		return 0;
	/* The default action (terminate, stop, continue) hits the process:
	 * at once when the caller is the target (raise is synchronous). */
	if (g == self)
		return (int)-gr_sys(SYS_tgkill, getpid(), gr_gettid(), sig);
	return (int)-gr_sys(SYS_kill, getpid(), sig, 0);
}

/* kill_g the libc way (-1 and errno); bad: the signal number is invalid. */
static int kill_g_errno(struct gr_g *g, int sig, bool bad)
{
	int r = bad || sig > 64 ? EINVAL : kill_g(g, sig);
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

GR_EXPORT int pthread_kill(pthread_t t, int sig)
{
	struct gr_g *g = gr_native ? NULL : gr_g_of_tp((void *)t);
	if (!g)
		return REAL(pthread_kill)(t, sig);
	if (sig < 0 || sig > 64)
		return EINVAL;
	return kill_g(g, sig);
}

GR_EXPORT int tgkill(pid_t pid, pid_t tid, int sig)
{
	struct gr_g *g = (gr_native || pid != getpid()) ? NULL : gr_g_by_vtid(tid);
	if (!g)
		return (int)gr_errno_ret(gr_sys(SYS_tgkill, pid, tid, sig));
	return kill_g_errno(g, sig, sig < 0);
}

/* A signal the calling G sends to its own process (kill(getpid()), a
 * pidfd of itself): natively the kernel usually runs the handler on the
 * sender before the call returns; programs (CPython's tests among them)
 * count on it. Deliver it to the caller synchronously when it handles it
 * and does not block it. */
static bool kill_self(int sig, int code, const union sigval *val)
{
	struct gr_g *g = gr_native ? NULL : gr_getg();
	if (!g || sig <= 0 || sig > 64 || gr_in_vfork_child() || (g->sigmask & GR_SIGBIT(sig)) ||
	    !gr_signal_program_handles(sig) || (sig == GR_RTSIG && owned[sig]))
		return false;
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = sig;
	si.si_code = code;
	si.si_pid = getpid();
	si.si_uid = getuid();
	if (val)
		si.si_value = *val;
	gr_sig_procinfo[sig] = si;
	note_arrival(sig);
	atomic_fetch_or(&g->sigpend_proc, GR_SIGBIT(sig));
	gr_sig_check(g);
	return true;
}

GR_EXPORT int kill(pid_t pid, int sig)
{
	if (pid > 0 && pid == getpid() && kill_self(sig, SI_USER, NULL))
		return 0;
	return (int)gr_errno_ret(gr_sys(SYS_kill, pid, sig, 0));
}

GR_EXPORT int sigqueue(pid_t pid, int sig, const union sigval val)
{
	if (pid > 0 && pid == getpid() && kill_self(sig, SI_QUEUE, &val))
		return 0;
	return REAL(sigqueue)(pid, sig, val);
}

/* Does pidfd (a pidfd or an open /proc/PID directory) name this process? */
static bool pidfd_is_self(int fd)
{
	char path[64], buf[256];
	int me = getpid();
	gr_fmt(path, sizeof path, "/proc/self/fd/%d", fd);
	long n = gr_sys(SYS_readlink, (long)path, (long)buf, sizeof buf - 1);
	if (n > 0) {
		buf[n] = 0;
		char want[32];
		gr_fmt(want, sizeof want, "/proc/%d", me);
		if (strcmp(buf, want) == 0)
			return true;
	}
	gr_fmt(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	if (gr_read_small(path, buf, sizeof buf) <= 0)
		return false;
	const char *p = strstr(buf, "\nPid:\t");
	return p && atoi(p + 6) == me;
}

/* syscall(SYS_kill / SYS_tgkill / SYS_tkill / SYS_pidfd_send_signal, ...)
 * as the functions. Returns false when the caller should make the call. */
bool gr_signal_syscall(long nr, long a, long b, long c, long d, long *ret)
{
	switch (nr) {
	case SYS_kill:
		*ret = kill((pid_t)a, (int)b);
		return true;
	case SYS_tgkill:
		*ret = tgkill((pid_t)a, (pid_t)b, (int)c);
		return true;
	case SYS_tkill:
		*ret = tgkill(getpid(), (pid_t)a, (int)b);
		return true;
	case SYS_pidfd_send_signal:
		if (c == 0 && d == 0 && (int)b > 0 && pidfd_is_self((int)a) && kill_self((int)b, SI_USER, NULL)) {
			*ret = 0;
			return true;
		}
		return false;
	}
	return false;
}

GR_EXPORT int raise(int sig)
{
	struct gr_g *g = gr_native ? NULL : gr_getg();
	if (!g || gr_in_vfork_child())
		return REAL(raise)(sig);
	return kill_g_errno(g, sig, sig <= 0);
}

/* For the deadlock detector and kill_g: does the program itself handle
 * sig? (For the signals libgrun owns, the program's recorded handler.) */
bool gr_signal_program_handles(int sig)
{
	struct sigaction sa;
	if (sig > 0 && sig < 65 && known[sig])
		sa = prog[sig];
	else if (gr_real.sigaction(sig, NULL, &sa) != 0)
		return false;
	return is_handler(&sa);
}
