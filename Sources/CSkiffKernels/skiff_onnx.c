// See skiff_onnx.h.
#include "skiff_onnx.h"
#include "skiff_vision.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SO_X86 1
#define SO_AVX2 __attribute__((target("avx2,fma")))
static int so_avx2 = -1;
static int so_has_avx2(void) {
    if (so_avx2 < 0) so_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return so_avx2;
}
#else
#define SO_X86 0
#endif

// ---------------------------------------------------------------- parallel loops

typedef void (*so_range_fn)(void *ctx, int64_t begin, int64_t end);
typedef struct { so_range_fn fn; void *ctx; int64_t begin, end; } so_job;

// A pool of persistent workers. Threads made per call and calling OpenBLAS would each get
// OpenBLAS buffers of their own (thousands over a batch of pages, each a new thread to its
// memory tables); the same few threads, made once, are all it ever sees.
enum { SO_MAX_THREADS = 16 };
static pthread_mutex_t so_pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t so_pool_work = PTHREAD_COND_INITIALIZER, so_pool_done = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t so_pool_region = PTHREAD_MUTEX_INITIALIZER;  // one parallel region at a time
static so_job so_pool_jobs[SO_MAX_THREADS];
static uint64_t so_pool_generation = 0;
static int so_pool_active = 0, so_pool_pending = 0, so_pool_workers = 0;

static void *so_worker_main(void *arg) {
    const int index = (int)(intptr_t)arg;
    // Workers are made inside a region, just before it is published: starting from 0, a new
    // worker takes that region's job.
    uint64_t seen = 0;
    pthread_mutex_lock(&so_pool_mu);
    for (;;) {
        while (so_pool_generation == seen) pthread_cond_wait(&so_pool_work, &so_pool_mu);
        seen = so_pool_generation;
        if (index >= so_pool_active) continue;
        const so_job job = so_pool_jobs[index];
        pthread_mutex_unlock(&so_pool_mu);
        job.fn(job.ctx, job.begin, job.end);
        pthread_mutex_lock(&so_pool_mu);
        if (--so_pool_pending == 0) pthread_cond_signal(&so_pool_done);
    }
    return NULL;
}

// Splits [0, count) into up to `threads` ranges when each gets at least `grain` items; range 0
// runs on the caller. A region started while another runs (another caller, or from inside a
// range) runs on its caller alone, so regions never wait on each other.
static void so_parallel(int64_t count, int threads, int64_t grain, so_range_fn fn, void *ctx) {
    if (threads > SO_MAX_THREADS) threads = SO_MAX_THREADS;
    if (threads > 1 && count / threads < grain) threads = (int)(count / (grain > 0 ? grain : 1));
    if (threads <= 1 || pthread_mutex_trylock(&so_pool_region) != 0) {
        fn(ctx, 0, count);
        return;
    }
    pthread_mutex_lock(&so_pool_mu);
    while (so_pool_workers < threads - 1) {
        pthread_t id;
        if (pthread_create(&id, NULL, so_worker_main, (void *)(intptr_t)(so_pool_workers + 1)) != 0) break;
        pthread_detach(id);
        so_pool_workers++;
    }
    const int helpers = so_pool_workers < threads - 1 ? so_pool_workers : threads - 1;
    so_job jobs[SO_MAX_THREADS];
    for (int t = 0; t < threads; t++) jobs[t] = (so_job){fn, ctx, count * t / threads, count * (t + 1) / threads};
    for (int t = 1; t <= helpers; t++) so_pool_jobs[t] = jobs[t];
    so_pool_active = helpers + 1;
    so_pool_pending = helpers;
    so_pool_generation++;
    pthread_cond_broadcast(&so_pool_work);
    pthread_mutex_unlock(&so_pool_mu);
    fn(ctx, jobs[0].begin, jobs[0].end);
    for (int t = helpers + 1; t < threads; t++) fn(ctx, jobs[t].begin, jobs[t].end);  // no worker for it
    pthread_mutex_lock(&so_pool_mu);
    while (so_pool_pending > 0) pthread_cond_wait(&so_pool_done, &so_pool_mu);
    pthread_mutex_unlock(&so_pool_mu);
    pthread_mutex_unlock(&so_pool_region);
}

// ---------------------------------------------------------------- epilogue

static inline float so_act(float v, const skiff_epilogue *e) {
    switch (e->act) {
    case SKIFF_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case SKIFF_ACT_HARDSWISH: {
        float g = e->alpha * v + e->beta;
        g = g < 0.0f ? 0.0f : (g > 1.0f ? 1.0f : g);
        return v * g;
    }
    case SKIFF_ACT_SWISH: return v / (1.0f + expf(-v));
    case SKIFF_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case SKIFF_ACT_HARDSIGMOID: {
        float g = e->alpha * v + e->beta;
        return g < 0.0f ? 0.0f : (g > 1.0f ? 1.0f : g);
    }
    default: return v;
    }
}

// One plane: bias, activation, affine. Written per activation so each loop vectorises.
static void so_epilogue_plane(float *y, int64_t n, float bias, const skiff_epilogue *e) {
    const float ps = e->post_scale, pp = e->post_shift, a = e->alpha, b = e->beta;
    switch (e->act) {
    case SKIFF_ACT_NONE:
        for (int64_t i = 0; i < n; i++) y[i] = ps * (y[i] + bias) + pp;
        break;
    case SKIFF_ACT_RELU:
        for (int64_t i = 0; i < n; i++) {
            float v = y[i] + bias;
            y[i] = ps * (v > 0.0f ? v : 0.0f) + pp;
        }
        break;
    case SKIFF_ACT_HARDSWISH:
        for (int64_t i = 0; i < n; i++) {
            float v = y[i] + bias;
            float g = a * v + b;
            g = g < 0.0f ? 0.0f : g;
            g = g > 1.0f ? 1.0f : g;
            y[i] = ps * (v * g) + pp;
        }
        break;
    default:
        for (int64_t i = 0; i < n; i++) y[i] = ps * so_act(y[i] + bias, e) + pp;
        break;
    }
}

typedef struct {
    float *y;
    int64_t plane;
    const float *bias;
    int64_t channels;
    skiff_epilogue epi;
} so_epi_ctx;

static void so_epi_range(void *p, int64_t begin, int64_t end) {
    so_epi_ctx *c = p;
    for (int64_t q = begin; q < end; q++)
        so_epilogue_plane(c->y + q * c->plane, c->plane, c->bias ? c->bias[q % c->channels] : 0.0f, &c->epi);
}

static int so_epilogue_is_identity(const skiff_epilogue *e) {
    return e->act == SKIFF_ACT_NONE && e->post_scale == 1.0f && e->post_shift == 0.0f;
}

void skiff_epilogue_apply(float *y, int64_t planes, int64_t plane, const float *bias, int64_t channels,
                          skiff_epilogue epi, int threads) {
    if (!bias && so_epilogue_is_identity(&epi)) return;
    so_epi_ctx ctx = {y, plane, bias, channels, epi};
    so_parallel(planes, threads, (plane >= 16384 ? 1 : 16384 / (plane > 0 ? plane : 1)), so_epi_range, &ctx);
}

// ---------------------------------------------------------------- convolution

static inline int64_t so_out_size(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t d) {
    return (in + p0 + p1 - d * (k - 1) - 1) / s + 1;
}

// The product path works on chunks of output positions (rows of the output for im2col, column
// ranges for 1x1), each chunk's im2col, product and epilogue done by one thread with
// single-threaded OpenBLAS: the im2col buffer stays a few MB instead of K x oh*ow (224 MB for
// DBNet's 96->24 3x3 convs at 352x184, every page-faulted fresh), the epilogue runs on output
// still in cache, and the small products of recognition need no BLAS thread hand-offs.
// SKIFF_CONV_SPLIT=0 keeps whole-image products on OpenBLAS's own threads (for comparison).
enum { SO_IM2COL_TARGET = 1 << 19, SO_POINTWISE_TARGET = 1 << 18 };

static int so_split = -1;
static int so_split_enabled(void) {
    if (so_split < 0) {
        const char *v = getenv("SKIFF_CONV_SPLIT");
        so_split = !(v && v[0] == '0');
    }
    return so_split;
}

static int so_is_pointwise(int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t pb,
                           int64_t pr) {
    return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && pb == 0 && pr == 0;
}

// Output rows per im2col chunk: about SO_IM2COL_TARGET floats of columns, at least one row.
static int64_t so_chunk_rows(int64_t k, int64_t oh, int64_t ow) {
    int64_t rows = SO_IM2COL_TARGET / (k * ow > 0 ? k * ow : 1);
    if (rows < 1) rows = 1;
    if (rows > oh) rows = oh;
    return rows;
}

