/* registry.c -- the table of op importers: which ONNX op types dagl imports, from which opset,
 * and the function that does it. dagl_onnx_load refuses a model with an op not listed here. */
#include "onnx_int.h"

#include <string.h>

static const ox_importer importers[] = {
    /* elementwise */
    {"Neg", 7, ox_import_unary}, {"Exp", 7, ox_import_unary}, {"Log", 7, ox_import_unary},
    {"Sqrt", 7, ox_import_unary}, {"Abs", 7, ox_import_unary}, {"Tanh", 7, ox_import_unary},
    {"Sigmoid", 7, ox_import_unary}, {"Relu", 7, ox_import_unary}, {"Erf", 9, ox_import_unary},
    {"Add", 7, ox_import_binary}, {"Sub", 7, ox_import_binary}, {"Mul", 7, ox_import_binary},
    {"Div", 7, ox_import_binary}, {"Pow", 7, ox_import_binary}, {"Max", 8, ox_import_binary},
    {"Min", 8, ox_import_binary},
    {"Equal", 7, ox_import_compare}, {"Less", 7, ox_import_compare}, {"Greater", 7, ox_import_compare},
    {"LessOrEqual", 12, ox_import_compare}, {"GreaterOrEqual", 12, ox_import_compare},
    {"Where", 9, ox_import_where},
    {"LeakyRelu", 7, ox_import_activation}, {"Elu", 7, ox_import_activation}, {"Selu", 7, ox_import_activation},
    {"HardSigmoid", 7, ox_import_activation}, {"Softplus", 7, ox_import_activation},
    {"Gelu", 7, ox_import_activation}, /* standard from opset 20; exporters emit it earlier */
    {"Clip", 7, ox_import_clip},
    /* linear algebra */
    {"Gemm", 7, ox_import_gemm}, {"MatMul", 7, ox_import_matmul},
    /* convolutions, pools, normalization */
    {"Conv", 7, ox_import_conv}, {"MaxPool", 7, ox_import_pool}, {"AveragePool", 7, ox_import_pool},
    {"GlobalAveragePool", 7, ox_import_global_pool}, {"GlobalMaxPool", 7, ox_import_global_pool},
    {"BatchNormalization", 7, ox_import_batchnorm},
    /* shapes and data movement */
    {"Identity", 7, ox_import_identity}, {"Dropout", 7, ox_import_identity},
    {"Flatten", 7, ox_import_flatten}, {"Reshape", 7, ox_import_reshape}, {"Transpose", 7, ox_import_transpose},
    {"Squeeze", 7, ox_import_squeeze}, {"Unsqueeze", 7, ox_import_unsqueeze}, {"Shape", 7, ox_import_shape},
    {"Constant", 7, ox_import_constant}, {"ConstantOfShape", 9, ox_import_constant_of_shape},
    {"Cast", 7, ox_import_cast}, {"Expand", 8, ox_import_expand}, {"Concat", 7, ox_import_concat},
    {"Pad", 7, ox_import_pad}, {"Split", 7, ox_import_split}, {"Slice", 7, ox_import_slice}, {"Gather", 7, ox_import_gather},
    /* reductions and softmax */
    {"ReduceMean", 7, ox_import_reduce}, {"ReduceSum", 7, ox_import_reduce}, {"ReduceMax", 7, ox_import_reduce},
    {"ReduceMin", 7, ox_import_reduce}, {"ArgMax", 7, ox_import_argmax}, {"Softmax", 7, ox_import_softmax},
    {"LogSoftmax", 7, ox_import_softmax},
};

const ox_importer *ox_find_importer(const char *op)
{
    for (size_t i = 0; i < sizeof importers / sizeof *importers; i++)
        if (!strcmp(importers[i].op, op)) return &importers[i];
    return NULL;
}
