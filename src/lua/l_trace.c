/* l_trace.c -- tracing from Lua: dagl.trace_start() records every graph run of this state until
 * dagl.trace_stop{json=, svg=}, which writes the files and returns the statistics. */
#include "ldagl.h"

#include <stdlib.h>

/* dagl.trace_start(): records the graph runs that follow (a new trace, or the current one
 * emptied); the VM lock's statistics restart with it */
static int l_trace_start(lua_State *L)
{
    dagl_lstate *s = DAGL_LSTATE(L);
    if (s->trace) dagl_trace_clear(s->trace);
    else if (dagl_trace_new(&s->trace)) return luaL_error(L, "trace_start: out of memory");
    if (s->vm) dagl_lock_reset_stats(s->vm);
    dagl_l_dist_trace(L, s->trace); /* collectives on a "network" lane */
    return 0;
}

/* Sets t[name] = v for a number. */
static void setnum(lua_State *L, const char *name, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, name);
}

/* Pushes the statistics table of a trace, with the summary text as field `summary`. */
static void push_stats(lua_State *L, const dagl_trace *tr)
{
    dagl_trace_stats st;
    dagl_trace_get_stats(tr, &st);
    lua_createtable(L, 0, 16);
    setnum(L, "wall", st.wall_seconds);
    setnum(L, "work", st.work_seconds);
    setnum(L, "parallelism", st.parallelism);
    setnum(L, "critical_path", st.critical_path_seconds);
    setnum(L, "dag_width", st.dag_width);
    setnum(L, "nodes", st.nodes);
    setnum(L, "workers_used", st.workers_used);
    setnum(L, "lock_hold", st.lock_hold_seconds);
    setnum(L, "lock_wait", st.lock_wait_seconds);
    setnum(L, "lock_serialized_fraction", st.lock_serialized_fraction);
    setnum(L, "lock_waits", (double)st.lock_waits);
    setnum(L, "steals", (double)st.steals);
    setnum(L, "inline_runs", (double)st.inline_runs);
    setnum(L, "shares", (double)st.shares);
    setnum(L, "lock_handoffs", (double)st.lock_handoffs);
    char *sum = dagl_trace_summary(tr);
    lua_pushstring(L, sum ? sum : "");
    free(sum);
    lua_setfield(L, -2, "summary");
}

/* dagl.trace_stop{json=path, svg=path} -> stats; tracing ends. */
static int l_trace_stop(lua_State *L)
{
    dagl_lstate *s = DAGL_LSTATE(L);
    if (!s->trace) return luaL_error(L, "trace_stop: no trace in progress (call dagl.trace_start first)");
    dagl_trace *tr = s->trace;
    s->trace = NULL;
    dagl_l_dist_trace(L, NULL);
    const char *json = NULL, *svg = NULL;
    if (lua_istable(L, 1)) {
        lua_getfield(L, 1, "json");
        lua_getfield(L, 1, "svg");
        json = lua_tostring(L, -2);
        svg = lua_tostring(L, -1);
    }
    const char *bad = NULL;
    if (json && dagl_trace_write_json(tr, json)) bad = json;
    if (!bad && svg && dagl_trace_write_svg(tr, svg)) bad = svg;
    push_stats(L, tr);
    dagl_trace_free(tr);
    if (bad) return luaL_error(L, "trace_stop: cannot write '%s'", bad);
    return 1;
}

/* dagl.tracing() -> whether a trace is being recorded (between trace_start and trace_stop) */
static int l_tracing(lua_State *L)
{
    lua_pushboolean(L, DAGL_LSTATE(L)->trace != NULL);
    return 1;
}

const luaL_Reg dagl_l_trace_funcs[] = {
    {"trace_start", l_trace_start}, {"trace_stop", l_trace_stop}, {"tracing", l_tracing}, {NULL, NULL},
};
