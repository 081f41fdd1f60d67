/* l_lock.c -- the VM lock seen from Lua (DESIGN.md, "The VM lock"): one lock per runtime, held
 * by whichever thread runs Lua. C functions that do real work release it (dagl.sleep does, like
 * Python's time.sleep); dagl.spin busy-waits holding it; when others wait, a watchdog makes the
 * holder hand it over after the switch interval, like CPython's sys.setswitchinterval. */
#include "ldagl.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

/* Monotonic nanoseconds, the clock of held_since_ns and of the switch interval. */
static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void watchdog_kick(dagl_lstate *s);

void dagl_l_unlock(dagl_lstate *s)
{
    if (!s->vm) return;
    atomic_store(&s->running, NULL);
    dagl_lock_release(s->vm);
}

/* An interrupt that came while this thread waited for the lock (or ran C code without it) is
 * raised at its next instruction: the hook the interrupt set may be on another Lua thread. */
void dagl_l_mark_held(dagl_lstate *s, lua_State *L)
{
    atomic_store(&s->held_since_ns, now_ns());
    atomic_store(&s->running, L);
    if (dagl_ctx_interrupt_pending(s->ctx)) lua_sethook(L, dagl_l_hook, LUA_MASKCOUNT, 1);
}

/* The VM lock's contention callback (dagl_lock_set_contended): a node parked on the lock or a
 * thread is about to wait for it, so the watchdog starts timing the holder's switch interval. */
void dagl_l_lock_contended(void *ud) { watchdog_kick(ud); }

/* Takes the lock back for Lua code about to run on L; while it waits, the watchdog (told by the
 * lock's contention callback) makes the holder hand the lock over after its switch interval. */
void dagl_l_relock(dagl_lstate *s, lua_State *L)
{
    if (!s->vm) return;
    dagl_lock_acquire(s->vm);
    dagl_l_mark_held(s, L);
    if (L != s->main) { /* a coroutine: keep it alive while `running` may point at it */
        lua_pushthread(L);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &s->running); /* the key exists: no allocation */
    }
}

/* Gives the lock to a waiting thread or node when the holder has had it for a switch interval,
 * and takes it back after them (dagl_lock_yield: the release hands it over, so no OS yield is
 * needed for the waiter to go first). */
static void maybe_switch(dagl_lstate *s, lua_State *L)
{
    if (!s->vm || dagl_lock_waiters(s->vm) == 0) return;
    if (now_ns() - atomic_load(&s->held_since_ns) < (int64_t)(s->switch_interval * 1e9)) return;
    atomic_store(&s->running, NULL);
    dagl_lock_yield(s->vm);
    dagl_l_mark_held(s, L);
}

/* Set by the watchdog on the holder when its switch interval is over, and by interrupts: removes
 * itself, then raises the pending interrupt or hands the lock over. */
void dagl_l_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    dagl_lstate *s = dagl_l_state(L);
    if (!s) return;
    if (dagl_ctx_interrupt_pending(dagl_l_interrupt_ctx(L, s))) dagl_l_interrupted(L, s);
    maybe_switch(s, L);
}

/* Runs in the signal handler that called dagl_ctx_interrupt: lua_sethook is the one Lua call made
 * for that (lua.c's laction uses it so). On the main thread it is the signal's own thread, the
 * usual case; a holder running on a worker is hooked from here as the watchdog hooks it, and so
 * is every per-worker state running a Lua node (a hook on a state that has just finished fires
 * harmlessly at its next node: it finds no interrupt pending and removes itself). */
void dagl_l_on_interrupt(void *ud)
{
    dagl_lstate *s = ud;
    lua_sethook(s->main, dagl_l_hook, LUA_MASKCOUNT, 1);
    lua_State *L = atomic_load(&s->running);
    if (L && L != s->main) lua_sethook(L, dagl_l_hook, LUA_MASKCOUNT, 1);
    for (int i = 0; i < DAGL_BUSY_WORKERS; i++) {
        lua_State *W = atomic_load(&s->busy[i]);
        if (W) lua_sethook(W, dagl_l_hook, LUA_MASKCOUNT, 1);
    }
}

