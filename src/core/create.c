/* create.c -- tensors made from a numeric rule: arange and linspace. */
#include "internal.h"

#include <math.h>

/* Counting ranges (torch.arange): start, start+step, ... strictly below (or above, for a
 * negative step) end; count = ceil((end - start) / step), values computed in double. */
dagl_status dagl_arange(dagl_ctx *ctx, dagl_dtype dt, double start, double end, double step,
                        dagl_tensor **out)
{
    if (!out) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "arange: out is NULL");
    *out = NULL;
    if ((unsigned)dt >= DAGL_DTYPE_COUNT)
        return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "arange: unknown dtype %d", (int)dt);
    if (!isfinite(start) || !isfinite(end) || !isfinite(step))
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "arange: start %g, end %g and step %g must be finite",
                                  start, end, step);
    if (step == 0) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "arange: step must be nonzero");
    double n = ceil((end - start) / step);
    if (n < 0)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG,
                                  "arange: step %g has the wrong sign to go from %g to %g", step, start, end);
    if (n > 9.0e15)
        return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "arange: %.0f elements is too many", n);
    int64_t shape[1] = {(int64_t)n};
    dagl_status st = dagl_tensor_new(ctx, dt, 1, shape, out);
    if (st) return st;
    size_t es = dagl_dtype_size(dt);
    for (int64_t i = 0; i < shape[0]; i++) dagl__store(dt, (*out)->data + (size_t)i * es, start + (double)i * step);
    return DAGL_OK;
}

/* n evenly spaced points from start to end inclusive (torch.linspace): the first half counts up
 * from start and the second half down from end, so both ends are exact. */
dagl_status dagl_linspace(dagl_ctx *ctx, dagl_dtype dt, double start, double end, int64_t n,
                          dagl_tensor **out)
{
    if (!out) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "linspace: out is NULL");
    *out = NULL;
    if ((unsigned)dt >= DAGL_DTYPE_COUNT)
        return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "linspace: unknown dtype %d", (int)dt);
    if (n < 0)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "linspace: number of points must be non-negative, got %lld",
                                  (long long)n);
    int64_t shape[1] = {n};
    dagl_status st = dagl_tensor_new(ctx, dt, 1, shape, out);
    if (st) return st;
    size_t es = dagl_dtype_size(dt);
    double step = n > 1 ? (end - start) / (double)(n - 1) : 0.0;
    for (int64_t i = 0; i < n; i++) {
        double v = i < n / 2 ? start + step * (double)i : end - step * (double)(n - 1 - i);
        if (n == 1) v = start;
        dagl__store(dt, (*out)->data + (size_t)i * es, v);
    }
    return DAGL_OK;
}
