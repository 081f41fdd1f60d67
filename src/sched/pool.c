/* pool.c -- the work-stealing thread pool. Each worker owns a deque (owner pushes and pops at
 * the bottom, thieves take from the top); threads outside the pool share deque 0. Idle workers
 * spin a bounded time, then sleep on a condition variable until work is queued. */
#include "pool.h"
#include "core/internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#define WORKER_SPIN_US 1000 /* an idle worker looks for work this long before it sleeps: longer than
                            * the gap between two training steps (the Lua code between runs, ~0.1
                            * ms), so a step does not start with a worker's wake-up (~40 us here) */
#define WAIT_SPIN_US 200   /* a thread waiting for its job spins this long, */
#define WAIT_YIELD_US 2000 /* then yields the core up to this long, then naps */

typedef struct task {
    dagl_task_fn fn;
    void *arg;
    dagl_job *job;
    int ith, nth;
} task;

typedef struct deque {
    pthread_mutex_t mu;
    task *buf;
    int cap, top, bottom; /* tasks are buf[top % cap .. bottom % cap) */
} deque;

typedef struct worker_arg {
    dagl_pool *pool;
    int id;
} worker_arg;

struct dagl_pool {
    int n;                  /* deques (and worker ids); fixed before any thread starts */
    int started;            /* OS threads actually running, to join */
    pthread_t *threads;
    worker_arg *args;
    deque *q;               /* n deques: q[0] for outside threads, q[i] for worker i */
    atomic_int queued;      /* tasks sitting in deques */
    atomic_int sleepers;
    atomic_bool stop;
    pthread_mutex_t sleep_mu;
    pthread_cond_t sleep_cv;
    atomic_llong tasks_run, steals, sleeps;
};

/* Which pool and worker the current thread is, so nested calls use their own deque. */
static _Thread_local worker_arg self;

int dagl_pool_worker_id(const dagl_pool *pool) { return self.pool == pool ? self.id : -1; }

int dagl__pool_current_worker(void) { return self.pool ? self.id : 0; }
/* Workers the pool was made for, the calling thread included (its number of deques). */
int dagl_pool_size(const dagl_pool *pool) { return pool->n; }

/* Appends at the bottom, growing the ring when full. */
static void deque_push(deque *d, task t)
{
    pthread_mutex_lock(&d->mu);
    if (d->bottom - d->top == d->cap) {
        int ncap = d->cap ? d->cap * 2 : 64;
        task *nb = malloc(sizeof *nb * (size_t)ncap);
        if (!nb) abort(); /* a few bytes per queued task: nothing sensible to recover */
        for (int i = d->top; i < d->bottom; i++) nb[i - d->top] = d->buf[i % d->cap];
        free(d->buf);
        d->buf = nb;
        d->bottom -= d->top;
        d->top = 0;
        d->cap = ncap;
    }
    d->buf[d->bottom++ % d->cap] = t;
    pthread_mutex_unlock(&d->mu);
}

/* Owner side: newest first (keeps caches warm, gets its own chunks back first). */
static bool deque_pop(deque *d, task *t)
{
    bool ok = false;
    pthread_mutex_lock(&d->mu);
    if (d->bottom > d->top) {
        *t = d->buf[--d->bottom % d->cap];
        ok = true;
    }
    pthread_mutex_unlock(&d->mu);
    return ok;
}

/* Thief side: oldest first. */
static bool deque_steal(deque *d, task *t)
{
    bool ok = false;
    if (pthread_mutex_trylock(&d->mu)) return false;
    if (d->bottom > d->top) {
        *t = d->buf[d->top++ % d->cap];
        ok = true;
    }
    pthread_mutex_unlock(&d->mu);
    return ok;
}

/* The deque the calling thread uses: its own as a worker, deque 0 for threads outside the pool. */
static int my_queue(const dagl_pool *pool)
{
    int id = dagl_pool_worker_id(pool);
    return id < 0 ? 0 : id;
}

/* Own deque first, then the others from the next one on. */
static bool find_task(dagl_pool *pool, task *t)
{
    if (atomic_load_explicit(&pool->queued, memory_order_relaxed) == 0) return false;
    int me = my_queue(pool);
    if (deque_pop(&pool->q[me], t)) goto found;
    for (int k = 1; k < pool->n; k++) {
        if (deque_steal(&pool->q[(me + k) % pool->n], t)) {
            atomic_fetch_add_explicit(&pool->steals, 1, memory_order_relaxed);
            goto found;
        }
    }
    return false;
found:
    atomic_fetch_sub(&pool->queued, 1);
    return true;
}

/* Runs one task and marks it done in its job, which is what dagl_pool_wait watches. */
static void run_task(dagl_pool *pool, const task *t)
{
    t->fn(t->arg, t->ith, t->nth);
    atomic_fetch_add_explicit(&pool->tasks_run, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&t->job->pending, 1, memory_order_acq_rel);
}

/* The spin-wait hint (x86 pause), which eases the core for its sibling thread while polling. */
static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Sleeps until work is queued or the pool stops; the queued/sleepers pair is checked in
 * opposite orders by sleeper and submitter (both seq_cst), so no wake-up is lost. */
static void sleep_until_work(dagl_pool *pool)
{
    pthread_mutex_lock(&pool->sleep_mu);
    atomic_fetch_add(&pool->sleepers, 1);
    while (!atomic_load(&pool->stop) && atomic_load(&pool->queued) == 0) {
        atomic_fetch_add_explicit(&pool->sleeps, 1, memory_order_relaxed);
        pthread_cond_wait(&pool->sleep_cv, &pool->sleep_mu);
    }
    atomic_fetch_sub(&pool->sleepers, 1);
    pthread_mutex_unlock(&pool->sleep_mu);
}

