/* assign.c -- writing a value into an existing tensor in place (dagl_assign, and the graph's
 * DAGL_OP_ASSIGN node): how a training graph updates its weights, optimizer state and moving
 * statistics without leaving the graph. */
#include "kernels.h"

#include <string.h>

/* The same shape, with an error naming both: an update of the wrong shape is a bug in the caller,
 * and broadcasting would hide it. The dtype may differ (the value is converted, as a copy is):
 * float32 moving statistics take float64 batch statistics. */
dagl_status dagl__assign_check(dagl_ctx *ctx, dagl__shape_ref target, dagl__shape_ref value)
{
    if (target.ndim == value.ndim && !memcmp(target.shape, value.shape, sizeof(int64_t) * (size_t)target.ndim))
        return DAGL_OK;
    char b1[160], b2[160];
    return dagl_ctx_set_error(ctx, DAGL_E_SHAPE,
                              "assign: the target is %s %s and the value %s %s: they must have the same shape",
                              dagl_dtype_name(target.dtype), dagl_shape_str(target.ndim, target.shape, b1, sizeof b1),
                              dagl_dtype_name(value.dtype), dagl_shape_str(value.ndim, value.shape, b2, sizeof b2));
}

dagl_status dagl_assign(dagl_ctx *ctx, dagl_tensor *dst, const dagl_tensor *src)
{
    if (!dst || !src) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "assign: tensor is NULL");
    dagl_status st = dagl_tensor_check_writable(ctx, dst, "assign");
    if (!st) st = dagl__assign_check(ctx, (dagl__shape_ref){dst->dtype, dst->ndim, dst->shape},
                                     (dagl__shape_ref){src->dtype, src->ndim, src->shape});
    if (st || src == dst) return st;
    if (dagl__block_owner(src) != dagl__block_owner(dst)) return dagl_copy_into(ctx, dst, src);
    /* src is a view of dst's memory (w:t() into w): an element-by-element copy would read
     * elements it already wrote, so copy src out first */
    dagl_tensor *tmp = NULL;
    st = dagl_clone(ctx, src, &tmp);
    if (!st) st = dagl_copy_into(ctx, dst, tmp);
    dagl_tensor_release(tmp);
    return st;
}
