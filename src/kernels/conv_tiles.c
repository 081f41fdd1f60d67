/* conv_tiles.c -- conv2d forward and gradients as GEMMs whose A operand is never copied: the
 * register tiles of conv_micro.c read the input's channel vectors in place, at each output
 * pixel's window corner plus each tap's offset (an input with padding is first copied into a
 * zero-bordered one, so every window lies inside), and the kernel is packed once per call into
 * panels of the tile's width.
 *
 * Forward: rows are output pixels, columns output channels, the sum runs over taps x input
 * channels; shares are bands of pixels. Kernel gradient: a sum over all output pixels, so each
 * share (a band of pixels) adds into a partial of its own, and the partials are added in share
 * order; with input channels a multiple of the vector length the tile is transposed (rows of
 * output channels, vectors of input channels read in place), otherwise (few input channels, as
 * in a first layer) the input under the taps is packed block by block. Share counts come from
 * the problem size only, so results are bitwise the same at any thread count. */
#include "conv_tiles.h"

#include "conv_micro.h"
#include "fastmath.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_PIXELS 96 /* output pixels per block of corners (a few tiles) */

struct ct_job {
    struct win2d g;
    const struct dagl_ct_set *set;
    const struct dagl_ct_shape *sh;
    dagl_dtype dt;
    size_t es;
    int64_t ntap, K, P;  /* taps, taps x input channels, output pixels */
    int64_t nr;          /* tile columns: NV x VL */
    int64_t pb;          /* pixels per block: a multiple of MR */
    const char *xb;      /* the input, or its zero-bordered copy: every window inside */
    int64_t xh, xw;      /* its height and width */
    int64_t *off;        /* the taps' byte offsets from a window's corner */
    char *xcopy;         /* the copy, when made */
    const char *dy;
    const char *bp;      /* forward: the packed kernel, ceil(Cout / nr) panels of K x nr */
    int64_t ldb;         /* forward: bp's row stride, nr when packed, Cout when bp is the kernel */
    const void *k;       /* forward: the kernel to pack into bpw, flipped or not */
    void *bpw;
    int flip;
    const void *bias;
    dagl_op act;
    struct win2d pool;   /* forward: a pooling of the output after the activation, when pool_op is set */
    dagl_op pool_op;
    char *out;
    char *part;          /* kernel gradient: one prow x pcol partial per share */
    int64_t prow, pcol;
    int transposed;      /* kernel gradient: tiles of output channels x input channels */
    int nshares;
    int groups;          /* forward: shares of column panels per band of pixels */
    atomic_int failed;
};

/* size bytes aligned for the vector loads, or NULL (the job is marked failed). */
static void *scratch(struct ct_job *j, size_t size)
{
    void *p = aligned_alloc(64, (size + 63) / 64 * 64 + 64);
    if (!p) atomic_store(&j->failed, 1);
    return p;
}

static int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

/* The shape whose padded tile grid over rows x cols wastes least (ties: more vectors a row);
 * rows 0: many rows (their padding does not matter). */
static const struct dagl_ct_shape *pick_shape(const struct dagl_ct_set *s, int64_t rows, int64_t cols)
{
    const struct dagl_ct_shape *best = NULL;
    int64_t best_area = 0;
    for (int i = 0; i < s->nshapes; i++) {
        const struct dagl_ct_shape *c = &s->shapes[i];
        int64_t area = (rows > 0 ? round_up(rows, c->mr) : 1) * round_up(cols, (int64_t)c->nv * s->vl);
        if (!best || area < best_area || (area == best_area && c->nv > best->nv)) best = c, best_area = area;
    }
    return best;
}

/* The window corners (byte addresses in xb) of output pixels [p0, p0 + np); entries up to
 * npad repeat the last. */
static void corners(const struct ct_job *j, int64_t p0, int64_t np, int64_t npad, const char **cor)
{
    const struct win2d *g = &j->g;
    int64_t ow = p0 % g->OW, r = p0 / g->OW, oh = r % g->OH, n = r / g->OH;
    int64_t pix = g->C * (int64_t)j->es;
    const char *row = NULL;
    for (int64_t q = 0; q < np; q++) {
        if (q == 0 || ow == 0) row = j->xb + (n * j->xh + oh * g->sh) * j->xw * pix;
        cor[q] = row + ow * g->sw * pix;
        if (++ow == g->OW) {
            ow = 0;
            if (++oh == g->OH) oh = 0, n++;
        }
    }
    for (int64_t q = np; q < npad; q++) cor[q] = cor[np - 1];
}

