/* view.c -- views that share memory with their base: reshape, permute, slice, select, squeeze,
 * unsqueeze, expand. None of them copies, except dagl_reshape when strides make a view impossible. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* Resolves a -1 entry and checks that the element count is unchanged (a product of the new dims
 * that overflows int64 cannot match it). */
static dagl_status infer_shape(dagl_ctx *ctx, const char *op, const dagl_tensor *t, int ndim,
                               const int64_t *shape, int64_t *out)
{
    if (ndim < 0 || ndim > DAGL_MAX_DIMS || (ndim && !shape))
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "%s: bad number of dimensions %d", op, ndim);
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        out[i] = shape[i];
        if (shape[i] == -1 && infer < 0) infer = i;
        else if (shape[i] < 0 || __builtin_mul_overflow(known, shape[i], &known)) goto bad;
    }
    if (infer >= 0) {
        if (known == 0 || t->numel % known) goto bad;
        out[infer] = t->numel / known;
    } else if (known != t->numel) {
        goto bad;
    }
    return DAGL_OK;
bad:;
    char b1[160], b2[160];
    return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "%s: cannot reshape %s (%lld elements) to %s", op,
                              dagl_shape_str(t->ndim, t->shape, b1, sizeof b1), (long long)t->numel,
                              dagl_shape_str(ndim, shape, b2, sizeof b2));
}

/* Strides for viewing t with a new shape, when the old strides allow it (PyTorch's
 * computeStride): merges runs of old dims that are contiguous with each other. */
static bool view_strides(const dagl_tensor *t, int ndim, const int64_t *shape, int64_t *strides)
{
    if (t->numel == 0 || dagl_tensor_is_contiguous(t)) {
        dagl__contig_strides(ndim, shape, strides);
        return true;
    }
    int nd = ndim - 1;
    int64_t chunk = 1;
    int64_t base_stride = t->ndim ? t->strides[t->ndim - 1] : 1;
    for (int od = t->ndim - 1; od >= 0; od--) {
        chunk *= t->shape[od];
        if (od == 0 || (t->shape[od - 1] != 1 && t->strides[od - 1] != chunk * base_stride)) {
            /* dims od..end form one contiguous chunk of `chunk` elements */
            while (nd >= 0 && (chunk > 1 || shape[nd] == 1)) {
                if (chunk % shape[nd]) return false;
                strides[nd] = base_stride;
                base_stride *= shape[nd];
                chunk /= shape[nd];
                nd--;
            }
            if (chunk != 1) return false;
            if (od > 0) {
                chunk = 1;
                base_stride = t->strides[od - 1];
            }
        }
    }
    for (; nd >= 0; nd--) {
        if (shape[nd] != 1) return false;
        strides[nd] = 1;
    }
    return true;
}

dagl_status dagl_view(dagl_ctx *ctx, dagl_tensor *t, int ndim, const int64_t *shape, dagl_tensor **out)
{
    int64_t s[DAGL_MAX_DIMS], st[DAGL_MAX_DIMS];
    *out = NULL;
    dagl_status rc = infer_shape(ctx, "view", t, ndim, shape, s);
    if (rc) return rc;
    if (!view_strides(t, ndim, s, st)) {
        char b1[160], b2[160];
        return dagl_ctx_set_error(ctx, DAGL_E_LAYOUT,
                                  "view: a tensor of shape %s with these strides cannot be viewed as %s "
                                  "(use reshape, which copies)",
                                  dagl_shape_str(t->ndim, t->shape, b1, sizeof b1),
                                  dagl_shape_str(ndim, s, b2, sizeof b2));
    }
    return dagl__make_view(ctx, t, ndim, s, st, t->data, out);
}

dagl_status dagl_reshape(dagl_ctx *ctx, dagl_tensor *t, int ndim, const int64_t *shape,
                         dagl_tensor **out)
{
    int64_t s[DAGL_MAX_DIMS], st[DAGL_MAX_DIMS];
    *out = NULL;
    dagl_status rc = infer_shape(ctx, "reshape", t, ndim, shape, s);
    if (rc) return rc;
    if (view_strides(t, ndim, s, st)) return dagl__make_view(ctx, t, ndim, s, st, t->data, out);
    dagl_tensor *c;
    if ((rc = dagl_clone(ctx, t, &c))) return rc;
    rc = dagl_view(ctx, c, ndim, s, out);
    dagl_tensor_release(c);
    return rc;
}

