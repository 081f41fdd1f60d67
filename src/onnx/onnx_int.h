/* onnx_int.h -- what the ONNX importer's files share: the loaded model, the graph builder with its
 * values (constants folded at load time, graph nodes, and the NHWC layout flag), the attribute
 * readers and the table of op importers. Uses the public header and the generated protobuf-c
 * reader (onnx.pb-c.h, made at build time from Debian's onnx.proto). */
#ifndef DAGL_ONNX_INT_H
#define DAGL_ONNX_INT_H

#include "dagl.h"
#include "onnx.pb-c.h"

#include <stdatomic.h>
#include <stdbool.h>

/* The opsets of the default domain the importers are written for. */
#define OX_OPSET_MIN 7
#define OX_OPSET_MAX 17

/* The unpacked ModelProto, shared by the model and the tensors wrapped over its data (zero-copy
 * initializers): freed when the last of them lets go. */
typedef struct ox_proto {
    Onnx__ModelProto *model;
    atomic_int refs;
} ox_proto;

/* A graph input the caller feeds (initializers listed as inputs are not among them). */
typedef struct ox_input {
    const char *name;
    dagl_dtype dt;
    int ndim;
    int64_t shape[DAGL_MAX_DIMS]; /* -1: not fixed by the file */
} ox_input;

struct dagl_onnx_model {
    dagl_ctx *ctx;
    ox_proto *proto;
    const Onnx__GraphProto *graph;
    char *dir;                 /* the model's folder, for external data */
    int opset;
    int ninit;
    const char **init_names;   /* initializer i's name ... */
    dagl_tensor **inits;       /* ... and its tensor */
    int nin;
    ox_input *inputs;
};

/* A value of the ONNX graph while it is built: a constant known at load time (c) or a graph node
 * (id), of a dtype and the shape as stored. `nhwc` marks a 4-D value whose ONNX (logical) shape
 * is (N, C, H, W) stored as (N, H, W, C): dagl's convolutions and pools work on NHWC, so
 * activations stay so between them and are converted only where layout matters. */
typedef struct ox_value {
    dagl_tensor *c;      /* one reference, or NULL */
    int id;              /* the node, or -1 (a constant gets one when a node first uses it) */
    bool nhwc;
    dagl_dtype dt;
    int ndim;
    int64_t shape[DAGL_MAX_DIMS]; /* as stored */
    struct ox_value *plain, *as_nhwc; /* the other layout, once made */
    /* made by a Conv without groups: what BatchNormalization needs to fold into it */
    struct ox_value *conv_x;
    dagl_tensor *conv_k, *conv_bias;
    dagl_window2d conv_w;
} ox_value;

typedef struct ox_build {
    dagl_ctx *ctx;
    dagl_graph *g;
    const dagl_onnx_model *m;
    const Onnx__NodeProto *node;  /* the node being imported, for errors */
    ox_value **all;               /* every value made (freed at the end) */
    int nall, capall;
    const char **names;           /* the named values: open hashing over names */
    ox_value **named;
    int *uses;                    /* how many node inputs read each name slot */
    int hcap;
    dagl_status st;               /* the first error of the build */
} ox_build;

/* ---- builder (build.c) */
ox_value *ox_new(ox_build *b);
ox_value *ox_const(ox_build *b, dagl_tensor *t); /* takes t's reference */
ox_value *ox_lookup(ox_build *b, const char *name);
int ox_uses(ox_build *b, const char *name);
void ox_count_use(ox_build *b, const char *name);
dagl_status ox_bind(ox_build *b, const char *name, ox_value *v);
/* The node's input i (NULL when absent or named ""), its count of inputs and outputs. */
ox_value *ox_in(ox_build *b, int i);
int ox_nin(const ox_build *b);
int ox_nout(const ox_build *b);
dagl_status ox_out(ox_build *b, int i, ox_value *v);
/* An error on the current node: "onnx: <Op> node '<name>' (opset N): <text>". */
/* The most elements of a table the importers make at build time from a shape (negative-step slice
 * indices, per-channel constants): larger ones come from corrupt files, and are refused before
 * anything is allocated for them. */
#define OX_INDEX_MAX ((int64_t)1 << 24)

