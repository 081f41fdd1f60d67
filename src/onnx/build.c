/* build.c -- dagl_onnx_build: a dagl graph of a loaded model for fixed input shapes. Inputs and
 * initializers become values, each node goes through its op's importer (registry.c), and the
 * graph outputs are declared in ONNX's layout. */
#include "onnx_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(x) ((x) ? (x) : "")

/* Frees every value the build made (their constant references too). */
static void build_free(ox_build *b)
{
    for (int i = 0; i < b->nall; i++) {
        dagl_tensor_release(b->all[i]->c);
        free(b->all[i]);
    }
    free(b->all);
    free(b->names);
    free(b->named);
    free(b->uses);
}

/* The name table, sized for every name the graph can define, with the reads of each counted. */
static dagl_status build_init(ox_build *b)
{
    const Onnx__GraphProto *g = b->m->graph;
    size_t names = g->n_input + g->n_initializer + g->n_output + 1;
    for (size_t i = 0; i < g->n_node; i++) names += g->node[i]->n_output + g->node[i]->n_input;
    b->hcap = 64;
    while ((size_t)b->hcap < 2 * names) b->hcap *= 2;
    b->names = calloc((size_t)b->hcap, sizeof *b->names);
    b->named = calloc((size_t)b->hcap, sizeof *b->named);
    b->uses = calloc((size_t)b->hcap, sizeof *b->uses);
    if (!b->names || !b->named || !b->uses) return dagl_ctx_set_error(b->ctx, DAGL_E_NOMEM, "onnx: out of memory");
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t k = 0; k < g->node[i]->n_input; k++)
            if (*S(g->node[i]->input[k])) ox_count_use(b, g->node[i]->input[k]);
    for (size_t i = 0; i < g->n_output; i++)
        if (g->output[i]) ox_count_use(b, S(g->output[i]->name));
    return DAGL_OK;
}

/* Checks a given input shape against the file's (fixed dims must match). */
static dagl_status check_input(ox_build *b, const ox_input *in, int nd, const int64_t *shape)
{
    char want[128], got[128];
    if (nd < 0 || nd > DAGL_MAX_DIMS) return dagl_ctx_set_error(b->ctx, DAGL_E_SHAPE, "onnx: input '%s': bad rank %d", in->name, nd);
    bool ok = in->ndim < 0 || in->ndim == nd;
    for (int d = 0; ok && d < nd; d++) ok = shape[d] >= 0 && (in->ndim < 0 || in->shape[d] < 0 || in->shape[d] == shape[d]);
    if (ok) return DAGL_OK;
    dagl_shape_str(nd, shape, got, sizeof got);
    if (in->ndim < 0) snprintf(want, sizeof want, "any");
    else dagl_shape_str(in->ndim, in->shape, want, sizeof want);
    return dagl_ctx_set_error(b->ctx, DAGL_E_SHAPE, "onnx: input '%s': shape %s does not fit the model's %s (-1: any size)",
                              in->name, got, want);
}

/* Initializers as values. */
static dagl_status bind_initializers(ox_build *b)
{
    const dagl_onnx_model *m = b->m;
    for (int i = 0; i < m->ninit; i++) {
        dagl_tensor_retain(m->inits[i]);
        ox_value *v = ox_const(b, m->inits[i]);
        if (!v) return DAGL_E_NOMEM;
        ox_bind(b, m->init_names[i], v);
    }
    return DAGL_OK;
}

/* The model's inputs as values: new graph inputs of the given (or declared) shapes, or, with
 * `ids`, nodes already in the graph. */
static dagl_status bind_inputs(ox_build *b, const int *ndims, const int64_t *const *shapes, const int *ids)
{
    const dagl_onnx_model *m = b->m;
    for (int i = 0; i < m->nin; i++) {
        const ox_input *in = &m->inputs[i];
        ox_value *v = ox_new(b);
        if (!v) return DAGL_E_NOMEM;
        dagl_status st;
        if (ids) {
            const int64_t *shape;
            if ((st = dagl_graph_node_info(b->g, ids[i], &v->dt, &v->ndim, &shape))) return st;
            memcpy(v->shape, shape, sizeof(int64_t) * (size_t)v->ndim);
            if (v->dt != in->dt)
                return dagl_ctx_set_error(b->ctx, DAGL_E_DTYPE, "onnx: input '%s' is %s, the model takes %s", in->name,
                                          dagl_dtype_name(v->dt), dagl_dtype_name(in->dt));
            if ((st = check_input(b, in, v->ndim, v->shape))) return st;
            v->id = ids[i];
        } else {
            bool given = shapes && shapes[i];
            int nd = given ? ndims[i] : in->ndim;
            const int64_t *shape = given ? shapes[i] : in->shape;
            if (nd < 0)
                return dagl_ctx_set_error(b->ctx, DAGL_E_SHAPE, "onnx: input '%s' has no shape in the file: give one", in->name);
            if ((st = check_input(b, in, nd, shape))) return st;
            if ((st = dagl_graph_input(b->g, in->dt, nd, shape, &v->id))) return st;
            v->dt = in->dt, v->ndim = nd;
            memcpy(v->shape, shape, sizeof(int64_t) * (size_t)nd);
        }
        ox_bind(b, in->name, v);
    }
    return DAGL_OK;
}

