/* test_fuse.c -- GEMM epilogue fusion (src/graph/fuse.c): matmul or conv2d -> bias add ->
 * activation chains become one node whose results are bitwise those of the eager ops at 1 and 2
 * threads; chains whose intermediates are outputs or used elsewhere, or whose add is not a 1-D
 * bias, stay; a max pooling's gradient times a relu's mask becomes one node; and
 * dagl_graph_plan's node count and memory estimate. */
#include "check.h"
#include "graph/graph.h"

#include <dagl.h>

/* The eager reference: matmul, then x + b (or b + x), then act. */
static dagl_tensor *eager(dagl_ctx *ctx, dagl_tensor *x, dagl_tensor *w, dagl_tensor *b, int bias_first, dagl_op act)
{
    dagl_tensor *m, *a, *r;
    CHECK_OK(dagl_matmul(ctx, x, w, &m));
    CHECK_OK(bias_first ? dagl_binary(ctx, DAGL_OP_ADD, b, m, &a) : dagl_binary(ctx, DAGL_OP_ADD, m, b, &a));
    dagl_tensor_release(m);
    if (act == DAGL_OP_NONE) return a;
    CHECK_OK(dagl_unary(ctx, act, a, &r));
    dagl_tensor_release(a);
    return r;
}

/* Runs g on x: `nlive` op nodes ran, the first of its `nres` results has want's bits. */
static void run_check(dagl_graph *g, dagl_tensor *x, int nres, int nlive, const dagl_tensor *want)
{
    dagl_tensor *res[2];
    CHECK_OK(dagl_graph_run(g, &x, res));
    CHECK(g->nlive_ops == nlive);
    size_t bytes = (size_t)dagl_tensor_numel(want) * dagl_dtype_size(dagl_tensor_dtype(want));
    CHECK(memcmp(dagl_tensor_data(res[0]), dagl_tensor_data(want), bytes) == 0);
    for (int i = 0; i < nres; i++) dagl_tensor_release(res[i]);
}

/* Builds x @ w + b (+ act) with x an input; `extra_out` also makes the add an output. Returns the
 * result node; *g the graph. */
static int build(dagl_ctx *ctx, dagl_graph **g, dagl_tensor *x, dagl_tensor *w, dagl_tensor *b, int bias_first,
                 dagl_op act, int extra_out)
{
    int ix, iw, ib, mm, add, out;
    CHECK_OK(dagl_graph_new(ctx, g));
    CHECK_OK(dagl_graph_input(*g, dagl_tensor_dtype(x), dagl_tensor_ndim(x), dagl_tensor_shape(x), &ix));
    CHECK_OK(dagl_graph_constant(*g, w, &iw));
    CHECK_OK(dagl_graph_constant(*g, b, &ib));
    int s1[2] = {ix, iw};
    CHECK_OK(dagl_graph_node(*g, DAGL_OP_MATMUL, 2, s1, NULL, &mm));
    int s2[2] = {bias_first ? ib : mm, bias_first ? mm : ib};
    CHECK_OK(dagl_graph_node(*g, DAGL_OP_ADD, 2, s2, NULL, &add));
    out = add;
    if (act != DAGL_OP_NONE) CHECK_OK(dagl_graph_node(*g, act, 1, &add, NULL, &out));
    CHECK_OK(dagl_graph_output(*g, out));
    if (extra_out) CHECK_OK(dagl_graph_output(*g, add));
    return out;
}

