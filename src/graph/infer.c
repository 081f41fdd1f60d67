/* infer.c -- per-op-class shape inference for graph nodes (the class comes from the op list), and
 * the call that runs a node through dagl_op_apply, the eager dispatch, so graphs and eager code
 * compute the same thing. Dtypes come from the op list's rule (dagl_op_result_dtype); shape
 * checks are the kernels' own (dagl__reduce_shape, dagl__matmul_shape, ...). */
#include "graph.h"
#include "kernels/kernels.h"
#include "kernels/window2d.h"

#include <string.h>

typedef dagl_status (*infer_fn)(dagl_graph *g, dagl_node *nd);

/* Source k of a node, for the infer functions, which read their operands' shapes and dtypes. */
static const dagl_node *src_node(const dagl_graph *g, const dagl_node *nd, int k)
{
    return &g->nodes[nd->src[k]];
}

/* A node as the kernels' shape checks take it, so graph inference and eager calls share the checks. */
static dagl__shape_ref ref_of(const dagl_node *n) { return (dagl__shape_ref){n->dtype, n->ndim, n->shape}; }

/* A node's shape taken from another node, for ops whose result has their source's shape. */
static void copy_shape(dagl_node *nd, const dagl_node *from)
{
    nd->ndim = from->ndim;
    memcpy(nd->shape, from->shape, sizeof(int64_t) * (size_t)from->ndim);
}

/* Unary ops and clamp: the source's shape. */
static dagl_status infer_same_shape(dagl_graph *g, dagl_node *nd)
{
    copy_shape(nd, src_node(g, nd, 0));
    return DAGL_OK;
}

/* dropout_mask(x): x's shape; the rate checked as the kernel checks it. */
static dagl_status infer_dropout(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *a = src_node(g, nd, 0);
    copy_shape(nd, a);
    return dagl__dropout_check(g->ctx, a->dtype, nd->p.rate);
}

/* cumsum / argsort: the source's shape; the axis checked as the kernel checks it. */
static dagl_status infer_along(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *a = src_node(g, nd, 0);
    copy_shape(nd, a);
    return dagl__along_check(g->ctx, nd->op, ref_of(a), nd->p.axis);
}

/* take_along(x, idx): idx's shape, after the kernel's checks. */
static dagl_status infer_take(dagl_graph *g, dagl_node *nd)
{
    return dagl__take_along_shape(g->ctx, ref_of(src_node(g, nd, 0)), ref_of(src_node(g, nd, 1)), nd->p.axis,
                                  &nd->ndim, nd->shape);
}

/* scatter_add(x, idx, src): x's shape, after the kernel's checks. */
static dagl_status infer_scatter(dagl_graph *g, dagl_node *nd)
{
    return dagl__scatter_add_shape(g->ctx, ref_of(src_node(g, nd, 0)), ref_of(src_node(g, nd, 1)),
                                   ref_of(src_node(g, nd, 2)), nd->p.axis, &nd->ndim, nd->shape);
}

/* softmax / log_softmax: the source's shape; the axis checked as the kernel checks it. */
static dagl_status infer_softmax(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *a = src_node(g, nd, 0);
    copy_shape(nd, a);
    return dagl__softmax_check(g->ctx, nd->op, ref_of(a), nd->p.axis);
}

/* Binary and compare nodes: with a scalar operand the source's shape, else the two shapes broadcast. */
static dagl_status infer_binary(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *a = src_node(g, nd, 0);
    if (nd->p.has_scalar) {
        if (nd->nsrc != 1)
            return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "%s: takes 1 source with a scalar, got %d",
                                      dagl_op_name(nd->op), nd->nsrc);
        copy_shape(nd, a);
        return DAGL_OK;
    }
    if (nd->nsrc != 2)
        return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "%s: needs 2 sources or a scalar", dagl_op_name(nd->op));
    const dagl_node *b = src_node(g, nd, 1);
    return dagl__broadcast_shape(g->ctx, dagl_op_name(nd->op), a->ndim, a->shape, b->ndim, b->shape, &nd->ndim,
                                 nd->shape);
}

