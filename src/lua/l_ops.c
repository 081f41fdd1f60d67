/* l_ops.c -- the op list's LUA rows as Lua methods (t:exp()) and module functions (dagl.exp(t)):
 * one binding per op, generated from DAGL_OP_LIST by the op's class, each reading its arguments
 * through the front end (l_front.c), so real tensors and traced symbols take the same path. */
#include "ldagl.h"

#include <math.h>

/* Unary: x. */
static int front_unary(lua_State *L, dagl_op op)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    dagl_node_params p;
    dagl_node_params_init(&p);
    return dagl_l_apply(L, op, 1, &a, &p);
}

/* Tensor-tensor or tensor-number, the number on either side (dagl.sub(1, t)); shared with the
 * operator metamethods. Two real tensors, or a tensor and a number, go straight to the kernels:
 * the hot path of eager code. */
int dagl_l_binary(lua_State *L, dagl_op op)
{
    dagl_lstate *ls = DAGL_LSTATE(L);
    dagl_tensor *a = dagl_l_test(L, 1), *b = dagl_l_test(L, 2);
    if (a && b) {
        dagl_tensor **o = dagl_l_slot(L);
        return dagl_l_done_s(L, ls, dagl_binary(ls->ctx, op, a, b, o), o);
    }
    if ((a || b) && lua_type(L, a ? 2 : 1) == LUA_TNUMBER) {
        double s = lua_tonumber(L, a ? 2 : 1);
        dagl_tensor **o = dagl_l_slot(L);
        return dagl_l_done_s(L, ls, dagl_binary_scalar(ls->ctx, op, a ? a : b, s, !a, o), o);
    }
    dagl_node_params p;
    dagl_node_params_init(&p);
    dagl_l_arg args[2];
    int first_num = lua_type(L, 1) == LUA_TNUMBER, second_num = lua_type(L, 2) == LUA_TNUMBER;
    if (first_num || second_num) {
        dagl_l_arg_check(L, first_num ? 2 : 1, &args[0]);
        p.has_scalar = 1;
        p.scalar = lua_tonumber(L, first_num ? 1 : 2);
        p.scalar_first = first_num;
        return dagl_l_apply(L, op, 1, args, &p);
    }
    dagl_l_arg_check(L, 1, &args[0]);
    dagl_l_arg_check(L, 2, &args[1]);
    return dagl_l_apply(L, op, 2, args, &p);
}

/* t:clamp(lo, hi); nil means no bound on that side. */
static int front_clamp(lua_State *L, dagl_op op)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.lo = luaL_optnumber(L, 2, NAN);
    p.hi = luaL_optnumber(L, 3, NAN);
    return dagl_l_apply(L, op, 1, &a, &p);
}

/* dagl.where(cond, a, b): numbers for a and b become 0-d tensors of the other's dtype. */
static int front_where(lua_State *L, dagl_op op)
{
    dagl_l_arg args[3];
    dagl_l_arg_check(L, 1, &args[0]);
    dagl_dtype like = DAGL_F32;
    if (dagl_l_arg_test(L, 2, &args[1])) like = args[1].dtype;
    else if (dagl_l_arg_test(L, 3, &args[2])) like = args[2].dtype;
    lua_settop(L, 3);
    dagl_l_arg_or_number(L, 2, like, &args[1]);
    dagl_l_arg_or_number(L, 3, like, &args[2]);
    dagl_node_params p;
    dagl_node_params_init(&p);
    return dagl_l_apply(L, op, 3, args, &p);
}

/* Reads the dims of a reduction at idx (nil: all; a number; a list), 1-based as written, each
 * checked against x's shape and for repeats. */
