/* nonblock - a program that makes its descriptors non-blocking itself gets
 * EAGAIN exactly where it would natively, and a program that does not
 * never sees O_NONBLOCK or EAGAIN; scripts/test runs it with
 * GRUN_MAXPROCS=1.
 *  - O_NONBLOCK from pipe2(), fcntl(F_SETFL), ioctl(FIONBIO), SOCK_NONBLOCK,
 *    accept4(SOCK_NONBLOCK), eventfd(EFD_NONBLOCK), timerfd(TFD_NONBLOCK):
 *    reads of empty files fail at once with EAGAIN; writes into a full
 *    pipe or socket fail with EAGAIN (or write what fits); a non-blocking
 *    accept() with nothing pending fails with EAGAIN; a non-blocking
 *    connect() reports EINPROGRESS or succeeds, as natively;
 *  - MSG_DONTWAIT on a blocking socket: EAGAIN, the socket stays blocking;
 *  - F_GETFL always shows exactly the flags the program set: never an
 *    O_NONBLOCK it did not ask for, before or after blocking calls that
 *    waited (read, recv, accept, connect, write into a full pipe);
 *  - clearing O_NONBLOCK again makes read() block until a thread writes;
 *  - a descriptor made non-blocking through one fd is non-blocking through
 *    its dup() too (the flag belongs to the open file), as natively. */
#include "netutil.h"

#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>

#define EAGAIN_NOW(call, what)                                                         \
    do {                                                                               \
        int64_t t0_ = now_ns(CLOCK_MONOTONIC);                                         \
        errno = 0;                                                                     \
        long r_ = (long)(call);                                                        \
        int e_ = errno;                                                                \
        CHECK(r_ == -1 && e_ == EAGAIN, "%s: %ld (%s), want -1/EAGAIN", what, r_,      \
              strerror(e_));                                                           \
        CHECK(ms_since(t0_) < 500, "%s: EAGAIN took %lld ms", what,                     \
              (long long)ms_since(t0_));                                               \
        printf("%s: EAGAIN at once: OK\n", what);                                      \
    } while (0)

static void flags_are(int fd, int want, const char *what)
{
    int f = fcntl(fd, F_GETFL);
    CHECK(f >= 0, "F_GETFL: %s", strerror(errno));
    CHECK((f & O_NONBLOCK) == (want & O_NONBLOCK), "%s: F_GETFL %#x, O_NONBLOCK should be %s",
          what, f, want & O_NONBLOCK ? "set" : "clear");
}

static int late_fd;
static void *late_writer(void *arg)
{
    usleep(100000);
    write_full(late_fd, "late", 4);
    return NULL;
}

static int late_port, late_dialed;
static void *late_dialer(void *arg)
{
    usleep(100000);
    late_dialed = dial(late_port);
    CHECK(late_dialed >= 0, "late connect: %s", strerror(errno));
    flags_are(late_dialed, 0, "socket after a blocking connect");
    return NULL;
}

static void *late_reader(void *arg)
{
    usleep(100000);
    static char sink[1 << 16];
    size_t n = (size_t)(intptr_t)arg;
    CHECK(read_full(late_fd, sink, n) == n, "late reader");
    return NULL;
}

