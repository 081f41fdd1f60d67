/* own_state.c -- dagl in a lua_State the program makes itself (include/dagl_lua.h's
 * dagl_lua_preload): the options reach the binding explicitly (threads, lock mode, seed, the
 * allocator, the context callback), no global or registry key carries them, and a second state
 * gets its own options. */
#include "dagl_lua.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) do { fprintf(stderr, "own_state: " __VA_ARGS__); fprintf(stderr, "\n"); exit(1); } while (0)

static dagl_ctx *seen_ctx;
static int ctx_calls;

/* dagl_lua_options.on_ctx: the binding's context when made, NULL before it is freed. */
static void on_ctx(void *ud, dagl_ctx *ctx)
{
    if (ud != &seen_ctx) FAIL("on_ctx got the wrong user data");
    seen_ctx = ctx;
    ctx_calls++;
}

static long blocks;

/* A counting allocator: the options' allocator is used (and copied: the struct below goes away). */
static void *count_alloc(void *ud, size_t size, size_t align)
{
    (void)ud;
    blocks++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void count_free(void *ud, void *p, size_t size)
{
    (void)ud;
    (void)size;
    free(p);
}

/* Runs `code` in L (dagl loaded by then) and returns the string it returns. */
static const char *eval(lua_State *L, const char *code)
{
    if (luaL_dostring(L, code) != LUA_OK) FAIL("%s: %s", code, lua_tostring(L, -1));
    return lua_tostring(L, -1);
}

/* Opens the standard libraries and preloads dagl with o; the allocator struct lives only here. */
static lua_State *new_state(const dagl_lua_options *o, int with_alloc)
{
    lua_State *L = luaL_newstate();
    if (!L) FAIL("out of memory");
    luaL_openlibs(L);
    dagl_lua_options copy = *o;
    dagl_allocator a = {count_alloc, count_free, NULL};
    if (with_alloc) copy.allocator = &a;
    dagl_lua_preload(L, &copy);
    return L;
}

int main(void)
{
    dagl_lua_options o = {.threads = 3, .per_worker_lua = 1, .seed = 42, .on_ctx = on_ctx, .on_ctx_ud = &seen_ctx};
    lua_State *L = new_state(&o, 1);
    if (ctx_calls != 0) FAIL("the binding started before require");
    const char *got = eval(L, "dagl = require 'dagl'\n"
                              "local inter, intra = dagl.num_threads()\n"
                              "return ('%d %d %s %s'):format(inter, intra, dagl.get_lock_mode(), tostring(_DAGL_THREADS))");
    if (strcmp(got, "3 0 per-worker nil") != 0) FAIL("threads, lock mode: %s", got);
    if (ctx_calls != 1 || !seen_ctx || dagl_ctx_threads(seen_ctx) != 3) FAIL("on_ctx was not told the context");
    /* the seed: the same numbers as a state that seeds 42 itself */
    char first[64];
    snprintf(first, sizeof first, "%s", eval(L, "return tostring(dagl.rand(1):item())"));
    eval(L, "big = dagl.zeros(100000) return 'ok'");
    if (blocks == 0) FAIL("the options' allocator was not used");

    dagl_lua_options d = {0};
    lua_State *L2 = new_state(&d, 0);
    got = eval(L2, "dagl = require 'dagl'\n dagl.manual_seed(42)\n"
                   "return tostring(dagl.rand(1):item()) .. ' ' .. dagl.get_lock_mode()");
    char want[96];
    snprintf(want, sizeof want, "%s global", first);
    if (strcmp(got, want) != 0) FAIL("seed or default lock mode: got %s, expected %s", got, want);
    lua_close(L2);

    lua_close(L);
    if (ctx_calls != 2 || seen_ctx) FAIL("on_ctx was not told the context went away");
    return 0;
}
