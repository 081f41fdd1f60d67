/* gather.c -- copying rows of a tensor by index into a new tensor on a background thread, so a
 * data pipeline gathers batch k+1 while the caller trains on batch k. Everything that can fail
 * (index checks, allocation) happens before the thread starts; the thread only copies. */
#include "io/io.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct dagl_rows_job {
    dagl_tensor *src;   /* contiguous (retained) */
    dagl_tensor *dst;
    int64_t *index;     /* n row numbers, checked */
    int64_t n;
    size_t row_bytes;
    pthread_t thread;
    int started;        /* a thread runs the copy (else it was done inline) */
};

/* The copy itself: pure memcpy of whole rows. */
static void *gather_run(void *arg)
{
    dagl_rows_job *g = arg;
    const char *s = dagl_tensor_data(g->src);
    char *d = dagl_tensor_data(g->dst);
    for (int64_t i = 0; i < g->n; i++) memcpy(d + (size_t)i * g->row_bytes, s + (size_t)g->index[i] * g->row_bytes, g->row_bytes);
    return NULL;
}

dagl_status dagl_gather_rows_async(dagl_ctx *ctx, dagl_tensor *src, const int64_t *index, int64_t n,
                                   dagl_rows_job **out)
{
    *out = NULL;
    if (!src || (n > 0 && !index) || n < 0)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "gather_rows: bad arguments");
    int nd = dagl_tensor_ndim(src);
    const int64_t *shape = dagl_tensor_shape(src);
    char b[160];
    if (nd < 1)
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "gather_rows: a tensor of shape %s has no rows",
                                  dagl_shape_str(nd, shape, b, sizeof b));
    for (int64_t i = 0; i < n; i++)
        if (index[i] < 0 || index[i] >= shape[0])
            return dagl_ctx_set_error(ctx, DAGL_E_INDEX, "gather_rows: index %lld (entry %lld) out of range for shape %s",
                                      (long long)index[i] + 1, (long long)i + 1, dagl_shape_str(nd, shape, b, sizeof b));
    dagl_rows_job *g = calloc(1, sizeof *g);
    if (!g || !(g->index = malloc(((size_t)n + 1) * sizeof *g->index))) {
        free(g);
        return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "gather_rows: out of memory");
    }
    if (n) memcpy(g->index, index, (size_t)n * sizeof *index);
    g->n = n;
    int64_t oshape[DAGL_MAX_DIMS];
    memcpy(oshape, shape, (size_t)nd * sizeof *shape);
    oshape[0] = n;
    dagl_status st = dagl_contiguous(ctx, src, &g->src);
    if (!st) st = dagl_tensor_new(ctx, dagl_tensor_dtype(src), nd, oshape, &g->dst);
    if (st) {
        dagl_rows_free(g);
        return st;
    }
    g->row_bytes = (size_t)(shape[0] ? dagl_tensor_numel(src) / shape[0] : 0) * dagl_dtype_size(dagl_tensor_dtype(src));
    g->started = pthread_create(&g->thread, NULL, gather_run, g) == 0;
    if (!g->started) gather_run(g); /* no thread to be had: copy now */
    *out = g;
    return DAGL_OK;
}

/* Waits for the copy (once). */
static void gather_join(dagl_rows_job *g)
{
    if (g->started) pthread_join(g->thread, NULL);
    g->started = 0;
}

dagl_status dagl_rows_wait(dagl_rows_job *g, dagl_tensor **out)
{
    gather_join(g);
    *out = g->dst;
    g->dst = NULL;
    dagl_rows_free(g);
    return DAGL_OK;
}

void dagl_rows_free(dagl_rows_job *g)
{
    if (!g) return;
    gather_join(g);
    dagl_tensor_release(g->src);
    dagl_tensor_release(g->dst);
    free(g->index);
    free(g);
}
