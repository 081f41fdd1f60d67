/* test_assign.c -- DAGL_OP_ASSIGN: the node runs without being an output, after every reader of
 * its target (a slow custom node, a fused matmul+bias) at 1 to 4 threads, its value is the
 * target, plan counts it, a wrong shape names both shapes, and dagl_assign handles a value that
 * is a view of the target. An update fused into one elementwise program writes the target in
 * place, after every reader of the old value, and not when check_numerics might fail it. */
#include "check.h"
#include "dagl.h"
#include "graph/graph.h"

#include <math.h>

#include <time.h>

/* A custom node that copies its source after 5 ms: a reader slow enough that an assign ready at
 * the start would overtake it on another worker if nothing ordered them. */
static dagl_status slow_copy(void *ud, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs, dagl_tensor **out)
{
    (void)ud, (void)nsrc;
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
    return dagl_clone(ctx, srcs[0], out);
}

static float at(const dagl_tensor *t, int i) { return ((const float *)dagl_tensor_data(t))[i]; }

/* w (2x2) read by a slow copy and by x @ w + b (fused), then w = x (an input): every run's reads
 * see the weights before the run, and the assign ran though no output needs it. */
static void ordering(int threads)
{
    dagl_ctx_options opt = {.threads = threads, .seed = 1};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&opt, &ctx));
    int64_t s2[2] = {2, 2}, s1[1] = {2};
    dagl_tensor *w, *b, *x;
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 2, s2, 1.0, &w));
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, s1, 0.5, &b));
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int xi, wi, bi, copy, mm, add, asg;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, s2, &xi));
    CHECK_OK(dagl_graph_constant(g, w, &wi));
    CHECK_OK(dagl_graph_constant(g, b, &bi));
    CHECK_OK(dagl_graph_custom(g, "slow_copy", 1, &wi, DAGL_F32, 2, s2, slow_copy, NULL, NULL, NULL, &copy));
    int mm_src[2] = {xi, wi}, add_src[2] = {0, bi}, asg_src[2] = {wi, xi};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_MATMUL, 2, mm_src, NULL, &mm));
    add_src[0] = mm;
    CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 2, add_src, NULL, &add));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_ASSIGN, 2, asg_src, NULL, &asg));
    CHECK_OK(dagl_graph_output(g, copy));
    CHECK_OK(dagl_graph_output(g, add));
    dagl_graph_plan_info plan;
    CHECK_OK(dagl_graph_plan(g, &plan));
    CHECK(plan.nodes == 3); /* slow_copy, matmul+add, assign */
    for (int run = 1; run <= 4; run++) {
        CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 2, s2, (double)run * 10, &x));
        float old = at(w, 0);
        dagl_tensor *out[2];
        CHECK_OK(dagl_graph_run(g, &x, out));
        CHECK(at(out[0], 0) == old && at(out[0], 3) == old);
        CHECK(at(out[1], 0) == (float)run * 10 * old * 2 + 0.5f); /* x @ w_old + b */
        CHECK(at(w, 0) == (float)run * 10 && at(w, 3) == (float)run * 10);
        dagl_tensor_release(out[0]);
        dagl_tensor_release(out[1]);
        dagl_tensor_release(x);
    }
    dagl_graph_free(g);
    dagl_tensor_release(w);
    dagl_tensor_release(b);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
}

/* Shapes must match (no broadcasting), targets must be constants; the node's value is the target. */
static void errors_and_views(void)
{
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    int64_t s2[2] = {2, 3}, s1[1] = {3}, sq[2] = {2, 2};
    dagl_tensor *w, *v;
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 2, s2, 0.0, &w));
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F64, 1, s1, 1.0, &v));
    CHECK(dagl_assign(ctx, w, v) == DAGL_E_SHAPE);
    CHECK_STR(dagl_ctx_last_error(ctx),
              "assign: the target is float32 [2, 3] and the value float64 [3]: they must have the same shape");
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int wi, vi, xi, id, srcs[2];
    CHECK_OK(dagl_graph_constant(g, w, &wi));
    CHECK_OK(dagl_graph_constant(g, v, &vi));
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, s2, &xi));
    srcs[0] = wi, srcs[1] = vi;
    CHECK(dagl_graph_node(g, DAGL_OP_ASSIGN, 2, srcs, NULL, &id) == DAGL_E_SHAPE);
    CHECK(strstr(dagl_ctx_last_error(ctx), "float32 [2, 3] and the value float64 [3]") != NULL);
    srcs[0] = xi, srcs[1] = wi;
    CHECK(dagl_graph_node(g, DAGL_OP_ASSIGN, 2, srcs, NULL, &id) == DAGL_E_ARG);
    CHECK(strstr(dagl_ctx_last_error(ctx), "must be a constant of the graph") != NULL);
    dagl_graph_free(g);
    /* a value that is a transposed view of the target */
    dagl_tensor *m, *mt;
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 2, sq, 0.0, &m));
    for (int i = 0; i < 4; i++) ((float *)dagl_tensor_data(m))[i] = (float)i;
    int perm[2] = {1, 0};
    CHECK_OK(dagl_permute(ctx, m, perm, &mt));
    CHECK_OK(dagl_assign(ctx, m, mt));
    CHECK(at(m, 0) == 0 && at(m, 1) == 2 && at(m, 2) == 1 && at(m, 3) == 3);
    dagl_tensor_release(mt);
    dagl_tensor_release(m);
    dagl_tensor_release(w);
    dagl_tensor_release(v);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
}

