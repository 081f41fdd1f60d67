/* test_fuse_ew.c -- elementwise fusion (src/graph/fuse_ew.c, kernels/ew_program.c): trees of
 * unary, binary and compare ops become one node whose results are bitwise those of the eager ops
 * at 1 and 2 threads (an Adam update with a 0-d hyper-parameter, scalar operands on either side,
 * a relu gradient's compare, float64, non-contiguous sources, one-element sources broadcast);
 * intermediates that are outputs end
 * a tree; trees over the program's limits are split; nodes after an assign stay unfused. */
#include "check.h"
#include "graph/graph.h"

#include <dagl.h>

/* A value built twice: as a graph node and eagerly. */
typedef struct val {
    int id;
    dagl_tensor *t;
} val;

static dagl_ctx *ctx;
static dagl_graph *g;
static dagl_tensor *made[256]; /* every tensor a test made, released by done() */
static int nmade;

/* Remembers t for done(); returns it. */
static dagl_tensor *keep(dagl_tensor *t)
{
    CHECK(nmade < 256);
    return made[nmade++] = t;
}

/* Ends a test: frees its graph and tensors. */
static void done(void)
{
    dagl_graph_free(g);
    for (int i = 0; i < nmade; i++) dagl_tensor_release(made[i]);
    nmade = 0;
}

static val input(dagl_tensor *t)
{
    val v = {0, keep(t)};
    CHECK_OK(dagl_graph_constant(g, t, &v.id));
    return v;
}

static val bin(dagl_op op, val a, val b)
{
    val v;
    int s[2] = {a.id, b.id};
    CHECK_OK(dagl_graph_node(g, op, 2, s, NULL, &v.id));
    CHECK_OK(dagl_binary(ctx, op, a.t, b.t, &v.t));
    keep(v.t);
    return v;
}

static val sc(dagl_op op, val a, double s, int first)
{
    val v;
    dagl_node_params p = {.has_scalar = 1, .scalar = s, .scalar_first = first};
    CHECK_OK(dagl_graph_node(g, op, 1, &a.id, &p, &v.id));
    CHECK_OK(dagl_binary_scalar(ctx, op, a.t, s, first, &v.t));
    keep(v.t);
    return v;
}

static val un(dagl_op op, val a)
{
    val v;
    CHECK_OK(dagl_graph_node(g, op, 1, &a.id, NULL, &v.id));
    CHECK_OK(dagl_unary(ctx, op, a.t, &v.t));
    keep(v.t);
    return v;
}

/* v's transpose (a 2-D view), in the graph and eagerly. */
static val transpose(val v)
{
    val t;
    int perm[2] = {1, 0};
    dagl_node_params p = {.dims = {1, 0}, .ndims = 2};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_PERMUTE, 1, &v.id, &p, &t.id));
    CHECK_OK(dagl_permute(ctx, v.t, perm, &t.t));
    keep(t.t);
    return t;
}

/* Makes outs[first..nout) outputs, runs: the results for outs have the eager values' bits; nlive
 * op nodes ran. */
static void check_run(int nout, const val *outs, int first, int nlive)
{
    dagl_tensor *res[8];
    for (int i = first; i < nout; i++) CHECK_OK(dagl_graph_output(g, outs[i].id));
    CHECK_OK(dagl_graph_run(g, NULL, res));
    if (g->nlive_ops != nlive)
        for (int i = 0; i < g->n; i++) fprintf(stderr, "node %d %s live %d\n", i, dagl__node_name(&g->nodes[i]), g->live[i]);
    CHECK(g->nlive_ops == nlive);
    for (int i = 0; i < nout; i++) {
        const dagl_tensor *w = outs[i].t;
        size_t bytes = (size_t)dagl_tensor_numel(w) * dagl_dtype_size(dagl_tensor_dtype(w));
        CHECK(dagl_tensor_dtype(res[i]) == dagl_tensor_dtype(w) && dagl_tensor_numel(res[i]) == dagl_tensor_numel(w));
        CHECK(memcmp(dagl_tensor_data(res[i]), dagl_tensor_data(w), bytes) == 0);
        dagl_tensor_release(res[i]);
    }
}

