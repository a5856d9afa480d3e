/* io: blocking I/O on sockets, pipes and other pollable descriptors parks
 * the G on the netpoller instead of blocking its OS thread.
 *
 * The invariant (DESIGN section 7): the program never sees an EAGAIN it
 * did not ask for, here or in any process sharing the open file. So
 * libgrun never sets O_NONBLOCK on a file the program may share; each call
 * is made non-blocking by itself:
 *   sockets          recv/send with MSG_DONTWAIT (read/write become them)
 *   pipes, FIFOs     preadv2/pwritev2 with RWF_NOWAIT (offset -1)
 *   ttys, other
 *   char/anon fds    readiness first (poll with no wait), then the call
 *   regular files,
 *   block devices    the blocking-system-call path (sysmon hands the P on)
 * The kind is found with fstat once per descriptor and cached in its
 * gr_pd until close. On EAGAIN, the file's own O_NONBLOCK (F_GETFL) tells
 * whether the program asked for EAGAIN; if not, the G waits for readiness
 * (edge-triggered epoll, core/netpoll_epoll.c) and retries. A blocking
 * write is completed across partial writes, as the kernel does.
 * SO_RCVTIMEO/SO_SNDTIMEO become deadlines (EAGAIN on expiry, as the
 * kernel gives). close() wakes the Gs waiting on the descriptor with EBADF
 * before the number can be reused (natively a reader blocked in read() on
 * a closed fd is not woken: a deliberate divergence, see the README).
 */
#undef _FILE_OFFSET_BITS
#include "shims/shim.h"
#include "core/sig.h"
#include "core/netpoll.h"
#include "core/sys.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <poll.h>
#include <sys/select.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

enum kind { K_UNKNOWN, K_SOCK, K_NOWAIT, K_READY, K_BLOCK };

enum op { OP_READ, OP_READV, OP_RECVFROM, OP_RECVMSG, OP_WRITE, OP_WRITEV, OP_SENDTO, OP_SENDMSG };

struct call {
	enum op op;
	void *buf;
	size_t n;
	const struct iovec *iov;
	int iovcnt;
	int flags;
	struct sockaddr *addr;	/* recvfrom */
	socklen_t *alen;
	const struct sockaddr *daddr;	/* sendto */
	socklen_t dlen;
	struct msghdr *msg;
};

static inline bool is_write(enum op op) { return op >= OP_WRITE; }

static int probe(int fd, struct gr_pd *pd)
{
	struct stat st;
	int k;
	if (gr_sys(SYS_fstat, fd, &st, 0) < 0)
		return K_BLOCK;		/* the call itself reports EBADF */
	switch (st.st_mode & S_IFMT) {
	case S_IFSOCK: {
		socklen_t len = sizeof pd->socktype;
		pd->socktype = 0;
		gr_sys6(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, (long)&pd->socktype, (long)&len, 0);
		k = K_SOCK;
		break;
	}
	case S_IFIFO: k = K_NOWAIT; break;
	case S_IFREG: case S_IFDIR: case S_IFBLK: k = K_BLOCK; break;
	default: k = K_READY; break;	/* ttys, eventfd, timerfd, signalfd, ... */
	}
	atomic_store(&pd->kind, k);
	return k;
}

/* The call as the program made it: blocking, bracketed for sysmon. */
static long blocking_call(int fd, const struct call *c)
{
	struct gr_g *g = gr_getg();
	bool e = gr_syscall_enter(g);
	long r;
	switch (c->op) {
	case OP_READ: r = gr_sys(SYS_read, fd, c->buf, c->n); break;
	case OP_READV: r = gr_sys(SYS_readv, fd, c->iov, c->iovcnt); break;
	case OP_RECVFROM: r = gr_sys6(SYS_recvfrom, fd, (long)c->buf, (long)c->n, c->flags, (long)c->addr, (long)c->alen); break;
	case OP_RECVMSG: r = gr_sys(SYS_recvmsg, fd, c->msg, c->flags); break;
	case OP_WRITE: r = gr_sys(SYS_write, fd, c->buf, c->n); break;
	case OP_WRITEV: r = gr_sys(SYS_writev, fd, c->iov, c->iovcnt); break;
	case OP_SENDTO: r = gr_sys6(SYS_sendto, fd, (long)c->buf, (long)c->n, c->flags, (long)c->daddr, c->dlen); break;
	default: r = gr_sys(SYS_sendmsg, fd, c->msg, c->flags); break;
	}
	gr_syscall_exit(g, e);
	return r;
}

