/* l_graph.c -- graphs from Lua: dagl.graph() gives a builder/runner over dagl_graph; the Lua
 * tracer (lua/dagl/fn.lua) drives it. Ops are named as dagl_op_name spells them. */
#include "ldagl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GRAPH_MT "dagl.Graph"

/* A dagl.graph() value: the graph (NULL once freed) and how many of its runs from Lua completed,
 * counted in C as a run returns, so Lua can tell a run that was applied (its assigns wrote the
 * weights) from one an interrupt stopped, whatever instruction the interrupt lands on next. */
typedef struct graph_box {
    dagl_graph *g;
    lua_Integer runs;
} graph_box;

/* The box at idx; raises once g:free() or the collector has freed its graph. */
static graph_box *check_box(lua_State *L, int idx)
{
    graph_box *b = luaL_checkudata(L, idx, GRAPH_MT);
    if (!b->g) luaL_error(L, "attempt to use a freed graph");
    return b;
}

/* The graph of the userdata at idx (check_box). */
static dagl_graph *check_graph(lua_State *L, int idx) { return check_box(L, idx)->g; }

/* For the embedding runtime, which runs the graphs dagl.fn traces from C. */
dagl_graph *dagl_l_to_graph(lua_State *L, int idx)
{
    graph_box *b = luaL_testudata(L, idx, GRAPH_MT);
    return b ? b->g : NULL;
}

/* __gc, __close and g:free(): frees the graph now (once), so a big graph need not wait for the GC. */
static int g_gc(lua_State *L)
{
    graph_box *b = luaL_checkudata(L, 1, GRAPH_MT);
    dagl_graph_free(b->g);
    b->g = NULL;
    return 0;
}

/* Node ids are 0-based in C and returned as-is: they are handles, not positions. */
static int checked_id(lua_State *L, dagl_graph *g, int idx)
{
    lua_Integer id = luaL_checkinteger(L, idx);
    luaL_argcheck(L, id >= 0 && id < dagl_graph_num_nodes(g), idx, "no such node");
    return (int)id;
}

/* g:input(dtype, shape) -> id */
static int g_input(lua_State *L)
{
    dagl_graph *g = check_graph(L, 1);
    dagl_dtype dt = dagl_l_dtype(L, 2, DAGL_F32);
    int64_t shape[DAGL_MAX_DIMS];
    luaL_checktype(L, 3, LUA_TTABLE);
    int n = dagl_l_shape(L, 3, shape), id;
    if (dagl_graph_input(g, dt, n, shape, &id)) return dagl_l_error(L);
    lua_pushinteger(L, id);
    return 1;
}

/* g:constant(tensor) -> id; the graph keeps a reference to the tensor */
static int g_constant(lua_State *L)
{
    dagl_graph *g = check_graph(L, 1);
    int id;
    if (dagl_graph_constant(g, dagl_l_check(L, 2), &id)) return dagl_l_error(L);
    lua_pushinteger(L, id);
    return 1;
}

/* Looks an op up by name ("add", "matmul", ...). */
static dagl_op op_by_name(lua_State *L, int idx)
{
    const char *name = luaL_checkstring(L, idx);
    dagl_op op = dagl_op_from_name(name);
    if (op == DAGL_OP_NONE) luaL_argerror(L, idx, lua_pushfstring(L, "unknown op '%s'", name));
    return op;
}

/* Reads optional node parameters from a table: scalar, scalar_first, lo, hi, dims (0-based),
 * keepdim, correction, shape, axis (0-based), start, stop, step, index_base, reverse, rate, seed, dtype,
 * and the window of conv/pool ops: pool_size, strides, padding. The table is in the graph's form
 * (what the front end of l_front.c writes): nothing here is normalized again. */
