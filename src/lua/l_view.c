/* l_view.c -- views and copies from Lua: reshape, transpose, slice, select, squeeze, expand,
 * contiguous, clone, dtype conversion, in-place fill/copy. Dims and indices are 1-based. Each
 * view reads its arguments through the front end (l_front.c): on a traced symbol it runs the
 * same core view on a header-only stand-in of the symbol's shape (so the checks and messages
 * are the core's, as eager ones are) and adds the layout node that gives that shape. */
#include "ldagl.h"

#include <string.h>

/* A core call of the form f(ctx, t, ..., out) made through a fresh slot. */
#define CALL(L, expr_with_o)                                                                          \
    do {                                                                                              \
        dagl_tensor **o = dagl_l_slot(L);                                                             \
        return dagl_l_done(L, (expr_with_o), o);                                                      \
    } while (0)

/* A header-only tensor with a's dtype and shape (contiguous), standing in for a symbol in the
 * core view functions; its data is never read. Pushed on the stack (the GC owns it). */
static dagl_tensor *stand_in(lua_State *L, const dagl_l_arg *a)
{
    static char nothing[64];
    dagl_tensor **slot = dagl_l_slot(L);
    dagl_l_done(L, dagl_tensor_wrap(DAGL_LCTX(L), a->dtype, a->ndim, a->shape, NULL, nothing, NULL, NULL, slot),
                slot);
    return *slot;
}

/* Pushes a's stand-in (*t) and an empty slot for a view of it (returned). */
static dagl_tensor **probe(lua_State *L, const dagl_l_arg *a, dagl_tensor **t)
{
    *t = stand_in(L, a);
    return dagl_l_slot(L);
}

/* The traced result of a view whose shape a probe gave: a reshape node to that shape. */
static int emit_reshape(lua_State *L, const dagl_l_arg *a, const dagl_tensor *shaped)
{
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.nshape = dagl_tensor_ndim(shaped);
    memcpy(p.shape, dagl_tensor_shape(shaped), sizeof(int64_t) * (size_t)p.nshape);
    return dagl_l_apply(L, DAGL_OP_RESHAPE, 1, a, &p);
}

/* A traced slice node: elements start, start+step, ... below stop of dim d. */
static int emit_slice(lua_State *L, const dagl_l_arg *a, int d, int64_t start, int64_t stop, int64_t step)
{
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.axis = d, p.start = start, p.stop = stop, p.step = step;
    return dagl_l_apply(L, DAGL_OP_SLICE, 1, a, &p);
}

/* t:reshape(shape...) (a view when the strides allow, else a copy) and t:view(shape...) (raises
 * instead of copying): one reshape node when traced. */
static int reshape(lua_State *L, dagl_status (*f)(dagl_ctx *, dagl_tensor *, int, const int64_t *, dagl_tensor **))
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    int64_t shape[DAGL_MAX_DIMS];
    int n = dagl_l_shape(L, 2, shape);
    if (!a.sym) CALL(L, f(DAGL_LCTX(L), a.t, n, shape, o));
    lua_settop(L, 1);
    dagl_tensor *t, **o = probe(L, &a, &t);
    dagl_l_done(L, dagl_reshape(DAGL_LCTX(L), t, n, shape, o), o);
    return emit_reshape(L, &a, *o);
}
static int l_reshape(lua_State *L) { return reshape(L, dagl_reshape); }
static int l_view(lua_State *L) { return reshape(L, dagl_view); }

/* t:flatten(): every element in one dim (a reshape to -1) */
static int l_flatten(lua_State *L)
{
    lua_settop(L, 1);
    lua_pushinteger(L, -1);
    return reshape(L, dagl_reshape);
}

/* t:permute(d1, ..., dn) or t:permute{...}: every dim once, named 1-based; a repeated one raises
 * here. Traced: one permute node. */
static int permute(lua_State *L, const dagl_l_arg *a, const int *perm)
{
    if (!a->sym) CALL(L, dagl_permute(DAGL_LCTX(L), a->t, perm, o));
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.ndims = a->ndim;
    memcpy(p.dims, perm, sizeof(int) * (size_t)a->ndim);
    return dagl_l_apply(L, DAGL_OP_PERMUTE, 1, a, &p);
}

