// See skiff_kernels.h. The quantized dot products follow ggml's block formats
// and its AVX2 arithmetic (activation quantization, lane order of the float
// accumulators, final horizontal sum) so that greedy decoding reproduces
// llama.cpp's tokens; only the summation order of plain F32 sums differs.
#include "skiff_kernels.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <stdio.h>
#include <sys/mman.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SKIFF_X86 1
#define SKIFF_AVX2 __attribute__((target("avx2,fma,f16c")))
#define SKIFF_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#else
#define SKIFF_X86 0
#endif

#define QK 32

typedef struct { uint16_t d; uint8_t qs[QK / 2]; } block_q4_0;
typedef struct { uint16_t d; uint16_t m; uint8_t qs[QK / 2]; } block_q4_1;
typedef struct { uint16_t d; int8_t qs[QK]; } block_q8_0;
typedef struct { uint16_t d; uint16_t s; int8_t qs[QK]; } block_q8_1;

_Static_assert(sizeof(block_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(block_q4_1) == 20, "q4_1 block");
_Static_assert(sizeof(block_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(block_q8_1) == 36, "q8_1 block");

// ---------------------------------------------------------------- fp16

static float fp16_table[65536];
static pthread_once_t fp16_once = PTHREAD_ONCE_INIT;
static int use_avx2 = 0;
static int use_avx512vnni = 0;

static float fp16_compute(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            int e = -1;
            do { man <<= 1; e++; } while ((man & 0x400) == 0);
            man &= 0x3ff;
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | (man << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static void init_once(void) {
    for (uint32_t i = 0; i < 65536; i++) fp16_table[i] = fp16_compute((uint16_t)i);
#if SKIFF_X86
    __builtin_cpu_init();
    use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c");
    if (getenv("SKIFF_NO_AVX2")) use_avx2 = 0;
    use_avx512vnni = use_avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                     __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    if (getenv("SKIFF_NO_AVX512")) use_avx512vnni = 0;
#endif
}

static inline void ensure_init(void) { pthread_once(&fp16_once, init_once); }

int skiff_has_avx2(void) { ensure_init(); return use_avx2; }
int skiff_has_avx512_vnni(void) { ensure_init(); return use_avx512vnni; }

static inline float h2f(uint16_t h) { return fp16_table[h]; }

// ---------------------------------------------------------------- OpenBLAS, loaded on first use
//
// OpenBLAS is opened with dlopen when the first F32 product runs, not linked: loading it
// costs ~14,000 symbol relocations and starts its thread pool, a few milliseconds that
// every `skiff` command (e.g. `skiff score`) would otherwise pay at start-up.
// The CBLAS enum values are fixed by the CBLAS standard.
enum { SKIFF_CBLAS_ROW_MAJOR = 101, SKIFF_CBLAS_NO_TRANS = 111, SKIFF_CBLAS_TRANS = 112 };
typedef void (*sgemv_fn)(int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
static sgemv_fn blas_sgemv = NULL;
static sgemm_fn blas_sgemm = NULL;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

// OpenBLAS 0.3.21 (Debian 12) does not recognise Zen 4/5 and falls back to its Haswell kernels;
// its SkylakeX kernels run large products about 2x faster where AVX-512 exists. It reads
// OPENBLAS_CORETYPE in the constructor that runs at dlopen, so the choice is made here, once,
// and only when the user has not set it.
void skiff_blas_prefer_avx512(void) {
#if SKIFF_X86
    if (getenv("OPENBLAS_CORETYPE") != NULL || getenv("SKIFF_BLAS_KEEP_CORETYPE") != NULL) return;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
    }
#endif
}

static void blas_load(void) {
    skiff_blas_prefer_avx512();
    static const char *const names[] = {"libopenblas.so.0", "libopenblas.so", "libopenblas.0.dylib",
                                        "libopenblas.dylib", "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
                                        "/usr/local/opt/openblas/lib/libopenblas.dylib"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!handle) continue;
        sgemv_fn v = (sgemv_fn)dlsym(handle, "cblas_sgemv");
        sgemm_fn m = (sgemm_fn)dlsym(handle, "cblas_sgemm");
        if (v && m) {
            blas_sgemv = v;
            blas_sgemm = m;
            return;
        }
        dlclose(handle);
    }
    fprintf(stderr, "skiff: OpenBLAS not found (libopenblas.so.0); F32 products use plain loops\n");
}

int skiff_has_blas(void) {
    pthread_once(&blas_once, blas_load);
    return blas_sgemv != NULL;
}

// y[b][r] = sum_c x[b][c] * w[r][c], the product the BLAS calls compute, without BLAS.
static void plain_products(const float *w, int64_t rows, int64_t cols, const float *x, int64_t batch, float *y) {
    for (int64_t b = 0; b < batch; b++) {
        for (int64_t r = 0; r < rows; r++) {
            float sum = 0.0f;
            for (int64_t c = 0; c < cols; c++) sum += x[b * cols + c] * w[r * cols + c];
            y[b * rows + r] = sum;
        }
    }
}

float skiff_fp16_to_fp32(uint16_t h) { ensure_init(); return h2f(h); }

uint16_t skiff_fp32_to_fp16(float f) {
    // Round to nearest even, like F16C's _cvtss_sh(x, 0) that ggml uses.
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffff;
    if (absx >= 0x7f800000) return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0));
    if (absx >= 0x477ff000) return (uint16_t)(sign | 0x7c00);  // overflow to inf
    if (absx < 0x38800000) {                                   // subnormal or zero
        if (absx < 0x33000000) return (uint16_t)sign;
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e;  // 14 - (e - 112)
        uint32_t r = m >> (shift);
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ((absx >> 13) - (112u << 10));
    uint32_t rem = absx & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
    return (uint16_t)(sign | r);
}

void skiff_fp16_to_fp32_row(const uint16_t *src, float *dst, int64_t n) {
    ensure_init();
    for (int64_t i = 0; i < n; i++) dst[i] = h2f(src[i]);
}

void skiff_bf16_to_fp32_row(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)src[i] << 16;
        memcpy(&dst[i], &bits, 4);
    }
}

// The GGUF type a packed layout (skiff_repack_x4) holds: same block sizes, same activation format.
static inline int unpacked_type(int type) {
    switch (type) {
    case SKIFF_TYPE_Q4_1_X4:
    case SKIFF_TYPE_Q4_1_X16: return SKIFF_TYPE_Q4_1;
    case SKIFF_TYPE_Q8_0_X4:
    case SKIFF_TYPE_Q8_0_X16: return SKIFF_TYPE_Q8_0;
    case SKIFF_TYPE_Q4_0_X16: return SKIFF_TYPE_Q4_0;
    default: return type;
    }
}

// Rows per interleaved group of a layout: 16, 4, or 1 for a GGUF type.
static inline int64_t group_rows(int type) {
    switch (type) {
    case SKIFF_TYPE_Q4_1_X16:
    case SKIFF_TYPE_Q8_0_X16:
    case SKIFF_TYPE_Q4_0_X16: return 16;
    case SKIFF_TYPE_Q4_1_X4:
    case SKIFF_TYPE_Q8_0_X4: return 4;
    default: return 1;
    }
}

int64_t skiff_layout_rows(int type) { return group_rows(type); }

size_t skiff_row_size(int type, int64_t n) {
    switch (unpacked_type(type)) {
    case SKIFF_TYPE_F32: return (size_t)n * 4;
    case SKIFF_TYPE_F16:
    case SKIFF_TYPE_BF16: return (size_t)n * 2;
    case SKIFF_TYPE_Q4_0: return (size_t)(n / QK) * sizeof(block_q4_0);
    case SKIFF_TYPE_Q4_1: return (size_t)(n / QK) * sizeof(block_q4_1);
    case SKIFF_TYPE_Q8_0: return (size_t)(n / QK) * sizeof(block_q8_0);
    case SKIFF_TYPE_Q8_1: return (size_t)(n / QK) * sizeof(block_q8_1);
    default: return 0;
    }
}

// ---------------------------------------------------------------- quantize

// Same arithmetic as ggml's AVX2 quantize_row_q8_0/q8_1: d = amax/127 stored as
// fp16, scale by 127/amax, round half to even.
static void quantize_block(const float *x, int8_t *q, float *d_out, int *sum_out) {
    float amax = 0.0f;
    for (int j = 0; j < QK; j++) {
        float a = fabsf(x[j]);
        if (a > amax) amax = a;
    }
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int j = 0; j < QK; j++) {
        int v = (int)nearbyintf(x[j] * id);
        q[j] = (int8_t)v;
        sum += v;
    }
    *d_out = d;
    *sum_out = sum;
}

#if SKIFF_X86
// The same arithmetic as quantize_block (max |x|, d = amax/127, x * (127/amax) rounded
// half to even), eight lanes at a time: results are identical.
SKIFF_AVX2 static void quantize_block_avx2(const float *x, int8_t *q, float *d_out, int *sum_out) {
    const __m256 signBit = _mm256_set1_ps(-0.0f);
    __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    __m256 maxAbs = _mm256_andnot_ps(signBit, v0);
    maxAbs = _mm256_max_ps(maxAbs, _mm256_andnot_ps(signBit, v1));
    maxAbs = _mm256_max_ps(maxAbs, _mm256_andnot_ps(signBit, v2));
    maxAbs = _mm256_max_ps(maxAbs, _mm256_andnot_ps(signBit, v3));
    __m128 max4 = _mm_max_ps(_mm256_extractf128_ps(maxAbs, 1), _mm256_castps256_ps128(maxAbs));
    max4 = _mm_max_ps(max4, _mm_movehl_ps(max4, max4));
    max4 = _mm_max_ss(max4, _mm_movehdup_ps(max4));
    const float amax = _mm_cvtss_f32(max4);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const __m256 mul = _mm256_set1_ps(id);
#define SKIFF_ROUND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
    __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, mul), SKIFF_ROUND));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, mul), SKIFF_ROUND));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, mul), SKIFF_ROUND));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, mul), SKIFF_ROUND));
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
    __m128i s4 = _mm_add_epi32(_mm256_extracti128_si256(s, 1), _mm256_castsi256_si128(s));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    // Pack to int8 and undo the lane interleaving of the pack instructions.
    i0 = _mm256_packs_epi32(i0, i1);
    i2 = _mm256_packs_epi32(i2, i3);
    i0 = _mm256_packs_epi16(i0, i2);
    i0 = _mm256_permutevar8x32_epi32(i0, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, i0);
    *d_out = d;
    *sum_out = _mm_cvtsi128_si32(s4);
}
#endif

static inline void quantize_one(const float *x, int8_t *q, float *d, int *sum) {
#if SKIFF_X86
    if (use_avx2) { quantize_block_avx2(x, q, d, sum); return; }
#endif
    quantize_block(x, q, d, sum);
}

void skiff_quantize_row_q8_0(const float *x, void *vy, int64_t n) {
    ensure_init();
    block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / QK; i++) {
        float d;
        int sum;
        quantize_one(x + i * QK, y[i].qs, &d, &sum);
        y[i].d = skiff_fp32_to_fp16(d);
    }
}

void skiff_quantize_row_q8_1(const float *x, void *vy, int64_t n) {
    ensure_init();
    block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / QK; i++) {
        float d;
        int sum;
        quantize_one(x + i * QK, y[i].qs, &d, &sum);
        y[i].d = skiff_fp32_to_fp16(d);
        y[i].s = skiff_fp32_to_fp16(d * (float)sum);
    }
}

// A Q8_1 activation row as the products read it: the blocks, then for each block its
// scale as a float four times over (so that two blocks' scales load as one 8-lane vector
// in the packed Q4_1 kernel) and its sum term as a float. These are the fp16 values the
// kernels converted per group of rows before, converted once per row instead.
static size_t q8_1_act_row_size(int64_t n) {
    return skiff_row_size(SKIFF_TYPE_Q8_1, n) + (size_t)(n / QK) * 5 * sizeof(float);
}

// A Q8_0 activation row as the products read it: the blocks, then each block's scale as a
// float, then per block the eight 4-byte lanes' integer sums times -128, then times -8: the
// sixteen-row Q8_0 and Q4_0 kernels store their weights unsigned (x + 128, x + 8) and start
// each lane's VNNI sum from these, which leaves exactly ggml's signed lane sums.
static size_t q8_0_act_row_size(int64_t n) {
    return skiff_row_size(SKIFF_TYPE_Q8_0, n) + (size_t)(n / QK) * 17 * sizeof(float);
}

