/* json.h -- a small strict JSON parser (RFC 8259) for file headers (safetensors). Internal. */
#ifndef DAGL_IO_JSON_H
#define DAGL_IO_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum dagl_json_type {
    DAGL_JSON_NULL, DAGL_JSON_BOOL, DAGL_JSON_NUMBER, DAGL_JSON_STRING, DAGL_JSON_ARRAY, DAGL_JSON_OBJECT
} dagl_json_type;

/* One parsed value. Numbers keep the double and, when the literal is an integer that fits,
 * the exact int64 (is_int set). Strings are NUL-terminated UTF-8 (len excludes the NUL; they
 * may hold NULs from \u0000). Objects keep their keys in file order (duplicates are rejected). */
typedef struct dagl_json {
    dagl_json_type type;
    int boolean;
    int is_int;
    int64_t integer;
    double number;
    char *str;
    size_t len;
    int n;                   /* array items / object members */
    struct dagl_json *items; /* n values */
    char **keys;             /* n keys (objects) */
} dagl_json;

/* Parses exactly one JSON value from text[0, len) (surrounding whitespace allowed). Returns 0
 * on success; else -1 with err holding "<what> at byte <offset>". *out must be freed with
 * dagl__json_free either way. */
int dagl__json_parse(const char *text, size_t len, dagl_json *out, char *err, size_t errsize);
void dagl__json_free(dagl_json *v);
/* The member `key` of an object, NULL when absent or v is not an object. */
const dagl_json *dagl__json_get(const dagl_json *v, const char *key);

#endif