int64_t skiff_conv2d_scratch_floats(int64_t c, int64_t h, int64_t w, int64_t oc, int64_t kh, int64_t kw,
                                    int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t pb, int64_t pr,
                                    int64_t dh, int64_t dw, int64_t groups, int threads) {
    (void)oc;
    if (groups == c && groups > 1) return 0;  // depthwise: direct
    int64_t oh = so_out_size(h, kh, sh, pt, pb, dh), ow = so_out_size(w, kw, sw, pl, pr, dw);
    if (oh <= 0 || ow <= 0) return 0;
    if (so_is_pointwise(kh, kw, sh, sw, pt, pl, pb, pr)) return 0;
    const int64_t k = (c / groups) * kh * kw;
    if (groups == 1 && so_split_enabled()) {
        if (threads < 1) threads = 1;
        if (threads > 16) threads = 16;
        return threads * k * so_chunk_rows(k, oh, ow) * ow;
    }
    return k * oh * ow;
}

// col[(ci * kh + ky) * kw + kx][(oy - oy0) * ow + ox] for output rows [oy0, oy1) of one image.
static void so_im2col(const float *x, int64_t cn, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t sh,
                      int64_t sw, int64_t pt, int64_t pl, int64_t dh, int64_t dw, int64_t oy0, int64_t oy1,
                      int64_t ow, float *col) {
    const int64_t rows = oy1 - oy0;
    for (int64_t ci = 0; ci < cn; ci++) {
        const float *xc = x + ci * h * w;
        for (int64_t ky = 0; ky < kh; ky++)
            for (int64_t kx = 0; kx < kw; kx++) {
                float *dst = col + ((ci * kh + ky) * kw + kx) * rows * ow;
                for (int64_t oy = oy0; oy < oy1; oy++) {
                    const int64_t iy = oy * sh - pt + ky * dh;
                    float *row = dst + (oy - oy0) * ow;
                    if (iy < 0 || iy >= h) {
                        memset(row, 0, (size_t)ow * sizeof(float));
                        continue;
                    }
                    const float *src = xc + iy * w;
                    const int64_t off = kx * dw - pl;
                    if (sw == 1) {
                        // valid ox: 0 <= ox + off < w
                        int64_t lo = off < 0 ? -off : 0;
                        int64_t hi = w - off;
                        if (hi > ow) hi = ow;
                        if (lo > ow) lo = ow;
                        if (hi < lo) hi = lo;
                        for (int64_t ox = 0; ox < lo; ox++) row[ox] = 0.0f;
                        if (hi > lo) memcpy(row + lo, src + lo + off, (size_t)(hi - lo) * sizeof(float));
                        for (int64_t ox = hi; ox < ow; ox++) row[ox] = 0.0f;
                    } else {
                        for (int64_t ox = 0; ox < ow; ox++) {
                            const int64_t ix = ox * sw + off;
                            row[ox] = (ix >= 0 && ix < w) ? src[ix] : 0.0f;
                        }
                    }
                }
            }
    }
}

typedef struct {
    const float *x;
    const float *weight;
    const float *bias;
    float *y;
    int64_t c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow;
    skiff_epilogue epi;
} so_dw_ctx;

// Depthwise: one input channel per output channel. Rows are split into a border part
// (bounds checks) and an interior part (none), which the compiler vectorises for stride 1.
static void so_dw_range(void *p, int64_t begin, int64_t end) {
    so_dw_ctx *c = p;
    const int64_t h = c->h, w = c->w, kh = c->kh, kw = c->kw, sh = c->sh, sw = c->sw, pt = c->pt, pl = c->pl;
    const int64_t dh = c->dh, dw = c->dw, oh = c->oh, ow = c->ow;
    for (int64_t q = begin; q < end; q++) {  // q = image * c + channel
        const int64_t ch = q % c->c;
        const float *xc = c->x + q * h * w;
        const float *wk = c->weight + ch * kh * kw;
        float *yc = c->y + q * oh * ow;
        // interior ox range where every tap is inside the row
        int64_t ox_lo = (pl + sw - 1) / sw;
        int64_t ox_hi = (w - 1 - (kw - 1) * dw + pl);
        ox_hi = ox_hi < 0 ? 0 : ox_hi / sw + 1;
        if (ox_hi > ow) ox_hi = ow;
        if (ox_lo > ox_hi) ox_lo = ox_hi;
        for (int64_t oy = 0; oy < oh; oy++) {
            float *yr = yc + oy * ow;
            for (int64_t ox = 0; ox < ow; ox++) yr[ox] = 0.0f;
            for (int64_t ky = 0; ky < kh; ky++) {
                const int64_t iy = oy * sh - pt + ky * dh;
                if (iy < 0 || iy >= h) continue;
                const float *xr = xc + iy * w;
                for (int64_t kx = 0; kx < kw; kx++) {
                    const float wv = wk[ky * kw + kx];
                    const int64_t off = kx * dw - pl;
                    for (int64_t ox = 0; ox < ox_lo; ox++) {
                        const int64_t ix = ox * sw + off;
                        if (ix >= 0 && ix < w) yr[ox] += wv * xr[ix];
                    }
                    if (sw == 1) {
                        const float *xs = xr + off;
                        for (int64_t ox = ox_lo; ox < ox_hi; ox++) yr[ox] += wv * xs[ox];
                    } else if (sw == 2) {
                        const float *xs = xr + off;
                        for (int64_t ox = ox_lo; ox < ox_hi; ox++) yr[ox] += wv * xs[2 * ox];
                    } else {
                        for (int64_t ox = ox_lo; ox < ox_hi; ox++) yr[ox] += wv * xr[ox * sw + off];
                    }
                    for (int64_t ox = ox_hi; ox < ow; ox++) {
                        const int64_t ix = ox * sw + off;
                        if (ix >= 0 && ix < w) yr[ox] += wv * xr[ix];
                    }
                }
            }
        }
        so_epilogue_plane(yc, oh * ow, c->bias ? c->bias[ch] : 0.0f, &c->epi);
    }
}

#if SO_X86
// A whole output value at a border position (taps outside the input skipped), epilogue applied.
static inline float so_dw_border(const float *xc, const float *wk, int64_t h, int64_t w, int64_t kh, int64_t kw,
                                 int64_t iy0, int64_t ix0, int64_t dh, float bias, const skiff_epilogue *e) {
    float s = 0.0f;
    for (int64_t ky = 0; ky < kh; ky++) {
        const int64_t iy = iy0 + ky * dh;
        if (iy < 0 || iy >= h) continue;
        for (int64_t kx = 0; kx < kw; kx++) {
            const int64_t ix = ix0 + kx;
            if (ix >= 0 && ix < w) s += wk[ky * kw + kx] * xc[iy * w + ix];
        }
    }
    return e->post_scale * so_act(s + bias, e) + e->post_shift;
}

SO_AVX2 static inline __m256 so_epi8(__m256 v, int act, __m256 a, __m256 b, __m256 ps, __m256 pp) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    switch (act) {
    case SKIFF_ACT_RELU: v = _mm256_max_ps(v, zero); break;
    case SKIFF_ACT_HARDSWISH: {
        __m256 g = _mm256_min_ps(_mm256_max_ps(_mm256_fmadd_ps(a, v, b), zero), one);
        v = _mm256_mul_ps(v, g);
        break;
    }
    case SKIFF_ACT_HARDSIGMOID: v = _mm256_min_ps(_mm256_max_ps(_mm256_fmadd_ps(a, v, b), zero), one); break;
    default: break;
    }
    return _mm256_fmadd_ps(ps, v, pp);
}

// Depthwise with unit width stride and dilation (any height stride / dilation), kernels up to
// 8x8: each output is summed in a register over all its taps and leaves with its epilogue
// applied, instead of kh * kw read-modify-write passes over the output row. 32 outputs per
// step in four accumulators: one chain of kh * kw dependent FMAs is latency-bound, four keep
// the FMA units busy (each output still sums its taps in the same order). With `pad`, the
// plane is first copied with its left and right zero padding (pw floats a row), so border
// columns take the vector path too (a tap on padding adds 0 * w, which leaves the sum as
// skipping it would); without, border columns are summed one by one. KW is a constant in the 3
// and 5 instances, so the tap loop unrolls.
#define SO_DW_ACC(A, OFF)                                                                  \
    for (int r = 0; r < nk; r++) {                                                        \
        const float *xs = rows[r] + (OFF), *wr = wrows[r];                                \
        for (int64_t kx = 0; kx < kw; kx++) A = _mm256_fmadd_ps(_mm256_loadu_ps(xs + kx), \
                                                                _mm256_broadcast_ss(wr + kx), A); \
    }