dagl_status ox_fail(ox_build *b, dagl_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An error naming one attribute of the current node and its value. */
dagl_status ox_bad_attr(ox_build *b, const char *attr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The error of a failed dagl call, prefixed with the node. */
dagl_status ox_wrap(ox_build *b, dagl_status st);

/* op on srcs as stored: folded (run now) when every source is a constant, else a graph node. */
ox_value *ox_op(ox_build *b, dagl_op op, int n, ox_value *const *srcs, const dagl_node_params *p);
ox_value *ox_unary(ox_build *b, dagl_op op, ox_value *x);
ox_value *ox_binary(ox_build *b, dagl_op op, ox_value *x, ox_value *y);
ox_value *ox_scalar(ox_build *b, dagl_op op, ox_value *x, double s, int scalar_first);
ox_value *ox_reshape(ox_build *b, ox_value *x, int ndim, const int64_t *shape);
ox_value *ox_permute(ox_build *b, ox_value *x, const int *perm);
ox_value *ox_slice(ox_build *b, ox_value *x, int axis, int64_t start, int64_t stop, int64_t step);
ox_value *ox_concat(ox_build *b, int n, ox_value *const *xs, int axis);
ox_value *ox_full(ox_build *b, dagl_dtype dt, int ndim, const int64_t *shape, double v);
/* Elements idx (an int64 value, any shape) of x along axis, with the index dims in the axis's
 * place (ONNX's Gather); and an int64 constant of n indices (ops_index.c). */
ox_value *ox_gather_axis(ox_build *b, ox_value *x, ox_value *idx, int axis);
ox_value *ox_index_const(ox_build *b, const int64_t *v, int64_t n);
/* The value in ONNX's layout (NCHW for an nhwc value), or in NHWC (a 4-D value). */
ox_value *ox_plain(ox_build *b, ox_value *x);
ox_value *ox_nhwc(ox_build *b, ox_value *x);
/* A constant's values as int64 (the shape inputs of Reshape, Slice, ...); fails naming `what`
 * when the input is not a constant once shapes are folded. */
dagl_status ox_const_ints(ox_build *b, ox_value *v, const char *what, int64_t *out, int max, int *n);
/* A scalar constant's value (Clip's bounds). */
dagl_status ox_const_scalar(ox_build *b, ox_value *v, const char *what, double *out);
/* An axis of rank r (negative counts from the end), checked. */
dagl_status ox_axis(ox_build *b, const char *what, int64_t axis, int r, int *out);

/* ---- attributes (attr.c) */
const Onnx__AttributeProto *ox_attr(const ox_build *b, const char *name);
int64_t ox_attr_int(const ox_build *b, const char *name, int64_t dflt);
double ox_attr_float(const ox_build *b, const char *name, double dflt);
/* The string (NUL-terminated copy in buf) or dflt. */
const char *ox_attr_str(const ox_build *b, const char *name, const char *dflt, char *buf, size_t size);
/* ints attribute into out (at most max); *n = -1 when absent. */
dagl_status ox_attr_ints(ox_build *b, const char *name, int64_t *out, int max, int *n);
/* Fails on the first attribute of the node not among the space-separated names of `known`. */
dagl_status ox_attrs_known(ox_build *b, const char *known);

/* ---- tensors (tensor.c) */
/* A dagl tensor of a TensorProto's values: zero-copy over the proto's memory when its data is
 * already in dagl's layout (keeping `hold` alive), else converted; external data is read from
 * `dir`. `what` names it in errors. */
dagl_status ox_tensor_from_proto(dagl_ctx *ctx, const Onnx__TensorProto *tp, ox_proto *hold, const char *dir,
                                 const char *what, dagl_tensor **out);
/* dagl's dtype for an ONNX elem_type, or -1. */
int ox_dtype_of(int onnx_type);
const char *ox_type_name(int onnx_type);
void ox_proto_release(ox_proto *p);

/* ---- importers (ops_*.c) and their table (registry.c) */
typedef dagl_status (*ox_import_fn)(ox_build *b);
typedef struct ox_importer {
    const char *op;
    int since;         /* the first opset the op exists in (within OX_OPSET_MIN..OX_OPSET_MAX) */
    ox_import_fn fn;
    const char *attrs; /* the attributes it reads (space-separated); any other one is refused */
} ox_importer;
const ox_importer *ox_find_importer(const char *op);
/* The opset of the model (what the importers branch on). */
int ox_opset(const ox_build *b);

#define OX_DECL(name) dagl_status ox_import_##name(ox_build *b)
/* elementwise (ops_elementwise.c) */
OX_DECL(unary); OX_DECL(binary); OX_DECL(compare); OX_DECL(where); OX_DECL(activation); OX_DECL(clip);
/* linear algebra (ops_linear.c) */
OX_DECL(gemm); OX_DECL(matmul);
/* convolutions, pools and batch norm (ops_conv.c, ops_pool.c) */
OX_DECL(conv); OX_DECL(conv_transpose); OX_DECL(pool); OX_DECL(global_pool); OX_DECL(batchnorm);
/* shapes and data movement (ops_shape.c, ops_index.c) */
OX_DECL(identity); OX_DECL(flatten); OX_DECL(reshape); OX_DECL(transpose); OX_DECL(squeeze);
OX_DECL(unsqueeze); OX_DECL(shape); OX_DECL(constant); OX_DECL(constant_of_shape); OX_DECL(cast);
OX_DECL(expand); OX_DECL(concat); OX_DECL(pad); OX_DECL(split); OX_DECL(slice); OX_DECL(gather);
/* normalization, logic, tiling (ops_norm.c, ops_logic.c, ops_tile.c) */
OX_DECL(resize); OX_DECL(einsum); OX_DECL(layernorm); OX_DECL(instancenorm); OX_DECL(logic); OX_DECL(tile); OX_DECL(range);
/* reductions and softmax (ops_reduce.c) */
OX_DECL(reduce); OX_DECL(argmax); OX_DECL(softmax);

#endif
