/* l_luaop.c -- run-time Lua nodes (dagl.luaop): Lua functions run at every execution of a graph
 * on a worker. In global mode they run on coroutines of the one lua_State under the VM lock (the
 * tf.py_function case); in per-worker mode each worker runs them in a lua_State of its own,
 * loaded from the function's bytecode or from a module, with tensors passed zero-copy. A node runs
 * forward, or (for dagl.grad) backward, keeping the gradient of one input. */
#include "ldagl.h"

#include <lualib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define LUAOP_MT "dagl.LuaOp"

typedef struct luaop {
    atomic_int refs;
    dagl_lstate *s;      /* the main state's binding */
    lua_State *L;        /* the main state, for unref */
    int fn_ref;          /* registry ref of the function the node runs (forward or backward) in the main state */
    int id;              /* key of the loaded function in per-worker states */
    int input;           /* 0: forward's result; k: backward's k-th result, the gradient of input k */
    char *name;          /* the graph node's name ("sq", or "sq_grad1" for a backward node) */
    char *label;         /* how messages name it: "luaop 'sq'" or "luaop 'sq' (backward, gradient of input 1)" */
    char *bytecode;      /* string.dump of the function, or NULL when it has upvalues */
    size_t nbytecode;
    char *upvalues;      /* names of the function's upvalues other than _ENV, for the error */
    char *module, *fn;   /* per-worker states load require(module)[fn] instead */
    char *path, *cpath;  /* package.path/cpath of the main state when the op was made */
} luaop;

/* Per-worker-mode lua_States: a free list under a mutex, all closed with the main state. */
struct dagl_worker_states {
    pthread_mutex_t mu;
    lua_State **free, **all;
    int nfree, nall, cap;
};

/* Drops one reference (the Lua handle's or a graph node's); the last frees the op, and unrefs
 * its function in the main state unless that state is already closing (its context gone). */
static void luaop_unref(void *p)
{
    luaop *op = p;
    if (atomic_fetch_sub(&op->refs, 1) != 1) return;
    if (op->L && op->s->ctx) luaL_unref(op->L, LUA_REGISTRYINDEX, op->fn_ref);
    free(op->name);
    free(op->label);
    free(op->bytecode);
    free(op->upvalues);
    free(op->module);
    free(op->fn);
    free(op->path);
    free(op->cpath);
    free(op);
}

/* Pushes t as a tensor userdata holding a reference of its own: a Lua node's sources reach its
 * forward zero-copy, in any lua_State. */
void dagl_l_push_ref(lua_State *L, dagl_tensor *t)
{
    dagl_ltensor *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->t = NULL;
    u->tag = (uintptr_t)u ^ DAGL_LTAG;
    luaL_setmetatable(L, DAGL_TENSOR_MT);
    dagl_tensor_retain(t);
    u->t = t;
}

/* The sources of one Lua-node call and which result is the node's, for the trampoline. */
typedef struct node_call {
    dagl_tensor *const *srcs;
    int nsrc, result;
} node_call;

/* Runs inside lua_pcall: pushes the sources as tensors (allocations that may raise) and calls
 * the function given as argument 1, leaving its result number `result` on top. */
static int node_trampoline(lua_State *L)
{
    const node_call *c = lua_touserdata(L, 2);
    lua_settop(L, 1);
    luaL_checkstack(L, c->nsrc + c->result, "luaop arguments");
    for (int i = 0; i < c->nsrc; i++) dagl_l_push_ref(L, c->srcs[i]);
    lua_call(L, c->nsrc, c->result);
    return 1;
}

/* What the node runs, for messages. */
static const char *role(const luaop *op) { return op->input ? "backward" : "forward"; }

/* Calls the function at the top of W's stack on the sources and takes its tensor result (for a
 * backward node, the gradient of its input). Nothing here raises: every Lua allocation happens
 * under the pcall. */
