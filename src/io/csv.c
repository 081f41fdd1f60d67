/* csv.c -- numeric CSV files as float32 (rows, cols) tensors: one delimiter, an optional header
 * row of column names, blank lines skipped, and errors naming the line and column of any field
 * that is not a number. */
#include "io/io.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct fbuf { float *p; size_t n, cap; } fbuf;

/* Appends one parsed value to the buffer of all fields (doubling it when full); -1 when out of memory. */
static int fpush(fbuf *b, float v)
{
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        float *np = realloc(b->p, nc * sizeof *np);
        if (!np) return -1;
        b->p = np;
        b->cap = nc;
    }
    b->p[b->n++] = v;
    return 0;
}

/* The field [s, e) without surrounding blanks (and without one pair of double quotes). */
static void trim(const char **s, const char **e)
{
    while (*s < *e && isspace((unsigned char)**s)) (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1])) (*e)--;
    if (*e - *s >= 2 && **s == '"' && (*e)[-1] == '"') { (*s)++; (*e)--; }
}

/* Whether the line [s, e) holds only whitespace, so blank lines can be skipped. */
static int blank(const char *s, const char *e)
{
    for (; s < e; s++) if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

/* Splits the header line into malloc'ed names. */
static dagl_status header_names(dagl_ctx *ctx, const char *s, const char *e, char delim, char ***names, int *n)
{
    int cap = 8, k = 0;
    char **v = malloc((size_t)cap * sizeof *v);
    for (const char *f = s; v;) {
        const char *fe = memchr(f, delim, (size_t)(e - f));
        if (!fe) fe = e;
        const char *a = f, *b = fe;
        trim(&a, &b);
        if (k == cap) {
            char **nv = realloc(v, (size_t)(cap *= 2) * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        v[k] = malloc((size_t)(b - a) + 1);
        if (!v[k]) break;
        memcpy(v[k], a, (size_t)(b - a));
        v[k++][b - a] = '\0';
        if (fe == e) {
            *names = v;
            *n = k;
            return DAGL_OK;
        }
        f = fe + 1;
    }
    dagl_strings_free(v, k);
    return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "read_csv: out of memory");
}

/* Parses the data lines into vals; *ncols is the header's count (or 0: set by the first row). */
static dagl_status parse_rows(dagl_ctx *ctx, const char *path, const char *p, const char *end, long line,
                              char delim, fbuf *vals, int *ncols, int64_t *nrows)
{
    char field[64];
    while (p < end) {
        const char *le = memchr(p, '\n', (size_t)(end - p));
        if (!le) le = end;
        line++;
        if (!blank(p, le)) {
            int col = 0;
            for (const char *f = p;;) {
                const char *fe = memchr(f, delim, (size_t)(le - f));
                if (!fe) fe = le;
                const char *a = f, *b = fe;
                trim(&a, &b);
                col++;
                size_t n = (size_t)(b - a);
                char *stop = field;
                double v = 0;
                if (n > 0 && n < sizeof field) {
                    memcpy(field, a, n);
                    field[n] = '\0';
                    v = strtod(field, &stop);
                }
                if (n >= sizeof field)
                    return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "read_csv '%s': line %ld, column %d: a field of %zu "
                                              "characters is too long for a number", path, line, col, n);
                if (n == 0 || stop != field + n) /* all of it, a NUL byte included, must be the number */
                    return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "read_csv '%s': line %ld, column %d: '%.*s' is not a number",
                                              path, line, col, (int)n, a);
                if (fpush(vals, (float)v)) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "read_csv: out of memory");
                if (fe == le) break;
                f = fe + 1;
            }
            if (*ncols == 0) *ncols = col;
            if (col != *ncols)
                return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "read_csv '%s': line %ld has %d columns, expected %d", path,
                                          line, col, *ncols);
            (*nrows)++;
        }
        p = le + 1;
    }
    return DAGL_OK;
}

dagl_status dagl_csv_read(dagl_ctx *ctx, const char *path, const dagl_csv_options *opt, dagl_tensor **out,
                          char ***names, int *ncols)
{
    *out = NULL;
    *names = NULL;
    *ncols = 0;
    char delim = opt && opt->delimiter ? opt->delimiter : ',';
    unsigned char *buf;
    size_t len;
    dagl_status st = dagl__read_file_gz(ctx, "read_csv", path, &buf, &len);
    if (st) return st;
    const char *p = (const char *)buf, *end = p + len;
    long line = 0;
    if (opt && opt->header) {
        while (p < end) { /* the first non-blank line */
            const char *le = memchr(p, '\n', (size_t)(end - p));
            if (!le) le = end;
            line++;
            if (!blank(p, le)) {
                st = header_names(ctx, p, le, delim, names, ncols);
                p = le + 1;
                break;
            }
            p = le + 1;
        }
    }
    fbuf vals = {0};
    int64_t rows = 0;
    if (!st) st = parse_rows(ctx, path, p, end, line, delim, &vals, ncols, &rows);
    free(buf);
    if (!st) {
        int64_t shape[2] = {rows, *ncols};
        st = dagl_tensor_new(ctx, DAGL_F32, 2, shape, out);
        if (!st && vals.n) memcpy(dagl_tensor_data(*out), vals.p, vals.n * sizeof(float));
    }
    free(vals.p);
    if (st) {
        dagl_strings_free(*names, *ncols);
        *names = NULL;
        *ncols = 0;
    }
    return st;
}
