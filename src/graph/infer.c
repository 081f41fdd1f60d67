/* infer.c -- per-op-class shape/dtype inference for graph nodes and the call that runs a node
 * through the eager kernels, so graphs and eager code compute the same thing. */
#include "graph.h"
#include "kernels/kernels.h"
#include "kernels/window2d.h"

#include <string.h>

typedef enum op_class {
    C_NONE, C_UNARY, C_BINARY, C_COMPARE, C_CLAMP, C_WHERE, C_REDUCE, C_MATMUL, C_LAYOUT,
    C_CONCAT, C_SLICE_SCATTER, C_GATHER, C_INDEX_ADD, C_DROPOUT, C_WINDOW, C_SOFTMAX, C_ASSIGN
} op_class;

typedef struct class_info {
    int nsrc;
    dagl_status (*infer)(dagl_graph *g, dagl_node *nd);
    dagl_status (*exec)(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out);
} class_info;

/* The class of each op, by the ranges of the op enum. */
static op_class class_of(dagl_op op)
{
    if (op >= DAGL_OP_NEG && op <= DAGL_OP_ERF) return C_UNARY;
    if (op >= DAGL_OP_ADD && op <= DAGL_OP_MINIMUM) return C_BINARY;
    if (op >= DAGL_OP_EQ && op <= DAGL_OP_GE) return C_COMPARE;
    if (op == DAGL_OP_CLAMP) return C_CLAMP;
    if (op == DAGL_OP_WHERE) return C_WHERE;
    if (op >= DAGL_OP_SUM && op <= DAGL_OP_VAR) return C_REDUCE;
    if (op == DAGL_OP_MATMUL) return C_MATMUL;
    if (op >= DAGL_OP_RESHAPE && op <= DAGL_OP_SLICE) return C_LAYOUT;
    if (op == DAGL_OP_CONCAT) return C_CONCAT;
    if (op == DAGL_OP_SLICE_SCATTER) return C_SLICE_SCATTER;
    if (op == DAGL_OP_GATHER) return C_GATHER;
    if (op == DAGL_OP_INDEX_ADD) return C_INDEX_ADD;
    if (op == DAGL_OP_DROPOUT_MASK) return C_DROPOUT;
    if (op >= DAGL_OP_CONV2D && op <= DAGL_OP_AVGPOOL2D_GRAD) return C_WINDOW;
    if (op == DAGL_OP_SOFTMAX || op == DAGL_OP_LOG_SOFTMAX) return C_SOFTMAX;
    if (op == DAGL_OP_ASSIGN) return C_ASSIGN;
    return C_NONE;
}

/* Source k of a node, for the infer functions, which read their operands' shapes and dtypes. */
static const dagl_node *src_node(const dagl_graph *g, const dagl_node *nd, int k)
{
    return &g->nodes[nd->src[k]];
}

/* A node's shape taken from a tensor (infer_layout's view of the stand-in source). */
static void copy_shape_t(dagl_node *nd, const dagl_tensor *t)
{
    nd->ndim = t->ndim;
    memcpy(nd->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
}

/* A node's shape taken from another node, for ops whose result has their source's shape. */
static void copy_shape(dagl_node *nd, const dagl_node *from)
{
    nd->ndim = from->ndim;
    memcpy(nd->shape, from->shape, sizeof(int64_t) * (size_t)from->ndim);
}

/* Unary math on int64 computes in float32, except sign-preserving ops (as the kernels do). */
static dagl_status infer_unary(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *a = src_node(g, nd, 0);
    copy_shape(nd, a);
    bool keeps_int = nd->op == DAGL_OP_NEG || nd->op == DAGL_OP_ABS || nd->op == DAGL_OP_RELU;
    nd->dtype = a->dtype == DAGL_I64 && !keeps_int ? DAGL_F32 : a->dtype;
    return DAGL_OK;
}

/* The dtype a binary op computes in: promotion, and true division for integers. */
static dagl_dtype binary_dtype(dagl_op op, dagl_dtype a, dagl_dtype b)
{
    dagl_dtype d = dagl_dtype_promote(a, b);
    return d == DAGL_I64 && op == DAGL_OP_DIV ? DAGL_F32 : d;
}

/* Binary and compare nodes: with a scalar operand the source's shape, else the two shapes
 * broadcast; the dtype by binary_dtype (a scalar with an integral value counts as int64). */
static dagl_status infer_binary(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *a = src_node(g, nd, 0);
    if (nd->p.has_scalar) {
        copy_shape(nd, a);
        bool int_scalar = nd->p.scalar == (double)(int64_t)nd->p.scalar;
        nd->dtype = binary_dtype(nd->op, a->dtype, int_scalar ? DAGL_I64 : DAGL_F32);
        return DAGL_OK;
    }
    if (nd->nsrc != 2)
        return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "%s: needs 2 sources or a scalar", dagl_op_name(nd->op));
    const dagl_node *b = src_node(g, nd, 1);
    nd->dtype = binary_dtype(nd->op, a->dtype, b->dtype);
    return dagl__broadcast_shape(g->ctx, dagl_op_name(nd->op), a->ndim, a->shape, b->ndim, b->shape, &nd->ndim,
                                 nd->shape);
}