/* Every activation, both add orders, f32 and f64, 1 and 2 threads: bitwise equal, fewer nodes. */
static void fused_equals_eager(int threads)
{
    dagl_ctx_options opt = {.threads = threads, .seed = 3};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&opt, &ctx));
    static const dagl_op acts[] = {DAGL_OP_NONE, DAGL_OP_RELU, DAGL_OP_TANH, DAGL_OP_SIGMOID};
    static const char *names[] = {"matmul+add", "matmul+add+relu", "matmul+add+tanh", "matmul+add+sigmoid"};
    /* W1's first layer (row bands), and a product split into a 2 x 2 grid of blocks (the bias
     * and activation then go block by block) */
    static const int64_t dims[2][3] = {{1000, 100, 64}, {256, 64, 256}};
    for (int sh = 0; sh < 2; sh++)
    for (int dt = 0; dt < 2; dt++)
        for (int k = 0; k < 4; k++)
            for (int bias_first = 0; bias_first < 2; bias_first++) {
                dagl_dtype t = dt ? DAGL_F64 : DAGL_F32;
                int64_t xs[2] = {dims[sh][0], dims[sh][1]}, ws[2] = {dims[sh][1], dims[sh][2]}, bs[1] = {dims[sh][2]};
                dagl_tensor *x, *w, *b;
                CHECK_OK(dagl_randn(ctx, t, 2, xs, &x));
                CHECK_OK(dagl_randn(ctx, t, 2, ws, &w));
                CHECK_OK(dagl_randn(ctx, t, 1, bs, &b));
                dagl_tensor *want = eager(ctx, x, w, b, bias_first, acts[k]);
                dagl_graph *g;
                int out = build(ctx, &g, x, w, b, bias_first, acts[k], 0);
                run_check(g, x, 1, 1, want);
                CHECK_STR(dagl__node_name(&g->nodes[out]), names[k]);
                dagl_graph_free(g);
                /* the same graph unfused runs every node */
                build(ctx, &g, x, w, b, bias_first, acts[k], 0);
                g->no_fuse = true;
                run_check(g, x, 1, acts[k] == DAGL_OP_NONE ? 2 : 3, want);
                dagl_graph_free(g);
                /* an add that is an output ends the chain: matmul+add, then the activation */
                if (acts[k] != DAGL_OP_NONE) {
                    out = build(ctx, &g, x, w, b, bias_first, acts[k], 1);
                    run_check(g, x, 2, 2, want);
                    CHECK_STR(dagl__node_name(&g->nodes[out]), dagl_op_name(acts[k]));
                    dagl_graph_free(g);
                }
                dagl_tensor_release(want);
                dagl_tensor_release(x);
                dagl_tensor_release(w);
                dagl_tensor_release(b);
            }
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
}

/* Inputs x (rows x k), w (k x cols) and an addend of shape ashape (andim dims); m = x @ w and
 * a = m + addend. Returns a's id, m's in *mm. */
static int matmul_add(dagl_graph *g, int64_t rows, int64_t k, int64_t cols, int andim, const int64_t *ashape, int *mm)
{
    int64_t xs[2] = {rows, k}, ws[2] = {k, cols};
    int ix, iw, ic, a;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, xs, &ix));
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, ws, &iw));
    CHECK_OK(dagl_graph_input(g, DAGL_F32, andim, ashape, &ic));
    int s1[2] = {ix, iw};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_MATMUL, 2, s1, NULL, mm));
    int s2[2] = {*mm, ic};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 2, s2, NULL, &a));
    return a;
}

/* Chains that must not fuse with the matmul: a matmul used twice, a 2-D addend, a scalar add (the
 * adds and the relu become one elementwise program, fuse_ew.c); a matrix-vector product plus a
 * bias along its rows (it runs unfused, with the eager result). */
