/* ops_shape.c -- importers of the ops that only reshape, name or make values: Identity/Dropout,
 * Flatten, Reshape, Transpose, Squeeze, Unsqueeze, Shape, Constant, ConstantOfShape, Cast,
 * Expand, Concat. They work in ONNX's layout (NHWC values are converted first), except Concat of
 * NHWC values along the channels, which stays NHWC. Shape gives a constant (input shapes are
 * fixed), so the shape arithmetic that follows folds at load time. */
#include "onnx_int.h"

#include <math.h>
#include <string.h>

#include "window.h"

#define S(x) ((x) ? (x) : "")

/* Identity, and Dropout at inference (a mask output, if read, is refused). */
dagl_status ox_import_identity(ox_build *b)
{
    ox_value *x = ox_in(b, 0);
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    if (!strcmp(b->node->op_type, "Dropout")) {
        ox_value *training = ox_in(b, 2);
        double on = 0;
        if (training && ox_const_scalar(b, training, "training_mode", &on)) return b->st;
        if (on) return ox_fail(b, DAGL_E_ARG, "training_mode is true (dagl imports inference only)");
        if (ox_nout(b) > 1 && *S(b->node->output[1]) && ox_uses(b, b->node->output[1]))
            return ox_fail(b, DAGL_E_ARG, "output 'mask' is not supported");
    }
    return ox_out(b, 0, x);
}

/* Flatten: (prod of dims before axis, prod of the rest). */
dagl_status ox_import_flatten(ox_build *b)
{
    ox_value *x = ox_plain(b, ox_in(b, 0));
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    int axis;
    dagl_status st = ox_axis(b, "axis", ox_attr_int(b, "axis", 1), x->ndim + 1, &axis);
    if (st) return st;
    int64_t s[2] = {1, 1};
    for (int d = 0; d < x->ndim; d++) s[d >= axis] *= x->shape[d];
    return ox_out(b, 0, ox_reshape(b, x, 2, s));
}

/* Reshape to a constant shape: 0 copies the input's dim (allowzero = 0), -1 is inferred. */
dagl_status ox_import_reshape(ox_build *b)
{
    ox_value *x = ox_plain(b, ox_in(b, 0));
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    int64_t s[DAGL_MAX_DIMS];
    int n;
    dagl_status st = ox_const_ints(b, ox_in(b, 1), "shape", s, DAGL_MAX_DIMS, &n);
    if (st) return st;
    bool allowzero = ox_attr_int(b, "allowzero", 0) != 0;
    for (int d = 0; d < n; d++) {
        if (s[d] == 0 && !allowzero) {
            if (d >= x->ndim) return ox_fail(b, DAGL_E_SHAPE, "shape entry %d is 0 but the input has %d dims", d, x->ndim);
            s[d] = x->shape[d];
        } else if (s[d] < -1) {
            return ox_fail(b, DAGL_E_SHAPE, "shape entry %lld is invalid", (long long)s[d]);
        }
    }
    return ox_out(b, 0, ox_reshape(b, x, n, s));
}

/* Transpose by perm (default: reversed dims). */
dagl_status ox_import_transpose(ox_build *b)
{
    ox_value *x = ox_plain(b, ox_in(b, 0));
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    int64_t v[DAGL_MAX_DIMS];
    int n, perm[DAGL_MAX_DIMS];
    bool seen[DAGL_MAX_DIMS] = {false};
    dagl_status st = ox_attr_ints(b, "perm", v, DAGL_MAX_DIMS, &n);
    if (st) return st;
    if (n >= 0 && n != x->ndim) return ox_bad_attr(b, "perm", "%d entries for %d dims", n, x->ndim);
    for (int d = 0; d < x->ndim; d++) {
        if ((st = ox_axis(b, "perm entry", n < 0 ? x->ndim - 1 - d : v[d], x->ndim, &perm[d]))) return st;
        if (seen[perm[d]]) return ox_bad_attr(b, "perm", "repeats dim %d", perm[d]);
        seen[perm[d]] = true;
    }
    return ox_out(b, 0, ox_permute(b, x, perm));
}

