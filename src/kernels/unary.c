/* unary.c -- elementwise functions of one tensor (neg, exp, ..., relu, erf, sin, cos) and clamp. */
#include "kernels.h"

#include "fastmath.h"

#include <math.h>

/* Per-dtype math: F(exp) is expf for float, exp for double; FAST(exp) the vectorizable
 * versions of fastmath.h; TANH is fastmath's for float, libm's for double. */
#define F_f32(fn) fn##f
#define F_f64(fn) fn
#define FAST_f32(fn) dagl__##fn##f
#define FAST_f64(fn) dagl__##fn
#define TANH_f32 dagl__tanhf
#define TANH_f64 tanh

/* Ops every dtype has, and the float-only ones; X(op, T, expression of x). */
#define UN_ANY_OPS(X, sfx, T) X(relu, sfx, T, x <= 0 ? (T)0 : x) /* NaN stays NaN */
#define UN_FLOAT_OPS(X, sfx, T, F, FAST, TANH)                                                     \
    X(neg, sfx, T, -x)                                                                             \
    X(abs, sfx, T, F(fabs)(x))                                                                     \
    X(exp, sfx, T, FAST(exp)(x))                                                                   \
    X(log, sfx, T, F(log)(x))                                                                      \
    X(sqrt, sfx, T, F(sqrt)(x))                                                                    \
    X(tanh, sfx, T, TANH(x))                                                                       \
    X(sigmoid, sfx, T, FAST(sigmoid)(x))                                                          \
    X(erf, sfx, T, F(erf)(x))                                                                      \
    X(sin, sfx, T, F(sin)(x))                                                                      \
    X(cos, sfx, T, F(cos)(x))

/* One generated kernel per (op, dtype): an inner row loop, a unit-stride copy of it that the
 * compiler vectorizes, and the shared row driver around it. */