/* Clamp keeps its source's shape and dtype (the bounds are params, not sources). */
static dagl_status infer_clamp(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *a = src_node(g, nd, 0);
    copy_shape(nd, a);
    nd->dtype = a->dtype;
    return DAGL_OK;
}

/* where(cond, a, b): the three shapes broadcast together; the dtype is a's and b's promoted. */
static dagl_status infer_where(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *c = src_node(g, nd, 0), *a = src_node(g, nd, 1), *b = src_node(g, nd, 2);
    int n1;
    int64_t s1[DAGL_MAX_DIMS];
    dagl_status st = dagl__broadcast_shape(g->ctx, "where", c->ndim, c->shape, a->ndim, a->shape, &n1, s1);
    if (st) return st;
    nd->dtype = dagl_dtype_promote(a->dtype, b->dtype);
    return dagl__broadcast_shape(g->ctx, "where", n1, s1, b->ndim, b->shape, &nd->ndim, nd->shape);
}

/* Reductions: the dims must be in range and distinct; they go away, or stay as 1 with keepdim.
 * argmax/argmin give int64, mean and var of int64 give float32, the others keep the dtype. */
static dagl_status infer_reduce(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *a = src_node(g, nd, 0);
    bool gone[DAGL_MAX_DIMS] = {false};
    const char *name = dagl_op_name(nd->op);
    for (int i = 0; i < nd->p.ndims; i++) {
        int d = dagl__wrap_dim(nd->p.dims[i], a->ndim);
        if (d < 0 || gone[d]) {
            char b[160];
            return dagl_ctx_set_error(g->ctx, DAGL_E_INDEX, "%s: dimension %d is out of range or repeated for shape %s",
                                      name, nd->p.dims[i], dagl_shape_str(a->ndim, a->shape, b, sizeof b));
        }
        gone[d] = true;
    }
    nd->ndim = 0;
    for (int d = 0; d < a->ndim; d++) {
        bool reduced = nd->p.ndims == 0 || gone[d];
        if (!reduced) nd->shape[nd->ndim++] = a->shape[d];
        else if (nd->p.keepdim) nd->shape[nd->ndim++] = 1;
    }
    if (nd->op == DAGL_OP_ARGMAX || nd->op == DAGL_OP_ARGMIN) nd->dtype = DAGL_I64;
    else if ((nd->op == DAGL_OP_MEAN || nd->op == DAGL_OP_VAR) && a->dtype == DAGL_I64) nd->dtype = DAGL_F32;
    else nd->dtype = a->dtype;
    return DAGL_OK;
}

