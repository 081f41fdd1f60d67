/* test_softmax.c -- softmax and log_softmax against a float64 computation of the same float32
 * inputs (golden, llm.c style): long rows (65,536 values, where a float32 running sum of the
 * denominator loses digits), short rows, rows along a strided dim, and the same bits at every
 * thread count. */
#include "check.h"
#include "dagl.h"

#include <math.h>
#include <string.h>

static dagl_ctx *ctx;

#define S(...) (int64_t[]){__VA_ARGS__}

/* Bounds on the max relative error against float64 on rows of 65,536 randn*3 values. Measured
 * over six seeds: float32 running sums of the denominator gave 7.3e-5..9.6e-5 (softmax) and
 * 2.3e-5..5.6e-5 (log_softmax); the sum reduction's double lanes give 1.1e-6 and 0.9e-7..1.1e-7.
 * What remains is mostly the float32 rounding of x - max before exp (|x - max| up to ~27). */
#define LONG_TOL_SM 1e-5
#define LONG_TOL_LSM 1e-6

/* A float32 tensor of shape [rows, n] (dim 1 contiguous) or [n, rows] (transposed: the rows are
 * strided), randn * scale. */
static dagl_tensor *rows_of(int64_t rows, int64_t n, double scale, int transposed)
{
    dagl_tensor *t;
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 2, transposed ? S(n, rows) : S(rows, n), &t));
    float *p = dagl_tensor_data(t);
    for (int64_t i = 0; i < rows * n; i++) p[i] = (float)(p[i] * scale);
    return t;
}

/* Max relative error of softmax or log_softmax of the float32 x along dim against float64 on the
 * same inputs (0 where both are 0: log_softmax of a single element). */
static double rel_err(dagl_op op, const dagl_tensor *x, int dim, dagl_tensor **out)
{
    CHECK_OK(dagl_softmax(ctx, op, x, dim, out));
    CHECK(dagl_tensor_dtype(*out) == DAGL_F32 && dagl_tensor_numel(*out) == dagl_tensor_numel(x));
    const int64_t *shape = dagl_tensor_shape(x);
    int64_t n = shape[dim], rows = dagl_tensor_numel(x) / n, s = dim == 0 ? shape[1] : 1;
    const float *in = dagl_tensor_data(x), *o = dagl_tensor_data(*out);
    double worst = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = in + (dim == 0 ? r : r * n);
        const float *orow = o + (dim == 0 ? r : r * n);
        double m = xr[0], sum = 0;
        for (int64_t k = 1; k < n; k++) m = fmax(m, xr[k * s]);
        for (int64_t k = 0; k < n; k++) sum += exp((double)xr[k * s] - m);
        for (int64_t k = 0; k < n; k++) {
            double d = (double)xr[k * s] - m;
            double want = op == DAGL_OP_SOFTMAX ? exp(d) / sum : d - log(sum);
            double e = fabs(orow[k * s] - want);
            if (e > 0) e /= fabs(want);
            worst = fmax(worst, e);
        }
    }
    return worst;
}

/* Rows of 65,536: within the bounds above, along the last dim and along a strided dim. */
static void test_long_rows(void)
{
    const char *label[2] = {"contiguous", "strided"};
    for (int tr = 0; tr < 2; tr++) {
        dagl_tensor *x = rows_of(4, 65536, 3.0, tr), *o;
        double esm = rel_err(DAGL_OP_SOFTMAX, x, tr ? 0 : 1, &o);
        dagl_tensor_release(o);
        double elsm = rel_err(DAGL_OP_LOG_SOFTMAX, x, tr ? 0 : 1, &o);
        dagl_tensor_release(o);
        printf("rows of 65536 (%s): max relative error softmax %.3g, log_softmax %.3g\n", label[tr], esm, elsm);
        CHECK(esm < LONG_TOL_SM);
        CHECK(elsm < LONG_TOL_LSM);
        dagl_tensor_release(x);
    }
}

/* Short rows (1, 3, 17 elements) and a classifier-sized one: within a few float32 ulps (softmax:
 * plus the rounding of x - max, up to ~1e-6 relative). */
static void test_short_rows(void)
{
    const int64_t sizes[] = {1, 3, 17, 1000};
    for (int i = 0; i < 4; i++)
        for (int tr = 0; tr < 2; tr++) {
            dagl_tensor *x = rows_of(5, sizes[i], 3.0, tr), *o;
            CHECK(rel_err(DAGL_OP_SOFTMAX, x, tr ? 0 : 1, &o) < 2e-6);
            dagl_tensor_release(o);
            CHECK(rel_err(DAGL_OP_LOG_SOFTMAX, x, tr ? 0 : 1, &o) < 1e-6);
            dagl_tensor_release(o);
            dagl_tensor_release(x);
        }
}

/* Big enough to be split into shares: the same bits with 1 and 2 threads and with intra 1. */
static void test_threads(void)
{
    for (int tr = 0; tr < 2; tr++)
        for (int lsm = 0; lsm < 2; lsm++) {
            dagl_op op = lsm ? DAGL_OP_LOG_SOFTMAX : DAGL_OP_SOFTMAX;
            dagl_tensor *x = rows_of(8, 65536, 3.0, tr), *o[3];
            const int threads[3] = {1, 2, 2}, intra[3] = {0, 0, 1};
            for (int k = 0; k < 3; k++) {
                CHECK_OK(dagl_ctx_set_threads(ctx, threads[k]));
                CHECK_OK(dagl_ctx_set_intra_threads(ctx, intra[k]));
                CHECK_OK(dagl_softmax(ctx, op, x, tr ? 0 : 1, &o[k]));
            }
            for (int k = 1; k < 3; k++)
                CHECK(memcmp(dagl_tensor_data(o[0]), dagl_tensor_data(o[k]), sizeof(float) * 8 * 65536) == 0);
            for (int k = 0; k < 3; k++) dagl_tensor_release(o[k]);
            dagl_tensor_release(x);
        }
    CHECK_OK(dagl_ctx_set_intra_threads(ctx, 0));
}

/* float64 rows of 65,536: near double precision. */
static void test_f64(void)
{
    dagl_tensor *x, *o[2];
    CHECK_OK(dagl_randn(ctx, DAGL_F64, 1, S(65536), &x));
    const double *p = dagl_tensor_data(x);
    double m = p[0], sum = 0;
    for (int64_t k = 1; k < 65536; k++) m = fmax(m, p[k]);
    for (int64_t k = 0; k < 65536; k++) sum += exp(p[k] - m);
    CHECK_OK(dagl_softmax(ctx, DAGL_OP_SOFTMAX, x, 0, &o[0]));
    CHECK_OK(dagl_softmax(ctx, DAGL_OP_LOG_SOFTMAX, x, 0, &o[1]));
    for (int64_t k = 0; k < 65536; k += 7) {
        double sm = exp(p[k] - m) / sum, lsm = (p[k] - m) - log(sum);
        CHECK(fabs(((double *)dagl_tensor_data(o[0]))[k] - sm) <= 1e-13 * sm);
        CHECK(fabs(((double *)dagl_tensor_data(o[1]))[k] - lsm) <= 1e-13 * fabs(lsm));
    }
    for (int k = 0; k < 2; k++) dagl_tensor_release(o[k]);
    dagl_tensor_release(x);
}

int main(void)
{
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    dagl_ctx_manual_seed(ctx, 12);
    test_long_rows();
    test_short_rows();
    test_threads();
    test_f64();
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
    printf("test_softmax: ok\n");
    return 0;
}
