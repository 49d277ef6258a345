/* The RTP part of the C ABI: parse, find/add/remove extensions, rewrite,
 * build, status names and version, including every error path. */
#include "rtmedia.h"

#include <stdint.h>
#include <stdlib.h>

#include "check.h"

/* Opus packet with one-byte extensions: audio level (id 1) and transport-wide
 * sequence number (id 3), laid out by hand from RFC 3550 and RFC 8285. */
static const uint8_t OPUS[32] = {
    0x90, 0xef, 0x12, 0x34, 0x00, 0x01, 0xe2, 0x40, 0xde, 0xad, 0xbe,
    0xef, 0xbe, 0xde, 0x00, 0x02, 0x10, 0x9e, 0x31, 0x00, 0x2a, 0x00,
    0x00, 0x00, 0xfc, 0xff, 0xfe, 0x01, 0x02, 0x03, 0x04, 0x05,
};

static void test_version_and_status(void) {
    CHECK(rtm_version() == RTM_VERSION_NUMBER);
    CHECK((rtm_version() >> 16) == RTM_VERSION_MAJOR);
    CHECK(((rtm_version() >> 8) & 0xff) == RTM_VERSION_MINOR);
    CHECK((rtm_version() & 0xff) == RTM_VERSION_PATCH);
    CHECK(strcmp(rtm_status_str(RTM_OK), "ok") == 0);
    CHECK(strcmp(rtm_status_str(RTM_ERR_BUFFER_TOO_SMALL), "buffer too small") == 0);
    CHECK(strcmp(rtm_status_str(12345), "unknown status") == 0);
    /* RTM_NOTHING_DUE: a positive answer, named, and not a failure. */
    CHECK(RTM_NOTHING_DUE == 1);
    CHECK(strcmp(rtm_status_str(RTM_NOTHING_DUE), "nothing due now") == 0);
    CHECK(!RTM_FAILED(RTM_OK) && !RTM_FAILED(RTM_NOTHING_DUE));
    CHECK(RTM_FAILED(RTM_ERR_NULL_POINTER) && RTM_FAILED(RTM_ERR_NOT_FOUND) && RTM_FAILED(RTM_ERR_BEFORE_KEYFRAME));
    const int32_t all[] = {RTM_OK,
                           RTM_NOTHING_DUE,
                           RTM_ERR_NULL_POINTER,
                           RTM_ERR_INVALID_ARGUMENT,
                           RTM_ERR_BUFFER_TOO_SMALL,
                           RTM_ERR_PANIC,
                           RTM_ERR_NOT_FOUND,
                           RTM_ERR_UNSUPPORTED,
                           RTM_ERR_TRUNCATED,
                           RTM_ERR_BAD_VERSION,
                           RTM_ERR_CSRC_PAST_END,
                           RTM_ERR_EXTENSION_PAST_END,
                           RTM_ERR_BAD_PADDING,
                           RTM_ERR_BAD_LENGTH,
                           RTM_ERR_MALFORMED,
                           RTM_ERR_AUTH_FAILED,
                           RTM_ERR_REPLAYED,
                           RTM_ERR_REPLAY_TOO_OLD,
                           RTM_ERR_SSRC_LIMIT,
                           RTM_ERR_BAD_KEY_LENGTH,
                           RTM_ERR_UNKNOWN_PROFILE};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *s = rtm_status_str(all[i]);
        CHECK(s != NULL && strcmp(s, "unknown status") != 0);
    }
}

