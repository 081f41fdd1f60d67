/* fuse.c -- graph rewrites at prepare time (GEMM epilogue fusion). A matmul or conv2d whose only
 * live consumer adds a 1-D bias along its last dim, optionally followed by relu, tanh or sigmoid
 * as the add's only consumer, becomes one node computing the GEMM and then bias + activation on
 * each row band while it is hot in cache (kernels/matmul.c, conv_tiles.c, epilogue.c), bitwise
 * equal to the three ops.
 * The last node of the chain is rewritten in place, so its consumers, output status and label
 * stay; the matmul and add it absorbed lose their consumers and, not being outputs, never run.
 * They stay in the graph unchanged: nodes added later may use them (they then run again).
 * A fused conv2d whose only live consumer pools it (max or average; inference graphs) absorbs the
 * pooling too: the convolution's rows are computed band by band and pooled at once, so its
 * full-size output is never written (kernels/conv_tiles.c).
 * A max_pool2d_grad(y, g) times y > 0 (the relu's gradient, grad.lua, when y is a relu's output
 * pooled) becomes one max_pool2d_grad node applying the mask as it writes (kernels/pool2d.c).
 * When such a y is a fused conv2d+add+relu with few inputs a pixel (a first layer: at most
 * RECOMPUTE_K) read only by non-overlapping max poolings and their masked gradients, those
 * compute y themselves band by band (the convolution again: cheaper than writing and reading
 * the full-size y), and y is never written.
 * Then trees of float elementwise ops become one node each (fuse_ew.c). */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECOMPUTE_K 32 /* kernel_h * kernel_w * in_channels up to which a conv2d is recomputed */

/* A plain float matmul node that may start a chain; its right operand has 2 or more dims, so the
 * result's last dim is the GEMM's columns (a matrix-vector product's is its rows). Or a conv2d
 * (its last dim: the output channels). */
static bool fusable_matmul(const dagl_graph *g, const dagl_node *nd)
{
    if (nd->kind != NODE_OP || nd->nsrc != 2 || nd->is_output || nd->ndim < 1 ||
        nd->prog || (nd->dtype != DAGL_F32 && nd->dtype != DAGL_F64))
        return false;
    return (nd->op == DAGL_OP_MATMUL && g->nodes[nd->src[1]].ndim >= 2) || nd->op == DAGL_OP_CONV2D;
}

/* Whether node `a` is mm + bias (either order) with bias 1-D along the last dim, all one dtype,
 * the sum of mm's shape; the bias node's id goes to *bias. */
static bool bias_add(const dagl_graph *g, int a, int mm, int *bias)
{
    const dagl_node *add = &g->nodes[a], *m = &g->nodes[mm];
    if (add->kind != NODE_OP || add->op != DAGL_OP_ADD || add->nsrc != 2 || add->p.has_scalar || add->prog) return false;
    int other = add->src[0] == mm ? add->src[1] : add->src[1] == mm ? add->src[0] : -1;
    if (other < 0 || other == mm) return false;
    const dagl_node *b = &g->nodes[other];
    if (b->ndim != 1 || b->shape[0] != m->shape[m->ndim - 1] || b->dtype != m->dtype || add->dtype != m->dtype)
        return false;
    if (add->ndim != m->ndim) return false;
    for (int d = 0; d < m->ndim; d++)
        if (add->shape[d] != m->shape[d]) return false;
    *bias = other;
    return true;
}

/* The activations the GEMM epilogue applies (relu, tanh, sigmoid): a one-source node of the matmul's dtype. */
static bool fusable_act(const dagl_node *nd, dagl_dtype dt)
{
    return nd->kind == NODE_OP && nd->nsrc == 1 && nd->dtype == dt && !nd->prog &&
           (nd->op == DAGL_OP_RELU || nd->op == DAGL_OP_TANH || nd->op == DAGL_OP_SIGMOID);
}

/* Live nodes (a path to an output or an assign), and per node its live consumer count and one of them. */
static void live_uses(const dagl_graph *g, bool *live, int *uses, int *only)
{
    dagl__graph_live(g, live);
    for (int i = 0; i < g->n; i++)
        if (live[i])
            for (int k = 0; k < g->nodes[i].nsrc; k++) {
                uses[g->nodes[i].src[k]]++;
                only[g->nodes[i].src[k]] = i;
            }
}

