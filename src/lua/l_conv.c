/* l_conv.c -- the options of the 2-D window ops from Lua (NHWC, Keras-shaped): {pool_size=,
 * strides=, padding="valid"|"same"}, read for x:conv2d(k, opts), x:max_pool2d(opts) and
 * x:avg_pool2d(opts) (bound from the op list in l_ops.c) and for graph nodes (l_graph.c). */
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

