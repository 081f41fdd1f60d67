/* matmul.c -- NumPy/PyTorch matmul: dot, matrix-vector, matrix-matrix and batched products with
 * broadcast batch dims, on cblas_sgemm/dgemm for floats and a plain loop for int64. */
#include "kernels.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* One operand seen as a stack of [rows, cols] matrices: element (i, j) of batch b is at
 * data + boff(b) + i * rs + j * cs. For BLAS it is passed as is (trans = 0, ld = rs) or as the
 * transpose of a row-major matrix (trans = 1, ld = cs). */
struct mm_operand {
    const char *data;
    int64_t rows, cols, rs, cs;
    int64_t bst[DAGL_MAX_DIMS]; /* batch strides over the output's batch dims (0 = broadcast) */
    int trans;
    int64_t ld;
};

struct mm_args {
    int nb;                          /* batch dims */
    int64_t bshape[DAGL_MAX_DIMS];
    int64_t nbatch, M, N, K;
    struct mm_operand a, b;
    char *out;                       /* contiguous [nbatch, M, N] */
    dagl_dtype dt;
    const char *bias;                /* fused epilogue: + bias[N] then act on each block, or NULL */
    dagl_op act;
    int gm, gn;                      /* one product's shares: a grid of gm row bands x gn column blocks */
};

/* Whether BLAS can read the matrix without a copy, and how: row-major (unit column stride) or
 * transposed-contiguous (unit row stride, e.g. x:t()). Strides of size-1 dims do not matter. */
static bool blas_layout(struct mm_operand *m)
{
    int64_t r = m->rows, c = m->cols;
    if ((c <= 1 || m->cs == 1) && (r <= 1 || m->rs >= (c > 1 ? c : 1))) {
        m->trans = 0;
        m->ld = r <= 1 ? (c > 1 ? c : 1) : m->rs;
        return m->ld <= INT_MAX;
    }
    if ((r <= 1 || m->rs == 1) && (c <= 1 || m->cs >= (r > 1 ? r : 1))) {
        m->trans = 1;
        m->ld = c <= 1 ? (r > 1 ? r : 1) : m->cs;
        return m->ld <= INT_MAX;
    }
    return false;
}

/* Describes operand t (1-D: a row vector for the left operand, a column for the right). */
static void describe(const dagl_tensor *t, int left, int nb, const int64_t *bshape, struct mm_operand *m)
{
    int n = t->ndim;
    m->data = t->data;
    if (n == 1) {
        m->rows = left ? 1 : t->shape[0];
        m->cols = left ? t->shape[0] : 1;
        m->rs = left ? 0 : t->strides[0];
        m->cs = left ? t->strides[0] : 0;
    } else {
        m->rows = t->shape[n - 2];
        m->cols = t->shape[n - 1];
        m->rs = t->strides[n - 2];
        m->cs = t->strides[n - 1];
    }
    /* batch strides: t's leading dims aligned to the right of the output's batch dims */
    int tb = n > 2 ? n - 2 : 0;
    for (int i = 0; i < nb; i++) {
        int j = i - (nb - tb);
        m->bst[i] = (j < 0 || (t->shape[j] == 1 && bshape[i] != 1)) ? 0 : t->strides[j];
    }
}

/* Element offset of batch b's matrix in operand m: b unravelled over the output's batch dims,
 * times m's batch strides (0 where m is broadcast). */
static int64_t batch_off(const struct mm_args *a, const struct mm_operand *m, int64_t b)
{
    int64_t off = 0;
    for (int d = a->nb - 1; d >= 0; d--) {
        off += (b % a->bshape[d]) * m->bst[d];
        b /= a->bshape[d];
    }
    return off;
}

/* Bias and activation on a block of C (rows of width n, row stride N), from column n0 on. */
static void block_epilogue(const struct mm_args *a, char *C, int64_t rows, int64_t n0, int64_t n)
{
    dagl__epilogue_cols(a->dt, C - (size_t)n0 * dagl_dtype_size(a->dt), rows, a->N, n0, n, a->bias, a->act);
}

