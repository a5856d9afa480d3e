/* heap_conform: the malloc family's promises, checked the same way natively
 * (glibc) and under libgrun's heap (issue 6).
 *
 * Every size 0..70000 (and a sample up to 8 MiB): alignment (16 bytes above
 * 8), the whole malloc_usable_size() writable, a pattern intact until free.
 * Every power-of-two alignment 1..1 MiB with posix_memalign, aligned_alloc,
 * memalign, and the error cases: EINVAL for bad posix_memalign alignments,
 * calloc/reallocarray overflow -> ENOMEM, huge malloc -> NULL + ENOMEM,
 * realloc(p, 0), realloc(NULL, n), valloc/pvalloc page alignment, calloc
 * zeroing after dirty reuse, realloc chains up and down keeping the whole
 * old usable size, free() preserving errno, malloc_trim/mallinfo2/mallopt
 * accepted. */
#include "itest.h"
#include <malloc.h>
#include <stdint.h>

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7);
}

static void check(const unsigned char *p, size_t n, unsigned seed, const char *what)
{
    for (size_t i = 0; i < n; i++)
        CHECK(p[i] == (unsigned char)(seed + i * 7), "%s: byte %zu of %zu changed", what, i, n);
}

static void sizes(void)
{
    enum { N = 64 };
    void *keep[N] = { 0 };
    size_t keepn[N] = { 0 }, keepseed[N] = { 0 };
    for (size_t n = 0; n <= 70000; n += (n < 4096 ? 1 : n < 40000 ? 7 : 61)) {
        unsigned char *p = malloc(n);
        CHECK(p, "malloc(%zu) failed", n);
        if (n > 8)
            CHECK(((uintptr_t)p & 15) == 0, "malloc(%zu) = %p not 16-aligned", n, (void *)p);
        else
            CHECK(((uintptr_t)p & 7) == 0, "malloc(%zu) = %p not 8-aligned", n, (void *)p);
        size_t u = malloc_usable_size(p);
        CHECK(u >= n, "usable %zu < %zu", u, n);
        fill(p, u, (unsigned)n);
        unsigned slot = (unsigned)(n % N);
        if (keep[slot])
            check(keep[slot], keepn[slot], (unsigned)keepseed[slot], "kept");
        free(keep[slot]);
        keep[slot] = p;
        keepn[slot] = u;
        keepseed[slot] = n;
    }
    for (int i = 0; i < N; i++)
        free(keep[i]);
    for (size_t n = 70000; n <= (8u << 20); n = n * 3 / 2) {
        unsigned char *p = malloc(n);
        CHECK(p && ((uintptr_t)p & 15) == 0, "malloc(%zu)", n);
        size_t u = malloc_usable_size(p);
        CHECK(u >= n, "usable");
        fill(p, u, 3);
        check(p, u, 3, "large");
        free(p);
    }
    printf("sizes ok\n");
}

static void alignments(void)
{
    for (size_t a = 1; a <= (1u << 20); a <<= 1) {
        for (size_t n = 0; n < 3 * a + 100 && n < (4u << 20); n += (n < 64 ? 1 : a / 3 + 17)) {
            void *p = NULL;
            if (a >= sizeof(void *)) {
                int r = posix_memalign(&p, a, n);
                CHECK(r == 0 && p, "posix_memalign(%zu, %zu) = %d", a, n, r);
                CHECK(((uintptr_t)p & (a - 1)) == 0, "posix_memalign(%zu, %zu) = %p", a, n, p);
                CHECK(malloc_usable_size(p) >= n, "usable");
                memset(p, 0xab, malloc_usable_size(p));
                free(p);
            }
            p = aligned_alloc(a, n);
            CHECK(p && ((uintptr_t)p & (a - 1)) == 0, "aligned_alloc(%zu, %zu) = %p", a, n, p);
            memset(p, 0xcd, n);
            free(p);
            p = memalign(a, n);
            CHECK(p && ((uintptr_t)p & (a - 1)) == 0, "memalign(%zu, %zu) = %p", a, n, p);
            memset(p, 0xef, malloc_usable_size(p));
            free(p);
        }
    }
    void *p = (void *)1;
    CHECK(posix_memalign(&p, 24, 10) == EINVAL && p == (void *)1, "posix_memalign 24 -> EINVAL");
    CHECK(posix_memalign(&p, 4, 10) == EINVAL, "posix_memalign 4 -> EINVAL");
    CHECK(posix_memalign(&p, 0, 10) == EINVAL, "posix_memalign 0 -> EINVAL");
    /* glibc 2.36 rounds a non-power-of-two memalign alignment up */
    p = memalign(48, 100);
    CHECK(p && ((uintptr_t)p & 63) == 0, "memalign(48) rounds to 64");
    free(p);
    p = valloc(100);
    CHECK(p && ((uintptr_t)p & 4095) == 0, "valloc");
    free(p);
    p = pvalloc(1);
    CHECK(p && ((uintptr_t)p & 4095) == 0 && malloc_usable_size(p) >= 4096, "pvalloc");
    memset(p, 1, 4096);
    free(p);
    printf("alignments ok\n");
}

