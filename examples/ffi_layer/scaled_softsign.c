/* scaled_softsign.c -- an example dagl.ffi library (examples/ffi_layer.lua loads it).
 *
 * scaled_softsign is a dagl.ffi kernel: the fixed form
 *     void f(float *out, const float *in1, ..., const float *inN, int64_t n, int64_t ith, int64_t nth)
 * here with two inputs, x (n elements) and s (one element): out[i] = x[i] / (1 + |x[i]|) * s[0].
 * It computes only its share [n*ith/nth, n*(ith+1)/nth) of the range, so dagl can call it on
 * several workers at once (split = true). It touches no global state: it is thread-safe.
 *
 * scaled_softsign_1 is the same for one element, a plain function to call through lib:func. */
#include <math.h>
#include <stdint.h>

#if defined(__GNUC__)
#define EXPORT __attribute__((visibility("default")))
#else
#define EXPORT
#endif

/* The formula for one element, shared by both entry points. */
static float softsign_scaled(float x, float s) { return x / (1.0f + fabsf(x)) * s; }

EXPORT void scaled_softsign(float *out, const float *x, const float *s, int64_t n, int64_t ith, int64_t nth)
{
    int64_t lo = n * ith / nth, hi = n * (ith + 1) / nth;
    for (int64_t i = lo; i < hi; i++) out[i] = softsign_scaled(x[i], s[0]);
}

EXPORT double scaled_softsign_1(double x, double s) { return softsign_scaled((float)x, (float)s); }

/* Fills a float32 buffer with start, start+step, ...: shows a tensor passed as float*. */
EXPORT void fill_ramp(float *out, int64_t n, float start, float step)
{
    for (int64_t i = 0; i < n; i++) out[i] = start + step * (float)i;
}

/* The sum of an int64 buffer: shows int64* and an int64 result. */
EXPORT int64_t sum_i64(const int64_t *v, int64_t n)
{
    int64_t s = 0;
    for (int64_t i = 0; i < n; i++) s += v[i];
    return s;
}

/* How often character c occurs in s: shows const char* and int32 arguments. */
EXPORT int32_t count_char(const char *s, int32_t c)
{
    int32_t k = 0;
    for (; s && *s; s++) k += *s == c;
    return k;
}

/* A kernel that reveals how dagl split its call: out[i] = 1000 * ith + nth (for the specs). */
EXPORT void share_index(float *out, const float *in, int64_t n, int64_t ith, int64_t nth)
{
    (void)in;
    int64_t lo = n * ith / nth, hi = n * (ith + 1) / nth;
    for (int64_t i = lo; i < hi; i++) out[i] = (float)(1000 * ith + nth);
}
