/* test_interrupt.c -- dagl_ctx_interrupt from another thread (as a SIGINT handler would call it):
 * dagl_ctx_sleep and a long graph run stop within a bound far below their length, the interrupt
 * stays pending until taken, nothing leaks and the workers run the next run; a run that has
 * started its assign nodes runs to its end (all of its writes or none); the callback is called;
 * a gather's wait gives up and can be waited for again. */
#include "check.h"
#include "dagl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Interrupts `ctx` after `delay` seconds, from a thread of its own. */
typedef struct later {
    dagl_ctx *ctx;
    double delay;
    double at; /* when it interrupted */
} later;

static void *interrupt_later(void *p)
{
    later *l = p;
    struct timespec ts = {0, (long)(l->delay * 1e9)};
    nanosleep(&ts, NULL);
    l->at = now_s();
    dagl_ctx_interrupt(l->ctx);
    return NULL;
}

/* A custom node: its source plus 1, after 2 ms (a chain of them is a long run of short nodes). */
static dagl_status slow_inc(void *ud, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs, dagl_tensor **out)
{
    (void)ud, (void)nsrc;
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    return dagl_binary_scalar(ctx, DAGL_OP_ADD, srcs[0], 1.0, 0, out);
}

/* A custom node that interrupts the run it is in (through its task context, which shares the
 * root's interrupt state) and copies its first source; *ud says whether its run has committed,
 * when the task context must not report the interrupt (and a sleep on it must not end early). */
static dagl_status interrupter(void *ud, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs, dagl_tensor **out)
{
    (void)nsrc;
    int committed = *(const int *)ud;
    dagl_ctx_interrupt(ctx);
    if (dagl_ctx_interrupt_pending(ctx) == committed) return dagl_ctx_set_error(ctx, DAGL_E_INTERNAL, "pending?");
    if (dagl_ctx_sleep(ctx, 0.02) != (committed ? DAGL_OK : DAGL_E_INTERRUPTED))
        return dagl_ctx_set_error(ctx, DAGL_E_INTERNAL, "sleep?");
    return dagl_clone(ctx, srcs[0], out);
}

static void on_interrupt(void *ud) { atomic_fetch_add((atomic_int *)ud, 1); }

static float at0(const dagl_tensor *t) { return ((const float *)dagl_tensor_data(t))[0]; }

/* A 3 s sleep interrupted after 50 ms returns within a second; pending until taken. */
static void sleep_case(dagl_ctx *ctx)
{
    later l = {ctx, 0.05, 0};
    pthread_t th;
    double t0 = now_s();
    CHECK(pthread_create(&th, NULL, interrupt_later, &l) == 0);
    CHECK(dagl_ctx_sleep(ctx, 3.0) == DAGL_E_INTERRUPTED);
    double t1 = now_s();
    pthread_join(th, NULL);
    CHECK(t1 - t0 < 1.0);
    printf("sleep: stopped %.1f ms after the interrupt\n", (t1 - l.at) * 1e3);
    CHECK(dagl_ctx_interrupt_pending(ctx));
    CHECK(dagl_ctx_sleep(ctx, 0.5) == DAGL_E_INTERRUPTED); /* at once: still pending */
    CHECK(now_s() - t1 < 0.4);
    CHECK(dagl_ctx_take_interrupt(ctx) == 1);
    CHECK(dagl_ctx_take_interrupt(ctx) == 0);
    CHECK(!dagl_ctx_interrupt_pending(ctx));
    CHECK_OK(dagl_ctx_sleep(ctx, 0.02));
}

/* A chain of 500 slow nodes (1 s) interrupted after 50 ms: the run fails within half a second
 * with DAGL_E_INTERRUPTED, frees what it made, and the next run (after the take) gives 500. */
