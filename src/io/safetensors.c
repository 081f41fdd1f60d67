/* safetensors.c -- the safetensors format (8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and byte range, then the data): strict reading with every
 * offset checked against the file, and writing that other tools read (sorted keys, contiguous
 * data, header padded with spaces to 8 bytes). */
#include "io/io.h"
#include "io/json.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define WHAT_SIZE 400
/* Headers past this size are refused before anything is allocated (as the reference reader does). */
#define SAFETENSORS_MAX_HEADER (100 << 20)

static const struct { const char *name; dagl_elem elem; } st_dtypes[] = {
    {"F32", DAGL_ELEM_F4}, {"F64", DAGL_ELEM_F8}, {"I64", DAGL_ELEM_I8},
    {"I32", DAGL_ELEM_I4}, {"U8", DAGL_ELEM_U1}, {"BOOL", DAGL_ELEM_B1},
};

/* Reads one tensor entry {"dtype", "shape", "data_offsets"}; the data part of the file is the
 * data_len bytes from data_start. */
static dagl_status read_entry(dagl_ctx *ctx, const char *what, const dagl_json *e, dagl_rfile *r,
                              uint64_t data_start, uint64_t data_len, dagl_tensor **out)
{
    if (e->type != DAGL_JSON_OBJECT)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: the entry is not a JSON object", what);
    const dagl_json *dt = dagl__json_get(e, "dtype"), *sh = dagl__json_get(e, "shape"),
                    *off = dagl__json_get(e, "data_offsets");
    if (!dt || dt->type != DAGL_JSON_STRING)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: \"dtype\" missing or not a string", what);
    int k = -1;
    for (int i = 0; i < (int)(sizeof st_dtypes / sizeof st_dtypes[0]); i++)
        if (strcmp(dt->str, st_dtypes[i].name) == 0) k = i;
    if (k < 0)
        return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "%s: dtype \"%s\" is not supported (F32, F64, I64, I32, U8, BOOL)",
                                  what, dt->str);
    if (!sh || sh->type != DAGL_JSON_ARRAY)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: \"shape\" missing or not an array", what);
    if (sh->n > DAGL_MAX_DIMS)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: shape has %d dimensions (dagl takes at most %d)", what,
                                  sh->n, DAGL_MAX_DIMS);
    int64_t shape[DAGL_MAX_DIMS];
    for (int i = 0; i < sh->n; i++) {
        if (sh->items[i].type != DAGL_JSON_NUMBER || !sh->items[i].is_int || sh->items[i].integer < 0)
            return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: shape entry %d is not a non-negative integer", what, i + 1);
        shape[i] = sh->items[i].integer;
    }
    if (!off || off->type != DAGL_JSON_ARRAY || off->n != 2 || off->items[0].type != DAGL_JSON_NUMBER ||
        off->items[1].type != DAGL_JSON_NUMBER || !off->items[0].is_int || !off->items[1].is_int)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: \"data_offsets\" must be two integers [begin, end]", what);
    int64_t b = off->items[0].integer, en = off->items[1].integer;
    if (b < 0 || en < b || (uint64_t)en > data_len)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT,
                                  "%s: data_offsets [%lld, %lld] lie outside the data (%zu bytes after the header; "
                                  "truncated file?)", what, (long long)b, (long long)en, (size_t)data_len);
    size_t nbytes;
    dagl_status st = dagl__file_shape(ctx, what, sh->n, shape, dagl__elem_size(st_dtypes[k].elem), &nbytes);
    if (st) return st;
    if ((uint64_t)(en - b) != nbytes) {
        char sb[160];
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: data_offsets [%lld, %lld] hold %lld bytes but %s %s needs %zu",
                                  what, (long long)b, (long long)en, (long long)(en - b), dt->str,
                                  dagl_shape_str(sh->n, shape, sb, sizeof sb), nbytes);
    }
    return dagl__tensor_from_file(ctx, what, r, data_start + (uint64_t)b, st_dtypes[k].elem, sh->n, shape, out);
}

