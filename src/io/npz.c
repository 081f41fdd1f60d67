/* npz.c -- .npz archives as np.savez and np.savez_compressed write them: a zip file whose entries
 * are .npy images, stored (method 0) or deflated (method 8, inflated by zlib). The file is never
 * read whole: the end records and the central directory are read from its end, and each entry is
 * read from its place straight into its tensor (inflated straight into it when deflated). Every
 * offset and size is checked against the file (zip64 fields too), and each entry's length and
 * CRC-32 (zlib's) are verified. */
#include "io/io.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define WHAT_SIZE 400
/* Compressed bytes read from the file per refill of the inflater. */
#define INBUF_SIZE (256 * 1024)
/* Deflate's largest expansion (a run of one byte): about 1032 to 1. A directory claiming more
 * than this for an entry is corrupt, and is refused before anything that size is allocated. */
#define DEFLATE_MAX_RATIO 1032

/* Little-endian fields of the zip structures, read byte by byte (any alignment, any host byte order). */
static uint32_t rd16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const unsigned char *p) { return rd16(p) | rd16(p + 2) << 16; }
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

typedef struct zip_dir { uint64_t count, size, offset; } zip_dir;

/* Finds the end-of-central-directory record in the file's last bytes (and its zip64 form when the
 * fields overflow); returns NULL or what is wrong, with *st set when reading failed. */
static const char *find_dir(dagl_ctx *ctx, dagl_rfile *r, const char *what, zip_dir *dir, dagl_status *st)
{
    *st = DAGL_OK;
    uint64_t len = r->size;
    if (len < 22) return "too short for a zip archive";
    /* the record is within the last 22 + 65535 bytes; its zip64 locator is just before it */
    size_t tl = (size_t)(len < 22 + 65535 + 20 ? len : 22 + 65535 + 20);
    uint64_t base = len - tl;
    unsigned char *t = malloc(tl);
    if (!t) {
        *st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory", what);
        return NULL;
    }
    const char *e = "no end-of-central-directory record (not a zip archive, or truncated)";
    if ((*st = dagl__rread(ctx, what, r, base, t, tl))) {
        free(t);
        return NULL;
    }
    size_t lo = tl > 22 + 65535 ? tl - 22 - 65535 : 0;
    for (size_t i = tl - 22 + 1; i-- > lo;) {
        if (rd32(t + i) != 0x06054b50u) continue;
        dir->count = rd16(t + i + 10);
        dir->size = rd32(t + i + 12);
        dir->offset = rd32(t + i + 16);
        e = NULL;
        if (dir->count == 0xFFFF || dir->size == 0xFFFFFFFFu || dir->offset == 0xFFFFFFFFu) {
            unsigned char z64[56];
            uint64_t z;
            if (i < 20 || rd32(t + i - 20) != 0x07064b50u) e = "zip64 locator missing";
            else if ((z = rd64(t + i - 20 + 8)) > len - 56 || len < 56) e = "bad zip64 end record";
            else if ((*st = dagl__rread(ctx, what, r, z, z64, sizeof z64))) e = NULL;
            else if (rd32(z64) != 0x06064b50u) e = "bad zip64 end record";
            else dir->count = rd64(z64 + 32), dir->size = rd64(z64 + 40), dir->offset = rd64(z64 + 48);
        }
        if (!e && !*st && (dir->offset > len || dir->size > len - dir->offset))
            e = "central directory outside the file (truncated?)";
        break;
    }
    free(t);
    return e;
}

/* Sizes and offset from a zip64 extra field where the 32-bit fields are 0xFFFFFFFF. */
static const char *zip64_extra(const unsigned char *x, size_t xlen, uint64_t *usize, uint64_t *csize, uint64_t *off)
{
    while (xlen >= 4) {
        uint32_t id = rd16(x), n = rd16(x + 2);
        if (n > xlen - 4) return "extra field overruns its entry";
        if (id == 1) {
            const unsigned char *q = x + 4, *e = x + 4 + n;
            uint64_t *f[3] = {usize, csize, off};
            for (int i = 0; i < 3; i++) {
                if (*f[i] != 0xFFFFFFFFu) continue;
                if (e - q < 8) return "zip64 extra field too short";
                *f[i] = rd64(q);
                q += 8;
            }
        }
        x += 4 + n;
        xlen -= 4 + n;
    }
    return NULL;
}

/* An entry's uncompressed bytes as a dagl_src: stored ones read from the file, deflated ones
 * inflated from it chunk by chunk into the caller's buffer; both counted into the CRC. */
