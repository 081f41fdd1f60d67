/* export_ops.c -- one writer per op family of the op list for the ONNX exporter: the ONNX nodes
 * that compute a dagl node (operands cast to the node's dtype where dagl promotes, scalars as
 * initializers, comparisons cast back from bool, NHWC windows between Transposes). */
#include "export.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T(x) ONNX__TENSOR_PROTO__DATA_TYPE__##x

typedef struct op_name {
    dagl_op op;
    const char *onnx;
} op_name;

/* ONNX's name for op in a table, or NULL. */
static const char *onnx_of(const op_name *t, dagl_op op)
{
    for (; t->onnx; t++)
        if (t->op == op) return t->onnx;
    return NULL;
}

/* Source k's value name, cast to dt when its dtype differs (dagl's promotion made explicit). */
static char *operand(ex *e, const dagl_node *nd, int k, dagl_dtype dt)
{
    const dagl_node *s = &e->g->nodes[nd->src[k]];
    char *name = ex_name(nd->src[k]);
    if (s->dtype == dt) return name;
    Onnx__AttributeProto *a[] = {ex_attr_int("to", ex_elem_type(dt)), NULL};
    return ex_chain(e, "Cast", name, a);
}

static const op_name unary[] = {
    {DAGL_OP_NEG, "Neg"},       {DAGL_OP_EXP, "Exp"},   {DAGL_OP_LOG, "Log"},   {DAGL_OP_SQRT, "Sqrt"},
    {DAGL_OP_ABS, "Abs"},       {DAGL_OP_TANH, "Tanh"}, {DAGL_OP_SIGMOID, "Sigmoid"},
    {DAGL_OP_RELU, "Relu"},     {DAGL_OP_ERF, "Erf"},   {DAGL_OP_NONE, NULL},
};
static const op_name binary[] = {
    {DAGL_OP_ADD, "Add"}, {DAGL_OP_SUB, "Sub"}, {DAGL_OP_MUL, "Mul"}, {DAGL_OP_DIV, "Div"},
    {DAGL_OP_POW, "Pow"}, {DAGL_OP_MAXIMUM, "Max"}, {DAGL_OP_MINIMUM, "Min"}, {DAGL_OP_NONE, NULL},
};
static const op_name compare[] = {
    {DAGL_OP_EQ, "Equal"}, {DAGL_OP_NE, "Equal"}, {DAGL_OP_LT, "Less"}, {DAGL_OP_LE, "LessOrEqual"},
    {DAGL_OP_GT, "Greater"}, {DAGL_OP_GE, "GreaterOrEqual"}, {DAGL_OP_NONE, NULL},
};

/* The two operands of a binary or compare node in dtype dt: a scalar parameter becomes a scalar
 * initializer on its side. */
static void two_operands(ex *e, const dagl_node *nd, dagl_dtype dt, char **in)
{
    if (nd->p.has_scalar) {
        char *x = operand(e, nd, 0, dt), *s = ex_scalar(e, dt, nd->p.scalar);
        in[0] = nd->p.scalar_first ? s : x;
        in[1] = nd->p.scalar_first ? x : s;
    } else {
        in[0] = operand(e, nd, 0, dt);
        in[1] = operand(e, nd, 1, dt);
    }
}

/* The dtype a compare node compares in: the promotion of its operands. */
static dagl_dtype compare_dtype(const ex *e, const dagl_node *nd)
{
    dagl_dtype a = e->g->nodes[nd->src[0]].dtype;
    if (nd->p.has_scalar) return a == DAGL_U8 || a == DAGL_I64 ? (nd->p.scalar == floor(nd->p.scalar) ? a : DAGL_F32) : a;
    return dagl_dtype_promote(a, e->g->nodes[nd->src[1]].dtype);
}

