// Kernels for the ONNX graph runtime (SkiffONNX): 2-D convolution (im2col + OpenBLAS sgemm,
// a direct 1x1 path, and direct depthwise loops), transposed convolution with kernel == stride,
// with a fused epilogue (per-channel bias, activation, scalar affine) so a Conv→BN→HardSwish→
// affine chain is one pass over memory.
//
// Why C: the depthwise and epilogue loops run over millions of values per layer and need the
// compiler's vectoriser at -O3 and plain threads; products go to OpenBLAS (skiff_vision.c).
#ifndef SKIFF_ONNX_H
#define SKIFF_ONNX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Activation applied after the bias: y = post_scale * act(x) + post_shift.
enum skiff_act {
    SKIFF_ACT_NONE = 0,
    SKIFF_ACT_RELU = 1,
    SKIFF_ACT_HARDSWISH = 2,  // x * clamp(alpha * x + beta, 0, 1)
    SKIFF_ACT_SWISH = 3,      // x * sigmoid(x)
    SKIFF_ACT_SIGMOID = 4,
    SKIFF_ACT_HARDSIGMOID = 5,  // clamp(alpha * x + beta, 0, 1)
};

typedef struct {
    int act;
    float alpha, beta;  // HardSwish / HardSigmoid parameters
    float post_scale, post_shift;
} skiff_epilogue;

/// Convolution of x [n, c, h, w] with weight [oc, c/groups, kh, kw] (bias [oc] or NULL) into
/// y [n, oc, oh, ow], then the epilogue. pads: top, left, bottom, right.
/// scratch: skiff_conv2d_scratch_floats(..., threads) floats (im2col buffers, one per thread), may be
/// NULL when that is 0; `threads` must be the same in both calls.
int64_t skiff_conv2d_scratch_floats(int64_t c, int64_t h, int64_t w, int64_t oc, int64_t kh, int64_t kw,
                                    int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t pb, int64_t pr,
                                    int64_t dh, int64_t dw, int64_t groups, int threads);
void skiff_conv2d(const float *x, int64_t n, int64_t c, int64_t h, int64_t w, const float *weight,
                  const float *bias, int64_t oc, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t pt,
                  int64_t pl, int64_t pb, int64_t pr, int64_t dh, int64_t dw, int64_t groups,
                  skiff_epilogue epi, const uint32_t *weight_bf16, float *y, float *scratch, int threads);

/// Once per process: glibc keeps large freed blocks for reuse instead of unmapping them (runs
/// allocate tensors of megabytes; see skiff_onnx.c). No-op elsewhere or when malloc is tuned
/// through the environment or SKIFF_MALLOC_DEFAULTS is set.
void skiff_onnx_tune_malloc(void);

/// bfloat16 products (AVX512-BF16): weight_bf16 above, when not NULL, is the weight packed by
/// skiff_bf16_pack_weights(weight, oc, c/groups*kh*kw) and groups is 1; the products then round
/// both operands to bfloat16 and sum in fp32 (about 2x the fp32 rate; relative error ~2^-9 per
/// operand). Without AVX512-BF16 the fp32 product runs and weight_bf16 is ignored.
int skiff_bf16_supported(void);
int64_t skiff_bf16_packed_words(int64_t m, int64_t k);
void skiff_bf16_pack_weights(const float *w, int64_t m, int64_t k, uint32_t *dst);

/// Transposed convolution with kernel == stride and no padding (each input pixel writes its own
/// kh x kw block): x [n, c, h, w], weight pre-arranged as [oc * kh * kw, c], bias [oc] or NULL,
/// y [n, oc, h*kh, w*kw]. scratch: skiff_conv_transpose_scratch_floats(oc, h, w, kh, kw, threads)
/// floats (a few input rows' products per thread; the same `threads`).
int64_t skiff_conv_transpose_scratch_floats(int64_t oc, int64_t h, int64_t w, int64_t kh, int64_t kw, int threads);
void skiff_conv_transpose_blocks(const float *x, int64_t n, int64_t c, int64_t h, int64_t w,
                                 const float *weight_t, const float *bias, int64_t oc, int64_t kh, int64_t kw,
                                 skiff_epilogue epi, float *y, float *scratch, int threads);

