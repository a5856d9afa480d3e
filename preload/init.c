/* init: the entry of libgrun.so.
 *
 * Bring-up order (gr_ensure_init, run by the constructor or by the first
 * shim that needs it, whichever comes first — other libraries'
 * constructors may call pthread functions before ours runs):
 *   1. resolve the real libc functions into gr_real (dlsym RTLD_NEXT);
 *   2. parse GRUN_* (a bad value: one line on stderr, exit status 2);
 *   3. GRUN_INHERIT=0: drop libgrun from LD_PRELOAD for child processes;
 *   4. arch (FSGSBASE), glibc TCB layout (unknown libc: one line, native
 *      threads from then on), scheduler data (Ps, default stack);
 *   5. keys (exit destructors).
 * The scheduler itself (M0, G1, sysmon) starts lazily at the first
 * pthread_create, so short-lived single-threaded processes pay nearly
 * nothing (proc.c, gr_sched_start).
 */
#include "shims/shim.h"
#include "core/config.h"
#include "core/dump.h"
#include "core/heap.h"
#include "core/gc.h"
#include "core/allocsite.h"
#include "core/realc.h"
#include "core/sys.h"
#include "core/tls.h"
#include "arch/x86_64/arch.h"

#include <dlfcn.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool gr_native;
bool gr_inited;
static struct gr_lock init_lock;


GR_HIDDEN void gr_keys_init(void);
GR_HIDDEN void gr_mutex_init(void);
GR_HIDDEN void gr_sysmon_report(void);

GR_EXPORT const char *grun_version(void)
{
	return GR_VERSION;
}

void *gr_dlnext(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p) {
		gr_printf("libgrun: cannot resolve the real %s\n", name);
		gr_throw("init: a libc function is missing");
	}
	return p;
}

static void resolve(void)
{
	gr_real.pthread_create = gr_dlnext("pthread_create");
	gr_real.pthread_getattr_np = gr_dlnext("pthread_getattr_np");
	gr_real.pthread_sigmask = gr_dlnext("pthread_sigmask");
	gr_real.sigaction = gr_dlnext("sigaction");
	gr_real.sigaltstack = gr_dlnext("sigaltstack");
	gr_real.close = gr_dlnext("close");
	gr_real.pthread_unwind_next = dlsym(RTLD_DEFAULT, "__pthread_unwind_next");
	gr_real.pthread_testcancel = dlsym(RTLD_DEFAULT, "pthread_testcancel");
	gr_real.dl_iterate_phdr = gr_dlnext("dl_iterate_phdr");
	gr_real.call_tls_dtors = dlsym(RTLD_DEFAULT, "__call_tls_dtors");
	gr_real.ctype_init = dlsym(RTLD_DEFAULT, "__ctype_init");
}

static const char *env(const char *name)
{
	return getenv(name);
}

static int read_small(const char *path, char *out, size_t n)
{
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	ssize_t k = gr_sys(SYS_read, f, out, n - 1);
	gr_sys(SYS_close, f, 0, 0);
	if (k <= 0)
		return -1;
	out[k] = 0;
	return 0;
}

/* CPUs allowed by one cgroup directory's quota, or INT_MAX for none. */
static int quota_cpus(const char *dir, bool v2)
{
	char path[600], a[128], b[128];
	long quota = -1, period = 0;
	if (v2) {
		gr_fmt(path, sizeof path, "%s/cpu.max", dir);
		if (read_small(path, a, sizeof a) == 0 && strncmp(a, "max", 3) != 0) {
			quota = atol(a);
			char *sp = strchr(a, ' ');
			period = sp ? atol(sp + 1) : 100000;
		}
	} else {
		gr_fmt(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
		if (read_small(path, a, sizeof a) == 0) {
			gr_fmt(path, sizeof path, "%s/cpu.cfs_period_us", dir);
			if (read_small(path, b, sizeof b) == 0) {
				quota = atol(a);
				period = atol(b);
			}
		}
	}
	if (quota <= 0 || period <= 0)
		return INT_MAX;
	return (int)((quota + period - 1) / period);
}

/* The tightest CPU quota on the path from our cgroup up to the root of
 * each hierarchy that has the cpu controller (v1 "cpu", or v2). */
static int cgroup_cpus(void)
{
	static const struct { const char *mount; bool v2; } roots[] = {
		{ "/sys/fs/cgroup", true }, { "/sys/fs/cgroup/unified", true },
		{ "/sys/fs/cgroup/cpu", false }, { "/sys/fs/cgroup/cpu,cpuacct", false },
	};
	char buf[4096];
	int best = INT_MAX;
	if (read_small("/proc/self/cgroup", buf, sizeof buf) < 0)
		return best;
	for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		bool v2 = c1[1] == 0;
		if (!v2 && !strstr(c1 + 1, "cpu"))
			continue;
		for (size_t r = 0; r < sizeof roots / sizeof roots[0]; r++) {
			if (roots[r].v2 != v2)
				continue;
			char rel[512];
			gr_fmt(rel, sizeof rel, "%s", c2 + 1);
			for (;;) {	/* this cgroup, then each parent */
				char dir[600];
				gr_fmt(dir, sizeof dir, "%s%s", roots[r].mount, strcmp(rel, "/") ? rel : "");
				int q = quota_cpus(dir, v2);
				if (q < best)
					best = q;
				char *slash = strrchr(rel, '/');
				if (!slash || strcmp(rel, "/") == 0)
					break;
				if (slash == rel)
					rel[1] = 0;
				else
					*slash = 0;
			}
		}
	}
	return best;
}

