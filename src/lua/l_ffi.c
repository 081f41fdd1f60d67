/* l_ffi.c -- dagl.ffi: calling users' C functions from Lua through libffi. ffi.load(path) opens a
 * library (dlopen); lib:func(name, "double(double, int64)") declares a function once (symbol
 * lookup, signature parse, ffi_cif) and returns a Lua function that converts and checks its
 * arguments at every call. Tensors are passed as their data pointers, without copies. */
#include "l_ffi.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#define DECL_MT "dagl.ffi.Function"

/* The Lua handle and every function and kernel made from a library hold a reference, so dlclose
 * waits for the last of them. */
void dagl_ffi_lib_retain(dagl_ffi_lib *lib) { atomic_fetch_add(&lib->refs, 1); }

/* Drops one reference; the last one closes the library (dlclose) and frees it. NULL is allowed. */
void dagl_ffi_lib_release(dagl_ffi_lib *lib)
{
    if (!lib || atomic_fetch_sub(&lib->refs, 1) != 1) return;
    if (lib->handle) dlclose(lib->handle);
    free(lib->path);
    free(lib);
}

dagl_ffi_lib *dagl_ffi_check_lib(lua_State *L, int idx)
{
    dagl_ffi_lib **ud = luaL_checkudata(L, idx, DAGL_FFI_LIB_MT);
    if (!*ud) luaL_error(L, "ffi: attempt to use a closed library");
    return *ud;
}

void *dagl_ffi_symbol(lua_State *L, dagl_ffi_lib *lib, const char *name)
{
    dlerror();
    void *p = dlsym(lib->handle, name);
    if (!p) {
        const char *why = dlerror();
        luaL_error(L, "ffi: no symbol '%s' in %s (%s)", name, lib->path, why ? why : "its address is NULL");
    }
    return p;
}

/* Drops the Lua handle's reference: by __gc, __close or lib:close(). The library stays loaded
 * while functions or kernels made from it are alive. */
static int lib_close(lua_State *L)
{
    dagl_ffi_lib **ud = luaL_checkudata(L, 1, DAGL_FFI_LIB_MT);
    dagl_ffi_lib_release(*ud);
    *ud = NULL;
    return 0;
}

/* __tostring of a library handle: its path, or that it was closed. */
static int lib_tostring(lua_State *L)
{
    dagl_ffi_lib **ud = luaL_checkudata(L, 1, DAGL_FFI_LIB_MT);
    if (*ud) lua_pushfstring(L, "dagl.ffi.Library(%s)", (*ud)->path);
    else lua_pushliteral(L, "dagl.ffi.Library(closed)");
    return 1;
}

/* A declared function: the upvalue of the Lua closure that calls it. */
typedef struct ffi_decl {
    dagl_ffi_lib *lib; /* a reference */
    void *fn;
    ffi_cif cif;
    ffi_type *types[DAGL_FFI_MAX_ARGS];
    dagl_ffi_sig sig;
    char name[64];     /* the symbol, for messages (truncated) */
} ffi_decl;

/* __gc of a declared function: gives back its reference to the library. */
static int decl_gc(lua_State *L)
{
    ffi_decl *d = luaL_checkudata(L, 1, DECL_MT);
    dagl_ffi_lib_release(d->lib);
    d->lib = NULL;
    return 0;
}

/* One argument or result in the width libffi reads and writes. */
typedef union ffi_value {
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
    void *p;
    ffi_sarg sarg;
} ffi_value;

/* Raises "bad argument #i to 'name' (T expected, got X)". */
static int arg_error(lua_State *L, int i, const ffi_decl *d, const char *got)
{
    return luaL_error(L, "bad argument #%d to '%s' (%s expected, got %s)", i, d->name,
                      dagl_ffi_kind_name(d->sig.args[i - 1]), got);
}

/* The data pointer of the tensor argument i, which must be contiguous and (want >= 0) of dtype want. */
static void *tensor_arg(lua_State *L, int i, const ffi_decl *d, dagl_tensor *t, int want)
{
    if (want >= 0 && dagl_tensor_dtype(t) != (dagl_dtype)want)
        arg_error(L, i, d, lua_pushfstring(L, "%s tensor", dagl_dtype_name(dagl_tensor_dtype(t))));
    if (!dagl_tensor_is_contiguous(t)) arg_error(L, i, d, "a non-contiguous tensor");
    return dagl_tensor_data(t);
}

/* Converts Lua argument i for parameter kind k (raising on a mismatch). */
static void convert(lua_State *L, int i, const ffi_decl *d, ffi_value *v)
{
    dagl_ffi_kind k = d->sig.args[i - 1];
    int type = lua_type(L, i), isint;
    switch (k) {
    case DAGL_FFI_I32:
    case DAGL_FFI_I64: {
        lua_Integer x = lua_tointegerx(L, i, &isint);
        if (!isint || type != LUA_TNUMBER)
            arg_error(L, i, d, type == LUA_TNUMBER ? "a number with no integer value" : luaL_typename(L, i));
        if (k == DAGL_FFI_I32 && (x < INT32_MIN || x > INT32_MAX)) arg_error(L, i, d, "an integer out of range");
        if (k == DAGL_FFI_I32) v->i32 = (int32_t)x;
        else v->i64 = (int64_t)x;
        return;
    }
    case DAGL_FFI_F32:
    case DAGL_FFI_F64:
        if (type != LUA_TNUMBER) arg_error(L, i, d, luaL_typename(L, i));
        if (k == DAGL_FFI_F32) v->f32 = (float)lua_tonumber(L, i);
        else v->f64 = lua_tonumber(L, i);
        return;
    case DAGL_FFI_STR:
        if (type != LUA_TSTRING && type != LUA_TNIL) arg_error(L, i, d, luaL_typename(L, i));
        v->p = (void *)lua_tostring(L, i); /* alive on the stack during the call */
        return;
    default: { /* pointers */
        static const int dtype_of[DAGL_FFI_KIND_COUNT] = {
            [DAGL_FFI_PTR] = -1, [DAGL_FFI_F32P] = DAGL_F32, [DAGL_FFI_F64P] = DAGL_F64, [DAGL_FFI_I64P] = DAGL_I64};
        dagl_tensor *t = dagl_l_test(L, i);
        if (t) v->p = tensor_arg(L, i, d, t, dtype_of[k]);
        else if (type == LUA_TLIGHTUSERDATA || type == LUA_TNIL) v->p = lua_touserdata(L, i);
        else arg_error(L, i, d, luaL_typename(L, i));
        return;
    }
    }
}

