/* gendata - deterministic, semi-compressible test data for the real-program
 * tests (tests/README.md). Same arguments, same bytes, on every machine.
 *
 *   gendata MIB        MIB mebibytes of log-like text mixed with runs of
 *                      pseudo-random bytes (compresses ~3-4x with gzip)
 *   gendata MIB lines  MIB mebibytes of text lines with random keys, for sort
 *
 * Writes to stdout. xorshift64* PRNG with a fixed seed: no /dev/urandom. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dull;
}

static const char *const words[] = {
    "green", "thread", "scheduler", "mutex", "condition", "variable", "park", "ready",
    "steal", "queue", "timer", "netpoll", "socket", "accept", "request", "response",
    "latency", "error", "warning", "info", "debug", "connection", "closed", "opened",
    "client", "server", "worker", "buffer", "flush", "write", "read", "epoll",
};
#define NWORDS (sizeof words / sizeof words[0])

int main(int argc, char **argv)
{
    if (argc < 2 || atol(argv[1]) <= 0) {
        fprintf(stderr, "usage: gendata MIB [lines]\n");
        return 2;
    }
    const uint64_t total = (uint64_t)atol(argv[1]) << 20;
    const int lines = argc > 2 && !strcmp(argv[2], "lines");
    static char buf[1 << 16];
    uint64_t written = 0, seq = 0;
    size_t n = 0;

    while (written < total) {
        char line[512];
        int len;
        uint64_t r = rnd();
        if (lines) {
            len = snprintf(line, sizeof line, "%08llx %s-%s %llu\n",
                           (unsigned long long)(r >> 32), words[r % NWORDS],
                           words[(r >> 8) % NWORDS], (unsigned long long)(rnd() % 1000000));
        } else if (r % 8 == 0) {
            /* a run of incompressible bytes */
            len = 64 + (int)(r >> 58);
            for (int i = 0; i < len; i += 8) {
                uint64_t x = rnd();
                memcpy(line + i, &x, 8);
            }
        } else {
            len = snprintf(line, sizeof line, "%llu %s [%s] %s %s %s id=%llu t=%llu\n",
                           (unsigned long long)seq++, words[r % 4 + 16], words[(r >> 5) % NWORDS],
                           words[(r >> 10) % NWORDS], words[(r >> 15) % NWORDS],
                           words[(r >> 20) % NWORDS], (unsigned long long)((r >> 25) % 100000),
                           (unsigned long long)((r >> 45) % 5000));
        }
        if ((uint64_t)len > total - written)
            len = (int)(total - written);
        if (n + (size_t)len > sizeof buf) {
            if (fwrite(buf, 1, n, stdout) != n)
                return 1;
            n = 0;
        }
        memcpy(buf + n, line, (size_t)len);
        n += (size_t)len;
        written += (uint64_t)len;
    }
    if (fwrite(buf, 1, n, stdout) != n || fflush(stdout) != 0)
        return 1;
    return 0;
}
