/* graph.c -- building graphs: inputs, constants, op nodes (shapes inferred on the way in),
 * labels, outputs, the consumer lists the executor needs, and the Graphviz dump. */
#include "graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dagl_status dagl_graph_new(dagl_ctx *ctx, dagl_graph **out)
{
    dagl_graph *g = calloc(1, sizeof *g);
    *out = g;
    if (!g) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "graph: out of memory");
    g->ctx = ctx;
    g->built_for = -1;
    return DAGL_OK;
}

/* Drops what dagl__graph_prepare built (consumer lists, live set, memory plan) and marks the graph
 * unprepared, so the next run or plan rebuilds it for the graph as it is then. */
static void free_prepared(dagl_graph *g)
{
    free(g->cons_start);
    free(g->cons);
    free(g->nsrc_ops);
    free(g->ready0);
    free(g->uses0);
    free(g->live);
    g->cons_start = g->cons = g->nsrc_ops = g->ready0 = g->uses0 = NULL;
    g->live = NULL;
    dagl__memplan_free(g);
    g->built_for = -1;
}

/* Frees the nodes with what they own (constants' references, labels, custom nodes' data through
 * free_ud), then the prepared state. */
void dagl_graph_free(dagl_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n; i++) {
        dagl_tensor_release(g->nodes[i].value);
        free(g->nodes[i].label);
        if (g->nodes[i].custom.free_ud) g->nodes[i].custom.free_ud(g->nodes[i].custom.ud);
        free(g->nodes[i].custom.name);
        free(g->nodes[i].prog);
    }
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free_prepared(g);
    free(g);
}

/* Grows an int array by one slot. */
static bool push_int(int **arr, int *n, int *cap, int v)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        int *na = realloc(*arr, sizeof *na * (size_t)nc);
        if (!na) return false;
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = v;
    return true;
}

/* A zeroed node at the end, or NULL when out of memory. */
static dagl_node *new_node(dagl_graph *g, node_kind kind)
{
    if (g->n == g->cap) {
        int nc = g->cap ? g->cap * 2 : 16;
        dagl_node *nn = realloc(g->nodes, sizeof *nn * (size_t)nc);
        if (!nn) {
            dagl_ctx_set_error(g->ctx, DAGL_E_NOMEM, "graph: out of memory adding node %d", g->n);
            return NULL;
        }
        g->nodes = nn;
        g->cap = nc;
    }
    dagl_node *nd = &g->nodes[g->n];
    memset(nd, 0, sizeof *nd);
    nd->kind = kind;
    return nd;
}

dagl_status dagl_graph_input(dagl_graph *g, dagl_dtype dt, int ndim, const int64_t *shape, int *id)
{
    dagl_status st = dagl__check_shape(g->ctx, "graph_input", ndim, shape);
    if (st) return st;
    dagl_node *nd = new_node(g, NODE_INPUT);
    if (!nd) return DAGL_E_NOMEM;
    if (!push_int(&g->inputs, &g->ninputs, &g->cap_inputs, g->n))
        return dagl_ctx_set_error(g->ctx, DAGL_E_NOMEM, "graph: out of memory");
    nd->dtype = dt;
    nd->ndim = ndim;
    memcpy(nd->shape, shape, sizeof(int64_t) * (size_t)ndim);
    *id = g->n++;
    return DAGL_OK;
}

dagl_status dagl_graph_constant(dagl_graph *g, dagl_tensor *t, int *id)
{
    dagl_node *nd = new_node(g, NODE_CONST);
    if (!nd) return DAGL_E_NOMEM;
    dagl_tensor_retain(t);
    nd->value = t;
    nd->dtype = t->dtype;
    nd->ndim = t->ndim;
    memcpy(nd->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    *id = g->n++;
    return DAGL_OK;
}

/* Checks source ids of a new node; the error names the op. */
static dagl_status check_srcs(dagl_graph *g, const char *what, int nsrc, const int *srcs, int max)
{
    if (nsrc < 1 || nsrc > max)
        return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "%s: %d sources (1 to %d allowed)", what, nsrc, max);
    for (int i = 0; i < nsrc; i++)
        if (srcs[i] < 0 || srcs[i] >= g->n)
            return dagl_ctx_set_error(g->ctx, DAGL_E_INDEX, "%s: source %d is node %d, which does not exist", what,
                                      i + 1, srcs[i]);
    return DAGL_OK;
}

