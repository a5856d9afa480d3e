/* echo_server — the server side of the echo benchmark (tests/bench/echo.c
 * starts it): a classic thread-per-connection TCP server written the way
 * legacy C servers are. An accept loop with blocking accept(), one detached
 * pthread per connection with default attributes, blocking read()/write()
 * of 64-byte messages, each echoed back as soon as it is complete.
 *
 * It listens on 127.0.0.1, on an ephemeral port, and prints one line
 *   PORT <port> runtime=<native|libgrun>
 * on stdout, then serves until it is killed. A connection thread ends at
 * EOF or on an error. It never exits by itself.
 * Usage: bench_echo_server */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define MSG 64

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[MSG];

	for (;;) {
		size_t got = 0;
		while (got < MSG) {
			ssize_t r = read(fd, buf + got, MSG - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				goto out;
			got += r;
		}
		for (size_t put = 0; put < MSG;) {
			ssize_t w = write(fd, buf + put, MSG - put);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				goto out;
			put += w;
		}
	}
out:
	close(fd);
	return NULL;
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 65535) ||
	    getsockname(lfd, (struct sockaddr *)&a, &len)) {
		perror("echo_server: listen on 127.0.0.1");
		return 1;
	}
	printf("PORT %d runtime=%s\n", ntohs(a.sin_port), runtime_name());
	fflush(stdout);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("echo_server: accept");
			usleep(1000); /* e.g. EMFILE: the load generator reports the failure */
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		pthread_t t;
		int err = pthread_create(&t, NULL, serve, (void *)(intptr_t)fd);
		if (err) {
			fprintf(stderr, "echo_server: pthread_create: %s\n", strerror(err));
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}
