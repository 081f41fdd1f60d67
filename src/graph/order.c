/* order.c -- when the assign nodes of a graph run. An assign overwrites a constant (a weight, an
 * optimizer's state) in place, so it must wait for every node that reads the old value: the
 * forward pass, the gradients and metrics that use the weight. These reads are not sources of
 * the assign, so they become extra ordering edges, which the executor counts like sources. */
#include "graph.h"

#include <stdlib.h>

/* Appends the edge from -> to; false when out of memory. */
static bool push_edge(dagl__edges *e, int from, int to)
{
    if (e->n == e->cap) {
        int nc = e->cap ? e->cap * 2 : 16;
        int *nf = realloc(e->from, sizeof(int) * (size_t)nc);
        if (nf) e->from = nf;
        int *nt = nf ? realloc(e->to, sizeof(int) * (size_t)nc) : NULL;
        if (!nt) return false;
        e->to = nt;
        e->cap = nc;
    }
    e->from[e->n] = from;
    e->to[e->n++] = to;
    return true;
}

/* Whether node s's value may be memory of target root t: s is (a view of) t, or s is a custom
 * node (Lua or C code may return one of its sources, or a view of it) with such a source. */
static bool may_alias(const dagl_graph *g, const int *root, int s, int t)
{
    if (root[s] == t) return true;
    const dagl_node *nd = &g->nodes[root[s]];
    if (nd->kind != NODE_OP || nd->op != DAGL_OP_CUSTOM) return false;
    for (int k = 0; k < nd->nsrc; k++)
        if (may_alias(g, root, nd->src[k], t)) return true;
    return false;
}

/* Whether live node r reads memory of target root t before assign a must write it: a node
 * (not a view: views read nothing, their consumers do) with a source that may alias t. Another
 * assign to the same target is ordered by id instead. */
static bool reads_before(const dagl_graph *g, const int *root, int r, int a, int t)
{
    const dagl_node *nd = &g->nodes[r];
    if (r == a || nd->kind != NODE_OP) return false;
    if (nd->op == DAGL_OP_ASSIGN && root[nd->src[0]] == t) return r < a;
    if (dagl__node_aliases_src(nd)) return false;
    for (int k = 0; k < nd->nsrc; k++)
        if (may_alias(g, root, nd->src[k], t)) return true;
    return false;
}

dagl_status dagl__assign_edges(dagl_graph *g, const bool *live, dagl__edges *out)
{
    int n = g->n;
    int *root = malloc(sizeof(int) * ((size_t)n + 1));
    bool *after = malloc(sizeof(bool) * ((size_t)n + 1));
    if (!root || !after) {
        free(root), free(after);
        return dagl_ctx_set_error(g->ctx, DAGL_E_NOMEM, "graph: out of memory ordering %d nodes", n);
    }
    for (int i = 0; i < n; i++) root[i] = dagl__node_aliases_src(&g->nodes[i]) ? root[g->nodes[i].src[0]] : i;
    dagl_status st = DAGL_OK;
    for (int a = 0; a < n && !st; a++) {
        const dagl_node *an = &g->nodes[a];
        if (!live[a] || an->kind != NODE_OP || an->op != DAGL_OP_ASSIGN) continue;
        /* the nodes that depend on the assign (sources come before their consumers) run after it */
        for (int i = 0; i < n; i++) {
            after[i] = i == a;
            for (int k = 0; i > a && k < g->nodes[i].nsrc && !after[i]; k++) after[i] = after[g->nodes[i].src[k]];
        }
        int t = root[an->src[0]];
        for (int r = 0; r < n && !st; r++)
            if (live[r] && !after[r] && reads_before(g, root, r, a, t) && !push_edge(out, r, a))
                st = dagl_ctx_set_error(g->ctx, DAGL_E_NOMEM, "graph: out of memory ordering %d nodes", n);
    }
    free(root), free(after);
    return st;
}
