/* fork_latency — how long starting a child process takes from a threaded
 * program (a second thread is parked, so libgrun's runtime is fully up and
 * fork has to take its locks and reset the child).
 * Measures, N times each (default 500), one after another on the main
 * thread:
 *  - fork_wait_us:   fork(), the child _exit(0)s at once, waitpid;
 *  - spawn_true_us:  posix_spawn("/bin/true") + waitpid;
 *  - system_true_us: system("true") (/bin/sh -c true).
 * The mean of each in microseconds. Self-check: every child exited 0.
 * Output: RESULT name=fork_latency runtime=R ops=N fork_wait_us=X
 *         spawn_true_us=X system_true_us=X ok=1
 * Usage: bench_fork_latency [N]
 * Go equivalent: fork_latency.go (no bare fork in Go: spawn_true_us with
 * exec.Command("/bin/true").Run() and system_true_us with /bin/sh -c true). */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;
int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 500;
	if (n <= 0) {
		fprintf(stderr, "usage: bench_fork_latency [N]\n");
		return 2;
	}
	if (bench_idle_start() != 0)
		return 1;
	int ok = 1, st;
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		ok &= p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	double t1 = now_ns();
	char *av[] = { "true", NULL };
	for (long i = 0; i < n; i++) {
		pid_t p;
		ok &= posix_spawn(&p, "/bin/true", NULL, NULL, av, environ) == 0 &&
		      waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	double t2 = now_ns();
	for (long i = 0; i < n; i++) {
		st = system("true");
		ok &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	double t3 = now_ns();
	bench_idle_stop();
	if (!ok)
		fprintf(stderr, "fork_latency: a child did not exit 0\n");
	printf("RESULT name=fork_latency runtime=%s ops=%ld fork_wait_us=%.1f spawn_true_us=%.1f "
	       "system_true_us=%.1f ok=%d\n", runtime_name(), n, (t1 - t0) / n / 1e3, (t2 - t1) / n / 1e3,
	       (t3 - t2) / n / 1e3, ok);
	return ok ? 0 : 1;
}
