/* runtime.c -- the embedding runtime: a lua_State with dagl loaded, used by any thread in turn. */
#include "embed.h"

#include <lualib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dagl__embed_enter(dagl_runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    dagl_l_relock(rt->ls, rt->L);
}

/* Ends a call into Lua in the reverse order of dagl__embed_enter: the VM lock, then the mutex. */
void dagl__embed_leave(dagl_runtime *rt)
{
    dagl_l_unlock(rt->ls);
    pthread_mutex_unlock(&rt->mu);
}

dagl_status dagl__embed_error(dagl_runtime *rt, dagl_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rt->err, EMBED_ERR_SIZE, fmt, ap);
    va_end(ap);
    return st;
}

dagl_status dagl__embed_lua_error(dagl_runtime *rt, dagl_status st)
{
    const char *msg = lua_tostring(rt->L, -1);
    dagl__embed_error(rt, st, "%s", msg ? msg : "(error object is not a string)");
    lua_pop(rt->L, 1);
    return st;
}

/* Calls the function below nargs arguments with a traceback handler; 0 or the Lua status. */
static int pcall_tb(lua_State *L, int nargs, int nres)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, dagl_l_msghandler);
    lua_insert(L, base);
    int st = lua_pcall(L, nargs, nres, base);
    lua_remove(L, base);
    return st;
}

/* Loads dagl started with the runtime's options (argument 1, a dagl_lua_options), in protected mode. */
static int open_dagl(lua_State *L)
{
    const dagl_lua_options *lo = lua_touserdata(L, 1);
    luaL_openlibs(L);
    dagl_lua_preload(L, lo);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "dagl");
    lua_call(L, 1, 1);
    lua_setglobal(L, "dagl");
    return 0;
}

/* Like sqlite3_open, a runtime that failed to start is still returned (unless out of memory),
 * so its error can be read; it accepts only dagl_runtime_last_error and dagl_runtime_free. */
dagl_status dagl_runtime_new(const dagl_runtime_options *opt, dagl_runtime **out)
{
    if (!out) return DAGL_E_ARG;
    dagl_runtime *rt = *out = calloc(1, sizeof *rt);
    if (!rt) return DAGL_E_NOMEM;
    pthread_mutex_init(&rt->mu, NULL);
    lua_State *L = rt->L = luaL_newstate();
    if (!L) return dagl__embed_error(rt, DAGL_E_NOMEM, "runtime_new: out of memory");
    dagl_lua_options lo = {0};
    if (opt) {
        lo.threads = opt->threads;
        lo.per_worker_lua = opt->per_worker_lua;
        lo.seed = opt->seed;
        lo.allocator = opt->allocator;
    }
    lua_pushcfunction(L, open_dagl);
    lua_pushlightuserdata(L, &lo);
    if (pcall_tb(L, 1, 0) != LUA_OK) {
        dagl__embed_error(rt, DAGL_E_ARG, "runtime_new: %s", lua_tostring(L, -1));
        lua_close(L);
        rt->L = NULL;
        return DAGL_E_ARG;
    }
    rt->ls = dagl_l_state(L);
    dagl_l_unlock(rt->ls); /* opening took the VM lock for this thread; calls take it again */
    return DAGL_OK;
}

void dagl_runtime_free(dagl_runtime *rt)
{
    if (!rt) return;
    if (rt->L) {
        pthread_mutex_lock(&rt->mu);
        dagl_l_relock(rt->ls, rt->L);
        lua_close(rt->L); /* the binding's __gc frees the context and the lock */
        pthread_mutex_unlock(&rt->mu);
    }
    pthread_mutex_destroy(&rt->mu);
    free(rt);
}

/* dofile/dostring: loads with `load`, then runs with a traceback. */
static dagl_status run_chunk(dagl_runtime *rt, const char *text, int is_file)
{
    if (!rt || !rt->L) return DAGL_E_ARG;
    if (!text) return dagl__embed_error(rt, DAGL_E_ARG, "runtime: NULL %s", is_file ? "path" : "code");
    dagl__embed_enter(rt);
    lua_State *L = rt->L;
    int st = is_file ? luaL_loadfile(L, text) : luaL_loadbuffer(L, text, strlen(text), "=(embedded)");
    if (st == LUA_OK) st = pcall_tb(L, 0, 0);
    dagl_status res = st == LUA_OK ? DAGL_OK : dagl__embed_lua_error(rt, st == LUA_ERRMEM ? DAGL_E_NOMEM : DAGL_E_ARG);
    dagl__embed_leave(rt);
    return res;
}

dagl_status dagl_runtime_dofile(dagl_runtime *rt, const char *path) { return run_chunk(rt, path, 1); }
dagl_status dagl_runtime_dostring(dagl_runtime *rt, const char *code) { return run_chunk(rt, code, 0); }

const char *dagl_runtime_last_error(const dagl_runtime *rt) { return rt ? rt->err : "out of memory"; }

dagl_ctx *dagl_runtime_ctx(dagl_runtime *rt) { return rt && rt->L ? dagl_l_ctx(rt->ls) : NULL; }

/* Used by session.c: a protected call with traceback. */
int dagl__embed_pcall(lua_State *L, int nargs, int nres) { return pcall_tb(L, nargs, nres); }
