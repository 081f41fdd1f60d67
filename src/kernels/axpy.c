/* axpy.c -- y += alpha * x in place: optimizers update every weight every step, and doing it
 * without temporaries halves the memory traffic of an SGD step. */
#include "kernels.h"

#include <cblas.h>
#include <string.h>

struct axpy_args {
    int64_t n;
    float alpha;
    const float *x;
    float *y;
};

/* One share of a contiguous float32 axpy (BLAS at one thread per share). */
static void axpy_share(void *p, int ith, int nth)
{
    const struct axpy_args *a = p;
    int64_t lo, hi;
    dagl__split(a->n, ith, nth, &lo, &hi);
    if (hi > lo) cblas_saxpy((int)(hi - lo), a->alpha, a->x + lo, 1, a->y + lo, 1);
}

dagl_status dagl_axpy(dagl_ctx *ctx, double alpha, const dagl_tensor *x, dagl_tensor *y)
{
    if (!x || !y) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "axpy: tensor is NULL");
    dagl_status st = dagl_tensor_check_writable(ctx, y, "axpy");
    if (st) return st;
    if (x->dtype == DAGL_F32 && y->dtype == DAGL_F32 && x->numel == y->numel && x->numel < INT32_MAX &&
        x->ndim == y->ndim && x->contiguous && y->contiguous &&
        !memcmp(x->shape, y->shape, sizeof(int64_t) * (size_t)x->ndim)) {
        struct axpy_args a = {x->numel, (float)alpha, (const float *)x->data, (float *)y->data};
        dagl__parallel(ctx, axpy_share, &a, dagl__shares(x->numel, 65536));
        return DAGL_OK;
    }
    /* any other layout or dtype: through the broadcasting kernels and one temporary */
    dagl_tensor *ax = NULL, *sum = NULL;
    st = dagl_binary_scalar(ctx, DAGL_OP_MUL, x, alpha, 0, &ax);
    if (!st) st = dagl_binary(ctx, DAGL_OP_ADD, y, ax, &sum);
    if (!st) st = dagl_copy_into(ctx, y, sum);
    dagl_tensor_release(ax);
    dagl_tensor_release(sum);
    return st;
}
