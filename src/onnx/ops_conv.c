/* ops_conv.c -- importers of Conv (NHWC on dagl's conv2d, weights transposed at load time,
 * groups as one conv per group) and BatchNormalization (inference: folded into the Conv that
 * feeds it when nothing else reads that Conv, else one multiply-add per channel). */
#include "onnx_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "window.h"

/* One 2-D convolution of x (NHWC) by an ONNX weight w (M, C, kh, kw) plus bias (M) or none. */
static ox_value *conv_one(ox_build *b, ox_value *x, ox_value *w, ox_value *bias, const dagl_window2d *win)
{
    static const int to_hwio[4] = {2, 3, 1, 0};
    ox_value *k = ox_permute(b, w, to_hwio), *srcs[2] = {x, k};
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.window = *win;
    ox_value *y = k ? ox_op(b, DAGL_OP_CONV2D, 2, srcs, &p) : NULL;
    if (y && bias) y = ox_binary(b, DAGL_OP_ADD, y, bias);
    if (y) {
        y->nhwc = true;
        if (k && k->c && (!bias || bias->c)) { /* what BatchNormalization may fold into */
            y->conv_x = x, y->conv_k = k->c, y->conv_bias = bias ? bias->c : NULL, y->conv_w = *win;
        }
    }
    return y;
}

/* A depthwise convolution (one filter per channel: group = C = M) as the sum over the kernel's
 * taps of a strided window of the padded input times that tap's per-channel weights: kh * kw
 * elementwise steps dagl fuses into one pass, instead of C one-channel convolutions. */
static ox_value *depthwise(ox_build *b, ox_value *x, ox_value *w, ox_value *bias, const ox_win *ow)
{
    x = ox_pad_hw(b, x, ow->pad, 0.0);
    if (!x) return NULL;
    int64_t oh = (x->shape[1] - ow->k[0]) / ow->s[0] + 1, ow_ = (x->shape[2] - ow->k[1]) / ow->s[1] + 1;
    if (oh < 1 || ow_ < 1) {
        ox_fail(b, DAGL_E_SHAPE, "the kernel is larger than the padded input");
        return NULL;
    }
    static const int to_hwc[4] = {2, 3, 0, 1}; /* (C, 1, kh, kw) -> (kh, kw, C, 1) */
    ox_value *taps = ox_permute(b, w, to_hwc), *acc = NULL;
    int64_t c = w->shape[0];
    for (int i = 0; i < ow->k[0] && taps; i++)
        for (int j = 0; j < ow->k[1]; j++) {
            ox_value *win = ox_slice(b, x, 1, i, i + (oh - 1) * ow->s[0] + 1, ow->s[0]);
            win = ox_slice(b, win, 2, j, j + (ow_ - 1) * ow->s[1] + 1, ow->s[1]);
            ox_value *tap = ox_slice(b, ox_slice(b, taps, 0, i, i + 1, 1), 1, j, j + 1, 1);
            ox_value *term = ox_binary(b, DAGL_OP_MUL, win, ox_reshape(b, tap, 1, &c));
            acc = acc ? ox_binary(b, DAGL_OP_ADD, acc, term) : term;
            if (!acc) return NULL;
        }
    if (acc && bias) acc = ox_binary(b, DAGL_OP_ADD, acc, bias);
    if (acc) acc->nhwc = true;
    return acc;
}

