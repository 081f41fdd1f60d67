/* ops_einsum.c -- the importer of Einsum for the common patterns: one operand (transposes and
 * sums) and two operands (batched matrix products): labels are sorted into batch, free and
 * contracted ones, the operands permuted and reshaped to one batched matmul, the result reshaped
 * and permuted to the output's order. Ellipses and labels repeated within an operand (traces,
 * diagonals) are refused. */
#include "onnx_int.h"

#include <string.h>

typedef struct term {
    char l[DAGL_MAX_DIMS + 1];
    int n;
} term;

/* Parses "ab,bc->ac" into its input terms and output term (implicit output: the labels used once,
 * in alphabetical order). */
static dagl_status parse(ox_build *b, const char *eq, term *in, int *nin, term *out)
{
    char s[128];
    int k = 0;
    for (const char *p = eq; *p && k < (int)sizeof s - 1; p++)
        if (*p != ' ') s[k++] = *p;
    s[k] = 0;
    if (strstr(s, "...")) return ox_bad_attr(b, "equation", "'%s': ellipses are not supported", eq);
    char *arrow = strstr(s, "->");
    *nin = 0;
    int cur = 0;
    memset(in, 0, 2 * sizeof *in);
    for (char *p = s; *p && p != arrow; p++) {
        if (*p == ',') {
            if (++cur >= 2) return ox_bad_attr(b, "equation", "'%s': at most 2 operands are supported", eq);
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) || in[cur].n >= DAGL_MAX_DIMS)
            return ox_bad_attr(b, "equation", "'%s' is malformed", eq);
        if (memchr(in[cur].l, *p, (size_t)in[cur].n))
            return ox_bad_attr(b, "equation", "'%s': a label repeated within an operand is not supported", eq);
        in[cur].l[in[cur].n++] = *p;
    }
    *nin = cur + 1;
    out->n = 0;
    if (arrow) {
        for (char *p = arrow + 2; *p; p++) {
            if (out->n >= DAGL_MAX_DIMS || memchr(out->l, *p, (size_t)out->n))
                return ox_bad_attr(b, "equation", "'%s': bad output", eq);
            bool found = false;
            for (int t = 0; t < *nin; t++) found |= memchr(in[t].l, *p, (size_t)in[t].n) != NULL;
            if (!found) return ox_bad_attr(b, "equation", "'%s': output label '%c' is in no operand", eq, *p);
            out->l[out->n++] = *p;
        }
    } else {
        for (int c = 'A'; c <= 'z'; c++) {
            int uses = 0;
            for (int t = 0; t < *nin; t++) uses += memchr(in[t].l, c, (size_t)in[t].n) != NULL;
            if (uses == 1 && out->n < DAGL_MAX_DIMS) out->l[out->n++] = (char)c;
        }
    }
    return DAGL_OK;
}

/* Position of label c in t, or -1. */
static int pos(const term *t, char c)
{
    const char *p = memchr(t->l, c, (size_t)t->n);
    return p ? (int)(p - t->l) : -1;
}

/* x (labelled t) summed over the labels in neither `keep1` nor `keep2`; t is updated. */
static ox_value *sum_unused(ox_build *b, ox_value *x, term *t, const term *keep1, const term *keep2)
{
    dagl_node_params p;
    dagl_node_params_init(&p);
    term kept = {{0}, 0};
    for (int d = 0; d < t->n; d++)
        if (pos(keep1, t->l[d]) < 0 && (!keep2 || pos(keep2, t->l[d]) < 0)) p.dims[p.ndims++] = d;
        else kept.l[kept.n++] = t->l[d];
    if (!p.ndims) return x;
    *t = kept;
    return ox_op(b, DAGL_OP_SUM, 1, &x, &p);
}

/* x permuted so that its labels come in the order of `order` (a permutation of t's). */
static ox_value *arrange(ox_build *b, ox_value *x, const term *t, const char *order)
{
    int perm[DAGL_MAX_DIMS];
    for (int d = 0; d < t->n; d++) perm[d] = pos(t, order[d]);
    return ox_permute(b, x, perm);
}

/* The product of x's sizes for the n labels of `labels` (x labelled t). */
static int64_t prod(const ox_value *x, const term *t, const char *labels, int n)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++) p *= x->shape[pos(t, labels[i])];
    return p;
}

