/* concat.c -- joining tensors along a dim (concat) and its gradient partner slice_scatter (a
 * zero tensor with a source written at a slice of it). Both write through views of the output
 * with dagl_copy_into, so every layout and the three dtypes work with no kernel of their own. */
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

/* The joined shape, with one message per way the operands can disagree (as both graph inference
 * and the eager call report them). */
dagl_status dagl__concat_shape(dagl_ctx *ctx, int n, const dagl__shape_ref *in, int dim, int *ndim, int64_t *shape)
{
    char b1[160], b2[160];
    if (n < 1) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "concat: no tensors to join");
    int nd = in[0].ndim, d = dagl__wrap_dim(dim, nd);
    if (nd == 0) return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "concat: 0-d tensors cannot be joined");
    if (d < 0)
        return dagl_ctx_set_error(ctx, DAGL_E_INDEX, "concat: dimension %d is out of range for shape %s", dim,
                                  dagl_shape_str(nd, in[0].shape, b1, sizeof b1));
    memcpy(shape, in[0].shape, sizeof(int64_t) * (size_t)nd);
    for (int k = 1; k < n; k++) {
        if (in[k].dtype != in[0].dtype)
            return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "concat: tensor %d is %s, tensor 1 is %s", k + 1,
                                      dagl_dtype_name(in[k].dtype), dagl_dtype_name(in[0].dtype));
        bool same = in[k].ndim == nd;
        for (int i = 0; same && i < nd; i++) same = i == d || in[k].shape[i] == in[0].shape[i];
        if (!same)
            return dagl_ctx_set_error(ctx, DAGL_E_SHAPE,
                                      "concat: shapes %s and %s differ outside the joined dimension %d",
                                      dagl_shape_str(nd, in[0].shape, b1, sizeof b1),
                                      dagl_shape_str(in[k].ndim, in[k].shape, b2, sizeof b2), d);
        shape[d] += in[k].shape[d];
    }
    *ndim = nd;
    return DAGL_OK;
}

/* Each operand is copied into its own narrow view of the output. */
dagl_status dagl__concat_into(dagl_ctx *ctx, int n, const dagl_tensor *const *ts, int dim, dagl_tensor *dst,
                              dagl_tensor **out)
{
    *out = NULL;
    if (!ts || n < 1 || n > 4096) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "concat: %d tensors (1 to 4096)", n);
    dagl__shape_ref refs[64] = {{0}}, *in = n <= 64 ? refs : malloc(sizeof *in * (size_t)n);
    if (!in) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "concat: out of memory");
    dagl_status st = DAGL_OK;
    for (int k = 0; k < n && !st; k++) {
        if (!ts[k]) st = dagl_ctx_set_error(ctx, DAGL_E_ARG, "concat: tensor %d is NULL", k + 1);
        else in[k] = dagl__ref_of(ts[k]);
    }
    int nd;
    int64_t shape[DAGL_MAX_DIMS];
    if (!st) st = dagl__concat_shape(ctx, n, in, dim, &nd, shape);
    if (in != refs) free(in);
    if (!st) st = dagl__tensor_alloc_dst(ctx, dst, ts[0]->dtype, nd, shape, out);
    if (st) return st;
    int d = dagl__wrap_dim(dim, nd);
    int64_t off = 0;
    for (int k = 0; k < n && !st; k++) {
        dagl_tensor *v;
        st = dagl_slice(ctx, *out, d, off, off + ts[k]->shape[d], 1, &v);
        if (!st) st = dagl_copy_into(ctx, v, ts[k]);
        dagl_tensor_release(v);
        off += ts[k]->shape[d];
    }
    if (st) {
        dagl_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

/* The public form: the result in fresh memory. */
dagl_status dagl_concat(dagl_ctx *ctx, int n, const dagl_tensor *const *ts, int dim, dagl_tensor **out)
{
    return dagl__concat_into(ctx, n, ts, dim, NULL, out);
}

/* src must have `shape` except along dim, where its elements land at start, start+step, ... */
dagl_status dagl__slice_scatter_check(dagl_ctx *ctx, dagl__shape_ref src, int ndim, const int64_t *shape, int dim,
                                      int64_t start, int64_t step)
{
    char b1[160], b2[160];
    int d = dagl__wrap_dim(dim, ndim);
    bool ok = d >= 0 && src.ndim == ndim && step > 0 && start >= 0;
    for (int i = 0; ok && i < ndim; i++) ok = i == d || src.shape[i] == shape[i];
    if (ok && src.shape[d] > 0) ok = start + (src.shape[d] - 1) * step < shape[d];
    if (!ok)
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE,
                                  "slice_scatter: a tensor of shape %s does not fit dimension %d of shape %s "
                                  "from %lld by %lld",
                                  dagl_shape_str(src.ndim, src.shape, b1, sizeof b1), dim,
                                  dagl_shape_str(ndim, shape, b2, sizeof b2), (long long)start, (long long)step);
    return dagl__check_shape(ctx, "slice_scatter", ndim, shape);
}

/* Zeros, then src copied into the slice view. */
dagl_status dagl__slice_scatter_into(dagl_ctx *ctx, const dagl_tensor *src, int ndim, const int64_t *shape, int dim,
                               int64_t start, int64_t step, dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (!src || !shape) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "slice_scatter: NULL argument");
    dagl_status st = dagl__slice_scatter_check(ctx, dagl__ref_of(src), ndim, shape, dim, start, step);
    if (!st) st = dagl__tensor_alloc_dst(ctx, dst, src->dtype, ndim, shape, out);
    if (!st) st = dagl_fill(ctx, *out, 0);
    if (st) return st;
    int d = dagl__wrap_dim(dim, ndim);
    dagl_tensor *v;
    st = dagl_slice(ctx, *out, d, start, start + src->shape[d] * step, step, &v);
    if (!st) st = dagl_copy_into(ctx, v, src);
    dagl_tensor_release(v);
    if (st) {
        dagl_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

/* The public form: the result in fresh memory. */
dagl_status dagl_slice_scatter(dagl_ctx *ctx, const dagl_tensor *src, int ndim, const int64_t *shape, int dim,
                               int64_t start, int64_t step, dagl_tensor **out)
{
    return dagl__slice_scatter_into(ctx, src, ndim, shape, dim, start, step, NULL, out);
}
