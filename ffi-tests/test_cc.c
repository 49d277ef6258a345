/* The congestion-control part of the C ABI: transport-wide sequence numbers
 * (stamp and read), the RTCP walk's feedback kinds, transport-cc feedback
 * built and parsed back, the feedback recorder fed a seeded arrival pattern
 * (loss, reordering, duplicates, the 16-bit wrap), the estimator and the
 * pacer with every error path, an end-to-end loop through a simulated
 * 1 Mbit/s bottleneck, and random input into the feedback parsers. */
#include "rtmedia.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

#define EXT_ID 3

/* Deterministic pseudo-random numbers (xorshift64*). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

/* An RTP packet of `payload` bytes, with a one-byte-form extension block
 * holding the transport-wide sequence number `tseq` when `with_ext`. */
static size_t build_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, bool with_ext, uint16_t tseq,
                        size_t payload) {
    size_t at = 12;
    buf[0] = with_ext ? 0x90 : 0x80;
    buf[1] = 96;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    memset(buf + 4, 0, 4);
    buf[8] = (uint8_t)(ssrc >> 24);
    buf[9] = (uint8_t)(ssrc >> 16);
    buf[10] = (uint8_t)(ssrc >> 8);
    buf[11] = (uint8_t)ssrc;
    if (with_ext) {
        const uint8_t ext[8] = {0xbe, 0xde, 0, 1, (EXT_ID << 4) | 1, (uint8_t)(tseq >> 8),
                                (uint8_t)tseq, 0};
        memcpy(buf + at, ext, 8);
        at += 8;
    }
    memset(buf + at, 0x5a, payload);
    return at + payload;
}

/* ---- Transport-wide sequence numbers ------------------------------------ */

