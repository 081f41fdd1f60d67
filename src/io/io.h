/* io.h -- what the file readers and writers of src/io/ share: whole-file reads, writes through
 * `path.tmp` + rename, and raw little-endian element buffers turned into tensors. Internal. */
#ifndef DAGL_IO_IO_H
#define DAGL_IO_IO_H

#include "core/internal.h"

#include <stdio.h>

/* Element encodings found in files; all little-endian. The first four are stored as dagl stores
 * its dtypes (read straight into a tensor), the others are converted. */
typedef enum dagl_elem {
    DAGL_ELEM_F4, DAGL_ELEM_F8, DAGL_ELEM_I8, DAGL_ELEM_U1, DAGL_ELEM_I4, DAGL_ELEM_B1
} dagl_elem;
#define DAGL_ELEM_NATIVE_LAST DAGL_ELEM_U1

size_t dagl__elem_size(dagl_elem e);
/* The tensor dtype an element encoding loads as (u1 is uint8; i4 and b1 widen to int64). */
dagl_dtype dagl__elem_dtype(dagl_elem e);

/* A file open for reading, its size known: every read is checked against it first. */
typedef struct dagl_rfile {
    FILE *f;
    uint64_t size;
    const char *path;
} dagl_rfile;
dagl_status dagl__ropen(dagl_ctx *ctx, const char *what, const char *path, dagl_rfile *r);
void dagl__rclose(dagl_rfile *r);
/* Reads n bytes at `off`; DAGL_E_FORMAT ("past the end of the file") when they are not all there. */
dagl_status dagl__rread(dagl_ctx *ctx, const char *what, dagl_rfile *r, uint64_t off, void *dst, size_t n);
/* A tensor whose raw little-endian elements are at `off` in the file (read straight into the
 * tensor when no conversion is needed, so a big file is never held twice). */
dagl_status dagl__tensor_from_file(dagl_ctx *ctx, const char *what, dagl_rfile *r, uint64_t off, dagl_elem e,
                                   int ndim, const int64_t *shape, dagl_tensor **out);

/* Reads a whole file into a malloc'ed buffer (DAGL_E_IO naming `what` and the path). */
dagl_status dagl__read_file(dagl_ctx *ctx, const char *what, const char *path, unsigned char **buf,
                            size_t *len);

/* Checks a shape read from a file (ndim, non-negative sizes, element count * size without
 * overflow) and gives its byte size; the error names `what` (file and entry). */
dagl_status dagl__file_shape(dagl_ctx *ctx, const char *what, int ndim, const int64_t *shape,
                             size_t elem_size, size_t *nbytes);

/* A new tensor of `shape` from raw little-endian elements (exactly numel*size bytes at src). */
dagl_status dagl__tensor_from_elems(dagl_ctx *ctx, const char *what, dagl_elem e, int ndim,
                                    const int64_t *shape, const unsigned char *src, dagl_tensor **out);

/* A file being written as `path.tmp`: writes after a failure are skipped, and close renames it
 * over `path` only when every write succeeded (else the temporary file is removed). */
typedef struct dagl_wfile {
    FILE *f;
    char *tmp;
    const char *path;
    const char *what;
    int failed;
} dagl_wfile;
dagl_status dagl__wopen(dagl_ctx *ctx, const char *what, const char *path, dagl_wfile *w);
void dagl__wwrite(dagl_wfile *w, const void *p, size_t n);
dagl_status dagl__wclose(dagl_ctx *ctx, dagl_wfile *w);
/* Writes a tensor's elements in C order (a contiguous copy first when needed). */
void dagl__wwrite_tensor(dagl_ctx *ctx, dagl_wfile *w, const dagl_tensor *t);

/* Appends one entry to a dict (name copied, tensor reference taken over). */
dagl_status dagl__dict_add(dagl_ctx *ctx, dagl_tensor_dict *d, const char *name, size_t name_len,
                           dagl_tensor *t);
dagl_status dagl__dict_add_meta(dagl_ctx *ctx, dagl_tensor_dict *d, const char *key, const char *value);

/* Parses an .npy image held in memory (`what` names it in errors: "file.npz: entry 'w.npy'"). */
dagl_status dagl__npy_parse(dagl_ctx *ctx, const char *what, const unsigned char *buf, size_t len,
                            dagl_tensor **out);

#endif