/* One non-blocking attempt for sockets and pipes. */
static long attempt(int fd, int kind, const struct call *c)
{
	if (kind == K_SOCK) {
		int f = c->flags | MSG_DONTWAIT;
		struct msghdr m;
		switch (c->op) {
		case OP_READ: return gr_sys6(SYS_recvfrom, fd, (long)c->buf, (long)c->n, MSG_DONTWAIT, 0, 0);
		case OP_RECVFROM: return gr_sys6(SYS_recvfrom, fd, (long)c->buf, (long)c->n, f, (long)c->addr, (long)c->alen);
		case OP_RECVMSG: return gr_sys(SYS_recvmsg, fd, c->msg, f);
		case OP_WRITE: return gr_sys6(SYS_sendto, fd, (long)c->buf, (long)c->n, MSG_DONTWAIT, 0, 0);
		case OP_SENDTO: return gr_sys6(SYS_sendto, fd, (long)c->buf, (long)c->n, f, (long)c->daddr, c->dlen);
		case OP_SENDMSG: return gr_sys(SYS_sendmsg, fd, c->msg, f);
		case OP_READV:
		case OP_WRITEV:
			memset(&m, 0, sizeof m);
			m.msg_iov = (struct iovec *)c->iov;
			m.msg_iovlen = (size_t)c->iovcnt;
			return gr_sys(c->op == OP_READV ? SYS_recvmsg : SYS_sendmsg, fd, &m, MSG_DONTWAIT);
		}
	}
	/* K_NOWAIT: pipes and FIFOs */
	struct iovec one = { c->buf, c->n };
	switch (c->op) {
	case OP_READ: return gr_sys6(SYS_preadv2, fd, (long)&one, 1, -1, -1, RWF_NOWAIT);
	case OP_READV: return gr_sys6(SYS_preadv2, fd, (long)c->iov, c->iovcnt, -1, -1, RWF_NOWAIT);
	case OP_WRITE: return gr_sys6(SYS_pwritev2, fd, (long)&one, 1, -1, -1, RWF_NOWAIT);
	case OP_WRITEV: return gr_sys6(SYS_pwritev2, fd, (long)c->iov, c->iovcnt, -1, -1, RWF_NOWAIT);
	default: return blocking_call(fd, c);	/* recv/send on a pipe: ENOTSOCK */
	}
}

static bool program_nonblocking(int fd)
{
	long fl = gr_sys(SYS_fcntl, fd, F_GETFL, 0);
	return fl >= 0 && (fl & O_NONBLOCK);
}

static void load_timeouts(int fd, struct gr_pd *pd)
{
	struct timeval tv;
	socklen_t len = sizeof tv;
	pd->rcvtimeo = pd->sndtimeo = 0;
	if (gr_sys6(SYS_getsockopt, fd, SOL_SOCKET, SO_RCVTIMEO, (long)&tv, (long)&len, 0) == 0)
		pd->rcvtimeo = (int64_t)tv.tv_sec * 1000000000 + tv.tv_usec * 1000;
	len = sizeof tv;
	if (gr_sys6(SYS_getsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, (long)&tv, (long)&len, 0) == 0)
		pd->sndtimeo = (int64_t)tv.tv_sec * 1000000000 + tv.tv_usec * 1000;
	pd->timeo_known = true;
}

/* Wait until fd is ready for the call; false: fall back to blocking. */
static int await(int fd, struct gr_pd *pd, bool write, uint32_t seq, uint32_t gen, int64_t deadline)
{
	if (!atomic_load(&pd->registered)) {
		int r = gr_netpoll_open(fd, pd);
		if (r == -EPERM) {
			atomic_store(&pd->kind, K_BLOCK);
			return 1;	/* not pollable: the caller blocks */
		}
		if (r < 0 && r != -EEXIST)
			return 1;
	}
	int w = gr_pd_wait(pd, write ? &pd->wseq : &pd->rseq, seq, gen, deadline);
	if (w == -ECANCELED) {
		gr_testcancel();
		return 0;
	}
	return w;
}

