/* test_kernels_reduce.c -- sum, mean, max, min, argmax, argmin, var over dims: hand-computed
 * values, identities (sum of all = sum of sums), strided inputs, dtypes, accuracy and errors. */
#include "check.h"
#include "tensor_util.h"
#include "dagl.h"

#include <math.h>
#include <string.h>

/* Runs a reduction and checks dtype, shape and values; NaN matches NaN. */
static void red(dagl_op op, const dagl_tensor *a, int ndims, const int *dims, int keepdim, int corr, dagl_dtype dt,
                int nd, const int64_t *shape, const double *want, double tol)
{
    dagl_tensor *t;
    CHECK_OK(dagl_reduce(ctx, op, a, dims, ndims, keepdim, corr, &t));
    CHECK(dagl_tensor_dtype(t) == dt);
    CHECK(dagl_tensor_ndim(t) == nd);
    for (int d = 0; d < nd; d++) CHECK(dagl_tensor_shape(t)[d] == shape[d]);
    for (int64_t i = 0; i < dagl_tensor_numel(t); i++) {
        if (isnan(want[i])) CHECK(isnan(el(t, i)));
        else CHECK_NEAR(el(t, i), want[i], tol);
    }
    dagl_tensor_release(t);
}

#define D(...) (int[]){__VA_ARGS__}
#define S(...) (int64_t[]){__VA_ARGS__}
#define V(...) (double[]){__VA_ARGS__}
static const int64_t S0[1] = {0}; /* a 0-d shape (not NULL: memcpy of 0 bytes from NULL is UB) */

