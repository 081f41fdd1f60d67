/* io_util.c -- file reading, crash-safe writing and element conversion shared by the readers
 * and writers of src/io/. */
#include "io/io.h"

#include <errno.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

/* What each file encoding is: its size, the dtype it loads as, and how (see dagl_elem). */
enum { AS_STORED, SWAPPED, WIDENED };
static const struct { unsigned char size; dagl_dtype dtype; unsigned char how; } elems[] = {
    [DAGL_ELEM_F4] = {4, DAGL_F32, AS_STORED}, [DAGL_ELEM_F8] = {8, DAGL_F64, AS_STORED},
    [DAGL_ELEM_I8] = {8, DAGL_I64, AS_STORED}, [DAGL_ELEM_U1] = {1, DAGL_U8, AS_STORED},
    [DAGL_ELEM_F4_BE] = {4, DAGL_F32, SWAPPED}, [DAGL_ELEM_F8_BE] = {8, DAGL_F64, SWAPPED},
    [DAGL_ELEM_I4] = {4, DAGL_I64, WIDENED},   [DAGL_ELEM_B1] = {1, DAGL_I64, WIDENED},
    [DAGL_ELEM_I1] = {1, DAGL_I64, WIDENED},   [DAGL_ELEM_I2_BE] = {2, DAGL_I64, WIDENED},
    [DAGL_ELEM_I4_BE] = {4, DAGL_I64, WIDENED},
};

/* Bytes per element of a file encoding, for the size checks made before anything is read. */
size_t dagl__elem_size(dagl_elem e) { return elems[e].size; }

dagl_dtype dagl__elem_dtype(dagl_elem e) { return elems[e].dtype; }

/* Opens a file for a reader and records its size, so every later read is checked against the
 * real length; anything but a regular file is refused. */
dagl_status dagl__ropen(dagl_ctx *ctx, const char *what, const char *path, dagl_rfile *r)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->f = fopen(path, "rb");
    if (!r->f) return dagl_ctx_set_error(ctx, DAGL_E_IO, "%s: cannot open '%s': %s", what, path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(r->f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        dagl__rclose(r);
        return dagl_ctx_set_error(ctx, DAGL_E_IO, "%s: '%s' is not a regular file", what, path);
    }
    r->size = (uint64_t)sb.st_size;
    return DAGL_OK;
}

/* Closes a reader's file; harmless when already closed, so error paths can call it freely. */
void dagl__rclose(dagl_rfile *r)
{
    if (r->f) fclose(r->f);
    r->f = NULL;
}

dagl_status dagl__rread(dagl_ctx *ctx, const char *what, dagl_rfile *r, uint64_t off, void *dst, size_t n)
{
    if (off > r->size || n > r->size - off)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: bytes %llu..%llu lie past the end of the file (%llu bytes; "
                                  "truncated?)", what, (unsigned long long)off, (unsigned long long)(off + n),
                                  (unsigned long long)r->size);
    if (n == 0) return DAGL_OK;
    if (fseeko(r->f, (off_t)off, SEEK_SET) != 0 || fread(dst, 1, n, r->f) != n)
        return dagl_ctx_set_error(ctx, DAGL_E_IO, "%s: error reading '%s'", what, r->path);
    return DAGL_OK;
}

dagl_status dagl__read_file(dagl_ctx *ctx, const char *what, const char *path, unsigned char **buf,
                            size_t *len)
{
    *buf = NULL;
    *len = 0;
    dagl_rfile r;
    dagl_status st = dagl__ropen(ctx, what, path, &r);
    if (st) return st;
    unsigned char *b = r.size < SIZE_MAX ? malloc(r.size ? (size_t)r.size : 1) : NULL;
    if (!b) {
        dagl__rclose(&r);
        return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: '%s' (%llu bytes) does not fit in memory", what, path,
                                  (unsigned long long)r.size);
    }
    st = dagl__rread(ctx, what, &r, 0, b, (size_t)r.size);
    dagl__rclose(&r);
    if (st) {
        free(b);
        return st;
    }
    *buf = b;
    *len = (size_t)r.size;
    return DAGL_OK;
}

dagl_status dagl__file_shape(dagl_ctx *ctx, const char *what, int ndim, const int64_t *shape,
                             size_t elem_size, size_t *nbytes)
{
    char b[200];
    if (ndim < 0 || ndim > DAGL_MAX_DIMS)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: %d dimensions (dagl takes at most %d)", what, ndim,
                                  DAGL_MAX_DIMS);
    uint64_t n = elem_size;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: negative size in shape %s", what,
                                      dagl_shape_str(ndim, shape, b, sizeof b));
        if (shape[i] && n > (uint64_t)(INT64_MAX / 16) / (uint64_t)shape[i])
            return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: shape %s is too large", what,
                                      dagl_shape_str(ndim, shape, b, sizeof b));
        n *= (uint64_t)shape[i];
    }
    if (n > SIZE_MAX) return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: shape too large", what);
    *nbytes = (size_t)n;
    return DAGL_OK;
}

