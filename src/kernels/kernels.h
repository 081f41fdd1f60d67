/* kernels.h -- what the kernel files share: the op-info table, the elementwise iteration
 * arguments and the (ith, nth) work split. Never included by users. */
#ifndef DAGL_KERNELS_H
#define DAGL_KERNELS_H

/* GCC's -O2 vectorizes only loops whose trip count needs no epilogue ("very cheap" cost model),
 * which leaves every elementwise loop scalar. The "cheap" model vectorizes them (4-8x on the
 * kernels) without changing floating-point semantics: no reassociation, unlike -ffast-math.
 * (A per-directory compile option in CMakeLists.txt would do the same.) */
#if defined(__GNUC__) && !defined(__clang__)
#endif

#include "core/internal.h"

/* ---------------------------------------------------------------- work split */

/* [*lo, *hi) is thread ith's share of n items split over nth threads. */
static inline void dagl__split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi)
{
    *lo = n * ith / nth;
    *hi = n * (ith + 1) / nth;
}

/* ---------------------------------------------------------------- elementwise */

#define EW_MAXIN 3

/* One elementwise call after broadcasting and dim coalescing: the output is contiguous with
 * `shape`; input k is read at in[k] with strides st[k] (elements, 0 on broadcast dims). ndim is
 * at least 1; shape[ndim-1] is the inner row. `lo`/`hi` carry clamp bounds. */
struct ew_args {
    int ndim;
    int64_t shape[DAGL_MAX_DIMS];
    int64_t st[EW_MAXIN][DAGL_MAX_DIMS];
    const char *in[EW_MAXIN];
    char *out;
    int64_t numel;
    double lo, hi;
    int64_t ilo, ihi;
};

typedef void (*ew_kernel)(const struct ew_args *a, int ith, int nth);

/* Broadcasts `nin` inputs (already in their compute dtypes), makes the output of dtype `odt` (in
 * dst when it fits, see dagl__tensor_alloc_dst) and fills `args` with coalesced dims. `name` goes
 * into error messages. */
DAGL_HIDDEN dagl_status dagl__ew_prepare(dagl_ctx *ctx, const char *name, int nin, const dagl_tensor *const *ins,
                                         dagl_dtype odt, dagl_tensor *dst, dagl_tensor **out, struct ew_args *args);
/* Sets up `args` for the common case of inputs with the output's shape, all contiguous:
 * one flat row of n elements. */
DAGL_HIDDEN void dagl__ew_flat(struct ew_args *args, int nin, const dagl_tensor *const *ins, dagl_tensor *out);
/* Casts `t` to `dt` when it differs (a new reference either way; release it). */
DAGL_HIDDEN dagl_status dagl__as_dtype(dagl_ctx *ctx, const dagl_tensor *t, dagl_dtype dt, dagl_tensor **out);

/* Byte address of output row r (0-based over the outer dims) and of input k's row r. The outer
 * index is recomputed from r by division: only once per thread share, then advanced. */
static inline void dagl__ew_row_index(const struct ew_args *a, int64_t r, int64_t *idx)
{
    for (int d = a->ndim - 2; d >= 0; d--) {
        idx[d] = r % a->shape[d];
        r /= a->shape[d];
    }
}

static inline void dagl__ew_next(const struct ew_args *a, int64_t *idx)
{
    for (int d = a->ndim - 2; d >= 0 && ++idx[d] == a->shape[d]; d--) idx[d] = 0;
}

static inline int64_t dagl__ew_off(const struct ew_args *a, int k, const int64_t *idx)
{
    int64_t off = 0;
    for (int d = 0; d < a->ndim - 1; d++) off += idx[d] * a->st[k][d];
    return off;
}

/* The share of rows (and, for a single row, of elements) of thread ith: calls ROW(a, o, p0, p1,
 * p2, s0, s1, s2, n) with typed pointers for each inner row (ROW: a static inline function).
 * Expanded inside each generated kernel so the row body inlines: no per-element or per-row
 * dispatch through pointers. */
