/* trace_svg.c -- a dagl_trace as a standalone SVG timeline for a browser: a time axis in ms, a row
 * per worker and one for the VM lock, a bar per node colored by op (hover for details), a legend
 * and the text summary below. */
#include "sched/trace_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { WIDTH = 1400, LEFT = 150, RIGHT = 30, ROW_H = 26, ROW_GAP = 4, TOP = 86 };

static const char *const palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                                      "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6", "#d37295", "#8cd17d"};
#define NPAL ((int)(sizeof palette / sizeof palette[0]))
static const char *const how_names[DAGL_SCHED_HOW_COUNT] = {"inline", "queued", "stolen", "parked",
                                                                   "share"};

/* FNV-1a of an op name, stable from run to run, so an op keeps its color across traces (see assign_colors). */
static uint32_t name_hash(const char *name)
{
    uint32_t h = 2166136261u;
    for (; *name; name++) h = (h ^ (unsigned char)*name) * 16777619u;
    return h;
}

typedef struct named {
    uint32_t h;
    const char *s;
    int idx;
} named;

/* qsort order of assign_colors: by hash, then name, so collisions are settled the same way each time. */
static int named_cmp(const void *a, const void *b)
{
    const named *x = a, *y = b;
    return x->h != y->h ? (x->h < y->h ? -1 : 1) : strcmp(x->s, y->s);
}

/* The palette entry of each op name that ran (-1 for strings that are not): its stable hash, so
 * an op keeps its color across traces, moved to a free entry when two ops of this trace collide
 * (while the palette lasts). NULL when out of memory. */
static int *assign_colors(const dagl_trace *tr)
{
    int *color = malloc(sizeof *color * ((size_t)tr->nstr + 1));
    named *nm = malloc(sizeof *nm * ((size_t)tr->nstr + 1));
    if (!color || !nm) {
        free(color);
        free(nm);
        return NULL;
    }
    for (int s = 0; s < tr->nstr; s++) color[s] = -1;
    for (size_t i = 0; i < tr->nev; i++)
        if (tr->ev[i].name >= 0) color[tr->ev[i].name] = 0;
    int n = 0;
    for (int s = 0; s < tr->nstr; s++)
        if (color[s] == 0) nm[n++] = (named){name_hash(tr->str[s]), tr->str[s], s};
    qsort(nm, (size_t)n, sizeof *nm, named_cmp);
    bool taken[NPAL] = {false};
    for (int i = 0; i < n; i++) {
        int c = (int)(nm[i].h % (uint32_t)NPAL);
        for (int k = 0; k < NPAL && i < NPAL && taken[c]; k++) c = (c + 1) % NPAL;
        taken[c] = true;
        color[nm[i].idx] = c;
    }
    free(nm);
    return color;
}

/* Writes text escaped for XML (labels come from user code). */
static void xml_str(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default: fputc(*p < 0x20 && *p != '\n' && *p != '\t' ? '?' : *p, f);
        }
    }
}

/* Where things go: time maps to x over the plot width, rows are workers seen then the lock rows. */
typedef struct layout {
    int64_t origin;
    double span_ns;   /* time shown, > 0 */
    double plot_w;
    int *row_of;      /* per worker number: its row, -1 when it ran nothing */
    int *color;       /* per string: palette entry of an op name */
    int maxw, nrows, lock_row, wait_row;
} layout;

/* Plot coordinates: the x of a time stamp (ns) and the top y of a row. */
static double x_of(const layout *L, int64_t t) { return LEFT + (double)(t - L->origin) / L->span_ns * L->plot_w; }
static double y_of(int row) { return TOP + row * (ROW_H + ROW_GAP); }

/* A step of 1, 2 or 5 times a power of ten giving about ten ticks over `total` ms. */
static double tick_step(double total)
{
    double raw = total / 10, mag = pow(10, floor(log10(raw > 0 ? raw : 1e-6)));
    double steps[] = {1, 2, 5, 10};
    for (int i = 0; i < 4; i++)
        if (steps[i] * mag >= raw) return steps[i] * mag;
    return 10 * mag;
}

/* The time axis at the top and its vertical grid lines through the rows. */
static void write_axis(FILE *f, const layout *L, double rows_bottom)
{
    double total_ms = L->span_ns * 1e-6, step = tick_step(total_ms);
    fprintf(f, "<g class=\"axis\">\n<line x1=\"%d\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\"/>\n", LEFT, TOP - 8,
            LEFT + L->plot_w, TOP - 8);
    for (int i = 0; i * step <= total_ms * (1 + 1e-9) && i < 1000; i++) {
        double x = LEFT + i * step / total_ms * L->plot_w;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", x, TOP - 8, x, rows_bottom);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\"/>", x, TOP - 13, x, TOP - 8);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", x, TOP - 17, i * step);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">time (ms)</text>\n</g>\n", LEFT - 8, TOP - 17);
}

