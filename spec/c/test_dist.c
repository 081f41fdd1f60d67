/* test_dist.c -- dagl_dist: the collectives, eagerly and as graph nodes, on a world of one rank
 * (run without a launcher) or several (ctest runs it under mpirun -np 2); with an argument, the
 * fault cases: "mismatch" (shapes differ across ranks: every rank fails naming both, then goes
 * on), "fail" (rank 1 reports an error: rank 0 stops at once naming it), "timeout" (rank 1 is
 * late: rank 0 stops after the 1 s timeout naming it; the job then ends through MPI_Abort). */
#include "check.h"
#include "dagl.h"

#include <time.h>
#include <unistd.h>

static dagl_ctx *ctx;
static dagl_dist *d;
static int rank, size;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A float32 tensor of n elements, element i = base + i. */
static dagl_tensor *ramp(int ndim, const int64_t *shape, double base)
{
    dagl_tensor *t;
    CHECK_OK(dagl_tensor_new(ctx, DAGL_F32, ndim, shape, &t));
    float *p = dagl_tensor_data(t);
    for (int64_t i = 0; i < dagl_tensor_numel(t); i++) p[i] = (float)(base + (double)i);
    return t;
}

static float at(const dagl_tensor *t, int64_t i) { return ((const float *)dagl_tensor_data(t))[i]; }

/* Sum of r + 1 over the ranks, and its max: what allreduce of (rank + 1) must give. */
static double rank_sum(void) { return size * (size + 1) / 2.0; }

static void eager(void)
{
    int64_t shape[2] = {2, 3};
    dagl_tensor *t = ramp(2, shape, rank + 1), *out;
    /* sum, not in place: t keeps its values */
    CHECK_OK(dagl_dist_allreduce(d, ctx, DAGL_DIST_SUM, t, &out));
    for (int i = 0; i < 6; i++) CHECK_NEAR(at(out, i), rank_sum() + size * i, 0);
    CHECK_NEAR(at(t, 0), rank + 1, 0);
    dagl_tensor_release(out);
    CHECK_OK(dagl_dist_allreduce(d, ctx, DAGL_DIST_MAX, t, &out));
    CHECK_NEAR(at(out, 5), size + 5, 0);
    dagl_tensor_release(out);
    /* mean in place through a non-contiguous view (a transpose): written back */
    dagl_tensor *tt;
    CHECK_OK(dagl_transpose(ctx, t, 0, 1, &tt));
    CHECK_OK(dagl_dist_allreduce(d, ctx, DAGL_DIST_MEAN, tt, NULL));
    for (int i = 0; i < 6; i++) CHECK_NEAR(at(t, i), rank_sum() / size + i, 1e-6);
    dagl_tensor_release(tt);
    /* broadcast from the last rank */
    dagl_tensor *b = ramp(2, shape, 10 * rank);
    CHECK_OK(dagl_dist_broadcast(d, ctx, b, size - 1, NULL));
    CHECK_NEAR(at(b, 1), 10 * (size - 1) + 1, 0);
    CHECK(dagl_dist_broadcast(d, ctx, b, size, NULL) == DAGL_E_INDEX);
    CHECK(strstr(dagl_ctx_last_error(ctx), "root"));
    /* allgather: rank order along dim 0 */
    dagl_tensor *g;
    CHECK_OK(dagl_dist_allgather(d, ctx, t, &g));
    CHECK(dagl_tensor_shape(g)[0] == 2 * size && dagl_tensor_shape(g)[1] == 3);
    dagl_tensor_release(g);
    dagl_tensor *r = ramp(1, (int64_t[]){1}, rank);
    CHECK_OK(dagl_dist_allgather(d, ctx, r, &g));
    for (int k = 0; k < size; k++) CHECK_NEAR(at(g, k), k, 0);
    dagl_tensor_release(g);
    dagl_tensor_release(r);
    /* reduce_scatter: rank k keeps block k of the sum */
    int64_t rs_shape[1] = {2 * size};
    dagl_tensor *rs = ramp(1, rs_shape, 0), *part;
    CHECK_OK(dagl_dist_reduce_scatter(d, ctx, DAGL_DIST_SUM, rs, &part));
    CHECK(dagl_tensor_shape(part)[0] == 2);
    CHECK_NEAR(at(part, 0), size * 2 * rank, 0);
    CHECK_NEAR(at(part, 1), size * (2 * rank + 1), 0);
    dagl_tensor_release(part);
    dagl_tensor_release(rs);
    if (size > 1) {
        dagl_tensor *odd = ramp(1, (int64_t[]){3}, 0);
        CHECK(dagl_dist_reduce_scatter(d, ctx, DAGL_DIST_SUM, odd, &part) == DAGL_E_SHAPE);
        CHECK(strstr(dagl_ctx_last_error(ctx), "multiple of the"));
        dagl_tensor_release(odd);
    }
    /* int64 and float64 */
    dagl_tensor *l;
    CHECK_OK(dagl_tensor_full(ctx, DAGL_I64, 1, (int64_t[]){4}, rank + 1, &l));
    CHECK_OK(dagl_dist_allreduce(d, ctx, DAGL_DIST_SUM, l, NULL));
    CHECK(((int64_t *)dagl_tensor_data(l))[3] == (int64_t)rank_sum());
    dagl_tensor_release(l);
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F64, 0, NULL, 0.5 * (rank + 1), &l));
    CHECK_OK(dagl_dist_allreduce(d, ctx, DAGL_DIST_SUM, l, NULL));
    CHECK_NEAR(((double *)dagl_tensor_data(l))[0], 0.5 * rank_sum(), 0);
    dagl_tensor_release(l);
    /* bad input: a uint8 tensor, a NULL tensor, an unknown op: errors, nothing sent */
    CHECK_OK(dagl_tensor_full(ctx, DAGL_U8, 1, (int64_t[]){2}, 1, &l));
    CHECK(dagl_dist_allreduce(d, ctx, DAGL_DIST_SUM, l, NULL) == DAGL_E_DTYPE);
    CHECK(strstr(dagl_ctx_last_error(ctx), "allreduce: uint8"));
    dagl_tensor_release(l);
    CHECK(dagl_dist_allreduce(d, ctx, DAGL_DIST_SUM, NULL, NULL) == DAGL_E_ARG);
    CHECK(dagl_dist_allreduce(d, ctx, (dagl_dist_op)7, t, NULL) == DAGL_E_ARG);
    CHECK_OK(dagl_dist_barrier(d, ctx));
    dagl_tensor_release(b);
    dagl_tensor_release(t);
}

