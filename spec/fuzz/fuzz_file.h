/* fuzz_file.h -- what the libFuzzer targets share: the core's loaders take paths, so each input
 * is written to one in-memory file (memfd) opened through /proc/self/fd; and one context whose
 * live bytes must be back to zero after every input (no leak on any error path). */
#ifndef DAGL_FUZZ_FILE_H
#define DAGL_FUZZ_FILE_H

#define _GNU_SOURCE /* memfd_create */

#include "dagl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static dagl_ctx *fuzz_ctx;
static char fuzz_path[64];
static int fuzz_fd = -1;

/* Writes the input as the whole content of the memfd; returns its path (aborts on setup errors,
 * which are not findings). */
static const char *fuzz_file(const uint8_t *data, size_t size)
{
    if (fuzz_fd < 0) {
        fuzz_fd = memfd_create("dagl_fuzz", 0);
        if (fuzz_fd < 0 || dagl_ctx_new(NULL, &fuzz_ctx) != DAGL_OK) abort();
        snprintf(fuzz_path, sizeof fuzz_path, "/proc/self/fd/%d", fuzz_fd);
    }
    if (ftruncate(fuzz_fd, 0) != 0) abort();
    if (size && pwrite(fuzz_fd, data, size, 0) != (ssize_t)size) abort();
    return fuzz_path;
}

/* Every tensor made from the input is released by now: the context's memory is back to zero. */
static void fuzz_check_flat(void)
{
    if (dagl_ctx_live_bytes(fuzz_ctx) != 0) {
        fprintf(stderr, "fuzz: %lld bytes still live after the input\n", (long long)dagl_ctx_live_bytes(fuzz_ctx));
        abort();
    }
}

#endif
