/* once - pthread_once:
 *  - 32 threads released together race on one pthread_once_t whose init
 *    routine is slow (sleeps 100 ms, yields): it runs exactly once, and
 *    every thread returns from pthread_once only after it finished (each
 *    sees its effect);
 *  - later calls (threads and main) do not run it again;
 *  - a second once_control whose init routine itself calls pthread_once on
 *    a third control (nested once) runs both exactly once;
 *  - independent controls run their routines independently. */
#include "itest.h"

#define NT 32

static pthread_once_t once = PTHREAD_ONCE_INIT, outer = PTHREAD_ONCE_INIT,
                      inner = PTHREAD_ONCE_INIT;
static int runs, done;          /* atomic */
static int outer_runs, inner_runs; /* atomic */
static int saw_done;            /* atomic: threads that saw done == 1 */
static struct gate start = GATE_INIT;

static void init_slow(void)
{
    __atomic_add_fetch(&runs, 1, __ATOMIC_SEQ_CST);
    usleep(50000);
    sched_yield();
    usleep(50000);
    __atomic_store_n(&done, 1, __ATOMIC_SEQ_CST);
}

static void init_inner(void)
{
    __atomic_add_fetch(&inner_runs, 1, __ATOMIC_SEQ_CST);
}

static void init_outer(void)
{
    PT(pthread_once(&inner, init_inner));
    __atomic_add_fetch(&outer_runs, 1, __ATOMIC_SEQ_CST);
}

static void *racer(void *arg)
{
    gate_wait(&start, 1);
    PT(pthread_once(&once, init_slow));
    if (__atomic_load_n(&done, __ATOMIC_SEQ_CST) == 1)
        __atomic_add_fetch(&saw_done, 1, __ATOMIC_SEQ_CST);
    PT(pthread_once(&outer, init_outer));
    CHECK(__atomic_load_n(&inner_runs, __ATOMIC_SEQ_CST) == 1, "inner once not done");
    PT(pthread_once(&once, init_slow));
    return NULL;
}

int main(void)
{
    pthread_t t[NT];
    for (int i = 0; i < NT; i++)
        PT(pthread_create(&t[i], NULL, racer, NULL));
    usleep(10000);
    gate_add(&start, 1);
    for (int i = 0; i < NT; i++)
        PT(pthread_join(t[i], NULL));
    CHECK(runs == 1, "init ran %d times", runs);
    CHECK(saw_done == NT, "%d of %d threads returned before init finished", NT - saw_done, NT);
    CHECK(outer_runs == 1 && inner_runs == 1, "nested once ran %d/%d times", outer_runs,
          inner_runs);
    PT(pthread_once(&once, init_slow));
    PT(pthread_once(&outer, init_outer));
    CHECK(runs == 1 && outer_runs == 1 && inner_runs == 1, "ran again from main");
    printf("%d racing threads: init ran once, all saw it done OK\n", NT);
    printf("nested once: both ran once OK\n");
    return 0;
}