static void read_params(lua_State *L, int idx, dagl_node_params *p, const char *what)
{
    dagl_node_params_init(p);
    if (lua_isnoneornil(L, idx)) return;
    luaL_checktype(L, idx, LUA_TTABLE);
    if (lua_getfield(L, idx, "scalar") == LUA_TNUMBER) {
        p->has_scalar = 1;
        p->scalar = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "scalar_first");
    p->scalar_first = lua_toboolean(L, -1);
    lua_getfield(L, idx, "keepdim");
    p->keepdim = lua_toboolean(L, -1);
    lua_getfield(L, idx, "reverse");
    p->reverse = lua_toboolean(L, -1);
    lua_pop(L, 3);
    if (lua_getfield(L, idx, "lo") == LUA_TNUMBER) p->lo = lua_tonumber(L, -1);
    if (lua_getfield(L, idx, "hi") == LUA_TNUMBER) p->hi = lua_tonumber(L, -1);
    if (lua_getfield(L, idx, "correction") == LUA_TNUMBER) p->correction = (int)lua_tointeger(L, -1);
    lua_pop(L, 3);
    if (lua_getfield(L, idx, "dims") == LUA_TTABLE) {
        int n = (int)luaL_len(L, -1);
        luaL_argcheck(L, n <= DAGL_MAX_DIMS, idx, "too many dims");
        for (int i = 0; i < n; i++) {
            lua_geti(L, -1, i + 1);
            p->dims[i] = (int)lua_tointeger(L, -1);
            lua_pop(L, 1);
        }
        p->ndims = n;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "shape") == LUA_TTABLE) p->nshape = dagl_l_shape(L, lua_gettop(L), p->shape);
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "axis") == LUA_TNUMBER) p->axis = (int)lua_tointeger(L, -1);
    if (lua_getfield(L, idx, "start") == LUA_TNUMBER) p->start = lua_tointeger(L, -1);
    if (lua_getfield(L, idx, "stop") == LUA_TNUMBER) p->stop = lua_tointeger(L, -1);
    if (lua_getfield(L, idx, "step") == LUA_TNUMBER) p->step = lua_tointeger(L, -1);
    if (lua_getfield(L, idx, "index_base") == LUA_TNUMBER) p->index_base = lua_tointeger(L, -1);
    if (lua_getfield(L, idx, "rate") == LUA_TNUMBER) p->rate = lua_tonumber(L, -1);
    if (lua_getfield(L, idx, "seed") == LUA_TNUMBER) p->seed = (uint64_t)lua_tointeger(L, -1);
    lua_pop(L, 7);
    if (lua_getfield(L, idx, "dtype") == LUA_TSTRING) p->dtype = dagl_l_dtype(L, -1, DAGL_F32);
    lua_pop(L, 1);
    dagl_l_window(L, idx, &p->window, what);
}

