/* cast.c -- a dtype conversion fused with a scaling, out = dt(x * scale): uint8 images become
 * float32 in [0, 1] in one pass (x:float(1/255) in Lua, eager or inside a traced model), without
 * the float copy a cast followed by a multiply would make. The product is computed in float64
 * and rounded once, so u8 * (1/255) gives exactly the float32 NumPy's x.astype(float32) / 255
 * gives (1/255 in binary repeats every 8 bits: no product lies near a float32 rounding tie). */
#include "kernels.h"

/* One kernel per (dst, src) dtype pair; the scale travels in args.lo. */
#define DEF_SCALE(DN, DT, SN, ST)                                                                  \
    static inline void row_scale_##DN##_##SN(const struct ew_args *a, DT *o, const ST *p,          \
                                             const ST *p1, const ST *p2, int64_t s, int64_t s1,    \
                                             int64_t s2, int64_t n)                                \
    {                                                                                              \
        (void)p1, (void)p2, (void)s1, (void)s2;                                                    \
        const double k = a->lo;                                                                    \
        if (s == 1)                                                                                \
            for (int64_t i = 0; i < n; i++) o[i] = DAGL__TO_##DN((double)p[i] * k);                \
        else                                                                                       \
            for (int64_t i = 0; i < n; i++) o[i] = DAGL__TO_##DN((double)p[i * s] * k);            \
    }                                                                                              \
    static void scale_##DN##_##SN(const struct ew_args *a, int ith, int nth)                       \
    {                                                                                              \
        EW_DRIVE(a, ith, nth, DT, ST, ST, ST, row_scale_##DN##_##SN);                              \
    }
#define DEF_SCALE_FROM(SN, ST, SDT)                                                                \
    DEF_SCALE(f32, float, SN, ST) DEF_SCALE(f64, double, SN, ST) DEF_SCALE(i64, int64_t, SN, ST)  \
    DEF_SCALE(u8, uint8_t, SN, ST)
DAGL_FOR_ALL_DTYPES(DEF_SCALE_FROM)

#define SCALE_TO(DN, DT, DDT)                                                                      \
    [DDT] = {[DAGL_F32] = scale_##DN##_f32, [DAGL_F64] = scale_##DN##_f64, [DAGL_I64] = scale_##DN##_i64, \
             [DAGL_U8] = scale_##DN##_u8},
static const ew_kernel scale_kernels[DAGL_DTYPE_COUNT][DAGL_DTYPE_COUNT] = {DAGL_FOR_ALL_DTYPES(SCALE_TO)};

dagl_status dagl__cast_scaled_into(dagl_ctx *ctx, const dagl_tensor *t, dagl_dtype dt, double scale, dagl_tensor *dst,
                                   dagl_tensor **out)
{
    *out = NULL;
    if (!t) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "cast: tensor is NULL");
    if ((unsigned)dt >= DAGL_DTYPE_COUNT) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "cast: unknown dtype %d", (int)dt);
    struct ew_args args;
    dagl_status st;
    if (dagl_tensor_is_contiguous(t)) {
        if ((st = dagl__tensor_alloc_dst(ctx, dst, dt, t->ndim, t->shape, out))) return st;
        dagl__ew_flat(&args, 1, &t, *out);
    } else if ((st = dagl__ew_prepare(ctx, "cast", 1, &t, dt, dst, out, &args))) {
        return st;
    }
    args.lo = scale;
    dagl__ew_run(ctx, scale_kernels[dt][t->dtype], &args);
    return DAGL_OK;
}

/* The public form: the result in fresh memory. */
dagl_status dagl_cast_scaled(dagl_ctx *ctx, const dagl_tensor *t, dagl_dtype dt, double scale, dagl_tensor **out)
{
    return dagl__cast_scaled_into(ctx, t, dt, scale, NULL, out);
}
