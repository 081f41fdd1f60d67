/* ops_logic.c -- importers of Not, And, Or, Xor on ONNX's bools (uint8 0/1 in dagl): Where and
 * comparisons, which dagl runs on uint8. */
#include "onnx_int.h"

#include <string.h>

/* A bool value as 0/1 uint8 (any nonzero is true). */
static ox_value *truth(ox_build *b, ox_value *x)
{
    if (!x) return NULL;
    ox_value *r = ox_scalar(b, DAGL_OP_NE, x, 0, 0);
    dagl_node_params p;
    dagl_node_params_init(&p);
    p.dtype = DAGL_U8;
    return r && r->dt != DAGL_U8 ? ox_op(b, DAGL_OP_CAST, 1, &r, &p) : r;
}

/* Not(x) = x == 0; And(a, b) = where(a, b, 0); Or(a, b) = where(a, 1, b); Xor(a, b) = a != b. */
dagl_status ox_import_logic(ox_build *b)
{
    const char *op = b->node->op_type;
    ox_value *a = truth(b, ox_plain(b, ox_in(b, 0)));
    if (!a) return b->st ? b->st : ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    if (!strcmp(op, "Not")) {
        ox_value *one = ox_full(b, DAGL_U8, 0, NULL, 1), *zero = ox_full(b, DAGL_U8, 0, NULL, 0);
        ox_value *v[3] = {a, zero, one};
        return ox_out(b, 0, one && zero ? ox_op(b, DAGL_OP_WHERE, 3, v, NULL) : NULL);
    }
    ox_value *c = truth(b, ox_plain(b, ox_in(b, 1)));
    if (!c) return b->st ? b->st : ox_fail(b, DAGL_E_ARG, "input 2 is missing");
    if (!strcmp(op, "Xor")) return ox_out(b, 0, ox_binary(b, DAGL_OP_NE, a, c));
    bool is_and = !strcmp(op, "And");
    ox_value *k = ox_full(b, DAGL_U8, 0, NULL, is_and ? 0 : 1);
    ox_value *v[3] = {a, is_and ? c : k, is_and ? k : c};
    return ox_out(b, 0, k ? ox_op(b, DAGL_OP_WHERE, 3, v, NULL) : NULL);
}
