/* tensor.c -- ONNX TensorProto <-> dagl tensors: dtypes, inline data (raw_data or the typed
 * repeated fields, wrapped without a copy when already in dagl's layout), external data files. */
#include "onnx_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T(x) ONNX__TENSOR_PROTO__DATA_TYPE__##x

/* ONNX elem_type -> dagl dtype: integers widen to int64 (dagl computes indices in int64), bool
 * becomes uint8 0/1. */
int ox_dtype_of(int t)
{
    switch (t) {
    case T(FLOAT): return DAGL_F32;
    case T(DOUBLE): return DAGL_F64;
    case T(INT64): case T(INT32): case T(INT16): case T(INT8): case T(UINT16): case T(UINT32): return DAGL_I64;
    case T(UINT8): case T(BOOL): return DAGL_U8;
    default: return -1;
    }
}

/* The name ONNX gives an elem_type, for errors. */
const char *ox_type_name(int t)
{
    static const char *const names[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32",
                                        "INT64", "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64",
                                        "COMPLEX64", "COMPLEX128", "BFLOAT16"};
    return t >= 0 && t < (int)(sizeof names / sizeof *names) ? names[t] : "unknown";
}

/* Bytes per element of the raw_data of an ONNX type dagl reads, 0 for the others. */
static size_t raw_size(int t)
{
    switch (t) {
    case T(FLOAT): case T(INT32): case T(UINT32): return 4;
    case T(DOUBLE): case T(INT64): return 8;
    case T(INT16): case T(UINT16): return 2;
    case T(INT8): case T(UINT8): case T(BOOL): return 1;
    default: return 0;
    }
}

/* Element i of little-endian raw data of type t widened to int64 (the integer types). */
static int64_t raw_int(const uint8_t *p, int t, int64_t i)
{
    switch (t) {
    case T(INT32): { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case T(UINT32): { uint32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case T(INT16): { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case T(UINT16): { uint16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case T(INT8): return (int8_t)p[i];
    case T(BOOL): return p[i] != 0;
    default: return p[i];
    }
}

/* Drops one reference to the unpacked model; the last frees it. */
void ox_proto_release(ox_proto *p)
{
    if (p && atomic_fetch_sub(&p->refs, 1) == 1) {
        onnx__model_proto__free_unpacked(p->model, NULL);
        free(p);
    }
}

/* The release callback of tensors wrapped over the proto's memory. */
static void release_hold(void *ud) { ox_proto_release(ud); }

/* A tensor over memory owned by the proto (no copy): the proto stays alive while it lives. */
static dagl_status wrap_proto(dagl_ctx *ctx, dagl_dtype dt, int nd, const int64_t *shape, void *data,
                              ox_proto *hold, dagl_tensor **out)
{
    atomic_fetch_add(&hold->refs, 1);
    dagl_status st = dagl_tensor_wrap(ctx, dt, nd, shape, NULL, data, release_hold, hold, out);
    if (st) ox_proto_release(hold);
    return st;
}

/* Reads `len` bytes at `off` of the external file `loc` (relative to dir, never outside it). */
static dagl_status read_external(dagl_ctx *ctx, const char *dir, const char *what, const char *loc, int64_t off,
                                 int64_t len, void *dst) /* dst NULL: only check that the bytes are there */
{
    if (!loc || !*loc || loc[0] == '/' || strstr(loc, ".."))
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT,
                                  "onnx: tensor '%s': external data location '%s' must be a path inside the "
                                  "model's folder", what, loc ? loc : "");
    size_t n = strlen(dir) + strlen(loc) + 2;
    char *path = malloc(n);
    if (!path) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "onnx: out of memory");
    snprintf(path, n, "%s/%s", dir, loc);
    FILE *f = fopen(path, "rb");
    dagl_status st = DAGL_OK;
    if (!f) {
        st = dagl_ctx_set_error(ctx, DAGL_E_IO, "onnx: tensor '%s': cannot open external data file %s", what, path);
    } else {
        long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
        if (size < 0 || off < 0 || len < 0 || off > size || len > size - off)
            st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT,
                                    "onnx: tensor '%s': external data [%lld, +%lld) is outside %s (%ld bytes)",
                                    what, (long long)off, (long long)len, path, size);
        else if (dst && (fseek(f, off, SEEK_SET) != 0 || fread(dst, 1, (size_t)len, f) != (size_t)len))
            st = dagl_ctx_set_error(ctx, DAGL_E_IO, "onnx: tensor '%s': cannot read %s", what, path);
        fclose(f);
    }
    free(path);
    return st;
}

/* The location, offset and length entries of an external tensor (length -1 when absent). */
static dagl_status external_entries(dagl_ctx *ctx, const Onnx__TensorProto *tp, const char *what, const char **loc,
                                    int64_t *off, int64_t *len)
{
    *loc = NULL, *off = 0, *len = -1;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = tp->external_data[i]->key, *v = tp->external_data[i]->value;
        if (!k || !v) continue;
        char *end;
        if (!strcmp(k, "location")) *loc = v;
        else if (!strcmp(k, "offset") || !strcmp(k, "length")) {
            long long x = strtoll(v, &end, 10);
            if (*end || end == v || x < 0)
                return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "onnx: tensor '%s': bad external data %s '%s'",
                                          what, k, v);
            *(!strcmp(k, "offset") ? off : len) = x;
        }
    }
    return DAGL_OK;
}

