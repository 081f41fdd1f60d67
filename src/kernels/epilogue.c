/* epilogue.c -- the bias + activation tail of a fused matmul (graph/fuse.c), applied to a band of
 * GEMM rows while they are still in cache. Each expression is the one of the kernel it replaces
 * (binary.c's x + y, unary.c's relu / tanh / sigmoid), so fused results are bitwise unfused ones. */
#include "kernels.h"

#include "fastmath.h"

#include <math.h>

/* One loop per activation so each vectorizes; ACT(x) as in unary.c. */
#define EPI_LOOP(T, ACT)                                                                           \
    for (int64_t r = 0; r < rows; r++) {                                                           \
        T *restrict c = C + r * N;                                                                 \
        for (int64_t j = 0; j < N; j++) {                                                          \
            T x = c[j] + bias[j];                                                                  \
            c[j] = ACT;                                                                            \
        }                                                                                          \
    }
#define DEF_EPILOGUE(sfx, T, TANH, SIGMOID)                                                        \
    DAGL_VEC_CLONES static void epi_##sfx(T *C, int64_t rows, int64_t N, const T *restrict bias, dagl_op act)      \
    {                                                                                              \
        switch (act) {                                                                             \
        case DAGL_OP_RELU: EPI_LOOP(T, x <= 0 ? (T)0 : x) break;                                   \
        case DAGL_OP_TANH: EPI_LOOP(T, TANH(x)) break;                                             \
        case DAGL_OP_SIGMOID: EPI_LOOP(T, SIGMOID(x)) break;                                       \
        default: EPI_LOOP(T, x) break;                                                             \
        }                                                                                          \
    }
DEF_EPILOGUE(f32, float, dagl__tanhf, dagl__sigmoidf)
DEF_EPILOGUE(f64, double, tanh, dagl__sigmoid)

void dagl__epilogue(dagl_dtype dt, void *C, int64_t rows, int64_t N, const void *bias, dagl_op act)
{
    if (dt == DAGL_F32) epi_f32(C, rows, N, bias, act);
    else if (dt == DAGL_F64) epi_f64(C, rows, N, bias, act);
}

/* The epilogue on columns [n0, n0 + n) of a block of rows whose stride is ld (a share that owns
 * only some of the output's columns: matmul's column blocks, conv2d's column groups). */
void dagl__epilogue_cols(dagl_dtype dt, void *C, int64_t rows, int64_t ld, int64_t n0, int64_t n, const void *bias,
                         dagl_op act)
{
    size_t es = dagl_dtype_size(dt);
    if (n0 == 0 && n == ld) {
        dagl__epilogue(dt, C, rows, n, bias, act);
        return;
    }
    for (int64_t i = 0; i < rows; i++)
        dagl__epilogue(dt, (char *)C + (size_t)(i * ld + n0) * es, 1, n, (const char *)bias + (size_t)n0 * es, act);
}
