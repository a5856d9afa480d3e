/* preempt_spin - a thread that spins without calling anything cannot starve
 * the others, and being preempted never changes what it computes.
 * Meant to run with GRUN_MAXPROCS=1: under libgrun only asynchronous
 * preemption lets anything else run while the spinner has the only P.
 *
 * Mode "spin" (default): a sleeper thread calls nanosleep(1 ms) in a loop
 * for 1.5 s of its own clock while a spinner thread runs a call-free loop
 * of integer and SSE (scalar and packed double) arithmetic kept in
 * registers; then a second round with an AVX2 loop when the CPU has AVX2
 * (the output is the same either way). The spinner works in chunks;
 * between chunks it only reads a flag and the TSC (no call). Checks: the
 * sleeper woke at least 50 times while the spinner was spinning (natively
 * trivially true; with one P only preemption makes it true), and every
 * chunk's result is bit-exact with a reference computed the same way
 * before any thread started (a register, flag or vector state lost or
 * mixed up across a preemption is a mismatch).
 *
 * Mode "simd": the same with two spinners at once, one running an AVX2
 * loop over all 16 ymm registers and one an AVX-512 loop over 32 zmm
 * registers and the mask registers (SKIP without AVX2; the AVX-512
 * spinner is replaced by a second AVX2 one, with the same output, when the
 * CPU lacks AVX-512F). They run for about 3 s beside the 1 ms sleeper, so
 * each is preempted and resumed many times while the other one's vector
 * state is live: zero mismatches.
 *
 * The spinners stop after about 8 s of TSC time at the latest, so a runtime
 * that never preempts fails the progress check instead of hanging. */
#include "itest.h"

#include <immintrin.h>
#include <stdatomic.h>
#include <x86intrin.h>

#define CHUNK 20000       /* iterations per chunk: well under 1 ms */
#define NSEEDS 64         /* chunks use seeds 0..NSEEDS-1, round robin */
#define MIN_WAKEUPS 50

static atomic_int stop;          /* set by the sleeper when its time is up */
static atomic_int spinning;      /* spinners currently in their loop */
static uint64_t tsc_per_ms;

/* --- the three kinds of chunk ------------------------------------------ */

struct res {
    uint64_t i[4];
    double d[4];
    uint64_t v[8];
};

