/* gather.c -- rows of a table picked by int64 indices (embedding lookups, index_select on dim 1)
 * and the gradient of that: index_add, which sums rows into a zero table. index_add uses no
 * atomics: the indices are sorted by row once (a stable counting sort), then each table row sums
 * its sources in index order, so the result is the same at any thread count. */
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

/* gather and index_add take int64 indices only; the message names the op. */
static dagl_status check_index_dtype(dagl_ctx *ctx, const char *op, dagl__shape_ref idx)
{
    if (idx.dtype != DAGL_I64)
        return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "%s: indices must be int64, got %s", op,
                                  dagl_dtype_name(idx.dtype));
    return DAGL_OK;
}

dagl_status dagl__gather_shape(dagl_ctx *ctx, dagl__shape_ref table, dagl__shape_ref idx, int *ndim, int64_t *shape)
{
    char b1[160], b2[160];
    dagl_status st = check_index_dtype(ctx, "gather", idx);
    if (st) return st;
    if (table.ndim < 1 || idx.ndim + table.ndim - 1 > DAGL_MAX_DIMS)
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "gather: cannot pick rows of shape %s with indices of shape %s",
                                  dagl_shape_str(table.ndim, table.shape, b1, sizeof b1),
                                  dagl_shape_str(idx.ndim, idx.shape, b2, sizeof b2));
    *ndim = idx.ndim + table.ndim - 1;
    memcpy(shape, idx.shape, sizeof(int64_t) * (size_t)idx.ndim);
    memcpy(shape + idx.ndim, table.shape + 1, sizeof(int64_t) * (size_t)(table.ndim - 1));
    return DAGL_OK;
}

dagl_status dagl__index_add_shape(dagl_ctx *ctx, dagl__shape_ref src, dagl__shape_ref idx, int64_t rows, int *ndim,
                                  int64_t *shape)
{
    char b1[160], b2[160];
    dagl_status st = check_index_dtype(ctx, "index_add", idx);
    if (st) return st;
    bool ok = src.ndim >= idx.ndim && src.ndim - idx.ndim + 1 <= DAGL_MAX_DIMS && rows >= 0;
    for (int i = 0; ok && i < idx.ndim; i++) ok = src.shape[i] == idx.shape[i];
    if (!ok)
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE,
                                  "index_add: rows of shape %s do not match indices of shape %s (table of %lld rows)",
                                  dagl_shape_str(src.ndim, src.shape, b1, sizeof b1),
                                  dagl_shape_str(idx.ndim, idx.shape, b2, sizeof b2), (long long)rows);
    *ndim = src.ndim - idx.ndim + 1;
    shape[0] = rows;
    memcpy(shape + 1, src.shape + idx.ndim, sizeof(int64_t) * (size_t)(src.ndim - idx.ndim));
    return DAGL_OK;
}

/* Every index must name a row: the first one that does not is reported as the caller wrote it. */
static dagl_status check_rows(dagl_ctx *ctx, const char *op, const int64_t *idx, int64_t n, int64_t rows, int64_t base)
{
    for (int64_t i = 0; i < n; i++) {
        if (idx[i] - base < 0 || idx[i] - base >= rows)
            return dagl_ctx_set_error(ctx, DAGL_E_INDEX,
                                      "%s: index %lld (number %lld of %lld indices) is out of range for a table "
                                      "of %lld rows (valid: %lld..%lld)",
                                      op, (long long)idx[i], (long long)(i + 1), (long long)n, (long long)rows,
                                      (long long)base, (long long)(rows - 1 + base));
    }
    return DAGL_OK;
}

/* ---------------------------------------------------------------- gather */

struct gather_job {
    const char *table;
    const int64_t *idx;
    char *out;
    int64_t n, base;
    size_t row_bytes;
};

/* Thread ith's share of the index positions: one row copy each. */
static void gather_share(void *p, int ith, int nth)
{
    const struct gather_job *j = p;
    int64_t lo, hi;
    dagl__split(j->n, ith, nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++)
        memcpy(j->out + (size_t)i * j->row_bytes, j->table + (size_t)(j->idx[i] - j->base) * j->row_bytes,
               j->row_bytes);
}

dagl_status dagl__gather_into(dagl_ctx *ctx, const dagl_tensor *table, const dagl_tensor *idx, int64_t base,
                        dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (!table || !idx) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "gather: tensor is NULL");
    int nd;
    int64_t shape[DAGL_MAX_DIMS];
    dagl_status st = dagl__gather_shape(ctx, dagl__ref_of(table), dagl__ref_of(idx), &nd, shape);
    if (st) return st;
    dagl_tensor *tc = NULL, *ic = NULL;
    if ((st = dagl_contiguous(ctx, (dagl_tensor *)table, &tc)) || (st = dagl_contiguous(ctx, (dagl_tensor *)idx, &ic)))
        goto done;
    if ((st = check_rows(ctx, "gather", (const int64_t *)ic->data, ic->numel, table->shape[0], base))) goto done;
    if ((st = dagl__tensor_alloc_dst(ctx, dst, table->dtype, nd, shape, out))) goto done;
    int64_t row = table->shape[0] ? table->numel / table->shape[0] : dagl__numel(table->ndim - 1, table->shape + 1);
    struct gather_job j = {tc->data, (const int64_t *)ic->data, (*out)->data, ic->numel, base,
                           (size_t)row * dagl_dtype_size(table->dtype)};
    dagl__parallel(ctx, gather_share, &j, dagl__shares(ic->numel * row, 32768));