static void test_parse(void) {
    rtm_rtp_header h;
    memset(&h, 0, sizeof h);
    CHECK_STATUS(rtm_rtp_parse(OPUS, sizeof OPUS, &h), RTM_OK);
    CHECK(h.marker && h.has_extension && !h.has_padding);
    CHECK(h.payload_type == 111 && h.sequence_number == 0x1234);
    CHECK(h.timestamp == 123456 && h.ssrc == 0xdeadbeef);
    CHECK(h.header_len == 24 && h.payload_offset == 24 && h.payload_len == 8);
    CHECK(h.extension_profile == 0xbede && h.extension_offset == 16 && h.extension_len == 8);

    size_t off = 0, n = 0;
    CHECK_STATUS(rtm_rtp_find_extension(OPUS, sizeof OPUS, 3, &off, &n), RTM_OK);
    CHECK(off == 19 && n == 2 && OPUS[off + 1] == 0x2a);
    CHECK_STATUS(rtm_rtp_find_extension(OPUS, sizeof OPUS, 7, &off, &n), RTM_ERR_NOT_FOUND);

    /* Every malformed shape has its own status. */
    uint8_t bad[32];
    CHECK_STATUS(rtm_rtp_parse(OPUS, 11, &h), RTM_ERR_TRUNCATED);
    /* A length no buffer has ((size_t)-1, a failed recv()): refused before
     * anything is read, *out untouched. */
    rtm_rtp_header untouched;
    memset(&untouched, 0x5a, sizeof untouched);
    CHECK_STATUS(rtm_rtp_parse(OPUS, (size_t)-1, &untouched), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_rtp_find_extension(OPUS, (size_t)-1, 3, &off, &n), RTM_ERR_INVALID_ARGUMENT);
    CHECK(((uint8_t *)&untouched)[0] == 0x5a && ((uint8_t *)&untouched)[sizeof untouched - 1] == 0x5a);
    memcpy(bad, OPUS, sizeof bad);
    bad[0] = 0x50;
    CHECK_STATUS(rtm_rtp_parse(bad, sizeof bad, &h), RTM_ERR_BAD_VERSION);
    memcpy(bad, OPUS, sizeof bad);
    bad[0] = 0x8f;
    CHECK_STATUS(rtm_rtp_parse(bad, sizeof bad, &h), RTM_ERR_CSRC_PAST_END);
    memcpy(bad, OPUS, sizeof bad);
    bad[15] = 9;
    CHECK_STATUS(rtm_rtp_parse(bad, sizeof bad, &h), RTM_ERR_EXTENSION_PAST_END);
    memcpy(bad, OPUS, sizeof bad);
    bad[0] |= 0x20;
    bad[31] = 0;
    CHECK_STATUS(rtm_rtp_parse(bad, sizeof bad, &h), RTM_ERR_BAD_PADDING);
    bad[31] = 200;
    CHECK_STATUS(rtm_rtp_parse(bad, sizeof bad, &h), RTM_ERR_BAD_PADDING);

    /* NULL handling. */
    CHECK_STATUS(rtm_rtp_parse(NULL, 12, &h), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtp_parse(NULL, 0, &h), RTM_ERR_TRUNCATED);
    CHECK_STATUS(rtm_rtp_parse(OPUS, sizeof OPUS, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtp_find_extension(OPUS, sizeof OPUS, 1, NULL, &n), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtp_find_extension(OPUS, sizeof OPUS, 1, &off, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtp_find_extension(NULL, 5, 1, &off, &n), RTM_ERR_NULL_POINTER);
}

/* Random bytes must never crash the parser (ASan/valgrind watch the reads).
 * Each buffer is allocated at its exact size so an over-read is caught. */
static void test_garbage(void) {
    uint32_t seed = 12345;
    int ok = 0, rejected = 0;
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)(seed % 80);
        uint8_t *buf = malloc(len ? len : 1);
        for (size_t j = 0; j < len; j++) {
            seed = seed * 1103515245u + 12345u;
            buf[j] = (uint8_t)(seed >> 16);
        }
        if (len > 0) buf[0] = (uint8_t)((buf[0] & 0x3f) | 0x80); /* mostly version 2 */
        rtm_rtp_header h;
        rtm_status s = rtm_rtp_parse(buf, len, &h);
        if (s == RTM_OK) {
            ok++;
            CHECK(h.payload_offset + h.payload_len + h.padding_len == len);
        } else {
            rejected++;
            CHECK(s <= RTM_ERR_TRUNCATED && s >= RTM_ERR_BAD_PADDING);
        }
        size_t off, n;
        (void)rtm_rtp_find_extension(buf, len, (uint8_t)(i % 16), &off, &n);
        free(buf);
        seed = seed * 1103515245u + 12345u;
    }
    CHECK(ok > 0 && rejected > 0);
}

