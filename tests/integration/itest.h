/* itest.h - tiny helpers shared by the integration programs.
 *
 * Every integration program is an ordinary POSIX program: it checks its own
 * invariants, prints deterministic output on stdout (identical natively and
 * under libgrun) and exits 0, or prints "FAIL file:line: why" on stderr and
 * exits 1.  Only mutexes and condition variables are used for the test
 * scaffolding (gates, waits) so a scaffolding bug cannot hide in an exotic
 * primitive.  Usable from C and C++. */
#ifndef ITEST_H
#define ITEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...)                                                       \
    do {                                                                \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);            \
        fprintf(stderr, __VA_ARGS__);                                   \
        fputc('\n', stderr);                                            \
        fflush(stdout);                                                 \
        _exit(1);                                                       \
    } while (0)

#define CHECK(cond, ...)                                                \
    do {                                                                \
        if (!(cond))                                                    \
            FAIL(__VA_ARGS__);                                          \
    } while (0)

/* pthread_* return an error number: anything but 0 is fatal here. */
#define PT(call)                                                        \
    do {                                                                \
        int pt_rc_ = (call);                                            \
        if (pt_rc_ != 0)                                                \
            FAIL("%s -> %s", #call, strerror(pt_rc_));                  \
    } while (0)

static inline int64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* TSC ticks per millisecond, measured over a 50 ms sleep (for call-free
 * busy loops that must not enter libc to read the time). */
#include <x86intrin.h>
static inline uint64_t tsc_ticks_per_ms(void)
{
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    uint64_t c0 = __rdtsc();
    struct timespec d = { 0, 50000000 };
    nanosleep(&d, NULL);
    uint64_t c1 = __rdtsc();
    int64_t t1 = now_ns(CLOCK_MONOTONIC);
    uint64_t r = (c1 - c0) * 1000000 / (uint64_t)(t1 - t0);
    CHECK(r > 100000, "TSC runs at %llu ticks/ms?", (unsigned long long)r);
    return r;
}

static inline struct timespec ns_to_ts(int64_t ns)
{
    struct timespec ts;
    ts.tv_sec = ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    return ts;
}

static inline int64_t ts_to_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* True when running under the libgrun preload (it exports grun_version). */
static inline bool under_grun(void)
{
    return dlsym(RTLD_DEFAULT, "grun_version") != NULL;
}

/* Number of Ps libgrun uses: GRUN_MAXPROCS, else the CPUs we may run on. */
static inline int grun_maxprocs(void)
{
    const char *s = getenv("GRUN_MAXPROCS");
    if (s && atoi(s) > 0)
        return atoi(s);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
    return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/* "Threads:" from /proc/self/status: kernel tasks in this process. */
static inline int os_thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    fclose(f);
    return n;
}

/* A gate: threads wait until `count` reaches `target`. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;
};
#define GATE_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }

static inline void gate_add(struct gate *g, int n)
{
    PT(pthread_mutex_lock(&g->mu));
    g->count += n;
    PT(pthread_cond_broadcast(&g->cv));
    PT(pthread_mutex_unlock(&g->mu));
}

static inline void gate_wait(struct gate *g, int target)
{
    PT(pthread_mutex_lock(&g->mu));
    while (g->count < target)
        PT(pthread_cond_wait(&g->cv, &g->mu));
    PT(pthread_mutex_unlock(&g->mu));
}

/* Arrive and wait for `n` arrivals: a barrier made of a mutex and a cond. */
static inline void gate_meet(struct gate *g, int n)
{
    gate_add(g, 1);
    gate_wait(g, n);
}

#endif
