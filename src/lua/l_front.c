/* l_front.c -- the one argument front end of every op binding: operands that are real tensors
 * or traced symbols (lua/dagl/fn.lua) are read alike, so each binding normalizes and checks its
 * arguments once and then either runs the op (dagl_op_apply) or, when an operand is a symbol,
 * adds the same op with the same params to the symbol's trace. Eager and traced calls thus give
 * the same results and the same error messages. */
#include "ldagl.h"

#include <math.h>
#include <string.h>

#define SYMBOL_KEY "dagl.Symbol" /* registry: the symbols' metatable */
#define EMIT_KEY "dagl.emit"     /* registry: fn.lua's emit(op, params, operands...) */

/* core.set_symbol_class(mt, emit): how fn.lua tells the binding what a symbol is and how to add
 * a node to a symbol's trace. */
static int l_set_symbol_class(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    lua_setfield(L, LUA_REGISTRYINDEX, EMIT_KEY);
    lua_setfield(L, LUA_REGISTRYINDEX, SYMBOL_KEY);
    return 0;
}

int dagl_l_is_symbol(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return 0;
    lua_getfield(L, LUA_REGISTRYINDEX, SYMBOL_KEY);
    int yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* A symbol's dtype and shape, from its fields _dtype and shape (fn.lua's new_sym sets them). */