#define EW_DRIVE(a, ith, nth, TO, T0, T1, T2, ROW)                                                   \
    do {                                                                                             \
        int64_t n_ = (a)->shape[(a)->ndim - 1];                                                      \
        int64_t s0_ = (a)->st[0][(a)->ndim - 1], s1_ = (a)->st[1][(a)->ndim - 1],                   \
                s2_ = (a)->st[2][(a)->ndim - 1];                                                     \
        if ((a)->ndim == 1) {                                                                        \
            int64_t lo_, hi_;                                                                        \
            dagl__split(n_, ith, nth, &lo_, &hi_);                                                   \
            ROW(a, (TO *)(a)->out + lo_, (const T0 *)(a)->in[0] + lo_ * s0_,                            \
                (const T1 *)(a)->in[1] + lo_ * s1_, (const T2 *)(a)->in[2] + lo_ * s2_, s0_, s1_,    \
                s2_, hi_ - lo_);                                                                     \
            break;                                                                                   \
        }                                                                                            \
        int64_t rows_ = (a)->numel / n_, r0_, r1_, idx_[DAGL_MAX_DIMS];                              \
        dagl__split(rows_, ith, nth, &r0_, &r1_);                                                    \
        if (r0_ >= r1_) break;                                                                       \
        dagl__ew_row_index(a, r0_, idx_);                                                            \
        for (int64_t r_ = r0_; r_ < r1_; r_++) {                                                     \
            ROW(a, (TO *)(a)->out + r_ * n_, (const T0 *)(a)->in[0] + dagl__ew_off(a, 0, idx_),         \
                (const T1 *)(a)->in[1] + dagl__ew_off(a, 1, idx_),                                   \
                (const T2 *)(a)->in[2] + dagl__ew_off(a, 2, idx_), s0_, s1_, s2_, n_);               \
            dagl__ew_next(a, idx_);                                                                  \
        }                                                                                            \
    } while (0)

/* Runs fn(arg, i, n) for i < n on the context's workers (inline when n is 1 or there is one
 * thread). Kernels choose n from the problem size only, never from the thread count, so every
 * thread count makes the same calls and gets bitwise the same results. */
DAGL_HIDDEN void dagl__parallel(dagl_ctx *ctx, void (*fn)(void *, int, int), void *arg, int n);

