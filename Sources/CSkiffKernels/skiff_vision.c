// See skiff_vision.h.
#include "skiff_vision.h"
#include "skiff_kernels.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SV_X86 1
#define SV_AVX2 __attribute__((target("avx2,fma")))
#else
#define SV_X86 0
#endif

// ---------------------------------------------------------------- OpenBLAS (dlopen on first use)
//
// Opened here rather than through skiff_kernels.c's loader so the two files stay
// independent; dlopen of an already loaded library returns the same handle.
enum { SV_ROW_MAJOR = 101, SV_NO_TRANS = 111, SV_TRANS = 112 };
typedef void (*sv_sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                            float *, int);
static sv_sgemm_fn sv_sgemm = NULL;
static void (*sv_set_threads)(int) = NULL;
static char *(*sv_corename)(void) = NULL;
static pthread_once_t sv_once = PTHREAD_ONCE_INIT;
static int sv_avx2 = 0;

static void sv_init(void) {
#if SV_X86
    __builtin_cpu_init();
    sv_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (getenv("SKIFF_NO_AVX2")) sv_avx2 = 0;
#endif
    skiff_blas_prefer_avx512();
    // OpenBLAS workers spin (sched_yield) for 2^28 cycles after each product; between the
    // convolutions that spinning took ~25 % of the cycles of a PP-OCR page and starved our own
    // depthwise/epilogue threads on 2 cores. 2^4 makes them sleep at once (read at library init,
    // so it only applies when this loader opens OpenBLAS first; an explicit setting wins).
    setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0);
    static const char *const names[] = {"libopenblas.so.0", "libopenblas.so", "libopenblas.0.dylib",
                                        "libopenblas.dylib", "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
                                        "/usr/local/opt/openblas/lib/libopenblas.dylib"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!handle) continue;
        sv_sgemm_fn g = (sv_sgemm_fn)dlsym(handle, "cblas_sgemm");
        if (g) {
            sv_sgemm = g;
            sv_set_threads = (void (*)(int))dlsym(handle, "openblas_set_num_threads");
            sv_corename = (char *(*)(void))dlsym(handle, "openblas_get_corename");
            return;
        }
        dlclose(handle);
    }
    fprintf(stderr, "skiff: OpenBLAS not found (libopenblas.so.0); vision products use plain loops\n");
}

static inline void sv_ensure(void) { pthread_once(&sv_once, sv_init); }

int skiff_vision_has_blas(void) {
    sv_ensure();
    return sv_sgemm != NULL;
}

void skiff_vision_set_blas_threads(int threads) {
    sv_ensure();
    if (sv_set_threads) sv_set_threads(threads < 1 ? 1 : threads);
}

const char *skiff_vision_blas_core(void) {
    sv_ensure();
    if (!sv_sgemm) return "none";
    return sv_corename ? sv_corename() : "unknown";
}

void skiff_sgemm_nt(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                    const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    sv_ensure();
    if (m <= 0 || n <= 0) return;
    if (sv_sgemm) {
        sv_sgemm(SV_ROW_MAJOR, SV_NO_TRANS, SV_TRANS, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, c,
                 (int)ldc);
        return;
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float s = 0.0f;
            for (int64_t t = 0; t < k; t++) s += a[i * lda + t] * b[j * ldb + t];
            c[i * ldc + j] = alpha * s + (beta == 0.0f ? 0.0f : beta * c[i * ldc + j]);
        }
}

void skiff_sgemm_nn(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                    const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    sv_ensure();
    if (m <= 0 || n <= 0) return;
    if (sv_sgemm) {
        sv_sgemm(SV_ROW_MAJOR, SV_NO_TRANS, SV_NO_TRANS, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta,
                 c, (int)ldc);
        return;
    }
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        for (int64_t t = 0; t < k; t++) {
            const float av = alpha * a[i * lda + t];
            for (int64_t j = 0; j < n; j++) c[i * ldc + j] += av * b[t * ldb + j];
        }
    }
}

// ---------------------------------------------------------------- parallel loops

typedef void (*sv_range_fn)(void *ctx, int64_t begin, int64_t end);
typedef struct { sv_range_fn fn; void *ctx; int64_t begin, end; } sv_job;

