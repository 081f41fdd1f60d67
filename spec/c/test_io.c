/* test_io.c -- the file API from C: safetensors and .npy round trips with the dict ownership
 * rules, errors that name the file and entry, the rename-on-close writer, and the row gather. */
#include "check.h"
#include "dagl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path_st[64], path_npy[64];

/* Writes raw bytes to a file. */
static void write_raw(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(p, 1, n, f) == n);
    fclose(f);
}

int main(void)
{
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    snprintf(path_st, sizeof path_st, "/tmp/dagl_test_io_%d.safetensors", (int)getpid());
    snprintf(path_npy, sizeof path_npy, "/tmp/dagl_test_io_%d.npy", (int)getpid());

    /* safetensors: two tensors and metadata out, the same back */
    dagl_tensor *a, *b;
    int64_t sa[2] = {2, 3};
    CHECK_OK(dagl_arange(ctx, DAGL_F64, 0, 6, 1, &a));
    dagl_tensor *a2;
    CHECK_OK(dagl_reshape(ctx, a, 2, sa, &a2));
    CHECK_OK(dagl_tensor_full(ctx, DAGL_I64, 0, NULL, -5, &b));
    char *names[2] = {"z/b", "a"}, *mk[1] = {"k"}, *mv[1] = {"v"};
    dagl_tensor *ts[2] = {b, a2};
    dagl_tensor_dict d = {2, names, ts, 1, mk, mv};
    CHECK_OK(dagl_safetensors_write(ctx, path_st, &d));
    char tmp[80];
    snprintf(tmp, sizeof tmp, "%s.tmp", path_st);
    CHECK(access(tmp, F_OK) != 0); /* renamed away */
    dagl_tensor_dict r;
    CHECK_OK(dagl_safetensors_read(ctx, path_st, &r));
    CHECK(r.n == 2 && r.nmeta == 1);
    CHECK_STR(r.names[0], "a"); /* written sorted */
    CHECK_STR(r.names[1], "z/b");
    CHECK_STR(r.meta_keys[0], "k");
    CHECK_STR(r.meta_values[0], "v");
    CHECK(dagl_tensor_dtype(r.tensors[0]) == DAGL_F64 && dagl_tensor_ndim(r.tensors[0]) == 2);
    CHECK(((double *)dagl_tensor_data(r.tensors[0]))[5] == 5.0);
    CHECK(dagl_tensor_ndim(r.tensors[1]) == 0 && *(int64_t *)dagl_tensor_data(r.tensors[1]) == -5);
    dagl_tensor_dict_clear(&r);
    CHECK(r.n == 0 && r.names == NULL);

    /* a truncated file: an error naming file and entry, and an empty dict */
    FILE *f = fopen(path_st, "rb");
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_raw(path_st, buf, n - 4);
    CHECK(dagl_safetensors_read(ctx, path_st, &r) == DAGL_E_FORMAT);
    CHECK(r.n == 0 && r.tensors == NULL);
    CHECK(strstr(dagl_ctx_last_error(ctx), path_st) && strstr(dagl_ctx_last_error(ctx), "entry 'z/b'"));

    /* duplicate names are refused, and nothing is written */
    char *dup[2] = {"x", "x"};
    dagl_tensor_dict dd = {2, dup, ts, 0, NULL, NULL};
    remove(path_st);
    CHECK(dagl_safetensors_write(ctx, path_st, &dd) == DAGL_E_ARG);
    CHECK(strstr(dagl_ctx_last_error(ctx), "'x' is used twice"));
    CHECK(access(path_st, F_OK) != 0);

    /* .npy of a non-contiguous view comes back in C order */
    dagl_tensor *at, *back;
    CHECK_OK(dagl_transpose(ctx, a2, 0, 1, &at));
    CHECK_OK(dagl_npy_write(ctx, path_npy, at));
    CHECK_OK(dagl_npy_read(ctx, path_npy, &back));
    CHECK(dagl_tensor_shape(back)[0] == 3 && dagl_tensor_shape(back)[1] == 2);
    double want[6] = {0, 3, 1, 4, 2, 5};
    CHECK(memcmp(dagl_tensor_data(back), want, sizeof want) == 0);
    dagl_tensor_release(back);

    /* gather rows 2, 0 of the transposed view (copied contiguous first) */
    dagl_rows_job *g;
    int64_t idx[2] = {2, 0}, bad[1] = {3};
    CHECK(dagl_gather_rows_async(ctx, at, bad, 1, &g) == DAGL_E_INDEX && g == NULL);
    CHECK_OK(dagl_gather_rows_async(ctx, at, idx, 2, &g));
    CHECK_OK(dagl_rows_wait(g, &back));
    double wantg[4] = {2, 5, 0, 3};
    CHECK(memcmp(dagl_tensor_data(back), wantg, sizeof wantg) == 0);
    dagl_tensor_release(back);
    CHECK_OK(dagl_gather_rows_async(ctx, at, idx, 2, &g));
    dagl_rows_free(g); /* dropped without waiting: nothing leaks */

    dagl_tensor_release(at);
    dagl_tensor_release(a);
    dagl_tensor_release(a2);
    dagl_tensor_release(b);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    remove(path_st);
    remove(path_npy);
    dagl_ctx_free(ctx);
    printf("io: ok\n");
    return 0;
}
