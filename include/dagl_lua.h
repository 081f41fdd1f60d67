/*
 * dagl_lua.h -- embedding dagl's Lua half in a C program: a runtime (one Lua state with dagl
 * loaded), models defined by Lua code, and sessions that feed caller buffers to a model's
 * compiled graph and read its outputs. Link with -ldagl_lua (pkg-config dagl-lua).
 *
 * Every call returns a dagl_status; the text of a failure is in dagl_runtime_last_error (runtime
 * calls) or dagl_session_last_error (session calls). Thread safety: any thread may call any
 * function; runtime calls are serialized; sessions of one model may run at the same time from
 * different threads (one session per thread), the model's graph running on the runtime's worker
 * pool without the Lua VM lock (Lua nodes inside it take the lock as usual).
 *
 *   dagl_runtime *rt;  dagl_model *m;  dagl_session *s;
 *   dagl_runtime_options o = {.threads = 2};
 *   if (dagl_runtime_new(&o, &rt)) { fprintf(stderr, "%s\n", dagl_runtime_last_error(rt)); return 1; }
 *   if (dagl_runtime_dofile(rt, "model.lua") ||            // defines a global `predict`
 *       dagl_model_load(rt, "predict", &m) ||               // any Lua expression giving a callable
 *       dagl_session_new(m, &s)) { fprintf(stderr, "%s\n", dagl_runtime_last_error(rt)); return 1; }
 *   int64_t shape[2] = {1, 4};
 *   float x[4] = {1, 2, 3, 4}, y[3];
 *   if (dagl_session_set_input(s, 0, DAGL_F32, 2, shape, x) ||   // zero-copy: x is read in place
 *       dagl_session_run(s) ||
 *       dagl_session_read_output(s, 0, y, sizeof y))
 *       fprintf(stderr, "%s\n", dagl_session_last_error(s));
 *   dagl_session_free(s); dagl_model_free(m); dagl_runtime_free(rt);
 */
#ifndef DAGL_LUA_H
#define DAGL_LUA_H

#include "dagl.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dagl_runtime dagl_runtime;
typedef struct dagl_model dagl_model;
typedef struct dagl_session dagl_session;

typedef struct dagl_runtime_options {
    int threads;        /* worker threads; 0 = DAGL_NUM_THREADS or the core count */
    int per_worker_lua; /* Lua nodes run in per-worker lua_States instead of under the VM lock */
    uint64_t seed;      /* random seed; 0 = the default */
    const dagl_allocator *allocator; /* tensor data blocks (see dagl_allocator); NULL: the C library */
} dagl_runtime_options;

/* A Lua 5.4 state with the standard libraries and `dagl` loaded (the global `dagl`); opt may be
 * NULL. On failure *out is still set (NULL only when out of memory) so that
 * dagl_runtime_last_error(*out) can tell why; then free it with dagl_runtime_free. */
DAGL_API dagl_status dagl_runtime_new(const dagl_runtime_options *opt, dagl_runtime **out);
/* Frees the runtime; free its models and sessions first. */
DAGL_API void dagl_runtime_free(dagl_runtime *rt);
/* Runs a Lua file or a chunk of Lua code in the runtime (errors come with a traceback). */
DAGL_API dagl_status dagl_runtime_dofile(dagl_runtime *rt, const char *path);
DAGL_API dagl_status dagl_runtime_dostring(dagl_runtime *rt, const char *code);
/* The text of the last failed runtime call (of any thread). */
DAGL_API const char *dagl_runtime_last_error(const dagl_runtime *rt);
/* The runtime's core context (for creating tensors to pass as inputs). */
DAGL_API dagl_ctx *dagl_runtime_ctx(dagl_runtime *rt);

/* A model: `expr` is Lua code giving a callable (a function, a dagl.nn model, a dagl.fn) that
 * maps input tensors to output tensors, e.g. "predict" or "require('mymodel').model". It is
 * traced into a graph once per input signature (dtypes and shapes), on first use. */
DAGL_API dagl_status dagl_model_load(dagl_runtime *rt, const char *expr, dagl_model **out);
DAGL_API void dagl_model_free(dagl_model *m);
/* Number of graphs traced so far (one per input signature seen). */
DAGL_API int dagl_model_num_traces(const dagl_model *m);

/* A session holds one caller's inputs and outputs; use one per thread. */
DAGL_API dagl_status dagl_session_new(dagl_model *m, dagl_session **out);
DAGL_API void dagl_session_free(dagl_session *s);
/* Input i (0-based) read in place from `data` (C order, dtype dt) until the next run returns:
 * no copy. The caller keeps `data` alive and unchanged during runs. */
DAGL_API dagl_status dagl_session_set_input(dagl_session *s, int i, dagl_dtype dt, int ndim,
                                            const int64_t *shape, void *data);
/* Input i as a tensor (a new reference is taken). */
DAGL_API dagl_status dagl_session_set_input_tensor(dagl_session *s, int i, dagl_tensor *t);
/* Runs the model on the inputs set; the outputs replace the previous ones. */
DAGL_API dagl_status dagl_session_run(dagl_session *s);
DAGL_API int dagl_session_num_outputs(const dagl_session *s);
/* Output i of the last run, borrowed: valid until the next run or dagl_session_free. */
DAGL_API dagl_status dagl_session_output(dagl_session *s, int i, dagl_tensor **out);
/* Copies output i's elements into buf in C (row-major) order; nbytes must be exactly the output's
 * own size, dagl_tensor_nbytes (elements x element size), also when the output is a view of a
 * bigger block (x:narrow(...)); another size fails with DAGL_E_ARG naming both counts. */
DAGL_API dagl_status dagl_session_read_output(dagl_session *s, int i, void *buf, size_t nbytes);
DAGL_API const char *dagl_session_last_error(const dagl_session *s);

/* ---------------------------------------------------------------- the binding in a lua_State of your own */

typedef struct lua_State lua_State;

/* How the Lua binding starts in a lua_State: its context (threads, seed, allocator), its lock mode
 * and its library path, given explicitly by whoever makes the state (the dagl host from its
 * command line, dagl_runtime_new from dagl_runtime_options). All zero: the defaults. */
typedef struct dagl_lua_options {
    int threads;        /* worker threads, at most 4096; 0 = DAGL_NUM_THREADS or the core count */
    int per_worker_lua; /* Lua nodes run in per-worker lua_States (lock mode "per-worker") */
    uint64_t seed;      /* random seed; 0 = the default */
    const dagl_allocator *allocator; /* tensor data blocks (see dagl_allocator); NULL: the C library */
    int no_env;         /* ignore DAGL_LUA_PATH (as lua -E ignores LUA_PATH) */
    /* Called with the binding's context once it is made and with NULL before it is freed (may be
     * NULL): a host keeps it to call dagl_ctx_interrupt from a SIGINT handler. */
    void (*on_ctx)(void *ud, dagl_ctx *ctx);
    void *on_ctx_ud;
} dagl_lua_options;

/* Makes `require "dagl"` in L load the binding linked into this program, started with `opt`
 * (copied, with the allocator it points to; NULL = all defaults), and puts dagl's Lua library dirs
 * in front of package.path (DAGL_LUA_PATH replaces them unless opt->no_env). Open the standard
 * libraries first. Like any Lua API call it may raise a Lua error (out of memory): call it in
 * protected mode. The thread that loads dagl holds its VM lock from then on. */
DAGL_API void dagl_lua_preload(lua_State *L, const dagl_lua_options *opt);

#ifdef __cplusplus
}
#endif
#endif
