/* stdout_pipe - the netpoller's invariant (DESIGN section 7): the program
 * never sees an EAGAIN it did not ask for, and no byte is lost or
 * reordered within a write, when its stdout is a pipe to another process.
 * scripts/test runs it as kind "pipe": `stdout_pipe | pipecheck`, where
 * pipecheck (tests/integration/pipecheck.c) reads slowly, so the pipe is
 * often full and writers must wait.
 * 16 threads write 1500 lines each to stdout, concurrently, in three ways
 * in turn: write(1, ...) of one whole line, writev(1, ...) of one line in
 * three pieces, and printf() (stdout line-buffered with a 4 KiB buffer, so
 * each printf line goes out in one write() of glibc's own). A line is
 *   <kind><thread> <seq> <len> <payload> <fnv1a>\n
 * with kind W, V or P, thread 00..15, seq counting that thread's lines of
 * that kind from 0, a pseudo-random payload of 1..1000 letters and the
 * FNV-1a hash of the payload; every line is at most 1100 bytes (< PIPE_BUF,
 * so natively each write is atomic). Every write, writev and printf must
 * write the whole line (no EAGAIN, no short count); ferror(stdout) must
 * stay clear. After joining, main prints "END <threads> <lines per kind>"
 * and the totals on stderr. pipecheck verifies every line. */
#include "itest.h"

#include <sys/uio.h>

#define NT 16
#define NLINES 1500

static uint32_t fnv(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static _Atomic long bytes_out;

static void *writer(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint32_t s = 0x2545f491u * (uint32_t)(id + 1);
    int seq[3] = { 0, 0, 0 };
    char payload[1001], line[1200];
    for (int i = 0; i < 3 * NLINES; i++) {
        int k = i % 3;
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        int n = 1 + (int)(s % 1000);
        for (int j = 0; j < n; j++) {
            s ^= s << 13, s ^= s >> 17, s ^= s << 5;
            payload[j] = (char)('a' + s % 26);
        }
        payload[n] = '\0';
        char kind = "WVP"[k];
        int len = snprintf(line, sizeof line, "%c%02d %d %d %s %08x\n", kind, id, seq[k], n, payload,
                           fnv(payload, (size_t)n));
        seq[k]++;
        if (k == 0) {
            ssize_t w = write(1, line, (size_t)len);
            CHECK(w == len, "write of a %d-byte line returned %zd (%s)", len, w,
                  w < 0 ? strerror(errno) : "short");
        } else if (k == 1) {
            struct iovec iov[3] = { { line, 4 }, { line + 4, (size_t)len - 10 },
                                    { line + len - 6, 6 } };
            ssize_t w = writev(1, iov, 3);
            CHECK(w == len, "writev of a %d-byte line returned %zd (%s)", len, w,
                  w < 0 ? strerror(errno) : "short");
        } else {
            int w = printf("%c%02d %d %d %s %08x\n", kind, id, seq[k] - 1, n, payload,
                           fnv(payload, (size_t)n));
            CHECK(w == len && !ferror(stdout), "printf of a %d-byte line returned %d (%s)", len, w,
                  strerror(errno));
        }
        bytes_out += len;
    }
    return NULL;
}

int main(void)
{
    static char buf[4096];
    pthread_t th[NT];
    CHECK(setvbuf(stdout, buf, _IOLBF, sizeof buf) == 0, "setvbuf");
    for (int i = 0; i < NT; i++)
        PT(pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i));
    for (int i = 0; i < NT; i++)
        PT(pthread_join(th[i], NULL));
    CHECK(printf("END %d %d\n", NT, NLINES) > 0 && fflush(stdout) == 0 && !ferror(stdout),
          "final printf: %s", strerror(errno));
    fprintf(stderr, "stdout_pipe: %d lines, %ld bytes\n", NT * 3 * NLINES, (long)bytes_out);
    return 0;
}
