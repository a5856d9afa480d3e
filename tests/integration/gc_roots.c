/* gc_roots - every kind of root keeps its object alive (issue 7: the
 * collect and quarantine modes; leak mode counts with the same mark).
 *
 * For each root kind the program allocates an object of a size class of
 * its own, fills it with a canary (words that are never addresses), and
 * leaves the only pointer to it in that root:
 *   register-in-syscall  rbx of a thread blocked in read() on a pipe (the
 *                        call is made from inline asm, so no C variable
 *                        holds the pointer; the callee may spill rbx);
 *   avx-register         the upper half of ymm9 of a spinning thread
 *                        (skipped without AVX2);
 *   tls                  a __thread variable of a thread blocked on a condvar;
 *   dlopen-module        the .data of a dlopen'd module (gc_mod.so);
 *   anon-mmap            a private anonymous mapping;
 *   shared-mmap          a MAP_SHARED anonymous mapping;
 *   epoll-data           epoll_event.data of a registered eventfd (kernel only);
 *   foreign-stack        the stack of a thread made with raw clone(2), which
 *                        naps in raw nanosleep system calls;
 *   interior-small       base + 24 of a 64-byte object, in a global;
 *   interior-large       the middle of a 3 MiB object, in a global;
 *   timer-sigevent       sival_ptr of a SIGEV_SIGNAL timer (kernel only),
 *                        read back from siginfo in the handler.
 * Everywhere else the address is kept XOR-masked (never a pointer); a
 * plain handoff pointer exists only until the root holds the object.
 * Helpers are noinline and the stack below main is scrubbed, so no stale
 * copy keeps an object alive; 256 dropped "control" objects show that.
 *
 * Under libgrun (the grun_debug_* functions found with dlsym):
 *  - after each kind is planted, a leak-mode count (grun_debug_gc_leaked)
 *    must not grow: the mark saw the root (this fails in every mode, and
 *    names the kind, or says that some other object became unreachable);
 *    after the control objects are dropped it must grow by at most 256
 *    and, with what collect mode's own cycles freed meanwhile, by at
 *    least 192 (few stale copies: the test can see a missed root);
 *  - quarantine mode: every planted object is then free()d, so only the
 *    root refers to it: a dangling pointer the collector must report
 *    (stats.dangling grows by one per object) and must not recycle;
 *  - grun_debug_gc() runs 4 times, interleaved with rounds of heavy
 *    allocation of every planted size class (8192 objects each, kept):
 *    none of them may be a planted object, and the cycles must have run;
 *  - collect mode: the control objects must be freed (stats.freed_objects)
 *    and at least one handed out again by the pressure rounds;
 * then each pointer is read back from its root and must be the planted
 * one, with its canary intact (not checked in quarantine mode: the object
 * was freed). Natively the same lines are printed without the collector
 * checks. One line per kind. */
#include "itest.h"
#include "../../shims/grun_debug.h"

#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define MASK 0x5a5a5a5a5a5a5a5aull
#define NROUNDS 3
#define NPRESS 8192             /* objects per small class per round */
#define NPRESS_LARGE 2          /* large objects per round */
#define NCTL 256                /* dropped control objects */
#define CTL_SIZE 224
#define LARGE_SIZE ((size_t)3 << 20)
#define LARGE_OFF (((size_t)3 << 19) + 40)
#define SMALL_OFF 24
#define MAP_LEN 65536
#define MAP_SLOT 1539           /* a word in the mapping's fourth page */

enum {
    K_SYSCALL, K_AVX, K_TLS, K_MODULE, K_ANON, K_SHARED, K_EPOLL, K_FOREIGN,
    K_SMALLIN, K_LARGEIN, K_TIMER, NK
};

/* Distinct size classes, so that a leak report by class names the kind. */
static const struct kind {
    const char *name;
    size_t size;
    bool thread;                /* a thread picks it up from the handoff */
} kinds[NK] = {
    [K_SYSCALL] = { "register-in-syscall", 80, true },
    [K_AVX] = { "avx-register", 96, true },
    [K_TLS] = { "tls", 112, true },
    [K_MODULE] = { "dlopen-module", 128, false },
    [K_ANON] = { "anon-mmap", 144, false },
    [K_SHARED] = { "shared-mmap", 160, false },
    [K_EPOLL] = { "epoll-data", 176, false },
    [K_FOREIGN] = { "foreign-stack", 192, true },
    [K_SMALLIN] = { "interior-small", 64, false },
    [K_LARGEIN] = { "interior-large", LARGE_SIZE, false },
    [K_TIMER] = { "timer-sigevent", 208, false },
};

