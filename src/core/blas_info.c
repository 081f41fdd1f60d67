/* blas_info.c -- which OpenBLAS build and CPU kernel set dagl runs on (for `dagl --version -v`). */
#include "internal.h"

#include <cblas.h>

/* The CPU core OpenBLAS picked ("SkylakeX", "Haswell", ...): a misdetected core costs up to 5x
 * in GEMM speed, so the host reports it. */
const char *dagl_blas_corename(void)
{
    const char *s = openblas_get_corename();
    return s ? s : "unknown";
}

/* OpenBLAS's build configuration string (version, threading, DYNAMIC_ARCH, ...). */
const char *dagl_blas_config(void)
{
    const char *s = openblas_get_config();
    return s ? s : "unknown";
}
