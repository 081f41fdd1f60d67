/* l_ffi_sig.c -- the signature language of dagl.ffi: "double(double, int64)". Types are written
 * as in C or by dagl's names; spaces around '*' do not matter. */
#include "l_ffi.h"

#include <stdio.h>
#include <string.h>

static const char *const kind_names[DAGL_FFI_KIND_COUNT] = {
    "void", "int32", "int64", "float", "double", "pointer", "float*", "double*", "int64*", "string",
};

const char *dagl_ffi_kind_name(dagl_ffi_kind k) { return kind_names[k]; }

ffi_type *dagl_ffi_type(dagl_ffi_kind k)
{
    switch (k) {
    case DAGL_FFI_VOID: return &ffi_type_void;
    case DAGL_FFI_I32: return &ffi_type_sint32;
    case DAGL_FFI_I64: return &ffi_type_sint64;
    case DAGL_FFI_F32: return &ffi_type_float;
    case DAGL_FFI_F64: return &ffi_type_double;
    default: return &ffi_type_pointer;
    }
}

/* Every spelling a type may have, after whitespace normalization. */
static const struct { const char *name; dagl_ffi_kind kind; } spellings[] = {
    {"void", DAGL_FFI_VOID},
    {"int32", DAGL_FFI_I32},        {"int32_t", DAGL_FFI_I32},     {"int", DAGL_FFI_I32},
    {"int64", DAGL_FFI_I64},        {"int64_t", DAGL_FFI_I64},
    {"float", DAGL_FFI_F32},        {"double", DAGL_FFI_F64},
    {"pointer", DAGL_FFI_PTR},      {"ptr", DAGL_FFI_PTR},         {"void*", DAGL_FFI_PTR},
    {"const void*", DAGL_FFI_PTR},
    {"float*", DAGL_FFI_F32P},      {"const float*", DAGL_FFI_F32P},
    {"double*", DAGL_FFI_F64P},     {"const double*", DAGL_FFI_F64P},
    {"int64*", DAGL_FFI_I64P},      {"const int64*", DAGL_FFI_I64P},
    {"int64_t*", DAGL_FFI_I64P},    {"const int64_t*", DAGL_FFI_I64P},
    {"const char*", DAGL_FFI_STR},  {"string", DAGL_FFI_STR},
};

/* Copies [s, e) into buf with runs of spaces made one, none next to '*' and none at the ends. */
static void normalize(const char *s, const char *e, char *buf, size_t size)
{
    size_t n = 0;
    int space = 0;
    for (; s < e && n + 2 < size; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\n') {
            space = n > 0;
            continue;
        }
        if (space && *s != '*' && buf[n - 1] != '*') buf[n++] = ' ';
        space = 0;
        buf[n++] = *s;
    }
    buf[n] = '\0';
}

/* The kind of the type in [s, e), or -1 with the message in err. `what` says where it is. */
static int parse_type(const char *s, const char *e, const char *what, char *err, size_t errsize)
{
    char buf[64];
    normalize(s, e, buf, sizeof buf);
    if (!*buf) {
        snprintf(err, errsize, "missing type (%s)", what);
        return -1;
    }
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++)
        if (strcmp(buf, spellings[i].name) == 0) return (int)spellings[i].kind;
    snprintf(err, errsize, "unknown type '%s' (%s)", buf, what);
    return -1;
}

/* Whether [s, e) holds only whitespace. */
static int blank(const char *s, const char *e)
{
    for (; s < e; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n') return 0;
    return 1;
}

int dagl_ffi_parse(const char *text, dagl_ffi_sig *out, char *err, size_t errsize)
{
    const char *open = strchr(text, '('), *close = strrchr(text, ')');
    if (!open || !close || close < open) {
        snprintf(err, errsize, "expected 'return_type(argument types)'");
        return -1;
    }
    if (!blank(close + 1, text + strlen(text))) {
        snprintf(err, errsize, "unexpected '%s' after ')'", close + 1);
        return -1;
    }
    int k = parse_type(text, open, "return type", err, errsize);
    if (k < 0) return -1;
    out->ret = (dagl_ffi_kind)k;
    out->nargs = 0;
    const char *p = open + 1;
    if (blank(p, close)) return 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(close - p)), *end = comma ? comma : close;
        char what[32];
        snprintf(what, sizeof what, "argument %d", out->nargs + 1);
        if (out->nargs == DAGL_FFI_MAX_ARGS) {
            snprintf(err, errsize, "more than %d arguments", DAGL_FFI_MAX_ARGS);
            return -1;
        }
        if ((k = parse_type(p, end, what, err, errsize)) < 0) return -1;
        if (k == DAGL_FFI_VOID) {
            if (out->nargs == 0 && !comma) return 0; /* "(void)" */
            snprintf(err, errsize, "void is not an argument type (%s)", what);
            return -1;
        }
        out->args[out->nargs++] = (dagl_ffi_kind)k;
        if (!comma) return 0;
        p = comma + 1;
    }
}
