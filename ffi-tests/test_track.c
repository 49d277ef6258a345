/* One published track from C (rtm_track_*): a hand-built three-layer VP8
 * simulcast publisher (RFC 7741 descriptors, own sequence/timestamp/PictureID
 * bases per layer, keyframes when a PLI asks) feeds a track with three
 * subscribers; everything comes out of rtm_track_poll_output and is checked
 * packet by packet: one SSRC per subscriber, gapless sequence numbers, only
 * its layer, a keyframe first; the PLIs written for the publisher; a NACK
 * answered as RFC 4588 RTX (negotiated) and as a plain retransmission (not),
 * byte for byte against what was sent; PLIs of two subscribers merged into
 * one request; a join from the history without a PLI; a subscriber removed
 * with output and NACKs pending; a bitrate-driven subscriber; zero-copy
 * ownership; struct_size of older and newer callers; NULL and invalid
 * arguments of every function. */
#include "rtmedia.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v) {
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

static int released;
static void release_free(void *userdata, uint8_t *data, size_t len) {
    (void)userdata;
    (void)len;
    released++;
    free(data);
}

static uint8_t *exact_copy(const uint8_t *bytes, size_t len) {
    uint8_t *p = malloc(len ? len : 1);
    memcpy(p, bytes, len);
    return p;
}

/* ---- The publisher ------------------------------------------------------------
 * 30 fps, L1T3 (TIDs 0 2 1 2 from each keyframe), two packets a frame. Each
 * packet: 12-byte RTP header, 6-byte VP8 descriptor (X, S, PID=0 | I L T K |
 * M + 15-bit PictureID | TL0PICIDX | TID Y KEYIDX), on a frame's first packet
 * the VP8 payload header byte (P bit 0: keyframe), then a tag: layer, frame
 * (2 bytes), packet index, then filler. */

#define LAYERS 3
#define DESC_END 18
#define PT 96
#define FRAME_US 33333u
#define T0_US 1000000u
#define BUF 1600

static const uint32_t SSRC[LAYERS] = {0x10000001u, 0x20000002u, 0x30000003u};
static const uint32_t TS_BASE[LAYERS] = {1000u, 500000u, 4294960000u}; /* layer 2 wraps */
static const uint16_t SEQ_BASE[LAYERS] = {100, 30000, 65500};           /* layer 2 wraps */

typedef struct {
    uint16_t seq, pid;
    uint8_t tl0, keyidx;
    int since_key;
    bool pending_key;
} layer_state;

static layer_state pub[LAYERS];

static void publisher_init(void) {
    for (int s = 0; s < LAYERS; s++) {
        pub[s] = (layer_state){.seq = SEQ_BASE[s], .pid = (uint16_t)(1000 * s + 7), .tl0 = (uint8_t)(250 + s),
                               .keyidx = (uint8_t)(3 * s), .since_key = 0, .pending_key = true};
    }
}

static uint64_t frame_now(int frame) { return T0_US + (uint64_t)frame * FRAME_US; }

/* Packet `index` (0 or 1) of frame `frame` of layer `s` into buf. */
static size_t build_packet(uint8_t *buf, int s, int frame, int index) {
    static const uint8_t TIDS[4] = {0, 2, 1, 2};
    layer_state *l = &pub[s];
    bool key = false;
    if (index == 0) {
        key = l->pending_key;
        l->pending_key = false;
        if (key) l->since_key = 0, l->keyidx = (uint8_t)((l->keyidx + 1) & 0x1f);
        l->pid = (uint16_t)((l->pid + 1) & 0x7fff);
        if (TIDS[l->since_key % 4] == 0) l->tl0++;
        l->since_key++;
    }
    uint8_t tid = TIDS[(l->since_key - 1) % 4];
    buf[0] = 0x80;
    buf[1] = (uint8_t)((index == 1 ? 0x80 : 0) | PT);
    wr16(buf + 2, l->seq++);
    wr32(buf + 4, TS_BASE[s] + (uint32_t)frame * 3000u);
    wr32(buf + 8, SSRC[s]);
    buf[12] = (uint8_t)(0x80 | (index == 0 ? 0x10 : 0));
    buf[13] = 0xf0;
    buf[14] = (uint8_t)(0x80 | (l->pid >> 8));
    buf[15] = (uint8_t)l->pid;
    buf[16] = l->tl0;
    buf[17] = (uint8_t)(tid << 6 | (tid > 0 ? 0x20 : 0) | (l->keyidx & 0x1f));
    size_t n = DESC_END;
    if (index == 0) buf[n++] = key ? 0x00 : 0x01;
    buf[n++] = (uint8_t)s;
    buf[n++] = (uint8_t)(frame >> 8);
    buf[n++] = (uint8_t)frame;
    buf[n++] = (uint8_t)index;
    size_t fill = 100 + 80 * (size_t)s;
    for (size_t i = 0; i < fill; i++) buf[n++] = (uint8_t)(frame * 7 + s + i);
    return n;
}

/* Sender reports of the three layers in one compound packet: frame 0 of
 * every layer captured at NTP 1000 s. */
static size_t sender_reports(uint8_t *buf) {
    size_t at = 0;
    for (int s = 0; s < LAYERS; s++) {
        size_t len = 0;
        CHECK_STATUS(rtm_rtcp_build_sr(SSRC[s], (uint64_t)1000 << 32, TS_BASE[s], 0, 0, NULL, 0, buf + at, 200,
                                       &len),
                     RTM_OK);
        at += len;
    }
    return at;
}

/* ---- Subscribers as they receive ------------------------------------------------ */

#define SUBS 4
#define RTCP_SSRC 0x5f000001u
#define RTX_PT 97

typedef struct {
    uint64_t id;
    uint32_t ssrc, rtx_ssrc;
    int layer; /* the only spatial layer it should get, or -1: any */
    bool have_last, removed;
    uint16_t last_seq, last_rtx_seq;
    int media, retransmissions, rtx, keyframes, bad;
    /* Every media packet by sequence number, to compare retransmissions. */
    uint8_t store[256][BUF];
    size_t store_len[256];
} receiver;