static void run_case(dagl_ctx *ctx, dagl_ctx *child)
{
    int64_t s1[1] = {4};
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int id;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 1, s1, &id));
    for (int i = 0; i < 500; i++) {
        int src = id;
        CHECK_OK(dagl_graph_custom(g, "slow_inc", 1, &src, DAGL_F32, 1, s1, slow_inc, NULL, NULL, NULL, &id));
    }
    CHECK_OK(dagl_graph_output(g, id));
    dagl_tensor *x, *y = NULL;
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, s1, 0.0, &x));
    int64_t live = dagl_ctx_live_bytes(ctx);
    for (int round = 0; round < 2; round++) { /* on the root context, then on a child */
        dagl_run_options opt = {.ctx = round ? child : ctx};
        later l = {ctx, 0.05, 0};
        pthread_t th;
        double t0 = now_s();
        CHECK(pthread_create(&th, NULL, interrupt_later, &l) == 0);
        CHECK(dagl_graph_run_ex(g, &x, &y, &opt) == DAGL_E_INTERRUPTED);
        double t1 = now_s();
        pthread_join(th, NULL);
        CHECK(y == NULL);
        CHECK(strstr(dagl_ctx_last_error(opt.ctx), "interrupted") != NULL);
        CHECK(t1 - t0 < 0.5);
        printf("run %d: stopped %.1f ms after the interrupt\n", round, (t1 - l.at) * 1e3);
        CHECK(dagl_ctx_live_bytes(ctx) == live);
        CHECK(dagl_graph_run_ex(g, &x, &y, &opt) == DAGL_E_INTERRUPTED); /* still pending */
        CHECK(dagl_ctx_take_interrupt(ctx));
    }
    double t0 = now_s();
    CHECK_OK(dagl_graph_run(g, &x, &y));
    CHECK(at0(y) == 500.0f);
    CHECK(now_s() - t0 > 0.9); /* the whole chain ran */
    dagl_tensor_release(y);
    dagl_tensor_release(x);
    CHECK(dagl_ctx_live_bytes(ctx) == live - 16);
    dagl_graph_free(g);
}

/* w1 = x and w2 = x in one run, with a node that interrupts the run: once an assign has started
 * the run goes to its end (both written, the interrupt left pending, and the node's own context
 * does not report it); an interrupt before any assign writes neither. */
static void assign_case(dagl_ctx *ctx)
{
    int64_t s1[1] = {2};
    for (int committed = 1; committed >= 0; committed--) {
        dagl_tensor *w1, *w2, *x;
        CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, s1, 1.0, &w1));
        CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, s1, 1.0, &w2));
        CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, s1, 7.0, &x));
        dagl_graph *g;
        CHECK_OK(dagl_graph_new(ctx, &g));
        int xi, w1i, w2i, a1, a2, stop;
        CHECK_OK(dagl_graph_input(g, DAGL_F32, 1, s1, &xi));
        CHECK_OK(dagl_graph_constant(g, w1, &w1i));
        CHECK_OK(dagl_graph_constant(g, w2, &w2i));
        int src1[2] = {w1i, xi}, src2[2] = {w2i, xi};
        if (committed) {
            /* w1 = x first; the interrupter reads w2 after it, so w2 = x waits for it */
            CHECK_OK(dagl_graph_node(g, DAGL_OP_ASSIGN, 2, src1, NULL, &a1));
            int srcs[2] = {w2i, a1};
            CHECK_OK(dagl_graph_custom(g, "interrupter", 2, srcs, DAGL_F32, 1, s1, interrupter, &committed, NULL,
                                       NULL, &stop));
            CHECK_OK(dagl_graph_node(g, DAGL_OP_ASSIGN, 2, src2, NULL, &a2));
        } else {
            /* the interrupter reads both targets: both assigns wait for it */
            int srcs[2] = {w1i, w2i};
            CHECK_OK(dagl_graph_custom(g, "interrupter", 2, srcs, DAGL_F32, 1, s1, interrupter, &committed, NULL,
                                       NULL, &stop));
            CHECK_OK(dagl_graph_node(g, DAGL_OP_ASSIGN, 2, src1, NULL, &a1));
            CHECK_OK(dagl_graph_node(g, DAGL_OP_ASSIGN, 2, src2, NULL, &a2));
        }
        CHECK_OK(dagl_graph_output(g, stop));
        dagl_tensor *y = NULL;
        dagl_status st = dagl_graph_run(g, &x, &y);
        CHECK(dagl_ctx_take_interrupt(ctx)); /* the node did interrupt */
        if (committed) {
            CHECK_OK(st);
            CHECK(at0(w1) == 7.0f && at0(w2) == 7.0f);
            dagl_tensor_release(y);
        } else {
            CHECK(st == DAGL_E_INTERRUPTED);
            CHECK(at0(w1) == 1.0f && at0(w2) == 1.0f);
        }
        dagl_graph_free(g);
        dagl_tensor_release(w1);
        dagl_tensor_release(w2);
        dagl_tensor_release(x);
    }
}

