/* take_along.c -- indexing along one dim with a tensor of indices of the operand's rank, as
 * torch.gather and torch.scatter_add: take_along(x, idx)[p] = x[p with dim d replaced by
 * idx[p]], and scatter_add(x, idx, src) = x with src[p] added at those places (the gradient of
 * take_along). Indices count from params.index_base (1 from Lua); every one is checked before
 * anything is written. scatter_add shares whole lines along d (the elements that may collide),
 * each summed in index order, so results are the same at any thread count. */
#include "kernels.h"

#include <string.h>

/* The dim (0-based) of axis for ndim dims, or -1 when out of range. */
static int dim_of(int axis, int ndim) { return axis >= -ndim && axis < ndim ? (axis < 0 ? axis + ndim : axis) : -1; }

/* idx must be int64, of x's rank, and no larger than `bound` in every dim but d (all dims when
 * bound_d is set); the message names the op and the shapes. */
static dagl_status check_index(dagl_ctx *ctx, const char *op, dagl__shape_ref bound, const char *bname,
                               dagl__shape_ref idx, int d, bool bound_d)
{
    char b1[160], b2[160];
    if (idx.dtype != DAGL_I64)
        return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "%s: indices must be int64, got %s", op, dagl_dtype_name(idx.dtype));
    bool ok = idx.ndim == bound.ndim;
    for (int i = 0; ok && i < idx.ndim; i++) ok = idx.shape[i] <= bound.shape[i] || (i == d && !bound_d);
    if (!ok)
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "%s: indices of shape %s do not fit %s of shape %s (the same rank, "
                                  "no larger in any dim%s)", op, dagl_shape_str(idx.ndim, idx.shape, b1, sizeof b1), bname,
                                  dagl_shape_str(bound.ndim, bound.shape, b2, sizeof b2),
                                  bound_d ? "" : " but the indexed one");
    return DAGL_OK;
}

dagl_status dagl__take_along_shape(dagl_ctx *ctx, dagl__shape_ref x, dagl__shape_ref idx, int axis, int *ndim,
                                   int64_t *shape)
{
    char b[160];
    int d = dim_of(axis, x.ndim);
    if (d < 0)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "gather: dim %d is out of range for a tensor of shape %s",
                                  axis < 0 ? axis : axis + 1, dagl_shape_str(x.ndim, x.shape, b, sizeof b));
    dagl_status st = check_index(ctx, "gather", x, "a tensor", idx, d, false);
    if (st) return st;
    *ndim = idx.ndim;
    memcpy(shape, idx.shape, sizeof(int64_t) * (size_t)idx.ndim);
    return DAGL_OK;
}

dagl_status dagl__scatter_add_shape(dagl_ctx *ctx, dagl__shape_ref x, dagl__shape_ref idx, dagl__shape_ref src,
                                    int axis, int *ndim, int64_t *shape)
{
    char b1[160], b2[160];
    int d = dim_of(axis, x.ndim);
    if (d < 0)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "scatter_add: dim %d is out of range for a tensor of shape %s",
                                  axis < 0 ? axis : axis + 1, dagl_shape_str(x.ndim, x.shape, b1, sizeof b1));
    if (src.dtype != x.dtype)
        return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "scatter_add: the values are %s and the tensor %s; they must match",
                                  dagl_dtype_name(src.dtype), dagl_dtype_name(x.dtype));
    dagl_status st = check_index(ctx, "scatter_add", x, "the tensor", idx, d, false);
    if (!st) st = check_index(ctx, "scatter_add", src, "the values", idx, d, true);
    if (st) return st;
    (void)b2;
    *ndim = x.ndim;
    memcpy(shape, x.shape, sizeof(int64_t) * (size_t)x.ndim);
    return DAGL_OK;
}

