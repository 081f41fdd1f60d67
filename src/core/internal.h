/* internal.h -- what the core's own files share: the tensor and context structs and helpers.
 * Never included by users; the public view is include/dagl.h. */
#ifndef DAGL_INTERNAL_H
#define DAGL_INTERNAL_H

#include "dagl.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define DAGL_ERRMSG_SIZE 512
#define DAGL_HIDDEN __attribute__((visibility("hidden")))

/* Memory shared by a root context and its children: the live-bytes count and a cache of small
 * blocks (tensor header plus inline data) by size class, so eager tiny ops skip malloc/free. */
#define DAGL_BLOCK_CLASSES 5
#define DAGL_BIG_SLOTS 64
typedef struct dagl_mem {
    atomic_flag lock;       /* a spinlock: held for a few instructions */
    int64_t live;           /* tensor bytes alive (under the lock: one atomic per alloc/free) */
    int n[DAGL_BLOCK_CLASSES];
    void **free[DAGL_BLOCK_CLASSES]; /* up to dagl__block_cap(class) blocks each, made on first use */
    struct { void *p; size_t size; } big[DAGL_BIG_SLOTS]; /* freed large data blocks, by exact size */
    dagl_allocator user;    /* the caller's allocator for large blocks (alloc NULL: the C library) */
    int nbig;
    size_t big_bytes;
} dagl_mem;

/* A block of `size` bytes from the cache or malloc; *cls gets its class (-1: not cacheable).
 * `counted` tensor bytes are added to the live count (when the block is had). */
DAGL_HIDDEN void *dagl__block_alloc(dagl_mem *m, size_t size, int *cls, int64_t counted);
/* Returns a block to the cache (or to free() when the class is full or -1), taking `counted`
 * bytes off the live count. */
DAGL_HIDDEN void dagl__block_free(dagl_mem *m, void *p, int cls, int64_t counted);
/* Changes the live count by `delta` (blocks allocated outside the cache). */
DAGL_HIDDEN void dagl__mem_count(dagl_mem *m, int64_t delta);
DAGL_HIDDEN int64_t dagl__mem_live(dagl_mem *m);
/* Large (64-byte aligned) data blocks: reused by exact size, since a training loop or a graph run
 * allocates the same sizes every step and fresh memory costs a page fault per 4 KiB. */
DAGL_HIDDEN void *dagl__big_alloc(dagl_mem *m, size_t size);
DAGL_HIDDEN void dagl__big_free(dagl_mem *m, void *p, size_t size);
/* Frees every cached block (when the context goes away). */
DAGL_HIDDEN void dagl__mem_drain(dagl_mem *m);

/* How core and kernels get work split across workers without knowing who runs it (as ggml passes
 * its threadpool): the scheduler (src/sched/workers.c) makes one for every root context it makes,
 * shared by the root's children, and owns everything behind it (the pool, the thread counts, the
 * runs in progress). Core and kernels only call through it and never include a sched header. */
typedef struct dagl_runner {
    /* Runs fn(arg, i, n) for i in [0, n) (n >= 2) on ctx's workers and returns when all are done
     * (each share once; the shares of a traced node are recorded, see dagl_ctx.share_trace). */
    void (*parallel_for)(dagl_ctx *ctx, void (*fn)(void *, int, int), void *arg, int n);
} dagl_runner;

/* The interrupt state of a root context and its children (dagl_ctx_interrupt): requests and
 * takes are counted, so one is pending while they differ; the callback (and its ud) is read in
 * signal handlers, so all of it is lock-free atomics. */
struct dagl_interrupts {
    atomic_uint requested;
    atomic_uint taken;
    _Atomic(void (*)(void *)) callback;
    _Atomic(void *) callback_ud;
};

/* How long interruptible waits sleep between looks at the interrupt state (10 ms, a fifth of the
 * 50 ms in which Ctrl-C must act). */
#define DAGL_INTERRUPT_SLICE_NS 10000000

