/* l_dist.c -- dagl_dist from Lua (lua/dagl/dist.lua wraps it): one handle per lua_State, kept in
 * the registry so that every dagl.dist call and the host's error path find the same world; the
 * collectives release the VM lock while they wait for the other ranks; g:collective adds the
 * graph nodes dagl.fn traces. Errors become Lua errors here, after cleanup. */
#include "ldagl.h"

#include <string.h>

#define DIST_MT "dagl.Dist"
#define DIST_KEY "dagl.dist.world"

typedef struct dist_box {
    dagl_dist *d;
} dist_box;

static const char *const op_names[] = {"sum", "mean", "max", NULL};
static const char *const kind_names[] = {"allreduce", "broadcast", "allgather", "reduce_scatter", NULL};

/* The handle at idx; raises once it was closed. */
static dagl_dist *check_dist(lua_State *L, int idx)
{
    dist_box *b = luaL_checkudata(L, idx, DIST_MT);
    if (!b->d) luaL_error(L, "dagl.dist: the world was closed (dagl.dist.close); MPI cannot be joined again");
    return b->d;
}

/* __gc: leaves the world (dagl_dist_free: the handshake, MPI_Finalize). It has no binding
 * upvalues (and runs when lua_close may have freed the binding state), so it keeps the VM lock. */
static int dist_gc(lua_State *L)
{
    dist_box *b = luaL_checkudata(L, 1, DIST_MT);
    dagl_dist *d = b->d;
    b->d = NULL;
    dagl_dist_free(d);
    return 0;
}

/* d:close(): the same, without the VM lock while the other ranks answer. */
static int dist_close(lua_State *L)
{
    dist_box *b = luaL_checkudata(L, 1, DIST_MT);
    dagl_dist *d = b->d;
    b->d = NULL;
    dagl_lstate *s = DAGL_LSTATE(L);
    dagl_l_unlock(s);
    dagl_dist_free(d);
    dagl_l_relock(s, L);
    return 0;
}

static int dist_rank(lua_State *L) { lua_pushinteger(L, dagl_dist_rank(check_dist(L, 1))); return 1; }
static int dist_size(lua_State *L) { lua_pushinteger(L, dagl_dist_size(check_dist(L, 1))); return 1; }
static int dist_is_mpi(lua_State *L) { lua_pushboolean(L, dagl_dist_is_mpi(check_dist(L, 1))); return 1; }
static int dist_sequence(lua_State *L) { lua_pushinteger(L, (lua_Integer)dagl_dist_sequence(check_dist(L, 1))); return 1; }

/* d:timeout([seconds]) -> the timeout (set first when given). */
static int dist_timeout(lua_State *L)
{
    dagl_dist *d = check_dist(L, 1);
    if (!lua_isnoneornil(L, 2)) {
        lua_Number t = luaL_checknumber(L, 2);
        luaL_argcheck(L, dagl_dist_set_timeout(d, t) == DAGL_OK, 2, "a positive number of seconds expected");
    }
    lua_pushnumber(L, dagl_dist_timeout(d));
    return 1;
}

/* The end of a blocking collective: the VM lock back, then the error (if any) raised. */
static int finish(lua_State *L, dagl_lstate *s, dagl_status st, dagl_tensor **slot)
{
    dagl_l_relock(s, L);
    return dagl_l_done_s(L, s, st, slot);
}

/* d:barrier() */
static int dist_barrier(lua_State *L)
{
    dagl_dist *d = check_dist(L, 1);
    dagl_lstate *s = DAGL_LSTATE(L);
    dagl_l_unlock(s);
    dagl_status st = dagl_dist_barrier(d, s->ctx);
    dagl_l_relock(s, L);
    if (st) return dagl_l_error(L);
    return 0;
}

/* The four collectives behind one signature: t, then the reduction or the root (allgather
 * ignores it). */