static long do_io(int fd, struct call *c)
{
	struct gr_g *g = gr_getg();
	struct gr_pd *pd;
	gr_testcancel();
	if (unlikely(!gr_can_park(g)) || !(pd = gr_pd_get(fd)))
		return blocking_call(fd, c);
	int kind = atomic_load_explicit(&pd->kind, memory_order_relaxed);
	if (unlikely(kind == K_UNKNOWN))
		kind = probe(fd, pd);
	if (kind == K_BLOCK)
		return blocking_call(fd, c);
	bool write = is_write(c->op);
	uint32_t gen = atomic_load(&pd->gen);
	int64_t deadline = -1;
	if (kind == K_SOCK) {
		if (!pd->timeo_known)
			load_timeouts(fd, pd);
		int64_t t = write ? pd->sndtimeo : pd->rcvtimeo;
		if (t > 0)
			deadline = gr_nanotime() + t;
	}
	size_t done = 0;
	for (;;) {
		_Atomic uint32_t *seqw = write ? &pd->wseq : &pd->rseq;
		uint32_t seq = atomic_load(seqw);
		long r;
		if (kind == K_READY) {
			struct pollfd p = { fd, write ? POLLOUT : POLLIN, 0 };
			struct timespec zero = { 0, 0 };
			r = gr_sys6(SYS_ppoll, (long)&p, 1, (long)&zero, 0, 8, 0);
			if (r != 0)	/* ready (or an error): make the call as asked */
				return blocking_call(fd, c);
			r = -EAGAIN;
		} else {
			r = attempt(fd, kind, c);
		}
		if (r == -ENOTSOCK && kind == K_SOCK) {	/* the fd was reused */
			kind = probe(fd, pd);
			if (kind == K_BLOCK)
				return blocking_call(fd, c);
			continue;
		}
		if (r == -EOPNOTSUPP && kind == K_NOWAIT) {	/* no RWF_NOWAIT here */
			atomic_store(&pd->kind, kind = K_READY);
			continue;
		}
		if (r > 0 && c->op == OP_RECVFROM && (c->flags & MSG_WAITALL) && (size_t)r < c->n &&
		    pd->socktype == SOCK_STREAM) {
			/* MSG_WAITALL: the kernel would wait for the rest. */
			done += (size_t)r;
			c->buf = (char *)c->buf + r;
			c->n -= (size_t)r;
			continue;
		}
		if (r != -EAGAIN) {
			/* A blocking write completes (stream sockets, pipes). */
			if (write && r > 0 && (c->op == OP_WRITE || c->op == OP_SENDTO) &&
			    (size_t)r < c->n && !(c->flags & MSG_DONTWAIT) && !program_nonblocking(fd)) {
				done += (size_t)r;
				c->buf = (char *)c->buf + r;
				c->n -= (size_t)r;
				continue;
			}
			if (r >= 0)
				return r + (long)done;
			return done ? (long)done : r;
		}
		if ((c->flags & MSG_DONTWAIT) || program_nonblocking(fd))
			return done ? (long)done : -EAGAIN;	/* the program asked for it */
		int w = await(fd, pd, write, seq, gen, deadline);
		if (w == 1) {
			long b = blocking_call(fd, c);
			return b >= 0 ? b + (long)done : (done ? (long)done : b);
		}
		if (w == -ETIMEDOUT)
			return done ? (long)done : -EAGAIN;
		if (w == -EBADF)
			return done ? (long)done : -EBADF;
		if (w == -EINTR || w == -GR_ERESTART) {
			/* A handler ran: SA_RESTART restarts the call unless a
			 * socket timeout is set (signal(7)); data already moved
			 * is returned as a short count. */
			if (done)
				return (long)done;
			if (w == -EINTR || deadline >= 0)
				return -EINTR;
		}
	}
}

