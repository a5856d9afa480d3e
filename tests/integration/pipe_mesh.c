/* pipe_mesh - many threads writing and reading pipes with blocking
 * read()/write(), every byte checked.
 *  - records: 8 pipes, each with 4 writer and 4 reader threads; every
 *    writer writes 400 records of 512 bytes (<= PIPE_BUF, so each write is
 *    atomic and each 512-byte read returns one whole record); a record
 *    names its pipe, writer and sequence number and carries a payload
 *    derived from them plus its checksum. Readers read until EOF (main
 *    closes the write end once the writers are done) and tick each record
 *    off in a table: every record arrives once, intact, on its own pipe,
 *    and each writer's records arrive in order on each reader;
 *  - packets: 2 pipes made with pipe2(O_DIRECT) (packet mode), 3 writers
 *    and 3 readers each, 300 packets of 1..4096 bytes per writer: each
 *    read returns exactly one packet, checksums match;
 *  - streams: 4 pipes, one writer each writing 2 MiB in writes of up to
 *    256 KiB (larger than the pipe: partial progress, the writer blocks)
 *    and one reader reading pieces of pseudo-random size: the byte stream
 *    arrives exactly (position-dependent pattern, FNV-1a of the whole). */
#include "netutil.h"

#define NPIPE 8
#define NW 4
#define NR 4
#define NREC 400
#define RSZ 512

struct rec {
    uint16_t pipe, writer;
    uint32_t seq;
    uint32_t sum;
    char payload[RSZ - 12];
};

static int pfd[NPIPE][2];
static _Atomic unsigned char seen[NPIPE][NW][NREC];
static _Atomic long records_read;

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 16777619u;
    return h;
}

static void fill(struct rec *r, int p, int w, uint32_t seq)
{
    uint32_t s = (uint32_t)(p * 7919 + w * 104729 + (int)seq * 31 + 1);
    r->pipe = (uint16_t)p;
    r->writer = (uint16_t)w;
    r->seq = seq;
    for (size_t i = 0; i < sizeof r->payload; i++)
        r->payload[i] = (char)xorshift32(&s);
    r->sum = fnv(2166136261u, r->payload, sizeof r->payload);
}

static void *rec_writer(void *arg)
{
    int id = (int)(intptr_t)arg, p = id / NW, w = id % NW;
    struct rec r;
    for (uint32_t seq = 0; seq < NREC; seq++) {
        fill(&r, p, w, seq);
        ssize_t n = write(pfd[p][1], &r, sizeof r);
        CHECK(n == (ssize_t)sizeof r, "record write returned %zd: %s", n, strerror(errno));
    }
    return NULL;
}

static void *rec_reader(void *arg)
{
    int p = (int)(intptr_t)arg / NR;
    long last[NW];
    struct rec r, want;
    for (int w = 0; w < NW; w++)
        last[w] = -1;
    for (;;) {
        ssize_t n = read(pfd[p][0], &r, sizeof r);
        CHECK(n >= 0, "record read: %s", strerror(errno));
        if (n == 0)
            break;
        CHECK(n == (ssize_t)sizeof r, "record read returned %zd bytes, want %zu", n, sizeof r);
        CHECK(r.pipe == p && r.writer < NW && r.seq < NREC, "pipe %d: bad record header %u/%u/%u",
              p, r.pipe, r.writer, r.seq);
        fill(&want, p, r.writer, r.seq);
        CHECK(memcmp(&r, &want, sizeof r) == 0, "pipe %d writer %u record %u corrupted",
              p, r.writer, r.seq);
        CHECK((long)r.seq > last[r.writer], "pipe %d writer %u: record %u after %ld",
              p, r.writer, r.seq, last[r.writer]);
        last[r.writer] = r.seq;
        CHECK(atomic_exchange(&seen[p][r.writer][r.seq], 1) == 0, "record %d/%u/%u read twice",
              p, r.writer, r.seq);
        records_read++;
    }
    return NULL;
}

