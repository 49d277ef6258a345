/* The RTCP part of the C ABI: walking compound packets, reading report
 * blocks and NACKs, and every builder, including error paths. */
#include "rtmedia.h"

#include <stdint.h>
#include <stdlib.h>

#include "check.h"

/* A real Chrome SR + SDES compound packet (CNAME "LcIfzXonDordSeW6"),
 * as recorded in pion/rtcp's issue #447 test vector. */
static const uint8_t CHROME_SR_SDES[] = {
    0x80, 0xc8, 0x00, 0x06, 0x2b, 0x7e, 0xc0, 0xc5, 0xe2, 0x28, 0x7b, 0xfa,
    0xbf, 0x4e, 0x2d, 0x51, 0x0a, 0x60, 0x93, 0x71, 0x00, 0x00, 0x00, 0x20,
    0x00, 0x00, 0x49, 0xe0, 0x81, 0xca, 0x00, 0x06, 0x2b, 0x7e, 0xc0, 0xc5,
    0x01, 0x10, 0x4c, 0x63, 0x49, 0x66, 0x7a, 0x58, 0x6f, 0x6e, 0x44, 0x6f,
    0x72, 0x64, 0x53, 0x65, 0x57, 0x36, 0x00, 0x00};

static void test_walk_real_packet(void) {
    size_t offset = 0;
    rtm_rtcp_info info;
    CHECK_STATUS(rtm_rtcp_next(CHROME_SR_SDES, sizeof CHROME_SR_SDES, &offset, &info), RTM_OK);
    CHECK(info.kind == RTM_RTCP_SR && info.packet_type == 200);
    CHECK(info.sender_ssrc == 0x2b7ec0c5 && info.offset == 0 && info.len == 28);
    CHECK(info.ntp_timestamp == 0xe2287bfabf4e2d51ull && info.rtp_timestamp == 0x0a609371);
    CHECK(info.packet_count == 32 && info.octet_count == 0x49e0 && info.report_count == 0);
    CHECK(offset == 28);
    CHECK_STATUS(rtm_rtcp_next(CHROME_SR_SDES, sizeof CHROME_SR_SDES, &offset, &info), RTM_OK);
    CHECK(info.kind == RTM_RTCP_SDES && info.sender_ssrc == 0x2b7ec0c5 && info.len == 28);
    CHECK_STATUS(rtm_rtcp_next(CHROME_SR_SDES, sizeof CHROME_SR_SDES, &offset, &info), RTM_ERR_NOT_FOUND);
    CHECK(offset == sizeof CHROME_SR_SDES);

    rtm_rtcp_report_block block;
    CHECK_STATUS(rtm_rtcp_get_report_block(CHROME_SR_SDES, 28, 0, &block), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_rtcp_get_report_block(CHROME_SR_SDES + 28, 28, 0, &block), RTM_ERR_INVALID_ARGUMENT);
}

