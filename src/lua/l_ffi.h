/* l_ffi.h -- what the dagl.ffi files share: C type kinds, parsed signatures and the refcounted
 * library handle that declarations and kernels keep alive. */
#ifndef DAGL_L_FFI_H
#define DAGL_L_FFI_H

#include "ldagl.h"

#include <ffi.h>
#include <stdatomic.h>

#define DAGL_FFI_MAX_ARGS 16
#define DAGL_FFI_LIB_MT "dagl.ffi.Library"

/* The C types a declaration may use. */
typedef enum dagl_ffi_kind {
    DAGL_FFI_VOID, DAGL_FFI_I32, DAGL_FFI_I64, DAGL_FFI_F32, DAGL_FFI_F64,
    DAGL_FFI_PTR,  /* any pointer: lightuserdata, nil, or a contiguous tensor's data */
    DAGL_FFI_F32P, DAGL_FFI_F64P, DAGL_FFI_I64P, /* a contiguous tensor of that dtype (or nil) */
    DAGL_FFI_STR,  /* const char*: a Lua string (or nil) */
    DAGL_FFI_KIND_COUNT
} dagl_ffi_kind;

/* "ret(arg, ...)" parsed. */
typedef struct dagl_ffi_sig {
    dagl_ffi_kind ret;
    int nargs;
    dagl_ffi_kind args[DAGL_FFI_MAX_ARGS];
} dagl_ffi_sig;

/* Parses a signature; on failure writes what is wrong into err and returns -1. */
int dagl_ffi_parse(const char *text, dagl_ffi_sig *out, char *err, size_t errsize);
/* The name messages use for a kind ("int64", "float*", ...) and its libffi type. */
const char *dagl_ffi_kind_name(dagl_ffi_kind k);
ffi_type *dagl_ffi_type(dagl_ffi_kind k);

/* A dlopen'ed library, freed (dlclose) when the Lua handle and every declaration and kernel
 * made from it are gone. */
typedef struct dagl_ffi_lib {
    atomic_int refs;
    void *handle;
    char *path;
} dagl_ffi_lib;

void dagl_ffi_lib_retain(dagl_ffi_lib *lib);
void dagl_ffi_lib_release(dagl_ffi_lib *lib);
/* The open library at idx (raises for other values and closed handles). */
dagl_ffi_lib *dagl_ffi_check_lib(lua_State *L, int idx);
/* dlsym(name) or a Lua error naming the symbol, the library and dlerror's text. */
void *dagl_ffi_symbol(lua_State *L, dagl_ffi_lib *lib, const char *name);

#endif
