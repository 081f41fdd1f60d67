/* registry.c -- the table of op importers: which ONNX op types dagl imports, from which opset,
 * the function that does it and the attributes it reads (any other attribute is refused, naming
 * it). dagl_onnx_load refuses a model with an op not listed here. */
#include "onnx_int.h"

#include <string.h>

#define WINDOW "auto_pad kernel_shape pads strides"

static const ox_importer importers[] = {
    /* elementwise */
    {"Neg", 7, ox_import_unary, ""}, {"Exp", 7, ox_import_unary, ""}, {"Log", 7, ox_import_unary, ""},
    {"Sqrt", 7, ox_import_unary, ""}, {"Abs", 7, ox_import_unary, ""}, {"Tanh", 7, ox_import_unary, ""},
    {"Sigmoid", 7, ox_import_unary, ""}, {"Relu", 7, ox_import_unary, ""}, {"Erf", 9, ox_import_unary, ""},
    {"Add", 7, ox_import_binary, ""}, {"Sub", 7, ox_import_binary, ""}, {"Mul", 7, ox_import_binary, ""},
    {"Div", 7, ox_import_binary, ""}, {"Pow", 7, ox_import_binary, ""}, {"Max", 7, ox_import_binary, ""},
    {"Min", 7, ox_import_binary, ""},
    {"Equal", 7, ox_import_compare, ""}, {"Less", 7, ox_import_compare, ""}, {"Greater", 7, ox_import_compare, ""},
    {"LessOrEqual", 12, ox_import_compare, ""}, {"GreaterOrEqual", 12, ox_import_compare, ""},
    {"Where", 9, ox_import_where, ""},
    {"LeakyRelu", 7, ox_import_activation, "alpha"}, {"Elu", 7, ox_import_activation, "alpha"},
    {"Selu", 7, ox_import_activation, "alpha gamma"}, {"HardSigmoid", 7, ox_import_activation, "alpha beta"},
    {"Softplus", 7, ox_import_activation, ""},
    {"Gelu", 7, ox_import_activation, "approximate"}, /* standard from opset 20; exporters emit it earlier */
    {"Clip", 7, ox_import_clip, "min max"},
    /* linear algebra */
    {"Gemm", 7, ox_import_gemm, "alpha beta transA transB"}, {"MatMul", 7, ox_import_matmul, ""},
    {"Einsum", 12, ox_import_einsum, "equation"},
    /* convolutions, pools, normalization */
    {"Conv", 7, ox_import_conv, WINDOW " dilations group"},
    {"ConvTranspose", 7, ox_import_conv_transpose, WINDOW " dilations group output_padding output_shape"},
    {"MaxPool", 7, ox_import_pool, WINDOW " ceil_mode dilations storage_order"},
    {"AveragePool", 7, ox_import_pool, WINDOW " ceil_mode count_include_pad"},
    {"GlobalAveragePool", 7, ox_import_global_pool, ""}, {"GlobalMaxPool", 7, ox_import_global_pool, ""},
    {"BatchNormalization", 7, ox_import_batchnorm, "epsilon momentum spatial training_mode"},
    /* shapes and data movement */
    {"Identity", 7, ox_import_identity, ""}, {"Dropout", 7, ox_import_identity, "ratio seed"},
    {"Flatten", 7, ox_import_flatten, "axis"}, {"Reshape", 7, ox_import_reshape, "allowzero"},
    {"Transpose", 7, ox_import_transpose, "perm"}, {"Squeeze", 7, ox_import_squeeze, "axes"},
    {"Unsqueeze", 7, ox_import_unsqueeze, "axes"}, {"Shape", 7, ox_import_shape, "start end"},
    {"Constant", 7, ox_import_constant,
     "value value_float value_floats value_int value_ints sparse_value value_string value_strings"},
    {"ConstantOfShape", 9, ox_import_constant_of_shape, "value"}, {"Cast", 7, ox_import_cast, "to"},
    {"Expand", 8, ox_import_expand, ""}, {"Concat", 7, ox_import_concat, "axis"},
    {"Pad", 7, ox_import_pad, "mode pads value"}, {"Split", 7, ox_import_split, "axis split"},
    {"Slice", 7, ox_import_slice, "starts ends axes"}, {"Gather", 7, ox_import_gather, "axis"},
    {"Resize", 10, ox_import_resize,
     "mode coordinate_transformation_mode nearest_mode cubic_coeff_a exclude_outside extrapolation_value"},
    {"LayerNormalization", 17, ox_import_layernorm, "axis epsilon stash_type"},
    {"InstanceNormalization", 7, ox_import_instancenorm, "epsilon"},
    {"Not", 7, ox_import_logic, ""}, {"And", 7, ox_import_logic, ""}, {"Or", 7, ox_import_logic, ""},
    {"Xor", 7, ox_import_logic, ""},
    {"Tile", 7, ox_import_tile, ""}, {"Range", 11, ox_import_range, ""},
    /* reductions and softmax */
    {"ReduceMean", 7, ox_import_reduce, "axes keepdims"}, {"ReduceSum", 7, ox_import_reduce, "axes keepdims noop_with_empty_axes"},
    {"ReduceMax", 7, ox_import_reduce, "axes keepdims"}, {"ReduceMin", 7, ox_import_reduce, "axes keepdims"},
    {"ArgMax", 7, ox_import_argmax, "axis keepdims select_last_index"},
    {"Softmax", 7, ox_import_softmax, "axis"}, {"LogSoftmax", 7, ox_import_softmax, "axis"},
};

/* The importer of an op type, or NULL: the load-time support check and the build's dispatch. */
const ox_importer *ox_find_importer(const char *op)
{
    for (size_t i = 0; i < sizeof importers / sizeof *importers; i++)
        if (!strcmp(importers[i].op, op)) return &importers[i];
    return NULL;
}
