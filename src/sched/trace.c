/* trace.c -- recording runs into a dagl_trace: node executions, lock holds and waits, and the
 * edges of each run's graph. The statistics and summary are in trace_stats.c, the writers of the
 * JSON and SVG files in trace_json.c and trace_svg.c. */
#include "graph/graph.h"
#include "sched/trace_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- small helpers */

/* Makes room for one more element of a growable array (doubling); false when out of memory. */
static bool grow(void **p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) return true;
    size_t ncap = *cap ? *cap * 2 : 64;
    if (ncap > ((size_t)-1) / elem) return false;
    void *q = realloc(*p, ncap * elem);
    if (!q) return false;
    *p = q;
    *cap = ncap;
    return true;
}

/* grow() for arrays counted with int. */
static bool grow_int(void **p, int *cap, int n, size_t elem)
{
    size_t c = (size_t)*cap;
    if (n >= 0x3fffffff || !grow(p, &c, (size_t)n, elem)) return false;
    *cap = (int)c;
    return true;
}

/* FNV-1a of a string, the hash of intern's open-addressing table. */
static uint32_t str_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Interns a name or label so events hold a small index and the text outlives the graph that
 * owned it; -1 when out of memory. Called with the mutex held. */
static int intern(dagl_trace *tr, const char *s)
{
    if (tr->nstr * 2 >= tr->cap_hash) { /* keep the table at most half full */
        int ncap = tr->cap_hash ? tr->cap_hash * 2 : 64;
        int *nh = calloc((size_t)ncap, sizeof *nh);
        if (!nh) return -1;
        for (int i = 0; i < tr->nstr; i++) {
            uint32_t k = str_hash(tr->str[i]) & (uint32_t)(ncap - 1);
            while (nh[k]) k = (k + 1) & (uint32_t)(ncap - 1);
            nh[k] = i + 1;
        }
        free(tr->str_hash);
        tr->str_hash = nh;
        tr->cap_hash = ncap;
    }
    uint32_t mask = (uint32_t)tr->cap_hash - 1, k = str_hash(s) & mask;
    for (; tr->str_hash[k]; k = (k + 1) & mask)
        if (strcmp(tr->str[tr->str_hash[k] - 1], s) == 0) return tr->str_hash[k] - 1;
    if (!grow_int((void **)&tr->str, &tr->cap_str, tr->nstr, sizeof *tr->str)) return -1;
    size_t len = strlen(s) + 1;
    char *copy = malloc(len);
    if (!copy) return -1;
    memcpy(copy, s, len);
    tr->str[tr->nstr] = copy;
    tr->str_hash[k] = tr->nstr + 1;
    return tr->nstr++;
}

/* Frees the arrays of one recorded DAG (the struct itself lives in tr->dags or on the stack). */
static void dag_free(trace_dag *d)
{
    free(d->src_start);
    free(d->src);
    free(d->is_op);
    free(d->order);
}

/* ---------------------------------------------------------------- lifetime */

/* A new, empty trace to hand to runs through dagl_run_options. */
dagl_status dagl_trace_new(dagl_trace **out)
{
    if (!out) return DAGL_E_ARG;
    *out = calloc(1, sizeof **out);
    if (!*out) return DAGL_E_NOMEM;
    if (pthread_mutex_init(&(*out)->mu, NULL)) {
        free(*out);
        *out = NULL;
        return DAGL_E_NOMEM;
    }
    return DAGL_OK;
}

/* Frees everything recorded; called with the mutex held or when nobody else can see the trace. */
static void release_all(dagl_trace *tr)
{
    free(tr->ev);
    free(tr->lk);
    free(tr->sp);
    free(tr->runs);
    for (int i = 0; i < tr->ndags; i++) dag_free(&tr->dags[i]);
    free(tr->dags);
    for (int i = 0; i < tr->nstr; i++) free(tr->str[i]);
    free(tr->str);
    free(tr->str_hash);
}

/* Ends a trace (no run may still be recording into it). */
void dagl_trace_free(dagl_trace *tr)
{
    if (!tr) return;
    release_all(tr);
    pthread_mutex_destroy(&tr->mu);
    free(tr);
}