/* Widens one integer-like element to int64. */
static int64_t load_int(dagl_elem e, const unsigned char *p)
{
    int32_t i4;
    switch (e) {
    case DAGL_ELEM_I4: memcpy(&i4, p, 4); return i4;
    case DAGL_ELEM_I1: return (int8_t)p[0];
    case DAGL_ELEM_I2_BE: return (int16_t)(uint16_t)((unsigned)p[0] << 8 | p[1]);
    case DAGL_ELEM_I4_BE: return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    default: return *p != 0; /* bool */
    }
}

/* Big-endian elements of `size` bytes turned around in place (n of them). */
static void swap_bytes(char *p, int64_t n, size_t size)
{
    for (int64_t i = 0; i < n; i++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            char c = p[a];
            p[a] = p[b];
            p[b] = c;
        }
}

dagl_status dagl__tensor_from_src(dagl_ctx *ctx, dagl_src *src, dagl_elem e, int ndim, const int64_t *shape,
                                  dagl_tensor **out)
{
    *out = NULL;
    size_t nbytes;
    char sb[160];
    dagl_status st = dagl__file_shape(ctx, src->what, ndim, shape, elems[e].size, &nbytes);
    if (st) return st;
    if (nbytes > src->left) /* checked before allocating anything */
        return src->exact
                   ? dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "%s: truncated data: %llu bytes for shape %s, which needs %zu",
                                        src->what, (unsigned long long)src->left,
                                        dagl_shape_str(ndim, shape, sb, sizeof sb), nbytes)
                   : dagl_ctx_set_error(ctx, DAGL_E_FORMAT,
                                        "%s: shape %s needs %zu bytes of data, more than the file can hold "
                                        "(at most %llu; corrupt or truncated?)",
                                        src->what, dagl_shape_str(ndim, shape, sb, sizeof sb), nbytes,
                                        (unsigned long long)src->left);
    if ((st = dagl_tensor_new(ctx, elems[e].dtype, ndim, shape, out))) return st;
    char *dst = dagl_tensor_data(*out);
    int64_t n = dagl_tensor_numel(*out);
    if (elems[e].how != WIDENED) {
        if (!(st = src->read(ctx, src, dst, nbytes)) && elems[e].how == SWAPPED) swap_bytes(dst, n, elems[e].size);
    } else {
        unsigned char *tmp = malloc(nbytes ? nbytes : 1);
        if (!tmp) st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory", src->what);
        if (!st) st = src->read(ctx, src, tmp, nbytes);
        for (int64_t i = 0; !st && i < n; i++) ((int64_t *)(void *)dst)[i] = load_int(e, tmp + (size_t)i * elems[e].size);
        free(tmp);
    }
    if (st) {
        dagl_tensor_release(*out);
        *out = NULL;
    }
    return st;
}

/* The file source's read: the next n bytes of its region, every read checked against the file. */
static dagl_status file_src_read(dagl_ctx *ctx, dagl_src *s, void *dst, size_t n)
{
    dagl_file_src *fs = (dagl_file_src *)s;
    dagl_status st = dagl__rread(ctx, s->what, fs->r, fs->pos, dst, n);
    if (st) return st;
    fs->pos += n;
    s->left -= n < s->left ? n : s->left;
    return DAGL_OK;
}

void dagl__file_src(dagl_file_src *fs, const char *what, dagl_rfile *r, uint64_t off, uint64_t len)
{
    uint64_t avail = off < r->size ? r->size - off : 0;
    fs->s = (dagl_src){file_src_read, what, len < avail ? len : avail, 1};
    fs->r = r;
    fs->pos = off;
}

dagl_status dagl__tensor_from_file(dagl_ctx *ctx, const char *what, dagl_rfile *r, uint64_t off, dagl_elem e,
                                   int ndim, const int64_t *shape, dagl_tensor **out)
{
    dagl_file_src fs;
    dagl__file_src(&fs, what, r, off, UINT64_MAX);
    return dagl__tensor_from_src(ctx, &fs.s, e, ndim, shape, out);
}

/* Starts a crash-safe write: everything goes to `path.tmp` until dagl__wclose renames it over path. */
dagl_status dagl__wopen(dagl_ctx *ctx, const char *what, const char *path, dagl_wfile *w)
{
    memset(w, 0, sizeof *w);
    w->path = path;
    w->what = what;
    size_t n = strlen(path);
    w->tmp = malloc(n + 5);
    if (!w->tmp) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory", what);
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".tmp", 5);
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        dagl_status st = dagl_ctx_set_error(ctx, DAGL_E_IO, "%s: cannot create '%s': %s", what, w->tmp,
                                            strerror(errno));
        free(w->tmp);
        w->tmp = NULL;
        return st;
    }
    return DAGL_OK;
}

