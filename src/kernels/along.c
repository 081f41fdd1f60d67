/* along.c -- ops that run along one dim and keep the shape: cumsum (running sums, from the end
 * when params.reverse is set: the gradient of cumsum) and argsort (a stable sort's indices,
 * descending when reverse is set, NaN counted as the largest value, as torch.sort puts it). A
 * tensor is seen as (outer, n, inner) around the dim; shares are runs of whole lines, so every
 * element is computed the same way at any thread count. */
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

#define INNER_BLOCK 256 /* lines of one outer index summed side by side (accumulators on the stack) */

dagl_status dagl__along_check(dagl_ctx *ctx, dagl_op op, dagl__shape_ref a, int axis)
{
    char b[160];
    if (op != DAGL_OP_CUMSUM && op != DAGL_OP_ARGSORT)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "along: %s (op %d) does not run along a dim", dagl_op_name(op), (int)op);
    int n = a.ndim > 0 ? a.ndim : 1; /* a 0-d tensor is one line of one element */
    if (axis < -n || axis >= n)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: dim %d is out of range for a tensor of shape %s", dagl_op_name(op),
                                  axis < 0 ? axis : axis + 1, dagl_shape_str(a.ndim, a.shape, b, sizeof b));
    return DAGL_OK;
}

/* The (outer, n, inner) view of a shape around dim `axis` (0-based, negative from the end). */
struct lines {
    int64_t outer, n, inner;
};
static struct lines lines_of(const dagl_tensor *x, int axis)
{
    struct lines l = {1, 1, 1};
    if (x->ndim == 0) return l;
    int d = axis < 0 ? axis + x->ndim : axis;
    for (int i = 0; i < d; i++) l.outer *= x->shape[i];
    l.n = x->shape[d];
    for (int i = d + 1; i < x->ndim; i++) l.inner *= x->shape[i];
    return l;
}

struct along_job {
    struct lines l;
    const char *x;
    char *out;
    int reverse;
    int64_t base;   /* argsort: the number of the first position (1 from Lua) */
    int64_t tasks;  /* cumsum: outer x inner blocks; argsort: outer x inner lines */
    atomic_int failed;
};

/* Running sums of a block of lines (float32 and float64 in double, int64 wrapping). */
#define DEF_CUMSUM(sfx, T, ACC, ADD)                                                               \
    static void cumsum_##sfx(const struct along_job *j, int64_t o, int64_t i0, int64_t w)          \
    {                                                                                              \
        ACC acc[INNER_BLOCK];                                                                      \
        for (int64_t i = 0; i < w; i++) acc[i] = 0;                                                \
        const T *x = (const T *)(const void *)j->x + o * j->l.n * j->l.inner + i0;                 \
        T *y = (T *)(void *)j->out + o * j->l.n * j->l.inner + i0;                                 \
        for (int64_t s = 0; s < j->l.n; s++) {                                                     \
            int64_t k = j->reverse ? j->l.n - 1 - s : s;                                           \
            const T *xr = x + k * j->l.inner;                                                      \
            T *yr = y + k * j->l.inner;                                                            \
            for (int64_t i = 0; i < w; i++) {                                                      \
                acc[i] = ADD(acc[i], xr[i]);                                                       \
                yr[i] = (T)acc[i];                                                                 \
            }                                                                                      \
        }                                                                                          \
    }
#define ADD_FLOAT(a, x) ((a) + (double)(x))
#define ADD_WRAP(a, x) (uint64_t)((a) + (uint64_t)(x))
DEF_CUMSUM(f32, float, double, ADD_FLOAT)
DEF_CUMSUM(f64, double, double, ADD_FLOAT)
DEF_CUMSUM(i64, int64_t, uint64_t, ADD_WRAP)

/* Thread ith's blocks of lines; the dtype picks the kernel. */
static void cumsum_share(void *arg, int ith, int nth, dagl_dtype dt)
{
    struct along_job *j = arg;
    int64_t nb = (j->l.inner + INNER_BLOCK - 1) / INNER_BLOCK, t0, t1;
    dagl__split(j->tasks, ith, nth, &t0, &t1);
    for (int64_t t = t0; t < t1; t++) {
        int64_t o = t / nb, i0 = t % nb * INNER_BLOCK, w = j->l.inner - i0 < INNER_BLOCK ? j->l.inner - i0 : INNER_BLOCK;
        if (dt == DAGL_F32) cumsum_f32(j, o, i0, w);
        else if (dt == DAGL_F64) cumsum_f64(j, o, i0, w);
        else cumsum_i64(j, o, i0, w);
    }
}
static void cumsum_f32_share(void *a, int ith, int nth) { cumsum_share(a, ith, nth, DAGL_F32); }
static void cumsum_f64_share(void *a, int ith, int nth) { cumsum_share(a, ith, nth, DAGL_F64); }
static void cumsum_i64_share(void *a, int ith, int nth) { cumsum_share(a, ith, nth, DAGL_I64); }

/* Whether key a sorts before key b ascending (NaN after every number, as the largest). */
#define LESS_FLOAT(a, b) ((a) < (b) || ((b) != (b) && (a) == (a)))
#define LESS_INT(a, b) ((a) < (b))

/* Sorts positions idx[0..n) of one line by their keys (stride `st` apart from `key`), stably, with
 * a bottom-up merge sort through tmp; descending swaps the comparison, ties keep their order. */
