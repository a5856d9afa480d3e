/* pipe_handoff - blocking pipe I/O between threads; meant to run with
 * GRUN_MAXPROCS=1, where a read() that blocked the only OS thread would
 * hang the program.
 *  - a reader blocks in read() on an empty pipe; a writer writes to it
 *    only after usleep(100 ms): the reader gets exactly those bytes;
 *  - 200 ping-pong round trips between two threads over two pipes, each
 *    side blocking in read() for the other;
 *  - a 1 MiB transfer through a pipe (the writer blocks on a full pipe,
 *    the reader on an empty one), checked byte for byte. */
#include "itest.h"

#define BIG (1 << 20)

static int p1[2], p2[2];

static void *late_writer(void *arg)
{
    usleep(100000);
    const char msg[] = "hello through the pipe";
    CHECK(write(p1[1], msg, sizeof msg) == sizeof msg, "write: %s", strerror(errno));
    return NULL;
}

static void *ponger(void *arg)
{
    for (int i = 0; i < 200; i++) {
        int v;
        CHECK(read(p1[0], &v, sizeof v) == sizeof v, "pong read: %s", strerror(errno));
        CHECK(v == i, "pong got %d want %d", v, i);
        v = -v;
        CHECK(write(p2[1], &v, sizeof v) == sizeof v, "pong write");
    }
    return NULL;
}

static void *big_writer(void *arg)
{
    unsigned char *buf = malloc(BIG);
    for (int i = 0; i < BIG; i++)
        buf[i] = (unsigned char)(i * 31 + (i >> 11));
    for (size_t off = 0; off < BIG;) {
        ssize_t n = write(p1[1], buf + off, BIG - off);
        CHECK(n > 0, "big write: %s", strerror(errno));
        off += (size_t)n;
    }
    free(buf);
    CHECK(close(p1[1]) == 0, "close");
    return NULL;
}

int main(void)
{
    pthread_t t;
    char buf[64];

    CHECK(pipe(p1) == 0 && pipe(p2) == 0, "pipe");

    int64_t start = now_ns(CLOCK_MONOTONIC); /* before the writer starts its sleep */
    PT(pthread_create(&t, NULL, late_writer, NULL));
    ssize_t n = read(p1[0], buf, sizeof buf);
    CHECK(n == sizeof "hello through the pipe" && !strcmp(buf, "hello through the pipe"),
          "read %zd bytes", n);
    CHECK(now_ns(CLOCK_MONOTONIC) - start >= 100000000, "read returned before the write");
    PT(pthread_join(t, NULL));
    printf("blocked read got the late write: OK\n");

    PT(pthread_create(&t, NULL, ponger, NULL));
    for (int i = 0; i < 200; i++) {
        int v = i;
        CHECK(write(p1[1], &v, sizeof v) == sizeof v, "ping write");
        CHECK(read(p2[0], &v, sizeof v) == sizeof v, "ping read: %s", strerror(errno));
        CHECK(v == -i, "ping got %d want %d", v, -i);
    }
    PT(pthread_join(t, NULL));
    printf("200 ping-pong round trips: OK\n");

    PT(pthread_create(&t, NULL, big_writer, NULL));
    size_t got = 0;
    unsigned char chunk[4096];
    while ((n = read(p1[0], chunk, sizeof chunk)) > 0) {
        for (ssize_t k = 0; k < n; k++, got++)
            CHECK(chunk[k] == (unsigned char)(got * 31 + (got >> 11)), "byte %zu corrupt", got);
    }
    CHECK(n == 0 && got == BIG, "read %zu bytes, last rc %zd", got, n);
    PT(pthread_join(t, NULL));
    printf("1 MiB through a pipe: OK\n");
    return 0;
}