static void test_rewrite(void) {
    uint8_t pkt[32];
    memcpy(pkt, OPUS, sizeof pkt);
    rtm_rtp_rewrite rw;
    memset(&rw, 0, sizeof rw);
    rw.set_sequence_number = true;
    rw.sequence_number = 0xbeef;
    rw.set_ssrc = true;
    rw.ssrc = 0x01020304;
    rw.set_marker = true;
    rw.marker = false;
    CHECK_STATUS(rtm_rtp_rewrite_header(pkt, sizeof pkt, &rw), RTM_OK);
    rtm_rtp_header h;
    CHECK_STATUS(rtm_rtp_parse(pkt, sizeof pkt, &h), RTM_OK);
    CHECK(h.sequence_number == 0xbeef && h.ssrc == 0x01020304 && !h.marker);
    CHECK(h.timestamp == 123456 && h.payload_type == 111);
    CHECK(memcmp(pkt + 24, OPUS + 24, 8) == 0);

    rw.set_payload_type = true;
    rw.payload_type = 200;
    CHECK_STATUS(rtm_rtp_rewrite_header(pkt, sizeof pkt, &rw), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_rtp_rewrite_header(pkt, sizeof pkt, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtp_rewrite_header(NULL, sizeof pkt, &rw), RTM_ERR_NULL_POINTER);
    rw.payload_type = 0;
    CHECK_STATUS(rtm_rtp_rewrite_header(pkt, 8, &rw), RTM_ERR_TRUNCATED);
}

static void test_extensions(void) {
    /* Exactly sized heap buffers so ASan catches any write past capacity. */
    uint8_t *pkt = calloc(48, 1);
    memcpy(pkt, OPUS, sizeof OPUS);
    size_t len = 0;
    const uint8_t mid[4] = {'a', 'b', 'c', 'd'};
    CHECK_STATUS(rtm_rtp_add_extension(pkt, 32, 48, 4, mid, sizeof mid, &len), RTM_OK);
    CHECK(len == 36);
    size_t off, n;
    CHECK_STATUS(rtm_rtp_find_extension(pkt, len, 4, &off, &n), RTM_OK);
    CHECK(n == 4 && memcmp(pkt + off, mid, 4) == 0);
    CHECK(memcmp(pkt + len - 8, OPUS + 24, 8) == 0);

    /* Too big for the capacity: refused, packet unchanged. */
    uint8_t before[48];
    memcpy(before, pkt, 48);
    const uint8_t big[16] = {0};
    size_t len2 = 999;
    CHECK_STATUS(rtm_rtp_add_extension(pkt, len, 40, 5, big, sizeof big, &len2), RTM_ERR_BUFFER_TOO_SMALL);
    CHECK(memcmp(before, pkt, 48) == 0 && len2 == 999);
    /* One-byte block cannot hold id 15 or a 17-byte value. */
    CHECK_STATUS(rtm_rtp_add_extension(pkt, len, 48, 15, big, 1, &len2), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_rtp_add_extension(pkt, len, 48, 1, NULL, 1, &len2), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtp_add_extension(pkt, 49, 48, 1, big, 1, &len2), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_rtp_add_extension(pkt, len, 48, 1, big, 1, NULL), RTM_ERR_NULL_POINTER);

    CHECK_STATUS(rtm_rtp_remove_extension(pkt, len, 4, &len), RTM_OK);
    CHECK(len == 32 && memcmp(pkt, OPUS, 32) == 0);
    CHECK_STATUS(rtm_rtp_remove_extension(pkt, len, 4, &len), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_rtp_remove_extension(pkt, len, 1, &len), RTM_OK);
    CHECK_STATUS(rtm_rtp_remove_extension(pkt, len, 3, &len), RTM_OK);
    rtm_rtp_header h;
    CHECK_STATUS(rtm_rtp_parse(pkt, len, &h), RTM_OK);
    CHECK(!h.has_extension && len == 20 && h.payload_len == 8);
    CHECK_STATUS(rtm_rtp_remove_extension(NULL, len, 3, &len), RTM_ERR_NULL_POINTER);
    free(pkt);
}

static void test_build(void) {
    const uint32_t csrcs[2] = {0x11111111, 0x22222222};
    const uint8_t level[1] = {0x85};
    const uint8_t long_value[20] = {7};
    rtm_rtp_extension exts[2] = {{1, level, 1}, {200, long_value, sizeof long_value}};
    const uint8_t payload[5] = {1, 2, 3, 4, 5};
    rtm_rtp_build_params p;
    memset(&p, 0, sizeof p);
    p.marker = true;
    p.payload_type = 96;
    p.sequence_number = 65535;
    p.timestamp = 90000;
    p.ssrc = 42;
    p.csrcs = csrcs;
    p.csrc_count = 2;
    p.extensions = exts;
    p.extension_count = 2;
    p.payload = payload;
    p.payload_len = sizeof payload;
    p.padding = 3;

    size_t want;
    uint8_t *out = malloc(128);
    size_t len = 0;
    CHECK_STATUS(rtm_rtp_build(&p, out, 128, &len), RTM_OK);
    /* Two-byte form (id 200): (2+1) + (2+20) = 25 bytes, padded to 28. */
    want = 12 + 8 + 4 + 28 + 5 + 3;
    CHECK(len == want);
    rtm_rtp_header h;
    CHECK_STATUS(rtm_rtp_parse(out, len, &h), RTM_OK);
    CHECK(h.csrc_count == 2 && h.marker && h.payload_type == 96 && h.padding_len == 3);
    CHECK(h.extension_profile == 0x1000 && h.payload_len == 5);
    CHECK(memcmp(out + h.payload_offset, payload, 5) == 0);
    size_t off, n;
    CHECK_STATUS(rtm_rtp_find_extension(out, len, 200, &off, &n), RTM_OK);
    CHECK(n == 20 && out[off] == 7);

    size_t short_len = 777;
    CHECK_STATUS(rtm_rtp_build(&p, out, want - 1, &short_len), RTM_ERR_BUFFER_TOO_SMALL);
    CHECK(short_len == 777);
    p.csrc_count = 16;
    CHECK_STATUS(rtm_rtp_build(&p, out, 128, &len), RTM_ERR_INVALID_ARGUMENT);
    p.csrc_count = 2;
    p.extension_count = 17;
    CHECK_STATUS(rtm_rtp_build(&p, out, 128, &len), RTM_ERR_INVALID_ARGUMENT);
    p.extension_count = 2;
    p.payload_type = 128;
    CHECK_STATUS(rtm_rtp_build(&p, out, 128, &len), RTM_ERR_INVALID_ARGUMENT);
    p.payload_type = 96;
    p.payload = NULL;
    CHECK_STATUS(rtm_rtp_build(&p, out, 128, &len), RTM_ERR_NULL_POINTER);
    p.payload_len = 0;
    CHECK_STATUS(rtm_rtp_build(&p, out, 128, &len), RTM_OK);
    CHECK_STATUS(rtm_rtp_build(NULL, out, 128, &len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtp_build(&p, NULL, 128, &len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtp_build(&p, out, 128, NULL), RTM_ERR_NULL_POINTER);
    free(out);
}

int main(void) {
    test_version_and_status();
    test_parse();
    test_garbage();
    test_rewrite();
    test_extensions();
    test_build();
    return check_report("test_rtp");
}