/* Two buckets of "gradients" (w1 and b1 in one, w2 in the other, launched in that order) and
 * an allgather, in one graph run several times: every result as the eager collectives give. */
static void graph(void)
{
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int64_t s1[2] = {3, 2}, s2[1] = {4};
    int x, w1, b1, w2, outs[3], l1, l2, ga;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, s1, &x));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_EXP, 1, &x, NULL, &w1));
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.has_scalar = 1;
    p.scalar = 2;
    CHECK_OK(dagl_graph_node(g, DAGL_OP_MUL, 1, &x, &p, &b1));
    dagl_tensor *c = ramp(1, s2, rank);
    CHECK_OK(dagl_graph_constant(g, c, &w2));
    dagl_dist_node mean = {DAGL_DIST_ALLREDUCE, DAGL_DIST_MEAN, 0, -1};
    CHECK_OK(dagl_graph_collective(g, d, &mean, 2, (int[]){w1, b1}, outs, &l1));
    dagl_dist_node sum = {DAGL_DIST_ALLREDUCE, DAGL_DIST_SUM, 0, l1};
    CHECK_OK(dagl_graph_collective(g, d, &sum, 1, &w2, outs + 2, &l2));
    dagl_dist_node gather = {DAGL_DIST_ALLGATHER, DAGL_DIST_SUM, 0, l2};
    CHECK_OK(dagl_graph_collective(g, d, &gather, 1, &w2, &ga, NULL));
    for (int i = 0; i < 3; i++) CHECK_OK(dagl_graph_output(g, outs[i]));
    CHECK_OK(dagl_graph_output(g, ga));
    /* bad requests fail when the node is added, naming the collective */
    int bad;
    dagl_dist_node root = {DAGL_DIST_BROADCAST, DAGL_DIST_SUM, size, -1};
    CHECK(dagl_graph_collective(g, d, &root, 1, &w2, &bad, NULL) == DAGL_E_INDEX);
    CHECK(dagl_graph_collective(g, d, &gather, 2, (int[]){w1, b1}, &bad, NULL) == DAGL_E_ARG);
    CHECK(strstr(dagl_ctx_last_error(ctx), "allgather node"));
    for (int run = 0; run < 3; run++) {
        dagl_tensor *in = ramp(2, s1, 0.25 * rank + run), *res[4];
        CHECK_OK(dagl_graph_run(g, &in, res));
        CHECK(dagl_tensor_ndim(res[0]) == 2 && dagl_tensor_shape(res[0])[1] == 2);
        for (int i = 0; i < 6; i++) {
            double e = 0, m = 0;
            for (int k = 0; k < size; k++) e += exp(0.25 * k + run + i), m += 2 * (0.25 * k + run + i);
            CHECK_NEAR(at(res[0], i), e / size, 1e-4 * e);
            CHECK_NEAR(at(res[1], i), m / size, 1e-5);
        }
        for (int i = 0; i < 4; i++) CHECK_NEAR(at(res[2], i), rank_sum() - size + size * i, 0);
        CHECK(dagl_tensor_shape(res[3])[0] == 4 * size);
        for (int k = 0; k < size; k++) CHECK_NEAR(at(res[3], 4 * k + 1), k + 1, 0);
        for (int i = 0; i < 4; i++) dagl_tensor_release(res[i]);
        dagl_tensor_release(in);
    }
    dagl_tensor_release(c);
    dagl_graph_free(g);
}

