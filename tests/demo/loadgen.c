/* demo_loadgen — load generator for demo_server; always runs natively, in
 * its own process.
 *
 * Opens C connections to 127.0.0.1:PORT (one pthread each), waits until all
 * are connected, then every connection sends R requests "GET n\n" one after
 * the other, n pseudo-random in 1..--size, and checks every reply byte and
 * its checksum line (demo.h). It measures the latency of each request
 * (write of the request until the last byte of the reply) and the wall time
 * from the common start until the last connection finished.
 * With --pid it also samples /proc/PID/status every 10 ms and reports the
 * largest Threads value seen: the server's peak number of OS threads.
 * Every socket call times out after --timeout seconds (SO_RCVTIMEO,
 * SO_SNDTIMEO), so it stops by itself even when the server hangs.
 * Output:
 *   RESULT name=demo_loadgen conns=C requests=C*R ok_requests=N errors=N
 *          seconds=S rps=X p50_us=X p99_us=X max_us=X [server_peak_threads=N] ok=1
 * where errors = requests not answered correctly (a failed connection
 * counts all its R requests). Exit status 1 if errors > 0.
 *
 * Usage: demo_loadgen --port P --conns C --requests R [--size N]
 *                     [--pid PID] [--timeout SECONDS] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "demo.h"

struct conn {
	int id;
	long ok;       /* requests answered correctly */
	double *lat;   /* latency of each correct request, microseconds */
};

static long port, conns, requests, size = 4096, timeout_s = 60, server_pid;
static pthread_barrier_t start;
static atomic_int reported;  /* errors printed so far; only the first few are */
static atomic_int done;      /* set when all workers finished: stops the sampler */

static void complain(int id, const char *what)
{
	if (atomic_fetch_add(&reported, 1) < 5)
		fprintf(stderr, "demo_loadgen: connection %d: %s%s%s\n", id, what,
			errno ? ": " : "", errno ? strerror(errno) : "");
}

static int dial(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = timeout_s };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int)) ||
	    connect(fd, (struct sockaddr *)&a, sizeof a)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads exactly len bytes; -1 on error, timeout or early EOF. */
static int read_full(int fd, char *p, size_t len)
{
	while (len > 0) {
		ssize_t r = read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= r;
	}
	return 0;
}

static int is_correct(const char *buf, long n)
{
	char want[SUM_LINE_LEN + 1];

	for (long i = 0; i < n; i++)
		if (buf[i] != demo_byte(n, i))
			return 0;
	snprintf(want, sizeof want, "SUM %08x\n", fnv1a(FNV_INIT, buf, n));
	return memcmp(buf + n, want, SUM_LINE_LEN) == 0;
}

static void *worker(void *arg)
{
	struct conn *c = arg;
	uint32_t seed = 2463534242u + c->id; /* xorshift32: same sizes every run */
	char *buf = malloc(size + SUM_LINE_LEN);
	int fd = dial();

	if (fd < 0)
		complain(c->id, "connect");
	pthread_barrier_wait(&start);
	if (fd < 0 || !buf)
		goto out;
	for (long r = 0; r < requests; r++) {
		seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
		long n = 1 + seed % size;
		char req[32];
		int len = snprintf(req, sizeof req, "GET %ld\n", n);

		double t0 = now_ns();
		errno = 0;
		if (write(fd, req, len) != len || read_full(fd, buf, n + SUM_LINE_LEN)) {
			complain(c->id, "request failed");
			break;
		}
		double t1 = now_ns();
		if (!is_correct(buf, n)) {
			errno = 0;
			complain(c->id, "wrong reply");
			break;
		}
		c->lat[c->ok++] = (t1 - t0) / 1e3;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* Samples the server's Threads count until the run is over. */
static void *sampler(void *arg)
{
	long *peak = arg;
	char path[64];

	snprintf(path, sizeof path, "/proc/%ld/status", server_pid);
	while (!atomic_load(&done)) {
		long t = proc_status(path, "Threads");
		if (t > *peak)
			*peak = t;
		usleep(10000);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		long v = atol(argv[i + 1]);
		if (!strcmp(argv[i], "--port")) port = v;
		else if (!strcmp(argv[i], "--conns")) conns = v;
		else if (!strcmp(argv[i], "--requests")) requests = v;
		else if (!strcmp(argv[i], "--size")) size = v;
		else if (!strcmp(argv[i], "--pid")) server_pid = v;
		else if (!strcmp(argv[i], "--timeout")) timeout_s = v;
		else port = 0; /* unknown option: fail the check below */
	}
	if (port <= 0 || port > 65535 || conns <= 0 || requests <= 0 || size <= 0 ||
	    size > MAX_REPLY || timeout_s <= 0 || argc % 2 == 0) {
		fprintf(stderr, "usage: demo_loadgen --port P --conns C --requests R [--size N] "
				"[--pid PID] [--timeout SECONDS]\n");
		return 2;
	}

	struct conn *c = calloc(conns, sizeof *c);
	pthread_t *t = calloc(conns, sizeof *t);
	pthread_t st;
	pthread_attr_t attr;
	long peak_threads = -1;

	if (!c || !t)
		return 1;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	pthread_barrier_init(&start, NULL, conns + 1);
	if (server_pid > 0 && pthread_create(&st, NULL, sampler, &peak_threads))
		server_pid = 0;
	for (long i = 0; i < conns; i++) {
		c[i].id = i;
		c[i].lat = malloc(requests * sizeof(double));
		if (!c[i].lat || pthread_create(&t[i], &attr, worker, &c[i])) {
			fprintf(stderr, "demo_loadgen: cannot start connection thread %ld\n", i);
			return 1;
		}
	}
	pthread_barrier_wait(&start);
	double t0 = now_ns();
	for (long i = 0; i < conns; i++)
		pthread_join(t[i], NULL);
	double secs = (now_ns() - t0) / 1e9;
	atomic_store(&done, 1);
	if (server_pid > 0)
		pthread_join(st, NULL);

	long ok = 0;
	for (long i = 0; i < conns; i++)
		ok += c[i].ok;
	double *all = malloc((ok ? ok : 1) * sizeof *all);
	long k = 0;
	for (long i = 0; i < conns; i++)
		for (long j = 0; j < c[i].ok; j++)
			all[k++] = c[i].lat[j];
	qsort(all, ok, sizeof *all, cmp_double);

	long errors = conns * requests - ok;
	printf("RESULT name=demo_loadgen conns=%ld requests=%ld ok_requests=%ld errors=%ld seconds=%.3f",
	       conns, conns * requests, ok, errors, secs);
	if (ok)
		printf(" rps=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f", ok / secs,
		       all[(ok - 1) / 2], all[(ok * 99 + 99) / 100 - 1], all[ok - 1]);
	if (server_pid > 0 && peak_threads > 0)
		printf(" server_peak_threads=%ld", peak_threads);
	printf(" ok=%d\n", errors == 0);
	return errors == 0 ? 0 : 1;
}
