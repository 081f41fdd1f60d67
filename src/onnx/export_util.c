/* export_util.c -- what the ONNX exporter's op writers share: value names, initializers (copies
 * of constants, int64 shape/axis lists, scalars), attributes and nodes appended to the model being
 * written. */
#include "export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T(x) ONNX__TENSOR_PROTO__DATA_TYPE__##x

/* A strdup'ed name of value `id` of the graph (v<id>), or a fresh temporary. */
char *ex_name(int id)
{
    char buf[32];
    snprintf(buf, sizeof buf, "v%d", id);
    return strdup(buf);
}

/* A new temporary name for the values a node's translation needs in between. */
char *ex_fresh(ex *e)
{
    char buf[32];
    snprintf(buf, sizeof buf, "t%d", e->tmp++);
    return strdup(buf);
}

/* Grows an array of pointers by one slot. */
static bool push(void ***arr, size_t *n, size_t *cap, void *v)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 32;
        void **na = realloc(*arr, sizeof *na * nc);
        if (!na) return false;
        *arr = na, *cap = nc;
    }
    (*arr)[(*n)++] = v;
    return true;
}

/* The ONNX elem_type of a dtype. */
int ex_elem_type(dagl_dtype dt)
{
    return dt == DAGL_F32 ? T(FLOAT) : dt == DAGL_F64 ? T(DOUBLE) : dt == DAGL_I64 ? T(INT64) : T(UINT8);
}

/* A TensorProto named `name` holding t's values (raw little-endian data, a copy). */
Onnx__TensorProto *ex_tensor_proto(dagl_ctx *ctx, const dagl_tensor *t, char *name)
{
    Onnx__TensorProto *tp = malloc(sizeof *tp);
    dagl_tensor *c = NULL;
    if (!tp || !name || dagl_contiguous(ctx, (dagl_tensor *)t, &c)) {
        free(tp), free(name);
        return NULL;
    }
    onnx__tensor_proto__init(tp);
    tp->name = name;
    tp->n_dims = (size_t)dagl_tensor_ndim(c);
    tp->dims = malloc(sizeof(int64_t) * (tp->n_dims + 1));
    size_t nb = dagl_tensor_nbytes(c);
    tp->raw_data.data = malloc(nb + 1);
    if (!tp->dims || !tp->raw_data.data) {
        dagl_tensor_release(c);
        onnx__tensor_proto__free_unpacked(tp, NULL);
        return NULL;
    }
    memcpy(tp->dims, dagl_tensor_shape(c), sizeof(int64_t) * tp->n_dims);
    if (nb) memcpy(tp->raw_data.data, dagl_tensor_data(c), nb);
    tp->raw_data.len = nb;
    tp->has_raw_data = 1;
    tp->has_data_type = 1;
    tp->data_type = ex_elem_type(dagl_tensor_dtype(c));
    dagl_tensor_release(c);
    return tp;
}

/* Appends an initializer (freed here when out of memory). */
bool ex_add_init(ex *e, Onnx__TensorProto *tp)
{
    if (push((void ***)&e->inits, &e->ni, &e->capi, tp)) return true;
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return false;
}

/* An initializer of t's values; returns its (strdup'ed) name or NULL. */
char *ex_init(ex *e, const dagl_tensor *t)
{
    char *name = ex_fresh(e), *ret = name ? strdup(name) : NULL;
    Onnx__TensorProto *tp = ex_tensor_proto(e->ctx, t, name);
    if (!tp || !ret || !ex_add_init(e, tp)) {
        free(ret);
        return NULL;
    }
    return ret;
}

/* An initializer of n int64 values (shapes, axes, perms). */
char *ex_ints(ex *e, const int64_t *v, int64_t n)
{
    dagl_tensor *t;
    if (dagl_tensor_new(e->ctx, DAGL_I64, 1, &n, &t)) return NULL;
    if (n) memcpy(dagl_tensor_data(t), v, sizeof(int64_t) * (size_t)n);
    char *name = ex_init(e, t);
    dagl_tensor_release(t);
    return name;
}

