/* test_stress.c -- thousands of random layered DAGs (random depth, width, ops and fan-in) run
 * at random thread counts 1..4: every run's outputs equal the one-thread run's bitwise, and
 * memory returns to zero. Also a graph run from several caller threads at once (child
 * contexts), each result compared with the sequential one. */
#include "check.h"
#include "dagl.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXN 160

/* A small deterministic generator (rand() is shared with the library's users). */
static uint32_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}
static int rnd(uint64_t *s, int n) { return (int)(rng_next(s) % (uint32_t)n); }

/* Adds one random node over earlier nodes (srcs drawn mostly from the previous layer, some
 * from anywhere before it); every node is (8, 8) float32. */
static int random_node(dagl_graph *g, uint64_t *s, const int *ids, int lo, int hi)
{
    static const dagl_op unary[] = {DAGL_OP_TANH, DAGL_OP_SIGMOID, DAGL_OP_RELU, DAGL_OP_NEG};
    static const dagl_op binary[] = {DAGL_OP_ADD, DAGL_OP_SUB, DAGL_OP_MUL, DAGL_OP_MAXIMUM, DAGL_OP_MATMUL};
    int a = ids[rnd(s, 4) ? lo + rnd(s, hi - lo) : rnd(s, hi)], b = ids[lo + rnd(s, hi - lo)];
    int id, srcs[2] = {a, b};
    dagl_node_params p;
    memset(&p, 0, sizeof p);
    switch (rnd(s, 5)) {
    case 0: CHECK_OK(dagl_graph_node(g, unary[rnd(s, 4)], 1, srcs, NULL, &id)); break;
    case 1: /* x * c */
        p.scalar = 0.5 + rnd(s, 100) / 100.0;
        p.has_scalar = 1;
        CHECK_OK(dagl_graph_node(g, DAGL_OP_MUL, 1, srcs, &p, &id));
        break;
    case 2: { /* a + mean(b, dim, keepdim): a reduction broadcast back */
        int r;
        p.dims[0] = rnd(s, 2);
        p.ndims = 1;
        p.keepdim = 1;
        CHECK_OK(dagl_graph_node(g, DAGL_OP_MEAN, 1, &b, &p, &r));
        int s2[2] = {a, r};
        CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 2, s2, NULL, &id));
        break;
    }
    default: {
        dagl_op op = binary[rnd(s, 5)];
        CHECK_OK(dagl_graph_node(g, op, 2, srcs, NULL, &id));
        if (op == DAGL_OP_MATMUL || op == DAGL_OP_MUL) { /* keep values bounded at any depth */
            int t = id;
            CHECK_OK(dagl_graph_node(g, DAGL_OP_TANH, 1, &t, NULL, &id));
        }
    }
    }
    return id;
}

/* Runs g at `threads` and compares every output with ref bitwise. */
static void run_and_compare(dagl_ctx *ctx, dagl_graph *g, int threads, dagl_tensor **in, dagl_tensor **ref, int nout)
{
    CHECK_OK(dagl_ctx_set_threads(ctx, threads));
    dagl_tensor *res[8];
    CHECK_OK(dagl_graph_run(g, in, res));
    for (int k = 0; k < nout; k++) {
        CHECK(dagl_tensor_numel(res[k]) == 64);
        CHECK(memcmp(dagl_tensor_data(res[k]), dagl_tensor_data(ref[k]), 64 * sizeof(float)) == 0);
        dagl_tensor_release(res[k]);
    }
}

