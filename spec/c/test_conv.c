/* test_conv.c -- conv2d, its two gradients and max/avg pooling with theirs against naive direct
 * loops (several shapes, strides and paddings, float32 and float64, through every instruction
 * set's tile kernels this CPU runs), graph nodes against eager calls, bitwise equal results at 1
 * and 2 threads, and shape errors. */
#include "check.h"
#include "dagl.h"
#include "kernels/conv_micro.h"
#include "kernels/conv_tiles.h"
#include "kernels/kernels.h"

#include <stdlib.h>
#include <string.h>

static dagl_ctx *ctx;

/* Element i of a contiguous f32/f64 tensor as double. */
static double v(const dagl_tensor *t, int64_t i)
{
    return dagl_tensor_dtype(t) == DAGL_F32 ? ((const float *)dagl_tensor_data(t))[i]
                                            : ((const double *)dagl_tensor_data(t))[i];
}

/* The reference geometry of one dim, from TensorFlow's documented formulas. */
static void ref_dim(int64_t in, int64_t k, int64_t s, int same, int64_t *out, int64_t *pad)
{
    if (same) {
        *out = (in + s - 1) / s;
        int64_t total = (*out - 1) * s + k - in;
        *pad = total > 0 ? total / 2 : 0;
    } else {
        *out = (in - k) / s + 1;
        *pad = 0;
    }
}

struct ref {
    int64_t N, H, W, C, KH, KW, CO, OH, OW, sh, sw, ph, pw;
};

static struct ref geo(const int64_t *x, int64_t kh, int64_t kw, int64_t co, const dagl_window2d *w)
{
    struct ref r = {x[0], x[1], x[2], x[3], kh, kw, co, 0, 0, w->strides[0], w->strides[1], 0, 0};
    ref_dim(r.H, kh, r.sh, w->padding, &r.OH, &r.ph);
    ref_dim(r.W, kw, r.sw, w->padding, &r.OW, &r.pw);
    return r;
}

