/* exec.c -- running a graph on the pool by ready propagation: every op node has a count of
 * unfinished op sources; the worker that finishes a node continues with one newly ready
 * consumer itself and queues the others for idle workers (who steal them). Intermediate
 * values live in the graph's arena at the places the memory plan gave them (memplan.c), or,
 * without a plan, in memory of their own released as soon as their last consumer has run. */
#include "graph/graph.h"
#include "sched/lock.h"
#include "sched/pool.h"
#include "sched/trace.h"
#include "sched/workers.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct run_state {
    dagl_graph *g;
    dagl_ctx *ctx;
    dagl_pool *pool;
    dagl_tensor **vals;
    atomic_int *pending; /* unfinished op sources per node */
    atomic_int *uses;    /* consumers not yet run per node */
    dagl_job job;
    atomic_bool failed;
    const dagl_run_options *opt;
    int trace_run;
    atomic_int *queued_by; /* per node: worker that queued it (-1 inline, -2 parked) */
    int64_t *parked_at;    /* per node: when it was parked, for the lock-wait lane */
    pthread_mutex_t err_mu;
    dagl_status err;
    atomic_int phase;    /* DAGL__RUN_OPEN, then _COMMITTED or _STOPPED (core/internal.h) */
    dagl_tensor **slot;  /* per node: its result's tensor in the arena, or NULL; NULL: no plan */
    const char *arena_lo, *arena_hi;
} run_state;

/* Records the first failure with the node, its layer and its source shapes in the message. */
static void record_error(run_state *r, int id, const dagl_ctx *local, dagl_status st)
{
    pthread_mutex_lock(&r->err_mu);
    if (!atomic_load(&r->failed)) {
        const dagl_node *nd = &r->g->nodes[id];
        char shapes[400] = "", b[160];
        for (int k = 0; k < nd->nsrc; k++) {
            const dagl_node *s = &r->g->nodes[nd->src[k]];
            strncat(shapes, k ? ", " : "", sizeof shapes - strlen(shapes) - 1);
            strncat(shapes, dagl_shape_str(s->ndim, s->shape, b, sizeof b), sizeof shapes - strlen(shapes) - 1);
        }
        dagl_ctx_set_error(r->ctx, st, "node %%%d (%s%s%s, inputs %s): %s", id,
                           dagl__node_name(nd),
                           nd->label ? " in layer " : "", nd->label ? nd->label : "", shapes,
                           dagl_ctx_last_error(local));
        r->err = st;
        atomic_store(&r->failed, true);
    }
    pthread_mutex_unlock(&r->err_mu);
}

/* Drops a source value once all its consumers have run (outputs, inputs and constants stay:
 * their counts are not touched, since an input read by thousands of nodes would make its count
 * a cache line every worker fights over). */
static void release_use(run_state *r, int s)
{
    const dagl_node *sn = &r->g->nodes[s];
    if (sn->kind != NODE_OP) return;
    if (atomic_fetch_sub_explicit(&r->uses[s], 1, memory_order_acq_rel) == 1 && !sn->is_output) {
        dagl_tensor_release(r->vals[s]);
        r->vals[s] = NULL;
    }
}

/* Calls a custom node's function and holds it to its declared dtype and shape. */
static dagl_status run_custom(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *srcv, dagl_tensor **out)
{
    *out = NULL;
    dagl_status st = nd->custom.fn(nd->custom.ud, ctx, nd->nsrc, srcv, out);
    if (st) {
        dagl_tensor_release(*out);
        *out = NULL;
        return st;
    }
    const dagl_tensor *t = *out;
    char b1[160], b2[160];
    if (!t) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "returned no tensor");
    if (t->dtype != nd->dtype || t->ndim != nd->ndim || memcmp(t->shape, nd->shape, sizeof(int64_t) * (size_t)t->ndim)) {
        dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "returned %s %s, declared %s %s", dagl_dtype_name(t->dtype),
                           dagl_shape_str(t->ndim, t->shape, b1, sizeof b1), dagl_dtype_name(nd->dtype),
                           dagl_shape_str(nd->ndim, nd->shape, b2, sizeof b2));
        dagl_tensor_release(*out);
        *out = NULL;
        return DAGL_E_SHAPE;
    }
    return DAGL_OK;
}

/* The C-order index of the first NaN or infinity of a float tensor (and the value), or -1
 * (strided walk: custom nodes may return views). */