static dagl_status call_node(lua_State *W, const luaop *op, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs,
                             dagl_tensor **out)
{
    if (!lua_checkstack(W, 4)) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: Lua stack overflow", op->label);
    int base = lua_gettop(W); /* the function */
    node_call call = {srcs, nsrc, op->input ? op->input : 1};
    lua_pushcfunction(W, dagl_l_msghandler);
    lua_insert(W, base);
    lua_pushcfunction(W, node_trampoline);
    lua_insert(W, base + 1);
    lua_pushlightuserdata(W, &call);
    dagl_status st = DAGL_OK;
    if (lua_pcall(W, 2, 1, base) != LUA_OK) {
        if (dagl_ctx_interrupt_pending(ctx)) /* stopped by the interrupt, which the run reports */
            st = dagl_ctx_set_error(ctx, DAGL_E_INTERRUPTED, "%s: interrupted", op->label);
        else
            st = dagl_ctx_set_error(ctx, DAGL_E_LUA, "%s raised an error: %s", op->label, lua_tostring(W, -1));
    } else {
        dagl_ltensor *u = dagl_l_ud(W, -1);
        if (!u || !u->t) {
            st = dagl_ctx_set_error(ctx, DAGL_E_LUA, "%s: %s returned a %s, expected a tensor", op->label, role(op),
                                    u ? "closed tensor" : luaL_typename(W, -1));
        } else {
            dagl_tensor_retain(u->t);
            *out = u->t;
        }
    }
    lua_settop(W, base - 1);
    return st;
}

/* Runs under lua_pcall: a new coroutine, anchored in the registry for good (they are reused) as a
 * key of DAGL_NODE_THREADS, which tells an interrupt raised in it that it runs a Lua node. */
static int new_coroutine(lua_State *L)
{
    lua_State **co = lua_touserdata(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, DAGL_NODE_THREADS);
    *co = lua_newthread(L);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    return 0;
}

/* A coroutine of the main state for one node (the caller holds the VM lock); NULL when Lua is
 * out of memory (made under a pcall, so that cannot abort the process). */
static lua_State *take_coroutine(dagl_lstate *s)
{
    if (s->nfree_co > 0) return s->free_co[--s->nfree_co];
    lua_State *co = NULL;
    if (!lua_checkstack(s->spare, 3)) return NULL;
    lua_pushcfunction(s->spare, new_coroutine);
    lua_pushlightuserdata(s->spare, &co);
    if (lua_pcall(s->spare, 1, 0, 0) != LUA_OK) {
        lua_pop(s->spare, 1);
        return NULL;
    }
    return co;
}

/* Puts a coroutine back on the free list for the next Lua node (the registry keeps it alive anyway). */
static void give_coroutine(dagl_lstate *s, lua_State *co)
{
    if (s->nfree_co == s->cap_co) {
        int nc = s->cap_co ? s->cap_co * 2 : 8;
        lua_State **nf = realloc(s->free_co, sizeof *nf * (size_t)nc);
        if (!nf) return; /* the coroutine stays anchored; a new one is made next time */
        s->free_co = nf;
        s->cap_co = nc;
    }
    s->free_co[s->nfree_co++] = co;
}

/* Records in DAGL_NODE_THREADS which task context the node coroutine co works for (NULL: none).
 * The key exists (new_coroutine), so this allocates nothing and cannot raise. */
static void set_node_ctx(lua_State *co, dagl_ctx *ctx)
{
    lua_getfield(co, LUA_REGISTRYINDEX, DAGL_NODE_THREADS);
    lua_pushthread(co);
    if (ctx) lua_pushlightuserdata(co, ctx);
    else lua_pushboolean(co, 1);
    lua_rawset(co, -3);
    lua_pop(co, 1);
}

/* Global mode: the executor holds the VM lock for this node. */
static dagl_status run_global(luaop *op, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs, dagl_tensor **out)
{
    dagl_lstate *s = op->s;
    lua_State *co = take_coroutine(s);
    if (!co) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: cannot make a coroutine", op->label);
    lua_settop(co, 0);
    set_node_ctx(co, ctx);
    dagl_l_mark_held(s, co);
    lua_rawgeti(co, LUA_REGISTRYINDEX, op->fn_ref);
    dagl_status st = call_node(co, op, ctx, nsrc, srcs, out);
    lua_settop(co, 0);
    set_node_ctx(co, NULL);
    give_coroutine(s, co);
    return st;
}

