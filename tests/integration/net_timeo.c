/* net_timeo - SO_RCVTIMEO and SO_SNDTIMEO on blocking sockets: on expiry
 * the call fails with EAGAIN (== EWOULDBLOCK) no earlier than the timeout,
 * as the kernel does; scripts/test runs it with GRUN_MAXPROCS=1.
 *  - recv(), read() and recvmsg() on an idle TCP socket with a 200 ms
 *    SO_RCVTIMEO: -1/EAGAIN after >= 200 ms (and well before 2 s);
 *  - the option reads back as the kernel stores it (1234 us is rounded to
 *    the kernel's tick natively; the same value must come back);
 *  - data arriving before the timeout is returned at once;
 *  - recv(MSG_WAITALL) with part of the data there: the partial count
 *    after the timeout, not EAGAIN; without a timeout it waits for all;
 *  - accept() with SO_RCVTIMEO on the listening socket: -1/EAGAIN;
 *  - send() into a full AF_UNIX socket with SO_SNDTIMEO 150 ms:
 *    -1/EAGAIN after >= 150 ms;
 *  - 50 threads waiting at once, each on its own socket pair with 300 ms:
 *    all expire, together (the whole batch takes < 3 s, i.e. the waits
 *    overlap instead of running one after another). */
#include "netutil.h"

static void set_timeo(int fd, int opt, long us)
{
    struct timeval tv = { .tv_sec = us / 1000000, .tv_usec = us % 1000000 };
    CHECK(setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) == 0, "setsockopt: %s", strerror(errno));
}

static long get_timeo(int fd, int opt)
{
    struct timeval tv;
    socklen_t len = sizeof tv;
    CHECK(getsockopt(fd, SOL_SOCKET, opt, &tv, &len) == 0 && len == sizeof tv, "getsockopt");
    return tv.tv_sec * 1000000L + tv.tv_usec;
}

/* Runs one expiring call; checks -1/EAGAIN after [min_ms, 2000) ms. */
#define EXPIRES(call, min_ms, what)                                                   \
    do {                                                                              \
        int64_t t0_ = now_ns(CLOCK_MONOTONIC);                                        \
        errno = 0;                                                                    \
        long r_ = (long)(call);                                                       \
        int e_ = errno;                                                               \
        int64_t ms_ = ms_since(t0_);                                                  \
        CHECK(r_ == -1 && e_ == EAGAIN, "%s: returned %ld, errno %s, want -1/EAGAIN", \
              what, r_, strerror(e_));                                                \
        CHECK(ms_ >= (min_ms) && ms_ < 2000, "%s: expired after %lld ms, want >= %d", \
              what, (long long)ms_, (min_ms));                                        \
        printf("%s: EAGAIN after >= %d ms: OK\n", what, (min_ms));                    \
    } while (0)

static int late_fd;
static void *late_sender(void *arg)
{
    usleep(50000);
    write_full(late_fd, arg, strlen(arg));
    return NULL;
}

#define NWAIT 50
static void *waiter(void *arg)
{
    int sv[2];
    char c;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    set_timeo(sv[0], SO_RCVTIMEO, 300000);
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    ssize_t r = recv(sv[0], &c, 1, 0);
    int e = errno;
    int64_t ms = ms_since(t0);
    CHECK(r == -1 && e == EAGAIN && ms >= 300, "waiter: %zd, %s after %lld ms", r, strerror(e),
          (long long)ms);
    close(sv[0]);
    close(sv[1]);
    return NULL;
}

