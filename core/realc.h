/* realc: the real libc functions the runtime calls.
 *
 * libgrun interposes many libc names; runtime code must never reach one of
 * its own shims by accident. Every libc function the runtime needs that is
 * (or may become) interposed is resolved once, at start-up, by preload/
 * with dlsym(RTLD_NEXT) into this table, and called only through it.
 */
#ifndef GR_REALC_H
#define GR_REALC_H

#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/uio.h>
#include "core/throw.h"

struct gr_realc {
	int (*pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
	int (*pthread_getattr_np)(pthread_t, pthread_attr_t *);
	int (*pthread_sigmask)(int, const sigset_t *, sigset_t *);
	int (*sigaction)(int, const struct sigaction *, struct sigaction *);
	int (*sigaltstack)(const stack_t *, stack_t *);
	void (*call_tls_dtors)(void);
	void (*ctype_init)(void);
	int (*close)(int);
	void (*pthread_unwind_next)(void *);
	void (*pthread_testcancel)(void);
	int (*dl_iterate_phdr)(int (*)(struct dl_phdr_info *, size_t, void *), void *);
};

GR_HIDDEN extern struct gr_realc gr_real;

#endif
