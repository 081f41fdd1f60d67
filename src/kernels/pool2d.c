/* pool2d.c -- max and average pooling over NHWC images and their gradients, by direct loops
 * vectorized over channels. Padding is never a value: max takes the window's inputs only and
 * the average divides by their count (Keras's rules). Forward shares are bands of output rows,
 * backward shares whole images (windows overlap only within one), sized from the problem only. */
#include "window2d.h"

#include "fastmath.h"

#include <string.h>

struct pool_job {
    struct win2d g;
    dagl_op op;
    bool relu; /* max gradient: times (x > 0), the gradient of a relu before the pooling */
    dagl_dtype dt;
    const char *x, *dy;
    char *out;
};

/* The input rows [*h0, *h1) and columns [*w0, *w1) under output pixel (oh, ow). */
static void window_at(const struct win2d *g, int64_t oh, int64_t ow, int64_t *h0, int64_t *h1, int64_t *w0,
                      int64_t *w1)
{
    int64_t hs = oh * g->sh - g->pt, ws = ow * g->sw - g->pl;
    *h0 = hs > 0 ? hs : 0;
    *h1 = hs + g->KH < g->H ? hs + g->KH : g->H;
    *w0 = ws > 0 ? ws : 0;
    *w1 = ws + g->KW < g->W ? ws + g->KW : g->W;
}

#define VB 32 /* bytes of the gradient's vector blocks of channels (an AVX2 register) */

/* Forward, one output row: out[ow, :] = max or mean of the channel vectors of the window at
 * (oh, ow), over image rows held from row h0 on in `img` (W * C elements each). */
#define DEF_POOL_ROW(sfx, T, dt)                                                                   \
    DAGL_VEC_CLONES static void pool_row_##sfx(const struct win2d *g, bool mx, const T *img, int64_t h0img, \
                                               int64_t oh, T *out)                                 \
    {                                                                                              \
        int64_t C = g->C, h0, h1, w0, w1;                                                          \
        for (int64_t ow = 0; ow < g->OW; ow++) {                                                   \
            T *restrict o = out + ow * C;                                                          \
            window_at(g, oh, ow, &h0, &h1, &w0, &w1);                                              \
            const T *first = img + ((h0 - h0img) * g->W + w0) * C;                                 \
            if (mx)                                                                                \
                for (int64_t c = 0; c < C; c++) o[c] = first[c];                                   \
            else                                                                                   \
                for (int64_t c = 0; c < C; c++) o[c] = 0;                                          \
            for (int64_t ih = h0; ih < h1; ih++)                                                   \
                for (int64_t iw = w0; iw < w1; iw++) {                                             \
                    const T *restrict p = img + ((ih - h0img) * g->W + iw) * C;                    \
                    if (mx)                                                                        \
                        for (int64_t c = 0; c < C; c++) o[c] = p[c] > o[c] ? p[c] : o[c];          \
                    else                                                                           \
                        for (int64_t c = 0; c < C; c++) o[c] += p[c];                              \
                }                                                                                  \
            if (!mx) {                                                                             \
                T cnt = (T)((h1 - h0) * (w1 - w0));                                                \
                for (int64_t c = 0; c < C; c++) o[c] /= cnt;                                       \
            }                                                                                      \
        }                                                                                          \
    }
DAGL_FOR_FLOAT_DTYPES(DEF_POOL_ROW)

void dagl__pool2d_row(dagl_dtype dt, dagl_op op, const struct win2d *g, const void *img, int64_t h0, int64_t oh,
                      void *out)
{
    if (dt == DAGL_F32) pool_row_f32(g, op == DAGL_OP_MAXPOOL2D, img, h0, oh, out);
    else pool_row_f64(g, op == DAGL_OP_MAXPOOL2D, img, h0, oh, out);
}

void dagl__pool2d_rows_needed(const struct win2d *g, int64_t oh, int64_t *h0, int64_t *h1)
{
    int64_t w0, w1;
    window_at(g, oh, 0, h0, h1, &w0, &w1);
}

/* Forward share: a band of output rows. */
static void pool_share_fwd(const struct pool_job *j, int ith, int nth)
{
    const struct win2d *g = &j->g;
    int64_t lo, hi, es = (int64_t)dagl_dtype_size(j->dt);
    dagl__split(g->N * g->OH, ith, nth, &lo, &hi);
    for (int64_t r = lo; r < hi; r++)
        dagl__pool2d_row(j->dt, j->op, g, j->x + (r / g->OH) * g->H * g->W * g->C * es, 0, r % g->OH,
                         j->out + r * g->OW * g->C * es);
}