static void not_fused(void)
{
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int64_t full[2] = {8, 3};
    int mm, a2, a3, r;
    int a1 = matmul_add(g, 8, 4, 3, 2, full, &mm); /* a 2-D addend */
    dagl_node_params p = {.has_scalar = 1, .scalar = 2};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 1, &mm, &p, &a2)); /* a second use, scalar */
    int s3[2] = {a1, a2};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 2, s3, NULL, &a3));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_RELU, 1, &a3, NULL, &r));
    CHECK_OK(dagl_graph_output(g, r));
    CHECK_OK(dagl__graph_prepare(g));
    CHECK(g->nlive_ops == 2);
    CHECK_STR(dagl__node_name(&g->nodes[r]), "add+add+add+relu");
    for (int i = 0; i < g->n; i++) CHECK(!dagl__node_is_fused(&g->nodes[i]));
    dagl_graph_free(g);

    CHECK_OK(dagl_graph_new(ctx, &g));
    int64_t ms[2] = {6, 4}, vs[1] = {4}, bs[1] = {6};
    dagl_tensor *mt, *vt, *bt, *mv, *want, *got;
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 2, ms, &mt));
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 1, vs, &vt));
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 1, bs, &bt));
    CHECK_OK(dagl_matmul(ctx, mt, vt, &mv));
    CHECK_OK(dagl_binary(ctx, DAGL_OP_ADD, mv, bt, &want));
    int im, iv, ibias, mvid, sum;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, ms, &im));
    CHECK_OK(dagl_graph_constant(g, vt, &iv));
    CHECK_OK(dagl_graph_constant(g, bt, &ibias));
    int s4[2] = {im, iv};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_MATMUL, 2, s4, NULL, &mvid));
    int s5[2] = {mvid, ibias};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 2, s5, NULL, &sum));
    CHECK_OK(dagl_graph_output(g, sum));
    CHECK_OK(dagl_graph_run(g, &mt, &got));
    CHECK(g->nlive_ops == 2);
    CHECK(memcmp(dagl_tensor_data(got), dagl_tensor_data(want), 6 * sizeof(float)) == 0);
    dagl_tensor_release(got), dagl_tensor_release(want), dagl_tensor_release(mv);
    dagl_tensor_release(mt), dagl_tensor_release(vt), dagl_tensor_release(bt);
    dagl_graph_free(g);
    dagl_ctx_free(ctx);
}

/* dagl_graph_plan: node count after fusion and the memory plan, against hand counts.
 * x (10x4 f32) -> m = x @ w (10x3) -> a = m + b -> r = relu(a): fused, one 120-byte result;
 * t = r * 2 (120 B) -> v = t reshaped (a view, 0 B) -> s = sum(v) (4 B, output); e = exp(r)
 * (120 B, output). Planned: r and t, in 128-byte slots (64-byte aligned); t is not written
 * over r, which e still reads (and e may run before or after t): arena 256. The outputs s and
 * e have memory of their own: peak 256 + 4 + 120. */
static void plan(void)
{
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int64_t bs[1] = {3};
    int m, r, t, v, s, e;
    int a = matmul_add(g, 10, 4, 3, 1, bs, &m);
    CHECK_OK(dagl_graph_node(g, DAGL_OP_RELU, 1, &a, NULL, &r));
    dagl_node_params two = {.has_scalar = 1, .scalar = 2};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_MUL, 1, &r, &two, &t));
    dagl_node_params flat = {.nshape = 1, .shape = {30}};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_RESHAPE, 1, &t, &flat, &v));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_EXP, 1, &r, NULL, &e));
    dagl_node_params all = {0};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_SUM, 1, &v, &all, &s));
    CHECK_OK(dagl_graph_output(g, s));
    CHECK_OK(dagl_graph_output(g, e));
    dagl_graph_plan_info info;
    CHECK_OK(dagl_graph_plan(g, &info));
    CHECK(info.nodes == 5);                       /* fused, mul, reshape, exp, sum */
    CHECK(info.total_bytes == 120 + 120 + 120 + 4);
    CHECK(info.arena_bytes == 256);
    CHECK(info.peak_bytes == 256 + 4 + 120);
    CHECK(info.planned_nodes == 2 && info.inplace_nodes == 0);
    dagl_graph_free(g);
    dagl_ctx_free(ctx);
}

/* Runs of unary ops become one node: eager bits at 1 and 2 threads, with an odd and an even
 * number of ops (the block ping-pongs between output and scratch), from a transposed input too;
 * intermediates made outputs later run again by themselves. */
