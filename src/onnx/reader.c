/* reader.c -- dagl_onnx_load: the file mapped and unpacked by protobuf-c, checked (opset, every
 * node's op has an importer), its initializers made tensors (zero-copy over the unpacked data)
 * and its inputs listed; plus the accessors of the loaded model. */
#include "onnx_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define S(x) ((x) ? (x) : "")

/* Maps the file and unpacks it: the mapping goes away at once, so the weights live in memory
 * once (protobuf-c's copy, which the initializer tensors then wrap). */
static dagl_status unpack_file(dagl_ctx *ctx, const char *path, Onnx__ModelProto **out)
{
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return dagl_ctx_set_error(ctx, DAGL_E_IO, "onnx: cannot open %s", path);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return dagl_ctx_set_error(ctx, DAGL_E_IO, "onnx: %s is not a regular file", path);
    }
    if (sb.st_size == 0) {
        close(fd);
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "onnx: %s is empty", path);
    }
    if (sb.st_size > INT32_MAX) {
        close(fd);
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT,
                                  "onnx: %s is %lld bytes, over protobuf's 2 GB limit (keep weights in external data)",
                                  path, (long long)sb.st_size);
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return dagl_ctx_set_error(ctx, DAGL_E_IO, "onnx: cannot map %s", path);
    *out = onnx__model_proto__unpack(NULL, (size_t)sb.st_size, p);
    munmap(p, (size_t)sb.st_size);
    if (!*out)
        return dagl_ctx_set_error(ctx, DAGL_E_FORMAT,
                                  "onnx: %s is not a valid ONNX model: the protobuf data is truncated or corrupt",
                                  path);
    return DAGL_OK;
}

/* The opset of the default domain, checked against what the importers cover. */
static dagl_status model_opset(dagl_ctx *ctx, const Onnx__ModelProto *mp, const char *path, int *out)
{
    *out = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (o && (!*S(o->domain) || !strcmp(o->domain, "ai.onnx"))) *out = (int)o->version;
    }
    if (*out < 0) *out = OX_OPSET_MIN; /* IR 3 files may omit it */
    if (*out < OX_OPSET_MIN || *out > OX_OPSET_MAX)
        return dagl_ctx_set_error(ctx, DAGL_E_ARG, "onnx: %s uses opset %d; dagl imports opsets %d to %d", path,
                                  *out, OX_OPSET_MIN, OX_OPSET_MAX);
    return DAGL_OK;
}

/* Every node's op must have an importer for the model's opset: refused here, before any build. */
static dagl_status check_ops(dagl_ctx *ctx, const Onnx__GraphProto *g, int opset)
{
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        const char *dom = S(n->domain);
        if (*dom && strcmp(dom, "ai.onnx"))
            return dagl_ctx_set_error(ctx, DAGL_E_ARG, "onnx: unsupported op %s of domain '%s' (node '%s', opset %d)",
                                      S(n->op_type), dom, S(n->name), opset);
        const ox_importer *imp = ox_find_importer(S(n->op_type));
        if (!imp)
            return dagl_ctx_set_error(ctx, DAGL_E_ARG, "onnx: unsupported op %s (node '%s', opset %d)", S(n->op_type),
                                      S(n->name), opset);
        if (opset < imp->since)
            return dagl_ctx_set_error(ctx, DAGL_E_ARG, "onnx: op %s (node '%s') needs opset %d, the model has %d",
                                      S(n->op_type), S(n->name), imp->since, opset);
        for (size_t k = 0; k < n->n_attribute; k++)
            if (!n->attribute[k] || !n->attribute[k]->name)
                return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "onnx: node '%s' (%s) has an attribute without a name",
                                          S(n->name), S(n->op_type));
    }
    return DAGL_OK;
}

/* qsort order of node pointers by name, for unique_node_names. */
static int by_name(const void *a, const void *b)
{
    return strcmp(S((*(const Onnx__NodeProto *const *)a)->name), S((*(const Onnx__NodeProto *const *)b)->name));
}

/* Node names, where given, must be unique: ONNX Runtime refuses a file with two nodes of one name,
 * and errors name nodes, so dagl refuses it too (found in dagl's own exports, now fixed). Sorted
 * once, so a model of many nodes costs n log n. */
static dagl_status unique_node_names(dagl_ctx *ctx, const Onnx__GraphProto *g)
{
    if (g->n_node < 2) return DAGL_OK;
    const Onnx__NodeProto **v = malloc(g->n_node * sizeof *v);
    if (!v) return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "onnx: out of memory");
    memcpy(v, g->node, g->n_node * sizeof *v);
    qsort(v, g->n_node, sizeof *v, by_name);
    const char *dup = NULL;
    for (size_t i = 1; i < g->n_node && !dup; i++)
        if (*S(v[i]->name) && !strcmp(S(v[i]->name), S(v[i - 1]->name))) dup = S(v[i]->name);
    free(v);
    if (!dup) return DAGL_OK;
    const Onnx__NodeProto *first = NULL, *second = NULL; /* the two in the file's order */
    for (size_t i = 0; i < g->n_node && !second; i++)
        if (!strcmp(S(g->node[i]->name), dup)) *(first ? &second : &first) = g->node[i];
    return dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "onnx: two nodes are named '%s' (%s and %s); node names must be unique",
                              dup, S(first->op_type), S(second->op_type));
}

