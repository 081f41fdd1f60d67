/* trace.c -- recording runs into a dagl_trace (node executions, lock holds and waits, the edges of
 * each run's graph) and the statistics and text summary computed from them. The writers of the
 * JSON and SVG files are trace_json.c and trace_svg.c. */
#include "graph/graph.h"
#include "sched/trace_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- small helpers */

/* Every timestamp of the trace, so they compare across threads: CLOCK_MONOTONIC in ns. */
int64_t dagl__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

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

/* Whether a kept DAG has exactly the edges of graph g (then a run can share it). */
static bool dag_matches(const trace_dag *d, const struct dagl_graph *g)
{
    if (d->n != g->n) return false;
    for (int i = 0; i < g->n; i++) {
        const dagl_node *nd = &g->nodes[i];
        if (d->is_op[i] != (nd->kind == NODE_OP) || d->src_start[i + 1] - d->src_start[i] != nd->nsrc ||
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
        d.is_op[i] = nd->kind == NODE_OP;
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

/* Records a hold of the lock (kind 0) or a wait for it (kind 1). */
void dagl__trace_lock(dagl_trace *tr, int run, int worker, int kind, int64_t t0, int64_t t1)
{
    pthread_mutex_lock(&tr->mu);
    if (!grow((void **)&tr->lk, &tr->cap_lk, tr->nlk, sizeof *tr->lk))
        tr->dropped++;
    else
        tr->lk[tr->nlk++] = (trace_lock_ev){.t0 = t0, .t1 = t1 < t0 ? t0 : t1, .run = run,
                                            .worker = worker < 0 ? 0 : worker, .kind = kind ? 1 : 0};
    pthread_mutex_unlock(&tr->mu);
}

/* ---------------------------------------------------------------- statistics */

typedef struct span {
    int64_t t0, t1;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->t0 < y->t0 ? -1 : x->t0 > y->t0;
}

/* Sum over runs of (first start to last end), counting time where runs overlap (runs from
 * several threads at once) only once. Fills the per-run-slot spans it is given. */
static int64_t wall_ns(span *sp, int nslots)
{
    int k = 0;
    for (int i = 0; i < nslots; i++)
        if (sp[i].t1 >= sp[i].t0) sp[k++] = sp[i];
    qsort(sp, (size_t)k, sizeof *sp, span_cmp);
    int64_t sum = 0, cur0 = 0, cur1 = 0;
    for (int i = 0; i < k; i++) {
        if (i == 0 || sp[i].t0 > cur1) {
            sum += i ? cur1 - cur0 : 0;
            cur0 = sp[i].t0;
            cur1 = sp[i].t1;
        } else if (sp[i].t1 > cur1) {
            cur1 = sp[i].t1;
        }
    }
    return k ? sum + cur1 - cur0 : 0;
}

/* Critical path of each run (longest chain of its DAG by measured durations), summed; runs whose
 * edges were not kept count their longest node. `slot` maps events to runs (nruns = unknown). */
static int64_t critical_ns(const dagl_trace *tr, int nslots)
{
    int maxn = 0;
    for (int i = 0; i < tr->ndags; i++)
        if (tr->dags[i].n > maxn) maxn = tr->dags[i].n;
    size_t nev = tr->nev;
    int *start = calloc((size_t)nslots + 1, sizeof *start), *idx = malloc(sizeof *idx * (nev + 1));
    int64_t *dur = calloc((size_t)maxn + 1, sizeof *dur), *fin = malloc(sizeof *fin * ((size_t)maxn + 1));
    int64_t total = 0;
    if (start && idx && dur && fin) {
        for (size_t i = 0; i < nev; i++) { /* counting sort of the events by run */
            int r = tr->ev[i].run;
            start[r >= 0 && r < tr->nruns ? r : tr->nruns]++;
        }
        for (int s = 0, sum = 0; s < nslots; s++) {
            sum += start[s];
            start[s] = sum - start[s];
        }
        start[nslots] = (int)nev;
        int *fill = calloc((size_t)nslots, sizeof *fill);
        if (!fill) goto out;
        for (size_t i = 0; i < nev; i++) {
            int r = tr->ev[i].run, s = r >= 0 && r < tr->nruns ? r : tr->nruns;
            idx[start[s] + fill[s]++] = (int)i;
        }
        free(fill);
        for (int s = 0; s < nslots; s++) {
            const trace_dag *d = s < tr->nruns && tr->runs[s].dag >= 0 ? &tr->dags[tr->runs[s].dag] : NULL;
            int64_t cp = 0;
            for (int j = start[s]; j < start[s + 1]; j++) {
                const trace_node_ev *e = &tr->ev[idx[j]];
                if (d && e->node >= 0 && e->node < d->n)
                    dur[e->node] += e->t1 - e->t0;
                else if (e->t1 - e->t0 > cp)
                    cp = e->t1 - e->t0;
            }
            if (d) {
                for (int i = 0; i < d->n; i++) {
                    int v = d->order[i];
                    int64_t m = 0;
                    for (int k = d->src_start[v]; k < d->src_start[v + 1]; k++)
                        if (fin[d->src[k]] > m) m = fin[d->src[k]];
                    fin[v] = m + dur[v];
                    if (fin[v] > cp) cp = fin[v];
                }
                memset(dur, 0, sizeof *dur * (size_t)d->n);
            }
            total += cp;
        }
    }
out:
    free(start);
    free(idx);
    free(dur);
    free(fin);
    return total;
}

/* All statistics, computed from the events with tr->mu held by the caller. */
void dagl__trace_stats_locked(const dagl_trace *tr, trace_full_stats *out)
{
    memset(out, 0, sizeof *out);
    dagl_trace_stats *p = &out->pub;
    int nslots = tr->nruns + 1; /* the last slot gathers events of unknown runs */
    span *sp = malloc(sizeof *sp * (size_t)nslots);
    for (int s = 0; sp && s < nslots; s++) sp[s] = (span){INT64_MAX, INT64_MIN};
    int64_t work = 0, lo = INT64_MAX, hi = INT64_MIN;
    int maxw = -1;
    for (size_t i = 0; i < tr->nev; i++) {
        const trace_node_ev *e = &tr->ev[i];
        int s = e->run >= 0 && e->run < tr->nruns ? e->run : tr->nruns;
        work += e->t1 - e->t0;
        if (sp && e->t0 < sp[s].t0) sp[s].t0 = e->t0;
        if (sp && e->t1 > sp[s].t1) sp[s].t1 = e->t1;
        if (e->t0 < lo) lo = e->t0;
        if (e->t1 > hi) hi = e->t1;
        if (e->worker > maxw) maxw = e->worker;
        if (e->how < DAGL_SCHED_HOW_COUNT) out->how[e->how]++;
    }
    int64_t hold = 0, wait = 0;
    for (size_t i = 0; i < tr->nlk; i++) {
        const trace_lock_ev *e = &tr->lk[i];
        if (e->kind) {
            wait += e->t1 - e->t0;
            p->lock_waits++;
        } else {
            hold += e->t1 - e->t0;
        }
        if (e->t0 < lo) lo = e->t0;
        if (e->t1 > hi) hi = e->t1;
    }
    if (maxw >= 0) {
        unsigned char *seen = calloc((size_t)maxw + 1, 1);
        for (size_t i = 0; seen && i < tr->nev; i++) seen[tr->ev[i].worker] = 1;
        for (int w = 0; seen && w <= maxw; w++) p->workers_used += seen[w];
        free(seen);
    }
    int64_t wall = sp ? wall_ns(sp, nslots) : (tr->nev ? hi - lo : 0);
    free(sp);
    for (int r = 0; r < tr->nruns; r++)
        if (tr->runs[r].dag >= 0 && tr->dags[tr->runs[r].dag].width > p->dag_width)
            p->dag_width = tr->dags[tr->runs[r].dag].width;
    p->nodes = (int)tr->nev;
    p->wall_seconds = (double)wall * 1e-9;
    p->work_seconds = (double)work * 1e-9;
    p->parallelism = wall > 0 ? (double)work / (double)wall : 0;
    p->critical_path_seconds = (double)critical_ns(tr, nslots) * 1e-9;
    p->lock_hold_seconds = (double)hold * 1e-9;
    p->lock_wait_seconds = (double)wait * 1e-9;
    p->lock_serialized_fraction = wall > 0 ? (double)hold / (double)wall : 0;
    p->steals = out->how[DAGL_SCHED_STOLEN];
    p->inline_runs = out->how[DAGL_SCHED_INLINE];
    out->runs = tr->nruns;
    out->dropped = tr->dropped;
    out->origin = lo <= hi ? lo : 0;
    out->end = lo <= hi ? hi : 0;
}

/* Public statistics over every recorded run. */
void dagl_trace_get_stats(const dagl_trace *tr, dagl_trace_stats *out)
{
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!tr) return;
    trace_full_stats fs;
    pthread_mutex_lock(&trace_mut(tr)->mu);
    dagl__trace_stats_locked(tr, &fs);
    pthread_mutex_unlock(&trace_mut(tr)->mu);
    *out = fs.pub;
}

/* ---------------------------------------------------------------- text */

/* A duration for people: microseconds below 1 ms, milliseconds with sensible digits above. */
static const char *fmt_time(double s, char *buf, size_t size)
{
    double ms = s * 1e3;
    if (s <= 0) snprintf(buf, size, "0 ms");
    else if (ms < 1) snprintf(buf, size, "%.1f us", ms * 1e3);
    else if (ms < 10) snprintf(buf, size, "%.2f ms", ms);
    else snprintf(buf, size, "%.1f ms", ms);
    return buf;
}

/* The summary under the caller's hold of the mutex (also printed below the SVG timeline). */
char *dagl__trace_summary_locked(const dagl_trace *tr)
{
    trace_full_stats fs;
    dagl__trace_stats_locked(tr, &fs);
    const dagl_trace_stats *p = &fs.pub;
    char wall[32], work[32], cp[32], hold[32], wait[32], runs[32] = "";
    if (fs.runs != 1) snprintf(runs, sizeof runs, " in %d runs", fs.runs);
    size_t size = 1024;
    char *s = malloc(size);
    if (!s) return NULL;
    int len = snprintf(s, size,
                       "run summary: %d nodes%s on %d worker%s\n"
                       "  wall %s, work %s, parallelism %.2fx\n"
                       "  critical path %s, DAG width %d\n"
                       "  lock: held %s (%.1f%% of wall), %lld waits (%s)\n"
                       "  scheduling: %lld inline, %lld queued, %lld stolen, %lld parked\n",
                       p->nodes, runs, p->workers_used, p->workers_used == 1 ? "" : "s",
                       fmt_time(p->wall_seconds, wall, sizeof wall), fmt_time(p->work_seconds, work, sizeof work),
                       p->parallelism, fmt_time(p->critical_path_seconds, cp, sizeof cp), p->dag_width,
                       fmt_time(p->lock_hold_seconds, hold, sizeof hold), p->lock_serialized_fraction * 100,
                       p->lock_waits, fmt_time(p->lock_wait_seconds, wait, sizeof wait),
                       fs.how[DAGL_SCHED_INLINE], fs.how[DAGL_SCHED_QUEUED], fs.how[DAGL_SCHED_STOLEN],
                       fs.how[DAGL_SCHED_PARKED]);
    if (len > 0 && fs.dropped && (size_t)len < size)
        snprintf(s + len, size - (size_t)len, "  (%lld events dropped: out of memory)\n", fs.dropped);
    return s;
}

/* A few lines a person reads after a run (dagl.trace_stop prints it). */
char *dagl_trace_summary(const dagl_trace *tr)
{
    if (!tr) return NULL;
    pthread_mutex_lock(&trace_mut(tr)->mu);
    char *s = dagl__trace_summary_locked(tr);
    pthread_mutex_unlock(&trace_mut(tr)->mu);
    return s;
}

/* Shared by both writers so a node is called the same in Perfetto and in the SVG. */
void dagl__trace_ev_name(const dagl_trace *tr, const trace_node_ev *e, char *buf, size_t size)
{
    const char *name = e->name >= 0 ? tr->str[e->name] : "?";
    if (e->label >= 0) snprintf(buf, size, "%s/%s", tr->str[e->label], name);
    else snprintf(buf, size, "%s", name);
}

/* Shared by both writers: closes the file and turns any write error on the way into DAGL_E_IO. */
dagl_status dagl__trace_close(FILE *f)
{
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0) bad = true;
    return bad ? DAGL_E_IO : DAGL_OK;
}