/* One bar per node in its worker's row, with a tooltip and, when wide enough, its name. */
static void write_nodes(FILE *f, const dagl_trace *tr, const layout *L)
{
    fputs("<g class=\"nodes\">\n", f);
    for (size_t i = 0; i < tr->nev; i++) {
        const trace_node_ev *e = &tr->ev[i];
        char name[512];
        dagl__trace_ev_name(tr, e, name, sizeof name);
        double x = x_of(L, e->t0), w = (double)(e->t1 - e->t0) / L->span_ns * L->plot_w, y = y_of(L->row_of[e->worker]);
        if (w < 0.5) w = 0.5; /* keep very short nodes visible */
        const char *op = e->name >= 0 ? tr->str[e->name] : "?";
        bool share = e->how == DAGL_SCHED_SHARE; /* drawn pale: part of a node running elsewhere */
        fprintf(f, "<rect class=\"n %sc%d\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\"><title>%s",
                share ? "s " : "", e->name >= 0 ? L->color[e->name] : 0, x, y + 2, w, ROW_H - 4,
                share ? "kernel share of " : "");
        xml_str(f, name);
        fprintf(f, "\nlayer: ");
        xml_str(f, e->label >= 0 ? tr->str[e->label] : "-");
        fprintf(f, "\n%.3f ms, %s, node %d, run %d, worker %d</title></rect>\n", (double)(e->t1 - e->t0) * 1e-6,
                e->how < DAGL_SCHED_HOW_COUNT ? how_names[e->how] : "?", e->node, e->run, e->worker);
        int fit = (int)((w - 4) / 6.2);
        if (fit >= 3) { /* the full name, else the op alone, else the op cut short */
            const char *text = strlen(name) <= (size_t)fit ? name : op;
            char cut[64];
            size_t len = strlen(text) < sizeof cut - 1 ? strlen(text) : sizeof cut - 1;
            memcpy(cut, text, len);
            cut[len] = '\0';
            if (strlen(cut) > (size_t)fit) {
                cut[fit < 63 ? fit : 63] = '\0';
                cut[strlen(cut) - 1] = '~';
            }
            fprintf(f, "<text class=\"l\" x=\"%.2f\" y=\"%.1f\">", x + 2, y + ROW_H / 2 + 4);
            xml_str(f, cut);
            fputs("</text>\n", f);
        }
    }
    fputs("</g>\n", f);
}

/* The lock rows: each hold (and each wait) as a bar saying which worker. */
static void write_lock(FILE *f, const dagl_trace *tr, const layout *L)
{
    fputs("<g class=\"lock\">\n", f);
    for (size_t i = 0; i < tr->nlk; i++) {
        const trace_lock_ev *e = &tr->lk[i];
        double w = (double)(e->t1 - e->t0) / L->span_ns * L->plot_w;
        fprintf(f, "<rect class=\"%s\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\"><title>%s worker %d\n%.3f ms, run %d"
                   "</title></rect>\n",
                e->kind ? "kw" : "kh", x_of(L, e->t0), y_of(e->kind ? L->wait_row : L->lock_row) + 2, w < 0.5 ? 0.5 : w,
                ROW_H - 4, dagl__trace_lock_verb(e), e->worker, (double)(e->t1 - e->t0) * 1e-6, e->run);
    }
    fputs("</g>\n", f);
}

/* A swatch per op that ran, wrapping over lines; returns the y below it. With f NULL it only
 * measures, so the picture's height is known before anything is written. */
