/* echo — thread-per-connection echo benchmark: this program is the load
 * generator; it always runs natively, in its own process, and starts the
 * server as a child process for each connection count.
 *
 * Server: bench_echo_server (echo_server.c, one pthread per connection,
 * blocking read/write), or with --server PATH another program that speaks
 * the same (the Go goroutine-per-connection server, echo.go). When this
 * program is started with LD_PRELOAD set (scripts/bench's libgrun run), it
 * re-executes itself without it first and gives it to the server only: the
 * load generator stays native, the server runs under libgrun. The server
 * gets BENCH_ECHO_ROLE=server in its environment and must print
 * "PORT <port> runtime=<name>" on stdout.
 *
 * For each count C (comma-separated, default 1000,10000):
 *  - start the server, read its port, note its VmRSS (the baseline);
 *  - open C connections to 127.0.0.1, 500 at a time, each checked with one
 *    64-byte round trip before the next batch (so the server really holds
 *    every connection with a thread or goroutine of its own);
 *  - closed loop: every connection always has exactly one 64-byte request
 *    outstanding; the next one is sent as soon as the reply is complete.
 *    THREADS (2) epoll threads drive the connections, non-blocking. 0.5 s
 *    of warm-up, then SECONDS (3) measured: requests completed in the
 *    window, and the latency of each (send of the request to the last
 *    byte of the reply);
 *  - every reply must equal its request byte for byte (the request carries
 *    the connection number and a sequence number);
 *  - the server's /proc/PID/status is sampled every 100 ms during warm-up
 *    and measurement: the largest Threads value, and VmRSS at mid-window;
 *  - stop sending, wait for the outstanding replies, close everything,
 *    kill the server.
 * Output, one line per count C (echo_1k for 1000, echo_10k, ...):
 *   RESULT name=echo_10k runtime=<server's> threads=C ns_per_req=X
 *          p50_us=X p99_us=X os_threads=N rss_per_conn_bytes=N ok=1
 * ns_per_req = window / requests completed (requests/s = 1e9 / ns_per_req);
 * rss_per_conn_bytes = (VmRSS at mid-window - baseline VmRSS) / C.
 * ok=0 when a connection failed, a reply was wrong or missing, or the
 * server died. The per-process open-files limit must allow C + 16 here
 * and in the server (this program raises its soft limit to the hard one;
 * the server inherits it).
 * Usage: bench_echo [COUNTS] [--server PATH] [--seconds S] [--threads T]
 * Go equivalent: echo.go (the server; it runs this program as its load
 * generator). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MSG 64
#define BATCH 500
#define MAXT 16

struct conn {
	int fd;
	int got;            /* reply bytes received for the outstanding request */
	uint32_t seq;
	double sent_ns;
	char out[MSG];
};

struct worker {
	pthread_t t;
	int id;
	struct conn *c;     /* connections id, id + T, id + 2T, ... */
	long n;
	long done;          /* requests completed in the window */
	long errors;
	uint32_t *lat;      /* latencies in the window, ns (capped) */
	long nlat, caplat;
};

static _Atomic int phase;   /* 0 warm-up, 1 measuring, 2 stopping */
static int nthreads = 2;
static double seconds = 3.0;
static long nconn;
static struct conn *conns;
static int stride;

static void fill(struct conn *c, long id)
{
	uint32_t s = (uint32_t)id * 2654435761u ^ c->seq * 40503u;
	memcpy(c->out, &id, sizeof id);
	memcpy(c->out + 8, &c->seq, sizeof c->seq);
	for (int i = 12; i < MSG; i++) {
		s ^= s << 13, s ^= s >> 17, s ^= s << 5;
		c->out[i] = (char)s;
	}
}

static int send_req(struct conn *c, long id)
{
	c->seq++;
	fill(c, id);
	c->got = 0;
	c->sent_ns = now_ns();
	ssize_t w = send(c->fd, c->out, MSG, MSG_NOSIGNAL);
	return w == MSG ? 0 : -1; /* 64 bytes into an idle socket: all or an error */
}

