/* trace_impl.h -- the inside of a dagl_trace, shared by the recorder (trace.c), the statistics
 * (trace_stats.c) and the writers (trace_json.c, trace_svg.c). Internal to src/sched. */
#ifndef DAGL_TRACE_IMPL_H
#define DAGL_TRACE_IMPL_H

#include "sched/trace.h"

#include <pthread.h>
#include <stdio.h>

/* The edges of a graph as one run saw them: per node its sources (CSR), whether it is an op
 * node, and what is derived from them once (a topological order and the DAG width). Runs of an
 * unchanged graph share one. */
typedef struct trace_dag {
    int n;
    int *src_start; /* n + 1 */
    int *src;
    unsigned char *is_op;
    int *order;     /* topological order of all nodes */
    int width;      /* most op nodes at one depth */
} trace_dag;

typedef struct trace_run {
    int dag; /* index into dags, -1 when the edges could not be kept */
} trace_run;

typedef struct trace_node_ev {
    int64_t t0, t1;
    int run, worker, node;
    int name, label; /* indices into the string table; label -1 = none */
    unsigned char how;
} trace_node_ev;

typedef struct trace_lock_ev {
    int64_t t0, t1;
    int run, worker, kind; /* DAGL_TRACE_HOLD, _WAIT or _PARKED */
} trace_lock_ev;

/* Work outside graph runs on a lane of its own (dagl_trace_span: a communication thread). */
typedef struct trace_span_ev {
    int64_t t0, t1;
    int lane, name; /* indices into the string table */
} trace_span_ev;

struct dagl_trace {
    pthread_mutex_t mu;
    trace_node_ev *ev;
    size_t nev, cap_ev;
    trace_lock_ev *lk;
    size_t nlk, cap_lk;
    trace_span_ev *sp;
    size_t nsp, cap_sp;
    trace_run *runs;
    int nruns, cap_runs;
    trace_dag *dags;
    int ndags, cap_dags;
    char **str;      /* interned names and labels */
    int nstr, cap_str;
    int *str_hash;   /* open addressing: index + 1, 0 = empty */
    int cap_hash;
    long long dropped; /* events lost to out-of-memory */
};

/* Statistics with the counts the public struct leaves out (for the summary). */
typedef struct trace_full_stats {
    dagl_trace_stats pub;
    long long how[DAGL_SCHED_HOW_COUNT];
    int runs;
    long long dropped;
    int64_t origin;  /* earliest timestamp of any event (0 when none) */
    int64_t end;     /* latest */
} trace_full_stats;

/* Statistics under the caller's hold of tr->mu. */
DAGL_HIDDEN void dagl__trace_stats_locked(const dagl_trace *tr, trace_full_stats *out);
/* The summary text under the caller's hold of tr->mu (malloc'ed, NULL when out of memory). */
DAGL_HIDDEN char *dagl__trace_summary_locked(const dagl_trace *tr);
/* The display name of a node event: "label/name", or name alone. */
DAGL_HIDDEN void dagl__trace_ev_name(const dagl_trace *tr, const trace_node_ev *e, char *buf, size_t size);
/* How both writers name a lock event before its worker number ("held by", "wait of", ...). */
DAGL_HIDDEN const char *dagl__trace_lock_verb(const trace_lock_ev *e);
/* Closes a file written by a writer: DAGL_E_IO if anything failed on the way. */
DAGL_HIDDEN dagl_status dagl__trace_close(FILE *f);

static inline dagl_trace *trace_mut(const dagl_trace *tr) { return (dagl_trace *)tr; }

#endif
