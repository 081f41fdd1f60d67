/* ldagl.h -- what the Lua binding's files share. The only part of dagl that includes lua.h:
 * core errors become Lua errors here, after the C side has cleaned up. */
#ifndef DAGL_LDAGL_H
#define DAGL_LDAGL_H

#include "dagl.h"
#include <lauxlib.h>
#include <lua.h>

#define DAGL_TENSOR_MT "dagl.Tensor"

/* Per-lua_State binding state, a full userdata kept as upvalue 1 of every binding function
 * (upvalue 2 is the tensor metatable). */
typedef struct dagl_lstate {
    dagl_ctx *ctx;
    int64_t gc_debt; /* tensor bytes created since Lua's GC was last told about them */
    int64_t gc_limit; /* live tensor bytes at which a full collection runs (see gc_account) */
} dagl_lstate;

#define DAGL_LSTATE(L) ((dagl_lstate *)lua_touserdata((L), lua_upvalueindex(1)))
#define DAGL_LCTX(L) (DAGL_LSTATE(L)->ctx)

/* Registers functions with the two shared upvalues (state, metatable) on the table at the top. */
void dagl_l_setfuncs(lua_State *L, const luaL_Reg *fns);

/* Tensor userdata. A result is made in two steps so nothing leaks if Lua raises: slot pushes
 * an empty userdata (already owned by the GC), the core call fills it, done checks the status
 * (raising the context's error) and returns 1. check raises "bad argument #i to 'f'
 * (dagl.Tensor expected, got X)". */
dagl_tensor **dagl_l_slot(lua_State *L);
int dagl_l_done(lua_State *L, dagl_status st, dagl_tensor **slot);
dagl_tensor *dagl_l_check(lua_State *L, int idx);
dagl_tensor *dagl_l_test(lua_State *L, int idx);
/* Accepts a tensor or a number; a number becomes a 0-d tensor of dtype `like`, pushed on the
 * stack so the GC owns it. The result is borrowed. */
dagl_tensor *dagl_l_operand(lua_State *L, int idx, dagl_dtype like);

/* Tensor-tensor or tensor-number binary op on arguments 1 and 2 (the operators use it). */
int dagl_l_binary(lua_State *L, dagl_op op);

/* Raises the context's last error as a Lua error (never returns). */
int dagl_l_error(lua_State *L);

/* Reads a shape given as varargs (2, 3) or one table {2, 3} starting at idx. */
int dagl_l_shape(lua_State *L, int idx, int64_t *shape);
/* Parses "float32"/"f32"/"float"/... ; raises on unknown names. */
dagl_dtype dagl_l_dtype(lua_State *L, int idx, dagl_dtype dflt);
/* 1-based (negative from the end) Lua dim -> 0-based core dim; raises when out of range. */
int dagl_l_dim(lua_State *L, int idx, int ndim, const dagl_tensor *t);

/* Method and function tables of the other files. */
void dagl_l_open_tensor(lua_State *L);  /* fills the metatable at -1 */
extern const luaL_Reg dagl_l_tensor_methods[];
extern const luaL_Reg dagl_l_op_methods[];
extern const luaL_Reg dagl_l_view_methods[];
extern const luaL_Reg dagl_l_create_funcs[];
extern const luaL_Reg dagl_l_graph_funcs[];

int luaopen_dagl_core(lua_State *L);

#endif
