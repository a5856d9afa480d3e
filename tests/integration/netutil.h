/* netutil.h - socket and pipe helpers shared by the netpoller integration
 * programs (net_*.c, pipe_*.c, ...). Plain blocking POSIX calls only, so
 * every helper is itself an ordinary use of the shimmed calls. Each helper
 * FAILs the program on an error it does not expect. */
#ifndef NETUTIL_H
#define NETUTIL_H

#include "itest.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* A TCP socket listening on 127.0.0.1 on an ephemeral port; *port gets it. */
static inline int listen_local(int backlog, int *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    CHECK(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) == 0, "SO_REUSEADDR");
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind: %s", strerror(errno));
    CHECK(listen(fd, backlog) == 0, "listen: %s", strerror(errno));
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0, "getsockname");
    *port = ntohs(a.sin_port);
    return fd;
}

static inline struct sockaddr_in local_addr(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    return a;
}

/* A blocking connect to 127.0.0.1:port; -1 with errno on failure. */
static inline int dial(int port)
{
    struct sockaddr_in a = local_addr(port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* A connected TCP pair over loopback: fds[0] the client, fds[1] the
 * accepted side. */
static inline void tcp_pair(int fds[2])
{
    int port, l = listen_local(1, &port);
    fds[0] = dial(port);
    CHECK(fds[0] >= 0, "connect: %s", strerror(errno));
    fds[1] = accept(l, NULL, NULL);
    CHECK(fds[1] >= 0, "accept: %s", strerror(errno));
    close(l);
}

/* Reads exactly n bytes (blocking read); returns bytes read before EOF. */
static inline size_t read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        CHECK(r >= 0, "read(%d): %s", fd, strerror(errno));
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* Writes all n bytes (blocking write); FAILs on any error. */
static inline void write_full(int fd, const void *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t w = write(fd, (const char *)buf + put, n - put);
        if (w < 0 && errno == EINTR)
            continue;
        CHECK(w > 0, "write(%d): %s", fd, strerror(errno));
        put += (size_t)w;
    }
}

static inline uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static inline int64_t ms_since(int64_t t0)
{
    return (now_ns(CLOCK_MONOTONIC) - t0) / 1000000;
}

#endif