/* Points the job at input x, or at a zero-bordered copy when the windows reach past it (the
 * padding), and fills the taps' offsets. */
static dagl_status job_input(dagl_ctx *ctx, struct ct_job *j, const void *x)
{
    const struct win2d *g = &j->g;
    int64_t eh = (g->OH - 1) * g->sh + g->KH, ew = (g->OW - 1) * g->sw + g->KW, pix = g->C * (int64_t)j->es;
    j->off = malloc(sizeof *j->off * (size_t)(j->ntap + 1));
    if (!j->off) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "conv2d: out of memory");
    j->xb = x, j->xh = g->H, j->xw = g->W;
    if (g->pt > 0 || g->pl > 0 || eh > g->H || ew > g->W) {
        j->xh = eh, j->xw = ew;
        j->xcopy = calloc((size_t)(g->N * eh * ew) * (size_t)pix + 1, 1);
        if (!j->xcopy) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "conv2d: out of memory for the padded input");
        int64_t w = g->W < ew - g->pl ? g->W : ew - g->pl;
        for (int64_t n = 0; n < g->N; n++)
            for (int64_t ih = 0; ih < g->H && ih + g->pt < eh; ih++)
                if (w > 0)
                    memcpy(j->xcopy + ((n * eh + ih + g->pt) * ew + g->pl) * pix,
                           (const char *)x + (n * g->H + ih) * g->W * pix, (size_t)(w * pix));
        j->xb = j->xcopy;
    }
    for (int64_t t = 0; t < j->ntap; t++) j->off[t] = ((t / g->KW) * j->xw + t % g->KW) * pix;
    return DAGL_OK;
}

/* Frees what job_input made. */
static void job_input_free(struct ct_job *j)
{
    free(j->off), free(j->xcopy);
}

/* Packs panels [p0, p1) of the kernel into column panels of nr: panel p, row (tap, ci), column c
 * is kernel entry (tap, ci, p * nr + c), zero past Cout (a row's columns are contiguous in the
 * kernel: one copy each); flipped: entry (KH-1-kh, KW-1-kw, p * nr + c, ci) of the forward
 * kernel whose input gradient this convolution computes. */
#define DEF_PACK(sfx, T, dt)                                                                       \
    static void pack_kernel_##sfx(const struct ct_job *j, const T *k, int flip, T *bp, int64_t p0, int64_t p1) \
    {                                                                                              \
        const struct win2d *g = &j->g;                                                             \
        for (int64_t p = p0; p < p1; p++) {                                                        \
            int64_t c0 = p * j->nr, cols = g->Cout - c0 < j->nr ? g->Cout - c0 : j->nr;            \
            for (int64_t r = 0; r < j->K; r++) {                                                   \
                T *dst = bp + (p * j->K + r) * j->nr;                                              \
                if (flip) {                                                                        \
                    int64_t t = r / g->C, ci = r % g->C;                                           \
                    int64_t ft = (g->KH - 1 - t / g->KW) * g->KW + (g->KW - 1 - t % g->KW);        \
                    for (int64_t c = 0; c < cols; c++) dst[c] = k[(ft * g->Cout + c0 + c) * g->C + ci]; \
                } else {                                                                           \
                    memcpy(dst, k + r * g->Cout + c0, sizeof(T) * (size_t)cols);                   \
                }                                                                                  \
                for (int64_t c = cols; c < j->nr; c++) dst[c] = 0;                                 \
            }                                                                                      \
        }                                                                                          \
    }
DAGL_FOR_FLOAT_DTYPES(DEF_PACK)

/* Pack share: its run of column panels (a big kernel, 9 MB in a ResNet's last stage, costs as
 * much to pack as a small image costs to convolve, so the packing is shared out too). */
static void pack_share(void *p, int ith, int nth)
{
    struct ct_job *j = p;
    int64_t lo, hi;
    dagl__split((j->g.Cout + j->nr - 1) / j->nr, ith, nth, &lo, &hi);
    if (j->dt == DAGL_F32) pack_kernel_f32(j, j->k, j->flip, (float *)j->bpw, lo, hi);
    else pack_kernel_f64(j, j->k, j->flip, (double *)j->bpw, lo, hi);
}

/* Output pixels [p0, p0 + np) (within the share's band) into dst (pixel p0's row), columns
 * [c_lo, c_hi) (whole panels, or up to Cout): the corners, every column panel's tiles, then the
 * bias and activation while the rows are in cache. */
