/* graph_nodes.c -- collectives inside graphs (dagl_graph_collective): a "launch" custom node
 * packs its sources into one buffer and queues the job, returning at once (its output is a
 * one-element token, so nothing reads the buffers in flight); a "wait" node hands out the result
 * holding a lock the communication thread keeps until the data is back, so the
 * executor parks it (as it parks nodes waiting for the VM lock) and its workers run the rest of
 * the graph meanwhile: a gradient bucket's allreduce overlaps the rest of backward. */
#include "dist/dist.h"
#include "graph/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a launch/wait pair shares (owned by the launch node). */
typedef struct coll_node {
    dagl_dist *d;
    dagl_dist_node c;
    int n;
    dagl_dtype dtype;
    int64_t offs[DAGL_MAX_SRCS + 1]; /* element offsets of the sources in the packed buffer */
    int ndim;                        /* of the result (allgather/reduce_scatter) */
    int64_t shape[DAGL_MAX_DIMS];
    int64_t src_ndim, src_shape[DAGL_MAX_DIMS]; /* of the single source (fingerprints) */
    dagl_lock *lock;                 /* held by the communication thread while the job is out */
    dist_job job;
    bool active;                     /* a job was queued and its buffers are held below */
    dagl_tensor *packed, *result;
    dagl_tensor *token;              /* what the launch node gives the wait node: one element, so
                                      * nothing (check_numerics) reads the buffers in flight */
} coll_node;

/* Forgets the last run's job (waiting for it first, in case that run stopped before its wait
 * node ran): its buffers go. */
static void retire(coll_node *cn)
{
    if (!cn->active) return;
    if (!atomic_load(&cn->job.done)) dagl__dist_wait(cn->d, &cn->job);
    dagl_tensor_release(cn->packed);
    if (cn->result != cn->packed) dagl_tensor_release(cn->result);
    cn->packed = cn->result = NULL;
    cn->active = false;
}

static void coll_free(void *ud)
{
    coll_node *cn = ud;
    retire(cn);
    dagl_tensor_release(cn->token);
    dagl_lock_free(cn->lock);
    dagl__dist_release(cn->d);
    free(cn);
}

/* The launch node: packs the sources, takes the lock for the thread and queues the job. */
static dagl_status launch_fn(void *ud, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs, dagl_tensor **out)
{
    coll_node *cn = ud;
    retire(cn);
    int64_t total = cn->offs[cn->n], one = 1;
    dagl_status st = cn->token ? DAGL_OK : dagl_tensor_full(ctx, cn->dtype, 1, &one, 0, &cn->token);
    if (st) return st;
    st = dagl_tensor_new(ctx, cn->dtype, 1, &total, &cn->packed);
    for (int i = 0; i < cn->n && !st; i++) {
        dagl_tensor *part = NULL, *view = NULL;
        st = dagl_narrow(ctx, cn->packed, 0, cn->offs[i], cn->offs[i + 1] - cn->offs[i], &part);
        if (!st) st = dagl_view(ctx, part, srcs[i]->ndim, srcs[i]->shape, &view);
        if (!st) st = dagl_copy_into(ctx, view, srcs[i]);
        dagl_tensor_release(view);
        dagl_tensor_release(part);
    }
    cn->result = cn->packed;
    if (!st && (cn->c.kind == DAGL_DIST_ALLGATHER || cn->c.kind == DAGL_DIST_REDUCE_SCATTER))
        st = dagl_tensor_new(ctx, cn->dtype, cn->ndim, cn->shape, &cn->result);
    if (st) {
        if (cn->result != cn->packed) dagl_tensor_release(cn->result);
        dagl_tensor_release(cn->packed);
        cn->packed = cn->result = NULL;
        return st;
    }
    dist_job *job = &cn->job;
    memset(job, 0, sizeof *job);
    job->kind = (dist_job_kind)cn->c.kind;
    job->op = cn->c.op;
    job->root = cn->c.root;
    job->dtype = cn->dtype;
    job->ndim = (int)cn->src_ndim;
    memcpy(job->shape, cn->src_shape, sizeof job->shape);
    if (cn->n > 1) { /* a bucket: its fingerprint is the packed length */
        job->ndim = 1;
        job->shape[0] = total;
    }
    job->count = total;
    job->buf = cn->packed->data;
    job->rbuf = cn->result->data;
    job->release = cn->lock;
    cn->active = true;
    dagl_lock_acquire(cn->lock);
    dagl__dist_submit(cn->d, job);
    dagl_tensor_retain(cn->token);
    *out = cn->token;
    return DAGL_OK;
}

