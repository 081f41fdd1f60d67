/* window.h -- the window attributes Conv and the pools share (window.c). */
#ifndef DAGL_ONNX_WINDOW_H
#define DAGL_ONNX_WINDOW_H

#include "onnx_int.h"

typedef struct ox_win {
    int k[2], s[2];
    int64_t pad[4];    /* ONNX's order: top, left, bottom, right */
    int padding;       /* dagl's VALID or SAME when the pads are SAME's */
    bool explicit_pad; /* pads that are neither none nor SAME's: padded by hand, then VALID */
} ox_win;

/* Strides, pads / auto_pad and dilations (only 1) of the current node for an input of spatial
 * size in_hw and kernel k. */
dagl_status ox_window_attrs(ox_build *b, const int64_t *in_hw, const int *k, ox_win *w);
void ox_window_to_dagl(const ox_win *w, dagl_window2d *out);
ox_value *ox_pad_axis(ox_build *b, ox_value *x, int axis, int64_t before, int64_t after, double value);
ox_value *ox_pad_hw(ox_build *b, ox_value *x, const int64_t *pad, double value);
dagl_status ox_kernel_shape(ox_build *b, int *k, bool required);

#endif