static int64_t first_nonfinite(const dagl_tensor *t, double *bad)
{
    if (t->dtype != DAGL_F32 && t->dtype != DAGL_F64) return -1;
    int64_t idx[DAGL_MAX_DIMS] = {0};
    for (int64_t i = 0; i < t->numel; i++) {
        int64_t off = 0;
        for (int k = 0; k < t->ndim; k++) off += idx[k] * t->strides[k];
        double v = t->dtype == DAGL_F32 ? ((const float *)(const void *)t->data)[off]
                                        : ((const double *)(const void *)t->data)[off];
        if (!isfinite(v)) {
            *bad = v;
            return i;
        }
        for (int k = t->ndim - 1; k >= 0 && ++idx[k] == t->shape[k]; k--) idx[k] = 0;
    }
    return -1;
}

/* The first step of a fused program (kernels/ew_program.c) whose result holds a NaN or an
 * infinity, found by running the program cut after each step (only on this error path), with
 * that element's index and value in *at, *bad; -1 when none is (then the node itself is named). */
static int first_bad_step(dagl_ctx *local, const dagl_node *nd, dagl_tensor *const *srcv, int64_t *at, double *bad)
{
    dagl__ew_prog cut = *nd->prog;
    for (int k = 0; k + 1 < nd->prog->n; k++) {
        cut.n = k + 1;
        dagl_tensor *t = NULL;
        int64_t i = dagl__ew_program(local, &cut, nd->nsrc, srcv, nd->dtype, nd->ndim, nd->shape, NULL, &t)
                        ? -1 : first_nonfinite(t, bad);
        dagl_tensor_release(t);
        if (i >= 0) {
            *at = i;
            return k;
        }
    }
    return -1;
}

/* dagl_run_options.check_numerics: fails the node whose output holds a NaN or an infinity (its
 * sources were checked before it ran, so it is where the bad value first appears); in a fused
 * program, names the step where it appears. */
static dagl_status check_numerics(dagl_ctx *local, const dagl_node *nd, dagl_tensor *const *srcv, const dagl_tensor *t)
{
    double v = 0;
    int64_t i = first_nonfinite(t, &v);
    if (i < 0) return DAGL_OK;
    char b[160], step[80] = "";
    int k = nd->prog ? first_bad_step(local, nd, srcv, &i, &v) : -1;
    if (k >= 0) snprintf(step, sizeof step, " (at its step %d, %s)", k + 1, dagl_op_name(nd->prog->step[k].op));
    return dagl_ctx_set_error(local, DAGL_E_NUMERIC, "check_numerics: the %s %s output has %s at element %lld%s (the "
                              "first non-finite value of the run)", dagl_dtype_name(t->dtype),
                              dagl_shape_str(t->ndim, t->shape, b, sizeof b), isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf",
                              (long long)i + 1, step);
}

/* check_numerics on the run's inputs, so a NaN fed in is reported as such (not at whichever of
 * its consumers happens to run first). */
static dagl_status check_input_numerics(const dagl_graph *g, dagl_ctx *ctx, dagl_tensor *const *inputs)
{
    for (int i = 0; i < g->ninputs; i++) {
        double v = 0;
        int64_t k = first_nonfinite(inputs[i], &v);
        if (k >= 0)
            return dagl_ctx_set_error(ctx, DAGL_E_NUMERIC, "check_numerics: graph input %d (node %%%d) has %s at "
                                      "element %lld", i + 1, g->inputs[i], isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf",
                                      (long long)k + 1);
    }
    return DAGL_OK;
}

/* Whether t's data lies in the run's arena. */
static bool in_arena(const run_state *r, const dagl_tensor *t)
{
    uintptr_t p = (uintptr_t)t->data;
    return p >= (uintptr_t)r->arena_lo && p < (uintptr_t)r->arena_hi;
}

/* An output whose kernel handed back memory of the arena (a view of a source, say) is copied:
 * the caller keeps outputs, and the next run writes over the arena. (The plan gives outputs
 * and what they view memory of their own, so no built-in kernel gets here today.) */
static dagl_status own_output(dagl_ctx *local, dagl_tensor **v)
{
    dagl_tensor *c;
    dagl_status st = dagl_clone(local, *v, &c);
    if (st) return st;
    dagl_tensor_release(*v);
    *v = c;
    return DAGL_OK;
}

static int worker_no(const run_state *r);

/* Whether node nd, with its task context `local`, must not run because the run was interrupted;
 * an assign that may run commits the run (the phases: core/internal.h). */