static void quantize_act_q8_0(const float *x, void *vy, int64_t n) {
    skiff_quantize_row_q8_0(x, vy, n);
    if (!use_avx512vnni) return;  // only the sixteen-row kernels read the trailer
    const block_q8_0 *y = vy;
    const int64_t nb = n / QK;
    float *ds = (float *)((uint8_t *)vy + (size_t)nb * sizeof(block_q8_0));
    int32_t *off128 = (int32_t *)(ds + nb), *off8 = off128 + 8 * nb;
    for (int64_t i = 0; i < nb; i++) {
        ds[i] = h2f(y[i].d);
        for (int l = 0; l < 8; l++) {
            const int32_t lane = y[i].qs[4 * l] + y[i].qs[4 * l + 1] + y[i].qs[4 * l + 2] + y[i].qs[4 * l + 3];
            off128[8 * i + l] = -128 * lane;
            off8[8 * i + l] = -8 * lane;
        }
    }
}

static void quantize_act_q8_1(const float *x, void *vy, int64_t n) {
    skiff_quantize_row_q8_1(x, vy, n);
    const int64_t nb = n / QK;
    const block_q8_1 *y = vy;
    float *d4 = (float *)((uint8_t *)vy + (size_t)nb * sizeof(block_q8_1));
    float *sums = d4 + 4 * nb;
    for (int64_t i = 0; i < nb; i++) {
        const float d = h2f(y[i].d);
        d4[4 * i] = d4[4 * i + 1] = d4[4 * i + 2] = d4[4 * i + 3] = d;
        sums[i] = h2f(y[i].s);
    }
}

int skiff_dequantize_row(int type, const void *vx, float *y, int64_t n) {
    ensure_init();
    switch (type) {
    case SKIFF_TYPE_F32: memcpy(y, vx, (size_t)n * 4); return 0;
    case SKIFF_TYPE_F16: skiff_fp16_to_fp32_row(vx, y, n); return 0;
    case SKIFF_TYPE_BF16: skiff_bf16_to_fp32_row(vx, y, n); return 0;
    case SKIFF_TYPE_Q4_0: {
        const block_q4_0 *x = vx;
        for (int64_t i = 0; i < n / QK; i++) {
            float d = h2f(x[i].d);
            for (int j = 0; j < QK / 2; j++) {
                y[i * QK + j] = (float)((x[i].qs[j] & 0x0f) - 8) * d;
                y[i * QK + j + QK / 2] = (float)((x[i].qs[j] >> 4) - 8) * d;
            }
        }
        return 0;
    }
    case SKIFF_TYPE_Q4_1: {
        const block_q4_1 *x = vx;
        for (int64_t i = 0; i < n / QK; i++) {
            float d = h2f(x[i].d), m = h2f(x[i].m);
            for (int j = 0; j < QK / 2; j++) {
                y[i * QK + j] = (float)(x[i].qs[j] & 0x0f) * d + m;
                y[i * QK + j + QK / 2] = (float)(x[i].qs[j] >> 4) * d + m;
            }
        }
        return 0;
    }
    case SKIFF_TYPE_Q8_0: {
        const block_q8_0 *x = vx;
        for (int64_t i = 0; i < n / QK; i++) {
            float d = h2f(x[i].d);
            for (int j = 0; j < QK; j++) y[i * QK + j] = (float)x[i].qs[j] * d;
        }
        return 0;
    }
    default: return -1;
    }
}

// ---------------------------------------------------------------- interleaved layouts

// Q4_1_X4, per group of rows 4g..4g+3 (4 * row bytes), per pair of blocks (2p, 2p+1):
// d of rows 0-3 of block 2p, then of block 2p+1 (8 fp16), m likewise (8 fp16), then per
// row 32 bytes: element j of block 2p in the low nibble of byte j, of block 2p+1 in the
// high nibble. An odd last block: d (4 fp16), m (4 fp16), each row's 16 GGUF bytes.
// Q8_0_X4, per group, per block: d of rows 0-3 (4 fp16), then each row's 32 bytes.
static void repack_q4_1(const block_q4_1 *src, int64_t rows, int64_t nb, uint8_t *dst) {
    for (int64_t g = 0; g < rows / 4; g++) {
        const block_q4_1 *row[4];
        for (int r = 0; r < 4; r++) row[r] = src + (4 * g + r) * nb;
        uint8_t *o = dst + (size_t)g * 4 * (size_t)nb * sizeof(block_q4_1);
        int64_t i = 0;
        for (; i + 1 < nb; i += 2, o += 160) {
            uint16_t *h = (uint16_t *)(void *)o;
            for (int r = 0; r < 4; r++) {
                h[r] = row[r][i].d; h[4 + r] = row[r][i + 1].d;
                h[8 + r] = row[r][i].m; h[12 + r] = row[r][i + 1].m;
                uint8_t *q = o + 32 + 32 * r;
                for (int j = 0; j < QK; j++) {
                    const uint8_t a = j < 16 ? row[r][i].qs[j] & 0x0f : row[r][i].qs[j - 16] >> 4;
                    const uint8_t b = j < 16 ? row[r][i + 1].qs[j] & 0x0f : row[r][i + 1].qs[j - 16] >> 4;
                    q[j] = (uint8_t)(a | (b << 4));
                }
            }
        }
        if (i < nb) {
            uint16_t *h = (uint16_t *)(void *)o;
            for (int r = 0; r < 4; r++) {
                h[r] = row[r][i].d;
                h[4 + r] = row[r][i].m;
                memcpy(o + 16 + 16 * r, row[r][i].qs, 16);
            }
        }
    }
}

static void repack_q8_0(const block_q8_0 *src, int64_t rows, int64_t nb, uint8_t *dst) {
    for (int64_t g = 0; g < rows / 4; g++) {
        uint8_t *o = dst + (size_t)g * 4 * (size_t)nb * sizeof(block_q8_0);
        for (int64_t i = 0; i < nb; i++, o += 136) {
            uint16_t *h = (uint16_t *)(void *)o;
            for (int r = 0; r < 4; r++) {
                const block_q8_0 *b = src + (4 * g + r) * nb + i;
                h[r] = b->d;
                memcpy(o + 8 + 32 * r, b->qs, 32);
            }
        }
    }
}

int skiff_repack_x4(int type, const void *src, int64_t rows, int64_t cols, void *dst) {
    ensure_init();
    if (!use_avx2 || rows < 4 || rows % 4 != 0 || cols < QK || cols % QK != 0) return -1;
    switch (type) {
    case SKIFF_TYPE_Q4_1: repack_q4_1(src, rows, cols / QK, dst); return SKIFF_TYPE_Q4_1_X4;
    case SKIFF_TYPE_Q8_0: repack_q8_0(src, rows, cols / QK, dst); return SKIFF_TYPE_Q8_0_X4;
    default: return -1;
    }
}

// Sixteen-row layouts (skiff_repack_x16), per group of rows 16g..16g+15, per block: the 16
// rows' d (16 fp16), for Q4_1 their m (16 fp16), then the quantized values in 64-byte chunks
// of 4 bytes per row (row r at byte 4r), so that one 512-bit register holds the same four
// bytes of sixteen rows and one VNNI instruction multiplies them all by one broadcast
// activation word. Q4_1 and Q4_0: chunk k holds GGUF bytes qs[4k..4k+3] (elements 4k..4k+3
// in the low nibbles, 16+4k..16+4k+3 in the high ones: ggml's lanes k and k + 4). Q8_0:
// chunk k (lane k) holds qs[4k..4k+3] with the sign bit flipped (x + 128, unsigned).
static void repack_x16(int type, const uint8_t *src, int64_t rows, int64_t nb, uint8_t *dst) {
    const size_t bsize = skiff_row_size(type, QK);
    const int chunks = type == SKIFF_TYPE_Q8_0 ? 8 : 4;
    const size_t head = type == SKIFF_TYPE_Q4_1 ? 64 : 32;
    const size_t qoff = type == SKIFF_TYPE_Q4_1 ? 4 : 2;  // qs offset inside a GGUF block
    for (int64_t g = 0; g < rows / 16; g++) {
        for (int64_t i = 0; i < nb; i++) {
            uint8_t *o = dst + ((size_t)g * (size_t)nb + (size_t)i) * 16 * bsize;
            for (int r = 0; r < 16; r++) {
                const uint8_t *b = src + ((size_t)(16 * g + r) * (size_t)nb + (size_t)i) * bsize;
                memcpy(o + 2 * r, b, 2);                                           // d
                if (type == SKIFF_TYPE_Q4_1) memcpy(o + 32 + 2 * r, b + 2, 2);     // m
                for (int k = 0; k < chunks; k++) {
                    uint8_t *q = o + head + 64 * (size_t)k + 4 * (size_t)r;
                    memcpy(q, b + qoff + 4 * k, 4);
                    if (type == SKIFF_TYPE_Q8_0) for (int j = 0; j < 4; j++) q[j] ^= 0x80;
                }
            }
        }
    }
}

int skiff_repack_x16(int type, const void *src, int64_t rows, int64_t cols, void *dst) {
    ensure_init();
    if (!use_avx512vnni || rows < 16 || rows % 16 != 0 || cols < QK || cols % QK != 0) return -1;
    switch (type) {
    case SKIFF_TYPE_Q4_0: repack_x16(type, src, rows, cols / QK, dst); return SKIFF_TYPE_Q4_0_X16;
    case SKIFF_TYPE_Q4_1: repack_x16(type, src, rows, cols / QK, dst); return SKIFF_TYPE_Q4_1_X16;
    case SKIFF_TYPE_Q8_0: repack_x16(type, src, rows, cols / QK, dst); return SKIFF_TYPE_Q8_0_X16;
    default: return -1;
    }
}

// ---------------------------------------------------------------- dot products

static float dot_q4_0_scalar(const block_q4_0 *x, const block_q8_0 *y, int64_t nb) {
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int s = 0;
        for (int j = 0; j < QK / 2; j++) {
            s += ((x[i].qs[j] & 0x0f) - 8) * y[i].qs[j];
            s += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + QK / 2];
        }
        sum += (float)s * h2f(x[i].d) * h2f(y[i].d);
    }
    return sum;
}

static float dot_q4_1_scalar(const block_q4_1 *x, const block_q8_1 *y, int64_t nb) {
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int s = 0;
        for (int j = 0; j < QK / 2; j++) {
            s += (x[i].qs[j] & 0x0f) * y[i].qs[j];
            s += (x[i].qs[j] >> 4) * y[i].qs[j + QK / 2];
        }
        sum += h2f(x[i].d) * h2f(y[i].d) * (float)s + h2f(x[i].m) * h2f(y[i].s);
    }
    return sum;
}

static float dot_q8_0_scalar(const block_q8_0 *x, const block_q8_0 *y, int64_t nb) {
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int s = 0;
        for (int j = 0; j < QK; j++) s += x[i].qs[j] * y[i].qs[j];
        sum += (float)s * (h2f(x[i].d) * h2f(y[i].d));
    }
    return sum;
}

#if SKIFF_X86
SKIFF_AVX2 static inline float hsum_float_8(__m256 x) {
    __m128 res = _mm256_extractf128_ps(x, 1);
    res = _mm_add_ps(res, _mm256_castps256_ps128(x));
    res = _mm_add_ps(res, _mm_movehl_ps(res, res));
    res = _mm_add_ss(res, _mm_movehdup_ps(res));
    return _mm_cvtss_f32(res);
}

SKIFF_AVX2 static inline __m256i bytes_from_nibbles_32(const uint8_t *rsi) {
    const __m128i tmp = _mm_loadu_si128((const __m128i *)rsi);
    const __m256i bytes = _mm256_set_m128i(_mm_srli_epi16(tmp, 4), tmp);
    return _mm256_and_si256(_mm256_set1_epi8(0x0f), bytes);
}

SKIFF_AVX2 static inline __m256 mul_sum_us8_pairs_float(__m256i ax, __m256i sy) {
    const __m256i dot = _mm256_maddubs_epi16(ax, sy);
    const __m256i summed = _mm256_madd_epi16(_mm256_set1_epi16(1), dot);
    return _mm256_cvtepi32_ps(summed);
}

SKIFF_AVX2 static inline __m256 mul_sum_i8_pairs_float(__m256i x, __m256i y) {
    const __m256i ax = _mm256_sign_epi8(x, x);
    const __m256i sy = _mm256_sign_epi8(y, x);
    return mul_sum_us8_pairs_float(ax, sy);
}

SKIFF_AVX2 static inline float dot_q4_0_avx2(const block_q4_0 *x, const block_q8_0 *y, int64_t nb) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256 d = _mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d));
        __m256i qx = bytes_from_nibbles_32(x[i].qs);
        qx = _mm256_sub_epi8(qx, _mm256_set1_epi8(8));
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        acc = _mm256_fmadd_ps(d, mul_sum_i8_pairs_float(qx, qy), acc);
    }
    return hsum_float_8(acc);
}

