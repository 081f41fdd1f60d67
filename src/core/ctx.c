/* ctx.c -- the context (error text, random seed, memory) and the small name tables. Its workers
 * and thread counts are the scheduler's (src/sched/workers.c, which defines dagl_ctx_new). */
#include "internal.h"

#include <cblas.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const status_names[] = {
    "ok", "bad argument", "shape error", "dtype error", "index error", "layout error",
    "out of memory", "I/O error", "format error", "Lua error", "internal error", "interrupted",
    "numeric error",
};
_Static_assert(sizeof status_names / sizeof *status_names == DAGL_STATUS_COUNT, "status_names");

/* Gives embedders and the Lua binding a word for each status. */
const char *dagl_status_name(dagl_status s)
{
    return (unsigned)s < DAGL_STATUS_COUNT ? status_names[s] : "unknown status";
}

static const struct { const char *name; size_t size; } dtypes[] = {
    {"float32", sizeof(float)}, {"float64", sizeof(double)}, {"int64", sizeof(int64_t)}, {"uint8", 1},
};
_Static_assert(sizeof dtypes / sizeof *dtypes == DAGL_DTYPE_COUNT, "dtypes");

/* Element size, used for every byte-offset computation. */
size_t dagl_dtype_size(dagl_dtype dt) { return (unsigned)dt < DAGL_DTYPE_COUNT ? dtypes[dt].size : 0; }

/* NumPy-style names, as printed in errors and by t:dtype(). */
const char *dagl_dtype_name(dagl_dtype dt)
{
    return (unsigned)dt < DAGL_DTYPE_COUNT ? dtypes[dt].name : "unknown dtype";
}

/* Type promotion for mixed operands: f64 > f32 > i64 > u8 (the op list's rule). */
dagl_dtype dagl_dtype_promote(dagl_dtype a, dagl_dtype b)
{
    if ((unsigned)a >= DAGL_DTYPE_COUNT || (unsigned)b >= DAGL_DTYPE_COUNT) return DAGL_F32;
    dagl_dtype d[2] = {a, b};
    return dagl_op_result_dtype(DAGL_OP_ADD, 2, d, NULL);
}

/* Number of online cores, the default thread count. */
int dagl_num_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* The part of dagl_ctx_new that needs no workers (src/sched/workers.c adds those): everything
 * below the scheduler hangs off this. */
dagl_status dagl__ctx_create(const dagl_ctx_options *opt, dagl_ctx **out)
{
    dagl_ctx *ctx = calloc(1, sizeof *ctx);
    *out = ctx;
    if (!ctx) return DAGL_E_NOMEM;
    const char *no_plan = getenv("DAGL_NO_PLAN"); /* read once here, not at every run */
    ctx->no_plan = no_plan && *no_plan && strcmp(no_plan, "0") != 0;
    /* BLAS runs single-threaded inside dagl's workers; dagl splits big GEMMs itself, so the two
     * thread pools never compete for the cores. */
    openblas_set_num_threads(1);
    dagl__blas_choose();
    dagl_ctx_manual_seed(ctx, opt && opt->seed ? opt->seed : 0x5eed);
    atomic_flag_clear(&ctx->own_mem.lock);
    ctx->mem = &ctx->own_mem;
    if (opt && opt->allocator) ctx->own_mem.user = *opt->allocator;
    atomic_init(&ctx->own_intr.requested, 0);
    atomic_init(&ctx->own_intr.taken, 0);
    atomic_init(&ctx->own_intr.callback, NULL);
    atomic_init(&ctx->own_intr.callback_ud, NULL);
    ctx->intr = &ctx->own_intr;
    return DAGL_OK;
}

/* A context on the stack of a worker task: errors stay local to the task, memory is counted
 * with the parent, the workers are shared. */
void dagl__ctx_child(dagl_ctx *parent, dagl_ctx *child)
{
    child->errmsg[0] = '\0';
    child->last_status = DAGL_OK;
    child->runner = parent->runner;
    child->seed = parent->seed;
    child->draw = parent->draw;
    child->mem = parent->mem;
    child->intr = parent->intr;
    child->run_phase = parent->run_phase;
    child->no_plan = parent->no_plan;
    child->share_trace = NULL;
}

/* Frees the blocks cached in the context's own memory (a child's is empty), then the context. */
void dagl__ctx_destroy(dagl_ctx *ctx)
{
    if (!ctx) return;
    dagl__mem_drain(&ctx->own_mem);
    free(ctx);
}

