/* The simulcast part of the C ABI: a source fed with hand-built VP8 RTP
 * packets (RFC 7741 descriptors with 15-bit PictureID, TL0PICIDX, TID/Y and
 * KEYIDX) on three SSRCs with their own sequence, timestamp and PictureID
 * bases, answering keyframe requests like a real publisher; forwarders with
 * different targets checked packet by packet from C (one SSRC, gapless
 * sequence numbers, increasing timestamps, PictureID/TL0PICIDX/KEYIDX
 * continuity, switches only at keyframes, temporal filtering, untouched
 * payloads); merged keyframe requests; retransmissions; pause/resume;
 * bandwidth selection; the allocator; every function's NULL and
 * invalid-argument paths; zero-copy ownership; random input. */
#include "rtmedia.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

/* ---- Helpers ----------------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint32_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Release callback of zero-copy pushes: counts and frees. */
static int released;
static void release_count_free(void *userdata, uint8_t *data, size_t len) {
    (void)len;
    int *counter = userdata;
    (*counter)++;
    released++;
    free(data);
}

/* The default configurations (rtm_*_config_init). */
static rtm_source_config source_defaults(void) {
    rtm_source_config c;
    memset(&c, 0xa5, sizeof c);
    CHECK_STATUS(rtm_source_config_init(&c, sizeof c), RTM_OK);
    CHECK(c.struct_size == sizeof c);
    return c;
}

static rtm_forwarder_config forwarder_defaults(void) {
    rtm_forwarder_config c;
    memset(&c, 0xa5, sizeof c);
    CHECK_STATUS(rtm_forwarder_config_init(&c, sizeof c), RTM_OK);
    CHECK(c.struct_size == sizeof c);
    return c;
}

static rtm_allocator_config allocator_defaults(void) {
    rtm_allocator_config c;
    memset(&c, 0xa5, sizeof c);
    CHECK_STATUS(rtm_allocator_config_init(&c, sizeof c), RTM_OK);
    CHECK(c.struct_size == sizeof c);
    return c;
}

/* A track demand that wants nothing yet (rtm_track_demand_init). */
static rtm_track_demand demand(void) {
    rtm_track_demand t;
    memset(&t, 0xa5, sizeof t);
    CHECK_STATUS(rtm_track_demand_init(&t, sizeof t), RTM_OK);
    return t;
}

/* A heap copy of exactly `len` bytes (NULL for 0), for ASan. */
static uint8_t *exact_copy(const uint8_t *bytes, size_t len) {
    if (len == 0) return NULL;
    uint8_t *p = malloc(len);
    memcpy(p, bytes, len);
    return p;
}

/* ---- The publisher --------------------------------------------------------------
 * Three simulcast layers of one VP8 track, 30 fps, L1T3 (TIDs 0 2 1 2 from
 * each keyframe), two packets per frame. Layout of every packet: 12-byte RTP
 * header, 6-byte descriptor (X=1, S, PID=0 | I L T K | M + 15-bit PictureID |
 * TL0PICIDX | TID Y KEYIDX), then, on a frame's first packet, the VP8 payload
 * header byte (P bit: 0 = keyframe), then payload bytes. */

#define LAYERS 3
#define DESC_END 18 /* RTP header + descriptor */
#define PT 96
#define FRAME_US 33333u
#define T0_US 1000000u

static const uint32_t SSRC[LAYERS] = {0x10000001u, 0x20000002u, 0x30000003u};
static const uint32_t TS_BASE[LAYERS] = {1000u, 500000u, 4294900000u}; /* layer 2 wraps */
static const uint16_t SEQ_BASE[LAYERS] = {100, 30000, 65500};              /* layer 2 wraps */
static const uint16_t PID_BASE[LAYERS] = {100, 20000, 32760};              /* layer 2 wraps */

typedef struct {
    uint16_t seq;
    uint16_t pid;
    uint8_t tl0;
    uint8_t keyidx;
    int since_key; /* frames since the last keyframe */
    bool pending_key;
} layer_state;

static layer_state pub[LAYERS];

static void publisher_init(void) {
    for (int s = 0; s < LAYERS; s++) {
        pub[s].seq = SEQ_BASE[s];
        pub[s].pid = (uint16_t)(PID_BASE[s] - 1);
        pub[s].tl0 = (uint8_t)(7 * s + 250); /* wraps too */
        pub[s].keyidx = (uint8_t)(5 * s + 30);
        pub[s].since_key = 0;
        pub[s].pending_key = true; /* encoders start with a keyframe */
    }
}

static size_t build_vp8(uint8_t *buf, int s, uint32_t ts, bool marker, bool start, uint8_t tid,
                        bool key, size_t payload_len) {
    layer_state *l = &pub[s];
    buf[0] = 0x80;
    buf[1] = (uint8_t)((marker ? 0x80 : 0) | PT);
    wr16(buf + 2, l->seq++);
    wr32(buf + 4, ts);
    wr32(buf + 8, SSRC[s]);
    buf[12] = (uint8_t)(0x80 | (start ? 0x10 : 0));
    buf[13] = 0xf0;
    buf[14] = (uint8_t)(0x80 | ((l->pid >> 8) & 0x7f));
    buf[15] = (uint8_t)l->pid;
    buf[16] = l->tl0;
    buf[17] = (uint8_t)(tid << 6 | (tid > 0 ? 0x20 : 0) | (l->keyidx & 0x1f));
    size_t n = DESC_END;
    if (start) {
        buf[n++] = key ? 0x00 : 0x01;
        payload_len--;
    }
    for (size_t i = 0; i < payload_len; i++) buf[n++] = (uint8_t)(s * 37 + l->seq + i);
    return n;
}

/* The two packets of frame `frame` of layer `s` into p[0], p[1]. */
static void build_frame(int s, int frame, uint8_t p[2][1500], size_t len[2], bool *key_out,
                        uint8_t *tid_out) {
    static const uint8_t PATTERN[4] = {0, 2, 1, 2};
    layer_state *l = &pub[s];
    bool key = l->pending_key;
    l->pending_key = false;
    if (key) {
        l->since_key = 0;
        l->keyidx = (uint8_t)((l->keyidx + 1) & 0x1f);
    }
    uint8_t tid = PATTERN[l->since_key % 4];
    l->since_key++;
    l->pid = (uint16_t)((l->pid + 1) & 0x7fff);
    if (tid == 0) l->tl0++;
    uint32_t ts = TS_BASE[s] + (uint32_t)frame * 3000u;
    len[0] = build_vp8(p[0], s, ts, false, true, tid, key, 150 * (size_t)(s + 1));
    len[1] = build_vp8(p[1], s, ts, true, false, tid, key, 100 * (size_t)(s + 1));
    *key_out = key;
    *tid_out = tid;
}

/* ---- Checking what a subscriber receives ------------------------------------------ */

typedef struct {
    const char *name;
    uint32_t ssrc;
    int pt;           /* expected payload type */
    int max_tid;      /* highest TID it should get */
    bool have_last;
    uint16_t last_seq;
    uint32_t last_ts;
    uint16_t last_pid;
    uint8_t last_tl0;
    uint8_t last_keyidx;
    int last_spatial;
    int sent;
    int frames;
    int keyframes;
    int switches;
    int bad_switch; /* a spatial change not at a keyframe */
    int first_layer2_frame;
    int switch_ts_delta;
    int drops[RTM_DROP_REASONS];
    /* Every sent packet by sequence number, for retransmissions. */
    uint8_t store[1024][1500];
    size_t store_len[1024];
    int store_frame[1024];
    int first_sent_frame;
    bool expect_key; /* the next packet must start a keyframe */
} receiver;

static receiver *receiver_new(const char *name, uint32_t ssrc, int pt, int max_tid) {
    receiver *r = calloc(1, sizeof *r);
    r->name = name;
    r->ssrc = ssrc;
    r->pt = pt;
    r->max_tid = max_tid;
    r->last_spatial = -1;
    r->first_layer2_frame = -1;
    r->first_sent_frame = -1;
    return r;
}

/* Checks one forwarded packet `out[0..n]` made from `in[0..in_len]`. */
static void receive(receiver *r, const uint8_t *in, size_t in_len, const uint8_t *out, size_t n,
                    const rtm_source_packet_info *info, int frame) {
    CHECK(n == in_len); /* 15-bit PictureIDs: no widening */
    CHECK(n >= DESC_END);
    if (n < DESC_END) return;
    uint16_t seq = rd16(out + 2);
    uint32_t ts = rd32(out + 4);
    bool start = (out[12] & 0x10) != 0;
    uint16_t pid = (uint16_t)(rd16(out + 14) & 0x7fff);
    uint8_t tl0 = out[16];
    uint8_t tid = out[17] >> 6;
    uint8_t keyidx = out[17] & 0x1f;
    bool key = start && (out[DESC_END] & 1) == 0;

    CHECK(rd32(out + 8) == r->ssrc);
    CHECK((out[1] & 0x7f) == r->pt);
    CHECK((out[1] & 0x80) == (in[1] & 0x80));
    CHECK(out[0] == in[0] && out[12] == in[12] && out[13] == in[13]);
    CHECK((out[17] & 0xe0) == (in[17] & 0xe0)); /* TID and Y untouched */
    CHECK(memcmp(out + DESC_END, in + DESC_END, n - DESC_END) == 0);
    CHECK(tid <= r->max_tid);
    CHECK(key == info->keyframe);
    if (r->expect_key) {
        CHECK(key);
        r->expect_key = false;
    }

    if (r->last_spatial != info->spatial) {
        if (r->last_spatial >= 0) r->switches++;
        if (!key) r->bad_switch++;
        if (info->spatial == 2 && r->first_layer2_frame < 0) r->first_layer2_frame = frame;
    }
    if (r->have_last) {
        CHECK(seq == (uint16_t)(r->last_seq + 1));
        if (start) {
            int32_t dts = (int32_t)(ts - r->last_ts);
            CHECK(dts > 0);
            if (r->last_spatial != info->spatial && r->last_spatial >= 0) r->switch_ts_delta = dts;
            CHECK(pid == ((r->last_pid + 1) & 0x7fff));
            CHECK(tl0 == (uint8_t)(tid == 0 ? r->last_tl0 + 1 : r->last_tl0));
            CHECK(keyidx == (key ? ((r->last_keyidx + 1) & 0x1f) : r->last_keyidx));
        } else {
            CHECK(ts == r->last_ts && pid == r->last_pid && tl0 == r->last_tl0);
            CHECK(keyidx == r->last_keyidx);
        }
    } else {
        CHECK(key); /* a subscriber starts at a keyframe */
        r->first_sent_frame = frame;
    }
    r->have_last = true;
    r->last_seq = seq;
    r->last_ts = ts;
    r->last_pid = pid;
    r->last_tl0 = tl0;
    r->last_keyidx = keyidx;
    r->last_spatial = info->spatial;
    r->sent++;
    r->frames += start;
    r->keyframes += key;
    memcpy(r->store[seq & 1023], out, n);
    r->store_len[seq & 1023] = n;
    r->store_frame[seq & 1023] = frame;
}

