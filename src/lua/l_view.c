/* l_view.c -- views and copies from Lua: reshape, transpose, slice, select, squeeze, expand,
 * contiguous, clone, dtype conversion, in-place fill/copy. Dims and indices are 1-based. */
#include "ldagl.h"

/* A core call of the form f(ctx, t, ..., out) made through a fresh slot. */
#define CALL(L, expr_with_o)                                                                          \
    do {                                                                                              \
        dagl_tensor **o = dagl_l_slot(L);                                                             \
        return dagl_l_done(L, (expr_with_o), o);                                                      \
    } while (0)

/* t:reshape(shape...): a view when the strides allow, else a copy */
static int l_reshape(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    int64_t shape[DAGL_MAX_DIMS];
    int n = dagl_l_shape(L, 2, shape);
    CALL(L, dagl_reshape(DAGL_LCTX(L), t, n, shape, o));
}

/* t:view(shape...): like reshape, but raises instead of copying */
static int l_view(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    int64_t shape[DAGL_MAX_DIMS];
    int n = dagl_l_shape(L, 2, shape);
    CALL(L, dagl_view(DAGL_LCTX(L), t, n, shape, o));
}

/* t:flatten(): every element in one dim (a reshape to -1) */
static int l_flatten(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    int64_t shape[1] = {-1};
    CALL(L, dagl_reshape(DAGL_LCTX(L), t, 1, shape, o));
}

/* t:transpose([d0, d1]) and t:t(): swaps two dims, the last two by default */
static int l_transpose(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    int nd = dagl_tensor_ndim(t);
    int d0 = lua_isnoneornil(L, 2) ? nd - 2 : dagl_l_dim(L, 2, nd, t);
    int d1 = lua_isnoneornil(L, 3) ? nd - 1 : dagl_l_dim(L, 3, nd, t);
    if (nd < 2 && lua_isnoneornil(L, 2)) {
        lua_settop(L, 1); /* t:t() of a 0-d or 1-d tensor is itself, as in torch */
        return 1;
    }
    CALL(L, dagl_transpose(DAGL_LCTX(L), t, d0, d1, o));
}

/* t:permute(d1, ..., dn) or t:permute{...}: every dim once; a repeated one raises here, with Lua's
 * 1-based numbering */
static int l_permute(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    int nd = dagl_tensor_ndim(t), perm[DAGL_MAX_DIMS];
    int tbl = lua_istable(L, 2);
    int given = tbl ? (int)luaL_len(L, 2) : lua_gettop(L) - 1;
    if (given != nd)
        return luaL_error(L, "permute: got %d dims for a tensor with %d dimensions", given, nd);
    for (int i = 0; i < nd; i++) {
        if (tbl) lua_geti(L, 2, i + 1);
        else lua_pushvalue(L, i + 2);
        perm[i] = dagl_l_dim(L, -1, nd, t);
        lua_pop(L, 1);
        for (int j = 0; j < i; j++) {
            if (perm[j] == perm[i]) {
                char b[160];
                return luaL_error(L, "permute: dimension %d is given twice for a tensor of shape %s", perm[i] + 1,
                                  dagl_shape_str(nd, dagl_tensor_shape(t), b, sizeof b));
            }
        }
    }
    CALL(L, dagl_permute(DAGL_LCTX(L), t, perm, o));
}

/* t:slice(dim, first, last, step): elements first..last inclusive (1-based, negative from the
 * end), like Lua's string.sub. */
static int l_slice(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    int d = dagl_l_dim(L, 2, dagl_tensor_ndim(t), t);
    int64_t n = dagl_tensor_shape(t)[d];
    lua_Integer first = luaL_optinteger(L, 3, 1), last = luaL_optinteger(L, 4, -1);
    lua_Integer step = luaL_optinteger(L, 5, 1);
    int64_t start = first > 0 ? first - 1 : first < 0 ? first + n : 0;
    int64_t stop = last >= 0 ? last : last + n + 1;
    if (start < 0) start = 0;
    if (stop < start) stop = start;
    CALL(L, dagl_slice(DAGL_LCTX(L), t, d, start, stop, step, o));
}

/* t:narrow(dim, first, length), as in Torch7. */
static int l_narrow(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    int d = dagl_l_dim(L, 2, dagl_tensor_ndim(t), t);
    lua_Integer first = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
    luaL_argcheck(L, first != 0, 3, "indices start at 1");
    int64_t n = dagl_tensor_shape(t)[d], start = first > 0 ? first - 1 : first + n;
    if (start < 0 || len < 0 || start + len > n) {
        char b[160];
        return luaL_error(L, "narrow: elements %I..%I are out of range for dimension %d of size %I (shape %s)",
                          (lua_Integer)(start + 1), (lua_Integer)(start + len), d + 1, (lua_Integer)n,
                          dagl_shape_str(dagl_tensor_ndim(t), dagl_tensor_shape(t), b, sizeof b));
    }
    CALL(L, dagl_narrow(DAGL_LCTX(L), t, d, start, len, o));
}

