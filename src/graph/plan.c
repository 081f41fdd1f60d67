/* plan.c -- what a run of a graph will do, before running it: how many op nodes run (after
 * fusion and dead-node elimination) and a liveness-based estimate of the memory its results
 * take, for a run in node order. */
#include "graph.h"

#include <stdlib.h>

/* Whether the node's result is its first source's memory (a view, or an assign's target). */
static bool is_view(const dagl_node *nd) { return dagl__node_aliases_src(nd); }

/* Walks the live op nodes in id order (sources come first): a node's result is allocated when it
 * runs and freed after the last consumer of it or of a view of it ran, unless it is (or a view of
 * it is) an output. Inputs and constants belong to the caller and are not counted. */
dagl_status dagl_graph_plan(dagl_graph *g, dagl_graph_plan_info *out)
{
    if (!g || !out) return DAGL_E_ARG;
    *out = (dagl_graph_plan_info){0};
    dagl_status st = dagl__graph_prepare(g);
    if (st) return st;
    int n = g->n;
    int *root = malloc(sizeof(int) * ((size_t)n + 1)), *left = calloc((size_t)n + 1, sizeof(int));
    int64_t *bytes = calloc((size_t)n + 1, sizeof(int64_t));
    bool *pinned = calloc((size_t)n + 1, sizeof(bool));
    if (!root || !left || !bytes || !pinned) {
        free(root), free(left), free(bytes), free(pinned);
        return dagl_ctx_set_error(g->ctx, DAGL_E_NOMEM, "graph plan: out of memory for %d nodes", n);
    }
    for (int i = 0; i < n; i++) {
        const dagl_node *nd = &g->nodes[i];
        root[i] = is_view(nd) ? root[nd->src[0]] : i;
        if (nd->kind == NODE_OP && !is_view(nd))
            bytes[i] = dagl__numel(nd->ndim, nd->shape) * (int64_t)dagl_dtype_size(nd->dtype);
        left[root[i]] += g->uses0[i]; /* live consumers only */
        if (nd->is_output) pinned[root[i]] = true;
    }
    int64_t cur = 0;
    for (int i = 0; i < n; i++) {
        const dagl_node *nd = &g->nodes[i];
        bool runs = nd->kind == NODE_OP && g->live[i];
        if (!runs) continue;
        out->nodes++;
        out->total_bytes += bytes[i];
        cur += bytes[i];
        if (cur > out->peak_bytes) out->peak_bytes = cur;
        for (int k = 0; k < nd->nsrc; k++) {
            int r = root[nd->src[k]];
            if (--left[r] == 0 && !pinned[r]) cur -= bytes[r];
        }
    }
    free(root), free(left), free(bytes), free(pinned);
    return DAGL_OK;
}