/* ---- The room ----------------------------------------------------------------- */

#define FWDS 3

typedef struct {
    rtm_source_t *src;
    rtm_forwarder_t *fwd[FWDS];
    receiver *rx[FWDS];
    int zero_copy_released;
    int zero_copy_pushed;
    int pli[LAYERS];          /* keyframe requests sent to the publisher */
    int pli_at_frame[100][LAYERS];
} room;

static uint64_t frame_now(int frame) { return T0_US + (uint64_t)frame * FRAME_US; }

/* Keyframe requests: forwarders → source (merged) → publisher. */
static void route_keyframe_requests(room *rm, int frame) {
    for (int f = 0; f < FWDS; f++) {
        if (!rm->fwd[f]) continue;
        uint8_t sp = 0xff;
        while (rtm_forwarder_poll_keyframe_request(rm->fwd[f], &sp) == RTM_OK) {
            CHECK_STATUS(rtm_source_request_keyframe(rm->src, sp), RTM_OK);
        }
    }
    uint32_t ssrc = 0;
    while (rtm_source_poll_keyframe_request(rm->src, frame_now(frame), &ssrc) == RTM_OK) {
        for (int s = 0; s < LAYERS; s++) {
            if (ssrc == SSRC[s]) {
                pub[s].pending_key = true;
                rm->pli[s]++;
                rm->pli_at_frame[frame][s]++;
            }
        }
    }
}

/* Pushes one packet (zero-copy for layer 2, copied otherwise) and forwards
 * it to every forwarder. */
static void push_and_forward(room *rm, int s, const uint8_t *pkt, size_t len, int frame,
                             int too_small_for) {
    rtm_source_packet_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    uint64_t now = frame_now(frame);
    if (s == 2) {
        rm->zero_copy_pushed++;
        CHECK_STATUS(rtm_source_push(rm->src, exact_copy(pkt, len), len, release_count_free,
                                     &rm->zero_copy_released, now, &info),
                     RTM_OK);
    } else {
        CHECK_STATUS(rtm_source_push_copy(rm->src, pkt, len, now, &info), RTM_OK);
    }
    CHECK(info.spatial == s && info.ssrc == SSRC[s] && info.len == len);
    CHECK(info.forwarded_len == len && info.timestamp == rd32(pkt + 4));
    CHECK(info.temporal == (pkt[17] >> 6) && info.layer_sync == ((pkt[17] & 0x20) != 0));
    CHECK(info.marker == ((pkt[1] & 0x80) != 0) && !info.padding_only);
    CHECK(info.frame_start == ((pkt[12] & 0x10) ? 1 : 0));
    CHECK(info.ext_picture_id >= 32768 && (info.ext_picture_id & 0x7fff) == (rd16(pkt + 14) & 0x7fff));
    CHECK(info.ext_seq >= 65536 && (uint16_t)info.ext_seq == rd16(pkt + 2));
    CHECK(info.has_capture_time);
    for (int f = 0; f < FWDS; f++) {
        if (!rm->fwd[f]) continue;
        uint8_t out[1500 + 1 + RTM_SRTP_MAX_TRAILER_LEN];
        size_t n = 12345;
        rtm_drop_reason why = 99;
        if (f == too_small_for) {
            /* One byte short: refused, and nothing changes (the checks of
             * the real call below would see a gap otherwise). */
            CHECK_STATUS(rtm_forwarder_forward(rm->fwd[f], rm->src, out, info.forwarded_len - 1,
                                               now, &n, &why),
                         RTM_ERR_BUFFER_TOO_SMALL);
            CHECK(n == 12345 && why == 99);
        }
        CHECK_STATUS(rtm_forwarder_forward(rm->fwd[f], rm->src, out, sizeof out, now, &n, &why),
                     RTM_OK);
        if (n > 0) {
            CHECK(why == RTM_DROP_NONE);
            receive(rm->rx[f], pkt, len, out, n, &info, frame);
        } else {
            CHECK(why >= RTM_DROP_PAUSED && why <= RTM_DROP_PADDING);
            if (why < RTM_DROP_REASONS) rm->rx[f]->drops[why]++;
        }
    }
}

static void run_frame(room *rm, int frame) {
    route_keyframe_requests(rm, frame);
    for (int s = 0; s < LAYERS; s++) {
        uint8_t p[2][1500];
        size_t len[2];
        bool key;
        uint8_t tid;
        build_frame(s, frame, p, len, &key, &tid);
        for (int i = 0; i < 2; i++) {
            push_and_forward(rm, s, p[i], len[i], frame, frame == 45 && s == 2 && i == 1 ? 0 : -1);
        }
    }
}

/* Sender reports of the three layers in one compound packet, all taken at
 * the publisher's NTP time 1000 s, when each layer's timestamp was its
 * frame-0 value (so capture times agree across layers). */
static size_t sender_reports(uint8_t *buf, const uint32_t *ssrcs, int n) {
    size_t at = 0;
    for (int s = 0; s < n; s++) {
        uint8_t *p = buf + at;
        p[0] = 0x80;
        p[1] = 200;
        wr16(p + 2, 6);
        wr32(p + 4, ssrcs[s]);
        wr32(p + 8, 1000); /* NTP seconds */
        wr32(p + 12, 0);   /* NTP fraction */
        wr32(p + 16, TS_BASE[s]);
        wr32(p + 20, 10);
        wr32(p + 24, 1000);
        at += 28;
    }
    return at;
}

static rtm_forwarder_t *new_forwarder(uint32_t ssrc, int16_t pt) {
    rtm_forwarder_config c = forwarder_defaults();
    c.ssrc = ssrc;
    c.payload_type = pt;
    rtm_forwarder_t *f = NULL;
    CHECK_STATUS(rtm_forwarder_new(&c, &f), RTM_OK);
    CHECK(f != NULL);
    return f;
}

static void check_layer(rtm_forwarder_t *f, bool current, int spatial, int temporal) {
    rtm_layer l = {0xee, 0xee};
    if (spatial < 0) {
        CHECK_STATUS(current ? rtm_forwarder_current_layer(f, &l) : rtm_forwarder_target_layer(f, &l),
                     RTM_ERR_NOT_FOUND);
        return;
    }
    CHECK_STATUS(current ? rtm_forwarder_current_layer(f, &l) : rtm_forwarder_target_layer(f, &l),
                 RTM_OK);
    CHECK(l.spatial == spatial && l.temporal == temporal);
}

static rtm_pause_reason pause_reason(rtm_forwarder_t *f) {
    rtm_pause_reason r = 0xee;
    CHECK_STATUS(rtm_forwarder_pause_reason(f, &r), RTM_OK);
    return r;
}