/* Reorders dims by moving shape and stride entries (entry i of perm is the old dim placed at i);
 * each dim must appear once. No copy. */
dagl_status dagl_permute(dagl_ctx *ctx, dagl_tensor *t, const int *perm, dagl_tensor **out)
{
    int64_t s[DAGL_MAX_DIMS], st[DAGL_MAX_DIMS];
    bool seen[DAGL_MAX_DIMS] = {false};
    *out = NULL;
    for (int i = 0; i < t->ndim; i++) {
        int d = dagl__wrap_dim(perm[i], t->ndim);
        if (d < 0 || seen[d]) {
            char b[160];
            return dagl_ctx_set_error(ctx, DAGL_E_INDEX,
                                      "permute: entry %d (%d) is not a free dimension of a tensor of shape %s",
                                      i + 1, perm[i], dagl_shape_str(t->ndim, t->shape, b, sizeof b));
        }
        seen[d] = true;
        s[i] = t->shape[d];
        st[i] = t->strides[d];
    }
    return dagl__make_view(ctx, t, t->ndim, s, st, t->data, out);
}

/* Checks dim against t, with the error naming op and the shape. */
static int checked_dim(dagl_ctx *ctx, const char *op, const dagl_tensor *t, int dim, int ndim)
{
    int d = dagl__wrap_dim(dim, ndim);
    if (d < 0) {
        char b[160];
        dagl_ctx_set_error(ctx, DAGL_E_INDEX, "%s: dimension %d out of range for a tensor of shape %s",
                           op, dim, dagl_shape_str(t->ndim, t->shape, b, sizeof b));
    }
    return d;
}

/* Swaps two dims: dagl_permute with the identity order except at d0 and d1. */
dagl_status dagl_transpose(dagl_ctx *ctx, dagl_tensor *t, int d0, int d1, dagl_tensor **out)
{
    int perm[DAGL_MAX_DIMS];
    *out = NULL;
    int a = checked_dim(ctx, "transpose", t, d0, t->ndim), b = checked_dim(ctx, "transpose", t, d1, t->ndim);
    if (a < 0 || b < 0) return DAGL_E_INDEX;
    for (int i = 0; i < t->ndim; i++) perm[i] = i;
    perm[a] = b;
    perm[b] = a;
    return dagl_permute(ctx, t, perm, out);
}

dagl_status dagl_slice(dagl_ctx *ctx, dagl_tensor *t, int dim, int64_t start, int64_t end, int64_t step,
                       dagl_tensor **out)
{
    *out = NULL;
    int d = checked_dim(ctx, "slice", t, dim, t->ndim);
    if (d < 0) return DAGL_E_INDEX;
    if (step <= 0) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "slice: step must be positive, got %lld",
                                             (long long)step);
    int64_t n = t->shape[d];
    if (start < 0) start += n;
    if (end < 0) end += n;
    start = start < 0 ? 0 : start > n ? n : start;
    end = end < start ? start : end > n ? n : end;
    if (step > n) step = n > 0 ? n : 1; /* the same elements (the first at most), and no overflow below */
    int64_t s[DAGL_MAX_DIMS], st[DAGL_MAX_DIMS];
    memcpy(s, t->shape, sizeof s);
    memcpy(st, t->strides, sizeof st);
    s[d] = (end - start + step - 1) / step;
    st[d] = t->strides[d] * step;
    /* a tensor without elements may have no memory: no offset from NULL (UB) */
    char *data = t->data ? t->data + start * t->strides[d] * (int64_t)dagl_dtype_size(t->dtype) : NULL;
    return dagl__make_view(ctx, t, t->ndim, s, st, data, out);
}

/* dagl_slice by start and length with step 1; unlike slice, which clamps, a range outside the dim
 * is an error. */
dagl_status dagl_narrow(dagl_ctx *ctx, dagl_tensor *t, int dim, int64_t start, int64_t length,
                        dagl_tensor **out)
{
    *out = NULL;
    int d = checked_dim(ctx, "narrow", t, dim, t->ndim);
    if (d < 0) return DAGL_E_INDEX;
    if (start < 0) start += t->shape[d];
    if (start < 0 || length < 0 || start + length > t->shape[d]) {
        char b[160];
        return dagl_ctx_set_error(ctx, DAGL_E_INDEX,
                                  "narrow: [%lld, %lld) is out of range for dimension %d of shape %s",
                                  (long long)start, (long long)(start + length), dim,
                                  dagl_shape_str(t->ndim, t->shape, b, sizeof b));
    }
    return dagl_slice(ctx, t, d, start, start + length, 1, out);
}

