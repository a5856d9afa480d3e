/* dump: the goroutine dump (Go's traceback of all goroutines).
 *
 * Contexts: a G, g0, sysmon, a foreign thread, or a signal handler on the
 * alternate stack (about 6 KiB of stack plus libunwind's). Takes no
 * runtime lock: allg is walked lock-free (append-only). Not async-signal-
 * safe in the strict sense: the first use may dlopen libunwind and naming
 * uses dladdr (the loader lock) -- see traceback.h.
 */
#ifndef GR_DUMP_H
#define GR_DUMP_H

#include "core/throw.h"

struct gr_g;

/* Print why (if not NULL or empty) and then every G, the caller first
 * (Go's "goroutine N [state]:" blocks), to fd. A caller that is no G
 * (g0, sysmon, a foreign thread) is printed first as its own stack. */
GR_HIDDEN void gr_dump_all(int fd, const char *why);
/* Print one G's block. */
GR_HIDDEN void gr_dump_g(int fd, struct gr_g *g);
/* For gr_throw_dump_hook: gr_dump_all(2, NULL). */
GR_HIDDEN void gr_dump_throw_hook(void);

#endif
