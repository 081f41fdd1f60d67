/* test_memplan.c -- the memory plan of graph runs (src/graph/memplan.c): slot offsets and arena
 * sizes against hand-made plans (in place along chains, no sharing between results that may be
 * alive together in some schedule, never in place over a value read through a view too), no
 * allocation in steady state but the outputs (counted through dagl_ctx_options.allocator), and
 * random DAGs (with views and aliasing custom nodes) giving the bits of unplanned runs at 1 and
 * 2 threads, and overlapping runs of one graph from two threads (one gets the arena, the other
 * runs unplanned). */
#include "check.h"
#include "graph/graph.h"

#include <dagl.h>
#include <pthread.h>
#include <stdatomic.h>

#define SLOT 256 /* an 8x8 f32 result */

static const int64_t SQ[2] = {8, 8};

/* Adds an op node to g (no params unless given) and returns its id. */
static int node(dagl_graph *g, dagl_op op, int nsrc, const int *srcs, const dagl_node_params *p)
{
    int id;
    CHECK_OK(dagl_graph_node(g, op, nsrc, srcs, p, &id));
    return id;
}

static int un(dagl_graph *g, dagl_op op, int a) { return node(g, op, 1, &a, NULL); }

static int bin(dagl_graph *g, dagl_op op, int a, int b)
{
    int s[2] = {a, b};
    return node(g, op, 2, s, NULL);
}

static int scal(dagl_graph *g, dagl_op op, int a, double v)
{
    dagl_node_params p = {.has_scalar = 1, .scalar = v};
    return node(g, op, 1, &a, &p);
}

/* Whether two tensors hold the same bits (any layout: compared contiguous). */
static bool same_bits(dagl_ctx *ctx, dagl_tensor *a, dagl_tensor *b)
{
    dagl_tensor *ca, *cb;
    CHECK_OK(dagl_contiguous(ctx, a, &ca));
    CHECK_OK(dagl_contiguous(ctx, b, &cb));
    bool same = dagl_tensor_numel(ca) == dagl_tensor_numel(cb) &&
                memcmp(dagl_tensor_data(ca), dagl_tensor_data(cb),
                       (size_t)dagl_tensor_numel(ca) * dagl_dtype_size(dagl_tensor_dtype(ca))) == 0;
    dagl_tensor_release(ca);
    dagl_tensor_release(cb);
    return same;
}

/* Runs g on x with and without the plan and checks both give `want`'s bits. */
static void check_runs(dagl_ctx *ctx, dagl_graph *g, dagl_tensor *x, dagl_tensor *want)
{
    for (int no_plan = 0; no_plan < 2; no_plan++) {
        dagl_run_options o = {.no_plan = no_plan};
        dagl_tensor *out;
        CHECK_OK(dagl_graph_run_ex(g, &x, &out, &o));
        CHECK(same_bits(ctx, out, want));
        dagl_tensor_release(out);
    }
}

/* A graph as built (no fusion) with one 8x8 f32 input, *x. */
static dagl_graph *unfused(dagl_ctx *ctx, int *x)
{
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    g->no_fuse = true;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, SQ, x));
    return g;
}

/* x -> a = exp(x) -> b = a * 2 -> c = -b -> sum(c): b and c each have one reader and run after
 * it, so both are written over their source: one slot for three results. */
