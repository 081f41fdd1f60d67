/* ldagl.h -- what the Lua binding's files share. The only part of dagl that includes lua.h:
 * core errors become Lua errors here, after the C side has cleaned up. */
#ifndef DAGL_LDAGL_H
#define DAGL_LDAGL_H

#include "dagl.h"
#include "dagl_lua.h"
#include "lentry.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <lauxlib.h>
#include <lua.h>

#define DAGL_TENSOR_MT "dagl.Tensor"
/* Registry table whose keys are the coroutines that run Lua nodes (l_luaop.c): the value is the
 * task context of the node running on it (a light userdata), true between nodes. */
#define DAGL_NODE_THREADS "dagl.node_threads"
/* Per-worker lua_States an interrupt can reach while they run Lua nodes (more at once run on) */
#define DAGL_BUSY_WORKERS 64

/* Per-lua_State binding state, a full userdata kept as upvalue 1 of every binding function
 * (upvalue 2 is the tensor metatable); lentry.h declares it opaque for the host and the embedding
 * runtime. */
typedef struct dagl_worker_states dagl_worker_states;

typedef enum dagl_lock_mode { DAGL_LOCK_GLOBAL, DAGL_LOCK_PER_WORKER } dagl_lock_mode;

typedef struct dagl_lstate {
    dagl_ctx *ctx;
    bool owns_ctx;          /* false in per-worker states, which share the main state's context */
    int64_t gc_debt;        /* tensor bytes created since Lua's GC was last told about them */
    int64_t gc_limit;       /* live tensor bytes at which a full collection runs (see gc_account) */
    dagl_lock *vm;          /* the VM lock (NULL in per-worker states, which need none) */
    _Atomic double switch_interval; /* seconds a holder keeps the VM lock while others wait */
    _Atomic int64_t held_since_ns; /* when the current holder took the lock */
    _Atomic(lua_State *) running; /* the Lua thread running under the lock (for the switch hook
                                   * and interrupts; a coroutine here is anchored, see relock) */
    lua_State *main;        /* the state's main thread (interrupts set their hook on it too) */
    char lib_prefix[512];   /* "@<dir>/dagl/": where dagl's Lua files are ("" until known) */
    dagl_ctx *node_ctx;     /* a per-worker state: the task context of the node it runs, or NULL */
    lua_State *spare;       /* a coroutine used, under the lock, to make more coroutines */
    lua_State **free_co;    /* coroutines ready to run Lua nodes (anchored in the registry) */
    int nfree_co, cap_co;
    _Atomic dagl_lock_mode mode; /* how Lua nodes run; changed only between runs (read by runs
                                  * started on other threads: embedding sessions) */
    dagl_worker_states *workers; /* per-worker-mode lua_States */
    _Atomic(lua_State *) busy[DAGL_BUSY_WORKERS]; /* per-worker states running a node now, for
                                                   * interrupts to hook (a slot each; NULL: free) */
    dagl_trace *trace;      /* dagl.trace{...} in progress, or NULL */
    bool check_numerics;    /* dagl.set_check_numerics: graph runs fail at the first NaN/inf */
    bool no_plan;           /* dagl.set_memory_plan(false): graph runs without the memory plan */
    int next_op_id;         /* numbers Lua nodes for their per-worker states */
    void (*on_ctx)(void *ud, dagl_ctx *ctx); /* dagl_lua_options.on_ctx: told about ctx (and NULL) */
    void *on_ctx_ud;
    /* the switch interval's watchdog thread (l_lock.c), started at the first contention */
    pthread_mutex_t wd_mu;
    pthread_cond_t wd_cv;
    pthread_t wd_thread;
    bool wd_init, wd_started, wd_stop;
    unsigned wd_kicks;      /* contentions reported (under wd_mu) */
} dagl_lstate;

#define DAGL_LSTATE(L) ((dagl_lstate *)lua_touserdata((L), lua_upvalueindex(1)))
#define DAGL_LCTX(L) (DAGL_LSTATE(L)->ctx)

/* Registers functions with the two shared upvalues (state, metatable) on the table at the top. */
void dagl_l_setfuncs(lua_State *L, const luaL_Reg *fns);

/* The tensor userdata: the reference it owns, and a tag (its own address xor a constant) that
 * identifies it without a metatable lookup on the hot path of every operator. */
typedef struct dagl_ltensor {
    dagl_tensor *t;
    uintptr_t tag;
} dagl_ltensor;
#define DAGL_LTAG ((uintptr_t)0x6461676c54656e73u) /* "daglTens" */

/* The tensor userdata at idx, or NULL when the value is something else. */
static inline dagl_ltensor *dagl_l_ud(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TUSERDATA || lua_rawlen(L, idx) != sizeof(dagl_ltensor)) return NULL;
    dagl_ltensor *u = (dagl_ltensor *)lua_touserdata(L, idx);
    return u->tag == ((uintptr_t)u ^ DAGL_LTAG) ? u : NULL;
}

/* Tensor userdata. A result is made in two steps so nothing leaks if Lua raises: slot pushes
 * an empty userdata (already owned by the GC), the core call fills it, done checks the status
 * (raising the context's error) and returns 1. check raises "bad argument #i to 'f'
 * (dagl.Tensor expected, got X)". */