/* The wait node: runs once the thread released the lock (or, in runs that ignore locks, waits
 * for the job on a condition); hands out the result the launch of this run made. */
static dagl_status wait_fn(void *ud, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs, dagl_tensor **out)
{
    coll_node *cn = ud;
    dagl_status st = dagl__dist_wait(cn->d, &cn->job);
    if (st) return dagl_ctx_set_error(ctx, st, "%s", cn->job.err);
    dagl_tensor_retain(cn->result);
    *out = cn->result;
    return DAGL_OK;
}

/* Checks the request and fills the shared state's sizes; errors on g's context. */
static dagl_status plan_node(dagl_graph *g, dagl_ctx *ctx, coll_node *cn, int n, const int *srcs)
{
    const char *what = dagl__dist_kind_name(cn->c.kind);
    bool multi = cn->c.kind == DAGL_DIST_ALLREDUCE || cn->c.kind == DAGL_DIST_BROADCAST;
    if (n < 1 || n > (multi ? DAGL_MAX_SRCS - 1 : 1))
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s node: takes %s, got %d sources", what,
                                  multi ? "1 to 7 sources" : "one source", n);
    if ((unsigned)cn->c.op >= DAGL_DIST_OP_COUNT)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s node: unknown reduction %d", what, (int)cn->c.op);
    if (cn->c.kind == DAGL_DIST_BROADCAST && (cn->c.root < 0 || cn->c.root >= cn->d->size))
        return dagl_ctx_set_error(ctx, DAGL_E_INDEX, "broadcast node: root %d is not a rank (0..%d)", cn->c.root,
                                  cn->d->size - 1);
    cn->n = n;
    for (int i = 0; i < n; i++) {
        dagl_dtype dt;
        int nd;
        const int64_t *shp;
        dagl_status st = dagl_graph_node_info(g, srcs[i], &dt, &nd, &shp);
        if (st) return st;
        if (dt != DAGL_F32 && dt != DAGL_F64 && dt != DAGL_I64)
            return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "%s node: %s tensors cannot be communicated", what,
                                      dagl_dtype_name(dt));
        if (i == 0) {
            cn->dtype = dt;
            cn->src_ndim = nd;
            memcpy(cn->src_shape, shp, sizeof(int64_t) * (size_t)nd);
        } else if (dt != cn->dtype) {
            return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "%s node: source %d is %s and source 1 %s (one dtype per bucket)",
                                      what, i + 1, dagl_dtype_name(dt), dagl_dtype_name(cn->dtype));
        }
        int64_t numel = 1;
        for (int k = 0; k < nd; k++) numel *= shp[k];
        cn->offs[i + 1] = cn->offs[i] + numel;
    }
    cn->ndim = (int)cn->src_ndim;
    memcpy(cn->shape, cn->src_shape, sizeof cn->shape);
    char b[160];
    if (cn->c.kind == DAGL_DIST_ALLGATHER) {
        if (cn->ndim == 0) cn->ndim = 1, cn->shape[0] = 1;
        cn->shape[0] *= cn->d->size;
    } else if (cn->c.kind == DAGL_DIST_REDUCE_SCATTER) {
        if (cn->ndim == 0 || cn->shape[0] % cn->d->size)
            return dagl_ctx_set_error(ctx, DAGL_E_SHAPE,
                                      "reduce_scatter node: dim 1 of %s must be a multiple of the %d ranks",
                                      dagl_shape_str((int)cn->src_ndim, cn->src_shape, b, sizeof b), cn->d->size);
        cn->shape[0] /= cn->d->size;
    }
    return DAGL_OK;
}

/* Adds the views of the packed result that give source i back in its own shape (a slice of
 * its elements, then a reshape): no copies. */