static bool stop_for_interrupt(run_state *r, const dagl_node *nd, const dagl_ctx *local)
{
    if (dagl__interrupted(local)) return true;
    int phase = DAGL__RUN_OPEN;
    if ((nd->op == DAGL_OP_ASSIGN || nd->writes_const) &&
        !atomic_compare_exchange_strong(&r->phase, &phase, DAGL__RUN_COMMITTED))
        return phase == DAGL__RUN_STOPPED;
    return false;
}

/* Where node nd's result goes: the assign's target it updates (order.c; not in check_numerics
 * runs, whose error must leave the target as it was), its planned slot, or fresh memory (NULL). */
static dagl_tensor *result_dst(const run_state *r, const dagl_node *nd, int id)
{
    if (nd->writes_const && !r->opt->check_numerics) return r->g->nodes[nd->writes_const - 1].value;
    return r->slot ? r->slot[id] : NULL;
}

/* Computes one node with a task-local context; after a failure, nodes are skipped (but still
 * counted) so the run drains quickly. */
static void compute(run_state *r, int id)
{
    const dagl_node *nd = &r->g->nodes[id];
    if (!atomic_load_explicit(&r->failed, memory_order_relaxed)) {
        dagl_ctx local;
        dagl__ctx_child(r->ctx, &local);
        local.run_phase = &r->phase; /* custom nodes see interrupts as the run does */
        struct dagl_share_trace share;
        if (r->opt->trace) { /* kernel shares other workers run for this node go into the trace */
            share = (struct dagl_share_trace){r->opt->trace, r->trace_run, id, worker_no(r), dagl__node_name(nd),
                                              nd->label};
            local.share_trace = &share;
        }
        dagl_tensor *srcv[DAGL_MAX_SRCS] = {NULL};
        for (int k = 0; k < nd->nsrc; k++) srcv[k] = r->vals[nd->src[k]];
        dagl_status st;
        if (stop_for_interrupt(r, nd, &local))
            st = dagl_ctx_set_error(&local, DAGL_E_INTERRUPTED, "interrupted");
        else if (nd->op == DAGL_OP_CUSTOM)
            st = run_custom(&local, nd, srcv, &r->vals[id]);
        else /* the kernel's result goes to the node's planned slot, when it has one */
            st = dagl__exec_node(&local, nd, srcv, result_dst(r, nd, id), &r->vals[id]);
        if (!st && r->slot && in_arena(r, r->vals[id]) && nd->is_output) st = own_output(&local, &r->vals[id]);
        if (!st && r->opt->check_numerics) st = check_numerics(&local, nd, srcv, r->vals[id]);
        if (st) record_error(r, id, &local, st);
    }
    for (int k = 0; k < nd->nsrc; k++) release_use(r, nd->src[k]);
}

static void node_task(void *arg, int id, int unused);

/* The worker number used in traces: 0 for threads outside the pool. */
static int worker_no(const run_state *r)
{
    int w = dagl_pool_worker_id(r->pool);
    return w < 0 ? 0 : w;
}

/* How node `id` got to this worker, from who queued it. */
static dagl_sched_how how_scheduled(run_state *r, int id, int me)
{
    int by = atomic_load_explicit(&r->queued_by[id], memory_order_relaxed);
    return by == -1 ? DAGL_SCHED_INLINE : by == -2 ? DAGL_SCHED_PARKED : by == me ? DAGL_SCHED_QUEUED : DAGL_SCHED_STOLEN;
}

/* Takes the node's lock, or parks the node until the lock is free (returns false then). A
 * parked node comes back holding the lock (the releaser handed it over): queued_by -2 tells.
 * What a resumed task reads (queued_by, parked_at) is written before parking, while this thread
 * still owns the node: the lock's and the pool's mutexes order it before the resumer's reads. */
static bool take_lock(run_state *r, dagl_lock *lock, int id, int me)
{
    int by = atomic_load_explicit(&r->queued_by[id], memory_order_relaxed);
    if (by == -2 && dagl__lock_claim(lock)) { /* resumed, holding the lock handed to it */
        if (r->opt->trace && !r->g->nodes[id].comm)
            dagl__trace_lock(r->opt->trace, r->trace_run, me, DAGL_TRACE_PARKED, r->parked_at[id], dagl__now_ns());
        return true;
    }
    if (r->opt->trace && by != -2) r->parked_at[id] = dagl__now_ns();
    atomic_store_explicit(&r->queued_by[id], -2, memory_order_relaxed); /* in case it parks */
    if (!dagl__lock_take_or_park(lock, r->pool, &r->job, node_task, r, id)) return false;
    atomic_store_explicit(&r->queued_by[id], by, memory_order_relaxed);
    return true;
}