static void chain_in_place(dagl_ctx *ctx)
{
    int x, a, b, c, s;
    dagl_graph *g = unfused(ctx, &x);
    a = un(g, DAGL_OP_EXP, x);
    b = scal(g, DAGL_OP_MUL, a, 2);
    c = un(g, DAGL_OP_NEG, b);
    dagl_node_params all = {0};
    s = node(g, DAGL_OP_SUM, 1, &c, &all);
    CHECK_OK(dagl_graph_output(g, s));
    dagl_graph_plan_info info;
    CHECK_OK(dagl_graph_plan(g, &info));
    CHECK(info.arena_bytes == SLOT && info.planned_nodes == 3 && info.inplace_nodes == 2);
    CHECK(info.total_bytes == 3 * SLOT + 4 && info.peak_bytes == SLOT + 4);
    CHECK(g->mp->offset[a] == 0 && g->mp->offset[b] == 0 && g->mp->offset[c] == 0);
    CHECK(g->mp->offset[x] == -1 && g->mp->offset[s] == -1);

    dagl_tensor *xt, *ea, *eb, *ec, *es;
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 2, SQ, &xt));
    CHECK_OK(dagl_unary(ctx, DAGL_OP_EXP, xt, &ea));
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_MUL, ea, 2, 0, &eb));
    CHECK_OK(dagl_unary(ctx, DAGL_OP_NEG, eb, &ec));
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_SUM, ec, NULL, 0, 0, 0, &es));
    check_runs(ctx, g, xt, es);
    dagl_tensor *rel[] = {xt, ea, eb, ec, es};
    for (int i = 0; i < 5; i++) dagl_tensor_release(rel[i]);
    dagl_graph_free(g);
}

/* x -> a = exp(x); b = -a and c = tanh(a) (either may run first, or both at once); d = b + c;
 * e = d * 3; h = sum(e, dim 1, keepdim) (32 bytes); o = exp(h) (output).
 * a at 0; b at 256 (a is still read by c); c at 512 (a and b alive); d over b (its only reader);
 * e over d; h at 0 (a, b, c were read by ancestors of h; e is read by h itself): arena 768. */
static int diamond(dagl_graph *g, int *ids, const int64_t *shape)
{
    int x;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, shape, &x));
    int a = un(g, DAGL_OP_EXP, x), b = un(g, DAGL_OP_NEG, a), c = un(g, DAGL_OP_TANH, a);
    int d = bin(g, DAGL_OP_ADD, b, c), e = scal(g, DAGL_OP_MUL, d, 3);
    dagl_node_params rows = {.ndims = 1, .dims = {1}, .keepdim = 1};
    int h = node(g, DAGL_OP_SUM, 1, &e, &rows), o = un(g, DAGL_OP_EXP, h);
    CHECK_OK(dagl_graph_output(g, o));
    int all[] = {a, b, c, d, e, h, o};
    memcpy(ids, all, sizeof all);
    return x;
}

static void diamond_plan(dagl_ctx *ctx)
{
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    g->no_fuse = true;
    int id[7];
    diamond(g, id, SQ);
    dagl_graph_plan_info info;
    CHECK_OK(dagl_graph_plan(g, &info));
    const int64_t want[7] = {0, SLOT, 2 * SLOT, SLOT, SLOT, 0, -1};
    for (int i = 0; i < 7; i++) CHECK(g->mp->offset[id[i]] == want[i]);
    CHECK(info.arena_bytes == 3 * SLOT && info.planned_nodes == 6 && info.inplace_nodes == 2);
    CHECK(info.total_bytes == 5 * SLOT + 32 + 32 && info.peak_bytes == 3 * SLOT + 32);

    dagl_tensor *xt, *t[7];
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 2, SQ, &xt));
    CHECK_OK(dagl_unary(ctx, DAGL_OP_EXP, xt, &t[0]));
    CHECK_OK(dagl_unary(ctx, DAGL_OP_NEG, t[0], &t[1]));
    CHECK_OK(dagl_unary(ctx, DAGL_OP_TANH, t[0], &t[2]));
    CHECK_OK(dagl_binary(ctx, DAGL_OP_ADD, t[1], t[2], &t[3]));
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_MUL, t[3], 3, 0, &t[4]));
    int dim1 = 1;
    CHECK_OK(dagl_reduce(ctx, DAGL_OP_SUM, t[4], &dim1, 1, 1, 0, &t[5]));
    CHECK_OK(dagl_unary(ctx, DAGL_OP_EXP, t[5], &t[6]));
    int64_t live = dagl_ctx_live_bytes(ctx);
    for (int threads = 1; threads <= 2; threads++) {
        CHECK_OK(dagl_ctx_set_threads(ctx, threads));
        check_runs(ctx, g, xt, t[6]);
    }
    CHECK(dagl_ctx_live_bytes(ctx) == live + 3 * SLOT); /* the arena the graph keeps, counted */
    dagl_graph_free(g);
    CHECK(dagl_ctx_live_bytes(ctx) == live);
    dagl_tensor_release(xt);
    for (int i = 0; i < 7; i++) dagl_tensor_release(t[i]);
}

