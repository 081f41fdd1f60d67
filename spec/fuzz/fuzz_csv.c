/* fuzz_csv.c -- libFuzzer target: dagl_csv_read on arbitrary bytes; the first byte picks the
 * options (header row or not, delimiter), the rest is the file. */
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dagl_csv_options opt = {0, 0};
    if (size) {
        static const char delims[] = {0, ';', '\t', ' '};
        opt.header = data[0] & 1;
        opt.delimiter = delims[(data[0] >> 1) & 3];
        data++;
        size--;
    }
    const char *path = fuzz_file(data, size);
    dagl_tensor *t = NULL;
    char **names = NULL;
    int ncols = 0;
    if (dagl_csv_read(fuzz_ctx, path, &opt, &t, &names, &ncols) == DAGL_OK) {
        dagl_tensor_release(t);
        dagl_strings_free(names, ncols);
    }
    fuzz_check_flat();
    return 0;
}