/* Initializer tensors, in the graph's order. */
static dagl_status load_initializers(dagl_onnx_model *m)
{
    const Onnx__GraphProto *g = m->graph;
    m->inits = calloc(g->n_initializer + 1, sizeof *m->inits);
    m->init_names = calloc(g->n_initializer + 1, sizeof *m->init_names);
    if (!m->inits || !m->init_names) return dagl_ctx_set_error(m->ctx, DAGL_E_NOMEM, "onnx: out of memory");
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *tp = g->initializer[i];
        m->init_names[i] = S(tp->name);
        dagl_status st = ox_tensor_from_proto(m->ctx, tp, m->proto, m->dir, S(tp->name), &m->inits[i]);
        if (st) return st;
        m->ninit = (int)i + 1;
    }
    return DAGL_OK;
}

/* Whether name is an initializer (then it is no input to feed). */
static bool is_initializer(const dagl_onnx_model *m, const char *name)
{
    for (int i = 0; i < m->ninit; i++)
        if (!strcmp(m->init_names[i], name)) return true;
    return false;
}

/* The inputs to feed, with their dtype and declared shape (-1 where symbolic or missing). */
static dagl_status load_inputs(dagl_onnx_model *m)
{
    const Onnx__GraphProto *g = m->graph;
    m->inputs = calloc(g->n_input + 1, sizeof *m->inputs);
    if (!m->inputs) return dagl_ctx_set_error(m->ctx, DAGL_E_NOMEM, "onnx: out of memory");
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *vi = g->input[i];
        if (!vi || is_initializer(m, S(vi->name))) continue;
        ox_input *in = &m->inputs[m->nin];
        in->name = S(vi->name);
        const Onnx__TypeProto *tp = vi->type;
        if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
            return dagl_ctx_set_error(m->ctx, DAGL_E_ARG, "onnx: input '%s' is not a tensor", in->name);
        int et = tp->tensor_type->elem_type, dt = ox_dtype_of(et);
        if (dt < 0)
            return dagl_ctx_set_error(m->ctx, DAGL_E_DTYPE, "onnx: input '%s' has data type %s, not supported",
                                      in->name, ox_type_name(et));
        in->dt = (dagl_dtype)dt;
        const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
        in->ndim = sh ? (int)sh->n_dim : -1;
        if (in->ndim > DAGL_MAX_DIMS)
            return dagl_ctx_set_error(m->ctx, DAGL_E_ARG, "onnx: input '%s' has %d dims (at most %d)", in->name,
                                      in->ndim, DAGL_MAX_DIMS);
        for (int d = 0; d < in->ndim; d++) {
            const Onnx__TensorShapeProto__Dimension *dm = sh->dim[d];
            in->shape[d] = dm && dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                                   dm->dim_value >= 0 ? dm->dim_value : -1;
        }
        m->nin++;
    }
    return DAGL_OK;
}

/* The folder of path ("." for a bare name), malloc'ed. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = 0;
    }
    return d;
}

dagl_status dagl_onnx_load(dagl_ctx *ctx, const char *path, dagl_onnx_model **out)
{
    if (!ctx || !out) return DAGL_E_ARG;
    *out = NULL;
    if (!path) return dagl_ctx_set_error(ctx, DAGL_E_ARG, "onnx_load: NULL path");
    Onnx__ModelProto *mp;
    dagl_status st = unpack_file(ctx, path, &mp);
    if (st) return st;
    dagl_onnx_model *m = calloc(1, sizeof *m);
    ox_proto *hold = calloc(1, sizeof *hold);
    if (!m || !hold) {
        free(m), free(hold);
        onnx__model_proto__free_unpacked(mp, NULL);
        return dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "onnx: out of memory");
    }
    hold->model = mp;
    atomic_init(&hold->refs, 1);
    m->ctx = ctx;
    m->proto = hold;
    m->graph = mp->graph;
    if (!(m->dir = dir_of(path))) st = dagl_ctx_set_error(ctx, DAGL_E_NOMEM, "onnx: out of memory");
    else if (!mp->graph) st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "onnx: %s has no graph (not an ONNX model?)", path);
    else if (!(st = model_opset(ctx, mp, path, &m->opset)) && !(st = check_ops(ctx, mp->graph, m->opset)) &&
             !(st = unique_node_names(ctx, mp->graph)) &&
             !(st = load_initializers(m)))
        st = load_inputs(m);
    if (!st && mp->graph->n_output == 0) st = dagl_ctx_set_error(ctx, DAGL_E_FORMAT, "onnx: %s has no outputs", path);
    if (st) {
        dagl_onnx_free(m);
        return st;
    }
    *out = m;
    return DAGL_OK;
}

void dagl_onnx_free(dagl_onnx_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->ninit; i++) dagl_tensor_release(m->inits[i]);
    free(m->inits);
    free(m->init_names);
    free(m->inputs);
    free(m->dir);
    ox_proto_release(m->proto);
    free(m);
}

int dagl_onnx_num_inputs(const dagl_onnx_model *m) { return m ? m->nin : 0; }
int dagl_onnx_num_outputs(const dagl_onnx_model *m) { return m ? (int)m->graph->n_output : 0; }
int dagl_onnx_opset(const dagl_onnx_model *m) { return m ? m->opset : 0; }

dagl_status dagl_onnx_input_info(const dagl_onnx_model *m, int i, const char **name, dagl_dtype *dt, int *ndim,
                                 const int64_t **shape)
{
    if (!m || i < 0 || i >= m->nin) return DAGL_E_INDEX;
    if (name) *name = m->inputs[i].name;
    if (dt) *dt = m->inputs[i].dt;
    if (ndim) *ndim = m->inputs[i].ndim;
    if (shape) *shape = m->inputs[i].shape;
    return DAGL_OK;
}

const char *dagl_onnx_output_name(const dagl_onnx_model *m, int i)
{
    if (!m || i < 0 || (size_t)i >= m->graph->n_output || !m->graph->output[i]) return NULL;
    return S(m->graph->output[i]->name);
}