__attribute__((always_inline)) SO_AVX2 static inline void so_dw_plane_kw(const so_dw_ctx *c, const float *xc,
                                                                         const float *wk, float bias, float *yc,
                                                                         float *pad, int64_t pw, const int64_t kw) {
    const int64_t h = c->h, w = c->w, kh = c->kh, sh = c->sh, pt = c->pt, pl = c->pl, dh = c->dh;
    const int64_t oh = c->oh, ow = c->ow;
    const skiff_epilogue *e = &c->epi;
    int64_t lo = 0, hi = ow;
    if (pad) {
        for (int64_t y = 0; y < h; y++) {
            float *dst = pad + y * pw;
            for (int64_t i = 0; i < pl; i++) dst[i] = 0.0f;
            memcpy(dst + pl, xc + y * w, (size_t)w * sizeof(float));
            for (int64_t i = pl + w; i < pw; i++) dst[i] = 0.0f;
        }
    } else {
        // interior: every tap of the row inside the input, pl <= ox <= w - kw + pl
        lo = pl < ow ? pl : ow;
        hi = w - kw + pl + 1;
        if (hi > ow) hi = ow;
        if (hi < lo) hi = lo;
    }
    const __m256 vbias = _mm256_set1_ps(bias), va = _mm256_set1_ps(e->alpha), vb = _mm256_set1_ps(e->beta);
    const __m256 vps = _mm256_set1_ps(e->post_scale), vpp = _mm256_set1_ps(e->post_shift);
    const int act = e->act;
    const float *rows[8];
    const float *wrows[8];
    for (int64_t oy = 0; oy < oh; oy++) {
        float *yr = yc + oy * ow;
        const int64_t iy0 = oy * sh - pt;
        int nk = 0;
        for (int64_t ky = 0; ky < kh; ky++) {
            const int64_t iy = iy0 + ky * dh;
            if (iy < 0 || iy >= h) continue;
            rows[nk] = pad ? pad + iy * pw : xc + iy * w - pl;
            wrows[nk] = wk + ky * kw;
            nk++;
        }
        for (int64_t ox = 0; ox < lo; ox++) yr[ox] = so_dw_border(xc, wk, h, w, kh, kw, iy0, ox - pl, dh, bias, e);
        int64_t ox = lo;
        for (; ox + 32 <= hi; ox += 32) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int r = 0; r < nk; r++) {
                const float *xs = rows[r] + ox, *wr = wrows[r];
                for (int64_t kx = 0; kx < kw; kx++) {
                    const __m256 wv = _mm256_broadcast_ss(wr + kx);
                    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xs + kx), wv, a0);
                    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(xs + kx + 8), wv, a1);
                    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(xs + kx + 16), wv, a2);
                    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(xs + kx + 24), wv, a3);
                }
            }
            _mm256_storeu_ps(yr + ox, so_epi8(_mm256_add_ps(a0, vbias), act, va, vb, vps, vpp));
            _mm256_storeu_ps(yr + ox + 8, so_epi8(_mm256_add_ps(a1, vbias), act, va, vb, vps, vpp));
            _mm256_storeu_ps(yr + ox + 16, so_epi8(_mm256_add_ps(a2, vbias), act, va, vb, vps, vpp));
            _mm256_storeu_ps(yr + ox + 24, so_epi8(_mm256_add_ps(a3, vbias), act, va, vb, vps, vpp));
        }
        if (ox + 16 <= hi) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0;
            SO_DW_ACC(a0, ox)
            SO_DW_ACC(a1, ox + 8)
            _mm256_storeu_ps(yr + ox, so_epi8(_mm256_add_ps(a0, vbias), act, va, vb, vps, vpp));
            _mm256_storeu_ps(yr + ox + 8, so_epi8(_mm256_add_ps(a1, vbias), act, va, vb, vps, vpp));
            ox += 16;
        }
        // The last 8 outputs, overlapping ones already written (the same values again).
        while (ox < hi && hi - lo >= 8) {
            const int64_t at = ox + 8 <= hi ? ox : hi - 8;
            __m256 a0 = _mm256_setzero_ps();
            SO_DW_ACC(a0, at)
            _mm256_storeu_ps(yr + at, so_epi8(_mm256_add_ps(a0, vbias), act, va, vb, vps, vpp));
            ox = at + 8;
        }
        for (; ox < ow; ox++) {
            if (!pad) {
                yr[ox] = so_dw_border(xc, wk, h, w, kh, kw, iy0, ox - pl, dh, bias, e);
                continue;
            }
            float sum = 0.0f;  // padded planes narrower than 8
            for (int r = 0; r < nk; r++)
                for (int64_t kx = 0; kx < kw; kx++) sum = fmaf(rows[r][ox + kx], wrows[r][kx], sum);
            yr[ox] = e->post_scale * so_act(sum + bias, e) + e->post_shift;
        }
    }
}
#undef SO_DW_ACC

SO_AVX2 static void so_dw_plane_avx2(const so_dw_ctx *c, const float *xc, const float *wk, float bias, float *yc,
                                     float *pad, int64_t pw) {
    switch (c->kw) {
    case 3: so_dw_plane_kw(c, xc, wk, bias, yc, pad, pw, 3); break;
    case 5: so_dw_plane_kw(c, xc, wk, bias, yc, pad, pw, 5); break;
    default: so_dw_plane_kw(c, xc, wk, bias, yc, pad, pw, c->kw); break;
    }
}

// Padded row length: every column a vector load can touch (ow + kw - 1), and the whole input row.
static int64_t so_dw_pad_width(const so_dw_ctx *c) {
    int64_t pw = c->ow + c->kw - 1;
    if (pw < c->pl + c->w) pw = c->pl + c->w;
    return pw;
}

static void so_dw_range_avx2(void *p, int64_t begin, int64_t end) {
    so_dw_ctx *c = p;
    // The padded copy pays for itself from 5x5 on (four border columns of 25 taps each); for
    // 3x3 the copy costs more than the two border columns.
    const int64_t pw = so_dw_pad_width(c);
    float *pad = c->kw >= 5 ? malloc((size_t)(c->h * pw) * sizeof(float)) : NULL;
    for (int64_t q = begin; q < end; q++) {
        const int64_t ch = q % c->c;
        so_dw_plane_avx2(c, c->x + q * c->h * c->w, c->weight + ch * c->kh * c->kw, c->bias ? c->bias[ch] : 0.0f,
                         c->y + q * c->oh * c->ow, pad, pw);
    }
    free(pad);
}

// Width stride 2 with height stride 1 (recognition's 3x3 s1x2): the stride-1 kernel's row at
// every position, of which the even ones are the outputs. Twice the taps at the vector
// kernel's rate: 1x128x12x332, one thread, 0.64-0.82 ms -> 0.27-0.36 (a C harness calling skiff_conv2d, two
// rounds). Not for stride 2 both ways (DBNet's): on its 1x32x1040x368 input, memory-bound, the
// scalar loop was faster (5.9 against 8.8-9.3 ms).
static void so_dw_range_avx2_s2(void *p, int64_t begin, int64_t end) {
    const so_dw_ctx *c = p;
    so_dw_ctx dense = *c;
    dense.sw = 1;
    dense.ow = 2 * (c->ow - 1) + 1;
    const int64_t pw = so_dw_pad_width(&dense);
    float *pad = c->kw >= 5 ? malloc((size_t)(c->h * pw) * sizeof(float)) : NULL;
    float *rows = malloc((size_t)(c->oh * dense.ow) * sizeof(float));
    if ((c->kw >= 5 && !pad) || !rows) {  // no memory: the scalar loop needs none
        free(pad);
        free(rows);
        so_dw_range((void *)c, begin, end);
        return;
    }
    for (int64_t q = begin; q < end; q++) {
        const int64_t ch = q % c->c;
        so_dw_plane_avx2(&dense, c->x + q * c->h * c->w, c->weight + ch * c->kh * c->kw,
                         c->bias ? c->bias[ch] : 0.0f, rows, pad, pw);
        float *yc = c->y + q * c->oh * c->ow;
        for (int64_t oy = 0; oy < c->oh; oy++)
            for (int64_t ox = 0; ox < c->ow; ox++) yc[oy * c->ow + ox] = rows[oy * dense.ow + 2 * ox];
    }
    free(pad);
    free(rows);
}
#endif

// ---------------------------------------------------------------- memory reuse
//
// A run allocates and frees tensors of 5-25 MB (DBNet's feature maps on a 2000-px page). glibc
// serves blocks that large with mmap and unmaps them on free, so every run page-faults and
// zeroes them again: 727k minor faults and 1.6 s of system time on 10 receipts (skiff bench
// ppocr --pages 10). Keeping them in the heap (mmap threshold 256 MB, trim threshold 1 GB)
// reuses the pages: 304k faults, 0.8 s system, wall time 3 % less on the mean of three
// alternating pairs (noisy). The cost is that the process keeps its peak heap. Skipped when the user tunes malloc themselves
// (GLIBC_TUNABLES, MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_) or sets SKIFF_MALLOC_DEFAULTS.
#if defined(__GLIBC__)
#include <malloc.h>
#endif
static pthread_once_t so_malloc_once = PTHREAD_ONCE_INIT;
static void so_tune_malloc(void) {
#if defined(__GLIBC__)
    if (getenv("SKIFF_MALLOC_DEFAULTS") || getenv("GLIBC_TUNABLES") || getenv("MALLOC_MMAP_THRESHOLD_") ||
        getenv("MALLOC_TRIM_THRESHOLD_"))
        return;
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}
void skiff_onnx_tune_malloc(void) { pthread_once(&so_malloc_once, so_tune_malloc); }