/* A per-worker state W starts a Lua node: takes a slot where interrupts find it (-1 when all are
 * taken: the node then stops only at its dagl calls) and hooks it when an interrupt is pending. */
int dagl_l_busy_enter(dagl_lstate *s, lua_State *W)
{
    int slot = -1;
    for (int i = 0; i < DAGL_BUSY_WORKERS && slot < 0; i++) {
        lua_State *none = NULL;
        if (atomic_compare_exchange_strong(&s->busy[i], &none, W)) slot = i;
    }
    if (dagl_ctx_interrupt_pending(s->ctx)) lua_sethook(W, dagl_l_hook, LUA_MASKCOUNT, 1);
    return slot;
}

/* The node of dagl_l_busy_enter's state has ended: its slot is free again. */
void dagl_l_busy_leave(dagl_lstate *s, int slot)
{
    if (slot >= 0) atomic_store(&s->busy[slot], NULL);
}

dagl_ctx *dagl_l_interrupt_ctx(lua_State *L, dagl_lstate *s)
{
    if (!s->vm) return s->node_ctx ? s->node_ctx : s->ctx; /* a per-worker state */
    if (lua_getfield(L, LUA_REGISTRYINDEX, DAGL_NODE_THREADS) != LUA_TTABLE) {
        lua_pop(L, 1);
        return s->ctx;
    }
    lua_pushthread(L);
    dagl_ctx *node = lua_rawget(L, -2) == LUA_TLIGHTUSERDATA ? lua_touserdata(L, -1) : NULL;
    lua_pop(L, 2);
    return node ? node : s->ctx;
}

/* Finds where dagl's Lua files are from the source of dagl.fn's functions (once it is loaded). */
static const char *lib_prefix(lua_State *L, dagl_lstate *s)
{
    if (s->lib_prefix[0] || !lua_checkstack(L, 3)) return s->lib_prefix;
    int top = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "dagl.fn") == LUA_TTABLE && lua_getfield(L, -1, "fn") == LUA_TFUNCTION) {
        lua_Debug ar;
        lua_getinfo(L, ">S", &ar); /* pops the function */
        const char *slash = strrchr(ar.source, '/');
        size_t n = slash ? (size_t)(slash - ar.source) + 1 : 0;
        if (ar.source[0] == '@' && n > 0 && n < sizeof s->lib_prefix) {
            memcpy(s->lib_prefix, ar.source, n);
            s->lib_prefix[n] = '\0';
        }
    }
    lua_settop(L, top);
    return s->lib_prefix;
}

int dagl_l_user_level(lua_State *L, int from)
{
    dagl_lstate *s = dagl_l_state(L);
    const char *lib = s ? lib_prefix(L, s) : "";
    size_t nlib = strlen(lib);
    lua_Debug ar;
    for (int level = from; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline > 0 && (nlib == 0 || strncmp(ar.source, lib, nlib) != 0)) return level;
    }
    return -1;
}

int dagl_l_is_interrupt(const char *msg)
{
    static const char word[] = "interrupted";
    size_t n = msg ? strlen(msg) : 0, k = sizeof word - 1;
    if (n < k || strcmp(msg + n - k, word) != 0) return 0;
    return n == k || (n >= k + 2 && msg[n - k - 2] == ':' && msg[n - k - 1] == ' ');
}

int dagl_l_interrupted(lua_State *L, dagl_lstate *s)
{
    if (s && dagl_l_interrupt_ctx(L, s) == s->ctx) dagl_ctx_take_interrupt(s->ctx); /* not a node's */
    int level = dagl_l_user_level(L, 0);
    lua_Debug ar;
    if (level >= 0 && lua_getstack(L, level, &ar) && lua_getinfo(L, "Sl", &ar))
        lua_pushfstring(L, "%s:%d: interrupted", ar.short_src, ar.currentline);
    else
        lua_pushliteral(L, "interrupted");
    return lua_error(L);
}