static void test_values(void)
{
    dagl_tensor *x = mk(DAGL_F32, 2, S(2, 3), V(1, 2, 3, 4, 5, 6));
    red(DAGL_OP_SUM, x, 0, NULL, 0, 0, DAGL_F32, 0, NULL, V(21), 0);
    red(DAGL_OP_SUM, x, 1, D(0), 0, 0, DAGL_F32, 1, S(3), V(5, 7, 9), 0);
    red(DAGL_OP_SUM, x, 1, D(1), 0, 0, DAGL_F32, 1, S(2), V(6, 15), 0);
    red(DAGL_OP_SUM, x, 1, D(-1), 0, 0, DAGL_F32, 1, S(2), V(6, 15), 0);
    red(DAGL_OP_SUM, x, 1, D(1), 1, 0, DAGL_F32, 2, S(2, 1), V(6, 15), 0);
    red(DAGL_OP_SUM, x, 1, D(0), 1, 0, DAGL_F32, 2, S(1, 3), V(5, 7, 9), 0);
    red(DAGL_OP_SUM, x, 2, D(1, 0), 0, 0, DAGL_F32, 0, NULL, V(21), 0);
    red(DAGL_OP_SUM, x, 0, NULL, 1, 0, DAGL_F32, 2, S(1, 1), V(21), 0);
    red(DAGL_OP_MEAN, x, 0, NULL, 0, 0, DAGL_F32, 0, NULL, V(3.5), 0);
    red(DAGL_OP_MEAN, x, 1, D(0), 0, 0, DAGL_F32, 1, S(3), V(2.5, 3.5, 4.5), 0);
    red(DAGL_OP_MEAN, x, 1, D(1), 1, 0, DAGL_F32, 2, S(2, 1), V(2, 5), 0);
    red(DAGL_OP_VAR, x, 0, NULL, 0, 1, DAGL_F32, 0, NULL, V(3.5), 1e-6);
    red(DAGL_OP_VAR, x, 1, D(0), 0, 1, DAGL_F32, 1, S(3), V(4.5, 4.5, 4.5), 1e-6);
    red(DAGL_OP_VAR, x, 1, D(1), 0, 1, DAGL_F32, 1, S(2), V(1, 1), 1e-6);
    red(DAGL_OP_VAR, x, 1, D(1), 1, 0, DAGL_F32, 2, S(2, 1), V(2 / 3., 2 / 3.), 1e-6);
    dagl_tensor_release(x);

    dagl_tensor *y = mk(DAGL_F32, 2, S(2, 3), V(1, 9, 3, 7, 2, 8));
    red(DAGL_OP_MAX, y, 0, NULL, 0, 0, DAGL_F32, 0, NULL, V(9), 0);
    red(DAGL_OP_MIN, y, 0, NULL, 0, 0, DAGL_F32, 0, NULL, V(1), 0);
    red(DAGL_OP_MAX, y, 1, D(0), 0, 0, DAGL_F32, 1, S(3), V(7, 9, 8), 0);
    red(DAGL_OP_MAX, y, 1, D(1), 0, 0, DAGL_F32, 1, S(2), V(9, 8), 0);
    red(DAGL_OP_MIN, y, 1, D(1), 1, 0, DAGL_F32, 2, S(2, 1), V(1, 2), 0);
    red(DAGL_OP_ARGMAX, y, 1, D(1), 0, 0, DAGL_I64, 1, S(2), V(1, 2), 0);
    red(DAGL_OP_ARGMAX, y, 1, D(0), 0, 0, DAGL_I64, 1, S(3), V(1, 0, 1), 0);
    red(DAGL_OP_ARGMIN, y, 1, D(1), 0, 0, DAGL_I64, 1, S(2), V(0, 1), 0);
    red(DAGL_OP_ARGMIN, y, 1, D(-1), 1, 0, DAGL_I64, 2, S(2, 1), V(0, 1), 0);
    red(DAGL_OP_ARGMAX, y, 0, NULL, 0, 0, DAGL_I64, 0, NULL, V(1), 0);
    red(DAGL_OP_ARGMIN, y, 0, NULL, 0, 0, DAGL_I64, 0, NULL, V(0), 0);
    dagl_tensor_release(y);

    dagl_tensor *v = mk(DAGL_F64, 1, S(8), V(3, 1, 4, 1, 5, 9, 2, 9)); /* ties: the first */
    red(DAGL_OP_ARGMAX, v, 0, NULL, 0, 0, DAGL_I64, 0, NULL, V(5), 0);
    red(DAGL_OP_ARGMIN, v, 1, D(0), 0, 0, DAGL_I64, 0, NULL, V(1), 0);
    red(DAGL_OP_MAX, v, 0, NULL, 1, 0, DAGL_F64, 1, S(1), V(9), 0);
    dagl_tensor_release(v);
    dagl_tensor *n = mk(DAGL_F32, 1, S(4), V(1, NAN, 7, -1)); /* NaN propagates, like torch */
    red(DAGL_OP_MAX, n, 0, NULL, 0, 0, DAGL_F32, 0, NULL, V(NAN), 0);
    red(DAGL_OP_MIN, n, 0, NULL, 0, 0, DAGL_F32, 0, NULL, V(NAN), 0);
    red(DAGL_OP_ARGMAX, n, 0, NULL, 0, 0, DAGL_I64, 0, NULL, V(1), 0);
    red(DAGL_OP_SUM, n, 0, NULL, 0, 0, DAGL_F32, 0, NULL, V(NAN), 0);
    dagl_tensor_release(n);
    /* long rows take the 8-lane max/min: the best in a lane, in the tail, and a NaN */
    double w[40];
    for (int i = 0; i < 40; i++) w[i] = (i * 17) % 40 - 20; /* a permutation of -20..19 */
    dagl_tensor *l = mk(DAGL_F64, 1, S(40), w);
    red(DAGL_OP_MAX, l, 0, NULL, 0, 0, DAGL_F64, 0, NULL, V(19), 0);
    red(DAGL_OP_MIN, l, 0, NULL, 0, 0, DAGL_F64, 0, NULL, V(-20), 0);
    CHECK_OK(dagl_set(ctx, l, S(38), 99));
    red(DAGL_OP_MAX, l, 0, NULL, 0, 0, DAGL_F64, 0, NULL, V(99), 0);
    CHECK_OK(dagl_set(ctx, l, S(21), NAN));
    red(DAGL_OP_MAX, l, 0, NULL, 0, 0, DAGL_F64, 0, NULL, V(NAN), 0);
    red(DAGL_OP_MIN, l, 0, NULL, 0, 0, DAGL_F64, 0, NULL, V(NAN), 0);
    dagl_tensor_release(l);
}

