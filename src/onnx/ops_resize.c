/* ops_resize.c -- the importer of Resize (opsets 10 to 17; Upsample's successor): nearest and
 * linear modes, separable per axis, as gathers of constant indices (and for linear a blend of two
 * gathers with constant weights); NHWC values stay NHWC. Scales or sizes must be constants. */
#include "onnx_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct resize_mode {
    bool linear;
    char coord[32];   /* coordinate_transformation_mode */
    char nearest[32]; /* nearest_mode */
} resize_mode;

/* The source coordinate of output index o (ONNX's coordinate transformations). */
static double source_coord(const resize_mode *rm, int64_t o, int64_t in, int64_t out, double scale)
{
    if (!strcmp(rm->coord, "asymmetric")) return o / scale;
    if (!strcmp(rm->coord, "align_corners")) return out == 1 ? 0 : (double)o * (double)(in - 1) / (double)(out - 1);
    if (!strcmp(rm->coord, "pytorch_half_pixel")) return out > 1 ? (o + 0.5) / scale - 0.5 : 0;
    if (!strcmp(rm->coord, "tf_half_pixel_for_nn")) return (o + 0.5) / scale;
    return (o + 0.5) / scale - 0.5; /* half_pixel */
}

/* The nearest input index to coordinate x (nearest_mode), clamped to the input. */
static int64_t nearest_index(const resize_mode *rm, double x, int64_t in)
{
    double f = floor(x), r;
    if (!strcmp(rm->nearest, "floor")) r = f;
    else if (!strcmp(rm->nearest, "ceil")) r = ceil(x);
    else if (x - f == 0.5) r = !strcmp(rm->nearest, "round_prefer_ceil") ? f + 1 : f;
    else r = round(x);
    return r < 0 ? 0 : r > in - 1 ? in - 1 : (int64_t)r;
}

/* Weights along `axis` (size n) shaped to broadcast over x. */
static ox_value *axis_weights(ox_build *b, const ox_value *x, int axis, const double *w, int64_t n)
{
    int64_t s[DAGL_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) s[d] = d == axis ? n : 1;
    dagl_tensor *t;
    if (dagl_tensor_new(b->ctx, x->dt, x->ndim, s, &t)) {
        ox_wrap(b, DAGL_E_NOMEM);
        return NULL;
    }
    for (int64_t i = 0; i < n; i++)
        if (x->dt == DAGL_F64) ((double *)dagl_tensor_data(t))[i] = w[i];
        else ((float *)dagl_tensor_data(t))[i] = (float)w[i];
    return ox_const(b, t);
}

/* x resized along one (stored) axis from `in` to `out` elements. */
static ox_value *resize_axis(ox_build *b, const resize_mode *rm, ox_value *x, int axis, int64_t out, double scale)
{
    int64_t in = x->shape[axis];
    int64_t *i0 = malloc(sizeof(int64_t) * 2 * (size_t)out);
    double *w = malloc(sizeof(double) * (size_t)out);
    ox_value *y = NULL;
    if (!i0 || !w) {
        ox_fail(b, DAGL_E_NOMEM, "out of memory");
        goto done;
    }
    int64_t *i1 = i0 + out;
    for (int64_t o = 0; o < out; o++) {
        double c = source_coord(rm, o, in, out, scale);
        if (!rm->linear) {
            i0[o] = nearest_index(rm, c, in);
            continue;
        }
        c = c < 0 ? 0 : c > (double)(in - 1) ? (double)(in - 1) : c;
        i0[o] = (int64_t)floor(c);
        i1[o] = i0[o] + 1 < in ? i0[o] + 1 : in - 1;
        w[o] = c - (double)i0[o];
    }
    y = ox_gather_axis(b, x, ox_index_const(b, i0, out), axis);
    if (rm->linear && y) {
        ox_value *hi = ox_gather_axis(b, x, ox_index_const(b, i1, out), axis);
        ox_value *wv = axis_weights(b, x, axis, w, out);
        /* lo + (hi - lo) * w */
        y = ox_binary(b, DAGL_OP_ADD, y, ox_binary(b, DAGL_OP_MUL, ox_binary(b, DAGL_OP_SUB, hi, y), wv));
    }
done:
    free(i0);
    free(w);
    return y;
}