dagl_status dagl_select(dagl_ctx *ctx, dagl_tensor *t, int dim, int64_t index, dagl_tensor **out)
{
    *out = NULL;
    int d = checked_dim(ctx, "select", t, dim, t->ndim);
    if (d < 0) return DAGL_E_INDEX;
    int64_t i = index < 0 ? index + t->shape[d] : index;
    if (i < 0 || i >= t->shape[d]) {
        char b[160];
        return dagl_ctx_set_error(ctx, DAGL_E_INDEX,
                                  "index: index %lld is out of range for dimension %d of size %lld (shape %s)",
                                  (long long)index, d, (long long)t->shape[d],
                                  dagl_shape_str(t->ndim, t->shape, b, sizeof b));
    }
    int64_t s[DAGL_MAX_DIMS], st[DAGL_MAX_DIMS];
    for (int k = 0, j = 0; k < t->ndim; k++) {
        if (k == d) continue;
        s[j] = t->shape[k];
        st[j++] = t->strides[k];
    }
    char *data = t->data + i * t->strides[d] * (int64_t)dagl_dtype_size(t->dtype);
    return dagl__make_view(ctx, t, t->ndim - 1, s, st, data, out);
}

dagl_status dagl_squeeze(dagl_ctx *ctx, dagl_tensor *t, int dim, int all, dagl_tensor **out)
{
    *out = NULL;
    int d = -1;
    if (!all && (d = checked_dim(ctx, "squeeze", t, dim, t->ndim)) < 0) return DAGL_E_INDEX;
    int64_t s[DAGL_MAX_DIMS], st[DAGL_MAX_DIMS];
    int n = 0;
    for (int k = 0; k < t->ndim; k++) {
        if (t->shape[k] == 1 && (all || k == d)) continue;
        s[n] = t->shape[k];
        st[n++] = t->strides[k];
    }
    return dagl__make_view(ctx, t, n, s, st, t->data, out);
}

/* Inserts a size-1 dim at position dim of the result (0..ndim); its stride is chosen so that a
 * contiguous tensor stays contiguous. */
dagl_status dagl_unsqueeze(dagl_ctx *ctx, dagl_tensor *t, int dim, dagl_tensor **out)
{
    *out = NULL;
    if (t->ndim >= DAGL_MAX_DIMS)
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "unsqueeze: tensor already has %d dimensions", t->ndim);
    int d = checked_dim(ctx, "unsqueeze", t, dim, t->ndim + 1);
    if (d < 0) return DAGL_E_INDEX;
    int64_t s[DAGL_MAX_DIMS], st[DAGL_MAX_DIMS];
    for (int k = 0, j = 0; k <= t->ndim; k++) {
        if (k == d) {
            s[k] = 1;
            st[k] = d < t->ndim ? t->shape[d] * t->strides[d] : 1;
        } else {
            s[k] = t->shape[j];
            st[k] = t->strides[j++];
        }
    }
    return dagl__make_view(ctx, t, t->ndim + 1, s, st, t->data, out);
}

dagl_status dagl_expand(dagl_ctx *ctx, dagl_tensor *t, int ndim, const int64_t *shape, dagl_tensor **out)
{
    *out = NULL;
    int64_t s[DAGL_MAX_DIMS], st[DAGL_MAX_DIMS];
    if (ndim < t->ndim || ndim > DAGL_MAX_DIMS) goto bad;
    for (int i = 0; i < ndim; i++) {
        int j = i - (ndim - t->ndim);
        int64_t have = j < 0 ? 1 : t->shape[j];
        s[i] = shape[i] == -1 && j >= 0 ? have : shape[i];
        if (s[i] < 0 || (have != 1 && have != s[i])) goto bad;
        st[i] = j < 0 || (have == 1 && s[i] != 1) ? 0 : t->strides[j];
    }
    return dagl__make_view(ctx, t, ndim, s, st, t->data, out);
bad:;
    char b1[160], b2[160];
    return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "expand: cannot expand shape %s to %s",
                              dagl_shape_str(t->ndim, t->shape, b1, sizeof b1),
                              dagl_shape_str(ndim, shape, b2, sizeof b2));
}

/* The first dim of size > 1 with stride 0 (what expand makes), or -1: the certain overlap, and the
 * one an error message can explain. */
