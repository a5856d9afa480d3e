/* deadlock_self - a sure global deadlock of the only thread: main locks a
 * normal (PTHREAD_MUTEX_INITIALIZER) mutex twice. POSIX leaves this
 * undefined and glibc blocks forever, so natively this hangs (the runner
 * expects a timeout). Under libgrun the only G is parked on a mutex it
 * owns: the deadlock detector must print
 * "fatal error: all goroutines are asleep - deadlock!" and exit 2 (kind
 * deadlock in scripts/test). A helper thread that already exited must not
 * change that. */
#include "itest.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static void *helper(void *arg)
{
    return arg;
}

int main(void)
{
    pthread_t t;
    PT(pthread_create(&t, NULL, helper, NULL));
    PT(pthread_join(t, NULL));
    printf("locking a normal mutex twice\n");
    fflush(stdout);
    PT(pthread_mutex_lock(&m));
    PT(pthread_mutex_lock(&m));
    printf("no deadlock?\n");
    return 0;
}