static void forward_block(struct ct_job *j, const char **cor, int64_t p0, int64_t np, char *dst, int64_t c_lo,
                          int64_t c_hi)
{
    const struct win2d *g = &j->g;
    int64_t mr = j->sh->mr, es = (int64_t)j->es;
    corners(j, p0, np, round_up(np, mr), cor);
    for (int64_t c0 = c_lo; c0 < c_hi; c0 += j->nr) {
        int cols = (int)(c_hi - c0 < j->nr ? c_hi - c0 : j->nr);
        const char *b = j->bp + c0 * (j->ldb == j->nr ? j->K : 1) * es;
        for (int64_t i0 = 0; i0 < np; i0 += mr)
            j->sh->fwd((const void *const *)(cor + i0), j->off, j->ntap, g->C, b, j->ldb,
                       dst + (i0 * g->Cout + c0) * es, g->Cout, (int)(np - i0 < mr ? np - i0 : mr), cols);
    }
    if (j->bias) dagl__epilogue_cols(j->dt, dst, np, g->Cout, c_lo, c_hi - c_lo, j->bias, j->act);
}

/* Forward share ith of bands x groups: a band of output pixels, block by block, times a group
 * of column panels. Few pixels over many channels (a ResNet's last stage: 49 pixels, 512
 * channels) split by columns: shares of a pixel or two would each stream the whole packed kernel
 * through tiles that are mostly padding. Each output element is one tile's sum whatever the
 * split, so the bits do not depend on it. */
static void forward_share(void *p, int ith, int nth)
{
    struct ct_job *j = p;
    int64_t lo, hi, plo, phi, npan = (j->g.Cout + j->nr - 1) / j->nr;
    dagl__split(j->P, ith / j->groups, nth / j->groups, &lo, &hi);
    dagl__split(npan, ith % j->groups, j->groups, &plo, &phi);
    if (lo >= hi || plo >= phi) return;
    int64_t c_lo = plo * j->nr, c_hi = phi * j->nr < j->g.Cout ? phi * j->nr : j->g.Cout;
    const char **cor = scratch(j, sizeof *cor * (size_t)j->pb);
    if (!cor) return;
    for (int64_t p0 = lo; p0 < hi; p0 += j->pb)
        forward_block(j, cor, p0, hi - p0 < j->pb ? hi - p0 : j->pb, j->out + p0 * j->g.Cout * (int64_t)j->es, c_lo,
                      c_hi);
    free(cor);
}

/* The forward shares for about n by the work: bands of at least a block of pixels, and the
 * rest of n as groups of column panels (j->groups of them per band). */
static int forward_shares(struct ct_job *j, int n)
{
    int64_t npan = (j->g.Cout + j->nr - 1) / j->nr, bands = j->P / j->pb;
    if (bands < 1) bands = 1;
    if (bands >= n) {
        j->groups = 1;
        return n;
    }
    int64_t groups = (n + bands - 1) / bands;
    j->groups = (int)(groups < npan ? groups : npan);
    return (int)bands * j->groups;
}

/* Forward share with a pooling after it: its band of pooled rows, each from the convolution's
 * rows under it, computed into a scratch band (rows that two pooled rows share are computed
 * for each). */
static void forward_pool_share(void *p, int ith, int nth)
{
    struct ct_job *j = p;
    const struct win2d *g = &j->g, *pg = &j->pool;
    int64_t lo, hi, es = (int64_t)j->es, row = g->OW * g->Cout * es;
    dagl__split(g->N * pg->OH, ith, nth, &lo, &hi);
    if (lo >= hi) return;
    const char **cor = scratch(j, sizeof *cor * (size_t)j->pb);
    char *band = scratch(j, (size_t)((pg->KH < g->OH ? pg->KH : g->OH) * row));
    if (cor && band)
        for (int64_t r = lo; r < hi; r++) {
            int64_t n = r / pg->OH, ph = r % pg->OH, h0, h1;
            dagl__pool2d_rows_needed(pg, ph, &h0, &h1);
            int64_t first = (n * g->OH + h0) * g->OW, count = (h1 - h0) * g->OW;
            for (int64_t q = 0; q < count; q += j->pb)
                forward_block(j, cor, first + q, count - q < j->pb ? count - q : j->pb, band + q * g->Cout * es, 0,
                              g->Cout);
            dagl__pool2d_row(j->dt, j->pool_op, pg, band, h0, ph, j->out + r * pg->OW * g->Cout * es);
        }
    free(cor), free(band);
}