typedef struct entry_src {
    dagl_src s;
    dagl_rfile *r;
    uint64_t in_pos, in_left; /* compressed (or stored) bytes still in the file */
    int deflated, z_ready, z_ended;
    z_stream z;
    unsigned char *inbuf;
    uint32_t crc;
} entry_src;

/* zlib's CRC-32 over any length (its length argument is an unsigned int). */
static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n > 0) {
        unsigned k = n > (1u << 30) ? 1u << 30 : (unsigned)n;
        crc = (uint32_t)crc32(crc, p, k);
        p += k, n -= k;
    }
    return crc;
}

/* Inflates exactly n bytes into dst, refilling the input from the file as it runs dry. */
static dagl_status inflate_into(dagl_ctx *ctx, entry_src *es, unsigned char *dst, size_t n)
{
    const char *what = es->s.what;
    while (n > 0) {
        if (es->z.avail_in == 0 && es->in_left > 0) {
            size_t k = es->in_left < INBUF_SIZE ? (size_t)es->in_left : INBUF_SIZE;
            dagl_status st = dagl__rread(ctx, what, es->r, es->in_pos, es->inbuf, k);
            if (st) return st;
            es->in_pos += k, es->in_left -= k;
            es->z.next_in = es->inbuf;
            es->z.avail_in = (uInt)k;
        }
        uInt want = n > (1u << 30) ? 1u << 30 : (uInt)n;
        es->z.next_out = dst;
        es->z.avail_out = want;
        int zr = es->z_ended ? Z_STREAM_END : inflate(&es->z, Z_NO_FLUSH);
        size_t got = want - es->z.avail_out;
        dst += got, n -= got;
        if (zr == Z_STREAM_END) {
            es->z_ended = 1;
            if (n > 0)
                return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: the deflate stream ends %zu bytes before the "
                                          "size the directory gives (corrupt)", what, n);
        } else if (zr == Z_MEM_ERROR) {
            return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory inflating", what);
        } else if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT || zr == Z_STREAM_ERROR) {
            return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: corrupt deflate data (%s)", what,
                                      es->z.msg ? es->z.msg : "invalid stream");
        } else if (got == 0 && (zr == Z_BUF_ERROR || (es->z.avail_in == 0 && es->in_left == 0))) {
            return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: the compressed data ends before the entry does "
                                      "(truncated?)", what);
        }
    }
    return DAGL_OK;
}

/* The entry source's read: exactly n of the entry's bytes (no more than the directory gives). */
static dagl_status entry_read(dagl_ctx *ctx, dagl_src *s, void *dst, size_t n)
{
    entry_src *es = (entry_src *)s;
    if (n > s->left)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: truncated: the entry holds %llu more bytes, %zu needed",
                                  s->what, (unsigned long long)s->left, n);
    dagl_status st;
    if (es->deflated) {
        st = inflate_into(ctx, es, dst, n);
    } else {
        st = dagl__rread(ctx, s->what, es->r, es->in_pos, dst, n);
        es->in_pos += n;
    }
    if (st) return st;
    es->crc = crc_update(es->crc, dst, n);
    s->left -= n;
    return DAGL_OK;
}

/* After the .npy image: the entry's remaining bytes (counted into the CRC), the end of a deflate
 * stream exactly at the directory's size, and the CRC-32. */
static dagl_status entry_finish(dagl_ctx *ctx, entry_src *es, uint32_t crc)
{
    unsigned char scratch[4096];
    while (es->s.left > 0) {
        size_t k = es->s.left < sizeof scratch ? (size_t)es->s.left : sizeof scratch;
        dagl_status st = entry_read(ctx, &es->s, scratch, k);
        if (st) return st;
    }
    if (es->deflated && !es->z_ended) {
        unsigned char one;
        es->s.left = 1; /* one byte more must not come: the stream has to end here */
        dagl_status st = inflate_into(ctx, es, &one, 1);
        es->s.left = 0;
        if (!st)
            return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: the deflate stream holds more than the size the "
                                      "directory gives (corrupt)", es->s.what);
        if (!es->z_ended) return st; /* corrupt or truncated: inflate_into said which */
        dagl_ctx_clear_error(ctx);   /* the stream ended right there, as it must */
    }
    if (es->crc != crc) return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: CRC-32 mismatch (corrupt data)", es->s.what);
    return DAGL_OK;
}

