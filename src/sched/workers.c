/* workers.c -- the workers behind a context (its dagl_runner, see core/internal.h): the one pool,
 * started on first use and restarted with a new thread count between runs; the intra-op limit;
 * the recording of a traced node's kernel shares; and the count of graph runs in progress, which
 * makes changing threads during a run an error instead of freeing the pool under it. A root
 * context and its children share one set. The public functions that make, free and configure
 * contexts live here, as a context's workers are the scheduler's; the rest of the context (error
 * text, seed, memory) is core's (core/ctx.c). */
#include "sched/workers.h"
#include "kernels/kernels.h"
#include "sched/trace.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

typedef struct dagl_workers {
    dagl_runner runner;        /* first: a context's runner points here */
    dagl_ctx *root;            /* the context that made (and frees) these workers */
    _Atomic(dagl_pool *) pool; /* started on first use */
    pthread_mutex_t start_mu;  /* one thread starts the pool */
    atomic_int threads;        /* workers the pool runs with, or will be started with */
    atomic_int intra;          /* workers on one kernel's shares at most (0 = all) */
    atomic_int runs;           /* graph runs in progress on the root and its children; -1 while a
                                * thread changes threads or intra (they change only at 0) */
} dagl_workers;

static dagl_workers *workers_of(const dagl_ctx *ctx) { return (dagl_workers *)ctx->runner; }

/* The pool, started by the first caller that needs it (NULL when no thread could start). */
static dagl_pool *started_pool(dagl_workers *w)
{
    dagl_pool *p = atomic_load_explicit(&w->pool, memory_order_acquire);
    if (p) return p;
    pthread_mutex_lock(&w->start_mu);
    p = atomic_load_explicit(&w->pool, memory_order_relaxed);
    if (!p && dagl_pool_new(atomic_load_explicit(&w->threads, memory_order_relaxed), &p) == DAGL_OK)
        atomic_store_explicit(&w->pool, p, memory_order_release);
    pthread_mutex_unlock(&w->start_mu);
    return p;
}

dagl_status dagl__workers_pool(dagl_ctx *ctx, dagl_pool **out)
{
    *out = started_pool(workers_of(ctx));
    if (*out) return DAGL_OK;
    return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "context: cannot start %d worker threads",
                              atomic_load_explicit(&workers_of(ctx)->threads, memory_order_relaxed));
}

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

/* The runner's parallel_for: the kernels' shares on the pool (at most `intra` workers on them),
 * recorded when the calling node is traced; inline at one thread or without a pool. */
static void workers_parallel_for(dagl_ctx *ctx, void (*fn)(void *, int, int), void *arg, int n)
{
    dagl_workers *w = workers_of(ctx);
    int threads = atomic_load_explicit(&w->threads, memory_order_relaxed);
    int intra = atomic_load_explicit(&w->intra, memory_order_relaxed);
    int k = intra > 0 && intra < threads ? intra : threads; /* workers allowed */
    dagl_pool *pool = k > 1 ? started_pool(w) : NULL;
    struct traced_shares ts = {fn, arg, ctx->share_trace};
    if (pool && ctx->share_trace) fn = traced_share, arg = &ts;
    if (pool && k < n && k < threads) {
        struct share_set set = {fn, arg, n};
        dagl_pool_parallel_for(pool, run_chunk, &set, k);
        return;
    }
    dagl_pool_parallel_for(pool, fn, arg, n);
}

/* Thread count from options, then DAGL_NUM_THREADS, then the core count, shared among the ranks
 * an MPI launcher started on this machine (OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS): two
 * ranks on two cores get one worker each instead of oversubscribing them. */
static int default_threads(const dagl_ctx_options *opt)
{
    if (opt && opt->threads > 0) return opt->threads;
    const char *env = getenv("DAGL_NUM_THREADS");
    if (env && atoi(env) > 0) return atoi(env);
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (!local) local = getenv("MPI_LOCALNRANKS");
    int ranks = local ? atoi(local) : 1, cores = dagl_num_cores();
    return ranks > 1 ? (cores / ranks > 1 ? cores / ranks : 1) : cores;
}

