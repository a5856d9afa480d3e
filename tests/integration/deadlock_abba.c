/* deadlock_abba - a sure global deadlock: two threads take mutexes A and B
 * in opposite orders, meet behind a gate (mutex + condvar) while each holds
 * its first one, then each asks for the other's; main waits in
 * pthread_join. Natively this hangs forever (the runner expects a
 * timeout). Under libgrun every G is parked on a sync object with nothing
 * that could wake it: the deadlock detector must print
 * "fatal error: all goroutines are asleep - deadlock!" and exit 2 (a
 * documented divergence, kind deadlock in scripts/test). Nothing is printed
 * on stdout after the threads meet unless the deadlock somehow resolves,
 * which makes the program exit 0 and the test fail. */
#include "itest.h"

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static struct gate meet = GATE_INIT;

static void *ab(void *arg)
{
    PT(pthread_mutex_lock(&a));
    gate_meet(&meet, 2);
    PT(pthread_mutex_lock(&b));
    PT(pthread_mutex_unlock(&b));
    PT(pthread_mutex_unlock(&a));
    return NULL;
}

static void *ba(void *arg)
{
    PT(pthread_mutex_lock(&b));
    gate_meet(&meet, 2);
    PT(pthread_mutex_lock(&a));
    PT(pthread_mutex_unlock(&a));
    PT(pthread_mutex_unlock(&b));
    return NULL;
}

int main(void)
{
    pthread_t t1, t2;
    printf("two threads, AB/BA lock order\n");
    fflush(stdout);
    PT(pthread_create(&t1, NULL, ab, NULL));
    PT(pthread_create(&t2, NULL, ba, NULL));
    PT(pthread_join(t1, NULL));
    PT(pthread_join(t2, NULL));
    printf("no deadlock?\n");
    return 0;
}