/* Rows [m0, m1) x columns [n0, n1) of one batch's product through BLAS: A's first row moves by
 * m0 rows, B's first column by n0 columns, C keeps its row stride N. */
#define DEF_GEMM(sfx, T, GEMM)                                                                     \
    static void gemm_##sfx(const struct mm_args *a, int64_t bi, int64_t m0, int64_t m1, int64_t n0, \
                           int64_t n1)                                                             \
    {                                                                                              \
        const T *A = (const T *)a->a.data + batch_off(a, &a->a, bi) + m0 * a->a.rs;                \
        const T *B = (const T *)a->b.data + batch_off(a, &a->b, bi) + n0 * a->b.cs;                \
        T *C = (T *)a->out + (bi * a->M + m0) * a->N + n0;                                         \
        GEMM(CblasRowMajor, a->a.trans ? CblasTrans : CblasNoTrans,                                \
             a->b.trans ? CblasTrans : CblasNoTrans, (int)(m1 - m0), (int)(n1 - n0), (int)a->K, 1, \
             A, (int)a->a.ld, B, (int)a->b.ld, 0, C, (int)a->N);                                   \
        if (a->bias) block_epilogue(a, (char *)C, m1 - m0, n0, n1 - n0);                           \
    }
DEF_GEMM(f32, float, cblas_sgemm)
DEF_GEMM(f64, double, cblas_dgemm)

/* int64 has no BLAS: i-k-j loops over the strides, wrapping on overflow like PyTorch. */
static void gemm_i64(const struct mm_args *a, int64_t bi, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const int64_t *A = (const int64_t *)a->a.data + batch_off(a, &a->a, bi);
    const int64_t *B = (const int64_t *)a->b.data + batch_off(a, &a->b, bi);
    uint64_t *C = (uint64_t *)a->out + bi * a->M * a->N;
    for (int64_t i = m0; i < m1; i++) {
        uint64_t *c = C + i * a->N;
        for (int64_t j = n0; j < n1; j++) c[j] = 0;
        for (int64_t k = 0; k < a->K; k++) {
            uint64_t x = (uint64_t)A[i * a->a.rs + k * a->a.cs];
            const int64_t *brow = B + k * a->b.rs;
            for (int64_t j = n0; j < n1; j++) c[j] += x * (uint64_t)brow[j * a->b.cs];
        }
    }
}

/* Share ith: whole batches when there are several, else one block of the gm x gn grid. */
static void mm_run(const struct mm_args *a, int ith, int nth)
{
    void (*g)(const struct mm_args *, int64_t, int64_t, int64_t, int64_t, int64_t) =
        a->dt == DAGL_F32 ? gemm_f32 : a->dt == DAGL_F64 ? gemm_f64 : gemm_i64;
    int64_t lo, hi, n0, n1;
    if (a->nbatch > 1) {
        dagl__split(a->nbatch, ith, nth, &lo, &hi);
        for (int64_t b = lo; b < hi; b++) g(a, b, 0, a->M, 0, a->N);
    } else {
        dagl__split(a->M, ith / a->gn, a->gm, &lo, &hi);
        dagl__split(a->N, ith % a->gn, a->gn, &n0, &n1);
        if (lo < hi && n0 < n1) g(a, 0, lo, hi, n0, n1);
    }
}

/* Adapts mm_run to the pool's task signature. */
static void mm_share(void *p, int ith, int nth) { mm_run(p, ith, nth); }

/* Shares by work (about 256K multiply-adds each), never more than the batches or than bands of
 * rows: every share packs its part of B again, so bands are at least 64 rows when B is large
 * (packing it from memory costs about as much as 16 rows of multiply-adds) and 16 rows when B
 * is small enough to pack from cache (K x N up to 16K elements: the layers of small MLPs). The
 * shares of one product form a grid of row bands x column blocks (gm x gn) as near square as
 * blocks of at least 64 columns allow: a share packs (M/gm) x K of A and K x (N/gn) of B, least
 * for square blocks (a 2048^3 product as 32 bands of 64 rows packed all of B 32 times). The
 * shares depend on the shapes only, so results are the same at any thread count. */