static void unary_chains(int threads)
{
    dagl_ctx_options opt = {.threads = threads, .seed = 9};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&opt, &ctx));
    static const dagl_op ops[] = {DAGL_OP_EXP, DAGL_OP_TANH, DAGL_OP_NEG, DAGL_OP_SIGMOID, DAGL_OP_ABS};
    for (int dt = 0; dt < 2; dt++)
        for (int nops = 2; nops <= 5; nops++)
            for (int transposed = 0; transposed < 2; transposed++) {
                int64_t shape[2] = {300, 233}; /* 69900 elements: several shares and blocks */
                dagl_tensor *x, *want;
                CHECK_OK(dagl_randn(ctx, dt ? DAGL_F64 : DAGL_F32, 2, shape, &x));
                dagl_graph *g;
                CHECK_OK(dagl_graph_new(ctx, &g));
                int id, perm_id;
                CHECK_OK(dagl_graph_input(g, dagl_tensor_dtype(x), 2, shape, &id));
                if (transposed) {
                    dagl_node_params p = {.dims = {1, 0}, .ndims = 2};
                    CHECK_OK(dagl_graph_node(g, DAGL_OP_PERMUTE, 1, &id, &p, &perm_id));
                    id = perm_id;
                    int perm[2] = {1, 0};
                    CHECK_OK(dagl_permute(ctx, x, perm, &want));
                } else {
                    dagl_tensor_retain(x);
                    want = x;
                }
                int mid = -1;
                for (int k = 0; k < nops; k++) {
                    dagl_tensor *next;
                    CHECK_OK(dagl_unary(ctx, ops[k], want, &next));
                    dagl_tensor_release(want);
                    want = next;
                    CHECK_OK(dagl_graph_node(g, ops[k], 1, &id, NULL, &id));
                    if (k == 0) mid = id;
                }
                CHECK_OK(dagl_graph_output(g, id));
                run_check(g, x, 1, 1 + transposed, want);
                if (nops == 5) CHECK_STR(dagl__node_name(&g->nodes[id]), "exp+tanh+neg+sigmoid+abs");
                /* the first op's result made an output after a run: it runs too, by itself (the
                 * fused node keeps computing the whole chain) */
                CHECK_OK(dagl_graph_output(g, mid));
                run_check(g, x, 2, 2 + transposed, want);
                dagl_graph_free(g);
                dagl_tensor_release(want);
                dagl_tensor_release(x);
            }
    /* exp -> tanh (an output) -> neg (an output): exp+tanh, then neg alone */
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int64_t n = 5;
    int x, e, t, ng;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 1, &n, &x));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_EXP, 1, &x, NULL, &e));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_TANH, 1, &e, NULL, &t));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_NEG, 1, &t, NULL, &ng));
    CHECK_OK(dagl_graph_output(g, t));
    CHECK_OK(dagl_graph_output(g, ng));
    CHECK_OK(dagl__graph_prepare(g));
    CHECK(g->nlive_ops == 2);
    CHECK_STR(dagl__node_name(&g->nodes[t]), "exp+tanh");
    CHECK_STR(dagl__node_name(&g->nodes[ng]), "neg");
    dagl_graph_free(g);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
}

/* conv2d -> + bias (either order) -> activation: one node, eager bits, f32 and f64, strided
 * and padded; an add that is an output keeps the activation apart. */