/* Fills `d` from the parsed header. */
static dagl_status read_header(dagl_ctx *ctx, const char *path, const dagl_json *h, dagl_rfile *r,
                               uint64_t data_start, dagl_tensor_dict *d)
{
    char what[WHAT_SIZE];
    for (int i = 0; i < h->n; i++) {
        const char *key = h->keys[i];
        const dagl_json *v = &h->items[i];
        dagl_status st;
        if (strcmp(key, "__metadata__") == 0) {
            if (v->type != DAGL_JSON_OBJECT)
                return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "load_safetensors '%s': __metadata__ is not an object", path);
            for (int j = 0; j < v->n; j++) {
                if (v->items[j].type != DAGL_JSON_STRING)
                    return dagl_ctx_set_error(ctx, DAGL_E_FORMAT,
                                              "load_safetensors '%s': __metadata__ entry '%s' is not a string", path,
                                              v->keys[j]);
                if ((st = dagl__dict_add_meta(ctx, d, v->keys[j], v->items[j].str))) return st;
            }
            continue;
        }
        snprintf(what, sizeof what, "load_safetensors '%s': entry '%s'", path, key);
        dagl_tensor *t;
        if ((st = read_entry(ctx, what, v, r, data_start, r->size - data_start, &t))) return st;
        if ((st = dagl__dict_add(ctx, d, key, strlen(key), t))) return st;
    }
    return DAGL_OK;
}

dagl_status dagl_safetensors_read(dagl_ctx *ctx, const char *path, dagl_tensor_dict *out)
{
    memset(out, 0, sizeof *out);
    dagl_rfile r;
    char what[WHAT_SIZE];
    snprintf(what, sizeof what, "load_safetensors '%s'", path);
    dagl_status st = dagl__ropen(ctx, "load_safetensors", path, &r);
    if (st) return st;
    unsigned char len8[8];
    if (r.size < 8) {
        dagl__rclose(&r);
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: the file has %llu bytes, too short for the 8-byte header length",
                                  what, (unsigned long long)r.size);
    }
    uint64_t hlen = 0;
    if (!(st = dagl__rread(ctx, what, &r, 0, len8, 8))) {
        for (int i = 7; i >= 0; i--) hlen = hlen << 8 | len8[i];
        if (hlen > r.size - 8)
            st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: header length %llu exceeds the %llu bytes after it "
                                    "(truncated or not a safetensors file)", what, (unsigned long long)hlen,
                                    (unsigned long long)(r.size - 8));
        else if (hlen > SAFETENSORS_MAX_HEADER)
            st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: header length %llu is over the %d MB limit", what,
                                    (unsigned long long)hlen, SAFETENSORS_MAX_HEADER >> 20);
    }
    char *text = st ? NULL : malloc((size_t)hlen + 1);
    if (!st && !text) st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory", what);
    if (!st) st = dagl__rread(ctx, what, &r, 8, text, (size_t)hlen);
    dagl_json h = {0};
    char err[200];
    if (!st) {
        if (dagl__json_parse(text, (size_t)hlen, &h, err, sizeof err))
            st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: bad JSON header: %s", what, err);
        else if (h.type != DAGL_JSON_OBJECT)
            st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: the header is not a JSON object", what);
        else
            st = read_header(ctx, path, &h, &r, 8 + hlen, out);
    }
    dagl__json_free(&h);
    free(text);
    dagl__rclose(&r);
    if (st) dagl_tensor_dict_clear(out);
    return st;
}

/* ---- writing */

typedef struct sbuf { char *p; size_t n, cap; int oom; } sbuf;

/* Appends to the header being built; a failed allocation sets `oom`, checked once at the end. */
static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = (b->cap ? b->cap * 2 : 256) + n;
        char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* printf into the header, for its short pieces (numbers, dtype names); longer output is cut at 127 bytes. */
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal: quotes, backslashes and control characters escaped. */
static void sb_json_str(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { char e[2] = {'\\', (char)c}; sb_put(b, e, 2); }
        else if (c < 0x20) sb_printf(b, "\\u%04x", c);
        else sb_put(b, s, 1);
    }
    sb_put(b, "\"", 1);
}