static int mm_shares(struct mm_args *a)
{
    int n = dagl__shares(a->nbatch * a->M * a->N * a->K, 1 << 18);
    int64_t band = a->K * a->N <= 16384 ? 16 : 64;
    int64_t most = a->nbatch > 1 ? a->nbatch : a->M / band;
    if (n > most) n = (int)(most > 0 ? most : 1);
    a->gm = n, a->gn = 1;
    if (a->nbatch > 1 || n < 4) return n;
    /* gn: the divisor of n nearest (in ratio) to the square-block count, the smaller on a tie */
    double want = sqrt((double)n * (double)a->N / (double)a->M), best = INFINITY;
    for (int d = 1; d <= n && d <= a->N / 64; d++) {
        double off = fabs(log((double)d / want));
        if (n % d == 0 && off < best - 1e-9) best = off, a->gn = d;
    }
    a->gm = n / a->gn;
    return n;
}

dagl_status dagl__matmul_shape(dagl_ctx *ctx, dagl__shape_ref a, dagl__shape_ref b, int *nbatch, int64_t *bshape,
                               int *ond, int64_t *oshape)
{
    char b1[160], b2[160];
#define SHAPES dagl_shape_str(a.ndim, a.shape, b1, sizeof b1), dagl_shape_str(b.ndim, b.shape, b2, sizeof b2)
    if (a.ndim == 0 || b.ndim == 0)
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "matmul: 0-d operand (shapes %s and %s)", SHAPES);
    int64_t k1 = a.shape[a.ndim - 1];
    int64_t k2 = b.ndim == 1 ? b.shape[0] : b.shape[b.ndim - 2];
    if (k1 != k2)
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "matmul: shapes %s and %s are not aligned (%lld != %lld)",
                                  SHAPES, (long long)k1, (long long)k2);
    int na = a.ndim > 2 ? a.ndim - 2 : 0, nb = b.ndim > 2 ? b.ndim - 2 : 0;
    if (dagl__broadcast_shape(ctx, "matmul", na, a.shape, nb, b.shape, nbatch, bshape))
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "matmul: batch dims of shapes %s and %s cannot be broadcast",
                                  SHAPES);
    int64_t M = a.ndim >= 2 ? a.shape[a.ndim - 2] : 1, N = b.ndim >= 2 ? b.shape[b.ndim - 1] : 1;
    if (M > INT_MAX || N > INT_MAX || k1 > INT_MAX)
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "matmul: shapes %s and %s are too large for BLAS", SHAPES);
#undef SHAPES
    *ond = *nbatch;
    memcpy(oshape, bshape, sizeof(int64_t) * (size_t)*nbatch);
    if (a.ndim >= 2) oshape[(*ond)++] = M;
    if (b.ndim >= 2) oshape[(*ond)++] = N;
    return DAGL_OK;
}

/* Output shape and batch shape (dagl__matmul_shape, which graph inference shares), then the GEMM sizes. */
static dagl_status mm_shapes(dagl_ctx *ctx, const dagl_tensor *a, const dagl_tensor *b, struct mm_args *r,
                             int *ond, int64_t *oshape)
{
    dagl_status st = dagl__matmul_shape(ctx, (dagl__shape_ref){a->dtype, a->ndim, a->shape},
                                        (dagl__shape_ref){b->dtype, b->ndim, b->shape}, &r->nb, r->bshape, ond, oshape);
    if (st) return st;
    r->M = a->ndim >= 2 ? a->shape[a->ndim - 2] : 1;
    r->N = b->ndim >= 2 ? b->shape[b->ndim - 1] : 1;
    r->K = a->shape[a->ndim - 1];
    r->nbatch = dagl__numel(r->nb, r->bshape);
    return DAGL_OK;
}

