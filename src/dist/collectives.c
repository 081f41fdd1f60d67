/* collectives.c -- the eager collectives of dagl_dist (dagl.h): argument checks, contiguous
 * buffers and results as tensors, then one job for the communication thread; and what a
 * single-rank world does instead (copies). */
#include "dist/dist.h"

#include <string.h>

void dagl__dist_job_init(dist_job *job, dist_job_kind kind, const dagl_tensor *t)
{
    memset(job, 0, sizeof *job);
    job->kind = kind;
    job->dtype = t->dtype;
    job->ndim = t->ndim;
    memcpy(job->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    job->count = t->numel;
}

void dagl__dist_divide(void *buf, dagl_dtype dt, int64_t count, int size)
{
    if (size == 1) return;
    if (dt == DAGL_F32) {
        float *p = buf;
        for (int64_t i = 0; i < count; i++) p[i] /= (float)size;
    } else if (dt == DAGL_F64) {
        double *p = buf;
        for (int64_t i = 0; i < count; i++) p[i] /= (double)size;
    } else {
        int64_t *p = buf;
        for (int64_t i = 0; i < count; i++) p[i] /= size;
    }
}

void dagl__dist_run_local(dist_job *job)
{
    size_t nb = (size_t)job->count * dagl_dtype_size(job->dtype);
    if ((job->kind == JOB_ALLGATHER || job->kind == JOB_REDUCE_SCATTER) && job->rbuf != job->buf && nb)
        memcpy(job->rbuf, job->buf, nb);
}

/* The checks every collective makes of its tensor: present, of a dtype MPI gets as it is. */
static dagl_status check_tensor(dagl_dist *d, dagl_ctx *ctx, const dagl_tensor *t, const char *what)
{
    if (!ctx) return DAGL_E_ARG;
    if (!d || !t) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: %s is NULL", what, d ? "the tensor" : "the dist handle");
    if (t->dtype != DAGL_F32 && t->dtype != DAGL_F64 && t->dtype != DAGL_I64)
        return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "%s: %s tensors cannot be communicated (float32, float64 or int64)",
                                  what, dagl_dtype_name(t->dtype));
    if (t->numel > (int64_t)0x7fffffff)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: %lld elements are more than one MPI message takes (2^31 - 1)",
                                  what, (long long)t->numel);
    return DAGL_OK;
}

static dagl_status check_op(dagl_ctx *ctx, dagl_dist_op op, const char *what)
{
    if ((unsigned)op >= DAGL_DIST_OP_COUNT)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "%s: unknown reduction %d (sum, mean or max)", what, (int)op);
    return DAGL_OK;
}

dagl_status dagl_dist_barrier(dagl_dist *d, dagl_ctx *ctx)
{
    if (!ctx) return DAGL_E_ARG;
    if (!d) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "barrier: the dist handle is NULL");
    dist_job job = {.kind = JOB_BARRIER};
    return dagl__dist_run(d, ctx, &job);
}

/* allreduce and broadcast: the job works in place on a contiguous buffer, which is *out (a new
 * copy), t itself, or a copy written back into t. */
static dagl_status in_place_job(dagl_dist *d, dagl_ctx *ctx, dist_job *job, dagl_tensor *t, dagl_tensor **out,
                                const char *what)
{
    dagl_tensor *buf = NULL;
    dagl_status st;
    if (out) {
        *out = NULL;
        st = dagl_clone(ctx, t, &buf);
    } else if ((st = dagl_tensor_check_writable(ctx, t, what)) == DAGL_OK) {
        if (dagl_tensor_is_contiguous(t)) {
            buf = t;
            dagl_tensor_retain(t);
        } else {
            st = dagl_clone(ctx, t, &buf);
        }
    }
    if (st) return st;
    job->buf = buf->data;
    st = dagl__dist_run(d, ctx, job);
    if (!st && !out && buf != t) st = dagl_copy_into(ctx, t, buf);
    if (!st && out) {
        *out = buf;
        return DAGL_OK;
    }
    dagl_tensor_release(buf);
    return st;
}