static void errors(void)
{
    volatile size_t big = SIZE_MAX / 2;
    errno = 0;
    void *p = calloc(big, 3);
    CHECK(!p && errno == ENOMEM, "calloc overflow");
    errno = 0;
    p = malloc(big * 2 - 100);
    CHECK(!p && errno == ENOMEM, "huge malloc");
    errno = 0;
    p = malloc((size_t)1 << 62);
    CHECK(!p && errno == ENOMEM, "2^62 malloc");
    errno = 0;
    p = reallocarray(NULL, big / 2, 8);
    CHECK(!p && errno == ENOMEM, "reallocarray overflow");
    void *q = malloc(10);
    errno = 0;
    p = realloc(q, big * 2 - 10);
    CHECK(!p && errno == ENOMEM, "realloc huge");
    free(q);	/* still valid */
    p = realloc(NULL, 100);
    CHECK(p, "realloc(NULL)");
    CHECK(realloc(p, 0) == NULL, "realloc(p, 0) frees");
    errno = 1234;
    free(NULL);
    free(malloc(100));
    free(malloc(100000));
    CHECK(errno == 1234, "free changed errno");
    CHECK(malloc_usable_size(NULL) == 0, "usable(NULL)");
    printf("errors ok\n");
}

static void zeroing(void)
{
    for (int round = 0; round < 3; round++) {
        void *d[200];
        size_t sz[] = { 8, 24, 100, 1000, 5000, 40000, 300000, 3000000 };
        for (int i = 0; i < 200; i++) {
            d[i] = malloc(sz[i % 8]);
            memset(d[i], 0x5a, sz[i % 8]);
        }
        for (int i = 0; i < 200; i++)
            free(d[i]);
        for (int i = 0; i < 200; i++) {
            size_t n = sz[i % 8];
            unsigned char *p = calloc(1, n);
            CHECK(p, "calloc");
            size_t u = malloc_usable_size(p);
            for (size_t k = 0; k < u; k++)
                CHECK(p[k] == 0, "calloc(%zu) byte %zu = %d", n, k, p[k]);
            d[i] = p;
        }
        for (int i = 0; i < 200; i++)
            free(d[i]);
    }
    printf("calloc ok\n");
}

static void realloc_chains(void)
{
    unsigned char *p = NULL;
    size_t have = 0;
    for (size_t n = 1; n < (6u << 20); n = n * 5 / 4 + 1) {
        p = realloc(p, n);
        CHECK(p, "realloc grow %zu", n);
        check(p, have, 9, "grow");
        size_t u = malloc_usable_size(p);
        fill(p, u, 9);
        have = u < n ? u : n;
        have = u;	/* the whole usable size was written and must move */
    }
    for (size_t n = have; n > 0; n = n * 3 / 4) {
        p = realloc(p, n);
        CHECK(p, "realloc shrink %zu", n);
        check(p, n, 9, "shrink");
    }
    free(p);
    /* Objects that grow in place across their slack. */
    for (int i = 0; i < 1000; i++) {
        char *s = malloc(1);
        size_t len = 0;
        for (int k = 0; k < 300; k++) {
            s = realloc(s, len + 2);
            s[len++] = (char)('a' + k % 26);
            s[len] = 0;
        }
        CHECK(strlen(s) == 300 && s[299] == 'a' + 299 % 26, "string grow");
        free(s);
    }
    printf("realloc ok\n");
}

static void misc(void)
{
    CHECK(mallopt(M_ARENA_MAX, 2) == 1, "mallopt");
    struct mallinfo2 mi = mallinfo2();
    (void)mi;
    void *big[64];
    for (int i = 0; i < 64; i++)
        big[i] = malloc(1 << 20);
    for (int i = 0; i < 64; i++)
        free(big[i]);
    int r = malloc_trim(0);
    CHECK(r == 0 || r == 1, "malloc_trim");
    char *s = strdup("hello");
    CHECK(s && strcmp(s, "hello") == 0, "strdup");
    free(s);
    char *line = NULL;
    CHECK(asprintf(&line, "%d-%s", 42, "x") == 4 && strcmp(line, "42-x") == 0, "asprintf");
    free(line);
    printf("misc ok\n");
}

int main(void)
{
    sizes();
    alignments();
    errors();
    zeroing();
    realloc_chains();
    misc();
    return 0;
}
