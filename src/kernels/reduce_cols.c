/* reduce_cols.c -- sum, mean, max and min when the reduced elements of neighbouring outputs
 * are neighbours in memory (sum over dim 0 of a [N, C] matrix, over the batch of a bias
 * gradient): each reduced position contributes a contiguous run to a block of accumulators,
 * a vectorizable loop, instead of one strided walk per output. */
#include "reduce.h"

#define BLOCK 256 /* outputs per task: accumulators stay in L1 */

/* Thread ith's tasks: (outer kept index, block of the contiguous kept dim). BODY runs with
 * `base` (first input of the block), `o` (first output index) and `w` (block width). */
#define FOR_BLOCKS(T, ...)                                                                          \
    int64_t kn = a->kshape[a->nk - 1], nb = (kn + BLOCK - 1) / BLOCK, t0_, t1_;                    \
    dagl__split(a->nout / kn * nb, ith, nth, &t0_, &t1_);                                          \
    for (int64_t t = t0_; t < t1_; t++) {                                                          \
        int64_t o = t / nb * kn + t % nb * BLOCK, w = kn - t % nb * BLOCK;                         \
        if (w > BLOCK) w = BLOCK;                                                                  \
        const T *base = (const T *)a->in + kept_off(a, o);                                         \
        __VA_ARGS__                                                                                \
    }

/* Every reduced position's run of w inputs: p points at it. */
#define FOR_REDUCED(T, ...)                                                                        \
    for (int64_t r = 0; r < a->rows; r++)                                                          \
        for (int64_t i = 0; i < a->rlen; i++) {                                                    \
            const T *restrict p = base + row_off(a, r) + i * a->rs;                                \
            __VA_ARGS__                                                                            \
        }

/* Sums (mean when a->mean) in the accumulator type ACC, written as TO. */
#define DEF_COL_SUM(sfx, T, ACC, TO)                                                               \
    static void colsum_##sfx(const struct red_args *a, int ith, int nth)                           \
    {                                                                                              \
        FOR_BLOCKS(T, ACC acc[BLOCK];                                                              \
                   for (int64_t j = 0; j < w; j++) acc[j] = 0;                                     \
                   FOR_REDUCED(T, for (int64_t j = 0; j < w; j++) acc[j] = ADD_##sfx(acc[j], p[j]);) \
                   TO *out = (TO *)a->out + o;                                                     \
                   for (int64_t j = 0; j < w; j++) out[j] =                                        \
                       a->mean ? (TO)((double)acc[j] / (double)a->count) : (TO)acc[j];)            \
    }
DEF_COL_SUM(f32, float, double, float)
DEF_COL_SUM(f64, double, double, double)
DEF_COL_SUM(i64, int64_t, int64_t, int64_t)

/* Max/min (CMP > or <) propagating NaN; starts from the first reduced position. */
#define DEF_COL_EXT(name, CMP, sfx, T)                                                             \
    static void col##name##_##sfx(const struct red_args *a, int ith, int nth)                      \
    {                                                                                              \
        FOR_BLOCKS(T, T *out = (T *)a->out + o;                                                    \
                   for (int64_t j = 0; j < w; j++) out[j] = base[j];                               \
                   FOR_REDUCED(T, for (int64_t j = 0; j < w; j++) {                                \
                       T x = p[j], m = out[j];                                                     \
                       out[j] = (x CMP m || x != x) ? x : m;                                       \
                   }))                                                                             \
    }
#define DEF_COL_EXTS(sfx, T, dt) DEF_COL_EXT(max, >, sfx, T) DEF_COL_EXT(min, <, sfx, T)
DAGL_FOR_DTYPES(DEF_COL_EXTS)

#define K(op) {[DAGL_F32] = op##_f32, [DAGL_F64] = op##_f64, [DAGL_I64] = op##_i64}
static const red_kernel col_kernels[DAGL_OP_COUNT][DAGL_DTYPE_COUNT] = {
    [DAGL_OP_SUM] = K(colsum), [DAGL_OP_MEAN] = K(colsum), [DAGL_OP_MAX] = K(colmax), [DAGL_OP_MIN] = K(colmin)};

red_kernel dagl__red_cols_kernel(dagl_op op, dagl_dtype dt)
{
    if ((unsigned)op >= DAGL_OP_COUNT || (unsigned)dt >= DAGL_DTYPE_COUNT) return NULL;
    if (op == DAGL_OP_MEAN && dt == DAGL_I64) return NULL; /* float32 result: the general kernel */
    return col_kernels[op][dt];
}