/* The axes of Squeeze/Unsqueeze: attribute before opset 13, input from 13 (none: -1 count). */
static dagl_status axes_of(ox_build *b, int64_t *axes, int *n)
{
    if (ox_opset(b) < 13) return ox_attr_ints(b, "axes", axes, DAGL_MAX_DIMS, n);
    if (ox_attr(b, "axes")) return ox_bad_attr(b, "axes", "is an input from opset 13 on");
    *n = -1;
    ox_value *a = ox_in(b, 1);
    return a ? ox_const_ints(b, a, "axes", axes, DAGL_MAX_DIMS, n) : DAGL_OK;
}

/* Squeeze: drops the given size-1 dims (all of them when none are given). */
dagl_status ox_import_squeeze(ox_build *b)
{
    ox_value *x = ox_plain(b, ox_in(b, 0));
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    int64_t axes[DAGL_MAX_DIMS], s[DAGL_MAX_DIMS];
    int n, ns = 0;
    bool drop[DAGL_MAX_DIMS] = {false};
    dagl_status st = axes_of(b, axes, &n);
    if (st) return st;
    for (int i = 0; i < n; i++) {
        int a;
        if ((st = ox_axis(b, "axis", axes[i], x->ndim, &a))) return st;
        if (x->shape[a] != 1) return ox_fail(b, DAGL_E_SHAPE, "dim %d has size %lld, not 1", a, (long long)x->shape[a]);
        drop[a] = true;
    }
    for (int d = 0; d < x->ndim; d++)
        if (!(n < 0 ? x->shape[d] == 1 : drop[d])) s[ns++] = x->shape[d];
    return ox_out(b, 0, ox_reshape(b, x, ns, s));
}

/* Unsqueeze: inserts size-1 dims at the given places of the result. */
dagl_status ox_import_unsqueeze(ox_build *b)
{
    ox_value *x = ox_plain(b, ox_in(b, 0));
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    int64_t axes[DAGL_MAX_DIMS], s[DAGL_MAX_DIMS];
    int n;
    bool ins[DAGL_MAX_DIMS] = {false};
    dagl_status st = axes_of(b, axes, &n);
    if (st) return st;
    if (n < 0) return ox_fail(b, DAGL_E_ARG, "axes are missing");
    int r = x->ndim + n;
    if (r > DAGL_MAX_DIMS) return ox_fail(b, DAGL_E_SHAPE, "the result would have %d dims (at most %d)", r, DAGL_MAX_DIMS);
    for (int i = 0; i < n; i++) {
        int a;
        if ((st = ox_axis(b, "axis", axes[i], r, &a))) return st;
        if (ins[a]) return ox_fail(b, DAGL_E_ARG, "axis %d is repeated", a);
        ins[a] = true;
    }
    for (int d = 0, k = 0; d < r; d++) s[d] = ins[d] ? 1 : x->shape[k++];
    return ox_out(b, 0, ox_reshape(b, x, r, s));
}

