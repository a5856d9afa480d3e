/* realc: storage for the table of real libc functions (see realc.h);
 * filled by preload/init.c before any runtime code runs. */
#include "core/realc.h"

struct gr_realc gr_real;
