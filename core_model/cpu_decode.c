/* One Llama decode step on the CPU, in one call: embedding -> blocks -> norm -> output head.
 *
 * Built and bound by cpu_decode.py (which documents the design); compiled on the machine it runs on
 * (-O3 -march=native -fopenmp), so the matrix-vector products use what that CPU has:
 *   bf16 weights  AVX512-BF16 `vdpbf16ps` (bf16 pairs multiplied, summed in float32);
 *   int8 weights  AVX512-VNNI `vpdpbusd` on activations quantized to int8 in blocks of 32, each
 *                 block with its own float32 scale (weights: one float32 scale per row);
 *   fp8 weights   float8_e4m3fn widened exactly to bf16 in registers (shifts, and a vpermw table for
 *                 the subnormals), then `vdpbf16ps`; one float32 scale per row (weight-only, like the
 *                 PyTorch "dequant" path off CUDA);
 *   f32 weights   AVX-512 FMA.
 * On a CPU with AVX2 + FMA but no AVX-512 (AMD Zen 2/3, older Intel), int8 weights use vpmaddubsw /
 * vpmaddwd on the same int8 blocks and bf16 weights are widened to float32 for FMA, each weight loaded
 * once for two batch rows (a batched step then costs little more than one row).
 * Each kernel takes 4 weight rows at a time and prefetches the rows it will need a few KB later.
 * Without those extensions (or with -DLS_NO_INTRINSICS) the same arithmetic runs as plain C loops
 * that the compiler vectorizes (`omp simd`). Everything else — RMSNorm, RoPE, attention, SwiGLU, the
 * residual stream — is float32; K/V are stored in the cache in the model's dtype (f32 or bf16).
 *
 * Threads: one OpenMP parallel region per step; every matrix-vector product splits its output rows
 * between the threads, attention splits (row, head) pairs, the small per-token work runs on one
 * thread. The weights, the KV cache and the output logits are PyTorch tensors: this file only holds
 * their addresses and owns nothing but scratch space.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#if defined(__AVX512F__) && !defined(LS_NO_INTRINSICS)
#include <immintrin.h>
#define LS_AVX512 1
#define LS_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#if defined(__AVX512BF16__)
#define LS_AVX512_BF16 1
#endif
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define LS_AVX512_VNNI 1
#endif
#if defined(__AVX512BF16__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define LS_AVX512_FP8 1
#endif
#endif
/* AVX2 + FMA without AVX-512 (e.g. AMD Zen 2/3, Intel before Ice Lake): batched int8 and bf16 kernels
 * that load each weight once for up to 2 input rows (see gemv). */
#if defined(__AVX2__) && defined(__FMA__) && !defined(LS_AVX512) && !defined(LS_NO_INTRINSICS)
#include <immintrin.h>
#define LS_AVX2 1
#define LS_PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#endif

enum { LS_F32 = 0, LS_BF16 = 1, LS_INT8 = 2, LS_FP8 = 3 };
/* Software prefetch distance, about this many bytes of weights ahead (measured best on a 2-core Zen 5
 * EPYC for SmolLM2's shapes: a bf16 group of 4 rows ahead, 4 int8 groups ahead). */
#ifndef LS_PF_BYTES_BF16
#define LS_PF_BYTES_BF16 6144
#endif
#ifndef LS_PF_BYTES_INT8
#define LS_PF_BYTES_INT8 8192
#endif
enum { LS_BLOCK = 32 }; /* int8 activation block (elements per scale) */

typedef struct {
    const void *w;        /* [n, k] row-major, `dtype` */
    const float *scale;   /* int8: [n] per-row scales; NULL otherwise */
    int32_t dtype, n, k;
} ls_linear;

typedef struct {
    int32_t dim, n_layers, n_heads, n_kv_heads, head_dim, hidden, vocab, max_seq_len, max_batch;
    int32_t act_dtype;               /* dtype of the embedding table and of the KV cache */
    float norm_eps;
    const void *tok_embeddings;      /* [vocab, dim] act_dtype */
    const float *rope;               /* [max_seq_len, head_dim / 2, 2] (cos, sin) */
    const float *final_norm;         /* [dim] */
    ls_linear output;
} ls_config;

typedef struct {
    const float *attn_norm, *ffn_norm; /* [dim] */
    ls_linear wqkv, wo, w13, w2;
    void *cache_k, *cache_v;           /* [max_batch, n_kv_heads, max_seq_len, head_dim] act_dtype */
} ls_layer;

/* A linear layer's input, prepared once for all its output rows. */
typedef struct {
    const float *f32;   /* [B, k] */
    uint16_t *bf16;     /* [B, k] */
    float *bf16f;       /* [B, k]: the same bf16 values as float32 (AVX2 kernels) */
    int8_t *q;          /* [B, k] */
    float *qscale;      /* [B, nblocks64 * 16]: per 64 inputs, lanes 0-7 = scale of the first 32 */
    float *qcorr;       /* [B]: 128 * sum_b scale_b * sum(q in block b) (unsigned-weight correction) */
} ls_act;

typedef struct {
    ls_config cfg;
    ls_layer *layers;
    int max_threads, max_k, qkv_n;
    float *x, *xn, *qkv, *attn, *h13, *tmp, *scores, *qscale, *qcorr;
    uint16_t *xb;
    float *xbf;
    int8_t *xq;
    char *tail; /* per thread: 4 rows of max_k float32, for a last partial row group */
} ls_model;

