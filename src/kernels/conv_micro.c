/* conv_micro.c -- conv2d's inner kernels (see conv_micro.h), written once with GCC vector types
 * and compiled per instruction set: AVX-512 (32 registers: tiles of 24 accumulators), AVX2 and
 * the baseline (16 registers: 12 accumulators). The AVX ones contract a * b + c into FMA
 * (gnu11's default -ffp-contract=fast), the baseline has none; within one instruction set every
 * tile shape gives the same bits. The set is picked at run time from the CPU (cpuid). */
#include "conv_micro.h"

#include <stdatomic.h>
#include <string.h>

#define UNROLL _Pragma("GCC unroll 32")

/* The types of one kernel: E the element, V a vector aligned (packed buffers), VU one at any
 * element boundary. */
#define CT_VTYPES(T, VB)                                                                           \
    typedef T E;                                                                                   \
    typedef T V __attribute__((vector_size(VB)));                                                  \
    typedef T VU __attribute__((vector_size(VB), aligned(sizeof(T)), may_alias));                  \
    enum { VL = (VB) / (int)sizeof(T), NR = NV * VL }

/* acc[i][v] loaded from / stored to an MR x NR tile at c with row stride ldc. */
#define CT_LOAD_ACC(c, ldc)                                                                        \
    UNROLL for (int i = 0; i < MR; i++) UNROLL for (int v = 0; v < NV; v++) acc[i][v] =            \
        *(const VU *)((c) + i * (ldc) + v * VL)
#define CT_STORE_ACC(c, ldc)                                                                       \
    UNROLL for (int i = 0; i < MR; i++) UNROLL for (int v = 0; v < NV; v++)                        \
        *(VU *)((c) + i * (ldc) + v * VL) = acc[i][v]

/* acc[i][v] += s_i * bv[v] for the scalars S(i). */
#define CT_FMA_ROWS(S)                                                                             \
    UNROLL for (int i = 0; i < MR; i++) {                                                          \
        E s_ = (S);                                                                                \
        UNROLL for (int v = 0; v < NV; v++) acc[i][v] += s_ * bv[v];                               \
    }

/* The three kernels of one shape (conv_micro.h): NAME_fwd, NAME_gemm and NAME_kt (through
 * DEF_CT_SHAPE, which expands the name and the shape first). */
#define DEF_CT_SHAPE(...) DEF_CT_SHAPE_(__VA_ARGS__)
#define DEF_CT_SHAPE_(NAME, ATTR, T, VB, NV_, MR_)                                                 \
    ATTR static void NAME##_fwd(const void *const *a_, const int64_t *off, int64_t taps, int64_t C,     \
                                const void *b_, int64_t ldb, void *c_, int64_t ldc, int rows, int cols) \
    {                                                                                              \
        enum { NV = NV_, MR = MR_ };                                                               \
        CT_VTYPES(T, VB);                                                                          \
        const char *const *a = (const char *const *)a_;                                            \
        const T *b = (const T *)b_;                                                                \
        T *c = (T *)c_;                                                                            \
        V acc[MR][NV];                                                                             \
        UNROLL for (int i = 0; i < MR; i++) UNROLL for (int v = 0; v < NV; v++) acc[i][v] = (V){0};  \
        for (int64_t t = 0; t < taps; t++) {                                                       \
            const T *p[MR];                                                                        \
            UNROLL for (int i = 0; i < MR; i++) p[i] = (const T *)(a[i] + off[t]);                 \
            for (int64_t ch = 0; ch < C; ch++, b += ldb) {                                         \
                V bv[NV];                                                                          \
                UNROLL for (int v = 0; v < NV; v++) bv[v] = *(const VU *)(b + v * VL);             \
                CT_FMA_ROWS(p[i][ch])                                                              \
            }                                                                                      \
        }                                                                                          \
        if (rows == MR && cols == NR) {                                                            \
            CT_STORE_ACC(c, ldc);                                                                  \
            return;                                                                                \
        }                                                                                          \
        T tmp[MR * NR];                                                                            \
        CT_STORE_ACC(tmp, NR);                                                                     \
        for (int i = 0; i < rows; i++) memcpy(c + i * ldc, tmp + i * NR, sizeof(T) * (size_t)cols); \
    }                                                                                              \
    ATTR static void NAME##_gemm(const void *a_, const void *b_, int64_t ldb, int64_t steps, void *c_,   \
                                 int64_t ldc)                                                      \
    {                                                                                              \
        enum { NV = NV_, MR = MR_ };                                                               \
        CT_VTYPES(T, VB);                                                                          \
        const T *a = (const T *)a_, *b = (const T *)b_;                                            \
        T *c = (T *)c_;                                                                            \
        V acc[MR][NV];                                                                             \
        CT_LOAD_ACC(c, ldc);                                                                       \
        for (int64_t s = 0; s < steps; s++, a += MR, b += ldb) {                                   \
            V bv[NV];                                                                              \
            UNROLL for (int v = 0; v < NV; v++) bv[v] = *(const VU *)(b + v * VL);                 \
            CT_FMA_ROWS(a[i])                                                                      \
        }                                                                                          \
        CT_STORE_ACC(c, ldc);                                                                      \
    }                                                                                              \
    ATTR static void NAME##_kt(const void *dy_, int64_t ldy, int rows, const void *const *a_,             \
                               const int64_t *ov_, int64_t np, void *c_, int64_t ldc)              \
    {                                                                                              \
        enum { NV = NV_, MR = MR_ };                                                               \
        CT_VTYPES(T, VB);                                                                          \
        const T *dy = (const T *)dy_;                                                              \
        const char *const *a = (const char *const *)a_;                                            \
        T *c = (T *)c_;                                                                            \
        int64_t ov[NV], off[MR];                                                                   \
        for (int v = 0; v < NV; v++) ov[v] = ov_[v];                                               \
        for (int i = 0; i < MR; i++) off[i] = i < rows ? i : rows - 1;                             \
        V acc[MR][NV];                                                                             \
        CT_LOAD_ACC(c, ldc);                                                                       \
        for (int64_t p = 0; p < np; p++, dy += ldy) {                                              \
            V bv[NV];                                                                              \
            UNROLL for (int v = 0; v < NV; v++) bv[v] = *(const VU *)(a[p] + ov[v]);               \
            if (rows == MR) {                                                                      \
                CT_FMA_ROWS(dy[i])                                                                 \
            } else {                                                                               \
                CT_FMA_ROWS(dy[off[i]])                                                            \
            }                                                                                      \
        }                                                                                          \
        CT_STORE_ACC(c, ldc);                                                                      \
    }

