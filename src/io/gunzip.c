/* gunzip.c -- whole files that may be gzipped, for the readers of text formats (CSV): a
 * `.csv.gz` is told by gzip's magic bytes and gunzipped by zlib in memory, so it reads like the
 * `.csv` without a `gzip` program or a temporary file. */
#include "io/io.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Deflate's largest expansion (about 1032 to 1): a file claiming more output is corrupt. */
#define DEFLATE_MAX_RATIO 1032u

/* Whether a file's first bytes are gzip's magic. */
static bool is_gzip(const unsigned char *b, size_t n) { return n >= 2 && b[0] == 0x1f && b[1] == 0x8b; }

/* Grows *buf (capacity *cap) so it holds at least `need` bytes; false when out of memory. */
static bool grow(unsigned char **buf, size_t *cap, size_t need)
{
    size_t c = *cap;
    while (c < need) c = c > SIZE_MAX / 2 ? SIZE_MAX : c * 2;
    unsigned char *b = realloc(*buf, c);
    if (!b) return false;
    *buf = b, *cap = c;
    return true;
}

/* The gzip stream in src (every member, as `gzip -dc` gives them) inflated into a fresh buffer;
 * truncated or corrupt streams are errors naming `what`. */
static dagl_status inflate_all(dagl_ctx *ctx, const char *what, const unsigned char *src, size_t n, unsigned char **out,
                               size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: cannot start gunzipping (out of memory?)", what);
    size_t cap = n < 1024 ? 4096 : n * 4, len = 0;
    unsigned char *buf = malloc(cap);
    dagl_status st = buf ? DAGL_OK : dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory gunzipping", what);
    uint64_t bound = (uint64_t)n * DEFLATE_MAX_RATIO;
    zs.next_in = (unsigned char *)src;
    while (!st) {
        size_t chunk = zs.avail_in == 0 && n > 0 ? (n > UINT_MAX ? UINT_MAX : n) : 0;
        if (chunk) zs.avail_in = (uInt)chunk, n -= chunk;
        if (len == cap && !grow(&buf, &cap, len + 1)) {
            st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory gunzipping (%zu bytes so far)", what, len);
            break;
        }
        size_t room = cap - len > UINT_MAX ? UINT_MAX : cap - len;
        zs.next_out = buf + len, zs.avail_out = (uInt)room;
        int r = inflate(&zs, Z_NO_FLUSH);
        len += room - zs.avail_out;
        if (len > bound) {
            st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: corrupt gzip data (it inflates past deflate's ratio)", what);
        } else if (r == Z_STREAM_END) {
            if (zs.avail_in == 0 && n == 0) break;
            if (inflateReset(&zs) != Z_OK) st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: corrupt gzip data", what);
        } else if (r == Z_DATA_ERROR || r == Z_NEED_DICT) {
            st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: corrupt gzip data (%s)", what, zs.msg ? zs.msg : "bad stream");
        } else if (r == Z_MEM_ERROR) {
            st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory gunzipping", what);
        } else if (r == Z_BUF_ERROR && zs.avail_in == 0 && n == 0 && zs.avail_out > 0) {
            st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: truncated: the gzip stream ends without its trailer", what);
        }
    }
    inflateEnd(&zs);
    if (st) {
        free(buf);
        return st;
    }
    *out = buf, *outlen = len;
    return DAGL_OK;
}

dagl_status dagl__read_file_gz(dagl_ctx *ctx, const char *what, const char *path, unsigned char **buf, size_t *len)
{
    dagl_status st = dagl__read_file(ctx, what, path, buf, len);
    if (st || !is_gzip(*buf, *len)) return st;
    unsigned char *raw = *buf;
    size_t n = *len;
    char w[400];
    snprintf(w, sizeof w, "%s '%s'", what, path);
    st = inflate_all(ctx, w, raw, n, buf, len);
    free(raw);
    if (st) *buf = NULL, *len = 0;
    return st;
}
