// Upper bounds for SmolLM2 decoding speed on this machine (README, Decoder section):
// 1. read bandwidth: AVX2 loads over a 96.6 MB buffer (the weights read per token),
//    1 and 2 threads, with and without software prefetch, best of 15 (wall time);
// 2. the Q4_1 kernels (ggml's per-block arithmetic, which bit-exactness with llama.cpp
//    fixes) on the GGUF layout, on the four-row layout (skiff_repack_x4, AVX2) and on the
//    sixteen-row layout Skiff decodes with where AVX-512 VNNI exists (skiff_repack_x16),
//    on a 96.5 MB matrix and on 0.7 MB per thread
//    (cache-resident: no memory traffic), as GB/s of weights per CPU-second summed over
//    threads (CPU time, so that other processes on the shared machine do not count).
// Build and run from the repository root:
//   clang -O2 -ISources/CSkiffKernels/include -o /tmp/decoder_ceilings tools/decoder_ceilings.c -lm -lopenblas -lpthread
//   /tmp/decoder_ceilings
//   /tmp/decoder_ceilings --read N   (only 1: best read bandwidth in GB/s on N threads, with
//                                     and without software prefetch; tools/bench_generate.py's floor)
#include "../Sources/CSkiffKernels/skiff_kernels.c"
#include <stdio.h>
#include <time.h>

static double wall(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static const size_t BYTES = 96600000 / 128 * 128;
static char *buffer;
static int nth;

static int prefetch;

SKIFF_AVX2 static void *read_all(void *arg) {
    const size_t per = BYTES / (size_t)nth;
    const char *p = buffer + (size_t)(long)arg * per;
    __m256i acc = _mm256_setzero_si256();
    for (size_t i = 0; i + 128 <= per; i += 128) {
        if (prefetch) {  // as the decoder's kernels do: 1 KB ahead
            _mm_prefetch(p + i + 1024, _MM_HINT_T0);
            _mm_prefetch(p + i + 1024 + 64, _MM_HINT_T0);
        }
        acc = _mm256_add_epi64(acc, _mm256_load_si256((const __m256i *)(p + i)));
        acc = _mm256_add_epi64(acc, _mm256_load_si256((const __m256i *)(p + i + 32)));
        acc = _mm256_add_epi64(acc, _mm256_load_si256((const __m256i *)(p + i + 64)));
        acc = _mm256_add_epi64(acc, _mm256_load_si256((const __m256i *)(p + i + 96)));
    }
    return (void *)(long)_mm256_extract_epi64(acc, 0);
}

enum { COLS = 576, NB = COLS / 32 };
static const size_t WROW = NB * sizeof(block_q4_1);
static size_t rows;
static uint8_t *weights, *packed_weights, *packed16_weights;
static int use_packed;  // 0 GGUF, 1 four-row, 2 sixteen-row
static uint8_t act[NB * (sizeof(block_q8_1) + 5 * sizeof(float))];  // quantize_act_q8_1's row
static int resident;
static double rate[2];

static void *products(void *arg) {
    const long id = (long)arg;
    const size_t n = resident ? 2048 : rows / (size_t)nth;
    const uint8_t *w = weights + (size_t)id * n * WROW;
    const int reps = resident ? 2000 : 10;
    float *y = malloc(n * sizeof(float));
    const double t0 = cpu();
    if (use_packed == 2) {
        w = packed16_weights + (size_t)id * n * WROW;
        for (int i = 0; i < reps; i++) rows_q4_1x16_avx512(w, WROW, act, NB, y, 0, (int64_t)n);
    } else if (use_packed) {
        w = packed_weights + (size_t)id * n * WROW;
        for (int i = 0; i < reps; i++) rows_q4_1x4_avx2(w, WROW, act, NB, y, 0, (int64_t)n);
    } else {
        for (int i = 0; i < reps; i++) rows_q4_1_avx2(w, WROW, act, NB, y, 0, (int64_t)n);
    }
    rate[id] = (double)reps * (double)n * (double)WROW / (cpu() - t0) / 1e9;
    free(y);
    return NULL;
}

static double best_read(int threads) {
    double best = 0;
    for (int k = 0; k < 15; k++) {
        pthread_t t[64];
        const double t0 = wall();
        for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, read_all, (void *)i);
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        const double bw = (double)BYTES / (wall() - t0) / 1e9;
        if (bw > best) best = bw;
    }
    return best;
}

int main(int argc, char **argv) {
    ensure_init();
    if (!use_avx2) { puts("needs AVX2"); return 1; }
    buffer = aligned_alloc(64, BYTES);
    memset(buffer, 1, BYTES);
    if (argc == 3 && strcmp(argv[1], "--read") == 0) {
        nth = atoi(argv[2]);
        if (nth < 1 || nth > 64) return 2;
        prefetch = 0;
        const double plain = best_read(nth);
        prefetch = 1;
        const double ahead = best_read(nth);
        printf("%.3f\n", plain > ahead ? plain : ahead);
        return 0;
    }
    for (nth = 1; nth <= 2; nth++) {
        for (prefetch = 0; prefetch <= 1; prefetch++)
            printf("read 96.6 MB, %d thread(s)%s: %.1f GB/s\n", nth, prefetch ? ", prefetch 1 KB ahead" : "", best_read(nth));
    }
    free(buffer);
    rows = 268000 / 16 * 16;
    weights = malloc(rows * WROW);
    for (size_t i = 0; i < rows * WROW; i++) weights[i] = (uint8_t)rand();
    for (size_t r = 0; r < rows; r++)
        for (int b = 0; b < NB; b++) {
            block_q4_1 *x = (block_q4_1 *)(weights + r * WROW) + b;
            x->d = 0x2000;
            x->m = 0x2000;
        }
    float x[COLS];
    for (int i = 0; i < COLS; i++) x[i] = (float)(i % 7 - 3);
    quantize_act_q8_1(x, act, COLS);
    packed_weights = malloc(rows * WROW);
    skiff_repack_x4(SKIFF_TYPE_Q4_1, weights, (int64_t)rows, COLS, packed_weights);
    packed16_weights = malloc(rows * WROW);
    const int layouts = skiff_repack_x16(SKIFF_TYPE_Q4_1, weights, (int64_t)rows, COLS, packed16_weights) >= 0 ? 3 : 2;
    for (use_packed = 0; use_packed < layouts; use_packed++)
    for (resident = 0; resident < 2; resident++)
        for (nth = 1; nth <= 2; nth++) {
            double best = 0;
            for (int k = 0; k < 5; k++) {
                pthread_t t[2];
                for (long i = 0; i < nth; i++) pthread_create(&t[i], NULL, products, (void *)i);
                for (int i = 0; i < nth; i++) pthread_join(t[i], NULL);
                const double r = rate[0] + (nth > 1 ? rate[1] : 0);
                if (r > best) best = r;
            }
            printf("Q4_1 rows, %s layout, %s, %d thread(s): %.1f GB/s of weights per CPU-second\n",
                   use_packed == 2 ? "packed x16" : use_packed ? "packed x4" : "GGUF", resident ? "cache-resident 0.7 MB/thread" : "96.5 MB from memory",
                   nth, best);
        }
    return 0;
}
