/* l_io.c -- files and data from Lua: safetensors, .npy/.npz, CSV, and the background row
 * gather of dagl.data. C results are parked in garbage-collected boxes while they are turned
 * into Lua values, so a Lua error at any point leaks nothing. */
#include "ldagl.h"

#include <string.h>

#define DICT_MT "dagl.io.dict"
#define GATHER_MT "dagl.Gather"

/* __gc of a dict box: frees what the reader put in it and Lua has not taken (also after an
 * error). */
static int dict_gc(lua_State *L)
{
    dagl_tensor_dict_clear(lua_touserdata(L, 1));
    return 0;
}

/* A zeroed dict owned by the GC (cleared by __gc), pushed on the stack. */
static dagl_tensor_dict *new_dict_box(lua_State *L)
{
    dagl_tensor_dict *d = lua_newuserdatauv(L, sizeof *d, 0);
    memset(d, 0, sizeof *d);
    dagl_l_gc_metatable(L, DICT_MT, dict_gc, 0);
    lua_setmetatable(L, -2);
    return d;
}

/* Pushes {name = tensor, ...} (the tensors move out of the dict) and, with `meta`, the
 * metadata table. */
static int push_dict(lua_State *L, dagl_tensor_dict *d, int meta)
{
    lua_createtable(L, 0, d->n);
    for (int i = 0; i < d->n; i++) {
        dagl_tensor **slot = dagl_l_slot(L);
        *slot = d->tensors[i];
        d->tensors[i] = NULL;
        dagl_l_done(L, DAGL_OK, slot);
        lua_setfield(L, -2, d->names[i]);
    }
    if (!meta) return 1;
    lua_createtable(L, 0, d->nmeta);
    for (int i = 0; i < d->nmeta; i++) {
        lua_pushstring(L, d->meta_values[i]);
        lua_setfield(L, -2, d->meta_keys[i]);
    }
    return 2;
}

/* dagl.load_safetensors(path) -> {name = tensor}, {key = value} */
static int l_load_safetensors(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    dagl_tensor_dict *d = new_dict_box(L);
    if (dagl_safetensors_read(DAGL_LCTX(L), path, d)) return dagl_l_error(L);
    return push_dict(L, d, 1);
}

/* dagl.load_npz(path) -> {name = tensor} */
static int l_load_npz(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    dagl_tensor_dict *d = new_dict_box(L);
    if (dagl_npz_read(DAGL_LCTX(L), path, d)) return dagl_l_error(L);
    return push_dict(L, d, 0);
}

/* Counts the string-keyed entries of the table at idx; raises on other keys or values. */
static int count_entries(lua_State *L, int idx, int tensors)
{
    int n = 0;
    if (lua_isnoneornil(L, idx)) return 0;
    luaL_checktype(L, idx, LUA_TTABLE);
    for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "save_safetensors: %s keys must be strings", tensors ? "tensor" : "metadata");
        if (tensors ? !dagl_l_test(L, -1) : lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "save_safetensors: entry '%s' is not a %s", lua_tostring(L, -2), tensors ? "tensor" : "string");
        n++;
    }
    return n;
}

/* dagl.save_safetensors(path, {name = tensor}, metadata?) -- names and tensors are borrowed
 * from the tables (which stay on the stack); the arrays are userdata, so nothing leaks. */
static int l_save_safetensors(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int n = count_entries(L, 2, 1), nm = count_entries(L, 3, 0);
    dagl_tensor_dict d = {0};
    d.n = n;
    d.nmeta = nm;
    d.names = lua_newuserdatauv(L, sizeof(char *) * ((size_t)n + 1), 0);
    d.tensors = lua_newuserdatauv(L, sizeof(dagl_tensor *) * ((size_t)n + 1), 0);
    d.meta_keys = lua_newuserdatauv(L, sizeof(char *) * ((size_t)nm + 1), 0);
    d.meta_values = lua_newuserdatauv(L, sizeof(char *) * ((size_t)nm + 1), 0);
    int i = 0;
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
        d.names[i] = (char *)lua_tostring(L, -2);
        d.tensors[i++] = dagl_l_check(L, -1);
    }
    /* metadata values as strings, in a table on the stack that keeps them alive */
    lua_createtable(L, 0, nm);
    int strs = lua_gettop(L);
    if (nm) {
        for (lua_pushnil(L); lua_next(L, 3); lua_pop(L, 1)) {
            luaL_tolstring(L, -1, NULL);
            lua_setfield(L, strs, lua_tostring(L, -3));
        }
    }
    i = 0;
    for (lua_pushnil(L); lua_next(L, strs); lua_pop(L, 1)) {
        d.meta_keys[i] = (char *)lua_tostring(L, -2);
        d.meta_values[i++] = (char *)lua_tostring(L, -1);
    }
    if (dagl_safetensors_write(DAGL_LCTX(L), path, &d)) return dagl_l_error(L);
    return 0;
}

/* dagl.load_npy(path) -> tensor */
static int l_load_npy(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_npy_read(DAGL_LCTX(L), path, o), o);
}

/* dagl.data.read_idx's C half: core.read_idx(path) -> tensor */
static int l_read_idx(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_idx_read(DAGL_LCTX(L), path, o), o);
}