static int64_t now_us(void);

/* The loop of each pool thread: looks for work for WORKER_SPIN_US before it sleeps, so short gaps
 * between tasks and between runs cost no wake-up (timed, not counted: pause lasts 10 to 140
 * cycles across CPUs). */
static void *worker_main(void *p)
{
    worker_arg *wa = p;
    dagl_pool *pool = wa->pool;
    self = *wa;
    while (!atomic_load_explicit(&pool->stop, memory_order_acquire)) {
        task t;
        bool got = false;
        int64_t since = now_us();
        for (unsigned spin = 1; !got; spin++) {
            if ((got = find_task(pool, &t))) break;
            if (atomic_load_explicit(&pool->stop, memory_order_relaxed)) return NULL;
            cpu_relax();
            if (spin % 64 == 0 && now_us() - since >= WORKER_SPIN_US) break;
        }
        if (got) run_task(pool, &t);
        else sleep_until_work(pool);
    }
    return NULL;
}

void dagl_pool_submit(dagl_pool *pool, dagl_job *job, dagl_task_fn fn, void *arg, int ith, int nth)
{
    task t = {fn, arg, job, ith, nth};
    deque_push(&pool->q[my_queue(pool)], t);
    atomic_fetch_add(&pool->queued, 1);
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->sleep_mu);
        pthread_cond_signal(&pool->sleep_cv);
        pthread_mutex_unlock(&pool->sleep_mu);
    }
}

/* Monotonic microseconds, for the waiting thread's spin budget. */
static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Helps with queued work while the job is unfinished; with nothing to take, spins (the last
 * node of a run usually ends within microseconds, and a nap would add its whole wake-up latency
 * to the run), then yields, then naps, so a long wait does not burn a core. The phases are timed,
 * not counted, as pause lasts from 10 to 140 cycles across CPUs. */
void dagl_pool_wait(dagl_pool *pool, dagl_job *job)
{
    int64_t idle_since = -1;
    for (unsigned k = 0; atomic_load_explicit(&job->pending, memory_order_acquire) > 0; k++) {
        task t;
        if (find_task(pool, &t)) {
            run_task(pool, &t);
            idle_since = -1;
            continue;
        }
        cpu_relax();
        if (k % 64) continue;
        int64_t now = now_us();
        if (idle_since < 0) idle_since = now;
        if (now - idle_since < WAIT_SPIN_US) continue;
        if (now - idle_since < WAIT_YIELD_US) {
            sched_yield();
        } else {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
        }
    }
}

void dagl_pool_parallel_for(dagl_pool *pool, dagl_task_fn fn, void *arg, int nth)
{
    if (nth <= 1 || !pool || pool->n == 1) {
        for (int i = 0; i < nth; i++) fn(arg, i, nth);
        return;
    }
    dagl_job job;
    atomic_init(&job.pending, nth - 1);
    for (int i = nth - 1; i >= 1; i--) dagl_pool_submit(pool, &job, fn, arg, i, nth);
    fn(arg, 0, nth);
    dagl_pool_wait(pool, &job);
}

dagl_status dagl_pool_new(int nthreads, dagl_pool **out)
{
    *out = NULL;
    if (nthreads < 1) nthreads = 1;
    dagl_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return DAGL_E_NOMEM;
    pool->n = nthreads;
    pool->q = calloc((size_t)nthreads, sizeof *pool->q);
    pool->threads = calloc((size_t)nthreads, sizeof *pool->threads);
    pool->args = calloc((size_t)nthreads, sizeof *pool->args);
    if (!pool->q || !pool->threads || !pool->args) {
        free(pool->q);
        free(pool->threads);
        free(pool->args);
        free(pool);
        return DAGL_E_NOMEM;
    }
    for (int i = 0; i < nthreads; i++) pthread_mutex_init(&pool->q[i].mu, NULL);
    pthread_mutex_init(&pool->sleep_mu, NULL);
    pthread_cond_init(&pool->sleep_cv, NULL);
    /* With fewer threads than deques (the OS refused some) all work is still found by stealing. */
    for (int i = 1; i < nthreads; i++) pool->args[i] = (worker_arg){pool, i};
    pool->started = 1;
    while (pool->started < nthreads &&
           dagl__thread_start(&pool->threads[pool->started], worker_main, &pool->args[pool->started]) == 0)
        pool->started++;
    *out = pool;
    return DAGL_OK;
}

/* Wakes the sleepers to see `stop`, joins the threads and frees the deques; tasks still queued are
 * dropped, not run. */
void dagl_pool_free(dagl_pool *pool)
{
    if (!pool) return;
    pthread_mutex_lock(&pool->sleep_mu);
    atomic_store(&pool->stop, true);
    pthread_cond_broadcast(&pool->sleep_cv);
    pthread_mutex_unlock(&pool->sleep_mu);
    for (int i = 1; i < pool->started; i++) pthread_join(pool->threads[i], NULL);
    for (int i = 0; i < pool->n; i++) {
        pthread_mutex_destroy(&pool->q[i].mu);
        free(pool->q[i].buf);
    }
    pthread_mutex_destroy(&pool->sleep_mu);
    pthread_cond_destroy(&pool->sleep_cv);
    free(pool->q);
    free(pool->threads);
    free(pool->args);
    free(pool);
}

void dagl_pool_get_stats(dagl_pool *pool, dagl_pool_stats *out)
{
    out->tasks_run = atomic_load(&pool->tasks_run);
    out->steals = atomic_load(&pool->steals);
    out->sleeps = atomic_load(&pool->sleeps);
}
