/* l_tensor.c -- the dagl.Tensor userdata: one core reference per userdata, released by __gc or
 * __close; operators, indexing, #, tostring and conversions to Lua values. */
#include "ldagl.h"

#include <stdlib.h>
#include <string.h>

/* Bytes each tensor costs besides its data, as counted for GC pressure: the header block (256
 * bytes, size-classed with small data into 512) and the userdata. Counting them keeps a tight
 * eager loop's garbage, and so its working set, small: W5 runs ~15% faster than with 256. */
#define TENSOR_OVERHEAD 512
/* Tell Lua's collector about tensor bytes in batches of this size. */
#define GC_BATCH (256 * 1024)
/* Live tensor memory may grow by at least this much between full collections: small enough that
 * the freed blocks of a training step fit the context's block cache (no page faults on reuse). */
#define GC_MIN_GROWTH ((int64_t)16 << 20)

void dagl_l_setfuncs(lua_State *L, const luaL_Reg *fns)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, lua_upvalueindex(2));
    luaL_setfuncs(L, fns, 2);
}

/* Lua sees only a pointer-sized userdata, so tensor memory is reported to its collector as
 * if Lua had allocated it; otherwise loops creating tensors would grow memory unchecked.
 * Steps are enough in incremental mode, but not in generational mode (the host's default, as in
 * lua.c): a tensor alive across two steps turns old, and old garbage is only freed by a major
 * collection, which Lua starts from its own (tiny) heap size, never from these steps. So, like
 * a major-collection trigger, a full collection also runs whenever live tensor memory has grown
 * past twice what survived the last one (and GC_MIN_GROWTH more). */
static void gc_account(lua_State *L, dagl_lstate *s, const dagl_tensor *t)
{
    /* the tensor's own bytes, not its block's (a view is charged for its elements, and an
     * expanded view for no more than the block it keeps alive) */
    size_t own = dagl_tensor_nbytes(t), block = dagl_tensor_block_nbytes(t);
    s->gc_debt += (int64_t)(own < block ? own : block) + TENSOR_OVERHEAD;
    if (s->gc_debt >= GC_BATCH) {
        int kb = (int)(s->gc_debt / 1024);
        s->gc_debt = 0;
        lua_gc(L, LUA_GCSTEP, kb);
        int64_t live = dagl_ctx_live_bytes(s->ctx);
        if (live > s->gc_limit && lua_gc(L, LUA_GCISRUNNING)) {
            if (s->gc_limit > 0) {
                lua_gc(L, LUA_GCCOLLECT);
                live = dagl_ctx_live_bytes(s->ctx);
            }
            s->gc_limit = live + (live > GC_MIN_GROWTH ? live : GC_MIN_GROWTH);
        }
    }
}

int dagl_l_gc_metatable(lua_State *L, const char *name, lua_CFunction gc, int closable)
{
    if (!luaL_newmetatable(L, name)) return 0;
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    if (closable) {
        lua_pushcfunction(L, gc);
        lua_setfield(L, -2, "__close");
    }
    return 1;
}

dagl_tensor **dagl_l_slot(lua_State *L)
{
    dagl_ltensor *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->t = NULL;
    u->tag = (uintptr_t)u ^ DAGL_LTAG;
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_setmetatable(L, -2);
    return &u->t;
}

int dagl_l_done(lua_State *L, dagl_status st, dagl_tensor **slot)
{
    return dagl_l_done_s(L, DAGL_LSTATE(L), st, slot);
}

int dagl_l_done_s(lua_State *L, dagl_lstate *s, dagl_status st, dagl_tensor **slot)
{
    if (st != DAGL_OK) {
        *slot = NULL;
        return luaL_error(L, "%s", dagl_ctx_last_error(s->ctx));
    }
    gc_account(L, s, *slot);
    return 1;
}

/* The tensor at idx, or NULL for other values (arguments that may be a tensor or a number); a
 * closed tensor raises, since it can never be an operand. */