/* How many shares `work` units make at `grain` units a share (1 to 64). */
static inline int dagl__shares(int64_t work, int64_t grain)
{
    int64_t n = work / grain;
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* Runs an elementwise kernel over all of `a`, split into shares of 32K elements. */
DAGL_HIDDEN void dagl__ew_run(dagl_ctx *ctx, ew_kernel k, const struct ew_args *a);

/* Row-major C = op(A)·op(B) + beta·C for f32/f64 through BLAS (matmul.c). */
DAGL_HIDDEN void dagl__gemm(dagl_dtype dt, int ta, int tb, int64_t M, int64_t N, int64_t K, const void *A,
                            int64_t lda, const void *B, int64_t ldb, double beta, void *C, int64_t ldc);

/* C[rows, N] (f32/f64, contiguous) += bias[N] per row, then act (DAGL_OP_NONE, RELU, TANH or
 * SIGMOID) in place, with the expressions of the add and unary kernels (epilogue.c). */
DAGL_HIDDEN void dagl__epilogue(dagl_dtype dt, void *C, int64_t rows, int64_t N, const void *bias, dagl_op act);
DAGL_HIDDEN void dagl__epilogue_cols(dagl_dtype dt, void *C, int64_t rows, int64_t ld, int64_t n0, int64_t n,
                                     const void *bias, dagl_op act);
/* matmul(a, b) + bias, then act: the fused node of graph/fuse.c, bitwise equal to the three ops. */
DAGL_HIDDEN dagl_status dagl__matmul_epilogue(dagl_ctx *ctx, const dagl_tensor *a, const dagl_tensor *b,
                                              const dagl_tensor *bias, dagl_op act, dagl_tensor *dst,
                                              dagl_tensor **out);

/* The elementwise kernel of unary op `op` (NEG .. ERF) for dtype dt, or NULL (unary.c). */
DAGL_HIDDEN ew_kernel dagl__unary_kernel(dagl_op op, dagl_dtype dt);
/* The elementwise kernel of binary or compare op `op` for dtype dt, or NULL (binary.c). */
DAGL_HIDDEN ew_kernel dagl__binary_kernel(dagl_op op, dagl_dtype dt);

/* A fused elementwise program (graph/fuse_ew.c writes them, ew_program.c runs them): steps of
 * unary, binary and compare ops in order. An operand code is a source slot of the node (0 ..
 * nsrc-1), DAGL__PROG_REG + r (register r, the result of an earlier step), DAGL__PROG_SCALAR (the
 * step's scalar) or, for b, DAGL__PROG_NONE (a unary step). Step k writes register reg, the last
 * step the node's result. */
#define DAGL__PROG_MAX 16
enum { DAGL__PROG_NONE = -2, DAGL__PROG_SCALAR = -1, DAGL__PROG_REG = 32 };
typedef struct dagl__ew_step {
    dagl_op op;
    int8_t a, b, reg;
    double scalar;
} dagl__ew_step;
typedef struct dagl__ew_prog {
    int n;
    dagl__ew_step step[DAGL__PROG_MAX];
    char name[64]; /* "sub+mul+add", for traces and errors */
} dagl__ew_prog;
/* Runs program p over sources srcv (each with the result's shape, or one element), block by
 * block, into dst (or fresh memory): bitwise equal to its ops one by one. */
DAGL_HIDDEN dagl_status dagl__ew_program(dagl_ctx *ctx, const dagl__ew_prog *p, int nsrc, dagl_tensor *const *srcv,
                                         dagl_dtype dt, int ndim, const int64_t *shape, dagl_tensor *dst,
                                         dagl_tensor **out);

/* The shape checks graph inference shares with the eager kernels, so both give the same results
 * and messages: a reduction's output shape (dims 0-based, negative from the end; none = all), and
 * matmul's batch shape and output shape. */
DAGL_HIDDEN dagl_status dagl__reduce_shape(dagl_ctx *ctx, dagl_op op, dagl__shape_ref a, const int *dims, int ndims,
                                           int keepdim, int *ond, int64_t *oshape);
/* cumsum's and argsort's op and dim check (dim 0-based, negative from the end; along.c). */
DAGL_HIDDEN dagl_status dagl__along_check(dagl_ctx *ctx, dagl_op op, dagl__shape_ref a, int axis);
/* take_along's result shape (idx's) and scatter_add's (x's) after the index and dim checks
 * (take_along.c). */
DAGL_HIDDEN dagl_status dagl__take_along_shape(dagl_ctx *ctx, dagl__shape_ref x, dagl__shape_ref idx, int axis,
                                               int *ndim, int64_t *shape);
DAGL_HIDDEN dagl_status dagl__scatter_add_shape(dagl_ctx *ctx, dagl__shape_ref x, dagl__shape_ref idx,
                                                dagl__shape_ref src, int axis, int *ndim, int64_t *shape);
/* softmax's op and dim check (dim 0-based, negative from the end). */
DAGL_HIDDEN dagl_status dagl__softmax_check(dagl_ctx *ctx, dagl_op op, dagl__shape_ref a, int dim);
DAGL_HIDDEN dagl_status dagl__matmul_shape(dagl_ctx *ctx, dagl__shape_ref a, dagl__shape_ref b, int *nbatch,
                                           int64_t *bshape, int *ond, int64_t *oshape);

/* The kernels with their result's destination passed explicitly: a graph run hands each node
 * its planned slot (memory plan, src/graph/memplan.c) as dst, and the kernel allocates its final
 * result there when the dtype and shape match (dagl__tensor_alloc_dst), never a temporary. The
 * public functions are these with dst NULL. */
/* dagl_op_apply into dst: how a graph run executes a node. */
DAGL_HIDDEN dagl_status dagl__op_apply_into(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *srcs,
                                            const dagl_node_params *p, dagl_tensor *dst, dagl_tensor **out);
/* dagl_unary, its result in dst when dst has its dtype and shape (a graph node's planned slot) */
DAGL_HIDDEN dagl_status dagl__unary_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, dagl_tensor *dst,
                                         dagl_tensor **out);