static void *sv_thread_main(void *arg) {
    sv_job *job = arg;
    job->fn(job->ctx, job->begin, job->end);
    return NULL;
}

// Splits [0, count) into `threads` contiguous ranges; the caller runs the first.
// Small jobs (fewer than `grain` items per thread) run on the calling thread.
static void sv_parallel(int64_t count, int threads, int64_t grain, sv_range_fn fn, void *ctx) {
    if (threads > 16) threads = 16;
    if (threads < 1 || count < grain * 2) threads = 1;
    if (threads > 1 && count / threads < grain) threads = (int)(count / grain);
    if (threads <= 1) {
        fn(ctx, 0, count);
        return;
    }
    sv_job jobs[16];
    pthread_t ids[16];
    int started[16] = {0};
    for (int t = 0; t < threads; t++) {
        jobs[t] = (sv_job){fn, ctx, count * t / threads, count * (t + 1) / threads};
    }
    for (int t = 1; t < threads; t++) started[t] = pthread_create(&ids[t], NULL, sv_thread_main, &jobs[t]) == 0;
    fn(ctx, jobs[0].begin, jobs[0].end);
    for (int t = 1; t < threads; t++) {
        if (started[t]) pthread_join(ids[t], NULL);
        else fn(ctx, jobs[t].begin, jobs[t].end);  // could not start a thread: do its share here
    }
}

// Like sv_parallel, but every range also knows its slice number (for per-thread scratch),
// through a thread-local set before the range runs.
static _Thread_local int64_t sv_slice = 0;

typedef struct { sv_range_fn fn; void *ctx; int64_t begin, end, slice; } sv_slice_job;

static void *sv_slice_main(void *arg) {
    sv_slice_job *job = arg;
    sv_slice = job->slice;
    job->fn(job->ctx, job->begin, job->end);
    return NULL;
}

static void sv_parallel_slices(int64_t count, int threads, sv_range_fn fn, void *ctx) {
    if (threads > 16) threads = 16;
    sv_slice_job jobs[16];
    pthread_t ids[16];
    int started[16] = {0};
    for (int t = 0; t < threads; t++) jobs[t] = (sv_slice_job){fn, ctx, count * t / threads, count * (t + 1) / threads, t};
    for (int t = 1; t < threads; t++) started[t] = pthread_create(&ids[t], NULL, sv_slice_main, &jobs[t]) == 0;
    sv_slice = 0;
    fn(ctx, jobs[0].begin, jobs[0].end);
    for (int t = 1; t < threads; t++) {
        if (started[t]) {
            pthread_join(ids[t], NULL);
        } else {  // no thread: run its share here, with its own slice
            sv_slice = t;
            fn(ctx, jobs[t].begin, jobs[t].end);
            sv_slice = 0;
        }
    }
}

// ---------------------------------------------------------------- exp and erf

// Cephes expf: x = n ln2 + r, |r| <= ln2/2, degree-5 polynomial for e^r (about 1 ulp).
// Inputs clamp to [EXP_LO, 88]: 2^n then stays a normal float (n in [-126, 127]).
static const float EXP_HI = 88.0f, EXP_LO = -87.3365478515625f;
static const float EXP_C1 = 0.693359375f, EXP_C2 = -2.12194440e-4f;
static const float EXP_P[6] = {1.9875691500E-4f, 1.3981999507E-3f, 8.3334519073E-3f,
                               4.1665795894E-2f, 1.6666665459E-1f, 5.0000001201E-1f};

float skiff_exp_approx(float x) {
    if (x > EXP_HI) x = EXP_HI;
    if (x < EXP_LO) return 0.0f;
    float fx = floorf(x * 1.44269504088896341f + 0.5f);
    float r = fmaf(fx, -EXP_C1, x);
    r = fmaf(fx, -EXP_C2, r);
    float y = EXP_P[0];
    for (int i = 1; i < 6; i++) y = fmaf(y, r, EXP_P[i]);
    y = fmaf(y, r * r, r + 1.0f);
    return ldexpf(y, (int)fx);
}

// erf as a rational function on [-4, 4] (odd degree-13 numerator over even degree-8
// denominator; outside, erf is +-1 in single precision). Max error about 2e-7 against
// the double-precision erf, checked by the SkiffVision tests.
static const float ERF_A[7] = {-2.72614225801306e-10f, 2.77068142495902e-08f, -2.10102402082508e-06f,
                               -5.69250639462346e-05f, -7.34990630326855e-04f, -2.95459980854025e-03f,
                               -1.60960333262415e-02f};
