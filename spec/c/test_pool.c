/* test_pool.c -- the work-stealing pool: every chunk runs exactly once, nested parallel_for
 * inside tasks completes (no deadlock), outside threads share the pool, work really spreads. */
#include "check.h"
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
    printf("pool: ok\n");
    return 0;
}
