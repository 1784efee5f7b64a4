// Kernels for the vision encoder (InternViT) and projector: F32 matrix products through
// OpenBLAS, LayerNorm, exact-erf GELU, row softmax, bias and layer-scale residuals, and
// patch extraction for the stride-14 convolution.
//
// Why C and a file of its own: the element-wise passes run over tens of millions of values
// per tile (GELU alone: 100M per 448 tile in InternViT-300M), where vectorised AVX2
// polynomials beat libm's erff/expf by an order of magnitude; the decoder's kernels
// (skiff_kernels.c) round the way llama.cpp does and are not touched by this file.
// Element-wise work is split over `threads` short-lived threads (one call per layer
// step; thread start-up is microseconds next to milliseconds of work).
#ifndef SKIFF_VISION_H
#define SKIFF_VISION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when OpenBLAS could be opened (dlopen on first use); without it products use plain loops.
int skiff_vision_has_blas(void);

/// Sets the number of threads OpenBLAS uses (no-op without OpenBLAS).
void skiff_vision_set_blas_threads(int threads);

/// The core OpenBLAS chose (e.g. "Haswell", "SkylakeX"), or "none".
const char *skiff_vision_blas_core(void);

/// C[i][j] = alpha * sum_k A[i][k] * B[j][k] + beta * C[i][j]   (A: m x k, B: n x k, row-major).
void skiff_sgemm_nt(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                    const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/// C[i][j] = alpha * sum_k A[i][k] * B[k][j] + beta * C[i][j]   (A: m x k, B: k x n, row-major).
void skiff_sgemm_nn(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                    const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/// y = (x - mean) / sqrt(var + eps) * weight + bias for `rows` rows of `n` (two passes: the mean,
/// then the variance around it; 32 float partial sums per pass combined in double).
/// `x` and `y` may be the same buffer.
void skiff_layernorm(const float *x, const float *weight, const float *bias, float *y, int64_t n,
                     int64_t rows, float eps, int threads);

/// x = 0.5 * x * (1 + erf(x / sqrt(2))) in place (PyTorch's GELU, approximate = 'none').
void skiff_gelu_erf(float *x, int64_t count, int threads);

/// y[r][i] += bias[i].
void skiff_add_bias(float *y, const float *bias, int64_t rows, int64_t n, int threads);

/// x[r][i] += scale[i] * (y[r][i] + bias[i])   (a layer-scaled residual with the branch's bias).
void skiff_scaled_residual(float *x, const float *y, const float *bias, const float *scale, int64_t rows,
                           int64_t n, int threads);

/// Each of `rows` rows of `n` values (row stride `ld`) becomes its softmax.
void skiff_softmax_rows(float *x, int64_t rows, int64_t n, int64_t ld, int threads);

/// Multi-head self-attention over `batch` independent sequences of `seq` tokens.
/// qkv: batch*seq rows of [q (heads*head_dim) | k | v] (the fused projection's output).
/// out: batch*seq rows of heads*head_dim. scores: threads*seq*seq floats of scratch.
/// With threads > 1, (sequence, head) pairs run in parallel, each thread calling OpenBLAS
/// with one thread; OpenBLAS is left set to `threads` afterwards.
void skiff_self_attention(const float *qkv, float *out, int64_t batch, int64_t seq, int64_t heads,
                          int64_t head_dim, float scale, float *scores, int threads);

/// The rows a stride-`patch` convolution multiplies: for a channels-first 3 x size x size
/// image, (size/patch)^2 rows of 3*patch*patch values in (channel, y, x) order, patches
/// row-major, matching a PyTorch Conv2d weight [out, 3, patch, patch] flattened per output.
void skiff_patch_rows(const float *image, int64_t size, int64_t patch, float *out);

/// Exact reference versions of the vector approximations, for tests.
float skiff_erf_approx(float x);
float skiff_exp_approx(float x);

#ifdef __cplusplus
}
#endif
#endif