/* Reads entry `name` whose central-directory record is at c (already bounds-checked). */
static dagl_status read_entry(dagl_ctx *ctx, const char *path, dagl_rfile *r, const unsigned char *c,
                              const char *name, size_t nlen, dagl_tensor_dict *d)
{
    char what[WHAT_SIZE];
    snprintf(what, sizeof what, "load_npz '%s': entry '%.*s'", path, (int)nlen, name);
    uint32_t method = rd16(c + 10), crc = rd32(c + 16);
    uint64_t csize = rd32(c + 20), usize = rd32(c + 24), off = rd32(c + 42);
    const char *e = zip64_extra(c + 46 + nlen, rd16(c + 30), &usize, &csize, &off);
    if (e) return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: %s", what, e);
    if (method != 0 && method != 8)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT,
                                  "%s: compression method %u not supported (only 0, stored: np.savez, and 8, "
                                  "deflated: np.savez_compressed)", what, method);
    if (method == 0 && csize != usize)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: a stored entry of %llu bytes whose size is given as %llu",
                                  what, (unsigned long long)csize, (unsigned long long)usize);
    if (method == 8 && usize / DEFLATE_MAX_RATIO > csize)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: %llu compressed bytes cannot inflate to the %llu the "
                                  "directory gives (corrupt)", what, (unsigned long long)csize,
                                  (unsigned long long)usize);
    unsigned char lh[30];
    if (off > r->size || r->size - off < 30 || dagl__rread(ctx, what, r, off, lh, sizeof lh) || rd32(lh) != 0x04034b50u)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: bad local header offset %llu", what, (unsigned long long)off);
    uint64_t start = off + 30 + rd16(lh + 26) + rd16(lh + 28);
    if (start > r->size || csize > r->size - start)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: data (%llu bytes) runs past the end of the file (truncated?)",
                                  what, (unsigned long long)csize);
    entry_src es = {.s = {entry_read, what, usize, 1}, .r = r, .in_pos = start, .in_left = csize,
                    .deflated = method == 8, .crc = (uint32_t)crc32(0, Z_NULL, 0)};
    dagl_status st = DAGL_OK;
    if (es.deflated) {
        es.inbuf = malloc(INBUF_SIZE);
        if (!es.inbuf || inflateInit2(&es.z, -MAX_WBITS) != Z_OK) /* raw deflate: zip has no zlib header */
            st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory", what);
        else
            es.z_ready = 1;
    }
    dagl_tensor *t = NULL;
    if (!st) st = dagl__npy_from_src(ctx, &es.s, &t);
    if (!st) st = entry_finish(ctx, &es, crc);
    if (es.z_ready) inflateEnd(&es.z);
    free(es.inbuf);
    if (st) {
        dagl_tensor_release(t);
        return st;
    }
    if (nlen >= 4 && memcmp(name + nlen - 4, ".npy", 4) == 0) nlen -= 4;
    return dagl__dict_add(ctx, d, name, nlen, t);
}

dagl_status dagl_npz_read(dagl_ctx *ctx, const char *path, dagl_tensor_dict *out)
{
    memset(out, 0, sizeof *out);
    char what[WHAT_SIZE];
    snprintf(what, sizeof what, "load_npz '%s'", path);
    dagl_rfile r;
    dagl_status st = dagl__ropen(ctx, "load_npz", path, &r);
    if (st) return st;
    zip_dir dir = {0, 0, 0};
    unsigned char *cd = NULL;
    const char *e = find_dir(ctx, &r, what, &dir, &st);
    if (!st && e) st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: %s", what, e);
    if (!st && !(cd = malloc(dir.size ? (size_t)dir.size : 1)))
        st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory", what);
    if (!st) st = dagl__rread(ctx, what, &r, dir.offset, cd, (size_t)dir.size);
    const unsigned char *c = cd, *end = st ? cd : cd + dir.size; /* cd may be NULL after an error */
    for (uint64_t i = 0; !st && i < dir.count; i++) {
        if (end - c < 46 || rd32(c) != 0x02014b50u) {
            st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: central directory entry %llu is malformed", what,
                                    (unsigned long long)i + 1);
            break;
        }
        size_t nlen = rd16(c + 28), rest = (size_t)nlen + rd16(c + 30) + rd16(c + 32);
        if ((size_t)(end - c) - 46 < rest) {
            st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: central directory entry %llu is truncated", what,
                                    (unsigned long long)i + 1);
            break;
        }
        st = read_entry(ctx, path, &r, c, (const char *)c + 46, nlen, out);
        c += 46 + rest;
    }
    free(cd);
    dagl__rclose(&r);
    if (st) dagl_tensor_dict_clear(out);
    return st;
}
