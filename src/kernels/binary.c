/* binary.c -- elementwise ops of two operands with broadcasting and dtype promotion:
 * arithmetic, maximum/minimum, floor division and remainder, comparisons; tensor-tensor and
 * tensor-scalar. */
#include "kernels.h"

#include <math.h>
#include <string.h>

/* int64 to an int64 power by squaring; wraps on overflow like PyTorch. Negative exponents give
 * the integer part of the true result (0 unless the base is 1 or -1). */
static inline int64_t ipow(int64_t x, int64_t y)
{
    if (y < 0) return x == 1 ? 1 : x == -1 ? ((y & 1) ? -1 : 1) : 0;
    uint64_t r = 1, b = (uint64_t)x;
    for (uint64_t e = (uint64_t)y; e; e >>= 1, b *= b)
        if (e & 1) r *= b;
    return (int64_t)r;
}

/* int64 floor division and remainder with the divisor's sign (Python's // and %, torch.floor_divide
 * and torch.remainder). A zero divisor is refused before a kernel runs (check_divisor); here it
 * gives 0 rather than undefined behaviour, and INT64_MIN // -1 wraps like the other int64 ops. */
static inline int64_t ifloordiv(int64_t x, int64_t y)
{
    if (y == 0) return 0;
    if (y == -1) return (int64_t)(0 - (uint64_t)x);
    int64_t q = x / y;
    return (x % y != 0 && (x < 0) != (y < 0)) ? q - 1 : q;
}
static inline int64_t iremainder(int64_t x, int64_t y)
{
    if (y == 0 || y == -1) return 0;
    int64_t r = x % y;
    return (r != 0 && (r < 0) != (y < 0)) ? r + y : r;
}

/* Float floor division and remainder as PyTorch computes them: through fmod, so x // y is exact
 * where floor(x / y) would round (x / 0 for a zero divisor: inf or NaN; the remainder NaN). */
#define DEF_FLOAT_DIVMOD(sfx, T, F)                                                                \
    static inline T pyfloordiv_##sfx(T x, T y)                                                       \
    {                                                                                              \
        if (y == 0) return x / y;                                                                  \
        T mod = F(fmod)(x, y), div = (x - mod) / y;                                                \
        if (mod != 0 && (y < 0) != (mod < 0)) div -= 1;                                            \
        if (div == 0) return F(copysign)(0, x / y);                                                \
        T fl = F(floor)(div);                                                                      \
        return div - fl > (T)0.5 ? fl + 1 : fl;                                                    \
    }                                                                                              \
    static inline T pymod_##sfx(T x, T y)                                                      \
    {                                                                                              \
        T r = F(fmod)(x, y);                                                                       \
        return (r != 0 && (y < 0) != (r < 0)) ? r + y : r;                                         \
    }

/* Wrapping int64 arithmetic (signed overflow is undefined in C; PyTorch wraps). */
#define WRAP(op) (int64_t)((uint64_t)x op (uint64_t)y)

/* X(op, sfx, T, expression of x and y). Maximum/minimum propagate NaN like torch.maximum. pow
 * takes x * x for the exponent 2 and x for 1 (as PyTorch does; the same value for every x,
 * NaN and infinities too, without a libm call per element: squared errors and their gradients). */
