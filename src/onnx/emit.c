/* emit.c -- how importers make dagl ops: folded at load time when every source is a constant
 * (shape arithmetic, transposed weights, batch-norm factors), else a graph node labelled with
 * the ONNX node's name; and the NCHW <-> NHWC conversions of the layout policy. */
#include "onnx_int.h"

#include <stdlib.h>
#include <string.h>

#define S(x) ((x) ? (x) : "")

/* The graph node of v (a constant gets one the first time). */
static int node_of(ox_build *b, ox_value *v)
{
    if (v->id < 0 && v->c && dagl_graph_constant(b->g, v->c, &v->id)) return -1;
    return v->id;
}

/* Folds op on constant sources now: the result is contiguous (kernels read weights faster so). */
static ox_value *fold(ox_build *b, dagl_op op, int n, ox_value *const *srcs, const dagl_node_params *p)
{
    dagl_tensor *ts[DAGL_MAX_SRCS], *r, *c;
    for (int i = 0; i < n; i++) ts[i] = srcs[i]->c;
    dagl_status st = dagl_op_apply(b->ctx, op, n, ts, p, &r);
    if (st) {
        ox_wrap(b, st);
        return NULL;
    }
    st = dagl_contiguous(b->ctx, r, &c);
    dagl_tensor_release(r);
    if (st) {
        ox_wrap(b, st);
        return NULL;
    }
    return ox_const(b, c);
}

/* Every importer's way to add an op: folded now when its sources are constants, else a node. */
ox_value *ox_op(ox_build *b, dagl_op op, int n, ox_value *const *srcs, const dagl_node_params *p)
{
    bool all_const = true;
    for (int i = 0; i < n; i++)
        if (!srcs[i]) return NULL; /* an earlier step failed (its error is set) */
        else if (!srcs[i]->c) all_const = false;
    if (all_const) return fold(b, op, n, srcs, p);
    int ids[DAGL_MAX_SRCS], id;
    for (int i = 0; i < n; i++)
        if ((ids[i] = node_of(b, srcs[i])) < 0) {
            ox_wrap(b, DAGL_E_NOMEM);
            return NULL;
        }
    dagl_status st = dagl_graph_node(b->g, op, n, ids, p, &id);
    if (st) {
        ox_wrap(b, st);
        return NULL;
    }
    if (b->node && *S(b->node->name)) dagl_graph_set_label(b->g, id, b->node->name);
    ox_value *v = ox_new(b);
    if (!v) return NULL;
    v->id = id;
    const int64_t *shape;
    dagl_graph_node_info(b->g, id, &v->dt, &v->ndim, &shape);
    memcpy(v->shape, shape, sizeof(int64_t) * (size_t)v->ndim);
    return v;
}

/* op(x) through ox_op. */
ox_value *ox_unary(ox_build *b, dagl_op op, ox_value *x) { return ox_op(b, op, 1, &x, NULL); }

/* op(x, y) through ox_op. */
ox_value *ox_binary(ox_build *b, dagl_op op, ox_value *x, ox_value *y)
{
    ox_value *s[2] = {x, y};
    return ox_op(b, op, 2, s, NULL);
}

/* op(x, s) or op(s, x) with a scalar parameter (no constant tensor needed). */
ox_value *ox_scalar(ox_build *b, dagl_op op, ox_value *x, double s, int scalar_first)
{
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.has_scalar = 1, p.scalar = s, p.scalar_first = scalar_first;
    return ox_op(b, op, 1, &x, &p);
}

/* A reshape, or x itself when the shape is already that. */
ox_value *ox_reshape(ox_build *b, ox_value *x, int ndim, const int64_t *shape)
{
    if (!x) return NULL;
    if (ndim == x->ndim && !memcmp(shape, x->shape, sizeof(int64_t) * (size_t)ndim)) return x;
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.nshape = ndim;
    memcpy(p.shape, shape, sizeof(int64_t) * (size_t)ndim);
    return ox_op(b, DAGL_OP_RESHAPE, 1, &x, &p);
}

/* A permute, or x itself for the identity order. */
ox_value *ox_permute(ox_build *b, ox_value *x, const int *perm)
{
    if (!x) return NULL;
    bool same = true;
    for (int i = 0; i < x->ndim; i++) same &= perm[i] == i;
    if (same) return x;
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.ndims = x->ndim;
    memcpy(p.dims, perm, sizeof(int) * (size_t)x->ndim);
    return ox_op(b, DAGL_OP_PERMUTE, 1, &x, &p);
}

/* A slice along one axis, or x itself when it selects everything. */
ox_value *ox_slice(ox_build *b, ox_value *x, int axis, int64_t start, int64_t stop, int64_t step)
{
    if (!x) return NULL;
    if (start == 0 && stop >= x->shape[axis] && step == 1) return x;
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.axis = axis, p.start = start, p.stop = stop, p.step = step;
    return ox_op(b, DAGL_OP_SLICE, 1, &x, &p);
}