/* Sets up the parts of a job both passes share. */
static dagl_status job_init(dagl_ctx *ctx, struct ct_job *j, int isa, dagl_dtype dt, const struct win2d *g)
{
    memset(j, 0, sizeof *j);
    atomic_init(&j->failed, 0);
    j->g = *g;
    j->dt = dt;
    j->es = dagl_dtype_size(dt);
    j->set = dagl__ct_set(isa, dt);
    if (!j->set) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "conv2d: no kernels for instruction set %d", isa);
    j->ntap = g->KH * g->KW;
    j->K = j->ntap * g->C;
    j->P = g->N * g->OH * g->OW;
    return DAGL_OK;
}

/* The max pooling's gradient times the relu's mask over the convolution's rows recomputed:
 * shares of whole images (zeroed first when windows leave inputs out), each pooled row from
 * the convolution's rows under it (bias and relu applied) in a scratch band. */
static void forward_pool_grad_share(void *p, int ith, int nth)
{
    struct ct_job *j = p;
    const struct win2d *g = &j->g, *pg = &j->pool;
    int64_t lo, hi, es = (int64_t)j->es, row = g->OW * g->Cout * es, img = g->OH * row;
    dagl__split(g->N, ith, nth, &lo, &hi);
    if (lo >= hi) return;
    if (dagl__pool2d_grad_zero_fill(pg)) memset(j->out + lo * img, 0, (size_t)((hi - lo) * img));
    const char **cor = scratch(j, sizeof *cor * (size_t)j->pb);
    char *band = scratch(j, (size_t)((pg->KH < g->OH ? pg->KH : g->OH) * row));
    if (cor && band)
        for (int64_t n = lo; n < hi; n++)
            for (int64_t ph = 0; ph < pg->OH; ph++) {
                int64_t h0, h1;
                dagl__pool2d_rows_needed(pg, ph, &h0, &h1);
                int64_t first = (n * g->OH + h0) * g->OW, count = (h1 - h0) * g->OW;
                for (int64_t q = 0; q < count; q += j->pb)
                    forward_block(j, cor, first + q, count - q < j->pb ? count - q : j->pb, band + q * g->Cout * es, 0,
                              g->Cout);
                dagl__maxpool2d_grad_row(j->dt, pg, band, h0, ph, j->dy + (n * pg->OH + ph) * pg->OW * g->Cout * es,
                                         j->out + n * img, true);
            }
    free(cor), free(band);
}

/* The forward pass, pooled afterwards when pg is given (op pool_op; MAXPOOL2D_GRAD: the max
 * pooling's gradient dy times the relu's mask, the convolution recomputed). */
static dagl_status forward(dagl_ctx *ctx, int isa, dagl_dtype dt, const struct win2d *g, const void *x, const void *k,
                           int flip, const void *bias, dagl_op act, dagl_op pool_op, const struct win2d *pg,
                           const void *dy, void *out)
{
    bool grad = pool_op == DAGL_OP_MAXPOOL2D_GRAD;
    struct ct_job j;
    dagl_status st = job_init(ctx, &j, isa, dt, g);
    if (st) return st;
    if (grad && (j.P == 0 || g->Cout == 0)) return DAGL_OK;
    if (grad && pg->OH * pg->OW == 0) {
        memset(out, 0, (size_t)(j.P * g->Cout) * j.es);
        return DAGL_OK;
    }
    if (j.P == 0 || g->Cout == 0 || (pg && pg->OH * pg->OW == 0)) return DAGL_OK;
    j.sh = pick_shape(j.set, 0, g->Cout);
    j.nr = (int64_t)j.sh->nv * j.set->vl;
    j.pb = round_up(BLOCK_PIXELS, j.sh->mr);
    j.bias = bias, j.act = act, j.out = out;
    if (pg) j.pool = *pg, j.pool_op = pool_op;
    j.dy = dy;
    if ((st = job_input(ctx, &j, x))) {
        job_input_free(&j);
        return st;
    }
    /* a kernel of rows of at most 512 bytes whose panels are whole is read in place (its rows
     * are near enough for the caches); longer rows are packed: a 2 KB stride maps the panel's
     * rows onto few cache sets (measured 1.7x slower on 14x14x256, 2.2x on 7x7x512 at batch 8) */
    bool direct = !flip && g->Cout % j.nr == 0 && g->Cout * (int64_t)j.es <= 512;
    char *bp = direct ? NULL : scratch(&j, (size_t)(round_up(g->Cout, j.nr) * (j.K > 0 ? j.K : 1)) * j.es);
    if (direct) {
        j.bp = k, j.ldb = g->Cout;
    } else if (bp) {
        j.k = k, j.flip = flip, j.bpw = bp, j.bp = bp, j.ldb = j.nr;
        int64_t npan = (g->Cout + j.nr - 1) / j.nr;
        int np = dagl__shares(j.K * g->Cout, (int64_t)1 << 18);
        dagl__parallel(ctx, pack_share, &j, np > npan ? (int)npan : np);
    }
    if (j.bp) {
        int64_t most = grad ? g->N : g->N * (pg ? pg->OH : 0);
        int n = dagl__shares(j.P * (j.K > 0 ? j.K : 1) * g->Cout, (int64_t)1 << 20);
        if (grad || pg) dagl__parallel(ctx, grad ? forward_pool_grad_share : forward_pool_share, &j, n > most ? (int)most : n);
        else dagl__parallel(ctx, forward_share, &j, forward_shares(&j, n));
    }
    free(bp);
    job_input_free(&j);
    if (atomic_load(&j.failed)) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "conv2d: out of memory for its tiles");
    return DAGL_OK;
}