struct dagl_ctx {
    char errmsg[DAGL_ERRMSG_SIZE];
    dagl_status last_status;
    dagl_runner *runner;   /* the root's workers (NULL: everything runs on the calling thread) */
    uint64_t seed;         /* Philox key */
    uint64_t draw;         /* how many rand/randn calls so far: the Philox counter's high word */
    dagl_mem own_mem;       /* storage for `mem` of a root context */
    dagl_mem *mem;          /* own_mem, or the parent's for a child context */
    struct dagl_interrupts own_intr; /* a root context's interrupt requests ... */
    struct dagl_interrupts *intr;    /* ... here (own_intr, or the root's for a child) */
    bool no_plan;           /* DAGL_NO_PLAN was set when the root context was made: runs go unplanned */
    atomic_int *run_phase;  /* a node's task context: its run's DAGL__RUN_* phase (else NULL) */
    const struct dagl_share_trace *share_trace; /* the scheduler's record of a traced node (opaque
                                                 * here): the runner records its kernel's shares */
};

/* A graph run is open until either an assign node starts (committed: it runs to its end, whatever
 * interrupts come, so a training step writes all of its weights or none) or something working
 * for it sees an interrupt (stopped: no assign starts any more). */
enum { DAGL__RUN_OPEN, DAGL__RUN_COMMITTED, DAGL__RUN_STOPPED };

/* Whether work on ctx must stop for an interrupt (dagl_ctx_interrupt_pending without the NULL
 * check): one is pending, or, for a node's task context, its run is stopped, or open with one
 * pending, which stops it (one compare-and-swap decides between that and an assign committing,
 * so no interrupt lands between two assigns of a run). */
static inline bool dagl__interrupted(const dagl_ctx *ctx)
{
    bool pending = atomic_load_explicit(&ctx->intr->requested, memory_order_acquire) !=
                   atomic_load_explicit(&ctx->intr->taken, memory_order_acquire);
    if (!ctx->run_phase) return pending;
    int phase = atomic_load_explicit(ctx->run_phase, memory_order_acquire);
    if (phase == DAGL__RUN_OPEN && pending)
        return atomic_compare_exchange_strong(ctx->run_phase, &phase, DAGL__RUN_STOPPED) || phase == DAGL__RUN_STOPPED;
    return phase == DAGL__RUN_STOPPED;
}
/* Monotonic time in nanoseconds (CLOCK_MONOTONIC): every timestamp of traces, deadlines and
 * interruptible waits, so they compare across threads. */
DAGL_HIDDEN int64_t dagl__now_ns(void);
/* pthread_create for the threads dagl starts (workers, the row gather): they start with every
 * signal blocked, so a signal for the process goes to a thread of the program that owns it (the
 * dagl host's main thread), never to a worker in the middle of a kernel. Returns 0 on success. */
DAGL_HIDDEN int dagl__thread_start(pthread_t *t, void *(*fn)(void *), void *arg);
/* A condition whose timed waits take CLOCK_MONOTONIC deadlines (dagl__now_ns), which no change of
 * the wall clock moves. */
DAGL_HIDDEN void dagl__cond_init_monotonic(pthread_cond_t *cv);

/* A context for one worker of a run: its own error text, the parent's seed, live-bytes counter
 * and runner, so tensors made on any worker are counted with the parent. */
DAGL_HIDDEN void dagl__ctx_child(dagl_ctx *parent, dagl_ctx *child);
/* The plain part of a new root context (error text, seed, memory, interrupts; BLAS set to one
 * thread), without a runner: the scheduler's dagl_ctx_new adds that. */
DAGL_HIDDEN dagl_status dagl__ctx_create(const dagl_ctx_options *opt, dagl_ctx **out);
/* Frees what dagl__ctx_create made (and a child's memory), after the scheduler has stopped the
 * workers. */
DAGL_HIDDEN void dagl__ctx_destroy(dagl_ctx *ctx);