SKIFF_AVX2 static inline float dot_q4_1_avx2(const block_q4_1 *x, const block_q8_1 *y, int64_t nb) {
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const float d0 = h2f(x[i].d), d1 = h2f(y[i].d);
        summs = fmaf(h2f(x[i].m), h2f(y[i].s), summs);  // fused, as ggml's GCC build does
        const __m256 d0d1 = _mm256_mul_ps(_mm256_set1_ps(d0), _mm256_set1_ps(d1));
        const __m256i qx = bytes_from_nibbles_32(x[i].qs);
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        acc = _mm256_fmadd_ps(d0d1, mul_sum_us8_pairs_float(qx, qy), acc);
    }
    return hsum_float_8(acc) + summs;
}

SKIFF_AVX2 static inline float dot_q8_0_avx2(const block_q8_0 *x, const block_q8_0 *y, int64_t nb) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256 d = _mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d));
        const __m256i qx = _mm256_loadu_si256((const __m256i *)x[i].qs);
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        acc = _mm256_fmadd_ps(d, mul_sum_i8_pairs_float(qx, qy), acc);
    }
    return hsum_float_8(acc);
}

// Two weight rows against one activation row: the activation block is loaded once.
// Each row's arithmetic and accumulation order are exactly those of the one-row kernels.
SKIFF_AVX2 static inline __attribute__((always_inline)) void dot2_q4_1_avx2(const block_q4_1 *x0, const block_q4_1 *x1, const block_q8_1 *y, int64_t nb,
                                      float *out) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    float summs0 = 0.0f, summs1 = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const float d1 = h2f(y[i].d), s1 = h2f(y[i].s);
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        const __m256 dy = _mm256_set1_ps(d1);
        summs0 = fmaf(h2f(x0[i].m), s1, summs0);
        summs1 = fmaf(h2f(x1[i].m), s1, summs1);
        acc0 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(h2f(x0[i].d)), dy),
                               mul_sum_us8_pairs_float(bytes_from_nibbles_32(x0[i].qs), qy), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(h2f(x1[i].d)), dy),
                               mul_sum_us8_pairs_float(bytes_from_nibbles_32(x1[i].qs), qy), acc1);
    }
    out[0] = hsum_float_8(acc0) + summs0;
    out[1] = hsum_float_8(acc1) + summs1;
}

SKIFF_AVX2 static inline __attribute__((always_inline)) void dot2_q8_0_avx2(const block_q8_0 *x0, const block_q8_0 *x1, const block_q8_0 *y, int64_t nb,
                                      float *out) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float dy = h2f(y[i].d);
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x0[i].d) * dy),
                               mul_sum_i8_pairs_float(_mm256_loadu_si256((const __m256i *)x0[i].qs), qy), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x1[i].d) * dy),
                               mul_sum_i8_pairs_float(_mm256_loadu_si256((const __m256i *)x1[i].qs), qy), acc1);
    }
    out[0] = hsum_float_8(acc0);
    out[1] = hsum_float_8(acc1);
}

// F32 dot product in ggml_vec_dot_f32's order (AVX2 build): four 8-lane FMA
// accumulators over blocks of 32 (element i goes to accumulator (i/8)%4, lane i%8),
// folded as a0+a2, a1+a3, then (a0+a2)+(a1+a3), the two 128-bit halves added, and two
// horizontal adds; the tail (n % 32) is added one product at a time. Attention uses it
// for Q.K and for P.V so that its sums round exactly as llama.cpp's do.
SKIFF_AVX2 static float dot_f32_avx2(const float *a, const float *b, int64_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    const int64_t np = n & ~(int64_t)31;
    for (int64_t i = 0; i < np; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    s0 = _mm256_add_ps(s0, s2);
    s1 = _mm256_add_ps(s1, s3);
    s0 = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    h = _mm_hadd_ps(h, h);
    h = _mm_hadd_ps(h, h);
    float s = _mm_cvtss_f32(h);
    for (int64_t i = np; i < n; i++) s = fmaf(a[i], b[i], s);
    return s;
}

// Two dot_f32_avx2 products at once (rows a0, a1 against b), each with exactly its
// accumulation and reduction; n a multiple of 32. Attention runs ~200k of these per
// token, so the call and the idle FMA latency of a single product matter.
SKIFF_AVX2 static inline __attribute__((always_inline)) __m128 reduce_dot_f32(__m256 s0, __m256 s1, __m256 s2, __m256 s3) {
    s0 = _mm256_add_ps(s0, s2);
    s1 = _mm256_add_ps(s1, s3);
    s0 = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    h = _mm_hadd_ps(h, h);
    return _mm_hadd_ps(h, h);
}

SKIFF_AVX2 static inline __attribute__((always_inline)) void dot2_f32_avx2(const float *a0, const float *a1, const float *b,
                                                                       int64_t n, float *out0, float *out1) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    __m256 t0 = _mm256_setzero_ps(), t1 = _mm256_setzero_ps(), t2 = _mm256_setzero_ps(), t3 = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 32) {
        const __m256 b0 = _mm256_loadu_ps(b + i), b1 = _mm256_loadu_ps(b + i + 8);
        const __m256 b2 = _mm256_loadu_ps(b + i + 16), b3 = _mm256_loadu_ps(b + i + 24);
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a0 + i), b0, s0);
        t0 = _mm256_fmadd_ps(_mm256_loadu_ps(a1 + i), b0, t0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a0 + i + 8), b1, s1);
        t1 = _mm256_fmadd_ps(_mm256_loadu_ps(a1 + i + 8), b1, t1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a0 + i + 16), b2, s2);
        t2 = _mm256_fmadd_ps(_mm256_loadu_ps(a1 + i + 16), b2, t2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a0 + i + 24), b3, s3);
        t3 = _mm256_fmadd_ps(_mm256_loadu_ps(a1 + i + 24), b3, t3);
    }
    *out0 = _mm_cvtss_f32(reduce_dot_f32(s0, s1, s2, s3));
    *out1 = _mm_cvtss_f32(reduce_dot_f32(t0, t1, t2, t3));
}

// Attention scores p[j] = dot(k_j, q) * scale for j < n (head_dim d a multiple of 32);
// returns their maximum.
SKIFF_AVX2 static float scores_avx2(const float *k, int64_t d, const float *q, int64_t n, float scale, float *p) {
    float maxv = -INFINITY;
    int64_t j = 0;
    for (; j + 1 < n; j += 2) {
        float s0, s1;
        dot2_f32_avx2(k + j * d, k + (j + 1) * d, q, d, &s0, &s1);
        p[j] = s0 * scale;
        p[j + 1] = s1 * scale;
        if (p[j] > maxv) maxv = p[j];
        if (p[j + 1] > maxv) maxv = p[j + 1];
    }
    for (; j < n; j++) {
        p[j] = dot_f32_avx2(k + j * d, q, d) * scale;
        if (p[j] > maxv) maxv = p[j];
    }
    return maxv;
}

// out[i] = dot(v row i, p) over n (a multiple of 32) positions, for d rows `stride` apart.
SKIFF_AVX2 static void pv_avx2(const float *v, int64_t stride, const float *p, int64_t n, int64_t d, float *out) {
    int64_t i = 0;
    for (; i + 1 < d; i += 2) dot2_f32_avx2(v + i * stride, v + (i + 1) * stride, p, n, out + i, out + i + 1);
    for (; i < d; i++) out[i] = dot_f32_avx2(v + i * stride, p, n);
}

// exp(x) on 8 lanes with the polynomial ggml's AVX2 build uses in softmax and SiLU
// (after Arm's optimized-routines expf: x = n ln2 + r with n rounded through the
// 1.5 * 2^23 shifter, a degree-5 polynomial in r, 2^n by exponent arithmetic, and a
// scaled path for |n| > 126). Same operations in the same order, so the same bits.
SKIFF_AVX2 static inline __m256 exp8_avx2(__m256 x) {
    const __m256 shifter = _mm256_set1_ps(0x1.8p23f);
    const __m256 absMask = _mm256_set1_ps(-0.0f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shifter);  // x / ln2 + shifter
    const __m256 n = _mm256_sub_ps(z, shifter);                                       // round(x / ln2)
    // r = x - n ln2, ln2 split in a high and a low part
    const __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);                 // n in the exponent field
    const __m256 scale = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1.0f))));
    const __m256 big = _mm256_cmp_ps(_mm256_andnot_ps(absMask, n), _mm256_set1_ps(126.0f), _CMP_GT_OQ);
    const __m256 r2 = _mm256_mul_ps(r, r);
    const __m256 hi = _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), r, _mm256_set1_ps(0x1.573e2ep-5f));
    const __m256 lo = _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), r, _mm256_set1_ps(0x1.fffdb6p-2f));
    const __m256 poly = _mm256_fmadd_ps(_mm256_fmadd_ps(hi, r2, lo), r2, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), r));
    if (!_mm256_movemask_ps(big)) return _mm256_fmadd_ps(poly, scale, scale);
    // |n| > 126: 2^n split into two factors so neither overflows; |n| > 192 saturates.
    const __m256i bias = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                          _mm256_set1_epi32((int)0x82000000u));
    const __m256 f1 = _mm256_castsi256_ps(_mm256_add_epi32(bias, _mm256_set1_epi32(0x7f000000)));
    const __m256 f2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, bias));
    const __m256 huge = _mm256_cmp_ps(_mm256_andnot_ps(absMask, n), _mm256_set1_ps(192.0f), _CMP_GT_OQ);
    const __m256 scaled = _mm256_mul_ps(_mm256_fmadd_ps(f2, poly, f2), f1);
    const __m256 normal = _mm256_fmadd_ps(scale, poly, scale);
    const __m256 mid = _mm256_or_ps(_mm256_and_ps(big, scaled), _mm256_andnot_ps(big, normal));
    return _mm256_or_ps(_mm256_and_ps(huge, _mm256_mul_ps(f1, f1)), _mm256_andnot_ps(huge, mid));
}

// Sum of 8 lanes as ggml's softmax adds them: halves, then (0+2)+(1+3).
SKIFF_AVX2 static inline float hsum8_softmax(__m256 v) {
    __m128 h = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

// y[i] = exp(x[i] - max) for n (a multiple of 8) values; returns their sum in double,
// added 8 lanes at a time (ggml_vec_soft_max_f32).
SKIFF_AVX2 static double softmax_exp_avx2(float *y, const float *x, int64_t n, float max) {
    double sum = 0.0;
    const __m256 m = _mm256_set1_ps(max);
    for (int64_t i = 0; i < n; i += 8) {
        const __m256 v = exp8_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
        _mm256_storeu_ps(y + i, v);
        sum += (double)hsum8_softmax(v);
    }
    return sum;
}

// gate = silu(gate) * up, 8 lanes at a time with the exp above (ggml_vec_swiglu_f32).
SKIFF_AVX2 static void silu_mul_avx2(float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 e = exp8_avx2(_mm256_sub_ps(_mm256_setzero_ps(), g));
        const __m256 s = _mm256_div_ps(g, _mm256_add_ps(one, e));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(s, _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) gate[i] = (gate[i] / (1.0f + expf(-gate[i]))) * up[i];
}
#endif

// Portable versions: the same summation order with scalar FMAs; libm expf.
static float dot_f32(const float *a, const float *b, int64_t n) {
#if SKIFF_X86
    if (use_avx2) return dot_f32_avx2(a, b, n);
#endif
    float acc[4][8] = {{0}};
    const int64_t np = n & ~(int64_t)31;
    for (int64_t i = 0; i < np; i += 32)
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 8; l++) acc[k][l] = fmaf(a[i + 8 * k + l], b[i + 8 * k + l], acc[k][l]);
    float v[8];
    for (int l = 0; l < 8; l++) v[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    const float h0 = v[0] + v[4], h1 = v[1] + v[5], h2 = v[2] + v[6], h3 = v[3] + v[7];
    float s = (h0 + h1) + (h2 + h3);
    for (int64_t i = np; i < n; i++) s = fmaf(a[i], b[i], s);
    return s;
}

static double softmax_exp(float *y, const float *x, int64_t n, float max) {
#if SKIFF_X86
    if (use_avx2) return softmax_exp_avx2(y, x, n, max);
#endif
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        y[i] = expf(x[i] - max);
        sum += (double)y[i];
    }
    return sum;
}

float skiff_vec_dot(int type, const void *w, const void *xq, int64_t n) {
    ensure_init();
    const int64_t nb = n / QK;
    switch (type) {
    case SKIFF_TYPE_Q4_0:
#if SKIFF_X86
        if (use_avx2) return dot_q4_0_avx2(w, xq, nb);
#endif
        return dot_q4_0_scalar(w, xq, nb);
    case SKIFF_TYPE_Q4_1:
#if SKIFF_X86
        if (use_avx2) return dot_q4_1_avx2(w, xq, nb);
#endif
        return dot_q4_1_scalar(w, xq, nb);
    case SKIFF_TYPE_Q8_0:
#if SKIFF_X86
        if (use_avx2) return dot_q8_0_avx2(w, xq, nb);
#endif
        return dot_q8_0_scalar(w, xq, nb);
    case SKIFF_TYPE_F32: return dot_f32(w, xq, n);
    default: return NAN;
    }
}

