/* dirty: which pages were written since they were last write-protected,
 * for the collector's concurrent mark (DESIGN.md section 9).
 *
 * A range is registered once (gr_dirty_register), then each mark cycle
 * protects it (gr_dirty_protect: every page clean) and later asks which
 * pages were written since (gr_dirty_scan, optionally re-protecting them in
 * the same step). Writes are caught by the kernel's asynchronous
 * userfaultfd write-protection: the first write to a protected page costs
 * one minor fault handled entirely in the kernel — no signal, no message,
 * no thread of ours — and no later write to it costs anything.
 *
 * What counts as written (measured on Linux 6.18, see dirty.c):
 *   - any store by the program, and any kernel write into the range on
 *     its behalf (read(2) into a buffer: copy_to_user faults like a store);
 *   - every page of a range registered but not yet protected;
 *   - a page zapped by MADV_DONTNEED, written or not: it reads as written
 *     until the next protect. Its contents are zero, so a collector may
 *     rescan it at no risk (or skip it if it knows the page is free).
 * Never-touched pages of a protected range read as clean; a first write
 * to one reads as written. Not seen: another process writing a shared
 * mapping through its own page tables (a forked child, for one).
 *
 * Contract common to all calls: ranges are page-aligned (lo and len
 * multiples of the 4 KiB page size), else -EINVAL; calls other than init
 * and reason return -ENODEV until gr_dirty_init has succeeded. Errors are
 * -errno. Any call may run concurrently with any other, on any ranges
 * (fork_child is the exception: the child runs it before anything else,
 * while it has one thread). No call
 * allocates; scan uses about 3 KiB of the caller's stack. Any context
 * that may make a system call may use them: G, g0, sysmon, foreign
 * thread (not a signal handler: init takes a lock).
 *
 * munmap, mremap (the feature for following a remap is not requested)
 * and fork drop a registration: register again afterwards.
 */
#ifndef GR_DIRTY_H
#define GR_DIRTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/throw.h"

#define GR_DIRTY_PAGE 4096UL		/* tracking granularity (x86_64) */

/* Open the userfaultfd and /proc/self/pagemap and check the kernel can do
 * all of the above (a self-test on one page). Idempotent: the first call
 * decides, later calls return the same answer, until gr_dirty_fork_child.
 * False if some piece is missing; gr_dirty_reason says which. */
GR_HIDDEN bool gr_dirty_init(void);
/* A short static string: "ok", "not initialized", or why init failed
 * (e.g. "userfaultfd: ENOSYS", "UFFD_FEATURE_WP_ASYNC missing",
 * "PAGEMAP_SCAN missing"). */
GR_HIDDEN const char *gr_dirty_reason(void);

/* Start tracking [lo, lo+len): every page of it reads as written until the
 * first gr_dirty_protect. Holes inside the range are skipped; a range with
 * no mapping at all fails with -EINVAL; registering again is harmless.
 * Works on anonymous private and shared mappings, private file mappings
 * (data, bss) and read-only ones (tracking survives mprotect). Splits
 * VMAs at the range ends. */
GR_HIDDEN int gr_dirty_register(uintptr_t lo, size_t len);
/* Stop tracking [lo, lo+len) and drop its protection (pages are writable
 * at full speed again). Unregistered parts of the range are ignored. */
GR_HIDDEN int gr_dirty_unregister(uintptr_t lo, size_t len);

/* Mark every page of [lo, lo+len) clean: the next write to each is
 * recorded. Unmapped holes inside the range are skipped; a mapped but
 * unregistered part fails with -EPERM (the parts before it may already be
 * protected). */
GR_HIDDEN int gr_dirty_protect(uintptr_t lo, size_t len);
/* Drop the protection of [lo, lo+len) and keep tracking it: between
 * cycles writes then cost nothing (each first write to a protected page
 * is a fault). The range must be registered and mapped throughout. */
GR_HIDDEN int gr_dirty_unprotect(uintptr_t lo, size_t len);

typedef void (*gr_dirty_fn)(uintptr_t lo, uintptr_t hi, void *arg);
/* Call fn(run_lo, run_hi, arg) for each maximal run of pages of
 * [lo, lo+len) written since it was last protected, in address order, and
 * return the number of such pages. With reprotect, each page is reported
 * and protected again in one atomic step (a write racing with the scan is
 * either reported now or by a later scan, never lost).
 *
 * Unmapped holes read as clean. A mapped but unregistered part fails with
 * -EPERM. On any error fn may already have run for the runs before the
 * failure point (and, with reprotect, those pages are protected again):
 * treat the whole range as written. fn runs with no lock held and may
 * call into this module (not init) for other ranges. */
GR_HIDDEN long gr_dirty_scan(uintptr_t lo, size_t len, bool reprotect, gr_dirty_fn fn, void *arg);

/* In the child of fork, before any other call of this module: close the
 * inherited descriptors and forget the init result, so that the next
 * gr_dirty_init opens new ones. The kernel does not carry registrations
 * into the child, so the child must register again. Required, not a
 * nicety: the inherited descriptors still act on the parent's memory, and
 * a scan with reprotect through them would hide the parent's writes. */
GR_HIDDEN void gr_dirty_fork_child(void);

#endif
