/* view_output.c -- models whose outputs are views (include/dagl_lua.h): a narrowed input, the
 * narrowed tail, a transpose and an expanded sum. dagl_session_read_output takes exactly the
 * output's own bytes (elements x element size, not the size of the block the view shares) and
 * copies its elements in row-major order; a buffer of any other size is refused with an error
 * naming the output and both byte counts, and nothing is written. Run by ctest, so under
 * AddressSanitizer in CI: a read past the shared block would abort it.
 * Usage: view_output             checks everything, prints nothing on success
 *        view_output messages    also prints the refusals' messages, one per line (for
 *                                spec/bad_input_spec.lua) */
#include "dagl_lua.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 2
#define COLS 1000
#define HALF 500

#define FAIL(...) do { fprintf(stderr, "view_output: " __VA_ARGS__); fprintf(stderr, "\n"); exit(1); } while (0)

static const char *models_lua =
    "head = function(x) return x:narrow(2, 1, 500) end\n"
    "tail = function(x) return x:narrow(2, 501, 500) end\n"
    "transposed = function(x) return x:t() end\n"
    "spread = function(x) return x:sum(2, true):expand(2, 1000) end\n";

static float x[ROWS * COLS];
static int print_messages;

/* Runs the model `expr` on x in a new session; returns the session with its outputs. */
static dagl_session *run_model(dagl_runtime *rt, const char *expr, dagl_model **m)
{
    dagl_session *s;
    int64_t shape[2] = {ROWS, COLS};
    if (dagl_model_load(rt, expr, m) || dagl_session_new(*m, &s))
        FAIL("%s: %s", expr, dagl_runtime_last_error(rt));
    if (dagl_session_set_input(s, 0, DAGL_F32, 2, shape, x) || dagl_session_run(s))
        FAIL("%s: %s", expr, dagl_session_last_error(s));
    return s;
}

/* Buffers of the wrong size (one element short, the shared block's size, one byte over) and a
 * NULL buffer are refused with a message naming the output and the byte counts; the buffer is
 * left as it was. */
static void check_refusals(dagl_session *s, const char *expr, size_t own, size_t block)
{
    size_t sizes[] = {own - sizeof(float), block, own + 1, own};
    size_t cap = block > own ? block : own + 1;
    float *buf = malloc(cap);
    if (!buf) FAIL("out of memory");
    for (int k = 0; k < 4; k++) {
        if (sizes[k] == own && k < 3) continue; /* the block is the output's own size: not wrong */
        memset(buf, 0x5a, cap);
        int null_buf = k == 3;
        dagl_status st = dagl_session_read_output(s, 0, null_buf ? NULL : buf, sizes[k]);
        if (st != DAGL_E_ARG) FAIL("%s: read_output with %zu bytes gave status %d", expr, sizes[k], (int)st);
        const char *msg = dagl_session_last_error(s);
        char want_own[64], want_given[64];
        snprintf(want_own, sizeof want_own, "(%zu bytes)", own);
        if (null_buf) snprintf(want_given, sizeof want_given, "buffer is NULL");
        else snprintf(want_given, sizeof want_given, "buffer has %zu bytes", sizes[k]);
        if (!strstr(msg, "output 0") || !strstr(msg, want_own) || !strstr(msg, want_given))
            FAIL("%s: the refusal of %zu bytes does not name the output and the byte counts: %s", expr, sizes[k], msg);
        for (size_t i = 0; i < cap; i++)
            if (((unsigned char *)buf)[i] != 0x5a) FAIL("%s: a refused read wrote into the buffer", expr);
        if (print_messages) printf("%s\n", msg);
    }
    free(buf);
}

/* Output 0 of `expr` holds want[0..n) in row-major order and is read with exactly its bytes. */
static void check_model(dagl_runtime *rt, const char *expr, const float *want, int64_t n)
{
    dagl_model *m;
    dagl_session *s = run_model(rt, expr, &m);
    dagl_tensor *t;
    if (dagl_session_output(s, 0, &t)) FAIL("%s: %s", expr, dagl_session_last_error(s));
    size_t own = (size_t)n * sizeof(float);
    if (dagl_tensor_numel(t) != n || dagl_tensor_nbytes(t) != own)
        FAIL("%s: output of %lld elements, %zu bytes; expected %lld, %zu", expr, (long long)dagl_tensor_numel(t),
             dagl_tensor_nbytes(t), (long long)n, own);
    size_t block = dagl_tensor_block_nbytes(t);
    float *y = malloc(own); /* exactly the output's size: ASan catches any write past it */
    if (!y) FAIL("out of memory");
    if (dagl_session_read_output(s, 0, y, own)) FAIL("%s: %s", expr, dagl_session_last_error(s));
    for (int64_t i = 0; i < n; i++)
        if (y[i] != want[i]) FAIL("%s: element %lld is %g, expected %g", expr, (long long)i, y[i], want[i]);
    free(y);
    check_refusals(s, expr, own, block);
    dagl_session_free(s);
    dagl_model_free(m);
}

int main(int argc, char **argv)
{
    print_messages = argc > 1 && strcmp(argv[1], "messages") == 0;
    for (int i = 0; i < ROWS * COLS; i++) x[i] = (float)i;
    dagl_runtime *rt;
    dagl_runtime_options o = {.threads = 2};
    if (dagl_runtime_new(&o, &rt) || dagl_runtime_dostring(rt, models_lua)) FAIL("%s", dagl_runtime_last_error(rt));

    static float head[ROWS * HALF], tail[ROWS * HALF], tr[COLS * ROWS], spread[ROWS * COLS];
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < HALF; c++) {
            head[r * HALF + c] = x[r * COLS + c];
            tail[r * HALF + c] = x[r * COLS + HALF + c];
        }
    for (int c = 0; c < COLS; c++)
        for (int r = 0; r < ROWS; r++) tr[c * ROWS + r] = x[r * COLS + c];
    for (int r = 0; r < ROWS; r++) {
        double sum = 0; /* integers below 2^24 each, summed exactly in float too */
        for (int c = 0; c < COLS; c++) sum += x[r * COLS + c];
        for (int c = 0; c < COLS; c++) spread[r * COLS + c] = (float)sum;
    }
    check_model(rt, "head", head, ROWS * HALF);
    check_model(rt, "tail", tail, ROWS * HALF);
    check_model(rt, "transposed", tr, COLS * ROWS);
    check_model(rt, "spread", spread, ROWS * COLS);
    dagl_runtime_free(rt);
    return 0;
}
