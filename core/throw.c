/* throw: fatal errors and raw diagnostic output (see throw.h).
 *
 * Invariant: nothing in this file allocates, takes a lock or calls stdio.
 * Output goes through the raw write system call so that a throw from inside
 * the scheduler, a signal handler or the heap cannot deadlock on itself.
 */
#include "core/throw.h"
#include "core/sys.h"

#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

void (*gr_throw_dump_hook)(void);

static long raw_write(int fd, const void *p, size_t n)
{
	return gr_sys(SYS_write, fd, p, n);
}

void gr_write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		long w = raw_write(fd, s, n);
		if (w == -4 /* EINTR */)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static size_t put_num(char *buf, size_t pos, size_t n, unsigned long long v,
		      unsigned base, int width, char pad, int neg)
{
	char tmp[24];
	int len = 0;
	do {
		tmp[len++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && len < (int)sizeof(tmp));
	if (neg)
		tmp[len++] = '-';
	for (int i = len; i < width && pos + 1 < n; i++)
		buf[pos++] = pad;
	while (len > 0 && pos + 1 < n)
		buf[pos++] = tmp[--len];
	return pos;
}

size_t gr_vfmt(char *buf, size_t n, const char *fmt, va_list ap)
{
	size_t pos = 0;
	if (n == 0)
		return 0;
	for (const char *f = fmt; *f && pos + 1 < n; f++) {
		if (*f != '%') {
			buf[pos++] = *f;
			continue;
		}
		f++;
		char pad = ' ';
		int width = 0, lng = 0;
		if (*f == '0')
			pad = '0', f++;
		while (*f >= '0' && *f <= '9')
			width = width * 10 + (*f++ - '0');
		while (*f == 'l' || *f == 'z')
			lng++, f++;
		switch (*f) {
		case 'd': case 'i': {
			long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
			pos = put_num(buf, pos, n, v < 0 ? -(unsigned long long)v : (unsigned long long)v,
				      10, width, pad, v < 0);
			break;
		}
		case 'u': case 'x': {
			unsigned long long v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
			pos = put_num(buf, pos, n, v, *f == 'x' ? 16 : 10, width, pad, 0);
			break;
		}
		case 'p': {
			uintptr_t v = (uintptr_t)va_arg(ap, void *);
			if (pos + 3 < n)
				buf[pos++] = '0', buf[pos++] = 'x';
			pos = put_num(buf, pos, n, v, 16, width, pad, 0);
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			while (*s && pos + 1 < n)
				buf[pos++] = *s++;
			break;
		}
		case 'c':
			buf[pos++] = (char)va_arg(ap, int);
			break;
		case '%':
			buf[pos++] = '%';
			break;
		default:
			if (!*f)
				f--;
			break;
		}
	}
	buf[pos] = 0;
	return pos;
}

size_t gr_fmt(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t r = gr_vfmt(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

void gr_printf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	size_t r = gr_vfmt(buf, sizeof buf, fmt, ap);
	va_end(ap);
	gr_write_all(2, buf, r);
}

static _Atomic int throwing;

static __attribute__((noreturn)) void die(void)
{
	if (__atomic_fetch_add(&throwing, 1, __ATOMIC_SEQ_CST) == 0 && gr_throw_dump_hook)
		gr_throw_dump_hook();
	/* abort(): SIGABRT with the default action, raised on this thread
	 * with raw system calls (the libc wrappers may be interposed). */
	struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } ksa = { SIG_DFL, 0, 0, 0 };
	gr_sys6(SYS_rt_sigaction, SIGABRT, (long)&ksa, 0, 8, 0, 0);
	uint64_t unblock = 1ull << (SIGABRT - 1);
	gr_sys6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&unblock, 0, 8, 0, 0);
	gr_sys(SYS_tgkill, gr_sys(SYS_getpid, 0, 0, 0), gr_gettid(), SIGABRT);
	gr_sys(SYS_exit_group, 134, 0, 0);
	__builtin_unreachable();
}

void gr_throw(const char *msg)
{
	gr_printf("fatal error: %s\n", msg);
	die();
}

void gr_throwf(const char *msg, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	size_t r = gr_vfmt(buf, sizeof buf, fmt, ap);
	va_end(ap);
	gr_printf("fatal error: %s\n", msg);
	gr_write_all(2, buf, r);
	gr_write_all(2, "\n", 1);
	die();
}