static void conv_fused(int threads)
{
    dagl_ctx_options opt = {.threads = threads, .seed = 5};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&opt, &ctx));
    static const dagl_op acts[] = {DAGL_OP_NONE, DAGL_OP_RELU, DAGL_OP_TANH, DAGL_OP_SIGMOID};
    static const char *names[] = {"conv2d+add", "conv2d+add+relu", "conv2d+add+tanh", "conv2d+add+sigmoid"};
    for (int dt = 0; dt < 2; dt++)
        for (int k = 0; k < 4; k++)
            for (int variant = 0; variant < 3; variant++) {
                dagl_dtype t = dt ? DAGL_F64 : DAGL_F32;
                int64_t xs[4] = {4, 14, 13, 6}, ks[4] = {3, 3, 6, 40}, bs[1] = {40};
                dagl_node_params wp = {0};
                wp.window = (dagl_window2d){{0, 0}, {variant == 2 ? 2 : 1, 1}, variant == 1 ? DAGL_PAD_SAME : DAGL_PAD_VALID};
                dagl_tensor *x, *w, *b, *y, *a, *want, *got[2];
                CHECK_OK(dagl_randn(ctx, t, 4, xs, &x));
                CHECK_OK(dagl_randn(ctx, t, 4, ks, &w));
                CHECK_OK(dagl_randn(ctx, t, 1, bs, &b));
                CHECK_OK(dagl_conv2d(ctx, x, w, &wp.window, &y));
                CHECK_OK(dagl_binary(ctx, DAGL_OP_ADD, y, b, &a));
                if (acts[k] == DAGL_OP_NONE) dagl_tensor_retain(want = a);
                else CHECK_OK(dagl_unary(ctx, acts[k], a, &want));
                for (int add_out = 0; add_out < (acts[k] == DAGL_OP_NONE ? 1 : 2); add_out++) {
                    dagl_graph *g;
                    int ix, iw, ib, cv, ad, out;
                    CHECK_OK(dagl_graph_new(ctx, &g));
                    CHECK_OK(dagl_graph_input(g, t, 4, xs, &ix));
                    CHECK_OK(dagl_graph_constant(g, w, &iw));
                    CHECK_OK(dagl_graph_constant(g, b, &ib));
                    int s1[2] = {ix, iw};
                    CHECK_OK(dagl_graph_node(g, DAGL_OP_CONV2D, 2, s1, &wp, &cv));
                    int s2[2] = {variant ? ib : cv, variant ? cv : ib};
                    CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 2, s2, NULL, &ad));
                    out = ad;
                    if (acts[k] != DAGL_OP_NONE) CHECK_OK(dagl_graph_node(g, acts[k], 1, &ad, NULL, &out));
                    CHECK_OK(dagl_graph_output(g, out));
                    if (add_out) CHECK_OK(dagl_graph_output(g, ad));
                    CHECK_OK(dagl_graph_run(g, &x, got));
                    CHECK(g->nlive_ops == 1 + add_out);
                    CHECK_STR(dagl__node_name(&g->nodes[out]), add_out ? dagl_op_name(acts[k]) : names[k]);
                    CHECK(memcmp(dagl_tensor_data(got[0]), dagl_tensor_data(want),
                                 (size_t)dagl_tensor_numel(want) * dagl_dtype_size(t)) == 0);
                    for (int i = 0; i <= add_out; i++) dagl_tensor_release(got[i]);
                    dagl_graph_free(g);
                }
                dagl_tensor *ts[] = {x, w, b, y, a, want};
                for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) dagl_tensor_release(ts[i]);
            }
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
}

/* conv2d -> + bias -> relu -> max or average pooling, the relu used by the pooling only: one
 * node with the eager bits; the relu made an output too: the pooling stays apart. */
