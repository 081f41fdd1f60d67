/* fuzz_npz.c -- libFuzzer target: dagl_npz_read on arbitrary bytes. */
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    dagl_tensor_dict d;
    if (dagl_npz_read(fuzz_ctx, path, &d) == DAGL_OK) dagl_tensor_dict_clear(&d);
    fuzz_check_flat();
    return 0;
}
