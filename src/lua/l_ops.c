/* l_ops.c -- math on tensors from Lua: elementwise, comparisons, reductions, matmul. Each is
 * both a method (t:exp()) and a module function (dagl.exp(t)). */
#include "ldagl.h"

#include <math.h>

/* dagl.exp(x) and friends on a traced symbol (a table) call the symbol's method of the op's
 * name; returns the result count, or -1 when arg 1 is not a table. Kept off the tensor path, so
 * module-level calls on real tensors cost no more than methods. */
int dagl_l_symbol_call(lua_State *L, dagl_op op)
{
    if (lua_type(L, 1) != LUA_TTABLE) return -1;
    int n = lua_gettop(L);
    if (lua_getfield(L, 1, dagl_op_name(op)) != LUA_TFUNCTION)
        return luaL_error(L, "bad argument #1 to '%s' (dagl.Tensor expected, got table)", dagl_op_name(op));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

/* Every unary method and function (t:exp(), dagl.exp(t)); a traced symbol goes to its own method. */
static int unary(lua_State *L, dagl_op op)
{
    CHECK_OR_SYMBOL(L, a, op)
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_unary(DAGL_LCTX(L), op, a, o), o);
}

/* Tensor-tensor or tensor-number; a number first (dagl.sub(1, t)) works too. Shared with the
 * operator metamethods. */
int dagl_l_binary(lua_State *L, dagl_op op)
{
    dagl_lstate *ls = DAGL_LSTATE(L);
    dagl_tensor *a = dagl_l_test(L, 1), *b = dagl_l_test(L, 2);
    if (!a) {
        int ret = dagl_l_symbol_call(L, op);
        if (ret >= 0) return ret;
        b = dagl_l_check(L, 2);
    }
    double s = a && b ? 0 : luaL_checknumber(L, a ? 2 : 1);
    dagl_tensor **o = dagl_l_slot(L);
    dagl_status st = a && b ? dagl_binary(ls->ctx, op, a, b, o)
                     : a    ? dagl_binary_scalar(ls->ctx, op, a, s, 0, o)
                            : dagl_binary_scalar(ls->ctx, op, b, s, 1, o);
    return dagl_l_done_s(L, ls, st, o);
}

#define UNARY(name, OP) static int l_##name(lua_State *L) { return unary(L, OP); }
#define BINARY(name, OP) static int l_##name(lua_State *L) { return dagl_l_binary(L, OP); }
UNARY(neg, DAGL_OP_NEG) UNARY(exp, DAGL_OP_EXP) UNARY(log, DAGL_OP_LOG) UNARY(sqrt, DAGL_OP_SQRT)
UNARY(abs, DAGL_OP_ABS) UNARY(tanh, DAGL_OP_TANH) UNARY(sigmoid, DAGL_OP_SIGMOID) UNARY(relu, DAGL_OP_RELU)
UNARY(erf, DAGL_OP_ERF)
BINARY(add, DAGL_OP_ADD) BINARY(sub, DAGL_OP_SUB) BINARY(mul, DAGL_OP_MUL) BINARY(div, DAGL_OP_DIV)
BINARY(pow, DAGL_OP_POW) BINARY(maximum, DAGL_OP_MAXIMUM) BINARY(minimum, DAGL_OP_MINIMUM)
BINARY(eq, DAGL_OP_EQ) BINARY(ne, DAGL_OP_NE) BINARY(lt, DAGL_OP_LT) BINARY(le, DAGL_OP_LE)
BINARY(gt, DAGL_OP_GT) BINARY(ge, DAGL_OP_GE)

/* t:clamp(lo, hi); nil means no bound on that side. */
static int l_clamp(lua_State *L)
{
    CHECK_OR_SYMBOL(L, t, DAGL_OP_CLAMP)
    double lo = luaL_optnumber(L, 2, NAN), hi = luaL_optnumber(L, 3, NAN);
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_clamp(DAGL_LCTX(L), t, lo, hi, o), o);
}

/* dagl.where(cond, a, b): numbers allowed for a and b. */
static int l_where(lua_State *L)
{
    dagl_tensor *c = dagl_l_check(L, 1), *at = dagl_l_test(L, 2), *bt = dagl_l_test(L, 3);
    dagl_dtype like = at ? dagl_tensor_dtype(at) : bt ? dagl_tensor_dtype(bt) : DAGL_F32;
    dagl_tensor *a = dagl_l_operand(L, 2, like), *b = dagl_l_operand(L, 3, like);
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_where(DAGL_LCTX(L), c, a, b, o), o);
}