// ---------------------------------------------------------------- thread pool

typedef void (*pool_fn)(void *ctx, int ith, int nth);

// Jobs split their work into chunks claimed from an atomic counter, and the
// calling thread works too. The caller never waits for a worker that has not
// joined yet (on a busy machine a sleeping worker can take a scheduler tick to
// wake): it closes the job once its own loop finds no chunk left, then waits only
// for workers that joined. A late worker sees the job closed and skips it.
struct skiff_pool {
    int threads;
    pthread_t *workers;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    atomic_uint generation;  // id of the latest job
    atomic_uint closed;      // id of the latest job that takes no new workers
    atomic_int active;       // workers inside a job
    atomic_int sleepers;
    atomic_int stop;
    pool_fn fn;
    void *ctx;
};

typedef struct { skiff_pool *pool; int ith; } worker_arg;

static inline void cpu_relax(void) {
#if SKIFF_X86
    _mm_pause();
#endif
}

static void *worker_main(void *varg) {
    worker_arg *arg = varg;
    skiff_pool *pool = arg->pool;
    const int ith = arg->ith;
    free(arg);
    unsigned seen = 0;  // jobs start at 1
    for (;;) {
        // Spin briefly (decoding dispatches hundreds of small jobs per token), then sleep.
        int spins = 0;
        while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop) && spins < 20000) {
            cpu_relax();
            spins++;
        }
        if (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop)) {
            pthread_mutex_lock(&pool->mutex);
            atomic_fetch_add(&pool->sleepers, 1);
            while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->wake, &pool->mutex);
            atomic_fetch_sub(&pool->sleepers, 1);
            pthread_mutex_unlock(&pool->mutex);
        }
        if (atomic_load(&pool->stop)) break;
        const unsigned job = atomic_load(&pool->generation);
        seen = job;
        atomic_fetch_add(&pool->active, 1);
        if (atomic_load(&pool->closed) != job) pool->fn(pool->ctx, ith, pool->threads);
        atomic_fetch_sub(&pool->active, 1);
    }
    return NULL;
}

skiff_pool *skiff_pool_create(int threads) {
    ensure_init();
    if (threads < 1) threads = 1;
    skiff_pool *pool = calloc(1, sizeof(skiff_pool));
    if (!pool) return NULL;
    pool->threads = threads;
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->wake, NULL);
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->closed, 0);
    atomic_init(&pool->active, 0);
    atomic_init(&pool->sleepers, 0);
    atomic_init(&pool->stop, 0);
    pool->workers = calloc((size_t)threads, sizeof(pthread_t));
    for (int i = 1; i < threads; i++) {
        worker_arg *arg = malloc(sizeof(worker_arg));
        if (arg) {
            arg->pool = pool;
            arg->ith = i;
        }
        if (!arg || !pool->workers || pthread_create(&pool->workers[i], NULL, worker_main, arg) != 0) {
            free(arg);
            pool->threads = i;  // run with the workers that did start
            break;
        }
    }
    return pool;
}
void skiff_pool_destroy(skiff_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mutex);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    for (int i = 1; i < pool->threads; i++) pthread_join(pool->workers[i], NULL);
    pthread_mutex_destroy(&pool->mutex);
    pthread_cond_destroy(&pool->wake);
    free(pool->workers);
    free(pool);
}

int skiff_pool_threads(const skiff_pool *pool) { return pool ? pool->threads : 1; }

// `fn` must loop claiming chunks until none is left, whichever thread runs it.
static void pool_run(skiff_pool *pool, pool_fn fn, void *ctx) {
    if (!pool || pool->threads == 1) { fn(ctx, 0, 1); return; }
    pool->fn = fn;
    pool->ctx = ctx;
    const unsigned job = atomic_load(&pool->generation) + 1;
    atomic_store(&pool->generation, job);
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->mutex);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mutex);
    }
    fn(ctx, 0, pool->threads);
    atomic_store(&pool->closed, job);
    int spins = 0;
    while (atomic_load(&pool->active) > 0) {
        if (++spins < 20000) cpu_relax(); else sched_yield();
    }
}

// ---------------------------------------------------------------- matmul

size_t skiff_matmul_scratch_size(int type, int64_t cols, int64_t batch) {
    switch (unpacked_type(type)) {
    case SKIFF_TYPE_Q4_0:
    case SKIFF_TYPE_Q8_0: return q8_0_act_row_size(cols) * (size_t)batch;
    case SKIFF_TYPE_Q4_1: return q8_1_act_row_size(cols) * (size_t)batch;
    default: return 0;
    }
}

// Row ranges of one product with the kernel inlined: the per-row call was a measurable
// share of decoding time (about 200k rows per token).
typedef void (*rows_fn)(const uint8_t *w, size_t wrow, const void *xq, int64_t nb, float *y, int64_t r0, int64_t r1);
#if SKIFF_X86
// Four weight rows against one activation row. Decoding is not limited by memory
// here (a 135M model, two cores): one row's FMA chains (vector accumulator and the
// scalar min-term sum) bound the single-row loop by latency, so four independent rows
// keep the FMA units busy and share the activation loads and scale conversions. Each
// row's operations and their order are exactly the single-row kernel's.
SKIFF_AVX2 static inline __attribute__((always_inline)) void dot4_q4_1_avx2(const block_q4_1 *x0, size_t stride, const block_q8_1 *y,
                                                                        int64_t nb, float *out) {
    const block_q4_1 *x1 = (const block_q4_1 *)((const uint8_t *)x0 + stride);
    const block_q4_1 *x2 = (const block_q4_1 *)((const uint8_t *)x0 + 2 * stride);
    const block_q4_1 *x3 = (const block_q4_1 *)((const uint8_t *)x0 + 3 * stride);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    float m0 = 0.0f, m1 = 0.0f, m2 = 0.0f, m3 = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const float dy = h2f(y[i].d), sy = h2f(y[i].s);
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        m0 = fmaf(h2f(x0[i].m), sy, m0);
        m1 = fmaf(h2f(x1[i].m), sy, m1);
        m2 = fmaf(h2f(x2[i].m), sy, m2);
        m3 = fmaf(h2f(x3[i].m), sy, m3);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x0[i].d) * dy), mul_sum_us8_pairs_float(bytes_from_nibbles_32(x0[i].qs), qy), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x1[i].d) * dy), mul_sum_us8_pairs_float(bytes_from_nibbles_32(x1[i].qs), qy), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x2[i].d) * dy), mul_sum_us8_pairs_float(bytes_from_nibbles_32(x2[i].qs), qy), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x3[i].d) * dy), mul_sum_us8_pairs_float(bytes_from_nibbles_32(x3[i].qs), qy), acc3);
    }
    out[0] = hsum_float_8(acc0) + m0;
    out[1] = hsum_float_8(acc1) + m1;
    out[2] = hsum_float_8(acc2) + m2;
    out[3] = hsum_float_8(acc3) + m3;
}

SKIFF_AVX2 static inline __attribute__((always_inline)) void dot4_q8_0_avx2(const block_q8_0 *x0, size_t stride, const block_q8_0 *y,
                                                                        int64_t nb, float *out) {
    const block_q8_0 *x1 = (const block_q8_0 *)((const uint8_t *)x0 + stride);
    const block_q8_0 *x2 = (const block_q8_0 *)((const uint8_t *)x0 + 2 * stride);
    const block_q8_0 *x3 = (const block_q8_0 *)((const uint8_t *)x0 + 3 * stride);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float dy = h2f(y[i].d);
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x0[i].d) * dy), mul_sum_i8_pairs_float(_mm256_loadu_si256((const __m256i *)x0[i].qs), qy), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x1[i].d) * dy), mul_sum_i8_pairs_float(_mm256_loadu_si256((const __m256i *)x1[i].qs), qy), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x2[i].d) * dy), mul_sum_i8_pairs_float(_mm256_loadu_si256((const __m256i *)x2[i].qs), qy), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x3[i].d) * dy), mul_sum_i8_pairs_float(_mm256_loadu_si256((const __m256i *)x3[i].qs), qy), acc3);
    }
    out[0] = hsum_float_8(acc0);
    out[1] = hsum_float_8(acc1);
    out[2] = hsum_float_8(acc2);
    out[3] = hsum_float_8(acc3);
}

// One core streams weights from memory at ~9.5 GB/s with the hardware prefetcher alone
// (measured on this machine: a 72 MB Q4_1 matrix, one thread); asking for the next
// group of rows, a kilobyte further on, while computing the current one gives ~11.5.
SKIFF_AVX2 static inline __attribute__((always_inline)) void prefetch_ahead(const uint8_t *next, size_t bytes) {
    const char *p = (const char *)next + 1024;
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
}

SKIFF_AVX2 static void rows_q4_1_avx2(const uint8_t *w, size_t wrow, const void *xq, int64_t nb, float *y,
                                      int64_t r0, int64_t r1) {
    int64_t r = r0;
    for (; r + 3 < r1; r += 4) {
        prefetch_ahead(w + (size_t)(r + 4) * wrow, 4 * wrow);
        dot4_q4_1_avx2((const block_q4_1 *)(w + (size_t)r * wrow), wrow, xq, nb, y + r);
    }
    for (; r + 1 < r1; r += 2)
        dot2_q4_1_avx2((const block_q4_1 *)(w + (size_t)r * wrow), (const block_q4_1 *)(w + (size_t)(r + 1) * wrow),
                       xq, nb, y + r);
    for (; r < r1; r++) y[r] = dot_q4_1_avx2((const block_q4_1 *)(w + (size_t)r * wrow), xq, nb);
}
SKIFF_AVX2 static void rows_q8_0_avx2(const uint8_t *w, size_t wrow, const void *xq, int64_t nb, float *y,
                                      int64_t r0, int64_t r1) {
    int64_t r = r0;
    for (; r + 3 < r1; r += 4) {
        prefetch_ahead(w + (size_t)(r + 4) * wrow, 4 * wrow);
        dot4_q8_0_avx2((const block_q8_0 *)(w + (size_t)r * wrow), wrow, xq, nb, y + r);
    }
    for (; r + 1 < r1; r += 2)
        dot2_q8_0_avx2((const block_q8_0 *)(w + (size_t)r * wrow), (const block_q8_0 *)(w + (size_t)(r + 1) * wrow),
                       xq, nb, y + r);
    for (; r < r1; r++) y[r] = dot_q8_0_avx2((const block_q8_0 *)(w + (size_t)r * wrow), xq, nb);
}
SKIFF_AVX2 static void rows_q4_0_avx2(const uint8_t *w, size_t wrow, const void *xq, int64_t nb, float *y,
                                      int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) y[r] = dot_q4_0_avx2((const block_q4_0 *)(w + (size_t)r * wrow), xq, nb);
}

