// Numerical kernels for the Skiff decoder: quantized dot products (GGML block
// formats Q4_0, Q4_1, Q8_0), F32 products through OpenBLAS, RMSNorm, RoPE,
// SiLU-gated MLP and grouped-query attention, run on a small thread pool.
//
// Why C: Swift SIMD types compile the widening int8/fp16 loops several times
// below memory speed; AVX2 intrinsics reach the bandwidth limit. The AVX2 path
// is chosen at run time (cpuid); a portable scalar path covers other CPUs.
#ifndef SKIFF_KERNELS_H
#define SKIFF_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// GGML tensor type numbers (the values stored in GGUF files).
enum skiff_type {
    SKIFF_TYPE_F32 = 0,
    SKIFF_TYPE_F16 = 1,
    SKIFF_TYPE_Q4_0 = 2,
    SKIFF_TYPE_Q4_1 = 3,
    SKIFF_TYPE_Q8_0 = 8,
    SKIFF_TYPE_Q8_1 = 9,
    SKIFF_TYPE_BF16 = 30,
    // Skiff's interleaved layouts (skiff_repack_x4), not GGUF types.
    SKIFF_TYPE_Q4_1_X4 = 1003,
    SKIFF_TYPE_Q8_0_X4 = 1008,
    // Sixteen-row layouts (skiff_repack_x16), not GGUF types.
    SKIFF_TYPE_Q4_0_X16 = 2002,
    SKIFF_TYPE_Q4_1_X16 = 2003,
    SKIFF_TYPE_Q8_0_X16 = 2008,
};

/// Whether OpenBLAS could be loaded (it is opened with dlopen on first use, not linked).
int skiff_has_blas(void);

// Sets OPENBLAS_CORETYPE=SkylakeX before OpenBLAS is opened when the CPU has AVX-512 and the
// variable is unset (OpenBLAS 0.3.21 runs Haswell kernels on Zen 4/5 otherwise). Idempotent.
void skiff_blas_prefer_avx512(void);

/// Bytes one row of `n` elements (a multiple of 32 for block types) takes.
size_t skiff_row_size(int type, int64_t n);

/// 1 when the AVX2/FMA/F16C path is in use.
int skiff_has_avx2(void);
/// 1 when the AVX-512 VNNI kernels (the sixteen-row layouts) are in use.
int skiff_has_avx512_vnni(void);

float skiff_fp16_to_fp32(uint16_t h);
uint16_t skiff_fp32_to_fp16(float f);
void skiff_fp16_to_fp32_row(const uint16_t *src, float *dst, int64_t n);
void skiff_bf16_to_fp32_row(const uint16_t *src, float *dst, int64_t n);

/// Quantizes `n` floats (multiple of 32) to Q8_0 or Q8_1 blocks, the way ggml does.
void skiff_quantize_row_q8_0(const float *x, void *y, int64_t n);
void skiff_quantize_row_q8_1(const float *x, void *y, int64_t n);
/// Rewrites a Q4_1 or Q8_0 matrix (`rows` a multiple of 4) into groups of four interleaved
/// rows, the layout the AVX2 products read fastest; the products give the same bits.
/// `dst` holds rows * skiff_row_size(type, cols) bytes (the same size). Returns the packed
/// type (SKIFF_TYPE_Q4_1_X4, SKIFF_TYPE_Q8_0_X4), or -1 when the type, the row count or the
/// CPU (no AVX2) does not allow it; the matrix is then used as it is.
int skiff_repack_x4(int type, const void *src, int64_t rows, int64_t cols, void *dst);
/// Rewrites a Q4_0, Q4_1 or Q8_0 matrix (`rows` a multiple of 16) into groups of sixteen
/// interleaved rows for the AVX-512 VNNI kernels; the products give the same bits as the
/// GGUF layout's (ggml's rounding). Same size as the source. Returns the packed type
/// (SKIFF_TYPE_*_X16), or -1 when the type, the row count or the CPU (no AVX-512 VNNI)
/// does not allow it.
int skiff_repack_x16(int type, const void *src, int64_t rows, int64_t cols, void *dst);
/// Rows per interleaved group of a kernel type: 16 (SKIFF_TYPE_*_X16), 4 (SKIFF_TYPE_*_X4),
/// or 1 for a GGUF type.
int64_t skiff_layout_rows(int type);
/// `bytes` of zeroed memory, 2 MB aligned and advised for transparent huge pages (weights
/// in packed layouts); `*mapped` receives the size to pass to skiff_weight_free. NULL on failure.
void *skiff_weight_alloc(size_t bytes, size_t *mapped);
void skiff_weight_free(void *p, size_t mapped);
/// Dequantizes one row of any supported type to floats.
int skiff_dequantize_row(int type, const void *x, float *y, int64_t n);

/// Dot product of one weight row of `type` with an activation row already
/// quantized to that type's activation format (Q8_0 for Q4_0/Q8_0, Q8_1 for Q4_1).
float skiff_vec_dot(int type, const void *w, const void *xq, int64_t n);

