/*
 * dagl.h -- the one public C header of the dagl core (tensors, kernels, graphs, scheduler).
 *
 * Conventions
 *  - Every handle is opaque; every name is dagl_<noun>_<verb> or dagl_<op>.
 *  - Every call that can fail returns a dagl_status; the text of the last error is kept per context
 *    (dagl_ctx_last_error) and names the operation and the shapes involved.
 *  - Ownership: tensors are reference counted. A function that hands out a tensor through an
 *    `out` parameter gives the caller one reference, to be dropped with dagl_tensor_release.
 *    Input tensors are borrowed. Views share memory with (and keep alive) their base.
 *  - No global state: everything hangs off a dagl_ctx.
 *
 * Usage example (compiled in CI by spec/c/test_header_example.c):
 *
 *     dagl_ctx *ctx;
 *     dagl_tensor *a, *b, *c;
 *     int64_t shape[2] = {2, 3};
 *     if (dagl_ctx_new(NULL, &ctx) != DAGL_OK) return 1;
 *     dagl_tensor_full(ctx, DAGL_F32, 2, shape, 1.5, &a);
 *     dagl_arange(ctx, DAGL_F32, 0, 3, 1, &b);          // broadcast over rows
 *     if (dagl_binary(ctx, DAGL_OP_ADD, a, b, &c) != DAGL_OK)
 *         fprintf(stderr, "%s\n", dagl_ctx_last_error(ctx));
 *     printf("%g\n", ((float *)dagl_tensor_data(c))[5]);  // 3.5
 *     dagl_tensor_release(a); dagl_tensor_release(b); dagl_tensor_release(c);
 *     dagl_ctx_free(ctx);
 */
#ifndef DAGL_H
#define DAGL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DAGL_API __attribute__((visibility("default")))
#else
#define DAGL_API
#endif

#define DAGL_VERSION_MAJOR 0
#define DAGL_VERSION_MINOR 1
#define DAGL_VERSION_PATCH 0
#define DAGL_VERSION_STRING "0.1.0"

/* Most dimensions a tensor may have. */
#define DAGL_MAX_DIMS 8
/* Most sources a graph node (and dagl_op_apply) takes. */
#define DAGL_MAX_SRCS 8

/* ---------------------------------------------------------------- status */

typedef enum dagl_status {
    DAGL_OK = 0,
    DAGL_E_ARG,      /* a bad argument: NULL, out-of-range parameter, unknown op */
    DAGL_E_SHAPE,    /* shapes that do not match or cannot be broadcast */
    DAGL_E_DTYPE,    /* a dtype the operation does not take */
    DAGL_E_INDEX,    /* an index or dimension out of range */
    DAGL_E_LAYOUT,   /* a view that cannot be made without a copy, non-contiguous memory, or an
                      * in-place write through a view whose elements overlap (expand) */
    DAGL_E_NOMEM,    /* out of memory (nothing half-built is left behind) */
    DAGL_E_IO,       /* a file could not be read or written */
    DAGL_E_FORMAT,   /* a file or buffer is malformed */
    DAGL_E_LUA,      /* an error raised by Lua code */
    DAGL_E_INTERNAL, /* a bug in dagl */
    DAGL_E_INTERRUPTED, /* stopped by dagl_ctx_interrupt (Ctrl-C in the dagl host) */
    DAGL_E_NUMERIC,  /* a NaN or an infinity found by dagl_run_options.check_numerics */
    DAGL_STATUS_COUNT
} dagl_status;

/* A short constant name for a status ("ok", "shape error", ...). */
DAGL_API const char *dagl_status_name(dagl_status s);

/* ---------------------------------------------------------------- dtypes */

typedef enum dagl_dtype {
    DAGL_F32 = 0, /* the main dtype */
    DAGL_F64,     /* for checks and reference computations */
    DAGL_I64,     /* indices, argmax results */
    DAGL_U8,      /* data at one byte per element (images, labels): stored, viewed, copied,
                   * gathered, compared and converted, but never computed with: the other ops
                   * fail with DAGL_E_DTYPE ("matmul: uint8 ..."); convert first (dagl_cast_scaled) */
    DAGL_DTYPE_COUNT
} dagl_dtype;

/* Bytes per element: 4, 8, 8, 1. */
DAGL_API size_t dagl_dtype_size(dagl_dtype dt);
DAGL_API const char *dagl_dtype_name(dagl_dtype dt); /* "float32", "float64", "int64", "uint8" */
/* The dtype two operands are computed in: f64 > f32 > i64 > u8. */
DAGL_API dagl_dtype dagl_dtype_promote(dagl_dtype a, dagl_dtype b);

/* ---------------------------------------------------------------- context */

typedef struct dagl_ctx dagl_ctx;
typedef struct dagl_tensor dagl_tensor;

/* Where a context's tensor data comes from (every tensor's elements; tensor headers stay in
 * dagl's own small-block cache): alloc(ud, size, align) returns `size` bytes aligned to `align`
 * (a power of two) or NULL; free(ud, p, size) gives them back. Both are called from any thread.
 * Freed blocks are cached for reuse and returned when the context is freed. */
typedef struct dagl_allocator {
    void *(*alloc)(void *ud, size_t size, size_t align);
    void (*free)(void *ud, void *p, size_t size);
    void *ud;
} dagl_allocator;

typedef struct dagl_ctx_options {
    int threads;   /* worker threads; 0 = number of cores (or DAGL_NUM_THREADS) */
    uint64_t seed; /* seed of the context's random generator; 0 = default seed */
    const dagl_allocator *allocator; /* NULL: aligned_alloc and free (copied: need not outlive) */
} dagl_ctx_options;

/* Creates a context. `opt` may be NULL for the defaults. */
DAGL_API dagl_status dagl_ctx_new(const dagl_ctx_options *opt, dagl_ctx **out);
DAGL_API void dagl_ctx_free(dagl_ctx *ctx);
/* A context sharing the parent's workers (and so their thread counts), memory accounting and seed,
 * with its own error text: give one to each thread that runs the parent's graphs concurrently
 * (dagl_run_options.ctx). Free it before the parent. */
