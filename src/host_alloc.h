/* host_alloc.h -- the dagl host's Lua state: a small-block allocator, panic and warning handlers. */
#ifndef DAGL_HOST_ALLOC_H
#define DAGL_HOST_ALLOC_H

#include <lua.h>
#include <stddef.h>

#define HOST_ALLOC_GRAIN 16   /* size classes are multiples of this */
#define HOST_ALLOC_CLASSES 8  /* blocks up to 128 bytes are recycled */
#define HOST_ALLOC_KEEP 65536 /* at most this many free blocks kept per class */

/* Free lists per size class, owned by the host for the life of its state. */
typedef struct dagl_host_pool {
    void *head[HOST_ALLOC_CLASSES];
    size_t count[HOST_ALLOC_CLASSES];
    int warn_on, warn_cont; /* the warning function's state, as in lauxlib */
} dagl_host_pool;

void *dagl_host_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
lua_State *dagl_host_newstate(dagl_host_pool *p);
void dagl_host_pool_drain(dagl_host_pool *p);

#endif
