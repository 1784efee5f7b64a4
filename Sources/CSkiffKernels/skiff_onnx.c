// See skiff_onnx.h.
#include "skiff_onnx.h"
#include "skiff_vision.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

// ---------------------------------------------------------------- parallel loops

typedef void (*so_range_fn)(void *ctx, int64_t begin, int64_t end);
typedef struct { so_range_fn fn; void *ctx; int64_t begin, end; } so_job;

static void *so_thread_main(void *arg) {
    so_job *job = arg;
    job->fn(job->ctx, job->begin, job->end);
    return NULL;
}

// Splits [0, count) into up to `threads` ranges when each gets at least `grain` items.
static void so_parallel(int64_t count, int threads, int64_t grain, so_range_fn fn, void *ctx) {
    if (threads > 16) threads = 16;
    if (threads > 1 && count / threads < grain) threads = (int)(count / (grain > 0 ? grain : 1));
    if (threads <= 1) {
        fn(ctx, 0, count);
        return;
    }
    so_job jobs[16];
    pthread_t ids[16];
    int started[16] = {0};
    for (int t = 0; t < threads; t++) jobs[t] = (so_job){fn, ctx, count * t / threads, count * (t + 1) / threads};
    for (int t = 1; t < threads; t++) started[t] = pthread_create(&ids[t], NULL, so_thread_main, &jobs[t]) == 0;
    fn(ctx, jobs[0].begin, jobs[0].end);
    for (int t = 1; t < threads; t++) {
        if (started[t]) pthread_join(ids[t], NULL);
        else fn(ctx, jobs[t].begin, jobs[t].end);
    }
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

int64_t skiff_conv2d_scratch_floats(int64_t c, int64_t h, int64_t w, int64_t oc, int64_t kh, int64_t kw,
                                    int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t pb, int64_t pr,
                                    int64_t dh, int64_t dw, int64_t groups) {
    (void)oc;
    if (groups == c && groups > 1) return 0;  // depthwise: direct
    int64_t oh = so_out_size(h, kh, sh, pt, pb, dh), ow = so_out_size(w, kw, sw, pl, pr, dw);
    if (kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && pb == 0 && pr == 0) return 0;
    return (c / groups) * kh * kw * oh * ow;
}

// col[(ci * kh + ky) * kw + kx][oy * ow + ox] for channels [c0, c0 + cn) of one image.
static void so_im2col(const float *x, int64_t cn, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t sh,
                      int64_t sw, int64_t pt, int64_t pl, int64_t dh, int64_t dw, int64_t oh, int64_t ow,
                      float *col) {
    for (int64_t ci = 0; ci < cn; ci++) {
        const float *xc = x + ci * h * w;
        for (int64_t ky = 0; ky < kh; ky++)
            for (int64_t kx = 0; kx < kw; kx++) {
                float *dst = col + ((ci * kh + ky) * kw + kx) * oh * ow;
                for (int64_t oy = 0; oy < oh; oy++) {
                    const int64_t iy = oy * sh - pt + ky * dh;
                    float *row = dst + oy * ow;
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

void skiff_conv2d(const float *x, int64_t n, int64_t c, int64_t h, int64_t w, const float *weight,
                  const float *bias, int64_t oc, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t pt,
                  int64_t pl, int64_t pb, int64_t pr, int64_t dh, int64_t dw, int64_t groups,
                  skiff_epilogue epi, float *y, float *scratch, int threads) {
    const int64_t oh = so_out_size(h, kh, sh, pt, pb, dh), ow = so_out_size(w, kw, sw, pl, pr, dw);
    if (oh <= 0 || ow <= 0) return;
    if (groups == c && oc == c && groups > 1) {
        so_dw_ctx ctx = {x, weight, bias, y, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, epi};
        so_parallel(n * c, threads, 1, so_dw_range, &ctx);
        return;
    }
    const int64_t cg = c / groups, og = oc / groups, k = cg * kh * kw, plane = oh * ow;
    const int pointwise = kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && pb == 0 && pr == 0;
    for (int64_t b = 0; b < n; b++) {
        for (int64_t g = 0; g < groups; g++) {
            const float *xg = x + (b * c + g * cg) * h * w;
            const float *cols = xg;
            if (!pointwise) {
                so_im2col(xg, cg, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, scratch);
                cols = scratch;
            }
            skiff_sgemm_nn(og, plane, k, 1.0f, weight + g * og * k, k, cols, plane, 0.0f,
                           y + (b * oc + g * og) * plane, plane);
        }
    }
    skiff_epilogue_apply(y, n * oc, plane, bias, oc, epi, threads);
}

void skiff_conv_transpose_blocks(const float *x, int64_t n, int64_t c, int64_t h, int64_t w,
                                 const float *weight_t, const float *bias, int64_t oc, int64_t kh, int64_t kw,
                                 skiff_epilogue epi, float *y, float *scratch, int threads) {
    const int64_t plane = h * w, ow = w * kw;
    for (int64_t b = 0; b < n; b++) {
        // scratch[(o * kh + ky) * kw + kx][i * w + j]
        skiff_sgemm_nn(oc * kh * kw, plane, c, 1.0f, weight_t, c, x + b * c * plane, plane, 0.0f, scratch, plane);
        for (int64_t o = 0; o < oc; o++) {
            float *yo = y + (b * oc + o) * plane * kh * kw;
            for (int64_t ky = 0; ky < kh; ky++)
                for (int64_t kx = 0; kx < kw; kx++) {
                    const float *s = scratch + ((o * kh + ky) * kw + kx) * plane;
                    for (int64_t i = 0; i < h; i++) {
                        float *dst = yo + (i * kh + ky) * ow + kx;
                        const float *src = s + i * w;
                        for (int64_t j = 0; j < w; j++) dst[j * kw] = src[j];
                    }
                }
        }
    }
    skiff_epilogue_apply(y, n * oc, plane * kh * kw, bias, oc, epi, threads);
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