/* Makes operand t usable: promoted dtype, and for floats a layout BLAS reads (else a copy). */
static dagl_status prepare_operand(dagl_ctx *ctx, const dagl_tensor *t, int left, struct mm_args *r,
                                   dagl_tensor **hold, struct mm_operand *m)
{
    dagl_status st = dagl__as_dtype(ctx, t, r->dt, hold);
    if (st) return st;
    describe(*hold, left, r->nb, r->bshape, m);
    if (r->dt == DAGL_I64 || blas_layout(m)) return DAGL_OK;
    dagl_tensor *c;
    if ((st = dagl_clone(ctx, *hold, &c))) return st;
    dagl_tensor_release(*hold);
    *hold = c;
    describe(c, left, r->nb, r->bshape, m);
    blas_layout(m);
    return DAGL_OK;
}

/* Whether the right operand is one matrix for every batch (broadcast over all batch dims). */
static bool right_shared(const struct mm_args *r)
{
    for (int d = 0; d < r->nb; d++)
        if (r->b.bst[d] != 0 && r->bshape[d] != 1) return false;
    return true;
}

/* A batch of row-major left matrices times one right matrix is one tall product: the rows of
 * all batches are evenly spaced when their batch dims step by whole matrices. */
static bool fold_batches(struct mm_args *r)
{
    if (r->nbatch <= 1 || r->a.trans || r->M <= 0 || !right_shared(r)) return false;
    int64_t step = r->M * r->a.ld; /* BLAS steps rows by ld (rs may be anything when M == 1) */
    for (int d = r->nb - 1; d >= 0; d--) {
        if (r->bshape[d] != 1 && r->a.bst[d] != step) return false;
        step *= r->bshape[d];
    }
    r->a.rs = r->a.ld;
    r->M *= r->nbatch;
    r->nbatch = 1;
    r->nb = 0;
    return true;
}

/* A left operand whose batches do not fold (a permuted view: attention's [seq, batch, d] input
 * of a batch-first model) times one shared right matrix: copied contiguous, so the product is
 * one tall GEMM instead of a GEMM of a few rows per batch, each packing the right matrix again.
 * The copy costs 1/N of the product. */
static dagl_status fold_by_copy(dagl_ctx *ctx, struct mm_args *r, dagl_tensor **ha)
{
    if (r->nbatch <= 1 || r->M <= 0 || r->dt == DAGL_I64 || !right_shared(r) || dagl_tensor_is_contiguous(*ha) ||
        fold_batches(r))
        return DAGL_OK;
    dagl_tensor *c;
    dagl_status st = dagl_clone(ctx, *ha, &c);
    if (st) return st;
    dagl_tensor_release(*ha);
    *ha = c;
    describe(c, 1, r->nb, r->bshape, &r->a);
    blas_layout(&r->a);
    fold_batches(r);
    return DAGL_OK;
}

/* The bias of a fused product: float, of the product's dtype, 1-D with N elements, contiguous
 * (copied when it is not). */
static dagl_status prepare_bias(dagl_ctx *ctx, const dagl_tensor *bias, const struct mm_args *r, dagl_tensor **hold)
{
    if (r->dt == DAGL_I64 || bias->dtype != r->dt || bias->ndim != 1 || bias->shape[0] != r->N) {
        char b[160];
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE,
                                  "matmul+add: bias %s %s does not fit a %s product with %lld columns",
                                  dagl_dtype_name(bias->dtype), dagl_shape_str(bias->ndim, bias->shape, b, sizeof b),
                                  dagl_dtype_name(r->dt), (long long)r->N);
    }
    if (dagl_tensor_is_contiguous(bias)) {
        dagl_tensor_retain((dagl_tensor *)bias);
        *hold = (dagl_tensor *)bias;
        return DAGL_OK;
    }
    return dagl_clone(ctx, bias, hold);
}

/* The product, and with a bias the fused epilogue: the same GEMM calls on the same shares as a
 * plain matmul, then bias and act on each share's rows, so results are bitwise those of
 * matmul, add and the activation run one after the other. */