/* CPUs this process may really use: affinity, capped by the CPU quota of
 * its cgroup and its parents (v1 cpu.cfs_quota_us / cpu.cfs_period_us,
 * v2 cpu.max), rounded up. */
static int usable_cpus(void)
{
	cpu_set_t set;
	int n = 0;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	int q = cgroup_cpus();
	if (q < n)
		n = q;
	return n < 1 ? 1 : n;
}

static void strip_preload(void)
{
	extern char **environ;
	for (char **e = environ; e && *e; e++) {
		if (strncmp(*e, "LD_PRELOAD=", 11) != 0)
			continue;
		/* Blank out every entry naming libgrun, in place. */
		char *v = *e + 11;
		for (char *w = v; *w;) {
			size_t len = strcspn(w, ": ");
			if (len && memmem(w, len, "libgrun", 7))
				memset(w, ' ', len);
			w += len;
			w += strspn(w, ": ");
		}
	}
}

void gr_ensure_init(void)
{
	if (__atomic_load_n(&gr_inited, __ATOMIC_ACQUIRE))
		return;
	gr_lock(&init_lock);
	if (gr_inited) {
		gr_unlock(&init_lock);
		return;
	}
	resolve();
	char err[GR_CONFIG_ERRLEN], warn[1024];
	if (gr_config_parse(&gr_cfg, env, err, sizeof err, warn, sizeof warn) < 0) {
		gr_printf("%s\n", err);
		_exit(2);
	}
	if (warn[0])
		gr_write_all(2, warn, strlen(warn));
	if (!gr_cfg.inherit)
		strip_preload();
	gr_arch_init();
	char why[256];
	if (gr_cfg.native) {
		/* The same fallback an unknown glibc takes; also a kill switch. */
		gr_printf("libgrun: GRUN_DEBUG=native=1; running on native threads\n");
		gr_native = true;
	} else if (gr_tls_init(why, sizeof why) < 0) {
		gr_printf("libgrun: %s; running on native threads\n", why);
		gr_native = true;
	}
	if (!gr_native) {
		gr_sched_init(gr_cfg.maxprocs ? gr_cfg.maxprocs : usable_cpus());
		gr_keys_init();
		gr_mutex_init();
		gr_throw_dump_hook = gr_dump_throw_hook;
		/* First registered: our prepare runs last, our child handler first. */
		pthread_atfork(gr_fork_prepare, gr_fork_parent, gr_fork_child);
		if (gr_cfg.blockprofile)
			atexit(gr_sysmon_report);
		if (gr_cfg.memstats)	/* heap (issue 6) */
			atexit(gr_heap_report);
		gr_gc_init();	/* GRUN_GC (issue 7): off unless set */
		if (gr_gc_enabled())
			atexit(gr_gc_atexit);
	}
	__atomic_store_n(&gr_inited, true, __ATOMIC_RELEASE);
	gr_unlock(&init_lock);
}

__attribute__((constructor(101))) static void grun_init(void)
{
	gr_ensure_init();
	/* Allocation sites for the collector's reports (core/allocsite.h):
	 * outside gr_ensure_init, whose lock libunwind's set-up would take
	 * again through the mutex shim. */
	if (!gr_native && gr_gc_enabled())
		gr_allocsite_init(gr_cfg.allocsample);
}
