/* test_onnx.c -- the ONNX loader from C, without Lua: a model loaded, its inputs described, a
 * graph built for the declared and for given shapes and run against the reference output, the
 * model freed before its graph, and the errors (unsupported op, opset, truncated file, wrong
 * input shape) with their status and text; nothing leaks (live bytes back to zero). */
#include "check.h"
#include "dagl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIX DAGL_SOURCE_DIR "/spec/fixtures/onnx/"

/* Largest |a - b| over two f32 tensors of one shape, relative to the largest |b|. */
static double rel_diff(const dagl_tensor *a, const dagl_tensor *b)
{
    CHECK(dagl_tensor_numel(a) == dagl_tensor_numel(b));
    const float *x = dagl_tensor_data(a), *y = dagl_tensor_data(b);
    double m = 0, s = 1e-6;
    for (int64_t i = 0; i < dagl_tensor_numel(a); i++) m = fmax(m, fabs((double)x[i] - y[i])), s = fmax(s, fabs(y[i]));
    return m / s;
}

/* Loads name, builds and runs it on the fixture input of `data` and checks its output; with `given` the
 * input shape is passed explicitly. */
static void run_fixture(dagl_ctx *ctx, const char *name, const char *data, int given)
{
    char path[512];
    dagl_onnx_model *m;
    snprintf(path, sizeof path, FIX "%s.onnx", name);
    CHECK_OK(dagl_onnx_load(ctx, path, &m));
    CHECK(dagl_onnx_num_inputs(m) == 1 && dagl_onnx_num_outputs(m) == 1);
    dagl_tensor *x, *ref, *y;
    snprintf(path, sizeof path, FIX "%s.in0.pb", data);
    CHECK_OK(dagl_onnx_tensor_read(ctx, path, &x));
    snprintf(path, sizeof path, FIX "%s.out0.pb", data);
    CHECK_OK(dagl_onnx_tensor_read(ctx, path, &ref));
    dagl_graph *g;
    int nd = dagl_tensor_ndim(x);
    const int64_t *shape = dagl_tensor_shape(x);
    CHECK_OK(dagl_onnx_build(m, given ? &nd : NULL, given ? &shape : NULL, &g));
    dagl_onnx_free(m); /* the graph keeps what it needs (the initializers it uses) */
    CHECK_OK(dagl_graph_run(g, &x, &y));
    dagl_tensor *yc; /* an output may be a view (NHWC results permuted back to NCHW) */
    CHECK_OK(dagl_contiguous(ctx, y, &yc));
    dagl_tensor_release(y);
    y = yc;
    CHECK(dagl_tensor_ndim(y) == dagl_tensor_ndim(ref));
    CHECK(rel_diff(y, ref) <= 1e-4);
    dagl_tensor_release(y);
    dagl_graph_free(g);
    dagl_tensor_release(x);
    dagl_tensor_release(ref);
}

/* dagl_onnx_load fails with st and an error containing text. */
static void load_fails(dagl_ctx *ctx, const char *path, dagl_status st, const char *text)
{
    dagl_onnx_model *m = (dagl_onnx_model *)&m;
    CHECK(dagl_onnx_load(ctx, path, &m) == st);
    CHECK(m == NULL);
    if (!strstr(dagl_ctx_last_error(ctx), text)) {
        fprintf(stderr, "error '%s' lacks '%s'\n", dagl_ctx_last_error(ctx), text);
        exit(1);
    }
}

