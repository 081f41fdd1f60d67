/* ew_common.c -- setup shared by the elementwise kernels: broadcasting several inputs to one
 * output, merging dims that are contiguous for every operand, and dtype conversion of inputs. */
#include "kernels.h"

#include <string.h>

/* Casting inputs up front keeps the kernels single-dtype: one generated loop per dtype instead
 * of one per dtype combination. */
dagl_status dagl__as_dtype(dagl_ctx *ctx, const dagl_tensor *t, dagl_dtype dt, dagl_tensor **out)
{
    if (t->dtype == dt) {
        dagl_tensor_retain((dagl_tensor *)t);
        *out = (dagl_tensor *)t;
        return DAGL_OK;
    }
    return dagl_cast(ctx, t, dt, out);
}

/* Fewer, longer dims mean longer inner loops: drops size-1 dims, then merges dim d into the dim
 * before it when every operand steps over the pair as over one dim. */
static void coalesce(struct ew_args *a, int nin)
{
    int n = 0;
    for (int d = 0; d < a->ndim; d++) {
        if (a->shape[d] == 1) continue;
        if (n > 0) {
            bool merge = true;
            for (int k = 0; k < nin; k++)
                if (a->st[k][n - 1] != a->st[k][d] * a->shape[d]) merge = false;
            if (merge) {
                a->shape[n - 1] *= a->shape[d];
                for (int k = 0; k < nin; k++) a->st[k][n - 1] = a->st[k][d];
                continue;
            }
        }
        a->shape[n] = a->shape[d];
        for (int k = 0; k < nin; k++) a->st[k][n] = a->st[k][d];
        n++;
    }
    if (n == 0) {
        a->shape[0] = 1;
        for (int k = 0; k < nin; k++) a->st[k][0] = 0;
        n = 1;
    }
    a->ndim = n;
}

/* Unused input slots alias input 0 with zero strides, so the kernels may form their pointers. */
static void fill_unused(struct ew_args *a, int nin)
{
    for (int k = nin; k < EW_MAXIN; k++) {
        a->in[k] = a->in[0];
        memset(a->st[k], 0, sizeof a->st[k]);
    }
}

void dagl__ew_flat(struct ew_args *a, int nin, const dagl_tensor *const *ins, dagl_tensor *out)
{
    a->ndim = 1;
    a->shape[0] = a->numel = out->numel;
    for (int k = 0; k < nin; k++) {
        a->in[k] = ins[k]->data;
        a->st[k][0] = 1;
    }
    a->out = out->data;
    fill_unused(a, nin);
}

/* The general case: output shape by broadcasting, per-input strides over it, then coalescing. */
dagl_status dagl__ew_prepare(dagl_ctx *ctx, const char *name, int nin, const dagl_tensor *const *ins,
                             dagl_dtype odt, dagl_tensor *dst, dagl_tensor **out, struct ew_args *a)
{
    int nd = ins[0]->ndim;
    int64_t shape[DAGL_MAX_DIMS];
    memcpy(shape, ins[0]->shape, sizeof(int64_t) * (size_t)nd);
    for (int k = 1; k < nin; k++) {
        int64_t prev[DAGL_MAX_DIMS];
        memcpy(prev, shape, sizeof(int64_t) * (size_t)nd);
        dagl_status st = dagl__broadcast_shape(ctx, name, nd, prev, ins[k]->ndim, ins[k]->shape, &nd, shape);
        if (st) return st;
    }
    dagl_status st = dagl__tensor_alloc_dst(ctx, dst, odt, nd, shape, out);
    if (st) return st;
    a->ndim = nd;
    memcpy(a->shape, shape, sizeof(int64_t) * (size_t)nd);
    for (int k = 0; k < nin; k++) {
        dagl__broadcast_strides(ins[k], nd, shape, a->st[k]);
        a->in[k] = ins[k]->data;
    }
    a->numel = (*out)->numel;
    a->out = (*out)->data;
    coalesce(a, nin);
    fill_unused(a, nin);
    return DAGL_OK;
}
