/* test_kernels_index.c -- concat, slice_scatter, gather, index_add, dropout masks and erf: hand
 * values, errors naming the shapes and indices, thread-count independence, and the graph forms
 * (concat of several sources, slice nodes, a dropout node whose mask changes every run). */
#include "check.h"
#include "tensor_util.h"
#include "dagl.h"
#include "core/philox.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#define S(...) (int64_t[]){__VA_ARGS__}
#define V(...) (double[]){__VA_ARGS__}

static void check_values(const dagl_tensor *t, int nd, const int64_t *shape, const double *want, double tol)
{
    CHECK(dagl_tensor_ndim(t) == nd);
    for (int d = 0; d < nd; d++) CHECK(dagl_tensor_shape(t)[d] == shape[d]);
    for (int64_t i = 0; i < dagl_tensor_numel(t); i++) CHECK_NEAR(el(t, i), want[i], tol);
}

static void test_concat(void)
{
    for (int dt = DAGL_F32; dt <= DAGL_I64; dt++) {
        dagl_tensor *a = mk(dt, 2, S(2, 2), V(1, 2, 3, 4)), *b = mk(dt, 2, S(2, 1), V(5, 6)), *o;
        const dagl_tensor *ab[2] = {a, b};
        CHECK_OK(dagl_concat(ctx, 2, ab, 1, &o));
        check_values(o, 2, S(2, 3), V(1, 2, 5, 3, 4, 6), 0);
        dagl_tensor_release(o);
        CHECK_OK(dagl_concat(ctx, 2, ab, -1, &o)); /* negative dims count from the end */
        check_values(o, 2, S(2, 3), V(1, 2, 5, 3, 4, 6), 0);
        dagl_tensor_release(o);
        const dagl_tensor *aa[3] = {a, a, a};
        CHECK_OK(dagl_concat(ctx, 3, aa, 0, &o));
        check_values(o, 2, S(6, 2), V(1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4), 0);
        dagl_tensor_release(o);
        /* errors: mismatch outside the joined dim, dtype, bad dim */
        CHECK(dagl_concat(ctx, 2, ab, 0, &o) == DAGL_E_SHAPE && o == NULL);
        CHECK(strstr(dagl_ctx_last_error(ctx), "[2, 2]") && strstr(dagl_ctx_last_error(ctx), "[2, 1]"));
        CHECK(dagl_concat(ctx, 2, ab, 2, &o) == DAGL_E_INDEX);
        dagl_tensor_release(a);
        dagl_tensor_release(b);
    }
    dagl_tensor *f = mk(DAGL_F32, 1, S(1), V(1)), *d = mk(DAGL_F64, 1, S(1), V(1)), *o;
    const dagl_tensor *fd[2] = {f, d};
    CHECK(dagl_concat(ctx, 2, fd, 0, &o) == DAGL_E_DTYPE);
    dagl_tensor_release(f);
    dagl_tensor_release(d);
}

static void test_slice_scatter(void)
{
    dagl_tensor *g = mk(DAGL_F64, 2, S(2, 2), V(1, 2, 3, 4)), *o;
    /* into columns 1 and 3 of a 2x4 zero matrix */
    CHECK_OK(dagl_slice_scatter(ctx, g, 2, S(2, 4), 1, 1, 2, &o));
    check_values(o, 2, S(2, 4), V(0, 1, 0, 2, 0, 3, 0, 4), 0);
    dagl_tensor_release(o);
    CHECK(dagl_slice_scatter(ctx, g, 2, S(2, 4), 1, 2, 2, &o) == DAGL_E_SHAPE); /* column 4 does not exist */
    CHECK(dagl_slice_scatter(ctx, g, 2, S(3, 4), 1, 0, 1, &o) == DAGL_E_SHAPE);
    dagl_tensor_release(g);
}