static const float ERF_B[5] = {-1.45660718464996e-05f, -2.13374055278905e-04f, -1.68282697438203e-03f,
                               -7.37332916720468e-03f, -1.42647390514189e-02f};

float skiff_erf_approx(float x) {
    if (x > 4.0f) x = 4.0f;
    if (x < -4.0f) x = -4.0f;
    const float x2 = x * x;
    float p = ERF_A[0];
    for (int i = 1; i < 7; i++) p = fmaf(x2, p, ERF_A[i]);
    p *= x;
    float q = ERF_B[0];
    for (int i = 1; i < 5; i++) q = fmaf(x2, q, ERF_B[i]);
    return p / q;
}

#if SV_X86
SV_AVX2 static inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(x, _mm256_set1_ps(EXP_HI));
    const __m256 tooSmall = _mm256_cmp_ps(x, _mm256_set1_ps(EXP_LO), _CMP_LT_OQ);
    x = _mm256_max_ps(x, _mm256_set1_ps(EXP_LO));
    __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(EXP_C1), x);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(EXP_C2), r);
    __m256 y = _mm256_set1_ps(EXP_P[0]);
    for (int i = 1; i < 6; i++) y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(EXP_P[i]));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    // 2^fx through the exponent bits (fx is in [-126, 127]).
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), tooSmall);
    return y;
}

SV_AVX2 static inline __m256 erf8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-4.0f)), _mm256_set1_ps(4.0f));
    const __m256 x2 = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(ERF_A[0]);
    for (int i = 1; i < 7; i++) p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(ERF_A[i]));
    p = _mm256_mul_ps(x, p);
    __m256 q = _mm256_set1_ps(ERF_B[0]);
    for (int i = 1; i < 5; i++) q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(ERF_B[i]));
    return _mm256_div_ps(p, q);
}

SV_AVX2 static void gelu_avx2(float *x, int64_t n) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 rsqrt2 = _mm256_set1_ps(0.70710678118654752f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 e = erf8(_mm256_mul_ps(v, rsqrt2));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, e)));
    }
    for (; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + skiff_erf_approx(x[i] * 0.70710678118654752f));
}

SV_AVX2 static void softmax_row_avx2(float *x, int64_t n) {
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    float lanes[8];
    _mm256_storeu_ps(lanes, vmax);
    float max = lanes[0];
    for (int l = 1; l < 8; l++) max = lanes[l] > max ? lanes[l] : max;
    for (; i < n; i++) max = x[i] > max ? x[i] : max;
    const __m256 m = _mm256_set1_ps(max);
    __m256 vsum = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
        _mm256_storeu_ps(x + i, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    _mm256_storeu_ps(lanes, vsum);
    double sum = 0.0;
    for (int l = 0; l < 8; l++) sum += lanes[l];
    for (; i < n; i++) {
        x[i] = skiff_exp_approx(x[i] - max);
        sum += x[i];
    }
    const __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++) x[i] *= (float)(1.0 / sum);
}
#endif

// ---------------------------------------------------------------- element-wise kernels

typedef struct { float *x; } gelu_ctx;
static void gelu_range(void *vctx, int64_t b, int64_t e) {
    gelu_ctx *c = vctx;
#if SV_X86
    if (sv_avx2) { gelu_avx2(c->x + b, e - b); return; }
#endif
    for (int64_t i = b; i < e; i++) c->x[i] = 0.5f * c->x[i] * (1.0f + skiff_erf_approx(c->x[i] * 0.70710678118654752f));
}

void skiff_gelu_erf(float *x, int64_t count, int threads) {
    sv_ensure();
    gelu_ctx c = {x};
    sv_parallel(count, threads, 1 << 16, gelu_range, &c);
}

typedef struct { const float *x, *w, *b; float *y; int64_t n; float eps; } ln_ctx;

