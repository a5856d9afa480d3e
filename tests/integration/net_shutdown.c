/* net_shutdown - shutdown() wakes threads blocked on the socket, as the
 * kernel does; scripts/test runs it with GRUN_MAXPROCS=1.
 *  - a thread blocked in recv() on a TCP socket; 100 ms later another
 *    thread calls shutdown(SHUT_RDWR) on it: recv returns 0 (EOF);
 *  - the same with read() on one end of an AF_UNIX socketpair;
 *  - three threads blocked in recv() on one socket: all return 0;
 *  - a thread blocked in send() on a full AF_UNIX socket; shutdown(SHUT_WR)
 *    makes it fail with EPIPE (MSG_NOSIGNAL: no SIGPIPE);
 *  - a thread blocked in accept(); shutdown(SHUT_RDWR) on the listening
 *    socket makes accept fail with EINVAL (Linux's answer);
 *  - a thread blocked in poll(POLLIN) on a socket: shutdown(SHUT_RD) wakes
 *    it with POLLIN set (and POLLRDHUP when asked for). */
#include "netutil.h"

static int target;
static struct gate entered = GATE_INIT;

struct res { long r; int err; int64_t ms; };

static void *recv_waiter(void *arg)
{
    struct res *res = arg;
    char buf[16];
    gate_add(&entered, 1);
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    res->r = recv(target, buf, sizeof buf, 0);
    res->err = errno;
    res->ms = ms_since(t0);
    return NULL;
}

static void *read_waiter(void *arg)
{
    struct res *res = arg;
    char buf[16];
    gate_add(&entered, 1);
    res->r = read(target, buf, sizeof buf);
    res->err = errno;
    return NULL;
}

static void *send_waiter(void *arg)
{
    struct res *res = arg;
    static char big[1 << 16];
    gate_add(&entered, 1);
    res->r = send(target, big, sizeof big, MSG_NOSIGNAL);
    res->err = errno;
    return NULL;
}

static void *accept_waiter(void *arg)
{
    struct res *res = arg;
    gate_add(&entered, 1);
    res->r = accept(target, NULL, NULL);
    res->err = errno;
    return NULL;
}

static void *poll_waiter(void *arg)
{
    struct res *res = arg;
    struct pollfd p = { .fd = target, .events = POLLIN | POLLRDHUP };
    gate_add(&entered, 1);
    res->r = poll(&p, 1, 10000);
    res->err = p.revents;
    return NULL;
}

/* Starts n threads running fn, lets them block, calls shutdown(how). */
static void run(void *(*fn)(void *), int n, int how, struct res *res)
{
    pthread_t th[8];
    entered.count = 0;
    for (int i = 0; i < n; i++)
        PT(pthread_create(&th[i], NULL, fn, &res[i]));
    gate_wait(&entered, n);
    usleep(100000);
    CHECK(shutdown(target, how) == 0, "shutdown: %s", strerror(errno));
    for (int i = 0; i < n; i++)
        PT(pthread_join(th[i], NULL));
}

int main(void)
{
    int fds[2], sv[2];
    struct res res[8];

    tcp_pair(fds);
    target = fds[0];
    run(recv_waiter, 1, SHUT_RDWR, res);
    CHECK(res[0].r == 0, "recv after shutdown: %ld (%s), want 0", res[0].r, strerror(res[0].err));
    CHECK(res[0].ms >= 100, "recv returned after %lld ms, before the shutdown", (long long)res[0].ms);
    printf("recv blocked on a TCP socket returns 0 after shutdown(SHUT_RDWR): OK\n");
    close(fds[0]);
    close(fds[1]);

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    target = sv[0];
    run(read_waiter, 1, SHUT_RDWR, res);
    CHECK(res[0].r == 0, "read after shutdown: %ld (%s), want 0", res[0].r, strerror(res[0].err));
    printf("read blocked on an AF_UNIX socket returns 0 after shutdown(SHUT_RDWR): OK\n");
    close(sv[0]);
    close(sv[1]);

    tcp_pair(fds);
    target = fds[1];
    run(recv_waiter, 3, SHUT_RDWR, res);
    for (int i = 0; i < 3; i++)
        CHECK(res[i].r == 0, "waiter %d: recv %ld (%s), want 0", i, res[i].r, strerror(res[i].err));
    printf("three threads blocked in recv on one socket all return 0: OK\n");
    close(fds[0]);
    close(fds[1]);

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){ 4096 }, sizeof(int)) == 0, "SO_SNDBUF");
    target = sv[0];
    run(send_waiter, 1, SHUT_WR, res);
    /* Natively the send may have queued a part before blocking: then it
     * returns that count; otherwise -1/EPIPE. */
    CHECK(res[0].r == -1 ? res[0].err == EPIPE : res[0].r > 0 && res[0].r < (1 << 16),
          "send after shutdown(SHUT_WR): %ld (%s)", res[0].r, strerror(res[0].err));
    printf("send blocked on a full socket stops after shutdown(SHUT_WR): OK\n");
    close(sv[0]);
    close(sv[1]);

    int port;
    target = listen_local(4, &port);
    run(accept_waiter, 1, SHUT_RDWR, res);
    CHECK(res[0].r == -1 && res[0].err == EINVAL, "accept after shutdown: %ld (%s), want EINVAL",
          res[0].r, strerror(res[0].err));
    printf("accept blocked on a listening socket fails with EINVAL after shutdown: OK\n");
    close(target);

    tcp_pair(fds);
    target = fds[0];
    run(poll_waiter, 1, SHUT_RD, res);
    CHECK(res[0].r == 1 && (res[0].err & POLLIN) && (res[0].err & POLLRDHUP),
          "poll after shutdown(SHUT_RD): %ld, revents %#x", res[0].r, res[0].err);
    printf("poll blocked on a socket wakes with POLLIN|POLLRDHUP after shutdown(SHUT_RD): OK\n");
    close(fds[0]);
    close(fds[1]);
    return 0;
}
