/* test_create.c -- arange and linspace: values like torch's, dtypes, and their errors. */
#include "check.h"
#include "dagl.h"

#include <string.h>

/* Element i of a 1-d tensor as double. */
static double at(dagl_ctx *ctx, const dagl_tensor *t, int64_t i)
{
    double v = 0;
    CHECK_OK(dagl_get(ctx, t, &i, &v));
    return v;
}

/* Checks a 1-d tensor against expected values. */
static void expect(dagl_ctx *ctx, dagl_tensor *t, int64_t n, const double *want, double tol)
{
    CHECK(dagl_tensor_ndim(t) == 1);
    CHECK(dagl_tensor_shape(t)[0] == n);
    for (int64_t i = 0; i < n; i++) CHECK_NEAR(at(ctx, t, i), want[i], tol);
    dagl_tensor_release(t);
}

int main(void)
{
    dagl_ctx *ctx;
    dagl_tensor *t;
    CHECK_OK(dagl_ctx_new(NULL, &ctx));

    CHECK_OK(dagl_arange(ctx, DAGL_F32, 0, 5, 1, &t));
    CHECK(dagl_tensor_dtype(t) == DAGL_F32);
    expect(ctx, t, 5, (double[]){0, 1, 2, 3, 4}, 0);
    CHECK_OK(dagl_arange(ctx, DAGL_F32, 0, 1, 0.25, &t));
    expect(ctx, t, 4, (double[]){0, 0.25, 0.5, 0.75}, 0);
    CHECK_OK(dagl_arange(ctx, DAGL_F64, 5, 0, -2, &t));
    expect(ctx, t, 3, (double[]){5, 3, 1}, 0);
    CHECK_OK(dagl_arange(ctx, DAGL_I64, 1, 4, 1, &t));
    CHECK(dagl_tensor_dtype(t) == DAGL_I64);
    CHECK(((int64_t *)dagl_tensor_data(t))[2] == 3);
    expect(ctx, t, 3, (double[]){1, 2, 3}, 0);
    CHECK_OK(dagl_arange(ctx, DAGL_F64, 0, 1, 0.1, &t)); /* 1/0.1 rounds to exactly 10 */
    CHECK(dagl_tensor_shape(t)[0] == 10);
    CHECK_NEAR(at(ctx, t, 3), 0.3, 1e-15);
    dagl_tensor_release(t);
    CHECK_OK(dagl_arange(ctx, DAGL_F32, 0, 1.05, 0.5, &t)); /* ceil(2.1) = 3 */
    expect(ctx, t, 3, (double[]){0, 0.5, 1}, 0);
    CHECK_OK(dagl_arange(ctx, DAGL_F32, 3, 3, 1, &t));
    CHECK(dagl_tensor_numel(t) == 0);
    dagl_tensor_release(t);

    /* errors: zero step, wrong sign, non-finite bounds */
    CHECK(dagl_arange(ctx, DAGL_F32, 0, 5, 0, &t) == DAGL_E_ARG && t == NULL);
    CHECK(strstr(dagl_ctx_last_error(ctx), "arange: step must be nonzero") != NULL);
    CHECK(dagl_arange(ctx, DAGL_F32, 0, 5, -1, &t) == DAGL_E_ARG);
    CHECK(strstr(dagl_ctx_last_error(ctx), "arange:") != NULL);
    CHECK(strstr(dagl_ctx_last_error(ctx), "sign") != NULL);
    CHECK(dagl_arange(ctx, DAGL_F32, 5, 0, 1, &t) == DAGL_E_ARG);
    CHECK(dagl_arange(ctx, DAGL_F32, 0, 1.0 / 0.0, 1, &t) == DAGL_E_ARG);

    CHECK_OK(dagl_linspace(ctx, DAGL_F32, 0, 1, 5, &t));
    expect(ctx, t, 5, (double[]){0, 0.25, 0.5, 0.75, 1}, 0);
    CHECK_OK(dagl_linspace(ctx, DAGL_F32, -1, 1, 3, &t));
    expect(ctx, t, 3, (double[]){-1, 0, 1}, 0);
    CHECK_OK(dagl_linspace(ctx, DAGL_F64, 2, 7, 1, &t));
    expect(ctx, t, 1, (double[]){2}, 0);
    CHECK_OK(dagl_linspace(ctx, DAGL_F32, 0, 1, 0, &t));
    CHECK(dagl_tensor_numel(t) == 0 && dagl_tensor_ndim(t) == 1);
    dagl_tensor_release(t);
    CHECK_OK(dagl_linspace(ctx, DAGL_F64, 0, 1, 11, &t));
    CHECK(at(ctx, t, 10) == 1.0); /* the end is exact */
    CHECK_NEAR(at(ctx, t, 3), 0.3, 1e-15);
    CHECK_NEAR(at(ctx, t, 7), 0.7, 1e-15);
    dagl_tensor_release(t);
    CHECK_OK(dagl_linspace(ctx, DAGL_F64, 10, 0, 6, &t)); /* decreasing */
    expect(ctx, t, 6, (double[]){10, 8, 6, 4, 2, 0}, 1e-12);
    CHECK_OK(dagl_linspace(ctx, DAGL_I64, 0, 10, 3, &t));
    expect(ctx, t, 3, (double[]){0, 5, 10}, 0);

    CHECK(dagl_linspace(ctx, DAGL_F32, 0, 1, -1, &t) == DAGL_E_ARG && t == NULL);
    CHECK(strstr(dagl_ctx_last_error(ctx), "linspace:") != NULL);

    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
    return 0;
}
