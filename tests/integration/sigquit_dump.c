/* sigquit_dump - SIGQUIT with no handler of the program's own. Three named
 * threads park: one on a mutex main holds, one in pthread_cond_wait, one in
 * nanosleep; main then sends SIGQUIT to the process (as a terminal's ^\ or
 * kill -QUIT would). Natively the default action kills the process
 * (death by SIGQUIT; RLIMIT_CORE is set to 0 so no core file is left).
 * Under libgrun the runtime first prints a goroutine dump on stderr (every
 * G with its wait reason), then re-raises SIGQUIT with the default action,
 * so the wait status is the same. The runner (kind report) checks the
 * status, stdout, and that stderr has "goroutine 1 [" and the wait reasons
 * "[mutex", "[cond", "[sleep" and the name "wants-mutex" (patterns in the
 * INTEGRATION table). Printing "survived SIGQUIT" and exiting 0 is a
 * failure. */
#include "itest.h"

#include <signal.h>
#include <sys/resource.h>

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ccv = PTHREAD_COND_INITIALIZER;
static struct gate ready = GATE_INIT;

static void *on_mutex(void *arg)
{
    pthread_setname_np(pthread_self(), "wants-mutex");
    gate_add(&ready, 1);
    PT(pthread_mutex_lock(&held));
    PT(pthread_mutex_unlock(&held));
    return NULL;
}

static void *on_cond(void *arg)
{
    pthread_setname_np(pthread_self(), "waits-cond");
    PT(pthread_mutex_lock(&cmu));
    gate_add(&ready, 1);
    for (;;)
        PT(pthread_cond_wait(&ccv, &cmu));
    return NULL;
}

static void *sleeper(void *arg)
{
    pthread_setname_np(pthread_self(), "sleeps");
    gate_add(&ready, 1);
    for (;;)
        sleep(100);
    return NULL;
}

int main(void)
{
    struct rlimit nocore = {0, 0};
    pthread_t t[3];
    CHECK(setrlimit(RLIMIT_CORE, &nocore) == 0, "setrlimit: %s", strerrorname_np(errno));
    PT(pthread_mutex_lock(&held));
    PT(pthread_create(&t[0], NULL, on_mutex, NULL));
    PT(pthread_create(&t[1], NULL, on_cond, NULL));
    PT(pthread_create(&t[2], NULL, sleeper, NULL));
    gate_wait(&ready, 3);
    usleep(200000); /* let them get to their waits */
    printf("three threads parked: mutex, cond, sleep; sending SIGQUIT\n");
    fflush(stdout);
    kill(getpid(), SIGQUIT);
    for (int i = 0; i < 50; i++)
        usleep(100000);
    printf("survived SIGQUIT\n");
    return 0;
}
