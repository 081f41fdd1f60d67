/* conv2d.c -- 2-D convolution over NHWC images (Keras's Conv2D, kernel (KH, KW, Cin, Cout)) and
 * its two gradients: operand checks and conversions, then the register-tiled passes of
 * conv_tiles.c (the forward pass, the kernel gradient, and the input gradient at stride 1, a
 * forward pass over the output gradient with the kernel flipped). The input gradient of a
 * strided convolution is a GEMM dY · kernelᵀ into blocks that col2im adds back into the images.
 * Work is split into shares chosen from the problem size only (bitwise the same at any thread
 * count). */
#include "conv_tiles.h"
#include "conv_micro.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_BYTES ((int64_t)2 << 20) /* im2col scratch per block */

struct conv_job {
    struct win2d g;
    dagl_dtype dt;
    size_t es;         /* element size */
    int64_t K;         /* KH * KW * Cin: columns of a block */
    int64_t chunk;     /* output rows (of OW pixels) per block */
    const char *x, *k, *dy;
    char *out;
    atomic_int failed; /* a share could not get its scratch block */
};

/* Adds each entry of a block (rows: output pixels, columns: the window's KH*KW*Cin inputs) into
 * the input gradient at its position. */
#define DEF_COL2IM(sfx, T, dt)                                                                     \
    static void col2im_##sfx(const struct conv_job *j, int64_t r0, int64_t r1, const T *col)       \
    {                                                                                              \
        const struct win2d *g = &j->g;                                                             \
        T *dx = (T *)j->out;                                                                       \
        for (int64_t r = r0; r < r1; r++) {                                                        \
            int64_t n = r / g->OH, oh = r % g->OH;                                                 \
            for (int64_t ow = 0; ow < g->OW; ow++) {                                               \
                const T *src = col + ((r - r0) * g->OW + ow) * j->K;                               \
                for (int64_t kh = 0; kh < g->KH; kh++) {                                           \
                    int64_t ih = oh * g->sh - g->pt + kh;                                          \
                    for (int64_t kw = 0; kw < g->KW; kw++, src += g->C) {                          \
                        int64_t iw = ow * g->sw - g->pl + kw;                                      \
                        if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) continue;                \
                        T *d = dx + ((n * g->H + ih) * g->W + iw) * g->C;                          \
                        for (int64_t c = 0; c < g->C; c++) d[c] += src[c];                         \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }
DAGL_FOR_FLOAT_DTYPES(DEF_COL2IM)

/* Calls the col2im made by DEF_COL2IM for the job's float dtype. */
static void col2im(const struct conv_job *j, int64_t r0, int64_t r1, const void *col)
{
    if (j->dt == DAGL_F32) col2im_f32(j, r0, r1, col);
    else col2im_f64(j, r0, r1, col);
}

/* A scratch block for `rows` output rows of `cols` columns, or NULL (the job is marked failed). */
static char *scratch(struct conv_job *j, int64_t rows, int64_t cols)
{
    char *p = malloc((size_t)(rows * j->g.OW * cols) * j->es + 1);
    if (!p) atomic_store(&j->failed, 1);
    return p;
}

/* Input-gradient share: whole images (their windows overlap only within an image): block of
 * dY · kernelᵀ, added back to the image by col2im in a fixed order. */
static void grad_input_share(void *p, int ith, int nth)
{
    struct conv_job *j = p;
    const struct win2d *g = &j->g;
    int64_t lo, hi;
    dagl__split(g->N, ith, nth, &lo, &hi);
    if (lo >= hi) return;
    memset(j->out + lo * g->H * g->W * g->C * (int64_t)j->es, 0, (size_t)((hi - lo) * g->H * g->W * g->C) * j->es);
    char *col = scratch(j, j->chunk, j->K);
    if (!col) return;
    for (int64_t r0 = lo * g->OH; r0 < hi * g->OH; r0 += j->chunk) {
        int64_t r1 = r0 + j->chunk < hi * g->OH ? r0 + j->chunk : hi * g->OH;
        dagl__gemm(j->dt, 0, 1, (r1 - r0) * g->OW, j->K, g->Cout, j->dy + r0 * g->OW * g->Cout * (int64_t)j->es,
                   g->Cout, j->k, g->Cout, 0, col, j->K);
        col2im(j, r0, r1, col);
    }
    free(col);
}

/* Checks the operands, makes them contiguous in the compute dtype and the output tensor, and
 * sets up the job; *hold receives the operand copies to release. */
static dagl_status prepare(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, const dagl_tensor *b,
                           const int64_t *pshape, const dagl_window2d *w, struct conv_job *j, dagl_tensor **hold,
                           dagl_tensor *dst, dagl_tensor **out)
{
    const dagl_tensor *src[2] = {a, b};
    int64_t oshape[4];
    memset(j, 0, sizeof *j);
    atomic_init(&j->failed, 0);
    dagl_status st = dagl__win2d_check(ctx, op, w, pshape, 2, src, &j->g, oshape, &j->dt);
    if (st) return st;
    if ((st = dagl__win2d_operand(ctx, a, j->dt, &hold[0])) || (st = dagl__win2d_operand(ctx, b, j->dt, &hold[1])))
        return st;
    if ((st = dagl__tensor_alloc_dst(ctx, dst, j->dt, 4, oshape, out))) return st;
    j->es = dagl_dtype_size(j->dt);
    j->K = j->g.KH * j->g.KW * j->g.C;
    int64_t row = j->g.OW * (j->K > 0 ? j->K : 1) * (int64_t)j->es;
    j->chunk = BLOCK_BYTES / (row > 0 ? row : 1);
    if (j->chunk < 1) j->chunk = 1;
    j->out = (*out)->data;
    return DAGL_OK;
}

/* Runs `share` over n shares; NOMEM when a share had no scratch memory. */
static dagl_status run(dagl_ctx *ctx, const char *name, void (*share)(void *, int, int), struct conv_job *j, int n)
{
    dagl__parallel(ctx, share, j, n);
    if (atomic_load(&j->failed)) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory for im2col", name);
    return DAGL_OK;
}

/* Releases the operand copies; on failure the output too. */
static dagl_status finish(dagl_status st, dagl_tensor **hold, dagl_tensor **out)
{
    dagl_tensor_release(hold[0]);
    dagl_tensor_release(hold[1]);
    if (st) {
        dagl_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

/* Shares of about 4M multiply-adds, at most `most`. */
static int conv_shares(const struct conv_job *j, int64_t most)
{
    int n = dagl__shares(j->g.N * j->g.OH * j->g.OW * j->K * j->g.Cout, (int64_t)1 << 22);
    return n > most ? (int)(most > 0 ? most : 1) : n;
}

/* The op with the given instruction set's tile kernels: conv2d (with bias and act when bias is
 * given), conv2d_grad_input (stride 1: the forward tiles on the output gradient with the kernel
 * flipped; else the GEMM and col2im above) or conv2d_grad_kernel. */
dagl_status dagl__conv2d_isa(dagl_ctx *ctx, int isa, dagl_op op, const dagl_tensor *a, const dagl_tensor *b,
                             const int64_t *pshape, const dagl_window2d *w, const dagl_tensor *bias, dagl_op act,
                             dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    struct conv_job j;
    dagl_tensor *hold[3] = {NULL, NULL, NULL};
    dagl_status st = prepare(ctx, op, a, b, pshape, w, &j, hold, dst, out);
    if (st == DAGL_OK && bias) {
        if (bias->ndim != 1 || bias->shape[0] != j.g.Cout) {
            char b1[160];
            st = dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "conv2d+add: the bias %s must have shape [%lld]",
                                    dagl_shape_str(bias->ndim, bias->shape, b1, sizeof b1), (long long)j.g.Cout);
        } else {
            st = dagl__win2d_operand(ctx, bias, j.dt, &hold[2]);
        }
    }
    if (st == DAGL_OK && (*out)->numel > 0) {
        const void *p0 = hold[0]->data, *p1 = hold[1]->data;
        if (op == DAGL_OP_CONV2D) {
            st = dagl__ct_forward(ctx, isa, j.dt, &j.g, p0, p1, 0, hold[2] ? hold[2]->data : NULL, act, j.out);
        } else if (op == DAGL_OP_CONV2D_GRAD_KERNEL) {
            st = dagl__ct_grad_kernel(ctx, isa, j.dt, &j.g, p0, p1, j.out);
        } else if (j.g.sh == 1 && j.g.sw == 1) {
            const struct win2d *g = &j.g;
            struct win2d t = {g->N, g->OH, g->OW, g->Cout, g->KH, g->KW, g->H, g->W, g->C, 1, 1,
                              g->KH - 1 - g->pt, g->KW - 1 - g->pl};
            st = dagl__ct_forward(ctx, isa, j.dt, &t, p0, p1, 1, NULL, DAGL_OP_NONE, j.out);
        } else {
            j.dy = p0, j.k = p1;
            st = run(ctx, "conv2d_grad_input", grad_input_share, &j, conv_shares(&j, j.g.N));
        }
    }
    dagl_tensor_release(hold[2]);
    return finish(st, hold, out);
}

dagl_status dagl__conv2d_into(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *k, const dagl_window2d *w,
                              dagl_tensor *dst, dagl_tensor **out)
{
    return dagl__conv2d_isa(ctx, dagl__ct_best_isa(), DAGL_OP_CONV2D, x, k, NULL, w, NULL, DAGL_OP_NONE, dst, out);
}

/* The graph's fused conv2d+add(+relu/tanh/sigmoid) node (src/graph/fuse.c). */
dagl_status dagl__conv2d_epilogue(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *k, const dagl_tensor *bias,
                                  dagl_op act, const dagl_window2d *w, dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (!bias) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "conv2d+add: bias is NULL");
    return dagl__conv2d_isa(ctx, dagl__ct_best_isa(), DAGL_OP_CONV2D, x, k, NULL, w, bias, act, dst, out);
}

/* The public form: the result in fresh memory. */
dagl_status dagl_conv2d(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *k, const dagl_window2d *w,
                        dagl_tensor **out)
{
    return dagl__conv2d_into(ctx, x, k, w, NULL, out);
}

dagl_status dagl__conv2d_grad_input_into(dagl_ctx *ctx, const dagl_tensor *dy, const dagl_tensor *k,
                                         const int64_t *x_shape, const dagl_window2d *w, dagl_tensor *dst,
                                         dagl_tensor **out)
{
    return dagl__conv2d_isa(ctx, dagl__ct_best_isa(), DAGL_OP_CONV2D_GRAD_INPUT, dy, k, x_shape, w, NULL,
                            DAGL_OP_NONE, dst, out);
}

/* The public form: the result in fresh memory. */
dagl_status dagl_conv2d_grad_input(dagl_ctx *ctx, const dagl_tensor *dy, const dagl_tensor *k, const int64_t *x_shape,
                                   const dagl_window2d *w, dagl_tensor **out)
{
    return dagl__conv2d_grad_input_into(ctx, dy, k, x_shape, w, NULL, out);
}

dagl_status dagl__conv2d_grad_kernel_into(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *dy,
                                          const int64_t *k_shape, const dagl_window2d *w, dagl_tensor *dst,
                                          dagl_tensor **out)
{
    return dagl__conv2d_isa(ctx, dagl__ct_best_isa(), DAGL_OP_CONV2D_GRAD_KERNEL, x, dy, k_shape, w, NULL,
                            DAGL_OP_NONE, dst, out);
}

/* The public form: the result in fresh memory. */
dagl_status dagl_conv2d_grad_kernel(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *dy,
                                    const int64_t *k_shape, const dagl_window2d *w, dagl_tensor **out)
{
    return dagl__conv2d_grad_kernel_into(ctx, x, dy, k_shape, w, NULL, out);
}
