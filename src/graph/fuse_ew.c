/* fuse_ew.c -- elementwise fusion at prepare time. A tree of float unary, binary and compare
 * nodes of one shape, whose inner nodes feed only the next node of the tree, becomes its root
 * running one program (kernels/ew_program.c): an Adam update (m, v and the weight's step: a dozen
 * ops) reads and writes memory in three passes instead of twelve, bitwise equal to the ops one by
 * one. Sources outside the tree have the root's shape or one element (a hyper-parameter). The
 * root is rewritten in place, so its consumers, output status and label stay; the nodes it
 * absorbed keep their own op and sources and run again only if something later needs them. */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL (-100)

static int64_t numel_of(const dagl_node *nd)
{
    int64_t n = 1;
    for (int d = 0; d < nd->ndim; d++) n *= nd->shape[d];
    return n;
}

static bool same_shape(const dagl_node *a, const dagl_node *b)
{
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

/* A float unary, binary or compare node a program can run: its op has a kernel for its dtype,
 * and every source has that dtype and either its shape or one element (no broadcast rows). */
static bool fusable(const dagl_graph *g, const dagl_node *nd)
{
    if (nd->kind != NODE_OP || nd->prog || dagl__node_is_fused(nd)) return false;
    if (nd->dtype != DAGL_F32 && nd->dtype != DAGL_F64) return false;
    dagl__op_class c = dagl__op_info_of(nd->op)->cls;
    if (c == DAGL__CLS_UNARY) {
        if (nd->nsrc != 1 || !dagl__unary_kernel(nd->op, nd->dtype)) return false;
    } else if (c == DAGL__CLS_BINARY || c == DAGL__CLS_COMPARE) {
        if (nd->nsrc != (nd->p.has_scalar ? 1 : 2) || !dagl__binary_kernel(nd->op, nd->dtype)) return false;
    } else {
        return false;
    }
    for (int k = 0; k < nd->nsrc; k++) {
        const dagl_node *s = &g->nodes[nd->src[k]];
        if (s->dtype != nd->dtype) return false;
        if (!same_shape(s, nd) && !(numel_of(s) == 1 && s->ndim <= nd->ndim)) return false;
    }
    return true;
}

/* The program of one root while it is built. */
struct builder {
    dagl_graph *g;
    const bool *live;
    const int *uses;
    const bool *after_assign; /* per node: depends on an assign (its reads of a target are the new value) */
    bool *absorbed;
    int root;
    dagl__ew_prog prog;
    int srcs[DAGL_MAX_SRCS], nsrc;
    bool reg_busy[DAGL__PROG_MAX];
    int taken[DAGL__PROG_MAX], ntaken; /* nodes absorbed by this root, to undo */
};

/* Whether node id, a source of a node of the tree, can be computed inside the program: fusable,
 * used only there, not an output, of the root's shape, and not after an assign (moving its reads
 * of a target into the root could put them on the other side of the assign). */
static bool absorbable(const struct builder *b, int id)
{
    const dagl_node *nd = &b->g->nodes[id], *r = &b->g->nodes[b->root];
    return id != b->root && b->live[id] && b->uses[id] == 1 && !nd->is_output && !b->absorbed[id] &&
           !b->after_assign[id] && same_shape(nd, r) && fusable(b->g, nd);
}

/* The operand code of node id as a source of the program: its slot, a new one, or FAIL when full. */
static int input_code(struct builder *b, int id)
{
    for (int i = 0; i < b->nsrc; i++)
        if (b->srcs[i] == id) return i;
    if (b->nsrc == DAGL_MAX_SRCS) return FAIL;
    b->srcs[b->nsrc] = id;
    return b->nsrc++;
}

/* Appends the steps computing node id (its absorbable sources first); returns the operand code
 * of its value (a register), or FAIL when it needs more sources than a node has. */
static int emit(struct builder *b, int id)
{
    const dagl_node *nd = &b->g->nodes[id];
    int codes[2] = {DAGL__PROG_NONE, DAGL__PROG_NONE};
    for (int k = 0; k < nd->nsrc; k++) {
        int s = nd->src[k], c;
        /* each absorbed node is one step, the root one more: a full program reads s as a source,
         * and s roots a tree of its own */
        if (absorbable(b, s) && b->ntaken + 2 <= DAGL__PROG_MAX) {
            b->absorbed[s] = true;
            b->taken[b->ntaken++] = s;
            c = emit(b, s);
        } else {
            c = input_code(b, s);
        }
        if (c == FAIL) return FAIL;
        codes[k] = c;
    }
    if (b->prog.n == DAGL__PROG_MAX) return FAIL;
    dagl__ew_step *st = &b->prog.step[b->prog.n++];
    st->op = nd->op;
    st->scalar = nd->p.has_scalar ? nd->p.scalar : 0;
    if (nd->p.has_scalar) {
        st->a = (int8_t)(nd->p.scalar_first ? DAGL__PROG_SCALAR : codes[0]);
        st->b = (int8_t)(nd->p.scalar_first ? codes[0] : DAGL__PROG_SCALAR);
    } else {
        st->a = (int8_t)codes[0];
        st->b = (int8_t)codes[1];
    }
    for (int k = 0; k < 2; k++) /* operand registers are free once read (a step may write over one) */
        if (codes[k] >= DAGL__PROG_REG) b->reg_busy[codes[k] - DAGL__PROG_REG] = false;
    int r = 0;
    while (b->reg_busy[r]) r++; /* at most one busy register per step before this one */
    b->reg_busy[r] = true;
    st->reg = (int8_t)r;
    return DAGL__PROG_REG + r;
}

/* "sub+mul+add": the steps' ops in order, cut to the name's size. */
static void name_prog(dagl__ew_prog *p)
{
    size_t at = 0;
    p->name[0] = 0;
    for (int k = 0; k < p->n && at < sizeof p->name; k++) {
        int w = snprintf(p->name + at, sizeof p->name - at, "%s%s", k ? "+" : "", dagl_op_name(p->step[k].op));
        if (w < 0) break;
        at += (size_t)w;
    }
}

/* Builds root's program; rewrites root when it absorbed something. A tree needing more sources
 * than a node has is left alone (its inner nodes then become roots of smaller trees). */
static dagl_status fuse_root(struct builder *b, int root)
{
    memset(&b->prog, 0, sizeof b->prog);
    memset(b->reg_busy, 0, sizeof b->reg_busy);
    b->root = root;
    b->nsrc = b->ntaken = 0;
    if (emit(b, root) == FAIL || b->prog.n < 2) {
        for (int i = 0; i < b->ntaken; i++) b->absorbed[b->taken[i]] = false;
        return DAGL_OK;
    }
    dagl__ew_prog *p = malloc(sizeof *p);
    if (!p) return dagl_ctx_set_error(b->g->ctx, DAGL_E_NOMEM, "graph: out of memory fusing node %d", root);
    *p = b->prog;
    name_prog(p);
    dagl_node *nd = &b->g->nodes[root];
    nd->prog = p;
    nd->nsrc = b->nsrc;
    memcpy(nd->src, b->srcs, sizeof(int) * (size_t)b->nsrc);
    return DAGL_OK;
}

dagl_status dagl__graph_fuse_ew(dagl_graph *g, const bool *live, const int *uses)
{
    int n = g->n;
    bool *absorbed = calloc((size_t)n + 1, sizeof *absorbed), *after = calloc((size_t)n + 1, sizeof *after);
    if (!absorbed || !after) {
        free(absorbed), free(after);
        return dagl_ctx_set_error(g->ctx, DAGL_E_NOMEM, "graph: out of memory fusing %d nodes", n);
    }
    for (int i = 0; i < n; i++) { /* sources have smaller ids */
        const dagl_node *nd = &g->nodes[i];
        after[i] = nd->kind == NODE_OP && nd->op == DAGL_OP_ASSIGN;
        for (int k = 0; k < nd->nsrc && !after[i]; k++) after[i] = after[nd->src[k]];
    }
    struct builder b = {.g = g, .live = live, .uses = uses, .after_assign = after, .absorbed = absorbed};
    dagl_status st = DAGL_OK;
    /* consumers first: a root takes its whole tree before its inner nodes are looked at */
    for (int i = n - 1; i >= 0 && !st; i--)
        if (live[i] && !absorbed[i] && !after[i] && fusable(g, &g->nodes[i])) st = fuse_root(&b, i);
    free(absorbed), free(after);
    return st;
}