#define IO(fd, ...) ({ struct call c_ = { __VA_ARGS__ }; gr_errno_ret(do_io(fd, &c_)); })

GR_EXPORT ssize_t read(int fd, void *buf, size_t n) { return IO(fd, .op = OP_READ, .buf = buf, .n = n); }
GR_EXPORT ssize_t write(int fd, const void *buf, size_t n) { return IO(fd, .op = OP_WRITE, .buf = (void *)buf, .n = n); }
GR_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt) { return IO(fd, .op = OP_READV, .iov = iov, .iovcnt = cnt); }
GR_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt) { return IO(fd, .op = OP_WRITEV, .iov = iov, .iovcnt = cnt); }
GR_EXPORT ssize_t recv(int fd, void *buf, size_t n, int fl) { return IO(fd, .op = OP_RECVFROM, .buf = buf, .n = n, .flags = fl); }
GR_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int fl, struct sockaddr *a, socklen_t *al)
{
	return IO(fd, .op = OP_RECVFROM, .buf = buf, .n = n, .flags = fl, .addr = a, .alen = al);
}
GR_EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int fl) { return IO(fd, .op = OP_RECVMSG, .msg = m, .flags = fl); }
GR_EXPORT ssize_t send(int fd, const void *buf, size_t n, int fl) { return IO(fd, .op = OP_SENDTO, .buf = (void *)buf, .n = n, .flags = fl); }
GR_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int fl, const struct sockaddr *a, socklen_t al)
{
	return IO(fd, .op = OP_SENDTO, .buf = (void *)buf, .n = n, .flags = fl, .daddr = a, .dlen = al);
}
GR_EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int fl) { return IO(fd, .op = OP_SENDMSG, .msg = (struct msghdr *)m, .flags = fl); }

GR_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)	/* glibc reports the overflow and aborts */
		return REAL(__read_chk)(fd, buf, n, buflen);
	return read(fd, buf, n);
}
GR_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int fl)
{
	if (n > buflen)
		return REAL(__recv_chk)(fd, buf, n, buflen, fl);
	return recv(fd, buf, n, fl);
}
GR_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int fl,
				 struct sockaddr *a, socklen_t *al)
{
	if (n > buflen)
		return REAL(__recvfrom_chk)(fd, buf, n, buflen, fl, a, al);
	return recvfrom(fd, buf, n, fl, a, al);
}

/* Wait until fd is readable (accept) or writable (connect). */
static int wait_ready(int fd, bool write, int64_t deadline)
{
	struct gr_pd *pd = gr_pd_get(fd);
	if (!pd)
		return -EBADF;
	uint32_t gen = atomic_load(&pd->gen);
	for (;;) {
		_Atomic uint32_t *seqw = write ? &pd->wseq : &pd->rseq;
		uint32_t seq = atomic_load(seqw);
		struct pollfd p = { fd, write ? POLLOUT : POLLIN, 0 };
		struct timespec zero = { 0, 0 };
		long r = gr_sys6(SYS_ppoll, (long)&p, 1, (long)&zero, 0, 8, 0);
		if (r != 0)
			return 0;
		int w = await(fd, pd, write, seq, gen, deadline);
		if (w == 1)
			return 1;	/* not pollable */
		if (w < 0)
			return w;
	}
}

static int do_accept(int fd, struct sockaddr *a, socklen_t *al, int fl)
{
	struct gr_g *g = gr_getg();
	gr_testcancel();
	if (gr_can_park(g) && !program_nonblocking(fd)) {
		struct gr_pd *pd = gr_pd_get(fd);
		if (pd && !pd->timeo_known)
			load_timeouts(fd, pd);
		int64_t deadline = pd && pd->rcvtimeo ? gr_nanotime() + pd->rcvtimeo : -1;
		int w;
		do
			w = wait_ready(fd, false, deadline);
		while (w == -GR_ERESTART && deadline < 0);
		if (w == -ETIMEDOUT)
			return (int)gr_errno_ret(-EAGAIN);
		if (w == -EBADF)
			return (int)gr_errno_ret(-EBADF);
		if (w == -EINTR || w == -GR_ERESTART)
			return (int)gr_errno_ret(-EINTR);
	}
	/* Ready (another G may still take the connection first: then this
	 * call blocks its OS thread, and sysmon hands the P on). */
	bool e = gr_syscall_enter(g);
	long r = gr_sys6(SYS_accept4, fd, (long)a, (long)al, fl, 0, 0);
	gr_syscall_exit(g, e);
	return (int)gr_errno_ret(r);
}