dagl_status dagl_graph_node(dagl_graph *g, dagl_op op, int nsrc, const int *srcs,
                            const dagl_node_params *p, int *id)
{
    if ((unsigned)op >= DAGL_OP_COUNT || op == DAGL_OP_NONE)
        return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "graph_node: unknown op %d", (int)op);
    if (op == DAGL_OP_CUSTOM)
        return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "graph_node: custom nodes are added by dagl_graph_custom");
    dagl_status st = check_srcs(g, dagl_op_name(op), nsrc, srcs, op == DAGL_OP_CONCAT ? DAGL_MAX_SRCS : 3);
    if (st) return st;
    dagl_node *nd = new_node(g, NODE_OP);
    if (!nd) return DAGL_E_NOMEM;
    nd->op = op;
    nd->nsrc = nsrc;
    memcpy(nd->src, srcs, sizeof(int) * (size_t)nsrc);
    if (p) nd->p = *p;
    else dagl_node_params_init(&nd->p);
    st = dagl__infer(g, nd);
    /* a result too large to count its bytes (an expand to a huge shape) fails here, not in the
     * memory plan's arithmetic */
    if (!st) st = dagl__check_shape(g->ctx, dagl_op_name(op), nd->ndim, nd->shape);
    if (st) return st;
    *id = g->n++;
    return DAGL_OK;
}

dagl_status dagl_graph_custom(dagl_graph *g, const char *name, int nsrc, const int *srcs, dagl_dtype dt, int ndim,
                              const int64_t *shape, dagl_custom_fn fn, void *ud, void (*free_ud)(void *),
                              dagl_lock *lock, int *id)
{
    const char *what = name ? name : "custom";
    dagl_status st = check_srcs(g, what, nsrc, srcs, DAGL_MAX_SRCS);
    if (!st) st = dagl__check_shape(g->ctx, what, ndim, shape);
    if (!st && (!fn || (unsigned)dt >= DAGL_DTYPE_COUNT))
        st = dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "%s: no function or a bad dtype", what);
    dagl_node *nd = st ? NULL : new_node(g, NODE_OP);
    if (!nd) {
        if (free_ud) free_ud(ud); /* the graph owns ud from the call on, even when it fails */
        return st ? st : DAGL_E_NOMEM;
    }
    nd->op = DAGL_OP_CUSTOM;
    nd->nsrc = nsrc;
    memcpy(nd->src, srcs, sizeof(int) * (size_t)nsrc);
    nd->custom = (custom_op){fn, ud, free_ud, lock, strdup(what)};
    if (!nd->custom.name) {
        if (free_ud) free_ud(ud);
        return dagl_ctx_set_error(g->ctx, DAGL_E_NOMEM, "%s: out of memory", what);
    }
    nd->dtype = dt;
    nd->ndim = ndim;
    memcpy(nd->shape, shape, sizeof(int64_t) * (size_t)ndim);
    *id = g->n++;
    return DAGL_OK;
}

dagl_status dagl_graph_set_label(dagl_graph *g, int id, const char *label)
{
    if (id < 0 || id >= g->n) return dagl_ctx_set_error(g->ctx, DAGL_E_INDEX, "graph: no node %d", id);
    char *copy = label ? strdup(label) : NULL;
    if (label && !copy) return dagl_ctx_set_error(g->ctx, DAGL_E_NOMEM, "graph: out of memory");
    free(g->nodes[id].label);
    g->nodes[id].label = copy;
    return DAGL_OK;
}

dagl_status dagl_graph_output(dagl_graph *g, int id)
{
    if (id < 0 || id >= g->n) return dagl_ctx_set_error(g->ctx, DAGL_E_INDEX, "graph: no node %d", id);
    if (!push_int(&g->outputs, &g->noutputs, &g->cap_outputs, id))
        return dagl_ctx_set_error(g->ctx, DAGL_E_NOMEM, "graph: out of memory");
    g->nodes[id].is_output = true;
    g->built_for = -1; /* what is live depends on the outputs */
    return DAGL_OK;
}

/* Sizes of the graph: all its nodes (inputs and constants included), and the inputs and outputs a
 * run takes and gives. */
int dagl_graph_num_nodes(const dagl_graph *g) { return g->n; }
int dagl_graph_num_inputs(const dagl_graph *g) { return g->ninputs; }
int dagl_graph_num_outputs(const dagl_graph *g) { return g->noutputs; }

dagl_status dagl_graph_node_info(const dagl_graph *g, int id, dagl_dtype *dt, int *ndim,
                                 const int64_t **shape)
{
    if (id < 0 || id >= g->n) return DAGL_E_INDEX;
    const dagl_node *nd = &g->nodes[id];
    if (dt) *dt = nd->dtype;
    if (ndim) *ndim = nd->ndim;
    if (shape) *shape = nd->shape;
    return DAGL_OK;
}