/* Conv: 2-D, any pads/strides/auto_pad, groups; no dilation. */
dagl_status ox_import_conv(ox_build *b)
{
    dagl_status st;
    ox_value *x = ox_in(b, 0), *w = ox_plain(b, ox_in(b, 1)), *bias = ox_plain(b, ox_in(b, 2));
    if (!x || !w) return ox_fail(b, DAGL_E_ARG, "needs inputs X and W");
    if (x->ndim != 4 || w->ndim != 4)
        return ox_fail(b, DAGL_E_SHAPE, "X and W must be 4-D (dagl imports 2-D convolutions only); got %d-D and %d-D",
                       x->ndim, w->ndim);
    int64_t group = ox_attr_int(b, "group", 1);
    x = ox_nhwc(b, x);
    if (!x) return b->st;
    int64_t c = x->shape[3], m = w->shape[0];
    if (group < 1 || c % group || m % group || w->shape[1] * group != c)
        return ox_bad_attr(b, "group", "%lld does not fit %lld input channels and W of shape [%lld, %lld, ...]",
                           (long long)group, (long long)c, (long long)m, (long long)w->shape[1]);
    if (bias && (bias->ndim != 1 || bias->shape[0] != m)) return ox_fail(b, DAGL_E_SHAPE, "B must have %lld values", (long long)m);
    int k[2] = {(int)w->shape[2], (int)w->shape[3]}, ka[2] = {k[0], k[1]};
    if ((st = ox_kernel_shape(b, ka, false))) return st;
    if (ka[0] != k[0] || ka[1] != k[1]) return ox_bad_attr(b, "kernel_shape", "does not match W's %dx%d", k[0], k[1]);
    ox_win ow;
    if ((st = ox_window_attrs(b, x->shape + 1, k, &ow))) return st;
    if (group > 1 && group == c && m == c && w->c) return ox_out(b, 0, depthwise(b, x, w, bias, &ow));
    dagl_window2d win;
    ox_window_to_dagl(&ow, &win);
    if (ow.explicit_pad) x = ox_pad_hw(b, x, ow.pad, 0.0);
    if (!x) return b->st;
    if (group == 1) return ox_out(b, 0, conv_one(b, x, w, bias, &win));
    if (group > 4096) return ox_bad_attr(b, "group", "%lld groups (at most 4096)", (long long)group);
    ox_value *parts[4096];
    int64_t cg = c / group, mg = m / group;
    for (int64_t gi = 0; gi < group; gi++) {
        ox_value *xg = ox_slice(b, x, 3, gi * cg, (gi + 1) * cg, 1);
        if (xg) xg->nhwc = true;
        ox_value *wg = ox_slice(b, w, 0, gi * mg, (gi + 1) * mg, 1);
        ox_value *bg = bias ? ox_slice(b, bias, 0, gi * mg, (gi + 1) * mg, 1) : NULL;
        if (!xg || !wg || (bias && !bg) || !(parts[gi] = conv_one(b, xg, wg, bg, &win))) return b->st;
    }
    ox_value *y = ox_concat(b, (int)group, parts, 3);
    if (y) y->nhwc = true;
    return ox_out(b, 0, y);
}

/* A per-channel constant (C values, as doubles) shaped to broadcast over x's channels. */
static ox_value *channel_const(ox_build *b, const ox_value *x, const double *v, int64_t c)
{
    int64_t shape[DAGL_MAX_DIMS];
    int nd = x->nhwc ? 1 : x->ndim - 1;
    shape[0] = c;
    for (int d = 1; d < nd; d++) shape[d] = 1;
    dagl_tensor *t;
    if (dagl_tensor_new(b->ctx, x->dt, nd, shape, &t)) {
        ox_wrap(b, DAGL_E_NOMEM);
        return NULL;
    }
    for (int64_t i = 0; i < c; i++)
        if (x->dt == DAGL_F64) ((double *)dagl_tensor_data(t))[i] = v[i];
        else ((float *)dagl_tensor_data(t))[i] = (float)v[i];
    return ox_const(b, t);
}

/* The values of a constant BatchNormalization input as doubles (C of them). */
static dagl_status bn_input(ox_build *b, int i, const char *what, int64_t c, double *out)
{
    ox_value *v = ox_in(b, i);
    if (!v || !v->c)
        return ox_fail(b, DAGL_E_ARG, "input '%s' must be a constant (dagl imports inference-mode BatchNormalization)", what);
    if (dagl_tensor_numel(v->c) != c) return ox_fail(b, DAGL_E_SHAPE, "input '%s' has %lld values for %lld channels", what,
                                                   (long long)dagl_tensor_numel(v->c), (long long)c);
    dagl_tensor *d;
    if (dagl_cast(b->ctx, v->c, DAGL_F64, &d)) return ox_wrap(b, DAGL_E_NOMEM);
    if (c) memcpy(out, dagl_tensor_data(d), sizeof(double) * (size_t)c);
    dagl_tensor_release(d);
    return DAGL_OK;
}

