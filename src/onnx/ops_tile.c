/* ops_tile.c -- importers of Tile (copies joined along each axis) and Range (folded at load
 * time: its inputs must be constants). */
#include "onnx_int.h"

#include <math.h>
#include <string.h>

/* Tile by constant repeats: per axis, that many copies joined. */
dagl_status ox_import_tile(ox_build *b)
{
    ox_value *x = ox_plain(b, ox_in(b, 0));
    if (!x) return ox_fail(b, DAGL_E_ARG, "input 1 is missing");
    int64_t reps[DAGL_MAX_DIMS];
    int n;
    dagl_status st = ox_const_ints(b, ox_in(b, 1), "repeats", reps, DAGL_MAX_DIMS, &n);
    if (st) return st;
    if (n != x->ndim) return ox_fail(b, DAGL_E_ARG, "%d repeats for %d dims", n, x->ndim);
    for (int d = 0; d < n && x; d++) {
        if (reps[d] < 0 || reps[d] > 4096) return ox_fail(b, DAGL_E_ARG, "repeat %lld (0 to 4096 imported)", (long long)reps[d]);
        if (reps[d] == 0) return ox_fail(b, DAGL_E_ARG, "repeat 0 (an empty result) is not supported");
        ox_value *copies[4096];
        for (int64_t i = 0; i < reps[d]; i++) copies[i] = x;
        x = ox_concat(b, (int)reps[d], copies, d);
    }
    return ox_out(b, 0, x);
}

/* Range(start, limit, delta): ceil((limit - start) / delta) values, of the inputs' type. */
dagl_status ox_import_range(ox_build *b)
{
    double v[3];
    static const char *const what[3] = {"start", "limit", "delta"};
    ox_value *in[3];
    for (int i = 0; i < 3; i++) {
        if (!(in[i] = ox_in(b, i))) return ox_fail(b, DAGL_E_ARG, "input '%s' is missing", what[i]);
        dagl_status st = ox_const_scalar(b, in[i], what[i], &v[i]);
        if (st) return st;
    }
    if (v[2] == 0 || !isfinite(v[0]) || !isfinite(v[1]) || !isfinite(v[2]))
        return ox_fail(b, DAGL_E_ARG, "delta 0 or a bound that is not finite");
    double cnt = ceil((v[1] - v[0]) / v[2]);
    if (cnt > (1 << 28)) return ox_fail(b, DAGL_E_ARG, "%g values (too many)", cnt);
    int64_t n = cnt > 0 ? (int64_t)cnt : 0;
    dagl_tensor *t;
    if (dagl_tensor_new(b->ctx, in[0]->dt, 1, &n, &t)) return ox_wrap(b, DAGL_E_NOMEM);
    for (int64_t i = 0; i < n; i++) {
        int64_t idx = i;
        if (dagl_set(b->ctx, t, &idx, v[0] + (double)i * v[2])) {
            dagl_tensor_release(t);
            return ox_wrap(b, DAGL_E_INTERNAL);
        }
    }
    return ox_out(b, 0, ox_const(b, t));
}