/* Shape: the (fixed) ONNX-layout shape as an int64 constant; start/end from opset 15. */
dagl_status ox_import_shape(ox_build *b)
{
    ox_value *x = ox_plain(b, ox_in(b, 0));
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    int64_t r = x->ndim, start = ox_attr_int(b, "start", 0), end = ox_attr_int(b, "end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < start ? start : end > r ? r : end;
    int64_t n = end - start;
    dagl_tensor *t;
    if (dagl_tensor_new(b->ctx, DAGL_I64, 1, &n, &t)) return ox_wrap(b, DAGL_E_NOMEM);
    if (n) memcpy(dagl_tensor_data(t), x->shape + start, sizeof(int64_t) * (size_t)n);
    return ox_out(b, 0, ox_const(b, t));
}

/* Constant: its value attribute (a tensor, or value_float(s) / value_int(s)). */
dagl_status ox_import_constant(ox_build *b)
{
    const Onnx__AttributeProto *a;
    dagl_tensor *t = NULL;
    dagl_status st;
    if ((a = ox_attr(b, "value")) && a->t) {
        if ((st = ox_tensor_from_proto(b->ctx, a->t, b->m->proto, b->m->dir, S(b->node->name), &t))) return ox_wrap(b, st);
    } else if ((a = ox_attr(b, "value_float")) || (a = ox_attr(b, "value_int"))) {
        bool f = !strcmp(a->name, "value_float");
        if ((st = dagl_tensor_full(b->ctx, f ? DAGL_F32 : DAGL_I64, 0, NULL, f ? a->f : (double)a->i, &t))) return ox_wrap(b, st);
    } else if ((a = ox_attr(b, "value_floats")) || (a = ox_attr(b, "value_ints"))) {
        bool f = !strcmp(a->name, "value_floats");
        int64_t n = f ? (int64_t)a->n_floats : (int64_t)a->n_ints;
        if ((st = dagl_tensor_new(b->ctx, f ? DAGL_F32 : DAGL_I64, 1, &n, &t))) return ox_wrap(b, st);
        if (n) memcpy(dagl_tensor_data(t), f ? (void *)a->floats : (void *)a->ints, (size_t)n * (f ? 4 : 8));
    } else {
        return ox_fail(b, DAGL_E_ARG, "needs a value, value_float(s) or value_int(s) attribute (sparse and string "
                                      "values are not supported)");
    }
    return ox_out(b, 0, ox_const(b, t));
}

/* ConstantOfShape: a constant of the (constant) shape filled with value's one element (0.0f). */
dagl_status ox_import_constant_of_shape(ox_build *b)
{
    int64_t s[DAGL_MAX_DIMS];
    int n;
    dagl_status st = ox_const_ints(b, ox_in(b, 0), "input", s, DAGL_MAX_DIMS, &n);
    if (st) return st;
    int64_t total = 1;
    for (int d = 0; d < n; d++)
        if (s[d] < 0 || __builtin_mul_overflow(total, s[d], &total) || total > ((int64_t)1 << 28))
            return ox_fail(b, DAGL_E_SHAPE, "bad or too large shape");
    dagl_dtype dt = DAGL_F32;
    double v = 0;
    const Onnx__AttributeProto *a = ox_attr(b, "value");
    if (a && a->t) {
        dagl_tensor *t;
        if ((st = ox_tensor_from_proto(b->ctx, a->t, NULL, b->m->dir, "value", &t))) return ox_wrap(b, st);
        int64_t zero[DAGL_MAX_DIMS] = {0};
        dt = dagl_tensor_dtype(t);
        st = dagl_tensor_numel(t) == 1 ? dagl_get(b->ctx, t, zero, &v) : ox_bad_attr(b, "value", "must have one element");
        dagl_tensor_release(t);
        if (st) return ox_wrap(b, st);
    }
    return ox_out(b, 0, ox_full(b, dt, n, s, v));
}

/* Cast to FLOAT, DOUBLE, the integers (int64 in dagl) or BOOL/UINT8 (uint8; BOOL as x != 0). */
dagl_status ox_import_cast(ox_build *b)
{
    ox_value *x = ox_in(b, 0);
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    int64_t to = ox_attr_int(b, "to", -1);
    int dt = ox_dtype_of((int)to);
    if (dt < 0) return ox_bad_attr(b, "to", "%s (%lld) is not supported", ox_type_name((int)to), (long long)to);
    if (to == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL && x->dt != DAGL_U8) x = ox_scalar(b, DAGL_OP_NE, x, 0, 0);
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.dtype = (dagl_dtype)dt;
    ox_value *y = x && x->dt == (dagl_dtype)dt ? x : ox_op(b, DAGL_OP_CAST, 1, &x, &p);
    if (y && x) y->nhwc = x->nhwc;
    return ox_out(b, 0, y);
}

/* Expand: bidirectional broadcast to a constant shape. */
dagl_status ox_import_expand(ox_build *b)
{
    ox_value *x = ox_plain(b, ox_in(b, 0));
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    int64_t s[DAGL_MAX_DIMS], xs[DAGL_MAX_DIMS];
    int n;
    dagl_status st = ox_const_ints(b, ox_in(b, 1), "shape", s, DAGL_MAX_DIMS, &n);
    if (st) return st;
    int r = n > x->ndim ? n : x->ndim;
    for (int d = 0; d < r; d++) {
        int64_t a = d - (r - x->ndim) >= 0 ? x->shape[d - (r - x->ndim)] : 1;
        int64_t c = d - (r - n) >= 0 ? s[d - (r - n)] : 1;
        if (a != c && a != 1 && c != 1)
            return ox_fail(b, DAGL_E_SHAPE, "dim %d: %lld cannot broadcast to %lld", d, (long long)a, (long long)c);
        xs[d] = a;
        s[d] = a == 1 ? c : a;
    }
    x = ox_reshape(b, x, r, xs);
    if (!x || !memcmp(xs, s, sizeof(int64_t) * (size_t)r)) return ox_out(b, 0, x);
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.nshape = r;
    memcpy(p.shape, s, sizeof(int64_t) * (size_t)r);
    return ox_out(b, 0, ox_op(b, DAGL_OP_EXPAND, 1, &x, &p));
}

/* Concat along axis; NHWC values joined along channels stay NHWC. */
dagl_status ox_import_concat(ox_build *b)
{
    int n = ox_nin(b);
    if (n < 1 || n > 4096) return ox_fail(b, DAGL_E_ARG, "%d inputs", n);
    ox_value *xs[4096];
    bool all_nhwc = true;
    for (int i = 0; i < n; i++) {
        if (!(xs[i] = ox_in(b, i))) return ox_fail(b, DAGL_E_ARG, "input %d is missing", i + 1);
        all_nhwc &= xs[i]->nhwc;
    }
    int axis;
    dagl_status st = ox_axis(b, "axis", ox_attr_int(b, "axis", 0), xs[0]->ndim, &axis);
    if (st) return st;
    if (all_nhwc) {
        static const int phys[4] = {0, 3, 1, 2};
        ox_value *y = ox_concat(b, n, xs, phys[axis]);
        if (y) y->nhwc = true;
        return ox_out(b, 0, y);
    }
    for (int i = 0; i < n; i++)
        if (!(xs[i] = ox_plain(b, xs[i]))) return b->st;
    return ox_out(b, 0, ox_concat(b, n, xs, axis));
}

/* Pad in constant mode with constant pads (an attribute before opset 11, inputs from 11);
 * NHWC values stay NHWC (the pads are moved to their dims). */
dagl_status ox_import_pad(ox_build *b)
{
    ox_value *x = ox_in(b, 0);
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    char buf[16];
    const char *mode = ox_attr_str(b, "mode", "constant", buf, sizeof buf);
    if (strcmp(mode, "constant")) return ox_bad_attr(b, "mode", "'%s' is not supported (constant only)", mode);
    int64_t pads[2 * DAGL_MAX_DIMS];
    int n;
    double value = 0;
    dagl_status st;
    if (ox_opset(b) < 11) {
        if ((st = ox_attr_ints(b, "pads", pads, 2 * DAGL_MAX_DIMS, &n))) return st;
        value = ox_attr_float(b, "value", 0.0);
    } else {
        if ((st = ox_const_ints(b, ox_in(b, 1), "pads", pads, 2 * DAGL_MAX_DIMS, &n))) return st;
        if (ox_in(b, 2) && (st = ox_const_scalar(b, ox_in(b, 2), "constant_value", &value))) return st;
        if (ox_in(b, 3)) return ox_fail(b, DAGL_E_ARG, "input 'axes' is not supported");
    }
    int r = x->ndim;
    if (n != 2 * r) return ox_fail(b, DAGL_E_ARG, "%d pads for %d dims", n, r);
    static const int phys[4] = {0, 3, 1, 2};
    for (int d = 0; d < r && x; d++) {
        if (pads[d] < 0 || pads[d + r] < 0) return ox_fail(b, DAGL_E_ARG, "negative pads are not supported");
        if (pads[d] > 1 << 20 || pads[d + r] > 1 << 20) return ox_fail(b, DAGL_E_ARG, "pads too large");
        x = ox_pad_axis(b, x, x->nhwc ? phys[d] : d, pads[d], pads[d + r], value);
    }
    return ox_out(b, 0, x);
}
