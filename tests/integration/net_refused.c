/* net_refused - connect() to a port on 127.0.0.1 where nothing listens
 * fails with ECONNREFUSED, as the kernel reports it; scripts/test runs it
 * with GRUN_MAXPROCS=1.
 * The port is held by a socket that is bound but not listening, so no
 * other process can start listening there during the test.
 *  - a blocking connect(): -1/ECONNREFUSED, promptly (< 2 s);
 *  - the same socket's SO_ERROR is then 0 (the error was reported once);
 *  - a non-blocking connect(): -1/ECONNREFUSED at once, or EINPROGRESS
 *    and then poll() reports the error and SO_ERROR is ECONNREFUSED;
 *  - 50 threads connecting to the closed port at once: all ECONNREFUSED;
 *  - control: a connect() to a listening socket succeeds, and the
 *    connecting socket's file status flags are unchanged (no O_NONBLOCK
 *    left behind). */
#include "netutil.h"

static int closed_port;

#define NT 50
static void *refused(void *arg)
{
    int fd = dial(closed_port);
    CHECK(fd == -1 && errno == ECONNREFUSED, "thread connect: %d, %s", fd, strerror(errno));
    return NULL;
}

int main(void)
{
    struct sockaddr_in a = local_addr(0);
    socklen_t len = sizeof a;
    int holder = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(holder >= 0 && bind(holder, (struct sockaddr *)&a, sizeof a) == 0 &&
          getsockname(holder, (struct sockaddr *)&a, &len) == 0, "bind: %s", strerror(errno));
    closed_port = ntohs(a.sin_port);

    /* Blocking. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0, "socket");
    int flags = fcntl(fd, F_GETFL);
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    int r = connect(fd, (struct sockaddr *)&a, sizeof a);
    int e = errno;
    CHECK(r == -1 && e == ECONNREFUSED, "blocking connect: %d, %s", r, strerror(e));
    CHECK(ms_since(t0) < 2000, "ECONNREFUSED took %lld ms", (long long)ms_since(t0));
    int soerr = -1;
    len = sizeof soerr;
    CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0,
          "SO_ERROR after a reported refusal: %d", soerr);
    CHECK(fcntl(fd, F_GETFL) == flags, "connect changed the file status flags: %#x -> %#x", flags,
          fcntl(fd, F_GETFL));
    close(fd);
    printf("blocking connect to a closed port: ECONNREFUSED, SO_ERROR then 0: OK\n");

    /* Non-blocking. */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CHECK(fd >= 0, "socket");
    r = connect(fd, (struct sockaddr *)&a, sizeof a);
    e = errno;
    CHECK(r == -1 && (e == ECONNREFUSED || e == EINPROGRESS), "non-blocking connect: %d, %s", r,
          strerror(e));
    if (e == EINPROGRESS) {
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        CHECK(poll(&p, 1, 5000) == 1 && (p.revents & (POLLERR | POLLHUP)), "poll: revents %#x",
              p.revents);
        len = sizeof soerr;
        CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == ECONNREFUSED,
              "SO_ERROR %d, want ECONNREFUSED", soerr);
    }
    close(fd);
    printf("non-blocking connect to a closed port: ECONNREFUSED: OK\n");

    static pthread_t th[NT];
    for (int i = 0; i < NT; i++)
        PT(pthread_create(&th[i], NULL, refused, NULL));
    for (int i = 0; i < NT; i++)
        PT(pthread_join(th[i], NULL));
    printf("%d threads connecting at once: all ECONNREFUSED: OK\n", NT);

    /* Control: a listening port. */
    int port, l = listen_local(4, &port);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    flags = fcntl(fd, F_GETFL);
    a = local_addr(port);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect to a listening port: %s",
          strerror(errno));
    CHECK(fcntl(fd, F_GETFL) == flags, "connect changed the file status flags: %#x -> %#x", flags,
          fcntl(fd, F_GETFL));
    int c = accept(l, NULL, NULL);
    CHECK(c >= 0, "accept");
    write_full(fd, "ping", 4);
    char buf[4];
    CHECK(read_full(c, buf, 4) == 4 && memcmp(buf, "ping", 4) == 0, "data after connect");
    printf("control: connect to a listening port works, flags unchanged: OK\n");
    close(c);
    close(fd);
    close(l);
    close(holder);
    return 0;
}