static volatile uint64_t masked[NK];            /* planted base ^ MASK; 0 = none */
static volatile uint64_t back[NK];              /* read back from the root ^ MASK */
static volatile uint64_t masked_ctl[NCTL];
static bool skipped[NK];
static size_t usable[NK];                       /* malloc_usable_size (under libgrun) */
static void *volatile handoff;                  /* plain, until the root holds it */

/* The roots the main thread fills. */
struct gc_mod_data {
    uint64_t head;
    void *volatile slot;
    uint64_t tail;
};
static struct gc_mod_data *mod;
static void *volatile *g_anon, *volatile *g_shared;
static char *volatile g_in_small, *volatile g_in_large;
static int epfd, efd;
static timer_t g_timer;
static volatile sig_atomic_t timer_fired;

/* Thread scaffolding. */
static struct gate go = GATE_INIT;              /* count = kinds handed out so far */
static struct gate done = GATE_INIT;
static atomic_int took[NK];
static volatile int avx_stop;
static volatile int foreign_go, foreign_stop, foreign_state;
static int sfd[2];
static __thread void *volatile t_slot;

static void **volatile g_keep[NROUNDS];         /* the pressure objects, kept */

static uint64_t pattern(int k, size_t i)
{
    return 0xc0de000000000000ull ^ ((uint64_t)k << 40) ^ (i * 0x10001ull);
}