static int l_permute(lua_State *L)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    int nd = a.ndim, perm[DAGL_MAX_DIMS];
    int tbl = lua_istable(L, 2);
    int given = tbl ? (int)luaL_len(L, 2) : lua_gettop(L) - 1;
    char b[160];
    if (given != nd)
        return luaL_error(L, "permute: got %d dims for a tensor of shape %s", given,
                          dagl_shape_str(nd, a.shape, b, sizeof b));
    lua_Integer written[DAGL_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        if (tbl) lua_geti(L, 2, i + 1);
        else lua_pushvalue(L, i + 2);
        written[i] = lua_tointeger(L, -1);
        perm[i] = dagl_l_dim(L, -1, nd, a.shape, nd);
        lua_pop(L, 1);
        for (int j = 0; j < i; j++)
            if (perm[j] == perm[i])
                return luaL_error(L, "permute: dimension %d is given twice (as %d and %d) for a tensor of shape %s",
                                  (int)written[i], (int)written[j], (int)written[i], dagl_shape_str(nd, a.shape, b, sizeof b));
    }
    lua_settop(L, 1);
    return permute(L, &a, perm);
}

/* t:transpose([d0, d1]) and t:t(): swaps two dims, the last two by default; t:t() of a 0-d or
 * 1-d tensor is itself, as in torch. */
static int l_transpose(lua_State *L)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    int nd = a.ndim;
    if (nd < 2 && lua_isnoneornil(L, 2)) {
        lua_settop(L, 1);
        return 1;
    }
    int d0 = lua_isnoneornil(L, 2) ? nd - 2 : dagl_l_dim(L, 2, nd, a.shape, nd);
    int d1 = lua_isnoneornil(L, 3) ? nd - 1 : dagl_l_dim(L, 3, nd, a.shape, nd);
    int perm[DAGL_MAX_DIMS];
    for (int i = 0; i < nd; i++) perm[i] = i;
    perm[d0] = d1, perm[d1] = d0;
    lua_settop(L, 1);
    if (!a.sym) CALL(L, dagl_transpose(DAGL_LCTX(L), a.t, d0, d1, o));
    return permute(L, &a, perm);
}

/* t:slice(dim, first, last, step): elements first..last inclusive (1-based, negative from the
 * end), like Lua's string.sub. */
static int l_slice(lua_State *L)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    int d = dagl_l_dim(L, 2, a.ndim, a.shape, a.ndim);
    int64_t n = a.shape[d];
    lua_Integer first = luaL_optinteger(L, 3, 1), last = luaL_optinteger(L, 4, -1);
    lua_Integer step = luaL_optinteger(L, 5, 1);
    int64_t start = first > 0 ? first - 1 : first < 0 ? first + n : 0;
    int64_t stop = last >= 0 ? last : last + n + 1;
    if (start < 0) start = 0;
    if (stop < start) stop = start;
    lua_settop(L, 1);
    if (!a.sym) CALL(L, dagl_slice(DAGL_LCTX(L), a.t, d, start, stop, step, o));
    return emit_slice(L, &a, d, start, stop, step);
}

/* t:narrow(dim, first, length), as in Torch7. */
static int l_narrow(lua_State *L)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    int d = dagl_l_dim(L, 2, a.ndim, a.shape, a.ndim);
    lua_Integer first = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
    luaL_argcheck(L, first != 0, 3, "indices start at 1");
    int64_t n = a.shape[d], start = first > 0 ? first - 1 : first + n;
    if (start < 0 || len < 0 || start + len > n) {
        char b[160];
        return luaL_error(L, "narrow: elements %I..%I are out of range for dimension %d of size %I (shape %s)",
                          (lua_Integer)(start + 1), (lua_Integer)(start + len), d + 1, (lua_Integer)n,
                          dagl_shape_str(a.ndim, a.shape, b, sizeof b));
    }
    lua_settop(L, 1);
    if (!a.sym) CALL(L, dagl_narrow(DAGL_LCTX(L), a.t, d, start, len, o));
    return emit_slice(L, &a, d, start, start + len, 1);
}

int dagl_l_select(lua_State *L, const dagl_l_arg *a, int d, lua_Integer i, const char *what)
{
    if (a->ndim == 0) return luaL_error(L, "%s: a 0-d tensor cannot be indexed (use item() or fill())", what);
    if (i == 0) return luaL_error(L, "%s: 0 is not a valid index (indices start at 1; -1 is the last)", what);
    int64_t n = a->shape[d];
    if (i > n || i < -n) {
        char b[160];
        return luaL_error(L, "%s: index %I is out of range for dimension %d of size %I (shape %s)", what,
                          (lua_Integer)i, d + 1, (lua_Integer)n, dagl_shape_str(a->ndim, a->shape, b, sizeof b));
    }
    int64_t k = i > 0 ? i - 1 : i + n;
    if (!a->sym) CALL(L, dagl_select(DAGL_LCTX(L), a->t, d, k, o));
    dagl_tensor *t, **o = probe(L, a, &t);
    dagl_l_done(L, dagl_select(DAGL_LCTX(L), t, d, k, o), o);
    dagl_tensor *shaped = *o;
    emit_slice(L, a, d, k, k + 1, 1);
    dagl_l_arg row;
    dagl_l_arg_check(L, -1, &row);
    return emit_reshape(L, &row, shaped);
}

