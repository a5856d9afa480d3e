/* ie_mod.c - a module whose __thread variable uses the initial-exec model,
 * so its TLS lives in every thread's static TLS block. dlopen_ie opens it
 * while threads exist: the loader (or libgrun's dlopen hook) must copy the
 * init image into the static TLS of every live thread. Its constructor
 * checks the initial value on the opening thread and then modifies it. */
#define IE_INIT 0x5eed1234

static __thread int ie_var __attribute__((tls_model("initial-exec"))) = IE_INIT;
static __thread char ie_tag[8] __attribute__((tls_model("initial-exec"))) = "ie-tls";

static int ctor_ok;

__attribute__((constructor)) static void ie_ctor(void)
{
    ctor_ok = ie_var == IE_INIT && ie_tag[0] == 'i' && ie_tag[5] == 's';
    ie_var = IE_INIT + 1;
    ctor_ok = ctor_ok && ie_var == IE_INIT + 1;
}

int ie_ctor_ok(void) { return ctor_ok; }
int ie_init_value(void) { return IE_INIT; }
/* Returns the value only if the tag is intact too, else -1. */
int ie_get(void) { return (ie_tag[0] == 'i' && ie_tag[5] == 's') ? ie_var : -1; }
void ie_set(int v) { ie_var = v; }
void *ie_addr(void) { return &ie_var; }