/* Overwrite the dead stack below the caller and the scratch registers. */
__attribute__((noinline)) static void scrub(void)
{
    char buf[32768];
    memset(buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
    __asm__ volatile("xorl %%eax, %%eax\n\txorl %%ecx, %%ecx\n\txorl %%edx, %%edx\n\t"
                     "xorl %%esi, %%esi\n\txorl %%edi, %%edi\n\txorl %%r8d, %%r8d\n\t"
                     "xorl %%r9d, %%r9d\n\txorl %%r10d, %%r10d\n\txorl %%r11d, %%r11d\n\t"
                     "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\t"
                     "pxor %%xmm3, %%xmm3\n\tpxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
                     "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"
                     :
                     :
                     : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "xmm0", "xmm1",
                       "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "cc");
}

static void *unmask(uint64_t m)
{
    return (void *)(uintptr_t)(m ^ MASK);
}

/* Allocate kind k's object and fill its canary; it is left in the
 * handoff pointer and, masked, in masked[k]. */
__attribute__((noinline)) static void make(int k)
{
    size_t n = kinds[k].size / 8;
    uint64_t *p = malloc(kinds[k].size);
    CHECK(p, "malloc(%zu) failed", kinds[k].size);
    for (size_t i = 0; i < n; i++)
        p[i] = pattern(k, i);
    masked[k] = (uint64_t)(uintptr_t)p ^ MASK;
    usable[k] = malloc_usable_size(p);
    handoff = p;
}

/* The first word of kind k's canary that is wrong, or -1. */
__attribute__((noinline)) static long bad_canary(int k)
{
    const uint64_t *p = unmask(masked[k]);
    size_t n = kinds[k].size / 8;
    for (size_t i = 0; i < n; i++)
        if (p[i] != pattern(k, i))
            return (long)i;
    return -1;
}

/* The kind whose planted object p is, or -1. */
__attribute__((noinline)) static int planted_kind(const void *p)
{
    uint64_t m = (uint64_t)(uintptr_t)p ^ MASK;
    for (int k = 0; k < NK; k++)
        if (masked[k] == m)
            return k;
    return -1;
}

__attribute__((noinline)) static bool is_control(const void *p)
{
    uint64_t m = (uint64_t)(uintptr_t)p ^ MASK;
    for (int i = 0; i < NCTL; i++)
        if (masked_ctl[i] == m)
            return true;
    return false;
}

/* ---- the threads that hold a root ---- */

/* rbx holds the pointer across read(); rsp is moved below the red zone
 * and aligned for the call and put back from r12. */
static void *syscall_holder(void *arg)
{
    (void)arg;
    gate_wait(&go, K_SYSCALL + 1);
    char c = 0;
    long n;
    __asm__ volatile("movq %[m], %%rbx\n\t"
                     "xorq %[mask], %%rbx\n\t"
                     "movl $1, %[took]\n\t"
                     "movq %%rsp, %%r12\n\t"
                     "subq $256, %%rsp\n\t"
                     "andq $-16, %%rsp\n\t"
                     "movl %[fd], %%edi\n\t"
                     "movq %[buf], %%rsi\n\t"
                     "movl $1, %%edx\n\t"
                     "call read@PLT\n\t"
                     "movq %%r12, %%rsp\n\t"
                     "xorq %[mask], %%rbx\n\t"
                     "movq %%rbx, %[out]\n\t"
                     "xorl %%ebx, %%ebx\n\t"
                     : "=&a"(n), [out] "=m"(back[K_SYSCALL]), [took] "=m"(took[K_SYSCALL])
                     : [m] "m"(masked[K_SYSCALL]), [mask] "r"(MASK), [fd] "m"(sfd[0]), [buf] "r"(&c)
                     : "rbx", "r12", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "xmm0", "xmm1",
                       "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
                       "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
    CHECK(n == 1, "read in the register-holding thread returned %ld", n);
    return NULL;
}

__attribute__((target("avx2"))) static void *avx_holder(void *arg)
{
    (void)arg;
    gate_wait(&go, K_AVX + 1);
    atomic_store(&took[K_AVX], 1);
    __asm__ volatile("movq %[m], %%rax\n\t"
                     "xorq %[mask], %%rax\n\t"
                     "vmovq %%rax, %%xmm8\n\t"
                     "xorl %%eax, %%eax\n\t"
                     "vpxor %%ymm9, %%ymm9, %%ymm9\n\t"
                     "vinserti128 $1, %%xmm8, %%ymm9, %%ymm9\n\t"
                     "vpxor %%xmm8, %%xmm8, %%xmm8\n\t"
                     "1: pause\n\t"
                     "cmpl $0, %[stop]\n\t"
                     "je 1b\n\t"
                     "vextracti128 $1, %%ymm9, %%xmm8\n\t"
                     "vmovq %%xmm8, %%rax\n\t"
                     "xorq %[mask], %%rax\n\t"
                     "movq %%rax, %[out]\n\t"
                     "vpxor %%ymm9, %%ymm9, %%ymm9\n\t"
                     "vpxor %%xmm8, %%xmm8, %%xmm8\n\t"
                     "vzeroupper\n\t"
                     : [out] "=m"(back[K_AVX])
                     : [m] "m"(masked[K_AVX]), [mask] "r"(MASK), [stop] "m"(avx_stop)
                     : "rax", "xmm8", "xmm9", "memory", "cc");
    return NULL;
}

__attribute__((noinline)) static void tls_take(void)
{
    t_slot = unmask(masked[K_TLS]);
}

__attribute__((noinline)) static void tls_give(void)
{
    back[K_TLS] = (uint64_t)(uintptr_t)t_slot ^ MASK;
    t_slot = NULL;
}

static void *tls_holder(void *arg)
{
    (void)arg;
    gate_wait(&go, K_TLS + 1);
    tls_take();
    scrub();
    atomic_store(&took[K_TLS], 1);
    gate_wait(&done, 1);
    tls_give();
    return NULL;
}

/* The raw clone thread: no TLS of its own, so no libc; it naps in raw
 * nanosleep system calls. Not a leaf (it calls foreign_nap): its local
 * lives above the stack pointer. */
__attribute__((noinline)) static void foreign_nap(void)
{
    static const struct timespec d = { 0, 1000000 };
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_nanosleep), "D"(&d), "S"(0L) : "rcx", "r11", "memory");
    (void)r;
}

static int foreign(void *arg)
{
    (void)arg;
    volatile uint64_t local = 0;
    while (!foreign_go)
        foreign_nap();
    /* Unmask straight into the stack slot: no register keeps a copy. */
    __asm__ volatile("movq %1, %%rax\n\t"
                     "xorq %2, %%rax\n\t"
                     "movq %%rax, %0\n\t"
                     "xorl %%eax, %%eax\n\t"
                     : "=m"(local)
                     : "m"(masked[K_FOREIGN]), "r"(MASK)
                     : "rax", "memory");
    foreign_state = 1;
    while (!foreign_stop)
        foreign_nap();
    back[K_FOREIGN] = local ^ MASK;
    local = 0;
    foreign_state = 2;
    return 0;
}

static void on_timer(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    back[K_TIMER] = (uint64_t)(uintptr_t)si->si_value.sival_ptr ^ MASK;
    timer_fired = 1;
}

/* ---- the main thread's roots ---- */

/* Its frame (ev, sev) is below main's: the caller scrubs it afterwards. */
__attribute__((noinline)) static void plant_main(int k)
{
    void *p = handoff;
    switch (k) {
    case K_MODULE:
        mod->slot = p;
        break;
    case K_ANON:
        g_anon[MAP_SLOT] = p;
        break;
    case K_SHARED:
        g_shared[MAP_SLOT] = p;
        break;
    case K_EPOLL: {
        struct epoll_event ev = { .events = EPOLLIN };
        ev.data.ptr = p;
        CHECK(epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev) == 0, "epoll_ctl: %s", strerror(errno));
        break;
    }
    case K_SMALLIN:
        g_in_small = (char *)p + SMALL_OFF;
        break;
    case K_LARGEIN:
        g_in_large = (char *)p + LARGE_OFF;
        break;
    case K_TIMER: {
        struct sigevent sev;
        memset(&sev, 0, sizeof sev);
        sev.sigev_notify = SIGEV_SIGNAL;
        sev.sigev_signo = SIGUSR1;
        sev.sigev_value.sival_ptr = p;
        CHECK(timer_create(CLOCK_MONOTONIC, &sev, &g_timer) == 0, "timer_create: %s", strerror(errno));
        break;
    }
    default:
        FAIL("kind %d is not the main thread's", k);
    }
}

