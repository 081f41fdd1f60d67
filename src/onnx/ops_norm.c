/* ops_norm.c -- importers of LayerNormalization (opset 17) and InstanceNormalization, composed
 * from dagl's reductions and elementwise ops: (x - mean) / sqrt(var + eps) * scale + bias, the
 * variance the mean of the squared deviations (biased, as ONNX defines it). */
#include "onnx_int.h"

#include <string.h>

/* (x - mean) / sqrt(var + eps) over the dims in p (kept, for broadcasting back). */
static ox_value *normalize(ox_build *b, ox_value *x, const dagl_node_params *p, double eps)
{
    ox_value *mean = ox_op(b, DAGL_OP_MEAN, 1, &x, p);
    ox_value *d = ox_binary(b, DAGL_OP_SUB, x, mean);
    ox_value *sq = ox_binary(b, DAGL_OP_MUL, d, d);
    ox_value *var = sq ? ox_op(b, DAGL_OP_MEAN, 1, &sq, p) : NULL;
    ox_value *sd = ox_unary(b, DAGL_OP_SQRT, ox_scalar(b, DAGL_OP_ADD, var, eps, 0));
    return ox_binary(b, DAGL_OP_DIV, d, sd);
}

/* LayerNormalization: normalized over the dims from axis on, times Scale, plus B (both of the
 * normalized dims' shape, broadcast). Mean and InvStdDev outputs are refused when read. */
dagl_status ox_import_layernorm(ox_build *b)
{
    for (int i = 1; i < ox_nout(b); i++)
        if (*b->node->output[i] && ox_uses(b, b->node->output[i]))
            return ox_fail(b, DAGL_E_ARG, "output %d (Mean / InvStdDev) is not supported", i + 1);
    ox_value *x = ox_plain(b, ox_in(b, 0)), *scale = ox_plain(b, ox_in(b, 1)), *bias = ox_plain(b, ox_in(b, 2));
    if (!x || !scale) return ox_fail(b, DAGL_E_ARG, "needs inputs X and Scale");
    int axis;
    dagl_status st = ox_axis(b, "axis", ox_attr_int(b, "axis", -1), x->ndim, &axis);
    if (st) return st;
    if (ox_attr_int(b, "stash_type", 1) != 1) return ox_bad_attr(b, "stash_type", "only 1 (float) is supported");
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.keepdim = 1;
    for (int d = axis; d < x->ndim; d++) p.dims[p.ndims++] = d;
    ox_value *y = ox_binary(b, DAGL_OP_MUL, normalize(b, x, &p, ox_attr_float(b, "epsilon", 1e-5)), scale);
    if (y && bias) y = ox_binary(b, DAGL_OP_ADD, y, bias);
    return ox_out(b, 0, y);
}

/* InstanceNormalization: normalized over the spatial dims of each (sample, channel), times
 * scale, plus B (one value per channel); NHWC values stay NHWC. */
dagl_status ox_import_instancenorm(ox_build *b)
{
    ox_value *x = ox_in(b, 0), *scale = ox_plain(b, ox_in(b, 1)), *bias = ox_plain(b, ox_in(b, 2));
    if (!x || !scale || !bias) return ox_fail(b, DAGL_E_ARG, "needs inputs input, scale and B");
    if (x->ndim < 3) return ox_fail(b, DAGL_E_SHAPE, "the input must have at least 3 dims");
    int64_t c = x->nhwc ? x->shape[3] : x->shape[1];
    if (scale->ndim != 1 || bias->ndim != 1 || scale->shape[0] != c || bias->shape[0] != c)
        return ox_fail(b, DAGL_E_SHAPE, "scale and B must have %lld values", (long long)c);
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.keepdim = 1;
    int64_t cs[DAGL_MAX_DIMS];
    int cnd = 1;
    cs[0] = c;
    if (x->nhwc) {
        p.ndims = 2, p.dims[0] = 1, p.dims[1] = 2;
    } else {
        for (int d = 2; d < x->ndim; d++) p.dims[p.ndims++] = d, cs[cnd++] = 1;
    }
    scale = ox_reshape(b, scale, cnd, cs);
    bias = ox_reshape(b, bias, cnd, cs);
    ox_value *y = ox_binary(b, DAGL_OP_MUL, normalize(b, x, &p, ox_attr_float(b, "epsilon", 1e-5)), scale);
    y = ox_binary(b, DAGL_OP_ADD, y, bias);
    if (y) y->nhwc = x->nhwc;
    return ox_out(b, 0, y);
}
