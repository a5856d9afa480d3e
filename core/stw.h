/* stw: stop the world, and know every thread's registers and stack.
 *
 * gr_stw_stop() stops every G but the caller and every foreign thread of
 * the process, wherever each is:
 *  - a G running (program code, libc, or blocked in foreign code) is sent
 *    the runtime signal; its handler copies the interrupted context (all
 *    general registers and the full xsave state) into a record and waits
 *    on a futex until gr_stw_start();
 *  - a G in a shim's blocking system call is left alone: its callee-saved
 *    registers and stack pointer were saved when it entered the call, and
 *    gr_syscall_exit waits while the world is stopped;
 *  - a parked or runnable G has its context on its own stack (saved by the
 *    switch, or by the preemption trampoline); Ms wait before running one;
 *  - a thread libgrun did not create (glibc's helpers, raw clones) gets
 *    the same signal; one that blocks it cannot be stopped and is reported
 *    as such (its stack must be scanned in place by a collector).
 * The handshake is bounded: threads that do not answer within the timeout
 * are listed, never waited for forever. Signals are sent with SA_RESTART
 * semantics, so interrupted system calls restart.
 *
 * gr_stw_foreach() then calls back for every stopped thread with what a
 * conservative scanner needs: the registers (if known), the xsave image,
 * and the stack range to scan (from RSP-128, the red zone, to its top: a
 * G's stack top, or for other threads the end of the mapping RSP is in).
 */
#ifndef GR_STW_H
#define GR_STW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <ucontext.h>
#include "core/throw.h"

struct gr_g;

enum gr_stw_kind {
	STW_SIGNALED,	/* stopped in the handler: full context */
	STW_SYSCALL,	/* G in a shim system call: callee-saved regs + sp */
	STW_PARKED,	/* G parked or runnable: its stack from its saved sp */
	STW_UNSTOPPED,	/* did not answer (blocks the signal): stack unknown */
};

struct gr_stw_thread {
	int kind;		/* enum gr_stw_kind */
	int tid;		/* kernel tid (0 for a parked G) */
	struct gr_g *g;		/* NULL: not a G (foreign thread, g0) */
	const uintptr_t *regs;	/* general registers, nregs of them */
	int nregs;
	const void *fpstate;	/* xsave/fxsave image, or NULL */
	size_t fpsize;
	uintptr_t stack_lo, stack_hi;	/* to scan: [lo, hi) */
};

/* The last stop's steps (stopper's diagnostics): listing the threads,
 * signalling them, waiting for their answers; and how many were asked. */
struct gr_stw_times {
	int64_t list_ns, signal_ns, wait_ns;
	int asked;
};
GR_HIDDEN extern struct gr_stw_times gr_stw_last;

/* Stop the world; 0, or -EBUSY if another stop is in progress. Returns
 * the number of threads that could not be stopped in *unstopped (one more
 * when /proc/self/task could not be read: foreign threads unknown). Until
 * gr_stw_start the caller runs SCHED_FIFO when the process may (stw.c). */
GR_HIDDEN int gr_stw_stop(int *unstopped);
GR_HIDDEN void gr_stw_start(void);
/* Where the records of stopped threads' registers live (libgrun's data):
 * a collector leaves them out of its root scan (they are stale once the
 * world runs again; gr_stw_foreach gives the current ones). */
GR_HIDDEN void gr_stw_records(uintptr_t *lo, uintptr_t *hi);
/* A runtime thread that keeps running while the world is stopped (the
 * collector's pause helper): never sent a stop. It must hold no program
 * pointer the stopper needs to see. tid 0 clears (fork child). */
GR_HIDDEN void gr_stw_exempt(int tid);
/* Where gr_stw_foreach finds the end of the mapping holding a thread's sp
 * when the thread is not a G (0: unknown): a collector that has just read
 * the mappings saves a read of /proc/self/maps in its pause. The range may
 * then be stale: read it with process_vm_readv, not in place. */
GR_HIDDEN extern uintptr_t (*gr_stw_mapping_end_fn)(uintptr_t addr);
/* Call fn for every thread recorded by the last stop (world stopped). */
GR_HIDDEN void gr_stw_foreach(void (*fn)(const struct gr_stw_thread *, void *), void *arg);

/* Hooks: the runtime signal handler (true if it was a stop request), the
 * scheduler's gate before running a G, and the system-call exit gate. */
GR_HIDDEN bool gr_stw_on_signal(void *ucontext);
GR_HIDDEN extern _Atomic int gr_stw_active;
GR_HIDDEN void gr_stw_wait(void);
/* A G leaving a shim system call: clears g->insyscall, or waits with it
 * set while the world is stopped (see stw.c for the handshake). */
GR_HIDDEN void gr_stw_syscall_exit(struct gr_g *g);
static inline void gr_stw_gate(void)
{
	if (__builtin_expect(atomic_load_explicit(&gr_stw_active, memory_order_acquire), 0))
		gr_stw_wait();
}

#endif
