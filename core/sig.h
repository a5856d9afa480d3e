/* sig: getting the program's signals to the right G.
 *
 * The kernel delivers a signal to a kernel thread; the program expects it
 * on one of its threads, which are Gs. The rules:
 *
 *  - Masks. A G's mask (g->sigmask) is the kernel mask of the M while the
 *    G runs (proc.c, execute). Idle Ms block every program signal. sysmon
 *    is the catcher: it leaves unblocked exactly the signals that some
 *    live G does not block, so a process-directed signal finds a thread
 *    whenever natively it would (and stays pending in the kernel, for
 *    sigwait and signalfd, when every G blocks it).
 *  - Handlers. For a signal the program handles, the kernel runs the
 *    dispatcher (shims/signal.c) on whatever thread it picked, on that
 *    thread's current stack. On a G in program code, or in a shim's
 *    blocking system call, the program's handler runs right there: on the
 *    G, on the G's stack, exactly as natively. Anywhere else (g0, sysmon,
 *    runtime code of a G) the signal is recorded as pending (process-
 *    directed: gr_sig_forward, handed to a G by sysmon; or on the G) and
 *    delivered at the G's next checkpoint.
 *  - Thread-directed signals (pthread_kill, tgkill, raise) are posted on
 *    the target G (g->sigpend) and the G is poked: a G running on an M is
 *    sent the same signal number tagged as a poke (so a blocking system
 *    call is interrupted with the kernel's own EINTR/SA_RESTART rules); a
 *    G parked in the runtime is interrupted (gr_sig_interrupt): its wait
 *    returns -EINTR or -ERESTARTSYS once the handler has run. A poke
 *    that finds its M gone idle stays pending on that thread (idle Ms
 *    block every program signal) until the M runs a G again: a signal
 *    used for pokes keeps the dispatcher as its kernel handler even at
 *    SIG_DFL (shims/signal.c, set_default).
 *  - Checkpoints, where a G delivers what is pending and unblocked: the
 *    end of every park (sema waits, sleeps, yields, preemption) and of
 *    every shim system call, pthread_sigmask unblocking, and a G's start.
 *
 * sysmon sweeps, while anything is pending, for Gs that were poked but
 * have not delivered yet (the poke raced with a migration) and pokes them
 * again.
 */
#ifndef GR_SIG_H
#define GR_SIG_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/proc.h"

#define GR_SIGBIT(sig) (1ull << ((sig) - 1))
/* The kernel's "restart the call" code: a wait returns it when the handler
 * that interrupted it had SA_RESTART. */
#define GR_ERESTART 512
/* si_value of the runtime's own signals (pokes, preemption, set*id). */
#define GR_SIG_MAGIC ((void *)0x67727a6e2d736967ull)

/* Signals forwarded by the dispatcher from a non-G context, not yet given
 * to a G, and the siginfo each arrived with. */
GR_HIDDEN extern _Atomic uint64_t gr_sig_procpend;
GR_HIDDEN extern siginfo_t gr_sig_procinfo[65];
/* Set while some G may have a pending signal it has not delivered. */
GR_HIDDEN extern _Atomic int gr_sig_sweep;
/* Bumped whenever a G's mask changes or a G comes or goes (catcher). */
GR_HIDDEN extern _Atomic uint32_t gr_sig_maskgen;

/* The program's signals ever sent as pokes. A poke can stay pending on a
 * thread that blocks it (an M gone idle) for as long as that thread
 * blocks it: the kernel must never meet one with the default action
 * (shims/signal.c, set_default). */
GR_HIDDEN extern _Atomic uint64_t gr_sig_poked;
/* Is pc in libgrun's code? (True until the scheduler has started and the
 * range is known.) */
GR_HIDDEN bool gr_sig_pc_in_libgrun(uintptr_t pc);

/* Send sig to kernel thread tid tagged as the runtime's (rt_tgsigqueueinfo
 * with GR_SIG_MAGIC). Returns 0 or -errno. */
GR_HIDDEN long gr_sig_send_tagged(int tid, int sig);
static inline bool gr_sig_is_tagged(const siginfo_t *si)
{
	return si && si->si_code == SI_QUEUE && si->si_value.sival_ptr == GR_SIG_MAGIC;
}

/* Async-signal-safe: a process-directed sig arrived where it cannot be
 * delivered (g0, sysmon): record it and let sysmon choose a G. */
GR_HIDDEN void gr_sig_forward(int sig, const siginfo_t *si);
/* Post sig on g (proc: process-directed, info in gr_sig_procinfo) and poke
 * it. Not from a signal handler. */
GR_HIDDEN void gr_sig_post(struct gr_g *g, int sig, bool proc);
/* Make g's park return early because a signal is pending for it
 * (proc.c, beside gr_cancel_wake). */
GR_HIDDEN void gr_sig_interrupt(struct gr_g *g);
/* sysmon: hand forwarded signals to Gs, re-poke stragglers, keep the
 * catcher mask. */
GR_HIDDEN void gr_sig_sysmon(void);
/* g stops running (parks, or leaves its M): if it is the main G and the
 * catcher left its signals to it, wake sysmon to catch them again. */
GR_HIDDEN void gr_sig_catcher_kick(struct gr_g *g);
/* How soon sysmon must call gr_sig_sysmon again (ns), or -1: no hurry. */
GR_HIDDEN int64_t gr_sig_sweep_delay(void);

/* Take the lowest signal of set posted on g (and, if process, pending for
 * the process), with its siginfo. Returns it, or 0 if none. */
GR_HIDDEN int gr_sig_take(struct gr_g *g, uint64_t set, bool process, siginfo_t *si);

/* Deliver every pending signal g does not block, running the program's
 * handlers on g (which must be in program state: P_USER, or no P). Returns
 * 0 if none was delivered, GR_ERESTART if all had SA_RESTART, else EINTR. */
GR_HIDDEN int gr_sig_deliver(struct gr_g *g);
static inline uint64_t gr_sig_pending(struct gr_g *g)
{
	return (atomic_load_explicit(&g->sigpend, memory_order_relaxed) |
		atomic_load_explicit(&g->sigpend_proc, memory_order_relaxed)) & ~g->sigmask;
}
static inline int gr_sig_check(struct gr_g *g)
{
	if (likely(!g || !gr_sig_pending(g)))
		return 0;
	return gr_sig_deliver(g);
}

/* Run the program's handler for sig on g (shims/signal.c). uc: the kernel's
 * frame when called from the dispatcher, NULL at a checkpoint. Returns
 * GR_ERESTART if the handler has SA_RESTART, else EINTR; 0 when nothing
 * was run (disposition changed to ignore). */
GR_HIDDEN int gr_sig_invoke(struct gr_g *g, int sig, siginfo_t *si, void *uc);
/* Does the program have a handler (not SIG_DFL/SIG_IGN) for sig? */
GR_HIDDEN bool gr_signal_program_handles(int sig);

/* Set g's mask (and the kernel's, if g runs here). */
GR_HIDDEN void gr_sig_setmask(struct gr_g *g, uint64_t mask);

/* A wait with a temporary mask (ppoll, pselect, epoll_pwait): g's mask is
 * mask until pop, so a signal the wait lets through finds g. */
GR_HIDDEN uint64_t gr_sig_mask_push(struct gr_g *g, const sigset_t *mask);
GR_HIDDEN void gr_sig_mask_pop(struct gr_g *g, uint64_t old);

GR_HIDDEN void gr_sig_fork_child(struct gr_g *g);
/* Wake sysmon now (async-signal-safe). */
GR_HIDDEN void gr_sysmon_kick(void);

#endif