#define XI(n, h, w_, c) ((((n) * r.H + (h)) * r.W + (w_)) * r.C + (c))
#define YI(n, h, w_, c) ((((n) * r.OH + (h)) * r.OW + (w_)) * r.CO + (c))
#define KI(a, b, c, d) ((((a) * r.KW + (b)) * r.C + (c)) * r.CO + (d))
#define FOR_TAPS                                                                                   \
    for (int64_t n = 0; n < r.N; n++)                                                              \
        for (int64_t oh = 0; oh < r.OH; oh++)                                                      \
            for (int64_t ow = 0; ow < r.OW; ow++)                                                  \
                for (int64_t a = 0; a < r.KH; a++)                                                 \
                    for (int64_t b = 0; b < r.KW; b++) {                                           \
                        int64_t ih = oh * r.sh - r.ph + a, iw = ow * r.sw - r.pw + b;              \
                        if (ih < 0 || ih >= r.H || iw < 0 || iw >= r.W) continue;

/* Checks got against the reference values want (n of them) within a relative tolerance. */
static void same_values(const dagl_tensor *got, const double *want, int64_t n, double tol)
{
    CHECK(dagl_tensor_numel(got) == n);
    for (int64_t i = 0; i < n; i++) CHECK_NEAR(v(got, i), want[i], tol * (1 + fabs(want[i])));
}

static dagl_tensor *randn(dagl_dtype dt, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t s[4] = {a, b, c, d};
    dagl_tensor *t;
    CHECK_OK(dagl_randn(ctx, dt, 4, s, &t));
    return t;
}

/* conv2d and both gradients against the direct sums for one case, with instruction set isa's
 * kernels (the best one through the public functions). */
static void check_conv_isa(int isa, dagl_dtype dt, int64_t N, int64_t H, int64_t W, int64_t C, int64_t KH,
                           int64_t KW, int64_t CO, int sh, int sw, int same)
{
    dagl_window2d w = {{0, 0}, {sh, sw}, same};
    dagl_tensor *x = randn(dt, N, H, W, C), *k = randn(dt, KH, KW, C, CO), *y, *dy, *dx, *dk;
    struct ref r = geo(dagl_tensor_shape(x), KH, KW, CO, &w);
    double tol = dt == DAGL_F32 ? 1e-4 : 1e-11;
    bool pub = isa == dagl__ct_best_isa();
    if (pub) CHECK_OK(dagl_conv2d(ctx, x, k, &w, &y));
    else CHECK_OK(dagl__conv2d_isa(ctx, isa, DAGL_OP_CONV2D, x, k, NULL, &w, NULL, NULL, &y));
    CHECK(dagl_tensor_shape(y)[1] == r.OH && dagl_tensor_shape(y)[2] == r.OW && dagl_tensor_shape(y)[3] == CO);
    double *want = calloc((size_t)(N * r.OH * r.OW * CO + N * H * W * C + KH * KW * C * CO) + 1, sizeof *want);
    FOR_TAPS for (int64_t c = 0; c < C; c++) for (int64_t o = 0; o < CO; o++)
        want[YI(n, oh, ow, o)] += v(x, XI(n, ih, iw, c)) * v(k, KI(a, b, c, o));
    }
    same_values(y, want, N * r.OH * r.OW * CO, tol);
    dy = randn(dt, N, r.OH, r.OW, CO);
    if (pub) CHECK_OK(dagl_conv2d_grad_input(ctx, dy, k, dagl_tensor_shape(x), &w, &dx));
    else CHECK_OK(dagl__conv2d_isa(ctx, isa, DAGL_OP_CONV2D_GRAD_INPUT, dy, k, dagl_tensor_shape(x), &w, NULL, NULL,
                                   &dx));
    memset(want, 0, sizeof *want * (size_t)(N * H * W * C));
    FOR_TAPS for (int64_t c = 0; c < C; c++) for (int64_t o = 0; o < CO; o++)
        want[XI(n, ih, iw, c)] += v(dy, YI(n, oh, ow, o)) * v(k, KI(a, b, c, o));
    }
    same_values(dx, want, N * H * W * C, tol);
    if (pub) CHECK_OK(dagl_conv2d_grad_kernel(ctx, x, dy, dagl_tensor_shape(k), &w, &dk));
    else CHECK_OK(dagl__conv2d_isa(ctx, isa, DAGL_OP_CONV2D_GRAD_KERNEL, x, dy, dagl_tensor_shape(k), &w, NULL, NULL,
                                   &dk));
    memset(want, 0, sizeof *want * (size_t)(KH * KW * C * CO));
    FOR_TAPS for (int64_t c = 0; c < C; c++) for (int64_t o = 0; o < CO; o++)
        want[KI(a, b, c, o)] += v(dy, YI(n, oh, ow, o)) * v(x, XI(n, ih, iw, c));
    }
    same_values(dk, want, KH * KW * C * CO, tol * 10);
    free(want);
    dagl_tensor *ts[] = {x, k, y, dy, dx, dk};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) dagl_tensor_release(ts[i]);
}

/* One case through every instruction set this CPU runs (the baseline at least). */
static void check_conv(dagl_dtype dt, int64_t N, int64_t H, int64_t W, int64_t C, int64_t KH, int64_t KW, int64_t CO,
                       int sh, int sw, int same)
{
    for (int isa = 0; isa <= dagl__ct_best_isa(); isa++) check_conv_isa(isa, dt, N, H, W, C, KH, KW, CO, sh, sw, same);
}

/* conv2d + bias (+ act) (+ a pooling) in one pass: the bits of conv2d, the add, the activation
 * and the pooling one by one (pooled rows sharing conv rows: 3x3 windows at stride 2). */