/* t:select(dim, i): removes dim, keeping index i of it. */
static int l_select(lua_State *L)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    int d = dagl_l_dim(L, 2, a.ndim, a.shape, a.ndim);
    lua_Integer i = luaL_checkinteger(L, 3);
    lua_settop(L, 1);
    return dagl_l_select(L, &a, d, i, "select");
}

/* t:squeeze([dim]): removes dim if its size is 1, or every size-1 dim when no dim is given */
static int l_squeeze(lua_State *L)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    int all = lua_isnoneornil(L, 2);
    int d = all ? 0 : dagl_l_dim(L, 2, a.ndim, a.shape, a.ndim);
    lua_settop(L, 1);
    if (!a.sym) CALL(L, dagl_squeeze(DAGL_LCTX(L), a.t, d, all, o));
    dagl_tensor *t, **o = probe(L, &a, &t);
    dagl_l_done(L, dagl_squeeze(DAGL_LCTX(L), t, d, all, o), o);
    return emit_reshape(L, &a, *o);
}

/* t:unsqueeze(dim): the new dim is at position dim of the result (1..ndim+1, -1 = last). */
static int l_unsqueeze(lua_State *L)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    int d = dagl_l_dim(L, 2, a.ndim + 1, a.shape, a.ndim);
    lua_settop(L, 1);
    if (!a.sym) CALL(L, dagl_unsqueeze(DAGL_LCTX(L), a.t, d, o));
    dagl_tensor *t, **o = probe(L, &a, &t);
    dagl_l_done(L, dagl_unsqueeze(DAGL_LCTX(L), t, d, o), o);
    return emit_reshape(L, &a, *o);
}

/* t:expand(shape...): a broadcast view (-1 keeps a dim), no copy */
static int l_expand(lua_State *L)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    int64_t shape[DAGL_MAX_DIMS];
    int n = dagl_l_shape(L, 2, shape);
    lua_settop(L, 1);
    if (!a.sym) CALL(L, dagl_expand(DAGL_LCTX(L), a.t, n, shape, o));
    dagl_tensor *t, **o = probe(L, &a, &t);
    dagl_l_done(L, dagl_expand(DAGL_LCTX(L), t, n, shape, o), o);
    dagl_tensor *shaped = *o;
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.nshape = dagl_tensor_ndim(shaped);
    memcpy(p.shape, dagl_tensor_shape(shaped), sizeof(int64_t) * (size_t)p.nshape);
    return dagl_l_apply(L, DAGL_OP_EXPAND, 1, &a, &p);
}

/* t:contiguous() (t itself when already contiguous, else a row-major copy) and t:clone()
 * (always a new copy); a traced value is its own (graph results are fresh memory). */
static int copy_of(lua_State *L, bool always)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    lua_settop(L, 1);
    if (a.sym) return 1;
    if (always) CALL(L, dagl_clone(DAGL_LCTX(L), a.t, o));
    CALL(L, dagl_contiguous(DAGL_LCTX(L), a.t, o));
}
static int l_contiguous(lua_State *L) { return copy_of(L, false); }
static int l_clone(lua_State *L) { return copy_of(L, true); }

/* Converts to a dtype (a copy, or t itself when it already has it and no scale is given), the
 * values times the number at `scale_idx` when there is one (one fused pass: dagl_cast_scaled);
 * traced: a cast node (with the scale as its scalar). */
static int to_dtype(lua_State *L, dagl_dtype dt, int scale_idx)
{
    dagl_l_arg a;
    dagl_l_arg_check(L, 1, &a);
    int scaled = !lua_isnoneornil(L, scale_idx);
    double scale = scaled ? luaL_checknumber(L, scale_idx) : 1.0;
    if (scaled && !(scale == scale && scale - scale == 0))
        return luaL_argerror(L, scale_idx, lua_pushfstring(L, "the scale must be a finite number, got %f", scale));
    if (lua_gettop(L) > scale_idx)
        return luaL_error(L, "%s: takes %s; got %d arguments", dagl_l_func_name(L),
                          scale_idx == 3 ? "(dtype [, scale])" : "([scale])", lua_gettop(L) - 1);
    lua_settop(L, 1);
    if (a.dtype == dt && !scaled) return 1;
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.dtype = dt;
    p.has_scalar = scaled;
    p.scalar = scale;
    return dagl_l_apply(L, DAGL_OP_CAST, 1, &a, &p);
}