/* Dead-node elimination's marking: a node runs when an output or an assign (a side effect no
 * output shows) depends on it. */
void dagl__graph_live(const dagl_graph *g, bool *live)
{
    for (int i = 0; i < g->noutputs; i++) live[g->outputs[i]] = true;
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i].kind == NODE_OP && g->nodes[i].op == DAGL_OP_ASSIGN) live[i] = true;
    for (int i = g->n - 1; i >= 0; i--) /* sources have smaller ids */
        if (live[i])
            for (int k = 0; k < g->nodes[i].nsrc; k++) live[g->nodes[i].src[k]] = true;
}

/* Kahn's walk over the prepared consumer lists: false when some live op node never becomes
 * ready (the ordering edges of assigns made a cycle); *stuck gets one such node. */
static bool acyclic(const dagl_graph *g, int *stuck)
{
    int n = g->n, *pending = malloc(sizeof(int) * ((size_t)n + 1)), *queue = malloc(sizeof(int) * ((size_t)n + 1));
    if (!pending || !queue) { /* cannot check: the run would tell */
        free(pending), free(queue);
        return true;
    }
    memcpy(pending, g->nsrc_ops, sizeof(int) * (size_t)n);
    memcpy(queue, g->ready0, sizeof(int) * (size_t)g->nready0);
    int head = 0, tail = g->nready0;
    while (head < tail) {
        int id = queue[head++];
        for (int c = g->cons_start[id]; c < g->cons_start[id + 1]; c++)
            if (--pending[g->cons[c]] == 0) queue[tail++] = g->cons[c];
    }
    *stuck = -1;
    for (int i = 0; i < n && *stuck < 0; i++)
        if (g->live[i] && g->nodes[i].kind == NODE_OP && pending[i] > 0) *stuck = i;
    free(pending), free(queue);
    return tail == g->nlive_ops;
}

/* Fills the consumer lists (CSR) from the live nodes' sources and the ordering edges, the
 * pending count of op sources of each node and the nodes ready at start. */
static void fill_consumers(dagl_graph *g, const dagl__edges *ctl)
{
    int n = g->n;
    for (int i = 0; i < n; i++)
        if (g->live[i])
            for (int k = 0; k < g->nodes[i].nsrc; k++) g->cons_start[g->nodes[i].src[k] + 1]++;
    for (int e = 0; e < ctl->n; e++) g->cons_start[ctl->from[e] + 1]++;
    for (int i = 0; i < n; i++) g->cons_start[i + 1] += g->cons_start[i];
    int *cur = g->uses0; /* a cursor per node while filling, the consumer count after */
    for (int i = 0; i < n; i++) {
        const dagl_node *nd = &g->nodes[i];
        if (!g->live[i]) continue;
        for (int k = 0; k < nd->nsrc; k++) {
            int s = nd->src[k];
            g->cons[g->cons_start[s] + cur[s]++] = i;
            if (g->nodes[s].kind == NODE_OP) g->nsrc_ops[i]++;
        }
    }
    for (int e = 0; e < ctl->n; e++) {
        g->cons[g->cons_start[ctl->from[e]] + cur[ctl->from[e]]++] = ctl->to[e];
        g->nsrc_ops[ctl->to[e]]++;
    }
    memset(g->uses0, 0, sizeof(int) * ((size_t)n + 1));
    for (int i = 0; i < n; i++)
        if (g->live[i])
            for (int k = 0; k < g->nodes[i].nsrc; k++) g->uses0[g->nodes[i].src[k]]++;
    g->nready0 = 0;
    g->nlive_ops = 0;
    for (int i = 0; i < n; i++) g->nlive_ops += g->live[i] && g->nodes[i].kind == NODE_OP;
    for (int i = 0; i < n; i++)
        if (g->live[i] && g->nodes[i].kind == NODE_OP && g->nsrc_ops[i] == 0) g->ready0[g->nready0++] = i;
}

/* Consumer lists of the nodes a run needs (outputs, assigns and what they depend on), with the
 * ordering edges of the assigns. Dead nodes get no consumers and never run. */
