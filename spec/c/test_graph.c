/* test_graph.c -- graphs: shape inference and its errors, the Graphviz dump, runs at several
 * thread counts that match the same ops done eagerly, random DAGs, and errors that name the node
 * and its layer without leaking. */
#include "check.h"
#include "dagl.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One random op applied eagerly or as a node, so both paths can be compared. */
typedef struct rop {
    dagl_op op;
    int a, b;
} rop;

static dagl_status eager(dagl_ctx *ctx, rop o, dagl_tensor **v, dagl_tensor **out)
{
    if (o.op == DAGL_OP_TANH || o.op == DAGL_OP_RELU || o.op == DAGL_OP_SIGMOID) return dagl_unary(ctx, o.op, v[o.a], out);
    if (o.op == DAGL_OP_MATMUL) return dagl_matmul(ctx, v[o.a], v[o.b], out);
    return dagl_binary(ctx, o.op, v[o.a], v[o.b], out);
}

static int node(dagl_graph *g, rop o, const int *ids)
{
    int id, srcs[2] = {ids[o.a], ids[o.b]};
    bool unary = o.op == DAGL_OP_TANH || o.op == DAGL_OP_RELU || o.op == DAGL_OP_SIGMOID;
    CHECK_OK(dagl_graph_node(g, o.op, unary ? 1 : 2, srcs, NULL, &id));
    return id;
}

/* Random DAGs of square matrices: graph results equal eager results bitwise, any thread count. */
static void random_dags(int threads, unsigned seed)
{
    dagl_ctx_options opt = {.threads = threads, .seed = 7};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&opt, &ctx));
    srand(seed);
    for (int trial = 0; trial < 30; trial++) {
        int n = 2 + rand() % 40, nin = 2;
        int64_t shape[2] = {16, 16};
        dagl_tensor *v[64] = {0};
        int ids[64];
        dagl_graph *g;
        CHECK_OK(dagl_graph_new(ctx, &g));
        for (int i = 0; i < nin; i++) {
            CHECK_OK(dagl_randn(ctx, DAGL_F32, 2, shape, &v[i]));
            CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, shape, &ids[i]));
        }
        static const dagl_op ops[] = {DAGL_OP_ADD, DAGL_OP_MUL, DAGL_OP_SUB, DAGL_OP_TANH, DAGL_OP_MATMUL,
                                      DAGL_OP_RELU, DAGL_OP_SIGMOID, DAGL_OP_MAXIMUM};
        for (int i = nin; i < nin + n; i++) {
            rop o = {ops[rand() % 8], rand() % i, rand() % i};
            CHECK_OK(eager(ctx, o, v, &v[i]));
            ids[i] = node(g, o, ids);
        }
        int nout = 1 + rand() % 3;
        int outs[3];
        for (int k = 0; k < nout; k++) {
            outs[k] = nin + rand() % n;
            CHECK_OK(dagl_graph_output(g, ids[outs[k]]));
        }
        for (int rep = 0; rep < 3; rep++) {
            dagl_tensor *res[3];
            CHECK_OK(dagl_graph_run(g, v, res));
            for (int k = 0; k < nout; k++) {
                CHECK(dagl_tensor_numel(res[k]) == 256);
                CHECK(memcmp(dagl_tensor_data(res[k]), dagl_tensor_data(v[outs[k]]), 256 * sizeof(float)) == 0);
                dagl_tensor_release(res[k]);
            }
        }
        dagl_graph_free(g);
        for (int i = 0; i < nin + n; i++) dagl_tensor_release(v[i]);
    }
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
}

