/* conv2d.c -- 2-D convolution over NHWC images (Keras's Conv2D, kernel (KH, KW, Cin, Cout)) and
 * its two gradients: operand checks and conversions, then the register-tiled passes of
 * conv_tiles.c, which split the work into shares chosen from the problem size only (bitwise the
 * same at any thread count). */
#include "conv_tiles.h"
#include "conv_micro.h"

#include <stdlib.h>
#include <string.h>

struct conv_job {
    struct win2d g;
    struct win2d pool; /* with a fused pooling: its geometry */
    dagl_dtype dt;
    char *out;
};

/* Checks the operands, makes them contiguous in the compute dtype and the output tensor, and
 * sets up the job; *hold receives the operand copies to release. */
static dagl_status prepare(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, const dagl_tensor *b,
                           const int64_t *pshape, const dagl_window2d *w, const struct dagl_conv_fused *f,
                           struct conv_job *j, dagl_tensor **hold, dagl_tensor *dst, dagl_tensor **out)
{
    const dagl_tensor *src[2] = {a, b};
    int64_t oshape[4];
    memset(j, 0, sizeof *j);
    dagl_status st = dagl__win2d_check(ctx, op, w, pshape, 2, src, &j->g, oshape, &j->dt);
    if (st) return st;
    if (f && f->pool_op != DAGL_OP_NONE) { /* the output: the pooling's, or its gradient's */
        bool grad = f->pool_op == DAGL_OP_MAXPOOL2D_GRAD;
        int nd = 4;
        dagl_dtype pdt, dts[1] = {j->dt};
        int64_t yshape[4], pshape4[4];
        memcpy(yshape, oshape, sizeof yshape);
        const int64_t *shp[1] = {yshape};
        if ((st = dagl__win2d_infer(ctx, grad ? DAGL_OP_MAXPOOL2D : f->pool_op, f->pool, NULL, &nd, shp, dts, &j->pool,
                                    grad ? pshape4 : oshape, &pdt)))
            return st;
        if (grad && (!f->dy || f->dy->ndim != 4 || memcmp(f->dy->shape, pshape4, sizeof pshape4) != 0 ||
                     !dagl__pool2d_disjoint(&j->pool))) {
            char b1[160];
            return dagl_ctx_set_error(ctx, DAGL_E_SHAPE,
                                      "conv2d+max_pool2d_grad: the output gradient must have shape %s, with windows "
                                      "that do not overlap",
                                      dagl_shape_str(4, pshape4, b1, sizeof b1));
        }
    }
    if ((st = dagl__win2d_operand(ctx, a, j->dt, &hold[0])) || (st = dagl__win2d_operand(ctx, b, j->dt, &hold[1])))
        return st;
    if ((st = dagl__tensor_alloc_dst(ctx, dst, j->dt, 4, oshape, out))) return st;
    j->out = (*out)->data;
    return DAGL_OK;
}