/* where(cond, a, b): the three shapes broadcast together. */
static dagl_status infer_where(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *c = src_node(g, nd, 0), *a = src_node(g, nd, 1), *b = src_node(g, nd, 2);
    int n1;
    int64_t s1[DAGL_MAX_DIMS];
    dagl_status st = dagl__broadcast_shape(g->ctx, "where", c->ndim, c->shape, a->ndim, a->shape, &n1, s1);
    if (st) return st;
    return dagl__broadcast_shape(g->ctx, "where", n1, s1, b->ndim, b->shape, &nd->ndim, nd->shape);
}

/* Reductions: the kernel's own check and output shape. */
static dagl_status infer_reduce(dagl_graph *g, dagl_node *nd)
{
    return dagl__reduce_shape(g->ctx, nd->op, ref_of(src_node(g, nd, 0)), nd->p.dims, nd->p.ndims, nd->p.keepdim,
                              &nd->ndim, nd->shape);
}

/* NumPy matmul shapes, as the kernel checks them. */
static dagl_status infer_matmul(dagl_graph *g, dagl_node *nd)
{
    int nb;
    int64_t bshape[DAGL_MAX_DIMS];
    return dagl__matmul_shape(g->ctx, ref_of(src_node(g, nd, 0)), ref_of(src_node(g, nd, 1)), &nb, bshape, &nd->ndim,
                              nd->shape);
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
    nd->ndim = v->ndim;
    memcpy(nd->shape, v->shape, sizeof(int64_t) * (size_t)v->ndim);
    dagl_tensor_release(v);
    return DAGL_OK;
}

/* cast: the source's shape in params.dtype. */
static dagl_status infer_cast(dagl_graph *g, dagl_node *nd)
{
    if ((unsigned)nd->p.dtype >= DAGL_DTYPE_COUNT)
        return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "cast: unknown dtype %d", (int)nd->p.dtype);
    copy_shape(nd, src_node(g, nd, 0));
    return DAGL_OK;
}

/* Joins: the shape rules live with the kernel (concat.c). */
static dagl_status infer_concat(dagl_graph *g, dagl_node *nd)
{
    dagl__shape_ref in[DAGL_MAX_SRCS];
    for (int k = 0; k < nd->nsrc; k++) in[k] = ref_of(src_node(g, nd, k));
    return dagl__concat_shape(g->ctx, nd->nsrc, in, nd->p.axis, &nd->ndim, nd->shape);
}

/* slice_scatter(src): the result has params.shape; the kernel's check validates src against it. */
static dagl_status infer_slice_scatter(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *a = src_node(g, nd, 0);
    dagl_status st = dagl__slice_scatter_check(g->ctx, ref_of(a), nd->p.nshape, nd->p.shape, nd->p.axis, nd->p.start,
                                               nd->p.step);
    if (st) return st;
    nd->ndim = nd->p.nshape;
    memcpy(nd->shape, nd->p.shape, sizeof(int64_t) * (size_t)nd->ndim);
    return DAGL_OK;
}

/* gather(table, idx) */
static dagl_status infer_gather(dagl_graph *g, dagl_node *nd)
{
    return dagl__gather_shape(g->ctx, ref_of(src_node(g, nd, 0)), ref_of(src_node(g, nd, 1)), &nd->ndim, nd->shape);
}

/* index_add(src, idx): the table's row count is shape[0] of the params. */
static dagl_status infer_index_add(dagl_graph *g, dagl_node *nd)
{
    if (nd->p.nshape < 1)
        return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "index_add: the table's row count (shape[0]) is missing");
    return dagl__index_add_shape(g->ctx, ref_of(src_node(g, nd, 0)), ref_of(src_node(g, nd, 1)), nd->p.shape[0],
                                 &nd->ndim, nd->shape);
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
            return dagl_ctx_set_error(g->ctx, DAGL_E_ARG,
                                      "%s: params.shape must be the forward operand's shape (4 dims)",
                                      dagl_op_name(nd->op));
        pshape = nd->p.shape;
    }
    struct win2d geo;
    dagl_dtype odt;
    nd->ndim = 4;
    return dagl__win2d_infer(g->ctx, nd->op, &nd->p.window, pshape, nds, shp, dts, &geo, nd->shape, &odt);
}

