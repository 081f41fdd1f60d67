/* window2d.h -- what conv2d.c, pool2d.c and graph inference share: the geometry of a 2-D window
 * op over NHWC images and the one function that checks operands and infers output shapes. */
#ifndef DAGL_WINDOW2D_H
#define DAGL_WINDOW2D_H

#include "kernels.h"

/* Geometry of one window op: input (N, H, W, C), window KH x KW, output (N, OH, OW, Cout) with
 * strides sh, sw; the window of output (oh, ow) starts at input row oh*sh - pt, column ow*sw - pl. */
struct win2d {
    int64_t N, H, W, C;
    int64_t KH, KW, OH, OW, Cout;
    int64_t sh, sw, pt, pl;
};

/* Checks the sources of window op `op` (shapes shp[i] of nd[i] dims, dtypes dts[i]) against its
 * window `w` and, for the gradient ops, the forward operand's shape `pshape` (4 entries), and
 * fills the geometry, the output shape (4 dims) and dtype. Errors name the op and the shapes. */
DAGL_HIDDEN dagl_status dagl__win2d_infer(dagl_ctx *ctx, dagl_op op, const dagl_window2d *w, const int64_t *pshape,
                                          const int *nd, const int64_t *const *shp, const dagl_dtype *dts,
                                          struct win2d *g, int64_t *oshape, dagl_dtype *odt);

/* The same check for eager calls: sources as tensors. */
DAGL_HIDDEN dagl_status dagl__win2d_check(dagl_ctx *ctx, dagl_op op, const dagl_window2d *w, const int64_t *pshape,
                                          int nsrc, const dagl_tensor *const *src, struct win2d *g,
                                          int64_t *oshape, dagl_dtype *odt);

/* Source k of an eager window op in the compute dtype dt and contiguous (a new reference). */
DAGL_HIDDEN dagl_status dagl__win2d_operand(dagl_ctx *ctx, const dagl_tensor *t, dagl_dtype dt, dagl_tensor **out);

/* One output row oh of max or average pooling g (op DAGL_OP_MAXPOOL2D or AVGPOOL2D) of one
 * image whose rows from h0 on are at img (g->W * g->C elements each), into out (g->OW * g->C). */
DAGL_HIDDEN void dagl__pool2d_row(dagl_dtype dt, dagl_op op, const struct win2d *g, const void *img, int64_t h0,
                                  int64_t oh, void *out);
/* The input rows [*h0, *h1) pooling g's output row oh reads. */
DAGL_HIDDEN void dagl__pool2d_rows_needed(const struct win2d *g, int64_t oh, int64_t *h0, int64_t *h1);

/* The max pooling g's gradient for output row oh (dy: that row of the output gradient) into
 * dxi (one image of the input gradient), the input's rows from xh0 on at xb; with relu, times
 * x > 0 as written (windows must not overlap then). Adds when windows overlap, else writes. */
DAGL_HIDDEN void dagl__maxpool2d_grad_row(dagl_dtype dt, const struct win2d *g, const void *xb, int64_t xh0,
                                          int64_t oh, const void *dy, void *dxi, bool relu);
/* Whether no input of pooling g is in two windows. */
DAGL_HIDDEN bool dagl__pool2d_disjoint(const struct win2d *g);
/* Whether a max pooling gradient image must be zeroed before its rows are written (windows that
 * overlap or leave inputs out). */
DAGL_HIDDEN bool dagl__pool2d_grad_zero_fill(const struct win2d *g);

/* The float dtypes, for X-macros: X(suffix, C type, dtype). */
#define DAGL_FOR_FLOAT_DTYPES(X) X(f32, float, DAGL_F32) X(f64, double, DAGL_F64)

#endif
