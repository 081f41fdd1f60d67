/* plan.c -- what a run of a graph will do, before running it: how many op nodes run (after
 * fusion and dead-node elimination) and the memory their results take under the memory plan
 * (memplan.c), next to the naive sum of one buffer per result. */
#include "graph.h"

dagl_status dagl_graph_plan(dagl_graph *g, dagl_graph_plan_info *out)
{
    if (!g || !out) return DAGL_E_ARG;
    *out = (dagl_graph_plan_info){0};
    dagl_status st = dagl__graph_prepare(g);
    if (st) return st;
    const mem_plan *mp = g->mp;
    out->nodes = mp->nodes;
    out->total_bytes = mp->total_bytes;
    out->arena_bytes = mp->arena_bytes;
    out->peak_bytes = mp->arena_bytes + mp->own_bytes;
    out->planned_nodes = mp->nplanned;
    out->inplace_nodes = mp->ninplace;
    return DAGL_OK;
}

/* The public face of dagl__graph_prepare: embedders (src/embed/) prepare a traced graph once,
 * under their own lock, before sessions on several threads run it. */
dagl_status dagl_graph_prepare(dagl_graph *g)
{
    if (!g) return DAGL_E_ARG;
    return dagl__graph_prepare(g);
}
