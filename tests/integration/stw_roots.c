/* stw_roots - the runtime's stop-the-world finds a pointer wherever a
 * thread keeps it (issue 5; the garbage collector's roots, issue 7).
 *
 * Five threads each hold one secret 64-bit value in one place only:
 *   1. a general register (r12) of a thread spinning in a call-free loop;
 *   2. the upper half of an AVX register (ymm9) of a spinning thread
 *      (skipped without AVX2);
 *   3. the red zone (below the stack pointer) of a spinning leaf loop;
 *   4. the stack of a thread blocked in read() on an empty pipe;
 *   5. the stack of a thread blocked in waitpid() on a sleeping child;
 *   6. the stack of a thread made with clone(2) directly, which libgrun
 *      did not create (it spins without calls: no TLS of its own).
 * The values are stored XOR-masked in memory and unmasked only inside the
 * asm loops, so no other copy exists. Under libgrun,
 * grun_debug_stw_find(value) stops the world and must find each value (in
 * the expected kind of place, or on the stack of the thread if it was
 * preempted and parked meanwhile), and must not find a value nobody holds.
 * Natively there is no such function: the program prints the same lines
 * without the search, so both runs compare equal. */
#include "itest.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define MASK 0x5a5a5a5a5a5a5a5aull

static volatile uint64_t masked[7];
static volatile int stop;
static atomic_int ready;
static int pfd[2];

static void *reg_spin(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ready, 1);
    __asm__ volatile(
        "movq %0, %%r12\n\t"
        "xorq %1, %%r12\n\t"
        "1: pause\n\t"
        "cmpl $0, %2\n\t"
        "je 1b\n\t"
        "xorq %%r12, %%r12\n\t"
        :
        : "m"(masked[1]), "r"(MASK), "m"(stop)
        : "r12", "memory", "cc");
    return NULL;
}

__attribute__((target("avx2"))) static void *avx_spin(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ready, 1);
    __asm__ volatile(
        "movq %0, %%rax\n\t"
        "xorq %1, %%rax\n\t"
        "vmovq %%rax, %%xmm8\n\t"
        "xorq %%rax, %%rax\n\t"
        "vpxor %%ymm9, %%ymm9, %%ymm9\n\t"
        "vinserti128 $1, %%xmm8, %%ymm9, %%ymm9\n\t"
        "vpxor %%xmm8, %%xmm8, %%xmm8\n\t"
        "1: pause\n\t"
        "cmpl $0, %2\n\t"
        "je 1b\n\t"
        "vpxor %%ymm9, %%ymm9, %%ymm9\n\t"
        "vzeroupper\n\t"
        :
        : "m"(masked[2]), "r"(MASK), "m"(stop)
        : "rax", "xmm8", "xmm9", "memory", "cc");
    return NULL;
}

static void *redzone_spin(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ready, 1);
    __asm__ volatile(
        "movq %0, %%rax\n\t"
        "xorq %1, %%rax\n\t"
        "movq %%rax, -64(%%rsp)\n\t"
        "xorq %%rax, %%rax\n\t"
        "1: pause\n\t"
        "cmpl $0, %2\n\t"
        "je 1b\n\t"
        "movq $0, -64(%%rsp)\n\t"
        :
        : "m"(masked[3]), "r"(MASK), "m"(stop)
        : "rax", "memory", "cc");
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    volatile uint64_t local = masked[4] ^ MASK;
    (void)local;
    atomic_fetch_add(&ready, 1);
    char c;
    CHECK(read(pfd[0], &c, 1) == 1, "read: %s", strerror(errno));
    local = 0;
    return NULL;
}

static void *waiter(void *arg)
{
    pid_t child = (pid_t)(intptr_t)arg;
    volatile uint64_t local = masked[5] ^ MASK;
    (void)local;
    atomic_fetch_add(&ready, 1);
    int st;
    CHECK(waitpid(child, &st, 0) == child, "waitpid: %s", strerror(errno));
    local = 0;
    return NULL;
}

static volatile int foreign_stop, foreign_ready;

__attribute__((noinline)) static void spin_once(void)
{
    __asm__ volatile("pause" ::: "memory");
}

