/* fork: the runtime across fork().
 *
 * After fork the child has one kernel thread: the one that ran the
 * forking G. Everything else the parent's runtime knew — other Ms, sysmon,
 * other Gs, their timers and wait-queue entries, the netpoller's epoll
 * instance (shared with the parent) — does not exist there. The atfork
 * handlers, registered before any of the program's (so the prepare
 * handler runs last and the child handler first, POSIX order), do:
 *   prepare  take the runtime locks whose data must be consistent in the
 *            child (sched, allm, allg, G free list, runtime allocator, TLS
 *            list, stack cache), in lock order;
 *   parent   release them;
 *   child    reset: the forking G runs on a fresh M (new g0 stack and TCB:
 *            the old M's NPTL stack is reclaimed by glibc in the child),
 *            owning P0 with the other Ps idle and every run queue, timer
 *            heap and wait queue emptied; other Gs are marked dead
 *            (detached: joining one reports EINVAL); the stack cache is
 *            dropped (those TCBs left glibc's thread list); the netpoller
 *            forgets the parent's epoll instance; sysmon starts again.
 * glibc's _Fork skips atfork handlers, so it is shimmed to call the same
 * child reset.
 */
#include "core/proc.h"
#include "core/heap.h"
#include "core/gc.h"
#include "core/allocsite.h"
#include "core/netpoll.h"
#include "core/sema.h"
#include "core/stack.h"
#include "core/sys.h"
#include "core/tls.h"
#include "arch/x86_64/arch.h"

#include <errno.h>
#include <string.h>
#include <sys/types.h>

GR_HIDDEN void gr_proc_fork_prepare(void);
GR_HIDDEN void gr_proc_fork_parent(void);
GR_HIDDEN void gr_proc_fork_child(void);
GR_HIDDEN void gr_sema_fork_child(void);
GR_HIDDEN void gr_netpoll_fork_child(void);
GR_HIDDEN void gr_identity_fork_child(void);

/* Forks are serialized: glibc (2.36) drops its atfork lock while each
 * handler runs, so the handlers of concurrent forks interleave. */
static struct gr_lock fork_lock;
static bool forking;		/* the runtime's locks are held; fork_lock */

void gr_fork_prepare(void)
{
	gr_lock(&fork_lock);
	/* Before the heap's: newm holds it while pthread_create allocates. */
	gr_lock(&gr_newm_lock);
	gr_heap_fork_prepare();	/* heap (issue 6): its locks; the heap takes no runtime lock */
	gr_allocsite_fork_prepare();	/* allocation sites (issue 7): leaf locks */
	if (!atomic_load(&gr_sched.started))
		return;
	forking = true;
	gr_tls_fork_prepare();
	gr_proc_fork_prepare();
}

void gr_fork_parent(void)
{
	if (forking) {
		forking = false;
		gr_proc_fork_parent();
		gr_tls_fork_parent();
	}
	gr_allocsite_fork_parent();
	gr_heap_fork_parent();	/* heap (issue 6) */
	gr_unlock(&gr_newm_lock);
	gr_unlock(&fork_lock);
}

void gr_fork_child(void)
{
	gr_heap_fork_child();	/* heap (issue 6): first, before anything allocates */
	memset(&gr_newm_lock, 0, sizeof gr_newm_lock);
	gr_allocsite_fork_child();
	gr_gc_fork_child();	/* collector (issue 7): its lock may have been held */
	memset(&fork_lock, 0, sizeof fork_lock);
	if (!forking)
		return;
	forking = false;
	gr_tls_fork_child();
	gr_identity_fork_child();
	gr_sema_fork_child();
	gr_netpoll_fork_child();
	gr_proc_fork_child();
	atomic_store(&gr_sysmon_deferred, true);	/* started when the child blocks */
}

/* vfork children running now (arch vfork): their tids. A child adds
 * itself; its parent, resumed when the child execs or exits, removes it. */
#define MAXVFORK 64
static _Atomic int vfork_tids[MAXVFORK];
static _Atomic int nvfork;

GR_HIDDEN pid_t gr_vfork_child(void);
pid_t gr_vfork_child(void)
{
	int tid = gr_gettid();
	for (int i = 0; i < MAXVFORK; i++) {
		int z = 0;
		if (atomic_compare_exchange_strong(&vfork_tids[i], &z, tid)) {
			atomic_fetch_add(&nvfork, 1);
			break;
		}
	}
	return 0;
}

GR_HIDDEN pid_t gr_vfork_parent(pid_t child);
pid_t gr_vfork_parent(pid_t child)
{
	for (int i = 0; i < MAXVFORK; i++) {
		int t = child;
		if (atomic_compare_exchange_strong(&vfork_tids[i], &t, 0)) {
			atomic_fetch_sub(&nvfork, 1);
			break;
		}
	}
	return child;
}

GR_HIDDEN pid_t gr_vfork_error(long r);
pid_t gr_vfork_error(long r)
{
	errno = (int)-r;
	return -1;
}

/* A shim running in a vfork child shares the parent's memory: it must not
 * change runtime state (the parent's G, descriptors, netpoller, the
 * program's recorded signal handlers). Children made by the vfork shim
 * are listed; a raw clone(CLONE_VM|CLONE_VFORK) child running on a G's
 * TCB is recognized by its tid. */
bool gr_in_vfork_child(void)
{
	struct gr_g *g = gr_curg;
	bool on_g = g && g->m && !g->pinned;
	bool listed = atomic_load_explicit(&nvfork, memory_order_acquire) != 0;
	if (!on_g && !listed)
		return false;
	int tid = gr_gettid();
	for (int i = 0; listed && i < MAXVFORK; i++)
		if (atomic_load(&vfork_tids[i]) == tid)
			return true;
	return on_g && tid != g->m->tid;
}
