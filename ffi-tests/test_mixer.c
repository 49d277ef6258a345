/* The audio-mixer part of the C ABI, with real Opus from libopus on both
 * sides: configuration and creation; NULL and invalid arguments on every
 * function; a four-party room of tones in which each listener's decoded
 * stream (decoded here with libopus) carries the three other tones and not
 * its own, with headers, CSRCs, RFC 6465 levels and shared payloads checked;
 * 16 kHz taps with a contiguous media clock and a bounded queue, and their
 * metadata (SSRC, the sender's RTP timestamp, voice activity, gaps marked:
 * concealed, muted, missing; an older caller's layout); dominant
 * speaker changes over talk turns; stats and their size argument; bounded
 * input queues (queue full, removed participant, freed mixer, full room);
 * input handles pushed from two threads while the owner ticks, and from a
 * thread while the participant is removed and the mixer freed; random
 * input. */
#define _POSIX_C_SOURCE 200809L

#include "rtmedia.h"

#include <math.h>
#include <opus/opus.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"

#define PI 3.14159265358979323846
#define FRAME 960 /* 20 ms at 48 kHz */
#define TICK_US 20000u
#define PT 111
#define LEVEL_EXT_ID 1
#define CSRC_LEVELS_EXT_ID 3

/* ---- Senders: tones as real Opus RTP with RFC 6464 levels ----------------- */

typedef struct {
    uint32_t id;
    uint32_t ssrc;
    double hz;
    OpusEncoder *enc;
    uint16_t seq;
    uint32_t ts;
    long frame;
    rtm_mixer_input_t *input;
} sender;

/* The RFC 6464 level (-dBov) of a frame, as rtmedia computes it. */
static uint8_t level_dbov(const float *pcm, size_t n) {
    double energy = 0;
    for (size_t i = 0; i < n; i++) energy += (double)pcm[i] * pcm[i];
    if (energy == 0) return 127;
    double level = -10.0 * log10(energy / (double)n);
    if (level < 0) level = 0;
    if (level > 127) level = 127;
    return (uint8_t)lround(level);
}

static void wr16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v) {
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) << 16 | rd16(p + 2); }

static void sender_init(sender *s, uint32_t id, double hz) {
    int err = 0;
    s->id = id;
    s->ssrc = 0x1000u + id;
    s->hz = hz;
    s->enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
    CHECK(err == OPUS_OK && s->enc != NULL);
    opus_encoder_ctl(s->enc, OPUS_SET_COMPLEXITY(9));
    opus_encoder_ctl(s->enc, OPUS_SET_BITRATE(32000));
    s->seq = (uint16_t)(1000 * id);
    s->ts = 12345u * id;
    s->frame = 0;
    s->input = NULL;
}

static void sender_destroy(sender *s) {
    opus_encoder_destroy(s->enc);
    rtm_mixer_input_free(s->input);
    s->input = NULL;
}

/* Encodes the sender's next 20 ms of its tone at `amplitude` (0: digital
 * silence) into an RTP packet with the RFC 6464 level; returns its length. */
static size_t sender_next(sender *s, float amplitude, uint8_t *buf, size_t capacity) {
    float pcm[FRAME];
    for (int i = 0; i < FRAME; i++) {
        double t = (double)(s->frame * FRAME + i) / 48000.0;
        pcm[i] = amplitude * (float)sin(2.0 * PI * s->hz * t);
    }
    s->frame++;
    uint8_t level = level_dbov(pcm, FRAME);
    buf[0] = 0x90; /* V=2, X=1 */
    buf[1] = PT;
    wr16(buf + 2, s->seq);
    wr32(buf + 4, s->ts);
    wr32(buf + 8, s->ssrc);
    wr16(buf + 12, 0xBEDE);
    wr16(buf + 14, 1);
    buf[16] = LEVEL_EXT_ID << 4; /* one byte of data */
    buf[17] = (uint8_t)((amplitude > 0.01f ? 0x80 : 0) | level);
    buf[18] = 0;
    buf[19] = 0;
    opus_int32 n = opus_encode_float(s->enc, pcm, FRAME, buf + 20, (opus_int32)(capacity - 20));
    CHECK(n > 0);
    s->seq++;
    s->ts += FRAME;
    return 20 + (size_t)(n > 0 ? n : 0);
}

/* ---- Reading what the mixer sends --------------------------------------------- */

typedef struct {
    uint8_t cc;
    bool has_ext;
    uint16_t ext_profile;
    const uint8_t *ext; /* extension data */
    size_t ext_len;
    uint8_t pt;
    uint16_t seq;
    uint32_t ts;
    uint32_t ssrc;
    uint32_t csrc[15];
    const uint8_t *payload;
    size_t payload_len;
} rtp_view;

static bool parse_rtp(const uint8_t *p, size_t len, rtp_view *v) {
    if (len < 12 || (p[0] >> 6) != 2 || (p[0] & 0x20)) return false;
    v->cc = p[0] & 0x0f;
    v->has_ext = (p[0] & 0x10) != 0;
    v->pt = p[1] & 0x7f;
    v->seq = rd16(p + 2);
    v->ts = rd32(p + 4);
    v->ssrc = rd32(p + 8);
    size_t off = 12 + 4u * v->cc;
    if (off > len) return false;
    for (int i = 0; i < v->cc; i++) v->csrc[i] = rd32(p + 12 + 4 * i);
    v->ext = NULL;
    v->ext_len = 0;
    v->ext_profile = 0;
    if (v->has_ext) {
        if (off + 4 > len) return false;
        v->ext_profile = rd16(p + off);
        v->ext_len = 4u * rd16(p + off + 2);
        v->ext = p + off + 4;
        off += 4 + v->ext_len;
        if (off > len) return false;
    }
    v->payload = p + off;
    v->payload_len = len - off;
    return true;
}

/* Power of `hz` in `x` (Goertzel over a Hann window, so that neighbouring
 * tones do not leak in), scaled so that a sine of amplitude A gives A^2/4. */
static double tone_power(const float *x, size_t n, double hz, double rate) {
    double w = 2.0 * PI * hz / rate, c = 2.0 * cos(w);
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double hann = 0.5 - 0.5 * cos(2.0 * PI * (double)i / (double)(n - 1));
        double s = x[i] * hann + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    /* The window halves the amplitude. */
    return 4.0 * (s1 * s1 + s2 * s2 - c * s1 * s2) / ((double)n * (double)n);
}

static double db(double ratio) { return 10.0 * log10(ratio > 1e-30 ? ratio : 1e-30); }

/* The default configuration (rtm_mixer_config_init). */
static rtm_mixer_config mixer_defaults(void) {
    rtm_mixer_config c;
    memset(&c, 0xa5, sizeof c);
    CHECK_STATUS(rtm_mixer_config_init(&c, sizeof c), RTM_OK);
    CHECK(c.struct_size == sizeof c);
    return c;
}

static rtm_mixer_t *new_mixer(const rtm_mixer_config *c) {
    rtm_mixer_t *m = NULL;
    CHECK_STATUS(rtm_mixer_new(c, &m), RTM_OK);
    CHECK(m != NULL);
    return m;
}

static rtm_mixer_stats get_stats(rtm_mixer_t *m) {
    rtm_mixer_stats s;
    memset(&s, 0, sizeof s);
    CHECK_STATUS(rtm_mixer_get_stats(m, SIZED(s)), RTM_OK);
    return s;
}

static void sleep_us(long us) {
    struct timespec t = {0, us * 1000};
    nanosleep(&t, NULL);
}

/* ---- Configuration and creation ----------------------------------------------- */

