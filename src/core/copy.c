/* copy.c -- copies between layouts and dtypes: contiguous, clone, cast, copy_into, fill, get/set. */
#include "internal.h"

#include <string.h>

typedef void (*copy_row_fn)(char *dst, int64_t dst_stride, const char *src, int64_t src_stride,
                            int64_t n);

/* One strided row copy with conversion per (dst, src) dtype pair, generated rather than written
 * out sixteen times. Strides are in elements of the respective dtype. */
#define DEF_COPY_ROW(DN, DT, SN, ST)                                                                  \
    static void copy_row_##DN##_##SN(char *dst, int64_t ds, const char *src, int64_t ss, int64_t n)   \
    {                                                                                                 \
        DT *d = (DT *)dst;                                                                            \
        const ST *s = (const ST *)src;                                                                \
        if (ds == 1 && ss == 1)                                                                       \
            for (int64_t i = 0; i < n; i++) d[i] = DAGL__TO_##DN(s[i]);                               \
        else                                                                                          \
            for (int64_t i = 0; i < n; i++) d[i * ds] = DAGL__TO_##DN(s[i * ss]);                     \
    }
#define DEF_COPY_ROWS_FROM(SN, ST, SDT)                                                               \
    DEF_COPY_ROW(f32, float, SN, ST) DEF_COPY_ROW(f64, double, SN, ST)                                \
    DEF_COPY_ROW(i64, int64_t, SN, ST) DEF_COPY_ROW(u8, uint8_t, SN, ST)
DAGL_FOR_ALL_DTYPES(DEF_COPY_ROWS_FROM)

#define COPY_ROWS_TO(DN, DT, DDT)                                                                     \
    [DDT] = {[DAGL_F32] = copy_row_##DN##_f32, [DAGL_F64] = copy_row_##DN##_f64,                      \
             [DAGL_I64] = copy_row_##DN##_i64, [DAGL_U8] = copy_row_##DN##_u8},
static const copy_row_fn copy_rows[DAGL_DTYPE_COUNT][DAGL_DTYPE_COUNT] = {DAGL_FOR_ALL_DTYPES(COPY_ROWS_TO)};

/* Copies src (viewed with `sstr`, broadcast strides over dst's shape) into dst with `row`, row by
 * row over the last dim; the outer dims advance like an odometer. */
static void copy_nd(dagl_tensor *dst, const dagl_tensor *src, const int64_t *sstr, copy_row_fn row)
{
    int nd = dst->ndim;
    if (dst->numel == 0) return;
    size_t des = dagl_dtype_size(dst->dtype), ses = dagl_dtype_size(src->dtype);
    if (nd == 0) {
        row(dst->data, 1, src->data, 1, 1);
        return;
    }
    int64_t idx[DAGL_MAX_DIMS] = {0};
    int64_t n = dst->shape[nd - 1];
    int64_t rows = dst->numel / n;
    for (int64_t r = 0; r < rows; r++) {
        int64_t doff = 0, soff = 0;
        for (int k = 0; k < nd - 1; k++) {
            doff += idx[k] * dst->strides[k];
            soff += idx[k] * sstr[k];
        }
        row(dst->data + doff * (int64_t)des, dst->strides[nd - 1], src->data + soff * (int64_t)ses,
            sstr[nd - 1], n);
        for (int k = nd - 2; k >= 0 && ++idx[k] == dst->shape[k]; k--) idx[k] = 0;
    }
}

dagl_status dagl_copy_into(dagl_ctx *ctx, dagl_tensor *dst, const dagl_tensor *src)
{
    int64_t bs[DAGL_MAX_DIMS];
    int nb;
    dagl_status st = dagl_tensor_check_writable(ctx, dst, "copy");
    if (!st) st = dagl__broadcast_shape(ctx, "copy", dst->ndim, dst->shape, src->ndim, src->shape, &nb, bs);
    if (st) return st;
    if (nb != dst->ndim || memcmp(bs, dst->shape, sizeof(int64_t) * (size_t)nb)) {
        char b1[160], b2[160];
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "copy: cannot assign a tensor of shape %s to shape %s",
                                  dagl_shape_str(src->ndim, src->shape, b1, sizeof b1),
                                  dagl_shape_str(dst->ndim, dst->shape, b2, sizeof b2));
    }
    if (dst->dtype == src->dtype && dst->ndim == src->ndim && dagl_tensor_is_contiguous(dst) &&
        dagl_tensor_is_contiguous(src) && !memcmp(dst->shape, src->shape, sizeof(int64_t) * (size_t)nb)) {
        memmove(dst->data, src->data, (size_t)dst->numel * dagl_dtype_size(dst->dtype));
        return DAGL_OK;
    }
    dagl__broadcast_strides(src, dst->ndim, dst->shape, bs);
    copy_nd(dst, src, bs, copy_rows[dst->dtype][src->dtype]);
    return DAGL_OK;
}

