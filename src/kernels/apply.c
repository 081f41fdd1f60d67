/* apply.c -- dagl_op_apply: any op of the op list run on tensors with a graph node's parameters,
 * one function per op class. Graph runs call it for every node, and the Lua binding for eager
 * calls, so a call computes the same bits and fails with the same message either way. */
#include "kernels.h"

typedef dagl_status (*apply_fn)(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v,
                                const dagl_node_params *p, dagl_tensor *dst, dagl_tensor **out);

/* Unary elementwise: the kernel of op. */
static dagl_status ap_unary(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                            dagl_tensor *dst,
                             dagl_tensor **out)
{
    (void)nsrc, (void)p;
    return dagl__unary_into(ctx, op, v[0], dst, out);
}

/* Binary and compare: a scalar parameter on either side, or two tensors. */
static dagl_status ap_binary(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                             dagl_tensor *dst,
                             dagl_tensor **out)
{
    if (p->has_scalar) return dagl__binary_scalar_into(ctx, op, v[0], p->scalar, p->scalar_first, dst, out);
    if (nsrc != 2) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: needs 2 sources or a scalar", dagl_op_name(op));
    return dagl__binary_into(ctx, op, v[0], v[1], dst, out);
}

/* Clamp, with its bounds (NaN: none) in the params. */
static dagl_status ap_clamp(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                            dagl_tensor *dst,
                             dagl_tensor **out)
{
    (void)op, (void)nsrc;
    return dagl__clamp_into(ctx, v[0], p->lo, p->hi, dst, out);
}

/* where(cond, a, b). */
static dagl_status ap_where(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                            dagl_tensor *dst,
                             dagl_tensor **out)
{
    (void)op, (void)nsrc, (void)p;
    return dagl__where_into(ctx, v[0], v[1], v[2], dst, out);
}

/* Reductions over params.dims (none: all), keepdim and correction. */
static dagl_status ap_reduce(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                             dagl_tensor *dst,
                             dagl_tensor **out)
{
    (void)nsrc;
    return dagl__reduce_into(ctx, op, v[0], p->dims, p->ndims, p->keepdim, p->correction, dst, out);
}

/* matmul(a, b). */
static dagl_status ap_matmul(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                             dagl_tensor *dst,
                             dagl_tensor **out)
{
    (void)op, (void)nsrc, (void)p;
    return dagl__matmul_into(ctx, v[0], v[1], dst, out);
}

/* Views: reshape, permute, expand and slice (core/view.c). */
static dagl_status ap_layout(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                             dagl_tensor *dst,
                             dagl_tensor **out)
{
    (void)nsrc, (void)dst; /* a view: no memory of its own */
    return dagl__layout(ctx, op, p, v[0], out);
}

/* Conversion to params.dtype: the source itself when it has that dtype already; with a scalar
 * parameter, times that scale (dagl_cast_scaled, always a new tensor). */
static dagl_status ap_cast(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                           dagl_tensor *dst,
                             dagl_tensor **out)
{
    (void)op, (void)nsrc, (void)dst; /* may return its source: never planned */
    if ((unsigned)p->dtype >= DAGL_DTYPE_COUNT)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "cast: unknown dtype %d", (int)p->dtype);
    if (p->has_scalar) return dagl__cast_scaled_into(ctx, v[0], p->dtype, p->scalar, NULL, out);
    return dagl__as_dtype(ctx, v[0], p->dtype, out);
}

/* Every source joined along params.axis. */
static dagl_status ap_concat(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                             dagl_tensor *dst,
                             dagl_tensor **out)
{
    (void)op;
    return dagl__concat_into(ctx, nsrc, (const dagl_tensor *const *)v, p->axis, dst, out);
}

/* The source written into zeros of params.shape (the slice's gradient). */
static dagl_status ap_slice_scatter(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v,
                                    const dagl_node_params *p, dagl_tensor *dst,
                             dagl_tensor **out)
{
    (void)op, (void)nsrc;
    return dagl__slice_scatter_into(ctx, v[0], p->nshape, p->shape, p->axis, p->start, p->step, dst, out);
}

/* Rows of the table picked by idx, counted from params.index_base. */
static dagl_status ap_gather(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                             dagl_tensor *dst,
                             dagl_tensor **out)
{
    (void)op, (void)nsrc;
    return dagl__gather_into(ctx, v[0], v[1], p->index_base, dst, out);
}

/* Rows of src added into a zero table of params.shape[0] rows. */
static dagl_status ap_index_add(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v,
                                const dagl_node_params *p, dagl_tensor *dst,
                             dagl_tensor **out)
{
    (void)op, (void)nsrc;
    if (p->nshape < 1)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "index_add: the table's row count (shape[0]) is missing");
    return dagl__index_add_into(ctx, v[0], v[1], p->shape[0], p->index_base, dst, out);
}

/* A mask of the source's shape and dtype from (params.seed, params.counter). */
static dagl_status ap_dropout(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                              dagl_tensor *dst,
                             dagl_tensor **out)
{
    (void)op, (void)nsrc;
    return dagl__dropout_mask_into(ctx, v[0]->dtype, v[0]->ndim, v[0]->shape, p->rate, p->seed, p->counter, dst,
                                   out);
}

