/* gcdebug: the collector's entry point for tests (exported, grun_debug_
 * prefix; a program finds it with dlsym and runs without it natively).
 *
 * grun_debug_gc_leaked(bytes) runs one cycle of the collector (core/gc.h)
 * whatever GRUN_GC says, and returns the number of leaked objects (heap
 * objects allocated, not freed, unreachable from every root), their usable
 * bytes in *bytes (if not NULL). Returns -1 when no cycle could run: the
 * heap is off (GRUN_HEAP=0), or the world or the heap could not be had.
 * With GRUN_DEBUG=leakreport=1 it also prints the leak report to stderr.
 */
#include "shims/shim.h"
#include "core/config.h"
#include "core/gc.h"
#include "shims/grun_debug.h"

#include <string.h>

GR_EXPORT long grun_debug_gc_leaked(long *bytes)
{
	if (gr_gc_collect("debug") != 0)
		return -1;
	struct gr_gc_result r;
	gr_gc_last(&r);
	if (gr_cfg.leakreport)
		gr_gc_leak_report(2);
	if (bytes)
		*bytes = (long)r.leaked_bytes;
	return (long)r.leaked_objects;
}

GR_EXPORT long grun_debug_gc(void)
{
	if (!gr_gc_enabled() || gr_gc_collect("debug") != 0)
		return -1;
	struct gr_gc_result r;
	gr_gc_last(&r);
	return (long)r.cycle;
}

GR_EXPORT int grun_debug_gc_stats(struct grun_gc_stats *st, size_t size)
{
	struct grun_gc_stats s;
	gr_gc_stats(&s);
	memcpy(st, &s, size < sizeof s ? size : sizeof s);
	return 0;
}