/* Pushes a call's result. Integer results narrower than a register come back as ffi_sarg. */
static int push_result(lua_State *L, dagl_ffi_kind k, const ffi_value *r)
{
    switch (k) {
    case DAGL_FFI_VOID: return 0;
    case DAGL_FFI_I32: lua_pushinteger(L, (int32_t)r->sarg); break;
    case DAGL_FFI_I64: lua_pushinteger(L, r->i64); break;
    case DAGL_FFI_F32: lua_pushnumber(L, r->f32); break;
    case DAGL_FFI_F64: lua_pushnumber(L, r->f64); break;
    case DAGL_FFI_STR:
        if (r->p) lua_pushstring(L, r->p);
        else lua_pushnil(L);
        break;
    default:
        if (r->p) lua_pushlightuserdata(L, r->p);
        else lua_pushnil(L);
    }
    return 1;
}

/* The Lua function of a declaration: checks the arguments, calls, converts the result. */
static int decl_call(lua_State *L)
{
    const ffi_decl *d = lua_touserdata(L, lua_upvalueindex(1));
    int n = lua_gettop(L);
    if (n != d->sig.nargs)
        return luaL_error(L, "'%s' takes %d argument%s, got %d", d->name, d->sig.nargs, d->sig.nargs == 1 ? "" : "s", n);
    ffi_value args[DAGL_FFI_MAX_ARGS], ret;
    void *ptrs[DAGL_FFI_MAX_ARGS];
    for (int i = 0; i < n; i++) {
        convert(L, i + 1, d, &args[i]);
        ptrs[i] = &args[i];
    }
    memset(&ret, 0, sizeof ret);
    ffi_call((ffi_cif *)&d->cif, FFI_FN(d->fn), &ret, ptrs);
    return push_result(L, d->sig.ret, &ret);
}

/* lib:func(name, signature) -> a Lua function calling the C function `name`. It takes no
 * options: more arguments raise rather than being ignored. */
static int lib_func(lua_State *L)
{
    dagl_ffi_lib *lib = dagl_ffi_check_lib(L, 1);
    while (lua_gettop(L) > 3 && lua_isnil(L, -1)) lua_pop(L, 1);
    if (lua_gettop(L) > 3)
        return luaL_error(L, "lib:func: takes (name, signature); got %d arguments", lua_gettop(L) - 1);
    const char *name = luaL_checkstring(L, 2), *text = luaL_checkstring(L, 3);
    dagl_ffi_sig sig;
    char err[160];
    if (dagl_ffi_parse(text, &sig, err, sizeof err))
        return luaL_error(L, "ffi: bad signature '%s' for '%s': %s", text, name, err);
    void *fn = dagl_ffi_symbol(L, lib, name);
    ffi_decl *d = lua_newuserdatauv(L, sizeof *d, 0);
    memset(d, 0, sizeof *d);
    d->fn = fn;
    d->sig = sig;
    strncpy(d->name, name, sizeof d->name - 1);
    for (int i = 0; i < sig.nargs; i++) d->types[i] = dagl_ffi_type(sig.args[i]);
    if (ffi_prep_cif(&d->cif, FFI_DEFAULT_ABI, (unsigned)sig.nargs, dagl_ffi_type(sig.ret), d->types) != FFI_OK)
        return luaL_error(L, "ffi: libffi cannot prepare a call of '%s' as '%s'", name, text);
    dagl_l_gc_metatable(L, DECL_MT, decl_gc, 0);
    lua_setmetatable(L, -2);
    dagl_ffi_lib_retain(lib);
    d->lib = lib;
    lua_pushcclosure(L, decl_call, 1);
    return 1;
}

/* dagl.ffi.load(path) -> a library handle; with no path, the program and what it has loaded. */
static int l_ffi_load(lua_State *L)
{
    const char *path = luaL_optstring(L, 1, NULL);
    dagl_ffi_lib **ud = lua_newuserdatauv(L, sizeof *ud, 0);
    *ud = NULL;
    if (dagl_l_gc_metatable(L, DAGL_FFI_LIB_MT, lib_close, 1)) {
        static const luaL_Reg methods[] = {{"func", lib_func}, {"close", lib_close}, {NULL, NULL}};
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, lib_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
    dagl_ffi_lib *lib = calloc(1, sizeof *lib);
    if (!lib || !(lib->path = strdup(path ? path : "the program"))) {
        free(lib);
        return luaL_error(L, "ffi.load: out of memory");
    }
    atomic_init(&lib->refs, 1);
    *ud = lib;
    if (!(lib->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        const char *why = dlerror();
        return luaL_error(L, "ffi.load: cannot load '%s': %s", lib->path, why ? why : "unknown error");
    }
    return 1;
}

const luaL_Reg dagl_l_ffi_funcs[] = {{"ffi_load", l_ffi_load}, {NULL, NULL}};
