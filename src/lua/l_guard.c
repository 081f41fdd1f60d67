/* l_guard.c -- guards on the values a traced function captured: dagl.fn snapshots the upvalues of
 * its function (and of the Lua functions those hold, a few levels deep) after each trace and checks
 * them before every call, so that a rebound capture retraces instead of running a stale graph.
 * Values compare by identity (a tensor is its userdata, so in-place changes pass and a rebound
 * variable fails); tables are not guarded. */
#include "ldagl.h"

#include <stddef.h>
#include <string.h>

#define SNAPSHOT_MT "dagl.CaptureSnapshot"
#define GUARD_DEPTH 4      /* levels of functions whose upvalues are guarded: f, its helpers, ... */
#define GUARD_MAX 256      /* upvalues guarded at most (the first ones met, depth first) */

/* One guarded upvalue: which function of the snapshot holds it (1-based), its index there, and a
 * fingerprint of the value seen (its type and its number, boolean or address: the value itself is
 * also kept, so the address stays its own) that the check compares without looking the value up. */
typedef struct guard_entry {
    unsigned short fn, up;
    int type;
    union {
        lua_Integer i;
        lua_Number n;
        const void *p;
    } v;
} guard_entry;

/* The snapshot userdata; its user values are the functions (1) and the values seen (2), tables
 * indexed like the entries. `tag` (its address xor GUARD_TAG) identifies it without a metatable
 * lookup on the hot path, as dagl_ltensor's does. */
#define GUARD_TAG ((uintptr_t)0x6461676c47756172u) /* "daglGuar" */
typedef struct guard_snapshot {
    uintptr_t tag;
    int n;
    guard_entry e[];
} guard_snapshot;
#define SNAPSHOT_SIZE(n) (offsetof(guard_snapshot, e) + (size_t)(n) * sizeof(guard_entry))

/* What a snapshot is being built from: stack slots of the output tables and of the sets that
 * stop cycles (functions seen) and double entries (upvalues shared by closures, by upvalue id). */
typedef struct guard_build {
    int n, fns, vals, seen_fn, seen_up, nfn;
    guard_entry e[GUARD_MAX];
} guard_build;

/* Sets e's fingerprint of the value at the top of the stack. */
static void fingerprint(lua_State *L, guard_entry *e)
{
    e->type = lua_type(L, -1);
    if (e->type == LUA_TNUMBER) {
        if (lua_isinteger(L, -1)) e->v.i = lua_tointeger(L, -1);
        else e->v.n = lua_tonumber(L, -1), e->type = -LUA_TNUMBER; /* a float: another kind */
    } else if (e->type == LUA_TBOOLEAN) {
        e->v.i = lua_toboolean(L, -1);
    } else {
        e->v.p = lua_topointer(L, -1); /* NULL for nil */
    }
}

/* Whether the value at the top of the stack has e's fingerprint. */
static int fingerprint_is(lua_State *L, const guard_entry *e)
{
    switch (e->type) {
    case LUA_TNUMBER: return lua_isinteger(L, -1) && lua_tointeger(L, -1) == e->v.i;
    case -LUA_TNUMBER: { /* the same bits: -0.0 is not 0.0 (x * k differs in sign) */
        if (lua_type(L, -1) != LUA_TNUMBER || lua_isinteger(L, -1)) return 0;
        lua_Number n = lua_tonumber(L, -1);
        return memcmp(&n, &e->v.n, sizeof n) == 0;
    }
    case LUA_TBOOLEAN: return lua_type(L, -1) == LUA_TBOOLEAN && lua_toboolean(L, -1) == e->v.i;
    default: return lua_type(L, -1) == e->type && lua_topointer(L, -1) == e->v.p;
    }
}

/* Records the upvalues of the Lua function at slot `f` (depth levels below it still to go),
 * recursing into the Lua functions they hold. */
static void collect(lua_State *L, guard_build *b, int f, int depth)
{
    luaL_checkstack(L, 4, "capture_snapshot: functions nested too deep");
    lua_pushvalue(L, f);
    if (lua_rawget(L, b->seen_fn) != LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, f);
    lua_pushboolean(L, 1);
    lua_rawset(L, b->seen_fn);
    lua_pushvalue(L, f);
    lua_rawseti(L, b->fns, ++b->nfn);
    int me = b->nfn;
    for (int i = 1; b->n < GUARD_MAX && lua_getupvalue(L, f, i) != NULL; i++) {
        int v = lua_gettop(L);
        lua_pushlightuserdata(L, lua_upvalueid(L, f, i));
        int shared = lua_rawget(L, b->seen_up) != LUA_TNIL;
        lua_pop(L, 1);
        if (lua_istable(L, v) || shared) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushlightuserdata(L, lua_upvalueid(L, f, i));
        lua_pushboolean(L, 1);
        lua_rawset(L, b->seen_up);
        guard_entry *e = &b->e[b->n++];
        e->fn = (unsigned short)me;
        e->up = (unsigned short)i;
        fingerprint(L, e);
        lua_pushvalue(L, v);
        lua_rawseti(L, b->vals, b->n);
        if (lua_isfunction(L, v) && !lua_iscfunction(L, v) && depth > 1)
            collect(L, b, v, depth - 1);
        lua_settop(L, v - 1);
    }
}