/* -- scalar helpers ---------------------------------------------------------------------------- */

static inline float bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = { (uint32_t)h << 16 };
    return v.f;
}

static inline uint16_t f32_to_bf16(float f) { /* round to nearest even, NaN stays NaN */
    union { float f; uint32_t u; } v = { f };
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40);
    v.u += 0x7fffu + ((v.u >> 16) & 1u);
    return (uint16_t)(v.u >> 16);
}

/* float8_e4m3fn -> bf16 bits, exact: normal numbers move their exponent bias from 7 to 127 (+120 << 7),
 * subnormals (m * 2^-9) come from a table. The NaN codes (0x7f, 0xff) never occur: weights are clamped. */
static const uint16_t FP8_SUBNORMAL_BF16[8] = {0x0000, 0x3b00, 0x3b80, 0x3bc0, 0x3c00, 0x3c20, 0x3c40, 0x3c60};

static inline uint16_t fp8_to_bf16(uint8_t v) {
    const uint16_t em = v & 0x7f, sign = (uint16_t)(v & 0x80) << 8;
    return sign | (em < 8 ? FP8_SUBNORMAL_BF16[em] : (uint16_t)((em << 4) + 0x3c00));
}

static inline float load_act(const void *p, int dtype, long i) {
    return dtype == LS_BF16 ? bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

static inline void store_act(void *p, int dtype, long i, float v) {
    if (dtype == LS_BF16) ((uint16_t *)p)[i] = f32_to_bf16(v);
    else ((float *)p)[i] = v;
}

/* exp for x <= 88.7: 2^n * poly(r), |r| <= ln2/2, degree 6 (relative error ~2e-7); vectorizes. */
static inline float exp_approx(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float n = floorf(x * 1.44269504089f + 0.5f);
    float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.6666667e-1f + r * (4.1666668e-2f +
              r * (8.3333338e-3f + r * 1.3888889e-3f)))));
    union { int32_t i; float f; } s = { ((int32_t)n + 127) << 23 };
    return p * s.f;
}

static void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    float inv = 1.0f / sqrtf(ss / (float)n + eps);
#pragma omp simd
    for (int i = 0; i < n; i++) out[i] = x[i] * inv * w[i];
}

/* -- preparing a linear layer's input ------------------------------------------------------------ */

static void prepare_act(const ls_linear *L, const float *x, int B, ls_model *m, ls_act *a) {
    const int K = L->k;
    a->f32 = x;
    if (L->dtype == LS_BF16 || L->dtype == LS_FP8) {
        a->bf16 = m->xb, a->bf16f = m->xbf;
        for (long i = 0; i < (long)B * K; i++) m->xb[i] = f32_to_bf16(x[i]);
#ifdef LS_AVX2
        for (long i = 0; i < (long)B * K; i++) m->xbf[i] = bf16_to_f32(m->xb[i]);
#endif
    } else if (L->dtype == LS_INT8) {
        const int nb64 = (K + 63) / 64;
        a->q = m->xq, a->qscale = m->qscale, a->qcorr = m->qcorr;
        for (int b = 0; b < B; b++) {
            const float *xr = x + (long)b * K;
            int8_t *q = m->xq + (long)b * K;
            float *sv = m->qscale + (long)b * nb64 * 16;
            float corr = 0.0f;
            memset(sv, 0, sizeof(float) * nb64 * 16);
            for (int k0 = 0; k0 < K; k0 += LS_BLOCK) {
                const int len = K - k0 < LS_BLOCK ? K - k0 : LS_BLOCK;
                float amax = 0.0f;
                for (int i = 0; i < len; i++) amax = fmaxf(amax, fabsf(xr[k0 + i]));
                const float scale = amax / 127.0f, inv = amax > 0.0f ? 127.0f / amax : 0.0f;
                int sum = 0;
                for (int i = 0; i < len; i++) {
                    int v = (int)nearbyintf(xr[k0 + i] * inv);
                    v = v > 127 ? 127 : (v < -127 ? -127 : v);
                    q[k0 + i] = (int8_t)v;
                    sum += v;
                }
                const int blk = k0 / LS_BLOCK;
                float *lanes = sv + (blk / 2) * 16 + (blk % 2) * 8;
                for (int i = 0; i < 8; i++) lanes[i] = scale;
                corr += scale * (float)sum;
            }
            m->qcorr[b] = 128.0f * corr;
        }
    }
}

/* -- dot products of 4 weight rows with one input row --------------------------------------------- */

static void dot4_f32(const float *w, int K, const float *x, float out[4]) {
#ifdef LS_AVX512
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        const __m512 xv = _mm512_loadu_ps(x + k);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + k), xv, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + K + k), xv, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + 2L * K + k), xv, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + 3L * K + k), xv, a3);
    }
    if (k < K) {
        const __mmask16 mk = (__mmask16)((1u << (K - k)) - 1);
        const __m512 xv = _mm512_maskz_loadu_ps(mk, x + k);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, w + k), xv, a0);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, w + K + k), xv, a1);
        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, w + 2L * K + k), xv, a2);
        a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, w + 3L * K + k), xv, a3);
    }
    out[0] = _mm512_reduce_add_ps(a0), out[1] = _mm512_reduce_add_ps(a1);
    out[2] = _mm512_reduce_add_ps(a2), out[3] = _mm512_reduce_add_ps(a3);