/* Elementwise ops: unary, binary, compare (bool cast back to the node's dtype), clamp, where. */
static dagl_status write_elementwise(ex *e, const dagl_node *nd, char *out)
{
    const char *op;
    char *in[3];
    if ((op = onnx_of(unary, nd->op))) {
        in[0] = operand(e, nd, 0, nd->dtype);
        return ex_node(e, op, 1, in, out, NULL) ? DAGL_OK : DAGL_E_NOMEM;
    }
    if ((op = onnx_of(binary, nd->op))) {
        two_operands(e, nd, nd->dtype, in);
        return ex_node(e, op, 2, in, out, NULL) ? DAGL_OK : DAGL_E_NOMEM;
    }
    if ((op = onnx_of(compare, nd->op))) {
        two_operands(e, nd, compare_dtype(e, nd), in);
        char *b = ex_fresh(e), *b2 = b ? strdup(b) : NULL;
        if (!ex_node(e, op, 2, in, b, NULL)) return free(b2), DAGL_E_NOMEM;
        if (nd->op == DAGL_OP_NE) b2 = ex_chain(e, "Not", b2, NULL);
        Onnx__AttributeProto *a[] = {ex_attr_int("to", ex_elem_type(nd->dtype)), NULL};
        return ex_node(e, "Cast", 1, &b2, out, a) ? DAGL_OK : DAGL_E_NOMEM;
    }
    if (nd->op == DAGL_OP_CLAMP) {
        in[0] = operand(e, nd, 0, nd->dtype);
        in[1] = isnan(nd->p.lo) ? strdup("") : ex_scalar(e, nd->dtype, nd->p.lo);
        in[2] = isnan(nd->p.hi) ? strdup("") : ex_scalar(e, nd->dtype, nd->p.hi);
        return ex_node(e, "Clip", 3, in, out, NULL) ? DAGL_OK : DAGL_E_NOMEM;
    }
    /* where: the condition as bool (nonzero), the values in the node's dtype */
    Onnx__AttributeProto *a[] = {ex_attr_int("to", T(BOOL)), NULL};
    in[0] = ex_chain(e, "Cast", ex_name(nd->src[0]), a);
    in[1] = operand(e, nd, 1, nd->dtype);
    in[2] = operand(e, nd, 2, nd->dtype);
    return ex_node(e, "Where", 3, in, out, NULL) ? DAGL_OK : DAGL_E_NOMEM;
}

/* Reductions: ReduceSum (axes an input), ReduceMean/Max/Min (axes an attribute), ArgMax/ArgMin. */
static dagl_status write_reduce(ex *e, const dagl_node *nd, char *out)
{
    const dagl_node *s = &e->g->nodes[nd->src[0]];
    int64_t axes[DAGL_MAX_DIMS];
    int n = nd->p.ndims;
    for (int i = 0; i < n; i++) axes[i] = nd->p.dims[i];
    if (!n)
        for (int d = 0; d < s->ndim; d++) axes[n++] = d;
    dagl_dtype dt = nd->op == DAGL_OP_ARGMAX || nd->op == DAGL_OP_ARGMIN ? s->dtype : nd->dtype;
    char *x = operand(e, nd, 0, dt);
    Onnx__AttributeProto *keep = ex_attr_int("keepdims", nd->p.keepdim ? 1 : 0);
    if (nd->op == DAGL_OP_ARGMAX || nd->op == DAGL_OP_ARGMIN) {
        Onnx__AttributeProto *a[] = {keep, ex_attr_int("axis", axes[0]), NULL};
        if (nd->p.ndims != 1) {
            free(x), free(out), onnx__attribute_proto__free_unpacked(a[0], NULL), onnx__attribute_proto__free_unpacked(a[1], NULL);
            return ex_unsupported(e, nd);
        }
        return ex_node(e, nd->op == DAGL_OP_ARGMAX ? "ArgMax" : "ArgMin", 1, &x, out, a) ? DAGL_OK : DAGL_E_NOMEM;
    }
    if (nd->op == DAGL_OP_SUM) {
        char *in[2] = {x, ex_ints(e, axes, n)};
        Onnx__AttributeProto *a[] = {keep, NULL};
        return ex_node(e, "ReduceSum", 2, in, out, a) ? DAGL_OK : DAGL_E_NOMEM;
    }
    Onnx__AttributeProto *a[] = {keep, ex_attr_ints("axes", axes, n), NULL};
    const char *op = nd->op == DAGL_OP_MEAN ? "ReduceMean" : nd->op == DAGL_OP_MAX ? "ReduceMax" : "ReduceMin";
    return ex_node(e, op, 1, &x, out, a) ? DAGL_OK : DAGL_E_NOMEM;
}

/* Views and joins: Reshape, Transpose, Expand, Slice (to the node's inferred shape), Concat,
 * Cast (a scale: computed in double, as dagl_cast_scaled does), Gather of rows, MatMul, Softmax. */