/* dagl_clamp into dst */
DAGL_HIDDEN dagl_status dagl__clamp_into(dagl_ctx *ctx, const dagl_tensor *a, double lo, double hi, dagl_tensor *dst,
                                         dagl_tensor **out);
/* dagl_binary into dst */
DAGL_HIDDEN dagl_status dagl__binary_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, const dagl_tensor *b,
                                          dagl_tensor *dst, dagl_tensor **out);
/* dagl_binary_scalar into dst */
DAGL_HIDDEN dagl_status dagl__binary_scalar_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, double s,
                                                 int scalar_first, dagl_tensor *dst, dagl_tensor **out);
/* dagl_where into dst */
DAGL_HIDDEN dagl_status dagl__where_into(dagl_ctx *ctx, const dagl_tensor *cond, const dagl_tensor *a,
                                         const dagl_tensor *b, dagl_tensor *dst, dagl_tensor **out);
/* dagl_reduce into dst */
DAGL_HIDDEN dagl_status dagl__reduce_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, const int *dims,
                                          int ndims, int keepdim, int correction, dagl_tensor *dst, dagl_tensor **out);
/* dagl_softmax into dst */
DAGL_HIDDEN dagl_status dagl__softmax_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, int dim,
                                           dagl_tensor *dst, dagl_tensor **out);
/* cumsum or argsort of a along axis into dst (reverse: from the end / descending; argsort's
 * positions + base) */
DAGL_HIDDEN dagl_status dagl__along_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, int axis, int reverse,
                                         int64_t base, dagl_tensor *dst, dagl_tensor **out);
/* take_along(x, idx) and scatter_add(x, idx, src) along axis, indices from base, into dst */
DAGL_HIDDEN dagl_status dagl__take_along_into(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *idx, int axis,
                                              int64_t base, dagl_tensor *dst, dagl_tensor **out);
DAGL_HIDDEN dagl_status dagl__scatter_add_into(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *idx,
                                               const dagl_tensor *src, int axis, int64_t base, dagl_tensor *dst,
                                               dagl_tensor **out);
/* dagl_concat into dst */
DAGL_HIDDEN dagl_status dagl__concat_into(dagl_ctx *ctx, int n, const dagl_tensor *const *ts, int dim,
                                          dagl_tensor *dst, dagl_tensor **out);
/* dagl_slice_scatter into dst */
DAGL_HIDDEN dagl_status dagl__slice_scatter_into(dagl_ctx *ctx, const dagl_tensor *src, int ndim,
                                                 const int64_t *shape, int dim, int64_t start, int64_t step, dagl_tensor *dst, dagl_tensor **out);
/* dagl_gather into dst */
DAGL_HIDDEN dagl_status dagl__gather_into(dagl_ctx *ctx, const dagl_tensor *table, const dagl_tensor *idx,
                                          int64_t base, dagl_tensor *dst, dagl_tensor **out);
/* dagl_index_add into dst */
DAGL_HIDDEN dagl_status dagl__index_add_into(dagl_ctx *ctx, const dagl_tensor *src, const dagl_tensor *idx,
                                             int64_t rows, int64_t base, dagl_tensor *dst, dagl_tensor **out);