// ---------------------------------------------------------------- bfloat16 products
//
// C[m, n] = W[m, k] x X[k, n] with both operands rounded to bfloat16 (round to nearest even)
// and fp32 sums, on AVX512-BF16's vdpbf16ps: each instruction does 16 lanes x a pair of k, twice
// the multiply-adds of an fp32 FMA. OpenBLAS 0.3.21 has no bf16 product (Debian builds it
// without BUILD_BFLOAT16), so this is written here. W is packed once per convolution
// (skiff_bf16_pack_weights): panels of SO_BF_MR rows, [k/2][SO_BF_MR] pairs; X is packed per
// tile of SO_BF_NR columns into [k/2][SO_BF_NR] pairs (row 2p in the low half of each pair).
// Sums per lane run over k in order, so a tile's values do not depend on the chunking.
enum { SO_BF_MR = 8, SO_BF_NR = 48 };

static int so_bf16 = -1;
int skiff_bf16_supported(void) {
#if SO_X86
    if (so_bf16 < 0) {
        __builtin_cpu_init();
        so_bf16 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16") &&
                  !getenv("SKIFF_NO_BF16");  // to run the fp32 fallback where bf16 exists
    }
    return so_bf16;
#else
    return 0;
#endif
}

int64_t skiff_bf16_packed_words(int64_t m, int64_t k) {
    return (m + SO_BF_MR - 1) / SO_BF_MR * ((k + 1) / 2) * SO_BF_MR;
}

static inline uint16_t so_to_bf16(float f) {  // round to nearest even, as vcvtneps2bf16
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // NaN stays NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

void skiff_bf16_pack_weights(const float *w, int64_t m, int64_t k, uint32_t *dst) {
    const int64_t k2 = (k + 1) / 2;
    memset(dst, 0, (size_t)skiff_bf16_packed_words(m, k) * 4);
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < k; j++) {
            uint32_t *pair = dst + ((r / SO_BF_MR) * k2 + j / 2) * SO_BF_MR + r % SO_BF_MR;
            const uint32_t v = so_to_bf16(w[r * k + j]);
            *pair |= (j & 1) ? v << 16 : v;
        }
}

#if SO_X86
#define SO_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// The first `left` of 16 lanes (none when left <= 0).
static inline __mmask16 so_bf_lanes(int64_t left) {
    return left >= 16 ? (__mmask16)0xffff : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
}

// Columns [n0, n0 + valid) of rows 0..k-1 (stride ldx) into tile [k/2][SO_BF_NR] pairs,
// zero past `valid` and past row k-1.
SO_BF16 static void so_bf_pack_tile(const float *x, int64_t ldx, int64_t k, int64_t valid, uint32_t *tile) {
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7,
                                                22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const int64_t k2 = (k + 1) / 2;
    for (int64_t p = 0; p < k2; p++) {
        const float *r0 = x + 2 * p * ldx;
        const float *r1 = 2 * p + 1 < k ? r0 + ldx : NULL;
        for (int64_t j = 0; j < SO_BF_NR; j += 16) {
            const __mmask16 mask = so_bf_lanes(valid - j);
            const __m512 v0 = _mm512_maskz_loadu_ps(mask, r0 + j);
            const __m512 v1 = r1 ? _mm512_maskz_loadu_ps(mask, r1 + j) : _mm512_setzero_ps();
            const __m256i lo = (__m256i)_mm512_cvtneps_pbh(v0), hi = (__m256i)_mm512_cvtneps_pbh(v1);
            const __m512i both = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
            _mm512_storeu_si512(tile + p * SO_BF_NR + j, _mm512_permutexvar_epi16(interleave, both));
        }
    }
}

// acc = one weight panel x one column tile (SO_BF_MR x SO_BF_NR sums; inlined so that acc
// stays in registers).
SO_BF16 static inline __attribute__((always_inline)) void so_bf_panel_tile(const uint32_t *panel, const uint32_t *tile,
                                                                            int64_t k2, __m512 acc[SO_BF_MR][3]) {
    for (int i = 0; i < SO_BF_MR; i++) acc[i][0] = acc[i][1] = acc[i][2] = _mm512_setzero_ps();
    for (int64_t p = 0; p < k2; p++) {
        const uint32_t *t = tile + p * SO_BF_NR;
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(t), b1 = (__m512bh)_mm512_loadu_si512(t + 16);
        const __m512bh b2 = (__m512bh)_mm512_loadu_si512(t + 32);
        const uint32_t *a = panel + p * SO_BF_MR;
        for (int i = 0; i < SO_BF_MR; i++) {
            const __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[i]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
            acc[i][2] = _mm512_dpbf16_ps(acc[i][2], ai, b2);
        }
    }
}

// rows (<= SO_BF_MR) x valid (<= SO_BF_NR) outputs of one weight panel and one column tile.
SO_BF16 static void so_bf_kernel(const uint32_t *panel, const uint32_t *tile, int64_t k2, float *y, int64_t ldy,
                                 int64_t rows, int64_t valid) {
    __m512 acc[SO_BF_MR][3];
    so_bf_panel_tile(panel, tile, k2, acc);
    for (int j = 0; j < 3; j++) {
        if (valid <= 16 * j) break;
        const __mmask16 mask = so_bf_lanes(valid - 16 * j);
        for (int64_t i = 0; i < rows; i++) _mm512_mask_storeu_ps(y + i * ldy + 16 * j, mask, acc[i][j]);
    }
}

// One tile buffer per thread, grown as needed (k up to a few thousand: a few hundred KB).
static __thread uint32_t *so_bf_tile_buf = NULL;
static __thread int64_t so_bf_tile_cap = 0;

// y[m, n] (stride ldy) = W x X[k, n] (stride ldx), W packed by skiff_bf16_pack_weights.
// Returns 0 when the tile buffer cannot be had (the caller falls back to fp32).
SO_BF16 static int so_bf_gemm(const uint32_t *wp, int64_t m, int64_t k, const float *x, int64_t ldx, int64_t n,
                              float *y, int64_t ldy) {
    const int64_t k2 = (k + 1) / 2, words = k2 * SO_BF_NR;
    if (so_bf_tile_cap < words) {
        uint32_t *grown = aligned_alloc(64, (size_t)((words * 4 + 63) / 64 * 64));
        if (!grown) return 0;
        free(so_bf_tile_buf);
        so_bf_tile_buf = grown;
        so_bf_tile_cap = words;
    }
    for (int64_t n0 = 0; n0 < n; n0 += SO_BF_NR) {
        const int64_t valid = n - n0 < SO_BF_NR ? n - n0 : SO_BF_NR;
        so_bf_pack_tile(x + n0, ldx, k, valid, so_bf_tile_buf);
        for (int64_t r0 = 0; r0 < m; r0 += SO_BF_MR) {
            const int64_t rows = m - r0 < SO_BF_MR ? m - r0 : SO_BF_MR;
            so_bf_kernel(wp + (r0 / SO_BF_MR) * k2 * SO_BF_MR, so_bf_tile_buf, k2, y + r0 * ldy + n0, ldy, rows, valid);
        }
    }
    return 1;
}
#endif

// fp32 when wp is NULL or bf16 is unavailable.
static void so_product(const uint32_t *wp, int64_t m, int64_t n, int64_t k, const float *w, const float *x,
                       int64_t ldx, float *y, int64_t ldy) {
#if SO_X86
    if (wp && skiff_bf16_supported() && so_bf_gemm(wp, m, k, x, ldx, n, y, ldy)) return;
#else
    (void)wp;
#endif
    skiff_sgemm_nn(m, n, k, 1.0f, w, k, x, ldx, 0.0f, y, ldy);
}

// ---------------------------------------------------------------- products in chunks

typedef struct {
    const float *x, *weight, *bias;
    float *y, *scratch;
    int64_t c, h, w, oc, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, k, plane;
    int pointwise;
    int64_t units, per_image, chunk, scratch_per_thread;
    int threads;
    skiff_epilogue epi;
    const uint32_t *weight_bf16;
} so_gemm_ctx;