static void conv_pool_fused(int threads)
{
    dagl_ctx_options opt = {.threads = threads, .seed = 8};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&opt, &ctx));
    static const dagl_op pools[2] = {DAGL_OP_MAXPOOL2D, DAGL_OP_AVGPOOL2D};
    static const char *names[2] = {"conv2d+add+relu+max_pool2d", "conv2d+add+relu+avg_pool2d"};
    int64_t xs[4] = {16, 28, 28, 1}, ks[4] = {3, 3, 1, 32}, bs[1] = {32};
    dagl_tensor *x, *w, *b;
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 4, xs, &x));
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 4, ks, &w));
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 1, bs, &b));
    dagl_node_params cp = {0}, pp = {0};
    cp.window = (dagl_window2d){{0, 0}, {1, 1}, DAGL_PAD_VALID};
    pp.window = (dagl_window2d){{2, 2}, {0, 0}, DAGL_PAD_VALID};
    for (int k = 0; k < 2; k++)
        for (int relu_out = 0; relu_out < 2; relu_out++) {
            dagl_tensor *y, *a, *r, *want, *got[2];
            CHECK_OK(dagl_conv2d(ctx, x, w, &cp.window, &y));
            CHECK_OK(dagl_binary(ctx, DAGL_OP_ADD, y, b, &a));
            CHECK_OK(dagl_unary(ctx, DAGL_OP_RELU, a, &r));
            CHECK_OK(dagl_pool2d(ctx, pools[k], r, &pp.window, &want));
            dagl_graph *g;
            int ix, iw, ib, cv, ad, rl, pl;
            CHECK_OK(dagl_graph_new(ctx, &g));
            CHECK_OK(dagl_graph_input(g, DAGL_F32, 4, xs, &ix));
            CHECK_OK(dagl_graph_constant(g, w, &iw));
            CHECK_OK(dagl_graph_constant(g, b, &ib));
            int s1[2] = {ix, iw}, s2[2] = {0, ib};
            CHECK_OK(dagl_graph_node(g, DAGL_OP_CONV2D, 2, s1, &cp, &cv));
            s2[0] = cv;
            CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 2, s2, NULL, &ad));
            CHECK_OK(dagl_graph_node(g, DAGL_OP_RELU, 1, &ad, NULL, &rl));
            CHECK_OK(dagl_graph_node(g, pools[k], 1, &rl, &pp, &pl));
            CHECK_OK(dagl_graph_output(g, pl));
            if (relu_out) CHECK_OK(dagl_graph_output(g, rl));
            CHECK_OK(dagl_graph_run(g, &x, got));
            CHECK(g->nlive_ops == 1 + relu_out);
            CHECK_STR(dagl__node_name(&g->nodes[pl]), relu_out ? dagl_op_name(pools[k]) : names[k]);
            CHECK(memcmp(dagl_tensor_data(got[0]), dagl_tensor_data(want), sizeof(float) * (size_t)dagl_tensor_numel(want)) == 0);
            for (int i = 0; i <= relu_out; i++) dagl_tensor_release(got[i]);
            dagl_graph_free(g);
            dagl_tensor *ts[] = {y, a, r, want};
            for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) dagl_tensor_release(ts[i]);
        }
    dagl_tensor_release(x), dagl_tensor_release(w), dagl_tensor_release(b);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
}

/* A first layer's training graph: y = relu(conv2d(x, k) + b) pooled (an output) and the masked
 * max-pool gradient (an output): two nodes, both recomputing the convolution, y never made;
 * eager bits. A kernel with 36 inputs a pixel is not recomputed (four nodes); an overlapping
 * pooling neither. */