/* A 3-d tensor over several dims, and views that are not contiguous. */
static void test_dims_and_views(void)
{
    dagl_tensor *z, *zz, *t;
    CHECK_OK(dagl_arange(ctx, DAGL_F32, 0, 24, 1, &z));
    CHECK_OK(dagl_reshape(ctx, z, 3, S(2, 3, 4), &zz));
    red(DAGL_OP_SUM, zz, 2, D(0, 2), 1, 0, DAGL_F32, 3, S(1, 3, 1), V(60, 92, 124), 0);
    red(DAGL_OP_SUM, zz, 2, D(2, 0), 0, 0, DAGL_F32, 1, S(3), V(60, 92, 124), 0);
    red(DAGL_OP_SUM, zz, 1, D(1), 0, 0, DAGL_F32, 2, S(2, 4), V(12, 15, 18, 21, 48, 51, 54, 57), 0);
    red(DAGL_OP_MAX, zz, 2, D(0, 1), 0, 0, DAGL_F32, 1, S(4), V(20, 21, 22, 23), 0);
    red(DAGL_OP_MIN, zz, 2, D(-1, -2), 0, 0, DAGL_F32, 1, S(2), V(0, 12), 0);
    /* argmax over everything of a permuted view: the flat index in the view's own order */
    CHECK_OK(dagl_permute(ctx, zz, (int[]){2, 0, 1}, &t)); /* [4, 2, 3]: t[k][i][j] = 12i + 4j + k */
    red(DAGL_OP_ARGMAX, t, 0, NULL, 0, 0, DAGL_I64, 0, NULL, V(23), 0); /* k=3, i=1, j=2 */
    red(DAGL_OP_ARGMIN, t, 1, D(0), 0, 0, DAGL_I64, 2, S(2, 3), V(0, 0, 0, 0, 0, 0), 0);
    red(DAGL_OP_SUM, t, 1, D(0), 0, 0, DAGL_F32, 2, S(2, 3), V(6, 22, 38, 54, 70, 86), 0);
    dagl_tensor_release(t);
    /* transposed matrix, a stride-2 slice, and an expanded (stride 0) view */
    dagl_tensor *x = mk(DAGL_F32, 2, S(2, 3), V(1, 2, 3, 4, 5, 6)), *xt, *sl, *e, *r;
    CHECK_OK(dagl_transpose(ctx, x, 0, 1, &xt));
    red(DAGL_OP_SUM, xt, 1, D(0), 0, 0, DAGL_F32, 1, S(2), V(6, 15), 0);
    red(DAGL_OP_SUM, xt, 1, D(1), 0, 0, DAGL_F32, 1, S(3), V(5, 7, 9), 0);
    red(DAGL_OP_ARGMAX, xt, 1, D(1), 0, 0, DAGL_I64, 1, S(3), V(1, 1, 1), 0);
    CHECK_OK(dagl_slice(ctx, x, 1, 0, 3, 2, &sl));
    red(DAGL_OP_SUM, sl, 1, D(0), 0, 0, DAGL_F32, 1, S(2), V(5, 9), 0);
    r = mk(DAGL_F32, 1, S(2), V(1, 2));
    CHECK_OK(dagl_expand(ctx, r, 2, S(3, 2), &e));
    red(DAGL_OP_SUM, e, 1, D(0), 0, 0, DAGL_F32, 1, S(2), V(3, 6), 0);
    red(DAGL_OP_VAR, e, 1, D(0), 0, 1, DAGL_F32, 1, S(2), V(0, 0), 0);
    dagl_tensor *v[] = {z, zz, x, xt, sl, e, r};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) dagl_tensor_release(v[i]);
}

