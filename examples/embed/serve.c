/* serve.c -- embedding dagl in a C program: load a model defined in Lua plus its weights from a
 * safetensors file, then serve predictions from several threads at once, each with its own
 * session over one shared model.
 *
 *   embed_serve model.lua weights.safetensors data.csv [threads=4] [requests per thread=200]
 *
 * The requests are batches of rows of data.csv (features, then the class label; a header line),
 * read with the core's CSV reader. Every answer is checked against the same request answered
 * alone before the threads start (bitwise: dagl's results do not depend on what runs beside
 * them), and the answers' accuracy against the labels is printed. Exit status 0 when all match
 * and the accuracy is at least 90%. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dagl_lua.h"

#define FEATURES 4
#define CLASSES 3
#define BATCH 10
#define NREQ 15 /* distinct requests (150 rows), reused round-robin */

typedef struct server {
    dagl_model *model;
    float inputs[NREQ][BATCH * FEATURES];
    float expect[NREQ][BATCH * CLASSES];
    int labels[NREQ][BATCH];
    int requests;
} server;

typedef struct worker {
    server *srv;
    int id, mismatches, failures;
} worker;

/* The runtime's tensor data comes from here (dagl_runtime_options.allocator), counted, so that
 * the end can check every block went back. Called from any thread. */
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

/* One prediction: the batch in `x` (read in place), the probabilities into `y`. */
static int predict(dagl_session *s, float *x, float *y)
{
    int64_t shape[2] = {BATCH, FEATURES};
    if (dagl_session_set_input(s, 0, DAGL_F32, 2, shape, x) || dagl_session_run(s) ||
        dagl_session_read_output(s, 0, y, sizeof(float) * BATCH * CLASSES)) {
        fprintf(stderr, "predict: %s\n", dagl_session_last_error(s));
        return -1;
    }
    return 0;
}

/* A serving thread: its own session, `requests` predictions, each checked. */
static void *serve(void *arg)
{
    worker *w = arg;
    dagl_session *s;
    if (dagl_session_new(w->srv->model, &s)) {
        w->failures++;
        return NULL;
    }
    for (int r = 0; r < w->srv->requests; r++) {
        int k = (r + w->id) % NREQ;
        float y[BATCH * CLASSES];
        if (predict(s, w->srv->inputs[k], y)) w->failures++;
        else if (memcmp(y, w->srv->expect[k], sizeof y)) w->mismatches++;
    }
    dagl_session_free(s);
    return NULL;
}

/* A request with a wrong shape must fail with a message naming the shapes, and the session
 * must keep working afterwards. */
static int check_bad_input(dagl_model *m, server *srv)
{
    dagl_session *s;
    if (dagl_session_new(m, &s)) return -1;
    float x[3 * 5] = {0}, y[BATCH * CLASSES];
    int64_t bad[2] = {3, 5};
    int ok = dagl_session_set_input(s, 0, DAGL_F32, 2, bad, x) == DAGL_OK && dagl_session_run(s) != DAGL_OK;
    printf("bad input rejected: %s\n", ok ? dagl_session_last_error(s) : "NO");
    ok = ok && strstr(dagl_session_last_error(s), "[3, 5]") != NULL;
    ok = ok && predict(s, srv->inputs[0], y) == 0 && memcmp(y, srv->expect[0], sizeof y) == 0;
    dagl_session_free(s);
    return ok ? 0 : -1;
}

/* Fills the requests from the CSV: NREQ batches of BATCH rows (row r goes to batch r % NREQ, so
 * every batch mixes the classes). */
