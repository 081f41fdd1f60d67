/* window2d.c -- operand checks, output shapes and geometry of the 2-D window ops (conv2d, the
 * poolings and their gradients), shared by the eager kernels and graph inference so both give
 * the same shapes and messages. */
#include "window2d.h"

#include <limits.h>
#include <string.h>

#define SHP(i) dagl_shape_str(nd[i], shp[i], sb[i], sizeof sb[i])

/* The three convolution ops, as opposed to the poolings (error messages name a kernel's dims for them). */
static bool is_conv(dagl_op op)
{
    return op == DAGL_OP_CONV2D || op == DAGL_OP_CONV2D_GRAD_INPUT || op == DAGL_OP_CONV2D_GRAD_KERNEL;
}

/* Output size and leading pad of one spatial dim (TensorFlow's rules); false when a VALID
 * window does not fit. */
static bool out_dim(int64_t in, int64_t k, int64_t s, int padding, int64_t *out, int64_t *pad)
{
    if (padding == DAGL_PAD_SAME) {
        *out = (in + s - 1) / s;
        int64_t total = (*out - 1) * s + k - in;
        *pad = *out > 0 && total > 0 ? total / 2 : 0;
        return true;
    }
    *pad = 0;
    if (in < k) return false;
    *out = (in - k) / s + 1;
    return true;
}

/* Fills g from the input shape x (4 dims), the window size and `w`'s strides and padding. */
static dagl_status geometry(dagl_ctx *ctx, const char *name, const int64_t *x, int64_t kh, int64_t kw,
                            const dagl_window2d *w, bool conv, struct win2d *g)
{
    char b1[160];
    g->N = x[0], g->H = x[1], g->W = x[2], g->C = x[3], g->KH = kh, g->KW = kw;
    g->sh = w->strides[0] ? w->strides[0] : conv ? 1 : kh;
    g->sw = w->strides[1] ? w->strides[1] : conv ? 1 : kw;
    if (kh < 1 || kw < 1)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: window %lldx%lld must be at least 1x1", name,
                                  (long long)kh, (long long)kw);
    if (g->sh < 1 || g->sw < 1)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: strides (%lld, %lld) must be at least 1", name,
                                  (long long)g->sh, (long long)g->sw);
    if (w->padding != DAGL_PAD_VALID && w->padding != DAGL_PAD_SAME)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: unknown padding %d", name, w->padding);
    if (!out_dim(g->H, kh, g->sh, w->padding, &g->OH, &g->pt) || !out_dim(g->W, kw, g->sw, w->padding, &g->OW, &g->pl))
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE,
                                  "%s: %s %lldx%lld is larger than the input %lldx%lld (input shape %s, padding 'valid')",
                                  name, conv ? "kernel" : "pool window", (long long)kh, (long long)kw, (long long)g->H,
                                  (long long)g->W, dagl_shape_str(4, x, b1, sizeof b1));
    if (conv && (kh * kw * g->C > INT_MAX || g->OW * kh * kw * g->C > ((int64_t)1 << 40)))
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "%s: input %s is too large for the kernel %lldx%lld", name,
                                  dagl_shape_str(4, x, b1, sizeof b1), (long long)kh, (long long)kw);
    return DAGL_OK;
}

