/* trace_stats.c -- what a dagl_trace says about its runs: wall and work time, parallelism, the
 * critical path and width of the DAG, lock time and how nodes were scheduled; as numbers and as
 * the few lines of text people read after a run. */
#include "sched/trace_impl.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- statistics */

typedef struct span {
    int64_t t0, t1;
} span;

/* qsort order of wall_ns: spans by start time. */
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
 * edges were not kept count their longest node. Slot nruns gathers events of unknown runs. */
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
                if (e->how == DAGL_SCHED_SHARE) continue; /* within its node's own time */
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

/* qsort order of handoffs: lock holds by start time. */
static int hold_cmp(const void *a, const void *b)
{
    const trace_lock_ev *x = *(const trace_lock_ev *const *)a, *y = *(const trace_lock_ev *const *)b;
    return x->t0 < y->t0 ? -1 : x->t0 > y->t0;
}

/* How often the VM lock passed from one worker to another: holds in time order whose worker
 * differs from the previous hold's (0 when out of memory). */
static long long handoffs(const dagl_trace *tr)
{
    const trace_lock_ev **h = malloc(sizeof *h * (tr->nlk + 1));
    if (!h) return 0;
    size_t n = 0;
    for (size_t i = 0; i < tr->nlk; i++)
        if (!tr->lk[i].kind) h[n++] = &tr->lk[i];
    qsort(h, n, sizeof *h, hold_cmp);
    long long count = 0;
    for (size_t i = 1; i < n; i++) count += h[i]->worker != h[i - 1]->worker;
    free(h);
    return count;
}

/* qsort order of lock_waits_in_nodes: node events by worker, then by start time. */
static int lane_cmp(const void *a, const void *b)
{
    const trace_node_ev *x = *(const trace_node_ev *const *)a, *y = *(const trace_node_ev *const *)b;
    if (x->worker != y->worker) return x->worker < y->worker ? -1 : 1;
    return x->t0 < y->t0 ? -1 : x->t0 > y->t0;
}

/* Node time spent blocked on the VM lock: a Lua node handing the lock over at a switch interval
 * (or re-taking it after a C call) waits inside its own span, and that wait is not work; without
 * taking it out, spinning Lua nodes that take turns under one lock would read as parallel. Each
 * blocked wait is matched to the node that started last before it on the same worker (0 when
 * out of memory). */
static int64_t lock_waits_in_nodes(const dagl_trace *tr)
{
    size_t nwaits = 0;
    for (size_t i = 0; i < tr->nlk; i++) nwaits += tr->lk[i].kind == DAGL_TRACE_WAIT;
    if (nwaits == 0) return 0; /* no thread blocked (no Lua nodes, say): no sort of the node events */
    const trace_node_ev **lane = malloc(sizeof *lane * (tr->nev + 1));
    if (!lane) return 0;
    size_t n = 0;
    for (size_t i = 0; i < tr->nev; i++)
        if (tr->ev[i].how != DAGL_SCHED_SHARE) lane[n++] = &tr->ev[i];
    qsort(lane, n, sizeof *lane, lane_cmp);
    int64_t total = 0;
    for (size_t i = 0; i < tr->nlk; i++) {
        const trace_lock_ev *w = &tr->lk[i];
        if (w->kind != DAGL_TRACE_WAIT) continue; /* a parked node's wait was before it started */
        size_t lo = 0, hi = n; /* the first node after (worker, t0) */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            const trace_node_ev *e = lane[mid];
            if (e->worker < w->worker || (e->worker == w->worker && e->t0 <= w->t0)) lo = mid + 1;
            else hi = mid;
        }
        if (lo == 0 || lane[lo - 1]->worker != w->worker) continue;
        const trace_node_ev *e = lane[lo - 1];
        int64_t t1 = e->t1 < w->t1 ? e->t1 : w->t1;
        if (t1 > w->t0) total += t1 - w->t0;
    }
    free(lane);
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
    for (size_t i = 0; i < tr->nsp; i++) { /* spans count for the time axis only */
        if (tr->sp[i].t0 < lo) lo = tr->sp[i].t0;
        if (tr->sp[i].t1 > hi) hi = tr->sp[i].t1;
    }
    if (maxw >= 0) {
        unsigned char *seen = calloc((size_t)maxw + 1, 1);
        for (size_t i = 0; seen && i < tr->nev; i++) seen[tr->ev[i].worker] = 1;
        for (int w = 0; seen && w <= maxw; w++) p->workers_used += seen[w];
        free(seen);
    }
    work -= lock_waits_in_nodes(tr);
    int64_t wall = sp ? wall_ns(sp, nslots) : (tr->nev ? hi - lo : 0);
    free(sp);
    for (int r = 0; r < tr->nruns; r++)
        if (tr->runs[r].dag >= 0 && tr->dags[tr->runs[r].dag].width > p->dag_width)
            p->dag_width = tr->dags[tr->runs[r].dag].width;
    p->shares = out->how[DAGL_SCHED_SHARE];
    p->nodes = (int)(tr->nev - (size_t)p->shares);
    p->wall_seconds = (double)wall * 1e-9;
    p->work_seconds = (double)work * 1e-9;
    p->parallelism = wall > 0 ? (double)work / (double)wall : 0;
    p->critical_path_seconds = (double)critical_ns(tr, nslots) * 1e-9;
    p->lock_hold_seconds = (double)hold * 1e-9;
    p->lock_wait_seconds = (double)wait * 1e-9;
    p->lock_serialized_fraction = wall > 0 ? (double)hold / (double)wall : 0;
    p->lock_handoffs = handoffs(tr);
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
                       "  lock: held %s (%.1f%% of wall), %lld waits (%s), %lld handoffs\n"
                       "  scheduling: %lld inline, %lld queued, %lld stolen, %lld parked; %lld kernel shares run "
                       "by other workers\n",
                       p->nodes, runs, p->workers_used, p->workers_used == 1 ? "" : "s",
                       fmt_time(p->wall_seconds, wall, sizeof wall), fmt_time(p->work_seconds, work, sizeof work),
                       p->parallelism, fmt_time(p->critical_path_seconds, cp, sizeof cp), p->dag_width,
                       fmt_time(p->lock_hold_seconds, hold, sizeof hold), p->lock_serialized_fraction * 100,
                       p->lock_waits, fmt_time(p->lock_wait_seconds, wait, sizeof wait), p->lock_handoffs,
                       fs.how[DAGL_SCHED_INLINE], fs.how[DAGL_SCHED_QUEUED], fs.how[DAGL_SCHED_STOLEN],
                       fs.how[DAGL_SCHED_PARKED], p->shares);
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

const char *dagl__trace_lock_verb(const trace_lock_ev *e)
{
    return e->kind == DAGL_TRACE_HOLD ? "held by" : e->kind == DAGL_TRACE_WAIT ? "wait of" : "parked node, then run by";
}

/* Shared by both writers: closes the file and turns any write error on the way into DAGL_E_IO. */
dagl_status dagl__trace_close(FILE *f)
{
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0) bad = true;
    return bad ? DAGL_E_IO : DAGL_OK;
}
