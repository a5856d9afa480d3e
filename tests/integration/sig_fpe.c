/* sig_fpe - synchronous signals: a SIGFPE handler (integer division by
 * zero) that siglongjmps out, 100 times in each of 4 threads, and a
 * SIGTRAP (int3) handler that returns past the trap. The handler must run
 * on the faulting thread at once (returning without running it would
 * re-execute the fault forever); per-thread counts and the signal masks
 * restored by siglongjmp are checked. */
#include "itest.h"

#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>

static __thread sigjmp_buf jb;
static __thread int mine;
static volatile int zero;
static atomic_int total, traps;

static void on_fpe(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    CHECK(sig == SIGFPE && si->si_code == FPE_INTDIV, "SIGFPE with si_code %d", si->si_code);
    mine++;
    atomic_fetch_add(&total, 1);
    siglongjmp(jb, 1);
}

static void on_trap(int sig)
{
    (void)sig;
    atomic_fetch_add(&traps, 1);	/* returning resumes after int3 */
}

static void *worker(void *arg)
{
    (void)arg;
    for (volatile int i = 0; i < 100; i++) {
        if (!sigsetjmp(jb, 1)) {
            volatile int x = 10 / zero;
            (void)x;
            CHECK(0, "division by zero did not trap");
        }
    }
    CHECK(mine == 100, "this thread's handler ran %d times, want 100", mine);
    sigset_t cur;
    PT(pthread_sigmask(SIG_BLOCK, NULL, &cur));
    CHECK(!sigismember(&cur, SIGFPE), "SIGFPE still blocked after siglongjmp");
    for (int i = 0; i < 10; i++)
        __asm__ volatile("int3");
    return NULL;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fpe;
    sa.sa_flags = SA_SIGINFO;
    CHECK(sigaction(SIGFPE, &sa, NULL) == 0, "sigaction SIGFPE");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_trap;
    CHECK(sigaction(SIGTRAP, &sa, NULL) == 0, "sigaction SIGTRAP");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        PT(pthread_create(&t[i], NULL, worker, NULL));
    for (int i = 0; i < 4; i++)
        PT(pthread_join(t[i], NULL));
    CHECK(atomic_load(&total) == 400 && atomic_load(&traps) == 40, "handlers ran %d and %d times",
          atomic_load(&total), atomic_load(&traps));
    printf("SIGFPE: 400 handled on the faulting threads (siglongjmp out); SIGTRAP: 40 handled, resumed\n");
    return 0;
}
