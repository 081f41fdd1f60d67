/* test_kernels_elementwise.c -- unary, binary (tensor and scalar), comparisons, clamp, where and
 * the op table: hand-computed values, broadcasting identities, dtype promotion and errors. */
#include "check.h"
#include "tensor_util.h"
#include "dagl.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* Checks dtype, shape and values (NaN matches NaN), then releases t. */
static void expect(dagl_tensor *t, dagl_dtype dt, int nd, const int64_t *shape, const double *want, double tol)
{
    CHECK(t != NULL);
    CHECK(dagl_tensor_dtype(t) == dt);
    CHECK(dagl_tensor_ndim(t) == nd);
    for (int d = 0; d < nd; d++) CHECK(dagl_tensor_shape(t)[d] == shape[d]);
    CHECK(dagl_tensor_is_contiguous(t));
    for (int64_t i = 0; i < dagl_tensor_numel(t); i++) {
        double g = el(t, i);
        if (isnan(want[i])) CHECK(isnan(g));
        else if (isinf(want[i])) CHECK(g == want[i]);
        else CHECK_NEAR(g, want[i], tol);
    }
    dagl_tensor_release(t);
}

/* Two tensors have the same shape and values. */
static void same(const dagl_tensor *a, const dagl_tensor *b, double tol)
{
    CHECK(dagl_tensor_ndim(a) == dagl_tensor_ndim(b));
    for (int d = 0; d < dagl_tensor_ndim(a); d++) CHECK(dagl_tensor_shape(a)[d] == dagl_tensor_shape(b)[d]);
    for (int64_t i = 0; i < dagl_tensor_numel(a); i++) CHECK_NEAR(el(a, i), el(b, i), tol);
}

static const int64_t S23[] = {2, 3}, S3[] = {3}, S21[] = {2, 1}, S2[] = {2}, S0[1] = {0}; /* S0: a 0-d shape (not NULL: memcpy of 0 bytes from NULL is UB) */
static const double X[] = {1, 2, 3, 4, 5, 6}, Y[] = {6, 5, 4, 3, 2, 1};

static void test_op_table(void)
{
    for (int i = 0; i < DAGL_OP_COUNT; i++) {
        const char *n = dagl_op_name((dagl_op)i);
        CHECK(n && *n);
        for (int j = 0; j < i; j++) CHECK(strcmp(n, dagl_op_name((dagl_op)j)) != 0);
    }
    CHECK_STR(dagl_op_name(DAGL_OP_ADD), "add");
    CHECK_STR(dagl_op_name(DAGL_OP_MATMUL), "matmul");
    CHECK_STR(dagl_op_name(DAGL_OP_SIGMOID), "sigmoid");
    CHECK_STR(dagl_op_name(DAGL_OP_COUNT), "none");
    CHECK_STR(dagl_op_name((dagl_op)-3), "none");
}

static void test_binary_values(void)
{
    dagl_tensor *x = mk(DAGL_F32, 2, S23, X), *y = mk(DAGL_F32, 2, S23, Y), *o;
    CHECK_OK(dagl_binary(ctx, DAGL_OP_ADD, x, y, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){7, 7, 7, 7, 7, 7}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_SUB, x, y, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){-5, -3, -1, 1, 3, 5}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_MUL, x, y, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){6, 10, 12, 12, 10, 6}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_DIV, x, y, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){1 / 6., .4, .75, 4 / 3., 2.5, 6}, 1e-6);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_POW, x, y, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){1, 32, 81, 64, 25, 6}, 1e-4);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_MAXIMUM, x, y, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){6, 5, 4, 4, 5, 6}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_MINIMUM, x, y, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){1, 2, 3, 3, 2, 1}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_LT, x, y, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){1, 1, 1, 0, 0, 0}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_LE, x, x, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){1, 1, 1, 1, 1, 1}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_GT, x, y, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){0, 0, 0, 1, 1, 1}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_GE, x, y, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){0, 0, 0, 1, 1, 1}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_EQ, x, x, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){1, 1, 1, 1, 1, 1}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_NE, x, y, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){1, 1, 1, 1, 1, 1}, 0);
    /* operands are not modified */
    for (int i = 0; i < 6; i++) CHECK(el(x, i) == X[i] && el(y, i) == Y[i]);

    /* IEEE: division by zero, NaN through maximum/minimum */
    dagl_tensor *z = mk(DAGL_F32, 1, S3, (double[]){1, -1, 0}), *zero = mk(DAGL_F32, 1, S3, (double[]){0, 0, 0});
    CHECK_OK(dagl_binary(ctx, DAGL_OP_DIV, z, zero, &o));
    expect(o, DAGL_F32, 1, S3, (double[]){INFINITY, -INFINITY, NAN}, 0);
    dagl_tensor *n = mk(DAGL_F64, 1, S3, (double[]){NAN, 1, 5});
    CHECK_OK(dagl_binary(ctx, DAGL_OP_MAXIMUM, n, z, &o));
    expect(o, DAGL_F64, 1, S3, (double[]){NAN, 1, 5}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_MINIMUM, z, n, &o));
    expect(o, DAGL_F64, 1, S3, (double[]){NAN, -1, 0}, 0);
    dagl_tensor_release(n);
    dagl_tensor_release(z);
    dagl_tensor_release(zero);
    dagl_tensor_release(x);
    dagl_tensor_release(y);
}

