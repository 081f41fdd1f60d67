/* test_trace.c -- traces: statistics on synthetic events with known answers (a diamond DAG: work,
 * wall, parallelism, critical path, width; overlapping runs; lock holds and waits), the JSON file
 * checked by a small JSON parser and for its lanes, the SVG for a bar per node, write errors, and
 * a real 2-thread run of two matmul branches. Set DAGL_TEST_KEEP=1 to keep the written files. */
#define _GNU_SOURCE /* mkdtemp */
#include "check.h"
#include "dagl.h"
#include "sched/trace_impl.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS 1000000LL /* ns */

/* ---------------------------------------------------------------- file helpers */

/* The whole file as a NUL-terminated string (exits on failure). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    CHECK(s != NULL);
    CHECK(fread(s, 1, (size_t)n, f) == (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* A strict recursive-descent JSON checker (RFC 8259 syntax), so the file is known to load. */
typedef struct jp {
    const char *p;
} jp;

static void ws(jp *j)
{
    while (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t') j->p++;
}
static bool value(jp *j, int depth);
static bool string(jp *j)
{
    if (*j->p++ != '"') return false;
    for (;;) {
        unsigned char c = (unsigned char)*j->p++;
        if (c == '"') return true;
        if (c < 0x20) return false;
        if (c == '\\') {
            c = (unsigned char)*j->p++;
            if (c == 'u') {
                for (int i = 0; i < 4; i++, j->p++)
                    if (!strchr("0123456789abcdefABCDEF", *j->p) || !*j->p) return false;
            } else if (!strchr("\"\\/bfnrt", c) || !c) {
                return false;
            }
        }
    }
}
static bool number(jp *j)
{
    const char *s = j->p;
    if (*j->p == '-') j->p++;
    if (*j->p == '0') j->p++;
    else if (*j->p >= '1' && *j->p <= '9') while (*j->p >= '0' && *j->p <= '9') j->p++;
    else return false;
    if (*j->p == '.') {
        j->p++;
        if (!(*j->p >= '0' && *j->p <= '9')) return false;
        while (*j->p >= '0' && *j->p <= '9') j->p++;
    }
    if (*j->p == 'e' || *j->p == 'E') {
        j->p++;
        if (*j->p == '+' || *j->p == '-') j->p++;
        if (!(*j->p >= '0' && *j->p <= '9')) return false;
        while (*j->p >= '0' && *j->p <= '9') j->p++;
    }
    return j->p > s;
}
static bool value(jp *j, int depth)
{
    if (depth > 64) return false;
    ws(j);
    char c = *j->p;
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        ws(j);
        if (*j->p == close) return j->p++, true;
        for (;;) {
            if (c == '{') {
                ws(j);
                if (!string(j)) return false;
                ws(j);
                if (*j->p++ != ':') return false;
            }
            if (!value(j, depth + 1)) return false;
            ws(j);
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            return *j->p++ == close;
        }
    }
    if (c == '"') return string(j);
    if (!strncmp(j->p, "true", 4)) return j->p += 4, true;
    if (!strncmp(j->p, "false", 5)) return j->p += 5, true;
    if (!strncmp(j->p, "null", 4)) return j->p += 4, true;
    return number(j);
}
static bool valid_json(const char *s)
{
    jp j = {s};
    if (!value(&j, 0)) return false;
    ws(&j);
    return *j.p == '\0';
}

/* ---------------------------------------------------------------- synthetic events */

/* x -> a=relu(x) -> b=tanh(a), c=sigmoid(a) -> d=b+c : ids 0..4. */
static dagl_graph *diamond(dagl_ctx *ctx)
{
    dagl_graph *g;
    int64_t shape[2] = {2, 2};
    int x, a, b, c, d;
    CHECK_OK(dagl_graph_new(ctx, &g));
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, shape, &x));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_RELU, 1, &x, NULL, &a));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_TANH, 1, &a, NULL, &b));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_SIGMOID, 1, &a, NULL, &c));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 2, (int[]){b, c}, NULL, &d));
    CHECK_OK(dagl_graph_output(g, d));
    CHECK(x == 0 && a == 1 && b == 2 && c == 3 && d == 4);
    return g;
}

