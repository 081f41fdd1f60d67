/* l_create.c -- tensor creation from Lua: zeros/ones/full/empty, arange, linspace, rand/randn,
 * and dagl.tensor{...} from nested tables. */
#include "ldagl.h"

#include <string.h>

/* Shape from varargs or a table at `idx`, then an optional dtype name after it. */
static int shape_and_dtype(lua_State *L, int idx, int64_t *shape, dagl_dtype *dt)
{
    int n = dagl_l_shape(L, idx, shape);
    int next = lua_istable(L, idx) ? idx + 1 : idx + n;
    *dt = dagl_l_dtype(L, next, DAGL_F32);
    return n;
}

/* zeros and ones: shape as varargs or a table, an optional dtype, every element v. */
static int filled(lua_State *L, double v)
{
    int64_t shape[DAGL_MAX_DIMS];
    dagl_dtype dt;
    int n = shape_and_dtype(L, 1, shape, &dt);
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_tensor_full(DAGL_LCTX(L), dt, n, shape, v, o), o);
}

/* dagl.zeros(shape... [, dtype]) and dagl.ones(shape... [, dtype]) */
static int l_zeros(lua_State *L) { return filled(L, 0); }
static int l_ones(lua_State *L) { return filled(L, 1); }

/* dagl.empty(shape... [, dtype]): contents uninitialized, for results the caller overwrites anyway */
static int l_empty(lua_State *L)
{
    int64_t shape[DAGL_MAX_DIMS];
    dagl_dtype dt;
    int n = shape_and_dtype(L, 1, shape, &dt);
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_tensor_new(DAGL_LCTX(L), dt, n, shape, o), o);
}

/* dagl.full(shape, value [, dtype]) */
static int l_full(lua_State *L)
{
    int64_t shape[DAGL_MAX_DIMS];
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = dagl_l_shape(L, 1, shape);
    double v = luaL_checknumber(L, 2);
    dagl_dtype dt = dagl_l_dtype(L, 3, DAGL_F32);
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_tensor_full(DAGL_LCTX(L), dt, n, shape, v, o), o);
}

/* dagl.arange(stop) / (start, stop [, step] [, dtype]); the stop is excluded, as in torch. */
static int l_arange(lua_State *L)
{
    int nums = 0;
    while (nums < 3 && lua_type(L, nums + 1) == LUA_TNUMBER) nums++;
    luaL_argcheck(L, nums >= 1, 1, "number expected");
    double start = nums >= 2 ? lua_tonumber(L, 1) : 0;
    double stop = nums >= 2 ? lua_tonumber(L, 2) : lua_tonumber(L, 1);
    double step = nums == 3 ? lua_tonumber(L, 3) : 1;
    dagl_dtype dt = dagl_l_dtype(L, nums + 1, DAGL_F32);
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_arange(DAGL_LCTX(L), dt, start, stop, step, o), o);
}

/* dagl.linspace(start, stop, n [, dtype]): n points, both ends included */
static int l_linspace(lua_State *L)
{
    double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
    lua_Integer n = luaL_checkinteger(L, 3);
    dagl_dtype dt = dagl_l_dtype(L, 4, DAGL_F32);
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_linspace(DAGL_LCTX(L), dt, a, b, n, o), o);
}

/* rand and randn: the same arguments, `normal` picks the distribution. */
static int random_tensor(lua_State *L, int normal)
{
    int64_t shape[DAGL_MAX_DIMS];
    dagl_dtype dt;
    int n = shape_and_dtype(L, 1, shape, &dt);
    dagl_tensor **o = dagl_l_slot(L);
    dagl_ctx *ctx = DAGL_LCTX(L);
    return dagl_l_done(L, normal ? dagl_randn(ctx, dt, n, shape, o) : dagl_rand(ctx, dt, n, shape, o), o);
}

/* dagl.rand(shape... [, dtype]): uniform in [0, 1); dagl.randn: standard normal */
static int l_rand(lua_State *L) { return random_tensor(L, 0); }
static int l_randn(lua_State *L) { return random_tensor(L, 1); }