dagl_status dagl__ct_forward(dagl_ctx *ctx, int isa, dagl_dtype dt, const struct win2d *g, const void *x,
                             const void *k, int flip, const void *bias, dagl_op act, void *out)
{
    return forward(ctx, isa, dt, g, x, k, flip, bias, act, DAGL_OP_NONE, NULL, NULL, out);
}

dagl_status dagl__ct_forward_pool(dagl_ctx *ctx, int isa, dagl_dtype dt, const struct win2d *g, const void *x,
                                  const void *k, const void *bias, dagl_op act, dagl_op pool_op,
                                  const struct win2d *pg, void *out)
{
    return forward(ctx, isa, dt, g, x, k, 0, bias, act, pool_op, pg, NULL, out);
}

dagl_status dagl__ct_pool_grad_recompute(dagl_ctx *ctx, int isa, dagl_dtype dt, const struct win2d *g, const void *x,
                                         const void *k, const void *bias, const struct win2d *pg, const void *dy,
                                         void *out)
{
    return forward(ctx, isa, dt, g, x, k, 0, bias, DAGL_OP_RELU, DAGL_OP_MAXPOOL2D_GRAD, pg, dy, out);
}

/* Packs the kernel for the input gradient's GEMM dY · kernelᵀ: panel p, row co, column c is
 * kernel entry (tap, ci) = p * nr + c (flat over taps x input channels, zero past K) at co. */
#define DEF_PACK_T(sfx, T, dt)                                                                     \
    static void pack_kernel_t_##sfx(const struct ct_job *j, const T *k, T *bp)                     \
    {                                                                                              \
        int64_t npan = (j->K + j->nr - 1) / j->nr, Cout = j->g.Cout;                               \
        for (int64_t p = 0; p < npan; p++)                                                         \
            for (int64_t co = 0; co < Cout; co++) {                                                \
                T *dst = bp + (p * Cout + co) * j->nr;                                             \
                for (int64_t c = 0; c < j->nr; c++) {                                              \
                    int64_t r = p * j->nr + c;                                                     \
                    dst[c] = r < j->K ? k[r * Cout + co] : 0;                                      \
                }                                                                                  \
            }                                                                                      \
    }
DAGL_FOR_FLOAT_DTYPES(DEF_PACK_T)

/* Adds the rows of col (output pixels [p0, p0 + np) of one image, K columns: taps x input
 * channels) into the input gradient under each pixel's window, in pixel then tap order. */
#define DEF_COL2IM(sfx, T, dt)                                                                     \
    DAGL_VEC_CLONES static void col2im_##sfx(const struct ct_job *j, int64_t p0, int64_t np, const T *col) \
    {                                                                                              \
        const struct win2d *g = &j->g;                                                             \
        T *dx = (T *)j->out;                                                                       \
        int64_t ow = p0 % g->OW, r = p0 / g->OW, oh = r % g->OH, n = r / g->OH, C = g->C;          \
        for (int64_t q = 0; q < np; q++, col += j->K) {                                            \
            for (int64_t kh = 0; kh < g->KH; kh++) {                                               \
                int64_t ih = oh * g->sh - g->pt + kh;                                              \
                if (ih < 0 || ih >= g->H) continue;                                                \
                for (int64_t kw = 0; kw < g->KW; kw++) {                                           \
                    int64_t iw = ow * g->sw - g->pl + kw;                                          \
                    if (iw < 0 || iw >= g->W) continue;                                            \
                    T *restrict d = dx + ((n * g->H + ih) * g->W + iw) * C;                        \
                    const T *restrict s = col + (kh * g->KW + kw) * C;                             \
                    for (int64_t c = 0; c < C; c++) d[c] += s[c];                                  \
                }                                                                                  \
            }                                                                                      \
            if (++ow == g->OW) ow = 0, oh++;                                                       \
        }                                                                                          \
    }