GR_EXPORT int accept(int fd, struct sockaddr *a, socklen_t *al) { return do_accept(fd, a, al, 0); }
GR_EXPORT int accept4(int fd, struct sockaddr *a, socklen_t *al, int fl) { return do_accept(fd, a, al, fl); }

/* A blocking connect completes in the background: the socket is made
 * non-blocking only for the connect call itself (a socket being connected
 * is not yet shared with anyone), then the G waits for writability and
 * reports SO_ERROR, as the kernel would have. */
GR_EXPORT int connect(int fd, const struct sockaddr *a, socklen_t al)
{
	struct gr_g *g = gr_getg();
	gr_testcancel();
	long fl = gr_sys(SYS_fcntl, fd, F_GETFL, 0);
	if (!gr_can_park(g) || fl < 0 || (fl & O_NONBLOCK)) {
		bool e = gr_syscall_enter(g);
		long r = gr_sys(SYS_connect, fd, a, al);
		gr_syscall_exit(g, e);
		return (int)gr_errno_ret(r);
	}
	gr_sys(SYS_fcntl, fd, F_SETFL, fl | O_NONBLOCK);
	long r = gr_sys(SYS_connect, fd, a, al);
	gr_sys(SYS_fcntl, fd, F_SETFL, fl);
	if (r != -EINPROGRESS)
		return (int)gr_errno_ret(r);
	struct gr_pd *pd = gr_pd_get(fd);
	if (pd && !pd->timeo_known)
		load_timeouts(fd, pd);
	int64_t deadline = pd && pd->sndtimeo ? gr_nanotime() + pd->sndtimeo : -1;
	int w;
	do
		w = wait_ready(fd, true, deadline);
	while (w == -GR_ERESTART && deadline < 0);
	if (w == -EINTR || w == -GR_ERESTART)
		return (int)gr_errno_ret(-EINTR);	/* the connection goes on in the background */
	if (w == -ETIMEDOUT)
		return (int)gr_errno_ret(-EINPROGRESS);	/* the kernel's answer on SO_SNDTIMEO expiry */
	if (w == -EBADF)
		return (int)gr_errno_ret(-EBADF);
	if (w == 1) {	/* not pollable (cannot happen for a socket): wait in the kernel */
		struct pollfd p = { fd, POLLOUT, 0 };
		bool e = gr_syscall_enter(g);
		gr_sys6(SYS_ppoll, (long)&p, 1, 0, 0, 8, 0);
		gr_syscall_exit(g, e);
	}
	int err = 0;
	socklen_t len = sizeof err;
	gr_sys6(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR, (long)&err, (long)&len, 0);
	return (int)gr_errno_ret(err ? -err : 0);
}

/* poll() on one descriptor: park until it is ready or ms passes. */
int gr_poll1(struct pollfd *p, int ms)
{
	struct gr_g *g = gr_getg();
	struct timespec zero = { 0, 0 };
	long r = gr_sys6(SYS_ppoll, (long)p, 1, (long)&zero, 0, 8, 0);
	struct gr_pd *pd;
	if (r != 0 || !gr_can_park(g) || !(pd = gr_pd_get(p->fd)))
		goto block;
	bool write = p->events & POLLOUT;
	int64_t deadline = ms < 0 ? -1 : gr_nanotime() + (int64_t)ms * 1000000;
	uint32_t gen = atomic_load(&pd->gen);
	for (;;) {
		_Atomic uint32_t *seqw = write ? &pd->wseq : &pd->rseq;
		uint32_t seq = atomic_load(seqw);
		r = gr_sys6(SYS_ppoll, (long)p, 1, (long)&zero, 0, 8, 0);
		if (r != 0)
			return (int)gr_errno_ret(r);
		int w = await(p->fd, pd, write, seq, gen, deadline);
		if (w == -ETIMEDOUT)
			return 0;
		if (w == -EINTR || w == -GR_ERESTART)
			return (int)gr_errno_ret(-EINTR);	/* poll is never restarted */
		if (w == -EBADF) {	/* closed while we waited: as poll reports it */
			p->revents = POLLNVAL;
			return 1;
		}
		if (w == 1)
			break;
	}
block:
	if (r != 0)
		return (int)gr_errno_ret(r);
	gr_testcancel();
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	bool e = gr_syscall_enter(g);
	r = gr_sys6(SYS_ppoll, (long)p, 1, ms < 0 ? 0 : (long)&ts, 0, 8, 0);
	gr_syscall_exit(g, e);
	return (int)gr_errno_ret(r);
}