dagl_status dagl_dist_allreduce(dagl_dist *d, dagl_ctx *ctx, dagl_dist_op op, dagl_tensor *t, dagl_tensor **out)
{
    dagl_status st = check_tensor(d, ctx, t, "allreduce");
    if (!st) st = check_op(ctx, op, "allreduce");
    if (st) return st;
    dist_job job;
    dagl__dist_job_init(&job, JOB_ALLREDUCE, t);
    job.op = op;
    return in_place_job(d, ctx, &job, t, out, "allreduce");
}

dagl_status dagl_dist_broadcast(dagl_dist *d, dagl_ctx *ctx, dagl_tensor *t, int root, dagl_tensor **out)
{
    dagl_status st = check_tensor(d, ctx, t, "broadcast");
    if (st) return st;
    if (root < 0 || root >= d->size)
        return dagl_ctx_set_error(ctx, DAGL_E_INDEX, "broadcast: root %d is not a rank (0..%d)", root, d->size - 1);
    dist_job job;
    dagl__dist_job_init(&job, JOB_BROADCAST, t);
    job.root = root;
    return in_place_job(d, ctx, &job, t, out, "broadcast");
}

/* allgather and reduce_scatter: t's contiguous values in, a new tensor of `shape` out. */
static dagl_status gather_job(dagl_dist *d, dagl_ctx *ctx, dist_job *job, const dagl_tensor *t, int ndim,
                              const int64_t *shape, dagl_tensor **out)
{
    dagl_tensor *src = NULL, *res = NULL;
    dagl_status st = dagl_contiguous(ctx, (dagl_tensor *)t, &src);
    if (!st) st = dagl_tensor_new(ctx, t->dtype, ndim, shape, &res);
    if (!st) {
        job->buf = src->data;
        job->rbuf = res->data;
        st = dagl__dist_run(d, ctx, job);
    }
    dagl_tensor_release(src);
    if (st) {
        dagl_tensor_release(res);
        return st;
    }
    *out = res;
    return DAGL_OK;
}

dagl_status dagl_dist_allgather(dagl_dist *d, dagl_ctx *ctx, const dagl_tensor *t, dagl_tensor **out)
{
    dagl_status st = check_tensor(d, ctx, t, "allgather");
    if (st) return st;
    if (!out) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "allgather: out is NULL");
    *out = NULL;
    int64_t shape[DAGL_MAX_DIMS];
    int ndim = t->ndim ? t->ndim : 1;
    memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    shape[0] = (t->ndim ? t->shape[0] : 1) * d->size;
    dist_job job;
    dagl__dist_job_init(&job, JOB_ALLGATHER, t);
    return gather_job(d, ctx, &job, t, ndim, shape, out);
}

dagl_status dagl_dist_reduce_scatter(dagl_dist *d, dagl_ctx *ctx, dagl_dist_op op, const dagl_tensor *t,
                                     dagl_tensor **out)
{
    dagl_status st = check_tensor(d, ctx, t, "reduce_scatter");
    if (!st) st = check_op(ctx, op, "reduce_scatter");
    if (st) return st;
    if (!out) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "reduce_scatter: out is NULL");
    *out = NULL;
    char b[160];
    if (t->ndim == 0 || t->shape[0] % d->size)
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE,
                                  "reduce_scatter: dim 1 of %s must be a multiple of the %d ranks (each keeps one block)",
                                  dagl_shape_str(t->ndim, t->shape, b, sizeof b), d->size);
    int64_t shape[DAGL_MAX_DIMS];
    memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    shape[0] /= d->size;
    dist_job job;
    dagl__dist_job_init(&job, JOB_REDUCE_SCATTER, t);
    job.op = op;
    return gather_job(d, ctx, &job, t, t->ndim, shape, out);
}