typedef struct named { const char *name; int index; } named;
/* qsort order of sort_names: byte order of the names (strcmp). */
static int by_name(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

/* The order of n names sorted by strcmp (names must be non-NULL); returns the index of a name
 * used twice, -1 when all differ, -2 when out of memory. */
static int sort_names(char *const *names, int n, int *order)
{
    named *v = malloc(((size_t)n + 1) * sizeof *v);
    if (!v) return -2;
    for (int i = 0; i < n; i++) v[i] = (named){names[i], i};
    qsort(v, (size_t)n, sizeof *v, by_name);
    int dup = -1;
    for (int i = 0; i < n; i++) {
        order[i] = v[i].index;
        if (i && dup < 0 && strcmp(v[i].name, v[i - 1].name) == 0) dup = v[i].index;
    }
    free(v);
    return dup;
}

/* Checks the entries (valid names, tensors present, no name twice) and sorts tensors and
 * metadata keys, so the same contents always give the same file. */
static dagl_status check_and_sort(dagl_ctx *ctx, const char *path, const dagl_tensor_dict *d, int *order,
                                  int *meta_order)
{
    for (int i = 0; i < d->n; i++) {
        if (!d->names[i] || !d->names[i][0] || strcmp(d->names[i], "__metadata__") == 0)
            return dagl_ctx_set_error(ctx, DAGL_E_ARG, "save_safetensors '%s': tensor %d has an invalid name '%s'",
                                      path, i + 1, d->names[i] ? d->names[i] : "(null)");
        if (!d->tensors[i])
            return dagl_ctx_set_error(ctx, DAGL_E_ARG, "save_safetensors '%s': entry '%s' has no tensor", path,
                                      d->names[i]);
    }
    for (int i = 0; i < d->nmeta; i++)
        if (!d->meta_keys[i] || !d->meta_values[i])
            return dagl_ctx_set_error(ctx, DAGL_E_ARG, "save_safetensors '%s': metadata entry %d is NULL", path, i + 1);
    int dup = sort_names(d->names, d->n, order), mdup = dup == -2 ? -2 : sort_names(d->meta_keys, d->nmeta, meta_order);
    if (dup == -2 || mdup == -2) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "save_safetensors: out of memory");
    if (dup >= 0)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "save_safetensors '%s': the name '%s' is used twice", path,
                                  d->names[dup]);
    if (mdup >= 0)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "save_safetensors '%s': the metadata key '%s' is used twice", path,
                                  d->meta_keys[mdup]);
    return DAGL_OK;
}

/* The JSON header: __metadata__ first, then the tensors in sorted order with consecutive data
 * offsets; padded with spaces to a multiple of 8 bytes so the data after it is 8-byte aligned. */
static void header_json(const dagl_tensor_dict *d, const int *order, const int *meta_order, sbuf *b)
{
    static const char *names[] = {"F32", "F64", "I64", "U8"};
    _Static_assert(sizeof names / sizeof *names == DAGL_DTYPE_COUNT, "one safetensors dtype per dtype");
    sb_put(b, "{", 1);
    int first = 1;
    if (d->nmeta) {
        sb_put(b, "\"__metadata__\":{", 16);
        for (int i = 0; i < d->nmeta; i++) {
            if (i) sb_put(b, ",", 1);
            sb_json_str(b, d->meta_keys[meta_order[i]]);
            sb_put(b, ":", 1);
            sb_json_str(b, d->meta_values[meta_order[i]]);
        }
        sb_put(b, "}", 1);
        first = 0;
    }
    uint64_t off = 0;
    for (int k = 0; k < d->n; k++) {
        const dagl_tensor *t = d->tensors[order[k]];
        if (!first) sb_put(b, ",", 1);
        first = 0;
        sb_json_str(b, d->names[order[k]]);
        sb_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", names[dagl_tensor_dtype(t)]);
        for (int i = 0; i < dagl_tensor_ndim(t); i++) sb_printf(b, i ? ",%lld" : "%lld", (long long)dagl_tensor_shape(t)[i]);
        uint64_t nb = (uint64_t)dagl_tensor_numel(t) * dagl_dtype_size(dagl_tensor_dtype(t));
        sb_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + nb));
        off += nb;
    }
    sb_put(b, "}", 1);
    while (b->n % 8) sb_put(b, " ", 1); /* 8 + header stays 8-byte aligned */
}

dagl_status dagl_safetensors_write(dagl_ctx *ctx, const char *path, const dagl_tensor_dict *d)
{
    int *order = malloc(((size_t)d->n + (size_t)d->nmeta + 1) * sizeof *order), *meta_order = order + d->n;
    if (!order) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "save_safetensors: out of memory");
    dagl_status st = check_and_sort(ctx, path, d, order, meta_order);
    sbuf b = {0};
    if (!st) {
        header_json(d, order, meta_order, &b);
        if (b.oom) st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "save_safetensors: out of memory");
    }
    dagl_wfile w;
    if (!st && !(st = dagl__wopen(ctx, "save_safetensors", path, &w))) {
        unsigned char len8[8];
        for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)b.n >> (8 * i));
        dagl__wwrite(&w, len8, 8);
        dagl__wwrite(&w, b.p, b.n);
        for (int k = 0; k < d->n; k++) dagl__wwrite_tensor(ctx, &w, d->tensors[order[k]]);
        st = dagl__wclose(ctx, &w);
    }
    free(b.p);
    free(order);
    return st;
}
