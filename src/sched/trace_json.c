/* trace_json.c -- a dagl_trace as Chrome trace-event JSON, the format Perfetto (ui.perfetto.dev)
 * and chrome://tracing load: a lane per worker with a slice per node, a lane for the VM lock
 * holds, one for the waits and one with a slice per run. */
#include "sched/trace_impl.h"

#include <stdlib.h>
#include <string.h>

enum { TID_RUNS = 999, TID_LOCK = 1000, TID_WAITS = 1001, TID_SPANS = 2000 };

static const char *const how_names[DAGL_SCHED_HOW_COUNT] = {"inline", "queued", "stolen", "parked",
                                                                   "share"};

/* Writes s as a JSON string literal (quotes, backslashes and control characters escaped; UTF-8
 * passes through), so labels from user code cannot break the file. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

/* A lane's name and place in the list (the "M" metadata events Perfetto reads). */
static void lane(FILE *f, int tid, const char *name, int sort)
{
    fprintf(f, ",\n{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_name\",\"args\":{\"name\":", tid);
    json_str(f, name);
    fprintf(f, "}},\n{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":%d}}",
            tid, sort);
}

/* Microseconds since the trace's first event, the unit of "ts" and "dur". */
static double us(int64_t t, int64_t origin) { return (double)(t - origin) * 1e-3; }

/* Writes the whole document; the caller holds the trace's mutex. */
static void write_events(FILE *f, const dagl_trace *tr, const trace_full_stats *fs)
{
    int64_t o = fs->origin;
    fputs("{\"traceEvents\":[\n{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":\"dagl\"}}", f);
    /* lanes: every worker seen, then the runs and lock lanes */
    int maxw = -1;
    for (size_t i = 0; i < tr->nev; i++)
        if (tr->ev[i].worker > maxw) maxw = tr->ev[i].worker;
    for (size_t i = 0; i < tr->nlk; i++)
        if (tr->lk[i].worker > maxw) maxw = tr->lk[i].worker;
    unsigned char *seen = maxw >= 0 ? calloc((size_t)maxw + 1, 1) : NULL;
    for (size_t i = 0; seen && i < tr->nev; i++) seen[tr->ev[i].worker] = 1;
    for (size_t i = 0; seen && i < tr->nlk; i++) seen[tr->lk[i].worker] = 1;
    for (int w = 0; w <= maxw; w++) {
        if (seen && !seen[w]) continue;
        char name[48];
        snprintf(name, sizeof name, w == 0 ? "worker %d (caller)" : "worker %d", w);
        lane(f, w, name, w + 1);
    }
    free(seen);
    lane(f, TID_RUNS, "runs", 0);
    if (tr->nlk) {
        lane(f, TID_LOCK, "VM lock", 100000);
        lane(f, TID_WAITS, "VM lock waits", 100001);
    }
    /* a slice per run, from its first node start to its last node end */
    if (tr->nruns > 0) {
        int64_t *span = malloc(sizeof *span * 2 * (size_t)tr->nruns);
        for (int r = 0; span && r < tr->nruns; r++) span[2 * r] = INT64_MAX, span[2 * r + 1] = INT64_MIN;
        for (size_t i = 0; span && i < tr->nev; i++) {
            const trace_node_ev *e = &tr->ev[i];
            if (e->run < 0 || e->run >= tr->nruns) continue;
            if (e->t0 < span[2 * e->run]) span[2 * e->run] = e->t0;
            if (e->t1 > span[2 * e->run + 1]) span[2 * e->run + 1] = e->t1;
        }
        for (int r = 0; span && r < tr->nruns; r++)
            if (span[2 * r] <= span[2 * r + 1])
                fprintf(f, ",\n{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"name\":\"run %d\",\"ts\":%.3f,\"dur\":%.3f,"
                           "\"args\":{\"run\":%d}}",
                        TID_RUNS, r, us(span[2 * r], o), us(span[2 * r + 1], span[2 * r]), r);
        free(span);
    }
    for (size_t i = 0; i < tr->nev; i++) {
        const trace_node_ev *e = &tr->ev[i];
        char name[512];
        dagl__trace_ev_name(tr, e, name, sizeof name);
        fprintf(f, ",\n{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"name\":", e->worker);
        json_str(f, name);
        fprintf(f, ",\"cat\":\"%s\",\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"node\":%d,\"run\":%d,\"how\":\"%s\",\"layer\":",
                e->how == DAGL_SCHED_SHARE ? "share" : "node", us(e->t0, o), us(e->t1, e->t0), e->node, e->run,
                e->how < DAGL_SCHED_HOW_COUNT ? how_names[e->how] : "?");
        if (e->label >= 0) json_str(f, tr->str[e->label]);
        else fputs("null", f);
        fputs("}}", f);
    }
    /* span lanes (dagl_trace_span), one per lane name, numbered by its string index */
    unsigned char *lane_seen = tr->nstr ? calloc((size_t)tr->nstr, 1) : NULL;
    for (size_t i = 0; lane_seen && i < tr->nsp; i++) {
        const trace_span_ev *e = &tr->sp[i];
        if (!lane_seen[e->lane]) {
            lane_seen[e->lane] = 1;
            lane(f, TID_SPANS + e->lane, tr->str[e->lane], 200000 + e->lane);
        }
        fprintf(f, ",\n{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"name\":", TID_SPANS + e->lane);
        json_str(f, tr->str[e->name]);
        fprintf(f, ",\"cat\":\"span\",\"ts\":%.3f,\"dur\":%.3f}", us(e->t0, o), us(e->t1, e->t0));
    }
    free(lane_seen);
    for (size_t i = 0; i < tr->nlk; i++) {
        const trace_lock_ev *e = &tr->lk[i];
        fprintf(f, ",\n{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"name\":\"%s worker %d\",\"cat\":\"lock\",\"ts\":%.3f,"
                   "\"dur\":%.3f,\"args\":{\"worker\":%d,\"run\":%d}}",
                e->kind ? TID_WAITS : TID_LOCK, dagl__trace_lock_verb(e), e->worker, us(e->t0, o),
                us(e->t1, e->t0), e->worker, e->run);
    }
    /* origin_ns: the monotonic clock at ts 0, so the traces of several processes can be merged */
    fprintf(f, "\n],\n\"displayTimeUnit\":\"ms\",\"otherData\":{\"origin_ns\":%lld,\"summary\":", (long long)o);
    char *sum = dagl__trace_summary_locked(tr);
    json_str(f, sum ? sum : "");
    free(sum);
    fputs("}}\n", f);
}

/* The trace as a file for Perfetto; DAGL_E_IO when the file cannot be opened or written. */
dagl_status dagl_trace_write_json(const dagl_trace *tr, const char *path)
{
    if (!tr || !path) return DAGL_E_ARG;
    FILE *f = fopen(path, "w");
    if (!f) return DAGL_E_IO;
    trace_full_stats fs;
    pthread_mutex_lock(&trace_mut(tr)->mu);
    dagl__trace_stats_locked(tr, &fs);
    write_events(f, tr, &fs);
    pthread_mutex_unlock(&trace_mut(tr)->mu);
    return dagl__trace_close(f);
}