/* The output size and scale of every ONNX-layout dim, from the scales or sizes input. */
static dagl_status sizes_of(ox_build *b, const ox_value *x, const int64_t *lshape, int64_t *out, double *scale)
{
    int r = x->ndim, n = 0;
    bool v10 = ox_opset(b) < 11;
    ox_value *sc = ox_in(b, v10 ? 1 : 2), *sz = v10 ? NULL : ox_in(b, 3);
    if (sc && sc->c && dagl_tensor_numel(sc->c) == 0) sc = NULL; /* an empty scales input: sizes decide */
    if (sz) {
        int64_t v[DAGL_MAX_DIMS];
        dagl_status st = ox_const_ints(b, sz, "sizes", v, DAGL_MAX_DIMS, &n);
        if (st) return st;
        if (n != r) return ox_fail(b, DAGL_E_ARG, "%d sizes for %d dims", n, r);
        for (int d = 0; d < r; d++) {
            if (v[d] < 1 || v[d] > 1 << 20) return ox_fail(b, DAGL_E_ARG, "size %lld is out of range", (long long)v[d]);
            out[d] = v[d];
            scale[d] = (double)v[d] / (double)lshape[d];
        }
        return DAGL_OK;
    }
    if (!sc) return ox_fail(b, DAGL_E_ARG, "needs scales or sizes");
    if (!sc->c) return ox_fail(b, DAGL_E_ARG, "input 'scales' must be a constant for dagl");
    if (dagl_tensor_numel(sc->c) != r)
        return ox_fail(b, DAGL_E_ARG, "%lld scales for %d dims", (long long)dagl_tensor_numel(sc->c), r);
    for (int64_t d = 0; d < r; d++) {
        double s;
        if (dagl_get(b->ctx, sc->c, &d, &s)) return ox_wrap(b, DAGL_E_INTERNAL);
        double o = floor((double)lshape[d] * s);
        if (!(s > 0) || o < 1 || o > 1 << 20) return ox_fail(b, DAGL_E_ARG, "scale %g is out of range", s);
        out[d] = (int64_t)o;
        scale[d] = s;
    }
    return DAGL_OK;
}

/* Resize: nearest (any nearest_mode) or linear, the coordinate transformations but
 * tf_crop_and_resize; cubic is refused. */
dagl_status ox_import_resize(ox_build *b)
{
    ox_value *x = ox_in(b, 0);
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    resize_mode rm;
    char mode[32], buf[32];
    bool v10 = ox_opset(b) < 11;
    snprintf(mode, sizeof mode, "%s", ox_attr_str(b, "mode", "nearest", buf, sizeof buf));
    snprintf(rm.coord, sizeof rm.coord, "%s",
             ox_attr_str(b, "coordinate_transformation_mode", v10 ? "asymmetric" : "half_pixel", buf, sizeof buf));
    snprintf(rm.nearest, sizeof rm.nearest, "%s",
             ox_attr_str(b, "nearest_mode", v10 ? "floor" : "round_prefer_floor", buf, sizeof buf));
    static const char *const coords[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                         "tf_half_pixel_for_nn", NULL};
    static const char *const nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil", NULL};
    bool ok = false;
    for (const char *const *c = coords; *c && !ok; c++) ok = !strcmp(*c, rm.coord);
    if (!ok) return ox_bad_attr(b, "coordinate_transformation_mode", "'%s' is not supported", rm.coord);
    ok = false;
    for (const char *const *c = nearests; *c && !ok; c++) ok = !strcmp(*c, rm.nearest);
    if (!ok) return ox_bad_attr(b, "nearest_mode", "'%s' is not supported", rm.nearest);
    if (strcmp(mode, "nearest") && strcmp(mode, "linear"))
        return ox_bad_attr(b, "mode", "'%s' is not supported (nearest or linear)", mode);
    rm.linear = !strcmp(mode, "linear");
    if (ox_attr_int(b, "exclude_outside", 0)) return ox_bad_attr(b, "exclude_outside", "1 is not supported");
    if (rm.linear && x->dt != DAGL_F32 && x->dt != DAGL_F64) return ox_fail(b, DAGL_E_DTYPE, "linear mode needs float data");
    int64_t lshape[DAGL_MAX_DIMS], out[DAGL_MAX_DIMS];
    double scale[DAGL_MAX_DIMS];
    static const int phys[4] = {0, 3, 1, 2}; /* ONNX dim -> stored dim of an NHWC value */
    for (int d = 0; d < x->ndim; d++) lshape[d] = x->nhwc ? x->shape[phys[d]] : x->shape[d];
    dagl_status st = sizes_of(b, x, lshape, out, scale);
    if (st) return st;
    bool nhwc = x->nhwc && out[0] == lshape[0] && out[1] == lshape[1];
    if (!nhwc) x = ox_plain(b, x);
    for (int d = 0; d < x->ndim && x; d++) {
        if (out[d] == lshape[d] && scale[d] == 1.0) continue;
        x = resize_axis(b, &rm, x, nhwc ? phys[d] : d, out[d], scale[d]);
        if (x) x->nhwc = nhwc;
    }
    return ox_out(b, 0, x);
}
