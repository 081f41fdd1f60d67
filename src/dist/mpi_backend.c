/* mpi_backend.c -- the MPI side of the communication thread (the only file that includes
 * mpi.h): fingerprints checked before data moves, non-blocking collectives polled with MPI_Test
 * against a deadline, and notices (a rank failed, a rank leaves) that peers watch for while they
 * wait, so a dead or failing rank makes the others fail with its name instead of hanging.
 * Without MPI (DAGL_HAVE_MPI unset) initialisation fails and a launched world is refused. */
#include "dist/dist.h"

#include <stdio.h>
#include <string.h>

#ifndef DAGL_HAVE_MPI

dagl_status dagl__backend_init(dagl_dist *d)
{
    snprintf(d->init_err, sizeof d->init_err, "dagl was built without MPI");
    return DAGL_E_ARG;
}
void dagl__backend_run(dagl_dist *d, dist_job *job) { (void)d, (void)job; }
void dagl__backend_shutdown(dagl_dist *d) { (void)d; }

#else

#include <mpi.h>
#include <stdlib.h>
#include <sched.h>
#include <time.h>

enum { TAG_FINGERPRINT = 7101, TAG_NOTICE = 7102 };
enum { NOTE_NONE = 0, NOTE_FAIL, NOTE_LEAVE };

/* What every rank tells every other before a collective. */
typedef struct fingerprint {
    int64_t seq;
    int32_t kind, op, dtype, ndim, root, pad;
    int64_t shape[DAGL_MAX_DIMS];
} fingerprint;

/* A rank's last word: it failed (with its error) or it leaves, after `done` collectives. */
typedef struct notice {
    int32_t kind, pad;
    int64_t done;
    char text[448];
} notice;

typedef struct backend {
    int64_t done;            /* the sequence number of the last collective over on this rank */
    MPI_Request *note_req;   /* per peer: the posted receive of its notice (MPI_REQUEST_NULL: got it) */
    notice *notes;           /* per peer: what it said (kind NOTE_NONE: nothing yet) */
    bool sent_notice;        /* this rank told its peers (FAIL or LEAVE): once */
    bool broken;             /* requests were left pending (a timeout): out of step for good */
    char broken_why[DAGL_ERRMSG_SIZE];
    fingerprint *fps;        /* per rank, for the exchange */
    MPI_Request *reqs;       /* 2 per rank */
} backend;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The waiting of the polling loops, by time since the wait began (t0): the first 2 ms poll
 * with sched_yield between tests (a large message needs a progress call per fragment, so naps
 * would slow it down, and yielding leaves the core to compute threads that want it), later
 * naps growing to 1 ms, so a long wait for a late rank costs little CPU. */
