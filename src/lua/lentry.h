/* lentry.h -- the Lua binding's entry points for the C code beside it on the top floor: the dagl
 * host (src/main.c) and the embedding runtime (src/embed/). Functions only: the binding's
 * structs (its state, its userdata) stay behind them, so those callers depend on no layout.
 * The binding is started with dagl_lua_preload (include/dagl_lua.h); the binding's own files
 * include this through ldagl.h. */
#ifndef DAGL_LENTRY_H
#define DAGL_LENTRY_H

#include "dagl.h"
#include <lua.h>

/* The binding state of a lua_State (its context, VM lock and lock mode); opaque here. */
typedef struct dagl_lstate dagl_lstate;

/* The binding state of L, or NULL when dagl is not loaded in it. */
dagl_lstate *dagl_l_state(lua_State *L);
/* The state's context: the one its tensors and graphs are made on. */
dagl_ctx *dagl_l_ctx(const dagl_lstate *s);
/* Whether the state's Lua nodes run in per-worker lua_States (lock mode "per-worker"): graph runs
 * started outside Lua pass it as dagl_run_options.unlocked. */
int dagl_l_per_worker(const dagl_lstate *s);

/* The VM lock from C code: release it around work that needs no Lua (a graph run), take it back
 * before touching the lua_State again; both no-ops in states without a lock. */
void dagl_l_unlock(dagl_lstate *s);
void dagl_l_relock(dagl_lstate *s, lua_State *L);

/* Pushes a new tensor userdata holding a new reference to t. */
void dagl_l_push_ref(lua_State *L, dagl_tensor *t);
/* The graph of the dagl.graph() value at idx (what a dagl.fn's :graph(inputs...) returns), or NULL
 * for any other value or a freed graph. It stays owned by that value. */
dagl_graph *dagl_l_to_graph(lua_State *L, int idx);

/* Raises "<file>:<line>: interrupted" at the user's line (the innermost Lua frame outside dagl's
 * own Lua files), after taking the interrupt, except in a Lua node (a graph run's coroutine or a
 * per-worker state): there the run that runs the node reports and takes it. s may be NULL (dagl
 * not loaded: the host's own Ctrl-C hook). */
int dagl_l_interrupted(lua_State *L, dagl_lstate *s);

/* Tells the other ranks of the world this state joined (dagl.dist), if any, that this rank
 * failed with msg (its first line): the host calls it when a script ends in an error, so the
 * peers stop at once naming this rank instead of waiting out their timeout. */
void dagl_l_dist_fail(lua_State *L, const char *msg);

/* lua_pcall message handler: the error message with a traceback (the host's and the runtime's). */
int dagl_l_msghandler(lua_State *L);

#endif