static dagl_status unpack(dagl_graph *g, const coll_node *cn, int wait_id, int i, const int *srcs, int *id)
{
    dagl_dtype dt;
    int nd;
    const int64_t *shp;
    dagl_status st = dagl_graph_node_info(g, srcs[i], &dt, &nd, &shp);
    if (st) return st;
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.axis = 0;
    p.start = cn->offs[i];
    p.stop = cn->offs[i + 1];
    p.step = 1;
    int sl;
    if (cn->n == 1) { /* the whole buffer */
        sl = wait_id;
    } else if ((st = dagl_graph_node(g, DAGL_OP_SLICE, 1, &wait_id, &p, &sl))) {
        return st;
    }
    dagl_node_params r;
    dagl_node_params_init(&r);
    r.nshape = nd;
    memcpy(r.shape, shp, sizeof(int64_t) * (size_t)nd);
    return dagl_graph_node(g, DAGL_OP_RESHAPE, 1, &sl, &r, id);
}

/* The launch and the nodes computing its sources (through views, down to the op that makes the
 * values) run before other ready nodes, so a bucket's allreduce starts as soon as its
 * gradients can exist, not when the scheduler gets round to them. */
static void mark_urgent(dagl_graph *g, int launch, int n, const int *srcs)
{
    g->nodes[launch].urgent = true;
    for (int i = 0; i < n; i++) {
        int id = srcs[i];
        for (int depth = 0; id >= 0 && depth < 4 && g->nodes[id].kind == NODE_OP; depth++) {
            dagl_node *nd = &g->nodes[id];
            nd->urgent = true;
            bool view = nd->op == DAGL_OP_RESHAPE || nd->op == DAGL_OP_PERMUTE || nd->op == DAGL_OP_EXPAND ||
                        nd->op == DAGL_OP_SLICE;
            id = view && nd->nsrc > 0 ? nd->src[0] : -1;
        }
    }
}

dagl_status dagl_graph_collective(dagl_graph *g, dagl_dist *d, const dagl_dist_node *c, int n, const int *srcs,
                                  int *out_ids, int *launch_id)
{
    if (!g) return DAGL_E_ARG;
    dagl_ctx *ctx = g->ctx;
    if (!d || !c || !srcs || !out_ids)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "graph_collective: NULL %s", !d ? "dist handle" : !c ? "request" : !srcs ? "sources" : "out_ids");
    if ((unsigned)c->kind >= DAGL_DIST_KIND_COUNT)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "graph_collective: unknown collective %d", (int)c->kind);
    coll_node *cn = calloc(1, sizeof *cn);
    if (!cn) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "graph_collective: out of memory");
    cn->d = d;
    cn->c = *c;
    dagl_status st = plan_node(g, ctx, cn, n, srcs);
    if (!st && dagl_lock_new(&cn->lock)) st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "graph_collective: out of memory");
    if (st) {
        dagl_lock_free(cn->lock);
        free(cn);
        return st;
    }
    dagl__dist_retain(d); /* released with cn (coll_free) */
    const char *what = dagl__dist_kind_name(c->kind);
    char lname[64], wname[64];
    snprintf(lname, sizeof lname, "%s_launch", what);
    snprintf(wname, sizeof wname, "%s_wait", what);
    int lsrc[DAGL_MAX_SRCS];
    memcpy(lsrc, srcs, sizeof(int) * (size_t)n);
    int nl = n;
    if (c->after >= 0) lsrc[nl++] = c->after;
    int64_t total = cn->offs[n];
    bool gathered = c->kind == DAGL_DIST_ALLGATHER || c->kind == DAGL_DIST_REDUCE_SCATTER;
    int rnd = gathered ? cn->ndim : 1;
    const int64_t *rshape = gathered ? cn->shape : &total;
    int lid, wid;
    /* the launch node owns cn from here on (the graph frees it, also when this call fails) */
    int64_t one = 1;
    st = dagl_graph_custom(g, lname, nl, lsrc, cn->dtype, 1, &one, launch_fn, cn, coll_free, NULL, &lid);
    if (st) return st;
    mark_urgent(g, lid, n, srcs);
    dagl_lock *lock = cn->lock;
    st = dagl_graph_custom(g, wname, 1, &lid, cn->dtype, rnd, rshape, wait_fn, cn, NULL, lock, &wid);
    if (st) return st;
    g->nodes[wid].comm = true;
    if (gathered) {
        out_ids[0] = wid;
    } else {
        for (int i = 0; i < n && !st; i++) st = unpack(g, cn, wid, i, srcs, &out_ids[i]);
    }
    if (!st && launch_id) *launch_id = lid;
    return st;
}
