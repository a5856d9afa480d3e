/* netpoll: the netpoller port contract (Go's netpoll.go, for one OS).
 *
 * A port watches file descriptors for readiness and reports which became
 * readable or writable. libgrun uses one edge-triggered registration per
 * descriptor, made the first time a G would block on it; readiness bumps
 * the descriptor's read or write sequence word and wakes the Gs waiting
 * on it (core/sema.c), so any number of Gs may wait on one descriptor.
 *
 *   gr_netpoll_open(fd, pd)  register fd (read and write, edge-triggered),
 *                            reporting events for pd. 0, -EEXIST when
 *                            already registered, -EPERM for a descriptor
 *                            that cannot be polled (a regular file), or
 *                            another -errno.
 *   gr_netpoll_close(fd)     forget fd (before the program closes it).
 *   gr_netpoll(delay_ns)     collect events: delay < 0 blocks until one
 *                            arrives or gr_netpoll_break is called, 0 only
 *                            polls, > 0 waits at most that long. Wakes the
 *                            waiting Gs; returns how many descriptors had
 *                            events.
 *   gr_netpoll_break()       make a blocked gr_netpoll return now.
 *   gr_netpoll_active()      whether anything was ever registered.
 *
 * netpoll_epoll.c implements it with epoll and an eventfd for break; the
 * epoll and eventfd descriptors live at high numbers with FD_CLOEXEC.
 */
#ifndef GR_NETPOLL_H
#define GR_NETPOLL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/throw.h"

/* Per-descriptor state (Go's pollDesc). One per fd number, never freed. */
struct gr_pd {
	_Atomic uint32_t rseq;		/* bumped on read readiness; readers wait on it */
	_Atomic uint32_t wseq;		/* bumped on write readiness; writers wait on it */
	_Atomic uint32_t gen;		/* bumped by close(): waiters then see EBADF */
	_Atomic int kind;		/* how calls are made non-blocking (shims/io.c) */
	_Atomic bool registered;	/* known to the port since the last close */
	int64_t rcvtimeo, sndtimeo;	/* SO_RCVTIMEO/SO_SNDTIMEO in ns; 0 = none */
	bool timeo_known;		/* read from the kernel once */
	int socktype;			/* SO_TYPE of a socket (probe) */
};

GR_HIDDEN struct gr_pd *gr_pd_get(int fd);	/* NULL for a bad fd number */
GR_HIDDEN int gr_netpoll_open(int fd, struct gr_pd *pd);
GR_HIDDEN void gr_netpoll_close(int fd);
GR_HIDDEN int gr_netpoll(int64_t delay_ns);
GR_HIDDEN void gr_netpoll_break(void);
GR_HIDDEN bool gr_netpoll_active(void);
GR_HIDDEN int gr_netpoll_fds(int *epfd, int *evfd);	/* the port's own fds, for close protection */

/* Waiting on several descriptors at once (poll, select): any readiness
 * event bumps gr_pollseq and wakes every such waiter, which polls again.
 * Simple and correct; a herd when many threads poll many descriptors. */
GR_HIDDEN extern _Atomic uint32_t gr_pollseq;
GR_HIDDEN extern _Atomic int gr_pollwaiters;

/* Wait until the descriptor's seq word moves past seq (readiness), the
 * deadline (monotonic ns, < 0 none) passes (-ETIMEDOUT) or it is closed
 * (-EBADF). -EINTR or -GR_ERESTART: a signal handler ran (sig.h). */
GR_HIDDEN int gr_pd_wait(struct gr_pd *pd, _Atomic uint32_t *seqw, uint32_t seq, uint32_t gen,
			 int64_t deadline);
/* Call fn(fd) for every fd in [lo, hi] whose descriptor is registered or
 * has a known kind (close_range). */
GR_HIDDEN void gr_pd_foreach_registered(unsigned lo, unsigned hi, void (*fn)(int fd));
/* close(): wake every G waiting on the descriptor with EBADF. */
GR_HIDDEN void gr_pd_evict(struct gr_pd *pd);

#endif