/* Fills a fresh tensor from typed repeated fields or converted raw/external bytes. */
/* Whether the proto holds exactly n elements (raw bytes, or the typed field its type uses): checked
 * before the tensor is allocated, so dims claiming terabytes over a few bytes fail at once. */
static dagl_status data_fits(dagl_ctx *ctx, const Onnx__TensorProto *tp, const uint8_t *raw, size_t rawlen, int64_t n,
                             const char *what)
{
    int type = tp->data_type;
    size_t es = raw_size(type);
    if (raw) {
        if (rawlen != (size_t)n * es)
            return dagl_ctx_set_error(ctx, DAGL_E_FORMAT,
                                      "onnx: tensor '%s': %zu bytes of %s data for %lld elements (%zu needed)",
                                      what, rawlen, ox_type_name(type), (long long)n, (size_t)n * es);
        return DAGL_OK;
    }
    size_t have = type == T(FLOAT) ? tp->n_float_data : type == T(DOUBLE) ? tp->n_double_data
                : type == T(INT64) ? tp->n_int64_data : type == T(UINT32) ? tp->n_uint64_data : tp->n_int32_data;
    if (have != (size_t)n)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "onnx: tensor '%s': %zu values of %s for %lld elements",
                                  what, have, ox_type_name(type), (long long)n);
    return DAGL_OK;
}

static dagl_status fill_converted(dagl_ctx *ctx, const Onnx__TensorProto *tp, const uint8_t *raw, size_t rawlen,
                                  int64_t n, dagl_tensor *t, const char *what)
{
    int type = tp->data_type;
    void *d = dagl_tensor_data(t);
    size_t es = raw_size(type);
    dagl_status fit = data_fits(ctx, tp, raw, rawlen, n, what);
    if (fit) return fit;
    if (raw) {
        if (dagl_tensor_dtype(t) == DAGL_U8 || es == dagl_dtype_size(dagl_tensor_dtype(t))) {
            if (type == T(BOOL))
                for (int64_t i = 0; i < n; i++) ((uint8_t *)d)[i] = raw[i] != 0;
            else if (n) memcpy(d, raw, (size_t)n * es);
        } else {
            for (int64_t i = 0; i < n; i++) ((int64_t *)d)[i] = raw_int(raw, type, i);
        }
        return DAGL_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        switch (type) {
        case T(FLOAT): ((float *)d)[i] = tp->float_data[i]; break;
        case T(DOUBLE): ((double *)d)[i] = tp->double_data[i]; break;
        case T(INT64): ((int64_t *)d)[i] = tp->int64_data[i]; break;
        case T(UINT32): ((int64_t *)d)[i] = (int64_t)tp->uint64_data[i]; break;
        case T(UINT8): case T(BOOL): ((uint8_t *)d)[i] = (uint8_t)(type == T(BOOL) ? tp->int32_data[i] != 0
                                                                                    : tp->int32_data[i]); break;
        default: ((int64_t *)d)[i] = tp->int32_data[i]; break;
        }
    }
    return DAGL_OK;
}