DAGL_FOR_FLOAT_DTYPES(DEF_COL2IM)

/* Input-gradient share by GEMM and col2im: whole images (windows overlap only within one),
 * zeroed, then block by block: col = dY rows · kernelᵀ, added back under the windows. */
static void grad_input_share(void *p, int ith, int nth)
{
    struct ct_job *j = p;
    const struct win2d *g = &j->g;
    int64_t lo, hi, es = (int64_t)j->es, mr = j->sh->mr, pix = g->OH * g->OW, img = g->H * g->W * g->C;
    dagl__split(g->N, ith, nth, &lo, &hi);
    if (lo >= hi) return;
    memset(j->out + lo * img * es, 0, (size_t)((hi - lo) * img * es));
    const char **rows = scratch(j, sizeof *rows * (size_t)j->pb);
    char *col = scratch(j, (size_t)(j->pb * j->K * es));
    if (rows && col)
        for (int64_t n = lo; n < hi; n++)
            for (int64_t p0 = n * pix; p0 < (n + 1) * pix; p0 += j->pb) {
                int64_t np = (n + 1) * pix - p0 < j->pb ? (n + 1) * pix - p0 : j->pb;
                for (int64_t q = 0; q < round_up(np, mr); q++) rows[q] = j->dy + (p0 + (q < np ? q : np - 1)) * g->Cout * es;
                for (int64_t c0 = 0; c0 < j->K; c0 += j->nr) {
                    int cols = (int)(j->K - c0 < j->nr ? j->K - c0 : j->nr);
                    static const int64_t none[1] = {0};
                    for (int64_t i0 = 0; i0 < np; i0 += mr)
                        j->sh->fwd((const void *const *)(rows + i0), none, 1, g->Cout, j->bp + c0 * g->Cout * es,
                                   j->nr, col + (i0 * j->K + c0) * es, j->K, (int)(np - i0 < mr ? np - i0 : mr), cols);
                }
                if (j->dt == DAGL_F32) col2im_f32(j, p0, np, (const float *)col);
                else col2im_f64(j, p0, np, (const double *)col);
            }
    free(rows), free(col);
}

/* The fraction of (output pixel, tap) pairs of convolution g whose tap lies in the padding. */
static double padding_share(const struct win2d *g)
{
    int64_t vh = 0, vw = 0;
    for (int64_t oh = 0; oh < g->OH; oh++)
        for (int64_t kh = 0; kh < g->KH; kh++) vh += oh * g->sh - g->pt + kh >= 0 && oh * g->sh - g->pt + kh < g->H;
    for (int64_t ow = 0; ow < g->OW; ow++)
        for (int64_t kw = 0; kw < g->KW; kw++) vw += ow * g->sw - g->pl + kw >= 0 && ow * g->sw - g->pl + kw < g->W;
    double all = (double)(g->OH * g->KH) * (double)(g->OW * g->KW);
    return all > 0 ? 1 - (double)vh * (double)vw / all : 0;
}

dagl_status dagl__ct_grad_input(dagl_ctx *ctx, int isa, dagl_dtype dt, const struct win2d *g, const void *dy,
                                const void *k, void *out)
{
    /* stride 1: a forward pass over dY with the kernel flipped, unless that pass would spend more
     * than a tenth of its work on the padding (small images): then dY · kernelᵀ and col2im */
    struct win2d t = {g->N, g->OH, g->OW, g->Cout, g->KH, g->KW, g->H, g->W, g->C, 1, 1, g->KH - 1 - g->pt,
                      g->KW - 1 - g->pl};
    if (g->sh == 1 && g->sw == 1 && padding_share(&t) <= 0.1)
        return dagl__ct_forward(ctx, isa, dt, &t, dy, k, 1, NULL, DAGL_OP_NONE, out);
    struct ct_job j;
    dagl_status st = job_init(ctx, &j, isa, dt, g);
    if (st) return st;
    int64_t nx = g->N * g->H * g->W * g->C;
    if (nx == 0) return DAGL_OK;
    if (j.K == 0 || g->Cout == 0 || j.P == 0) {
        memset(out, 0, (size_t)nx * j.es);
        return DAGL_OK;
    }
    j.sh = pick_shape(j.set, 0, j.K);
    j.nr = (int64_t)j.sh->nv * j.set->vl;
    j.pb = round_up(BLOCK_PIXELS, j.sh->mr);
    j.dy = dy, j.out = out;
    char *bp = scratch(&j, (size_t)(round_up(j.K, j.nr) * g->Cout) * j.es);
    if (bp) {
        if (dt == DAGL_F32) pack_kernel_t_f32(&j, k, (float *)bp);
        else pack_kernel_t_f64(&j, k, (double *)bp);
        j.bp = bp;
        int n = dagl__shares(j.P * j.K * g->Cout, (int64_t)1 << 20);
        dagl__parallel(ctx, grad_input_share, &j, n > g->N ? (int)g->N : n);
    }
    free(bp);
    if (atomic_load(&j.failed)) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "conv2d_grad_input: out of memory");
    return DAGL_OK;
}