static void test_forwarding(void) {
    publisher_init();
    room *rm = calloc(1, sizeof *rm);
    rtm_source_config sc = source_defaults();
    CHECK(sc.codec == RTM_SOURCE_CODEC_VP8 && sc.clock_rate == 90000);
    CHECK(sc.history_packets == 1024 && sc.inactive_after_us == 1000000);
    CHECK(sc.keyframe_retry_min_us == 300000);
    CHECK_STATUS(rtm_source_new(&sc, SSRC, LAYERS, &rm->src), RTM_OK);

    uint8_t rtcp[3 * 28];
    size_t used = 99;
    CHECK_STATUS(rtm_source_on_rtcp(rm->src, rtcp, sender_reports(rtcp, SSRC, 3), &used), RTM_OK);
    CHECK(used == 3);
    const uint32_t stranger = 0x55555555u;
    CHECK_STATUS(rtm_source_on_rtcp(rm->src, rtcp, sender_reports(rtcp, &stranger, 1), &used),
                 RTM_OK);
    CHECK(used == 0);
    CHECK_STATUS(rtm_source_on_rtcp(rm->src, rtcp, sender_reports(rtcp, SSRC, 3), NULL), RTM_OK);
    CHECK_STATUS(rtm_source_set_rtt(rm->src, 50000), RTM_OK);

    /* Nothing pushed yet: no current packet. */
    rm->fwd[0] = new_forwarder(0xaaaa0001u, -1);
    uint8_t out[1600];
    size_t n = 7;
    CHECK_STATUS(rtm_forwarder_forward(rm->fwd[0], rm->src, out, sizeof out, 0, &n, NULL),
                 RTM_ERR_NOT_FOUND);
    CHECK(pause_reason(rm->fwd[0]) == RTM_PAUSE_NO_FEED);
    check_layer(rm->fwd[0], false, -1, 0);

    /* A: everything of layer 0, then layer 2. B: up to TID 1 of layer 0,
     * then of layer 2, payload type rewritten. */
    rm->fwd[1] = new_forwarder(0xbbbb0002u, 100);
    rm->rx[0] = receiver_new("A", 0xaaaa0001u, PT, 3);
    rm->rx[1] = receiver_new("B", 0xbbbb0002u, 100, 1);
    rm->rx[2] = receiver_new("C", 0xcccc0003u, PT, 1);
    CHECK_STATUS(rtm_forwarder_set_target(rm->fwd[0], 0, 3), RTM_OK);
    CHECK_STATUS(rtm_forwarder_set_target(rm->fwd[1], 0, 1), RTM_OK);
    CHECK(pause_reason(rm->fwd[0]) == RTM_PAUSE_NONE);
    check_layer(rm->fwd[0], false, 0, 3);
    check_layer(rm->fwd[0], true, -1, 0);

    for (int frame = 0; frame < 60; frame++) {
        if (frame == 10) {
            /* C joins late, on layer 1: waits for a keyframe it asks for. */
            rm->fwd[2] = new_forwarder(0xcccc0003u, -1);
            CHECK_STATUS(rtm_forwarder_set_target(rm->fwd[2], 1, 1), RTM_OK);
        }
        if (frame == 30) {
            /* A and B move up to layer 2: one keyframe request between them. */
            CHECK_STATUS(rtm_forwarder_set_target(rm->fwd[0], 2, 3), RTM_OK);
            CHECK_STATUS(rtm_forwarder_set_target(rm->fwd[1], 2, 1), RTM_OK);
        }
        run_frame(rm, frame);
        if (frame == 29) {
            check_layer(rm->fwd[0], true, 0, 3);
            check_layer(rm->fwd[1], true, 0, 1);
            check_layer(rm->fwd[2], true, 1, 1);
        }
    }
    receiver *a = rm->rx[0], *b = rm->rx[1], *c = rm->rx[2];

    /* Keyframe requests: merged at frame 0 (A and B on layer 0) and at frame
     * 30 (A and B on layer 2); C's at frame 10. */
    CHECK(rm->pli_at_frame[0][0] == 1 && rm->pli_at_frame[0][1] == 0 && rm->pli_at_frame[0][2] == 0);
    CHECK(rm->pli_at_frame[10][1] == 1);
    CHECK(rm->pli_at_frame[30][2] == 1);
    CHECK(rm->pli[0] == 1 && rm->pli[1] == 1 && rm->pli[2] == 1);

    /* A: all of layer 0 (frames 0–29: 60 packets), then layer 2 from its
     * keyframe at frame 30, switched once, at a keyframe, with a small
     * timestamp step (the sender reports align the layers). */
    CHECK(a->first_sent_frame == 0 && a->first_layer2_frame == 30);
    CHECK(a->switches == 1 && a->bad_switch == 0);
    CHECK(a->sent == 122 && a->frames == 61); /* layer 0 to frame 30, then layer 2 */
    CHECK(a->switch_ts_delta >= 1 && a->switch_ts_delta <= 3000);
    CHECK(a->drops[RTM_DROP_OTHER_LAYER] == 238 && a->drops[RTM_DROP_TEMPORAL_LAYER] == 0);
    check_layer(rm->fwd[0], true, 2, 3);
    /* B: the same frames without TID 2 (every second frame after a keyframe). */
    CHECK(b->first_sent_frame == 0 && b->first_layer2_frame == 30);
    CHECK(b->switches == 1 && b->bad_switch == 0);
    CHECK(b->frames == 31 && b->sent == 62);
    CHECK(b->drops[RTM_DROP_TEMPORAL_LAYER] == 60);
    check_layer(rm->fwd[1], true, 2, 1);
    /* C: nothing until layer 1's keyframe at frame 10, then layer 1 only. */
    CHECK(c->first_sent_frame == 10 && c->switches == 0 && c->bad_switch == 0);
    CHECK(c->drops[RTM_DROP_WAITING_FOR_KEYFRAME] == 2);
    CHECK(c->frames == 25 && c->drops[RTM_DROP_TEMPORAL_LAYER] == 50);

    /* Retransmissions (A): identical bytes after the last keyframe and
     * before it (a NACK may cross a keyframe; the frames before it still
     * play), not found past the end. */
    uint16_t last = a->last_seq;
    int identical = 0;
    for (uint16_t back = 0; back < 40; back++) {
        uint16_t seq = (uint16_t)(last - back);
        CHECK(a->store_frame[seq & 1023] >= 30);
        size_t len = 0;
        CHECK_STATUS(rtm_forwarder_retransmit(rm->fwd[0], rm->src, seq, out, sizeof out, &len),
                     RTM_OK);
        identical += len == a->store_len[seq & 1023] && memcmp(out, a->store[seq & 1023], len) == 0;
    }
    CHECK(identical == 40);
    size_t len = 77;
    uint16_t before_key = (uint16_t)(last - 70); /* frame 24 or so: layer 0 */
    CHECK(a->store_frame[before_key & 1023] < 30);
    CHECK_STATUS(rtm_forwarder_retransmit(rm->fwd[0], rm->src, before_key, out, sizeof out, &len),
                 RTM_OK);
    CHECK(len == a->store_len[before_key & 1023] && memcmp(out, a->store[before_key & 1023], len) == 0);
    len = 77;
    CHECK_STATUS(rtm_forwarder_retransmit(rm->fwd[0], rm->src, (uint16_t)(last + 3), out, sizeof out,
                                          &len),
                 RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_forwarder_retransmit(rm->fwd[0], rm->src, last, out, a->store_len[last & 1023] - 1,
                                          &len),
                 RTM_ERR_BUFFER_TOO_SMALL);
    CHECK(len == 77);
    CHECK(strcmp(rtm_status_str(RTM_ERR_BEFORE_KEYFRAME), "packet from before a switch to a lower layer") == 0);
    CHECK(RTM_ERR_BEFORE_KEYFRAME == -33);

    /* In flight: with the round trip known, a packet sent again at t0 is not
     * sent again before t0 + rtt (RTM_NOTHING_DUE, nothing written); then it
     * is. The plain call always answers. */
    uint64_t t0 = 50000000;
    CHECK_STATUS(rtm_forwarder_set_rtt(NULL, 1), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_set_rtt(rm->fwd[0], 200000), RTM_OK);
    CHECK_STATUS(rtm_forwarder_retransmit_at(rm->fwd[0], rm->src, last, t0, out, sizeof out, &len),
                 RTM_OK);
    CHECK(len == a->store_len[last & 1023] && memcmp(out, a->store[last & 1023], len) == 0);
    len = 77;
    CHECK_STATUS(
        rtm_forwarder_retransmit_at(rm->fwd[0], rm->src, last, t0 + 150000, out, sizeof out, &len),
        RTM_NOTHING_DUE);
    CHECK(len == 0);
    CHECK_STATUS(rtm_forwarder_retransmit(rm->fwd[0], rm->src, last, out, sizeof out, &len), RTM_OK);
    CHECK_STATUS(
        rtm_forwarder_retransmit_at(rm->fwd[0], rm->src, last, t0 + 200000, out, sizeof out, &len),
        RTM_OK);
    CHECK(len == a->store_len[last & 1023]);
    CHECK_STATUS(rtm_forwarder_retransmit_at(rm->fwd[0], rm->src, (uint16_t)(last + 3), t0, out,
                                             sizeof out, &len),
                 RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_forwarder_retransmit_at(NULL, rm->src, last, t0, out, sizeof out, &len),
                 RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_retransmit_at(rm->fwd[0], rm->src, last, t0, out, sizeof out, NULL),
                 RTM_ERR_NULL_POINTER);
    rtm_forwarder_stats in_flight = {.struct_size = sizeof in_flight};
    CHECK_STATUS(rtm_forwarder_get_stats(rm->fwd[0], &in_flight), RTM_OK);
    CHECK(in_flight.nacks_in_flight == 1);
    CHECK_STATUS(rtm_forwarder_set_rtt(rm->fwd[0], 0), RTM_OK);

    /* Pause B (muted) for frames 60–64, resume at 65: it restarts at a new
     * layer-2 keyframe, continuing its numbering without a gap. */
    CHECK_STATUS(rtm_forwarder_pause(rm->fwd[1], RTM_PAUSE_MUTED), RTM_OK);
    CHECK(pause_reason(rm->fwd[1]) == RTM_PAUSE_MUTED);
    check_layer(rm->fwd[1], true, -1, 0);
    check_layer(rm->fwd[1], false, 2, 1);
    int b_sent = b->sent, b_paused = b->drops[RTM_DROP_PAUSED];
    for (int frame = 60; frame < 65; frame++) run_frame(rm, frame);
    CHECK(b->sent == b_sent && b->drops[RTM_DROP_PAUSED] - b_paused == 30);
    CHECK_STATUS(rtm_forwarder_resume(rm->fwd[1]), RTM_OK);
    b->expect_key = true;
    CHECK(pause_reason(rm->fwd[1]) == RTM_PAUSE_NONE);
    int pli2 = rm->pli[2];
    for (int frame = 65; frame < 80; frame++) run_frame(rm, frame);
    CHECK(rm->pli[2] == pli2 + 1 && rm->pli_at_frame[65][2] == 1);
    CHECK(b->sent > b_sent && b->bad_switch == 0 && !b->expect_key);
    check_layer(rm->fwd[1], true, 2, 1);
    /* A got that keyframe too (B asked for it): A's earlier packets are
     * still sent again. */
    CHECK_STATUS(rtm_forwarder_retransmit(rm->fwd[0], rm->src, last, out, sizeof out, &len),
                 RTM_OK);
    CHECK(len == a->store_len[last & 1023] && memcmp(out, a->store[last & 1023], len) == 0);

    /* Bandwidth: C picks from the measured layers. */
    uint64_t now = frame_now(80);
    rtm_layer_bitrates br;
    memset(&br, 0xff, sizeof br);
    CHECK_STATUS(rtm_source_bitrates(rm->src, now, &br), RTM_OK);
    for (int s = 0; s < LAYERS; s++) {
        CHECK(br.bps[s][0] > 0 && br.bps[s][1] > br.bps[s][0] && br.bps[s][2] > br.bps[s][1]);
        CHECK(br.bps[s][3] == 0);
    }
    CHECK(br.bps[1][2] > br.bps[0][2] && br.bps[2][2] > br.bps[1][2]);
    CHECK_STATUS(rtm_forwarder_set_available_bitrate(rm->fwd[2], rm->src, now, 1), RTM_OK);
    CHECK(pause_reason(rm->fwd[2]) == RTM_PAUSE_BANDWIDTH);
    check_layer(rm->fwd[2], false, -1, 0);
    CHECK_STATUS(rtm_forwarder_set_available_bitrate(rm->fwd[2], rm->src, now, UINT64_MAX), RTM_OK);
    CHECK(pause_reason(rm->fwd[2]) == RTM_PAUSE_NONE);
    check_layer(rm->fwd[2], false, 2, 2);
    CHECK_STATUS(rtm_forwarder_set_max_layer(rm->fwd[2], 1, 3), RTM_OK);
    check_layer(rm->fwd[2], false, 1, 2);
    CHECK_STATUS(rtm_forwarder_set_available_bitrate(rm->fwd[2], rm->src, now, br.bps[1][1]), RTM_OK);
    check_layer(rm->fwd[2], false, 1, 1);
    CHECK_STATUS(rtm_forwarder_set_max_layer(rm->fwd[2], 0, 0), RTM_OK);
    check_layer(rm->fwd[2], false, 0, 0);
    /* Long after the last packet: no feed. */
    CHECK_STATUS(rtm_forwarder_set_available_bitrate(rm->fwd[2], rm->src, now + 5000000, UINT64_MAX),
                 RTM_OK);
    CHECK(pause_reason(rm->fwd[2]) == RTM_PAUSE_NO_FEED);

    /* Stats. */
    rtm_source_stats ss;
    memset(&ss, 0, sizeof ss);
    CHECK_STATUS(rtm_source_get_stats(rm->src, SIZED(ss)), RTM_OK);
    CHECK(ss.packets == 80 * 6 && ss.unknown_ssrc == 0 && ss.malformed == 0);
    CHECK(ss.padding_packets == 0 && ss.sender_reports == 6);
    CHECK(ss.keyframes[0] == 1 && ss.keyframes[1] == 2 && ss.keyframes[2] == 3);
    CHECK(ss.keyframe_requests_sent[0] == 1 && ss.keyframe_requests_sent[1] == 1);
    CHECK(ss.keyframe_requests_sent[2] == 2);
    /* A struct_size below the first layout: refused, nothing written. */
    memset(&ss, 0xab, sizeof ss);
    ss.struct_size = sizeof(uint64_t);
    CHECK_STATUS(rtm_source_get_stats(rm->src, &ss), RTM_ERR_INVALID_ARGUMENT);
    CHECK(ss.struct_size == sizeof(uint64_t) && ss.packets == 0xabababababababab && ss.bytes == 0xabababababababab);
    /* A newer caller's larger struct: the known bytes, the tail untouched. */
    rtm_source_stats known;
    CHECK_STATUS(rtm_source_get_stats(rm->src, SIZED(known)), RTM_OK);
    struct {
        rtm_source_stats s;
        uint8_t newer[24];
    } big_ss;
    memset(&big_ss, 0xab, sizeof big_ss);
    big_ss.s.struct_size = sizeof big_ss;
    CHECK_STATUS(rtm_source_get_stats(rm->src, &big_ss.s), RTM_OK);
    CHECK(big_ss.s.struct_size == sizeof big_ss);
    CHECK(memcmp((uint8_t *)&big_ss.s + sizeof(size_t), (uint8_t *)&known + sizeof(size_t),
                 sizeof known - sizeof(size_t)) == 0);
    bool newer_intact = true;
    for (size_t k = 0; k < sizeof big_ss.newer; k++) newer_intact &= big_ss.newer[k] == 0xab;
    CHECK(newer_intact);

    rtm_forwarder_stats fs;
    memset(&fs, 0, sizeof fs);
    CHECK_STATUS(rtm_forwarder_get_stats(rm->fwd[0], SIZED(fs)), RTM_OK);
    CHECK(fs.packets_sent == (uint64_t)a->sent && fs.frames_sent == (uint64_t)a->frames);
    CHECK(fs.keyframes_sent == (uint64_t)a->keyframes && fs.spatial_switches == 1);
    CHECK(fs.dropped[RTM_DROP_OTHER_LAYER] == (uint64_t)a->drops[RTM_DROP_OTHER_LAYER]);
    /* 42, and the 3 of the in-flight checks (one of them not found, one in
     * flight). */
    CHECK(fs.retransmitted == 45 && fs.nacks_before_keyframe == 0 && fs.nacks_not_found == 2);
    CHECK(fs.nacks_in_flight == 1);
    CHECK(fs.cut_frames == 0);
    CHECK_STATUS(rtm_forwarder_get_stats(rm->fwd[1], SIZED(fs)), RTM_OK);
    CHECK(fs.dropped[RTM_DROP_TEMPORAL_LAYER] == (uint64_t)b->drops[RTM_DROP_TEMPORAL_LAYER]);
    CHECK(fs.dropped[RTM_DROP_PAUSED] == (uint64_t)b->drops[RTM_DROP_PAUSED]);
    CHECK(fs.packets_sent == (uint64_t)b->sent);
    /* A struct_size below the first layout: refused, nothing written. */
    memset(&fs, 0xab, sizeof fs);
    fs.struct_size = 0;
    CHECK_STATUS(rtm_forwarder_get_stats(rm->fwd[1], &fs), RTM_ERR_INVALID_ARGUMENT);
    CHECK(fs.struct_size == 0 && fs.packets_sent == 0xabababababababab && fs.cut_frames == 0xabababababababab);
    fs.struct_size = sizeof fs - 1;
    CHECK_STATUS(rtm_forwarder_get_stats(rm->fwd[1], &fs), RTM_ERR_INVALID_ARGUMENT);
    CHECK(fs.packets_sent == 0xabababababababab);
    /* A newer caller's larger struct: the known bytes, the tail untouched. */
    rtm_forwarder_stats fknown;
    CHECK_STATUS(rtm_forwarder_get_stats(rm->fwd[1], SIZED(fknown)), RTM_OK);
    struct {
        rtm_forwarder_stats s;
        uint8_t newer[24];
    } big_fs;
    memset(&big_fs, 0xab, sizeof big_fs);
    big_fs.s.struct_size = sizeof big_fs;
    CHECK_STATUS(rtm_forwarder_get_stats(rm->fwd[1], &big_fs.s), RTM_OK);
    CHECK(big_fs.s.struct_size == sizeof big_fs);
    CHECK(memcmp((uint8_t *)&big_fs.s + sizeof(size_t), (uint8_t *)&fknown + sizeof(size_t),
                 sizeof fknown - sizeof(size_t)) == 0);
    newer_intact = true;
    for (size_t k = 0; k < sizeof big_fs.newer; k++) newer_intact &= big_fs.newer[k] == 0xab;
    CHECK(newer_intact);

    /* A failed push ends the current packet. */
    uint8_t junk[3] = {0x80, 0, 0};
    CHECK_STATUS(rtm_source_push_copy(rm->src, junk, sizeof junk, now, NULL), RTM_ERR_TRUNCATED);
    CHECK_STATUS(rtm_forwarder_forward(rm->fwd[0], rm->src, out, sizeof out, now, &n, NULL),
                 RTM_ERR_NOT_FOUND);

    /* Zero-copy buffers: held by the history (sized by time: at least the
     * last two seconds of the layer, here 60 frames of 2 packets) until it
     * turns over or the source is freed. */
    CHECK(rm->zero_copy_pushed - rm->zero_copy_released >= 120);
    for (int f = 0; f < FWDS; f++) rtm_forwarder_free(rm->fwd[f]);
    rtm_source_free(rm->src);
    CHECK(rm->zero_copy_released == rm->zero_copy_pushed);
    for (int f = 0; f < FWDS; f++) free(rm->rx[f]);
    free(rm);
}