dagl_tensor *dagl_l_test(lua_State *L, int idx)
{
    dagl_ltensor *u = dagl_l_ud(L, idx);
    if (!u) return NULL;
    if (!u->t) luaL_error(L, "attempt to use a closed tensor");
    return u->t;
}

/* The tensor at idx, raising Lua's usual "bad argument" type error for anything else. */
dagl_tensor *dagl_l_check(lua_State *L, int idx)
{
    dagl_tensor *t = dagl_l_test(L, idx);
    if (!t && dagl_l_is_symbol(L, idx))
        luaL_error(L, "%s: argument #%d is a traced tensor (inside dagl.fn, dagl.grad or a model's call), and "
                      "this function needs a real one; call it outside the traced function",
                   dagl_l_func_name(L), idx);
    if (!t) luaL_typeerror(L, idx, DAGL_TENSOR_MT);
    return t;
}

int dagl_l_error(lua_State *L)
{
    return luaL_error(L, "%s", dagl_ctx_last_error(DAGL_LCTX(L)));
}

/* Name of the running C function as the caller spelled it ("sum" for t:sum() and dagl.sum()),
 * for error messages; "?" when Lua cannot tell. */
const char *dagl_l_func_name(lua_State *L)
{
    lua_Debug ar;
    if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name) return ar.name;
    return "?";
}

int dagl_l_dim(lua_State *L, int idx, int ndim, const int64_t *shape, int shape_ndim)
{
    lua_Integer d = luaL_checkinteger(L, idx);
    lua_Integer z = d > 0 ? d - 1 : d < 0 ? d + ndim : -1;
    if (z < 0 || z >= ndim) {
        char b[160];
        dagl_shape_str(shape_ndim, shape, b, sizeof b);
        if (ndim == 0)
            return luaL_error(L, "%s: dimension %d out of range for a tensor of shape %s (it has no dims)",
                              dagl_l_func_name(L), (int)d, b);
        return luaL_error(L, "%s: dimension %d out of range for a tensor of shape %s (dims are 1..%d or -%d..-1)",
                          dagl_l_func_name(L), (int)d, b, ndim, ndim);
    }
    return (int)z;
}

int dagl_l_shape(lua_State *L, int idx, int64_t *shape)
{
    int n;
    if (lua_istable(L, idx)) {
        n = (int)luaL_len(L, idx);
        luaL_argcheck(L, n <= DAGL_MAX_DIMS, idx, "too many dimensions");
        for (int i = 0; i < n; i++) {
            lua_geti(L, idx, i + 1);
            int ok;
            shape[i] = lua_tointegerx(L, -1, &ok);
            if (!ok) luaL_argerror(L, idx, "shape entries must be integers");
            lua_pop(L, 1);
        }
        return n;
    }
    n = 0;
    for (int i = idx; i <= lua_gettop(L) && lua_type(L, i) == LUA_TNUMBER; i++) {
        luaL_argcheck(L, n < DAGL_MAX_DIMS, i, "too many dimensions");
        shape[n++] = luaL_checkinteger(L, i);
    }
    return n;
}

dagl_dtype dagl_l_dtype(lua_State *L, int idx, dagl_dtype dflt)
{
    static const char *const names[] = {"float32", "f32", "float", "float64", "f64", "double",
                                        "int64", "i64", "long", "uint8", "u8", "byte", NULL};
    static const dagl_dtype types[] = {DAGL_F32, DAGL_F32, DAGL_F32, DAGL_F64, DAGL_F64, DAGL_F64,
                                       DAGL_I64, DAGL_I64, DAGL_I64, DAGL_U8, DAGL_U8, DAGL_U8};
    if (lua_isnoneornil(L, idx)) return dflt;
    return types[luaL_checkoption(L, idx, NULL, names)];
}

