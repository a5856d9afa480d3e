/* syscall_io: blocking system calls made on the program's behalf.
 *
 * Until the netpoller parks Gs on readiness, each call that may block is
 * bracketed by gr_syscall_enter/exit: the G keeps its P, and if the call
 * blocks for more than 20 us while other Gs wait, sysmon hands the P to
 * another M. The calls are made with raw system calls (so no libc wrapper
 * is entered twice) and errno is set the libc way.
 */
/* Define pread and pread64 as the two distinct symbols libc has. */
#undef _FILE_OFFSET_BITS
#include "shims/shim.h"
#include "core/sig.h"
#include "core/sys.h"

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static inline long blocking(long nr, long a, long b, long c, long d, long e, long f)
{
	struct gr_g *g = gr_getg();
	gr_testcancel();
	bool entered = gr_syscall_enter(g);
	long r = gr_sys6(nr, a, b, c, d, e, f);
	gr_syscall_exit(g, entered);
	return gr_errno_ret(r);
}
#define B3(nr, a, b, c) blocking(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define B4(nr, a, b, c, d) blocking(nr, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define B6(nr, a, b, c, d, e, f) blocking(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

GR_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off) { return B4(SYS_pread64, fd, buf, n, off); }
GR_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) { return B4(SYS_pwrite64, fd, buf, n, off); }
GR_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t off) { return B4(SYS_pread64, fd, buf, n, off); }
GR_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) { return B4(SYS_pwrite64, fd, buf, n, off); }
GR_HIDDEN int gr_poll1(struct pollfd *p, int ms);
GR_HIDDEN int gr_poll_many(struct pollfd *fds, nfds_t n, int ms);
GR_HIDDEN int gr_select_many(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv);

/* glibc declares poll's array write-only (fortify access attribute); the
 * array is of course read: silence GCC's resulting false warning. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
GR_EXPORT int poll(struct pollfd *fds, nfds_t n, int ms)
{
	/* One descriptor waiting for input or output parks on the netpoller;
	 * several descriptors still wait in the kernel (sysmon hands the P on). */
	if (n == 1 && ms != 0) {
		struct pollfd *p = &fds[0];
		if (p->fd >= 0 && (p->events & (POLLIN | POLLOUT)) != (POLLIN | POLLOUT))
			return gr_poll1(p, ms);
	}
	if (ms != 0) {
		gr_testcancel();
		int r = gr_poll_many(fds, n, ms);
		if (r != -ENOSYS)
			return (int)gr_errno_ret(r);
	}
	if (ms < 0)
		return (int)B6(SYS_ppoll, fds, n, 0, 0, 8, 0);
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	return (int)B6(SYS_ppoll, fds, n, &ts, 0, 8, 0);
}
#pragma GCC diagnostic pop
GR_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int ms, size_t fdslen)
{
	if (n > fdslen / sizeof *fds)
		return REAL(__poll_chk)(fds, n, ms, fdslen);
	return poll(fds, n, ms);
}
/* ppoll and pselect with a signal mask: the G waits (parked, as poll and
 * select do) with that mask as its own; a signal it lets through runs its
 * handler on the G and ends the wait with EINTR. */
static bool masked_wait(const sigset_t *mask, struct gr_g **gp, uint64_t *old)
{
	struct gr_g *g = gr_native ? NULL : gr_getg();
	if (!mask || !gr_can_park(g))
		return false;
	*gp = g;
	*old = gr_sig_mask_push(g, mask);
	return true;
}

GR_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	struct gr_g *g;
	uint64_t old;
	if (masked_wait(mask, &g, &old)) {
		int r = -1;
		if (ts && (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000 || ts->tv_sec < 0))
			errno = EINVAL;
		else if (gr_sig_check(g))
			errno = EINTR;
		else
			r = poll(fds, n, !ts ? -1 : ts->tv_sec > INT_MAX / 1000 - 1 ? INT_MAX
					: (int)(ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000));
		gr_sig_mask_pop(g, old);
		return r;
	}
	struct timespec copy, *tsp = NULL;
	if (ts) {	/* the kernel writes back the remaining time; POSIX's ppoll does not */
		copy = *ts;
		tsp = &copy;
	}
	return (int)B6(SYS_ppoll, fds, n, tsp, mask, 8, 0);
}
GR_EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	if (!tv || tv->tv_sec || tv->tv_usec) {
		gr_testcancel();
		int res = gr_select_many(n, r, w, e, tv);
		if (res != -ENOSYS)
			return (int)gr_errno_ret(res);
	}
	return (int)B6(SYS_select, n, r, w, e, tv, 0);
}
GR_EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts, const sigset_t *mask)
{
	struct gr_g *g;
	uint64_t old;
	if (masked_wait(mask, &g, &old)) {
		int res = -1;
		struct timeval tv, *tvp = NULL;
		if (ts) {
			tv.tv_sec = ts->tv_sec;
			tv.tv_usec = (ts->tv_nsec + 999) / 1000;
			if (tv.tv_usec >= 1000000) {
				tv.tv_sec++;
				tv.tv_usec -= 1000000;
			}
			tvp = &tv;
		}
		if (ts && (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000 || ts->tv_sec < 0))
			errno = EINVAL;
		else if (gr_sig_check(g))
			errno = EINTR;
		else
			res = select(n, r, w, e, tvp);
		gr_sig_mask_pop(g, old);
		return res;
	}
	struct timespec copy, *tsp = NULL;
	if (ts) {	/* pselect does not write back the remaining time */
		copy = *ts;
		tsp = &copy;
	}
	struct { const sigset_t *ss; size_t len; } data = { mask, 8 };
	return (int)B6(SYS_pselect6, n, r, w, e, tsp, &data);
}

GR_EXPORT pid_t wait4(pid_t pid, int *st, int opt, struct rusage *ru) { return (pid_t)B4(SYS_wait4, pid, st, opt, ru); }
GR_EXPORT pid_t waitpid(pid_t pid, int *st, int opt) { return (pid_t)B4(SYS_wait4, pid, st, opt, 0); }
GR_EXPORT pid_t wait(int *st) { return (pid_t)B4(SYS_wait4, -1, st, 0, 0); }
GR_EXPORT int fsync(int fd) { return (int)B3(SYS_fsync, fd, 0, 0); }
GR_EXPORT int fdatasync(int fd) { return (int)B3(SYS_fdatasync, fd, 0, 0); }
