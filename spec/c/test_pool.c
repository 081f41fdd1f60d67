/* test_pool.c -- the work-stealing pool: every chunk runs exactly once, nested parallel_for
 * inside tasks completes (no deadlock), outside threads share the pool, work really spreads. */
#include "check.h"
#include "dagl.h"
#include "sched/pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct counts {
    atomic_int hits[64];
    atomic_int workers_seen[16];
    dagl_pool *pool;
} counts;

static void count_chunk(void *arg, int ith, int nth)
{
    counts *c = arg;
    atomic_fetch_add(&c->hits[ith], 1);
    int id = dagl_pool_worker_id(c->pool);
    atomic_fetch_add(&c->workers_seen[id < 0 ? 0 : id], 1);
    volatile double x = 0;
    for (int i = 0; i < 20000; i++) x += i * 0.5; /* enough work that others get to steal */
}

/* Each outer chunk runs an inner parallel_for: waits inside tasks must help, not block. */
static void nested_chunk(void *arg, int ith, int nth)
{
    counts *c = arg;
    counts inner = {.pool = c->pool};
    dagl_pool_parallel_for(c->pool, count_chunk, &inner, 8);
    for (int i = 0; i < 8; i++) CHECK(atomic_load(&inner.hits[i]) == 1);
    atomic_fetch_add(&c->hits[ith], 1);
}

/* What a kernel's shares saw: each share's thread, and the most shares running at once. */
typedef struct share_log {
    atomic_int hits[32], active, most;
    pthread_t thread[32];
} share_log;

static void logged_share(void *arg, int ith, int nth)
{
    (void)nth;
    share_log *l = arg;
    int now = atomic_fetch_add(&l->active, 1) + 1;
    for (int m = atomic_load(&l->most); now > m && !atomic_compare_exchange_weak(&l->most, &m, now);) {}
    atomic_fetch_add(&l->hits[ith], 1);
    l->thread[ith] = pthread_self();
    volatile double x = 0;
    for (int i = 0; i < 200000; i++) x += i * 0.5; /* long enough for other workers to join in */
    atomic_fetch_sub(&l->active, 1);
}

/* dagl_ctx_set_intra_threads: at most k workers on one kernel's shares, every share once; with 1,
 * all shares on the calling thread. */
static void intra_limits(void)
{
    dagl_ctx_options opt = {.threads = 4};
    dagl_ctx *ctx;
    CHECK(dagl_ctx_new(&opt, &ctx) == DAGL_OK);
    CHECK(dagl_ctx_intra_threads(ctx) == 0);
    CHECK(dagl_ctx_set_intra_threads(ctx, -1) == DAGL_E_ARG);
    for (int intra = 1; intra <= 3; intra++) {
        CHECK(dagl_ctx_set_intra_threads(ctx, intra) == DAGL_OK && dagl_ctx_intra_threads(ctx) == intra);
        for (int r = 0; r < 20; r++) {
            share_log l = {0};
            dagl_parallel(ctx, logged_share, &l, 32);
            for (int i = 0; i < 32; i++) CHECK(atomic_load(&l.hits[i]) == 1);
            CHECK(atomic_load(&l.most) <= intra);
            if (intra == 1)
                for (int i = 0; i < 32; i++) CHECK(pthread_equal(l.thread[i], pthread_self()));
        }
    }
    dagl_ctx_free(ctx);
}

static void *outside_thread(void *p)
{
    dagl_pool *pool = p;
    for (int r = 0; r < 50; r++) {
        counts c = {.pool = pool};
        dagl_pool_parallel_for(pool, count_chunk, &c, 16);
        for (int i = 0; i < 16; i++) CHECK(atomic_load(&c.hits[i]) == 1);
    }
    return NULL;
}

int main(void)
{
    for (int threads = 1; threads <= 4; threads++) {
        dagl_pool *pool;
        CHECK(dagl_pool_new(threads, &pool) == DAGL_OK);
        CHECK(dagl_pool_size(pool) == threads);
        CHECK(dagl_pool_worker_id(pool) == -1);

        for (int r = 0; r < 200; r++) {
            counts c = {.pool = pool};
            dagl_pool_parallel_for(pool, count_chunk, &c, 64);
            for (int i = 0; i < 64; i++) CHECK(atomic_load(&c.hits[i]) == 1);
        }

        counts c = {.pool = pool};
        dagl_pool_parallel_for(pool, nested_chunk, &c, 16);
        for (int i = 0; i < 16; i++) CHECK(atomic_load(&c.hits[i]) == 1);

        pthread_t th[3];
        for (int i = 0; i < 3; i++) CHECK(pthread_create(&th[i], NULL, outside_thread, pool) == 0);
        for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);

        if (threads > 1) {
            counts s = {.pool = pool};
            for (int r = 0; r < 50; r++) dagl_pool_parallel_for(pool, count_chunk, &s, 64);
            int used = 0;
            for (int i = 0; i < threads; i++) used += atomic_load(&s.workers_seen[i]) > 0;
            CHECK(used >= 2); /* work spread beyond the calling thread */
        }
        dagl_pool_stats st;
        dagl_pool_get_stats(pool, &st);
        printf("threads=%d tasks=%lld steals=%lld sleeps=%lld\n", threads, st.tasks_run, st.steals, st.sleeps);
        dagl_pool_free(pool);
    }
    intra_limits();
    printf("pool: ok\n");
    return 0;
}
