/* l_module.c -- luaopen_dagl_core: the binding state, the tensor metatable and the module table. */
#include "ldagl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Frees what the binding state owns when the lua_State closes. Tensor userdata are finalized
 * before this one (Lua runs finalizers in reverse order of creation), so no tensor outlives its
 * context. */
static int state_gc(lua_State *L)
{
    dagl_lstate *s = lua_touserdata(L, 1);
    if (s->owns_ctx) dagl_ctx_set_interrupt_callback(s->ctx, NULL, NULL); /* first: it touches s */
    dagl_l_watchdog_stop(s); /* then this: it may touch the lua_States */
    dagl_l_free_workers(s);
    dagl_trace_free(s->trace);
    s->trace = NULL;
    free(s->free_co);
    s->free_co = NULL;
    if (s->vm) {
        dagl_lock_release(s->vm);
        dagl_lock_free(s->vm);
        s->vm = NULL;
    }
    if (s->on_ctx) s->on_ctx(s->on_ctx_ud, NULL);
    if (s->owns_ctx) dagl_ctx_free(s->ctx);
    s->ctx = NULL;
    return 0;
}

dagl_lstate *dagl_l_state(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "dagl.state");
    dagl_lstate *s = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return s;
}

/* lentry.h's view of the state, for C code that must not read its layout (the embedding runtime). */
dagl_ctx *dagl_l_ctx(const dagl_lstate *s) { return s->ctx; }

/* Sessions of the embedding runtime start graph runs outside Lua and pass this as run_options.unlocked. */
int dagl_l_per_worker(const dagl_lstate *s) { return s->mode == DAGL_LOCK_PER_WORKER; }


/* dagl.version(): "0.1.0" plus the OpenBLAS core it runs on. */
static int l_version(lua_State *L)
{
    lua_pushstring(L, dagl_version());
    lua_pushstring(L, dagl_blas_corename());
    return 2;
}

/* dagl.is_tensor(v) -> whether v is a tensor, without raising for other values */
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

/* dagl.num_threads() -> inter, intra: the worker count and the intra-op limit (0 = all workers). */
static int l_num_threads(lua_State *L)
{
    lua_pushinteger(L, dagl_ctx_threads(DAGL_LCTX(L)));
    lua_pushinteger(L, dagl_ctx_intra_threads(DAGL_LCTX(L)));
    return 2;
}

/* dagl.set_threads(n) or dagl.set_threads{inter = n, intra = k}: worker threads for later runs,
 * and how many of them may work on one kernel (0 = all; 1 = no intra-op parallelism). */
