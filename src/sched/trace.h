/* trace.h -- recording into a dagl_trace from the executor and the lock (internal). All
 * functions are thread-safe and cheap (a timestamp and an append under a mutex). */
#ifndef DAGL_TRACE_H
#define DAGL_TRACE_H

#include "core/internal.h"

/* How a node came to run on its worker. */
typedef enum dagl_sched_how {
    DAGL_SCHED_INLINE,  /* continued on the worker that finished its last source */
    DAGL_SCHED_QUEUED,  /* taken from the worker's own deque (or the caller's first node) */
    DAGL_SCHED_STOLEN,  /* stolen from another worker's deque */
    DAGL_SCHED_PARKED,  /* waited for its lock, handed over when the lock was released */
    DAGL_SCHED_SHARE,   /* not a node: a share of a node's split kernel run by another worker */
    DAGL_SCHED_HOW_COUNT
} dagl_sched_how;

/* Starts a run: the trace keeps the graph's edges (for the critical path and width) under a
 * new run number, returned. */
DAGL_HIDDEN int dagl__trace_begin_run(dagl_trace *tr, const struct dagl_graph *g);
/* One node executed: worker (0 = a thread outside the pool), node id, name (op name or the
 * custom node's name), layer label (may be NULL), times, and how it was scheduled. */
DAGL_HIDDEN void dagl__trace_node(dagl_trace *tr, int run, int worker, int node, const char *name,
                                  const char *label, int64_t t0, int64_t t1, dagl_sched_how how);
/* What a kernel split into (ith, nth) shares needs to record the shares other workers run for
 * its node (dagl_ctx.share_trace, set by the executor while tracing). */
struct dagl_share_trace {
    dagl_trace *tr;
    int run, node, worker; /* worker: the node's own lane, whose shares its node event covers */
    const char *name, *label;
};

/* What a lock event is: a hold; a wait of a thread blocked in acquire (inside whatever that
 * thread was running, so not work); a wait of a node parked on the lock (no thread waited: the
 * node had not started), recorded on the lane of the worker that ran it afterwards. */
enum { DAGL_TRACE_HOLD = 0, DAGL_TRACE_WAIT = 1, DAGL_TRACE_PARKED = 2 };

/* A hold of the lock or a wait for it (a DAGL_TRACE_ kind) by a worker. */
DAGL_HIDDEN void dagl__trace_lock(dagl_trace *tr, int run, int worker, int kind, int64_t t0, int64_t t1);

#endif