/* Shape inference, dot output, scalar/reduce/where nodes, and input checking. */
static void build_and_errors(void)
{
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int x, w, mm, s, r, bad;
    int64_t xs[2] = {4, 3}, ws[2] = {3, 5};
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, xs, &x));
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, ws, &w));
    int srcs[2] = {x, w};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_MATMUL, 2, srcs, NULL, &mm));
    CHECK_OK(dagl_graph_set_label(g, mm, "dense_1"));
    dagl_node_params p = {.has_scalar = 1, .scalar = 2.0};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_MUL, 1, &mm, &p, &s));
    dagl_node_params rp = {.dims = {1}, .ndims = 1, .keepdim = 0};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_SUM, 1, &s, &rp, &r));
    dagl_dtype dt;
    int nd;
    const int64_t *shape;
    CHECK_OK(dagl_graph_node_info(g, r, &dt, &nd, &shape));
    CHECK(dt == DAGL_F32 && nd == 1 && shape[0] == 4);
    /* misaligned matmul is refused when built, naming both shapes */
    int srcs2[2] = {x, x};
    CHECK(dagl_graph_node(g, DAGL_OP_MATMUL, 2, srcs2, NULL, &bad) == DAGL_E_SHAPE);
    CHECK(strstr(dagl_ctx_last_error(ctx), "[4, 3] and [4, 3]") != NULL);
    CHECK_OK(dagl_graph_output(g, r));
    char *dot = dagl_graph_dot(g);
    CHECK(dot && strstr(dot, "digraph") && strstr(dot, "matmul @dense_1") && strstr(dot, "n2 -> n3"));
    free(dot);

    dagl_tensor *in[2], *out[1];
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 2, xs, 1.0, &in[0]));
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 2, ws, 0.5, &in[1]));
    CHECK_OK(dagl_graph_run(g, in, out));
    for (int i = 0; i < 4; i++) CHECK_NEAR(((float *)dagl_tensor_data(out[0]))[i], 15.0, 1e-5); /* 5 * (3*0.5) * 2 */
    dagl_tensor_release(out[0]);
    /* a wrong input shape is refused before anything runs */
    dagl_tensor *wrong;
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 2, ws, 1.0, &wrong));
    dagl_tensor *in2[2] = {wrong, in[1]};
    CHECK(dagl_graph_run(g, in2, out) == DAGL_E_SHAPE);
    CHECK(strstr(dagl_ctx_last_error(ctx), "input 1 is float32 [3, 5], the graph takes float32 [4, 3]") != NULL);
    dagl_tensor_release(wrong);
    dagl_tensor_release(in[0]);
    dagl_tensor_release(in[1]);
    dagl_graph_free(g);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
}

/* A custom node that always fails, and counts its calls. */
static dagl_status failing(void *ud, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs, dagl_tensor **out)
{
    (*(int *)ud)++;
    return dagl_ctx_set_error(ctx, DAGL_E_ARG, "failing node ran");
}

/* Dead nodes (no path to an output) never run; adding an output that needs them makes them run. */
static void dead_nodes(void)
{
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int64_t shape[1] = {4};
    int x, live, dead, calls = 0;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 1, shape, &x));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_EXP, 1, &x, NULL, &live));
    CHECK_OK(dagl_graph_custom(g, "failing", 1, &x, DAGL_F32, 1, shape, failing, &calls, NULL, NULL, &dead));
    CHECK_OK(dagl_graph_output(g, live));
    dagl_tensor *in, *out[2];
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, shape, 0.0, &in));
    CHECK_OK(dagl_graph_run(g, &in, out));
    CHECK(calls == 0 && ((float *)dagl_tensor_data(out[0]))[0] == 1.0f);
    dagl_tensor_release(out[0]);
    CHECK_OK(dagl_graph_output(g, dead));
    CHECK(dagl_graph_run(g, &in, out) == DAGL_E_ARG && calls == 1);
    CHECK(strstr(dagl_ctx_last_error(ctx), "node %2 (failing, inputs [4]): failing node ran") != NULL);
    dagl_tensor_release(in);
    dagl_graph_free(g);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
}

/* A custom node returning a strided view whose second element (in C order) is infinite. */
static dagl_status inf_view(void *ud, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs, dagl_tensor **out)
{
    dagl_tensor *m;
    int64_t shape[2] = {2, 2};
    dagl_status st = dagl_tensor_full(ctx, DAGL_F64, 2, shape, 1.0, &m);
    if (st) return st;
    ((double *)dagl_tensor_data(m))[2] = INFINITY; /* row 1, col 0: element 2 of the transpose */
    st = dagl_transpose(ctx, m, 0, 1, out);
    dagl_tensor_release(m);
    return st;
}

