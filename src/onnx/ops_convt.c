/* ops_convt.c -- the importer of ConvTranspose: dagl's conv2d_grad_input (the transpose of a
 * VALID convolution) on NHWC values, output_padding as extra rows the transpose leaves zero,
 * then pads cropped off and the bias added; groups as one transpose per group. */
#include "onnx_int.h"

#include <string.h>

#include "window.h"

/* One group: x (NHWC, Cin channels) by an ONNX weight w (Cin, Cout, kh, kw) to a (N, full_h,
 * full_w, Cout) result. */
static ox_value *transpose_one(ox_build *b, ox_value *x, ox_value *w, const int *k, const int *s, const int64_t *full)
{
    static const int to_hwoi[4] = {2, 3, 1, 0}; /* (kh, kw, Cout, Cin): the forward conv's kernel */
    ox_value *kk = ox_permute(b, w, to_hwoi), *srcs[2] = {x, kk};
    if (!kk) return NULL;
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.window.size[0] = k[0], p.window.size[1] = k[1];
    p.window.strides[0] = s[0], p.window.strides[1] = s[1];
    p.window.padding = DAGL_PAD_VALID;
    p.nshape = 4;
    p.shape[0] = x->shape[0], p.shape[1] = full[0], p.shape[2] = full[1], p.shape[3] = w->shape[1];
    return ox_op(b, DAGL_OP_CONV2D_GRAD_INPUT, 2, srcs, &p);
}

/* ConvTranspose: 2-D, strides, pads, output_padding, group; no dilation, auto_pad or
 * output_shape. */
dagl_status ox_import_conv_transpose(ox_build *b)
{
    ox_value *x = ox_in(b, 0), *w = ox_plain(b, ox_in(b, 1)), *bias = ox_plain(b, ox_in(b, 2));
    if (!x || !w) return ox_fail(b, DAGL_E_ARG, "needs inputs X and W");
    if (x->ndim != 4 || w->ndim != 4) return ox_fail(b, DAGL_E_SHAPE, "X and W must be 4-D (2-D transposed convolutions only)");
    if (ox_attr(b, "output_shape")) return ox_bad_attr(b, "output_shape", "is not supported (give pads)");
    char buf[32];
    const char *ap = ox_attr_str(b, "auto_pad", "NOTSET", buf, sizeof buf);
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) return ox_bad_attr(b, "auto_pad", "'%s' is not supported", ap);
    if (!(x = ox_nhwc(b, x))) return b->st;
    int64_t group = ox_attr_int(b, "group", 1), cin = x->shape[3];
    if (group < 1 || group > 4096 || cin % group || w->shape[0] != cin)
        return ox_bad_attr(b, "group", "%lld does not fit %lld input channels and W's %lld", (long long)group,
                           (long long)cin, (long long)w->shape[0]);
    int64_t cout = w->shape[1] * group;
    if (bias && (bias->ndim != 1 || bias->shape[0] != cout))
        return ox_fail(b, DAGL_E_SHAPE, "B must have %lld values", (long long)cout);
    int k[2] = {(int)w->shape[2], (int)w->shape[3]}, ka[2] = {k[0], k[1]}, s[2] = {1, 1};
    int64_t v[8], pads[4] = {0, 0, 0, 0}, outpad[2] = {0, 0};
    int n;
    dagl_status st;
    if ((st = ox_kernel_shape(b, ka, false))) return st;
    if (ka[0] != k[0] || ka[1] != k[1]) return ox_bad_attr(b, "kernel_shape", "does not match W's %dx%d", k[0], k[1]);
    if ((st = ox_attr_ints(b, "dilations", v, 8, &n))) return st;
    for (int i = 0; i < n; i++)
        if (v[i] != 1) return ox_bad_attr(b, "dilations", "%lld is not supported", (long long)v[i]);
    if ((st = ox_attr_ints(b, "strides", v, 8, &n))) return st;
    for (int i = 0; n == 2 && i < 2; i++) {
        if (v[i] < 1 || v[i] > 1 << 16) return ox_bad_attr(b, "strides", "%lld is out of range", (long long)v[i]);
        s[i] = (int)v[i];
    }
    if (n >= 0 && n != 2) return ox_bad_attr(b, "strides", "%d values for a 2-D window", n);
    if ((st = ox_attr_ints(b, "pads", pads, 4, &n))) return st;
    if (n >= 0 && n != 4) return ox_bad_attr(b, "pads", "%d values (4 expected)", n);
    if (!strcmp(ap, "VALID")) memset(pads, 0, sizeof pads);
    if ((st = ox_attr_ints(b, "output_padding", outpad, 2, &n))) return st;
    int64_t full[2];
    for (int d = 0; d < 2; d++) {
        if (outpad[d] < 0 || outpad[d] >= s[d])
            return ox_bad_attr(b, "output_padding", "%lld must be below the stride", (long long)outpad[d]);
        if (pads[d] < 0 || pads[d + 2] < 0) return ox_bad_attr(b, "pads", "negative pads");
        full[d] = (x->shape[1 + d] - 1) * s[d] + k[d] + outpad[d];
        if (pads[d] + pads[d + 2] >= full[d]) return ox_bad_attr(b, "pads", "leave no output");
    }
    ox_value *y;
    if (group == 1) {
        y = transpose_one(b, x, w, k, s, full);
    } else {
        ox_value *parts[4096];
        int64_t cg = cin / group;
        for (int64_t gi = 0; gi < group; gi++) {
            ox_value *xg = ox_slice(b, x, 3, gi * cg, (gi + 1) * cg, 1);
            ox_value *wg = ox_slice(b, w, 0, gi * cg, (gi + 1) * cg, 1);
            if (!xg || !wg || !(parts[gi] = transpose_one(b, xg, wg, k, s, full))) return b->st;
        }
        y = ox_concat(b, (int)group, parts, 3);
    }
    for (int d = 0; d < 2 && y; d++) y = ox_slice(b, y, 1 + d, pads[d], full[d] - pads[d + 2], 1);
    if (y && bias) y = ox_binary(b, DAGL_OP_ADD, y, bias);
    if (y) y->nhwc = true;
    return ox_out(b, 0, y);
}