static void test_identities(void)
{
    dagl_tensor *x, *a, *b, *s, *m, *d, *sq, *mm;
    CHECK_OK(dagl_randn(ctx, DAGL_F64, 3, S(7, 13, 5), &x));
    double all, v;
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_SUM, x, NULL, 0, 0, 0, &s));
    all = el(s, 0);
    dagl_tensor_release(s);
    /* sum over all == sum of sums, in every order */
    for (int d0 = 0; d0 < 3; d0++) {
        CHECK_OK(dagl_reduce(ctx, DAGL_OP_SUM, x, &d0, 1, 0, 0, &a));
        CHECK_OK(dagl_reduce(ctx, DAGL_OP_SUM, a, NULL, 0, 0, 0, &b));
        CHECK_NEAR(el(b, 0), all, 1e-12);
        dagl_tensor_release(a);
        dagl_tensor_release(b);
    }
    /* var == sum((x - mean)^2) / (n - 1) over dim 1, keepdim mean broadcast back */
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_MEAN, x, D(1), 1, 1, 0, &m));
    CHECK_OK(dagl_binary(ctx, DAGL_OP_SUB, x, m, &d));
    CHECK_OK(dagl_binary(ctx, DAGL_OP_MUL, d, d, &sq));
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_SUM, sq, D(1), 1, 0, 0, &s));
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_VAR, x, D(1), 1, 0, 1, &a));
    for (int64_t i = 0; i < 35; i++) CHECK_NEAR(el(a, i), el(s, i) / 12, 1e-12);
    dagl_tensor_release(a);
    /* float32 var agrees with float64 */
    dagl_tensor *f;
    CHECK_OK(dagl_cast(ctx, x, DAGL_F32, &f));
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_VAR, f, NULL, 0, 0, 1, &a));
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_VAR, x, NULL, 0, 0, 1, &b));
    CHECK_NEAR(el(a, 0), el(b, 0), 1e-5);
    /* max over dims {0, 2} == max over 0 then over the last */
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_MAX, x, D(0, 2), 2, 0, 0, &mm));
    dagl_tensor *m1, *m2;
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_MAX, x, D(0), 1, 0, 0, &m1));
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_MAX, m1, D(1), 1, 0, 0, &m2));
    for (int64_t i = 0; i < 13; i++) CHECK(el(mm, i) == el(m2, i));
    (void)v;
    dagl_tensor *r[] = {x, m, d, sq, s, f, a, b, mm, m1, m2};
    for (size_t i = 0; i < sizeof r / sizeof *r; i++) dagl_tensor_release(r[i]);
}

/* Reductions over a leading dim run a block-accumulating kernel; over the same data seen
 * transposed they run the per-output one: both must agree (widths across the 256 block). */
static void test_column_kernels(void)
{
    dagl_tensor *x, *xt, *a, *b, *xd, *xdt;
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 3, S(3, 37, 300), &x));
    CHECK_OK(dagl_set(ctx, x, S(1, 5, 299), NAN));
    CHECK_OK(dagl_permute(ctx, x, (int[]){0, 2, 1}, &xt)); /* [3, 300, 37] */
    dagl_op ops[] = {DAGL_OP_SUM, DAGL_OP_MEAN, DAGL_OP_MAX, DAGL_OP_MIN};
    for (int k = 0; k < 4; k++) {
        CHECK_OK(dagl_reduce(ctx, ops[k], x, D(1), 1, 0, 0, &a));
        CHECK_OK(dagl_reduce(ctx, ops[k], xt, D(2), 1, 0, 0, &b));
        CHECK(dagl_tensor_shape(a)[0] == 3 && dagl_tensor_shape(a)[1] == 300);
        for (int64_t i = 0; i < 900; i++) {
            if (i == 599) CHECK(isnan(el(a, i)) && isnan(el(b, i)));
            else CHECK_NEAR(el(a, i), el(b, i), 1e-5);
        }
        dagl_tensor_release(a);
        dagl_tensor_release(b);
    }
    /* over dims {0, 1} (rows of two reduced dims) against the sum of sums */
    CHECK_OK(dagl_cast(ctx, x, DAGL_F64, &xd));
    CHECK_OK(dagl_set(ctx, xd, S(1, 5, 299), 0.25));
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_SUM, xd, D(0, 1), 2, 0, 0, &a));
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_SUM, xd, D(1), 1, 0, 0, &xdt));
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_SUM, xdt, D(0), 1, 0, 0, &b));
    for (int64_t i = 0; i < 300; i++) CHECK_NEAR(el(a, i), el(b, i), 1e-12);
    dagl_tensor *r[] = {x, xt, a, b, xd, xdt};
    for (size_t i = 0; i < sizeof r / sizeof *r; i++) dagl_tensor_release(r[i]);
    /* int64 max and sum down columns */
    dagl_tensor *i64 = mk(DAGL_I64, 2, S(3, 2), V(1, -8, 7, 2, -3, 5));
    red(DAGL_OP_MAX, i64, 1, D(0), 0, 0, DAGL_I64, 1, S(2), V(7, 5), 0);
    red(DAGL_OP_MIN, i64, 1, D(0), 0, 0, DAGL_I64, 1, S(2), V(-3, -8), 0);
    red(DAGL_OP_SUM, i64, 1, D(0), 1, 0, DAGL_I64, 2, S(1, 2), V(5, -1), 0);
    red(DAGL_OP_MEAN, i64, 1, D(0), 0, 0, DAGL_F32, 1, S(2), V(5 / 3., -1 / 3.), 1e-7);
    dagl_tensor_release(i64);
}