#else
    for (int r = 0; r < 4; r++) {
        const float *wr = w + (long)r * K;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int k = 0; k < K; k++) acc += wr[k] * x[k];
        out[r] = acc;
    }
#endif
}

static void dot4_bf16(const uint16_t *w, int K, long pf, const uint16_t *x, float out[4]) {
#ifdef LS_AVX512_BF16
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int k = 0;
    for (; k + 32 <= K; k += 32) {
        const __m512bh xv = (__m512bh)_mm512_loadu_si512(x + k);
        LS_PREFETCH(w + pf + k), LS_PREFETCH(w + pf + K + k);
        LS_PREFETCH(w + pf + 2L * K + k), LS_PREFETCH(w + pf + 3L * K + k);
        a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(w + k), xv);
        a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_loadu_si512(w + K + k), xv);
        a2 = _mm512_dpbf16_ps(a2, (__m512bh)_mm512_loadu_si512(w + 2L * K + k), xv);
        a3 = _mm512_dpbf16_ps(a3, (__m512bh)_mm512_loadu_si512(w + 3L * K + k), xv);
    }
    if (k < K) {
        const __mmask32 mk = (__mmask32)((1ull << (K - k)) - 1);
        const __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(mk, x + k);
        a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_maskz_loadu_epi16(mk, w + k), xv);
        a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_maskz_loadu_epi16(mk, w + K + k), xv);
        a2 = _mm512_dpbf16_ps(a2, (__m512bh)_mm512_maskz_loadu_epi16(mk, w + 2L * K + k), xv);
        a3 = _mm512_dpbf16_ps(a3, (__m512bh)_mm512_maskz_loadu_epi16(mk, w + 3L * K + k), xv);
    }
    out[0] = _mm512_reduce_add_ps(a0), out[1] = _mm512_reduce_add_ps(a1);
    out[2] = _mm512_reduce_add_ps(a2), out[3] = _mm512_reduce_add_ps(a3);
#else
    (void)pf;
    for (int r = 0; r < 4; r++) {
        const uint16_t *wr = w + (long)r * K;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int k = 0; k < K; k++) acc += bf16_to_f32(wr[k]) * bf16_to_f32(x[k]);
        out[r] = acc;
    }
#endif
}

/* int8 rows (without their row scale) . block-quantized input: sum_b scale_b * (w_b . q_b). */
static void dot4_int8(const int8_t *w, int K, long pf, const int8_t *q, const float *sv, float corr,
                      float out[4]) {
#ifdef LS_AVX512_VNNI
    /* vpdpbusd multiplies unsigned by signed bytes: w ^ 0x80 = w + 128 as unsigned, and the extra
     * 128 * sum(q) per block is taken off at the end (corr). */
    const __m512i flip = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int k = 0, j = 0;
    for (; k + 64 <= K; k += 64, j++) {
        const __m512i xv = _mm512_loadu_si512(q + k);
        const __m512 s = _mm512_loadu_ps(sv + j * 16);
        LS_PREFETCH(w + pf + k), LS_PREFETCH(w + pf + K + k);
        LS_PREFETCH(w + pf + 2L * K + k), LS_PREFETCH(w + pf + 3L * K + k);
#define LS_ROW(acc, r)                                                                               \
    acc = _mm512_fmadd_ps(                                                                           \
        _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(                                                      \
            zero, _mm512_xor_si512(_mm512_loadu_si512(w + (long)(r) * K + k), flip), xv)),          \
        s, acc)
        LS_ROW(a0, 0); LS_ROW(a1, 1); LS_ROW(a2, 2); LS_ROW(a3, 3);
#undef LS_ROW
    }
    if (k < K) {
        const __mmask64 mk = (__mmask64)((K - k) >= 64 ? ~0ull : ((1ull << (K - k)) - 1));
        const __m512i xv = _mm512_maskz_loadu_epi8(mk, q + k);
        const __m512 s = _mm512_loadu_ps(sv + j * 16);
#define LS_ROW(acc, r)                                                                               \
    acc = _mm512_fmadd_ps(                                                                           \
        _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(                                                      \
            zero, _mm512_xor_si512(_mm512_maskz_loadu_epi8(mk, w + (long)(r) * K + k), flip), xv)),  \
        s, acc)
        LS_ROW(a0, 0); LS_ROW(a1, 1); LS_ROW(a2, 2); LS_ROW(a3, 3);
#undef LS_ROW
    }
    out[0] = _mm512_reduce_add_ps(a0) - corr, out[1] = _mm512_reduce_add_ps(a1) - corr;
    out[2] = _mm512_reduce_add_ps(a2) - corr, out[3] = _mm512_reduce_add_ps(a3) - corr;
