/* unary_chain.c -- a chain of unary ops (exp then tanh then ...) run block by block: each block
 * of 2048 elements goes through every op while it is in L1, instead of every op streaming the
 * whole tensor through memory. The graph's fusion pass (graph/fuse.c) makes these nodes. */
#include "kernels.h"

#include <string.h>

#define CHAIN_BLOCK 2048

struct chain_args {
    const dagl_op *ops;
    int n;
    dagl_dtype dt;
    const char *in;
    char *out;
    int64_t numel;
};

/* Runs unary kernel k on `len` contiguous elements from src to dst (one flat row). */
static void run_block(ew_kernel k, const char *src, char *dst, int64_t len)
{
    struct ew_args a;
    memset(&a, 0, sizeof a);
    a.ndim = 1;
    a.shape[0] = a.numel = len;
    for (int i = 0; i < EW_MAXIN; i++) a.in[i] = src;
    a.st[0][0] = 1;
    a.out = dst;
    k(&a, 0, 1);
}

/* Thread ith's elements, a block at a time: op 0 from the input into the output, then the
 * others back and forth between the output and a scratch block, ending in the output. */
static void chain_share(void *p, int ith, int nth)
{
    const struct chain_args *c = p;
    size_t es = dagl_dtype_size(c->dt);
    _Alignas(64) char scratch[CHAIN_BLOCK * sizeof(double)];
    int64_t lo, hi;
    dagl__split(c->numel, ith, nth, &lo, &hi);
    for (int64_t b = lo; b < hi; b += CHAIN_BLOCK) {
        int64_t len = hi - b < CHAIN_BLOCK ? hi - b : CHAIN_BLOCK;
        char *out = c->out + b * (int64_t)es, *cur = out;
        run_block(dagl__unary_kernel(c->ops[0], c->dt), c->in + b * (int64_t)es, out, len);
        for (int k = 1; k < c->n; k++) {
            char *next = cur == out ? scratch : out;
            run_block(dagl__unary_kernel(c->ops[k], c->dt), cur, next, len);
            cur = next;
        }
        if (cur != out) memcpy(out, cur, (size_t)len * es);
    }
}

dagl_status dagl__unary_chain(dagl_ctx *ctx, const dagl_op *ops, int n, const dagl_tensor *x, dagl_tensor *dst,
                              dagl_tensor **out)
{
    *out = NULL;
    if (!x || n < 1 || (x->dtype != DAGL_F32 && x->dtype != DAGL_F64))
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "unary chain: needs a float tensor and at least one op");
    for (int k = 0; k < n; k++)
        if (!dagl__unary_kernel(ops[k], x->dtype))
            return dagl_ctx_set_error(ctx, DAGL_E_ARG, "unary chain: %s is not a unary op", dagl_op_name(ops[k]));
    dagl_tensor *c = NULL;
    dagl_status st = dagl_tensor_is_contiguous(x) ? DAGL_OK : dagl_clone(ctx, x, &c);
    const dagl_tensor *src = c ? c : x;
    if (!st) st = dagl__tensor_alloc_dst(ctx, dst, src->dtype, src->ndim, src->shape, out);
    if (!st && src->numel > 0) {
        struct chain_args a = {ops, n, src->dtype, src->data, (*out)->data, src->numel};
        dagl__parallel(ctx, chain_share, &a, dagl__shares(src->numel, 32768));
    }
    dagl_tensor_release(c);
    return st;
}
