/* reduce.h -- what the reduction files share: the arguments of a reduction after dim
 * bookkeeping, offset helpers, the row sum (also softmax's) and the column kernels
 * (reduce_cols.c). */
#ifndef DAGL_REDUCE_H
#define DAGL_REDUCE_H

#include "kernels.h"

/* A reduction after dim bookkeeping: output element o (contiguous over the kept dims) reduces
 * the elements at in + kept_offset(o) + reduced offsets. Reduced dims are coalesced; the last
 * one (rlen elements, stride rs) is the inner row, the others are walked as `rows`. */
struct red_args {
    int nk, nr;
    int64_t kshape[DAGL_MAX_DIMS], kst[DAGL_MAX_DIMS];
    int64_t rshape[DAGL_MAX_DIMS], rst[DAGL_MAX_DIMS];
    int64_t nout, count, rows, rlen, rs;
    const char *in;
    char *out;
    double vdenom; /* count - correction, for var */
    bool mean;     /* column kernels: divide sums by count */
};

typedef void (*red_kernel)(const struct red_args *a, int ith, int nth);

/* Element offset of output o's first input element (div/mod over the kept dims). */
static inline int64_t kept_off(const struct red_args *a, int64_t o)
{
    int64_t off = 0;
    for (int d = a->nk - 1; d >= 0; d--) {
        off += (o % a->kshape[d]) * a->kst[d];
        o /= a->kshape[d];
    }
    return off;
}

/* Element offset of reduced row r: the reduced dims before the last, in row-major order, so
 * r * rlen + i is the flat index argmax reports. */
static inline int64_t row_off(const struct red_args *a, int64_t r)
{
    int64_t off = 0;
    for (int d = a->nr - 2; d >= 0; d--) {
        off += (r % a->rshape[d]) * a->rst[d];
        r /= a->rshape[d];
    }
    return off;
}

/* Accumulation per dtype: float32 into double, int64 wrapping (signed overflow is undefined). */
#define ADD_f32(acc, x) ((acc) + (double)(x))
#define ADD_f64(acc, x) ((acc) + (x))
#define ADD_i64(acc, x) ((int64_t)((uint64_t)(acc) + (uint64_t)(x)))

/* Sum of one strided row: the sum reduction's and softmax's denominators (one scheme, so a
 * softmax row is summed as x:sum() sums it). Floats add into 8 double lanes: accurate for float32
 * (1e6 x 0.1 is exact to 1e-9 relative), and independent lanes keep the adds pipelined. The order
 * of the adds depends only on n and s. int64 wraps. */
#define DEF_ROW_SUM(sfx, T, ACC)                                                                   \
    static inline ACC sum_row_##sfx(const T *restrict p, int64_t s, int64_t n)                     \
    {                                                                                              \
        ACC l[8] = {0};                                                                            \
        int64_t i = 0;                                                                             \
        if (s == 1)                                                                                \
            for (; i + 8 <= n; i += 8)                                                             \
                for (int j = 0; j < 8; j++) l[j] = ADD_##sfx(l[j], p[i + j]);                      \
        for (; i < n; i++) l[0] = ADD_##sfx(l[0], p[i * s]);                                       \
        return ADD_##sfx(ADD_##sfx(ADD_##sfx(l[0], l[1]), ADD_##sfx(l[2], l[3])),                  \
                         ADD_##sfx(ADD_##sfx(l[4], l[5]), ADD_##sfx(l[6], l[7])));                 \
    }
DEF_ROW_SUM(f32, float, double)
DEF_ROW_SUM(f64, double, double)
DEF_ROW_SUM(i64, int64_t, int64_t)

/* Kernels for reductions whose inner kept dim is the contiguous one (sum over dim 0 of a
 * matrix): whole rows are accumulated into a block of outputs instead of walking each output's
 * strided column. NULL where there is none (op, dtype). */
DAGL_HIDDEN red_kernel dagl__red_cols_kernel(dagl_op op, dagl_dtype dt);
/* A float sum or mean of that kind with few output blocks and many reduced positions, run as
 * chunks of positions (CHUNK, so the split depends on the sizes only) summed in parallel and then
 * added in chunk order; false (nothing done) for other reductions. *st: a failure (no memory). */
DAGL_HIDDEN bool dagl__red_cols_chunked(dagl_ctx *ctx, dagl_op op, dagl_dtype dt, const struct red_args *a,
                                        dagl_status *st);

#endif
