/* export.c -- dagl_onnx_save: a dagl graph written as an ONNX model (opset 17, IR 8). Graph
 * inputs become inputs input_0.., constants initializers, op nodes ONNX nodes (export_ops.c), and
 * each graph output an output_i. Reads the graph's IR (graph/graph.h): the graph must not have run
 * (a run fuses nodes), as a fresh trace is. */
#include "export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A ValueInfoProto: name, elem type and the fixed shape. */
static Onnx__ValueInfoProto *value_info(const char *name, dagl_dtype dt, int ndim, const int64_t *shape)
{
    Onnx__ValueInfoProto *vi = calloc(1, sizeof *vi);
    Onnx__TypeProto *tp = calloc(1, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = calloc(1, sizeof *tt);
    Onnx__TensorShapeProto *sh = calloc(1, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dims = calloc((size_t)ndim + 1, sizeof *dims);
    if (!vi || !tp || !tt || !sh || !dims) {
        free(vi), free(tp), free(tt), free(sh), free(dims);
        return NULL;
    }
    onnx__value_info_proto__init(vi);
    vi->name = strdup(name); /* NULL when out of memory: the writer then fails the pack check */
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    tt->has_elem_type = 1;
    tt->elem_type = ex_elem_type(dt);
    sh->dim = dims;
    for (int d = 0; d < ndim; d++) {
        Onnx__TensorShapeProto__Dimension *dm = calloc(1, sizeof *dm);
        if (!dm) break;
        onnx__tensor_shape_proto__dimension__init(dm);
        dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dm->dim_value = shape[d];
        dims[sh->n_dim++] = dm;
    }
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    return vi;
}

/* Inputs, constants and op nodes of g into e and the graph proto gp. */
static dagl_status write_graph(ex *e, Onnx__GraphProto *gp)
{
    const dagl_graph *g = e->g;
    gp->input = calloc((size_t)g->ninputs + 1, sizeof *gp->input);
    gp->output = calloc((size_t)g->noutputs + 1, sizeof *gp->output);
    if (!gp->input || !gp->output) return dagl_ctx_set_error(e->ctx, DAGL_E_NOMEM, "onnx_save: out of memory");
    for (int i = 0; i < g->ninputs; i++) {
        const dagl_node *nd = &g->nodes[g->inputs[i]];
        char name[32];
        snprintf(name, sizeof name, "input_%d", i);
        if (!(gp->input[gp->n_input] = value_info(name, nd->dtype, nd->ndim, nd->shape)))
            return dagl_ctx_set_error(e->ctx, DAGL_E_NOMEM, "onnx_save: out of memory");
        gp->n_input++;
        char *in = strdup(name);
        e->node_id = g->inputs[i];
        if (!ex_node(e, "Identity", 1, &in, ex_name(g->inputs[i]), NULL))
            return dagl_ctx_set_error(e->ctx, DAGL_E_NOMEM, "onnx_save: out of memory");
    }
    for (int id = 0; id < g->n; id++) {
        const dagl_node *nd = &g->nodes[id];
        dagl_status st = DAGL_OK;
        if (nd->kind == NODE_CONST) {
            Onnx__TensorProto *tp = ex_tensor_proto(e->ctx, nd->value, ex_name(id));
            if (!tp || !ex_add_init(e, tp)) st = DAGL_E_NOMEM;
        } else if (nd->kind == NODE_OP) {
            st = ex_write_node(e, id);
        }
        if (st == DAGL_E_NOMEM) return dagl_ctx_set_error(e->ctx, st, "onnx_save: out of memory");
        if (st) return st;
    }
    for (int i = 0; i < g->noutputs; i++) {
        const dagl_node *nd = &g->nodes[g->outputs[i]];
        char name[32];
        snprintf(name, sizeof name, "output_%d", i);
        char *src = ex_name(g->outputs[i]);
        e->node_id = g->outputs[i];
        if (!ex_node(e, "Identity", 1, &src, strdup(name), NULL) ||
            !(gp->output[gp->n_output] = value_info(name, nd->dtype, nd->ndim, nd->shape)))
            return dagl_ctx_set_error(e->ctx, DAGL_E_NOMEM, "onnx_save: out of memory");
        gp->n_output++;
    }
    return DAGL_OK;
}

/* The model proto around the graph proto (opset 17, IR 8, producer dagl). */
static Onnx__ModelProto *model_of(Onnx__GraphProto *gp)
{
    Onnx__ModelProto *mp = calloc(1, sizeof *mp);
    Onnx__OperatorSetIdProto *os = calloc(1, sizeof *os);
    Onnx__OperatorSetIdProto **list = calloc(1, sizeof *list);
    if (!mp || !os || !list) {
        free(mp), free(os), free(list);
        return NULL;
    }
    onnx__model_proto__init(mp);
    onnx__operator_set_id_proto__init(os);
    os->domain = strdup("");
    os->has_version = 1;
    os->version = EXPORT_OPSET;
    list[0] = os;
    mp->opset_import = list;
    mp->n_opset_import = 1;
    mp->has_ir_version = 1;
    mp->ir_version = 8;
    mp->producer_name = strdup("dagl");
    mp->producer_version = strdup(DAGL_VERSION_STRING);
    mp->graph = gp;
    return mp;
}

dagl_status dagl_onnx_save(const dagl_graph *g, const char *path)
{
    if (!g || !path) return DAGL_E_ARG;
    dagl_ctx *ctx = g->ctx;
    if (g->built_for >= 0)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "onnx_save: the graph has run (runs fuse its nodes); export a fresh trace");
    ex e = {.ctx = ctx, .g = g};
    Onnx__GraphProto *gp = calloc(1, sizeof *gp);
    if (!gp) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "onnx_save: out of memory");
    onnx__graph_proto__init(gp);
    gp->name = strdup("dagl");
    dagl_status st = write_graph(&e, gp);
    gp->node = e.nodes, gp->n_node = e.nn;
    gp->initializer = e.inits, gp->n_initializer = e.ni;
    Onnx__ModelProto *mp = model_of(gp);
    if (!mp) {
        onnx__graph_proto__free_unpacked(gp, NULL);
        return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "onnx_save: out of memory");
    }
    uint8_t *buf = NULL;
    size_t n = 0;
    if (!st) {
        n = onnx__model_proto__get_packed_size(mp);
        if (!(buf = malloc(n ? n : 1))) st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "onnx_save: out of memory");
        else onnx__model_proto__pack(mp, buf);
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    if (!st) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FILE *f = fopen(tmp, "wb");
        bool ok = f && fwrite(buf, 1, n, f) == n;
        if (f && fclose(f) != 0) ok = false;
        if (!ok || rename(tmp, path) != 0) {
            remove(tmp);
            st = dagl_ctx_set_error(ctx, DAGL_E_IO, "onnx_save: cannot write %s", path);
        }
    }
    free(buf);
    return st;
}