/* NumPy matmul shapes: 1-D operands get a dim added and removed again; batch dims broadcast. */
static dagl_status infer_matmul(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *a = src_node(g, nd, 0), *b = src_node(g, nd, 1);
    char b1[160], b2[160];
    if (a->ndim == 0 || b->ndim == 0)
        return dagl_ctx_set_error(g->ctx, DAGL_E_SHAPE, "matmul: 0-d operand (shapes %s and %s)",
                                  dagl_shape_str(a->ndim, a->shape, b1, sizeof b1),
                                  dagl_shape_str(b->ndim, b->shape, b2, sizeof b2));
    int64_t k1 = a->shape[a->ndim - 1];
    int64_t k2 = b->ndim == 1 ? b->shape[0] : b->shape[b->ndim - 2];
    if (k1 != k2)
        return dagl_ctx_set_error(g->ctx, DAGL_E_SHAPE, "matmul: shapes %s and %s are not aligned (%lld != %lld)",
                                  dagl_shape_str(a->ndim, a->shape, b1, sizeof b1),
                                  dagl_shape_str(b->ndim, b->shape, b2, sizeof b2), (long long)k1, (long long)k2);
    int na = a->ndim > 2 ? a->ndim - 2 : 0, nb = b->ndim > 2 ? b->ndim - 2 : 0;
    dagl_status st = dagl__broadcast_shape(g->ctx, "matmul", na, a->shape, nb, b->shape, &nd->ndim, nd->shape);
    if (st) return st;
    if (a->ndim >= 2) nd->shape[nd->ndim++] = a->shape[a->ndim - 2];
    if (b->ndim >= 2) nd->shape[nd->ndim++] = b->shape[b->ndim - 1];
    nd->dtype = dagl_dtype_promote(a->dtype, b->dtype);
    return DAGL_OK;
}

/* Layout nodes: the shape comes from running the view on a header-only stand-in of the source,
 * so graph and eager code share one set of shape rules and messages. */
static dagl_status infer_layout(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *a = src_node(g, nd, 0);
    dagl_tensor probe = {.dtype = a->dtype, .ndim = a->ndim, .numel = dagl__numel(a->ndim, a->shape)};
    atomic_init(&probe.refs, 1);
    memcpy(probe.shape, a->shape, sizeof(int64_t) * (size_t)a->ndim);
    dagl__contig_strides(a->ndim, a->shape, probe.strides);
    probe.memp = g->ctx->mem;
    probe.cls = -1;
    probe.contiguous = true;
    dagl_tensor *v = NULL;
    dagl_status st = dagl__layout(g->ctx, nd->op, &nd->p, &probe, &v);
    if (st) return st;
    nd->dtype = v->dtype;
    copy_shape_t(nd, v);
    dagl_tensor_release(v);
    return DAGL_OK;
}

/* Runs a layout node through the same dagl__layout call its shape was inferred with. */
static dagl_status exec_layout(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out)
{
    return dagl__layout(ctx, nd->op, &nd->p, v[0], out);
}

/* A unary node, or a chain of them that fuse.c merged into one (run block by block). */
static dagl_status exec_unary(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out)
{
    if (nd->nchain > 0) return dagl__unary_chain(ctx, nd->chain, nd->nchain, v[0], out);
    return dagl_unary(ctx, nd->op, v[0], out);
}

/* A binary or compare node: a scalar operand on either side, or two tensors. */
static dagl_status exec_binary(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out)
{
    if (nd->p.has_scalar) return dagl_binary_scalar(ctx, nd->op, v[0], nd->p.scalar, nd->p.scalar_first, out);
    return dagl_binary(ctx, nd->op, v[0], v[1], out);
}

/* A clamp node, with the bounds kept in its params. */
static dagl_status exec_clamp(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out)
{
    return dagl_clamp(ctx, v[0], nd->p.lo, nd->p.hi, out);
}

/* A where node: sources cond, a, b in that order. */
static dagl_status exec_where(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out)
{
    return dagl_where(ctx, v[0], v[1], v[2], out);
}

/* A reduction node: dims, keepdim and correction from its params. */
static dagl_status exec_reduce(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out)
{
    return dagl_reduce(ctx, nd->op, v[0], nd->p.dims, nd->p.ndims, nd->p.keepdim, nd->p.correction, out);
}

