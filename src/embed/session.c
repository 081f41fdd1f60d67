/* session.c -- models (a Lua callable traced per input signature) and sessions (one caller's
 * inputs and outputs). Runs go straight to the compiled graph without the runtime's mutex or
 * the VM lock, so sessions on different threads run at the same time. */
#include "embed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IO 64

typedef struct compiled {
    char *key;       /* the input signature */
    dagl_graph *g;   /* owned by the Lua graph object anchored at ref */
    int ref;
} compiled;

struct dagl_model {
    dagl_runtime *rt;
    int fn_ref;          /* dagl.fn over the callable */
    pthread_mutex_t mu;  /* guards the compiled list (taken after the runtime's, never before) */
    compiled *c;
    int n, cap;
};

struct dagl_session {
    dagl_model *m;
    dagl_ctx *ctx;       /* this session's errors */
    dagl_tensor *in[MAX_IO];
    dagl_tensor *out[MAX_IO];
    int nout;
};

/* Wraps the callable on the stack top in dagl.fn, checking it can be called. */
static const char wrap_src[] =
    "local v, expr = ...\n"
    "local mt = getmetatable(v)\n"
    "if type(v) ~= 'function' and not (type(mt) == 'table' and mt.__call) then\n"
    "  error(('model_load: %s is a %s, not a function or callable model'):format(expr, type(v)), 0)\n"
    "end\n"
    "return dagl.fn(function(...) return v(...) end)\n";

dagl_status dagl_model_load(dagl_runtime *rt, const char *expr, dagl_model **out)
{
    if (!rt || !rt->L || !out) return DAGL_E_ARG;
    *out = NULL;
    if (!expr) return dagl__embed_error(rt, DAGL_E_ARG, "model_load: NULL expression");
    dagl_model *m = calloc(1, sizeof *m);
    if (!m) return dagl__embed_error(rt, DAGL_E_NOMEM, "model_load: out of memory");
    dagl__embed_enter(rt);
    lua_State *L = rt->L;
    dagl_status st = DAGL_OK;
    if (luaL_loadbuffer(L, wrap_src, sizeof wrap_src - 1, "=model_load") != LUA_OK) {
        st = dagl__embed_lua_error(rt, DAGL_E_ARG);
    } else {
        lua_pushfstring(L, "return (%s)", expr);
        if (luaL_loadbuffer(L, lua_tostring(L, -1), lua_rawlen(L, -1), "=model") != LUA_OK) {
            lua_remove(L, -2); /* the source text */
            lua_remove(L, -2); /* wrap */
            st = dagl__embed_lua_error(rt, DAGL_E_ARG);
        } else {
            lua_remove(L, -2);
            if (dagl__embed_pcall(L, 0, 1) != LUA_OK) { /* the expression's value */
                lua_remove(L, -2);
                st = dagl__embed_lua_error(rt, DAGL_E_ARG);
            } else {
                lua_pushstring(L, expr);
                if (dagl__embed_pcall(L, 2, 1) != LUA_OK) st = dagl__embed_lua_error(rt, DAGL_E_ARG);
                else m->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
            }
        }
    }
    dagl__embed_leave(rt);
    if (st) {
        free(m);
        return st;
    }
    m->rt = rt;
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return DAGL_OK;
}

/* Drops the model's registry references (its traced graphs and the wrapped callable) under the
 * runtime, since Lua owns those objects; free the model's sessions first. */
void dagl_model_free(dagl_model *m)
{
    if (!m) return;
    dagl__embed_enter(m->rt);
    for (int i = 0; i < m->n; i++) {
        luaL_unref(m->rt->L, LUA_REGISTRYINDEX, m->c[i].ref);
        free(m->c[i].key);
    }
    luaL_unref(m->rt->L, LUA_REGISTRYINDEX, m->fn_ref);
    dagl__embed_leave(m->rt);
    pthread_mutex_destroy(&m->mu);
    free(m->c);
    free(m);
}

int dagl_model_num_traces(const dagl_model *m) { return m ? m->n : 0; }

/* "float32[2,3];int64[4]": the inputs' signature, the key of a compiled graph. */
static char *signature(dagl_tensor *const *in, int n)
{
    size_t cap = 64, len = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    s[0] = '\0';
    for (int i = 0; i < n; i++) {
        char shape[160], part[200];
        dagl_shape_str(dagl_tensor_ndim(in[i]), dagl_tensor_shape(in[i]), shape, sizeof shape);
        int k = snprintf(part, sizeof part, "%s%s%s", i ? ";" : "", dagl_dtype_name(dagl_tensor_dtype(in[i])), shape);
        if (len + (size_t)k + 1 > cap) {
            char *t = realloc(s, cap = (len + (size_t)k + 1) * 2);
            if (!t) return free(s), NULL;
            s = t;
        }
        memcpy(s + len, part, (size_t)k + 1);
        len += (size_t)k;
    }
    return s;
}

