/* softmax.c -- softmax and log-softmax along one dim, fused: one pass over each row computes the
 * max, exp(x - max) with fastmath.h's vectorizable exp, the sum and the scaling, instead of five
 * elementwise/reduction kernels and their temporaries. The sum is the sum reduction's (reduce.h:
 * double lanes), so float32 rows of 65,536 keep their digits, and log takes it in double. */
#include "reduce.h"

#include "fastmath.h"

#include <math.h>

/* The input as [outer, n, inner] (contiguous); a row is the n elements `inner` apart. */
struct sm_args {
    dagl_op op;
    const char *in;
    char *out;
    int64_t outer, n, inner;
    dagl_dtype dt;
};

/* One row of n elements s apart (softmax along a dim other than the last). The sum's order depends
 * only on n and s, so results do not depend on how rows are shared out. */
#define DEF_SOFTMAX_ROW(sfx, T, EXP)                                                               \
    static DAGL_ALWAYS_INLINE void sm_row_##sfx(int log_sm, T *restrict o, const T *restrict x, int64_t n, int64_t s) \
    {                                                                                              \
        T m = x[0];                                                                                \
        for (int64_t k = 1; k < n; k++) m = x[k * s] > m ? x[k * s] : m;                          \
        for (int64_t k = 0; k < n; k++) o[k * s] = EXP(x[k * s] - m);                              \
        double sum = sum_row_##sfx(o, s, n);                                                       \
        if (log_sm) {                                                                              \
            T lse = (T)log(sum);                                                                   \
            for (int64_t k = 0; k < n; k++) o[k * s] = (x[k * s] - m) - lse;                       \
        } else {                                                                                   \
            T d = (T)sum;                                                                          \
            for (int64_t k = 0; k < n; k++) o[k * s] = o[k * s] / d;                               \
        }                                                                                          \
    }                                                                                              \
    /* Rows along the last dim, in blocks: x - max per row, then exp over the whole block in one \
     * long vector loop (rows are often short: 10 classes), then the sums and scaling per row. \
     * Each element gets the same operations as in sm_row, wherever the block boundaries fall. */ \
    static DAGL_ALWAYS_INLINE void sm_block_##sfx(int log_sm, T *restrict o, const T *restrict x, int64_t rows, int64_t n) \
    {                                                                                              \
        for (int64_t r = 0; r < rows; r++) {                                                       \
            const T *xr = x + r * n;                                                               \
            T m = xr[0];                                                                           \
            for (int64_t k = 1; k < n; k++) m = xr[k] > m ? xr[k] : m;                             \
            for (int64_t k = 0; k < n; k++) o[r * n + k] = xr[k] - m;                              \
        }                                                                                          \
        for (int64_t i = 0; i < rows * n; i++) o[i] = EXP(o[i]);                                   \
        for (int64_t r = 0; r < rows; r++) {                                                       \
            T *orow = o + r * n;                                                                   \
            const T *xr = x + r * n;                                                               \
            double sum = sum_row_##sfx(orow, 1, n);                                                \
            if (log_sm) {                                                                          \
                T m = xr[0], lse = (T)log(sum);                                                    \
                for (int64_t k = 1; k < n; k++) m = xr[k] > m ? xr[k] : m;                         \
                for (int64_t k = 0; k < n; k++) orow[k] = (xr[k] - m) - lse;                       \
            } else {                                                                               \
                T d = (T)sum;                                                                      \
                for (int64_t k = 0; k < n; k++) orow[k] = orow[k] / d;                             \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    DAGL_VEC_CLONES static void sm_rows_##sfx(const struct sm_args *a, int64_t r0, int64_t r1)     \
    {                                                                                              \
        int log_sm = a->op == DAGL_OP_LOG_SOFTMAX;                                                 \
        if (a->inner == 1) {                                                                       \
            int64_t step = a->n >= 4096 ? 1 : 4096 / a->n; /* rows a block: ~16-32 KB */           \
            for (int64_t r = r0; r < r1; r += step) {                                              \
                int64_t rows = r1 - r < step ? r1 - r : step;                                      \
                sm_block_##sfx(log_sm, (T *)a->out + r * a->n, (const T *)a->in + r * a->n, rows, a->n); \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        for (int64_t r = r0; r < r1; r++) {                                                        \
            int64_t off = (r / a->inner) * a->n * a->inner + r % a->inner;                         \
            sm_row_##sfx(log_sm, (T *)a->out + off, (const T *)a->in + off, a->n, a->inner);       \
        }                                                                                          \
    }
DEF_SOFTMAX_ROW(f32, float, dagl__expf)
DEF_SOFTMAX_ROW(f64, double, dagl__exp)

/* Thread ith's rows. */
static void sm_share(void *p, int ith, int nth)
{
    const struct sm_args *a = p;
    int64_t r0, r1;
    dagl__split(a->outer * a->inner, ith, nth, &r0, &r1);
    if (a->dt == DAGL_F32) sm_rows_f32(a, r0, r1);
    else sm_rows_f64(a, r0, r1);
}

dagl_status dagl__softmax_check(dagl_ctx *ctx, dagl_op op, dagl__shape_ref a, int dim)
{
    const char *name = dagl_op_name(op);
    if (op != DAGL_OP_SOFTMAX && op != DAGL_OP_LOG_SOFTMAX)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "softmax: op %s (%d) is not softmax or log_softmax", name, (int)op);
    if (!(a.ndim == 0 && (dim == 0 || dim == -1)) && dagl__wrap_dim(dim, a.ndim) < 0) { /* 0-d: one row */
        char b[160];
        return dagl_ctx_set_error(ctx, DAGL_E_INDEX, "%s: dimension %d is out of range for shape %s", name, dim,
                                  dagl_shape_str(a.ndim, a.shape, b, sizeof b));
    }
    return DAGL_OK;
}

dagl_status dagl__softmax_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, int dim, dagl_tensor *dst,
                               dagl_tensor **out)
{
    *out = NULL;
    if (!a) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: tensor is NULL", dagl_op_name(op));
    dagl_status st0 = dagl__op_check_dtypes(ctx, op, 1, &a->dtype);
    if (!st0) st0 = dagl__softmax_check(ctx, op, (dagl__shape_ref){a->dtype, a->ndim, a->shape}, dim);
    if (st0) return st0;
    int d = a->ndim == 0 ? 0 : dagl__wrap_dim(dim, a->ndim);
    /* integers compute in float32 (as exp does); other layouts are copied to contiguous first */
    dagl_tensor *x = NULL;
    dagl_status st = dagl__as_dtype(ctx, a, dagl_op_result_dtype(op, 1, &a->dtype, NULL), &x);
    if (!st && !dagl_tensor_is_contiguous(x)) {
        dagl_tensor *c;
        st = dagl_clone(ctx, x, &c);
        dagl_tensor_release(x);
        x = st ? NULL : c;
    }
    if (!st) st = dagl__tensor_alloc_dst(ctx, dst, x->dtype, x->ndim, x->shape, out);
    if (!st && x->numel > 0) {
        struct sm_args args = {op, x->data, (*out)->data, 1, x->ndim ? x->shape[d] : 1, 1, x->dtype};
        for (int i = 0; i < d; i++) args.outer *= x->shape[i];
        for (int i = d + 1; i < x->ndim; i++) args.inner *= x->shape[i];
        dagl__parallel(ctx, sm_share, &args, dagl__shares(x->numel, 16384));
    }
    dagl_tensor_release(x);
    return st;
}

/* The public form: the result in fresh memory. */
dagl_status dagl_softmax(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, int dim, dagl_tensor **out)
{
    return dagl__softmax_into(ctx, op, a, dim, NULL, out);
}