#else
    (void)corr, (void)pf;
    for (int r = 0; r < 4; r++) {
        const int8_t *wr = w + (long)r * K;
        float acc = 0.0f;
        int k0 = 0;
        for (; k0 + LS_BLOCK <= K; k0 += LS_BLOCK) { /* a fixed trip count vectorizes well */
            int32_t d = 0;
            for (int i = 0; i < LS_BLOCK; i++) d += (int16_t)wr[k0 + i] * (int16_t)q[k0 + i];
            const int blk = k0 / LS_BLOCK;
            acc += sv[(blk / 2) * 16 + (blk % 2) * 8] * (float)d;
        }
        if (k0 < K) {
            int32_t d = 0;
            for (int i = k0; i < K; i++) d += (int16_t)wr[i] * (int16_t)q[i];
            const int blk = k0 / LS_BLOCK;
            acc += sv[(blk / 2) * 16 + (blk % 2) * 8] * (float)d;
        }
        out[r] = acc;
    }
#endif
}

#ifdef LS_AVX512_FP8
static inline __m512i fp8x32_to_bf16(__m256i bytes) {
    const __m512i lut = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)FP8_SUBNORMAL_BF16));
    const __m512i v = _mm512_cvtepu8_epi16(bytes);
    const __m512i em = _mm512_and_si512(v, _mm512_set1_epi16(0x7f));
    const __m512i sign = _mm512_slli_epi16(_mm512_and_si512(v, _mm512_set1_epi16(0x80)), 8);
    const __m512i normal = _mm512_add_epi16(_mm512_slli_epi16(em, 4), _mm512_set1_epi16(0x3c00));
    const __mmask32 sub = _mm512_cmplt_epu16_mask(em, _mm512_set1_epi16(8));
    return _mm512_or_si512(_mm512_mask_permutexvar_epi16(normal, sub, em, lut), sign);
}
#endif

/* fp8 rows (without their row scale) . bf16 input. */
static void dot4_fp8(const uint8_t *w, int K, long pf, const uint16_t *x, float out[4]) {
#ifdef LS_AVX512_FP8
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int k = 0; k < K; k += 32) {
        const __mmask32 mk = K - k >= 32 ? ~0u : (__mmask32)((1u << (K - k)) - 1);
        const __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(mk, x + k);
        LS_PREFETCH(w + pf + k), LS_PREFETCH(w + pf + K + k);
        LS_PREFETCH(w + pf + 2L * K + k), LS_PREFETCH(w + pf + 3L * K + k);
#define LS_ROW(acc, r) \
    acc = _mm512_dpbf16_ps(acc, (__m512bh)fp8x32_to_bf16(_mm256_maskz_loadu_epi8(mk, w + (long)(r) * K + k)), xv)
        LS_ROW(a0, 0); LS_ROW(a1, 1); LS_ROW(a2, 2); LS_ROW(a3, 3);
#undef LS_ROW
    }
    out[0] = _mm512_reduce_add_ps(a0), out[1] = _mm512_reduce_add_ps(a1);
    out[2] = _mm512_reduce_add_ps(a2), out[3] = _mm512_reduce_add_ps(a3);
#else
    (void)pf;
    for (int r = 0; r < 4; r++) {
        const uint8_t *wr = w + (long)r * K;
        float acc = 0.0f;
        for (int k = 0; k < K; k++) acc += bf16_to_f32(fp8_to_bf16(wr[k])) * bf16_to_f32(x[k]);
        out[r] = acc;
    }
#endif
}

/* Exposed for the tests: the kernels' fp8 -> bf16 conversion of n bytes. */
void ls_fp8_to_bf16(const uint8_t *in, uint16_t *out, int n) {
    int i = 0;
#ifdef LS_AVX512_FP8
    for (; i + 32 <= n; i += 32)
        _mm512_storeu_si512(out + i, fp8x32_to_bf16(_mm256_loadu_si256((const __m256i *)(in + i))));
#endif
    for (; i < n; i++) out[i] = fp8_to_bf16(in[i]);
}

#ifdef LS_AVX2
/* -- AVX2: 4 weight rows . NB (1 or 2) input rows at once ---------------------------------------------
 * A batched decode step multiplies every weight row with B input rows. The kernels below load (and
 * widen) each piece of a 4-row weight group once per pair of input rows, so B rows cost little more
 * than one in loads and conversions; only the multiply-adds grow with B. Every (weight row, input row)
 * pair is accumulated in the same order whatever NB is and whichever tile it falls in, so a row's
 * logits are bit-identical alone and batched. */

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* int8 weights (without their row scale) . block-quantized inputs q[b]: per block of 32,
 * |w| (unsigned) times sign(w) * q (signed) in 16-bit pairs (at most 2 * 128 * 127: no saturation),
 * summed to 32 bits, then times the block's scale in float32. out[r][b]. */
static inline __attribute__((always_inline)) void dot4xn_int8(const int8_t *w, int K, long pf,
                                                              const int8_t *const q[2],
                                                              const float *const sv[2], const int NB,
                                                              float out[4][2]) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4][2];
    for (int r = 0; r < 4; r++)
        for (int b = 0; b < NB; b++) acc[r][b] = _mm256_setzero_ps();
    int k = 0, blk = 0;
    for (; k + 32 <= K; k += 32, blk++) {
        __m256i wv[4], wa[4];
        for (int r = 0; r < 4; r++) {
            LS_PREFETCH(w + pf + (long)r * K + k);
            wv[r] = _mm256_loadu_si256((const __m256i *)(w + (long)r * K + k));
            wa[r] = _mm256_sign_epi8(wv[r], wv[r]);
        }
        for (int b = 0; b < NB; b++) {
            const __m256i qv = _mm256_loadu_si256((const __m256i *)(q[b] + k));
            const __m256 s = _mm256_loadu_ps(sv[b] + blk * 8); /* 8 copies of this block's scale */
            for (int r = 0; r < 4; r++) {
                const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(wa[r], _mm256_sign_epi8(qv, wv[r])), ones);
                acc[r][b] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), s, acc[r][b]);
            }
        }
    }
    for (int r = 0; r < 4; r++) {
        for (int b = 0; b < NB; b++) {
            float t = hsum8(acc[r][b]);
            if (k < K) { /* the last, partial block */
                int32_t d = 0;
                for (int i = k; i < K; i++) d += (int16_t)w[(long)r * K + i] * (int16_t)q[b][i];
                t += sv[b][blk * 8] * (float)d;
            }
            out[r][b] = t;
        }
    }
}