static int read_dims(lua_State *L, int idx, const dagl_l_arg *x, int *dims)
{
    int n = 0;
    lua_Integer written[DAGL_MAX_DIMS];
    if (lua_istable(L, idx)) {
        int given = (int)luaL_len(L, idx);
        if (given > x->ndim) {
            char b[160];
            return luaL_error(L, "%s: %d dims given for a tensor of shape %s", dagl_l_func_name(L), given,
                              dagl_shape_str(x->ndim, x->shape, b, sizeof b));
        }
        for (int i = 0; i < given; i++) {
            lua_geti(L, idx, i + 1);
            written[n] = lua_tointeger(L, -1);
            dims[n++] = dagl_l_dim(L, -1, x->ndim, x->shape, x->ndim);
            lua_pop(L, 1);
        }
    } else if (!lua_isnoneornil(L, idx)) {
        dims[n++] = dagl_l_dim(L, idx, x->ndim, x->shape, x->ndim);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (dims[i] == dims[j]) {
                char b[160];
                return luaL_error(L, "%s: dimension %d is given twice (as %d and %d) for a tensor of shape %s",
                                  dagl_l_func_name(L), (int)written[i], (int)written[j], (int)written[i],
                                  dagl_shape_str(x->ndim, x->shape, b, sizeof b));
            }
    return n;
}

/* Reads a boolean at idx (nil: false) for `what`'s argument `name`; anything else raises (a table
 * there is usually a PyTorch habit: t:sum(2, {keepdim = true})), which the caller takes apart). */
static int read_flag(lua_State *L, int idx, const char *name)
{
    if (lua_isnoneornil(L, idx)) return 0;
    if (!lua_isboolean(L, idx))
        return luaL_error(L, "%s: %s must be true or false, got a %s", dagl_l_func_name(L), name, luaL_typename(L, idx));
    return lua_toboolean(L, idx);
}

/* A reduction's keepdim and correction: positional (t:var(dims, keepdim, correction)) or, as
 * PyTorch users write them, an options table after the dims: {keepdim = true, correction = 0}
 * (also unbiased = false, torch's older spelling of correction 0). Unknown options raise with the
 * nearest valid name. */
static void read_reduce_flags(lua_State *L, dagl_op op, dagl_node_params *p)
{
    bool var = op == DAGL_OP_VAR;
    p->correction = 1;
    if (!lua_istable(L, 3)) {
        p->keepdim = read_flag(L, 3, "keepdim");
        if (var) p->correction = (int)luaL_optinteger(L, 4, 1);
        else if (!lua_isnoneornil(L, 4))
            luaL_error(L, "%s: takes (dims, keepdim) or (dims, {keepdim = }), got a 4th argument", dagl_l_func_name(L));
        return;
    }
    static const char *const all[] = {"keepdim", "correction", "unbiased", NULL}, *const kd[] = {"keepdim", NULL};
    dagl_l_check_options(L, 3, dagl_l_func_name(L), var ? all : kd);
    lua_getfield(L, 3, "keepdim");
    p->keepdim = read_flag(L, -1, "keepdim");
    lua_getfield(L, 3, "unbiased");
    lua_getfield(L, 3, "correction");
    if (!lua_isnil(L, -1) && !lua_isnil(L, -2))
        luaL_error(L, "%s: give correction or unbiased, not both", dagl_l_func_name(L));
    if (!lua_isnil(L, -1)) p->correction = (int)luaL_checkinteger(L, -1);
    else if (!lua_isnil(L, -2)) p->correction = read_flag(L, -2, "unbiased");
    lua_pop(L, 3);
}

/* Reductions: t:sum(), t:sum(dim), t:sum({d1, d2}, keepdim), t:var(dim, keepdim, correction),
 * or the flags as options: t:var(dim, {keepdim = true, correction = 0}).
 * argmax/argmin give 1-based indices (t[t:argmax():item()] is the max), traced too. */
static int front_reduce(lua_State *L, dagl_op op)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.ndims = read_dims(L, 2, &a, p.dims);
    read_reduce_flags(L, op, &p);
    dagl_l_apply(L, op, 1, &a, &p);
    if (op != DAGL_OP_ARGMAX && op != DAGL_OP_ARGMIN) return 1;
    dagl_l_arg r;
    dagl_l_arg_check(L, -1, &r);
    if (r.sym) { /* the traced result + 1 */
        dagl_node_params one;
        dagl_node_params_init(&one);
        one.has_scalar = 1;
        one.scalar = 1;
        int idx = r.idx;
        return dagl_l_emit(L, DAGL_OP_ADD, 1, &idx, &one);
    }
    if (dagl_tensor_is_contiguous(r.t)) { /* the core's indices are 0-based; Lua's are 1-based */
        int64_t *q = dagl_tensor_data(r.t);
        for (int64_t i = 0, k = dagl_tensor_numel(r.t); i < k; i++) q[i] += 1;
    }
    return 1;
}

/* t:matmul(b) / dagl.matmul(a, b). A big product is real work: other threads may run Lua
 * meanwhile, as CPython extensions release the GIL (the operands are anchored on the stack). */
static int front_matmul(lua_State *L, dagl_op op)
{
    dagl_l_arg args[2];
    dagl_l_arg_check(L, 1, &args[0]);
    dagl_l_arg_check(L, 2, &args[1]);
    if (args[0].sym || args[1].sym) {
        dagl_node_params p;
        dagl_node_params_init(&p);
        return dagl_l_apply(L, op, 2, args, &p);
    }
    dagl_tensor **o = dagl_l_slot(L);
    dagl_lstate *ls = DAGL_LSTATE(L);
    bool big = dagl_tensor_numel(args[0].t) * dagl_tensor_numel(args[1].t) > (int64_t)1 << 20;
    if (big) dagl_l_unlock(ls);
    dagl_status st = dagl_matmul(ls->ctx, args[0].t, args[1].t, o);
    if (big) dagl_l_relock(ls, L);
    return dagl_l_done_s(L, ls, st, o);
}

/* t:softmax([dim]) / t:log_softmax([dim]): along dim (1-based, negative from the end; default the last). */
static int front_softmax(lua_State *L, dagl_op op)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.axis = lua_isnoneornil(L, 2) || a.ndim == 0 ? -1 : dagl_l_dim(L, 2, a.ndim, a.shape, a.ndim);
    return dagl_l_apply(L, op, 1, &a, &p);
}