static void test_gather(void)
{
    dagl_tensor *tbl = mk(DAGL_F32, 2, S(3, 2), V(1, 2, 3, 4, 5, 6));
    dagl_tensor *idx = mk(DAGL_I64, 2, S(2, 2), V(2, 0, 0, 1)), *o;
    CHECK_OK(dagl_gather(ctx, tbl, idx, 0, &o));
    check_values(o, 3, S(2, 2, 2), V(5, 6, 1, 2, 1, 2, 3, 4), 0);
    dagl_tensor_release(o);
    dagl_tensor *one = mk(DAGL_I64, 1, S(2), V(3, 1));
    CHECK_OK(dagl_gather(ctx, tbl, one, 1, &o)); /* 1-based */
    check_values(o, 2, S(2, 2), V(5, 6, 1, 2), 0);
    dagl_tensor_release(o);
    CHECK(dagl_gather(ctx, tbl, one, 0, &o) == DAGL_E_INDEX && o == NULL); /* 3 is past the end from 0 */
    CHECK(strstr(dagl_ctx_last_error(ctx), "index 3") && strstr(dagl_ctx_last_error(ctx), "3 rows"));
    CHECK(dagl_gather(ctx, idx, tbl, 0, &o) == DAGL_E_DTYPE); /* float indices */
    dagl_tensor_release(one);

    /* index_add: repeated rows sum, untouched rows are zero */
    dagl_tensor *src = mk(DAGL_F64, 3, S(2, 2, 2), V(1, 2, 3, 4, 5, 6, 7, 8));
    CHECK_OK(dagl_index_add(ctx, src, idx, 4, 0, &o));
    check_values(o, 2, S(4, 2), V(3 + 5, 4 + 6, 7, 8, 1, 2, 0, 0), 0);
    dagl_tensor_release(o);
    CHECK(dagl_index_add(ctx, src, idx, 2, 0, &o) == DAGL_E_INDEX); /* index 2 with 2 rows */
    CHECK(dagl_index_add(ctx, tbl, idx, 4, 0, &o) == DAGL_E_SHAPE); /* rows [3, 2] vs indices [2, 2] */
    dagl_tensor_release(src);
    dagl_tensor_release(idx);
    dagl_tensor_release(tbl);
}

/* Many repeated indices, big enough to be split: sums must not depend on the thread count. */
static void test_index_add_threads(void)
{
    enum { N = 60000, ROWS = 7, D = 3 };
    dagl_tensor *src, *idx, *o[2];
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 2, S(N, D), &src));
    CHECK_OK(dagl_tensor_new(ctx, DAGL_I64, 1, S(N), &idx));
    for (int64_t i = 0; i < N; i++) ((int64_t *)dagl_tensor_data(idx))[i] = (i * 7919) % ROWS;
    for (int k = 0; k < 2; k++) {
        CHECK_OK(dagl_ctx_set_threads(ctx, k + 1));
        CHECK_OK(dagl_index_add(ctx, src, idx, ROWS, 0, &o[k]));
    }
    CHECK(memcmp(dagl_tensor_data(o[0]), dagl_tensor_data(o[1]), sizeof(float) * ROWS * D) == 0);
    double want = 0; /* row 0, column 0, summed in double */
    for (int64_t i = 0; i < N; i++)
        if ((i * 7919) % ROWS == 0) want += ((float *)dagl_tensor_data(src))[i * D];
    CHECK_NEAR(el(o[0], 0), want, 1e-2);
    for (int k = 0; k < 2; k++) dagl_tensor_release(o[k]);
    dagl_tensor_release(src);
    dagl_tensor_release(idx);
}

static void test_dropout(void)
{
    int64_t n = 200000;
    dagl_tensor *m[3];
    for (int k = 0; k < 2; k++) {
        CHECK_OK(dagl_ctx_set_threads(ctx, k + 1));
        CHECK_OK(dagl_dropout_mask(ctx, DAGL_F32, 1, &n, 0.25, 42, 5, &m[k]));
    }
    CHECK(memcmp(dagl_tensor_data(m[0]), dagl_tensor_data(m[1]), sizeof(float) * (size_t)n) == 0);
    CHECK_OK(dagl_dropout_mask(ctx, DAGL_F64, 1, &n, 0.25, 42, 6, &m[2])); /* next counter */
    int64_t kept = 0, same = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = ((float *)dagl_tensor_data(m[0]))[i];
        double w = ((double *)dagl_tensor_data(m[2]))[i];
        CHECK(v == 0 || fabsf(v - 4.0f / 3.0f) < 1e-6f);
        CHECK(w == 0 || fabs(w - 4.0 / 3.0) < 1e-12);
        kept += v != 0;
        same += (v != 0) == (w != 0);
    }
    CHECK(fabs((double)kept / (double)n - 0.75) < 0.01);
    CHECK(same < n * 0.7); /* independent masks agree on ~62.5% of elements */
    for (int k = 0; k < 3; k++) dagl_tensor_release(m[k]);
    CHECK(dagl_dropout_mask(ctx, DAGL_F32, 1, &n, 1.0, 1, 0, &m[0]) == DAGL_E_ARG);
    CHECK(dagl_dropout_mask(ctx, DAGL_I64, 1, &n, 0.5, 1, 0, &m[0]) == DAGL_E_DTYPE);
}

/* Masks are the definition elementwise: element i keeps when word i % 4 of Philox block i / 4
 * (counter: the block and the dropout stream's draw, key: the seed) has its top 24 bits at
 * least rate * 2^24, at lengths that end inside a block and inside a group of blocks, rates on
 * and off the f32 grid, float32 and float64. */