static inline __m256 bf16x8_to_f32(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

/* bf16 weights . inputs rounded to bf16 and held as float32 (x[b]): the products are exact in float32,
 * like vdpbf16ps's. out[r][b]. */
static inline __attribute__((always_inline)) void dot4xn_bf16(const uint16_t *w, int K, long pf,
                                                              const float *const x[2], const int NB,
                                                              float out[4][2]) {
    __m256 acc[4][2];
    for (int r = 0; r < 4; r++)
        for (int b = 0; b < NB; b++) acc[r][b] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 wv[4];
        for (int r = 0; r < 4; r++) {
            if ((k & 31) == 0) LS_PREFETCH(w + pf + (long)r * K + k);
            wv[r] = bf16x8_to_f32(w + (long)r * K + k);
        }
        for (int b = 0; b < NB; b++) {
            const __m256 xv = _mm256_loadu_ps(x[b] + k);
            for (int r = 0; r < 4; r++) acc[r][b] = _mm256_fmadd_ps(wv[r], xv, acc[r][b]);
        }
    }
    for (int r = 0; r < 4; r++) {
        for (int b = 0; b < NB; b++) {
            float t = hsum8(acc[r][b]);
            for (int i = k; i < K; i++) t += bf16_to_f32(w[(long)r * K + i]) * x[b][i];
            out[r][b] = t;
        }
    }
}

/* One 4-row weight group (w, rows of them valid) times input rows b0, b0 + 1 (NB of them): y[b, n0 + r]. */
static void group_avx2(const ls_linear *L, const ls_act *a, const char *w, int n0, int rows, int b0, int NB,
                       long pf, float *y) {
    const int N = L->n, K = L->k, nb64 = (K + 63) / 64;
    float out[4][2];
    if (L->dtype == LS_INT8) {
        const int8_t *q[2] = {a->q + (long)b0 * K, a->q + (long)(b0 + NB - 1) * K};
        const float *sv[2] = {a->qscale + (long)b0 * nb64 * 16, a->qscale + (long)(b0 + NB - 1) * nb64 * 16};
        if (NB == 2) dot4xn_int8((const int8_t *)w, K, pf, q, sv, 2, out);
        else dot4xn_int8((const int8_t *)w, K, pf, q, sv, 1, out);
    } else {
        const float *x[2] = {a->bf16f + (long)b0 * K, a->bf16f + (long)(b0 + NB - 1) * K};
        if (NB == 2) dot4xn_bf16((const uint16_t *)w, K, pf, x, 2, out);
        else dot4xn_bf16((const uint16_t *)w, K, pf, x, 1, out);
    }
    for (int b = 0; b < NB; b++)
        for (int r = 0; r < rows; r++)
            y[(long)(b0 + b) * N + n0 + r] = L->dtype == LS_INT8 ? out[r][b] * L->scale[n0 + r] : out[r][b];
}
#endif

/* y[b, n] = W[n] . x[b] for every row of W, split between the team's threads (call it from inside
 * the parallel region; it ends with the team's barrier). Rows past the last group of 4 are done as
 * a group over a zero-padded copy (the thread's `tail` scratch), so every kernel sees 4 rows. */
