/* keys - pthread keys and their destructors:
 *  - 100 keys; 8 threads set each to a value naming (thread, key); every
 *    destructor call gets exactly that value, once, at thread exit, and
 *    pthread_getspecific of the key is NULL during its destructor;
 *  - a key left NULL (or set back to NULL) gets no destructor call;
 *  - a deleted key's destructor never runs;
 *  - a destructor that sets its key again is called again: twice more when
 *    it re-sets twice, and PTHREAD_DESTRUCTOR_ITERATIONS times in all when
 *    it always re-sets (glibc's bound);
 *  - values are per thread: main's values are untouched by the workers. */
#include "itest.h"

#include <limits.h>

#define NK 100
#define NT 8

static pthread_key_t keys[NK], null_key, deleted_key, twice_key, forever_key;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int calls[NT][NK];
static int twice_calls[NT], forever_calls[NT];
static int stray_calls;
static int main_marker;
static struct gate all_set = GATE_INIT, release = GATE_INIT;

struct val {
    int thread, key;
};

static void key_dtor(void *p)
{
    struct val *v = p;
    CHECK(v->thread >= 0 && v->thread < NT && v->key >= 0 && v->key < NK, "bad value");
    CHECK(pthread_getspecific(keys[v->key]) == NULL, "value not NULL during its destructor");
    PT(pthread_mutex_lock(&mu));
    calls[v->thread][v->key]++;
    PT(pthread_mutex_unlock(&mu));
    free(v);
}

static void stray_dtor(void *p)
{
    PT(pthread_mutex_lock(&mu));
    stray_calls++;
    PT(pthread_mutex_unlock(&mu));
}

static void twice_dtor(void *p)
{
    int id = (int)(intptr_t)p - 1;
    if (++twice_calls[id] <= 2)
        PT(pthread_setspecific(twice_key, p));
}

static void forever_dtor(void *p)
{
    int id = (int)(intptr_t)p - 1;
    forever_calls[id]++;
    PT(pthread_setspecific(forever_key, p));
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int k = 0; k < NK; k++) {
        CHECK(pthread_getspecific(keys[k]) == NULL, "new thread: key %d not NULL", k);
        struct val *v = malloc(sizeof *v);
        v->thread = id, v->key = k;
        PT(pthread_setspecific(keys[k], v));
        if (k % 10 == 0)
            sched_yield();
    }
    for (int k = 0; k < NK; k++) {
        struct val *v = pthread_getspecific(keys[k]);
        CHECK(v && v->thread == id && v->key == k, "thread %d key %d: wrong value", id, k);
    }
    PT(pthread_setspecific(null_key, (void *)1));
    PT(pthread_setspecific(null_key, NULL));
    PT(pthread_setspecific(deleted_key, (void *)1));
    PT(pthread_setspecific(twice_key, (void *)(intptr_t)(id + 1)));
    PT(pthread_setspecific(forever_key, (void *)(intptr_t)(id + 1)));
    gate_add(&all_set, 1);
    gate_wait(&release, 1); /* main deletes deleted_key meanwhile */
    return NULL;
}

int main(void)
{
    pthread_t th[NT];
    for (int k = 0; k < NK; k++)
        PT(pthread_key_create(&keys[k], key_dtor));
    PT(pthread_key_create(&null_key, stray_dtor));
    PT(pthread_key_create(&deleted_key, stray_dtor));
    PT(pthread_key_create(&twice_key, twice_dtor));
    PT(pthread_key_create(&forever_key, forever_dtor));
    PT(pthread_setspecific(keys[7], &main_marker));

    for (int i = 0; i < NT; i++)
        PT(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i));
    gate_wait(&all_set, NT);
    PT(pthread_key_delete(deleted_key)); /* every worker has set it */
    gate_add(&release, 1);
    for (int i = 0; i < NT; i++)
        PT(pthread_join(th[i], NULL));

    for (int i = 0; i < NT; i++) {
        for (int k = 0; k < NK; k++)
            CHECK(calls[i][k] == 1, "thread %d key %d: destructor ran %d times", i, k,
                  calls[i][k]);
        CHECK(twice_calls[i] == 3, "thread %d: re-set-twice destructor ran %d times", i,
              twice_calls[i]);
        CHECK(forever_calls[i] == PTHREAD_DESTRUCTOR_ITERATIONS,
              "thread %d: always-re-set destructor ran %d times, want %d", i, forever_calls[i],
              PTHREAD_DESTRUCTOR_ITERATIONS);
    }
    CHECK(stray_calls == 0, "destructor of a NULL or deleted key ran %d times", stray_calls);
    CHECK(pthread_getspecific(keys[7]) == &main_marker, "main's value changed");
    printf("%d keys x %d threads: each destructor once with its value OK\n", NK, NT);
    printf("NULL values and deleted keys: no destructor OK\n");
    printf("re-set in destructor: 3 calls; always re-set: %d calls OK\n",
           PTHREAD_DESTRUCTOR_ITERATIONS);
    return 0;
}
