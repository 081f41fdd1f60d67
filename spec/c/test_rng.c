/* test_rng.c -- the Philox generator: known answer, reproducibility, statistics, and that a
 * chunked fill equals a whole fill (so results never depend on the thread count). */
#include "check.h"
#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Mean and unbiased variance of n values of a f32 or f64 buffer. */
static void moments(const dagl_tensor *t, double *mean, double *var)
{
    int64_t n = dagl_tensor_numel(t);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) s += dagl__load(t->dtype, t->data + i * (int64_t)dagl_dtype_size(t->dtype));
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) {
        double d = dagl__load(t->dtype, t->data + i * (int64_t)dagl_dtype_size(t->dtype)) - *mean;
        s2 += d * d;
    }
    *var = s2 / (double)(n - 1);
}

int main(void)
{
    dagl_ctx *ctx;
    dagl_tensor *a, *b, *c;
    CHECK_OK(dagl_ctx_new(NULL, &ctx));

    /* Known answer (Random123 kat_vectors): philox4x32-10, counter 0, key 0. */
    dagl_ctx_manual_seed(ctx, 0);
    int64_t four[1] = {4};
    CHECK_OK(dagl_rand(ctx, DAGL_F32, 1, four, &a));
    const uint32_t kat[4] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u};
    for (int i = 0; i < 4; i++) CHECK(((float *)a->data)[i] == (float)((kat[i] >> 8) / 16777216.0));
    dagl_tensor_release(a);

    /* Same seed, same numbers; each call is a new draw; another seed gives others. */
    int64_t shape[2] = {3, 5};
    for (int dt = DAGL_F32; dt <= DAGL_F64; dt++) {
        size_t bytes = 15 * dagl_dtype_size((dagl_dtype)dt);
        dagl_ctx_manual_seed(ctx, 42);
        CHECK_OK(dagl_rand(ctx, (dagl_dtype)dt, 2, shape, &a));
        CHECK_OK(dagl_randn(ctx, (dagl_dtype)dt, 2, shape, &b));
        CHECK(ctx->draw == 2);
        CHECK(memcmp(a->data, b->data, bytes) != 0);
        dagl_ctx_manual_seed(ctx, 42);
        CHECK_OK(dagl_rand(ctx, (dagl_dtype)dt, 2, shape, &c));
        CHECK(memcmp(a->data, c->data, bytes) == 0);
        dagl_tensor_release(c);
        CHECK_OK(dagl_randn(ctx, (dagl_dtype)dt, 2, shape, &c));
        CHECK(memcmp(b->data, c->data, bytes) == 0);
        dagl_tensor_release(c);
        CHECK_OK(dagl_rand(ctx, (dagl_dtype)dt, 2, shape, &c));
        CHECK(memcmp(a->data, c->data, bytes) != 0);
        dagl_tensor_release(c);
        dagl_ctx_manual_seed(ctx, 43);
        CHECK_OK(dagl_rand(ctx, (dagl_dtype)dt, 2, shape, &c));
        CHECK(memcmp(a->data, c->data, bytes) != 0);
        dagl_tensor_release(a);
        dagl_tensor_release(b);
        dagl_tensor_release(c);
    }

    /* Statistics of a million draws; uniforms stay in [0,1). */
    int64_t big[1] = {1000000};
    dagl_ctx_manual_seed(ctx, 123);
    for (int dt = DAGL_F32; dt <= DAGL_F64; dt++) {
        double mean, var;
        CHECK_OK(dagl_rand(ctx, (dagl_dtype)dt, 1, big, &a));
        moments(a, &mean, &var);
        CHECK_NEAR(mean, 0.5, 2e-3);
        CHECK_NEAR(var, 1.0 / 12, 1e-3);
        double lo = 1, hi = 0;
        for (int64_t i = 0; i < big[0]; i++) {
            double v = dagl__load(a->dtype, a->data + i * (int64_t)dagl_dtype_size(a->dtype));
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        CHECK(lo >= 0 && lo < 1e-4 && hi < 1 && hi > 1 - 1e-4);
        dagl_tensor_release(a);

        CHECK_OK(dagl_randn(ctx, (dagl_dtype)dt, 1, big, &a));
        moments(a, &mean, &var);
        CHECK_NEAR(mean, 0.0, 5e-3);
        CHECK_NEAR(var, 1.0, 5e-3);
        int64_t within = 0;
        for (int64_t i = 0; i < big[0]; i++)
            within += fabs(dagl__load(a->dtype, a->data + i * (int64_t)dagl_dtype_size(a->dtype))) < 1;
        CHECK_NEAR((double)within / 1e6, 0.682689, 3e-3);
        dagl_tensor_release(a);
    }

    /* A fill split into odd-sized chunks (starting mid-pair and mid-block) equals one pass. */
    for (int normal = 0; normal <= 1; normal++) {
        for (int dt = DAGL_F32; dt <= DAGL_F64; dt++) {
            int64_t n = 1001;
            size_t es = dagl_dtype_size((dagl_dtype)dt);
            char *whole = malloc((size_t)n * es), *parts = malloc((size_t)n * es);
            CHECK(whole && parts);
            dagl__rng_fill((dagl_dtype)dt, normal, 77, 5, whole, 0, n);
            for (int nth = 1; nth <= 7; nth++) {
                memset(parts, 0, (size_t)n * es);
                for (int ith = 0; ith < nth; ith++)
                    dagl__rng_fill((dagl_dtype)dt, normal, 77, 5, parts, n * ith / nth, n * (ith + 1) / nth);
                CHECK(memcmp(whole, parts, (size_t)n * es) == 0);
            }
            free(whole);
            free(parts);
        }
    }

    /* Errors: int64, bad shapes. */
    CHECK(dagl_rand(ctx, DAGL_I64, 2, shape, &a) == DAGL_E_DTYPE && a == NULL);
    CHECK(strstr(dagl_ctx_last_error(ctx), "rand: int64") != NULL);
    CHECK(dagl_randn(ctx, DAGL_I64, 2, shape, &a) == DAGL_E_DTYPE);
    CHECK(strstr(dagl_ctx_last_error(ctx), "randn: int64") != NULL);
    int64_t neg[1] = {-1};
    CHECK(dagl_rand(ctx, DAGL_F32, 1, neg, &a) == DAGL_E_SHAPE);

    /* 0-d and empty draws */
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 0, NULL, &a));
    CHECK(dagl_tensor_numel(a) == 1 && isfinite(((float *)a->data)[0]));
    dagl_tensor_release(a);
    int64_t empty[2] = {0, 3};
    CHECK_OK(dagl_rand(ctx, DAGL_F64, 2, empty, &a));
    CHECK(dagl_tensor_numel(a) == 0);
    dagl_tensor_release(a);

    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
    return 0;
}
