/* dist.h -- what the files of src/dist share: the dagl_dist handle, the jobs its communication
 * thread runs, and the backend (MPI, or none) that thread calls. Internal. */
#ifndef DAGL_DIST_H
#define DAGL_DIST_H

#include "core/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef enum dist_job_kind {
    JOB_ALLREDUCE = DAGL_DIST_ALLREDUCE,
    JOB_BROADCAST = DAGL_DIST_BROADCAST,
    JOB_ALLGATHER = DAGL_DIST_ALLGATHER,
    JOB_REDUCE_SCATTER = DAGL_DIST_REDUCE_SCATTER,
    JOB_BARRIER,
    JOB_FAIL,     /* tell every peer this rank failed (text: the error) */
    JOB_SHUTDOWN, /* the thread's last job: the leaving handshake and MPI_Finalize */
    JOB_KIND_COUNT
} dist_job_kind;

/* One request to the communication thread. The submitter owns it (on its stack or in a graph
 * node's state) and waits for `done`; buffers are contiguous and stay alive until then. */
typedef struct dist_job {
    dist_job_kind kind;
    dagl_dist_op op;
    int root;
    dagl_dtype dtype;
    int ndim;                      /* of the tensor as the caller gave it (for fingerprints) */
    int64_t shape[DAGL_MAX_DIMS];
    void *buf;                     /* the data; in place for allreduce and broadcast */
    void *rbuf;                    /* allgather, reduce_scatter: the result */
    int64_t count;                 /* elements in buf */
    const char *text;              /* JOB_FAIL: the message */
    dagl_lock *release;            /* released by the thread once done (graph nodes), or NULL */
    int64_t seq;                   /* set when queued: 1, 2, ... (collectives only) */
    dagl_status status;
    char err[DAGL_ERRMSG_SIZE];
    atomic_int done;
    struct dist_job *next;
} dist_job;

struct dagl_dist {
    int rank, size;
    bool mpi;                      /* a launched world: the thread and the backend are running */
    _Atomic double timeout;
    pthread_mutex_t mu;
    pthread_cond_t cv;             /* the queue got a job / a job is done */
    dist_job *head, *tail;
    pthread_t thread;
    bool thread_started;
    int64_t next_seq;              /* under mu */
    dagl_status init_status;       /* the backend's initialisation, reported by the thread */
    char init_err[DAGL_ERRMSG_SIZE];
    bool init_done;
    bool closed;                   /* dagl_dist_free ran: collectives fail at once (under mu) */
    atomic_int refs;               /* the caller's and one per graph collective (graph_nodes.c) */
    dagl_trace *trace;             /* collectives recorded as spans on lane "network" (under mu) */
    void *backend;                 /* the backend's own state (mpi_backend.c) */
};

/* Graph nodes keep the handle's memory (not its world) alive: after dagl_dist_free their
 * collectives fail instead of touching freed memory. */
void dagl__dist_retain(dagl_dist *d);
void dagl__dist_release(dagl_dist *d);

/* The name of a job kind ("allreduce") and of a reduction ("sum"). */
const char *dagl__dist_kind_name(int kind);
const char *dagl__dist_op_name(dagl_dist_op op);

/* Queues a job (numbering collectives) on a launched world, or runs it now on a single-rank one;
 * wait blocks (on a condition, not spinning) until it is done and returns its status. */
void dagl__dist_submit(dagl_dist *d, dist_job *job);
dagl_status dagl__dist_wait(dagl_dist *d, dist_job *job);
/* submit + wait, copying a failure's text onto ctx. */
dagl_status dagl__dist_run(dagl_dist *d, dagl_ctx *ctx, dist_job *job);
/* Fills a job's common fields for tensor t (dtype, shape, element count). */
void dagl__dist_job_init(dist_job *job, dist_job_kind kind, const dagl_tensor *t);
/* What a single-rank world does for a collective: copies where the result has its own buffer. */
void dagl__dist_run_local(dist_job *job);
/* mean: buf[i] /= size, in buf's dtype (the communication thread does it once the sum is in). */
void dagl__dist_divide(void *buf, dagl_dtype dt, int64_t count, int size);

/* The backend, called on the communication thread only. init sets rank and size (or an error
 * into d->init_err); run does one job (its status and err); shutdown ends the world. Without
 * MPI, init fails and the others are never called. */
dagl_status dagl__backend_init(dagl_dist *d);
void dagl__backend_run(dagl_dist *d, dist_job *job);
void dagl__backend_shutdown(dagl_dist *d);

#endif