/* Loads dagl.core into a per-worker state with the main state's context (upvalue 1). */
static int open_shared(lua_State *W)
{
    return dagl_l_open_shared(W, lua_touserdata(W, lua_upvalueindex(1)));
}

/* Gives worker state W the package.path/cpath the op's creator had (may raise: under a pcall). */
static void set_paths(lua_State *W, const luaop *op)
{
    lua_getglobal(W, "package");
    lua_pushstring(W, op->path);
    lua_setfield(W, -2, "path");
    lua_pushstring(W, op->cpath);
    lua_setfield(W, -2, "cpath");
    lua_pop(W, 1);
}

/* Runs under lua_pcall in a new worker state: standard libraries, the main state's package
 * paths (argument 1, the op) and dagl.core with the main state's context (argument 2). */
static int setup_worker(lua_State *W)
{
    const luaop *op = lua_touserdata(W, 1);
    void *ctx = lua_touserdata(W, 2);
    luaL_openlibs(W);
    set_paths(W, op);
    lua_getglobal(W, "package");
    lua_getfield(W, -1, "preload");
    lua_pushlightuserdata(W, ctx);
    lua_pushcclosure(W, open_shared, 1);
    lua_setfield(W, -2, "dagl.core");
    lua_getglobal(W, "require");
    lua_pushliteral(W, "dagl.core");
    lua_call(W, 1, 0);
    return 0;
}

/* A new per-worker lua_State in *out; on failure the reason goes to err. */
static dagl_status new_worker_state(const luaop *op, dagl_ctx *main_ctx, dagl_ctx *err, lua_State **out)
{
    lua_State *W = *out = luaL_newstate();
    if (!W) return dagl_ctx_set_error(err, DAGL_E_NOMEM, "%s: cannot create a worker lua_State", op->label);
    lua_pushcfunction(W, setup_worker);
    lua_pushlightuserdata(W, (void *)op);
    lua_pushlightuserdata(W, main_ctx);
    if (lua_pcall(W, 2, 0, 0) == LUA_OK) return DAGL_OK;
    dagl_status st = dagl_ctx_set_error(err, DAGL_E_LUA, "%s: cannot set up a worker lua_State: %s", op->label,
                                        lua_tostring(W, -1));
    lua_close(W);
    *out = NULL;
    return st;
}

/* A worker lua_State for this thread's node: a free one, or a new one registered for closing. */
static dagl_status take_worker(dagl_lstate *s, const luaop *op, dagl_ctx *ctx, lua_State **out)
{
    dagl_worker_states *ws = s->workers;
    lua_State *W = NULL;
    pthread_mutex_lock(&ws->mu);
    if (ws->nfree > 0) W = ws->free[--ws->nfree];
    pthread_mutex_unlock(&ws->mu);
    if ((*out = W) != NULL) return DAGL_OK;
    /* s->ctx, the main context, goes into the state: `ctx` is only this task's */
    dagl_status st = new_worker_state(op, s->ctx, ctx, &W);
    if (st) return st;
    pthread_mutex_lock(&ws->mu);
    if (ws->nall == ws->cap) {
        int nc = ws->cap ? ws->cap * 2 : 8;
        lua_State **na = realloc(ws->all, sizeof *na * (size_t)nc), **nf = NULL;
        if (na) ws->all = na;
        if (na) nf = realloc(ws->free, sizeof *nf * (size_t)nc);
        if (nf) ws->free = nf;
        if (!na || !nf) {
            pthread_mutex_unlock(&ws->mu);
            lua_close(W);
            return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "%s: out of memory for worker lua_States", op->label);
        }
        ws->cap = nc;
    }
    ws->all[ws->nall++] = W;
    pthread_mutex_unlock(&ws->mu);
    *out = W;
    return DAGL_OK;
}