int main(void)
{
    char buf[65536];
    int p[2];
    pthread_t t;

    /* pipe2(O_NONBLOCK) */
    CHECK(pipe2(p, O_NONBLOCK) == 0, "pipe2");
    flags_are(p[0], O_NONBLOCK, "pipe2(O_NONBLOCK) read end");
    EAGAIN_NOW(read(p[0], buf, 1), "read of an empty O_NONBLOCK pipe");
    memset(buf, 'p', sizeof buf);
    long put = 0;
    for (;;) {
        ssize_t w = write(p[1], buf, sizeof buf);
        if (w < 0)
            break;
        put += w;
    }
    CHECK(errno == EAGAIN, "filling the pipe ended with %s", strerror(errno));
    EAGAIN_NOW(write(p[1], buf, 1), "write of 1 byte into a full O_NONBLOCK pipe");
    printf("a full O_NONBLOCK pipe took %ld bytes\n", put);

    /* Clear O_NONBLOCK on the write end: the write now blocks until a
     * thread reads. */
    CHECK(fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) & ~O_NONBLOCK) == 0, "F_SETFL");
    flags_are(p[1], 0, "write end after clearing O_NONBLOCK");
    late_fd = p[0];
    PT(pthread_create(&t, NULL, late_reader, (void *)(intptr_t)4096));
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    CHECK(write(p[1], buf, 4096) == 4096, "blocking write: %s", strerror(errno));
    CHECK(ms_since(t0) >= 100, "the write into a full pipe did not wait for the reader");
    PT(pthread_join(t, NULL));
    flags_are(p[1], 0, "write end after a write that waited");
    printf("after clearing O_NONBLOCK a write into a full pipe blocks until a reader: OK\n");
    close(p[0]);
    close(p[1]);

    /* fcntl(F_SETFL) on a blocking pipe, then back; dup shares the flag. */
    CHECK(pipe(p) == 0, "pipe");
    flags_are(p[0], 0, "pipe() read end");
    late_fd = p[1];
    PT(pthread_create(&t, NULL, late_writer, NULL));
    CHECK(read(p[0], buf, sizeof buf) == 4, "blocking read");
    PT(pthread_join(t, NULL));
    flags_are(p[0], 0, "read end after a read that waited");
    CHECK(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0, "F_SETFL");
    int d = dup(p[0]);
    CHECK(d >= 0, "dup");
    flags_are(d, O_NONBLOCK, "dup of an O_NONBLOCK fd");
    EAGAIN_NOW(read(d, buf, 1), "read through the dup of an fd set O_NONBLOCK with F_SETFL");
    CHECK(fcntl(d, F_SETFL, 0) == 0, "F_SETFL 0");
    flags_are(p[0], 0, "original after clearing through the dup");
    PT(pthread_create(&t, NULL, late_writer, NULL));
    t0 = now_ns(CLOCK_MONOTONIC);
    CHECK(read(p[0], buf, sizeof buf) == 4, "blocking read after clearing O_NONBLOCK");
    CHECK(ms_since(t0) >= 100, "read did not block");
    PT(pthread_join(t, NULL));
    printf("O_NONBLOCK set and cleared with F_SETFL, through a dup too: OK\n");
    close(d);

    /* ioctl(FIONBIO) */
    CHECK(ioctl(p[0], FIONBIO, &(int){ 1 }) == 0, "FIONBIO");
    flags_are(p[0], O_NONBLOCK, "after FIONBIO 1");
    EAGAIN_NOW(read(p[0], buf, 1), "read of an empty pipe after ioctl(FIONBIO, 1)");
    CHECK(ioctl(p[0], FIONBIO, &(int){ 0 }) == 0, "FIONBIO");
    flags_are(p[0], 0, "after FIONBIO 0");
    close(p[0]);
    close(p[1]);

    /* Sockets. */
    int port, l = listen_local(8, &port);
    CHECK(fcntl(l, F_SETFL, O_NONBLOCK) == 0, "F_SETFL on the listener");
    EAGAIN_NOW(accept(l, NULL, NULL), "accept on an O_NONBLOCK listener with nothing pending");
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CHECK(s >= 0, "socket");
    flags_are(s, O_NONBLOCK, "SOCK_NONBLOCK socket");
    struct sockaddr_in a = local_addr(port);
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    CHECK(r == 0 || errno == EINPROGRESS, "non-blocking connect: %s", strerror(errno));
    struct pollfd pf = { .fd = s, .events = POLLOUT };
    CHECK(poll(&pf, 1, 5000) == 1 && pf.revents == POLLOUT, "connect completion: %#x", pf.revents);
    printf("non-blocking connect: EINPROGRESS or done, then POLLOUT: OK\n");
    struct pollfd lp = { .fd = l, .events = POLLIN };
    CHECK(poll(&lp, 1, 5000) == 1, "listener readable");
    int c = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    CHECK(c >= 0, "accept4: %s", strerror(errno));
    flags_are(c, O_NONBLOCK, "accept4(SOCK_NONBLOCK) socket");
    EAGAIN_NOW(recv(c, buf, 1, 0), "recv on an idle SOCK_NONBLOCK socket");
    EAGAIN_NOW(read(s, buf, 1), "read on an idle SOCK_NONBLOCK socket");
    long queued = 0;
    for (;;) {
        ssize_t w = send(s, buf, sizeof buf, 0);
        if (w < 0)
            break;
        queued += w;
    }
    CHECK(errno == EAGAIN && queued > 0, "filling the socket: %s after %ld", strerror(errno), queued);
    EAGAIN_NOW(send(s, buf, 1, 0), "send into a full O_NONBLOCK socket");
    close(s);
    close(c);
    printf("O_NONBLOCK sockets: EAGAIN where natively: OK\n");

    /* MSG_DONTWAIT on blocking sockets; flags after blocking calls. */
    CHECK(fcntl(l, F_SETFL, 0) == 0, "F_SETFL 0");
    s = dial(port);
    CHECK(s >= 0, "connect: %s", strerror(errno));
    flags_are(s, 0, "blocking socket after a connect");
    c = accept(l, NULL, NULL);
    CHECK(c >= 0, "accept: %s", strerror(errno));
    flags_are(l, 0, "listener after a blocking accept");
    flags_are(c, 0, "accepted socket");
    EAGAIN_NOW(recv(c, buf, 1, MSG_DONTWAIT), "recv(MSG_DONTWAIT) on a blocking socket");
    flags_are(c, 0, "blocking socket after MSG_DONTWAIT");
    late_fd = s;
    PT(pthread_create(&t, NULL, late_writer, NULL));
    CHECK(recv(c, buf, sizeof buf, 0) == 4, "blocking recv");
    PT(pthread_join(t, NULL));
    flags_are(c, 0, "blocking socket after a recv that waited");
    /* A blocking accept that waits for a late connect. */
    late_port = port;
    PT(pthread_create(&t, NULL, late_dialer, NULL));
    t0 = now_ns(CLOCK_MONOTONIC);
    int c2 = accept(l, NULL, NULL);
    CHECK(c2 >= 0, "blocking accept: %s", strerror(errno));
    CHECK(ms_since(t0) >= 100, "accept did not wait");
    PT(pthread_join(t, NULL));
    flags_are(l, 0, "listener after an accept that waited");
    flags_are(c2, 0, "socket from an accept that waited");
    close(c2);
    close(late_dialed);
    close(s);
    close(c);
    close(l);
    printf("blocking sockets never show O_NONBLOCK, MSG_DONTWAIT gives EAGAIN: OK\n");

    /* eventfd and timerfd */
    int e = eventfd(0, EFD_NONBLOCK);
    CHECK(e >= 0, "eventfd");
    uint64_t v;
    EAGAIN_NOW(read(e, &v, sizeof v), "read of a zero EFD_NONBLOCK eventfd");
    close(e);
    int tf = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    CHECK(tf >= 0, "timerfd_create");
    EAGAIN_NOW(read(tf, &v, sizeof v), "read of an unexpired TFD_NONBLOCK timerfd");
    struct itimerspec its = { .it_value = { 0, 50000000 } };
    CHECK(timerfd_settime(tf, 0, &its, NULL) == 0, "timerfd_settime");
    CHECK(fcntl(tf, F_SETFL, 0) == 0, "F_SETFL 0");
    t0 = now_ns(CLOCK_MONOTONIC);
    CHECK(read(tf, &v, sizeof v) == sizeof v && v == 1, "blocking timerfd read");
    CHECK(ms_since(t0) >= 40, "timerfd read did not wait");
    close(tf);
    printf("eventfd and timerfd: EAGAIN when non-blocking, a blocking read waits: OK\n");
    return 0;
}
