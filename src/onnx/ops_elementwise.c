/* ops_elementwise.c -- importers of ONNX's elementwise ops: unary math, broadcasting arithmetic
 * and comparisons, Where, the activations composed from dagl ops, and Clip. Elementwise ops keep
 * NHWC activations NHWC (their other operands are brought to that layout, constants at load time). */
#include "onnx_int.h"

#include <math.h>
#include <string.h>

typedef struct op_map {
    const char *onnx;
    dagl_op op;
} op_map;

/* dagl's op for the current node's op type in a table. */
static dagl_op op_in(const ox_build *b, const op_map *t)
{
    for (; t->onnx; t++)
        if (!strcmp(t->onnx, b->node->op_type)) return t->op;
    return DAGL_OP_NONE;
}

/* Brings n operands to one layout: NHWC when any is NHWC and all have rank <= 4 (lower ranks
 * broadcast as NCHW: padded to rank 4 with leading 1s first), else ONNX's. Returns the layout. */
static bool same_layout(ox_build *b, int n, ox_value **v)
{
    bool any = false, fits = true;
    for (int i = 0; i < n; i++) {
        any |= v[i]->nhwc;
        fits &= v[i]->ndim <= 4;
    }
    for (int i = 0; i < n; i++) {
        if (!any || !fits) {
            v[i] = ox_plain(b, v[i]);
        } else if (!v[i]->nhwc) {
            int64_t s[4] = {1, 1, 1, 1};
            int r = v[i]->ndim;
            for (int d = 0; d < r; d++) s[4 - r + d] = v[i]->shape[d];
            v[i] = ox_nhwc(b, ox_reshape(b, v[i], 4, s));
        }
        if (!v[i]) return false;
    }
    return any && fits;
}

/* The result of an elementwise op, marked with its operands' layout. */
static ox_value *laid(ox_value *r, bool nhwc)
{
    if (r) r->nhwc = nhwc;
    return r;
}

static const op_map unary_ops[] = {
    {"Neg", DAGL_OP_NEG},   {"Exp", DAGL_OP_EXP},   {"Log", DAGL_OP_LOG},         {"Sqrt", DAGL_OP_SQRT},
    {"Abs", DAGL_OP_ABS},   {"Tanh", DAGL_OP_TANH}, {"Sigmoid", DAGL_OP_SIGMOID}, {"Relu", DAGL_OP_RELU},
    {"Erf", DAGL_OP_ERF},   {NULL, DAGL_OP_NONE},
};

/* Neg, Exp, Log, Sqrt, Abs, Tanh, Sigmoid, Relu, Erf: one dagl op each. */
dagl_status ox_import_unary(ox_build *b)
{
    ox_value *x = ox_in(b, 0);
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    return ox_out(b, 0, laid(ox_unary(b, op_in(b, unary_ops), x), x->nhwc));
}

/* Two operands in one layout, or an error when one is missing. */
static dagl_status two_inputs(ox_build *b, ox_value **v, bool *nhwc)
{
    v[0] = ox_in(b, 0), v[1] = ox_in(b, 1);
    if (!v[0] || !v[1]) return ox_fail(b, DAGL_E_ARG, "needs 2 inputs");
    *nhwc = same_layout(b, 2, v);
    return v[0] && v[1] ? DAGL_OK : ox_wrap(b, DAGL_E_NOMEM);
}

/* Integer division of two int64 constants, truncating as ONNX Runtime does (dagl's div is a
 * float division). */
static ox_value *int_div_const(ox_build *b, ox_value *x, ox_value *y)
{
    ox_value *q = ox_binary(b, DAGL_OP_ADD, x, y); /* a fresh int64 tensor of the broadcast shape */
    if (!q) return NULL;
    dagl_tensor *xb, *yb, *xc, *yc;
    const int64_t *shape = dagl_tensor_shape(q->c);
    int nd = dagl_tensor_ndim(q->c);
    if (dagl_expand(b->ctx, x->c, nd, shape, &xb) || dagl_contiguous(b->ctx, xb, &xc)) return NULL;
    dagl_tensor_release(xb);
    if (dagl_expand(b->ctx, y->c, nd, shape, &yb) || dagl_contiguous(b->ctx, yb, &yc)) {
        dagl_tensor_release(xc);
        return NULL;
    }
    dagl_tensor_release(yb);
    int64_t *o = dagl_tensor_data(q->c), *a = dagl_tensor_data(xc), *d = dagl_tensor_data(yc);
    bool zero = false;
    for (int64_t i = 0; i < dagl_tensor_numel(q->c); i++) {
        zero |= d[i] == 0;
        o[i] = d[i] ? (a[i] == INT64_MIN && d[i] == -1 ? INT64_MIN : a[i] / d[i]) : 0;
    }
    dagl_tensor_release(xc);
    dagl_tensor_release(yc);
    if (zero) {
        ox_fail(b, DAGL_E_ARG, "integer division by zero in a constant");
        return NULL;
    }
    return q;
}