/* A tensor: a view (shape, strides, data pointer) over a memory block. A tensor that made its own
 * block holds it inline or in `mem`; a view keeps its `base` alive instead. */
struct dagl_tensor {
    atomic_long refs;
    dagl_dtype dtype;
    int ndim;
    int64_t numel;
    int64_t shape[DAGL_MAX_DIMS];
    int64_t strides[DAGL_MAX_DIMS];
    char *data;             /* element (0,...,0) */
    char *mem;              /* start of the block (for offset), NULL for views of wrapped memory */
    size_t block_nbytes;    /* size of the block (shared by every view of it), not the tensor's own */
    dagl_tensor *base;      /* owner of the block when this is a view, else NULL */
    dagl_mem *memp;         /* the creating context's memory (the context outlives its tensors) */
    void (*release)(void *);/* wrapped caller memory */
    void *release_ud;
    bool own_heap;          /* mem was allocated separately (large tensors) */
    bool counted;           /* block_nbytes were added to memp->live (blocks dagl made itself) */
    signed char cls;        /* block class of this header's allocation, -1 for plain malloc */
    bool contiguous;        /* row-major contiguous (computed when the layout is made) */
};

/* The tensor owning t's memory block (t itself unless t is a view): whether two tensors may share
 * memory (assign.c, graph/order.c). */
static inline const dagl_tensor *dagl__block_owner(const dagl_tensor *t)
{
    while (t->base) t = t->base;
    return t;
}

/* Element counts and contiguous strides for a shape. */
DAGL_HIDDEN int64_t dagl__numel(int ndim, const int64_t *shape);
DAGL_HIDDEN void dagl__contig_strides(int ndim, const int64_t *shape, int64_t *strides);
/* Checks a shape (ndim range, non-negative sizes, no overflow); sets the error naming `op`. */
DAGL_HIDDEN dagl_status dagl__check_shape(dagl_ctx *ctx, const char *op, int ndim, const int64_t *shape);
/* Row-major contiguity of a layout, ignoring size-1 dims (as PyTorch does). */
DAGL_HIDDEN bool dagl__layout_contiguous(int ndim, const int64_t *shape, const int64_t *strides);
/* dagl_tensor_new without the argument checks, for shapes the caller derived from valid tensors. */
DAGL_HIDDEN dagl_status dagl__tensor_alloc(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape,
                                           dagl_tensor **out);
/* A kernel's result: the caller's destination `dst` (a graph node's slot in the run's memory
 * plan, passed down explicitly; may be NULL) when it has this dtype and shape, else fresh
 * memory. Only a kernel's final result is allocated this way, never its temporaries. */
DAGL_HIDDEN dagl_status dagl__tensor_alloc_dst(dagl_ctx *ctx, dagl_tensor *dst, dagl_dtype dt, int ndim,
                                               const int64_t *shape, dagl_tensor **out);
/* A view of `base` with the given layout (base retained). */
DAGL_HIDDEN dagl_status dagl__make_view(dagl_ctx *ctx, dagl_tensor *base, int ndim, const int64_t *shape,
                                        const int64_t *strides, char *data, dagl_tensor **out);
/* Normalizes a possibly negative dim against ndim; -1 when out of range. */
DAGL_HIDDEN int dagl__wrap_dim(int dim, int ndim);
/* Broadcast shape of two shapes; DAGL_E_SHAPE (message naming op and shapes) when impossible. */
DAGL_HIDDEN dagl_status dagl__broadcast_shape(dagl_ctx *ctx, const char *op, int na, const int64_t *sa,
                                              int nb, const int64_t *sb, int *nout, int64_t *sout);
/* Strides of `t` as seen from a broadcast shape of ndim dims (0 for broadcast dims). */
DAGL_HIDDEN void dagl__broadcast_strides(const dagl_tensor *t, int ndim, const int64_t *shape,
                                         int64_t *strides);
