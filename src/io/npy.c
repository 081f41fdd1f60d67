/* npy.c -- NumPy's .npy format: magic, version, a Python-dict header ({'descr': '<f4',
 * 'fortran_order': False, 'shape': (2, 3), }) padded to 64 bytes, then C-order data. The header
 * is parsed by a small strict reader bounded by its length. */
#include "io/io.h"

#include <stdlib.h>
#include <string.h>

#define WHAT_SIZE 400
/* NumPy headers are a few hundred bytes; longer ones are refused before allocating. */
#define NPY_MAX_HEADER (1 << 20)

static const struct { const char *descr; dagl_elem elem; } npy_types[] = {
    {"<f4", DAGL_ELEM_F4}, {"<f8", DAGL_ELEM_F8}, {"<i8", DAGL_ELEM_I8}, {"|u1", DAGL_ELEM_U1},
    {"<i4", DAGL_ELEM_I4}, {"|b1", DAGL_ELEM_B1},
};

typedef struct hdr {
    const char *s, *end;
    char descr[32];
    int fortran, have_descr, have_fortran, have_shape, ndim;
    int64_t shape[DAGL_MAX_DIMS];
} hdr;

/* Skips whitespace in the header dict, never past its end. */
static void ws(hdr *h)
{
    while (h->s < h->end && (*h->s == ' ' || *h->s == '\t' || *h->s == '\n' || *h->s == '\r')) h->s++;
}

/* Consumes c after optional whitespace; 1 when it was there, so callers can try alternatives. */
static int eat(hdr *h, char c)
{
    ws(h);
    if (h->s < h->end && *h->s == c) { h->s++; return 1; }
    return 0;
}

/* A quoted Python string without escapes (what NumPy writes), into buf. */
static const char *pystr(hdr *h, char *buf, size_t size)
{
    ws(h);
    if (h->s >= h->end || (*h->s != '\'' && *h->s != '"')) return "a quoted string expected";
    char q = *h->s++;
    size_t n = 0;
    while (h->s < h->end && *h->s != q) {
        if (*h->s == '\\') return "escapes in header strings are not supported";
        if (n + 1 >= size) return "header string too long";
        buf[n++] = *h->s++;
    }
    if (h->s >= h->end) return "unterminated string in header";
    h->s++;
    buf[n] = '\0';
    return NULL;
}

/* The shape tuple: (), (5,), (2, 3). */
static const char *pytuple(hdr *h)
{
    if (!eat(h, '(')) return "'shape' is not a tuple";
    h->ndim = 0;
    for (;;) {
        if (eat(h, ')')) return NULL;
        ws(h);
        if (h->s >= h->end || *h->s < '0' || *h->s > '9') return "'shape' holds something other than integers";
        if (h->ndim == DAGL_MAX_DIMS) return "'shape' has more than 8 dimensions";
        int64_t v = 0;
        while (h->s < h->end && *h->s >= '0' && *h->s <= '9') {
            if (v > (INT64_MAX - 9) / 10) return "'shape' entry too large";
            v = v * 10 + (*h->s++ - '0');
        }
        if (h->s < h->end && *h->s == 'L') h->s++; /* Python 2 longs */
        h->shape[h->ndim++] = v;
        if (eat(h, ',')) continue;
        if (eat(h, ')')) return h->ndim == 1 ? "a 1-tuple needs a trailing comma" : NULL;
        return "',' or ')' expected in 'shape'";
    }
}

/* The value of 'fortran_order': Python's True or False. */
static const char *pybool(hdr *h, int *v)
{
    ws(h);
    if (h->end - h->s >= 4 && memcmp(h->s, "True", 4) == 0) { h->s += 4; *v = 1; return NULL; }
    if (h->end - h->s >= 5 && memcmp(h->s, "False", 5) == 0) { h->s += 5; *v = 0; return NULL; }
    return "'fortran_order' is not True or False";
}

/* Parses the header dict; returns NULL or what is wrong. */
static const char *parse_dict(hdr *h)
{
    if (!eat(h, '{')) return "the header is not a dict";
    for (;;) {
        if (eat(h, '}')) break;
        char key[32];
        const char *e = pystr(h, key, sizeof key);
        if (e) return e;
        if (!eat(h, ':')) return "':' expected after a key";
        if (strcmp(key, "descr") == 0) { e = pystr(h, h->descr, sizeof h->descr); h->have_descr = 1; }
        else if (strcmp(key, "fortran_order") == 0) { e = pybool(h, &h->fortran); h->have_fortran = 1; }
        else if (strcmp(key, "shape") == 0) { e = pytuple(h); h->have_shape = 1; }
        else return "unknown key in the header (only descr, fortran_order, shape)";
        if (e) return e;
        if (eat(h, ',')) continue;
        if (eat(h, '}')) break;
        return "',' or '}' expected";
    }
    ws(h);
    if (h->s != h->end) return "text after the header dict";
    if (!h->have_descr || !h->have_fortran || !h->have_shape) return "the header lacks descr, fortran_order or shape";
    return NULL;
}

/* What an .npy header says: the element type, the shape and where the data starts. */
typedef struct npy_info {
    dagl_elem elem;
    int ndim;
    int64_t shape[DAGL_MAX_DIMS];
    size_t data_off;
} npy_info;

/* Where the header dict ends (magic, version and length checked); buf holds the first
 * min(len of the image, 12) bytes. */