/* The callback runs on every interrupt (with its ud) until it is cleared. */
static void callback_case(dagl_ctx *ctx, dagl_ctx *child)
{
    atomic_int calls = 0;
    dagl_ctx_set_interrupt_callback(ctx, on_interrupt, &calls);
    dagl_ctx_interrupt(ctx);
    dagl_ctx_interrupt(child); /* a child interrupts its root */
    CHECK(atomic_load(&calls) == 2);
    CHECK(dagl_ctx_interrupt_pending(ctx) && dagl_ctx_interrupt_pending(child));
    CHECK(dagl_ctx_take_interrupt(child));
    CHECK(!dagl_ctx_interrupt_pending(ctx));
    dagl_ctx_set_interrupt_callback(ctx, NULL, NULL);
    dagl_ctx_interrupt(ctx);
    CHECK(atomic_load(&calls) == 2);
    CHECK(dagl_ctx_take_interrupt(ctx));
}

/* A gather waited for with an interrupt pending: done (the copy won) or interrupted, and then the
 * same handle waits again after the take; either way the rows are right and nothing leaks. */
static void gather_case(dagl_ctx *ctx)
{
    int64_t shape[2] = {1 << 16, 64}, n = 1 << 16;
    dagl_tensor *src, *out = NULL;
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 2, shape, 3.0, &src));
    int64_t *index = malloc(sizeof *index * (size_t)n);
    for (int64_t i = 0; i < n; i++) index[i] = n - 1 - i;
    int64_t live = dagl_ctx_live_bytes(ctx);
    dagl_rows_job *job;
    CHECK_OK(dagl_gather_rows_async(ctx, src, index, n, &job));
    dagl_ctx_interrupt(ctx);
    dagl_status st = dagl_rows_wait(job, &out);
    printf("gather: the wait %s\n", st ? "was interrupted" : "found the copy done");
    CHECK(st == DAGL_OK || st == DAGL_E_INTERRUPTED);
    CHECK(dagl_ctx_take_interrupt(ctx));
    if (st) CHECK_OK(dagl_rows_wait(job, &out));
    CHECK(dagl_tensor_shape(out)[0] == n && at0(out) == 3.0f);
    dagl_tensor_release(out);
    CHECK(dagl_ctx_live_bytes(ctx) == live);
    free(index);
    dagl_tensor_release(src);
}

int main(void)
{
    for (int threads = 1; threads <= 2; threads++) {
        dagl_ctx_options opt = {.threads = threads};
        dagl_ctx *ctx, *child;
        CHECK_OK(dagl_ctx_new(&opt, &ctx));
        CHECK_OK(dagl_ctx_new_child(ctx, &child));
        CHECK(!dagl_ctx_interrupt_pending(ctx));
        sleep_case(ctx);
        run_case(ctx, child);
        assign_case(ctx);
        callback_case(ctx, child);
        gather_case(ctx);
        dagl_ctx_free(child);
        dagl_ctx_free(ctx);
    }
    printf("test_interrupt: ok\n");
    return 0;
}