/* Fills elements [i0, i1) of a contiguous block with draw number `draw` of generator `seed`:
 * a pure function of its arguments, so any split of the range gives the same numbers. */
DAGL_HIDDEN void dagl__rng_fill(dagl_dtype dt, int normal, uint64_t seed, uint64_t draw, void *data, int64_t i0,
                                int64_t i1);
/* Runs a layout op (reshape, permute, expand, slice) with a graph node's parameters. */
DAGL_HIDDEN dagl_status dagl__layout(dagl_ctx *ctx, dagl_op op, const dagl_node_params *p, dagl_tensor *t,
                                     dagl_tensor **out);
/* The dtype, rank and shape of a tensor or of a graph node: what the shape rules of the joins
 * and indexing ops (concat.c, gather.c) read, so graph inference and eager calls share them. */
typedef struct dagl__shape_ref {
    dagl_dtype dtype;
    int ndim;
    const int64_t *shape;
} dagl__shape_ref;
/* A tensor as the shared shape checks take it (graph inference passes nodes the same way). */
static inline dagl__shape_ref dagl__ref_of(const dagl_tensor *t)
{
    return (dagl__shape_ref){t->dtype, t->ndim, t->shape};
}
/* Output shape of concat of n operands along dim (checked: one dtype, equal other dims). */
DAGL_HIDDEN dagl_status dagl__concat_shape(dagl_ctx *ctx, int n, const dagl__shape_ref *in, int dim, int *ndim,
                                           int64_t *shape);
/* Checks that src fits elements start, start+step, ... of dim of `shape` (slice_scatter). */
DAGL_HIDDEN dagl_status dagl__slice_scatter_check(dagl_ctx *ctx, dagl__shape_ref src, int ndim, const int64_t *shape,
                                                  int dim, int64_t start, int64_t step);
/* Output shape of gather(table, idx): idx.shape .. table.shape[1:]. */
DAGL_HIDDEN dagl_status dagl__gather_shape(dagl_ctx *ctx, dagl__shape_ref table, dagl__shape_ref idx, int *ndim,
                                           int64_t *shape);
/* Output shape of index_add(src, idx, rows): (rows) .. src.shape[idx.ndim:]. */
DAGL_HIDDEN dagl_status dagl__index_add_shape(dagl_ctx *ctx, dagl__shape_ref src, dagl__shape_ref idx, int64_t rows,
                                              int *ndim, int64_t *shape);
/* Checks that `value` may be assigned to `target`: the same shape (the dtype is converted). */
DAGL_HIDDEN dagl_status dagl__assign_check(dagl_ctx *ctx, dagl__shape_ref target, dagl__shape_ref value);
/* Checks a dropout mask's dtype (f32/f64) and rate (0 <= rate < 1). */
DAGL_HIDDEN dagl_status dagl__dropout_check(dagl_ctx *ctx, dagl_dtype dt, double rate);
/* Picks OpenBLAS's core once per process, before the first BLAS call (blas_core.c). */
DAGL_HIDDEN void dagl__blas_choose(void);
/* The per-dtype C types, for X-macros: X(suffix, C type, dtype), every dtype (kernels.h's
 * DAGL_FOR_DTYPES lists the ones that compute). */
#define DAGL_FOR_ALL_DTYPES(X) X(f32, float, DAGL_F32) X(f64, double, DAGL_F64) X(i64, int64_t, DAGL_I64) X(u8, uint8_t, DAGL_U8)
/* A value converted to each dtype's C type, as every conversion of the core does it: C's for
 * floats, for int64 truncation (a float beyond int64's range saturates and NaN gives 0: C leaves
 * those undefined), and for uint8 rounding toward zero and saturating to 0..255 with NaN giving 0
 * (defined for any input, unlike C's conversion). */