/* Einsum of one or two operands. */
dagl_status ox_import_einsum(ox_build *b)
{
    char eq[128];
    const char *e = ox_attr_str(b, "equation", "", eq, sizeof eq);
    term in[2], out;
    int nin;
    dagl_status st = parse(b, e, in, &nin, &out);
    if (st) return st;
    if (ox_nin(b) != nin) return ox_fail(b, DAGL_E_ARG, "%d inputs for an equation of %d operands", ox_nin(b), nin);
    ox_value *x[2] = {ox_plain(b, ox_in(b, 0)), nin > 1 ? ox_plain(b, ox_in(b, 1)) : NULL};
    for (int i = 0; i < nin; i++) {
        if (!x[i]) return ox_fail(b, DAGL_E_ARG, "input %d is missing", i + 1);
        if (x[i]->ndim != in[i].n) return ox_fail(b, DAGL_E_SHAPE, "input %d has %d dims, its term '%.*s' %d", i + 1,
                                                  x[i]->ndim, in[i].n, in[i].l, in[i].n);
    }
    if (nin == 1) {
        ox_value *y = sum_unused(b, x[0], &in[0], &out, NULL);
        return ox_out(b, 0, y ? arrange(b, y, &in[0], out.l) : NULL);
    }
    /* sum away what only one operand has and the output lacks, then sort the labels */
    x[0] = sum_unused(b, x[0], &in[0], &out, &in[1]);
    x[1] = sum_unused(b, x[1], &in[1], &out, &in[0]);
    if (!x[0] || !x[1]) return b->st;
    char bat[DAGL_MAX_DIMS], con[DAGL_MAX_DIMS], fa[DAGL_MAX_DIMS], fb[DAGL_MAX_DIMS];
    int nb = 0, nc = 0, na = 0, nf = 0;
    for (int d = 0; d < in[0].n; d++) {
        char c = in[0].l[d];
        bool in_b = pos(&in[1], c) >= 0, in_out = pos(&out, c) >= 0;
        if (in_b && x[0]->shape[d] != x[1]->shape[pos(&in[1], c)])
            return ox_fail(b, DAGL_E_SHAPE, "label '%c' has sizes %lld and %lld", c, (long long)x[0]->shape[d],
                           (long long)x[1]->shape[pos(&in[1], c)]);
        if (in_b && in_out) bat[nb++] = c;
        else if (in_b) con[nc++] = c;
        else fa[na++] = c;
    }
    for (int d = 0; d < in[1].n; d++)
        if (pos(&in[0], in[1].l[d]) < 0) fb[nf++] = in[1].l[d];
    char oa[DAGL_MAX_DIMS], ob[DAGL_MAX_DIMS], mid[DAGL_MAX_DIMS];
    memcpy(oa, bat, (size_t)nb), memcpy(oa + nb, fa, (size_t)na), memcpy(oa + nb + na, con, (size_t)nc);
    memcpy(ob, bat, (size_t)nb), memcpy(ob + nb, con, (size_t)nc), memcpy(ob + nb + nc, fb, (size_t)nf);
    int64_t sb = prod(x[0], &in[0], bat, nb), sa = prod(x[0], &in[0], fa, na), sc = prod(x[0], &in[0], con, nc),
            sf = prod(x[1], &in[1], fb, nf);
    int64_t s3a[3] = {sb, sa, sc}, s3b[3] = {sb, sc, sf};
    ox_value *a = ox_reshape(b, arrange(b, x[0], &in[0], oa), 3, s3a);
    ox_value *c = ox_reshape(b, arrange(b, x[1], &in[1], ob), 3, s3b);
    ox_value *y = ox_binary(b, DAGL_OP_MATMUL, a, c);
    /* (batch, free a, free b) with their sizes, then the output's order */
    term yt = {{0}, 0};
    int64_t ys[DAGL_MAX_DIMS];
    memcpy(mid, bat, (size_t)nb), memcpy(mid + nb, fa, (size_t)na), memcpy(mid + nb + na, fb, (size_t)nf);
    for (int i = 0; i < nb + na + nf; i++) {
        yt.l[yt.n++] = mid[i];
        int pa = pos(&in[0], mid[i]);
        ys[i] = pa >= 0 ? x[0]->shape[pa] : x[1]->shape[pos(&in[1], mid[i])];
    }
    if (yt.n != out.n) return ox_fail(b, DAGL_E_INTERNAL, "einsum: %d result labels for %d output labels", yt.n, out.n);
    y = ox_reshape(b, y, yt.n, ys);
    return ox_out(b, 0, y ? arrange(b, y, &yt, out.l) : NULL);
}
