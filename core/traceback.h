/* traceback: the return addresses on a G's stack, and their names.
 *
 * Contexts: callable from a G, g0, sysmon, a foreign thread and a signal
 * handler that may use raw system calls (no runtime locks are taken). The
 * first use dlopens libunwind (see traceback.c): call gr_traceback_init()
 * early from a sane context if the first dump may come from a fault.
 */
#ifndef GR_TRACEBACK_H
#define GR_TRACEBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/throw.h"

struct gr_g;

/* Fill up to max return addresses of g's stack, innermost first; returns
 * how many. g == NULL or g == the calling G: the calling thread, starting
 * at gr_traceback's caller. A G that is not running (G_WAITING,
 * G_RUNNABLE, or the current G of this M while we are on its g0): from its
 * saved context g->sp. A G running on another thread, a dead or idle G:
 * 0. Never faults, whatever the stack holds: every word read is checked
 * against the G's stack bounds or read through process_vm_readv.
 *
 * Every entry is a return address (look up pc - 1), except below a signal
 * frame (see gr_traceback_skip), and except that a G that has never run
 * gives exactly one entry, gr_arch_gstart. */
GR_HIDDEN int gr_traceback(struct gr_g *g, uintptr_t *pcs, int max);

/* What pcs[i] is, for gr_traceback_skip's kinds array. */
enum gr_frame_kind {
	GR_FRAME_RET,		/* a return address: name pc - 1 */
	GR_FRAME_EXACT,		/* interrupted by a signal here: name pc itself */
	GR_FRAME_SIGNAL,	/* the kernel's signal frame (__restore_rt) */
};

/* The same, dropping the calling thread's innermost frames up to and
 * including the one whose frame address is skip_fp (pass
 * __builtin_frame_address(0) to start at your caller; ignored for a G
 * traced from its saved context), and telling in kinds (NULL, or max
 * entries) what each entry is. */
GR_HIDDEN int gr_traceback_skip(struct gr_g *g, uintptr_t *pcs, uint8_t *kinds, int max,
				uintptr_t skip_fp);

/* Name pc exactly as "func+0xoff (module)" into buf (always terminated).
 * Unknown function: "module+0xoff" (offset from the load bias, what
 * addr2line -e module wants); unknown module: "0x...". */
GR_HIDDEN void gr_symbolize(uintptr_t pc, char *buf, size_t n);
/* The same for a return address: looks up pc - 1 (so a call at the very end
 * of a function is named after that function) and prints pc's offset. */
GR_HIDDEN void gr_symbolize_ret(uintptr_t pc, char *buf, size_t n);

/* Copy n bytes at addr into out without faulting (process_vm_readv on
 * ourselves; where that system call is forbidden, a plain read). Returns
 * false if the memory is not readable. */
GR_HIDDEN bool gr_traceback_peek(const void *addr, void *out, size_t n);

/* Load libunwind now (dlopen RTLD_LOCAL). Optional: done on first use. */
GR_HIDDEN void gr_traceback_init(void);
/* Tests and GRUN_DEBUG: walk frame pointers only, never load libunwind. */
GR_HIDDEN extern bool gr_traceback_fponly;

#endif
