/* onnx_session.c -- an ONNX model served by the embedding API (include/dagl_lua.h): loaded as the
 * expression dagl.onnx.load('<path>'), run by sessions on two threads at once on the fixture's
 * input, each output matching PyTorch's reference (read with dagl_onnx_tensor_read) to 1e-4.
 * Usage: onnx_session FIXTURE_DIR */
#include "dagl_lua.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) do { fprintf(stderr, "onnx_session: " __VA_ARGS__); fprintf(stderr, "\n"); exit(1); } while (0)

static dagl_model *model;
static dagl_tensor *x, *ref;

/* One thread: a session, 20 runs, every output checked. */
static void *serve(void *arg)
{
    (void)arg;
    dagl_session *s;
    if (dagl_session_new(model, &s)) FAIL("session_new failed");
    size_t n = (size_t)dagl_tensor_numel(ref);
    float *y = malloc(n * sizeof *y);
    if (!y) FAIL("out of memory");
    const float *want = dagl_tensor_data(ref);
    for (int run = 0; run < 20; run++) {
        if (dagl_session_set_input(s, 0, DAGL_F32, dagl_tensor_ndim(x), dagl_tensor_shape(x), dagl_tensor_data(x)) ||
            dagl_session_run(s) || dagl_session_read_output(s, 0, y, n * sizeof *y))
            FAIL("%s", dagl_session_last_error(s));
        double err = 0, scale = 1e-6;
        for (size_t i = 0; i < n; i++) err = fmax(err, fabs((double)y[i] - want[i])), scale = fmax(scale, fabs(want[i]));
        if (err / scale > 1e-4) FAIL("relative error %g", err / scale);
    }
    free(y);
    dagl_session_free(s);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) FAIL("usage: onnx_session FIXTURE_DIR");
    dagl_runtime *rt;
    if (dagl_runtime_new(NULL, &rt)) FAIL("%s", dagl_runtime_last_error(rt));
    char path[1024], expr[1200];
    snprintf(path, sizeof path, "%s/cnn.in0.pb", argv[1]);
    if (dagl_onnx_tensor_read(dagl_runtime_ctx(rt), path, &x)) FAIL("cannot read %s", path);
    snprintf(path, sizeof path, "%s/cnn.out0.pb", argv[1]);
    if (dagl_onnx_tensor_read(dagl_runtime_ctx(rt), path, &ref)) FAIL("cannot read %s", path);
    snprintf(expr, sizeof expr, "dagl.onnx.load('%s/cnn.onnx')", argv[1]);
    if (dagl_model_load(rt, expr, &model)) FAIL("%s", dagl_runtime_last_error(rt));
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, serve, NULL);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    if (dagl_model_num_traces(model) != 1) FAIL("%d traces for one signature", dagl_model_num_traces(model));
    dagl_model_free(model);
    dagl_tensor_release(x);
    dagl_tensor_release(ref);
    dagl_runtime_free(rt);
    return 0;
}
