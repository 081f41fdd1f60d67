/* where.c -- out = cond != 0 ? a : b, the three broadcast together. */
#include "kernels.h"

/* One kernel per (cond dtype, value dtype): cond is tested in its own dtype (casting it could
 * turn 0.5 into 0 or 1e-300 into 0), values are already in the promoted dtype. */
#define DEF_WHERE(csfx, TC, sfx, T)                                                                \
    static inline void row_where_##csfx##_##sfx(const struct ew_args *a, T *restrict o,            \
                                                const TC *restrict c, const T *restrict x,         \
                                                const T *restrict y, int64_t sc, int64_t sx,       \
                                                int64_t sy, int64_t n)                             \
    {                                                                                              \
        (void)a;                                                                                   \
        if (sc == 1 && sx == 1 && sy == 1)                                                         \
            for (int64_t i = 0; i < n; i++) o[i] = c[i] != 0 ? x[i] : y[i];                        \
        else                                                                                       \
            for (int64_t i = 0; i < n; i++) o[i] = c[i * sc] != 0 ? x[i * sx] : y[i * sy];         \
    }                                                                                              \
    static void where_##csfx##_##sfx(const struct ew_args *a, int ith, int nth)                    \
    {                                                                                              \
        EW_DRIVE(a, ith, nth, T, TC, T, T, row_where_##csfx##_##sfx);                              \
    }
#define DEF_WHERE_FOR_COND(csfx, TC, cdt)                                                          \
    DEF_WHERE(csfx, TC, f32, float) DEF_WHERE(csfx, TC, f64, double) DEF_WHERE(csfx, TC, i64, int64_t) \
    DEF_WHERE(csfx, TC, u8, uint8_t)
DAGL_FOR_ALL_DTYPES(DEF_WHERE_FOR_COND) /* a select: uint8 masks and values too */

#define KW(c, TC, cdt)                                                                             \
    [cdt] = {[DAGL_F32] = where_##c##_f32, [DAGL_F64] = where_##c##_f64, [DAGL_I64] = where_##c##_i64, \
             [DAGL_U8] = where_##c##_u8},
static const ew_kernel where_kernels[DAGL_DTYPE_COUNT][DAGL_DTYPE_COUNT] = {DAGL_FOR_ALL_DTYPES(KW)};

/* Values are promoted like a binary op (Lua turns number arguments into 0-d tensors). */
dagl_status dagl__where_into(dagl_ctx *ctx, const dagl_tensor *cond, const dagl_tensor *a, const dagl_tensor *b,
                       dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (!cond || !a || !b) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "where: tensor is NULL");
    dagl_dtype dts[3] = {cond->dtype, a->dtype, b->dtype};
    dagl_dtype dt = dagl_op_result_dtype(DAGL_OP_WHERE, 3, dts, NULL); /* the op list's rule */
    dagl_tensor *ca = NULL, *cb = NULL;
    dagl_status st;
    struct ew_args args;
    if (!(st = dagl__as_dtype(ctx, a, dt, &ca)) && !(st = dagl__as_dtype(ctx, b, dt, &cb))) {
        const dagl_tensor *ins[3] = {cond, ca, cb};
        if (!(st = dagl__ew_prepare(ctx, "where", 3, ins, dt, dst, out, &args)))
            dagl__ew_run(ctx, where_kernels[cond->dtype][dt], &args);
    }
    dagl_tensor_release(ca);
    dagl_tensor_release(cb);
    return st;
}

/* The public form: the result in fresh memory. */
dagl_status dagl_where(dagl_ctx *ctx, const dagl_tensor *cond, const dagl_tensor *a, const dagl_tensor *b,
                       dagl_tensor **out)
{
    return dagl__where_into(ctx, cond, a, b, NULL, out);
}
