/* kt.h — a tiny test harness for the C tests: CHECK stops the binary with
 * file:line and the failed expression; RUN prints the test name. */
#ifndef KT_H
#define KT_H
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
            exit(1);                                                               \
        }                                                                          \
    } while (0)
#define CHECK_EQ(a, b)                                                                              \
    do {                                                                                            \
        unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b);              \
        if (_a != _b) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%llu != %llu)\n", __FILE__, __LINE__, \
                    #a, #b, _a, _b);                                                                \
            exit(1);                                                                                \
        }                                                                                           \
    } while (0)
#define RUN(fn)                              \
    do {                                     \
        printf("  %s\n", #fn);               \
        fflush(stdout);                      \
        fn();                                \
    } while (0)
#endif
