/* l_onnx.c -- ONNX import from Lua: core.onnx_load(path) gives a model value (inputs, outputs,
 * and build(shapes) -> a graph value per input signature); core.onnx_read_tensor /
 * onnx_write_tensor for TensorProto files. lua/dagl/onnx.lua makes the callable model of them. */
#include "ldagl.h"

#define ONNX_MT "dagl.OnnxModel"

typedef struct onnx_box {
    dagl_onnx_model *m;
} onnx_box;

/* __gc and m:free(): the model goes (graphs built from it stay valid). */
static int m_gc(lua_State *L)
{
    onnx_box *b = luaL_checkudata(L, 1, ONNX_MT);
    dagl_onnx_free(b->m);
    b->m = NULL;
    return 0;
}

/* The model of the value at 1; raises once it was freed. */
static dagl_onnx_model *check_model(lua_State *L)
{
    onnx_box *b = luaL_checkudata(L, 1, ONNX_MT);
    if (!b->m) luaL_error(L, "attempt to use a freed ONNX model");
    return b->m;
}

/* Pushes a shape as a 1-based table (-1 for a dim the file leaves open). */
static void push_shape(lua_State *L, int nd, const int64_t *shape)
{
    lua_createtable(L, nd > 0 ? nd : 0, 0);
    for (int d = 0; d < nd; d++) {
        lua_pushinteger(L, shape[d]);
        lua_rawseti(L, -2, d + 1);
    }
}

/* m:inputs() -> {{name =, dtype =, shape = {...} or false}, ...} */
static int m_inputs(lua_State *L)
{
    dagl_onnx_model *m = check_model(L);
    int n = dagl_onnx_num_inputs(m);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        const char *name;
        dagl_dtype dt;
        int nd;
        const int64_t *shape;
        dagl_onnx_input_info(m, i, &name, &dt, &nd, &shape);
        lua_createtable(L, 0, 3);
        lua_pushstring(L, name);
        lua_setfield(L, -2, "name");
        lua_pushstring(L, dagl_dtype_name(dt));
        lua_setfield(L, -2, "dtype");
        if (nd < 0) lua_pushboolean(L, 0);
        else push_shape(L, nd, shape);
        lua_setfield(L, -2, "shape");
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* m:outputs() -> {name, ...} */
static int m_outputs(lua_State *L)
{
    dagl_onnx_model *m = check_model(L);
    int n = dagl_onnx_num_outputs(m);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, dagl_onnx_output_name(m, i));
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* m:opset() -> the model's opset */
static int m_opset(lua_State *L)
{
    lua_pushinteger(L, dagl_onnx_opset(check_model(L)));
    return 1;
}

/* m:build({shape1, shape2, ...}) -> a graph value for those input shapes (a missing entry: the
 * declared shape). */
static int m_build(lua_State *L)
{
    dagl_onnx_model *m = check_model(L);
    int n = dagl_onnx_num_inputs(m);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (n > 64) return luaL_error(L, "onnx build: %d inputs (at most 64)", n);
    int ndims[64];
    int64_t shapes[64][DAGL_MAX_DIMS];
    const int64_t *sp[64];
    for (int i = 0; i < n; i++) {
        sp[i] = NULL;
        ndims[i] = 0;
        if (lua_rawgeti(L, 2, i + 1) == LUA_TTABLE) {
            lua_Integer nd = (lua_Integer)lua_rawlen(L, -1);
            if (nd > DAGL_MAX_DIMS) return luaL_error(L, "onnx build: input %d has %d dims (at most %d)", i + 1, (int)nd, DAGL_MAX_DIMS);
            for (int d = 0; d < nd; d++) {
                lua_rawgeti(L, -1, d + 1);
                shapes[i][d] = luaL_checkinteger(L, -1);
                lua_pop(L, 1);
            }
            ndims[i] = (int)nd;
            sp[i] = shapes[i];
        }
        lua_pop(L, 1);
    }
    dagl_graph **slot = dagl_l_graph_slot(L);
    if (dagl_onnx_build(m, ndims, sp, slot)) return dagl_l_error(L);
    return 1;
}

/* m:add_to(graph, {id1, ...}) -> {out_id1, ...}: the model's nodes added to a graph being
 * traced, after the given input nodes (dagl_onnx_add_to_graph). */
static int m_add_to(lua_State *L)
{
    dagl_onnx_model *m = check_model(L);
    dagl_graph *g = dagl_l_to_graph(L, 2);
    luaL_argcheck(L, g != NULL, 2, "graph expected");
    luaL_checktype(L, 3, LUA_TTABLE);
    int nin = dagl_onnx_num_inputs(m), nout = dagl_onnx_num_outputs(m);
    if (nin > 64 || nout > 64) return luaL_error(L, "onnx: %d inputs and %d outputs (at most 64 each)", nin, nout);
    int in[64], out[64];
    for (int i = 0; i < nin; i++) {
        lua_rawgeti(L, 3, i + 1);
        in[i] = (int)luaL_checkinteger(L, -1);
        lua_pop(L, 1);
    }
    if (dagl_onnx_add_to_graph(m, g, in, out)) return dagl_l_error(L);
    lua_createtable(L, nout, 0);
    for (int i = 0; i < nout; i++) {
        lua_pushinteger(L, out[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static const luaL_Reg model_methods[] = {
    {"inputs", m_inputs}, {"outputs", m_outputs}, {"opset", m_opset}, {"build", m_build},
    {"add_to", m_add_to}, {"free", m_gc}, {NULL, NULL},
};

/* core.onnx_load(path) -> a model value */
static int l_onnx_load(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    onnx_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->m = NULL;
    if (dagl_l_gc_metatable(L, ONNX_MT, m_gc, 1)) {
        lua_newtable(L);
        dagl_l_setfuncs(L, model_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_setmetatable(L, -2);
    if (dagl_onnx_load(DAGL_LCTX(L), path, &b->m)) return dagl_l_error(L);
    return 1;
}

/* core.onnx_read_tensor(path) -> tensor */
static int l_onnx_read_tensor(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_onnx_tensor_read(DAGL_LCTX(L), path, o), o);
}

/* core.onnx_write_tensor(t, path) */
static int l_onnx_write_tensor(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    const char *path = luaL_checkstring(L, 2);
    if (dagl_onnx_tensor_write(DAGL_LCTX(L), path, t)) return dagl_l_error(L);
    return 0;
}

/* core.onnx_save(graph, path): the graph (a fresh trace) written as an ONNX model. */
static int l_onnx_save(lua_State *L)
{
    dagl_graph *g = dagl_l_to_graph(L, 1);
    luaL_argcheck(L, g != NULL, 1, "graph expected");
    const char *path = luaL_checkstring(L, 2);
    if (dagl_onnx_save(g, path)) return dagl_l_error(L);
    return 0;
}

const luaL_Reg dagl_l_onnx_funcs[] = {
    {"onnx_save", l_onnx_save},
    {"onnx_load", l_onnx_load}, {"onnx_read_tensor", l_onnx_read_tensor},
    {"onnx_write_tensor", l_onnx_write_tensor}, {NULL, NULL},
};
