/* pool.h -- the one work-stealing thread pool (internal). Inter-op tasks and intra-op
 * parallel_for chunks run on the same workers; a thread that waits for its tasks helps run work
 * instead of blocking, so nested waits never deadlock. */
#ifndef DAGL_POOL_H
#define DAGL_POOL_H

#include "dagl.h"
#include <stdatomic.h>

typedef struct dagl_pool dagl_pool;

/* A unit of work: fn(arg, ith, nth). */
typedef void (*dagl_task_fn)(void *arg, int ith, int nth);

/* A set of tasks someone waits for: `pending` counts tasks not finished yet. */
typedef struct dagl_job {
    atomic_int pending;
} dagl_job;

/* Creates a pool running `nthreads` workers in all, the calling thread counting as one
 * (so nthreads-1 OS threads are started). */
dagl_status dagl_pool_new(int nthreads, dagl_pool **out);
void dagl_pool_free(dagl_pool *pool);
int dagl_pool_size(const dagl_pool *pool);

/* Index of the calling thread in the pool (0..size-1), or -1 for a thread outside it. */
int dagl_pool_worker_id(const dagl_pool *pool);

/* The pool worker number of the calling thread in whatever pool it belongs to, 0 for threads
 * outside any pool (the trace's lane numbers). */
int dagl__pool_current_worker(void);

/* Queues fn(arg, ith, nth) under `job` (whose pending count the caller has raised). */
void dagl_pool_submit(dagl_pool *pool, dagl_job *job, dagl_task_fn fn, void *arg, int ith, int nth);

/* Runs queued work until job->pending reaches 0. */
void dagl_pool_wait(dagl_pool *pool, dagl_job *job);

/* Runs fn(arg, i, nth) for i in [0, nth): chunk 0 on the caller, the others on idle workers
 * (or on the caller when nobody takes them). Returns when all are done. */
void dagl_pool_parallel_for(dagl_pool *pool, dagl_task_fn fn, void *arg, int nth);

/* Counters since creation, for tests and traces. */
typedef struct dagl_pool_stats {
    long long tasks_run, steals, sleeps;
} dagl_pool_stats;
void dagl_pool_get_stats(dagl_pool *pool, dagl_pool_stats *out);

#endif