/* The first index (C order over idx) outside [base, base + n): reported as the caller wrote it. */
static dagl_status check_range(dagl_ctx *ctx, const char *op, const dagl_tensor *idx, int d, int64_t n, int64_t base)
{
    const int64_t *v = (const int64_t *)(const void *)idx->data;
    for (int64_t i = 0; i < idx->numel; i++)
        if (v[i] - base < 0 || v[i] - base >= n)
            return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: index %lld along dim %d is out of range for size %lld "
                                      "(valid: %lld..%lld)", op, (long long)v[i], d + 1, (long long)n, (long long)base,
                                      (long long)(base + n - 1));
    return DAGL_OK;
}

struct take_job {
    const dagl_tensor *x, *idx, *src;
    char *out;
    int d;
    int64_t base;
    int64_t xst[DAGL_MAX_DIMS]; /* element strides of x (and of the output for scatter_add) */
    int64_t sst[DAGL_MAX_DIMS]; /* element strides of src */
};

/* The offsets in x (its contiguous strides, dim d skipped) and in src (all dims) of idx's element
 * at C-order position i. */
static void offsets(const struct take_job *j, int64_t i, int64_t *xo, int64_t *so)
{
    *xo = *so = 0;
    for (int k = j->idx->ndim - 1; k >= 0; k--) {
        int64_t c = i % j->idx->shape[k];
        i /= j->idx->shape[k];
        if (k != j->d) *xo += c * j->xst[k];
        *so += c * j->sst[k];
    }
}

/* take_along: thread ith's elements of the result (the result's C order, idx's shape). */
static void take_share(void *arg, int ith, int nth)
{
    const struct take_job *j = arg;
    int64_t lo, hi;
    dagl__split(j->idx->numel, ith, nth, &lo, &hi);
    size_t es = dagl_dtype_size(j->x->dtype);
    const int64_t *ix = (const int64_t *)(const void *)j->idx->data;
    for (int64_t i = lo; i < hi; i++) {
        int64_t xo, so;
        offsets(j, i, &xo, &so);
        xo += (ix[i] - j->base) * j->xst[j->d];
        memcpy(j->out + i * (int64_t)es, j->x->data + xo * (int64_t)es, es);
    }
}

/* scatter_add: thread ith's lines (idx's positions with dim d left out), each in index order. */
#define DEF_SCATTER(sfx, T, ADD)                                                                   \
    static void scatter_line_##sfx(const struct take_job *j, int64_t line)                         \
    {                                                                                              \
        int64_t n = j->idx->shape[j->d], inner = 1;                                                \
        for (int k = j->d + 1; k < j->idx->ndim; k++) inner *= j->idx->shape[k];                   \
        int64_t first = line / inner * n * inner + line % inner;                                   \
        const int64_t *ix = (const int64_t *)(const void *)j->idx->data;                           \
        const T *src = (const T *)(const void *)j->src->data;                                     \
        T *out = (T *)(void *)j->out;                                                              \
        for (int64_t s = 0; s < n; s++) {                                                          \
            int64_t i = first + s * inner, xo, so;                                                 \
            offsets(j, i, &xo, &so);                                                               \
            xo += (ix[i] - j->base) * j->xst[j->d];                                                \
            out[xo] = ADD(out[xo], src[so]);                                                       \
        }                                                                                          \
    }
#define ADD_PLAIN(a, b) ((a) + (b))
#define ADD_WRAP64(a, b) (int64_t)((uint64_t)(a) + (uint64_t)(b))
DEF_SCATTER(f32, float, ADD_PLAIN)
DEF_SCATTER(f64, double, ADD_PLAIN)
DEF_SCATTER(i64, int64_t, ADD_WRAP64)

static void scatter_share(void *arg, int ith, int nth)
{
    const struct take_job *j = arg;
    int64_t n = j->idx->shape[j->d], lines = n ? j->idx->numel / n : 0, lo, hi;
    dagl__split(lines, ith, nth, &lo, &hi);
    for (int64_t l = lo; l < hi; l++) {
        if (j->x->dtype == DAGL_F32) scatter_line_f32(j, l);
        else if (j->x->dtype == DAGL_F64) scatter_line_f64(j, l);
        else scatter_line_i64(j, l);
    }
}

