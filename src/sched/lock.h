/* lock.h -- internals of dagl_lock shared with the executor: parking a node task until the
 * lock is free instead of blocking the worker. */
#ifndef DAGL_LOCK_H
#define DAGL_LOCK_H

#include "sched/pool.h"

/* Takes the lock for a task, or parks (fn, arg, ith) to be submitted to `pool` under `job`
 * when the lock is next released (job->pending is raised for it). Returns 1 when taken. A
 * parked task is resubmitted already holding the lock: it calls dagl__lock_claim first. */
int dagl__lock_take_or_park(dagl_lock *lock, dagl_pool *pool, dagl_job *job, dagl_task_fn fn, void *arg,
                            int ith);

/* A resubmitted parked task takes up the lock handed to it; 0 when a blocked thread revoked
 * the hand-off (then the task takes the lock or parks again as usual). */
int dagl__lock_claim(dagl_lock *lock);

/* Records this lock's holds and blocking waits into `tr` under run number `run` (NULL: stop). */
void dagl__lock_trace(dagl_lock *lock, dagl_trace *tr, int run);

#endif