/* ---- Zero-copy ownership ------------------------------------------------------- */

static void test_zero_copy_ownership(void) {
    publisher_init();
    rtm_source_config sc = source_defaults();
    sc.history_packets = 4;
    rtm_source_t *src = NULL;
    CHECK_STATUS(rtm_source_new(&sc, SSRC, 1, &src), RTM_OK);
    int count = 0;
    int pushed = 0;
    for (int frame = 0; frame < 10; frame++) {
        uint8_t p[2][1500];
        size_t len[2];
        bool key;
        uint8_t tid;
        build_frame(0, frame, p, len, &key, &tid);
        for (int i = 0; i < 2; i++) {
            pushed++;
            CHECK_STATUS(rtm_source_push(src, exact_copy(p[i], len[i]), len[i], release_count_free,
                                         &count, frame_now(frame), NULL),
                         RTM_OK);
        }
    }
    /* The history keeps 4; the rest went back as they were replaced. */
    CHECK(count == pushed - 4);
    /* Refused packets are released at once. */
    uint8_t bad[20] = {0x80, 96, 0, 1, 0, 0, 0, 1, 0x77, 0x77, 0x77, 0x77, 0x10, 0x00};
    int before = count;
    CHECK_STATUS(rtm_source_push(src, exact_copy(bad, sizeof bad), sizeof bad, release_count_free,
                                 &count, 0, NULL),
                 RTM_ERR_NOT_FOUND);
    CHECK(count == before + 1);
    CHECK_STATUS(rtm_source_push(src, exact_copy(bad, 5), 5, release_count_free, &count, 0, NULL),
                 RTM_ERR_TRUNCATED);
    CHECK(count == before + 2);
    /* A NULL source: released too. */
    CHECK_STATUS(rtm_source_push(NULL, exact_copy(bad, 8), 8, release_count_free, &count, 0, NULL),
                 RTM_ERR_NULL_POINTER);
    CHECK(count == before + 3);
    /* NULL data with a length: refused, and the callback still runs. */
    CHECK_STATUS(rtm_source_push(src, NULL, 8, release_count_free, &count, 0, NULL),
                 RTM_ERR_NULL_POINTER);
    CHECK(count == before + 4);
    /* A length no buffer has ((size_t)-1, a failed recv()): refused, and
     * the buffer released exactly once. */
    uint8_t *huge = exact_copy(bad, 8);
    CHECK_STATUS(rtm_source_push(src, huge, (size_t)-1, release_count_free, &count, 0, NULL),
                 RTM_ERR_INVALID_ARGUMENT);
    CHECK(count == before + 5);
    CHECK_STATUS(rtm_source_push_copy(src, bad, (size_t)-1, 0, NULL), RTM_ERR_INVALID_ARGUMENT);
    /* An info struct whose struct_size is not set: refused before the
     * packet is looked at (nothing counted, info untouched), the buffer
     * released once. */
    rtm_source_stats st_before, st_after;
    CHECK_STATUS(rtm_source_get_stats(src, SIZED(st_before)), RTM_OK);
    rtm_source_packet_info bad_info;
    memset(&bad_info, 0x5a, sizeof bad_info);
    bad_info.struct_size = 0;
    uint8_t p0[2][1500];
    size_t len0[2];
    bool key0;
    uint8_t tid0;
    build_frame(0, 10, p0, len0, &key0, &tid0);
    CHECK_STATUS(rtm_source_push(src, exact_copy(p0[0], len0[0]), len0[0], release_count_free, &count, 0,
                                 &bad_info),
                 RTM_ERR_INVALID_ARGUMENT);
    CHECK(count == before + 6);
    CHECK_STATUS(rtm_source_push_copy(src, p0[0], len0[0], 0, &bad_info), RTM_ERR_INVALID_ARGUMENT);
    CHECK(bad_info.struct_size == 0 && bad_info.ssrc == 0x5a5a5a5au && bad_info.len == 0x5a5a5a5a5a5a5a5aull);
    CHECK_STATUS(rtm_source_get_stats(src, SIZED(st_after)), RTM_OK);
    CHECK(st_after.packets == st_before.packets && st_after.malformed == st_before.malformed);
    /* Longer than max_packet_bytes (default RTM_DEFAULT_MAX_PACKET_BYTES):
     * refused as TOO_LARGE, counted in `oversize`, released once. */
    static uint8_t jumbo[RTM_DEFAULT_MAX_PACKET_BYTES + 1];
    memcpy(jumbo, p0[0], len0[0]);
    CHECK_STATUS(rtm_source_push_copy(src, jumbo, sizeof jumbo, 0, NULL), RTM_ERR_TOO_LARGE);
    CHECK_STATUS(rtm_source_push(src, exact_copy(jumbo, sizeof jumbo), sizeof jumbo, release_count_free, &count,
                                 0, NULL),
                 RTM_ERR_TOO_LARGE);
    CHECK(count == before + 7);
    CHECK_STATUS(rtm_source_get_stats(src, SIZED(st_after)), RTM_OK);
    CHECK(st_after.oversize == 2 && st_after.packets == st_before.packets);
    /* No callback: nothing to release (static memory). */
    static uint8_t fixed[20] = {0x80, 96, 0, 1, 0, 0, 0, 1, 0x77, 0x77, 0x77, 0x77, 0x10, 0x00};
    CHECK_STATUS(rtm_source_push(src, fixed, sizeof fixed, NULL, NULL, 0, NULL), RTM_ERR_NOT_FOUND);
    rtm_source_free(src);
    CHECK(count == pushed + 7);
}

