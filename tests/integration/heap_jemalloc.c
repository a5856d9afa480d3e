/* heap_jemalloc: a program linked against Debian's libjemalloc calls its
 * extended API (mallocx, rallocx, xallocx, sallocx, dallocx, sdallocx,
 * nallocx, mallctl) on pointers from malloc and the reverse. Natively
 * jemalloc serves everything; under libgrun the preloaded malloc family
 * wins symbol lookup, so libgrun must serve the extended API as well, or a
 * pointer would cross allocators and crash. */
#include "itest.h"
#include <jemalloc/jemalloc.h>

int main(void)
{
    for (size_t n = 1; n < (4u << 20); n = n * 3 + 1) {
        void *p = malloc(n);
        CHECK(p, "malloc");
        size_t s = sallocx(p, 0);
        CHECK(s >= n, "sallocx(malloc(%zu)) = %zu", n, s);
        memset(p, 7, s);
        p = rallocx(p, n * 2, 0);
        CHECK(p && sallocx(p, 0) >= n * 2, "rallocx");
        CHECK(((unsigned char *)p)[n - 1] == 7, "rallocx kept data");
        size_t x = xallocx(p, n * 2, 0, 0);
        CHECK(x >= n * 2, "xallocx");
        dallocx(p, 0);

        void *q = mallocx(n, MALLOCX_ALIGN(64) | MALLOCX_ZERO);
        CHECK(q && ((uintptr_t)q & 63) == 0, "mallocx aligned");
        for (size_t i = 0; i < n; i++)
            CHECK(((unsigned char *)q)[i] == 0, "mallocx zero");
        CHECK(malloc_usable_size(q) >= n, "malloc_usable_size(mallocx)");
        CHECK(nallocx(n, 0) >= n, "nallocx");
        q = realloc(q, n + 100);
        CHECK(q, "realloc(mallocx)");
        free(q);

        void *r = mallocx(n, 0);
        sdallocx(r, n, 0);
    }
    size_t allocated, len = sizeof allocated;
    uint64_t epoch = 1;
    size_t elen = sizeof epoch;
    CHECK(mallctl("epoch", &epoch, &elen, &epoch, elen) == 0, "mallctl epoch");
    CHECK(mallctl("stats.allocated", &allocated, &len, NULL, 0) == 0, "mallctl stats.allocated");
    CHECK(mallctl("no.such.name", NULL, NULL, NULL, 0) != 0, "mallctl unknown name");
    printf("heap_jemalloc ok\n");
    return 0;
}