/* Pushes a new table; returns its stack slot. */
static int new_table(lua_State *L)
{
    lua_newtable(L);
    return lua_gettop(L);
}

/* dagl.capture_snapshot(f [, depth]) -> snapshot, count: the upvalues f reads now (tables
 * excepted), and those of the Lua functions among them down to `depth` levels of functions
 * (default 4), each shared upvalue once, at most 256. */
static int l_capture_snapshot(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    int depth = (int)luaL_optinteger(L, 2, GUARD_DEPTH);
    luaL_argcheck(L, depth >= 1 && depth <= 64, 2, "depth must be 1 to 64");
    lua_settop(L, 1);
    guard_build b = {0};
    b.fns = new_table(L);
    b.vals = new_table(L);
    b.seen_fn = new_table(L);
    b.seen_up = new_table(L);
    if (!lua_iscfunction(L, 1)) collect(L, &b, 1, depth);
    guard_snapshot *s = lua_newuserdatauv(L, SNAPSHOT_SIZE(b.n), 2);
    s->tag = (uintptr_t)s ^ GUARD_TAG;
    s->n = b.n;
    memcpy(s->e, b.e, (size_t)b.n * sizeof b.e[0]);
    lua_pushvalue(L, b.fns);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, b.vals);
    lua_setiuservalue(L, -2, 2);
    if (luaL_newmetatable(L, SNAPSHOT_MT)) {
        lua_pushliteral(L, SNAPSHOT_MT);
        lua_setfield(L, -2, "__name");
    }
    lua_setmetatable(L, -2);
    lua_pushinteger(L, b.n);
    return 2;
}

/* Whether the values at slots a (now) and b (then), of different fingerprints, are the same
 * capture all the same: two NaNs, or two long strings with the same text. */
static int same_value(lua_State *L, int a, int b)
{
    if (lua_type(L, a) != LUA_TNUMBER) return lua_rawequal(L, a, b);
    if (lua_type(L, b) != LUA_TNUMBER || lua_isinteger(L, a) || lua_isinteger(L, b)) return 0;
    lua_Number x = lua_tonumber(L, a), y = lua_tonumber(L, b);
    return x != x && y != y;
}

/* dagl.capture_changed(snapshot) -> nil, or the name of the first upvalue whose value is not the
 * one seen and the function holding it */
static int l_capture_changed(lua_State *L)
{
    guard_snapshot *s = lua_touserdata(L, 1);
    size_t len = lua_rawlen(L, 1);
    if (s == NULL || len < SNAPSHOT_SIZE(0) || s->tag != ((uintptr_t)s ^ GUARD_TAG)
        || len != SNAPSHOT_SIZE(s->n))
        return luaL_typeerror(L, 1, SNAPSHOT_MT);
    lua_settop(L, 1);
    lua_getiuservalue(L, 1, 1); /* 2: functions */
    lua_pushnil(L);             /* 3: the function of the entries being checked */
    int cur = 0, top = 3;       /* values checked pile up above 3: one lua_settop per CHUNK */
    enum { CHUNK = LUA_MINSTACK - 8 };
    for (int i = 0; i < s->n; i++) {
        const guard_entry *e = &s->e[i];
        if (e->fn != cur || top == 3 + CHUNK) {
            lua_settop(L, 3);
            top = 3;
            if (e->fn != cur) {
                lua_rawgeti(L, 2, e->fn);
                lua_replace(L, 3);
                cur = e->fn;
            }
        }
        lua_getupvalue(L, 3, e->up);
        top++;
        if (fingerprint_is(L, e)) continue;
        lua_getiuservalue(L, 1, 2); /* a NaN, or a long string with the same text? */
        lua_rawgeti(L, -1, i + 1);
        if (same_value(L, top, top + 2)) {
            lua_pop(L, 2);
            continue;
        }
        const char *name = lua_getupvalue(L, 3, e->up); /* kept alive by the function */
        lua_pushstring(L, name);
        lua_pushvalue(L, 3);
        return 2;
    }
    lua_pushnil(L);
    return 1;
}

const luaL_Reg dagl_l_guard_funcs[] = {
    {"capture_snapshot", l_capture_snapshot},
    {"capture_changed", l_capture_changed},
    {NULL, NULL},
};
