/* net_echo - a thread-per-connection TCP echo server and 1000 client
 * threads in one program, all with blocking socket calls; scripts/test
 * runs it with GRUN_MAXPROCS=1 and =2.
 *  - an acceptor thread accepts 1000 connections on 127.0.0.1 and starts
 *    one server thread per connection, which echoes with blocking
 *    read()/write() until EOF;
 *  - 1000 client threads connect, wait until every connection is open
 *    and every server thread started (all 2000 threads then block in
 *    socket calls at once), then each sends 20 messages of pseudo-random
 *    size (1..8192 bytes, its own seed), reading each echo back in full
 *    with recv() and comparing it byte for byte, then shuts down its
 *    writing side and expects EOF;
 *  - under libgrun only: while all 2000 threads are blocked, the process
 *    has at most 16 OS threads ("Threads:" in /proc/self/status).
 * Output is deterministic: the byte total follows from the seeds. */
#include "netutil.h"

#define NCONN 1000
#define NMSG 20
#define MAXMSG 8192

static int lfd, port;
static struct gate connected = GATE_INIT;   /* clients connected + servers started */
static struct gate go = GATE_INIT;          /* main releases the clients */
static _Atomic long echoed;                 /* bytes echoed by the servers */

static void *server(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    gate_add(&connected, 1);
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        CHECK(r >= 0, "server read: %s", strerror(errno));
        if (r == 0)
            break;
        write_full(fd, buf, (size_t)r);
        echoed += r;
    }
    CHECK(close(fd) == 0, "server close: %s", strerror(errno));
    return NULL;
}

static void *acceptor(void *arg)
{
    pthread_t *th = arg;
    for (int i = 0; i < NCONN; i++) {
        int fd = accept(lfd, NULL, NULL);
        CHECK(fd >= 0, "accept %d: %s", i, strerror(errno));
        PT(pthread_create(&th[i], NULL, server, (void *)(intptr_t)fd));
    }
    return NULL;
}

static void *client(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint32_t seed = 0x9e3779b9u ^ (uint32_t)(id * 2654435761u);
    char out[MAXMSG], in[MAXMSG];
    long bytes = 0;

    int fd = dial(port);
    CHECK(fd >= 0, "client %d connect: %s", id, strerror(errno));
    gate_add(&connected, 1);
    gate_wait(&go, 1);
    for (int m = 0; m < NMSG; m++) {
        size_t n = 1 + xorshift32(&seed) % MAXMSG;
        for (size_t i = 0; i < n; i++)
            out[i] = (char)xorshift32(&seed);
        write_full(fd, out, n);
        size_t got = 0;
        while (got < n) {
            ssize_t r = recv(fd, in + got, n - got, 0);
            CHECK(r > 0, "client %d recv: %zd (%s)", id, r, r < 0 ? strerror(errno) : "EOF");
            got += (size_t)r;
        }
        CHECK(memcmp(in, out, n) == 0, "client %d message %d: echo differs", id, m);
        bytes += (long)n;
    }
    CHECK(shutdown(fd, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
    char c;
    ssize_t r = recv(fd, &c, 1, 0);
    CHECK(r == 0, "client %d: recv after shutdown returned %zd, want EOF", id, r);
    CHECK(close(fd) == 0, "client close");
    return (void *)bytes;
}

int main(void)
{
    static pthread_t servers[NCONN], clients[NCONN];
    pthread_t acc;
    long total = 0;

    lfd = listen_local(NCONN, &port);
    PT(pthread_create(&acc, NULL, acceptor, servers));
    for (int i = 0; i < NCONN; i++)
        PT(pthread_create(&clients[i], NULL, client, (void *)(intptr_t)i));
    PT(pthread_join(acc, NULL));
    gate_wait(&connected, 2 * NCONN);
    printf("%d connections open at once, one server thread each: OK\n", NCONN);

    if (under_grun()) {
        /* Every client waits on the gate, every server in read(). */
        int n = os_thread_count();
        CHECK(n > 0 && n <= 16, "%d OS threads for %d blocked green threads (max 16)",
              n, 2 * NCONN + 1);
    }

    gate_add(&go, 1);
    for (int i = 0; i < NCONN; i++) {
        void *r;
        PT(pthread_join(clients[i], &r));
        total += (long)r;
    }
    for (int i = 0; i < NCONN; i++)
        PT(pthread_join(servers[i], NULL));
    CHECK(echoed == total, "servers echoed %ld bytes, clients got %ld", (long)echoed, total);
    printf("%d messages, %ld bytes echoed byte-exact: OK\n", NCONN * NMSG, total);
    printf("every connection saw EOF after shutdown: OK\n");
    close(lfd);
    return 0;
}