static void gemv(ls_model *m, const ls_linear *L, const ls_act *a, int B, float *y) {
    const int N = L->n, K = L->k, groups = (N + 3) / 4, nb64 = (K + 63) / 64;
    const size_t esize = L->dtype == LS_F32 ? 4 : (L->dtype == LS_BF16 ? 2 : 1);
    /* Prefetch the same columns of a row group about LS_PF_BYTES_* ahead (pf, in elements): the
     * hardware prefetcher alone leaves the 4 short row streams of a group waiting on memory
     * (measured: 11% faster bf16 steps, 30% faster int8 steps). */
    const long group_bytes = 4L * K * (long)esize;
    const long want = L->dtype == LS_BF16 ? LS_PF_BYTES_BF16 : LS_PF_BYTES_INT8;
    const long pf = 4L * K * (group_bytes >= want ? 1 : (want + group_bytes / 2) / group_bytes);
#pragma omp for schedule(static)
    for (int g = 0; g < groups; g++) {
        const int n0 = g * 4, rows = N - n0 < 4 ? N - n0 : 4;
        const char *w = (const char *)L->w + (size_t)n0 * K * esize;
        if (rows < 4) { /* the last, partial group */
            char *padded = m->tail + (size_t)omp_get_thread_num() * 4 * m->max_k * sizeof(float);
            memset(padded, 0, 4 * (size_t)K * esize);
            memcpy(padded, w, (size_t)rows * K * esize);
            w = padded;
        }
#ifdef LS_AVX2
        if (L->dtype == LS_INT8 || L->dtype == LS_BF16) {
            for (int b0 = 0; b0 < B; b0 += 2) group_avx2(L, a, w, n0, rows, b0, B - b0 < 2 ? B - b0 : 2, pf, y);
            continue;
        }
#endif
        for (int b = 0; b < B; b++) {
            float out[4];
            if (L->dtype == LS_F32) {
                dot4_f32((const float *)w, K, a->f32 + (long)b * K, out);
            } else if (L->dtype == LS_BF16) {
                dot4_bf16((const uint16_t *)w, K, pf, a->bf16 + (long)b * K, out);
            } else if (L->dtype == LS_FP8) {
                dot4_fp8((const uint8_t *)w, K, pf, a->bf16 + (long)b * K, out);
                for (int r = 0; r < rows; r++) out[r] *= L->scale[n0 + r];
            } else {
                dot4_int8((const int8_t *)w, K, pf, a->q + (long)b * K, a->qscale + (long)b * nb64 * 16,
                          a->qcorr[b], out);
                for (int r = 0; r < rows; r++) out[r] *= L->scale[n0 + r];
            }
            for (int r = 0; r < rows; r++) y[(long)b * N + n0 + r] = out[r];
        }
    }
}

/* -- attention -------------------------------------------------------------------------------------- */

static void rope_and_store(ls_model *m, const ls_layer *L, int B, const int64_t *pos, const int64_t *rows) {
    const ls_config *c = &m->cfg;
    const int hd = c->head_dim, nq = c->n_heads, nkv = c->n_kv_heads, S = c->max_seq_len;
    const int heads = nq + nkv; /* q heads then k heads get RoPE; v heads are only stored */
#pragma omp for schedule(static)
    for (int i = 0; i < B * (heads + nkv); i++) {
        const int b = i / (heads + nkv), h = i % (heads + nkv);
        float *v = m->qkv + (long)b * m->qkv_n + (long)h * hd;
        if (h < heads) {
            const float *cs = c->rope + pos[b] * hd; /* (cos, sin) pairs */
            for (int j = 0; j < hd / 2; j++) {
                const float x0 = v[2 * j], x1 = v[2 * j + 1], co = cs[2 * j], si = cs[2 * j + 1];
                v[2 * j] = x0 * co - x1 * si;
                v[2 * j + 1] = x0 * si + x1 * co;
            }
        }
        if (h >= nq) { /* k or v: into the cache at this row's position */
            const int kvh = h < heads ? h - nq : h - heads;
            void *cache = h < heads ? L->cache_k : L->cache_v;
            const long base = (((long)rows[b] * nkv + kvh) * S + pos[b]) * hd;
            for (int j = 0; j < hd; j++) store_act(cache, c->act_dtype, base + j, v[j]);
        }
    }
}

/* scores[t] = exp(scores[t] - mx) for t < n; returns their sum (the softmax denominator). */
static float exp_shifted(float *scores, int n, float mx) {
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int t = 0; t < n; t++) {
        scores[t] = exp_approx(scores[t] - mx);
        sum += scores[t];
    }
    return sum;
}

#ifdef LS_AVX512
static inline __m512 load_bf16x16(const uint16_t *p) { /* 16 bf16 -> 16 float32 */
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}

/* One head over a bf16 cache, head_dim a multiple of 16 (at most 256): scores, softmax, weighted V. */
static void attend_bf16(const float *q, const uint16_t *kc, const uint16_t *vc, int n, int hd, float scale,
                        float *scores, float *out) {
    const int nv = hd / 16;
    __m512 qv[16], acc[16];
    for (int c = 0; c < nv; c++) qv[c] = _mm512_mul_ps(_mm512_loadu_ps(q + 16 * c), _mm512_set1_ps(scale));
    float mx = -INFINITY;
    for (int t = 0; t < n; t++) {
        const uint16_t *k = kc + (long)t * hd;
        __m512 s = _mm512_setzero_ps();
        for (int c = 0; c < nv; c++) {
            s = _mm512_fmadd_ps(qv[c], load_bf16x16(k + 16 * c), s);
        }
        const float v = _mm512_reduce_add_ps(s);
        scores[t] = v;
        mx = v > mx ? v : mx;
    }
    const float sum = exp_shifted(scores, n, mx);
    for (int c = 0; c < nv; c++) acc[c] = _mm512_setzero_ps();
    for (int t = 0; t < n; t++) {
        const uint16_t *v = vc + (long)t * hd;
        const __m512 p = _mm512_set1_ps(scores[t]);
        for (int c = 0; c < nv; c++) {
            acc[c] = _mm512_fmadd_ps(p, load_bf16x16(v + 16 * c), acc[c]);
        }
    }
    const __m512 inv = _mm512_set1_ps(1.0f / sum);
    for (int c = 0; c < nv; c++) _mm512_storeu_ps(out + 16 * c, _mm512_mul_ps(acc[c], inv));
}
#endif