static double write_legend(FILE *f, const dagl_trace *tr, const layout *L, double y)
{
    double x = LEFT;
    if (f) fprintf(f, "<g class=\"legend\">\n<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">ops</text>\n", LEFT - 8, y + 11);
    for (int s = 0; s < tr->nstr; s++) {
        if (L->color[s] < 0) continue;
        double w = 26 + 7.0 * (double)strlen(tr->str[s]);
        if (x + w > WIDTH - RIGHT && x > LEFT) {
            x = LEFT;
            y += 20;
        }
        if (f) {
            fprintf(f, "<rect class=\"c%d\" x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\"/><text x=\"%.1f\" y=\"%.1f\">",
                    L->color[s], x, y, x + 18, y + 11);
            xml_str(f, tr->str[s]);
            fputs("</text>\n", f);
        }
        x += w;
    }
    if (x + 120 > WIDTH - RIGHT && x > LEFT) {
        x = LEFT;
        y += 20;
    }
    if (f)
        fprintf(f, "<rect class=\"kh\" x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\"/><text x=\"%.1f\" y=\"%.1f\">"
                   "VM lock held</text>\n</g>\n", x, y, x + 18, y + 11);
    return y + 20;
}

/* Everything, with the caller holding the trace's mutex. */
static dagl_status write_svg(FILE *f, const dagl_trace *tr)
{
    trace_full_stats fs;
    dagl__trace_stats_locked(tr, &fs);
    layout L = {.origin = fs.origin, .plot_w = WIDTH - LEFT - RIGHT, .maxw = -1};
    L.span_ns = fs.end > fs.origin ? (double)(fs.end - fs.origin) : 1000.0;
    bool waits = false;
    for (size_t i = 0; i < tr->nev; i++)
        if (tr->ev[i].worker > L.maxw) L.maxw = tr->ev[i].worker;
    for (size_t i = 0; i < tr->nlk; i++) waits |= tr->lk[i].kind != DAGL_TRACE_HOLD;
    L.row_of = malloc(sizeof *L.row_of * ((size_t)L.maxw + 2));
    L.color = assign_colors(tr);
    char *sum = dagl__trace_summary_locked(tr);
    if (!L.row_of || !L.color || !sum) {
        free(L.row_of);
        free(L.color);
        free(sum);
        return DAGL_E_NOMEM;
    }
    for (int w = 0; w <= L.maxw; w++) L.row_of[w] = -1;
    for (size_t i = 0; i < tr->nev; i++) L.row_of[tr->ev[i].worker] = 0;
    for (int w = 0; w <= L.maxw; w++)
        if (L.row_of[w] == 0) L.row_of[w] = L.nrows++;
    L.lock_row = L.nrows++;
    L.wait_row = waits ? L.nrows++ : -1;
    double rows_bottom = y_of(L.nrows) - ROW_GAP;
    int nlines = 0;
    for (const char *p = sum; *p; p++) nlines += *p == '\n';
    double legend_h = write_legend(NULL, tr, &L, 0);
    double height = rows_bottom + 24 + legend_h + 16.0 * (nlines + 1) + 12;

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
               "height=\"%.0f\" viewBox=\"0 0 %d %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n<style>\n",
            WIDTH, height, WIDTH, height);
    for (int c = 0; c < NPAL; c++) fprintf(f, ".c%d{fill:%s}\n", c, palette[c]);
    fputs(".n:hover{stroke:#000;stroke-width:1}.s{fill-opacity:0.45}\n"
          ".kh{fill:#3b3b3b}.kw{fill:#e8a33d;fill-opacity:0.6}\n"
          ".l{font-size:10px;fill:#111;pointer-events:none}.row{fill:#f4f4f4}\n"
          ".sum{font-family:monospace;font-size:12px;white-space:pre}\n</style>\n"
          "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n", f);
    fprintf(f, "<text x=\"%d\" y=\"26\" font-size=\"18\" font-weight=\"bold\">dagl trace</text>\n", 16);
    fprintf(f, "<text x=\"%d\" y=\"46\" fill=\"#555\">%d nodes, %d run%s over %.2f ms; hover a bar for its details%s</text>\n",
            16, fs.pub.nodes, fs.runs, fs.runs == 1 ? "" : "s", L.span_ns * 1e-6,
            fs.pub.shares ? "; pale bars: kernel shares a worker ran for a node on another lane" : "");
    fputs("<g class=\"rows\">\n", f);
    for (int w = 0; w <= L.maxw; w++)
        if (L.row_of[w] >= 0) {
            double y = y_of(L.row_of[w]);
            fprintf(f, "<rect class=\"row\" x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%d\"/>", LEFT, y, L.plot_w, ROW_H);
            fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">worker %d%s</text>\n", LEFT - 8,
                    y + ROW_H / 2 + 4, w, w == 0 ? " (caller)" : "");
        }
    fprintf(f, "<rect class=\"row\" x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%d\"/><text x=\"%d\" y=\"%.1f\" "
               "text-anchor=\"end\">VM lock</text>\n", LEFT, y_of(L.lock_row), L.plot_w, ROW_H, LEFT - 8,
            y_of(L.lock_row) + ROW_H / 2 + 4);
    if (waits)
        fprintf(f, "<rect class=\"row\" x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%d\"/><text x=\"%d\" y=\"%.1f\" "
                   "text-anchor=\"end\">VM lock waits</text>\n", LEFT, y_of(L.wait_row), L.plot_w, ROW_H, LEFT - 8,
                y_of(L.wait_row) + ROW_H / 2 + 4);
    fputs("</g>\n", f);
    write_axis(f, &L, rows_bottom);
    write_nodes(f, tr, &L);
    write_lock(f, tr, &L);
    double y = write_legend(f, tr, &L, rows_bottom + 24);
    fprintf(f, "<text class=\"sum\" xml:space=\"preserve\" x=\"16\" y=\"%.1f\">", y + 16);
    int line = 0;
    for (char *p = sum; *p; line++) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        fprintf(f, "<tspan x=\"16\" dy=\"%d\">", line ? 16 : 0);
        xml_str(f, p);
        fputs("</tspan>", f);
        p = nl ? nl + 1 : p + strlen(p);
    }
    fputs("</text>\n</svg>\n", f);
    free(sum);
    free(L.row_of);
    free(L.color);
    return DAGL_OK;
}

/* The trace as a picture a person opens in a browser; DAGL_E_IO when the file fails. */
dagl_status dagl_trace_write_svg(const dagl_trace *tr, const char *path)
{
    if (!tr || !path) return DAGL_E_ARG;
    FILE *f = fopen(path, "w");
    if (!f) return DAGL_E_IO;
    pthread_mutex_lock(&trace_mut(tr)->mu);
    dagl_status st = write_svg(f, tr);
    pthread_mutex_unlock(&trace_mut(tr)->mu);
    dagl_status cst = dagl__trace_close(f);
    return st ? st : cst;
}