static int load_requests(dagl_ctx *ctx, const char *path, server *srv)
{
    dagl_tensor *t;
    dagl_csv_options o = {.header = 1};
    char **names;
    int ncols;
    if (dagl_csv_read(ctx, path, &o, &t, &names, &ncols)) {
        fprintf(stderr, "%s\n", dagl_ctx_last_error(ctx));
        return -1;
    }
    dagl_strings_free(names, ncols);
    const int64_t *shape = dagl_tensor_shape(t);
    int ok = shape[0] == NREQ * BATCH && shape[1] == FEATURES + 1;
    if (!ok) fprintf(stderr, "%s: expected %d rows of %d columns\n", path, NREQ * BATCH, FEATURES + 1);
    const float *v = dagl_tensor_data(t);
    for (int r = 0; ok && r < NREQ * BATCH; r++) {
        int k = r % NREQ, i = r / NREQ;
        for (int f = 0; f < FEATURES; f++) srv->inputs[k][i * FEATURES + f] = v[r * (FEATURES + 1) + f];
        srv->labels[k][i] = (int)v[r * (FEATURES + 1) + FEATURES];
    }
    dagl_tensor_release(t);
    return ok ? 0 : -1;
}

/* Share of the rows whose most probable class is the label. */
static double accuracy(const server *srv)
{
    int good = 0;
    for (int k = 0; k < NREQ; k++)
        for (int i = 0; i < BATCH; i++) {
            const float *p = srv->expect[k] + i * CLASSES;
            int best = 0;
            for (int c = 1; c < CLASSES; c++)
                if (p[c] > p[best]) best = c;
            good += best == srv->labels[k][i];
        }
    return (double)good / (NREQ * BATCH);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s model.lua weights.safetensors data.csv [threads] [requests per thread]\n", argv[0]);
        return 2;
    }
    int nthreads = argc > 4 ? atoi(argv[4]) : 4, requests = argc > 5 ? atoi(argv[5]) : 200;
    if (nthreads < 1 || nthreads > 64 || requests < 1) return fprintf(stderr, "bad thread/request count\n"), 2;

    dagl_runtime *rt;
    static counting blocks;
    dagl_allocator alloc = {count_alloc, count_free, &blocks};
    dagl_runtime_options opt = {.threads = 2, .allocator = &alloc};
    if (dagl_runtime_new(&opt, &rt)) {
        fprintf(stderr, "runtime: %s\n", dagl_runtime_last_error(rt));
        dagl_runtime_free(rt);
        return 1;
    }
    static server srv;
    dagl_model *m = NULL;
    dagl_session *ref = NULL;
    int status = 1;
    char setw[1100]; /* the weights path reaches model.lua as the global weights_path */
    snprintf(setw, sizeof setw, "weights_path = [==[%.1000s]==]", argv[2]);
    if (dagl_runtime_dostring(rt, setw) || dagl_runtime_dofile(rt, argv[1]) || dagl_model_load(rt, "predict", &m) ||
        dagl_session_new(m, &ref)) {
        fprintf(stderr, "%s\n", dagl_runtime_last_error(rt));
        goto out;
    }
    if (load_requests(dagl_runtime_ctx(rt), argv[3], &srv)) goto out;
    srv.model = m;
    srv.requests = requests;
    for (int k = 0; k < NREQ; k++)
        if (predict(ref, srv.inputs[k], srv.expect[k])) goto out;
    double acc = accuracy(&srv);
    printf("accuracy of the served model on %s: %.1f%%\n", argv[3], 100 * acc);
    if (check_bad_input(m, &srv)) {
        fprintf(stderr, "the bad-input check failed\n");
        goto out;
    }

    pthread_t th[64];
    worker w[64] = {{0}};
    for (int i = 0; i < nthreads; i++) {
        w[i] = (worker){&srv, i, 0, 0};
        pthread_create(&th[i], NULL, serve, &w[i]);
    }
    int mism = 0, fail = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        mism += w[i].mismatches;
        fail += w[i].failures;
    }
    printf("served %d predictions (batch %d) from %d threads on one model: %d failed, %d differ from the "
           "single-threaded answer; %d graph(s) traced\n",
           nthreads * requests, BATCH, nthreads, fail, mism, dagl_model_num_traces(m));
    status = fail || mism || acc < 0.9 ? 1 : 0;
out:
    dagl_session_free(ref);
    dagl_model_free(m);
    dagl_runtime_free(rt);
    long a = atomic_load(&blocks.allocs), f = atomic_load(&blocks.frees);
    printf("the caller's allocator gave %ld tensor blocks and got %ld back\n", a, f);
    return status || a == 0 || a != f;
}