static void test_promotion(void)
{
    dagl_tensor *i = mk(DAGL_I64, 1, S3, (double[]){7, -7, 2}), *j = mk(DAGL_I64, 1, S3, (double[]){2, 2, 3});
    dagl_tensor *f = mk(DAGL_F32, 1, S3, (double[]){0.5, 0.5, 0.5}), *d = mk(DAGL_F64, 1, S3, (double[]){1e-10, 0, 0});
    dagl_tensor *o;
    CHECK_OK(dagl_binary(ctx, DAGL_OP_ADD, i, j, &o));
    expect(o, DAGL_I64, 1, S3, (double[]){9, -5, 5}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_DIV, i, j, &o)); /* true division */
    expect(o, DAGL_F32, 1, S3, (double[]){3.5, -3.5, 2 / 3.}, 1e-6);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_POW, i, j, &o));
    expect(o, DAGL_I64, 1, S3, (double[]){49, 49, 8}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_ADD, i, f, &o));
    expect(o, DAGL_F32, 1, S3, (double[]){7.5, -6.5, 2.5}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_MUL, f, d, &o));
    expect(o, DAGL_F64, 1, S3, (double[]){0.5e-10, 0, 0}, 1e-25);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_ADD, i, d, &o));
    CHECK(dagl_tensor_dtype(o) == DAGL_F64 && el(o, 0) == 7 + 1e-10); /* f64 keeps what f32 loses */
    dagl_tensor_release(o);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_GT, i, f, &o)); /* comparisons: 1/0 in the promoted dtype */
    expect(o, DAGL_F32, 1, S3, (double[]){1, 0, 1}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_EQ, i, j, &o));
    expect(o, DAGL_I64, 1, S3, (double[]){0, 0, 0}, 0);

    /* scalars: integral numbers keep int64, others make float32 */
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_MUL, i, 3, 0, &o));
    expect(o, DAGL_I64, 1, S3, (double[]){21, -21, 6}, 0);
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_ADD, i, 0.5, 0, &o));
    expect(o, DAGL_F32, 1, S3, (double[]){7.5, -6.5, 2.5}, 0);
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_DIV, i, 2, 0, &o));
    expect(o, DAGL_F32, 1, S3, (double[]){3.5, -3.5, 1}, 0);
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_MUL, d, 2, 0, &o));
    expect(o, DAGL_F64, 1, S3, (double[]){2e-10, 0, 0}, 1e-25);
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_POW, i, 2, 1, &o)); /* 2 ^ i, negative exponent -> 0 */
    expect(o, DAGL_I64, 1, S3, (double[]){128, 0, 4}, 0);
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_LT, i, 2.5, 0, &o));
    expect(o, DAGL_F32, 1, S3, (double[]){0, 1, 1}, 0);
    dagl_tensor_release(i);
    dagl_tensor_release(j);
    dagl_tensor_release(f);
    dagl_tensor_release(d);
}