/* ---- Allocator ----------------------------------------------------------------- */

static rtm_layer_bitrates rates(void) {
    rtm_layer_bitrates r;
    memset(&r, 0, sizeof r);
    const uint64_t base[LAYERS] = {60000, 200000, 600000};
    for (int s = 0; s < LAYERS; s++) {
        r.bps[s][0] = base[s];
        r.bps[s][1] = base[s] * 3 / 2;
        r.bps[s][2] = base[s] * 5 / 2;
    }
    return r;
}

static void test_allocator(void) {
    rtm_allocator_config c = allocator_defaults();
    CHECK(c.min_change == 0.1 && c.upgrade_hold_us == 5000000 && c.max_keyframe_transfer_us == 150000);
    rtm_allocator_t *al = NULL;
    CHECK_STATUS(rtm_allocator_new(&c, 4, &al), RTM_OK);
    rtm_track_demand t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = demand();
        CHECK(t[i].struct_size == sizeof t[i] && t[i].priority == 0 && !t[i].muted);
        CHECK(t[i].max_layer.spatial == RTM_SIMULCAST_MAX_SPATIAL - 1 &&
              t[i].max_layer.temporal == RTM_SIMULCAST_MAX_TEMPORAL - 1);
        CHECK(t[i].bitrates.bps[0][0] == 0 && t[i].keyframe_bytes[2] == 0);
        t[i].priority = 1;
        t[i].max_layer.spatial = 2;
        t[i].max_layer.temporal = 2;
        t[i].bitrates = rates();
    }
    t[1].priority = 9; /* the stage */
    rtm_allocation out[3];
    memset(out, 0xee, sizeof out);
    out[0].struct_size = sizeof out[0]; /* the array's stride */
    CHECK_STATUS(rtm_allocator_allocate(al, 2000000, t, 3, 0, out, 3), RTM_OK);
    CHECK(out[0].struct_size == sizeof out[0] && out[1].struct_size == sizeof out[1] &&
          out[2].struct_size == sizeof out[2]);
    CHECK(out[1].has_layer && out[1].layer.spatial == 2 && out[1].layer.temporal == 2);
    CHECK(out[1].bitrate == 1500000);
    CHECK(out[0].has_layer && out[0].layer.spatial == 1 && out[0].layer.temporal == 1);
    CHECK(out[2].has_layer && out[2].layer.spatial == 1 && out[2].layer.temporal == 0);
    CHECK(out[0].bitrate + out[1].bitrate + out[2].bitrate == 2000000);

    /* A 40 KB top-layer keyframe takes 160 ms at 2 Mbit/s, over the 150 ms
     * limit: a fresh allocator keeps the stage track on layer 1. */
    rtm_allocator_t *al_kf = NULL;
    CHECK_STATUS(rtm_allocator_new(&c, 4, &al_kf), RTM_OK);
    rtm_track_demand big = t[1];
    big.keyframe_bytes[0] = 4000, big.keyframe_bytes[1] = 12000, big.keyframe_bytes[2] = 40000;
    rtm_allocation one;
    CHECK_STATUS(rtm_allocator_allocate(al_kf, 2000000, &big, 1, 0, SIZED(one), 1), RTM_OK);
    CHECK(one.has_layer && one.layer.spatial == 1 && one.layer.temporal == 2);
    rtm_allocator_free(al_kf);
    uint64_t kf[RTM_SIMULCAST_MAX_SPATIAL] = {1, 1, 1};
    rtm_source_config ksc = source_defaults();
    rtm_source_t *ksrc = NULL;
    CHECK_STATUS(rtm_source_new(&ksc, SSRC, 3, &ksrc), RTM_OK);
    CHECK_STATUS(rtm_source_keyframe_bytes(ksrc, kf), RTM_OK);
    CHECK(kf[0] == 0 && kf[1] == 0 && kf[2] == 0);
    CHECK_STATUS(rtm_source_keyframe_bytes(NULL, kf), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_source_keyframe_bytes(ksrc, NULL), RTM_ERR_NULL_POINTER);
    rtm_source_free(ksrc);

    /* Too little: the priority track first, the others paused. */
    rtm_allocator_t *al2 = NULL;
    CHECK_STATUS(rtm_allocator_new(&c, 4, &al2), RTM_OK);
    CHECK_STATUS(rtm_allocator_allocate(al2, 100000, t, 3, 0, out, 3), RTM_OK);
    CHECK(out[1].has_layer && out[1].layer.spatial == 0 && out[1].layer.temporal == 1);
    CHECK(!out[0].has_layer && !out[2].has_layer && out[0].bitrate == 0);
    /* A muted track gets nothing; a max layer is respected. */
    t[1].muted = true;
    t[0].max_layer.spatial = 0;
    t[0].max_layer.temporal = 0;
    CHECK_STATUS(rtm_allocator_allocate(al2, 10000000, t, 3, 1000, out, 3), RTM_OK);
    CHECK(!out[1].has_layer);
    CHECK(out[0].has_layer && out[0].layer.spatial == 0 && out[0].layer.temporal == 0);
    CHECK(out[2].has_layer && out[2].layer.spatial == 2 && out[2].layer.temporal == 2);
    CHECK_STATUS(rtm_allocator_allocate(al2, 0, t, 0, 2000, NULL, 0), RTM_OK);

    /* Invalid arguments: nothing written. */
    memset(out, 0xee, sizeof out);
    out[0].struct_size = sizeof out[0];
    rtm_track_demand many[5];
    for (int i = 0; i < 5; i++) many[i] = demand();
    rtm_allocation many_out[5];
    many_out[0].struct_size = sizeof many_out[0];
    CHECK_STATUS(rtm_allocator_allocate(al, 1000, many, 5, 0, many_out, 5), RTM_ERR_INVALID_ARGUMENT);
    /* struct_size: an output array whose first element's is not set, a
     * track whose size differs from the first's, a track array whose first
     * size is below the first layout. */
    out[0].struct_size = 0;
    CHECK_STATUS(rtm_allocator_allocate(al, 1000, t, 3, 0, out, 3), RTM_ERR_INVALID_ARGUMENT);
    out[0].struct_size = sizeof out[0];
    t[1].struct_size = sizeof t[1] + 8;
    CHECK_STATUS(rtm_allocator_allocate(al, 1000, t, 3, 0, out, 3), RTM_ERR_INVALID_ARGUMENT);
    t[1].struct_size = sizeof t[1];
    t[0].struct_size = 0;
    CHECK_STATUS(rtm_allocator_allocate(al, 1000, t, 3, 0, out, 3), RTM_ERR_INVALID_ARGUMENT);
    t[0].struct_size = sizeof t[0];
    CHECK(out[0].struct_size == sizeof out[0] && out[0].bitrate == 0xeeeeeeeeeeeeeeee);
    CHECK(out[1].struct_size == 0xeeeeeeeeeeeeeeee && out[2].bitrate == 0xeeeeeeeeeeeeeeee);
    CHECK_STATUS(rtm_allocator_allocate(al, 1000, t, 3, 0, out, 2), RTM_ERR_BUFFER_TOO_SMALL);
    t[2].max_layer.spatial = 3;
    CHECK_STATUS(rtm_allocator_allocate(al, 1000, t, 3, 0, out, 3), RTM_ERR_INVALID_ARGUMENT);
    t[2].max_layer.spatial = 2;
    t[2].max_layer.temporal = 4;
    CHECK_STATUS(rtm_allocator_allocate(al, 1000, t, 3, 0, out, 3), RTM_ERR_INVALID_ARGUMENT);
    CHECK(out[0].bitrate == 0xeeeeeeeeeeeeeeee);
    CHECK_STATUS(rtm_allocator_allocate(NULL, 1000, t, 3, 0, out, 3), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_allocator_allocate(al, 1000, NULL, 3, 0, out, 3), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_allocator_allocate(al, 1000, t, 3, 0, NULL, 3), RTM_ERR_NULL_POINTER);

    rtm_allocator_t *const sentinel = (rtm_allocator_t *)&c;
    rtm_allocator_t *o = sentinel;
    /* A NULL config is the defaults. */
    rtm_allocator_t *dflt = NULL;
    CHECK_STATUS(rtm_allocator_new(NULL, 4, &dflt), RTM_OK);
    CHECK(dflt != NULL);
    rtm_allocator_free(dflt);
    /* Growable config: a size below the first layout is refused by init
     * and new; a newer caller's unknown tail must be zero. */
    rtm_allocator_config small;
    memset(&small, 0x5a, sizeof small);
    CHECK_STATUS(rtm_allocator_config_init(&small, sizeof small - 1), RTM_ERR_INVALID_ARGUMENT);
    CHECK(small.struct_size == 0x5a5a5a5a5a5a5a5aull && small.upgrade_hold_us == 0x5a5a5a5a5a5a5a5aull);
    CHECK_STATUS(rtm_allocator_config_init(NULL, sizeof small), RTM_ERR_NULL_POINTER);
    small = c;
    small.struct_size = 0;
    CHECK_STATUS(rtm_allocator_new(&small, 4, &o), RTM_ERR_INVALID_ARGUMENT);
    struct {
        rtm_allocator_config c;
        uint8_t newer[16];
    } bigc;
    memset(&bigc, 0x5a, sizeof bigc);
    CHECK_STATUS(rtm_allocator_config_init(&bigc.c, sizeof bigc), RTM_OK);
    CHECK(bigc.c.struct_size == sizeof bigc && bigc.c.upgrade_hold_us == 5000000 && bigc.newer[15] == 0);
    CHECK_STATUS(rtm_allocator_new(&bigc.c, 4, &dflt), RTM_OK);
    rtm_allocator_free(dflt);
    bigc.newer[3] = 9;
    CHECK_STATUS(rtm_allocator_new(&bigc.c, 4, &o), RTM_ERR_UNSUPPORTED);
    CHECK_STATUS(rtm_allocator_new(&c, 4, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_allocator_new(&c, 0, &o), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_allocator_new(&c, RTM_ALLOCATOR_MAX_TRACKS + 1, &o), RTM_ERR_INVALID_ARGUMENT);
    rtm_allocator_config bad = c;
    bad.min_change = -1.0;
    CHECK_STATUS(rtm_allocator_new(&bad, 4, &o), RTM_ERR_INVALID_ARGUMENT);
    bad.min_change = NAN;
    CHECK_STATUS(rtm_allocator_new(&bad, 4, &o), RTM_ERR_INVALID_ARGUMENT);
    CHECK(o == sentinel);
    rtm_allocator_free(al);
    rtm_allocator_free(al2);
    rtm_allocator_free(NULL);
}