/* check_numerics: off, NaN passes; on, the first node giving NaN (or inf, also in a strided
 * custom output, or in an input) fails the run, naming it; finite runs pass; nothing leaks. */
static void check_numerics(void)
{
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int64_t shape[1] = {3}, sq[2] = {2, 2};
    int x, lg, ex, cv;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 1, shape, &x));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_LOG, 1, &x, NULL, &lg));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_EXP, 1, &lg, NULL, &ex));
    CHECK_OK(dagl_graph_set_label(g, lg, "logs"));
    CHECK_OK(dagl_graph_custom(g, "inf_view", 1, &x, DAGL_F64, 2, sq, inf_view, NULL, NULL, NULL, &cv));
    CHECK_OK(dagl_graph_output(g, ex));
    dagl_tensor *in, *out[2];
    float *xs;
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, shape, 1.0, &in));
    xs = dagl_tensor_data(in);
    xs[1] = -1.0f;
    dagl_run_options on = {.check_numerics = 1};
    CHECK_OK(dagl_graph_run(g, &in, out)); /* off: NaN passes */
    CHECK(isnan(((float *)dagl_tensor_data(out[0]))[1]));
    dagl_tensor_release(out[0]);
    CHECK(dagl_graph_run_ex(g, &in, out, &on) == DAGL_E_NUMERIC && out[0] == NULL);
    /* log and exp run fused (graph/fuse.c): the error names the chain holding the op */
    CHECK(strstr(dagl_ctx_last_error(ctx), "node %2 (log+exp, inputs [3]): check_numerics: the float32 [3] "
                                           "output has NaN at element 2") != NULL);
    xs[1] = 2.0f;
    CHECK_OK(dagl_graph_run_ex(g, &in, out, &on));
    dagl_tensor_release(out[0]);
    xs[2] = -INFINITY;
    CHECK(dagl_graph_run_ex(g, &in, out, &on) == DAGL_E_NUMERIC);
    CHECK(strstr(dagl_ctx_last_error(ctx), "graph input 1 (node %0) has -inf at element 3") != NULL);
    xs[2] = 1.0f;
    CHECK_OK(dagl_graph_output(g, cv));
    CHECK(dagl_graph_run_ex(g, &in, out, &on) == DAGL_E_NUMERIC);
    CHECK(strstr(dagl_ctx_last_error(ctx), "(inf_view, inputs [3]): check_numerics: the float64 [2, 2] output has inf "
                                           "at element 2") != NULL);
    dagl_tensor_release(in);
    dagl_graph_free(g);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
}

/* Wide graphs: many independent chains joined at the end, at 1..4 threads. */
static void wide_graph(int threads)
{
    dagl_ctx_options opt = {.threads = threads};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&opt, &ctx));
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int64_t shape[1] = {8};
    int x, acc = -1;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 1, shape, &x));
    dagl_node_params one = {.has_scalar = 1, .scalar = 1.0};
    for (int b = 0; b < 100; b++) {
        int cur = x;
        for (int d = 0; d < 10; d++) CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 1, &cur, &one, &cur));
        if (acc < 0) acc = cur;
        else {
            int s[2] = {acc, cur};
            CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 2, s, NULL, &acc));
        }
    }
    CHECK_OK(dagl_graph_output(g, acc));
    dagl_tensor *in, *out;
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, shape, 0.0, &in));
    for (int rep = 0; rep < 20; rep++) {
        CHECK_OK(dagl_graph_run(g, &in, &out));
        for (int i = 0; i < 8; i++) CHECK(((float *)dagl_tensor_data(out))[i] == 1000.0f);
        dagl_tensor_release(out);
    }
    dagl_tensor_release(in);
    dagl_graph_free(g);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
}

int main(void)
{
    build_and_errors();
    dead_nodes();
    check_numerics();
    for (int t = 1; t <= 4; t++) {
        random_dags(t, 1234u + (unsigned)t);
        wide_graph(t);
    }
    printf("graph: ok\n");
    return 0;
}
