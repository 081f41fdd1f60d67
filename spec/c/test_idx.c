/* test_idx.c -- the IDX reader (dagl_idx_read): files written here, plain and gzipped by zlib,
 * of every IDX type (uint8 straight into a uint8 tensor; int8/16/32 widened to int64; big-endian
 * float32/float64 swapped), and the errors of a bad magic number or type, truncated data (before
 * anything is allocated), bytes after the data, a cut or corrupt gzip stream. */
#include "check.h"
#include "dagl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char path[64];
static dagl_ctx *ctx;

/* An IDX image in memory: magic (type, ndim), big-endian dims, then `n` data bytes. */
static size_t idx_bytes(unsigned char *b, unsigned type, int nd, const uint32_t *dims, const void *data, size_t n)
{
    size_t k = 0;
    b[k++] = 0, b[k++] = 0, b[k++] = (unsigned char)type, b[k++] = (unsigned char)nd;
    for (int i = 0; i < nd; i++)
        for (int s = 24; s >= 0; s -= 8) b[k++] = (unsigned char)(dims[i] >> s);
    memcpy(b + k, data, n);
    return k + n;
}

static void write_plain(const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(b, 1, n, f) == n);
    fclose(f);
}

static void write_gz(const unsigned char *b, size_t n)
{
    gzFile g = gzopen(path, "wb");
    CHECK(g && gzwrite(g, b, (unsigned)n) == (int)n);
    CHECK(gzclose(g) == Z_OK);
}

/* The file's bytes (malloc'ed). */
static unsigned char *slurp(size_t *n)
{
    FILE *f = fopen(path, "rb");
    CHECK(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    CHECK(b && fread(b, 1, *n, f) == *n);
    fclose(f);
    return b;
}

/* Reading fails with DAGL_E_FORMAT, an error naming the file and `text`, and nothing left alive. */
static void check_fails(const char *text)
{
    dagl_tensor *t = NULL;
    int64_t live = dagl_ctx_live_bytes(ctx);
    dagl_status st = dagl_idx_read(ctx, path, &t);
    const char *e = dagl_ctx_last_error(ctx);
    if (st != DAGL_E_FORMAT || !strstr(e, path) || !strstr(e, text) || t) {
        fprintf(stderr, "status %d, error: %s (wanted '%s')\n", (int)st, e, text);
        exit(1);
    }
    CHECK(dagl_ctx_live_bytes(ctx) == live);
}

int main(void)
{
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    snprintf(path, sizeof path, "/tmp/dagl_test_idx_%d", (int)getpid());
    unsigned char b[4096];

    /* uint8 images, plain and gzipped: the same uint8 tensor */
    unsigned char px[2 * 3 * 4];
    for (int i = 0; i < 24; i++) px[i] = (unsigned char)(i * 11);
    uint32_t d3[3] = {2, 3, 4};
    size_t n = idx_bytes(b, 0x08, 3, d3, px, sizeof px);
    for (int gz = 0; gz < 2; gz++) {
        if (gz) write_gz(b, n);
        else write_plain(b, n);
        dagl_tensor *t;
        CHECK_OK(dagl_idx_read(ctx, path, &t));
        CHECK(dagl_tensor_dtype(t) == DAGL_U8 && dagl_tensor_ndim(t) == 3);
        CHECK(dagl_tensor_shape(t)[0] == 2 && dagl_tensor_shape(t)[1] == 3 && dagl_tensor_shape(t)[2] == 4);
        CHECK(memcmp(dagl_tensor_data(t), px, sizeof px) == 0);
        dagl_tensor_release(t);
    }

    /* the other types, big-endian in the file */
    uint32_t d1[1] = {2};
    const unsigned char i1[2] = {0xFF, 0x05}, i2[4] = {0xFF, 0xFE, 0x01, 0x00}, i4[8] = {0x80, 0, 0, 0, 0, 0, 0x01, 0x02};
    const unsigned char f4[8] = {0x3F, 0xC0, 0, 0, 0xC1, 0x20, 0, 0}; /* 1.5, -10 */
    const unsigned char f8[16] = {0x40, 0x09, 0x21, 0xFB, 0x54, 0x44, 0x2D, 0x18, 0, 0, 0, 0, 0, 0, 0, 0}; /* pi, 0 */
    struct { unsigned type; const unsigned char *data; size_t n; dagl_dtype dt; double v0, v1; } cases[] = {
        {0x09, i1, 2, DAGL_I64, -1, 5},
        {0x0B, i2, 4, DAGL_I64, -2, 256},
        {0x0C, i4, 8, DAGL_I64, -2147483648.0, 258},
        {0x0D, f4, 8, DAGL_F32, 1.5, -10},
        {0x0E, f8, 16, DAGL_F64, 3.141592653589793, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        write_gz(b, idx_bytes(b, cases[c].type, 1, d1, cases[c].data, cases[c].n));
        dagl_tensor *t;
        CHECK_OK(dagl_idx_read(ctx, path, &t));
        CHECK(dagl_tensor_dtype(t) == cases[c].dt && dagl_tensor_numel(t) == 2);
        double v;
        CHECK_OK(dagl_get(ctx, t, (int64_t[]){0}, &v));
        CHECK(v == cases[c].v0);
        CHECK_OK(dagl_get(ctx, t, (int64_t[]){1}, &v));
        CHECK(v == cases[c].v1);
        dagl_tensor_release(t);
    }

    /* what is wrong is named; a plausible but missing payload is never allocated */
    n = idx_bytes(b, 0x08, 3, d3, px, sizeof px);
    write_plain(b, n - 5);
    check_fails("truncated data: 19 bytes for shape [2, 3, 4], which needs 24");
    write_gz(b, n - 5);
    check_fails("truncated: the data ends after");
    write_plain(b, n + 3); /* three stray bytes */
    check_fails("3 more bytes follow the data of shape [2, 3, 4]");
    write_gz(b, n + 3);
    check_fails("more bytes follow the data of shape [2, 3, 4]");
    uint32_t huge[3] = {60000, 28, 28000};
    write_plain(b, idx_bytes(b, 0x08, 3, huge, px, sizeof px));
    check_fails("which needs 47040000000");
    write_gz(b, idx_bytes(b, 0x08, 3, huge, px, sizeof px));
    check_fails("more than the file can hold");
    b[0] = 0x08;
    write_plain(b, n);
    check_fails("not an IDX file");
    b[0] = 0, b[2] = 0x0A;
    write_plain(b, n);
    check_fails("type byte 0x0a is not an IDX type");
    b[2] = 0x08, b[3] = 0;
    write_plain(b, n);
    check_fails("0 dimensions");
    write_plain(b, 3);
    check_fails("past the end of the file");

    /* a gzip stream cut short, and one with its CRC-32 changed */
    b[3] = 3;
    write_gz(b, n);
    size_t gn;
    unsigned char *g = slurp(&gn);
    write_plain(g, gn - 6); /* most of the 8-byte trailer gone */
    check_fails("truncated");
    g[gn - 8] ^= 0x55;
    write_plain(g, gn);
    check_fails("corrupt gzip data");
    free(g);

    remove(path);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
    printf("test_idx: ok\n");
    return 0;
}