/* The switch interval's timer, one thread per main state, started at the first contention. Lua
 * 5.4 runs every instruction through its hook dispatcher while any count hook is set (CPU-bound
 * Lua runs ~1.5x slower), so instead of a standing count hook the watchdog sleeps until the
 * holder's interval is over and only then sets a one-shot hook on it, as CPython's waiting
 * threads set the eval breaker after their timed wait. */
static void *watchdog_main(void *arg)
{
    dagl_lstate *s = arg;
    unsigned seen = 0;
    sigset_t all; /* signals are the program's (the host's Ctrl-C goes to its main thread) */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&s->wd_mu);
    while (!s->wd_stop) {
        if (dagl_lock_waiters(s->vm) == 0) {
            if (seen == s->wd_kicks) {
                pthread_cond_wait(&s->wd_cv, &s->wd_mu);
                continue;
            }
            /* kicked by a thread about to block in acquire: it may not count as a waiter yet */
            seen = s->wd_kicks;
            int64_t soon = now_ns() + 200000;
            struct timespec ts = {(time_t)(soon / 1000000000), (long)(soon % 1000000000)};
            pthread_cond_timedwait(&s->wd_cv, &s->wd_mu, &ts);
            continue;
        }
        seen = s->wd_kicks;
        int64_t interval = (int64_t)(s->switch_interval * 1e9);
        int64_t since = atomic_load(&s->held_since_ns), due = since + interval, now = now_ns();
        lua_State *holder = atomic_load(&s->running);
        if (holder && now >= due && lua_gethook(holder) == NULL) /* an interrupt's hook switches too */
            lua_sethook(holder, dagl_l_hook, LUA_MASKCOUNT, 1);
        if (now >= due) due = now + interval / 4; /* look again soon: the hand-over takes a moment */
        struct timespec ts = {(time_t)(due / 1000000000), (long)(due % 1000000000)};
        pthread_cond_timedwait(&s->wd_cv, &s->wd_mu, &ts);
    }
    pthread_mutex_unlock(&s->wd_mu);
    return NULL;
}

/* Someone waits for the lock: wakes the watchdog (starting it the first time). */
static void watchdog_kick(dagl_lstate *s)
{
    pthread_mutex_lock(&s->wd_mu);
    if (!s->wd_started && !s->wd_stop) s->wd_started = pthread_create(&s->wd_thread, NULL, watchdog_main, s) == 0;
    s->wd_kicks++;
    pthread_cond_signal(&s->wd_cv);
    pthread_mutex_unlock(&s->wd_mu);
}

/* Sets up the watchdog's lock and condition (the thread starts on first contention). */
void dagl_l_watchdog_init(dagl_lstate *s)
{
    pthread_mutex_init(&s->wd_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wd_cv, &ca);
    pthread_condattr_destroy(&ca);
    s->wd_init = true;
}

/* Stops and joins the watchdog (state_gc), before the lua_States it may touch go away. */
void dagl_l_watchdog_stop(dagl_lstate *s)
{
    if (!s->wd_init) return;
    pthread_mutex_lock(&s->wd_mu);
    s->wd_stop = true;
    pthread_cond_signal(&s->wd_cv);
    bool started = s->wd_started;
    pthread_mutex_unlock(&s->wd_mu);
    if (started) pthread_join(s->wd_thread, NULL);
    pthread_mutex_destroy(&s->wd_mu);
    pthread_cond_destroy(&s->wd_cv);
    s->wd_init = false;
}

/* dagl.sleep(seconds): sleeps without the VM lock, so other Lua code runs meanwhile; an interrupt
 * (Ctrl-C) ends it within 10 ms with the error "interrupted". */