typedef struct {
    rtm_track_t *track;
    receiver *rx[SUBS];
    int plis[LAYERS]; /* keyframe requests for the publisher, per layer */
    int outputs;
} room;

static receiver *receiver_for(room *rm, uint64_t id) {
    for (int i = 0; i < SUBS; i++)
        if (rm->rx[i] && rm->rx[i]->id == id) return rm->rx[i];
    return NULL;
}

/* One RTP output `buf[0..o->len]` for its subscriber. */
static void receive(room *rm, const rtm_track_output *o, const uint8_t *buf) {
    receiver *r = receiver_for(rm, o->subscriber);
    CHECK(r != NULL && !r->removed);
    if (!r || o->len < DESC_END + 4) return;
    CHECK(o->ssrc == rd32(buf + 8) && o->seq == rd16(buf + 2));
    uint16_t seq = rd16(buf + 2);
    if (o->rtp_kind == RTM_TRACK_RTP_RTX) {
        /* RFC 4588: the RTX SSRC and payload type, its own gapless sequence
         * numbers, the original sequence number, then the original payload. */
        CHECK(o->packet_class == RTM_PACKET_CLASS_RETRANSMISSION && !o->keyframe_start);
        CHECK(o->ssrc == r->rtx_ssrc && (buf[1] & 0x7f) == RTX_PT);
        if (r->rtx > 0) CHECK(seq == (uint16_t)(r->last_rtx_seq + 1));
        r->last_rtx_seq = seq;
        uint16_t osn = rd16(buf + 12);
        const uint8_t *orig = r->store[osn & 255];
        CHECK(r->store_len[osn & 255] + 2 == o->len);
        CHECK(rd16(orig + 2) == osn && memcmp(buf + 14, orig + 12, o->len - 14) == 0);
        CHECK(memcmp(buf + 4, orig + 4, 4) == 0); /* timestamp */
        r->rtx++;
        return;
    }
    if (o->rtp_kind == RTM_TRACK_RTP_RETRANSMISSION) {
        CHECK(o->packet_class == RTM_PACKET_CLASS_RETRANSMISSION && !o->keyframe_start);
        CHECK(o->ssrc == r->ssrc && r->rtx_ssrc == 0);
        CHECK(r->store_len[seq & 255] == o->len && memcmp(r->store[seq & 255], buf, o->len) == 0);
        r->retransmissions++;
        return;
    }
    CHECK(o->rtp_kind == RTM_TRACK_RTP_MEDIA && o->packet_class == RTM_PACKET_CLASS_VIDEO);
    CHECK(o->ssrc == r->ssrc && (buf[1] & 0x7f) == PT);
    bool start = (buf[12] & 0x10) != 0;
    bool key = start && buf[DESC_END] == 0x00;
    const uint8_t *tag = buf + DESC_END + (start ? 1 : 0);
    CHECK(o->keyframe_start == key);
    if (r->layer >= 0) CHECK(tag[0] == r->layer);
    if (r->have_last) {
        CHECK(seq == (uint16_t)(r->last_seq + 1));
    } else {
        CHECK(key); /* a subscriber starts at a keyframe */
    }
    r->have_last = true;
    r->last_seq = seq;
    r->media++;
    r->keyframes += key;
    memcpy(r->store[seq & 255], buf, o->len);
    r->store_len[seq & 255] = o->len;
}

/* Polls until RTM_NOTHING_DUE; returns the wakeup time. */
static uint64_t drain(room *rm, uint64_t now) {
    uint8_t buf[BUF];
    for (int guard = 0; guard < 10000; guard++) {
        rtm_track_output o;
        memset(&o, 0xa5, sizeof o);
        o.struct_size = sizeof o;
        rtm_status s = rtm_track_poll_output(rm->track, now, buf, sizeof buf, &o);
        if (s == RTM_NOTHING_DUE) {
            CHECK(o.kind == RTM_TRACK_OUTPUT_NONE && o.len == 0);
            return o.wakeup_us;
        }
        CHECK_STATUS(s, RTM_OK);
        if (s != RTM_OK) return 0;
        rm->outputs++;
        if (o.kind == RTM_TRACK_OUTPUT_RTP) {
            receive(rm, &o, buf);
        } else {
            CHECK(o.kind == RTM_TRACK_OUTPUT_KEYFRAME_REQUEST);
            /* A PLI from the SFU's RTCP SSRC naming the layer's SSRC. */
            CHECK(o.len == 12 && buf[0] == 0x81 && buf[1] == 206 && rd16(buf + 2) == 2);
            CHECK(rd32(buf + 4) == RTCP_SSRC && rd32(buf + 8) == o.ssrc);
            for (int l = 0; l < LAYERS; l++)
                if (o.ssrc == SSRC[l]) rm->plis[l]++, pub[l].pending_key = true;
        }
    }
    CHECK(!"poll_output never said RTM_NOTHING_DUE");
    return 0;
}

static void push_frame(room *rm, int frame) {
    for (int s = 0; s < LAYERS; s++) {
        for (int i = 0; i < 2; i++) {
            uint8_t p[BUF];
            size_t len = build_packet(p, s, frame, i);
            rtm_source_packet_info info = {.struct_size = sizeof info};
            if (s == 1) { /* zero-copy for one layer, copied for the others */
                CHECK_STATUS(rtm_track_push_rtp(rm->track, exact_copy(p, len), len, release_free, NULL,
                                                frame_now(frame), &info),
                             RTM_OK);
            } else {
                CHECK_STATUS(rtm_track_push_rtp_copy(rm->track, p, len, frame_now(frame), &info), RTM_OK);
            }
            CHECK(info.spatial == s && info.ssrc == SSRC[s] && info.len == len && info.has_capture_time);
            CHECK(info.frame_start == (i == 0) && info.marker == (i == 1));
            drain(rm, frame_now(frame));
        }
    }
}

