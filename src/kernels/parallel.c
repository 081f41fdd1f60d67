/* parallel.c -- intra-op parallelism: kernels hand their (ith, nth) shares to the context's
 * worker pool, the same pool that runs graph nodes (nested calls help instead of blocking). */
#include "kernels.h"
#include "sched/pool.h"
#include "sched/trace.h"

/* A split kernel of a traced node: its shares, and what recording them needs. */
struct traced_shares {
    void (*fn)(void *, int, int);
    void *arg;
    const struct dagl_share_trace *st;
};

/* Runs one share; a share run by a worker other than the node's own is recorded on that
 * worker's lane (the node's event already covers the time of its own lane). */
static void traced_share(void *p, int ith, int nth)
{
    const struct traced_shares *ts = p;
    int me = dagl__pool_current_worker();
    if (me == ts->st->worker) {
        ts->fn(ts->arg, ith, nth);
        return;
    }
    int64_t t0 = dagl__now_ns();
    ts->fn(ts->arg, ith, nth);
    dagl__trace_node(ts->st->tr, ts->st->run, me, ts->st->node, ts->st->name, ts->st->label, t0, dagl__now_ns(),
                     DAGL_SCHED_SHARE);
}

/* All n shares of a kernel, run in k contiguous chunks when the context allows only k workers on
 * one kernel (dagl_ctx_set_intra_threads). */
struct share_set {
    void (*fn)(void *, int, int);
    void *arg;
    int n;
};

/* Chunk ith of nth: its shares one after the other, each still called as (share, n). */
static void run_chunk(void *p, int ith, int nth)
{
    const struct share_set *s = p;
    int64_t lo, hi;
    dagl__split(s->n, ith, nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) s->fn(s->arg, (int)i, s->n);
}

void dagl__parallel(dagl_ctx *ctx, void (*fn)(void *, int, int), void *arg, int n)
{
    int k = ctx->intra > 0 && ctx->intra < ctx->threads ? ctx->intra : ctx->threads; /* workers allowed */
    dagl_pool *pool = NULL;
    if (n > 1 && k > 1 && dagl__ctx_pool(ctx, &pool) != DAGL_OK) pool = NULL;
    struct traced_shares ts = {fn, arg, ctx->share_trace};
    if (pool && ctx->share_trace) fn = traced_share, arg = &ts;
    if (pool && k < n && k < ctx->threads) {
        struct share_set set = {fn, arg, n};
        dagl_pool_parallel_for(pool, run_chunk, &set, k);
        return;
    }
    dagl_pool_parallel_for(pool, fn, arg, n);
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
