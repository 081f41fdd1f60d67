/* l_index.c -- joins, row indexing and dropout masks from Lua: dagl.concat (real tensors;
 * dagl/init.lua sends lists with symbols to fn.lua), and through the front end (l_front.c), for
 * real tensors and traced symbols alike, dagl.embedding, t:index_select(dim, idx), t:gather(dim,
 * idx) and t:scatter_add(dim, idx, src),
 * dagl.index_add and dagl.dropout_mask. Dims are 1-based; embedding ids count from 0 (as Keras
 * token ids do), index_select indices from 1 (as Torch7's do). */
#include "ldagl.h"

#include <stdlib.h>

/* dagl.concat({t1, t2, ...}, dim): dim 1-based, negative from the end (default 1). */
static int l_concat(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = (int)luaL_len(L, 1);
    luaL_argcheck(L, n >= 1, 1, "no tensors to join");
    const dagl_tensor **ts = lua_newuserdatauv(L, sizeof *ts * (size_t)n, 0); /* freed by the GC */
    for (int i = 0; i < n; i++) {
        lua_geti(L, 1, i + 1);
        ts[i] = dagl_l_test(L, -1);
        if (!ts[i]) return luaL_error(L, "concat: element %d is a %s, not a tensor", i + 1, luaL_typename(L, -1));
        lua_pop(L, 1); /* the list keeps it alive */
    }
    int dim = (int)luaL_optinteger(L, 2, 1);
    luaL_argcheck(L, dim != 0, 2, "dims start at 1");
    dagl_tensor **o = dagl_l_slot(L);
    return dagl_l_done(L, dagl_concat(DAGL_LCTX(L), n, ts, dim > 0 ? dim - 1 : dim, o), o);
}

/* Rows of a table (arg ti) by int64 ids (arg ii) counting from `base`: a gather node. */
static int gather(lua_State *L, int ti, int ii, int64_t base)
{
    dagl_l_arg args[2];
    dagl_l_arg_check(L, ti, &args[0]);
    dagl_l_arg_check(L, ii, &args[1]);
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.index_base = base;
    return dagl_l_apply(L, DAGL_OP_GATHER, 2, args, &p);
}

/* dagl.embedding(table, ids): ids from 0. */
static int l_embedding(lua_State *L) { return gather(L, 1, 2, 0); }

/* t:index_select(dim, idx): the slices of t at 1-based int64 indices idx along dim (idx any
 * shape for dim 1, where it works as embedding does; 1-D otherwise, through a transpose to the
 * front and back, made contiguous). */
static int l_index_select(lua_State *L)
{
    dagl_l_arg t, idx;
    dagl_l_arg_check(L, 1, &t);
    int d = dagl_l_dim(L, 2, t.ndim, t.shape, t.ndim);
    dagl_l_arg_check(L, 3, &idx);
    if (d == 0) return gather(L, 1, 3, 1);
    if (idx.ndim != 1) {
        char b[160];
        return luaL_error(L, "index_select: indices for dimension %d must be 1-D, got %s", d + 1,
                          dagl_shape_str(idx.ndim, idx.shape, b, sizeof b));
    }
    luaL_checkstack(L, 8, "index_select");
    /* front = t:transpose(1, d + 1); rows = gather(front, idx, 1); back = rows:transpose(1, d + 1) */
    lua_getfield(L, 1, "transpose");
    lua_pushvalue(L, 1), lua_pushinteger(L, 1), lua_pushinteger(L, d + 1);
    lua_call(L, 3, 1);
    int front = lua_gettop(L);
    gather(L, front, 3, 1);
    lua_getfield(L, -1, "transpose");
    lua_insert(L, -2);
    lua_pushinteger(L, 1), lua_pushinteger(L, d + 1);
    lua_call(L, 3, 1);
    lua_getfield(L, -1, "contiguous");
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    return 1;
}

/* t:gather(dim, idx) / dagl.gather(t, dim, idx): t's elements at 1-based int64 indices idx (t's
 * rank) along dim, as torch.gather (take_along); t:scatter_add(dim, idx, src): t with src added
 * there (its gradient). */
static int along_index(lua_State *L, dagl_op op)
{
    dagl_l_arg args[3];
    int n = op == DAGL_OP_SCATTER_ADD ? 3 : 2;
    dagl_l_arg_check(L, 1, &args[0]);
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.axis = dagl_l_dim(L, 2, args[0].ndim, args[0].shape, args[0].ndim);
    p.index_base = 1;
    dagl_l_arg_check(L, 3, &args[1]);
    if (n == 3) dagl_l_arg_check(L, 4, &args[2]);
    return dagl_l_apply(L, op, n, args, &p);
}
static int l_gather_dim(lua_State *L) { return along_index(L, DAGL_OP_TAKE_ALONG); }
static int l_scatter_add(lua_State *L) { return along_index(L, DAGL_OP_SCATTER_ADD); }

/* x:conv2d_transpose(k, {strides =, padding =, output_padding =}) / dagl.conv2d_transpose(x, k,
 * opts): the transposed convolution (Keras's Conv2DTranspose, PyTorch's conv_transpose2d): the
 * gradient of conv2d with respect to its input, taken as an op. x (N, H, W, Cin), kernel k
 * (KH, KW, filters, Cin), Keras's layout; the output (N, H', W', filters) with H' = (H - 1) s +
 * KH + output_padding ("valid") or H s ("same"). */