// Units (output columns for 1x1, output rows otherwise) [j0, j1) of image b.
static void so_gemm_chunk(const so_gemm_ctx *c, int64_t b, int64_t j0, int64_t j1, float *scratch) {
    const float *xb = c->x + b * c->c * c->h * c->w;
    float *yb = c->y + b * c->oc * c->plane;
    int64_t n0, n1;
    if (c->pointwise) {
        n0 = j0;
        n1 = j1;
        so_product(c->weight_bf16, c->oc, n1 - n0, c->k, c->weight, xb + n0, c->plane, yb + n0, c->plane);
    } else {
        so_im2col(xb, c->c, c->h, c->w, c->kh, c->kw, c->sh, c->sw, c->pt, c->pl, c->dh, c->dw, j0, j1, c->ow, scratch);
        n0 = j0 * c->ow;
        n1 = j1 * c->ow;
        so_product(c->weight_bf16, c->oc, n1 - n0, c->k, c->weight, scratch, n1 - n0, yb + n0, c->plane);
    }
    if (!c->bias && so_epilogue_is_identity(&c->epi)) return;
    for (int64_t o = 0; o < c->oc; o++)
        so_epilogue_plane(yb + o * c->plane + n0, n1 - n0, c->bias ? c->bias[o] : 0.0f, &c->epi);
}

// Thread t's even share of `units` (images of `per_image` units each), in chunks of at most
// `chunk` units that stay inside one image: calls fn(ctx, image, first, end, scratch).
static void so_thread_chunks(int64_t units, int64_t per_image, int64_t chunk, int threads, int64_t t,
                             void (*fn)(const void *, int64_t, int64_t, int64_t, float *),
                             const void *ctx, float *scratch) {
    int64_t u = units * t / threads;
    const int64_t end = units * (t + 1) / threads;
    while (u < end) {
        const int64_t b = u / per_image, j0 = u % per_image;
        int64_t j1 = j0 + chunk;
        if (j1 > per_image) j1 = per_image;
        if (j1 - j0 > end - u) j1 = j0 + (end - u);
        fn(ctx, b, j0, j1, scratch);
        u += j1 - j0;
    }
}

static void so_gemm_chunk_fn(const void *c, int64_t b, int64_t j0, int64_t j1, float *scratch) {
    so_gemm_chunk(c, b, j0, j1, scratch);
}

static void so_gemm_thread(void *p, int64_t t0, int64_t t1) {
    const so_gemm_ctx *c = p;
    for (int64_t t = t0; t < t1; t++)
        so_thread_chunks(c->units, c->per_image, c->chunk, c->threads, t, so_gemm_chunk_fn, c,
                         c->scratch ? c->scratch + t * c->scratch_per_thread : NULL);
}

void skiff_conv2d(const float *x, int64_t n, int64_t c, int64_t h, int64_t w, const float *weight,
                  const float *bias, int64_t oc, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t pt,
                  int64_t pl, int64_t pb, int64_t pr, int64_t dh, int64_t dw, int64_t groups,
                  skiff_epilogue epi, const uint32_t *weight_bf16, float *y, float *scratch, int threads) {
    const int64_t oh = so_out_size(h, kh, sh, pt, pb, dh), ow = so_out_size(w, kw, sw, pl, pr, dw);
    if (oh <= 0 || ow <= 0) return;
    if (threads < 1) threads = 1;
    if (threads > 16) threads = 16;
    const int requested = threads;
    if (groups == c && oc == c && groups > 1) {
        so_dw_ctx ctx = {x, weight, bias, y, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, epi};
#if SO_X86
        if (so_has_avx2() && (sw == 1 || (sw == 2 && sh == 1)) && dw == 1 && kh <= 8 && kw <= 8 &&
            (epi.act == SKIFF_ACT_NONE || epi.act == SKIFF_ACT_RELU || epi.act == SKIFF_ACT_HARDSWISH ||
             epi.act == SKIFF_ACT_HARDSIGMOID)) {
            so_parallel(n * c, threads, 1, sw == 1 ? so_dw_range_avx2 : so_dw_range_avx2_s2, &ctx);
            return;
        }
#endif
        so_parallel(n * c, threads, 1, so_dw_range, &ctx);
        return;
    }
    const int64_t cg = c / groups, og = oc / groups, k = cg * kh * kw, plane = oh * ow;
    const int pointwise = so_is_pointwise(kh, kw, sh, sw, pt, pl, pb, pr);
    if (groups == 1 && so_split_enabled()) {
        so_gemm_ctx ctx = {x, weight, bias, y, scratch, c, h, w, oc, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, k, plane,
                           pointwise, 0, 0, 0, 0, threads, epi, weight_bf16};
        if (pointwise) {
            int64_t chunk = SO_POINTWISE_TARGET / (oc > 0 ? oc : 1);
            chunk = chunk < 256 ? 256 : (chunk + 15) / 16 * 16;
            ctx.per_image = plane;
            ctx.chunk = chunk;
        } else {
            ctx.per_image = oh;
            ctx.chunk = so_chunk_rows(k, oh, ow);
            ctx.scratch_per_thread = k * ctx.chunk * ow;
        }
        ctx.units = n * ctx.per_image;
        // Small products (the 1x1 squeeze-excite convs on pooled values) stay on one thread.
        if (threads > ctx.units) threads = (int)ctx.units;
        if ((double)oc * (double)k * (double)(n * plane) < (double)(1 << 20)) threads = 1;
        ctx.threads = threads;
        if (threads > 1) {
            skiff_vision_set_blas_threads(1);
            so_parallel(threads, threads, 1, so_gemm_thread, &ctx);
            skiff_vision_set_blas_threads(requested);
        } else {
            so_gemm_thread(&ctx, 0, 1);
        }
        return;
    }
    for (int64_t b = 0; b < n; b++) {
        for (int64_t g = 0; g < groups; g++) {
            const float *xg = x + (b * c + g * cg) * h * w;
            const float *cols = xg;
            if (!pointwise) {
                so_im2col(xg, cg, h, w, kh, kw, sh, sw, pt, pl, dh, dw, 0, oh, ow, scratch);
                cols = scratch;
            }
            skiff_sgemm_nn(og, plane, k, 1.0f, weight + g * og * k, k, cols, plane, 0.0f,
                           y + (b * oc + g * og) * plane, plane);
        }
    }
    skiff_epilogue_apply(y, n * oc, plane, bias, oc, epi, threads);
}

// Transposed convolution, kernel == stride: rows [i0, i1) of image b into scratch
// [(o * kh + ky) * kw + kx][(i - i0) * w + j], scattered to output rows i * kh + ky, epilogue there.
typedef struct {
    const float *x, *weight_t, *bias;
    float *y, *scratch;
    int64_t n, c, h, w, oc, kh, kw, rows_per_chunk, scratch_per_thread;
    int threads;
    skiff_epilogue epi;
} so_ct_ctx;

static void so_ct_chunk(const so_ct_ctx *c, int64_t b, int64_t i0, int64_t i1, float *scratch) {
    const int64_t plane = c->h * c->w, ow = c->w * c->kw, oplane = plane * c->kh * c->kw, cols = (i1 - i0) * c->w;
    const int64_t kh = c->kh, kw = c->kw, w = c->w;
    skiff_sgemm_nn(c->oc * kh * kw, cols, c->c, 1.0f, c->weight_t, c->c, c->x + b * c->c * plane + i0 * w, plane, 0.0f,
                   scratch, cols);
    for (int64_t o = 0; o < c->oc; o++) {
        float *yo = c->y + (b * c->oc + o) * oplane;
        for (int64_t ky = 0; ky < kh; ky++)
            for (int64_t kx = 0; kx < kw; kx++) {
                const float *s = scratch + ((o * kh + ky) * kw + kx) * cols;
                for (int64_t i = i0; i < i1; i++) {
                    float *dst = yo + (i * kh + ky) * ow + kx;
                    const float *src = s + (i - i0) * w;
                    for (int64_t j = 0; j < w; j++) dst[j * kw] = src[j];
                }
            }
        if (c->bias || !so_epilogue_is_identity(&c->epi))
            so_epilogue_plane(yo + i0 * kh * ow, (i1 - i0) * kh * ow, c->bias ? c->bias[o] : 0.0f, &c->epi);
    }
}

static void so_ct_chunk_fn(const void *c, int64_t b, int64_t i0, int64_t i1, float *scratch) {
    so_ct_chunk(c, b, i0, i1, scratch);
}

// Thread t's even share of all input rows, in chunks that stay inside one image.
static void so_ct_thread(void *p, int64_t t0, int64_t t1) {
    const so_ct_ctx *c = p;
    for (int64_t t = t0; t < t1; t++)
        so_thread_chunks(c->n * c->h, c->h, c->rows_per_chunk, c->threads, t, so_ct_chunk_fn, c,
                         c->scratch + t * c->scratch_per_thread);
}

// Input rows per chunk: about SO_IM2COL_TARGET floats of product output, at least one row.
static int64_t so_ct_rows(int64_t oc, int64_t h, int64_t w, int64_t kh, int64_t kw) {
    int64_t per_row = oc * kh * kw * w;
    int64_t rows = SO_IM2COL_TARGET / (per_row > 0 ? per_row : 1);
    if (rows < 1) rows = 1;
    if (rows > h) rows = h;
    return rows;
}

int64_t skiff_conv_transpose_scratch_floats(int64_t oc, int64_t h, int64_t w, int64_t kh, int64_t kw, int threads) {
    if (threads < 1) threads = 1;
    if (threads > 16) threads = 16;
    return threads * oc * kh * kw * w * so_ct_rows(oc, h, w, kh, kw);
}