/* Node u, a max or average pooling of a fused conv2d node used by u only and not an output,
 * all one dtype, becomes the conv2d node with the pooling fused after it. */
static void fuse_conv_pool(dagl_graph *g, int u, const bool *live, const int *uses)
{
    dagl_node *nd = &g->nodes[u];
    if (!live[u] || nd->kind != NODE_OP || (nd->op != DAGL_OP_MAXPOOL2D && nd->op != DAGL_OP_AVGPOOL2D) ||
        nd->nsrc != 1)
        return;
    int ci = nd->src[0];
    const dagl_node *c = &g->nodes[ci];
    if (!dagl__node_is_fused(c) || c->op != DAGL_OP_CONV2D || c->fused_pool != DAGL_OP_NONE || c->is_output ||
        uses[ci] != 1 || c->dtype != nd->dtype)
        return;
    nd->pool_window = nd->p.window;
    nd->fused_pool = nd->op;
    nd->op = DAGL_OP_CONV2D;
    nd->nsrc = 3;
    memcpy(nd->src, c->src, sizeof(int) * 3);
    nd->p = c->p;
    nd->fused_act = c->fused_act;
}

/* Node u, mul(max_pool2d_grad(y, dy), y > 0) in either order, all one float dtype, the gradient
 * used by u only and not an output, becomes max_pool2d_grad(y, dy) with the mask (fused_act
 * relu). The mask node loses u as a consumer (it runs only if others read it). */
static void fuse_pool_mask(dagl_graph *g, int u, const bool *live, const int *uses)
{
    dagl_node *nd = &g->nodes[u];
    if (!live[u] || nd->kind != NODE_OP || nd->op != DAGL_OP_MUL || nd->nsrc != 2 || nd->p.has_scalar ||
        (nd->dtype != DAGL_F32 && nd->dtype != DAGL_F64))
        return;
    for (int k = 0; k < 2; k++) {
        int pi = nd->src[k], mi = nd->src[1 - k];
        const dagl_node *pg = &g->nodes[pi], *mk = &g->nodes[mi];
        if (pg->kind != NODE_OP || pg->op != DAGL_OP_MAXPOOL2D_GRAD || pg->nsrc != 2 || pg->fused_act != DAGL_OP_NONE ||
            pg->is_output || uses[pi] != 1 || pg->dtype != nd->dtype)
            continue;
        if (mk->kind != NODE_OP || mk->op != DAGL_OP_GT || mk->nsrc != 1 || !mk->p.has_scalar || mk->p.scalar_first ||
            mk->p.scalar != 0 || mk->src[0] != pg->src[0] || mk->dtype != nd->dtype ||
            g->nodes[pg->src[0]].dtype != nd->dtype)
            continue;
        nd->op = DAGL_OP_MAXPOOL2D_GRAD;
        nd->src[0] = pg->src[0];
        nd->src[1] = pg->src[1];
        nd->p = pg->p;
        nd->fused_act = DAGL_OP_RELU;
        return;
    }
}

/* Whether node nd reads node c as a source. */
static bool reads(const dagl_node *nd, int c)
{
    for (int k = 0; k < nd->nsrc; k++)
        if (nd->src[k] == c) return true;
    return false;
}

/* A max pooling window whose windows do not overlap, the same as `w`. */
static bool same_disjoint(const dagl_window2d *a, const dagl_window2d *w)
{
    if (memcmp(a, w, sizeof *a) != 0) return false;
    return (a->strides[0] ? a->strides[0] : a->size[0]) >= a->size[0] &&
           (a->strides[1] ? a->strides[1] : a->size[1]) >= a->size[1];
}

/* Node c, a fused conv2d+add+relu of a small kernel, read only by max poolings and masked
 * max-pool gradients (as their input) with one non-overlapping window: the poolings become
 * conv2d+...+max_pool2d nodes and the gradients max_pool2d_grad nodes over the recomputed
 * convolution (4 sources: input, kernel, bias, output gradient); c then runs for nobody. */
