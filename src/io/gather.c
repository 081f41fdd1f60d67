/* gather.c -- copying rows of a tensor by index into a new tensor on a background thread, so a
 * data pipeline gathers batch k+1 while the caller trains on batch k. Everything that can fail
 * (index checks, allocation) happens before the thread starts; the thread only copies. */
#include "io/io.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GATHER_INLINE_BYTES ((size_t)128 << 10) /* copies below this run on the caller's thread */

struct dagl_rows_job {
    dagl_ctx *ctx;      /* whose interrupts stop a wait */
    dagl_tensor *src;   /* contiguous (retained) */
    dagl_tensor *dst;
    int64_t *index;     /* n row numbers, checked */
    int64_t n;
    size_t row_bytes;
    pthread_t thread;
    int started;        /* a thread runs the copy (else it was done inline) */
    pthread_mutex_t mu; /* done and its condition, so a wait can give up on an interrupt */
    pthread_cond_t cv;
    bool done;
};

/* The copy itself: pure memcpy of whole rows; then tells a waiter. */
static void *gather_run(void *arg)
{
    dagl_rows_job *g = arg;
    const char *s = dagl_tensor_data(g->src);
    char *d = dagl_tensor_data(g->dst);
    for (int64_t i = 0; i < g->n; i++) memcpy(d + (size_t)i * g->row_bytes, s + (size_t)g->index[i] * g->row_bytes, g->row_bytes);
    pthread_mutex_lock(&g->mu);
    g->done = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
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
    g->ctx = ctx;
    pthread_mutex_init(&g->mu, NULL);
    dagl__cond_init_monotonic(&g->cv);
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
    /* a small copy costs less than starting a thread for it (labels, small batches): done now */
    g->started = (size_t)n * g->row_bytes >= GATHER_INLINE_BYTES && dagl__thread_start(&g->thread, gather_run, g) == 0;
    if (!g->started) gather_run(g); /* inline, or no thread to be had: copy now */
    *out = g;
    return DAGL_OK;
}

/* Waits for the copy (once). */
static void gather_join(dagl_rows_job *g)
{
    if (g->started) pthread_join(g->thread, NULL);
    g->started = 0;
}

/* Waits for the copy in slices, looking at the context's interrupt state after each. */
static dagl_status gather_done(dagl_rows_job *g)
{
    dagl_status st = DAGL_OK;
    pthread_mutex_lock(&g->mu);
    while (!g->done && g->started) {
        if (dagl__interrupted(g->ctx)) {
            st = DAGL_E_INTERRUPTED;
            break;
        }
        int64_t until = dagl__now_ns() + DAGL_INTERRUPT_SLICE_NS;
        struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
    pthread_mutex_unlock(&g->mu);
    return st;
}

dagl_status dagl_rows_wait(dagl_rows_job *g, dagl_tensor **out)
{
    *out = NULL;
    if (gather_done(g)) return dagl_ctx_set_error(g->ctx, DAGL_E_INTERRUPTED, "gather_rows: interrupted");
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
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}
