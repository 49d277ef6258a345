/* The SRTP part of the C ABI: every rtm_srtp_* / rtm_srtcp_* function,
 * including every error path: NULL pointers, unknown profiles, wrong key and
 * salt lengths, short capacity, truncated and random packets, the SSRC cap,
 * statistics, DTLS-SRTP keying material, per-profile overhead, round trips
 * between two contexts, and RFC 9335 (cryptex) known-answer vectors. */
#include "rtmedia.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

static const uint16_t PROFILE_IDS[6] = {1, 2, 3, 4, 7, 8};
static const size_t KEY_LEN[6] = {16, 16, 32, 32, 16, 32};
static const size_t SALT_LEN[6] = {14, 14, 14, 14, 12, 12};
static const size_t RTP_TRAILER[6] = {10, 4, 10, 4, 16, 16};
static const size_t RTCP_TRAILER[6] = {14, 14, 14, 14, 20, 20};

static const uint8_t KEY[32] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba,
                                0x98, 0x76, 0x54, 0x32, 0x10, 0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a,
                                0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0};
static const uint8_t SALT[14] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6,
                                 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad};

static uint32_t seed = 0x9e3779b9u;

static uint32_t rnd(void) {
    seed = seed * 1664525u + 1013904223u;
    return seed;
}

static void fill_random(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(rnd() >> 24);
}