static void test_scalar(void)
{
    dagl_tensor *x = mk(DAGL_F32, 2, S23, X), *o, *t;
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_ADD, x, 1, 0, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){2, 3, 4, 5, 6, 7}, 0);
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_SUB, x, 10, 1, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){9, 8, 7, 6, 5, 4}, 0);
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_SUB, x, 1, 0, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){0, 1, 2, 3, 4, 5}, 0);
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_DIV, x, 6, 1, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){6, 3, 2, 1.5, 1.2, 1}, 1e-6);
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_POW, x, 2, 1, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){2, 4, 8, 16, 32, 64}, 1e-5);
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_POW, x, 0.5, 0, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){1, sqrt(2), sqrt(3), 2, sqrt(5), sqrt(6)}, 1e-6);
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_GT, x, 1.5, 0, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){0, 1, 1, 1, 1, 1}, 0);
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_LT, x, 1.5, 1, &o)); /* 1.5 < x */
    expect(o, DAGL_F32, 2, S23, (double[]){0, 1, 1, 1, 1, 1}, 0);
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_MAXIMUM, x, 3.5, 0, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){3.5, 3.5, 3.5, 4, 5, 6}, 0);
    /* a non-contiguous operand */
    CHECK_OK(dagl_transpose(ctx, x, 0, 1, &t));
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_ADD, t, 1, 0, &o));
    expect(o, DAGL_F32, 2, (int64_t[]){3, 2}, (double[]){2, 5, 3, 6, 4, 7}, 0);
    dagl_tensor_release(t);
    /* bad op */
    CHECK(dagl_binary_scalar(ctx, DAGL_OP_SUM, x, 1, 0, &o) == DAGL_E_ARG && o == NULL);
    CHECK(strstr(dagl_ctx_last_error(ctx), "sum") != NULL);
    dagl_tensor_release(x);
}

static void test_broadcast(void)
{
    dagl_tensor *x = mk(DAGL_F32, 2, S23, X), *row = mk(DAGL_F32, 1, S3, (double[]){10, 20, 30});
    dagl_tensor *col = mk(DAGL_F32, 2, S21, (double[]){100, 200}), *o;
    CHECK_OK(dagl_binary(ctx, DAGL_OP_ADD, x, row, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){11, 22, 33, 14, 25, 36}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_SUB, row, x, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){9, 18, 27, 6, 15, 24}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_ADD, x, col, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){101, 102, 103, 204, 205, 206}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_MUL, col, row, &o)); /* outer product */
    expect(o, DAGL_F32, 2, S23, (double[]){1000, 2000, 3000, 2000, 4000, 6000}, 0);
    dagl_tensor *s0 = mk(DAGL_F32, 0, S0, (double[]){2});
    CHECK_OK(dagl_binary(ctx, DAGL_OP_MUL, x, s0, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){2, 4, 6, 8, 10, 12}, 0);
    CHECK_OK(dagl_binary(ctx, DAGL_OP_MUL, s0, s0, &o));
    expect(o, DAGL_F32, 0, NULL, (double[]){4}, 0);
    dagl_tensor *c25 = mk(DAGL_F32, 2, S21, (double[]){2, 5});
    CHECK_OK(dagl_binary(ctx, DAGL_OP_GE, x, c25, &o));
    expect(o, DAGL_F32, 2, S23, (double[]){0, 1, 1, 0, 1, 1}, 0);
    dagl_tensor_release(c25);

    /* identity: broadcasting equals adding explicitly expanded copies, for every op */
    dagl_tensor *a, *b, *ea, *eb, *ca, *cb, *r1, *r2;
    int64_t sa[] = {4, 1, 3}, sb[] = {5, 1}, full[] = {4, 5, 3};
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 3, sa, &a));
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 2, sb, &b));
    CHECK_OK(dagl_expand(ctx, a, 3, full, &ea));
    CHECK_OK(dagl_expand(ctx, b, 3, full, &eb));
    CHECK_OK(dagl_clone(ctx, ea, &ca));
    CHECK_OK(dagl_clone(ctx, eb, &cb));
    for (int op = DAGL_OP_ADD; op <= DAGL_OP_GE; op++) {
        if (op == DAGL_OP_POW) continue; /* NaN for negative bases */
        CHECK_OK(dagl_binary(ctx, (dagl_op)op, a, b, &r1));
        CHECK_OK(dagl_binary(ctx, (dagl_op)op, ca, cb, &r2));
        same(r1, r2, 0);
        dagl_tensor_release(r2);
        CHECK_OK(dagl_binary(ctx, (dagl_op)op, ea, eb, &r2)); /* stride-0 views as operands */
        same(r1, r2, 0);
        dagl_tensor_release(r1);
        dagl_tensor_release(r2);
    }
    dagl_tensor *v[] = {a, b, ea, eb, ca, cb, s0, x, row, col};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) dagl_tensor_release(v[i]);
}

