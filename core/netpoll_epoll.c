/* netpoll_epoll: the netpoller port on Linux epoll (see netpoll.h).
 *
 * One epoll instance, created on first use, registrations edge-triggered
 * with data.ptr = the descriptor's gr_pd; an eventfd registered with
 * data.ptr = NULL breaks a blocking wait. Both fds are moved to high
 * numbers with FD_CLOEXEC (children never see them); the io shims refuse
 * to let the program close them.
 *
 * The pd table is a two-level array indexed by fd number, grown under a
 * lock, never shrunk or freed (a G waiting on a pd may outlive the fd).
 */
#include "core/netpoll.h"
#include "core/sig.h"
#include "core/lock.h"
#include "core/proc.h"
#include "core/sema.h"
#include "core/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#define L1 1024
#define L2 1024			/* up to 1M descriptors */
#define HIGH_FD 1000		/* internal fds at or above this number when possible */

static struct gr_pd *_Atomic table[L1];
static struct gr_lock table_lock, init_lock;
static int epfd = -1, evfd = -1;
static _Atomic bool active;
_Atomic uint32_t gr_pollseq;
_Atomic int gr_pollwaiters;

struct gr_pd *gr_pd_get(int fd)
{
	if (fd < 0 || fd >= L1 * L2)
		return NULL;
	struct gr_pd *chunk = atomic_load_explicit(&table[fd / L2], memory_order_acquire);
	if (unlikely(!chunk)) {
		gr_lock(&table_lock);
		chunk = atomic_load(&table[fd / L2]);
		if (!chunk) {
			chunk = gr_mmap(NULL, L2 * sizeof(struct gr_pd), PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (chunk == (void *)-1)
				gr_throw("netpoll: out of memory for descriptor state");
			atomic_store_explicit(&table[fd / L2], chunk, memory_order_release);
		}
		gr_unlock(&table_lock);
	}
	return &chunk[fd % L2];
}

static int high_cloexec(int fd)
{
	int hi = (int)gr_sys(SYS_fcntl, fd, F_DUPFD_CLOEXEC, HIGH_FD);
	if (hi < 0)
		return fd;
	gr_sys(SYS_close, fd, 0, 0);
	return hi;
}

static int port_init(void)
{
	if (epfd >= 0)
		return 0;
	gr_lock(&init_lock);
	if (epfd < 0) {
		int e = (int)gr_sys(SYS_epoll_create1, EPOLL_CLOEXEC, 0, 0);
		int b = e >= 0 ? (int)gr_sys(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK, 0) : -1;
		if (e < 0 || b < 0) {
			gr_unlock(&init_lock);
			return e < 0 ? e : b;
		}
		e = high_cloexec(e);
		b = high_cloexec(b);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.ptr = NULL };
		gr_sys6(SYS_epoll_ctl, e, EPOLL_CTL_ADD, b, (long)&ev, 0, 0);
		evfd = b;
		__atomic_store_n(&epfd, e, __ATOMIC_RELEASE);
	}
	gr_unlock(&init_lock);
	return 0;
}

int gr_netpoll_fds(int *e, int *b)
{
	*e = epfd;
	*b = evfd;
	return epfd >= 0;
}

bool gr_netpoll_active(void)
{
	return atomic_load_explicit(&active, memory_order_relaxed);
}

int gr_netpoll_open(int fd, struct gr_pd *pd)
{
	int r = port_init();
	if (r < 0)
		return r;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = pd };
	r = (int)gr_sys6(SYS_epoll_ctl, epfd, EPOLL_CTL_ADD, fd, (long)&ev, 0, 0);
	if (r == 0 || r == -EEXIST) {
		atomic_store(&pd->registered, true);
		atomic_store(&active, true);
	}
	return r;
}

void gr_netpoll_close(int fd)
{
	if (epfd >= 0)
		gr_sys6(SYS_epoll_ctl, epfd, EPOLL_CTL_DEL, fd, 0, 0, 0);
}