/* conv2d and its two gradients, the poolings and theirs, by op. */
static dagl_status ap_window(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                             dagl_tensor *dst,
                             dagl_tensor **out)
{
    const dagl_window2d *w = &p->window;
    int arity = op == DAGL_OP_MAXPOOL2D || op == DAGL_OP_AVGPOOL2D ? 1 : 2;
    if (nsrc != arity)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: takes %d sources, got %d", dagl_op_name(op), arity, nsrc);
    switch (op) {
    case DAGL_OP_CONV2D: return dagl__conv2d_into(ctx, v[0], v[1], w, dst, out);
    case DAGL_OP_CONV2D_GRAD_INPUT: return dagl__conv2d_grad_input_into(ctx, v[0], v[1], p->shape, w, dst, out);
    case DAGL_OP_CONV2D_GRAD_KERNEL: return dagl__conv2d_grad_kernel_into(ctx, v[0], v[1], p->shape, w, dst, out);
    case DAGL_OP_MAXPOOL2D: case DAGL_OP_AVGPOOL2D: return dagl__pool2d_into(ctx, op, v[0], w, dst, out);
    default: return dagl__pool2d_grad_into(ctx, op, v[0], v[1], w, dst, out);
    }
}

/* cumsum / argsort along params.axis (params.reverse: from the end / descending). */
static dagl_status ap_along(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                            dagl_tensor *dst, dagl_tensor **out)
{
    (void)nsrc;
    return dagl__along_into(ctx, op, v[0], p->axis, p->reverse, p->index_base, dst, out);
}

/* take_along(x, idx) along params.axis, indices from params.index_base. */
static dagl_status ap_take(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                           dagl_tensor *dst, dagl_tensor **out)
{
    (void)op, (void)nsrc;
    return dagl__take_along_into(ctx, v[0], v[1], p->axis, p->index_base, dst, out);
}

/* scatter_add(x, idx, src) along params.axis, indices from params.index_base. */
static dagl_status ap_scatter(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                              dagl_tensor *dst, dagl_tensor **out)
{
    (void)op, (void)nsrc;
    return dagl__scatter_add_into(ctx, v[0], v[1], v[2], p->axis, p->index_base, dst, out);
}

/* softmax / log_softmax along params.axis. */
static dagl_status ap_softmax(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                              dagl_tensor *dst,
                             dagl_tensor **out)
{
    (void)nsrc;
    return dagl__softmax_into(ctx, op, v[0], p->axis, dst, out);
}

/* Writes source 2 into source 1 in place; the result is the target (a new reference). */
static dagl_status ap_assign(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *v, const dagl_node_params *p,
                             dagl_tensor *dst,
                             dagl_tensor **out)
{
    (void)op, (void)nsrc, (void)p, (void)dst; /* its result is its target */
    dagl_status st = dagl_assign(ctx, v[0], v[1]);
    if (st) return st;
    dagl_tensor_retain(v[0]);
    *out = v[0];
    return DAGL_OK;
}

#define AP_NONE NULL
#define AP_CUSTOM NULL
#define AP_COMPARE ap_binary
#define AP_FN(C) [DAGL__CLS_##C] = AP_##C,
#define AP_UNARY ap_unary
#define AP_BINARY ap_binary
#define AP_CLAMP ap_clamp
#define AP_WHERE ap_where
#define AP_REDUCE ap_reduce
#define AP_MATMUL ap_matmul
#define AP_LAYOUT ap_layout
#define AP_CAST ap_cast
#define AP_CONCAT ap_concat
#define AP_SLICE_SCATTER ap_slice_scatter
#define AP_GATHER ap_gather
#define AP_INDEX_ADD ap_index_add
#define AP_DROPOUT ap_dropout
#define AP_WINDOW ap_window
#define AP_ALONG ap_along
#define AP_TAKE ap_take
#define AP_SCATTER ap_scatter
#define AP_SOFTMAX ap_softmax
#define AP_ASSIGN ap_assign
static const apply_fn apply_of[] = {DAGL__CLASSES(AP_FN)};
_Static_assert(sizeof apply_of / sizeof *apply_of == DAGL__CLS_COUNT, "one apply function per op class");

dagl_status dagl__op_apply_into(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *srcs,
                                const dagl_node_params *p, dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    apply_fn f = apply_of[dagl__op_info_of(op)->cls];
    if (!f) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "op_apply: %s cannot run on its own", dagl_op_name(op));
    const dagl__class_info *ci = dagl__class_of(op);
    if (ci->nsrc && nsrc != ci->nsrc)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: takes %d sources, got %d", dagl_op_name(op), ci->nsrc, nsrc);
    if (nsrc < 1 || nsrc > DAGL_MAX_SRCS)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: %d sources (1 to %d allowed)", dagl_op_name(op), nsrc,
                                  DAGL_MAX_SRCS);
    dagl_dtype dts[DAGL_MAX_SRCS];
    for (int i = 0; i < nsrc; i++) {
        if (!srcs[i]) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: source %d is NULL", dagl_op_name(op), i + 1);
        dts[i] = srcs[i]->dtype;
    }
    dagl_status st = dagl__op_check_dtypes(ctx, op, nsrc, dts);
    if (st) return st;
    dagl_node_params dflt;
    if (!p) {
        dagl_node_params_init(&dflt);
        p = &dflt;
    }
    return f(ctx, op, nsrc, srcs, p, dst, out);
}

/* The public form: the result in fresh memory. */
dagl_status dagl_op_apply(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *srcs, const dagl_node_params *p,
                          dagl_tensor **out)
{
    return dagl__op_apply_into(ctx, op, nsrc, srcs, p, NULL, out);
}
