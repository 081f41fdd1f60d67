/* soak.c -- a soak test of the embedding API (include/dagl_lua.h): several threads run sessions
 * of one model (Dense layers, a Lua node under the VM lock, three batch sizes) for a few
 * seconds, each result checked against the sequential one, and the runtime's live tensor bytes
 * must come back to the same value after every round: flat memory, no leak per run.
 * Usage: soak [seconds per round] [threads]. */
#include "dagl_lua.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IN 6
#define OUT 3
#define MAXB 8
static const int batches[] = {1, 3, MAXB};

static const char *model_lua =
    "local nn = dagl.nn\n"
    "dagl.manual_seed(1)\n"
    "local m = nn.Sequential{nn.Dense(16, {activation = 'relu', name = 'h'}),\n"
    "                        nn.LayerNormalization{name = 'ln'}, nn.Dense(3, {name = 'out'})}\n"
    "m:build{1, 6}\n"
    "local shift = dagl.luaop{name = 'shift', forward = function(t) return t - t:mean(-1, true) end}\n"
    "predict = function(x) return shift(m(x)):tanh() end\n";

#define FAIL(...) do { fprintf(stderr, "soak: " __VA_ARGS__); fprintf(stderr, "\n"); exit(1); } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static float xs[MAXB * IN];
static float want[3][MAXB * OUT]; /* per batch size, from the sequential run */

typedef struct worker {
    dagl_model *m;
    double until;
    long runs;
} worker;

/* Runs batch size number k once in session s; compares with the sequential result. */
static void run_once(dagl_session *s, int k, float *y)
{
    int64_t shape[2] = {batches[k], IN};
    if (dagl_session_set_input(s, 0, DAGL_F32, 2, shape, xs) || dagl_session_run(s) ||
        dagl_session_read_output(s, 0, y, sizeof(float) * (size_t)batches[k] * OUT))
        FAIL("run: %s", dagl_session_last_error(s));
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    dagl_session *s;
    if (dagl_session_new(w->m, &s)) FAIL("session_new failed");
    float y[MAXB * OUT];
    for (int k = 0; now() < w->until; k = (k + 1) % 3, w->runs++) {
        run_once(s, k, y);
        if (memcmp(y, want[k], sizeof(float) * (size_t)batches[k] * OUT) != 0) FAIL("batch %d: result differs", batches[k]);
    }
    dagl_session_free(s);
    return NULL;
}

/* Tensor bytes alive once Lua's garbage is collected. */
static int64_t live(dagl_runtime *rt)
{
    if (dagl_runtime_dostring(rt, "collectgarbage() collectgarbage()")) FAIL("%s", dagl_runtime_last_error(rt));
    return dagl_ctx_live_bytes(dagl_runtime_ctx(rt));
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    int nthreads = argc > 2 ? atoi(argv[2]) : 4;
    if (nthreads < 1 || nthreads > 16) nthreads = 4;
    dagl_runtime_options o = {.threads = 2, .seed = 1};
    dagl_runtime *rt;
    dagl_model *m;
    if (dagl_runtime_new(&o, &rt)) FAIL("runtime: %s", rt ? dagl_runtime_last_error(rt) : "out of memory");
    if (dagl_runtime_dostring(rt, model_lua) || dagl_model_load(rt, "predict", &m))
        FAIL("model: %s", dagl_runtime_last_error(rt));
    for (int i = 0; i < MAXB * IN; i++) xs[i] = (float)((i * 37 % 19) - 9) / 4.0f;
    dagl_session *s;
    if (dagl_session_new(m, &s)) FAIL("session_new failed");
    for (int k = 0; k < 3; k++) run_once(s, k, want[k]); /* traces every signature */
    dagl_session_free(s);
    int64_t base = live(rt);
    long total = 0;
    for (int round = 0; round < 3; round++) {
        worker w[16];
        pthread_t th[16];
        for (int i = 0; i < nthreads; i++) {
            w[i] = (worker){.m = m, .until = now() + secs, .runs = 0};
            if (pthread_create(&th[i], NULL, worker_main, &w[i])) FAIL("pthread_create");
        }
        for (int i = 0; i < nthreads; i++) {
            pthread_join(th[i], NULL);
            total += w[i].runs;
        }
        int64_t after = live(rt);
        if (after != base) FAIL("round %d: %lld live bytes, %lld before (a leak)", round + 1, (long long)after, (long long)base);
    }
    if (dagl_model_num_traces(m) != 3) FAIL("%d traces, expected 3", dagl_model_num_traces(m));
    dagl_model_free(m);
    dagl_runtime_free(rt);
    printf("soak: %ld runs on %d threads in 3 rounds, live bytes flat at %lld\n", total, nthreads, (long long)base);
    return 0;
}