/* A new tensor of dtype dt filled by dagl_copy_into, which converts element by element. */
dagl_status dagl_cast(dagl_ctx *ctx, const dagl_tensor *t, dagl_dtype dt, dagl_tensor **out)
{
    dagl_status st = dagl_tensor_new(ctx, dt, t->ndim, t->shape, out);
    if (st) return st;
    return dagl_copy_into(ctx, *out, t);
}

dagl_status dagl_clone(dagl_ctx *ctx, const dagl_tensor *t, dagl_tensor **out)
{
    return dagl_cast(ctx, t, t->dtype, out);
}

dagl_status dagl_contiguous(dagl_ctx *ctx, dagl_tensor *t, dagl_tensor **out)
{
    if (dagl_tensor_is_contiguous(t)) {
        dagl_tensor_retain(t);
        *out = t;
        return DAGL_OK;
    }
    return dagl_clone(ctx, t, out);
}

/* Fills through a 0-d source broadcast over dst, so any layout works (but overlapping ones). */
dagl_status dagl_fill(dagl_ctx *ctx, dagl_tensor *dst, double value)
{
    dagl_status st = dagl_tensor_check_writable(ctx, dst, "fill");
    if (st) return st;
    union { float f; double d; int64_t i; uint8_t u; } v;
    dagl_tensor src = {.dtype = dst->dtype, .ndim = 0, .numel = 1, .data = (char *)&v, .contiguous = true};
    dagl__store(dst->dtype, (char *)&v, value);
    int64_t zero[DAGL_MAX_DIMS] = {0};
    copy_nd(dst, &src, zero, copy_rows[dst->dtype][dst->dtype]);
    return DAGL_OK;
}

/* Byte address of one element from a full index, or NULL with the error set. */
static char *element(dagl_ctx *ctx, const char *op, const dagl_tensor *t, const int64_t *index)
{
    int64_t off = 0;
    for (int k = 0; k < t->ndim; k++) {
        int64_t i = index[k] < 0 ? index[k] + t->shape[k] : index[k];
        if (i < 0 || i >= t->shape[k]) {
            char b[160];
            dagl_ctx_set_error(ctx, DAGL_E_INDEX,
                               "%s: index %lld is out of range for dimension %d of size %lld (shape %s)", op,
                               (long long)index[k], k, (long long)t->shape[k],
                               dagl_shape_str(t->ndim, t->shape, b, sizeof b));
            return NULL;
        }
        off += i * t->strides[k];
    }
    return t->data + off * (int64_t)dagl_dtype_size(t->dtype);
}

dagl_status dagl_get(dagl_ctx *ctx, const dagl_tensor *t, const int64_t *index, double *value)
{
    const char *p = element(ctx, "get", t, index);
    if (!p) return DAGL_E_INDEX;
    *value = dagl__load(t->dtype, p);
    return DAGL_OK;
}

dagl_status dagl_set(dagl_ctx *ctx, dagl_tensor *t, const int64_t *index, double value)
{
    char *p = element(ctx, "set", t, index);
    if (!p) return DAGL_E_INDEX;
    dagl__store(t->dtype, p, value);
    return DAGL_OK;
}
