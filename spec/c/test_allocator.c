/* test_allocator.c -- a caller's allocator (dagl_ctx_options.allocator) gets every tensor data
 * block, aligned as asked, and all of them back by dagl_ctx_free; a half-given allocator is
 * refused. */
#include <stdint.h>

#include "check.h"
#include "dagl.h"

/* Counts what passes through it; malloc'ed over-allocation keeps the alignment promise. */
typedef struct counting {
    long allocs, frees;
    int64_t bytes;
} counting;

static void *count_alloc(void *ud, size_t size, size_t align)
{
    counting *c = ud;
    c->allocs++;
    c->bytes += (int64_t)size;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void count_free(void *ud, void *p, size_t size)
{
    counting *c = ud;
    c->frees++;
    c->bytes -= (int64_t)size;
    free(p);
}

int main(void)
{
    counting c = {0};
    dagl_allocator a = {count_alloc, count_free, &c};
    dagl_ctx_options o = {.threads = 2, .allocator = &a};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&o, &ctx));
    int64_t shape[2] = {300, 500};
    dagl_tensor *x, *y, *z;
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 2, shape, 1.0, &x));
    CHECK(c.allocs == 1 && c.bytes >= 300 * 500 * 4);
    CHECK((uintptr_t)dagl_tensor_data(x) % 64 == 0);
    int64_t t[2] = {500, 300};
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 2, t, 2.0, &y));
    CHECK_OK(dagl_matmul(ctx, x, y, &z)); /* the result block comes from it too */
    CHECK(c.allocs == 3);
    CHECK(((float *)dagl_tensor_data(z))[0] == 1000.0f);
    int64_t tiny[1] = {4};
    dagl_tensor *s;
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, tiny, 0.0, &s)); /* small data too */
    CHECK(c.allocs == 4);
    dagl_tensor_release(x);
    dagl_tensor_release(y);
    dagl_tensor_release(z);
    dagl_tensor_release(s);
    CHECK(c.frees <= 4); /* freed blocks may be kept for reuse until the context goes */
    dagl_ctx_free(ctx);
    CHECK(c.allocs == 4 && c.frees == 4 && c.bytes == 0);

    dagl_allocator half = {count_alloc, NULL, &c};
    dagl_ctx_options bad = {.allocator = &half};
    CHECK(dagl_ctx_new(&bad, &ctx) == DAGL_E_ARG && ctx == NULL);
    printf("allocator: ok\n");
    return 0;
}
