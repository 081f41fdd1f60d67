/* fuzz_npy.c -- libFuzzer target: dagl_npy_read on arbitrary bytes. */
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    dagl_tensor *t = NULL;
    if (dagl_npy_read(fuzz_ctx, path, &t) == DAGL_OK) dagl_tensor_release(t);
    fuzz_check_flat();
    return 0;
}