/* Whether no input is in two windows (each gradient entry then comes from one window at most). */
static bool disjoint(const struct win2d *g) { return g->sh >= g->KH && g->sw >= g->KW; }

/* Whether the windows cover every input exactly once (no zero fill needed when disjoint). */
static bool tiles_exactly(const struct win2d *g)
{
    return g->sh == g->KH && g->sw == g->KW && g->OH * g->KH == g->H && g->OW * g->KW == g->W && g->pt == 0 &&
           g->pl == 0;
}

/* Max backward of one window, channels [c0, c0 + cb): each channel's dy goes to its first
 * maximum (row-major), found in one pass over the window (positions kept as T, exact for any
 * window that fits in memory); `add` when windows overlap, else written, then (relu) times
 * x > 0 as the mul by the relu's mask does. The scalar form, for the last channels. */
#define DEF_MAX_GRAD_WINDOW(sfx, T, dt)                                                            \
    static inline __attribute__((always_inline)) void max_grad_window_##sfx(                       \
        const struct win2d *g, const T *xb, int64_t xh0, T *dxi, const T *d, int64_t h0, int64_t h1, \
        int64_t w0, int64_t w1, int64_t c0, int64_t cb, bool add, bool relu)                       \
    {                                                                                              \
        int64_t C = g->C;                                                                          \
        for (int64_t c = 0; c < cb; c++) {                                                         \
            const T *xc = xb + c0 + c;                                                             \
            T best = xc[((h0 - xh0) * g->W + w0) * C], at = 0, pos = 0;                            \
            for (int64_t ih = h0; ih < h1; ih++)                                                   \
                for (int64_t iw = w0; iw < w1; iw++, pos++) {                                      \
                    T v = xc[((ih - xh0) * g->W + iw) * C];                                        \
                    if (v > best) best = v, at = pos;                                              \
                }                                                                                  \
            pos = 0;                                                                               \
            for (int64_t ih = h0; ih < h1; ih++)                                                   \
                for (int64_t iw = w0; iw < w1; iw++, pos++) {                                      \
                    T *q = dxi + (ih * g->W + iw) * C + c0 + c;                                    \
                    if (add) *q = at == pos ? *q + d[c] : *q;                                      \
                    else *q = (at == pos ? (T)0 + d[c] : (T)0) *                                   \
                              (!relu || xc[((ih - xh0) * g->W + iw) * C] > 0 ? (T)1 : (T)0);       \
                }                                                                                  \
        }                                                                                          \
    }

/* The same for VB bytes of channels at once in a vector register (GCC vector types; the
 * comparisons give lane masks, blended by bit operations). */
#define DEF_MAX_GRAD_BLOCK(sfx, T, dt)                                                             \
    static inline __attribute__((always_inline)) void max_grad_block_##sfx(                        \
        const struct win2d *g, const T *xb, int64_t xh0, T *dxi, const T *d, int64_t h0, int64_t h1, \
        int64_t w0, int64_t w1, int64_t c0, bool add, bool relu)                                   \
    {                                                                                              \
        typedef T V __attribute__((vector_size(VB), aligned(sizeof(T)), may_alias));               \
        typedef __typeof__((V){0} > (V){0}) M;                                                     \
        int64_t C = g->C;                                                                          \
        const char *base = (const char *)(xb + c0);                                                \
        V best = *(const V *)(base + ((h0 - xh0) * g->W + w0) * C * (int64_t)sizeof(T)), at = {0}, pos = {0}; \
        V one = (V){0} + 1, dv = *(const V *)d;                                                    \
        for (int64_t ih = h0; ih < h1; ih++)                                                       \
            for (int64_t iw = w0; iw < w1; iw++, pos += one) {                                     \
                V p = *(const V *)(base + ((ih - xh0) * g->W + iw) * C * (int64_t)sizeof(T));      \
                M up = p > best;                                                                   \
                best = (V)(((M)best & ~up) | ((M)p & up));                                         \
                at = (V)(((M)at & ~up) | ((M)pos & up));                                           \
            }                                                                                      \
        pos = (V){0};                                                                              \
        V dz = (V){0} + dv;                                                                        \
        for (int64_t ih = h0; ih < h1; ih++)                                                       \
            for (int64_t iw = w0; iw < w1; iw++, pos += one) {                                     \
                V *q = (V *)(dxi + (ih * g->W + iw) * C + c0);                                     \
                M here = at == pos;                                                                \
                if (add) {                                                                         \
                    *q = (V)(((M)*q & ~here) | ((M)(*q + dv) & here));                             \
                } else {                                                                           \
                    V r = (V)((M)dz & here);                                                       \
                    if (relu) r = r * (V)((M)one & (*(const V *)(base + ((ih - xh0) * g->W + iw) * C * \
                                                                   (int64_t)sizeof(T)) > (V){0}));  \
                    *q = r;                                                                        \
                }                                                                                  \
            }                                                                                      \
    }