static void test_config_and_new(void) {
    rtm_mixer_config d = mixer_defaults();
    CHECK(d.max_participants == 1024 && d.loudest == 3 && d.speech_floor_dbov == 70);
    CHECK(d.bitrate == 32000 && d.expected_loss_percent == 10 && d.payload_type == 111);
    CHECK(d.audio_level_ext_id == 1 && d.csrc_levels_ext_id == 0);
    CHECK(d.queue_capacity == 64 && d.jitter_capacity_packets == 128);
    CHECK(d.jitter_min_delay_us == 20000 && d.jitter_max_delay_us == 500000);

    rtm_mixer_t *m = new_mixer(&d);
    rtm_mixer_free(m);
    m = new_mixer(NULL); /* NULL: the defaults */
    rtm_mixer_free(m);

    /* Growable config: a size below the first layout is refused and
     * nothing is written; a config whose struct_size is not set is refused
     * by new; a newer caller's larger struct gets its unknown tail zeroed
     * by init, is accepted so, and refused once that tail is set. */
    rtm_mixer_config small;
    memset(&small, 0xa5, sizeof small);
    CHECK_STATUS(rtm_mixer_config_init(&small, 0), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_mixer_config_init(&small, sizeof small - 1), RTM_ERR_INVALID_ARGUMENT);
    bool small_untouched = true;
    for (size_t k = 0; k < sizeof small; k++) small_untouched &= ((uint8_t *)&small)[k] == 0xa5;
    CHECK(small_untouched);
    CHECK_STATUS(rtm_mixer_config_init(NULL, sizeof small), RTM_ERR_NULL_POINTER);
    rtm_mixer_t *m_out = NULL;
    small = d;
    small.struct_size = 0;
    CHECK_STATUS(rtm_mixer_new(&small, &m_out), RTM_ERR_INVALID_ARGUMENT);
    CHECK(m_out == NULL);
    struct {
        rtm_mixer_config c;
        uint8_t newer[16];
    } big;
    memset(&big, 0xa5, sizeof big);
    CHECK_STATUS(rtm_mixer_config_init(&big.c, sizeof big), RTM_OK);
    CHECK(big.c.struct_size == sizeof big && big.c.max_participants == 1024 && big.c.queue_capacity == 64);
    bool newer_zeroed = true;
    for (size_t k = 0; k < sizeof big.newer; k++) newer_zeroed &= big.newer[k] == 0;
    CHECK(newer_zeroed);
    big.c.max_participants = 4;
    CHECK_STATUS(rtm_mixer_new(&big.c, &m_out), RTM_OK);
    CHECK(m_out != NULL);
    rtm_mixer_free(m_out);
    m_out = NULL;
    big.newer[0] = 0x01;
    CHECK_STATUS(rtm_mixer_new(&big.c, &m_out), RTM_ERR_UNSUPPORTED);
    CHECK(m_out == NULL);

    /* Errors leave *out untouched. */
    rtm_mixer_t *const sentinel = (rtm_mixer_t *)&d;
    rtm_mixer_t *out = sentinel;
    CHECK_STATUS(rtm_mixer_new(&d, NULL), RTM_ERR_NULL_POINTER);

#define BAD(field, value)                                                      \
    do {                                                                       \
        rtm_mixer_config c_ = d;                                               \
        c_.field = value;                                                      \
        CHECK_STATUS(rtm_mixer_new(&c_, &out), RTM_ERR_INVALID_ARGUMENT);      \
        CHECK(out == sentinel);                                                \
    } while (0)
    BAD(max_participants, 0);
    BAD(max_participants, RTM_MIXER_MAX_PARTICIPANTS + 1);
    BAD(speech_floor_dbov, 128);
    BAD(bitrate, 0);
    BAD(bitrate, 499);
    BAD(bitrate, 512001);
    BAD(bitrate, -1000);
    BAD(expected_loss_percent, -1);
    BAD(expected_loss_percent, 101);
    BAD(payload_type, 128);
    BAD(queue_capacity, 0);
    BAD(queue_capacity, 65537);
    BAD(jitter_capacity_packets, 0);
    BAD(jitter_capacity_packets, 65537);
    BAD(jitter_min_delay_us, 500001);
#undef BAD

    /* The limits themselves are accepted. */
    rtm_mixer_config c = d;
    c.max_participants = 1;
    c.loudest = 0;
    c.speech_floor_dbov = 127;
    c.bitrate = 500;
    c.expected_loss_percent = 0;
    c.payload_type = 127;
    c.audio_level_ext_id = 0;
    c.csrc_levels_ext_id = 255;
    c.queue_capacity = 1;
    c.jitter_capacity_packets = 1;
    c.jitter_min_delay_us = c.jitter_max_delay_us = 60000;
    m = new_mixer(&c);
    rtm_mixer_free(m);
    c = d;
    c.max_participants = RTM_MIXER_MAX_PARTICIPANTS;
    c.bitrate = 512000;
    c.expected_loss_percent = 100;
    c.queue_capacity = 65536;
    c.jitter_capacity_packets = 65536;
    m = new_mixer(&c);
    rtm_mixer_free(m);

    rtm_mixer_free(NULL);
    rtm_mixer_input_free(NULL);

    CHECK(strcmp(rtm_status_str(RTM_ERR_QUEUE_FULL), "queue full or closed") == 0);
    CHECK(strcmp(rtm_status_str(RTM_ERR_FULL), "table full") == 0);
    CHECK(strcmp(rtm_status_str(RTM_ERR_CODEC), "codec error") == 0);
    CHECK(RTM_ERR_QUEUE_FULL == -30 && RTM_ERR_FULL == -31 && RTM_ERR_CODEC == -32);
}

/* ---- NULL handles, NULL out-parameters, unknown participants ------------------ */

