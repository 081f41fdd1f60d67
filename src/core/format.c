/* format.c -- tensors as text, exactly as PyTorch prints them (torch/_tensor_str.py with the
 * default print options: precision 4, threshold 1000, edgeitems 3, linewidth 80), except that a
 * dtype suffix reads "dtype=float64" (or uint8) rather than "dtype=torch.float64". */
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRECISION 4
#define THRESHOLD 1000
#define EDGEITEMS 3
#define LINEWIDTH 80

/* A growing string; `oom` sticks once an allocation failed. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

/* Appends n bytes, growing geometrically. */
static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* sb_put for NUL-terminated pieces (brackets, separators, formatted values). */
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* Repeats one character: indentation of nested rows and padding of values to the column width. */
static void sb_chars(sbuf *b, char c, int count)
{
    for (int i = 0; i < count; i++) sb_put(b, &c, 1);
}

/* How every element is written: PyTorch's _Formatter state. */
typedef struct fmt {
    int floating;  /* f32/f64 */
    int int_mode;  /* every finite nonzero value is an integer: "3." */
    int sci_mode;  /* "1.2346e+05" */
    int max_width; /* column width */
    /* statistics gathered in the first pass */
    int have;      /* seen a finite nonzero value */
    double amin, amax;
} fmt;

/* Value of the element at a full index, through the strides (views print like copies). */
static double elem(const dagl_tensor *t, const int64_t *idx)
{
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++) off += idx[d] * t->strides[d];
    return dagl__load(t->dtype, t->data + off * (int64_t)dagl_dtype_size(t->dtype));
}

/* An integer element read exactly: going through elem's double would round int64 values beyond 2^53. */
static int64_t elem_i64(const dagl_tensor *t, const int64_t *idx)
{
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++) off += idx[d] * t->strides[d];
    if (t->dtype == DAGL_U8) return ((const uint8_t *)t->data)[off];
    return ((const int64_t *)t->data)[off];
}

/* Writes one value as the formatter says, without padding; returns its length. */
static int fmt_value(const fmt *f, const dagl_tensor *t, const int64_t *idx, char *buf, size_t size)
{
    if (!f->floating) return snprintf(buf, size, "%lld", (long long)elem_i64(t, idx));
    double v = elem(t, idx);
    if (isnan(v)) return snprintf(buf, size, "nan"); /* C may write "-nan"; Python never does */
    if (f->sci_mode) return snprintf(buf, size, "%.*e", PRECISION, v);
    if (f->int_mode) return snprintf(buf, size, isinf(v) ? "%.0f" : "%.0f.", v);
    return snprintf(buf, size, "%.*f", PRECISION, v);
}

/* Range of positions printed along a dim: all, or the first and last EDGEITEMS when summarizing. */
static int64_t shown_count(int64_t n, int summarize) { return summarize && n > 2 * EDGEITEMS ? 2 * EDGEITEMS : n; }
/* The index along the dim of the k-th position printed: when summarizing, those past the first
 * EDGEITEMS come from the end. */
static int64_t shown_index(int64_t k, int64_t n, int summarize)
{
    return summarize && n > 2 * EDGEITEMS && k >= EDGEITEMS ? n - 2 * EDGEITEMS + k : k;
}

/* Visits every element that will be printed (get_summarized_data), in two passes: pass 0
 * gathers the float statistics, pass 1 measures widths. */
static void scan(fmt *f, const dagl_tensor *t, int64_t *idx, int d, int summarize, int pass)
{
    if (d == t->ndim) {
        char buf[64];
        if (!f->floating) {
            int w = fmt_value(f, t, idx, buf, sizeof buf);
            if (w > f->max_width) f->max_width = w;
            return;
        }
        double v = elem(t, idx);
        if (!isfinite(v) || v == 0) return;
        if (pass == 0) {
            double a = fabs(v);
            if (!f->have || a < f->amin) f->amin = a;
            if (!f->have || a > f->amax) f->amax = a;
            f->have = 1;
            if (v != ceil(v)) f->int_mode = 0;
        } else {
            int w = fmt_value(f, t, idx, buf, sizeof buf);
            if (w > f->max_width) f->max_width = w;
        }
        return;
    }
    int64_t n = t->shape[d], m = shown_count(n, summarize);
    for (int64_t k = 0; k < m; k++) {
        idx[d] = shown_index(k, n, summarize);
        scan(f, t, idx, d + 1, summarize, pass);
    }
}

/* Decides int/fixed/scientific notation and the column width, as PyTorch's _Formatter does. */
static void fmt_init(fmt *f, const dagl_tensor *t, int summarize)
{
    int64_t idx[DAGL_MAX_DIMS] = {0};
    memset(f, 0, sizeof *f);
    f->floating = t->dtype == DAGL_F32 || t->dtype == DAGL_F64;
    f->int_mode = 1;
    f->max_width = 1;
    if (!f->floating) {
        scan(f, t, idx, 0, summarize, 1);
        return;
    }
    scan(f, t, idx, 0, summarize, 0);
    if (!f->have) return;
    if (f->amax / f->amin > 1000.0 || f->amax > 1.0e8 || (!f->int_mode && f->amin < 1.0e-4))
        f->sci_mode = 1;
    /* widths count only finite nonzero values; int mode's "%.0f" plus the dot is what
     * fmt_value writes */
    scan(f, t, idx, 0, summarize, 1);
}