static uint8_t *dup_exact(const uint8_t *p, size_t n) {
    uint8_t *d = malloc(n ? n : 1);
    if (n) memcpy(d, p, n);
    return d;
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The default configuration (rtm_srtp_config_init). */
static rtm_srtp_config srtp_defaults(void) {
    rtm_srtp_config cfg;
    memset(&cfg, 0xa5, sizeof cfg);
    CHECK_STATUS(rtm_srtp_config_init(&cfg, sizeof cfg), RTM_OK);
    CHECK(cfg.struct_size == sizeof cfg);
    return cfg;
}

/* A context for profile slot i with the test key; NULL config = defaults. */
static rtm_srtp_t *make_ctx(size_t i, const rtm_srtp_config *cfg) {
    rtm_srtp_t *ctx = NULL;
    CHECK_STATUS(rtm_srtp_new(PROFILE_IDS[i], KEY, KEY_LEN[i], SALT, SALT_LEN[i], cfg, &ctx), RTM_OK);
    CHECK(ctx != NULL);
    return ctx;
}

/* Plain RTP: 12-byte header, payload_len random bytes. Returns the length. */
static size_t make_rtp(uint8_t *out, uint32_t ssrc, uint16_t seq, size_t payload_len) {
    out[0] = 0x80;
    out[1] = 96;
    out[2] = (uint8_t)(seq >> 8);
    out[3] = (uint8_t)seq;
    out[4] = 0;
    out[5] = 0;
    out[6] = (uint8_t)(seq >> 4);
    out[7] = (uint8_t)(seq << 4);
    out[8] = (uint8_t)(ssrc >> 24);
    out[9] = (uint8_t)(ssrc >> 16);
    out[10] = (uint8_t)(ssrc >> 8);
    out[11] = (uint8_t)ssrc;
    fill_random(out + 12, payload_len);
    return 12 + payload_len;
}

/* A receiver report with no blocks plus an SDES CNAME, built with rtmedia. */
static size_t make_rtcp(uint8_t *out, size_t cap, uint32_t ssrc) {
    size_t n = 0, m = 0;
    static const uint8_t cname[] = "bob@example";
    CHECK_STATUS(rtm_rtcp_build_rr(ssrc, NULL, 0, out, cap, &n), RTM_OK);
    CHECK_STATUS(rtm_rtcp_build_sdes_cname(ssrc, cname, sizeof cname - 1, out + n, cap - n, &m), RTM_OK);
    return n + m;
}

/* Protects pkt[0..len] (copied into an exactly sized heap buffer of
 * len + trailer bytes); returns the buffer, *out_len its length. */
static uint8_t *protect_copy(rtm_srtp_t *ctx, bool rtcp, const uint8_t *pkt, size_t len, size_t trailer,
                             size_t *out_len) {
    uint8_t *buf = malloc(len + trailer);
    memcpy(buf, pkt, len);
    *out_len = 0;
    if (rtcp) CHECK_STATUS(rtm_srtcp_protect(ctx, buf, len, len + trailer, out_len), RTM_OK);
    else CHECK_STATUS(rtm_srtp_protect(ctx, buf, len, len + trailer, out_len), RTM_OK);
    return buf;
}

/* Unprotects ct[0..ct_len] in an exactly sized copy, expecting `want`; on
 * success the result must equal plain[0..plain_len], on failure the copy
 * and *out_len must be untouched. */
static void unprotect_expect(rtm_srtp_t *ctx, bool rtcp, const uint8_t *ct, size_t ct_len, const uint8_t *plain,
                             size_t plain_len, rtm_status want, int line) {
    uint8_t *buf = dup_exact(ct, ct_len);
    size_t out_len = 0x5a5a;
    rtm_status got = rtcp ? rtm_srtcp_unprotect(ctx, buf, ct_len, &out_len)
                          : rtm_srtp_unprotect(ctx, buf, ct_len, &out_len);
    if (got != want) {
        check_failed++;
        fprintf(stderr, "%s:%d: unprotect returned %s, expected %s\n", __FILE__, line, rtm_status_str(got),
                rtm_status_str(want));
    } else {
        check_passed++;
    }
    if (got == RTM_OK) {
        CHECK(out_len == plain_len && memcmp(buf, plain, plain_len) == 0);
    } else {
        CHECK(memcmp(buf, ct, ct_len) == 0);
        CHECK(out_len == 0x5a5a);
    }
    free(buf);
}

#define UNPROTECT_EXPECT(ctx, rtcp, ct, ct_len, plain, plain_len, want) \
    unprotect_expect(ctx, rtcp, ct, ct_len, plain, plain_len, want, __LINE__)

static void test_replay_window_bound(void) {
    rtm_srtp_config cfg = srtp_defaults();
    rtm_srtp_t *ctx = NULL;
    cfg.replay_window = RTM_SRTP_MAX_REPLAY_WINDOW;
    CHECK_STATUS(rtm_srtp_new(7, KEY, 16, SALT, 12, &cfg, &ctx), RTM_OK);
    rtm_srtp_free(ctx);
    ctx = NULL;
    cfg.replay_window = RTM_SRTP_MAX_REPLAY_WINDOW + 1;
    CHECK_STATUS(rtm_srtp_new(7, KEY, 16, SALT, 12, &cfg, &ctx), RTM_ERR_INVALID_ARGUMENT);
    cfg.replay_window = UINT32_MAX;
    CHECK_STATUS(rtm_srtp_new(7, KEY, 16, SALT, 12, &cfg, &ctx), RTM_ERR_INVALID_ARGUMENT);
    CHECK(ctx == NULL);
}

static void test_config_and_new(void) {
    rtm_srtp_config cfg = srtp_defaults();
    CHECK(cfg.replay_window == 1024 && cfg.max_ssrcs == 1024 && !cfg.cryptex);

    for (size_t i = 0; i < 6; i++) {
        rtm_srtp_t *ctx = NULL;
        CHECK_STATUS(rtm_srtp_new(PROFILE_IDS[i], KEY, KEY_LEN[i], SALT, SALT_LEN[i], NULL, &ctx), RTM_OK);
        CHECK(ctx != NULL);
        rtm_srtp_free(ctx);
        ctx = NULL;
        CHECK_STATUS(rtm_srtp_new(PROFILE_IDS[i], KEY, KEY_LEN[i], SALT, SALT_LEN[i], &cfg, &ctx), RTM_OK);
        rtm_srtp_free(ctx);

        /* Wrong lengths: the other key size, off by one, the other salt size. */
        rtm_srtp_t *sentinel = (rtm_srtp_t *)&cfg;
        ctx = sentinel;
        size_t other_key = KEY_LEN[i] == 16 ? 32 : 16;
        size_t other_salt = SALT_LEN[i] == 14 ? 12 : 14;
        CHECK_STATUS(rtm_srtp_new(PROFILE_IDS[i], KEY, other_key, SALT, SALT_LEN[i], NULL, &ctx),
                     RTM_ERR_BAD_KEY_LENGTH);
        CHECK_STATUS(rtm_srtp_new(PROFILE_IDS[i], KEY, KEY_LEN[i] - 1, SALT, SALT_LEN[i], NULL, &ctx),
                     RTM_ERR_BAD_KEY_LENGTH);
        CHECK_STATUS(rtm_srtp_new(PROFILE_IDS[i], KEY, KEY_LEN[i] + 1, SALT, SALT_LEN[i], NULL, &ctx),
                     RTM_ERR_BAD_KEY_LENGTH);
        CHECK_STATUS(rtm_srtp_new(PROFILE_IDS[i], KEY, KEY_LEN[i], SALT, other_salt, NULL, &ctx),
                     RTM_ERR_BAD_KEY_LENGTH);
        CHECK_STATUS(rtm_srtp_new(PROFILE_IDS[i], KEY, KEY_LEN[i], SALT, 13, NULL, &ctx), RTM_ERR_BAD_KEY_LENGTH);
        /* A NULL pointer with length 0 is not a NULL-pointer error. */
        CHECK_STATUS(rtm_srtp_new(PROFILE_IDS[i], NULL, 0, SALT, SALT_LEN[i], NULL, &ctx), RTM_ERR_BAD_KEY_LENGTH);
        CHECK_STATUS(rtm_srtp_new(PROFILE_IDS[i], KEY, KEY_LEN[i], NULL, 0, NULL, &ctx), RTM_ERR_BAD_KEY_LENGTH);
        CHECK(ctx == sentinel); /* out-parameter untouched on failure */
    }

    rtm_srtp_t *sentinel = (rtm_srtp_t *)&cfg;
    rtm_srtp_t *ctx = sentinel;
    const uint16_t unknown[] = {0, 5, 6, 9, 0x0100, 0xffff};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK_STATUS(rtm_srtp_new(unknown[i], KEY, 16, SALT, 14, NULL, &ctx), RTM_ERR_UNKNOWN_PROFILE);
        CHECK_STATUS(rtm_srtp_new(unknown[i], KEY, 16, SALT, 12, NULL, &ctx), RTM_ERR_UNKNOWN_PROFILE);
    }
    CHECK_STATUS(rtm_srtp_new(1, NULL, 16, SALT, 14, NULL, &ctx), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtp_new(1, KEY, 16, NULL, 14, NULL, &ctx), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtp_new(1, KEY, 16, SALT, 14, NULL, NULL), RTM_ERR_NULL_POINTER);
    cfg.replay_window = 0;
    CHECK_STATUS(rtm_srtp_new(1, KEY, 16, SALT, 14, &cfg, &ctx), RTM_ERR_INVALID_ARGUMENT);
    cfg = srtp_defaults();
    cfg.max_ssrcs = 0;
    CHECK_STATUS(rtm_srtp_new(1, KEY, 16, SALT, 14, &cfg, &ctx), RTM_ERR_INVALID_ARGUMENT);
    CHECK(ctx == sentinel);

    /* A window that is not a multiple of 64 is accepted (rounded up). */
    cfg = srtp_defaults();
    cfg.replay_window = 100;
    cfg.max_ssrcs = 1;
    ctx = NULL;
    CHECK_STATUS(rtm_srtp_new(7, KEY, 16, SALT, 12, &cfg, &ctx), RTM_OK);
    rtm_srtp_free(ctx);

    /* Growable config: a size below the first layout is refused and
     * nothing is written; a newer caller's larger struct gets zeroes in
     * the tail it alone knows, and a non-zero byte there is refused. */
    rtm_srtp_config small;
    memset(&small, 0xa5, sizeof small);
    CHECK_STATUS(rtm_srtp_config_init(&small, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_srtp_config_init(&small, sizeof small - 1), RTM_ERR_INVALID_ARGUMENT);
    for (size_t k = 0; k < sizeof small; k++) CHECK(((uint8_t *)&small)[k] == 0xa5);
    CHECK_STATUS(rtm_srtp_config_init(NULL, sizeof small), RTM_ERR_NULL_POINTER);
    /* A config whose struct_size was never set (0) is refused by new. */
    cfg = srtp_defaults();
    cfg.struct_size = 0;
    ctx = sentinel;
    CHECK_STATUS(rtm_srtp_new(7, KEY, 16, SALT, 12, &cfg, &ctx), RTM_ERR_INVALID_ARGUMENT);
    CHECK(ctx == sentinel);
    struct {
        rtm_srtp_config cfg;
        uint8_t newer[16];
    } big;
    memset(&big, 0xa5, sizeof big);
    CHECK_STATUS(rtm_srtp_config_init(&big.cfg, sizeof big), RTM_OK);
    CHECK(big.cfg.struct_size == sizeof big && big.cfg.replay_window == 1024 && big.cfg.max_ssrcs == 1024);
    for (size_t k = 0; k < sizeof big.newer; k++) CHECK(big.newer[k] == 0);
    ctx = NULL;
    CHECK_STATUS(rtm_srtp_new(7, KEY, 16, SALT, 12, &big.cfg, &ctx), RTM_OK);
    CHECK(ctx != NULL);
    rtm_srtp_free(ctx);
    big.newer[5] = 1;
    ctx = sentinel;
    CHECK_STATUS(rtm_srtp_new(7, KEY, 16, SALT, 12, &big.cfg, &ctx), RTM_ERR_UNSUPPORTED);
    CHECK(ctx == sentinel);

    rtm_srtp_free(NULL); /* no-op */
}

static void test_overhead(void) {
    for (size_t i = 0; i < 6; i++) {
        size_t rtp = 0, rtcp = 0;
        CHECK_STATUS(rtm_srtp_profile_overhead(PROFILE_IDS[i], &rtp, &rtcp), RTM_OK);
        CHECK(rtp == RTP_TRAILER[i] && rtcp == RTCP_TRAILER[i]);
        CHECK(rtp <= RTM_SRTP_MAX_TRAILER_LEN && rtcp <= RTM_SRTP_MAX_TRAILER_LEN);
    }
    CHECK(RTM_SRTP_MAX_TRAILER_LEN == 20);
    size_t a = 77, b = 88;
    CHECK_STATUS(rtm_srtp_profile_overhead(0, &a, &b), RTM_ERR_UNKNOWN_PROFILE);
    CHECK_STATUS(rtm_srtp_profile_overhead(5, &a, &b), RTM_ERR_UNKNOWN_PROFILE);
    CHECK_STATUS(rtm_srtp_profile_overhead(9, &a, &b), RTM_ERR_UNKNOWN_PROFILE);
    CHECK(a == 77 && b == 88);
    CHECK_STATUS(rtm_srtp_profile_overhead(1, NULL, &b), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtp_profile_overhead(1, &a, NULL), RTM_ERR_NULL_POINTER);
}

static void test_keying_material(void) {
    const size_t want_len[6] = {60, 60, 92, 92, 56, 88};
    uint8_t material[92];
    for (size_t i = 0; i < sizeof material; i++) material[i] = (uint8_t)i;

    for (size_t i = 0; i < 6; i++) {
        size_t len = 0;
        CHECK_STATUS(rtm_srtp_keying_material_len(PROFILE_IDS[i], &len), RTM_OK);
        CHECK(len == want_len[i] && len == 2 * (KEY_LEN[i] + SALT_LEN[i]));

        rtm_srtp_master_key client, server;
        memset(&client, 0xee, sizeof client);
        memset(&server, 0xee, sizeof server);
        CHECK_STATUS(rtm_srtp_split_keying_material(PROFILE_IDS[i], material, len, &client, &server), RTM_OK);
        size_t k = KEY_LEN[i], s = SALT_LEN[i];
        CHECK(client.key_len == k && server.key_len == k);
        CHECK(client.salt_len == s && server.salt_len == s);
        /* client_key | server_key | client_salt | server_salt */
        CHECK(memcmp(client.key, material, k) == 0);
        CHECK(memcmp(server.key, material + k, k) == 0);
        CHECK(memcmp(client.salt, material + 2 * k, s) == 0);
        CHECK(memcmp(server.salt, material + 2 * k + s, s) == 0);

        /* The halves work as master keys: client protects, server-side
         * context built from the client key unprotects. */
        rtm_srtp_t *tx = NULL, *rx = NULL;
        CHECK_STATUS(rtm_srtp_new(PROFILE_IDS[i], client.key, client.key_len, client.salt, client.salt_len, NULL,
                                  &tx),
                     RTM_OK);
        CHECK_STATUS(rtm_srtp_new(PROFILE_IDS[i], client.key, client.key_len, client.salt, client.salt_len, NULL,
                                  &rx),
                     RTM_OK);
        rtm_srtp_t *wrong = NULL;
        CHECK_STATUS(rtm_srtp_new(PROFILE_IDS[i], server.key, server.key_len, server.salt, server.salt_len, NULL,
                                  &wrong),
                     RTM_OK);
        uint8_t pkt[12 + 40];
        size_t n = make_rtp(pkt, 0x5eed, 1, 40), ct_len = 0;
        uint8_t *ct = protect_copy(tx, false, pkt, n, RTP_TRAILER[i], &ct_len);
        UNPROTECT_EXPECT(wrong, false, ct, ct_len, pkt, n, RTM_ERR_AUTH_FAILED);
        UNPROTECT_EXPECT(rx, false, ct, ct_len, pkt, n, RTM_OK);
        free(ct);
        rtm_srtp_free(tx);
        rtm_srtp_free(rx);
        rtm_srtp_free(wrong);

        /* Wrong material length, on both sides: outputs untouched. */
        memset(&client, 0xee, sizeof client);
        rtm_srtp_master_key before = client;
        CHECK_STATUS(rtm_srtp_split_keying_material(PROFILE_IDS[i], material, len - 1, &client, &server),
                     RTM_ERR_BAD_KEY_LENGTH);
        CHECK_STATUS(rtm_srtp_split_keying_material(PROFILE_IDS[i], material, len + 1, &client, &server),
                     RTM_ERR_BAD_KEY_LENGTH);
        CHECK(memcmp(&client, &before, sizeof client) == 0);
        CHECK_STATUS(rtm_srtp_split_keying_material(PROFILE_IDS[i], NULL, len, &client, &server),
                     RTM_ERR_NULL_POINTER);
        CHECK_STATUS(rtm_srtp_split_keying_material(PROFILE_IDS[i], material, len, NULL, &server),
                     RTM_ERR_NULL_POINTER);
        CHECK_STATUS(rtm_srtp_split_keying_material(PROFILE_IDS[i], material, len, &client, NULL),
                     RTM_ERR_NULL_POINTER);
    }
    size_t len = 1234;
    rtm_srtp_master_key c, s;
    CHECK_STATUS(rtm_srtp_keying_material_len(0, &len), RTM_ERR_UNKNOWN_PROFILE);
    CHECK_STATUS(rtm_srtp_keying_material_len(5, &len), RTM_ERR_UNKNOWN_PROFILE);
    CHECK_STATUS(rtm_srtp_keying_material_len(9, &len), RTM_ERR_UNKNOWN_PROFILE);
    CHECK(len == 1234);
    CHECK_STATUS(rtm_srtp_keying_material_len(1, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtp_split_keying_material(5, material, 60, &c, &s), RTM_ERR_UNKNOWN_PROFILE);
    CHECK_STATUS(rtm_srtp_split_keying_material(9, material, 60, &c, &s), RTM_ERR_UNKNOWN_PROFILE);
}

/* Protect with one context, unprotect with another holding the same key,
 * for RTP of several shapes and for RTCP. */
static void test_round_trip(void) {
    static const size_t payloads[] = {0, 1, 15, 16, 17, 160, 1200};
    for (size_t i = 0; i < 6; i++) {
        rtm_srtp_t *tx = make_ctx(i, NULL), *rx = make_ctx(i, NULL), *rx2 = make_ctx(i, NULL);
        uint16_t seq = 65530; /* the last packet wraps to 0, ROC 1 */
        for (size_t j = 0; j < sizeof payloads / sizeof payloads[0]; j++, seq++) {
            uint8_t pkt[12 + 1200];
            size_t n = make_rtp(pkt, 0xcafe0000u + (uint32_t)i, seq, payloads[j]);
            if (j == 3) { /* padding: 4 bytes, count byte last */
                pkt[0] |= 0x20;
                pkt[n - 1] = 4;
            }
            /* Spare room past the trailer must not be written. */
            size_t cap = n + RTP_TRAILER[i] + 8;
            uint8_t *buf = malloc(cap);
            memset(buf, 0xa5, cap);
            memcpy(buf, pkt, n);
            size_t out_len = 0;
            CHECK_STATUS(rtm_srtp_protect(tx, buf, n, cap, &out_len), RTM_OK);
            CHECK(out_len == n + RTP_TRAILER[i]);
            CHECK(memcmp(buf, pkt, 12) == 0); /* header in the clear */
            if (payloads[j] >= 16) CHECK(memcmp(buf + 12, pkt + 12, payloads[j]) != 0);
            for (size_t k = out_len; k < cap; k++) CHECK(buf[k] == 0xa5);
            UNPROTECT_EXPECT(rx, false, buf, out_len, pkt, n, RTM_OK);
            UNPROTECT_EXPECT(rx, false, buf, out_len, pkt, n, RTM_ERR_REPLAYED);
            /* Unprotect in place in the original buffer too (a second
             * receiver, so it follows the ROC across the wrap). */
            size_t plain_len = 0;
            CHECK_STATUS(rtm_srtp_unprotect(rx2, buf, out_len, &plain_len), RTM_OK);
            CHECK(plain_len == n && memcmp(buf, pkt, n) == 0);
            free(buf);
        }

        uint8_t rtcp[256];
        for (int j = 0; j < 3; j++) {
            size_t n = make_rtcp(rtcp, sizeof rtcp, 0xbeef0000u + (uint32_t)j % 2);
            size_t cap = n + RTCP_TRAILER[i] + 8, out_len = 0;
            uint8_t *buf = malloc(cap);
            memset(buf, 0xa5, cap);
            memcpy(buf, rtcp, n);
            CHECK_STATUS(rtm_srtcp_protect(tx, buf, n, cap, &out_len), RTM_OK);
            CHECK(out_len == n + RTCP_TRAILER[i]);
            CHECK(memcmp(buf, rtcp, 8) == 0);
            CHECK(memcmp(buf + 8, rtcp + 8, n - 8) != 0);
            /* E bit set: before the tag (RFC 3711) or after it (RFC 7714). */
            size_t word = i >= 4 ? n + 16 : n;
            CHECK(be32(buf + word) & 0x80000000u);
            for (size_t k = out_len; k < cap; k++) CHECK(buf[k] == 0xa5);
            UNPROTECT_EXPECT(rx, true, buf, out_len, rtcp, n, RTM_OK);
            UNPROTECT_EXPECT(rx, true, buf, out_len, rtcp, n, RTM_ERR_REPLAYED);
            free(buf);
        }
        rtm_srtp_free(tx);
        rtm_srtp_free(rx);
        rtm_srtp_free(rx2);
    }
}

/* Capacity one byte short: RTM_ERR_BUFFER_TOO_SMALL, nothing written, and no
 * index consumed (a later protect gives what a fresh context gives). */
static void test_capacity(void) {
    for (size_t i = 0; i < 6; i++) {
        rtm_srtp_t *tx = make_ctx(i, NULL), *fresh = make_ctx(i, NULL);
        uint8_t pkt[12 + 50];
        size_t n = make_rtp(pkt, 0x77, 100, 50);
        size_t cap = n + RTP_TRAILER[i] - 1;
        uint8_t *buf = malloc(cap);
        memset(buf, 0x3c, cap);
        memcpy(buf, pkt, n);
        uint8_t *before = dup_exact(buf, cap);
        size_t out_len = 4242;
        CHECK_STATUS(rtm_srtp_protect(tx, buf, n, cap, &out_len), RTM_ERR_BUFFER_TOO_SMALL);
        CHECK(memcmp(buf, before, cap) == 0 && out_len == 4242);
        CHECK_STATUS(rtm_srtp_protect(tx, buf, n, n, &out_len), RTM_ERR_BUFFER_TOO_SMALL);
        CHECK(memcmp(buf, before, cap) == 0 && out_len == 4242);
        free(buf);
        free(before);
        /* len > capacity (the bytes exist, the capacity says otherwise). */
        buf = dup_exact(pkt, n);
        CHECK_STATUS(rtm_srtp_protect(tx, buf, n, n - 1, &out_len), RTM_ERR_INVALID_ARGUMENT);
        CHECK(memcmp(buf, pkt, n) == 0 && out_len == 4242);
        free(buf);
        size_t a_len = 0, b_len = 0;
        uint8_t *a = protect_copy(tx, false, pkt, n, RTP_TRAILER[i], &a_len);
        uint8_t *b = protect_copy(fresh, false, pkt, n, RTP_TRAILER[i], &b_len);
        CHECK(a_len == b_len && memcmp(a, b, a_len) == 0);
        free(a);
        free(b);

        uint8_t rtcp[256];
        n = make_rtcp(rtcp, sizeof rtcp, 0x77);
        cap = n + RTCP_TRAILER[i] - 1;
        buf = malloc(cap);
        memset(buf, 0x3c, cap);
        memcpy(buf, rtcp, n);
        before = dup_exact(buf, cap);
        out_len = 4242;
        CHECK_STATUS(rtm_srtcp_protect(tx, buf, n, cap, &out_len), RTM_ERR_BUFFER_TOO_SMALL);
        CHECK(memcmp(buf, before, cap) == 0 && out_len == 4242);
        free(buf);
        free(before);
        buf = dup_exact(rtcp, n);
        CHECK_STATUS(rtm_srtcp_protect(tx, buf, n, n - 1, &out_len), RTM_ERR_INVALID_ARGUMENT);
        CHECK(memcmp(buf, rtcp, n) == 0 && out_len == 4242);
        free(buf);
        /* The failed SRTCP protect did not use up an SRTCP index. */
        a = protect_copy(tx, true, rtcp, n, RTCP_TRAILER[i], &a_len);
        b = protect_copy(fresh, true, rtcp, n, RTCP_TRAILER[i], &b_len);
        CHECK(a_len == b_len && memcmp(a, b, a_len) == 0);
        free(a);
        free(b);
        rtm_srtp_free(tx);
        rtm_srtp_free(fresh);
    }
}

static void test_null_and_malformed(void) {
    rtm_srtp_t *ctx = make_ctx(0, NULL);
    uint8_t pkt[12 + 20 + RTM_SRTP_MAX_TRAILER_LEN];
    memset(pkt, 0, sizeof pkt);
    size_t n = make_rtp(pkt, 1, 1, 20), out_len = 0;

    CHECK_STATUS(rtm_srtp_protect(NULL, pkt, n, sizeof pkt, &out_len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtp_protect(ctx, NULL, n, sizeof pkt, &out_len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtp_protect(ctx, pkt, n, sizeof pkt, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtp_unprotect(NULL, pkt, n, &out_len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtp_unprotect(ctx, NULL, n, &out_len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtp_unprotect(ctx, pkt, n, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtcp_protect(NULL, pkt, n, sizeof pkt, &out_len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtcp_protect(ctx, NULL, n, sizeof pkt, &out_len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtcp_protect(ctx, pkt, n, sizeof pkt, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtcp_unprotect(NULL, pkt, n, &out_len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtcp_unprotect(ctx, NULL, n, &out_len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtcp_unprotect(ctx, pkt, n, NULL), RTM_ERR_NULL_POINTER);
    /* NULL with length 0 is an empty packet, not a NULL-pointer error. */
    CHECK_STATUS(rtm_srtp_protect(ctx, NULL, 0, 0, &out_len), RTM_ERR_TRUNCATED);
    CHECK_STATUS(rtm_srtp_unprotect(ctx, NULL, 0, &out_len), RTM_ERR_TRUNCATED);
    CHECK_STATUS(rtm_srtcp_protect(ctx, NULL, 0, 0, &out_len), RTM_ERR_TRUNCATED);
    CHECK_STATUS(rtm_srtcp_unprotect(ctx, NULL, 0, &out_len), RTM_ERR_TRUNCATED);
    /* A length no buffer has ((size_t)-1, a failed recv()): refused before
     * anything is read, out_len and the buffer untouched. */
    out_len = 999;
    uint8_t before[sizeof pkt];
    memcpy(before, pkt, sizeof pkt);
    CHECK_STATUS(rtm_srtp_unprotect(ctx, pkt, (size_t)-1, &out_len), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_srtcp_unprotect(ctx, pkt, (size_t)-1, &out_len), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_srtp_protect(ctx, pkt, (size_t)-1, (size_t)-1, &out_len), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_srtcp_protect(ctx, pkt, (size_t)-1, (size_t)-1, &out_len), RTM_ERR_INVALID_ARGUMENT);
    CHECK(out_len == 999 && memcmp(before, pkt, sizeof pkt) == 0);

    /* Truncated and bad-version packets, in exactly sized buffers. */
    uint8_t *b = malloc(11 + 10);
    memcpy(b, pkt, 11 + 10);
    CHECK_STATUS(rtm_srtp_protect(ctx, b, 11, 11 + 10, &out_len), RTM_ERR_TRUNCATED);
    CHECK(memcmp(b, pkt, 11 + 10) == 0);
    free(b);
    b = dup_exact(pkt, 11);
    CHECK_STATUS(rtm_srtp_unprotect(ctx, b, 11, &out_len), RTM_ERR_TRUNCATED);
    CHECK(memcmp(b, pkt, 11) == 0);
    free(b);
    /* A whole header but no room for the 10-byte tag. */
    b = dup_exact(pkt, 12 + 9);
    CHECK_STATUS(rtm_srtp_unprotect(ctx, b, 12 + 9, &out_len), RTM_ERR_TRUNCATED);
    CHECK(memcmp(b, pkt, 21) == 0);
    free(b);
    uint8_t bad[12 + 20 + 10];
    memcpy(bad, pkt, sizeof bad);
    bad[0] = 0x40;
    CHECK_STATUS(rtm_srtp_protect(ctx, bad, n, sizeof bad, &out_len), RTM_ERR_BAD_VERSION);
    CHECK_STATUS(rtm_srtp_unprotect(ctx, bad, sizeof bad, &out_len), RTM_ERR_BAD_VERSION);
    CHECK(bad[0] == 0x40 && memcmp(bad + 1, pkt + 1, sizeof bad - 1) == 0);
    memcpy(bad, pkt, sizeof bad);
    bad[0] = 0x8f; /* 15 CSRCs: 72 bytes of header in a 32-byte packet */
    CHECK_STATUS(rtm_srtp_protect(ctx, bad, n, sizeof bad, &out_len), RTM_ERR_CSRC_PAST_END);
    memcpy(bad, pkt, sizeof bad);
    bad[0] = 0x90; /* extension header claiming 0xffff words */
    bad[12] = 0xbe;
    bad[13] = 0xde;
    bad[14] = 0xff;
    bad[15] = 0xff;
    CHECK_STATUS(rtm_srtp_protect(ctx, bad, n, sizeof bad, &out_len), RTM_ERR_EXTENSION_PAST_END);

    uint8_t rtcp[64];
    size_t rn = make_rtcp(rtcp, sizeof rtcp, 9);
    b = malloc(7 + 14);
    memcpy(b, rtcp, 7 + 14);
    CHECK_STATUS(rtm_srtcp_protect(ctx, b, 7, 7 + 14, &out_len), RTM_ERR_TRUNCATED);
    CHECK(memcmp(b, rtcp, 7 + 14) == 0);
    free(b);
    b = dup_exact(rtcp, 7);
    CHECK_STATUS(rtm_srtcp_unprotect(ctx, b, 7, &out_len), RTM_ERR_TRUNCATED);
    free(b);
    /* Header and SSRC but not the index word and tag. */
    b = dup_exact(rtcp, 8 + 13);
    CHECK_STATUS(rtm_srtcp_unprotect(ctx, b, 8 + 13, &out_len), RTM_ERR_TRUNCATED);
    CHECK(memcmp(b, rtcp, 21) == 0);
    free(b);
    uint8_t rbad[64 + 14];
    memcpy(rbad, rtcp, rn);
    rbad[0] = (uint8_t)((rbad[0] & 0x3f) | 0x40);
    CHECK_STATUS(rtm_srtcp_protect(ctx, rbad, rn, sizeof rbad, &out_len), RTM_ERR_BAD_VERSION);
    rtm_srtp_free(ctx);
}

static bool is_parse_status(rtm_status s) { return s <= RTM_ERR_TRUNCATED && s >= RTM_ERR_MALFORMED; }

/* Random bytes in exactly sized buffers: no crash, no over-read, never
 * accepted, buffer untouched, and no SSRC slot taken by a forgery. */
static void test_garbage(void) {
    for (size_t i = 0; i < 6; i++) {
        rtm_srtp_config cfg = srtp_defaults();
        cfg.max_ssrcs = 4;
        rtm_srtp_t *rx = make_ctx(i, &cfg);
        int rejected = 0, auth = 0;
        for (int k = 0; k < 3000; k++) {
            size_t len = (size_t)(rnd() % 120);
            uint8_t *buf = malloc(len ? len : 1);
            fill_random(buf, len);
            bool rtcp = k % 2 == 1;
            if (len > 0 && k % 8 != 0) buf[0] = (uint8_t)((buf[0] & 0x3f) | 0x80);
            if (rtcp && len > 1) buf[1] = (uint8_t)(200 + buf[1] % 7);
            if (rtcp && len > 3 && k % 4 == 1) {
                buf[2] = 0;
                buf[3] = (uint8_t)(len / 4 > 4 ? len / 4 - 4 : 1);
            }
            uint8_t *copy = dup_exact(buf, len);
            size_t out_len = 999;
            rtm_status s = rtcp ? rtm_srtcp_unprotect(rx, buf, len, &out_len)
                                : rtm_srtp_unprotect(rx, buf, len, &out_len);
            CHECK(s == RTM_ERR_AUTH_FAILED || s == RTM_ERR_UNSUPPORTED || is_parse_status(s));
            if (s != RTM_ERR_AUTH_FAILED && s != RTM_ERR_UNSUPPORTED && !is_parse_status(s))
                fprintf(stderr, "  garbage %s len %zu -> %s\n", rtcp ? "srtcp" : "srtp", len, rtm_status_str(s));
            CHECK(memcmp(buf, copy, len) == 0 && out_len == 999);
            rejected++;
            if (s == RTM_ERR_AUTH_FAILED) auth++;
            free(buf);
            free(copy);
        }
        CHECK(auth > 100); /* the mix reached the authentication check */
        rtm_srtp_stats st;
        CHECK_STATUS(rtm_srtp_get_stats(rx, SIZED(st)), RTM_OK);
        CHECK(st.rtp_unprotected == 0 && st.rtcp_unprotected == 0 && st.ssrc_limit_rejects == 0);
        CHECK(st.auth_failures == (uint64_t)auth);
        CHECK(st.auth_failures + st.malformed == (uint64_t)rejected);
        CHECK(st.replayed == 0 && st.too_old == 0);

        /* All four SSRC slots are still free for genuine packets. */
        rtm_srtp_t *tx = make_ctx(i, NULL);
        for (uint32_t ssrc = 1; ssrc <= 5; ssrc++) {
            uint8_t pkt[12 + 30];
            size_t n = make_rtp(pkt, ssrc, 7, 30), ct_len = 0;
            uint8_t *ct = protect_copy(tx, false, pkt, n, RTP_TRAILER[i], &ct_len);
            UNPROTECT_EXPECT(rx, false, ct, ct_len, pkt, n, ssrc <= 4 ? RTM_OK : RTM_ERR_SSRC_LIMIT);
            free(ct);
        }
        rtm_srtp_free(tx);
        rtm_srtp_free(rx);
    }

    /* Random packets through protect: either refused with the buffer
     * untouched, or protected so that a peer unprotects the same bytes. */
    rtm_srtp_config cfg = srtp_defaults();
    cfg.max_ssrcs = 4096;
    for (size_t i = 0; i < 6; i++) {
        rtm_srtp_t *tx = make_ctx(i, &cfg), *rx = make_ctx(i, &cfg);
        int ok = 0, refused = 0;
        for (int k = 0; k < 600; k++) {
            bool rtcp = k % 3 == 2;
            size_t len = (size_t)(rnd() % 100);
            size_t cap = len + (rtcp ? RTCP_TRAILER[i] : RTP_TRAILER[i]);
            uint8_t *buf = malloc(cap);
            fill_random(buf, cap);
            if (len > 0) buf[0] = (uint8_t)((buf[0] & (rtcp ? 0x1f : 0x0f)) | 0x80 | (k % 5 == 0 ? 0x20 : 0));
            if (rtcp && len > 3) {
                buf[1] = (uint8_t)(200 + buf[1] % 7);
                buf[2] = 0;
                buf[3] = (uint8_t)(len >= 4 ? len / 4 - 1 : 0);
            }
            uint8_t *copy = dup_exact(buf, cap);
            size_t out_len = 999;
            rtm_status s = rtcp ? rtm_srtcp_protect(tx, buf, len, cap, &out_len)
                                : rtm_srtp_protect(tx, buf, len, cap, &out_len);
            if (s == RTM_OK) {
                ok++;
                CHECK(out_len == cap);
                UNPROTECT_EXPECT(rx, rtcp, buf, out_len, copy, len, RTM_OK);
            } else {
                refused++;
                CHECK(is_parse_status(s));
                CHECK(memcmp(buf, copy, cap) == 0 && out_len == 999);
            }
            free(buf);
            free(copy);
        }
        CHECK(ok > 50 && refused > 50);
        rtm_srtp_free(tx);
        rtm_srtp_free(rx);
    }
}

/* max_ssrcs = 2: the third SSRC is refused on either side, counted, and
 * forged packets from new SSRCs do not take a slot. */
static void test_ssrc_limit(void) {
    rtm_srtp_config cfg = srtp_defaults();
    cfg.max_ssrcs = 2;
    for (size_t i = 0; i < 6; i++) {
        rtm_srtp_t *tx = make_ctx(i, NULL), *rx = make_ctx(i, &cfg), *capped_tx = make_ctx(i, &cfg);
        uint8_t pkt[12 + 24];
        size_t n, ct_len;
        uint8_t *ct;

        n = make_rtp(pkt, 0xa, 1, 24);
        ct = protect_copy(tx, false, pkt, n, RTP_TRAILER[i], &ct_len);
        UNPROTECT_EXPECT(rx, false, ct, ct_len, pkt, n, RTM_OK);
        free(ct);
        /* Forgeries from three new SSRCs: authentication fails, no slot. */
        for (uint32_t f = 0; f < 3; f++) {
            n = make_rtp(pkt, 0xf00 + f, 1, 24);
            uint8_t forged[12 + 24 + 16];
            memcpy(forged, pkt, n);
            fill_random(forged + n, RTP_TRAILER[i]);
            UNPROTECT_EXPECT(rx, false, forged, n + RTP_TRAILER[i], pkt, n, RTM_ERR_AUTH_FAILED);
        }
        n = make_rtp(pkt, 0xb, 1, 24);
        ct = protect_copy(tx, false, pkt, n, RTP_TRAILER[i], &ct_len);
        UNPROTECT_EXPECT(rx, false, ct, ct_len, pkt, n, RTM_OK);
        free(ct);
        n = make_rtp(pkt, 0xc, 1, 24);
        ct = protect_copy(tx, false, pkt, n, RTP_TRAILER[i], &ct_len);
        UNPROTECT_EXPECT(rx, false, ct, ct_len, pkt, n, RTM_ERR_SSRC_LIMIT);
        UNPROTECT_EXPECT(rx, false, ct, ct_len, pkt, n, RTM_ERR_SSRC_LIMIT);
        free(ct);
        /* The tracked ones still work. */
        n = make_rtp(pkt, 0xa, 2, 24);
        ct = protect_copy(tx, false, pkt, n, RTP_TRAILER[i], &ct_len);
        UNPROTECT_EXPECT(rx, false, ct, ct_len, pkt, n, RTM_OK);
        free(ct);
        rtm_srtp_stats st;
        CHECK_STATUS(rtm_srtp_get_stats(rx, SIZED(st)), RTM_OK);
        CHECK(st.ssrc_limit_rejects == 2 && st.rtp_unprotected == 3 && st.auth_failures == 3);
        /* Recovery from C: forget an SSRC that left, and the new one fits. */
        CHECK_STATUS(rtm_srtp_remove_ssrc(rx, 0x123456), RTM_ERR_NOT_FOUND);
        CHECK_STATUS(rtm_srtp_remove_ssrc(NULL, 0xb), RTM_ERR_NULL_POINTER);
        CHECK_STATUS(rtm_srtp_remove_ssrc(rx, 0xb), RTM_OK);
        CHECK_STATUS(rtm_srtp_remove_ssrc(rx, 0xb), RTM_ERR_NOT_FOUND);
        n = make_rtp(pkt, 0xc, 1, 24);
        ct = protect_copy(tx, false, pkt, n, RTP_TRAILER[i], &ct_len);
        UNPROTECT_EXPECT(rx, false, ct, ct_len, pkt, n, RTM_OK);
        free(ct);
        /* A stream whose first packets came after a wrap: RFC 3711 guesses
         * ROC 0 and fails for good; telling the ROC recovers it. The table
         * is full (0xa, 0xc): make room first. */
        CHECK_STATUS(rtm_srtp_set_receive_roc(rx, 0xd, 1, 5), RTM_ERR_SSRC_LIMIT);
        CHECK_STATUS(rtm_srtp_remove_ssrc(rx, 0xa), RTM_OK);
        if (i == 0 || i == 4) { /* one CM and one GCM profile: 65,542 packets each */
            rtm_srtp_t *wrap_tx = make_ctx(i, NULL);
            uint8_t *last = NULL;
            size_t last_len = 0;
            for (uint32_t k = 0; k <= 65536 + 5; k++) { /* seq wraps once: ROC 1 */
                n = make_rtp(pkt, 0xd, (uint16_t)k, 24);
                free(last);
                last = protect_copy(wrap_tx, false, pkt, n, RTP_TRAILER[i], &last_len);
            }
            UNPROTECT_EXPECT(rx, false, last, last_len, pkt, n, RTM_ERR_AUTH_FAILED);
            CHECK_STATUS(rtm_srtp_set_receive_roc(rx, 0xd, 1, 5), RTM_OK);
            CHECK_STATUS(rtm_srtp_set_receive_roc(NULL, 0xd, 1, 5), RTM_ERR_NULL_POINTER);
            UNPROTECT_EXPECT(rx, false, last, last_len, pkt, n, RTM_OK);
            free(last);
            rtm_srtp_free(wrap_tx);
        }

        /* Protect side. */
        for (uint32_t ssrc = 1; ssrc <= 3; ssrc++) {
            n = make_rtp(pkt, ssrc, 9, 24);
            uint8_t *buf = malloc(n + RTP_TRAILER[i]);
            memcpy(buf, pkt, n);
            size_t out_len = 999;
            rtm_status s = rtm_srtp_protect(capped_tx, buf, n, n + RTP_TRAILER[i], &out_len);
            if (ssrc <= 2) {
                CHECK(s == RTM_OK);
            } else {
                CHECK(s == RTM_ERR_SSRC_LIMIT);
                CHECK(memcmp(buf, pkt, n) == 0 && out_len == 999);
            }
            free(buf);
        }
        CHECK_STATUS(rtm_srtp_get_stats(capped_tx, SIZED(st)), RTM_OK);
        CHECK(st.ssrc_limit_rejects == 1 && st.rtp_protected == 2);
        rtm_srtp_free(capped_tx);

        /* SRTCP on a fresh capped context: per-SSRC index, same cap. */
        capped_tx = make_ctx(i, &cfg);
        uint8_t rtcp[64];
        for (uint32_t ssrc = 1; ssrc <= 3; ssrc++) {
            size_t rn = make_rtcp(rtcp, sizeof rtcp, ssrc);
            uint8_t *buf = malloc(rn + RTCP_TRAILER[i]);
            memcpy(buf, rtcp, rn);
            size_t out_len = 999;
            rtm_status s = rtm_srtcp_protect(capped_tx, buf, rn, rn + RTCP_TRAILER[i], &out_len);
            CHECK(s == (ssrc <= 2 ? RTM_OK : RTM_ERR_SSRC_LIMIT));
            if (s != RTM_OK) CHECK(memcmp(buf, rtcp, rn) == 0 && out_len == 999);
            free(buf);
        }
        rtm_srtp_free(capped_tx);
        rtm_srtp_free(tx);
        rtm_srtp_free(rx);
    }
}

/* Every counter after a known sequence, and rtm_srtp_get_stats' size rule. */
static void test_stats(void) {
    rtm_srtp_config cfg = srtp_defaults();
    cfg.max_ssrcs = 2;
    rtm_srtp_t *tx = make_ctx(1, NULL), *rx = make_ctx(1, &cfg);
    const size_t payload[5] = {20, 0, 100, 10, 10};
    const uint16_t seqs[5] = {1, 2, 3, 4, 2000};
    uint8_t *ct[5];
    size_t ct_len[5], plain_len[5];
    uint8_t plain[5][12 + 100];
    uint64_t bytes = 0;
    for (int k = 0; k < 5; k++) {
        plain_len[k] = make_rtp(plain[k], 0x51, seqs[k], payload[k]);
        ct[k] = protect_copy(tx, false, plain[k], plain_len[k], 4, &ct_len[k]);
        bytes += plain_len[k];
    }
    uint8_t rtcp[64];
    size_t rn = make_rtcp(rtcp, sizeof rtcp, 0x51), rct_len[2];
    uint8_t *rct[2];
    rct[0] = protect_copy(tx, true, rtcp, rn, 14, &rct_len[0]);
    rct[1] = protect_copy(tx, true, rtcp, rn, 14, &rct_len[1]);
    /* A refused protect is not counted as protected. */
    uint8_t small[12 + 4];
    size_t out_len;
    make_rtp(small, 0x51, 5, 4);
    CHECK_STATUS(rtm_srtp_protect(tx, small, 16, 16, &out_len), RTM_ERR_BUFFER_TOO_SMALL);

    rtm_srtp_stats st;
    memset(&st, 0xff, sizeof st);
    CHECK_STATUS(rtm_srtp_get_stats(tx, SIZED(st)), RTM_OK);
    CHECK(st.rtp_protected == 5 && st.rtp_protected_bytes == bytes);
    CHECK(st.rtcp_protected == 2 && st.rtp_unprotected == 0 && st.rtp_unprotected_bytes == 0);
    CHECK(st.rtcp_unprotected == 0 && st.auth_failures == 0 && st.replayed == 0 && st.too_old == 0);
    CHECK(st.ssrc_limit_rejects == 0);

    /* Receiver: 0,1,2 ok; 1 replayed; 4 (seq 2000) ok; 3 (seq 4) too old;
     * a tampered packet; two malformed; a second SSRC ok, a third refused;
     * two SRTCP ok, one SRTCP replayed. */
    UNPROTECT_EXPECT(rx, false, ct[0], ct_len[0], plain[0], plain_len[0], RTM_OK);
    UNPROTECT_EXPECT(rx, false, ct[1], ct_len[1], plain[1], plain_len[1], RTM_OK);
    UNPROTECT_EXPECT(rx, false, ct[2], ct_len[2], plain[2], plain_len[2], RTM_OK);
    UNPROTECT_EXPECT(rx, false, ct[1], ct_len[1], plain[1], plain_len[1], RTM_ERR_REPLAYED);
    UNPROTECT_EXPECT(rx, false, ct[4], ct_len[4], plain[4], plain_len[4], RTM_OK);
    UNPROTECT_EXPECT(rx, false, ct[3], ct_len[3], plain[3], plain_len[3], RTM_ERR_REPLAY_TOO_OLD);
    uint8_t *t = dup_exact(ct[3], ct_len[3]);
    t[2] = 0x07; /* seq 4 -> 0x0704, ahead of 2000: passes the window, fails auth */
    t[3] = 0xd4;
    UNPROTECT_EXPECT(rx, false, t, ct_len[3], plain[3], plain_len[3], RTM_ERR_AUTH_FAILED);
    t[0] = 0x40;
    UNPROTECT_EXPECT(rx, false, t, ct_len[3], plain[3], plain_len[3], RTM_ERR_BAD_VERSION);
    UNPROTECT_EXPECT(rx, false, t, 5, plain[3], plain_len[3], RTM_ERR_TRUNCATED);
    free(t);
    uint64_t rx_bytes = plain_len[0] + plain_len[1] + plain_len[2] + plain_len[4];
    for (uint32_t ssrc = 0x52; ssrc <= 0x53; ssrc++) {
        uint8_t p[12 + 8];
        size_t n = make_rtp(p, ssrc, 1, 8), l;
        uint8_t *c = protect_copy(tx, false, p, n, 4, &l);
        UNPROTECT_EXPECT(rx, false, c, l, p, n, ssrc == 0x52 ? RTM_OK : RTM_ERR_SSRC_LIMIT);
        if (ssrc == 0x52) rx_bytes += n;
        free(c);
    }
    UNPROTECT_EXPECT(rx, true, rct[1], rct_len[1], rtcp, rn, RTM_OK);
    UNPROTECT_EXPECT(rx, true, rct[0], rct_len[0], rtcp, rn, RTM_OK);
    UNPROTECT_EXPECT(rx, true, rct[0], rct_len[0], rtcp, rn, RTM_ERR_REPLAYED);

    memset(&st, 0xff, sizeof st);
    CHECK_STATUS(rtm_srtp_get_stats(rx, SIZED(st)), RTM_OK);
    CHECK(st.rtp_protected == 0 && st.rtp_protected_bytes == 0 && st.rtcp_protected == 0);
    CHECK(st.rtp_unprotected == 5);
    CHECK(st.rtp_unprotected_bytes == rx_bytes);
    CHECK(st.rtcp_unprotected == 2);
    CHECK(st.auth_failures == 1);
    CHECK(st.replayed == 2);
    CHECK(st.too_old == 1);
    CHECK(st.ssrc_limit_rejects == 1);
    CHECK(st.malformed == 2);

    /* struct_size below the first layout (0: never set, or a partial
     * struct): RTM_ERR_INVALID_ARGUMENT and nothing is written. */
    rtm_srtp_stats part;
    const size_t bad_sizes[] = {0, sizeof(size_t), sizeof part - 1};
    for (size_t b = 0; b < sizeof bad_sizes / sizeof bad_sizes[0]; b++) {
        memset(&part, 0xee, sizeof part);
        part.struct_size = bad_sizes[b];
        CHECK_STATUS(rtm_srtp_get_stats(rx, &part), RTM_ERR_INVALID_ARGUMENT);
        CHECK(part.struct_size == bad_sizes[b]);
        for (size_t k = sizeof(size_t); k < sizeof part; k++) CHECK(((uint8_t *)&part)[k] == 0xee);
    }
    /* A newer caller's larger struct: only the known bytes are written,
     * the tail is untouched and struct_size stays the caller's. */
    struct {
        rtm_srtp_stats st;
        uint8_t newer[16];
    } big;
    memset(&big, 0xee, sizeof big);
    big.st.struct_size = sizeof big;
    CHECK_STATUS(rtm_srtp_get_stats(rx, &big.st), RTM_OK);
    CHECK(big.st.struct_size == sizeof big);
    CHECK(memcmp((uint8_t *)&big.st + sizeof(size_t), (uint8_t *)&st + sizeof(size_t),
                 sizeof st - sizeof(size_t)) == 0);
    for (size_t k = 0; k < sizeof big.newer; k++) CHECK(big.newer[k] == 0xee);
    CHECK_STATUS(rtm_srtp_get_stats(NULL, SIZED(st)), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_srtp_get_stats(rx, NULL), RTM_ERR_NULL_POINTER);

    for (int k = 0; k < 5; k++) free(ct[k]);
    free(rct[0]);
    free(rct[1]);
    rtm_srtp_free(tx);
    rtm_srtp_free(rx);
}

/* ---- cryptex (RFC 9335) ------------------------------------------------ */

static size_t unhex(const char *s, uint8_t *out) {
    size_t n = 0;
    int hi = -1;
    for (; *s; s++) {
        int v;
        if (*s >= '0' && *s <= '9') v = *s - '0';
        else if (*s >= 'a' && *s <= 'f') v = *s - 'a' + 10;
        else continue;
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return n;
}

/* RFC 9335 appendix A: plaintext and the expected SRTP packet, ROC 0. */
static const char *const CRYPTEX_CM[][2] = {
    {"900f1235 decafbad cafebabe bede0001 51000200 abababab abababab abababab abababab",
     "900f1235 decafbad cafebabe c0de0001 eb923652 51c3e036 f8de27e9 c27ee3e0 b4651d9f bc4218a7 0244522f 34a5"},
    {"900f1236 decafbad cafebabe 10000001 05020002 abababab abababab abababab abababab",
     "900f1236 decafbad cafebabe c2de0001 4ed9cc4e 6a712b30 96c5ca77 339d4204 ce0d7739 6cab6958 5fbce381 94a5"},
    {"920f1238 decafbad cafebabe 0001e240 0000b26e bede0001 51000200 abababab abababab abababab abababab",
     "920f1238 decafbad cafebabe 8bb6e12b 5cff16dd c0de0001 92838c8c 09e58393 e1de3a9a 74734d67 45671338 "
     "c3acf11d a2df8423 bee0"},
    {"920f1239 decafbad cafebabe 0001e240 0000b26e 10000001 05020002 abababab abababab abababab abababab",
     "920f1239 decafbad cafebabe f70e513e b90b9b25 c2de0001 bbed4848 faa64466 5f3d7f34 125914e9 f4d0ae92 "
     "3c6f479b 95a0f7b5 3133"},
    {"920f123a decafbad cafebabe 0001e240 0000b26e bede0000 abababab abababab abababab abababab",
     "920f123a decafbad cafebabe 7130b6ab fe2ab0e3 c0de0000 e3d9f64b 25c9e74c b4cf8e43 fb92e378 1c2c0cea "
     "b6b3a499 a14c"},
    {"920f123b decafbad cafebabe 0001e240 0000b26e 10000000 abababab abababab abababab abababab",
     "920f123b decafbad cafebabe cbf24c12 4330e1c8 c2de0000 599dd45b c9d687b6 03e8b59d 771fd38e 88b170e0 "
     "cd31e125 eabe"},
};

static const char *const CRYPTEX_GCM[][2] = {
    {"900f1235 decafbad cafebabe bede0001 51000200 abababab abababab abababab abababab",
     "900f1235 decafbad cafebabe c0de0001 39972dc9 572c4d99 e8fc355d e743fb2e 94f9d8ff 54e72f41 93bbc5c7 "
     "4ffab0fa 9fa0fbeb"},
    {"900f1236 decafbad cafebabe 10000001 05020002 abababab abababab abababab abababab",
     "900f1236 decafbad cafebabe c2de0001 bb75a4c5 45cd1f41 3bdb7daa 2b1e3263 de313667 c9632490 81b35a65 "
     "f5cb6c88 b394235f"},
    {"920f1238 decafbad cafebabe 0001e240 0000b26e bede0001 51000200 abababab abababab abababab abababab",
     "920f1238 decafbad cafebabe 63bbccc4 a7f695c4 c0de0001 8ad7c71f ac70a80c 92866b4c 6ba98546 ef913586 "
     "e95ffaaf fe956885 bb0647a8 bc094ac8"},
    {"920f1239 decafbad cafebabe 0001e240 0000b26e 10000001 05020002 abababab abababab abababab abababab",
     "920f1239 decafbad cafebabe 3680524f 8d312b00 c2de0001 c78d1200 38422bc1 11a7187a 18246f98 0c059cc6 "
     "bc9df8b6 26394eca 344e4b05 d80fea83"},
    {"920f123a decafbad cafebabe 0001e240 0000b26e bede0000 abababab abababab abababab abababab",
     "920f123a decafbad cafebabe 15b6bb43 37906fff c0de0000 b7b96453 7a2b03ab 7ba5389c e9331712 6b5d974d "
     "f30c6884 dcb651c5 e120c1da"},
    {"920f123b decafbad cafebabe 0001e240 0000b26e 10000000 abababab abababab abababab abababab",
     "920f123b decafbad cafebabe dcb38c9e 48bf95f4 c2de0000 61ee432c f9203170 76613258 d3ce4236 c06ac429 "
     "681ad084 13512dc9 8b5207d8"},
};

static void print_hex(const char *label, const uint8_t *p, size_t n) {
    fprintf(stderr, "    %s:", label);
    for (size_t i = 0; i < n; i++) fprintf(stderr, "%s%02x", i % 4 ? "" : " ", p[i]);
    fputc('\n', stderr);
}

static void cryptex_vectors(uint16_t profile, const char *key_hex, const char *salt_hex, const char *const (*v)[2],
                            size_t count, size_t tag) {
    uint8_t key[16], salt[14];
    size_t kl = unhex(key_hex, key), sl = unhex(salt_hex, salt);
    rtm_srtp_config on = srtp_defaults();
    on.cryptex = true;
    rtm_srtp_t *tx = NULL, *rx = NULL, *rx_off = NULL;
    CHECK_STATUS(rtm_srtp_new(profile, key, kl, salt, sl, &on, &tx), RTM_OK);
    CHECK_STATUS(rtm_srtp_new(profile, key, kl, salt, sl, &on, &rx), RTM_OK);
    CHECK_STATUS(rtm_srtp_new(profile, key, kl, salt, sl, NULL, &rx_off), RTM_OK);
    for (size_t k = 0; k < count; k++) {
        uint8_t plain[64], want[80];
        size_t pn = unhex(v[k][0], plain), wn = unhex(v[k][1], want);
        CHECK(wn == pn + tag);
        uint8_t *buf = malloc(wn);
        memcpy(buf, plain, pn);
        size_t out_len = 0;
        CHECK_STATUS(rtm_srtp_protect(tx, buf, pn, wn, &out_len), RTM_OK);
        bool same = out_len == wn && memcmp(buf, want, wn) == 0;
        CHECK(same);
        if (!same) {
            fprintf(stderr, "  cryptex vector %zu of profile %u differs\n", k, profile);
            print_hex("plaintext", plain, pn);
            print_hex("expected ", want, wn);
            print_hex("rtmedia  ", buf, out_len <= wn ? out_len : wn);
        }
        free(buf);
        UNPROTECT_EXPECT(rx_off, false, want, wn, plain, pn, RTM_ERR_UNSUPPORTED);
        UNPROTECT_EXPECT(rx, false, want, wn, plain, pn, RTM_OK);
    }
    rtm_srtp_stats st;
    CHECK_STATUS(rtm_srtp_get_stats(rx_off, SIZED(st)), RTM_OK);
    CHECK(st.malformed == count && st.rtp_unprotected == 0);
    rtm_srtp_free(tx);
    rtm_srtp_free(rx);
    rtm_srtp_free(rx_off);
}

static void test_cryptex(void) {
    cryptex_vectors(1, "e1f97a0d3e018be0d64fa32c06de4139", "0ec675ad498afeebb6960b3aabe6", CRYPTEX_CM,
                    sizeof CRYPTEX_CM / sizeof CRYPTEX_CM[0], 10);
    cryptex_vectors(7, "000102030405060708090a0b0c0d0e0f", "a0a1a2a3a4a5a6a7a8a9aaab", CRYPTEX_GCM,
                    sizeof CRYPTEX_GCM / sizeof CRYPTEX_GCM[0], 16);

    rtm_srtp_config on = srtp_defaults();
    on.cryptex = true;
    for (size_t i = 0; i < 6; i++) {
        rtm_srtp_t *tx = make_ctx(i, &on), *rx = make_ctx(i, &on), *plain_tx = make_ctx(i, NULL),
                   *plain_rx = make_ctx(i, NULL);
        /* CSRCs without an extension: cryptex adds an empty 0xC0DE block,
         * 4 bytes more than the tag. */
        uint8_t pkt[12 + 8 + 30];
        make_rtp(pkt + 8, 0x99, 10, 30);
        memmove(pkt, pkt + 8, 12);
        pkt[0] = 0x82;
        memcpy(pkt + 12, "\x11\x11\x11\x11\x22\x22\x22\x22", 8);
        size_t n = sizeof pkt, cap = n + 4 + RTP_TRAILER[i];
        uint8_t *buf = malloc(cap);
        memcpy(buf, pkt, n);
        size_t out_len = 999;
        CHECK_STATUS(rtm_srtp_protect(tx, buf, n, cap - 1, &out_len), RTM_ERR_BUFFER_TOO_SMALL);
        CHECK(memcmp(buf, pkt, n) == 0 && out_len == 999);
        CHECK_STATUS(rtm_srtp_protect(tx, buf, n, cap, &out_len), RTM_OK);
        CHECK(out_len == cap);
        CHECK((buf[0] & 0x10) && buf[20] == 0xc0 && buf[21] == 0xde && buf[22] == 0 && buf[23] == 0);
        CHECK(memcmp(buf + 12, pkt + 12, 8) != 0); /* CSRCs encrypted */
        UNPROTECT_EXPECT(plain_rx, false, buf, out_len, pkt, n, RTM_ERR_UNSUPPORTED);
        uint8_t *c = dup_exact(buf, out_len);
        size_t pl = 0;
        CHECK_STATUS(rtm_srtp_unprotect(rx, c, out_len, &pl), RTM_OK);
        rtm_rtp_header h;
        CHECK_STATUS(rtm_rtp_parse(c, pl, &h), RTM_OK);
        CHECK(h.csrc_count == 2 && memcmp(c + 12, pkt + 12, 8) == 0);
        CHECK(h.payload_len == 30 && memcmp(c + h.payload_offset, pkt + 20, 30) == 0);
        free(c);
        free(buf);

        /* No CSRCs, no extension: cryptex changes nothing, so a receiver
         * without cryptex accepts it; and a cryptex receiver accepts an
         * ordinary 0xBEDE packet (RFC 9335 section 5.2). */
        uint8_t simple[12 + 20];
        n = make_rtp(simple, 0x98, 11, 20);
        size_t l = 0;
        uint8_t *ct = protect_copy(tx, false, simple, n, RTP_TRAILER[i], &l);
        UNPROTECT_EXPECT(plain_rx, false, ct, l, simple, n, RTM_OK);
        free(ct);
        uint8_t ext[12 + 8 + 20];
        memcpy(ext, simple, 12);
        ext[0] = 0x90;
        ext[3] = 12;
        memcpy(ext + 12, "\xbe\xde\x00\x01\x10\x7f\x00\x00", 8);
        memcpy(ext + 20, simple + 12, 20);
        ct = protect_copy(plain_tx, false, ext, sizeof ext, RTP_TRAILER[i], &l);
        CHECK(ct[12] == 0xbe && ct[13] == 0xde && memcmp(ct + 16, ext + 16, 4) == 0);
        UNPROTECT_EXPECT(rx, false, ct, l, ext, sizeof ext, RTM_OK);
        free(ct);
        rtm_srtp_free(tx);
        rtm_srtp_free(rx);
        rtm_srtp_free(plain_tx);
        rtm_srtp_free(plain_rx);
    }
}

int main(void) {
    test_config_and_new();
    test_replay_window_bound();
    test_overhead();
    test_keying_material();
    test_round_trip();
    test_capacity();
    test_null_and_malformed();
    test_garbage();
    test_ssrc_limit();
    test_stats();
    test_cryptex();
    return check_report("test_srtp");
}