/* Read every pointer back from its root (masked) and clear the root. */
__attribute__((noinline)) static void retrieve(pthread_t *t)
{
    CHECK(write(sfd[1], "x", 1) == 1, "write: %s", strerror(errno));
    PT(pthread_join(t[K_SYSCALL], NULL));
    if (!skipped[K_AVX]) {
        avx_stop = 1;
        PT(pthread_join(t[K_AVX], NULL));
    }
    gate_add(&done, 1);
    PT(pthread_join(t[K_TLS], NULL));
    foreign_stop = 1;
    while (foreign_state != 2)
        usleep(1000);

    back[K_MODULE] = (uint64_t)(uintptr_t)mod->slot ^ MASK;
    mod->slot = NULL;
    back[K_ANON] = (uint64_t)(uintptr_t)g_anon[MAP_SLOT] ^ MASK;
    g_anon[MAP_SLOT] = NULL;
    back[K_SHARED] = (uint64_t)(uintptr_t)g_shared[MAP_SLOT] ^ MASK;
    g_shared[MAP_SLOT] = NULL;
    back[K_SMALLIN] = (uint64_t)(uintptr_t)(g_in_small - SMALL_OFF) ^ MASK;
    g_in_small = NULL;
    back[K_LARGEIN] = (uint64_t)(uintptr_t)(g_in_large - LARGE_OFF) ^ MASK;
    g_in_large = NULL;

    uint64_t one = 1;
    CHECK(write(efd, &one, sizeof one) == sizeof one, "write eventfd: %s", strerror(errno));
    struct epoll_event ev;
    int n = epoll_wait(epfd, &ev, 1, 5000);
    CHECK(n == 1, "epoll_wait returned %d (%s)", n, n < 0 ? strerror(errno) : "no event");
    back[K_EPOLL] = ev.data.u64 ^ MASK;

    struct itimerspec its = { .it_value = { 0, 1000000 } };
    CHECK(timer_settime(g_timer, 0, &its, NULL) == 0, "timer_settime: %s", strerror(errno));
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    PT(pthread_sigmask(SIG_UNBLOCK, &usr1, NULL));
    for (int i = 0; i < 5000 && !timer_fired; i++)
        usleep(1000);
    PT(pthread_sigmask(SIG_BLOCK, &usr1, NULL));
    CHECK(timer_fired, "the timer's signal did not arrive in 5 s");
    CHECK(timer_delete(g_timer) == 0, "timer_delete: %s", strerror(errno));
}

/* ---- setup, control objects, pressure ---- */