/* Few outputs over many positions (a bias gradient): summed in chunks of positions. Against the
 * sums of a strided walk in double (a transposed copy's rows), bitwise equal at 1 and 3 threads,
 * over a 4-d input with three reduced dims (positions cross rows of the reduced dims), mean too,
 * and a NaN stays a NaN. */
static void test_chunked_columns(void)
{
    dagl_tensor *x, *xd, *xt, *want, *a, *b;
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 4, S(37, 9, 7, 5), &x)); /* 2331 positions of 5 outputs */
    CHECK_OK(dagl_cast(ctx, x, DAGL_F64, &xd));
    CHECK_OK(dagl_reshape(ctx, xd, 2, S(2331, 5), &xt));
    dagl_tensor *xtt;
    CHECK_OK(dagl_permute(ctx, xt, (int[]){1, 0}, &xtt));
    dagl_tensor *rows;
    CHECK_OK(dagl_contiguous(ctx, xtt, &rows)); /* [5, 2331]: each output's positions in a row */
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_SUM, rows, D(1), 1, 0, 0, &want));
    for (int dt = 0; dt < 2; dt++) {
        dagl_tensor *in = dt ? xd : x;
        for (int m = 0; m < 2; m++) {
            dagl_op op = m ? DAGL_OP_MEAN : DAGL_OP_SUM;
            CHECK_OK(dagl_reduce(ctx, op, in, D(0, 1, 2), 3, 0, 0, &a));
            dagl_ctx_options o3 = {.threads = 3};
            dagl_ctx *c3;
            CHECK_OK(dagl_ctx_new(&o3, &c3));
            CHECK_OK(dagl_reduce(c3, op, in, D(0, 1, 2), 3, 0, 0, &b));
            CHECK(dagl_tensor_numel(a) == 5);
            CHECK(memcmp(dagl_tensor_data(a), dagl_tensor_data(b), (size_t)5 * (dt ? 8 : 4)) == 0);
            for (int64_t i = 0; i < 5; i++)
                CHECK_NEAR(el(a, i), el(want, i) / (m ? 2331.0 : 1.0), dt ? 1e-11 : 1e-4);
            dagl_tensor_release(a);
            dagl_tensor_release(b);
            dagl_ctx_free(c3);
        }
    }
    CHECK_OK(dagl_set(ctx, x, S(30, 1, 2, 3), NAN));
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_SUM, x, D(0, 1, 2), 3, 0, 0, &a));
    CHECK(isnan(el(a, 3)) && !isnan(el(a, 2)));
    dagl_tensor *r[] = {x, xd, xt, xtt, rows, want, a};
    for (size_t i = 0; i < sizeof r / sizeof *r; i++) dagl_tensor_release(r[i]);
}

