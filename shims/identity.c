/* identity: thread ids, pinning, and process credentials.
 *
 * gettid() in a G returns its virtual tid: the G1 (main) keeps the process
 * id, as natively; every other G gets a distinct number above
 * PID_MAX_LIMIT, which no kernel thread can have. The same number is
 * glibc's tid field of the G's TCB (mutex owners), and tgkill/tkill aimed
 * at it reach the G (see signal.c). A pinned G returns its real tid.
 *
 * Pinning (Go's LockOSThread, for good): calls that change the kernel
 * thread itself pin the calling G to its M first, so the change stays with
 * the G: prctl(PR_SET_NAME, PR_SET_PDEATHSIG, PR_SET_SECCOMP,
 * PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_KEEPCAPS), setns, unshare,
 * capset, and seccomp(2) without SECCOMP_FILTER_FLAG_TSYNC.
 *
 * Credentials (set*id) belong to each kernel thread in Linux; glibc makes
 * setuid and friends process-wide by signalling the threads on its list,
 * which Gs are not on. libgrun makes the system call here, then on every
 * other M and sysmon through the runtime signal, and an M started later
 * applies the last credentials before it runs any G. A security property.
 */
#include "shims/shim.h"
#include "core/sig.h"
#include "core/config.h"
#include "core/lock.h"
#include "core/sys.h"
#include "core/sema.h"

#include <grp.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

GR_EXPORT pid_t gettid(void)
{
	struct gr_g *g = gr_native ? NULL : gr_getg();
	if (!g || g->pinned)
		return gr_gettid();
	return g->vtid;
}

/* --- set*id --- */

static struct gr_lock xid_lock;
static _Atomic int xid_gen;
static struct { uid_t ruid, euid, suid; gid_t rgid, egid, sgid; int ngroups; gid_t groups[256]; } creds;

/* A new M or sysmon joins allm. Under xid_lock, so that a set*id
 * broadcast either signals it or has finished and recorded the
 * credentials, which it then applies here before running anything. */
GR_HIDDEN void gr_identity_register(struct gr_m *m)
{
	gr_lock(&xid_lock);
	gr_lock(&gr_allm_lock);
	m->allnext = gr_allm;
	gr_allm = m;
	gr_unlock(&gr_allm_lock);
	if (atomic_load(&xid_gen)) {
		if (creds.ngroups >= 0)
			gr_sys(SYS_setgroups, creds.ngroups, creds.groups, 0);
		gr_sys(SYS_setresgid, creds.rgid, creds.egid, creds.sgid);
		gr_sys(SYS_setresuid, creds.ruid, creds.euid, creds.suid);
	}
	gr_unlock(&xid_lock);
	atomic_store(&m->registered, 1);
	gr_futex_wake(&m->registered, 1);
}

/* The creator of an M waits until it is registered: from then on every
 * kernel thread of the process has the process's credentials. */
GR_HIDDEN void gr_identity_wait_registered(struct gr_m *m)
{
	while (!atomic_load(&m->registered))
		gr_futex_wait(&m->registered, 0, NULL);
}

/* Called in the runtime signal handler of an M with a request pending. */
GR_HIDDEN void gr_identity_on_signal(struct gr_m *m)
{
	if (!atomic_load(&m->xid_pending))
		return;
	m->xid_result = gr_sys(m->xid_nr, m->xid_args[0], m->xid_args[1], m->xid_args[2]);
	atomic_store(&m->xid_pending, 0);
	gr_futex_wake(&m->xid_pending, 1);
}

