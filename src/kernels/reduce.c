/* reduce.c -- reductions over any set of dims: sum, mean, max, min, argmax, argmin, var. */
#include "reduce.h"

#include <math.h>
#include <string.h>

/* Sum of squared deviations from m of one strided row, in 4 double lanes (var). */
#define DEF_ROW_SQ(sfx, T)                                                                         \
    static inline double sq_row_##sfx(const T *restrict p, int64_t s, int64_t n, double m)         \
    {                                                                                              \
        double l[4] = {0};                                                                         \
        int64_t i = 0;                                                                             \
        if (s == 1)                                                                                \
            for (; i + 4 <= n; i += 4)                                                             \
                for (int j = 0; j < 4; j++) {                                                      \
                    double d = (double)p[i + j] - m;                                               \
                    l[j] += d * d;                                                                 \
                }                                                                                  \
        for (; i < n; i++) {                                                                       \
            double d = (double)p[i * s] - m;                                                       \
            l[0] += d * d;                                                                         \
        }                                                                                          \
        return (l[0] + l[1]) + (l[2] + l[3]);                                                      \
    }
DEF_ROW_SQ(f32, float)
DEF_ROW_SQ(f64, double)
DEF_ROW_SQ(i64, int64_t)

/* Max (CMP >) or min (CMP <) of a strided row and m, NaN propagating. Unit-stride rows run in
 * 8 independent lanes, which the compiler turns into vector max/min. */
#define DEF_ROW_EXT(name, CMP, sfx, T)                                                             \
    static inline T name##_row_##sfx(const T *restrict p, int64_t s, int64_t n, T m)              \
    {                                                                                              \
        int64_t i = 0;                                                                             \
        if (s == 1 && n >= 16) {                                                                   \
            T l[8];                                                                                \
            for (int j = 0; j < 8; j++) l[j] = p[j];                                               \
            for (i = 8; i + 8 <= n; i += 8)                                                        \
                for (int j = 0; j < 8; j++) {                                                      \
                    T x = p[i + j];                                                                \
                    l[j] = (x CMP l[j] || x != x) ? x : l[j];                                      \
                }                                                                                  \
            for (int j = 0; j < 8; j++) m = (l[j] CMP m || l[j] != l[j]) ? l[j] : m;               \
        }                                                                                          \
        for (; i < n; i++) {                                                                       \
            T x = p[i * s];                                                                        \
            m = (x CMP m || x != x) ? x : m;                                                       \
        }                                                                                          \
        return m;                                                                                  \
    }
#define DEF_ROW_EXTS(sfx, T, dt) DEF_ROW_EXT(max, >, sfx, T) DEF_ROW_EXT(min, <, sfx, T)
DAGL_FOR_DTYPES(DEF_ROW_EXTS)

/* Loops thread ith's outputs; BODY sees `base` (typed pointer to the output's first input). */
#define FOR_OUTPUTS(T, ...)                                                                       \
    int64_t o0_, o1_;                                                                              \
    dagl__split(a->nout, ith, nth, &o0_, &o1_);                                                    \
    for (int64_t o = o0_; o < o1_; o++) {                                                          \
        const T *base = (const T *)a->in + kept_off(a, o);                                         \
        __VA_ARGS__                                                                                \
    }

/* Total of output o's elements (in the accumulator type). */
#define TOTAL(sfx, ACC)                                                                            \
    ACC tot = 0;                                                                                   \
    for (int64_t r = 0; r < a->rows; r++)                                                          \
        tot = ADD_##sfx(tot, sum_row_##sfx(base + row_off(a, r), a->rs, a->rlen));

/* Argmax/argmin (CMP is > or <): the first best index; a NaN counts as the best, like PyTorch. */
#define SCAN(T, CMP)                                                                          \
    T m = base[0];                                                                                 \
    int64_t mi = 0;                                                                                \
    for (int64_t r = 0; r < a->rows; r++) {                                                        \
        const T *p = base + row_off(a, r);                                                         \
        for (int64_t i = 0; i < a->rlen; i++) {                                                    \
            T x = p[i * a->rs];                                                                    \
            if (x CMP m || (x != x && m == m)) {                                                   \
                m = x;                                                                             \
                mi = r * a->rlen + i;                                                     \
            }                                                                                      \
        }                                                                                          \
    }