dagl_status dagl__win2d_infer(dagl_ctx *ctx, dagl_op op, const dagl_window2d *w, const int64_t *pshape,
                              const int *nd, const int64_t *const *shp, const dagl_dtype *dts, struct win2d *g,
                              int64_t *oshape, dagl_dtype *odt)
{
    const char *name = dagl_op_name(op);
    char sb[3][160];
    int nsrc = op == DAGL_OP_MAXPOOL2D || op == DAGL_OP_AVGPOOL2D ? 1 : 2;
    static const char *const roles[DAGL_OP_COUNT][2] = {
        [DAGL_OP_CONV2D] = {"input", "kernel"},
        [DAGL_OP_CONV2D_GRAD_INPUT] = {"output gradient", "kernel"},
        [DAGL_OP_CONV2D_GRAD_KERNEL] = {"input", "output gradient"},
        [DAGL_OP_MAXPOOL2D] = {"input", ""},
        [DAGL_OP_AVGPOOL2D] = {"input", ""},
        [DAGL_OP_MAXPOOL2D_GRAD] = {"input", "output gradient"},
        [DAGL_OP_AVGPOOL2D_GRAD] = {"input", "output gradient"},
    };
    if ((unsigned)op >= DAGL_OP_COUNT || dagl__op_info_of(op)->cls != DAGL__CLS_WINDOW)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "window2d: %s is not a convolution or pooling op", name);
    const char *const *role = roles[op];
    for (int i = 0; i < nsrc; i++) {
        if (dts[i] == DAGL_I64 || dts[i] == DAGL_U8)
            return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "%s: the %s %s is %s; float32 or float64 expected%s", name,
                                      role[i], SHP(i), dagl_dtype_name(dts[i]),
                                      dts[i] == DAGL_U8 ? " (convert uint8 images first: x:float(1/255))" : "");
        if (nd[i] != 4)
            return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "%s: the %s must have 4 dims (%s), got shape %s", name,
                                      role[i], i == 1 && is_conv(op) && op != DAGL_OP_CONV2D_GRAD_KERNEL
                                          ? "kernel_h, kernel_w, in_channels, out_channels"
                                          : "batch, height, width, channels", SHP(i));
    }
    *odt = dagl_op_result_dtype(op, nsrc, dts, NULL); /* the op list's rule */
    if ((op == DAGL_OP_CONV2D_GRAD_INPUT || op == DAGL_OP_CONV2D_GRAD_KERNEL) && !pshape)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: the forward operand's shape (4 dims) is needed", name);
    dagl_status st = pshape ? dagl__check_shape(ctx, name, 4, pshape) : DAGL_OK;
    if (st) return st;
    const int64_t *x = NULL, *k = NULL, *dy = NULL;
    switch (op) {
    case DAGL_OP_CONV2D: x = shp[0], k = shp[1]; break;
    case DAGL_OP_CONV2D_GRAD_INPUT: dy = shp[0], k = shp[1], x = pshape; break;
    case DAGL_OP_CONV2D_GRAD_KERNEL: x = shp[0], dy = shp[1], k = pshape; break;
    case DAGL_OP_MAXPOOL2D: case DAGL_OP_AVGPOOL2D: x = shp[0]; break;
    default: x = shp[0], dy = shp[1]; break;
    }
    if (k) {
        if (k[2] != x[3])
            return dagl_ctx_set_error(ctx, DAGL_E_SHAPE,
                                      "%s: the kernel %s takes %lld input channels, the input %s has %lld", name,
                                      dagl_shape_str(4, k, sb[2], sizeof sb[2]), (long long)k[2],
                                      dagl_shape_str(4, x, sb[1], sizeof sb[1]), (long long)x[3]);
        st = geometry(ctx, name, x, k[0], k[1], w, true, g);
        g->Cout = k[3];
    } else {
        st = geometry(ctx, name, x, w->size[0], w->size[1], w, false, g);
        g->Cout = g->C;
    }
    if (st) return st;
    int64_t y[4] = {g->N, g->OH, g->OW, g->Cout};
    if (dy && memcmp(dy, y, sizeof y) != 0) {
        char b1[160], b2[160];
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "%s: the output gradient has shape %s, the forward output %s",
                                  name, dagl_shape_str(4, dy, b1, sizeof b1), dagl_shape_str(4, y, b2, sizeof b2));
    }
    const int64_t *o = op == DAGL_OP_CONV2D || op == DAGL_OP_MAXPOOL2D || op == DAGL_OP_AVGPOOL2D ? y
                       : op == DAGL_OP_CONV2D_GRAD_KERNEL                                      ? k
                                                                                               : x;
    memcpy(oshape, o, 4 * sizeof *oshape);
    return DAGL_OK;
}

dagl_status dagl__win2d_check(dagl_ctx *ctx, dagl_op op, const dagl_window2d *w, const int64_t *pshape, int nsrc,
                              const dagl_tensor *const *src, struct win2d *g, int64_t *oshape, dagl_dtype *odt)
{
    int nd[2] = {0, 0};
    const int64_t *shp[2] = {NULL, NULL};
    dagl_dtype dts[2] = {DAGL_F32, DAGL_F32};
    static const dagl_window2d dflt = {{0, 0}, {0, 0}, DAGL_PAD_VALID};
    for (int i = 0; i < nsrc; i++) {
        if (!src[i]) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: tensor is NULL", dagl_op_name(op));
        nd[i] = src[i]->ndim, shp[i] = src[i]->shape, dts[i] = src[i]->dtype;
    }
    return dagl__win2d_infer(ctx, op, w ? w : &dflt, pshape, nd, shp, dts, g, oshape, odt);
}

dagl_status dagl__win2d_operand(dagl_ctx *ctx, const dagl_tensor *t, dagl_dtype dt, dagl_tensor **out)
{
    dagl_tensor *c;
    dagl_status st = dagl__as_dtype(ctx, t, dt, &c);
    if (st) return st;
    st = dagl_contiguous(ctx, c, out);
    dagl_tensor_release(c);
    return st;
}
