/* dropout.c -- dropout masks from the counter-based generator: Bernoulli(1 - rate) scaled by
 * 1 / (1 - rate). A graph node passes its run count as the counter, so every training step gets
 * a fresh mask while a fixed seed replays the same sequence; shares are chosen from the size, so
 * the mask is the same at any thread count. */
#include "kernels.h"

#include "core/philox.h"
#include "fastmath.h"

#include <math.h>

/* Keeps draws of dropout masks apart from the context's rand/randn draws under the same seed. */
#define DROPOUT_STREAM ((uint64_t)1 << 63)

dagl_status dagl__dropout_check(dagl_ctx *ctx, dagl_dtype dt, double rate)
{
    if (dt != DAGL_F32 && dt != DAGL_F64)
        return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "dropout_mask: float32 or float64 only, got %s",
                                  dagl_dtype_name(dt));
    if (!(rate >= 0 && rate < 1))
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "dropout_mask: rate must be in [0, 1), got %g", rate);
    return DAGL_OK;
}

/* Fills elements [i0, i1) of a contiguous f32/f64 block with a dropout mask: element i keeps
 * (gets `scale`) when the f32-grid uniform of word i%4 of Philox block i/4 is at least `rate`,
 * else 0. The same uniforms for f32 and f64 masks, so a mask does not depend on the dtype; any
 * split of [i0, i1) gives the same numbers. Blocks go PHILOX_LANES at a time (vectorized). */
DAGL_VEC_CLONES static void bernoulli(dagl_dtype dt, uint64_t seed, uint64_t draw, double rate, double scale,
                                      void *data, int64_t i0, int64_t i1)
{
    /* u(w) = (w >> 8) / 2^24 >= rate exactly when w >> 8 reaches rate * 2^24 (exact: a power of 2) */
    double lim = ceil(rate * 16777216.0);
    uint32_t thr = lim <= 0 ? 0 : lim > 16777216.0 ? 16777217u : (uint32_t)lim;
    uint32_t w[4 * PHILOX_LANES];
    float fs = (float)scale;
    for (int64_t b0 = (i0 >> 2) / PHILOX_LANES * PHILOX_LANES; b0 * 4 < i1; b0 += PHILOX_LANES) {
        philox_lanes((uint64_t)b0, draw, seed, w);
        int64_t lo = b0 * 4 > i0 ? b0 * 4 : i0, hi = (b0 + PHILOX_LANES) * 4 < i1 ? (b0 + PHILOX_LANES) * 4 : i1;
        int64_t at = b0 * 4; /* element i's word: w[i - at] */
        if (dt == DAGL_F32)
            for (int64_t i = lo; i < hi; i++) ((float *)data)[i] = w[i - at] >> 8 >= thr ? fs : 0.0f;
        else
            for (int64_t i = lo; i < hi; i++) ((double *)data)[i] = w[i - at] >> 8 >= thr ? scale : 0.0;
    }
}

struct mask_job {
    dagl_tensor *out;
    uint64_t seed, draw;
    double rate;
};

/* One share of a mask: elements [lo, hi). Element i is a function of (seed, counter, i) only, so the
 * split does not change the mask. */
static void mask_share(void *p, int ith, int nth)
{
    const struct mask_job *j = p;
    int64_t lo, hi;
    dagl__split(j->out->numel, ith, nth, &lo, &hi);
    bernoulli(j->out->dtype, j->seed, j->draw, j->rate, 1.0 / (1.0 - j->rate), j->out->data, lo, hi);
}

dagl_status dagl__dropout_mask_into(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape, double rate,
                              uint64_t seed, uint64_t counter, dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    dagl_status st = dagl__dropout_check(ctx, dt, rate);
    if (!st) st = dagl__check_shape(ctx, "dropout_mask", ndim, shape);
    if (!st) st = dagl__tensor_alloc_dst(ctx, dst, dt, ndim, shape, out);
    if (st) return st;
    struct mask_job j = {*out, seed, counter | DROPOUT_STREAM, rate};
    dagl__parallel(ctx, mask_share, &j, dagl__shares((*out)->numel, 32768));
    return DAGL_OK;
}

/* The public form: the result in fresh memory. */
dagl_status dagl_dropout_mask(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape, double rate,
                              uint64_t seed, uint64_t counter, dagl_tensor **out)
{
    return dagl__dropout_mask_into(ctx, dt, ndim, shape, rate, seed, counter, NULL, out);
}
