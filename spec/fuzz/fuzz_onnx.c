/* fuzz_onnx.c -- libFuzzer target: dagl_onnx_load on arbitrary bytes, and, when that loads, a
 * graph built for the declared input shapes (when they are fixed and small), planned, and run on
 * zeros when its intermediates are small; also the same bytes as a lone TensorProto
 * (dagl_onnx_tensor_read). */
#include "fuzz_file.h"

/* Zero inputs of the declared shapes, or 0 when one is not fixed or too big to bother. */
static int make_inputs(dagl_onnx_model *m, dagl_tensor **in)
{
    int n = dagl_onnx_num_inputs(m);
    if (n > 8) return 0;
    for (int i = 0; i < n; i++) {
        dagl_dtype dt;
        int nd;
        const int64_t *shape;
        int64_t total = 1;
        dagl_onnx_input_info(m, i, NULL, &dt, &nd, &shape);
        for (int d = 0; d < nd; d++) total = shape[d] < 0 || total > (1 << 16) ? -1 : total * shape[d];
        if (nd < 0 || total < 0 || total > (1 << 16) ||
            dagl_tensor_full(fuzz_ctx, dt, nd, shape, 0.0, &in[i]) != DAGL_OK) {
            for (int k = 0; k < i; k++) dagl_tensor_release(in[k]);
            return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    dagl_onnx_model *m = NULL;
    if (dagl_onnx_load(fuzz_ctx, path, &m) == DAGL_OK) {
        dagl_tensor *in[8], *out[64];
        dagl_graph *g;
        if (dagl_onnx_num_outputs(m) <= 64 && make_inputs(m, in)) {
            dagl_graph_plan_info plan;
            if (dagl_onnx_build(m, NULL, NULL, &g) == DAGL_OK) {
                /* runs of graphs with big intermediates (a Tile or Resize blown up by the
                 * mutation) only slow the fuzzer down: planned, not run */
                if (dagl_graph_plan(g, &plan) == DAGL_OK && plan.total_bytes <= (64 << 20) &&
                    dagl_graph_run(g, in, out) == DAGL_OK)
                    for (int i = 0; i < dagl_graph_num_outputs(g); i++) dagl_tensor_release(out[i]);
                dagl_graph_free(g);
            }
            for (int i = 0; i < dagl_onnx_num_inputs(m); i++) dagl_tensor_release(in[i]);
        }
        dagl_onnx_free(m);
    }
    dagl_tensor *t;
    if (dagl_onnx_tensor_read(fuzz_ctx, path, &t) == DAGL_OK) dagl_tensor_release(t);
    fuzz_check_flat();
    return 0;
}