/* Writes one element padded on the left to the column width. */
static void put_elem(sbuf *b, const fmt *f, const dagl_tensor *t, const int64_t *idx)
{
    char buf[64];
    int w = fmt_value(f, t, idx, buf, sizeof buf);
    sb_chars(b, ' ', f->max_width - w);
    sb_str(b, buf);
}

/* The last dim: elements joined by ", ", wrapped to LINEWIDTH (PyTorch's _vector_str). */
static void put_vector(sbuf *b, const fmt *f, const dagl_tensor *t, int64_t *idx, int indent, int summarize)
{
    int d = t->ndim - 1;
    int64_t n = t->shape[d];
    int64_t per_line = (LINEWIDTH - indent) / (f->max_width + 2);
    if (per_line < 1) per_line = 1;
    int elided = summarize && n > 2 * EDGEITEMS;
    int64_t items = elided ? 2 * EDGEITEMS + 1 : n; /* the " ..." counts as an item */
    sb_str(b, "[");
    for (int64_t k = 0; k < items; k++) {
        if (k > 0) {
            if (k % per_line == 0) {
                sb_str(b, ",\n");
                sb_chars(b, ' ', indent + 1);
            } else {
                sb_str(b, ", ");
            }
        }
        if (elided && k == EDGEITEMS) {
            sb_str(b, " ...");
            continue;
        }
        idx[d] = elided && k > EDGEITEMS ? n - (items - k) : k;
        put_elem(b, f, t, idx);
    }
    sb_str(b, "]");
}

/* Dims d.. of the tensor, nested brackets; rows of a k-dim block are separated by k-1 blank
 * lines' worth of newlines (PyTorch's _tensor_str_with_formatter). */
static void put_block(sbuf *b, const fmt *f, const dagl_tensor *t, int64_t *idx, int d, int indent,
                      int summarize)
{
    if (d == t->ndim - 1) {
        put_vector(b, f, t, idx, indent, summarize);
        return;
    }
    int64_t n = t->shape[d];
    int elided = summarize && n > 2 * EDGEITEMS;
    int64_t items = elided ? 2 * EDGEITEMS + 1 : n;
    sb_str(b, "[");
    for (int64_t k = 0; k < items; k++) {
        if (k > 0) {
            sb_str(b, ",");
            sb_chars(b, '\n', t->ndim - d - 1);
            sb_chars(b, ' ', indent + 1);
        }
        if (elided && k == EDGEITEMS) {
            sb_str(b, "...");
            continue;
        }
        idx[d] = elided && k > EDGEITEMS ? n - (items - k) : k;
        put_block(b, f, t, idx, d + 1, indent + 1, summarize);
    }
    sb_str(b, "]");
}

/* Appends ", suffix" or, past LINEWIDTH, ",\n" + indent + suffix (PyTorch's _add_suffixes). */
static void put_suffixes(sbuf *b, const char *const *suffixes, int count, int indent)
{
    if (b->oom) return;
    const char *nl = strrchr(b->p, '\n');
    long last_line_len = (long)b->n - (nl ? (long)(nl - b->p) : -1) + 1;
    for (int i = 0; i < count; i++) {
        long len = (long)strlen(suffixes[i]);
        if (last_line_len + len + 2 > LINEWIDTH) {
            sb_str(b, ",\n");
            sb_chars(b, ' ', indent);
            last_line_len = indent + len;
        } else {
            sb_str(b, ", ");
            last_line_len += len + 2;
        }
        sb_str(b, suffixes[i]);
    }
    sb_str(b, ")");
}

/* The text of __tostring and of dagl's printing: "tensor([[1., 2.],\n        [3., 4.]])". */
char *dagl_tensor_format(const dagl_tensor *t)
{
    if (!t) return NULL;
    sbuf b = {0};
    const char *prefix = "tensor(";
    int indent = (int)strlen(prefix);
    const char *suffixes[2];
    int ns = 0;
    char size_str[32 + DAGL_MAX_DIMS * 24];
    char dtype_str[32];
    snprintf(dtype_str, sizeof dtype_str, "dtype=%s", dagl_dtype_name(t->dtype));
    sb_str(&b, prefix);
    if (t->numel == 0) {
        /* nothing to infer the dtype from, so even int64 says it; shapes other than (0,) too */
        if (t->ndim != 1) {
            size_t n = (size_t)snprintf(size_str, sizeof size_str, "size=(");
            for (int d = 0; d < t->ndim; d++)
                n += (size_t)snprintf(size_str + n, sizeof size_str - n, d ? ", %lld" : "%lld",
                                      (long long)t->shape[d]);
            snprintf(size_str + n, sizeof size_str - n, ")");
            suffixes[ns++] = size_str;
        }
        if (t->dtype != DAGL_F32) suffixes[ns++] = dtype_str;
        sb_str(&b, "[]");
    } else {
        int summarize = t->numel > THRESHOLD;
        int64_t idx[DAGL_MAX_DIMS] = {0};
        fmt f;
        fmt_init(&f, t, summarize);
        if (t->dtype == DAGL_F64 || t->dtype == DAGL_U8) suffixes[ns++] = dtype_str; /* as PyTorch says torch.uint8 */
        if (t->ndim == 0) put_elem(&b, &f, t, idx);
        else put_block(&b, &f, t, idx, 0, indent, summarize);
    }
    put_suffixes(&b, suffixes, ns, indent);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
