/* proc: the G/M/P scheduler (Go's proc.go, in C).
 *
 * G: a green thread (one per pthread the program creates, plus G1 = main).
 * M: an OS thread (a real NPTL thread) that runs Gs; its own stack and TCB
 *    are its g0, where the scheduler runs.
 * P: a logical processor: the right to run G code, with a local run queue
 *    and a timer heap. GRUN_MAXPROCS of them.
 *
 * Runtime entry. A G runs program code with its P in state P_USER: the P
 * is then not touched by the G and may be retaken by sysmon when the G
 * blocks in foreign code. Every runtime path that needs the P calls
 * gr_enter(), which CASes P_USER -> P_RUNNING (owner-tagged), and
 * gr_leave() on the way out. If the CAS fails, the P was retaken: the G
 * gets another P or waits on the global queue (gr_enter_slow). Blocking
 * system calls made by shims use P_SYSCALL (retaken after 20 us).
 *
 * Park/ready. gr_park() is the only way a G stops: it switches to g0,
 * which runs the unlock callback after the G's context is saved (so a
 * concurrent gr_ready cannot run the G on two Ms), then schedules.
 * gr_ready() makes a parked G runnable from any context.
 *
 * Lock order (lowest first): sema bucket lock, timer heap lock,
 * sched.lock, allm lock. Runtime locks are never held across a park.
 */
#ifndef GR_PROC_H
#define GR_PROC_H

#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/lock.h"
#include "core/runq.h"
#include "core/timer.h"
#include "core/throw.h"

enum gr_gstatus { G_IDLE, G_RUNNABLE, G_RUNNING, G_WAITING, G_DEAD };

/* P status word: low 4 bits state, the rest the owning M's id. */
enum gr_pstate { P_IDLE = 0, P_RUNNING = 1, P_USER = 2, P_SYSCALL = 3 };
#define GR_PSTATE(w) ((w) & 15u)
#define GR_PWORD(m, st) (((uint32_t)(m)->id << 4) | (st))

enum gr_waitreason {
	WAIT_NONE, WAIT_MUTEX, WAIT_COND, WAIT_JOIN, WAIT_SLEEP, WAIT_ONCE,
	WAIT_SEMA, WAIT_RWLOCK, WAIT_BARRIER, WAIT_GLOBALQ, WAIT_FUTEX, WAIT_IO, WAIT_NREASONS
};
GR_HIDDEN extern const char *const gr_waitreason_names[WAIT_NREASONS];

enum gr_detach { GD_JOINABLE, GD_DETACHED, GD_EXITING };

struct gr_m;
struct gr_p;

struct gr_g {
	void *sp;			/* saved context while not running */
	void *tp;			/* its thread pointer: struct pthread of glibc */
	struct gr_m *m;			/* M running it, while G_RUNNING */
	_Atomic int status;		/* enum gr_gstatus */
	uint64_t goid;
	int vtid;			/* what gettid() says in this G */
	struct gr_g *schedlink;		/* global run queue / free list; sched.lock */
	struct gr_g *allnext;		/* allg list, append-only; allg_lock */
	/* stack: [map_base, map_base+map_size) holds guard, stack, TCB */
	void *map_base;
	size_t map_size;
	void *stack_lo, *stack_hi;	/* usable stack (below the TCB) */
	void *map_top;			/* end of the stack block, TCB included */
	size_t guard;
	bool user_stack;		/* program-provided (pthread_attr_setstack) */
	bool is_main;			/* G1: the initial thread's TCB, never freed */
	bool pinned;			/* locked to its M for good (LockOSThread) */
	int nopreempt;			/* > 0: no asynchronous preemption */
	bool preempt_coop;		/* preemption was refused (unsafe pc): yield at the next shim */
	/* start and exit */
	void *(*fn)(void *);
	void *arg;
	void *result;
	_Atomic int detach;		/* enum gr_detach */
	_Atomic uint32_t exited;	/* 0 running, 1 exiting, 2 off its stack (join waits) */
	/* waiting */
	int waitreason;			/* enum gr_waitreason while parked */
	int64_t waitsince;		/* coarse monotonic ns when it parked */
	void *waitaddr;			/* the word it waits on (sema), or NULL */
	void *createpc;			/* return address of its pthread_create call */
	struct gr_timer timer;		/* sleep and timed waits */
	uint64_t sigmask;		/* kernel signal mask while it runs */
	_Atomic uint64_t sigpend;	/* thread-directed signals pending (core/sig.h) */
	_Atomic uint64_t sigpend_proc;	/* process-directed signals handed to it */
	uint64_t sigwaitset;		/* in sigwait for these (a poke wakes it) */
	bool insyscall;			/* between gr_syscall_enter and _exit (entered) */
	uintptr_t sysregs[7];		/* rbx rbp r12-r15 rsp at syscall entry (stw.h) */
	stack_t altstack;		/* its sigaltstack (ss_sp NULL: none) */
	int schedpolicy, schedprio;	/* recorded by pthread_setschedparam */
	bool affinity_set;
	cpu_set_t affinity;		/* recorded by pthread_setaffinity_np */
	char name[16];
	void *robust;			/* robust mutexes held (shims/mutex.c) */
	void *sudog;			/* its queue entry while parked in sema; bucket lock */
	bool exit_unwind;		/* pthread_exit is unwinding: result is set */
};