/* Puts a worker lua_State back on the free list when its node is done (free is as large as all,
 * so there is room). */
static void give_worker(dagl_lstate *s, lua_State *W)
{
    pthread_mutex_lock(&s->workers->mu);
    s->workers->free[s->workers->nfree++] = W;
    pthread_mutex_unlock(&s->workers->mu);
}

/* Closes every per-worker lua_State when the main state closes (state_gc, after the watchdog stops). */
void dagl_l_free_workers(dagl_lstate *s)
{
    dagl_worker_states *ws = s->workers;
    if (!ws) return;
    for (int i = 0; i < ws->nall; i++) lua_close(ws->all[i]);
    pthread_mutex_destroy(&ws->mu);
    free(ws->all);
    free(ws->free);
    free(ws);
    s->workers = NULL;
}

/* Pushes why per-worker states cannot run the op's function (it has upvalues and no module=), in
 * the words of the options that fix it: the same message at trace time and at run time. */
static const char *push_copy_error(lua_State *L, const luaop *op)
{
    const char *fix = op->input ? "backward_fn" : "fn";
    if (!*op->upvalues)
        return lua_pushfstring(L, "per-worker mode cannot copy %s: it is a C function; give module= and %s=",
                               role(op), fix);
    return lua_pushfstring(L, "per-worker mode cannot copy %s: it uses upvalues (%s); make it self-contained "
                           "(require what it needs inside) or give module= and %s=", role(op), op->upvalues, fix);
}

/* Runs under lua_pcall in worker state W: returns the op's (argument 1) function, loaded on
 * first use from its module or bytecode and kept in the registry; raises what went wrong. */
static int load_worker_fn(lua_State *W)
{
    const luaop *op = lua_touserdata(W, 1);
    luaL_getsubtable(W, LUA_REGISTRYINDEX, "dagl.luaops");
    if (lua_rawgeti(W, -1, op->id) == LUA_TFUNCTION) return 1;
    lua_pop(W, 1);
    set_paths(W, op); /* the state may predate the op and its creator's package.path */
    if (op->module) {
        lua_getglobal(W, "require");
        lua_pushstring(W, op->module);
        lua_call(W, 1, 1);
        if (lua_getfield(W, -1, op->fn) != LUA_TFUNCTION)
            return luaL_error(W, "module '%s' has no function '%s'", op->module, op->fn);
    } else if (!op->bytecode) {
        push_copy_error(W, op);
        return lua_error(W);
    } else if (luaL_loadbufferx(W, op->bytecode, op->nbytecode, op->name, "b") != LUA_OK) {
        return lua_error(W);
    }
    lua_pushvalue(W, -1);
    lua_rawseti(W, 2, op->id);
    return 1;
}

/* Pushes the op's function in worker state W, loading it on first use. */
static dagl_status push_worker_fn(lua_State *W, const luaop *op, dagl_ctx *ctx)
{
    lua_pushcfunction(W, load_worker_fn);
    lua_pushlightuserdata(W, (void *)op);
    if (lua_pcall(W, 1, 1, 0) == LUA_OK) return DAGL_OK;
    dagl_status st = dagl_ctx_set_error(ctx, DAGL_E_LUA, "%s: cannot load %s in a worker state: %s", op->label,
                                        role(op), lua_tostring(W, -1));
    lua_pop(W, 1);
    return st;
}

/* Per-worker mode: no VM lock; this thread has W to itself. */
static dagl_status run_per_worker(luaop *op, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs, dagl_tensor **out)
{
    dagl_lstate *s = op->s;
    lua_State *W;
    dagl_status st = take_worker(s, op, ctx, &W);
    if (st) return st;
    dagl_lstate *ws = dagl_l_state(W);
    ws->node_ctx = ctx;
    int slot = dagl_l_busy_enter(s, W);
    st = push_worker_fn(W, op, ctx);
    if (!st) st = call_node(W, op, ctx, nsrc, srcs, out);
    dagl_l_busy_leave(s, slot);
    ws->node_ctx = NULL;
    lua_settop(W, 0);
    give_worker(s, W);
    return st;
}