static int l_sleep(lua_State *L)
{
    double sec = luaL_checknumber(L, 1);
    luaL_argcheck(L, sec >= 0, 1, "negative time");
    dagl_lstate *s = DAGL_LSTATE(L);
    dagl_ctx *ctx = dagl_l_interrupt_ctx(L, s);
    dagl_l_unlock(s);
    dagl_status st = dagl_ctx_sleep(ctx, sec);
    dagl_l_relock(s, L);
    if (st) return dagl_l_interrupted(L, s);
    return 0;
}

/* dagl.spin(seconds): `seconds` of CPU-bound work holding the VM lock, as CPU-bound Lua code
 * does; like it, it hands the lock over at the switch interval when others wait, and the time
 * spent waiting to get it back does not count as work (so spinning nodes serialize). */
static int l_spin(lua_State *L)
{
    double sec = luaL_checknumber(L, 1);
    dagl_lstate *s = DAGL_LSTATE(L);
    dagl_ctx *ctx = dagl_l_interrupt_ctx(L, s);
    int64_t left = (int64_t)(sec * 1e9);
    volatile unsigned x = 0;
    while (left > 0) {
        int64_t t0 = now_ns();
        for (int i = 0; i < 1000; i++) x += (unsigned)i;
        left -= now_ns() - t0;
        if (dagl_ctx_interrupt_pending(ctx)) return dagl_l_interrupted(L, s); /* as Lua code would be */
        maybe_switch(s, L);
    }
    return 0;
}

/* dagl.set_switch_interval(seconds): how long a holder keeps the VM lock while others wait for it */
static int l_set_switch_interval(lua_State *L)
{
    double sec = luaL_checknumber(L, 1);
    luaL_argcheck(L, sec > 0, 1, "must be positive");
    DAGL_LSTATE(L)->switch_interval = sec;
    return 0;
}

/* dagl.get_switch_interval() -> seconds, the interval set_switch_interval set (0.005 by default) */
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

/* dagl.set_lock_mode("global" | "per-worker"): how Lua nodes of later runs execute. Only between
 * runs: a run's Lua nodes all run in the mode it started with (a Lua node calling it raises). */
static int l_set_lock_mode(lua_State *L)
{
    static const char *const modes[] = {"global", "per-worker", NULL};
    dagl_lock_mode mode = (dagl_lock_mode)luaL_checkoption(L, 1, NULL, modes);
    dagl_lstate *s = DAGL_LSTATE(L);
    if (dagl_ctx_runs_in_progress(s->ctx) > 0)
        return luaL_error(L, "set_lock_mode: a graph run is in progress on this context; change the lock mode "
                             "between runs");
    s->mode = mode;
    return 0;
}

/* dagl.get_lock_mode() -> "global" or "per-worker", as set_lock_mode left it */
static int l_get_lock_mode(lua_State *L)
{
    lua_pushstring(L, DAGL_LSTATE(L)->mode == DAGL_LOCK_GLOBAL ? "global" : "per-worker");
    return 1;
}

/* dagl.is_interrupt(err) -> whether err is the error an interrupt (Ctrl-C) raises, for code that
 * catches errors but must let Ctrl-C through */
static int l_is_interrupt(lua_State *L)
{
    lua_pushboolean(L, lua_type(L, 1) == LUA_TSTRING && dagl_l_is_interrupt(lua_tostring(L, 1)));
    return 1;
}

const luaL_Reg dagl_l_lock_funcs[] = {
    {"sleep", l_sleep},
    {"is_interrupt", l_is_interrupt},
    {"spin", l_spin},
    {"set_switch_interval", l_set_switch_interval},
    {"get_switch_interval", l_get_switch_interval},
    {"lock_stats", l_lock_stats},
    {"set_lock_mode", l_set_lock_mode},
    {"get_lock_mode", l_get_lock_mode},
    {NULL, NULL},
};
