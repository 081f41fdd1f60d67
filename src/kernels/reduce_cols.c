/* reduce_cols.c -- sum, mean, max and min when the reduced elements of neighbouring outputs
 * are neighbours in memory (sum over dim 0 of a [N, C] matrix, over the batch of a bias
 * gradient): each reduced position contributes a contiguous run to a block of accumulators,
 * a vectorizable loop, instead of one strided walk per output. When there are few outputs
 * and many reduced positions (a convolution's bias gradient: 64 channels over 15,488 pixels),
 * the positions are also split into chunks summed apart and then added in chunk order. */
#include "reduce.h"

#include <stdlib.h>

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

#define CHUNK 512 /* reduced positions a chunk of a chunked column sum */

struct chunked {
    const struct red_args *a;
    dagl_dtype dt;
    int64_t nchunk, nblk; /* chunks of reduced positions; blocks of outputs */
    double *part;         /* nchunk x nout partial sums */
};

/* Sums positions [q0, q1) of output block [o, o + w) into part (one chunk's row of it), four
 * positions an add of the accumulators: float32 and float64 inputs in double. */
#define DEF_CHUNK_SUM(sfx, T)                                                                      \
    static void chunk_sum_##sfx(const struct red_args *a, const T *base, int64_t q0, int64_t q1,  \
                                int64_t w, double *restrict acc)                                   \
    {                                                                                              \
        for (int64_t j = 0; j < w; j++) acc[j] = 0;                                                \
        int64_t q = q0;                                                                            \
        for (; q + 4 <= q1 && (q % a->rlen) + 4 <= a->rlen; q += 4) {                              \
            const T *restrict p = base + row_off(a, q / a->rlen) + (q % a->rlen) * a->rs;          \
            const T *restrict p1 = p + a->rs, *restrict p2 = p1 + a->rs, *restrict p3 = p2 + a->rs; \
            for (int64_t j = 0; j < w; j++)                                                        \
                acc[j] += ((double)p[j] + (double)p1[j]) + ((double)p2[j] + (double)p3[j]);        \
        }                                                                                          \
        for (; q < q1; q++) {                                                                      \
            const T *restrict p = base + row_off(a, q / a->rlen) + (q % a->rlen) * a->rs;          \
            for (int64_t j = 0; j < w; j++) acc[j] += (double)p[j];                                \
        }                                                                                          \
    }
DEF_CHUNK_SUM(f32, float)
DEF_CHUNK_SUM(f64, double)

/* Task t: chunk t / nblk of output block t % nblk (per kept outer index and BLOCK of the inner). */
static void chunk_share(void *arg, int ith, int nth)
{
    const struct chunked *c = arg;
    const struct red_args *a = c->a;
    int64_t kn = a->kshape[a->nk - 1], nb = (kn + BLOCK - 1) / BLOCK, t0, t1;
    dagl__split(c->nchunk * c->nblk, ith, nth, &t0, &t1);
    int64_t positions = a->rows * a->rlen;
    for (int64_t t = t0; t < t1; t++) {
        int64_t ch = t / c->nblk, b = t % c->nblk;
        int64_t o = b / nb * kn + b % nb * BLOCK, w = kn - b % nb * BLOCK;
        if (w > BLOCK) w = BLOCK;
        int64_t q0 = ch * CHUNK, q1 = q0 + CHUNK < positions ? q0 + CHUNK : positions;
        size_t es = dagl_dtype_size(c->dt);
        const char *base = a->in + kept_off(a, o) * (int64_t)es;
        double *acc = c->part + ch * a->nout + o;
        if (c->dt == DAGL_F32) chunk_sum_f32(a, (const float *)base, q0, q1, w, acc);
        else chunk_sum_f64(a, (const double *)base, q0, q1, w, acc);
    }
}

/* Outputs [lo, hi): the chunks' partial sums added in chunk order (mean: divided by count). */
static void chunk_combine(void *arg, int ith, int nth)
{
    const struct chunked *c = arg;
    const struct red_args *a = c->a;
    int64_t lo, hi;
    dagl__split(a->nout, ith, nth, &lo, &hi);
    for (int64_t o = lo; o < hi; o++) {
        double s = 0;
        for (int64_t ch = 0; ch < c->nchunk; ch++) s += c->part[ch * a->nout + o];
        if (a->mean) s /= (double)a->count;
        if (c->dt == DAGL_F32) ((float *)a->out)[o] = (float)s;
        else ((double *)a->out)[o] = s;
    }
}

bool dagl__red_cols_chunked(dagl_ctx *ctx, dagl_op op, dagl_dtype dt, const struct red_args *a, dagl_status *st)
{
    *st = DAGL_OK;
    if ((op != DAGL_OP_SUM && op != DAGL_OP_MEAN) || (dt != DAGL_F32 && dt != DAGL_F64)) return false;
    int64_t kn = a->kshape[a->nk - 1], nblk = a->nout / kn * ((kn + BLOCK - 1) / BLOCK);
    int64_t positions = a->rows * a->rlen, nchunk = (positions + CHUNK - 1) / CHUNK;
    if (nblk >= 8 || nchunk < 4) return false; /* enough output blocks to share, or little to sum */
    struct chunked c = {a, dt, nchunk, nblk, malloc(sizeof(double) * (size_t)(nchunk * a->nout))};
    if (!c.part) {
        *st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory for %lld partial sums", dagl_op_name(op),
                                 (long long)(nchunk * a->nout));
        return true;
    }
    dagl__parallel(ctx, chunk_share, &c, dagl__shares(nchunk * nblk, 1));
    dagl__parallel(ctx, chunk_combine, &c, dagl__shares(a->nout * nchunk, 65536));
    free(c.part);
    return true;
}
