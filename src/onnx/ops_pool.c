/* ops_pool.c -- importers of MaxPool, AveragePool (NHWC on dagl's pool2d; pads that are not
 * SAME's are added by hand: -inf for max, zeros for average with the divisor counted at load time)
 * and GlobalAveragePool / GlobalMaxPool (reductions over H and W). */
#include "onnx_int.h"

#include <math.h>
#include <string.h>

#include "window.h"

/* ceil_mode: the extra bottom/right padding that makes floor division give the ceiling's
 * output size (a last window must start inside the input or its begin padding, as PyTorch and
 * ONNX Runtime count). */
static void ceil_extra(const int64_t *in_hw, ox_win *w, int64_t *extra)
{
    for (int d = 0; d < 2; d++) {
        int64_t span = in_hw[d] + w->pad[d] + w->pad[d + 2] - w->k[d];
        int64_t out = span < 0 ? 0 : (span + w->s[d] - 1) / w->s[d] + 1;
        if (out > 1 && (out - 1) * w->s[d] >= in_hw[d] + w->pad[d]) out--;
        int64_t e = (out - 1) * w->s[d] + w->k[d] - (in_hw[d] + w->pad[d] + w->pad[d + 2]);
        extra[d] = e > 0 ? e : 0;
    }
}

/* The divisor of an explicitly padded average: window sums of a mask of the counted elements
 * (the input, and its pads with count_include_pad) through the same average pool. */
static ox_value *avg_divisor(ox_build *b, const ox_value *x, const ox_win *w, const int64_t *pad, bool include_pad,
                             const dagl_window2d *win)
{
    int64_t s[4] = {1, x->shape[1], x->shape[2], 1};
    ox_value *mask = ox_full(b, x->dt, 4, s, 1.0);
    if (!mask) return NULL;
    int64_t inner[4] = {0}, outer[4];
    for (int i = 0; i < 4; i++) outer[i] = pad[i];
    if (include_pad) {
        memcpy(inner, w->pad, sizeof inner);
        for (int i = 0; i < 4; i++) outer[i] = pad[i] - w->pad[i];
        mask = ox_pad_hw(b, mask, inner, 1.0);
    }
    mask = ox_pad_hw(b, mask, outer, 0.0);
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.window = *win;
    return mask ? ox_op(b, DAGL_OP_AVGPOOL2D, 1, &mask, &p) : NULL;
}

/* MaxPool and AveragePool over 2-D windows. */
dagl_status ox_import_pool(ox_build *b)
{
    dagl_status st;
    bool is_max = !strcmp(b->node->op_type, "MaxPool");
    if (is_max && ox_nout(b) > 1 && *b->node->output[1] && ox_uses(b, b->node->output[1]))
        return ox_fail(b, DAGL_E_ARG, "output 'Indices' is not supported");
    if (ox_attr_int(b, "storage_order", 0)) return ox_bad_attr(b, "storage_order", "1 is not supported");
    ox_value *x = ox_in(b, 0);
    if (!x || x->ndim != 4) return ox_fail(b, DAGL_E_SHAPE, "X must be 4-D (dagl imports 2-D pools only)");
    int k[2];
    if ((st = ox_kernel_shape(b, k, true))) return st;
    if (!(x = ox_nhwc(b, x))) return b->st;
    ox_win w;
    if ((st = ox_window_attrs(b, x->shape + 1, k, &w))) return st;
    int64_t pad[4];
    memcpy(pad, w.pad, sizeof pad);
    if (ox_attr_int(b, "ceil_mode", 0)) {
        int64_t extra[2];
        ceil_extra(x->shape + 1, &w, extra);
        if (extra[0] || extra[1]) {
            pad[2] += extra[0], pad[3] += extra[1];
            w.explicit_pad = true;
        }
    }
    bool include_pad = ox_attr_int(b, "count_include_pad", 0) != 0;
    if (!is_max && include_pad && w.padding == DAGL_PAD_SAME) w.explicit_pad = true; /* dagl's SAME excludes pads */
    dagl_window2d win;
    ox_window_to_dagl(&w, &win);
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.window = win;
    dagl_op op = is_max ? DAGL_OP_MAXPOOL2D : DAGL_OP_AVGPOOL2D;
    ox_value *xp = w.explicit_pad ? ox_pad_hw(b, x, pad, is_max ? -INFINITY : 0.0) : x;
    ox_value *y = xp ? ox_op(b, op, 1, &xp, &p) : NULL;
    if (y && !is_max && w.explicit_pad)
        y = ox_binary(b, DAGL_OP_DIV, y, avg_divisor(b, x, &w, pad, include_pad, &win));
    if (y) y->nhwc = true;
    return ox_out(b, 0, y);
}

/* GlobalAveragePool / GlobalMaxPool: the mean / max over every spatial dim, kept as size 1. */
dagl_status ox_import_global_pool(ox_build *b)
{
    ox_value *x = ox_in(b, 0);
    if (!x || x->ndim < 3) return ox_fail(b, DAGL_E_SHAPE, "X must have at least 3 dims");
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.keepdim = 1;
    if (x->ndim == 4) {
        if (!(x = ox_nhwc(b, x))) return b->st;
        p.ndims = 2, p.dims[0] = 1, p.dims[1] = 2;
    } else {
        for (int d = 2; d < x->ndim; d++) p.dims[p.ndims++] = d;
    }
    ox_value *y = ox_op(b, strcmp(b->node->op_type, "GlobalMaxPool") ? DAGL_OP_MEAN : DAGL_OP_MAX, 1, &x, &p);
    if (y) y->nhwc = x->nhwc;
    return ox_out(b, 0, y);
}