/* ---- NULL and invalid arguments --------------------------------------------------- */

static void test_arguments(void) {
    rtm_source_config sc = source_defaults();
    rtm_source_t *const ssentinel = (rtm_source_t *)&sc;
    rtm_source_t *so = ssentinel;
    /* A NULL config is the defaults. */
    CHECK_STATUS(rtm_source_new(NULL, SSRC, 3, &so), RTM_OK);
    CHECK(so != ssentinel && so != NULL);
    rtm_source_free(so);
    so = ssentinel;
    /* n = SIZE_MAX: refused at once, before the SSRC array is read. */
    CHECK_STATUS(rtm_source_new(&sc, SSRC, SIZE_MAX, &so), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_source_new(NULL, NULL, SIZE_MAX, &so), RTM_ERR_INVALID_ARGUMENT);
    CHECK(so == ssentinel);
    /* Growable config: a size below the first layout is refused by init
     * (nothing written) and new; a newer caller's unknown tail must be zero. */
    rtm_source_config small;
    memset(&small, 0x5a, sizeof small);
    CHECK_STATUS(rtm_source_config_init(&small, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_source_config_init(&small, sizeof small - 1), RTM_ERR_INVALID_ARGUMENT);
    CHECK(small.struct_size == 0x5a5a5a5a5a5a5a5aull && small.clock_rate == 0x5a5a5a5au);
    CHECK_STATUS(rtm_source_config_init(NULL, sizeof small), RTM_ERR_NULL_POINTER);
    small = sc;
    small.struct_size = 0;
    CHECK_STATUS(rtm_source_new(&small, SSRC, 3, &so), RTM_ERR_INVALID_ARGUMENT);
    CHECK(so == ssentinel);
    struct {
        rtm_source_config c;
        uint8_t newer[16];
    } bigs;
    memset(&bigs, 0x5a, sizeof bigs);
    CHECK_STATUS(rtm_source_config_init(&bigs.c, sizeof bigs), RTM_OK);
    CHECK(bigs.c.struct_size == sizeof bigs && bigs.c.clock_rate == 90000 && bigs.newer[0] == 0 &&
          bigs.newer[15] == 0);
    rtm_source_t *sbig = NULL;
    CHECK_STATUS(rtm_source_new(&bigs.c, SSRC, 3, &sbig), RTM_OK);
    rtm_source_free(sbig);
    bigs.newer[15] = 1;
    CHECK_STATUS(rtm_source_new(&bigs.c, SSRC, 3, &so), RTM_ERR_UNSUPPORTED);
    CHECK(so == ssentinel);
    CHECK_STATUS(rtm_source_new(&sc, NULL, 3, &so), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_source_new(&sc, SSRC, 3, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_source_new(&sc, NULL, 0, &so), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_source_new(&sc, SSRC, 0, &so), RTM_ERR_INVALID_ARGUMENT);
    const uint32_t four[4] = {1, 2, 3, 4};
    CHECK_STATUS(rtm_source_new(&sc, four, 4, &so), RTM_ERR_INVALID_ARGUMENT);
    const uint32_t dup[2] = {7, 7};
    CHECK_STATUS(rtm_source_new(&sc, dup, 2, &so), RTM_ERR_INVALID_ARGUMENT);
    rtm_source_config bs = sc;
    bs.codec = 0;
    CHECK_STATUS(rtm_source_new(&bs, SSRC, 3, &so), RTM_ERR_INVALID_ARGUMENT);
    bs = sc;
    bs.clock_rate = 0;
    CHECK_STATUS(rtm_source_new(&bs, SSRC, 3, &so), RTM_ERR_INVALID_ARGUMENT);
    bs = sc;
    bs.history_packets = 0;
    CHECK_STATUS(rtm_source_new(&bs, SSRC, 3, &so), RTM_ERR_INVALID_ARGUMENT);
    bs.history_packets = RTM_SIMULCAST_MAX_HISTORY + 1;
    CHECK_STATUS(rtm_source_new(&bs, SSRC, 3, &so), RTM_ERR_INVALID_ARGUMENT);
    CHECK(so == ssentinel);
    bs = sc;
    bs.codec = RTM_SOURCE_CODEC_H264;
    CHECK_STATUS(rtm_source_new(&bs, SSRC, 1, &so), RTM_OK);
    rtm_source_free(so);
    bs.codec = RTM_SOURCE_CODEC_OPAQUE;
    CHECK_STATUS(rtm_source_new(&bs, SSRC, 2, &so), RTM_OK);
    rtm_source_free(so);
    rtm_source_free(NULL);

    rtm_source_t *src = NULL;
    CHECK_STATUS(rtm_source_new(&sc, SSRC, 2, &src), RTM_OK);
    uint8_t buf[64] = {0};
    rtm_source_packet_info info;
    info.struct_size = sizeof info;
    CHECK_STATUS(rtm_source_push_copy(NULL, buf, 20, 0, &info), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_source_push_copy(src, NULL, 20, 0, &info), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_source_push_copy(src, NULL, 0, 0, &info), RTM_ERR_TRUNCATED);
    size_t used = 5;
    CHECK_STATUS(rtm_source_on_rtcp(NULL, buf, 8, &used), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_source_on_rtcp(src, NULL, 8, &used), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_source_on_rtcp(src, NULL, 0, &used), RTM_OK);
    CHECK(used == 0);
    CHECK_STATUS(rtm_source_set_rtt(NULL, 1), RTM_ERR_NULL_POINTER);
    rtm_layer_bitrates br;
    CHECK_STATUS(rtm_source_bitrates(NULL, 0, &br), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_source_bitrates(src, 0, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_source_bitrates(src, 0, &br), RTM_OK);
    CHECK(br.bps[0][0] == 0 && br.bps[1][0] == 0);
    CHECK_STATUS(rtm_source_request_keyframe(NULL, 0), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_source_request_keyframe(src, 2), RTM_ERR_INVALID_ARGUMENT);
    uint32_t ssrc = 0;
    uint64_t at = 1;
    CHECK_STATUS(rtm_source_poll_keyframe_request(src, 0, &ssrc), RTM_NOTHING_DUE);
    CHECK_STATUS(rtm_source_next_keyframe_request_at(src, &at), RTM_NOTHING_DUE);
    CHECK(ssrc == 0 && at == 1); /* untouched */
    CHECK_STATUS(rtm_source_request_keyframe(src, 1), RTM_OK);
    CHECK_STATUS(rtm_source_request_keyframe(src, 1), RTM_OK);
    CHECK_STATUS(rtm_source_next_keyframe_request_at(src, &at), RTM_OK);
    CHECK(at == 0);
    CHECK_STATUS(rtm_source_poll_keyframe_request(NULL, 0, &ssrc), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_source_poll_keyframe_request(src, 0, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_source_poll_keyframe_request(src, 10, &ssrc), RTM_OK);
    CHECK(ssrc == SSRC[1]);
    CHECK_STATUS(rtm_source_poll_keyframe_request(src, 11, &ssrc), RTM_NOTHING_DUE);
    /* Retried after max(rtt + 2 frames, 300 ms) while no keyframe comes. */
    CHECK_STATUS(rtm_source_next_keyframe_request_at(src, &at), RTM_OK);
    CHECK(at == 10 + 300000);
    CHECK_STATUS(rtm_source_poll_keyframe_request(src, 10 + 300000, &ssrc), RTM_OK);
    CHECK_STATUS(rtm_source_next_keyframe_request_at(NULL, &at), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_source_next_keyframe_request_at(src, NULL), RTM_ERR_NULL_POINTER);
    rtm_source_stats ss;
    CHECK_STATUS(rtm_source_get_stats(NULL, SIZED(ss)), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_source_get_stats(src, NULL), RTM_ERR_NULL_POINTER);
    ss.struct_size = 0;
    CHECK_STATUS(rtm_source_get_stats(src, &ss), RTM_ERR_INVALID_ARGUMENT);

    rtm_forwarder_config fc = forwarder_defaults();
    CHECK(fc.ssrc == 0 && fc.payload_type == -1 && fc.clock_rate == 90000);
    CHECK(fc.max_layer.spatial == 2 && fc.max_layer.temporal == 3);
    CHECK(fc.history_packets == 1024 && fc.max_timestamp_skew_us == 500000);
    rtm_forwarder_t *const fsentinel = (rtm_forwarder_t *)&fc;
    rtm_forwarder_t *fo = fsentinel;
    /* A NULL config is the defaults (SSRC 0). */
    CHECK_STATUS(rtm_forwarder_new(NULL, &fo), RTM_OK);
    CHECK(fo != fsentinel && fo != NULL);
    rtm_forwarder_free(fo);
    fo = fsentinel;
    /* Growable config: init refuses a small size, new an unset one or a
     * newer caller's non-zero unknown tail. */
    rtm_forwarder_config fsmall;
    memset(&fsmall, 0x5a, sizeof fsmall);
    CHECK_STATUS(rtm_forwarder_config_init(&fsmall, sizeof fsmall - 1), RTM_ERR_INVALID_ARGUMENT);
    CHECK(fsmall.struct_size == 0x5a5a5a5a5a5a5a5aull && fsmall.ssrc == 0x5a5a5a5au);
    CHECK_STATUS(rtm_forwarder_config_init(NULL, sizeof fsmall), RTM_ERR_NULL_POINTER);
    fsmall = fc;
    fsmall.struct_size = 0;
    CHECK_STATUS(rtm_forwarder_new(&fsmall, &fo), RTM_ERR_INVALID_ARGUMENT);
    struct {
        rtm_forwarder_config c;
        uint8_t newer[16];
    } bigf;
    memset(&bigf, 0x5a, sizeof bigf);
    CHECK_STATUS(rtm_forwarder_config_init(&bigf.c, sizeof bigf), RTM_OK);
    CHECK(bigf.c.struct_size == sizeof bigf && bigf.c.clock_rate == 90000 && bigf.newer[7] == 0);
    rtm_forwarder_t *fbig = NULL;
    CHECK_STATUS(rtm_forwarder_new(&bigf.c, &fbig), RTM_OK);
    rtm_forwarder_free(fbig);
    bigf.newer[7] = 0x80;
    CHECK_STATUS(rtm_forwarder_new(&bigf.c, &fo), RTM_ERR_UNSUPPORTED);
    CHECK_STATUS(rtm_forwarder_new(&fc, NULL), RTM_ERR_NULL_POINTER);
    rtm_forwarder_config bf = fc;
    bf.payload_type = 128;
    CHECK_STATUS(rtm_forwarder_new(&bf, &fo), RTM_ERR_INVALID_ARGUMENT);
    bf.payload_type = -2;
    CHECK_STATUS(rtm_forwarder_new(&bf, &fo), RTM_ERR_INVALID_ARGUMENT);
    bf = fc;
    bf.clock_rate = 0;
    CHECK_STATUS(rtm_forwarder_new(&bf, &fo), RTM_ERR_INVALID_ARGUMENT);
    bf = fc;
    bf.history_packets = 0;
    CHECK_STATUS(rtm_forwarder_new(&bf, &fo), RTM_ERR_INVALID_ARGUMENT);
    bf.history_packets = RTM_SIMULCAST_MAX_HISTORY + 1;
    CHECK_STATUS(rtm_forwarder_new(&bf, &fo), RTM_ERR_INVALID_ARGUMENT);
    bf = fc;
    bf.max_layer.spatial = RTM_SIMULCAST_MAX_SPATIAL;
    CHECK_STATUS(rtm_forwarder_new(&bf, &fo), RTM_ERR_INVALID_ARGUMENT);
    bf = fc;
    bf.max_layer.temporal = RTM_SIMULCAST_MAX_TEMPORAL;
    CHECK_STATUS(rtm_forwarder_new(&bf, &fo), RTM_ERR_INVALID_ARGUMENT);
    CHECK(fo == fsentinel);
    rtm_forwarder_free(NULL);

    rtm_forwarder_t *fwd = NULL;
    CHECK_STATUS(rtm_forwarder_new(&fc, &fwd), RTM_OK);
    uint8_t out[64];
    size_t n = 0;
    rtm_drop_reason why;
    CHECK_STATUS(rtm_forwarder_forward(NULL, src, out, sizeof out, 0, &n, &why), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_forward(fwd, NULL, out, sizeof out, 0, &n, &why), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_forward(fwd, src, NULL, sizeof out, 0, &n, &why), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_forward(fwd, src, out, sizeof out, 0, NULL, &why), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_set_target(NULL, 0, 0), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_set_target(fwd, 3, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_forwarder_set_target(fwd, 0, 4), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_forwarder_set_available_bitrate(NULL, src, 0, 1), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_set_available_bitrate(fwd, NULL, 0, 1), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_set_available_bitrate(fwd, src, 0, 1), RTM_OK);
    rtm_pause_reason pr = 0xee;
    CHECK_STATUS(rtm_forwarder_pause_reason(fwd, &pr), RTM_OK);
    CHECK(pr == RTM_PAUSE_NO_FEED);
    CHECK_STATUS(rtm_forwarder_set_max_layer(NULL, 0, 0), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_set_max_layer(fwd, 3, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_forwarder_set_max_layer(fwd, 0, 4), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_forwarder_pause(NULL, RTM_PAUSE_MUTED), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_pause(fwd, RTM_PAUSE_NONE), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_forwarder_pause(fwd, 4), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_forwarder_pause(fwd, RTM_PAUSE_BANDWIDTH), RTM_OK);
    CHECK_STATUS(rtm_forwarder_pause_reason(fwd, &pr), RTM_OK);
    CHECK(pr == RTM_PAUSE_BANDWIDTH);
    CHECK_STATUS(rtm_forwarder_resume(NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_resume(fwd), RTM_OK);
    uint8_t sp = 0xee;
    CHECK_STATUS(rtm_forwarder_poll_keyframe_request(NULL, &sp), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_poll_keyframe_request(fwd, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_poll_keyframe_request(fwd, &sp), RTM_NOTHING_DUE);
    CHECK(sp == 0xee); /* untouched */
    CHECK_STATUS(rtm_forwarder_set_target(fwd, 1, 0), RTM_OK);
    CHECK_STATUS(rtm_forwarder_poll_keyframe_request(fwd, &sp), RTM_OK);
    CHECK(sp == 1);
    CHECK_STATUS(rtm_forwarder_poll_keyframe_request(fwd, &sp), RTM_NOTHING_DUE);
    CHECK_STATUS(rtm_forwarder_retransmit(NULL, src, 1, out, sizeof out, &n), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_retransmit(fwd, NULL, 1, out, sizeof out, &n), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_retransmit(fwd, src, 1, NULL, sizeof out, &n), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_retransmit(fwd, src, 1, out, sizeof out, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_retransmit(fwd, src, 1, out, sizeof out, &n), RTM_ERR_NOT_FOUND);
    rtm_layer l;
    CHECK_STATUS(rtm_forwarder_current_layer(NULL, &l), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_current_layer(fwd, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_current_layer(fwd, &l), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_forwarder_target_layer(NULL, &l), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_target_layer(fwd, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_pause_reason(NULL, &pr), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_pause_reason(fwd, NULL), RTM_ERR_NULL_POINTER);
    rtm_forwarder_stats fs;
    CHECK_STATUS(rtm_forwarder_get_stats(NULL, SIZED(fs)), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_get_stats(fwd, NULL), RTM_ERR_NULL_POINTER);

    /* Zero capacity with a NULL buffer is a too-small buffer, not NULL. */
    uint8_t p[2][1500];
    size_t len[2];
    bool key;
    uint8_t tid;
    publisher_init();
    build_frame(0, 0, p, len, &key, &tid);
    CHECK_STATUS(rtm_source_push_copy(src, p[0], len[0], 0, &info), RTM_OK);
    CHECK_STATUS(rtm_forwarder_forward(fwd, src, NULL, 0, 0, &n, &why), RTM_ERR_BUFFER_TOO_SMALL);

    rtm_forwarder_free(fwd);
    rtm_source_free(src);
}

/* ---- Random input ----------------------------------------------------------------- */

static void test_random(void) {
    rtm_source_config sc = source_defaults();
    sc.history_packets = 64;
    rtm_source_t *src = NULL;
    CHECK_STATUS(rtm_source_new(&sc, SSRC, 3, &src), RTM_OK);
    rtm_forwarder_config fc = forwarder_defaults();
    fc.ssrc = 0x12345678u;
    fc.history_packets = 64;
    rtm_forwarder_t *fwd = NULL;
    CHECK_STATUS(rtm_forwarder_new(&fc, &fwd), RTM_OK);
    CHECK_STATUS(rtm_forwarder_set_target(fwd, 2, 3), RTM_OK);
    int count = 0, pushed = 0, accepted = 0, sent = 0, crashes = 0;
    for (int i = 0; i < 4000; i++) {
        size_t len = rng() % 96;
        uint8_t *buf = len ? malloc(len) : NULL;
        for (size_t k = 0; k < len; k++) buf[k] = (uint8_t)rng();
        if (len >= 12 && rng() % 4 != 0) {
            buf[0] = (uint8_t)(0x80 | (rng() % 4 == 0 ? buf[0] & 0x3f : 0));
            wr32(buf + 8, SSRC[rng() % 3]);
            if (rng() % 2) wr16(buf + 2, (uint16_t)(i / 3));
        }
        rtm_status st;
        if (i % 2) {
            pushed++;
            st = rtm_source_push(src, buf, len, release_count_free, &count, (uint64_t)i * 1000, NULL);
        } else {
            st = rtm_source_push_copy(src, buf, len, (uint64_t)i * 1000, NULL);
            free(buf);
        }
        crashes += st == RTM_ERR_PANIC;
        if (st != RTM_OK) continue;
        accepted++;
        uint8_t out[128];
        size_t n = 0;
        rtm_status fs = rtm_forwarder_forward(fwd, src, out, sizeof out, (uint64_t)i * 1000, &n, NULL);
        crashes += fs == RTM_ERR_PANIC;
        sent += fs == RTM_OK && n > 0;
        if (rng() % 8 == 0) {
            rtm_status rs = rtm_forwarder_retransmit(fwd, src, (uint16_t)rng(), out, sizeof out, &n);
            crashes += rs == RTM_ERR_PANIC;
        }
        uint8_t sp;
        if (rtm_forwarder_poll_keyframe_request(fwd, &sp) == RTM_OK) {
            CHECK_STATUS(rtm_source_request_keyframe(src, sp), RTM_OK);
        }
        uint32_t ssrc;
        while (rtm_source_poll_keyframe_request(src, (uint64_t)i * 1000, &ssrc) == RTM_OK) {
        }
    }
    CHECK(crashes == 0);
    CHECK(accepted > 100);
    rtm_source_stats ss;
    CHECK_STATUS(rtm_source_get_stats(src, SIZED(ss)), RTM_OK);
    CHECK(ss.packets == (uint64_t)accepted && ss.malformed > 0 && ss.unknown_ssrc > 0);
    printf("test_forwarder: random: %d accepted, %d forwarded\n", accepted, sent);
    rtm_forwarder_free(fwd);
    rtm_source_free(src);
    CHECK(count == pushed);
}

/* A keyframe whose second packet reaches the SFU before its first: the
 * forwarder starts the layer at the first and the backfill sends the
 * second, numbered right after it; then it has nothing more. */
static void test_backfill(void) {
    publisher_init();
    rtm_source_config sc = source_defaults();
    rtm_source_t *src = NULL;
    CHECK_STATUS(rtm_source_new(&sc, SSRC, 3, &src), RTM_OK);
    rtm_forwarder_t *f = new_forwarder(0xb0b0b0b0u, -1);
    CHECK_STATUS(rtm_forwarder_set_target(f, 1, 2), RTM_OK);
    uint8_t first[1500], second[1500], out[1600];
    size_t first_len = build_vp8(first, 1, TS_BASE[1], false, true, 0, true, 100);
    size_t second_len = build_vp8(second, 1, TS_BASE[1], true, false, 0, true, 100);
    size_t n = 99;
    rtm_drop_reason why = RTM_DROP_NONE;
    CHECK_STATUS(rtm_source_push_copy(src, second, second_len, T0_US, NULL), RTM_OK);
    CHECK_STATUS(rtm_forwarder_forward(f, src, out, sizeof out, T0_US, &n, &why), RTM_OK);
    CHECK(n == 0 && why == RTM_DROP_WAITING_FOR_KEYFRAME);
    n = 99;
    CHECK_STATUS(rtm_forwarder_backfill(f, src, out, sizeof out, T0_US, &n), RTM_NOTHING_DUE);
    CHECK(n == 0);
    CHECK_STATUS(rtm_source_push_copy(src, first, first_len, T0_US + 1, NULL), RTM_OK);
    CHECK_STATUS(rtm_forwarder_forward(f, src, out, sizeof out, T0_US + 1, &n, &why), RTM_OK);
    CHECK(n == first_len && why == RTM_DROP_NONE);
    uint16_t seq = rd16(out + 2);
    CHECK_STATUS(rtm_forwarder_backfill(f, src, out, 10, T0_US + 1, &n), RTM_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(rtm_forwarder_backfill(f, src, out, sizeof out, T0_US + 1, &n), RTM_OK);
    CHECK(n == second_len);
    CHECK(rd16(out + 2) == (uint16_t)(seq + 1));
    CHECK(rd32(out + 8) == 0xb0b0b0b0u);
    CHECK((out[1] & 0x80) != 0);
    CHECK(memcmp(out + 12, second + 12, second_len - 12) == 0);
    n = 99;
    CHECK_STATUS(rtm_forwarder_backfill(f, src, out, sizeof out, T0_US + 1, &n), RTM_NOTHING_DUE);
    CHECK(n == 0);
    CHECK_STATUS(rtm_forwarder_backfill(NULL, src, out, sizeof out, 0, &n), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_backfill(f, NULL, out, sizeof out, 0, &n), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_backfill(f, src, NULL, sizeof out, 0, &n), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_forwarder_backfill(f, src, out, sizeof out, 0, NULL), RTM_ERR_NULL_POINTER);
    rtm_forwarder_free(f);
    rtm_source_free(src);
}

int main(void) {
    test_forwarding();
    test_zero_copy_ownership();
    test_backfill();
    test_allocator();
    test_arguments();
    test_random();
    CHECK(released > 0);
    return check_report("test_forwarder");
}