/* Appends bytes, keeping the first error instead of returning it, so writers check once, at close. */
void dagl__wwrite(dagl_wfile *w, const void *p, size_t n)
{
    if (w->failed || n == 0) return;
    if (fwrite(p, 1, n, w->f) != n) w->failed = errno ? errno : EIO;
}

void dagl__wwrite_tensor(dagl_ctx *ctx, dagl_wfile *w, const dagl_tensor *t)
{
    size_t bytes = (size_t)dagl_tensor_numel(t) * dagl_dtype_size(dagl_tensor_dtype(t));
    if (dagl_tensor_is_contiguous(t)) {
        dagl__wwrite(w, dagl_tensor_data(t), bytes);
        return;
    }
    dagl_tensor *c;
    if (dagl_clone(ctx, t, &c) != DAGL_OK) {
        w->failed = ENOMEM;
        return;
    }
    dagl__wwrite(w, dagl_tensor_data(c), bytes);
    dagl_tensor_release(c);
}

/* Finishes a write: renames path.tmp over path when every write succeeded, else removes it and
 * reports the first error. */
dagl_status dagl__wclose(dagl_ctx *ctx, dagl_wfile *w)
{
    dagl_status st = DAGL_OK;
    if (fclose(w->f) != 0 && !w->failed) w->failed = errno ? errno : EIO;
    if (w->failed) {
        st = dagl_ctx_set_error(ctx, DAGL_E_IO, "%s: error writing '%s': %s", w->what, w->tmp, strerror(w->failed));
        remove(w->tmp);
    } else if (rename(w->tmp, w->path) != 0) {
        st = dagl_ctx_set_error(ctx, DAGL_E_IO, "%s: cannot rename '%s' to '%s': %s", w->what, w->tmp, w->path,
                                strerror(errno));
        remove(w->tmp);
    }
    free(w->tmp);
    memset(w, 0, sizeof *w);
    return st;
}

/* Grows the dict's two parallel arrays for one more entry: capacities 4, 8, 16, ... so they
 * are full exactly when n is 0 or a power of two from 4 on. */
static int dict_grow(char ***a, void *b, size_t bsize, int n)
{
    if (n != 0 && (n < 4 || (n & (n - 1)) != 0)) return 0;
    int cap = n ? n * 2 : 4;
    char **na = realloc(*a, (size_t)cap * sizeof *na);
    if (!na) return -1;
    *a = na;
    void **bp = b;
    void *nb = realloc(*bp, (size_t)cap * bsize);
    if (!nb) return -1;
    *bp = nb;
    return 0;
}

/* A malloc'ed, NUL-terminated copy of n bytes (names in file headers are not terminated). */
static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

dagl_status dagl__dict_add(dagl_ctx *ctx, dagl_tensor_dict *d, const char *name, size_t name_len,
                           dagl_tensor *t)
{
    char *nm = dup_n(name, name_len);
    if (!nm || dict_grow(&d->names, &d->tensors, sizeof(dagl_tensor *), d->n)) {
        free(nm);
        dagl_tensor_release(t);
        return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "out of memory reading tensors");
    }
    d->names[d->n] = nm;
    d->tensors[d->n++] = t;
    return DAGL_OK;
}

/* Appends one metadata pair to a dict, both strings copied (the safetensors reader's __metadata__). */
dagl_status dagl__dict_add_meta(dagl_ctx *ctx, dagl_tensor_dict *d, const char *key, const char *value)
{
    char *k = dup_n(key, strlen(key)), *v = dup_n(value, strlen(value));
    if (!k || !v || dict_grow(&d->meta_keys, &d->meta_values, sizeof(char *), d->nmeta)) {
        free(k);
        free(v);
        return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "out of memory reading metadata");
    }
    d->meta_keys[d->nmeta] = k;
    d->meta_values[d->nmeta++] = v;
    return DAGL_OK;
}

void dagl_tensor_dict_clear(dagl_tensor_dict *d)
{
    if (!d) return;
    for (int i = 0; i < d->n; i++) {
        free(d->names[i]);
        dagl_tensor_release(d->tensors[i]);
    }
    for (int i = 0; i < d->nmeta; i++) {
        free(d->meta_keys[i]);
        free(d->meta_values[i]);
    }
    free(d->names);
    free(d->tensors);
    free(d->meta_keys);
    free(d->meta_values);
    memset(d, 0, sizeof *d);
}

void dagl_strings_free(char **s, int n)
{
    if (!s) return;
    for (int i = 0; i < n; i++) free(s[i]);
    free(s);
}