/* The custom-node function of every Lua node. */
static dagl_status luaop_run(void *ud, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs, dagl_tensor **out)
{
    luaop *op = ud;
    if (op->s->mode == DAGL_LOCK_PER_WORKER) return run_per_worker(op, ctx, nsrc, srcs, out);
    return run_global(op, ctx, nsrc, srcs, out);
}

/* The op of the handle at idx; raises for other values and for a handle already collected. */
static luaop *check_op(lua_State *L, int idx)
{
    luaop **ud = luaL_checkudata(L, idx, LUAOP_MT);
    if (!*ud) luaL_error(L, "attempt to use a freed luaop");
    return *ud;
}

/* __gc of an op handle: drops the handle's reference; graph nodes using the op keep it alive. */
static int op_gc(lua_State *L)
{
    luaop **ud = luaL_checkudata(L, 1, LUAOP_MT);
    if (*ud) luaop_unref(*ud);
    *ud = NULL;
    return 0;
}

/* Copies a string field of the options table (NULL when absent). */
static char *opt_string(lua_State *L, int idx, const char *field)
{
    char *r = NULL;
    if (lua_getfield(L, idx, field) == LUA_TSTRING) r = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return r;
}

/* Records string.dump of the function at fidx when its only upvalue is _ENV, else the upvalue names. */
static void capture_code(lua_State *L, int fidx, luaop *op)
{
    luaL_Buffer names;
    luaL_buffinit(L, &names);
    int others = 0;
    const char *up;
    /* a C function's upvalues have no names: none are listed, and the error says it is C */
    for (int i = 1; !lua_iscfunction(L, fidx) && (up = lua_getupvalue(L, fidx, i)) != NULL; i++) {
        lua_pop(L, 1);
        if (strcmp(up, "_ENV") == 0) continue;
        if (others++) luaL_addstring(&names, ", ");
        luaL_addstring(&names, *up ? up : "?");
    }
    luaL_pushresult(&names);
    op->upvalues = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    if (others || lua_iscfunction(L, fidx)) return;
    lua_getglobal(L, "string");
    lua_getfield(L, -1, "dump");
    lua_pushvalue(L, fidx);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
        size_t n;
        const char *b = lua_tolstring(L, -1, &n);
        if ((op->bytecode = malloc(n))) {
            memcpy(op->bytecode, b, n);
            op->nbytecode = n;
        }
    }
    lua_pop(L, 2);
}

/* Copies the string lua_pushfstring makes of fmt (popped again). */
static char *format_string(lua_State *L, const char *fmt, const char *name, int k)
{
    char *r = strdup(lua_pushfstring(L, fmt, name, k));
    lua_pop(L, 1);
    return r;
}

/* core.luaop_new(spec [, k]) -> a handle for g:custom. spec is dagl.luaop's table (forward=,
 * backward=, name=, module=, fn=, backward_fn=; shape= and dtype= are read in Lua). Without k the
 * node runs forward; with k it runs backward and keeps its k-th result, the gradient of input k
 * (the nodes dagl.grad adds), loaded in per-worker states from module='s backward_fn (default
 * "backward") or from its bytecode. No Lua closure of dagl's stands between, so per-worker states
 * can run what the user wrote. The options are declared and checked in Lua (dagl.luaop and
 * dagl.luaop_new in lua/dagl/fn.lua), the one list of them. */