static void test_dropout_definition(void)
{
    static const double rates[] = {0.5, 0.3, 0.9, 0, 1.0 / 16777216.0};
    static const int64_t lens[] = {1, 7, 65, 200003};
    for (int r = 0; r < 5; r++)
        for (int l = 0; l < 4; l++)
            for (int d = 0; d < 2; d++) {
                dagl_tensor *m;
                int64_t n = lens[l];
                CHECK_OK(dagl_dropout_mask(ctx, d ? DAGL_F64 : DAGL_F32, 1, &n, rates[r], 77, 3, &m));
                uint32_t w[4];
                for (int64_t i = 0; i < n; i++) {
                    if (i % 4 == 0) philox4x32_10((uint64_t)(i / 4), 3 | (uint64_t)1 << 63, 77, w);
                    bool keep = (double)(w[i % 4] >> 8) / 16777216.0 >= rates[r];
                    CHECK((el(m, i) != 0) == keep);
                }
                dagl_tensor_release(m);
            }
}

static void test_erf(void)
{
    dagl_tensor *x = mk(DAGL_F64, 1, S(4), V(0, 0.5, 1, -2)), *o;
    CHECK_OK(dagl_unary(ctx, DAGL_OP_ERF, x, &o));
    check_values(o, 1, S(4), V(0, 0.5204998778130465, 0.8427007929497149, -0.9953222650189527), 1e-15);
    dagl_tensor_release(o);
    dagl_tensor_release(x);
}

/* Graph forms: concat of 3 sources, a slice node, gather, and a dropout mask that changes every
 * run and replays with the same seed in a new graph. */
static void test_graph(void)
{
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int x, c, s, m;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, S(2, 2), &x));
    dagl_node_params p;
    memset(&p, 0, sizeof p);
    p.axis = 1;
    CHECK_OK(dagl_graph_node(g, DAGL_OP_CONCAT, 3, (int[]){x, x, x}, &p, &c));
    p.start = 1, p.stop = 6, p.step = 2;
    CHECK_OK(dagl_graph_node(g, DAGL_OP_SLICE, 1, &c, &p, &s));
    p.rate = 0.5, p.seed = 9;
    CHECK_OK(dagl_graph_node(g, DAGL_OP_DROPOUT_MASK, 1, &c, &p, &m));
    CHECK_OK(dagl_graph_output(g, s));
    CHECK_OK(dagl_graph_output(g, m));
    dagl_tensor *in = mk(DAGL_F32, 2, S(2, 2), V(1, 2, 3, 4)), *out[2], *prev;
    CHECK_OK(dagl_graph_run(g, &in, out));
    check_values(out[0], 2, S(2, 3), V(2, 2, 2, 4, 4, 4), 0);
    dagl_tensor_release(out[0]);
    prev = out[1];
    CHECK_OK(dagl_graph_run(g, &in, out));
    CHECK(memcmp(dagl_tensor_data(prev), dagl_tensor_data(out[1]), sizeof(float) * 12) != 0);
    dagl_tensor *want;
    CHECK_OK(dagl_dropout_mask(ctx, DAGL_F32, 2, S(2, 6), 0.5, 9, 1, &want)); /* run 2 = counter 1 */
    CHECK(memcmp(dagl_tensor_data(want), dagl_tensor_data(out[1]), sizeof(float) * 12) == 0);
    dagl_tensor_release(want);
    CHECK_OK(dagl_dropout_mask(ctx, DAGL_F32, 2, S(2, 6), 0.5, 9, 0, &want)); /* run 1 = counter 0 */
    CHECK(memcmp(dagl_tensor_data(want), dagl_tensor_data(prev), sizeof(float) * 12) == 0);
    dagl_tensor_release(want);
    dagl_tensor_release(prev);
    dagl_tensor_release(out[0]);
    dagl_tensor_release(out[1]);
    /* errors at build time: 9 sources, mismatched concat */
    int big[9] = {x, x, x, x, x, x, x, x, x};
    p.axis = 0;
    CHECK(dagl_graph_node(g, DAGL_OP_CONCAT, 9, big, &p, &c) == DAGL_E_ARG);
    int y;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, S(3, 3), &y));
    CHECK(dagl_graph_node(g, DAGL_OP_CONCAT, 2, (int[]){x, y}, &p, &c) == DAGL_E_SHAPE);
    dagl_tensor_release(in);
    dagl_graph_free(g);
}

int main(void)
{
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    test_concat();
    test_slice_scatter();
    test_gather();
    test_index_add_threads();
    test_dropout();
    test_dropout_definition();
    test_erf();
    test_graph();
    dagl_ctx_free(ctx);
    puts("test_kernels_index: ok");
    return 0;
}