__attribute__((noinline)) static void setup(pthread_t *t)
{
    char exe[PATH_MAX], path[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0, "readlink");
    exe[n] = 0;
    snprintf(path, sizeof path, "%s/gc_mod.so", dirname(exe));
    void *h = dlopen(path, RTLD_NOW);
    CHECK(h, "dlopen: %s", dlerror());
    mod = dlsym(h, "gc_mod_data");
    CHECK(mod && mod->head == 0x676372 && mod->tail == 0x676372, "gc_mod_data");

    g_anon = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    g_shared = mmap(NULL, MAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(g_anon != MAP_FAILED && g_shared != MAP_FAILED, "mmap: %s", strerror(errno));
    memset((void *)g_anon, 0x33, MAP_LEN);
    memset((void *)g_shared, 0x33, MAP_LEN);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    CHECK(epfd >= 0 && efd >= 0, "epoll_create1/eventfd: %s", strerror(errno));
    CHECK(pipe(sfd) == 0, "pipe: %s", strerror(errno));

    /* SIGUSR1 (the timer's) is blocked in every thread, the clone thread
     * included; main unblocks it only to take the timer's signal. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_timer;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    PT(pthread_sigmask(SIG_BLOCK, &usr1, NULL));

    PT(pthread_create(&t[K_SYSCALL], NULL, syscall_holder, NULL));
    if (!skipped[K_AVX])
        PT(pthread_create(&t[K_AVX], NULL, avx_holder, NULL));
    PT(pthread_create(&t[K_TLS], NULL, tls_holder, NULL));
    size_t fsz = 256 << 10;
    char *fstack = mmap(NULL, fsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    CHECK(fstack != MAP_FAILED, "mmap: %s", strerror(errno));
    CHECK(clone(foreign, fstack + fsz, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                CLONE_SYSVSEM, NULL) > 0, "clone: %s", strerror(errno));
}

/* Drop NCTL objects; remember their addresses, masked. */
__attribute__((noinline)) static void make_control(void)
{
    for (int i = 0; i < NCTL; i++) {
        char *p = malloc(CTL_SIZE);
        CHECK(p, "malloc");
        memset(p, 0x77, CTL_SIZE);
        masked_ctl[i] = (uint64_t)(uintptr_t)p ^ MASK;
    }
}

/* Quarantine mode: free the planted object; only its root refers to it. */
__attribute__((noinline)) static void release(int k)
{
    free(unmask(masked[k]));
}

/* Allocate (and keep) NPRESS objects of every planted size class and of
 * the control class; none may be a planted object. Returns how many were
 * control objects handed out again. */
__attribute__((noinline)) static long pressure(int round)
{
    size_t cap = (size_t)(NK + 1) * NPRESS, n = 0;
    void **keep = malloc(cap * sizeof *keep);
    CHECK(keep, "malloc");
    long reused = 0;
    for (int k = 0; k <= NK; k++) {
        if (k < NK && skipped[k])
            continue;
        size_t size = k == NK ? CTL_SIZE : kinds[k].size;
        int count = size > 32768 ? NPRESS_LARGE : NPRESS;
        for (int i = 0; i < count; i++) {
            char *p = malloc(size);
            CHECK(p, "malloc(%zu) failed", size);
            memset(p, 0xee, size);
            int hit = planted_kind(p);
            CHECK(hit < 0, "%s: malloc(%zu) returned its object while the root held it "
                  "(round %d)", kinds[hit].name, size, round);
            if (k == NK && is_control(p))
                reused++;
            keep[n++] = p;
        }
    }
    g_keep[round] = keep;
    return reused;
}

int main(void)
{
    long (*gc)(void) = (long (*)(void))dlsym(RTLD_DEFAULT, "grun_debug_gc");
    int (*stats)(struct grun_gc_stats *, size_t) =
        (int (*)(struct grun_gc_stats *, size_t))dlsym(RTLD_DEFAULT, "grun_debug_gc_stats");
    long (*leaked)(long *) = (long (*)(long *))dlsym(RTLD_DEFAULT, "grun_debug_gc_leaked");
    struct grun_gc_stats s0, s1;
    memset(&s0, 0, sizeof s0);
    int mode = -1;	/* native */
    if (stats) {
        CHECK(stats(&s0, sizeof s0) == 0, "grun_debug_gc_stats failed");
        mode = s0.mode;
    }
    bool cycles = gc && mode >= 0 && mode != GRUN_GC_OFF;
    skipped[K_AVX] = !__builtin_cpu_supports("avx2");

    pthread_t t[NK];
    setup(t);
    long n0 = 0, b0 = 0, n, b;
    if (leaked) {
        n0 = leaked(&b0);
        CHECK(n0 >= 0, "grun_debug_gc_leaked failed");
    }

    /* Plant one kind at a time; the leak-mode count must not grow. */
    for (int k = 0; k < NK; k++) {
        if (skipped[k]) {
            gate_add(&go, 1);
            continue;
        }
        make(k);
        if (!kinds[k].thread)
            plant_main(k);
        if (k == K_FOREIGN)
            foreign_go = 1;
        gate_add(&go, 1);
        if (kinds[k].thread) {
            while (k == K_FOREIGN ? foreign_state != 1 : !atomic_load(&took[k]))
                usleep(1000);
            usleep(20000);	/* in read(), in its loop, parked */
        }
        handoff = NULL;
        scrub();
        if (leaked) {
            n = leaked(&b);
            CHECK(n >= 0, "grun_debug_gc_leaked failed");
            CHECK(!(n - n0 == 1 && b - b0 == (long)usable[k]),
                  "%s: the collector does not see this root (its %zu-byte object counts as leaked)",
                  kinds[k].name, usable[k]);
            CHECK(n <= n0, "while %s was planted, %ld objects (%ld bytes) became unreachable, not "
                  "(only) its %zu-byte object: some other root is lost (GRUN_DEBUG=leakreport=1 "
                  "lists them by size class)", kinds[k].name, n - n0, b - b0, usable[k]);
            n0 = n;
            b0 = b;
        }
    }
    /* Collect mode's own cycles (the pacer's) may free some of them
     * before the count: those count as seen too. */
    struct grun_gc_stats sa, sb;
    if (stats)
        CHECK(stats(&sa, sizeof sa) == 0, "grun_debug_gc_stats failed");
    make_control();
    scrub();
    if (leaked) {
        n = leaked(&b);
        long freed = 0;
        if (stats) {
            CHECK(stats(&sb, sizeof sb) == 0, "grun_debug_gc_stats failed");
            freed = (long)(sb.freed_objects - sa.freed_objects);
        }
        CHECK(n - n0 + freed >= NCTL * 3 / 4, "%d objects dropped, the collector counts %ld more leaked "
              "and freed %ld: stale copies keep them alive, this test could not see a missed root", NCTL,
              n - n0, freed);
        CHECK(n - n0 <= NCTL, "%d objects dropped, %ld more (%ld bytes) counted leaked: some other root "
              "is lost meanwhile", NCTL, n - n0, b - b0);
    }

    int nplanted = 0;
    for (int k = 0; k < NK; k++)
        nplanted += !skipped[k];
    if (mode == GRUN_GC_QUARANTINE) {
        for (int k = 0; k < NK; k++)
            if (!skipped[k])
                release(k);
        scrub();
    }

    long reused = 0;
    for (int r = 0; r < NROUNDS; r++) {
        if (cycles)
            CHECK(gc() >= 0, "grun_debug_gc failed");
        reused += pressure(r);
    }
    if (cycles) {
        CHECK(gc() >= 0, "grun_debug_gc failed");
        CHECK(stats(&s1, sizeof s1) == 0, "grun_debug_gc_stats failed");
        CHECK(s1.cycles >= s0.cycles + NROUNDS + 1, "%llu cycles ran, want at least %d",
              (unsigned long long)(s1.cycles - s0.cycles), NROUNDS + 1);
        if (mode == GRUN_GC_COLLECT) {
            CHECK(s1.freed_objects - s0.freed_objects >= NCTL,
                  "collect mode freed %llu objects; %d were dropped (unsure %d)",
                  (unsigned long long)(s1.freed_objects - s0.freed_objects), NCTL, s1.unsure);
            CHECK(reused > 0, "collect mode never handed out a dropped object again in %d allocations "
                  "of its class: this test cannot see a missed root", NROUNDS * NPRESS);
        }
        if (mode == GRUN_GC_QUARANTINE)
            CHECK(s1.dangling - s0.dangling >= (uint64_t)nplanted,
                  "quarantine mode reported %llu dangling pointers; %d freed objects are referenced",
                  (unsigned long long)(s1.dangling - s0.dangling), nplanted);
    }

    retrieve(t);
    for (int k = 0; k < NK; k++) {
        if (skipped[k]) {
            printf("gc_roots: %s skipped (no AVX2)\n", kinds[k].name);
            continue;
        }
        CHECK(back[k] == masked[k], "%s: the root gave back %#llx, want %#llx", kinds[k].name,
              (unsigned long long)(back[k] ^ MASK), (unsigned long long)(masked[k] ^ MASK));
        if (mode != GRUN_GC_QUARANTINE) {
            long w = bad_canary(k);
            CHECK(w < 0, "%s: canary overwritten at word %ld: the object was freed and reused",
                  kinds[k].name, w);
        }
        printf("gc_roots: %s ok\n", kinds[k].name);
    }
    return 0;
}
