/* pipecheck - the reading side of scripts/test's kind "pipe": reads the
 * stdout of a program (stdout_pipe) from its stdin, slowly (16 KiB per
 * read(), 300 us pause after each, so the pipe fills up and the writers
 * must wait), and verifies every line:
 *   <kind><thread> <seq> <len> <payload> <fnv1a>\n
 * kind one of W V P, thread two digits, seq counting from 0 per kind and
 * thread without gaps (nothing lost, nothing reordered within a thread),
 * len the payload's length, payload lowercase letters, fnv1a its FNV-1a
 * hash in 8 hex digits (the bytes of each write arrived contiguous and
 * intact). The last line must be "END <threads> <lines>", each thread then
 * having written exactly <lines> lines of each kind, followed by EOF.
 * Prints one summary line and exits 0, or prints "FAIL pipecheck: ..." on
 * stderr and exits 1 (it still reads to EOF first, so the writer never
 * gets EPIPE because of a failed check). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXT 100
#define MAXLINE 4096

static long lineno, nlines, nbytes;
static int next[3][MAXT];
static int failed, ended, end_threads, end_lines;

static void fail(const char *why, const char *line, size_t n)
{
    if (failed++ < 5)
        fprintf(stderr, "FAIL pipecheck: line %ld: %s: %.*s\n", lineno, why, (int)(n > 120 ? 120 : n),
                line);
}

static uint32_t fnv(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static void check_line(char *l, size_t n) /* n includes the '\n' */
{
    lineno++;
    nbytes += (long)n;
    l[n - 1] = '\0';
    if (ended) {
        fail("data after END", l, n);
        return;
    }
    if (sscanf(l, "END %d %d", &end_threads, &end_lines) == 2) {
        ended = 1;
        return;
    }
    const char *k = strchr("WVP", l[0]);
    int t, seq, len, off = 0;
    unsigned sum;
    if (!k || l[0] == '\0' || sscanf(l + 1, "%2d %d %d %n", &t, &seq, &len, &off) != 3 || off == 0 ||
        t < 0 || t >= MAXT) {
        fail("malformed line", l, n);
        return;
    }
    int kind = (int)(k - "WVP");
    const char *p = l + 1 + off;
    if (len < 1 || (size_t)(p - l) + (size_t)len + 10 != n) {
        fail("length does not match", l, n);
        return;
    }
    for (int i = 0; i < len; i++)
        if (p[i] < 'a' || p[i] > 'z') {
            fail("payload is not letters", l, n);
            return;
        }
    if (p[len] != ' ' || sscanf(p + len + 1, "%8x", &sum) != 1 || sum != fnv(p, (size_t)len)) {
        fail("checksum does not match", l, n);
        return;
    }
    if (seq != next[kind][t]) {
        fail(seq > next[kind][t] ? "lines missing before this one" : "line repeated or out of order",
             l, n);
        next[kind][t] = seq;
    }
    next[kind][t]++;
    nlines++;
}

int main(void)
{
    static char buf[MAXLINE + (16 << 10)];
    size_t have = 0;
    for (;;) {
        size_t room = sizeof buf - have;
        ssize_t r = read(0, buf + have, room < (16 << 10) ? room : (16 << 10));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "FAIL pipecheck: read: %s\n", strerror(errno));
            return 1;
        }
        if (r == 0)
            break;
        have += (size_t)r;
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', have - (size_t)(start - buf)))) {
            check_line(start, (size_t)(nl - start) + 1);
            start = nl + 1;
        }
        have -= (size_t)(start - buf);
        memmove(buf, start, have);
        if (have == sizeof buf) {
            fail("line longer than the buffer", buf, have);
            have = 0;
        }
        usleep(300);
    }
    if (have)
        fail("last line has no newline", buf, have);
    if (!ended)
        fail("no END line", "", 0);
    else
        for (int kind = 0; kind < 3; kind++)
            for (int t = 0; t < MAXT; t++) {
                int want = t < end_threads ? end_lines : 0;
                if (next[kind][t] != want) {
                    char what[64];
                    snprintf(what, sizeof what, "%c%02d: %d lines, want %d", "WVP"[kind], t,
                             next[kind][t], want);
                    fail(what, "", 0);
                }
            }
    if (failed)
        return 1;
    printf("pipecheck: %ld lines (%d threads x %d lines x write/writev/printf), %ld bytes, "
           "each intact, none lost, in order per thread: OK\n", nlines, end_threads, end_lines, nbytes);
    return 0;
}