/* Max backward of output row oh (dy row d) into the gradient image dxi, the input's rows from
 * xh0 on at xb: every window of the row, a vector block of channels at a time. */
#define DEF_MAX_GRAD_ROW(sfx, T, dt)                                                               \
    DAGL_VEC_CLONES static void max_grad_row_##sfx(const struct win2d *g, const T *xb, int64_t xh0, int64_t oh, \
                                                   const T *d, T *dxi, bool add, bool relu)        \
    {                                                                                              \
        int64_t C = g->C, h0, h1, w0, w1;                                                          \
        for (int64_t ow = 0; ow < g->OW; ow++, d += C) {                                           \
            window_at(g, oh, ow, &h0, &h1, &w0, &w1);                                              \
            int64_t c0 = 0;                                                                        \
            for (; c0 + VB / (int64_t)sizeof(T) <= C; c0 += VB / (int64_t)sizeof(T))              \
                max_grad_block_##sfx(g, xb, xh0, dxi, d + c0, h0, h1, w0, w1, c0, add, relu);      \
            if (c0 < C) max_grad_window_##sfx(g, xb, xh0, dxi, d + c0, h0, h1, w0, w1, c0, C - c0, add, relu); \
        }                                                                                          \
    }

/* Backward over whole images (windows overlap only within one): max windows as above, the
 * average's dy / count added to each input of the window. Zero fill only where needed. */
#define DEF_POOL_GRAD(sfx, T, dt)                                                                  \
    DAGL_VEC_CLONES static void pool_grad_##sfx(const struct pool_job *j, int ith, int nth)        \
    {                                                                                              \
        const struct win2d *g = &j->g;                                                             \
        const T *x = (const T *)j->x;                                                              \
        T *dx = (T *)j->out;                                                                       \
        int64_t lo, hi, C = g->C, h0, h1, w0, w1, img = g->H * g->W * C;                           \
        bool mx = j->op == DAGL_OP_MAXPOOL2D_GRAD, add = !mx || !disjoint(g);                      \
        dagl__split(g->N, ith, nth, &lo, &hi);                                                     \
        if (lo < hi && (add || !tiles_exactly(g)))                                                 \
            memset(dx + lo * img, 0, sizeof(T) * (size_t)((hi - lo) * img));                       \
        for (int64_t r = lo * g->OH; r < hi * g->OH; r++) {                                        \
            int64_t n = r / g->OH, oh = r % g->OH;                                                 \
            const T *d = (const T *)j->dy + r * g->OW * C;                                         \
            if (mx) {                                                                              \
                max_grad_row_##sfx(g, x + n * img, 0, oh, d, dx + n * img, add, j->relu);          \
                continue;                                                                          \
            }                                                                                      \
            for (int64_t ow = 0; ow < g->OW; ow++, d += C) {                                       \
                window_at(g, oh, ow, &h0, &h1, &w0, &w1);                                          \
                T cnt = (T)((h1 - h0) * (w1 - w0));                                                \
                for (int64_t ih = h0; ih < h1; ih++)                                               \
                    for (int64_t iw = w0; iw < w1; iw++) {                                         \
                        T *restrict p = dx + ((n * g->H + ih) * g->W + iw) * C;                    \
                        for (int64_t c = 0; c < C; c++) p[c] += d[c] / cnt;                        \
                    }                                                                              \
            }                                                                                      \
        }                                                                                          \
        if (j->relu && add) /* the mask on the sums, after every window's share */                 \
            for (int64_t i = lo * img; i < hi * img; i++) dx[i] = dx[i] * (x[i] > 0 ? (T)1 : (T)0); \
    }
DAGL_FOR_FLOAT_DTYPES(DEF_MAX_GRAD_WINDOW)
DAGL_FOR_FLOAT_DTYPES(DEF_MAX_GRAD_BLOCK)
DAGL_FOR_FLOAT_DTYPES(DEF_MAX_GRAD_ROW)
DAGL_FOR_FLOAT_DTYPES(DEF_POOL_GRAD)

bool dagl__pool2d_disjoint(const struct win2d *g) { return disjoint(g); }