struct gr_m {
	void *g0sp;			/* g0 context while a G runs */
	void *tcb;			/* the M's own thread pointer (NPTL or built) */
	struct gr_g *curg;		/* G running on it */
	struct gr_p *p;			/* attached P; the M's own */
	struct gr_p *nextp;		/* P handed over at wake-up; sched.lock */
	int id;
	int tid;
	_Atomic uint32_t note;		/* futex: 1 = woken */
	bool spinning;
	bool is_sysmon;
	struct gr_m *schedlink;		/* idle M list; sched.lock */
	struct gr_m *allnext;		/* allm list; allm_lock */
	struct gr_g *(*mcall_fn)(struct gr_g *, void *);
	void *mcall_arg;
	uint64_t cursigmask;		/* kernel mask now in force on this thread */
	void *sigstk;			/* its alternate signal stack (runtime handlers), */
	size_t sigstksz;		/* dead frames between signals (gc.c skips it) */
	/* set*id broadcast (see identity) */
	_Atomic int preempt_pending;	/* sysmon asked for a preemption */
	_Atomic int xid_pending;
	long xid_nr, xid_args[3];
	long xid_result;
	pthread_t pthread;		/* real pthread handle (0 for M0) */
	_Atomic uint32_t registered;	/* futex: 1 once on allm with current credentials */
	int64_t nretakes;
};

struct gr_p {
	int id;
	_Atomic uint32_t status;	/* GR_PWORD(owner, state) */
	struct gr_m *m;			/* owner, while not idle */
	struct gr_runq runq;
	struct gr_timerheap timers;
	uint32_t schedtick;		/* owner only */
	_Atomic uint32_t tick;		/* bumped at every runtime entry; sysmon reads */
	struct gr_p *link;		/* idle P list; sched.lock */
	uint64_t rand;			/* owner only */
	/* sysmon's private view */
	uint32_t sm_tick;
	int64_t sm_since;
	bool sm_asked;			/* preemption requested since sm_since */
};

struct gr_sched {
	struct gr_lock lock;
	struct gr_g *runqhead, *runqtail; /* global run queue; lock */
	_Atomic int runqsize;
	struct gr_m *midle;		/* idle Ms; lock */
	int nmidle;			/* lock */
	_Atomic int mcount;		/* Ms created */
	struct gr_p *pidle;		/* idle Ps; lock */
	_Atomic int npidle;
	_Atomic int nmspinning;
	_Atomic int ngalive;		/* live Gs, G1 included */
	_Atomic uint64_t goidgen;
	_Atomic int vtidgen;
	int nprocs;
	struct gr_p *allp;		/* array of nprocs */
	struct gr_m *timer_sleeper;	/* M sleeping until the next timer; lock */
	_Atomic int64_t sleep_until;
	_Atomic bool netpolling;	/* an M is blocked in gr_netpoll */
	_Atomic int64_t lastpoll;	/* coarse ns of the last netpoll */
	_Atomic bool started;		/* the scheduler runs (first pthread_create) */
	int64_t start_ns;
	struct gr_m *m0;
	struct gr_g *g1;
	struct gr_m *sysmon;
};

GR_HIDDEN extern struct gr_sched gr_sched;

/* The per-thread slots: in a G's TCB gr_curg is that G; in an M's own TCB
 * (g0, sysmon) gr_curm is that M; in a foreign thread both are NULL. */