static void attention(ls_model *m, const ls_layer *L, int B, const int64_t *pos, const int64_t *rows) {
    const ls_config *c = &m->cfg;
    const int hd = c->head_dim, nq = c->n_heads, nkv = c->n_kv_heads, S = c->max_seq_len;
    const int rep = nq / nkv, dt = c->act_dtype;
    const float scale = 1.0f / sqrtf((float)hd);
    float *scores = m->scores + (long)omp_get_thread_num() * S;
#pragma omp for schedule(static)
    for (int i = 0; i < B * nq; i++) {
        const int b = i / nq, h = i % nq, kvh = h / rep, n = (int)pos[b] + 1;
        const float *q = m->qkv + (long)b * m->qkv_n + (long)h * hd;
        const long base = ((long)rows[b] * nkv + kvh) * S * hd;
#ifdef LS_AVX512
        if (dt == LS_BF16 && hd % 16 == 0 && hd <= 256) {
            attend_bf16(q, (const uint16_t *)L->cache_k + base, (const uint16_t *)L->cache_v + base, n, hd,
                        scale, scores, m->attn + (long)b * nq * hd + (long)h * hd);
            continue;
        }
#endif
        float mx = -INFINITY;
        for (int t = 0; t < n; t++) {
            float s = 0.0f;
            if (dt == LS_BF16) {
                const uint16_t *k = (const uint16_t *)L->cache_k + base + (long)t * hd;
#pragma omp simd reduction(+ : s)
                for (int j = 0; j < hd; j++) s += q[j] * bf16_to_f32(k[j]);
            } else {
                const float *k = (const float *)L->cache_k + base + (long)t * hd;
#pragma omp simd reduction(+ : s)
                for (int j = 0; j < hd; j++) s += q[j] * k[j];
            }
            s *= scale;
            scores[t] = s;
            mx = s > mx ? s : mx;
        }
        const float sum = exp_shifted(scores, n, mx);
        float *out = m->attn + (long)b * nq * hd + (long)h * hd;
        const float inv = 1.0f / sum;
        for (int j = 0; j < hd; j++) out[j] = 0.0f;
        for (int t = 0; t < n; t++) {
            const float p = scores[t] * inv;
            if (dt == LS_BF16) {
                const uint16_t *v = (const uint16_t *)L->cache_v + base + (long)t * hd;
#pragma omp simd
                for (int j = 0; j < hd; j++) out[j] += p * bf16_to_f32(v[j]);
            } else {
                const float *v = (const float *)L->cache_v + base + (long)t * hd;
#pragma omp simd
                for (int j = 0; j < hd; j++) out[j] += p * v[j];
            }
        }
    }
}

/* -- the step ------------------------------------------------------------------------------------- */

static void norm_rows(ls_model *m, const float *w, int B) {
    const int d = m->cfg.dim;
    for (int b = 0; b < B; b++) rmsnorm(m->xn + (long)b * d, m->x + (long)b * d, w, d, m->cfg.norm_eps);
}

static void add_rows(float *x, const float *y, long n) {
#pragma omp simd
    for (long i = 0; i < n; i++) x[i] += y[i];
}

/* Decodes B rows: row b feeds tokens[b] at position pos[b] into cache row rows[b] (NULL: row b), so
 * the busy cache rows of a serving batch decode without the idle rows between them. */
int ls_decode(void *handle, int B, const int64_t *tokens, const int64_t *pos, const int64_t *rows, float *logits,
              int nthreads) {
    ls_model *m = (ls_model *)handle;
    const ls_config *c = &m->cfg;
    if (B < 1 || B > c->max_batch) return 1;
    for (int b = 0; b < B; b++) {
        if (tokens[b] < 0 || tokens[b] >= c->vocab) return 2;
        if (pos[b] < 0 || pos[b] >= c->max_seq_len) return 3;
        if (rows) {
            if (rows[b] < 0 || rows[b] >= c->max_batch) return 4;
            for (int j = 0; j < b; j++)
                if (rows[j] == rows[b]) return 4;
        }
    }
    int64_t identity[c->max_batch];
    if (!rows) {
        for (int b = 0; b < B; b++) identity[b] = b;
        rows = identity;
    }
    if (nthreads < 1) nthreads = 1;
    if (nthreads > m->max_threads) nthreads = m->max_threads;
    const int d = c->dim, hidden = c->hidden;
    ls_act act;
    memset(&act, 0, sizeof act);

#pragma omp parallel num_threads(nthreads)
    {
#pragma omp single
        for (int b = 0; b < B; b++)
            for (int i = 0; i < d; i++)
                m->x[(long)b * d + i] = load_act(c->tok_embeddings, c->act_dtype, tokens[b] * (long)d + i);

        for (int l = 0; l < c->n_layers; l++) {
            const ls_layer *L = &m->layers[l];
#pragma omp single
            {
                norm_rows(m, L->attn_norm, B);
                prepare_act(&L->wqkv, m->xn, B, m, &act);
            }
            gemv(m, &L->wqkv, &act, B, m->qkv);
            rope_and_store(m, L, B, pos, rows);
            attention(m, L, B, pos, rows);
#pragma omp single
            prepare_act(&L->wo, m->attn, B, m, &act);
            gemv(m, &L->wo, &act, B, m->tmp);
#pragma omp single
            {
                add_rows(m->x, m->tmp, (long)B * d);
                norm_rows(m, L->ffn_norm, B);
                prepare_act(&L->w13, m->xn, B, m, &act);
            }
            gemv(m, &L->w13, &act, B, m->h13);
#pragma omp single
            { /* SwiGLU: silu(gate) * up, written over the gate half of each row */
                for (int b = 0; b < B; b++) {
                    float *g = m->h13 + (long)b * 2 * hidden, *u = g + hidden, *o = m->attn + (long)b * hidden;
#pragma omp simd
                    for (int i = 0; i < hidden; i++) o[i] = g[i] / (1.0f + exp_approx(-g[i])) * u[i];
                }
                prepare_act(&L->w2, m->attn, B, m, &act);
            }
            gemv(m, &L->w2, &act, B, m->tmp);
#pragma omp single
            add_rows(m->x, m->tmp, (long)B * d);
        }
#pragma omp single
        {
            norm_rows(m, c->final_norm, B);
            prepare_act(&c->output, m->xn, B, m, &act);
        }
        gemv(m, &c->output, &act, B, logits);
    }
    return 0;
}