// Interleaved groups of four rows (skiff_repack_x4): the same integers and scales as the
// GGUF blocks, laid out so that one sequential stream feeds four rows, the scales of four
// rows convert in one F16C instruction, and one 32-byte load unpacks two Q4_1 blocks
// (block 2p in the low nibbles, 2p+1 in the high ones) instead of one 16-byte load, a
// shift and a lane insert per block. Each row's operations and their order are still
// exactly dot_q4_1_avx2's / dot_q8_0_avx2's: the unpacked bytes are identical to
// bytes_from_nibbles_32's, scale products are the same float products, and the min-term
// sums are the same fused multiply-adds, four rows to a vector. The activation's scales
// come as floats after its blocks (quantize_act_q8_1), converted once per row rather than
// per group of four weight rows: +5 % generated and +11 % prompt tokens/s (alternating runs).
SKIFF_AVX2 static inline __attribute__((always_inline)) void dot4_q4_1x4_avx2(const uint8_t *g, const block_q8_1 *y, int64_t nb,
                                                                          float *out) {
    const float *yd4 = (const float *)((const uint8_t *)y + (size_t)nb * sizeof(block_q8_1));  // quantize_act_q8_1
    const float *ys = yd4 + 4 * nb;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    __m128 macc = _mm_setzero_ps();
    const __m256i low = _mm256_set1_epi8(0x0f);
    float sc[8];
    int64_t i = 0;
    for (; i + 1 < nb; i += 2, g += 160) {
        // The group is one sequential stream, asked for 2 KB ahead as it goes (1 KB had
        // measured on par with whole groups prefetched on one thread and 5-20 % faster on
        // two; with the fused step 2 KB gave 4 % more tokens/s than 1 KB, 4 KB the same as 2).
        _mm_prefetch((const char *)g + 2048, _MM_HINT_T0);
        _mm_prefetch((const char *)g + 2048 + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)g + 2048 + 128, _MM_HINT_T0);
        const __m256 d8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g));
        const __m256 m8 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(g + 16)));
        macc = _mm_fmadd_ps(_mm256_castps256_ps128(m8), _mm_broadcast_ss(ys + i), macc);
        macc = _mm_fmadd_ps(_mm256_extractf128_ps(m8, 1), _mm_broadcast_ss(ys + i + 1), macc);
        _mm256_storeu_ps(sc, _mm256_mul_ps(d8, _mm256_loadu_ps(yd4 + 4 * i)));
        const __m256i qy0 = _mm256_loadu_si256((const __m256i *)y[i].qs);
        const __m256i qy1 = _mm256_loadu_si256((const __m256i *)y[i + 1].qs);
        const __m256i v0 = _mm256_loadu_si256((const __m256i *)(g + 32));
        const __m256i v1 = _mm256_loadu_si256((const __m256i *)(g + 64));
        const __m256i v2 = _mm256_loadu_si256((const __m256i *)(g + 96));
        const __m256i v3 = _mm256_loadu_si256((const __m256i *)(g + 128));
        acc0 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 0), mul_sum_us8_pairs_float(_mm256_and_si256(v0, low), qy0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 1), mul_sum_us8_pairs_float(_mm256_and_si256(v1, low), qy0), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 2), mul_sum_us8_pairs_float(_mm256_and_si256(v2, low), qy0), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 3), mul_sum_us8_pairs_float(_mm256_and_si256(v3, low), qy0), acc3);
        acc0 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 4),
                               mul_sum_us8_pairs_float(_mm256_and_si256(_mm256_srli_epi16(v0, 4), low), qy1), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 5),
                               mul_sum_us8_pairs_float(_mm256_and_si256(_mm256_srli_epi16(v1, 4), low), qy1), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 6),
                               mul_sum_us8_pairs_float(_mm256_and_si256(_mm256_srli_epi16(v2, 4), low), qy1), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 7),
                               mul_sum_us8_pairs_float(_mm256_and_si256(_mm256_srli_epi16(v3, 4), low), qy1), acc3);
    }
    if (i < nb) {  // odd block count: the last block of each row in GGUF's nibble order
        const __m128 d4 = _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)g));
        const __m128 m4 = _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(g + 8)));
        macc = _mm_fmadd_ps(m4, _mm_broadcast_ss(ys + i), macc);
        _mm_storeu_ps(sc, _mm_mul_ps(d4, _mm_loadu_ps(yd4 + 4 * i)));
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        acc0 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 0), mul_sum_us8_pairs_float(bytes_from_nibbles_32(g + 16), qy), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 1), mul_sum_us8_pairs_float(bytes_from_nibbles_32(g + 32), qy), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 2), mul_sum_us8_pairs_float(bytes_from_nibbles_32(g + 48), qy), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 3), mul_sum_us8_pairs_float(bytes_from_nibbles_32(g + 64), qy), acc3);
    }
    float m[4];
    _mm_storeu_ps(m, macc);
    out[0] = hsum_float_8(acc0) + m[0];
    out[1] = hsum_float_8(acc1) + m[1];
    out[2] = hsum_float_8(acc2) + m[2];
    out[3] = hsum_float_8(acc3) + m[3];
}

SKIFF_AVX2 static inline __attribute__((always_inline)) void dot4_q8_0x4_avx2(const uint8_t *g, const block_q8_0 *y, int64_t nb,
                                                                          float *out) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    float sc[4];
    for (int64_t i = 0; i < nb; i++, g += 136) {
        // 1.5 KB ahead (512 B had measured 12-13 GB/s per core from memory on one thread,
        // against 8.5-9 with whole groups prefetched; with the fused step on two threads
        // 1.5 KB gave about 4 % more tokens/s than 512 B).
        _mm_prefetch((const char *)g + 1536, _MM_HINT_T0);
        _mm_prefetch((const char *)g + 1536 + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)g + 1536 + 128, _MM_HINT_T0);
        _mm_storeu_ps(sc, _mm_mul_ps(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)g)), _mm_set1_ps(h2f(y[i].d))));
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        acc0 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 0), mul_sum_i8_pairs_float(_mm256_loadu_si256((const __m256i *)(g + 8)), qy), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 1), mul_sum_i8_pairs_float(_mm256_loadu_si256((const __m256i *)(g + 40)), qy), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 2), mul_sum_i8_pairs_float(_mm256_loadu_si256((const __m256i *)(g + 72)), qy), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + 3), mul_sum_i8_pairs_float(_mm256_loadu_si256((const __m256i *)(g + 104)), qy), acc3);
    }
    out[0] = hsum_float_8(acc0);
    out[1] = hsum_float_8(acc1);
    out[2] = hsum_float_8(acc2);
    out[3] = hsum_float_8(acc3);
}

// r0 and r1 are multiples of four (the packed matrices have whole groups only).
SKIFF_AVX2 static void rows_q4_1x4_avx2(const uint8_t *w, size_t wrow, const void *xq, int64_t nb, float *y,
                                        int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r += 4) {
        dot4_q4_1x4_avx2(w + (size_t)r * wrow, xq, nb, y + r);
    }
}
SKIFF_AVX2 static void rows_q8_0x4_avx2(const uint8_t *w, size_t wrow, const void *xq, int64_t nb, float *y,
                                        int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r += 4) {
        dot4_q8_0x4_avx2(w + (size_t)r * wrow, xq, nb, y + r);
    }
}

// Sixteen-row layouts (skiff_repack_x16) with AVX-512 VNNI, in ggml's rounding: a 512-bit
// register holds lane l (bytes 4l..4l+3 of a block, the eight int32 partial sums that
// ggml's maddubs/madd pair makes) for sixteen rows, and each lane keeps its own float
// accumulator per row, so every row sees exactly dot_q4_1_avx2's / dot_q4_0_avx2's /
// dot_q8_0_avx2's operations: the same integer lane sums (one VNNI instruction makes
// sixteen rows' lane sum), the same scale product d_w * d_a, the same fused multiply-add
// into the same lane, and the final horizontal sum in hsum_float_8's order, done across
// registers. The four-row kernels spent 8 conversions, 8 multiply-adds and 16 integer
// multiplies per row and block on one row at a time; here each of those instructions serves
// sixteen rows: 2x the cache-resident rate (104 against 51 GB/s of weights per CPU second on
// two threads), and from memory 34-61 against 35-37, 25-28 against 19 on one thread
// (tools/decoder_ceilings.c; memory rates move with the other tenants).
// No software prefetch: on the Zen 4 machine here the hardware prefetcher alone gave 9-11 %
// more generated tokens/s than prefetching 1, 4 or 8 KB ahead into L1 or L2 (median of 8
// alternating runs each, `skiff bench generate --threads 2`).

static inline int32_t load_i32(const void *p) { int32_t v; memcpy(&v, p, 4); return v; }

// ((a4 + a0) + (a6 + a2)) + ((a5 + a1) + (a7 + a3)): hsum_float_8 for sixteen rows at once.
SKIFF_AVX512 static inline __m512 hsum_lanes_x16(const __m512 *a) {
    return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a[4], a[0]), _mm512_add_ps(a[6], a[2])),
                         _mm512_add_ps(_mm512_add_ps(a[5], a[1]), _mm512_add_ps(a[7], a[3])));
}

SKIFF_AVX512 static void rows_q4_1x16_avx512(const uint8_t *w, size_t wrow, const void *xq, int64_t nb, float *y,
                                             int64_t r0, int64_t r1) {
    const block_q8_1 *a = xq;
    const float *ad4 = (const float *)((const uint8_t *)xq + (size_t)nb * sizeof(block_q8_1));  // quantize_act_q8_1
    const float *as = ad4 + 4 * nb;
    const __m512i low = _mm512_set1_epi8(0x0f);
    for (int64_t r = r0; r < r1; r += 16) {
        const uint8_t *g = w + (size_t)r * wrow;
        __m512 acc[8], macc = _mm512_setzero_ps();
        for (int l = 0; l < 8; l++) acc[l] = _mm512_setzero_ps();
        for (int64_t i = 0; i < nb; i++, g += 320) {
            const int8_t *q = a[i].qs;
            const __m512 dd = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)g)), _mm512_set1_ps(ad4[4 * i]));
            for (int k = 0; k < 4; k++) {
                const __m512i v = _mm512_loadu_si512(g + 64 + 64 * k);
                const __m512i lo = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(v, low),
                                                       _mm512_set1_epi32(load_i32(q + 4 * k)));
                const __m512i hi = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_and_si512(_mm512_srli_epi16(v, 4), low),
                                                       _mm512_set1_epi32(load_i32(q + 16 + 4 * k)));
                acc[k] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(lo), acc[k]);
                acc[k + 4] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(hi), acc[k + 4]);
            }
            macc = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(g + 32))), _mm512_set1_ps(as[i]), macc);
        }
        _mm512_storeu_ps(y + r, _mm512_add_ps(hsum_lanes_x16(acc), macc));
    }
}

// Q4_0: the nibbles are x + 8, so lane l is sum(nibble * a) - 8 * (lane l's activation sum);
// the subtraction is the VNNI accumulator's starting value (quantize_act_q8_0).
SKIFF_AVX512 static void rows_q4_0x16_avx512(const uint8_t *w, size_t wrow, const void *xq, int64_t nb, float *y,
                                             int64_t r0, int64_t r1) {
    const block_q8_0 *a = xq;
    const float *ad = (const float *)((const uint8_t *)xq + (size_t)nb * sizeof(block_q8_0));
    const int32_t *off8 = (const int32_t *)(ad + nb) + 8 * nb;
    const __m512i low = _mm512_set1_epi8(0x0f);
    for (int64_t r = r0; r < r1; r += 16) {
        const uint8_t *g = w + (size_t)r * wrow;
        __m512 acc[8];
        for (int l = 0; l < 8; l++) acc[l] = _mm512_setzero_ps();
        for (int64_t i = 0; i < nb; i++, g += 288) {
            const int8_t *q = a[i].qs;
            const int32_t *o = off8 + 8 * i;
            const __m512 dd = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)g)), _mm512_set1_ps(ad[i]));
            for (int k = 0; k < 4; k++) {
                const __m512i v = _mm512_loadu_si512(g + 32 + 64 * k);
                const __m512i lo = _mm512_dpbusd_epi32(_mm512_set1_epi32(o[k]), _mm512_and_si512(v, low),
                                                       _mm512_set1_epi32(load_i32(q + 4 * k)));
                const __m512i hi = _mm512_dpbusd_epi32(_mm512_set1_epi32(o[k + 4]), _mm512_and_si512(_mm512_srli_epi16(v, 4), low),
                                                       _mm512_set1_epi32(load_i32(q + 16 + 4 * k)));
                acc[k] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(lo), acc[k]);
                acc[k + 4] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(hi), acc[k + 4]);
            }
        }
        _mm512_storeu_ps(y + r, hsum_lanes_x16(acc));
    }
}

// Q8_0: the weights are stored as x + 128 (unsigned), so lane l is sum((x + 128) * a) - 128 *
// (lane l's activation sum), the subtraction again the accumulator's starting value.
SKIFF_AVX512 static void rows_q8_0x16_avx512(const uint8_t *w, size_t wrow, const void *xq, int64_t nb, float *y,
                                             int64_t r0, int64_t r1) {
    const block_q8_0 *a = xq;
    const float *ad = (const float *)((const uint8_t *)xq + (size_t)nb * sizeof(block_q8_0));
    const int32_t *off128 = (const int32_t *)(ad + nb);
    for (int64_t r = r0; r < r1; r += 16) {
        const uint8_t *g = w + (size_t)r * wrow;
        __m512 acc[8];
        for (int l = 0; l < 8; l++) acc[l] = _mm512_setzero_ps();
        for (int64_t i = 0; i < nb; i++, g += 544) {
            const int8_t *q = a[i].qs;
            const int32_t *o = off128 + 8 * i;
            const __m512 dd = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)g)), _mm512_set1_ps(ad[i]));
            for (int k = 0; k < 8; k++) {
                const __m512i s = _mm512_dpbusd_epi32(_mm512_set1_epi32(o[k]), _mm512_loadu_si512(g + 32 + 64 * k),
                                                      _mm512_set1_epi32(load_i32(q + 4 * k)));
                acc[k] = _mm512_fmadd_ps(dd, _mm512_cvtepi32_ps(s), acc[k]);
            }
        }
        _mm512_storeu_ps(y + r, hsum_lanes_x16(acc));
    }
}
#endif

typedef float (*dot_fn)(const void *w, const void *xq, int64_t nb);


static float dot_q4_0_any(const void *w, const void *x, int64_t nb) { return dot_q4_0_scalar(w, x, nb); }
static float dot_q4_1_any(const void *w, const void *x, int64_t nb) { return dot_q4_1_scalar(w, x, nb); }
static float dot_q8_0_any(const void *w, const void *x, int64_t nb) { return dot_q8_0_scalar(w, x, nb); }
#if SKIFF_X86
static float dot_q4_0_fast(const void *w, const void *x, int64_t nb) { return dot_q4_0_avx2(w, x, nb); }
static float dot_q4_1_fast(const void *w, const void *x, int64_t nb) { return dot_q4_1_avx2(w, x, nb); }
static float dot_q8_0_fast(const void *w, const void *x, int64_t nb) { return dot_q8_0_avx2(w, x, nb); }
#endif