GR_HIDDEN extern __thread struct gr_g *gr_curg;
GR_HIDDEN extern __thread struct gr_m *gr_curm;

static inline struct gr_g *gr_getg(void) { return gr_curg; }

/* Start the scheduler: M0, G1 = the calling (initial) thread, sysmon.
 * Called by the first pthread_create. Returns 0 or -errno. */
GR_HIDDEN int gr_sched_start(void);
GR_HIDDEN int gr_sched_ensure_started(void);
GR_HIDDEN void gr_sched_init(int nprocs);
/* pthread_setattr_default_np changed the default stack size. */
GR_HIDDEN void gr_sched_default_stack_changed(void);

/* Runtime entry from G code (see the header comment). Returns the P. */
GR_HIDDEN struct gr_p *gr_enter_slow(struct gr_g *g);
static inline struct gr_p *gr_enter(struct gr_g *g)
{
	struct gr_m *m = g->m;
	struct gr_p *p = m->p;
	uint32_t w = GR_PWORD(m, P_USER);
	if (likely(p && atomic_compare_exchange_strong_explicit(&p->status, &w, GR_PWORD(m, P_RUNNING),
							       memory_order_acquire, memory_order_relaxed))) {
		atomic_fetch_add_explicit(&p->tick, 1, memory_order_relaxed);
		return p;
	}
	return gr_enter_slow(g);
}
static inline void gr_leave(struct gr_g *g)
{
	struct gr_m *m = g->m;
	atomic_store_explicit(&m->p->status, GR_PWORD(m, P_USER), memory_order_release);
}

/* Blocking system call bracket for shims: the P may be handed to another M
 * while the call blocks (sysmon, after 20 us). NULL g: no-op. Pass what
 * enter returned to exit. */
GR_HIDDEN bool gr_syscall_enter(struct gr_g *g);
GR_HIDDEN void gr_syscall_exit(struct gr_g *g, bool entered);

/* True when the caller is a G that may park (scheduler running, G not
 * pinned). Otherwise waits must block the thread (kernel futex). */
static inline bool gr_can_park(struct gr_g *g)
{
	return g && !g->pinned;
}

/* Worth spinning on a lock held by someone else? Only when another P runs
 * (the holder may be running) and this P has nothing else to run: Go's
 * sync.Mutex rule. Racy reads are fine: it is a heuristic. */
static inline bool gr_can_spin(struct gr_g *g)
{
	if (!g || g->pinned || gr_sched.nprocs < 2)
		return g == NULL;	/* a kernel thread can always spin */
	struct gr_p *p = g->m->p;
	return p && gr_runq_empty(&p->runq) &&
	       atomic_load_explicit(&gr_sched.npidle, memory_order_relaxed) < gr_sched.nprocs - 1;
}

/* Park the calling G (which has done gr_enter). unlockf(g, arg) runs on g0
 * after the G is saved; returning false from it cancels the park (the G
 * continues at once). Returns with the P entered again. */
GR_HIDDEN void gr_park(bool (*unlockf)(struct gr_g *, void *), void *arg, int reason);
/* Make g runnable. Callable from any context (G, g0, foreign thread). */
GR_HIDDEN void gr_ready(struct gr_g *g);
/* Yield the P to other runnable Gs. */
GR_HIDDEN void gr_gosched(void);
/* Sleep until the monotonic deadline (ns). Returns 0, or -EINTR when a
 * signal handler ran (the sleep ends early, as nanosleep's does). */
GR_HIDDEN int gr_sleep_until(int64_t deadline);

/* Create a G running fn(arg). stack_size 0 = default; stack_addr non-NULL =
 * program-provided stack. Returns 0 or -errno; *out is the new G. */
struct gr_gattr {
	size_t stack_size;
	size_t guard;
	void *stack_addr;
	bool detached;
};
GR_HIDDEN int gr_gcreate(const struct gr_gattr *attr, void *(*fn)(void *), void *arg,
			 struct gr_g **out);
/* pthread_exit of a G: unwind its stack through glibc (C++ destructors,
 * cleanup handlers), then end it with result. */
