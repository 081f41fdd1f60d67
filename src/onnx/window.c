/* window.c -- what Conv and the pools share: their window attributes (kernel, strides, pads,
 * auto_pad, dilations) turned into dagl's window, SAME when ONNX's pads are the ones TensorFlow's
 * SAME gives, else explicit padding by concatenation around an NHWC image. */
#include "onnx_int.h"

#include <stdio.h>
#include <string.h>

#include "window.h"

/* TensorFlow's SAME pads of one dim: out = ceil(in / s), the odd one at the end. */
static void same_pads(int64_t in, int k, int s, int64_t *begin, int64_t *end)
{
    int64_t out = (in + s - 1) / s, total = (out - 1) * s + k - in;
    if (total < 0) total = 0;
    *begin = total / 2;
    *end = total - *begin;
}

/* Conv's and the pools' window attributes read once, pads resolved (auto_pad included). */
dagl_status ox_window_attrs(ox_build *b, const int64_t *in_hw, const int *k, ox_win *w)
{
    int n;
    int64_t v[8];
    dagl_status st = ox_attr_ints(b, "dilations", v, 8, &n);
    if (st) return st;
    for (int i = 0; i < n; i++)
        if (v[i] != 1) return ox_bad_attr(b, "dilations", "%lld is not supported (dagl's windows have no dilation)", (long long)v[i]);
    if ((st = ox_attr_ints(b, "strides", v, 8, &n))) return st;
    if (n >= 0 && n != 2) return ox_bad_attr(b, "strides", "%d values for a 2-D window", n);
    for (int d = 0; d < 2; d++) {
        w->k[d] = k[d];
        w->s[d] = n == 2 ? (int)v[d] : 1;
        if (w->s[d] < 1 || (n == 2 && v[d] > 1 << 20)) return ox_bad_attr(b, "strides", "%lld must be at least 1", (long long)v[d]);
        if (k[d] < 1) return ox_bad_attr(b, "kernel_shape", "%d must be at least 1", k[d]);
    }
    char buf[32];
    const char *ap = ox_attr_str(b, "auto_pad", "NOTSET", buf, sizeof buf);
    memset(w->pad, 0, sizeof w->pad);
    if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
        for (int d = 0; d < 2; d++) {
            same_pads(in_hw[d], k[d], w->s[d], &w->pad[d], &w->pad[d + 2]);
            if (ap[5] == 'L') { int64_t t = w->pad[d]; w->pad[d] = w->pad[d + 2]; w->pad[d + 2] = t; }
        }
    } else if (!strcmp(ap, "NOTSET")) {
        if ((st = ox_attr_ints(b, "pads", v, 8, &n))) return st;
        if (n >= 0 && n != 4) return ox_bad_attr(b, "pads", "%d values for a 2-D window (4 expected)", n);
        for (int i = 0; n == 4 && i < 4; i++) {
            if (v[i] < 0 || v[i] > 1 << 20) return ox_bad_attr(b, "pads", "%lld is not supported", (long long)v[i]);
            w->pad[i] = v[i];
        }
    } else if (strcmp(ap, "VALID")) {
        return ox_bad_attr(b, "auto_pad", "'%s' (NOTSET, SAME_UPPER, SAME_LOWER or VALID)", ap);
    }
    w->padding = DAGL_PAD_VALID;
    bool zero = true, same = true;
    for (int d = 0; d < 2; d++) {
        int64_t sb, se;
        same_pads(in_hw[d], k[d], w->s[d], &sb, &se);
        zero &= !w->pad[d] && !w->pad[d + 2];
        same &= sb == w->pad[d] && se == w->pad[d + 2];
    }
    w->explicit_pad = !zero && !same;
    if (!zero && same) w->padding = DAGL_PAD_SAME;
    return DAGL_OK;
}

/* dagl's window of a resolved ONNX window (VALID when the pads are added by hand). */
void ox_window_to_dagl(const ox_win *w, dagl_window2d *out)
{
    out->size[0] = w->k[0], out->size[1] = w->k[1];
    out->strides[0] = w->s[0], out->strides[1] = w->s[1];
    out->padding = w->explicit_pad ? DAGL_PAD_VALID : w->padding;
}

/* x with `before` and `after` elements of value added along axis (a concat with constants). */
ox_value *ox_pad_axis(ox_build *b, ox_value *x, int axis, int64_t before, int64_t after, double value)
{
    if (!x || (!before && !after)) return x;
    bool nhwc = x->nhwc;
    ox_value *parts[3];
    int np = 0;
    int64_t s[DAGL_MAX_DIMS];
    memcpy(s, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    if (before) {
        s[axis] = before;
        parts[np++] = ox_full(b, x->dt, x->ndim, s, value);
    }
    parts[np++] = x;
    if (after) {
        s[axis] = after;
        parts[np++] = ox_full(b, x->dt, x->ndim, s, value);
    }
    for (int i = 0; i < np; i++)
        if (!parts[i]) return NULL;
    ox_value *y = ox_concat(b, np, parts, axis);
    if (y) y->nhwc = nhwc;
    return y;
}

/* x (NHWC) with pad[0..3] (top, left, bottom, right) rows/cols of value around. */
ox_value *ox_pad_hw(ox_build *b, ox_value *x, const int64_t *pad, double value)
{
    x = ox_pad_axis(b, x, 1, pad[0], pad[2], value);
    return ox_pad_axis(b, x, 2, pad[1], pad[3], value);
}

/* The kernel size from kernel_shape (2 values), checked. */
dagl_status ox_kernel_shape(ox_build *b, int *k, bool required)
{
    int64_t v[8];
    int n;
    dagl_status st = ox_attr_ints(b, "kernel_shape", v, 8, &n);
    if (st) return st;
    if (n < 0 && !required) return DAGL_OK;
    if (n != 2)
        return ox_bad_attr(b, "kernel_shape", n < 0 ? "missing" : "%d dims: dagl imports 2-D windows only", n);
    for (int d = 0; d < 2; d++) {
        if (v[d] < 1 || v[d] > 1 << 16) return ox_bad_attr(b, "kernel_shape", "%lld is out of range", (long long)v[d]);
        k[d] = (int)v[d];
    }
    return DAGL_OK;
}
