/* attr.c -- reading a node's attributes with their defaults, and refusing the ones an importer
 * does not know (so nothing is silently ignored). */
#include "onnx_int.h"

#include <string.h>

#define A(x) ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__##x

/* The node's attribute of that name, or NULL: what every reader starts from. */
const Onnx__AttributeProto *ox_attr(const ox_build *b, const char *name)
{
    for (size_t i = 0; i < b->node->n_attribute; i++)
        if (!strcmp(b->node->attribute[i]->name, name)) return b->node->attribute[i];
    return NULL;
}

/* An int attribute with its ONNX default when absent. */
int64_t ox_attr_int(const ox_build *b, const char *name, int64_t dflt)
{
    const Onnx__AttributeProto *a = ox_attr(b, name);
    return a && (a->has_i || a->type == A(INT)) ? a->i : dflt;
}

/* A float attribute with its ONNX default when absent. */
double ox_attr_float(const ox_build *b, const char *name, double dflt)
{
    const Onnx__AttributeProto *a = ox_attr(b, name);
    return a && (a->has_f || a->type == A(FLOAT)) ? a->f : dflt;
}

/* A string attribute copied NUL-terminated into buf (protobuf bytes are not), or dflt. */
const char *ox_attr_str(const ox_build *b, const char *name, const char *dflt, char *buf, size_t size)
{
    const Onnx__AttributeProto *a = ox_attr(b, name);
    if (!a || !a->has_s) return dflt;
    size_t n = a->s.len < size - 1 ? a->s.len : size - 1;
    if (n) memcpy(buf, a->s.data, n);
    buf[n] = 0;
    return buf;
}

/* An ints attribute (pads, strides, axes, perm), bounded by max. */
dagl_status ox_attr_ints(ox_build *b, const char *name, int64_t *out, int max, int *n)
{
    const Onnx__AttributeProto *a = ox_attr(b, name);
    *n = -1;
    if (!a) return DAGL_OK;
    if (a->n_ints > (size_t)max) return ox_bad_attr(b, name, "%zu values (at most %d)", a->n_ints, max);
    if (a->n_ints) memcpy(out, a->ints, sizeof(int64_t) * a->n_ints); /* ints is NULL when empty */
    *n = (int)a->n_ints;
    return DAGL_OK;
}

/* Whether `name` is one of the space-separated words of `list`. */
static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return true;
        p += len + (e != NULL);
    }
    return false;
}

/* Refuses attributes the importer does not read, so none is silently ignored. */
dagl_status ox_attrs_known(ox_build *b, const char *known)
{
    for (size_t i = 0; i < b->node->n_attribute; i++) {
        const char *name = b->node->attribute[i]->name;
        if (!in_list(known, name)) return ox_bad_attr(b, name, "not supported by dagl's %s importer", b->node->op_type);
    }
    return DAGL_OK;
}
