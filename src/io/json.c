/* json.c -- strict recursive-descent JSON parsing with bounded depth: every read is checked
 * against the end of the text, so a corrupt file header gives an error and never a crash. */
#include "io/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

typedef struct parser {
    const char *s, *end, *start;
    char *err;
    size_t errsize;
    int failed;
} parser;

/* Records the first error with the byte offset where it happened. */
static int fail(parser *p, const char *what)
{
    if (!p->failed) {
        snprintf(p->err, p->errsize, "%s at byte %td", what, p->s - p->start);
        p->failed = 1;
    }
    return -1;
}

/* Skips the whitespace JSON allows between tokens: space, tab, LF and CR, nothing else. */
static void skip_ws(parser *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) p->s++;
}

static int parse_value(parser *p, dagl_json *v, int depth);

/* Matches a literal word (true, false, null). */
static int expect_word(parser *p, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(p->end - p->s) < n || memcmp(p->s, w, n) != 0) return fail(p, "invalid literal");
    p->s += n;
    return 0;
}

/* The four hex digits of a \u escape, checked to be there and valid. */
static int hex4(parser *p, unsigned *out)
{
    if (p->end - p->s < 4) return fail(p, "truncated \\u escape");
    unsigned u = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[i];
        u <<= 4;
        if (c >= '0' && c <= '9') u |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') u |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') u |= (unsigned)(c - 'A' + 10);
        else return fail(p, "bad hex digit in \\u escape");
    }
    p->s += 4;
    *out = u;
    return 0;
}

/* Writes a decoded code point (surrogate pairs already joined) as 1 to 4 UTF-8 bytes; returns how many. */
static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string after its opening quote; the decoded text is never longer than the source. */
static int parse_string(parser *p, char **out, size_t *outlen)
{
    const char *q = p->s;
    while (q < p->end && *q != '"') q += (*q == '\\' && q + 1 < p->end) ? 2 : 1;
    if (q >= p->end) return fail(p, "unterminated string");
    char *o = malloc((size_t)(q - p->s) + 1);
    if (!o) return fail(p, "out of memory");
    size_t n = 0;
    while (*p->s != '"') {
        unsigned char c = (unsigned char)*p->s;
        if (c < 0x20) { free(o); return fail(p, "control character in string"); }
        if (c != '\\') { o[n++] = (char)c; p->s++; continue; }
        p->s++;
        char e = *p->s++;
        switch (e) {
        case '"': o[n++] = '"'; break;
        case '\\': o[n++] = '\\'; break;
        case '/': o[n++] = '/'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(p, &cp)) { free(o); return -1; }
            if (cp >= 0xDC00 && cp <= 0xDFFF) { free(o); return fail(p, "lone low surrogate in \\u escape"); }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->end - p->s < 6 || p->s[0] != '\\' || p->s[1] != 'u') {
                    free(o);
                    return fail(p, "high surrogate without its low half");
                }
                p->s += 2;
                if (hex4(p, &lo)) { free(o); return -1; }
                if (lo < 0xDC00 || lo > 0xDFFF) { free(o); return fail(p, "bad low surrogate"); }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            n += put_utf8(o + n, cp); /* at most 4 bytes for the 6 or 12 consumed */
            break;
        }
        default: free(o); p->s--; return fail(p, "invalid escape in string");
        }
    }
    p->s++; /* closing quote */
    o[n] = '\0';
    *out = o;
    *outlen = n;
    return 0;
}

/* A number by the JSON grammar (no leading zeros, no '+', no bare '.'); integers that fit are
 * also kept exactly. */