static const op_map binary_ops[] = {
    {"Add", DAGL_OP_ADD}, {"Sub", DAGL_OP_SUB}, {"Mul", DAGL_OP_MUL}, {"Div", DAGL_OP_DIV},
    {"Pow", DAGL_OP_POW}, {"Max", DAGL_OP_MAXIMUM}, {"Min", DAGL_OP_MINIMUM}, {NULL, DAGL_OP_NONE},
};

/* Max and Min of any number of inputs: maximum/minimum folded left, in one layout. */
static dagl_status variadic(ox_build *b, dagl_op op)
{
    int n = ox_nin(b);
    if (n < 1 || n > 64) return ox_fail(b, DAGL_E_ARG, "%d inputs (1 to 64 imported)", n);
    ox_value *v[64];
    for (int i = 0; i < n; i++)
        if (!(v[i] = ox_in(b, i))) return ox_fail(b, DAGL_E_ARG, "input %d is missing", i + 1);
    bool nhwc = same_layout(b, n, v);
    ox_value *r = v[0];
    for (int i = 1; i < n && r; i++) r = ox_binary(b, op, r, v[i]);
    return ox_out(b, 0, laid(r, nhwc));
}

/* Add, Sub, Mul, Div, Pow with NumPy broadcasting (and Max, Min of any number of inputs). */
dagl_status ox_import_binary(ox_build *b)
{
    dagl_op vop = op_in(b, binary_ops);
    if (vop == DAGL_OP_MAXIMUM || vop == DAGL_OP_MINIMUM) return variadic(b, vop);
    ox_value *v[2];
    bool nhwc;
    dagl_status st = two_inputs(b, v, &nhwc);
    if (st) return st;
    dagl_op op = op_in(b, binary_ops);
    bool ints = v[0]->dt == DAGL_I64 && v[1]->dt == DAGL_I64;
    if (op == DAGL_OP_DIV && ints && v[0]->c && v[1]->c) return ox_out(b, 0, int_div_const(b, v[0], v[1]));
    ox_value *r = ox_binary(b, op, v[0], v[1]);
    if (r && op == DAGL_OP_DIV && ints) { /* integer division truncates */
        dagl_node_params p;
        dagl_node_params_init(&p);
        p.dtype = DAGL_I64;
        r = ox_op(b, DAGL_OP_CAST, 1, &r, &p);
    }
    if (r && op == DAGL_OP_POW && v[0]->dt != r->dt) { /* Pow's result has the base's type */
        dagl_node_params p;
        dagl_node_params_init(&p);
        p.dtype = v[0]->dt;
        r = ox_op(b, DAGL_OP_CAST, 1, &r, &p);
    }
    return ox_out(b, 0, laid(r, nhwc));
}

/* A 0/1 result as ONNX's bool (uint8 in dagl). */
static ox_value *as_bool(ox_build *b, ox_value *r)
{
    if (!r || r->dt == DAGL_U8) return r;
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.dtype = DAGL_U8;
    return ox_op(b, DAGL_OP_CAST, 1, &r, &p);
}

static const op_map compare_ops[] = {
    {"Equal", DAGL_OP_EQ}, {"Less", DAGL_OP_LT}, {"Greater", DAGL_OP_GT},
    {"LessOrEqual", DAGL_OP_LE}, {"GreaterOrEqual", DAGL_OP_GE}, {NULL, DAGL_OP_NONE},
};

/* Equal, Less, Greater, LessOrEqual, GreaterOrEqual: bool (uint8) results. */
dagl_status ox_import_compare(ox_build *b)
{
    ox_value *v[2];
    bool nhwc;
    dagl_status st = two_inputs(b, v, &nhwc);
    if (st) return st;
    return ox_out(b, 0, laid(as_bool(b, ox_binary(b, op_in(b, compare_ops), v[0], v[1])), nhwc));
}

/* Where(cond, x, y). */
dagl_status ox_import_where(ox_build *b)
{
    ox_value *v[3] = {ox_in(b, 0), ox_in(b, 1), ox_in(b, 2)};
    if (!v[0] || !v[1] || !v[2]) return ox_fail(b, DAGL_E_ARG, "needs 3 inputs");
    bool nhwc = same_layout(b, 3, v);
    if (!v[0] || !v[1] || !v[2]) return ox_wrap(b, DAGL_E_NOMEM);
    return ox_out(b, 0, laid(ox_op(b, DAGL_OP_WHERE, 3, v, NULL), nhwc));
}

/* where(x > 0, x, alpha * (exp(x) - 1)): Elu's negative side (Selu's too). */
static ox_value *elu(ox_build *b, ox_value *x, double alpha)
{
    ox_value *neg = ox_scalar(b, DAGL_OP_MUL, ox_scalar(b, DAGL_OP_SUB, ox_unary(b, DAGL_OP_EXP, x), 1, 0), alpha, 0);
    ox_value *v[3] = {ox_scalar(b, DAGL_OP_GT, x, 0, 0), x, neg};
    return v[0] && neg ? ox_op(b, DAGL_OP_WHERE, 3, v, NULL) : NULL;
}

