/* The log callback of the C ABI (rtm_log_set_callback): messages reach the
 * callback NUL-terminated with their stated length and level, rate-limited
 * (1st, 2nd, 4th, 8th... occurrence), filtered by level, and stop once the
 * callback is removed. The logged event: a mixer that never ticks, whose
 * participant input queue (capacity 2) overflows. */
#include "rtmedia.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

#define MAX_SEEN 64

typedef struct {
    int calls;
    int bad_len;   /* msg[len] != 0, or strlen(msg) != len, or len > 255 */
    int bad_level; /* not RTM_LOG_WARN */
    int empty;
    char last[256];
    rtm_log_level levels[MAX_SEEN];
} sink;

static void on_log(void *userdata, rtm_log_level level, const char *msg, size_t len) {
    sink *s = userdata;
    if (s->calls < MAX_SEEN) s->levels[s->calls] = level;
    s->calls++;
    if (msg == NULL || len > 255 || msg[len] != '\0' || strlen(msg) != len) {
        s->bad_len++;
        return;
    }
    if (len == 0) s->empty++;
    if (level != RTM_LOG_WARN) s->bad_level++;
    memcpy(s->last, msg, len + 1);
}

/* A fresh mixer (queue_capacity 2, never ticked) and `pushes` pushes into
 * its one participant: all but 2 are refused as queue full. Returns how
 * many were refused. */
static int overflow(int pushes) {
    rtm_mixer_config c;
    CHECK_STATUS(rtm_mixer_config_init(&c, sizeof c), RTM_OK);
    c.max_participants = 2;
    c.queue_capacity = 2;
    rtm_mixer_t *m = NULL;
    CHECK_STATUS(rtm_mixer_new(&c, &m), RTM_OK);
    rtm_mixer_input_t *in = NULL;
    CHECK_STATUS(rtm_mixer_add_participant(m, 1, 0x1001, 0x9001, false, &in), RTM_OK);
    const uint8_t pkt[12] = {0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0x10, 0x01};
    int refused = 0;
    for (int i = 0; i < pushes; i++) {
        rtm_status st = rtm_mixer_input_push(in, pkt, sizeof pkt, (uint64_t)i * 1000);
        if (i < 2) {
            CHECK_STATUS(st, RTM_OK);
        } else {
            CHECK_STATUS(st, RTM_ERR_QUEUE_FULL);
            refused++;
        }
    }
    rtm_mixer_stats st;
    CHECK_STATUS(rtm_mixer_get_stats(m, SIZED(st)), RTM_OK);
    CHECK(st.queue_drops == (uint64_t)refused);
    rtm_mixer_input_free(in);
    rtm_mixer_free(m);
    return refused;
}

/* An SRTP context for at most one SSRC: `ssrcs` streams protect one packet
 * each (all but the first refused with RTM_ERR_SSRC_LIMIT), then `forged`
 * packets of the first stream with a broken tag are unprotected
 * (RTM_ERR_AUTH_FAILED). Both are what an operator must hear about. */
static void srtp_trouble(int ssrcs, int forged) {
    static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static const uint8_t salt[14] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    rtm_srtp_config cfg;
    CHECK_STATUS(rtm_srtp_config_init(&cfg, sizeof cfg), RTM_OK);
    cfg.max_ssrcs = 1;
    rtm_srtp_t *tx = NULL, *rx = NULL;
    CHECK_STATUS(rtm_srtp_new(1 /* AES_CM_128_HMAC_SHA1_80 */, key, 16, salt, 14, &cfg, &tx), RTM_OK);
    CHECK_STATUS(rtm_srtp_new(1, key, 16, salt, 14, &cfg, &rx), RTM_OK);
    uint8_t buf[64];
    size_t n = 0;
    for (int i = 0; i < ssrcs; i++) {
        const uint8_t rtp[16] = {0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, (uint8_t)(i + 1), 1, 2, 3, 4};
        memcpy(buf, rtp, sizeof rtp);
        CHECK_STATUS(rtm_srtp_protect(tx, buf, sizeof rtp, sizeof buf, &n), i == 0 ? RTM_OK : RTM_ERR_SSRC_LIMIT);
    }
    const uint8_t rtp[16] = {0x80, 111, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4};
    memcpy(buf, rtp, sizeof rtp);
    CHECK_STATUS(rtm_srtp_protect(tx, buf, sizeof rtp, sizeof buf, &n), RTM_OK);
    buf[n - 1] ^= 1; /* a broken tag */
    for (int i = 0; i < forged; i++) {
        uint8_t copy[64];
        memcpy(copy, buf, n);
        size_t out = 0;
        CHECK_STATUS(rtm_srtp_unprotect(rx, copy, n, &out), RTM_ERR_AUTH_FAILED);
    }
    rtm_srtp_free(tx);
    rtm_srtp_free(rx);
}

/* SRTP's warnings: the full SSRC table and authentication failures, each
 * at its 1st, 2nd, 4th... occurrence, with the count. */
