/* l_ffi_kernel.c -- dagl.ffi kernels: C functions of the fixed form
 *
 *     void f(float *out, const float *in1, ..., const float *inN, int64_t n, int64_t ith, int64_t nth)
 *
 * run as ops, eagerly and as custom graph nodes. `out` is a new contiguous float32 tensor of n
 * elements, the inputs are contiguous float32 (cast and copied first when they are not). The
 * function fills its share of out: with split the node calls it nth times with ith = 0..nth-1
 * on the context's worker pool, nth chosen from n only (so results do not depend on the thread
 * count); without split it is called once with (0, 1). Graph nodes run without the VM lock: the
 * function must not touch Lua and must be safe to run on several threads at once. */
#include "l_ffi.h"

#include <stdlib.h>
#include <string.h>

#define KERNEL_MT "dagl.ffi.Kernel"
#define KERNEL_MAX_INPUTS 8 /* a graph node's most sources */

typedef struct ffi_kernel {
    atomic_int refs;         /* the Lua handle and every graph node using it */
    dagl_ffi_lib *lib;       /* a reference */
    void *fn;
    ffi_cif cif;             /* (float*, const float*... , int64, int64, int64) -> void */
    ffi_type *types[KERNEL_MAX_INPUTS + 4];
    int ninputs;
    int split;
    int64_t grain;           /* output elements per share when split */
    char *name;
} ffi_kernel;

/* Drops one reference (the Lua handle's or a graph node's); the last frees the kernel and releases
 * its library. */
static void kernel_unref(void *p)
{
    ffi_kernel *k = p;
    if (atomic_fetch_sub(&k->refs, 1) != 1) return;
    dagl_ffi_lib_release(k->lib);
    free(k->name);
    free(k);
}

/* One call of a kernel over all shares: the argument values libffi reads. */
typedef struct kernel_call {
    const ffi_kernel *k;
    void *ptrs[KERNEL_MAX_INPUTS + 1]; /* out, inputs */
    int64_t n;
} kernel_call;

/* Share ith of nth: the kernel with (out, ins..., n, ith, nth). */
static void call_share(void *p, int ith, int nth)
{
    const kernel_call *c = p;
    int64_t i = ith, t = nth;
    void *args[KERNEL_MAX_INPUTS + 4];
    int na = c->k->ninputs + 1;
    for (int j = 0; j < na; j++) args[j] = (void *)&c->ptrs[j];
    args[na] = (void *)&c->n;
    args[na + 1] = &i;
    args[na + 2] = &t;
    ffi_call((ffi_cif *)&c->k->cif, FFI_FN(c->k->fn), NULL, args);
}

/* Runs kernel k on its nsrc == k->ninputs srcs into a new float32 tensor of `shape`, splitting over ctx's workers. */
static dagl_status kernel_run(const ffi_kernel *k, dagl_ctx *ctx, int ndim, const int64_t *shape, int nsrc,
                              dagl_tensor *const *srcs, dagl_tensor **out)
{
    *out = NULL;
    dagl_tensor *in[KERNEL_MAX_INPUTS] = {NULL};
    dagl_status st = DAGL_OK;
    for (int i = 0; i < nsrc && !st; i++)
        st = dagl_tensor_dtype(srcs[i]) == DAGL_F32 ? dagl_contiguous(ctx, srcs[i], &in[i])
                                                    : dagl_cast(ctx, srcs[i], DAGL_F32, &in[i]);
    if (!st) st = dagl_tensor_new(ctx, DAGL_F32, ndim, shape, out);
    if (!st) {
        kernel_call c = {.k = k, .n = dagl_tensor_numel(*out)};
        c.ptrs[0] = dagl_tensor_data(*out);
        for (int i = 0; i < nsrc; i++) c.ptrs[i + 1] = dagl_tensor_data(in[i]);
        int64_t shares = k->split ? c.n / k->grain : 1;
        dagl_parallel(ctx, call_share, &c, shares < 1 ? 1 : shares > 64 ? 64 : (int)shares);
    }
    for (int i = 0; i < nsrc; i++) dagl_tensor_release(in[i]);
    return st;
}

/* A graph node of a kernel: the kernel and the node's declared output shape. */
typedef struct kernel_node {
    ffi_kernel *k; /* a reference */
    int ndim;
    int64_t shape[DAGL_MAX_DIMS];
} kernel_node;

/* The custom-node function of a kernel node: the kernel run into the node's declared shape. */
static dagl_status node_run(void *ud, dagl_ctx *ctx, int nsrc, dagl_tensor *const *srcs, dagl_tensor **out)
{
    const kernel_node *nd = ud;
    return kernel_run(nd->k, ctx, nd->ndim, nd->shape, nsrc, srcs, out);
}

/* free_ud of a kernel node (the graph is being freed): drops the node's reference to the kernel. */
static void node_free(void *ud)
{
    kernel_node *nd = ud;
    kernel_unref(nd->k);
    free(nd);
}

/* Raises unless n inputs are what kernel k takes. */
static void check_arity(lua_State *L, const ffi_kernel *k, int n)
{
    if (n != k->ninputs)
        luaL_error(L, "ffi kernel '%s': takes %d input%s, got %d", k->name, k->ninputs, k->ninputs == 1 ? "" : "s", n);
}

/* The kernel of the handle at idx; raises for other values and for a handle whose kernel is gone. */
static ffi_kernel *check_kernel(lua_State *L, int idx)
{
    ffi_kernel **ud = luaL_checkudata(L, idx, KERNEL_MT);
    if (!*ud) luaL_error(L, "ffi: attempt to use a freed kernel");
    return *ud;
}