static void *drive(void *arg)
{
	struct worker *w = arg;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event evs[512];
	long inflight = 0;
	double drain_deadline = 0;

	if (ep < 0) {
		w->errors = w->n;
		return NULL;
	}
	for (long k = 0; k < w->n; k++) {
		long id = w->id + k * stride;
		struct conn *c = &conns[id];
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)id };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) || send_req(c, id)) {
			w->errors++;
			continue;
		}
		inflight++;
	}
	while (inflight > 0) {
		if (atomic_load(&phase) == 2) {
			if (drain_deadline == 0)
				drain_deadline = now_ns() + 10e9;
			else if (now_ns() > drain_deadline)
				break;
		}
		int n = epoll_wait(ep, evs, 512, 100);
		for (int i = 0; i < n; i++) {
			long id = (long)evs[i].data.u64;
			struct conn *c = &conns[id];
			char in[MSG];
			ssize_t r = recv(c->fd, in + 0, MSG - c->got, MSG_DONTWAIT);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0 || memcmp(in, c->out + c->got, (size_t)r) != 0) {
				if (w->errors++ < 3)
					fprintf(stderr, "echo: connection %ld: %s\n", id,
						r < 0 ? strerror(errno) : r == 0 ? "EOF" : "reply differs from request");
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				inflight--;
				continue;
			}
			c->got += (int)r;
			if (c->got < MSG)
				continue;
			double t = now_ns();
			int ph = atomic_load(&phase);
			if (ph == 1) {
				w->done++;
				if (w->nlat == w->caplat) {
					w->caplat = w->caplat ? 2 * w->caplat : 65536;
					w->lat = realloc(w->lat, w->caplat * sizeof *w->lat);
					if (!w->lat) {
						fprintf(stderr, "echo: out of memory\n");
						exit(1);
					}
				}
				double ns = t - c->sent_ns;
				w->lat[w->nlat++] = ns > 4e9 ? 4000000000u : (uint32_t)ns;
			}
			if (ph == 2) {
				inflight--;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			} else if (send_req(c, id)) {
				w->errors++;
				inflight--;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			}
		}
	}
	if (inflight > 0) {
		fprintf(stderr, "echo: %ld replies still missing 10 s after the end\n", inflight);
		w->errors += inflight;
	}
	close(ep);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static char preload[4096];
static int failed;          /* some count failed: exit status 1 */
static const char *server_path;

static pid_t start_server(int *port, char *runtime, size_t rlen)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(p[1], 1);
		setenv("BENCH_ECHO_ROLE", "server", 1);
		if (preload[0])
			setenv("LD_PRELOAD", preload, 1);
		execl(server_path, server_path, (char *)NULL);
		fprintf(stderr, "echo: cannot run %s: %s\n", server_path, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	char line[256];
	size_t have = 0;
	while (have < sizeof line - 1) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		if (poll(&pf, 1, 20000) <= 0)
			break;
		ssize_t r = read(p[0], line + have, sizeof line - 1 - have);
		if (r <= 0)
			break;
		have += r;
		if (memchr(line, '\n', have))
			break;
	}
	close(p[0]); /* the server never writes again */
	line[have] = '\0';
	if (sscanf(line, "PORT %d runtime=%31s", port, runtime) != 2) {
		fprintf(stderr, "echo: server said \"%s\"\n", line);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	(void)rlen;
	return pid;
}

static int dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 20 };
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

/* One 64-byte round trip, blocking (with the 20 s socket timeouts). */
static int check_conn(struct conn *c, long id)
{
	char in[MSG];
	if (send_req(c, id))
		return -1;
	for (int got = 0; got < MSG;) {
		ssize_t r = recv(c->fd, in + got, MSG - got, 0);
		if (r <= 0)
			return -1;
		got += r;
	}
	return memcmp(in, c->out, MSG) ? -1 : 0;
}