/* t:cumsum(dim, {reverse = false}) (dim required, as torch's) and t:argsort(dim = -1,
 * descending = false) / t:argsort(dim, {descending =, stable =}): positions 1-based, as argmax's;
 * the sort is always stable. */
static int front_along(lua_State *L, dagl_op op)
{
    bool sum = op == DAGL_OP_CUMSUM;
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    dagl_node_params p;
    dagl_node_params_init(&p);
    if (sum && lua_isnoneornil(L, 2)) return luaL_error(L, "cumsum: takes the dim to sum along: t:cumsum(dim)");
    p.axis = lua_isnoneornil(L, 2) || a.ndim == 0 ? -1 : dagl_l_dim(L, 2, a.ndim, a.shape, a.ndim);
    p.index_base = sum ? 0 : 1;
    const char *flag = sum ? "reverse" : "descending";
    if (lua_istable(L, 3)) {
        static const char *const sum_opts[] = {"reverse", NULL}, *const sort_opts[] = {"descending", "stable", NULL};
        dagl_l_check_options(L, 3, dagl_op_name(op), sum ? sum_opts : sort_opts);
        lua_getfield(L, 3, flag);
        lua_replace(L, 3);
    }
    if (!lua_isnoneornil(L, 3) && !lua_isboolean(L, 3))
        return luaL_error(L, "%s: %s must be true or false, got a %s", dagl_op_name(op), flag, luaL_typename(L, 3));
    if (!lua_isnoneornil(L, 4)) return luaL_error(L, "%s: takes (dim, {%s = }), got more arguments", dagl_op_name(op), flag);
    p.reverse = lua_toboolean(L, 3);
    return dagl_l_apply(L, op, 1, &a, &p);
}

/* x:conv2d(k, {strides=, padding=}); x:max_pool2d(opts) and x:avg_pool2d(opts), where opts is
 * {pool_size=, strides=, padding=} or just the pool size (default 2, as Keras's). Convolution
 * is real work: the VM lock is released around big ones. */
static int front_window(lua_State *L, dagl_op op)
{
    bool conv = op == DAGL_OP_CONV2D;
    dagl_l_arg args[2];
    dagl_l_arg_check(L, 1, &args[0]);
    if (conv) dagl_l_arg_check(L, 2, &args[1]);
    int oi = conv ? 3 : 2;
    dagl_node_params p;
    dagl_node_params_init(&p);
    if (!conv && lua_type(L, oi) == LUA_TNUMBER) {
        lua_Integer n = luaL_checkinteger(L, oi);
        if (n < 1) return luaL_error(L, "%s: pool_size must be at least 1, got %d", dagl_op_name(op), (int)n);
        p.window.size[0] = p.window.size[1] = (int)n;
    } else {
        static const char *const conv_opts[] = {"strides", "padding", NULL};
        static const char *const pool_opts[] = {"pool_size", "strides", "padding", NULL};
        if (lua_istable(L, oi)) dagl_l_check_options(L, oi, dagl_op_name(op), conv ? conv_opts : pool_opts);
        dagl_l_window(L, oi, &p.window, dagl_op_name(op));
        if (!conv && p.window.size[0] == 0) p.window.size[0] = p.window.size[1] = 2;
    }
    if (!conv || args[0].sym) return dagl_l_apply(L, op, conv ? 2 : 1, args, &p);
    if (args[1].sym) return dagl_l_apply(L, op, 2, args, &p);
    dagl_tensor **o = dagl_l_slot(L);
    dagl_lstate *ls = DAGL_LSTATE(L);
    bool big = dagl_tensor_numel(args[0].t) * dagl_tensor_numel(args[1].t) > (int64_t)1 << 20;
    if (big) dagl_l_unlock(ls);
    dagl_status st = dagl_conv2d(ls->ctx, args[0].t, args[1].t, &p.window, o);
    if (big) dagl_l_relock(ls, L);
    return dagl_l_done_s(L, ls, st, o);
}

/* One lua_CFunction per LUA row of the op list, calling its class's front end with the op. */
#define BIND_LUA(E, name, cls) static int l_##name(lua_State *L) { return FRONT_##cls(L, DAGL_OP_##E); }
#define BIND_HAND(E, name, cls)
#define BIND_NOLUA(E, name, cls)
#define FRONT_UNARY front_unary
#define FRONT_BINARY dagl_l_binary /* binary and compare ops take the same arguments */
#define FRONT_COMPARE dagl_l_binary
#define FRONT_CLAMP front_clamp
#define FRONT_WHERE front_where
#define FRONT_REDUCE front_reduce
#define FRONT_MATMUL front_matmul
#define FRONT_SOFTMAX front_softmax
#define FRONT_ALONG front_along
#define FRONT_WINDOW front_window
#define BIND(E, name, cls, dt, lua) BIND_##lua(E, name, cls)
DAGL_OP_LIST(BIND)

#define REG_LUA(name) {#name, l_##name},
#define REG_HAND(name)
#define REG_NOLUA(name)
#define REG(E, name, cls, dt, lua) REG_##lua(name)
const luaL_Reg dagl_l_op_methods[] = {DAGL_OP_LIST(REG){NULL, NULL}};
