/* l_conv.c -- 2-D convolution and pooling from Lua (NHWC, Keras-shaped): x:conv2d(k, opts),
 * x:max_pool2d(opts), x:avg_pool2d(opts), also as dagl.conv2d(x, k, opts) and so on; opts is
 * {pool_size=, strides=, padding="valid"|"same"}. Traced symbols go to their methods. */
#include "ldagl.h"

#include <string.h>

/* A pair given as a number n (n, n) or a table {rows, cols}, at the field `key` of the table
 * at idx; left as is when absent. */
static void read_pair(lua_State *L, int idx, const char *key, int *pair, const char *what)
{
    int t = lua_getfield(L, idx, key);
    if (t == LUA_TNUMBER) {
        pair[0] = pair[1] = (int)luaL_checkinteger(L, -1);
    } else if (t == LUA_TTABLE && luaL_len(L, -1) == 2) {
        for (int i = 0; i < 2; i++) {
            lua_geti(L, -1, i + 1);
            if (!lua_isinteger(L, -1)) luaL_error(L, "%s: %s: expected integers, got %s", what, key, luaL_typename(L, -1));
            pair[i] = (int)lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
    } else if (t != LUA_TNIL) {
        luaL_error(L, "%s: %s must be a number or a table {rows, cols}, got %s", what, key, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    if (t != LUA_TNIL && (pair[0] < 1 || pair[1] < 1))
        luaL_error(L, "%s: %s must be at least 1, got (%d, %d)", what, key, pair[0], pair[1]);
}

void dagl_l_window(lua_State *L, int idx, dagl_window2d *w, const char *what)
{
    memset(w, 0, sizeof *w);
    if (lua_isnoneornil(L, idx)) return;
    idx = lua_absindex(L, idx);
    luaL_checktype(L, idx, LUA_TTABLE);
    read_pair(L, idx, "pool_size", w->size, what);
    read_pair(L, idx, "strides", w->strides, what);
    if (lua_getfield(L, idx, "padding") != LUA_TNIL) {
        const char *pad = luaL_checkstring(L, -1);
        if (strcmp(pad, "same") == 0) w->padding = DAGL_PAD_SAME;
        else if (strcmp(pad, "valid") != 0) luaL_error(L, "%s: padding must be 'valid' or 'same', got '%s'", what, pad);
    }
    lua_pop(L, 1);
}

/* x:conv2d(k, {strides=, padding=}) */
static int l_conv2d(lua_State *L)
{
    CHECK_OR_SYMBOL(L, x, DAGL_OP_CONV2D)
    dagl_tensor *k = dagl_l_check(L, 2);
    dagl_window2d w;
    dagl_l_window(L, 3, &w, "conv2d");
    dagl_tensor **o = dagl_l_slot(L);
    dagl_lstate *ls = DAGL_LSTATE(L);
    /* real work: other threads may run Lua meanwhile (operands are anchored on the stack) */
    bool big = dagl_tensor_numel(x) * dagl_tensor_numel(k) > (int64_t)1 << 20;
    if (big) dagl_l_unlock(ls);
    dagl_status st = dagl_conv2d(ls->ctx, x, k, &w, o);
    if (big) dagl_l_relock(ls, L);
    return dagl_l_done_s(L, ls, st, o);
}

/* x:max_pool2d(opts) / x:avg_pool2d(opts); a number for opts is the pool size; the pool size
 * defaults to 2x2 as in Keras. */
static int pool(lua_State *L, dagl_op op)
{
    CHECK_OR_SYMBOL(L, x, op)
    dagl_window2d w;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        memset(&w, 0, sizeof w);
        w.size[0] = w.size[1] = (int)luaL_checkinteger(L, 2);
    } else {
        dagl_l_window(L, 2, &w, op == DAGL_OP_MAXPOOL2D ? "max_pool2d" : "avg_pool2d");
    }
    if (w.size[0] == 0 && w.size[1] == 0) w.size[0] = w.size[1] = 2;
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_pool2d(DAGL_LCTX(L), op, x, &w, o), o);
}

/* x:max_pool2d(opts) and x:avg_pool2d(opts): pool() with the op */
static int l_max_pool2d(lua_State *L) { return pool(L, DAGL_OP_MAXPOOL2D); }
static int l_avg_pool2d(lua_State *L) { return pool(L, DAGL_OP_AVGPOOL2D); }

const luaL_Reg dagl_l_conv_methods[] = {
    {"conv2d", l_conv2d},
    {"max_pool2d", l_max_pool2d},
    {"avg_pool2d", l_avg_pool2d},
    {NULL, NULL},
};