static void test_transport_seq(void) {
    uint8_t buf[1500];
    uint16_t seq = 0;
    size_t new_len = 0;
    size_t len = build_rtp(buf, 1, 0x1234, true, 0xfffe, 100);
    CHECK_STATUS(rtm_rtp_get_transport_seq(buf, len, EXT_ID, &seq), RTM_OK);
    CHECK(seq == 0xfffe);
    CHECK_STATUS(rtm_rtp_get_transport_seq(buf, len, 4, &seq), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_rtp_stamp_transport_seq(buf, len, sizeof buf, EXT_ID, 7, &new_len), RTM_OK);
    CHECK(new_len == len);
    CHECK_STATUS(rtm_rtp_get_transport_seq(buf, len, EXT_ID, &seq), RTM_OK);
    CHECK(seq == 7);
    /* Without an extension: not found, then added (the payload moves). */
    len = build_rtp(buf, 2, 0x1234, false, 0, 100);
    CHECK_STATUS(rtm_rtp_get_transport_seq(buf, len, EXT_ID, &seq), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_rtp_stamp_transport_seq(buf, len, len + 2, EXT_ID, 9, &new_len),
                 RTM_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(rtm_rtp_get_transport_seq(buf, len, EXT_ID, &seq), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_rtp_stamp_transport_seq(buf, len, sizeof buf, EXT_ID, 9, &new_len), RTM_OK);
    CHECK(new_len == len + 8);
    CHECK_STATUS(rtm_rtp_get_transport_seq(buf, new_len, EXT_ID, &seq), RTM_OK);
    CHECK(seq == 9);
    CHECK(buf[new_len - 1] == 0x5a && buf[12 + 8] == 0x5a);
    /* Errors. */
    CHECK_STATUS(rtm_rtp_get_transport_seq(NULL, 10, EXT_ID, &seq), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtp_get_transport_seq(buf, new_len, EXT_ID, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtp_get_transport_seq(buf, 5, EXT_ID, &seq), RTM_ERR_TRUNCATED);
    CHECK_STATUS(rtm_rtp_stamp_transport_seq(NULL, 10, 20, EXT_ID, 1, &new_len),
                 RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtp_stamp_transport_seq(buf, new_len, sizeof buf, EXT_ID, 1, NULL),
                 RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_rtp_stamp_transport_seq(buf, 100, 50, EXT_ID, 1, &new_len),
                 RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_rtp_stamp_transport_seq(buf, 4, sizeof buf, EXT_ID, 1, &new_len),
                 RTM_ERR_TRUNCATED);
    CHECK_STATUS(rtm_rtp_stamp_transport_seq(buf, new_len, sizeof buf, 0, 1, &new_len),
                 RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_rtp_get_transport_seq(buf, (size_t)-1, EXT_ID, &seq),
                 RTM_ERR_INVALID_ARGUMENT);
}

/* ---- transport-cc build and parse ---------------------------------------- */

static rtm_packet_result twcc_entry(uint16_t seq, bool received, int64_t arrival_us) {
    rtm_packet_result r;
    memset(&r, 0, sizeof r);
    r.id_kind = RTM_PACKET_ID_TRANSPORT_SEQ;
    r.seq = seq;
    r.received = received;
    r.ecn = RTM_ECN_NONE;
    r.arrival_us = arrival_us;
    return r;
}

static void test_build_parse(void) {
    rtm_packet_result in[40], out[40];
    uint8_t buf[512];
    size_t len = 0, used = 0, count = 0, i;
    rtm_cc_feedback_info info;
    /* 40 entries across the 16-bit wrap, every 5th lost. */
    for (i = 0; i < 40; i++) {
        in[i] = twcc_entry((uint16_t)(65520 + i), i % 5 != 2, 1000000 + (int64_t)i * 1500);
    }
    CHECK_STATUS(rtm_twcc_feedback_build(0x11, 0x22, 5, in, 40, buf, sizeof buf, &len, &used),
                 RTM_OK);
    CHECK(used == 40 && len % 4 == 0 && len >= RTM_TWCC_MIN_LEN);
    CHECK_STATUS(rtm_cc_feedback_parse(buf, len, SIZED(info), out, 40, &count), RTM_OK);
    CHECK(count == 40 && info.result_count == 40);
    CHECK(info.format == RTM_CC_FEEDBACK_TRANSPORT_CC && info.sender_ssrc == 0x11 &&
          info.media_ssrc == 0x22 && info.fb_pkt_count == 5 && info.base_seq == 65520);
    {
        int good = 1;
        for (i = 0; i < 40; i++) {
            good &= out[i].id_kind == RTM_PACKET_ID_TRANSPORT_SEQ;
            good &= out[i].seq == in[i].seq && out[i].received == in[i].received;
            good &= out[i].ecn == RTM_ECN_NONE;
            if (in[i].received && i > 0 && in[0].received) {
                /* Times are rounded to 250 us; differences survive. */
                good &= (out[i].arrival_us - out[0].arrival_us) ==
                        (in[i].arrival_us - in[0].arrival_us) / 250 * 250;
            }
        }
        CHECK(good);
    }
    /* The RTCP walk names it. */
    {
        size_t offset = 0;
        rtm_rtcp_info ri;
        CHECK_STATUS(rtm_rtcp_next(buf, len, &offset, &ri), RTM_OK);
        CHECK(ri.kind == RTM_RTCP_TRANSPORT_CC && ri.media_ssrc == 0x22 && ri.len == len);
    }
    /* Counting, short capacity, NULL info. */
    count = 0;
    CHECK_STATUS(rtm_cc_feedback_parse(buf, len, NULL, NULL, 0, &count),
                 RTM_ERR_BUFFER_TOO_SMALL);
    CHECK(count == 40);
    count = 0;
    CHECK_STATUS(rtm_cc_feedback_parse(buf, len, NULL, out, 39, &count), RTM_ERR_BUFFER_TOO_SMALL);
    CHECK(count == 40);
    CHECK_STATUS(rtm_cc_feedback_parse(buf, len, NULL, out, 40, &count), RTM_OK);
    /* Errors. */
    CHECK_STATUS(rtm_cc_feedback_parse(buf, len, NULL, out, 40, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_cc_feedback_parse(NULL, len, NULL, out, 40, &count), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_cc_feedback_parse(buf, len, NULL, NULL, 40, &count), RTM_ERR_NULL_POINTER);
    info.struct_size = 0;
    CHECK_STATUS(rtm_cc_feedback_parse(buf, len, &info, out, 40, &count),
                 RTM_ERR_INVALID_ARGUMENT);
    info.struct_size = 3;
    CHECK_STATUS(rtm_cc_feedback_parse(buf, len, &info, out, 40, &count),
                 RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_cc_feedback_parse(buf, len - 4, NULL, out, 40, &count), RTM_ERR_TRUNCATED);
    CHECK_STATUS(rtm_cc_feedback_parse(buf, 0, NULL, out, 40, &count), RTM_ERR_TRUNCATED);
    {
        /* A PLI is RTCP but not feedback for the estimator. */
        uint8_t pli[12];
        size_t pli_len = 0;
        CHECK_STATUS(rtm_rtcp_build_pli(1, 2, pli, sizeof pli, &pli_len), RTM_OK);
        CHECK_STATUS(rtm_cc_feedback_parse(pli, pli_len, NULL, out, 40, &count),
                     RTM_ERR_INVALID_ARGUMENT);
    }
    /* Build errors. */
    CHECK_STATUS(rtm_twcc_feedback_build(1, 2, 0, in, 0, buf, sizeof buf, &len, &used),
                 RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_twcc_feedback_build(1, 2, 0, NULL, 3, buf, sizeof buf, &len, &used),
                 RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_twcc_feedback_build(1, 2, 0, in, 3, NULL, sizeof buf, &len, &used),
                 RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_twcc_feedback_build(1, 2, 0, in, 3, buf, sizeof buf, NULL, &used),
                 RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_twcc_feedback_build(1, 2, 0, in, 3, buf, 8, &len, &used),
                 RTM_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(rtm_twcc_feedback_build(1, 2, 0, in, 3, buf, sizeof buf, &len, NULL), RTM_OK);
    {
        rtm_packet_result bad[2] = {in[1], in[0]};
        CHECK_STATUS(rtm_twcc_feedback_build(1, 2, 0, bad, 2, buf, sizeof buf, &len, &used),
                     RTM_ERR_INVALID_ARGUMENT);
        bad[0] = in[0];
        bad[1] = in[1];
        bad[1].id_kind = RTM_PACKET_ID_RTP;
        CHECK_STATUS(rtm_twcc_feedback_build(1, 2, 0, bad, 2, buf, sizeof buf, &len, &used),
                     RTM_ERR_INVALID_ARGUMENT);
        bad[1].id_kind = 77;
        CHECK_STATUS(rtm_twcc_feedback_build(1, 2, 0, bad, 2, buf, sizeof buf, &len, &used),
                     RTM_ERR_INVALID_ARGUMENT);
    }
    /* A small capacity writes a prefix: the rest goes in another packet. */
    CHECK_STATUS(rtm_twcc_feedback_build(1, 2, 0, in, 40, buf, 32, &len, &used), RTM_OK);
    CHECK(used > 0 && used < 40 && len <= 32);
}

/* ---- Feedback recorder --------------------------------------------------- */

#define REC_PACKETS 3000
#define REC_FIRST_SEQ 64000

static void test_recorder_errors(void) {
    rtm_feedback_recorder_config cfg;
    rtm_feedback_recorder_t *rec = NULL;
    rtm_feedback_recorder_stats st;
    uint8_t buf[1500];
    size_t len = 0;
    uint64_t at = 0;
    CHECK_STATUS(rtm_feedback_recorder_config_init(NULL, sizeof cfg), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_feedback_recorder_config_init(&cfg, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_feedback_recorder_config_init(&cfg, 3), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_feedback_recorder_config_init(&cfg, sizeof cfg), RTM_OK);
    CHECK(cfg.struct_size == sizeof cfg && cfg.interval_us == 100000 &&
          cfg.format == RTM_CC_FEEDBACK_TRANSPORT_CC);
    CHECK_STATUS(rtm_feedback_recorder_new(&cfg, NULL), RTM_ERR_NULL_POINTER);
    cfg.format = 9;
    CHECK_STATUS(rtm_feedback_recorder_new(&cfg, &rec), RTM_ERR_INVALID_ARGUMENT);
    rtm_feedback_recorder_config_init(&cfg, sizeof cfg);
    cfg.interval_us = 10;
    CHECK_STATUS(rtm_feedback_recorder_new(&cfg, &rec), RTM_ERR_INVALID_ARGUMENT);
    rtm_feedback_recorder_config_init(&cfg, sizeof cfg);
    cfg.window = 1000;
    CHECK_STATUS(rtm_feedback_recorder_new(&cfg, &rec), RTM_ERR_INVALID_ARGUMENT);
    rtm_feedback_recorder_config_init(&cfg, sizeof cfg);
    cfg.struct_size = 0;
    CHECK_STATUS(rtm_feedback_recorder_new(&cfg, &rec), RTM_ERR_INVALID_ARGUMENT);
    rtm_feedback_recorder_config_init(&cfg, sizeof cfg);
    cfg.rtcp_share_percent = 0;
    CHECK_STATUS(rtm_feedback_recorder_new(&cfg, &rec), RTM_ERR_INVALID_ARGUMENT);
    rtm_feedback_recorder_config_init(&cfg, sizeof cfg);
    cfg.max_packet_len = 10;
    CHECK_STATUS(rtm_feedback_recorder_new(&cfg, &rec), RTM_ERR_INVALID_ARGUMENT);
    CHECK(rec == NULL);
    CHECK_STATUS(rtm_feedback_recorder_new(NULL, &rec), RTM_OK);
    CHECK_STATUS(rtm_feedback_recorder_next_wakeup(rec, &at), RTM_NOTHING_DUE);
    CHECK_STATUS(rtm_feedback_recorder_poll(rec, 0, buf, sizeof buf, &len), RTM_NOTHING_DUE);
    CHECK_STATUS(rtm_feedback_recorder_on_rtp_packet(rec, 1, 2, 100, 0, 10),
                 RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_feedback_recorder_on_transport_packet(rec, 5, 100, 1000), RTM_OK);
    CHECK_STATUS(rtm_feedback_recorder_next_wakeup(rec, &at), RTM_OK);
    CHECK(at == 101000);
    CHECK_STATUS(rtm_feedback_recorder_next_wakeup(rec, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_feedback_recorder_poll(rec, at, buf, 10, &len), RTM_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(rtm_feedback_recorder_poll(rec, at, NULL, 0, &len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_feedback_recorder_poll(rec, at, buf, sizeof buf, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_feedback_recorder_poll(rec, at, buf, sizeof buf, &len), RTM_OK);
    CHECK(len >= RTM_TWCC_MIN_LEN);
    CHECK_STATUS(rtm_feedback_recorder_poll(rec, at, buf, sizeof buf, &len), RTM_NOTHING_DUE);
    CHECK_STATUS(rtm_feedback_recorder_get_stats(rec, SIZED(st)), RTM_OK);
    CHECK(st.packets == 1 && st.feedback_packets == 1 && st.feedback_bytes == len);
    st.struct_size = 0;
    CHECK_STATUS(rtm_feedback_recorder_get_stats(rec, &st), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_feedback_recorder_get_stats(NULL, SIZED(st)), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_feedback_recorder_get_stats(rec, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_feedback_recorder_on_transport_packet(NULL, 5, 100, 1000),
                 RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_feedback_recorder_on_rtp_packet(NULL, 1, 5, 100, 0, 1000),
                 RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_feedback_recorder_poll(NULL, 0, buf, sizeof buf, &len), RTM_ERR_NULL_POINTER);
    rtm_feedback_recorder_free(rec);
    rtm_feedback_recorder_free(NULL);

    /* RFC 8888: RTP ids, ECN, the CCFB kind in the RTCP walk. */
    rtm_feedback_recorder_config_init(&cfg, sizeof cfg);
    cfg.format = RTM_CC_FEEDBACK_CCFB;
    cfg.sender_ssrc = 0x77;
    CHECK_STATUS(rtm_feedback_recorder_new(&cfg, &rec), RTM_OK);
    CHECK_STATUS(rtm_feedback_recorder_on_transport_packet(rec, 5, 100, 1000),
                 RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_feedback_recorder_on_rtp_packet(rec, 0xaa, 10, 100, 4, 1000),
                 RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_feedback_recorder_on_rtp_packet(rec, 0xaa, 10, 100, 1, 1000), RTM_OK);
    CHECK_STATUS(rtm_feedback_recorder_on_rtp_packet(rec, 0xaa, 12, 100, 2, 3000), RTM_OK);
    CHECK_STATUS(rtm_feedback_recorder_poll(rec, 200000, buf, sizeof buf, &len), RTM_OK);
    {
        size_t offset = 0, count = 0;
        rtm_rtcp_info ri;
        rtm_cc_feedback_info info;
        rtm_packet_result out[8];
        CHECK_STATUS(rtm_rtcp_next(buf, len, &offset, &ri), RTM_OK);
        CHECK(ri.kind == RTM_RTCP_CCFB && ri.sender_ssrc == 0x77);
        CHECK_STATUS(rtm_cc_feedback_parse(buf, len, SIZED(info), out, 8, &count), RTM_OK);
        CHECK(info.format == RTM_CC_FEEDBACK_CCFB && count == 3);
        CHECK(out[0].id_kind == RTM_PACKET_ID_RTP && out[0].ssrc == 0xaa && out[0].seq == 10 &&
              out[0].received && out[0].ecn == 1);
        CHECK(out[1].seq == 11 && !out[1].received);
        CHECK(out[2].seq == 12 && out[2].received && out[2].ecn == 2 &&
              out[2].arrival_us - out[0].arrival_us > 1900 &&
              out[2].arrival_us - out[0].arrival_us < 2100);
    }
    rtm_feedback_recorder_free(rec);
}

/* A seeded arrival pattern (5% loss, reordering, 3% duplicates, across the
 * 16-bit wrap) into a recorder; every feedback parsed; every packet that
 * arrived is reported received exactly once. */
static void test_recorder_roundtrip(void) {
    rtm_feedback_recorder_t *rec = NULL;
    static int arrived[REC_PACKETS], reported[REC_PACKETS];
    static uint16_t order[REC_PACKETS];
    rtm_packet_result results[4096];
    uint8_t buf[1500];
    size_t i, len = 0, count = 0, feedbacks = 0;
    uint64_t now = 1000000;
    int bad_reports = 0, unreported = 0;
    unsigned swaps = 0, rereported = 0;
    rtm_feedback_recorder_stats st;
    memset(arrived, 0, sizeof arrived);
    memset(reported, 0, sizeof reported);
    for (i = 0; i < REC_PACKETS; i++) {
        order[i] = (uint16_t)i;
    }
    for (i = 0; i + 1 < REC_PACKETS; i++) {
        if (rnd() % 100 < 8) { /* reorder with the next one */
            uint16_t t = order[i];
            order[i] = order[i + 1];
            order[i + 1] = t;
            swaps++;
            i++;
        }
    }
    CHECK_STATUS(rtm_feedback_recorder_new(NULL, &rec), RTM_OK);
    for (i = 0; i < REC_PACKETS; i++) {
        uint16_t idx = order[i];
        uint16_t seq = (uint16_t)(REC_FIRST_SEQ + idx);
        now += 1000;
        if (rnd() % 100 < 5) {
            continue; /* lost */
        }
        CHECK_STATUS(rtm_feedback_recorder_on_transport_packet(rec, seq, 1000, now), RTM_OK);
        arrived[idx] = 1;
        if (rnd() % 100 < 3) {
            rtm_feedback_recorder_on_transport_packet(rec, seq, 1000, now);
        }
        for (;;) {
            rtm_status s = rtm_feedback_recorder_poll(rec, now, buf, sizeof buf, &len);
            size_t k;
            if (s != RTM_OK) {
                CHECK(s == RTM_NOTHING_DUE);
                break;
            }
            feedbacks++;
            if (rtm_cc_feedback_parse(buf, len, NULL, results, 4096, &count) != RTM_OK) {
                bad_reports++;
                continue;
            }
            for (k = 0; k < count; k++) {
                uint16_t j = (uint16_t)(results[k].seq - REC_FIRST_SEQ);
                if (j >= REC_PACKETS) {
                    bad_reports++;
                } else if (results[k].received) {
                    reported[j]++;
                }
            }
        }
    }
    /* Drain what is left. */
    now += 300000;
    while (rtm_feedback_recorder_poll(rec, now, buf, sizeof buf, &len) == RTM_OK) {
        size_t k;
        feedbacks++;
        CHECK_STATUS(rtm_cc_feedback_parse(buf, len, NULL, results, 4096, &count), RTM_OK);
        for (k = 0; k < count; k++) {
            uint16_t j = (uint16_t)(results[k].seq - REC_FIRST_SEQ);
            if (j < REC_PACKETS && results[k].received) {
                reported[j]++;
            }
        }
    }
    for (i = 0; i < REC_PACKETS; i++) {
        if (arrived[i] ? reported[i] < 1 : reported[i] != 0) {
            unreported++;
        }
        if (reported[i] > arrived[i]) {
            rereported += (unsigned)(reported[i] - arrived[i]);
        }
    }
    /* Every arrival reported received, nothing else; a second report only
     * when a late packet made the recorder report again from it (as
     * libwebrtc does; the estimator counts those as duplicates). */
    CHECK(bad_reports == 0);
    CHECK(unreported == 0);
    CHECK(rereported <= swaps);
    printf("recorder: %d packets, %u swapped, %zu feedbacks, %u re-reported after a late "
           "packet\n", REC_PACKETS, swaps, feedbacks, rereported);
    CHECK(feedbacks >= 25);
    CHECK_STATUS(rtm_feedback_recorder_get_stats(rec, SIZED(st)), RTM_OK);
    CHECK(st.duplicates > 0 && st.feedback_packets == feedbacks);
    {
        uint64_t n = 0;
        for (i = 0; i < REC_PACKETS; i++) {
            n += (uint64_t)arrived[i];
        }
        CHECK(st.packets == n);
    }
    rtm_feedback_recorder_free(rec);
}

/* ---- Estimator ----------------------------------------------------------- */

static void test_bwe_api(void) {
    rtm_bwe_config cfg;
    rtm_bwe_t *bwe = NULL;
    rtm_bwe_estimate est;
    rtm_bwe_stats st;
    rtm_probe_cluster probe;
    rtm_packet_result r[4];
    uint64_t at = 0;
    size_t taken = 7;
    CHECK_STATUS(rtm_bwe_config_init(NULL, sizeof cfg), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_bwe_config_init(&cfg, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_bwe_config_init(&cfg, sizeof cfg), RTM_OK);
    CHECK(cfg.start_bps == 300000 && cfg.initial_probes);
    cfg.min_bps = cfg.start_bps + 1;
    CHECK_STATUS(rtm_bwe_new(&cfg, 0, &bwe), RTM_ERR_INVALID_ARGUMENT);
    rtm_bwe_config_init(&cfg, sizeof cfg);
    cfg.min_bps = 0;
    CHECK_STATUS(rtm_bwe_new(&cfg, 0, &bwe), RTM_ERR_INVALID_ARGUMENT);
    rtm_bwe_config_init(&cfg, sizeof cfg);
    cfg.feedback_timeout_us = 0;
    CHECK_STATUS(rtm_bwe_new(&cfg, 0, &bwe), RTM_ERR_INVALID_ARGUMENT);
    rtm_bwe_config_init(&cfg, sizeof cfg);
    cfg.struct_size = 0;
    CHECK_STATUS(rtm_bwe_new(&cfg, 0, &bwe), RTM_ERR_INVALID_ARGUMENT);
    {
        /* A newer header's struct: unknown fields zero are fine, set are not. */
        struct {
            rtm_bwe_config c;
            uint64_t newer;
        } big;
        CHECK_STATUS(rtm_bwe_config_init(&big.c, sizeof big), RTM_OK);
        CHECK(big.c.struct_size == sizeof big && big.newer == 0);
        big.newer = 1;
        CHECK_STATUS(rtm_bwe_new(&big.c, 0, &bwe), RTM_ERR_UNSUPPORTED);
        big.newer = 0;
        CHECK_STATUS(rtm_bwe_new(&big.c, 0, &bwe), RTM_OK);
        rtm_bwe_free(bwe);
        bwe = NULL;
    }
    rtm_bwe_config_init(&cfg, sizeof cfg);
    CHECK_STATUS(rtm_bwe_new(&cfg, 0, NULL), RTM_ERR_NULL_POINTER);
    CHECK(bwe == NULL);
    CHECK_STATUS(rtm_bwe_new(&cfg, 1000, &bwe), RTM_OK);

    CHECK_STATUS(rtm_bwe_get_estimate(bwe, SIZED(est)), RTM_OK);
    CHECK(est.target_bps == 300000 && !est.has_rtt);
    est.struct_size = 0;
    CHECK_STATUS(rtm_bwe_get_estimate(bwe, &est), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_bwe_get_estimate(NULL, SIZED(est)), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_bwe_get_estimate(bwe, NULL), RTM_ERR_NULL_POINTER);

    /* Initial probes. */
    CHECK_STATUS(rtm_bwe_next_wakeup(bwe, &at), RTM_OK);
    CHECK(at == 1000);
    CHECK_STATUS(rtm_bwe_next_wakeup(bwe, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_bwe_next_wakeup(NULL, &at), RTM_ERR_NULL_POINTER);
    probe.struct_size = 0;
    CHECK_STATUS(rtm_bwe_poll_probe(bwe, 1000, &probe), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_bwe_poll_probe(bwe, 1000, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_bwe_poll_probe(bwe, 1000, SIZED(probe)), RTM_OK);
    CHECK(probe.id != RTM_NO_PROBE_CLUSTER && probe.rate_bps == 900000);
    CHECK_STATUS(rtm_bwe_poll_probe(bwe, 1000, SIZED(probe)), RTM_OK);
    CHECK(probe.rate_bps == 1800000);
    CHECK_STATUS(rtm_bwe_poll_probe(bwe, 1000, SIZED(probe)), RTM_NOTHING_DUE);

    /* Sent packets, feedback, bad ids. */
    CHECK_STATUS(rtm_bwe_on_sent(bwe, 2000, RTM_PACKET_ID_TRANSPORT_SEQ, 0, 1, 1200, 0), RTM_OK);
    CHECK_STATUS(rtm_bwe_on_sent(bwe, 3000, RTM_PACKET_ID_TRANSPORT_SEQ, 0, 2, 1200, 0), RTM_OK);
    CHECK_STATUS(rtm_bwe_on_sent(bwe, 3000, 2, 0, 3, 1200, 0), RTM_ERR_INVALID_ARGUMENT);
    /* (One transport uses one format: RTP ids are tested with RFC 8888 below.) */
    CHECK_STATUS(rtm_bwe_on_sent(NULL, 3000, 0, 0, 3, 1200, 0), RTM_ERR_NULL_POINTER);
    r[0] = twcc_entry(1, true, 50000);
    r[1] = twcc_entry(2, true, 51000);
    r[2] = twcc_entry(999, true, 52000);          /* never sent */
    r[3] = twcc_entry(1, true, 50000);            /* duplicate */
    CHECK_STATUS(rtm_bwe_on_feedback(bwe, 60000, r, 4), RTM_OK);
    CHECK_STATUS(rtm_bwe_on_feedback(bwe, 60000, NULL, 4), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_bwe_on_feedback(bwe, 60000, NULL, 0), RTM_OK);
    CHECK_STATUS(rtm_bwe_on_feedback(NULL, 60000, r, 4), RTM_ERR_NULL_POINTER);
    /* A `received` byte that is neither 0 nor 1 reads as true. */
    r[0] = twcc_entry(1, false, 0);
    memset(&r[0].received, 7, 1);
    CHECK_STATUS(rtm_bwe_on_feedback(bwe, 60000, r, 1), RTM_OK);
    r[0].id_kind = 9;
    CHECK_STATUS(rtm_bwe_on_feedback(bwe, 60000, r, 4), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_bwe_get_stats(bwe, SIZED(st)), RTM_OK);
    CHECK(st.packets_sent == 2 && st.bytes_sent == 2400 && st.packets_received == 2);
    CHECK(st.unknown == 1 && st.duplicates == 2 && st.feedbacks == 3);
    st.struct_size = 0;
    CHECK_STATUS(rtm_bwe_get_stats(bwe, &st), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_bwe_get_stats(NULL, SIZED(st)), RTM_ERR_NULL_POINTER);

    /* RTCP input. */
    {
        uint8_t fb[64];
        size_t len = 0;
        rtm_packet_result e = twcc_entry(2, true, 51000);
        CHECK_STATUS(rtm_twcc_feedback_build(1, 2, 0, &e, 1, fb, sizeof fb, &len, NULL), RTM_OK);
        CHECK_STATUS(rtm_bwe_on_rtcp(bwe, 70000, fb, len, &taken), RTM_OK);
        CHECK(taken == 1);
        CHECK_STATUS(rtm_bwe_on_rtcp(bwe, 70000, fb, len, NULL), RTM_OK);
        taken = 7;
        CHECK_STATUS(rtm_bwe_on_rtcp(bwe, 70000, fb, len - 4, &taken), RTM_ERR_TRUNCATED);
        CHECK(taken == 7);
        CHECK_STATUS(rtm_bwe_on_rtcp(bwe, 70000, NULL, len, &taken), RTM_ERR_NULL_POINTER);
        CHECK_STATUS(rtm_bwe_on_rtcp(NULL, 70000, fb, len, &taken), RTM_ERR_NULL_POINTER);
        CHECK_STATUS(rtm_bwe_on_rtcp(bwe, 70000, NULL, 0, &taken), RTM_OK);
        CHECK(taken == 0);
    }

    CHECK_STATUS(rtm_bwe_on_rtt(bwe, 80000, 40000), RTM_OK);
    CHECK_STATUS(rtm_bwe_on_rtt(NULL, 80000, 40000), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_bwe_get_estimate(bwe, SIZED(est)), RTM_OK);
    CHECK(est.has_rtt && est.rtt_us == 40000);
    CHECK_STATUS(rtm_bwe_on_remb(bwe, 80000, 100000), RTM_OK);
    CHECK_STATUS(rtm_bwe_get_estimate(bwe, SIZED(est)), RTM_OK);
    CHECK(est.target_bps <= 100000);
    CHECK_STATUS(rtm_bwe_on_remb(bwe, 80000, RTM_BWE_NO_REMB), RTM_OK);
    CHECK_STATUS(rtm_bwe_on_remb(NULL, 80000, 1), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_bwe_request_probe(bwe, 90000, 5000000), RTM_OK);
    CHECK_STATUS(rtm_bwe_request_probe(NULL, 90000, 5000000), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_bwe_handle_timeout(bwe, 100000), RTM_OK);
    CHECK_STATUS(rtm_bwe_handle_timeout(NULL, 100000), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_bwe_get_estimate(bwe, SIZED(est)), RTM_OK);
    CHECK(est.state <= RTM_BWE_PROBING && est.loss_ratio >= 0.0 && est.loss_ratio <= 1.0);
    rtm_bwe_free(bwe);
    rtm_bwe_free(NULL);

    /* RFC 8888: RTP ids from the recorder's CCFB, parsed into the estimator. */
    {
        rtm_feedback_recorder_config rc;
        rtm_feedback_recorder_t *rec = NULL;
        uint8_t fb[1500];
        size_t len = 0, k;
        CHECK_STATUS(rtm_bwe_new(NULL, 0, &bwe), RTM_OK);
        rtm_feedback_recorder_config_init(&rc, sizeof rc);
        rc.format = RTM_CC_FEEDBACK_CCFB;
        CHECK_STATUS(rtm_feedback_recorder_new(&rc, &rec), RTM_OK);
        for (k = 0; k < 20; k++) {
            CHECK(rtm_bwe_on_sent(bwe, 1000 * k, RTM_PACKET_ID_RTP, 0xabc, (uint16_t)(65530 + k),
                                  1000, RTM_NO_PROBE_CLUSTER) == RTM_OK);
            if (k != 7) {
                rtm_feedback_recorder_on_rtp_packet(rec, 0xabc, (uint16_t)(65530 + k), 1000, 0,
                                                    20000 + 1000 * k);
            }
        }
        CHECK_STATUS(rtm_feedback_recorder_poll(rec, 200000, fb, sizeof fb, &len), RTM_OK);
        CHECK_STATUS(rtm_bwe_on_rtcp(bwe, 220000, fb, len, &taken), RTM_OK);
        CHECK(taken == 1);
        CHECK_STATUS(rtm_bwe_get_stats(bwe, SIZED(st)), RTM_OK);
        CHECK(st.packets_received == 19 && st.packets_lost == 1 && st.unknown == 0);
        rtm_feedback_recorder_free(rec);
        rtm_bwe_free(bwe);
    }
}

/* ---- Pacer --------------------------------------------------------------- */

typedef struct {
    int releases;
    int bad;
} release_log;

static void on_release(void *userdata, uint8_t *data, size_t len) {
    release_log *log = userdata;
    log->releases++;
    if (data == NULL || len == 0) {
        log->bad++;
    }
    free(data);
}

static uint8_t *owned_packet(size_t len, uint8_t fill) {
    uint8_t *p = malloc(len);
    memset(p, fill, len);
    return p;
}

static void test_pacer_api(void) {
    rtm_pacer_config cfg;
    rtm_pacer_t *pacer = NULL;
    rtm_pacer_output out;
    rtm_pacer_stats st;
    rtm_probe_cluster probe;
    release_log log = {0, 0};
    uint8_t data[1600];
    uint64_t at = 0;
    uint8_t *p;
    memset(data, 0x11, sizeof data);
    CHECK_STATUS(rtm_pacer_config_init(NULL, sizeof cfg), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_pacer_config_init(&cfg, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_pacer_config_init(&cfg, sizeof cfg), RTM_OK);
    CHECK(cfg.capacity_packets == 2048 && cfg.pacing_factor == 2.5 && !cfg.pace_audio &&
          cfg.max_packet_bytes == RTM_DEFAULT_MAX_PACKET_BYTES);
    cfg.pacing_factor = NAN;
    CHECK_STATUS(rtm_pacer_new(&cfg, &pacer), RTM_ERR_INVALID_ARGUMENT);
    rtm_pacer_config_init(&cfg, sizeof cfg);
    cfg.capacity_packets = 0;
    CHECK_STATUS(rtm_pacer_new(&cfg, &pacer), RTM_ERR_INVALID_ARGUMENT);
    rtm_pacer_config_init(&cfg, sizeof cfg);
    cfg.max_packet_bytes = 5;
    CHECK_STATUS(rtm_pacer_new(&cfg, &pacer), RTM_ERR_INVALID_ARGUMENT);
    rtm_pacer_config_init(&cfg, sizeof cfg);
    cfg.struct_size = 0;
    CHECK_STATUS(rtm_pacer_new(&cfg, &pacer), RTM_ERR_INVALID_ARGUMENT);
    {
        struct {
            rtm_pacer_config c;
            uint64_t newer;
        } big;
        CHECK_STATUS(rtm_pacer_config_init(&big.c, sizeof big), RTM_OK);
        big.newer = 2;
        CHECK_STATUS(rtm_pacer_new(&big.c, &pacer), RTM_ERR_UNSUPPORTED);
    }
    rtm_pacer_config_init(&cfg, sizeof cfg);
    cfg.max_streams = 0;
    CHECK_STATUS(rtm_pacer_new(&cfg, &pacer), RTM_ERR_INVALID_ARGUMENT);
    rtm_pacer_config_init(&cfg, sizeof cfg);
    cfg.initial_rate_bps = 0;
    CHECK_STATUS(rtm_pacer_new(&cfg, &pacer), RTM_ERR_INVALID_ARGUMENT);
    rtm_pacer_config_init(&cfg, sizeof cfg);
    CHECK_STATUS(rtm_pacer_new(&cfg, NULL), RTM_ERR_NULL_POINTER);
    CHECK(pacer == NULL);
    cfg.capacity_packets = 4;
    cfg.max_streams = 2;
    cfg.initial_rate_bps = 1000000;
    CHECK_STATUS(rtm_pacer_new(&cfg, &pacer), RTM_OK);

    /* Empty. */
    CHECK_STATUS(rtm_pacer_next_wakeup(pacer, 0, &at), RTM_NOTHING_DUE);
    CHECK_STATUS(rtm_pacer_poll(pacer, 0, SIZED(out)), RTM_NOTHING_DUE);
    CHECK(out.kind == RTM_PACER_OUTPUT_NONE && out.wakeup_us == RTM_NO_WAKEUP);
    out.struct_size = 0;
    CHECK_STATUS(rtm_pacer_poll(pacer, 0, &out), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_pacer_poll(pacer, 0, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_pacer_poll(NULL, 0, SIZED(out)), RTM_ERR_NULL_POINTER);

    /* Push errors. */
    CHECK_STATUS(rtm_pacer_push_copy(pacer, 0, 1, 9, data, 100, false), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_pacer_push_copy(pacer, 0, 1, RTM_PACKET_CLASS_VIDEO, data, 1501, false),
                 RTM_ERR_TOO_LARGE);
    CHECK_STATUS(rtm_pacer_push_copy(pacer, 0, 1, RTM_PACKET_CLASS_VIDEO, NULL, 100, false),
                 RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_pacer_push_copy(NULL, 0, 1, RTM_PACKET_CLASS_VIDEO, data, 100, false),
                 RTM_ERR_NULL_POINTER);
    p = owned_packet(100, 1);
    CHECK_STATUS(rtm_pacer_push(NULL, 0, 1, RTM_PACKET_CLASS_VIDEO, p, 100, on_release, &log,
                                false),
                 RTM_ERR_NULL_POINTER);
    CHECK(log.releases == 1);
    p = owned_packet(100, 1);
    CHECK_STATUS(rtm_pacer_push(pacer, 0, 1, 7, p, 100, on_release, &log, false),
                 RTM_ERR_INVALID_ARGUMENT);
    CHECK(log.releases == 2);
    p = owned_packet(2000, 1);
    CHECK_STATUS(rtm_pacer_push(pacer, 0, 1, RTM_PACKET_CLASS_VIDEO, p, 2000, on_release, &log,
                                false),
                 RTM_ERR_TOO_LARGE);
    CHECK(log.releases == 3);

    /* Zero-copy: the data pointer is the caller's; released after the next call. */
    p = owned_packet(1000, 0x42);
    CHECK_STATUS(rtm_pacer_push(pacer, 0, 1, RTM_PACKET_CLASS_VIDEO, p, 1000, on_release, &log,
                                false),
                 RTM_OK);
    CHECK_STATUS(rtm_pacer_push_copy(pacer, 0, 1, RTM_PACKET_CLASS_VIDEO, data, 500, false),
                 RTM_OK);
    CHECK_STATUS(rtm_pacer_push_copy(pacer, 0, 2, RTM_PACKET_CLASS_AUDIO, data, 100, false),
                 RTM_OK);
    CHECK_STATUS(rtm_pacer_push_copy(pacer, 0, 3, RTM_PACKET_CLASS_AUDIO, data, 100, false),
                 RTM_ERR_FULL);
    CHECK_STATUS(rtm_pacer_push_copy(pacer, 0, 1, RTM_PACKET_CLASS_VIDEO, data, 500, false),
                 RTM_OK);
    CHECK_STATUS(rtm_pacer_push_copy(pacer, 0, 1, RTM_PACKET_CLASS_VIDEO, data, 500, false),
                 RTM_ERR_QUEUE_FULL);
    CHECK_STATUS(rtm_pacer_next_wakeup(pacer, 0, &at), RTM_OK);
    CHECK(at == 0);
    CHECK_STATUS(rtm_pacer_next_wakeup(pacer, 0, NULL), RTM_ERR_NULL_POINTER);
    /* Audio first, not paced. */
    CHECK_STATUS(rtm_pacer_poll(pacer, 0, SIZED(out)), RTM_OK);
    CHECK(out.kind == RTM_PACER_OUTPUT_SEND && out.packet_class == RTM_PACKET_CLASS_AUDIO &&
          out.ssrc == 2 && out.len == 100 && out.data != NULL && out.data[0] == 0x11);
    {
        int sent = 0, waited = 0;
        uint64_t now = 0;
        while (sent < 3 && now < 1000000) {
            rtm_status s = rtm_pacer_poll(pacer, now, SIZED(out));
            if (s == RTM_OK) {
                CHECK(out.kind == RTM_PACER_OUTPUT_SEND && out.ssrc == 1);
                if (sent == 0) {
                    CHECK(out.data == p && out.len == 1000 && log.releases == 3);
                }
                sent++;
            } else {
                CHECK(s == RTM_NOTHING_DUE && out.kind == RTM_PACER_OUTPUT_NONE &&
                      out.wakeup_us > now && out.wakeup_us != RTM_NO_WAKEUP);
                now = out.wakeup_us;
                waited++;
            }
        }
        CHECK(sent == 3 && waited >= 1);
        CHECK(log.releases == 4 && log.bad == 0);
    }
    CHECK_STATUS(rtm_pacer_set_target_bitrate(pacer, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_pacer_set_target_bitrate(pacer, 500000), RTM_OK);
    CHECK_STATUS(rtm_pacer_set_target_bitrate(NULL, 500000), RTM_ERR_NULL_POINTER);

    /* Probes: padding when nothing is queued. */
    memset(&probe, 0, sizeof probe);
    probe.struct_size = sizeof probe;
    probe.id = 0;
    probe.rate_bps = 1000000;
    probe.min_bytes = 5000;
    probe.min_packets = 5;
    probe.duration_us = 15000;
    CHECK_STATUS(rtm_pacer_start_probe(pacer, 2000000, &probe), RTM_ERR_INVALID_ARGUMENT);
    probe.id = 5;
    probe.struct_size = 0;
    CHECK_STATUS(rtm_pacer_start_probe(pacer, 2000000, &probe), RTM_ERR_INVALID_ARGUMENT);
    probe.struct_size = sizeof probe;
    CHECK_STATUS(rtm_pacer_start_probe(pacer, 2000000, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_pacer_start_probe(NULL, 2000000, &probe), RTM_ERR_NULL_POINTER);
    uint32_t probing = 77;
    CHECK_STATUS(rtm_pacer_probing(pacer, &probing), RTM_NOTHING_DUE);
    CHECK(probing == 77);
    CHECK_STATUS(rtm_pacer_start_probe(pacer, 2000000, &probe), RTM_OK);
    CHECK_STATUS(rtm_pacer_probing(pacer, &probing), RTM_OK);
    CHECK(probing == 5);
    CHECK_STATUS(rtm_pacer_probing(pacer, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_pacer_probing(NULL, &probing), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_pacer_poll(pacer, 2000000, SIZED(out)), RTM_OK);
    CHECK(out.kind == RTM_PACER_OUTPUT_PADDING && out.probe_cluster == 5 && out.len > 0 &&
          out.data == NULL);
    /* Answered with 100 bytes: the rest is asked for again, and only what
     * went out counts as padding. */
    {
        rtm_pacer_stats before = {.struct_size = sizeof before}, after = {.struct_size = sizeof after};
        CHECK_STATUS(rtm_pacer_get_stats(pacer, &before), RTM_OK);
        CHECK_STATUS(rtm_pacer_padding_sent(pacer, out.len, 100), RTM_OK);
        CHECK_STATUS(rtm_pacer_get_stats(pacer, &after), RTM_OK);
        CHECK(after.padding_bytes + out.len - 100 == before.padding_bytes);
        CHECK_STATUS(rtm_pacer_padding_sent(NULL, out.len, 100), RTM_ERR_NULL_POINTER);
    }
    /* The cluster's bytes are all asked for within its duration: then it
     * has ended. */
    for (uint64_t now = 2000000; now < 2100000 && rtm_pacer_probing(pacer, &probing) == RTM_OK; now += 1000)
        while (rtm_pacer_poll(pacer, now, SIZED(out)) == RTM_OK) CHECK(out.kind == RTM_PACER_OUTPUT_PADDING);
    CHECK_STATUS(rtm_pacer_probing(pacer, &probing), RTM_NOTHING_DUE);

    CHECK_STATUS(rtm_pacer_get_stats(pacer, SIZED(st)), RTM_OK);
    CHECK(st.sent_packets[RTM_PACKET_CLASS_AUDIO] == 1 &&
          st.sent_packets[RTM_PACKET_CLASS_VIDEO] == 3 && st.refused == 2 &&
          st.pacing_rate_bps == 1250000 && st.queued_packets == 0);
    st.struct_size = 0;
    CHECK_STATUS(rtm_pacer_get_stats(pacer, &st), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_pacer_get_stats(NULL, SIZED(st)), RTM_ERR_NULL_POINTER);

    /* Queued zero-copy packets are released at free. */
    p = owned_packet(300, 3);
    CHECK_STATUS(rtm_pacer_push(pacer, 3000000, 1, RTM_PACKET_CLASS_VIDEO, p, 300, on_release,
                                &log, false),
                 RTM_OK);
    rtm_pacer_free(pacer);
    CHECK(log.releases == 5 && log.bad == 0);
    rtm_pacer_free(NULL);
}

/* ---- End to end: pacer + estimator -> 1 Mbit/s bottleneck -> recorder --- */

#define LINK_BPS 1000000
#define ONE_WAY_US 25000
#define QUEUE_LIMIT_US 300000
#define SIM_END_US 6000000
#define RING 8192

typedef struct {
    uint64_t at;
    uint16_t tseq;
    size_t size;
} arrival;

typedef struct {
    uint64_t at;
    size_t len;
    uint8_t data[1500];
} fb_msg;

static arrival arrivals[RING];
static fb_msg fbs[64];

/* ---- Pacer: retransmission overdraft (appended after 0.2.0) ------------------ */

/* The config as 0.2.0 released it, before retransmission_overdraft_us. */
typedef struct {
    size_t struct_size;
    size_t capacity_packets;
    size_t max_streams;
    uint64_t max_burst_us;
    double pacing_factor;
    uint64_t initial_rate_bps;
    uint64_t ttl_us[RTM_PACKET_CLASSES];
    bool pace_audio;
    size_t max_padding_bytes;
    size_t max_packet_bytes;
} pacer_config_0_2;

/* At 400 kbit/s (factor 1): a 1200-byte video packet leaves, a
 * retransmission is pushed 1 ms later; when does it leave (µs after)? */
static uint64_t retransmission_wait(const rtm_pacer_config *cfg) {
    rtm_pacer_t *pacer = NULL;
    rtm_pacer_output out;
    uint8_t data[1200];
    uint64_t now = 1000000, at = 0;
    memset(data, 0x22, sizeof data);
    CHECK_STATUS(rtm_pacer_new(cfg, &pacer), RTM_OK);
    CHECK_STATUS(rtm_pacer_set_target_bitrate(pacer, 400000), RTM_OK);
    CHECK_STATUS(rtm_pacer_poll(pacer, 0, SIZED(out)), RTM_NOTHING_DUE);
    CHECK_STATUS(rtm_pacer_push_copy(pacer, now, 1, RTM_PACKET_CLASS_VIDEO, data, 1200, true),
                 RTM_OK);
    CHECK_STATUS(rtm_pacer_push_copy(pacer, now, 1, RTM_PACKET_CLASS_VIDEO, data, 1200, false),
                 RTM_OK);
    CHECK_STATUS(rtm_pacer_poll(pacer, now, SIZED(out)), RTM_OK);
    CHECK(out.kind == RTM_PACER_OUTPUT_SEND && out.packet_class == RTM_PACKET_CLASS_VIDEO);
    now += 1000;
    CHECK_STATUS(
        rtm_pacer_push_copy(pacer, now, 1, RTM_PACKET_CLASS_RETRANSMISSION, data, 1200, false),
        RTM_OK);
    for (;;) {
        rtm_status s = rtm_pacer_poll(pacer, now, SIZED(out));
        if (s == RTM_OK) {
            break;
        }
        CHECK(s == RTM_NOTHING_DUE && out.wakeup_us > now && out.wakeup_us != RTM_NO_WAKEUP);
        if (s != RTM_NOTHING_DUE || out.wakeup_us == RTM_NO_WAKEUP) {
            break;
        }
        now = out.wakeup_us;
    }
    CHECK(out.packet_class == RTM_PACKET_CLASS_RETRANSMISSION);
    at = now - 1001000;
    rtm_pacer_free(pacer);
    return at;
}

static void test_pacer_overdraft(void) {
    rtm_pacer_config cfg;
    pacer_config_0_2 old;
    uint64_t paced, fast;
    CHECK(offsetof(rtm_pacer_config, retransmission_overdraft_us) == sizeof(pacer_config_0_2));
    memset(&cfg, 0xa5, sizeof cfg);
    CHECK_STATUS(rtm_pacer_config_init(&cfg, sizeof cfg), RTM_OK);
    CHECK(cfg.struct_size == sizeof cfg && cfg.retransmission_overdraft_us == 0);
    /* A size inside the appended field: refused. */
    CHECK_STATUS(rtm_pacer_config_init(&cfg, sizeof(pacer_config_0_2) + 4),
                 RTM_ERR_INVALID_ARGUMENT);
    /* A caller of 0.2.0 gets the default: held to the budget, the
     * retransmission waits out the video packet's debt (~19 ms). */
    memset(&old, 0, sizeof old);
    CHECK_STATUS(rtm_pacer_config_init((rtm_pacer_config *)&old, sizeof old), RTM_OK);
    CHECK(old.struct_size == sizeof old && old.capacity_packets == 2048);
    old.pacing_factor = 1.0;
    paced = retransmission_wait((const rtm_pacer_config *)&old);
    rtm_pacer_config_init(&cfg, sizeof cfg);
    cfg.pacing_factor = 1.0;
    CHECK(retransmission_wait(&cfg) == paced);
    /* With a 20 ms overdraft it leaves at once. */
    cfg.retransmission_overdraft_us = 20000;
    fast = retransmission_wait(&cfg);
    printf("pacer: retransmission behind a 1200 B video packet at 400 kbit/s: %llu us with a "
           "20 ms overdraft, %llu us without\n",
           (unsigned long long)fast, (unsigned long long)paced);
    CHECK(fast == 0);
    CHECK(paced >= 15000 && paced <= 25000);
}

static void test_end_to_end(void) {
    rtm_bwe_t *bwe = NULL;
    rtm_pacer_t *pacer = NULL;
    rtm_feedback_recorder_t *rec = NULL;
    rtm_pacer_output out;
    rtm_bwe_estimate est;
    rtm_bwe_stats bst;
    rtm_probe_cluster probe;
    uint8_t pkt[1600];
    size_t a_head = 0, a_tail = 0, f_head = 0, f_tail = 0;
    uint64_t now, link_free = 0, est_at_3s = 0, lo = UINT64_MAX, hi = 0, settled_at = 0;
    rtm_pacer_stats pst;
    uint16_t tseq = 0, rtp_seq = 0;
    unsigned drops = 0, sent = 0, delivered = 0, fb_count = 0, fb_bad = 0;
    double budget = 0;
    CHECK_STATUS(rtm_bwe_new(NULL, 0, &bwe), RTM_OK);
    CHECK_STATUS(rtm_pacer_new(NULL, &pacer), RTM_OK);
    CHECK_STATUS(rtm_feedback_recorder_new(NULL, &rec), RTM_OK);
    for (now = 0; now <= SIM_END_US; now += 1000) {
        rtm_status s;
        /* The encoder: every 10 ms, 10 ms of media at the target. */
        rtm_bwe_handle_timeout(bwe, now);
        rtm_bwe_get_estimate(bwe, SIZED(est));
        if (now % 10000 == 0) {
            rtm_pacer_set_target_bitrate(pacer, est.target_bps);
            budget += (double)est.target_bps / 100.0 / 8.0;
            while (budget >= 200) {
                size_t payload = budget > 1100 ? 1100 : (size_t)budget;
                size_t len = build_rtp(pkt, rtp_seq++, 0x5555, true, 0, payload);
                budget -= (double)payload;
                rtm_pacer_push_copy(pacer, now, 0x5555, RTM_PACKET_CLASS_VIDEO, pkt, len, false);
            }
        }
        while (rtm_bwe_poll_probe(bwe, now, SIZED(probe)) == RTM_OK) {
            CHECK_STATUS(rtm_pacer_start_probe(pacer, now, &probe), RTM_OK);
        }
        /* The pacer sends: stamp, tell the estimator, into the bottleneck. */
        while ((s = rtm_pacer_poll(pacer, now, SIZED(out))) == RTM_OK) {
            size_t len, new_len = 0;
            uint16_t read_back = 0;
            if (out.kind == RTM_PACER_OUTPUT_SEND) {
                memcpy(pkt, out.data, out.len);
                len = out.len;
            } else {
                len = build_rtp(pkt, rtp_seq++, 0x6666, true, 0, out.len > 1100 ? 1100 : out.len);
            }
            CHECK(rtm_rtp_stamp_transport_seq(pkt, len, sizeof pkt, EXT_ID, tseq, &new_len) ==
                  RTM_OK);
            rtm_bwe_on_sent(bwe, now, RTM_PACKET_ID_TRANSPORT_SEQ, 0, tseq, new_len,
                            out.probe_cluster);
            sent++;
            if (rtm_rtp_get_transport_seq(pkt, new_len, EXT_ID, &read_back) != RTM_OK ||
                read_back != tseq) {
                fb_bad++;
            }
            tseq++;
            if (link_free < now) {
                link_free = now;
            }
            if (link_free - now > QUEUE_LIMIT_US || a_tail - a_head >= RING) {
                drops++;
                continue;
            }
            link_free += (uint64_t)new_len * 8 * 1000000 / LINK_BPS;
            arrivals[a_tail % RING].at = link_free + ONE_WAY_US;
            arrivals[a_tail % RING].tseq = read_back;
            arrivals[a_tail % RING].size = new_len;
            a_tail++;
        }
        /* The receiver. */
        while (a_head < a_tail && arrivals[a_head % RING].at <= now) {
            arrival *a = &arrivals[a_head % RING];
            rtm_feedback_recorder_on_transport_packet(rec, a->tseq, a->size, a->at);
            a_head++;
            delivered++;
        }
        if (f_tail - f_head < 64) {
            fb_msg *m = &fbs[f_tail % 64];
            if (rtm_feedback_recorder_poll(rec, now, m->data, sizeof m->data, &m->len) == RTM_OK) {
                m->at = now + ONE_WAY_US;
                f_tail++;
            }
        }
        /* Feedback back at the sender. */
        while (f_head < f_tail && fbs[f_head % 64].at <= now) {
            size_t taken = 0;
            fb_msg *m = &fbs[f_head % 64];
            if (rtm_bwe_on_rtcp(bwe, now, m->data, m->len, &taken) != RTM_OK || taken != 1) {
                fb_bad++;
            }
            fb_count++;
            f_head++;
        }
        rtm_bwe_get_estimate(bwe, SIZED(est));
        if (est.target_bps < 700000 || est.target_bps > 1050000) {
            settled_at = 0;
        } else if (settled_at == 0) {
            settled_at = now;
        }
        if (now == 3000000) {
            est_at_3s = est.target_bps;
        }
        if (now >= 3000000 && now % 100000 == 0) {
            rtm_bwe_get_estimate(bwe, SIZED(est));
            if (est.target_bps < lo) {
                lo = est.target_bps;
            }
            if (est.target_bps > hi) {
                hi = est.target_bps;
            }
        }
    }
    rtm_bwe_get_estimate(bwe, SIZED(est));
    rtm_bwe_get_stats(bwe, SIZED(bst));
    rtm_pacer_get_stats(pacer, SIZED(pst));
    printf("end-to-end: 1 Mbit/s bottleneck, %u packets sent, %u delivered, %u dropped, "
           "%u feedbacks; estimate at 3 s %llu bit/s, 3-6 s range %llu-%llu bit/s, "
           "final %llu bit/s, within 0.7-1.05 Mbit/s for good from %llu ms; queue delay %llu us, "
           "rtt %llu us, loss %.3f; %llu probes requested, %llu results, %llu padding bytes\n",
           sent, delivered, drops, fb_count, (unsigned long long)est_at_3s,
           (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)est.target_bps,
           (unsigned long long)(settled_at / 1000), (unsigned long long)est.queue_delay_us,
           (unsigned long long)est.rtt_us, est.loss_ratio,
           (unsigned long long)bst.probes_requested, (unsigned long long)bst.probe_results,
           (unsigned long long)pst.padding_bytes);
    CHECK(settled_at > 0 && settled_at <= 3000000);
    CHECK(fb_bad == 0);
    CHECK(fb_count >= 50);
    CHECK(bst.unknown == 0 && bst.absurd == 0);
    CHECK(est_at_3s >= 700000 && est_at_3s <= 1050000);
    CHECK(lo >= 700000 && hi <= 1050000);
    rtm_feedback_recorder_free(rec);
    rtm_pacer_free(pacer);
    rtm_bwe_free(bwe);
}

/* ---- Hostile input -------------------------------------------------------- */

static void test_hostile(void) {
    rtm_bwe_t *bwe = NULL;
    rtm_bwe_estimate est;
    rtm_bwe_stats st;
    rtm_packet_result results[64];
    uint8_t buf[256];
    int i, panics = 0, insane = 0;
    rtm_bwe_config cfg;
    rtm_bwe_config_init(&cfg, sizeof cfg);
    CHECK_STATUS(rtm_bwe_new(&cfg, 0, &bwe), RTM_OK);
    /* Some packets the feedback may name. */
    for (i = 0; i < 3000; i++) {
        rtm_bwe_on_sent(bwe, (uint64_t)i * 1000, RTM_PACKET_ID_TRANSPORT_SEQ, 0, (uint16_t)i,
                        1200, 0);
    }
    for (i = 0; i < 10000; i++) {
        size_t len = rnd() % sizeof buf, k, count = 0;
        uint64_t now = 3000000 + (uint64_t)i * 1000;
        rtm_status s;
        for (k = 0; k < len; k++) {
            buf[k] = (uint8_t)rnd();
        }
        if (i % 2 == 0 && len >= 8) {
            /* A plausible RTPFB header, so the body gets parsed. */
            len &= ~(size_t)3;
            buf[0] = (uint8_t)(0x80 | (rnd() % 2 ? 15 : 11));
            buf[1] = 205;
            buf[2] = (uint8_t)((len / 4 - 1) >> 8);
            buf[3] = (uint8_t)(len / 4 - 1);
            if (i % 4 == 0 && len >= 20) {
                buf[12] = 0; /* base seq near what was sent */
                buf[13] = (uint8_t)rnd();
            }
        }
        s = rtm_cc_feedback_parse(buf, len, NULL, results, 64, &count);
        panics += s == RTM_ERR_PANIC;
        s = rtm_bwe_on_rtcp(bwe, now, buf, len, NULL);
        panics += s == RTM_ERR_PANIC;
        /* Random result arrays. */
        if (i % 10 == 0) {
            size_t n = rnd() % 64;
            for (k = 0; k < n; k++) {
                results[k].id_kind = (uint8_t)(rnd() % 2);
                results[k].seq = (uint16_t)(rnd() % 4000);
                results[k].ssrc = rnd();
                results[k].received = rnd() % 2;
                results[k].ecn = (uint8_t)rnd();
                results[k].arrival_us =
                    rnd() % 8 == 0 ? (int64_t)((uint64_t)rnd() << 40) : (int64_t)rnd();
            }
            s = rtm_bwe_on_feedback(bwe, now, results, n);
            panics += s == RTM_ERR_PANIC;
        }
        if (rtm_bwe_get_estimate(bwe, SIZED(est)) != RTM_OK || est.target_bps < cfg.min_bps ||
            est.target_bps > cfg.max_bps || !isfinite(est.loss_ratio) || est.loss_ratio < 0 ||
            est.loss_ratio > 1 || !isfinite(est.inherent_loss)) {
            insane++;
        }
    }
    CHECK(panics == 0);
    CHECK(insane == 0);
    CHECK_STATUS(rtm_bwe_get_stats(bwe, SIZED(st)), RTM_OK);
    CHECK(st.feedbacks > 0);
    printf("hostile: %llu feedbacks taken, %llu unknown, %llu duplicate, %llu absurd, "
           "%llu overflow entries ignored\n",
           (unsigned long long)st.feedbacks, (unsigned long long)st.unknown,
           (unsigned long long)st.duplicates, (unsigned long long)st.absurd,
           (unsigned long long)st.overflow);
    rtm_bwe_free(bwe);
}

int main(void) {
    test_transport_seq();
    test_build_parse();
    test_recorder_errors();
    test_recorder_roundtrip();
    test_bwe_api();
    test_pacer_api();
    test_pacer_overdraft();
    test_end_to_end();
    test_hostile();
    return check_report("test_cc");
}