static bool res_eq(const struct res *a, const struct res *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* Integer and SSE2 (scalar and packed double) work, all in registers. */
static __attribute__((noinline)) void chunk_base(unsigned seed, struct res *r)
{
    uint64_t a = 0x9e3779b97f4a7c15ull ^ seed, b = seed * 7 + 1, c = 3, d = 5;
    double x = 1.0 + seed, y = 0.5, z = 0.25, w = 2.0;
    __m128d p = _mm_set_pd(1.5, 0.75 + seed), q = _mm_set_pd(0.999, 1.001);
    for (int k = 0; k < CHUNK; k++) {
        a ^= a << 13; a ^= a >> 7; a ^= a << 17;
        b = b * 6364136223846793005ull + a;
        c += (a >> 32) ^ (b & 0xffff);
        d = (d << 1 | d >> 63) ^ c;
        x = x * 0.999999 + y;
        y = y * 1.000001 - z * 0.5;
        z = z + (double)(a & 0xff) * 1e-6;
        w = w * 0.5 + x * 1e-3;
        p = _mm_add_pd(_mm_mul_pd(p, q), _mm_set1_pd(1e-9));
    }
    r->i[0] = a; r->i[1] = b; r->i[2] = c; r->i[3] = d;
    r->d[0] = x; r->d[1] = y; r->d[2] = z; r->d[3] = w;
    double pp[2];
    _mm_storeu_pd(pp, p);
    memcpy(&r->v[0], pp, sizeof pp);
}

/* AVX2: 16 ymm accumulators (integer and double lanes). */
__attribute__((target("avx2"), noinline)) static void chunk_avx2(unsigned seed, struct res *r)
{
    __m256i a0 = _mm256_set1_epi32((int)seed + 1), a1 = _mm256_set1_epi32(2), a2 = _mm256_set1_epi32(3),
            a3 = _mm256_set1_epi32(5), a4 = _mm256_set1_epi32(7), a5 = _mm256_set1_epi32(11),
            a6 = _mm256_set1_epi32(13), a7 = _mm256_set1_epi32(17);
    __m256d f0 = _mm256_set1_pd(1.0 + seed), f1 = _mm256_set1_pd(0.5), f2 = _mm256_set1_pd(0.25),
            f3 = _mm256_set1_pd(2.0), f4 = _mm256_set1_pd(3.0), f5 = _mm256_set1_pd(0.125);
    const __m256i m = _mm256_set1_epi32(0x01000193);
    const __m256d s = _mm256_set1_pd(0.999999);
    for (int k = 0; k < CHUNK; k++) {
        a0 = _mm256_add_epi32(_mm256_mullo_epi32(a0, m), a7);
        a1 = _mm256_xor_si256(a1, _mm256_srli_epi32(a0, 3));
        a2 = _mm256_add_epi32(a2, _mm256_slli_epi32(a1, 1));
        a3 = _mm256_sub_epi32(a3, a2);
        a4 = _mm256_xor_si256(a4, _mm256_add_epi32(a3, a0));
        a5 = _mm256_add_epi32(a5, _mm256_shuffle_epi32(a4, 0x1b));
        a6 = _mm256_xor_si256(a6, a5);
        a7 = _mm256_add_epi32(a7, _mm256_srli_epi32(a6, 5));
        f0 = _mm256_add_pd(_mm256_mul_pd(f0, s), f1);
        f1 = _mm256_sub_pd(_mm256_mul_pd(f1, s), _mm256_mul_pd(f2, f5));
        f2 = _mm256_add_pd(f2, _mm256_mul_pd(f3, _mm256_set1_pd(1e-7)));
        f3 = _mm256_add_pd(_mm256_mul_pd(f3, f5), f4);
        f4 = _mm256_sub_pd(f4, _mm256_mul_pd(f0, _mm256_set1_pd(1e-9)));
        f5 = _mm256_add_pd(_mm256_mul_pd(f5, s), _mm256_set1_pd(1e-6));
    }
    __m256i x = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
    __m256i y = _mm256_xor_si256(_mm256_xor_si256(a4, a5), _mm256_xor_si256(a6, a7));
    _mm256_storeu_si256((__m256i *)&r->v[0], x);
    _mm256_storeu_si256((__m256i *)&r->v[4], y);
    double t[4];
    _mm256_storeu_pd(t, _mm256_add_pd(_mm256_add_pd(f0, f1), _mm256_add_pd(f2, f3)));
    memcpy(r->d, t, sizeof t);
    _mm256_storeu_pd(t, _mm256_add_pd(f4, f5));
    memcpy(r->i, t, sizeof t);
}

/* AVX-512: 24 zmm accumulators, mask registers from compares. */
__attribute__((target("avx512f"), noinline)) static void chunk_avx512(unsigned seed, struct res *r)
{
    __m512i a[24];
    for (int j = 0; j < 24; j++)
        a[j] = _mm512_set1_epi32((int)(seed * 31 + j + 1));
    const __m512i m = _mm512_set1_epi32(0x01000193);
    for (int k = 0; k < CHUNK / 4; k++) {
        __mmask16 km = _mm512_cmpgt_epi32_mask(a[0], a[23]);
        a[0] = _mm512_add_epi32(_mm512_mullo_epi32(a[0], m), a[23]);
        a[1] = _mm512_mask_xor_epi32(a[1], km, a[1], a[0]);
        a[2] = _mm512_add_epi32(a[2], _mm512_srli_epi32(a[1], 3));
        a[3] = _mm512_xor_si512(a[3], a[2]);
        a[4] = _mm512_mask_add_epi32(a[4], (__mmask16)~km, a[4], a[3]);
        a[5] = _mm512_sub_epi32(a[5], a[4]);
        a[6] = _mm512_xor_si512(a[6], _mm512_slli_epi32(a[5], 2));
        a[7] = _mm512_add_epi32(a[7], a[6]);
        a[8] = _mm512_rol_epi32(_mm512_xor_si512(a[8], a[7]), 7);
        a[9] = _mm512_add_epi32(a[9], a[8]);
        a[10] = _mm512_xor_si512(a[10], a[9]);
        a[11] = _mm512_add_epi32(a[11], _mm512_srli_epi32(a[10], 1));
        a[12] = _mm512_xor_si512(a[12], a[11]);
        a[13] = _mm512_add_epi32(a[13], a[12]);
        a[14] = _mm512_ror_epi32(_mm512_xor_si512(a[14], a[13]), 11);
        a[15] = _mm512_add_epi32(a[15], a[14]);
        a[16] = _mm512_xor_si512(a[16], a[15]);
        a[17] = _mm512_sub_epi32(a[17], a[16]);
        a[18] = _mm512_xor_si512(a[18], _mm512_slli_epi32(a[17], 3));
        a[19] = _mm512_add_epi32(a[19], a[18]);
        a[20] = _mm512_xor_si512(a[20], a[19]);
        a[21] = _mm512_add_epi32(a[21], a[20]);
        a[22] = _mm512_xor_si512(a[22], _mm512_srli_epi32(a[21], 4));
        a[23] = _mm512_add_epi32(a[23], a[22]);
    }
    __m512i x = a[0], y = a[12];
    for (int j = 1; j < 12; j++) {
        x = _mm512_xor_si512(_mm512_rol_epi32(x, 5), a[j]);
        y = _mm512_xor_si512(_mm512_rol_epi32(y, 9), a[12 + j]);
    }
    uint64_t t[8];
    _mm512_storeu_si512(t, _mm512_xor_si512(x, _mm512_slli_epi64(y, 1)));
    memcpy(r->v, t, sizeof t);
    _mm512_storeu_si512(t, y);
    memcpy(r->i, t, sizeof r->i);
}

/* --- spinners and sleeper ------------------------------------------------- */

typedef void chunk_fn(unsigned, struct res *);

struct spinner {
    const char *name;
    chunk_fn *fn;
    struct res ref[NSEEDS];
    long chunks, mismatches;
    pthread_t t;
};

static struct gate started = GATE_INIT;

static void *spin(void *arg)
{
    struct spinner *s = arg;
    struct res r;
    uint64_t deadline = __rdtsc() + 8000 * tsc_per_ms;
    atomic_fetch_add(&spinning, 1);
    gate_add(&started, 1);
    /* From here on: no calls but the chunk functions (program code). */
    while (!atomic_load_explicit(&stop, memory_order_relaxed) && __rdtsc() < deadline) {
        unsigned seed = (unsigned)(s->chunks % NSEEDS);
        s->fn(seed, &r);
        if (!res_eq(&r, &s->ref[seed]))
            s->mismatches++;
        s->chunks++;
    }
    atomic_fetch_sub(&spinning, 1);
    return NULL;
}

static long wakeups, wakeups_spinning;
static int64_t sleep_ns;
static int nspinners;

static void *sleeper(void *arg)
{
    (void)arg;
    struct timespec ms = { 0, 1000000 };
    gate_wait(&started, nspinners);
    int64_t end = now_ns(CLOCK_MONOTONIC) + sleep_ns;
    while (now_ns(CLOCK_MONOTONIC) < end) {
        CHECK(nanosleep(&ms, NULL) == 0, "nanosleep: %s", strerror(errno));
        wakeups++;
        if (atomic_load(&spinning) == nspinners)
            wakeups_spinning++;
    }
    atomic_store(&stop, 1);
    return NULL;
}

static void calibrate_tsc(void)
{
    tsc_per_ms = tsc_ticks_per_ms();
}

/* One round: the sleeper for `secs` seconds beside spinners sp[0..n-1]. */
static void round_(struct spinner *sp, int n, int64_t ns)
{
    pthread_t sl;
    atomic_store(&stop, 0);
    started.count = 0;
    wakeups = wakeups_spinning = 0;
    nspinners = n;
    sleep_ns = ns;
    PT(pthread_create(&sl, NULL, sleeper, NULL));
    for (int j = 0; j < n; j++)
        PT(pthread_create(&sp[j].t, NULL, spin, &sp[j]));
    PT(pthread_join(sl, NULL));
    for (int j = 0; j < n; j++)
        PT(pthread_join(sp[j].t, NULL));
    for (int j = 0; j < n; j++) {
        CHECK(sp[j].chunks >= NSEEDS, "spinner %s ran only %ld chunks", sp[j].name, sp[j].chunks);
        CHECK(sp[j].mismatches == 0, "spinner %s: %ld of %ld chunks differ from the reference",
              sp[j].name, sp[j].mismatches, sp[j].chunks);
    }
    CHECK(wakeups_spinning >= MIN_WAKEUPS,
          "the 1 ms sleeper woke only %ld times (of %ld) while %d spinner(s) ran: starved",
          wakeups_spinning, wakeups, n);
}

static void make_ref(struct spinner *s, const char *name, chunk_fn *fn)
{
    s->name = name;
    s->fn = fn;
    for (unsigned seed = 0; seed < NSEEDS; seed++)
        fn(seed, &s->ref[seed]);
}

int main(int argc, char **argv)
{
    bool simd = argc > 1 && strcmp(argv[1], "simd") == 0;
    CHECK(argc == 1 || simd, "usage: preempt_spin [simd]");
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2"), avx512 = __builtin_cpu_supports("avx512f");
    if (simd && !avx2) {
        printf("SKIP: the CPU has no AVX2\n");
        return 0;
    }
    calibrate_tsc();

    static struct spinner sp[2];
    if (!simd) {
        /* Integer + SSE, then (if the CPU has it) AVX2 with integer lanes. */
        make_ref(&sp[0], "integer+SSE", chunk_base);
        round_(&sp[0], 1, 1500000000LL);
        if (avx2) {
            make_ref(&sp[1], "AVX2", chunk_avx2);
            round_(&sp[1], 1, 1500000000LL);
        }
        printf("spinner: integer, SSE and AVX2 results bit-exact across preemption\n");
        printf("sleeper: made progress beside the spinner\n");
    } else {
        make_ref(&sp[0], "AVX2", chunk_avx2);
        make_ref(&sp[1], "AVX-512", avx512 ? chunk_avx512 : chunk_avx2);
        round_(sp, 2, 3000000000LL);
        printf("spinners: AVX2 and AVX-512 register loops, zero mismatches\n");
        printf("sleeper: made progress beside the spinners\n");
    }
    return 0;
}