#if SV_X86
// Sums in 32 float lanes (each lane adds n/32 values, so rounding stays near 1e-7 relative for
// these row lengths), then in double across lanes; variance in a second pass around the mean.
SV_AVX2 static void ln_row_avx2(const float *x, const float *w, const float *b, float *y, int64_t n, float eps) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_loadu_ps(x + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_loadu_ps(x + i + 24));
    }
    float lanes[32];
    _mm256_storeu_ps(lanes, s0); _mm256_storeu_ps(lanes + 8, s1);
    _mm256_storeu_ps(lanes + 16, s2); _mm256_storeu_ps(lanes + 24, s3);
    double sum = 0.0;
    for (int l = 0; l < 32; l++) sum += lanes[l];
    for (int64_t j = i; j < n; j++) sum += x[j];
    const float mean = (float)(sum / (double)n);
    const __m256 m = _mm256_set1_ps(mean);
    s0 = _mm256_setzero_ps(); s1 = s0; s2 = s0; s3 = s0;
    for (i = 0; i + 32 <= n; i += 32) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), m), d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), m);
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 16), m), d3 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 24), m);
        s0 = _mm256_fmadd_ps(d0, d0, s0); s1 = _mm256_fmadd_ps(d1, d1, s1);
        s2 = _mm256_fmadd_ps(d2, d2, s2); s3 = _mm256_fmadd_ps(d3, d3, s3);
    }
    _mm256_storeu_ps(lanes, s0); _mm256_storeu_ps(lanes + 8, s1);
    _mm256_storeu_ps(lanes + 16, s2); _mm256_storeu_ps(lanes + 24, s3);
    double var = 0.0;
    for (int l = 0; l < 32; l++) var += lanes[l];
    for (int64_t j = i; j < n; j++) var += (double)(x[j] - mean) * (double)(x[j] - mean);
    const float rstd = (float)(1.0 / sqrt(var / (double)n + (double)eps));
    const __m256 r = _mm256_set1_ps(rstd);
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), r);
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(v, _mm256_loadu_ps(w + i), _mm256_loadu_ps(b + i)));
    }
    for (; i < n; i++) y[i] = (x[i] - mean) * rstd * w[i] + b[i];
}
#endif

static void ln_range(void *vctx, int64_t r0, int64_t r1) {
    const ln_ctx *c = vctx;
    const int64_t n = c->n;
#if SV_X86
    if (sv_avx2) {
        for (int64_t r = r0; r < r1; r++) ln_row_avx2(c->x + r * n, c->w, c->b, c->y + r * n, n, c->eps);
        return;
    }
#endif
    for (int64_t r = r0; r < r1; r++) {
        const float *x = c->x + r * n;
        float *y = c->y + r * n;
        double sum = 0.0;
        for (int64_t i = 0; i < n; i++) sum += x[i];
        const double mean = sum / (double)n;
        double var = 0.0;
        for (int64_t i = 0; i < n; i++) {
            const double d = x[i] - mean;
            var += d * d;
        }
        const float rstd = (float)(1.0 / sqrt(var / (double)n + (double)c->eps));
        const float m = (float)mean;
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) * rstd * c->w[i] + c->b[i];
    }
}

void skiff_layernorm(const float *x, const float *weight, const float *bias, float *y, int64_t n, int64_t rows,
                     float eps, int threads) {
    sv_ensure();
    ln_ctx c = {x, weight, bias, y, n, eps};
    sv_parallel(rows, threads, 64, ln_range, &c);
}

typedef struct { float *y; const float *x, *bias, *scale; int64_t n; } rows_ctx;
static void bias_range(void *vctx, int64_t r0, int64_t r1) {
    const rows_ctx *c = vctx;
    for (int64_t r = r0; r < r1; r++) {
        float *y = c->y + r * c->n;
        for (int64_t i = 0; i < c->n; i++) y[i] += c->bias[i];
    }
}

void skiff_add_bias(float *y, const float *bias, int64_t rows, int64_t n, int threads) {
    rows_ctx c = {y, NULL, bias, NULL, n};
    sv_parallel(rows, threads, 256, bias_range, &c);
}

static void residual_range(void *vctx, int64_t r0, int64_t r1) {
    const rows_ctx *c = vctx;
    for (int64_t r = r0; r < r1; r++) {
        float *x = c->y + r * c->n;
        const float *y = c->x + r * c->n;
        if (c->bias)
            for (int64_t i = 0; i < c->n; i++) x[i] += c->scale[i] * (y[i] + c->bias[i]);
        else
            for (int64_t i = 0; i < c->n; i++) x[i] += c->scale[i] * y[i];
    }
}

