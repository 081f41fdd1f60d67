/* export.h -- what the ONNX exporter's files share (export.c, export_util.c, export_ops.c): the
 * model being written and the helpers that add to it. Strings passed to ex_node and ex_chain are
 * owned by the model from the call on (also when it fails). */
#ifndef DAGL_ONNX_EXPORT_H
#define DAGL_ONNX_EXPORT_H

#include "onnx_int.h"
#include "graph/graph.h"

#define EXPORT_OPSET 17

typedef struct ex {
    dagl_ctx *ctx;
    const dagl_graph *g;
    Onnx__NodeProto **nodes;
    size_t nn, capn;
    Onnx__TensorProto **inits;
    size_t ni, capi;
    int tmp;     /* names of intermediate values: t0, t1, ... */
    int node_id; /* the dagl node being written (node names, errors) */
} ex;

char *ex_name(int id);
char *ex_fresh(ex *e);
int ex_elem_type(dagl_dtype dt);
Onnx__TensorProto *ex_tensor_proto(dagl_ctx *ctx, const dagl_tensor *t, char *name);
bool ex_add_init(ex *e, Onnx__TensorProto *tp);
char *ex_init(ex *e, const dagl_tensor *t);
char *ex_ints(ex *e, const int64_t *v, int64_t n);
char *ex_scalar(ex *e, dagl_dtype dt, double v);
Onnx__AttributeProto *ex_attr_int(const char *name, int64_t v);
Onnx__AttributeProto *ex_attr_ints(const char *name, const int64_t *v, int n);
Onnx__AttributeProto *ex_attr_str(const char *name, const char *v);
bool ex_node(ex *e, const char *op, int nin, char **in, char *out, Onnx__AttributeProto **attrs);
char *ex_chain(ex *e, const char *op, char *in, Onnx__AttributeProto **attrs);
dagl_status ex_unsupported(ex *e, const dagl_node *nd);
/* Writes node id of the graph as ONNX nodes whose last output is named ex_name(id). */
dagl_status ex_write_node(ex *e, int id);

#endif