static void backoff(double t0)
{
    double waited = now_s() - t0;
    if (waited < 2e-3) {
        sched_yield();
        return;
    }
    long ns = waited < 20e-3 ? 50000 : waited < 200e-3 ? 200000 : 1000000;
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

static MPI_Datatype mpi_type(dagl_dtype dt)
{
    return dt == DAGL_F32 ? MPI_FLOAT : dt == DAGL_F64 ? MPI_DOUBLE : MPI_INT64_T;
}

dagl_status dagl__backend_init(dagl_dist *d)
{
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
        snprintf(d->init_err, sizeof d->init_err, "MPI_Init_thread failed");
        return DAGL_E_INTERNAL;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    backend *b = calloc(1, sizeof *b);
    int n = d->size;
    if (b) {
        b->note_req = malloc(sizeof *b->note_req * (size_t)n);
        b->notes = calloc((size_t)n, sizeof *b->notes);
        b->fps = calloc((size_t)n, sizeof *b->fps);
        b->reqs = malloc(sizeof *b->reqs * 2 * (size_t)n);
    }
    if (!b || !b->note_req || !b->notes || !b->fps || !b->reqs) {
        snprintf(d->init_err, sizeof d->init_err, "out of memory");
        MPI_Abort(MPI_COMM_WORLD, 1); /* half-joined: the peers would wait for this rank forever */
        return DAGL_E_NOMEM;
    }
    for (int r = 0; r < n; r++) {
        b->note_req[r] = MPI_REQUEST_NULL;
        if (r != d->rank) MPI_Irecv(&b->notes[r], sizeof(notice), MPI_BYTE, r, TAG_NOTICE, MPI_COMM_WORLD, &b->note_req[r]);
    }
    d->backend = b;
    return DAGL_OK;
}

/* Looks for notices that arrived; returns the first peer whose notice says it will not take part
 * in collective `seq` (it failed or left having done fewer), or -1. */
static int check_notices(dagl_dist *d, backend *b, int64_t seq)
{
    for (int r = 0; r < d->size; r++) {
        if (b->note_req[r] != MPI_REQUEST_NULL) {
            int flag = 0;
            MPI_Test(&b->note_req[r], &flag, MPI_STATUS_IGNORE);
        }
        if (b->note_req[r] == MPI_REQUEST_NULL && r != d->rank && b->notes[r].kind != NOTE_NONE &&
            b->notes[r].done < seq)
            return r;
    }
    return -1;
}

/* The error of a collective that peer r's notice stopped. */
static void notice_error(dist_job *job, backend *b, int r, const char *what)
{
    notice *nt = &b->notes[r];
    nt->text[sizeof nt->text - 1] = 0;
    job->status = DAGL_E_INTERNAL;
    if (nt->kind == NOTE_FAIL)
        snprintf(job->err, sizeof job->err, "%s (collective %lld): rank %d failed: %s", what, (long long)job->seq, r,
                 nt->text);
    else
        snprintf(job->err, sizeof job->err,
                 "%s (collective %lld): rank %d has shut down after %lld collectives (the ranks ran different "
                 "numbers of collectives)",
                 what, (long long)job->seq, r, (long long)nt->done);
}

/* Polls reqs[0..n-1] until all are complete, a notice stops the collective (-2 - rank) or the
 * deadline passes (-1); 0 when done. */
static int poll_all(dagl_dist *d, backend *b, MPI_Request *reqs, int n, int64_t seq, double deadline)
{
    double t0 = now_s();
    for (;;) {
        int flag = 0;
        MPI_Testall(n, reqs, &flag, MPI_STATUSES_IGNORE);
        if (flag) return 0;
        int r = check_notices(d, b, seq);
        if (r >= 0) return -2 - r;
        if (now_s() > deadline) return -1;
        backoff(t0);
    }
}

/* Cancels the receives among reqs still pending (a peer that never sent); sends are left to
 * complete. Returns whether everything is complete now (else the world is out of step). */
static bool drop_pending(MPI_Request *reqs, int n, bool *is_recv)
{
    bool clean = true;
    for (int i = 0; i < n; i++) {
        if (reqs[i] == MPI_REQUEST_NULL) continue;
        if (is_recv[i]) {
            MPI_Cancel(&reqs[i]);
            MPI_Wait(&reqs[i], MPI_STATUS_IGNORE);
        } else {
            int flag = 0;
            MPI_Test(&reqs[i], &flag, MPI_STATUS_IGNORE);
            if (!flag) clean = false;
        }
    }
    return clean;
}

static void set_broken(backend *b, const char *why)
{
    if (b->broken) return;
    b->broken = true;
    snprintf(b->broken_why, sizeof b->broken_why, "%s", why);
}

/* "float32 [3, 4]" */
static const char *describe(const fingerprint *f, char *buf, size_t size)
{
    char s[160];
    snprintf(buf, size, "%s %s", dagl_dtype_name((dagl_dtype)f->dtype), dagl_shape_str(f->ndim, f->shape, s, sizeof s));
    return buf;
}

/* Compares every rank's fingerprint with rank 0's (so every rank reports the same pair); 0 when
 * all agree, else the job's error is set. */
static int compare_fingerprints(dagl_dist *d, backend *b, dist_job *job)
{
    const fingerprint *f0 = &b->fps[0];
    for (int r = 1; r < d->size; r++) {
        const fingerprint *f = &b->fps[r];
        char s0[200], s1[200];
        const char *what = dagl__dist_kind_name(f0->kind);
        job->status = DAGL_E_SHAPE;
        if (f->kind != f0->kind || f->seq != f0->seq) {
            snprintf(job->err, sizeof job->err,
                     "collective %lld: rank 0 calls %s (its collective %lld) and rank %d calls %s (its collective %lld); "
                     "every rank must issue the same collectives in the same order (no data was sent)",
                     (long long)job->seq, what, (long long)f0->seq, r, dagl__dist_kind_name(f->kind), (long long)f->seq);
            return -1;
        }
        if (f0->kind == JOB_BARRIER) continue;
        if (f->dtype != f0->dtype || f->ndim != f0->ndim || memcmp(f->shape, f0->shape, sizeof(int64_t) * (size_t)f->ndim)) {
            snprintf(job->err, sizeof job->err,
                     "%s (collective %lld): rank 0 has %.150s and rank %d has %.150s; the tensors must have the same dtype and "
                     "shape on every rank (no data was sent)",
                     what, (long long)job->seq, describe(f0, s0, sizeof s0), r, describe(f, s1, sizeof s1));
            return -1;
        }
        if ((f0->kind == JOB_ALLREDUCE || f0->kind == JOB_REDUCE_SCATTER) && f->op != f0->op) {
            snprintf(job->err, sizeof job->err, "%s (collective %lld): rank 0 reduces with %s and rank %d with %s (no data was sent)",
                     what, (long long)job->seq, dagl__dist_op_name(f0->op), r, dagl__dist_op_name(f->op));
            return -1;
        }
        if (f0->kind == JOB_BROADCAST && f->root != f0->root) {
            snprintf(job->err, sizeof job->err,
                     "broadcast (collective %lld): rank 0 broadcasts from rank %d and rank %d from rank %d (no data was sent)",
                     (long long)job->seq, f0->root, r, f->root);
            return -1;
        }
    }
    job->status = DAGL_OK;
    return 0;
}

/* Phase 1: every rank sends its fingerprint to every other and receives theirs. */
static int exchange_fingerprints(dagl_dist *d, backend *b, dist_job *job, double deadline)
{
    const char *what = dagl__dist_kind_name(job->kind);
    fingerprint mine = {.seq = job->seq, .kind = job->kind, .op = job->op, .dtype = job->dtype, .ndim = job->ndim,
                        .root = job->root};
    memcpy(mine.shape, job->shape, sizeof mine.shape);
    int n = 0;
    bool *recv = calloc(2 * (size_t)d->size, sizeof *recv);
    if (!recv) {
        job->status = DAGL_E_NOMEM;
        snprintf(job->err, sizeof job->err, "%s: out of memory", what);
        return -1;
    }
    b->fps[d->rank] = mine;
    for (int r = 0; r < d->size; r++) {
        if (r == d->rank) continue;
        recv[n] = true;
        MPI_Irecv(&b->fps[r], sizeof(fingerprint), MPI_BYTE, r, TAG_FINGERPRINT, MPI_COMM_WORLD, &b->reqs[n++]);
        recv[n] = false;
        MPI_Isend(&mine, sizeof(fingerprint), MPI_BYTE, r, TAG_FINGERPRINT, MPI_COMM_WORLD, &b->reqs[n++]);
    }
    int res = poll_all(d, b, b->reqs, n, job->seq, deadline);
    if (res == 0) {
        free(recv);
        return compare_fingerprints(d, b, job);
    }
    job->status = DAGL_E_INTERNAL;
    if (res <= -2) {
        notice_error(job, b, -2 - res, what);
    } else {
        char missing[200] = "";
        size_t len = 0;
        for (int i = 0, r = 0; i < n; i += 2, r++) {
            if (r == d->rank) r++;
            if (b->reqs[i] != MPI_REQUEST_NULL && len < sizeof missing - 16)
                len += (size_t)snprintf(missing + len, sizeof missing - len, "%s%d", len ? ", " : "", r);
        }
        snprintf(job->err, sizeof job->err,
                 "%s (collective %lld): no answer from rank %s within %g s (slow, stuck or dead; "
                 "DAGL_DIST_TIMEOUT or dagl.dist.init{timeout=} sets the limit)",
                 what, (long long)job->seq, len ? missing : "?", atomic_load(&d->timeout));
        set_broken(b, job->err);
    }
    if (!drop_pending(b->reqs, n, recv)) set_broken(b, job->err);
    free(recv);
    return -1;
}

/* Phase 2: the data, with non-blocking collectives. Sums of more than two ranks are reduced to
 * rank 0 and broadcast, so every rank gets the same bits (an allreduce need not give them). */
static void move_data(dagl_dist *d, backend *b, dist_job *job, double deadline)
{
    const char *what = dagl__dist_kind_name(job->kind);
    MPI_Datatype ty = mpi_type(job->dtype);
    MPI_Op op = job->op == DAGL_DIST_MAX ? MPI_MAX : MPI_SUM;
    int count = (int)job->count;
    MPI_Request req[1] = {MPI_REQUEST_NULL};
    int rc = MPI_SUCCESS, steps = 1;
    for (int step = 0; step < steps && rc == MPI_SUCCESS; step++) {
        switch (job->kind) {
        case JOB_ALLREDUCE:
            if (d->size <= 2) rc = MPI_Iallreduce(MPI_IN_PLACE, job->buf, count, ty, op, MPI_COMM_WORLD, req);
            else if (step == 0) {
                steps = 2;
                rc = MPI_Ireduce(d->rank == 0 ? MPI_IN_PLACE : job->buf, job->buf, count, ty, op, 0, MPI_COMM_WORLD, req);
            } else rc = MPI_Ibcast(job->buf, count, ty, 0, MPI_COMM_WORLD, req);
            break;
        case JOB_BROADCAST: rc = MPI_Ibcast(job->buf, count, ty, job->root, MPI_COMM_WORLD, req); break;
        case JOB_ALLGATHER: rc = MPI_Iallgather(job->buf, count, ty, job->rbuf, count, ty, MPI_COMM_WORLD, req); break;
        case JOB_REDUCE_SCATTER:
            rc = MPI_Ireduce_scatter_block(job->buf, job->rbuf, count / d->size, ty, op, MPI_COMM_WORLD, req);
            break;
        default: rc = MPI_Ibarrier(MPI_COMM_WORLD, req); break;
        }
        if (rc != MPI_SUCCESS) break;
        int res = poll_all(d, b, req, 1, job->seq, deadline);
        if (res == 0) continue;
        job->status = DAGL_E_INTERNAL;
        if (res <= -2) notice_error(job, b, -2 - res, what);
        else
            snprintf(job->err, sizeof job->err,
                     "%s (collective %lld): the data did not arrive within %g s (a rank is slow, stuck or dead)", what,
                     (long long)job->seq, atomic_load(&d->timeout));
        set_broken(b, job->err);
        return;
    }
    if (rc != MPI_SUCCESS) {
        char es[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(rc, es, &len);
        job->status = DAGL_E_INTERNAL;
        snprintf(job->err, sizeof job->err, "%s (collective %lld): MPI error: %s", what, (long long)job->seq, es);
        set_broken(b, job->err);
    }
}

/* Sends notice kind/text to every peer (once per rank's life) and waits for the sends. */
static void send_notice(dagl_dist *d, backend *b, int kind, const char *text)
{
    if (b->sent_notice || d->size == 1) return;
    b->sent_notice = true;
    notice nt = {.kind = kind, .done = b->done};
    snprintf(nt.text, sizeof nt.text, "%s", text ? text : "");
    MPI_Request *reqs = malloc(sizeof *reqs * (size_t)d->size);
    if (!reqs) return;
    int n = 0;
    for (int r = 0; r < d->size; r++)
        if (r != d->rank) MPI_Isend(&nt, sizeof nt, MPI_BYTE, r, TAG_NOTICE, MPI_COMM_WORLD, &reqs[n++]);
    double t0 = now_s(), deadline = t0 + atomic_load(&d->timeout);
    for (;;) {
        int flag = 0;
        MPI_Testall(n, reqs, &flag, MPI_STATUSES_IGNORE);
        if (flag) break;
        if (now_s() > deadline) {
            set_broken(b, "a notice to the other ranks could not be sent");
            break;
        }
        backoff(t0);
    }
    free(reqs);
}

void dagl__backend_run(dagl_dist *d, dist_job *job)
{
    backend *b = d->backend;
    const char *what = dagl__dist_kind_name(job->kind);
    if (job->kind == JOB_FAIL) {
        send_notice(d, b, NOTE_FAIL, job->text);
        return;
    }
    if (b->broken) {
        job->status = DAGL_E_INTERNAL;
        snprintf(job->err, sizeof job->err, "%s (collective %lld): the ranks are out of step since: %.400s", what,
                 (long long)job->seq, b->broken_why);
        return;
    }
    int r = d->size > 1 ? check_notices(d, b, job->seq) : -1;
    if (r >= 0) {
        notice_error(job, b, r, what);
        return;
    }
    if (d->size == 1) {
        dagl__dist_run_local(job);
    } else {
        double deadline = now_s() + atomic_load(&d->timeout);
        if (exchange_fingerprints(d, b, job, deadline) == 0) move_data(d, b, job, deadline);
        /* mean: here, off the caller's and the graph workers' time */
        if (!job->status && job->op == DAGL_DIST_MEAN && job->kind == JOB_ALLREDUCE)
            dagl__dist_divide(job->buf, job->dtype, job->count, d->size);
        if (!job->status && job->op == DAGL_DIST_MEAN && job->kind == JOB_REDUCE_SCATTER)
            dagl__dist_divide(job->rbuf, job->dtype, job->count / d->size, d->size);
    }
    /* this collective is over on this rank, done or refused alike (a mismatch is refused on
     * every rank): a notice saying so tells the peers not to wait for it */
    b->done = job->seq;
}

void dagl__backend_shutdown(dagl_dist *d)
{
    backend *b = d->backend;
    send_notice(d, b, NOTE_LEAVE, "");
    /* every peer's notice, so nobody finalizes while another still waits on it */
    double t0 = now_s(), deadline = t0 + atomic_load(&d->timeout);
    int missing = -1;
    while (!b->broken) {
        missing = -1;
        for (int r = 0; r < d->size; r++) {
            if (b->note_req[r] == MPI_REQUEST_NULL) continue;
            int flag = 0;
            MPI_Test(&b->note_req[r], &flag, MPI_STATUS_IGNORE);
            if (!flag && missing < 0) missing = r;
        }
        if (missing < 0) break;
        if (now_s() > deadline) {
            char why[200];
            snprintf(why, sizeof why, "rank %d did not say it leaves within %g s", missing, atomic_load(&d->timeout));
            set_broken(b, why);
            break;
        }
        backoff(t0);
    }
    if (b->broken) {
        fprintf(stderr, "dagl: rank %d: %s; ending the MPI job (MPI_Abort)\n", d->rank, b->broken_why);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Finalize();
    free(b->note_req);
    free(b->notes);
    free(b->fps);
    free(b->reqs);
    free(b);
    d->backend = NULL;
}

#endif
