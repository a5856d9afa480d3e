/* condvar_pc - bounded-buffer producer/consumer on one mutex and two
 * condition variables: 4 producers push 50000 items each through a 16-slot
 * ring to 3 consumers. Checks the count, sum and xor of everything consumed
 * against what was produced, that items of one producer reach a consumer in
 * order, and that the buffer never over- or under-flows. */
#include "itest.h"

#define NPROD 4
#define NCONS 3
#define ITEMS 50000
#define SLOTS 16
#define STOP UINT64_MAX

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static uint64_t ring[SLOTS];
static int head, count;

struct tally {
    uint64_t n, sum, xor;
};
static struct tally produced[NPROD], consumed[NCONS];

static void put(uint64_t v)
{
    PT(pthread_mutex_lock(&mu));
    while (count == SLOTS)
        PT(pthread_cond_wait(&not_full, &mu));
    CHECK(count >= 0 && count < SLOTS, "buffer count %d", count);
    ring[(head + count) % SLOTS] = v;
    count++;
    PT(pthread_cond_signal(&not_empty));
    PT(pthread_mutex_unlock(&mu));
}

static uint64_t get(void)
{
    PT(pthread_mutex_lock(&mu));
    while (count == 0)
        PT(pthread_cond_wait(&not_empty, &mu));
    CHECK(count > 0 && count <= SLOTS, "buffer count %d", count);
    uint64_t v = ring[head];
    head = (head + 1) % SLOTS;
    count--;
    PT(pthread_cond_signal(&not_full));
    PT(pthread_mutex_unlock(&mu));
    return v;
}

static void *producer(void *arg)
{
    int p = (int)(intptr_t)arg;
    struct tally *t = &produced[p];
    for (uint64_t i = 0; i < ITEMS; i++) {
        uint64_t v = ((uint64_t)p << 56) | (i << 24) | ((i * 2654435761u % 1000003) & 0xffffff);
        put(v);
        t->n++, t->sum += v, t->xor ^= v;
    }
    return NULL;
}

static void *consumer(void *arg)
{
    int c = (int)(intptr_t)arg;
    struct tally *t = &consumed[c];
    int64_t last[NPROD];
    for (int p = 0; p < NPROD; p++)
        last[p] = -1;
    for (;;) {
        uint64_t v = get();
        if (v == STOP)
            break;
        int p = (int)(v >> 56);
        int64_t seq = (int64_t)((v >> 24) & 0xffffffff);
        CHECK(p < NPROD && seq > last[p], "consumer %d: item %d/%lld after %lld", c, p,
              (long long)seq, (long long)last[p]);
        last[p] = seq;
        t->n++, t->sum += v, t->xor ^= v;
    }
    return NULL;
}

int main(void)
{
    pthread_t pt[NPROD], ct[NCONS];
    for (int c = 0; c < NCONS; c++)
        PT(pthread_create(&ct[c], NULL, consumer, (void *)(intptr_t)c));
    for (int p = 0; p < NPROD; p++)
        PT(pthread_create(&pt[p], NULL, producer, (void *)(intptr_t)p));
    for (int p = 0; p < NPROD; p++)
        PT(pthread_join(pt[p], NULL));
    for (int c = 0; c < NCONS; c++)
        put(STOP);
    for (int c = 0; c < NCONS; c++)
        PT(pthread_join(ct[c], NULL));

    struct tally in = {0}, out = {0};
    for (int p = 0; p < NPROD; p++)
        in.n += produced[p].n, in.sum += produced[p].sum, in.xor ^= produced[p].xor;
    for (int c = 0; c < NCONS; c++)
        out.n += consumed[c].n, out.sum += consumed[c].sum, out.xor ^= consumed[c].xor;
    CHECK(in.n == (uint64_t)NPROD * ITEMS, "produced %llu", (unsigned long long)in.n);
    CHECK(in.n == out.n && in.sum == out.sum && in.xor == out.xor,
          "consumed n=%llu sum=%llx xor=%llx, produced n=%llu sum=%llx xor=%llx",
          (unsigned long long)out.n, (unsigned long long)out.sum, (unsigned long long)out.xor,
          (unsigned long long)in.n, (unsigned long long)in.sum, (unsigned long long)in.xor);
    CHECK(count == 0, "buffer not empty: %d", count);
    printf("items=%llu checksum=%016llx xor=%016llx OK\n", (unsigned long long)out.n,
           (unsigned long long)out.sum, (unsigned long long)out.xor);
    return 0;
}