/* Forgets every run so the trace can record afresh (dagl.trace_start reuses one). */
void dagl_trace_clear(dagl_trace *tr)
{
    if (!tr) return;
    pthread_mutex_lock(&tr->mu);
    release_all(tr);
    pthread_mutex_t mu = tr->mu;
    memset(tr, 0, sizeof *tr);
    tr->mu = mu;
    pthread_mutex_unlock(&tr->mu);
}

/* ---------------------------------------------------------------- recording */

/* Whether node i of g is an op a run executes: dead nodes (absorbed by fusion, or feeding no
 * output) count in no width or path. */
static bool runs_op(const struct dagl_graph *g, int i)
{
    return g->nodes[i].kind == NODE_OP && (!g->live || g->live[i]);
}

/* Whether a kept DAG has exactly the edges of graph g (then a run can share it). */
static bool dag_matches(const trace_dag *d, const struct dagl_graph *g)
{
    if (d->n != g->n) return false;
    for (int i = 0; i < g->n; i++) {
        const dagl_node *nd = &g->nodes[i];
        if (d->is_op[i] != runs_op(g, i) || d->src_start[i + 1] - d->src_start[i] != nd->nsrc ||
            memcmp(&d->src[d->src_start[i]], nd->src, sizeof(int) * (size_t)nd->nsrc))
            return false;
    }
    return true;
}

/* Derives the topological order and the width of a DAG once, so statistics over many runs of
 * the same graph stay cheap. False when out of memory. */
static bool dag_derive(trace_dag *d)
{
    int n = d->n, ne = d->src_start[n];
    int *indeg = calloc((size_t)n + 1, sizeof *indeg), *cstart = calloc((size_t)n + 1, sizeof *cstart);
    int *cons = malloc(sizeof *cons * ((size_t)ne + 1)), *depth = calloc((size_t)n + 1, sizeof *depth);
    int *atdepth = calloc((size_t)n + 2, sizeof *atdepth);
    d->order = malloc(sizeof *d->order * ((size_t)n + 1));
    bool ok = indeg && cstart && cons && depth && atdepth && d->order;
    if (ok) {
        for (int e = 0; e < ne; e++) cstart[d->src[e]]++;
        for (int i = 0, sum = 0; i <= n; i++) { /* counts -> end offsets, filled backwards below */
            sum += i < n ? cstart[i] : 0;
            cstart[i] = sum;
        }
        for (int v = 0; v < n; v++)
            for (int e = d->src_start[v]; e < d->src_start[v + 1]; e++) {
                cons[--cstart[d->src[e]]] = v;
                indeg[v]++;
            }
        cstart[n] = ne;
        int head = 0, tail = 0;
        for (int v = 0; v < n; v++)
            if (!indeg[v]) d->order[tail++] = v;
        while (head < tail) {
            int v = d->order[head++];
            for (int c = cstart[v]; c < cstart[v + 1]; c++)
                if (--indeg[cons[c]] == 0) d->order[tail++] = cons[c];
        }
        for (int v = 0; v < n && tail < n; v++) /* a cycle (never in a dagl graph): keep all nodes */
            if (indeg[v] > 0) d->order[tail++] = v;
        d->width = 0;
        for (int i = 0; i < n; i++) {
            int v = d->order[i], dep = 0;
            for (int e = d->src_start[v]; e < d->src_start[v + 1]; e++)
                if (depth[d->src[e]] > dep) dep = depth[d->src[e]];
            depth[v] = dep + (d->is_op[v] ? 1 : 0);
            if (depth[v] > n) depth[v] = n;
            if (d->is_op[v] && ++atdepth[depth[v]] > d->width) d->width = atdepth[depth[v]];
        }
    }
    free(indeg);
    free(cstart);
    free(cons);
    free(depth);
    free(atdepth);
    return ok;
}