static void run(long count)
{
	char name[32], runtime[32] = "?";
	int port = 0;
	struct worker w[MAXT];
	long os_threads = 0, rss_mid = -1, errors = 0, done = 0, nlat = 0;
	double p50 = 0, p99 = 0, window = 0;

	if (count % 1000 == 0)
		snprintf(name, sizeof name, "echo_%ldk", count / 1000);
	else
		snprintf(name, sizeof name, "echo_%ld", count);
	nconn = count;
	conns = calloc(count, sizeof *conns);
	memset(w, 0, sizeof w);
	pid_t pid = start_server(&port, runtime, sizeof runtime);
	if (pid < 0 || !conns) {
		printf("RESULT name=%s runtime=%s threads=%ld ok=0\n", name, runtime, count);
		fflush(stdout);
		failed = 1;
		free(conns);
		return;
	}
	char status[64];
	snprintf(status, sizeof status, "/proc/%d/status", (int)pid);
	long rss_base = proc_status(status, "VmRSS");

	long opened = 0;
	double t0 = now_ns();
	for (; opened < count; opened++) {
		conns[opened].fd = dial(port);
		if (conns[opened].fd < 0) {
			fprintf(stderr, "echo: %s: connection %ld: %s\n", name, opened, strerror(errno));
			break;
		}
		if ((opened + 1) % BATCH == 0 || opened + 1 == count) {
			for (long i = opened + 1 - ((opened % BATCH) + 1); i <= opened; i++)
				if (check_conn(&conns[i], i)) {
					fprintf(stderr, "echo: %s: connection %ld: first round trip failed: %s\n",
						name, i, strerror(errno));
					errors++;
				}
			if (errors)
				break;
		}
	}
	fprintf(stderr, "echo: %s: %ld connections open in %.1f s\n", name, opened, (now_ns() - t0) / 1e9);
	if (opened < count || errors)
		goto out;
	for (long i = 0; i < count; i++)
		fcntl(conns[i].fd, F_SETFL, O_NONBLOCK);

	int nt = nthreads < count ? nthreads : (int)count;
	stride = nt;
	atomic_store(&phase, 0);
	for (int i = 0; i < nt; i++) {
		w[i].id = i;
		w[i].n = (count - i + nt - 1) / nt;
		if (pthread_create(&w[i].t, NULL, drive, &w[i])) {
			fprintf(stderr, "echo: pthread_create failed\n");
			exit(1);
		}
	}
	double start = now_ns(), wstart = 0;
	for (int tick = 0;; tick++) {
		double t = now_ns();
		if (wstart == 0 && t >= start + 0.5e9) {
			wstart = now_ns();
			atomic_store(&phase, 1);
		}
		if (wstart && t >= wstart + seconds * 1e9) {
			atomic_store(&phase, 2);
			window = now_ns() - wstart;
			break;
		}
		long th = proc_status(status, "Threads");
		if (th > os_threads)
			os_threads = th;
		if (wstart && rss_mid < 0 && t >= wstart + seconds * 0.5e9)
			rss_mid = proc_status(status, "VmRSS");
		usleep(100000);
	}
	for (int i = 0; i < nt; i++) {
		pthread_join(w[i].t, NULL);
		errors += w[i].errors;
		done += w[i].done;
		nlat += w[i].nlat;
	}
	uint32_t *all = malloc((nlat ? nlat : 1) * sizeof *all);
	long k = 0;
	for (int i = 0; i < nt; i++) {
		if (all)
			memcpy(all + k, w[i].lat, w[i].nlat * sizeof *all);
		k += w[i].nlat;
		free(w[i].lat);
	}
	if (all && nlat) {
		qsort(all, nlat, sizeof *all, cmp_u32);
		p50 = all[(nlat - 1) / 2] / 1e3;
		p99 = all[(nlat * 99 + 99) / 100 - 1] / 1e3;
	}
	free(all);
out:
	for (long i = 0; i < opened; i++)
		close(conns[i].fd);
	int st = 0;
	pid_t dead = waitpid(pid, &st, WNOHANG);
	if (dead == pid) {
		fprintf(stderr, "echo: %s: the server died (status %#x)\n", name, st);
		errors++;
	} else {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	int ok = opened == count && errors == 0 && done > 0;
	failed |= !ok;
	printf("RESULT name=%s runtime=%s threads=%ld", name, runtime, count);
	if (ok)
		printf(" ns_per_req=%.1f p50_us=%.1f p99_us=%.1f os_threads=%ld rss_per_conn_bytes=%.0f",
		       window / done, p50, p99, os_threads, (rss_mid - rss_base) * 1024.0 / count);
	printf(" ok=%d\n", ok);
	fflush(stdout);
	if (ok)
		fprintf(stderr, "echo: %s: %.0f requests/s, server %s\n", name, done / (window / 1e9), runtime);
	free(conns);
	conns = NULL;
}

int main(int argc, char **argv)
{
	const char *counts = "1000,10000";
	static char self_dir[4096];

	/* Started under a preload (scripts/bench's libgrun run): hand it to the
	 * server only and run this process natively. */
	const char *pre = getenv("LD_PRELOAD");
	if (pre && *pre && !getenv("BENCH_ECHO_PRELOAD")) {
		setenv("BENCH_ECHO_PRELOAD", pre, 1);
		unsetenv("LD_PRELOAD");
		execv("/proc/self/exe", argv);
		perror("echo: re-exec without LD_PRELOAD");
		return 1;
	}
	if (getenv("BENCH_ECHO_PRELOAD"))
		snprintf(preload, sizeof preload, "%s", getenv("BENCH_ECHO_PRELOAD"));
	unsetenv("BENCH_ECHO_PRELOAD");

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--server") && i + 1 < argc)
			server_path = argv[++i];
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nthreads = atoi(argv[++i]);
		else if (argv[i][0] != '-')
			counts = argv[i];
		else {
			fprintf(stderr, "usage: bench_echo [COUNTS] [--server PATH] [--seconds S] [--threads T]\n");
			return 2;
		}
	}
	if (seconds <= 0 || nthreads < 1 || nthreads > MAXT) {
		fprintf(stderr, "echo: bad --seconds or --threads\n");
		return 2;
	}
	if (!server_path) {
		ssize_t n = readlink("/proc/self/exe", self_dir, sizeof self_dir - 64);
		if (n <= 0)
			return 1;
		self_dir[n] = '\0';
		char *slash = strrchr(self_dir, '/');
		strcpy(slash + 1, "bench_echo_server");
		server_path = self_dir;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);

	char *list = strdup(counts), *save = NULL;
	for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		long c = atol(tok);
		if (c <= 0 || (rlim_t)c + 16 > rl.rlim_cur) {
			fprintf(stderr, "echo: count %s: must be 1..%ld (open-files limit %ld)\n", tok,
				(long)rl.rlim_cur - 16, (long)rl.rlim_cur);
			printf("RESULT name=echo_%s runtime=? ok=0\n", tok);
			failed = 1;
			continue;
		}
		run(c);
	}
	free(list);
	return failed;
}
