/* embed.h -- what the embedding runtime's files share (see include/dagl_lua.h). The runtime uses
 * the public headers and the Lua binding's declared entry points (lua/lentry.h) only: no layout of
 * the binding's or the graph's structs. */
#ifndef DAGL_EMBED_H
#define DAGL_EMBED_H

#include "dagl_lua.h"
#include "lua/lentry.h"

#include <lauxlib.h>
#include <lua.h>

#include <pthread.h>

#define EMBED_ERR_SIZE 2048

struct dagl_runtime {
    lua_State *L;
    dagl_lstate *ls;      /* the binding's state of L (its context and VM lock) */
    pthread_mutex_t mu;   /* serializes runtime calls (a lua_State serves one thread at a time) */
    char err[EMBED_ERR_SIZE];
};

/* Takes the runtime for a call into Lua: its mutex, then the VM lock (which Lua nodes of
 * running graphs may hold for a moment). */
void dagl__embed_enter(dagl_runtime *rt);
void dagl__embed_leave(dagl_runtime *rt);
/* Records the Lua error message at the top of the stack (and pops it); returns `st`. */
dagl_status dagl__embed_lua_error(dagl_runtime *rt, dagl_status st);
/* Records a formatted message as the runtime's error; returns `st`. */
dagl_status dagl__embed_error(dagl_runtime *rt, dagl_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* lua_pcall with a traceback message handler. */
int dagl__embed_pcall(lua_State *L, int nargs, int nres);

#endif