/* A graph outliving its (single-rank) handle: its collectives then fail, naming why, and
 * freeing the graph afterwards is fine (the nodes keep the handle's memory). */
static void closed(void)
{
    dagl_dist *d2;
    CHECK_OK(dagl_dist_new(ctx, NULL, &d2));
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int x, out, launch;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 1, (int64_t[]){3}, &x));
    dagl_dist_node sum = {DAGL_DIST_ALLREDUCE, DAGL_DIST_SUM, 0, -1};
    CHECK_OK(dagl_graph_collective(g, d2, &sum, 1, &x, &out, &launch));
    CHECK_OK(dagl_graph_output(g, out));
    dagl_tensor *in = ramp(1, (int64_t[]){3}, 1), *res;
    CHECK_OK(dagl_graph_run(g, &in, &res));
    CHECK_NEAR(at(res, 2), 3, 0);
    dagl_tensor_release(res);
    dagl_dist_free(d2);
    CHECK(dagl_graph_run(g, &in, &res) == DAGL_E_ARG);
    CHECK(strstr(dagl_ctx_last_error(ctx), "the world was closed"));
    dagl_tensor_release(in);
    dagl_graph_free(g);
}

/* Rank 1 gives a tensor of another shape: every rank fails before data moves, names the
 * collective, its number and both shapes, and the next collective works. */
static void mismatch(void)
{
    int64_t shape[2] = {2, rank == 1 ? 4 : 3};
    dagl_tensor *t = ramp(2, shape, 0);
    CHECK(dagl_dist_allreduce(d, ctx, DAGL_DIST_SUM, t, NULL) == DAGL_E_SHAPE);
    const char *e = dagl_ctx_last_error(ctx);
    printf("rank %d: %s\n", rank, e);
    CHECK(strstr(e, "allreduce (collective "));
    CHECK(strstr(e, "rank 0 has float32 [2, 3] and rank 1 has float32 [2, 4]"));
    CHECK(strstr(e, "no data was sent"));
    CHECK_NEAR(at(t, 1), 1, 0);
    dagl_tensor_release(t);
    dagl_tensor *u = ramp(1, (int64_t[]){2}, 1);
    CHECK(dagl_dist_broadcast(d, ctx, u, rank, NULL) == DAGL_E_SHAPE); /* roots differ */
    CHECK(strstr(dagl_ctx_last_error(ctx), "broadcasts from rank 0 and rank 1 from rank 1"));
    dagl_status st = dagl_dist_allreduce(d, ctx, DAGL_DIST_SUM, u, NULL);
    if (st) printf("rank %d: %s\n", rank, dagl_ctx_last_error(ctx));
    CHECK_OK(st);
    CHECK_NEAR(at(u, 0), size, 0);
    dagl_tensor_release(u);
}

/* Rank 1 reports an error and leaves; rank 0's allreduce stops at once naming rank 1 and its
 * message (well before the 20 s timeout). */
static void fail(void)
{
    dagl_dist_set_timeout(d, 20);
    if (rank == 1) {
        CHECK_OK(dagl_dist_fail(d, "test_dist.c: boom"));
        return;
    }
    dagl_tensor *t = ramp(1, (int64_t[]){8}, 0);
    double t0 = now_s();
    CHECK(dagl_dist_allreduce(d, ctx, DAGL_DIST_SUM, t, NULL) == DAGL_E_INTERNAL);
    double took = now_s() - t0;
    printf("rank 0 stopped after %.2f s: %s\n", took, dagl_ctx_last_error(ctx));
    CHECK(strstr(dagl_ctx_last_error(ctx), "rank 1 failed: test_dist.c: boom"));
    CHECK(took < 10);
    /* out of step with rank 1 for good: the next collective fails at once too */
    CHECK(dagl_dist_allreduce(d, ctx, DAGL_DIST_SUM, t, NULL) == DAGL_E_INTERNAL);
    CHECK(strstr(dagl_ctx_last_error(ctx), "rank 1 failed"));
    dagl_tensor_release(t);
}