/* Releases the operand copies; on failure the output too. */
static dagl_status finish(dagl_status st, dagl_tensor **hold, dagl_tensor **out)
{
    dagl_tensor_release(hold[0]);
    dagl_tensor_release(hold[1]);
    if (st) {
        dagl_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

/* The op with the given instruction set's tile kernels: conv2d (with what f fuses after it),
 * conv2d_grad_input or conv2d_grad_kernel. */
dagl_status dagl__conv2d_isa(dagl_ctx *ctx, int isa, dagl_op op, const dagl_tensor *a, const dagl_tensor *b,
                             const int64_t *pshape, const dagl_window2d *w, const struct dagl_conv_fused *f,
                             dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    struct conv_job j;
    dagl_tensor *hold[4] = {NULL, NULL, NULL, NULL};
    const dagl_tensor *bias = f ? f->bias : NULL;
    dagl_op act = f ? f->act : DAGL_OP_NONE;
    dagl_status st = prepare(ctx, op, a, b, pshape, w, f, &j, hold, dst, out);
    if (st == DAGL_OK && bias) {
        if (bias->ndim != 1 || bias->shape[0] != j.g.Cout) {
            char b1[160];
            st = dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "conv2d+add: the bias %s must have shape [%lld]",
                                    dagl_shape_str(bias->ndim, bias->shape, b1, sizeof b1), (long long)j.g.Cout);
        } else {
            st = dagl__win2d_operand(ctx, bias, j.dt, &hold[2]);
        }
    }
    if (st == DAGL_OK && f && f->pool_op == DAGL_OP_MAXPOOL2D_GRAD) st = dagl__win2d_operand(ctx, f->dy, j.dt, &hold[3]);
    if (st == DAGL_OK && (*out)->numel > 0) {
        const void *p0 = hold[0]->data, *p1 = hold[1]->data;
        const void *bp = hold[2] ? hold[2]->data : NULL;
        if (op == DAGL_OP_CONV2D && f && f->pool_op == DAGL_OP_MAXPOOL2D_GRAD) {
            st = dagl__ct_pool_grad_recompute(ctx, isa, j.dt, &j.g, p0, p1, bp, &j.pool, hold[3]->data, j.out);
        } else if (op == DAGL_OP_CONV2D && f && f->pool_op != DAGL_OP_NONE) {
            st = dagl__ct_forward_pool(ctx, isa, j.dt, &j.g, p0, p1, bp, act, f->pool_op, &j.pool, j.out);
        } else if (op == DAGL_OP_CONV2D) {
            st = dagl__ct_forward(ctx, isa, j.dt, &j.g, p0, p1, 0, bp, act, j.out);
        } else if (op == DAGL_OP_CONV2D_GRAD_KERNEL) {
            st = dagl__ct_grad_kernel(ctx, isa, j.dt, &j.g, p0, p1, j.out);
        } else {
            st = dagl__ct_grad_input(ctx, isa, j.dt, &j.g, p0, p1, j.out);
        }
    }
    dagl_tensor_release(hold[2]);
    dagl_tensor_release(hold[3]);
    return finish(st, hold, out);
}

dagl_status dagl__conv2d_into(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *k, const dagl_window2d *w,
                              dagl_tensor *dst, dagl_tensor **out)
{
    return dagl__conv2d_isa(ctx, dagl__ct_best_isa(), DAGL_OP_CONV2D, x, k, NULL, w, NULL, dst, out);
}

/* The graph's fused conv2d+add(+relu/tanh/sigmoid)(+pooling) node (src/graph/fuse.c). */
dagl_status dagl__conv2d_epilogue(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *k, const dagl_tensor *bias,
                                  dagl_op act, const dagl_window2d *w, dagl_op pool_op, const dagl_window2d *pool,
                                  dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (!bias) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "conv2d+add: bias is NULL");
    if (pool_op != DAGL_OP_NONE && pool_op != DAGL_OP_MAXPOOL2D && pool_op != DAGL_OP_AVGPOOL2D)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "conv2d+add: %s is not a pooling", dagl_op_name(pool_op));
    struct dagl_conv_fused f = {bias, act, pool_op, pool, NULL};
    return dagl__conv2d_isa(ctx, dagl__ct_best_isa(), DAGL_OP_CONV2D, x, k, NULL, w, &f, dst, out);
}

/* The graph's fused max_pool2d_grad+relu_mask node over a convolution it recomputes (fuse.c). */
dagl_status dagl__conv2d_pool_grad(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *k, const dagl_tensor *bias,
                                   const dagl_tensor *dy, const dagl_window2d *w, const dagl_window2d *pool,
                                   dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (!bias || !dy) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "conv2d+max_pool2d_grad: bias or gradient is NULL");
    struct dagl_conv_fused f = {bias, DAGL_OP_RELU, DAGL_OP_MAXPOOL2D_GRAD, pool, dy};
    return dagl__conv2d_isa(ctx, dagl__ct_best_isa(), DAGL_OP_CONV2D, x, k, NULL, w, &f, dst, out);
}

/* The public form: the result in fresh memory. */
dagl_status dagl_conv2d(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *k, const dagl_window2d *w,
                        dagl_tensor **out)
{
    return dagl__conv2d_into(ctx, x, k, w, NULL, out);
}

dagl_status dagl__conv2d_grad_input_into(dagl_ctx *ctx, const dagl_tensor *dy, const dagl_tensor *k,
                                         const int64_t *x_shape, const dagl_window2d *w, dagl_tensor *dst,
                                         dagl_tensor **out)
{
    return dagl__conv2d_isa(ctx, dagl__ct_best_isa(), DAGL_OP_CONV2D_GRAD_INPUT, dy, k, x_shape, w, NULL, dst, out);
}

/* The public form: the result in fresh memory. */
dagl_status dagl_conv2d_grad_input(dagl_ctx *ctx, const dagl_tensor *dy, const dagl_tensor *k, const int64_t *x_shape,
                                   const dagl_window2d *w, dagl_tensor **out)
{
    return dagl__conv2d_grad_input_into(ctx, dy, k, x_shape, w, NULL, out);
}

dagl_status dagl__conv2d_grad_kernel_into(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *dy,
                                          const int64_t *k_shape, const dagl_window2d *w, dagl_tensor *dst,
                                          dagl_tensor **out)
{
    return dagl__conv2d_isa(ctx, dagl__ct_best_isa(), DAGL_OP_CONV2D_GRAD_KERNEL, x, dy, k_shape, w, NULL, dst, out);
}

/* The public form: the result in fresh memory. */
dagl_status dagl_conv2d_grad_kernel(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *dy,
                                    const int64_t *k_shape, const dagl_window2d *w, dagl_tensor **out)
{
    return dagl__conv2d_grad_kernel_into(ctx, x, dy, k_shape, w, NULL, out);
}
