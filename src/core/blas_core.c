/* blas_core.c -- picking OpenBLAS's kernel set. Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH)
 * detects some current CPUs as an older core (seen: "Prescott" on an AVX-512 Xeon, "Haswell" on
 * an AVX-512 EPYC), at up to 5x less GEMM speed. When OPENBLAS_CORETYPE is not set and the CPU
 * has AVX-512, dagl re-runs OpenBLAS's own core selection with "SkylakeX" before the first BLAS
 * call, checks a small product against a plain loop, and falls back when the check fails. An
 * AVX-512 core OpenBLAS detected itself gets the same check (benchmarks run it with
 * OPENBLAS_CORETYPE unset; a failing one falls back to Haswell's AVX2 kernels).
 * OpenBLAS's choice is process-wide, so this runs once per process (the one static here). */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* OpenBLAS DYNAMIC_ARCH entry points (exported by libopenblas, not declared in cblas.h). */
void gotoblas_dynamic_init(void);
void gotoblas_dynamic_quit(void);

static struct {
    pthread_once_t once;
    char note[160];
} blas_choice = {PTHREAD_ONCE_INIT, ""};

/* Cores that already use AVX-512 (no reason to switch). */
static bool has_avx512_core(const char *name)
{
    static const char *const cores[] = {"skylakex", "cooperlake", "sapphirerapids", NULL};
    for (int i = 0; cores[i]; i++)
        if (strcasecmp(name, cores[i]) == 0) return true;
    return false;
}

/* A 19x23x17 sgemm against a double-precision loop. */
static bool self_check(void)
{
    enum { M = 19, N = 23, K = 17 };
    float a[M * K], b[K * N], c[M * N];
    for (int i = 0; i < M * K; i++) a[i] = (float)((i * 37 % 101) - 50) / 25.0f;
    for (int i = 0; i < K * N; i++) b[i] = (float)((i * 53 % 97) - 48) / 24.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += (double)a[i * K + k] * b[k * N + j];
            if (fabs(s - c[i * N + j]) > 1e-4 * (1 + fabs(s))) return false;
        }
    return true;
}

/* Re-runs OpenBLAS's core selection as if OPENBLAS_CORETYPE were `core`. */
static void reselect(const char *core)
{
    setenv("OPENBLAS_CORETYPE", core, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
}

/* Picks the OpenBLAS core: as detected (or as OPENBLAS_CORETYPE says), unless an AVX-512 CPU was
 * detected as an older core; then SkylakeX is tried and kept only if the self-check passes. A
 * detected AVX-512 core is kept only if it passes the check too. The outcome goes into
 * blas_choice.note for dagl_blas_choice ("verified" when the check ran and passed). */
static void choose(void)
{
    char detected[32];
    snprintf(detected, sizeof detected, "%s", dagl_blas_corename());
    if (getenv("OPENBLAS_CORETYPE")) {
        snprintf(blas_choice.note, sizeof blas_choice.note, "set by OPENBLAS_CORETYPE");
        return;
    }
    if (has_avx512_core(detected)) {
        if (self_check()) {
            snprintf(blas_choice.note, sizeof blas_choice.note,
                     "as OpenBLAS detected it; verified by dagl's self-check");
            return;
        }
        reselect("Haswell");
        snprintf(blas_choice.note, sizeof blas_choice.note,
                 "%s failed dagl's self-check; Haswell instead", detected);
        return;
    }
    bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512cd");
    if (!avx512) {
        snprintf(blas_choice.note, sizeof blas_choice.note, "as OpenBLAS detected it");
        return;
    }
    reselect("SkylakeX");
    if (has_avx512_core(dagl_blas_corename()) && self_check()) {
        snprintf(blas_choice.note, sizeof blas_choice.note,
                 "chosen by dagl for this AVX-512 CPU (OpenBLAS detected %s); verified by dagl's self-check",
                 detected);
        return;
    }
    reselect(detected);
    snprintf(blas_choice.note, sizeof blas_choice.note,
             "SkylakeX failed dagl's self-check; kept %s as OpenBLAS detected it", detected);
}

/* OpenBLAS's pthread build starts its own worker threads when it loads, and they spin idle for
 * a while (a whole core for the first ~0.3 s of every process, so dagl's second worker ran at half
 * speed). dagl calls BLAS at one thread from its own workers: stop them. The pthread variant has
 * blas_thread_shutdown_ (weak: other builds may not; a later threaded call would restart them). */
extern int blas_thread_shutdown_(void) __attribute__((weak));

/* Once per process: BLAS at one thread, its idle threads gone, and its core chosen. */
static void setup(void)
{
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_) blas_thread_shutdown_();
    choose();
}

void dagl__blas_choose(void) { pthread_once(&blas_choice.once, setup); }

const char *dagl_blas_choice(void)
{
    dagl__blas_choose();
    return blas_choice.note;
}