/* One run of the diamond starting at t (ns): a 1 ms, b 2 ms, c 3 ms (the longer branch), d 1 ms,
 * d starting 0.1 ms after c ends; b waits 0.5 ms for the VM lock; wall 5.6 ms, work 7 - 0.5 ms,
 * critical path 1+3+1 = 5 ms. */
static void diamond_run(dagl_trace *tr, int run, int64_t t)
{
    dagl__trace_node(tr, run, 1, 1, "relu", NULL, t, t + 1 * MS, DAGL_SCHED_QUEUED);
    dagl__trace_node(tr, run, 1, 2, "tanh", "we\"ird\\layer\n", t + 1 * MS, t + 3 * MS, DAGL_SCHED_INLINE);
    dagl__trace_node(tr, run, 2, 3, "sigmoid", "dense_1", t + 3 * MS / 2, t + 9 * MS / 2, DAGL_SCHED_STOLEN);
    dagl__trace_node(tr, run, 1, 4, "add", "dense_1", t + 46 * MS / 10, t + 56 * MS / 10, DAGL_SCHED_INLINE);
    dagl__trace_lock(tr, run, 2, DAGL_TRACE_HOLD, t + 2 * MS, t + 3 * MS);
    dagl__trace_lock(tr, run, 1, DAGL_TRACE_WAIT, t + 5 * MS / 2, t + 3 * MS);
}