#define DEF_UNARY(op, sfx, T, EXPR)                                                                \
    static inline void row_##op##_##sfx(const struct ew_args *a, T *restrict o, const T *restrict p, \
                                        const T *p1, const T *p2, int64_t s, int64_t s1, int64_t s2, \
                                        int64_t n)                                                 \
    {                                                                                              \
        (void)a, (void)p1, (void)p2, (void)s1, (void)s2;                                           \
        if (s == 1)                                                                                \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T x = p[i];                                                                        \
                o[i] = EXPR;                                                                       \
            }                                                                                      \
        else                                                                                       \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T x = p[i * s];                                                                    \
                o[i] = EXPR;                                                                       \
            }                                                                                      \
    }                                                                                              \
    DAGL_VEC_CLONES static void op##_##sfx(const struct ew_args *a, int ith, int nth)              \
    {                                                                                              \
        EW_DRIVE(a, ith, nth, T, T, T, T, row_##op##_##sfx);                                       \
    }

UN_ANY_OPS(DEF_UNARY, f32, float)
UN_ANY_OPS(DEF_UNARY, f64, double)
UN_ANY_OPS(DEF_UNARY, i64, int64_t)
UN_FLOAT_OPS(DEF_UNARY, f32, float, F_f32, FAST_f32, TANH_f32)
UN_FLOAT_OPS(DEF_UNARY, f64, double, F_f64, FAST_f64, TANH_f64)
/* int64 negation wraps (as PyTorch's does) instead of being undefined for INT64_MIN */
DEF_UNARY(neg, i64, int64_t, (int64_t)(0 - (uint64_t)x))
DEF_UNARY(abs, i64, int64_t, x < 0 ? (int64_t)(0 - (uint64_t)x) : x)

/* Clamp bounds come from the args: lo/hi for floats (infinite when absent), ilo/ihi for int64. */
#define DEF_CLAMP(sfx, T, LO, HI)                                                                  \
    static inline void row_clamp_##sfx(const struct ew_args *a, T *restrict o, const T *restrict p, \
                                       const T *p1, const T *p2, int64_t s, int64_t s1, int64_t s2, \
                                       int64_t n)                                                  \
    {                                                                                              \
        (void)p1, (void)p2, (void)s1, (void)s2;                                                    \
        const T lo = (T)(LO), hi = (T)(HI);                                                        \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T x = p[i * s], y = x < lo ? lo : x;                                                   \
            o[i] = y > hi ? hi : y;                                                                \
        }                                                                                          \
    }                                                                                              \
    static void clamp_##sfx(const struct ew_args *a, int ith, int nth)                             \
    {                                                                                              \
        EW_DRIVE(a, ith, nth, T, T, T, T, row_clamp_##sfx);                                        \
    }
DEF_CLAMP(f32, float, a->lo, a->hi)
DEF_CLAMP(f64, double, a->lo, a->hi)
DEF_CLAMP(i64, int64_t, a->ilo, a->ihi)

#define K(op) {[DAGL_F32] = op##_f32, [DAGL_F64] = op##_f64, [DAGL_I64] = op##_i64}
#define KF(op) {[DAGL_F32] = op##_f32, [DAGL_F64] = op##_f64, [DAGL_I64] = NULL}
/* Indexed by op (the op list's UNARY rows); a dtype without a kernel computes in the dtype the
 * op's dtype rule gives (float32 for int64). */
static const ew_kernel unary_kernels[DAGL_OP_COUNT][DAGL_DTYPE_COUNT] = {
    [DAGL_OP_NEG] = K(neg),      [DAGL_OP_EXP] = KF(exp),   [DAGL_OP_LOG] = KF(log),
    [DAGL_OP_SQRT] = KF(sqrt),   [DAGL_OP_ABS] = K(abs),    [DAGL_OP_TANH] = KF(tanh),
    [DAGL_OP_SIGMOID] = KF(sigmoid), [DAGL_OP_RELU] = K(relu), [DAGL_OP_ERF] = KF(erf),
    [DAGL_OP_SIN] = KF(sin),     [DAGL_OP_COS] = KF(cos),
};
static const ew_kernel clamp_kernels[DAGL_DTYPE_COUNT] = K(clamp);

/* The kernel of unary op `op` for dtype dt, or NULL (fused programs run them block by block, ew_program.c). */
ew_kernel dagl__unary_kernel(dagl_op op, dagl_dtype dt)
{
    if ((unsigned)op >= DAGL_OP_COUNT || (unsigned)dt >= DAGL_DTYPE_COUNT) return NULL;
    return unary_kernels[op][dt];
}

/* Runs a one-input kernel: contiguous inputs take the flat path, others the strided one. */
static dagl_status run_one(dagl_ctx *ctx, const char *name, ew_kernel k, const dagl_tensor *x,
                           struct ew_args *args, dagl_tensor *dst, dagl_tensor **out)
{
    dagl_status st;
    if (dagl_tensor_is_contiguous(x)) {
        if ((st = dagl__tensor_alloc_dst(ctx, dst, x->dtype, x->ndim, x->shape, out))) return st;
        dagl__ew_flat(args, 1, &x, *out);
    } else if ((st = dagl__ew_prepare(ctx, name, 1, &x, x->dtype, dst, out, args))) {
        return st;
    }
    dagl__ew_run(ctx, k, args);
    return DAGL_OK;
}

/* int64 inputs keep their dtype for sign ops (neg, abs, relu); other functions compute in
 * float32, as PyTorch promotes integers for exp, log, ... */
dagl_status dagl__unary_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (!a) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: tensor is NULL", dagl_op_name(op));
    if (dagl__op_info_of(op)->cls != DAGL__CLS_UNARY)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "unary: %s (op %d) is not a unary op", dagl_op_name(op), (int)op);
    dagl_status st = dagl__op_check_dtypes(ctx, op, 1, &a->dtype);
    if (st) return st;
    dagl_dtype dt = dagl_op_result_dtype(op, 1, &a->dtype, NULL);
    ew_kernel k = unary_kernels[op][dt];
    if (!k) return dagl_ctx_set_error(ctx, DAGL_E_INTERNAL, "%s: no %s kernel", dagl_op_name(op), dagl_dtype_name(dt));
    struct ew_args args;
    if (a->dtype == dt) return run_one(ctx, dagl_op_name(op), k, a, &args, dst, out);
    dagl_tensor *x;
    if ((st = dagl__as_dtype(ctx, a, dt, &x))) return st;
    st = run_one(ctx, dagl_op_name(op), k, x, &args, dst, out);
    dagl_tensor_release(x);
    return st;
}

/* The public form: the result in fresh memory. */
dagl_status dagl_unary(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, dagl_tensor **out)
{
    return dagl__unary_into(ctx, op, a, NULL, out);
}

/* Converts a double bound to int64 for an integer clamp: rounded inward, saturated. */
static int64_t int_bound(double v, int is_lo)
{
    if (isnan(v)) return is_lo ? INT64_MIN : INT64_MAX;
    v = is_lo ? ceil(v) : floor(v);
    if (v <= -9223372036854775808.0) return INT64_MIN;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    return (int64_t)v;
}

/* min(max(a, lo), hi) in a's dtype; a NaN bound is no bound (Lua passes nil as NaN). */
dagl_status dagl__clamp_into(dagl_ctx *ctx, const dagl_tensor *a, double lo, double hi, dagl_tensor *dst,
                             dagl_tensor **out)
{
    *out = NULL;
    if (!a) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "clamp: tensor is NULL");
    dagl_status st = dagl__op_check_dtypes(ctx, DAGL_OP_CLAMP, 1, &a->dtype);
    if (st) return st;
    struct ew_args args;
    args.lo = isnan(lo) ? -INFINITY : lo;
    args.hi = isnan(hi) ? INFINITY : hi;
    args.ilo = int_bound(lo, 1);
    args.ihi = int_bound(hi, 0);
    return run_one(ctx, "clamp", clamp_kernels[a->dtype], a, &args, dst, out);
}

/* The public form: the result in fresh memory. */
dagl_status dagl_clamp(dagl_ctx *ctx, const dagl_tensor *a, double lo, double hi, dagl_tensor **out)
{
    return dagl__clamp_into(ctx, a, lo, hi, NULL, out);
}
