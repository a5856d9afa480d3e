/* late_accept - blocking connect() that has to wait for its peer; scripts/
 * test runs it with GRUN_MAXPROCS=1.
 * The listening socket has backlog 0: its accept queue holds one
 * connection, and Linux drops further SYNs while it is full (the client
 * retransmits its SYN after 1 s). The server thread starts accepting only
 * after 600 ms, serving each connection from a thread of its own (echo one
 * byte).
 *  - c1 connects at once (it fills the queue) and sends a byte;
 *  - c3, with SO_SNDTIMEO 200 ms: the blocking connect fails with
 *    EINPROGRESS after >= 200 ms (Linux's answer to a connect timeout), and
 *    the connection goes on in the background: later poll(POLLOUT) reports
 *    it established and SO_ERROR is 0;
 *  - c2, no timeout: the blocking connect returns 0 only after the server
 *    began accepting (>= 600 ms after start), and the connection works;
 *  - meanwhile a ticker thread keeps running (>= 20 ticks of 10 ms while
 *    main is blocked in connect): the wait blocks only the caller. */
#include "netutil.h"

static int lfd;
static _Atomic int ticks, stop_ticker;

static void *echo1(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char c;
    CHECK(read(fd, &c, 1) == 1, "echo read: %s", strerror(errno));
    write_full(fd, &c, 1);
    close(fd);
    return NULL;
}

static void *late_server(void *arg)
{
    pthread_t th[3];
    usleep(600000);
    for (int i = 0; i < 3; i++) {
        int c = accept(lfd, NULL, NULL);
        CHECK(c >= 0, "accept: %s", strerror(errno));
        PT(pthread_create(&th[i], NULL, echo1, (void *)(intptr_t)c));
    }
    for (int i = 0; i < 3; i++)
        PT(pthread_join(th[i], NULL));
    return NULL;
}

static void *ticker(void *arg)
{
    while (!stop_ticker) {
        usleep(10000);
        ticks++;
    }
    return NULL;
}

static void roundtrip(int fd, char c, const char *what)
{
    char r;
    write_full(fd, &c, 1);
    CHECK(read(fd, &r, 1) == 1 && r == c, "%s: no echo", what);
}

int main(void)
{
    int port;
    pthread_t srv, tick;
    lfd = listen_local(0, &port);
    int64_t start = now_ns(CLOCK_MONOTONIC);

    int c1 = dial(port);
    CHECK(c1 >= 0, "c1 connect: %s", strerror(errno));
    write_full(c1, "1", 1);
    PT(pthread_create(&srv, NULL, late_server, NULL));
    PT(pthread_create(&tick, NULL, ticker, NULL));

    struct sockaddr_in a = local_addr(port);
    int c3 = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = { 0, 200000 };
    CHECK(c3 >= 0 && setsockopt(c3, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0, "c3 socket");
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    int r = connect(c3, (struct sockaddr *)&a, sizeof a);
    int e = errno;
    int64_t ms = ms_since(t0);
    CHECK(r == -1 && e == EINPROGRESS, "c3: connect with SO_SNDTIMEO returned %d (%s), want EINPROGRESS",
          r, strerror(e));
    CHECK(ms >= 200 && ms < 600, "c3: EINPROGRESS after %lld ms, want >= 200", (long long)ms);
    printf("blocking connect with SO_SNDTIMEO to a full accept queue: EINPROGRESS after >= 200 ms: OK\n");

    int before = ticks;
    int c2 = dial(port);
    CHECK(c2 >= 0, "c2 connect: %s", strerror(errno));
    ms = ms_since(start);
    CHECK(ms >= 600 && ms < 10000, "c2: connect returned after %lld ms, want >= 600", (long long)ms);
    CHECK(ticks - before >= 20, "only %d ticks while main was blocked in connect", ticks - before);
    printf("blocking connect waits until the peer accepts late, other threads run meanwhile: OK\n");

    struct pollfd pf = { .fd = c3, .events = POLLOUT };
    CHECK(poll(&pf, 1, 10000) == 1 && pf.revents == POLLOUT, "c3: poll revents %#x", pf.revents);
    int soerr = -1;
    socklen_t len = sizeof soerr;
    CHECK(getsockopt(c3, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0, "c3: SO_ERROR %d", soerr);
    printf("the timed-out connect completes in the background: OK\n");

    char x;
    CHECK(read(c1, &x, 1) == 1 && x == '1', "c1: no echo");
    roundtrip(c2, '2', "c2");
    roundtrip(c3, '3', "c3");
    printf("all three connections work: OK\n");
    PT(pthread_join(srv, NULL));
    stop_ticker = 1;
    PT(pthread_join(tick, NULL));
    close(c1);
    close(c2);
    close(c3);
    close(lfd);
    return 0;
}