/* One instruction set's shapes for both dtypes, and their tables. */
#define DEF_CT_ISA(ISA, ATTR, VB, S1, S2, S3)                                                      \
    DEF_CT_SHAPES(ISA, ATTR, VB, f32, float, S1, S2, S3)                                           \
    DEF_CT_SHAPES(ISA, ATTR, VB, f64, double, S1, S2, S3)
#define CT_NV(nv, mr) nv
#define CT_MR(nv, mr) mr
#define CT_CAT3(a, b, c) a##_##b##_##c
#define CT_NAME(ISA, sfx, k) CT_CAT3(ct_##ISA, sfx, k)
#define DEF_CT_SHAPES(ISA, ATTR, VB, sfx, T, S1, S2, S3)                                           \
    DEF_CT_SHAPE(CT_NAME(ISA, sfx, 1), ATTR, T, VB, CT_NV S1, CT_MR S1)                            \
    DEF_CT_SHAPE(CT_NAME(ISA, sfx, 2), ATTR, T, VB, CT_NV S2, CT_MR S2)                            \
    DEF_CT_SHAPE(CT_NAME(ISA, sfx, 3), ATTR, T, VB, CT_NV S3, CT_MR S3)                            \
    static const struct dagl_ct_shape ISA##_##sfx##_shapes[3] = {                                  \
        {CT_NV S1, CT_MR S1, CT_NAME(ISA, sfx, 1_fwd), CT_NAME(ISA, sfx, 1_gemm), CT_NAME(ISA, sfx, 1_kt)},   \
        {CT_NV S2, CT_MR S2, CT_NAME(ISA, sfx, 2_fwd), CT_NAME(ISA, sfx, 2_gemm), CT_NAME(ISA, sfx, 2_kt)},   \
        {CT_NV S3, CT_MR S3, CT_NAME(ISA, sfx, 3_fwd), CT_NAME(ISA, sfx, 3_gemm), CT_NAME(ISA, sfx, 3_kt)},   \
    };

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CT_X86 1
DEF_CT_ISA(avx512, __attribute__((target("avx512f,avx2,fma"))), 64, (2, 12), (3, 8), (4, 6))
DEF_CT_ISA(avx2, __attribute__((target("avx2,fma"))), 32, (1, 12), (2, 6), (3, 4))
#endif
DEF_CT_ISA(base, , 16, (1, 12), (2, 6), (3, 4))

static const struct dagl_ct_set sets[DAGL_CT_NISA][2] = {
    [DAGL_CT_BASE] = {{DAGL_CT_BASE, 16 / 4, 3, base_f32_shapes}, {DAGL_CT_BASE, 16 / 8, 3, base_f64_shapes}},
#ifdef CT_X86
    [DAGL_CT_AVX2] = {{DAGL_CT_AVX2, 32 / 4, 3, avx2_f32_shapes}, {DAGL_CT_AVX2, 32 / 8, 3, avx2_f64_shapes}},
    [DAGL_CT_AVX512] = {{DAGL_CT_AVX512, 64 / 4, 3, avx512_f32_shapes}, {DAGL_CT_AVX512, 64 / 8, 3, avx512_f64_shapes}},
#endif
};

int dagl__ct_best_isa(void)
{
    static atomic_int best = -1;
    int b = atomic_load_explicit(&best, memory_order_relaxed);
    if (b >= 0) return b;
    b = DAGL_CT_BASE;
#ifdef CT_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) b = DAGL_CT_AVX2;
    if (b == DAGL_CT_AVX2 && __builtin_cpu_supports("avx512f")) b = DAGL_CT_AVX512;
#endif
    atomic_store_explicit(&best, b, memory_order_relaxed);
    return b;
}

const struct dagl_ct_set *dagl__ct_set(int isa, dagl_dtype dt)
{
    if (isa < 0 || isa > dagl__ct_best_isa() || (dt != DAGL_F32 && dt != DAGL_F64)) return NULL;
    const struct dagl_ct_set *s = &sets[isa][dt == DAGL_F64];
    return s->shapes ? s : NULL;
}