DAGL_API dagl_status dagl_ctx_new_child(dagl_ctx *parent, dagl_ctx **out);
/* The text of the last error on this context ("" when none). Valid until the next failing call. */
DAGL_API const char *dagl_ctx_last_error(const dagl_ctx *ctx);
/* Records an error on the context and returns `s`, for code that extends dagl. */
DAGL_API dagl_status dagl_ctx_set_error(dagl_ctx *ctx, dagl_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
DAGL_API void dagl_ctx_clear_error(dagl_ctx *ctx);
/* Reseeds the random generator: the numbers drawn next depend only on (seed, draw order). */
DAGL_API void dagl_ctx_manual_seed(dagl_ctx *ctx, uint64_t seed);
DAGL_API int dagl_ctx_threads(const dagl_ctx *ctx);
/* Changes the worker count (0 = cores) of the context and the contexts sharing its workers; the
 * pool is restarted at its next use. Only between runs: while a graph run is in progress on them
 * (a custom node calling it, another thread's run) it fails with DAGL_E_ARG and changes nothing. */
DAGL_API dagl_status dagl_ctx_set_threads(dagl_ctx *ctx, int threads);
/* How many workers may work on one kernel's shares at once (intra-op parallelism): 0 = all of them
 * (the default), 1 = kernels never split across workers (only independent nodes run in parallel),
 * k = at most k. Results are the same bits for every setting: the shares depend on the shapes.
 * Only between runs, like dagl_ctx_set_threads. */
DAGL_API dagl_status dagl_ctx_set_intra_threads(dagl_ctx *ctx, int intra);
DAGL_API int dagl_ctx_intra_threads(const dagl_ctx *ctx);
/* Graph runs in progress right now on the context's workers (its own runs, its children's, and
 * runs nested in their custom nodes): 0 between runs. */
DAGL_API int dagl_ctx_runs_in_progress(const dagl_ctx *ctx);

/* Interruption (Ctrl-C). dagl keeps no signal handler of its own: the program that owns SIGINT
 * (the dagl host, an embedder) calls dagl_ctx_interrupt from its handler, and everything in
 * progress on the context and its children stops with
 * DAGL_E_INTERRUPTED: graph runs before their next node (a kernel already running finishes; a
 * run whose assign nodes have started writing their targets runs to its end, so a training step
 * is applied whole or not at all), dagl_ctx_sleep within 10 ms, the background row gather's wait
 * (dagl_rows_wait), and through the Lua binding dagl.sleep, dagl.spin and the Lua code running
 * under the VM lock. The interrupt stays pending until dagl_ctx_take_interrupt: work started
 * while one is pending fails at once, so an interrupt that comes just before a run starts is not
 * lost. Whoever reports it takes it (the Lua binding does when it raises "interrupted"). */

/* Requests the interrupt and calls the context's interrupt callback, if one is set.
 * Async-signal-safe (atomic operations only), callable from a signal handler or any thread. */
DAGL_API void dagl_ctx_interrupt(dagl_ctx *ctx);
/* Whether an interrupt was requested and not yet taken (async-signal-safe on contexts of your
 * own). On the context a custom node is given it says whether the node should stop: never once
 * its run has committed (started an assign), and a yes stops the run (no assign starts after),
 * so a node that gives up when told keeps its run's writes whole; dagl_ctx_sleep on that context
 * behaves the same. */
DAGL_API int dagl_ctx_interrupt_pending(const dagl_ctx *ctx);
/* Takes the pending interrupt, if any (returns 1 then, else 0): work started afterwards runs
 * normally again. */
DAGL_API int dagl_ctx_take_interrupt(dagl_ctx *ctx);
/* Sets the function dagl_ctx_interrupt calls (with ud) after requesting the interrupt, or none
 * (fn NULL), on the root context behind ctx: it runs inside the caller's signal handler, so it
 * must be async-signal-safe. The Lua binding sets it on the context it makes, to stop the Lua
 * code running under its VM lock; set it once, before interrupts can come, and clear it before
 * whatever ud points to goes away. */
DAGL_API void dagl_ctx_set_interrupt_callback(dagl_ctx *ctx, void (*fn)(void *ud), void *ud);
/* Sleeps `seconds` (NaN and negative count as 0), or less when the context is interrupted: then it
 * returns DAGL_E_INTERRUPTED within 10 ms of dagl_ctx_interrupt (at once when the signal lands on
 * the sleeping thread). Sets no error text, so any number of threads may sleep on one context. */
DAGL_API dagl_status dagl_ctx_sleep(dagl_ctx *ctx, double seconds);

/* Bytes of tensor memory currently allocated through this context (for GC pressure and reports). */
DAGL_API int64_t dagl_ctx_live_bytes(const dagl_ctx *ctx);

/* ---------------------------------------------------------------- tensors: life and layout */

/* One more / one less reference; the last release frees the tensor (and its block when no view
 * of it remains). Safe from any thread. */
DAGL_API void dagl_tensor_retain(dagl_tensor *t);
DAGL_API void dagl_tensor_release(dagl_tensor *t); /* NULL is allowed */

/* What a tensor is: dtype, dims, sizes (shape[0..ndim-1]), strides and element count. */
DAGL_API dagl_dtype dagl_tensor_dtype(const dagl_tensor *t);
DAGL_API int dagl_tensor_ndim(const dagl_tensor *t);
DAGL_API const int64_t *dagl_tensor_shape(const dagl_tensor *t);
DAGL_API const int64_t *dagl_tensor_strides(const dagl_tensor *t); /* in elements */
DAGL_API int64_t dagl_tensor_numel(const dagl_tensor *t);
/* Offset of element 0 from the start of the memory block, in elements. */
DAGL_API int64_t dagl_tensor_offset(const dagl_tensor *t);
/* Address of element (0, ..., 0). */
DAGL_API void *dagl_tensor_data(const dagl_tensor *t);
DAGL_API int dagl_tensor_is_contiguous(const dagl_tensor *t);
/* The tensor's own bytes: elements x element size, whatever its strides (what a copy of its
 * values into a C buffer takes). */
DAGL_API size_t dagl_tensor_nbytes(const dagl_tensor *t);
/* Bytes of the memory block the tensor views, shared by all views of it: more than
 * dagl_tensor_nbytes for a narrowed view, less for an expanded one (stride 0). */
DAGL_API size_t dagl_tensor_block_nbytes(const dagl_tensor *t);
/* Whether two different indices of t reach one memory element, so that an in-place write through
 * t would write that element twice and lose updates: YES for an expanded view (stride 0 on a
 * dimension of size > 1) and for strides that meet for certain (one a multiple k of another, k
 * below the other's size: a sliding window over memory given to dagl_tensor_wrap); NO when,
 * dimensions sorted by stride, each stride exceeds the reach of the smaller ones (every view dagl
 * makes but expand's); MAYBE when the layout is too hard to settle (writes are allowed, as
 * PyTorch allows them). Size-1 dimensions and the signs of strides do not matter. */
typedef enum dagl_overlap { DAGL_OVERLAP_NO = 0, DAGL_OVERLAP_YES, DAGL_OVERLAP_MAYBE } dagl_overlap;
DAGL_API dagl_overlap dagl_tensor_overlap(const dagl_tensor *t);
/* DAGL_OK unless dagl_tensor_overlap(t) is YES; then DAGL_E_LAYOUT with the error "<op>: the
 * tensor written in place has overlapping elements (shape [3, 4], strides [0, 1]: stride 0 on a
 * dimension of size 3, as expand makes); clone() it first". Every in-place write of the core
 * (dagl_copy_into, dagl_fill, dagl_assign, dagl_axpy, assign nodes) checks its target with it
 * first; code writing tensors itself can too. Reading such views is fine (broadcasting). */
DAGL_API dagl_status dagl_tensor_check_writable(dagl_ctx *ctx, const dagl_tensor *t, const char *op);
/* Writes "[2, 3]" into buf (always terminated); returns buf. */
DAGL_API char *dagl_shape_str(int ndim, const int64_t *shape, char *buf, size_t size);

/* ---------------------------------------------------------------- tensors: creation */

/* A new contiguous tensor with uninitialized contents. */
DAGL_API dagl_status dagl_tensor_new(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape,
                                     dagl_tensor **out);
DAGL_API dagl_status dagl_tensor_full(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape,
                                      double value, dagl_tensor **out);
/* A tensor over caller memory (zero-copy). `strides` may be NULL (contiguous). `release` (may be
 * NULL) is called with `ud` when the last reference goes away. */
DAGL_API dagl_status dagl_tensor_wrap(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape,
                                      const int64_t *strides, void *data,
                                      void (*release)(void *ud), void *ud, dagl_tensor **out);
/* start, start+step, ... below end (like Python's range / torch.arange). */
DAGL_API dagl_status dagl_arange(dagl_ctx *ctx, dagl_dtype dt, double start, double end, double step,
                                 dagl_tensor **out);
/* n points from start to end inclusive. */
DAGL_API dagl_status dagl_linspace(dagl_ctx *ctx, dagl_dtype dt, double start, double end, int64_t n,
                                   dagl_tensor **out);
/* Uniform [0,1) and standard normal numbers from the context's counter-based (Philox) generator;
 * element i depends only on (seed, draw number, i), never on the thread count. */
DAGL_API dagl_status dagl_rand(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape,
                               dagl_tensor **out);
DAGL_API dagl_status dagl_randn(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape,
                                dagl_tensor **out);

/* ---------------------------------------------------------------- tensors: views (no copy) */

/* Reshape; one entry of `shape` may be -1. A view when strides allow, else a contiguous copy. */
DAGL_API dagl_status dagl_reshape(dagl_ctx *ctx, dagl_tensor *t, int ndim, const int64_t *shape,
                                  dagl_tensor **out);
/* Like dagl_reshape but fails with DAGL_E_LAYOUT instead of copying. */
DAGL_API dagl_status dagl_view(dagl_ctx *ctx, dagl_tensor *t, int ndim, const int64_t *shape,
                               dagl_tensor **out);
DAGL_API dagl_status dagl_permute(dagl_ctx *ctx, dagl_tensor *t, const int *perm, dagl_tensor **out);
DAGL_API dagl_status dagl_transpose(dagl_ctx *ctx, dagl_tensor *t, int d0, int d1, dagl_tensor **out);
/* Elements start, start+step, ... below end along dim (negative start/end count from the end). */
DAGL_API dagl_status dagl_slice(dagl_ctx *ctx, dagl_tensor *t, int dim, int64_t start, int64_t end,
                                int64_t step, dagl_tensor **out);
DAGL_API dagl_status dagl_narrow(dagl_ctx *ctx, dagl_tensor *t, int dim, int64_t start, int64_t length,
                                 dagl_tensor **out);
/* Index `index` of dim, removing that dim (t[i] in Lua, 0-based here). */
DAGL_API dagl_status dagl_select(dagl_ctx *ctx, dagl_tensor *t, int dim, int64_t index,
                                 dagl_tensor **out);
/* dim < 0 ... counts from the end; squeeze with `all` set removes every size-1 dim. */
DAGL_API dagl_status dagl_squeeze(dagl_ctx *ctx, dagl_tensor *t, int dim, int all, dagl_tensor **out);
DAGL_API dagl_status dagl_unsqueeze(dagl_ctx *ctx, dagl_tensor *t, int dim, dagl_tensor **out);
/* Broadcast view to `shape` (-1 keeps a dim); expanded dims get stride 0. */
DAGL_API dagl_status dagl_expand(dagl_ctx *ctx, dagl_tensor *t, int ndim, const int64_t *shape,
                                 dagl_tensor **out);

/* ---------------------------------------------------------------- tensors: copies */

/* A contiguous tensor with the same values: `t` itself (retained) when it already is. */
DAGL_API dagl_status dagl_contiguous(dagl_ctx *ctx, dagl_tensor *t, dagl_tensor **out);
/* A new contiguous copy, always. */
DAGL_API dagl_status dagl_clone(dagl_ctx *ctx, const dagl_tensor *t, dagl_tensor **out);
/* A new contiguous copy of t converted to dt. Conversions to uint8 (and numbers stored into
 * uint8 tensors) round toward zero and saturate to 0..255, NaN giving 0 (NumPy and PyTorch wrap
 * instead); to int64 they truncate (saturating beyond int64's range, NaN giving 0). */
DAGL_API dagl_status dagl_cast(dagl_ctx *ctx, const dagl_tensor *t, dagl_dtype dt, dagl_tensor **out);
/* dagl_cast fused with a scaling: out = dt(t * scale), the product computed in float64 and
 * rounded once (so uint8 images times 1/255 give exactly NumPy's x.astype(float32) / 255), in one
 * pass without the intermediate copy. The graph op CAST does this when params.has_scalar is set
 * (params.scalar is the scale). */
DAGL_API dagl_status dagl_cast_scaled(dagl_ctx *ctx, const dagl_tensor *t, dagl_dtype dt, double scale,
                                      dagl_tensor **out);
/* dst[...] = src, src broadcast to dst's shape, converted to dst's dtype; dst = value. A dst
 * whose elements overlap (an expanded view) fails with DAGL_E_LAYOUT (dagl_tensor_check_writable). */
DAGL_API dagl_status dagl_copy_into(dagl_ctx *ctx, dagl_tensor *dst, const dagl_tensor *src);
DAGL_API dagl_status dagl_fill(dagl_ctx *ctx, dagl_tensor *dst, double value);
/* Reads / writes one element by a full index (0-based, negative counts from the end); one element
 * may always be written, whatever view it is reached through. */
DAGL_API dagl_status dagl_get(dagl_ctx *ctx, const dagl_tensor *t, const int64_t *index, double *value);
DAGL_API dagl_status dagl_set(dagl_ctx *ctx, dagl_tensor *t, const int64_t *index, double value);

/* ---------------------------------------------------------------- operations */

/* The op list: every operation of the core, eager and in graphs, declared once as
 * X(ENUM, name, class, dtype, lua). Everything else is derived from it: the dagl_op enum below,
 * the name and class tables (dagl_op_name), shape and dtype inference, the kernel dispatch of
 * dagl_op_apply and graph nodes, and the Lua binding (the method t:name() and the function
 * dagl.name(), which take real tensors and traced symbols alike). Columns:
 *  - class: how the op takes its operands and parameters, infers its shape and runs:
 *    UNARY (x), BINARY and COMPARE (a, b; either may be a scalar param), CLAMP, WHERE (cond, a, b),
 *    REDUCE (dims, keepdim, correction), MATMUL, LAYOUT (views), CAST, CONCAT, SLICE_SCATTER,
 *    GATHER, INDEX_ADD, DROPOUT, WINDOW (NHWC conv/pool), ALONG (along params.axis, the shape kept),
 *    TAKE and SCATTER (indices along params.axis), SOFTMAX (axis), ASSIGN, CUSTOM, NONE.
 *  - dtype: the result's dtype from the operands': SAME (the first operand's), FLOAT (int64
 *    and uint8 compute in float32), PROMOTE (dagl_dtype_promote over the operands; a scalar param counts
 *    as int64 when integral, else float32), PROMOTE_FLOAT (PROMOTE, then integers -> float32),
 *    VALUES (PROMOTE over the operands after the first: where's a and b), INT64, PARAM
 *    (params.dtype).
 *  - lua: LUA when the binding makes t:name() / dagl.name() from the class's argument front end,
 *    HAND when l_*.c binds it by hand (views, joins), NOLUA for graph-only ops (gradients).
 * uint8 operands are taken by the classes that move or compare elements (LAYOUT, CAST, CONCAT,
 * SLICE_SCATTER, GATHER's table, WHERE, COMPARE, ASSIGN, CUSTOM); every other op fails on one
 * with DAGL_E_DTYPE naming the op, when its graph node is added and when it runs eagerly.
 * Adding an elementwise op: a row here, its expression in kernels/unary.c or binary.c, its
 * gradient rule in lua/dagl/grad.lua (docs/ops.md). */
#define DAGL_OP_LIST(X)                                                   \
    X(NONE, none, NONE, SAME, NOLUA)                                      \
    X(NEG, neg, UNARY, SAME, LUA)                                         \
    X(EXP, exp, UNARY, FLOAT, LUA)                                        \
    X(LOG, log, UNARY, FLOAT, LUA)                                        \
    X(SQRT, sqrt, UNARY, FLOAT, LUA)                                      \
    X(ABS, abs, UNARY, SAME, LUA)                                         \
    X(TANH, tanh, UNARY, FLOAT, LUA)                                      \
    X(SIGMOID, sigmoid, UNARY, FLOAT, LUA)                                \
    X(RELU, relu, UNARY, SAME, LUA)                                       \
    X(ERF, erf, UNARY, FLOAT, LUA)                                        \
    X(SIN, sin, UNARY, FLOAT, LUA)                                        \
    X(COS, cos, UNARY, FLOAT, LUA)                                        \
    X(ADD, add, BINARY, PROMOTE, LUA)                                     \
    X(SUB, sub, BINARY, PROMOTE, LUA)                                     \
    X(MUL, mul, BINARY, PROMOTE, LUA)                                     \
    X(DIV, div, BINARY, PROMOTE_FLOAT, LUA)                               \
    X(POW, pow, BINARY, PROMOTE, LUA)                                     \
    X(MAXIMUM, maximum, BINARY, PROMOTE, LUA)                             \
    X(MINIMUM, minimum, BINARY, PROMOTE, LUA)                             \
    X(FLOOR_DIVIDE, floor_divide, BINARY, PROMOTE, LUA)                   \
    X(REMAINDER, remainder, BINARY, PROMOTE, LUA)                         \
    X(EQ, eq, COMPARE, PROMOTE, LUA)                                      \
    X(NE, ne, COMPARE, PROMOTE, LUA)                                      \
    X(LT, lt, COMPARE, PROMOTE, LUA)                                      \
    X(LE, le, COMPARE, PROMOTE, LUA)                                      \
    X(GT, gt, COMPARE, PROMOTE, LUA)                                      \
    X(GE, ge, COMPARE, PROMOTE, LUA)                                      \
    X(CLAMP, clamp, CLAMP, SAME, LUA)                                     \
    X(WHERE, where, WHERE, VALUES, LUA)                                   \
    X(SUM, sum, REDUCE, SAME, LUA)                                        \
    X(MEAN, mean, REDUCE, FLOAT, LUA)                                     \
    X(MAX, max, REDUCE, SAME, LUA)                                        \
    X(MIN, min, REDUCE, SAME, LUA)                                        \
    X(ARGMAX, argmax, REDUCE, INT64, LUA)                                 \
    X(ARGMIN, argmin, REDUCE, INT64, LUA)                                 \
    X(VAR, var, REDUCE, FLOAT, LUA)                                       \
    X(MATMUL, matmul, MATMUL, PROMOTE, LUA)                               \
    X(RESHAPE, reshape, LAYOUT, SAME, HAND)                               \
    X(PERMUTE, permute, LAYOUT, SAME, HAND)                               \
    X(EXPAND, expand, LAYOUT, SAME, HAND)                                 \
    X(SLICE, slice, LAYOUT, SAME, HAND)                                   \
    X(CAST, cast, CAST, PARAM, HAND)                                      \
    X(CONCAT, concat, CONCAT, SAME, HAND)                                 \
    X(SLICE_SCATTER, slice_scatter, SLICE_SCATTER, SAME, NOLUA)           \
    X(GATHER, gather, GATHER, SAME, HAND)                                 \
    X(INDEX_ADD, index_add, INDEX_ADD, SAME, HAND)                        \
    X(DROPOUT_MASK, dropout_mask, DROPOUT, SAME, HAND)                    \
    X(CONV2D, conv2d, WINDOW, PROMOTE, LUA)                               \
    X(CONV2D_GRAD_INPUT, conv2d_grad_input, WINDOW, PROMOTE, NOLUA)       \
    X(CONV2D_GRAD_KERNEL, conv2d_grad_kernel, WINDOW, PROMOTE, NOLUA)     \
    X(MAXPOOL2D, max_pool2d, WINDOW, SAME, LUA)                           \
    X(AVGPOOL2D, avg_pool2d, WINDOW, SAME, LUA)                           \
    X(MAXPOOL2D_GRAD, max_pool2d_grad, WINDOW, PROMOTE, NOLUA)               \
    X(AVGPOOL2D_GRAD, avg_pool2d_grad, WINDOW, PROMOTE, NOLUA)               \
    X(CUMSUM, cumsum, ALONG, SAME, LUA)                                   \
    X(ARGSORT, argsort, ALONG, INT64, LUA)                                \
    X(TAKE_ALONG, take_along, TAKE, SAME, HAND)                           \
    X(SCATTER_ADD, scatter_add, SCATTER, SAME, HAND)                      \
    X(SOFTMAX, softmax, SOFTMAX, FLOAT, LUA)                              \
    X(LOG_SOFTMAX, log_softmax, SOFTMAX, FLOAT, LUA)                      \
    X(ASSIGN, assign, ASSIGN, SAME, HAND)                                 \
    X(CUSTOM, custom, CUSTOM, SAME, NOLUA)

/* Notes on some rows: RESHAPE, PERMUTE, EXPAND and SLICE are graph nodes of the views (eager
 * code calls dagl_reshape, ...); CAST converts to params.dtype (times params.scalar when
 * has_scalar is set: dagl_cast_scaled); CONCAT takes 1 to 8 sources;
 * SLICE_SCATTER writes a source into zeros (the slice's gradient); GATHER picks rows (embeddings)
 * and INDEX_ADD scatter-adds them back (its gradient); DROPOUT_MASK makes a fresh mask at every
 * run; WINDOW ops work on NHWC images (dagl_conv2d, dagl_pool2d and their gradients); CUMSUM sums
 * along params.axis (from the end when params.reverse is set) and ARGSORT gives a stable sort's
 * positions along it (descending with reverse; NaN counts as the largest) + params.index_base;
 * TAKE_ALONG(x, idx) picks x's elements at indices idx (x's rank) along params.axis, as
 * torch.gather, and SCATTER_ADD(x, idx, src) adds src at them (its gradient); ASSIGN
 * writes source 2 into source 1 (a graph constant, or a view of one) in place, after every other
 * node that reads the target (dagl_assign); CUSTOM nodes run caller code (dagl_graph_custom). */
#define DAGL__OP_ENUM(E, name, cls, dt, lua) DAGL_OP_##E,
typedef enum dagl_op { DAGL_OP_LIST(DAGL__OP_ENUM) DAGL_OP_COUNT } dagl_op;
#undef DAGL__OP_ENUM

/* "add", "matmul", ... */
DAGL_API const char *dagl_op_name(dagl_op op);
/* The op of that name ("add"), or DAGL_OP_NONE. */
DAGL_API dagl_op dagl_op_from_name(const char *name);

/* out = op(a) for a unary elementwise op. */
DAGL_API dagl_status dagl_unary(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, dagl_tensor **out);
/* out = op(a, b) with broadcasting and dtype promotion. */
DAGL_API dagl_status dagl_binary(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, const dagl_tensor *b,
                                 dagl_tensor **out);
/* out = op(a, s), or op(s, a) when `scalar_first` is set; the result has a's dtype (f32 for i64 a
 * with a non-integer s). */
DAGL_API dagl_status dagl_binary_scalar(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, double s,
                                        int scalar_first, dagl_tensor **out);
/* Elementwise out = min(max(a, lo), hi); a NaN bound means "no bound". */
DAGL_API dagl_status dagl_clamp(dagl_ctx *ctx, const dagl_tensor *a, double lo, double hi,
                                dagl_tensor **out);
/* out = cond != 0 ? a : b, all three broadcast together. */
DAGL_API dagl_status dagl_where(dagl_ctx *ctx, const dagl_tensor *cond, const dagl_tensor *a,
                                const dagl_tensor *b, dagl_tensor **out);
/* Reduction over `dims` (ndims == 0: over everything). ARGMAX/ARGMIN take exactly one dim or all
 * (then the flat index) and give DAGL_I64. VAR uses `correction` (1 = unbiased, like torch.var);
 * other ops ignore it. */
DAGL_API dagl_status dagl_reduce(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, const int *dims,
                                 int ndims, int keepdim, int correction, dagl_tensor **out);
/* dst = src in place, for optimizer and moving-statistics updates: both must have the same shape
 * (no broadcasting, so a wrong update fails instead of spreading one value); src is converted to
 * dst's dtype. src may overlap dst (it is copied first then); dst's own elements may not
 * (dagl_tensor_check_writable). As a graph node (DAGL_OP_ASSIGN) dst is a constant, and
 * the node waits for every other node that reads it: reads that do not depend on the assign see
 * the old value, whatever the thread count. */
DAGL_API dagl_status dagl_assign(dagl_ctx *ctx, dagl_tensor *dst, const dagl_tensor *src);
/* y += alpha * x in place (x broadcast to y's shape), for optimizer updates; y's elements may not
 * overlap (dagl_tensor_check_writable). */
DAGL_API dagl_status dagl_axpy(dagl_ctx *ctx, double alpha, const dagl_tensor *x, dagl_tensor *y);
/* Softmax (op DAGL_OP_SOFTMAX) or log-softmax (DAGL_OP_LOG_SOFTMAX) of a float tensor along dim
 * (0-based, negative from the end), fused in one pass per row: max, exp(x - max), sum, scale. */
DAGL_API dagl_status dagl_softmax(dagl_ctx *ctx, dagl_op op, const dagl_tensor *a, int dim, dagl_tensor **out);
/* NumPy/PyTorch matmul: 1-D and 2-D operands, batched over broadcast leading dims (cblas_sgemm). */
DAGL_API dagl_status dagl_matmul(dagl_ctx *ctx, const dagl_tensor *a, const dagl_tensor *b,
                                 dagl_tensor **out);

/* Joins n tensors of one dtype along dim; their other dims must be equal. */
DAGL_API dagl_status dagl_concat(dagl_ctx *ctx, int n, const dagl_tensor *const *ts, int dim,
                                 dagl_tensor **out);
/* A zero tensor of `shape` with src written at elements start, start+step, ... of dim (the
 * gradient of dagl_slice). */
DAGL_API dagl_status dagl_slice_scatter(dagl_ctx *ctx, const dagl_tensor *src, int ndim, const int64_t *shape,
                                        int dim, int64_t start, int64_t step, dagl_tensor **out);
/* Rows of `table` (dim 0) picked by the int64 `idx` of any shape: out has shape idx.shape ..
 * table.shape[1:]. Indices count from `base` (0, or 1 for Lua); one out of range is an error
 * naming it and the table's size. */
DAGL_API dagl_status dagl_gather(dagl_ctx *ctx, const dagl_tensor *table, const dagl_tensor *idx, int64_t base,
                                 dagl_tensor **out);
/* The gradient of dagl_gather: a zero table of `rows` rows with each row of src (shape idx.shape ..
 * row shape) added to row idx[i]. Deterministic: each table row sums its sources in order. */
DAGL_API dagl_status dagl_index_add(dagl_ctx *ctx, const dagl_tensor *src, const dagl_tensor *idx, int64_t rows,
                                    int64_t base, dagl_tensor **out);
/* A dropout mask: 1/(1-rate) with probability 1-rate, else 0 (f32 or f64). Element i is a pure
 * function of (seed, counter, i): graphs pass their node's run count as the counter. */
DAGL_API dagl_status dagl_dropout_mask(dagl_ctx *ctx, dagl_dtype dt, int ndim, const int64_t *shape, double rate,
                                       uint64_t seed, uint64_t counter, dagl_tensor **out);
/* ---------------------------------------------------------------- 2-D windows (NHWC) */

/* Padding of a 2-D window op, as Keras/TensorFlow define it: VALID uses whole windows only;
 * SAME pads so that out = ceil(in / stride), the odd pad row/column at the bottom/right. */
typedef enum dagl_padding { DAGL_PAD_VALID = 0, DAGL_PAD_SAME = 1 } dagl_padding;

/* The window of a convolution or pooling over images of shape (N, H, W, C). */
typedef struct dagl_window2d {
    int size[2];    /* pool size (rows, cols); convolutions take it from the kernel's shape */
    int strides[2]; /* 0 = the default: 1 for convolutions, the pool size for pooling */
    int padding;    /* a dagl_padding */
} dagl_window2d;

/* out (N, OH, OW, Cout) = x (N, H, W, Cin) correlated with kernel k (KH, KW, Cin, Cout), like
 * Keras's Conv2D (no bias); im2col + GEMM. f32 or f64 (operands promoted). */
DAGL_API dagl_status dagl_conv2d(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *k,
                                 const dagl_window2d *w, dagl_tensor **out);
/* Gradient of conv2d with respect to its input x, of shape x_shape (4 entries), from dy. */
DAGL_API dagl_status dagl_conv2d_grad_input(dagl_ctx *ctx, const dagl_tensor *dy, const dagl_tensor *k,
                                            const int64_t *x_shape, const dagl_window2d *w,
                                            dagl_tensor **out);
/* Gradient of conv2d with respect to its kernel, of shape k_shape (4 entries), from x and dy. */
DAGL_API dagl_status dagl_conv2d_grad_kernel(dagl_ctx *ctx, const dagl_tensor *x, const dagl_tensor *dy,
                                             const int64_t *k_shape, const dagl_window2d *w,
                                             dagl_tensor **out);
/* Max or average pooling (op DAGL_OP_MAXPOOL2D or DAGL_OP_AVGPOOL2D) of x (N, H, W, C); the
 * average counts only the input elements inside the window, not the padding (as Keras does). */
DAGL_API dagl_status dagl_pool2d(dagl_ctx *ctx, dagl_op op, const dagl_tensor *x, const dagl_window2d *w,
                                 dagl_tensor **out);
/* Gradient of dagl_pool2d (op: the pooling op or its _GRAD op) with respect to x, given dy.
 * Max pooling gives each window's gradient to the first maximum in row-major window order. */
DAGL_API dagl_status dagl_pool2d_grad(dagl_ctx *ctx, dagl_op op, const dagl_tensor *x, const dagl_tensor *dy,
                                      const dagl_window2d *w, dagl_tensor **out);

/* ---------------------------------------------------------------- graphs */

/* A graph of operations: inputs, constants and op nodes with their shapes inferred when added.
 * Build it once, run it many times; independent nodes run at the same time on the context's
 * worker pool, big kernels are split across idle workers. Node ids are small integers. */
typedef struct dagl_graph dagl_graph;

/* Parameters of a node beyond its sources (the ones an op does not use are ignored). */
typedef struct dagl_node_params {
    double scalar;       /* binary op with a scalar operand (has_scalar set) */
    int has_scalar;
    int scalar_first;    /* op(scalar, x) instead of op(x, scalar) */
    double lo, hi;       /* clamp bounds, NaN = none */
    int dims[DAGL_MAX_DIMS], ndims; /* reductions: dims (0-based), ndims == 0 = all; permute: the order */
    int64_t shape[DAGL_MAX_DIMS];   /* reshape (one entry may be -1) and expand: the new shape ... */
    int nshape;                     /* ... of nshape dims */
    int keepdim;
    int correction;      /* var */
    int axis;            /* slice, concat, slice_scatter: the dim (0-based) */
    int64_t start, stop, step; /* slice, slice_scatter: elements start, start+step, ... below stop */
    int64_t index_base;  /* gather, index_add, take_along, scatter_add, argsort: the number of the
                          * first row or position (0, or 1 from Lua) */
    int reverse;         /* cumsum: from the end; argsort: descending */
    double rate;         /* dropout_mask: the probability of a zero */
    uint64_t seed;       /* dropout_mask: the Philox key ... */
    uint64_t counter;    /* ... and counter (a graph node uses its run count instead) */
    dagl_dtype dtype;    /* cast: the result's dtype */
    dagl_window2d window; /* conv2d and pooling ops; their gradients take the forward input's
                           * (conv2d_grad_input) or kernel's (conv2d_grad_kernel) shape in shape */
} dagl_node_params;
/* The defaults of every parameter (no scalar, clamp bounds NaN, correction 1, step 1), which a
 * NULL params argument means too: start from these and set what the op uses. */
DAGL_API void dagl_node_params_init(dagl_node_params *p);

/* Runs any op of the op list (but CUSTOM) eagerly on srcs with the parameters a graph node of it
 * would have: the one dispatch graph runs use too, so an op gives the same bits and the same
 * errors eagerly and in a graph. */
DAGL_API dagl_status dagl_op_apply(dagl_ctx *ctx, dagl_op op, int nsrc, dagl_tensor *const *srcs,
                                   const dagl_node_params *p, dagl_tensor **out);
/* The dtype op gives for sources of dtypes dts[0..n-1] (the op list's dtype rule; p may be NULL
 * when the op takes no scalar or dtype parameter). */
DAGL_API dagl_dtype dagl_op_result_dtype(dagl_op op, int n, const dagl_dtype *dts, const dagl_node_params *p);

/* An empty graph on a context (its workers run the graph's nodes); free it when done. */
DAGL_API dagl_status dagl_graph_new(dagl_ctx *ctx, dagl_graph **out);
DAGL_API void dagl_graph_free(dagl_graph *g);
/* Declares the next input; runs take inputs in declaration order. */
DAGL_API dagl_status dagl_graph_input(dagl_graph *g, dagl_dtype dt, int ndim, const int64_t *shape,
                                      int *id);
/* A tensor baked into the graph (retained by it). */
DAGL_API dagl_status dagl_graph_constant(dagl_graph *g, dagl_tensor *t, int *id);
/* Adds op(srcs...) with `p` (may be NULL); fails with a message naming the op and shapes when the
 * sources do not fit. */
DAGL_API dagl_status dagl_graph_node(dagl_graph *g, dagl_op op, int nsrc, const int *srcs,
                                     const dagl_node_params *p, int *id);
/* Names the layer a node belongs to, for errors and traces ("dense_1"). The text is copied. */
DAGL_API dagl_status dagl_graph_set_label(dagl_graph *g, int id, const char *label);
/* Declares the next output. */
DAGL_API dagl_status dagl_graph_output(dagl_graph *g, int id);
DAGL_API int dagl_graph_num_nodes(const dagl_graph *g);
DAGL_API int dagl_graph_num_inputs(const dagl_graph *g);
DAGL_API int dagl_graph_num_outputs(const dagl_graph *g);
/* Inferred dtype and shape of a node (shape points into the graph). */
DAGL_API dagl_status dagl_graph_node_info(const dagl_graph *g, int id, dagl_dtype *dt, int *ndim,
                                          const int64_t **shape);
/* What a run will do, known before running: op nodes that run (after fusing matmul+bias+activation
 * chains and trees of elementwise ops, and dropping nodes no output or assign needs) and their memory. Runs keep
 * intermediate results in one arena held by the graph (made by the first run, reused by later
 * ones: a run in steady state allocates only its outputs; counted by dagl_ctx_live_bytes until
 * the graph is freed or rebuilt); a slot is shared by results that can
 * never be alive together in any schedule the threaded executor may pick, and elementwise nodes
 * may write over a source no later node reads (in place). Outputs, results of custom nodes and
 * what those read get memory of their own; views cost nothing; inputs, constants and kernel
 * scratch are not counted. DAGL_NO_PLAN=1 in the environment when a context is made (for all its
 * runs) or dagl_run_options.no_plan runs without the plan (every result in its own memory, freed
 * after its last consumer). */
typedef struct dagl_graph_plan_info {
    int nodes;
    int64_t total_bytes;   /* the naive sum: every result in memory of its own */
    int64_t peak_bytes;    /* planned peak: arena_bytes plus the results with memory of their own */
    int64_t arena_bytes;   /* the arena */
    int planned_nodes;     /* results placed in the arena ... */
    int inplace_nodes;     /* ... of which written over a source */
} dagl_graph_plan_info;
DAGL_API dagl_status dagl_graph_plan(dagl_graph *g, dagl_graph_plan_info *out);
/* Does now what a graph's first run does first (fusion, dead-node elimination, consumer lists,
 * memory plan), so that runs of the graph only read it: call it after the last node is added and
 * before running the graph from several threads at once (one run_options.ctx per thread). */
DAGL_API dagl_status dagl_graph_prepare(dagl_graph *g);
/* Runs the graph: inputs[i] for each input (dtype and shape checked), outputs[i] receive new
 * references. On error nothing is left allocated and the error names the node and its layer. */
DAGL_API dagl_status dagl_graph_run(dagl_graph *g, dagl_tensor *const *inputs, dagl_tensor **outputs);
/* An exclusive lock that graph nodes may need (the Lua VM lock is one). The executor never
 * blocks a worker on it: a node whose lock is taken is parked and handed to a worker when the
 * lock is released, so workers keep running C work meanwhile. OS threads block in acquire. */
typedef struct dagl_lock dagl_lock;
typedef struct dagl_lock_stats {
    double hold_seconds;  /* total time held */
    double wait_seconds;  /* total time threads spent blocked in acquire */
    long long acquisitions, contended, parked;
} dagl_lock_stats;
/* Create, free, take (blocking), try (1 when taken) and release the lock. */
DAGL_API dagl_status dagl_lock_new(dagl_lock **out);
DAGL_API void dagl_lock_free(dagl_lock *lock);
DAGL_API void dagl_lock_acquire(dagl_lock *lock);
DAGL_API int dagl_lock_try(dagl_lock *lock); /* 1 when taken */
DAGL_API void dagl_lock_release(dagl_lock *lock);
/* Releases the lock and takes it back after whoever waited for it (a switch-interval hand-over);
 * the time in between counts as this thread's wait. */
DAGL_API void dagl_lock_yield(dagl_lock *lock);
/* Threads blocked in acquire plus parked nodes, right now (for switch-interval hand-offs). */
DAGL_API int dagl_lock_waiters(const dagl_lock *lock);
/* fn(ud) is called (from the waiting thread, without the lock's mutex) whenever a node parks on
 * the lock or a thread is about to block in acquire, so its holder can learn that someone waits
 * (the Lua binding times its switch interval). */
DAGL_API void dagl_lock_set_contended(dagl_lock *lock, void (*fn)(void *ud), void *ud);
DAGL_API void dagl_lock_get_stats(const dagl_lock *lock, dagl_lock_stats *out);
DAGL_API void dagl_lock_reset_stats(dagl_lock *lock);

/* A node computed by caller code: fn(ud, ctx, nsrc, srcs, out) must set *out to a new tensor of
 * the declared dtype and shape (checked) or return an error status with the context's error set.
 * With `lock`, the node runs holding it. `free_ud` (may be NULL) is called when the graph is freed. */
typedef dagl_status (*dagl_custom_fn)(void *ud, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs,
                                      dagl_tensor **out);
DAGL_API dagl_status dagl_graph_custom(dagl_graph *g, const char *name, int nsrc, const int *srcs,
                                       dagl_dtype dt, int ndim, const int64_t *shape, dagl_custom_fn fn,
                                       void *ud, void (*free_ud)(void *), dagl_lock *lock, int *id);

/* Runs fn(arg, ith, n) for ith = 0..n-1 on the context's workers (inline when n is 1 or there is
 * one thread), returning when all are done; for custom nodes and extensions that split their own
 * work. Choose n from the problem size, not the thread count, to get the same bits at any count. */
DAGL_API void dagl_parallel(dagl_ctx *ctx, void (*fn)(void *arg, int ith, int nth), void *arg, int n);

/* ---------------------------------------------------------------- traces */

/* A record of runs: every node (worker, start, end, how it was scheduled) and every hold of and
 * wait for the locks of custom nodes (the Lua VM lock). Filled by runs given it in
 * dagl_run_options; written as Chrome/Perfetto trace JSON, an SVG timeline, or a text summary. */
typedef struct dagl_trace dagl_trace;

typedef struct dagl_trace_stats {
    double wall_seconds;        /* first node start to last node end */
    double work_seconds;        /* sum of node durations, less their waits for the VM lock */
    double parallelism;         /* work / wall */
    double critical_path_seconds; /* longest dependency chain, by measured durations */
    int dag_width;              /* most nodes at one depth */
    int nodes, workers_used;
    double lock_hold_seconds, lock_wait_seconds;
    double lock_serialized_fraction; /* lock hold time / wall */
    long long lock_waits, steals, inline_runs;
    long long shares; /* shares of split kernels run by a worker other than their node's (their
                       * time counts as work; `nodes` does not count them) */
    long long lock_handoffs; /* holds of the VM lock that followed a hold by another worker */
} dagl_trace_stats;

/* A trace to pass in dagl_run_options; clear forgets the runs recorded; get_stats summarizes
 * them (wall, work, parallelism, critical path, lock share). */
DAGL_API dagl_status dagl_trace_new(dagl_trace **out);
DAGL_API void dagl_trace_free(dagl_trace *tr);
DAGL_API void dagl_trace_clear(dagl_trace *tr);
DAGL_API void dagl_trace_get_stats(const dagl_trace *tr, dagl_trace_stats *out);
/* The summary as text (malloc'ed; the caller frees it), NULL when out of memory. */
DAGL_API char *dagl_trace_summary(const dagl_trace *tr);
/* Chrome trace-event JSON (one lane per worker, a lane for the lock, one per span lane),
 * loadable in Perfetto; otherData.origin_ns is the monotonic clock (ns) at ts 0. */
DAGL_API dagl_status dagl_trace_write_json(const dagl_trace *tr, const char *path);
/* A timeline picture: one row per worker and one for the lock, nodes as labelled bars. */
DAGL_API dagl_status dagl_trace_write_svg(const dagl_trace *tr, const char *path);
/* Records a span of work done outside graph runs on a lane of its own, named `lane` (the
 * collectives of dagl_dist's communication thread: lane "network"), with times from
 * dagl_trace_now_ns (the monotonic clock); thread-safe. The JSON has it (the SVG does not). */
DAGL_API void dagl_trace_span(dagl_trace *tr, const char *lane, const char *name, int64_t t0_ns, int64_t t1_ns);
DAGL_API int64_t dagl_trace_now_ns(void);

/* ---------------------------------------------------------------- runs */

typedef struct dagl_run_options {
    dagl_trace *trace; /* record this run into it (may be NULL) */
    int unlocked;      /* custom nodes run without their lock: their code is safe to run
                        * concurrently (Lua nodes in per-worker mode) */
    dagl_ctx *ctx;     /* receives this run's error text (a child of the graph's context, one per
                        * calling thread); NULL: the graph's context */
    int check_numerics; /* check every node's f32/f64 output: the first node giving a NaN or an
                         * infinity fails the run (DAGL_E_NUMERIC naming the node, op and layer) */
    int no_plan;        /* run without the memory plan (dagl_graph_plan): each result in its own
                         * memory (for debugging; the bits are the same) */
} dagl_run_options;

/* dagl_graph_run with options (NULL = defaults). */
DAGL_API dagl_status dagl_graph_run_ex(dagl_graph *g, dagl_tensor *const *inputs, dagl_tensor **outputs,
                                       const dagl_run_options *opt);

/* Graphviz text of the graph (malloc'ed; the caller frees it). Once the graph has run (or been
 * planned), nodes that do not run (fused away, or needed by no output or assign) are gray and
 * dashed, and the ordering edges of assign nodes are dashed edges labelled "before". */
DAGL_API char *dagl_graph_dot(const dagl_graph *g);

/* ---------------------------------------------------------------- distributed (MPI) */

/* Data-parallel work across processes: a handle on the world of ranks an MPI launcher started
 * (`mpirun -np 2 prog`), or a world of one rank when the process was not started by a launcher
 * (no OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK in the environment) or dagl was built without
 * MPI (dagl_dist_have_mpi() is 0): then every collective is a local copy, so the same program
 * runs on one process unchanged. Under a launcher with more than one rank and without MPI,
 * dagl_dist_new fails (DAGL_E_ARG) rather than train each rank alone.
 * MPI allows one initialisation per process, so there is at most one MPI-backed dagl_dist per
 * process, ever: a second dagl_dist_new while one is alive, or after it was freed, fails with
 * DAGL_E_ARG (share the handle instead). That flag is the only process-wide state here.
 * Every MPI call runs on the handle's own communication thread, fed by a queue
 * (MPI_THREAD_SERIALIZED): callers and graph workers never call MPI and never spin on it.
 * Every collective first exchanges a fingerprint (sequence number, collective, dtype, shape, op,
 * root) with every other rank: a mismatch fails on every rank with DAGL_E_SHAPE naming the
 * collective, its sequence number, both ranks and both shapes, before any data moves. A peer
 * that does not answer within the timeout (default 60 s, DAGL_DIST_TIMEOUT in seconds, or
 * dagl_dist_set_timeout) fails the collective with DAGL_E_INTERNAL naming the rank; a peer that
 * reported an error (dagl_dist_fail) or shut down fails it at once, naming the rank and its error.
 * After a timeout the ranks are out of step: later collectives fail at once, and dagl_dist_free
 * prints the error and ends the whole MPI job (MPI_Abort) as the last resort. Collectives must
 * be issued in the same order on every rank; they are not thread-safe on one handle (issue them
 * from one thread, or from graph runs that do not overlap). */
typedef struct dagl_dist dagl_dist;

typedef enum dagl_dist_op { DAGL_DIST_SUM = 0, DAGL_DIST_MEAN, DAGL_DIST_MAX, DAGL_DIST_OP_COUNT } dagl_dist_op;

typedef struct dagl_dist_options {
    double timeout; /* seconds each collective may wait for the other ranks; 0 = DAGL_DIST_TIMEOUT
                     * or 60 */
} dagl_dist_options;

/* 1 when dagl was built with MPI (DAGL_HAVE_MPI), else 0. */
DAGL_API int dagl_dist_have_mpi(void);
/* The world size an MPI launcher announced in the environment (OMPI_COMM_WORLD_SIZE, PMI_SIZE,
 * PMIX_SIZE, MPI_LOCALNRANKS; 1 for PMIX_RANK alone), 0 when none started this process. */
DAGL_API int dagl_dist_launched(void);
/* Joins the world the launcher started (MPI_Init_thread on the communication thread), or makes a
 * single-rank world (see above); `opt` may be NULL. Errors are set on ctx. */
DAGL_API dagl_status dagl_dist_new(dagl_ctx *ctx, const dagl_dist_options *opt, dagl_dist **out);
/* Leaves the world: tells every other rank, waits (up to the timeout) until each has said it
 * leaves or failed, then MPI_Finalize; when a collective timed out or a peer never answers, prints
 * why to stderr and calls MPI_Abort (ending every rank). NULL is allowed. */
DAGL_API void dagl_dist_free(dagl_dist *d);
/* Tells every other rank that this one failed with `message` (once; later calls do nothing):
 * their collectives in progress or to come fail at once with "rank R failed: message". The dagl
 * host calls it when a script that initialised dagl.dist ends in an error. */
DAGL_API dagl_status dagl_dist_fail(dagl_dist *d, const char *message);
/* This process's rank (0-based), the number of ranks, whether MPI is in use (a launched world),
 * and the timeout in seconds (settable; > 0). */
DAGL_API int dagl_dist_rank(const dagl_dist *d);
DAGL_API int dagl_dist_size(const dagl_dist *d);
DAGL_API int dagl_dist_is_mpi(const dagl_dist *d);
DAGL_API double dagl_dist_timeout(const dagl_dist *d);
DAGL_API dagl_status dagl_dist_set_timeout(dagl_dist *d, double seconds);
/* Number of collectives this rank has issued (the sequence number of the last one). */
DAGL_API int64_t dagl_dist_sequence(const dagl_dist *d);
/* Records every collective from now on as a span on lane "network" of tr (its name, sequence
 * number and size, from the communication thread's start to its end), or stops with tr NULL:
 * do that before freeing tr. */
DAGL_API void dagl_dist_set_trace(dagl_dist *d, dagl_trace *tr);

/* The collectives, on float32, float64 and int64 tensors of any shape (any strides: copied to
 * contiguous memory as needed); errors (on ctx) name the collective. They block the calling
 * thread (not spinning) until the communication thread is done. With out NULL, allreduce and
 * broadcast write the result into t (which must be writable), else *out gets a new tensor.
 * mean divides the sum by the number of ranks (int64: truncated). */
DAGL_API dagl_status dagl_dist_barrier(dagl_dist *d, dagl_ctx *ctx);
DAGL_API dagl_status dagl_dist_allreduce(dagl_dist *d, dagl_ctx *ctx, dagl_dist_op op, dagl_tensor *t,
                                         dagl_tensor **out);
/* Root's t to every rank (root in 0..size-1, the same on every rank). */
DAGL_API dagl_status dagl_dist_broadcast(dagl_dist *d, dagl_ctx *ctx, dagl_tensor *t, int root,
                                         dagl_tensor **out);
/* Every rank's t, joined along dim 0 in rank order: shape [size * n, ...] for t of shape [n, ...]
 * ([size] for a 0-d t). */
DAGL_API dagl_status dagl_dist_allgather(dagl_dist *d, dagl_ctx *ctx, const dagl_tensor *t, dagl_tensor **out);
/* The reduction of every rank's t (dim 0 a multiple of size), of which rank r keeps block r of
 * dim 0: shape [n / size, ...]. */
DAGL_API dagl_status dagl_dist_reduce_scatter(dagl_dist *d, dagl_ctx *ctx, dagl_dist_op op, const dagl_tensor *t,
                                              dagl_tensor **out);

/* A collective as graph nodes, so traced functions (dagl.fn, a training step) communicate: the
 * node "launch" hands the sources (packed into one buffer) to the communication thread and
 * finishes at once; the node "wait" completes when the data is back, parked meanwhile (like a
 * node waiting for the VM lock), so workers go on with other nodes. allreduce and broadcast take
 * 1 to DAGL_MAX_SRCS - 1 sources of one dtype (a bucket of gradients) and give out_ids[i], the
 * result for srcs[i]; allgather and reduce_scatter take one source. `after` (-1: none) is a node
 * the launch must follow: pass the previous collective's *launch_id so every rank launches its
 * collectives in one fixed order. Runs of a graph with collectives must not overlap. The graph
 * keeps the handle's memory (not its world): after dagl_dist_free its collectives fail. */
typedef enum dagl_dist_kind {
    DAGL_DIST_ALLREDUCE = 0, DAGL_DIST_BROADCAST, DAGL_DIST_ALLGATHER, DAGL_DIST_REDUCE_SCATTER,
    DAGL_DIST_KIND_COUNT
} dagl_dist_kind;
typedef struct dagl_dist_node {
    dagl_dist_kind kind;
    dagl_dist_op op; /* allreduce, reduce_scatter */
    int root;        /* broadcast */
    int after;       /* a node the launch follows, or -1 */
} dagl_dist_node;
DAGL_API dagl_status dagl_graph_collective(dagl_graph *g, dagl_dist *d, const dagl_dist_node *c, int n,
                                           const int *srcs, int *out_ids, int *launch_id);

/* ---------------------------------------------------------------- files */

/* Named tensors and string metadata, as read from or written to a file. The reader fills it
 * (names and values are malloc'ed, the tensors are new references); dagl_tensor_dict_clear
 * frees everything and zeroes it. Writers only read it (tensors are borrowed). */
typedef struct dagl_tensor_dict {
    int n;
    char **names;
    dagl_tensor **tensors;
    int nmeta;
    char **meta_keys, **meta_values;
} dagl_tensor_dict;
DAGL_API void dagl_tensor_dict_clear(dagl_tensor_dict *d);

/* safetensors: tensors of dtype F32/F64/I64/U8 (I32 and BOOL are converted to int64 on read)
 * and string metadata. Errors (DAGL_E_IO, DAGL_E_FORMAT) name the file, the entry and what is
 * wrong; every length and offset is checked against the file size. Writers write `path.tmp`
 * and rename it, so a crash never leaves a half-written file; keys are sorted, data contiguous,
 * the header padded with spaces to a multiple of 8 bytes. */
DAGL_API dagl_status dagl_safetensors_read(dagl_ctx *ctx, const char *path, dagl_tensor_dict *out);
DAGL_API dagl_status dagl_safetensors_write(dagl_ctx *ctx, const char *path, const dagl_tensor_dict *d);
/* NumPy .npy (format 1.0/2.0/3.0, C order): '<f4', '<f8', '<i8', '|u1' (uint8), read straight
 * into the tensor (one read, no per-element work); on read also '<i4' and '|b1' (converted to
 * int64). Writes format 1.0 (its 2-byte header length always suffices: at most 8 dims). */
DAGL_API dagl_status dagl_npy_read(dagl_ctx *ctx, const char *path, dagl_tensor **out);
DAGL_API dagl_status dagl_npy_write(dagl_ctx *ctx, const char *path, const dagl_tensor *t);
/* NumPy .npz as written by np.savez (stored entries) or np.savez_compressed (deflated entries,
 * zip method 8, inflated by zlib straight into each tensor); names without ".npy". Sizes and
 * CRC-32s are checked; other compression methods fail with DAGL_E_FORMAT naming the method. */
DAGL_API dagl_status dagl_npz_read(dagl_ctx *ctx, const char *path, dagl_tensor_dict *out);
/* An IDX file (the format of MNIST and Fashion-MNIST), gzipped or not (told by the gzip magic;
 * gunzipped by zlib as it is read): type 0x08 (unsigned byte) gives a uint8 tensor read straight
 * into it, 0x09/0x0B/0x0C (int8/16/32) int64, 0x0D/0x0E float32/float64; the dims are the file's.
 * Errors (DAGL_E_FORMAT, DAGL_E_IO) name the file and what is wrong: a bad magic number or type,
 * data shorter than the dims need (checked before allocating: "truncated data: 100 bytes for shape
 * [2, 28, 28], which needs 1568"), bytes after the data, a corrupt or cut gzip stream. */
DAGL_API dagl_status dagl_idx_read(dagl_ctx *ctx, const char *path, dagl_tensor **out);
/* A numeric CSV file as a float32 (rows, cols) tensor; a gzipped one (gzip's magic bytes: a
 * .csv.gz) is gunzipped by zlib in memory first. Blank lines are skipped; with `header`
 * the first non-blank line gives the column names (*names gets ncols malloc'ed strings, freed
 * with dagl_strings_free; NULL without a header). Errors name the line and column, or say the
 * gzip stream is truncated or corrupt. */
typedef struct dagl_csv_options {
    char delimiter; /* 0 = ',' */
    int header;
} dagl_csv_options;
DAGL_API dagl_status dagl_csv_read(dagl_ctx *ctx, const char *path, const dagl_csv_options *opt,
                                   dagl_tensor **out, char ***names, int *ncols);
DAGL_API void dagl_strings_free(char **s, int n);

/* Rows of `src` (dim 0) picked by `index` (0-based, n of them) copied into a new contiguous
 * tensor on a background thread, so a training loop can gather batch k+1 while it computes on
 * batch k. Indices are checked before the thread starts; `src` is retained until the copy is
 * done (the caller must not write to it meanwhile). dagl_rows_wait hands out the result (one
 * reference) and frees the handle; when `ctx` (which must outlive the handle) is interrupted
 * while it waits it fails with DAGL_E_INTERRUPTED instead and keeps the handle (wait again or free
 * it). dagl_rows_free waits and drops everything (for errors). */
typedef struct dagl_rows_job dagl_rows_job;
DAGL_API dagl_status dagl_gather_rows_async(dagl_ctx *ctx, dagl_tensor *src, const int64_t *index,
                                            int64_t n, dagl_rows_job **out);
DAGL_API dagl_status dagl_rows_wait(dagl_rows_job *g, dagl_tensor **out);
DAGL_API void dagl_rows_free(dagl_rows_job *g);

/* ---------------------------------------------------------------- ONNX import */

/* An ONNX model (a ModelProto file, opsets 7 to 17) loaded for running on dagl: parsed by
 * protobuf-c, its ops checked (an op dagl cannot import, another domain or another opset fails
 * here with DAGL_E_ARG naming the op, the node and the opset; a truncated or corrupt file with
 * DAGL_E_FORMAT), its initializers made tensors once (inline data wrapped without a copy,
 * external data read from files relative to the model's folder). dagl_onnx_build then makes a
 * dagl graph of it for fixed input shapes, any number of times (one per input signature):
 * shape computations (Shape, Gather, Concat, ... on int64) fold at build time, convolutions run
 * NHWC with the layout converted only where it matters, BatchNormalization folds into the Conv
 * before it. Attribute values dagl cannot honour fail the build naming the attribute. The model
 * can be freed before the graphs built from it (docs/onnx.md). */
typedef struct dagl_onnx_model dagl_onnx_model;
DAGL_API dagl_status dagl_onnx_load(dagl_ctx *ctx, const char *path, dagl_onnx_model **out);
DAGL_API void dagl_onnx_free(dagl_onnx_model *m);
/* The inputs to feed (initializers listed as graph inputs excluded) and the outputs, in the
 * file's order. */
DAGL_API int dagl_onnx_num_inputs(const dagl_onnx_model *m);
DAGL_API int dagl_onnx_num_outputs(const dagl_onnx_model *m);
DAGL_API int dagl_onnx_opset(const dagl_onnx_model *m);
/* Input i's name, dtype (float32, float64, int64; bool and uint8 as uint8) and the shape the file
 * declares (ndim -1 when it declares none; a dim -1 when symbolic); pointers into the model. */
DAGL_API dagl_status dagl_onnx_input_info(const dagl_onnx_model *m, int i, const char **name, dagl_dtype *dt,
                                          int *ndim, const int64_t **shape);
DAGL_API const char *dagl_onnx_output_name(const dagl_onnx_model *m, int i);
/* A graph of the model on the model's context for input shapes ndims[i], shapes[i] (NULL
 * shapes, or a NULL shapes[i]: the declared shape, which must then be fixed). Given shapes must
 * match the declared dims that are fixed (DAGL_E_SHAPE naming the input). The graph's inputs and
 * outputs are the model's, in ONNX's layout; bool results come as uint8. Builds of one model run
 * one at a time (they report errors on the model's context); the graphs they give are independent. */
DAGL_API dagl_status dagl_onnx_build(dagl_onnx_model *m, const int *ndims, const int64_t *const *shapes,
                                     dagl_graph **out);
/* The model's nodes added to an existing graph g (on the model's context) after node ids
 * inputs[i] (one per model input; their dtypes and shapes are the inputs'), for composing an
 * ONNX model with other nodes (dagl.fn traces); outputs[i] receive the ids of its outputs, in
 * ONNX's layout. On failure, nodes already added stay in g, used by nothing (no run computes
 * them). */
DAGL_API dagl_status dagl_onnx_add_to_graph(dagl_onnx_model *m, dagl_graph *g, const int *inputs, int *outputs);
/* Writes graph g as an ONNX model (opset 17): inputs input_0.., outputs output_0.. with their
 * fixed shapes, constants as initializers, each op as the ONNX ops that compute it (NHWC windows
 * between Transposes). g must not have run (a run fuses nodes): export a fresh trace. An op with
 * no ONNX counterpart (dropout masks, assigns, custom nodes, gradients, var) fails with
 * DAGL_E_ARG naming the node. The file is written as path.tmp, then renamed. */
DAGL_API dagl_status dagl_onnx_save(const dagl_graph *g, const char *path);
/* A TensorProto file (ONNX's test data .pb files) read into a new tensor, or a tensor written as
 * one (raw little-endian data; float32, float64, int64, uint8). */
DAGL_API dagl_status dagl_onnx_tensor_read(dagl_ctx *ctx, const char *path, dagl_tensor **out);
DAGL_API dagl_status dagl_onnx_tensor_write(dagl_ctx *ctx, const char *path, const dagl_tensor *t);

/* ---------------------------------------------------------------- formatting */

/* Prints a tensor like PyTorch ("tensor([[1., 2.], ...])"), summarized with "..." when it has more
 * than 1000 elements. Returns a malloc'ed string the caller frees, or NULL when out of memory. */
DAGL_API char *dagl_tensor_format(const dagl_tensor *t);

/* ---------------------------------------------------------------- build information */

/* "0.1.0". */
DAGL_API const char *dagl_version(void);
/* OpenBLAS core name ("SkylakeX"), its configuration string and its threading variant. */
DAGL_API const char *dagl_blas_corename(void);
DAGL_API const char *dagl_blas_config(void);
/* How the core was chosen: "as OpenBLAS detected it", "set by OPENBLAS_CORETYPE", or "chosen by
 * dagl for this AVX-512 CPU (OpenBLAS detected Haswell); verified by dagl's self-check". dagl
 * re-selects the core once per process when the first context is made, unless OPENBLAS_CORETYPE
 * is set; an AVX-512 core OpenBLAS detected is checked too ("as OpenBLAS detected it; verified by
 * dagl's self-check", or "Cooperlake failed dagl's self-check; Haswell instead"). */
DAGL_API const char *dagl_blas_choice(void);
DAGL_API int dagl_num_cores(void);

#ifdef __cplusplus
}
#endif
#endif /* DAGL_H */