dagl_status dagl__graph_prepare(dagl_graph *g)
{
    if (g->built_for == g->n) return DAGL_OK;
    free_prepared(g);
    dagl_status fst = g->no_fuse ? DAGL_OK : dagl__graph_fuse(g);
    if (fst) return fst;
    int n = g->n;
    size_t edges = 0;
    for (int i = 0; i < n; i++) edges += (size_t)g->nodes[i].nsrc;
    g->live = calloc((size_t)n + 1, sizeof(bool));
    dagl__edges ctl = {0};
    dagl_status st = g->live ? DAGL_OK : DAGL_E_NOMEM;
    if (!st) {
        dagl__graph_live(g, g->live);
        st = dagl__assign_edges(g, g->live, &ctl);
        if (!st) st = dagl__assign_inplace(g, g->live, &ctl);
    }
    if (!st) {
        g->cons_start = calloc((size_t)n + 1, sizeof(int));
        g->cons = malloc(sizeof(int) * (edges + (size_t)ctl.n + 1));
        g->nsrc_ops = calloc((size_t)n + 1, sizeof(int));
        g->ready0 = malloc(sizeof(int) * ((size_t)n + 1));
        g->uses0 = calloc((size_t)n + 1, sizeof(int));
        if (!g->cons_start || !g->cons || !g->nsrc_ops || !g->ready0 || !g->uses0) st = DAGL_E_NOMEM;
    }
    if (st) {
        free(ctl.from), free(ctl.to);
        free_prepared(g);
        return st == DAGL_E_NOMEM ? dagl_ctx_set_error(g->ctx, st, "graph: out of memory preparing %d nodes", n) : st;
    }
    fill_consumers(g, &ctl);
    int stuck;
    bool ok = ctl.n == 0 || acyclic(g, &stuck);
    free(ctl.from), free(ctl.to);
    if (!ok) {
        free_prepared(g);
        return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "assign: node %%%d (%s) cannot be ordered: the assigns of the "
                                  "graph and the reads of their targets wait for each other (for example one node reads "
                                  "the new a and the old b, another the new b and the old a)", stuck, dagl__node_name(&g->nodes[stuck]));
    }
    st = dagl__memplan_build(g);
    if (st) {
        free_prepared(g);
        return st;
    }
    g->built_for = n;
    return DAGL_OK;
}

/* Appends printf output to a growing buffer; false when out of memory. */
static bool appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (k < 0) return false;
        if (*len + (size_t)k < *cap) {
            *len += (size_t)k;
            return true;
        }
        size_t nc = (*cap + (size_t)k) * 2;
        char *nb = realloc(*buf, nc);
        if (!nb) return false;
        *buf = nb;
        *cap = nc;
    }
}

char *dagl_graph_dot(const dagl_graph *g)
{
    size_t len = 0, cap = 256;
    char *buf = malloc(cap), shp[160];
    if (!buf) return NULL;
    bool ok = appendf(&buf, &len, &cap, "digraph dagl {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n");
    bool prepared = g->built_for == g->n && g->live;
    for (int i = 0; ok && i < g->n; i++) {
        const dagl_node *nd = &g->nodes[i];
        const char *what = nd->kind == NODE_INPUT ? "input" : nd->kind == NODE_CONST ? "const" : dagl__node_name(nd);
        bool dead = prepared && nd->kind == NODE_OP && !g->live[i]; /* fused away or needed by nothing */
        ok = appendf(&buf, &len, &cap, "  n%d [label=\"%%%d %s%s%s\\n%s %s\"%s%s];\n", i, i, what,
                     nd->label ? " @" : "", nd->label ? nd->label : "", dagl_dtype_name(nd->dtype),
                     dagl_shape_str(nd->ndim, nd->shape, shp, sizeof shp),
                     nd->is_output ? ", peripheries=2" : nd->kind != NODE_OP ? ", style=rounded" : "",
                     dead ? ", style=dashed, color=gray, fontcolor=gray" : "");
        for (int k = 0; ok && k < nd->nsrc; k++)
            ok = appendf(&buf, &len, &cap, "  n%d -> n%d%s;\n", nd->src[k], i, dead ? " [color=gray]" : "");
    }
    /* ordering edges of a prepared graph (an assign waits for the reads of its target): consumers
     * that are not also a source's consumer by a source edge */
    for (int i = 0; ok && prepared && i < g->n; i++)
        for (int c = g->cons_start[i]; ok && c < g->cons_start[i + 1]; c++) {
            const dagl_node *to = &g->nodes[g->cons[c]];
            bool src = false;
            for (int k = 0; k < to->nsrc && !src; k++) src = to->src[k] == i;
            if (!src) ok = appendf(&buf, &len, &cap, "  n%d -> n%d [style=dashed, label=\"before\"];\n", i, g->cons[c]);
        }
    if (ok) ok = appendf(&buf, &len, &cap, "}\n");
    if (!ok) {
        free(buf);
        return NULL;
    }
    return buf;
}