/* Keras's Adam on one weight: m, v and w's new values; m and v are outputs (the assigns' values
 * in a training step), so three programs: sub+mul+add, mul+sub+mul+add, mul+sqrt+add+div+sub. */
static void adam(dagl_dtype dt, int transposed)
{
    int64_t shape[2] = {300, 233}; /* several shares and blocks, and an odd tail */
    dagl_tensor *tw, *tm, *tv, *tg, *ta;
    CHECK_OK(dagl_randn(ctx, dt, 2, shape, &tw));
    CHECK_OK(dagl_randn(ctx, dt, 2, shape, &tm));
    CHECK_OK(dagl_rand(ctx, dt, 2, shape, &tv));
    CHECK_OK(dagl_randn(ctx, dt, 2, shape, &tg));
    CHECK_OK(dagl_tensor_full(ctx, dt, 0, NULL, 0.001, &ta));
    CHECK_OK(dagl_graph_new(ctx, &g));
    val w = input(tw), m = input(tm), v = input(tv), gr = input(tg), alpha = input(ta);
    if (transposed) { /* non-contiguous sources: the program copies them first */
        gr = transpose(gr);
        w = transpose(w);
        m = transpose(m);
        v = transpose(v);
    }
    val m1 = bin(DAGL_OP_ADD, m, sc(DAGL_OP_MUL, bin(DAGL_OP_SUB, gr, m), 0.1, 0));
    val v1 = bin(DAGL_OP_ADD, v, sc(DAGL_OP_MUL, bin(DAGL_OP_SUB, bin(DAGL_OP_MUL, gr, gr), v), 0.001, 0));
    val w1 = bin(DAGL_OP_SUB, w, bin(DAGL_OP_DIV, bin(DAGL_OP_MUL, m1, alpha), sc(DAGL_OP_ADD, un(DAGL_OP_SQRT, v1), 1e-7, 0)));
    val outs[3] = {m1, v1, w1};
    check_run(3, outs, 0, 3 + (transposed ? 4 : 0));
    CHECK_STR(dagl__node_name(&g->nodes[m1.id]), "sub+mul+add");
    CHECK_STR(dagl__node_name(&g->nodes[v1.id]), "mul+sub+mul+add");
    CHECK_STR(dagl__node_name(&g->nodes[w1.id]), "mul+sqrt+add+div+sub");
    done();
}

/* Scalars on the left (1 - x, 2 / x), a relu gradient (x > 0) * dy, pow and maximum, exp of a
 * one-element value broadcast: one program; its first node made an output later runs by itself too. */
static void mixed(dagl_dtype dt)
{
    int64_t shape[1] = {70001};
    dagl_tensor *tx, *ty, *tz;
    CHECK_OK(dagl_randn(ctx, dt, 1, shape, &tx));
    CHECK_OK(dagl_randn(ctx, dt, 1, shape, &ty));
    CHECK_OK(dagl_tensor_full(ctx, dt, 1, (int64_t[]){1}, -1.5, &tz));
    CHECK_OK(dagl_graph_new(ctx, &g));
    val x = input(tx), dy = input(ty), z = input(tz);
    val a = sc(DAGL_OP_SUB, x, 1, 1);                      /* 1 - x */
    val b = bin(DAGL_OP_MUL, sc(DAGL_OP_GT, x, 0, 0), dy);  /* relu's gradient */
    val c = sc(DAGL_OP_DIV, un(DAGL_OP_ABS, bin(DAGL_OP_ADD, a, b)), 2, 1);
    val d = bin(DAGL_OP_MAXIMUM, sc(DAGL_OP_POW, un(DAGL_OP_TANH, c), 2, 0), un(DAGL_OP_EXP, z));
    check_run(1, &d, 0, 2); /* exp(z) has one element: it runs by itself and is broadcast */
    CHECK_STR(dagl__node_name(&g->nodes[d.id]), "sub+gt+mul+add+abs+div+tanh+pow+maximum");
    /* an inner node made an output: it and the root both run (the root keeps its program) */
    val outs[2] = {d, a};
    check_run(2, outs, 1, 3);
    done();
}