static int l_conv2d_transpose(lua_State *L)
{
    dagl_l_arg args[2];
    dagl_l_arg_check(L, 1, &args[0]);
    dagl_l_arg_check(L, 2, &args[1]);
    const char *what = "conv2d_transpose";
    char b1[160], b2[160];
    if (args[0].ndim != 4 || args[1].ndim != 4)
        return luaL_error(L, "%s: takes images (N, H, W, C) and a kernel (KH, KW, filters, C), got %s and %s", what,
                          dagl_shape_str(args[0].ndim, args[0].shape, b1, sizeof b1),
                          dagl_shape_str(args[1].ndim, args[1].shape, b2, sizeof b2));
    if (args[1].shape[3] != args[0].shape[3])
        return luaL_error(L, "%s: the kernel %s (KH, KW, filters, C) takes %d input channels, the images %s have %d",
                          what, dagl_shape_str(4, args[1].shape, b2, sizeof b2), (int)args[1].shape[3],
                          dagl_shape_str(4, args[0].shape, b1, sizeof b1), (int)args[0].shape[3]);
    int op[2] = {0, 0};
    dagl_node_params p;
    dagl_node_params_init(&p);
    if (lua_istable(L, 3)) {
        static const char *const opts[] = {"strides", "padding", "output_padding", NULL};
        dagl_l_check_options(L, 3, what, opts);
        if (lua_getfield(L, 3, "output_padding") == LUA_TNUMBER) op[0] = op[1] = (int)luaL_checkinteger(L, -1);
        else if (lua_istable(L, -1) && luaL_len(L, -1) == 2)
            for (int i = 0; i < 2; i++) op[i] = (lua_geti(L, -1, i + 1), (int)luaL_checkinteger(L, -1)), lua_pop(L, 1);
        else if (!lua_isnil(L, -1)) return luaL_error(L, "%s: output_padding must be a number or {rows, cols}", what);
        lua_pop(L, 1);
        lua_createtable(L, 0, 2); /* strides and padding for dagl_l_window (the caller's table stays as it is) */
        lua_getfield(L, 3, "strides");
        lua_setfield(L, -2, "strides");
        lua_getfield(L, 3, "padding");
        lua_setfield(L, -2, "padding");
        lua_replace(L, 3);
    }
    dagl_l_window(L, 3, &p.window, what);
    int s[2] = {p.window.strides[0] ? p.window.strides[0] : 1, p.window.strides[1] ? p.window.strides[1] : 1};
    for (int i = 0; i < 2; i++)
        if (op[i] < 0 || op[i] >= s[i])
            return luaL_error(L, "%s: output_padding (%d, %d) must be below the strides (%d, %d)", what, op[0], op[1],
                              s[0], s[1]);
    bool same = p.window.padding == DAGL_PAD_SAME;
    p.nshape = 4;
    p.shape[0] = args[0].shape[0];
    for (int i = 0; i < 2; i++)
        p.shape[1 + i] = same ? args[0].shape[1 + i] * s[i] : (args[0].shape[1 + i] - 1) * s[i] + args[1].shape[i] + op[i];
    p.shape[3] = args[1].shape[2];
    return dagl_l_apply(L, DAGL_OP_CONV2D_GRAD_INPUT, 2, args, &p);
}

/* dagl.index_add(src, idx, rows [, base=0]): a zero table of `rows` rows with src's rows added at
 * idx (the gradient of embedding). */
static int l_index_add(lua_State *L)
{
    dagl_l_arg args[2];
    dagl_l_arg_check(L, 1, &args[0]);
    dagl_l_arg_check(L, 2, &args[1]);
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.nshape = 1;
    p.shape[0] = luaL_checkinteger(L, 3);
    p.index_base = luaL_optinteger(L, 4, 0);
    return dagl_l_apply(L, DAGL_OP_INDEX_ADD, 2, args, &p);
}

/* dagl.dropout_mask(like, rate, seed, counter) / like:dropout_mask(rate, seed): a mask with the
 * shape and dtype of `like`, a pure function of (seed, counter); traced, a node whose counter is
 * its run count. */
static int l_dropout_mask(lua_State *L)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.rate = luaL_checknumber(L, 2);
    p.seed = (uint64_t)luaL_checkinteger(L, 3);
    p.counter = (uint64_t)luaL_optinteger(L, 4, 0);
    return dagl_l_apply(L, DAGL_OP_DROPOUT_MASK, 1, &a, &p);
}

const luaL_Reg dagl_l_index_funcs[] = {
    {"concat", l_concat},       {"embedding", l_embedding}, {"index_add", l_index_add},
    {"dropout_mask", l_dropout_mask}, {"gather", l_gather_dim}, {"scatter_add", l_scatter_add},
    {"conv2d_transpose", l_conv2d_transpose}, {NULL, NULL},
};

const luaL_Reg dagl_l_index_methods[] = {
    {"index_select", l_index_select}, {"dropout_mask", l_dropout_mask}, {"gather", l_gather_dim},
    {"scatter_add", l_scatter_add}, {"conv2d_transpose", l_conv2d_transpose}, {NULL, NULL}};
