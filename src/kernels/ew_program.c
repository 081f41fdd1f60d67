/* ew_program.c -- a fused elementwise node: a small program of unary, binary and compare ops
 * (an optimizer's update, a loss's arithmetic, a chain of activations) run block by block, each
 * block of elements going through every step while it is in L1, instead of every op streaming
 * whole tensors through memory. Each step calls the op's own kernel on the block, so the result
 * is bitwise the one of the ops run one by one. The graph's fusion pass (graph/fuse_ew.c) writes
 * the programs. */
#include "kernels.h"

#include <string.h>

#define PROG_BLOCK 1024     /* elements a block at most */
#define PROG_SCRATCH 32768  /* bytes of registers, on the stack */

struct prog_run {
    const dagl__ew_prog *p;
    dagl_dtype dt;
    size_t es;
    const char *in[DAGL_MAX_SRCS];
    int64_t in_st[DAGL_MAX_SRCS]; /* 1, or 0 for a one-element source (broadcast) */
    union { float f; double d; } scalar[DAGL__PROG_MAX];
    char *out;
    int64_t numel;
};

/* The kernel of one step for the program's dtype (checked non-NULL when the program was made). */
static ew_kernel step_kernel(const dagl__ew_step *s, dagl_dtype dt)
{
    return s->b == DAGL__PROG_NONE ? dagl__unary_kernel(s->op, dt) : dagl__binary_kernel(s->op, dt);
}

/* Where operand code `c` of step k reads block [b, b + len): a source, a register (of `rb`
 * bytes each, in regs) or the step's scalar. */
static const char *operand(const struct prog_run *r, int k, int c, int64_t b, char *regs, int64_t rb, int64_t *st)
{
    if (c == DAGL__PROG_SCALAR) {
        *st = 0;
        return (const char *)&r->scalar[k];
    }
    if (c >= DAGL__PROG_REG) {
        *st = 1;
        return regs + (c - DAGL__PROG_REG) * rb;
    }
    *st = r->in_st[c];
    return r->in[c] + b * r->in_st[c] * (int64_t)r->es;
}

/* Thread ith's elements, a block at a time through every step; the last step writes the output.
 * Blocks are as long as the program's registers fit the stack scratch (up to PROG_BLOCK); each
 * step's arguments are set up once, blocks only move its pointers. */
static void prog_share(void *arg, int ith, int nth)
{
    const struct prog_run *r = arg;
    const dagl__ew_prog *p = r->p;
    _Alignas(64) char regs[PROG_SCRATCH];
    struct ew_args a[DAGL__PROG_MAX];
    ew_kernel k[DAGL__PROG_MAX];
    int nregs = 1;
    for (int s = 0; s + 1 < p->n; s++)
        if (p->step[s].reg + 1 > nregs) nregs = p->step[s].reg + 1;
    int64_t block = PROG_SCRATCH / (nregs * (int64_t)r->es) / 16 * 16;
    if (block > PROG_BLOCK) block = PROG_BLOCK;
    int64_t rb = block * (int64_t)r->es;
    for (int s = 0; s < p->n; s++) {
        memset(&a[s], 0, sizeof a[s]);
        a[s].ndim = 1;
        k[s] = step_kernel(&p->step[s], r->dt);
    }
    int64_t lo, hi;
    dagl__split(r->numel, ith, nth, &lo, &hi);
    for (int64_t b = lo; b < hi; b += block) {
        int64_t len = hi - b < block ? hi - b : block;
        for (int s = 0; s < p->n; s++) {
            const dagl__ew_step *st = &p->step[s];
            struct ew_args *e = &a[s];
            e->shape[0] = e->numel = len;
            e->in[0] = operand(r, s, st->a, b, regs, rb, &e->st[0][0]);
            e->in[1] = st->b != DAGL__PROG_NONE ? operand(r, s, st->b, b, regs, rb, &e->st[1][0]) : e->in[0];
            e->in[2] = e->in[0];
            e->out = s == p->n - 1 ? r->out + b * (int64_t)r->es : regs + st->reg * rb;
            k[s](e, 0, 1);
        }
    }
}

/* Checks a program against its dtype and sources before anything runs (a wrong one is a bug in
 * the fusion pass, reported rather than run). */
static dagl_status check_prog(dagl_ctx *ctx, const dagl__ew_prog *p, int nsrc, dagl_dtype dt)
{
    if (p->n < 1 || p->n > DAGL__PROG_MAX || (dt != DAGL_F32 && dt != DAGL_F64))
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: a fused program needs 1 to %d steps on a float dtype", p->name,
                                  DAGL__PROG_MAX);
    for (int k = 0; k < p->n; k++) {
        const dagl__ew_step *s = &p->step[k];
        int codes[2] = {s->a, s->b};
        for (int i = 0; i < 2; i++) {
            int c = codes[i];
            bool ok = c == DAGL__PROG_SCALAR || (c >= 0 && c < nsrc) || (c >= DAGL__PROG_REG && c < DAGL__PROG_REG + DAGL__PROG_MAX) ||
                      (i == 1 && c == DAGL__PROG_NONE);
            if (!ok || !step_kernel(s, dt))
                return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: step %d (%s) is not a valid fused step", p->name, k,
                                          dagl_op_name(s->op));
        }
    }
    return DAGL_OK;
}

dagl_status dagl__ew_program(dagl_ctx *ctx, const dagl__ew_prog *p, int nsrc, dagl_tensor *const *srcv, dagl_dtype dt,
                             int ndim, const int64_t *shape, dagl_tensor *dst, dagl_tensor **out)
{
    *out = NULL;
    dagl_status st = check_prog(ctx, p, nsrc, dt);
    if (st) return st;
    struct prog_run r;
    memset(&r, 0, sizeof r);
    r.p = p;
    r.dt = dt;
    r.es = dagl_dtype_size(dt);
    dagl_tensor *copies[DAGL_MAX_SRCS] = {0};
    if ((st = dagl__tensor_alloc_dst(ctx, dst, dt, ndim, shape, out))) return st;
    r.out = (*out)->data;
    r.numel = (*out)->numel;
    for (int i = 0; i < nsrc && !st; i++) {
        const dagl_tensor *x = srcv[i];
        if (x->dtype != dt || (x->numel != 1 && x->numel != r.numel)) {
            st = dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "%s: source %d has %lld %s elements, the result %lld %s", p->name, i,
                                    (long long)x->numel, dagl_dtype_name(x->dtype), (long long)r.numel, dagl_dtype_name(dt));
            break;
        }
        if (x->numel != 1 && !dagl_tensor_is_contiguous(x)) {
            if ((st = dagl_clone(ctx, x, &copies[i]))) break;
            x = copies[i];
        }
        r.in[i] = x->data;
        r.in_st[i] = x->numel == 1 ? 0 : 1;
    }
    for (int k = 0; k < p->n; k++) {
        if (dt == DAGL_F32) r.scalar[k].f = (float)p->step[k].scalar;
        else r.scalar[k].d = p->step[k].scalar;
    }
    if (!st && r.numel > 0) dagl__parallel(ctx, prog_share, &r, dagl__shares(r.numel, 32768));
    for (int i = 0; i < nsrc; i++) dagl_tensor_release(copies[i]);
    if (st) {
        dagl_tensor_release(*out);
        *out = NULL;
    }
    return st;
}
