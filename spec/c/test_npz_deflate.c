/* test_npz_deflate.c -- compressed .npz entries (zip method 8) from C: an archive deflated here
 * with zlib is read back bit for bit, and a corrupt stream, a wrong CRC, a directory size that
 * disagrees with the stream and an unknown method each fail with an error naming the entry. */
#include "check.h"
#include "dagl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char path_npy[64], path_npz[64];

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { put16(p, v & 0xFFFF), put16(p + 2, v >> 16); }

/* The whole content of a file (malloc'ed). */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    CHECK(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    CHECK(b && fread(b, 1, *n, f) == *n);
    fclose(f);
    return b;
}

/* Writes a one-entry zip ("t.npy", method) around `data` (csize bytes) with the given crc and
 * uncompressed size. */
static void write_zip(const unsigned char *data, size_t csize, unsigned method, uint32_t crc, size_t usize)
{
    unsigned char lh[30] = {0}, cd[46] = {0}, eocd[22] = {0};
    const char *name = "t.npy";
    size_t nl = strlen(name);
    put32(lh, 0x04034b50), put16(lh + 4, 20), put16(lh + 8, method), put32(lh + 14, crc);
    put32(lh + 18, (uint32_t)csize), put32(lh + 22, (uint32_t)usize), put16(lh + 26, (unsigned)nl);
    put32(cd, 0x02014b50), put16(cd + 4, 20), put16(cd + 6, 20), put16(cd + 10, method), put32(cd + 16, crc);
    put32(cd + 20, (uint32_t)csize), put32(cd + 24, (uint32_t)usize), put16(cd + 28, (unsigned)nl);
    size_t body = 30 + nl + csize;
    put32(eocd, 0x06054b50), put16(eocd + 8, 1), put16(eocd + 10, 1), put32(eocd + 12, (uint32_t)(46 + nl));
    put32(eocd + 16, (uint32_t)body);
    FILE *f = fopen(path_npz, "wb");
    CHECK(f);
    fwrite(lh, 1, 30, f), fwrite(name, 1, nl, f), fwrite(data, 1, csize, f);
    fwrite(cd, 1, 46, f), fwrite(name, 1, nl, f), fwrite(eocd, 1, 22, f);
    fclose(f);
}

/* Raw deflate (no zlib header, as zip stores it) of n bytes; *cn gets the compressed size. */
static unsigned char *deflate_raw(const unsigned char *src, size_t n, size_t *cn)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    CHECK(deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    size_t cap = deflateBound(&z, n);
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)src, z.avail_in = (uInt)n, z.next_out = out, z.avail_out = (uInt)cap;
    CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
    *cn = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* Loading the archive fails with `status` and an error naming the entry and `text`. */
static void check_fails(dagl_ctx *ctx, dagl_status status, const char *text)
{
    dagl_tensor_dict d;
    dagl_status st = dagl_npz_read(ctx, path_npz, &d);
    const char *e = dagl_ctx_last_error(ctx);
    if (st != status || !strstr(e, "entry 't.npy'") || !strstr(e, text)) {
        fprintf(stderr, "status %d, error: %s (wanted %d and '%s')\n", (int)st, e, (int)status, text);
        exit(1);
    }
    CHECK(d.n == 0);
}

int main(void)
{
    dagl_ctx *ctx;
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    snprintf(path_npy, sizeof path_npy, "/tmp/dagl_test_npzd_%d.npy", (int)getpid());
    snprintf(path_npz, sizeof path_npz, "/tmp/dagl_test_npzd_%d.npz", (int)getpid());

    /* a 600 x 700 uint8 image with structure (compressible) and a float tensor */
    int64_t shape[2] = {600, 700};
    dagl_tensor *img;
    CHECK_OK(dagl_tensor_new(ctx, DAGL_U8, 2, shape, &img));
    unsigned char *px = dagl_tensor_data(img);
    for (int64_t i = 0; i < 600 * 700; i++) px[i] = (unsigned char)((i * 7) % 251);
    CHECK_OK(dagl_npy_write(ctx, path_npy, img));
    size_t n, cn;
    unsigned char *npy = slurp(path_npy, &n), *def = deflate_raw(npy, n, &cn);
    uint32_t crc = (uint32_t)crc32(0, npy, (uInt)n);
    CHECK(cn < n / 4);

    write_zip(def, cn, 8, crc, n);
    dagl_tensor_dict d;
    CHECK_OK(dagl_npz_read(ctx, path_npz, &d));
    CHECK(d.n == 1);
    CHECK_STR(d.names[0], "t");
    CHECK(dagl_tensor_dtype(d.tensors[0]) == DAGL_U8);
    CHECK(dagl_tensor_shape(d.tensors[0])[0] == 600 && dagl_tensor_shape(d.tensors[0])[1] == 700);
    CHECK(memcmp(dagl_tensor_data(d.tensors[0]), px, 600 * 700) == 0);
    dagl_tensor_dict_clear(&d);

    /* the same image stored (method 0) reads the same */
    write_zip(npy, n, 0, crc, n);
    CHECK_OK(dagl_npz_read(ctx, path_npz, &d));
    CHECK(memcmp(dagl_tensor_data(d.tensors[0]), px, 600 * 700) == 0);
    dagl_tensor_dict_clear(&d);

    /* what is wrong is named */
    write_zip(def, cn, 8, crc ^ 1, n);
    check_fails(ctx, DAGL_E_FORMAT, "CRC-32 mismatch");
    write_zip(def, cn, 8, crc, n + 5);
    check_fails(ctx, DAGL_E_FORMAT, "the deflate stream ends 5 bytes before");
    write_zip(def, cn, 8, crc, n - 3);
    check_fails(ctx, DAGL_E_FORMAT, "truncated");
    unsigned char *bad = malloc(cn);
    memcpy(bad, def, cn);
    for (size_t i = 0; i < 16; i++) bad[i] = 0xFF; /* an invalid block type right away */
    write_zip(bad, cn, 8, crc, n);
    check_fails(ctx, DAGL_E_FORMAT, "corrupt deflate data");
    write_zip(def, cn / 2, 8, crc, n);
    check_fails(ctx, DAGL_E_FORMAT, "ends before the entry does");
    write_zip(def, cn, 14, crc, n); /* LZMA */
    check_fails(ctx, DAGL_E_FORMAT, "compression method 14 not supported");
    write_zip(def, 1, 8, crc, n); /* a directory claiming far more than one byte can inflate to */
    check_fails(ctx, DAGL_E_FORMAT, "cannot inflate to");

    free(bad);
    free(def);
    free(npy);
    dagl_tensor_release(img);
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    remove(path_npy);
    remove(path_npz);
    dagl_ctx_free(ctx);
    printf("test_npz_deflate: ok\n");
    return 0;
}
