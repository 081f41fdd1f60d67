/* fuse.c -- graph rewrites at prepare time (GEMM epilogue fusion). A matmul whose only live
 * consumer adds a 1-D bias along its last dim, optionally followed by relu, tanh or sigmoid as the
 * add's only consumer, becomes one node computing the GEMM and then bias + activation on each row
 * band while it is hot in cache (kernels/matmul.c, epilogue.c), bitwise equal to the three ops.
 * The last node of the chain is rewritten in place, so its consumers, output status and label
 * stay; the matmul and add it absorbed lose their consumers and, not being outputs, never run.
 * They stay in the graph unchanged: nodes added later may use them (they then run again).
 * Then trees of float elementwise ops become one node each (fuse_ew.c). */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A plain float matmul node that may start a chain; its right operand has 2 or more dims, so the
 * result's last dim is the GEMM's columns (a matrix-vector product's is its rows). */
static bool fusable_matmul(const dagl_graph *g, const dagl_node *nd)
{
    return nd->kind == NODE_OP && nd->op == DAGL_OP_MATMUL && nd->nsrc == 2 && !nd->prog && !nd->is_output && nd->ndim >= 1 &&
           (nd->dtype == DAGL_F32 || nd->dtype == DAGL_F64) && g->nodes[nd->src[1]].ndim >= 2;
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
        f->op = DAGL_OP_MATMUL;
        f->nsrc = 3;
        f->src[0] = m->src[0];
        f->src[1] = m->src[1];
        f->src[2] = bias;
        f->fused_act = act;
    }
    /* the rewrites above changed sources: count the uses again */
    memset(uses, 0, sizeof *uses * ((size_t)n + 1));
    memset(live, 0, sizeof *live * ((size_t)n + 1));
    live_uses(g, live, uses, only);
    dagl_status st = dagl__graph_fuse_ew(g, live, uses);
    free(live), free(uses), free(only);
    return st;
}