/* poll/select on several descriptors: register each with the netpoller,
 * then wait for any readiness event (gr_pollseq) and poll again.
 * check(arg) polls without waiting: > 0 ready, < 0 error, 0 nothing. */
static int wait_many(const int *fds, int nfds, int64_t deadline, long (*check)(void *), void *arg)
{
	for (int i = 0; i < nfds; i++) {
		struct gr_pd *pd = gr_pd_get(fds[i]);
		if (!pd)
			continue;
		if (!atomic_load(&pd->registered)) {
			int r = gr_netpoll_open(fds[i], pd);
			if (r < 0 && r != -EEXIST)
				return 1;	/* not pollable: the caller waits in the kernel */
		}
	}
	atomic_fetch_add(&gr_pollwaiters, 1);
	long r;
	for (;;) {
		uint32_t seq = atomic_load(&gr_pollseq);
		r = check(arg);
		if (r != 0)
			break;
		int w = gr_sema_wait(&gr_pollseq, seq, deadline, WAIT_IO);
		if (w == -ETIMEDOUT) {
			r = check(arg);
			break;
		}
		if (w == -ECANCELED) {
			atomic_fetch_sub(&gr_pollwaiters, 1);
			gr_testcancel();
			atomic_fetch_add(&gr_pollwaiters, 1);
		}
		if (w == -EINTR || w == -GR_ERESTART) {
			r = -EINTR;	/* poll and select are never restarted */
			break;
		}
	}
	atomic_fetch_sub(&gr_pollwaiters, 1);
	return r > 0 ? 2 + (int)r : (r < 0 ? (int)r : 2);
}

struct pollargs { struct pollfd *fds; nfds_t n; };
static long poll_check(void *a)
{
	struct pollargs *p = a;
	struct timespec zero = { 0, 0 };
	return gr_sys6(SYS_ppoll, (long)p->fds, (long)p->n, (long)&zero, 0, 8, 0);
}

/* poll on several descriptors (or both directions): park until one is
 * ready. Returns -ENOSYS when the caller should wait in the kernel. */
int gr_poll_many(struct pollfd *fds, nfds_t n, int ms)
{
	struct gr_g *g = gr_getg();
	if (!gr_can_park(g) || n > 256)
		return -ENOSYS;
	int fdv[256], k = 0;
	for (nfds_t i = 0; i < n; i++)
		if (fds[i].fd >= 0)
			fdv[k++] = fds[i].fd;
	struct pollargs a = { fds, n };
	int64_t deadline = ms < 0 ? -1 : gr_nanotime() + (int64_t)ms * 1000000;
	int r = wait_many(fdv, k, deadline, poll_check, &a);
	if (r == 1)
		return -ENOSYS;
	return r < 0 ? r : r - 2;
}

struct selargs { int n; fd_set *r, *w, *e; fd_set r0, w0, e0; };
static long select_check(void *a)
{
	struct selargs *s = a;
	struct timeval zero = { 0, 0 };
	if (s->r) *s->r = s->r0;
	if (s->w) *s->w = s->w0;
	if (s->e) *s->e = s->e0;
	return gr_sys6(SYS_select, s->n, (long)s->r, (long)s->w, (long)s->e, (long)&zero, 0);
}

