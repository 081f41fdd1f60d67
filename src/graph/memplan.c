/* memplan.c -- memory planning for graph runs: every intermediate result gets an offset in one
 * arena that is kept on the graph, so a run in steady state allocates nothing but its outputs.
 *
 * The executor runs nodes in any order the dependencies allow, on any number of threads, so two
 * results may share bytes only when one is provably dead before the other is written in EVERY
 * valid schedule: all consumers of the first are ancestors of the second's producer (or, for an
 * elementwise node writing over its own source, that node itself). Ancestry is known exactly
 * within a window of WBITS ids (a bitset per node) and beyond it by a cut: every node below
 * cut[p] is an ancestor of p. That is conservative (a missed ancestor only costs memory) and
 * linear in the graph size. Placement is greedy best fit in node order, like the arena planners
 * of ggml and TFLite.
 *
 * Never planned: graph outputs and what they view (they are handed to the caller), nodes that
 * write into an assign's target (order.c), inputs and
 * constants (the caller's), results of custom nodes and of ops the planner does not know, and
 * the sources of those (such a node might keep or return a view of them). */
#include "graph.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64
#define WBITS 256 /* ancestors known exactly within this many ids back */
#define WWORDS (WBITS / 64)
#define SCAN_CAP 4096 /* with more slots alive than this, new ones go at the arena's end */

typedef struct planner {
    const dagl_graph *g;
    bool *runs;          /* op nodes a run executes */
    int *root;           /* the node whose memory a node's result is (itself, or a view's source's) */
    bool *planned;       /* per root: lives in the arena */
    int64_t *size;       /* per root: bytes, rounded up to ALIGN */
    int *gstart, *gcons; /* per root: consumers of it and of its views (CSR) */
    int *last;           /* per root: the largest consumer id */
    uint64_t (*anc)[WWORDS]; /* bit d-1 of node p: node p-d is an ancestor of p */
    int *cut, *cut_after;    /* cut[p]: all running nodes below it are ancestors of p; cut_after[p]:
                              * the smallest cut of the running nodes from p on */
} planner;

/* Whether node p-d is an ancestor of p, per the window (1 <= d <= WBITS). */
static bool win_bit(const planner *pl, int p, int d)
{
    return (pl->anc[p][(d - 1) / 64] >> ((d - 1) % 64)) & 1;
}

/* Whether c provably runs (finishes) before p starts. */
static bool is_ancestor(const planner *pl, int p, int c)
{
    return c < p && (c < pl->cut[p] || (p - c <= WBITS && win_bit(pl, p, p - c)));
}

/* dst |= src shifted d ids further back (bit j of src becomes bit j+d), cut at WBITS. */
static void shift_or(uint64_t *dst, const uint64_t *src, int d)
{
    int ws = d / 64, bs = d % 64;
    for (int i = WWORDS - 1; i >= ws; i--) {
        uint64_t v = src[i - ws] << bs;
        if (bs && i - ws - 1 >= 0) v |= src[i - ws - 1] >> (64 - bs);
        dst[i] |= v;
    }
}

/* The ancestor window and the cut of every running node, in id order (sources come first). */
static void ancestry(planner *pl)
{
    const dagl_graph *g = pl->g;
    for (int p = 0; p < g->n; p++) {
        if (!pl->runs[p]) continue;
        const dagl_node *nd = &g->nodes[p];
        int t = 0;
        for (int k = 0; k < nd->nsrc; k++) {
            int s = nd->src[k], d = p - s;
            if (!pl->runs[s]) continue;
            if (d <= WBITS) {
                pl->anc[p][(d - 1) / 64] |= (uint64_t)1 << ((d - 1) % 64);
                shift_or(pl->anc[p], pl->anc[s], d);
            }
            int c = pl->cut[s] == s ? s + 1 : pl->cut[s];
            if (c > t) t = c;
        }
        while (t < p && (!pl->runs[t] || (p - t <= WBITS && win_bit(pl, p, p - t)))) t++;
        pl->cut[p] = t;
    }
    int after = INT_MAX;
    for (int p = g->n - 1; p >= 0; p--) {
        if (pl->runs[p] && pl->cut[p] < after) after = pl->cut[p];
        pl->cut_after[p] = after;
    }
}

