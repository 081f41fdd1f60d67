/* comm_thread.c -- the dagl_dist handle and its communication thread: one thread per handle
 * makes every MPI call (MPI_THREAD_SERIALIZED), taking jobs from a FIFO queue in the order they
 * were submitted, so collectives leave every rank in one fixed order and no caller or graph
 * worker ever calls MPI or spins on the network. A single-rank world has no thread: its jobs
 * run at once in the caller. */
#include "dist/dist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MPI may be initialised once per process: set when a handle first joins a launched world. */
static atomic_int mpi_taken;

int dagl_dist_have_mpi(void)
{
#ifdef DAGL_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

const char *dagl__dist_kind_name(int kind)
{
    static const char *const names[JOB_KIND_COUNT] = {"allreduce", "broadcast", "allgather", "reduce_scatter",
                                                      "barrier", "fail", "shutdown"};
    return kind >= 0 && kind < JOB_KIND_COUNT ? names[kind] : "?";
}

const char *dagl__dist_op_name(dagl_dist_op op)
{
    static const char *const names[DAGL_DIST_OP_COUNT] = {"sum", "mean", "max"};
    return (unsigned)op < DAGL_DIST_OP_COUNT ? names[op] : "?";
}

/* From the environment (Open MPI, PMIx, MPICH/Hydra): without a launcher dagl never calls
 * MPI_Init, which would try to start a singleton runtime (slow, and able to hang). */
int dagl_dist_launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v) > 0 ? atoi(v) : 1;
    }
    if (getenv("PMIX_RANK")) return 1; /* launched, size unknown until MPI_Init */
    return 0;
}

/* DAGL_DIST_TIMEOUT (seconds) when set to a positive number, else 60. */
static double default_timeout(void)
{
    const char *v = getenv("DAGL_DIST_TIMEOUT");
    double t = v ? atof(v) : 0;
    return t > 0 && isfinite(t) ? t : 60.0;
}

/* Records a finished collective on the trace's "network" lane, if one is attached: what,
 * its number, its size, and whether it failed. */
static void record_span(dagl_dist *d, const dist_job *job, int64_t t0)
{
    if (job->kind > JOB_BARRIER) return;
    pthread_mutex_lock(&d->mu);
    if (d->trace) {
        char name[96], size[32];
        double b = job->kind == JOB_BARRIER ? 0 : (double)job->count * (double)dagl_dtype_size(job->dtype);
        if (b < 1024) snprintf(size, sizeof size, "%.0f B", b);
        else if (b < 1024 * 1024) snprintf(size, sizeof size, "%.1f KB", b / 1024);
        else snprintf(size, sizeof size, "%.2f MB", b / (1024.0 * 1024.0));
        snprintf(name, sizeof name, "%s #%lld %s%s", dagl__dist_kind_name(job->kind), (long long)job->seq, size,
                 job->status ? " (failed)" : "");
        dagl_trace_span(d->trace, "network", name, t0, dagl__now_ns());
    }
    pthread_mutex_unlock(&d->mu);
}

void dagl_dist_set_trace(dagl_dist *d, dagl_trace *tr)
{
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    d->trace = tr;
    pthread_mutex_unlock(&d->mu);
}

/* The thread's loop: initialise the backend, report, then run jobs in queue order until the
 * shutdown job. A job's lock (graph nodes) is released after it is marked done, so a parked
 * "wait" node always finds its job finished. */
static void *comm_main(void *arg)
{
    dagl_dist *d = arg;
    dagl_status st = dagl__backend_init(d);
    pthread_mutex_lock(&d->mu);
    d->init_status = st;
    d->init_done = true;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (st) return NULL;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        while (!d->head) pthread_cond_wait(&d->cv, &d->mu);
        dist_job *job = d->head;
        d->head = job->next;
        if (!d->head) d->tail = NULL;
        pthread_mutex_unlock(&d->mu);
        bool last = job->kind == JOB_SHUTDOWN;
        int64_t t0 = dagl__now_ns();
        if (last) dagl__backend_shutdown(d);
        else dagl__backend_run(d, job);
        record_span(d, job, t0);
        dagl_lock *l = job->release;
        pthread_mutex_lock(&d->mu);
        atomic_store(&job->done, 1);
        pthread_cond_broadcast(&d->cv);
        pthread_mutex_unlock(&d->mu);
        if (l) dagl_lock_release(l);
        if (last) return NULL;
    }
}

