/* l_preload.c -- how a program that makes its own lua_State (the dagl host, the embedding
 * runtime, any embedder) starts the linked-in binding: `require "dagl"` bound to it with explicit
 * options (dagl_lua_options: no globals, no registry keys) and the dagl Lua library dirs in front
 * of package.path; and the message handler that adds a traceback to errors. */
#include "ldagl.h"

#include <stdlib.h>
#include <string.h>

#ifndef DAGL_LUA_BUILD_DIR
#define DAGL_LUA_BUILD_DIR ""
#endif
#ifndef DAGL_LUA_INSTALL_DIR
#define DAGL_LUA_INSTALL_DIR ""
#endif

/* Pushes one package.path prefix for `dir` ("<dir>/?.lua;<dir>/?/init.lua;", or `dir` itself
 * when it already is a template with '?'); returns the number of strings pushed (0 or 1). */
static int push_path_prefix(lua_State *L, const char *dir)
{
    if (dir == NULL || dir[0] == '\0') return 0;
    if (strchr(dir, '?')) lua_pushfstring(L, "%s;", dir);
    else lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", dir, dir);
    return 1;
}

/* The options a preload was given, copied with the allocator they point to, kept as the upvalue of
 * the preloader (so nothing but the closure carries them to the binding). */
typedef struct preload_opts {
    dagl_lua_options o;
    dagl_allocator allocator;
} preload_opts;

/* package.preload["dagl.core"]: opens the binding with the preloaded options (upvalue 1). */
static int open_preloaded(lua_State *L)
{
    return dagl_l_open(L, lua_touserdata(L, lua_upvalueindex(1)));
}

/* DAGL_LUA_PATH (unless opt->no_env) replaces the build and install dirs. The package library
 * must be open. */
void dagl_lua_preload(lua_State *L, const dagl_lua_options *opt)
{
    preload_opts *p = lua_newuserdatauv(L, sizeof *p, 0);
    memset(p, 0, sizeof *p);
    if (opt) p->o = *opt;
    if (opt && opt->allocator) {
        p->allocator = *opt->allocator;
        p->o.allocator = &p->allocator;
    }
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_insert(L, -2);
    lua_pushcclosure(L, open_preloaded, 1);
    lua_setfield(L, -2, "dagl.core");
    lua_pop(L, 1);

    const char *env = p->o.no_env ? NULL : getenv("DAGL_LUA_PATH");
    int n = 0;
    lua_getglobal(L, "package");
    if (env && env[0]) n += push_path_prefix(L, env);
    else {
        n += push_path_prefix(L, DAGL_LUA_BUILD_DIR);
        n += push_path_prefix(L, DAGL_LUA_INSTALL_DIR);
    }
    lua_getfield(L, -1 - n, "path");
    lua_concat(L, n + 1);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
}

/* Message handler for lua_pcall: the error with a traceback, as lua.c's; an error object that
 * is not a string gives its __tostring (without a traceback) or its type. The traceback of an
 * interrupt starts at the user's line: where dagl's own Lua code was when Ctrl-C came is noise. */
int dagl_l_msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) { /* not a string or a number */
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    int level = dagl_l_is_interrupt(msg) ? dagl_l_user_level(L, 1) : 1;
    luaL_traceback(L, L, msg, level > 0 ? level : 1);
    return 1;
}