static void conv_recompute_fused(int threads)
{
    dagl_ctx_options opt = {.threads = threads, .seed = 10};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&opt, &ctx));
    for (int variant = 0; variant < 3; variant++) {
        int64_t cin = variant == 1 ? 4 : 1, xs[4] = {8, 26, 26, cin}, ks[4] = {3, 3, cin, 32}, bs[1] = {32};
        dagl_tensor *x, *w, *b, *y, *a, *r, *p, *dy, *pg, *m, *want, *got[2];
        CHECK_OK(dagl_randn(ctx, DAGL_F32, 4, xs, &x));
        CHECK_OK(dagl_randn(ctx, DAGL_F32, 4, ks, &w));
        CHECK_OK(dagl_randn(ctx, DAGL_F32, 1, bs, &b));
        dagl_node_params cp = {0}, pp = {0};
        cp.window = (dagl_window2d){{0, 0}, {1, 1}, DAGL_PAD_SAME};
        pp.window = variant == 2 ? (dagl_window2d){{3, 3}, {2, 2}, DAGL_PAD_VALID} : (dagl_window2d){{2, 2}, {0, 0}, DAGL_PAD_VALID};
        CHECK_OK(dagl_conv2d(ctx, x, w, &cp.window, &y));
        CHECK_OK(dagl_binary(ctx, DAGL_OP_ADD, y, b, &a));
        CHECK_OK(dagl_unary(ctx, DAGL_OP_RELU, a, &r));
        CHECK_OK(dagl_pool2d(ctx, DAGL_OP_MAXPOOL2D, r, &pp.window, &p));
        const int64_t *ps = dagl_tensor_shape(p);
        CHECK_OK(dagl_randn(ctx, DAGL_F32, 4, ps, &dy));
        CHECK_OK(dagl_pool2d_grad(ctx, DAGL_OP_MAXPOOL2D, r, dy, &pp.window, &pg));
        CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_GT, r, 0, 0, &m));
        CHECK_OK(dagl_binary(ctx, DAGL_OP_MUL, pg, m, &want));
        dagl_graph *g;
        int ix, idy, iw, ib, cv, ad, rl, pl, pgn, gt, mul;
        CHECK_OK(dagl_graph_new(ctx, &g));
        CHECK_OK(dagl_graph_input(g, DAGL_F32, 4, xs, &ix));
        CHECK_OK(dagl_graph_input(g, DAGL_F32, 4, ps, &idy));
        CHECK_OK(dagl_graph_constant(g, w, &iw));
        CHECK_OK(dagl_graph_constant(g, b, &ib));
        int s1[2] = {ix, iw};
        CHECK_OK(dagl_graph_node(g, DAGL_OP_CONV2D, 2, s1, &cp, &cv));
        int s2[2] = {cv, ib};
        CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 2, s2, NULL, &ad));
        CHECK_OK(dagl_graph_node(g, DAGL_OP_RELU, 1, &ad, NULL, &rl));
        CHECK_OK(dagl_graph_node(g, DAGL_OP_MAXPOOL2D, 1, &rl, &pp, &pl));
        int s3[2] = {rl, idy};
        CHECK_OK(dagl_graph_node(g, DAGL_OP_MAXPOOL2D_GRAD, 2, s3, &pp, &pgn));
        dagl_node_params zero = {.has_scalar = 1};
        CHECK_OK(dagl_graph_node(g, DAGL_OP_GT, 1, &rl, &zero, &gt));
        int s4[2] = {pgn, gt};
        CHECK_OK(dagl_graph_node(g, DAGL_OP_MUL, 2, s4, NULL, &mul));
        CHECK_OK(dagl_graph_output(g, pl));
        CHECK_OK(dagl_graph_output(g, mul));
        dagl_tensor *in[2] = {x, dy};
        CHECK_OK(dagl_graph_run(g, in, got));
        if (variant == 0) {
            CHECK(g->nlive_ops == 2);
            CHECK_STR(dagl__node_name(&g->nodes[pl]), "conv2d+add+relu+max_pool2d");
            CHECK_STR(dagl__node_name(&g->nodes[mul]), "conv2d+max_pool2d_grad+relu_mask");
        } else {
            CHECK(g->nlive_ops == 3); /* conv2d+add+relu, max_pool2d, max_pool2d_grad+relu_mask */
            CHECK_STR(dagl__node_name(&g->nodes[mul]), "max_pool2d_grad+relu_mask");
        }
        CHECK(memcmp(dagl_tensor_data(got[0]), dagl_tensor_data(p), sizeof(float) * (size_t)dagl_tensor_numel(p)) == 0);
        CHECK(memcmp(dagl_tensor_data(got[1]), dagl_tensor_data(want), sizeof(float) * (size_t)dagl_tensor_numel(want)) == 0);
        dagl_graph_free(g);
        dagl_tensor *ts[] = {x, w, b, y, a, r, p, dy, pg, m, want, got[0], got[1]};
        for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) dagl_tensor_release(ts[i]);
    }
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
}