static void check_conv_epilogue(void)
{
    static const dagl_op acts[] = {DAGL_OP_NONE, DAGL_OP_RELU, DAGL_OP_TANH, DAGL_OP_SIGMOID};
    static const dagl_op pools[] = {DAGL_OP_NONE, DAGL_OP_MAXPOOL2D, DAGL_OP_AVGPOOL2D};
    static const dagl_window2d pw[2] = {{{2, 2}, {0, 0}, DAGL_PAD_VALID}, {{3, 3}, {2, 2}, DAGL_PAD_SAME}};
    for (int d = 0; d < 2; d++)
        for (int a = 0; a < 4; a++)
            for (int pl = 0; pl < 3; pl++)
                for (int wi = 0; wi < (pl ? 2 : 1); wi++) {
                    dagl_dtype dt = d ? DAGL_F64 : DAGL_F32;
                    int64_t bs[1] = {20};
                    dagl_window2d w = {{0, 0}, {1, 1}, DAGL_PAD_SAME};
                    dagl_tensor *x = randn(dt, 3, 9, 8, 5), *k = randn(dt, 3, 3, 5, 20), *b, *y, *s, *z, *want, *got;
                    CHECK_OK(dagl_randn(ctx, dt, 1, bs, &b));
                    CHECK_OK(dagl_conv2d(ctx, x, k, &w, &y));
                    CHECK_OK(dagl_binary(ctx, DAGL_OP_ADD, y, b, &s));
                    if (acts[a] == DAGL_OP_NONE) dagl_tensor_retain(z = s);
                    else CHECK_OK(dagl_unary(ctx, acts[a], s, &z));
                    if (pools[pl] == DAGL_OP_NONE) dagl_tensor_retain(want = z);
                    else CHECK_OK(dagl_pool2d(ctx, pools[pl], z, &pw[wi], &want));
                    CHECK_OK(dagl__conv2d_epilogue(ctx, x, k, b, acts[a], &w, pools[pl], &pw[wi], NULL, &got));
                    CHECK(dagl_tensor_numel(got) == dagl_tensor_numel(want));
                    CHECK(memcmp(dagl_tensor_data(got), dagl_tensor_data(want),
                                 (size_t)dagl_tensor_numel(want) * dagl_dtype_size(dt)) == 0);
                    dagl_tensor *bad;
                    CHECK(dagl__conv2d_epilogue(ctx, x, k, x, acts[a], &w, pools[pl], &pw[wi], NULL, &bad) ==
                          DAGL_E_SHAPE);
                    CHECK_STR(dagl_ctx_last_error(ctx), "conv2d+add: the bias [3, 9, 8, 5] must have shape [20]");
                    dagl_tensor *ts[] = {x, k, b, y, s, z, want, got};
                    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) dagl_tensor_release(ts[i]);
                }
}

