/* ops_linear.c -- importers of Gemm and MatMul onto dagl's matmul (a transposed constant operand
 * is transposed once, at load time). */
#include "onnx_int.h"

/* x with its last two dims swapped. */
static ox_value *swap_last(ox_build *b, ox_value *x)
{
    int perm[DAGL_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    if (x->ndim >= 2) perm[x->ndim - 1] = x->ndim - 2, perm[x->ndim - 2] = x->ndim - 1;
    return ox_permute(b, x, perm);
}

/* Gemm: alpha * A' B' + beta * C, A' and B' transposed by transA / transB. */
dagl_status ox_import_gemm(ox_build *b)
{
    ox_value *a = ox_plain(b, ox_in(b, 0)), *w = ox_plain(b, ox_in(b, 1)), *c = ox_plain(b, ox_in(b, 2));
    if (!a || !w) return ox_fail(b, DAGL_E_ARG, "needs inputs A and B");
    if (a->ndim != 2 || w->ndim != 2) return ox_fail(b, DAGL_E_SHAPE, "A and B must be 2-D (got %d-D and %d-D)", a->ndim, w->ndim);
    if (ox_attr_int(b, "transA", 0)) a = swap_last(b, a);
    if (ox_attr_int(b, "transB", 0)) w = swap_last(b, w);
    ox_value *y = ox_binary(b, DAGL_OP_MATMUL, a, w);
    double alpha = ox_attr_float(b, "alpha", 1.0), beta = ox_attr_float(b, "beta", 1.0);
    if (y && alpha != 1.0) y = ox_scalar(b, DAGL_OP_MUL, y, alpha, 0);
    if (y && c && beta != 0.0) {
        if (beta != 1.0) c = ox_scalar(b, DAGL_OP_MUL, c, beta, 0);
        y = ox_binary(b, DAGL_OP_ADD, y, c);
    }
    return ox_out(b, 0, y);
}

/* MatMul: NumPy's matmul, which dagl's is. */
dagl_status ox_import_matmul(ox_build *b)
{
    ox_value *a = ox_plain(b, ox_in(b, 0)), *w = ox_plain(b, ox_in(b, 1));
    if (!a || !w) return ox_fail(b, DAGL_E_ARG, "needs 2 inputs");
    return ox_out(b, 0, ox_binary(b, DAGL_OP_MATMUL, a, w));
}