// The row-range kernel for a type (GGUF or packed layout), or NULL where there is none
// (no AVX2): the products then call the dot product per row.
static rows_fn pick_rows(int type) {
#if SKIFF_X86
    if (use_avx512vnni) {
        if (type == SKIFF_TYPE_Q4_1_X16) return rows_q4_1x16_avx512;
        if (type == SKIFF_TYPE_Q4_0_X16) return rows_q4_0x16_avx512;
        if (type == SKIFF_TYPE_Q8_0_X16) return rows_q8_0x16_avx512;
    }
    if (use_avx2) {
        return type == SKIFF_TYPE_Q4_1 ? rows_q4_1_avx2
             : type == SKIFF_TYPE_Q8_0 ? rows_q8_0_avx2
             : type == SKIFF_TYPE_Q4_1_X4 ? rows_q4_1x4_avx2
             : type == SKIFF_TYPE_Q8_0_X4 ? rows_q8_0x4_avx2
             : type == SKIFF_TYPE_Q4_0 ? rows_q4_0_avx2 : NULL;
    }
#endif
    (void)type;
    return NULL;
}

// Chosen once per product, not per row: ~200k rows run per generated token.
static dot_fn pick_dot(int type) {
    switch (type) {
#if SKIFF_X86
    case SKIFF_TYPE_Q4_0: return use_avx2 ? dot_q4_0_fast : dot_q4_0_any;
    case SKIFF_TYPE_Q4_1: return use_avx2 ? dot_q4_1_fast : dot_q4_1_any;
    case SKIFF_TYPE_Q8_0: return use_avx2 ? dot_q8_0_fast : dot_q8_0_any;
#else
    case SKIFF_TYPE_Q4_0: return dot_q4_0_any;
    case SKIFF_TYPE_Q4_1: return dot_q4_1_any;
    case SKIFF_TYPE_Q8_0: return dot_q8_0_any;
#endif
    default: return NULL;
    }
}

#define MAX_GROUP 4

typedef struct {
    dot_fn dot;
    rows_fn rows_kernel;
    int count;
    const uint8_t *w[MAX_GROUP];
    float *y[MAX_GROUP];
    int64_t rows[MAX_GROUP];
    int64_t start[MAX_GROUP + 1];  // prefix sums of rows
    size_t wrow;
    const uint8_t *xq;
    size_t xrow;
    int64_t cols, batch;
    atomic_long next;
    int64_t chunk;
} matmul_ctx;

static void matmul_worker(void *vctx, int ith, int nth) {
    (void)ith;
    (void)nth;
    matmul_ctx *c = vctx;
    const int64_t total = c->start[c->count];
    const int64_t nb = c->cols / QK;
    for (;;) {
        const int64_t g0 = atomic_fetch_add(&c->next, c->chunk);
        if (g0 >= total) break;
        const int64_t g1 = g0 + c->chunk < total ? g0 + c->chunk : total;
        for (int m = 0; m < c->count; m++) {
            // The part of [g0, g1) inside matrix m.
            const int64_t lo = g0 > c->start[m] ? g0 : c->start[m];
            const int64_t hi = g1 < c->start[m + 1] ? g1 : c->start[m + 1];
            if (lo >= hi) continue;
            const int64_t r0 = lo - c->start[m], r1 = hi - c->start[m];
            for (int64_t b = 0; b < c->batch; b++) {
                const uint8_t *xq = c->xq + (size_t)b * c->xrow;
                float *yb = c->y[m] + b * c->rows[m];
                if (c->rows_kernel) {
                    c->rows_kernel(c->w[m], c->wrow, xq, nb, yb, r0, r1);
                } else {
                    for (int64_t r = r0; r < r1; r++) yb[r] = c->dot(c->w[m] + (size_t)r * c->wrow, xq, nb);
                }
            }
        }
    }
}

typedef struct {
    int type;
    const float *x;
    uint8_t *out;
    size_t xrow;
    int64_t cols, batch;
    atomic_long next;
} quantize_ctx;

static void quantize_worker(void *vctx, int ith, int nth) {
    (void)ith;
    (void)nth;
    quantize_ctx *c = vctx;
    for (;;) {
        const int64_t b = atomic_fetch_add(&c->next, 1);
        if (b >= c->batch) break;
        if (c->type == SKIFF_TYPE_Q4_1)
            quantize_act_q8_1(c->x + b * c->cols, c->out + (size_t)b * c->xrow, c->cols);
        else
            quantize_act_q8_0(c->x + b * c->cols, c->out + (size_t)b * c->xrow, c->cols);
    }
}

int skiff_matmul_group(skiff_pool *pool, int type, int count, const void *const *w, const int64_t *rows,
                       int64_t cols, const float *x, int64_t batch, float *const *y, void *scratch) {
    ensure_init();
    if (count < 1 || count > MAX_GROUP) return -1;
    if (type == SKIFF_TYPE_F32) {
        for (int m = 0; m < count; m++) {
            // Single rows go to gemv: a 1-row gemm is several times slower in OpenBLAS.
            if (!skiff_has_blas())
                plain_products(w[m], rows[m], cols, x, batch, y[m]);
            else if (batch == 1)
                blas_sgemv(SKIFF_CBLAS_ROW_MAJOR, SKIFF_CBLAS_NO_TRANS, (int)rows[m], (int)cols, 1.0f, w[m],
                           (int)cols, x, 1, 0.0f, y[m], 1);
            else
                blas_sgemm(SKIFF_CBLAS_ROW_MAJOR, SKIFF_CBLAS_NO_TRANS, SKIFF_CBLAS_TRANS, (int)batch,
                           (int)rows[m], (int)cols, 1.0f, x, (int)cols, w[m], (int)cols, 0.0f, y[m], (int)rows[m]);
        }
        return 0;
    }
    // Packed matrices exist only where their kernels do (skiff_repack_x4, skiff_repack_x16),
    // in whole groups of rows.
    const int base = unpacked_type(type);
    const int packed = base != type;
    const int64_t group = group_rows(type);
    const dot_fn dot = pick_dot(base);
    if (!dot || cols % QK != 0) return -1;
    if (packed) {
        if (!pick_rows(type)) return -1;
        for (int m = 0; m < count; m++) if (rows[m] % group != 0) return -1;
    }
    const size_t xrow = base == SKIFF_TYPE_Q4_1 ? q8_1_act_row_size(cols) : q8_0_act_row_size(cols);
    quantize_ctx q = {.type = base, .x = x, .out = scratch, .xrow = xrow, .cols = cols, .batch = batch};
    atomic_init(&q.next, 0);
    if (batch >= 4) pool_run(pool, quantize_worker, &q); else quantize_worker(&q, 0, 1);

    matmul_ctx ctx = {.dot = dot, .rows_kernel = pick_rows(type), .count = count, .wrow = skiff_row_size(base, cols), .xq = scratch,
                      .xrow = xrow, .cols = cols, .batch = batch};
    ctx.start[0] = 0;
    for (int m = 0; m < count; m++) {
        ctx.w[m] = w[m];
        ctx.y[m] = y[m];
        ctx.rows[m] = rows[m];
        ctx.start[m + 1] = ctx.start[m] + rows[m];
    }
    atomic_init(&ctx.next, 0);
    const int nth = skiff_pool_threads(pool);
    const int64_t chunk = ctx.start[count] / ((int64_t)nth * 8);
    const int64_t unit = group > 4 ? group : 4;
    ctx.chunk = chunk < unit ? unit : chunk / unit * unit;  // whole groups of rows
    pool_run(pool, matmul_worker, &ctx);
    return 0;
}

int skiff_matmul(skiff_pool *pool, int type, const void *w, int64_t rows, int64_t cols,
                 const float *x, int64_t batch, float *y, void *scratch) {
    return skiff_matmul_group(pool, type, 1, &w, &rows, cols, x, batch, &y, scratch);
}

// ---------------------------------------------------------------- norms, rope, mlp

void skiff_rmsnorm(const float *x, const float *weight, float *y, int64_t n, int64_t batch, float eps) {
    for (int64_t b = 0; b < batch; b++) {
        const float *xb = x + b * n;
        float *yb = y + b * n;
        double sum = 0.0;  // ggml accumulates the squares in double
        for (int64_t i = 0; i < n; i++) sum += (double)(xb[i] * xb[i]);
        const float mean = (float)(sum / (double)n);
        const float scale = 1.0f / sqrtf(mean + eps);
        for (int64_t i = 0; i < n; i++) yb[i] = (xb[i] * scale) * weight[i];
    }
}

// cos/sin of the d/2 rotation angles at `pos`. The angle is built by repeated
// multiplication, as ggml's rope cache does.
static void rope_angles(int64_t pos, int64_t head_dim, float base, float *cosv, float *sinv) {
    const float theta_scale = powf(base, -2.0f / (float)head_dim);
    float theta = (float)pos;
    for (int64_t i = 0; i < head_dim / 2; i++) {
        cosv[i] = cosf(theta);
        sinv[i] = sinf(theta);
        theta *= theta_scale;
    }
}

static inline void rope_head(float *v, int64_t head_dim, const float *cosv, const float *sinv, int neox) {
    for (int64_t i = 0; i < head_dim / 2; i++) {
        const int64_t i0 = neox ? i : 2 * i;
        const int64_t i1 = neox ? i + head_dim / 2 : 2 * i + 1;
        const float x0 = v[i0], x1 = v[i1];
        // Rounded as llama.cpp's compiled rope is (GCC contracts each expression
        // into one FMA; matched against its outputs): the x0 product is fused in both,
        // the x1 product is rounded first.
        const float t0 = x1 * sinv[i], t1 = x1 * cosv[i];
        v[i0] = fmaf(x0, cosv[i], -t0);
        v[i1] = fmaf(x0, sinv[i], t1);
    }
}

void skiff_rope(float *x, int64_t batch, int64_t heads, int64_t head_dim, const int32_t *positions,
                float base, int neox) {
    float *cosv = malloc(sizeof(float) * (size_t)head_dim);
    float *sinv = cosv ? malloc(sizeof(float) * (size_t)head_dim) : NULL;
    if (!sinv) { free(cosv); return; }
    for (int64_t b = 0; b < batch; b++) {
        rope_angles(positions[b], head_dim, base, cosv, sinv);
        for (int64_t h = 0; h < heads; h++) rope_head(x + (b * heads + h) * head_dim, head_dim, cosv, sinv, neox);
    }
    free(cosv);
    free(sinv);
}

void skiff_silu_mul(float *gate, const float *up, int64_t n) {
    ensure_init();
#if SKIFF_X86
    if (use_avx2) { silu_mul_avx2(gate, up, n); return; }
#endif
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i];
        gate[i] = (g / (1.0f + expf(-g))) * up[i];
    }
}

// ---------------------------------------------------------------- attention

typedef struct {
    const float *q, *k, *v;
    float *out, *scratch;
    int64_t batch, pos0, heads, kv_heads, head_dim, stride;
    float scale;
    atomic_long next;
} attn_ctx;

#define ROUND_UP(n, m) (((n) + (m) - 1) / (m) * (m))

// One (token, head) at a time, with llama.cpp's arithmetic for its non-flash attention
// (F32 cache): scores by dot_f32, scaled; softmax over lanes of 8 with the 8-lane exp
// and 1/sum applied as a float factor; each output element a dot_f32 of a row of the
// transposed V cache with the probabilities. Positions past the causal limit are zero
// probabilities, which leave every partial sum unchanged (llama.cpp pads its KV view
// to 256 cells the same way).
// Scores p[0..n) (their maximum maxv) to probabilities in llama.cpp's way: padded with
// -inf to a multiple of 8, 8-lane exp summed in double, 1/sum applied as a float factor,
// then zeros up to a multiple of 32 for the P.V sums.
static void softmax_probs(float *p, int64_t n, float maxv) {
    const int64_t n8 = ROUND_UP(n, 8), n32 = ROUND_UP(n, 32);
    for (int64_t j = n; j < n8; j++) p[j] = -INFINITY;
    const double sum = softmax_exp(p, p, n8, maxv);
    const float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < n8; j++) p[j] *= inv;
    for (int64_t j = n8; j < n32; j++) p[j] = 0.0f;
}