typedef dagl_status (*coll_fn)(dagl_dist *d, dagl_ctx *ctx, dagl_tensor *t, int arg, dagl_tensor **out);
static dagl_status do_allreduce(dagl_dist *d, dagl_ctx *ctx, dagl_tensor *t, int op, dagl_tensor **out)
{
    return dagl_dist_allreduce(d, ctx, (dagl_dist_op)op, t, out);
}
static dagl_status do_broadcast(dagl_dist *d, dagl_ctx *ctx, dagl_tensor *t, int root, dagl_tensor **out)
{
    return dagl_dist_broadcast(d, ctx, t, root, out);
}
static dagl_status do_allgather(dagl_dist *d, dagl_ctx *ctx, dagl_tensor *t, int unused, dagl_tensor **out)
{
    return dagl_dist_allgather(d, ctx, t, out);
}
static dagl_status do_reduce_scatter(dagl_dist *d, dagl_ctx *ctx, dagl_tensor *t, int op, dagl_tensor **out)
{
    return dagl_dist_reduce_scatter(d, ctx, (dagl_dist_op)op, t, out);
}

/* Runs f on (the world at 1, the tensor at 2, arg) without the VM lock: into the tensor itself
 * when `inplace` (it is returned then), else into a new tensor. */
static int run_collective(lua_State *L, int arg, coll_fn f, bool inplace)
{
    dagl_dist *d = check_dist(L, 1);
    dagl_tensor *t = dagl_l_check(L, 2);
    dagl_lstate *s = DAGL_LSTATE(L);
    if (inplace) {
        dagl_l_unlock(s);
        dagl_status st = f(d, s->ctx, t, arg, NULL);
        dagl_l_relock(s, L);
        if (st) return dagl_l_error(L);
        lua_settop(L, 2);
        return 1;
    }
    dagl_tensor **o = dagl_l_slot(L);
    dagl_l_unlock(s);
    return finish(L, s, f(d, s->ctx, t, arg, o), o);
}

/* d:allreduce(t, op, inplace) and d:broadcast(t, root, inplace) -> the result (t itself in
 * place); d:allgather(t) and d:reduce_scatter(t, op) -> a new tensor. */
static int dist_allreduce(lua_State *L)
{
    return run_collective(L, luaL_checkoption(L, 3, "sum", op_names), do_allreduce, lua_toboolean(L, 4));
}
static int dist_broadcast(lua_State *L)
{
    return run_collective(L, (int)luaL_checkinteger(L, 3), do_broadcast, lua_toboolean(L, 4));
}
static int dist_allgather(lua_State *L) { return run_collective(L, 0, do_allgather, false); }
static int dist_reduce_scatter(lua_State *L)
{
    return run_collective(L, luaL_checkoption(L, 3, "sum", op_names), do_reduce_scatter, false);
}

/* d:collective(g, kind, op, root, {ids}, after) -> {result ids}, launch id: the graph nodes of a
 * collective (dagl_graph_collective); after is a node id or nil. */