static dagl_status write_data(ex *e, const dagl_node *nd, char *out)
{
    char *in[DAGL_MAX_SRCS];
    switch (nd->op) {
    case DAGL_OP_RESHAPE: case DAGL_OP_EXPAND:
        in[0] = ex_name(nd->src[0]);
        in[1] = ex_ints(e, nd->shape, nd->ndim);
        return ex_node(e, nd->op == DAGL_OP_RESHAPE ? "Reshape" : "Expand", 2, in, out, NULL) ? DAGL_OK : DAGL_E_NOMEM;
    case DAGL_OP_PERMUTE: {
        int64_t perm[DAGL_MAX_DIMS];
        for (int i = 0; i < nd->ndim; i++) perm[i] = nd->p.dims[i];
        in[0] = ex_name(nd->src[0]);
        Onnx__AttributeProto *a[] = {ex_attr_ints("perm", perm, nd->ndim), NULL};
        return ex_node(e, "Transpose", 1, in, out, a) ? DAGL_OK : DAGL_E_NOMEM;
    }
    case DAGL_OP_SLICE: {
        int64_t v[4] = {nd->p.start, nd->p.stop, nd->p.axis, nd->p.step};
        in[0] = ex_name(nd->src[0]);
        for (int i = 0; i < 4; i++) in[i + 1] = ex_ints(e, &v[i], 1);
        return ex_node(e, "Slice", 5, in, out, NULL) ? DAGL_OK : DAGL_E_NOMEM;
    }
    case DAGL_OP_CONCAT: {
        for (int i = 0; i < nd->nsrc; i++) in[i] = ex_name(nd->src[i]);
        Onnx__AttributeProto *a[] = {ex_attr_int("axis", nd->p.axis), NULL};
        return ex_node(e, "Concat", nd->nsrc, in, out, a) ? DAGL_OK : DAGL_E_NOMEM;
    }
    case DAGL_OP_CAST: {
        char *x = ex_name(nd->src[0]);
        if (nd->p.has_scalar) {
            Onnx__AttributeProto *a[] = {ex_attr_int("to", T(DOUBLE)), NULL};
            char *m[2] = {ex_chain(e, "Cast", x, a), ex_scalar(e, DAGL_F64, nd->p.scalar)};
            x = ex_fresh(e);
            char *x2 = x ? strdup(x) : NULL;
            if (!ex_node(e, "Mul", 2, m, x, NULL)) return free(x2), free(out), DAGL_E_NOMEM;
            x = x2;
        }
        Onnx__AttributeProto *a[] = {ex_attr_int("to", ex_elem_type(nd->p.dtype)), NULL};
        return ex_node(e, "Cast", 1, &x, out, a) ? DAGL_OK : DAGL_E_NOMEM;
    }
    case DAGL_OP_GATHER: {
        in[0] = ex_name(nd->src[0]);
        in[1] = ex_name(nd->src[1]);
        if (nd->p.index_base) {
            char *s[2] = {in[1], ex_scalar(e, DAGL_I64, (double)nd->p.index_base)};
            in[1] = ex_fresh(e);
            char *keep = in[1] ? strdup(in[1]) : NULL;
            if (!ex_node(e, "Sub", 2, s, in[1], NULL)) return free(keep), free(in[0]), free(out), DAGL_E_NOMEM;
            in[1] = keep;
        }
        Onnx__AttributeProto *a[] = {ex_attr_int("axis", 0), NULL};
        return ex_node(e, "Gather", 2, in, out, a) ? DAGL_OK : DAGL_E_NOMEM;
    }
    case DAGL_OP_MATMUL:
        in[0] = operand(e, nd, 0, nd->dtype);
        in[1] = operand(e, nd, 1, nd->dtype);
        return ex_node(e, "MatMul", 2, in, out, NULL) ? DAGL_OK : DAGL_E_NOMEM;
    default: { /* softmax, log_softmax */
        in[0] = operand(e, nd, 0, nd->dtype);
        Onnx__AttributeProto *a[] = {ex_attr_int("axis", nd->p.axis), NULL};
        return ex_node(e, nd->op == DAGL_OP_SOFTMAX ? "Softmax" : "LogSoftmax", 1, in, out, a) ? DAGL_OK : DAGL_E_NOMEM;
    }
    }
}

