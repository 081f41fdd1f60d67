/* graph.h -- the graph IR shared by the builder (graph.c), shape inference (infer.c) and the
 * executor (sched/exec.c). */
#ifndef DAGL_GRAPH_H
#define DAGL_GRAPH_H

#include "core/internal.h"
#include "kernels/kernels.h"

typedef enum node_kind { NODE_INPUT, NODE_CONST, NODE_OP } node_kind;

/* What a custom node (DAGL_OP_CUSTOM) runs. */
typedef struct custom_op {
    dagl_custom_fn fn;
    void *ud;
    void (*free_ud)(void *);
    dagl_lock *lock;
    char *name;          /* shown in traces and errors ("luaop 'name'") */
} custom_op;

typedef struct dagl_node {
    node_kind kind;
    dagl_op op;
    int nsrc;
    int src[DAGL_MAX_SRCS];
    custom_op custom;
    dagl_node_params p;
    dagl_dtype dtype;         /* inferred */
    int ndim;
    int64_t shape[DAGL_MAX_DIMS];
    dagl_tensor *value;       /* constants */
    char *label;              /* layer name, or NULL */
    bool is_output;
    bool urgent;              /* run as soon as ready, before other ready nodes: a collective's
                               * launch and what feeds it (dagl_graph_collective), so the
                               * communication of gradients starts early in backward */
    bool comm;                /* a collective's wait node: its lock is the network's, not the VM
                               * lock, so the trace's VM lock lanes leave it out */
    dagl_op fused_act;        /* a matmul or conv2d fused with a bias add (3 sources, fuse.c): the
                               * activation after it, or DAGL_OP_NONE; a max_pool2d_grad fused with
                               * the mask of the relu before the pooling: DAGL_OP_RELU */
    dagl_op fused_pool;       /* a fused conv2d whose output is then pooled (fuse.c): MAXPOOL2D or
                               * AVGPOOL2D, with the pooling's window; else DAGL_OP_NONE */
    dagl_window2d pool_window;
    dagl__ew_prog *prog;      /* an elementwise node fused with the elementwise ops it reads
                               * (fuse_ew.c): the program its sources feed, or NULL */
    int writes_const;         /* 1 + the id of the constant this node's result is written into (the
                               * target of the assign that stores it, order.c), or 0 */
    _Atomic uint64_t runs;    /* how many times the node ran (dropout_mask: the Philox counter) */
} dagl_node;

/* The memory plan of a prepared graph (memplan.c): where each planned intermediate lives in one
 * arena, which is kept on the graph and reused by every run that finds it free. */
typedef struct mem_plan {
    int64_t *offset;          /* per node: byte offset of its result in the arena, -1 = own memory */
    int64_t arena_bytes;      /* the arena's size */
    int64_t own_bytes;        /* results that get memory of their own (outputs, custom nodes' ...) */
    int64_t total_bytes;      /* every result in memory of its own: the naive sum */
    int nplanned, ninplace, nodes;
    char *arena;              /* made by the first run that uses it */
    dagl_tensor **hdr;        /* per node: the tensor over its arena slot, or NULL */
    atomic_flag busy;         /* held by the run using the arena (runs of one graph may overlap) */
} mem_plan;

struct dagl_graph {
    dagl_ctx *ctx;
    dagl_node *nodes;
    int n, cap;
    int *inputs, ninputs, cap_inputs;
    int *outputs, noutputs, cap_outputs;
    /* consumers in CSR form, rebuilt when nodes were added since the last run */
    int *cons_start, *cons;
    int *nsrc_ops;            /* per node: how many sources are op nodes (the pending count) */
    int *ready0, nready0;     /* op nodes with no op sources */
    int *uses0;               /* per node: consumer count (sources read, not the ordering edges) */
    bool *live;               /* per node: runs (or is an input/constant something running reads) */
    int built_for;            /* node count the arrays were built for, -1 = never */
    int nlive_ops;            /* op nodes a run executes (after fusion and dead-node elimination) */
    bool no_fuse;             /* tests: leave the graph as built */
    mem_plan *mp;             /* built with the consumer lists */
};

/* Whether nd is a fused matmul+add(+act) or conv2d+add(+act) node. */
static inline bool dagl__node_is_fused(const dagl_node *nd)
{
    return (nd->op == DAGL_OP_MATMUL || nd->op == DAGL_OP_CONV2D) && nd->nsrc == 3;
}

/* Whether nd is a max_pool2d_grad fused with a relu's mask (fuse.c). */
static inline bool dagl__node_is_masked_pool_grad(const dagl_node *nd)
{
    return nd->op == DAGL_OP_MAXPOOL2D_GRAD && nd->fused_act == DAGL_OP_RELU;
}

/* The name traces, errors and dumps show: the custom op's, "matmul+add+relu" or
 * "conv2d+add+relu" (+ "+max_pool2d") or "sub+mul+add" for a fused node, "max_pool2d_grad+relu_mask", else the op's. */
