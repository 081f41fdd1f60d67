/* parallel.c -- intra-op parallelism: kernels hand their (ith, nth) shares to the context's
 * runner (dagl_runner), which the scheduler installs: the same pool that runs graph nodes runs
 * them (nested calls help instead of blocking). Kernels never see the pool or the trace. */
#include "kernels.h"

void dagl__parallel(dagl_ctx *ctx, void (*fn)(void *, int, int), void *arg, int n)
{
    if (n > 1 && ctx->runner) {
        ctx->runner->parallel_for(ctx, fn, arg, n);
        return;
    }
    for (int i = 0; i < n; i++) fn(arg, i, n);
}

/* The public face of dagl__parallel, for code outside the core (dagl.ffi kernels). */
void dagl_parallel(dagl_ctx *ctx, void (*fn)(void *, int, int), void *arg, int n)
{
    if (n >= 1) dagl__parallel(ctx, fn, arg, n);
}

struct ew_job {
    ew_kernel k;
    const struct ew_args *a;
};

/* Adapts an elementwise kernel to the pool's task signature. */
static void ew_share(void *p, int ith, int nth)
{
    const struct ew_job *j = p;
    j->k(j->a, ith, nth);
}

void dagl__ew_run(dagl_ctx *ctx, ew_kernel k, const struct ew_args *a)
{
    if (a->numel <= 0) return;
    int n = dagl__shares(a->numel, 32768);
    if (n == 1) { /* the eager tiny-op path: no task set-up at all */
        k(a, 0, 1);
        return;
    }
    struct ew_job j = {k, a};
    dagl__parallel(ctx, ew_share, &j, n);
}
