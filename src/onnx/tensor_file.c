/* tensor_file.c -- TensorProto files (the .pb files of ONNX's test data): read one into a dagl
 * tensor, write a dagl tensor as one. */
#include "onnx_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file in memory (malloc'ed), or an error naming it. */
static dagl_status slurp(dagl_ctx *ctx, const char *path, uint8_t **data, size_t *len)
{
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return dagl_ctx_set_error(ctx, DAGL_E_IO, "onnx: cannot open %s", path);
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    dagl_status st = DAGL_OK;
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) st = dagl_ctx_set_error(ctx, DAGL_E_IO, "onnx: cannot read %s", path);
    else if (!(*data = malloc(size ? (size_t)size : 1))) st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "onnx: out of memory");
    else if (fread(*data, 1, (size_t)size, f) != (size_t)size) st = dagl_ctx_set_error(ctx, DAGL_E_IO, "onnx: cannot read %s", path);
    fclose(f);
    if (st) {
        free(*data);
        *data = NULL;
    }
    *len = (size_t)size;
    return st;
}

dagl_status dagl_onnx_tensor_read(dagl_ctx *ctx, const char *path, dagl_tensor **out)
{
    if (!ctx || !out) return DAGL_E_ARG;
    *out = NULL;
    if (!path) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "onnx_tensor_read: NULL path");
    uint8_t *data;
    size_t len = 0;
    dagl_status st = slurp(ctx, path, &data, &len);
    if (st) return st;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, data);
    free(data);
    if (!tp)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "onnx: %s is not a TensorProto (truncated or corrupt)", path);
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "onnx: %s: a lone tensor file cannot use external data", path);
    else
        st = ox_tensor_from_proto(ctx, tp, NULL, ".", tp->name && *tp->name ? tp->name : path, out);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return st;
}

/* The ONNX elem_type of a dagl dtype. */
static int onnx_type_of(dagl_dtype dt)
{
    switch (dt) {
    case DAGL_F32: return ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    case DAGL_F64: return ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    case DAGL_I64: return ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    default: return ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
    }
}

dagl_status dagl_onnx_tensor_write(dagl_ctx *ctx, const char *path, const dagl_tensor *t)
{
    if (!ctx || !t) return DAGL_E_ARG;
    if (!path) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "onnx_tensor_write: NULL path");
    dagl_tensor *c;
    dagl_status st = dagl_contiguous(ctx, (dagl_tensor *)t, &c);
    if (st) return st;
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    tp.n_dims = (size_t)dagl_tensor_ndim(c);
    tp.dims = (int64_t *)dagl_tensor_shape(c);
    tp.has_data_type = 1;
    tp.data_type = onnx_type_of(dagl_tensor_dtype(c));
    tp.has_raw_data = 1;
    tp.raw_data.len = dagl_tensor_nbytes(c);
    tp.raw_data.data = dagl_tensor_data(c);
    size_t n = onnx__tensor_proto__get_packed_size(&tp);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        dagl_tensor_release(c);
        return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "onnx: out of memory");
    }
    onnx__tensor_proto__pack(&tp, buf);
    dagl_tensor_release(c);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, n, f) != n) st = dagl_ctx_set_error(ctx, DAGL_E_IO, "onnx: cannot write %s", path);
    if (f && fclose(f) != 0 && !st) st = dagl_ctx_set_error(ctx, DAGL_E_IO, "onnx: cannot write %s", path);
    free(buf);
    return st;
}