void skiff_scaled_residual(float *x, const float *y, const float *bias, const float *scale, int64_t rows,
                           int64_t n, int threads) {
    rows_ctx c = {x, y, bias, scale, n};
    sv_parallel(rows, threads, 256, residual_range, &c);
}

typedef struct { float *x; int64_t n, ld; } softmax_ctx;
static void softmax_range(void *vctx, int64_t r0, int64_t r1) {
    const softmax_ctx *c = vctx;
    for (int64_t r = r0; r < r1; r++) {
        float *x = c->x + r * c->ld;
#if SV_X86
        if (sv_avx2) { softmax_row_avx2(x, c->n); continue; }
#endif
        float max = -INFINITY;
        for (int64_t i = 0; i < c->n; i++) max = x[i] > max ? x[i] : max;
        double sum = 0.0;
        for (int64_t i = 0; i < c->n; i++) {
            x[i] = skiff_exp_approx(x[i] - max);
            sum += x[i];
        }
        const float inv = (float)(1.0 / sum);
        for (int64_t i = 0; i < c->n; i++) x[i] *= inv;
    }
}

void skiff_softmax_rows(float *x, int64_t rows, int64_t n, int64_t ld, int threads) {
    sv_ensure();
    softmax_ctx c = {x, n, ld};
    sv_parallel(rows, threads, 32, softmax_range, &c);
}

typedef struct {
    const float *qkv;
    float *out, *scores;
    int64_t seq, heads, head_dim;
    float scale;
} attention_ctx;

// (tile, head) pairs [p0, p1): two products with a softmax between, in this thread.
static void attention_range(void *vctx, int64_t p0, int64_t p1) {
    const attention_ctx *c = vctx;
    const int64_t dim = c->heads * c->head_dim, row = 3 * dim, seq = c->seq;
    float *scores = c->scores + sv_slice * seq * seq;  // this thread's slice of the scratch
    for (int64_t p = p0; p < p1; p++) {
        const int64_t b = p / c->heads, h = p % c->heads;
        const float *base = c->qkv + b * seq * row;
        const float *q = base + h * c->head_dim, *k = base + dim + h * c->head_dim, *v = base + 2 * dim + h * c->head_dim;
        skiff_sgemm_nt(seq, seq, c->head_dim, c->scale, q, row, k, row, 0.0f, scores, seq);
        softmax_ctx sc = {scores, seq, seq};
        softmax_range(&sc, 0, seq);
        skiff_sgemm_nn(seq, c->head_dim, seq, 1.0f, scores, seq, v, row, 0.0f, c->out + b * seq * dim + h * c->head_dim, dim);
    }
}

void skiff_self_attention(const float *qkv, float *out, int64_t batch, int64_t seq, int64_t heads,
                          int64_t head_dim, float scale, float *scores, int threads) {
    sv_ensure();
    attention_ctx c = {qkv, out, scores, seq, heads, head_dim, scale};
    const int64_t pairs = batch * heads;
    if (threads > pairs) threads = (int)pairs;
    if (threads <= 1) {
        attention_range(&c, 0, pairs);
        return;
    }
    // Heads run in parallel, each thread calling OpenBLAS single-threaded: its own workers
    // would otherwise spin between the many small products and take the cores from the softmax.
    if (sv_set_threads) sv_set_threads(1);
    sv_parallel_slices(pairs, threads, attention_range, &c);
    if (sv_set_threads) sv_set_threads(threads);
}

void skiff_patch_rows(const float *image, int64_t size, int64_t patch, float *out) {
    const int64_t grid = size / patch, plane = size * size, width = 3 * patch * patch;
    for (int64_t py = 0; py < grid; py++)
        for (int64_t px = 0; px < grid; px++) {
            float *dst = out + (py * grid + px) * width;
            for (int64_t c = 0; c < 3; c++)
                for (int64_t ky = 0; ky < patch; ky++) {
                    const float *src = image + c * plane + (py * patch + ky) * size + px * patch;
                    memcpy(dst + (c * patch + ky) * patch, src, (size_t)patch * sizeof(float));
                }
        }
}