/* Called from signal handlers: atomics only, then the callback (whose ud is stored before it). */
void dagl_ctx_interrupt(dagl_ctx *ctx)
{
    if (!ctx) return;
    atomic_fetch_add_explicit(&ctx->intr->requested, 1, memory_order_acq_rel);
    void (*fn)(void *) = atomic_load_explicit(&ctx->intr->callback, memory_order_acquire);
    if (fn) fn(atomic_load_explicit(&ctx->intr->callback_ud, memory_order_acquire));
}

/* For handlers deciding whether a Ctrl-C is a second one, and for waits outside the core. */
int dagl_ctx_interrupt_pending(const dagl_ctx *ctx) { return ctx && dagl__interrupted(ctx); }

/* Takes every request made so far; one made meanwhile stays pending. */
int dagl_ctx_take_interrupt(dagl_ctx *ctx)
{
    if (!ctx) return 0;
    unsigned req = atomic_load_explicit(&ctx->intr->requested, memory_order_acquire);
    return atomic_exchange_explicit(&ctx->intr->taken, req, memory_order_acq_rel) != req;
}

/* The callback is cleared first and its ud written before it is set, so a handler never calls
 * a new function with the old ud. */
void dagl_ctx_set_interrupt_callback(dagl_ctx *ctx, void (*fn)(void *ud), void *ud)
{
    if (!ctx) return;
    atomic_store_explicit(&ctx->intr->callback, NULL, memory_order_release);
    atomic_store_explicit(&ctx->intr->callback_ud, ud, memory_order_release);
    atomic_store_explicit(&ctx->intr->callback, fn, memory_order_release);
}

/* One clock for every timestamp and deadline, so they compare across threads. */
int64_t dagl__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleeps to an absolute deadline in slices of DAGL_INTERRUPT_SLICE_NS, looking at the interrupt
 * state after each (and after a signal cuts a slice short, EINTR): absolute times, so slicing
 * adds no drift to the total. It sets no error text: threads sleep on one context at once. */
dagl_status dagl_ctx_sleep(dagl_ctx *ctx, double seconds)
{
    if (!ctx) return DAGL_E_ARG;
    if (!(seconds > 0)) seconds = 0;
    if (seconds > 1e9) seconds = 1e9; /* some 30 years: no overflow of the deadline */
    int64_t deadline = dagl__now_ns() + (int64_t)(seconds * 1e9);
    for (;;) {
        if (dagl__interrupted(ctx)) return DAGL_E_INTERRUPTED;
        int64_t now = dagl__now_ns();
        if (now >= deadline) return DAGL_OK;
        int64_t until = deadline - now > DAGL_INTERRUPT_SLICE_NS ? now + DAGL_INTERRUPT_SLICE_NS : deadline;
        struct timespec ts = {(time_t)(until / 1000000000), (long)(until % 1000000000)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL); /* EINTR: look again at once */
    }
}

/* Deadlines of timed waits come from dagl__now_ns, so conditions wait on the same clock. */
void dagl__cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

/* Signals belong to the program: the threads dagl starts block them all from their first
 * instruction (the mask is inherited at creation, so there is no window). */
int dagl__thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* the new thread inherits this mask */
    int r = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

const char *dagl_ctx_last_error(const dagl_ctx *ctx) { return ctx ? ctx->errmsg : "no context"; }

/* Records the message every failing call leaves for its caller. */
dagl_status dagl_ctx_set_error(dagl_ctx *ctx, dagl_status s, const char *fmt, ...)
{
    if (!ctx) return s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof ctx->errmsg, fmt, ap);
    va_end(ap);
    ctx->last_status = s;
    return s;
}

/* Forgets the last error, for callers that handled a failure and go on with the same context. */
void dagl_ctx_clear_error(dagl_ctx *ctx)
{
    if (!ctx) return;
    ctx->errmsg[0] = '\0';
    ctx->last_status = DAGL_OK;
}

/* Restarts the random stream so runs are reproducible. */
void dagl_ctx_manual_seed(dagl_ctx *ctx, uint64_t seed)
{
    ctx->seed = seed;
    ctx->draw = 0;
}

int64_t dagl_ctx_live_bytes(const dagl_ctx *ctx) { return dagl__mem_live(ctx->mem); }

const char *dagl_version(void) { return DAGL_VERSION_STRING; }