/* w (100000 elements, so the update runs in several shares) read by a slow copy and by sum(w),
 * updated by w = w * 0.5 + x (one fused program): the program writes w in place (no copy by the
 * assign), yet the readers see the old w, at 1 to 4 threads. With check_numerics a NaN in x fails
 * the run and leaves w as it was; an update also read with the old w beside it, or handed out
 * through a view, stays a copy. */
static void inplace_update(int threads)
{
    dagl_ctx_options opt = {.threads = threads, .seed = 1};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&opt, &ctx));
    enum { N = 100000 };
    int64_t sh[1] = {N};
    dagl_tensor *w, *x;
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, sh, 2.0, &w));
    for (int variant = 0; variant < 3; variant++) {
        dagl_graph *g;
        CHECK_OK(dagl_graph_new(ctx, &g));
        int xi, wi, copy, sum, mul, upd, asg, both = -1;
        CHECK_OK(dagl_graph_input(g, DAGL_F32, 1, sh, &xi));
        CHECK_OK(dagl_graph_constant(g, w, &wi));
        CHECK_OK(dagl_graph_custom(g, "slow_copy", 1, &wi, DAGL_F32, 1, sh, slow_copy, NULL, NULL, NULL, &copy));
        dagl_node_params all = {.ndims = 0};
        CHECK_OK(dagl_graph_node(g, DAGL_OP_SUM, 1, &wi, &all, &sum));
        dagl_node_params half = {.has_scalar = 1, .scalar = 0.5};
        CHECK_OK(dagl_graph_node(g, DAGL_OP_MUL, 1, &wi, &half, &mul));
        int add_src[2] = {mul, xi};
        CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 2, add_src, NULL, &upd));
        int asg_src[2] = {wi, upd};
        CHECK_OK(dagl_graph_node(g, DAGL_OP_ASSIGN, 2, asg_src, NULL, &asg));
        CHECK_OK(dagl_graph_output(g, copy));
        CHECK_OK(dagl_graph_output(g, sum));
        if (variant == 1) { /* new + old: reads the old w and depends on the update */
            int s2[2] = {upd, wi};
            CHECK_OK(dagl_graph_node(g, DAGL_OP_SUB, 2, s2, NULL, &both));
            CHECK_OK(dagl_graph_output(g, both));
        } else if (variant == 2) { /* a view of the update handed out: it must not be w itself */
            dagl_node_params rp = {.nshape = 2, .shape = {2, N / 2}};
            CHECK_OK(dagl_graph_node(g, DAGL_OP_RESHAPE, 1, &upd, &rp, &both));
            CHECK_OK(dagl_graph_output(g, both));
        }
        dagl_graph_plan_info plan;
        CHECK_OK(dagl_graph_plan(g, &plan));
        CHECK(g->nodes[upd].prog != NULL);
        CHECK(g->nodes[upd].writes_const == (variant == 0 ? wi + 1 : 0));
        for (int run = 1; run <= 3; run++) {
            float old = at(w, 0), xv = (float)run;
            CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, sh, xv, &x));
            dagl_tensor *out[3];
            CHECK_OK(dagl_graph_run(g, &x, out));
            CHECK(at(out[0], 0) == old && at(out[0], N - 1) == old);
            CHECK(at(out[1], 0) == (float)N * old);
            float want = old * 0.5f + xv;
            CHECK(at(w, 0) == want && at(w, N / 2) == want && at(w, N - 1) == want);
            if (variant == 2) {
                CHECK(dagl_tensor_data(out[2]) != dagl_tensor_data(w));
                CHECK(at(out[2], 0) == want && at(out[2], N - 1) == want);
                dagl_tensor_release(out[2]);
            }
            if (variant == 1) {
                CHECK(at(out[2], 0) == want - old && at(out[2], N - 1) == want - old);
                dagl_tensor_release(out[2]);
            }
            dagl_tensor_release(out[0]);
            dagl_tensor_release(out[1]);
            dagl_tensor_release(x);
        }
        /* a NaN in the update under check_numerics: the run fails before w is touched */
        float before = at(w, 0);
        CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, sh, 1.0, &x));
        ((float *)dagl_tensor_data(x))[N - 1] = NAN;
        dagl_run_options ro = {.check_numerics = 1};
        dagl_tensor *out[3] = {NULL, NULL, NULL};
        CHECK(dagl_graph_run_ex(g, &x, out, &ro) == DAGL_E_NUMERIC);
        CHECK(at(w, 0) == before && at(w, N - 1) == before);
        dagl_tensor_release(x);
        dagl_graph_free(g);
    }
    dagl_tensor_release(w);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
}

int main(void)
{
    errors_and_views();
    for (int t = 1; t <= 4; t++) ordering(t);
    for (int t = 1; t <= 4; t++) inplace_update(t);
    printf("assign: ok\n");
    return 0;
}