void dagl__maxpool2d_grad_row(dagl_dtype dt, const struct win2d *g, const void *xb, int64_t xh0, int64_t oh,
                              const void *dy, void *dxi, bool relu)
{
    if (dt == DAGL_F32) max_grad_row_f32(g, xb, xh0, oh, dy, dxi, !disjoint(g), relu);
    else max_grad_row_f64(g, xb, xh0, oh, dy, dxi, !disjoint(g), relu);
}

bool dagl__pool2d_grad_zero_fill(const struct win2d *g) { return !disjoint(g) || !tiles_exactly(g); }

struct pool_run {
    const struct pool_job *j;
    void (*k)(const struct pool_job *, int, int);
};

/* Adapts a pooling kernel to the pool's task signature. */
static void pool_share(void *p, int ith, int nth)
{
    const struct pool_run *r = p;
    r->k(r->j, ith, nth);
}

/* Checks, converts, allocates and runs one pooling op (forward when dy is NULL). */
static dagl_status pool_op(dagl_ctx *ctx, dagl_op op, const dagl_tensor *x, const dagl_tensor *dy,
                           const dagl_window2d *w, bool relu, dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    struct pool_job j = {.op = op, .relu = relu};
    const dagl_tensor *src[2] = {x, dy};
    int64_t oshape[4];
    dagl_dtype dt;
    dagl_tensor *hold[2] = {NULL, NULL};
    dagl_status st = dagl__win2d_check(ctx, op, w, NULL, dy ? 2 : 1, src, &j.g, oshape, &dt);
    if (st) return st;
    for (int i = 0; i < (dy ? 2 : 1) && !st; i++) st = dagl__win2d_operand(ctx, src[i], dt, &hold[i]);
    if (!st) st = dagl__tensor_alloc_dst(ctx, dst, dt, 4, oshape, out);
    j.dt = dt;
    if (!st && (*out)->numel > 0) {
        j.x = hold[0]->data, j.dy = dy ? hold[1]->data : NULL, j.out = (*out)->data;
        struct pool_run r = {&j, dy ? (dt == DAGL_F32 ? pool_grad_f32 : pool_grad_f64)
                                    : pool_share_fwd};
        int64_t most = dy ? j.g.N : j.g.N * j.g.OH;
        int n = dagl__shares(j.g.N * j.g.OH * j.g.OW * j.g.C * j.g.KH * j.g.KW, (int64_t)1 << 18);
        dagl__parallel(ctx, pool_share, &r, n > most ? (int)(most > 0 ? most : 1) : n);
    }
    dagl_tensor_release(hold[0]);
    dagl_tensor_release(hold[1]);
    if (st) {
        dagl_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

dagl_status dagl__pool2d_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *x, const dagl_window2d *w,
                              dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (op != DAGL_OP_MAXPOOL2D && op != DAGL_OP_AVGPOOL2D)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "pool2d: op %s is not a pooling", dagl_op_name(op));
    return pool_op(ctx, op, x, NULL, w, false, dst, out);
}

/* The public form: the result in fresh memory. */
dagl_status dagl_pool2d(dagl_ctx *ctx, dagl_op op, const dagl_tensor *x, const dagl_window2d *w, dagl_tensor **out)
{
    return dagl__pool2d_into(ctx, op, x, w, NULL, out);
}

dagl_status dagl__pool2d_grad_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *x, const dagl_tensor *dy,
                             const dagl_window2d *w, dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (op == DAGL_OP_MAXPOOL2D) op = DAGL_OP_MAXPOOL2D_GRAD;
    if (op == DAGL_OP_AVGPOOL2D) op = DAGL_OP_AVGPOOL2D_GRAD;
    if (op != DAGL_OP_MAXPOOL2D_GRAD && op != DAGL_OP_AVGPOOL2D_GRAD)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "pool2d_grad: op %s is not a pooling", dagl_op_name(op));
    if (!dy) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: tensor is NULL", dagl_op_name(op));
    return pool_op(ctx, op, x, dy, w, false, dst, out);
}

/* The graph's fused max_pool2d_grad * (x > 0) node (src/graph/fuse.c). */
dagl_status dagl__maxpool2d_grad_relu(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *dy,
                                      const dagl_window2d *w, dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (!dy) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "max_pool2d_grad: tensor is NULL");
    return pool_op(ctx, DAGL_OP_MAXPOOL2D_GRAD, x, dy, w, true, dst, out);
}

/* The public form: the result in fresh memory. */
dagl_status dagl_pool2d_grad(dagl_ctx *ctx, dagl_op op, const dagl_tensor *x, const dagl_tensor *dy,
                             const dagl_window2d *w, dagl_tensor **out)
{
    return dagl__pool2d_grad_into(ctx, op, x, dy, w, NULL, out);
}
