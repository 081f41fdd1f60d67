/* lock.c -- dagl_lock: an exclusive lock with statistics (hold and wait time, contention) and
 * a queue of parked node tasks, the mechanism behind the Lua VM lock. OS threads block in
 * acquire; graph workers park their node and go on with other work. */
#include "core/internal.h"
#include "sched/lock.h"
#include "sched/trace.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

typedef struct parked {
    dagl_pool *pool;
    dagl_job *job;
    dagl_task_fn fn;
    void *arg;
    int ith;
} parked;

struct dagl_lock {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool held;
    bool handoff;            /* released to a blocked thread: nobody else may take it first */
    bool claim_pending;      /* held for a parked task handed the lock, not yet running: a
                              * blocked thread revokes it after CLAIM_GRACE_NS (see acquire) */
    int waiters;
    atomic_int demand;       /* waiters + parked tasks, readable without the mutex (the switch hook) */
    double since;            /* when it was last taken */
    parked *q;               /* parked node tasks, FIFO ring */
    int qcap, qhead, qlen;
    dagl_lock_stats st;
    dagl_trace *trace;       /* where holds and waits are recorded, or NULL */
    int trace_run;
    int holder;              /* worker lane of the current holder, for the trace */
    int64_t since_ns;
    void (*on_contended)(void *ud); /* told when a node parks or a thread waits (dagl_lock_set_contended) */
    void *contended_ud;
};

/* How long a thread blocked in acquire lets a handed-off parked task take up the lock before
 * taking it itself: normally a free worker runs the task within microseconds, but when every
 * worker is blocked in acquire nobody will, and waiting longer would deadlock. */
#define CLAIM_GRACE_NS 1000000

/* Monotonic seconds for the hold and wait statistics. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

dagl_status dagl_lock_new(dagl_lock **out)
{
    dagl_lock *l = calloc(1, sizeof *l);
    *out = l;
    if (!l) return DAGL_E_NOMEM;
    pthread_mutex_init(&l->mu, NULL);
    atomic_init(&l->demand, 0);
    dagl__cond_init_monotonic(&l->cv);
    return DAGL_OK;
}

void dagl_lock_free(dagl_lock *l)
{
    if (!l) return;
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l->q);
    free(l);
}

/* Marks the lock taken; mu is held. */
static void take(dagl_lock *l)
{
    l->held = true;
    l->since = now_s();
    l->st.acquisitions++;
    l->holder = dagl__pool_current_worker();
    if (l->trace) l->since_ns = dagl__now_ns();
}

void dagl__lock_trace(dagl_lock *l, dagl_trace *tr, int run)
{
    pthread_mutex_lock(&l->mu);
    l->trace = tr;
    l->trace_run = run;
    if (tr && l->held) l->since_ns = dagl__now_ns();
    pthread_mutex_unlock(&l->mu);
}

/* Blocks until the lock is free; the wait counts from t0 (seconds, ns: when the caller began
 * wanting the lock). A thread that finds it taken (or being handed to a waiter) tells the
 * contention callback and waits at least once, so a releaser that asks for it right back cannot
 * barge past the waiters: the switch interval's hand-over really hands over. */
static void acquire_from(dagl_lock *l, double t0, int64_t t0_ns)
{
    pthread_mutex_lock(&l->mu);
    if ((l->held || l->handoff) && l->on_contended) {
        void (*tell)(void *) = l->on_contended;
        void *ud = l->contended_ud;
        pthread_mutex_unlock(&l->mu); /* the callback may look at the lock */
        tell(ud);
        pthread_mutex_lock(&l->mu);
    }
    if (l->held || l->handoff) {
        l->st.contended++;
        l->waiters++;
        atomic_fetch_add_explicit(&l->demand, 1, memory_order_relaxed);
        do {
            if (!l->claim_pending) {
                pthread_cond_wait(&l->cv, &l->mu);
                continue;
            }
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += CLAIM_GRACE_NS;
            if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
            if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) != 0 && l->claim_pending) {
                l->claim_pending = false; /* revoked: the task re-parks when it runs */
                l->held = false;
            }
        } while (l->held);
        l->waiters--;
        atomic_fetch_sub_explicit(&l->demand, 1, memory_order_relaxed);
        l->st.wait_seconds += now_s() - t0;
        if (l->trace)
            dagl__trace_lock(l->trace, l->trace_run, dagl__pool_current_worker(), DAGL_TRACE_WAIT, t0_ns,
                             dagl__now_ns());
    }
    l->handoff = false;
    take(l);
    pthread_mutex_unlock(&l->mu);
}

void dagl_lock_acquire(dagl_lock *l)
{
    acquire_from(l, now_s(), dagl__now_ns());
}

/* The end of a holder's switch interval: the lock goes to the waiter and comes back after it.
 * The whole time without it is one wait, from the release, so a mutex or the OS delaying the
 * way back in still counts as waiting for the lock (not as work of the node that yielded). */