static void attend_head(const attn_ctx *c, int64_t t, int64_t h, float *p) {
    const int64_t d = c->head_dim;
    const int64_t group = c->heads / c->kv_heads;
    const int64_t kvh = h / group;
    const int64_t n = c->pos0 + t + 1;  // causal: positions 0...pos0+t
    const int64_t n32 = ROUND_UP(n, 32);
    const float *qv = c->q + (t * c->heads + h) * d;
    const float *kbase = c->k + kvh * c->stride * d;
    const float *vbase = c->v + kvh * d * c->stride;  // transposed: head_dim rows of `stride` positions
    float maxv = -INFINITY;
#if SKIFF_X86
    const int fast = use_avx2 && d % 32 == 0;
#else
    const int fast = 0;
#endif
    if (fast) {
#if SKIFF_X86
        maxv = scores_avx2(kbase, d, qv, n, c->scale, p);
#endif
    } else {
        for (int64_t j = 0; j < n; j++) {
            const float s = dot_f32(kbase + j * d, qv, d) * c->scale;
            p[j] = s;
            if (s > maxv) maxv = s;
        }
    }
    softmax_probs(p, n, maxv);
    float *o = c->out + (t * c->heads + h) * d;
    if (fast) {
#if SKIFF_X86
        pv_avx2(vbase, c->stride, p, n32, d, o);
#endif
    } else {
        for (int64_t i = 0; i < d; i++) o[i] = dot_f32(vbase + i * c->stride, p, n32);
    }
}

// The decoding step's attention in two parts, so that two threads share three KV
// groups evenly: the scores and softmax of all heads of one KV group (probabilities to
// `p`, one row of round_up(n, 32) per head), then P.V for a range of V rows of a group.
// Each head's arithmetic is attend_head's in its order, but the loops run over positions
// and V rows on the outside and the group's heads inside, so each K row and V row comes
// from memory once for the group instead of once per head.
static void group_scores(const attn_ctx *c, int64_t kvh, float *p) {
    const int64_t d = c->head_dim, group = c->heads / c->kv_heads;
    const int64_t n = c->pos0 + 1;
    const int64_t n32 = ROUND_UP(n, 32);
    const float *kbase = c->k + kvh * c->stride * d;
#if SKIFF_X86
    const int fast = use_avx2 && d % 32 == 0;
#else
    const int fast = 0;
#endif
    float maxv[64];  // group <= 64 (skiff_decode_supported)
    for (int64_t g = 0; g < group; g++) maxv[g] = -INFINITY;
    // 32 positions (8 KB of K at head_dim 64) at a time for every head of the group.
    for (int64_t j0 = 0; j0 < n; j0 += 32) {
        const int64_t j1 = j0 + 32 < n ? j0 + 32 : n;
        for (int64_t g = 0; g < group; g++) {
            const float *qv = c->q + (kvh * group + g) * d;
            float *pg = p + (kvh * group + g) * n32;
            float m = -INFINITY;
            if (fast) {
#if SKIFF_X86
                m = scores_avx2(kbase + j0 * d, d, qv, j1 - j0, c->scale, pg + j0);
#endif
            } else {
                for (int64_t j = j0; j < j1; j++) {
                    const float sc = dot_f32(kbase + j * d, qv, d) * c->scale;
                    pg[j] = sc;
                    if (sc > m) m = sc;
                }
            }
            if (m > maxv[g]) maxv[g] = m;
        }
    }
    for (int64_t g = 0; g < group; g++) softmax_probs(p + (kvh * group + g) * n32, n, maxv[g]);
}

#if SKIFF_X86
SKIFF_AVX2 static void group_pv_avx2(const attn_ctx *c, int64_t kvh, int64_t r0, int64_t r1, const float *p) {
    const int64_t d = c->head_dim, group = c->heads / c->kv_heads;
    const int64_t n32 = ROUND_UP(c->pos0 + 1, 32);
    const float *vbase = c->v + kvh * d * c->stride;
    int64_t i = r0;
    for (; i + 1 < r1; i += 2) {
        for (int64_t g = 0; g < group; g++) {
            float *o = c->out + (kvh * group + g) * d;
            dot2_f32_avx2(vbase + i * c->stride, vbase + (i + 1) * c->stride, p + (kvh * group + g) * n32, n32,
                          o + i, o + i + 1);
        }
    }
    for (; i < r1; i++) {
        for (int64_t g = 0; g < group; g++) {
            c->out[(kvh * group + g) * d + i] = dot_f32_avx2(vbase + i * c->stride, p + (kvh * group + g) * n32, n32);
        }
    }
}
#endif

// Rows r0..r1 of P.V for every head of group kvh (p as group_scores wrote it).
static void group_pv(const attn_ctx *c, int64_t kvh, int64_t r0, int64_t r1, const float *p) {
#if SKIFF_X86
    if (use_avx2 && c->head_dim % 32 == 0) { group_pv_avx2(c, kvh, r0, r1, p); return; }
#endif
    const int64_t d = c->head_dim, group = c->heads / c->kv_heads;
    const int64_t n32 = ROUND_UP(c->pos0 + 1, 32);
    const float *vbase = c->v + kvh * d * c->stride;
    for (int64_t i = r0; i < r1; i++)
        for (int64_t g = 0; g < group; g++)
            c->out[(kvh * group + g) * d + i] = dot_f32(vbase + i * c->stride, p + (kvh * group + g) * n32, n32);
}

static void attention_worker(void *vctx, int ith, int nth) {
    (void)nth;
    attn_ctx *c = vctx;
    float *p = c->scratch + (size_t)ith * (size_t)ROUND_UP(c->pos0 + c->batch, 32);
    const int64_t tasks = c->batch * c->heads;
    for (;;) {
        const int64_t task = atomic_fetch_add(&c->next, 1);
        if (task >= tasks) break;
        attend_head(c, task / c->heads, task % c->heads, p);
    }
}

void skiff_attention(skiff_pool *pool, const float *q, const float *kcache, const float *vcache,
                     float *out, int64_t batch, int64_t pos0, int64_t heads, int64_t kv_heads,
                     int64_t head_dim, int64_t stride, float scale, float *scratch) {
    ensure_init();
    attn_ctx ctx = {
        .q = q, .k = kcache, .v = vcache, .out = out, .scratch = scratch, .batch = batch,
        .pos0 = pos0, .heads = heads, .kv_heads = kv_heads, .head_dim = head_dim,
        .stride = stride, .scale = scale,
    };
    atomic_init(&ctx.next, 0);
    if (batch * heads == 1) attention_worker(&ctx, 0, 1); else pool_run(pool, attention_worker, &ctx);
}

// ---------------------------------------------------------------- one decoding step

// A generated token runs ~150 small products, and between them norms, RoPE, the cache
// writes, SiLU and residual adds that the per-operation path ran on the calling thread
// alone while the other cores waited for the next job. Here the whole token is one pool
// job: a list of phases (per block: QKV with bias, RoPE and cache writes in the epilogue;
// attention scores and softmax by KV group; P.V by blocks of V rows; output projection
// with the residual add; gate and up with SiLU; down with the residual add; then the
// logits), each split into items (heads or rows) claimed from an atomic counter. A phase
// starts once every item of the previous one is done, so a thread that joins late (or
// never) only changes who does the work, never the result:
// the per-thread preparation of a phase's input (RMSNorm, activation quantization) is
// the same computation on every thread. Every value is computed by the same kernels in
// the same order as the per-operation path, so the logits are the same bits.

enum { PH_QKV, PH_ATTN, PH_PV, PH_O, PH_FFN_UP, PH_DOWN, PH_PER_BLOCK };

typedef struct {
    _Alignas(64) atomic_long next;  // items claimed
    atomic_long done;               // items finished
    char pad[64 - 2 * sizeof(atomic_long)];
} phase_state;

typedef struct {
    rows_fn rows_kernel;
    dot_fn dot;
    int act;  // activation format: SKIFF_TYPE_Q8_0 or SKIFF_TYPE_Q8_1
    size_t wrow;
} mat_kernel;

typedef struct {
    const skiff_decoder *m;
    float *x;      // the hidden state, updated
    float *logits;
    int64_t pos;
    int threads;
    int64_t phases;
    phase_state *state;
    // shared buffers
    float *q, *k, *v, *attn, *proj, *gate, *up;
    float *probs;  // attention probabilities: heads x round_up(pos + 1, 32)
    // per thread: normalized input, its two quantized forms, RoPE angles
    uint8_t *per_thread;
    size_t per_thread_bytes;
} decode_ctx;

static int act_format(int type) {
    return unpacked_type(type) == SKIFF_TYPE_Q4_1 ? SKIFF_TYPE_Q8_1 : SKIFF_TYPE_Q8_0;
}

static int pick_kernel(const skiff_matrix *w, int64_t cols, mat_kernel *k) {
    const int base = unpacked_type(w->type);
    if (base != SKIFF_TYPE_Q4_0 && base != SKIFF_TYPE_Q4_1 && base != SKIFF_TYPE_Q8_0) return -1;
    if (cols % QK != 0 || !w->data) return -1;
    k->dot = pick_dot(base);
    k->rows_kernel = pick_rows(w->type);
    k->act = act_format(w->type);
    k->wrow = skiff_row_size(base, cols);
    if (base != w->type && (!k->rows_kernel || w->rows % group_rows(w->type) != 0)) return -1;
    return k->dot ? 0 : -1;
}

static inline void run_rows(const skiff_matrix *w, int64_t cols, const uint8_t *xq8_0, const uint8_t *xq8_1,
                            float *y, int64_t r0, int64_t r1) {
    mat_kernel k;
    if (pick_kernel(w, cols, &k) != 0) return;  // checked by skiff_decode_supported
    const uint8_t *xq = k.act == SKIFF_TYPE_Q8_1 ? xq8_1 : xq8_0;
    const int64_t nb = cols / QK;
    if (k.rows_kernel) {
        k.rows_kernel(w->data, k.wrow, xq, nb, y, r0, r1);
    } else {
        for (int64_t r = r0; r < r1; r++) y[r] = k.dot((const uint8_t *)w->data + (size_t)r * k.wrow, xq, nb);
    }
}

int skiff_decode_supported(const skiff_decoder *m) {
    ensure_init();
    if (!m || m->layers < 1 || !m->blocks || m->heads < 1 || m->kv_heads < 1 || m->heads % m->kv_heads != 0) return 0;
    if (m->heads / m->kv_heads > 64) return 0;
    if (m->head_dim % 8 != 0 || m->hidden % QK != 0 || m->ffn % QK != 0) return 0;
    const int64_t q_dim = m->heads * m->head_dim, kv_dim = m->kv_heads * m->head_dim;
    mat_kernel k;
    for (int64_t l = 0; l < m->layers; l++) {
        const skiff_block *b = &m->blocks[l];
        if (!b->attn_norm || !b->ffn_norm || !b->kcache || !b->vcache) return 0;
        if (b->q.rows != q_dim || b->k.rows != kv_dim || b->v.rows != kv_dim || b->o.rows != m->hidden ||
            b->gate.rows != m->ffn || b->up.rows != m->ffn || b->down.rows != m->hidden) return 0;
        const skiff_matrix *in_hidden[] = {&b->q, &b->k, &b->v, &b->gate, &b->up};
        for (int i = 0; i < 5; i++) if (pick_kernel(in_hidden[i], m->hidden, &k) != 0) return 0;
        if (pick_kernel(&b->o, q_dim, &k) != 0 || pick_kernel(&b->down, m->ffn, &k) != 0) return 0;
        if (q_dim % QK != 0) return 0;
        // Q, K and V are claimed a head at a time: whole groups of rows per head.
        if (m->head_dim % group_rows(b->q.type) || m->head_dim % group_rows(b->k.type) ||
            m->head_dim % group_rows(b->v.type)) return 0;
    }
    if (!m->output_norm || m->output.rows != m->vocab || pick_kernel(&m->output, m->hidden, &k) != 0) return 0;
    return 1;
}

static size_t align64(size_t n) { return (n + 63) / 64 * 64; }

typedef struct {
    float *xn;
    uint8_t *q8_0, *q8_1;
    float *cosv, *sinv;
} thread_bufs;

// One thread's buffers at offsets from `base` (sized for the widest input: hidden, ffn or
// q_dim); returns their size. With base NULL it only measures.
static size_t thread_layout(const skiff_decoder *m, uint8_t *base, thread_bufs *t) {
    const int64_t q_dim = m->heads * m->head_dim;
    int64_t in_max = m->ffn > m->hidden ? m->ffn : m->hidden;
    if (q_dim > in_max) in_max = q_dim;
    const size_t xn = 0;
    const size_t q8_0 = xn + align64(sizeof(float) * (size_t)in_max);
    const size_t q8_1 = q8_0 + align64(q8_0_act_row_size(in_max));
    const size_t cosv = q8_1 + align64(q8_1_act_row_size(in_max));
    const size_t sinv = cosv + align64(sizeof(float) * (size_t)m->head_dim);
    const size_t end = sinv + align64(sizeof(float) * (size_t)m->head_dim);
    if (base) {
        t->xn = (float *)(base + xn);
        t->q8_0 = base + q8_0;
        t->q8_1 = base + q8_1;
        t->cosv = (float *)(base + cosv);
        t->sinv = (float *)(base + sinv);
    }
    return end;
}