#define BIN_FLOAT_OPS(X, sfx, T, F)                                                                \
    X(add, sfx, T, x + y) X(sub, sfx, T, x - y) X(mul, sfx, T, x * y) X(div, sfx, T, x / y)        \
    X(pow, sfx, T, y == 2 ? x * x : y == 1 ? x : F(pow)(x, y))                                     \
    X(maximum, sfx, T, (x > y || x != x) ? x : y) X(minimum, sfx, T, (x < y || x != x) ? x : y)    \
    X(floor_divide, sfx, T, pyfloordiv_##sfx(x, y)) X(remainder, sfx, T, pymod_##sfx(x, y))
#define BIN_INT_OPS(X, sfx, T)                                                                     \
    X(add, sfx, T, WRAP(+)) X(sub, sfx, T, WRAP(-)) X(mul, sfx, T, WRAP(*)) X(pow, sfx, T, ipow(x, y)) \
    X(maximum, sfx, T, x > y ? x : y) X(minimum, sfx, T, x < y ? x : y)                            \
    X(floor_divide, sfx, T, ifloordiv(x, y)) X(remainder, sfx, T, iremainder(x, y))
#define BIN_CMP_OPS(X, sfx, T)                                                                     \
    X(eq, sfx, T, (T)(x == y)) X(ne, sfx, T, (T)(x != y)) X(lt, sfx, T, (T)(x < y))                \
    X(le, sfx, T, (T)(x <= y)) X(gt, sfx, T, (T)(x > y)) X(ge, sfx, T, (T)(x >= y))
#define F_f32(fn) fn##f
#define F_f64(fn) fn
DEF_FLOAT_DIVMOD(f32, float, F_f32)
DEF_FLOAT_DIVMOD(f64, double, F_f64)

/* One kernel per (op, dtype). The row loop has unit-stride and scalar-operand variants (same
 * shape, row broadcast, tensor op scalar) that the compiler vectorizes, and a strided fallback.
 * No restrict: graph runs may write the result over an operand (in place, memplan.c). */
#define DEF_BINARY(op, sfx, T, EXPR)                                                               \
    static inline void row_##op##_##sfx(const struct ew_args *a, T *o, const T *p,                 \
                                        const T *q, const T *p2, int64_t sp, int64_t sq,            \
                                        int64_t s2, int64_t n)                                     \
    {                                                                                              \
        (void)a, (void)p2, (void)s2;                                                               \
        if (sp == 1 && sq == 1) {                                                                  \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T x = p[i], y = q[i];                                                              \
                o[i] = EXPR;                                                                       \
            }                                                                                      \
        } else if (sp == 1 && sq == 0) {                                                           \
            const T y = q[0];                                                                      \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T x = p[i];                                                                        \
                o[i] = EXPR;                                                                       \
            }                                                                                      \
        } else if (sp == 0 && sq == 1) {                                                           \
            const T x = p[0];                                                                      \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T y = q[i];                                                                        \
                o[i] = EXPR;                                                                       \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T x = p[i * sp], y = q[i * sq];                                                    \
                o[i] = EXPR;                                                                       \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    static void op##_##sfx(const struct ew_args *a, int ith, int nth)                              \
    {                                                                                              \
        EW_DRIVE(a, ith, nth, T, T, T, T, row_##op##_##sfx);                                       \
    }

BIN_FLOAT_OPS(DEF_BINARY, f32, float, F_f32)
BIN_FLOAT_OPS(DEF_BINARY, f64, double, F_f64)
BIN_INT_OPS(DEF_BINARY, i64, int64_t)
BIN_CMP_OPS(DEF_BINARY, f32, float)
BIN_CMP_OPS(DEF_BINARY, f64, double)
BIN_CMP_OPS(DEF_BINARY, i64, int64_t)
BIN_CMP_OPS(DEF_BINARY, u8, uint8_t) /* uint8 compares (masks of labels), never computes */

/* int64 division never reaches a kernel: it is true division, computed in float32. */
#define K(op) {[DAGL_F32] = op##_f32, [DAGL_F64] = op##_f64, [DAGL_I64] = op##_i64}
#define KC(op) {[DAGL_F32] = op##_f32, [DAGL_F64] = op##_f64, [DAGL_I64] = op##_i64, [DAGL_U8] = op##_u8}
#define KB(op) [DAGL_OP_##op]
/* Indexed by op (the op list's BINARY and COMPARE rows). */
static const ew_kernel binary_kernels[DAGL_OP_COUNT][DAGL_DTYPE_COUNT] = {
    KB(ADD) = K(add), KB(SUB) = K(sub), KB(MUL) = K(mul),
    KB(DIV) = {[DAGL_F32] = div_f32, [DAGL_F64] = div_f64, [DAGL_I64] = NULL},
    KB(POW) = K(pow), KB(MAXIMUM) = K(maximum), KB(MINIMUM) = K(minimum),
    KB(FLOOR_DIVIDE) = K(floor_divide), KB(REMAINDER) = K(remainder),
    KB(EQ) = KC(eq), KB(NE) = KC(ne), KB(LT) = KC(lt), KB(LE) = KC(le), KB(GT) = KC(gt), KB(GE) = KC(ge),
};

/* The kernel of a binary or compare op for dtype dt, or NULL (fused programs run them block by
 * block, ew_program.c). */
ew_kernel dagl__binary_kernel(dagl_op op, dagl_dtype dt)
{
    if ((unsigned)op >= DAGL_OP_COUNT || (unsigned)dt >= DAGL_DTYPE_COUNT) return NULL;
    return binary_kernels[op][dt];
}

/* The dtype an op computes and returns in: the op list's rule (promotion, and true division
 * for integers). */
static dagl_dtype result_dtype(dagl_op op, dagl_dtype a, dagl_dtype b)
{
    dagl_dtype dts[2] = {a, b};
    return dagl_op_result_dtype(op, 2, dts, NULL);
}

/* Rejects ops that are not binary elementwise, before anything is allocated. */
static dagl_status check_op(dagl_ctx *ctx, const char *fn, dagl_op op)
{
    dagl__op_class c = dagl__op_info_of(op)->cls;
    if (c == DAGL__CLS_BINARY || c == DAGL__CLS_COMPARE) return DAGL_OK;
    return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: %s (op %d) is not a binary elementwise op", fn,
                              dagl_op_name(op), (int)op);
}

/* Integer floor division and remainder refuse a zero divisor (as PyTorch does) before anything
 * runs: the index of the first zero of b (any strides), or -1. */
static int64_t first_zero_i64(const dagl_tensor *b)
{
    int64_t idx[DAGL_MAX_DIMS] = {0};
    const int64_t *d = (const int64_t *)(const void *)b->data;
    for (int64_t i = 0; i < b->numel; i++) {
        int64_t off = 0;
        for (int k = 0; k < b->ndim; k++) off += idx[k] * b->strides[k];
        if (d[off] == 0) return i;
        for (int k = b->ndim - 1; k >= 0 && ++idx[k] == b->shape[k]; k--) idx[k] = 0;
    }
    return -1;
}

/* Whether op computed in dt must first check its divisor for zeros. */
static bool int_divmod(dagl_op op, dagl_dtype dt)
{
    return dt == DAGL_I64 && (op == DAGL_OP_FLOOR_DIVIDE || op == DAGL_OP_REMAINDER);
}

/* The error for an int64 floor_divide or remainder by a zero divisor (element `at`, -1: none). */
static dagl_status check_divisor(dagl_ctx *ctx, dagl_op op, int64_t at)
{
    if (at < 0) return DAGL_OK;
    return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: integer division by zero (the divisor's element %lld, 0-based in C "
                              "order, is 0; convert to float for inf/nan results)", dagl_op_name(op), (long long)at);
}

/* Exact shape equality (no broadcasting), the test for dagl_binary's flat fast path. */
static bool same_shape(const dagl_tensor *a, const dagl_tensor *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

/* Tensor-tensor. The hot case (same dtype, same shape, contiguous) goes straight to one flat
 * row; everything else is broadcast and coalesced first, inputs cast when dtypes differ. */
dagl_status dagl__binary_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, const dagl_tensor *b,
                        dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    dagl_status st = check_op(ctx, "binary", op);
    if (st) return st;
    if (!a || !b) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: tensor is NULL", dagl_op_name(op));
    dagl_dtype dts[2] = {a->dtype, b->dtype};
    if ((st = dagl__op_check_dtypes(ctx, op, 2, dts))) return st;
    dagl_dtype dt = result_dtype(op, a->dtype, b->dtype);
    ew_kernel k = binary_kernels[op][dt];
    struct ew_args args;
    if (int_divmod(op, dt) && (st = check_divisor(ctx, op, first_zero_i64(b)))) return st;
    if (a->dtype == dt && b->dtype == dt) {
        const dagl_tensor *ins[2] = {a, b};
        if (same_shape(a, b) && dagl_tensor_is_contiguous(a) && dagl_tensor_is_contiguous(b)) {
            if ((st = dagl__tensor_alloc_dst(ctx, dst, dt, a->ndim, a->shape, out))) return st;
            dagl__ew_flat(&args, 2, ins, *out);
        } else if ((st = dagl__ew_prepare(ctx, dagl_op_name(op), 2, ins, dt, dst, out, &args))) {
            return st;
        }
        dagl__ew_run(ctx, k, &args);
        return DAGL_OK;
    }
    /* check the shapes before casting, so the error is about the shapes */
    int nd;
    int64_t shape[DAGL_MAX_DIMS];
    if ((st = dagl__broadcast_shape(ctx, dagl_op_name(op), a->ndim, a->shape, b->ndim, b->shape, &nd, shape)))
        return st;
    dagl_tensor *ca = NULL, *cb = NULL;
    if (!(st = dagl__as_dtype(ctx, a, dt, &ca)) && !(st = dagl__as_dtype(ctx, b, dt, &cb))) {
        const dagl_tensor *ins[2] = {ca, cb};
        if (!(st = dagl__ew_prepare(ctx, dagl_op_name(op), 2, ins, dt, dst, out, &args))) dagl__ew_run(ctx, k, &args);
    }
    dagl_tensor_release(ca);
    dagl_tensor_release(cb);
    return st;
}

/* The public form: the result in fresh memory. */
dagl_status dagl_binary(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, const dagl_tensor *b,
                        dagl_tensor **out)
{
    return dagl__binary_into(ctx, op, a, b, NULL, out);
}

/* Tensor-number: the number becomes a 0-d operand on the stack (stride 0), so it runs the same
 * kernels as the tensor-tensor case with no extra allocation. An integral number counts as int64
 * for promotion, any other as float32. */
dagl_status dagl__binary_scalar_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, double s, int scalar_first,
                               dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    dagl_status st = check_op(ctx, "binary_scalar", op);
    if (st) return st;
    if (!a) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: tensor is NULL", dagl_op_name(op));
    if ((st = dagl__op_check_dtypes(ctx, op, 1, &a->dtype))) return st;
    dagl_dtype dt = result_dtype(op, a->dtype, dagl__scalar_dtype(s));
    if (int_divmod(op, dt) && (st = check_divisor(ctx, op, scalar_first ? first_zero_i64(a) : s == 0 ? 0 : -1)))
        return st;
    union { float f; double d; int64_t i; uint8_t u; } v;
    dagl__store(dt, (char *)&v, s);
    dagl_tensor sc = {.dtype = dt, .ndim = 0, .numel = 1, .data = (char *)&v, .contiguous = true};
    const dagl_tensor *x = a;
    dagl_tensor *cx = NULL;
    if (a->dtype != dt) {
        if ((st = dagl_cast(ctx, a, dt, &cx))) return st;
        x = cx;
    }
    const dagl_tensor *ins[2] = {scalar_first ? &sc : x, scalar_first ? x : &sc};
    struct ew_args args;
    ew_kernel k = binary_kernels[op][dt];
    if (dagl_tensor_is_contiguous(x)) {
        if (!(st = dagl__tensor_alloc_dst(ctx, dst, dt, x->ndim, x->shape, out))) {
            dagl__ew_flat(&args, 2, ins, *out);
            args.st[scalar_first ? 0 : 1][0] = 0;
            dagl__ew_run(ctx, k, &args);
        }
    } else if (!(st = dagl__ew_prepare(ctx, dagl_op_name(op), 2, ins, dt, dst, out, &args))) {
        dagl__ew_run(ctx, k, &args);
    }
    dagl_tensor_release(cx);
    return st;
}

/* The public form: the result in fresh memory. */
dagl_status dagl_binary_scalar(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, double s, int scalar_first,
                               dagl_tensor **out)
{
    return dagl__binary_scalar_into(ctx, op, a, s, scalar_first, NULL, out);
}