/* Joins any number of values, in groups of DAGL_MAX_SRCS (concat's limit). */
ox_value *ox_concat(ox_build *b, int n, ox_value *const *xs, int axis)
{
    if (n == 1) return xs[0];
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.axis = axis;
    if (n <= DAGL_MAX_SRCS) return ox_op(b, DAGL_OP_CONCAT, n, xs, &p);
    ox_value *parts[DAGL_MAX_SRCS];
    int np = 0, per = (n + DAGL_MAX_SRCS - 1) / DAGL_MAX_SRCS;
    for (int i = 0; i < n; i += per) {
        int k = n - i < per ? n - i : per;
        if (!(parts[np++] = ox_concat(b, k, xs + i, axis))) return NULL;
    }
    return ox_concat(b, np, parts, axis);
}

#define OX_FILL_MAX ((int64_t)256 << 20) /* bytes a constant filled at build time may have */

/* A constant filled with v (padding, masks, ConstantOfShape). One larger than OX_FILL_MAX is
 * refused: pads or a shape that large come from a corrupt file far more often than from a model,
 * and the fill would touch all of it before anything runs. */
ox_value *ox_full(ox_build *b, dagl_dtype dt, int ndim, const int64_t *shape, double v)
{
    int64_t bytes = (int64_t)dagl_dtype_size(dt);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] > 0 && bytes > OX_FILL_MAX / shape[i])) {
            char sb[160];
            ox_fail(b, DAGL_E_SHAPE, "a constant of shape %s filled at build time would take more than %lld MiB "
                    "(pads or a shape that large: a corrupt file?)", dagl_shape_str(ndim, shape, sb, sizeof sb),
                    (long long)(OX_FILL_MAX >> 20));
            return NULL;
        }
        bytes *= shape[i];
    }
    dagl_tensor *t;
    dagl_status st = dagl_tensor_full(b->ctx, dt, ndim, shape, v, &t);
    if (st) {
        ox_wrap(b, st);
        return NULL;
    }
    return ox_const(b, t);
}

/* NHWC -> NCHW: a reshape when H*W or C is 1 (the same element order), else a permute. */
ox_value *ox_plain(ox_build *b, ox_value *x)
{
    if (!x || !x->nhwc) return x;
    if (x->plain) return x->plain;
    const int64_t *s = x->shape;
    int64_t logical[4] = {s[0], s[3], s[1], s[2]};
    static const int to_nchw[4] = {0, 3, 1, 2};
    ox_value *r = s[1] * s[2] == 1 || s[3] == 1 ? ox_reshape(b, x, 4, logical) : ox_permute(b, x, to_nchw);
    if (r == x) { /* N, 1, 1, 1: the same shape either way */
        if (!(r = ox_new(b))) return NULL;
        *r = *x;
        if (r->c) dagl_tensor_retain(r->c);
        r->nhwc = false, r->conv_x = NULL, r->conv_k = r->conv_bias = NULL;
    }
    if (r) {
        r->nhwc = false;
        r->as_nhwc = x;
        x->plain = r;
    }
    return r;
}

/* NCHW -> NHWC (4-D values only; the caller checks the rank). */
ox_value *ox_nhwc(ox_build *b, ox_value *x)
{
    if (!x || x->nhwc) return x;
    if (x->as_nhwc) return x->as_nhwc;
    const int64_t *s = x->shape;
    int64_t phys[4] = {s[0], s[2], s[3], s[1]};
    static const int to_nhwc[4] = {0, 2, 3, 1};
    ox_value *r = s[2] * s[3] == 1 || s[1] == 1 ? ox_reshape(b, x, 4, phys) : ox_permute(b, x, to_nhwc);
    if (r == x) {
        if (!(r = ox_new(b))) return NULL;
        *r = *x;
        if (r->c) dagl_tensor_retain(r->c);
        r->conv_x = NULL, r->conv_k = r->conv_bias = NULL;
    }
    if (r) {
        r->nhwc = true;
        r->plain = x;
        x->as_nhwc = r;
    }
    return r;
}

/* The int64 values of an input that must be known at build time (shapes, axes, pads). */
dagl_status ox_const_ints(ox_build *b, ox_value *v, const char *what, int64_t *out, int max, int *n)
{
    if (!v) return ox_fail(b, DAGL_E_ARG, "input '%s' is missing", what);
    if (!v->c)
        return ox_fail(b, DAGL_E_ARG,
                       "input '%s' must be a constant (an initializer, or computed from shapes only) for dagl",
                       what);
    dagl_tensor *t = v->c;
    int64_t cnt = dagl_tensor_numel(t);
    if (cnt > max) return ox_fail(b, DAGL_E_ARG, "input '%s' has %lld values (at most %d)", what, (long long)cnt, max);
    dagl_tensor *c;
    dagl_status st = dagl_cast(b->ctx, t, DAGL_I64, &c);
    if (st) return ox_wrap(b, st);
    if (cnt) memcpy(out, dagl_tensor_data(c), sizeof(int64_t) * (size_t)cnt); /* no data when empty */
    dagl_tensor_release(c);
    *n = (int)cnt;
    return DAGL_OK;
}

/* The one value of an input that must be a constant (Clip's bounds, Pad's value). */
dagl_status ox_const_scalar(ox_build *b, ox_value *v, const char *what, double *out)
{
    if (!v->c || dagl_tensor_numel(v->c) != 1)
        return ox_fail(b, DAGL_E_ARG, "input '%s' must be a constant with one value", what);
    int64_t zero[DAGL_MAX_DIMS] = {0};
    dagl_status st = dagl_get(b->ctx, v->c, zero, out);
    return st ? ox_wrap(b, st) : DAGL_OK;
}
