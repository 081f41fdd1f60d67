/* op_table.c -- the name, kind and operand count of every op, indexed by dagl_op. */
#include "kernels.h"

static const dagl__op_info op_info[] = {
    [DAGL_OP_NONE] = {"none", DAGL__OPK_NONE, 0},
    [DAGL_OP_NEG] = {"neg", DAGL__OPK_UNARY, 1},
    [DAGL_OP_EXP] = {"exp", DAGL__OPK_UNARY, 1},
    [DAGL_OP_LOG] = {"log", DAGL__OPK_UNARY, 1},
    [DAGL_OP_SQRT] = {"sqrt", DAGL__OPK_UNARY, 1},
    [DAGL_OP_ABS] = {"abs", DAGL__OPK_UNARY, 1},
    [DAGL_OP_TANH] = {"tanh", DAGL__OPK_UNARY, 1},
    [DAGL_OP_SIGMOID] = {"sigmoid", DAGL__OPK_UNARY, 1},
    [DAGL_OP_RELU] = {"relu", DAGL__OPK_UNARY, 1},
    [DAGL_OP_ERF] = {"erf", DAGL__OPK_UNARY, 1},
    [DAGL_OP_ADD] = {"add", DAGL__OPK_BINARY, 2},
    [DAGL_OP_SUB] = {"sub", DAGL__OPK_BINARY, 2},
    [DAGL_OP_MUL] = {"mul", DAGL__OPK_BINARY, 2},
    [DAGL_OP_DIV] = {"div", DAGL__OPK_BINARY, 2},
    [DAGL_OP_POW] = {"pow", DAGL__OPK_BINARY, 2},
    [DAGL_OP_MAXIMUM] = {"maximum", DAGL__OPK_BINARY, 2},
    [DAGL_OP_MINIMUM] = {"minimum", DAGL__OPK_BINARY, 2},
    [DAGL_OP_EQ] = {"eq", DAGL__OPK_COMPARE, 2},
    [DAGL_OP_NE] = {"ne", DAGL__OPK_COMPARE, 2},
    [DAGL_OP_LT] = {"lt", DAGL__OPK_COMPARE, 2},
    [DAGL_OP_LE] = {"le", DAGL__OPK_COMPARE, 2},
    [DAGL_OP_GT] = {"gt", DAGL__OPK_COMPARE, 2},
    [DAGL_OP_GE] = {"ge", DAGL__OPK_COMPARE, 2},
    [DAGL_OP_CLAMP] = {"clamp", DAGL__OPK_OTHER, 1},
    [DAGL_OP_WHERE] = {"where", DAGL__OPK_OTHER, 3},
    [DAGL_OP_SUM] = {"sum", DAGL__OPK_REDUCE, 1},
    [DAGL_OP_MEAN] = {"mean", DAGL__OPK_REDUCE, 1},
    [DAGL_OP_MAX] = {"max", DAGL__OPK_REDUCE, 1},
    [DAGL_OP_MIN] = {"min", DAGL__OPK_REDUCE, 1},
    [DAGL_OP_ARGMAX] = {"argmax", DAGL__OPK_REDUCE, 1},
    [DAGL_OP_ARGMIN] = {"argmin", DAGL__OPK_REDUCE, 1},
    [DAGL_OP_VAR] = {"var", DAGL__OPK_REDUCE, 1},
    [DAGL_OP_MATMUL] = {"matmul", DAGL__OPK_OTHER, 2},
    [DAGL_OP_RESHAPE] = {"reshape", DAGL__OPK_OTHER, 1},
    [DAGL_OP_PERMUTE] = {"permute", DAGL__OPK_OTHER, 1},
    [DAGL_OP_EXPAND] = {"expand", DAGL__OPK_OTHER, 1},
    [DAGL_OP_SLICE] = {"slice", DAGL__OPK_OTHER, 1},
    [DAGL_OP_CONCAT] = {"concat", DAGL__OPK_OTHER, -1},
    [DAGL_OP_SLICE_SCATTER] = {"slice_scatter", DAGL__OPK_OTHER, 1},
    [DAGL_OP_GATHER] = {"gather", DAGL__OPK_OTHER, 2},
    [DAGL_OP_INDEX_ADD] = {"index_add", DAGL__OPK_OTHER, 2},
    [DAGL_OP_DROPOUT_MASK] = {"dropout_mask", DAGL__OPK_OTHER, 1},
    [DAGL_OP_CONV2D] = {"conv2d", DAGL__OPK_OTHER, 2},
    [DAGL_OP_CONV2D_GRAD_INPUT] = {"conv2d_grad_input", DAGL__OPK_OTHER, 2},
    [DAGL_OP_CONV2D_GRAD_KERNEL] = {"conv2d_grad_kernel", DAGL__OPK_OTHER, 2},
    [DAGL_OP_MAXPOOL2D] = {"max_pool2d", DAGL__OPK_OTHER, 1},
    [DAGL_OP_AVGPOOL2D] = {"avg_pool2d", DAGL__OPK_OTHER, 1},
    [DAGL_OP_MAXPOOL2D_GRAD] = {"max_pool2d_grad", DAGL__OPK_OTHER, 2},
    [DAGL_OP_AVGPOOL2D_GRAD] = {"avg_pool2d_grad", DAGL__OPK_OTHER, 2},
    [DAGL_OP_SOFTMAX] = {"softmax", DAGL__OPK_OTHER, 1},
    [DAGL_OP_LOG_SOFTMAX] = {"log_softmax", DAGL__OPK_OTHER, 1},
    [DAGL_OP_ASSIGN] = {"assign", DAGL__OPK_OTHER, 2},
    [DAGL_OP_CUSTOM] = {"custom", DAGL__OPK_OTHER, -1},
};
_Static_assert(sizeof op_info / sizeof *op_info == DAGL_OP_COUNT, "one op_info entry per dagl_op");

/* Bounds-checked lookup, so a bad op from a caller gives "none" instead of a wild read. */
const dagl__op_info *dagl__op_info_of(dagl_op op)
{
    return (unsigned)op < DAGL_OP_COUNT ? &op_info[op] : &op_info[DAGL_OP_NONE];
}

/* The public name of an op, as used in error messages, graph dumps and the Lua API. */
const char *dagl_op_name(dagl_op op)
{
    return dagl__op_info_of(op)->name;
}