/* The graph traced for an input signature, or NULL; under the model's mutex, since sessions on
 * other threads may be adding one. */
static dagl_graph *lookup(dagl_model *m, const char *key)
{
    dagl_graph *g = NULL;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n && !g; i++)
        if (strcmp(m->c[i].key, key) == 0) g = m->c[i].g;
    pthread_mutex_unlock(&m->mu);
    return g;
}

/* Traces the model for these inputs under the runtime (Lua) and keeps the graph, prepared so
 * that concurrent runs only read it. Errors go to the session. */
static dagl_status compile(dagl_session *s, dagl_tensor *const *in, int n, char *key, dagl_graph **out)
{
    dagl_model *m = s->m;
    dagl_runtime *rt = m->rt;
    dagl__embed_enter(rt);
    dagl_status st = DAGL_OK;
    if ((*out = lookup(m, key))) goto done; /* another session traced it meanwhile */
    lua_State *L = rt->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, m->fn_ref);
    lua_getfield(L, -1, "graph");
    lua_insert(L, -2);
    for (int i = 0; i < n; i++) dagl_l_push_ref(L, in[i]);
    if (lua_pcall(L, n + 1, 1, 0) != LUA_OK) { /* the message alone: it names the op and shapes */
        dagl_ctx_set_error(s->ctx, DAGL_E_ARG, "model: tracing for inputs %s failed: %s", key, lua_tostring(L, -1));
        lua_pop(L, 1);
        st = DAGL_E_ARG;
        goto done;
    }
    dagl_graph *g = dagl_l_to_graph(L, -1);
    if (!g || (st = dagl_graph_prepare(g))) {
        if (!st) st = dagl_ctx_set_error(s->ctx, DAGL_E_ARG, "model: tracing for inputs %s gave no graph", key);
        else dagl_ctx_set_error(s->ctx, st, "%s", dagl_ctx_last_error(dagl_l_ctx(rt->ls)));
        lua_pop(L, 1);
        goto done;
    }
    pthread_mutex_lock(&m->mu);
    if (m->n == m->cap) {
        compiled *c = realloc(m->c, sizeof *c * (size_t)(m->cap = m->cap ? 2 * m->cap : 4));
        if (!c) {
            pthread_mutex_unlock(&m->mu);
            lua_pop(L, 1);
            st = dagl_ctx_set_error(s->ctx, DAGL_E_NOMEM, "model: out of memory");
            goto done;
        }
        m->c = c;
    }
    m->c[m->n++] = (compiled){key, g, luaL_ref(L, LUA_REGISTRYINDEX)};
    key = NULL; /* the list owns it */
    pthread_mutex_unlock(&m->mu);
    *out = g;
done:
    dagl__embed_leave(rt);
    free(key);
    return st;
}

dagl_status dagl_session_new(dagl_model *m, dagl_session **out)
{
    if (!m || !out) return DAGL_E_ARG;
    dagl_session *s = *out = calloc(1, sizeof *s);
    if (!s) return dagl__embed_error(m->rt, DAGL_E_NOMEM, "session_new: out of memory");
    s->m = m;
    dagl__embed_enter(m->rt); /* the runtime's context is Lua's: only under the runtime's lock */
    dagl_ctx *parent = dagl_l_ctx(m->rt->ls);
    dagl_status st = dagl_ctx_new_child(parent, &s->ctx);
    if (st) dagl__embed_error(m->rt, st, "session_new: %s", dagl_ctx_last_error(parent));
    dagl__embed_leave(m->rt);
    if (st) {
        free(s);
        *out = NULL;
    }
    return st;
}

/* Releases the last run's outputs, before a new run replaces them and when the session goes away. */
static void drop_outputs(dagl_session *s)
{
    for (int i = 0; i < s->nout; i++) dagl_tensor_release(s->out[i]);
    s->nout = 0;
}

/* Drops the session's outputs, inputs and child context; the model and its graphs stay. */
void dagl_session_free(dagl_session *s)
{
    if (!s) return;
    drop_outputs(s);
    for (int i = 0; i < MAX_IO; i++) dagl_tensor_release(s->in[i]);
    dagl_ctx_free(s->ctx);
    free(s);
}

