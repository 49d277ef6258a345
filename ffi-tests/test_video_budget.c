/* Upgrades confirmed by probes, from C: the video budget (the estimator's
 * target minus measured audio and retransmissions, and the probe rate an
 * upgrade needs), the estimator's last probe result from a probe cluster
 * driven through a real rtm_bwe, and the allocator's probe-confirmed
 * upgrades (its appended config field read from old and new layouts, the
 * cap after a downgrade, what to probe for). Every error path: NULL
 * arguments, bad struct sizes, unknown classes, absurd values. */
#include "rtmedia.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

/* |a - b| <= tol, for unsigned rates. */
static bool near(uint64_t a, uint64_t b, uint64_t tol) {
    return a > b ? a - b <= tol : b - a <= tol;
}

/* ---- Video budget ---------------------------------------------------------- */

static void test_budget_config(void) {
    rtm_video_budget_config cfg;
    rtm_video_budget_t *b = NULL;
    CHECK_STATUS(rtm_video_budget_config_init(NULL, sizeof cfg), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_video_budget_config_init(&cfg, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_video_budget_config_init(&cfg, sizeof cfg - 8), RTM_ERR_INVALID_ARGUMENT);
    memset(&cfg, 0xa5, sizeof cfg);
    CHECK_STATUS(rtm_video_budget_config_init(&cfg, sizeof cfg), RTM_OK);
    CHECK(cfg.struct_size == sizeof cfg);
    CHECK(cfg.audio_reserve_bps == 50000 && cfg.window_us == 1000000 &&
          cfg.probe_margin_percent == 15);

    /* Ranges. */
    cfg.window_us = RTM_VIDEO_BUDGET_MIN_WINDOW_US - 1;
    CHECK_STATUS(rtm_video_budget_new(&cfg, &b), RTM_ERR_INVALID_ARGUMENT);
    cfg.window_us = RTM_VIDEO_BUDGET_MAX_WINDOW_US + 1;
    CHECK_STATUS(rtm_video_budget_new(&cfg, &b), RTM_ERR_INVALID_ARGUMENT);
    cfg.window_us = 1000000;
    cfg.probe_margin_percent = RTM_VIDEO_BUDGET_MAX_PROBE_MARGIN_PERCENT + 1;
    CHECK_STATUS(rtm_video_budget_new(&cfg, &b), RTM_ERR_INVALID_ARGUMENT);
    CHECK(b == NULL);
    cfg.struct_size = 0;
    CHECK_STATUS(rtm_video_budget_new(&cfg, &b), RTM_ERR_INVALID_ARGUMENT);
    cfg.struct_size = 12;
    CHECK_STATUS(rtm_video_budget_new(&cfg, &b), RTM_ERR_INVALID_ARGUMENT);
    CHECK(b == NULL);
    rtm_video_budget_config_init(&cfg, sizeof cfg);
    CHECK_STATUS(rtm_video_budget_new(&cfg, NULL), RTM_ERR_NULL_POINTER);

    /* The extremes of the ranges work, and absurd values do not panic. */
    {
        uint64_t p = 0;
        rtm_video_budget_rates r;
        cfg.window_us = RTM_VIDEO_BUDGET_MIN_WINDOW_US;
        cfg.probe_margin_percent = RTM_VIDEO_BUDGET_MAX_PROBE_MARGIN_PERCENT;
        CHECK_STATUS(rtm_video_budget_new(&cfg, &b), RTM_OK);
        CHECK_STATUS(rtm_video_budget_on_sent(b, 5, RTM_PACKET_CLASS_AUDIO, SIZE_MAX), RTM_OK);
        CHECK_STATUS(rtm_video_budget_on_sent(b, 5, RTM_PACKET_CLASS_AUDIO, SIZE_MAX), RTM_OK);
        CHECK_STATUS(rtm_video_budget_on_sent(b, 6, RTM_PACKET_CLASS_RETRANSMISSION, SIZE_MAX),
                     RTM_OK);
        CHECK_STATUS(rtm_video_budget_get(b, 9, UINT64_MAX, SIZED(r)), RTM_OK);
        CHECK(r.audio_bps == UINT64_MAX && r.retransmission_bps == UINT64_MAX &&
              r.video_bps == 0 && r.target_bps == UINT64_MAX);
        CHECK_STATUS(rtm_video_budget_probe_bps(b, 9, UINT64_MAX, UINT64_MAX, &p), RTM_OK);
        CHECK(p == UINT64_MAX);
        /* 10 us later the 10 us window has moved past it all. */
        CHECK_STATUS(rtm_video_budget_get(b, 19, 1000000, SIZED(r)), RTM_OK);
        CHECK(r.audio_bps == 50000 && r.retransmission_bps == 0 && r.video_bps == 950000);
        /* A 1000 % margin: a probe at 11x the target. */
        CHECK_STATUS(rtm_video_budget_probe_bps(b, 19, 0, 1000000, &p), RTM_OK);
        CHECK(p == 11000000);
        rtm_video_budget_free(b);
        b = NULL;
        cfg.window_us = RTM_VIDEO_BUDGET_MAX_WINDOW_US;
        cfg.probe_margin_percent = 0;
        CHECK_STATUS(rtm_video_budget_new(&cfg, &b), RTM_OK);
        rtm_video_budget_free(b);
        b = NULL;
    }

    /* A newer header's struct: unknown fields zero are fine, set are not. */
    {
        struct {
            rtm_video_budget_config c;
            uint64_t newer;
        } big;
        memset(&big, 0xa5, sizeof big);
        CHECK_STATUS(rtm_video_budget_config_init(&big.c, sizeof big), RTM_OK);
        CHECK(big.c.struct_size == sizeof big && big.newer == 0 && big.c.window_us == 1000000);
        big.newer = 1;
        CHECK_STATUS(rtm_video_budget_new(&big.c, &b), RTM_ERR_UNSUPPORTED);
        CHECK(b == NULL);
        big.newer = 0;
        CHECK_STATUS(rtm_video_budget_new(&big.c, &b), RTM_OK);
        rtm_video_budget_free(b);
        b = NULL;
    }
    rtm_video_budget_free(NULL);
}

/* 2 s of traffic at 1 ms steps: audio `audio_bytes` every 20 ms,
 * retransmissions `rtx_bytes` every 10 ms, and video and padding (neither
 * of which may count) every millisecond. */
static void send_two_seconds(rtm_video_budget_t *b, size_t audio_bytes, size_t rtx_bytes,
                             int *bad) {
    uint64_t ms;
    for (ms = 0; ms < 2000; ms++) {
        uint64_t now = ms * 1000;
        if (ms % 20 == 0) {
            *bad += rtm_video_budget_on_sent(b, now, RTM_PACKET_CLASS_AUDIO, audio_bytes) != RTM_OK;
        }
        if (ms % 10 == 0) {
            *bad += rtm_video_budget_on_sent(b, now, RTM_PACKET_CLASS_RETRANSMISSION, rtx_bytes) !=
                    RTM_OK;
        }
        *bad += rtm_video_budget_on_sent(b, now, RTM_PACKET_CLASS_VIDEO, 1200) != RTM_OK;
        if (ms % 5 == 0) {
            *bad += rtm_video_budget_on_sent(b, now, RTM_PACKET_CLASS_PADDING, 500) != RTM_OK;
        }
    }
}

static void test_budget_rates(void) {
    rtm_video_budget_t *b = NULL;
    rtm_video_budget_config cfg;
    rtm_video_budget_rates r;
    uint64_t p = 0;
    int bad = 0;

    /* Defaults; nothing sent: the audio reserve only. */
    CHECK_STATUS(rtm_video_budget_new(NULL, &b), RTM_OK);
    CHECK_STATUS(rtm_video_budget_get(b, 0, 1000000, SIZED(r)), RTM_OK);
    CHECK(r.target_bps == 1000000 && r.audio_bps == 50000 && r.retransmission_bps == 0 &&
          r.video_bps == 950000);
    /* The probe for an upgrade: 15 % above the wanted video plus audio, or
     * above the target if that is more. */
    CHECK_STATUS(rtm_video_budget_probe_bps(b, 0, 1000000, 500000, &p), RTM_OK);
    CHECK(p == 1207500);
    CHECK_STATUS(rtm_video_budget_probe_bps(b, 0, 100000, 1000000, &p), RTM_OK);
    CHECK(p == 1150000);

    /* 50 kbit/s of audio (125 B / 20 ms) and 100 kbit/s of retransmissions
     * (125 B / 10 ms) for 2 s, among 9.6 Mbit/s of video and 0.8 Mbit/s of
     * padding: video may use 1 M - 50 k - 100 k = 850 kbit/s of a 1 Mbit/s
     * target. Tolerance: one packet of each class at the window's edge
     * (1 kbit/s each). */
    send_two_seconds(b, 125, 125, &bad);
    CHECK(bad == 0);
    CHECK_STATUS(rtm_video_budget_get(b, 1999000, 1000000, SIZED(r)), RTM_OK);
    printf("budget, defaults: after 2 s audio %llu bit/s, retransmissions %llu bit/s, "
           "video %llu bit/s of 1 Mbit/s\n",
           (unsigned long long)r.audio_bps, (unsigned long long)r.retransmission_bps,
           (unsigned long long)r.video_bps);
    CHECK(near(r.audio_bps, 50000, 1000));
    CHECK(near(r.retransmission_bps, 100000, 1000));
    CHECK(near(r.video_bps, 850000, 2000));
    CHECK(r.video_bps == r.target_bps - r.audio_bps - r.retransmission_bps);
    rtm_video_budget_free(b);
    b = NULL;

    /* A reserve under the measured audio (so that the measurement shows),
     * a 20 % probe margin: 80 kbit/s audio (200 B / 20 ms), 100 kbit/s
     * retransmissions. The ten 100 ms buckets line up with the sends:
     * exact numbers. */
    rtm_video_budget_config_init(&cfg, sizeof cfg);
    cfg.audio_reserve_bps = 20000;
    cfg.probe_margin_percent = 20;
    CHECK_STATUS(rtm_video_budget_new(&cfg, &b), RTM_OK);
    CHECK_STATUS(rtm_video_budget_get(b, 0, 1000000, SIZED(r)), RTM_OK);
    CHECK(r.audio_bps == 20000 && r.video_bps == 980000);
    send_two_seconds(b, 200, 125, &bad);
    CHECK(bad == 0);
    CHECK_STATUS(rtm_video_budget_get(b, 1999000, 1000000, SIZED(r)), RTM_OK);
    CHECK(r.audio_bps == 80000 && r.retransmission_bps == 100000 && r.video_bps == 820000);
    /* Probes: 20 % above the wanted video plus 180 k (or the target, if
     * more). */
    CHECK_STATUS(rtm_video_budget_probe_bps(b, 1999000, 900000, 1000000, &p), RTM_OK);
    CHECK(p == 1296000);
    CHECK_STATUS(rtm_video_budget_probe_bps(b, 1999000, 500000, 1000000, &p), RTM_OK);
    CHECK(p == 1200000);
    CHECK_STATUS(rtm_video_budget_probe_bps(b, 1999000, 1500000, 1000000, &p), RTM_OK);
    CHECK(p == 2016000);
    /* A target the audio and retransmissions take whole: nothing for video. */
    CHECK_STATUS(rtm_video_budget_get(b, 1999000, 150000, SIZED(r)), RTM_OK);
    CHECK(r.video_bps == 0 && r.target_bps == 150000);
    /* The window slides: at 2.05 s it holds 1.1-2.0 s of sends over a full
     * second (45 audio, 90 retransmission packets). */
    CHECK_STATUS(rtm_video_budget_get(b, 2050000, 1000000, SIZED(r)), RTM_OK);
    CHECK(r.audio_bps == 72000 && r.retransmission_bps == 90000 && r.video_bps == 838000);
    /* A second after the last send: back to the reserve. */
    CHECK_STATUS(rtm_video_budget_get(b, 3100000, 1000000, SIZED(r)), RTM_OK);
    CHECK(r.audio_bps == 20000 && r.retransmission_bps == 0 && r.video_bps == 980000);

    /* Unknown classes are refused and count nothing. */
    CHECK_STATUS(rtm_video_budget_on_sent(b, 3100000, 4, 100000), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_video_budget_on_sent(b, 3100000, 255, 100000), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_video_budget_get(b, 3100000, 1000000, SIZED(r)), RTM_OK);
    CHECK(r.audio_bps == 20000 && r.retransmission_bps == 0 && r.video_bps == 980000);

    /* NULL arguments. */
    CHECK_STATUS(rtm_video_budget_on_sent(NULL, 0, RTM_PACKET_CLASS_AUDIO, 100),
                 RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_video_budget_get(NULL, 0, 1000000, SIZED(r)), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_video_budget_get(b, 0, 1000000, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_video_budget_probe_bps(NULL, 0, 1, 1, &p), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_video_budget_probe_bps(b, 0, 1, 1, NULL), RTM_ERR_NULL_POINTER);

    /* Output struct sizes: too small refused (nothing written), a newer
     * caller's larger struct written up to the library's fields only. */
    memset(&r, 0xa5, sizeof r);
    r.struct_size = 0;
    CHECK_STATUS(rtm_video_budget_get(b, 3100000, 1000000, &r), RTM_ERR_INVALID_ARGUMENT);
    r.struct_size = sizeof r - 8;
    CHECK_STATUS(rtm_video_budget_get(b, 3100000, 1000000, &r), RTM_ERR_INVALID_ARGUMENT);
    CHECK(r.video_bps == 0xa5a5a5a5a5a5a5a5ull && r.target_bps == 0xa5a5a5a5a5a5a5a5ull);
    {
        struct {
            rtm_video_budget_rates r;
            uint64_t newer;
        } big;
        memset(&big, 0xa5, sizeof big);
        big.r.struct_size = sizeof big;
        CHECK_STATUS(rtm_video_budget_get(b, 3100000, 1000000, &big.r), RTM_OK);
        CHECK(big.r.struct_size == sizeof big && big.r.video_bps == 980000);
        CHECK(big.newer == 0xa5a5a5a5a5a5a5a5ull);
    }
    rtm_video_budget_free(b);
}

/* ---- Estimator: the last probe result -------------------------------------- */

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

#define PROBE_PACKET 1000

static void test_last_probe_result(void) {
    rtm_bwe_config cfg;
    rtm_bwe_t *bwe = NULL;
    rtm_probe_cluster probe;
    rtm_bwe_stats st;
    rtm_packet_result results[64];
    uint64_t at = 12345, bps = 67890, send_at[64], fb_at, first, second;
    unsigned n, i;
    rtm_bwe_config_init(&cfg, sizeof cfg);
    cfg.periodic_probes = false;
    CHECK_STATUS(rtm_bwe_new(&cfg, 0, &bwe), RTM_OK);
    CHECK_STATUS(rtm_bwe_last_probe_result(bwe, &at, &bps), RTM_NOTHING_DUE);
    CHECK(at == 12345 && bps == 67890);
    CHECK_STATUS(rtm_bwe_last_probe_result(NULL, &at, &bps), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_bwe_last_probe_result(bwe, NULL, &bps), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_bwe_last_probe_result(bwe, &at, NULL), RTM_ERR_NULL_POINTER);

    /* The initial probe at 3x the start rate (900 kbit/s), sent at its rate
     * in 1000-byte packets over a path with a fixed 30 ms delay and no
     * queue: what arrives is what was sent. */
    CHECK_STATUS(rtm_bwe_poll_probe(bwe, 0, SIZED(probe)), RTM_OK);
    CHECK(probe.rate_bps == 900000 && probe.id != RTM_NO_PROBE_CLUSTER);
    n = probe.min_packets;
    if (n < probe.min_bytes / PROBE_PACKET + 1) {
        n = probe.min_bytes / PROBE_PACKET + 1;
    }
    n += 1;
    CHECK(n <= 64);
    if (n > 64) {
        n = 64;
    }
    for (i = 0; i < n; i++) {
        send_at[i] = 1000 + (uint64_t)i * PROBE_PACKET * 8 * 1000000 / probe.rate_bps;
        CHECK_STATUS(rtm_bwe_on_sent(bwe, send_at[i], RTM_PACKET_ID_TRANSPORT_SEQ, 0,
                                     (uint16_t)i, PROBE_PACKET, probe.id),
                     RTM_OK);
        results[i] = twcc_entry((uint16_t)i, true, 500000 + (int64_t)send_at[i] + 30000);
    }
    /* Sent, no feedback yet: still nothing. */
    CHECK_STATUS(rtm_bwe_last_probe_result(bwe, &at, &bps), RTM_NOTHING_DUE);
    CHECK(at == 12345 && bps == 67890);
    fb_at = send_at[n - 1] + 60000;
    CHECK_STATUS(rtm_bwe_on_feedback(bwe, fb_at, results, n), RTM_OK);
    CHECK_STATUS(rtm_bwe_get_stats(bwe, SIZED(st)), RTM_OK);
    CHECK(st.probe_results >= 1);
    CHECK_STATUS(rtm_bwe_last_probe_result(bwe, &at, &bps), RTM_OK);
    printf("last probe result: cluster %u of %u packets at %llu bit/s: %llu bit/s at %llu us "
           "(feedback at %llu us)\n",
           probe.id, n, (unsigned long long)probe.rate_bps, (unsigned long long)bps,
           (unsigned long long)at, (unsigned long long)fb_at);
    CHECK(at == fb_at);
    CHECK(near(bps, 900000, 9000));
    first = bps;

    /* The second initial probe (1.8 Mbit/s), through a 1.2 Mbit/s
     * bottleneck: saturated, it reads about 95 % of 1.2 M, and replaces the
     * first result. */
    CHECK_STATUS(rtm_bwe_poll_probe(bwe, fb_at, SIZED(probe)), RTM_OK);
    CHECK(probe.rate_bps == 1800000);
    {
        uint64_t link_free = 0, base = fb_at + 1000;
        for (i = 0; i < n; i++) {
            uint64_t t = base + (uint64_t)i * PROBE_PACKET * 8 * 1000000 / probe.rate_bps;
            uint64_t tx = (uint64_t)PROBE_PACKET * 8 * 1000000 / 1200000;
            link_free = (link_free > t ? link_free : t) + tx;
            CHECK(rtm_bwe_on_sent(bwe, t, RTM_PACKET_ID_TRANSPORT_SEQ, 0, (uint16_t)(100 + i),
                                  PROBE_PACKET, probe.id) == RTM_OK);
            results[i] = twcc_entry((uint16_t)(100 + i), true, 500000 + (int64_t)link_free + 30000);
            send_at[i] = link_free;
        }
        fb_at = send_at[n - 1] + 60000;
        CHECK_STATUS(rtm_bwe_on_feedback(bwe, fb_at, results, n), RTM_OK);
    }
    CHECK_STATUS(rtm_bwe_last_probe_result(bwe, &at, &bps), RTM_OK);
    second = bps;
    printf("last probe result: 1.8 Mbit/s probe through 1.2 Mbit/s: %llu bit/s at %llu us "
           "(first %llu)\n",
           (unsigned long long)second, (unsigned long long)at, (unsigned long long)first);
    CHECK(at == fb_at);
    CHECK(second > 1000000 && second <= 1200000);
    rtm_bwe_free(bwe);
}

/* ---- Allocator: probe-confirmed upgrades ------------------------------------ */

/* The config as 0.2.0 released it, before probe_confirmed_upgrades. */
typedef struct {
    size_t struct_size;
    double min_change;
    uint64_t upgrade_hold_us;
    uint64_t max_keyframe_transfer_us;
} allocator_config_0_2;

/* One track with three spatial layers of three temporal layers each (the
 * Rust tests' rates: 1.5 Mbit/s at the top, 2/1 at 900 k, 2/0 at 600 k). */
static rtm_track_demand track(void) {
    static const uint64_t base[3] = {60000, 200000, 600000};
    rtm_track_demand t;
    int s;
    memset(&t, 0xa5, sizeof t);
    rtm_track_demand_init(&t, sizeof t);
    t.priority = 1;
    t.max_layer.spatial = 2;
    t.max_layer.temporal = 2;
    for (s = 0; s < 3; s++) {
        t.bitrates.bps[s][0] = base[s];
        t.bitrates.bps[s][1] = base[s] * 3 / 2;
        t.bitrates.bps[s][2] = base[s] * 5 / 2;
    }
    return t;
}

static bool layer_is(const rtm_allocation *a, int spatial, int temporal) {
    return a->has_layer && a->layer.spatial == spatial && a->layer.temporal == temporal;
}

static void test_allocator_probe_mode(void) {
    rtm_allocator_config cfg;
    rtm_allocator_t *al = NULL;
    rtm_track_demand t = track();
    rtm_allocation out;
    uint64_t bps = 777;

    CHECK(offsetof(rtm_allocator_config, probe_confirmed_upgrades) ==
          sizeof(allocator_config_0_2));
    memset(&cfg, 0xa5, sizeof cfg);
    CHECK_STATUS(rtm_allocator_config_init(&cfg, sizeof cfg), RTM_OK);
    CHECK(cfg.struct_size == sizeof cfg && !cfg.probe_confirmed_upgrades);
    /* A size inside the appended field cuts it in two: refused. */
    CHECK_STATUS(rtm_allocator_config_init(&cfg, sizeof(allocator_config_0_2) + 4),
                 RTM_ERR_INVALID_ARGUMENT);
    rtm_allocator_config_init(&cfg, sizeof cfg);
    cfg.probe_confirmed_upgrades = true;
    CHECK_STATUS(rtm_allocator_new(&cfg, 2, &al), RTM_OK);

    /* Nothing allocated yet: nothing to probe for, no cap. */
    CHECK_STATUS(rtm_allocator_wanted_bps(al, &bps), RTM_NOTHING_DUE);
    CHECK_STATUS(rtm_allocator_confirmed_bps(al, &bps), RTM_NOTHING_DUE);
    CHECK(bps == 777);
    CHECK_STATUS(rtm_allocator_wanted_bps(NULL, &bps), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_allocator_wanted_bps(al, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_allocator_confirmed_bps(NULL, &bps), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_allocator_confirmed_bps(al, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_allocator_on_probe_result(NULL, 1000000), RTM_ERR_NULL_POINTER);

    /* The top layer fits: nothing left to probe for. */
    CHECK_STATUS(rtm_allocator_allocate(al, 1600000, &t, 1, 0, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 2, 2) && out.bitrate == 1500000);
    CHECK_STATUS(rtm_allocator_wanted_bps(al, &bps), RTM_NOTHING_DUE);
    CHECK(bps == 777);
    /* A drop of a third: down at once, capped at the estimate it was made
     * for; the next step (2/2, 1.5 M) is what to probe for. */
    CHECK_STATUS(rtm_allocator_allocate(al, 1000000, &t, 1, 100000, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 2, 1) && out.bitrate == 900000);
    CHECK_STATUS(rtm_allocator_confirmed_bps(al, &bps), RTM_OK);
    CHECK(bps == 1000000);
    CHECK_STATUS(rtm_allocator_wanted_bps(al, &bps), RTM_OK);
    CHECK(bps == 1500000);
    /* The estimate climbs back without a probe: still capped. */
    CHECK_STATUS(rtm_allocator_allocate(al, 1700000, &t, 1, 200000, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 2, 1));
    /* A probe that gets only 1.2 M through confirms nothing new. */
    CHECK_STATUS(rtm_allocator_on_probe_result(al, 1200000), RTM_OK);
    CHECK_STATUS(rtm_allocator_confirmed_bps(al, &bps), RTM_OK);
    CHECK(bps == 1200000);
    CHECK_STATUS(rtm_allocator_allocate(al, 1700000, &t, 1, 300000, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 2, 1));
    /* One at 1.6 M does, long before the 5 s timer hold would end. */
    CHECK_STATUS(rtm_allocator_on_probe_result(al, 1600000), RTM_OK);
    CHECK_STATUS(rtm_allocator_allocate(al, 1700000, &t, 1, 400000, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 2, 2));
    CHECK_STATUS(rtm_allocator_wanted_bps(al, &bps), RTM_NOTHING_DUE);
    rtm_allocator_free(al);
    al = NULL;

    /* Without a probe the cap ends with upgrade_hold_us (5 s). */
    CHECK_STATUS(rtm_allocator_new(&cfg, 1, &al), RTM_OK);
    rtm_allocator_allocate(al, 1600000, &t, 1, 0, SIZED(out), 1);
    CHECK_STATUS(rtm_allocator_allocate(al, 700000, &t, 1, 100000, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 2, 0));
    CHECK_STATUS(rtm_allocator_allocate(al, 1600000, &t, 1, 5000000, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 2, 0));
    CHECK_STATUS(rtm_allocator_allocate(al, 1600000, &t, 1, 5200000, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 2, 2));
    CHECK_STATUS(rtm_allocator_confirmed_bps(al, &bps), RTM_NOTHING_DUE);
    rtm_allocator_free(al);
    al = NULL;

    /* What to probe for covers the step's keyframe: 40 KB top-layer
     * keyframes need 320 kbit in 150 ms, 2.13 Mbit/s. */
    CHECK_STATUS(rtm_allocator_new(&cfg, 1, &al), RTM_OK);
    t.keyframe_bytes[0] = 4000;
    t.keyframe_bytes[1] = 12000;
    t.keyframe_bytes[2] = 40000;
    CHECK_STATUS(rtm_allocator_allocate(al, 1000000, &t, 1, 0, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 1, 2));
    CHECK_STATUS(rtm_allocator_wanted_bps(al, &bps), RTM_OK);
    CHECK(bps == 2133333);
    rtm_allocator_free(al);
    al = NULL;
    t = track();

    /* A `probe_confirmed_upgrades` byte that is neither 0 nor 1 reads as
     * true. */
    rtm_allocator_config_init(&cfg, sizeof cfg);
    memset(&cfg.probe_confirmed_upgrades, 7, 1);
    CHECK_STATUS(rtm_allocator_new(&cfg, 1, &al), RTM_OK);
    rtm_allocator_allocate(al, 1600000, &t, 1, 0, SIZED(out), 1);
    rtm_allocator_allocate(al, 1000000, &t, 1, 100000, SIZED(out), 1);
    CHECK_STATUS(rtm_allocator_confirmed_bps(al, &bps), RTM_OK);
    CHECK(bps == 1000000);
    rtm_allocator_free(al);
    al = NULL;

    /* Without the option (the default) probe results change nothing: the
     * timer hold applies. */
    rtm_allocator_config_init(&cfg, sizeof cfg);
    CHECK_STATUS(rtm_allocator_new(&cfg, 1, &al), RTM_OK);
    rtm_allocator_allocate(al, 1600000, &t, 1, 0, SIZED(out), 1);
    CHECK_STATUS(rtm_allocator_allocate(al, 1000000, &t, 1, 100000, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 2, 1));
    CHECK_STATUS(rtm_allocator_on_probe_result(al, 5000000), RTM_OK);
    CHECK_STATUS(rtm_allocator_confirmed_bps(al, &bps), RTM_NOTHING_DUE);
    CHECK_STATUS(rtm_allocator_allocate(al, 1700000, &t, 1, 200000, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 2, 1));
    /* wanted_bps is reported in either mode. */
    CHECK_STATUS(rtm_allocator_wanted_bps(al, &bps), RTM_OK);
    CHECK(bps == 1500000);
    rtm_allocator_free(al);
    al = NULL;

    /* A caller compiled against 0.2.0's header (no probe_confirmed_upgrades)
     * gets the default, off: the timer hold, as before. */
    {
        allocator_config_0_2 old;
        memset(&old, 0xa5, sizeof old);
        CHECK_STATUS(rtm_allocator_config_init((rtm_allocator_config *)&old, sizeof old), RTM_OK);
        CHECK(old.struct_size == sizeof old && old.upgrade_hold_us == 5000000 &&
              old.max_keyframe_transfer_us == 150000 && old.min_change == 0.1);
        old.upgrade_hold_us = 1000000;
        CHECK_STATUS(rtm_allocator_new((const rtm_allocator_config *)&old, 1, &al), RTM_OK);
        rtm_allocator_allocate(al, 1600000, &t, 1, 0, SIZED(out), 1);
        CHECK_STATUS(rtm_allocator_allocate(al, 1000000, &t, 1, 100000, SIZED(out), 1), RTM_OK);
        CHECK(layer_is(&out, 2, 1));
        CHECK_STATUS(rtm_allocator_on_probe_result(al, 5000000), RTM_OK);
        CHECK_STATUS(rtm_allocator_confirmed_bps(al, &bps), RTM_NOTHING_DUE);
        CHECK_STATUS(rtm_allocator_allocate(al, 1700000, &t, 1, 200000, SIZED(out), 1), RTM_OK);
        CHECK(layer_is(&out, 2, 1));
        /* Its own hold (1 s, not the default 5 s) was read. */
        CHECK_STATUS(rtm_allocator_allocate(al, 1700000, &t, 1, 1200000, SIZED(out), 1), RTM_OK);
        CHECK(layer_is(&out, 2, 2));
        rtm_allocator_free(al);
        al = NULL;
    }

    /* A newer header's struct: unknown fields zero are fine, set are not. */
    {
        struct {
            rtm_allocator_config c;
            uint64_t newer;
        } big;
        memset(&big, 0xa5, sizeof big);
        CHECK_STATUS(rtm_allocator_config_init(&big.c, sizeof big), RTM_OK);
        CHECK(big.c.struct_size == sizeof big && big.newer == 0 && !big.c.probe_confirmed_upgrades);
        big.newer = 1;
        CHECK_STATUS(rtm_allocator_new(&big.c, 1, &al), RTM_ERR_UNSUPPORTED);
        big.newer = 0;
        CHECK_STATUS(rtm_allocator_new(&big.c, 1, &al), RTM_OK);
        rtm_allocator_free(al);
    }
}

/* An upgrade to s1 is decided and the estimate collapses before s1's
 * keyframe came: told that s0 is still forwarded, the allocator counts
 * staying on s1 as a switch whose 12 KB keyframe takes 384 ms at
 * 250 kbit/s, and keeps s0. */
static void test_allocator_forwarded_layer(void) {
    rtm_allocator_config cfg;
    rtm_allocator_t *al = NULL;
    rtm_track_demand t = track();
    rtm_allocation out;
    rtm_layer s0 = {0, 2}, s1 = {1, 2}, bad = {3, 0};

    t.max_layer.spatial = 1;
    t.keyframe_bytes[0] = 4000;
    t.keyframe_bytes[1] = 12000;
    t.keyframe_bytes[2] = 40000;
    rtm_allocator_config_init(&cfg, sizeof cfg);
    CHECK_STATUS(rtm_allocator_new(&cfg, 1, &al), RTM_OK);
    CHECK_STATUS(rtm_allocator_allocate(al, 400000, &t, 1, 0, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 0, 2));
    CHECK_STATUS(rtm_allocator_set_forwarded_layer(al, 0, &s0), RTM_OK);
    CHECK_STATUS(rtm_allocator_allocate(al, 1200000, &t, 1, 100000, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 1, 2));
    CHECK_STATUS(rtm_allocator_set_forwarded_layer(al, 0, &s0), RTM_OK);
    CHECK_STATUS(rtm_allocator_allocate(al, 250000, &t, 1, 200000, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 0, 2));
    rtm_allocator_free(al);
    /* Once s1 is forwarded, staying on it costs nothing. */
    CHECK_STATUS(rtm_allocator_new(&cfg, 1, &al), RTM_OK);
    CHECK_STATUS(rtm_allocator_allocate(al, 1200000, &t, 1, 0, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 1, 2));
    CHECK_STATUS(rtm_allocator_set_forwarded_layer(al, 0, &s1), RTM_OK);
    CHECK_STATUS(rtm_allocator_allocate(al, 250000, &t, 1, 100000, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 1, 0));
    /* NULL: nothing forwarded. Errors change nothing. */
    CHECK_STATUS(rtm_allocator_set_forwarded_layer(al, 0, NULL), RTM_OK);
    CHECK_STATUS(rtm_allocator_set_forwarded_layer(NULL, 0, &s0), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_allocator_set_forwarded_layer(al, 1, &s0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_allocator_set_forwarded_layer(al, 0, &bad), RTM_ERR_INVALID_ARGUMENT);
    rtm_allocator_free(al);
}

/* ---- Together: budget -> probe request -> result -> allocator -------------- */

static void test_chain(void) {
    rtm_video_budget_t *budget = NULL;
    rtm_bwe_t *bwe = NULL;
    rtm_allocator_t *al = NULL;
    rtm_allocator_config cfg;
    rtm_bwe_config bcfg;
    rtm_video_budget_rates r;
    rtm_probe_cluster probe;
    rtm_allocation out;
    rtm_track_demand t = track();
    uint64_t wanted = 0, probe_bps = 0, at = 0, got = 0;
    CHECK_STATUS(rtm_video_budget_new(NULL, &budget), RTM_OK);
    rtm_bwe_config_init(&bcfg, sizeof bcfg);
    bcfg.initial_probes = false;
    bcfg.periodic_probes = false;
    bcfg.start_bps = 1050000;
    CHECK_STATUS(rtm_bwe_new(&bcfg, 0, &bwe), RTM_OK);
    rtm_allocator_config_init(&cfg, sizeof cfg);
    cfg.probe_confirmed_upgrades = true;
    CHECK_STATUS(rtm_allocator_new(&cfg, 1, &al), RTM_OK);
    /* Video gets 1.05 M - 50 k (audio reserve) = 1 M: 2/1 (900 k). */
    CHECK_STATUS(rtm_video_budget_get(budget, 0, 1050000, SIZED(r)), RTM_OK);
    CHECK(r.video_bps == 1000000);
    CHECK_STATUS(rtm_allocator_allocate(al, r.video_bps, &t, 1, 0, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 2, 1));
    /* The next step needs 1.5 M of video, 1.55 M with audio: probe 15 %
     * above that, 1.7825 M. */
    CHECK_STATUS(rtm_allocator_wanted_bps(al, &wanted), RTM_OK);
    CHECK(wanted == 1500000);
    CHECK_STATUS(rtm_video_budget_probe_bps(budget, 0, wanted, 1050000, &probe_bps), RTM_OK);
    CHECK(probe_bps == 1782500);
    CHECK_STATUS(rtm_bwe_request_probe(bwe, 1000, probe_bps), RTM_OK);
    CHECK_STATUS(rtm_bwe_poll_probe(bwe, 1000, SIZED(probe)), RTM_OK);
    CHECK(probe.rate_bps >= 1550000 && probe.rate_bps <= 2100000);
    {
        rtm_packet_result res[64];
        uint64_t send = 0;
        unsigned i, n = probe.min_packets + probe.min_bytes / PROBE_PACKET + 1;
        if (n > 64) {
            n = 64;
        }
        for (i = 0; i < n; i++) {
            send = 2000 + (uint64_t)i * PROBE_PACKET * 8 * 1000000 / probe.rate_bps;
            rtm_bwe_on_sent(bwe, send, RTM_PACKET_ID_TRANSPORT_SEQ, 0, (uint16_t)i, PROBE_PACKET,
                            probe.id);
            res[i] = twcc_entry((uint16_t)i, true, (int64_t)send + 20000);
        }
        CHECK_STATUS(rtm_bwe_on_feedback(bwe, send + 50000, res, n), RTM_OK);
    }
    CHECK_STATUS(rtm_bwe_last_probe_result(bwe, &at, &got), RTM_OK);
    CHECK(got >= 1500000);
    printf("chain: wanted %llu bit/s of video, probe asked %llu, sent at %llu, got %llu through\n",
           (unsigned long long)wanted, (unsigned long long)probe_bps,
           (unsigned long long)probe.rate_bps, (unsigned long long)got);
    /* A downgrade (the estimate fell to 700 k) caps the allocator; the
     * estimate coming back does not lift the cap, the probe's result
     * does. */
    CHECK_STATUS(rtm_allocator_allocate(al, 700000, &t, 1, 100000, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 2, 0));
    CHECK_STATUS(rtm_allocator_allocate(al, 1600000, &t, 1, 200000, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 2, 0));
    CHECK_STATUS(rtm_allocator_on_probe_result(al, got), RTM_OK);
    CHECK_STATUS(rtm_allocator_allocate(al, 1600000, &t, 1, 300000, SIZED(out), 1), RTM_OK);
    CHECK(layer_is(&out, 2, 2));
    rtm_allocator_free(al);
    rtm_bwe_free(bwe);
    rtm_video_budget_free(budget);
}

int main(void) {
    test_budget_config();
    test_budget_rates();
    test_last_probe_result();
    test_allocator_probe_mode();
    test_allocator_forwarded_layer();
    test_chain();
    return check_report("test_video_budget");
}