/* Max and average pooling and their gradients against the direct loops for one case. */
static void check_pool(dagl_dtype dt, int64_t N, int64_t H, int64_t W, int64_t C, int ph, int pw, int sh, int sw,
                       int same)
{
    dagl_window2d w = {{ph, pw}, {sh, sw}, same};
    dagl_window2d wd = w; /* the reference needs the effective strides */
    if (!wd.strides[0]) wd.strides[0] = ph;
    if (!wd.strides[1]) wd.strides[1] = pw;
    dagl_tensor *x = randn(dt, N, H, W, C), *mx, *av, *dy, *dmx, *dav;
    struct ref r = geo(dagl_tensor_shape(x), ph, pw, C, &wd);
    double tol = dt == DAGL_F32 ? 1e-5 : 1e-12;
    CHECK_OK(dagl_pool2d(ctx, DAGL_OP_MAXPOOL2D, x, &w, &mx));
    CHECK_OK(dagl_pool2d(ctx, DAGL_OP_AVGPOOL2D, x, &w, &av));
    dy = randn(dt, N, r.OH, r.OW, C);
    CHECK_OK(dagl_pool2d_grad(ctx, DAGL_OP_MAXPOOL2D, x, dy, &w, &dmx));
    CHECK_OK(dagl_pool2d_grad(ctx, DAGL_OP_AVGPOOL2D, x, dy, &w, &dav));
    int64_t ny = N * r.OH * r.OW * C, nx = N * H * W * C;
    double *m = malloc(sizeof *m * (size_t)(2 * ny + 2 * nx + 1)), *s = m + ny, *gm = s + ny, *ga = gm + nx;
    int64_t *arg = malloc(sizeof *arg * (size_t)(ny + 1)), *cnt = malloc(sizeof *cnt * (size_t)(ny + 1));
    for (int64_t i = 0; i < ny; i++) m[i] = -INFINITY, s[i] = 0, cnt[i] = 0;
    memset(gm, 0, sizeof *gm * (size_t)(2 * nx));
    /* taps run in row-major window order, so the first maximum wins ties */
    FOR_TAPS for (int64_t c = 0; c < C; c++) {
        int64_t o = ((n * r.OH + oh) * r.OW + ow) * C + c, i = XI(n, ih, iw, c);
        if (v(x, i) > m[o]) m[o] = v(x, i), arg[o] = i;
        s[o] += v(x, i);
        cnt[o]++;
    }
    }
    FOR_TAPS for (int64_t c = 0; c < C; c++) {
        int64_t o = ((n * r.OH + oh) * r.OW + ow) * C + c;
        ga[XI(n, ih, iw, c)] += v(dy, o) / (double)cnt[o];
    }
    }
    for (int64_t o = 0; o < ny; o++) {
        s[o] /= (double)cnt[o];
        gm[arg[o]] += v(dy, o);
    }
    same_values(mx, m, ny, tol);
    same_values(av, s, ny, tol);
    same_values(dmx, gm, nx, tol);
    same_values(dav, ga, nx, tol);
    free(m), free(arg), free(cnt);
    dagl_tensor *ts[] = {x, mx, av, dy, dmx, dav};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) dagl_tensor_release(ts[i]);
}

/* max_pool2d_grad(x, dy) * (x > 0) in one pass: the bits of the two ops, windows disjoint (2x2
 * tiling exactly, 2x2 leaving a row and a column out, 2x2 at stride 3) or overlapping (3x3 at
 * stride 1, same), float32 and float64; x has exact zeros and ties. */
static void check_pool_relu_mask(void)
{
    static const int win[4][5] = {{2, 2, 0, 0, 0}, {2, 2, 0, 0, 0}, {2, 2, 3, 3, 0}, {3, 3, 1, 1, 1}};
    static const int64_t hw[4] = {8, 9, 11, 7};
    for (int d = 0; d < 2; d++)
        for (int c = 0; c < 4; c++) {
            dagl_dtype dt = d ? DAGL_F64 : DAGL_F32;
            dagl_window2d w = {{win[c][0], win[c][1]}, {win[c][2], win[c][3]}, win[c][4]};
            dagl_tensor *r = randn(dt, 2, hw[c], hw[c], 70), *x, *y, *dy, *g, *m, *want, *got;
            CHECK_OK(dagl_unary(ctx, DAGL_OP_RELU, r, &x)); /* half zeros: masked, and tied maxima */
            CHECK_OK(dagl_pool2d(ctx, DAGL_OP_MAXPOOL2D, x, &w, &y));
            const int64_t *ys = dagl_tensor_shape(y);
            dy = randn(dt, ys[0], ys[1], ys[2], ys[3]);
            CHECK_OK(dagl_pool2d_grad(ctx, DAGL_OP_MAXPOOL2D, x, dy, &w, &g));
            CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_GT, x, 0, 0, &m));
            CHECK_OK(dagl_binary(ctx, DAGL_OP_MUL, g, m, &want));
            CHECK_OK(dagl__maxpool2d_grad_relu(ctx, x, dy, &w, NULL, &got));
            CHECK(memcmp(dagl_tensor_data(got), dagl_tensor_data(want),
                         (size_t)dagl_tensor_numel(want) * dagl_dtype_size(dt)) == 0);
            dagl_tensor *ts[] = {r, x, y, dy, g, m, want, got};
            for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) dagl_tensor_release(ts[i]);
        }
}

