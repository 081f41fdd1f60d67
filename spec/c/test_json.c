/* test_json.c -- the strict JSON parser of file headers (src/io/json.c): values, escapes and
 * numbers decode exactly; malformed, truncated and hostile texts fail with an offset, never
 * crash (run under ASan in the sanitizer build). */
#include "check.h"
#include "io/json.h"

#include <stdlib.h>
#include <string.h>

static int parses(const char *text, dagl_json *v)
{
    char err[200];
    int r = dagl__json_parse(text, strlen(text), v, err, sizeof err);
    if (r) CHECK(strstr(err, "at byte") != NULL);
    return r == 0;
}

static void check_fails(const char *text)
{
    dagl_json v;
    if (parses(text, &v)) {
        fprintf(stderr, "parsed but should not: %s\n", text);
        exit(1);
    }
    dagl__json_free(&v);
}

int main(void)
{
    dagl_json v;
    /* a safetensors-like header */
    const char *doc = " {\"__metadata__\": {\"k\": \"v\"}, \"w\": {\"dtype\": \"F32\", \"shape\": [2, 3],"
                      " \"data_offsets\": [0, 24]}, \"t\": [true, false, null, -0.5e1, 9007199254740993]} ";
    CHECK(parses(doc, &v));
    CHECK(v.type == DAGL_JSON_OBJECT && v.n == 3);
    CHECK_STR(v.keys[1], "w");
    const dagl_json *w = dagl__json_get(&v, "w");
    const dagl_json *shape = dagl__json_get(w, "shape");
    CHECK(shape && shape->type == DAGL_JSON_ARRAY && shape->n == 2);
    CHECK(shape->items[1].is_int && shape->items[1].integer == 3);
    CHECK_STR(dagl__json_get(dagl__json_get(&v, "__metadata__"), "k")->str, "v");
    const dagl_json *t = dagl__json_get(&v, "t");
    CHECK(t->items[0].type == DAGL_JSON_BOOL && t->items[0].boolean == 1);
    CHECK(t->items[1].type == DAGL_JSON_BOOL && t->items[1].boolean == 0);
    CHECK(t->items[2].type == DAGL_JSON_NULL);
    CHECK(!t->items[3].is_int && t->items[3].number == -5.0);
    CHECK(t->items[4].is_int && t->items[4].integer == 9007199254740993LL); /* exact, not via double */
    CHECK(dagl__json_get(&v, "missing") == NULL);
    CHECK(dagl__json_get(w->items, "dtype") == NULL); /* not an object */
    dagl__json_free(&v);

    /* every proper prefix of an object is invalid */
    size_t n = strlen(doc);
    char err[200];
    for (size_t cut = 0; cut + 1 < n; cut++) {
        if (cut > 0 && doc[cut - 1] == '}') continue; /* " {...}" followed by spaces is whole */
        int r = dagl__json_parse(doc, cut, &v, err, sizeof err);
        dagl__json_free(&v);
        if (r == 0 && cut < n - 1) {
            fprintf(stderr, "prefix of %zu bytes parsed\n", cut);
            exit(1);
        }
    }

    /* escapes: \uXXXX to UTF-8, surrogate pairs, embedded NUL keeps its length */
    CHECK(parses("\"a\\\"b\\\\c\\/\\n\\u00e9\\u20ac\\ud83d\\ude00\\u0000z\"", &v));
    CHECK(v.type == DAGL_JSON_STRING && v.len == 18);
    CHECK(memcmp(v.str, "a\"b\\c/\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0z", 18) == 0);
    dagl__json_free(&v);

    /* integers beyond int64 keep only the double */
    CHECK(parses("[18446744073709551616, -9223372036854775808, 1e400]", &v));
    CHECK(!v.items[0].is_int && v.items[0].number == 18446744073709551616.0);
    CHECK(v.items[1].is_int && v.items[1].integer == INT64_MIN);
    dagl__json_free(&v);

    const char *bad[] = {
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{\"a\":1 \"b\":2}", "[1 2]",
        "01", "-", "1.", ".5", "1e", "+1", "0x10", "NaN", "Infinity", "tru", "nul", "falsey",
        "\"unterminated", "\"bad \\x escape\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
        "\"tab\tin string\"", "{\"a\":1,\"a\":2}", "[1] [2]", "'single'", "[1,2]x",
        "\"\\uZZZZ\"", "\"\\", "[\"a\\",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) check_fails(bad[i]);

    /* nesting deeper than the limit fails instead of exhausting the stack */
    size_t deep = 100000;
    char *d = malloc(2 * deep + 1);
    memset(d, '[', deep);
    memset(d + deep, ']', deep);
    d[2 * deep] = '\0';
    check_fails(d);
    memset(d, '{', deep);
    check_fails(d);
    free(d);
    CHECK(parses("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", &v)); /* 32 deep */
    dagl__json_free(&v);

    /* the error names the offset */
    dagl__json_parse("{\"a\": [1, 2,, 3]}", 17, &v, err, sizeof err);
    dagl__json_free(&v);
    CHECK(strstr(err, "at byte 12") != NULL);
    printf("json: ok\n");
    return 0;
}
