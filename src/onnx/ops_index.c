/* ops_index.c -- importers that pick elements: Slice (constant starts/ends/axes/steps, attributes
 * before opset 10; negative steps through a gather), Gather along any axis, Split. */
#include "onnx_int.h"

#include <stdlib.h>
#include <string.h>

/* Rows `idx` (int64 value) of x along axis: x's axis moved first, dagl's gather (rows of dim
 * 0), and the index dims moved back to the axis's place. */
ox_value *ox_gather_axis(ox_build *b, ox_value *x, ox_value *idx, int axis)
{
    int perm[DAGL_MAX_DIMS], r = x->ndim, q = idx->ndim;
    if (r - 1 + q > DAGL_MAX_DIMS) {
        ox_fail(b, DAGL_E_SHAPE, "the result would have %d dims (at most %d)", r - 1 + q, DAGL_MAX_DIMS);
        return NULL;
    }
    perm[0] = axis;
    for (int d = 0, k = 1; d < r; d++)
        if (d != axis) perm[k++] = d;
    ox_value *srcs[2] = {ox_permute(b, x, perm), idx};
    dagl_node_params p;
    dagl_node_params_init(&p);
    ox_value *y = srcs[0] ? ox_op(b, DAGL_OP_GATHER, 2, srcs, &p) : NULL;
    if (!y || axis == 0) return y;
    /* y: idx dims, then x's dims before axis, then after; wanted: before, idx dims, after */
    int back[DAGL_MAX_DIMS], k = 0;
    for (int d = 0; d < axis; d++) back[k++] = q + d;
    for (int d = 0; d < q; d++) back[k++] = d;
    for (int d = q + axis; d < y->ndim; d++) back[k++] = d;
    return ox_permute(b, y, back);
}

/* Constant indices (negative-step slices, Resize) as an int64 value. */
ox_value *ox_index_const(ox_build *b, const int64_t *v, int64_t n)
{
    dagl_tensor *t;
    if (dagl_tensor_new(b->ctx, DAGL_I64, 1, &n, &t)) {
        ox_wrap(b, DAGL_E_NOMEM);
        return NULL;
    }
    if (n) memcpy(dagl_tensor_data(t), v, sizeof(int64_t) * (size_t)n);
    return ox_const(b, t);
}

/* Gather(data, indices, axis): negative constant indices count from the end. */
dagl_status ox_import_gather(ox_build *b)
{
    ox_value *x = ox_plain(b, ox_in(b, 0)), *idx = ox_plain(b, ox_in(b, 1));
    if (!x || !idx) return ox_fail(b, DAGL_E_ARG, "needs data and indices");
    int axis;
    dagl_status st = ox_axis(b, "axis", ox_attr_int(b, "axis", 0), x->ndim, &axis);
    if (st) return st;
    if (idx->dt != DAGL_I64) return ox_fail(b, DAGL_E_DTYPE, "indices must be integers");
    if (idx->c) { /* normalize negative indices now */
        dagl_tensor *c;
        if (dagl_clone(b->ctx, idx->c, &c)) return ox_wrap(b, DAGL_E_NOMEM);
        int64_t *v = dagl_tensor_data(c), n = x->shape[axis];
        for (int64_t i = 0; i < dagl_tensor_numel(c); i++) {
            if (v[i] < -n || v[i] >= n) {
                dagl_tensor_release(c);
                return ox_fail(b, DAGL_E_INDEX, "index %lld is out of range for a dim of size %lld", (long long)v[i], (long long)n);
            }
            if (v[i] < 0) v[i] += n;
        }
        if (!(idx = ox_const(b, c))) return b->st;
    }
    return ox_out(b, 0, ox_gather_axis(b, x, idx, axis));
}

/* Clamps ONNX slice bounds of a dim of size n (step s) to what they select. */
static void clamp_bounds(int64_t n, int64_t s, int64_t *start, int64_t *end)
{
    if (*start < 0) *start += n;
    if (*end < 0) *end += n;
    if (s > 0) {
        *start = *start < 0 ? 0 : *start > n ? n : *start;
        *end = *end < 0 ? 0 : *end > n ? n : *end;
    } else {
        *start = *start < 0 ? -1 : *start > n - 1 ? n - 1 : *start;
        *end = *end < -1 ? -1 : *end > n - 1 ? n - 1 : *end;
    }
}

