/* conv_micro.h -- the register-tiled inner kernels of conv2d (conv_micro.c) as conv_tiles.c sees
 * them: per instruction set and float dtype, a few tile shapes of MR rows x NV vectors of
 * accumulators, each with three kernels. Every output element is summed in the same order
 * whatever the tile shape or the tile's place (from zero, step by step), so the shape and the
 * work split never change results; only the instruction set does (FMA or not), like BLAS's. */
#ifndef DAGL_CONV_MICRO_H
#define DAGL_CONV_MICRO_H

#include "kernels.h"

/* Instruction sets with kernels, in order of preference. */
enum { DAGL_CT_BASE, DAGL_CT_AVX2, DAGL_CT_AVX512, DAGL_CT_NISA };

/* Forward tile: c[i][0..cols) (rows < MR, row stride ldc) = sum over taps t and channels ch of
 * (a[i] + off[t])[ch] * b[(t * C + ch) * ldb ..]: a holds MR window corners (byte addresses of
 * C-vectors), off the taps' byte offsets from a corner, b rows of NR = NV * VL readable columns
 * (a packed kernel panel, ldb = NR, or the kernel itself, ldb = Cout). */
typedef void (*dagl_ct_fwd_fn)(const void *const *a, const int64_t *off, int64_t taps, int64_t C, const void *b,
                               int64_t ldb, void *c, int64_t ldc, int rows, int cols);
/* Packed-A tile: c[MR][NR] (row stride ldc, read and written) += sum over steps s of
 * a[s * MR + i] * b[s * ldb ..]: a is a packed panel, b rows of NR readable columns. */
typedef void (*dagl_ct_gemm_fn)(const void *a, const void *b, int64_t ldb, int64_t steps, void *c, int64_t ldc);
/* Transposed kernel-gradient tile: c[MR][NR] (row stride ldc, read and written) += sum over
 * pixels p < np of dy[p * ldy + min(i, rows - 1)] * (a[p] + ov[v])[..VL]: rows of the output
 * gradient's channels times vectors of input channels under taps (a: the pixels' window
 * corners, ov: each vector's byte offset from one). */
typedef void (*dagl_ct_kt_fn)(const void *dy, int64_t ldy, int rows, const void *const *a, const int64_t *ov,
                              int64_t np, void *c, int64_t ldc);

struct dagl_ct_shape {
    int nv, mr;                   /* accumulators: MR rows x NV vectors */
    dagl_ct_fwd_fn fwd;
    dagl_ct_gemm_fn gemm;
    dagl_ct_kt_fn kt;
};

/* The kernels of one instruction set and dtype: vector length VL (elements) and the shapes. */
struct dagl_ct_set {
    int isa, vl, nshapes;
    const struct dagl_ct_shape *shapes;
};

/* The best instruction set this CPU runs (checked once). */
DAGL_HIDDEN int dagl__ct_best_isa(void);
/* The kernel set of instruction set `isa` (at most the best; lower ones for tests) and dtype dt
 * (f32 or f64), or NULL when this build has none for it. */
DAGL_HIDDEN const struct dagl_ct_set *dagl__ct_set(int isa, dagl_dtype dt);

#endif