void skiff_conv_transpose_blocks(const float *x, int64_t n, int64_t c, int64_t h, int64_t w,
                                 const float *weight_t, const float *bias, int64_t oc, int64_t kh, int64_t kw,
                                 skiff_epilogue epi, float *y, float *scratch, int threads) {
    if (n <= 0 || h <= 0 || w <= 0) return;
    if (threads < 1) threads = 1;
    if (threads > 16) threads = 16;
    const int requested = threads;
    const int64_t rows = so_ct_rows(oc, h, w, kh, kw);
    so_ct_ctx ctx = {x, weight_t, bias, y, scratch, n, c, h, w, oc, kh, kw, rows, oc * kh * kw * w * rows, threads, epi};
    if (threads > n * h) threads = (int)(n * h);
    ctx.threads = threads;
    if (threads > 1) {
        skiff_vision_set_blas_threads(1);
        so_parallel(threads, threads, 1, so_ct_thread, &ctx);
        skiff_vision_set_blas_threads(requested);
    } else {
        so_ct_thread(&ctx, 0, 1);
    }
}

// ---------------------------------------------------------------- softmax, layernorm

typedef struct { float *x; int64_t n; } so_sm_ctx;

static void so_sm_range(void *p, int64_t begin, int64_t end) {
    so_sm_ctx *c = p;
    const int64_t n = c->n;
    for (int64_t r = begin; r < end; r++) {
        float *row = c->x + r * n;
        float m = row[0];
        for (int64_t i = 1; i < n; i++) m = row[i] > m ? row[i] : m;
        float s = 0.0f;
        for (int64_t i = 0; i < n; i++) {
            row[i] = expf(row[i] - m);
            s += row[i];
        }
        const float inv = 1.0f / s;
        for (int64_t i = 0; i < n; i++) row[i] *= inv;
    }
}

void skiff_onnx_softmax(float *x, int64_t rows, int64_t n, int threads) {
    if (n <= 0) return;
    so_sm_ctx ctx = {x, n};
    so_parallel(rows, threads, n >= 4096 ? 1 : 4096 / n + 1, so_sm_range, &ctx);
}

void skiff_onnx_layernorm(const float *x, float *y, int64_t rows, int64_t n, const float *g, const float *b,
                          float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float mean = 0.0f;
        for (int64_t i = 0; i < n; i++) mean += xr[i];
        mean /= (float)n;
        float var = 0.0f;
        for (int64_t i = 0; i < n; i++) {
            const float d = xr[i] - mean;
            var += d * d;
        }
        var /= (float)n;
        const float inv = 1.0f / sqrtf(var + eps);
        for (int64_t i = 0; i < n; i++) {
            float v = (xr[i] - mean) * inv;
            if (g) v *= g[i];
            if (b) v += b[i];
            yr[i] = v;
        }
    }
}

// ---------------------------------------------------------------- CTC greedy head

#if SO_X86
// Cephes expf as in skiff_vision.c (about 1 ulp; inputs below -87.3 give 0).
SO_AVX2 static inline __m256 so_exp8(__m256 x) {
    const float lo = -87.3365478515625f;
    x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));
    const __m256 tooSmall = _mm256_cmp_ps(x, _mm256_set1_ps(lo), _CMP_LT_OQ);
    x = _mm256_max_ps(x, _mm256_set1_ps(lo));
    __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
    return _mm256_blendv_ps(y, _mm256_setzero_ps(), tooSmall);
}

#endif

typedef struct {
    const float *features, *weight, *bias, *logits;
    int64_t rows, dim, classes;
    int32_t *best;
    float *prob, *scratch;
    int threads;
} so_ctc_ctx;

// Rows per product and classes per tile: each thread multiplies all its rows (up to
// SO_CTC_ROWS) by the weight SO_CTC_CLASSES columns at a time, so OpenBLAS packs each weight
// block once per batch instead of once per few rows, and the tile (rows x classes) stays in
// L2; the maximum, its index and the softmax denominator are carried across tiles.
enum { SO_CTC_ROWS = 128, SO_CTC_CLASSES = 1024 };

#if SO_X86
// Tile maximum (first index) of a row segment.
SO_AVX2 static void so_max_avx2(const float *row, int64_t n, float *max, int32_t *index) {
    int64_t i = 0;
    float m = row[0];
    int32_t mi = 0;
    if (n >= 8) {
        __m256 vmax = _mm256_loadu_ps(row);
        __m256i vidx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), cur = vidx;
        const __m256i step = _mm256_set1_epi32(8);
        for (i = 8; i + 8 <= n; i += 8) {
            cur = _mm256_add_epi32(cur, step);
            const __m256 v = _mm256_loadu_ps(row + i);
            const __m256 gt = _mm256_cmp_ps(v, vmax, _CMP_GT_OQ);
            vmax = _mm256_blendv_ps(vmax, v, gt);
            vidx = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(vidx), _mm256_castsi256_ps(cur), gt));
        }
        float lv[8];
        int32_t li[8];
        _mm256_storeu_ps(lv, vmax);
        _mm256_storeu_si256((__m256i *)li, vidx);
        m = lv[0];
        mi = li[0];
        for (int l = 1; l < 8; l++)
            if (lv[l] > m || (lv[l] == m && li[l] < mi)) { m = lv[l]; mi = li[l]; }
    } else {
        i = 1;
    }
    for (; i < n; i++)
        if (row[i] > m) { m = row[i]; mi = (int32_t)i; }
    *max = m;
    *index = mi;
}

SO_AVX2 static double so_expsum_avx2(const float *row, int64_t n, float m) {
    const __m256 vm = _mm256_set1_ps(m);
    __m256 vs = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) vs = _mm256_add_ps(vs, so_exp8(_mm256_sub_ps(_mm256_loadu_ps(row + j), vm)));
    float ls[8];
    _mm256_storeu_ps(ls, vs);
    double s = 0.0;
    for (int l = 0; l < 8; l++) s += ls[l];
    for (; j < n; j++) s += expf(row[j] - m);
    return s;
}
#endif

static void so_tile_max(const float *row, int64_t n, float *max, int32_t *index) {
#if SO_X86
    if (so_has_avx2()) {
        so_max_avx2(row, n, max, index);
        return;
    }
#endif
    float m = row[0];
    int32_t mi = 0;
    for (int64_t i = 1; i < n; i++)
        if (row[i] > m) { m = row[i]; mi = (int32_t)i; }
    *max = m;
    *index = mi;
}

static double so_expsum(const float *row, int64_t n, float m) {
#if SO_X86
    if (so_has_avx2()) return so_expsum_avx2(row, n, m);
#endif
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += expf(row[i] - m);
    return s;
}

// Folds a tile [c0, c0 + n) of a row into the running maximum m (index mi) and sum s of
// exp(l - m): a larger maximum rescales the sum; ties keep the earlier index.
static void so_fold_tile(const float *seg, int64_t n, int64_t c0, float *m, int32_t *mi, double *s, int first) {
    float tm;
    int32_t ti;
    so_tile_max(seg, n, &tm, &ti);
    if (first) {
        *m = tm;
        *mi = (int32_t)c0 + ti;
        *s = so_expsum(seg, n, tm);
    } else if (tm > *m) {
        *s = *s * exp((double)*m - (double)tm) + so_expsum(seg, n, tm);
        *m = tm;
        *mi = (int32_t)c0 + ti;
    } else {
        *s += so_expsum(seg, n, *m);
    }
}

static void so_ctc_thread(void *p, int64_t t0, int64_t t1) {
    const so_ctc_ctx *c = p;
    for (int64_t t = t0; t < t1; t++) {
        const int64_t begin = c->rows * t / c->threads, end = c->rows * (t + 1) / c->threads;
        if (c->logits) {
            for (int64_t r = begin; r < end; r++) {
                float m;
                int32_t mi;
                double s;
                so_fold_tile(c->logits + r * c->classes, c->classes, 0, &m, &mi, &s, 1);
                c->best[r] = mi;
                c->prob[r] = (float)(1.0 / s);
            }
            continue;
        }
        float *tile = c->scratch + t * SO_CTC_ROWS * SO_CTC_CLASSES;
        float ms[SO_CTC_ROWS];
        int32_t mis[SO_CTC_ROWS];
        double ss[SO_CTC_ROWS];
        for (int64_t r = begin; r < end; r += SO_CTC_ROWS) {
            const int64_t nr = end - r < SO_CTC_ROWS ? end - r : SO_CTC_ROWS;
            for (int64_t c0 = 0; c0 < c->classes; c0 += SO_CTC_CLASSES) {
                const int64_t nc = c->classes - c0 < SO_CTC_CLASSES ? c->classes - c0 : SO_CTC_CLASSES;
                skiff_sgemm_nn(nr, nc, c->dim, 1.0f, c->features + r * c->dim, c->dim, c->weight + c0, c->classes,
                               0.0f, tile, nc);
                for (int64_t k = 0; k < nr; k++) {
                    float *seg = tile + k * nc;
                    if (c->bias)
                        for (int64_t i = 0; i < nc; i++) seg[i] += c->bias[c0 + i];
                    so_fold_tile(seg, nc, c0, &ms[k], &mis[k], &ss[k], c0 == 0);
                }
            }
            for (int64_t k = 0; k < nr; k++) {
                c->best[r + k] = mis[k];
                c->prob[r + k] = (float)(1.0 / ss[k]);
            }
        }
    }
}