dagl_status dagl_session_set_input_tensor(dagl_session *s, int i, dagl_tensor *t)
{
    if (!s) return DAGL_E_ARG;
    if (i < 0 || i >= MAX_IO || !t)
        return dagl_ctx_set_error(s->ctx, DAGL_E_ARG, "session_set_input: input %d %s", i,
                                  t ? "is out of range (0..63)" : "is NULL");
    dagl_tensor_retain(t);
    dagl_tensor_release(s->in[i]);
    s->in[i] = t;
    return DAGL_OK;
}

dagl_status dagl_session_set_input(dagl_session *s, int i, dagl_dtype dt, int ndim, const int64_t *shape,
                                   void *data)
{
    if (!s) return DAGL_E_ARG;
    if (!data) return dagl_ctx_set_error(s->ctx, DAGL_E_ARG, "session_set_input: input %d: data is NULL", i);
    dagl_tensor *t;
    dagl_status st = dagl_tensor_wrap(s->ctx, dt, ndim, shape, NULL, data, NULL, NULL, &t);
    if (st) return st;
    st = dagl_session_set_input_tensor(s, i, t);
    dagl_tensor_release(t);
    return st;
}

dagl_status dagl_session_run(dagl_session *s)
{
    if (!s) return DAGL_E_ARG;
    int n = 0;
    while (n < MAX_IO && s->in[n]) n++;
    if (n == 0) return dagl_ctx_set_error(s->ctx, DAGL_E_ARG, "session_run: no inputs set (input 0 is missing)");
    char *key = signature(s->in, n);
    if (!key) return dagl_ctx_set_error(s->ctx, DAGL_E_NOMEM, "session_run: out of memory");
    dagl_graph *g = lookup(s->m, key);
    dagl_status st = DAGL_OK;
    if (g) free(key);
    else if ((st = compile(s, s->in, n, key, &g))) return st;
    if (dagl_graph_num_outputs(g) > MAX_IO)
        return dagl_ctx_set_error(s->ctx, DAGL_E_ARG, "session_run: the model has %d outputs (at most %d)",
                                  dagl_graph_num_outputs(g), MAX_IO);
    drop_outputs(s);
    dagl_run_options opt = {.ctx = s->ctx, .unlocked = dagl_l_per_worker(s->m->rt->ls)};
    st = dagl_graph_run_ex(g, s->in, s->out, &opt);
    if (st == DAGL_OK) s->nout = dagl_graph_num_outputs(g);
    return st;
}

/* How many outputs dagl_session_output can hand out now (0 before the first run). */
int dagl_session_num_outputs(const dagl_session *s) { return s ? s->nout : 0; }

dagl_status dagl_session_output(dagl_session *s, int i, dagl_tensor **out)
{
    if (!s || !out) return DAGL_E_ARG;
    if (i < 0 || i >= s->nout)
        return dagl_ctx_set_error(s->ctx, DAGL_E_ARG, "session_output: output %d of %d (run the session first)", i,
                                  s->nout);
    *out = s->out[i];
    return DAGL_OK;
}

/* The buffer must hold exactly the output's own bytes (dagl_tensor_nbytes): an output that is a
 * view (x:narrow(...) of an input, say) shares a bigger block, which is never copied out. A view's
 * elements are gathered in row-major order straight into buf (no intermediate copy). */
dagl_status dagl_session_read_output(dagl_session *s, int i, void *buf, size_t nbytes)
{
    dagl_tensor *t;
    dagl_status st = dagl_session_output(s, i, &t);
    if (st) return st;
    size_t own = dagl_tensor_nbytes(t);
    if (!buf || nbytes != own) {
        char sh[160], given[64] = "is NULL";
        if (buf) snprintf(given, sizeof given, "has %zu bytes", nbytes);
        return dagl_ctx_set_error(s->ctx, DAGL_E_ARG, "session_read_output: output %d is %s %s (%zu bytes), buffer %s",
                                  i, dagl_dtype_name(dagl_tensor_dtype(t)),
                                  dagl_shape_str(dagl_tensor_ndim(t), dagl_tensor_shape(t), sh, sizeof sh), own, given);
    }
    if (dagl_tensor_is_contiguous(t)) {
        if (own) memcpy(buf, dagl_tensor_data(t), own);
        return DAGL_OK;
    }
    dagl_tensor *dst;
    if ((st = dagl_tensor_wrap(s->ctx, dagl_tensor_dtype(t), dagl_tensor_ndim(t), dagl_tensor_shape(t), NULL, buf, NULL,
                               NULL, &dst)))
        return st;
    st = dagl_copy_into(s->ctx, dst, t);
    dagl_tensor_release(dst);
    return st;
}

/* The session's own error text (its child context), so sessions on other threads do not overwrite
 * it. */
const char *dagl_session_last_error(const dagl_session *s) { return s ? dagl_ctx_last_error(s->ctx) : "no session"; }
