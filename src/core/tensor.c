/* tensor.c -- tensor life (refcounts, allocation), layout accessors and shape helpers. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Blocks up to this size live in the same allocation as the tensor header: one malloc per small
 * tensor keeps eager tiny ops cheap. Larger blocks are 64-byte aligned allocations of their own. */
#define INLINE_LIMIT 4096
#define ALIGN 64

/* The element count; INT64_MAX when it does not fit (so a size check downstream refuses it), 0
 * when any dim is 0 even if the others' product would overflow. */
int64_t dagl__numel(int ndim, const int64_t *shape)
{
    for (int i = 0; i < ndim; i++)
        if (shape[i] == 0) return 0;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (__builtin_mul_overflow(n, shape[i], &n)) return INT64_MAX;
    return n;
}

/* Row-major strides. For an empty tensor the product of the other dims may not fit (a file can
 * declare (0, 2^62, 16)); those strides are never used, so the product wraps (unsigned) there. */
void dagl__contig_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    uint64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = (int64_t)s;
        s *= shape[i] > 0 ? (uint64_t)shape[i] : 1;
    }
}

int dagl__wrap_dim(int dim, int ndim)
{
    if (dim < 0) dim += ndim;
    return dim >= 0 && dim < ndim ? dim : -1;
}

/* Writes "[2, 3]" for error messages and printing. */
char *dagl_shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t n = 0;
    if (size == 0) return buf;
    buf[0] = '\0';
    n += (size_t)snprintf(buf + n, n < size ? size - n : 0, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
    return buf;
}

dagl_status dagl__check_shape(dagl_ctx *ctx, const char *op, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > DAGL_MAX_DIMS)
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "%s: %d dimensions (at most %d)", op, ndim,
                                  DAGL_MAX_DIMS);
    if (ndim > 0 && !shape) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: shape is NULL", op);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        char buf[160];
        if (shape[i] < 0)
            return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "%s: negative size in shape %s", op,
                                      dagl_shape_str(ndim, shape, buf, sizeof buf));
        if (shape[i] && n > INT64_MAX / 16 / shape[i])
            return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: shape %s is too large", op,
                                      dagl_shape_str(ndim, shape, buf, sizeof buf));
        n *= shape[i];
    }
    return DAGL_OK;
}

/* Allocates header and block (one allocation when small) for a fresh contiguous tensor. */
dagl_status dagl_tensor_new(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape,
                            dagl_tensor **out)
{
    *out = NULL;
    if ((unsigned)dt >= DAGL_DTYPE_COUNT)
        return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "tensor: unknown dtype %d", (int)dt);
    dagl_status st = dagl__check_shape(ctx, "tensor", ndim, shape);
    if (st) return st;
    return dagl__tensor_alloc(ctx, dt, ndim, shape, out);
}

dagl_status dagl__tensor_alloc_dst(dagl_ctx *ctx, dagl_tensor *dst, dagl_dtype dt, int ndim, const int64_t *shape,
                                   dagl_tensor **out)
{
    if (dst && dst->dtype == dt && dst->ndim == ndim &&
        (!ndim || !memcmp(dst->shape, shape, sizeof(int64_t) * (size_t)ndim))) {
        dagl_tensor_retain(dst);
        *out = dst;
        return DAGL_OK;
    }
    return dagl__tensor_alloc(ctx, dt, ndim, shape, out);
}

dagl_status dagl__tensor_alloc(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape, dagl_tensor **out)
{
    int64_t numel = dagl__numel(ndim, shape);
    size_t nbytes = (size_t)numel * dagl_dtype_size(dt);
    size_t head = (sizeof(dagl_tensor) + ALIGN - 1) / ALIGN * ALIGN;
    /* small data lives in the header's block, unless the caller gave an allocator for all data */
    bool inline_mem = nbytes <= INLINE_LIMIT && (!ctx->mem->user.alloc || nbytes == 0);
    int cls;
    dagl_tensor *t = dagl__block_alloc(ctx->mem, inline_mem ? head + nbytes : sizeof *t, &cls, (int64_t)nbytes);
    char *mem = NULL;
    if (t && !inline_mem) {
        mem = dagl__big_alloc(ctx->mem, (nbytes + ALIGN - 1) / ALIGN * ALIGN);
        if (!mem) {
            dagl__block_free(ctx->mem, t, cls, (int64_t)nbytes);
            t = NULL;
        }
    } else if (t) {
        mem = (char *)t + head;
    }
    if (!t) {
        char buf[160];
        *out = NULL;
        return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "tensor: out of memory allocating %s %s (%zu bytes)",
                                  dagl_dtype_name(dt), dagl_shape_str(ndim, shape, buf, sizeof buf),
                                  nbytes);
    }
    atomic_init(&t->refs, 1);
    t->dtype = dt;
    t->ndim = ndim;
    t->numel = numel;
    if (ndim) memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    dagl__contig_strides(ndim, shape, t->strides);
    t->data = t->mem = mem;
    t->block_nbytes = nbytes;
    t->base = NULL;
    t->memp = ctx->mem;
    t->release = NULL;
    t->release_ud = NULL;
    t->own_heap = !inline_mem;
    t->counted = true;
    t->cls = (signed char)cls;
    t->contiguous = true;
    *out = t;
    return DAGL_OK;
}