static int xid_all(long nr, long a, long b, long c)
{
	if (gr_native || !atomic_load(&gr_sched.started))
		return (int)gr_errno_ret(gr_sys(nr, a, b, c));
	gr_lock(&xid_lock);
	long r = gr_sys(nr, a, b, c);
	if (r < 0) {
		gr_unlock(&xid_lock);
		return (int)gr_errno_ret(r);
	}
	struct gr_g *g = gr_getg();
	struct gr_m *self = g ? g->m : gr_curm;

	gr_lock(&gr_allm_lock);
	for (struct gr_m *m = gr_allm; m; m = m->allnext) {
		if (m == self || !m->tid)
			continue;
		m->xid_nr = nr;
		m->xid_args[0] = a;
		m->xid_args[1] = b;
		m->xid_args[2] = c;
		atomic_store(&m->xid_pending, 1);
		if (gr_sig_send_tagged(m->tid, GR_RTSIG) < 0)
			atomic_store(&m->xid_pending, 0);	/* that thread has ended */
	}
	for (struct gr_m *m = gr_allm; m; m = m->allnext) {
		while (atomic_load(&m->xid_pending))
			gr_futex_wait(&m->xid_pending, 1, NULL);
		if (m != self && m->tid && m->xid_result < 0)
			gr_throw("setxid: a thread failed to change credentials the caller changed");
	}
	gr_unlock(&gr_allm_lock);
	gr_sys(SYS_getresuid, &creds.ruid, &creds.euid, &creds.suid);
	gr_sys(SYS_getresgid, &creds.rgid, &creds.egid, &creds.sgid);
	long ng = gr_sys(SYS_getgroups, 256, creds.groups, 0);
	creds.ngroups = ng < 0 ? -1 : (int)ng;
	atomic_fetch_add(&xid_gen, 1);
	gr_unlock(&xid_lock);
	return 0;
}

#define ID(x) ((long)(x))
GR_EXPORT int setuid(uid_t u)
{
	/* setuid sets all three ids as root, only the effective one otherwise;
	 * the kernel's setuid does the same, per thread. */
	return xid_all(SYS_setuid, ID(u), 0, 0);
}
GR_EXPORT int setgid(gid_t g) { return xid_all(SYS_setgid, ID(g), 0, 0); }
GR_EXPORT int seteuid(uid_t u)
{
	if (u == (uid_t)-1) {
		errno = EINVAL;
		return -1;
	}
	return xid_all(SYS_setresuid, -1, ID(u), -1);
}
GR_EXPORT int setegid(gid_t g)
{
	if (g == (gid_t)-1) {
		errno = EINVAL;
		return -1;
	}
	return xid_all(SYS_setresgid, -1, ID(g), -1);
}
GR_EXPORT int setreuid(uid_t r, uid_t e) { return xid_all(SYS_setreuid, (int)r, (int)e, 0); }
GR_EXPORT int setregid(gid_t r, gid_t e) { return xid_all(SYS_setregid, (int)r, (int)e, 0); }
GR_EXPORT int setresuid(uid_t r, uid_t e, uid_t s) { return xid_all(SYS_setresuid, (int)r, (int)e, (int)s); }
GR_EXPORT int setresgid(gid_t r, gid_t e, gid_t s) { return xid_all(SYS_setresgid, (int)r, (int)e, (int)s); }
GR_EXPORT int setgroups(size_t n, const gid_t *list) { return xid_all(SYS_setgroups, (long)n, (long)list, 0); }

/* --- pinning --- */

static void pin(void)
{
	if (!gr_native && gr_getg())
		gr_pin();
}

GR_EXPORT int prctl(int op, ...)
{
	va_list ap;
	va_start(ap, op);
	unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long);
	unsigned long a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
	va_end(ap);
	switch (op) {
	case PR_SET_NAME: case PR_SET_PDEATHSIG: case PR_SET_SECCOMP: case PR_SET_NO_NEW_PRIVS:
	case PR_CAPBSET_DROP: case PR_SET_KEEPCAPS:
		pin();
		break;
	}
	return (int)gr_errno_ret(gr_sys6(SYS_prctl, op, (long)a2, (long)a3, (long)a4, (long)a5, 0));
}

GR_EXPORT int setns(int fd, int type)
{
	pin();
	return (int)gr_errno_ret(gr_sys(SYS_setns, fd, type, 0));
}

