/* test_uint8.c -- the uint8 dtype: its size, name and promotion; conversions to it (rounded
 * toward zero, saturated, NaN 0) and the fused cast+scale (bitwise NumPy's x / 255 in float32);
 * views, copies, joins and row gathers of it; compares and where; and the clear error every op
 * that computes gives on it, eagerly and when its graph node is added. */
#include "check.h"
#include "tensor_util.h"

#include <string.h>

/* The last error starts with `prefix` and names uint8. */
static void check_u8_error(dagl_status st, const char *prefix)
{
    CHECK(st == DAGL_E_DTYPE);
    const char *e = dagl_ctx_last_error(ctx);
    if (strncmp(e, prefix, strlen(prefix)) != 0 || !strstr(e, "uint8")) {
        fprintf(stderr, "unexpected error: %s (wanted prefix '%s')\n", e, prefix);
        exit(1);
    }
}

int main(void)
{
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    CHECK(dagl_dtype_size(DAGL_U8) == 1);
    CHECK_STR(dagl_dtype_name(DAGL_U8), "uint8");
    CHECK(dagl_dtype_promote(DAGL_U8, DAGL_U8) == DAGL_U8);
    CHECK(dagl_dtype_promote(DAGL_U8, DAGL_I64) == DAGL_I64);
    CHECK(dagl_dtype_promote(DAGL_F32, DAGL_U8) == DAGL_F32);

    /* conversions into uint8 round toward zero and saturate; NaN is 0 */
    int64_t s6[1] = {7};
    double fv[7] = {-3.5, 0.9, 1.999, 254.7, 255.0, 1e9, NAN};
    dagl_tensor *f = mk(DAGL_F32, 1, s6, fv), *u, *back;
    CHECK_OK(dagl_cast(ctx, f, DAGL_U8, &u));
    CHECK(dagl_tensor_nbytes(u) == 7);
    const uint8_t *up = dagl_tensor_data(u);
    const uint8_t want[7] = {0, 0, 1, 254, 255, 255, 0};
    CHECK(memcmp(up, want, 7) == 0);
    double iv[4] = {-1, 256, 65, 1e15};
    int64_t s4[1] = {4};
    dagl_tensor *i64 = mk(DAGL_I64, 1, s4, iv), *ui;
    CHECK_OK(dagl_cast(ctx, i64, DAGL_U8, &ui));
    CHECK(el(ui, 0) == 0 && el(ui, 1) == 255 && el(ui, 2) == 65 && el(ui, 3) == 255);
    CHECK_OK(dagl_cast(ctx, u, DAGL_I64, &back));
    CHECK(dagl_tensor_dtype(back) == DAGL_I64 && el(back, 3) == 254);
    CHECK_OK(dagl_set(ctx, u, (int64_t[]){0}, 300)); /* a stored number saturates too */
    CHECK(el(u, 0) == 255);
    dagl_tensor_release(back);
    dagl_tensor_release(ui);
    dagl_tensor_release(i64);
    dagl_tensor_release(f);

    /* the fused cast + scale: every byte value times 1/255 is the correctly rounded float32 x / 255 */
    int64_t s256[1] = {256};
    dagl_tensor *all, *sc, *sc64;
    CHECK_OK(dagl_arange(ctx, DAGL_U8, 0, 256, 1, &all));
    CHECK(el(all, 255) == 255);
    CHECK_OK(dagl_cast_scaled(ctx, all, DAGL_F32, 1.0 / 255, &sc));
    const float *sp = dagl_tensor_data(sc);
    for (int v = 0; v < 256; v++) CHECK(sp[v] == (float)v / 255.0f);
    CHECK_OK(dagl_cast_scaled(ctx, all, DAGL_F64, 0.5, &sc64));
    CHECK(((const double *)dagl_tensor_data(sc64))[255] == 127.5);
    dagl_tensor_release(sc64);
    /* a strided view scales the same: every other element */
    dagl_tensor *odd, *sco;
    CHECK_OK(dagl_slice(ctx, all, 0, 1, 256, 2, &odd));
    CHECK_OK(dagl_cast_scaled(ctx, odd, DAGL_F32, 1.0 / 255, &sco));
    CHECK(dagl_tensor_numel(sco) == 128 && ((const float *)dagl_tensor_data(sco))[127] == 1.0f);
    dagl_tensor_release(sco);
    dagl_tensor_release(odd);
    (void)s256;

    /* views, copies and joins of uint8 move bytes */
    int64_t s2x3[2] = {2, 3};
    double img[6] = {1, 2, 3, 4, 5, 6};
    dagl_tensor *m = mk(DAGL_U8, 2, s2x3, img), *tr, *ct, *nar, *cat;
    CHECK_OK(dagl_transpose(ctx, m, 0, 1, &tr));
    CHECK_OK(dagl_contiguous(ctx, tr, &ct));
    CHECK(dagl_tensor_dtype(ct) == DAGL_U8 && el(ct, 1) == 4 && el(ct, 2) == 2);
    CHECK_OK(dagl_narrow(ctx, m, 1, 1, 2, &nar));
    CHECK(el(nar, 0) == 2 && el(nar, 3) == 6);
    const dagl_tensor *two[2] = {m, m};
    CHECK_OK(dagl_concat(ctx, 2, two, 0, &cat));
    CHECK(dagl_tensor_shape(cat)[0] == 4 && el(cat, 11) == 6);
    char *txt = dagl_tensor_format(m);
    CHECK_STR(txt, "tensor([[1, 2, 3],\n        [4, 5, 6]], dtype=uint8)");
    free(txt);

    /* rows: the graph op gather and the background gather of dagl.data.batches */
    int64_t s2[1] = {2};
    double rows[2] = {1, 0};
    dagl_tensor *idx = mk(DAGL_I64, 1, s2, rows), *g, *ga;
    CHECK_OK(dagl_gather(ctx, m, idx, 0, &g));
    CHECK(dagl_tensor_dtype(g) == DAGL_U8 && el(g, 0) == 4 && el(g, 5) == 3);
    dagl_rows_job *job;
    int64_t pick[3] = {1, 1, 0};
    CHECK_OK(dagl_gather_rows_async(ctx, m, pick, 3, &job));
    CHECK_OK(dagl_rows_wait(job, &ga));
    CHECK(dagl_tensor_dtype(ga) == DAGL_U8 && dagl_tensor_shape(ga)[0] == 3 && el(ga, 3) == 4 && el(ga, 8) == 3);

    /* compares give uint8 masks; where picks uint8 values */
    dagl_tensor *eq, *eqs, *w;
    CHECK_OK(dagl_binary(ctx, DAGL_OP_GT, m, g, &eq));
    CHECK(dagl_tensor_dtype(eq) == DAGL_U8 && el(eq, 0) == 0 && el(eq, 3) == 1);
    CHECK_OK(dagl_binary_scalar(ctx, DAGL_OP_EQ, m, 5, 0, &eqs)); /* an integral number: int64 */
    CHECK(dagl_tensor_dtype(eqs) == DAGL_I64 && el(eqs, 4) == 1 && el(eqs, 3) == 0);
    CHECK_OK(dagl_where(ctx, eq, m, g, &w));
    CHECK(dagl_tensor_dtype(w) == DAGL_U8 && el(w, 0) == 4 && el(w, 3) == 4);

    /* every op that computes refuses uint8, naming the op */
    dagl_tensor *o = NULL;
    check_u8_error(dagl_binary(ctx, DAGL_OP_ADD, m, m, &o), "add:");
    check_u8_error(dagl_binary_scalar(ctx, DAGL_OP_DIV, m, 255, 0, &o), "div:");
    check_u8_error(dagl_unary(ctx, DAGL_OP_EXP, m, &o), "exp:");
    check_u8_error(dagl_clamp(ctx, m, 0, 1, &o), "clamp:");
    int dims[1] = {0};
    check_u8_error(dagl_reduce(ctx, DAGL_OP_SUM, m, dims, 1, 0, 1, &o), "sum:");
    check_u8_error(dagl_reduce(ctx, DAGL_OP_MAX, m, NULL, 0, 0, 1, &o), "max:");
    check_u8_error(dagl_matmul(ctx, m, tr, &o), "matmul:");
    check_u8_error(dagl_softmax(ctx, DAGL_OP_SOFTMAX, m, -1, &o), "softmax:");
    check_u8_error(dagl_index_add(ctx, m, idx, 2, 0, &o), "index_add:");
    check_u8_error(dagl_rand(ctx, DAGL_U8, 1, s2, &o), "rand:");
    dagl_tensor *x4, *k4;
    int64_t sx[4] = {1, 3, 3, 1}, sk[4] = {2, 2, 1, 1};
    CHECK_OK(dagl_tensor_full(ctx, DAGL_U8, 4, sx, 1, &x4));
    CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, 4, sk, 1, &k4));
    dagl_window2d win = {{0, 0}, {0, 0}, DAGL_PAD_VALID};
    check_u8_error(dagl_conv2d(ctx, x4, k4, &win, &o), "conv2d:");
    dagl_window2d pw = {{2, 2}, {0, 0}, DAGL_PAD_VALID};
    check_u8_error(dagl_pool2d(ctx, DAGL_OP_MAXPOOL2D, x4, &pw, &o), "max_pool2d:");
    CHECK(o == NULL);

    /* in a graph: the same error when the node is added; a scaled cast runs in the graph */
    dagl_graph *gr;
    CHECK_OK(dagl_graph_new(ctx, &gr));
    int in, bad, cast, mul;
    CHECK_OK(dagl_graph_input(gr, DAGL_U8, 2, s2x3, &in));
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.has_scalar = 1;
    p.scalar = 2;
    check_u8_error(dagl_graph_node(gr, DAGL_OP_MUL, 1, &in, &p, &bad), "mul:");
    dagl_node_params_init(&p);
    p.dtype = DAGL_F32;
    p.has_scalar = 1;
    p.scalar = 1.0 / 255;
    CHECK_OK(dagl_graph_node(gr, DAGL_OP_CAST, 1, &in, &p, &cast));
    dagl_node_params_init(&p);
    p.has_scalar = 1;
    p.scalar = 255;
    CHECK_OK(dagl_graph_node(gr, DAGL_OP_MUL, 1, &cast, &p, &mul));
    CHECK_OK(dagl_graph_output(gr, mul));
    dagl_tensor *res;
    CHECK_OK(dagl_graph_run(gr, &m, &res));
    CHECK(dagl_tensor_dtype(res) == DAGL_F32);
    for (int i = 0; i < 6; i++) CHECK_NEAR(el(res, i), img[i], 1e-5);
    /* the eager op gives the same bits as the node */
    dagl_tensor *eager;
    dagl_node_params_init(&p);
    p.dtype = DAGL_F32;
    p.has_scalar = 1;
    p.scalar = 1.0 / 255;
    CHECK_OK(dagl_op_apply(ctx, DAGL_OP_CAST, 1, &m, &p, &eager));
    CHECK(((const float *)dagl_tensor_data(eager))[5] == 6.0f / 255.0f);
    dagl_tensor_release(eager);
    dagl_tensor_release(res);
    dagl_graph_free(gr);

    dagl_tensor *list[] = {x4, k4, w, eqs, eq, ga, g, idx, cat, nar, ct, tr, m, sc, all, u};
    for (size_t i = 0; i < sizeof list / sizeof *list; i++) dagl_tensor_release(list[i]);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
    printf("test_uint8: ok\n");
    return 0;
}
