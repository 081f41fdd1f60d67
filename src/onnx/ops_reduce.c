/* ops_reduce.c -- importers of ReduceMean/Sum/Max/Min, ArgMax, Softmax and LogSoftmax (the
 * opset-13 change of Softmax's axis semantics included). */
#include "onnx_int.h"

#include <string.h>

typedef struct red_map {
    const char *onnx;
    dagl_op op;
} red_map;

static const red_map reductions[] = {
    {"ReduceMean", DAGL_OP_MEAN}, {"ReduceSum", DAGL_OP_SUM}, {"ReduceMax", DAGL_OP_MAX}, {"ReduceMin", DAGL_OP_MIN},
    {NULL, DAGL_OP_NONE},
};

/* ReduceX over axes (attribute; ReduceSum's is an input from opset 13), keepdims,
 * noop_with_empty_axes. */
dagl_status ox_import_reduce(ox_build *b)
{
    dagl_status st;
    ox_value *x = ox_plain(b, ox_in(b, 0));
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    dagl_op op = DAGL_OP_NONE;
    for (const red_map *r = reductions; r->onnx; r++)
        if (!strcmp(r->onnx, b->node->op_type)) op = r->op;
    int64_t axes[DAGL_MAX_DIMS];
    int n = -1;
    if (op == DAGL_OP_SUM && ox_opset(b) >= 13) {
        if (ox_in(b, 1) && (st = ox_const_ints(b, ox_in(b, 1), "axes", axes, DAGL_MAX_DIMS, &n))) return st;
    } else if ((st = ox_attr_ints(b, "axes", axes, DAGL_MAX_DIMS, &n))) {
        return st;
    }
    if (n <= 0 && ox_attr_int(b, "noop_with_empty_axes", 0)) return ox_out(b, 0, x);
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.keepdim = ox_attr_int(b, "keepdims", 1) != 0;
    bool seen[DAGL_MAX_DIMS] = {false};
    for (int i = 0; i < n; i++) {
        int a;
        if ((st = ox_axis(b, "axis", axes[i], x->ndim, &a))) return st;
        if (seen[a]) return ox_fail(b, DAGL_E_ARG, "axis %d is repeated", a);
        seen[a] = true;
        p.dims[p.ndims++] = a;
    }
    if (n <= 0) /* every dim */
        for (int d = 0; d < x->ndim; d++) p.dims[p.ndims++] = d;
    return ox_out(b, 0, ox_op(b, op, 1, &x, &p));
}

/* ArgMax along axis (the first maximum; select_last_index = 1 is refused). */
dagl_status ox_import_argmax(ox_build *b)
{
    dagl_status st;
    if (ox_attr_int(b, "select_last_index", 0)) return ox_bad_attr(b, "select_last_index", "1 is not supported");
    ox_value *x = ox_plain(b, ox_in(b, 0));
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.keepdim = ox_attr_int(b, "keepdims", 1) != 0;
    p.ndims = 1;
    if ((st = ox_axis(b, "axis", ox_attr_int(b, "axis", 0), x->ndim, &p.dims[0]))) return st;
    return ox_out(b, 0, ox_op(b, DAGL_OP_ARGMAX, 1, &x, &p));
}

/* Softmax / LogSoftmax: along axis from opset 13 (default -1); before, over the flattened dims
 * from axis on (default 1). */
dagl_status ox_import_softmax(ox_build *b)
{
    dagl_status st;
    ox_value *x = ox_plain(b, ox_in(b, 0));
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    dagl_op op = strcmp(b->node->op_type, "Softmax") ? DAGL_OP_LOG_SOFTMAX : DAGL_OP_SOFTMAX;
    bool v13 = ox_opset(b) >= 13;
    int axis;
    if ((st = ox_axis(b, "axis", ox_attr_int(b, "axis", v13 ? -1 : 1), x->ndim, &axis))) return st;
    dagl_node_params p;
    dagl_node_params_init(&p);
    if (v13 || axis == x->ndim - 1) {
        p.axis = axis;
        return ox_out(b, 0, ox_op(b, op, 1, &x, &p));
    }
    int64_t s[2] = {1, 1};
    for (int d = 0; d < x->ndim; d++) s[d >= axis] *= x->shape[d];
    ox_value *f = ox_reshape(b, x, 2, s);
    p.axis = 1;
    ox_value *y = f ? ox_op(b, op, 1, &f, &p) : NULL;
    return ox_out(b, 0, y ? ox_reshape(b, y, x->ndim, x->shape) : NULL);
}