/* t:to(dtype [, scale]), t:float([scale]), t:double([scale]), t:long([scale]), t:byte([scale]):
 * to_dtype with the dtype named; x:float(1/255) turns uint8 images into floats in [0, 1]. */
static int l_to(lua_State *L) { return to_dtype(L, dagl_l_dtype(L, 2, DAGL_F32), 3); }
static int l_float(lua_State *L) { return to_dtype(L, DAGL_F32, 2); }
static int l_double(lua_State *L) { return to_dtype(L, DAGL_F64, 2); }
static int l_long(lua_State *L) { return to_dtype(L, DAGL_I64, 2); }
static int l_byte(lua_State *L) { return to_dtype(L, DAGL_U8, 2); }

/* In-place writes need a real target and a real source: a traced one raises, saying what to use;
 * so does a target whose elements overlap (an expanded view), with the error naming the method. */
static dagl_tensor *inplace_target(lua_State *L, const char *what)
{
    if (dagl_l_is_symbol(L, 1))
        luaL_error(L, "%s: a traced tensor cannot be written in place; compute a new value (x * 0 + v, "
                      "dagl.where) or write a real tensor with dagl.assign",
                   what);
    if (lua_gettop(L) >= 2 && dagl_l_is_symbol(L, 2))
        luaL_error(L, "%s: the source is a traced tensor; dagl.assign(t, value) writes it into t at every run", what);
    dagl_tensor *t = dagl_l_check(L, 1);
    if (dagl_tensor_check_writable(DAGL_LCTX(L), t, what)) dagl_l_error(L);
    return t;
}

/* In place: t:fill(v), t:copy(src) and t:add_(x, alpha) return t for chaining. */
static int l_fill(lua_State *L)
{
    dagl_tensor *t = inplace_target(L, "fill");
    if (dagl_fill(DAGL_LCTX(L), t, luaL_checknumber(L, 2))) return dagl_l_error(L);
    lua_settop(L, 1);
    return 1;
}

/* t:copy(src): src broadcast to t's shape and converted to its dtype */
static int l_copy(lua_State *L)
{
    dagl_tensor *t = inplace_target(L, "copy");
    if (dagl_copy_into(DAGL_LCTX(L), t, dagl_l_check(L, 2))) return dagl_l_error(L);
    lua_settop(L, 1);
    return 1;
}

/* t:add_(x [, alpha]): t += alpha * x in place; returns t. */
static int l_add_(lua_State *L)
{
    dagl_tensor *t = inplace_target(L, "add_");
    if (dagl_axpy(DAGL_LCTX(L), luaL_optnumber(L, 3, 1.0), dagl_l_check(L, 2), t)) return dagl_l_error(L);
    lua_settop(L, 1);
    return 1;
}

/* t:assign(v) / dagl.assign(t, v): t = v in place (same dtype and shape); returns t. A traced v
 * (a symbol) makes an assign node of its trace instead. */
static int l_assign(lua_State *L)
{
    if (dagl_l_is_symbol(L, 1))
        return luaL_error(L, "assign: the target must be a real tensor (a weight or a state tensor), got a traced "
                             "symbol");
    dagl_tensor *t = dagl_l_check(L, 1);
    dagl_l_arg args[2];
    if (dagl_l_is_symbol(L, 2)) {
        dagl_l_arg_check(L, 1, &args[0]);
        dagl_l_arg_check(L, 2, &args[1]);
        dagl_node_params p;
        dagl_node_params_init(&p);
        return dagl_l_apply(L, DAGL_OP_ASSIGN, 2, args, &p);
    }
    if (dagl_assign(DAGL_LCTX(L), t, dagl_l_check(L, 2))) return dagl_l_error(L);
    lua_settop(L, 1);
    return 1;
}

const luaL_Reg dagl_l_view_methods[] = {
    {"add_", l_add_},         {"assign", l_assign},
    {"reshape", l_reshape},   {"view", l_view},         {"flatten", l_flatten},
    {"transpose", l_transpose}, {"t", l_transpose},     {"permute", l_permute},
    {"slice", l_slice},       {"narrow", l_narrow},     {"select", l_select},
    {"squeeze", l_squeeze},   {"unsqueeze", l_unsqueeze}, {"expand", l_expand},
    {"contiguous", l_contiguous}, {"clone", l_clone},   {"to", l_to},
    {"float", l_float},       {"double", l_double},     {"long", l_long},       {"byte", l_byte},
    {"fill", l_fill},         {"copy", l_copy},         {NULL, NULL},
};