/* The masked max-pool gradient over a recomputed convolution: the bits of relu(conv2d + bias),
 * then dagl__maxpool2d_grad_relu, for pool windows that tile the image exactly, leave a row and
 * a column out, or leave gaps (stride 3); an overlapping pooling is refused. */
static void check_conv_pool_grad(void)
{
    static const dagl_window2d pw[3] = {{{2, 2}, {0, 0}, DAGL_PAD_VALID}, {{2, 2}, {0, 0}, DAGL_PAD_SAME},
                                        {{2, 2}, {3, 3}, DAGL_PAD_VALID}};
    static const int64_t hw[3] = {10, 11, 12}, cin[3] = {1, 3, 1};
    for (int d = 0; d < 2; d++)
        for (int c = 0; c < 3; c++) {
            dagl_dtype dt = d ? DAGL_F64 : DAGL_F32;
            int64_t bs[1] = {24};
            dagl_window2d w = {{0, 0}, {1, 1}, c == 1 ? DAGL_PAD_SAME : DAGL_PAD_VALID};
            dagl_tensor *x = randn(dt, 3, hw[c], hw[c], cin[c]), *k = randn(dt, 3, 3, cin[c], 24), *b, *y, *s, *r, *p,
                        *dy, *want, *got;
            CHECK_OK(dagl_randn(ctx, dt, 1, bs, &b));
            CHECK_OK(dagl_conv2d(ctx, x, k, &w, &y));
            CHECK_OK(dagl_binary(ctx, DAGL_OP_ADD, y, b, &s));
            CHECK_OK(dagl_unary(ctx, DAGL_OP_RELU, s, &r));
            CHECK_OK(dagl_pool2d(ctx, DAGL_OP_MAXPOOL2D, r, &pw[c], &p));
            const int64_t *ps = dagl_tensor_shape(p);
            dy = randn(dt, ps[0], ps[1], ps[2], ps[3]);
            CHECK_OK(dagl__maxpool2d_grad_relu(ctx, r, dy, &pw[c], NULL, &want));
            CHECK_OK(dagl__conv2d_pool_grad(ctx, x, k, b, dy, &w, &pw[c], NULL, &got));
            CHECK(dagl_tensor_numel(got) == dagl_tensor_numel(want));
            CHECK(memcmp(dagl_tensor_data(got), dagl_tensor_data(want),
                         (size_t)dagl_tensor_numel(want) * dagl_dtype_size(dt)) == 0);
            dagl_window2d over = {{3, 3}, {1, 1}, DAGL_PAD_VALID};
            dagl_tensor *bad;
            CHECK(dagl__conv2d_pool_grad(ctx, x, k, b, dy, &w, &over, NULL, &bad) == DAGL_E_SHAPE);
            dagl_tensor *ts[] = {x, k, b, y, s, r, p, dy, want, got};
            for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) dagl_tensor_release(ts[i]);
        }
}

/* Ties: the whole window's gradient goes to its first maximum (row-major). */
static void check_pool_ties(void)
{
    int64_t s[4] = {1, 2, 2, 1}, ys[4] = {1, 1, 1, 1};
    dagl_tensor *x, *dy, *dx;
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 4, s, 3, &x));
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 4, ys, 5, &dy));
    dagl_window2d w = {{2, 2}, {0, 0}, DAGL_PAD_VALID};
    CHECK_OK(dagl_pool2d_grad(ctx, DAGL_OP_MAXPOOL2D, x, dy, &w, &dx));
    const float *d = dagl_tensor_data(dx);
    CHECK(d[0] == 5 && d[1] == 0 && d[2] == 0 && d[3] == 0);
    dagl_tensor_release(x), dagl_tensor_release(dy), dagl_tensor_release(dx);
}