/* g:node(op, {src ids}, params) -> id */
static int g_node(lua_State *L)
{
    dagl_graph *g = check_graph(L, 1);
    dagl_op op = op_by_name(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    int srcs[8], n = (int)luaL_len(L, 3); /* DAGL_MAX_SRCS of the graph */
    luaL_argcheck(L, n >= 1 && n <= 8, 3, "1 to 8 sources");
    for (int i = 0; i < n; i++) {
        lua_geti(L, 3, i + 1);
        srcs[i] = checked_id(L, g, -1);
        lua_pop(L, 1);
    }
    dagl_node_params p;
    read_params(L, 4, &p, lua_tostring(L, 2));
    int id;
    if (dagl_graph_node(g, op, n, srcs, &p, &id)) return dagl_l_error(L);
    lua_pushinteger(L, id);
    return 1;
}

/* g:label(id, name): the layer name errors and traces show for the node */
static int g_label(lua_State *L)
{
    dagl_graph *g = check_graph(L, 1);
    if (dagl_graph_set_label(g, checked_id(L, g, 2), luaL_checkstring(L, 3))) return dagl_l_error(L);
    return 0;
}

/* g:output(id): declares the next output of a run */
static int g_output(lua_State *L)
{
    dagl_graph *g = check_graph(L, 1);
    if (dagl_graph_output(g, checked_id(L, g, 2))) return dagl_l_error(L);
    return 0;
}

/* g:info(id) -> dtype name, shape table */
static int g_info(lua_State *L)
{
    dagl_graph *g = check_graph(L, 1);
    dagl_dtype dt;
    int nd;
    const int64_t *shape;
    dagl_graph_node_info(g, checked_id(L, g, 2), &dt, &nd, &shape);
    lua_pushstring(L, dagl_dtype_name(dt));
    lua_createtable(L, nd, 0);
    for (int i = 0; i < nd; i++) {
        lua_pushinteger(L, shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 2;
}

/* g:num_nodes() -> every node added so far, inputs and constants included */
static int g_num_nodes(lua_State *L)
{
    lua_pushinteger(L, dagl_graph_num_nodes(check_graph(L, 1)));
    return 1;
}

/* g:dot() -> Graphviz text of the graph, for looking at what the tracer built */
static int g_dot(lua_State *L)
{
    return dagl_l_push_malloced(L, dagl_graph_dot(check_graph(L, 1)), "dot");
}

/* g:plan() -> {nodes =, total_bytes =, peak_bytes =, arena_bytes =, planned_nodes =, inplace_nodes =}:
 * dagl_graph_plan's memory plan. */
static int g_plan(lua_State *L)
{
    dagl_graph *g = check_graph(L, 1);
    dagl_graph_plan_info info;
    if (dagl_graph_plan(g, &info)) return dagl_l_error(L);
    const struct { const char *key; lua_Integer v; } fields[] = {
        {"nodes", info.nodes}, {"total_bytes", info.total_bytes}, {"peak_bytes", info.peak_bytes},
        {"arena_bytes", info.arena_bytes}, {"planned_nodes", info.planned_nodes},
        {"inplace_nodes", info.inplace_nodes}};
    int nf = (int)(sizeof fields / sizeof *fields);
    lua_createtable(L, 0, nf);
    for (int i = 0; i < nf; i++) {
        lua_pushinteger(L, fields[i].v);
        lua_setfield(L, -2, fields[i].key);
    }
    return 1;
}

/* g:run(x1, x2, ...) -> outputs as multiple results. */
static int g_run(lua_State *L)
{
    graph_box *box = check_box(L, 1);
    dagl_graph *g = box->g;
    int nin = dagl_graph_num_inputs(g), nout = dagl_graph_num_outputs(g);
    if (lua_gettop(L) - 1 != nin)
        return luaL_error(L, "graph run: %d inputs given, the graph takes %d", lua_gettop(L) - 1, nin);
    dagl_tensor *in[64], **slots[64];
    if (nin > 64 || nout > 64)
        return luaL_error(L, "graph run: %d inputs and %d outputs (at most 64 each)", nin, nout);
    for (int i = 0; i < nin; i++) in[i] = dagl_l_check(L, i + 2);
    luaL_checkstack(L, nout, "graph run");
    for (int i = 0; i < nout; i++) slots[i] = dagl_l_slot(L);
    dagl_tensor *out[64];
    dagl_lstate *s = DAGL_LSTATE(L);
    dagl_run_options opt = {.trace = s->trace, .unlocked = s->mode == DAGL_LOCK_PER_WORKER,
                            .check_numerics = s->check_numerics, .no_plan = s->no_plan};
    dagl_l_unlock(s); /* Lua nodes of the graph take it on the workers */
    dagl_status st = dagl_graph_run_ex(g, in, out, &opt);
    dagl_l_relock(s, L);
    if (st == DAGL_E_INTERRUPTED) return dagl_l_interrupted(L, s);
    if (st) return dagl_l_error(L);
    box->runs++;
    for (int i = 0; i < nout; i++) {
        *slots[i] = out[i];
        dagl_l_done(L, DAGL_OK, slots[i]);
    }
    return nout;
}

/* g:num_runs() -> the runs of g:run that completed (an interrupted or failed one does not count) */
static int g_num_runs(lua_State *L)
{
    lua_pushinteger(L, check_box(L, 1)->runs);
    return 1;
}

/* g:custom(handle, srcs, dtype, shape): a Lua node (dagl.luaop) or a C kernel (dagl.ffi). */
static int g_custom(lua_State *L)
{
    dagl_graph *g = check_graph(L, 1);
    if (dagl_l_is_ffi_kernel(L, 2)) return dagl_l_ffi_graph_custom(L, g);
    return dagl_l_graph_custom(L, g);
}

static const luaL_Reg graph_methods[] = {
    {"custom", g_custom},
    {"input", g_input},   {"constant", g_constant}, {"node", g_node},     {"label", g_label},
    {"output", g_output}, {"info", g_info},         {"num_nodes", g_num_nodes}, {"dot", g_dot},
    {"plan", g_plan},     {"num_runs", g_num_runs},
    {"run", g_run},       {"free", g_gc},           {NULL, NULL},
};

/* Pushes an empty graph value (its graph still NULL) and returns its box. */
static graph_box *push_box(lua_State *L)
{
    graph_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->g = NULL;
    b->runs = 0;
    if (dagl_l_gc_metatable(L, GRAPH_MT, g_gc, 1)) {
        lua_newtable(L);
        dagl_l_setfuncs(L, graph_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_setmetatable(L, -2);
    return b;
}

/* dagl.graph() -> a new, empty graph on this state's context. */
static int l_graph(lua_State *L)
{
    graph_box *b = push_box(L);
    if (dagl_graph_new(DAGL_LCTX(L), &b->g)) return dagl_l_error(L);
    return 1;
}

/* For graphs made in C (the ONNX importer's): pushes an empty graph value and returns where its
 * graph goes, so a graph made afterwards is owned by the GC at once (nothing leaks if Lua raises).
 * Called from binding functions (it uses their upvalues). */
dagl_graph **dagl_l_graph_slot(lua_State *L)
{
    return &push_box(L)->g;
}

const luaL_Reg dagl_l_graph_funcs[] = {{"graph", l_graph}, {NULL, NULL}};
