/* host_alloc.c -- the host's Lua state: malloc with free lists for small blocks in front.
 * Every eager op creates a small userdata that the collector frees soon after; recycling those
 * blocks by size class skips most of malloc/free. Lua passes a block's size when it frees or
 * resizes it, so no block needs a header: a small block is always malloc'ed at its class's full
 * size, so whatever size it was asked with, it holds anything of its class. */
#include "host_alloc.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The class of a size (1-based), or 0 when too big to recycle. */
static size_t size_class(size_t n)
{
    size_t c = (n + HOST_ALLOC_GRAIN - 1) / HOST_ALLOC_GRAIN;
    return c <= HOST_ALLOC_CLASSES ? c : 0;
}

/* lua_Alloc entry point; see the file comment. */
void *dagl_host_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    dagl_host_pool *p = ud;
    size_t oc = ptr ? size_class(osize) : 0, nc = size_class(nsize);
    if (nsize == 0) {
        if (oc && p->count[oc - 1] < HOST_ALLOC_KEEP) {
            *(void **)ptr = p->head[oc - 1];
            p->head[oc - 1] = ptr;
            p->count[oc - 1]++;
        } else {
            free(ptr);
        }
        return NULL;
    }
    if (ptr == NULL) {
        if (!nc) return malloc(nsize);
        void *b = p->head[nc - 1];
        if (!b) return malloc(nc * HOST_ALLOC_GRAIN);
        p->head[nc - 1] = *(void **)b;
        p->count[nc - 1]--;
        return b;
    }
    if (oc && nc && nc <= oc) return ptr; /* fits in the block it has */
    return realloc(ptr, nc ? nc * HOST_ALLOC_GRAIN : nsize);
}

/* Unprotected errors end the program with the message, as lauxlib's panic does. */
static int host_panic(lua_State *L)
{
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error object is not a string";
    fprintf(stderr, "PANIC: unprotected error in call to Lua API (%s)\n", msg);
    fflush(stderr);
    return 0;
}

/* warn(): off until "@on" (-W), pieces of one message joined, as Lua's stand-alone does. */
static void host_warn(void *ud, const char *msg, int tocont)
{
    dagl_host_pool *p = ud;
    if (!p->warn_cont && *msg == '@') { /* a control message */
        if (strcmp(msg, "@off") == 0) p->warn_on = 0;
        else if (strcmp(msg, "@on") == 0) p->warn_on = 1;
        return;
    }
    if (p->warn_on) {
        if (!p->warn_cont) fputs("Lua warning: ", stderr);
        fputs(msg, stderr);
        if (!tocont) fputc('\n', stderr);
        fflush(stderr);
    }
    p->warn_cont = tocont;
}

/* luaL_newstate with this allocator; p must outlive the state. */
lua_State *dagl_host_newstate(dagl_host_pool *p)
{
    memset(p, 0, sizeof *p);
    lua_State *L = lua_newstate(dagl_host_alloc, p);
    if (L) {
        lua_atpanic(L, host_panic);
        lua_setwarnf(L, host_warn, p);
    }
    return L;
}

/* The free lists hold malloc blocks that go back after lua_close. */
void dagl_host_pool_drain(dagl_host_pool *p)
{
    for (int c = 0; c < HOST_ALLOC_CLASSES; c++) {
        while (p->head[c]) {
            void *b = p->head[c];
            p->head[c] = *(void **)b;
            free(b);
        }
        p->count[c] = 0;
    }
}