/* Gelu: 0.5 x (1 + erf(x / sqrt 2)), or with approximate = "tanh" the tanh form. */
static ox_value *gelu(ox_build *b, ox_value *x, bool tanh_form)
{
    ox_value *inner;
    if (tanh_form) {
        ox_value *x3 = ox_scalar(b, DAGL_OP_MUL, ox_scalar(b, DAGL_OP_POW, x, 3, 0), 0.044715, 0);
        inner = ox_unary(b, DAGL_OP_TANH, ox_scalar(b, DAGL_OP_MUL, ox_binary(b, DAGL_OP_ADD, x, x3), sqrt(2 / M_PI), 0));
    } else {
        inner = ox_unary(b, DAGL_OP_ERF, ox_scalar(b, DAGL_OP_MUL, x, M_SQRT1_2, 0));
    }
    return ox_binary(b, DAGL_OP_MUL, ox_scalar(b, DAGL_OP_MUL, x, 0.5, 0), ox_scalar(b, DAGL_OP_ADD, inner, 1, 0));
}

/* LeakyRelu, Elu, Selu, HardSigmoid, Softplus, Gelu: compositions of dagl ops (dagl fuses the
 * elementwise chains into one pass). */
dagl_status ox_import_activation(ox_build *b)
{
    ox_value *x = ox_in(b, 0), *r = NULL;
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    const char *op = b->node->op_type;
    if (!strcmp(op, "LeakyRelu")) {
        ox_value *v[3] = {ox_scalar(b, DAGL_OP_GT, x, 0, 0), x, ox_scalar(b, DAGL_OP_MUL, x, ox_attr_float(b, "alpha", 0.01), 0)};
        r = v[0] && v[2] ? ox_op(b, DAGL_OP_WHERE, 3, v, NULL) : NULL;
    } else if (!strcmp(op, "Elu")) {
        r = elu(b, x, ox_attr_float(b, "alpha", 1.0));
    } else if (!strcmp(op, "Selu")) {
        r = ox_scalar(b, DAGL_OP_MUL, elu(b, x, ox_attr_float(b, "alpha", 1.67326319217681884765625)),
                      ox_attr_float(b, "gamma", 1.05070102214813232421875), 0);
    } else if (!strcmp(op, "HardSigmoid")) {
        dagl_node_params p;
        dagl_node_params_init(&p);
        p.lo = 0, p.hi = 1;
        ox_value *lin = ox_scalar(b, DAGL_OP_ADD, ox_scalar(b, DAGL_OP_MUL, x, ox_attr_float(b, "alpha", 0.2), 0),
                                  ox_attr_float(b, "beta", 0.5), 0);
        r = lin ? ox_op(b, DAGL_OP_CLAMP, 1, &lin, &p) : NULL;
    } else if (!strcmp(op, "Softplus")) { /* relu(x) + log(1 + exp(-|x|)): no overflow */
        ox_value *e = ox_unary(b, DAGL_OP_EXP, ox_unary(b, DAGL_OP_NEG, ox_unary(b, DAGL_OP_ABS, x)));
        ox_value *t = ox_scalar(b, DAGL_OP_ADD, e, 1, 0);
        r = ox_binary(b, DAGL_OP_ADD, ox_unary(b, DAGL_OP_RELU, x), ox_unary(b, DAGL_OP_LOG, t));
    } else { /* Gelu */
        char buf[16];
        const char *ap = ox_attr_str(b, "approximate", "none", buf, sizeof buf);
        if (strcmp(ap, "none") && strcmp(ap, "tanh")) return ox_bad_attr(b, "approximate", "'%s' (none or tanh)", ap);
        r = gelu(b, x, !strcmp(ap, "tanh"));
    }
    return ox_out(b, 0, laid(r, x->nhwc));
}

/* Clip: bounds from attributes (opset < 11) or constant inputs (11 on); a missing bound is none. */
dagl_status ox_import_clip(ox_build *b)
{
    ox_value *x = ox_in(b, 0);
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    dagl_node_params p;
    dagl_node_params_init(&p);
    if (ox_opset(b) < 11) {
        p.lo = ox_attr_float(b, "min", NAN);
        p.hi = ox_attr_float(b, "max", NAN);
        if (p.lo == -INFINITY) p.lo = NAN;
        if (p.hi == INFINITY) p.hi = NAN;
    } else {
        ox_value *lo = ox_in(b, 1), *hi = ox_in(b, 2);
        dagl_status st;
        if (lo && (st = ox_const_scalar(b, lo, "min", &p.lo))) return st;
        if (hi && (st = ox_const_scalar(b, hi, "max", &p.hi))) return st;
    }
    return ox_out(b, 0, laid(ox_op(b, DAGL_OP_CLAMP, 1, &x, &p), x->nhwc));
}
