/* accept_many - 8 threads call accept() on one blocking listening socket
 * at once (the classic pre-threaded server); 40 client threads make 200
 * connections in all, 5 each, one after the other.
 *  - every accept() succeeds (a thread woken for a connection that another
 *    thread took keeps waiting: never an EAGAIN or a spurious error);
 *  - each connection sends its id (0..199); the acceptor that got it
 *    answers with the id's complement and closes; each id is served
 *    exactly once and each client checks its answer;
 *  - at the end main makes 8 more connections carrying "stop": each
 *    acceptor takes exactly one and exits, so all 8 were still accepting;
 *  - the listening socket's flags are unchanged (no O_NONBLOCK left on it:
 *    it would leak into child processes). */
#include "netutil.h"

#define NACC 8
#define NCLI 40
#define PER 5
#define NCONN (NCLI * PER)
#define STOP 0xffffffffu

static int lfd, port;
static _Atomic int served[NCONN];
static _Atomic int per_acceptor[NACC];
static struct gate ready = GATE_INIT;

static void *acceptor(void *arg)
{
    int id = (int)(intptr_t)arg;
    gate_add(&ready, 1);
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        CHECK(c >= 0, "acceptor %d: accept: %s", id, strerror(errno));
        uint32_t v;
        CHECK(read_full(c, &v, sizeof v) == sizeof v, "acceptor %d: short id", id);
        if (v == STOP) {
            close(c);
            return NULL;
        }
        CHECK(v < NCONN, "bad id %u", v);
        CHECK(atomic_fetch_add(&served[v], 1) == 0, "connection %u served twice", v);
        per_acceptor[id]++;
        v = ~v;
        write_full(c, &v, sizeof v);
        CHECK(close(c) == 0, "close");
    }
}

static void *client(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int k = 0; k < PER; k++) {
        uint32_t v = (uint32_t)(id * PER + k), r;
        int fd = dial(port);
        CHECK(fd >= 0, "client %d: connect: %s", id, strerror(errno));
        write_full(fd, &v, sizeof v);
        CHECK(read_full(fd, &r, sizeof r) == sizeof r && r == ~v, "client %d: answer %#x for %u",
              id, r, v);
        char c;
        CHECK(read(fd, &c, 1) == 0, "client %d: no EOF after the answer", id);
        close(fd);
    }
    return NULL;
}

int main(void)
{
    pthread_t acc[NACC], cli[NCLI];
    lfd = listen_local(64, &port);
    int flags = fcntl(lfd, F_GETFL);
    for (int i = 0; i < NACC; i++)
        PT(pthread_create(&acc[i], NULL, acceptor, (void *)(intptr_t)i));
    gate_wait(&ready, NACC);
    usleep(50000); /* let them all block in accept() */
    for (int i = 0; i < NCLI; i++)
        PT(pthread_create(&cli[i], NULL, client, (void *)(intptr_t)i));
    for (int i = 0; i < NCLI; i++)
        PT(pthread_join(cli[i], NULL));
    int total = 0;
    for (int i = 0; i < NCONN; i++)
        CHECK(served[i] == 1, "connection %d served %d times", i, served[i]);
    for (int i = 0; i < NACC; i++)
        total += per_acceptor[i];
    CHECK(total == NCONN, "%d connections served, want %d", total, NCONN);
    printf("%d acceptor threads on one socket served %d connections, each once: OK\n", NACC, NCONN);

    for (int i = 0; i < NACC; i++) {
        int fd = dial(port);
        CHECK(fd >= 0, "stop connect: %s", strerror(errno));
        uint32_t v = STOP;
        write_full(fd, &v, sizeof v);
        char c;
        CHECK(read(fd, &c, 1) == 0, "stop: no EOF");
        close(fd);
    }
    for (int i = 0; i < NACC; i++)
        PT(pthread_join(acc[i], NULL));
    printf("all %d acceptors were still accepting and took one stop each: OK\n", NACC);
    CHECK(fcntl(lfd, F_GETFL) == flags, "listening socket flags changed: %#x -> %#x", flags,
          fcntl(lfd, F_GETFL));
    printf("listening socket flags unchanged: OK\n");
    close(lfd);
    return 0;
}