/* Keeps the edges of graph g (or finds an identical kept copy); its index, -1 when out of memory. */
static int keep_dag(dagl_trace *tr, const struct dagl_graph *g)
{
    for (int i = tr->ndags - 1; i >= 0 && i >= tr->ndags - 4; i--)
        if (dag_matches(&tr->dags[i], g)) return i;
    if (!grow_int((void **)&tr->dags, &tr->cap_dags, tr->ndags, sizeof *tr->dags)) return -1;
    trace_dag d = {.n = g->n};
    int ne = 0;
    for (int i = 0; i < g->n; i++) ne += g->nodes[i].nsrc;
    d.src_start = malloc(sizeof *d.src_start * ((size_t)g->n + 1));
    d.src = malloc(sizeof *d.src * ((size_t)ne + 1));
    d.is_op = malloc((size_t)g->n + 1);
    if (!d.src_start || !d.src || !d.is_op) {
        dag_free(&d);
        return -1;
    }
    d.src_start[0] = 0;
    for (int i = 0; i < g->n; i++) {
        const dagl_node *nd = &g->nodes[i];
        d.is_op[i] = runs_op(g, i);
        memcpy(&d.src[d.src_start[i]], nd->src, sizeof(int) * (size_t)nd->nsrc);
        d.src_start[i + 1] = d.src_start[i] + nd->nsrc;
    }
    if (!dag_derive(&d)) {
        dag_free(&d);
        return -1;
    }
    tr->dags[tr->ndags] = d;
    return tr->ndags++;
}

/* Opens a run: keeps the graph's edges so the critical path and width can be computed after the
 * graph is gone. Returns the run number (-1 when even that could not be kept). */
int dagl__trace_begin_run(dagl_trace *tr, const struct dagl_graph *g)
{
    pthread_mutex_lock(&tr->mu);
    int run = -1;
    if (grow_int((void **)&tr->runs, &tr->cap_runs, tr->nruns, sizeof *tr->runs)) {
        int dag = g ? keep_dag(tr, g) : -1;
        if (g && dag < 0) tr->dropped++;
        tr->runs[tr->nruns].dag = dag;
        run = tr->nruns++;
    } else {
        tr->dropped++;
    }
    pthread_mutex_unlock(&tr->mu);
    return run;
}

/* Records one node execution; dropped (and counted) when out of memory. */
void dagl__trace_node(dagl_trace *tr, int run, int worker, int node, const char *name, const char *label,
                      int64_t t0, int64_t t1, dagl_sched_how how)
{
    pthread_mutex_lock(&tr->mu);
    int in = intern(tr, name ? name : "?"), il = label ? intern(tr, label) : -1;
    if (in < 0 || (label && il < 0) || !grow((void **)&tr->ev, &tr->cap_ev, tr->nev, sizeof *tr->ev))
        tr->dropped++;
    else
        tr->ev[tr->nev++] = (trace_node_ev){.t0 = t0, .t1 = t1 < t0 ? t0 : t1, .run = run,
                                            .worker = worker < 0 ? 0 : worker, .node = node, .name = in,
                                            .label = il, .how = (unsigned char)how};
    pthread_mutex_unlock(&tr->mu);
}

/* Records a hold of the lock or a wait for it (a DAGL_TRACE_ kind). */
void dagl__trace_lock(dagl_trace *tr, int run, int worker, int kind, int64_t t0, int64_t t1)
{
    pthread_mutex_lock(&tr->mu);
    if (!grow((void **)&tr->lk, &tr->cap_lk, tr->nlk, sizeof *tr->lk))
        tr->dropped++;
    else
        tr->lk[tr->nlk++] = (trace_lock_ev){.t0 = t0, .t1 = t1 < t0 ? t0 : t1, .run = run,
                                            .worker = worker < 0 ? 0 : worker, .kind = kind};
    pthread_mutex_unlock(&tr->mu);
}

/* A span of outside work on lane `lane` (a communication thread's collectives), so the picture
 * shows it beside the workers. */
void dagl_trace_span(dagl_trace *tr, const char *lane, const char *name, int64_t t0_ns, int64_t t1_ns)
{
    if (!tr) return;
    pthread_mutex_lock(&tr->mu);
    int il = intern(tr, lane ? lane : "?"), in = intern(tr, name ? name : "?");
    if (il < 0 || in < 0 || !grow((void **)&tr->sp, &tr->cap_sp, tr->nsp, sizeof *tr->sp))
        tr->dropped++;
    else
        tr->sp[tr->nsp++] = (trace_span_ev){.t0 = t0_ns, .t1 = t1_ns < t0_ns ? t0_ns : t1_ns, .lane = il, .name = in};
    pthread_mutex_unlock(&tr->mu);
}

int64_t dagl_trace_now_ns(void) { return dagl__now_ns(); }
