/* test_parallel.c -- the public dagl_parallel: every share runs exactly once with the n asked
 * for, at 1 and 2 threads; n < 1 runs nothing. */
#include "check.h"
#include "dagl.h"

#include <stdatomic.h>

typedef struct shares {
    atomic_int hits[64];
    atomic_int bad_nth;
    int want_nth;
} shares;

static void count_share(void *arg, int ith, int nth)
{
    shares *s = arg;
    atomic_fetch_add(&s->hits[ith], 1);
    if (nth != s->want_nth) atomic_fetch_add(&s->bad_nth, 1);
}

int main(void)
{
    for (int threads = 1; threads <= 2; threads++) {
        dagl_ctx *ctx;
        dagl_ctx_options opt = {.threads = threads};
        CHECK_OK(dagl_ctx_new(&opt, &ctx));
        for (int n = 1; n <= 64; n *= 4) {
            shares s = {.want_nth = n};
            dagl_parallel(ctx, count_share, &s, n);
            for (int i = 0; i < 64; i++) CHECK(atomic_load(&s.hits[i]) == (i < n));
            CHECK(atomic_load(&s.bad_nth) == 0);
        }
        shares none = {.want_nth = 0};
        dagl_parallel(ctx, count_share, &none, 0);
        for (int i = 0; i < 64; i++) CHECK(atomic_load(&none.hits[i]) == 0);
        dagl_ctx_free(ctx);
    }
    printf("parallel: ok\n");
    return 0;
}