static void so_ctc_run(so_ctc_ctx *c, int threads) {
    if (threads < 1) threads = 1;
    if (threads > 16) threads = 16;
    const int requested = threads;
    if (threads > c->rows) threads = (int)(c->rows > 0 ? c->rows : 1);
    c->threads = threads;
    if (threads > 1) {
        if (!c->logits) skiff_vision_set_blas_threads(1);
        so_parallel(threads, threads, 1, so_ctc_thread, c);
        if (!c->logits) skiff_vision_set_blas_threads(requested);
    } else {
        so_ctc_thread(c, 0, 1);
    }
}

int64_t skiff_ctc_head_scratch_floats(int64_t classes, int threads) {
    if (threads < 1) threads = 1;
    if (threads > 16) threads = 16;
    (void)classes;
    return (int64_t)threads * SO_CTC_ROWS * SO_CTC_CLASSES;
}

void skiff_ctc_head(const float *features, int64_t rows, int64_t dim, const float *weight, const float *bias,
                    int64_t classes, int32_t *best, float *prob, float *scratch, int threads) {
    if (rows <= 0 || classes <= 0) return;
    so_ctc_ctx c = {features, weight, bias, NULL, rows, dim, classes, best, prob, scratch, 1};
    so_ctc_run(&c, threads);
}

void skiff_ctc_best(const float *logits, int64_t rows, int64_t classes, int32_t *best, float *prob, int threads) {
    if (rows <= 0 || classes <= 0) return;
    so_ctc_ctx c = {NULL, NULL, NULL, logits, rows, 0, classes, best, prob, NULL, 1};
    so_ctc_run(&c, threads);
}

// ---------------------------------------------------------------- CTC head in bfloat16
//
// The head's product (120 x 18,385 per frame in PP-OCRv5) in bfloat16, with the maximum, the
// runner-up and the softmax sum folded in registers as each panel of 8 classes is done. The
// class choice stays the fp32 one: bf16 rounding moves a logit l_c = x . w_c + b_c by at most
// (2^-7 + 2^-16) sum|x_k w_kc| <= 2^-7 |x| |w_c| (products of rounded operands are exact in
// the fp32 sums); fp32's own summation error (~K 2^-24 of that sum) is covered by the 2^-12
// added to the factor. When the two best bf16 logits of a row are further apart than twice
// that, no fp32 ordering can differ; other rows are recomputed in fp32.

#if SO_X86
// Cephes expf over 16 lanes (as so_exp8); inputs below -87.3 (and -inf) give 0.
SO_BF16 static inline __m512 so_exp16(__m512 x) {
    const float lo = -87.3365478515625f;
    x = _mm512_min_ps(x, _mm512_set1_ps(88.0f));
    const __mmask16 tooSmall = _mm512_cmp_ps_mask(x, _mm512_set1_ps(lo), _CMP_LT_OQ);
    x = _mm512_max_ps(x, _mm512_set1_ps(lo));
    const __m512 fx = _mm512_roundscale_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)),
                                           _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201E-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(fx), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps((__mmask16)~tooSmall, y, _mm512_castsi512_ps(e));
}

typedef struct {
    const float *features, *bias;
    const uint32_t *wp;
    int64_t rows, dim, classes;
    float factor;  // (2^-7 + 2^-12) x the largest column norm
    int32_t *best;
    float *prob;
} so_ctcbf_ctx;

// Rows [r0, r0 + valid) (valid <= SO_BF_NR): best, prob, or best = -1 where fp32 must decide.
SO_BF16 static void so_ctcbf_tile(const so_ctcbf_ctx *c, int64_t r0, int64_t valid, uint32_t *tile) {
    const int64_t k = c->dim, k2 = (k + 1) / 2;
    for (int64_t r = 0; r < SO_BF_NR; r++) {
        const float *xr = c->features + (r0 + r) * k;
        for (int64_t p = 0; p < k2; p++) {
            uint32_t v = 0;
            if (r < valid) {
                v = so_to_bf16(xr[2 * p]);
                if (2 * p + 1 < k) v |= (uint32_t)so_to_bf16(xr[2 * p + 1]) << 16;
            }
            tile[p * SO_BF_NR + r] = v;
        }
    }
    const __m512 twenty = _mm512_set1_ps(20.0f), minusInf = _mm512_set1_ps(-INFINITY);
    __m512 m1[3], m2[3], thr[3], sum[3];
    __m512i i1[3];
    for (int j = 0; j < 3; j++) {
        m1[j] = m2[j] = thr[j] = minusInf;
        sum[j] = _mm512_setzero_ps();
        i1[j] = _mm512_setzero_si512();
    }
    const int64_t panels = (c->classes + SO_BF_MR - 1) / SO_BF_MR;
    for (int64_t q = 0; q < panels; q++) {
        const uint32_t *panel = c->wp + q * k2 * SO_BF_MR;
        __m512 acc[SO_BF_MR][3];
        so_bf_panel_tile(panel, tile, k2, acc);
        const int64_t c0 = q * SO_BF_MR, here = c->classes - c0 < SO_BF_MR ? c->classes - c0 : SO_BF_MR;
        for (int64_t i = 0; i < here; i++) {
            const __m512 b = _mm512_set1_ps(c->bias ? c->bias[c0 + i] : 0.0f);
            const __m512i ci = _mm512_set1_epi32((int)(c0 + i));
            for (int j = 0; j < 3; j++) {
                const __m512 v = _mm512_add_ps(acc[i][j], b);
                // Most classes sit far below the row's maximum: nothing to fold for them.
                const __mmask16 near = _mm512_cmp_ps_mask(v, thr[j], _CMP_GT_OQ);
                if (!near) continue;
                m2[j] = _mm512_max_ps(m2[j], _mm512_min_ps(v, m1[j]));
                const __mmask16 gt = _mm512_cmp_ps_mask(v, m1[j], _CMP_GT_OQ);  // ties keep the first
                if (gt) {
                    sum[j] = _mm512_mask_mul_ps(sum[j], gt, sum[j], so_exp16(_mm512_sub_ps(m1[j], v)));
                    m1[j] = _mm512_mask_mov_ps(m1[j], gt, v);
                    i1[j] = _mm512_mask_mov_epi32(i1[j], gt, ci);
                    thr[j] = _mm512_sub_ps(m1[j], twenty);
                }
                sum[j] = _mm512_mask_add_ps(sum[j], near, sum[j], so_exp16(_mm512_sub_ps(v, m1[j])));
            }
        }
    }
    float fm1[SO_BF_NR], fm2[SO_BF_NR], fs[SO_BF_NR];
    int32_t fi[SO_BF_NR];
    for (int j = 0; j < 3; j++) {
        _mm512_storeu_ps(fm1 + 16 * j, m1[j]);
        _mm512_storeu_ps(fm2 + 16 * j, m2[j]);
        _mm512_storeu_ps(fs + 16 * j, sum[j]);
        _mm512_storeu_si512(fi + 16 * j, i1[j]);
    }
    for (int64_t r = 0; r < valid; r++) {
        const float *xr = c->features + (r0 + r) * k;
        double n2 = 0.0;
        for (int64_t j = 0; j < k; j++) n2 += (double)xr[j] * xr[j];
        const double bound = (double)c->factor * sqrt(n2) + 1e-5;
        const int certain = fm1[r] > -INFINITY && fs[r] > 0.0f && (double)fm1[r] - (double)fm2[r] > 2.0 * bound;
        c->best[r0 + r] = certain ? fi[r] : -1;
        c->prob[r0 + r] = certain ? 1.0f / fs[r] : 0.0f;
    }
}

static void so_ctcbf_range(void *p, int64_t begin, int64_t end) {
    so_ctcbf_ctx *c = p;
    const int64_t words = (c->dim + 1) / 2 * SO_BF_NR;
    uint32_t *tile = aligned_alloc(64, (size_t)((words * 4 + 63) / 64 * 64));
    if (!tile) {  // these rows go to fp32
        for (int64_t t = begin; t < end; t++)
            for (int64_t r = t * SO_BF_NR; r < c->rows && r < (t + 1) * SO_BF_NR; r++) c->best[r] = -1;
        return;
    }
    for (int64_t t = begin; t < end; t++) {
        const int64_t r0 = t * SO_BF_NR, valid = c->rows - r0 < SO_BF_NR ? c->rows - r0 : SO_BF_NR;
        so_ctcbf_tile(c, r0, valid, tile);
    }
    free(tile);
}
#endif