/* __gc and __close: drop the userdata's reference once (this runs for every tensor the GC
 * frees, so it checks the tag rather than looking the metatable up by name). */
static int t_gc(lua_State *L)
{
    dagl_ltensor *u = dagl_l_ud(L, 1);
    if (!u) return luaL_typeerror(L, 1, DAGL_TENSOR_MT);
    dagl_tensor_release(u->t);
    u->t = NULL;
    return 0;
}

/* Operators share the functions behind t:add() etc. */
static int t_add(lua_State *L) { return dagl_l_binary(L, DAGL_OP_ADD); }
static int t_sub(lua_State *L) { return dagl_l_binary(L, DAGL_OP_SUB); }
static int t_mul(lua_State *L) { return dagl_l_binary(L, DAGL_OP_MUL); }
static int t_div(lua_State *L) { return dagl_l_binary(L, DAGL_OP_DIV); }
static int t_pow(lua_State *L) { return dagl_l_binary(L, DAGL_OP_POW); }
static int t_idiv(lua_State *L) { return dagl_l_binary(L, DAGL_OP_FLOOR_DIVIDE); }
static int t_mod(lua_State *L) { return dagl_l_binary(L, DAGL_OP_REMAINDER); }

/* __unm: -t, the operator form of t:neg(). */
static int t_unm(lua_State *L)
{
    dagl_tensor *a = dagl_l_check(L, 1), **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_unary(DAGL_LCTX(L), DAGL_OP_NEG, a, o), o);
}

int dagl_l_push_malloced(lua_State *L, char *s, const char *what)
{
    if (!s) return luaL_error(L, "%s: out of memory", what);
    lua_pushstring(L, s); /* may raise: s leaks only if Lua itself is out of memory */
    free(s);
    return 1;
}

/* __tostring: the PyTorch-style text of dagl_tensor_format, so print(t) shows the values. */
static int t_tostring(lua_State *L)
{
    return dagl_l_push_malloced(L, dagl_tensor_format(dagl_l_check(L, 1)), "tostring");
}

/* #t is the size of the first dimension, like len() of a torch tensor (a traced one's too). */
static int t_len(lua_State *L)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    if (a.ndim == 0) return luaL_error(L, "#: a 0-d tensor has no length");
    lua_pushinteger(L, a.shape[0]);
    return 1;
}

/* Pushes one element as a Lua number (an integer for int64 and uint8). */
static void push_element(lua_State *L, dagl_dtype dt, const char *p)
{
    if (dt == DAGL_I64) lua_pushinteger(L, *(const int64_t *)p);
    else if (dt == DAGL_U8) lua_pushinteger(L, *(const uint8_t *)p);
    else if (dt == DAGL_F32) lua_pushnumber(L, *(const float *)p);
    else lua_pushnumber(L, *(const double *)p);
}

/* t:item() -> the value of a one-element tensor as a Lua number (an integer for int64 and uint8) */
static int t_item(lua_State *L)
{
    if (dagl_l_is_symbol(L, 1))
        return dagl_l_no_values(L, "item", "keep computing with tensor ops (dagl.where for choices), or call item() on a result outside");
    dagl_tensor *t = dagl_l_check(L, 1);
    if (dagl_tensor_numel(t) != 1) {
        char b[160];
        return luaL_error(L, "item: tensor of shape %s has %d elements, not 1",
                          dagl_shape_str(dagl_tensor_ndim(t), dagl_tensor_shape(t), b, sizeof b),
                          (int)dagl_tensor_numel(t));
    }
    push_element(L, dagl_tensor_dtype(t), dagl_tensor_data(t));
    return 1;
}