/* A root context: core's part (dagl__ctx_create) with workers of its own, started at first use. */
dagl_status dagl_ctx_new(const dagl_ctx_options *opt, dagl_ctx **out)
{
    if (!out) return DAGL_E_ARG;
    *out = NULL;
    if (opt && opt->allocator && (!opt->allocator->alloc || !opt->allocator->free)) return DAGL_E_ARG;
    dagl_workers *w = calloc(1, sizeof *w);
    if (!w) return DAGL_E_NOMEM;
    dagl_ctx *ctx;
    dagl_status st = dagl__ctx_create(opt, &ctx);
    if (st) {
        free(w);
        return st;
    }
    w->runner.parallel_for = workers_parallel_for;
    w->root = ctx;
    atomic_init(&w->pool, NULL);
    pthread_mutex_init(&w->start_mu, NULL);
    atomic_init(&w->threads, default_threads(opt));
    atomic_init(&w->intra, 0);
    atomic_init(&w->runs, 0);
    ctx->runner = &w->runner;
    *out = ctx;
    return DAGL_OK;
}

/* Threads that run graphs of one context at the same time each need their own error text: a
 * child shares everything else (workers, memory accounting, seed). */
dagl_status dagl_ctx_new_child(dagl_ctx *parent, dagl_ctx **out)
{
    if (!parent || !out) return DAGL_E_ARG;
    dagl_ctx *ctx = calloc(1, sizeof *ctx);
    *out = ctx;
    if (!ctx) return dagl_ctx_set_error(parent, DAGL_E_NOMEM, "context: out of memory");
    dagl__ctx_child(parent, ctx);
    return DAGL_OK;
}

/* Stops the workers when this context made them (a child shares its root's), then frees the
 * context (core). */
void dagl_ctx_free(dagl_ctx *ctx)
{
    if (!ctx) return;
    dagl_workers *w = workers_of(ctx);
    if (w && w->root == ctx) {
        dagl_pool_free(atomic_load(&w->pool));
        pthread_mutex_destroy(&w->start_mu);
        free(w);
    }
    dagl__ctx_destroy(ctx);
}

void dagl__run_begin(dagl_ctx *ctx)
{
    dagl_workers *w = workers_of(ctx);
    int v = atomic_load_explicit(&w->runs, memory_order_relaxed);
    for (;;) {
        if (v < 0) { /* threads are changing: a few microseconds (a pool restart at most) */
            sched_yield();
            v = atomic_load_explicit(&w->runs, memory_order_relaxed);
        } else if (atomic_compare_exchange_weak_explicit(&w->runs, &v, v + 1, memory_order_acquire,
                                                         memory_order_relaxed)) {
            return;
        }
    }
}

void dagl__run_end(dagl_ctx *ctx) { atomic_fetch_sub_explicit(&workers_of(ctx)->runs, 1, memory_order_release); }

/* The worker count the context's pool runs with, or will be started with at the next run. */
int dagl_ctx_threads(const dagl_ctx *ctx) { return atomic_load(&workers_of(ctx)->threads); }

/* Sets the thread count (threads > 0) and/or the intra-op limit (intra >= 0; -1 leaves either as
 * it is), only between runs: the -1 this leaves in `runs` meanwhile makes runs starting on other
 * threads wait (dagl__run_begin). A new count stops the pool now (no run uses it); its next use
 * starts the new one. */
static dagl_status change(dagl_ctx *ctx, int threads, int intra)
{
    dagl_workers *w = workers_of(ctx);
    int idle = 0;
    if (!atomic_compare_exchange_strong(&w->runs, &idle, -1))
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, idle < 0 ? "set_threads: another thread is changing this context's threads"
                                                            : "set_threads: a graph run is in progress on this context; "
                                                              "change threads between runs");
    if (threads > 0 && threads != atomic_load(&w->threads)) {
        dagl_pool_free(atomic_load(&w->pool));
        atomic_store(&w->pool, NULL);
        atomic_store(&w->threads, threads);
    }
    if (intra >= 0) atomic_store(&w->intra, intra);
    atomic_store(&w->runs, 0);
    return DAGL_OK;
}

dagl_status dagl_ctx_set_threads(dagl_ctx *ctx, int threads)
{
    if (!ctx) return DAGL_E_ARG;
    if (threads < 0 || threads > 4096)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "set_threads: %d threads (0 = cores, at most 4096)", threads);
    return change(ctx, threads ? threads : dagl_num_cores(), -1);
}

dagl_status dagl_ctx_set_intra_threads(dagl_ctx *ctx, int intra)
{
    if (!ctx) return DAGL_E_ARG;
    if (intra < 0 || intra > 4096)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "set_threads: intra %d (0 = all workers, at most 4096)", intra);
    return change(ctx, -1, intra);
}

int dagl_ctx_intra_threads(const dagl_ctx *ctx) { return atomic_load(&workers_of(ctx)->intra); }

/* For callers that must not change a run's setting under it (the Lua binding's lock mode). */
int dagl_ctx_runs_in_progress(const dagl_ctx *ctx)
{
    int v = atomic_load(&workers_of(ctx)->runs);
    return v > 0 ? v : 0;
}
