/* bench.h — small helpers shared by the benchmark and demo programs:
 * a monotonic clock, one field of a /proc/.../status file, and which
 * runtime this process runs on (native glibc threads or the libgrun
 * preload, read from /proc/self/maps so the programs stay unmodified
 * pthread code that never calls libgrun). */
#ifndef BENCH_H
#define BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The number after "key:" in a status file such as /proc/self/status
 * (kB for the Vm* fields, a count for Threads); -1 if absent. */
static inline long proc_status(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	size_t n = strlen(key);
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* "libgrun" if the preload is mapped into this process, else "native". */
static inline const char *runtime_name(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	const char *r = "native";

	if (!f)
		return "unknown";
	while (fgets(line, sizeof line, f)) {
		if (strstr(line, "/libgrun.so")) {
			r = "libgrun";
			break;
		}
	}
	fclose(f);
	return r;
}

/* A second thread parked in a condition wait for the whole run, so that
 * libgrun's runtime is fully up (it starts at the first pthread_create)
 * even in a single-threaded benchmark. bench_idle_start/stop bracket it. */
#include <pthread.h>
static pthread_mutex_t bench_idle_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bench_idle_cv = PTHREAD_COND_INITIALIZER;
static int bench_idle_done;
static pthread_t bench_idle_thread;

static void *bench_idle(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&bench_idle_mu);
	while (!bench_idle_done)
		pthread_cond_wait(&bench_idle_cv, &bench_idle_mu);
	pthread_mutex_unlock(&bench_idle_mu);
	return NULL;
}

static inline int bench_idle_start(void)
{
	return pthread_create(&bench_idle_thread, NULL, bench_idle, NULL);
}

static inline void bench_idle_stop(void)
{
	pthread_mutex_lock(&bench_idle_mu);
	bench_idle_done = 1;
	pthread_cond_signal(&bench_idle_cv);
	pthread_mutex_unlock(&bench_idle_mu);
	pthread_join(bench_idle_thread, NULL);
}

#endif