dagl_tensor **dagl_l_slot(lua_State *L);
int dagl_l_done(lua_State *L, dagl_status st, dagl_tensor **slot);
/* dagl_l_done with the binding state already at hand (the operators' hot path). */
int dagl_l_done_s(lua_State *L, dagl_lstate *s, dagl_status st, dagl_tensor **slot);
dagl_tensor *dagl_l_check(lua_State *L, int idx);
dagl_tensor *dagl_l_test(lua_State *L, int idx);
/* ---------------------------------------------------------------- the argument front end (l_front.c) */

/* An operand of an op binding: a real tensor or a traced symbol (a table of lua/dagl/fn.lua),
 * with the dtype and shape either way. */
typedef struct dagl_l_arg {
    dagl_tensor *t;  /* the real tensor, or NULL for a symbol */
    int idx;         /* its absolute stack index */
    bool sym;
    dagl_dtype dtype;
    int ndim;
    const int64_t *shape;
    int64_t buf[DAGL_MAX_DIMS];
} dagl_l_arg;
/* Whether the value at idx is a traced symbol. */
int dagl_l_is_symbol(lua_State *L, int idx);
/* Reads a tensor or symbol at idx into a (1), or returns 0; check raises "bad argument #i to
 * 'f' (dagl.Tensor expected, got X)" instead. */
int dagl_l_arg_test(lua_State *L, int idx, dagl_l_arg *a);
void dagl_l_arg_check(lua_State *L, int idx, dagl_l_arg *a);
/* Like check, but a number becomes a 0-d tensor of dtype `like` (pushed on the stack). */
void dagl_l_arg_or_number(lua_State *L, int idx, dagl_dtype like, dagl_l_arg *a);
/* The end of every op binding: op on the n operands with params p, eagerly (dagl_op_apply) or,
 * when one is a symbol, as a node of its trace; pushes the result and returns 1. */
int dagl_l_apply(lua_State *L, dagl_op op, int n, const dagl_l_arg *args, const dagl_node_params *p);
/* Adds op on the values at stack indices idx[0..n-1] to their trace; pushes the symbol, returns 1. */
int dagl_l_emit(lua_State *L, dagl_op op, int n, const int *idx, const dagl_node_params *p);
/* Raises "<what>: unknown option 'stride' (did you mean 'strides'? options: ...)" for a string key
 * of the table at idx not among `names` (NULL-terminated), so a misspelled option never passes
 * silently. */
void dagl_l_check_options(lua_State *L, int idx, const char *what, const char *const *names);
/* Raises "<what>: a traced tensor ... has no values until the graph runs; <instead>". */
int dagl_l_no_values(lua_State *L, const char *what, const char *instead);
extern const luaL_Reg dagl_l_front_funcs[];
/* Index i (1-based, negative from the end) of dim d of a, without that dim (t:select, t[i]):
 * checked, with messages naming `what`; pushes the view or the traced node, returns 1. */
int dagl_l_select(lua_State *L, const dagl_l_arg *a, int d, lua_Integer i, const char *what);
/* t[i] (arguments 1 and 2): the binding of __index for integer keys, symbols' too. */
int dagl_l_index(lua_State *L);

/* Reads {pool_size=, strides=, padding="valid"|"same"} at idx (nil: defaults; a number or
 * {rows, cols} for pool_size and strides) into w; raises on bad values, naming the op `what`. */
void dagl_l_window(lua_State *L, int idx, dagl_window2d *w, const char *what);

/* Tensor-tensor or tensor-number binary op on arguments 1 and 2 (the operators use it). */
int dagl_l_binary(lua_State *L, dagl_op op);

/* Pushes the metatable `name` of a boxed C object, made on first use with __gc = gc (and
 * __close = gc when closable); returns 1 when it was just made, so the caller adds the rest. */
int dagl_l_gc_metatable(lua_State *L, const char *name, lua_CFunction gc, int closable);

/* Pushes a malloc'ed string and frees it (NULL: raises "<what>: out of memory"); returns 1. */
int dagl_l_push_malloced(lua_State *L, char *s, const char *what);

/* The running C function's name as the caller spelled it ("sum" for t:sum() and dagl.sum()),
 * for error messages; "?" when Lua cannot tell. */
const char *dagl_l_func_name(lua_State *L);
/* Raises the context's last error as a Lua error (never returns). */
int dagl_l_error(lua_State *L);

/* Reads a shape given as varargs (2, 3) or one table {2, 3} starting at idx. */
int dagl_l_shape(lua_State *L, int idx, int64_t *shape);
/* Parses "float32"/"f32"/"float"/... ; raises on unknown names. */
dagl_dtype dagl_l_dtype(lua_State *L, int idx, dagl_dtype dflt);
/* 1-based (negative from the end) Lua dim -> 0-based core dim of a tensor of `shape` with ndim
 * dims (unsqueeze passes one more); raises when out of range, naming the function as called. */
int dagl_l_dim(lua_State *L, int idx, int ndim, const int64_t *shape, int shape_ndim);