static int parse_number(parser *p, dagl_json *v)
{
    const char *q = p->s;
    int is_int = 1;
    if (q < p->end && *q == '-') q++;
    if (q >= p->end || !(*q >= '0' && *q <= '9')) return fail(p, "invalid number");
    if (*q == '0') q++;
    else while (q < p->end && *q >= '0' && *q <= '9') q++;
    if (q < p->end && *q == '.') {
        is_int = 0;
        q++;
        if (q >= p->end || !(*q >= '0' && *q <= '9')) return fail(p, "invalid number (digit expected after '.')");
        while (q < p->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < p->end && (*q == 'e' || *q == 'E')) {
        is_int = 0;
        q++;
        if (q < p->end && (*q == '+' || *q == '-')) q++;
        if (q >= p->end || !(*q >= '0' && *q <= '9')) return fail(p, "invalid number (exponent digits expected)");
        while (q < p->end && *q >= '0' && *q <= '9') q++;
    }
    size_t n = (size_t)(q - p->s);
    char buf[64];
    if (n >= sizeof buf) return fail(p, "number literal too long");
    memcpy(buf, p->s, n);
    buf[n] = '\0';
    v->type = DAGL_JSON_NUMBER;
    v->number = strtod(buf, NULL);
    if (is_int) {
        errno = 0;
        long long ll = strtoll(buf, NULL, 10);
        if (errno == 0) { v->is_int = 1; v->integer = ll; }
    }
    p->s = q;
    return 0;
}

/* Grows an array/object's storage to hold one more member. */
static int grow(parser *p, dagl_json *v, int *cap, int with_keys)
{
    if (v->n < *cap) return 0;
    int nc = *cap ? *cap * 2 : 4;
    dagl_json *items = realloc(v->items, (size_t)nc * sizeof *items);
    if (!items) return fail(p, "out of memory");
    v->items = items;
    if (with_keys) {
        char **keys = realloc(v->keys, (size_t)nc * sizeof *keys);
        if (!keys) return fail(p, "out of memory");
        v->keys = keys;
    }
    *cap = nc;
    return 0;
}

/* An array or an object from its opening bracket: members separated by commas, object keys
 * unique. Each member is counted before it is parsed, so a failure frees it with the container. */
static int parse_container(parser *p, dagl_json *v, int depth, int is_obj)
{
    char close = is_obj ? '}' : ']';
    int cap = 0;
    v->type = is_obj ? DAGL_JSON_OBJECT : DAGL_JSON_ARRAY;
    p->s++;
    skip_ws(p);
    if (p->s < p->end && *p->s == close) { p->s++; return 0; }
    for (;;) {
        skip_ws(p);
        if (grow(p, v, &cap, is_obj)) return -1;
        char *key = NULL;
        if (is_obj) {
            size_t klen;
            if (p->s >= p->end || *p->s != '"') return fail(p, "object key (a string) expected");
            p->s++;
            if (parse_string(p, &key, &klen)) return -1;
            for (int i = 0; i < v->n; i++)
                if (strcmp(v->keys[i], key) == 0) { free(key); return fail(p, "duplicate object key"); }
            skip_ws(p);
            if (p->s >= p->end || *p->s != ':') { free(key); return fail(p, "':' expected after object key"); }
            p->s++;
            v->keys[v->n] = key;
        }
        memset(&v->items[v->n], 0, sizeof v->items[0]);
        v->n++; /* counted now so a failing member is freed with the container */
        if (parse_value(p, &v->items[v->n - 1], depth + 1)) return -1;
        skip_ws(p);
        if (p->s >= p->end) return fail(p, is_obj ? "unterminated object" : "unterminated array");
        if (*p->s == ',') { p->s++; continue; }
        if (*p->s == close) { p->s++; return 0; }
        return fail(p, is_obj ? "',' or '}' expected" : "',' or ']' expected");
    }
}

/* Any value, chosen by its first character; the depth limit keeps a hostile file's nesting from
 * exhausting the stack. */
static int parse_value(parser *p, dagl_json *v, int depth)
{
    if (depth > JSON_MAX_DEPTH) return fail(p, "nesting too deep");
    skip_ws(p);
    if (p->s >= p->end) return fail(p, "value expected");
    switch (*p->s) {
    case '{': return parse_container(p, v, depth, 1);
    case '[': return parse_container(p, v, depth, 0);
    case '"': p->s++; v->type = DAGL_JSON_STRING; return parse_string(p, &v->str, &v->len);
    case 't': v->type = DAGL_JSON_BOOL; v->boolean = 1; return expect_word(p, "true");
    case 'f': v->type = DAGL_JSON_BOOL; return expect_word(p, "false");
    case 'n': v->type = DAGL_JSON_NULL; return expect_word(p, "null");
    default: return parse_number(p, v);
    }
}

int dagl__json_parse(const char *text, size_t len, dagl_json *out, char *err, size_t errsize)
{
    parser p = {text, text + len, text, err, errsize, 0};
    memset(out, 0, sizeof *out);
    if (errsize) err[0] = '\0';
    if (parse_value(&p, out, 0)) return -1;
    skip_ws(&p);
    if (p.s != p.end) return fail(&p, "unexpected text after the JSON value");
    return 0;
}

/* Frees a value's members, keys and text recursively and zeroes it (also after a failed parse). */
void dagl__json_free(dagl_json *v)
{
    if (!v) return;
    for (int i = 0; i < v->n; i++) {
        dagl__json_free(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    memset(v, 0, sizeof *v);
}

const dagl_json *dagl__json_get(const dagl_json *v, const char *key)
{
    if (!v || v->type != DAGL_JSON_OBJECT) return NULL;
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], key) == 0) return &v->items[i];
    return NULL;
}
