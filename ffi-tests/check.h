/* Minimal test harness for the C ABI tests: counts checks, reports failures
 * with file and line, and prints "N passed, N failed" at the end. */
#ifndef RTM_FFI_CHECK_H
#define RTM_FFI_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed;
static int check_failed;

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (cond) {                                                           \
            check_passed++;                                                   \
        } else {                                                              \
            check_failed++;                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                   \
        }                                                                     \
    } while (0)

/* Checks that a call returns the expected status and names both on failure. */
#define CHECK_STATUS(call, expected)                                          \
    do {                                                                      \
        rtm_status got_ = (call);                                             \
        if (got_ == (expected)) {                                             \
            check_passed++;                                                   \
        } else {                                                              \
            check_failed++;                                                   \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %s\n",      \
                    __FILE__, __LINE__, #call, (int)got_,                     \
                    rtm_status_str(got_), #expected);                         \
        }                                                                     \
    } while (0)

/* A growable output struct ready for a call: sets its struct_size to its
 * sizeof (the ABI's convention) and yields its address, e.g.
 * rtm_srtp_get_stats(ctx, SIZED(st)). Other fields are left as they are. */
#define SIZED(s) ((s).struct_size = sizeof(s), &(s))

static int check_report(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed == 0 ? 0 : 1;
}

#endif