void gr_netpoll_break(void)
{
	uint64_t one = 1;
	if (evfd >= 0)
		gr_sys(SYS_write, evfd, &one, sizeof one);
}

int gr_netpoll(int64_t delay_ns)
{
	if (epfd < 0)
		return 0;
	struct epoll_event evs[128];
	int ms = delay_ns < 0 ? -1 : delay_ns == 0 ? 0 : (int)((delay_ns + 999999) / 1000000);
	if (delay_ns > (int64_t)INT_MAX * 1000000)
		ms = INT_MAX;
	long n = gr_sys6(SYS_epoll_pwait, epfd, (long)evs, 128, ms, 0, 8);
	if (n <= 0)
		return 0;
	int got = 0;
	for (long i = 0; i < n; i++) {
		struct gr_pd *pd = evs[i].data.ptr;
		if (!pd) {
			uint64_t v;
			gr_sys(SYS_read, evfd, &v, sizeof v);
			continue;
		}
		uint32_t e = evs[i].events;
		if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI)) {
			atomic_fetch_add(&pd->rseq, 1);
			gr_sema_wake(&pd->rseq, INT_MAX);
		}
		if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
			atomic_fetch_add(&pd->wseq, 1);
			gr_sema_wake(&pd->wseq, INT_MAX);
		}
		got++;
	}
	if (got && atomic_load(&gr_pollwaiters) > 0) {
		atomic_fetch_add(&gr_pollseq, 1);
		gr_sema_wake(&gr_pollseq, INT_MAX);
	}
	return got;
}

int gr_pd_wait(struct gr_pd *pd, _Atomic uint32_t *seqw, uint32_t seq, uint32_t gen, int64_t deadline)
{
	for (;;) {
		if (atomic_load(&pd->gen) != gen)
			return -EBADF;
		if (atomic_load(seqw) != seq)
			return 0;
		int r = gr_sema_wait(seqw, seq, deadline, WAIT_IO);
		if (r == -ETIMEDOUT)
			return r;
		if (r == -ECANCELED || r == -EINTR || r == -GR_ERESTART)
			return r;	/* canceled; a signal handler ran */
		if (atomic_load(&pd->gen) != gen)
			return -EBADF;
		if (r == -EAGAIN || atomic_load(seqw) != seq)
			return 0;
	}
}

void gr_pd_evict(struct gr_pd *pd)
{
	atomic_fetch_add(&pd->gen, 1);
	atomic_store(&pd->registered, false);
	atomic_store(&pd->kind, 0);
	pd->timeo_known = false;
	atomic_fetch_add(&pd->rseq, 1);
	gr_sema_wake(&pd->rseq, INT_MAX);
	atomic_fetch_add(&pd->wseq, 1);
	gr_sema_wake(&pd->wseq, INT_MAX);
}

void gr_pd_foreach_registered(unsigned lo, unsigned hi, void (*fn)(int fd))
{
	for (unsigned c = lo / L2; c < L1 && c <= hi / L2; c++) {
		struct gr_pd *chunk = atomic_load(&table[c]);
		if (!chunk)
			continue;
		for (unsigned i = 0; i < L2; i++) {
			unsigned fd = c * L2 + i;
			if (fd < lo || fd > hi)
				continue;
			if (atomic_load(&chunk[i].registered) || atomic_load(&chunk[i].kind))
				fn((int)fd);
		}
	}
}

/* fork child: the epoll instance is the parent's (shared): forget it and
 * every registration; a new one is made on first use. */
void gr_netpoll_fork_child(void)
{
	if (epfd >= 0) {
		gr_sys(SYS_close, epfd, 0, 0);
		gr_sys(SYS_close, evfd, 0, 0);
	}
	epfd = evfd = -1;
	memset(&table_lock, 0, sizeof table_lock);
	memset(&init_lock, 0, sizeof init_lock);
	for (int c = 0; c < L1; c++) {
		struct gr_pd *chunk = atomic_load(&table[c]);
		if (!chunk)
			continue;
		for (int i = 0; i < L2; i++)
			atomic_store(&chunk[i].registered, false);
	}
}