static dagl_status npy_header_end(dagl_ctx *ctx, const char *what, const unsigned char *buf, size_t len,
                                  size_t *hstart, size_t *hend)
{
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", what);
    int major = buf[6];
    size_t hlen;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        *hstart = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: truncated header", what);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        *hstart = 12;
    } else {
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: unknown .npy format version %d.%d", what, major, buf[7]);
    }
    if (hlen > NPY_MAX_HEADER)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: header length %zu is implausibly large", what, hlen);
    *hend = *hstart + hlen;
    return DAGL_OK;
}

/* Parses the header in buf[0, hend), which holds it whole. */
static dagl_status npy_header(dagl_ctx *ctx, const char *what, const unsigned char *buf, size_t hstart, size_t hend,
                              npy_info *info)
{
    hdr h = {.s = (const char *)buf + hstart, .end = (const char *)buf + hend};
    const char *e = parse_dict(&h);
    if (e) return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: bad header: %s", what, e);
    if (h.fortran)
        return dagl_ctx_set_error(ctx, DAGL_E_LAYOUT,
                                  "%s: fortran_order is True (save a C-order array: np.ascontiguousarray)", what);
    int k = -1;
    for (int i = 0; i < (int)(sizeof npy_types / sizeof npy_types[0]); i++)
        if (strcmp(h.descr, npy_types[i].descr) == 0) k = i;
    if (k < 0)
        return dagl_ctx_set_error(ctx, DAGL_E_DTYPE,
                                  "%s: dtype '%s' is not supported (<f4, <f8, <i8, |u1, <i4, |b1; little-endian)", what,
                                  h.descr);
    info->elem = npy_types[k].elem;
    info->ndim = h.ndim;
    memcpy(info->shape, h.shape, sizeof h.shape);
    info->data_off = hend;
    return DAGL_OK;
}

/* The header from src (its first 12 bytes, then the rest of the dict), then the data. */
dagl_status dagl__npy_from_src(dagl_ctx *ctx, dagl_src *src, dagl_tensor **out)
{
    *out = NULL;
    const char *what = src->what;
    unsigned char pre[12], *head = NULL;
    size_t npre = src->left < sizeof pre ? (size_t)src->left : sizeof pre, hstart = 0, hend = 0;
    npy_info info;
    dagl_status st = src->read(ctx, src, pre, npre);
    if (!st) st = npy_header_end(ctx, what, pre, npre, &hstart, &hend);
    if (!st && hend > npre && hend - npre > src->left)
        st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: header length %zu exceeds the file (%llu bytes; truncated?)",
                                what, hend - hstart, (unsigned long long)(src->left + npre));
    if (!st && !(head = malloc(hend > npre ? hend : npre)))
        st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory", what);
    if (!st) {
        memcpy(head, pre, npre);
        if (hend > npre) st = src->read(ctx, src, head + npre, hend - npre);
    }
    if (!st && hend < npre) st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: bad header: it is too short", what);
    if (!st) st = npy_header(ctx, what, head, hstart, hend, &info);
    free(head);
    if (!st) st = dagl__tensor_from_src(ctx, src, info.elem, info.ndim, info.shape, out);
    return st;
}

/* Reads the header, then the data straight into the tensor: one read of the file. */
dagl_status dagl_npy_read(dagl_ctx *ctx, const char *path, dagl_tensor **out)
{
    *out = NULL;
    char what[WHAT_SIZE];
    snprintf(what, sizeof what, "load_npy '%s'", path);
    dagl_rfile r;
    dagl_status st = dagl__ropen(ctx, "load_npy", path, &r);
    if (st) return st;
    dagl_file_src fs;
    dagl__file_src(&fs, what, &r, 0, UINT64_MAX);
    st = dagl__npy_from_src(ctx, &fs.s, out);
    dagl__rclose(&r);
    return st;
}

dagl_status dagl_npy_write(dagl_ctx *ctx, const char *path, const dagl_tensor *t)
{
    static const char *descr[] = {"<f4", "<f8", "<i8", "|u1"};
    _Static_assert(sizeof descr / sizeof *descr == DAGL_DTYPE_COUNT, "one .npy descr per dtype");
    char h[256];
    int n = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr[dagl_tensor_dtype(t)]);
    for (int i = 0; i < dagl_tensor_ndim(t); i++)
        n += snprintf(h + n, sizeof h - (size_t)n, "%lld,%s", (long long)dagl_tensor_shape(t)[i],
                      dagl_tensor_ndim(t) > 1 && i + 1 < dagl_tensor_ndim(t) ? " " : "");
    if (dagl_tensor_ndim(t) > 1) n--; /* "(2, 3)" not "(2, 3,)" */
    n += snprintf(h + n, sizeof h - (size_t)n, "), }");
    /* pad with spaces and a newline so magic + length + header is a multiple of 64 */
    while ((10 + n + 1) % 64) h[n++] = ' ';
    h[n++] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(n & 0xFF), (unsigned char)(n >> 8)};
    dagl_wfile w;
    dagl_status st = dagl__wopen(ctx, "save_npy", path, &w);
    if (st) return st;
    dagl__wwrite(&w, pre, sizeof pre);
    dagl__wwrite(&w, h, (size_t)n);
    dagl__wwrite_tensor(ctx, &w, t);
    return dagl__wclose(ctx, &w);
}
