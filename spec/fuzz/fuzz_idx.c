/* fuzz_idx.c -- libFuzzer target: dagl_idx_read on arbitrary bytes (plain IDX, and gzip streams
 * when the input starts with the gzip magic: the seeds hold both). */
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    dagl_tensor *t;
    if (dagl_idx_read(fuzz_ctx, path, &t) == DAGL_OK) dagl_tensor_release(t);
    fuzz_check_flat();
    return 0;
}
