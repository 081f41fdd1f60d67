/* test_threads_change.c -- the thread count and the intra-op limit change only between runs:
 * dagl_ctx_set_threads / dagl_ctx_set_intra_threads called while a graph run is in progress (from
 * a custom node of the run, through the root or a child context, or from another thread) fail
 * with DAGL_E_ARG and a message saying so, change nothing, and the run and later runs work; a
 * child context shares its root's workers, so a change through it (between runs) is the root's. */
#include "check.h"
#include "dagl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define N 200000 /* elements: tanh splits into several shares */

/* What the custom node saw when it tried to change the threads during its run. */
typedef struct attempt {
    dagl_ctx *root;
    dagl_status st_root, st_local, st_intra;
    char msg[512];
    int runs_seen;
} attempt;

/* A custom node that tries to change the threads of the run it is part of, then copies its source. */
static dagl_status meddle(void *ud, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs, dagl_tensor **out)
{
    attempt *a = ud;
    a->runs_seen = dagl_ctx_runs_in_progress(a->root);
    a->st_root = dagl_ctx_set_threads(a->root, 2);
    snprintf(a->msg, sizeof a->msg, "%s", dagl_ctx_last_error(a->root));
    a->st_local = dagl_ctx_set_threads(ctx, 3); /* the task's own context shares the workers */
    a->st_intra = dagl_ctx_set_intra_threads(a->root, 1);
    return dagl_clone(ctx, srcs[0], out);
}

/* x -> tanh (split over workers) + meddle(x): a node that meddles next to a split kernel. */
static dagl_graph *make_graph(dagl_ctx *ctx, attempt *a)
{
    dagl_graph *g;
    int64_t shape[1] = {N};
    int x, t, m, y;
    CHECK_OK(dagl_graph_new(ctx, &g));
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 1, shape, &x));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_TANH, 1, &x, NULL, &t));
    CHECK_OK(dagl_graph_custom(g, "meddle", 1, &x, DAGL_F32, 1, shape, meddle, a, NULL, NULL, &m));
    int srcs[2] = {t, m};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 2, srcs, NULL, &y));
    CHECK_OK(dagl_graph_output(g, y));
    return g;
}

/* One run on `run_ctx` (the root or a child): right values, every change refused. */
static void run_and_check(dagl_graph *g, dagl_ctx *run_ctx, attempt *a, dagl_tensor *x, int threads)
{
    dagl_ctx *root = a->root;
    memset(a, 0, sizeof *a);
    a->root = root;
    dagl_run_options opt = {.ctx = run_ctx};
    dagl_tensor *y;
    CHECK_OK(dagl_graph_run_ex(g, &x, &y, &opt));
    CHECK(a->runs_seen >= 1);
    CHECK(a->st_root == DAGL_E_ARG && a->st_local == DAGL_E_ARG && a->st_intra == DAGL_E_ARG);
    CHECK(strstr(a->msg, "set_threads: a graph run is in progress on this context; change threads between runs"));
    CHECK(dagl_ctx_threads(a->root) == threads && dagl_ctx_intra_threads(a->root) == 0);
    CHECK(dagl_ctx_runs_in_progress(a->root) == 0);
    const float *xv = dagl_tensor_data(x), *yv = dagl_tensor_data(y);
    for (int i = 0; i < N; i += 997) CHECK_NEAR(yv[i], tanhf(xv[i]) + xv[i], 1e-6);
    dagl_tensor_release(y);
}

typedef struct runner_arg {
    dagl_graph *g;
    dagl_ctx *child;
    dagl_tensor *x;
    atomic_int done;
    int runs;
} runner_arg;

/* Another thread's runs while the main thread keeps changing the threads. */
static void *run_loop(void *p)
{
    runner_arg *r = p;
    dagl_run_options opt = {.ctx = r->child};
    for (int k = 0; k < r->runs; k++) {
        dagl_tensor *y;
        CHECK_OK(dagl_graph_run_ex(r->g, &r->x, &y, &opt));
        CHECK_NEAR(((float *)dagl_tensor_data(y))[5], 0.5f * 5, 1e-6);
        dagl_tensor_release(y);
    }
    atomic_store(&r->done, 1);
    return NULL;
}

/* Runs of another thread and changes of the thread count interleave: each change is made between
 * runs or refused, every run completes (TSan runs this). */
static void concurrent_changes(void)
{
    dagl_ctx_options o = {.threads = 2};
    dagl_ctx *ctx, *child;
    CHECK_OK(dagl_ctx_new(&o, &ctx));
    CHECK_OK(dagl_ctx_new_child(ctx, &child));
    dagl_graph *g;
    int64_t shape[1] = {N};
    int x, y;
    CHECK_OK(dagl_graph_new(ctx, &g));
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 1, shape, &x));
    dagl_node_params p = {.scalar = 0.5, .has_scalar = 1};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_MUL, 1, &x, &p, &y));
    CHECK_OK(dagl_graph_output(g, y));
    CHECK_OK(dagl_graph_prepare(g));
    runner_arg r = {.g = g, .child = child, .runs = 300};
    CHECK_OK(dagl_arange(ctx, DAGL_F32, 0, N, 1, &r.x));
    atomic_init(&r.done, 0);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, run_loop, &r) == 0);
    int changed = 0, refused = 0;
    for (int k = 0; !atomic_load(&r.done); k++) {
        dagl_status st = dagl_ctx_set_threads(ctx, 2 + k % 2);
        if (st == DAGL_OK) changed++;
        else {
            CHECK(st == DAGL_E_ARG);
            refused++;
        }
        nanosleep(&(struct timespec){0, 20000}, NULL);
    }
    pthread_join(th, NULL);
    printf("concurrent: %d changes made between runs, %d refused during runs\n", changed, refused);
    CHECK(changed + refused > 0);
    dagl_tensor_release(r.x);
    dagl_graph_free(g);
    dagl_ctx_free(child);
    dagl_ctx_free(ctx);
}

int main(void)
{
    dagl_ctx_options o = {.threads = 4};
    dagl_ctx *ctx, *child;
    CHECK_OK(dagl_ctx_new(&o, &ctx));
    CHECK(dagl_ctx_runs_in_progress(ctx) == 0);
    attempt a = {.root = ctx};
    dagl_graph *g = make_graph(ctx, &a);
    dagl_tensor *x;
    int64_t shape[1] = {N};
    CHECK_OK(dagl_rand(ctx, DAGL_F32, 1, shape, &x));

    run_and_check(g, NULL, &a, x, 4);            /* the graph's own context */
    CHECK_OK(dagl_ctx_new_child(ctx, &child));
    run_and_check(g, child, &a, x, 4);           /* a child's run counts on the shared workers */

    /* between runs the changes are made; a change through the child is the root's */
    CHECK_OK(dagl_ctx_set_threads(ctx, 2));
    CHECK(dagl_ctx_threads(ctx) == 2 && dagl_ctx_threads(child) == 2);
    CHECK_OK(dagl_ctx_set_threads(child, 3));
    CHECK(dagl_ctx_threads(ctx) == 3);
    CHECK_OK(dagl_ctx_set_intra_threads(child, 2));
    CHECK(dagl_ctx_intra_threads(ctx) == 2);
    CHECK_OK(dagl_ctx_set_intra_threads(ctx, 0));
    run_and_check(g, child, &a, x, 3);           /* later runs work on the restarted pool */
    run_and_check(g, NULL, &a, x, 3);

    dagl_tensor_release(x);
    dagl_graph_free(g);
    dagl_ctx_free(child);
    dagl_ctx_free(ctx);
    concurrent_changes();
    return 0;
}
