/* internal.h -- what the core's own files share: the tensor and context structs and helpers.
 * Never included by users; the public view is include/dagl.h. */
#ifndef DAGL_INTERNAL_H
#define DAGL_INTERNAL_H

#include "dagl.h"
#include <stdatomic.h>
#include <stdbool.h>

#define DAGL_ERRMSG_SIZE 512
#define DAGL_HIDDEN __attribute__((visibility("hidden")))

typedef struct dagl_pool dagl_pool;

struct dagl_ctx {
    char errmsg[DAGL_ERRMSG_SIZE];
    dagl_status last_status;
    int threads;
    uint64_t seed;         /* Philox key */
    uint64_t draw;         /* how many rand/randn calls so far: the Philox counter's high word */
    atomic_llong own_live;  /* storage for `live` of a root context */
    atomic_llong *live;     /* tensor bytes alive: own_live, or the parent's for a child context */
    dagl_pool *pool;        /* workers, made on first use; shared (not owned) by child contexts */
    bool owns_pool;
};

/* A context for one worker of a run: its own error text, the parent's seed and live-bytes
 * counter, so tensors made on any worker are counted with the parent. */
DAGL_HIDDEN void dagl__ctx_child(dagl_ctx *parent, dagl_ctx *child);
/* The context's worker pool, started on first use with ctx->threads workers. */
DAGL_HIDDEN dagl_status dagl__ctx_pool(dagl_ctx *ctx, dagl_pool **out);

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
    size_t nbytes;          /* size of the block */
    dagl_tensor *base;      /* owner of the block when this is a view, else NULL */
    atomic_llong *live;     /* the live-bytes counter of the creating context (which outlives it) */
    void (*release)(void *);/* wrapped caller memory */
    void *release_ud;
    bool own_heap;          /* mem was allocated separately (large tensors) */
    bool counted;           /* nbytes were added to *live (blocks dagl made itself) */
};

/* Element counts and contiguous strides for a shape. */
DAGL_HIDDEN int64_t dagl__numel(int ndim, const int64_t *shape);
DAGL_HIDDEN void dagl__contig_strides(int ndim, const int64_t *shape, int64_t *strides);
/* Checks a shape (ndim range, non-negative sizes, no overflow); sets the error naming `op`. */
DAGL_HIDDEN dagl_status dagl__check_shape(dagl_ctx *ctx, const char *op, int ndim, const int64_t *shape);
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
/* Value of one element at a flat byte address, as double; and the store. */
DAGL_HIDDEN double dagl__load(dagl_dtype dt, const char *p);
DAGL_HIDDEN void dagl__store(dagl_dtype dt, char *p, double v);

#endif