static int dist_collective(lua_State *L)
{
    dagl_dist *d = check_dist(L, 1);
    dagl_graph *g = dagl_l_to_graph(L, 2);
    luaL_argexpected(L, g != NULL, 2, "dagl.Graph");
    dagl_dist_node c = {(dagl_dist_kind)luaL_checkoption(L, 3, NULL, kind_names),
                        (dagl_dist_op)luaL_checkoption(L, 4, "sum", op_names), (int)luaL_optinteger(L, 5, 0),
                        (int)luaL_optinteger(L, 7, -1)};
    luaL_checktype(L, 6, LUA_TTABLE);
    int n = (int)luaL_len(L, 6), srcs[DAGL_MAX_SRCS], outs[DAGL_MAX_SRCS], launch;
    luaL_argcheck(L, n >= 1 && n < DAGL_MAX_SRCS, 6, "1 to 7 node ids expected");
    for (int i = 0; i < n; i++) {
        lua_geti(L, 6, i + 1);
        srcs[i] = (int)luaL_checkinteger(L, -1);
        lua_pop(L, 1);
    }
    if (dagl_graph_collective(g, d, &c, n, srcs, outs, &launch)) return dagl_l_error(L);
    int nout = c.kind == DAGL_DIST_ALLGATHER || c.kind == DAGL_DIST_REDUCE_SCATTER ? 1 : n;
    lua_createtable(L, nout, 0);
    for (int i = 0; i < nout; i++) {
        lua_pushinteger(L, outs[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushinteger(L, launch);
    return 2;
}

/* d:fail(message): tells the other ranks this one failed. */
static int dist_fail(lua_State *L)
{
    dagl_dist *d = check_dist(L, 1);
    const char *msg = luaL_checkstring(L, 2);
    dagl_lstate *s = DAGL_LSTATE(L);
    dagl_l_unlock(s);
    dagl_dist_fail(d, msg);
    dagl_l_relock(s, L);
    return 0;
}

static const luaL_Reg dist_methods[] = {
    {"rank", dist_rank},           {"size", dist_size},         {"is_mpi", dist_is_mpi},
    {"sequence", dist_sequence},   {"timeout", dist_timeout},   {"barrier", dist_barrier},
    {"allreduce", dist_allreduce}, {"broadcast", dist_broadcast}, {"allgather", dist_allgather},
    {"reduce_scatter", dist_reduce_scatter}, {"collective", dist_collective}, {"fail", dist_fail},
    {"close", dist_close},            {NULL, NULL},
};

/* dagl.dist_world([timeout]) -> the state's world, joined on the first call (dagl_dist_new). */
static int l_dist_world(lua_State *L)
{
    double timeout = luaL_optnumber(L, 1, 0);
    luaL_argcheck(L, timeout >= 0, 1, "a positive number of seconds expected");
    if (lua_getfield(L, LUA_REGISTRYINDEX, DIST_KEY) == LUA_TUSERDATA) {
        if (timeout > 0) dagl_dist_set_timeout(check_dist(L, -1), timeout);
        return 1;
    }
    lua_pop(L, 1);
    dist_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->d = NULL;
    if (dagl_l_gc_metatable(L, DIST_MT, dist_gc, 1)) {
        lua_newtable(L);
        dagl_l_setfuncs(L, dist_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_setmetatable(L, -2);
    dagl_lstate *s = DAGL_LSTATE(L);
    dagl_dist_options opt = {timeout};
    dagl_l_unlock(s); /* MPI_Init waits for the other ranks */
    dagl_status st = dagl_dist_new(s->ctx, &opt, &b->d);
    dagl_l_relock(s, L);
    if (st) return dagl_l_error(L);
    if (s->trace) dagl_dist_set_trace(b->d, s->trace); /* joined inside dagl.trace */
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, DIST_KEY);
    return 1;
}

/* dagl.dist_have_mpi() -> whether dagl was built with MPI. */
static int l_dist_have_mpi(lua_State *L)
{
    lua_pushboolean(L, dagl_dist_have_mpi());
    return 1;
}

/* dagl.dist_launched() -> the world size an MPI launcher announced (0: not launched). */
static int l_dist_launched(lua_State *L)
{
    lua_pushinteger(L, dagl_dist_launched());
    return 1;
}

void dagl_l_dist_fail(lua_State *L, const char *msg)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, DIST_KEY) == LUA_TUSERDATA) {
        dist_box *b = luaL_testudata(L, -1, DIST_MT);
        if (b && b->d) {
            char first[448];
            size_t n = strcspn(msg ? msg : "", "\n");
            if (n >= sizeof first) n = sizeof first - 1;
            memcpy(first, msg ? msg : "", n);
            first[n] = 0;
            dagl_dist_fail(b->d, first);
        }
    }
    lua_pop(L, 1);
}

void dagl_l_dist_trace(lua_State *L, dagl_trace *tr)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, DIST_KEY) == LUA_TUSERDATA) {
        dist_box *b = luaL_testudata(L, -1, DIST_MT);
        if (b && b->d) dagl_dist_set_trace(b->d, tr);
    }
    lua_pop(L, 1);
}

const luaL_Reg dagl_l_dist_funcs[] = {
    {"dist_world", l_dist_world}, {"dist_have_mpi", l_dist_have_mpi}, {"dist_launched", l_dist_launched},
    {NULL, NULL},
};