/* The kernels of one input dtype T; TM is the dtype of mean and var (float32 for int64). */
#define DEF_REDUCE(sfx, T, ACC, TM)                                                                \
    static void sum_##sfx(const struct red_args *a, int ith, int nth)                              \
    {                                                                                              \
        FOR_OUTPUTS(T, TOTAL(sfx, ACC)((T *)a->out)[o] = (T)tot;)                                  \
    }                                                                                              \
    static void mean_##sfx(const struct red_args *a, int ith, int nth)                             \
    {                                                                                              \
        FOR_OUTPUTS(T, TOTAL(sfx, ACC)((TM *)a->out)[o] = (TM)((double)tot / (double)a->count);)   \
    }                                                                                              \
    static void var_##sfx(const struct red_args *a, int ith, int nth)                              \
    {                                                                                              \
        FOR_OUTPUTS(T, TOTAL(sfx, ACC) double mean = (double)tot / (double)a->count, ss = 0;       \
                    for (int64_t r = 0; r < a->rows; r++) ss +=                                    \
                        sq_row_##sfx(base + row_off(a, r), a->rs, a->rlen, mean);                  \
                    ((TM *)a->out)[o] = (TM)(ss / a->vdenom);)                                     \
    }                                                                                              \
    static void max_##sfx(const struct red_args *a, int ith, int nth)                              \
    {                                                                                              \
        FOR_OUTPUTS(T, T m = base[0];                                                              \
                    for (int64_t r = 0; r < a->rows; r++)                                          \
                        m = max_row_##sfx(base + row_off(a, r), a->rs, a->rlen, m);                \
                    ((T *)a->out)[o] = m;)                                                         \
    }                                                                                              \
    static void min_##sfx(const struct red_args *a, int ith, int nth)                              \
    {                                                                                              \
        FOR_OUTPUTS(T, T m = base[0];                                                              \
                    for (int64_t r = 0; r < a->rows; r++)                                          \
                        m = min_row_##sfx(base + row_off(a, r), a->rs, a->rlen, m);                \
                    ((T *)a->out)[o] = m;)                                                         \
    }                                                                                              \
    static void argmax_##sfx(const struct red_args *a, int ith, int nth)                           \
    {                                                                                              \
        FOR_OUTPUTS(T, SCAN(T, >)((int64_t *)a->out)[o] = mi;)                                  \
    }                                                                                              \
    static void argmin_##sfx(const struct red_args *a, int ith, int nth)                           \
    {                                                                                              \
        FOR_OUTPUTS(T, SCAN(T, <)((int64_t *)a->out)[o] = mi;)                                  \
    }
DEF_REDUCE(f32, float, double, float)
DEF_REDUCE(f64, double, double, double)
DEF_REDUCE(i64, int64_t, int64_t, float)

#define K(op) {[DAGL_F32] = op##_f32, [DAGL_F64] = op##_f64, [DAGL_I64] = op##_i64}
/* Indexed by op (the op list's REDUCE rows). */
static const red_kernel red_kernels[DAGL_OP_COUNT][DAGL_DTYPE_COUNT] = {
    [DAGL_OP_SUM] = K(sum),       [DAGL_OP_MEAN] = K(mean), [DAGL_OP_MAX] = K(max),
    [DAGL_OP_MIN] = K(min),       [DAGL_OP_ARGMAX] = K(argmax), [DAGL_OP_ARGMIN] = K(argmin),
    [DAGL_OP_VAR] = K(var),
};

/* Appends dim (size n, stride s) to a dim list, merging it into the previous one when the pair
 * steps like one dim; size-1 dims are dropped. */
static void push_dim(int *nd, int64_t *shape, int64_t *st, int64_t n, int64_t s)
{
    if (n == 1) return;
    if (*nd > 0 && st[*nd - 1] == s * n) {
        shape[*nd - 1] *= n;
        st[*nd - 1] = s;
        return;
    }
    shape[*nd] = n;
    st[*nd] = s;
    (*nd)++;
}

/* Checks op and dims; marks the reduced dims in `red`. */
static dagl_status check_dims(dagl_ctx *ctx, dagl_op op, dagl__shape_ref a, const int *dims, int ndims, bool *red)
{
    const char *name = dagl_op_name(op);
    char b[160];
    if (dagl__op_info_of(op)->cls != DAGL__CLS_REDUCE)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "reduce: %s (op %d) is not a reduction", name, (int)op);
    if (ndims < 0 || ndims > a.ndim || (ndims > 0 && !dims))
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: bad dims (%d of them) for a tensor of shape %s", name,
                                  ndims, dagl_shape_str(a.ndim, a.shape, b, sizeof b));
    if ((op == DAGL_OP_ARGMAX || op == DAGL_OP_ARGMIN) && ndims > 1)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: takes one dimension or all of them, got %d", name, ndims);
    for (int d = 0; d < a.ndim; d++) red[d] = ndims == 0;
    for (int i = 0; i < ndims; i++) {
        int d = dagl__wrap_dim(dims[i], a.ndim);
        if (d < 0)
            return dagl_ctx_set_error(ctx, DAGL_E_INDEX, "%s: dimension %d is out of range for a tensor of shape %s",
                                      name, dims[i], dagl_shape_str(a.ndim, a.shape, b, sizeof b));
        if (red[d])
            return dagl_ctx_set_error(ctx, DAGL_E_INDEX, "%s: dimension %d is repeated (shape %s)", name, dims[i],
                                      dagl_shape_str(a.ndim, a.shape, b, sizeof b));
        red[d] = true;
    }
    int64_t count = 1;
    for (int d = 0; d < a.ndim; d++)
        if (red[d]) count *= a.shape[d];
    if (count == 0 && op != DAGL_OP_SUM && op != DAGL_OP_MEAN && op != DAGL_OP_VAR)
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "%s: cannot reduce over zero elements (shape %s)", name,
                                  dagl_shape_str(a.ndim, a.shape, b, sizeof b));
    return DAGL_OK;
}