/* One TensorProto (initializer, Constant value, .pb file) as a dagl tensor. */
dagl_status ox_tensor_from_proto(dagl_ctx *ctx, const Onnx__TensorProto *tp, ox_proto *hold, const char *dir,
                                 const char *what, dagl_tensor **out)
{
    *out = NULL;
    int type = tp->data_type, dt = ox_dtype_of(type);
    if (dt < 0)
        return dagl_ctx_set_error(ctx, DAGL_E_DTYPE, "onnx: tensor '%s': data type %s (%d) is not supported", what,
                                  ox_type_name(type), type);
    if (tp->n_dims > DAGL_MAX_DIMS)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "onnx: tensor '%s': %zu dims (at most %d)", what, tp->n_dims,
                                  DAGL_MAX_DIMS);
    if (tp->segment)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "onnx: tensor '%s': segmented tensors are not supported", what);
    int64_t n = 1;
    for (size_t i = 0; i < tp->n_dims; i++)
        if (tp->dims[i] < 0 || __builtin_mul_overflow(n, tp->dims[i], &n) || n > ((int64_t)1 << 40))
            return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "onnx: tensor '%s': bad dims", what);
    int nd = (int)tp->n_dims;
    const int64_t *shape = tp->dims;
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        const char *loc;
        int64_t off, len;
        dagl_status st = external_entries(ctx, tp, what, &loc, &off, &len);
        size_t es = raw_size(type);
        if (!st && len < 0) len = n * (int64_t)es;
        if (!st && len != n * (int64_t)es)
            st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "onnx: tensor '%s': external length %lld for %lld elements",
                                    what, (long long)len, (long long)n);
        if (!st) st = read_external(ctx, dir, what, loc, off, len, NULL); /* the file has them, before allocating */
        if (st) return st;
        uint8_t *tmp = NULL;
        dagl_tensor *t;
        if ((st = dagl_tensor_new(ctx, dt, nd, shape, &t))) return st;
        bool direct = es == dagl_dtype_size(dt) && type != T(BOOL); /* read straight into the tensor */
        if (!direct && !(tmp = malloc(len ? (size_t)len : 1)))
            st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "onnx: out of memory");
        if (!st) st = read_external(ctx, dir, what, loc, off, len, direct ? dagl_tensor_data(t) : tmp);
        if (!st && !direct) st = fill_converted(ctx, tp, tmp, (size_t)len, n, t, what);
        free(tmp);
        if (st) dagl_tensor_release(t);
        else *out = t;
        return st;
    }
    /* zero-copy where the stored data is dagl's (aligned for the dtype: protobuf-c mallocs it) */
    void *direct = NULL;
    size_t es = dagl_dtype_size(dt);
    if (tp->has_raw_data && raw_size(type) == es && type != T(BOOL) && tp->raw_data.len == (size_t)n * es &&
        ((uintptr_t)tp->raw_data.data % es) == 0)
        direct = tp->raw_data.data;
    else if (!tp->has_raw_data && type == T(FLOAT) && tp->n_float_data == (size_t)n) direct = tp->float_data;
    else if (!tp->has_raw_data && type == T(DOUBLE) && tp->n_double_data == (size_t)n) direct = tp->double_data;
    else if (!tp->has_raw_data && type == T(INT64) && tp->n_int64_data == (size_t)n) direct = tp->int64_data;
    if (direct && hold && n > 0) return wrap_proto(ctx, (dagl_dtype)dt, nd, shape, direct, hold, out);
    const uint8_t *raw = tp->has_raw_data ? tp->raw_data.data : NULL;
    if (!(tp->has_raw_data && !raw && n == 0)) {
        dagl_status fit = data_fits(ctx, tp, raw, tp->raw_data.len, n, what);
        if (fit) return fit;
    }
    dagl_tensor *t;
    dagl_status st = dagl_tensor_new(ctx, (dagl_dtype)dt, nd, shape, &t);
    if (st) return st;
    st = fill_converted(ctx, tp, tp->has_raw_data ? tp->raw_data.data : NULL, tp->raw_data.len, n, t, what);
    if (tp->has_raw_data && !tp->raw_data.data && n == 0) st = DAGL_OK;
    if (st) dagl_tensor_release(t);
    else *out = t;
    return st;
}