/* Permuted and sliced operands against a plain loop over dagl_get. */
static void test_strided(void)
{
    dagl_tensor *base, *p, *s, *o;
    int64_t shape[] = {3, 4, 5};
    CHECK_OK(dagl_randn(ctx, DAGL_F64, 3, shape, &base));
    CHECK_OK(dagl_permute(ctx, base, (int[]){2, 0, 1}, &p));          /* [5, 3, 4] */
    CHECK_OK(dagl_slice(ctx, base, 2, 0, 5, 2, &s));                  /* [3, 4, 3], stride 2 */
    dagl_tensor *s2;
    CHECK_OK(dagl_slice(ctx, s, 0, 1, 2, 1, &s2));                    /* [1, 4, 3] broadcast over dim 0 */
    CHECK_OK(dagl_binary(ctx, DAGL_OP_SUB, s, s2, &o));
    CHECK(dagl_tensor_shape(o)[0] == 3 && dagl_tensor_shape(o)[2] == 3);
    for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 0; j < 4; j++)
            for (int64_t k = 0; k < 3; k++) {
                double g, x1, x2;
                CHECK_OK(dagl_get(ctx, o, (int64_t[]){i, j, k}, &g));
                CHECK_OK(dagl_get(ctx, base, (int64_t[]){i, j, 2 * k}, &x1));
                CHECK_OK(dagl_get(ctx, base, (int64_t[]){1, j, 2 * k}, &x2));
                CHECK(g == x1 - x2);
            }
    dagl_tensor_release(o);
    CHECK_OK(dagl_unary(ctx, DAGL_OP_EXP, p, &o));
    for (int64_t i = 0; i < 60; i++) CHECK_NEAR(el(o, i), exp(el(p, i)), 1e-15);
    dagl_tensor_release(o);
    CHECK_OK(dagl_clamp(ctx, p, -0.5, 0.5, &o));
    for (int64_t i = 0; i < 60; i++) CHECK(el(o, i) == fmin(fmax(el(p, i), -0.5), 0.5));
    dagl_tensor_release(o);
    dagl_tensor *v[] = {base, p, s, s2};
    for (size_t i = 0; i < 4; i++) dagl_tensor_release(v[i]);
    /* empty tensors */
    dagl_tensor *e;
    CHECK_OK(dagl_tensor_new(ctx, DAGL_F32, 2, (int64_t[]){0, 3}, &e));
    CHECK_OK(dagl_binary(ctx, DAGL_OP_ADD, e, e, &o));
    CHECK(dagl_tensor_numel(o) == 0 && dagl_tensor_shape(o)[1] == 3);
    dagl_tensor_release(o);
    CHECK_OK(dagl_unary(ctx, DAGL_OP_EXP, e, &o));
    CHECK(dagl_tensor_numel(o) == 0);
    dagl_tensor_release(o);
    dagl_tensor_release(e);
}

