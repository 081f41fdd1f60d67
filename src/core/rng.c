/* rng.c -- the context's random numbers: Philox4x32-10, a counter-based generator.
 *
 * Element i of the k-th draw is a pure function of (seed, k, i): the 128-bit Philox counter is
 * (block index of i, k) and the key is the seed. Any split of the element range over threads
 * gives the same numbers as one pass, so results never depend on the thread count.
 *
 * Layout of the words used by element i:
 *   rand  f32: one 32-bit word   -> block i/4, word i%4
 *   rand  f64: two words         -> block i/2, words 2*(i%2), 2*(i%2)+1
 *   randn f32: pair p = i/2 needs two 32-bit uniforms -> block p/2, words 2*(p%2), 2*(p%2)+1
 *   randn f64: pair p needs two 53-bit uniforms (four words) -> block p
 * Box-Muller turns the pair's uniforms (u1, u2) into r*cos(2*pi*u2) for the even element and
 * r*sin(2*pi*u2) for the odd one. */
#include "internal.h"
#include "philox.h"

#include <math.h>

/* Exact f32-grid uniform in [0,1): the top 24 bits as the mantissa. */
static double u24(uint32_t w) { return (double)(w >> 8) * (1.0 / 16777216.0); }

/* Exact f64 uniform in [0,1) from 53 bits of two words. */
static double u53(uint32_t a, uint32_t b)
{
    return ((double)(a >> 5) * 67108864.0 + (double)(b >> 6)) * (1.0 / 9007199254740992.0);
}

/* Box-Muller on (u1, u2) in [0,1): 1-u1 lies in (0,1], so the log is finite. */
static double box_muller(double u1, double u2, int odd)
{
    double r = sqrt(-2.0 * log(1.0 - u1));
    double th = 6.283185307179586476925286766559 * u2;
    return odd ? r * sin(th) : r * cos(th);
}

/* Fills elements [i0, i1) of a contiguous f32/f64 buffer with draw `draw` of seed `seed`:
 * uniforms (normal == 0) or standard normals. The unit of work a worker gets when a big draw is
 * split (ith, nth); the result is independent of the split. */
void dagl__rng_fill(dagl_dtype dt, int normal, uint64_t seed, uint64_t draw, void *data, int64_t i0,
                    int64_t i1)
{
    uint32_t w[4];
    int64_t cached = -1;
    float *f = data;
    double *d = data;
    for (int64_t i = i0; i < i1; i++) {
        /* block index and the first word of element i's group inside the block */
        int64_t blk;
        int j;
        if (!normal && dt == DAGL_F32) blk = i >> 2, j = (int)(i & 3);
        else if (!normal) blk = i >> 1, j = (int)(i & 1) * 2;
        else if (dt == DAGL_F32) blk = i >> 2, j = (int)((i >> 1) & 1) * 2;
        else blk = i >> 1, j = 0;
        if (blk != cached) {
            philox4x32_10((uint64_t)blk, draw, seed, w);
            cached = blk;
        }
        if (!normal && dt == DAGL_F32) f[i] = (float)u24(w[j]);
        else if (!normal) d[i] = u53(w[j], w[j + 1]);
        else if (dt == DAGL_F32) f[i] = (float)box_muller(u24(w[j]), u24(w[j + 1]), (int)(i & 1));
        else d[i] = box_muller(u53(w[0], w[1]), u53(w[2], w[3]), (int)(i & 1));
    }
}

/* Shared body of rand and randn: checks, allocates, fills, and advances the draw counter. */
static dagl_status rng_tensor(dagl_ctx *ctx, const char *op, int normal, dagl_dtype dt, int ndim,
                              const int64_t *shape, dagl_tensor **out)
{
    if (!out) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: out is NULL", op);
    *out = NULL;
    if (dt == DAGL_I64 || dt == DAGL_U8)
        return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "%s: %s is not supported (float32 or float64)", op,
                                  dagl_dtype_name(dt));
    if ((unsigned)dt >= DAGL_DTYPE_COUNT)
        return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "%s: unknown dtype %d", op, (int)dt);
    dagl_status st = dagl__check_shape(ctx, op, ndim, shape);
    if (st) return st;
    st = dagl_tensor_new(ctx, dt, ndim, shape, out);
    if (st) return st;
    uint64_t draw = ctx->draw++;
    dagl__rng_fill(dt, normal, ctx->seed, draw, (*out)->data, 0, (*out)->numel);
    return DAGL_OK;
}

/* Uniform [0,1) numbers from the context's stream. */
dagl_status dagl_rand(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape, dagl_tensor **out)
{
    return rng_tensor(ctx, "rand", 0, dt, ndim, shape, out);
}

/* Standard normal numbers from the context's stream. */
dagl_status dagl_randn(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape, dagl_tensor **out)
{
    return rng_tensor(ctx, "randn", 1, dt, ndim, shape, out);
}