static void fuse_recompute(dagl_graph *g, int c, const bool *live)
{
    const dagl_node *cv = &g->nodes[c];
    if (!live[c] || !dagl__node_is_fused(cv) || cv->op != DAGL_OP_CONV2D || cv->fused_act != DAGL_OP_RELU ||
        cv->fused_pool != DAGL_OP_NONE || cv->is_output)
        return;
    const dagl_node *k = &g->nodes[cv->src[1]];
    if (k->ndim != 4 || k->shape[0] * k->shape[1] * k->shape[2] > RECOMPUTE_K) return;
    const dagl_window2d *w = NULL;
    int grads = 0;
    for (int u = 0; u < g->n; u++) {
        const dagl_node *nd = &g->nodes[u];
        if (!live[u] || u == c || !reads(nd, c)) continue;
        bool pool = nd->kind == NODE_OP && nd->op == DAGL_OP_MAXPOOL2D && nd->nsrc == 1 && nd->fused_pool == DAGL_OP_NONE;
        bool grad = dagl__node_is_masked_pool_grad(nd) && nd->nsrc == 2 && nd->src[0] == c && nd->src[1] != c;
        if ((!pool && !grad) || nd->dtype != cv->dtype) return;
        if (!w) w = &nd->p.window;
        if (!same_disjoint(&nd->p.window, w)) return;
        grads += grad;
    }
    if (!grads) return;
    for (int u = 0; u < g->n; u++) {
        dagl_node *nd = &g->nodes[u];
        if (!live[u] || u == c || !reads(nd, c)) continue;
        int dy = nd->src[1];
        nd->pool_window = nd->p.window;
        nd->p = cv->p;
        memcpy(nd->src, cv->src, sizeof(int) * 3);
        if (nd->op == DAGL_OP_MAXPOOL2D) {
            nd->op = DAGL_OP_CONV2D;
            nd->nsrc = 3;
            nd->fused_pool = DAGL_OP_MAXPOOL2D;
        } else {
            nd->src[3] = dy;
            nd->nsrc = 4;
        }
        nd->fused_act = DAGL_OP_RELU;
    }
}

dagl_status dagl__graph_fuse(dagl_graph *g)
{
    int n = g->n;
    bool *live = calloc((size_t)n + 1, sizeof *live);
    int *uses = calloc((size_t)n + 1, sizeof *uses), *only = calloc((size_t)n + 1, sizeof *only);
    if (!live || !uses || !only) {
        free(live), free(uses), free(only);
        return dagl_ctx_set_error(g->ctx, DAGL_E_NOMEM, "graph: out of memory fusing %d nodes", n);
    }
    live_uses(g, live, uses, only);
    for (int mm = 0; mm < n; mm++) {
        const dagl_node *m = &g->nodes[mm];
        int a, bias;
        if (!live[mm] || !fusable_matmul(g, m) || uses[mm] != 1 || !bias_add(g, a = only[mm], mm, &bias)) continue;
        int last = a;
        dagl_op act = DAGL_OP_NONE;
        if (!g->nodes[a].is_output && uses[a] == 1 && fusable_act(&g->nodes[only[a]], m->dtype)) {
            last = only[a];
            act = g->nodes[last].op;
        }
        dagl_node *f = &g->nodes[last];
        if (m->op == DAGL_OP_CONV2D) f->p = m->p; /* the window */
        f->op = m->op;
        f->nsrc = 3;
        f->src[0] = m->src[0];
        f->src[1] = m->src[1];
        f->src[2] = bias;
        f->fused_act = act;
    }
    for (int u = 0; u < n; u++) fuse_conv_pool(g, u, live, uses);
    for (int u = 0; u < n; u++) fuse_pool_mask(g, u, live, uses);
    /* the rewrites above changed sources: count the uses again */
    memset(uses, 0, sizeof *uses * ((size_t)n + 1));
    memset(live, 0, sizeof *live * ((size_t)n + 1));
    live_uses(g, live, uses, only);
    for (int c = 0; c < n; c++) fuse_recompute(g, c, live);
    memset(uses, 0, sizeof *uses * ((size_t)n + 1));
    memset(live, 0, sizeof *live * ((size_t)n + 1));
    live_uses(g, live, uses, only);
    dagl_status st = dagl__graph_fuse_ew(g, live, uses);
    free(live), free(uses), free(only);
    return st;
}
