/* spin - pthread_spin_*:
 *  - pthread_spin_trylock of a held lock -> EBUSY, from the holder and from
 *    another thread; free again after unlock;
 *  - 8 threads x 20000 increments under one spin lock (lock and trylock
 *    loops, an occasional sched_yield inside the critical section): the
 *    counter is exact and no two threads are ever inside together;
 *  - the same with a PTHREAD_PROCESS_SHARED spin lock.
 * Run with GRUN_MAXPROCS=1 too: a spinner must let a holder on the same P
 * run. */
#include "itest.h"

#define NT 8
#define ITERS 20000

static pthread_spinlock_t sl;
static long counter, shadow;
static int inside; /* atomic */

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < ITERS; i++) {
        if ((i + id) % 4 == 0) {
            int rc;
            while ((rc = pthread_spin_trylock(&sl)) == EBUSY)
                ;
            CHECK(rc == 0, "pthread_spin_trylock -> %s", strerrorname_np(rc));
        } else {
            PT(pthread_spin_lock(&sl));
        }
        CHECK(__atomic_add_fetch(&inside, 1, __ATOMIC_SEQ_CST) == 1, "two threads inside");
        counter++;
        if (i % 1000 == 999)
            sched_yield();
        shadow = counter;
        __atomic_sub_fetch(&inside, 1, __ATOMIC_SEQ_CST);
        PT(pthread_spin_unlock(&sl));
    }
    return NULL;
}

static int other_rc;
static void *try_other(void *arg)
{
    other_rc = pthread_spin_trylock(&sl);
    if (other_rc == 0)
        PT(pthread_spin_unlock(&sl));
    return NULL;
}

static int trylock_on_other(void)
{
    pthread_t t;
    other_rc = -1;
    PT(pthread_create(&t, NULL, try_other, NULL));
    PT(pthread_join(t, NULL));
    return other_rc;
}

static void run(int pshared, const char *what)
{
    pthread_t t[NT];
    PT(pthread_spin_init(&sl, pshared));
    PT(pthread_spin_lock(&sl));
    CHECK(pthread_spin_trylock(&sl) == EBUSY, "%s: trylock by the holder not EBUSY", what);
    CHECK(trylock_on_other() == EBUSY, "%s: trylock by another thread not EBUSY", what);
    PT(pthread_spin_unlock(&sl));
    CHECK(trylock_on_other() == 0, "%s: trylock of a free lock failed", what);
    PT(pthread_spin_trylock(&sl));
    PT(pthread_spin_unlock(&sl));
    printf("%s: trylock EBUSY while held, 0 when free OK\n", what);

    counter = shadow = 0;
    for (int i = 0; i < NT; i++)
        PT(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i));
    for (int i = 0; i < NT; i++)
        PT(pthread_join(t[i], NULL));
    CHECK(counter == (long)NT * ITERS && shadow == counter, "%s: counter %ld (shadow %ld), want %ld",
          what, counter, shadow, (long)NT * ITERS);
    PT(pthread_spin_destroy(&sl));
    printf("%s: %d threads x %d increments exact OK\n", what, NT, ITERS);
}

int main(void)
{
    run(PTHREAD_PROCESS_PRIVATE, "private");
    run(PTHREAD_PROCESS_SHARED, "process-shared");
    return 0;
}
