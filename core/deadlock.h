/* deadlock: global and partial deadlock detection, run by sysmon. */
#ifndef GR_DEADLOCK_H
#define GR_DEADLOCK_H

#include <stdint.h>
#include "core/throw.h"

struct gr_g;
/* Called by sysmon about every 100 ms. */
GR_HIDDEN void gr_deadlock_check(int64_t now);
/* Set by the mutex shim: the tid owning the mutex g waits for (0: none). */
GR_HIDDEN extern int (*gr_wait_owner)(const struct gr_g *g);

#endif
