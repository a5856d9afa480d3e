/* heap_ctor: constructors that allocate before main (before and after
 * libgrun's own constructor: priorities 101 and 65535), and a destructor
 * that frees at exit; the objects stay intact across main. */
#include "itest.h"

static char *early, *late;
static void **many;

__attribute__((constructor(101))) static void ctor_early(void)
{
    early = strdup("allocated by an early constructor");
    many = calloc(1000, sizeof *many);
    for (int i = 0; i < 1000; i++)
        many[i] = malloc((size_t)i * 13 + 1);
}

__attribute__((constructor)) static void ctor_late(void)
{
    late = malloc(100000);
    memset(late, 'x', 100000);
}

__attribute__((destructor)) static void dtor(void)
{
    for (int i = 0; i < 1000; i++)
        free(many[i]);
    free(many);
    free(early);
    free(late);
}

int main(void)
{
    CHECK(early && strcmp(early, "allocated by an early constructor") == 0, "early");
    for (int i = 0; i < 100000; i++)
        CHECK(late[i] == 'x', "late");
    for (int i = 0; i < 1000; i++) {
        CHECK(many[i], "many");
        memset(many[i], 1, (size_t)i * 13 + 1);
    }
    free(early);
    early = strdup("replaced in main");
    printf("heap_ctor ok\n");
    return 0;
}
