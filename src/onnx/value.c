/* value.c -- the values of an ONNX graph being built: made, named (open hashing over the names),
 * read as a node's inputs and bound as its outputs, and the errors that name the node. */
#include "onnx_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(x) ((x) ? (x) : "")

/* A fresh value owned by the builder (freed with it). */
ox_value *ox_new(ox_build *b)
{
    if (b->nall == b->capall) {
        int nc = b->capall ? 2 * b->capall : 64;
        ox_value **na = realloc(b->all, sizeof *na * (size_t)nc);
        if (!na) {
            b->st = dagl_ctx_set_error(b->ctx, DAGL_E_NOMEM, "onnx: out of memory");
            return NULL;
        }
        b->all = na, b->capall = nc;
    }
    ox_value *v = calloc(1, sizeof *v);
    if (!v) {
        b->st = dagl_ctx_set_error(b->ctx, DAGL_E_NOMEM, "onnx: out of memory");
        return NULL;
    }
    v->id = -1;
    b->all[b->nall++] = v;
    return v;
}

/* A constant value over t (its reference is taken, also on failure). */
ox_value *ox_const(ox_build *b, dagl_tensor *t)
{
    ox_value *v = ox_new(b);
    if (!v) {
        dagl_tensor_release(t);
        return NULL;
    }
    v->c = t;
    v->dt = dagl_tensor_dtype(t);
    v->ndim = dagl_tensor_ndim(t);
    memcpy(v->shape, dagl_tensor_shape(t), sizeof(int64_t) * (size_t)v->ndim);
    return v;
}

/* FNV-1a over a name. */
static unsigned hash_name(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot of name: where it is, or the empty slot where it goes. */
static int slot_of(const ox_build *b, const char *name)
{
    unsigned i = hash_name(name) & (unsigned)(b->hcap - 1);
    while (b->names[i] && strcmp(b->names[i], name)) i = (i + 1) & (unsigned)(b->hcap - 1);
    return (int)i;
}

/* The value bound to a name, or NULL. */
ox_value *ox_lookup(ox_build *b, const char *name)
{
    int i = slot_of(b, name);
    return b->names[i] ? b->named[i] : NULL;
}

/* Counts a read of name (before the build, for BatchNormalization's folding into its Conv). */
void ox_count_use(ox_build *b, const char *name)
{
    int i = slot_of(b, name);
    b->names[i] = name;
    b->uses[i]++;
}

/* How many node inputs and graph outputs read a name (BatchNormalization folds only a Conv read once). */
int ox_uses(ox_build *b, const char *name) { return b->uses[slot_of(b, name)]; }

/* Names a value (an input, an initializer, a node's output). */
dagl_status ox_bind(ox_build *b, const char *name, ox_value *v)
{
    int i = slot_of(b, name);
    b->names[i] = name;
    b->named[i] = v;
    return DAGL_OK;
}

/* Input i of the current node, NULL when absent or left empty (optional inputs). */
ox_value *ox_in(ox_build *b, int i)
{
    if (i < 0 || (size_t)i >= b->node->n_input || !*S(b->node->input[i])) return NULL;
    return ox_lookup(b, b->node->input[i]);
}

/* How many inputs the current node lists. */
int ox_nin(const ox_build *b) { return (int)b->node->n_input; }
/* How many outputs the current node lists. */
int ox_nout(const ox_build *b) { return (int)b->node->n_output; }

/* Binds output i (a no-op when the node leaves it unnamed). */
dagl_status ox_out(ox_build *b, int i, ox_value *v)
{
    if (!v) return b->st ? b->st : ox_wrap(b, DAGL_E_INTERNAL);
    if ((size_t)i >= b->node->n_output || !*S(b->node->output[i])) return DAGL_OK;
    return ox_bind(b, b->node->output[i], v);
}

/* "<Op> node '<name>' (opset N)" into buf. */
static void node_desc(const ox_build *b, char *buf, size_t n)
{
    if (!b->node) snprintf(buf, n, "graph (opset %d)", b->m->opset);
    else snprintf(buf, n, "%s node '%s' (opset %d)", S(b->node->op_type), S(b->node->name), b->m->opset);
}

/* An error naming the current node, its op and the opset; the build's first error is kept. */
dagl_status ox_fail(ox_build *b, dagl_status st, const char *fmt, ...)
{
    char msg[768], who[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    node_desc(b, who, sizeof who);
    if (!b->st) b->st = st;
    return dagl_ctx_set_error(b->ctx, st, "onnx: %s: %s", who, msg);
}

/* An error naming the node and one of its attributes. */
dagl_status ox_bad_attr(ox_build *b, const char *attr, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ox_fail(b, DAGL_E_ARG, "attribute '%s': %s", attr, msg);
}

/* A dagl call's error prefixed with the node (once). */
dagl_status ox_wrap(ox_build *b, dagl_status st)
{
    if (!st) st = DAGL_E_INTERNAL;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", dagl_ctx_last_error(b->ctx));
    if (!strncmp(msg, "onnx: ", 6)) { /* named already */
        if (!b->st) b->st = st;
        return st;
    }
    return ox_fail(b, st, "%s", *msg ? msg : dagl_status_name(st));
}

/* An axis checked against the rank and made non-negative. */
dagl_status ox_axis(ox_build *b, const char *what, int64_t axis, int r, int *out)
{
    if (axis < -r || axis >= (r ? r : 1))
        return ox_fail(b, DAGL_E_INDEX, "%s %lld is out of range for rank %d", what, (long long)axis, r);
    *out = (int)(axis < 0 ? axis + r : axis);
    return DAGL_OK;
}

/* The model's opset, which importers branch on where ONNX changed an op. */
int ox_opset(const ox_build *b) { return b->m->opset; }