/// The epilogue alone, in place over `planes` planes of `plane` values; plane p uses bias[p % channels].
void skiff_epilogue_apply(float *y, int64_t planes, int64_t plane, const float *bias, int64_t channels,
                          skiff_epilogue epi, int threads);

/// Row softmax: each of `rows` rows of `n` becomes its softmax (AVX2 exp when available).
void skiff_onnx_softmax(float *x, int64_t rows, int64_t n, int threads);

/// LayerNorm over the last axis: y = (x - mean) / sqrt(var + eps) * g + b (g, b may be NULL).
void skiff_onnx_layernorm(const float *x, float *y, int64_t rows, int64_t n, const float *g, const float *b,
                          float eps);

/// Element-wise binary operators (Div: x / 0 is 0, as in the runtime's plain loop).
enum skiff_binary_op { SKIFF_BIN_ADD = 0, SKIFF_BIN_SUB = 1, SKIFF_BIN_MUL = 2, SKIFF_BIN_DIV = 3 };

/// y = a op b over `count` values of two same-shape tensors (y may be a or b).
void skiff_binary_same(int op, const float *a, const float *b, float *y, int64_t count, int threads);

/// y = a op s per plane: a holds `planes` planes of `plane` values, per_plane one value each
/// (an NCHW tensor with a [1, C, 1, 1] operand); scalar_first: y = s op a.
void skiff_binary_planes(int op, const float *a, const float *per_plane, float *y, int64_t planes, int64_t plane,
                         int scalar_first, int threads);

/// The mean of each of `planes` planes of `plane` values.
void skiff_global_average_pool(const float *x, float *y, int64_t planes, int64_t plane, int threads);

/// 2-D average pooling of `planes` planes h x w into oh x ow (pads top and left; the divisor is
/// the taps inside the input unless include_pad).
void skiff_average_pool(const float *x, float *y, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow,
                        int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t pt, int64_t pl, int include_pad,
                        int threads);

/// Nearest resize of `planes` planes: y[q][oy][ox] = x[q][ys[oy]][xs[ox]].
void skiff_resize_nearest(const float *x, float *y, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow,
                          const int64_t *xs, const int64_t *ys, int threads);

/// CTC greedy decoding's per-frame figures without the logits tensor: logits = features [rows, dim]
/// x weight [dim, classes] + bias (NULL: none), computed a few rows at a time into scratch
/// (skiff_ctc_head_scratch_floats(classes, threads) floats; same `threads`); for each row the first
/// index of its maximum (best) and that class's softmax probability 1 / sum(exp(l - max)) (prob).
int64_t skiff_ctc_head_scratch_floats(int64_t classes, int threads);
void skiff_ctc_head(const float *features, int64_t rows, int64_t dim, const float *weight, const float *bias,
                    int64_t classes, int32_t *best, float *prob, float *scratch, int threads);

/// The same figures with the products in bfloat16 (AVX512-BF16; returns -1, doing nothing,
/// without it): weight_bf16 is the transposed weight (classes x dim) packed by
/// skiff_bf16_pack_weights(weightT, classes, dim), column_norm_max the largest Euclidean norm
/// of a weight column. The choice of class is the fp32 one: a row whose two best bf16 logits
/// are closer than twice the bound on the rounding error (2^-7 |x| |w_c| per logit) is
/// recomputed with skiff_ctc_head (fp32, `weight`, `scratch` as there). The probability comes
/// from the bf16 logits (exact for recomputed rows); classes more than 20 below the maximum are
/// left out of its sum (each < 2e-9). Returns the number of rows recomputed.
int64_t skiff_ctc_head_bf16(const float *features, int64_t rows, int64_t dim, const float *weight,
                            const uint32_t *weight_bf16, float column_norm_max, const float *bias,
                            int64_t classes, int32_t *best, float *prob, float *scratch, int threads);

/// The same figures from logits already computed (rows x classes).
void skiff_ctc_best(const float *logits, int64_t rows, int64_t classes, int32_t *best, float *prob, int threads);

#ifdef __cplusplus
}
#endif
#endif