/* Builds a view header sharing `base`'s block; the view keeps the block's owner alive. */
dagl_status dagl__make_view(dagl_ctx *ctx, dagl_tensor *base, int ndim, const int64_t *shape,
                            const int64_t *strides, char *data, dagl_tensor **out)
{
    int cls;
    dagl_tensor *t = dagl__block_alloc(ctx->mem, sizeof *t, &cls, 0);
    *out = t;
    if (!t) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "view: out of memory");
    t->cls = (signed char)cls;
    dagl_tensor *owner = base->base ? base->base : base;
    dagl_tensor_retain(owner);
    atomic_init(&t->refs, 1);
    t->dtype = base->dtype;
    t->ndim = ndim;
    t->numel = dagl__numel(ndim, shape);
    memmove(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    memmove(t->strides, strides, sizeof(int64_t) * (size_t)ndim);
    t->contiguous = dagl__layout_contiguous(ndim, t->shape, t->strides);
    t->data = data;
    t->mem = owner->mem;
    t->block_nbytes = owner->block_nbytes;
    t->base = owner;
    t->memp = ctx->mem;
    t->release = NULL;
    t->release_ud = NULL;
    t->own_heap = false;
    t->counted = false;
    return DAGL_OK;
}

/* Bytes from the first to the last element wrapped caller memory holds (its block's size):
 * numel x element size when contiguous (strides NULL). */
static size_t wrapped_span(dagl_dtype dt, int ndim, const int64_t *shape, const int64_t *strides)
{
    int64_t numel = dagl__numel(ndim, shape);
    if (numel == 0 || !strides) return (size_t)numel * dagl_dtype_size(dt);
    int64_t lo = 0, hi = 0;
    for (int i = 0; i < ndim; i++) {
        int64_t reach = (shape[i] - 1) * strides[i];
        if (reach < 0) lo += reach;
        else hi += reach;
    }
    return (size_t)(hi - lo + 1) * dagl_dtype_size(dt);
}

dagl_status dagl_tensor_wrap(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape,
                             const int64_t *strides, void *data, void (*release)(void *ud), void *ud,
                             dagl_tensor **out)
{
    *out = NULL;
    if ((unsigned)dt >= DAGL_DTYPE_COUNT)
        return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "tensor_wrap: unknown dtype %d", (int)dt);
    dagl_status st = dagl__check_shape(ctx, "tensor_wrap", ndim, shape);
    if (st) return st;
    if (!data && dagl__numel(ndim, shape) > 0)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "tensor_wrap: data is NULL");
    int cls;
    dagl_tensor *t = dagl__block_alloc(ctx->mem, sizeof *t, &cls, 0);
    if (!t) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "tensor_wrap: out of memory");
    t->cls = (signed char)cls;
    atomic_init(&t->refs, 1);
    t->dtype = dt;
    t->ndim = ndim;
    t->numel = dagl__numel(ndim, shape);
    if (ndim) memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    if (strides && ndim) memcpy(t->strides, strides, sizeof(int64_t) * (size_t)ndim);
    else dagl__contig_strides(ndim, shape, t->strides);
    t->contiguous = dagl__layout_contiguous(ndim, t->shape, t->strides);
    t->data = t->mem = data;
    t->block_nbytes = wrapped_span(dt, ndim, shape, ndim ? strides : NULL);
    t->base = NULL;
    t->memp = ctx->mem;
    t->release = release;
    t->release_ud = ud;
    t->own_heap = false;
    t->counted = false;
    *out = t;
    return DAGL_OK;
}