/* Kernel-gradient block, transposed tiles: partial[co][tap, ci] += dy[p][co] * x under tap at
 * p, over the block's pixels (corners cor); vectors of input channels are read in place. */
static void grad_kernel_t_block(struct ct_job *j, const char **cor, int64_t p0, int64_t np, char *part)
{
    const struct win2d *g = &j->g;
    int64_t es = (int64_t)j->es, mr = j->sh->mr, nv = j->sh->nv, vl = j->set->vl;
    int64_t ov[4];
    for (int64_t co0 = 0; co0 < g->Cout; co0 += mr) {
        int rows = (int)(g->Cout - co0 < mr ? g->Cout - co0 : mr);
        for (int64_t k0 = 0; k0 < j->K; k0 += j->nr) {
            for (int64_t v = 0; v < nv; v++) { /* past K: any vector (the columns are padding) */
                int64_t kv = k0 + v * vl < j->K ? k0 + v * vl : 0;
                ov[v] = j->off[kv / g->C] + kv % g->C * es;
            }
            j->sh->kt(j->dy + (p0 * g->Cout + co0) * es, g->Cout, rows, (const void *const *)cor, ov, np,
                      part + (co0 * j->pcol + k0) * es, j->pcol);
        }
    }
}

/* The input under the taps as packed A panels for rows [r0, r0 + MR) of the kernel gradient
 * (tap, ci): a[q][i] for the block's pixels q (zero past K). */
#define DEF_PACK_A(sfx, T, dt)                                                                     \
    static void pack_a_##sfx(const struct ct_job *j, const char **cor, int64_t np, int64_t r0, T *a) \
    {                                                                                              \
        int64_t mr = j->sh->mr, C = j->g.C, at[32];                                                \
        T keep[32];                                                                                \
        for (int64_t i = 0; i < mr; i++) { /* past K: row 0's entry, times zero */                 \
            int64_t r = r0 + i < j->K ? r0 + i : 0;                                                \
            at[i] = j->off[r / C] + r % C * (int64_t)sizeof(T);                                    \
            keep[i] = r0 + i < j->K ? 1 : 0;                                                       \
        }                                                                                          \
        for (int64_t q = 0; q < np; q++, a += mr)                                                  \
            for (int64_t i = 0; i < mr; i++) a[i] = keep[i] ? *(const T *)(cor[q] + at[i]) : 0;     \
    }
DAGL_FOR_FLOAT_DTYPES(DEF_PACK_A)

/* Kernel-gradient block, direct tiles (few input channels): partial[tap, ci][co] += x under tap
 * at p * dy[p][co], the input packed per row panel; dy rows copied to padded ones when the last
 * column panel is ragged. */
static void grad_kernel_d_block(struct ct_job *j, const char **cor, int64_t p0, int64_t np, char *part, char *a,
                                char *dyp)
{
    const struct win2d *g = &j->g;
    int64_t es = (int64_t)j->es, mr = j->sh->mr;
    const char *b = j->dy + p0 * g->Cout * es;
    int64_t ldb = g->Cout;
    if (dyp) {
        memset(dyp, 0, (size_t)(np * j->pcol * es));
        for (int64_t q = 0; q < np; q++) memcpy(dyp + q * j->pcol * es, b + q * g->Cout * es, (size_t)(g->Cout * es));
        b = dyp, ldb = j->pcol;
    }
    for (int64_t r0 = 0; r0 < j->K; r0 += mr) {
        if (j->dt == DAGL_F32) pack_a_f32(j, cor, np, r0, (float *)a);
        else pack_a_f64(j, cor, np, r0, (double *)a);
        for (int64_t c0 = 0; c0 < g->Cout; c0 += j->nr)
            j->sh->gemm(a, b + c0 * es, ldb, np, part + (r0 * j->pcol + c0) * es, j->pcol);
    }
}