/* Not a leaf (it calls spin_once): its locals live above the stack
 * pointer, not in the red zone. */
static int foreign(void *arg)
{
    (void)arg;
    volatile uint64_t local = 0;
    /* Unmask straight into the stack slot: no register keeps a copy. */
    __asm__ volatile(
        "movq %1, %%rax\n\t"
        "xorq %2, %%rax\n\t"
        "movq %%rax, %0\n\t"
        "xorq %%rax, %%rax\n\t"
        : "=m"(local)
        : "m"(masked[6]), "r"(MASK)
        : "rax", "memory");
    foreign_ready = 1;
    while (!foreign_stop)
        spin_once();
    local = 0;
    foreign_ready = 2;
    return 0;
}

int main(void)
{
    bool avx = __builtin_cpu_supports("avx2");
    uint64_t seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 7; i++)
        masked[i] = ((seed + (uint64_t)i * 0x1234567890abull) | 1) ^ MASK;
    CHECK(pipe(pfd) == 0, "pipe");
    pid_t child = fork();
    CHECK(child >= 0, "fork");
    if (child == 0) {
        usleep(1500000);
        _exit(0);
    }

    /* The blocked threads first; the spinners one at a time, each alone
     * beside main, so that it is running (not preempted) when found. */
    pthread_t t[5];
    PT(pthread_create(&t[3], NULL, reader, NULL));
    PT(pthread_create(&t[4], NULL, waiter, (void *)(intptr_t)child));
    void *(*spin[4])(void *) = { NULL, reg_spin, avx_spin, redzone_spin };

    size_t fsz = 256 << 10;
    char *fstack = mmap(NULL, fsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(fstack != MAP_FAILED, "mmap");
    CHECK(clone(foreign, fstack + fsz, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                CLONE_SYSVSEM, NULL) > 0, "clone: %s", strerror(errno));
    while (!foreign_ready)
        usleep(1000);

    static const char *const what[7] = {
        "", "general register", "AVX register", "red zone", "stack of a thread blocked in read",
        "stack of a thread blocked in waitpid", "stack of a thread libgrun did not create",
    };
    /* found in the expected place, or (1-3) on its stack if it was
     * preempted and parked: the trampoline saved everything there. */
    static const int want[7] = { 0, 1 | 32, 2 | 32, 4 | 32, 32 | 16, 16 | 32, 64 };
    int (*find)(uint64_t, int *) = (int (*)(uint64_t, int *))dlsym(RTLD_DEFAULT, "grun_debug_stw_find");
    if (under_grun())
        CHECK(find != NULL, "grun_debug_stw_find missing");
    for (int i = 1; i < 7; i++) {
        if (i == 2 && !avx) {
            printf("%d. %s: skipped (no AVX2)\n", i, what[i]);
            continue;
        }
        if (i <= 3) {
            stop = 0;
            int r0 = atomic_load(&ready);
            PT(pthread_create(&t[i - 1], NULL, spin[i], NULL));
            while (atomic_load(&ready) == r0)
                usleep(1000);
        }
        usleep(20000);	/* in its loop or its wait */
        if (find) {
            int unstopped = -1;
            int f = find(masked[i] ^ MASK, &unstopped);
            CHECK(f >= 0, "stop the world failed");
            CHECK(f & want[i], "%s: value not found (found mask %#x)", what[i], f);
            CHECK(unstopped == 0, "%d threads did not stop", unstopped);
        }
        printf("%d. %s: found\n", i, what[i]);
        if (i <= 3) {
            stop = 1;
            PT(pthread_join(t[i - 1], NULL));
        }
    }
    if (find) {
        int f = find(masked[0] ^ MASK, NULL);
        CHECK(f == 0, "a value nobody holds was found (mask %#x)", f);
    }
    printf("a value nobody holds: not found\n");

    foreign_stop = 1;
    while (foreign_ready != 2)
        usleep(1000);
    CHECK(write(pfd[1], "x", 1) == 1, "write");
    PT(pthread_join(t[3], NULL));
    PT(pthread_join(t[4], NULL));
    return 0;
}
