/* sys: raw Linux system calls for the runtime.
 *
 * Runtime code never calls an interposed symbol (a shim of ours) and avoids
 * libc wrappers that may take locks or set errno. These inline helpers make
 * the system call directly and return the kernel's result: >= 0 on success,
 * -errno on failure. Only x86_64 is implemented; the constraint list is the
 * kernel's ABI (rcx and r11 are clobbered by the syscall instruction).
 */
#ifndef GR_SYS_H
#define GR_SYS_H

#include <stdint.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <time.h>

static inline long gr_sys6(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall" : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#define gr_sys(n, a, b, c) gr_sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

static inline int gr_gettid(void) { return (int)gr_sys(SYS_gettid, 0, 0, 0); }

/* futex on a private word; timeout is relative (NULL = forever). */
static inline long gr_futex_wait(void *addr, uint32_t val, const struct timespec *rel)
{
	return gr_sys6(SYS_futex, (long)addr, FUTEX_WAIT_PRIVATE, val, (long)rel, 0, 0);
}
static inline long gr_futex_wake(void *addr, int n)
{
	return gr_sys6(SYS_futex, (long)addr, FUTEX_WAKE_PRIVATE, n, 0, 0, 0);
}
/* The same for words that may be shared with other processes. */
static inline long gr_futex_wait_shared(void *addr, uint32_t val, const struct timespec *rel)
{
	return gr_sys6(SYS_futex, (long)addr, FUTEX_WAIT, val, (long)rel, 0, 0);
}
static inline long gr_futex_wake_shared(void *addr, int n)
{
	return gr_sys6(SYS_futex, (long)addr, FUTEX_WAKE, n, 0, 0, 0);
}

static inline void *gr_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	long r = gr_sys6(SYS_mmap, (long)addr, (long)len, prot, flags, fd, off);
	return (r < 0 && r > -4096) ? (void *)-1 : (void *)r;
}
static inline long gr_munmap(void *addr, size_t len) { return gr_sys(SYS_munmap, addr, len, 0); }
static inline long gr_mprotect(void *addr, size_t len, int prot) { return gr_sys(SYS_mprotect, addr, len, prot); }

/* Monotonic nanoseconds, through the vDSO (clock_gettime is not interposed). */
static inline int64_t gr_nanotime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Coarse monotonic time (a few ms resolution, a few ns to read): for
 * bookkeeping such as how long a G has waited. */
static inline int64_t gr_nanotime_coarse(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Open path read-only for the runtime (flags added to O_RDONLY|O_CLOEXEC),
 * or -EBUSY while one of the standard descriptors is closed: the lowest
 * free number is what open returns, and a program that closed 0, 1 or 2
 * is about to put something there (dup2); our descriptor would take it,
 * and closing it would then close the program's. Raw system calls only. */
static inline long gr_open_runtime(const char *path, long flags)
{
	for (long fd = 0; fd < 3; fd++)
		if (gr_sys(SYS_fcntl, fd, 1 /* F_GETFD */, 0) < 0)
			return -16 /* EBUSY */;
	long fd = gr_sys(SYS_openat, -100 /* AT_FDCWD */, (long)path, 02000000 /* O_CLOEXEC */ | flags);
	if (fd >= 0 && fd < 3) {
		gr_sys(SYS_close, fd, 0, 0);	/* raced with a close: the number is theirs */
		return -16;
	}
	return fd;
}

/* Read up to n-1 bytes of a small file (/proc) into buf, NUL-terminated.
 * Returns the length, or -errno. Raw system calls only. */
static inline long gr_read_small(const char *path, char *buf, size_t n)
{
	long fd = gr_open_runtime(path, 0);
	if (fd < 0)
		return fd;
	long k = gr_sys(SYS_read, fd, (long)buf, (long)n - 1);
	gr_sys(SYS_close, fd, 0, 0);
	if (k >= 0)
		buf[k] = 0;
	return k;
}

/* The time from now until the monotonic deadline (ns; 0 if past) in *ts. */
static inline struct timespec *gr_ts_until(int64_t deadline, struct timespec *ts)
{
	int64_t rel = deadline - gr_nanotime();
	if (rel < 0)
		rel = 0;
	ts->tv_sec = rel / 1000000000;
	ts->tv_nsec = rel % 1000000000;
	return ts;
}

static inline void gr_cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }

#endif