/* __gc of a kernel handle: drops the handle's reference; graph nodes using the kernel keep it alive. */
static int kernel_gc(lua_State *L)
{
    ffi_kernel **ud = luaL_checkudata(L, 1, KERNEL_MT);
    if (*ud) kernel_unref(*ud);
    *ud = NULL;
    return 0;
}

int dagl_l_is_ffi_kernel(lua_State *L, int idx) { return luaL_testudata(L, idx, KERNEL_MT) != NULL; }

/* g:custom(kernel, {src ids}, dtype, shape) -> node id: the kernel as a node that runs on the
 * workers without the VM lock. */
int dagl_l_ffi_graph_custom(lua_State *L, dagl_graph *g)
{
    ffi_kernel *k = check_kernel(L, 2);
    int srcs[KERNEL_MAX_INPUTS], nsrc;
    dagl_dtype dt;
    kernel_node nd = {.k = k};
    nd.ndim = dagl_l_custom_args(L, srcs, &nsrc, &dt, nd.shape);
    if (dt != DAGL_F32) return luaL_error(L, "ffi kernel '%s': outputs float32, not %s", k->name, dagl_dtype_name(dt));
    check_arity(L, k, nsrc);
    kernel_node *ud = malloc(sizeof *ud);
    if (!ud) return luaL_error(L, "ffi kernel '%s': out of memory", k->name);
    *ud = nd;
    atomic_fetch_add(&k->refs, 1);
    int id;
    if (dagl_graph_custom(g, k->name, nsrc, srcs, DAGL_F32, nd.ndim, nd.shape, node_run, ud, node_free, NULL, &id))
        return dagl_l_error(L);
    lua_pushinteger(L, id);
    return 1;
}

/* core.ffi_kernel_call(kernel, shape, t1, ..., tN) -> the kernel's result, computed now. Big
 * calls release the VM lock meanwhile (the operands are anchored on this stack). */
static int l_kernel_call(lua_State *L)
{
    ffi_kernel *k = check_kernel(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int64_t shape[DAGL_MAX_DIMS];
    int ndim = dagl_l_shape(L, 2, shape), nsrc = lua_gettop(L) - 2;
    check_arity(L, k, nsrc);
    dagl_tensor *srcs[KERNEL_MAX_INPUTS];
    int64_t work = 0;
    for (int i = 0; i < nsrc; i++) {
        srcs[i] = dagl_l_check(L, i + 3);
        work += dagl_tensor_numel(srcs[i]);
    }
    dagl_lstate *s = DAGL_LSTATE(L);
    dagl_tensor **o = dagl_l_slot(L);
    bool big = work > (int64_t)1 << 18;
    if (big) dagl_l_unlock(s);
    dagl_status st = kernel_run(k, s->ctx, ndim, shape, nsrc, srcs, o);
    if (big) dagl_l_relock(s, L);
    return dagl_l_done_s(L, s, st, o);
}

/* core.ffi_kernel_new{lib=, name=, inputs=, split=, grain=} -> a kernel handle. */
static int l_kernel_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "lib");
    dagl_ffi_lib *lib = dagl_ffi_check_lib(L, -1);
    lua_getfield(L, 1, "name");
    const char *name = lua_tostring(L, -1);
    if (!name) return luaL_error(L, "ffi.kernel: name must be the symbol's name (a string)");
    lua_getfield(L, 1, "inputs");
    int isint;
    lua_Integer nin = lua_tointegerx(L, -1, &isint);
    if (!isint || nin < 1 || nin > KERNEL_MAX_INPUTS)
        return luaL_error(L, "ffi.kernel '%s': inputs must be an integer from 1 to %d", name, KERNEL_MAX_INPUTS);
    lua_getfield(L, 1, "split");
    int split = lua_toboolean(L, -1);
    lua_getfield(L, 1, "grain");
    lua_Integer grain = luaL_optinteger(L, -1, 16384);
    if (grain < 1) return luaL_error(L, "ffi.kernel '%s': grain must be at least 1", name);
    void *fn = dagl_ffi_symbol(L, lib, name);
    ffi_kernel **ud = lua_newuserdatauv(L, sizeof *ud, 0);
    *ud = NULL;
    dagl_l_gc_metatable(L, KERNEL_MT, kernel_gc, 0);
    lua_setmetatable(L, -2);
    ffi_kernel *k = calloc(1, sizeof *k);
    if (!k || !(k->name = strdup(name))) {
        free(k);
        return luaL_error(L, "ffi.kernel: out of memory");
    }
    atomic_init(&k->refs, 1);
    dagl_ffi_lib_retain(lib);
    k->lib = lib;
    k->fn = fn;
    k->ninputs = (int)nin;
    k->split = split;
    k->grain = grain;
    *ud = k;
    int na = 0;
    for (int i = 0; i <= k->ninputs; i++) k->types[na++] = &ffi_type_pointer;
    for (int i = 0; i < 3; i++) k->types[na++] = &ffi_type_sint64;
    if (ffi_prep_cif(&k->cif, FFI_DEFAULT_ABI, (unsigned)na, &ffi_type_void, k->types) != FFI_OK)
        return luaL_error(L, "ffi.kernel '%s': libffi cannot prepare the call", name);
    return 1;
}

const luaL_Reg dagl_l_ffi_kernel_funcs[] = {
    {"ffi_kernel_new", l_kernel_new}, {"ffi_kernel_call", l_kernel_call}, {NULL, NULL},
};
