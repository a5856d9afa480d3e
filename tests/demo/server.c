/* demo_server — a classic thread-per-connection TCP server, written the way
 * legacy C servers are: an accept loop, one detached pthread per connection,
 * blocking read/write. It is the program `scripts/grun demo` runs natively
 * and under libgrun.
 *
 * Protocol (one request per line, any number per connection):
 *   client: "GET <n>\n"            1 <= n <= MAX_REPLY
 *   server: n bytes, byte i = demo_byte(n, i), then "SUM %08x\n" with the
 *           FNV-1a hash of those n bytes
 * Anything else gets "ERR\n" and the connection is closed.
 *
 * It binds 127.0.0.1 on an ephemeral port and writes the port number to the
 * --port-file. It stops by itself: after --conns connections have been
 * accepted and closed, or at --timeout seconds. At exit it prints
 *   RESULT name=demo_server runtime=native conns=N threads_created=N
 *          peak_open_conns=N requests=N errors=N vmhwm_kb=N ok=1
 * threads_created counts its own successful pthread_create calls and
 * vmhwm_kb is the peak RSS from /proc/self/status.
 *
 * Usage: demo_server --conns N --port-file FILE [--timeout SECONDS] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "demo.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t closed_cv = PTHREAD_COND_INITIALIZER; /* a connection closed */
static long open_conns;     /* connections being served; protected by mu */
static long peak_open;      /* max of open_conns; protected by mu */
static long closed_conns;   /* connections finished; protected by mu */
static atomic_long requests; /* requests answered */
static atomic_long errors;   /* malformed requests and failed writes */

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

/* Sends the reply to "GET n": n bytes in chunks, then the checksum line. */
static int reply(int fd, long n)
{
	char buf[4096];
	uint32_t h = FNV_INIT;

	for (long off = 0; off < n; off += sizeof buf) {
		size_t k = n - off < (long)sizeof buf ? (size_t)(n - off) : sizeof buf;
		for (size_t i = 0; i < k; i++)
			buf[i] = demo_byte(n, off + i);
		h = fnv1a(h, buf, k);
		if (write_all(fd, buf, k))
			return -1;
	}
	int len = snprintf(buf, sizeof buf, "SUM %08x\n", h);
	return write_all(fd, buf, len);
}

/* One connection: read lines with blocking read() until EOF. */
static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char line[64];
	size_t have = 0;

	for (;;) {
		char *nl = memchr(line, '\n', have);
		if (!nl) {
			if (have == sizeof line)
				goto bad; /* no newline in a full buffer */
			ssize_t r = read(fd, line + have, sizeof line - have);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break; /* EOF (or reset): the client is done */
			have += r;
			continue;
		}
		*nl = '\0';
		char *end;
		long n = strncmp(line, "GET ", 4) == 0 ? strtol(line + 4, &end, 10) : 0;
		if (n < 1 || n > MAX_REPLY || *end != '\0')
			goto bad;
		if (reply(fd, n)) {
			atomic_fetch_add(&errors, 1);
			break;
		}
		atomic_fetch_add(&requests, 1);
		have -= nl + 1 - line;
		memmove(line, nl + 1, have);
	}
	goto out;
bad:
	atomic_fetch_add(&errors, 1);
	write_all(fd, "ERR\n", 4); /* best effort: we close anyway */
out:
	close(fd);
	pthread_mutex_lock(&mu);
	open_conns--;
	closed_conns++;
	pthread_cond_signal(&closed_cv);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static int listen_local(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 4096) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		perror("demo_server: listen on 127.0.0.1");
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* Writes the port atomically (temp file + rename) so a reader never sees
 * a half-written number. */
static int write_port(const char *path, int port)
{
	char tmp[4096];

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) || rename(tmp, path)) {
		perror("demo_server: port file");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long conns = 0, timeout_s = 120;
	const char *port_file = NULL;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--conns"))
			conns = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--port-file"))
			port_file = argv[i + 1];
		else if (!strcmp(argv[i], "--timeout"))
			timeout_s = atol(argv[i + 1]);
	}
	if (conns <= 0 || !port_file || timeout_s <= 0 || argc % 2 == 0) {
		fprintf(stderr, "usage: demo_server --conns N --port-file FILE [--timeout SECONDS]\n");
		return 2;
	}
	int port, lfd = listen_local(&port);
	if (lfd < 0 || write_port(port_file, port))
		return 1;
	double deadline = now_ns() + timeout_s * 1e9;

	long accepted = 0, created = 0;
	while (accepted < conns && now_ns() < deadline) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		if (poll(&p, 1, 200) <= 0)
			continue; /* timeout or EINTR: check the deadline */
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			perror("demo_server: accept");
			continue;
		}
		accepted++;
		/* Data and checksum line go out in separate writes: without
		 * this, Nagle + delayed ACK add 40 ms to every request. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		pthread_mutex_lock(&mu);
		if (++open_conns > peak_open)
			peak_open = open_conns;
		pthread_mutex_unlock(&mu);

		pthread_t t;
		int err = pthread_create(&t, NULL, serve, (void *)(intptr_t)fd);
		if (err) {
			fprintf(stderr, "demo_server: pthread_create: %s\n", strerror(err));
			close(fd);
			pthread_mutex_lock(&mu);
			open_conns--;
			closed_conns++;
			pthread_mutex_unlock(&mu);
			atomic_fetch_add(&errors, 1);
			continue;
		}
		created++;
		pthread_detach(t);
	}

	pthread_mutex_lock(&mu);
	while (closed_conns < accepted && now_ns() < deadline) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&closed_cv, &mu, &ts);
	}
	int ok = accepted == conns && closed_conns == conns && atomic_load(&errors) == 0;
	if (accepted < conns || closed_conns < accepted)
		fprintf(stderr, "demo_server: timed out after %ld s: %ld of %ld connections accepted, %ld closed\n",
			timeout_s, accepted, conns, closed_conns);
	printf("RESULT name=demo_server runtime=%s conns=%ld threads_created=%ld peak_open_conns=%ld "
	       "requests=%ld errors=%ld vmhwm_kb=%ld ok=%d\n",
	       runtime_name(), accepted, created, peak_open, atomic_load(&requests),
	       atomic_load(&errors), proc_status("/proc/self/status", "VmHWM"), ok);
	pthread_mutex_unlock(&mu);
	fflush(stdout);
	_exit(ok ? 0 : 1); /* connection threads may still be blocked after a timeout */
}