static void test_dtypes_and_accuracy(void)
{
    dagl_tensor *i = mk(DAGL_I64, 2, S(2, 2), V(1, 2, 3, 5)), *t;
    red(DAGL_OP_SUM, i, 0, NULL, 0, 0, DAGL_I64, 0, NULL, V(11), 0);
    red(DAGL_OP_MEAN, i, 0, NULL, 0, 0, DAGL_F32, 0, NULL, V(2.75), 0);
    red(DAGL_OP_VAR, i, 1, D(1), 0, 1, DAGL_F32, 1, S(2), V(0.5, 2), 1e-7);
    red(DAGL_OP_MAX, i, 1, D(0), 0, 0, DAGL_I64, 1, S(2), V(3, 5), 0);
    red(DAGL_OP_ARGMAX, i, 0, NULL, 0, 0, DAGL_I64, 0, NULL, V(3), 0);
    dagl_tensor_release(i);
    /* a million float32 0.1s: double accumulation keeps the error tiny */
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, S(1000000), 0.1, &t));
    dagl_tensor *s;
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_SUM, t, NULL, 0, 0, 0, &s));
    CHECK_NEAR(el(s, 0), 100000, 1e-2);
    dagl_tensor_release(s);
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_MEAN, t, NULL, 0, 0, 0, &s));
    CHECK_NEAR(el(s, 0), 0.1, 1e-7);
    dagl_tensor_release(s);
    dagl_tensor_release(t);
    /* empty: sum 0, mean NaN; max has no answer */
    dagl_tensor *e;
    CHECK_OK(dagl_tensor_new(ctx, DAGL_F32, 2, S(0, 3), &e));
    red(DAGL_OP_SUM, e, 0, NULL, 0, 0, DAGL_F32, 0, NULL, V(0), 0);
    red(DAGL_OP_SUM, e, 1, D(0), 0, 0, DAGL_F32, 1, S(3), V(0, 0, 0), 0);
    red(DAGL_OP_MEAN, e, 0, NULL, 0, 0, DAGL_F32, 0, NULL, V(NAN), 0);
    red(DAGL_OP_SUM, e, 1, D(1), 0, 0, DAGL_F32, 1, S(0), V(0), 0);
    CHECK(dagl_reduce(ctx, DAGL_OP_MAX, e, D(0), 1, 0, 0, &t) == DAGL_E_SHAPE && t == NULL);
    CHECK_STR(dagl_ctx_last_error(ctx), "max: cannot reduce over zero elements (shape [0, 3])");
    CHECK(dagl_reduce(ctx, DAGL_OP_ARGMIN, e, NULL, 0, 0, 0, &t) == DAGL_E_SHAPE);
    dagl_tensor_release(e);
    /* 0-d input */
    dagl_tensor *z = mk(DAGL_F32, 0, S0, V(4));
    red(DAGL_OP_SUM, z, 0, NULL, 0, 0, DAGL_F32, 0, NULL, V(4), 0);
    red(DAGL_OP_ARGMAX, z, 0, NULL, 0, 0, DAGL_I64, 0, NULL, V(0), 0);
    dagl_tensor_release(z);
}

static void test_errors(void)
{
    dagl_tensor *m = mk(DAGL_F32, 2, S(2, 3), V(1, 2, 3, 4, 5, 6)), *t = (dagl_tensor *)1;
    CHECK(dagl_reduce(ctx, DAGL_OP_SUM, m, D(2), 1, 0, 0, &t) == DAGL_E_INDEX && t == NULL);
    CHECK_STR(dagl_ctx_last_error(ctx), "sum: dimension 2 is out of range for a tensor of shape [2, 3]");
    CHECK(dagl_reduce(ctx, DAGL_OP_MEAN, m, D(-3), 1, 0, 0, &t) == DAGL_E_INDEX);
    CHECK_STR(dagl_ctx_last_error(ctx), "mean: dimension -3 is out of range for a tensor of shape [2, 3]");
    CHECK(dagl_reduce(ctx, DAGL_OP_SUM, m, D(1, -1), 2, 0, 0, &t) == DAGL_E_INDEX);
    CHECK_STR(dagl_ctx_last_error(ctx), "sum: dimension -1 is repeated (shape [2, 3])");
    CHECK(dagl_reduce(ctx, DAGL_OP_ARGMAX, m, D(0, 1), 2, 0, 0, &t) == DAGL_E_ARG);
    CHECK_STR(dagl_ctx_last_error(ctx), "argmax: takes one dimension or all of them, got 2");
    CHECK(dagl_reduce(ctx, DAGL_OP_ADD, m, NULL, 0, 0, 0, &t) == DAGL_E_ARG);
    CHECK(strstr(dagl_ctx_last_error(ctx), "add") != NULL);
    CHECK(dagl_reduce(ctx, DAGL_OP_SUM, m, D(0, 1, 0), 3, 0, 0, &t) == DAGL_E_ARG);
    dagl_tensor_release(m);
}

int main(void)
{
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    test_values();
    test_dims_and_views();
    test_identities();
    test_column_kernels();
    test_chunked_columns();
    test_dtypes_and_accuracy();
    test_errors();
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
    printf("test_kernels_reduce: ok\n");
    return 0;
}
