/* workers.h -- a context's workers as the scheduler keeps them (workers.c): the pool behind the
 * context's runner (core/internal.h), the thread counts, and the graph runs in progress. */
#ifndef DAGL_WORKERS_H
#define DAGL_WORKERS_H

#include "core/internal.h"
#include "sched/pool.h"

/* The pool of ctx's workers, started on first use; fails (naming the thread count) when no
 * thread could be started. */
DAGL_HIDDEN dagl_status dagl__workers_pool(dagl_ctx *ctx, dagl_pool **out);
/* Counts a graph run on ctx's workers as in progress (waiting while another thread changes the
 * thread count), then as done: threads cannot change under a run. */
DAGL_HIDDEN void dagl__run_begin(dagl_ctx *ctx);
DAGL_HIDDEN void dagl__run_end(dagl_ctx *ctx);

#endif
