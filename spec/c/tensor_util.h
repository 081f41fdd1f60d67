/* tensor_util.h -- what the kernel tests share: a context, tensors from doubles and elements
 * read back as doubles, whatever the layout. Include after check.h. */
#ifndef DAGL_TENSOR_UTIL_H
#define DAGL_TENSOR_UTIL_H

#include "dagl.h"

static dagl_ctx *ctx;

/* A tensor of dtype dt and shape from doubles (row-major). */
static dagl_tensor *mk(dagl_dtype dt, int nd, const int64_t *shape, const double *v)
{
    dagl_tensor *t;
    CHECK_OK(dagl_tensor_new(ctx, dt, nd, shape, &t));
    int64_t n = dagl_tensor_numel(t), idx[8];
    for (int64_t i = 0; i < n; i++) {
        int64_t r = i;
        for (int d = nd - 1; d >= 0; d--) {
            idx[d] = r % shape[d];
            r /= shape[d];
        }
        CHECK_OK(dagl_set(ctx, t, idx, v[i]));
    }
    return t;
}

/* Element i (row-major over t's logical shape) of any layout, as double. */
static double el(const dagl_tensor *t, int64_t i)
{
    int nd = dagl_tensor_ndim(t);
    const int64_t *shape = dagl_tensor_shape(t);
    int64_t idx[8];
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    double v;
    CHECK_OK(dagl_get(ctx, t, idx, &v));
    return v;
}

#endif