/* Method and function tables of the other files. */
void dagl_l_open_tensor(lua_State *L);  /* fills the metatable at -1 */
extern const luaL_Reg dagl_l_tensor_methods[];
extern const luaL_Reg dagl_l_op_methods[];
extern const luaL_Reg dagl_l_view_methods[];
extern const luaL_Reg dagl_l_create_funcs[];
extern const luaL_Reg dagl_l_graph_funcs[];
extern const luaL_Reg dagl_l_index_funcs[];   /* l_index.c: concat, embedding, ... */
extern const luaL_Reg dagl_l_index_methods[]; /* index_select */

/* require "dagl.core" from stock lua5.4: a binding with the default options (dagl_lua_options). */
DAGL_API int luaopen_dagl_core(lua_State *L);
/* Opens dagl.core in L with the options a host or embedder gave dagl_lua_preload (NULL: the
 * defaults): a context of its own and the VM lock, held by the calling thread from now on. */
int dagl_l_open(lua_State *L, const dagl_lua_options *opt);
/* Opens dagl.core in L with an existing context (per-worker states) and no VM lock. */
int dagl_l_open_shared(lua_State *L, dagl_ctx *ctx);
/* ---------------------------------------------------------------- interrupts (l_lock.c) */

/* The hook of the running Lua code: raises "interrupted" when the context has an interrupt
 * pending, else hands the VM lock over when the switch interval is over (both set it, with
 * LUA_MASKCOUNT and count 1: it fires at the next instruction). */
void dagl_l_hook(lua_State *L, lua_Debug *ar);
/* The context's interrupt callback (dagl_ctx_set_interrupt_callback, ud: the dagl_lstate): sets
 * dagl_l_hook on the main thread and on the Lua thread holding the VM lock. Async-signal-safe. */
void dagl_l_on_interrupt(void *ud);
/* A per-worker state starts (enter, -> its slot) and ends (leave) a Lua node: interrupts reach it. */
int dagl_l_busy_enter(dagl_lstate *s, lua_State *W);
void dagl_l_busy_leave(dagl_lstate *s, int slot);
/* The stack level (>= from) of the innermost Lua frame outside dagl's own Lua files, or -1. */
int dagl_l_user_level(lua_State *L, int from);
/* The context whose interrupt state governs the Lua code on L: a Lua node's task context (so
 * the node stops only while its run may stop, see dagl_ctx_interrupt_pending), else the state's. */
dagl_ctx *dagl_l_interrupt_ctx(lua_State *L, dagl_lstate *s);
/* Whether an error message is the one dagl_l_interrupted raises. */
int dagl_l_is_interrupt(const char *msg);

/* The VM lock beyond lentry.h's dagl_l_unlock and dagl_l_relock (when others wait, the watchdog
 * hands the lock over after the switch interval). Notes that this thread just got the lock. */
void dagl_l_mark_held(dagl_lstate *s, lua_State *L);
/* dagl_lock_set_contended callback of the VM lock (ud: the dagl_lstate). */
void dagl_l_lock_contended(void *ud);
/* The switch-interval watchdog of a state with a VM lock: set up, and stop (join) it. */
void dagl_l_watchdog_init(dagl_lstate *s);
void dagl_l_watchdog_stop(dagl_lstate *s);
/* g:custom(op, srcs, dtype, shape) of l_luaop.c. */
int dagl_l_graph_custom(lua_State *L, dagl_graph *g);
/* Reads g:custom's arguments 3-5 (up to 8 source ids, dtype, shape); returns the shape's ndim. */
int dagl_l_custom_args(lua_State *L, int *srcs, int *nsrc, dagl_dtype *dt, int64_t *shape);
/* g:custom with a dagl.ffi kernel (l_ffi_kernel.c): a node that runs without the VM lock. */
int dagl_l_is_ffi_kernel(lua_State *L, int idx);
int dagl_l_ffi_graph_custom(lua_State *L, dagl_graph *g);
void dagl_l_free_workers(dagl_lstate *s);
extern const luaL_Reg dagl_l_luaop_funcs[];
extern const luaL_Reg dagl_l_lock_funcs[];
extern const luaL_Reg dagl_l_trace_funcs[];
extern const luaL_Reg dagl_l_io_funcs[];
extern const luaL_Reg dagl_l_onnx_funcs[]; /* l_onnx.c: onnx_load, onnx_read_tensor, ... */
/* Pushes an empty graph value and returns where its graph goes (l_graph.c). */
dagl_graph **dagl_l_graph_slot(lua_State *L);
extern const luaL_Reg dagl_l_ffi_funcs[];
extern const luaL_Reg dagl_l_ffi_kernel_funcs[];
extern const luaL_Reg dagl_l_guard_funcs[];
extern const luaL_Reg dagl_l_dist_funcs[];   /* l_dist.c: dist_world, dist_have_mpi, dist_launched */
/* Points the world's collectives (if this state joined one) at trace tr (NULL: away from it). */
void dagl_l_dist_trace(lua_State *L, dagl_trace *tr);  /* l_guard.c: capture_snapshot, capture_changed */

#endif
