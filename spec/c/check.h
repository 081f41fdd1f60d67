/* check.h -- the assertions of the C unit tests: print file:line and the failed condition, exit 1. */
#ifndef DAGL_CHECK_H
#define DAGL_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                          \
    do {                                                                               \
        double check_a_ = (double)(a), check_b_ = (double)(b);                         \
        if (!(fabs(check_a_ - check_b_) <= (double)(tol))) {                           \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.17g, %s = %.17g (tol %g)\n", \
                    __FILE__, __LINE__, #a, check_a_, #b, check_b_, (double)(tol));    \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

#define CHECK_OK(st)                                                                   \
    do {                                                                               \
        int check_st_ = (int)(st);                                                     \
        if (check_st_ != 0) {                                                          \
            fprintf(stderr, "%s:%d: CHECK_OK failed: %s returned %d\n", __FILE__,      \
                    __LINE__, #st, check_st_);                                         \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

#define CHECK_STR(a, b)                                                                \
    do {                                                                               \
        const char *check_a_ = (a), *check_b_ = (b);                                   \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {               \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s\n  got:  \"%s\"\n  want: \"%s\"\n", \
                    __FILE__, __LINE__, #a, check_a_ ? check_a_ : "(null)",            \
                    check_b_ ? check_b_ : "(null)");                                   \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

#endif