static void synthetic(const char *dir)
{
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    dagl_trace *tr;
    CHECK_OK(dagl_trace_new(&tr));
    dagl_trace_stats st;

    /* empty trace: all zero, and the writers still work */
    dagl_trace_get_stats(tr, &st);
    CHECK(st.nodes == 0 && st.wall_seconds == 0 && st.parallelism == 0 && st.dag_width == 0);

    dagl_graph *g = diamond(ctx);
    int r0 = dagl__trace_begin_run(tr, g);
    CHECK(r0 == 0);
    diamond_run(tr, r0, 1000 * MS);
    dagl_graph_free(g); /* the trace keeps its own copy of the edges */

    dagl_trace_get_stats(tr, &st);
    CHECK(st.nodes == 4 && st.workers_used == 2 && st.dag_width == 2);
    CHECK_NEAR(st.wall_seconds, 5.6e-3, 1e-12);
    CHECK_NEAR(st.work_seconds, 6.5e-3, 1e-12); /* b's lock wait is not work */
    CHECK_NEAR(st.parallelism, 6.5 / 5.6, 1e-9);
    CHECK_NEAR(st.critical_path_seconds, 5e-3, 1e-12);
    CHECK_NEAR(st.lock_hold_seconds, 1e-3, 1e-12);
    CHECK_NEAR(st.lock_wait_seconds, 0.5e-3, 1e-12);
    CHECK_NEAR(st.lock_serialized_fraction, 1.0 / 5.6, 1e-9);
    CHECK(st.lock_waits == 1 && st.steals == 1 && st.inline_runs == 2 && st.lock_handoffs == 0);

    /* a second run of an identical graph shares the kept edges; wall, work and path add up */
    g = diamond(ctx);
    int r1 = dagl__trace_begin_run(tr, g);
    CHECK(r1 == 1 && tr->ndags == 1);
    diamond_run(tr, r1, 1100 * MS);
    dagl_graph_free(g);
    /* a third run: a chain x -> relu -> relu (width 1, path 2 ms), with a worker-0 node */
    g = NULL;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int x, a, b;
    int64_t shape[1] = {3};
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 1, shape, &x));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_RELU, 1, &x, NULL, &a));
    CHECK_OK(dagl_graph_node(g, DAGL_OP_RELU, 1, &a, NULL, &b));
    int r2 = dagl__trace_begin_run(tr, g);
    CHECK(r2 == 2 && tr->ndags == 2);
    dagl__trace_node(tr, r2, 0, a, "relu", NULL, 1200 * MS, 1201 * MS, DAGL_SCHED_QUEUED);
    dagl__trace_node(tr, r2, 0, b, "relu", NULL, 1202 * MS, 1203 * MS, DAGL_SCHED_PARKED);
    dagl__trace_lock(tr, r2, 0, DAGL_TRACE_HOLD, 1200 * MS, 1201 * MS); /* worker 0 takes the lock after worker 2 */
    /* neither is work lost: a blocked wait between nodes, and b parked while a ran (b's wait is
     * on worker 0's lane, which ran b after it, and overlaps a) */
    dagl__trace_lock(tr, r2, 0, DAGL_TRACE_WAIT, 1201 * MS + MS / 2, 1201 * MS + 3 * MS / 4);
    dagl__trace_lock(tr, r2, 0, DAGL_TRACE_PARKED, 1200 * MS + MS / 2, 1202 * MS);
    dagl_graph_free(g);
    dagl_trace_get_stats(tr, &st);
    CHECK(st.nodes == 10 && st.workers_used == 3 && st.dag_width == 2);
    CHECK_NEAR(st.wall_seconds, (5.6 + 5.6 + 3) * 1e-3, 1e-12);
    CHECK_NEAR(st.work_seconds, (6.5 + 6.5 + 2) * 1e-3, 1e-12);
    CHECK_NEAR(st.critical_path_seconds, (5 + 5 + 2) * 1e-3, 1e-12);
    CHECK(st.lock_waits == 4 && st.steals == 2 && st.inline_runs == 4 && st.lock_handoffs == 1);

    char *sum = dagl_trace_summary(tr);
    CHECK(sum != NULL);
    printf("%s", sum);
    CHECK(strstr(sum, "10 nodes in 3 runs on 3 workers") != NULL && strstr(sum, "4 waits") &&
          strstr(sum, "1 handoffs"));
    CHECK(strstr(sum, "DAG width 2") != NULL);
    CHECK(strstr(sum, "4 inline, 3 queued, 2 stolen, 1 parked") != NULL);
    free(sum);

    /* JSON: valid, a named lane per worker and for the lock, every node, strings escaped */
    char path[512];
    snprintf(path, sizeof path, "%s/synthetic.json", dir);
    CHECK_OK(dagl_trace_write_json(tr, path));
    char *js = slurp(path);
    CHECK(valid_json(js));
    CHECK(strstr(js, "\"traceEvents\"") && strstr(js, "\"displayTimeUnit\":\"ms\""));
    CHECK(count(js, "\"thread_name\"") == 3 + 1 + 2); /* workers 0-2, runs, lock, lock waits */
    CHECK(count(js, "\"worker 0 (caller)\"") == 1 && count(js, "\"worker 1\"") == 1 && count(js, "\"worker 2\"") == 1);
    CHECK(count(js, "\"VM lock\"") == 1 && count(js, "\"VM lock waits\"") == 1);
    CHECK(count(js, "\"cat\":\"node\"") == 10 && count(js, "\"cat\":\"lock\"") == 7);
    CHECK(count(js, "\"name\":\"dense_1/sigmoid\"") == 2 && count(js, "\"held by worker 2\"") == 2);
    CHECK(count(js, "\"parked node, then run by worker 0\"") == 1 && count(js, "\"wait of worker 0\"") == 1);
    CHECK(count(js, "\"how\":\"stolen\"") == 2);
    CHECK(strstr(js, "we\\\"ird\\\\layer\\n/tanh") != NULL);
    free(js);

    /* SVG: one bar per node, the lock row, the summary; XML-escaped */
    snprintf(path, sizeof path, "%s/synthetic.svg", dir);
    CHECK_OK(dagl_trace_write_svg(tr, path));
    char *svg = slurp(path);
    CHECK(strstr(svg, "<svg ") && strstr(svg, "</svg>"));
    CHECK(count(svg, "<rect class=\"n ") == 10);
    CHECK(count(svg, "<rect class=\"kh\"") == 3 + 1 && count(svg, "<rect class=\"kw\"") == 4);
    CHECK(strstr(svg, ">VM lock<") && strstr(svg, "run summary: 10 nodes"));
    CHECK(strstr(svg, "we&quot;ird\\layer") != NULL && !strstr(svg, "we\"ird"));
    CHECK(count(svg, "<") == count(svg, ">")); /* no stray markup characters */
    free(svg);

    /* write failures are DAGL_E_IO */
    CHECK(dagl_trace_write_json(tr, "/nonexistent-dagl-dir/t.json") == DAGL_E_IO);
    CHECK(dagl_trace_write_svg(tr, "/nonexistent-dagl-dir/t.svg") == DAGL_E_IO);
    CHECK(dagl_trace_write_json(tr, "/dev/full") == DAGL_E_IO);

    /* clear forgets everything; runs that overlap in time (two threads) count their wall once */
    dagl_trace_clear(tr);
    dagl_trace_get_stats(tr, &st);
    CHECK(st.nodes == 0 && st.wall_seconds == 0);
    int ra = dagl__trace_begin_run(tr, NULL), rb = dagl__trace_begin_run(tr, NULL);
    CHECK(ra == 0 && rb == 1);
    dagl__trace_node(tr, ra, 1, 1, "custom", "lua", 0, 5 * MS, DAGL_SCHED_QUEUED);
    dagl__trace_node(tr, rb, 2, 1, "custom", "lua", 3 * MS, 8 * MS, DAGL_SCHED_QUEUED);
    dagl_trace_get_stats(tr, &st);
    CHECK_NEAR(st.wall_seconds, 8e-3, 1e-12);
    CHECK_NEAR(st.critical_path_seconds, 10e-3, 1e-12); /* no edges kept: the longest node per run */
    CHECK(st.dag_width == 0);

    /* empty trace writes fine */
    dagl_trace_clear(tr);
    snprintf(path, sizeof path, "%s/empty.json", dir);
    CHECK_OK(dagl_trace_write_json(tr, path));
    js = slurp(path);
    CHECK(valid_json(js));
    free(js);
    snprintf(path, sizeof path, "%s/empty.svg", dir);
    CHECK_OK(dagl_trace_write_svg(tr, path));

    dagl_trace_free(tr);
    dagl_ctx_free(ctx);
}