/* A matmul node, or one fuse.c gave a bias and an activation (three sources, one GEMM with epilogue). */
static dagl_status exec_matmul(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out)
{
    if (dagl__node_is_fused(nd)) return dagl__matmul_epilogue(ctx, v[0], v[1], v[2], nd->fused_act, out);
    return dagl_matmul(ctx, v[0], v[1], out);
}

/* A node as the kernels' shape checks take it, so graph inference and eager calls share the checks. */
static dagl__shape_ref ref_of(const dagl_node *n) { return (dagl__shape_ref){n->dtype, n->ndim, n->shape}; }

/* Joins and indexing: the shape rules live with the kernels (concat.c, gather.c). */
static dagl_status infer_concat(dagl_graph *g, dagl_node *nd)
{
    dagl__shape_ref in[DAGL_MAX_SRCS];
    for (int k = 0; k < nd->nsrc; k++) in[k] = ref_of(src_node(g, nd, k));
    nd->dtype = in[0].dtype;
    return dagl__concat_shape(g->ctx, nd->nsrc, in, nd->p.axis, &nd->ndim, nd->shape);
}

/* A concat node: all its sources joined along params.axis. */
static dagl_status exec_concat(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out)
{
    return dagl_concat(ctx, nd->nsrc, (const dagl_tensor *const *)v, nd->p.axis, out);
}

/* slice_scatter(src): the result has params.shape; the kernel's check validates src against it. */
static dagl_status infer_slice_scatter(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *a = src_node(g, nd, 0);
    dagl_status st = dagl__slice_scatter_check(g->ctx, ref_of(a), nd->p.nshape, nd->p.shape, nd->p.axis, nd->p.start,
                                               nd->p.step);
    if (st) return st;
    nd->dtype = a->dtype;
    nd->ndim = nd->p.nshape;
    memcpy(nd->shape, nd->p.shape, sizeof(int64_t) * (size_t)nd->ndim);
    return DAGL_OK;
}

/* A slice_scatter node: src written into zeros of params.shape. */
static dagl_status exec_slice_scatter(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out)
{
    return dagl_slice_scatter(ctx, v[0], nd->p.nshape, nd->p.shape, nd->p.axis, nd->p.start, nd->p.step, out);
}

/* gather(table, idx) */
static dagl_status infer_gather(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *t = src_node(g, nd, 0);
    nd->dtype = t->dtype;
    return dagl__gather_shape(g->ctx, ref_of(t), ref_of(src_node(g, nd, 1)), &nd->ndim, nd->shape);
}

/* A gather node: rows of the table picked by idx, counted from params.index_base. */
static dagl_status exec_gather(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out)
{
    return dagl_gather(ctx, v[0], v[1], nd->p.index_base, out);
}

/* index_add(src, idx): the table's row count is shape[0] of the params. */
static dagl_status infer_index_add(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *s = src_node(g, nd, 0);
    nd->dtype = s->dtype;
    if (nd->p.nshape < 1)
        return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "index_add: the table's row count (shape[0]) is missing");
    return dagl__index_add_shape(g->ctx, ref_of(s), ref_of(src_node(g, nd, 1)), nd->p.shape[0], &nd->ndim,
                                 nd->shape);
}

/* An index_add node: the table's row count is params.shape[0]. */
static dagl_status exec_index_add(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out)
{
    return dagl_index_add(ctx, v[0], v[1], nd->p.shape[0], nd->p.index_base, out);
}

/* dropout_mask(x): a mask of x's shape and dtype; x's values are not read. */
static dagl_status infer_dropout(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *a = src_node(g, nd, 0);
    copy_shape(nd, a);
    nd->dtype = a->dtype;
    return dagl__dropout_check(g->ctx, a->dtype, nd->p.rate);
}

/* The node's run count is its counter: the one piece of state a node keeps across runs
 * (atomic, though a node runs once per run, since runs of one graph may overlap). */
static dagl_status exec_dropout(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out)
{
    uint64_t run = atomic_fetch_add(&((dagl_node *)nd)->runs, 1);
    return dagl_dropout_mask(ctx, v[0]->dtype, v[0]->ndim, v[0]->shape, nd->p.rate, nd->p.seed, run, out);
}