static void test_errors(void) {
    uint8_t bad[sizeof CHROME_SR_SDES];
    size_t offset = 0;
    rtm_rtcp_info info;
    memcpy(bad, CHROME_SR_SDES, sizeof bad);
    bad[0] = 0x40; /* version 1 */
    CHECK_STATUS(rtm_rtcp_next(bad, sizeof bad, &offset, &info), RTM_ERR_BAD_VERSION);
    CHECK(offset == 0);
    memcpy(bad, CHROME_SR_SDES, sizeof bad);
    bad[3] = 0x40; /* length past the end */
    CHECK_STATUS(rtm_rtcp_next(bad, sizeof bad, &offset, &info), RTM_ERR_TRUNCATED);
    CHECK_STATUS(rtm_rtcp_next(CHROME_SR_SDES, 3, &offset, &info), RTM_ERR_TRUNCATED);
    offset = 1000;
    CHECK_STATUS(rtm_rtcp_next(CHROME_SR_SDES, sizeof CHROME_SR_SDES, &offset, &info), RTM_ERR_INVALID_ARGUMENT);
    offset = 0;
    CHECK_STATUS(rtm_rtcp_next(NULL, 8, &offset, &info), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtcp_next(CHROME_SR_SDES, 8, NULL, &info), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtcp_next(CHROME_SR_SDES, 8, &offset, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtcp_next(NULL, 0, &offset, &info), RTM_ERR_NOT_FOUND);

    /* Random bytes in exactly sized heap buffers: no crash, no over-read. */
    uint32_t seed = 777;
    for (int i = 0; i < 5000; i++) {
        size_t len = 4 + (seed % 96);
        uint8_t *buf = malloc(len);
        for (size_t j = 0; j < len; j++) {
            seed = seed * 1664525u + 1013904223u;
            buf[j] = (uint8_t)(seed >> 24);
        }
        buf[0] = (uint8_t)(0x80 | (buf[0] & 0x3f));
        buf[1] = (uint8_t)(200 + (buf[1] % 8));
        buf[2] = 0;
        buf[3] = (uint8_t)(buf[3] % 26);
        size_t off = 0;
        rtm_rtcp_info in;
        while (rtm_rtcp_next(buf, len, &off, &in) == RTM_OK) {
            CHECK(in.offset + in.len <= len && off == in.offset + in.len);
            uint16_t lost[64];
            size_t count;
            rtm_rtcp_report_block b;
            (void)rtm_rtcp_nack_lost(buf + in.offset, in.len, lost, 64, &count);
            for (size_t k = 0; k < in.report_count; k++) {
                CHECK_STATUS(rtm_rtcp_get_report_block(buf + in.offset, in.len, k, &b), RTM_OK);
            }
        }
        free(buf);
    }
}

static void test_feedback_builders(void) {
    uint8_t *out = malloc(64);
    size_t len = 0;
    CHECK_STATUS(rtm_rtcp_build_pli(0x11111111, 0x22222222, out, 64, &len), RTM_OK);
    const uint8_t pli[12] = {0x81, 0xce, 0x00, 0x02, 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22};
    CHECK(len == 12 && memcmp(out, pli, 12) == 0);
    size_t off = 0;
    rtm_rtcp_info info;
    CHECK_STATUS(rtm_rtcp_next(out, len, &off, &info), RTM_OK);
    CHECK(info.kind == RTM_RTCP_PLI && info.sender_ssrc == 0x11111111 && info.media_ssrc == 0x22222222);
    CHECK_STATUS(rtm_rtcp_build_pli(1, 2, out, 11, &len), RTM_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(rtm_rtcp_build_pli(1, 2, NULL, 64, &len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtcp_build_pli(1, 2, out, 64, NULL), RTM_ERR_NULL_POINTER);

    /* NACK across the sequence wrap: 65534, 65535, 0, 5, 40 -> two pairs. */
    const uint16_t lost[5] = {65534, 65535, 0, 5, 40};
    CHECK_STATUS(rtm_rtcp_build_nack(1, 2, lost, 5, out, 64, &len), RTM_OK);
    CHECK(len == 12 + 2 * 4);
    off = 0;
    CHECK_STATUS(rtm_rtcp_next(out, len, &off, &info), RTM_OK);
    CHECK(info.kind == RTM_RTCP_NACK && info.media_ssrc == 2);
    uint16_t got[17];
    size_t count = 0;
    CHECK_STATUS(rtm_rtcp_nack_lost(out, len, got, 17, &count), RTM_OK);
    CHECK(count == 5 && got[0] == 65534 && got[1] == 65535 && got[2] == 0 && got[3] == 5 && got[4] == 40);
    CHECK_STATUS(rtm_rtcp_nack_lost(out, len, got, 2, &count), RTM_ERR_BUFFER_TOO_SMALL);
    CHECK(count == 5);
    CHECK_STATUS(rtm_rtcp_nack_lost(pli, 12, got, 17, &count), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_rtcp_build_nack(1, 2, lost, 0, out, 64, &len), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_rtcp_build_nack(1, 2, NULL, 3, out, 64, &len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtcp_build_nack(1, 2, lost, 5, out, 19, &len), RTM_ERR_BUFFER_TOO_SMALL);

    CHECK_STATUS(rtm_rtcp_build_fir(1, 0x33333333, 9, out, 64, &len), RTM_OK);
    off = 0;
    CHECK_STATUS(rtm_rtcp_next(out, len, &off, &info), RTM_OK);
    CHECK(info.kind == RTM_RTCP_FIR && len == 20);

    const uint32_t ssrcs[2] = {7, 8};
    CHECK_STATUS(rtm_rtcp_build_remb(1, 2500000, ssrcs, 2, out, 64, &len), RTM_OK);
    off = 0;
    CHECK_STATUS(rtm_rtcp_next(out, len, &off, &info), RTM_OK);
    CHECK(info.kind == RTM_RTCP_REMB && info.remb_bitrate_bps <= 2500000 && info.remb_bitrate_bps > 2490000);
    CHECK_STATUS(rtm_rtcp_build_remb(1, 1, NULL, 2, out, 64, &len), RTM_ERR_NULL_POINTER);
    free(out);
}

static void test_report_builders(void) {
    uint8_t *out = malloc(256);
    size_t len = 0;
    rtm_rtcp_report_block blocks[2];
    memset(blocks, 0, sizeof blocks);
    blocks[0].ssrc = 0xabc;
    blocks[0].fraction_lost = 25;
    blocks[0].cumulative_lost = -3;
    blocks[0].extended_highest_seq = 70000;
    blocks[0].jitter = 120;
    blocks[0].last_sr = 0x12345678;
    blocks[0].delay_since_last_sr = 655;
    blocks[1].ssrc = 0xdef;
    CHECK_STATUS(rtm_rtcp_build_sr(5, 0x0102030405060708ull, 9000, 10, 11, blocks, 2, out, 256, &len), RTM_OK);
    CHECK(len == 28 + 2 * 24);
    size_t off = 0;
    rtm_rtcp_info info;
    CHECK_STATUS(rtm_rtcp_next(out, len, &off, &info), RTM_OK);
    CHECK(info.kind == RTM_RTCP_SR && info.report_count == 2 && info.ntp_timestamp == 0x0102030405060708ull);
    rtm_rtcp_report_block b;
    CHECK_STATUS(rtm_rtcp_get_report_block(out, len, 0, &b), RTM_OK);
    CHECK(b.ssrc == 0xabc && b.fraction_lost == 25 && b.cumulative_lost == -3);
    CHECK(b.extended_highest_seq == 70000 && b.jitter == 120 && b.last_sr == 0x12345678 && b.delay_since_last_sr == 655);
    CHECK_STATUS(rtm_rtcp_get_report_block(out, len, 1, &b), RTM_OK);
    CHECK(b.ssrc == 0xdef);
    CHECK_STATUS(rtm_rtcp_get_report_block(out, len, 2, &b), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_rtcp_get_report_block(out, len, 0, NULL), RTM_ERR_NULL_POINTER);
    rtm_rtcp_report_block many[32];
    memset(many, 0, sizeof many);
    CHECK_STATUS(rtm_rtcp_build_sr(5, 0, 0, 0, 0, many, 32, out, 256, &len), RTM_ERR_INVALID_ARGUMENT);

    CHECK_STATUS(rtm_rtcp_build_rr(6, blocks, 1, out, 256, &len), RTM_OK);
    CHECK(len == 32);
    off = 0;
    CHECK_STATUS(rtm_rtcp_next(out, len, &off, &info), RTM_OK);
    CHECK(info.kind == RTM_RTCP_RR && info.report_count == 1 && info.sender_ssrc == 6);
    CHECK_STATUS(rtm_rtcp_build_rr(6, NULL, 0, out, 256, &len), RTM_OK);
    CHECK(len == 8);
    CHECK_STATUS(rtm_rtcp_build_rr(6, blocks, 1, out, 31, &len), RTM_ERR_BUFFER_TOO_SMALL);

    /* A compound RR + SDES + BYE built piece by piece, then walked. */
    size_t total = 0, n = 0;
    CHECK_STATUS(rtm_rtcp_build_rr(6, blocks, 1, out, 256, &n), RTM_OK);
    total += n;
    const char *cname = "user@example";
    CHECK_STATUS(rtm_rtcp_build_sdes_cname(6, (const uint8_t *)cname, strlen(cname), out + total, 256 - total, &n), RTM_OK);
    total += n;
    const uint32_t gone[1] = {6};
    const char *reason = "bye";
    CHECK_STATUS(rtm_rtcp_build_bye(gone, 1, (const uint8_t *)reason, 3, out + total, 256 - total, &n), RTM_OK);
    total += n;
    off = 0;
    int kinds = 0;
    while (rtm_rtcp_next(out, total, &off, &info) == RTM_OK) kinds = kinds * 10 + (int)info.kind;
    CHECK(kinds == 234 && off == total);
    CHECK_STATUS(rtm_rtcp_build_sdes_cname(6, NULL, 0, out, 256, &n), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_rtcp_build_bye(gone, 1, NULL, 0, out, 256, &n), RTM_OK);
    CHECK_STATUS(rtm_rtcp_build_bye(NULL, 1, NULL, 0, out, 256, &n), RTM_ERR_NULL_POINTER);
    free(out);
}

/* Every RTM_ERR_INVALID_ARGUMENT case the builders' documentation names,
 * with a buffer large enough for anything (so that it is the argument, not
 * the capacity, that is refused), and nothing written. */
static void test_builder_invalid_arguments(void) {
    size_t cap = 1 << 20, len = 777;
    uint8_t *out = calloc(1, cap);
    uint32_t ssrcs[256];
    for (int i = 0; i < 256; i++) ssrcs[i] = (uint32_t)i + 1;
    uint8_t text[256];
    memset(text, 'a', sizeof text);
    rtm_rtcp_report_block blocks[32];
    memset(blocks, 0, sizeof blocks);
    /* NACK: no number; more PID+BLP pairs than the 16-bit length allows. */
    static uint16_t lost[70000];
    for (size_t i = 0; i < 70000; i++) lost[i] = (uint16_t)(i * 17);
    CHECK_STATUS(rtm_rtcp_build_nack(1, 2, lost, 0, out, cap, &len), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_rtcp_build_nack(1, 2, lost, 70000, out, cap, &len), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_rtcp_build_nack(1, 2, lost, (size_t)-1, out, cap, &len), RTM_ERR_INVALID_ARGUMENT);
    /* REMB: 255 SSRCs at most. */
    CHECK_STATUS(rtm_rtcp_build_remb(1, 1000, ssrcs, 255, out, cap, &len), RTM_OK);
    len = 777;
    CHECK_STATUS(rtm_rtcp_build_remb(1, 1000, ssrcs, 256, out, cap, &len), RTM_ERR_INVALID_ARGUMENT);
    /* SR and RR: 31 blocks at most; cumulative_lost in 24 bits. */
    CHECK_STATUS(rtm_rtcp_build_sr(1, 0, 0, 0, 0, blocks, 32, out, cap, &len), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_rtcp_build_rr(1, blocks, 32, out, cap, &len), RTM_ERR_INVALID_ARGUMENT);
    blocks[0].cumulative_lost = 8388607;
    blocks[1].cumulative_lost = -8388608;
    CHECK_STATUS(rtm_rtcp_build_rr(1, blocks, 2, out, cap, &len), RTM_OK);
    len = 777;
    blocks[1].cumulative_lost = 8388608;
    CHECK_STATUS(rtm_rtcp_build_sr(1, 0, 0, 0, 0, blocks, 2, out, cap, &len), RTM_ERR_INVALID_ARGUMENT);
    blocks[1].cumulative_lost = -8388609;
    CHECK_STATUS(rtm_rtcp_build_rr(1, blocks, 2, out, cap, &len), RTM_ERR_INVALID_ARGUMENT);
    /* SDES CNAME: 1..=255 bytes. */
    CHECK_STATUS(rtm_rtcp_build_sdes_cname(1, text, 0, out, cap, &len), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_rtcp_build_sdes_cname(1, text, 256, out, cap, &len), RTM_ERR_INVALID_ARGUMENT);
    /* BYE: 1..=31 SSRCs, a reason of at most 255 bytes. */
    CHECK_STATUS(rtm_rtcp_build_bye(ssrcs, 0, NULL, 0, out, cap, &len), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_rtcp_build_bye(ssrcs, 32, NULL, 0, out, cap, &len), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_rtcp_build_bye(ssrcs, 31, text, 256, out, cap, &len), RTM_ERR_INVALID_ARGUMENT);
    CHECK(len == 777); /* nothing written on any refusal */
    CHECK_STATUS(rtm_rtcp_build_bye(ssrcs, 31, text, 255, out, cap, &len), RTM_OK);
    free(out);
}

int main(void) {
    test_walk_real_packet();
    test_errors();
    test_feedback_builders();
    test_report_builders();
    test_builder_invalid_arguments();
    return check_report("test_rtcp");
}
