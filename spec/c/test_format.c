/* test_format.c -- dagl_tensor_format against the strings PyTorch prints for the same tensors
 * (with "dtype=torch.float64" spelled "dtype=float64"). */
#include "check.h"
#include "dagl.h"

#include <stdlib.h>

static dagl_ctx *ctx;

/* Formats caller memory seen through (shape, strides) and compares with `want`. */
static void expect_wrap(const char *want, dagl_dtype dt, int ndim, const int64_t *shape, const int64_t *strides,
                        void *data)
{
    dagl_tensor *t;
    CHECK_OK(dagl_tensor_wrap(ctx, dt, ndim, shape, strides, data, NULL, NULL, &t));
    char *s = dagl_tensor_format(t);
    CHECK_STR(s, want);
    free(s);
    dagl_tensor_release(t);
}

/* Same for a contiguous 1-d f32 vector. */
static void expect_f32(const char *want, int64_t n, float *data)
{
    expect_wrap(want, DAGL_F32, 1, &n, NULL, data);
}

/* Formats and releases a tensor made by the library. */
static void expect_t(const char *want, dagl_tensor *t)
{
    char *s = dagl_tensor_format(t);
    CHECK_STR(s, want);
    free(s);
    dagl_tensor_release(t);
}

int main(void)
{
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    dagl_tensor *t, *v;

    /* integers in floats: "1." style; rows aligned under the first bracket */
    float m[4] = {1, 2, 3, 4};
    int64_t s22[2] = {2, 2};
    expect_wrap("tensor([[1., 2.],\n        [3., 4.]])", DAGL_F32, 2, s22, NULL, m);
    /* a transposed (non-contiguous) view reads through the strides */
    expect_wrap("tensor([[1., 3.],\n        [2., 4.]])", DAGL_F32, 2, s22, (int64_t[]){1, 2}, m);
    expect_f32("tensor([ 0., 10.])", 2, (float[]){0, 10});
    expect_f32("tensor([-1.,  2.])", 2, (float[]){-1, 2});
    expect_f32("tensor([0., 0.])", 2, (float[]){0, 0});
    expect_f32("tensor([nan, 1., inf])", 3, (float[]){0.0f / 0.0f, 1, 1.0f / 0.0f});
    expect_f32("tensor([-inf, nan])", 2, (float[]){-1.0f / 0.0f, -(0.0f / 0.0f)});

    /* fixed point with 4 digits, padded to the widest */
    expect_f32("tensor([0.1000, 0.2500, 1.5000])", 3, (float[]){0.1f, 0.25f, 1.5f});
    expect_f32("tensor([-0.5000,  2.2500])", 2, (float[]){-0.5f, 2.25f});
    expect_f32("tensor([    nan,  0.1235, 10.0000])", 3, (float[]){0.0f / 0.0f, 0.123456f, 10});

    /* scientific when the range is wide, the max huge or the min tiny */
    expect_f32("tensor([1.0000e+05, 1.5000e+00])", 2, (float[]){1e5f, 1.5f});
    expect_f32("tensor([-1.0000e+05,  1.0000e+00])", 2, (float[]){-1e5f, 1});
    expect_f32("tensor([1.0000e-05, 1.0000e+00])", 2, (float[]){1e-5f, 1});
    expect_f32("tensor([1.0000e+09])", 1, (float[]){1e9f});
    expect_f32("tensor([0.0000e+00, 1.0000e+00, 1.0000e+04])", 3, (float[]){0, 1, 1e4f});

    /* 0-d */
    expect_wrap("tensor(3.5000)", DAGL_F32, 0, NULL, NULL, (float[]){3.5f});
    expect_wrap("tensor(0.)", DAGL_F32, 0, NULL, NULL, (float[]){0});
    expect_wrap("tensor(3)", DAGL_I64, 0, NULL, NULL, (int64_t[]){3});
    expect_wrap("tensor(2.5000, dtype=float64)", DAGL_F64, 0, NULL, NULL, (double[]){2.5});

    /* int64: plain integers, no dtype suffix; float64 says so */
    int64_t three = 3;
    expect_wrap("tensor([  1, -20, 300])", DAGL_I64, 1, &three, NULL, (int64_t[]){1, -20, 300});
    int64_t two = 2;
    expect_wrap("tensor([ 1.5000, -2.0000], dtype=float64)", DAGL_F64, 1, &two, NULL, (double[]){1.5, -2});

    /* empty tensors */
    int64_t zero = 0;
    expect_wrap("tensor([])", DAGL_F32, 1, &zero, NULL, NULL);
    expect_wrap("tensor([], size=(0, 3))", DAGL_F32, 2, (int64_t[]){0, 3}, NULL, NULL);
    expect_wrap("tensor([], dtype=int64)", DAGL_I64, 1, &zero, NULL, NULL);
    expect_wrap("tensor([], size=(2, 0), dtype=float64)", DAGL_F64, 2, (int64_t[]){2, 0}, NULL, NULL);

    /* 3-d: a blank line between the 2-d blocks */
    float c8[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    expect_wrap("tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])", DAGL_F32, 3,
                (int64_t[]){2, 2, 2}, NULL, c8);

    /* lines wrap at 80 columns */
    CHECK_OK(dagl_arange(ctx, DAGL_F32, 0, 30, 1, &t));
    expect_t("tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n"
             "        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n"
             "        28., 29.])",
             t);
    float r40[40];
    for (int i = 0; i < 40; i++) r40[i] = (float)i + 0.5f;
    expect_wrap("tensor([[ 0.5000,  1.5000,  2.5000,  3.5000,  4.5000,  5.5000,  6.5000,  7.5000,\n"
                "          8.5000,  9.5000, 10.5000, 11.5000, 12.5000, 13.5000, 14.5000, 15.5000,\n"
                "         16.5000, 17.5000, 18.5000, 19.5000],\n"
                "        [20.5000, 21.5000, 22.5000, 23.5000, 24.5000, 25.5000, 26.5000, 27.5000,\n"
                "         28.5000, 29.5000, 30.5000, 31.5000, 32.5000, 33.5000, 34.5000, 35.5000,\n"
                "         36.5000, 37.5000, 38.5000, 39.5000]])",
                DAGL_F32, 2, (int64_t[]){2, 20}, NULL, r40);
    /* a suffix that does not fit goes on its own line */
    CHECK_OK(dagl_arange(ctx, DAGL_F64, 0.5, 9, 1, &t));
    expect_t("tensor([0.5000, 1.5000, 2.5000, 3.5000, 4.5000, 5.5000, 6.5000, 7.5000, 8.5000],\n"
             "       dtype=float64)",
             t);

    /* more than 1000 elements: first and last 3 along each dim; the width comes from those */
    CHECK_OK(dagl_arange(ctx, DAGL_F32, 0, 2000, 1, &t));
    expect_t("tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
             "        1.9990e+03])",
             t);
    CHECK_OK(dagl_arange(ctx, DAGL_I64, 0, 2000, 1, &t));
    int64_t s4050[2] = {40, 50};
    CHECK_OK(dagl_tensor_wrap(ctx, DAGL_I64, 2, s4050, NULL, dagl_tensor_data(t), NULL, NULL, &v));
    expect_t("tensor([[   0,    1,    2,  ...,   47,   48,   49],\n"
             "        [  50,   51,   52,  ...,   97,   98,   99],\n"
             "        [ 100,  101,  102,  ...,  147,  148,  149],\n"
             "        ...,\n"
             "        [1850, 1851, 1852,  ..., 1897, 1898, 1899],\n"
             "        [1900, 1901, 1902,  ..., 1947, 1948, 1949],\n"
             "        [1950, 1951, 1952,  ..., 1997, 1998, 1999]])",
             v);
    /* the same memory transposed: strides decide what is printed */
    CHECK_OK(dagl_tensor_wrap(ctx, DAGL_I64, 2, (int64_t[]){50, 40}, (int64_t[]){1, 50}, dagl_tensor_data(t), NULL,
                              NULL, &v));
    expect_t("tensor([[   0,   50,  100,  ..., 1850, 1900, 1950],\n"
             "        [   1,   51,  101,  ..., 1851, 1901, 1951],\n"
             "        [   2,   52,  102,  ..., 1852, 1902, 1952],\n"
             "        ...,\n"
             "        [  47,   97,  147,  ..., 1897, 1947, 1997],\n"
             "        [  48,   98,  148,  ..., 1898, 1948, 1998],\n"
             "        [  49,   99,  149,  ..., 1899, 1949, 1999]])",
             v);
    /* only the shown elements set the width and notation (the hidden 1e6 does not) */
    ((int64_t *)dagl_tensor_data(t))[1000] = 1000000;
    CHECK_OK(dagl_tensor_wrap(ctx, DAGL_I64, 2, s4050, NULL, dagl_tensor_data(t), NULL, NULL, &v));
    char *s = dagl_tensor_format(v);
    CHECK(s && strstr(s, "[   0,    1,    2,  ...,   47,   48,   49],") != NULL);
    free(s);
    dagl_tensor_release(v);
    dagl_tensor_release(t);

    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
    return 0;
}
