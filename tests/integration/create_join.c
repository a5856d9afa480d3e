/* create_join - 100000 pthread_create + pthread_join, 1000 threads alive at a
 * time. Each thread computes a value from its index and returns it through
 * pthread_exit/return; main sums the joined values and compares them with
 * the same computation done by itself. */
#include "itest.h"

#define TOTAL 100000
#define BATCH 1000

static uint64_t work(uint64_t i)
{
    uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;
    for (int k = 0; k < 16; k++)
        x ^= x >> 29, x *= 0xbf58476d1ce4e5b9ull;
    return x & 0xffffff;
}

static void *thread_main(void *arg)
{
    uint64_t i = (uint64_t)(uintptr_t)arg;
    if (i % 2)
        pthread_exit((void *)(uintptr_t)work(i));
    return (void *)(uintptr_t)work(i);
}

int main(void)
{
    static pthread_t th[BATCH];
    uint64_t sum = 0, want = 0;
    for (int b = 0; b < TOTAL / BATCH; b++) {
        for (int j = 0; j < BATCH; j++)
            PT(pthread_create(&th[j], NULL, thread_main, (void *)(uintptr_t)(b * BATCH + j)));
        for (int j = 0; j < BATCH; j++) {
            void *ret;
            PT(pthread_join(th[j], &ret));
            CHECK((uint64_t)(uintptr_t)ret == work(b * BATCH + j), "thread %d returned %p",
                  b * BATCH + j, ret);
            sum += (uint64_t)(uintptr_t)ret;
        }
    }
    for (uint64_t i = 0; i < TOTAL; i++)
        want += work(i);
    CHECK(sum == want, "sum %llu, want %llu", (unsigned long long)sum, (unsigned long long)want);
    printf("created=%d joined=%d sum=%llu OK\n", TOTAL, TOTAL, (unsigned long long)sum);
    return 0;
}