/* Nested tables of dims [d, ndim) starting at byte address p. */
static void push_table(lua_State *L, const dagl_tensor *t, int d, const char *p)
{
    const int64_t *shape = dagl_tensor_shape(t), *strides = dagl_tensor_strides(t);
    int64_t es = (int64_t)dagl_dtype_size(dagl_tensor_dtype(t));
    luaL_checkstack(L, 3, "totable");
    lua_createtable(L, (int)shape[d], 0);
    for (int64_t i = 0; i < shape[d]; i++) {
        const char *q = p + i * strides[d] * es;
        if (d + 1 == dagl_tensor_ndim(t)) push_element(L, dagl_tensor_dtype(t), q);
        else push_table(L, t, d + 1, q);
        lua_rawseti(L, -2, i + 1);
    }
}

/* t:totable() -> the values as nested Lua tables (a number for a 0-d tensor) */
static int t_totable(lua_State *L)
{
    if (dagl_l_is_symbol(L, 1))
        return dagl_l_no_values(L, "totable", "call totable() on a result outside the traced function");
    dagl_tensor *t = dagl_l_check(L, 1);
    if (dagl_tensor_ndim(t) == 0) push_element(L, dagl_tensor_dtype(t), dagl_tensor_data(t));
    else push_table(L, t, 0, dagl_tensor_data(t));
    return 1;
}

/* t.shape, a fresh table (like torch's Size, 1-based). */
static void push_shape(lua_State *L, int n, const int64_t *shape)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushinteger(L, shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

/* t:size() -> the shape table; t:size(dim) -> one size (dim 1-based, negative from the end);
 * known for traced tensors too */
static int t_size(lua_State *L)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    if (lua_isnoneornil(L, 2)) {
        push_shape(L, a.ndim, a.shape);
        return 1;
    }
    lua_pushinteger(L, a.shape[dagl_l_dim(L, 2, a.ndim, a.shape, a.ndim)]);
    return 1;
}

/* t:stride() -> the strides, in elements, as a table */
static int t_stride(lua_State *L)
{
    if (dagl_l_is_symbol(L, 1))
        return luaL_error(L, "stride: a traced tensor has no memory layout until the graph runs (use size())");
    dagl_tensor *t = dagl_l_check(L, 1);
    int n = dagl_tensor_ndim(t);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushinteger(L, dagl_tensor_strides(t)[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* t:dim() -> the number of dims (of traced tensors too) */
static int t_dim(lua_State *L)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    lua_pushinteger(L, a.ndim);
    return 1;
}

/* t:numel() -> the element count */
static int t_numel(lua_State *L)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    int64_t n = 1;
    for (int i = 0; i < a.ndim; i++) n *= a.shape[i];
    lua_pushinteger(L, n);
    return 1;
}

/* t:dtype() -> "float32", "float64", "int64" or "uint8" */
static int t_dtype(lua_State *L)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    lua_pushstring(L, dagl_dtype_name(a.dtype));
    return 1;
}

/* t:is_contiguous() -> whether the elements lie in row-major order without gaps */
static int t_is_contiguous(lua_State *L)
{
    if (dagl_l_is_symbol(L, 1))
        return luaL_error(L, "is_contiguous: a traced tensor has no memory layout until the graph runs");
    lua_pushboolean(L, dagl_tensor_is_contiguous(dagl_l_check(L, 1)));
    return 1;
}

/* t:storage_offset() -> element 0's offset from the start of its memory block, in elements */
static int t_offset(lua_State *L)
{
    if (dagl_l_is_symbol(L, 1))
        return luaL_error(L, "storage_offset: a traced tensor has no memory layout until the graph runs");
    lua_pushinteger(L, dagl_tensor_offset(dagl_l_check(L, 1)));
    return 1;
}

/* t[i]: a number for 1-d tensors, else a view of row i (i 1-based, negative from the end); a
 * traced tensor's row is a node of its trace, its element a value it does not have yet. */