/* The conv ops and pools at 1 and at 2 worker threads give bitwise the same results, for input
 * xs, kernel ks and output ys (same padding). */
static void check_threads_case(const int64_t *xs, const int64_t *ks, const int64_t *ys)
{
    dagl_tensor *one[5], *two[5];
    dagl_ctx_options o1 = {.threads = 1, .seed = 7}, o2 = {.threads = 2, .seed = 7};
    dagl_ctx *c1, *c2;
    CHECK_OK(dagl_ctx_new(&o1, &c1));
    CHECK_OK(dagl_ctx_new(&o2, &c2));
    dagl_ctx *cs[2] = {c1, c2};
    dagl_tensor **rs[2] = {one, two};
    for (int t = 0; t < 2; t++) {
        dagl_ctx *c = cs[t];
        dagl_tensor *x, *k, *dy, **res = rs[t];
        CHECK_OK(dagl_randn(c, DAGL_F32, 4, xs, &x));
        CHECK_OK(dagl_randn(c, DAGL_F32, 4, ks, &k));
        CHECK_OK(dagl_randn(c, DAGL_F32, 4, ys, &dy));
        dagl_window2d w = {{3, 3}, {1, 1}, DAGL_PAD_SAME}, p = {{3, 3}, {1, 1}, DAGL_PAD_SAME};
        CHECK_OK(dagl_conv2d(c, x, k, &w, &res[0]));
        CHECK_OK(dagl_conv2d_grad_input(c, dy, k, xs, &w, &res[1]));
        CHECK_OK(dagl_conv2d_grad_kernel(c, x, dy, ks, &w, &res[2]));
        CHECK_OK(dagl_pool2d(c, DAGL_OP_AVGPOOL2D, x, &p, &res[3]));
        CHECK_OK(dagl_pool2d_grad(c, DAGL_OP_MAXPOOL2D, x, x, &p, &res[4]));
        dagl_tensor_release(x), dagl_tensor_release(k), dagl_tensor_release(dy);
    }
    for (int i = 0; i < 5; i++) {
        CHECK(dagl_tensor_numel(one[i]) == dagl_tensor_numel(two[i]));
        CHECK(memcmp(dagl_tensor_data(one[i]), dagl_tensor_data(two[i]), (size_t)dagl_tensor_numel(one[i]) * sizeof(float)) == 0);
        dagl_tensor_release(one[i]), dagl_tensor_release(two[i]);
    }
    dagl_ctx_free(c1), dagl_ctx_free(c2);
}

/* Shapes big enough for several shares of every kernel: a 32x32 image (about 19M multiply-adds
 * per conv op; shares of pixels) and a 7x7 one of many channels (shares of column panels). */
static void check_threads(void)
{
    check_threads_case((int64_t[]){4, 32, 32, 16}, (int64_t[]){3, 3, 16, 32}, (int64_t[]){4, 32, 32, 32});
    check_threads_case((int64_t[]){1, 7, 7, 64}, (int64_t[]){3, 3, 64, 150}, (int64_t[]){1, 7, 7, 150});
}