/* Rank 1 comes 4 s late; rank 0 gives up after its 1 s timeout naming rank 1. */
static void timeout(void)
{
    dagl_dist_set_timeout(d, 1);
    dagl_tensor *t = ramp(1, (int64_t[]){8}, 0);
    if (rank == 1) sleep(4);
    double t0 = now_s();
    dagl_status st = dagl_dist_allreduce(d, ctx, DAGL_DIST_SUM, t, NULL);
    double took = now_s() - t0;
    if (rank == 0) {
        printf("rank 0 stopped after %.2f s: %s\n", took, dagl_ctx_last_error(ctx));
        CHECK(st == DAGL_E_INTERNAL);
        CHECK(strstr(dagl_ctx_last_error(ctx), "no answer from rank 1 within 1 s"));
        CHECK(took >= 0.9 && took < 3);
        printf("timeout case passed\n");
        fflush(stdout);
    }
    dagl_tensor_release(t);
}

/* With a trace attached, every collective is a span on lane "network" of the trace's JSON,
 * named with its sequence number and size; detached, none is recorded. */
static void traced(void)
{
    dagl_trace *tr;
    CHECK_OK(dagl_trace_new(&tr));
    dagl_dist_set_trace(d, tr);
    dagl_tensor *t = ramp(1, (int64_t[]){256}, 0);
    CHECK_OK(dagl_dist_allreduce(d, ctx, DAGL_DIST_SUM, t, NULL));
    int64_t seq = dagl_dist_sequence(d);
    dagl_dist_set_trace(d, NULL);
    CHECK_OK(dagl_dist_allreduce(d, ctx, DAGL_DIST_SUM, t, NULL)); /* not recorded */
    char path[64];
    snprintf(path, sizeof path, "/tmp/test_dist_%d_%d.json", (int)getpid(), rank);
    CHECK_OK(dagl_trace_write_json(tr, path));
    FILE *f = fopen(path, "r");
    CHECK(f);
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    remove(path);
    char want[64];
    snprintf(want, sizeof want, "\"allreduce #%lld 1.0 KB\"", (long long)seq);
    CHECK(strstr(buf, "\"name\":\"network\""));
    CHECK(strstr(buf, want));
    snprintf(want, sizeof want, "\"allreduce #%lld ", (long long)seq + 1);
    CHECK(!strstr(buf, want));
    CHECK(strstr(buf, "\"origin_ns\":"));
    dagl_tensor_release(t);
    dagl_trace_free(tr);
}

int main(int argc, char **argv)
{
    CHECK_OK(dagl_ctx_new(&(dagl_ctx_options){.threads = 2}, &ctx));
    CHECK_OK(dagl_dist_new(ctx, NULL, &d));
    rank = dagl_dist_rank(d);
    size = dagl_dist_size(d);
    CHECK(rank >= 0 && rank < size);
    CHECK(dagl_dist_is_mpi(d) == (getenv("OMPI_COMM_WORLD_SIZE") != NULL));
    dagl_dist *second;
    if (dagl_dist_is_mpi(d)) {
        CHECK(dagl_dist_new(ctx, NULL, &second) == DAGL_E_ARG);
        CHECK(strstr(dagl_ctx_last_error(ctx), "once per process"));
    }
    const char *mode = argc > 1 ? argv[1] : "basic";
    if (!strcmp(mode, "basic")) {
        CHECK(dagl_dist_timeout(d) > 0);
        eager();
        graph();
        traced();
        if (!dagl_dist_is_mpi(d)) closed(); /* a second handle: only without MPI */
        CHECK(dagl_dist_sequence(d) > 10);
    } else if (!strcmp(mode, "mismatch")) {
        CHECK(size == 2);
        mismatch();
    } else if (!strcmp(mode, "fail")) {
        CHECK(size == 2);
        fail();
    } else if (!strcmp(mode, "timeout")) {
        CHECK(size == 2);
        timeout();
    }
    dagl_dist_free(d);
    dagl_ctx_free(ctx);
    printf("rank %d of %d: ok (%s)\n", rank, size, mode);
    return 0;
}