/* Contiguous copies of the operands that are not (the kernels walk contiguous strides). */
static dagl_status contiguous(dagl_ctx *ctx, const dagl_tensor **t, dagl_tensor **hold)
{
    *hold = NULL;
    if (!*t || dagl_tensor_is_contiguous(*t)) return DAGL_OK;
    dagl_status st = dagl_clone(ctx, *t, hold);
    if (!st) *t = *hold;
    return st;
}

/* The job of either op over contiguous x, idx and src (NULL for take_along), dim d. */
static void job_init(struct take_job *j, const dagl_tensor *x, const dagl_tensor *idx, const dagl_tensor *src, int d,
                     int64_t base)
{
    memset(j, 0, sizeof *j);
    j->x = x, j->idx = idx, j->src = src, j->d = d, j->base = base;
    dagl__contig_strides(x->ndim, x->shape, j->xst);
    if (src) dagl__contig_strides(src->ndim, src->shape, j->sst);
}

dagl_status dagl__take_along_into(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *idx, int axis, int64_t base,
                                  dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (!x || !idx) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "gather: tensor is NULL");
    int nd;
    int64_t shape[DAGL_MAX_DIMS];
    dagl_status st = dagl__take_along_shape(ctx, dagl__ref_of(x), dagl__ref_of(idx), axis, &nd, shape);
    if (st) return st;
    int d = dim_of(axis, x->ndim);
    dagl_tensor *hx, *hi;
    if ((st = contiguous(ctx, &x, &hx))) return st;
    if (!(st = contiguous(ctx, &idx, &hi)) && !(st = check_range(ctx, "gather", idx, d, x->shape[d], base)) &&
        !(st = dagl__tensor_alloc_dst(ctx, dst, x->dtype, nd, shape, out))) {
        struct take_job j;
        job_init(&j, x, idx, NULL, d, base);
        j.out = (*out)->data;
        int n = dagl__shares(idx->numel * (idx->ndim + 2), 1 << 15);
        dagl__parallel(ctx, take_share, &j, n);
    }
    dagl_tensor_release(hx);
    dagl_tensor_release(hi);
    return st;
}

dagl_status dagl__scatter_add_into(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *idx, const dagl_tensor *src,
                                   int axis, int64_t base, dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (!x || !idx || !src) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "scatter_add: tensor is NULL");
    int nd;
    int64_t shape[DAGL_MAX_DIMS];
    dagl_status st = dagl__scatter_add_shape(ctx, dagl__ref_of(x), dagl__ref_of(idx), dagl__ref_of(src), axis, &nd, shape);
    if (st) return st;
    int d = dim_of(axis, x->ndim);
    dagl_tensor *hi, *hs;
    if ((st = contiguous(ctx, &idx, &hi))) return st;
    if (!(st = contiguous(ctx, &src, &hs)) && !(st = check_range(ctx, "scatter_add", idx, d, x->shape[d], base)) &&
        !(st = dagl__tensor_alloc_dst(ctx, dst, x->dtype, nd, shape, out)) && !(st = dagl_copy_into(ctx, *out, x))) {
        struct take_job j;
        job_init(&j, *out, idx, src, d, base);
        j.out = (*out)->data;
        int64_t n = idx->shape[d];
        int shares = dagl__shares(idx->numel * (idx->ndim + 2), 1 << 15);
        int64_t lines = n ? idx->numel / n : 0;
        dagl__parallel(ctx, scatter_share, &j, shares > lines ? (int)(lines > 0 ? lines : 1) : shares);
    }
    if (st && *out) {
        dagl_tensor_release(*out);
        *out = NULL;
    }
    dagl_tensor_release(hi);
    dagl_tensor_release(hs);
    return st;
}