/* p = s + s^T reads s through a view: writing p over s would change elements of s^T not read
 * yet, so p gets a slot of its own. */
static void no_in_place_through_view(dagl_ctx *ctx)
{
    int x, s, tv, p, o;
    dagl_graph *g = unfused(ctx, &x);
    s = un(g, DAGL_OP_EXP, x);
    dagl_node_params perm = {.ndims = 2, .dims = {1, 0}};
    tv = node(g, DAGL_OP_PERMUTE, 1, &s, &perm);
    p = bin(g, DAGL_OP_ADD, s, tv);
    o = un(g, DAGL_OP_NEG, p);
    CHECK_OK(dagl_graph_output(g, o));
    dagl_graph_plan_info info;
    CHECK_OK(dagl_graph_plan(g, &info));
    CHECK(info.inplace_nodes == 0 && info.arena_bytes == 2 * SLOT);
    CHECK(g->mp->offset[s] == 0 && g->mp->offset[p] == SLOT);

    dagl_tensor *xt, *es, *et, *ep, *eo;
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 2, SQ, &xt));
    CHECK_OK(dagl_unary(ctx, DAGL_OP_EXP, xt, &es));
    CHECK_OK(dagl_transpose(ctx, es, 0, 1, &et));
    CHECK_OK(dagl_binary(ctx, DAGL_OP_ADD, es, et, &ep));
    CHECK_OK(dagl_unary(ctx, DAGL_OP_NEG, ep, &eo));
    check_runs(ctx, g, xt, eo);
    dagl_tensor *rel[] = {xt, es, et, ep, eo};
    for (int i = 0; i < 5; i++) dagl_tensor_release(rel[i]);
    dagl_graph_free(g);
}

/* Counts what passes through the caller's allocator (which gets every data block, from any
 * thread: the counts are atomic). */
typedef struct counting {
    atomic_long allocs, frees;
} counting;

static void *count_alloc(void *ud, size_t size, size_t align)
{
    atomic_fetch_add(&((counting *)ud)->allocs, 1);
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void count_free(void *ud, void *p, size_t size)
{
    (void)size;
    atomic_fetch_add(&((counting *)ud)->frees, 1);
    free(p);
}

/* Allocator calls of `runs` runs of the diamond graph (outputs kept until the end). */
static long run_counting(int no_plan, int runs, long *first)
{
    counting c = {0};
    dagl_allocator al = {count_alloc, count_free, &c};
    dagl_ctx_options co = {.threads = 2, .allocator = &al};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&co, &ctx));
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int id[7];
    diamond(g, id, SQ);
    dagl_tensor *x, *out[8];
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 2, SQ, &x));
    long before = c.allocs;
    dagl_run_options o = {.no_plan = no_plan};
    for (int r = 0; r < runs; r++) {
        CHECK_OK(dagl_graph_run_ex(g, &x, &out[r], &o));
        if (r == 0) *first = c.allocs - before;
        /* steady state: one new block per run, for the output the caller still holds */
        else CHECK(c.allocs - before == *first + r);
    }
    for (int r = 0; r < runs; r++) dagl_tensor_release(out[r]);
    long kept = c.allocs;
    CHECK_OK(dagl_graph_run_ex(g, &x, &out[0], &o)); /* the output's block comes back from the cache */
    CHECK(c.allocs == kept);
    dagl_tensor_release(out[0]);
    long total = c.allocs - before;
    dagl_tensor_release(x);
    dagl_graph_free(g);
    dagl_ctx_free(ctx);
    CHECK(c.allocs == c.frees);
    return total;
}