static int broadcast_dim(const dagl_tensor *t)
{
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] > 1 && t->strides[i] == 0) return i;
    return -1;
}

/* In-place writes need it: through a view whose indices share elements (an expanded tensor) a
 * kernel writes some element more than once and an update like add_ loses all but one of its
 * writes. Decided from the layout alone, as PyTorch's has_internal_overlap does, but with the
 * nesting test of its older note instead of its dense-only one: dims of size 1 never matter and a
 * stride's sign does not either (flipping a dim maps indices one to one); sorted by stride, when
 * each stride is larger than the reach of the smaller dims (sum of stride * (size - 1)), an offset
 * gives back its index one dim at a time, from the largest, so no two indices meet (every view but
 * expand's passes). Two dims meet for certain when one's stride is k times the other's with k <
 * the other's size (index k on the one and 1 on the other: a sliding window over wrapped memory).
 * Anything else is too hard to settle cheaply and is allowed, as PyTorch allows it. */
dagl_overlap dagl_tensor_overlap(const dagl_tensor *t)
{
    if (t->contiguous || t->numel <= 1) return DAGL_OVERLAP_NO;
    if (broadcast_dim(t) >= 0) return DAGL_OVERLAP_YES;
    uint64_t size[DAGL_MAX_DIMS], stride[DAGL_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] == 1) continue;
        uint64_t s = t->strides[i] < 0 ? -(uint64_t)t->strides[i] : (uint64_t)t->strides[i];
        int k = n++;
        for (; k > 0 && stride[k - 1] > s; k--) size[k] = size[k - 1], stride[k] = stride[k - 1];
        size[k] = (uint64_t)t->shape[i];
        stride[k] = s;
    }
    uint64_t reach = 0, step;
    bool nested = true;
    for (int k = 0; k < n && nested; k++)
        nested = stride[k] > reach && !__builtin_mul_overflow(stride[k], size[k] - 1, &step) &&
                 !__builtin_add_overflow(reach, step, &reach);
    if (nested) return DAGL_OVERLAP_NO;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (stride[j] % stride[i] == 0 && stride[j] / stride[i] < size[i]) return DAGL_OVERLAP_YES;
    return DAGL_OVERLAP_MAYBE;
}

/* The one refusal of every in-place write (copy_into, fill, assign, axpy, assign nodes, the Lua
 * binding's fill/copy/add_/x[i] = v), so they all say the same thing, naming the op and the layout. */
dagl_status dagl_tensor_check_writable(dagl_ctx *ctx, const dagl_tensor *t, const char *op)
{
    if (dagl_tensor_overlap(t) != DAGL_OVERLAP_YES) return DAGL_OK;
    char b1[160], b2[160], why[96];
    int d = broadcast_dim(t);
    if (d >= 0) snprintf(why, sizeof why, "stride 0 on a dimension of size %lld, as expand makes", (long long)t->shape[d]);
    else snprintf(why, sizeof why, "two different indices reach one element");
    return dagl_ctx_set_error(ctx, DAGL_E_LAYOUT,
                              "%s: the tensor written in place has overlapping elements (shape %s, strides %s: %s); "
                              "clone() it first",
                              op, dagl_shape_str(t->ndim, t->shape, b1, sizeof b1),
                              dagl_shape_str(t->ndim, t->strides, b2, sizeof b2), why);
}

/* The layout op of a graph node: a view when the strides allow, a copy for reshape otherwise
 * (permute and expand are always views). */
dagl_status dagl__layout(dagl_ctx *ctx, dagl_op op, const dagl_node_params *p, dagl_tensor *t, dagl_tensor **out)
{
    switch (op) {
    case DAGL_OP_RESHAPE: return dagl_reshape(ctx, t, p->nshape, p->shape, out);
    case DAGL_OP_EXPAND: return dagl_expand(ctx, t, p->nshape, p->shape, out);
    case DAGL_OP_SLICE: return dagl_slice(ctx, t, p->axis, p->start, p->stop, p->step, out);
    case DAGL_OP_PERMUTE:
        if (p->ndims != t->ndim) {
            *out = NULL;
            return dagl_ctx_set_error(ctx, DAGL_E_ARG, "permute: %d dims given for a tensor of %d", p->ndims, t->ndim);
        }
        return dagl_permute(ctx, t, p->dims, out);
    default: *out = NULL; return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s is not a layout op", dagl_op_name(op));
    }
}