/* Roots, sizes, what may be planned, and the consumer lists of each root. */
static bool group(planner *pl)
{
    const dagl_graph *g = pl->g;
    int n = g->n;
    for (int i = 0; i < n; i++) {
        const dagl_node *nd = &g->nodes[i];
        dagl_node_mem m = dagl__node_mem(nd);
        pl->root[i] = m == NODE_MEM_VIEW ? pl->root[nd->src[0]] : i;
        int64_t bytes = dagl__numel(nd->ndim, nd->shape) * (int64_t)dagl_dtype_size(nd->dtype);
        pl->size[i] = (bytes + ALIGN - 1) / ALIGN * ALIGN;
        pl->planned[i] = pl->runs[i] && m == NODE_MEM_FRESH && bytes > 0 && !nd->writes_const;
    }
    for (int i = 0; i < n; i++) {
        const dagl_node *nd = &g->nodes[i];
        if (!pl->runs[i]) continue;
        if (nd->is_output) pl->planned[pl->root[i]] = false;
        bool opaque = dagl__node_mem(nd) == NODE_MEM_OPAQUE;
        for (int k = 0; k < nd->nsrc; k++) {
            int r = pl->root[nd->src[k]];
            if (opaque) pl->planned[r] = false;
            pl->gstart[r + 1]++;
        }
    }
    for (int i = 0; i < n; i++) pl->gstart[i + 1] += pl->gstart[i];
    pl->gcons = malloc(sizeof(int) * ((size_t)pl->gstart[n] + 1));
    int *fill = calloc((size_t)n + 1, sizeof(int));
    if (!pl->gcons || !fill) {
        free(fill);
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!pl->runs[i]) continue;
        for (int k = 0; k < g->nodes[i].nsrc; k++) {
            int r = pl->root[g->nodes[i].src[k]];
            pl->gcons[pl->gstart[r] + fill[r]++] = i;
            if (i > pl->last[r]) pl->last[r] = i;
        }
    }
    free(fill);
    return true;
}

/* Whether root x's memory is free for node p's result: all its consumers ran before p starts. */
static bool dead_at(const planner *pl, int x, int p)
{
    if (pl->last[x] < pl->cut[p]) return true;
    for (int c = pl->gstart[x]; c < pl->gstart[x + 1]; c++)
        if (!is_ancestor(pl, p, pl->gcons[c])) return false;
    return true;
}

/* A source of elementwise node p whose slot p may write its result into, or -1: a planned root of
 * p's dtype and shape, read by p directly (not through a view) and by no other source of p as
 * a view, whose other consumers all ran before p; no source needs a dtype cast (kernels write
 * only their final result into the slot they are given, but a mixed-dtype node is rare enough
 * to stay out of place). */
static int inplace_source(const planner *pl, const int64_t *offset, int p)
{
    const dagl_node *nd = &pl->g->nodes[p];
    if (!dagl__node_elementwise(nd)) return -1;
    for (int k = 0; k < nd->nsrc; k++)
        if (pl->g->nodes[nd->src[k]].dtype != nd->dtype) return -1;
    for (int k = 0; k < nd->nsrc; k++) {
        int s = nd->src[k];
        const dagl_node *sn = &pl->g->nodes[s];
        if (pl->root[s] != s || !pl->planned[s] || offset[s] < 0 || sn->ndim != nd->ndim ||
            memcmp(sn->shape, nd->shape, sizeof(int64_t) * (size_t)nd->ndim))
            continue;
        bool ok = true;
        for (int j = 0; j < nd->nsrc && ok; j++) ok = nd->src[j] == s || pl->root[nd->src[j]] != s;
        for (int c = pl->gstart[s]; c < pl->gstart[s + 1] && ok; c++)
            ok = pl->gcons[c] == p || is_ancestor(pl, p, pl->gcons[c]);
        if (ok) return s;
    }
    return -1;
}

typedef struct span {
    int64_t lo, hi;
} span;