/* The conv of y's record redone with its kernel scaled by a (per output channel) and bias
 * a * bias + shift: the batch norm costs nothing at run time. */
static ox_value *fold_into_conv(ox_build *b, ox_value *y, const double *a, const double *shift, int64_t c)
{
    ox_value *av = channel_const(b, y, a, c), *sv = channel_const(b, y, shift, c);
    dagl_tensor_retain(y->conv_k);
    ox_value *k = ox_const(b, y->conv_k), *bias = NULL;
    if (y->conv_bias) {
        dagl_tensor_retain(y->conv_bias);
        bias = ox_const(b, y->conv_bias);
    }
    if (!av || !sv || !k || (y->conv_bias && !bias)) return NULL;
    ox_value *k2 = ox_binary(b, DAGL_OP_MUL, k, av);
    ox_value *b2 = bias ? ox_binary(b, DAGL_OP_ADD, ox_binary(b, DAGL_OP_MUL, bias, av), sv) : sv;
    ox_value *srcs[2] = {y->conv_x, k2};
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.window = y->conv_w;
    ox_value *r = k2 && b2 ? ox_op(b, DAGL_OP_CONV2D, 2, srcs, &p) : NULL;
    if (r) r = ox_binary(b, DAGL_OP_ADD, r, b2);
    if (r) r->nhwc = true;
    return r;
}

/* BatchNormalization (inference): y = x * a + shift with a = scale / sqrt(var + eps) and
 * shift = B - mean * a per channel (dim 1 in ONNX's layout). */
dagl_status ox_import_batchnorm(ox_build *b)
{
    dagl_status st;
    if (ox_attr_int(b, "training_mode", 0)) return ox_bad_attr(b, "training_mode", "1 is not supported (inference only)");
    if (ox_attr_int(b, "spatial", 1) != 1) return ox_bad_attr(b, "spatial", "0 is not supported");
    for (int i = 1; i < ox_nout(b); i++)
        if (*b->node->output[i] && ox_uses(b, b->node->output[i]))
            return ox_fail(b, DAGL_E_ARG, "output %d (training statistics) is not supported", i + 1);
    ox_value *x = ox_in(b, 0);
    if (!x || x->ndim < 2) return ox_fail(b, DAGL_E_SHAPE, "X must have at least 2 dims");
    if (x->dt != DAGL_F32 && x->dt != DAGL_F64) return ox_fail(b, DAGL_E_DTYPE, "X must be float");
    int64_t c = x->nhwc ? x->shape[3] : x->shape[1];
    if (c > OX_INDEX_MAX) return ox_fail(b, DAGL_E_SHAPE, "%lld channels (at most %lld)", (long long)c, (long long)OX_INDEX_MAX);
    double *buf = malloc(sizeof(double) * 4 * (size_t)(c ? c : 1));
    if (!buf) return ox_fail(b, DAGL_E_NOMEM, "out of memory");
    double *scale = buf, *bias = buf + c, *mean = buf + 2 * c, *var = buf + 3 * c;
    if ((st = bn_input(b, 1, "scale", c, scale)) || (st = bn_input(b, 2, "B", c, bias)) ||
        (st = bn_input(b, 3, "mean", c, mean)) || (st = bn_input(b, 4, "var", c, var))) {
        free(buf);
        return st;
    }
    double eps = ox_attr_float(b, "epsilon", 1e-5);
    for (int64_t i = 0; i < c; i++) {
        scale[i] /= sqrt(var[i] + eps);    /* a */
        bias[i] -= mean[i] * scale[i];     /* shift */
    }
    ox_value *y;
    if (x->conv_k && ox_uses(b, b->node->input[0]) == 1) {
        y = fold_into_conv(b, x, scale, bias, c);
    } else {
        ox_value *a = channel_const(b, x, scale, c), *s = channel_const(b, x, bias, c);
        y = a && s ? ox_binary(b, DAGL_OP_ADD, ox_binary(b, DAGL_OP_MUL, x, a), s) : NULL;
        if (y) y->nhwc = x->nhwc;
    }
    free(buf);
    return ox_out(b, 0, y);
}
