/* fastmath.h -- branch-free exp, tanh and sigmoid for f32 and f64 that GCC vectorizes (libm's
 * expf is a scalar call, ~2.3 ns an element). Inline so the elementwise row loops and softmax
 * inline them and vectorize the whole loop.
 *
 * exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 (ln 2 split in a high part exact in
 * n * hi and a low part), exp(r) on |r| <= ln2/2 by a polynomial (f32: Cephes' degree-7 form,
 * f64: Taylor to degree 13), and 2^n built from exponent bits in two halves so results in the
 * denormal range and n = 128 / 1024 come out right. The rounding of x / ln 2 uses the 1.5 * 2^p
 * "magic number" trick (no floor call). x is clamped to [-104, 89] (f64: [-746, 710]) first, where
 * the product overflows to +inf or underflows to 0 by itself; NaN passes through the clamp and the
 * arithmetic. The one select (tanh's) vectorizes only without -ftrapping-math: CMakeLists.txt sets
 * -fno-trapping-math on the files using this header (no effect on the values computed).
 *
 * Accuracy against libm (spec/c/test_fastmath.c sweeps every 251st f32 bit pattern and a dense f64
 * range; the measured worst cases are exp 0.96 ulp, tanh 1.3 ulp, sigmoid 2.3 ulp): exp within 2 ulp
 * (f32 and f64) for normal results, within 1 ulp of the denormal grid below; tanh (f32 only: double keeps libm's tanh, whose speed matters little) within 3 ulp;
 * sigmoid within 4 ulp (results below the smallest normal may flush to 0: e^-x overflows first,
 * as with the libm formula before). No FMA is assumed (the build targets
 * baseline x86-64), so results do not depend on the machine's vector width or the thread count. */
#ifndef DAGL_FASTMATH_H
#define DAGL_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* On x86-64 Linux the kernels using these functions are compiled twice, for AVX2 and for the
 * baseline, and the loader picks one (an ifunc): AVX2 doubles the vector width. Neither clone
 * uses FMA (AVX2 does not imply it), so both compute bitwise the same values. Sanitizer builds
 * (DAGL_SANITIZED) keep only the baseline. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(DAGL_SANITIZED) /* ifunc resolvers run before the sanitizers' runtimes are up */
#define DAGL_VEC_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DAGL_VEC_CLONES
#endif
/* Helpers called from a clone must be inlined into it to get its instruction set. */
#if defined(__GNUC__)
#define DAGL_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define DAGL_ALWAYS_INLINE inline
#endif

/* Bits of a float / double as an integer, and back (memcpy: no aliasing trouble, compiles to moves). */
static inline int32_t dagl__f32_bits(float x) { int32_t i; memcpy(&i, &x, sizeof i); return i; }
static inline float dagl__f32_from(int32_t i) { float x; memcpy(&x, &i, sizeof x); return x; }
static inline int64_t dagl__f64_bits(double x) { int64_t i; memcpy(&i, &x, sizeof i); return i; }
static inline double dagl__f64_from(int64_t i) { double x; memcpy(&x, &i, sizeof x); return x; }

/* exp for float: see the file comment. */
static DAGL_ALWAYS_INLINE float dagl__expf(float x)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float xc = x < -104.0f ? -104.0f : x > 89.0f ? 89.0f : x; /* NaN passes through */
    float t = xc * 1.44269504088896341f + magic;
    float nf = t - magic;
    int32_t n = dagl__f32_bits(t) - dagl__f32_bits(magic);
    float r = xc - nf * 0.693359375f;
    r = r - nf * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * (r * r) + r + 1.0f;
    int32_t n1 = n >> 1, n2 = n - n1; /* each in [-75, 64]: normal powers of two */
    return y * dagl__f32_from((int32_t)((uint32_t)(n1 + 127) << 23)) *
           dagl__f32_from((int32_t)((uint32_t)(n2 + 127) << 23));
}

/* exp for double: see the file comment. */
static DAGL_ALWAYS_INLINE double dagl__exp(double x)
{
    const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
    double xc = x < -746.0 ? -746.0 : x > 710.0 ? 710.0 : x;
    double t = xc * 1.4426950408889634074 + magic;
    double nf = t - magic;
    int64_t n = dagl__f64_bits(t) - dagl__f64_bits(magic);
    double r = xc - nf * 6.93147180369123816490e-01;
    r = r - nf * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0; /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    double y = p * (r * r) + r + 1.0;
    int64_t n1 = n >> 1, n2 = n - n1; /* each in [-538, 512] */
    return y * dagl__f64_from((int64_t)((uint64_t)(n1 + 1023) << 52)) *
           dagl__f64_from((int64_t)((uint64_t)(n2 + 1023) << 52));
}

/* tanh: an odd polynomial below |x| = 0.625 (Cephes' tanhf form; 1 - 2/(e^2x + 1) would lose
 * digits there), 1 - 2/(e^2|x| + 1) above, the sign put back. */
static DAGL_ALWAYS_INLINE float dagl__tanhf(float x)
{
    float ax = fabsf(x), z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = p * z * x + x;
    float big = 1.0f - 2.0f / (dagl__expf(ax + ax) + 1.0f);
    return copysignf(ax < 0.625f ? small : big, x); /* the sign of x, also for -0 */
}

/* sigmoid = 1 / (1 + e^-x): exp overflow gives 0, not NaN. */
static DAGL_ALWAYS_INLINE float dagl__sigmoidf(float x) { return 1.0f / (1.0f + dagl__expf(-x)); }
static DAGL_ALWAYS_INLINE double dagl__sigmoid(double x) { return 1.0 / (1.0 + dagl__exp(-x)); }

#endif