int64_t skiff_ctc_head_bf16(const float *features, int64_t rows, int64_t dim, const float *weight,
                            const uint32_t *weight_bf16, float column_norm_max, const float *bias,
                            int64_t classes, int32_t *best, float *prob, float *scratch, int threads) {
#if SO_X86
    if (!skiff_bf16_supported() || !weight_bf16) return -1;
    if (rows <= 0 || classes <= 0) return 0;
    if (threads < 1) threads = 1;
    if (threads > 16) threads = 16;
    so_ctcbf_ctx c = {features, bias, weight_bf16, rows, dim, classes,
                      (float)((1.0 / 128.0 + 1.0 / 4096.0) * column_norm_max), best, prob};
    so_parallel((rows + SO_BF_NR - 1) / SO_BF_NR, threads, 1, so_ctcbf_range, &c);
    int64_t unsure = 0;
    for (int64_t r = 0; r < rows; r++) unsure += best[r] < 0;
    if (unsure == 0) return 0;
    // The rows left to fp32, gathered so that they share the weight's passes.
    float *x = malloc((size_t)(unsure * dim) * sizeof(float));
    int64_t *at = malloc((size_t)unsure * sizeof(int64_t));
    int32_t *b = malloc((size_t)unsure * sizeof(int32_t));
    float *pr = malloc((size_t)unsure * sizeof(float));
    if (!x || !at || !b || !pr) {
        free(x); free(at); free(b); free(pr);
        skiff_ctc_head(features, rows, dim, weight, bias, classes, best, prob, scratch, threads);
        return rows;
    }
    int64_t u = 0;
    for (int64_t r = 0; r < rows; r++)
        if (best[r] < 0) {
            memcpy(x + u * dim, features + r * dim, (size_t)dim * sizeof(float));
            at[u++] = r;
        }
    skiff_ctc_head(x, unsure, dim, weight, bias, classes, b, pr, scratch, threads);
    for (int64_t i = 0; i < unsure; i++) {
        best[at[i]] = b[i];
        prob[at[i]] = pr[i];
    }
    free(x); free(at); free(b); free(pr);
    return unsure;
#else
    (void)features; (void)rows; (void)dim; (void)weight; (void)weight_bf16; (void)column_norm_max; (void)bias;
    (void)classes; (void)best; (void)prob; (void)scratch; (void)threads;
    return -1;
#endif
}

// ---------------------------------------------------------------- element-wise, pooling, resize

typedef struct {
    const float *a, *b;
    float *y;
    int64_t plane;  // b: one value per plane of `plane` values (0: same shape as a)
    int op;
    int b_first;  // per-plane operand on the left (b op a)
} so_bin_ctx;

static inline float so_bin(int op, float x, float z) {
    switch (op) {
    case SKIFF_BIN_ADD: return x + z;
    case SKIFF_BIN_SUB: return x - z;
    case SKIFF_BIN_MUL: return x * z;
    default: return z == 0.0f ? 0.0f : x / z;
    }
}

// Written per op so each loop vectorises; Div keeps the runtime's b == 0 -> 0 rule.
static void so_bin_same_range(void *p, int64_t begin, int64_t end) {
    const so_bin_ctx *c = p;
    const float *a = c->a, *b = c->b;
    float *y = c->y;
    switch (c->op) {
    case SKIFF_BIN_ADD: for (int64_t i = begin; i < end; i++) y[i] = a[i] + b[i]; break;
    case SKIFF_BIN_SUB: for (int64_t i = begin; i < end; i++) y[i] = a[i] - b[i]; break;
    case SKIFF_BIN_MUL: for (int64_t i = begin; i < end; i++) y[i] = a[i] * b[i]; break;
    default: for (int64_t i = begin; i < end; i++) y[i] = so_bin(c->op, a[i], b[i]); break;
    }
}

static void so_bin_plane_range(void *p, int64_t begin, int64_t end) {
    const so_bin_ctx *c = p;
    const int64_t n = c->plane;
    for (int64_t q = begin; q < end; q++) {
        const float *a = c->a + q * n;
        float *y = c->y + q * n;
        const float s = c->b[q];
        if (c->b_first) {
            for (int64_t i = 0; i < n; i++) y[i] = so_bin(c->op, s, a[i]);
            continue;
        }
        switch (c->op) {
        case SKIFF_BIN_ADD: for (int64_t i = 0; i < n; i++) y[i] = a[i] + s; break;
        case SKIFF_BIN_SUB: for (int64_t i = 0; i < n; i++) y[i] = a[i] - s; break;
        case SKIFF_BIN_MUL: for (int64_t i = 0; i < n; i++) y[i] = a[i] * s; break;
        default: for (int64_t i = 0; i < n; i++) y[i] = so_bin(c->op, a[i], s); break;
        }
    }
}

void skiff_binary_same(int op, const float *a, const float *b, float *y, int64_t count, int threads) {
    so_bin_ctx c = {a, b, y, 0, op, 0};
    so_parallel(count, threads, 1 << 16, so_bin_same_range, &c);
}

void skiff_binary_planes(int op, const float *a, const float *per_plane, float *y, int64_t planes, int64_t plane,
                         int scalar_first, int threads) {
    so_bin_ctx c = {a, per_plane, y, plane, op, scalar_first};
    so_parallel(planes, threads, plane >= (1 << 16) ? 1 : (1 << 16) / (plane > 0 ? plane : 1), so_bin_plane_range, &c);
}

typedef struct {
    const float *x;
    float *y;
    int64_t plane;
} so_gap_ctx;

// Mean of each plane, summed in order like the runtime's plain loop.
static void so_gap_range(void *p, int64_t begin, int64_t end) {
    const so_gap_ctx *c = p;
    for (int64_t q = begin; q < end; q++) {
        const float *x = c->x + q * c->plane;
        float s = 0.0f;
        for (int64_t i = 0; i < c->plane; i++) s += x[i];
        c->y[q] = s / (float)c->plane;
    }
}

void skiff_global_average_pool(const float *x, float *y, int64_t planes, int64_t plane, int threads) {
    so_gap_ctx c = {x, y, plane};
    so_parallel(planes, threads, plane >= (1 << 16) ? 1 : (1 << 16) / (plane > 0 ? plane : 1), so_gap_range, &c);
}

typedef struct {
    const float *x;
    float *y;
    int64_t h, w, oh, ow, kh, kw, sh, sw, pt, pl;
    int include_pad;
} so_pool_ctx;

static void so_pool_range(void *p, int64_t begin, int64_t end) {
    const so_pool_ctx *c = p;
    for (int64_t q = begin; q < end; q++) {
        const float *x = c->x + q * c->h * c->w;
        float *y = c->y + q * c->oh * c->ow;
        for (int64_t oy = 0; oy < c->oh; oy++)
            for (int64_t ox = 0; ox < c->ow; ox++) {
                float s = 0.0f;
                int cnt = 0;
                for (int64_t ky = 0; ky < c->kh; ky++) {
                    const int64_t iy = oy * c->sh - c->pt + ky;
                    for (int64_t kx = 0; kx < c->kw; kx++) {
                        const int64_t ix = ox * c->sw - c->pl + kx;
                        if (iy >= 0 && iy < c->h && ix >= 0 && ix < c->w) {
                            s += x[iy * c->w + ix];
                            cnt++;
                        }
                    }
                }
                y[oy * c->ow + ox] = s / (float)(c->include_pad ? c->kh * c->kw : (cnt > 0 ? cnt : 1));
            }
    }
}

void skiff_average_pool(const float *x, float *y, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow,
                        int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t pt, int64_t pl, int include_pad,
                        int threads) {
    so_pool_ctx c = {x, y, h, w, oh, ow, kh, kw, sh, sw, pt, pl, include_pad};
    so_parallel(planes, threads, 8, so_pool_range, &c);
}

typedef struct {
    const float *x;
    float *y;
    const int64_t *xs, *ys;
    int64_t h, w, oh, ow;
} so_rs_ctx;

static void so_resize_range(void *p, int64_t begin, int64_t end) {
    const so_rs_ctx *c = p;
    for (int64_t q = begin; q < end; q++)
        for (int64_t oy = 0; oy < c->oh; oy++) {
            const float *src = c->x + (q * c->h + c->ys[oy]) * c->w;
            float *dst = c->y + (q * c->oh + oy) * c->ow;
            for (int64_t ox = 0; ox < c->ow; ox++) dst[ox] = src[c->xs[ox]];
        }
}

void skiff_resize_nearest(const float *x, float *y, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow,
                          const int64_t *xs, const int64_t *ys, int threads) {
    so_rs_ctx c = {x, y, xs, ys, h, w, oh, ow};
    so_parallel(planes, threads, 1, so_resize_range, &c);
}