static int l_luaop_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int k = (int)luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, k >= 0 && k <= 8, 2, "an input number from 1 to 8");
    lua_settop(L, 2); /* the handle goes at 3 */
    dagl_lstate *s = DAGL_LSTATE(L);
    if (!s->vm) return luaL_error(L, "luaop: Lua nodes are made in the main state, not inside a Lua node");
    luaop **ud = lua_newuserdatauv(L, sizeof *ud, 0);
    *ud = NULL;
    dagl_l_gc_metatable(L, LUAOP_MT, op_gc, 0);
    lua_setmetatable(L, -2);
    luaop *op = calloc(1, sizeof *op);
    if (!op) return luaL_error(L, "luaop: out of memory");
    *ud = op;
    atomic_init(&op->refs, 1);
    op->s = s;
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    op->L = lua_tothread(L, -1);
    lua_pop(L, 1);
    op->fn_ref = LUA_NOREF;
    op->id = ++s->next_op_id;
    op->input = k;
    const char *name = lua_getfield(L, 1, "name") == LUA_TSTRING ? lua_tostring(L, -1) : "luaop";
    op->name = k ? format_string(L, "%s_grad%d", name, k) : strdup(name);
    op->label = format_string(L, k ? "luaop '%s' (backward, gradient of input %d)" : "luaop '%s'", name, k);
    lua_pop(L, 1);
    if (!op->name || !op->label) return luaL_error(L, "luaop: out of memory");
    op->module = opt_string(L, 1, "module");
    op->fn = opt_string(L, 1, k ? "backward_fn" : "fn");
    if (op->module && !op->fn) op->fn = strdup(role(op));
    if (!k && lua_getfield(L, 1, "backward") != LUA_TNIL && !lua_isfunction(L, -1))
        return luaL_error(L, "%s: backward must be a function", op->label);
    lua_settop(L, 3);
    lua_getfield(L, 1, role(op));
    if (!lua_isfunction(L, -1)) return luaL_error(L, "%s: %s must be a function", op->label, role(op));
    capture_code(L, lua_gettop(L), op);
    op->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_getglobal(L, "package");
    op->path = opt_string(L, -1, "path");
    op->cpath = opt_string(L, -1, "cpath");
    lua_pop(L, 1);
    if (!op->upvalues || !op->path || !op->cpath || (op->module && !op->fn)) return luaL_error(L, "luaop: out of memory");
    if (!s->workers) {
        if (!(s->workers = calloc(1, sizeof *s->workers))) return luaL_error(L, "luaop: out of memory");
        pthread_mutex_init(&s->workers->mu, NULL);
    }
    return 1;
}

/* Reads the arguments every kind of custom node takes from g:custom (see ldagl.h). */
int dagl_l_custom_args(lua_State *L, int *srcs, int *nsrc, dagl_dtype *dt, int64_t *shape)
{
    luaL_checktype(L, 3, LUA_TTABLE);
    int n = (int)luaL_len(L, 3);
    luaL_argcheck(L, n >= 1 && n <= 8, 3, "1 to 8 sources");
    for (int i = 0; i < n; i++) {
        lua_geti(L, 3, i + 1);
        srcs[i] = (int)luaL_checkinteger(L, -1);
        lua_pop(L, 1);
    }
    *nsrc = n;
    *dt = dagl_l_dtype(L, 4, DAGL_F32);
    luaL_checktype(L, 5, LUA_TTABLE);
    return dagl_l_shape(L, 5, shape);
}

/* g:custom(op, {src ids}, dtype, shape) -> node id: a Lua node in a graph. */
int dagl_l_graph_custom(lua_State *L, dagl_graph *g)
{
    luaop *op = check_op(L, 2);
    int srcs[8], n, id;
    dagl_dtype dt;
    int64_t shape[DAGL_MAX_DIMS];
    int nd = dagl_l_custom_args(L, srcs, &n, &dt, shape);
    /* per-worker mode: say now, while tracing, what the run would fail on */
    if (op->s->mode == DAGL_LOCK_PER_WORKER && !op->module && !op->bytecode)
        return luaL_error(L, "%s: %s", op->label, push_copy_error(L, op));
    atomic_fetch_add(&op->refs, 1);
    if (dagl_graph_custom(g, op->name, n, srcs, dt, nd, shape, luaop_run, op, luaop_unref, op->s->vm, &id))
        return dagl_l_error(L);
    lua_pushinteger(L, id);
    return 1;
}

const luaL_Reg dagl_l_luaop_funcs[] = {{"luaop_new", l_luaop_new}, {NULL, NULL}};