/* With the plan, the first run allocates the arena and the output, later runs their outputs
 * only; without it, the first run allocates the three results alive at once too. */
static void steady_state_allocations(void)
{
    long first_planned, first_unplanned;
    run_counting(0, 6, &first_planned);
    run_counting(1, 6, &first_unplanned);
    CHECK(first_planned == 2);
    CHECK(first_unplanned >= 4);
}

/* A custom node returning its source itself (a view of it, as custom code may). */
static dagl_status alias_fn(void *ud, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs, dagl_tensor **out)
{
    (void)ud, (void)ctx, (void)nsrc;
    dagl_tensor_retain(srcs[0]);
    *out = srcs[0];
    return DAGL_OK;
}

static unsigned rnd_state = 20261125;
static int rnd(int n)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (int)((rnd_state >> 8) % (unsigned)n);
}

/* A random DAG over 8x8 f32 values: unary and binary elementwise ops (fused into chains and
 * matmul epilogues where they fit), a row sum broadcast back, matmul, transposes and
 * reshape round trips (views), aliasing custom nodes; 1 to 3 random outputs. */
static void random_graph(dagl_ctx *ctx, dagl_graph *g, int nin)
{
    int v[64], n = 0;
    for (int i = 0; i < nin; i++) CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, SQ, &v[n++]));
    int steps = 3 + rnd(40);
    for (int s = 0; s < steps; s++) {
        int a = v[rnd(n)], b = v[n - 1 - rnd(n < 4 ? n : 4)], r;
        switch (rnd(9)) {
        case 0: r = un(g, (dagl_op[]){DAGL_OP_EXP, DAGL_OP_TANH, DAGL_OP_NEG, DAGL_OP_SIGMOID}[rnd(4)], a); break;
        case 1: r = bin(g, DAGL_OP_ADD, a, b); break;
        case 2: r = bin(g, DAGL_OP_MUL, a, b); break;
        case 3: r = scal(g, DAGL_OP_MUL, a, 0.5); break;
        case 4: {
            dagl_node_params rows = {.ndims = 1, .dims = {1}, .keepdim = 1};
            r = bin(g, DAGL_OP_SUB, a, node(g, DAGL_OP_SUM, 1, &b, &rows));
            break;
        }
        case 5: r = un(g, DAGL_OP_TANH, bin(g, DAGL_OP_MATMUL, a, b)); break;
        case 6: {
            dagl_node_params perm = {.ndims = 2, .dims = {1, 0}};
            r = node(g, DAGL_OP_PERMUTE, 1, &a, &perm);
            break;
        }
        case 7: {
            dagl_node_params flat = {.nshape = 1, .shape = {64}}, sq = {.nshape = 2, .shape = {8, 8}};
            int f = node(g, DAGL_OP_RESHAPE, 1, &a, &flat);
            r = node(g, DAGL_OP_RESHAPE, 1, &f, &sq);
            break;
        }
        default:
            CHECK_OK(dagl_graph_custom(g, "alias", 1, &a, DAGL_F32, 2, SQ, alias_fn, NULL, NULL, NULL, &r));
            break;
        }
        v[n++] = r;
    }
    int nout = 1 + rnd(3);
    for (int i = 0; i < nout; i++) CHECK_OK(dagl_graph_output(g, v[nin + rnd(n - nin)]));
    (void)ctx;
}

/* Planned runs (twice: the second reuses the arena) at 1 and 2 threads give the bits of an
 * unplanned run at 1 thread, for 300 random DAGs. */
