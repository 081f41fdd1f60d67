/* op_table.c -- the tables derived from the op list (DAGL_OP_LIST in dagl.h): each op's name,
 * class and dtype rule, and what each class means for the layers above (source count, memory,
 * elementwise). Core holds them so every layer can ask; no code compares enum ranges. */
#include "internal.h"

#include <math.h>
#include <string.h>

#define ROW(E, name, cls, dt, lua) [DAGL_OP_##E] = {#name, DAGL__CLS_##cls, DAGL__DT_##dt, DAGL__LUA_##lua},
static const dagl__op_info op_info[] = {DAGL_OP_LIST(ROW)};
#undef ROW
_Static_assert(sizeof op_info / sizeof *op_info == DAGL_OP_COUNT, "one op_info entry per dagl_op");

/* What each class means outside its own files: how many sources (0: checked by the class's
 * inference, as binary ops take 1 with a scalar or 2), whether its result is fresh memory, a view
 * of source 1 or opaque to the memory planner, whether output element i depends only on element i
 * of same-shaped sources (in-place execution), and whether it takes uint8 operands (the classes
 * that move, pick or compare elements; see dagl__op_check_dtypes). */
static const dagl__class_info class_info[] = {
    [DAGL__CLS_NONE] = {"none", 0, DAGL__MEM_OPAQUE, false, false},
    [DAGL__CLS_UNARY] = {"unary", 1, DAGL__MEM_FRESH, true, false},
    [DAGL__CLS_BINARY] = {"binary", 0, DAGL__MEM_FRESH, true, false},
    [DAGL__CLS_COMPARE] = {"compare", 0, DAGL__MEM_FRESH, true, true},
    [DAGL__CLS_CLAMP] = {"clamp", 1, DAGL__MEM_FRESH, true, false},
    [DAGL__CLS_WHERE] = {"where", 3, DAGL__MEM_FRESH, false, true},
    [DAGL__CLS_REDUCE] = {"reduce", 1, DAGL__MEM_FRESH, false, false},
    [DAGL__CLS_MATMUL] = {"matmul", 2, DAGL__MEM_FRESH, false, false},
    [DAGL__CLS_LAYOUT] = {"layout", 1, DAGL__MEM_VIEW, false, true},
    [DAGL__CLS_CAST] = {"cast", 1, DAGL__MEM_OPAQUE, false, true}, /* may return its source itself */
    [DAGL__CLS_CONCAT] = {"concat", 0, DAGL__MEM_FRESH, false, true},
    [DAGL__CLS_SLICE_SCATTER] = {"slice_scatter", 1, DAGL__MEM_FRESH, false, true},
    [DAGL__CLS_GATHER] = {"gather", 2, DAGL__MEM_FRESH, false, true},
    [DAGL__CLS_INDEX_ADD] = {"index_add", 2, DAGL__MEM_FRESH, false, false},
    [DAGL__CLS_DROPOUT] = {"dropout", 1, DAGL__MEM_FRESH, false, false},
    [DAGL__CLS_WINDOW] = {"window", 0, DAGL__MEM_FRESH, false, false},
    [DAGL__CLS_ALONG] = {"along", 1, DAGL__MEM_FRESH, false, false},
    [DAGL__CLS_TAKE] = {"take", 2, DAGL__MEM_FRESH, false, true},
    [DAGL__CLS_SCATTER] = {"scatter", 3, DAGL__MEM_FRESH, false, false},
    [DAGL__CLS_SOFTMAX] = {"softmax", 1, DAGL__MEM_FRESH, false, false},
    [DAGL__CLS_ASSIGN] = {"assign", 2, DAGL__MEM_OPAQUE, false, true},
    [DAGL__CLS_CUSTOM] = {"custom", 0, DAGL__MEM_OPAQUE, false, true},
};
_Static_assert(sizeof class_info / sizeof *class_info == DAGL__CLS_COUNT, "one class_info entry per class");