#define NPKP 2
#define NPKW 3
#define NPKT 300
static int kfd[NPKP][2];
static _Atomic long packets_read, packet_bytes;

static size_t packet(int p, int w, int seq, unsigned char *buf)
{
    uint32_t s = (uint32_t)(p * 31 + w * 1009 + seq * 65537 + 7);
    size_t n = 9 + xorshift32(&s) % (4096 - 9 + 1);
    buf[0] = (unsigned char)p;
    buf[1] = (unsigned char)w;
    memcpy(buf + 2, &seq, sizeof seq);
    for (size_t i = 6; i < n - 4; i++)
        buf[i] = (unsigned char)xorshift32(&s);
    uint32_t h = fnv(2166136261u, buf, n - 4);
    memcpy(buf + n - 4, &h, 4);
    return n;
}

static void *pkt_writer(void *arg)
{
    int id = (int)(intptr_t)arg, p = id / NPKW, w = id % NPKW;
    unsigned char buf[4096];
    for (int seq = 0; seq < NPKT; seq++) {
        size_t n = packet(p, w, seq, buf);
        ssize_t r = write(kfd[p][1], buf, n);
        CHECK(r == (ssize_t)n, "packet write returned %zd: %s", r, strerror(errno));
    }
    return NULL;
}

static void *pkt_reader(void *arg)
{
    int p = (int)(intptr_t)arg / NPKW;
    unsigned char buf[4096], want[4096];
    for (;;) {
        ssize_t n = read(kfd[p][0], buf, sizeof buf);
        CHECK(n >= 0, "packet read: %s", strerror(errno));
        if (n == 0)
            break;
        int seq;
        memcpy(&seq, buf + 2, sizeof seq);
        CHECK(n >= 9 && buf[0] == p && buf[1] < NPKW && seq >= 0 && seq < NPKT,
              "bad packet of %zd bytes on packet pipe %d", n, p);
        size_t wn = packet(p, buf[1], seq, want);
        CHECK((size_t)n == wn && memcmp(buf, want, wn) == 0,
              "packet %d/%d/%d: %zd bytes, want %zu, or content differs", p, buf[1], seq, n, wn);
        packets_read++;
        packet_bytes += n;
    }
    return NULL;
}

#define NSTREAM 4
#define SBYTES (2L << 20)
static int sfd[NSTREAM][2];
static uint32_t stream_sum[NSTREAM][2];

static unsigned char sbyte(int s, long i) { return (unsigned char)(i * 131 + (i >> 9) + s * 17); }

static void *stream_writer(void *arg)
{
    int s = (int)(intptr_t)arg;
    uint32_t seed = 12345u + (uint32_t)s, h = 2166136261u;
    unsigned char *buf = malloc(256 << 10);
    CHECK(buf, "malloc");
    for (long off = 0; off < SBYTES;) {
        long n = 1 + xorshift32(&seed) % (256 << 10);
        if (n > SBYTES - off)
            n = SBYTES - off;
        for (long i = 0; i < n; i++)
            buf[i] = sbyte(s, off + i);
        h = fnv(h, buf, (size_t)n);
        write_full(sfd[s][1], buf, (size_t)n);
        off += n;
    }
    free(buf);
    stream_sum[s][0] = h;
    CHECK(close(sfd[s][1]) == 0, "close");
    return NULL;
}

static void *stream_reader(void *arg)
{
    int s = (int)(intptr_t)arg;
    uint32_t seed = 777u + (uint32_t)s, h = 2166136261u;
    unsigned char buf[70000];
    long off = 0;
    for (;;) {
        size_t want = 1 + xorshift32(&seed) % sizeof buf;
        ssize_t n = read(sfd[s][0], buf, want);
        CHECK(n >= 0, "stream read: %s", strerror(errno));
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            CHECK(buf[i] == sbyte(s, off + i), "stream %d: byte %ld differs", s, off + i);
        h = fnv(h, buf, (size_t)n);
        off += n;
    }
    CHECK(off == SBYTES, "stream %d: %ld bytes, want %ld", s, off, SBYTES);
    stream_sum[s][1] = h;
    return NULL;
}

