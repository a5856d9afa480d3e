/* deadlock: sysmon's deadlock detector.
 *
 * Global: every live G is parked on a synchronization object (mutex, cond,
 * join, once, semaphore, rwlock, barrier), no P has work or an armed timer,
 * no G is in a system call or running, and no thread libgrun does not
 * schedule (a foreign thread, a pinned G) exists that could wake one. Seen
 * twice in a row, 100 ms apart, with no scheduling in between, that is Go's
 * "all goroutines are asleep": the program can never make progress. It
 * prints the fatal error and the dump and exits with status 2 — unless
 * something outside the runtime could still wake a G (the program has
 * signal handlers installed, an interval timer is armed), in which case it
 * reports once and keeps waiting, as does GRUN_DEBUG=deadlock=wait.
 *
 * Partial: a cycle in the wait-for graph of mutex waiters (G waits for a
 * mutex whose owner waits for a mutex ... back to the first G) while other
 * Gs may still run. Each cycle is reported once; the program keeps going.
 */
#include "core/deadlock.h"
#include "core/dump.h"
#include "core/config.h"
#include "core/proc.h"
#include "core/realc.h"
#include "core/sys.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>


int (*gr_wait_owner)(const struct gr_g *g);

GR_HIDDEN bool gr_signal_program_handles(int sig);

static bool is_sync_wait(int reason)
{
	switch (reason) {
	case WAIT_MUTEX: case WAIT_COND: case WAIT_JOIN: case WAIT_ONCE:
	case WAIT_SEMA: case WAIT_RWLOCK: case WAIT_BARRIER: case WAIT_FUTEX:
		return true;
	default:
		return false;
	}
}

/* Kernel tasks of this process that are not Ms or sysmon. */
static int foreign_threads(void)
{
	int n = 0, fd = (int)gr_open_runtime("/proc/self/task", O_DIRECTORY);
	if (fd < 0)
		return 1;	/* cannot tell: assume someone could wake us */
	char buf[4096];
	long len;
	while ((len = gr_sys(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
		for (long off = 0; off < len;) {
			struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *d =
				(void *)(buf + off);
			off += d->reclen;
			if (d->name[0] < '0' || d->name[0] > '9')
				continue;
			int tid = 0;
			for (const char *c = d->name; *c; c++)
				tid = tid * 10 + (*c - '0');
			bool ours = false;
			for (struct gr_m *m = gr_allm; m; m = m->allnext)
				if (m->tid == tid)
					ours = true;
			if (!ours)
				n++;
		}
	}
	gr_sys(SYS_close, fd, 0, 0);
	return n;
}

/* Could a signal or a timer outside the runtime still wake a G? */
static bool outside_wakeup_possible(void)
{
	struct itimerval it;
	if (getitimer(ITIMER_REAL, &it) == 0 && (it.it_value.tv_sec || it.it_value.tv_usec))
		return true;
	for (int sig = 1; sig < 65; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS)
			continue;	/* faults cannot wake a parked thread */
		if (gr_signal_program_handles(sig))
			return true;
	}
	return false;
}

static bool all_asleep(uint64_t *progress)
{
	if (atomic_load(&gr_sched.npidle) != gr_sched.nprocs || atomic_load(&gr_sched.runqsize) != 0)
		return false;
	uint64_t ticks = 0;
	for (int i = 0; i < gr_sched.nprocs; i++) {
		struct gr_p *p = &gr_sched.allp[i];
		if (!gr_runq_empty(&p->runq) || gr_timers_next(&p->timers) != INT64_MAX)
			return false;
		ticks += atomic_load(&p->tick);
	}
	int live = atomic_load(&gr_sched.ngalive), parked = 0;
	for (struct gr_g *g = __atomic_load_n(&gr_allg, __ATOMIC_ACQUIRE); g; g = g->allnext) {
		int st = atomic_load(&g->status);
		if (st == G_IDLE || st == G_DEAD)
			continue;
		if (g->pinned || st != G_WAITING || !is_sync_wait(g->waitreason))
			return false;
		parked++;
	}
	*progress = ticks;
	return parked == live && live > 0;
}

static int64_t first_seen;
static uint64_t first_progress;
static bool reported_global;

void gr_deadlock_check(int64_t now)
{
	if (!atomic_load(&gr_sched.started))
		return;
	uint64_t progress;
	if (!all_asleep(&progress)) {
		first_seen = 0;
		reported_global = false;
		goto partial;
	}
	if (!first_seen || progress != first_progress) {
		first_seen = now;
		first_progress = progress;
		return;
	}
	if (now - first_seen < 100000000 || reported_global || foreign_threads() > 0)
		return;
	bool maybe = outside_wakeup_possible();
	if (maybe && now - first_seen < 10000000000)	/* give alarms and signals 10 s */
		return;
	reported_global = true;
	if (gr_cfg.deadlock_wait || maybe) {
		gr_printf("libgrun: all threads are asleep waiting on each other; still waiting, because %s\n",
			  gr_cfg.deadlock_wait ? "GRUN_DEBUG=deadlock=wait"
					       : "a signal handler or timer could still wake one");
		gr_dump_all(2, NULL);
		return;
	}
	gr_printf("fatal error: all goroutines are asleep - deadlock!\n\n");
	gr_dump_all(2, NULL);
	gr_sys(SYS_exit_group, 2, 0, 0);
	return;

partial:;
	/* Cycles among mutex waiters: follow waiter -> owner from each G. */
	static uint64_t reported[64];
	static int nreported;
	if (!gr_wait_owner)
		return;
	for (struct gr_g *g = __atomic_load_n(&gr_allg, __ATOMIC_ACQUIRE); g; g = g->allnext) {
		if (atomic_load(&g->status) != G_WAITING || g->waitreason != WAIT_MUTEX)
			continue;
		if (now - g->waitsince < 1000000000)	/* waiting under a second: normal */
			continue;
		struct gr_g *chain[16];
		int n = 0;
		struct gr_g *x = g;
		while (x && n < 16 && atomic_load(&x->status) == G_WAITING && x->waitreason == WAIT_MUTEX) {
			chain[n++] = x;
			x = gr_g_by_vtid(gr_wait_owner(x));
			if (x == g)
				break;
		}
		if (x != g || n < 1)
			continue;
		uint64_t sum = 0, x2 = 0;	/* the same for every rotation of the cycle */
		for (int i = 0; i < n; i++) {
			sum += chain[i]->goid;
			x2 ^= chain[i]->goid * 0x9e3779b97f4a7c15ull;
		}
		uint64_t key = sum * 1000003 ^ x2;
		bool seen = false;
		for (int i = 0; i < nreported; i++)
			seen |= reported[i] == key;
		if (seen)
			continue;
		if (nreported < 64)
			reported[nreported++] = key;
		gr_printf("libgrun: deadlock: lock cycle of %d threads waiting for each other's mutexes "
			  "(the rest of the program keeps running):\n", n);
		for (int i = 0; i < n; i++) {
			struct gr_g *w = chain[i], *o = chain[(i + 1) % n];
			gr_printf("  goroutine %lu (tid %d) waits for mutex %p held by goroutine %lu (tid %d)\n",
				  (unsigned long)w->goid, w->vtid, w->waitaddr, (unsigned long)o->goid, o->vtid);
		}
		for (int i = 0; i < n; i++)
			gr_dump_g(2, chain[i]);
	}
}
