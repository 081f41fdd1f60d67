/* l_index.c -- joins, row indexing and dropout masks from Lua: dagl.concat, dagl.embedding,
 * t:index_select(1, idx), dagl.index_add and dagl.dropout_mask on real tensors (dagl/init.lua
 * sends symbols to the traced versions). Dims are 1-based; embedding ids count from 0 (as Keras
 * token ids do), index_select indices from 1 (as Torch7's do). */
#include "ldagl.h"

#include <stdlib.h>

/* dagl.concat({t1, t2, ...}, dim): dim 1-based, negative from the end (default 1). */
static int l_concat(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = (int)luaL_len(L, 1);
    luaL_argcheck(L, n >= 1, 1, "no tensors to join");
    const dagl_tensor **ts = lua_newuserdatauv(L, sizeof *ts * (size_t)n, 0); /* freed by the GC */
    for (int i = 0; i < n; i++) {
        lua_geti(L, 1, i + 1);
        ts[i] = dagl_l_test(L, -1);
        if (!ts[i]) return luaL_error(L, "concat: element %d is a %s, not a tensor", i + 1, luaL_typename(L, -1));
        lua_pop(L, 1); /* the list keeps it alive */
    }
    int dim = (int)luaL_optinteger(L, 2, 1);
    luaL_argcheck(L, dim != 0, 2, "dims start at 1");
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_concat(DAGL_LCTX(L), n, ts, dim > 0 ? dim - 1 : dim, o), o);
}

/* Rows of a table by int64 ids counting from `base`. */
static int gather(lua_State *L, int table_idx, int idx_idx, int64_t base)
{
    dagl_tensor *t = dagl_l_check(L, table_idx), *idx = dagl_l_check(L, idx_idx), **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_gather(DAGL_LCTX(L), t, idx, base, o), o);
}

/* dagl.embedding(table, ids): ids from 0. */
static int l_embedding(lua_State *L) { return gather(L, 1, 2, 0); }

/* index_select along dimension d > 0 (0-based): the rows of t with d moved to the front, moved
 * back and made contiguous. idx must be 1-D (so the result keeps t's rank). */
static dagl_status select_along(dagl_ctx *ctx, dagl_tensor *t, int d, const dagl_tensor *idx, dagl_tensor **out)
{
    char b[160];
    if (dagl_tensor_ndim(idx) != 1)
        return dagl_ctx_set_error(ctx, DAGL_E_SHAPE, "index_select: indices for dimension %d must be 1-D, got %s",
                                  d + 1, dagl_shape_str(dagl_tensor_ndim(idx), dagl_tensor_shape(idx), b, sizeof b));
    dagl_tensor *front = NULL, *rows = NULL, *back = NULL;
    dagl_status st = dagl_transpose(ctx, t, 0, d, &front);
    if (!st) st = dagl_gather(ctx, front, idx, 1, &rows);
    if (!st) st = dagl_transpose(ctx, rows, 0, d, &back);
    if (!st) st = dagl_contiguous(ctx, back, out);
    dagl_tensor_release(front);
    dagl_tensor_release(rows);
    dagl_tensor_release(back);
    return st;
}

/* t:index_select(dim, idx): the slices of t at 1-based int64 indices idx along dim (idx any
 * shape for dim 1, where it works as embedding does; 1-D otherwise). */
static int l_index_select(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TTABLE && lua_getfield(L, 1, "index_select") == LUA_TFUNCTION) { /* a symbol */
        lua_insert(L, 1);
        lua_call(L, lua_gettop(L) - 1, 1);
        return 1;
    }
    dagl_tensor *t = dagl_l_check(L, 1);
    int d = dagl_l_dim(L, 2, dagl_tensor_ndim(t), t);
    if (lua_type(L, 3) == LUA_TTABLE && lua_getfield(L, 3, "rows_of") == LUA_TFUNCTION) { /* traced ids */
        lua_pushvalue(L, 3);
        lua_pushvalue(L, 1);
        lua_pushinteger(L, 1);
        lua_pushinteger(L, d);
        lua_call(L, 4, 1);
        return 1;
    }
    if (d == 0) return gather(L, 1, 3, 1);
    dagl_tensor *idx = dagl_l_check(L, 3), **o = dagl_l_slot(L);
    return dagl_l_done(L, select_along(DAGL_LCTX(L), t, d, idx, o), o);
}

/* dagl.index_add(src, idx, rows [, base=0]): a zero table of `rows` rows with src's rows added at
 * idx (the gradient of embedding). */
static int l_index_add(lua_State *L)
{
    dagl_tensor *src = dagl_l_check(L, 1), *idx = dagl_l_check(L, 2);
    lua_Integer rows = luaL_checkinteger(L, 3), base = luaL_optinteger(L, 4, 0);
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_index_add(DAGL_LCTX(L), src, idx, rows, base, o), o);
}

/* dagl.dropout_mask(like, rate, seed, counter): a mask with the shape and dtype of tensor `like`;
 * a pure function of (seed, counter). */
static int l_dropout_mask(lua_State *L)
{
    dagl_tensor *like = dagl_l_check(L, 1);
    double rate = luaL_checknumber(L, 2);
    uint64_t seed = (uint64_t)luaL_checkinteger(L, 3), counter = (uint64_t)luaL_optinteger(L, 4, 0);
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L,
                       dagl_dropout_mask(DAGL_LCTX(L), dagl_tensor_dtype(like), dagl_tensor_ndim(like),
                                         dagl_tensor_shape(like), rate, seed, counter, o),
                       o);
}

const luaL_Reg dagl_l_index_funcs[] = {
    {"concat", l_concat},       {"embedding", l_embedding}, {"index_add", l_index_add},
    {"dropout_mask", l_dropout_mask}, {NULL, NULL},
};

const luaL_Reg dagl_l_index_methods[] = {{"index_select", l_index_select}, {NULL, NULL}};