static void test_unary(void)
{
    double in[] = {-2, -0.5, 0, 0.5, 1, 3};
    int64_t s6[] = {6};
    for (int dt = DAGL_F32; dt <= DAGL_F64; dt++) {
        dagl_tensor *x = mk((dagl_dtype)dt, 1, s6, in), *o;
        double tol = dt == DAGL_F32 ? 2e-7 : 1e-15;
        for (int op = DAGL_OP_NEG; op <= DAGL_OP_RELU; op++) {
            CHECK_OK(dagl_unary(ctx, (dagl_op)op, x, &o));
            CHECK(dagl_tensor_dtype(o) == (dagl_dtype)dt);
            for (int i = 0; i < 6; i++) {
                double v = in[i], want = op == DAGL_OP_NEG ? -v : op == DAGL_OP_EXP ? exp(v)
                                       : op == DAGL_OP_LOG ? log(v) : op == DAGL_OP_SQRT ? sqrt(v)
                                       : op == DAGL_OP_ABS ? fabs(v) : op == DAGL_OP_TANH ? tanh(v)
                                       : op == DAGL_OP_SIGMOID ? 1 / (1 + exp(-v)) : (v > 0 ? v : 0);
                double g = el(o, i);
                if (isnan(want)) CHECK(isnan(g));
                else if (isinf(want)) CHECK(g == want);
                else CHECK_NEAR(g, want, tol * fmax(1, fabs(want)));
            }
            dagl_tensor_release(o);
        }
        dagl_tensor_release(x);
    }
    /* saturation and NaN */
    dagl_tensor *big = mk(DAGL_F32, 1, S3, (double[]){-100, 100, NAN}), *o;
    CHECK_OK(dagl_unary(ctx, DAGL_OP_SIGMOID, big, &o));
    expect(o, DAGL_F32, 1, S3, (double[]){0, 1, NAN}, 1e-30);
    CHECK_OK(dagl_unary(ctx, DAGL_OP_TANH, big, &o));
    expect(o, DAGL_F32, 1, S3, (double[]){-1, 1, NAN}, 0);
    CHECK_OK(dagl_unary(ctx, DAGL_OP_RELU, big, &o));
    expect(o, DAGL_F32, 1, S3, (double[]){0, 100, NAN}, 0);
    dagl_tensor_release(big);
    /* int64: sign ops stay int64, the others compute in float32 */
    dagl_tensor *i = mk(DAGL_I64, 1, S3, (double[]){-3, 0, 4});
    CHECK_OK(dagl_unary(ctx, DAGL_OP_NEG, i, &o));
    expect(o, DAGL_I64, 1, S3, (double[]){3, 0, -4}, 0);
    CHECK_OK(dagl_unary(ctx, DAGL_OP_ABS, i, &o));
    expect(o, DAGL_I64, 1, S3, (double[]){3, 0, 4}, 0);
    CHECK_OK(dagl_unary(ctx, DAGL_OP_RELU, i, &o));
    expect(o, DAGL_I64, 1, S3, (double[]){0, 0, 4}, 0);
    CHECK_OK(dagl_unary(ctx, DAGL_OP_SQRT, i, &o));
    expect(o, DAGL_F32, 1, S3, (double[]){NAN, 0, 2}, 0);
    CHECK_OK(dagl_unary(ctx, DAGL_OP_EXP, i, &o));
    expect(o, DAGL_F32, 1, S3, (double[]){exp(-3), 1, exp(4)}, 1e-5);
    dagl_tensor_release(i);
    /* bad op */
    dagl_tensor *x = mk(DAGL_F32, 1, S2, (double[]){1, 2});
    CHECK(dagl_unary(ctx, DAGL_OP_ADD, x, &o) == DAGL_E_ARG && o == NULL);
    CHECK(strstr(dagl_ctx_last_error(ctx), "add") != NULL);
    CHECK(dagl_unary(ctx, (dagl_op)999, x, &o) == DAGL_E_ARG);
    dagl_tensor_release(x);
}

static void test_clamp_where(void)
{
    dagl_tensor *v = mk(DAGL_F32, 1, S3, (double[]){-1, 0.5, 3}), *o;
    CHECK_OK(dagl_clamp(ctx, v, 0, 1, &o));
    expect(o, DAGL_F32, 1, S3, (double[]){0, 0.5, 1}, 0);
    CHECK_OK(dagl_clamp(ctx, v, 0, NAN, &o));
    expect(o, DAGL_F32, 1, S3, (double[]){0, 0.5, 3}, 0);
    CHECK_OK(dagl_clamp(ctx, v, NAN, 0, &o));
    expect(o, DAGL_F32, 1, S3, (double[]){-1, 0, 0}, 0);
    CHECK_OK(dagl_clamp(ctx, v, NAN, NAN, &o));
    expect(o, DAGL_F32, 1, S3, (double[]){-1, 0.5, 3}, 0);
    CHECK_OK(dagl_clamp(ctx, v, 2, 1, &o)); /* lo > hi: hi wins, like torch */
    expect(o, DAGL_F32, 1, S3, (double[]){1, 1, 1}, 0);
    dagl_tensor *i = mk(DAGL_I64, 1, S3, (double[]){-5, 1, 9});
    CHECK_OK(dagl_clamp(ctx, i, -0.5, 4.5, &o));
    expect(o, DAGL_I64, 1, S3, (double[]){0, 1, 4}, 0);

    /* where */
    dagl_tensor *a = mk(DAGL_F32, 1, (int64_t[]){4}, (double[]){-1, 2, -3, 4}), *c, *zero, *na;
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_GT, a, 0, 0, &c));
    zero = mk(DAGL_F32, 0, S0, (double[]){0});
    CHECK_OK(dagl_where(ctx, c, a, zero, &o));
    expect(o, DAGL_F32, 1, (int64_t[]){4}, (double[]){0, 2, 0, 4}, 0);
    CHECK_OK(dagl_unary(ctx, DAGL_OP_NEG, a, &na));
    CHECK_OK(dagl_where(ctx, c, a, na, &o));
    expect(o, DAGL_F32, 1, (int64_t[]){4}, (double[]){1, 2, 3, 4}, 0);
    dagl_tensor *cc = mk(DAGL_F64, 2, S21, (double[]){0.5, 0}), *p = mk(DAGL_I64, 1, S2, (double[]){1, 2}),
                *q = mk(DAGL_F32, 1, S2, (double[]){10, 20});
    CHECK_OK(dagl_where(ctx, cc, p, q, &o)); /* 0.5 is true; int64 and float32 give float32 */
    expect(o, DAGL_F32, 2, (int64_t[]){2, 2}, (double[]){1, 2, 10, 20}, 0);
    dagl_tensor *ci = mk(DAGL_I64, 1, S2, (double[]){0, 3}), *p2 = mk(DAGL_I64, 1, S2, (double[]){7, 8});
    CHECK_OK(dagl_where(ctx, ci, p, p2, &o));
    expect(o, DAGL_I64, 1, S2, (double[]){7, 2}, 0);
    dagl_tensor_release(ci);
    dagl_tensor_release(p2);
    CHECK(dagl_where(ctx, a, q, q, &o) == DAGL_E_SHAPE && o == NULL);
    CHECK_STR(dagl_ctx_last_error(ctx), "where: shapes [4] and [2] cannot be broadcast");
    dagl_tensor *r[] = {v, i, a, c, zero, na, cc, p, q};
    for (size_t k = 0; k < sizeof r / sizeof *r; k++) dagl_tensor_release(r[k]);
}