/* select: the same, on the descriptors of the sets. -ENOSYS: block. */
int gr_select_many(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	struct gr_g *g = gr_getg();
	if (!gr_can_park(g) || n > FD_SETSIZE || n < 0)
		return -ENOSYS;
	struct selargs a = { .n = n, .r = r, .w = w, .e = e };
	if (r) a.r0 = *r;
	if (w) a.w0 = *w;
	if (e) a.e0 = *e;
	int fdv[256], k = 0;
	for (int fd = 0; fd < n; fd++) {
		if ((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (e && FD_ISSET(fd, e))) {
			if (k == 256)
				return -ENOSYS;
			fdv[k++] = fd;
		}
	}
	int64_t deadline = -1;
	if (tv) {
		if (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)
			return -EINVAL;
		deadline = gr_nanotime() + (int64_t)tv->tv_sec * 1000000000 + tv->tv_usec * 1000;
	}
	int res = wait_many(fdv, k, deadline, select_check, &a);
	if (res == 1) {	/* not pollable: restore the sets and block */
		if (r) *r = a.r0;
		if (w) *w = a.w0;
		if (e) *e = a.e0;
		return -ENOSYS;
	}
	if (tv) {	/* Linux writes back the time left */
		int64_t left = deadline - gr_nanotime();
		if (left < 0)
			left = 0;
		tv->tv_sec = left / 1000000000;
		tv->tv_usec = (left % 1000000000) / 1000;
	}
	return res < 0 ? res : res - 2;
}

/* epoll_wait on the program's own epoll fd: that fd is itself pollable,
 * so the G parks until it has events or the timeout passes. */
static int do_epoll_wait(int epfd, struct epoll_event *ev, int n, int ms, const sigset_t *mask)
{
	struct gr_g *g = gr_getg();
	gr_testcancel();
	if (mask && gr_can_park(g)) {
		/* The G waits with mask as its own (see ppoll). */
		uint64_t old = gr_sig_mask_push(g, mask);
		int res = gr_sig_check(g) ? (int)gr_errno_ret(-EINTR) : do_epoll_wait(epfd, ev, n, ms, NULL);
		gr_sig_mask_pop(g, old);
		return res;
	}
	long r = gr_sys6(SYS_epoll_pwait, epfd, (long)ev, n, 0, (long)mask, 8);
	if (r != 0 || ms == 0 || !gr_can_park(g))
		goto block;
	struct gr_pd *pd = gr_pd_get(epfd);
	if (!pd)
		goto block;
	int64_t deadline = ms < 0 ? -1 : gr_nanotime() + (int64_t)ms * 1000000;
	uint32_t gen = atomic_load(&pd->gen);
	for (;;) {
		uint32_t seq = atomic_load(&pd->rseq);
		r = gr_sys6(SYS_epoll_pwait, epfd, (long)ev, n, 0, 0, 8);
		if (r != 0)
			return (int)gr_errno_ret(r);
		int w = await(epfd, pd, false, seq, gen, deadline);
		if (w == -ETIMEDOUT)
			return 0;
		if (w == -EBADF)
			return (int)gr_errno_ret(-EBADF);
		if (w == -EINTR || w == -GR_ERESTART)
			return (int)gr_errno_ret(-EINTR);
		if (w == 1)
			break;
	}
block:
	if (r != 0 || ms == 0)
		return (int)gr_errno_ret(r);
	bool e = gr_syscall_enter(g);
	r = gr_sys6(SYS_epoll_pwait, epfd, (long)ev, n, ms, (long)mask, 8);
	gr_syscall_exit(g, e);
	return (int)gr_errno_ret(r);
}

GR_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int n, int ms)
{
	return do_epoll_wait(epfd, ev, n, ms, NULL);
}
GR_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int n, int ms, const sigset_t *mask)
{
	return do_epoll_wait(epfd, ev, n, ms, mask);
}

/* --- descriptor life cycle --- */

static bool internal_fd(int fd)
{
	int e, b;
	return gr_netpoll_fds(&e, &b) && (fd == e || fd == b);
}