/* A scalar initializer of dtype dt. */
char *ex_scalar(ex *e, dagl_dtype dt, double v)
{
    dagl_tensor *t;
    if (dagl_tensor_full(e->ctx, dt, 0, NULL, v, &t)) return NULL;
    char *name = ex_init(e, t);
    dagl_tensor_release(t);
    return name;
}

/* An attribute (INT, INTS, FLOAT or STRING) of a node. */
static Onnx__AttributeProto *attr_new(const char *name)
{
    Onnx__AttributeProto *a = malloc(sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = strdup(name);
    a->has_type = 1;
    if (!a->name) {
        free(a);
        return NULL;
    }
    return a;
}

Onnx__AttributeProto *ex_attr_int(const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr_new(name);
    if (a) a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, a->has_i = 1, a->i = v;
    return a;
}

Onnx__AttributeProto *ex_attr_ints(const char *name, const int64_t *v, int n)
{
    Onnx__AttributeProto *a = attr_new(name);
    if (!a) return NULL;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    a->ints = malloc(sizeof(int64_t) * (size_t)(n + 1));
    if (!a->ints) {
        onnx__attribute_proto__free_unpacked(a, NULL);
        return NULL;
    }
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
    a->n_ints = (size_t)n;
    return a;
}

Onnx__AttributeProto *ex_attr_str(const char *name, const char *v)
{
    Onnx__AttributeProto *a = attr_new(name);
    if (!a) return NULL;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    a->s.data = (uint8_t *)strdup(v);
    a->s.len = strlen(v);
    a->has_s = 1;
    return a;
}

/* Appends a node op_type(in...) -> out with the attributes (NULL-terminated). Takes ownership of
 * every string and attribute; false when out of memory. */
bool ex_node(ex *e, const char *op, int nin, char **in, char *out, Onnx__AttributeProto **attrs)
{
    Onnx__NodeProto *n = calloc(1, sizeof *n);
    bool ok = n != NULL;
    if (n) {
        onnx__node_proto__init(n);
        n->op_type = strdup(op);
        n->input = calloc((size_t)nin + 1, sizeof *n->input);
        n->output = calloc(1, sizeof *n->output);
        /* one dagl node may write several ONNX nodes of one op (a window's two Transposes): the
         * ONNX node's index makes the name unique */
        char buf[64];
        snprintf(buf, sizeof buf, "%s_%d_%zu", op, e->node_id, e->nn);
        n->name = strdup(buf);
        ok = n->op_type && n->name && n->input && n->output && push((void ***)&e->nodes, &e->nn, &e->capn, n);
    }
    for (int i = 0; i < nin; i++) {
        ok &= in[i] != NULL;
        if (n && n->input) n->input[n->n_input++] = in[i];
        else free(in[i]);
    }
    ok &= out != NULL;
    if (n && n->output) n->output[n->n_output++] = out;
    else free(out);
    size_t na = 0;
    while (attrs && attrs[na]) na++;
    if (n && na && (n->attribute = calloc(na, sizeof *n->attribute))) {
        for (size_t i = 0; i < na; i++) n->attribute[n->n_attribute++] = attrs[i];
    } else {
        ok &= na == 0;
        for (size_t i = 0; i < na; i++) onnx__attribute_proto__free_unpacked(attrs[i], NULL);
    }
    if (n && !ok && (e->nn == 0 || e->nodes[e->nn - 1] != n)) onnx__node_proto__free_unpacked(n, NULL);
    return ok;
}

/* A one-input node writing a fresh temporary; returns its name (or NULL). */
char *ex_chain(ex *e, const char *op, char *in, Onnx__AttributeProto **attrs)
{
    char *out = ex_fresh(e), *ret = out ? strdup(out) : NULL;
    if (!ex_node(e, op, 1, &in, out, attrs)) {
        free(ret);
        return NULL;
    }
    return ret;
}

/* The error for a node the exporter has no translation for, naming it and its layer. */
dagl_status ex_unsupported(ex *e, const dagl_node *nd)
{
    return dagl_ctx_set_error(e->ctx, DAGL_E_ARG, "onnx_save: node %d (%s%s%s) has no ONNX counterpart in dagl's exporter",
                              e->node_id, dagl_op_name(nd->op), nd->label ? ", layer " : "", nd->label ? nd->label : "");
}