/// A thread pool; `threads` includes the calling thread.
typedef struct skiff_pool skiff_pool;
skiff_pool *skiff_pool_create(int threads);
void skiff_pool_destroy(skiff_pool *pool);
int skiff_pool_threads(const skiff_pool *pool);

/// y[b*rows + r] = dot(W row r, x[b*cols ...]) for b < batch.
/// W is `rows` rows of `cols` elements of `type` (F32, Q4_0, Q4_1, Q8_0).
/// `scratch` must hold skiff_matmul_scratch_size(type, cols, batch) bytes.
/// Returns 0, or -1 for an unsupported type.
size_t skiff_matmul_scratch_size(int type, int64_t cols, int64_t batch);
int skiff_matmul(skiff_pool *pool, int type, const void *w, int64_t rows, int64_t cols,
                 const float *x, int64_t batch, float *y, void *scratch);

/// Several products of the same input (Q, K, V; gate, up) in one pass: the input is
/// quantized once and the rows of all `count` (<= 4) matrices share one job.
/// y[m] is batch x rows[m]. Scratch as for skiff_matmul.
int skiff_matmul_group(skiff_pool *pool, int type, int count, const void *const *w, const int64_t *rows,
                       int64_t cols, const float *x, int64_t batch, float *const *y, void *scratch);

/// y = x / sqrt(mean(x^2) + eps) * weight, for `batch` rows of `n`.
void skiff_rmsnorm(const float *x, const float *weight, float *y, int64_t n, int64_t batch, float eps);

/// Rotary embedding in place on `batch` rows, each `heads` heads of `head_dim`,
/// row b at position positions[b]. neox = 1 rotates (i, i + d/2) pairs, 0 rotates (2i, 2i+1).
void skiff_rope(float *x, int64_t batch, int64_t heads, int64_t head_dim, const int32_t *positions,
                float base, int neox);

/// gate[i] = silu(gate[i]) * up[i].
void skiff_silu_mul(float *gate, const float *up, int64_t n);

/// Causal grouped-query attention for `batch` new tokens whose first position is `pos0`,
/// with llama.cpp's (non-flash, F32 cache) rounding. q: batch x heads x head_dim.
/// kcache: kv_heads x stride x head_dim; vcache (transposed): kv_heads x head_dim x stride;
/// both already hold positions 0..pos0+batch-1; `stride` is a multiple of 32 and at least
/// pos0+batch rounded up to 32 (entries past the filled positions must be finite).
/// out: batch x heads x head_dim. scratch: threads x round_up(pos0 + batch, 32) floats.
void skiff_attention(skiff_pool *pool, const float *q, const float *kcache, const float *vcache,
                     float *out, int64_t batch, int64_t pos0, int64_t heads, int64_t kv_heads,
                     int64_t head_dim, int64_t stride, float scale, float *scratch);

/// One weight matrix in the layout the products read (a GGUF type, or a packed
/// SKIFF_TYPE_*_X4 layout), `rows` rows.
typedef struct {
    int type;
    const void *data;
    int64_t rows;
} skiff_matrix;

/// One transformer block for skiff_decode_token. Biases may be NULL. The caches are
/// laid out as for skiff_attention.
typedef struct {
    const float *attn_norm, *ffn_norm;
    const float *q_bias, *k_bias, *v_bias;
    skiff_matrix q, k, v, o, gate, up, down;
    float *kcache, *vcache;
} skiff_block;

/// A Llama-family decoder as skiff_decode_token runs it.
typedef struct {
    int64_t hidden, heads, kv_heads, head_dim, ffn, vocab;
    int64_t stride;  // cache positions per head row (a multiple of 32)
    float eps, rope_base, attn_scale;
    int neox;
    int64_t layers;
    const skiff_block *blocks;
    const float *output_norm;
    skiff_matrix output;
} skiff_decoder;

/// 1 when every matrix has a quantized type (Q4_0, Q4_1, Q8_0 or a packed layout) and
/// the shapes fit skiff_decode_token; F32 models take the per-operation path.
int skiff_decode_supported(const skiff_decoder *m);
/// Scratch bytes for skiff_decode_token with `threads` threads at positions < capacity.
size_t skiff_decode_scratch_size(const skiff_decoder *m, int threads, int64_t capacity);
/// One token through every block and the output head as a single pool job: `x` (hidden
/// floats, the token's embedding) is updated in place, its K and V are written at `pos`
/// (the caches hold positions 0..pos-1), and the vocab logits go to `logits`. The same
/// kernels in the same order as the per-operation calls, so the same bits. Returns 0, or
/// -1 when the model is not supported or the scratch is too small.
int skiff_decode_token(skiff_pool *pool, const skiff_decoder *m, float *x, int64_t pos, float *logits,
                       void *scratch, size_t scratch_bytes);

#ifdef __cplusplus
}
#endif
#endif