static inline int64_t dagl__f64_to_i64(double x)
{
    return x >= -0x1p63 && x < 0x1p63 ? (int64_t)x : x > 0 ? INT64_MAX : x < 0 ? INT64_MIN : 0;
}
#define DAGL__TO_f32(x) ((float)(x))
#define DAGL__TO_f64(x) ((double)(x))
#define DAGL__TO_i64(x) _Generic((x), float: dagl__f64_to_i64((double)(x)), double: dagl__f64_to_i64((double)(x)), \
                                 default: (int64_t)(x))
#define DAGL__TO_u8(x) ((x) > 0 ? ((x) < 255 ? (uint8_t)(x) : (uint8_t)255) : (uint8_t)0)
/* Value of one element at a flat byte address, as double; and the store. */
DAGL_HIDDEN double dagl__load(dagl_dtype dt, const char *p);
DAGL_HIDDEN void dagl__store(dagl_dtype dt, char *p, double v);

/* ---------------------------------------------------------------- the op list's tables (op_table.c) */

/* The op classes, dtype rules and Lua forms of DAGL_OP_LIST's columns (see dagl.h). */
#define DAGL__CLASSES(X)                                                                           \
    X(NONE) X(UNARY) X(BINARY) X(COMPARE) X(CLAMP) X(WHERE) X(REDUCE) X(MATMUL) X(LAYOUT) X(CAST)  \
    X(CONCAT) X(SLICE_SCATTER) X(GATHER) X(INDEX_ADD) X(DROPOUT) X(WINDOW) X(ALONG) X(TAKE)        \
    X(SCATTER) X(SOFTMAX) X(ASSIGN) X(CUSTOM)
#define DAGL__CLS_ENUM(C) DAGL__CLS_##C,
typedef enum dagl__op_class { DAGL__CLASSES(DAGL__CLS_ENUM) DAGL__CLS_COUNT } dagl__op_class;
#undef DAGL__CLS_ENUM
typedef enum dagl__dtype_rule {
    DAGL__DT_SAME, DAGL__DT_FLOAT, DAGL__DT_PROMOTE, DAGL__DT_PROMOTE_FLOAT, DAGL__DT_VALUES,
    DAGL__DT_INT64, DAGL__DT_PARAM
} dagl__dtype_rule;
typedef enum dagl__lua_form { DAGL__LUA_NOLUA, DAGL__LUA_LUA, DAGL__LUA_HAND } dagl__lua_form;
/* How a class's result relates to memory, for the memory planner. */
typedef enum dagl__mem_kind { DAGL__MEM_OPAQUE, DAGL__MEM_FRESH, DAGL__MEM_VIEW } dagl__mem_kind;

typedef struct dagl__op_info {
    const char *name;      /* as dagl_op_name gives it, and as Lua spells it */
    dagl__op_class cls;
    dagl__dtype_rule dtype;
    dagl__lua_form lua;
} dagl__op_info;

typedef struct dagl__class_info {
    const char *name;
    int nsrc;              /* sources a node takes; 0 = the class's inference checks */
    dagl__mem_kind mem;
    bool elementwise;      /* output element i from element i of same-shaped sources only */
    bool takes_u8;         /* uint8 operands are allowed */
} dagl__class_info;

/* The info of `op`, or of DAGL_OP_NONE for values out of range; its class's facts. */
DAGL_HIDDEN const dagl__op_info *dagl__op_info_of(dagl_op op);
DAGL_HIDDEN const dagl__class_info *dagl__class_of(dagl_op op);
/* DAGL_E_DTYPE ("matmul: uint8 tensors do not compute ...") when op's class does not take
 * uint8 and one of the n operand dtypes is uint8: graph inference, dagl_op_apply and each kernel
 * entry ask it, so eager and traced calls fail alike, before anything is allocated. */
DAGL_HIDDEN dagl_status dagl__op_check_dtypes(dagl_ctx *ctx, dagl_op op, int n, const dagl_dtype *dts);
/* The dtype a number operand counts as in promotion: int64 when integral, else float32. */
DAGL_HIDDEN dagl_dtype dagl__scalar_dtype(double s);

#endif