/* A graph of conv2d and pooling nodes computes what the eager calls do. */
static void check_graph(void)
{
    int64_t xs[4] = {2, 7, 6, 3}, ks[4] = {3, 2, 3, 4};
    dagl_tensor *x = randn(DAGL_F64, 2, 7, 6, 3), *k = randn(DAGL_F64, 3, 2, 3, 4), *ye, *pe, *out[2];
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int ix, ik, iy, ip;
    CHECK_OK(dagl_graph_input(g, DAGL_F64, 4, xs, &ix));
    CHECK_OK(dagl_graph_input(g, DAGL_F64, 4, ks, &ik));
    dagl_node_params p = {0};
    p.window = (dagl_window2d){{0, 0}, {2, 1}, DAGL_PAD_SAME};
    int srcs[2] = {ix, ik};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_CONV2D, 2, srcs, &p, &iy));
    dagl_dtype dt;
    int nd;
    const int64_t *shape;
    CHECK_OK(dagl_graph_node_info(g, iy, &dt, &nd, &shape));
    CHECK(nd == 4 && shape[0] == 2 && shape[1] == 4 && shape[2] == 6 && shape[3] == 4 && dt == DAGL_F64);
    dagl_node_params q = {0};
    q.window = (dagl_window2d){{2, 2}, {0, 0}, DAGL_PAD_VALID};
    CHECK_OK(dagl_graph_node(g, DAGL_OP_MAXPOOL2D, 1, &iy, &q, &ip));
    CHECK_OK(dagl_graph_output(g, iy));
    CHECK_OK(dagl_graph_output(g, ip));
    dagl_tensor *in[2] = {x, k};
    CHECK_OK(dagl_graph_run(g, in, out));
    CHECK_OK(dagl_conv2d(ctx, x, k, &p.window, &ye));
    CHECK_OK(dagl_pool2d(ctx, DAGL_OP_MAXPOOL2D, ye, &q.window, &pe));
    CHECK(memcmp(dagl_tensor_data(out[0]), dagl_tensor_data(ye), sizeof(double) * (size_t)dagl_tensor_numel(ye)) == 0);
    CHECK(memcmp(dagl_tensor_data(out[1]), dagl_tensor_data(pe), sizeof(double) * (size_t)dagl_tensor_numel(pe)) == 0);
    /* a gradient node without the forward operand's shape, and a channel mismatch, are refused */
    int bad;
    int srcs2[2] = {iy, ik};
    CHECK(dagl_graph_node(g, DAGL_OP_CONV2D_GRAD_INPUT, 2, srcs2, &p, &bad) == DAGL_E_ARG);
    int srcs3[2] = {ix, iy};
    CHECK(dagl_graph_node(g, DAGL_OP_CONV2D, 2, srcs3, &p, &bad) == DAGL_E_SHAPE);
    dagl_graph_free(g);
    dagl_tensor *ts[] = {x, k, ye, pe, out[0], out[1]};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) dagl_tensor_release(ts[i]);
}

/* Bad operands give errors naming the op and the shapes. */
static void check_errors(void)
{
    dagl_tensor *x = randn(DAGL_F32, 1, 4, 4, 3), *k = randn(DAGL_F32, 3, 3, 2, 5), *big = randn(DAGL_F32, 5, 5, 3, 1),
                *out = NULL;
    dagl_window2d w = {{0, 0}, {1, 1}, DAGL_PAD_VALID};
    CHECK(dagl_conv2d(ctx, x, k, &w, &out) == DAGL_E_SHAPE && out == NULL);
    CHECK_STR(dagl_ctx_last_error(ctx),
              "conv2d: the kernel [3, 3, 2, 5] takes 2 input channels, the input [1, 4, 4, 3] has 3");
    CHECK(dagl_conv2d(ctx, x, big, &w, &out) == DAGL_E_SHAPE);
    CHECK_STR(dagl_ctx_last_error(ctx),
              "conv2d: kernel 5x5 is larger than the input 4x4 (input shape [1, 4, 4, 3], padding 'valid')");
    w.padding = DAGL_PAD_SAME;
    CHECK_OK(dagl_conv2d(ctx, x, big, &w, &out)); /* padded, the same kernel fits */
    dagl_tensor_release(out);
    dagl_window2d p = {{2, 2}, {0, 0}, DAGL_PAD_VALID};
    int64_t s3[3] = {4, 4, 3};
    dagl_tensor *x3;
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 3, s3, 0, &x3));
    CHECK(dagl_pool2d(ctx, DAGL_OP_MAXPOOL2D, x3, &p, &out) == DAGL_E_SHAPE);
    CHECK_STR(dagl_ctx_last_error(ctx),
              "max_pool2d: the input must have 4 dims (batch, height, width, channels), got shape [4, 4, 3]");
    p.strides[0] = -1;
    CHECK(dagl_pool2d(ctx, DAGL_OP_AVGPOOL2D, x, &p, &out) == DAGL_E_ARG);
    CHECK_STR(dagl_ctx_last_error(ctx), "avg_pool2d: strides (-1, 2) must be at least 1");
    int64_t neg[4] = {1, -4, 4, 3};
    dagl_tensor *dy = randn(DAGL_F32, 1, 2, 2, 5);
    CHECK(dagl_conv2d_grad_input(ctx, dy, k, neg, &w, &out) == DAGL_E_SHAPE && out == NULL);
    CHECK_STR(dagl_ctx_last_error(ctx), "conv2d_grad_input: negative size in shape [1, -4, 4, 3]");
    dagl_tensor_release(x), dagl_tensor_release(k), dagl_tensor_release(big), dagl_tensor_release(x3);
    dagl_tensor_release(dy);
}

