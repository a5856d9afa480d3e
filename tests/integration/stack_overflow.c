/* stack_overflow - a thread recurses without end. Natively the process dies
 * of SIGSEGV on the guard page. Under libgrun this is a documented
 * divergence: the process must still die abnormally, and stderr must say
 * "stack overflow" (the runner checks both; see tests/README.md).
 * Nothing is printed on stdout unless the recursion somehow ends, which
 * makes the program exit 0 and the test fail. */
#include "itest.h"

static __attribute__((noipa)) void sink(volatile char *p) { (void)p; }

static __attribute__((noipa)) long recurse(long n)
{
    volatile char buf[512];
    buf[0] = (char)n;
    if (n < 0) /* never: keeps the compiler from proving infinite recursion */
        return 0;
    long r = recurse(n + 1);
    sink(buf);
    return r + buf[0];
}

static void *overflow(void *arg)
{
    return (void *)recurse((long)(intptr_t)arg);
}

int main(void)
{
    pthread_t t;
    void *ret;
    PT(pthread_create(&t, NULL, overflow, NULL));
    PT(pthread_join(t, &ret));
    printf("recursion returned %p: no overflow?\n", ret);
    return 0;
}