/* Reductions: t:sum(), t:sum(dim), t:sum({d1, d2}, keepdim). */
static int reduce(lua_State *L, dagl_op op)
{
    CHECK_OR_SYMBOL(L, t, op)
    int nd = dagl_tensor_ndim(t), dims[DAGL_MAX_DIMS], n = 0;
    if (lua_istable(L, 2)) {
        n = (int)luaL_len(L, 2);
        luaL_argcheck(L, n <= nd, 2, "more dims than the tensor has");
        for (int i = 0; i < n; i++) {
            lua_geti(L, 2, i + 1);
            dims[i] = dagl_l_dim(L, -1, nd, t);
            lua_pop(L, 1);
        }
    } else if (!lua_isnoneornil(L, 2)) {
        dims[n++] = dagl_l_dim(L, 2, nd, t);
    }
    int keepdim = lua_toboolean(L, 3);
    int correction = (int)luaL_optinteger(L, 4, 1);
    dagl_tensor **o = dagl_l_slot(L);
    dagl_l_done(L, dagl_reduce(DAGL_LCTX(L), op, t, dims, n, keepdim, correction, o), o);
    if ((op == DAGL_OP_ARGMAX || op == DAGL_OP_ARGMIN) && dagl_tensor_dtype(*o) == DAGL_I64 &&
        dagl_tensor_is_contiguous(*o)) {
        /* the core's indices are 0-based; Lua's are 1-based (t[t:argmax():item()] is the max) */
        int64_t *p = dagl_tensor_data(*o);
        for (int64_t i = 0, k = dagl_tensor_numel(*o); i < k; i++) p[i] += 1;
    }
    return 1;
}

#define REDUCE(name, OP) static int l_##name(lua_State *L) { return reduce(L, OP); }
REDUCE(sum, DAGL_OP_SUM) REDUCE(mean, DAGL_OP_MEAN) REDUCE(max, DAGL_OP_MAX) REDUCE(min, DAGL_OP_MIN)
REDUCE(argmax, DAGL_OP_ARGMAX) REDUCE(argmin, DAGL_OP_ARGMIN) REDUCE(var, DAGL_OP_VAR)

/* t:matmul(b) / dagl.matmul(a, b); a traced symbol goes to its own method */
static int l_matmul(lua_State *L)
{
    CHECK_OR_SYMBOL(L, a, DAGL_OP_MATMUL)
    dagl_tensor *b = dagl_l_check(L, 2), **o = dagl_l_slot(L);
    dagl_lstate *ls = DAGL_LSTATE(L);
    /* a big product is real work: let other threads run Lua meanwhile, as CPython extensions
     * release the GIL (the operands are anchored on this stack, so they stay alive) */
    int64_t work = dagl_tensor_numel(a) * dagl_tensor_numel(b);
    bool big = work > (int64_t)1 << 20;
    if (big) dagl_l_unlock(ls);
    dagl_status st = dagl_matmul(ls->ctx, a, b, o);
    if (big) dagl_l_relock(ls, L);
    return dagl_l_done_s(L, ls, st, o);
}

/* t:softmax([dim]) / t:log_softmax([dim]): along dim (1-based, negative from the end; default the last). */
static int softmax(lua_State *L, dagl_op op)
{
    CHECK_OR_SYMBOL(L, t, op)
    int nd = dagl_tensor_ndim(t);
    int dim = lua_isnoneornil(L, 2) ? -1 : nd == 0 ? -1 : dagl_l_dim(L, 2, nd, t);
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_softmax(DAGL_LCTX(L), op, t, dim, o), o);
}
/* t:softmax([dim]) and t:log_softmax([dim]): softmax() with the op */
static int l_softmax(lua_State *L) { return softmax(L, DAGL_OP_SOFTMAX); }
static int l_log_softmax(lua_State *L) { return softmax(L, DAGL_OP_LOG_SOFTMAX); }

const luaL_Reg dagl_l_op_methods[] = {
    {"neg", l_neg},         {"exp", l_exp},         {"log", l_log},       {"sqrt", l_sqrt},
    {"abs", l_abs},         {"tanh", l_tanh},       {"sigmoid", l_sigmoid}, {"relu", l_relu},
    {"erf", l_erf},
    {"add", l_add},         {"sub", l_sub},         {"mul", l_mul},       {"div", l_div},
    {"pow", l_pow},         {"maximum", l_maximum}, {"minimum", l_minimum},
    {"eq", l_eq},           {"ne", l_ne},           {"lt", l_lt},         {"le", l_le},
    {"gt", l_gt},           {"ge", l_ge},           {"clamp", l_clamp},   {"where", l_where},
    {"sum", l_sum},         {"mean", l_mean},       {"max", l_max},       {"min", l_min},
    {"argmax", l_argmax},   {"argmin", l_argmin},   {"var", l_var},       {"matmul", l_matmul},
    {"softmax", l_softmax}, {"log_softmax", l_log_softmax},
    {NULL, NULL},
};