static void read_symbol(lua_State *L, int idx, dagl_l_arg *a)
{
    lua_getfield(L, idx, "_dtype");
    a->dtype = dagl_l_dtype(L, -1, DAGL_F32);
    lua_getfield(L, idx, "shape");
    a->ndim = (int)luaL_len(L, -1);
    if (a->ndim > DAGL_MAX_DIMS) luaL_error(L, "dagl: a symbol with %d dims", a->ndim);
    for (int i = 0; i < a->ndim; i++) {
        lua_geti(L, -1, i + 1);
        a->buf[i] = lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    a->shape = a->buf;
}

int dagl_l_arg_test(lua_State *L, int idx, dagl_l_arg *a)
{
    a->idx = lua_absindex(L, idx);
    a->t = dagl_l_test(L, idx);
    a->sym = false;
    if (a->t) {
        a->dtype = dagl_tensor_dtype(a->t);
        a->ndim = dagl_tensor_ndim(a->t);
        a->shape = dagl_tensor_shape(a->t);
        return 1;
    }
    if (!dagl_l_is_symbol(L, idx)) return 0;
    a->sym = true;
    read_symbol(L, a->idx, a);
    return 1;
}

void dagl_l_arg_check(lua_State *L, int idx, dagl_l_arg *a)
{
    if (!dagl_l_arg_test(L, idx, a)) luaL_typeerror(L, idx, DAGL_TENSOR_MT);
}

/* Reads one operand that may also be a number: a number becomes a 0-d tensor of dtype `like`
 * (pushed on the stack, which owns it), as in eager where(). */
void dagl_l_arg_or_number(lua_State *L, int idx, dagl_dtype like, dagl_l_arg *a)
{
    if (dagl_l_arg_test(L, idx, a)) return;
    if (!lua_isnumber(L, idx)) luaL_typeerror(L, idx, "dagl.Tensor or number");
    dagl_tensor **slot = dagl_l_slot(L);
    dagl_l_done(L, dagl_tensor_full(DAGL_LCTX(L), like, 0, NULL, lua_tonumber(L, idx), slot), slot);
    dagl_l_arg_test(L, -1, a);
}

/* A shape as a Lua list. */
static void push_list64(lua_State *L, int n, const int64_t *v)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushinteger(L, v[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

/* The params of a node as the Lua table fn.lua records and g:node reads back (0-based dims;
 * only what differs from dagl_node_params_init, and the axis). */
static void push_params(lua_State *L, dagl_op op, const dagl_node_params *p)
{
    lua_createtable(L, 0, 4);
    if (p->has_scalar) {
        lua_pushnumber(L, p->scalar);
        lua_setfield(L, -2, "scalar");
        lua_pushboolean(L, p->scalar_first);
        lua_setfield(L, -2, "scalar_first");
    }
    if (!isnan(p->lo)) lua_pushnumber(L, p->lo), lua_setfield(L, -2, "lo");
    if (!isnan(p->hi)) lua_pushnumber(L, p->hi), lua_setfield(L, -2, "hi");
    if (p->ndims > 0) {
        lua_createtable(L, p->ndims, 0);
        for (int i = 0; i < p->ndims; i++) lua_pushinteger(L, p->dims[i]), lua_rawseti(L, -2, i + 1);
        lua_setfield(L, -2, "dims");
    }
    if (p->keepdim) lua_pushboolean(L, 1), lua_setfield(L, -2, "keepdim");
    if (p->correction != 1) lua_pushinteger(L, p->correction), lua_setfield(L, -2, "correction");
    if (p->nshape > 0) push_list64(L, p->nshape, p->shape), lua_setfield(L, -2, "shape");
    lua_pushinteger(L, p->axis), lua_setfield(L, -2, "axis");
    if (op == DAGL_OP_SLICE || op == DAGL_OP_SLICE_SCATTER) {
        lua_pushinteger(L, p->start), lua_setfield(L, -2, "start");
        lua_pushinteger(L, p->stop), lua_setfield(L, -2, "stop");
        lua_pushinteger(L, p->step), lua_setfield(L, -2, "step");
    }
    if (p->index_base) lua_pushinteger(L, p->index_base), lua_setfield(L, -2, "index_base");
    if (p->reverse) lua_pushboolean(L, 1), lua_setfield(L, -2, "reverse");
    if (op == DAGL_OP_DROPOUT_MASK) {
        lua_pushnumber(L, p->rate), lua_setfield(L, -2, "rate");
        lua_pushinteger(L, (lua_Integer)p->seed), lua_setfield(L, -2, "seed");
    }
    if (op == DAGL_OP_CAST) lua_pushstring(L, dagl_dtype_name(p->dtype)), lua_setfield(L, -2, "dtype");
    const dagl_window2d *w = &p->window;
    if (w->size[0]) {
        int64_t s[2] = {w->size[0], w->size[1]};
        push_list64(L, 2, s), lua_setfield(L, -2, "pool_size");
    }
    if (w->strides[0]) {
        int64_t s[2] = {w->strides[0], w->strides[1]};
        push_list64(L, 2, s), lua_setfield(L, -2, "strides");
    }
    if (w->padding == DAGL_PAD_SAME) lua_pushliteral(L, "same"), lua_setfield(L, -2, "padding");
}

int dagl_l_emit(lua_State *L, dagl_op op, int n, const int *idx, const dagl_node_params *p)
{
    luaL_checkstack(L, n + 4, "trace");
    if (lua_getfield(L, LUA_REGISTRYINDEX, EMIT_KEY) != LUA_TFUNCTION)
        return luaL_error(L, "%s: traced symbols need dagl.fn (require 'dagl')", dagl_op_name(op));
    lua_pushstring(L, dagl_op_name(op));
    push_params(L, op, p);
    for (int i = 0; i < n; i++) lua_pushvalue(L, idx[i]);
    lua_call(L, n + 2, 1);
    return 1;
}

int dagl_l_apply(lua_State *L, dagl_op op, int n, const dagl_l_arg *args, const dagl_node_params *p)
{
    int idx[DAGL_MAX_SRCS];
    dagl_tensor *v[DAGL_MAX_SRCS];
    bool traced = false;
    for (int i = 0; i < n; i++) {
        idx[i] = args[i].idx;
        v[i] = args[i].t;
        traced |= args[i].sym;
    }
    if (traced) return dagl_l_emit(L, op, n, idx, p);
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_op_apply(DAGL_LCTX(L), op, n, v, p, o), o);
}

/* Edit distance of two short option names (a and b at most 63 bytes are compared). */
static int distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b), row[64];
    if (la > 63) la = 63;
    if (lb > 63) lb = 63;
    for (int j = 0; j <= lb; j++) row[j] = j;
    for (int i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

void dagl_l_check_options(lua_State *L, int idx, const char *what, const char *const *names)
{
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        const char *key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int known = 0, best = -1, bestd = 1 << 30;
        for (int i = 0; key && names[i]; i++) {
            if (strcmp(key, names[i]) == 0) known = 1;
            int d = distance(key, names[i]);
            if (d < bestd) bestd = d, best = i;
        }
        if (known) continue;
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (int i = 0; names[i]; i++) {
            if (i) luaL_addstring(&b, ", ");
            luaL_addstring(&b, names[i]);
        }
        luaL_pushresult(&b);
        if (!key) luaL_error(L, "%s: option keys are names (%s), got a %s", what, lua_tostring(L, -1),
                             luaL_typename(L, -2));
        if (best >= 0 && bestd <= 3)
            luaL_error(L, "%s: unknown option '%s' (did you mean '%s'? options: %s)", what, key, names[best],
                       lua_tostring(L, -1));
        luaL_error(L, "%s: unknown option '%s' (options: %s)", what, key, lua_tostring(L, -1));
    }
}

/* The message of a value a traced tensor does not have yet. */
int dagl_l_no_values(lua_State *L, const char *what, const char *instead)
{
    return luaL_error(L, "%s: a traced tensor (inside dagl.fn, dagl.grad or a model's call) has no values until "
                         "the graph runs; %s",
                      what, instead);
}

/* dagl.ops() -> the op list as Lua sees it: {name =, class =, dtype =, lua =} per op in enum
 * order, for specs and tools that must cover every op (spec/op_parity_spec.lua). */
static int l_ops(lua_State *L)
{
#define OP_ROW(E, name, cls, dt, lua) {#name, #cls, #dt, #lua},
    static const char *const rows[][4] = {DAGL_OP_LIST(OP_ROW)};
#undef OP_ROW
    int n = (int)(sizeof rows / sizeof *rows);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_createtable(L, 0, 4);
        static const char *const keys[] = {"name", "class", "dtype", "lua"};
        for (int k = 0; k < 4; k++) {
            lua_pushstring(L, rows[i][k]);
            lua_setfield(L, -2, keys[k]);
        }
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

const luaL_Reg dagl_l_front_funcs[] = {{"set_symbol_class", l_set_symbol_class}, {"index", dagl_l_index}, {"ops", l_ops},
                                       {NULL, NULL}};
