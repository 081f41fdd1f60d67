/* fuzz_safetensors.c -- libFuzzer target: dagl_safetensors_read on arbitrary bytes; a file that
 * loads is written back and read again (the writer's output must load to the same entries). */
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    dagl_tensor_dict d;
    if (dagl_safetensors_read(fuzz_ctx, path, &d) == DAGL_OK) {
        char out[] = "/tmp/dagl_fuzz_st_XXXXXX";
        int fd = mkstemp(out);
        if (fd < 0) abort();
        close(fd);
        dagl_tensor_dict back;
        if (dagl_safetensors_write(fuzz_ctx, out, &d) == DAGL_OK) {
            if (dagl_safetensors_read(fuzz_ctx, out, &back) != DAGL_OK || back.n != d.n) abort();
            dagl_tensor_dict_clear(&back);
        }
        unlink(out);
        dagl_tensor_dict_clear(&d);
    }
    fuzz_check_flat();
    return 0;
}