static void random_dags(int trials, uint64_t seed)
{
    dagl_ctx_options opt = {.threads = 1, .seed = 3};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&opt, &ctx));
    uint64_t s = seed;
    int64_t shape[2] = {8, 8};
    for (int trial = 0; trial < trials; trial++) {
        dagl_graph *g;
        CHECK_OK(dagl_graph_new(ctx, &g));
        int nin = 1 + rnd(&s, 3), depth = 1 + rnd(&s, 12), ids[MAXN], n = 0;
        dagl_tensor *in[3];
        for (int i = 0; i < nin; i++) {
            CHECK_OK(dagl_randn(ctx, DAGL_F32, 2, shape, &in[i]));
            CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, shape, &ids[n++]));
        }
        int lo = 0;
        for (int d = 0; d < depth; d++) {
            int width = 1 + rnd(&s, 8), hi = n;
            for (int w = 0; w < width; w++) ids[n++] = random_node(g, &s, ids, lo, hi);
            lo = hi;
        }
        int nout = 1 + rnd(&s, 4);
        for (int k = 0; k < nout; k++) CHECK_OK(dagl_graph_output(g, ids[nin + rnd(&s, n - nin)]));
        dagl_tensor *ref[8];
        CHECK_OK(dagl_ctx_set_threads(ctx, 1));
        CHECK_OK(dagl_graph_run(g, in, ref));
        for (int rep = 0; rep < 3; rep++) run_and_compare(ctx, g, 1 + rnd(&s, 4), in, ref, nout);
        for (int k = 0; k < nout; k++) dagl_tensor_release(ref[k]);
        for (int i = 0; i < nin; i++) dagl_tensor_release(in[i]);
        dagl_graph_free(g);
        CHECK(dagl_ctx_live_bytes(ctx) == 0);
    }
    dagl_ctx_free(ctx);
}

/* Several caller threads run one graph at once, each with its own child context. */
typedef struct caller {
    dagl_ctx *parent;
    dagl_graph *g;
    dagl_tensor *in, *ref;
    int runs;
} caller;

static void *caller_main(void *arg)
{
    caller *c = arg;
    dagl_ctx *child;
    CHECK_OK(dagl_ctx_new_child(c->parent, &child));
    dagl_run_options opt = {.ctx = child, .check_numerics = 1};
    for (int i = 0; i < c->runs; i++) {
        dagl_tensor *out;
        CHECK_OK(dagl_graph_run_ex(c->g, &c->in, &out, &opt));
        CHECK(memcmp(dagl_tensor_data(out), dagl_tensor_data(c->ref), 64 * sizeof(float)) == 0);
        dagl_tensor_release(out);
    }
    dagl_ctx_free(child);
    return NULL;
}

static void concurrent_callers(uint64_t seed)
{
    dagl_ctx_options opt = {.threads = 3, .seed = 5};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&opt, &ctx));
    uint64_t s = seed;
    int64_t shape[2] = {8, 8};
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int ids[MAXN], n = 0;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, shape, &ids[n++]));
    int lo = 0;
    for (int d = 0; d < 10; d++) {
        int hi = n;
        for (int w = 0; w < 6; w++) ids[n++] = random_node(g, &s, ids, lo, hi);
        lo = hi;
    }
    CHECK_OK(dagl_graph_output(g, ids[n - 1]));
    caller c = {.parent = ctx, .g = g, .runs = 200};
    CHECK_OK(dagl_randn(ctx, DAGL_F32, 2, shape, &c.in));
    CHECK_OK(dagl_graph_run(g, &c.in, &c.ref));
    pthread_t th[4];
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&th[i], NULL, caller_main, &c) == 0);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    dagl_tensor_release(c.in);
    dagl_tensor_release(c.ref);
    dagl_graph_free(g);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    /* sanitized builds run fewer (CMakeLists.txt sets DAGL_STRESS_TRIALS: TSan is ~30x slower) */
    const char *env = getenv("DAGL_STRESS_TRIALS");
    int trials = argc > 1 ? atoi(argv[1]) : env ? atoi(env) : 5000;
    random_dags(trials, 0x5eedull);
    concurrent_callers(0xca11ull);
    printf("test_stress: %d random DAGs at 1..4 threads, 4 concurrent callers: ok\n", trials);
    return 0;
}
