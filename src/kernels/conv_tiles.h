/* conv_tiles.h -- conv2d's forward and kernel-gradient passes on the register-tiled kernels of
 * conv_micro.c (conv_tiles.c), for conv2d.c. Operands are contiguous NHWC of one float dtype. */
#ifndef DAGL_CONV_TILES_H
#define DAGL_CONV_TILES_H

#include "window2d.h"

/* out (N, OH, OW, Cout) = the convolution of x (N, H, W, C) with kernel k: (KH, KW, C, Cout),
 * or, when flip is set, the kernel of the convolution this one is the input gradient of:
 * (KH, KW, Cout, C), used rotated by 180 degrees and with its channels swapped. Then, when
 * bias is given, + bias[Cout] and act on each pixel (dagl__epilogue). NOMEM: no scratch. */
DAGL_HIDDEN dagl_status dagl__ct_forward(dagl_ctx *ctx, int isa, dagl_dtype dt, const struct win2d *g, const void *x,
                                         const void *k, int flip, const void *bias, dagl_op act, void *out);

/* out = pooling pg (op DAGL_OP_MAXPOOL2D or AVGPOOL2D; its input: the convolution's output) of
 * the forward pass's result with bias and act, a band of the convolution's rows at a time. */
DAGL_HIDDEN dagl_status dagl__ct_forward_pool(dagl_ctx *ctx, int isa, dagl_dtype dt, const struct win2d *g,
                                              const void *x, const void *k, const void *bias, dagl_op act,
                                              dagl_op pool_op, const struct win2d *pg, void *out);

/* out (the convolution's output shape) = max_pool2d_grad(y, dy) * (y > 0) for y = relu(the
 * forward pass + bias), y recomputed band by band instead of read (cheap for few input
 * channels); pooling pg's windows must not overlap. */
DAGL_HIDDEN dagl_status dagl__ct_pool_grad_recompute(dagl_ctx *ctx, int isa, dagl_dtype dt, const struct win2d *g,
                                                     const void *x, const void *k, const void *bias,
                                                     const struct win2d *pg, const void *dy, void *out);

/* out (N, H, W, C) = the input gradient of the convolution g whose output gradient is dy
 * (N, OH, OW, Cout), kernel k (KH, KW, C, Cout). */
DAGL_HIDDEN dagl_status dagl__ct_grad_input(dagl_ctx *ctx, int isa, dagl_dtype dt, const struct win2d *g,
                                            const void *dy, const void *k, void *out);

/* out (KH, KW, C, Cout) = the kernel gradient of the convolution g of x (N, H, W, C) whose
 * output gradient is dy (N, OH, OW, Cout). */
DAGL_HIDDEN dagl_status dagl__ct_grad_kernel(dagl_ctx *ctx, int isa, dagl_dtype dt, const struct win2d *g,
                                             const void *x, const void *dy, void *out);

/* What a fused conv2d node does after the convolution: + bias (1-D, Cout; NULL: nothing), act
 * (DAGL_OP_NONE, RELU, TANH, SIGMOID), then pooling pool_op (DAGL_OP_NONE, MAXPOOL2D, AVGPOOL2D)
 * with window `pool`; or (pool_op MAXPOOL2D_GRAD, act RELU) the max pooling's gradient dy
 * times the relu's mask, the result having the convolution's shape. */
struct dagl_conv_fused {
    const dagl_tensor *bias;
    dagl_op act, pool_op;
    const dagl_window2d *pool;
    const dagl_tensor *dy;
};

/* conv2d, conv2d_grad_input or conv2d_grad_kernel (op) through instruction set isa's kernels
 * (conv_micro.h; tests compare the sets), pshape the forward operand's shape for the gradients;
 * conv2d does what f fuses after it (NULL: nothing). */
DAGL_HIDDEN dagl_status dagl__conv2d_isa(dagl_ctx *ctx, int isa, dagl_op op, const dagl_tensor *a,
                                         const dagl_tensor *b, const int64_t *pshape, const dagl_window2d *w,
                                         const struct dagl_conv_fused *f, dagl_tensor *dst, dagl_tensor **out);

#endif
