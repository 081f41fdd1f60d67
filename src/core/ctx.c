/* ctx.c -- the context (error text, random seed, memory) and the small name tables. Its workers
 * and thread counts are the scheduler's (src/sched/workers.c, which defines dagl_ctx_new). */
#include "internal.h"

#include <cblas.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    {"float32", sizeof(float)}, {"float64", sizeof(double)}, {"int64", sizeof(int64_t)},
};
_Static_assert(sizeof dtypes / sizeof *dtypes == DAGL_DTYPE_COUNT, "dtypes");

/* Element size, used for every byte-offset computation. */
size_t dagl_dtype_size(dagl_dtype dt) { return (unsigned)dt < DAGL_DTYPE_COUNT ? dtypes[dt].size : 0; }

/* NumPy-style names, as printed in errors and by t:dtype(). */
const char *dagl_dtype_name(dagl_dtype dt)
{
    return (unsigned)dt < DAGL_DTYPE_COUNT ? dtypes[dt].name : "unknown dtype";
}

/* Type promotion for mixed operands: f64 > f32 > i64. */
dagl_dtype dagl_dtype_promote(dagl_dtype a, dagl_dtype b)
{
    if (a == DAGL_F64 || b == DAGL_F64) return DAGL_F64;
    if (a == DAGL_F32 || b == DAGL_F32) return DAGL_F32;
    return DAGL_I64;
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
    atomic_init(&ctx->own_interrupts, 0);
    ctx->interrupts = &ctx->own_interrupts;
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
    child->interrupts = parent->interrupts;
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

void dagl_ctx_interrupt(dagl_ctx *ctx)
{
    if (ctx) atomic_fetch_add_explicit(ctx->interrupts, 1, memory_order_relaxed);
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