done:
    dagl_tensor_release(tc);
    dagl_tensor_release(ic);
    return st;
}

/* The public form: the result in fresh memory. */
dagl_status dagl_gather(dagl_ctx *ctx, const dagl_tensor *table, const dagl_tensor *idx, int64_t base,
                        dagl_tensor **out)
{
    return dagl__gather_into(ctx, table, idx, base, NULL, out);
}

/* ---------------------------------------------------------------- index_add */

struct index_add_job {
    const char *src;
    char *out;
    const int64_t *first; /* rows + 1 offsets into order: the sources of table row r */
    const int64_t *order; /* source positions grouped by row, in index order */
    int64_t rows, row;    /* table rows, elements per row */
    dagl_dtype dt;
};

/* dst[0..n) += src[0..n) in the dtype of the job. */
#define DEF_ADD_ROW(sfx, T, DT)                                                                    \
    static void add_row_##sfx(char *dst, const char *src, int64_t n)                              \
    {                                                                                              \
        T *restrict d = (T *)dst;                                                                  \
        const T *restrict s = (const T *)src;                                                      \
        for (int64_t i = 0; i < n; i++) d[i] += s[i];                                              \
    }
DAGL_FOR_DTYPES(DEF_ADD_ROW)
static void (*const add_rows[DAGL_DTYPE_COUNT])(char *, const char *, int64_t) = {
    [DAGL_F32] = add_row_f32, [DAGL_F64] = add_row_f64, [DAGL_I64] = add_row_i64};

/* Thread ith's share of the table rows: each row is zeroed, then gets its sources in order. */
static void index_add_share(void *p, int ith, int nth)
{
    const struct index_add_job *j = p;
    size_t bytes = (size_t)j->row * dagl_dtype_size(j->dt);
    int64_t lo, hi;
    dagl__split(j->rows, ith, nth, &lo, &hi);
    for (int64_t r = lo; r < hi; r++) {
        char *dst = j->out + (size_t)r * bytes;
        memset(dst, 0, bytes);
        for (int64_t k = j->first[r]; k < j->first[r + 1]; k++)
            add_rows[j->dt](dst, j->src + (size_t)j->order[k] * bytes, j->row);
    }
}

dagl_status dagl__index_add_into(dagl_ctx *ctx, const dagl_tensor *src, const dagl_tensor *idx, int64_t rows,
                                 int64_t base,
                           dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    if (!src || !idx) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "index_add: tensor is NULL");
    int nd;
    int64_t shape[DAGL_MAX_DIMS];
    dagl_status st = dagl__op_check_dtypes(ctx, DAGL_OP_INDEX_ADD, 1, &src->dtype);
    if (!st) st = dagl__index_add_shape(ctx, dagl__ref_of(src), dagl__ref_of(idx), rows, &nd, shape);
    if (st) return st;
    dagl_tensor *sc = NULL, *ic = NULL;
    int64_t *first = NULL, *order = NULL;
    if ((st = dagl_contiguous(ctx, (dagl_tensor *)src, &sc)) || (st = dagl_contiguous(ctx, (dagl_tensor *)idx, &ic)))
        goto done;
    const int64_t *ix = (const int64_t *)ic->data;
    int64_t n = ic->numel;
    if ((st = check_rows(ctx, "index_add", ix, n, rows, base))) goto done;
    first = calloc((size_t)rows + 2, sizeof *first);
    order = malloc(sizeof *order * (size_t)(n ? n : 1));
    if (!first || !order) {
        st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "index_add: out of memory");
        goto done;
    }
    /* counting sort: first[r + 2] counts row r, prefix sums turn first[r + 1] into a write cursor */
    for (int64_t i = 0; i < n; i++) first[ix[i] - base + 2]++;
    for (int64_t r = 2; r <= rows + 1; r++) first[r] += first[r - 1];
    for (int64_t i = 0; i < n; i++) order[first[ix[i] - base + 1]++] = i;
    if ((st = dagl__tensor_alloc_dst(ctx, dst, src->dtype, nd, shape, out))) goto done;
    int64_t row = dagl__numel(nd - 1, shape + 1);
    struct index_add_job j = {sc->data, (*out)->data, first, order, rows, row, src->dtype};
    dagl__parallel(ctx, index_add_share, &j, dagl__shares(rows * row + n * row, 32768));
done:
    free(first);
    free(order);
    dagl_tensor_release(sc);
    dagl_tensor_release(ic);
    return st;
}

/* The public form: the result in fresh memory. */
dagl_status dagl_index_add(dagl_ctx *ctx, const dagl_tensor *src, const dagl_tensor *idx, int64_t rows, int64_t base,
                           dagl_tensor **out)
{
    return dagl__index_add_into(ctx, src, idx, rows, base, NULL, out);
}