/* The smallest gap between the busy spans (sorted by start) that holds `size`, else the end. */
static int64_t best_fit(const span *busy, int nbusy, int64_t size)
{
    int64_t end = 0, best = -1, best_gap = INT64_MAX;
    for (int i = 0; i < nbusy; i++) {
        int64_t gap = busy[i].lo - end;
        if (gap >= size && gap < best_gap) best = end, best_gap = gap;
        if (busy[i].hi > end) end = busy[i].hi;
    }
    return best >= 0 ? best : end;
}

/* Inserts root p into the active list, which is kept sorted by offset (so the busy spans come
 * out sorted). */
static void insert_active(int *active, int *nactive, const int64_t *offset, int p)
{
    int lo = 0, hi = *nactive;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (offset[active[mid]] <= offset[p]) lo = mid + 1;
        else hi = mid;
    }
    memmove(active + lo + 1, active + lo, sizeof(int) * (size_t)(*nactive - lo));
    active[lo] = p;
    (*nactive)++;
}

/* Greedy placement in id order; fills mp->offset, arena_bytes and ninplace. The active list
 * holds the placed roots that some later node may still see alive. */
static bool place(planner *pl, mem_plan *mp)
{
    int n = pl->g->n, nactive = 0;
    int *active = malloc(sizeof(int) * ((size_t)n + 1));
    span *busy = malloc(sizeof(span) * ((size_t)n + 1));
    if (!active || !busy) {
        free(active), free(busy);
        return false;
    }
    for (int p = 0; p < n; p++) {
        if (pl->root[p] != p || !pl->planned[p]) continue;
        mp->nplanned++;
        int s = inplace_source(pl, mp->offset, p);
        if (s >= 0) {
            mp->offset[p] = mp->offset[s];
            mp->ninplace++;
        } else if (nactive > SCAN_CAP) {
            mp->offset[p] = mp->arena_bytes;
        } else {
            int nbusy = 0, kept = 0;
            for (int i = 0; i < nactive; i++) {
                int x = active[i];
                if (pl->last[x] < pl->cut_after[p]) continue; /* dead for every later node */
                active[kept++] = x;
                if (!dead_at(pl, x, p)) busy[nbusy++] = (span){mp->offset[x], mp->offset[x] + pl->size[x]};
            }
            nactive = kept;
            mp->offset[p] = best_fit(busy, nbusy, pl->size[p]);
        }
        insert_active(active, &nactive, mp->offset, p);
        if (mp->offset[p] + pl->size[p] > mp->arena_bytes) mp->arena_bytes = mp->offset[p] + pl->size[p];
    }
    free(active), free(busy);
    return true;
}

/* Node count and the byte totals the plan reports. */
static void totals(const planner *pl, mem_plan *mp)
{
    for (int i = 0; i < pl->g->n; i++) {
        const dagl_node *nd = &pl->g->nodes[i];
        if (!pl->runs[i]) continue;
        mp->nodes++;
        if (dagl__node_mem(nd) == NODE_MEM_VIEW) continue;
        int64_t bytes = dagl__numel(nd->ndim, nd->shape) * (int64_t)dagl_dtype_size(nd->dtype);
        mp->total_bytes += bytes;
        if (!(pl->planned[i] && pl->root[i] == i)) mp->own_bytes += bytes;
    }
}

