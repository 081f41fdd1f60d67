/* idx.c -- the IDX format of MNIST and Fashion-MNIST: a big-endian magic number (two zero bytes,
 * the element type, the number of dims), one big-endian uint32 per dim, then the elements,
 * big-endian, in C order; usually gzipped (recognized by the gzip magic, gunzipped by zlib as it
 * is read). uint8 data (every MNIST file) is read straight into a uint8 tensor; int8, int16 and
 * int32 widen to int64, float32 and float64 keep their width (byte-swapped in place). */
#include "io/io.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define WHAT_SIZE 400
/* zlib's read buffer: large reads of the compressed file. */
#define GZ_BUFFER (1 << 20)
/* Deflate's largest expansion (about 1032 to 1), bounding what a gzip file of a given size can
 * hold, so a header claiming more fails before anything that size is allocated. */
#define DEFLATE_MAX_RATIO 1032

/* The IDX type byte -> the file encoding (0: not an IDX type). */
static int idx_elem(unsigned type, dagl_elem *e)
{
    switch (type) {
    case 0x08: *e = DAGL_ELEM_U1; return 1;
    case 0x09: *e = DAGL_ELEM_I1; return 1;
    case 0x0B: *e = DAGL_ELEM_I2_BE; return 1;
    case 0x0C: *e = DAGL_ELEM_I4_BE; return 1;
    case 0x0D: *e = DAGL_ELEM_F4_BE; return 1;
    case 0x0E: *e = DAGL_ELEM_F8_BE; return 1;
    default: return 0;
    }
}

/* A gzip stream as a dagl_src: zlib's gzread straight into the caller's buffer. */
typedef struct gz_src {
    dagl_src s;
    gzFile gz;
    uint64_t got; /* bytes read so far (for messages) */
} gz_src;

/* The gzip source's read: exactly n bytes, or an error saying whether the stream is corrupt or
 * ends early. */
static dagl_status gz_read(dagl_ctx *ctx, dagl_src *s, void *dst, size_t n)
{
    gz_src *g = (gz_src *)s;
    char *p = dst;
    while (n > 0) {
        unsigned k = n > (1u << 30) ? 1u << 30 : (unsigned)n;
        int r = gzread(g->gz, p, k);
        if (r > 0) {
            p += r, n -= (size_t)r, g->got += (uint64_t)r;
            s->left -= (uint64_t)r < s->left ? (uint64_t)r : s->left;
            continue;
        }
        int err;
        const char *msg = gzerror(g->gz, &err);
        if (err == Z_MEM_ERROR) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory gunzipping", s->what);
        if (err == Z_ERRNO) return dagl_ctx_set_error(ctx, DAGL_E_IO, "%s: error reading the file", s->what);
        if (err != Z_OK && err != Z_BUF_ERROR)
            return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: corrupt gzip data (%s)", s->what, msg);
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: truncated: the data ends after %llu bytes, %zu more needed",
                                  s->what, (unsigned long long)g->got, n);
    }
    return DAGL_OK;
}

/* The header (magic and dims) from src, then the data (whether bytes follow it is the caller's
 * to check: it knows how to look). */
static dagl_status idx_from_src(dagl_ctx *ctx, dagl_src *src, dagl_tensor **out)
{
    const char *what = src->what;
    unsigned char m[4], d[4 * DAGL_MAX_DIMS];
    dagl_status st = src->read(ctx, src, m, 4);
    if (st) return st;
    if (m[0] != 0 || m[1] != 0)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: not an IDX file (the magic number 0x%02x%02x%02x%02x "
                                  "does not start with two zero bytes)", what, m[0], m[1], m[2], m[3]);
    dagl_elem e;
    if (!idx_elem(m[2], &e))
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: type byte 0x%02x is not an IDX type (0x08 ubyte, 0x09 "
                                  "byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double)", what, m[2]);
    int nd = m[3];
    if (nd < 1 || nd > DAGL_MAX_DIMS)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: %d dimensions in the magic number (IDX files have 1 to "
                                  "%d here)", what, nd, DAGL_MAX_DIMS);
    if ((st = src->read(ctx, src, d, 4 * (size_t)nd))) return st;
    int64_t shape[DAGL_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        shape[i] = (int64_t)((uint32_t)d[4 * i] << 24 | (uint32_t)d[4 * i + 1] << 16 | (uint32_t)d[4 * i + 2] << 8 |
                             d[4 * i + 3]);
    return dagl__tensor_from_src(ctx, src, e, nd, shape, out);
}

/* What follows the data, as an error ("dims say ... but N more bytes follow"). */
static dagl_status trailing(dagl_ctx *ctx, const char *what, const dagl_tensor *t, const char *more)
{
    char sb[160];
    return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: %s follow the data of shape %s (the dims do not match the "
                              "file; corrupt?)", what, more,
                              dagl_shape_str(dagl_tensor_ndim(t), dagl_tensor_shape(t), sb, sizeof sb));
}

/* The gzipped case: the stream read through zlib, then one more byte asked for, which must not
 * come (and makes zlib check the gzip trailer's CRC-32 and length). */
static dagl_status read_gz(dagl_ctx *ctx, const char *what, dagl_rfile *r, dagl_tensor **out)
{
    int fd = dup(fileno(r->f)); /* zlib closes its own descriptor; the stream reads from the start */
    gzFile gz = fd >= 0 && lseek(fd, 0, SEEK_SET) == 0 ? gzdopen(fd, "rb") : NULL;
    if (!gz) {
        if (fd >= 0) close(fd);
        return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: cannot start gunzipping (out of memory?)", what);
    }
    gzbuffer(gz, GZ_BUFFER);
    uint64_t bound = r->size > UINT64_MAX / DEFLATE_MAX_RATIO ? UINT64_MAX : r->size * DEFLATE_MAX_RATIO;
    gz_src g = {.s = {gz_read, what, bound, 0}, .gz = gz};
    dagl_status st = idx_from_src(ctx, &g.s, out);
    if (!st) {
        unsigned char one;
        int err, n = gzread(gz, &one, 1);
        const char *msg = gzerror(gz, &err);
        if (n == 1) st = trailing(ctx, what, *out, "more bytes");
        else if (err == Z_BUF_ERROR)
            st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: truncated: the gzip stream ends without its trailer", what);
        else if (err != Z_OK)
            st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: corrupt gzip data (%s)", what, msg);
    }
    gzclose_r(gz);
    if (st) {
        dagl_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

dagl_status dagl_idx_read(dagl_ctx *ctx, const char *path, dagl_tensor **out)
{
    *out = NULL;
    char what[WHAT_SIZE];
    snprintf(what, sizeof what, "read_idx '%s'", path);
    dagl_rfile r;
    dagl_status st = dagl__ropen(ctx, "read_idx", path, &r);
    if (st) return st;
    unsigned char magic[2] = {0, 0};
    if (r.size >= 2) st = dagl__rread(ctx, what, &r, 0, magic, 2);
    if (!st && magic[0] == 0x1f && magic[1] == 0x8b) {
        st = read_gz(ctx, what, &r, out);
    } else if (!st) {
        dagl_file_src fs;
        dagl__file_src(&fs, what, &r, 0, UINT64_MAX);
        st = idx_from_src(ctx, &fs.s, out);
        if (!st && fs.s.left > 0) {
            char more[64];
            snprintf(more, sizeof more, "%llu more bytes", (unsigned long long)fs.s.left);
            st = trailing(ctx, what, *out, more);
            dagl_tensor_release(*out);
            *out = NULL;
        }
    }
    dagl__rclose(&r);
    return st;
}