/* dagl_tensor_new then a fill: memset for zeros, the cheapest way, else dagl_fill. */
dagl_status dagl_tensor_full(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape, double value,
                             dagl_tensor **out)
{
    dagl_status st = dagl_tensor_new(ctx, dt, ndim, shape, out);
    if (st) return st;
    if (value == 0.0) {
        memset((*out)->data, 0, (size_t)(*out)->numel * dagl_dtype_size(dt));
        return DAGL_OK;
    }
    return dagl_fill(ctx, *out, value);
}

void dagl_tensor_retain(dagl_tensor *t) { atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed); }

/* Drops one reference; the last one frees the header and, for owners, the block. */
void dagl_tensor_release(dagl_tensor *t)
{
    while (t) {
        if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1) return;
        dagl_tensor *base = t->base;
        if (!base) {
            if (t->release) t->release(t->release_ud);
            if (t->own_heap) dagl__big_free(t->memp, t->mem, (t->block_nbytes + ALIGN - 1) / ALIGN * ALIGN);
        }
        dagl__block_free(t->memp, t, t->cls, !base && t->counted ? (int64_t)t->block_nbytes : 0);
        t = base;
    }
}

dagl_dtype dagl_tensor_dtype(const dagl_tensor *t) { return t->dtype; }
int dagl_tensor_ndim(const dagl_tensor *t) { return t->ndim; }
const int64_t *dagl_tensor_shape(const dagl_tensor *t) { return t->shape; }
const int64_t *dagl_tensor_strides(const dagl_tensor *t) { return t->strides; }
int64_t dagl_tensor_numel(const dagl_tensor *t) { return t->numel; }
void *dagl_tensor_data(const dagl_tensor *t) { return t->data; }
/* The size callers copy (a view's own elements), never the shared block's: a narrowed view of a
 * bigger block must not let a reader accept, or copy, the whole block. */
size_t dagl_tensor_nbytes(const dagl_tensor *t) { return (size_t)t->numel * dagl_dtype_size(t->dtype); }
/* The memory a tensor keeps alive, for accounting (the Lua binding's GC pressure). */
size_t dagl_tensor_block_nbytes(const dagl_tensor *t) { return t->block_nbytes; }

int64_t dagl_tensor_offset(const dagl_tensor *t)
{
    return t->mem ? (int64_t)((t->data - t->mem) / (ptrdiff_t)dagl_dtype_size(t->dtype)) : 0;
}

bool dagl__layout_contiguous(int ndim, const int64_t *shape, const int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        if (shape[i] == 1) continue;
        if (strides[i] != s) return false;
        s *= shape[i];
    }
    return true;
}

/* Cached when the layout is made: every eager op asks, and views never change layout. */
int dagl_tensor_is_contiguous(const dagl_tensor *t) { return t->contiguous; }

dagl_status dagl__broadcast_shape(dagl_ctx *ctx, const char *op, int na, const int64_t *sa, int nb,
                                  const int64_t *sb, int *nout, int64_t *sout)
{
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int64_t da = i < n - na ? 1 : sa[i - (n - na)];
        int64_t db = i < n - nb ? 1 : sb[i - (n - nb)];
        if (da != db && da != 1 && db != 1) {
            char b1[160], b2[160];
            return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "%s: shapes %s and %s cannot be broadcast", op,
                                      dagl_shape_str(na, sa, b1, sizeof b1),
                                      dagl_shape_str(nb, sb, b2, sizeof b2));
        }
        sout[i] = da == 1 ? db : da;
    }
    *nout = n;
    return DAGL_OK;
}

void dagl__broadcast_strides(const dagl_tensor *t, int ndim, const int64_t *shape, int64_t *strides)
{
    int lead = ndim - t->ndim;
    for (int i = 0; i < ndim; i++) {
        int j = i - lead;
        strides[i] = (j < 0 || (t->shape[j] == 1 && shape[i] != 1)) ? 0 : t->strides[j];
    }
}

double dagl__load(dagl_dtype dt, const char *p)
{
    switch (dt) {
    case DAGL_F32: return *(const float *)p;
    case DAGL_F64: return *(const double *)p;
    case DAGL_U8: return *(const uint8_t *)p;
    default: return (double)*(const int64_t *)p;
    }
}

void dagl__store(dagl_dtype dt, char *p, double v)
{
    switch (dt) {
    case DAGL_F32: *(float *)p = (float)v; break;
    case DAGL_F64: *(double *)p = v; break;
    case DAGL_U8: *(uint8_t *)p = DAGL__TO_u8(v); break;
    default: *(int64_t *)p = dagl__f64_to_i64(v); break;
    }
}