static dagl_status mm_compute(dagl_ctx *ctx, const dagl_tensor *a, const dagl_tensor *b, const dagl_tensor *bias,
                              dagl_op act, dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (!a || !b) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "matmul: tensor is NULL");
    struct mm_args r;
    int ond = 0;
    int64_t oshape[DAGL_MAX_DIMS];
    dagl_dtype dts[2] = {a->dtype, b->dtype};
    dagl_status st = dagl__op_check_dtypes(ctx, DAGL_OP_MATMUL, 2, dts);
    if (!st) st = mm_shapes(ctx, a, b, &r, &ond, oshape);
    if (st) return st;
    r.dt = dagl_op_result_dtype(DAGL_OP_MATMUL, 2, dts, NULL); /* the op list's rule */
    r.bias = NULL;
    r.act = act;
    dagl_tensor *ha = NULL, *hb = NULL, *hbias = NULL;
    if ((st = prepare_operand(ctx, a, 1, &r, &ha, &r.a)) || (st = prepare_operand(ctx, b, 0, &r, &hb, &r.b)) ||
        (bias && (st = prepare_bias(ctx, bias, &r, &hbias))) || (st = dagl__tensor_alloc_dst(ctx, dst, r.dt, ond,
         oshape, out)))
        goto done;
    r.out = (*out)->data;
    r.bias = hbias ? hbias->data : NULL;
    if ((*out)->numel == 0) goto done;
    if (r.K == 0) {
        memset(r.out, 0, (size_t)(*out)->numel * dagl_dtype_size(r.dt));
        if (r.bias) dagl__epilogue(r.dt, r.out, (*out)->numel / r.N, r.N, r.bias, act);
        goto done;
    }
    if ((st = fold_by_copy(ctx, &r, &ha))) goto done;
    dagl__parallel(ctx, mm_share, &r, mm_shares(&r));
done:
    dagl_tensor_release(ha);
    dagl_tensor_release(hb);
    dagl_tensor_release(hbias);
    if (st) {
        dagl_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

/* matmul(a, b) in dst when it fits (a graph node's planned slot). */
dagl_status dagl__matmul_into(dagl_ctx *ctx, const dagl_tensor *a, const dagl_tensor *b, dagl_tensor *dst,
                              dagl_tensor **out)
{
    return mm_compute(ctx, a, b, NULL, DAGL_OP_NONE, dst, out);
}

/* The public form: fresh memory. */
dagl_status dagl_matmul(dagl_ctx *ctx, const dagl_tensor *a, const dagl_tensor *b, dagl_tensor **out)
{
    return mm_compute(ctx, a, b, NULL, DAGL_OP_NONE, NULL, out);
}

/* The graph's fused matmul+add(+act) node (src/graph/fuse.c). */
dagl_status dagl__matmul_epilogue(dagl_ctx *ctx, const dagl_tensor *a, const dagl_tensor *b, const dagl_tensor *bias,
                                  dagl_op act, dagl_tensor *dst, dagl_tensor **out)
{
    if (!bias) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "matmul+add: bias is NULL");
    return mm_compute(ctx, a, b, bias, act, dst, out);
}

/* One row-major GEMM C = A·B + beta·C (A, B transposed when ta, tb) in f32 or f64, for kernels
 * that lay their operands out themselves (conv2d's im2col blocks). */
void dagl__gemm(dagl_dtype dt, int ta, int tb, int64_t M, int64_t N, int64_t K, const void *A, int64_t lda,
                const void *B, int64_t ldb, double beta, void *C, int64_t ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* BLAS would leave C as is: scale it by beta as the product says */
        size_t es = dagl_dtype_size(dt);
        for (int64_t i = 0; i < M; i++)
            for (int64_t jj = 0; jj < N; jj++) {
                char *c = (char *)C + (i * ldc + jj) * (int64_t)es;
                dagl__store(dt, c, beta == 0 ? 0 : beta * dagl__load(dt, c));
            }
        return;
    }
    enum CBLAS_TRANSPOSE tA = ta ? CblasTrans : CblasNoTrans, tB = tb ? CblasTrans : CblasNoTrans;
    if (dt == DAGL_F32)
        cblas_sgemm(CblasRowMajor, tA, tB, (int)M, (int)N, (int)K, 1, A, (int)lda, B, (int)ldb, (float)beta, C,
                    (int)ldc);
    else
        cblas_dgemm(CblasRowMajor, tA, tB, (int)M, (int)N, (int)K, 1, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}