dagl_status dagl__reduce_shape(dagl_ctx *ctx, dagl_op op, dagl__shape_ref a, const int *dims, int ndims, int keepdim,
                               int *ond, int64_t *oshape)
{
    bool red[DAGL_MAX_DIMS];
    dagl_status st = check_dims(ctx, op, a, dims, ndims, red);
    if (st) return st;
    *ond = 0;
    for (int d = 0; d < a.ndim; d++)
        if (!red[d]) oshape[(*ond)++] = a.shape[d];
        else if (keepdim) oshape[(*ond)++] = 1;
    return DAGL_OK;
}

/* The dtype a reduction returns: the op list's rule. */
static dagl_dtype out_dtype(dagl_op op, dagl_dtype in)
{
    return dagl_op_result_dtype(op, 1, &in, NULL);
}

struct red_job {
    red_kernel k;
    const struct red_args *r;
};

/* Adapts a reduction kernel to the pool's task signature; shares split the outputs, so each
 * output is summed in the same order whatever the split. */
static void red_share(void *p, int ith, int nth)
{
    const struct red_job *j = p;
    j->k(j->r, ith, nth);
}

/* Splits the dims into kept and reduced, makes the output, and runs the kernel. */
dagl_status dagl__reduce_into(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, const int *dims, int ndims, int keepdim,
                        int correction, dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (!a) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: tensor is NULL", dagl_op_name(op));
    bool red[DAGL_MAX_DIMS];
    dagl_status st = dagl__op_check_dtypes(ctx, op, 1, &a->dtype);
    if (!st) st = check_dims(ctx, op, (dagl__shape_ref){a->dtype, a->ndim, a->shape}, dims, ndims, red);
    if (st) return st;
    struct red_args r = {.nk = 0, .nr = 0, .in = a->data, .count = 1};
    int ond = 0;
    int64_t oshape[DAGL_MAX_DIMS];
    for (int d = 0; d < a->ndim; d++) {
        if (red[d]) {
            r.count *= a->shape[d];
            push_dim(&r.nr, r.rshape, r.rst, a->shape[d], a->strides[d]);
            if (keepdim) oshape[ond++] = 1;
        } else {
            push_dim(&r.nk, r.kshape, r.kst, a->shape[d], a->strides[d]);
            oshape[ond++] = a->shape[d];
        }
    }
    if ((st = dagl__tensor_alloc_dst(ctx, dst, out_dtype(op, a->dtype), ond, oshape, out))) return st;
    r.out = (*out)->data;
    r.nout = (*out)->numel;
    if (r.nr == 0) { /* every reduced dim has size 1 (or there are none) */
        r.rshape[0] = 1;
        r.rst[0] = 0;
        r.nr = 1;
    }
    r.rlen = r.rshape[r.nr - 1];
    r.rs = r.rst[r.nr - 1];
    r.rows = r.rlen ? r.count / r.rlen : 0;
    r.vdenom = (double)r.count - correction > 0 ? (double)r.count - correction : 0.0;
    r.mean = op == DAGL_OP_MEAN;
    red_kernel k = red_kernels[op][a->dtype];
    bool cols = r.nk > 0 && r.kst[r.nk - 1] == 1 && r.rs != 1 && r.count > 0 && dagl__red_cols_kernel(op, a->dtype);
    if (cols) k = dagl__red_cols_kernel(op, a->dtype);
    if (cols && r.nout > 0 && dagl__red_cols_chunked(ctx, op, a->dtype, &r, &st)) {
        if (st) {
            dagl_tensor_release(*out);
            *out = NULL;
        }
        return st;
    }
    if (r.nout > 0) {
        struct red_job j = {k, &r};
        dagl__parallel(ctx, red_share, &j, dagl__shares(r.nout < 64 ? 1 : r.nout * r.count, 65536));
    }
    return DAGL_OK;
}

/* The public form: the result in fresh memory. */
dagl_status dagl_reduce(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, const int *dims, int ndims, int keepdim,
                        int correction, dagl_tensor **out)
{
    return dagl__reduce_into(ctx, op, a, dims, ndims, keepdim, correction, NULL, out);
}