/* Runs each node's importer in file order (ONNX requires topological order). */
static dagl_status import_nodes(ox_build *b)
{
    const Onnx__GraphProto *g = b->m->graph;
    for (size_t i = 0; i < g->n_node; i++) {
        b->node = g->node[i];
        for (size_t k = 0; k < b->node->n_input; k++)
            if (*S(b->node->input[k]) && !ox_lookup(b, b->node->input[k]))
                return ox_fail(b, DAGL_E_FORMAT, "input '%s' is not produced by any earlier node, input or initializer",
                               b->node->input[k]);
        const ox_importer *imp = ox_find_importer(S(b->node->op_type));
        dagl_status st = ox_attrs_known(b, imp->attrs);
        if (!st) st = imp->fn(b);
        if (st) return st;
    }
    return DAGL_OK;
}

/* The graph outputs in ONNX's layout (a constant output becomes a constant node): declared as
 * the graph's outputs, or, with `ids`, their node ids stored there. */
static dagl_status declare_outputs(ox_build *b, int *ids)
{
    const Onnx__GraphProto *g = b->m->graph;
    b->node = NULL;
    for (size_t i = 0; i < g->n_output; i++) {
        const char *name = g->output[i] ? S(g->output[i]->name) : "";
        ox_value *v = ox_lookup(b, name);
        if (!v) return dagl_ctx_set_error(b->ctx, DAGL_E_FORMAT, "onnx: graph output '%s' is produced by no node", name);
        if (!(v = ox_plain(b, v))) return b->st ? b->st : DAGL_E_INTERNAL;
        dagl_status st;
        if (v->id < 0 && (st = dagl_graph_constant(b->g, v->c, &v->id))) return st;
        if (ids) ids[i] = v->id;
        else if ((st = dagl_graph_output(b->g, v->id))) return st;
    }
    return DAGL_OK;
}

/* The import into b->g: initializers, inputs, every node, the outputs. */
static dagl_status import(ox_build *b, const int *ndims, const int64_t *const *shapes, const int *in_ids,
                          int *out_ids)
{
    dagl_status st = build_init(b);
    if (!st) st = bind_initializers(b);
    if (!st) st = bind_inputs(b, ndims, shapes, in_ids);
    if (!st) st = import_nodes(b);
    if (!st) st = declare_outputs(b, out_ids);
    build_free(b);
    return st;
}

dagl_status dagl_onnx_build(dagl_onnx_model *m, const int *ndims, const int64_t *const *shapes, dagl_graph **out)
{
    if (!m || !out) return DAGL_E_ARG;
    *out = NULL;
    ox_build b = {.ctx = m->ctx, .m = m};
    dagl_status st = dagl_graph_new(m->ctx, &b.g);
    if (!st) st = import(&b, ndims, shapes, NULL, NULL);
    if (st) {
        dagl_graph_free(b.g);
        return st;
    }
    *out = b.g;
    return DAGL_OK;
}

dagl_status dagl_onnx_add_to_graph(dagl_onnx_model *m, dagl_graph *g, const int *inputs, int *outputs)
{
    if (!m || !g || (!inputs && m->nin) || !outputs) return DAGL_E_ARG;
    ox_build b = {.ctx = m->ctx, .m = m, .g = g};
    for (int i = 0; i < m->nin; i++)
        if (inputs[i] < 0 || inputs[i] >= dagl_graph_num_nodes(g))
            return dagl_ctx_set_error(m->ctx, DAGL_E_INDEX, "onnx: input '%s': node %d is not in the graph",
                                      m->inputs[i].name, inputs[i]);
    return import(&b, NULL, NULL, inputs, outputs);
}