/* A chain of 40 ops is over one program's 16 steps: it is split, and still exact. */
static void long_chain(void)
{
    int64_t shape[1] = {5000};
    dagl_tensor *tx;
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 1, shape, &tx));
    CHECK_OK(dagl_graph_new(ctx, &g));
    val x = input(tx), y = x;
    for (int i = 0; i < 40; i++) y = i % 2 ? sc(DAGL_OP_MUL, y, 0.9, 0) : bin(DAGL_OP_ADD, y, x);
    CHECK_OK(dagl_graph_output(g, y.id));
    CHECK_OK(dagl__graph_prepare(g));
    CHECK(g->nlive_ops > 1 && g->nlive_ops <= 5);
    check_run(1, &y, 1, g->nlive_ops);
    done();
}

/* A node reading an assign's result (the new value) is not moved into a tree that reads the
 * old one: the graph still orders and gives the eager results (old value, then the new). */
static void after_assign(void)
{
    int64_t shape[1] = {1000};
    dagl_tensor *tc, *tx, *want_old, *want_new;
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 1, shape, &tc));
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 1, shape, &tx));
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_MUL, tc, 3, 0, &want_old));  /* c * 3 (old c) */
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_ADD, tx, 1, 0, &want_new));  /* the new c = x + 1 */
    CHECK_OK(dagl_graph_new(ctx, &g));
    int c, x, old3, nx, as, use;
    CHECK_OK(dagl_graph_constant(g, tc, &c));
    CHECK_OK(dagl_graph_constant(g, tx, &x));
    dagl_node_params three = {.has_scalar = 1, .scalar = 3}, one = {.has_scalar = 1, .scalar = 1},
                     zero = {.has_scalar = 1, .scalar = 0};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_MUL, 1, &c, &three, &old3));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 1, &x, &one, &nx));
    int s[2] = {c, nx};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_ASSIGN, 2, s, NULL, &as));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 1, &as, &zero, &use)); /* reads the new c */
    CHECK_OK(dagl_graph_output(g, old3));
    CHECK_OK(dagl_graph_output(g, use));
    dagl_tensor *res[2];
    CHECK_OK(dagl_graph_run(g, NULL, res));
    CHECK(memcmp(dagl_tensor_data(res[0]), dagl_tensor_data(want_old), 1000 * sizeof(float)) == 0);
    CHECK(memcmp(dagl_tensor_data(res[1]), dagl_tensor_data(want_new), 1000 * sizeof(float)) == 0);
    dagl_tensor_release(res[0]), dagl_tensor_release(res[1]);
    dagl_tensor_release(want_old), dagl_tensor_release(want_new);
    dagl_tensor_release(tc), dagl_tensor_release(tx);
    dagl_graph_free(g);
}

int main(void)
{
    for (int threads = 1; threads <= 2; threads++) {
        dagl_ctx_options opt = {.threads = threads, .seed = 5};
        CHECK_OK(dagl_ctx_new(&opt, &ctx));
        for (int dt = 0; dt < 2; dt++) {
            adam(dt ? DAGL_F64 : DAGL_F32, 0);
            adam(dt ? DAGL_F64 : DAGL_F32, 1);
            mixed(dt ? DAGL_F64 : DAGL_F32);
        }
        long_chain();
        after_assign();
        CHECK(dagl_ctx_live_bytes(ctx) == 0);
        dagl_ctx_free(ctx);
    }
    printf("ok\n");
    return 0;
}