int main(void)
{
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    run_fixture(ctx, "mlp", "mlp", 0);
    run_fixture(ctx, "cnn", "cnn", 1);
    run_fixture(ctx, "conv_bn", "conv_bn", 0);
    run_fixture(ctx, "mlp_external", "mlp", 0); /* weights in mlp_external.data */

    /* what the model says about its inputs */
    dagl_onnx_model *m;
    CHECK_OK(dagl_onnx_load(ctx, FIX "cnn.onnx", &m));
    const char *name;
    dagl_dtype dt;
    int nd;
    const int64_t *shape;
    CHECK_OK(dagl_onnx_input_info(m, 0, &name, &dt, &nd, &shape));
    CHECK(!strcmp(name, "x0") && dt == DAGL_F32 && nd == 4 && shape[1] == 3);
    CHECK(dagl_onnx_input_info(m, 1, NULL, NULL, NULL, NULL) == DAGL_E_INDEX);
    CHECK(dagl_onnx_opset(m) == 13);
    /* a shape that does not fit the declared one */
    int64_t bad[4] = {2, 4, 16, 16};
    const int64_t *bp = bad;
    int bnd = 4;
    dagl_graph *g = (dagl_graph *)&g;
    CHECK(dagl_onnx_build(m, &bnd, &bp, &g) == DAGL_E_SHAPE && g == NULL);
    CHECK(strstr(dagl_ctx_last_error(ctx), "input 'x0': shape [2, 4, 16, 16] does not fit the model's [2, 3, 16, 16]"));
    dagl_onnx_free(m);

    /* the model added to a graph of our own, between an input scaled by 1 and a negation */
    {
        dagl_tensor *xin, *want, *y;
        CHECK_OK(dagl_onnx_tensor_read(ctx, FIX "mlp.in0.pb", &xin));
        CHECK_OK(dagl_onnx_tensor_read(ctx, FIX "mlp.out0.pb", &want));
        CHECK_OK(dagl_onnx_load(ctx, FIX "mlp.onnx", &m));
        dagl_graph *own;
        int in, scaled, out, neg;
        CHECK_OK(dagl_graph_new(ctx, &own));
        CHECK_OK(dagl_graph_input(own, DAGL_F32, dagl_tensor_ndim(xin), dagl_tensor_shape(xin), &in));
        dagl_node_params p;
        dagl_node_params_init(&p);
        p.has_scalar = 1, p.scalar = 1.0;
        CHECK_OK(dagl_graph_node(own, DAGL_OP_MUL, 1, &in, &p, &scaled));
        CHECK(dagl_onnx_add_to_graph(m, own, NULL, &out) == DAGL_E_ARG);
        int wrong = 999;
        CHECK(dagl_onnx_add_to_graph(m, own, &wrong, &out) == DAGL_E_INDEX);
        CHECK_OK(dagl_onnx_add_to_graph(m, own, &scaled, &out));
        CHECK_OK(dagl_graph_node(own, DAGL_OP_NEG, 1, &out, NULL, &neg));
        CHECK_OK(dagl_graph_output(own, neg));
        dagl_onnx_free(m);
        /* exported before it runs, loaded back: the same bits */
        char saved[64];
        snprintf(saved, sizeof saved, "/tmp/dagl_test_onnx_save_%d.onnx", (int)getpid());
        CHECK_OK(dagl_onnx_save(own, saved));
        dagl_onnx_model *back_m;
        dagl_graph *back_g;
        dagl_tensor *back_y;
        CHECK_OK(dagl_onnx_load(ctx, saved, &back_m));
        CHECK_OK(dagl_onnx_build(back_m, NULL, NULL, &back_g));
        dagl_onnx_free(back_m);
        unlink(saved);
        CHECK_OK(dagl_graph_run(back_g, &xin, &back_y));
        CHECK_OK(dagl_graph_run(own, &xin, &y));
        CHECK(dagl_onnx_save(own, saved) == DAGL_E_ARG); /* it ran: fused */
        CHECK(strstr(dagl_ctx_last_error(ctx), "export a fresh trace"));
        CHECK(rel_diff(back_y, y) == 0);
        dagl_tensor_release(back_y);
        dagl_graph_free(back_g);
        dagl_tensor *back;
        CHECK_OK(dagl_unary(ctx, DAGL_OP_NEG, y, &back));
        CHECK(rel_diff(back, want) <= 1e-4);
        dagl_tensor_release(back);
        dagl_tensor_release(y);
        dagl_graph_free(own);
        dagl_tensor_release(xin);
        dagl_tensor_release(want);
    }

    load_fails(ctx, FIX "unsupported_op.onnx", DAGL_E_ARG, "unsupported op Det (node 'the_det_node', opset 13)");
    load_fails(ctx, FIX "opset18.onnx", DAGL_E_ARG, "opset 18");
    load_fails(ctx, FIX "no_such.onnx", DAGL_E_IO, "cannot open");

    /* every truncation of a small model fails cleanly or (cut at a field boundary) loads a
     * smaller model; none crashes or leaks */
    FILE *f = fopen(FIX "op_conv.onnx", "rb");
    CHECK(f);
    static unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/dagl_test_onnx_%d.onnx", (int)getpid());
    int failed = 0;
    for (size_t cut = 1; cut < n; cut += 7) {
        f = fopen(tmp, "wb");
        CHECK(f && fwrite(buf, 1, cut, f) == cut);
        fclose(f);
        if (dagl_onnx_load(ctx, tmp, &m) == DAGL_OK) {
            if (dagl_onnx_build(m, NULL, NULL, &g) == DAGL_OK) dagl_graph_free(g);
            dagl_onnx_free(m);
        } else {
            failed++;
        }
    }
    CHECK(failed > 0);
    f = fopen(tmp, "wb");
    CHECK(f && fwrite(buf, 1, n / 2, f) == n / 2);
    fclose(f);
    load_fails(ctx, tmp, DAGL_E_FORMAT, "truncated or corrupt");
    unlink(tmp);

    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
    printf("test_onnx: ok\n");
    return 0;
}