/* Kernel-gradient share: its band of output pixels into its own zeroed partial. */
static void grad_kernel_share(void *p, int ith, int nth)
{
    struct ct_job *j = p;
    int64_t lo, hi, es = (int64_t)j->es;
    char *part = j->part + (int64_t)ith * j->prow * j->pcol * es;
    memset(part, 0, (size_t)(j->prow * j->pcol * es));
    dagl__split(j->P, ith, nth, &lo, &hi);
    if (lo >= hi) return;
    const char **cor = scratch(j, sizeof *cor * (size_t)j->pb);
    char *a = j->transposed ? NULL : scratch(j, (size_t)(j->pb * j->sh->mr * es));
    char *dyp = j->transposed || j->pcol == j->g.Cout ? NULL : scratch(j, (size_t)(j->pb * j->pcol * es));
    if (cor && (j->transposed || (a && (dyp || j->pcol == j->g.Cout))))
        for (int64_t p0 = lo; p0 < hi; p0 += j->pb) {
            int64_t np = hi - p0 < j->pb ? hi - p0 : j->pb;
            corners(j, p0, np, np, cor);
            if (j->transposed) grad_kernel_t_block(j, cor, p0, np, part);
            else grad_kernel_d_block(j, cor, p0, np, part, a, dyp);
        }
    free(cor), free(a), free(dyp);
}

/* out = the partials summed in share order (transposed back for transposed tiles), over a
 * share of the output's elements. */
#define DEF_SUM_PARTS(sfx, T, dt)                                                                  \
    static void sum_parts_##sfx(const struct ct_job *j, int64_t e0, int64_t e1)                    \
    {                                                                                              \
        int64_t Cout = j->g.Cout, stride = j->prow * j->pcol;                                      \
        const T *part = (const T *)j->part;                                                        \
        T *out = (T *)j->out;                                                                      \
        for (int64_t e = e0; e < e1; e++) {                                                        \
            int64_t r = e / Cout, co = e % Cout;                                                   \
            int64_t at = j->transposed ? co * j->pcol + r : r * j->pcol + co;                      \
            T s = part[at];                                                                        \
            for (int i = 1; i < j->nshares; i++) s += part[i * stride + at];                       \
            out[e] = s;                                                                            \
        }                                                                                          \
    }
DAGL_FOR_FLOAT_DTYPES(DEF_SUM_PARTS)

/* Adapts sum_parts to the pool's task signature. */
static void sum_share(void *p, int ith, int nth)
{
    const struct ct_job *j = p;
    int64_t lo, hi;
    dagl__split(j->K * j->g.Cout, ith, nth, &lo, &hi);
    if (j->dt == DAGL_F32) sum_parts_f32(j, lo, hi);
    else sum_parts_f64(j, lo, hi);
}

dagl_status dagl__ct_grad_kernel(dagl_ctx *ctx, int isa, dagl_dtype dt, const struct win2d *g, const void *x,
                                 const void *dy, void *out)
{
    struct ct_job j;
    dagl_status st = job_init(ctx, &j, isa, dt, g);
    if (st) return st;
    int64_t nout = j.K * g->Cout;
    if (nout == 0) return DAGL_OK;
    if (j.P == 0) {
        memset(out, 0, (size_t)nout * j.es);
        return DAGL_OK;
    }
    j.transposed = g->C % j.set->vl == 0;
    j.sh = j.transposed ? pick_shape(j.set, g->Cout, j.K) : pick_shape(j.set, j.K, g->Cout);
    j.nr = (int64_t)j.sh->nv * j.set->vl;
    j.prow = j.transposed ? round_up(g->Cout, j.sh->mr) : round_up(j.K, j.sh->mr);
    j.pcol = j.transposed ? round_up(j.K, j.nr) : round_up(g->Cout, j.nr);
    j.pb = round_up(BLOCK_PIXELS, j.sh->mr);
    j.dy = dy, j.out = out;
    int n = dagl__shares(j.P * j.K * g->Cout, (int64_t)1 << 21);
    j.nshares = n > 16 ? 16 : n > j.P ? (int)j.P : n;
    if ((st = job_input(ctx, &j, x))) {
        job_input_free(&j);
        return st;
    }
    j.part = scratch(&j, (size_t)(j.nshares * j.prow * j.pcol) * j.es);
    if (j.part) dagl__parallel(ctx, grad_kernel_share, &j, j.nshares);
    if (!atomic_load(&j.failed)) dagl__parallel(ctx, sum_share, &j, dagl__shares(nout * j.nshares, (int64_t)1 << 16));
    free(j.part);
    job_input_free(&j);
    if (atomic_load(&j.failed)) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "conv2d_grad_kernel: out of memory");
    return DAGL_OK;
}