static void srtp_warnings(void) {
    sink s;
    memset(&s, 0, sizeof s);
    CHECK_STATUS(rtm_log_set_callback(on_log, &s, RTM_LOG_WARN), RTM_OK);
    srtp_trouble(11, 0); /* 10 refusals: logged at 1, 2, 4, 8 */
    CHECK(s.calls == 4 && s.bad_len == 0 && s.bad_level == 0);
    CHECK(strstr(s.last, "SSRC") != NULL && strstr(s.last, "max_ssrcs = 1") != NULL);
    CHECK(strstr(s.last, "8 refusals") != NULL);
    memset(&s, 0, sizeof s);
    srtp_trouble(1, 5); /* 5 failures: logged at 1, 2, 4 */
    printf("test_log: srtp, last: %s\n", s.last);
    CHECK(s.calls == 3 && s.bad_len == 0 && s.bad_level == 0);
    CHECK(strstr(s.last, "authentication failed (4 failures)") != NULL);
    CHECK_STATUS(rtm_log_set_callback(NULL, NULL, RTM_LOG_WARN), RTM_OK);
    /* Off: the same trouble delivers nothing. */
    memset(&s, 0, sizeof s);
    srtp_trouble(11, 5);
    CHECK(s.calls == 0);
}

int main(void) {
    sink s;
    memset(&s, 0, sizeof s);

    /* Invalid levels are refused (nothing installed). */
    CHECK_STATUS(rtm_log_set_callback(on_log, &s, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_log_set_callback(on_log, &s, RTM_LOG_DEBUG + 1), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_log_set_callback(on_log, &s, 255), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_log_set_callback(NULL, NULL, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK(overflow(100) == 98);
    CHECK(s.calls == 0);

    /* Installed at WARN: 98 drops log at drops 1, 2, 4, 8, 16, 32, 64. */
    CHECK_STATUS(rtm_log_set_callback(on_log, &s, RTM_LOG_WARN), RTM_OK);
    CHECK(overflow(100) == 98);
    printf("test_log: %d messages, last: %s\n", s.calls, s.last);
    CHECK(s.calls == 7);
    CHECK(s.bad_len == 0 && s.bad_level == 0 && s.empty == 0);
    for (int i = 0; i < s.calls && i < MAX_SEEN; i++) CHECK(s.levels[i] == RTM_LOG_WARN);
    CHECK(strstr(s.last, "queue full") != NULL);
    CHECK(strstr(s.last, "64") != NULL); /* the running count of the last one */

    /* More verbose levels still pass warnings. */
    memset(&s, 0, sizeof s);
    CHECK_STATUS(rtm_log_set_callback(on_log, &s, RTM_LOG_DEBUG), RTM_OK);
    CHECK(overflow(10) == 8); /* drops 1, 2, 4, 8 */
    CHECK(s.calls == 4 && s.bad_len == 0 && s.bad_level == 0);
    memset(&s, 0, sizeof s);
    CHECK_STATUS(rtm_log_set_callback(on_log, &s, RTM_LOG_INFO), RTM_OK);
    CHECK(overflow(10) == 8);
    CHECK(s.calls == 4 && s.bad_len == 0 && s.bad_level == 0);

    /* Level filtering: at ERROR, warnings are not delivered. */
    memset(&s, 0, sizeof s);
    CHECK_STATUS(rtm_log_set_callback(on_log, &s, RTM_LOG_ERROR), RTM_OK);
    CHECK(overflow(100) == 98);
    CHECK(s.calls == 0);

    /* A replacement callback gets the messages, the old one no more. */
    sink other;
    memset(&other, 0, sizeof other);
    memset(&s, 0, sizeof s);
    CHECK_STATUS(rtm_log_set_callback(on_log, &s, RTM_LOG_WARN), RTM_OK);
    CHECK_STATUS(rtm_log_set_callback(on_log, &other, RTM_LOG_WARN), RTM_OK);
    CHECK(overflow(5) == 3); /* drops 1, 2 */
    CHECK(s.calls == 0 && other.calls == 2 && other.bad_len == 0);

    /* An invalid level leaves the installed callback as it was. */
    CHECK_STATUS(rtm_log_set_callback(on_log, &s, 9), RTM_ERR_INVALID_ARGUMENT);
    CHECK(overflow(3) == 1); /* drop 1 */
    CHECK(s.calls == 0 && other.calls == 3);

    /* Removed (NULL): nothing more arrives. */
    CHECK_STATUS(rtm_log_set_callback(NULL, NULL, RTM_LOG_WARN), RTM_OK);
    memset(&s, 0, sizeof s);
    memset(&other, 0, sizeof other);
    CHECK(overflow(100) == 98);
    CHECK(s.calls == 0 && other.calls == 0);
    /* Removing twice is fine. */
    CHECK_STATUS(rtm_log_set_callback(NULL, NULL, RTM_LOG_DEBUG), RTM_OK);

    srtp_warnings();
    return check_report("test_log");
}
