/* order.c -- when the assign nodes of a graph run. An assign overwrites a constant (a weight, an
 * optimizer's state) in place, so it must wait for every node that reads the old value: the
 * forward pass, the gradients and metrics that use the weight. These reads are not sources of
 * the assign, so they become extra ordering edges, which the executor counts like sources.
 * When an assign's value is a fused elementwise program (an optimizer's update) that only this
 * assign stores, the program writes straight into the target instead (dagl__assign_inplace): the
 * reads of the old value then wait for the program, and the assign has nothing left to copy. */
#include "graph.h"

#include <stdlib.h>
#include <string.h>

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

/* Marks in after[] node v and every node that depends on it through sources or the ordering
 * edges so far (edges may point to lower ids: repeat until nothing changes). */
static void descendants(const dagl_graph *g, const bool *live, const dagl__edges *e, int v, bool *after)
{
    int n = g->n;
    memset(after, 0, sizeof(bool) * ((size_t)n + 1));
    after[v] = true;
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = 0; i < n; i++) { /* from 0: an edge may have marked a node below v */
            if (!live[i] || after[i]) continue;
            for (int k = 0; k < g->nodes[i].nsrc; k++)
                if (after[g->nodes[i].src[k]]) {
                    after[i] = changed = true;
                    break;
                }
        }
        for (int k = 0; k < e->n; k++)
            if (after[e->from[k]] && !after[e->to[k]]) after[e->to[k]] = changed = true;
    }
}

/* Whether assign a may have its value node write into its target: the target is a constant
 * (contiguous, of the value's dtype), the only one assign writes, whose memory no other constant
 * of the graph shares; the value a live elementwise program, not an output, whose sources that
 * may be the target's memory are the constant itself (read at the index it writes), read by no
 * view or custom node (which could hand the target itself out as a result). */
static bool inplace_candidate(const dagl_graph *g, const bool *live, const int *root, const int *nassign,
                              const dagl_node *an)
{
    int t = an->src[0], v = an->src[1];
    const dagl_node *tn = &g->nodes[t], *vn = &g->nodes[v];
    if (tn->kind != NODE_CONST || !tn->value || nassign[t] != 1 || vn->kind != NODE_OP || !vn->prog ||
        vn->is_output || vn->writes_const || vn->dtype != tn->dtype || !dagl_tensor_is_contiguous(tn->value) ||
        dagl_tensor_numel(tn->value) != dagl__numel(vn->ndim, vn->shape))
        return false;
    for (int k = 0; k < vn->nsrc; k++)
        if (vn->src[k] != t && may_alias(g, root, vn->src[k], t)) return false;
    const dagl_tensor *blk = dagl__block_owner(tn->value);
    for (int i = 0; i < g->n; i++) {
        const dagl_node *nd = &g->nodes[i];
        if (i != t && nd->kind == NODE_CONST && nd->value && dagl__block_owner(nd->value) == blk) return false;
        if (!live[i] || nd->kind != NODE_OP || nd->op == DAGL_OP_ASSIGN ||
            (nd->op != DAGL_OP_CUSTOM && !dagl__node_aliases_src(nd)))
            continue;
        for (int k = 0; k < nd->nsrc; k++)
            if (nd->src[k] == v) return false;
    }
    return true;
}

dagl_status dagl__assign_inplace(dagl_graph *g, const bool *live, dagl__edges *e)
{
    int n = g->n;
    for (int i = 0; i < n; i++) g->nodes[i].writes_const = 0;
    int *root = malloc(sizeof(int) * ((size_t)n + 1)), *nassign = calloc((size_t)n + 1, sizeof(int));
    bool *after = malloc(sizeof(bool) * ((size_t)n + 1));
    if (!root || !nassign || !after) {
        free(root), free(nassign), free(after);
        return dagl_ctx_set_error(g->ctx, DAGL_E_NOMEM, "graph: out of memory ordering %d nodes", n);
    }
    for (int i = 0; i < n; i++) root[i] = dagl__node_aliases_src(&g->nodes[i]) ? root[g->nodes[i].src[0]] : i;
    for (int a = 0; a < n; a++)
        if (live[a] && g->nodes[a].kind == NODE_OP && g->nodes[a].op == DAGL_OP_ASSIGN) nassign[root[g->nodes[a].src[0]]]++;
    dagl_status st = DAGL_OK;
    for (int a = 0; a < n && !st; a++) {
        const dagl_node *an = &g->nodes[a];
        if (!live[a] || an->kind != NODE_OP || an->op != DAGL_OP_ASSIGN || !inplace_candidate(g, live, root, nassign, an)) continue;
        int v = an->src[1], nedges = e->n;
        /* every reader of the old value must be able to run before v: none may depend on v */
        descendants(g, live, e, v, after);
        bool ok = true;
        for (int k = 0; k < nedges && ok; k++)
            if (e->to[k] == a && e->from[k] != v && after[e->from[k]]) ok = false;
        if (!ok) continue;
        for (int k = 0; k < nedges && !st; k++)
            if (e->to[k] == a && e->from[k] != v && !push_edge(e, e->from[k], v))
                st = dagl_ctx_set_error(g->ctx, DAGL_E_NOMEM, "graph: out of memory ordering %d nodes", n);
        g->nodes[v].writes_const = an->src[0] + 1;
    }
    free(root), free(nassign), free(after);
    return st;
}