/* Hands ready node k to the pool (queued by worker me). */
static void queue_node(run_state *r, int k, int me)
{
    atomic_store_explicit(&r->queued_by[k], me, memory_order_relaxed);
    atomic_fetch_add(&r->job.pending, 1);
    dagl_pool_submit(r->pool, &r->job, node_task, r, k, 0);
}

/* Runs `id`, then keeps going with one ready consumer (an urgent one first: nodes feeding a
 * collective's launch, and the launch); queues the other ready ones, urgent ones last. */
static void node_task(void *arg, int id, int unused)
{
    run_state *r = arg;
    dagl_graph *g = r->g;
    dagl_trace *tr = r->opt->trace;
    int me = worker_no(r);
    while (id >= 0) {
        const dagl_node *nd = &g->nodes[id];
        dagl_lock *lock = r->opt->unlocked ? NULL : nd->custom.lock;
        if (lock && !take_lock(r, lock, id, me)) return; /* resumes when the lock is released */
        int64_t t0 = tr ? dagl__now_ns() : 0;
        compute(r, id);
        if (tr) {
            int64_t t1 = dagl__now_ns();
            const char *name = dagl__node_name(nd);
            dagl__trace_node(tr, r->trace_run, me, id, name, nd->label, t0, t1, how_scheduled(r, id, me));
        }
        if (lock) dagl_lock_release(lock);
        int next = -1, urgent[8], nurgent = 0;
        for (int c = g->cons_start[id]; c < g->cons_start[id + 1]; c++) {
            int k = g->cons[c];
            if (atomic_fetch_sub_explicit(&r->pending[k], 1, memory_order_acq_rel) != 1) continue;
            if (g->nodes[k].urgent && nurgent < 8) {
                urgent[nurgent++] = k;
            } else if (next < 0) {
                next = k;
            } else {
                queue_node(r, k, me);
            }
        }
        if (nurgent) { /* urgent ones last, on top of this worker's deque, and the first runs here next */
            if (next >= 0) queue_node(r, next, me);
            next = urgent[0];
            for (int i = 1; i < nurgent; i++) queue_node(r, urgent[i], me);
        }
        if (next >= 0) atomic_store_explicit(&r->queued_by[next], -1, memory_order_relaxed);
        id = next;
    }
}

/* Points the locks of the graph's custom nodes at the run's trace (or away from it); not those
 * of collectives (comm), whose holds are network time, not VM lock time. */
static void set_lock_traces(dagl_graph *g, dagl_trace *tr, int run)
{
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i].custom.lock && !g->nodes[i].comm) dagl__lock_trace(g->nodes[i].custom.lock, tr, run);
}

/* Checks that the caller's inputs match the declared ones. */
static dagl_status check_inputs(dagl_graph *g, dagl_ctx *ctx, dagl_tensor *const *inputs)
{
    for (int i = 0; i < g->ninputs; i++) {
        const dagl_node *nd = &g->nodes[g->inputs[i]];
        const dagl_tensor *t = inputs[i];
        char b1[160], b2[160];
        if (!t) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "graph_run: input %d is NULL", i + 1);
        if (t->dtype != nd->dtype || t->ndim != nd->ndim ||
            memcmp(t->shape, nd->shape, sizeof(int64_t) * (size_t)t->ndim))
            return dagl_ctx_set_error(ctx, t->dtype != nd->dtype ? DAGL_E_DTYPE : DAGL_E_SHAPE,
                                      "graph_run: input %d is %s %s, the graph takes %s %s", i + 1,
                                      dagl_dtype_name(t->dtype), dagl_shape_str(t->ndim, t->shape, b1, sizeof b1),
                                      dagl_dtype_name(nd->dtype), dagl_shape_str(nd->ndim, nd->shape, b2, sizeof b2));
    }
    return DAGL_OK;
}

dagl_status dagl_graph_run(dagl_graph *g, dagl_tensor *const *inputs, dagl_tensor **outputs)
{
    return dagl_graph_run_ex(g, inputs, outputs, NULL);
}