static void test_errors(void)
{
    dagl_tensor *x = mk(DAGL_F32, 2, S23, X), *y, *o = (dagl_tensor *)1;
    CHECK_OK(dagl_tensor_new(ctx, DAGL_F32, 1, (int64_t[]){4}, &y));
    CHECK(dagl_binary(ctx, DAGL_OP_ADD, x, y, &o) == DAGL_E_SHAPE && o == NULL);
    CHECK_STR(dagl_ctx_last_error(ctx), "add: shapes [2, 3] and [4] cannot be broadcast");
    dagl_tensor_release(y);
    CHECK_OK(dagl_tensor_new(ctx, DAGL_I64, 3, (int64_t[]){4, 1, 2}, &y));
    CHECK(dagl_binary(ctx, DAGL_OP_MUL, x, y, &o) == DAGL_E_SHAPE); /* mixed dtypes: same message */
    CHECK_STR(dagl_ctx_last_error(ctx), "mul: shapes [2, 3] and [4, 1, 2] cannot be broadcast");
    CHECK(dagl_binary(ctx, DAGL_OP_LT, y, x, &o) == DAGL_E_SHAPE);
    CHECK_STR(dagl_ctx_last_error(ctx), "lt: shapes [4, 1, 2] and [2, 3] cannot be broadcast");
    CHECK(dagl_binary(ctx, DAGL_OP_EXP, x, x, &o) == DAGL_E_ARG);
    CHECK(strstr(dagl_ctx_last_error(ctx), "exp") != NULL);
    dagl_tensor_release(y);
    dagl_tensor_release(x);
}

/* Not a pass/fail check (the budget is for the whole Lua call): prints the C cost of a tiny add. */
static void bench_tiny_add(void)
{
    dagl_tensor *a, *b, *o;
    int64_t s16[] = {16};
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, s16, 1, &a));
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, s16, 2, &b));
    int n = 2000000;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        dagl_binary(ctx, DAGL_OP_ADD, a, b, &o);
        dagl_tensor_release(o);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n;
    printf("tiny add (16 f32, new + release): %.1f ns\n", ns);
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
    CHECK(ns < 1000); /* only a gross-regression guard; optimized, uninstrumented builds only */
#endif
    dagl_tensor_release(a);
    dagl_tensor_release(b);
}

int main(void)
{
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    test_op_table();
    test_binary_values();
    test_promotion();
    test_scalar();
    test_broadcast();
    test_strided();
    test_unary();
    test_clamp_where();
    test_errors();
    bench_tiny_add();
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
    printf("test_kernels_elementwise: ok\n");
    return 0;
}