static rtm_track_subscriber_config sub_config(uint32_t ssrc, int spatial) {
    rtm_track_subscriber_config c;
    memset(&c, 0xa5, sizeof c);
    CHECK_STATUS(rtm_track_subscriber_config_init(&c, sizeof c), RTM_OK);
    c.ssrc = ssrc;
    c.target.spatial = (uint8_t)spatial;
    return c;
}

static receiver *add(room *rm, int slot, uint64_t id, const rtm_track_subscriber_config *c, int layer,
                     uint64_t now) {
    receiver *r = calloc(1, sizeof *r);
    r->id = id;
    r->ssrc = c->ssrc;
    r->rtx_ssrc = c->rtx_payload_type == RTM_TRACK_NO_RTX ? 0 : c->rtx_ssrc;
    r->layer = layer;
    rm->rx[slot] = r;
    CHECK_STATUS(rtm_track_add_subscriber(rm->track, id, c, now), RTM_OK);
    return r;
}

static void nack(room *rm, uint32_t media_ssrc, const uint16_t *seqs, size_t n, size_t expect_used) {
    uint8_t p[64];
    size_t len = 0, used = 99;
    CHECK_STATUS(rtm_rtcp_build_nack(0x77, media_ssrc, seqs, n, p, sizeof p, &len), RTM_OK);
    CHECK_STATUS(rtm_track_push_subscriber_rtcp(rm->track, p, len, &used), RTM_OK);
    CHECK(used == expect_used);
}

static void pli(room *rm, uint32_t media_ssrc) {
    uint8_t p[64];
    size_t len = 0, used = 99;
    CHECK_STATUS(rtm_rtcp_build_pli(0x77, media_ssrc, p, sizeof p, &len), RTM_OK);
    CHECK_STATUS(rtm_track_push_subscriber_rtcp(rm->track, p, len, &used), RTM_OK);
    CHECK(used == 1);
}

static rtm_track_stats track_stats(room *rm) {
    rtm_track_stats st;
    memset(&st, 0xa5, sizeof st);
    CHECK_STATUS(rtm_track_get_stats(rm->track, SIZED(st)), RTM_OK);
    return st;
}

/* ---- The main scenario ------------------------------------------------------------ */

