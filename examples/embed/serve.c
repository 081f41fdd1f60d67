/* serve.c -- embedding dagl in a C program: load a model defined in Lua, then serve predictions
 * from several threads at once, each with its own session over one shared model.
 *
 *   embed_serve model.lua [threads=4] [requests per thread=200]
 *
 * Every answer is checked against the same request answered alone before the threads start
 * (bitwise: dagl's results do not depend on what runs beside them). Exit status 0 when all match. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dagl_lua.h"

#define FEATURES 4
#define CLASSES 3
#define BATCH 8
#define NREQ 16 /* distinct requests, reused round-robin */

typedef struct server {
    dagl_model *model;
    float inputs[NREQ][BATCH * FEATURES];
    float expect[NREQ][BATCH * CLASSES];
    int requests;
} server;

typedef struct worker {
    server *srv;
    int id, mismatches, failures;
} worker;

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

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s model.lua [threads] [requests per thread]\n", argv[0]);
        return 2;
    }
    int nthreads = argc > 2 ? atoi(argv[2]) : 4, requests = argc > 3 ? atoi(argv[3]) : 200;
    if (nthreads < 1 || nthreads > 64 || requests < 1) return fprintf(stderr, "bad thread/request count\n"), 2;

    dagl_runtime *rt;
    dagl_runtime_options opt = {.threads = 2};
    if (dagl_runtime_new(&opt, &rt)) {
        fprintf(stderr, "runtime: %s\n", dagl_runtime_last_error(rt));
        dagl_runtime_free(rt);
        return 1;
    }
    static server srv;
    dagl_model *m = NULL;
    dagl_session *ref = NULL;
    int status = 1;
    if (dagl_runtime_dofile(rt, argv[1]) || dagl_model_load(rt, "predict", &m) || dagl_session_new(m, &ref)) {
        fprintf(stderr, "%s\n", dagl_runtime_last_error(rt));
        goto out;
    }
    srv.model = m;
    srv.requests = requests;
    unsigned seed = 12345;
    for (int k = 0; k < NREQ; k++) {
        for (int i = 0; i < BATCH * FEATURES; i++) srv.inputs[k][i] = (float)rand_r(&seed) / RAND_MAX * 2 - 1;
        if (predict(ref, srv.inputs[k], srv.expect[k])) goto out;
    }
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
    status = fail || mism ? 1 : 0;
out:
    dagl_session_free(ref);
    dagl_model_free(m);
    dagl_runtime_free(rt);
    return status;
}