/* t:select(dim, i): removes dim, keeping index i of it. */
static int l_select(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    int d = dagl_l_dim(L, 2, dagl_tensor_ndim(t), t);
    lua_Integer i = luaL_checkinteger(L, 3);
    luaL_argcheck(L, i != 0, 3, "indices start at 1");
    int64_t n = dagl_tensor_shape(t)[d];
    if (i > n || i < -n) {
        char b[160];
        return luaL_error(L, "select: index %I is out of range for dimension %d of size %I (shape %s)",
                          (lua_Integer)i, d + 1, (lua_Integer)n,
                          dagl_shape_str(dagl_tensor_ndim(t), dagl_tensor_shape(t), b, sizeof b));
    }
    CALL(L, dagl_select(DAGL_LCTX(L), t, d, i > 0 ? i - 1 : i, o));
}

/* t:squeeze([dim]): removes dim if its size is 1, or every size-1 dim when no dim is given */
static int l_squeeze(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    int all = lua_isnoneornil(L, 2);
    int d = all ? 0 : dagl_l_dim(L, 2, dagl_tensor_ndim(t), t);
    CALL(L, dagl_squeeze(DAGL_LCTX(L), t, d, all, o));
}

/* t:unsqueeze(dim): the new dim is at position dim of the result (1..ndim+1, -1 = last). */
static int l_unsqueeze(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    int d = dagl_l_dim(L, 2, dagl_tensor_ndim(t) + 1, t);
    CALL(L, dagl_unsqueeze(DAGL_LCTX(L), t, d, o));
}

/* t:expand(shape...): a broadcast view (-1 keeps a dim), no copy */
static int l_expand(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    int64_t shape[DAGL_MAX_DIMS];
    int n = dagl_l_shape(L, 2, shape);
    CALL(L, dagl_expand(DAGL_LCTX(L), t, n, shape, o));
}

/* t:contiguous(): t itself when already contiguous, else a row-major copy */
static int l_contiguous(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    CALL(L, dagl_contiguous(DAGL_LCTX(L), t, o));
}

/* t:clone(): always a new contiguous copy */
static int l_clone(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    CALL(L, dagl_clone(DAGL_LCTX(L), t, o));
}

/* Converts to a dtype (a copy, or t itself when it already has it). */
static int to_dtype(lua_State *L, dagl_dtype dt)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    if (dagl_tensor_dtype(t) == dt) {
        lua_settop(L, 1);
        return 1;
    }
    CALL(L, dagl_cast(DAGL_LCTX(L), t, dt, o));
}

/* t:to(dtype), t:float(), t:double(), t:long(): to_dtype with the dtype named */
static int l_to(lua_State *L) { return to_dtype(L, dagl_l_dtype(L, 2, DAGL_F32)); }
static int l_float(lua_State *L) { return to_dtype(L, DAGL_F32); }
static int l_double(lua_State *L) { return to_dtype(L, DAGL_F64); }
static int l_long(lua_State *L) { return to_dtype(L, DAGL_I64); }

/* In place: t:fill(v), t:copy(src) and t:add_(x, alpha) return t for chaining. */
static int l_fill(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    if (dagl_fill(DAGL_LCTX(L), t, luaL_checknumber(L, 2))) return dagl_l_error(L);
    lua_settop(L, 1);
    return 1;
}

/* t:copy(src): src broadcast to t's shape and converted to its dtype */
static int l_copy(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    if (dagl_copy_into(DAGL_LCTX(L), t, dagl_l_check(L, 2))) return dagl_l_error(L);
    lua_settop(L, 1);
    return 1;
}

/* t:add_(x [, alpha]): t += alpha * x in place; returns t. */
static int l_add_(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    if (dagl_axpy(DAGL_LCTX(L), luaL_optnumber(L, 3, 1.0), dagl_l_check(L, 2), t)) return dagl_l_error(L);
    lua_settop(L, 1);
    return 1;
}

/* t:assign(v) / dagl.assign(t, v): t = v in place (same dtype and shape); returns t. A traced v
 * (a symbol) makes an assign node of its trace instead (lua/dagl/fn.lua). */
static int l_assign(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    if (lua_type(L, 2) == LUA_TTABLE) {
        if (lua_getfield(L, 2, "assign_into") != LUA_TFUNCTION)
            return luaL_error(L, "bad argument #2 to 'assign' (dagl.Tensor expected, got table)");
        lua_pushvalue(L, 2);
        lua_pushvalue(L, 1);
        lua_call(L, 2, 1);
        return 1;
    }
    if (dagl_assign(DAGL_LCTX(L), t, dagl_l_check(L, 2))) return dagl_l_error(L);
    lua_settop(L, 1);
    return 1;
}

const luaL_Reg dagl_l_view_methods[] = {
    {"add_", l_add_},         {"assign", l_assign},
    {"reshape", l_reshape},   {"view", l_view},         {"flatten", l_flatten},
    {"transpose", l_transpose}, {"t", l_transpose},     {"permute", l_permute},
    {"slice", l_slice},       {"narrow", l_narrow},     {"select", l_select},
    {"squeeze", l_squeeze},   {"unsqueeze", l_unsqueeze}, {"expand", l_expand},
    {"contiguous", l_contiguous}, {"clone", l_clone},   {"to", l_to},
    {"float", l_float},       {"double", l_double},     {"long", l_long},
    {"fill", l_fill},         {"copy", l_copy},         {NULL, NULL},
};