/* dagl.manual_seed(n): reseeds the context's generator, so the draws that follow repeat */
static int l_manual_seed(lua_State *L)
{
    dagl_ctx_manual_seed(DAGL_LCTX(L), (uint64_t)luaL_checkinteger(L, 1));
    return 0;
}

/* Walks the first element at each depth of a nested table to find the shape. */
static int nested_shape(lua_State *L, int idx, int64_t *shape)
{
    int n = 0;
    lua_pushvalue(L, idx);
    while (lua_istable(L, -1)) {
        if (n == DAGL_MAX_DIMS) luaL_error(L, "tensor: more than %d levels of nesting", DAGL_MAX_DIMS);
        shape[n++] = (int64_t)luaL_len(L, -1);
        if (shape[n - 1] == 0) break;
        lua_geti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    return n;
}

/* Copies a nested table into contiguous memory, checking every row has the shape's length. */
static void fill_nested(lua_State *L, dagl_tensor *t, int d, int64_t *pos, char *data, size_t es)
{
    const int64_t *shape = dagl_tensor_shape(t);
    int nd = dagl_tensor_ndim(t);
    if (!lua_istable(L, -1) || (int64_t)luaL_len(L, -1) != shape[d]) {
        char b[160];
        luaL_error(L, "tensor: ragged nested table: a row at depth %d is %s, expected %I entries (shape %s)",
                   d + 1, lua_istable(L, -1) ? "of another length" : luaL_typename(L, -1),
                   (lua_Integer)shape[d], dagl_shape_str(nd, shape, b, sizeof b));
    }
    luaL_checkstack(L, 2, "tensor");
    for (int64_t i = 1; i <= shape[d]; i++) {
        lua_geti(L, -1, i);
        if (d + 1 < nd) {
            fill_nested(L, t, d + 1, pos, data, es);
        } else {
            int isnum;
            lua_Number v = lua_tonumberx(L, -1, &isnum);
            if (!isnum) luaL_error(L, "tensor: element %I is a %s, expected a number",
                                   (lua_Integer)(*pos + 1), luaL_typename(L, -1));
            char *p = data + (size_t)*pos * es;
            switch (dagl_tensor_dtype(t)) {
            case DAGL_F32: *(float *)p = (float)v; break;
            case DAGL_F64: *(double *)p = v; break;
            case DAGL_U8: *(uint8_t *)p = v > 0 ? (v < 255 ? (uint8_t)v : 255) : 0; break; /* saturated, as casts do */
            default: *(int64_t *)p = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : (int64_t)v; break;
            }
            (*pos)++;
        }
        lua_pop(L, 1);
    }
}

/* dagl.tensor(v [, dtype]): a 0-d tensor from a number, else the shape and values of a nested
 * table (ragged tables raise) */
static int l_tensor(lua_State *L)
{
    dagl_dtype dt = dagl_l_dtype(L, 2, DAGL_F32);
    dagl_tensor **o = dagl_l_slot(L);
    dagl_ctx *ctx = DAGL_LCTX(L);
    if (lua_type(L, 1) == LUA_TNUMBER)
        return dagl_l_done(L, dagl_tensor_full(ctx, dt, 0, NULL, lua_tonumber(L, 1), o), o);
    luaL_checktype(L, 1, LUA_TTABLE);
    int64_t shape[DAGL_MAX_DIMS];
    int n = nested_shape(L, 1, shape);
    dagl_l_done(L, dagl_tensor_new(ctx, dt, n, shape, o), o);
    int64_t pos = 0;
    lua_pushvalue(L, 1);
    fill_nested(L, *o, 0, &pos, dagl_tensor_data(*o), dagl_dtype_size(dt));
    lua_pop(L, 1);
    return 1;
}

const luaL_Reg dagl_l_create_funcs[] = {
    {"zeros", l_zeros}, {"ones", l_ones},   {"empty", l_empty},   {"full", l_full},
    {"arange", l_arange}, {"linspace", l_linspace}, {"rand", l_rand}, {"randn", l_randn},
    {"manual_seed", l_manual_seed}, {"tensor", l_tensor}, {NULL, NULL},
};