/* conv2d, pooling and their gradients: window2d.c checks the sources as the kernels do. */
static dagl_status infer_window(dagl_graph *g, dagl_node *nd)
{
    int arity = nd->op == DAGL_OP_MAXPOOL2D || nd->op == DAGL_OP_AVGPOOL2D ? 1 : 2;
    if (nd->nsrc != arity)
        return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "%s: takes %d sources, got %d", dagl_op_name(nd->op), arity,
                                  nd->nsrc);
    int nds[2];
    const int64_t *shp[2];
    dagl_dtype dts[2];
    for (int k = 0; k < arity; k++) {
        const dagl_node *s = src_node(g, nd, k);
        nds[k] = s->ndim, shp[k] = s->shape, dts[k] = s->dtype;
    }
    const int64_t *pshape = NULL;
    if (nd->op == DAGL_OP_CONV2D_GRAD_INPUT || nd->op == DAGL_OP_CONV2D_GRAD_KERNEL) {
        if (nd->p.nshape != 4)
            return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "%s: params.shape must be the forward operand's shape (4 dims)",
                                      dagl_op_name(nd->op));
        pshape = nd->p.shape;
    }
    struct win2d geo;
    nd->ndim = 4;
    return dagl__win2d_infer(g->ctx, nd->op, &nd->p.window, pshape, nds, shp, dts, &geo, nd->shape, &nd->dtype);
}

/* Window nodes: conv2d and its two gradients, pooling, or the pooling gradients, by op. */
static dagl_status exec_window(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out)
{
    const dagl_window2d *w = &nd->p.window;
    switch (nd->op) {
    case DAGL_OP_CONV2D: return dagl_conv2d(ctx, v[0], v[1], w, out);
    case DAGL_OP_CONV2D_GRAD_INPUT: return dagl_conv2d_grad_input(ctx, v[0], v[1], nd->p.shape, w, out);
    case DAGL_OP_CONV2D_GRAD_KERNEL: return dagl_conv2d_grad_kernel(ctx, v[0], v[1], nd->p.shape, w, out);
    case DAGL_OP_MAXPOOL2D: case DAGL_OP_AVGPOOL2D: return dagl_pool2d(ctx, nd->op, v[0], w, out);
    default: return dagl_pool2d_grad(ctx, nd->op, v[0], v[1], w, out);
    }
}

/* softmax / log_softmax along params.axis: the input's shape, float (int64 computes in float32). */
static dagl_status infer_softmax(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *a = src_node(g, nd, 0);
    int ax = nd->p.axis;
    if (!(a->ndim == 0 && (ax == 0 || ax == -1)) && dagl__wrap_dim(ax, a->ndim) < 0) {
        char b[160];
        return dagl_ctx_set_error(g->ctx, DAGL_E_INDEX, "%s: dimension %d is out of range for shape %s",
                                  dagl_op_name(nd->op), ax, dagl_shape_str(a->ndim, a->shape, b, sizeof b));
    }
    copy_shape(nd, a);
    nd->dtype = a->dtype == DAGL_I64 ? DAGL_F32 : a->dtype;
    return DAGL_OK;
}

/* A softmax or log_softmax node along params.axis. */
static dagl_status exec_softmax(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out)
{
    return dagl_softmax(ctx, nd->op, v[0], nd->p.axis, out);
}

/* assign(target, value): the target is a constant or a view of one (what the executor keeps for
 * the whole run and never frees), the value has its dtype and shape; the node's value is the
 * target. */
static dagl_status infer_assign(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *t = src_node(g, nd, 0), *v = src_node(g, nd, 1);
    int root = dagl__alias_root(g, nd->src[0]);
    if (g->nodes[root].kind != NODE_CONST)
        return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "assign: the target (node %d, %s) must be a constant of the "
                                  "graph (a captured tensor) or a view of one", nd->src[0],
                                  g->nodes[root].kind == NODE_INPUT ? "an input" : dagl__node_name(&g->nodes[root]));
    nd->dtype = t->dtype;
    copy_shape(nd, t);
    return dagl__assign_check(g->ctx, ref_of(t), ref_of(v));
}