/* x along one axis from start to end by step (ONNX's semantics). */
static ox_value *slice_axis(ox_build *b, ox_value *x, int axis, int64_t start, int64_t end, int64_t step)
{
    int64_t n = x->shape[axis], big = n > 0 ? n : 1;
    if (step > big || step < -big) step = step > 0 ? big : -big; /* the same elements; no overflow */
    clamp_bounds(n, step, &start, &end);
    if (step > 0) {
        if (end < start) end = start;
        return ox_slice(b, x, axis, start, end, step);
    }
    int64_t cnt = start > end ? (start - end - step - 1) / -step : 0;
    if (cnt > OX_INDEX_MAX) { /* indices made at build time: a shape that large is a corrupt file's */
        ox_fail(b, DAGL_E_SHAPE, "a negative-step slice of %lld elements (at most %lld)", (long long)cnt,
                (long long)OX_INDEX_MAX);
        return NULL;
    }
    int64_t *v = malloc(sizeof(int64_t) * (size_t)(cnt ? cnt : 1));
    if (!v) {
        ox_fail(b, DAGL_E_NOMEM, "out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < cnt; i++) v[i] = start + i * step;
    ox_value *idx = ox_index_const(b, v, cnt);
    free(v);
    return idx ? ox_gather_axis(b, x, idx, axis) : NULL;
}

/* Slice: starts, ends, axes, steps (inputs from opset 10, attributes before). */
dagl_status ox_import_slice(ox_build *b)
{
    ox_value *x = ox_plain(b, ox_in(b, 0));
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    int64_t st_[DAGL_MAX_DIMS], en[DAGL_MAX_DIMS], ax[DAGL_MAX_DIMS], sp[DAGL_MAX_DIMS];
    int ns, ne, na = -1, np = -1;
    dagl_status st;
    if (ox_opset(b) < 10) {
        if ((st = ox_attr_ints(b, "starts", st_, DAGL_MAX_DIMS, &ns)) || (st = ox_attr_ints(b, "ends", en, DAGL_MAX_DIMS, &ne)) ||
            (st = ox_attr_ints(b, "axes", ax, DAGL_MAX_DIMS, &na)))
            return st;
        if (ns < 0 || ne < 0) return ox_bad_attr(b, ns < 0 ? "starts" : "ends", "missing");
    } else {
        if ((st = ox_const_ints(b, ox_in(b, 1), "starts", st_, DAGL_MAX_DIMS, &ns)) ||
            (st = ox_const_ints(b, ox_in(b, 2), "ends", en, DAGL_MAX_DIMS, &ne)))
            return st;
        if (ox_in(b, 3) && (st = ox_const_ints(b, ox_in(b, 3), "axes", ax, DAGL_MAX_DIMS, &na))) return st;
        if (ox_in(b, 4) && (st = ox_const_ints(b, ox_in(b, 4), "steps", sp, DAGL_MAX_DIMS, &np))) return st;
    }
    if (ne != ns || (na >= 0 && na != ns) || (np >= 0 && np != ns))
        return ox_fail(b, DAGL_E_ARG, "starts, ends, axes and steps have different lengths");
    bool seen[DAGL_MAX_DIMS] = {false};
    for (int i = 0; i < ns && x; i++) {
        int a;
        if ((st = ox_axis(b, "axis", na >= 0 ? ax[i] : i, x->ndim, &a))) return st;
        if (seen[a]) return ox_fail(b, DAGL_E_ARG, "axis %d is repeated", a);
        seen[a] = true;
        int64_t step = np >= 0 ? sp[i] : 1;
        if (step == 0) return ox_fail(b, DAGL_E_ARG, "step 0");
        x = slice_axis(b, x, a, st_[i], en[i], step);
    }
    return ox_out(b, 0, x);
}

/* Split along axis into the outputs: sizes from `split` (attribute before opset 13, input from
 * 13), else equal parts. */
dagl_status ox_import_split(ox_build *b)
{
    ox_value *x = ox_plain(b, ox_in(b, 0));
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    int axis, nout = ox_nout(b), n = -1;
    dagl_status st = ox_axis(b, "axis", ox_attr_int(b, "axis", 0), x->ndim, &axis);
    if (st) return st;
    if (nout < 1 || nout > 4096) return ox_fail(b, DAGL_E_ARG, "%d outputs", nout);
    int64_t sizes[4096];
    if (ox_opset(b) < 13) st = ox_attr_ints(b, "split", sizes, 4096, &n);
    else if (ox_in(b, 1)) st = ox_const_ints(b, ox_in(b, 1), "split", sizes, 4096, &n);
    if (st) return st;
    int64_t dim = x->shape[axis], total = 0;
    if (n < 0) {
        if (dim % nout)
            return ox_fail(b, DAGL_E_SHAPE, "dim %d of size %lld does not split into %d equal parts", axis,
                           (long long)dim, nout);
        for (int i = 0; i < nout; i++) sizes[i] = dim / nout;
        n = nout;
    }
    if (n != nout) return ox_fail(b, DAGL_E_ARG, "%d split sizes for %d outputs", n, nout);
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0 || sizes[i] > dim)
            return ox_fail(b, DAGL_E_ARG, "split size %lld for a dim of %lld", (long long)sizes[i], (long long)dim);
        total += sizes[i];
    }
    if (total != dim)
        return ox_fail(b, DAGL_E_SHAPE, "split sizes add up to %lld, dim %d has %lld", (long long)total, axis,
                       (long long)dim);
    for (int i = 0, at = 0; i < n; at += (int)sizes[i], i++)
        if ((st = ox_out(b, i, ox_slice(b, x, axis, at, at + sizes[i], 1)))) return st;
    return DAGL_OK;
}
