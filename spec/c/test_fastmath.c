/* test_fastmath.c -- accuracy of fastmath.h's exp/tanh/sigmoid against libm (in higher precision)
 * over dense sweeps and the edge cases, and that the vectorized unary kernels give bitwise the
 * scalar function's results. */
#include "check.h"
#include "kernels/fastmath.h"

#include <dagl.h>
#include <float.h>
#include <stdint.h>

/* Error of y in units of the last place of the float nearest to ref (denormals: of FLT_TRUE_MIN). */
static double ulps_f32(float y, double ref)
{
    if (isnan(ref)) return isnan(y) ? 0 : INFINITY;
    if (isinf(ref) || (float)ref == 0) return (double)y == (double)(float)ref ? 0 : fabs(y - ref) / FLT_TRUE_MIN;
    float r = (float)ref;
    double ulp = fabs((double)nextafterf(fabsf(r), INFINITY) - fabsf(r));
    return fabs((double)y - ref) / ulp;
}

static double ulps_f64(double y, long double ref)
{
    if (isnan((double)ref)) return isnan(y) ? 0 : INFINITY;
    double r = (double)ref;
    if (isinf(r) || r == 0) return y == r ? 0 : fabsl((long double)y - ref) / DBL_TRUE_MIN;
    double ulp = nextafter(fabs(r), INFINITY) - fabs(r);
    return (double)(fabsl((long double)y - ref) / ulp);
}

/* Every 251st float bit pattern (all signs, exponents, denormals, inf, NaN): worst errors. */
static void sweep_f32(void)
{
    double worst_exp = 0, worst_tanh = 0, worst_sig = 0;
    for (uint64_t b = 0; b <= 0xffffffffu; b += 251) {
        float x = dagl__f32_from((int32_t)(uint32_t)b);
        double e = ulps_f32(dagl__expf(x), exp((double)x));
        double t = ulps_f32(dagl__tanhf(x), tanh((double)x));
        double sref = 1.0 / (1.0 + exp(-(double)x));
        /* below FLT_MIN sigmoid may flush to 0 (e^-x overflows first): absolute error there */
        double s = sref < FLT_MIN ? (fabs(dagl__sigmoidf(x) - sref) < FLT_MIN ? 0 : INFINITY)
                                  : ulps_f32(dagl__sigmoidf(x), sref);
        if (e > worst_exp) worst_exp = e;
        if (t > worst_tanh) worst_tanh = t;
        if (s > worst_sig) worst_sig = s;
        if (e > 2 || t > 3 || s > 4) {
            fprintf(stderr, "x = %.9g (bits %08x): exp %.9g (%.2f ulp) tanh %.9g (%.2f) sigmoid %.9g (%.2f)\n", x,
                    (unsigned)b, dagl__expf(x), e, dagl__tanhf(x), t, dagl__sigmoidf(x), s);
            CHECK(0);
        }
    }
    printf("f32 worst: exp %.3f ulp, tanh %.3f ulp, sigmoid %.3f ulp\n", worst_exp, worst_tanh, worst_sig);
}

/* exp for double over [-750, 750] at a step no multiple of ln 2, plus the ends. */
static void sweep_f64(void)
{
    double worst = 0, worst_sig = 0;
    for (double x = -750; x <= 750; x += 0.000731) {
        double e = ulps_f64(dagl__exp(x), expl((long double)x));
        long double sref = 1.0L / (1.0L + expl(-(long double)x));
        double s = sref < DBL_MIN ? (fabsl(dagl__sigmoid(x) - sref) < DBL_MIN ? 0 : INFINITY)
                                  : ulps_f64(dagl__sigmoid(x), sref);
        if (e > worst) worst = e;
        if (s > worst_sig) worst_sig = s;
        if (e > 2 || s > 4) {
            fprintf(stderr, "x = %.17g: exp %.17g (%.2f ulp), sigmoid %.17g (%.2f ulp)\n", x, dagl__exp(x), e,
                    dagl__sigmoid(x), s);
            CHECK(0);
        }
    }
    printf("f64 worst: exp %.3f ulp, sigmoid %.3f ulp\n", worst, worst_sig);
}

/* Exact values at the edges: overflow, underflow, the largest finite and smallest denormal results. */
static void edges(void)
{
    CHECK(dagl__expf(0) == 1.0f && dagl__exp(0) == 1.0);
    CHECK(isinf(dagl__expf(89.0f)) && isinf(dagl__expf(INFINITY)) && isinf(dagl__exp(710)) && isinf(dagl__exp(INFINITY)));
    CHECK(dagl__expf(-104.0f) == 0 && dagl__expf(-INFINITY) == 0 && dagl__exp(-746) == 0 && dagl__exp(-INFINITY) == 0);
    CHECK(isnan(dagl__expf(NAN)) && isnan(dagl__exp(NAN)) && isnan(dagl__tanhf(NAN)) && isnan(dagl__sigmoidf(NAN)));
    CHECK(isfinite(dagl__expf(88.72f)) && dagl__expf(88.72f) > 3.3e38f);
    CHECK(dagl__expf(-103.0f) > 0 && dagl__expf(-103.0f) < FLT_MIN); /* a denormal, not flushed */
    CHECK(dagl__exp(-744.0) > 0 && dagl__exp(-744.0) < DBL_MIN);
    CHECK(dagl__tanhf(INFINITY) == 1 && dagl__tanhf(-INFINITY) == -1 && dagl__tanhf(20) == 1);
    CHECK(dagl__tanhf(1e-30f) == 1e-30f && signbit(dagl__tanhf(-0.0f)));
    CHECK(dagl__sigmoidf(-INFINITY) == 0 && dagl__sigmoidf(INFINITY) == 1 && dagl__sigmoidf(-200) == 0);
}

/* The unary kernels (vectorized loops) give the scalar function's bits on every element. */
static void kernels_match_scalar(void)
{
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    int64_t n = 100003;
    dagl_tensor *x;
    CHECK_OK(dagl_tensor_new(ctx, DAGL_F32, 1, &n, &x));
    float *xp = dagl_tensor_data(x);
    for (int64_t i = 0; i < n; i++) xp[i] = (float)((double)(i - n / 2) * 0.0021);
    xp[0] = NAN, xp[1] = INFINITY, xp[2] = -INFINITY, xp[3] = -103.5f;
    dagl_op ops[3] = {DAGL_OP_EXP, DAGL_OP_TANH, DAGL_OP_SIGMOID};
    float (*fns[3])(float) = {dagl__expf, dagl__tanhf, dagl__sigmoidf};
    for (int k = 0; k < 3; k++) {
        dagl_tensor *y;
        CHECK_OK(dagl_unary(ctx, ops[k], x, &y));
        const float *yp = dagl_tensor_data(y);
        for (int64_t i = 0; i < n; i++) {
            float want = fns[k](xp[i]);
            CHECK(memcmp(&want, &yp[i], sizeof want) == 0);
        }
        dagl_tensor_release(y);
    }
    dagl_tensor_release(x);
    dagl_ctx_free(ctx);
}

int main(void)
{
    edges();
    sweep_f32();
    sweep_f64();
    kernels_match_scalar();
    printf("ok\n");
    return 0;
}