static inline const char *dagl__node_name(const dagl_node *nd)
{
    if (nd->op == DAGL_OP_CUSTOM) return nd->custom.name;
    if (nd->prog) return nd->prog->name;
    if (dagl__node_is_masked_pool_grad(nd))
        return nd->nsrc == 4 ? "conv2d+max_pool2d_grad+relu_mask" : "max_pool2d_grad+relu_mask";
    if (!dagl__node_is_fused(nd)) return dagl_op_name(nd->op);
    bool conv = nd->op == DAGL_OP_CONV2D;
    if (conv && nd->fused_pool != DAGL_OP_NONE) {
        bool mx = nd->fused_pool == DAGL_OP_MAXPOOL2D;
        switch (nd->fused_act) {
        case DAGL_OP_RELU: return mx ? "conv2d+add+relu+max_pool2d" : "conv2d+add+relu+avg_pool2d";
        case DAGL_OP_TANH: return mx ? "conv2d+add+tanh+max_pool2d" : "conv2d+add+tanh+avg_pool2d";
        case DAGL_OP_SIGMOID: return mx ? "conv2d+add+sigmoid+max_pool2d" : "conv2d+add+sigmoid+avg_pool2d";
        default: return mx ? "conv2d+add+max_pool2d" : "conv2d+add+avg_pool2d";
        }
    }
    switch (nd->fused_act) {
    case DAGL_OP_RELU: return conv ? "conv2d+add+relu" : "matmul+add+relu";
    case DAGL_OP_TANH: return conv ? "conv2d+add+tanh" : "matmul+add+tanh";
    case DAGL_OP_SIGMOID: return conv ? "conv2d+add+sigmoid" : "matmul+add+sigmoid";
    default: return conv ? "conv2d+add" : "matmul+add";
    }
}

/* Whether nd's value may share memory with its first source: the layout ops (views) and assign
 * (its value is the target). */
static inline bool dagl__node_aliases_src(const dagl_node *nd)
{
    return nd->kind == NODE_OP && (dagl__class_of(nd->op)->mem == DAGL__MEM_VIEW || nd->op == DAGL_OP_ASSIGN);
}

/* The node whose memory node `id`'s value may be, following views and assigns to their target. */
static inline int dagl__alias_root(const dagl_graph *g, int id)
{
    while (dagl__node_aliases_src(&g->nodes[id])) id = g->nodes[id].src[0];
    return id;
}

/* Ordering edges (from must finish before to starts) that are not source edges. */
typedef struct dagl__edges {
    int *from, *to;
    int n, cap;
} dagl__edges;

/* Marks the nodes a run needs: the outputs, the assigns (their effect is the point) and what
 * they depend on. */
DAGL_HIDDEN void dagl__graph_live(const dagl_graph *g, bool *live);
/* The ordering edges of the live assign nodes (order.c): every other live node that reads an
 * assign's target (or a view of it) and does not depend on the assign runs before it; assigns to
 * one target run in the order they were added. Fails when that order has a cycle. */
DAGL_HIDDEN dagl_status dagl__assign_edges(dagl_graph *g, const bool *live, dagl__edges *out);
/* After dagl__assign_edges: marks the value nodes (fused elementwise programs) that write straight
 * into their assign's target constant (writes_const) and moves the target's old-value reads
 * before them (more edges in *e). check_numerics runs leave them writing fresh memory. */
DAGL_HIDDEN dagl_status dagl__assign_inplace(dagl_graph *g, const bool *live, dagl__edges *e);

/* How a node's result relates to memory (infer.c knows the op classes). */
typedef enum dagl_node_mem { NODE_MEM_OPAQUE, NODE_MEM_FRESH, NODE_MEM_VIEW } dagl_node_mem;
DAGL_HIDDEN dagl_node_mem dagl__node_mem(const dagl_node *nd);
/* Whether the node may write its result over a same-shaped, same-dtype source (elementwise). */
DAGL_HIDDEN bool dagl__node_elementwise(const dagl_node *nd);
/* Plans the memory of the prepared graph's intermediates (g->mp), at the end of prepare. */
DAGL_HIDDEN dagl_status dagl__memplan_build(dagl_graph *g);
/* Frees the plan and its arena. */
DAGL_HIDDEN void dagl__memplan_free(dagl_graph *g);
/* The arena tensors of a run (per node, NULL where not planned), or NULL when the run must do
 * without (no plan, or another run holds the arena). *lo, *hi get the arena's byte range. */
DAGL_HIDDEN dagl_tensor **dagl__memplan_acquire(dagl_graph *g, const char **lo, const char **hi);
/* Hands the arena back after a run that acquired it. */
DAGL_HIDDEN void dagl__memplan_release(dagl_graph *g);

/* Rewrites fusable chains (matmul -> bias add -> activation, and trees of elementwise ops) into
 * single nodes before a run. */
DAGL_HIDDEN dagl_status dagl__graph_fuse(dagl_graph *g);
/* The elementwise part of dagl__graph_fuse (fuse_ew.c): each tree of float elementwise nodes of
 * one shape whose inner nodes have no other consumer becomes its root running a program. */
DAGL_HIDDEN dagl_status dagl__graph_fuse_ew(dagl_graph *g, const bool *live, const int *uses);
/* Fills dtype/ndim/shape of node `nd` from its sources; the error names the op and shapes. */
DAGL_HIDDEN dagl_status dagl__infer(dagl_graph *g, dagl_node *nd);
/* (Re)builds the consumer lists and pending counts before a run. */
DAGL_HIDDEN dagl_status dagl__graph_prepare(dagl_graph *g);
/* Runs one op node on its source values with the kernels of the eager API, its result in dst
 * (the node's slot in the memory plan; NULL: fresh memory). */
DAGL_HIDDEN dagl_status dagl__exec_node(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *srcv,
                                        dagl_tensor *dst, dagl_tensor **out);

#endif
