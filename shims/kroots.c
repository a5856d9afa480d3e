/* kroots: pointers only the kernel holds, shown to the collector.
 *
 * epoll_ctl's event data comes back to the program from epoll_wait and
 * may be the only copy of a heap pointer (a connection's state). With the
 * collector on, each registration's data is a root (core/gc.h kroots)
 * until EPOLL_CTL_DEL. A registration the kernel drops by itself (the last
 * descriptor of its file closed) stays a root until its (epoll fd, fd)
 * pair is registered again or deleted: an object kept too long, never one
 * freed too early. timer_create's sigevent value: shims/timer.c.
 */
#include "shims/shim.h"
#include "core/gc.h"
#include "core/sys.h"

#include <sys/epoll.h>

GR_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	long r = gr_sys6(SYS_epoll_ctl, epfd, op, fd, (long)ev, 0, 0);
	if (r == 0 && gr_gc_enabled()) {
		if ((op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && ev)
			gr_gc_kroot_set(GR_KROOT_EPOLL(epfd, fd), (uintptr_t)ev->data.u64);
		else if (op == EPOLL_CTL_DEL)
			gr_gc_kroot_del(GR_KROOT_EPOLL(epfd, fd));
	}
	return (int)gr_errno_ret(r);
}
