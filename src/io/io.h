/* io.h -- what the file readers and writers of src/io/ share: whole-file reads, writes through
 * `path.tmp` + rename, and raw little-endian element buffers turned into tensors. Internal. */
#ifndef DAGL_IO_IO_H
#define DAGL_IO_IO_H

#include "core/internal.h"

#include <stdio.h>

/* Element encodings found in files. The first four are stored as dagl stores its dtypes (read
 * straight into a tensor); big-endian floats (IDX) are read into the tensor and byte-swapped in
 * place; the other integers and bool are widened to int64 (so int32, int16 and int8 load as now). */
typedef enum dagl_elem {
    DAGL_ELEM_F4, DAGL_ELEM_F8, DAGL_ELEM_I8, DAGL_ELEM_U1, /* little-endian, as dagl stores them */
    DAGL_ELEM_F4_BE, DAGL_ELEM_F8_BE,                       /* byte-swapped in place */
    DAGL_ELEM_I4, DAGL_ELEM_B1, DAGL_ELEM_I1, DAGL_ELEM_I2_BE, DAGL_ELEM_I4_BE /* widened to int64 */
} dagl_elem;

size_t dagl__elem_size(dagl_elem e);
/* The tensor dtype an element encoding loads as (u1 is uint8; the f*_BE floats keep their width;
 * the other integers and bool widen to int64). */
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
/* Where a reader's bytes come from, in order: a region of a file, a zip entry (stored or
 * deflated: npz.c), a gzip stream (idx.c). read() gives exactly n bytes or fails with the error
 * set, naming `what`. `left` is at most how many bytes are still to come, exactly that many when
 * `exact` (a file region, a zip entry), else a bound (a gzip stream: its compressed size times
 * deflate's largest ratio), so a header claiming more than a file can hold fails before anything
 * is allocated for it. */
typedef struct dagl_src {
    dagl_status (*read)(dagl_ctx *ctx, struct dagl_src *s, void *dst, size_t n);
    const char *what;
    uint64_t left;
    int exact;
} dagl_src;

/* A source over bytes [off, off + len) of an open file (len clipped to the file's end). */
typedef struct dagl_file_src {
    dagl_src s;
    dagl_rfile *r;
    uint64_t pos;
} dagl_file_src;
void dagl__file_src(dagl_file_src *fs, const char *what, dagl_rfile *r, uint64_t off, uint64_t len);

/* A tensor of `shape` whose raw elements of encoding e come next from src: read straight into the
 * tensor when stored as dagl stores it (so a big file is read once, never held twice), swapped in
 * place for big-endian floats, else through a temporary and converted. */
dagl_status dagl__tensor_from_src(dagl_ctx *ctx, dagl_src *src, dagl_elem e, int ndim, const int64_t *shape,
                                  dagl_tensor **out);
/* dagl__tensor_from_src over the file's bytes from `off` on (the safetensors reader). */
dagl_status dagl__tensor_from_file(dagl_ctx *ctx, const char *what, dagl_rfile *r, uint64_t off, dagl_elem e,
                                   int ndim, const int64_t *shape, dagl_tensor **out);

/* Reads a whole file into a malloc'ed buffer (DAGL_E_IO naming `what` and the path). */
dagl_status dagl__read_file(dagl_ctx *ctx, const char *what, const char *path, unsigned char **buf,
                            size_t *len);
/* dagl__read_file, gunzipped by zlib when the file starts with gzip's magic (gunzip.c): every
 * member of the stream; truncated or corrupt streams are DAGL_E_FORMAT naming `what` and the path. */
dagl_status dagl__read_file_gz(dagl_ctx *ctx, const char *what, const char *path, unsigned char **buf,
                               size_t *len);

/* Checks a shape read from a file (ndim, non-negative sizes, element count * size without
 * overflow) and gives its byte size; the error names `what` (file and entry). */
dagl_status dagl__file_shape(dagl_ctx *ctx, const char *what, int ndim, const int64_t *shape,
                             size_t elem_size, size_t *nbytes);

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

/* An .npy image read from src (the header, then the data straight into the tensor); src->what
 * names it in errors ("load_npz 'f.npz': entry 'w.npy'"). Bytes after the data are left in src. */
dagl_status dagl__npy_from_src(dagl_ctx *ctx, dagl_src *src, dagl_tensor **out);

#endif
