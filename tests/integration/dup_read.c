/* dup_read - several descriptors for one open pipe: dup(), dup2(), dup3()
 * and fcntl(F_DUPFD/F_DUPFD_CLOEXEC) numbers are all the same file;
 * scripts/test runs it with GRUN_MAXPROCS=1.
 *  - main waits in read() once through a third number (F_DUPFD) for a
 *    late write; then two threads block in read() on the same pipe
 *    through two other numbers (the original and a dup); the third
 *    number is closed while they wait: neither reader is disturbed (closing one
 *    number does not close the file, nor wake readers of other numbers);
 *  - a writer then sends 4 MiB in pieces of 1..8192 bytes whose byte
 *    values follow a known pattern; the readers read until EOF: together
 *    they get exactly 4 MiB, with exactly the pattern's byte sum and byte
 *    histogram (which bytes went to which reader varies);
 *  - dup2() onto a number in use replaces it: a thread blocked reading the
 *    replaced pipe keeps its old file natively; here nobody waits on the
 *    replaced number, and reads through it then see the new pipe;
 *  - dup3(O_CLOEXEC) and F_DUPFD_CLOEXEC set FD_CLOEXEC on the new number
 *    only, and the blocking behaviour is the same through every number. */
#include "netutil.h"

#define TOTAL (4L << 20)

static int rfd[2];
static struct gate entered = GATE_INIT;
static long got_bytes[2];
static uint64_t got_sum[2], hist[2][256];

static unsigned char pattern(long i) { return (unsigned char)(i * 7 + (i >> 8) * 3); }

static void *reader(void *arg)
{
    int id = (int)(intptr_t)arg;
    static unsigned char bufs[2][9000];
    unsigned char *buf = bufs[id];
    gate_add(&entered, 1);
    for (;;) {
        ssize_t n = read(rfd[id], buf, 9000);
        CHECK(n >= 0, "reader %d: %s", id, strerror(errno));
        if (n == 0)
            break;
        got_bytes[id] += n;
        for (ssize_t i = 0; i < n; i++) {
            got_sum[id] += buf[i];
            hist[id][buf[i]]++;
        }
    }
    return NULL;
}

static int late_fd;
static void *late_writer(void *arg)
{
    usleep(100000);
    write_full(late_fd, "L", 1);
    return NULL;
}

int main(void)
{
    int p[2];
    pthread_t t[2];
    CHECK(pipe(p) == 0, "pipe");
    rfd[0] = p[0];
    rfd[1] = dup(p[0]);
    CHECK(rfd[1] >= 0, "dup");
    int third = fcntl(p[0], F_DUPFD, 100);
    CHECK(third >= 100, "F_DUPFD: %d", third);
    /* Wait once through the third number first (so it has been waited on,
     * i.e. registered with the netpoller under libgrun). */
    pthread_t w;
    late_fd = p[1];
    PT(pthread_create(&w, NULL, late_writer, NULL));
    char c;
    CHECK(read(third, &c, 1) == 1 && c == 'L', "blocking read through F_DUPFD number");
    PT(pthread_join(w, NULL));
    for (int i = 0; i < 2; i++)
        PT(pthread_create(&t[i], NULL, reader, (void *)(intptr_t)i));
    gate_wait(&entered, 2);
    usleep(100000);
    CHECK(close(third) == 0, "close of the third number");
    usleep(100000);
    CHECK(got_bytes[0] == 0 && got_bytes[1] == 0, "readers got data before any write");

    uint32_t s = 99;
    static unsigned char buf[8192];
    uint64_t want_sum = 0, want_hist[256] = { 0 };
    for (long off = 0; off < TOTAL;) {
        long n = 1 + xorshift32(&s) % sizeof buf;
        if (n > TOTAL - off)
            n = TOTAL - off;
        for (long i = 0; i < n; i++) {
            buf[i] = pattern(off + i);
            want_sum += buf[i];
            want_hist[buf[i]]++;
        }
        write_full(p[1], buf, (size_t)n);
        off += n;
    }
    CHECK(close(p[1]) == 0, "close");
    for (int i = 0; i < 2; i++)
        PT(pthread_join(t[i], NULL));
    CHECK(got_bytes[0] + got_bytes[1] == TOTAL, "readers got %ld + %ld bytes, want %ld",
          got_bytes[0], got_bytes[1], TOTAL);
    CHECK(got_sum[0] + got_sum[1] == want_sum, "byte sum differs");
    for (int b = 0; b < 256; b++)
        CHECK(hist[0][b] + hist[1][b] == want_hist[b], "byte %d: %llu times, want %llu", b,
              (unsigned long long)(hist[0][b] + hist[1][b]), (unsigned long long)want_hist[b]);
    printf("two readers on dup'ed numbers of one pipe (a third number closed meanwhile): "
           "%ld bytes, sum and histogram exact: OK\n", TOTAL);
    close(rfd[0]);
    close(rfd[1]);

    /* dup2 onto a number in use; dup3 and F_DUPFD_CLOEXEC. */
    int a[2], b[2];
    CHECK(pipe(a) == 0 && pipe(b) == 0, "pipe");
    write_full(a[1], "A", 1);
    write_full(b[1], "B", 1);
    CHECK(dup2(b[0], a[0]) == a[0], "dup2");
    CHECK(read(a[0], &c, 1) == 1 && c == 'B', "read through the dup2'ed number got %c", c);
    int d3 = dup3(b[0], 200, O_CLOEXEC);
    CHECK(d3 == 200, "dup3: %s", strerror(errno));
    CHECK(fcntl(d3, F_GETFD) == FD_CLOEXEC && fcntl(b[0], F_GETFD) == 0, "FD_CLOEXEC after dup3");
    int dc = fcntl(b[0], F_DUPFD_CLOEXEC, 0);
    CHECK(dc >= 0 && fcntl(dc, F_GETFD) == FD_CLOEXEC, "F_DUPFD_CLOEXEC");
    struct pollfd pf = { .fd = d3, .events = POLLIN };
    CHECK(poll(&pf, 1, 0) == 0, "poll through dup3: not readable yet");
    late_fd = b[1];
    PT(pthread_create(&w, NULL, late_writer, NULL));
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    CHECK(read(dc, &c, 1) == 1 && c == 'L', "blocking read through F_DUPFD_CLOEXEC number");
    CHECK(ms_since(t0) >= 100, "the read did not wait for the writer");
    PT(pthread_join(w, NULL));
    close(d3);
    close(dc);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    printf("dup2 replaces the number's file, dup3/F_DUPFD_CLOEXEC set FD_CLOEXEC on the copy: OK\n");
    return 0;
}