int main(void)
{
    static pthread_t w[NPIPE * NW], r[NPIPE * NR];

    for (int p = 0; p < NPIPE; p++)
        CHECK(pipe(pfd[p]) == 0, "pipe: %s", strerror(errno));
    for (int i = 0; i < NPIPE * NR; i++)
        PT(pthread_create(&r[i], NULL, rec_reader, (void *)(intptr_t)i));
    for (int i = 0; i < NPIPE * NW; i++)
        PT(pthread_create(&w[i], NULL, rec_writer, (void *)(intptr_t)i));
    for (int i = 0; i < NPIPE * NW; i++)
        PT(pthread_join(w[i], NULL));
    for (int p = 0; p < NPIPE; p++)
        CHECK(close(pfd[p][1]) == 0, "close");
    for (int i = 0; i < NPIPE * NR; i++)
        PT(pthread_join(r[i], NULL));
    for (int p = 0; p < NPIPE; p++) {
        for (int x = 0; x < NW; x++)
            for (int s = 0; s < NREC; s++)
                CHECK(seen[p][x][s] == 1, "record %d/%d/%d never arrived", p, x, s);
        close(pfd[p][0]);
    }
    CHECK(records_read == NPIPE * NW * NREC, "%ld records read", (long)records_read);
    printf("records: %d pipes x %d writers x %d records of %d bytes, each once, intact, in order: OK\n",
           NPIPE, NW, NREC, RSZ);

    for (int p = 0; p < NPKP; p++)
        CHECK(pipe2(kfd[p], O_DIRECT) == 0, "pipe2(O_DIRECT): %s", strerror(errno));
    for (int i = 0; i < NPKP * NPKW; i++)
        PT(pthread_create(&r[i], NULL, pkt_reader, (void *)(intptr_t)i));
    for (int i = 0; i < NPKP * NPKW; i++)
        PT(pthread_create(&w[i], NULL, pkt_writer, (void *)(intptr_t)i));
    for (int i = 0; i < NPKP * NPKW; i++)
        PT(pthread_join(w[i], NULL));
    for (int p = 0; p < NPKP; p++)
        CHECK(close(kfd[p][1]) == 0, "close");
    for (int i = 0; i < NPKP * NPKW; i++)
        PT(pthread_join(r[i], NULL));
    long want_bytes = 0;
    unsigned char tmp[4096];
    for (int p = 0; p < NPKP; p++) {
        close(kfd[p][0]);
        for (int x = 0; x < NPKW; x++)
            for (int s = 0; s < NPKT; s++)
                want_bytes += (long)packet(p, x, s, tmp);
    }
    CHECK(packets_read == NPKP * NPKW * NPKT && packet_bytes == want_bytes,
          "%ld packets, %ld bytes; want %d, %ld", (long)packets_read, (long)packet_bytes,
          NPKP * NPKW * NPKT, want_bytes);
    printf("packets: %d packet-mode pipes, %d packets, %ld bytes, one packet per read: OK\n",
           NPKP, NPKP * NPKW * NPKT, want_bytes);

    for (int s = 0; s < NSTREAM; s++)
        CHECK(pipe(sfd[s]) == 0, "pipe");
    for (int s = 0; s < NSTREAM; s++) {
        PT(pthread_create(&r[s], NULL, stream_reader, (void *)(intptr_t)s));
        PT(pthread_create(&w[s], NULL, stream_writer, (void *)(intptr_t)s));
    }
    for (int s = 0; s < NSTREAM; s++) {
        PT(pthread_join(w[s], NULL));
        PT(pthread_join(r[s], NULL));
        CHECK(stream_sum[s][0] == stream_sum[s][1], "stream %d: checksum %08x, sent %08x", s,
              stream_sum[s][1], stream_sum[s][0]);
        close(sfd[s][0]);
    }
    printf("streams: %d pipes x %ld bytes in writes of up to 256 KiB, checksums match: OK\n",
           NSTREAM, SBYTES);
    return 0;
}