static void test_null_and_invalid(void) {
    rtm_mixer_t *m = new_mixer(NULL);
    rtm_mixer_input_t *in = NULL;
    size_t count = 7, len = 7;
    uint8_t buf[RTM_MIXER_MAX_PACKET_LEN];
    const uint8_t *data = NULL;
    uint32_t id = 7;
    rtm_mixer_packet pkt;
    rtm_mixer_tap_frame frame;
    rtm_mixer_speaker_change change;
    rtm_mixer_stats stats;

    /* A NULL mixer. */
    CHECK_STATUS(rtm_mixer_add_participant(NULL, 1, 1, 1, false, &in), RTM_ERR_NULL_POINTER);
    CHECK(in == NULL);
    CHECK_STATUS(rtm_mixer_remove_participant(NULL, 1), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_set_muted(NULL, 1, true), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_set_gain(NULL, 1, 1.0f), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_tick(NULL, 0, &count), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_get_packet(NULL, 0, SIZED(pkt)), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_write_rtp(NULL, 0, buf, sizeof buf, &len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_payload(NULL, 0, &data, &len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_take_tap_frame(NULL, 1, SIZED(frame)), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_dominant_speaker(NULL, &id), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_take_speaker_change(NULL, SIZED(change)), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_get_stats(NULL, SIZED(stats)), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_input_push(NULL, buf, 12, 0), RTM_ERR_NULL_POINTER);
    CHECK(count == 7 && len == 7 && id == 7);

    /* NULL out-parameters: nothing happens. */
    CHECK_STATUS(rtm_mixer_add_participant(m, 1, 0x1001, 0x9001, true, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_remove_participant(m, 1), RTM_ERR_NOT_FOUND); /* not added */
    CHECK_STATUS(rtm_mixer_tick(m, 0, NULL), RTM_ERR_NULL_POINTER);
    CHECK(get_stats(m).ticks == 0);
    CHECK_STATUS(rtm_mixer_get_packet(m, 0, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_write_rtp(m, 0, NULL, 10, &len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_write_rtp(m, 0, buf, sizeof buf, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_payload(m, 0, NULL, &len), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_payload(m, 0, &data, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_take_tap_frame(m, 1, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_dominant_speaker(m, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_take_speaker_change(m, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_get_stats(m, NULL), RTM_ERR_NULL_POINTER);

    /* Before the first tick there is nothing to read. */
    CHECK_STATUS(rtm_mixer_get_packet(m, 0, SIZED(pkt)), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_mixer_write_rtp(m, 0, buf, sizeof buf, &len), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_mixer_payload(m, 0, &data, &len), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_mixer_dominant_speaker(m, &id), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_mixer_take_speaker_change(m, SIZED(change)), RTM_NOTHING_DUE);
    CHECK(len == 7 && data == NULL && id == 7);

    /* Unknown participants. */
    CHECK_STATUS(rtm_mixer_remove_participant(m, 42), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_mixer_set_muted(m, 42, true), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_mixer_set_gain(m, 42, 0.5f), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_mixer_take_tap_frame(m, 42, SIZED(frame)), RTM_NOTHING_DUE);

    /* A participant: duplicates are refused, gain NaN is invalid. */
    CHECK_STATUS(rtm_mixer_add_participant(m, 1, 0x1001, 0x9001, true, &in), RTM_OK);
    CHECK(in != NULL);
    rtm_mixer_input_t *const sentinel = (rtm_mixer_input_t *)&count;
    rtm_mixer_input_t *dup = sentinel;
    CHECK_STATUS(rtm_mixer_add_participant(m, 1, 0x2002, 0x9002, false, &dup),
                 RTM_ERR_INVALID_ARGUMENT);
    CHECK(dup == sentinel);
    CHECK_STATUS(rtm_mixer_set_gain(m, 1, NAN), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_mixer_set_gain(m, 1, 0.5f), RTM_OK);
    CHECK_STATUS(rtm_mixer_set_gain(m, 1, INFINITY), RTM_OK); /* clamped to 8 */
    CHECK_STATUS(rtm_mixer_set_gain(m, 1, -1.0f), RTM_OK);    /* clamped to 0 */
    CHECK_STATUS(rtm_mixer_set_gain(m, 1, 1.0f), RTM_OK);
    CHECK_STATUS(rtm_mixer_set_muted(m, 1, true), RTM_OK);
    CHECK_STATUS(rtm_mixer_set_muted(m, 1, false), RTM_OK);

    /* Pushes: NULL data only with length 0; at most max_packet_bytes (default
     * RTM_DEFAULT_MAX_PACKET_BYTES). */
    CHECK_STATUS(rtm_mixer_input_push(in, NULL, 12, 0), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_input_push(in, NULL, 0, 0), RTM_OK); /* dropped at the tick */
    static uint8_t huge[RTM_MAX_PACKET_BYTES_LIMIT + 1];
    CHECK_STATUS(rtm_mixer_input_push(in, huge, RTM_DEFAULT_MAX_PACKET_BYTES + 1, 0), RTM_ERR_TOO_LARGE);
    CHECK_STATUS(rtm_mixer_input_push(in, huge, sizeof huge, 0), RTM_ERR_TOO_LARGE);
    CHECK_STATUS(rtm_mixer_input_push(in, huge, RTM_DEFAULT_MAX_PACKET_BYTES, 0), RTM_OK);
    {
        rtm_mixer_stats ms;
        CHECK_STATUS(rtm_mixer_get_stats(m, SIZED(ms)), RTM_OK);
        CHECK(ms.oversize_drops == 2);
    }
    /* A length no buffer has ((size_t)-1, a failed recv()). */
    CHECK_STATUS(rtm_mixer_input_push(in, huge, (size_t)-1, 0), RTM_ERR_INVALID_ARGUMENT);

    /* One tick: one packet, for participant 1, of payload 0 (the shared mix). */
    CHECK_STATUS(rtm_mixer_tick(m, 10000, &count), RTM_OK);
    CHECK(count == 1);
    /* An output struct whose struct_size is not set: refused, untouched. */
    memset(&pkt, 0xcd, sizeof pkt);
    pkt.struct_size = 0;
    CHECK_STATUS(rtm_mixer_get_packet(m, 0, &pkt), RTM_ERR_INVALID_ARGUMENT);
    bool pkt_untouched = pkt.struct_size == 0;
    for (size_t i = sizeof(size_t); i < sizeof pkt; i++) pkt_untouched &= ((uint8_t *)&pkt)[i] == 0xcd;
    CHECK(pkt_untouched);
    CHECK_STATUS(rtm_mixer_get_packet(m, 0, SIZED(pkt)), RTM_OK);
    CHECK(pkt.participant == 1 && pkt.ssrc == 0x9001 && pkt.payload_index == 0);
    CHECK_STATUS(rtm_mixer_get_packet(m, 1, SIZED(pkt)), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_mixer_get_packet(m, SIZE_MAX, SIZED(pkt)), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_mixer_write_rtp(m, 1, buf, sizeof buf, &len), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_mixer_payload(m, 0, &data, &len), RTM_OK);
    CHECK(data != NULL && len > 0 && len <= 400);
    CHECK_STATUS(rtm_mixer_payload(m, 1, &data, &len), RTM_ERR_NOT_FOUND);
    /* A too-small buffer: nothing written. A NULL buffer of capacity 0 is
     * just too small. */
    size_t full_len = 0;
    CHECK_STATUS(rtm_mixer_write_rtp(m, 0, buf, sizeof buf, &full_len), RTM_OK);
    CHECK(full_len > 12 && full_len <= RTM_MIXER_MAX_PACKET_LEN);
    memset(buf, 0xcd, sizeof buf);
    len = 7;
    CHECK_STATUS(rtm_mixer_write_rtp(m, 0, buf, full_len - 1, &len), RTM_ERR_BUFFER_TOO_SMALL);
    bool untouched = len == 7;
    for (size_t i = 0; i < sizeof buf; i++) untouched &= buf[i] == 0xcd;
    CHECK(untouched);
    CHECK_STATUS(rtm_mixer_write_rtp(m, 0, NULL, 0, &len), RTM_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(rtm_mixer_write_rtp(m, 0, buf, full_len, &len), RTM_OK);
    CHECK(len == full_len);

    /* The tapped participant has a frame; another call after taking it has
     * none. A frame or change struct without struct_size is refused and
     * nothing is taken. */
    memset(&frame, 0xcd, sizeof frame);
    frame.struct_size = 0;
    CHECK_STATUS(rtm_mixer_take_tap_frame(m, 1, &frame), RTM_ERR_INVALID_ARGUMENT);
    bool frame_untouched = frame.struct_size == 0;
    for (size_t i = sizeof(size_t); i < sizeof frame; i++) frame_untouched &= ((uint8_t *)&frame)[i] == 0xcd;
    CHECK(frame_untouched);
    memset(&change, 0xcd, sizeof change);
    change.struct_size = 0;
    CHECK_STATUS(rtm_mixer_take_speaker_change(m, &change), RTM_ERR_INVALID_ARGUMENT);
    CHECK(change.struct_size == 0 && change.to == 0xcdcdcdcdu);
    CHECK_STATUS(rtm_mixer_take_tap_frame(m, 1, SIZED(frame)), RTM_OK);
    CHECK(frame.participant == 1);
    CHECK_STATUS(rtm_mixer_take_tap_frame(m, 1, SIZED(frame)), RTM_NOTHING_DUE);

    /* All taps in one call: one frame per tick of the tapped participant,
     * oldest first; none waiting is RTM_NOTHING_DUE; a consumer that fell
     * more than 50 ticks behind gets RTM_DATA_DROPPED with the count. */
    static rtm_mixer_tap_frame frames[64];
    size_t got = 99;
    uint64_t lost = 99;
    frames[0].struct_size = sizeof frames[0];
    CHECK_STATUS(rtm_mixer_take_taps(m, frames, 64, &got, &lost), RTM_NOTHING_DUE);
    CHECK(got == 0 && lost == 0);
    size_t ticks_count = 0;
    for (uint64_t k = 1; k <= 3; k++) CHECK_STATUS(rtm_mixer_tick(m, 10000 + 20000 * k, &ticks_count), RTM_OK);
    CHECK_STATUS(rtm_mixer_take_taps(m, frames, 2, &got, NULL), RTM_OK);
    CHECK(got == 2 && frames[0].participant == 1 && frames[1].participant == 1);
    CHECK(frames[1].media_time == frames[0].media_time + RTM_MIXER_TAP_FRAME_SAMPLES);
    CHECK(frames[1].struct_size == sizeof frames[0]);
    CHECK_STATUS(rtm_mixer_take_taps(m, frames, 64, &got, &lost), RTM_OK);
    CHECK(got == 1 && lost == 0);
    for (uint64_t k = 4; k <= 63; k++) CHECK_STATUS(rtm_mixer_tick(m, 10000 + 20000 * k, &ticks_count), RTM_OK);
    CHECK_STATUS(rtm_mixer_take_taps(m, frames, 64, &got, &lost), RTM_DATA_DROPPED);
    CHECK(got == 50 && lost == 10);
    CHECK(strcmp(rtm_status_str(RTM_DATA_DROPPED), "data was dropped: the caller fell behind") == 0);
    CHECK(!RTM_FAILED(RTM_DATA_DROPPED));
    rtm_mixer_stats ms;
    CHECK_STATUS(rtm_mixer_get_stats(m, SIZED(ms)), RTM_OK);
    CHECK(ms.tap_frames_dropped == 10);
    frames[0].struct_size = 0;
    CHECK_STATUS(rtm_mixer_take_taps(m, frames, 64, &got, &lost), RTM_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rtm_mixer_take_taps(m, NULL, 64, &got, &lost), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_take_taps(m, frames, 64, NULL, &lost), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_take_taps(NULL, frames, 64, &got, &lost), RTM_ERR_NULL_POINTER);

    rtm_mixer_input_free(in);
    rtm_mixer_free(m);
}

/* ---- A four-party room: mix-minus ---------------------------------------------- */

#define ROOM 4
#define ROOM_TICKS 120
#define ROOM_TAIL 28800 /* the last 0.6 s */

static void test_room_mix_minus(void) {
    rtm_mixer_config c = mixer_defaults();
    c.max_participants = 8;
    c.loudest = 0; /* everyone who is not silent */
    c.csrc_levels_ext_id = CSRC_LEVELS_EXT_ID;
    rtm_mixer_t *m = new_mixer(&c);
    /* Unevenly spaced tones, in different Opus bands: codec noise around
     * the others' tones then stays off each listener's own. (With 300, 500,
     * 700 and 900 Hz, as in tests/mixer.rs, the listener at 300 Hz finds
     * the others only ~30 dB above its own frequency.) */
    const double tones[ROOM] = {310, 530, 770, 1130};
    sender s[ROOM];
    OpusDecoder *dec[ROOM];
    float *heard[ROOM];
    for (int i = 0; i < ROOM; i++) {
        sender_init(&s[i], (uint32_t)i + 1, tones[i]);
        CHECK_STATUS(rtm_mixer_add_participant(m, s[i].id, s[i].ssrc, 0x9000u + s[i].id, false,
                                               &s[i].input),
                     RTM_OK);
        int err = 0;
        dec[i] = opus_decoder_create(48000, 1, &err);
        CHECK(err == OPUS_OK);
        heard[i] = calloc((size_t)ROOM_TICKS * FRAME, sizeof(float));
    }
    uint8_t pkt[1500], out[RTM_MIXER_MAX_PACKET_LEN];
    uint16_t last_seq[ROOM] = {0};
    uint32_t last_ts[ROOM] = {0};
    int header_errors = 0, continuity_errors = 0, csrc_errors = 0, payload_errors = 0;
    int payload_count_errors = 0;

    for (int t = 0; t < ROOM_TICKS; t++) {
        uint64_t now = (uint64_t)t * TICK_US;
        for (int i = 0; i < ROOM; i++) {
            size_t n = sender_next(&s[i], 0.2f, pkt, sizeof pkt);
            CHECK_STATUS(rtm_mixer_input_push(s[i].input, pkt, n, now), RTM_OK);
        }
        size_t count = 0;
        CHECK_STATUS(rtm_mixer_tick(m, now + 10000, &count), RTM_OK);
        CHECK(count == ROOM);
        bool seen[ROOM] = {false};
        size_t max_payload = 0;
        for (size_t k = 0; k < count; k++) {
            rtm_mixer_packet p;
            size_t len = 0;
            CHECK_STATUS(rtm_mixer_get_packet(m, k, SIZED(p)), RTM_OK);
            CHECK_STATUS(rtm_mixer_write_rtp(m, k, out, sizeof out, &len), RTM_OK);
            int i = (int)p.participant - 1;
            if (i < 0 || i >= ROOM || seen[i]) {
                header_errors++;
                continue;
            }
            seen[i] = true;
            if (p.payload_index > max_payload) max_payload = p.payload_index;
            rtp_view v;
            if (!parse_rtp(out, len, &v) || v.pt != PT || v.ssrc != 0x9000u + p.participant ||
                v.ssrc != p.ssrc || v.seq != p.seq || v.ts != p.timestamp) {
                header_errors++;
                continue;
            }
            if (t > 0 && (v.seq != (uint16_t)(last_seq[i] + 1) || v.ts != last_ts[i] + FRAME))
                continuity_errors++;
            last_seq[i] = v.seq;
            last_ts[i] = v.ts;
            /* The payload is the one named by payload_index. */
            const uint8_t *data = NULL;
            size_t data_len = 0;
            CHECK_STATUS(rtm_mixer_payload(m, p.payload_index, &data, &data_len), RTM_OK);
            if (data_len != v.payload_len || memcmp(data, v.payload, data_len) != 0)
                payload_errors++;
            if (t >= 50) {
                /* Everyone talks: each hears the three others, named as
                 * CSRCs with their RFC 6465 levels, and gets its own encode. */
                bool others = v.cc == ROOM - 1 && v.has_ext && v.ext_profile == 0xBEDE &&
                              v.ext_len >= 4 && v.ext[0] == ((CSRC_LEVELS_EXT_ID << 4) | 2);
                for (int j = 0; others && j < v.cc; j++) {
                    others &= v.csrc[j] != s[i].ssrc && v.csrc[j] >= 0x1001 && v.csrc[j] <= 0x1004;
                    others &= v.ext[1 + j] >= 10 && v.ext[1 + j] <= 25; /* a 0.2 tone: ~17 */
                }
                if (!others) csrc_errors++;
                if (p.payload_index == 0) payload_errors++;
            }
            int samples = opus_decode_float(dec[i], v.payload, (opus_int32)v.payload_len,
                                            heard[i] + (size_t)t * FRAME, FRAME, 0);
            CHECK(samples == FRAME);
        }
        if (t >= 50) {
            /* 4 personal mixes + the shared one, and no more. */
            const uint8_t *data;
            size_t len;
            if (max_payload != ROOM || rtm_mixer_payload(m, ROOM, &data, &len) != RTM_OK ||
                rtm_mixer_payload(m, ROOM + 1, &data, &len) != RTM_ERR_NOT_FOUND)
                payload_count_errors++;
        }
    }
    CHECK(header_errors == 0);
    CHECK(continuity_errors == 0);
    CHECK(csrc_errors == 0);
    CHECK(payload_errors == 0);
    CHECK(payload_count_errors == 0);

    for (int i = 0; i < ROOM; i++) {
        const float *tail = heard[i] + (size_t)ROOM_TICKS * FRAME - ROOM_TAIL;
        double own = tone_power(tail, ROOM_TAIL, tones[i], 48000);
        for (int j = 0; j < ROOM; j++) {
            if (j == i) continue;
            double other = tone_power(tail, ROOM_TAIL, tones[j], 48000);
            printf("listener %d: %.0f Hz at %.1f dB over its own tone\n", i + 1, tones[j],
                   db(other / own));
            CHECK(db(other / own) > 30.0);
            /* A tone of amplitude 0.2 has power 1e-2: the others are heard at
             * about that, its own is at least 30 dB below it. */
            CHECK(other > 3e-3);
            CHECK(own < 1e-5);
        }
    }

    rtm_mixer_stats st = get_stats(m);
    CHECK(st.ticks == ROOM_TICKS && st.participants == ROOM);
    CHECK(st.encodes >= (uint64_t)ROOM_TICKS && st.encodes <= (uint64_t)ROOM_TICKS * (ROOM + 1));
    CHECK(st.decodes >= (uint64_t)(ROOM_TICKS - 10) * ROOM);
    CHECK(st.queue_drops == 0 && st.concealed_frames == 0);

    /* Removing a participant ends the tick's packets, not its payloads. */
    const uint8_t *data = NULL;
    size_t len = 0;
    rtm_mixer_packet p;
    CHECK_STATUS(rtm_mixer_get_packet(m, 0, SIZED(p)), RTM_OK);
    CHECK_STATUS(rtm_mixer_remove_participant(m, 4), RTM_OK);
    CHECK_STATUS(rtm_mixer_get_packet(m, 0, SIZED(p)), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_mixer_write_rtp(m, 0, out, sizeof out, &len), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_mixer_payload(m, 0, &data, &len), RTM_OK);
    CHECK(data != NULL);
    size_t count = 0;
    CHECK_STATUS(rtm_mixer_tick(m, (uint64_t)ROOM_TICKS * TICK_US + 10000, &count), RTM_OK);
    CHECK(count == ROOM - 1);
    CHECK_STATUS(rtm_mixer_write_rtp(m, 0, out, sizeof out, &len), RTM_OK);
    CHECK(get_stats(m).participants == ROOM - 1);

    for (int i = 0; i < ROOM; i++) {
        sender_destroy(&s[i]);
        opus_decoder_destroy(dec[i]);
        free(heard[i]);
    }
    rtm_mixer_free(m);
}

/* ---- Taps -------------------------------------------------------------------- */

static void test_taps(void) {
    rtm_mixer_config c = mixer_defaults();
    c.max_participants = 4;
    rtm_mixer_t *m = new_mixer(&c);
    sender a, b;
    sender_init(&a, 1, 1000);
    sender_init(&b, 2, 400);
    CHECK_STATUS(rtm_mixer_add_participant(m, 1, a.ssrc, 0x9001, true, &a.input), RTM_OK);
    CHECK_STATUS(rtm_mixer_add_participant(m, 2, b.ssrc, 0x9002, false, &b.input), RTM_OK);

    enum { TICKS = 80 };
    float *pcm = calloc((size_t)TICKS * RTM_MIXER_TAP_FRAME_SAMPLES, sizeof(float));
    uint8_t pkt[1500];
    rtm_mixer_tap_frame f;
    int64_t first = 0, last = 0;
    int frames = 0, clock_errors = 0;
    /* Metadata: frames of each content, and RTP timestamps off the sender's. */
    int content[RTM_TAP_MISSING + 1] = {0};
    int ts_errors = 0, vad_errors = 0, muted_sound = 0;
    const uint32_t ts0 = a.ts;
    for (int t = 0; t < TICKS; t++) {
        uint64_t now = (uint64_t)t * TICK_US;
        size_t n = sender_next(&a, 0.3f, pkt, sizeof pkt);
        /* Packets 40..44 are lost; participant 1 is muted for ticks 20..24. */
        if (t < 40 || t >= 45) CHECK_STATUS(rtm_mixer_input_push(a.input, pkt, n, now), RTM_OK);
        n = sender_next(&b, 0.3f, pkt, sizeof pkt);
        CHECK_STATUS(rtm_mixer_input_push(b.input, pkt, n, now), RTM_OK);
        if (t == 20 || t == 25) CHECK_STATUS(rtm_mixer_set_muted(m, 1, t == 20), RTM_OK);
        size_t count;
        CHECK_STATUS(rtm_mixer_tick(m, now + 10000, &count), RTM_OK);
        /* One frame per tick, on a contiguous clock. */
        CHECK_STATUS(rtm_mixer_take_tap_frame(m, 1, SIZED(f)), RTM_OK);
        CHECK(f.participant == 1);
        CHECK(f.ssrc == a.ssrc);
        CHECK(f.content <= RTM_TAP_MISSING);
        if (f.content <= RTM_TAP_MISSING) content[f.content]++;
        if (f.content != RTM_TAP_MISSING) {
            /* The sender's timestamp of the frame's first sample: a packet's
             * (a multiple of 960 from the first) less the 51-sample delay. */
            if (!f.has_rtp_timestamp || (f.rtp_timestamp + 51u - ts0) % 960u != 0) ts_errors++;
        } else if (f.has_rtp_timestamp) {
            ts_errors++;
        }
        /* The sender's V flag is on for every packet of its tone. */
        if (f.content == RTM_TAP_AUDIO && (!f.voice_activity || f.level_dbov > 30)) vad_errors++;
        if (f.content == RTM_TAP_MUTED) {
            if (f.voice_activity || f.level_dbov != 127) vad_errors++;
            for (int i = 0; i < RTM_MIXER_TAP_FRAME_SAMPLES; i++) muted_sound += f.pcm[i] != 0.0f;
        }
        if (t == 0) first = f.media_time;
        else if (f.media_time != last + RTM_MIXER_TAP_FRAME_SAMPLES) clock_errors++;
        last = f.media_time;
        memcpy(pcm + (size_t)frames * RTM_MIXER_TAP_FRAME_SAMPLES, f.pcm, sizeof f.pcm);
        frames++;
        CHECK_STATUS(rtm_mixer_take_tap_frame(m, 1, SIZED(f)), RTM_NOTHING_DUE);
        CHECK_STATUS(rtm_mixer_take_tap_frame(m, 2, SIZED(f)), RTM_NOTHING_DUE); /* not tapped */
    }
    CHECK(clock_errors == 0);
    CHECK(ts_errors == 0);
    CHECK(vad_errors == 0);
    CHECK(muted_sound == 0);
    printf("tap 1: %d audio, %d FEC, %d concealed, %d muted, %d missing frames\n", content[RTM_TAP_AUDIO],
           content[RTM_TAP_FEC], content[RTM_TAP_CONCEALED], content[RTM_TAP_MUTED], content[RTM_TAP_MISSING]);
    CHECK(content[RTM_TAP_MUTED] == 5);
    /* The burst of 5: concealed (one may be dropped unheard to work off a
     * backlog, see rtm_mixer_stats.backlog_skips). */
    CHECK(content[RTM_TAP_CONCEALED] + content[RTM_TAP_FEC] >= 4 && content[RTM_TAP_CONCEALED] + content[RTM_TAP_FEC] <= 5);
    CHECK(content[RTM_TAP_MISSING] >= 1 && content[RTM_TAP_MISSING] <= 2); /* before the first packet */
    CHECK(content[RTM_TAP_DTX] == 0);
    CHECK(last == first + (int64_t)(TICKS - 1) * RTM_MIXER_TAP_FRAME_SAMPLES);
    CHECK(first <= 0 && first > -RTM_MIXER_TAP_FRAME_SAMPLES); /* minus the decimator's delay */
    /* The last 0.5 s carry participant 1's tone, not participant 2's. */
    const size_t tail_len = 8000;
    const float *tail = pcm + (size_t)frames * RTM_MIXER_TAP_FRAME_SAMPLES - tail_len;
    double own = tone_power(tail, tail_len, 1000, 16000);
    double other = tone_power(tail, tail_len, 400, 16000);
    printf("tap 1: own tone %.1f dB, the other speaker's %.1f dB\n", db(own), db(other));
    CHECK(own > 1e-3);
    CHECK(db(other / own) < -40.0);

    /* Untaken frames: at most 50 are kept, the latest ones. Nothing arrives
     * any more: after 10 concealed frames, missing ones (silence, no
     * timestamp), not frames of zeros that look like a quiet talker. */
    for (int t = TICKS; t < TICKS + 60; t++) {
        size_t count;
        CHECK_STATUS(rtm_mixer_tick(m, (uint64_t)t * TICK_US + 10000, &count), RTM_OK);
    }
    /* A caller compiled before the metadata (its struct ends at `pcm`) gets
     * that layout, its stride too, and nothing past it is written. */
    const size_t old_size = offsetof(rtm_mixer_tap_frame, ssrc);
    CHECK(old_size == sizeof(size_t) + 4 + 4 + 8 + 4 * RTM_MIXER_TAP_FRAME_SAMPLES);
    static _Alignas(rtm_mixer_tap_frame) unsigned char old_frames[3 * sizeof(rtm_mixer_tap_frame)];
    memset(old_frames, 0xcd, sizeof old_frames);
    ((rtm_mixer_tap_frame *)(void *)old_frames)->struct_size = old_size;
    size_t old_got = 0;
    CHECK_STATUS(rtm_mixer_take_taps(m, (rtm_mixer_tap_frame *)(void *)old_frames, 2, &old_got, NULL),
                 RTM_DATA_DROPPED);
    CHECK(old_got == 2);
    const rtm_mixer_tap_frame *second = (const rtm_mixer_tap_frame *)(void *)(old_frames + old_size);
    CHECK(second->struct_size == old_size && second->participant == 1);
    bool past_untouched = true;
    for (size_t i = 2 * old_size; i < sizeof old_frames; i++) past_untouched &= old_frames[i] == 0xcd;
    CHECK(past_untouched);
    int kept = 2, missing = 0, silent = 1;
    int64_t expect = last + 13 * RTM_MIXER_TAP_FRAME_SAMPLES; /* 10 dropped, 2 taken */
    while (rtm_mixer_take_tap_frame(m, 1, SIZED(f)) == RTM_OK) {
        CHECK(f.media_time == expect);
        expect += RTM_MIXER_TAP_FRAME_SAMPLES;
        kept++;
        if (f.content == RTM_TAP_MISSING && !f.has_rtp_timestamp && !f.voice_activity) missing++;
        for (int i = 0; i < RTM_MIXER_TAP_FRAME_SAMPLES; i++) silent &= f.pcm[i] == 0.0f;
    }
    CHECK(kept == 50);
    CHECK(missing == 48 && silent);

    free(pcm);
    sender_destroy(&a);
    sender_destroy(&b);
    rtm_mixer_free(m);
}

/* ---- Dominant speaker ---------------------------------------------------------- */

static void test_speaker_changes(void) {
    rtm_mixer_t *m = new_mixer(NULL);
    enum { N = 3, TURN = 75, QUIET = 25 };
    sender s[N];
    for (int i = 0; i < N; i++) {
        sender_init(&s[i], 10u * (uint32_t)(i + 1), 300.0 + 200.0 * i);
        CHECK_STATUS(rtm_mixer_add_participant(m, s[i].id, s[i].ssrc, 0x9000u + s[i].id, false,
                                               &s[i].input),
                     RTM_OK);
    }
    rtm_mixer_speaker_change changes[8];
    int n_changes = 0;
    uint8_t pkt[1500];
    uint32_t id;
    /* A quiet room (background at about -63 dBov) for 0.5 s, then turns of
     * 1.5 s: 10, then 20, then 30. */
    for (int t = 0; t < QUIET + N * TURN; t++) {
        uint64_t now = (uint64_t)t * TICK_US;
        int talker = t < QUIET ? -1 : (t - QUIET) / TURN;
        for (int i = 0; i < N; i++) {
            size_t n = sender_next(&s[i], i == talker ? 0.2f : 0.001f, pkt, sizeof pkt);
            CHECK_STATUS(rtm_mixer_input_push(s[i].input, pkt, n, now), RTM_OK);
        }
        size_t count;
        CHECK_STATUS(rtm_mixer_tick(m, now + 10000, &count), RTM_OK);
        if (t < QUIET) CHECK_STATUS(rtm_mixer_dominant_speaker(m, &id), RTM_ERR_NOT_FOUND);
        rtm_mixer_speaker_change c;
        if (rtm_mixer_take_speaker_change(m, SIZED(c)) == RTM_OK && n_changes < 8) changes[n_changes++] = c;
    }
    CHECK(n_changes == N);
    for (int k = 0; k < n_changes && k < N; k++) {
        uint64_t start = (uint64_t)(QUIET + k * TURN) * TICK_US;
        printf("speaker change %d: %s%u -> %u after %llu ms\n", k, changes[k].has_from ? "" : "(none) ",
               (unsigned)changes[k].from, (unsigned)changes[k].to,
               (unsigned long long)((changes[k].now_us - start) / 1000));
        CHECK(changes[k].to == s[k].id);
        CHECK(changes[k].has_from == (k > 0));
        CHECK(changes[k].from == (k > 0 ? s[k - 1].id : 0));
        CHECK(changes[k].now_us >= start + 300000 && changes[k].now_us <= start + 1000000);
    }
    CHECK_STATUS(rtm_mixer_dominant_speaker(m, &id), RTM_OK);
    CHECK(id == 30);
    rtm_mixer_speaker_change c;
    CHECK_STATUS(rtm_mixer_take_speaker_change(m, SIZED(c)), RTM_NOTHING_DUE);
    /* Removing the dominant speaker empties the seat, without an event. */
    CHECK_STATUS(rtm_mixer_remove_participant(m, 30), RTM_OK);
    CHECK_STATUS(rtm_mixer_dominant_speaker(m, &id), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_mixer_take_speaker_change(m, SIZED(c)), RTM_NOTHING_DUE);

    for (int i = 0; i < N; i++) sender_destroy(&s[i]);
    rtm_mixer_free(m);
}

/* ---- Stats and their size ------------------------------------------------------ */

static void test_stats_size(void) {
    rtm_mixer_config c = mixer_defaults();
    c.queue_capacity = 2;
    rtm_mixer_t *m = new_mixer(&c);
    rtm_mixer_input_t *in = NULL;
    CHECK_STATUS(rtm_mixer_add_participant(m, 5, 0x1005, 0x9005, false, &in), RTM_OK);
    const uint8_t junk[3] = {1, 2, 3};
    for (int i = 0; i < 5; i++) rtm_mixer_input_push(in, junk, sizeof junk, 0);
    size_t count;
    for (int t = 0; t < 3; t++) CHECK_STATUS(rtm_mixer_tick(m, (uint64_t)t * TICK_US, &count), RTM_OK);
    rtm_mixer_stats full = get_stats(m);
    CHECK(full.ticks == 3 && full.queue_drops == 3 && full.participants == 1);
    CHECK(full.encodes == 3 && full.decodes == 0);

    CHECK(full.struct_size == sizeof full);

    /* A larger size (a newer caller's struct) writes only what the library
     * has: the tail is untouched, struct_size stays the caller's. */
    struct {
        rtm_mixer_stats s;
        uint8_t tail[32];
    } big;
    memset(&big, 0xab, sizeof big);
    big.s.struct_size = sizeof big;
    CHECK_STATUS(rtm_mixer_get_stats(m, &big.s), RTM_OK);
    CHECK(big.s.struct_size == sizeof big);
    CHECK(memcmp((uint8_t *)&big.s + sizeof(size_t), (uint8_t *)&full + sizeof(size_t),
                 sizeof full - sizeof(size_t)) == 0);
    bool tail_intact = true;
    for (size_t i = 0; i < sizeof big.tail; i++) tail_intact &= big.tail[i] == 0xab;
    CHECK(tail_intact);

    /* A struct_size below the first layout (0: never set; or a partial
     * struct): RTM_ERR_INVALID_ARGUMENT and nothing is written. */
    const size_t sizes[5] = {0, 5, offsetof(rtm_mixer_stats, encodes), offsetof(rtm_mixer_stats, participants),
                             sizeof(rtm_mixer_stats) - 1};
    for (int k = 0; k < 5; k++) {
        union {
            rtm_mixer_stats s;
            uint8_t bytes[sizeof(rtm_mixer_stats)];
        } canary;
        memset(&canary, 0xab, sizeof canary);
        canary.s.struct_size = sizes[k];
        CHECK_STATUS(rtm_mixer_get_stats(m, &canary.s), RTM_ERR_INVALID_ARGUMENT);
        CHECK(canary.s.struct_size == sizes[k]);
        bool intact = true;
        for (size_t i = sizeof(size_t); i < sizeof canary.bytes; i++) intact &= canary.bytes[i] == 0xab;
        CHECK(intact);
    }
    rtm_mixer_input_free(in);
    rtm_mixer_free(m);
}

/* ---- Bounded queues and the lifetimes of input handles --------------------------- */

static void test_queues_and_lifetimes(void) {
    rtm_mixer_config c = mixer_defaults();
    c.queue_capacity = 4;
    c.max_participants = 2;
    rtm_mixer_t *m = new_mixer(&c);
    rtm_mixer_input_t *a = NULL, *b = NULL;
    CHECK_STATUS(rtm_mixer_add_participant(m, 1, 0x1001, 0x9001, false, &a), RTM_OK);
    CHECK_STATUS(rtm_mixer_add_participant(m, 2, 0x1002, 0x9002, false, &b), RTM_OK);
    /* A full room refuses a third participant and leaves *input alone. */
    rtm_mixer_input_t *third = NULL;
    CHECK_STATUS(rtm_mixer_add_participant(m, 3, 0x1003, 0x9003, false, &third), RTM_ERR_FULL);
    CHECK(third == NULL);
    CHECK(get_stats(m).participants == 2);

    uint8_t pkt[1500];
    sender s;
    sender_init(&s, 1, 440);
    size_t n = sender_next(&s, 0.2f, pkt, sizeof pkt);
    for (int i = 0; i < 4; i++) CHECK_STATUS(rtm_mixer_input_push(a, pkt, n, 0), RTM_OK);
    CHECK_STATUS(rtm_mixer_input_push(a, pkt, n, 0), RTM_ERR_QUEUE_FULL);
    CHECK_STATUS(rtm_mixer_input_push(a, pkt, n, 0), RTM_ERR_QUEUE_FULL);
    CHECK_STATUS(rtm_mixer_input_push(b, pkt, n, 0), RTM_OK); /* queues are per participant */
    CHECK(get_stats(m).queue_drops == 2);
    /* A tick drains the queues. */
    size_t count;
    CHECK_STATUS(rtm_mixer_tick(m, 10000, &count), RTM_OK);
    CHECK(count == 2);
    for (int i = 0; i < 4; i++) CHECK_STATUS(rtm_mixer_input_push(a, pkt, n, 20000), RTM_OK);

    /* After removal the handle is closed: pushes fail, not counted as drops. */
    CHECK_STATUS(rtm_mixer_remove_participant(m, 1), RTM_OK);
    CHECK_STATUS(rtm_mixer_input_push(a, pkt, n, 20000), RTM_ERR_QUEUE_FULL);
    CHECK(get_stats(m).queue_drops == 2);
    CHECK_STATUS(rtm_mixer_remove_participant(m, 1), RTM_ERR_NOT_FOUND);
    /* The id may join again, with a new handle; the old one stays closed. */
    rtm_mixer_input_t *a2 = NULL;
    CHECK_STATUS(rtm_mixer_add_participant(m, 1, 0x1001, 0x9001, false, &a2), RTM_OK);
    CHECK(a2 != NULL && a2 != a);
    CHECK_STATUS(rtm_mixer_input_push(a2, pkt, n, 20000), RTM_OK);
    CHECK_STATUS(rtm_mixer_input_push(a, pkt, n, 20000), RTM_ERR_QUEUE_FULL);
    CHECK_STATUS(rtm_mixer_tick(m, 30000, &count), RTM_OK);
    CHECK(count == 2);

    /* Input handles outlive the mixer; queued packets go with it. */
    CHECK_STATUS(rtm_mixer_input_push(b, pkt, n, 40000), RTM_OK);
    rtm_mixer_free(m);
    CHECK_STATUS(rtm_mixer_input_push(b, pkt, n, 50000), RTM_ERR_QUEUE_FULL);
    CHECK_STATUS(rtm_mixer_input_push(a2, pkt, n, 50000), RTM_ERR_QUEUE_FULL);
    rtm_mixer_input_free(a);
    rtm_mixer_input_free(a2);
    rtm_mixer_input_free(b);
    sender_destroy(&s);
}

/* ---- Threads ------------------------------------------------------------------- */

#define THREAD_PACKETS 100
#define AHEAD 3

/* Two network threads share one input handle: each pushes every other
 * packet of one pre-encoded stream, at most AHEAD ticks ahead of the owner,
 * which ticks each packet only once it was pushed. */
typedef struct {
    rtm_mixer_input_t *input;
    uint8_t (*packets)[512];
    size_t *lens;
    atomic_int *ticks_done;
    atomic_bool *pushed;
    int parity;
    int ok, full, other;
} pusher;

static void *pusher_main(void *arg) {
    pusher *p = arg;
    for (int k = p->parity; k < THREAD_PACKETS; k += 2) {
        while (atomic_load(p->ticks_done) < k - AHEAD) sleep_us(50);
        rtm_status st =
            rtm_mixer_input_push(p->input, p->packets[k], p->lens[k], (uint64_t)k * TICK_US);
        if (st == RTM_OK) p->ok++;
        else if (st == RTM_ERR_QUEUE_FULL) p->full++;
        else p->other++;
        atomic_store(&p->pushed[k], true);
    }
    return NULL;
}

static void test_threads_push_while_owner_ticks(void) {
    rtm_mixer_t *m = new_mixer(NULL);
    sender s;
    sender_init(&s, 1, 440);
    CHECK_STATUS(rtm_mixer_add_participant(m, 1, s.ssrc, 0x9001, false, &s.input), RTM_OK);
    rtm_mixer_input_t *listener = NULL;
    CHECK_STATUS(rtm_mixer_add_participant(m, 2, 0x1002, 0x9002, false, &listener), RTM_OK);

    static uint8_t packets[THREAD_PACKETS][512];
    static size_t lens[THREAD_PACKETS];
    for (int k = 0; k < THREAD_PACKETS; k++) lens[k] = sender_next(&s, 0.3f, packets[k], 512);
    atomic_int ticks_done;
    atomic_init(&ticks_done, 0);
    static atomic_bool pushed[THREAD_PACKETS];
    for (int k = 0; k < THREAD_PACKETS; k++) atomic_init(&pushed[k], false);

    pusher p[2];
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) {
        p[i] = (pusher){s.input, packets, lens, &ticks_done, pushed, i, 0, 0, 0};
        CHECK(pthread_create(&threads[i], NULL, pusher_main, &p[i]) == 0);
    }
    OpusDecoder *dec = opus_decoder_create(48000, 1, NULL);
    float *heard = calloc((size_t)THREAD_PACKETS * FRAME, sizeof(float));
    uint8_t out[RTM_MIXER_MAX_PACKET_LEN];
    for (int t = 0; t < THREAD_PACKETS; t++) {
        while (!atomic_load(&pushed[t])) sleep_us(50);
        size_t count = 0;
        CHECK_STATUS(rtm_mixer_tick(m, (uint64_t)t * TICK_US + 10000, &count), RTM_OK);
        atomic_store(&ticks_done, t + 1);
        for (size_t k = 0; k < count; k++) {
            rtm_mixer_packet pk;
            size_t len = 0;
            CHECK_STATUS(rtm_mixer_get_packet(m, k, SIZED(pk)), RTM_OK);
            if (pk.participant != 2) continue;
            CHECK_STATUS(rtm_mixer_write_rtp(m, k, out, sizeof out, &len), RTM_OK);
            rtp_view v;
            CHECK(parse_rtp(out, len, &v));
            CHECK(opus_decode_float(dec, v.payload, (opus_int32)v.payload_len,
                                    heard + (size_t)t * FRAME, FRAME, 0) == FRAME);
        }
    }
    for (int i = 0; i < 2; i++) CHECK(pthread_join(threads[i], NULL) == 0);
    CHECK(p[0].ok + p[1].ok == THREAD_PACKETS);
    CHECK(p[0].full + p[1].full + p[0].other + p[1].other == 0);
    rtm_mixer_stats st = get_stats(m);
    CHECK(st.queue_drops == 0 && st.concealed_frames == 0);
    CHECK(st.decodes >= THREAD_PACKETS - 5);
    /* The listener hears the tone pushed by the two threads. */
    const size_t tail_len = 24000;
    const float *tail = heard + (size_t)THREAD_PACKETS * FRAME - tail_len;
    double tone = tone_power(tail, tail_len, 440, 48000);
    printf("threads: listener hears the pushed 440 Hz tone at %.1f dB\n", db(tone));
    CHECK(tone > 1e-3);

    free(heard);
    opus_decoder_destroy(dec);
    rtm_mixer_input_free(listener);
    sender_destroy(&s);
    rtm_mixer_free(m);
}

/* A thread pushing as fast as it can into a small queue while the owner
 * ticks, removes the participant and frees the mixer: every push returns OK
 * or QUEUE_FULL, and nothing leaks or races. */
typedef struct {
    rtm_mixer_input_t *input;
    atomic_bool *stop;
    atomic_int *attempts;
    int ok, full, other;
} flooder;

static void *flooder_main(void *arg) {
    flooder *f = arg;
    uint8_t pkt[64] = {0x80, PT};
    uint16_t seq = 0;
    while (!atomic_load(f->stop)) {
        wr16(pkt + 2, seq);
        wr32(pkt + 4, (uint32_t)seq * FRAME);
        seq++;
        rtm_status st = rtm_mixer_input_push(f->input, pkt, sizeof pkt, (uint64_t)seq * TICK_US);
        if (st == RTM_OK) f->ok++;
        else if (st == RTM_ERR_QUEUE_FULL) f->full++;
        else f->other++;
        atomic_fetch_add(f->attempts, 1);
        if ((seq & 15) == 0) sleep_us(20);
    }
    return NULL;
}

static void wait_attempts(atomic_int *attempts, int more) {
    int target = atomic_load(attempts) + more;
    while (atomic_load(attempts) < target) sleep_us(50);
}

static void test_thread_outlives_participant_and_mixer(void) {
    rtm_mixer_config c = mixer_defaults();
    c.queue_capacity = 8;
    rtm_mixer_t *m = new_mixer(&c);
    rtm_mixer_input_t *in = NULL;
    CHECK_STATUS(rtm_mixer_add_participant(m, 1, 0x1001, 0x9001, false, &in), RTM_OK);
    atomic_bool stop;
    atomic_init(&stop, false);
    atomic_int attempts;
    atomic_init(&attempts, 0);
    flooder f = {in, &stop, &attempts, 0, 0, 0};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, flooder_main, &f) == 0);
    for (int t = 0; t < 20; t++) {
        wait_attempts(&attempts, 10);
        size_t count;
        CHECK_STATUS(rtm_mixer_tick(m, (uint64_t)t * TICK_US, &count), RTM_OK);
    }
    CHECK_STATUS(rtm_mixer_remove_participant(m, 1), RTM_OK);
    wait_attempts(&attempts, 20);
    rtm_mixer_stats st = get_stats(m);
    rtm_mixer_free(m);
    wait_attempts(&attempts, 20);
    atomic_store(&stop, true);
    CHECK(pthread_join(thread, NULL) == 0);
    printf("flood: %d accepted, %d refused (%llu while queued)\n", f.ok, f.full,
           (unsigned long long)st.queue_drops);
    CHECK(f.other == 0);
    CHECK(f.ok + f.full == atomic_load(&attempts));
    CHECK(f.ok > 0 && f.full >= 40);
    CHECK(st.queue_drops <= (uint64_t)f.full);
    rtm_mixer_input_free(in);
}

/* ---- Random input ---------------------------------------------------------------- */

static uint32_t rng_state = 0x9e3779b9u;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void test_garbage(void) {
    rtm_mixer_config c = mixer_defaults();
    c.audio_level_ext_id = 0; /* decode everything */
    c.csrc_levels_ext_id = 2;
    rtm_mixer_t *m = new_mixer(&c);
    rtm_mixer_input_t *in[3] = {NULL, NULL, NULL};
    for (uint32_t i = 0; i < 3; i++)
        CHECK_STATUS(rtm_mixer_add_participant(m, i, 0x1000 + i, 0x9000 + i, i == 1, &in[i]),
                     RTM_OK);
    uint8_t pkt[300], out[RTM_MIXER_MAX_PACKET_LEN];
    int errors = 0;
    for (int t = 0; t < 100; t++) {
        for (int k = 0; k < 6; k++) {
            size_t len = rnd() % sizeof pkt;
            for (size_t i = 0; i < len; i++) pkt[i] = (uint8_t)rnd();
            if (len >= 12 && (rnd() & 1)) {
                pkt[0] = (uint8_t)(0x80 | (pkt[0] & 0x3f)); /* mostly RTP-shaped */
                pkt[1] = PT;
            }
            rtm_status st = rtm_mixer_input_push(in[rnd() % 3], pkt, len, (uint64_t)t * TICK_US);
            if (st != RTM_OK && st != RTM_ERR_QUEUE_FULL) errors++;
        }
        size_t count = 0;
        if (rtm_mixer_tick(m, (uint64_t)t * TICK_US + 10000, &count) != RTM_OK || count != 3)
            errors++;
        for (size_t k = 0; k < count; k++) {
            size_t len;
            if (rtm_mixer_write_rtp(m, k, out, sizeof out, &len) != RTM_OK) errors++;
        }
        rtm_mixer_tap_frame f;
        while (rtm_mixer_take_tap_frame(m, 1, SIZED(f)) == RTM_OK) {
        }
    }
    CHECK(errors == 0);
    for (int i = 0; i < 3; i++) rtm_mixer_input_free(in[i]);
    rtm_mixer_free(m);
}

/* ---- Taps that wait for retransmissions (tap_nack) ------------------------------ */

/* Packets 40..44 and 70 are lost on the way; the tap asks for them
 * (rtm_mixer_poll_nacks), the sender resends them on the media SSRC three
 * ticks (60 ms) later. With tap_nack every packet's audio is in the tap;
 * without it the burst is concealed and nothing is asked for. */
static int run_tap_nack(uint8_t tap_nack, int *concealed, int *nacked) {
    enum { SENT = 150, TICKS = 200, MAX_PENDING = 64 };
    rtm_mixer_config c = mixer_defaults();
    CHECK(c.tap_nack == 0);
    c.max_participants = 2;
    c.tap_nack = tap_nack;
    rtm_mixer_t *m = new_mixer(&c);
    sender a;
    sender_init(&a, 1, 700);
    CHECK_STATUS(rtm_mixer_add_participant(m, 1, a.ssrc, 0x9001, true, &a.input), RTM_OK);
    CHECK_STATUS(rtm_mixer_set_rtt(m, 1, 60000), RTM_OK);
    static uint8_t sent[SENT][1500];
    static size_t sent_len[SENT];
    const uint16_t seq0 = a.seq;
    const uint32_t ts0 = a.ts;
    int pending_at[MAX_PENDING], pending_k[MAX_PENDING], pending = 0;
    bool played[SENT] = {false};
    int audio_frames = 0;
    *concealed = *nacked = 0;
    for (int t = 0; t < TICKS; t++) {
        uint64_t now = (uint64_t)t * TICK_US;
        if (t < SENT) {
            sent_len[t] = sender_next(&a, 0.3f, sent[t], sizeof sent[t]);
            bool lost = (t >= 40 && t < 45) || t == 70;
            if (!lost) CHECK_STATUS(rtm_mixer_input_push(a.input, sent[t], sent_len[t], now), RTM_OK);
        }
        for (int i = 0; i < pending; i++) {
            if (pending_at[i] != t) continue;
            int k = pending_k[i];
            CHECK_STATUS(rtm_mixer_input_push(a.input, sent[k], sent_len[k], now + 1000), RTM_OK);
            pending_at[i] = pending_at[--pending];
            pending_k[i] = pending_k[pending];
            i--;
        }
        size_t count;
        CHECK_STATUS(rtm_mixer_tick(m, now + 5000, &count), RTM_OK);
        rtm_mixer_tap_frame f;
        while (rtm_mixer_take_tap_frame(m, 1, SIZED(f)) == RTM_OK) {
            if (f.content == RTM_TAP_CONCEALED) ++*concealed;
            if (!f.has_rtp_timestamp || f.content != RTM_TAP_AUDIO) continue;
            uint32_t k = (f.rtp_timestamp + 51u - ts0) / 960u;
            if (k < SENT) {
                CHECK(!played[k]);
                played[k] = true;
                audio_frames++;
            }
        }
        int64_t seqs[16];
        size_t n = 99;
        rtm_status st = rtm_mixer_poll_nacks(m, 1, now + 5000, seqs, 16, &n);
        CHECK(st == RTM_OK || st == RTM_NOTHING_DUE);
        CHECK((st == RTM_OK) == (n > 0));
        for (size_t i = 0; i < n && pending < MAX_PENDING; i++) {
            pending_at[pending] = t + 3;
            pending_k[pending++] = (uint16_t)((uint16_t)seqs[i] - seq0);
            ++*nacked;
        }
        CHECK_STATUS(rtm_mixer_on_nack_sent(m, 1, now + 5000, seqs, n), RTM_OK);
    }
    sender_destroy(&a);
    rtm_mixer_free(m);
    return audio_frames;
}

static void test_retransmitted_taps(void) {
    int concealed = 0, nacked = 0;
    /* Without: the lost packets' frames are concealed, nothing is asked. */
    int audio = run_tap_nack(0, &concealed, &nacked);
    CHECK(nacked == 0);
    CHECK(concealed >= 6);
    CHECK(audio == 150 - 6);
    /* With: each lost packet asked for once, every packet's audio played. */
    audio = run_tap_nack(1, &concealed, &nacked);
    CHECK(nacked == 6);
    CHECK(audio == 150);

    /* The 0.2 layout (without tap_nack) is still read, as "off". */
    rtm_mixer_config old;
    memset(&old, 0xa5, sizeof old);
    CHECK_STATUS(rtm_mixer_config_init(&old, offsetof(rtm_mixer_config, tap_nack)), RTM_OK);
    CHECK(old.struct_size == offsetof(rtm_mixer_config, tap_nack));
    CHECK(((uint8_t *)&old)[offsetof(rtm_mixer_config, tap_nack)] == 0xa5); /* not written */
    rtm_mixer_t *m = new_mixer(&old);
    int64_t seqs[4];
    size_t n = 7;
    CHECK_STATUS(rtm_mixer_poll_nacks(m, 1, 0, seqs, 4, &n), RTM_ERR_NOT_FOUND);
    rtm_mixer_input_t *in = NULL;
    CHECK_STATUS(rtm_mixer_add_participant(m, 1, 0x1001, 0x9001, true, &in), RTM_OK);
    CHECK_STATUS(rtm_mixer_poll_nacks(m, 1, 0, seqs, 4, &n), RTM_NOTHING_DUE);
    CHECK(n == 0);
    /* NULL handles and out-parameters; unknown participants. */
    CHECK_STATUS(rtm_mixer_poll_nacks(NULL, 1, 0, seqs, 4, &n), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_poll_nacks(m, 1, 0, seqs, 4, NULL), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_poll_nacks(m, 1, 0, NULL, 4, &n), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_on_nack_sent(NULL, 1, 0, seqs, 0), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_on_nack_sent(m, 1, 0, NULL, 2), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_on_nack_sent(m, 1, 0, NULL, 0), RTM_OK);
    CHECK_STATUS(rtm_mixer_on_nack_sent(m, 2, 0, seqs, 0), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_mixer_set_rtt(NULL, 1, 1000), RTM_ERR_NULL_POINTER);
    CHECK_STATUS(rtm_mixer_set_rtt(m, 2, 1000), RTM_ERR_NOT_FOUND);
    CHECK_STATUS(rtm_mixer_set_rtt(m, 1, 1000), RTM_OK);
    rtm_mixer_input_free(in);
    rtm_mixer_free(m);
}

int main(void) {
    test_config_and_new();
    test_null_and_invalid();
    test_room_mix_minus();
    test_taps();
    test_retransmitted_taps();
    test_speaker_changes();
    test_stats_size();
    test_queues_and_lifetimes();
    test_threads_push_while_owner_ticks();
    test_thread_outlives_participant_and_mixer();
    test_garbage();
    return check_report("test_mixer");
}