/* One run of the graph, counted as in progress on its context's workers by the caller. */
static dagl_status run_graph(dagl_graph *g, dagl_tensor *const *inputs, dagl_tensor **outputs,
                             const dagl_run_options *opt)
{
    static const dagl_run_options defaults = {0};
    dagl_ctx *ctx = opt && opt->ctx ? opt->ctx : g->ctx;
    run_state r = {.g = g, .ctx = ctx, .opt = opt ? opt : &defaults};
    dagl_status st;
    if ((st = check_inputs(g, ctx, inputs)) || (st = dagl__graph_prepare(g)) ||
        (st = dagl__workers_pool(g->ctx, &r.pool))) {
        if (ctx != g->ctx && st && !check_inputs(g, ctx, inputs)) /* prepare's error is on the graph's */
            dagl_ctx_set_error(ctx, st, "%s", dagl_ctx_last_error(g->ctx));
        return st;
    }
    if (r.opt->check_numerics && (st = check_input_numerics(g, ctx, inputs))) return st;
    int n = g->n;
    r.vals = calloc((size_t)n + 1, sizeof *r.vals);
    r.pending = malloc(sizeof *r.pending * ((size_t)n + 1));
    r.uses = malloc(sizeof *r.uses * ((size_t)n + 1));
    r.queued_by = malloc(sizeof *r.queued_by * ((size_t)n + 1));
    r.parked_at = calloc((size_t)n + 1, sizeof *r.parked_at);
    if (!r.vals || !r.pending || !r.uses || !r.queued_by || !r.parked_at) {
        free(r.vals);
        free(r.pending);
        free(r.uses);
        free(r.queued_by);
        free(r.parked_at);
        return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "graph_run: out of memory for %d nodes", n);
    }
    if (!r.opt->no_plan && !ctx->no_plan)
        r.slot = dagl__memplan_acquire(g, &r.arena_lo, &r.arena_hi);
    for (int i = 0; i < n; i++) {
        atomic_init(&r.pending[i], g->nsrc_ops[i]);
        atomic_init(&r.uses[i], g->uses0[i]);
        atomic_init(&r.queued_by[i], 0);
    }
    if (r.opt->trace) {
        r.trace_run = dagl__trace_begin_run(r.opt->trace, g);
        set_lock_traces(g, r.opt->trace, r.trace_run);
    }
    for (int i = 0; i < g->ninputs; i++) {
        r.vals[g->inputs[i]] = inputs[i];
        dagl_tensor_retain(inputs[i]);
    }
    for (int i = 0; i < n; i++)
        if (g->nodes[i].kind == NODE_CONST) {
            r.vals[i] = g->nodes[i].value;
            dagl_tensor_retain(r.vals[i]);
        }
    atomic_init(&r.failed, false);
    atomic_init(&r.phase, DAGL__RUN_OPEN);
    pthread_mutex_init(&r.err_mu, NULL);
    /* one guard count for the caller, so the job cannot look finished while tasks are queued */
    atomic_init(&r.job.pending, 1 + g->nready0);
    for (int i = 1; i < g->nready0; i++) dagl_pool_submit(r.pool, &r.job, node_task, &r, g->ready0[i], 0);
    if (g->nready0 > 0) {
        node_task(&r, g->ready0[0], 0);
        atomic_fetch_sub(&r.job.pending, 1);
    }
    atomic_fetch_sub(&r.job.pending, 1);
    dagl_pool_wait(r.pool, &r.job);
    pthread_mutex_destroy(&r.err_mu);
    if (r.opt->trace) set_lock_traces(g, NULL, 0);

    st = atomic_load(&r.failed) ? r.err : DAGL_OK;
    for (int i = 0; i < g->noutputs; i++) {
        outputs[i] = st ? NULL : r.vals[g->outputs[i]];
        if (outputs[i]) dagl_tensor_retain(outputs[i]);
    }
    for (int i = 0; i < n; i++) dagl_tensor_release(r.vals[i]);
    if (r.slot) dagl__memplan_release(g);
    free(r.vals);
    free(r.pending);
    free(r.uses);
    free(r.queued_by);
    free(r.parked_at);
    return st;
}

/* The run is counted in progress on the graph context's workers while it runs, so that their
 * thread count cannot change under it (dagl_ctx_set_threads fails meanwhile). */
dagl_status dagl_graph_run_ex(dagl_graph *g, dagl_tensor *const *inputs, dagl_tensor **outputs,
                              const dagl_run_options *opt)
{
    dagl__run_begin(g->ctx);
    dagl_status st = run_graph(g, inputs, outputs, opt);
    dagl__run_end(g->ctx);
    return st;
}