/* ---------------------------------------------------------------- a real run */

/* Two independent branches of three 256x256 matmuls, summed, run at 2 threads. */
static void real_run(const char *dir)
{
    dagl_ctx_options opt = {.threads = 2};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&opt, &ctx));
    int64_t shape[2] = {256, 256};
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    int in[2], last[2];
    for (int br = 0; br < 2; br++) {
        CHECK_OK(dagl_graph_input(g, DAGL_F32, 2, shape, &in[br]));
        last[br] = in[br];
    }
    for (int br = 0; br < 2; br++)
        for (int k = 0; k < 3; k++) {
            int id;
            CHECK_OK(dagl_graph_node(g, DAGL_OP_MATMUL, 2, (int[]){last[br], in[br]}, NULL, &id));
            CHECK_OK(dagl_graph_set_label(g, id, br ? "branch_b" : "branch_a"));
            last[br] = id;
        }
    int out;
    CHECK_OK(dagl_graph_node(g, DAGL_OP_ADD, 2, last, NULL, &out));
    CHECK_OK(dagl_graph_output(g, out));
    int n = dagl_graph_num_nodes(g), nops = n - 2;

    dagl_tensor *x[2], *y;
    for (int br = 0; br < 2; br++) CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 2, shape, 0.01, &x[br]));
    dagl_trace *tr;
    CHECK_OK(dagl_trace_new(&tr));
    const int runs = 3;
    for (int r = 0; r < runs; r++) {
        CHECK_OK(dagl_graph_run_ex(g, x, &y, &(dagl_run_options){.trace = tr}));
        dagl_tensor_release(y);
    }
    CHECK(tr->nruns == runs && tr->ndags == 1 && tr->dropped == 0);
    int nshares = 0;
    for (size_t i = 0; i < tr->nev; i++) nshares += tr->ev[i].how == DAGL_SCHED_SHARE;
    CHECK((int)tr->nev == runs * nops + nshares);
    for (int r = 0; r < runs; r++)
        for (int id = 0; id < n; id++) {
            int seen = 0;
            for (size_t i = 0; i < tr->nev; i++) {
                const trace_node_ev *e = &tr->ev[i];
                if (e->run != r || e->node != id || e->how == DAGL_SCHED_SHARE) continue;
                seen++;
                CHECK(e->t1 >= e->t0 && e->worker >= 0 && e->worker < 2);
                CHECK(e->label >= 0 || id == out);
            }
            CHECK(seen == (id == in[0] || id == in[1] ? 0 : 1));
        }
    /* dependencies respected: every node started after each of its op sources ended; a share
     * ran within its node's time */
    const trace_dag *dag = &tr->dags[0];
    for (size_t i = 0; i < tr->nev; i++) {
        const trace_node_ev *e = &tr->ev[i];
        if (e->how == DAGL_SCHED_SHARE) {
            int owner = 0;
            for (size_t j = 0; j < tr->nev; j++) {
                const trace_node_ev *o = &tr->ev[j];
                if (o->how != DAGL_SCHED_SHARE && o->run == e->run && o->node == e->node) {
                    owner++;
                    CHECK(o->t0 <= e->t0 && e->t1 <= o->t1 && o->worker != e->worker);
                }
            }
            CHECK(owner == 1);
            continue;
        }
        for (int k = dag->src_start[e->node]; k < dag->src_start[e->node + 1]; k++) {
            int src = dag->src[k];
            if (!dag->is_op[src]) continue;
            for (size_t j = 0; j < tr->nev; j++)
                if (tr->ev[j].run == e->run && tr->ev[j].node == src) CHECK(tr->ev[j].t1 <= e->t0);
        }
    }

    dagl_trace_stats st;
    dagl_trace_get_stats(tr, &st);
    CHECK(st.nodes == runs * nops && st.dag_width == 2 && st.shares == nshares);
    CHECK(st.workers_used >= 1 && st.workers_used <= 2);
    CHECK(st.wall_seconds > 0 && st.work_seconds > 0 && st.parallelism > 0);
    CHECK(st.parallelism < 2.0 * nops); /* a worker waiting on a split kernel may nest another node */
    CHECK(st.critical_path_seconds > 0 && st.critical_path_seconds <= st.wall_seconds + 1e-9);
    CHECK(st.critical_path_seconds <= st.work_seconds + 1e-9);
    char *sum = dagl_trace_summary(tr);
    CHECK(sum != NULL);
    printf("%s", sum);
    free(sum);

    char path[512];
    snprintf(path, sizeof path, "%s/matmul.json", dir);
    CHECK_OK(dagl_trace_write_json(tr, path));
    char *js = slurp(path);
    CHECK(valid_json(js));
    CHECK(count(js, "\"cat\":\"node\"") == runs * nops && count(js, "\"cat\":\"share\"") == nshares);
    CHECK(count(js, "\"name\":\"branch_a/matmul\"") >= 3 * runs);
    CHECK(count(js, "\"thread_name\"") == st.workers_used + 1);
    free(js);
    snprintf(path, sizeof path, "%s/matmul.svg", dir);
    CHECK_OK(dagl_trace_write_svg(tr, path));
    char *svg = slurp(path);
    CHECK(count(svg, "<rect class=\"n c") == runs * nops && count(svg, "<rect class=\"n s c") == nshares);
    free(svg);

    dagl_trace_free(tr);
    for (int br = 0; br < 2; br++) dagl_tensor_release(x[br]);
    dagl_graph_free(g);
    dagl_ctx_free(ctx);
}