/* The tensor node `id` (a constant, or views and assigns of one) will be when the graph runs: the
 * constant with the same layout calls the executor makes applied, so an assign node's target can
 * be checked with the eager check when the node is added instead of failing at every run. */
static dagl_status target_tensor(dagl_graph *g, int id, dagl_tensor **out)
{
    const dagl_node *nd = &g->nodes[id];
    if (nd->kind == NODE_CONST) {
        dagl_tensor_retain(nd->value);
        *out = nd->value;
        return DAGL_OK;
    }
    dagl_tensor *src;
    dagl_status st = target_tensor(g, nd->src[0], &src);
    if (st || nd->op == DAGL_OP_ASSIGN) { /* an assign's value is its target */
        *out = st ? NULL : src;
        return st;
    }
    st = dagl__layout(g->ctx, nd->op, &nd->p, src, out);
    dagl_tensor_release(src);
    return st;
}

/* assign(target, value): the target is a constant or a view of one (what the executor keeps for
 * the whole run and never frees) that may be written in place (no overlapping elements, as
 * dagl_assign checks), the value has its dtype and shape; the node's value is the target. */
static dagl_status infer_assign(dagl_graph *g, dagl_node *nd)
{
    const dagl_node *t = src_node(g, nd, 0), *v = src_node(g, nd, 1);
    int root = dagl__alias_root(g, nd->src[0]);
    if (g->nodes[root].kind != NODE_CONST)
        return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "assign: the target (node %d, %s) must be a constant of the "
                                  "graph (a captured tensor) or a view of one", nd->src[0],
                                  g->nodes[root].kind == NODE_INPUT ? "an input" : dagl__node_name(&g->nodes[root]));
    dagl_tensor *target;
    dagl_status st = target_tensor(g, nd->src[0], &target);
    if (!st) st = dagl_tensor_check_writable(g->ctx, target, "assign");
    dagl_tensor_release(target);
    if (st) return st;
    copy_shape(nd, t);
    return dagl__assign_check(g->ctx, ref_of(t), ref_of(v));
}

#define IN_NONE NULL
#define IN_CUSTOM NULL
#define IN_UNARY infer_same_shape
#define IN_BINARY infer_binary
#define IN_COMPARE infer_binary
#define IN_CLAMP infer_same_shape
#define IN_WHERE infer_where
#define IN_REDUCE infer_reduce
#define IN_MATMUL infer_matmul
#define IN_LAYOUT infer_layout
#define IN_CAST infer_cast
#define IN_CONCAT infer_concat
#define IN_SLICE_SCATTER infer_slice_scatter
#define IN_GATHER infer_gather
#define IN_INDEX_ADD infer_index_add
#define IN_DROPOUT infer_dropout
#define IN_WINDOW infer_window
#define IN_ALONG infer_along
#define IN_TAKE infer_take
#define IN_SCATTER infer_scatter
#define IN_SOFTMAX infer_softmax
#define IN_ASSIGN infer_assign
#define IN_FN(C) [DAGL__CLS_##C] = IN_##C,
static const infer_fn infer_of[] = {DAGL__CLASSES(IN_FN)};
_Static_assert(sizeof infer_of / sizeof *infer_of == DAGL__CLS_COUNT, "one infer function per op class");