/* Before fd is closed or replaced: forget it, wake its waiters (EBADF). */
static void fd_gone(int fd)
{
	struct gr_pd *pd = gr_pd_get(fd);
	if (!pd)
		return;
	if (atomic_load(&pd->registered))
		gr_netpoll_close(fd);
	if (atomic_load(&pd->registered) || atomic_load(&pd->kind) != K_UNKNOWN)
		gr_pd_evict(pd);
}

GR_EXPORT int close(int fd)
{
	if (internal_fd(fd))
		return 0;	/* libgrun's own: the program never opened it */
	if (!gr_in_vfork_child())
		fd_gone(fd);
	return (int)gr_errno_ret(gr_sys(SYS_close, fd, 0, 0));
}

/* close_range: evict the descriptors in range, then close around
 * libgrun's own (the range is cut into at most three pieces). */
GR_EXPORT int close_range(unsigned lo, unsigned hi, int flags)
{
	int in[2], n = 0;
	if (!(flags & CLOSE_RANGE_CLOEXEC)) {
		if (!gr_in_vfork_child())
			gr_pd_foreach_registered(lo, hi, fd_gone);
		int e, b;
		if (gr_netpoll_fds(&e, &b)) {
			int x = e < b ? e : b, y = e < b ? b : e;
			if ((unsigned)x >= lo && (unsigned)x <= hi)
				in[n++] = x;
			if ((unsigned)y >= lo && (unsigned)y <= hi)
				in[n++] = y;
		}
	}
	unsigned from = lo;
	for (int i = 0; i <= n; i++) {
		unsigned to = i < n ? (unsigned)in[i] - 1 : hi;
		if (i < n && (unsigned)in[i] == 0)
			to = 0, from = 1;	/* cannot happen: internal fds are high */
		if (from <= to && !(i < n && (unsigned)in[i] < from)) {
			long r = gr_sys(SYS_close_range, from, to, flags);
			if (r < 0)
				return (int)gr_errno_ret(r);
		}
		if (i < n)
			from = (unsigned)in[i] + 1;
	}
	return 0;
}

GR_EXPORT int dup2(int old, int new)
{
	if (internal_fd(new)) {
		errno = EBUSY;	/* Linux's answer for a descriptor being set up */
		return -1;
	}
	if (old != new && !gr_in_vfork_child())
		fd_gone(new);
	return (int)gr_errno_ret(gr_sys(SYS_dup2, old, new, 0));
}

GR_EXPORT int dup3(int old, int new, int fl)
{
	if (internal_fd(new)) {
		errno = EBUSY;
		return -1;
	}
	if (!gr_in_vfork_child())
		fd_gone(new);
	return (int)gr_errno_ret(gr_sys(SYS_dup3, old, new, fl));
}

/* shutdown() of a socket another G waits on: the kernel wakes blocked
 * callers, but epoll may report nothing (a full socket shut for writing is
 * still not writable): wake the waiters, they retry and see EOF/EPIPE. */
GR_EXPORT int shutdown(int fd, int how)
{
	long r = gr_sys(SYS_shutdown, fd, how, 0);
	struct gr_pd *pd;
	if (r == 0 && (pd = gr_pd_get(fd)) && atomic_load(&pd->registered)) {
		atomic_fetch_add(&pd->rseq, 1);
		gr_sema_wake(&pd->rseq, INT_MAX);
		atomic_fetch_add(&pd->wseq, 1);
		gr_sema_wake(&pd->wseq, INT_MAX);
	}
	return (int)gr_errno_ret(r);
}

GR_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	long r = gr_sys6(SYS_setsockopt, fd, level, name, (long)val, len, 0);
	if (r == 0 && level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
		struct gr_pd *pd = gr_pd_get(fd);
		if (pd)
			pd->timeo_known = false;	/* re-read from the kernel */
	}
	return (int)gr_errno_ret(r);
}

/* glibc's _Fork (2.34+) runs no atfork handlers: reset the child here. */
GR_EXPORT pid_t _Fork(void)
{
	pid_t pid = REAL(_Fork)();
	if (pid == 0 && !gr_native)
		gr_fork_child();
	return pid;
}