/* mul(max_pool2d_grad(y, dy), y > 0), either order: one node with the eager bits; with another
 * threshold than 0 or a mask of another tensor, two nodes. */
static void pool_mask_fused(int threads)
{
    dagl_ctx_options opt = {.threads = threads, .seed = 6};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&opt, &ctx));
    int64_t ys[4] = {8, 26, 26, 32}, gs[4] = {8, 13, 13, 32};
    dagl_tensor *r, *y, *dy, *pg, *m, *want, *in[2], *got;
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 4, ys, &r));
    CHECK_OK(dagl_unary(ctx, DAGL_OP_RELU, r, &y));
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 4, gs, &dy));
    dagl_window2d w = {{2, 2}, {0, 0}, DAGL_PAD_VALID};
    CHECK_OK(dagl_pool2d_grad(ctx, DAGL_OP_MAXPOOL2D, y, dy, &w, &pg));
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_GT, y, 0, 0, &m));
    CHECK_OK(dagl_binary(ctx, DAGL_OP_MUL, pg, m, &want));
    in[0] = y, in[1] = dy;
    for (int variant = 0; variant < 4; variant++) {
        dagl_graph *g;
        int iy, idy, ir, ip, im, out;
        CHECK_OK(dagl_graph_new(ctx, &g));
        CHECK_OK(dagl_graph_input(g, DAGL_F32, 4, ys, &iy));
        CHECK_OK(dagl_graph_input(g, DAGL_F32, 4, gs, &idy));
        CHECK_OK(dagl_graph_node(g, DAGL_OP_RELU, 1, &iy, NULL, &ir)); /* y again: relu(y) = y */
        dagl_node_params pp = {0};
        pp.window = w;
        int s1[2] = {iy, idy};
        CHECK_OK(dagl_graph_node(g, DAGL_OP_MAXPOOL2D_GRAD, 2, s1, &pp, &ip));
        dagl_node_params gt = {.has_scalar = 1, .scalar = variant == 2 ? 0.5 : 0};
        CHECK_OK(dagl_graph_node(g, DAGL_OP_GT, 1, variant == 3 ? &ir : &iy, &gt, &im));
        int s2[2] = {variant == 1 ? im : ip, variant == 1 ? ip : im};
        CHECK_OK(dagl_graph_node(g, DAGL_OP_MUL, 2, s2, NULL, &out));
        CHECK_OK(dagl_graph_output(g, out));
        CHECK_OK(dagl_graph_run(g, in, &got));
        if (variant < 2) {
            CHECK(g->nlive_ops == 1);
            CHECK_STR(dagl__node_name(&g->nodes[out]), "max_pool2d_grad+relu_mask");
            CHECK(memcmp(dagl_tensor_data(got), dagl_tensor_data(want), sizeof(float) * (size_t)dagl_tensor_numel(want)) == 0);
        } else {
            /* the pooling's gradient, and the mask and product fused as elementwise ops (fuse_ew.c) */
            CHECK(g->nlive_ops == 2);
            CHECK_STR(dagl__node_name(&g->nodes[out]), variant == 3 ? "relu+gt+mul" : "gt+mul");
        }
        dagl_tensor_release(got);
        dagl_graph_free(g);
    }
    dagl_tensor *ts[] = {r, y, dy, pg, m, want};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) dagl_tensor_release(ts[i]);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
}

int main(void)
{
    unary_chains(1);
    unary_chains(2);
    plan();
    fused_equals_eager(1);
    fused_equals_eager(2);
    not_fused();
    conv_fused(1);
    conv_fused(2);
    conv_pool_fused(1);
    conv_pool_fused(2);
    conv_recompute_fused(1);
    conv_recompute_fused(2);
    pool_mask_fused(1);
    pool_mask_fused(2);
    printf("ok\n");
    return 0;
}
