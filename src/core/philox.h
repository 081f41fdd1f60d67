/* philox.h -- Philox4x32-10, the counter-based generator of the context's random numbers
 * (rng.c) and of dropout masks (kernels/dropout.c): 4 random words from a 128-bit counter and a
 * 64-bit key. Inline so the block-parallel form vectorizes inside each caller's clones. */
#ifndef DAGL_PHILOX_H
#define DAGL_PHILOX_H

#include <stdint.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* One Philox4x32-10 block: 4 random words from a 128-bit counter and a 64-bit key. */
static inline void philox4x32_10(uint64_t block, uint64_t draw, uint64_t seed, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)block, c1 = (uint32_t)(block >> 32);
    uint32_t c2 = (uint32_t)draw, c3 = (uint32_t)(draw >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

#define PHILOX_LANES 16 /* blocks computed side by side (the loops over them vectorize) */

/* philox4x32_10 for blocks blk0 .. blk0 + PHILOX_LANES - 1: word j of block blk0 + l in
 * out[4 * l + j] (the order of the words one block at a time). */
static inline __attribute__((always_inline)) void philox_lanes(uint64_t blk0, uint64_t draw, uint64_t seed,
                                                               uint32_t out[4 * PHILOX_LANES])
{
    uint32_t c0[PHILOX_LANES], c1[PHILOX_LANES], c2[PHILOX_LANES], c3[PHILOX_LANES];
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int l = 0; l < PHILOX_LANES; l++) {
        c0[l] = (uint32_t)(blk0 + (uint64_t)l), c1[l] = (uint32_t)((blk0 + (uint64_t)l) >> 32);
        c2[l] = (uint32_t)draw, c3[l] = (uint32_t)(draw >> 32);
    }
    for (int r = 0; r < 10; r++) {
        for (int l = 0; l < PHILOX_LANES; l++) {
            uint64_t p0 = (uint64_t)PHILOX_M0 * c0[l];
            uint64_t p1 = (uint64_t)PHILOX_M1 * c2[l];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[l] ^ k0;
            uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[l] ^ k1;
            c1[l] = (uint32_t)p1;
            c3[l] = (uint32_t)p0;
            c0[l] = n0;
            c2[l] = n2;
        }
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    for (int l = 0; l < PHILOX_LANES; l++)
        out[4 * l] = c0[l], out[4 * l + 1] = c1[l], out[4 * l + 2] = c2[l], out[4 * l + 3] = c3[l];
}

#endif