GR_HIDDEN __attribute__((noreturn)) void gr_exit_unwind(void *result);
/* End the calling G with result (runs TLS and key destructors). */
GR_HIDDEN __attribute__((noreturn)) void gr_gexit(void *result);
/* Wait for g to end (joinable G); returns its result via *res. deadline
 * < 0 = forever; returns 0, -ETIMEDOUT, or -EBUSY when deadline == 0. */
GR_HIDDEN int gr_gjoin(struct gr_g *g, void **res, int64_t deadline);
GR_HIDDEN int gr_gdetach(struct gr_g *g);
/* G of a pthread_t (its TCB address); NULL if not one of ours. */
GR_HIDDEN struct gr_g *gr_g_of_tp(void *tp);
/* The live G whose virtual tid is vtid (walks allg, lock-free); NULL. */
GR_HIDDEN struct gr_g *gr_g_by_vtid(int vtid);

/* Cancellation (glibc's bits in the TCB's cancelhandling word). */
#define GR_CANCELSTATE_BIT 1	/* set: disabled */
#define GR_CANCELED_BITS 12	/* CANCELING | CANCELED */
#define GR_EXITING_BIT 16
/* Wake g if it is parked in a cancellation point, so it can act on a
 * pending cancellation. */
GR_HIDDEN void gr_cancel_wake(struct gr_g *g);
static inline bool gr_waitreason_cancelable(int r)
{
	return r == WAIT_COND || r == WAIT_JOIN || r == WAIT_SEMA || r == WAIT_SLEEP || r == WAIT_IO;
}

/* Pin the calling G to its M for good (LockOSThread): from now on it runs
 * like a native thread on its own kernel thread. */
GR_HIDDEN void gr_pin(void);

/* Asynchronous preemption (preempt.c). */
GR_HIDDEN void gr_preempt_refresh(void);
GR_HIDDEN void gr_preempt_request(struct gr_m *m);
GR_HIDDEN bool gr_preempt_on_signal(struct gr_m *m, void *ucontext);

/* fork (fork.c): atfork handlers, and the vfork-child test for shims. */
GR_HIDDEN void gr_fork_prepare(void);
GR_HIDDEN void gr_fork_parent(void);
GR_HIDDEN void gr_fork_child(void);
GR_HIDDEN bool gr_in_vfork_child(void);

/* sysmon (sysmon.c). In a fork child it starts when the child first
 * blocks or creates a thread (a child that only execs or exits never pays
 * for it): gr_sysmon_check() at those points. */
GR_HIDDEN void gr_sysmon_start(void);
GR_HIDDEN extern _Atomic bool gr_sysmon_deferred;
GR_HIDDEN void gr_sysmon_start_deferred(void);
static inline void gr_sysmon_check(void)
{
	if (unlikely(atomic_load_explicit(&gr_sysmon_deferred, memory_order_relaxed)))
		gr_sysmon_start_deferred();
}

/* Hooks run at G exit, set by the shims (C++ thread_local, pthread keys). */
GR_HIDDEN extern void (*gr_exit_hook)(struct gr_g *g);

/* Iterate Ms (for set*id and sysmon). */
GR_HIDDEN extern struct gr_lock gr_allm_lock;
GR_HIDDEN extern struct gr_m *gr_allm;
GR_HIDDEN extern struct gr_lock gr_allg_lock;
GR_HIDDEN extern struct gr_g *gr_allg;

GR_HIDDEN void gr_handoffp(struct gr_p *p);
/* Held while an OS thread is created (newm, the collector's worker), and
 * by the collector across its pauses. A creator takes it with
 * gr_newm_lock_take: pthread_create allocates (the new thread's TLS and
 * dtv) with it held, and such an allocation must not wait for a cycle
 * that needs the lock to go on (gc.c assist() looks at gr_newm_held). */
GR_HIDDEN extern struct gr_lock gr_newm_lock;
GR_HIDDEN extern __thread int gr_newm_held;

static inline void gr_newm_lock_take(void)
{
	gr_lock(&gr_newm_lock);
	gr_newm_held++;
}

static inline void gr_newm_lock_drop(void)
{
	gr_newm_held--;
	gr_unlock(&gr_newm_lock);
}

/* An M id for a runtime thread that is not an M (the collector's worker:
 * its heap cache is gr_mcaches[id]). */
GR_HIDDEN int gr_m_newid(void);
GR_HIDDEN void gr_wakep(void);
GR_HIDDEN void gr_m_block_signals(struct gr_m *m);

#endif
