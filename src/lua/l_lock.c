/* l_lock.c -- the VM lock seen from Lua (DESIGN.md, "The VM lock"): one lock per runtime, held
 * by whichever thread runs Lua. C functions that do real work release it (dagl.sleep does, like
 * Python's time.sleep); dagl.spin busy-waits holding it; a count hook, set on the holder only
 * while others wait, hands it over after the switch interval, like CPython's sys.setswitchinterval. */
#include "ldagl.h"

#include <sched.h>
#include <time.h>

#define HOOK_COUNT 1000 /* VM instructions between checks, while a thread waits for the lock */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void dagl_l_unlock(dagl_lstate *s)
{
    if (s->vm) dagl_lock_release(s->vm);
}

static void count_hook(lua_State *L, lua_Debug *ar);

void dagl_l_mark_held(dagl_lstate *s, lua_State *L)
{
    s->held_since_ns = now_ns();
    atomic_store(&s->running, L);
    /* someone may have parked or blocked while the lock passed to L: its switch interval runs */
    if (s->vm && dagl_lock_waiters(s->vm) > 0) lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_COUNT);
}

/* The VM lock's contention callback (dagl_lock_set_contended): a node parked on the lock, so
 * the Lua code holding it gets the count hook and hands the lock over after its switch
 * interval, as it does for threads blocked in dagl_l_relock. */
void dagl_l_lock_contended(void *ud)
{
    dagl_lstate *s = ud;
    lua_State *holder = atomic_load(&s->running);
    if (holder) lua_sethook(holder, count_hook, LUA_MASKCOUNT, HOOK_COUNT); /* async-safe, as lua.c's SIGINT */
}

/* Takes the lock back for Lua code about to run on L. When another thread holds it, the holder's
 * Lua gets the count hook first, so it hands the lock over within a switch interval: the hook is
 * set only while someone waits, because any count hook makes Lua 5.4 trap every instruction. */
void dagl_l_relock(dagl_lstate *s, lua_State *L)
{
    if (!s->vm) return;
    if (!dagl_lock_try(s->vm)) {
        lua_State *holder = atomic_load(&s->running);
        if (holder) lua_sethook(holder, count_hook, LUA_MASKCOUNT, HOOK_COUNT); /* async-safe, as lua.c's SIGINT */
        dagl_lock_acquire(s->vm);
    }
    dagl_l_mark_held(s, L);
}

/* Gives the lock to a waiting thread when the holder has had it for a switch interval. */
static void maybe_switch(dagl_lstate *s, lua_State *L)
{
    if (!s->vm || dagl_lock_waiters(s->vm) == 0) return;
    if (now_ns() - s->held_since_ns < (int64_t)(s->switch_interval * 1e9)) return;
    dagl_lock_release(s->vm);
    sched_yield();
    dagl_l_relock(s, L);
}

/* Runs every HOOK_COUNT instructions while someone waits for the lock; removes itself after. */
static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    dagl_lstate *s = dagl_l_state(L);
    maybe_switch(s, L);
    if (!s->vm || dagl_lock_waiters(s->vm) == 0) lua_sethook(L, NULL, 0, 0);
}

/* dagl.sleep(seconds): sleeps without the VM lock, so other Lua code runs meanwhile. */
static int l_sleep(lua_State *L)
{
    double sec = luaL_checknumber(L, 1);
    luaL_argcheck(L, sec >= 0, 1, "negative time");
    dagl_lstate *s = DAGL_LSTATE(L);
    struct timespec ts = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
    dagl_l_unlock(s);
    while (nanosleep(&ts, &ts) != 0) {}
    dagl_l_relock(s, L);
    return 0;
}

/* dagl.spin(seconds): `seconds` of CPU-bound work holding the VM lock, as CPU-bound Lua code
 * does; like it, it hands the lock over at the switch interval when others wait, and the time
 * spent waiting to get it back does not count as work (so spinning nodes serialize). */
static int l_spin(lua_State *L)
{
    double sec = luaL_checknumber(L, 1);
    dagl_lstate *s = DAGL_LSTATE(L);
    int64_t left = (int64_t)(sec * 1e9);
    volatile unsigned x = 0;
    while (left > 0) {
        int64_t t0 = now_ns();
        for (int i = 0; i < 1000; i++) x += (unsigned)i;
        left -= now_ns() - t0;
        maybe_switch(s, L);
    }
    return 0;
}

static int l_set_switch_interval(lua_State *L)
{
    double sec = luaL_checknumber(L, 1);
    luaL_argcheck(L, sec > 0, 1, "must be positive");
    DAGL_LSTATE(L)->switch_interval = sec;
    return 0;
}

static int l_get_switch_interval(lua_State *L)
{
    lua_pushnumber(L, DAGL_LSTATE(L)->switch_interval);
    return 1;
}

/* dagl.lock_stats([reset]) -> {hold=, wait=, acquisitions=, contended=, parked=} */
static int l_lock_stats(lua_State *L)
{
    dagl_lstate *s = DAGL_LSTATE(L);
    dagl_lock_stats st = {0};
    if (s->vm) dagl_lock_get_stats(s->vm, &st);
    lua_createtable(L, 0, 5);
    lua_pushnumber(L, st.hold_seconds);
    lua_setfield(L, -2, "hold");
    lua_pushnumber(L, st.wait_seconds);
    lua_setfield(L, -2, "wait");
    lua_pushinteger(L, st.acquisitions);
    lua_setfield(L, -2, "acquisitions");
    lua_pushinteger(L, st.contended);
    lua_setfield(L, -2, "contended");
    lua_pushinteger(L, st.parked);
    lua_setfield(L, -2, "parked");
    if (lua_toboolean(L, 1) && s->vm) dagl_lock_reset_stats(s->vm);
    return 1;
}

/* dagl.set_lock_mode("global" | "per-worker"): how Lua nodes of later runs execute. */
static int l_set_lock_mode(lua_State *L)
{
    static const char *const modes[] = {"global", "per-worker", NULL};
    DAGL_LSTATE(L)->mode = (dagl_lock_mode)luaL_checkoption(L, 1, NULL, modes);
    return 0;
}

static int l_get_lock_mode(lua_State *L)
{
    lua_pushstring(L, DAGL_LSTATE(L)->mode == DAGL_LOCK_GLOBAL ? "global" : "per-worker");
    return 1;
}

const luaL_Reg dagl_l_lock_funcs[] = {
    {"sleep", l_sleep},
    {"spin", l_spin},
    {"set_switch_interval", l_set_switch_interval},
    {"get_switch_interval", l_get_switch_interval},
    {"lock_stats", l_lock_stats},
    {"set_lock_mode", l_set_lock_mode},
    {"get_lock_mode", l_get_lock_mode},
    {NULL, NULL},
};
