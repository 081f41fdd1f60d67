/* test_lock.c -- dagl_lock from plain threads: a blocked acquire tells the contention callback,
 * a yield hands the lock to the waiter before taking it back and counts its time away as a
 * wait, and a yield nobody waits for takes the lock straight back. */
#include "check.h"
#include "dagl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

typedef struct shared {
    dagl_lock *lock;
    atomic_int told;     /* contention callbacks */
    atomic_int step;     /* 1: the other thread ran holding the lock */
    int step_seen;       /* what the other thread saw of `step` while it held the lock */
} shared;

static void on_contended(void *ud) { atomic_fetch_add(&((shared *)ud)->told, 1); }

static void nap_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Blocks in acquire while the main thread holds the lock, then holds it for 20 ms. */
static void *other(void *p)
{
    shared *s = p;
    dagl_lock_acquire(s->lock);
    s->step_seen = atomic_load(&s->step);
    atomic_store(&s->step, 1);
    nap_ms(20);
    dagl_lock_release(s->lock);
    return NULL;
}

int main(void)
{
    shared s = {0};
    CHECK_OK(dagl_lock_new(&s.lock));
    dagl_lock_set_contended(s.lock, on_contended, &s);

    /* nobody waits: the yield takes the lock straight back, without a wait */
    dagl_lock_acquire(s.lock);
    dagl_lock_yield(s.lock);
    dagl_lock_stats st;
    dagl_lock_get_stats(s.lock, &st);
    CHECK(st.contended == 0 && st.acquisitions == 2 && atomic_load(&s.told) == 0);

    /* a thread blocks: the holder is told, and its yield lets that thread go first */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other, &s) == 0);
    while (dagl_lock_waiters(s.lock) == 0) nap_ms(1);
    CHECK(atomic_load(&s.told) == 1);
    dagl_lock_reset_stats(s.lock);
    dagl_lock_yield(s.lock);
    CHECK(atomic_load(&s.step) == 1 && s.step_seen == 0); /* it held the lock in between */
    dagl_lock_get_stats(s.lock, &st);
    CHECK(st.contended == 1 && st.acquisitions == 2);
    CHECK(st.wait_seconds >= 0.015); /* the yield waited out the other thread's 20 ms hold */
    CHECK(atomic_load(&s.told) == 2); /* the yielding thread was about to wait too */
    dagl_lock_release(s.lock);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(dagl_lock_waiters(s.lock) == 0);
    dagl_lock_free(s.lock);
    printf("test_lock: ok\n");
    return 0;
}