void dagl_lock_yield(dagl_lock *l)
{
    double t0 = now_s();
    int64_t t0_ns = dagl__now_ns();
    dagl_lock_release(l);
    acquire_from(l, t0, t0_ns);
}

int dagl_lock_try(dagl_lock *l)
{
    pthread_mutex_lock(&l->mu);
    int ok = !l->held && !l->handoff;
    if (ok) take(l);
    pthread_mutex_unlock(&l->mu);
    return ok;
}

int dagl__lock_take_or_park(dagl_lock *l, dagl_pool *pool, dagl_job *job, dagl_task_fn fn, void *arg, int ith)
{
    pthread_mutex_lock(&l->mu);
    if (!l->held && !l->handoff) {
        take(l);
        pthread_mutex_unlock(&l->mu);
        return 1;
    }
    if (l->qlen == l->qcap) {
        int nc = l->qcap ? l->qcap * 2 : 16;
        parked *nq = malloc(sizeof *nq * (size_t)nc);
        if (!nq) abort(); /* a few bytes per parked node: nothing sensible to recover */
        for (int i = 0; i < l->qlen; i++) nq[i] = l->q[(l->qhead + i) % l->qcap];
        free(l->q);
        l->q = nq;
        l->qcap = nc;
        l->qhead = 0;
    }
    atomic_fetch_add(&job->pending, 1);
    l->q[(l->qhead + l->qlen++) % l->qcap] = (parked){pool, job, fn, arg, ith};
    atomic_fetch_add_explicit(&l->demand, 1, memory_order_relaxed);
    l->st.parked++;
    void (*tell)(void *) = l->on_contended;
    void *ud = l->contended_ud;
    pthread_mutex_unlock(&l->mu);
    if (tell) tell(ud); /* the holder's switch interval now applies: someone waits */
    return 0;
}

/* A parked task that dagl_lock_release handed the lock to now runs on this worker: it takes
 * the lock up, unless a blocked thread revoked the hand-off meanwhile (returns 0 then). */
int dagl__lock_claim(dagl_lock *l)
{
    pthread_mutex_lock(&l->mu);
    int ok = l->claim_pending;
    if (ok) {
        l->claim_pending = false;
        l->since = now_s();
        l->holder = dagl__pool_current_worker();
        if (l->trace) l->since_ns = dagl__now_ns();
    }
    pthread_mutex_unlock(&l->mu);
    return ok;
}

void dagl_lock_set_contended(dagl_lock *l, void (*fn)(void *ud), void *ud)
{
    pthread_mutex_lock(&l->mu);
    l->on_contended = fn;
    l->contended_ud = ud;
    pthread_mutex_unlock(&l->mu);
}

/* Frees the lock; wakes a blocked thread, or else hands the lock itself to the oldest parked
 * task and submits it to a worker (it stays held meanwhile, so the releaser cannot take it
 * straight back: a switch-interval hand-over to a parked node really hands over). Threads
 * blocked in acquire go first: they are OS threads that cannot do anything else. */
void dagl_lock_release(dagl_lock *l)
{
    parked p = {0};
    pthread_mutex_lock(&l->mu);
    l->held = false;
    l->st.hold_seconds += now_s() - l->since;
    if (l->trace) dagl__trace_lock(l->trace, l->trace_run, l->holder, DAGL_TRACE_HOLD, l->since_ns, dagl__now_ns());
    if (l->waiters > 0) {
        l->handoff = true;
        pthread_cond_signal(&l->cv);
    } else if (l->qlen > 0) {
        p = l->q[l->qhead];
        l->qhead = (l->qhead + 1) % l->qcap;
        l->qlen--;
        atomic_fetch_sub_explicit(&l->demand, 1, memory_order_relaxed);
        l->held = true; /* now the parked task's (dagl__lock_claim) */
        l->claim_pending = true;
        l->since = now_s();
        l->st.acquisitions++;
    }
    pthread_mutex_unlock(&l->mu);
    if (p.fn) {
        dagl_pool_submit(p.pool, p.job, p.fn, p.arg, p.ith, 0);
    }
}

int dagl_lock_waiters(const dagl_lock *l)
{
    return atomic_load_explicit(&((dagl_lock *)l)->demand, memory_order_relaxed);
}

/* A copy of the counters taken under the mutex, so its fields agree with each other. */
void dagl_lock_get_stats(const dagl_lock *l, dagl_lock_stats *out)
{
    pthread_mutex_lock((pthread_mutex_t *)&l->mu);
    *out = l->st;
    pthread_mutex_unlock((pthread_mutex_t *)&l->mu);
}

/* Zeroes the counters, so a measurement (dagl.trace_start, lock_stats(true)) covers only what follows. */
void dagl_lock_reset_stats(dagl_lock *l)
{
    pthread_mutex_lock(&l->mu);
    l->st = (dagl_lock_stats){0};
    pthread_mutex_unlock(&l->mu);
}