/* dagl.save_npy(path, t) */
static int l_save_npy(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (dagl_npy_write(DAGL_LCTX(L), path, dagl_l_check(L, 2))) return dagl_l_error(L);
    return 0;
}

typedef struct names_box { char **names; int n; } names_box;

/* __gc of read_csv's box of column names, freed even when building the Lua table raises. */
static int names_gc(lua_State *L)
{
    names_box *b = lua_touserdata(L, 1);
    dagl_strings_free(b->names, b->n);
    b->names = NULL;
    return 0;
}

/* dagl.read_csv(path, {delimiter=",", header=false}) -> float32 (rows, cols), {names} or nil */
static int l_read_csv(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    dagl_csv_options opt = {',', 0};
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "delimiter");
        if (!lua_isnil(L, -1)) {
            size_t n;
            const char *dl = luaL_checklstring(L, -1, &n);
            if (n != 1) return luaL_error(L, "read_csv: delimiter must be one character, got '%s'", dl);
            opt.delimiter = dl[0];
        }
        lua_getfield(L, 2, "header");
        opt.header = lua_toboolean(L, -1);
        lua_pop(L, 2);
    }
    names_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->names = NULL;
    b->n = 0;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, names_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    dagl_tensor **o = dagl_l_slot(L);
    dagl_l_done(L, dagl_csv_read(DAGL_LCTX(L), path, &opt, o, &b->names, &b->n), o);
    if (!b->names) {
        lua_pushnil(L);
        return 2;
    }
    lua_createtable(L, b->n, 0);
    for (int i = 0; i < b->n; i++) {
        lua_pushstring(L, b->names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 2;
}

/* ---- background row gather: a userdata owning the dagl_rows_job until wait (or __gc/__close) */

/* The gather handle in argument 1 (its job is NULL after wait or close). */
static dagl_rows_job **check_gather(lua_State *L)
{
    return luaL_checkudata(L, 1, GATHER_MT);
}

/* __gc, __close and handle:close(): waits for a copy still running and drops the job and its result. */
static int gather_gc(lua_State *L)
{
    dagl_rows_job **g = check_gather(L);
    dagl_rows_free(*g);
    *g = NULL;
    return 0;
}

/* handle:wait() -> the gathered tensor (once), waited for without the VM lock; an interrupt
 * stops the wait (the handle keeps the job, which its __gc frees). */
static int gather_wait(lua_State *L)
{
    dagl_rows_job **g = check_gather(L);
    if (!*g) return luaL_error(L, "gather: wait() called twice or after close");
    dagl_tensor **o = dagl_l_slot(L);
    dagl_lstate *s = DAGL_LSTATE(L);
    dagl_rows_job *h = *g;
    *g = NULL; /* the handle lets go while Lua elsewhere may run: the wait frees the job */
    dagl_l_unlock(s);
    dagl_status st = dagl_rows_wait(h, o);
    dagl_l_relock(s, L);
    if (st == DAGL_E_INTERRUPTED) {
        *g = h; /* not freed: the handle's __gc or close frees it */
        return dagl_l_interrupted(L, s);
    }
    return dagl_l_done(L, st, o);
}

/* dagl.gather_rows_async(x, index [, first, last]) -> handle: rows index[first..last] of x (1-based
 * row numbers in a Lua table) are copied into a new tensor on a background thread. */
static int l_gather_rows_async(lua_State *L)
{
    dagl_tensor *x = dagl_l_check(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer first = luaL_optinteger(L, 3, 1), last = luaL_optinteger(L, 4, (lua_Integer)luaL_len(L, 2));
    lua_Integer n = last >= first ? last - first + 1 : 0;
    int64_t *idx = lua_newuserdatauv(L, sizeof(int64_t) * ((size_t)n + 1), 0);
    for (lua_Integer i = 0; i < n; i++) {
        int ok;
        lua_geti(L, 2, first + i);
        idx[i] = (int64_t)lua_tointegerx(L, -1, &ok) - 1;
        if (!ok) return luaL_error(L, "gather_rows_async: index entry %d is not an integer", (int)(first + i));
        lua_pop(L, 1);
    }
    dagl_rows_job **g = lua_newuserdatauv(L, sizeof *g, 0);
    *g = NULL;
    if (dagl_l_gc_metatable(L, GATHER_MT, gather_gc, 1)) {
        lua_createtable(L, 0, 2);
        lua_pushvalue(L, lua_upvalueindex(1)); /* wait makes a tensor: it needs the binding upvalues */
        lua_pushvalue(L, lua_upvalueindex(2));
        lua_pushcclosure(L, gather_wait, 2);
        lua_setfield(L, -2, "wait");
        lua_pushcfunction(L, gather_gc);
        lua_setfield(L, -2, "close");
        lua_setfield(L, -2, "__index");
    }
    lua_setmetatable(L, -2);
    if (dagl_gather_rows_async(DAGL_LCTX(L), x, idx, (int64_t)n, g)) return dagl_l_error(L);
    return 1;
}

const luaL_Reg dagl_l_io_funcs[] = {
    {"load_safetensors", l_load_safetensors}, {"save_safetensors", l_save_safetensors},
    {"load_npy", l_load_npy}, {"save_npy", l_save_npy}, {"load_npz", l_load_npz},
    {"read_csv", l_read_csv}, {"read_idx", l_read_idx}, {"gather_rows_async", l_gather_rows_async}, {NULL, NULL},
};