dagl_status dagl__infer(dagl_graph *g, dagl_node *nd)
{
    infer_fn f = infer_of[dagl__op_info_of(nd->op)->cls];
    if (!f) return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "graph: op %s cannot be a node", dagl_op_name(nd->op));
    const dagl__class_info *ci = dagl__class_of(nd->op);
    if (ci->nsrc && nd->nsrc != ci->nsrc)
        return dagl_ctx_set_error(g->ctx, DAGL_E_ARG, "%s: takes %d sources, got %d", dagl_op_name(nd->op), ci->nsrc,
                                  nd->nsrc);
    dagl_dtype dts[DAGL_MAX_SRCS];
    for (int k = 0; k < nd->nsrc; k++) dts[k] = src_node(g, nd, k)->dtype;
    dagl_status st = dagl__op_check_dtypes(g->ctx, nd->op, nd->nsrc, dts);
    if (!st) st = f(g, nd);
    if (st) return st;
    nd->dtype = dagl_op_result_dtype(nd->op, nd->nsrc, dts, &nd->p);
    return DAGL_OK;
}

/* Runs one node: a fused one (matmul or conv2d + bias + activation, a max pooling's gradient
 * with a relu's mask, an elementwise program) with its fused kernel, a dropout mask with the
 * node's run count as its counter, anything else through
 * dagl_op_apply with the node's params; the result goes into dst (its planned slot) when given. */
dagl_status dagl__exec_node(dagl_ctx *ctx, const dagl_node *nd, dagl_tensor *const *srcv, dagl_tensor *dst,
                            dagl_tensor **out)
{
    if (dagl__node_is_fused(nd) && nd->op == DAGL_OP_CONV2D)
        return dagl__conv2d_epilogue(ctx, srcv[0], srcv[1], srcv[2], nd->fused_act, &nd->p.window, nd->fused_pool,
                                     &nd->pool_window, dst, out);
    if (dagl__node_is_fused(nd)) return dagl__matmul_epilogue(ctx, srcv[0], srcv[1], srcv[2], nd->fused_act, dst, out);
    if (dagl__node_is_masked_pool_grad(nd) && nd->nsrc == 4)
        return dagl__conv2d_pool_grad(ctx, srcv[0], srcv[1], srcv[2], srcv[3], &nd->p.window, &nd->pool_window, dst, out);
    if (dagl__node_is_masked_pool_grad(nd)) return dagl__maxpool2d_grad_relu(ctx, srcv[0], srcv[1], &nd->p.window, dst, out);
    if (nd->prog) return dagl__ew_program(ctx, nd->prog, nd->nsrc, srcv, nd->dtype, nd->ndim, nd->shape, dst, out);
    if (nd->op == DAGL_OP_DROPOUT_MASK) {
        /* the one piece of state a node keeps across runs (atomic: runs of one graph may overlap) */
        dagl_node_params p = nd->p;
        p.counter = atomic_fetch_add(&((dagl_node *)nd)->runs, 1);
        return dagl__op_apply_into(ctx, nd->op, nd->nsrc, srcv, &p, dst, out);
    }
    return dagl__op_apply_into(ctx, nd->op, nd->nsrc, srcv, &nd->p, dst, out);
}

/* The memory planner (memplan.c) needs to know, per node, whether its result is fresh memory the
 * kernel allocates (so it can live in the run's arena), a view of its first source, or anything
 * else (custom nodes, casts and assigns, which may return their sources: their sources and
 * results are never planned). The op list's class says which. */
dagl_node_mem dagl__node_mem(const dagl_node *nd)
{
    if (nd->kind != NODE_OP) return NODE_MEM_OPAQUE;
    switch (dagl__class_of(nd->op)->mem) {
    case DAGL__MEM_VIEW: return NODE_MEM_VIEW;
    case DAGL__MEM_FRESH: return NODE_MEM_FRESH;
    default: return NODE_MEM_OPAQUE;
    }
}

/* In-place execution is only safe for kernels whose output element i is computed from element i
 * of each same-shaped source and nothing else, read before it is written (unary ops and their
 * fused chains, binary and compare ops, clamp): the class says so. */
bool dagl__node_elementwise(const dagl_node *nd)
{
    return nd->kind == NODE_OP && dagl__class_of(nd->op)->elementwise;
}