GR_EXPORT int unshare(int flags)
{
	pin();
	return (int)gr_errno_ret(gr_sys(SYS_unshare, flags, 0, 0));
}

GR_EXPORT int capset(void *hdr, const void *data)
{
	pin();
	return (int)gr_errno_ret(gr_sys(SYS_capset, hdr, data, 0));
}

/* Private futex waits made through syscall() (libstdc++'s futures,
 * atomic::wait, latches and static-init guards; other runtimes) park the
 * G on the same wait queue; wakes reach green waiters and, with a real
 * FUTEX_WAKE, anyone waiting in the kernel on the word. */
static long futex_call(long addr, long op, long val, long tsp, long a5, long a6)
{
	int cmd = (int)(op & FUTEX_CMD_MASK);
	bool priv = op & FUTEX_PRIVATE_FLAG;
	uint32_t bitset = (uint32_t)a6;
	bool any_bit = (cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAKE_BITSET) || bitset == 0xffffffffu;
	if (!priv || gr_native || !any_bit)
		return gr_errno_ret(gr_sys6(SYS_futex, addr, op, val, tsp, a5, a6));
	const struct timespec *ts = (const struct timespec *)tsp;
	switch (cmd) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET: {
		int64_t deadline = -1;
		if (ts) {
			if (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
				return gr_errno_ret(-EINVAL);
			if (cmd == FUTEX_WAIT)	/* relative, CLOCK_MONOTONIC */
				deadline = gr_nanotime() + (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
			else
				deadline = gr_deadline_from_abs(op & FUTEX_CLOCK_REALTIME ? CLOCK_REALTIME
											   : CLOCK_MONOTONIC, ts);
		}
		int r = gr_sema_wait((_Atomic uint32_t *)addr, (uint32_t)val, deadline, WAIT_FUTEX);
		if (r == -GR_ERESTART)
			r = -EINTR;	/* FUTEX_WAIT is never restarted */
		return gr_errno_ret(r == -EAGAIN || r == -ETIMEDOUT || r == -EINTR ? r : 0);
	}
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET: {
		int n = gr_sema_wake((_Atomic uint32_t *)addr, (int)val);
		if (n < val) {
			long k = gr_futex_wake((void *)addr, (int)(val - n));
			if (k > 0)
				n += (int)k;
		}
		return n;
	}
	default:
		return gr_errno_ret(gr_sys6(SYS_futex, addr, op, val, tsp, a5, a6));
	}
}

/* syscall(2): the ids and pinning calls above keep their meaning when a
 * program makes them through syscall(); everything else passes through. */
GR_HIDDEN bool gr_signal_syscall(long nr, long a, long b, long c, long d, long *ret);

GR_EXPORT long syscall(long nr, ...)
{
	va_list ap;
	va_start(ap, nr);
	long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
	long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
	va_end(ap);
	long r;
	switch (nr) {
	case SYS_futex:
		return futex_call(a, b, c, d, e, f);
	case SYS_kill: case SYS_tgkill: case SYS_tkill: case SYS_pidfd_send_signal:
		if (gr_signal_syscall(nr, a, b, c, d, &r))
			return r;
		break;
	case SYS_gettid:
		return gettid();
	case SYS_setuid: case SYS_setgid: case SYS_setreuid: case SYS_setregid:
	case SYS_setresuid: case SYS_setresgid: case SYS_setgroups:
		return xid_all(nr, a, b, c);
	case SYS_setns: case SYS_unshare: case SYS_capset:
		pin();
		break;
	case SYS_seccomp:
		if (!(b & 1 /* SECCOMP_FILTER_FLAG_TSYNC */))
			pin();
		break;
	}
	return gr_errno_ret(gr_sys6(nr, a, b, c, d, e, f));
}

void gr_identity_fork_child(void)
{
	memset(&xid_lock, 0, sizeof xid_lock);
}