/* -- life cycle --------------------------------------------------------------------------------------- */

static int linear_ok(const ls_linear *L, int n, int k) {
    return L->w && L->n == n && L->k == k &&
           (L->dtype == LS_F32 || L->dtype == LS_BF16 || ((L->dtype == LS_INT8 || L->dtype == LS_FP8) && L->scale));
}

void ls_destroy(void *handle) {
    ls_model *m = (ls_model *)handle;
    if (!m) return;
    free(m->layers), free(m->x), free(m->xn), free(m->qkv), free(m->attn), free(m->h13), free(m->tmp);
    free(m->scores), free(m->qscale), free(m->qcorr), free(m->xb), free(m->xbf), free(m->xq), free(m->tail);
    free(m);
}

/* Copies the configuration and the layer table; returns NULL if a shape does not fit. */
void *ls_create(const ls_config *cfg, const ls_layer *layers, int max_threads) {
    const int d = cfg->dim, hd = cfg->head_dim, nq = cfg->n_heads, nkv = cfg->n_kv_heads;
    const int hid = cfg->hidden, B = cfg->max_batch;
    if (d < 1 || hd < 2 || hd % 2 || nq < 1 || nkv < 1 || nq % nkv || hid < 1 || B < 1 ||
        cfg->max_seq_len < 1 || cfg->n_layers < 1 || max_threads < 1 ||
        (cfg->act_dtype != LS_F32 && cfg->act_dtype != LS_BF16))
        return NULL;
    const int qkv_n = (nq + 2 * nkv) * hd;
    if (!linear_ok(&cfg->output, cfg->vocab, d)) return NULL;
    for (int l = 0; l < cfg->n_layers; l++) {
        const ls_layer *L = &layers[l];
        if (!linear_ok(&L->wqkv, qkv_n, d) || !linear_ok(&L->wo, d, nq * hd) ||
            !linear_ok(&L->w13, 2 * hid, d) || !linear_ok(&L->w2, d, hid) || !L->cache_k || !L->cache_v)
            return NULL;
    }
    ls_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cfg = *cfg;
    m->max_threads = max_threads;
    m->qkv_n = qkv_n;
    int max_k = d > hid ? d : hid;
    max_k = max_k > nq * hd ? max_k : nq * hd;
    m->max_k = max_k;
    m->layers = malloc(sizeof(ls_layer) * cfg->n_layers);
    m->x = malloc(sizeof(float) * B * d);
    m->xn = malloc(sizeof(float) * B * d);
    m->qkv = malloc(sizeof(float) * B * qkv_n);
    m->attn = malloc(sizeof(float) * B * max_k);
    m->h13 = malloc(sizeof(float) * B * 2 * hid);
    m->tmp = malloc(sizeof(float) * B * d);
    m->scores = malloc(sizeof(float) * (size_t)max_threads * cfg->max_seq_len);
    m->qscale = malloc(sizeof(float) * B * ((max_k + 63) / 64) * 16);
    m->qcorr = malloc(sizeof(float) * B);
    m->xb = malloc(sizeof(uint16_t) * B * max_k);
    m->xbf = malloc(sizeof(float) * B * max_k);
    m->xq = malloc((size_t)B * max_k);
    m->tail = malloc((size_t)max_threads * 4 * max_k * sizeof(float));
    if (!m->tail || !m->layers || !m->x || !m->xn || !m->qkv || !m->attn || !m->h13 || !m->tmp || !m->scores ||
        !m->qscale || !m->qcorr || !m->xb || !m->xbf || !m->xq) {
        ls_destroy(m);
        return NULL;
    }
    memcpy(m->layers, layers, sizeof(ls_layer) * cfg->n_layers);
    return m;
}

/* Which fast kernels this build has: 1 = AVX-512, 2 = AVX512-BF16, 4 = AVX512-VNNI, 8 = fp8 via BF16,
 * 16 = AVX2 (int8 and bf16). */
int ls_features(void) {
    int f = 0;
#ifdef LS_AVX512
    f |= 1;
#endif
#ifdef LS_AVX512_BF16
    f |= 2;
#endif
#ifdef LS_AVX512_VNNI
    f |= 4;
#endif
#ifdef LS_AVX512_FP8
    f |= 8;
#endif
#ifdef LS_AVX2
    f |= 16;
#endif
    return f;
}