static void test_track(void) {
    publisher_init();
    room rm = {0};
    rtm_track_config tc;
    memset(&tc, 0xa5, sizeof tc);
    CHECK_STATUS(rtm_track_config_init(&tc, sizeof tc), RTM_OK);
    CHECK(tc.struct_size == sizeof tc && tc.codec == RTM_SOURCE_CODEC_VP8 && tc.clock_rate == 90000);
    CHECK(tc.history_packets == 1024 && tc.max_packet_bytes == RTM_DEFAULT_MAX_PACKET_BYTES);
    CHECK(tc.max_subscribers == 1024 && tc.queue_packets == 16 && tc.nack_queue == 512);
    CHECK(tc.max_history_start_us == 1000000 && tc.rtcp_ssrc == 0);
    tc.rtcp_ssrc = RTCP_SSRC;
    CHECK_STATUS(rtm_track_new(&tc, SSRC, LAYERS, &rm.track), RTM_OK);
    uint8_t sr[256];
    size_t used = 0;
    CHECK_STATUS(rtm_track_push_publisher_rtcp(rm.track, sr, sender_reports(sr), &used), RTM_OK);
    CHECK(used == LAYERS);

    /* A: the top layer, RTX negotiated. B: the bottom layer, no RTX. Both
     * join before any packet: nothing in the history, a keyframe is asked
     * for each layer. */
    rtm_track_subscriber_config ca = sub_config(0xa0a0a0a0u, 2);
    CHECK(ca.payload_type == -1 && ca.max_layer.spatial == 2 && ca.max_layer.temporal == 3);
    CHECK(ca.rtx_payload_type == RTM_TRACK_NO_RTX && ca.initial_bitrate_bps == RTM_TRACK_NO_BITRATE);
    CHECK(ca.history_packets == 1024 && ca.clock_rate == 90000 && ca.target.temporal == 3);
    ca.rtx_payload_type = RTX_PT;
    ca.rtx_ssrc = 0xa1a1a1a1u;
    rtm_track_subscriber_config cb = sub_config(0xb0b0b0b0u, 0);
    receiver *a = add(&rm, 0, 1, &ca, 2, frame_now(0));
    receiver *b = add(&rm, 1, 2, &cb, 0, frame_now(0));
    uint64_t wake = drain(&rm, frame_now(0));
    CHECK(rm.plis[0] == 1 && rm.plis[1] == 0 && rm.plis[2] == 1);
    CHECK(wake > frame_now(0)); /* the retry timer of the unanswered requests */
    rtm_track_subscriber_state st = {.struct_size = sizeof st};
    CHECK_STATUS(rtm_track_get_subscriber(rm.track, 1, &st), RTM_OK);
    CHECK(!st.has_current && st.has_target && st.target.spatial == 2 && st.pause_reason == RTM_PAUSE_NONE);

    for (int f = 0; f < 10; f++) push_frame(&rm, f);
    CHECK(a->media == 20 && b->media == 20 && a->keyframes == 1 && b->keyframes == 1 && a->bad == 0);
    CHECK_STATUS(rtm_track_get_subscriber(rm.track, 2, SIZED(st)), RTM_OK);
    CHECK(st.has_current && st.current.spatial == 0 && st.current.temporal == 3);

    /* C joins the top layer: the history holds its keyframe (frame 0) and
     * everything since, so it starts at once, without a PLI. */
    rtm_track_subscriber_config cc = sub_config(0xc0c0c0c0u, 2);
    receiver *c = add(&rm, 2, 3, &cc, 2, frame_now(10));
    drain(&rm, frame_now(10));
    CHECK(c->media == 20 && c->keyframes == 1);
    CHECK(rm.plis[2] == 1);
    rtm_track_stats ts = track_stats(&rm);
    CHECK(ts.subscribers == 3 && ts.starts_from_history == 1 && ts.starts_with_request == 2);
    for (int f = 10; f < 20; f++) push_frame(&rm, f);
    CHECK(c->media == 40 && a->media == 40);

    /* NACKs: A's answered as RTX, B's as a plain retransmission, byte for
     * byte what was sent; a NACK naming nobody here is ignored. */
    uint16_t lost_a[2] = {(uint16_t)(a->last_seq - 5), (uint16_t)(a->last_seq - 3)};
    uint16_t lost_b[1] = {(uint16_t)(b->last_seq - 1)};
    nack(&rm, ca.ssrc, lost_a, 2, 1);
    nack(&rm, cb.ssrc, lost_b, 1, 1);
    nack(&rm, 0x12345678u, lost_b, 1, 0);
    drain(&rm, frame_now(20));
    CHECK(a->rtx == 2 && a->retransmissions == 0 && b->retransmissions == 1 && b->rtx == 0);
    ts = track_stats(&rm);
    CHECK(ts.nacked == 3 && ts.retransmitted == 3 && ts.rtx_sent == 2 && ts.nack_queue_full == 0);

    /* Probe padding: A (RTX) gets one of its last packets again as RTX,
     * the longest that fits the bytes asked for (receive() compares it byte
     * for byte with the original and checks the RTX numbering); nothing
     * when none is that short; B (no RTX) gets nothing: the host sends
     * padding-only packets. */
    uint8_t pad[BUF];
    size_t pad_len = 77;
    int a_rtx = a->rtx;
    CHECK_STATUS(rtm_track_write_probe_padding(rm.track, 1, 10000, pad, 20, &pad_len), RTM_ERR_BUFFER_TOO_SMALL);
    size_t pad_needed = pad_len;
    CHECK(pad_needed > 20 && pad_needed <= sizeof pad);
    size_t longest = 0, shorter = 0;
    CHECK_STATUS(rtm_track_write_probe_padding(rm.track, 1, 10000, pad, pad_needed, &longest), RTM_OK);
    rtm_track_output po = {.struct_size = sizeof po,
                           .kind = RTM_TRACK_OUTPUT_RTP,
                           .subscriber = 1,
                           .len = longest,
                           .rtp_kind = RTM_TRACK_RTP_RTX,
                           .packet_class = RTM_PACKET_CLASS_RETRANSMISSION,
                           .ssrc = rd32(pad + 8),
                           .seq = rd16(pad + 2)};
    receive(&rm, &po, pad);
    CHECK_STATUS(rtm_track_write_probe_padding(rm.track, 1, longest - 1, pad, sizeof pad, &shorter), RTM_OK);
    po.len = shorter, po.ssrc = rd32(pad + 8), po.seq = rd16(pad + 2);
    receive(&rm, &po, pad);
    CHECK(a->rtx == a_rtx + 2);
    /* A frame's first packet carries one more byte (the test's start tag). */
    CHECK(shorter == longest - 1);
    pad_len = 77;
    CHECK_STATUS(rtm_track_write_probe_padding(rm.track, 1, 20, pad, sizeof pad, &pad_len), RTM_NOTHING_DUE);
    CHECK(pad_len == 0);
    pad_len = 77;
    CHECK_STATUS(rtm_track_write_probe_padding(rm.track, 2, 1000, pad, sizeof pad, &pad_len), RTM_NOTHING_DUE);
    CHECK(pad_len == 0);
    CHECK_STATUS(rtm_track_write_probe_padding(rm.track, 99, 1000, pad, sizeof pad, &pad_len),
                 RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_track_write_probe_padding(NULL, 1, 1000, pad, sizeof pad, &pad_len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_write_probe_padding(rm.track, 1, 1000, NULL, sizeof pad, &pad_len),
                 RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_write_probe_padding(rm.track, 1, 1000, pad, sizeof pad, NULL), RTM_ERR_NULL_POINTER);
    ts = track_stats(&rm);
    CHECK(ts.probe_padding_sent == 2 && ts.rtx_sent == 2 && ts.retransmitted == 3);
    /* A caller compiled against 0.2.0 (no probe_padding_sent) gets the
     * rest, and the field after its struct is left alone. */
    {
        rtm_track_stats old;
        memset(&old, 0xee, sizeof old);
        old.struct_size = offsetof(rtm_track_stats, probe_padding_sent);
        CHECK_STATUS(rtm_track_get_stats(rm.track, &old), RTM_OK);
        CHECK(old.subscribers == 3 && old.rtx_sent == 2);
        const uint8_t *tail = (const uint8_t *)&old.probe_padding_sent;
        CHECK(tail[0] == 0xee && tail[7] == 0xee);
    }

    /* PLIs from A and C (both on the top layer) and a FIR from C: one
     * request reaches the publisher. */
    pli(&rm, ca.ssrc);
    pli(&rm, cc.ssrc);
    uint8_t fir[32];
    size_t fir_len = 0;
    CHECK_STATUS(rtm_rtcp_build_fir(0x77, cc.ssrc, 1, fir, sizeof fir, &fir_len), RTM_OK);
    CHECK_STATUS(rtm_track_push_subscriber_rtcp(rm.track, fir, fir_len, &used), RTM_OK);
    CHECK(used == 1);
    drain(&rm, frame_now(20));
    CHECK(rm.plis[2] == 2 && rm.plis[0] == 1 && rm.plis[1] == 0);
    ts = track_stats(&rm);
    CHECK(ts.subscriber_plis == 3 && ts.keyframe_requests_sent == 3);
    int keys_a = a->keyframes, keys_c = c->keyframes;
    push_frame(&rm, 20);
    CHECK(a->keyframes == keys_a + 1 && c->keyframes == keys_c + 1);

    /* B is removed with a packet of its layer queued and a NACK pending:
     * neither comes out, the others go on gapless. */
    int b_media = b->media, b_retx = b->retransmissions;
    uint8_t p[BUF];
    size_t len = build_packet(p, 0, 21, 0);
    CHECK_STATUS(rtm_track_push_rtp_copy(rm.track, p, len, frame_now(21), NULL), RTM_OK);
    nack(&rm, cb.ssrc, lost_b, 1, 1);
    CHECK_STATUS(rtm_track_remove_subscriber(rm.track, 2), RTM_OK);
    b->removed = true;
    drain(&rm, frame_now(21));
    CHECK(b->media == b_media && b->retransmissions == b_retx);
    CHECK_STATUS(rtm_track_remove_subscriber(rm.track, 2), RTM_ERR_NOT_FOUND);
    rtm_forwarder_stats fs = {.struct_size = sizeof fs};
    CHECK_STATUS(rtm_track_get_forwarder_stats(rm.track, 2, &fs), RTM_ERR_NOT_FOUND);
    nack(&rm, cb.ssrc, lost_b, 1, 0);
    len = build_packet(p, 0, 21, 1);
    CHECK_STATUS(rtm_track_push_rtp_copy(rm.track, p, len, frame_now(21), NULL), RTM_OK);
    drain(&rm, frame_now(21));
    for (int s = 1; s < LAYERS; s++)
        for (int i = 0; i < 2; i++) {
            len = build_packet(p, s, 21, i);
            CHECK_STATUS(rtm_track_push_rtp_copy(rm.track, p, len, frame_now(21), NULL), RTM_OK);
            drain(&rm, frame_now(21));
        }
    for (int f = 22; f < 30; f++) push_frame(&rm, f);
    CHECK(track_stats(&rm).subscribers == 2);

    /* A subscriber whose layer follows its bitrate, at most the middle
     * layer: the middle layer fits with the margin, all its TIDs. */
    rtm_layer_bitrates br;
    CHECK_STATUS(rtm_track_bitrates(rm.track, frame_now(30), &br), RTM_OK);
    CHECK(br.bps[0][2] > 0 && br.bps[0][2] < br.bps[1][2] && br.bps[1][2] < br.bps[2][2]);
    rtm_track_subscriber_config cd = sub_config(0xd0d0d0d0u, 0);
    cd.max_layer.spatial = 1;
    cd.initial_bitrate_bps = br.bps[1][2] * 5 / 4;
    receiver *d = add(&rm, 3, 4, &cd, 1, frame_now(30));
    drain(&rm, frame_now(30));
    CHECK_STATUS(rtm_track_get_subscriber(rm.track, 4, SIZED(st)), RTM_OK);
    CHECK(st.has_target && st.target.spatial == 1 && st.target.temporal == 2);
    for (int f = 30; f < 40; f++) push_frame(&rm, f);
    CHECK(d->media > 0 && d->keyframes >= 1);
    /* Too little for any layer: paused for bandwidth. */
    CHECK_STATUS(rtm_track_set_available_bitrate(rm.track, 4, 1000, frame_now(40)), RTM_OK);
    CHECK_STATUS(rtm_track_get_subscriber(rm.track, 4, SIZED(st)), RTM_OK);
    CHECK(!st.has_target && st.pause_reason == RTM_PAUSE_BANDWIDTH);
    /* Muted by the host, then resumed: it waits for a keyframe, asked for. */
    CHECK_STATUS(rtm_track_pause(rm.track, 1, RTM_PAUSE_MUTED), RTM_OK);
    CHECK_STATUS(rtm_track_get_subscriber(rm.track, 1, SIZED(st)), RTM_OK);
    CHECK(st.pause_reason == RTM_PAUSE_MUTED);
    int a_media = a->media;
    push_frame(&rm, 40);
    CHECK(a->media == a_media);
    CHECK_STATUS(rtm_track_resume(rm.track, 1, frame_now(41)), RTM_OK);
    CHECK_STATUS(rtm_track_set_max_layer(rm.track, 3, 2, 1, frame_now(41)), RTM_OK);
    CHECK_STATUS(rtm_track_set_target(rm.track, 3, 2, 3, frame_now(41)), RTM_OK);
    CHECK_STATUS(rtm_track_set_rtt(rm.track, 50000), RTM_OK);
    a->have_last = false; /* A restarts at a keyframe: a gap is allowed */
    for (int f = 41; f < 60; f++) push_frame(&rm, f);
    CHECK(a->media > a_media);
    CHECK_STATUS(rtm_track_get_subscriber(rm.track, 3, SIZED(st)), RTM_OK);
    CHECK(st.has_target && st.target.spatial == 2 && st.target.temporal == 1);

    /* Stats of the parts. */
    CHECK_STATUS(rtm_track_get_forwarder_stats(rm.track, 1, SIZED(fs)), RTM_OK);
    CHECK(fs.retransmitted == 2 && fs.packets_sent == (uint64_t)a->media);
    rtm_source_stats ss = {.struct_size = sizeof ss};
    CHECK_STATUS(rtm_track_get_source_stats(rm.track, &ss), RTM_OK);
    CHECK(ss.packets == 60 * LAYERS * 2 && ss.sender_reports == LAYERS && ss.keyframes[2] >= 2);
    uint64_t kb[RTM_SIMULCAST_MAX_SPATIAL] = {0};
    CHECK_STATUS(rtm_track_keyframe_bytes(rm.track, kb), RTM_OK);
    CHECK(kb[0] > 0 && kb[0] < kb[1] && kb[1] < kb[2]);
    ts = track_stats(&rm);
    CHECK(ts.packets_in == 60 * LAYERS * 2 && ts.queue_full == 0);

    rtm_track_free(rm.track);
    for (int i = 0; i < SUBS; i++) free(rm.rx[i]);
}

/* ---- Arguments, limits, ownership ------------------------------------------------- */

static void test_arguments(void) {
    publisher_init();
    rtm_track_config tc;
    CHECK_STATUS(rtm_track_config_init(&tc, sizeof tc), RTM_OK);
    rtm_track_t *t = NULL;
    /* Creation. */
    CHECK_STATUS(rtm_track_new(&tc, SSRC, 0, &t), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_track_new(&tc, SSRC, 4, &t), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_track_new(&tc, NULL, 3, &t), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_new(&tc, SSRC, 3, NULL), RTM_ERR_NULL_POINTER);
    const uint32_t twice[2] = {5, 5};
    CHECK_STATUS(rtm_track_new(&tc, twice, 2, &t), RTM_ERR_INVALID_ARGUMENT);
    rtm_track_config bad = tc;
    bad.codec = 9;
    CHECK_STATUS(rtm_track_new(&bad, SSRC, 3, &t), RTM_ERR_INVALID_ARGUMENT);
    bad = tc, bad.queue_packets = 0;
    CHECK_STATUS(rtm_track_new(&bad, SSRC, 3, &t), RTM_ERR_INVALID_ARGUMENT);
    bad = tc, bad.max_subscribers = RTM_TRACK_MAX_SUBSCRIBERS + 1;
    CHECK_STATUS(rtm_track_new(&bad, SSRC, 3, &t), RTM_ERR_INVALID_ARGUMENT);
    bad = tc, bad.history_packets = RTM_SIMULCAST_MAX_HISTORY + 1;
    CHECK_STATUS(rtm_track_new(&bad, SSRC, 3, &t), RTM_ERR_INVALID_ARGUMENT);
    bad = tc, bad.max_packet_bytes = 11;
    CHECK_STATUS(rtm_track_new(&bad, SSRC, 3, &t), RTM_ERR_INVALID_ARGUMENT);
    bad = tc, bad.struct_size = 4;
    CHECK_STATUS(rtm_track_new(&bad, SSRC, 3, &t), RTM_ERR_INVALID_ARGUMENT);
    CHECK(t == NULL);
    CHECK_STATUS(rtm_track_config_init(NULL, sizeof tc), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_config_init(&tc, 3), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_track_subscriber_config_init(NULL, 64), RTM_ERR_NULL_POINTER);
    rtm_track_free(NULL);

    /* A small track: two subscribers at most, a queue of 4. */
    CHECK_STATUS(rtm_track_config_init(&tc, sizeof tc), RTM_OK);
    tc.max_subscribers = 2;
    tc.queue_packets = 4;
    CHECK_STATUS(rtm_track_new(NULL, SSRC, 3, &t), RTM_OK); /* NULL config: the defaults */
    rtm_track_free(t);
    CHECK_STATUS(rtm_track_new(&tc, SSRC, 3, &t), RTM_OK);
    rtm_track_subscriber_config c = sub_config(0x1111, 0);
    CHECK_STATUS(rtm_track_add_subscriber(NULL, 1, &c, 0), RTM_ERR_NULL_POINTER);
    rtm_track_subscriber_config bc = c;
    bc.rtx_payload_type = 128;
    CHECK_STATUS(rtm_track_add_subscriber(t, 1, &bc, 0), RTM_ERR_INVALID_ARGUMENT);
    bc = c, bc.target.spatial = 3;
    CHECK_STATUS(rtm_track_add_subscriber(t, 1, &bc, 0), RTM_ERR_INVALID_ARGUMENT);
    bc = c, bc.payload_type = 200;
    CHECK_STATUS(rtm_track_add_subscriber(t, 1, &bc, 0), RTM_ERR_INVALID_ARGUMENT);
    bc = c, bc.history_packets = 0;
    CHECK_STATUS(rtm_track_add_subscriber(t, 1, &bc, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_track_add_subscriber(t, 1, &c, 0), RTM_OK);
    CHECK_STATUS(rtm_track_add_subscriber(t, 1, &c, 0), RTM_ERR_INVALID_ARGUMENT); /* same id */
    bc = sub_config(0x1111, 0);
    CHECK_STATUS(rtm_track_add_subscriber(t, 2, &bc, 0), RTM_ERR_INVALID_ARGUMENT); /* same SSRC */
    bc = sub_config(0x2222, 0), bc.rtx_payload_type = 97, bc.rtx_ssrc = 0x1111;
    CHECK_STATUS(rtm_track_add_subscriber(t, 2, &bc, 0), RTM_ERR_INVALID_ARGUMENT); /* RTX SSRC taken */
    bc.rtx_ssrc = 0x2223;
    CHECK_STATUS(rtm_track_add_subscriber(t, 2, &bc, 0), RTM_OK);
    bc = sub_config(0x3333, 0);
    CHECK_STATUS(rtm_track_add_subscriber(t, 3, &bc, 0), RTM_ERR_FULL);
    CHECK_STATUS(rtm_track_add_subscriber(t, 3, NULL, 0), RTM_ERR_FULL); /* NULL: the defaults */
    CHECK_STATUS(rtm_track_remove_subscriber(NULL, 1), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_remove_subscriber(t, 99), RTM_ERR_NOT_FOUND);

    /* Per-subscriber calls. */
    CHECK_STATUS(rtm_track_set_target(t, 99, 0, 0, 0), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_track_set_target(t, 1, 3, 0, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_track_set_target(t, 1, 0, 4, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_track_set_target(NULL, 1, 0, 0, 0), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_set_max_layer(t, 99, 0, 0, 0), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_track_set_max_layer(t, 1, 0, 9, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_track_set_max_layer(NULL, 1, 0, 0, 0), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_set_available_bitrate(t, 99, 1, 0), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_track_set_available_bitrate(NULL, 1, 1, 0), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_pause(t, 1, RTM_PAUSE_NONE), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_track_pause(t, 1, 77), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_track_pause(t, 99, RTM_PAUSE_MUTED), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_track_pause(NULL, 1, RTM_PAUSE_MUTED), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_resume(t, 99, 0), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_track_resume(NULL, 1, 0), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_set_rtt(NULL, 1), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_set_subscriber_rtt(t, 99, 1), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_track_set_subscriber_rtt(NULL, 1, 1), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_set_subscriber_rtt(t, 1, 150000), RTM_OK);

    /* Reads. */
    rtm_track_subscriber_state st = {.struct_size = sizeof st};
    CHECK_STATUS(rtm_track_get_subscriber(t, 99, &st), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_track_get_subscriber(NULL, 1, &st), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_get_subscriber(t, 1, NULL), RTM_ERR_NULL_POINTER);
    rtm_forwarder_stats fs = {.struct_size = sizeof fs};
    CHECK_STATUS(rtm_track_get_forwarder_stats(t, 1, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_get_forwarder_stats(NULL, 1, &fs), RTM_ERR_NULL_POINTER);
    rtm_source_stats ss = {.struct_size = sizeof ss};
    CHECK_STATUS(rtm_track_get_source_stats(NULL, &ss), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_get_source_stats(t, NULL), RTM_ERR_NULL_POINTER);
    rtm_track_stats ts = {.struct_size = sizeof ts};
    CHECK_STATUS(rtm_track_get_stats(NULL, &ts), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_get_stats(t, NULL), RTM_ERR_NULL_POINTER);
    ts.struct_size = 0; /* not set: refused */
    CHECK_STATUS(rtm_track_get_stats(t, &ts), RTM_ERR_INVALID_ARGUMENT);
    rtm_layer_bitrates br;
    CHECK_STATUS(rtm_track_bitrates(NULL, 0, &br), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_bitrates(t, 0, NULL), RTM_ERR_NULL_POINTER);
    uint64_t kb[RTM_SIMULCAST_MAX_SPATIAL];
    CHECK_STATUS(rtm_track_keyframe_bytes(NULL, kb), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_keyframe_bytes(t, NULL), RTM_ERR_NULL_POINTER);

    /* RTCP. */
    size_t used = 9;
    CHECK_STATUS(rtm_track_push_publisher_rtcp(NULL, NULL, 0, &used), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_push_publisher_rtcp(t, NULL, 4, &used), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_push_publisher_rtcp(t, NULL, 0, NULL), RTM_OK);
    CHECK_STATUS(rtm_track_push_subscriber_rtcp(NULL, NULL, 0, &used), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_push_subscriber_rtcp(t, NULL, 4, &used), RTM_ERR_NULL_POINTER);
    const uint8_t junk[7] = {0x80, 201, 0, 9, 1, 2, 3};
    CHECK_STATUS(rtm_track_push_subscriber_rtcp(t, junk, sizeof junk, &used), RTM_OK);
    CHECK(used == 0);

    /* Pushes: refused packets; the queue bound. */
    uint8_t p[BUF], out[BUF];
    size_t len = build_packet(p, 0, 0, 0);
    const uint8_t foreign[20] = {0x80, 96, 0, 1, 0, 0, 0, 1, 0x77, 0x77, 0x77, 0x77, 0x90, 0x00};
    CHECK_STATUS(rtm_track_push_rtp_copy(t, foreign, sizeof foreign, 0, NULL), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_track_push_rtp_copy(t, p, 5, 0, NULL), RTM_ERR_TRUNCATED);
    CHECK_STATUS(rtm_track_push_rtp_copy(t, NULL, 5, 0, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_push_rtp_copy(NULL, p, len, 0, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_push_rtp_copy(t, p, (size_t)-1, 0, NULL), RTM_ERR_INVALID_ARGUMENT);
    static uint8_t jumbo[RTM_DEFAULT_MAX_PACKET_BYTES + 1];
    memcpy(jumbo, p, len);
    CHECK_STATUS(rtm_track_push_rtp_copy(t, jumbo, sizeof jumbo, 0, NULL), RTM_ERR_TOO_LARGE);
    rtm_source_packet_info info;
    memset(&info, 0x5a, sizeof info);
    info.struct_size = 0; /* not set: refused before the packet is looked at */
    CHECK_STATUS(rtm_track_push_rtp_copy(t, p, len, 0, &info), RTM_ERR_INVALID_ARGUMENT);
    CHECK(info.ssrc == 0x5a5a5a5au);
    int before = released;
    CHECK_STATUS(rtm_track_push_rtp(t, exact_copy(foreign, sizeof foreign), sizeof foreign, release_free, NULL,
                                    0, NULL),
                 RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_track_push_rtp(NULL, exact_copy(p, len), len, release_free, NULL, 0, NULL),
                 RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_push_rtp(t, exact_copy(jumbo, sizeof jumbo), sizeof jumbo, release_free, NULL, 0, NULL),
                 RTM_ERR_TOO_LARGE);
    CHECK(released == before + 3); /* refused: released at once */
    rtm_source_stats ss2 = {.struct_size = sizeof ss2};
    CHECK_STATUS(rtm_track_get_source_stats(t, &ss2), RTM_OK);
    CHECK(ss2.unknown_ssrc == 2 && ss2.malformed == 1 && ss2.oversize == 2 && ss2.packets == 0);
    int queued = 0;
    rtm_status s = RTM_OK;
    publisher_init(); /* the first packet queued is a keyframe */
    for (int i = 0; i < 64 && s == RTM_OK; i++) {
        len = build_packet(p, 0, i, 0);
        s = rtm_track_push_rtp_copy(t, p, len, frame_now(i), NULL);
        if (s == RTM_OK) queued++;
    }
    CHECK_STATUS(s, RTM_ERR_QUEUE_FULL);
    CHECK(queued >= 4 && queued < 64);
    CHECK_STATUS(rtm_track_get_stats(t, SIZED(ts)), RTM_OK);
    CHECK(ts.queue_full == 1 && ts.packets_in == (uint64_t)queued);

    /* Polls: buffers too small are refused with nothing taken. */
    rtm_track_output o = {.struct_size = sizeof o};
    CHECK_STATUS(rtm_track_poll_output(NULL, 0, out, sizeof out, &o), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_poll_output(t, 0, NULL, sizeof out, &o), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_track_poll_output(t, 0, out, sizeof out, NULL), RTM_ERR_NULL_POINTER);
    o.struct_size = 0;
    CHECK_STATUS(rtm_track_poll_output(t, 0, out, sizeof out, &o), RTM_ERR_INVALID_ARGUMENT);
    o.struct_size = sizeof o;
    CHECK_STATUS(rtm_track_poll_output(t, 0, out, 11, &o), RTM_ERR_BUFFER_TOO_SMALL);
    CHECK(o.len == 12);
    /* The first output is the keyframe packet for subscriber 1 (both
     * subscribers are on layer 0 and join at its keyframe). */
    CHECK_STATUS(rtm_track_poll_output(t, frame_now(0), out, 40, &o), RTM_ERR_BUFFER_TOO_SMALL);
    size_t needed = o.len;
    CHECK(needed > 40 && needed <= len + 1);
    CHECK_STATUS(rtm_track_poll_output(t, frame_now(0), out, needed - 1, &o), RTM_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(rtm_track_poll_output(t, frame_now(0), out, needed, &o), RTM_OK);
    CHECK(o.kind == RTM_TRACK_OUTPUT_RTP && o.subscriber == 1 && o.len == needed && o.keyframe_start);
    int outputs = 1;
    while ((s = rtm_track_poll_output(t, frame_now(queued), out, sizeof out, &o)) == RTM_OK) outputs++;
    CHECK_STATUS(s, RTM_NOTHING_DUE);
    CHECK(outputs >= 2 * queued); /* every queued packet to both (plus PLIs) */
    /* Drained: pushes are taken again. */
    CHECK_STATUS(rtm_track_push_rtp_copy(t, p, len, frame_now(queued), NULL), RTM_OK);

    /* struct_size of a newer caller: unknown fields zero are fine, set
     * ones are refused; outputs write only what this library knows. */
    struct {
        rtm_track_subscriber_config c;
        uint64_t extra[2];
    } newer;
    CHECK_STATUS(rtm_track_subscriber_config_init(&newer.c, sizeof newer), RTM_OK);
    CHECK(newer.c.struct_size == sizeof newer && newer.extra[0] == 0 && newer.extra[1] == 0);
    newer.c.ssrc = 0x4444;
    CHECK_STATUS(rtm_track_remove_subscriber(t, 2), RTM_OK);
    newer.extra[1] = 1;
    CHECK_STATUS(rtm_track_add_subscriber(t, 4, &newer.c, 0), RTM_ERR_UNSUPPORTED);
    newer.extra[1] = 0;
    CHECK_STATUS(rtm_track_add_subscriber(t, 4, &newer.c, 0), RTM_OK);
    struct {
        rtm_track_config c;
        uint64_t extra;
    } newer_tc;
    CHECK_STATUS(rtm_track_config_init(&newer_tc.c, sizeof newer_tc), RTM_OK);
    rtm_track_t *t2 = NULL;
    newer_tc.extra = 7;
    CHECK_STATUS(rtm_track_new(&newer_tc.c, SSRC, 1, &t2), RTM_ERR_UNSUPPORTED);
    newer_tc.extra = 0;
    CHECK_STATUS(rtm_track_new(&newer_tc.c, SSRC, 1, &t2), RTM_OK);
    rtm_track_free(t2);
    struct {
        rtm_track_stats s;
        uint8_t tail[16];
    } newer_stats;
    memset(&newer_stats, 0xee, sizeof newer_stats);
    newer_stats.s.struct_size = sizeof newer_stats;
    CHECK_STATUS(rtm_track_get_stats(t, &newer_stats.s), RTM_OK);
    CHECK(newer_stats.s.struct_size == sizeof newer_stats && newer_stats.s.subscribers == 2);
    CHECK(newer_stats.tail[0] == 0xee && newer_stats.tail[15] == 0xee);
    struct {
        rtm_track_output o;
        uint8_t tail[8];
    } newer_out;
    memset(&newer_out, 0xee, sizeof newer_out);
    newer_out.o.struct_size = sizeof newer_out;
    while ((s = rtm_track_poll_output(t, frame_now(queued), out, sizeof out, &newer_out.o)) == RTM_OK) {
    }
    CHECK_STATUS(s, RTM_NOTHING_DUE);
    CHECK(newer_out.o.kind == RTM_TRACK_OUTPUT_NONE && newer_out.tail[7] == 0xee);
    /* An older caller's struct smaller than any released layout: refused. */
    rtm_track_subscriber_state small = {.struct_size = sizeof(size_t)};
    CHECK_STATUS(rtm_track_get_subscriber(t, 1, &small), RTM_ERR_INVALID_ARGUMENT);
    rtm_track_free(t);
}

/* Zero-copy pushes: every buffer released exactly once, by the track's
 * history turning over or by rtm_track_free. */
static void test_zero_copy(void) {
    publisher_init();
    rtm_track_config tc;
    CHECK_STATUS(rtm_track_config_init(&tc, sizeof tc), RTM_OK);
    tc.history_packets = 8;
    rtm_track_t *t = NULL;
    CHECK_STATUS(rtm_track_new(&tc, SSRC, 1, &t), RTM_OK);
    rtm_track_subscriber_config c = sub_config(0x9999, 0);
    CHECK_STATUS(rtm_track_add_subscriber(t, 7, &c, 0), RTM_OK);
    int before = released, pushed = 0;
    uint8_t out[BUF];
    for (int f = 0; f < 30; f++)
        for (int i = 0; i < 2; i++) {
            uint8_t p[BUF];
            size_t len = build_packet(p, 0, f, i);
            CHECK_STATUS(rtm_track_push_rtp(t, exact_copy(p, len), len, release_free, NULL, frame_now(f), NULL),
                         RTM_OK);
            pushed++;
            rtm_track_output o = {.struct_size = sizeof o};
            while (rtm_track_poll_output(t, frame_now(f), out, sizeof out, &o) == RTM_OK) {
            }
        }
    CHECK(released - before == pushed - 8); /* the history keeps 8 */
    rtm_track_free(t);
    CHECK(released - before == pushed);
}

int main(void) {
    test_track();
    test_arguments();
    test_zero_copy();
    return check_report("test_track");
}