int main(void)
{
    int fds[2], sv[2];
    char buf[256];
    struct iovec iov = { buf, sizeof buf };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

    signal(SIGPIPE, SIG_IGN);
    tcp_pair(fds);
    set_timeo(fds[0], SO_RCVTIMEO, 200000);
    printf("SO_RCVTIMEO 200000 us reads back as %ld us\n", get_timeo(fds[0], SO_RCVTIMEO));
    EXPIRES(recv(fds[0], buf, sizeof buf, 0), 200, "recv with SO_RCVTIMEO 200 ms");
    EXPIRES(read(fds[0], buf, sizeof buf), 200, "read with SO_RCVTIMEO 200 ms");
    EXPIRES(recvmsg(fds[0], &mh, 0), 200, "recvmsg with SO_RCVTIMEO 200 ms");

    set_timeo(fds[1], SO_RCVTIMEO, 1234);
    printf("SO_RCVTIMEO 1234 us reads back as %ld us\n", get_timeo(fds[1], SO_RCVTIMEO));

    /* Data before the timeout. */
    pthread_t t;
    set_timeo(fds[0], SO_RCVTIMEO, 1000000);
    late_fd = fds[1];
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    PT(pthread_create(&t, NULL, late_sender, "early"));
    ssize_t n = recv(fds[0], buf, sizeof buf, 0);
    int64_t ms = ms_since(t0);
    CHECK(n == 5 && memcmp(buf, "early", 5) == 0, "recv got %zd bytes", n);
    CHECK(ms >= 50 && ms < 1000, "data sent at 50 ms arrived after %lld ms", (long long)ms);
    PT(pthread_join(t, NULL));
    printf("data arriving before SO_RCVTIMEO is returned at once: OK\n");

    /* MSG_WAITALL: partial data, then the timeout. */
    set_timeo(fds[0], SO_RCVTIMEO, 200000);
    write_full(fds[1], "0123456789", 10);
    t0 = now_ns(CLOCK_MONOTONIC);
    n = recv(fds[0], buf, 100, MSG_WAITALL);
    ms = ms_since(t0);
    CHECK(n == 10 && memcmp(buf, "0123456789", 10) == 0, "recv(MSG_WAITALL) returned %zd (%s)", n,
          n < 0 ? strerror(errno) : "");
    CHECK(ms >= 200 && ms < 2000, "recv(MSG_WAITALL) returned after %lld ms", (long long)ms);
    printf("recv(MSG_WAITALL) returns the partial count after SO_RCVTIMEO: OK\n");

    /* MSG_WAITALL without a timeout: waits for the rest. */
    set_timeo(fds[0], SO_RCVTIMEO, 0);
    write_full(fds[1], "0123456789", 10);
    t0 = now_ns(CLOCK_MONOTONIC);
    PT(pthread_create(&t, NULL, late_sender, "abcdefghij"));
    n = recv(fds[0], buf, 20, MSG_WAITALL);
    ms = ms_since(t0);
    CHECK(n == 20 && memcmp(buf, "0123456789abcdefghij", 20) == 0, "recv(MSG_WAITALL) returned %zd (%s)",
          n, n < 0 ? strerror(errno) : "");
    CHECK(ms >= 50, "recv(MSG_WAITALL) returned after %lld ms, before the rest was sent", (long long)ms);
    PT(pthread_join(t, NULL));
    printf("recv(MSG_WAITALL) without a timeout waits for the whole count: OK\n");
    close(fds[0]);
    close(fds[1]);

    /* accept() on a listening socket with SO_RCVTIMEO. */
    int port, l = listen_local(4, &port);
    set_timeo(l, SO_RCVTIMEO, 200000);
    EXPIRES(accept(l, NULL, NULL), 200, "accept with SO_RCVTIMEO 200 ms");
    close(l);

    /* send() into a full socket. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){ 4096 }, sizeof(int)) == 0, "SO_SNDBUF");
    memset(buf, 'x', sizeof buf);
    long queued = 0;
    for (;;) {
        ssize_t w = send(sv[0], buf, sizeof buf, MSG_DONTWAIT);
        if (w < 0) {
            CHECK(errno == EAGAIN, "filling: %s", strerror(errno));
            break;
        }
        queued += w;
    }
    CHECK(queued > 0, "nothing queued");
    set_timeo(sv[0], SO_SNDTIMEO, 150000);
    EXPIRES(send(sv[0], buf, sizeof buf, 0), 150, "send into a full socket with SO_SNDTIMEO 150 ms");
    EXPIRES(write(sv[0], buf, sizeof buf), 150, "write into a full socket with SO_SNDTIMEO 150 ms");
    close(sv[0]);
    close(sv[1]);

    /* Many waiters at once. */
    static pthread_t w[NWAIT];
    t0 = now_ns(CLOCK_MONOTONIC);
    for (int i = 0; i < NWAIT; i++)
        PT(pthread_create(&w[i], NULL, waiter, NULL));
    for (int i = 0; i < NWAIT; i++)
        PT(pthread_join(w[i], NULL));
    ms = ms_since(t0);
    CHECK(ms < 3000, "%d overlapping 300 ms timeouts took %lld ms", NWAIT, (long long)ms);
    printf("%d threads with SO_RCVTIMEO 300 ms expire together: OK\n", NWAIT);
    return 0;
}