/* An assign node: writes the value into the target in place; the target (retained) is the node's value. */
static dagl_status exec_assign(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *v, dagl_tensor **out)
{
    (void)nd;
    dagl_status st = dagl_assign(ctx, v[0], v[1]);
    if (st) return st;
    dagl_tensor_retain(v[0]);
    *out = v[0];
    return DAGL_OK;
}

static const class_info classes[] = {
    [C_NONE] = {0, NULL, NULL},
    [C_UNARY] = {1, infer_unary, exec_unary},
    [C_BINARY] = {0, infer_binary, exec_binary}, /* 1 with a scalar, else 2 */
    [C_COMPARE] = {0, infer_binary, exec_binary},
    [C_CLAMP] = {1, infer_clamp, exec_clamp},
    [C_WHERE] = {3, infer_where, exec_where},
    [C_REDUCE] = {1, infer_reduce, exec_reduce},
    [C_MATMUL] = {2, infer_matmul, exec_matmul},
    [C_LAYOUT] = {1, infer_layout, exec_layout},
    [C_CONCAT] = {0, infer_concat, exec_concat}, /* 1 to DAGL_MAX_SRCS */
    [C_SLICE_SCATTER] = {1, infer_slice_scatter, exec_slice_scatter},
    [C_GATHER] = {2, infer_gather, exec_gather},
    [C_INDEX_ADD] = {2, infer_index_add, exec_index_add},
    [C_DROPOUT] = {1, infer_dropout, exec_dropout},
    [C_WINDOW] = {0, infer_window, exec_window}, /* 1 or 2 by op */
    [C_SOFTMAX] = {1, infer_softmax, exec_softmax},
    [C_ASSIGN] = {2, infer_assign, exec_assign},
};
_Static_assert(sizeof classes / sizeof *classes == C_ASSIGN + 1, "one entry per op class");

dagl_status dagl__infer(dagl_graph *g, dagl_node *nd)
{
    const class_info *ci = &classes[class_of(nd->op)];
    if (!ci->infer) return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "graph: op %s cannot be a node", dagl_op_name(nd->op));
    if (ci->nsrc && nd->nsrc != ci->nsrc)
        return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "%s: takes %d sources, got %d", dagl_op_name(nd->op), ci->nsrc,
                                  nd->nsrc);
    return ci->infer(g, nd);
}

dagl_status dagl__exec_node(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *srcv, dagl_tensor **out)
{
    return classes[class_of(nd->op)].exec(ctx, nd, srcv, out);
}

/* The memory planner (memplan.c) needs to know, per node, whether its result is fresh memory the
 * kernel allocates (so it can live in the run's arena), a view of its first source, or anything
 * else (custom nodes, and classes not listed here, such as ops added later that may write into
 * or return their sources: their sources and results are never planned). */
dagl_node_mem dagl__node_mem(const dagl_node *nd)
{
    if (nd->kind != NODE_OP || nd->op == DAGL_OP_CUSTOM) return NODE_MEM_OPAQUE;
    switch (class_of(nd->op)) {
    case C_LAYOUT: return NODE_MEM_VIEW;
    case C_UNARY: case C_BINARY: case C_COMPARE: case C_CLAMP: case C_WHERE: case C_REDUCE: case C_MATMUL:
    case C_CONCAT: case C_SLICE_SCATTER: case C_GATHER: case C_INDEX_ADD: case C_DROPOUT: case C_WINDOW:
    case C_SOFTMAX: return NODE_MEM_FRESH;
    default: return NODE_MEM_OPAQUE;
    }
}

/* In-place execution is only safe for kernels whose output element i is computed from element i
 * of each same-shaped source and nothing else, read before it is written (unary ops and their
 * fused chains, binary and compare ops, clamp). */
bool dagl__node_elementwise(const dagl_node *nd)
{
    if (nd->kind != NODE_OP || nd->op == DAGL_OP_CUSTOM) return false;
    op_class c = class_of(nd->op);
    return c == C_UNARY || c == C_BINARY || c == C_COMPARE || c == C_CLAMP;
}