/* ---------------------------------------------------------------- kernel shares */

/* Share 0 (always run by the node's own thread) waits until share 1 has run, so share 1 is
 * certainly run by the other worker. */
static void waiting_share(void *arg, int ith, int nth)
{
    (void)nth;
    atomic_int *done = arg;
    if (ith == 1) {
        atomic_store(done, 1);
        return;
    }
    for (int i = 0; i < 5000 && !atomic_load(done); i++) usleep(1000);
}

/* A custom node that splits its work in two shares with dagl_parallel and returns its input. */
static dagl_status split_node(void *ud, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs, dagl_tensor **out)
{
    (void)nsrc;
    atomic_int *done = ud;
    atomic_store(done, 0);
    dagl_parallel(ctx, waiting_share, done, 2);
    if (!atomic_load(done)) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "share 1 never ran");
    dagl_tensor_retain(srcs[0]);
    *out = srcs[0];
    return DAGL_OK;
}

/* A share run by the other worker is in the trace (its lane, its node's name, within the node's
 * time), counted as work and as a share, not as a node; untraced runs record nothing. */
static void shares_run(void)
{
    dagl_ctx_options opt = {.threads = 2};
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(&opt, &ctx));
    int64_t shape[1] = {4};
    dagl_graph *g;
    CHECK_OK(dagl_graph_new(ctx, &g));
    static atomic_int done;
    int in, id;
    CHECK_OK(dagl_graph_input(g, DAGL_F32, 1, shape, &in));
    CHECK_OK(dagl_graph_custom(g, "split", 1, &in, DAGL_F32, 1, shape, split_node, &done, NULL, NULL, &id));
    CHECK_OK(dagl_graph_set_label(g, id, "halves"));
    CHECK_OK(dagl_graph_output(g, id));
    dagl_tensor *x, *y;
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 1, shape, 1.0, &x));
    CHECK_OK(dagl_graph_run(g, &x, &y)); /* untraced: nothing to record, no crash */
    dagl_tensor_release(y);
    dagl_trace *tr;
    CHECK_OK(dagl_trace_new(&tr));
    CHECK_OK(dagl_graph_run_ex(g, &x, &y, &(dagl_run_options){.trace = tr}));
    dagl_tensor_release(y);
    CHECK(tr->nev == 2);
    const trace_node_ev *node = tr->ev[0].how == DAGL_SCHED_SHARE ? &tr->ev[1] : &tr->ev[0];
    const trace_node_ev *share = node == &tr->ev[0] ? &tr->ev[1] : &tr->ev[0];
    CHECK(share->how == DAGL_SCHED_SHARE && node->how != DAGL_SCHED_SHARE);
    CHECK(share->node == id && node->node == id && share->worker != node->worker);
    CHECK(node->t0 <= share->t0 && share->t1 <= node->t1);
    CHECK(strcmp(tr->str[share->name], "split") == 0 && strcmp(tr->str[share->label], "halves") == 0);
    dagl_trace_stats st;
    dagl_trace_get_stats(tr, &st);
    CHECK(st.nodes == 1 && st.shares == 1 && st.workers_used == 2);
    CHECK(st.work_seconds >= (double)(node->t1 - node->t0) * 1e-9);
    char *sum = dagl_trace_summary(tr);
    CHECK(sum && strstr(sum, "1 kernel shares run by other workers"));
    free(sum);
    dagl_trace_free(tr);
    dagl_tensor_release(x);
    dagl_graph_free(g);
    dagl_ctx_free(ctx);
}

/* Removes the files written unless DAGL_TEST_KEEP is set. */
static void cleanup(const char *dir)
{
    const char *keep = getenv("DAGL_TEST_KEEP");
    if (keep && *keep && strcmp(keep, "0")) {
        printf("trace files kept in %s\n", dir);
        return;
    }
    static const char *const files[] = {"synthetic.json", "synthetic.svg", "empty.json", "empty.svg",
                                        "matmul.json", "matmul.svg"};
    char path[512];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    rmdir(dir);
}

int main(void)
{
    char dir[] = "/tmp/dagl_trace_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    synthetic(dir);
    real_run(dir);
    shares_run();
    cleanup(dir);
    printf("test_trace: ok\n");
    return 0;
}