dagl_status dagl_dist_new(dagl_ctx *ctx, const dagl_dist_options *opt, dagl_dist **out)
{
    if (!ctx || !out) return ctx ? dagl_ctx_set_error(ctx, DAGL_E_ARG, "dist_new: out is NULL") : DAGL_E_ARG;
    *out = NULL;
    if (opt && (!(opt->timeout >= 0) || !isfinite(opt->timeout)))
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "dist_new: timeout must be a positive number of seconds, got %g",
                                  opt->timeout);
    int launched = dagl_dist_launched();
    if (launched > 1 && !dagl_dist_have_mpi())
        return dagl_ctx_set_error(ctx, DAGL_E_ARG,
                                  "dist_new: started by an MPI launcher with %d ranks, but dagl was built without MPI "
                                  "(install libopenmpi-dev and rebuild); each rank would train alone",
                                  launched);
    dagl_dist *d = calloc(1, sizeof *d);
    if (!d) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "dist_new: out of memory");
    d->rank = 0;
    d->size = 1;
    atomic_init(&d->timeout, opt && opt->timeout > 0 ? opt->timeout : default_timeout());
    atomic_init(&d->refs, 1);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    if (launched > 0) {
        if (atomic_exchange(&mpi_taken, 1)) {
            dagl_dist_free(d);
            return dagl_ctx_set_error(ctx, DAGL_E_ARG,
                                      "dist_new: MPI is initialised once per process and a dagl_dist already "
                                      "joined the world (share that handle)");
        }
        d->mpi = true;
        if (pthread_create(&d->thread, NULL, comm_main, d)) {
            d->mpi = false;
            dagl_dist_free(d);
            return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "dist_new: cannot start the communication thread");
        }
        d->thread_started = true;
        pthread_mutex_lock(&d->mu);
        while (!d->init_done) pthread_cond_wait(&d->cv, &d->mu);
        pthread_mutex_unlock(&d->mu);
        if (d->init_status) {
            dagl_status st = dagl_ctx_set_error(ctx, d->init_status, "dist_new: %s", d->init_err);
            pthread_join(d->thread, NULL);
            d->thread_started = false;
            d->mpi = false;
            dagl_dist_free(d);
            return st;
        }
    }
    *out = d;
    return DAGL_OK;
}

void dagl_dist_free(dagl_dist *d)
{
    if (!d) return;
    if (d->thread_started) {
        dist_job job = {.kind = JOB_SHUTDOWN};
        dagl__dist_submit(d, &job);
        dagl__dist_wait(d, &job);
        pthread_join(d->thread, NULL);
        d->thread_started = false;
    }
    pthread_mutex_lock(&d->mu);
    d->closed = true;
    pthread_mutex_unlock(&d->mu);
    dagl__dist_release(d);
}

void dagl__dist_retain(dagl_dist *d) { atomic_fetch_add(&d->refs, 1); }

void dagl__dist_release(dagl_dist *d)
{
    if (atomic_fetch_sub(&d->refs, 1) != 1) return;
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
}

dagl_status dagl_dist_fail(dagl_dist *d, const char *message)
{
    if (!d) return DAGL_E_ARG;
    dist_job job = {.kind = JOB_FAIL, .text = message ? message : "(no message)"};
    dagl__dist_submit(d, &job);
    return dagl__dist_wait(d, &job);
}

int dagl_dist_rank(const dagl_dist *d) { return d ? d->rank : 0; }
int dagl_dist_size(const dagl_dist *d) { return d ? d->size : 1; }
int dagl_dist_is_mpi(const dagl_dist *d) { return d && d->mpi; }
double dagl_dist_timeout(const dagl_dist *d) { return d ? atomic_load(&d->timeout) : 0; }

dagl_status dagl_dist_set_timeout(dagl_dist *d, double seconds)
{
    if (!d || !(seconds > 0) || !isfinite(seconds)) return DAGL_E_ARG;
    atomic_store(&d->timeout, seconds);
    return DAGL_OK;
}

int64_t dagl_dist_sequence(const dagl_dist *d)
{
    if (!d) return 0;
    pthread_mutex_lock((pthread_mutex_t *)&d->mu);
    int64_t s = d->next_seq;
    pthread_mutex_unlock((pthread_mutex_t *)&d->mu);
    return s;
}

void dagl__dist_submit(dagl_dist *d, dist_job *job)
{
    job->next = NULL;
    job->status = DAGL_OK;
    job->err[0] = 0;
    atomic_init(&job->done, 0);
    pthread_mutex_lock(&d->mu);
    bool closed = d->closed;
    pthread_mutex_unlock(&d->mu);
    if (closed) {
        job->status = DAGL_E_ARG;
        snprintf(job->err, sizeof job->err, "%s: the world was closed (dagl_dist_free, dagl.dist.close)",
                 dagl__dist_kind_name(job->kind));
        atomic_store(&job->done, 1);
        if (job->release) dagl_lock_release(job->release);
        return;
    }
    if (!d->mpi) {
        if (job->kind <= JOB_BARRIER) {
            pthread_mutex_lock(&d->mu);
            job->seq = ++d->next_seq;
            pthread_mutex_unlock(&d->mu);
            int64_t t0 = dagl__now_ns();
            dagl__dist_run_local(job);
            record_span(d, job, t0);
        }
        atomic_store(&job->done, 1);
        if (job->release) dagl_lock_release(job->release);
        return;
    }
    pthread_mutex_lock(&d->mu);
    if (job->kind <= JOB_BARRIER) job->seq = ++d->next_seq;
    if (d->tail) d->tail->next = job;
    else d->head = job;
    d->tail = job;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

dagl_status dagl__dist_wait(dagl_dist *d, dist_job *job)
{
    if (!atomic_load(&job->done)) {
        pthread_mutex_lock(&d->mu);
        while (!atomic_load(&job->done)) pthread_cond_wait(&d->cv, &d->mu);
        pthread_mutex_unlock(&d->mu);
    }
    return job->status;
}

dagl_status dagl__dist_run(dagl_dist *d, dagl_ctx *ctx, dist_job *job)
{
    dagl__dist_submit(d, job);
    dagl_status st = dagl__dist_wait(d, job);
    if (st) dagl_ctx_set_error(ctx, st, "%s", job->err);
    return st;
}