/* conv2d and the poolings (NHWC): Transpose to NCHW, Conv / MaxPool / AveragePool with dagl's
 * window (SAME as SAME_UPPER), Transpose back; a conv kernel (kh, kw, Cin, Cout) is transposed to
 * ONNX's (Cout, Cin, kh, kw). */
static dagl_status write_window(ex *e, const dagl_node *nd, char *out)
{
    static const int64_t to_nchw[4] = {0, 3, 1, 2}, to_nhwc[4] = {0, 2, 3, 1}, to_oihw[4] = {3, 2, 0, 1};
    const dagl_window2d *w = &nd->p.window;
    bool conv = nd->op == DAGL_OP_CONV2D;
    Onnx__AttributeProto *t1[] = {ex_attr_ints("perm", to_nchw, 4), NULL};
    char *in[2] = {ex_chain(e, "Transpose", operand(e, nd, 0, nd->dtype), t1), NULL};
    int64_t k[2], s[2];
    if (conv) {
        Onnx__AttributeProto *t2[] = {ex_attr_ints("perm", to_oihw, 4), NULL};
        in[1] = ex_chain(e, "Transpose", operand(e, nd, 1, nd->dtype), t2);
        const dagl_node *kn = &e->g->nodes[nd->src[1]];
        k[0] = kn->shape[0], k[1] = kn->shape[1];
    } else {
        k[0] = w->size[0], k[1] = w->size[1];
    }
    for (int d = 0; d < 2; d++) s[d] = w->strides[d] ? w->strides[d] : conv ? 1 : k[d];
    Onnx__AttributeProto *a[] = {ex_attr_ints("kernel_shape", k, 2), ex_attr_ints("strides", s, 2),
                                 ex_attr_str("auto_pad", w->padding == DAGL_PAD_SAME ? "SAME_UPPER" : "VALID"), NULL};
    char *y = ex_fresh(e), *y2 = y ? strdup(y) : NULL;
    const char *op = conv ? "Conv" : nd->op == DAGL_OP_MAXPOOL2D ? "MaxPool" : "AveragePool";
    if (!ex_node(e, op, conv ? 2 : 1, in, y, a)) return free(y2), free(out), DAGL_E_NOMEM;
    Onnx__AttributeProto *t3[] = {ex_attr_ints("perm", to_nhwc, 4), NULL};
    return ex_node(e, "Transpose", 1, &y2, out, t3) ? DAGL_OK : DAGL_E_NOMEM;
}

/* The exporter's dispatch: one dagl node to its ONNX nodes, by op family. */
dagl_status ex_write_node(ex *e, int id)
{
    const dagl_node *nd = &e->g->nodes[id];
    e->node_id = id;
    if (nd->prog || nd->fused_act != DAGL_OP_NONE || nd->fused_pool != DAGL_OP_NONE ||
        ((nd->op == DAGL_OP_MATMUL || nd->op == DAGL_OP_CONV2D) && nd->nsrc != 2))
        return dagl_ctx_set_error(e->ctx, DAGL_E_ARG, "onnx_save: node %d was fused by a run; export a fresh trace", id);
    char *out = ex_name(id);
    if (!out) return DAGL_E_NOMEM;
    switch (dagl__op_info_of(nd->op)->cls) {
    case DAGL__CLS_UNARY: case DAGL__CLS_BINARY: case DAGL__CLS_COMPARE: case DAGL__CLS_CLAMP: case DAGL__CLS_WHERE:
        return write_elementwise(e, nd, out);
    case DAGL__CLS_REDUCE:
        if (nd->op == DAGL_OP_VAR) break;
        return write_reduce(e, nd, out);
    case DAGL__CLS_MATMUL: case DAGL__CLS_CAST: case DAGL__CLS_CONCAT: case DAGL__CLS_GATHER: case DAGL__CLS_SOFTMAX:
        return write_data(e, nd, out);
    case DAGL__CLS_LAYOUT:
        return write_data(e, nd, out);
    case DAGL__CLS_WINDOW:
        if (nd->op != DAGL_OP_CONV2D && nd->op != DAGL_OP_MAXPOOL2D && nd->op != DAGL_OP_AVGPOOL2D) break;
        return write_window(e, nd, out);
    default:
        break;
    }
    free(out);
    return ex_unsupported(e, nd);
}