int dagl_l_index(lua_State *L)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (a.sym && a.ndim == 1)
        return dagl_l_no_values(L, "index", "x[i] of a 1-d tensor is a Lua number; use x:narrow(1, i, 1) or "
                                            "x:select(1, i) to keep a tensor");
    lua_settop(L, 1);
    dagl_l_select(L, &a, 0, i, "index");
    if (!a.sym) {
        dagl_tensor *row = dagl_l_check(L, -1);
        if (dagl_tensor_ndim(row) == 0) push_element(L, dagl_tensor_dtype(row), dagl_tensor_data(row));
    }
    return 1;
}

/* __index: integer keys index, "shape" is a property, other names are methods. */
static int t_index(lua_State *L)
{
    dagl_tensor *t = dagl_l_check(L, 1);
    int isint;
    lua_tointegerx(L, 2, &isint);
    if (isint) return dagl_l_index(L);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(3)) != LUA_TNIL) return 1;
    const char *k = lua_tostring(L, 2);
    if (k && strcmp(k, "shape") == 0) {
        push_shape(L, dagl_tensor_ndim(t), dagl_tensor_shape(t));
        return 1;
    }
    return 0;
}

/* t[i] = number or tensor (broadcast into row i); a row whose elements overlap (of an expanded
 * tensor) raises, as PyTorch does, while a row of distinct elements may be written. */
static int t_newindex(lua_State *L)
{
    dagl_ctx *ctx = DAGL_LCTX(L);
    dagl_l_check(L, 1);
    dagl_tensor *src = dagl_l_test(L, 3);
    if (!src && !lua_isnumber(L, 3)) return luaL_typeerror(L, 3, "number or dagl.Tensor");
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    dagl_l_select(L, &a, 0, luaL_checkinteger(L, 2), "index");
    dagl_tensor *row = dagl_l_check(L, -1);
    if (dagl_tensor_check_writable(ctx, row, "index")) return dagl_l_error(L);
    if (!src && dagl_tensor_ndim(row) == 0 && dagl_tensor_dtype(row) == DAGL_I64 && lua_isinteger(L, 3)) {
        *(int64_t *)dagl_tensor_data(row) = lua_tointeger(L, 3); /* exact beyond 2^53 */
        return 0;
    }
    dagl_status st = src ? dagl_copy_into(ctx, row, src) : dagl_fill(ctx, row, lua_tonumber(L, 3));
    return st ? dagl_l_error(L) : 0;
}

const luaL_Reg dagl_l_tensor_methods[] = {
    {"item", t_item},   {"totable", t_totable},     {"size", t_size},   {"stride", t_stride},
    {"dim", t_dim},     {"numel", t_numel},         {"dtype", t_dtype}, {"is_contiguous", t_is_contiguous},
    {"storage_offset", t_offset}, {"close", t_gc},  {NULL, NULL},
};

static const luaL_Reg meta[] = {
    {"__gc", t_gc},   {"__close", t_gc}, {"__add", t_add}, {"__sub", t_sub}, {"__mul", t_mul},
    {"__div", t_div}, {"__pow", t_pow},  {"__idiv", t_idiv}, {"__mod", t_mod},  {"__unm", t_unm}, {"__len", t_len}, {"__tostring", t_tostring},
    {"__newindex", t_newindex}, {NULL, NULL},
};

/* Fills the metatable at the top: metamethods, and __index over a table of every method. */
void dagl_l_open_tensor(lua_State *L)
{
    dagl_l_setfuncs(L, meta);
    lua_newtable(L); /* methods */
    dagl_l_setfuncs(L, dagl_l_tensor_methods);
    dagl_l_setfuncs(L, dagl_l_op_methods);
    dagl_l_setfuncs(L, dagl_l_view_methods);
    dagl_l_setfuncs(L, dagl_l_index_methods);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_pushvalue(L, -3);
    lua_pushcclosure(L, t_index, 3);
    lua_setfield(L, -3, "__index");
    lua_setfield(L, -2, "methods");
    lua_pushliteral(L, DAGL_TENSOR_MT);
    lua_setfield(L, -2, "__name");
}
