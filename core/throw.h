/* throw: fatal errors and raw diagnostics output.
 *
 * Everything here writes with the raw write(2) system call into a buffer on
 * the caller's stack: no malloc, no stdio, no locks, so it is usable from a
 * signal handler, on g0, in sysmon and while runtime locks are held.
 */
#ifndef GR_THROW_H
#define GR_THROW_H

#include <stdarg.h>
#include <stddef.h>

#define GR_HIDDEN __attribute__((visibility("hidden")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Print "fatal error: MSG" (Go's wording), a goroutine dump when it is safe,
 * and abort. MSG is a literal: throw never formats. */
GR_HIDDEN __attribute__((noreturn)) void gr_throw(const char *msg);
/* Like gr_throw, with a formatted detail line first (gr_fmt syntax). */
GR_HIDDEN __attribute__((noreturn, format(printf, 2, 3)))
void gr_throwf(const char *msg, const char *fmt, ...);

/* Minimal formatter: %s %d %i %u %x %p %c %% with l/ll/z size modifiers
 * and a '0'-padded width. Always NUL-terminates; returns the length. */
GR_HIDDEN size_t gr_vfmt(char *buf, size_t n, const char *fmt, va_list ap);
GR_HIDDEN __attribute__((format(printf, 3, 4)))
size_t gr_fmt(char *buf, size_t n, const char *fmt, ...);
/* Formatted write to fd 2 (at most 512 bytes per call). */
GR_HIDDEN __attribute__((format(printf, 1, 2))) void gr_printf(const char *fmt, ...);
GR_HIDDEN void gr_write_all(int fd, const char *s, size_t n);

/* Leveled internal asserts: level 0 is always on. */
#ifndef GR_ASSERT_LEVEL
#define GR_ASSERT_LEVEL 1
#endif
#define gr_assert_level(lvl, cond, msg) \
	do { if ((lvl) <= GR_ASSERT_LEVEL && unlikely(!(cond))) gr_throw(msg); } while (0)
#define gr_check(cond, msg) gr_assert_level(0, cond, msg)
#define gr_assert(cond, msg) gr_assert_level(1, cond, msg)

/* Set by the dump code: called by gr_throw to print every G when safe. */
GR_HIDDEN extern void (*gr_throw_dump_hook)(void);

#endif