dagl_status dagl__memplan_build(dagl_graph *g)
{
    int n = g->n;
    size_t n1 = (size_t)n + 1;
    planner pl = {.g = g};
    mem_plan *mp = calloc(1, sizeof *mp);
    pl.runs = calloc(n1, sizeof(bool));
    pl.root = malloc(sizeof(int) * n1);
    pl.planned = calloc(n1, sizeof(bool));
    pl.size = malloc(sizeof(int64_t) * n1);
    pl.gstart = calloc(n1 + 1, sizeof(int));
    pl.last = malloc(sizeof(int) * n1);
    pl.anc = calloc(n1, sizeof *pl.anc);
    pl.cut = calloc(n1, sizeof(int));
    pl.cut_after = malloc(sizeof(int) * n1);
    bool ok = mp && pl.runs && pl.root && pl.planned && pl.size && pl.gstart && pl.last && pl.anc && pl.cut &&
              pl.cut_after && (mp->offset = malloc(sizeof(int64_t) * n1));
    if (ok) {
        atomic_flag_clear(&mp->busy);
        for (int i = 0; i < n; i++) {
            const dagl_node *nd = &g->nodes[i];
            pl.runs[i] = nd->kind == NODE_OP && g->live[i]; /* outputs, assigns and what they need */
            pl.last[i] = -1;
            mp->offset[i] = -1;
        }
        ancestry(&pl);
        ok = group(&pl) && place(&pl, mp);
    }
    if (ok) totals(&pl, mp);
    free(pl.runs), free(pl.root), free(pl.planned), free(pl.size), free(pl.gstart), free(pl.gcons);
    free(pl.last), free(pl.anc), free(pl.cut), free(pl.cut_after);
    if (!ok) {
        if (mp) free(mp->offset);
        free(mp);
        return dagl_ctx_set_error(g->ctx, DAGL_E_NOMEM, "graph: out of memory planning %d nodes", n);
    }
    g->mp = mp;
    return DAGL_OK;
}

/* Gives back the slot tensors and the arena (a failed start, or the plan going away). */
static void drop_arena(dagl_graph *g, mem_plan *mp)
{
    bool held = false;
    for (int i = 0; mp->hdr && i < g->n; i++) {
        if (!mp->hdr[i]) continue;
        held |= atomic_load(&mp->hdr[i]->refs) != 1;
        dagl_tensor_release(mp->hdr[i]);
    }
    if (mp->arena && !held) {
        dagl__big_free(g->ctx->mem, mp->arena, (size_t)mp->arena_bytes);
        dagl__mem_count(g->ctx->mem, -mp->arena_bytes);
    }
    free(mp->hdr);
    mp->hdr = NULL;
    mp->arena = NULL;
}

/* Makes the arena and a tensor over each planned slot (first run of a plan); false when out of
 * memory (the run goes unplanned, the next one tries again). */
static bool materialize(dagl_graph *g, mem_plan *mp)
{
    mp->hdr = calloc((size_t)g->n + 1, sizeof *mp->hdr);
    mp->arena = mp->hdr ? dagl__big_alloc(g->ctx->mem, (size_t)mp->arena_bytes) : NULL;
    bool ok = mp->arena != NULL;
    if (ok) dagl__mem_count(g->ctx->mem, mp->arena_bytes); /* tensor memory, as dagl_ctx_live_bytes counts it */
    for (int i = 0; ok && i < g->n; i++) {
        const dagl_node *nd = &g->nodes[i];
        if (mp->offset[i] < 0) continue;
        ok = !dagl_tensor_wrap(g->ctx, nd->dtype, nd->ndim, nd->shape, NULL, mp->arena + mp->offset[i], NULL, NULL,
                               &mp->hdr[i]);
    }
    if (!ok) {
        dagl_ctx_clear_error(g->ctx);
        drop_arena(g, mp);
    }
    return ok;
}

dagl_tensor **dagl__memplan_acquire(dagl_graph *g, const char **lo, const char **hi)
{
    mem_plan *mp = g->mp;
    if (!mp || mp->nplanned == 0 || atomic_flag_test_and_set_explicit(&mp->busy, memory_order_acquire)) return NULL;
    if (!mp->hdr && !materialize(g, mp)) {
        atomic_flag_clear_explicit(&mp->busy, memory_order_release);
        return NULL;
    }
    *lo = mp->arena;
    *hi = mp->arena + mp->arena_bytes;
    return mp->hdr;
}

void dagl__memplan_release(dagl_graph *g)
{
    atomic_flag_clear_explicit(&g->mp->busy, memory_order_release);
}

/* A tensor over an arena slot still referenced outside the plan would read freed memory: then
 * the arena is left alive (leaked) rather than freed. By construction it never happens. */
void dagl__memplan_free(dagl_graph *g)
{
    mem_plan *mp = g->mp;
    if (!mp) return;
    drop_arena(g, mp);
    free(mp->offset);
    free(mp);
    g->mp = NULL;
}