static int l_set_threads(lua_State *L)
{
    dagl_ctx *ctx = DAGL_LCTX(L);
    if (!lua_istable(L, 1)) {
        if (dagl_ctx_set_threads(ctx, (int)luaL_checkinteger(L, 1))) return dagl_l_error(L);
        return 0;
    }
    static const char *const keys[] = {"intra", "inter"};
    lua_Integer v[2];
    bool given[2];
    for (int i = 0; i < 2; i++) {
        int t = lua_getfield(L, 1, keys[i]);
        given[i] = t != LUA_TNIL;
        if (given[i] && !lua_isinteger(L, -1))
            return luaL_error(L, "set_threads: %s must be an integer, got %s", keys[i], luaL_typename(L, -1));
        v[i] = lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    if (given[0] && dagl_ctx_set_intra_threads(ctx, (int)v[0])) return dagl_l_error(L);
    if (given[1] && dagl_ctx_set_threads(ctx, (int)v[1])) return dagl_l_error(L);
    return 0;
}

/* dagl.set_check_numerics(on) -> previous setting: graph runs (dagl.fn, models) check every
 * node's float output and fail at the first NaN or infinity, naming the node, op and layer. */
static int l_set_check_numerics(lua_State *L)
{
    luaL_checkany(L, 1);
    dagl_lstate *s = DAGL_LSTATE(L);
    lua_pushboolean(L, s->check_numerics);
    s->check_numerics = lua_toboolean(L, 1);
    return 1;
}

/* dagl.set_memory_plan(on) -> previous setting: graph runs keep intermediates in the graph's
 * planned arena (the default), or each in memory of its own (for debugging and comparisons). */
static int l_set_memory_plan(lua_State *L)
{
    luaL_checkany(L, 1);
    dagl_lstate *s = DAGL_LSTATE(L);
    lua_pushboolean(L, !s->no_plan);
    s->no_plan = !lua_toboolean(L, 1);
    return 1;
}

/* dagl.wall_time(): monotonic seconds, for timing (os.clock counts CPU time of all threads). */
static int l_wall_time(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
    return 1;
}

static const luaL_Reg module_funcs[] = {
    {"wall_time", l_wall_time},
    {"set_threads", l_set_threads}, {"set_check_numerics", l_set_check_numerics},
    {"set_memory_plan", l_set_memory_plan},
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
    dagl_l_setfuncs(L, dagl_l_luaop_funcs);
    dagl_l_setfuncs(L, dagl_l_lock_funcs);
    dagl_l_setfuncs(L, dagl_l_trace_funcs);
    dagl_l_setfuncs(L, dagl_l_io_funcs);
    dagl_l_setfuncs(L, dagl_l_onnx_funcs);
    dagl_l_setfuncs(L, dagl_l_ffi_funcs);
    dagl_l_setfuncs(L, dagl_l_ffi_kernel_funcs);
    dagl_l_setfuncs(L, dagl_l_guard_funcs);
    dagl_l_setfuncs(L, dagl_l_dist_funcs);
    dagl_l_setfuncs(L, dagl_l_op_methods);
    dagl_l_setfuncs(L, dagl_l_front_funcs);
    dagl_l_setfuncs(L, dagl_l_view_methods);
    dagl_l_setfuncs(L, dagl_l_index_funcs);
    dagl_l_setfuncs(L, dagl_l_index_methods);
    dagl_l_setfuncs(L, dagl_l_tensor_methods);
    lua_pushvalue(L, lua_upvalueindex(2));
    dagl_l_open_tensor(L);
    lua_setfield(L, -2, "Tensor");
    lua_pushliteral(L, DAGL_VERSION_STRING);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}

/* Makes the binding state (registry "dagl.state") and the module. With `shared` the state
 * uses that context and has no VM lock (a per-worker state); otherwise it makes a context (from
 * the options `o`, which may be NULL) and the VM lock, which the calling thread holds from now
 * on: it is running Lua. */
static int open_state(lua_State *L, dagl_ctx *shared, const dagl_lua_options *o)
{
    static const dagl_lua_options defaults = {0};
    if (!o) o = &defaults;
    dagl_lstate *s = lua_newuserdatauv(L, sizeof *s, 0);
    memset(s, 0, sizeof *s);
    s->switch_interval = 0.005;
    lua_newtable(L);
    lua_pushcfunction(L, state_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    s->main = lua_tothread(L, -1);
    lua_pop(L, 1);
    if (shared) {
        s->ctx = shared;
    } else {
        if (o->threads < 0 || o->threads > 4096)
            return luaL_error(L, "dagl: %d threads (0 = DAGL_NUM_THREADS or the core count, at most 4096)", o->threads);
        dagl_ctx_options opt = {.threads = o->threads, .seed = o->seed, .allocator = o->allocator};
        s->mode = o->per_worker_lua ? DAGL_LOCK_PER_WORKER : DAGL_LOCK_GLOBAL;
        dagl_status st = dagl_ctx_new(&opt, &s->ctx);
        s->owns_ctx = s->ctx != NULL; /* freed by state_gc, also when what follows fails */
        if (st || (st = dagl_lock_new(&s->vm)))
            return luaL_error(L, "dagl: cannot create a context (%s)",
                              st == DAGL_E_ARG ? "an allocator needs both alloc and free" : dagl_status_name(st));
        dagl_lock_acquire(s->vm);
        dagl_l_watchdog_init(s);
        dagl_lock_set_contended(s->vm, dagl_l_lock_contended, s);
        s->spare = lua_newthread(L);
        lua_setfield(L, LUA_REGISTRYINDEX, "dagl.spare");
        lua_newtable(L);
        lua_setfield(L, LUA_REGISTRYINDEX, DAGL_NODE_THREADS);
        lua_pushboolean(L, 0); /* the slot dagl_l_relock anchors the running coroutine in */
        lua_rawsetp(L, LUA_REGISTRYINDEX, &s->running);
        dagl_l_mark_held(s, L);
        dagl_ctx_set_interrupt_callback(s->ctx, dagl_l_on_interrupt, s);
        s->on_ctx = o->on_ctx;
        s->on_ctx_ud = o->on_ctx_ud;
        if (s->on_ctx) s->on_ctx(s->on_ctx_ud, s->ctx);
    }
    /* keep the state alive as long as the registry */
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, "dagl.state");
    luaL_newmetatable(L, DAGL_TENSOR_MT);
    lua_pushcclosure(L, open_module, 2);
    lua_call(L, 0, 1);
    return 1;
}

/* require "dagl.core" in a plain lua_State: a binding with a context and VM lock of its own, held
 * by the calling thread. */
DAGL_API int luaopen_dagl_core(lua_State *L) { return open_state(L, NULL, NULL); }

/* The binding with the options of dagl_lua_preload (l_preload.c), for hosts and embedders. */
int dagl_l_open(lua_State *L, const dagl_lua_options *opt) { return open_state(L, NULL, opt); }

int dagl_l_open_shared(lua_State *L, dagl_ctx *ctx) { return open_state(L, ctx, NULL); }
