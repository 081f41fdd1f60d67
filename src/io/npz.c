/* npz.c -- .npz archives as np.savez writes them: a zip file whose entries are stored .npy
 * images. The central directory is read (zip64 fields too), every offset and size is checked
 * against the file, and each entry's CRC-32 is verified. */
#include "io/io.h"

#include <stdlib.h>
#include <string.h>

#define WHAT_SIZE 400

/* Little-endian fields of the zip structures, read byte by byte (any alignment, any host byte order). */
static uint32_t rd16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const unsigned char *p) { return rd16(p) | rd16(p + 2) << 16; }
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* CRC-32 (IEEE, as zip uses), table built on the first call of each run (cheap: 256 entries). */
static uint32_t crc32(const unsigned char *p, size_t n)
{
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

typedef struct zip_dir { uint64_t count, size, offset; } zip_dir;

/* Finds the end-of-central-directory record (and its zip64 form when the fields overflow). */
static const char *find_dir(const unsigned char *b, size_t len, zip_dir *dir)
{
    if (len < 22) return "too short for a zip archive";
    size_t lo = len > 22 + 65535 ? len - 22 - 65535 : 0;
    for (size_t i = len - 22 + 1; i-- > lo;) {
        if (rd32(b + i) != 0x06054b50u) continue;
        dir->count = rd16(b + i + 10);
        dir->size = rd32(b + i + 12);
        dir->offset = rd32(b + i + 16);
        if (dir->count == 0xFFFF || dir->size == 0xFFFFFFFFu || dir->offset == 0xFFFFFFFFu) {
            if (i < 20 || rd32(b + i - 20) != 0x07064b50u) return "zip64 locator missing";
            uint64_t z = rd64(b + i - 20 + 8);
            if (z > len - 56 || len < 56 || rd32(b + z) != 0x06064b50u) return "bad zip64 end record";
            dir->count = rd64(b + z + 32);
            dir->size = rd64(b + z + 40);
            dir->offset = rd64(b + z + 48);
        }
        if (dir->offset > len || dir->size > len - dir->offset) return "central directory outside the file (truncated?)";
        return NULL;
    }
    return "no end-of-central-directory record (not a zip archive, or truncated)";
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

/* Reads entry `name` whose central-directory record is at c (already bounds-checked). */
static dagl_status read_entry(dagl_ctx *ctx, const char *path, const unsigned char *b, size_t len,
                              const unsigned char *c, const char *name, size_t nlen, dagl_tensor_dict *d)
{
    char what[WHAT_SIZE];
    snprintf(what, sizeof what, "load_npz '%s': entry '%.*s'", path, (int)nlen, name);
    uint32_t method = rd16(c + 10), crc = rd32(c + 16);
    uint64_t csize = rd32(c + 20), usize = rd32(c + 24), off = rd32(c + 42);
    const char *e = zip64_extra(c + 46 + nlen, rd16(c + 30), &usize, &csize, &off);
    if (e) return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: %s", what, e);
    if (method == 8)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT,
                                  "%s: compressed .npz not supported, use np.savez (not np.savez_compressed)", what);
    if (method != 0 || csize != usize)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: compression method %u not supported", what, method);
    if (off > len || len - off < 30 || rd32(b + off) != 0x04034b50u)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: bad local header offset %llu", what, (unsigned long long)off);
    uint64_t start = off + 30 + rd16(b + off + 26) + rd16(b + off + 28);
    if (start > len || csize > len - start)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: data (%llu bytes) runs past the end of the file (truncated?)",
                                  what, (unsigned long long)csize);
    if (crc32(b + start, (size_t)csize) != crc)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: CRC-32 mismatch (corrupt data)", what);
    dagl_tensor *t;
    dagl_status st = dagl__npy_parse(ctx, what, b + start, (size_t)csize, &t);
    if (st) return st;
    if (nlen >= 4 && memcmp(name + nlen - 4, ".npy", 4) == 0) nlen -= 4;
    return dagl__dict_add(ctx, d, name, nlen, t);
}

dagl_status dagl_npz_read(dagl_ctx *ctx, const char *path, dagl_tensor_dict *out)
{
    memset(out, 0, sizeof *out);
    unsigned char *b;
    size_t len;
    dagl_status st = dagl__read_file(ctx, "load_npz", path, &b, &len);
    if (st) return st;
    zip_dir dir = {0, 0, 0};
    const char *e = find_dir(b, len, &dir);
    if (e) st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "load_npz '%s': %s", path, e);
    const unsigned char *c = b + (e ? 0 : dir.offset), *end = c + (e ? 0 : dir.size);
    for (uint64_t i = 0; !st && i < dir.count; i++) {
        if (end - c < 46 || rd32(c) != 0x02014b50u) {
            st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "load_npz '%s': central directory entry %llu is malformed",
                                    path, (unsigned long long)i + 1);
            break;
        }
        size_t nlen = rd16(c + 28), rest = (size_t)nlen + rd16(c + 30) + rd16(c + 32);
        if ((size_t)(end - c) - 46 < rest) {
            st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "load_npz '%s': central directory entry %llu is truncated",
                                    path, (unsigned long long)i + 1);
            break;
        }
        st = read_entry(ctx, path, b, len, c, (const char *)c + 46, nlen, out);
        c += 46 + rest;
    }
    free(b);
    if (st) dagl_tensor_dict_clear(out);
    return st;
}