int main(void)
{
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    for (int d = 0; d < 2; d++) {
        dagl_dtype dt = d ? DAGL_F64 : DAGL_F32;
        check_conv(dt, 2, 5, 6, 3, 3, 3, 4, 1, 1, 0);
        check_conv(dt, 2, 5, 6, 3, 3, 3, 4, 1, 1, 1);
        check_conv(dt, 1, 7, 8, 2, 3, 2, 3, 2, 3, 1);
        check_conv(dt, 3, 9, 7, 4, 4, 3, 2, 2, 2, 0);
        check_conv(dt, 1, 6, 6, 5, 1, 1, 6, 1, 1, 0);
        check_conv(dt, 2, 4, 5, 2, 5, 5, 3, 3, 2, 1); /* kernel larger than the image: same pads */
        /* input channels a multiple of every vector length (the kernel gradient's transposed
         * tiles), ragged output channels (partial column panels), one input channel (a first
         * layer), a 20x20 same convolution (its input gradient: the forward tiles, flipped; the
         * others: dY · kernelᵀ and col2im), strides with padding */
        check_conv(dt, 2, 7, 6, 16, 3, 3, 10, 1, 1, 0);
        check_conv(dt, 1, 8, 9, 32, 3, 3, 70, 1, 1, 1);
        check_conv(dt, 3, 9, 10, 1, 3, 3, 32, 1, 1, 0);
        check_conv(dt, 1, 20, 20, 8, 3, 3, 12, 1, 1, 1);
        check_conv(dt, 2, 11, 9, 16, 3, 2, 24, 2, 3, 1);
        check_conv(dt, 1, 6, 7, 48, 1, 1, 5, 1, 1, 0);
        /* few pixels, many channels: the forward pass split into groups of column panels */
        check_conv(dt, 1, 7, 7, 64, 3, 3, 150, 1, 1, 1);
        /* output channels that make whole panels of rows up to 512 bytes: the kernel read in place */
        check_conv(dt, 2, 9, 9, 16, 3, 3, 128, 1, 1, 1);
        check_pool(dt, 2, 6, 6, 3, 2, 2, 0, 0, 0);
        check_pool(dt, 2, 7, 5, 3, 2, 2, 0, 0, 1);
        check_pool(dt, 1, 8, 7, 4, 3, 3, 2, 2, 1);
        check_pool(dt, 2, 9, 9, 2, 3, 2, 1, 1, 0);
        check_pool(dt, 1, 5, 6, 3, 3, 3, 1, 2, 1);
    }
    check_conv_epilogue();
    check_pool_relu_mask();
    check_conv_pool_grad();
    check_pool_ties();
    check_threads();
    check_graph();
    check_errors();
    dagl_ctx_free(ctx);
    printf("test_conv: ok\n");
    return 0;
}