static void random_dags(dagl_ctx *ctx)
{
    int inplace = 0, shared = 0;
    for (int trial = 0; trial < 300; trial++) {
        dagl_graph *g;
        CHECK_OK(dagl_graph_new(ctx, &g));
        int nin = 1 + rnd(3);
        random_graph(ctx, g, nin);
        dagl_tensor *x[3], *want[3], *got[3];
        for (int i = 0; i < nin; i++) CHECK_OK(dagl_randn(ctx, DAGL_F32, 2, SQ, &x[i]));
        int nout = dagl_graph_num_outputs(g);
        CHECK_OK(dagl_ctx_set_threads(ctx, 1));
        dagl_run_options unplanned = {.no_plan = 1};
        CHECK_OK(dagl_graph_run_ex(g, x, want, &unplanned));
        for (int run = 0; run < 4; run++) {
            CHECK_OK(dagl_ctx_set_threads(ctx, 1 + run % 2));
            CHECK_OK(dagl_graph_run(g, x, got));
            for (int i = 0; i < nout; i++) {
                if (!same_bits(ctx, want[i], got[i])) {
                    fprintf(stderr, "trial %d run %d output %d differs\n", trial, run, i);
                    CHECK(0);
                }
                dagl_tensor_release(got[i]);
            }
        }
        dagl_graph_plan_info info;
        CHECK_OK(dagl_graph_plan(g, &info));
        inplace += info.inplace_nodes;
        int64_t in_arena = info.total_bytes - (info.peak_bytes - info.arena_bytes); /* their bytes */
        shared += info.arena_bytes < in_arena;
        for (int i = 0; i < nout; i++) dagl_tensor_release(want[i]);
        for (int i = 0; i < nin; i++) dagl_tensor_release(x[i]);
        dagl_graph_free(g);
    }
    CHECK(inplace > 100 && shared > 50); /* the DAGs did exercise in-place writes and shared slots */
}

typedef struct overlap {
    dagl_ctx *ctx;
    dagl_graph *g;
    dagl_tensor *x, *want;
    int bad;
} overlap;

/* One calling thread: 300 runs of the shared graph on its own child context and input. */
static void *overlap_thread(void *arg)
{
    overlap *o = arg;
    dagl_ctx *child;
    CHECK_OK(dagl_ctx_new_child(o->ctx, &child));
    dagl_run_options opt = {.ctx = child};
    for (int i = 0; i < 300; i++) {
        dagl_tensor *out;
        CHECK_OK(dagl_graph_run_ex(o->g, &o->x, &out, &opt));
        o->bad += !same_bits(child, out, o->want);
        dagl_tensor_release(out);
    }
    dagl_ctx_free(child);
    return NULL;
}

/* Two threads running the diamond graph (256x256) at once on different inputs get their own
 * results every time: a run never takes the arena another run is using. */
static void overlapping_runs(dagl_ctx *ctx)
{
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int id[7];
    const int64_t big[2] = {256, 256};
    diamond(g, id, big);
    overlap o[2];
    for (int i = 0; i < 2; i++) {
        o[i] = (overlap){ctx, g, NULL, NULL, 0};
        CHECK_OK(dagl_randn(ctx, DAGL_F32, 2, big, &o[i].x));
        dagl_run_options unplanned = {.no_plan = 1};
        CHECK_OK(dagl_graph_run_ex(g, &o[i].x, &o[i].want, &unplanned));
    }
    pthread_t th[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, overlap_thread, &o[i]) == 0);
    for (int i = 0; i < 2; i++) CHECK(pthread_join(th[i], NULL) == 0);
    CHECK(o[0].bad == 0 && o[1].bad == 0);
    for (int i = 0; i < 2; i++) {
        dagl_tensor_release(o[i].x);
        dagl_tensor_release(o[i].want);
    }
    dagl_graph_free(g);
}

int main(void)
{
    dagl_ctx *ctx;
    dagl_ctx_options o = {.threads = 2};
    CHECK_OK(dagl_ctx_new(&o, &ctx));
    chain_in_place(ctx);
    diamond_plan(ctx);
    no_in_place_through_view(ctx);
    random_dags(ctx);
    overlapping_runs(ctx);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
    steady_state_allocations();
    printf("memplan: ok\n");
    return 0;
}
