/* l_module.c -- luaopen_dagl_core: the binding state, the tensor metatable and the module table. */
#include "ldagl.h"

/* Frees the context when the lua_State closes. Tensor userdata are finalized before this one
 * (Lua runs finalizers in reverse order of creation), so no tensor outlives its context. */
static int state_gc(lua_State *L)
{
    dagl_lstate *s = lua_touserdata(L, 1);
    dagl_ctx_free(s->ctx);
    s->ctx = NULL;
    return 0;
}

/* dagl.version(): "0.1.0" plus the OpenBLAS core it runs on. */
static int l_version(lua_State *L)
{
    lua_pushstring(L, dagl_version());
    lua_pushstring(L, dagl_blas_corename());
    return 2;
}

static int l_istensor(lua_State *L)
{
    lua_pushboolean(L, dagl_l_test(L, 1) != NULL);
    return 1;
}

/* Bytes of tensor memory alive in this state (for leak checks and reports). */
static int l_live_bytes(lua_State *L)
{
    lua_pushinteger(L, dagl_ctx_live_bytes(DAGL_LCTX(L)));
    return 1;
}

static int l_num_threads(lua_State *L)
{
    lua_pushinteger(L, dagl_ctx_threads(DAGL_LCTX(L)));
    return 1;
}

static const luaL_Reg module_funcs[] = {
    {"version", l_version}, {"is_tensor", l_istensor}, {"live_bytes", l_live_bytes},
    {"num_threads", l_num_threads}, {NULL, NULL},
};

/* Builds everything inside a C closure so every function gets the (state, metatable) upvalues. */
static int open_module(lua_State *L)
{
    lua_newtable(L);
    dagl_l_setfuncs(L, module_funcs);
    dagl_l_setfuncs(L, dagl_l_create_funcs);
    dagl_l_setfuncs(L, dagl_l_graph_funcs);
    dagl_l_setfuncs(L, dagl_l_op_methods);
    dagl_l_setfuncs(L, dagl_l_view_methods);
    dagl_l_setfuncs(L, dagl_l_tensor_methods);
    lua_pushvalue(L, lua_upvalueindex(2));
    dagl_l_open_tensor(L);
    lua_setfield(L, -2, "Tensor");
    lua_pushliteral(L, DAGL_VERSION_STRING);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}

DAGL_API int luaopen_dagl_core(lua_State *L)
{
    dagl_ctx_options opt = {0};
    if (lua_getglobal(L, "_DAGL_THREADS") == LUA_TNUMBER) opt.threads = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    dagl_lstate *s = lua_newuserdatauv(L, sizeof *s, 0);
    s->ctx = NULL;
    s->gc_debt = 0;
    s->gc_limit = 0;
    lua_newtable(L);
    lua_pushcfunction(L, state_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    if (dagl_ctx_new(&opt, &s->ctx) != DAGL_OK) return luaL_error(L, "dagl: cannot create a context");
    /* keep the state alive as long as the registry */
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, "dagl.state");
    luaL_newmetatable(L, DAGL_TENSOR_MT);
    lua_pushcclosure(L, open_module, 2);
    lua_call(L, 0, 1);
    return 1;
}