#define DEF_ARGSORT(sfx, T, LESS)                                                                  \
    static void sort_line_##sfx(const T *key, int64_t st, int64_t n, int desc, int64_t *idx, int64_t *tmp) \
    {                                                                                              \
        for (int64_t i = 0; i < n; i++) idx[i] = i;                                                \
        for (int64_t w = 1; w < n; w *= 2) {                                                       \
            for (int64_t lo = 0; lo < n; lo += 2 * w) {                                            \
                int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;       \
                int64_t a = lo, b = mid, o = lo;                                                   \
                while (a < mid && b < hi) {                                                        \
                    T ka = key[idx[a] * st], kb = key[idx[b] * st];                                \
                    bool b_first = desc ? LESS(ka, kb) : LESS(kb, ka);                             \
                    tmp[o++] = b_first ? idx[b++] : idx[a++];                                      \
                }                                                                                  \
                while (a < mid) tmp[o++] = idx[a++];                                               \
                while (b < hi) tmp[o++] = idx[b++];                                                \
            }                                                                                      \
            memcpy(idx, tmp, sizeof *idx * (size_t)n);                                             \
        }                                                                                          \
    }
DEF_ARGSORT(f32, float, LESS_FLOAT)
DEF_ARGSORT(f64, double, LESS_FLOAT)
DEF_ARGSORT(i64, int64_t, LESS_INT)

/* Thread ith's lines: each sorted into scratch, its positions (+ base) written along the dim. */
static void argsort_share(void *arg, int ith, int nth, dagl_dtype dt)
{
    struct along_job *j = arg;
    int64_t t0, t1, n = j->l.n;
    dagl__split(j->tasks, ith, nth, &t0, &t1);
    if (t0 >= t1) return;
    int64_t *idx = malloc(sizeof *idx * (size_t)(2 * n + 1));
    if (!idx) {
        atomic_store(&j->failed, 1);
        return;
    }
    size_t es = dagl_dtype_size(dt);
    for (int64_t t = t0; t < t1; t++) {
        int64_t o = t / j->l.inner, i = t % j->l.inner, first = o * n * j->l.inner + i;
        const void *key = j->x + first * (int64_t)es;
        if (dt == DAGL_F32) sort_line_f32(key, j->l.inner, n, j->reverse, idx, idx + n);
        else if (dt == DAGL_F64) sort_line_f64(key, j->l.inner, n, j->reverse, idx, idx + n);
        else sort_line_i64(key, j->l.inner, n, j->reverse, idx, idx + n);
        int64_t *y = (int64_t *)(void *)j->out + first;
        for (int64_t k = 0; k < n; k++) y[k * j->l.inner] = idx[k] + j->base;
    }
    free(idx);
}
static void argsort_f32_share(void *a, int ith, int nth) { argsort_share(a, ith, nth, DAGL_F32); }
static void argsort_f64_share(void *a, int ith, int nth) { argsort_share(a, ith, nth, DAGL_F64); }
static void argsort_i64_share(void *a, int ith, int nth) { argsort_share(a, ith, nth, DAGL_I64); }

dagl_status dagl__along_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, int axis, int reverse, int64_t base,
                             dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (!a) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: tensor is NULL", dagl_op_name(op));
    dagl_status st = dagl__op_check_dtypes(ctx, op, 1, &a->dtype);
    if (!st) st = dagl__along_check(ctx, op, dagl__ref_of(a), axis);
    if (st) return st;
    dagl_tensor *copy = NULL;
    if (!dagl_tensor_is_contiguous(a)) {
        if ((st = dagl_clone(ctx, a, &copy))) return st;
        a = copy;
    }
    dagl_dtype odt = op == DAGL_OP_ARGSORT ? DAGL_I64 : a->dtype;
    if ((st = dagl__tensor_alloc_dst(ctx, dst, odt, a->ndim, a->shape, out))) {
        dagl_tensor_release(copy);
        return st;
    }
    struct along_job j = {.l = lines_of(a, axis), .x = a->data, .out = (*out)->data, .reverse = reverse, .base = base};
    atomic_init(&j.failed, 0);
    if (a->numel > 0) {
        static void (*const sums[])(void *, int, int) = {[DAGL_F32] = cumsum_f32_share, [DAGL_F64] = cumsum_f64_share,
                                                         [DAGL_I64] = cumsum_i64_share};
        static void (*const sorts[])(void *, int, int) = {[DAGL_F32] = argsort_f32_share, [DAGL_F64] = argsort_f64_share,
                                                          [DAGL_I64] = argsort_i64_share};
        bool sum = op == DAGL_OP_CUMSUM;
        j.tasks = sum ? j.l.outer * ((j.l.inner + INNER_BLOCK - 1) / INNER_BLOCK) : j.l.outer * j.l.inner;
        int64_t per_task = sum ? j.l.n * (j.l.inner < INNER_BLOCK ? j.l.inner : INNER_BLOCK) : j.l.n * 8;
        int n = dagl__shares(j.tasks * per_task, 1 << 15);
        dagl__parallel(ctx, sum ? sums[a->dtype] : sorts[a->dtype], &j, n > j.tasks ? (int)j.tasks : n);
    }
    dagl_tensor_release(copy);
    if (atomic_load(&j.failed)) {
        dagl_tensor_release(*out);
        *out = NULL;
        return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory for a line of %lld", dagl_op_name(op),
                                  (long long)j.l.n);
    }
    return DAGL_OK;
}