/* Bounds-checked lookup, so a bad op from a caller gives "none" instead of a wild read. */
const dagl__op_info *dagl__op_info_of(dagl_op op)
{
    return (unsigned)op < DAGL_OP_COUNT ? &op_info[op] : &op_info[DAGL_OP_NONE];
}

/* The class facts of op (those of NONE for values out of range). */
const dagl__class_info *dagl__class_of(dagl_op op)
{
    return &class_info[dagl__op_info_of(op)->cls];
}

/* The public name of an op, as used in error messages, graph dumps and the Lua API. */
const char *dagl_op_name(dagl_op op)
{
    return dagl__op_info_of(op)->name;
}

/* The op named `name` ("add"), or DAGL_OP_NONE: how the Lua graph builder reads op names. */
dagl_op dagl_op_from_name(const char *name)
{
    for (int op = 1; op < DAGL_OP_COUNT; op++)
        if (strcmp(op_info[op].name, name) == 0) return (dagl_op)op;
    return DAGL_OP_NONE;
}

/* f64 > f32 > i64 > u8, as dagl_dtype_promote, inlined: every kernel call asks for its result dtype. */
static inline dagl_dtype promote(dagl_dtype a, dagl_dtype b)
{
    static const unsigned char rank[DAGL_DTYPE_COUNT] = {[DAGL_U8] = 0, [DAGL_I64] = 1, [DAGL_F32] = 2,
                                                         [DAGL_F64] = 3};
    return rank[a] >= rank[b] ? a : b;
}

/* Integers compute in float32 under the FLOAT rules. */
static inline dagl_dtype floating(dagl_dtype d) { return d == DAGL_I64 || d == DAGL_U8 ? DAGL_F32 : d; }

/* The op list's dtype rule applied, so that graph inference and every kernel derive a result's
 * dtype from one place. A scalar parameter counts as int64 when integral, else float32. */
dagl_dtype dagl_op_result_dtype(dagl_op op, int n, const dagl_dtype *dts, const dagl_node_params *p)
{
    dagl__dtype_rule rule = (unsigned)op < DAGL_OP_COUNT ? op_info[op].dtype : DAGL__DT_SAME;
    dagl_dtype d = n > 0 ? dts[0] : DAGL_F32;
    switch (rule) {
    case DAGL__DT_SAME: return d;
    case DAGL__DT_FLOAT: return floating(d);
    case DAGL__DT_INT64: return DAGL_I64;
    case DAGL__DT_PARAM: return p ? p->dtype : d;
    case DAGL__DT_VALUES:
        if (n < 2) return d;
        d = dts[1];
        for (int i = 2; i < n; i++) d = promote(d, dts[i]);
        return d;
    case DAGL__DT_PROMOTE:
    case DAGL__DT_PROMOTE_FLOAT:
        for (int i = 1; i < n; i++) d = promote(d, dts[i]);
        if (p && p->has_scalar) d = promote(d, dagl__scalar_dtype(p->scalar));
        return rule == DAGL__DT_PROMOTE_FLOAT ? floating(d) : d;
    }
    return d;
}

dagl_status dagl__op_check_dtypes(dagl_ctx *ctx, dagl_op op, int n, const dagl_dtype *dts)
{
    if (dagl__class_of(op)->takes_u8) return DAGL_OK;
    for (int i = 0; i < n; i++)
        if (dts[i] == DAGL_U8)
            return dagl_ctx_set_error(ctx, DAGL_E_DTYPE,
                                      "%s: uint8 tensors do not compute (uint8 holds data: images, labels); "
                                      "convert first: x:float(1/255) scales to [0, 1], x:float() or x:long() keeps "
                                      "the values", dagl_op_name(op));
    return DAGL_OK;
}

dagl_dtype dagl__scalar_dtype(double s)
{
    return s == trunc(s) && fabs(s) < 9.2e18 ? DAGL_I64 : DAGL_F32;
}

/* Parameters as a NULL params argument means them. */
void dagl_node_params_init(dagl_node_params *p)
{
    memset(p, 0, sizeof *p);
    p->lo = p->hi = NAN;
    p->correction = 1;
    p->step = 1;
}