/* dagl_dropout_mask into dst */
DAGL_HIDDEN dagl_status dagl__dropout_mask_into(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape,
                                                double rate, uint64_t seed, uint64_t counter, dagl_tensor *dst, dagl_tensor **out);
/* dagl_pool2d into dst */
DAGL_HIDDEN dagl_status dagl__pool2d_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *x, const dagl_window2d *w,
                                          dagl_tensor *dst, dagl_tensor **out);
/* max_pool2d_grad(x, dy) * (x > 0): the fused node of graph/fuse.c (a relu's mask after the
 * pooling's gradient, its output being the pooling's input), bitwise equal to the two ops. */
DAGL_HIDDEN dagl_status dagl__maxpool2d_grad_relu(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *dy,
                                                  const dagl_window2d *w, dagl_tensor *dst, dagl_tensor **out);
/* dagl_pool2d_grad into dst */
DAGL_HIDDEN dagl_status dagl__pool2d_grad_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *x,
                                               const dagl_tensor *dy, const dagl_window2d *w, dagl_tensor *dst, dagl_tensor **out);
/* dagl_conv2d into dst */
DAGL_HIDDEN dagl_status dagl__conv2d_into(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *k,
                                          const dagl_window2d *w, dagl_tensor *dst, dagl_tensor **out);
/* conv2d(x, k) + bias, then act, then (pool_op MAXPOOL2D or AVGPOOL2D, else NONE) the pooling
 * with window `pool`: the fused node of graph/fuse.c, bitwise equal to the ops one by one. */
DAGL_HIDDEN dagl_status dagl__conv2d_epilogue(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *k,
                                              const dagl_tensor *bias, dagl_op act, const dagl_window2d *w,
                                              dagl_op pool_op, const dagl_window2d *pool, dagl_tensor *dst,
                                              dagl_tensor **out);
/* max_pool2d_grad(y, dy) * (y > 0) for y = relu(conv2d(x, k) + bias), y recomputed rather than
 * read: the fused node of graph/fuse.c for a first layer (few input channels), bitwise equal to
 * the ops one by one. The pooling's windows must not overlap. */
DAGL_HIDDEN dagl_status dagl__conv2d_pool_grad(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *k,
                                               const dagl_tensor *bias, const dagl_tensor *dy, const dagl_window2d *w,
                                               const dagl_window2d *pool, dagl_tensor *dst, dagl_tensor **out);
/* dagl_conv2d_grad_input into dst */
DAGL_HIDDEN dagl_status dagl__conv2d_grad_input_into(dagl_ctx *ctx, const dagl_tensor *dy, const dagl_tensor *k,
                                                     const int64_t *x_shape, const dagl_window2d *w, dagl_tensor *dst, dagl_tensor **out);
/* dagl_conv2d_grad_kernel into dst */
DAGL_HIDDEN dagl_status dagl__conv2d_grad_kernel_into(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *dy,
                                                      const int64_t *k_shape, const dagl_window2d *w, dagl_tensor *dst, dagl_tensor **out);
/* dagl_cast_scaled into dst */
DAGL_HIDDEN dagl_status dagl__cast_scaled_into(dagl_ctx *ctx, const dagl_tensor *t, dagl_dtype dt, double scale,
                                               dagl_tensor *dst, dagl_tensor **out);
/* dagl_matmul into dst */
DAGL_HIDDEN dagl_status dagl__matmul_into(dagl_ctx *ctx, const dagl_tensor *a, const dagl_tensor *b,
                                          dagl_tensor *dst, dagl_tensor **out);

/* The per-dtype C types of the dtypes that compute, for X-macros: X(suffix, C type, dtype)
 * (uint8 only moves and compares: DAGL_FOR_ALL_DTYPES in core/internal.h has it too). */
#define DAGL_FOR_DTYPES(X) X(f32, float, DAGL_F32) X(f64, double, DAGL_F64) X(i64, int64_t, DAGL_I64)

#endif