// The scratch of one token at positions < capacity: phase counters, shared buffers,
// attention probabilities, then each thread's buffers. Fills `c` when base is not NULL;
// returns the bytes needed (with 64 of slack for aligning base).
static size_t decode_layout(const skiff_decoder *m, int threads, int64_t capacity, uint8_t *base, decode_ctx *c) {
    const int64_t q_dim = m->heads * m->head_dim, kv_dim = m->kv_heads * m->head_dim;
    const int64_t phases = m->layers * PH_PER_BLOCK + 1;
    const size_t state = 0;
    const size_t shared = state + sizeof(phase_state) * (size_t)phases;
    const size_t probs = shared + align64(sizeof(float) * (size_t)(2 * q_dim + 2 * kv_dim + m->hidden + 2 * m->ffn));
    const size_t per_thread = probs + align64(sizeof(float) * (size_t)m->heads * (size_t)ROUND_UP(capacity, 32));
    const size_t per_thread_bytes = thread_layout(m, NULL, NULL);
    if (base) {
        c->phases = phases;
        c->state = (phase_state *)(base + state);
        float *f = (float *)(base + shared);
        c->q = f; f += q_dim;
        c->k = f; f += kv_dim;
        c->v = f; f += kv_dim;
        c->attn = f; f += q_dim;
        c->proj = f; f += m->hidden;
        c->gate = f; f += m->ffn;
        c->up = f;
        c->probs = (float *)(base + probs);
        c->per_thread = base + per_thread;
        c->per_thread_bytes = per_thread_bytes;
    }
    return 64 + per_thread + (size_t)(threads < 1 ? 1 : threads) * per_thread_bytes;
}

size_t skiff_decode_scratch_size(const skiff_decoder *m, int threads, int64_t capacity) {
    return decode_layout(m, threads, capacity, NULL, NULL);
}

// Quantizes `n` floats into the activation formats `need` asks for (bit 0: Q8_0, bit 1: Q8_1).
static void quantize_input(const float *x, int64_t n, int need, thread_bufs *t) {
    if (need & 1) quantize_act_q8_0(x, t->q8_0, n);
    if (need & 2) quantize_act_q8_1(x, t->q8_1, n);
}

static inline int need_of(const skiff_matrix *w) { return act_format(w->type) == SKIFF_TYPE_Q8_1 ? 2 : 1; }

// Items of phase g: heads for QKV and attention, rows for the products after them.
static int64_t phase_items(const decode_ctx *c, int64_t g) {
    const skiff_decoder *m = c->m;
    if (g == c->phases - 1) return m->vocab;
    switch (g % PH_PER_BLOCK) {
    case PH_QKV: return m->heads + 2 * m->kv_heads;
    case PH_ATTN: return m->kv_heads;
    case PH_PV: return m->kv_heads * (m->head_dim / 8);  // blocks of 8 V rows
    case PH_FFN_UP: return m->ffn;
    default: return m->hidden;  // PH_O, PH_DOWN
    }
}

// Smallest claim: one head, or rows in multiples of 8 (whole 4-row groups and SiLU's
// 8-lane steps, so each row's arithmetic does not depend on where a claim ends).
static int64_t phase_grain(const decode_ctx *c, int64_t g) {
    if (g == c->phases - 1) return 64;
    switch (g % PH_PER_BLOCK) {
    case PH_QKV:
    case PH_ATTN:
    case PH_PV: return 1;
    default: return 16;
    }
}

// Guided claims: what is left divided by the threads, shrinking toward the grain, so
// that the threads finish a phase close together (waiting for the last claim was 13 % of
// the cycles with fixed chunks) with few, long streams: each claim restarts the weight
// stream and its prefetch, and on two threads a first share of 1/2 gave 12 % more
// generated tokens/s than 1/4, which gave 8 % more than 1/6 (alternating runs).
static inline int64_t claim(phase_state *s, int64_t total, int64_t grain, int threads, int64_t *end) {
    int64_t cur = atomic_load_explicit(&s->next, memory_order_relaxed);
    for (;;) {
        if (cur >= total) return -1;
        const int64_t left = total - cur;
        int64_t n = left / (int64_t)threads / grain * grain;
        if (n < grain) n = grain;
        if (n > left) n = left;
        if (atomic_compare_exchange_weak_explicit(&s->next, &cur, cur + n, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *end = cur + n;
            return cur;
        }
    }
}

static void run_items(decode_ctx *c, int64_t g, int64_t i0, int64_t i1, thread_bufs *t) {
    const skiff_decoder *m = c->m;
    const int64_t d = m->head_dim, q_dim = m->heads * d;
    if (g == c->phases - 1) {
        run_rows(&m->output, m->hidden, t->q8_0, t->q8_1, c->logits, i0, i1);
        return;
    }
    const skiff_block *b = &m->blocks[g / PH_PER_BLOCK];
    switch (g % PH_PER_BLOCK) {
    case PH_QKV:
        // A head of Q, K or V at a time: product, bias, RoPE, and for K and V the cache write.
        for (int64_t u = i0; u < i1; u++) {
            if (u < m->heads) {
                float *y = c->q + u * d;
                run_rows(&b->q, m->hidden, t->q8_0, t->q8_1, c->q, u * d, (u + 1) * d);
                if (b->q_bias) for (int64_t i = 0; i < d; i++) y[i] += b->q_bias[u * d + i];
                rope_head(y, d, t->cosv, t->sinv, m->neox);
            } else if (u < m->heads + m->kv_heads) {
                const int64_t h = u - m->heads;
                float *y = c->k + h * d;
                run_rows(&b->k, m->hidden, t->q8_0, t->q8_1, c->k, h * d, (h + 1) * d);
                if (b->k_bias) for (int64_t i = 0; i < d; i++) y[i] += b->k_bias[h * d + i];
                rope_head(y, d, t->cosv, t->sinv, m->neox);
                memcpy(b->kcache + (h * m->stride + c->pos) * d, y, sizeof(float) * (size_t)d);
            } else {
                const int64_t h = u - m->heads - m->kv_heads;
                float *y = c->v + h * d;
                run_rows(&b->v, m->hidden, t->q8_0, t->q8_1, c->v, h * d, (h + 1) * d);
                if (b->v_bias) for (int64_t i = 0; i < d; i++) y[i] += b->v_bias[h * d + i];
                float *vt = b->vcache + h * d * m->stride + c->pos;
                for (int64_t i = 0; i < d; i++) vt[i * m->stride] = y[i];
            }
        }
        return;
    case PH_ATTN:
    case PH_PV: {
        attn_ctx a = {
            .q = c->q, .k = b->kcache, .v = b->vcache, .out = c->attn, .scratch = NULL, .batch = 1,
            .pos0 = c->pos, .heads = m->heads, .kv_heads = m->kv_heads, .head_dim = d,
            .stride = m->stride, .scale = m->attn_scale,
        };
        if (g % PH_PER_BLOCK == PH_ATTN) {
            for (int64_t h = i0; h < i1; h++) group_scores(&a, h, c->probs);
        } else {
            // Items are blocks of 8 rows of one group's V; a claim may span groups.
            const int64_t per_group = d / 8;
            for (int64_t u = i0; u < i1;) {
                const int64_t kvh = u / per_group, end = (kvh + 1) * per_group < i1 ? (kvh + 1) * per_group : i1;
                group_pv(&a, kvh, (u - kvh * per_group) * 8, (end - kvh * per_group) * 8, c->probs);
                u = end;
            }
        }
        return;
    }
    case PH_O:
        run_rows(&b->o, q_dim, t->q8_0, t->q8_1, c->proj, i0, i1);
        for (int64_t r = i0; r < i1; r++) c->x[r] += c->proj[r];
        return;
    case PH_FFN_UP:
        run_rows(&b->gate, m->hidden, t->q8_0, t->q8_1, c->gate, i0, i1);
        run_rows(&b->up, m->hidden, t->q8_0, t->q8_1, c->up, i0, i1);
        skiff_silu_mul(c->gate + i0, c->up + i0, i1 - i0);
        return;
    default:
        run_rows(&b->down, m->ffn, t->q8_0, t->q8_1, c->proj, i0, i1);
        for (int64_t r = i0; r < i1; r++) c->x[r] += c->proj[r];
        return;
    }
}

// The phase's input, prepared by each thread that takes part in it.
static void prepare_phase(decode_ctx *c, int64_t g, thread_bufs *t) {
    const skiff_decoder *m = c->m;
    if (g == c->phases - 1) {
        skiff_rmsnorm(c->x, m->output_norm, t->xn, m->hidden, 1, m->eps);
        quantize_input(t->xn, m->hidden, need_of(&m->output), t);
        return;
    }
    const skiff_block *b = &m->blocks[g / PH_PER_BLOCK];
    switch (g % PH_PER_BLOCK) {
    case PH_QKV:
        skiff_rmsnorm(c->x, b->attn_norm, t->xn, m->hidden, 1, m->eps);
        quantize_input(t->xn, m->hidden, need_of(&b->q) | need_of(&b->k) | need_of(&b->v), t);
        return;
    case PH_ATTN:
    case PH_PV: return;
    case PH_O: quantize_input(c->attn, m->heads * m->head_dim, need_of(&b->o), t); return;
    case PH_FFN_UP:
        skiff_rmsnorm(c->x, b->ffn_norm, t->xn, m->hidden, 1, m->eps);
        quantize_input(t->xn, m->hidden, need_of(&b->gate) | need_of(&b->up), t);
        return;
    default: quantize_input(c->gate, m->ffn, need_of(&b->down), t); return;
    }
}

static void decode_worker(void *vctx, int ith, int nth) {
    (void)nth;
    decode_ctx *c = vctx;
    thread_bufs t;
    thread_layout(c->m, c->per_thread + (size_t)ith * c->per_thread_bytes, &t);
    rope_angles(c->pos, c->m->head_dim, c->m->rope_base, t.cosv, t.sinv);  // one position for every block
    int64_t prev_items = 0;
    for (int64_t g = 0; g < c->phases; g++) {
        const int64_t items = phase_items(c, g), grain = phase_grain(c, g);
        phase_state *s = &c->state[g];
        if (atomic_load_explicit(&s->next, memory_order_relaxed) < items) {
            if (g > 0) {
                phase_state *prev = &c->state[g - 1];
                int spins = 0;
                while (atomic_load_explicit(&prev->done, memory_order_acquire) < prev_items) {
                    if (++spins < 20000) cpu_relax(); else { sched_yield(); spins = 0; }
                }
            }
            prepare_phase(c, g, &t);
            int64_t finished = 0, end = 0;
            for (int64_t i0; (i0 = claim(s, items, grain, c->threads, &end)) >= 0;) {
                run_items(c, g, i0, end, &t);
                finished += end - i0;
            }
            if (finished) atomic_fetch_add_explicit(&s->done, finished, memory_order_release);
        }
        prev_items = items;
    }
}

int skiff_decode_token(skiff_pool *pool, const skiff_decoder *m, float *x, int64_t pos, float *logits,
                       void *scratch, size_t scratch_bytes) {
    ensure_init();
    if (!skiff_decode_supported(m) || pos < 0 || pos >= m->stride) return -1;
    const int threads = skiff_pool_threads(pool);
    if (scratch_bytes < skiff_decode_scratch_size(m, threads, pos + 1)) return -1;
    decode_ctx c = {.m = m, .x = x, .logits = logits, .pos = pos, .threads = threads};
    decode_layout(m, threads, pos + 1, (uint8_t *)(((uintptr_t)scratch + 63) / 64 * 64), &c);
    for (int64_t g = 0; g < c.phases; g++) {
        atomic_init(&c.state[g].next, 0);
        atomic_init(&c.state[g].done, 0);
    }
    pool_run(pool, decode_worker, &c);
    return 0;
}

// ---------------------------------------------------------------- weight memory

// Anonymous memory aligned to 2 MB and offered to the kernel for transparent huge pages.
// A token reads ~100 MB of weights: in 4 KB pages that is ~24,000 TLB misses per token,
// and neither the hardware prefetcher nor a missed translation's prefetch crosses a page.
void *skiff_weight_alloc(size_t bytes, size_t *mapped) {
    const size_t huge = (size_t)2 << 20;
    const size_t size = (bytes + huge - 1) / huge * huge;
    uint8_t *raw = mmap(NULL, size + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    uint8_t *aligned = (uint8_t *)(((uintptr_t)raw + huge - 1) / huge * huge);
    if (aligned > raw) munmap(raw, (size_t)(aligned - raw));
    const size_t tail = (size_t)(raw + size + huge - (aligned + size));
    if (tail) munmap(aligned + size, tail);
#ifdef MADV_HUGEPAGE
    madvise(aligned, size, MADV_HUGEPAGE);  // advice only: without THP the pages stay 4 KB
#endif
    *mapped = size;
    return aligned;
}

void skiff_weight_free(void *p, size_t mapped) {
    if (p) munmap(p, mapped);
}
